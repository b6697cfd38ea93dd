#!/usr/bin/env bash
# Live packet rate with 1 and with N workers: how fast `minewatch -i` works through traffic
# already waiting in its capture buffers, so that the traffic generator (which shares this
# machine's cores) is not running while minewatch is timed.
#
# For each worker count: a veth pair between two network namespaces this script creates;
# `minewatch -i` on one end with a capture buffer large enough for the whole burst; minewatch is
# stopped (SIGSTOP), tcpreplay sends the first PACKETS frames (default: all) of the benchmark
# capture at top speed into the buffers, minewatch is continued (SIGCONT) and timed until its
# threads fall idle (their CPU time is read every 10 ms from /proc; a thread's work ends in the
# last interval its CPU time grew, that growth after the interval's start). Its final stats
# record must show every frame its capture filter passed read and none dropped, else the run
# (and its pair) is left out. Each count is run RUNS times, in turn, and the median kept; the
# ratio is the median of the run-by-run ratios of the time taken (the same frames were sent to
# both). The busiest thread's share of the CPU time says how evenly the kernel split the flows
# (1/N at best).
#
# With --chunks C the capture is cut into C parts (editcap) sent one after the other, each into
# the stopped sensor and timed as above, the times added up: what the sensor learns from one
# part (the elephant flows it has the kernel drop, see --shunt) applies to the next, as on a
# link. Frames the kernel dropped for a shunted flow are neither read nor received; the table
# shows frames sent per second of work ("sent/s") and frames read per second ("read/s").
#
# With --pps R the sensor is not stopped: the capture is sent at R frames a second while it runs,
# as on a link, and only the "by cpu" ratio means anything (the busiest thread's CPU time; the
# wall time is tcpreplay's).
#
# Needs root, iproute2, tcpreplay and python3 (editcap and capinfos too, for --chunks). Not run
# in CI. Run `scripts/bench.sh` first: it generates target/bench/bench-1200M-s1-vN.pcap (the
# realistic mix; the newest is used) and builds the binary.
#
# Usage: scripts/bench-live-rate.sh [--packets N] [--runs N] [--buffer-mb N] [--workers "1 2"]
#                                   [--pcap FILE] [--chunks C] [--pps R] [--args "MINEWATCH OPTIONS"]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

packets=0
runs=11
buffer_mb=1600
workers="1 2"
chunks=1
pps=0
extra=""
# shellcheck disable=SC2012 # names without spaces; the newest generator version
pcap=$(ls -t target/bench/bench-1200M-s1-v*.pcap 2>/dev/null | head -1 || true)
while [ $# -gt 0 ]; do
    case "$1" in
        --packets) packets=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --buffer-mb) buffer_mb=$2; shift 2 ;;
        --workers) workers=$2; shift 2 ;;
        --pcap) pcap=$2; shift 2 ;;
        --chunks) chunks=$2; shift 2 ;;
        --pps) pps=$2; shift 2 ;;
        --args) extra=$2; shift 2 ;;
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
parts=$pcap
if [ "$chunks" -gt 1 ]; then
    for t in editcap capinfos; do have "$t" || { say "--chunks needs $t (wireshark-common)"; exit 1; }; done
    total=$(capinfos -M -c "$pcap" | awk -F: '/Number of packets/ {gsub(/ /, "", $2); print $2}')
    if [ "$packets" -gt 0 ] && [ "$packets" -lt "$total" ]; then total=$packets; fi
    editcap -r "$pcap" "$out/head.pcap" "1-$total" >/dev/null
    editcap -c $(( (total + chunks - 1) / chunks )) "$out/head.pcap" "$out/part.pcap" >/dev/null
    rm -f "$out/head.pcap"
    # shellcheck disable=SC2012 # names without spaces, in order
    parts=$(ls "$out"/part_*.pcap | tr '\n' ' ')
    packets=0
fi

# shellcheck disable=SC2086 # one argument per worker count
python3 - "$bin" "$parts" "$packets" "$runs" "$buffer_mb" "$a" "$va" "$b" "$vb" "$out" "$extra" "$pps" $workers <<'EOF'
import json, os, signal, statistics, subprocess, sys, time

binary, parts, packets, runs, buffer_mb, ns_a, va, ns_b, vb, out, extra, pps = sys.argv[1:13]
worker_counts = [int(w) for w in sys.argv[13:]]
parts, extra = parts.split(), extra.split()
packets, runs, pps = int(packets), int(runs), int(pps)

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

def replay(part, speed):
    limit = ["--limit", str(packets)] if packets else []
    rep = subprocess.run(["ip", "netns", "exec", ns_a, "tcpreplay", *speed, *limit, "-i", va, part],
                         capture_output=True, text=True)
    return next((int(l.split(":")[1]) for l in rep.stdout.splitlines() if "Successful packets:" in l), 0)

def paced(pid, part):
    """Sends `part` at `pps` frames a second to the running sensor: (frames sent, seconds, CPU
    ns by thread)."""
    before = thread_ns(pid)
    t0 = time.monotonic()
    sent = replay(part, ["--pps", str(pps)])
    wall = time.monotonic() - t0
    time.sleep(0.5)
    after = thread_ns(pid)
    return sent, wall, {t: after[t] - before.get(t, 0) for t in after}

def drain(pid, part):
    """Sends `part` into the stopped sensor, continues it and times it until it falls idle:
    (frames sent, seconds of work, CPU ns by thread)."""
    if pps:
        return paced(pid, part)
    os.kill(pid, signal.SIGSTOP)
    sent = replay(part, ["--topspeed"])
    time.sleep(0.2)
    before = thread_ns(pid)
    t0 = time.monotonic()
    os.kill(pid, signal.SIGCONT)
    # Polled every 10 ms, not faster: on a 2-core machine the poller itself would take a share
    # of a core from the workers. A thread's work ends within the last interval in which its CPU
    # time grew: at the interval's start plus that growth (it ran until it had nothing left).
    # Idle threads wake every 100 ms to look at the clock (microseconds), and once a second end
    # idle flows (a millisecond or so): not work on the burst.
    prev, prev_t, finish, last_busy = before, t0, t0, t0
    while True:
        time.sleep(0.010)
        now, cur = time.monotonic(), thread_ns(pid)
        for t, ns in cur.items():
            grew = ns - prev.get(t, 0)
            if grew > 2_000_000:
                finish = max(finish, prev_t + min(grew / 1e9, now - prev_t))
                last_busy = now
        prev, prev_t = cur, now
        if now - last_busy > 0.3:
            break
    after = thread_ns(pid)
    return sent, finish - t0, {t: after[t] - before.get(t, 0) for t in after}

def one_run(workers):
    alerts, err = f"{out}/alerts.json", f"{out}/err"
    for p in (alerts, err):
        if os.path.exists(p):
            os.remove(p)
    mw = subprocess.Popen(
        ["ip", "netns", "exec", ns_b, binary, "-i", vb, "--workers", str(workers),
         "--buffer-mb", buffer_mb, "--stats-interval", "0", "-o", alerts,
         "--user", "nobody", "--group", "nogroup", *extra],
        stdout=subprocess.DEVNULL, stderr=open(err, "w"))
    # The kernel zeroes each capture's ring as it is opened: 2 x 1,600 MiB took 6 s on a
    # 2-core machine whose memory the hypervisor hands out lazily.
    for _ in range(1200):
        if os.path.exists(err) and "capturing on" in open(err).read():
            break
        time.sleep(0.05)
    else:
        mw.kill()
        sys.exit("minewatch did not start: " + open(err).read())
    pid = mw.pid  # `ip netns exec` runs minewatch in its own process (exec, no fork)
    time.sleep(0.3)
    sent, wall, per = 0, 0.0, {}
    for part in parts:
        s, w, p = drain(pid, part)
        sent, wall = sent + s, wall + w
        for t, ns in p.items():
            per[t] = per.get(t, 0) + ns
    # The busiest thread's share of the work: 1/N when the kernel split the flows evenly. Each
    # worker drains its own capture, so with a core each the burst takes its CPU time.
    busiest = max(per.values()) / max(sum(per.values()), 1)
    slowest = max(per.values()) / 1e9
    os.kill(pid, signal.SIGTERM)
    mw.wait(timeout=30)
    records = [json.loads(l) for l in open(alerts) if '"event_type":"stats"' in l]
    if not records:
        # Say why and leave the run out, with its pair, rather than end the whole benchmark.
        print(f"{workers} workers: no stats record; minewatch said: {open(err).read().strip()}",
              file=sys.stderr)
        return {"valid": False}
    stats = records[-1]
    s, k = stats["stats"], stats["capture"][0]
    # What the capture filter passes, the kernel received and minewatch read.
    valid = (sent == packets * len(parts) or not packets) and sent > 0 and k["dropped"] == 0 \
        and s["dispatch_dropped"] == 0 and s["packets"] == k["received"]
    return {"sent": sent, "seen": s["packets"], "bytes": s["bytes"], "received": k["received"],
            "dropped": k["dropped"], "shunted": s.get("flows_shunted", 0),
            "wall": wall, "cpu": sum(per.values()) / 1e9, "busiest": busiest, "slowest": slowest,
            "valid": valid}

what = parts[0] if len(parts) == 1 else f"{len(parts)} parts of the capture, one after the other"
how = f"sent at {pps} frames/s to the running sensor" if pps else "sent at top speed into the stopped sensor's buffers"
print(f"{packets or 'all'} frames of {what}, {how}; "
      f"minewatch {' '.join(extra) or '(defaults)'}; median of {runs} runs (those with no drop), "
      f"counts in turn; 'vs 1': median of the run-by-run time ratios")
print(f"{'workers':>7} {'sent':>9} {'read':>9} {'shunted':>7} {'wall s':>7} {'cpu s':>7} {'busiest':>7} "
      f"{'sent/s':>7} {'read/s':>7} {'Gbit/s':>7} {'vs 1':>6} {'by cpu':>6}  wall of each run (s)")
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
    def med(k):
        return statistics.median(r[k] for r in results)
    wall, cpu, busiest = med("wall"), med("cpu"), med("busiest")
    sent, seen, size, shunted = med("sent"), med("seen"), med("bytes"), med("shunted")
    base = base or results
    # The median of the run-by-run ratios to the first count's runs, taken in turn: of the wall
    # time, and of the busiest thread's CPU time (the wall time with a core per worker).
    paired = statistics.median(b["wall"] / r["wall"] for b, r in zip(base, results))
    by_cpu = statistics.median(b["slowest"] / r["slowest"] for b, r in zip(base, results))
    runs_s = " ".join(f"{r['wall']:.3f}" for r in results)
    print(f"{workers:>7} {sent:>9.0f} {seen:>9.0f} {shunted:>7.0f} {wall:>7.3f} {cpu:>7.3f} {busiest:>7.2f} "
          f"{sent / wall / 1e6:>6.2f}M {seen / wall / 1e6:>6.2f}M {size * 8 / wall / 1e9:>7.2f} "
          f"{paired:>5.2f}x {by_cpu:>5.2f}x  {runs_s}")
EOF
