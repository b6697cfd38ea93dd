//! Injection: every wire string is attacker-controlled. Arbitrary strings (heavy in newlines,
//! control characters, NUL, CEF's `|` `=` `\`, quotes, U+2028/U+2029) go through every format and
//! through the RFC 5424 / RFC 6587 syslog framing; the output is parsed back (a JSON parser, a
//! small CEF parser written from the specification, a syslog frame parser) and must give exactly
//! one record whose values are the ones that went in.

use std::collections::BTreeMap;

use minewatch::output::{syslog, Format, StatsRecord};
use minewatch::stats::Counters;
use minewatch::stratum::{Confidence, SessionFacts, Variant};
use minewatch::time::Ts;
use minewatch::verdict::{EndReason, Event, EventKind};
use proptest::prelude::*;
use serde_json::Value;

fn nasty_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => any::<char>(),
        2 => prop::sample::select(vec![
            '\n', '\r', '\0', '\t', '\u{1b}', '\u{7f}', '\u{85}', '\u{2028}', '\u{2029}', '|', '=', '\\', '"',
            ' ', ',', '[', ']', '{', '}', '<', '>', ':', '\u{feff}', '\u{fffd}',
        ]),
        2 => prop::char::range('a', 'z'),
    ]
}

fn nasty() -> impl Strategy<Value = String> {
    prop::collection::vec(nasty_char(), 0..48).prop_map(|v| v.into_iter().collect())
}

#[derive(Debug, Clone)]
struct Wire {
    login: Option<String>,
    worker: Option<String>,
    agent: Option<String>,
    password: Option<String>,
    algo: Option<String>,
    methods: Vec<String>,
    sensor: String,
    session: bool,
    truncated: bool,
}

fn wire() -> impl Strategy<Value = Wire> {
    (
        prop::option::of(nasty()),
        prop::option::of(nasty()),
        prop::option::of(nasty()),
        prop::option::of(nasty()),
        prop::option::of(nasty()),
        prop::collection::vec(nasty(), 0..4),
        nasty(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(login, worker, agent, password, algo, methods, sensor, session, truncated)| Wire {
            login,
            worker,
            agent,
            password,
            algo,
            methods,
            sensor,
            session,
            truncated,
        })
}

fn event(w: &Wire) -> Event {
    let kind = if w.session { EventKind::MiningSession } else { EventKind::Mining };
    Event {
        kind,
        ts: Ts::from_timeval(1_700_000_000, 123_456),
        flow_id: 99,
        client: "10.1.2.3:40001".parse().unwrap(),
        pool: "[2001:db8::7]:3333".parse().unwrap(),
        confidence: Confidence::Detected,
        facts: SessionFacts {
            variant: Some(Variant::StratumV1),
            login: w.login.clone(),
            worker: w.worker.clone(),
            agent: w.agent.clone(),
            password: w.password.clone(),
            algo: w.algo.clone(),
            methods: w.methods.clone(),
            jobs: 4,
            shares_submitted: 3,
            shares_accepted: 2,
            shares_rejected: 1,
            difficulty: Some(0.5),
            // 6e9 hashes over the 60 s session: an estimated 1e8 H/s, on session records.
            accepted_hashes: 6e9,
            truncated: w.truncated,
            ..Default::default()
        },
        first_seen: Ts::from_timeval(1_700_000_000, 0),
        last_seen: Ts::from_timeval(1_700_000_060, 0),
        bytes_toserver: 10,
        bytes_toclient: 20,
        pkts_toserver: 3,
        pkts_toclient: 4,
        end_reason: w.session.then_some(EndReason::Rst),
        derived: Default::default(),
        pcap_filename: None,
        evidence: None,
    }
    .derive()
}

/// No byte that any line-, record- or datagram-based reader could take as a boundary.
fn assert_one_line(buf: &[u8]) {
    assert!(
        !buf.iter().any(|&b| b < 0x20 || b == 0x7f),
        "control byte in {:?}",
        String::from_utf8_lossy(buf)
    );
    let s = std::str::from_utf8(buf).expect("UTF-8");
    assert!(!s.contains(['\u{85}', '\u{2028}', '\u{2029}']), "line separator in {s:?}");
}

fn one_json(buf: &[u8]) -> Value {
    let mut it = serde_json::Deserializer::from_slice(buf).into_iter::<Value>();
    let v = it.next().expect("a record").expect("valid JSON");
    assert!(it.next().is_none(), "more than one JSON value");
    v
}

fn opt(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn check_stratum(st: &Value, w: &Wire) {
    assert_eq!(opt(&st["login"]), w.login);
    assert_eq!(opt(&st["worker"]), w.worker);
    assert_eq!(opt(&st["agent"]), w.agent);
    assert_eq!(opt(&st["password"]), w.password);
    assert_eq!(opt(&st["algo"]), w.algo);
    let methods: Vec<String> = st["methods"].as_array().expect("methods").iter().filter_map(opt).collect();
    assert_eq!(methods, w.methods);
    assert_eq!(st.get("truncated").and_then(Value::as_bool).unwrap_or(false), w.truncated);
    // The derived facts, worked out once when the record was built, come out intact too.
    let agent = w.agent.as_deref().and_then(minewatch::stratum::agent::parse);
    assert_eq!(opt(&st["agent_name"]), agent.as_ref().map(|a| a.name.to_string()));
    assert_eq!(opt(&st["agent_version"]), agent.as_ref().and_then(|a| a.version).map(str::to_string));
    assert_eq!(st.get("hashrate").and_then(Value::as_f64), w.session.then_some(1e8));
}

/// The Stratum facts of an EVE alert: `alert.metadata`, each fact a list of strings, intact.
fn check_eve_metadata(md: &Value, w: &Wire) {
    let one = |k: &str| -> Option<String> {
        md.get(k).map(|v| {
            let list = v.as_array().expect("metadata values are lists");
            assert_eq!(list.len(), 1, "{k}: {v}");
            opt(&list[0]).expect("a string")
        })
    };
    assert_eq!(one("login"), w.login);
    assert_eq!(one("worker"), w.worker);
    assert_eq!(one("agent"), w.agent);
    assert_eq!(one("password"), w.password);
    assert_eq!(one("algo"), w.algo);
    let methods: Vec<String> = md
        .get("methods")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(opt).collect())
        .unwrap_or_default();
    assert_eq!(methods, w.methods);
    assert_eq!(one("truncated").as_deref() == Some("true"), w.truncated);
    let agent = w.agent.as_deref().and_then(minewatch::stratum::agent::parse);
    assert_eq!(one("agent_name"), agent.as_ref().map(|a| a.name.to_string()));
}

// ---- a CEF parser, from the specification ------------------------------------------------------

/// Splits a CEF line into its 7 header fields (unescaped) and its extension pairs (unescaped).
fn parse_cef(line: &str) -> (Vec<String>, Vec<(String, String)>) {
    let mut header = Vec::new();
    let mut cur = String::new();
    let mut chars = line.char_indices();
    let mut ext_start = line.len();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, n)) => cur.push(n),
                None => panic!("dangling backslash in header"),
            },
            '|' => {
                header.push(std::mem::take(&mut cur));
                if header.len() == 7 {
                    ext_start = i + 1;
                    break;
                }
            }
            c => cur.push(c),
        }
    }
    assert_eq!(header.len(), 7, "header fields of {line:?}");
    let ext: Vec<char> = line[ext_start..].chars().collect();
    // Unescaped '=' positions; each key is the word before one.
    let mut eqs = Vec::new();
    let mut i = 0;
    while i < ext.len() {
        match ext[i] {
            '\\' => i += 2,
            '=' => {
                eqs.push(i);
                i += 1;
            }
            _ => i += 1,
        }
    }
    let key_start = |eq: usize| ext[..eq].iter().rposition(|&c| c == ' ').map_or(0, |p| p + 1);
    let mut pairs = Vec::new();
    for (n, &eq) in eqs.iter().enumerate() {
        let ks = key_start(eq);
        let key: String = ext[ks..eq].iter().collect();
        let vend = eqs.get(n + 1).map_or(ext.len(), |&next| key_start(next).saturating_sub(1));
        let raw = &ext[eq + 1..vend.max(eq + 1)];
        let mut v = String::new();
        let mut j = 0;
        while j < raw.len() {
            if raw[j] == '\\' {
                match raw.get(j + 1) {
                    Some('n') => v.push('\n'),
                    Some('r') => v.push('\r'),
                    Some(&c) => v.push(c),
                    None => panic!("dangling backslash in value"),
                }
                j += 2;
            } else {
                v.push(raw[j]);
                j += 1;
            }
        }
        pairs.push((key, v));
    }
    (header, pairs)
}

/// What CEF can carry of a string: every character but the control characters it has no escape
/// for (and U+2028/U+2029), which become U+FFFD.
fn cef_value(s: &str) -> String {
    s.chars()
        .map(|c| {
            if (c.is_control() && c != '\n' && c != '\r') || c == '\u{2028}' || c == '\u{2029}' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

fn check_cef(buf: &[u8], w: &Wire) {
    assert_one_line(buf);
    let line = std::str::from_utf8(buf).unwrap();
    let (header, pairs) = parse_cef(line);
    assert_eq!(header[0], "CEF:0");
    assert_eq!(header[1], "minewatch");
    assert_eq!(header[4], if w.session { "mining_session" } else { "mining" });
    let mut map = BTreeMap::new();
    for (k, v) in &pairs {
        assert!(map.insert(k.clone(), v.clone()).is_none(), "key {k} twice in {line}");
    }
    let mut want: BTreeMap<String, String> = BTreeMap::new();
    // An empty value is left out, never written as `key=`.
    let mut put = |k: &str, v: &str| {
        if !v.is_empty() {
            want.insert(k.to_string(), v.to_string());
        }
    };
    put("rt", "1700000000123");
    put("dvchost", &cef_value(&w.sensor));
    put("externalId", "99");
    put("src", "10.1.2.3");
    put("spt", "40001");
    // CEF:0's `dst` is IPv4 only: an IPv6 pool goes in `c6a3`, labelled.
    put("c6a3Label", "Destination IPv6 Address");
    put("c6a3", "2001:db8::7");
    put("dpt", "3333");
    put("proto", "TCP");
    put("app", "stratum-v1");
    put("act", if w.session { "reset" } else { "alert" });
    put("cat", "mining");
    if let Some(l) = &w.login {
        put("suser", &cef_value(l));
    }
    if let Some(a) = &w.agent {
        put("requestClientApplication", &cef_value(a));
    }
    for (key, label, v) in [
        ("cs1", "stratumWorker", &w.worker),
        ("cs3", "stratumPassword", &w.password),
        ("cs4", "stratumAlgo", &w.algo),
    ] {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            put(&format!("{key}Label"), label);
            put(key, &cef_value(v));
        }
    }
    if !w.methods.join(",").is_empty() {
        put("cs5Label", "stratumMethods");
        put("cs5", &cef_value(&w.methods.join(",")));
    }
    put("cs6Label", "confidence");
    put("cs6", "detected");
    if w.truncated {
        put("flexNumber2Label", "truncated");
        put("flexNumber2", "1");
    }
    put("cfp1Label", "difficulty");
    put("cfp1", "0.5");
    if w.session {
        for (k, v) in [
            ("flexNumber1Label", "sharesSubmitted"),
            ("flexNumber1", "3"),
            ("cn1Label", "jobs"),
            ("cn1", "4"),
            ("cn2Label", "sharesAccepted"),
            ("cn2", "2"),
            ("cn3Label", "sharesRejected"),
            ("cn3", "1"),
            ("cfp2Label", "hashrate"),
            ("cfp2", "100000000"),
            ("in", "10"),
            ("out", "20"),
            ("start", "1700000000000"),
            ("end", "1700000060000"),
            ("reason", "rst"),
        ] {
            put(k, v);
        }
    }
    assert_eq!(map, want, "CEF line {line:?}");
}

// ---- RFC 5424 inside RFC 6587 octet counting -----------------------------------------------------

/// Parses a byte stream of octet-counted frames; each must be a whole RFC 5424 message.
fn parse_frames(mut stream: &[u8]) -> Vec<(Vec<String>, Vec<u8>)> {
    let mut out = Vec::new();
    while !stream.is_empty() {
        let sp = stream.iter().position(|&b| b == b' ').expect("length then space");
        let len: usize = std::str::from_utf8(&stream[..sp]).unwrap().parse().expect("decimal length");
        let msg = &stream[sp + 1..sp + 1 + len];
        stream = &stream[sp + 1 + len..];
        // <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG
        let mut fields = Vec::new();
        let mut rest = msg;
        for _ in 0..7 {
            let p = rest.iter().position(|&b| b == b' ').expect("header field");
            fields.push(String::from_utf8(rest[..p].to_vec()).unwrap());
            rest = &rest[p + 1..];
        }
        out.push((fields, rest.to_vec()));
    }
    out
}

fn check_syslog(record: &[u8], w: &Wire) {
    let h = syslog::Header::new(&w.sensor);
    let mut msg = Vec::new();
    h.message(syslog::Severity::Warning, Ts::from_timeval(1_700_000_000, 1), "mining", record, &mut msg);
    let mut stream = Vec::new();
    syslog::octet_counted(&msg, &mut stream);
    let frames = parse_frames(&stream);
    assert_eq!(frames.len(), 1);
    let (fields, body) = &frames[0];
    assert_eq!(fields[0], "<132>1");
    assert_eq!(fields[1], "2023-11-14T22:13:20.000001Z");
    assert!(
        !fields[2].is_empty() && fields[2].len() <= 255 && fields[2].bytes().all(|b| (33..=126).contains(&b))
    );
    assert_eq!(fields[3], "minewatch");
    assert_eq!(fields[5], "mining");
    assert_eq!(fields[6], "-");
    assert_eq!(body, record);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_format_round_trips_hostile_strings(w in wire()) {
        let ev = event(&w);
        for format in Format::ALL {
            let mut buf = Vec::new();
            format.format(&ev, &w.sensor, &mut buf);
            match format {
                Format::Json => {
                    assert_one_line(&buf);
                    let v = one_json(&buf);
                    assert_eq!(v["event_type"], if w.session { "mining_session" } else { "mining" });
                    assert_eq!(opt(&v["sensor"]), Some(w.sensor.clone()));
                    assert_eq!(v["src_ip"], "10.1.2.3");
                    check_stratum(&v["stratum"], &w);
                }
                Format::Ecs => {
                    assert_one_line(&buf);
                    let v = one_json(&buf);
                    assert_eq!(v["event"]["action"], if w.session { "mining_session" } else { "mining" });
                    assert_eq!(opt(&v["observer"]["name"]), Some(w.sensor.clone()));
                    assert_eq!(opt(&v["user_agent"]["original"]), w.agent);
                    check_stratum(&v["minewatch"]["stratum"], &w);
                }
                Format::Eve => {
                    assert_one_line(&buf);
                    let v = one_json(&buf);
                    assert_eq!(v["event_type"], if w.session { "flow" } else { "alert" });
                    assert_eq!(opt(&v["host"]), Some(w.sensor.clone()));
                    if !w.session {
                        check_eve_metadata(&v["alert"]["metadata"], &w);
                    }
                }
                Format::Cef => check_cef(&buf, &w),
            }
            check_syslog(&buf, &w);
        }
    }

    #[test]
    fn stats_records_are_one_line_in_every_format(sensor in nasty(), n in any::<u64>()) {
        let rec = StatsRecord {
            ts: Ts::from_timeval(1_700_000_000, 0),
            counters: Counters { packets: n, output_queue_dropped: 7, ..Default::default() },
            kernel: Vec::new(),
        };
        for format in Format::ALL {
            let mut buf = Vec::new();
            format.format_stats(&rec, &sensor, &mut buf);
            assert_one_line(&buf);
            if format == Format::Cef {
                let (_, pairs) = parse_cef(std::str::from_utf8(&buf).unwrap());
                let keys: Vec<&str> = pairs.iter().map(|p| p.0.as_str()).collect();
                // An empty sensor name is left out rather than written as `dvchost=`.
                let want: &[&str] = if sensor.is_empty() { &["rt", "msg"] } else { &["rt", "dvchost", "msg"] };
                assert_eq!(keys, want);
                let msg = &pairs[keys.len() - 1].1;
                assert!(msg.contains(&format!("packets:{n} ")));
                assert!(msg.contains("output_queue_dropped:7"));
            } else {
                let v = one_json(&buf);
                if format == Format::Eve {
                    // Suricata's names, Suricata's nesting.
                    assert_eq!(v["stats"]["decoder"]["pkts"], n);
                    assert_eq!(opt(&v["host"]), Some(sensor.clone()));
                    continue;
                }
                let stats = if format == Format::Ecs { &v["minewatch"]["stats"] } else { &v["stats"] };
                assert_eq!(stats["packets"], n);
                assert_eq!(stats["output_queue_dropped"], 7);
            }
        }
    }
}
