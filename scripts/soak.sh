#!/usr/bin/env bash
# Soak benchmark (not run in CI): a live minewatch with two workers on a veth pair between two
# network namespaces this script creates, fed for DURATION by tcpreplay looping a mix of traffic:
# the mining captures of the split-tap test (pcaps/), four more TLS sessions named only by a DNS
# answer (tls-dns-no-sni.pcap with other client ports, so that they land on both workers), and a
# generated edge mix (benchmark generator, 20 MB: web, TLS, DNS, look-alikes and its own
# miners). Every loop repeats the same connections from their SYN, so new connections come all
# the time and every mining session arrives and leaves once per loop.
#
# Every minute it samples, from the sensor's metrics endpoint: resident memory, active flows,
# flow-table memory, kernel drops, packets read, alerts and mining_session records. At the end it
# checks that memory stayed flat, that the kernel dropped nothing, and that every mining session
# of the loop was reported once per loop (records = loops x sessions per loop, counted by a
# replay of one loop).
#
# Usage: sudo scripts/soak.sh [--minutes 30] [--pps 10000] [--workers 2]
# Needs root, iproute2, tcpreplay (tcprewrite), python3, curl.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

minutes=30
pps=10000
workers=2
while [ $# -gt 0 ]; do
    case $1 in
        --minutes) minutes=$2; shift 2 ;;
        --pps) pps=$2; shift 2 ;;
        --workers) workers=$2; shift 2 ;;
        *) say "usage: $0 [--minutes N] [--pps N] [--workers N]"; exit 2 ;;
    esac
done
if [ "$(id -u)" -ne 0 ]; then say "needs root"; exit 1; fi
for t in ip tcpreplay tcprewrite python3 curl; do have "$t" || { say "needs $t"; exit 1; }; done
ensure_cargo

cargo build --release --quiet -p minewatch --bin minewatch
cargo build --release --quiet -p testkit --bin mkbench
bin=target/release/minewatch

id=$$
a=mwsoak-$id-a; b=mwsoak-$id-b; va=mwsa$id; vb=mwsb$id
dir=$(mktemp -d)
veth_lab "$a" "$b" "$va" "$vb" "$dir"
# The metrics endpoint listens on the sensor's namespace's own loopback.
ip -n "$b" link set lo up

# The loop's files.
files=()
for f in tls-pool-sni tls-dns-no-sni sv1-cpuminer cryptonote-xmrig ethproxy-ethminer sv1-port443 \
    cryptonote-port8080 sv1-bytewise two-miners sv1-asic-extensions ethstratum1-nicehash \
    ethstratum2-hello cryptonote-nicehash-proxy getwork-cgminer sv1-pretty-printed \
    sv1-escaped-method cryptonote-escaped-login sv1-two-per-segment; do
    files+=("pcaps/$f.pcap")
done
for port in 41601 41602 41603 41604; do
    dns=$((53001 + port - 41600))
    tcprewrite --portmap="41600:$port,53001:$dns" -i pcaps/tls-dns-no-sni.pcap -o "$dir/tls-dns-$port.pcap"
    files+=("$dir/tls-dns-$port.pcap")
done
cargo run --release --quiet -p testkit --bin mkbench -- --size 20M "$dir/mix.pcap" >/dev/null
files+=("$dir/mix.pcap")

# One loop, replayed: how many mining sessions and frames it holds.
per_loop=$("$bin" -q --workers 1 $(printf -- '-r %s ' "${files[@]}") | grep -c '"event_type":"mining_session"')
frames=$(python3 - "${files[@]}" <<'EOF'
import struct, sys
n = 0
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        magic = f.read(24)[:4]
        end = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        while True:
            h = f.read(16)
            if len(h) < 16:
                break
            f.seek(struct.unpack(end + "IIII", h)[2], 1)
            n += 1
print(n)
EOF
)
loops=$(( (minutes * 60 * pps + frames - 1) / frames ))
say "loop: ${#files[@]} files, $frames frames, $per_loop mining sessions; $loops loops at $pps frames/s"

port=19464
ip netns exec "$b" "$bin" -i "$vb" --workers "$workers" --stats-interval 60 \
    --metrics "127.0.0.1:$port" -o "$dir/alerts.json" 2>"$dir/err" &
mw=$!
for _ in $(seq 100); do grep -q "capturing on" "$dir/err" 2>/dev/null && break; sleep 0.1; done
grep "capturing on" "$dir/err" >&2

ip netns exec "$a" tcpreplay --pps "$pps" --pps-multi 10 --loop "$loops" -i "$va" "${files[@]}" \
    >"$dir/replay" 2>&1 &
tr=$!

scrape() { ip netns exec "$b" curl -s --max-time 5 "http://127.0.0.1:$port/metrics"; }
metric() { awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%d", s }'; }
printf '%-6s %10s %10s %12s %12s %12s %9s %9s\n' minute rss_mib flows flow_mem_kib packets \
    kernel_drop alerts sessions | tee "$dir/samples"
start=$SECONDS
minute=0
while kill -0 "$tr" 2>/dev/null; do
    sleep 60
    minute=$((minute + 1))
    page=$(scrape || true)
    printf '%-6s %10.1f %10s %12s %12s %12s %9s %9s\n' "$minute" \
        "$(echo "$page" | metric process_resident_memory_bytes | awk '{print $1 / 1048576}')" \
        "$(echo "$page" | metric minewatch_flows_active)" \
        "$(echo "$page" | metric minewatch_flow_memory_bytes | awk '{print int($1 / 1024)}')" \
        "$(echo "$page" | metric minewatch_packets_total)" \
        "$(echo "$page" | metric minewatch_capture_kernel_dropped_total)" \
        "$(echo "$page" | metric minewatch_alerts_total)" \
        "$(echo "$page" | metric minewatch_session_records_total)" | tee -a "$dir/samples"
done
wait "$tr" || true
sleep 3
kill -TERM "$mw"
wait "$mw" || true
say "ran $(( (SECONDS - start) / 60 )) min"
grep -E "Actual|Rated|Successful|Failed" "$dir/replay" >&2 || true

python3 - "$dir/alerts.json" "$dir/samples" "$per_loop" "$loops" <<'EOF'
import json, sys
alerts, samples, per_loop, loops = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
recs = [json.loads(l) for l in open(alerts)]
sessions = [r for r in recs if r.get("event_type") == "mining_session"]
last = [r for r in recs if r.get("event_type") == "stats"][-1]
cap = last["capture"]
drops = sum(c["dropped"] + c.get("if_dropped", 0) for c in cap)
rss = [float(l.split()[1]) for l in open(samples).read().splitlines()[1:] if l.split()[1] != "0.0"]
expected = per_loop * loops
print(f"mining_session records {len(sessions)}, expected {expected} ({per_loop} x {loops} loops)")
print(f"kernel drops {drops}; dispatch_dropped {last['stats']['dispatch_dropped']}")
if rss:
    half = len(rss) // 2 or 1
    print(f"resident memory MiB: min {min(rss):.1f}, max {max(rss):.1f}, "
          f"first half max {max(rss[:half]):.1f}, second half max {max(rss[half:] or rss):.1f}")
ok = len(sessions) == expected and drops == 0
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
EOF
