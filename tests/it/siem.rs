//! The SIEM formats as their tools read them: every ECS document of every bundled capture held
//! to Elastic's own field list (`ecs_flat.yml`), every CEF record parsed by a parser written
//! from the CEF specification, and a run whose reader goes away (`minewatch … | head`) ending
//! quietly.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::util::{bin, pcaps_dir, repo_root, run};

/// `../shared/schemas/`, beside the repository; `None` (and the test says SKIPPED) when absent.
fn schema(name: &str) -> Option<PathBuf> {
    let p = repo_root().join("../shared/schemas").join(name);
    if p.is_file() {
        Some(p)
    } else {
        eprintln!("SKIPPED: {} is absent", p.display());
        None
    }
}

/// Every bundled capture.
fn captures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(pcaps_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    v.sort();
    assert!(v.len() > 20, "{} captures", v.len());
    v
}

/// The wallet of `cryptonote-xmrig.pcap`, on the watchlist of every run here.
const WATCHED: &str =
    "48edfHu7V9Z84YzzMa6fUueoELZ9ZRXq9VetWzYGzKt52XU5xvqgzYnDK9URnRoJMk1j8nLwEVsaSWJ4fhdUyZijBGUicoD";

/// Every record of `format` minewatch writes for every bundled capture, with a `stats` record,
/// with [`WATCHED`] on the watchlist and evidence files (`--pcap-dir`).
fn records(format: &str) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let watchlist = dir.path().join("watchlist.txt");
    std::fs::write(&watchlist, format!("{WATCHED} incident-42\n")).unwrap();
    let watchlist = watchlist.to_string_lossy().into_owned();
    // With evidence files, so that their fields are checked in every format too.
    let evidence = dir.path().join("evidence").to_string_lossy().into_owned();
    let mut out = Vec::new();
    for cap in captures() {
        let path = cap.to_string_lossy().into_owned();
        let args = [
            "-q",
            "--format",
            format,
            "--stats-interval",
            "3600",
            "--watchlist",
            &watchlist,
            "--pcap-dir",
            &evidence,
            "-r",
            &path,
        ];
        let r = run(&args, None);
        assert_eq!(r.code(), Some(0), "{path}: {}", r.stderr);
        out.extend(r.stdout.lines().map(|l| (path.clone(), l.to_string())));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// ECS
// ---------------------------------------------------------------------------------------------

struct Ecs {
    /// Field name → ECS type.
    types: BTreeMap<String, String>,
    /// `event.kind` / `event.category` / `event.type` → allowed values.
    allowed: BTreeMap<String, BTreeSet<String>>,
}

fn ecs() -> Option<Ecs> {
    let text = std::fs::read_to_string(schema("ecs_flat.yml")?).unwrap();
    let doc: serde_yaml::Mapping = serde_yaml::from_str(&text).unwrap();
    let mut types = BTreeMap::new();
    let mut allowed = BTreeMap::new();
    for (k, v) in doc {
        let name = k.as_str().unwrap().to_string();
        let ty = v.get("type").and_then(|t| t.as_str()).unwrap_or_default().to_string();
        if let Some(vals) = v.get("allowed_values").and_then(|a| a.as_sequence()) {
            let set = vals.iter().filter_map(|a| a.get("name")?.as_str().map(str::to_string)).collect();
            allowed.insert(name.clone(), set);
        }
        types.insert(name, ty);
    }
    assert!(types.len() > 1000 && allowed.contains_key("event.kind"), "not ecs_flat.yml");
    Some(Ecs { types, allowed })
}

/// Whether a JSON value may be indexed as an ECS field of type `ty` (one value or an array).
fn fits(ty: &str, v: &Value) -> bool {
    match v {
        Value::Array(a) => !a.is_empty() && a.iter().all(|x| fits(ty, x)),
        Value::String(s) => match ty {
            "keyword" | "constant_keyword" | "wildcard" | "text" | "match_only_text" | "flattened" => true,
            "ip" => s.parse::<std::net::IpAddr>().is_ok(),
            "date" => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
            _ => false,
        },
        Value::Number(n) => match ty {
            "long" | "integer" | "short" | "byte" | "unsigned_long" => n.is_i64() || n.is_u64(),
            "float" | "double" | "scaled_float" | "half_float" => true,
            _ => false,
        },
        Value::Bool(_) => ty == "boolean",
        _ => false,
    }
}

/// Checks one document's leaves against ECS; `minewatch.*` is the custom namespace.
fn check_ecs(ecs: &Ecs, prefix: &str, v: &Value, errors: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                if path == "minewatch" {
                    continue;
                }
                match ecs.types.get(&path).map(String::as_str) {
                    // An object (or nested array of objects) that ECS defines: its fields.
                    Some("object" | "nested") | None if x.is_object() || x.is_array() && x[0].is_object() => {
                        if x.is_object() {
                            check_ecs(ecs, &path, x, errors)
                        } else {
                            x.as_array().unwrap().iter().for_each(|e| check_ecs(ecs, &path, e, errors))
                        }
                    }
                    Some(ty) => {
                        if !fits(ty, x) {
                            errors.push(format!("{path}: {x} is not an ECS {ty}"));
                        }
                        if let Some(ok) = ecs.allowed.get(&path) {
                            let vals: Vec<&Value> = x.as_array().map_or(vec![x], |a| a.iter().collect());
                            for val in vals {
                                if !val.as_str().is_some_and(|s| ok.contains(s)) {
                                    errors.push(format!("{path}: {val} is not an allowed value"));
                                }
                            }
                        }
                    }
                    None => errors.push(format!("{path}: not an ECS field")),
                }
            }
        }
        _ => errors.push(format!("{prefix}: not an object")),
    }
}

#[test]
fn every_ecs_field_is_an_ecs_field_of_its_type() {
    let Some(ecs) = ecs() else { return };
    // The checker itself: a made-up field, a wrong type and a value ECS does not allow fail.
    let mut errors = Vec::new();
    let bad = serde_json::json!({"source": {"ip": "not-an-ip", "bogus": 1}, "event": {"kind": "mining"}});
    check_ecs(&ecs, "", &bad, &mut errors);
    assert_eq!(errors.len(), 3, "{errors:?}");

    let recs = records("ecs");
    let mut kinds = BTreeSet::new();
    let mut errors = BTreeSet::new();
    for (path, line) in &recs {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{path}: {e}: {line}"));
        kinds.insert(v["event"]["action"].as_str().unwrap_or_default().to_string());
        let mut e = Vec::new();
        check_ecs(&ecs, "", &v, &mut e);
        errors.extend(e.into_iter().map(|e| format!("{path}: {e}")));
    }
    assert!(errors.is_empty(), "{}", errors.into_iter().collect::<Vec<_>>().join("\n"));
    let want: BTreeSet<String> = ["mining", "mining_session", "stats"].map(String::from).into();
    assert_eq!(kinds, want);
}

#[test]
fn ecs_carries_what_analysts_pivot_on() {
    let recs = records("ecs");
    let docs: Vec<Value> = recs.iter().map(|(_, l)| serde_json::from_str(l).unwrap()).collect();
    let alerts: Vec<&Value> = docs.iter().filter(|d| d["event"]["kind"] == "alert").collect();
    assert!(!alerts.is_empty());
    for d in docs.iter().filter(|d| d["event"]["kind"] != "metric") {
        let (src, dst) = (&d["source"]["ip"], &d["destination"]["ip"]);
        assert_eq!(d["source"]["address"], *src, "{d}");
        assert_eq!(d["destination"]["address"], *dst, "{d}");
        let related: Vec<&Value> = d["related"]["ip"].as_array().unwrap().iter().collect();
        assert!(related.contains(&src) && related.contains(&dst), "{d}");
        assert!(["outbound", "internal"].contains(&d["network"]["direction"].as_str().unwrap()), "{d}");
        if let Some(login) = d["minewatch"]["stratum"]["login"].as_str() {
            assert_eq!(d["related"]["user"][0], login, "{d}");
        }
        if let Some(host) = d["minewatch"]["stratum"]["pool_host"].as_str() {
            assert_eq!(d["related"]["hosts"][0], host, "{d}");
            assert_eq!(d["destination"]["domain"], host, "{d}");
        }
        if d["event"]["action"] == "mining_session" {
            let start = chrono::DateTime::parse_from_rfc3339(d["event"]["start"].as_str().unwrap()).unwrap();
            let end = chrono::DateTime::parse_from_rfc3339(d["event"]["end"].as_str().unwrap()).unwrap();
            let ns = (end - start).num_nanoseconds().unwrap();
            assert_eq!(d["event"]["duration"].as_i64(), Some(ns), "{d}");
        }
    }
    // A watchlist hit is an indicator match on the wallet.
    let hits: Vec<&&Value> = alerts.iter().filter(|d| d["threat"].is_object()).collect();
    assert!(!hits.is_empty(), "no watchlist hit");
    for d in hits {
        let e = &d["threat"]["enrichments"][0];
        assert_eq!(e["matched"]["atomic"], WATCHED, "{d}");
        assert_eq!(e["matched"]["field"], "minewatch.stratum.wallet", "{d}");
        assert_eq!(d["minewatch"]["stratum"]["wallet"], WATCHED, "{d}");
        assert_eq!(e["indicator"]["description"], "incident-42", "{d}");
    }
    // The TLS alerts name the server as the ClientHello did.
    let sni: Vec<&&Value> = alerts.iter().filter(|d| d["minewatch"]["stratum"]["clue"] == "sni").collect();
    assert!(!sni.is_empty(), "no TLS alert by SNI in pcaps/");
    for d in sni {
        assert_eq!(d["tls"]["client"]["server_name"], d["minewatch"]["stratum"]["pool_host"], "{d}");
        assert_eq!(d["network"]["protocol"], "tls", "{d}");
    }
}

// ---------------------------------------------------------------------------------------------
// CEF
// ---------------------------------------------------------------------------------------------

/// One CEF record, parsed as the specification (ArcSight "Implementing ArcSight CEF", rev. 25)
/// says: `CEF:Version|Device Vendor|Device Product|Device Version|Device Event Class
/// ID|Name|Severity|Extension`; in the header `\|` and `\\` are escapes and an unescaped `|`
/// ends a field; the extension is `key=value` pairs separated by spaces, where a value runs to
/// the space before the next unescaped `key=`, and `\=`, `\\`, `\n`, `\r` are its escapes.
#[derive(Debug)]
struct Cef {
    header: Vec<String>,
    ext: Vec<(String, String)>,
}

fn parse_cef(line: &str) -> Result<Cef, String> {
    let rest = line.strip_prefix("CEF:").ok_or("no CEF: prefix")?;
    if line.contains('\n') || line.contains('\r') {
        return Err("a raw line break".into());
    }
    let mut header = Vec::new();
    let mut cur = String::new();
    let mut chars = rest.chars();
    while header.len() < 7 {
        match chars.next().ok_or("header cut short")? {
            '\\' => match chars.next() {
                Some(c @ ('\\' | '|')) => cur.push(c),
                other => return Err(format!("bad header escape {other:?}")),
            },
            '|' => header.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    let ext_text: String = chars.collect();
    // Split at unescaped '=': each key is the last space-free word before it.
    let mut ext = Vec::new();
    let mut key: Option<String> = None;
    let mut val = String::new();
    let mut it = ext_text.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.next() {
                Some('\\') => val.push('\\'),
                Some('=') => val.push('='),
                Some('n') => val.push('\n'),
                Some('r') => val.push('\r'),
                other => return Err(format!("bad extension escape {other:?}")),
            },
            '=' => {
                // `val` ends with " word": the word is the next key.
                let (prev, k) = match val.rfind(' ') {
                    Some(i) => (val[..i].to_string(), val[i + 1..].to_string()),
                    None if key.is_none() => (String::new(), std::mem::take(&mut val)),
                    None => return Err(format!("value of {key:?} runs into a key")),
                };
                if let Some(k0) = key.take() {
                    ext.push((k0, prev));
                }
                if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(format!("bad key {k:?}"));
                }
                key = Some(k);
                val.clear();
            }
            c => val.push(c),
        }
    }
    if let Some(k) = key {
        ext.push((k, val));
    } else if !val.is_empty() {
        return Err("extension without a key".into());
    }
    Ok(Cef { header, ext })
}

/// The specification's dictionary keys (short names) that minewatch may use.
const DICTIONARY: &[&str] = &[
    "act",
    "app",
    "cat",
    "cnt",
    "dhost",
    "dpt",
    "dst",
    "dvchost",
    "end",
    "externalId",
    "filePath",
    "fname",
    "fileHash",
    "fileId",
    "in",
    "msg",
    "out",
    "proto",
    "reason",
    "requestClientApplication",
    "rt",
    "spt",
    "src",
    "start",
    "suser",
];
/// Custom keys, each of which must come with its `…Label`.
const CUSTOM: &[&str] = &[
    "cs1",
    "cs2",
    "cs3",
    "cs4",
    "cs5",
    "cs6",
    "cn1",
    "cn2",
    "cn3",
    "cfp1",
    "cfp2",
    "cfp3",
    "cfp4",
    "c6a1",
    "c6a2",
    "c6a3",
    "c6a4",
    "flexString1",
    "flexString2",
    "flexNumber1",
    "flexNumber2",
];

#[test]
fn the_cef_parser_reads_the_spec_escapes() {
    let c = parse_cef(r"CEF:0|a\|b|c\\d|1|sig|na\|me|5|src=10.0.0.1 msg=x\=y z\\ w\nv cs1Label=a b cs1=")
        .unwrap();
    assert_eq!(c.header[1], "a|b");
    assert_eq!(c.header[2], "c\\d");
    assert_eq!(c.header[5], "na|me");
    assert_eq!(c.ext[1], ("msg".into(), "x=y z\\ w\nv".into()));
    assert_eq!(c.ext[2], ("cs1Label".into(), "a b".into()));
    assert_eq!(c.ext[3], ("cs1".into(), String::new()));
    assert!(parse_cef("CEF:0|a|b|c|d|e|5|k=v\\q").is_err());
    assert!(parse_cef("CEF:0|a|b|c|d|e").is_err());
}

#[test]
fn every_cef_record_reads_per_the_spec() {
    let recs = records("cef");
    let mut types = BTreeSet::new();
    let mut v6 = 0;
    for (path, line) in &recs {
        let c = parse_cef(line).unwrap_or_else(|e| panic!("{path}: {e}: {line}"));
        assert_eq!(c.header[0], "0", "{line}");
        assert_eq!((c.header[1].as_str(), c.header[2].as_str()), ("minewatch", "minewatch"));
        let sev: u8 = c.header[6].parse().unwrap_or_else(|_| panic!("severity: {line}"));
        assert!(sev <= 10, "{line}");
        types.insert(c.header[4].clone());
        let keys: BTreeMap<&str, &str> = c.ext.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(keys.len(), c.ext.len(), "a key twice: {line}");
        for (k, v) in &c.ext {
            assert!(!v.is_empty(), "{path}: empty {k}: {line}");
            let base = k.strip_suffix("Label").unwrap_or(k);
            if CUSTOM.contains(&base) {
                assert!(keys.contains_key(format!("{base}Label").as_str()), "{k} without label: {line}");
                assert!(keys.contains_key(base), "label without {base}: {line}");
            } else {
                assert!(DICTIONARY.contains(&k.as_str()), "{path}: {k} is no CEF key: {line}");
            }
        }
        // CEF:0's src/dst are IPv4; IPv6 goes in c6a2/c6a3.
        for (k4, k6) in [("src", "c6a2"), ("dst", "c6a3")] {
            if let Some(a) = keys.get(k4) {
                assert!(a.parse::<std::net::Ipv4Addr>().is_ok(), "{k4}={a}: {line}");
            }
            if let Some(a) = keys.get(k6) {
                assert!(a.parse::<std::net::Ipv6Addr>().is_ok(), "{k6}={a}: {line}");
                v6 += 1;
            }
        }
        assert!(!keys.contains_key("cnt"), "cnt is not shares: {line}");
        match c.header[4].as_str() {
            "mining" => {
                assert_eq!(keys.get("act"), Some(&"alert"), "{line}");
                assert!(keys.contains_key("src") ^ keys.contains_key("c6a2"), "{line}");
            }
            "mining_session" => {
                let act = keys.get("act").copied().unwrap_or_default();
                assert!(
                    ["closed", "reset", "timed out", "capture ended", "evicted"].contains(&act),
                    "{line}"
                );
                assert_eq!(keys.get("flexNumber1Label"), Some(&"sharesSubmitted"), "{line}");
            }
            "stats" => assert!(keys.contains_key("msg"), "{line}"),
            other => panic!("record type {other}: {line}"),
        }
        if let Some(host) = keys.get("dhost") {
            assert!(!host.contains(' '), "{line}");
        }
    }
    let want: BTreeSet<String> = ["mining", "mining_session", "stats"].map(String::from).into();
    assert_eq!(types, want);
    assert!(v6 > 0, "no IPv6 record in pcaps/");
}

#[test]
fn cef_names_the_pool_and_the_wallet() {
    let recs = records("cef");
    // A TLS alert named by SNI or DNS (one found by behaviour has no name to give).
    let tls = recs
        .iter()
        .find(|(_, l)| l.contains("|mining|") && l.contains("app=tls") && !l.contains(" cs3=behaviour"))
        .expect("a TLS alert");
    let c = parse_cef(&tls.1).unwrap();
    assert!(c.ext.iter().any(|(k, v)| k == "dhost" && !v.is_empty()), "{}", tls.1);
    assert!(
        recs.iter()
            .any(|(_, l)| l.contains(" cs2Label=wallet cs2=") && l.contains(" flexString1Label=coin ")),
        "no record names wallet and coin"
    );
    let hit =
        recs.iter().find(|(_, l)| l.contains("|mining|") && l.contains(WATCHED)).expect("watched alert");
    assert!(hit.1.contains(" msg=watchlisted wallet: incident-42 "), "{}", hit.1);
}

// ---------------------------------------------------------------------------------------------
// A reader that goes away
// ---------------------------------------------------------------------------------------------

#[test]
fn a_reader_that_goes_away_ends_the_run_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.pcap");
    let spec = testkit::synth::bench::BenchSpec { size: 12_000_000, seed: 3, file: "big.pcap".into() };
    let f = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
    let summary = testkit::synth::bench::write_bench(f, &spec).unwrap();
    assert!(summary.truth.len() >= 12);
    let big = big.to_string_lossy().into_owned();
    // The capture several times over: far more records than `head -1` will read.
    for quiet in [true, false] {
        let mut args: Vec<&str> = Vec::new();
        if quiet {
            args.push("-q");
        }
        for _ in 0..6 {
            args.extend(["-r", big.as_str()]);
        }
        let mut mw =
            Command::new(bin()).args(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let head =
            Command::new("head").arg("-1").stdin(Stdio::from(mw.stdout.take().unwrap())).output().unwrap();
        let out = mw.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(String::from_utf8_lossy(&head.stdout).lines().count(), 1);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        if quiet {
            assert!(stderr.is_empty(), "{stderr}");
        } else {
            assert!(!stderr.contains("Broken pipe") && !stderr.contains("os error"), "{stderr}");
        }
    }
}
