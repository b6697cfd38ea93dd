//! The report (`--report`, `--report-json`) and the intelligence exports (`--export-stix`,
//! `--export-misp`), checked with the tools their readers use: the page is loaded in headless
//! Chromium (Debian's `chromium`) and its rendered DOM searched; the bundle is parsed by the
//! `stix2` Python library with every indicator pattern through `stix2-patterns`' validator, and
//! the event by `pymisp`. scripts/test.sh installs them (`ensure_chromium`,
//! `ensure_report_python`: a virtual environment in `target/pytools`); without them those tests
//! say SKIPPED.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use minewatch::stratum::Side;
use minewatch::time::Ts;
use serde_json::Value;
use testkit::synth::{msg, Link, PcapWriter, TcpConversation};

use crate::util::{self, Expect, TruthSet};

/// Headless Chromium, if installed.
fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].iter().map(PathBuf::from).find(|p| p.is_file())
}

/// The rendered DOM of the page at `page`, as headless Chromium leaves it. The flags keep it
/// from reaching for the network (the test machine has none) and from a first-run setup.
fn dump_dom(chromium: &Path, page: &Path, scratch: &Path) -> String {
    let profile = scratch.join("chromium-profile");
    let out = Command::new("timeout")
        .arg("300")
        .arg(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The project's captures with their truth: every file named in pcaps/TRUTH.tsv.
fn truth() -> TruthSet {
    TruthSet::load(&util::pcaps_dir().join("TRUTH.tsv")).expect("pcaps/TRUTH.tsv")
}

/// Replays `files` with the report and both exports asked for; returns the run's JSON records.
fn replay_with_reports(files: &[PathBuf], dir: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args: Vec<String> = vec!["-q".into(), "--sensor-name".into(), "sensor-ir".into()];
    for f in files {
        args.push("-r".into());
        args.push(f.display().to_string());
    }
    for (opt, name) in [
        ("--report", "report.html"),
        ("--report-json", "report.json"),
        ("--export-stix", "bundle.json"),
        ("--export-misp", "misp.json"),
    ] {
        args.push(opt.into());
        args.push(dir.join(name).display().to_string());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let out = util::run(&args, None);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    out.stdout.lines().map(|l| serde_json::from_str(l).expect("a JSON record")).collect()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).expect("the file was written")).expect("JSON")
}

/// Every mining host of the project's captures (replayed together) has its row in the page as
/// Chromium renders it, with its timeline, and the page has its hash-rate plot; the JSON report
/// names the same hosts.
#[test]
fn the_page_shows_every_mining_host_of_a_replay_when_rendered_by_chromium() {
    let set = truth();
    let files: Vec<PathBuf> = set.files().iter().map(|f| set.dir.join(f)).collect();
    let dir = tempfile::tempdir().unwrap();
    let records = replay_with_reports(&files, dir.path(), &[]);
    let hosts: BTreeSet<String> = set
        .rows
        .iter()
        .filter(|r| r.expect == Expect::Mining)
        .filter_map(|r| r.client.ip.map(|ip| ip.to_string()))
        .collect();
    assert!(hosts.len() > 20, "too few mining hosts in pcaps/TRUTH.tsv: {}", hosts.len());
    let json = read_json(&dir.path().join("report.json"));
    let in_json: BTreeSet<String> =
        json["hosts"].as_array().unwrap().iter().map(|h| h["ip"].as_str().unwrap().to_string()).collect();
    let in_records: BTreeSet<String> =
        records.iter().filter_map(|r| r["src_ip"].as_str().map(str::to_string)).collect();
    assert_eq!(in_json, in_records, "the report's hosts are not the records' hosts");
    for h in &hosts {
        assert!(in_json.contains(h), "mining host {h} missing from the JSON report");
    }
    assert_eq!(json["format"], "minewatch-report/1");
    assert_eq!(json["summary"]["mining_hosts"].as_u64(), Some(in_json.len() as u64));

    let Some(chromium) = chromium() else {
        eprintln!("SKIPPED: chromium is not installed (scripts/lib.sh installs Debian's chromium)");
        return;
    };
    let dom = dump_dom(&chromium, &dir.path().join("report.html"), dir.path());
    for h in &hosts {
        let id = format!("id=\"host-{}\"", h.replace(':', "-"));
        assert!(dom.contains(&id), "host {h} has no row in the rendered page");
    }
    assert!(dom.contains("<svg id=\"hashrate-total\""), "no hash-rate plot");
    assert!(dom.matches("<svg class=\"timeline\"").count() >= hosts.len(), "a host has no timeline");
    assert!(dom.contains("class=\"session confirmed"), "no session bar drawn");
    assert!(dom.contains("<polyline class=\"line\""), "the hash-rate plot has no line");
    assert!(dom.contains("id=\"pool-table\"") && dom.contains("id=\"wallet-table\""));
}

/// `n` miners (10.100.x.y), each with one Stratum V1 session to one of a few pools: subscribe,
/// authorize, difficulty, a job and two accepted shares. Miner 0's worker name is markup.
fn many_miners_capture(path: &Path, n: usize) {
    let mut w = PcapWriter::new(Vec::new(), Link::Ethernet.link_type()).unwrap();
    let line = |s: String| format!("{s}\n").into_bytes();
    let mut rng = testkit::synth::msg::Rng::new(7);
    for i in 0..n {
        let client = SocketAddr::from(([10, 100, (i / 250) as u8, (i % 250 + 1) as u8], 40000));
        let pool = SocketAddr::from(([198, 51, 100, 40 + (i % 4) as u8], 3333));
        let start = Ts::from_timeval(1_700_000_000 + i as i64, 0);
        let mut t = TcpConversation::new(client, pool, start, Link::Ethernet);
        let login = if i == 0 {
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4.<script>alert(\\\"x\\\")</script>".to_string()
        } else {
            format!("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4.rig{i}")
        };
        t.handshake(&mut w).unwrap();
        t.client_sends(&mut w, &line(msg::sv1_subscribe(1, "cpuminer/2.5.1", false))).unwrap();
        t.server_sends(&mut w, &line(msg::sv1_subscribe_result(1, "f000000f"))).unwrap();
        t.client_sends(
            &mut w,
            &line(format!("{{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"{login}\",\"x\"]}}")),
        )
        .unwrap();
        t.server_sends(&mut w, &line(msg::sv1_result_true(2))).unwrap();
        t.server_sends(&mut w, &line(msg::sv1_set_difficulty("1024", false))).unwrap();
        let (notify, job) = msg::sv1_notify(&mut rng, "j1", 800_000, true, false);
        t.server_sends(&mut w, &line(notify)).unwrap();
        for k in 0..2u32 {
            t.pause_ms(20_000);
            let submit = msg::sv1_submit("rig", &job, "6650a000", &format!("{:08x}", k), false);
            let submit = submit.replace("\"id\":4", &format!("\"id\":{}", 10 + k));
            t.client_sends(&mut w, &line(submit)).unwrap();
            t.server_sends(&mut w, &line(msg::sv1_result_true(10 + k))).unwrap();
        }
        t.close_fin(&mut w, Side::A).unwrap();
    }
    std::fs::write(path, w.into_inner().unwrap()).unwrap();
}

/// A report of 1,000 mining hosts: all of them in the page Chromium renders, each with its
/// timeline; and a worker name chosen to be markup stays text (the page has no script element,
/// and Chromium shows the name as typed). Chromium's time to render it is printed, not asserted.
#[test]
fn a_thousand_mining_hosts_all_render_and_a_hostile_worker_name_stays_text() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("many.pcap");
    many_miners_capture(&pcap, 1000);
    let records = replay_with_reports(&[pcap], dir.path(), &["--report-max-sessions", "4"]);
    let clients: BTreeSet<String> =
        records.iter().filter_map(|r| r["src_ip"].as_str().map(str::to_string)).collect();
    assert_eq!(clients.len(), 1000, "the capture does not hold 1,000 reported miners");
    let page = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(!page.contains("<script"), "a tag from the wire reached the page");
    assert!(page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"), "the login was not escaped");
    let Some(chromium) = chromium() else {
        eprintln!("SKIPPED: chromium is not installed (scripts/lib.sh installs Debian's chromium)");
        return;
    };
    let started = Instant::now();
    let dom = dump_dom(&chromium, &dir.path().join("report.html"), dir.path());
    eprintln!(
        "chromium rendered the 1,000-host page ({} KiB) in {:.2} s",
        page.len() / 1024,
        started.elapsed().as_secs_f64()
    );
    for c in &clients {
        assert!(dom.contains(&format!("id=\"host-{c}\"")), "host {c} missing from the rendered page");
    }
    assert_eq!(dom.matches("<tr class=\"host\"").count(), 1000);
    assert_eq!(dom.matches("<svg class=\"timeline\"").count(), 1000);
    // Chromium serialises the text back escaped: it was text, never an element.
    assert!(!dom.contains("<script"), "the worker name became an element");
    assert!(
        dom.contains("&lt;script&gt;alert(\"x\")&lt;/script&gt;"),
        "the worker name is not shown as text"
    );
}

/// Validates the bundle with `stix2` (every object, custom ones allowed) and each indicator
/// pattern with `stix2-patterns`, loads the MISP event with `pymisp`, and prints what they hold.
const CHECK_EXPORTS: &str = r#"
import json, sys
import stix2
from stix2patterns.validator import run_validator
from pymisp import MISPEvent
bundle = stix2.parse(open(sys.argv[1]).read(), allow_custom=True)
out = {"ipv4": [], "ipv6": [], "domains": [], "wallets": [], "software": [], "sightings": 0, "types": []}
for o in bundle.objects:
    t = o["type"]
    out["types"].append(t)
    if t == "indicator":
        errors = run_validator(o["pattern"])
        if errors:
            sys.exit("invalid pattern %r: %s" % (o["pattern"], errors))
        kind, value = o["pattern"][1:-1].split(":value = ")
        value = value[1:-1].replace("\\'", "'").replace("\\\\", "\\")
        out[{"ipv4-addr": "ipv4", "ipv6-addr": "ipv6", "domain-name": "domains"}[kind]].append(value)
    elif t == "x-minewatch-wallet":
        out["wallets"].append(o["address"])
    elif t == "software":
        out["software"].append(o["name"])
    elif t == "sighting":
        out["sightings"] += 1
event = MISPEvent()
event.load(open(sys.argv[2]).read())
out["misp"] = sorted([a.type, a.value] for a in event.attributes)
out["misp_tags"] = sorted(t.name for t in event.tags)
print(json.dumps(out))
"#;

/// The bundle and the event of a replay of the project's mining captures hold every pool and
/// every wallet the records name (and so every pool of TRUTH.tsv), pass the STIX and MISP
/// libraries, and are the same, byte for byte, when the replay is run again. The negative
/// captures alone export no indicator, wallet or software.
#[test]
fn the_exports_hold_every_pool_and_wallet_and_pass_stix2_and_pymisp() {
    let set = truth();
    let mining: Vec<PathBuf> = set
        .files()
        .iter()
        .filter(|f| set.rows_for(f).iter().any(|r| r.expect == Expect::Mining))
        .map(|f| set.dir.join(f))
        .collect();
    let negatives: Vec<PathBuf> = set
        .files()
        .iter()
        .filter(|f| set.rows_for(f).iter().all(|r| r.expect == Expect::None))
        .map(|f| set.dir.join(f))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let records = replay_with_reports(&mining, dir.path(), &["--export-tlp", "green"]);
    let bundle = read_json(&dir.path().join("bundle.json"));
    let again = tempfile::tempdir().unwrap();
    replay_with_reports(&mining, again.path(), &["--export-tlp", "green"]);
    assert_eq!(
        std::fs::read(dir.path().join("bundle.json")).unwrap(),
        std::fs::read(again.path().join("bundle.json")).unwrap(),
        "two exports of the same captures differ"
    );
    assert_eq!(
        std::fs::read(dir.path().join("misp.json")).unwrap(),
        std::fs::read(again.path().join("misp.json")).unwrap(),
        "two MISP exports of the same captures differ"
    );

    let record_pools: BTreeSet<String> =
        records.iter().filter_map(|r| r["dest_ip"].as_str().map(str::to_string)).collect();
    let record_wallets: BTreeSet<String> =
        records.iter().filter_map(|r| r["stratum"]["wallet"].as_str().map(str::to_string)).collect();
    // Pool names as indicators: an HTTP Host's port dropped, an address left out (it is the
    // pool's address).
    let record_names: BTreeSet<String> = records
        .iter()
        .filter_map(|r| r["stratum"]["pool_host"].as_str())
        .map(|h| h.rsplit_once(':').map_or(h, |(name, _)| name).to_string())
        .filter(|h| h.parse::<std::net::IpAddr>().is_err())
        .collect();
    assert!(!record_wallets.is_empty() && !record_names.is_empty());

    // Without the Python libraries the bundle is still checked as JSON.
    let text = bundle.to_string();
    for p in &record_pools {
        assert!(text.contains(&format!("-addr:value = '{p}']")), "pool {p} not exported");
    }
    for w in &record_wallets {
        assert!(text.contains(&format!("\"address\":{}", serde_json::to_string(w).unwrap())), "wallet {w}");
    }

    let Some(py) = util::pytools(&["stix2", "stix2patterns", "pymisp"]) else {
        eprintln!(
            "SKIPPED (the library checks): no Python with stix2, stix2-patterns and pymisp \
             (scripts/test.sh makes one in target/pytools)"
        );
        return;
    };
    let script = dir.path().join("check.py");
    std::fs::write(&script, CHECK_EXPORTS).unwrap();
    let out = Command::new(&py)
        .arg(&script)
        .arg(dir.path().join("bundle.json"))
        .arg(dir.path().join("misp.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the libraries refused the exports:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).expect("the checker's JSON");
    let set_of = |k: &str| -> BTreeSet<String> {
        seen[k].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
    };
    let mut pools = set_of("ipv4");
    pools.extend(set_of("ipv6"));
    assert_eq!(pools, record_pools, "the bundle's pool addresses are not the records'");
    assert_eq!(set_of("wallets"), record_wallets);
    assert_eq!(set_of("domains"), record_names);
    for r in set.rows.iter().filter(|r| r.expect == Expect::Mining) {
        if let Some(ip) = r.server.ip {
            assert!(pools.contains(&ip.to_string()), "TRUTH.tsv:{} pool {ip} not in the bundle", r.line);
        }
        let wallet = r.login.split(['.', '+']).next().unwrap_or("");
        if record_wallets.contains(wallet) {
            assert!(set_of("wallets").contains(wallet));
        }
    }
    assert!(seen["sightings"].as_u64().unwrap() >= pools.len() as u64);
    assert!(!set_of("software").is_empty());
    let misp = seen["misp"].as_array().unwrap();
    let misp_has = |t: &str, v: &str| misp.iter().any(|a| a[0] == t && a[1] == v);
    for p in &record_pools {
        assert!(misp_has("ip-dst", p), "MISP event lacks pool {p}");
    }
    for n in &record_names {
        assert!(misp_has("domain", n), "MISP event lacks pool name {n}");
    }
    for w in &record_wallets {
        assert!(
            misp_has("btc", w) || misp_has("xmr", w) || misp_has("text", w),
            "MISP event lacks wallet {w}"
        );
    }
    assert!(seen["misp_tags"].as_array().unwrap().iter().any(|t| t == "tlp:green"));

    // The negatives alone: nothing to share.
    let neg = tempfile::tempdir().unwrap();
    let records = replay_with_reports(&negatives, neg.path(), &[]);
    assert!(records.is_empty(), "a negative capture raised a record");
    let b = read_json(&neg.path().join("bundle.json"));
    let types: Vec<&str> =
        b["objects"].as_array().unwrap().iter().map(|o| o["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["marking-definition", "identity"], "the negatives exported something");
    let m = read_json(&neg.path().join("misp.json"));
    assert_eq!(m["Event"]["Attribute"].as_array().map(Vec::len), Some(0));
}

/// A report file that cannot be written stops the run before it reads anything, with one line
/// naming it, rather than after a day of captures.
#[test]
fn a_report_path_that_cannot_be_written_stops_the_run_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("no/such/dir/report.html");
    let pcap = util::pcaps_dir().join("sv1-cpuminer.pcap");
    let out = util::run(
        &["-q".as_ref(), "-r".as_ref(), pcap.as_os_str(), "--report".as_ref(), bad.as_os_str()],
        None,
    );
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "records were written: {}", out.stdout);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(lines[0].starts_with("minewatch: report: ") && lines[0].contains("report.html"), "{}", lines[0]);
}

/// `--test-config` names the report files and refuses one that could not be written.
#[test]
fn the_configuration_check_names_the_report_files_and_refuses_an_unwritable_one() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = util::pcaps_dir().join("sv1-cpuminer.pcap");
    let page = dir.path().join("r.html");
    let bad = dir.path().join("missing/b.json");
    let ok = util::run(
        &["-T".as_ref(), "-r".as_ref(), pcap.as_os_str(), "--report".as_ref(), page.as_os_str()],
        None,
    );
    assert_eq!(ok.code(), Some(0), "{}", ok.stderr);
    assert!(ok.stdout.contains("report:") && ok.stdout.contains("r.html (page"), "{}", ok.stdout);
    assert!(!page.exists(), "the check created the report file");
    let refused = util::run(
        &["-T".as_ref(), "-r".as_ref(), pcap.as_os_str(), "--export-stix".as_ref(), bad.as_os_str()],
        None,
    );
    assert_eq!(refused.code(), Some(2), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("--export-stix ") && refused.stderr.contains("missing"),
        "{}",
        refused.stderr
    );
}
