//! The output options of the binary: several outputs with their own formats, `--format`,
//! `--sensor-name`, `--suppress`, and what an unreachable TCP receiver costs (counted, in the
//! `stats` record, exit status unchanged).

use crate::util;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;

use minewatch::stratum::Side;
use minewatch::time::Ts;
use serde_json::Value;
use testkit::synth::{msg, Link, PcapWriter, TcpConversation};

/// `n` complete Stratum V1 sessions from one miner host (distinct source ports) to one pool,
/// a minute apart.
fn same_pair_capture(path: &Path, n: usize) {
    let mut w = PcapWriter::new(Vec::new(), Link::Ethernet.link_type()).unwrap();
    let pool: SocketAddr = "198.51.100.30:3333".parse().unwrap();
    for i in 0..n {
        let client = SocketAddr::from(([10, 7, 0, 1], 41000 + i as u16));
        let mut t = TcpConversation::new(
            client,
            pool,
            Ts::from_timeval(1_700_000_000 + 60 * i as i64, 0),
            Link::Ethernet,
        );
        let line = |s: String| format!("{s}\n").into_bytes();
        t.handshake(&mut w).unwrap();
        t.client_sends(&mut w, &line(msg::sv1_subscribe(1, "cpuminer/2.5.1", false))).unwrap();
        t.server_sends(&mut w, &line(msg::sv1_subscribe_result(1, "f000000f"))).unwrap();
        t.client_sends(&mut w, &line(msg::sv1_authorize(2, "bc1qsuppress.rig", false))).unwrap();
        t.server_sends(&mut w, &line(msg::sv1_result_true(2))).unwrap();
        t.close_fin(&mut w, Side::A).unwrap();
    }
    std::fs::write(path, w.into_inner().unwrap()).unwrap();
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

fn of_type<'a>(recs: &'a [Value], t: &str) -> Vec<&'a Value> {
    recs.iter().filter(|v| v["event_type"] == t).collect()
}

#[test]
fn several_outputs_each_with_its_format_and_the_sensor_name() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("c.pcap");
    same_pair_capture(&pcap, 3);
    let json = dir.path().join("a.json");
    let cef = dir.path().join("a.cef");
    let out = util::run(
        &[
            "-q".as_ref(),
            "--stats-interval".as_ref(),
            "0".as_ref(),
            "-r".as_ref(),
            pcap.as_os_str(),
            "--format".as_ref(),
            "eve".as_ref(),
            "--sensor-name".as_ref(),
            "edge-9".as_ref(),
            "-o".as_ref(),
            "-".as_ref(),
            "-o".as_ref(),
            format!("json:{}", json.display()).as_ref(),
            "-o".as_ref(),
            format!("cef:{}", cef.display()).as_ref(),
        ],
        None,
    );
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let eve = json_lines(&out.stdout);
    assert_eq!(of_type(&eve, "alert").len(), 3);
    assert_eq!(of_type(&eve, "flow").len(), 3);
    assert!(eve.iter().all(|v| v["host"] == "edge-9"));
    let js = json_lines(&std::fs::read_to_string(&json).unwrap());
    assert_eq!(of_type(&js, "mining").len(), 3);
    assert_eq!(of_type(&js, "mining_session").len(), 3);
    assert!(js.iter().all(|v| v["sensor"] == "edge-9"), "every record, stats too");
    let cef_text = std::fs::read_to_string(&cef).unwrap();
    let cef_lines: Vec<&str> = cef_text.lines().collect();
    assert_eq!(cef_lines.len(), 7);
    assert!(cef_lines
        .iter()
        .all(|l| l.starts_with("CEF:0|minewatch|minewatch|") && l.contains(" dvchost=edge-9")));
    assert_eq!(cef_lines.iter().filter(|l| l.contains("|mining|")).count(), 3);
}

#[test]
fn suppress_keeps_one_alert_per_pair_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("c.pcap");
    same_pair_capture(&pcap, 4);
    let run = |extra: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> =
            vec!["-q".as_ref(), "--stats-interval".as_ref(), "0".as_ref(), "-r".as_ref(), pcap.as_os_str()];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        let out = util::run(&args, None);
        assert_eq!(out.code(), Some(0), "{}", out.describe());
        json_lines(&out.stdout)
    };
    let all = run(&[]);
    assert_eq!(of_type(&all, "mining").len(), 4);
    // Sessions are a minute apart: a 2-minute window lets through the 1st and the 3rd.
    let some = run(&["--suppress", "2m"]);
    assert_eq!(of_type(&some, "mining").len(), 2);
    assert_eq!(of_type(&some, "mining_session").len(), 4);
    let stats = of_type(&some, "stats");
    assert_eq!(stats[0]["stats"]["alerts_suppressed"], 2);
    let one = run(&["--suppress", "1h"]);
    assert_eq!(of_type(&one, "mining").len(), 1);
    assert_eq!(of_type(&one, "stats")[0]["stats"]["alerts_suppressed"], 3);
}

#[test]
fn unreachable_receiver_costs_counted_records_not_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("c.pcap");
    same_pair_capture(&pcap, 2);
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let file = dir.path().join("a.json");
    let out = util::run(
        &[
            "--stats-interval".as_ref(),
            "0".as_ref(),
            "-r".as_ref(),
            pcap.as_os_str(),
            "--drain-timeout".as_ref(),
            "300ms".as_ref(),
            "-o".as_ref(),
            file.as_os_str(),
            "-o".as_ref(),
            format!("syslog+tcp://127.0.0.1:{port}").as_ref(),
        ],
        None,
    );
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let recs = json_lines(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(recs.len(), 5);
    let stats = &of_type(&recs, "stats")[0]["stats"];
    assert_eq!(stats["output_delivered"], 0);
    assert!(stats["output_connect_failures"].as_u64().unwrap() >= 1);
    // The summary has the final figure: the stats record itself was lost too.
    assert!(out.stderr.contains("output_queue_dropped 5"), "{}", out.stderr);
}

#[test]
fn bad_outputs_are_usage_errors() {
    for bad in ["syslog://h:514", "syslog+tcp://nohost", "json:", "xml:syslog+udp://h:1"] {
        let out = util::run(&["-r", "x.pcap", "-o", bad], None);
        // `xml:...` is a file name with a colon, not a format: it is a valid (odd) path whose
        // scheme part is unknown, so it is refused too.
        assert_eq!(out.code(), Some(2), "{bad}: {}", out.describe());
    }
    let out = util::run(&["-r", "x.pcap", "--suppress", "often"], None);
    assert_eq!(out.code(), Some(2));
}

/// `?types=` on an output: the alerts file takes the alerts, the stats file the `stats` record
/// only, and an output without it every type.
#[test]
fn each_output_takes_the_record_types_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("c.pcap");
    same_pair_capture(&pcap, 3);
    let alerts = dir.path().join("alerts.json");
    let stats = dir.path().join("stats.json");
    let all = dir.path().join("all.json");
    let out = util::run(
        &[
            "-q".as_ref(),
            "--stats-interval".as_ref(),
            "0".as_ref(),
            "-r".as_ref(),
            pcap.as_os_str(),
            "-o".as_ref(),
            format!("json:{}?types=mining,mining_session", alerts.display()).as_ref(),
            "-o".as_ref(),
            format!("{}?types=stats", stats.display()).as_ref(),
            "-o".as_ref(),
            format!("ecs:{}", all.display()).as_ref(),
        ],
        None,
    );
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let a = json_lines(&std::fs::read_to_string(&alerts).unwrap());
    assert_eq!(a.len(), 6, "3 alerts and 3 session records, no stats");
    assert_eq!(of_type(&a, "mining").len(), 3);
    assert_eq!(of_type(&a, "mining_session").len(), 3);
    let s = json_lines(&std::fs::read_to_string(&stats).unwrap());
    assert_eq!(s.len(), 1);
    assert_eq!(s[0]["event_type"], "stats");
    assert_eq!(json_lines(&std::fs::read_to_string(&all).unwrap()).len(), 7);
}

/// An unknown record type, mode or option is a one-line usage error naming what is allowed.
#[test]
fn bad_types_and_redis_options_are_usage_errors() {
    for (bad, needle) in [
        ("json:a.json?types=mining,alerts", "unknown record type \"alerts\" (mining, mining_session, stats)"),
        ("syslog+tcp://h:1?types=", "unknown record type \"\""),
        ("redis://127.0.0.1:6379/k?mode=queue", "unknown redis mode \"queue\""),
        ("redis://127.0.0.1:6379/k?db=x", "unknown output option \"db=x\""),
        ("redis://127.0.0.1:6379", "expected redis://[USER:PASSWORD@]HOST:PORT/KEY"),
        ("syslog+tls://h:6514?cert=/c.pem", "cert= and key= go together"),
        ("syslog+tls://h:6514?mode=list", "unknown output option \"mode=list\""),
        ("syslog+udp://h:1?mode=list", "unknown output option \"mode=list\""),
    ] {
        let out = util::run(&["-r", "x.pcap", "-o", bad], None);
        assert_eq!(out.code(), Some(2), "{bad}: {}", out.describe());
        let lines = out.stderr_lines();
        assert!(lines.iter().any(|l| l.contains(needle)), "{bad}: {}", out.describe());
    }
}
