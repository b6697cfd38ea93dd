//! Delivery over syslog/TCP against a receiver in the test (127.0.0.1 only): a receiver that
//! goes away and comes back loses nothing; without a spool the memory queue is bounded and what
//! it drops is counted; with a spool, undelivered records survive a restart of the sender and are
//! sent first. The real-receiver test with rsyslog is `tests/it/syslog.rs`.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use minewatch::output::{Format, OutputOptions, OutputSpec, Outputs, Target};
use minewatch::stratum::{Confidence, SessionFacts, Variant};
use minewatch::time::Ts;
use minewatch::verdict::{Event, EventKind};

/// Safety net against a hang, not a performance assertion.
const LIMIT: Duration = Duration::from_secs(60);

fn event(n: u64) -> Event {
    Event {
        kind: EventKind::Mining,
        ts: Ts::from_timeval(1_700_000_000 + n as i64, 0),
        flow_id: n,
        client: SocketAddr::from(([10, 0, 0, 1], 40000 + n as u16)),
        pool: "198.51.100.1:3333".parse().unwrap(),
        confidence: Confidence::Detected,
        facts: SessionFacts {
            variant: Some(Variant::StratumV1),
            login: Some(format!("wallet-{n}")),
            methods: vec!["mining.subscribe".into()],
            ..Default::default()
        },
        first_seen: Ts(0),
        last_seen: Ts(0),
        bytes_toserver: 0,
        bytes_toclient: 0,
        pkts_toserver: 0,
        pkts_toclient: 0,
        end_reason: None,
        derived: Default::default(),
        pcap_filename: None,
        evidence: None,
    }
    .derive()
}

fn outputs(port: u16, spool: Option<&Path>, queue: usize, drain: Duration) -> Outputs {
    let spec = OutputSpec {
        format: Some(Format::Json),
        target: Target::SyslogTcp(format!("127.0.0.1:{port}")),
        types: Default::default(),
    };
    let opts = OutputOptions {
        sensor: "test-sensor".into(),
        spool: spool.map(Path::to_path_buf),
        queue,
        drain,
        ..OutputOptions::default()
    };
    Outputs::build(&[spec], &opts).unwrap()
}

/// A port nobody listens on (bound, then released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Reads octet-counted frames from `conn` into `got` (flow ids) until `want` have arrived.
fn read_frames(conn: &mut TcpStream, buf: &mut Vec<u8>, got: &mut Vec<u64>, want: usize) {
    conn.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let started = Instant::now();
    while got.len() < want {
        assert!(started.elapsed() < LIMIT, "only {} of {want} records arrived", got.len());
        let mut chunk = [0u8; 8192];
        match conn.read(&mut chunk) {
            Ok(0) => panic!("sender closed with {} of {want} records", got.len()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => continue,
        }
        while let Some(sp) = buf.iter().position(|&b| b == b' ') {
            let len: usize = std::str::from_utf8(&buf[..sp]).unwrap().parse().unwrap();
            if buf.len() < sp + 1 + len {
                break;
            }
            let msg = buf[sp + 1..sp + 1 + len].to_vec();
            buf.drain(..sp + 1 + len);
            let text = String::from_utf8(msg).unwrap();
            let json = &text[text.find(" - {").expect("RFC 5424 header then JSON") + 3..];
            let v: serde_json::Value = serde_json::from_str(json).unwrap();
            if v["event_type"] == "mining" {
                assert_eq!(v["sensor"], "test-sensor");
                got.push(v["flow_id"].as_u64().unwrap());
            }
        }
    }
}

fn accept(l: &TcpListener) -> TcpStream {
    l.set_nonblocking(true).unwrap();
    let started = Instant::now();
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                return s;
            }
            Err(_) if started.elapsed() < LIMIT => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("no connection: {e}"),
        }
    }
}

#[test]
fn receiver_restart_loses_nothing_and_duplicates_nothing() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut out = outputs(port, None, 1000, Duration::from_secs(30));
    for n in 0..20 {
        out.write(&event(n)).unwrap();
    }
    let mut conn = accept(&l);
    let (mut buf, mut got) = (Vec::new(), Vec::new());
    read_frames(&mut conn, &mut buf, &mut got, 20);
    // The receiver restarts: the connection and the listener go away.
    drop(conn);
    drop(l);
    for n in 20..40 {
        out.write(&event(n)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
    for n in 40..50 {
        out.write(&event(n)).unwrap();
    }
    let mut conn = accept(&l);
    read_frames(&mut conn, &mut buf, &mut got, 50);
    out.close();
    assert_eq!(got, (0..50).collect::<Vec<u64>>());
    let c = out.counters();
    assert_eq!(c.output_delivered, 50);
    assert_eq!(c.output_queue_dropped, 0);
    assert!(c.output_connect_failures >= 1);
}

#[test]
fn memory_queue_is_bounded_and_counts_drops() {
    let mut out = outputs(closed_port(), None, 5, Duration::from_millis(200));
    for n in 0..20 {
        out.write(&event(n)).unwrap();
    }
    out.close();
    let c = out.counters();
    assert_eq!(c.output_delivered, 0);
    assert_eq!(c.output_queue_dropped, 20, "15 past the queue bound, 5 still queued at exit");
    assert!(c.output_connect_failures >= 1);
}

#[test]
fn spool_survives_a_restart_and_is_sent_first() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let mut out = outputs(port, Some(dir.path()), 5, Duration::from_millis(200));
    for n in 0..30 {
        out.write(&event(n)).unwrap();
    }
    out.close();
    let c = out.counters();
    assert_eq!(c.output_spooled, 30);
    assert_eq!(c.output_queue_dropped + c.output_spool_dropped, 0);
    drop(out);

    // minewatch starts again; the receiver is back.
    let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let mut out = outputs(port, Some(dir.path()), 5, Duration::from_secs(30));
    for n in 30..35 {
        out.write(&event(n)).unwrap();
    }
    let mut conn = accept(&l);
    let (mut buf, mut got) = (Vec::new(), Vec::new());
    read_frames(&mut conn, &mut buf, &mut got, 35);
    out.close();
    assert_eq!(got, (0..35).collect::<Vec<u64>>());
    let c = out.counters();
    // The 30 from the first run, and any new one that arrived before the connection was up.
    assert!(c.output_spool_replayed >= 30, "{c:?}");
    assert_eq!(c.output_delivered, 35);
    // Delivered segments are deleted: a third start has nothing to replay.
    drop(out);
    let mut out = outputs(port, Some(dir.path()), 5, Duration::from_secs(30));
    out.write(&event(99)).unwrap();
    let mut conn = accept(&l);
    let (mut buf, mut got) = (Vec::new(), Vec::new());
    read_frames(&mut conn, &mut buf, &mut got, 1);
    out.close();
    assert_eq!(got, [99]);
    assert!(out.counters().output_spool_replayed <= 1);
}

#[test]
fn spool_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let spec = OutputSpec {
        format: None,
        target: Target::SyslogTcp(format!("127.0.0.1:{}", closed_port())),
        types: Default::default(),
    };
    let opts = OutputOptions {
        spool: Some(dir.path().to_path_buf()),
        spool_max_bytes: 2000,
        drain: Duration::from_millis(100),
        ..OutputOptions::default()
    };
    let mut out = Outputs::build(&[spec], &opts).unwrap();
    for n in 0..50 {
        out.write(&event(n)).unwrap();
    }
    out.close();
    let c = out.counters();
    assert!(c.output_spooled > 0 && c.output_spooled < 50, "{c:?}");
    assert_eq!(c.output_spooled + c.output_spool_dropped, 50);
}

/// Polls `cond` on the outputs' load until it holds (or the safety net trips).
fn load_until(out: &Outputs, what: &str, cond: impl Fn(&minewatch::output::OutputLoad) -> bool) {
    let start = Instant::now();
    loop {
        let load = out.load();
        assert_eq!(load.len(), 1, "{load:?}");
        if cond(&load[0]) {
            return;
        }
        assert!(start.elapsed() < LIMIT, "{what}: {load:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn load_shows_what_each_tcp_output_holds_in_memory_and_on_disk() {
    // Without a spool, records wait in memory while the receiver is away.
    let port = closed_port();
    let mut out = outputs(port, None, 10, Duration::from_millis(100));
    for n in 0..3 {
        out.write(&event(n)).unwrap();
    }
    let load = out.load();
    assert_eq!(load[0].label, format!("json:syslog+tcp://127.0.0.1:{port}"));
    assert_eq!((load[0].queued, load[0].spool_bytes), (3, None));
    out.close();
    assert_eq!(out.load()[0].queued, 0, "dropped at exit, so no longer held");

    // With a spool, they go to disk; once the receiver is back and has them, the spool is empty.
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let mut out = outputs(port, Some(dir.path()), 10, Duration::from_secs(30));
    for n in 0..4 {
        out.write(&event(n)).unwrap();
    }
    load_until(&out, "spooled", |l| l.queued == 0 && l.spool_bytes.is_some_and(|b| b > 0));
    let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
    // A fifth record wakes the sender, which then connects (its backoff is short at first).
    out.write(&event(4)).unwrap();
    let mut conn = accept(&l);
    let (mut buf, mut got) = (Vec::new(), Vec::new());
    read_frames(&mut conn, &mut buf, &mut got, 5);
    load_until(&out, "delivered", |l| l.queued == 0 && l.spool_bytes == Some(0));
    out.close();
}
