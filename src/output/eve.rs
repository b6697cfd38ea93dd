//! Suricata EVE layout, so Suricata dashboards and pipelines (Kibana, Splunk apps, EveBox) show
//! minewatch alerts next to Suricata's own: a `mining` record becomes `event_type: "alert"` with
//! the `alert` object Suricata writes for a rule match (classtype `coin-mining`), a
//! `mining_session` record becomes `event_type: "flow"` with a `flow` object, and a `stats`
//! record stays `event_type: "stats"`. `app_proto` is `stratum` and the Stratum facts travel in a
//! `stratum` object, as in the JSON contract. `host` is the sensor name, as Suricata's
//! `sensor-name` is; `sensor` carries it too. Escaping is the JSON format's.

use serde::Serialize;

use super::json::{self, Head, Stratum};
use crate::stratum::Confidence;
use crate::verdict::{EndReason, Event, EventKind};

/// Signature IDs in the local range (1000000-1999999) reserved for site rules.
pub const SID_MINING: u64 = 1_960_001;

#[derive(Serialize)]
struct Eve<'a> {
    #[serde(flatten)]
    head: Head,
    app_proto: &'static str,
    host: &'a str,
    sensor: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    alert: Option<Alert>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow: Option<Flow>,
    stratum: Stratum<'a>,
    confidence: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    watchlist_label: Option<&'a str>,
}

#[derive(Serialize)]
struct Alert {
    action: &'static str,
    gid: u32,
    signature_id: u64,
    rev: u32,
    signature: String,
    category: &'static str,
    severity: u8,
}

#[derive(Serialize)]
struct Flow {
    bytes_toserver: u64,
    bytes_toclient: u64,
    start: String,
    end: String,
    age: i64,
    state: &'static str,
    reason: &'static str,
    alerted: bool,
    end_reason: &'static str,
}

#[derive(Serialize)]
struct Stats<'a> {
    timestamp: String,
    event_type: &'static str,
    host: &'a str,
    sensor: &'a str,
    stats: &'a crate::stats::Counters,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    capture: Vec<json::KernelOut<'a>>,
}

/// Appends one EVE record (without the line terminator) to `out`.
pub fn format(ev: &Event, sensor: &str, out: &mut Vec<u8>) {
    format_with(ev, sensor, None, out)
}

/// As [`format`]; `watch` is the watchlist's verdict on the login: `Some(label)` makes the
/// alert severity 1 and adds `watchlist_label`.
pub fn format_with(ev: &Event, sensor: &str, watch: Option<&str>, out: &mut Vec<u8>) {
    let session = ev.kind == EventKind::MiningSession;
    let variant = ev.facts.variant.map_or("unknown", |v| v.as_str());
    let alert = (!session).then(|| Alert {
        action: "allowed",
        gid: 1,
        signature_id: SID_MINING,
        rev: 1,
        signature: format!("MINEWATCH Cryptocurrency mining ({variant})"),
        category: "Crypto Currency Mining Activity Detected",
        severity: match (watch, ev.confidence) {
            (Some(_), _) | (_, Confidence::Confirmed) => 1,
            (_, Confidence::Detected) => 2,
            _ => 3,
        },
    });
    let flow = session.then(|| {
        let reason = ev.end_reason.unwrap_or(EndReason::EndOfInput);
        Flow {
            bytes_toserver: ev.bytes_toserver,
            bytes_toclient: ev.bytes_toclient,
            start: ev.first_seen.rfc3339(),
            end: ev.last_seen.rfc3339(),
            age: ev.last_seen.as_micros().saturating_sub(ev.first_seen.as_micros()).max(0) / 1_000_000,
            state: match reason {
                EndReason::Fin | EndReason::Rst => "closed",
                _ => "established",
            },
            reason: match reason {
                EndReason::EndOfInput => "shutdown",
                EndReason::Evicted => "forced",
                _ => "timeout",
            },
            alerted: true,
            end_reason: reason.as_str(),
        }
    });
    let rec = Eve {
        head: Head::of(ev, if session { "flow" } else { "alert" }),
        app_proto: "stratum",
        host: sensor,
        sensor,
        alert,
        flow,
        stratum: json::stratum(ev, session),
        confidence: ev.confidence.as_str(),
        watchlist_label: watch.filter(|l| !l.is_empty()),
    };
    json::write_json(&rec, out);
}

/// Appends one EVE `stats` record.
pub fn format_stats(rec: &super::StatsRecord, sensor: &str, out: &mut Vec<u8>) {
    let r = Stats {
        timestamp: rec.ts.rfc3339(),
        event_type: "stats",
        host: sensor,
        sensor,
        stats: &rec.counters,
        capture: json::kernel_out(rec),
    };
    json::write_json(&r, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::json::tests::event;

    #[test]
    fn suricata_alert_layout() {
        let mut buf = Vec::new();
        format(&event(EventKind::Mining, "4Awallet"), "edge-1", &mut buf);
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["event_type"], "alert");
        assert_eq!(v["app_proto"], "stratum");
        assert_eq!(v["host"], "edge-1");
        assert_eq!(v["alert"]["signature_id"], SID_MINING);
        assert_eq!(v["alert"]["gid"], 1);
        assert_eq!(v["alert"]["rev"], 1);
        assert_eq!(v["alert"]["action"], "allowed");
        assert_eq!(v["alert"]["severity"], 1);
        assert_eq!(v["alert"]["category"], "Crypto Currency Mining Activity Detected");
        assert_eq!(v["src_ip"], "10.0.0.5");
        assert_eq!(v["dest_port"], 3333);
        assert_eq!(v["stratum"]["login"], "4Awallet");
        let mut buf = Vec::new();
        format(&event(EventKind::MiningSession, "w"), "edge-1", &mut buf);
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["event_type"], "flow");
        assert_eq!(v["flow"]["bytes_toserver"], 10);
        assert_eq!(v["flow"]["state"], "closed");
        assert_eq!(v["flow"]["age"], 100);
    }
}
