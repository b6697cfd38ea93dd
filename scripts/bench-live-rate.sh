#!/usr/bin/env bash
# Live packet rate with 1 and with N workers: how fast `minewatch -i` works through traffic
# already waiting in its capture buffers, so that the traffic generator (which shares this
# machine's cores) is not running while minewatch is timed.
#
# For each worker count: a veth pair between two network namespaces this script creates;
# `minewatch -i` on one end with a capture buffer large enough for the whole burst; minewatch is
# stopped (SIGSTOP), tcpreplay sends the first PACKETS frames (default: all) of the benchmark
# capture at top speed into the buffers, minewatch is continued (SIGCONT) and timed until its
# threads fall idle (their CPU time, read every 2 ms from /proc, stops growing). Its final stats
# record must show every frame its capture filter passed read and none dropped, else the run
# (and its pair) is left out. The rate counts the frames read (the default filter leaves out UDP
# other than DNS). Each count is run RUNS times, in turn, and the median kept; the ratio is the
# median of the run-by-run ratios. The busiest thread's share of the CPU time says how evenly
# the kernel split the flows (1/N at best).
#
# Needs root, iproute2, tcpreplay and python3. Not run in CI. Run `scripts/bench.sh` first: it
# generates target/bench/bench-1200M-s1-vN.pcap (the realistic mix; the newest is used) and
# builds the binary.
#
# Usage: scripts/bench-live-rate.sh [--packets N] [--runs N] [--buffer-mb N] [--workers "1 2"]
#                                   [--pcap FILE]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

packets=0
runs=11
buffer_mb=1600
workers="1 2"
# shellcheck disable=SC2012 # names without spaces; the newest generator version
pcap=$(ls -t target/bench/bench-1200M-s1-v*.pcap 2>/dev/null | head -1 || true)
while [ $# -gt 0 ]; do
    case "$1" in
        --packets) packets=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --buffer-mb) buffer_mb=$2; shift 2 ;;
        --workers) workers=$2; shift 2 ;;
        --pcap) pcap=$2; shift 2 ;;
        *) say "unknown argument $1"; exit 2 ;;
    esac
done
bin=target/release/minewatch
if [ "$(id -u)" -ne 0 ]; then say "needs root"; exit 1; fi
for t in ip tcpreplay python3; do have "$t" || { say "needs $t"; exit 1; }; done
[ -x "$bin" ] && [ -n "$pcap" ] && [ -f "$pcap" ] || { say "run scripts/bench.sh first (binary and capture)"; exit 1; }

id=$$
a=mwrate-$id-a; b=mwrate-$id-b; va=mwra$id; vb=mwrb$id
out=$(mktemp -d)
veth_lab "$a" "$b" "$va" "$vb" "$out"

# shellcheck disable=SC2086 # one argument per worker count
python3 - "$bin" "$pcap" "$packets" "$runs" "$buffer_mb" "$a" "$va" "$b" "$vb" "$out" $workers <<'EOF'
import json, os, signal, statistics, subprocess, sys, time

binary, pcap, packets, runs, buffer_mb, ns_a, va, ns_b, vb, out = sys.argv[1:11]
worker_counts = [int(w) for w in sys.argv[11:]]
packets, runs = int(packets), int(runs)

def thread_ns(pid):
    """CPU time of each thread of `pid` so far, in ns (schedstat's first field)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                out[tid] = int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            pass
    return out

def cpu_ns(pid):
    return sum(thread_ns(pid).values())

def one_run(workers):
    alerts, err = f"{out}/alerts.json", f"{out}/err"
    for p in (alerts, err):
        if os.path.exists(p):
            os.remove(p)
    mw = subprocess.Popen(
        ["ip", "netns", "exec", ns_b, binary, "-i", vb, "--workers", str(workers),
         "--buffer-mb", buffer_mb, "--stats-interval", "0", "-o", alerts,
         "--user", "nobody", "--group", "nogroup"],
        stdout=subprocess.DEVNULL, stderr=open(err, "w"))
    for _ in range(200):
        if os.path.exists(err) and "capturing on" in open(err).read():
            break
        time.sleep(0.05)
    else:
        mw.kill()
        sys.exit("minewatch did not start: " + open(err).read())
    pid = mw.pid  # `ip netns exec` runs minewatch in its own process (exec, no fork)
    time.sleep(0.3)
    os.kill(pid, signal.SIGSTOP)
    limit = ["--limit", str(packets)] if packets else []
    rep = subprocess.run(["ip", "netns", "exec", ns_a, "tcpreplay", "--topspeed", *limit, "-i", va, pcap],
                         capture_output=True, text=True)
    sent = next((int(l.split(":")[1]) for l in rep.stdout.splitlines() if "Successful packets:" in l), 0)
    time.sleep(0.2)
    threads_before = thread_ns(pid)
    before = sum(threads_before.values())
    t0 = time.monotonic()
    os.kill(pid, signal.SIGCONT)
    last_busy, last_cpu = t0, before
    while True:
        time.sleep(0.002)
        now, c = time.monotonic(), cpu_ns(pid)
        # Idle threads wake every 100 ms to look at the clock: that costs microseconds.
        if c - last_cpu > 200_000:
            last_busy = now
        last_cpu = c
        if now - last_busy > 0.3:
            break
    wall = last_busy - t0
    threads = thread_ns(pid)
    # The busiest thread's share of the work: 1/N when the kernel split the flows evenly.
    per = [threads[t] - threads_before.get(t, 0) for t in threads]
    busiest = max(per) / max(sum(per), 1)
    cpu = (last_cpu - before) / 1e9
    os.kill(pid, signal.SIGTERM)
    mw.wait(timeout=30)
    stats = [json.loads(l) for l in open(alerts) if '"event_type":"stats"' in l][-1]
    s, k = stats["stats"], stats["capture"][0]
    # The default filter passes TCP, DNS and fragments: what it passes, the kernel received.
    valid = (sent == packets or not packets) and sent > 0 and k["dropped"] == 0 \
        and s["dispatch_dropped"] == 0 and s["packets"] == k["received"]
    return {"sent": sent, "seen": s["packets"], "bytes": s["bytes"], "received": k["received"],
            "dropped": k["dropped"],
            "wall": wall, "cpu": cpu, "busiest": busiest, "valid": valid}

print(f"{packets or 'all'} frames of {pcap}, sent at top speed into the stopped sensor's buffers; "
      f"median of {runs} runs (those with no drop), counts in turn; 'vs 1': median of the run-by-run rate ratios")
print(f"{'workers':>7} {'frames':>9} {'drain s':>8} {'cpu s':>7} {'busiest':>7} {'Mpkt/s':>8} {'Gbit/s':>7} "
      f"{'vs 1':>6}  runs (s)")
# In turn (1, N, 1, N, ...), so that a drift in the machine's speed hits every count alike.
by_count = {w: [] for w in worker_counts}
for _ in range(runs):
    for workers in worker_counts:
        by_count[workers].append(one_run(workers))
# A run that dropped a frame (the buffer was too small) is left out, with its pair.
pairs = [i for i in range(runs) if all(by_count[w][i]["valid"] for w in worker_counts)]
base = None
for workers in worker_counts:
    bad = [r for r in by_count[workers] if not r["valid"]]
    if bad:
        print(f"{workers:>7}: {len(bad)} of {runs} runs left out: {bad[0]}")
    results = [by_count[workers][i] for i in pairs]
    if len(results) < (runs + 1) // 2:
        print(f"{workers:>7}: too few valid runs (a larger --buffer-mb or fewer --packets)")
        continue
    wall = statistics.median(r["wall"] for r in results)
    cpu = statistics.median(r["cpu"] for r in results)
    busiest = statistics.median(r["busiest"] for r in results)
    seen, size = results[0]["seen"], results[0]["bytes"]
    rate = seen / wall
    base = base or [r["wall"] for r in results]
    # The median of the run-by-run ratios to the first count's runs, taken in turn.
    paired = statistics.median(b / r["wall"] for b, r in zip(base, results))
    runs_s = " ".join(f"{r['wall']:.3f}" for r in results)
    print(f"{workers:>7} {seen:>9} {wall:>8.3f} {cpu:>7.3f} {busiest:>7.2f} {rate / 1e6:>8.3f} {size * 8 / wall / 1e9:>7.2f} "
          f"{paired:>5.2f}x  {runs_s}")
EOF
