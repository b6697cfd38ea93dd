//! Sessions inside tunnels, replayed from captures of real software (`pcaps/tunnel-*.pcap`,
//! made by `scripts/mkpcaps-tunnels.sh`: microsocks, dante, tinyproxy, python `websockets`,
//! haproxy; kept as recorded in `testkit/real/`): every record names the tunnel and its target
//! as the handshake stated them, with the inner session's login, dialect and roles, in every
//! format. Also XMRig through microsocks from the shared examples
//! (`../shared/examples/hiding/xmrig-socks5-ip.pcap`, SKIPPED when absent), and the ClientHello
//! openssl fragmented over two records.

use serde_json::Value;

use crate::util;

fn records(args: &[&str]) -> Vec<Value> {
    let out = util::run(args, None);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    out.stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

/// The alert and session record of a capture: both must name the same tunnel and facts.
fn mining(path: &str) -> Vec<Value> {
    let recs = records(&["-r", path]);
    let mining: Vec<Value> = recs
        .into_iter()
        .filter(|r| matches!(r["event_type"].as_str(), Some("mining" | "mining_session")))
        .collect();
    assert_eq!(mining.len(), 2, "{path}: one alert and one session record: {mining:?}");
    mining
}

#[test]
fn real_proxies_every_kind_named_with_its_target_login_and_roles() {
    let kept = testkit::synth::scenarios::kept_tunnels();
    assert!(kept.len() >= 10);
    let mut kinds = std::collections::BTreeSet::new();
    for (file, k) in kept {
        let path = util::pcaps_dir().join(file);
        let path = path.to_str().unwrap();
        for r in mining(path) {
            let s = &r["stratum"];
            let ctx = format!("{file}: {r}");
            assert_eq!(s["variant"].as_str(), Some(k.variant.as_str()), "{ctx}");
            assert_eq!(s["login"].as_str().unwrap_or(""), k.login, "{ctx}");
            let (cip, cport) = k.client.rsplit_once(':').unwrap();
            let (sip, sport) = k.server.rsplit_once(':').unwrap();
            assert_eq!(
                (r["src_ip"].as_str(), r["src_port"].as_u64()),
                (Some(cip), cport.parse().ok()),
                "{ctx}"
            );
            assert_eq!(
                (r["dest_ip"].as_str(), r["dest_port"].as_u64()),
                (Some(sip), sport.parse().ok()),
                "{ctx}"
            );
            match k.tunnel {
                Some((kind, target)) => {
                    assert_eq!(
                        (s["tunnel"].as_str(), s["tunnel_target"].as_str()),
                        (Some(kind), Some(target)),
                        "{ctx}"
                    );
                    kinds.insert(kind);
                    if k.variant.as_str() == "cryptonote" {
                        // The miner's own words came through the tunnel: agent and worker.
                        assert_eq!(s["worker"].as_str(), Some("rig-tun01"), "{ctx}");
                        assert!(s["agent"].as_str().is_some_and(|a| a.starts_with("XMRig/")), "{ctx}");
                    }
                }
                None => assert!(s.get("tunnel").is_none(), "{ctx}"),
            }
            if k.variant.as_str() == "tls" {
                assert_eq!(
                    (s["pool_host"].as_str(), s["clue"].as_str()),
                    (Some("pool.supportxmr.com"), Some("sni")),
                    "{ctx}"
                );
            } else if r["event_type"] == "mining_session" && k.tunnel.is_some() {
                // The pool's answers were read too: a job, every share accepted.
                assert_eq!(r["confidence"].as_str(), Some("confirmed"), "{ctx}");
                assert_eq!(s["jobs"].as_u64(), Some(1), "{ctx}");
                assert_eq!(
                    (s["shares_submitted"].as_u64(), s["shares_accepted"].as_u64()),
                    (Some(3), Some(3)),
                    "{ctx}"
                );
            }
        }
    }
    let want = ["http-connect", "proxy-protocol", "socks4", "socks5", "websocket"];
    assert_eq!(kinds.into_iter().collect::<Vec<_>>(), want);
}

#[test]
fn the_tunnel_is_printed_in_every_format() {
    let path = util::pcaps_dir().join("tunnel-http-connect-tinyproxy.pcap");
    let path = path.to_str().unwrap();
    let eve = records(&["-r", path, "--format", "eve"]);
    let alert = eve.iter().find(|r| r["event_type"] == "alert").expect("an EVE alert");
    let meta = &alert["alert"]["metadata"];
    assert_eq!(meta["tunnel"], serde_json::json!(["http-connect"]), "{alert}");
    assert_eq!(meta["tunnel_target"], serde_json::json!(["localhost:3333"]), "{alert}");
    let ecs = records(&["-r", path, "--format", "ecs"]);
    let doc = ecs.iter().find(|r| r["event"]["kind"] == "alert").expect("an ECS alert");
    assert_eq!(doc["minewatch"]["stratum"]["tunnel"].as_str(), Some("http-connect"), "{doc}");
    assert_eq!(doc["minewatch"]["stratum"]["tunnel_target"].as_str(), Some("localhost:3333"), "{doc}");
    let cef = util::run(&["-r", path, "--format", "cef"], None);
    let line =
        cef.stdout.lines().find(|l| l.contains("|mining|")).unwrap_or_else(|| panic!("{}", cef.describe()));
    assert!(line.contains("msg=tunnel http-connect to localhost:3333"), "{line}");
}

#[test]
fn xmrig_through_microsocks_from_the_shared_examples() {
    let dir = util::repo_root().join("../shared/examples/hiding");
    let path = dir.join("xmrig-socks5-ip.pcap");
    if !path.is_file() {
        println!("SKIPPED: {} is absent", path.display());
        return;
    }
    // Its TRUTH line (the table's other lines use an `expect` of their own, read elsewhere).
    let text = std::fs::read_to_string(dir.join("TRUTH.tsv")).unwrap();
    let mine: String = text
        .lines()
        .enumerate()
        .filter(|(i, l)| *i == 0 || l.starts_with("xmrig-socks5-ip.pcap\t"))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let rows = util::parse_truth(&mine).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    for r in mining(path.to_str().unwrap()) {
        let rec = util::Record { line: r.to_string(), value: r.clone() };
        assert_eq!(rec.key(), row.key(), "{r}");
        assert_eq!(rec.variant(), Some(row.variant.as_str()), "{r}");
        assert_eq!(rec.login(), Ok(row.login.as_str()), "{r}");
        let s = &r["stratum"];
        assert_eq!(
            (s["tunnel"].as_str(), s["tunnel_target"].as_str()),
            (Some("socks5"), Some("127.0.0.2:3333")),
            "{r}"
        );
        assert_eq!(s["worker"].as_str(), Some("rig-tun01"), "{r}");
    }
}

#[test]
fn a_hello_openssl_split_over_records_names_its_pool() {
    let path = util::pcaps_dir().join("tls-hello-split-openssl.pcap");
    let out = util::run(&["-r", path.to_str().unwrap(), "--stats-interval", "0"], None);
    let alert = out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|r| r["event_type"] == "mining")
        .unwrap_or_else(|| panic!("{}", out.describe()));
    assert_eq!(alert["stratum"]["pool_host"].as_str(), Some("pool.supportxmr.com"), "{alert}");
    assert_eq!(alert["stratum"]["clue"].as_str(), Some("sni"), "{alert}");
    let stats = out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|r| r["event_type"] == "stats")
        .unwrap_or_else(|| panic!("{}", out.describe()));
    assert_eq!(stats["stats"]["tls_hello_joined"].as_u64(), Some(1), "{stats}");
    assert_eq!(stats["stats"]["tls_unparsed"].as_u64(), Some(0), "{stats}");
}
