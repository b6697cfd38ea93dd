//! A real receiver: Debian's rsyslog, started by the test in the foreground on 127.0.0.1 high
//! ports, with imudp and imtcp inputs and an omfile action writing each message's MSG part to a
//! file in a temporary directory. minewatch replays a generated capture of many mining sessions
//! (logins full of characters that CEF, syslog and JSON treat specially) and sends its records
//! over UDP and TCP; it also writes them to a JSON file, which is the ground truth. Over TCP,
//! rsyslog is stopped in the middle of the replay and started again. Every record must arrive
//! exactly once, byte for byte as minewatch wrote it to the file.
//!
//! The test needs `rsyslogd` (`scripts/lib.sh` installs the `rsyslog` package); without it, or
//! when it cannot start, the test says so and passes as skipped.

use crate::util;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use minewatch::stratum::Side;
use minewatch::time::Ts;
use serde_json::Value;
use testkit::synth::{msg, Link, PcapWriter, TcpConversation};

/// Safety net against a hang, not a performance assertion.
const LIMIT: Duration = Duration::from_secs(120);
const SESSIONS: usize = 60;
pub(crate) const SENSOR: &str = "siem-test|sensor=1 \\";

fn rsyslogd() -> Option<PathBuf> {
    ["/usr/sbin/rsyslogd", "/sbin/rsyslogd", "/usr/local/sbin/rsyslogd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The login of session `i` as it goes inside the JSON string on the wire (with JSON escapes),
/// and as it is after unescaping.
pub(crate) fn login(i: usize) -> (String, String) {
    let wire = format!("bc1q{i:04}|rig=x\\\\y \\\"q\\\" \\u00e9\\u2028\\n\\t|=\\\\ CEF:0|a|b");
    let plain = format!("bc1q{i:04}|rig=x\\y \"q\" \u{e9}\u{2028}\n\t|=\\ CEF:0|a|b");
    (wire, plain)
}

/// A pcap of `range` mining sessions, each a complete cpuminer-like conversation ending in FIN;
/// `header` says whether to write the pcap file header.
pub(crate) fn capture(range: std::ops::Range<usize>, header: bool) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), Link::Ethernet.link_type()).unwrap();
    let pool: SocketAddr = "198.51.100.20:3333".parse().unwrap();
    for i in range {
        let client = SocketAddr::from(([10, 9, (i / 200) as u8, (i % 200 + 1) as u8], 40000 + i as u16));
        let start = Ts::from_timeval(1_700_000_000 + 10 * i as i64, 0);
        let mut t = TcpConversation::new(client, pool, start, Link::Ethernet);
        let (wire, _) = login(i);
        let line = |s: String| format!("{s}\n").into_bytes();
        t.handshake(&mut w).unwrap();
        t.client_sends(&mut w, &line(msg::sv1_subscribe(1, "cpuminer/2.5.1 \\\"|=", false))).unwrap();
        t.server_sends(&mut w, &line(msg::sv1_subscribe_result(1, "f000000f"))).unwrap();
        t.client_sends(&mut w, &line(msg::sv1_authorize(2, &wire, false))).unwrap();
        t.server_sends(&mut w, &line(msg::sv1_result_true(2))).unwrap();
        t.server_sends(&mut w, &line(msg::sv1_set_difficulty("0.5", false))).unwrap();
        t.client_sends(&mut w, &line(msg::sv1_submit(&wire, "1", "66302f00", "0000beef", false))).unwrap();
        t.server_sends(&mut w, &line(msg::sv1_result_true(4))).unwrap();
        t.close_fin(&mut w, Side::A).unwrap();
    }
    let bytes = w.into_inner().unwrap();
    if header {
        bytes
    } else {
        bytes[24..].to_vec()
    }
}

struct Rsyslog {
    bin: PathBuf,
    dir: PathBuf,
    child: Option<Child>,
}

impl Rsyslog {
    fn conf(&self) -> PathBuf {
        self.dir.join("rsyslog.conf")
    }

    /// The UDP input asks for a 4 MiB socket buffer, as a collector taking bursts over UDP
    /// should: with the kernel's default (208 KiB) a replay's burst of records overflowed it
    /// once in five runs on a busy machine (10 of 121 datagrams lost, `RcvbufErrors` in
    /// /proc/net/snmp), and the test's every-record-once check failed for want of buffer.
    fn write_conf(&self, udp: u16, tcp: u16) {
        let d = self.dir.display();
        let conf = format!(
            r#"$MaxMessageSize 64k
global(workDirectory="{d}")
module(load="imudp")
module(load="imtcp")
template(name="msgonly" type="string" string="%msg%\n")
ruleset(name="udp") {{ action(type="omfile" file="{d}/udp.log" template="msgonly") }}
ruleset(name="tcp") {{ action(type="omfile" file="{d}/tcp.log" template="msgonly") }}
input(type="imudp" address="127.0.0.1" port="{udp}" ruleset="udp" rcvbufSize="4m")
input(type="imtcp" address="127.0.0.1" port="{tcp}" ruleset="tcp")
"#
        );
        std::fs::write(self.conf(), conf).unwrap();
    }

    fn start(&mut self) -> Result<(), String> {
        let log = std::fs::File::create(self.dir.join("rsyslogd.stderr")).map_err(|e| e.to_string())?;
        let child = Command::new(&self.bin)
            .arg("-n")
            .arg("-f")
            .arg(self.conf())
            .arg("-i")
            .arg(self.dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// Stops rsyslog the way an init system does (SIGTERM) and waits for it to exit.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            util::terminate(&mut c, LIMIT);
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("rsyslogd.stderr")).unwrap_or_default()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The JSON records in a file of one message per line (rsyslog's `%msg%` or minewatch's file).
pub(crate) fn records(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().map(|l| l.trim_start().to_string()).filter(|l| l.starts_with('{')).collect()
}

/// Waits until `path` holds at least `n` records besides the readiness probes.
fn wait_for(path: &Path, n: usize, what: &str) -> Result<Vec<String>, String> {
    let started = Instant::now();
    loop {
        let r = without_probes(records(path));
        if r.len() >= n {
            return Ok(r);
        }
        if started.elapsed() > LIMIT {
            return Err(format!("{what}: {} of {n} records in {}", r.len(), path.display()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Probes both inputs until rsyslog writes what they receive; `Err` when it never does.
fn ready(dir: &Path, udp: u16, tcp: u16, probe: usize) -> Result<(), String> {
    let line = format!("{{\"probe\":{probe}}}");
    let msg = format!("<134>1 2024-01-01T00:00:00Z probe minewatch-test 1 probe - {line}");
    let started = Instant::now();
    let (mut udp_ok, mut tcp_ok) = (false, false);
    let sock = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    while !(udp_ok && tcp_ok) {
        if started.elapsed() > Duration::from_secs(30) {
            return Err("rsyslogd did not start receiving within 30 s".into());
        }
        if !udp_ok {
            let _ = sock.send_to(msg.as_bytes(), ("127.0.0.1", udp));
        }
        if !tcp_ok {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", tcp)) {
                let _ = write!(s, "{} {msg}", msg.len());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
        udp_ok = records(&dir.join("udp.log")).contains(&line);
        tcp_ok = records(&dir.join("tcp.log")).contains(&line);
    }
    Ok(())
}

fn without_probes(r: Vec<String>) -> Vec<String> {
    r.into_iter().filter(|l| !l.starts_with("{\"probe\"")).collect()
}

pub(crate) fn multiset(r: &[String]) -> BTreeMap<&str, usize> {
    let mut m = BTreeMap::new();
    for l in r {
        *m.entry(l.as_str()).or_insert(0) += 1;
    }
    m
}

/// The ground truth: minewatch's own JSON file, checked against the capture's `sessions`.
pub(crate) fn check_truth(file: &[String], sessions: usize) {
    let recs: Vec<Value> = file.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mining: Vec<&Value> = recs.iter().filter(|v| v["event_type"] == "mining").collect();
    let session_records = recs.iter().filter(|v| v["event_type"] == "mining_session").count();
    assert_eq!(mining.len(), sessions);
    assert_eq!(session_records, sessions);
    assert!(recs.iter().all(|v| v["sensor"] == SENSOR));
    for i in 0..sessions {
        let (_, plain) = login(i);
        assert!(
            mining.iter().any(|v| v["stratum"]["login"] == plain.as_str()),
            "no alert with login {plain:?}"
        );
    }
}

#[test]
fn rsyslog_receives_every_record_exactly_once_over_udp_and_tcp_across_a_restart() {
    let Some(bin) = rsyslogd() else {
        eprintln!("SKIPPED: rsyslogd is not installed (scripts/lib.sh installs the rsyslog package)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let (udp, tcp) = (free_port(), free_port());
    let mut rs = Rsyslog { bin, dir: dir.clone(), child: None };
    rs.write_conf(udp, tcp);
    if let Err(e) = rs.start().and_then(|()| ready(&dir, udp, tcp, 1)) {
        eprintln!("SKIPPED: rsyslogd cannot be started here: {e}\n{}", rs.stderr());
        return;
    }

    // UDP: a whole replay from a file, in the EVE format.
    let pcap = dir.join("many.pcap");
    std::fs::write(&pcap, capture(0..SESSIONS, true)).unwrap();
    let truth_udp = dir.join("udp-truth.json");
    // EVE's `stats` holds only the counters Suricata names; the outputs' own are in the JSON's.
    let counters_udp = dir.join("udp-counters.json");
    let out = util::run(
        &[
            "-q".as_ref(),
            "--stats-interval".as_ref(),
            "0".as_ref(),
            "--workers".as_ref(),
            "1".as_ref(),
            "--sensor-name".as_ref(),
            SENSOR.as_ref(),
            "-r".as_ref(),
            pcap.as_os_str(),
            "-o".as_ref(),
            format!("eve:{}", truth_udp.display()).as_ref(),
            "-o".as_ref(),
            format!("eve:syslog+udp://127.0.0.1:{udp}").as_ref(),
            "-o".as_ref(),
            format!("json:{}", counters_udp.display()).as_ref(),
        ],
        None,
    );
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let want = records(&truth_udp);
    assert_eq!(want.len(), 2 * SESSIONS + 1, "alerts, session records and the stats record");
    let got = wait_for(&dir.join("udp.log"), want.len(), "UDP").unwrap();
    assert_eq!(multiset(&got), multiset(&want), "UDP: rsyslog's records differ from minewatch's file");
    let stats: Value = serde_json::from_str(want.last().unwrap()).unwrap();
    assert_eq!(stats["event_type"], "stats");
    let stats: Value = serde_json::from_str(records(&counters_udp).last().unwrap()).unwrap();
    assert_eq!(stats["event_type"], "stats");
    assert_eq!(stats["stats"]["output_send_errors"], 0);

    // TCP: the capture arrives on stdin in two halves; rsyslog restarts between them.
    let truth_tcp = dir.join("tcp-truth.json");
    let mut mw = Command::new(util::bin())
        .args([
            "-q",
            "--stats-interval",
            "0",
            "--workers",
            "1",
            "--drain-timeout",
            "100s",
            "--sensor-name",
            SENSOR,
            "-r",
            "-",
        ])
        .arg("-o")
        .arg(format!("json:{}", truth_tcp.display()))
        .arg("-o")
        .arg(format!("json:syslog+tcp://127.0.0.1:{tcp}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = mw.stdin.take().unwrap();
    let half = SESSIONS / 2;
    stdin.write_all(&capture(0..half, true)).unwrap();
    stdin.flush().unwrap();
    // Both records of every session in the first half reach rsyslog.
    wait_for(&dir.join("tcp.log"), 2 * half, "TCP before the restart").unwrap();
    rs.stop();
    stdin.write_all(&capture(half..SESSIONS, false)).unwrap();
    stdin.flush().unwrap();
    // Records of the second half are made while rsyslog is down.
    std::thread::sleep(Duration::from_millis(500));
    rs.start().unwrap();
    drop(stdin);
    wait_success(&mut mw);
    let want = records(&truth_tcp);
    check_truth(&want, SESSIONS);
    let got = wait_for(&dir.join("tcp.log"), want.len(), "TCP after the restart").unwrap();
    // A moment more, so that a duplicate would have arrived too.
    std::thread::sleep(Duration::from_millis(300));
    let got_now = without_probes(records(&dir.join("tcp.log")));
    assert_eq!(got_now.len(), got.len(), "more records arrived than were sent");
    assert_eq!(multiset(&got), multiset(&want), "TCP: rsyslog's records differ from minewatch's file");
    let stats: Value = serde_json::from_str(want.last().unwrap()).unwrap();
    assert_eq!(stats["event_type"], "stats");
    assert!(stats["stats"]["output_connect_failures"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(stats["stats"]["output_queue_dropped"], 0);
    rs.stop();
}

/// Waits for minewatch to exit (at most `LIMIT`) and asserts it succeeded, with its stderr.
pub(crate) fn wait_success(mw: &mut std::process::Child) {
    let started = Instant::now();
    let status = loop {
        if let Some(s) = mw.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < LIMIT, "minewatch did not finish");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    let _ = std::io::Read::read_to_string(&mut mw.stderr.take().unwrap(), &mut err);
    assert!(status.success(), "minewatch failed: {err}");
}
