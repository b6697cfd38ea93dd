//! Intelligence in (issue 20): the OFAC SDN address lists loaded as they are, MISP exports and
//! STIX 2.1 bundles as watchlists and pool lists, pool addresses and ranges; replayed on
//! synthetic captures whose logins and servers are the listed ones.
//!
//! The OFAC lists are read from `../shared/intel/ofac-sdn-addresses/` next to the repository
//! (the test says SKIPPED without them); the MISP and STIX files are the fixtures in
//! `tests/intel/`, written after the MISP core format and STIX 2.1 specifications.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use minewatch::stratum::Side;
use minewatch::time::Ts;
use serde_json::Value;
use testkit::synth::encrypted::hello;
use testkit::synth::msg::{self, Rng};
use testkit::synth::{Link, PcapWriter, TcpConversation};

use super::util;

type Writer = PcapWriter<Vec<u8>>;

fn writer() -> Writer {
    PcapWriter::new(Vec::new(), Link::Ethernet.link_type()).unwrap()
}

fn line(s: String) -> Vec<u8> {
    format!("{s}\n").into_bytes()
}

fn conv(client: &str, server: &str, second: i64) -> TcpConversation {
    let (c, s): (SocketAddr, SocketAddr) = (client.parse().unwrap(), server.parse().unwrap());
    TcpConversation::new(c, s, Ts::from_timeval(1_715_700_000 + second, 0), Link::Ethernet)
}

/// A Stratum V1 session logging in as `login`.
fn sv1(w: &mut Writer, client: &str, server: &str, second: i64, login: &str) {
    let mut t = conv(client, server, second);
    t.handshake(w).unwrap();
    t.client_sends(w, &line(msg::sv1_subscribe(1, "cpuminer/2.5.1", false))).unwrap();
    t.server_sends(w, &line(msg::sv1_subscribe_result(1, "f000000f"))).unwrap();
    t.client_sends(w, &line(msg::sv1_authorize(2, login, false))).unwrap();
    t.server_sends(w, &line(msg::sv1_result_true(2))).unwrap();
    t.close_fin(w, Side::A).unwrap();
}

/// An XMRig-style (CryptoNote) session logging in as `login`.
fn xmr(w: &mut Writer, client: &str, server: &str, second: i64, login: &str) {
    let mut rng = Rng::new(second as u64);
    let mut t = conv(client, server, second);
    t.handshake(w).unwrap();
    t.client_sends(w, &line(msg::xmr_login(1, login, "x", "rig1"))).unwrap();
    let seed = rng.hex(64);
    let body = msg::xmr_job_body(&mut rng, "s1", 1, 3_100_000, &seed);
    t.server_sends(w, &line(msg::xmr_login_result(1, "s1", &body))).unwrap();
    t.close_fin(w, Side::A).unwrap();
}

/// A TLS connection whose ClientHello names `sni` (or none), with a few records each way.
fn tls(w: &mut Writer, client: &str, server: &str, second: i64, sni: Option<&str>) {
    let mut rng = Rng::new(second as u64);
    let mut t = conv(client, server, second);
    t.handshake(w).unwrap();
    t.client_sends(w, &hello(&mut rng, sni, &[])).unwrap();
    let mut flight = vec![0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00];
    flight.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x10]);
    flight.extend_from_slice(&[0xab; 16]);
    t.server_sends(w, &flight).unwrap();
    t.client_sends(w, &[0x17, 0x03, 0x03, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    t.close_fin(w, Side::A).unwrap();
}

fn save(w: Writer, dir: &Path) -> PathBuf {
    let path = dir.join("c.pcap");
    std::fs::write(&path, w.into_inner().unwrap()).unwrap();
    path
}

/// Replays `pcap` with `args` added; the `mining` records (JSON), or the whole run on failure.
fn mining(pcap: &Path, args: &[String]) -> Vec<Value> {
    let mut all: Vec<String> = vec!["-q".into(), "--stats-interval".into(), "0".into(), "-r".into()];
    all.push(pcap.display().to_string());
    all.extend(args.iter().cloned());
    let out = util::run(&all, None);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    out.stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["event_type"] == "mining")
        .collect()
}

/// The one `mining` record whose client is `client` (`ip:port`).
fn of<'a>(recs: &'a [Value], client: &str) -> &'a Value {
    let (ip, port) = client.rsplit_once(':').unwrap();
    let port: u64 = port.parse().unwrap();
    let found: Vec<&Value> =
        recs.iter().filter(|v| v["src_ip"] == ip.trim_matches(['[', ']']) && v["src_port"] == port).collect();
    assert_eq!(found.len(), 1, "records of {client}: {found:?}\nall: {recs:#?}");
    found[0]
}

fn ofac_dir() -> PathBuf {
    util::repo_root().join("../shared/intel/ofac-sdn-addresses")
}

/// The first line of an OFAC list that satisfies `keep`.
fn listed(file: &str, keep: impl Fn(&str) -> bool) -> String {
    let text = std::fs::read_to_string(ofac_dir().join(file)).unwrap();
    text.lines()
        .map(str::trim)
        .find(|l| keep(l))
        .unwrap_or_else(|| panic!("no usable address in {file}"))
        .into()
}

#[test]
fn ofac_lists_load_as_they_are_and_flag_a_listed_wallet() {
    let dir = ofac_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("SKIPPED: {} is absent", dir.display());
        return;
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    // A Monero address (95 characters, 4 or 8 first), and a Bitcoin one, as the lists hold them.
    let xmr_addr = listed("sanctioned_addresses_XMR.txt", |l| l.len() == 95 && l.starts_with(['4', '8']));
    let btc_addr = listed("sanctioned_addresses_XBT.txt", |l| !l.is_empty());

    let t = tempfile::tempdir().unwrap();
    let mut w = writer();
    xmr(&mut w, "10.9.0.1:40001", "198.51.100.50:3333", 0, &format!("{xmr_addr}.rig7"));
    sv1(&mut w, "10.9.0.2:40002", "198.51.100.51:3333", 10, &format!("{btc_addr}.worker1"));
    sv1(&mut w, "10.9.0.3:40003", "198.51.100.52:3333", 20, "bc1qnotlistedatall0000000000000000000000.w");
    let pcap = save(w, t.path());

    let mut args = Vec::new();
    for f in &files {
        args.push("--watchlist".to_string());
        args.push(f.display().to_string());
    }
    // Every list loads (the .txt and the .json of each asset), as --test-config shows.
    let mut check = args.clone();
    check.extend(["-T".into(), "-r".into(), pcap.display().to_string()]);
    let out = util::run(&check, None);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let shown = out.stdout.matches("sanctioned_addresses_").count();
    assert_eq!(shown, files.len(), "{}", out.stdout);

    args.extend([
        "-o".into(),
        format!("eve:{}", t.path().join("eve.json").display()),
        "-o".into(),
        "-".into(),
    ]);
    let recs = mining(&pcap, &args);
    let x = of(&recs, "10.9.0.1:40001");
    assert_eq!(
        (x["severity"].as_u64(), x["watchlist_label"].as_str()),
        (Some(1), Some("sanctioned_addresses_XMR"))
    );
    let b = of(&recs, "10.9.0.2:40002");
    assert_eq!(
        (b["severity"].as_u64(), b["watchlist_label"].as_str()),
        (Some(1), Some("sanctioned_addresses_XBT"))
    );
    let n = of(&recs, "10.9.0.3:40003");
    assert_eq!((n["severity"].as_u64(), n.get("watchlist_label")), (Some(2), None));

    // EVE carries the same label, in alert.metadata.
    let eve = std::fs::read_to_string(t.path().join("eve.json")).unwrap();
    let labels: Vec<Value> = eve
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["event_type"] == "alert")
        .map(|v| v["alert"]["metadata"]["watchlist_label"].clone())
        .collect();
    assert!(labels.contains(&serde_json::json!(["sanctioned_addresses_XMR"])), "{labels:?}");
}

const MISP_BTC: &str = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
const CSV_XMR: &str =
    "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A";
const STIX_XMR: &str =
    "48edfHu7V9Z84YzzMa6fUueoELZ9ZRXq9VetWzYGzKt52XU5xvqgzYnDK9URnRoJMk1j8nLwEVsaSWJ4fhdUyZijBGUicoD";

fn fixture(name: &str) -> String {
    util::repo_root().join("tests/intel").join(name).display().to_string()
}

#[test]
fn misp_and_stix_files_feed_the_watchlist_and_the_pool_list() {
    let t = tempfile::tempdir().unwrap();
    let pools = t.path().join("pools.txt");
    std::fs::write(&pools, "# our own\nplain-pool.example\n192.0.2.64/26\n").unwrap();
    let mut w = writer();
    // Wallets: MISP JSON (btc), MISP CSV (xmr), STIX (custom wallet object).
    sv1(&mut w, "10.8.0.1:41001", "198.51.100.60:3333", 0, &format!("{MISP_BTC}.a"));
    xmr(&mut w, "10.8.0.2:41002", "198.51.100.61:3333", 10, CSV_XMR);
    xmr(&mut w, "10.8.0.3:41003", "198.51.100.62:3333", 20, &format!("{STIX_XMR}+5000"));
    // Pools: by SNI (MISP domain), by address (STIX range, MISP IPv6, the plain list's range),
    // and two that are on no list (a name, and an address not in any range).
    tls(&mut w, "10.8.0.4:41004", "198.51.100.63:443", 30, Some("eu.misp-pool.example"));
    tls(&mut w, "10.8.0.5:41005", "203.0.113.77:443", 40, None);
    tls(&mut w, "[2001:db8:8::5]:41006", "[2001:db8:117::7]:443", 50, Some("cdn.example.net"));
    tls(&mut w, "10.8.0.7:41007", "192.0.2.70:443", 60, Some("front.example.org"));
    tls(&mut w, "10.8.0.8:41008", "198.51.100.64:443", 70, Some("www.example.com"));
    tls(&mut w, "10.8.0.9:41009", "192.0.2.200:443", 80, None);
    let pcap = save(w, t.path());

    // The MISP files given as watchlists and the STIX bundle as a pool list: each feeds both.
    let args: Vec<String> = [
        "--home-net",
        "10.0.0.0/8,2001:db8:8::/48",
        "--watchlist",
        &fixture("misp-event.json"),
        "--watchlist",
        &format!("misp:{}", fixture("misp-attributes.csv")),
        "--pool-list",
        &fixture("stix-bundle.json"),
        "--pool-list",
        &pools.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();

    let mut check = args.clone();
    check.extend(["-T".into(), "-r".into(), pcap.display().to_string()]);
    let out = util::run(&check, None);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    for expect in [
        "misp-event.json: MISP JSON, 2 pool domains, 2 pool addresses/ranges, 1 wallets, 1 entries of other kinds skipped",
        "misp-attributes.csv: MISP CSV, 1 pool domains, 1 pool addresses/ranges, 1 wallets, 1 entries of other kinds skipped",
        "stix-bundle.json: STIX 2.1 bundle, 2 pool domains, 2 pool addresses/ranges, 1 wallets, 5 entries of other kinds skipped",
    ] {
        assert!(out.stdout.contains(expect), "no {expect:?} in\n{}", out.stdout);
    }

    let recs = mining(&pcap, &args);
    let label = |c: &str| {
        let r = of(&recs, c);
        (r["severity"].as_u64(), r["watchlist_label"].as_str().map(str::to_string))
    };
    assert_eq!(label("10.8.0.1:41001"), (Some(1), Some("Cryptojacking campaign IR-117".into())));
    assert_eq!(label("10.8.0.2:41002"), (Some(1), Some("misp-attributes".into())));
    assert_eq!(label("10.8.0.3:41003"), (Some(1), Some("Operator wallet (case 2024-31)".into())));
    let clue = |c: &str| {
        let r = of(&recs, c);
        (
            r["stratum"]["clue"].as_str().map(str::to_string),
            r["stratum"]["pool_host"].as_str().map(str::to_string),
        )
    };
    assert_eq!(clue("10.8.0.4:41004"), (Some("sni".into()), Some("eu.misp-pool.example".into())));
    assert_eq!(clue("10.8.0.5:41005"), (Some("pool-list".into()), None));
    assert_eq!(clue("[2001:db8:8::5]:41006"), (Some("pool-list".into()), Some("cdn.example.net".into())));
    assert_eq!(clue("10.8.0.7:41007"), (Some("pool-list".into()), Some("front.example.org".into())));
    let others: Vec<&Value> =
        recs.iter().filter(|v| v["src_ip"] == "10.8.0.8" || v["src_ip"] == "10.8.0.9").collect();
    assert!(others.is_empty(), "sessions on no list were reported: {others:?}");
    for r in &recs {
        let problems = util::contract_violations(r);
        assert!(problems.is_empty(), "{problems:?}: {r}");
    }
}

#[test]
fn bad_intelligence_files_are_one_line_naming_the_file() {
    let t = tempfile::tempdir().unwrap();
    let pcap = t.path().join("empty.pcap");
    std::fs::write(&pcap, writer().into_inner().unwrap()).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("broken.json", b"{\"type\": \"bundle\", \"objects\": [".to_vec(), "not valid STIX bundle"),
        (
            "attrs.json",
            br#"{"Attribute": [{"type": "domain", "value": "not a domain"}]}"#.to_vec(),
            "MISP JSON entry \"not a domain\"",
        ),
        (
            "feed.csv",
            b"uuid,event_id,category,type,value\n\"u\",1,\"x\",\"xmr\",\"a.b\"\n".to_vec(),
            "is not a bare address",
        ),
        ("list.json", b"[\"198.51.100.0/33\"]".to_vec(), "JSON list entry"),
        ("binary.txt", vec![0xff, 0xfe, 0x00], "not UTF-8 text"),
    ];
    for (name, body, expect) in cases {
        let path = t.path().join(name);
        std::fs::write(&path, body).unwrap();
        let out =
            util::run(&["--pool-list".as_ref(), path.as_os_str(), "-r".as_ref(), pcap.as_os_str()], None);
        assert_eq!(out.code(), Some(2), "{}", out.describe());
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{}", out.describe());
        assert!(lines[0].contains(&path.display().to_string()) && lines[0].contains(expect), "{}", lines[0]);
    }
    // Over the size bound: refused whole, not cut (a sparse file: nothing written).
    let big = t.path().join("big.txt");
    std::fs::File::create(&big).unwrap().set_len(minewatch::intel::feeds::MAX_FILE_BYTES + 1).unwrap();
    let out = util::run(&["--watchlist".as_ref(), big.as_os_str(), "-r".as_ref(), pcap.as_os_str()], None);
    assert_eq!(out.code(), Some(2), "{}", out.describe());
    assert!(out.stderr.contains("larger than 64 MiB"), "{}", out.describe());
}

/// The bundle a real producer writes: the `stix2` Python library (PyPI; `scripts/test.sh`
/// installs it) makes the indicators, minewatch reads them.
const STIX2_PRODUCER: &str = r#"
import sys
import stix2

wallet, out = sys.argv[1], sys.argv[2]
cert = stix2.Identity(name="Regional CERT", identity_class="organization")
objects = [
    cert,
    stix2.Indicator(name="Pool front", pattern="[domain-name:value = 'py-pool.example']",
                    pattern_type="stix", created_by_ref=cert, indicator_types=["malicious-activity"]),
    stix2.Indicator(name="Pool range", pattern="[ipv4-addr:value ISSUBSET '198.18.0.0/15']",
                    pattern_type="stix", created_by_ref=cert),
    stix2.Indicator(name="Operator wallet", pattern=f"[x-cryptocurrency-wallet:address = '{wallet}']",
                    pattern_type="stix", created_by_ref=cert),
]
with open(out, "w") as f:
    f.write(stix2.Bundle(objects=objects).serialize(pretty=True))
"#;

#[test]
fn a_bundle_written_by_the_stix2_library_is_read() {
    let Some(py) = util::pytools(&["stix2"]) else {
        println!("SKIPPED: the stix2 Python library is not installed (scripts/test.sh installs it)");
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let bundle = t.path().join("from-stix2.json");
    let out =
        std::process::Command::new(&py).args(["-c", STIX2_PRODUCER, CSV_XMR]).arg(&bundle).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let mut w = writer();
    xmr(&mut w, "10.7.0.1:42001", "198.51.100.90:3333", 0, &format!("{CSV_XMR}.rig"));
    tls(&mut w, "10.7.0.2:42002", "198.51.100.91:443", 10, Some("eu.py-pool.example"));
    tls(&mut w, "10.7.0.3:42003", "198.19.4.5:443", 20, None);
    let pcap = save(w, t.path());
    // Given as a watchlist: its pools still go to the pool list.
    let recs = mining(&pcap, &["--watchlist".into(), bundle.display().to_string()]);
    let x = of(&recs, "10.7.0.1:42001");
    assert_eq!((x["severity"].as_u64(), x["watchlist_label"].as_str()), (Some(1), Some("Operator wallet")));
    assert_eq!(of(&recs, "10.7.0.2:42002")["stratum"]["clue"], "sni");
    assert_eq!(of(&recs, "10.7.0.3:42003")["stratum"]["clue"], "pool-list");
}
