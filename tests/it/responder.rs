//! The incident responder's replay: folders of captures and several files after one `-r`, the
//! `-f` filter and the `--since`/`--until` window on replay, and the evidence pcaps of
//! `--pcap-dir` (each alerted session's packets in a file of its own, named with its SHA-256 in
//! the session's record, that replays alone to the same alert).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::util::{self, pcaps_dir};

fn pcap(name: &str) -> PathBuf {
    pcaps_dir().join(name)
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// The JSON records of a run that must succeed.
fn records(args: &[String]) -> Vec<Value> {
    let out = util::run(args, None);
    assert_eq!(out.code(), Some(0), "{args:?}: {}", out.stderr);
    out.stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|a| a.to_string()).collect()
}

fn of_type<'a>(recs: &'a [Value], ty: &str) -> Vec<&'a Value> {
    recs.iter().filter(|r| r["event_type"] == ty).collect()
}

fn stat(recs: &[Value], name: &str) -> u64 {
    let last = recs.iter().rev().find(|r| r["event_type"] == "stats").expect("a stats record");
    last["stats"][name].as_u64().unwrap_or_else(|| panic!("no counter {name}: {last}"))
}

fn clients(recs: &[Value], ty: &str) -> BTreeSet<String> {
    of_type(recs, ty).iter().map(|r| format!("{}:{}", r["src_ip"], r["src_port"])).collect()
}

#[test]
fn a_directory_is_every_capture_below_it_by_magic_in_order_of_first_packets() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("day2/host-b")).unwrap();
    // Names that say nothing, and say it wrongly: the magic number decides.
    std::fs::copy(pcap("sv1-cpuminer.pcap"), d.join("day2/host-b/capture.dmp")).unwrap();
    std::fs::copy(pcap("cryptonote-xmrig.pcapng"), d.join("a-capture")).unwrap();
    std::fs::copy(pcap("ethproxy-ethminer.pcap"), d.join("day2/zz.pcap")).unwrap();
    std::fs::write(d.join("notes.pcap"), "not a capture\n").unwrap();
    std::fs::write(d.join("day2/TRUTH.tsv"), "file\texpect\n").unwrap();
    for workers in ["1", "2"] {
        let recs = records(&args(&["-q", "--stats-interval", "0", "--workers", workers, "-r", &s(d)]));
        let alerts = of_type(&recs, "mining");
        assert_eq!(alerts.len(), 3, "{recs:?}");
        // Every record names the copy it came from, and the files come in time order.
        let mut order = Vec::new();
        for a in &alerts {
            let file = a["pcap_filename"].as_str().expect("pcap_filename");
            assert!(file.starts_with(&s(d)), "{file}");
            assert!(Path::new(file).exists(), "{file}");
            if order.last() != Some(&file.to_string()) {
                order.push(file.to_string());
            }
        }
        let first_seen: Vec<String> = of_type(&recs, "mining_session")
            .iter()
            .map(|r| r["first_seen"].as_str().unwrap_or_default().to_string())
            .collect();
        let mut sorted = first_seen.clone();
        sorted.sort();
        assert_eq!(first_seen, sorted, "sessions out of time order: {order:?}");
        assert_eq!(stat(&recs, "inputs_not_capture"), 2);
        assert_eq!(stat(&recs, "inputs_failed"), 0);
    }
}

#[test]
fn several_files_after_one_r_and_an_unreadable_one_is_one_line_the_rest_goes_on() {
    let missing = "/nonexistent/minewatch-test.pcap";
    let a = s(&pcap("sv1-cpuminer.pcap"));
    let b = s(&pcap("cryptonote-xmrig.pcap"));
    let out = util::run(&["-q", "--stats-interval", "0", "-r", &a, missing, &b], None);
    assert_eq!(out.code(), Some(1), "a missing input is exit status 1: {}", out.stderr);
    assert_eq!(out.stderr.lines().filter(|l| l.contains(missing)).count(), 1, "{}", out.stderr);
    let recs: Vec<Value> = out.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let files: BTreeSet<&str> =
        of_type(&recs, "mining").iter().filter_map(|r| r["pcap_filename"].as_str()).collect();
    assert_eq!(files, BTreeSet::from([a.as_str(), b.as_str()]));
    assert_eq!(stat(&recs, "inputs_failed"), 1);
}

#[test]
fn a_filter_on_replay_keeps_one_of_two_sessions() {
    let two = s(&pcap("two-miners.pcap"));
    let all = records(&args(&["-q", "--stats-interval", "0", "-r", &two]));
    assert_eq!(clients(&all, "mining").len(), 2);
    assert_eq!(stat(&all, "frames_filtered"), 0);
    for workers in ["1", "2"] {
        let recs = records(&args(&[
            "-q",
            "--stats-interval",
            "0",
            "--workers",
            workers,
            "-f",
            "host 10.20.0.23",
            "-r",
            &two,
        ]));
        assert_eq!(
            clients(&recs, "mining"),
            BTreeSet::from(["\"10.20.0.23\":49200".to_string()]),
            "{recs:?}"
        );
        assert!(stat(&recs, "frames_filtered") > 0);
        // What is filtered out is never counted as read.
        assert_eq!(stat(&recs, "packets") + stat(&recs, "frames_filtered"), stat(&all, "packets"));
    }
    // Compiled for each file's link type: raw IP (libpcap's DLT_RAW) too.
    let raw = s(&pcap("cryptonote-raw-ip.pcap"));
    let recs = records(&args(&["-q", "--stats-interval", "0", "-f", "tcp port 5555", "-r", &raw]));
    assert_eq!(of_type(&recs, "mining").len(), 1);
    assert_eq!(stat(&recs, "frames_filtered"), 0);
    let recs = records(&args(&["-q", "--stats-interval", "0", "-f", "not tcp port 5555", "-r", &raw]));
    assert!(of_type(&recs, "mining").is_empty());
    // A filter that does not compile is a usage error, not a replay that reads nothing.
    let out = util::run(&["-q", "-f", "host nope nope", "-r", &two], None);
    assert_eq!(out.code(), Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("--filter"), "{}", out.stderr);
}

/// The microseconds of an RFC 3339 time as the records write it.
fn micros(t: &str) -> i64 {
    let dt = chrono::DateTime::parse_from_rfc3339(t).unwrap_or_else(|e| panic!("{t}: {e}"));
    dt.timestamp() * 1_000_000 + i64::from(dt.timestamp_subsec_micros())
}

fn rfc3339(us: i64) -> String {
    let dt =
        chrono::DateTime::from_timestamp(us.div_euclid(1_000_000), (us.rem_euclid(1_000_000) * 1000) as u32)
            .expect("a time");
    dt.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[test]
fn since_and_until_keep_their_edges_and_count_what_they_skip() {
    let f = s(&pcap("sv1-cpuminer.pcap"));
    let all = records(&args(&["-q", "--stats-interval", "0", "-r", &f]));
    let session = of_type(&all, "mining_session")[0].clone();
    let (first, last) =
        (micros(session["first_seen"].as_str().unwrap()), micros(session["last_seen"].as_str().unwrap()));
    let packets = stat(&all, "packets");
    let run = |extra: &[String]| {
        let mut a = args(&["-q", "--stats-interval", "0", "-r", &f]);
        a.extend_from_slice(extra);
        records(&a)
    };
    // --since at the first packet keeps it; a microsecond later drops it (and only it).
    let at = run(&["--since".into(), rfc3339(first)]);
    assert_eq!(stat(&at, "frames_outside_window"), 0);
    assert_eq!(of_type(&at, "mining_session")[0]["first_seen"], session["first_seen"]);
    let after = run(&["--since".into(), rfc3339(first + 1)]);
    assert_eq!(stat(&after, "frames_outside_window"), 1);
    assert_eq!(stat(&after, "packets"), packets - 1);
    assert!(micros(of_type(&after, "mining_session")[0]["first_seen"].as_str().unwrap()) > first);
    // --until is the first time no longer read: at the last packet it drops it, just after keeps it.
    // (Frames after the session's last, if any, are outside both ways.)
    let through = run(&["--until".into(), rfc3339(last + 1)]);
    let after_last = stat(&through, "frames_outside_window");
    assert_eq!(of_type(&through, "mining_session")[0]["last_seen"], session["last_seen"]);
    let before = run(&["--until".into(), rfc3339(last)]);
    assert!(stat(&before, "frames_outside_window") > after_last);
    assert!(micros(of_type(&before, "mining_session")[0]["last_seen"].as_str().unwrap()) < last);
    // A duration counts from the first packet: 0s is the first packet itself.
    let from_start = run(&["--since".into(), "0s".into()]);
    assert_eq!(stat(&from_start, "frames_outside_window"), 0);
    let nothing = run(&["--until".into(), "0s".into()]);
    assert_eq!(stat(&nothing, "frames_outside_window"), packets);
    assert!(of_type(&nothing, "mining").is_empty());
}

fn sha256_hex(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Replays `capture` with `--pcap-dir`, checks every session's evidence file against its
/// record, and that each file alone replays to the same alert. Returns the evidence objects.
fn check_evidence(capture: &Path, workers: &str) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let pd = dir.path().join("evidence");
    let recs = records(&args(&[
        "-q",
        "--stats-interval",
        "0",
        "--workers",
        workers,
        "--pcap-dir",
        &s(&pd),
        "-r",
        &s(capture),
    ]));
    let alerts = of_type(&recs, "mining");
    let sessions = of_type(&recs, "mining_session");
    assert!(!sessions.is_empty());
    assert_eq!(stat(&recs, "evidence_files"), sessions.len() as u64);
    let validator = jsonschema::validator_for(&crate::schemas::alert_schema()).expect("schema compiles");
    let mut found = Vec::new();
    for sess in &sessions {
        assert!(validator.is_valid(sess), "{sess}");
        let e = &sess["evidence"];
        let file = pd.join(e["file"].as_str().expect("evidence.file"));
        assert_eq!(e["sha256"].as_str().unwrap(), sha256_hex(&file));
        let data = std::fs::read(&file).unwrap();
        assert_eq!(e["bytes"].as_u64(), Some(data.len() as u64));
        let packets = util::capture_records(&data).expect("a well-formed pcap");
        assert_eq!(e["packets"].as_u64(), Some(packets.len() as u64));
        // Only the session's packets, from its first (the SYN is the first packet of the file).
        let (client, port) = (sess["src_ip"].as_str().unwrap(), sess["src_port"].as_u64().unwrap() as u16);
        for p in &packets {
            let (a, ap, b, bp) = p.tcp.expect("TCP");
            assert!(
                (util::canonical_ip(&a) == client && ap == port)
                    || (util::canonical_ip(&b) == client && bp == port),
                "{}: a packet of another connection",
                file.display()
            );
        }
        // Alone, the file gives the same alert and the same session.
        let alone = records(&args(&["-q", "-r", &s(&file)]));
        let alert = alerts
            .iter()
            .find(|a| a["flow_id"] == sess["flow_id"])
            .unwrap_or_else(|| panic!("no alert for {sess}"));
        let again = of_type(&alone, "mining");
        assert_eq!(again.len(), 1, "{alone:?}");
        let strip = |v: &Value| {
            let mut v = v.clone();
            v.as_object_mut().map(|o| o.remove("pcap_filename"));
            v
        };
        assert_eq!(strip(again[0]), strip(alert), "{}", file.display());
        let again = of_type(&alone, "mining_session");
        assert_eq!(again[0]["stratum"], sess["stratum"]);
        assert_eq!(again[0]["first_seen"], sess["first_seen"]);
        found.push(e.clone());
    }
    found
}

#[test]
fn every_alerted_session_gets_an_evidence_file_that_replays_alone_to_the_same_alert() {
    for workers in ["1", "2"] {
        let ev = check_evidence(&pcap("sv1-cpuminer.pcap"), workers);
        assert_eq!(ev.len(), 1);
        let ev = check_evidence(&pcap("two-miners.pcap"), workers);
        assert_eq!(ev.len(), 2);
        // Other link types: Linux cooked capture v2 over IPv6, raw IP, and pcapng.
        for f in ["ethproxy-ipv6-destopts-sll2.pcap", "cryptonote-raw-ip.pcap", "cryptonote-xmrig.pcapng"] {
            assert_eq!(check_evidence(&pcap(f), workers).len(), 1, "{f}");
        }
    }
}

#[test]
fn no_evidence_for_what_does_not_alert_and_the_bounds_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let pd = dir.path().join("ev");
    // Not mining: nothing written, the first packets all let go.
    let recs = records(&args(&[
        "-q",
        "--stats-interval",
        "0",
        "--pcap-dir",
        &s(&pd),
        "-r",
        &s(&pcap("neg-chat.pcap")),
    ]));
    assert_eq!(stat(&recs, "evidence_files"), 0);
    assert_eq!(std::fs::read_dir(&pd).unwrap().count(), 0);
    // A session file cut at 3 packets: what is left out is counted, the file still hashes.
    let recs = records(&args(&[
        "-q",
        "--stats-interval",
        "0",
        "--pcap-dir",
        &s(&pd),
        "--pcap-session-packets",
        "3",
        "-r",
        &s(&pcap("sv1-cpuminer.pcap")),
    ]));
    let sess = of_type(&recs, "mining_session")[0].clone();
    assert_eq!(sess["evidence"]["packets"], 3);
    assert!(stat(&recs, "evidence_session_cut") > 0);
    let file = pd.join(sess["evidence"]["file"].as_str().unwrap());
    assert_eq!(sess["evidence"]["sha256"].as_str().unwrap(), sha256_hex(&file));
    // Two first packets per flow: the rest before the alert are counted as not kept.
    let pd2 = dir.path().join("ev2");
    let recs = records(&args(&[
        "-q",
        "--stats-interval",
        "0",
        "--pcap-dir",
        &s(&pd2),
        "--pcap-first-packets",
        "2",
        "-r",
        &s(&pcap("sv1-cpuminer.pcap")),
    ]));
    assert!(stat(&recs, "evidence_first_dropped") > 0);
    // A directory too small for two files keeps the newest and counts the one removed.
    let pd3 = dir.path().join("ev3");
    let a = s(&pcap("sv1-cpuminer.pcap"));
    let b = s(&pcap("cryptonote-xmrig.pcap"));
    let one = std::fs::metadata(pd.join(sess["evidence"]["file"].as_str().unwrap())).unwrap().len();
    assert!(one < 1 << 20);
    let recs = records(&args(&[
        "-q",
        "--stats-interval",
        "0",
        "--pcap-dir",
        &s(&pd3),
        "--pcap-dir-mb",
        "1",
        "-r",
        &a,
        &b,
    ]));
    assert_eq!(stat(&recs, "evidence_files"), 2);
    assert_eq!(stat(&recs, "evidence_files_removed"), 0, "two small files fit in 1 MiB");
}

#[test]
fn the_evidence_is_in_every_format_and_eve_still_validates() {
    let dir = tempfile::tempdir().unwrap();
    let pd = dir.path().join("ev");
    let f = s(&pcap("sv1-cpuminer.pcap"));
    let run = |format: &str| {
        let out = util::run(&["-q", "--format", format, "--pcap-dir", &s(&pd), "-r", &f], None);
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        out.stdout
    };
    let json = run("json");
    let sess: Value = json
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["event_type"] == "mining_session")
        .unwrap();
    let (file, sha) = (
        sess["evidence"]["file"].as_str().unwrap().to_string(),
        sess["evidence"]["sha256"].as_str().unwrap().to_string(),
    );
    let eve = run("eve");
    let flow: Value = eve
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["event_type"] == "flow")
        .unwrap();
    assert_eq!(flow["capture_file"], file.as_str());
    assert_eq!(flow["files"][0]["sha256"], sha.as_str());
    if let Some(schema) = crate::schemas::eve_schema() {
        let v = jsonschema::validator_for(&schema).expect("compiles");
        let errors: Vec<String> = v.iter_errors(&flow).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}\n{flow}");
    } else {
        eprintln!("SKIPPED: EVE schema check: ../shared/schemas/suricata-eve.schema.json is absent");
    }
    let ecs = run("ecs");
    let doc: Value = ecs
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["event"]["action"] == "mining_session")
        .unwrap();
    assert_eq!(doc["minewatch"]["evidence"]["sha256"], sha.as_str());
    let cef = run("cef");
    let line = cef.lines().find(|l| l.contains("fileId=")).expect("a CEF session record");
    assert!(line.contains(&format!("fileId={file}")) && line.contains(&format!("fileHash={sha}")), "{line}");
    assert!(line.contains("cfp3Label=evidencePackets cfp3=43"), "{line}");
    assert!(line.contains(&format!("cfp4Label=evidenceBytes cfp4={}", sess["evidence"]["bytes"])), "{line}");
}

/// What an evidence file cannot hold: the DNS answer, another flow, that named the pool of a
/// TLS session without SNI.
const EVIDENCE_CANNOT_REPLAY: [&str; 1] = ["tls-dns-no-sni.pcap"];

#[test]
fn every_alert_of_the_bundled_captures_comes_back_from_its_evidence_file_alone() {
    for workers in ["1", "2"] {
        let dir = tempfile::tempdir().unwrap();
        let pd = dir.path().join("ev");
        let base = ["-q", "--stats-interval", "0", "--workers", workers];
        let first = util::run(&[&base[..], &["--pcap-dir", &s(&pd), "-r", &s(&pcaps_dir())]].concat(), None);
        let recs: Vec<Value> = first.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let again = records(&args(&[&base[..], &["-r", &s(&pd)]].concat()));
        let sessions = of_type(&recs, "mining_session");
        assert!(sessions.len() > 30, "{}", first.stderr);
        assert_eq!(stat(&recs, "evidence_files"), sessions.len() as u64);
        assert_eq!(std::fs::read_dir(&pd).unwrap().count(), sessions.len());
        let strip = |v: &Value| {
            let mut v = v.clone();
            v.as_object_mut().map(|o| o.remove("pcap_filename"));
            v
        };
        let mut compared = 0;
        for alert in of_type(&recs, "mining") {
            let file = alert["pcap_filename"].as_str().unwrap_or_default();
            if EVIDENCE_CANNOT_REPLAY.iter().any(|f| file.ends_with(f)) {
                continue;
            }
            // A session decided by its behaviour was watched for minutes before its alert:
            // more packets than a flow's first-packet buffer keeps (`--pcap-first-packets`,
            // `--pcap-first-bytes`), so its file has a hole between them and the alert
            // (`evidence_first_dropped`), and the watch, which needs every record, stops at it.
            if alert["stratum"]["clue"] == "behaviour" {
                assert!(stat(&recs, "evidence_first_dropped") > 0, "{alert}");
                continue;
            }
            let back = of_type(&again, "mining")
                .into_iter()
                .find(|a| a["flow_id"] == alert["flow_id"])
                .unwrap_or_else(|| {
                    panic!("{workers} workers: no alert from the evidence of {file}: {alert}")
                });
            assert_eq!(strip(back), strip(alert), "{workers} workers: {file}");
            compared += 1;
        }
        assert!(compared > 30, "{compared}");
    }
}

#[test]
fn the_replay_options_come_from_a_configuration_file_too_and_since_is_refused_live() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("minewatch.toml");
    let pd = dir.path().join("ev");
    let text = format!(
        "read = [{:?}, {:?}]\nsince = \"0s\"\nfilter = \"host 10.20.0.23\"\npcap-dir = {:?}\nstats-interval = 0\nquiet = true\n",
        s(&pcap("two-miners.pcap")),
        s(&pcap("sv1-cpuminer.pcap")),
        s(&pd)
    );
    std::fs::write(&conf, text).unwrap();
    let recs = records(&args(&["--config", &s(&conf)]));
    assert_eq!(clients(&recs, "mining_session"), BTreeSet::from(["\"10.20.0.23\":49200".to_string()]));
    assert_eq!(std::fs::read_dir(&pd).unwrap().count(), 1);
    let out = util::run(&["-i", "lo", "--until", "10m"], None);
    assert_eq!(out.code(), Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("--until"), "{}", out.stderr);
}
