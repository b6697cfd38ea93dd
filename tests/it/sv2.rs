//! Stratum V2 on real captures: `../shared/examples/hiding/` (beside the repository, never
//! copied into it; SKIPPED when absent) holds a real SV2 session made with the reference
//! implementation's crates (noise_sv2 2.0.0, codec_sv2 7.0.0), once encrypted and once in
//! plain framing, and a TRUTH.tsv saying what each must give: the encrypted one `suspected`
//! with its handshake and pushes as evidence, the plain one a mining alert with the channel's
//! user identity as the login, the SetupConnection's device as the agent, and its shares.
//! Every record must also keep the JSON contract (docs/alert-schema.json) and, when Suricata's
//! schema is beside the repository too, validate as EVE.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{bin, repo_root};

fn hiding_dir() -> PathBuf {
    repo_root().join("../shared/examples/hiding")
}

/// The rows of hiding/TRUTH.tsv about Stratum V2, as (column name -> value) maps.
fn sv2_rows(dir: &Path) -> Option<Vec<std::collections::BTreeMap<String, String>>> {
    let text = std::fs::read_to_string(dir.join("TRUTH.tsv")).ok()?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
    let header: Vec<String> = lines.next()?.split('\t').map(|s| s.trim().to_string()).collect();
    let rows = lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split('\t').map(str::to_string))
                .collect::<std::collections::BTreeMap<_, _>>()
        })
        .filter(|r| r.get("variant").map(String::as_str) == Some("stratum-v2"))
        .collect();
    Some(rows)
}

fn replay(pcap: &Path, format: &str) -> Vec<Value> {
    let out = std::process::Command::new(bin())
        .args(["-q", "--stats-interval", "0", "--format", format, "-r"])
        .arg(pcap)
        .output()
        .expect("run minewatch");
    assert!(out.status.success(), "{}: {}", pcap.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn validator(path: &Path) -> Option<jsonschema::Validator> {
    let text = std::fs::read_to_string(path).ok()?;
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    Some(jsonschema::validator_for(&schema).expect("schema compiles"))
}

fn assert_valid(v: &jsonschema::Validator, rec: &Value, what: &str) {
    let errors: Vec<String> = v.iter_errors(rec).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "{what}: {errors:?}\n{rec}");
}

#[test]
fn real_sv2_captures_give_what_their_truth_says() {
    let dir = hiding_dir();
    let Some(rows) = sv2_rows(&dir) else {
        eprintln!("SKIPPED: {} is absent", dir.display());
        return;
    };
    assert!(rows.len() >= 2, "hiding/TRUTH.tsv names both SV2 captures: {rows:?}");
    let contract = validator(&repo_root().join("docs/alert-schema.json")).expect("docs/alert-schema.json");
    let eve = validator(&repo_root().join("../shared/schemas/suricata-eve.schema.json"));
    let get = |r: &std::collections::BTreeMap<String, String>, k: &str| r.get(k).cloned().unwrap_or_default();
    for row in &rows {
        let file = get(row, "file");
        let pcap = dir.join(&file);
        let recs = replay(&pcap, "json");
        for r in &recs {
            assert_valid(&contract, r, &file);
        }
        if let Some(eve) = &eve {
            for r in replay(&pcap, "eve") {
                assert_valid(eve, &r, &format!("{file} (EVE)"));
            }
        }
        let of = |ty: &str| -> Vec<&Value> { recs.iter().filter(|r| r["event_type"] == ty).collect() };
        let (alerts, sessions) = (of("mining"), of("mining_session"));
        assert_eq!((alerts.len(), sessions.len()), (1, 1), "{file}: one alert, one session record: {recs:?}");
        let (a, s) = (alerts[0], sessions[0]);
        let port = |k: &str| get(row, k).parse::<u64>().ok();
        for r in [a, s] {
            assert_eq!(r["src_ip"], get(row, "client_ip").as_str(), "{file}: {r}");
            assert_eq!(r["src_port"].as_u64(), port("client_port"), "{file}: {r}");
            assert_eq!(r["dest_ip"], get(row, "server_ip").as_str(), "{file}: {r}");
            assert_eq!(r["dest_port"].as_u64(), port("server_port"), "{file}: {r}");
            assert_eq!(r["stratum"]["variant"], "stratum-v2", "{file}: {r}");
        }
        match get(row, "expect").as_str() {
            "suspected" => {
                assert_eq!(a["confidence"], "suspected", "{file}: {a}");
                assert!(a["stratum"]["login"].is_null(), "{file}: nothing inside is visible: {a}");
                // The evidence: the handshake's exact sizes and the encrypted pushes each way
                // (TRUTH: SetupConnection, OpenStandardMiningChannel, 7 shares one way; the
                // answers, 5 jobs, 2 prev-hashes, 7 acknowledgements the other).
                let e = &s["stratum"]["encrypted"];
                assert_eq!(e["handshake"], serde_json::json!([64, 234]), "{file}: {s}");
                assert!(e["toserver"]["count"].as_u64() >= Some(9), "{file}: {s}");
                assert!(e["toclient"]["count"].as_u64() >= Some(14), "{file}: {s}");
                let bytes = e["toserver"]["bytes"].as_u64().unwrap_or(0) + 64;
                assert_eq!(
                    Some(bytes),
                    s["bytes_toserver"].as_u64(),
                    "{file}: every byte after the key: {s}"
                );
                assert!(e["toserver"]["min"].as_u64() <= e["toserver"]["max"].as_u64(), "{file}: {s}");
            }
            "mining" => {
                assert!(matches!(s["confidence"].as_str(), Some("confirmed")), "{file}: {s}");
                assert_eq!(a["stratum"]["login"], get(row, "login").as_str(), "{file}: {a}");
                let agent = a["stratum"]["agent"].as_str().unwrap_or_default();
                assert!(agent.starts_with("Bitmain/Antminer S19j Pro"), "{file}: {a}");
                let st = &s["stratum"];
                // TRUTH: 5 NewMiningJob, 8 SubmitSharesStandard + 8 SubmitShares.Success.
                assert_eq!(st["jobs"], 5, "{file}: {s}");
                assert_eq!(st["shares_submitted"], 8, "{file}: {s}");
                assert_eq!(st["shares_accepted"], 8, "{file}: {s}");
                assert_eq!(st["shares_rejected"], 0, "{file}: {s}");
                assert!(st["difficulty"].as_f64().is_some_and(|d| d > 0.0), "{file}: {s}");
                assert!(st["hashrate"].as_f64().is_some_and(|h| h > 0.0), "{file}: {s}");
                assert!(st["reported_hashrate"].as_f64().is_some_and(|h| h > 0.0), "{file}: {s}");
                assert!(st.get("encrypted").is_none(), "{file}: {s}");
            }
            other => panic!("{file}: unknown expect {other:?}"),
        }
    }
}

#[test]
fn cef_carries_the_encrypted_evidence() {
    let pcap = hiding_dir().join("sv2-noise-standard.pcap");
    if !pcap.is_file() {
        eprintln!("SKIPPED: {} is absent", pcap.display());
        return;
    }
    let out = std::process::Command::new(bin())
        .args(["-q", "--stats-interval", "0", "--format", "cef", "-r"])
        .arg(&pcap)
        .output()
        .expect("run minewatch");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().count() >= 2, "{text}");
    assert!(text.contains("msg=encrypted: handshake 64/234 bytes; to server "), "{text}");
}
