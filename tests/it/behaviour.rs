//! The behaviour watch of TLS flows with no name (`inspect::behaviour`), replayed: the kept
//! captures of `pcaps/behaviour/` (encrypted counterparts of real cleartext sessions, a real
//! TLS Stratum session and a real MQTT-over-TLS session from network namespaces, the
//! cross-flow capture) against their `TRUTH.tsv`, the bundled `pcaps/beh-*` positives and
//! negatives, and the evidence in every output format. The bundled captures are also checked
//! row by row by `replay.rs`, and the shared corpus raises nothing new there either.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::util;

fn behaviour_dir() -> PathBuf {
    util::pcaps_dir().join("behaviour")
}

/// The JSON records of a replay of `files` with `extra` options.
fn replay(files: &[PathBuf], extra: &[&str]) -> Vec<Value> {
    replay_with(1, files, extra)
}

/// [`replay`] with `workers` workers.
fn replay_with(workers: usize, files: &[PathBuf], extra: &[&str]) -> Vec<Value> {
    let mut args: Vec<String> = vec!["-q".into(), "--workers".into(), workers.to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    for f in files {
        args.push("-r".into());
        args.push(f.to_string_lossy().into_owned());
    }
    let out = util::run(&args, None);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    out.stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

fn mining(recs: &[Value]) -> Vec<&Value> {
    recs.iter().filter(|r| r["event_type"] == "mining").collect()
}

/// The checks every behaviour alert must pass: suspected, clue behaviour, the evidence and the
/// fingerprints present and sane.
fn assert_behaviour_alert(a: &Value) {
    assert_eq!(a["confidence"], "suspected", "{a}");
    let s = &a["stratum"];
    assert_eq!(s["variant"], "tls", "{a}");
    assert_eq!(s["clue"], "behaviour", "{a}");
    let b = &s["behaviour"];
    assert!(b["pushes"].as_u64().unwrap_or(0) >= 3, "{a}");
    assert!(b["answered"].as_u64().unwrap_or(0) >= 3, "{a}");
    assert!(b["answered"].as_u64() <= b["requests"].as_u64(), "{a}");
    assert!(b["push_period_mean_s"].as_f64().unwrap_or(0.0) > 0.0, "{a}");
    assert!(b["duration_s"].as_f64().unwrap_or(0.0) > 0.0, "{a}");
    assert!(s["ja3"].as_str().is_some_and(|j| j.len() == 32), "{a}");
    // No SNI: JA4 says `i`; a hello with Encrypted Client Hello shows its outer SNI: `d`.
    let ja4 = if s["tls_ech"].is_string() { "t13d" } else { "t13i" };
    assert!(s["ja4"].as_str().is_some_and(|j| j.starts_with(ja4)), "JA4 {ja4}...: {a}");
}

#[test]
fn kept_behaviour_captures_match_their_truth() {
    let dir = behaviour_dir();
    let set = util::TruthSet::load(&dir.join("TRUTH.tsv")).unwrap_or_else(|e| panic!("{e}"));
    let mut problems = Vec::new();
    for file in set.files() {
        let recs = replay(&[dir.join(&file)], &[]);
        let alerts = mining(&recs);
        for row in set.rows_for(&file) {
            let key = row.key();
            let found: Vec<&&Value> = alerts
                .iter()
                .filter(|a| util::Record { line: String::new(), value: (**a).clone() }.key() == key)
                .collect();
            match (row.expect, found.as_slice()) {
                (util::Expect::Mining, [a]) => {
                    if row.variant == "tls" {
                        assert_behaviour_alert(a);
                    }
                }
                (util::Expect::None, []) => {}
                (_, got) => problems.push(format!("{file}: {}: {} alert(s)", row.describe(), got.len())),
            }
        }
        let rows = set.rows_for(&file).len();
        let expected = set.rows_for(&file).iter().filter(|r| r.expect == util::Expect::Mining).count();
        if alerts.len() != expected {
            problems.push(format!("{file}: {} alerts for {expected} mining rows of {rows}", alerts.len()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn bundled_positives_are_suspected_with_evidence_and_negatives_raise_nothing() {
    let pcaps = util::pcaps_dir();
    let mut names: Vec<String> = std::fs::read_dir(&pcaps)
        .expect("pcaps/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("beh-") && n.ends_with(".pcap"))
        .collect();
    names.sort();
    let (neg, pos): (Vec<String>, Vec<String>) = names.into_iter().partition(|n| n.starts_with("beh-neg-"));
    assert!(pos.len() >= 6 && neg.len() >= 7, "{pos:?} {neg:?}");
    for n in &pos {
        let recs = replay(&[pcaps.join(n)], &[]);
        let alerts = mining(&recs);
        assert_eq!(alerts.len(), 1, "{n}: {recs:#?}");
        assert_behaviour_alert(alerts[0]);
        // Turned off, the same flow is forgotten after its wait for a name.
        assert!(mining(&replay(&[pcaps.join(n)], &["--no-behaviour"])).is_empty(), "{n}");
    }
    for n in &neg {
        let recs = replay(&[pcaps.join(n)], &["--stats-interval", "0"]);
        assert!(mining(&recs).is_empty(), "{n}: {:#?}", mining(&recs));
        // The watch really looked at it (so the test can fail).
        let stats = recs.iter().rfind(|r| r["event_type"] == "stats").expect("stats record");
        assert_eq!(stats["stats"]["behaviour_watched"], 1, "{n}: {stats}");
        assert_eq!(stats["stats"]["behaviour_suspects"], 0, "{n}: {stats}");
    }
}

#[test]
fn pushes_that_line_up_with_a_known_session_decide_sooner_and_say_so() {
    let f = behaviour_dir().join("aligned-cleartext-and-tls.pcap");
    // The two TLS sessions last 150 s: with a minimum of 3 minutes only pushes that line up
    // can decide one, after the aligned minimum (1 minute here).
    let slow = ["--behaviour-min-duration", "3m", "--behaviour-aligned-duration", "1m"];
    let recs = replay(std::slice::from_ref(&f), &[&["--stats-interval", "0"][..], &slow[..]].concat());
    let tls: Vec<&Value> = mining(&recs).into_iter().filter(|a| a["stratum"]["variant"] == "tls").collect();
    assert_eq!(tls.len(), 1, "only the lined-up session: {recs:#?}");
    let b = &tls[0]["stratum"]["behaviour"];
    assert_eq!(tls[0]["src_ip"], "10.73.0.3", "{}", tls[0]);
    assert!(b["aligned_pushes"].as_u64().unwrap_or(0) >= 3, "{b}");
    // Decided before --behaviour-min-duration (3 min) on the strength of the lined-up pushes.
    assert!(b["duration_s"].as_f64().unwrap_or(1e9) < 180.0, "{b}");
    let stats = recs.iter().rfind(|r| r["event_type"] == "stats").expect("stats");
    assert_eq!(stats["stats"]["behaviour_aligned"], 1, "{stats}");
    assert!(stats["stats"]["behaviour_clock_pushes"].as_u64().unwrap_or(0) >= 5, "{stats}");
    // Without the cleartext session's clock (a clock of one push), nothing lines up in time.
    let alone =
        replay(std::slice::from_ref(&f), &[&["--behaviour-clock-capacity", "1"][..], &slow[..]].concat());
    assert!(mining(&alone).iter().all(|a| a["stratum"]["variant"] != "tls"), "{alone:#?}");
    // With the default minimum (30 s) both are decided by their behaviour, and only the
    // lined-up one says its pushes lined up (the other's may meet a push of the Poisson clock
    // by chance, but fewer than `--behaviour-min-pushes`).
    let recs = replay(&[f], &[]);
    let tls: BTreeMap<String, u64> = mining(&recs)
        .into_iter()
        .filter(|a| a["stratum"]["variant"] == "tls")
        .map(|a| {
            assert_behaviour_alert(a);
            let aligned = a["stratum"]["behaviour"]["aligned_pushes"].as_u64().unwrap_or(u64::MAX);
            (a["src_ip"].as_str().unwrap_or("").to_string(), aligned)
        })
        .collect();
    assert_eq!(tls.len(), 2, "{recs:#?}");
    assert!(tls["10.73.0.3"] >= 3 && tls["10.73.0.4"] < 3, "{tls:?}");
}

#[test]
fn pushes_line_up_in_file_order_whatever_the_number_of_workers() {
    // The cleartext session that writes the clock and the TLS session that looks it up are
    // read by different workers when there are several; a lookup sees what the only worker
    // would see at that frame, so the lined-up session is found in every replay, the same way.
    // (Before the clock kept file order, two and three workers found it in 2 of 5 replays.)
    let f = behaviour_dir().join("aligned-cleartext-and-tls.pcap");
    let args =
        ["--stats-interval", "0", "--behaviour-min-duration", "3m", "--behaviour-aligned-duration", "1m"];
    let seen = |workers: usize| {
        let recs = replay_with(workers, std::slice::from_ref(&f), &args);
        let tls: Vec<(String, u64, u64)> = mining(&recs)
            .into_iter()
            .filter(|a| a["stratum"]["variant"] == "tls")
            .map(|a| {
                let b = &a["stratum"]["behaviour"];
                let ms = (b["duration_s"].as_f64().unwrap_or(-1.0) * 1000.0) as u64;
                (
                    a["src_ip"].as_str().unwrap_or("").to_string(),
                    b["aligned_pushes"].as_u64().unwrap_or(0),
                    ms,
                )
            })
            .collect();
        let stats = recs.iter().rfind(|r| r["event_type"] == "stats").expect("stats");
        (tls, stats["stats"]["behaviour_clock_pushes"].clone())
    };
    let one = seen(1);
    assert_eq!(one.0.len(), 1, "{one:?}");
    assert_eq!(one.0[0].0, "10.73.0.3", "{one:?}");
    for workers in [2, 3, 4] {
        for _ in 0..4 {
            assert_eq!(seen(workers), one, "{workers} workers");
        }
    }
}

/// The first alert of a replay of `file`, as EVE writes it (its `alert.metadata`), as ECS and
/// as CEF.
fn first_alert_in_every_format(file: &std::path::Path) -> (BTreeMap<String, Vec<String>>, Value, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = |name: &str| dir.path().join(name);
    let args = [
        "-q".to_string(),
        "-r".to_string(),
        file.to_string_lossy().into_owned(),
        "-o".to_string(),
        format!("eve:{}", out("eve.json").display()),
        "-o".to_string(),
        format!("ecs:{}", out("ecs.json").display()),
        "-o".to_string(),
        format!("cef:{}", out("cef.log").display()),
    ];
    let run = util::run(&args, None);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let first = |name: &str, needle: &str| -> String {
        let text = std::fs::read_to_string(out(name)).expect("output file");
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{name}: no {needle}:\n{text}"))
            .to_string()
    };
    let eve: Value = serde_json::from_str(&first("eve.json", "\"event_type\":\"alert\"")).expect("eve");
    let meta =
        serde_json::from_value(eve["alert"]["metadata"].clone()).expect("metadata is lists of strings");
    let ecs = serde_json::from_str(&first("ecs.json", "minewatch.alert")).expect("ecs");
    (meta, ecs, first("cef.log", "|mining|"))
}

#[test]
fn the_evidence_is_in_every_format() {
    let (meta, ecs, cef) =
        first_alert_in_every_format(&util::pcaps_dir().join("beh-monero-slow-shares.pcap"));
    assert_eq!(meta["clue"], ["behaviour"]);
    assert_eq!(meta["behaviour_pushes"].len(), 1);
    assert!(meta["behaviour_pushes"][0].parse::<u32>().expect("a number") >= 3);
    assert!(
        meta.contains_key("behaviour_push_period_mean_s")
            && meta.contains_key("ja4")
            && meta.contains_key("ja3")
    );
    assert_eq!(ecs["minewatch"]["stratum"]["clue"], "behaviour", "{ecs}");
    assert!(ecs["minewatch"]["stratum"]["behaviour"]["pushes"].as_u64().unwrap_or(0) >= 3, "{ecs}");
    assert_eq!(ecs["tls"]["client"]["ja3"], ecs["minewatch"]["stratum"]["ja3"], "{ecs}");
    assert!(cef.contains(" cs3Label=clue cs3=behaviour"), "{cef}");
    assert!(cef.contains(" cs2Label=ja4 cs2=t13i"), "{cef}");
    assert!(cef.contains(" cs5Label=behaviour cs5=") && cef.contains(" pushes:3 "), "{cef}");
}

/// The real negatives of other long-lived protocols (`make-real.sh`) were really looked at, so
/// that their "no alert" in `TRUTH.tsv` means something: every TLS flow with no name and no
/// ALPN of HTTP's is watched (gRPC core's client always offers `h2`: never watched; grpclib's
/// given no ALPN: watched), and SSH is not TLS, so bypassed at its first bytes.
#[test]
fn real_negatives_were_watched_and_raise_nothing() {
    // file, TLS hellos, flows watched, flows bypassed
    let cases: [(&str, u64, u64, u64); 7] = [
        ("real-imap-idle-tls.pcap", 2, 2, 0),
        ("real-chromium-ech-sse.pcap", 2, 0, 2),
        ("real-grpc-tls.pcap", 2, 1, 1),
        ("real-redis-pubsub-tls.pcap", 2, 2, 0),
        ("real-mqtt-device-tls.pcap", 2, 2, 0),
        ("real-mqtt-events-tls.pcap", 2, 2, 0),
        ("real-ssh.pcap", 0, 0, 1),
    ];
    for (file, hellos, watched, bypassed) in cases {
        let recs = replay(&[behaviour_dir().join(file)], &["--stats-interval", "0"]);
        assert!(mining(&recs).is_empty(), "{file}: {:#?}", mining(&recs));
        let stats = &recs.iter().rfind(|r| r["event_type"] == "stats").expect("stats record")["stats"];
        let n = |k: &str| stats[k].as_u64().unwrap_or(0);
        assert_eq!(n("tls_hellos"), hellos, "{file}: {stats}");
        assert_eq!(n("behaviour_watched"), watched, "{file}: {stats}");
        assert_eq!(n("flows_bypassed"), bypassed, "{file}: {stats}");
        assert_eq!(n("behaviour_suspects"), 0, "{file}: {stats}");
        // The watched flows were followed for their whole life, many records each.
        assert!(n("behaviour_records") >= 40 * watched, "{file}: {stats}");
    }
}

/// The MQTT device that publishes on events (at random) with commands pushed to it now and
/// then has a miner's shape but for its answers: the broker's PUBACKs are 4 bytes (21-byte
/// records), shorter than any JSON-RPC answer. Before `--behaviour-min-answer` they counted as
/// answers and the device was reported; with it (36), not; the positives still are.
#[test]
fn acknowledgements_of_a_few_bytes_answer_nothing() {
    let f = behaviour_dir().join("real-mqtt-events-tls.pcap");
    assert!(mining(&replay(std::slice::from_ref(&f), &[])).is_empty());
    let before = replay(&[f], &["--behaviour-min-answer", "1"]);
    let alerts = mining(&before);
    assert_eq!(alerts.len(), 1, "{before:#?}");
    assert_behaviour_alert(alerts[0]);
    assert_eq!(alerts[0]["dest_port"], 18885, "the device's own connection: {}", alerts[0]);
    // Its answers were the broker's PUBACKs, sealed in 21 bytes.
    assert!(
        alerts[0]["stratum"]["behaviour"]["answer_ms_mean"].as_f64().unwrap_or(1e9) < 50.0,
        "{}",
        alerts[0]
    );
}

/// A miner seen for a minute only (a short capture, as the real captures of miners usually are;
/// a miner stopped or moved) is judged: the encrypted counterparts of the corpus's real XMRig
/// and cpuminer sessions, cut at one minute by `--until`, are reported by their behaviour. With
/// the former minimum of 3 minutes they were not.
#[test]
fn a_miner_seen_for_one_minute_is_reported() {
    for file in ["enc-xmrig-rx0.pcap", "enc-cpuminer-sha256d.pcap"] {
        let f = behaviour_dir().join(file);
        let recs = replay(std::slice::from_ref(&f), &["--until", "1m"]);
        let alerts = mining(&recs);
        assert_eq!(alerts.len(), 1, "{file}: {recs:#?}");
        assert_behaviour_alert(alerts[0]);
        let d = alerts[0]["stratum"]["behaviour"]["duration_s"].as_f64().unwrap_or(1e9);
        assert!((30.0..=60.0).contains(&d), "{file}: decided after {d} s");
        let slow = replay(&[f], &["--until", "1m", "--behaviour-min-duration", "3m"]);
        assert!(mining(&slow).is_empty(), "{file}: {slow:#?}");
    }
}

/// Encrypted Client Hello must not hide a miner: the hello of `beh-ech-monero.pcap` shows only
/// the outer name `cloudflare-ech.com` (no pool's) and encrypts the real one, so the flow is
/// watched as one with no name and raises one behaviour alert, which says the hello used ECH
/// and its outer name, in every format. The same writes after a browser's hello (ALPN `h2` and
/// `http/1.1`, as Chrome's, which sends a GREASE ECH on most hellos) are never watched, nor is
/// a real Chromium's long-lived event stream.
#[test]
fn encrypted_client_hello_hides_no_miner_and_browsers_stay_out() {
    let pcaps = util::pcaps_dir();
    let recs = replay(&[pcaps.join("beh-ech-monero.pcap")], &["--stats-interval", "0"]);
    let alerts = mining(&recs);
    assert_eq!(alerts.len(), 1, "{recs:#?}");
    assert_behaviour_alert(alerts[0]);
    let s = &alerts[0]["stratum"];
    assert_eq!(
        (&s["tls_ech"], &s["tls_ech_outer_sni"]),
        (&"ech".into(), &"cloudflare-ech.com".into()),
        "{s}"
    );
    // The outer name is not the pool's.
    assert!(s.get("pool_host").is_none(), "{s}");
    let stats = &recs.iter().rfind(|r| r["event_type"] == "stats").expect("stats record")["stats"];
    assert_eq!((&stats["tls_ech_watched"], &stats["behaviour_watched"]), (&1.into(), &1.into()), "{stats}");

    let recs = replay(&[pcaps.join("neg-ech-browser.pcap")], &["--stats-interval", "0"]);
    assert!(mining(&recs).is_empty(), "{recs:#?}");
    let stats = &recs.iter().rfind(|r| r["event_type"] == "stats").expect("stats record")["stats"];
    assert_eq!(stats["tls_hellos"], 1, "{stats}");
    assert_eq!((&stats["tls_ech_watched"], &stats["behaviour_watched"]), (&0.into(), &0.into()), "{stats}");
    assert_eq!(stats["flows_bypassed"], 1, "{stats}");
    assert_eq!(stats["tls_ech_hellos"], 1, "{stats}");

    // A real browser (headless Chromium, GREASE ECH in each hello, SNI localhost, ALPN h2 and
    // http/1.1) on a page with a server-sent event stream: its hellos are read as ECH, and
    // neither flow is watched.
    let recs = replay(&[behaviour_dir().join("real-chromium-ech-sse.pcap")], &["--stats-interval", "0"]);
    assert!(mining(&recs).is_empty(), "{recs:#?}");
    let stats = &recs.iter().rfind(|r| r["event_type"] == "stats").expect("stats record")["stats"];
    assert_eq!((&stats["tls_hellos"], &stats["tls_ech_hellos"]), (&2.into(), &2.into()), "{stats}");
    assert_eq!((&stats["tls_ech_watched"], &stats["behaviour_watched"]), (&0.into(), &0.into()), "{stats}");

    // Every format.
    let (meta, ecs, cef) = first_alert_in_every_format(&pcaps.join("beh-ech-monero.pcap"));
    assert_eq!(meta["tls_ech"], ["ech"]);
    assert_eq!(meta["tls_ech_outer_sni"], ["cloudflare-ech.com"]);
    assert_eq!(ecs["minewatch"]["stratum"]["tls_ech"], "ech", "{ecs}");
    assert_eq!(ecs["minewatch"]["stratum"]["tls_ech_outer_sni"], "cloudflare-ech.com", "{ecs}");
    // Not the server name ECS readers take as the server's: no domain, no TLS server name.
    assert!(ecs["tls"]["client"].get("server_name").is_none(), "{ecs}");
    assert!(ecs["destination"].get("domain").is_none(), "{ecs}");
    assert!(cef.contains(" cs4Label=tlsEch cs4=ech outer_sni:cloudflare-ech.com "), "{cef}");
    assert!(!cef.contains("dhost="), "{cef}");
}

/// `--behaviour-named`: a miner whose hello names its server by a domain that is no pool's
/// (an attacker's own, `"sni": true` in XMRig) is bypassed by default and, with the option,
/// watched and reported by its behaviour, the name as its pool host and no DNS wait. A
/// browser's hello (HTTP-only ALPN) stays out either way, and the real negatives of
/// `pcaps/behaviour/` still raise nothing with the option.
#[test]
fn behaviour_named_watches_a_miner_behind_a_name_that_is_no_pools() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("named.pcap");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&f).expect("create"));
    testkit::synth::behaviour::named_monero(&mut out, "cdn-assets.example.net").expect("write");
    drop(out);
    let stats =
        |recs: &[Value]| recs.iter().rfind(|r| r["event_type"] == "stats").expect("stats")["stats"].clone();

    let plain = replay(std::slice::from_ref(&f), &["--stats-interval", "0"]);
    assert!(mining(&plain).is_empty(), "{plain:#?}");
    assert_eq!(stats(&plain)["behaviour_watched"], 0);

    let named = replay(std::slice::from_ref(&f), &["--stats-interval", "0", "--behaviour-named"]);
    let alerts = mining(&named);
    assert_eq!(alerts.len(), 1, "{named:#?}");
    assert_eq!(alerts[0]["stratum"]["clue"], "behaviour", "{}", alerts[0]);
    assert_eq!(alerts[0]["stratum"]["pool_host"], "cdn-assets.example.net", "{}", alerts[0]);
    let s = stats(&named);
    assert_eq!((&s["behaviour_watched"], &s["behaviour_watched_named"]), (&1.into(), &1.into()), "{s}");
    assert_eq!(s["tls_name_waits"], 0, "a name is no reason to wait for a DNS answer: {s}");

    let browser = replay(&[util::pcaps_dir().join("neg-ech-browser.pcap")], &["--behaviour-named"]);
    assert!(mining(&browser).is_empty(), "{browser:#?}");
    let set = util::TruthSet::load(&behaviour_dir().join("TRUTH.tsv")).expect("truth");
    for file in set.files() {
        if set.rows_for(&file).iter().all(|r| r.expect == util::Expect::None) {
            let recs = replay(&[behaviour_dir().join(&file)], &["--behaviour-named"]);
            assert!(mining(&recs).is_empty(), "{file}: {:#?}", mining(&recs));
        }
    }
}
