//! The facts an analyst needs, end to end: each bundled capture of a newer dialect or oddity
//! is replayed through the binary and its `mining_session` record is checked field by field
//! (variant, agent, wallet, coin, extensions, difficulty, hash rate, ...). The `--watchlist`
//! option is checked on the same captures. `tests/it/replay.rs` checks the truth rows; this file
//! checks what those rows do not carry.

use crate::util;

use serde_json::Value;

/// The only `mining_session` record of a capture in `pcaps/`.
fn session(file: &str, extra: &[&str]) -> Value {
    let path = util::pcaps_dir().join(file);
    let mut args: Vec<std::ffi::OsString> = vec!["-q".into(), "-r".into(), path.into_os_string()];
    args.extend(extra.iter().map(|a| a.into()));
    let out = util::run(&args, None);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let (records, problems) = util::parse_records(&out.stdout);
    assert!(problems.is_empty(), "{problems:?}");
    let sessions: Vec<&util::Record> = records.iter().filter(|r| r.is_session()).collect();
    assert_eq!(sessions.len(), 1, "{}", out.describe());
    assert_eq!(records.iter().filter(|r| r.is_mining()).count(), 1, "{}", out.describe());
    sessions[0].value.clone()
}

fn close(v: &Value, want: f64, rel: f64) -> bool {
    v.as_f64().is_some_and(|x| (x / want - 1.0).abs() <= rel)
}

#[test]
fn asic_firmware_with_v1_extensions() {
    let v = session("sv1-asic-extensions.pcap", &[]);
    let s = &v["stratum"];
    assert_eq!(v["severity"], 2);
    assert_eq!(s["variant"], "stratum-v1");
    assert_eq!((s["agent_name"].as_str(), s["agent_version"].as_str()), (Some("bmminer"), Some("2.0.0")));
    assert_eq!(s["agent_kind"], "asic");
    assert_eq!(s["coin"], "BTC");
    assert_eq!(s["wallet_checksum"], true);
    assert_eq!(s["worker"], "s19pro");
    assert_eq!(s["password"], "d=65536");
    assert_eq!(s["suggested_difficulty"], 65536.0);
    assert_eq!(
        s["extensions"],
        serde_json::json!(["version-rolling", "minimum-difficulty", "extranonce-subscribe"])
    );
    assert_eq!(s["reconnect_to"], "stratum-b.example.net:3334");
    assert_eq!(s["pool_message"], "Pool maintenance in 10 minutes");
    assert_eq!((s["shares_submitted"].as_u64(), s["shares_accepted"].as_u64()), (Some(6), Some(6)));
    // 6 shares x 65536 x 2^32 hashes over the ~50 s between the first and the last share.
    let first = chrono::DateTime::parse_from_rfc3339(s["first_share"].as_str().unwrap()).unwrap();
    let last = chrono::DateTime::parse_from_rfc3339(s["last_share"].as_str().unwrap()).unwrap();
    let secs = (last - first).num_microseconds().unwrap() as f64 / 1e6;
    assert!(close(&s["hashrate"], 6.0 * 65536.0 * 2f64.powi(32) / secs, 1e-9), "{}", s["hashrate"]);
    for m in ["mining.configure", "mining.set_version_mask", "client.get_version", "client.reconnect"] {
        assert!(s["methods"].as_array().unwrap().iter().any(|x| x == m), "{m}");
    }
}

#[test]
fn zcash_target_becomes_a_difficulty() {
    let s = session("sv1-zcash-set-target.pcap", &[])["stratum"].clone();
    assert_eq!(s["coin"], "ZEC");
    assert!(s["wallet"].as_str().unwrap().starts_with("t1"));
    assert!(close(&s["difficulty"], 16_000.0 / 8192.0, 1e-6), "{}", s["difficulty"]);
    assert!(s.get("target").is_none());
    assert_eq!(s["shares_accepted"], 4);
    assert!(s["hashrate"].as_f64().is_some_and(|h| h > 0.0));
}

#[test]
fn ethereum_stratum_1_and_2() {
    let s = session("ethstratum1-nicehash.pcap", &[])["stratum"].clone();
    assert_eq!(s["variant"], "ethereum-stratum");
    assert_eq!((s["coin"].as_str(), s["wallet_checksum"].as_bool()), (Some("ETH"), Some(true)));
    assert_eq!(s["worker"], "gpu3");
    assert_eq!(s["difficulty"], 0.5);
    assert_eq!((s["jobs"].as_u64(), s["shares_accepted"].as_u64()), (Some(3), Some(3)));

    let s = session("ethstratum2-hello.pcap", &[])["stratum"].clone();
    assert_eq!(s["variant"], "ethereum-stratum");
    assert_eq!(s["agent_name"], "lolMiner");
    assert_eq!(s["algo"], "etchash");
    assert_eq!(s["difficulty"], 0.5);
    assert_eq!(s["reported_hashrate"], 500_000_002.0);
    assert_eq!(s["shares_accepted"], 3);
}

#[test]
fn xmrig_proxy_in_nicehash_mode() {
    let s = session("cryptonote-nicehash-proxy.pcap", &[])["stratum"].clone();
    assert_eq!(s["variant"], "cryptonote");
    assert_eq!(s["agent_kind"], "proxy");
    assert_eq!(s["extensions"], serde_json::json!(["nicehash"]));
    assert_eq!((s["coin"].as_str(), s["wallet_checksum"].as_bool()), (Some("XMR"), Some(true)));
    assert_eq!(s["suggested_difficulty"], 50000.0);
    assert_eq!(s["algo"], "rx/0");
    assert!(close(&s["difficulty"], 250.0, 1e-6));
}

#[test]
fn pretty_printed_messages_through_the_pipeline() {
    let s = session("sv1-pretty-printed.pcap", &[])["stratum"].clone();
    assert_eq!(s["login"], "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4.pretty");
    assert_eq!(s["agent"], "cpuminer/2.5.1");
    assert_eq!(
        (s["jobs"].as_u64(), s["shares_submitted"].as_u64(), s["shares_accepted"].as_u64()),
        (Some(1), Some(3), Some(3))
    );
    assert_eq!(s["difficulty"], 0.005);
}

#[test]
fn watchlist_raises_severity_and_names_the_label() {
    let dir = tempfile::tempdir().unwrap();
    let wl = dir.path().join("watch.txt");
    std::fs::write(
        &wl,
        "# IR-117\n0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed\tGPU farm (IR-117)\n16VVhjRYE6sgFaD91LNc4CwtgJ7vqjFcA9\n",
    )
    .unwrap();
    let wl = wl.to_str().unwrap();
    // Listed in lower case; the session logs in with the EIP-55 mixed-case form.
    let v = session("ethstratum1-nicehash.pcap", &["--watchlist", wl]);
    assert_eq!(v["severity"], 1);
    assert_eq!(v["watchlist_label"], "GPU farm (IR-117)");
    // Listed without a label: the file's label, here its name (no `# label:` line).
    let v = session("sv1-asic-extensions.pcap", &["--watchlist", wl]);
    assert_eq!(v["severity"], 1);
    assert_eq!(v["watchlist_label"], "watch");
    // Not listed.
    let v = session("cryptonote-nicehash-proxy.pcap", &["--watchlist", wl]);
    assert_eq!(v["severity"], 2);
    // A bad watchlist is a usage error naming the line.
    std::fs::write(dir.path().join("bad.txt"), "ok\nwallet.worker\n").unwrap();
    let bad = dir.path().join("bad.txt");
    let path = util::pcaps_dir().join("sv1-cpuminer.pcap");
    let out = util::run(
        &["-q".as_ref(), "-r".as_ref(), path.as_os_str(), "--watchlist".as_ref(), bad.as_os_str()],
        None,
    );
    assert_eq!(out.code(), Some(2), "{}", out.describe());
    assert!(out.stderr.contains("line 2"), "{}", out.stderr);
}
