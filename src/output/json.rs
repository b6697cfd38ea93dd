//! The JSON-lines alert format: the contract SIEM engineers map (docs/alert-schema.md).
//! Field names follow Suricata's EVE head (`timestamp`, `flow_id`, `event_type`, `src_ip`, ...)
//! so existing pipelines parse them unchanged.
//!
//! Every wire string passes through serde_json, which escapes quotes, backslashes and control
//! characters; we also escape U+2028 and U+2029, which JSON allows raw but JavaScript-based
//! consumers treat as line breaks. No value can therefore add a field or start a new record.

use serde::Serialize;

use crate::stratum::SessionFacts;
use crate::verdict::{Event, EventKind};

#[derive(Serialize)]
struct Record<'a> {
    timestamp: String,
    flow_id: u64,
    event_type: &'static str,
    src_ip: String,
    src_port: u16,
    dest_ip: String,
    dest_port: u16,
    proto: &'static str,
    confidence: &'static str,
    stratum: Stratum<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_toserver: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_toclient: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_reason: Option<&'static str>,
}

#[derive(Serialize)]
struct Stratum<'a> {
    variant: Option<&'static str>,
    login: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    worker: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
    agent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    algo: Option<&'a str>,
    methods: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pool_host: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    clue: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    difficulty: Option<f64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
    #[serde(flatten)]
    counters: Option<SessionCounters>,
}

#[derive(Serialize)]
struct SessionCounters {
    jobs: u64,
    shares_submitted: u64,
    shares_accepted: u64,
    shares_rejected: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_share: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_share: Option<String>,
}

fn stratum(f: &SessionFacts, with_counters: bool) -> Stratum<'_> {
    Stratum {
        variant: f.variant.map(|v| v.as_str()),
        login: f.login.as_deref(),
        worker: f.worker.as_deref(),
        password: f.password.as_deref(),
        agent: f.agent.as_deref(),
        algo: f.algo.as_deref(),
        methods: &f.methods,
        pool_host: f.pool_host.as_deref(),
        clue: f.clue.map(|c| c.as_str()),
        difficulty: f.difficulty.filter(|d| d.is_finite()),
        truncated: f.truncated,
        counters: with_counters.then(|| SessionCounters {
            jobs: f.jobs,
            shares_submitted: f.shares_submitted,
            shares_accepted: f.shares_accepted,
            shares_rejected: f.shares_rejected,
            first_share: f.first_share.map(|t| t.rfc3339()),
            last_share: f.last_share.map(|t| t.rfc3339()),
        }),
    }
}

/// Appends one record (without the line terminator) to `out`.
pub fn format(ev: &Event, out: &mut Vec<u8>) {
    let session = ev.kind == EventKind::MiningSession;
    let rec = Record {
        timestamp: ev.ts.rfc3339(),
        flow_id: ev.flow_id,
        event_type: ev.kind.as_str(),
        src_ip: ev.client.ip().to_string(),
        src_port: ev.client.port(),
        dest_ip: ev.pool.ip().to_string(),
        dest_port: ev.pool.port(),
        proto: "TCP",
        confidence: ev.confidence.as_str(),
        stratum: stratum(&ev.facts, session),
        first_seen: session.then(|| ev.first_seen.rfc3339()),
        last_seen: session.then(|| ev.last_seen.rfc3339()),
        bytes_toserver: session.then_some(ev.bytes_toserver),
        bytes_toclient: session.then_some(ev.bytes_toclient),
        end_reason: ev.end_reason.map(|r| r.as_str()),
    };
    let start = out.len();
    // Serializing plain structs of strings and numbers into a Vec cannot fail.
    if serde_json::to_writer(&mut *out, &rec).is_err() {
        out.truncate(start);
        out.extend_from_slice(b"{\"event_type\":\"error\"}");
        return;
    }
    escape_line_separators(out, start);
}

#[derive(Serialize)]
struct StatsOut<'a> {
    timestamp: String,
    event_type: &'static str,
    stats: &'a crate::stats::Counters,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    capture: Vec<KernelOut<'a>>,
}

#[derive(Serialize)]
struct KernelOut<'a> {
    iface: &'a str,
    received: u64,
    dropped: u64,
    if_dropped: u64,
}

/// Appends one `stats` record (without the line terminator) to `out`.
pub fn format_stats(rec: &super::StatsRecord, out: &mut Vec<u8>) {
    let r = StatsOut {
        timestamp: rec.ts.rfc3339(),
        event_type: "stats",
        stats: &rec.counters,
        capture: rec
            .kernel
            .iter()
            .map(|(iface, k)| KernelOut {
                iface,
                received: k.received,
                dropped: k.dropped,
                if_dropped: k.if_dropped,
            })
            .collect(),
    };
    let start = out.len();
    if serde_json::to_writer(&mut *out, &r).is_err() {
        out.truncate(start);
        out.extend_from_slice(b"{\"event_type\":\"error\"}");
        return;
    }
    escape_line_separators(out, start);
}

/// Rewrites raw U+2028/U+2029 (E2 80 A8/A9) written since `start` as `\u2028`/`\u2029`.
fn escape_line_separators(out: &mut Vec<u8>, start: usize) {
    let tail = out.get(start..).unwrap_or_default();
    if !tail.windows(2).any(|w| w == [0xE2, 0x80]) {
        return;
    }
    let src = out.split_off(start);
    let mut i = 0;
    while let Some(&b) = src.get(i) {
        match (b, src.get(i + 1), src.get(i + 2)) {
            (0xE2, Some(0x80), Some(0xA8)) => {
                out.extend_from_slice(b"\\u2028");
                i += 3;
            }
            (0xE2, Some(0x80), Some(0xA9)) => {
                out.extend_from_slice(b"\\u2029");
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stratum::{Confidence, Variant};
    use crate::time::Ts;
    use crate::verdict::EndReason;

    fn event(kind: EventKind, login: &str) -> Event {
        Event {
            kind,
            ts: Ts::from_timeval(1_700_000_000, 42),
            flow_id: 7,
            client: "10.0.0.5:40000".parse().unwrap(),
            pool: "[2001:db8::1]:3333".parse().unwrap(),
            confidence: Confidence::Confirmed,
            facts: SessionFacts {
                variant: Some(Variant::CryptoNote),
                login: Some(login.into()),
                methods: vec!["login".into(), "job".into()],
                jobs: 3,
                shares_submitted: 2,
                shares_accepted: 1,
                shares_rejected: 1,
                ..Default::default()
            },
            first_seen: Ts::from_timeval(1_700_000_000, 0),
            last_seen: Ts::from_timeval(1_700_000_100, 0),
            bytes_toserver: 10,
            bytes_toclient: 20,
            end_reason: (kind == EventKind::MiningSession).then_some(EndReason::Fin),
        }
    }

    fn parse(ev: &Event) -> serde_json::Value {
        let mut buf = Vec::new();
        format(ev, &mut buf);
        assert!(!buf.contains(&b'\n'));
        serde_json::from_slice(&buf).unwrap()
    }

    #[test]
    fn mining_record_has_the_contract_fields() {
        let v = parse(&event(EventKind::Mining, "4Awallet"));
        assert_eq!(v["event_type"], "mining");
        assert_eq!(v["timestamp"], "2023-11-14T22:13:20.000042Z");
        assert_eq!(v["src_ip"], "10.0.0.5");
        assert_eq!(v["src_port"], 40000);
        assert_eq!(v["dest_ip"], "2001:db8::1");
        assert_eq!(v["dest_port"], 3333);
        assert_eq!(v["proto"], "TCP");
        assert_eq!(v["confidence"], "confirmed");
        assert_eq!(v["stratum"]["variant"], "cryptonote");
        assert_eq!(v["stratum"]["login"], "4Awallet");
        assert_eq!(v["stratum"]["methods"], serde_json::json!(["login", "job"]));
        assert!(v.get("first_seen").is_none());
        assert!(v["stratum"].get("shares_submitted").is_none());
    }

    #[test]
    fn session_record_adds_counters() {
        let v = parse(&event(EventKind::MiningSession, "w"));
        assert_eq!(v["event_type"], "mining_session");
        assert_eq!(v["stratum"]["jobs"], 3);
        assert_eq!(v["stratum"]["shares_submitted"], 2);
        assert_eq!(v["stratum"]["shares_accepted"], 1);
        assert_eq!(v["stratum"]["shares_rejected"], 1);
        assert_eq!(v["first_seen"], "2023-11-14T22:13:20.000000Z");
        assert_eq!(v["last_seen"], "2023-11-14T22:15:00.000000Z");
        assert_eq!(v["bytes_toserver"], 10);
        assert_eq!(v["bytes_toclient"], 20);
        assert_eq!(v["end_reason"], "fin");
    }

    #[test]
    fn hostile_login_cannot_break_the_record() {
        let nasty = "a\"b\\c\nd\re\u{0}f\u{2028}g\u{2029}h\",\"event_type\":\"forged";
        let ev = event(EventKind::Mining, nasty);
        let mut buf = Vec::new();
        format(&ev, &mut buf);
        assert!(!buf.contains(&b'\n') && !buf.contains(&b'\r'));
        assert!(!buf.windows(3).any(|w| w == [0xE2, 0x80, 0xA8] || w == [0xE2, 0x80, 0xA9]));
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["stratum"]["login"], nasty);
        assert_eq!(v["event_type"], "mining");
    }
}
