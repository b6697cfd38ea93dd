#!/usr/bin/env bash
# End-to-end throughput benchmark (not run in CI): generates a realistic capture once (cached
# under target/bench/), then measures on it the libpcap floor, tcpdump, minewatch with 1 and 2
# workers, and ndpiReader: wall and CPU time, packets/s, Gbit/s, peak RSS, and the mining
# sessions each finds against the capture's truth table. See benches/replay.rs.
#
# Both mixes by default (the standard one and the edge mix of many short flows, issue 21).
# Usage: scripts/bench.sh [--mix standard|edge|both] [--size 1.2G] [--small 100M] [--seed N] [--runs N] [--no-ndpi]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

ensure_libpcap
ensure_cargo
# Peer tools and the RSS meter, from Debian packages, when missing.
missing=()
have tcpdump || missing+=(tcpdump)
have ndpiReader || missing+=(libndpi-bin)
[ -x /usr/bin/time ] || missing+=(time)
if [ "${#missing[@]}" -gt 0 ]; then
    if have apt-get; then
        say "installing ${missing[*]}"
        as_root apt-get update </dev/null
        as_root apt-get install -y --no-install-recommends "${missing[@]}" </dev/null || \
            say "warning: could not install ${missing[*]}; the benchmark skips what is missing"
    else
        say "warning: apt-get not available; missing ${missing[*]} will be skipped"
    fi
fi

# shellcheck disable=SC2046 # empty or --locked
cargo bench $(locked_flag) --bench replay -- "$@"
