//! Live capture end to end, on a wire the test builds itself: two network namespaces joined by
//! a veth pair. A tiny Stratum pool runs in one, a tiny miner in the other, and `minewatch -i`
//! watches the miner's end of the veth (inside the miner's namespace), dropping root to nobody
//! as it does in production. A second test replays a generated capture onto the veth with
//! tcpreplay at full speed and checks that the counters account for every frame sent. The
//! privilege tests start the sensor as root, with ambient capabilities (`setpriv`, as systemd
//! does) and with file capabilities (`setcap`), and read every thread's capability sets and ids
//! from /proc once it captures.
//!
//! Needs root, iproute2 (`ip netns`), python3 and, for the counters test, tcpreplay; setpriv and
//! setcap for the privilege tests (`scripts/lib.sh` installs them). Without them each test
//! prints `SKIPPED: <reason>` and passes.
//! No packet leaves the namespaces: the addresses (10.213.0.0/24) exist only inside them, and
//! the namespaces and the veth are deleted by a Drop guard even when an assertion fails.

use crate::util;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use minewatch::time::Ts;
use testkit::synth::{PcapWriter, TcpConversation};

const POOL_IP: &str = "10.213.0.1";
const MINER_IP: &str = "10.213.0.2";
const POOL_PORT: u16 = 3333;
const LOGIN: &str = "bc1qlivetestwallet0000000000000000000000.rig7";
const SHARES: u32 = 5;
/// How long any one step may take before the test gives up: a hang guard, not a measurement.
const STEP_LIMIT: Duration = Duration::from_secs(120);

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Why these tests cannot run here, if they cannot.
fn missing(tools: &[&str]) -> Option<String> {
    let root = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    if !root.unwrap_or(false) {
        return Some("needs root (network namespaces, packet capture)".into());
    }
    for t in tools {
        let found = Command::new(t)
            .arg(if *t == "ip" { "-V" } else { "--version" })
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            return Some(format!("{t} is not installed"));
        }
    }
    None
}

/// Runs a command to completion; `Err` with its stderr when it fails.
fn run(cmd: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(cmd).args(args).output().map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{cmd} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Two namespaces (`pool` side and `miner` side) joined by a veth pair; everything it made is
/// deleted on drop, and every process it started is killed first.
struct Lab {
    ns_pool: String,
    ns_miner: String,
    if_pool: String,
    if_miner: String,
    children: Vec<Child>,
    dir: tempfile::TempDir,
}

impl Lab {
    /// Builds the lab, or says why it cannot (reported as a skip: no netns support here).
    fn new() -> Result<Lab, String> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}{n}", std::process::id() % 100_000);
        let lab = Lab {
            ns_pool: format!("mwtest-{id}-p"),
            ns_miner: format!("mwtest-{id}-m"),
            // Interface names are at most 15 bytes.
            if_pool: format!("mwp{id}"),
            if_miner: format!("mwm{id}"),
            children: Vec::new(),
            dir: tempfile::tempdir().map_err(|e| e.to_string())?,
        };
        // From here on, Drop cleans up whatever part of this exists.
        run("ip", &["netns", "add", &lab.ns_pool])?;
        run("ip", &["netns", "add", &lab.ns_miner])?;
        run("ip", &["link", "add", &lab.if_pool, "type", "veth", "peer", "name", &lab.if_miner])?;
        for (ns, ifc, ip) in [(&lab.ns_pool, &lab.if_pool, POOL_IP), (&lab.ns_miner, &lab.if_miner, MINER_IP)]
        {
            run("ip", &["link", "set", ifc, "netns", ns])?;
            // No IPv6 autoconfiguration chatter on the wire under test.
            let _ = run("ip", &["netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
            run("ip", &["-n", ns, "addr", "add", &format!("{ip}/24"), "dev", ifc])?;
            run("ip", &["-n", ns, "link", "set", ifc, "up"])?;
            run("ip", &["-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(lab)
    }

    /// A second veth pair between the two namespaces, with no addresses: for a tap that puts
    /// each direction of the traffic on its own port. Returns (pool side, miner side).
    fn second_pair(&self) -> Result<(String, String), String> {
        let (a, b) = (format!("{}b", self.if_pool), format!("{}b", self.if_miner));
        run("ip", &["link", "add", &a, "type", "veth", "peer", "name", &b])?;
        for (ns, ifc) in [(&self.ns_pool, &a), (&self.ns_miner, &b)] {
            run("ip", &["link", "set", ifc, "netns", ns])?;
            run("ip", &["-n", ns, "link", "set", ifc, "up"])?;
        }
        Ok((a, b))
    }

    fn exec(&self, ns: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]).args(args);
        c
    }

    /// Starts a process in `ns`; it is killed when the lab is dropped. Returns its index.
    fn spawn(&mut self, mut cmd: Command) -> usize {
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        self.children.push(child);
        self.children.len() - 1
    }

    fn script(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write script");
        p
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Deleting a namespace deletes the veth end inside it, and so the pair.
        let _ = run("ip", &["netns", "del", &self.ns_pool]);
        let _ = run("ip", &["netns", "del", &self.ns_miner]);
        let _ = run("ip", &["link", "del", &self.if_pool]);
    }
}

/// Says a test is skipped, straight to stderr so that the line shows without `--nocapture`.
fn skipped(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {why}");
}

/// Builds the lab, or prints why not and returns `None` (the test then passes as skipped).
fn lab_or_skip(test: &str, tools: &[&str]) -> Option<Lab> {
    if let Some(why) = missing(tools) {
        skipped(test, &why);
        return None;
    }
    match Lab::new() {
        Ok(l) => Some(l),
        Err(e) => {
            skipped(test, &format!("cannot create network namespaces and a veth pair: {e}"));
            None
        }
    }
}

/// Lines of a child's stream, as they come, with everything seen so far kept for messages.
struct Lines {
    rx: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    fn new(stream: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines { rx, seen: Vec::new() }
    }

    /// Waits for a line containing `needle`.
    fn wait_for(&mut self, needle: &str) -> Result<String, String> {
        let deadline = Instant::now() + STEP_LIMIT;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.rx.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(needle) {
                        return Ok(l);
                    }
                }
                Err(_) => break,
            }
        }
        Err(format!("no line with {needle:?}; got:\n{}", self.seen.join("\n")))
    }

    /// Every line, the ones already waited for included, once the stream ends.
    fn rest(&mut self) -> Vec<String> {
        while let Ok(l) = self.rx.recv_timeout(STEP_LIMIT) {
            self.seen.push(l);
        }
        self.seen.clone()
    }
}

/// Waits for a child to exit, killing it after the hang guard.
fn wait_exit(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + STEP_LIMIT;
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return s.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("process did not exit within {} s; killed", STEP_LIMIT.as_secs());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sigterm(child: &Child) {
    run("kill", &["-TERM", &child.id().to_string()]).expect("kill -TERM");
}

/// Starts `minewatch -i <miner's veth end>` inside the miner's namespace and waits until it
/// captures. Returns the child's index, its stdout and its stderr.
fn start_minewatch(lab: &mut Lab, extra: &[&str]) -> (usize, Lines, Lines) {
    let (i, out, err, _) = start_minewatch_banner(lab, extra);
    (i, out, err)
}

/// [`start_minewatch`], also returning the line that says how it captures.
fn start_minewatch_banner(lab: &mut Lab, extra: &[&str]) -> (usize, Lines, Lines, String) {
    start_minewatch_as(lab, &[], util::bin(), extra)
}

/// [`start_minewatch_banner`] with the command `prefix` (e.g. `setpriv ...`) in front of the
/// binary `bin`.
fn start_minewatch_as(
    lab: &mut Lab,
    prefix: &[&str],
    bin: &str,
    extra: &[&str],
) -> (usize, Lines, Lines, String) {
    let iface = lab.if_miner.clone();
    let mut args = prefix.to_vec();
    args.extend_from_slice(&[bin, "-i", iface.as_str()]);
    args.extend_from_slice(extra);
    let mut cmd = lab.exec(&lab.ns_miner.clone(), &args);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
    let i = lab.spawn(cmd);
    let child = &mut lab.children[i];
    let out = Lines::new(child.stdout.take().expect("stdout"));
    let mut err = Lines::new(child.stderr.take().expect("stderr"));
    let banner =
        err.wait_for("minewatch: capturing on").unwrap_or_else(|e| panic!("minewatch did not start: {e}"));
    (i, out, err, banner)
}

fn records(lines: &[String]) -> Vec<Value> {
    lines.iter().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

const POOL_PY: &str = r#"
import json, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
conns = int(sys.argv[3]) if len(sys.argv) > 3 else 1
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, port)); srv.listen(1); srv.settimeout(120)
print("ready", flush=True)
for _ in range(conns):
    conn, _ = srv.accept(); conn.settimeout(60)
    def send(o): conn.sendall((json.dumps(o) + "\n").encode())
    for line in conn.makefile("rb"):
        m = json.loads(line); mid = m.get("id"); meth = m.get("method")
        if meth == "mining.subscribe":
            send({"id": mid, "result": [[["mining.set_difficulty", "d1"], ["mining.notify", "n1"]], "08000002", 4], "error": None})
        elif meth == "mining.authorize":
            send({"id": mid, "result": True, "error": None})
            send({"id": None, "method": "mining.set_difficulty", "params": [8]})
            send({"id": None, "method": "mining.notify", "params": ["4d2", "00" * 32, "01000000010000", "ffffffff", [], "20000000", "1d00ffff", "5f5e1000", True]})
        elif meth == "mining.submit":
            send({"id": mid, "result": True, "error": None})
    conn.close()
"#;

const MINER_PY: &str = r#"
import json, socket, sys
host, port, login, shares = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
c = socket.create_connection((host, port), timeout=60)
r = c.makefile("rb")
def send(o): c.sendall((json.dumps(o) + "\n").encode())
def recv(): return json.loads(r.readline())
send({"id": 1, "method": "mining.subscribe", "params": ["cpuminer/2.5.1"]}); recv()
send({"id": 2, "method": "mining.authorize", "params": [login, "x"]})
while recv().get("method") != "mining.notify":
    pass
for i in range(shares):
    send({"id": 10 + i, "method": "mining.submit", "params": [login, "4d2", "00000000", "5f5e1000", "%08x" % i]})
    assert recv().get("result") is True
c.shutdown(socket.SHUT_WR)
while r.readline():
    pass
c.close()
print("done", flush=True)
"#;

/// Fetches the metrics page from inside the miner's namespace (its own loopback).
fn scrape(lab: &Lab, port: u16) -> Result<String, String> {
    let code = format!("import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:{port}/metrics', timeout=10).read().decode())");
    let out = lab.exec(&lab.ns_miner, &["python3", "-c", &code]).output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn metric(page: &str, name: &str) -> Option<u64> {
    page.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn live_capture_between_namespaces_alerts_flushes_and_reports() {
    let Some(mut lab) = lab_or_skip("live capture", &["ip", "python3"]) else { return };
    let metrics_port = 9464u16;
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    // Default privilege drop (root → nobody:nogroup), two workers, a stats record every second.
    let (mw, mut out, mut err) = start_minewatch(
        &mut lab,
        &["-f", "tcp", "--workers", "2", "--stats-interval", "1", "--metrics", &metrics_addr],
    );
    let pid = lab.children[mw].id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap_or("").to_string();
    assert!(
        uid_line.split_whitespace().skip(1).all(|u| u == "65534"),
        "minewatch still runs as {uid_line:?}, not nobody, after opening the interface"
    );

    let pool_py = lab.script("pool.py", POOL_PY);
    let miner_py = lab.script("miner.py", MINER_PY);
    let mut pool_cmd =
        lab.exec(&lab.ns_pool, &["python3", pool_py.to_str().unwrap_or(""), POOL_IP, &POOL_PORT.to_string()]);
    pool_cmd.stdout(Stdio::piped());
    let pool = lab.spawn(pool_cmd);
    let mut pool_out = Lines::new(lab.children[pool].stdout.take().expect("pool stdout"));
    pool_out.wait_for("ready").expect("pool did not start");

    let miner = lab
        .exec(
            &lab.ns_miner,
            &[
                "python3",
                miner_py.to_str().unwrap_or(""),
                POOL_IP,
                &POOL_PORT.to_string(),
                LOGIN,
                &SHARES.to_string(),
            ],
        )
        .output()
        .expect("run the miner");
    assert!(
        miner.status.success() && String::from_utf8_lossy(&miner.stdout).contains("done"),
        "the miner failed: {}",
        String::from_utf8_lossy(&miner.stderr)
    );

    // The alert comes while the sensor runs...
    out.wait_for("\"event_type\":\"mining\"").expect("no mining alert");
    // ... and the metrics show it once the counters are next reported (about once a second).
    let mut page = String::new();
    for _ in 0..60 {
        page = scrape(&lab, metrics_port).unwrap_or_else(|e| panic!("scrape failed: {e}"));
        if metric(&page, "minewatch_session_records_total") == Some(1) {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(metric(&page, "minewatch_mining_hosts"), Some(1), "{page}");
    assert_eq!(metric(&page, "minewatch_alerts_total"), Some(1), "{page}");
    assert_eq!(metric(&page, "minewatch_session_records_total"), Some(1), "{page}");
    assert!(metric(&page, "minewatch_tcp_packets_total").unwrap_or(0) >= 10, "{page}");
    let info = format!(
        "minewatch_mining_host_info{{host=\"{MINER_IP}\",pool=\"{POOL_IP}:{POOL_PORT}\",variant=\"stratum-v1\"}} 1"
    );
    assert!(page.contains(&info), "no {info}\n{page}");
    // The login is in the alerts, never in a label.
    assert!(!page.contains(LOGIN), "{page}");
    // The process figures are read after the privilege drop too (a process may always read its
    // own /proc/self/fd, whoever owns it then).
    assert!(metric(&page, "process_open_fds").unwrap_or(0) > 0, "{page}");
    assert!(metric(&page, "process_resident_memory_bytes").unwrap_or(0) > 0, "{page}");
    assert!(
        page.contains(&format!("minewatch_capture_received_total{{interface=\"{}\"}}", lab.if_miner)),
        "{page}"
    );

    sigterm(&lab.children[mw]);
    let code = wait_exit(&mut lab.children[mw]);
    let stderr = err.rest().join("\n");
    assert_eq!(code, Some(0), "minewatch exit status\n{stderr}");
    assert!(!stderr.contains("cannot drop privileges"), "{stderr}");

    let lines = out.rest();
    let recs = records(&lines);
    let by_type = |t: &'static str| recs.iter().filter(move |r| r["event_type"] == t);
    let m: Vec<&Value> = by_type("mining").collect();
    assert_eq!(m.len(), 1, "{lines:#?}");
    let m = m[0];
    assert_eq!(m["src_ip"], MINER_IP);
    assert_eq!(m["dest_ip"], POOL_IP);
    assert_eq!(m["dest_port"], POOL_PORT);
    assert_eq!(m["stratum"]["variant"], "stratum-v1");
    assert_eq!(m["stratum"]["login"], LOGIN);
    assert_eq!(m["stratum"]["agent"], "cpuminer/2.5.1");
    let s: Vec<&Value> = by_type("mining_session").collect();
    assert_eq!(s.len(), 1, "{lines:#?}");
    assert_eq!(s[0]["flow_id"], m["flow_id"]);
    assert_eq!(s[0]["stratum"]["shares_submitted"], SHARES);
    assert_eq!(s[0]["stratum"]["shares_accepted"], SHARES);
    let last = recs.last().expect("records");
    assert_eq!(last["event_type"], "stats", "the last record is not the final stats record");
    assert_eq!(last["stats"]["sessions"], 1);
    assert_eq!(last["stats"]["dispatch_dropped"], 0);
    assert_eq!(last["capture"][0]["iface"], lab.if_miner.as_str(), "{last}");
    assert!(by_type("stats").count() >= 2, "periodic stats records are missing");
}

/// Writes an Ethernet capture of `conversations` TCP connections, each with a handshake and
/// `chunks` data segments each way; returns the number of frames.
fn bulk_capture(path: &Path, conversations: u32, chunks: u32) -> u64 {
    let file = std::fs::File::create(path).expect("create capture");
    let mut w = PcapWriter::new(std::io::BufWriter::new(file), minewatch::decode::LinkType::Ethernet)
        .expect("pcap header");
    let data = vec![b'x'; 1200];
    for c in 0..conversations {
        let client = format!("10.213.1.{}:{}", 1 + c % 200, 40000 + c).parse().expect("addr");
        let server = "198.51.100.44:443".parse().expect("addr");
        let start = Ts(1_700_000_000_000_000 + i64::from(c) * 1000);
        let mut t = TcpConversation::new(client, server, start, testkit::synth::Link::Ethernet);
        t.handshake(&mut w).expect("handshake");
        for _ in 0..chunks {
            t.client_sends(&mut w, &data).expect("client data");
            t.server_sends(&mut w, &data).expect("server data");
        }
    }
    let n = w.packets();
    w.into_inner().and_then(|mut f| f.flush()).expect("flush capture");
    n
}

/// Sends `pcap` from the pool's end of the veth with tcpreplay and `opts`; returns the frames
/// it sent and its report.
fn tcpreplay(lab: &Lab, opts: &[&str], pcap: &Path) -> (u64, String) {
    let mut args = vec!["tcpreplay"];
    args.extend_from_slice(opts);
    args.extend_from_slice(&["-i", &lab.if_pool, pcap.to_str().unwrap_or("")]);
    let replay = lab.exec(&lab.ns_pool, &args).output().expect("run tcpreplay");
    let report =
        format!("{}{}", String::from_utf8_lossy(&replay.stdout), String::from_utf8_lossy(&replay.stderr));
    assert!(replay.status.success(), "tcpreplay failed:\n{report}");
    let sent = tcpreplay_sent(&report).unwrap_or_else(|| panic!("no packet count in:\n{report}"));
    (sent, report)
}

/// `Successful packets: N` from tcpreplay's report.
fn tcpreplay_sent(report: &str) -> Option<u64> {
    report.lines().find_map(|l| l.trim().strip_prefix("Successful packets:")?.trim().parse().ok())
}

#[test]
fn counters_account_for_every_frame_replayed_at_full_speed() {
    counters_add_up(&["--workers", "1"], "capturing on");
}

/// The same with two workers, each reading its own capture of the interface.
#[test]
fn counters_account_for_every_frame_with_the_interface_shared_by_two_workers() {
    counters_add_up(&["--workers", "2"], "2 workers, each with its own capture");
}

/// The same with one reader handing frames to two workers (what runs where the kernel cannot
/// share the interface): frames it cannot hand over are counted as dispatch drops.
#[test]
fn counters_account_for_every_frame_with_one_reader_and_two_workers() {
    counters_add_up(&["--workers", "2", "--no-fanout"], "capturing on");
}

fn counters_add_up(workers: &[&str], banner_says: &str) {
    let Some(mut lab) = lab_or_skip("counters add up", &["ip", "tcpreplay"]) else { return };
    let pcap = lab.dir.path().join("bulk.pcap");
    let frames = bulk_capture(&pcap, 400, 20);
    // A small kernel buffer, so that a debug build at full speed may well drop: the sums must
    // hold either way.
    let mut args = vec!["-f", "tcp", "--buffer-mb", "1", "--stats-interval", "0"];
    args.extend_from_slice(workers);
    let (mw, mut out, mut err, banner) = start_minewatch_banner(&mut lab, &args);
    assert!(banner.contains(banner_says), "{banner}");
    let shared = banner.contains("each with its own capture");
    let (sent, report) = tcpreplay(&lab, &["--topspeed"], &pcap);
    assert!(sent > 0 && sent <= frames, "sent {sent} of {frames}\n{report}");

    // Let the reader drain the kernel buffer: a stop request does not wait for it.
    std::thread::sleep(Duration::from_secs(2));
    sigterm(&lab.children[mw]);
    let code = wait_exit(&mut lab.children[mw]);
    let stderr = err.rest().join("\n");
    assert_eq!(code, Some(0), "{stderr}");
    let recs = records(&out.rest());
    let last = recs.last().expect("a final stats record");
    assert_eq!(last["event_type"], "stats", "{last}");
    let st = &last["stats"];
    let n = |k: &str| st[k].as_u64().unwrap_or_else(|| panic!("no counter {k} in {st}"));
    let cap = &last["capture"][0];
    let k = |f: &str| cap[f].as_u64().unwrap_or_else(|| panic!("no {f} in {cap}"));
    let seen = n("packets");
    let (kernel_dropped, if_dropped) = (k("dropped"), k("if_dropped"));
    let processed = n("tcp_packets")
        + n("udp_packets")
        + n("truncated")
        + n("malformed")
        + n("not_tcp_udp")
        + n("fragments")
        + n("unsupported_link");
    let summary = format!(
        "sent {sent}, seen {seen}, kernel dropped {kernel_dropped}, interface dropped {if_dropped}, \
         processed {processed}, dispatch dropped {}",
        n("dispatch_dropped")
    );
    println!("{workers:?}: {summary}");
    // Every frame sent was either read by minewatch or dropped by the kernel, and counted so.
    assert_eq!(seen + kernel_dropped + if_dropped, sent, "{summary}\n{last}");
    // Every frame read was either processed by a worker or dropped at dispatch, and counted so.
    assert_eq!(processed + n("dispatch_dropped"), seen, "{summary}\n{last}");
    if shared {
        // Workers that read their own captures hand nothing over.
        assert_eq!(n("dispatch_dropped"), 0, "{summary}");
    }
    assert_eq!(n("bytes") > 0, seen > 0);
}

#[test]
fn each_worker_reads_its_own_capture_and_every_connection_stays_whole() {
    let Some(mut lab) = lab_or_skip("shared capture", &["ip", "python3"]) else { return };
    // The kernel shares the interface between the two workers by a hash of each packet's flow.
    // Were that hash not the same both ways, a connection's two directions would land on
    // different workers, and neither would see the pool accept the shares: every one of these
    // connections (each from a new port) must come out whole and confirmed.
    const CONNS: u32 = 12;
    let (mw, mut out, mut err, banner) =
        start_minewatch_banner(&mut lab, &["-f", "tcp", "--workers", "2", "--stats-interval", "0"]);
    assert!(banner.contains("2 workers, each with its own capture"), "{banner}");
    let pool_py = lab.script("pool.py", POOL_PY);
    let miner_py = lab.script("miner.py", MINER_PY);
    let pool_args = [pool_py.to_str().unwrap_or(""), POOL_IP, &POOL_PORT.to_string(), &CONNS.to_string()]
        .map(str::to_string);
    let mut pool_cmd =
        lab.exec(&lab.ns_pool, &["python3", &pool_args[0], &pool_args[1], &pool_args[2], &pool_args[3]]);
    pool_cmd.stdout(Stdio::piped());
    let pool = lab.spawn(pool_cmd);
    let mut pool_out = Lines::new(lab.children[pool].stdout.take().expect("pool stdout"));
    pool_out.wait_for("ready").expect("pool did not start");
    for _ in 0..CONNS {
        let port = POOL_PORT.to_string();
        let shares = SHARES.to_string();
        let miner = lab
            .exec(
                &lab.ns_miner,
                &["python3", miner_py.to_str().unwrap_or(""), POOL_IP, &port, LOGIN, &shares],
            )
            .output()
            .expect("run the miner");
        assert!(miner.status.success(), "the miner failed: {}", String::from_utf8_lossy(&miner.stderr));
    }
    // Let the workers drain their captures: a stop request does not wait for them.
    std::thread::sleep(Duration::from_secs(1));
    sigterm(&lab.children[mw]);
    let code = wait_exit(&mut lab.children[mw]);
    let stderr = err.rest().join("\n");
    assert_eq!(code, Some(0), "{stderr}");
    let lines = out.rest();
    let recs = records(&lines);
    let sessions: Vec<&Value> = recs.iter().filter(|r| r["event_type"] == "mining_session").collect();
    assert_eq!(sessions.len(), CONNS as usize, "{lines:#?}");
    let mut ports: Vec<u64> = sessions.iter().filter_map(|s| s["src_port"].as_u64()).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), CONNS as usize, "each connection once: {ports:?}");
    for s in &sessions {
        assert_eq!(s["confidence"], "confirmed", "{s}");
        assert_eq!(s["stratum"]["shares_submitted"], SHARES, "{s}");
        assert_eq!(s["stratum"]["shares_accepted"], SHARES, "{s}");
    }
    let last = recs.last().expect("records");
    assert_eq!(last["event_type"], "stats", "{last}");
    // One entry for the interface: its two captures' counters summed.
    let caps = last["capture"].as_array().expect("capture counters");
    assert_eq!(caps.len(), 1, "{last}");
    let received = caps[0]["received"].as_u64().unwrap_or(0);
    let dropped = caps[0]["dropped"].as_u64().unwrap_or(u64::MAX);
    let seen = last["stats"]["packets"].as_u64().unwrap_or(0);
    assert_eq!(dropped, 0, "{last}");
    assert_eq!(seen, received, "every frame the captures received was read: {last}");
    assert_eq!(last["stats"]["dispatch_dropped"], 0, "{last}");
}

/// Mining captures from pcaps/ (Ethernet, clients in private ranges, whole sessions) for the
/// split-tap tests.
const TAP_CAPTURES: [&str; 18] = [
    "tls-pool-sni.pcap",
    // The DNS answer and the TLS connection it leads to: two flows, maybe two workers.
    "tls-dns-no-sni.pcap",
    "sv1-cpuminer.pcap",
    "cryptonote-xmrig.pcap",
    "ethproxy-ethminer.pcap",
    "sv1-port443.pcap",
    "cryptonote-port8080.pcap",
    "sv1-bytewise.pcap",
    "two-miners.pcap",
    "sv1-asic-extensions.pcap",
    "ethstratum1-nicehash.pcap",
    "ethstratum2-hello.pcap",
    "cryptonote-nicehash-proxy.pcap",
    "getwork-cgminer.pcap",
    "sv1-pretty-printed.pcap",
    "sv1-escaped-method.pcap",
    "cryptonote-escaped-login.pcap",
    "sv1-two-per-segment.pcap",
];

/// What identifies a session's report and does not depend on when it was seen.
fn session_keys(lines: &[String]) -> Vec<String> {
    let mut keys: Vec<String> = records(lines)
        .iter()
        .filter(|r| r["event_type"] == "mining_session")
        .map(|r| {
            format!(
                "{} {}:{} -> {}:{} {} {} shares {}/{}",
                r["confidence"],
                r["src_ip"],
                r["src_port"],
                r["dest_ip"],
                r["dest_port"],
                r["stratum"]["variant"],
                r["stratum"]["login"],
                r["stratum"]["shares_accepted"],
                r["stratum"]["shares_submitted"]
            )
        })
        .collect();
    keys.sort();
    keys
}

/// A tap that sends each direction out of its own port (clients' frames on one interface, the
/// servers' on another): with `extra` options, the live sensor must report every session just
/// as a replay of the same captures does.
fn split_tap_matches_replay(test: &str, extra: &[&str]) {
    let Some(mut lab) = lab_or_skip(test, &["ip", "tcpreplay", "tcpprep"]) else { return };
    let (tap_pool, tap_miner) = match lab.second_pair() {
        Ok(p) => p,
        Err(e) => return skipped(test, &format!("cannot add a second veth pair: {e}")),
    };
    let files: Vec<PathBuf> = TAP_CAPTURES.iter().map(|f| util::pcaps_dir().join(f)).collect();
    let mut replay = Command::new(util::bin());
    replay.args(["-q", "--workers", "1"]);
    for f in &files {
        replay.arg("-r").arg(f);
    }
    let expected = session_keys(
        &String::from_utf8_lossy(&replay.output().expect("replay").stdout)
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>(),
    );
    assert!(expected.len() >= TAP_CAPTURES.len(), "{expected:#?}");

    let mut args = vec!["-i", &tap_miner, "--stats-interval", "0"];
    args.extend_from_slice(extra);
    let (mw, mut out, mut err) = start_minewatch(&mut lab, &args);
    for f in &files {
        let cache = lab.dir.path().join("split.cache");
        let (f, cache) = (f.to_str().unwrap_or(""), cache.to_str().unwrap_or(""));
        // Frames from the private ranges (the miners) go out of the first port, the rest out of
        // the second.
        run("tcpprep", &["--cidr=10.0.0.0/8,172.16.0.0/12,192.168.0.0/16", "-i", f, "-o", cache])
            .unwrap_or_else(|e| panic!("{e}"));
        let sent = lab
            .exec(
                &lab.ns_pool,
                &["tcpreplay", "--pps", "1000", "-c", cache, "-i", &lab.if_pool, "-I", &tap_pool, f],
            )
            .output()
            .expect("run tcpreplay");
        assert!(sent.status.success(), "tcpreplay {f}: {}", String::from_utf8_lossy(&sent.stderr));
    }
    std::thread::sleep(Duration::from_secs(1));
    sigterm(&lab.children[mw]);
    let code = wait_exit(&mut lab.children[mw]);
    let stderr = err.rest().join("\n");
    assert_eq!(code, Some(0), "{stderr}");
    let got = session_keys(&out.rest());
    assert_eq!(got, expected, "live (one direction per interface) vs replay");
}

#[test]
fn a_tap_with_one_direction_per_port_gives_what_a_replay_gives_with_two_workers_sharing_by_flow() {
    split_tap_matches_replay("split tap, fanout", &["--workers", "2"]);
}

#[test]
fn a_tap_with_one_direction_per_port_gives_what_a_replay_gives_with_one_reader_per_port() {
    split_tap_matches_replay("split tap, readers", &["--workers", "2", "--no-fanout"]);
}

/// A miner's lines and the pool's answers: the opening (subscribe, authorize, a job) when
/// `first_submit` is 0, then `submits` accepted shares.
fn stratum_exchange(
    t: &mut TcpConversation,
    w: &mut PcapWriter<std::io::BufWriter<std::fs::File>>,
    first_submit: u32,
    submits: u32,
) {
    use testkit::synth::msg;
    let mut say = |from_pool: bool, line: String| {
        let line = format!("{line}\n");
        let sent = if from_pool {
            t.server_sends(&mut *w, line.as_bytes())
        } else {
            t.client_sends(&mut *w, line.as_bytes())
        };
        sent.expect("stratum line");
    };
    if first_submit == 0 {
        say(false, msg::sv1_subscribe(1, "cpuminer/2.5.1", false));
        say(true, msg::sv1_subscribe_result(1, "08000002"));
        say(false, msg::sv1_authorize(2, LOGIN, false));
        say(true, msg::sv1_result_true(2));
        say(true, msg::sv1_notify(&mut msg::Rng::new(7), "4d2", 840_000, true, false).0);
    }
    for i in first_submit..first_submit + submits {
        // cpuminer sends every submit with id 4.
        say(false, msg::sv1_submit(LOGIN, "4d2", "5f5e1000", &format!("{i:08x}"), false));
        say(true, msg::sv1_result_true(4));
    }
}

/// The shunt test's capture: a bulk transfer (`BULK_CHUNKS` segments from the server, each
/// ACKed) with a miner beside it, closed by FIN; then a second bulk transfer whose end is not
/// seen, and, on its very addresses and ports, a new connection: a miner. Timestamps are
/// real: tcpreplay sends it in about two seconds, leaving the sensor time to rebuild its filter.
fn elephant_capture(path: &Path) -> u64 {
    const BULK_CHUNKS: u32 = 12_000;
    let file = std::fs::File::create(path).expect("create capture");
    let mut w = PcapWriter::new(std::io::BufWriter::new(file), minewatch::decode::LinkType::Ethernet)
        .expect("pcap header");
    let data = vec![b'b'; 1200];
    let link = testkit::synth::Link::Ethernet;
    let t0 = Ts(1_700_000_000_000_000);
    let addr = |s: &str| s.parse().expect("addr");
    let mut bulk = TcpConversation::new(addr(BULK1_CLIENT), addr(BULK_SERVER), t0, link).with_rtt_us(10);
    let mut miner = TcpConversation::new(addr(MINER1_CLIENT), addr(MINER_POOL), t0, link).with_rtt_us(10);
    bulk.handshake(&mut w).expect("handshake");
    bulk.client_sends(&mut w, b"@RSYNCD: 31.0\n").expect("opening");
    for i in 0..BULK_CHUNKS {
        bulk.server_sends(&mut w, &data).expect("bulk data");
        // The miner speaks every so often, in time order with the transfer.
        if i % 2000 == 1000 && i < 10_000 {
            miner.wait_until(bulk.now());
            if i == 1000 {
                miner.handshake(&mut w).expect("miner handshake");
            }
            stratum_exchange(&mut miner, &mut w, if i == 1000 { 0 } else { (i - 1000) / 2000 }, 1);
            bulk.wait_until(miner.now());
        }
    }
    bulk.close_fin(&mut w, minewatch::stratum::Side::A).expect("fin");
    miner.wait_until(bulk.now());
    miner.close_fin(&mut w, minewatch::stratum::Side::A).expect("miner fin");

    let t1 = Ts(miner.now().as_micros() + 300_000);
    let mut bulk2 = TcpConversation::new(addr(BULK2_CLIENT), addr(BULK_SERVER), t1, link).with_rtt_us(10);
    bulk2.handshake(&mut w).expect("handshake");
    bulk2.client_sends(&mut w, b"SSH-2.0-OpenSSH_9.6\r\n").expect("opening");
    for _ in 0..BULK_CHUNKS {
        bulk2.server_sends(&mut w, &data).expect("bulk data");
    }
    // Its end is lost; a while later a miner connects from the same port to the same server.
    let t2 = Ts(bulk2.now().as_micros() + 300_000);
    let mut miner2 = TcpConversation::new(addr(BULK2_CLIENT), addr(BULK_SERVER), t2, link).with_rtt_us(10);
    miner2.handshake(&mut w).expect("miner handshake");
    miner2.pause_ms(300);
    stratum_exchange(&mut miner2, &mut w, 0, SHARES);
    miner2.close_fin(&mut w, minewatch::stratum::Side::A).expect("fin");
    let n = w.packets();
    w.into_inner().and_then(|mut f| f.flush()).expect("flush capture");
    n
}

const BULK1_CLIENT: &str = "10.213.1.10:45000";
const BULK2_CLIENT: &str = "10.213.1.12:45002";
const BULK_SERVER: &str = "198.51.100.44:873";
const MINER1_CLIENT: &str = "10.213.1.11:45001";
const MINER_POOL: &str = "198.51.100.45:3333";

/// Replays [`elephant_capture`] into `minewatch -f tcp --workers 2` plus `extra`; returns the
/// frames sent and the records.
fn replay_elephants(test: &str, extra: &[&str]) -> Option<(u64, Vec<Value>)> {
    let mut lab = lab_or_skip(test, &["ip", "tcpreplay"])?;
    let pcap = lab.dir.path().join("elephants.pcap");
    let frames = elephant_capture(&pcap);
    let mut args = vec!["-f", "tcp", "--workers", "2", "--stats-interval", "0"];
    args.extend_from_slice(extra);
    let (mw, mut out, mut err) = start_minewatch(&mut lab, &args);
    // At the capture's own pace: the sensor has time to rebuild its filter.
    let (sent, report) = tcpreplay(&lab, &[], &pcap);
    assert_eq!(sent, frames, "{report}");
    std::thread::sleep(Duration::from_secs(2));
    sigterm(&lab.children[mw]);
    let code = wait_exit(&mut lab.children[mw]);
    let stderr = err.rest().join("\n");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("no longer shunted"), "{stderr}");
    Some((sent, records(&out.rest())))
}

/// Both miners, whole: every share seen, the login read from the first lines.
fn assert_both_miners(recs: &[Value]) {
    let sessions: Vec<&Value> = recs.iter().filter(|r| r["event_type"] == "mining_session").collect();
    for client in [MINER1_CLIENT, BULK2_CLIENT] {
        let port: u64 = client.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let s = sessions
            .iter()
            .find(|s| s["src_port"] == port)
            .unwrap_or_else(|| panic!("no session from {client}: {sessions:#?}"));
        assert_eq!(s["stratum"]["login"], LOGIN, "{s}");
        assert_eq!(s["stratum"]["shares_submitted"], SHARES, "{s}");
        assert_eq!(s["stratum"]["shares_accepted"], SHARES, "{s}");
    }
}

#[test]
fn elephant_flows_are_left_in_the_kernel_and_miners_beside_them_or_after_them_are_seen_whole() {
    let Some((sent, recs)) = replay_elephants("shunt", &[]) else { return };
    let last = recs.last().expect("records");
    assert_eq!(last["event_type"], "stats", "{last}");
    let st = &last["stats"];
    let received = last["capture"][0]["received"].as_u64().unwrap_or(u64::MAX);
    println!("sent {sent}, received {received}, stats {st}");
    // Both transfers were shunted, and most of their frames never reached a worker. (An entry
    // lasts 30 s: on a loaded machine tcpreplay's pacing can stretch this 2 s replay past that,
    // and a transfer still going is shunted again after another 256 frames; seen with the
    // machine's two cores busy elsewhere. So at least 2, not exactly 2.)
    assert!(st["flows_shunted"].as_u64().is_some_and(|n| n >= 2), "{st}");
    assert!(received < sent / 3, "sent {sent}, the kernel passed {received}");
    assert_eq!(last["capture"][0]["dropped"], 0, "{last}");
    assert_eq!(st["packets"].as_u64(), Some(received), "{last}");
    // The second miner reused the second transfer's ports, whose end was never seen.
    assert_eq!(st["tcp_port_reuse"], 1, "{st}");
    assert_eq!(st["shunt_failed"], 0, "{st}");
    assert_both_miners(&recs);
}

/// The control: without shunting the kernel passes every frame, and the same is reported.
#[test]
fn without_shunting_every_frame_is_read_and_the_same_miners_are_seen() {
    let Some((sent, recs)) = replay_elephants("no shunt", &["--shunt", "0"]) else { return };
    let last = recs.last().expect("records");
    let st = &last["stats"];
    assert_eq!(last["capture"][0]["received"].as_u64(), Some(sent), "{last}");
    assert_eq!(st["flows_shunted"], 0, "{st}");
    assert_both_miners(&recs);
}

/// The DNS answer that names a TLS pool (whose ClientHello carries no SNI) is held back on
/// purpose and sent half a second after the whole TLS connection, as when the answer's worker is
/// behind the connection's. The connection waits for a name (a bounded time) and is reported
/// with clue `dns`, with one worker and with two, just as a replay of the capture (answer first)
/// reports it.
#[test]
fn a_dns_answer_read_after_the_tls_connection_it_names_still_names_the_pool() {
    let source = util::pcaps_dir().join("tls-dns-no-sni.pcap");
    let data = std::fs::read(&source).expect("read tls-dns-no-sni.pcap");
    let recs = util::capture_records(&data).expect("records");
    // The classic pcap header, then the TCP frames and the DNS frames apart.
    let header = data.get(..24).expect("pcap header");
    let mut tcp = header.to_vec();
    let mut dns = header.to_vec();
    for r in &recs {
        let bytes = data.get(r.start..r.end).expect("record");
        if r.tcp.is_some() {
            tcp.extend_from_slice(bytes)
        } else {
            dns.extend_from_slice(bytes)
        }
    }
    assert!(dns.len() > 24 && tcp.len() > dns.len(), "both parts present");

    for workers in ["1", "2"] {
        let test = format!("dns answer held back, {workers} worker(s)");
        let Some(mut lab) = lab_or_skip(&test, &["ip", "tcpreplay"]) else { return };
        let (tcp_path, dns_path) = (lab.dir.path().join("tls.pcap"), lab.dir.path().join("dns.pcap"));
        std::fs::write(&tcp_path, &tcp).expect("write tls part");
        std::fs::write(&dns_path, &dns).expect("write dns part");
        let replayed = util::run(&["-q", "--workers", workers, "-r", source.to_str().unwrap_or("")], None);
        let replay_keys = session_keys(&replayed.stdout.lines().map(str::to_string).collect::<Vec<_>>());
        assert_eq!(replay_keys.len(), 1, "{}", replayed.stdout);

        let (mw, mut out, mut err) =
            start_minewatch(&mut lab, &["--workers", workers, "--stats-interval", "0"]);
        tcpreplay(&lab, &["--pps", "1000"], &tcp_path);
        std::thread::sleep(Duration::from_millis(500));
        tcpreplay(&lab, &["--pps", "1000"], &dns_path);
        // A wait is looked up again as soon as the map learns the answer; the alert follows.
        let alert = out.wait_for("\"event_type\":\"mining\"").unwrap_or_else(|e| panic!("{test}: {e}"));
        sigterm(&lab.children[mw]);
        let code = wait_exit(&mut lab.children[mw]);
        let stderr = err.rest().join("\n");
        assert_eq!(code, Some(0), "{stderr}");
        let lines = out.rest();
        let alert: Value = serde_json::from_str(&alert).expect("alert is JSON");
        assert_eq!(alert["src_ip"], "10.60.0.6", "{alert}");
        assert_eq!(alert["dest_ip"], "203.0.113.31", "{alert}");
        assert_eq!(alert["stratum"]["clue"], "dns", "{alert}");
        assert_eq!(alert["stratum"]["pool_host"], "gulf.moneroocean.stream", "{alert}");
        let stats = records(&lines).into_iter().rfind(|r| r["event_type"] == "stats").expect("stats");
        assert_eq!(stats["stats"]["tls_name_late"], 1, "{stats}");
        let keys = session_keys(&lines);
        assert_eq!(keys.len(), 1, "{lines:#?}");
        assert_eq!(keys, replay_keys, "live, answer held back, vs replay, answer first");
    }
}

/// A TLS "pool" for the reload test: accepts `conns` connections, reads the ClientHello and
/// hangs up (the sensor decides on the ClientHello alone).
const TLS_POOL_PY: &str = r#"
import socket, sys
host, port, conns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, port)); srv.listen(1); srv.settimeout(120)
print("ready", flush=True)
for _ in range(conns):
    conn, _ = srv.accept(); conn.settimeout(60)
    conn.recv(65536)
    conn.close()
"#;

/// A TLS client offering `sni` (no ALPN): its handshake fails when the server hangs up, after
/// the ClientHello went out.
const TLS_MINER_PY: &str = r#"
import socket, ssl, sys
host, port, sni = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = socket.create_connection((host, port), timeout=60)
try:
    ctx.wrap_socket(s, server_hostname=sni).close()
except (ssl.SSLError, OSError):
    pass
print("done", flush=True)
"#;

/// Runs a client script in the miner's namespace to its end and checks that it got there.
fn run_client(lab: &Lab, script: &Path, args: &[&str]) {
    let mut all = vec!["python3", script.to_str().unwrap_or("")];
    all.extend_from_slice(args);
    let out = lab.exec(&lab.ns_miner, &all).output().expect("run a client");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("done"),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Issue 16: SIGHUP reloads the watchlist and the pool lists under a running live sensor, all
/// or nothing. Before the reload a Stratum session's wallet is not watchlisted (severity 2)
/// and a TLS session to a domain on no list is not reported; after it, the wallet is
/// watchlisted (severity 1, the label) and the TLS session is a `tls` alert. Then a broken
/// watchlist is refused in one stderr line, counted in `reload_failed`, and the next alerts
/// still use the good lists.
#[test]
fn sighup_reloads_the_watchlist_and_the_pool_lists_and_a_bad_file_keeps_the_old_ones() {
    let Some(mut lab) = lab_or_skip("reload", &["ip", "python3"]) else { return };
    const SNI: &str = "gw.reload-test-pool.example";
    const TLS_PORT: &str = "8443";
    const LABEL: &str = "IR-16 reload test";
    let wallet = LOGIN.split('.').next().unwrap_or(LOGIN);
    // The sensor drops root before it reads the lists again: they must be readable by nobody.
    std::fs::set_permissions(lab.dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod lists directory");
    let watch = lab.script("watchlist.txt", "bc1qsomeoneelse00000000000000000000000000 someone else\n");
    let pools = lab.script("pools.txt", "# ours\nother-pool.example\n");
    let (w_arg, p_arg) = (watch.to_str().unwrap_or(""), pools.to_str().unwrap_or(""));
    // One worker: the frames of consecutive sessions are processed in the order they came.
    let (mw, mut out, mut err) = start_minewatch(
        &mut lab,
        &["-f", "tcp", "--workers", "1", "--stats-interval", "0", "--watchlist", w_arg, "--pool-list", p_arg],
    );
    let hup = |lab: &Lab| run("kill", &["-HUP", &lab.children[mw].id().to_string()]).expect("kill -HUP");

    let pool_py = lab.script("pool.py", POOL_PY);
    let miner_py = lab.script("miner.py", MINER_PY);
    let tls_pool_py = lab.script("tls_pool.py", TLS_POOL_PY);
    let tls_miner_py = lab.script("tls_miner.py", TLS_MINER_PY);
    for (script, port) in [(&pool_py, POOL_PORT.to_string()), (&tls_pool_py, TLS_PORT.to_string())] {
        let mut cmd =
            lab.exec(&lab.ns_pool, &["python3", script.to_str().unwrap_or(""), POOL_IP, &port, "3"]);
        cmd.stdout(Stdio::piped());
        let i = lab.spawn(cmd);
        let mut ready = Lines::new(lab.children[i].stdout.take().expect("pool stdout"));
        ready.wait_for("ready").expect("a pool did not start");
    }
    let stratum = |lab: &Lab| run_client(lab, &miner_py, &[POOL_IP, &POOL_PORT.to_string(), LOGIN, "1"]);
    let tls = |lab: &Lab| run_client(lab, &tls_miner_py, &[POOL_IP, TLS_PORT, SNI]);
    let next_alert = |out: &mut Lines| -> Value {
        let line = out.wait_for("\"event_type\":\"mining\"").expect("no mining alert");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    };

    // Before: the TLS session goes unreported (checked at the end: with one worker, its frames
    // come before the Stratum session's), the wallet is not watchlisted.
    tls(&lab);
    stratum(&lab);
    let a = next_alert(&mut out);
    assert_eq!(
        (a["stratum"]["variant"].as_str(), a["severity"].as_u64()),
        (Some("stratum-v1"), Some(2)),
        "{a}"
    );
    assert!(a.get("watchlist_label").is_none(), "{a}");

    // Both lists edited, one SIGHUP.
    std::fs::write(
        &watch,
        format!("bc1qsomeoneelse00000000000000000000000000 someone else\n{wallet} {LABEL}\n"),
    )
    .expect("edit the watchlist");
    std::fs::write(
        &pools,
        format!("# ours\nother-pool.example\n{}\n", SNI.split_once('.').map_or(SNI, |s| s.1)),
    )
    .expect("edit the pool list");
    hup(&lab);
    let line = err.wait_for("minewatch: reloaded").unwrap_or_else(|e| panic!("no reload line: {e}"));
    assert!(line.ends_with(" pool domains, 2 watchlist entries"), "{line}");
    tls(&lab);
    let a = next_alert(&mut out);
    assert_eq!(a["stratum"]["variant"], "tls", "{a}");
    assert_eq!(a["stratum"]["pool_host"], SNI, "{a}");
    assert_eq!(a["stratum"]["clue"], "sni", "{a}");
    stratum(&lab);
    let a = next_alert(&mut out);
    assert_eq!(
        (a["stratum"]["variant"].as_str(), a["severity"].as_u64()),
        (Some("stratum-v1"), Some(1)),
        "{a}"
    );
    assert_eq!(a["watchlist_label"], LABEL, "{a}");

    // A broken watchlist: one line naming the file and the line, and the good lists stay.
    std::fs::write(&watch, format!("{wallet} {LABEL}\n{wallet}.rig7 a worker is not an address\n"))
        .expect("break the watchlist");
    std::fs::write(&pools, "# a good edit, not taken alone\n").expect("edit the pool list");
    hup(&lab);
    let line = err.wait_for("minewatch: reload failed").unwrap_or_else(|e| panic!("no failure line: {e}"));
    assert!(line.contains(w_arg) && line.contains("line 2"), "{line}");
    stratum(&lab);
    let a = next_alert(&mut out);
    assert_eq!((a["severity"].as_u64(), a["watchlist_label"].as_str()), (Some(1), Some(LABEL)), "{a}");
    tls(&lab);
    let a = next_alert(&mut out);
    assert_eq!(
        (a["stratum"]["variant"].as_str(), a["stratum"]["pool_host"].as_str()),
        (Some("tls"), Some(SNI))
    );

    sigterm(&lab.children[mw]);
    let code = wait_exit(&mut lab.children[mw]);
    let stderr = err.rest();
    assert_eq!(code, Some(0), "minewatch exit status\n{}", stderr.join("\n"));
    let reload_lines: Vec<&String> = stderr.iter().filter(|l| l.contains("reload")).collect();
    assert_eq!(reload_lines.len(), 2, "one line per SIGHUP: {reload_lines:#?}");
    let recs = records(&out.rest());
    let alerts: Vec<&Value> = recs.iter().filter(|r| r["event_type"] == "mining").collect();
    let kinds: Vec<(&str, u64)> = alerts
        .iter()
        .map(|a| (a["stratum"]["variant"].as_str().unwrap_or(""), a["severity"].as_u64().unwrap_or(0)))
        .collect();
    // The first TLS session was never reported; nothing was lost or written twice.
    assert_eq!(kinds, [("stratum-v1", 2), ("tls", 2), ("stratum-v1", 1), ("stratum-v1", 1), ("tls", 2)]);
    let last = recs.last().expect("records");
    assert_eq!(last["event_type"], "stats", "{last}");
    assert_eq!(last["stats"]["reload_failed"], 1, "{last}");
}

// ---------------------------------------------------------------------------------------------
// Least privilege: what the sensor holds once it captures, on each way of starting it
// ---------------------------------------------------------------------------------------------

/// The `status` file of every thread of `pid`: capabilities and user ids belong to each thread,
/// so each one is checked, not only the main thread.
fn thread_statuses(pid: u32) -> Vec<String> {
    let dir = format!("/proc/{pid}/task");
    let mut out: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .collect();
    out.sort();
    out
}

/// The value of `field` (e.g. `CapEff`) in a `/proc/.../status` text.
fn status_field<'a>(status: &'a str, field: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {field} in\n{status}"))
}

/// What the sensor must hold once it captures, in every thread: no capability in the
/// inheritable, permitted, effective or ambient set, the bounding set `bounding`,
/// `no_new_privs`, and the user and group ids all `uid` and `gid`, with no supplementary group.
fn assert_least_privilege(pid: u32, uid: &str, gid: &str, bounding: &str) {
    // The banner comes before the pipeline's threads start: wait for the two workers and the
    // collector beside the main thread.
    let deadline = Instant::now() + STEP_LIMIT;
    let mut statuses = thread_statuses(pid);
    while statuses.len() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        statuses = thread_statuses(pid);
    }
    assert!(statuses.len() >= 4, "the workers' threads are missing: {statuses:#?}");
    for st in &statuses {
        for set in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
            assert_eq!(status_field(st, set), "0000000000000000", "{set} of a thread:\n{st}");
        }
        assert_eq!(status_field(st, "CapBnd"), bounding, "CapBnd of a thread:\n{st}");
        assert_eq!(status_field(st, "NoNewPrivs"), "1", "{st}");
        // The system-call filter (two programs: the deny list, clone3).
        assert_eq!(status_field(st, "Seccomp"), "2", "{st}");
        assert_eq!(status_field(st, "Seccomp_filters"), "2", "{st}");
        assert!(status_field(st, "Uid").split_whitespace().all(|u| u == uid), "{st}");
        assert!(status_field(st, "Gid").split_whitespace().all(|g| g == gid), "{st}");
        assert_eq!(status_field(st, "Groups"), "", "{st}");
    }
}

/// A pool in its namespace and one miner session to it, through the watched veth.
fn mine_once(lab: &mut Lab) {
    let pool_py = lab.script("pool.py", POOL_PY);
    let miner_py = lab.script("miner.py", MINER_PY);
    let mut pool_cmd =
        lab.exec(&lab.ns_pool, &["python3", pool_py.to_str().unwrap_or(""), POOL_IP, &POOL_PORT.to_string()]);
    pool_cmd.stdout(Stdio::piped());
    let pool = lab.spawn(pool_cmd);
    let mut pool_out = Lines::new(lab.children[pool].stdout.take().expect("pool stdout"));
    pool_out.wait_for("ready").expect("pool did not start");
    let port = POOL_PORT.to_string();
    let shares = SHARES.to_string();
    let miner = lab
        .exec(&lab.ns_miner, &["python3", miner_py.to_str().unwrap_or(""), POOL_IP, &port, LOGIN, &shares])
        .output()
        .expect("run the miner");
    assert!(miner.status.success(), "the miner failed: {}", String::from_utf8_lossy(&miner.stderr));
}

/// A copy of the binary that user nobody can run: the build directory may be out of its
/// reach (a checkout under /root), and file capabilities go on a file of one's own.
fn runnable_copy(lab: &Lab) -> String {
    use std::os::unix::fs::PermissionsExt;
    let dir = lab.dir.path();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod the lab dir");
    let copy = dir.join("minewatch");
    std::fs::copy(util::bin(), &copy).expect("copy the binary");
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod the copy");
    copy.to_str().expect("a UTF-8 path").to_string()
}

/// The bounding set of this test process (root's, as the parent of every start here).
fn own_bounding_set() -> String {
    let st = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status_field(&st, "CapBnd").to_string()
}

/// The sensor still works with nothing left: a miner is reported, and the filters the workers
/// rebuild for shunted flows would have failed loudly (`no longer shunted`) had they needed a
/// capability.
fn assert_alerts_and_stops(lab: &mut Lab, mw: usize, out: &mut Lines, err: &mut Lines) {
    mine_once(lab);
    out.wait_for("\"event_type\":\"mining\"").expect("no mining alert after the privilege drop");
    sigterm(&lab.children[mw]);
    let code = wait_exit(&mut lab.children[mw]);
    let stderr = err.rest().join("\n");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("no longer shunted"), "{stderr}");
}

#[test]
fn started_as_root_it_becomes_nobody_with_no_capability_and_an_empty_bounding_set() {
    let Some(mut lab) = lab_or_skip("privilege drop from root", &["ip", "python3"]) else { return };
    // Two workers and the metrics endpoint: every thread there is must hold nothing.
    let (mw, mut out, mut err, _) = start_minewatch_as(
        &mut lab,
        &[],
        util::bin(),
        &["-f", "tcp", "--workers", "2", "--stats-interval", "0", "--metrics", "127.0.0.1:0"],
    );
    let pid = lab.children[mw].id();
    assert_least_privilege(pid, "65534", &nobody_gid(), "0000000000000000");
    assert_alerts_and_stops(&mut lab, mw, &mut out, &mut err);
}

/// The group a root start picks for nobody: `nogroup`'s id where it exists, else `nobody`'s.
fn nobody_gid() -> String {
    let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let gid = |name: &str| {
        groups.lines().find_map(|l| {
            let mut f = l.split(':');
            (f.next() == Some(name)).then(|| f.nth(1).unwrap_or("").to_string())
        })
    };
    gid("nogroup").or_else(|| gid("nobody")).unwrap_or_else(|| "65534".into())
}

#[test]
fn started_with_ambient_capabilities_it_drops_them_all_and_sets_no_new_privs() {
    let test = "privilege drop from ambient capabilities";
    let Some(mut lab) = lab_or_skip(test, &["ip", "python3", "setpriv"]) else { return };
    let bin = runnable_copy(&lab);
    // As systemd starts it: an unprivileged user with the two capabilities in its ambient set.
    let setpriv = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=+net_raw,+net_admin",
        "--ambient-caps=+net_raw,+net_admin",
    ];
    let (mw, mut out, mut err, _) = start_minewatch_as(
        &mut lab,
        &setpriv,
        &bin,
        &["-f", "tcp", "--workers", "2", "--stats-interval", "0"],
    );
    let pid = lab.children[mw].id();
    // Without CAP_SETPCAP the bounding set cannot shrink: it stays what the parent had, and
    // the sensor says so; no_new_privs is what keeps an exec from gaining from it.
    assert_least_privilege(pid, "65534", "65534", &own_bounding_set());
    assert!(
        err.seen.iter().any(|l| l.contains("cannot empty the capability bounding set")),
        "{:#?}",
        err.seen
    );
    assert_alerts_and_stops(&mut lab, mw, &mut out, &mut err);
}

#[test]
fn started_with_file_capabilities_it_drops_them_all_and_sets_no_new_privs() {
    let test = "privilege drop from file capabilities";
    let Some(mut lab) = lab_or_skip(test, &["ip", "python3", "setpriv"]) else { return };
    let bin = runnable_copy(&lab);
    match Command::new("setcap").args(["cap_net_raw,cap_net_admin=eip", &bin]).output() {
        Err(e) => return skipped(test, &format!("setcap (libcap2-bin) is not installed: {e}")),
        Ok(o) if !o.status.success() => {
            // A file system without extended attributes cannot hold file capabilities.
            return skipped(test, &format!("setcap failed: {}", String::from_utf8_lossy(&o.stderr).trim()));
        }
        Ok(_) => {}
    }
    // An ordinary user running the binary: the capabilities come from the file alone.
    let setpriv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"];
    let (mw, mut out, mut err, _) = start_minewatch_as(
        &mut lab,
        &setpriv,
        &bin,
        &["-f", "tcp", "--workers", "2", "--stats-interval", "0"],
    );
    let pid = lab.children[mw].id();
    assert_least_privilege(pid, "65534", "65534", &own_bounding_set());
    assert_alerts_and_stops(&mut lab, mw, &mut out, &mut err);
}

#[test]
fn no_seccomp_leaves_the_system_call_filter_out_and_still_drops_every_capability() {
    let Some(mut lab) = lab_or_skip("--no-seccomp", &["ip"]) else { return };
    let (mw, _out, mut err, _) = start_minewatch_as(
        &mut lab,
        &[],
        util::bin(),
        &["-f", "tcp", "--stats-interval", "0", "--no-seccomp"],
    );
    let pid = lab.children[mw].id();
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    assert_eq!(status_field(&st, "Seccomp"), "0", "{st}");
    assert_eq!(status_field(&st, "CapEff"), "0000000000000000", "{st}");
    assert_eq!(status_field(&st, "CapBnd"), "0000000000000000", "{st}");
    assert_eq!(status_field(&st, "NoNewPrivs"), "1", "{st}");
    sigterm(&lab.children[mw]);
    let code = wait_exit(&mut lab.children[mw]);
    assert_eq!(code, Some(0), "{}", err.rest().join("\n"));
}

/// The Stratum V2 reference crates' pool and miner: testkit's `sv2pair` example, beside the
/// binary under test, built by `cargo build -p testkit --example sv2pair` (scripts/test.sh
/// does so first: `cargo test --all-targets` builds examples only under a hashed name).
fn sv2pair_bin() -> Option<PathBuf> {
    let p = Path::new(util::bin()).parent()?.join("examples/sv2pair");
    p.is_file().then_some(p)
}

#[test]
fn live_stratum_v2_of_the_reference_crates_encrypted_and_plain_with_two_workers() {
    const TEST: &str = "live stratum v2";
    let Some(sv2pair) = sv2pair_bin() else {
        skipped(TEST, "testkit's sv2pair example is not built (cargo build -p testkit --example sv2pair)");
        return;
    };
    let Some(mut lab) = lab_or_skip(TEST, &["ip"]) else { return };
    let bin = sv2pair.to_str().unwrap_or_default().to_string();
    let (mw, mut out, mut err) =
        start_minewatch(&mut lab, &["-f", "tcp", "--workers", "2", "--stats-interval", "0"]);
    let shares = 4u32;
    // The encrypted pool on SV2's port, the plain one beside it.
    let runs = [(34254u16, false), (34255u16, true)];
    for (port, plain) in runs {
        let addr = format!("{POOL_IP}:{port}");
        let mut args = vec![bin.as_str(), "pool", addr.as_str()];
        if plain {
            args.push("--plain");
        }
        let mut cmd = lab.exec(&lab.ns_pool, &args);
        cmd.stdout(Stdio::piped());
        let pool = lab.spawn(cmd);
        let mut pool_out = Lines::new(lab.children[pool].stdout.take().expect("pool stdout"));
        pool_out.wait_for("listening").expect("the SV2 pool did not start");
    }
    for (port, plain) in runs {
        let addr = format!("{POOL_IP}:{port}");
        let n = shares.to_string();
        let mut args = vec![
            bin.as_str(),
            "miner",
            addr.as_str(),
            "--shares",
            &n,
            "--interval-ms",
            "100",
            "--user",
            LOGIN,
        ];
        if plain {
            args.push("--plain");
        }
        let miner = lab.exec(&lab.ns_miner, &args).output().expect("run the SV2 miner");
        assert!(
            miner.status.success()
                && String::from_utf8_lossy(&miner.stdout).contains(&format!("accepted {shares}")),
            "the SV2 miner failed: {}{}",
            String::from_utf8_lossy(&miner.stdout),
            String::from_utf8_lossy(&miner.stderr)
        );
    }
    out.wait_for("\"login\":\"bc1qlivetestwallet").expect("no alert for the plain session");
    sigterm(&lab.children[mw]);
    let code = wait_exit(&mut lab.children[mw]);
    let stderr = err.rest().join("\n");
    assert_eq!(code, Some(0), "minewatch exit status\n{stderr}");
    let lines = out.rest();
    let recs = records(&lines);
    let of = |t: &str, port: u16| -> Vec<&Value> {
        recs.iter().filter(|r| r["event_type"] == t && r["dest_port"] == port).collect()
    };
    for (port, plain) in runs {
        let (a, s) = (of("mining", port), of("mining_session", port));
        assert_eq!((a.len(), s.len()), (1, 1), "port {port}: {lines:#?}");
        let (a, s) = (a[0], s[0]);
        assert_eq!((a["src_ip"].as_str(), a["dest_ip"].as_str()), (Some(MINER_IP), Some(POOL_IP)), "{a}");
        assert_eq!(a["stratum"]["variant"], "stratum-v2", "{a}");
        if plain {
            assert_eq!(a["stratum"]["login"], LOGIN, "{a}");
            assert_eq!(a["stratum"]["agent"], "SRI/sv2pair-cpu/codec_sv2-7.0.0", "{a}");
            assert_eq!(s["confidence"], "confirmed", "{s}");
            assert_eq!(s["stratum"]["shares_submitted"], shares, "{s}");
            assert_eq!(s["stratum"]["shares_accepted"], shares, "{s}");
        } else {
            assert_eq!(a["confidence"], "suspected", "{a}");
            assert!(a["stratum"]["login"].is_null(), "{a}");
            let e = &s["stratum"]["encrypted"];
            assert_eq!(e["handshake"], serde_json::json!([64, 234]), "{s}");
            // SetupConnection, OpenStandardMiningChannel and the shares, at least.
            assert!(e["toserver"]["count"].as_u64() >= Some(2 + u64::from(shares)), "{s}");
        }
    }
}

/// Live capture writes the report and the exports at SIGHUP, while it runs, and again at exit;
/// the files were opened before the privilege drop, so the unprivileged sensor can write them
/// in a directory only root may write to.
#[test]
fn a_live_capture_writes_the_report_and_the_exports_at_sighup_and_at_exit() {
    let Some(mut lab) = lab_or_skip("live report", &["ip", "python3"]) else { return };
    let path = |name: &str| lab.dir.path().join(name).display().to_string();
    let (html, json, stix, misp) =
        (path("live.html"), path("live.json"), path("live.stix.json"), path("live.misp.json"));
    let (mw, mut out, mut err) = start_minewatch(
        &mut lab,
        &[
            "-f",
            "tcp",
            "--report",
            &html,
            "--report-json",
            &json,
            "--export-stix",
            &stix,
            "--export-misp",
            &misp,
            // Not due during the test: the rewrite checked below is the SIGHUP's.
            "--report-interval",
            "1h",
        ],
    );
    mine_once(&mut lab);
    out.wait_for("\"event_type\":\"mining_session\"").expect("no mining_session record");
    run("kill", &["-HUP", &lab.children[mw].id().to_string()]).expect("kill -HUP");
    let read = |p: &str| -> Option<Value> { serde_json::from_slice(&std::fs::read(p).ok()?).ok() };
    let deadline = Instant::now() + STEP_LIMIT;
    let during = loop {
        match read(&json) {
            Some(v) if v["hosts"].as_array().is_some_and(|h| !h.is_empty()) => break v,
            _ if Instant::now() > deadline => panic!("no report after SIGHUP: {}", err.rest().join("\n")),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    assert_eq!(during["hosts"][0]["ip"], MINER_IP, "{during}");
    sigterm(&lab.children[mw]);
    let code = wait_exit(&mut lab.children[mw]);
    let stderr = err.rest().join("\n");
    assert_eq!(code, Some(0), "{stderr}");
    let end = read(&json).expect("the JSON report at exit");
    assert_eq!(end["hosts"].as_array().map(Vec::len), Some(1), "{end}");
    let host = &end["hosts"][0];
    assert_eq!(host["ip"], MINER_IP);
    assert_eq!(host["timeline"][0]["open"], false, "{end}");
    assert_eq!(end["pools"][0]["address"], POOL_IP);
    assert!(end["summary"]["packets"].as_u64().unwrap_or(0) >= 10, "{end}");
    let page = std::fs::read_to_string(&html).expect("the page");
    assert!(page.contains(&format!("id=\"host-{MINER_IP}\"")), "{page}");
    let bundle = std::fs::read_to_string(&stix).expect("the bundle");
    assert!(bundle.contains(&format!("[ipv4-addr:value = '{POOL_IP}']")), "{bundle}");
    let event = read(&misp).expect("the MISP event");
    let attrs = event["Event"]["Attribute"].as_array().cloned().unwrap_or_default();
    assert!(attrs.iter().any(|a| a["type"] == "ip-dst" && a["value"] == POOL_IP), "{event}");
}

/// With `--report-interval`, a live capture rewrites the report on its own, with no SIGHUP.
#[test]
fn a_live_capture_rewrites_the_report_every_report_interval() {
    let Some(mut lab) = lab_or_skip("live report interval", &["ip", "python3"]) else { return };
    let json = lab.dir.path().join("every.json").display().to_string();
    let (mw, mut out, mut err) =
        start_minewatch(&mut lab, &["-f", "tcp", "--report-json", &json, "--report-interval", "1s"]);
    mine_once(&mut lab);
    out.wait_for("\"event_type\":\"mining\"").expect("no mining alert");
    let deadline = Instant::now() + STEP_LIMIT;
    loop {
        let v: Option<Value> = std::fs::read(&json).ok().and_then(|b| serde_json::from_slice(&b).ok());
        if v.as_ref().is_some_and(|v| v["hosts"][0]["ip"] == MINER_IP) {
            break;
        }
        assert!(Instant::now() < deadline, "the report was not rewritten: {}", err.rest().join("\n"));
        std::thread::sleep(Duration::from_millis(100));
    }
    sigterm(&lab.children[mw]);
    assert_eq!(wait_exit(&mut lab.children[mw]), Some(0), "{}", err.rest().join("\n"));
}

/// Whether `cmd` is an executable on `PATH` (for tools that have no `--version` to ask).
fn on_path(cmd: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(cmd).is_file()))
}

/// A miner (XMRig's dialect, `scripts/tunnel-lab.py`) reaches its pool through a real SOCKS5
/// proxy (microsocks, with a username and password, to the pool by name) in the pool's
/// namespace, while minewatch captures the miner's veth with two workers: the alert names the
/// tunnel and its target, with the inner session's login, dialect and roles.
#[test]
fn live_a_miner_through_a_socks5_proxy_is_reported_with_its_tunnel() {
    if !on_path("microsocks") {
        skipped("live tunnel", "microsocks is not installed");
        return;
    }
    let Some(mut lab) = lab_or_skip("live tunnel", &["ip", "python3"]) else { return };
    let (mw, mut out, mut err) = start_minewatch(&mut lab, &["-f", "tcp", "--workers", "2"]);
    let script = util::repo_root().join("scripts/tunnel-lab.py");
    let script = script.to_str().unwrap_or("");
    let mut pool_cmd = lab.exec(&lab.ns_pool, &["python3", script, "pool", "0.0.0.0", "3333"]);
    pool_cmd.stdout(Stdio::piped());
    let pool = lab.spawn(pool_cmd);
    let mut pool_out = Lines::new(lab.children[pool].stdout.take().expect("pool stdout"));
    pool_out.wait_for("ready").expect("pool did not start");
    let proxy =
        lab.exec(&lab.ns_pool, &["microsocks", "-i", POOL_IP, "-p", "1080", "-u", "miner", "-P", "s3cret"]);
    lab.spawn(proxy);
    let args = [
        "python3",
        script,
        "miner",
        "socks5",
        POOL_IP,
        "1080",
        "localhost",
        "3333",
        "--user",
        "miner",
        "--password",
        "s3cret",
    ];
    // microsocks says nothing when it listens: try until it answers.
    let mut last = String::new();
    let deadline = Instant::now() + STEP_LIMIT;
    loop {
        let miner = lab.exec(&lab.ns_miner, &args).output().expect("run the miner");
        if miner.status.success() && String::from_utf8_lossy(&miner.stdout).contains("done") {
            break;
        }
        last = String::from_utf8_lossy(&miner.stderr).into_owned();
        assert!(Instant::now() < deadline, "the miner failed: {last}");
        std::thread::sleep(Duration::from_millis(200));
    }
    out.wait_for("\"event_type\":\"mining\"").expect("no mining alert");
    // The miner has closed its connection, but the sensor may not have read its last packets
    // yet (the kernel hands them over a block at a time): the session's record, written when
    // the connection's end is read, says it has.
    out.wait_for("\"event_type\":\"mining_session\"").expect("no session record");
    sigterm(&lab.children[mw]);
    let code = wait_exit(&mut lab.children[mw]);
    let stderr = err.rest().join("\n");
    assert_eq!(code, Some(0), "minewatch exit status\n{stderr}\n{last}");
    let lines = out.rest();
    let recs = records(&lines);
    let mining: Vec<&Value> = recs.iter().filter(|r| r["event_type"] == "mining").collect();
    assert_eq!(mining.len(), 1, "{lines:#?}");
    let m = mining[0];
    assert_eq!(
        (m["src_ip"].as_str(), m["dest_ip"].as_str(), m["dest_port"].as_u64()),
        (Some(MINER_IP), Some(POOL_IP), Some(1080))
    );
    let s = &m["stratum"];
    assert_eq!(
        (s["tunnel"].as_str(), s["tunnel_target"].as_str()),
        (Some("socks5"), Some("localhost:3333")),
        "{m}"
    );
    assert_eq!(s["variant"].as_str(), Some("cryptonote"), "{m}");
    assert!(s["login"].as_str().is_some_and(|l| l.starts_with("48edfHu7")), "{m}");
    assert_eq!(s["worker"].as_str(), Some("rig-tun01"), "{m}");
    let session: Vec<&Value> = recs.iter().filter(|r| r["event_type"] == "mining_session").collect();
    assert_eq!(session.len(), 1, "{lines:#?}");
    assert_eq!(session[0]["stratum"]["shares_accepted"].as_u64(), Some(3), "{}", session[0]);
    assert_eq!(session[0]["stratum"]["tunnel"].as_str(), Some("socks5"));
}

/// A test-only self-signed certificate and key (P-256) for the TLS pools of these tests.
const TEST_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBkjCCATmgAwIBAgIUK7JNKny4KjSqVWaF12GEvr8QB30wCgYIKoZIzj0EAwIw
HjEcMBoGA1UEAwwTbWluZXdhdGNoLXRlc3QtcG9vbDAgFw0yNjEyMDYxMjMxNDFa
GA8yMTI2MTExMjEyMzE0MVowHjEcMBoGA1UEAwwTbWluZXdhdGNoLXRlc3QtcG9v
bDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABO+X1Ae+NtIyoSQmmyuPr1ENOgW6
taknTIu6qsPOXSno0/O1XmEysTB3+nMn9W4DUVOAmU7e6RyfAt0gma6Olh2jUzBR
MB0GA1UdDgQWBBR5wgNnGxJ6//WOoJy+MDhFnLnXKzAfBgNVHSMEGDAWgBR5wgNn
GxJ6//WOoJy+MDhFnLnXKzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cA
MEQCIDvyG9ajHaUZsI9DlRwbo0aT4LtWpw3+Ff8QoWpH6NSfAiB6f6jcdJXAnXpQ
ygihWg0gCth7PekIaawqpxw6yGImNw==
-----END CERTIFICATE-----
";
const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgnjnkqdz6Sd2D+nAB
FrB4zEsUWOW2AlkrfsG7qdF1XeahRANCAATvl9QHvjbSMqEkJpsrj69RDToFurWp
J0yLuqrDzl0p6NPztV5hMrEwd/pzJ/VuA1FTgJlO3ukcnwLdIJmujpYd
-----END PRIVATE KEY-----
";

/// A CryptoNote (XMRig dialect) pool on a fast block clock: one clock for every connection,
/// in the clear on one port and over TLS on the other, as a pool's new job goes to all its
/// miners at once. Prints "ready" once both ports listen.
const CLOCK_POOL_PY: &str = r#"
import json, random, socket, ssl, sys, threading, time
host, plain, tls, cert, key, block, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], float(sys.argv[6]), int(sys.argv[7])
rng = random.Random(seed)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(cert, key)
conns, lock, n = [], threading.Lock(), [1]
def job(k): return {"blob": "%0152x" % k, "job_id": str(k), "target": "b88d0600", "algo": "rx/0", "height": 3000000 + k, "seed_hash": "00" * 32}
def send(c, o):
    try:
        with lock: c.sendall((json.dumps(o, separators=(",", ":")) + "\n").encode())
    except OSError: pass
def serve(c):
    for line in c.makefile("rb"):
        m = json.loads(line); meth = m.get("method")
        if meth == "login":
            send(c, {"id": m["id"], "jsonrpc": "2.0", "error": None, "result": {"id": "s1", "job": job(n[0]), "status": "OK"}})
            with lock: conns.append(c)
        elif meth in ("submit", "keepalived"):
            send(c, {"id": m["id"], "jsonrpc": "2.0", "error": None, "result": {"status": "OK"}})
def listen(port, wrap):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((host, port)); s.listen(8)
    def loop():
        while True:
            c, _ = s.accept()
            if wrap:
                try: c = ctx.wrap_socket(c, server_side=True)
                except (ssl.SSLError, OSError): continue
            threading.Thread(target=serve, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
listen(plain, False); listen(tls, True)
print("ready", flush=True)
while True:
    time.sleep(rng.expovariate(1.0 / block))
    n[0] += 1
    with lock: targets = list(conns)
    for c in targets: send(c, {"jsonrpc": "2.0", "method": "job", "params": job(n[0])})
"#;

/// A miner of that pool, in the clear or over TLS with no SNI: login, then shares at random
/// (mean SHARE seconds) for DURATION seconds. Prints "done".
const CLOCK_MINER_PY: &str = r#"
import json, random, socket, ssl, sys, threading, time
host, port, use_tls, share, duration, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "tls", float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
rng = random.Random(seed)
c = socket.create_connection((host, port), timeout=60)
if use_tls:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    c = ctx.wrap_socket(c)
lock = threading.Lock()
def send(o):
    with lock: c.sendall((json.dumps(o, separators=(",", ":")) + "\n").encode())
send({"id": 1, "jsonrpc": "2.0", "method": "login", "params": {"login": "4AASi45ub7Qe4ZE36UT5G6cU4ud8Fhhe4deS4F3cw9KTAb8dLcukC7edhDQ7cn5d4gEYkbUrMWeWQLGsCmrG6dLaYyNoVKf", "pass": "x", "agent": "XMRig/6.26.0", "algo": ["rx/0"]}})
r = c.makefile("rb"); r.readline()
threading.Thread(target=lambda: [None for _ in r], daemon=True).start()
end, i = time.time() + duration, 1
while time.time() < end:
    time.sleep(rng.expovariate(1.0 / share)); i += 1
    send({"id": i, "jsonrpc": "2.0", "method": "submit", "params": {"id": "s1", "job_id": "1", "nonce": "%08x" % rng.getrandbits(32), "result": "%064x" % rng.getrandbits(256), "algo": "rx/0"}})
c.close()
print("done", flush=True)
"#;

/// Issue 18, cross-flow evidence live: a pool pushes jobs on one fast block clock to a miner in
/// the clear and to four miners over TLS with no name; a fifth TLS miner mines at another pool
/// with a clock of its own. Two workers share the interface (kernel fanout), so the cleartext
/// session and a TLS session are read by different workers unless all five pool connections
/// hash alike (1 in 16). The watch's own thresholds are scaled to the fast clock, and its
/// minimum duration is set out of reach, so a TLS session is decided only by pushes that line
/// up with the cleartext session's (written by whichever worker reads it): the four are, the
/// fifth is not.
#[test]
fn tls_sessions_whose_pushes_line_up_with_a_cleartext_session_on_another_worker_are_suspected() {
    let Some(mut lab) = lab_or_skip("behaviour across workers", &["ip", "python3"]) else { return };
    let (cert, key) = (lab.script("cert.pem", TEST_CERT), lab.script("key.pem", TEST_KEY));
    let pool_py = lab.script("clock_pool.py", CLOCK_POOL_PY);
    let miner_py = lab.script("clock_miner.py", CLOCK_MINER_PY);
    let (mw, mut out, mut err) = start_minewatch(
        &mut lab,
        &[
            "-f",
            "tcp",
            "--workers",
            "2",
            "--stats-interval",
            "0",
            "--behaviour-min-duration",
            "10m",
            "--behaviour-aligned-duration",
            "8s",
            "--behaviour-warmup",
            "500ms",
            "--behaviour-answer",
            "300ms",
            "--behaviour-align-tolerance",
            "100ms",
            "--behaviour-max-rate",
            "1000000",
        ],
    );
    for (plain, tls, seed) in [("3340", "3443", "1"), ("3341", "3444", "2")] {
        let args = [
            "python3",
            pool_py.to_str().unwrap_or(""),
            POOL_IP,
            plain,
            tls,
            cert.to_str().unwrap_or(""),
            key.to_str().unwrap_or(""),
            "1.5",
            seed,
        ];
        let mut cmd = lab.exec(&lab.ns_pool, &args);
        cmd.stdout(Stdio::piped());
        let p = lab.spawn(cmd);
        let mut lines = Lines::new(lab.children[p].stdout.take().expect("pool stdout"));
        lines.wait_for("ready").expect("pool did not start");
    }
    let miner = |port: &str, how: &str, seed: &str| -> Command {
        let args = ["python3", miner_py.to_str().unwrap_or(""), POOL_IP, port, how, "0.3", "30", seed];
        let mut c = lab.exec(&lab.ns_miner, &args);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    };
    let mut miners: Vec<Command> = vec![miner("3340", "plain", "10")];
    miners.extend((0..4).map(|k| miner("3443", "tls", &(11 + k).to_string())));
    miners.push(miner("3444", "tls", "20"));
    let running: Vec<Child> = miners
        .iter_mut()
        .map(|c| c.spawn().unwrap_or_else(|e| panic!("cannot start a miner: {e}")))
        .collect();
    for c in running {
        let o = c.wait_with_output().expect("miner");
        assert!(
            o.status.success() && String::from_utf8_lossy(&o.stdout).contains("done"),
            "a miner failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    std::thread::sleep(Duration::from_secs(2));
    sigterm(&lab.children[mw]);
    let code = wait_exit(&mut lab.children[mw]);
    let stderr = err.rest().join("\n");
    assert_eq!(code, Some(0), "{stderr}");
    let recs = records(&out.rest());
    let alerts: Vec<&Value> = recs.iter().filter(|r| r["event_type"] == "mining").collect();
    let clear: Vec<&&Value> = alerts.iter().filter(|a| a["stratum"]["variant"] == "cryptonote").collect();
    assert_eq!(clear.len(), 1, "{alerts:#?}");
    let tls: Vec<&&Value> = alerts.iter().filter(|a| a["stratum"]["clue"] == "behaviour").collect();
    let ports: Vec<u64> = tls.iter().filter_map(|a| a["dest_port"].as_u64()).collect();
    assert_eq!(
        ports,
        vec![3443; 4],
        "the four miners of the clear session's pool, not the other: {alerts:#?}"
    );
    for a in &tls {
        let b = &a["stratum"]["behaviour"];
        assert!(b["aligned_pushes"].as_u64().unwrap_or(0) >= 3, "{a}");
        assert_eq!(a["confidence"], "suspected", "{a}");
    }
    let stats = recs.iter().rfind(|r| r["event_type"] == "stats").expect("stats");
    assert_eq!(stats["stats"]["behaviour_watched"], 5, "{stats}");
    assert_eq!(stats["stats"]["behaviour_aligned"], 4, "{stats}");
}

/// `--pcap-dir` in live capture: the session's evidence file holds its packets from the first,
/// so its login is in it, and it replays alone to the alert. Started as root, the sensor runs as
/// nobody, so it writes the files in a directory it was handed before the drop. With the
/// interface shared by two workers, and with one reader handing frames to them.
#[test]
fn live_evidence_files_hold_the_login_and_replay_to_the_same_alert() {
    for (name, extra) in
        [("fanout", &["--workers", "2"][..]), ("one reader", &["--workers", "2", "--no-fanout"][..])]
    {
        let test = format!("live_evidence_files_hold_the_login_and_replay_to_the_same_alert ({name})");
        let Some(mut lab) = lab_or_skip(&test, &["ip", "python3"]) else { return };
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(lab.dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let dir = lab.dir.path().join("evidence");
        let dir_s = dir.to_str().expect("UTF-8").to_string();
        let mut args = vec!["--pcap-dir", dir_s.as_str()];
        args.extend_from_slice(extra);
        let (mw, mut out, mut err) = start_minewatch(&mut lab, &args);
        mine_once(&mut lab);
        out.wait_for("\"event_type\":\"mining\"").expect("no mining alert");
        sigterm(&lab.children[mw]);
        let code = wait_exit(&mut lab.children[mw]);
        assert_eq!(code, Some(0), "{}", err.rest().join("\n"));
        let recs = records(&out.rest());
        let sess = recs
            .iter()
            .find(|r| r["event_type"] == "mining_session")
            .unwrap_or_else(|| panic!("{name}: no mining_session: {recs:?}"));
        let e = &sess["evidence"];
        let file = dir.join(e["file"].as_str().unwrap_or_else(|| panic!("{name}: no evidence: {sess}")));
        let data = std::fs::read(&file).expect("the evidence file");
        use sha2::Digest;
        let sha: String = sha2::Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(e["sha256"].as_str(), Some(sha.as_str()), "{name}");
        assert_eq!(e["bytes"].as_u64(), Some(data.len() as u64), "{name}");
        let packets = util::capture_records(&data).expect("a well-formed pcap");
        assert_eq!(e["packets"].as_u64(), Some(packets.len() as u64), "{name}");
        assert!(
            data.windows(LOGIN.len()).any(|w| w == LOGIN.as_bytes()),
            "{name}: the login packet is not in the evidence"
        );
        // Written by the user the sensor became, in the directory handed to it.
        let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&file).expect("stat"));
        assert_ne!(owner, 0, "{name}: the evidence was written as root");
        let alone = util::run(&["-q", "-r", file.to_str().expect("UTF-8")], None);
        let again = records(&alone.stdout.lines().map(str::to_string).collect::<Vec<_>>());
        let alert = again.iter().find(|r| r["event_type"] == "mining").expect("the alert again");
        assert_eq!(alert["stratum"]["login"], LOGIN, "{name}");
        assert_eq!(
            alert["flow_id"], sess["flow_id"],
            "{name}: the replay did not see the session from its SYN"
        );
    }
}
