//! The Prometheus endpoint of the real binary, scraped over loopback with std `TcpStream`s: a
//! client that trickles its request cannot keep a scrape from being answered; connections over
//! the bound are closed at once and counted; the exposition passes `promtool check metrics`
//! (Debian's `prometheus` package, installed by `scripts/lib.sh`; `SKIPPED` for that step when
//! it is missing), every family has `# HELP` and `# TYPE`, and no wire string (a login, a TLS
//! server name, a name from a DNS answer) appears anywhere on the page.
//!
//! The binary replays a capture from standard input, which the test keeps open, so that the
//! process (and its endpoint) lives on after the capture has been processed.

use crate::util;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use minewatch::metrics::{DEADLINE, MAX_CONNECTIONS};

/// A running `minewatch -r - --metrics 127.0.0.1:0`, killed when dropped.
struct Sensor {
    child: Child,
    /// Held open: the replay (and the process) goes on until it is closed.
    stdin: Option<ChildStdin>,
    addr: SocketAddr,
}

impl Sensor {
    /// Starts the binary and feeds it `capture` (a pcap file in `pcaps/`), if any.
    fn start(capture: Option<&str>) -> Sensor {
        let mut child = Command::new(util::bin())
            .args(["-r", "-", "--metrics", "127.0.0.1:0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start minewatch");
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut stdin = child.stdin.take();
        if let (Some(name), Some(w)) = (capture, stdin.as_mut()) {
            let bytes = std::fs::read(util::pcaps_dir().join(name)).expect("read the capture");
            w.write_all(&bytes).expect("feed the capture");
            w.flush().expect("flush");
        }
        let mut seen = Vec::new();
        let addr = loop {
            let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("minewatch did not say where its endpoint is: {seen:?}")
            });
            if let Some(rest) = line.strip_prefix("minewatch: metrics on http://") {
                break rest.trim_end_matches("/metrics").parse().expect("an address");
            }
            seen.push(line);
        };
        Sensor { child, stdin, addr }
    }

    /// Scrapes until `ready` holds for the page (the capture has been processed), at most 30 s.
    fn page_when(&self, ready: impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            // A scrape refused because every serving thread was busy (just now) is tried again.
            let answer = try_get(self.addr, "/metrics");
            if let Ok((head, body)) = &answer {
                if !head.starts_with("HTTP/1.1 503 ") {
                    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
                    if ready(body) {
                        return body.clone();
                    }
                }
            }
            assert!(Instant::now() < until, "the page never got ready: {answer:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Sensor {
    fn drop(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One GET over a fresh connection, as a scraper does it (read timeout: the scraper's patience
/// of 5 s); returns the head and the body, checking that the body is as long as announced.
fn get(addr: SocketAddr, path: &str) -> (String, String) {
    try_get(addr, path).unwrap_or_else(|e| panic!("{e}"))
}

fn try_get(addr: SocketAddr, path: &str) -> Result<(String, String), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/plain\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("no whole answer within 5 s: {e}"))?;
    let text = String::from_utf8(raw).map_err(|e| e.to_string())?;
    let (head, body) = text.split_once("\r\n\r\n").ok_or(format!("no head: {text:?}"))?;
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or(format!("no Content-Length: {head}"))?;
    if body.len() != len {
        return Err(format!("a cut answer: {} of {len} bytes", body.len()));
    }
    Ok((head.to_string(), body.to_string()))
}

/// The value of a sample without labels.
fn metric(page: &str, name: &str) -> Option<f64> {
    page.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn a_client_trickling_its_request_does_not_hold_up_a_scrape() {
    let sensor = Sensor::start(None);
    let addr = sensor.addr;
    // A client that sends one byte of a request every 1.5 s; it records when the server cut it
    // off (a write fails, or the answer comes).
    let (done_tx, done_rx) = mpsc::channel();
    let (started_tx, started_rx) = mpsc::channel();
    let slow = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).expect("connect");
        let t0 = Instant::now();
        let request = b"GET /metrics HTTP/1.1\r\nHost: slow\r\n\r\n";
        let mut sent = 0;
        for (i, b) in request.iter().enumerate() {
            if s.write_all(&[*b]).is_err() {
                break;
            }
            sent += 1;
            if i == 1 {
                let _ = started_tx.send(());
            }
            // Whether the server closed the connection: a read that ends (EOF or reset) now.
            s.set_read_timeout(Some(Duration::from_millis(1500))).expect("timeout");
            let mut buf = [0u8; 64];
            match s.read(&mut buf) {
                Err(e)
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                _ => break,
            }
        }
        let _ = done_tx.send((sent, request.len(), t0.elapsed()));
    });
    // The slow client is connected and has sent two bytes (1.5 s in) when the scrape starts.
    started_rx.recv_timeout(Duration::from_secs(10)).expect("the slow client started");
    let t = Instant::now();
    let (head, body) = get(addr, "/metrics");
    let took = t.elapsed();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Content-Type: text/plain; version=0.0.4"), "{head}");
    assert!(body.contains("\nminewatch_packets_total "), "{body}");
    assert!(took < Duration::from_secs(5), "the scrape took {took:?} with a slow client connected");
    // The slow client is cut off at the deadline, long before its request is whole (~57 s).
    let (sent, whole, lasted) = done_rx.recv_timeout(Duration::from_secs(40)).expect("the slow client ended");
    let _ = slow.join();
    assert!(sent < whole, "the slow client sent its whole request");
    assert!(lasted < DEADLINE + Duration::from_secs(10), "the slow client was held {lasted:?}");
    let page = sensor.page_when(|p| metric(p, "minewatch_metrics_requests_timed_out_total") >= Some(1.0));
    assert_eq!(metric(&page, "minewatch_metrics_requests_rejected_total"), Some(0.0), "{page}");
}

#[test]
fn connections_over_the_bound_are_closed_at_once_and_counted() {
    let sensor = Sensor::start(None);
    let addr = sensor.addr;
    // Idle clients take every serving thread (each until the deadline)...
    let idle: Vec<TcpStream> =
        (0..MAX_CONNECTIONS).map(|_| TcpStream::connect(addr).expect("connect")).collect();
    // ... so the next ones are closed at once, with a 503 when it gets through, not served
    // and not left waiting until an idle one times out.
    for _ in 0..3 {
        let mut extra = TcpStream::connect(addr).expect("connect");
        extra.set_read_timeout(Some(DEADLINE / 2)).expect("timeout");
        let _ = extra.write_all(b"GET /metrics HTTP/1.1\r\n\r\n");
        let mut got = Vec::new();
        match extra.read_to_end(&mut got) {
            Ok(_) => {
                let text = String::from_utf8_lossy(&got);
                assert!(text.is_empty() || text.starts_with("HTTP/1.1 503 "), "{text}");
            }
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "not closed at once: {e}"),
        }
    }
    // The idle clients were still connected all along; once they go, scrapes are served again.
    drop(idle);
    let page = sensor.page_when(|p| metric(p, "minewatch_metrics_requests_rejected_total").is_some());
    assert!(metric(&page, "minewatch_metrics_requests_rejected_total") >= Some(3.0), "{page}");
}

/// A sample line: its name, label pairs (unescaped values) and value.
fn parse_sample(line: &str) -> (String, Vec<(String, String)>, f64) {
    let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("no value: {line}"));
    let name = line[..name_end].to_string();
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        let mut chars = r.char_indices();
        let mut key = String::new();
        let end = loop {
            let (i, c) = chars.next().unwrap_or_else(|| panic!("unclosed labels: {line}"));
            match c {
                '}' => break i,
                ',' => {}
                '=' => {
                    assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "unquoted value: {line}");
                    let mut value = String::new();
                    loop {
                        match chars.next().map(|(_, c)| c) {
                            Some('"') => break,
                            Some('\\') => match chars.next().map(|(_, c)| c) {
                                Some('n') => value.push('\n'),
                                Some(c @ ('\\' | '"')) => value.push(c),
                                other => panic!("bad escape {other:?}: {line}"),
                            },
                            Some(c) => value.push(c),
                            None => panic!("unclosed value: {line}"),
                        }
                    }
                    labels.push((std::mem::take(&mut key), value));
                }
                c => key.push(c),
            }
        };
        rest = &r[end + 1..];
    }
    let value = rest.trim().parse().unwrap_or_else(|_| panic!("bad value: {line}"));
    (name, labels, value)
}

/// Checks the page's families: each has one `# HELP` and one `# TYPE` before its samples,
/// counters end in `_total`, and its label values hold none of `wire`. Returns every label value.
fn check_families(page: &str, wire: &[&str]) -> BTreeSet<String> {
    let mut help = BTreeSet::new();
    let mut kinds: BTreeMap<String, String> = BTreeMap::new();
    let mut values = BTreeSet::new();
    for line in page.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, text) = rest.split_once(' ').unwrap_or_else(|| panic!("empty help: {line}"));
            assert!(text.trim().len() > 5, "{line}");
            assert!(help.insert(name.to_string()), "two HELP lines for {name}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or_else(|| panic!("no type: {line}"));
            assert!(help.contains(name), "TYPE before HELP for {name}");
            assert!(matches!(kind, "counter" | "gauge"), "{line}");
            assert!(kinds.insert(name.to_string(), kind.to_string()).is_none(), "two TYPE lines for {name}");
            assert_eq!(name.ends_with("_total"), kind == "counter", "{line}");
        } else {
            assert!(!line.starts_with('#') && !line.is_empty(), "stray line: {line:?}");
            let (name, labels, _) = parse_sample(line);
            assert!(kinds.contains_key(&name), "{name}: a sample without HELP and TYPE before it");
            for (_, v) in labels {
                for w in wire {
                    assert!(!v.contains(w), "{name}: a label carries the wire string {w:?}: {line}");
                }
                values.insert(v);
            }
        }
    }
    for family in
        ["minewatch_build_info", "minewatch_flows_active", "minewatch_queue_depth", "process_open_fds"]
    {
        assert!(kinds.contains_key(family), "no {family}");
    }
    values
}

/// `promtool check metrics` on the page: no problem at all (its lint checks help text, counter
/// suffixes, units, names). `None` when promtool is not installed.
fn promtool(page: &str) -> Option<(bool, String)> {
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("promtool: {e}"),
    };
    child.stdin.take().expect("stdin").write_all(page.as_bytes()).expect("feed promtool");
    let out = child.wait_with_output().expect("promtool");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Some((out.status.success(), said))
}

#[test]
fn the_exposition_passes_promtool_and_carries_no_wire_string() {
    // Captures whose wire strings a label could have picked up: a login (sent with JSON escapes),
    // a TLS server name of a pool, and a pool name from a DNS answer.
    let cases: [(&str, &[&str]); 3] = [
        (
            "cryptonote-escaped-login.pcap",
            &["48edfHu7V9Z84YzzMa6fUueoELZ9ZRXq9VetWzYGzKt52XU5xvqgzYnDK9URnRoJMk1j8nLwEVsaSWJ4fhdUyZijBGUicoD", "rig/07"],
        ),
        ("tls-pool-sni.pcap", &["supportxmr"]),
        ("tls-dns-no-sni.pcap", &["moneroocean"]),
    ];
    let mut skipped = false;
    for (capture, wire) in cases {
        let sensor = Sensor::start(Some(capture));
        let page = sensor.page_when(|p| metric(p, "minewatch_mining_hosts") == Some(1.0));
        // The host is there, by address only.
        assert!(page.contains("\nminewatch_mining_host_info{host=\""), "{capture}: {page}");
        for w in wire {
            assert!(!page.contains(w), "{capture}: {w:?} is on the page:\n{page}");
        }
        let values = check_families(&page, wire);
        assert!(values.contains(env!("CARGO_PKG_VERSION")), "{values:?}");
        match promtool(&page) {
            Some((ok, said)) => {
                assert!(ok && said.trim().is_empty(), "{capture}: promtool check metrics:\n{said}\n{page}")
            }
            None => skipped = true,
        }
    }
    if skipped {
        eprintln!("SKIPPED: promtool check metrics: promtool not found (Debian package prometheus)");
    }
}
