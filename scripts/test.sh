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
ensure_live_test_tools
ensure_cargo

locked=()
if [ -n "$(locked_flag)" ]; then
    locked=(--locked)
fi

section "cargo test --no-fail-fast --all-targets"
cargo test ${locked[@]+"${locked[@]}"} --no-fail-fast --all-targets "$@" </dev/null

section "cargo test --doc"
cargo test ${locked[@]+"${locked[@]}"} --doc "$@" </dev/null
