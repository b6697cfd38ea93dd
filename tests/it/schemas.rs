//! minewatch's records against the contracts their readers hold them to: every EVE line against
//! Suricata's own schema (`../shared/schemas/suricata-eve.schema.json`, beside the repository,
//! never copied into it: the test says SKIPPED and passes when it is absent), and every JSON
//! line, with the examples of README.md and docs/alert-schema.md, against docs/alert-schema.json.
//! Each replays every capture in pcaps/ with a closing `stats` record.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::{bin, pcaps_dir, repo_root};

/// Suricata's EVE schema beside the repository, if it is there.
pub(crate) fn eve_schema() -> Option<Value> {
    let path = repo_root().join("../shared/schemas/suricata-eve.schema.json");
    let text = std::fs::read_to_string(&path).ok()?;
    Some(serde_json::from_str(&text).expect("Suricata's schema is JSON"))
}

fn all_pcaps() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(pcaps_dir())
        .expect("pcaps/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    v.sort();
    v
}

/// Every line minewatch writes for `pcap` in `format`, with the closing `stats` record, and
/// evidence files (`--pcap-dir`), so that their fields meet the schemas too.
fn lines(pcap: &Path, format: &str) -> Vec<Value> {
    let evidence = tempfile::tempdir().expect("a temporary directory");
    let out = Command::new(bin())
        .args(["-q", "--stats-interval", "0", "--sensor-name", "edge-1", "--format", format, "--pcap-dir"])
        .arg(evidence.path())
        .arg("-r")
        .arg(pcap)
        .output()
        .expect("run minewatch");
    assert!(out.status.success(), "{}: {}", pcap.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", pcap.display())))
        .collect()
}

/// Validates every line of every capture against `schema`; returns how many of each
/// `event_type` were checked.
fn validate_all(schema: &Value, format: &str) -> std::collections::BTreeMap<String, usize> {
    let validator = jsonschema::validator_for(schema).expect("schema compiles");
    let mut seen = std::collections::BTreeMap::new();
    for pcap in all_pcaps() {
        for v in lines(&pcap, format) {
            let errors: Vec<String> =
                validator.iter_errors(&v).map(|e| format!("{} at {}", e, e.instance_path)).collect();
            assert!(errors.is_empty(), "{}: {format} line fails its schema: {errors:?}\n{v}", pcap.display());
            let ty = v["event_type"].as_str().unwrap_or_default().to_string();
            *seen.entry(ty).or_insert(0) += 1;
        }
    }
    seen
}

#[test]
fn every_eve_line_validates_against_suricatas_schema() {
    let Some(schema) = eve_schema() else {
        eprintln!("SKIPPED: ../shared/schemas/suricata-eve.schema.json is absent");
        return;
    };
    let seen = validate_all(&schema, "eve");
    // Every record type was there to be checked.
    for ty in ["alert", "flow", "stats"] {
        assert!(seen.get(ty).copied().unwrap_or(0) > 0, "no {ty} record in pcaps/: {seen:?}");
    }
}

#[test]
fn eve_schema_rejects_what_minewatch_used_to_write() {
    // The check above could pass on a schema that allows anything: hold it to the faults the
    // issue found (a `Z` timestamp, minewatch's own top-level keys).
    let Some(schema) = eve_schema() else {
        eprintln!("SKIPPED: ../shared/schemas/suricata-eve.schema.json is absent");
        return;
    };
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let good = serde_json::json!({"timestamp": "2024-05-01T12:00:00.036300+0000", "event_type": "alert"});
    assert!(validator.is_valid(&good));
    let z = serde_json::json!({"timestamp": "2024-05-01T12:00:00.036300Z", "event_type": "alert"});
    assert!(!validator.is_valid(&z));
    let own = serde_json::json!({"timestamp": "2024-05-01T12:00:00.036300+0000", "event_type": "alert", "stratum": {}});
    assert!(!validator.is_valid(&own));
}

pub(crate) fn alert_schema() -> Value {
    let text =
        std::fs::read_to_string(repo_root().join("docs/alert-schema.json")).expect("docs/alert-schema.json");
    serde_json::from_str(&text).expect("docs/alert-schema.json is JSON")
}

#[test]
fn every_json_record_keeps_the_contract() {
    let seen = validate_all(&alert_schema(), "json");
    for ty in ["mining", "mining_session", "stats"] {
        assert!(seen.get(ty).copied().unwrap_or(0) > 0, "no {ty} record in pcaps/: {seen:?}");
    }
}

#[test]
fn the_contract_refuses_what_it_does_not_document() {
    // The check above is only as strict as the schema: a key it does not name, a record without
    // its severity and an unknown record type must fail.
    let validator = jsonschema::validator_for(&alert_schema()).expect("schema compiles");
    let pcap = pcaps_dir().join("sv1-cpuminer.pcap");
    let good = lines(&pcap, "json").into_iter().next().expect("a mining record");
    assert!(validator.is_valid(&good), "{good}");
    let mut extra = good.clone();
    extra["surprise"] = Value::from(1);
    assert!(!validator.is_valid(&extra));
    let mut extra = good.clone();
    extra["stratum"]["surprise"] = Value::from(1);
    assert!(!validator.is_valid(&extra));
    let mut no_severity = good.clone();
    no_severity.as_object_mut().expect("object").remove("severity");
    assert!(!validator.is_valid(&no_severity));
    let mut other = good;
    other["event_type"] = Value::from("other");
    assert!(!validator.is_valid(&other));
}

/// Every one-line JSON record shown in `doc` (lines that open with `{"timestamp"` or
/// `{"@timestamp"`).
fn examples(doc: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo_root().join(doc)).expect("doc");
    text.lines()
        .filter(|l| l.starts_with("{\"timestamp\""))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{doc}: example is not JSON: {e}: {l}")))
        .collect()
}

#[test]
fn the_documented_examples_validate() {
    let contract = jsonschema::validator_for(&alert_schema()).expect("schema compiles");
    let eve = eve_schema().map(|s| jsonschema::validator_for(&s).expect("schema compiles"));
    let mut checked = 0;
    for doc in ["README.md", "docs/alert-schema.md", "docs/eve.md"] {
        for v in examples(doc) {
            // EVE records name the sensor in `host`; the JSON contract's in `sensor`.
            if v.get("host").is_some() {
                match &eve {
                    Some(eve) => {
                        let errors: Vec<String> = eve.iter_errors(&v).map(|e| e.to_string()).collect();
                        assert!(
                            errors.is_empty(),
                            "{doc}: EVE example fails Suricata's schema: {errors:?}\n{v}"
                        );
                    }
                    None => eprintln!("SKIPPED: {doc}: EVE example (Suricata's schema is absent)"),
                }
            } else {
                let errors: Vec<String> = contract.iter_errors(&v).map(|e| e.to_string()).collect();
                assert!(errors.is_empty(), "{doc}: example fails docs/alert-schema.json: {errors:?}\n{v}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 4, "the examples were not found ({checked})");
}
