#!/usr/bin/env bash
# Fuzz smoke run for CI: builds every cargo-fuzz target in fuzz/ and runs each for a few seconds
# from seeds made out of pcaps/. Catches a harness that no longer builds and the shallowest
# crashes; real fuzzing runs are longer (see fuzz/README.md).
#
# cargo-fuzz needs nightly-only rustc flags (-Zsanitizer); on a stable toolchain
# RUSTC_BOOTSTRAP=1 lets rustc accept them. If the sanitizer build is impossible here, this says
# so plainly and exits 0: the same harnesses still run over their seeds in the plain
# `cargo test` (tests/it/fuzz_seeds.rs).
#
# Environment: FUZZ_SECONDS (per target, default 15).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

ensure_libpcap
ensure_cargo

seconds="${FUZZ_SECONDS:-15}"
cargo_fuzz_version=0.13.2
export RUSTC_BOOTSTRAP=1

skip() {
    say "fuzz smoke run skipped: $*"
    say "(the fuzz harnesses still run over their seeds in 'cargo test --test it fuzz_seeds::')"
    exit 0
}

if ! cargo fuzz --version >/dev/null 2>&1; then
    section "installing cargo-fuzz $cargo_fuzz_version"
    cargo install --locked --version "$cargo_fuzz_version" cargo-fuzz </dev/null ||
        skip "cargo-fuzz $cargo_fuzz_version could not be installed"
fi
if ! have c++ && ! have g++ && ! have clang++; then
    # libfuzzer-sys compiles libFuzzer (C++).
    as_root apt-get update </dev/null && as_root apt-get install -y --no-install-recommends g++ </dev/null ||
        skip "no C++ compiler to build libFuzzer"
fi

section "seeds from pcaps/"
# shellcheck disable=SC2046 # empty or --locked
cargo run $(locked_flag) -q -p testkit --bin mkseeds -- pcaps fuzz/corpus </dev/null

section "cargo fuzz build (release, debug assertions, address sanitizer)"
cd fuzz
if ! cargo fuzz build -O -a </dev/null; then
    skip "the sanitizer build failed on this toolchain"
fi

failed=()
for target in $(cargo fuzz list); do
    section "cargo fuzz run $target (${seconds} s)"
    # -rss_limit_mb: an input that makes a harness allocate past this is a bug (unbounded memory).
    # libFuzzer's progress lines go to a log; its closing figures (and the whole log on a
    # failure) are printed, so the CI output stays readable.
    log="$(mktemp)"
    if cargo fuzz run -O -a "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 </dev/null >"$log" 2>&1; then
        grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || tail -n 3 "$log"
    else
        cat "$log"
        failed+=("$target")
    fi
    rm -f "$log"
done
if [ "${#failed[@]}" -gt 0 ]; then
    say "fuzz smoke run: crashes in ${failed[*]} (inputs in fuzz/artifacts/)"
    exit 1
fi
say "fuzz smoke run: all targets clean"
