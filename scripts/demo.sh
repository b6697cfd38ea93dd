#!/usr/bin/env bash
# Quick start: build minewatch (release) and run it over the sample captures in pcaps/, printing
# the alerts (JSON lines on stdout) and the summary (stderr). Extra arguments go to minewatch,
# e.g. scripts/demo.sh --home-net 10.0.0.0/8
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

ensure_libpcap
ensure_cargo

section "Building minewatch (release)"
# shellcheck disable=SC2046 # empty or --locked
cargo build --release $(locked_flag)

shopt -s nullglob
captures=(pcaps/*.pcap pcaps/*.pcapng)
shopt -u nullglob
if [ "${#captures[@]}" -eq 0 ]; then
    say "error: no captures (*.pcap, *.pcapng) in pcaps/"
    exit 1
fi

args=()
for capture in "${captures[@]}"; do
    args+=(-r "$capture")
done

section "minewatch ${args[*]} $*"
target/release/minewatch "${args[@]}" "$@"
