#!/usr/bin/env bash
# Quick start: install what the build needs (libpcap's development files) when missing, then run
# the whole test suite: unit, integration and replay tests, benches in test mode, and doc tests.
# Non-interactive; safe to run in CI. Extra arguments go to both cargo test runs.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

ensure_libpcap
ensure_rsyslog
ensure_rsyslog_tls
ensure_tcpdump
ensure_redis
ensure_promtool
ensure_systemd_analyze
ensure_live_test_tools
ensure_openssl
ensure_chromium
ensure_report_python
ensure_microsocks
ensure_cargo
ensure_package_tools

locked=()
if [ -n "$(locked_flag)" ]; then
    locked=(--locked)
fi

# Every `test result:` line is kept, so that the run can close with one total.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0

# The live Stratum V2 test runs the reference crates' pool and miner, testkit's `sv2pair`
# example, as its own binary: `cargo test --all-targets` builds examples only under a hashed
# name, and the test would say SKIPPED.
section "cargo build -p testkit --example sv2pair"
cargo build ${locked[@]+"${locked[@]}"} -p testkit --example sv2pair </dev/null || status=$?

section "cargo test --workspace --no-fail-fast --all-targets"
cargo test ${locked[@]+"${locked[@]}"} --workspace --no-fail-fast --all-targets "$@" </dev/null 2>&1 | tee -a "$log" || status=$?

section "cargo test --workspace --doc"
cargo test ${locked[@]+"${locked[@]}"} --workspace --doc "$@" </dev/null 2>&1 | tee -a "$log" || status=$?

# The total over every test binary, as the last line: one doc-test binary with nothing in it
# must not read as "no test ran".
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
