#!/usr/bin/env bash
# Finds the packet rate at which a live minewatch starts to drop: replays the scaling benchmark's
# capture onto a veth pair between two network namespaces this script creates, at rising rates
# (tcpreplay --pps), with a fresh `minewatch -i` on the other end each time, and prints what the
# final stats record says was seen and dropped. Needs root, iproute2 and tcpreplay. Not run in CI.
#
# Usage: [MINEWATCH_ARGS="--buffer-mb 2"] [PCAP=FILE] scripts/bench-live-drops.sh [WORKERS] [RATE ...]
#   first run `cargo bench --bench scaling` (it writes target/bench-scaling.pcap and builds the
#   release binary), or give PCAP (e.g. the edge mix that `scripts/bench.sh --mix edge` writes
#   under target/bench/). Default rates: 20000 50000 100000 200000 400000 and top speed.
#   The sensor runs with its default capture filter, as it would on a SPAN port.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

workers=${1:-2}
shift || true
rates=("$@")
if [ "${#rates[@]}" -eq 0 ]; then
    rates=(20000 50000 100000 200000 400000 top)
fi
bin=target/release/minewatch
pcap=${PCAP:-target/bench-scaling.pcap}
if [ "$(id -u)" -ne 0 ]; then say "needs root"; exit 1; fi
for t in ip tcpreplay python3; do have "$t" || { say "needs $t"; exit 1; }; done
[ -x "$bin" ] && [ -f "$pcap" ] || { say "run 'cargo bench --bench scaling' first, or give PCAP=FILE"; exit 1; }

id=$$
a=mwbench-$id-a; b=mwbench-$id-b; va=mwba$id; vb=mwbb$id
out=$(mktemp -d)
veth_lab "$a" "$b" "$va" "$vb" "$out"

printf '%-8s %10s %10s %10s %10s %10s %12s\n' rate sent seen kernel_drop dispatch_drop drop_pct achieved_pps
for rate in "${rates[@]}"; do
    ip netns exec "$b" "$bin" -i "$vb" --workers "$workers" --stats-interval 0 \
        -o "$out/alerts.json" --user nobody --group nogroup ${MINEWATCH_ARGS:-} 2>"$out/err" &
    mw=$!
    # The capture is open (its ring allocated, which takes seconds for a large buffer) once
    # minewatch says so.
    for _ in $(seq 300); do grep -q "capturing on" "$out/err" 2>/dev/null && break; sleep 0.1; done
    grep -q "capturing on" "$out/err" || { say "minewatch did not start: $(cat "$out/err")"; exit 1; }
    sleep 1
    if [ "$rate" = top ]; then speed=(--topspeed); else speed=(--pps "$rate"); fi
    ip netns exec "$a" tcpreplay "${speed[@]}" -i "$va" "$pcap" >"$out/replay" 2>&1
    sleep 2
    kill -TERM "$mw"; wait "$mw" || true
    sent=$(awk '/Successful packets:/ {print $3}' "$out/replay")
    pps=$(awk '/Rated:/ {for (i=1;i<=NF;i++) if ($i ~ /pps/) print $(i-1)}' "$out/replay" | head -1)
    python3 - "$out/alerts.json" "$rate" "$sent" "$pps" <<'EOF'
import json, sys
path, rate, sent, pps = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
stats = [json.loads(l) for l in open(path) if '"event_type":"stats"' in l]
if not stats:
    sys.exit(f"{rate}: minewatch wrote no stats record")
last = stats[-1]
s, k = last["stats"], last["capture"][0]
drop = k["dropped"] + k["if_dropped"] + s["dispatch_dropped"]
print(f"{rate:<8} {sent:>10} {s['packets']:>10} {k['dropped']:>10} {s['dispatch_dropped']:>10} "
      f"{100.0 * drop / max(sent, 1):>9.2f}% {pps:>12}")
EOF
    rm -f "$out/alerts.json" "$out/err"
done
