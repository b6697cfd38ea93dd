//! Suricata EVE, so that Suricata's consumers (Filebeat's Suricata module, EveBox, Elastic
//! Security, Splunk apps) read minewatch's records as they read Suricata's own. Every line keeps
//! to Suricata's own schema (`etc/schema.json`, whose top level and `alert`, `flow` and `stats`
//! objects allow no other keys; `tests/it/eve_schema.rs` checks every line of every capture in
//! `pcaps/` against it), so nothing of minewatch's own sits at the top level:
//!
//! - a `mining` record is `event_type: "alert"` with Suricata's `alert` object (gid 1,
//!   `signature_id` [`SID_MINING`], category "Crypto Currency Mining Activity Detected", the
//!   severity of the JSON contract) and the Stratum facts in `alert.metadata`, as lists of
//!   strings, the shape Suricata gives a rule's metadata;
//! - a `mining_session` record is `event_type: "flow"` with a `flow` object in Suricata's names
//!   (`pkts_toserver`, `bytes_toserver`, `start`, `end`, `age`, `state`, `reason`, `alerted`);
//! - a `stats` record is `event_type: "stats"` with minewatch's counters under Suricata's nested
//!   names (`stats.capture.kernel_packets`, `stats.decoder.pkts`, ...), those that mean the same.
//!
//! `timestamp` ends with `+0000`, as Suricata writes it; `host` is the sensor name (Suricata's
//! `sensor-name`); `community_id` is the flow's Community ID. The mapping is documented in
//! docs/eve.md. Escaping is the JSON format's.

use std::collections::BTreeMap;

use serde::Serialize;

use super::json;
use crate::intel::{SEVERITY_DEFAULT, SEVERITY_WATCHLISTED};
use crate::stratum::Variant;
use crate::time::Ts;
use crate::verdict::{EndReason, Event, EventKind};

/// minewatch's signature id: Suricata's range for local rules is 1000000-1999999, and
/// minewatch's alerts take 1960001-1960099 (docs/eve.md), 1960001 for a Stratum mining session.
pub const SID_MINING: u64 = 1_960_001;

/// Suricata's alert category for the `coin-mining` classtype.
pub const CATEGORY: &str = "Crypto Currency Mining Activity Detected";

/// A timestamp as Suricata writes it: microseconds and a numeric UTC offset (`+0000`), which its
/// schema requires (RFC 3339's `Z` does not match).
fn eve_time(ts: Ts) -> String {
    let secs = ts.as_micros().div_euclid(1_000_000);
    let micros = ts.as_micros().rem_euclid(1_000_000) as u32;
    match chrono::DateTime::from_timestamp(secs, micros * 1000) {
        Some(dt) => dt.format("%Y-%m-%dT%H:%M:%S%.6f+0000").to_string(),
        None => "1970-01-01T00:00:00.000000+0000".to_string(),
    }
}

#[derive(Serialize)]
struct Eve<'a> {
    /// The head every JSON and EVE record shares (`json::Head`), with Suricata's time format.
    #[serde(flatten)]
    head: json::Head,
    app_proto: &'static str,
    host: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    alert: Option<Alert>,
    flow: Flow,
    /// The session's evidence file (`--pcap-dir`), under Suricata's own key for the pcap its
    /// conditional pcap logging wrote for a flow, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    capture_file: Option<&'a str>,
    /// ... and as a `fileinfo` entry for its size and SHA-256 (`stored`: it is on disk).
    #[serde(skip_serializing_if = "Option::is_none")]
    files: Option<[EveFile<'a>; 1]>,
}

/// The evidence file as Suricata describes a stored file.
#[derive(Serialize)]
struct EveFile<'a> {
    filename: &'a str,
    size: u64,
    sha256: &'a str,
    state: &'static str,
    stored: bool,
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
    /// The Stratum facts, each a list of strings (Suricata's shape for a rule's metadata).
    metadata: BTreeMap<&'static str, Vec<String>>,
}

#[derive(Serialize)]
struct Flow {
    pkts_toserver: u64,
    pkts_toclient: u64,
    bytes_toserver: u64,
    bytes_toclient: u64,
    start: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    age: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alerted: Option<bool>,
}

/// The Stratum facts of `ev` as `alert.metadata`: the JSON contract's `stratum` names, each
/// value a one-element list (`methods` and `extensions` one element each), absent when unknown.
fn metadata(ev: &Event, watch: Option<&str>) -> BTreeMap<&'static str, Vec<String>> {
    let mut m = BTreeMap::new();
    let Ok(serde_json::Value::Object(stratum)) = serde_json::to_value(json::stratum(ev, false)) else {
        return m;
    };
    for (k, v) in stratum {
        let Some(key) = METADATA_KEYS.iter().copied().find(|n| *n == k) else { continue };
        let list = match v {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => vec![s],
            // An object (the encrypted session's evidence): one `key=value` string per field,
            // nested objects by dotted key (`toserver.count=9`).
            serde_json::Value::Object(o) => o
                .into_iter()
                .flat_map(|(k, v)| match v {
                    serde_json::Value::Object(inner) => {
                        inner.into_iter().map(|(k2, v2)| format!("{k}.{k2}={v2}")).collect::<Vec<_>>()
                    }
                    other => vec![format!("{k}={other}")],
                })
                .collect(),
            serde_json::Value::Array(a) => a
                .into_iter()
                .map(|x| match x {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect(),
            other => vec![other.to_string()],
        };
        if !list.is_empty() {
            m.insert(key, list);
        }
    }
    // The behaviour evidence, one key per number (`behaviour_pushes`, ...): Suricata's
    // metadata is a map of string lists, no nesting.
    if let Some(b) = ev.facts.behaviour.as_deref() {
        if let Ok(serde_json::Value::Object(o)) = serde_json::to_value(json::BehaviourOut::of(b)) {
            for (k, v) in o {
                let Some(key) =
                    BEHAVIOUR_KEYS.iter().copied().find(|n| n.strip_prefix("behaviour_") == Some(&k))
                else {
                    continue;
                };
                let text = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                m.insert(key, vec![text]);
            }
        }
    }
    m.insert("confidence", vec![ev.confidence.as_str().to_string()]);
    if let Some(label) = watch.filter(|l| !l.is_empty()) {
        m.insert("watchlist_label", vec![label.to_string()]);
    }
    m
}

/// The `stratum` keys that `alert.metadata` carries (every one the alert record can hold).
const METADATA_KEYS: &[&str] = &[
    "variant",
    "login",
    "worker",
    "password",
    "agent",
    "agent_name",
    "agent_version",
    "agent_kind",
    "wallet",
    "wallet_checksum",
    "coin",
    "algo",
    "extensions",
    "methods",
    "pool_host",
    "clue",
    "tunnel",
    "tunnel_target",
    "ja3",
    "ja3_string",
    "ja4",
    "tls_ech",
    "tls_ech_outer_sni",
    "difficulty",
    "difficulty_min",
    "difficulty_max",
    "suggested_difficulty",
    "target",
    "reported_hashrate",
    "reconnect_to",
    "pool_message",
    "encrypted",
    "truncated",
];

/// The behaviour evidence's keys in `alert.metadata`.
const BEHAVIOUR_KEYS: &[&str] = &[
    "behaviour_pushes",
    "behaviour_push_period_mean_s",
    "behaviour_push_period_stddev_s",
    "behaviour_push_len_min",
    "behaviour_push_len_max",
    "behaviour_requests",
    "behaviour_answered",
    "behaviour_client_len_min",
    "behaviour_client_len_max",
    "behaviour_answer_ms_mean",
    "behaviour_answer_ms_max",
    "behaviour_duration_s",
    "behaviour_aligned_pushes",
    "behaviour_pushes_checked",
    "behaviour_known_fingerprint",
];

/// Appends one EVE record (without the line terminator) to `out`.
pub fn format(ev: &Event, sensor: &str, out: &mut Vec<u8>) {
    format_with(ev, sensor, None, out)
}

/// As [`format`]; `watch` is the watchlist's verdict on the login: `Some(label)` raises the
/// alert's severity as in the JSON contract and names the label in `alert.metadata`.
pub fn format_with(ev: &Event, sensor: &str, watch: Option<&str>, out: &mut Vec<u8>) {
    let session = ev.kind == EventKind::MiningSession;
    let variant = ev.facts.variant.map_or("unknown", |v| v.as_str());
    let alert = (!session).then(|| Alert {
        action: "allowed",
        gid: 1,
        signature_id: SID_MINING,
        rev: 1,
        signature: format!("MINEWATCH Cryptocurrency mining ({variant})"),
        category: CATEGORY,
        severity: if watch.is_some() { SEVERITY_WATCHLISTED } else { SEVERITY_DEFAULT },
        metadata: metadata(ev, watch),
    });
    let flow = if session {
        let reason = ev.end_reason.unwrap_or(EndReason::EndOfInput);
        Flow {
            pkts_toserver: ev.pkts_toserver,
            pkts_toclient: ev.pkts_toclient,
            bytes_toserver: ev.bytes_toserver,
            bytes_toclient: ev.bytes_toclient,
            start: eve_time(ev.first_seen),
            end: Some(eve_time(ev.last_seen)),
            age: Some(ev.last_seen.as_micros().saturating_sub(ev.first_seen.as_micros()).max(0) / 1_000_000),
            state: Some(match reason {
                EndReason::Fin | EndReason::Rst => "closed",
                _ => "established",
            }),
            reason: Some(match reason {
                EndReason::EndOfInput => "shutdown",
                EndReason::Evicted => "forced",
                _ => "timeout",
            }),
            alerted: Some(true),
        }
    } else {
        Flow {
            pkts_toserver: ev.pkts_toserver,
            pkts_toclient: ev.pkts_toclient,
            bytes_toserver: ev.bytes_toserver,
            bytes_toclient: ev.bytes_toclient,
            start: eve_time(ev.first_seen),
            end: None,
            age: None,
            state: None,
            reason: None,
            alerted: None,
        }
    };
    let rec = Eve {
        head: json::Head::of(ev, if session { "flow" } else { "alert" }).with_time(eve_time(ev.ts)),
        // A Stratum session seen only as its TLS hello is, on the wire, TLS.
        app_proto: if ev.facts.variant == Some(Variant::Tls) { "tls" } else { "stratum" },
        host: sensor,
        alert,
        flow,
        capture_file: ev.evidence.as_ref().map(|e| e.file.as_str()),
        files: ev.evidence.as_ref().map(|e| {
            [EveFile { filename: &e.file, size: e.bytes, sha256: &e.sha256, state: "CLOSED", stored: true }]
        }),
    };
    json::write_json(&rec, out);
}

/// `stats.capture`: the kernel's counters, summed over the interfaces.
#[derive(Serialize)]
struct Capture {
    kernel_packets: u64,
    kernel_drops: u64,
    kernel_ifdrops: u64,
}

#[derive(Serialize)]
struct Decoder {
    pkts: u64,
    bytes: u64,
    invalid: u64,
    tcp: u64,
    udp: u64,
}

#[derive(Serialize)]
struct FlowStats {
    total: u64,
    tcp: u64,
}

#[derive(Serialize)]
struct Tcp {
    sessions: u64,
    no_flow: u64,
    reassembly_gap: u64,
    overlap_diff_data: u64,
}

#[derive(Serialize)]
struct Detect {
    alert: u64,
    alerts_suppressed: u64,
}

#[derive(Serialize)]
struct StatsBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    capture: Option<Capture>,
    decoder: Decoder,
    flow: FlowStats,
    tcp: Tcp,
    detect: Detect,
}

#[derive(Serialize)]
struct Stats<'a> {
    timestamp: String,
    event_type: &'static str,
    host: &'a str,
    stats: StatsBody,
}

/// Appends one EVE `stats` record: the counters that mean what a Suricata counter means, under
/// its name (docs/eve.md); the others are in the JSON format's `stats` and on the metrics
/// endpoint, since Suricata's `stats` object allows no other key.
pub fn format_stats(rec: &super::StatsRecord, sensor: &str, out: &mut Vec<u8>) {
    let c = &rec.counters;
    let capture = (!rec.kernel.is_empty()).then(|| {
        rec.kernel.iter().fold(
            Capture { kernel_packets: 0, kernel_drops: 0, kernel_ifdrops: 0 },
            |acc, (_, k)| Capture {
                kernel_packets: acc.kernel_packets.saturating_add(k.received),
                kernel_drops: acc.kernel_drops.saturating_add(k.dropped),
                kernel_ifdrops: acc.kernel_ifdrops.saturating_add(k.if_dropped),
            },
        )
    });
    let r = Stats {
        timestamp: eve_time(rec.ts),
        event_type: "stats",
        host: sensor,
        stats: StatsBody {
            capture,
            decoder: Decoder {
                pkts: c.packets,
                bytes: c.bytes,
                invalid: c.malformed.saturating_add(c.truncated),
                tcp: c.tcp_packets,
                udp: c.udp_packets,
            },
            flow: FlowStats { total: c.flows, tcp: c.flows },
            tcp: Tcp {
                sessions: c.flows,
                no_flow: c.tcp_no_flow,
                reassembly_gap: c.reasm_gaps,
                overlap_diff_data: c.reasm_overlap_conflicts,
            },
            detect: Detect { alert: c.alerts, alerts_suppressed: c.alerts_suppressed },
        },
    };
    json::write_json(&r, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::json::tests::{event, event4, EVENT4_COMMUNITY_ID};
    use crate::stats::{Counters, KernelStats};

    fn parse(ev: &Event, watch: Option<&str>) -> serde_json::Value {
        let mut buf = Vec::new();
        format_with(ev, "edge-1", watch, &mut buf);
        serde_json::from_slice(&buf).unwrap()
    }

    #[test]
    fn suricata_alert_layout() {
        let v = parse(&event4(EventKind::Mining, "4Awallet"), None);
        assert_eq!(v["timestamp"], "2023-11-14T22:13:20.000042+0000");
        assert_eq!(v["event_type"], "alert");
        assert_eq!(v["app_proto"], "stratum");
        assert_eq!(v["host"], "edge-1");
        assert_eq!(v["community_id"], EVENT4_COMMUNITY_ID);
        assert_eq!(v["alert"]["signature_id"], SID_MINING);
        assert_eq!(v["alert"]["gid"], 1);
        assert_eq!(v["alert"]["rev"], 1);
        assert_eq!(v["alert"]["action"], "allowed");
        assert_eq!(v["alert"]["severity"], SEVERITY_DEFAULT);
        assert_eq!(v["alert"]["category"], CATEGORY);
        assert_eq!(v["alert"]["metadata"]["login"], serde_json::json!(["4Awallet"]));
        assert_eq!(v["alert"]["metadata"]["methods"], serde_json::json!(["login", "job"]));
        assert_eq!(v["alert"]["metadata"]["confidence"], serde_json::json!(["confirmed"]));
        assert_eq!(v["src_ip"], "10.0.0.5");
        assert_eq!(v["dest_port"], 3333);
        assert_eq!(v["flow"]["bytes_toserver"], 10);
        assert_eq!(v["flow"]["pkts_toserver"], 3);
        assert!(v.get("stratum").is_none() && v.get("sensor").is_none() && v.get("confidence").is_none());
        let v = parse(&event(EventKind::Mining, "4Awallet"), Some("botnet"));
        assert_eq!(v["alert"]["severity"], SEVERITY_WATCHLISTED);
        assert_eq!(v["alert"]["metadata"]["watchlist_label"], serde_json::json!(["botnet"]));
    }

    #[test]
    fn session_is_a_flow_record_at_its_end() {
        let v = parse(&event(EventKind::MiningSession, "w"), None);
        assert_eq!(v["event_type"], "flow");
        assert_eq!(v["flow"]["bytes_toserver"], 10);
        assert_eq!(v["flow"]["bytes_toclient"], 20);
        assert_eq!(
            (v["flow"]["pkts_toserver"].as_u64(), v["flow"]["pkts_toclient"].as_u64()),
            (Some(3), Some(4))
        );
        assert_eq!(v["flow"]["state"], "closed");
        assert_eq!(v["flow"]["reason"], "timeout");
        assert_eq!(v["flow"]["age"], 100);
        assert_eq!(v["flow"]["start"], "2023-11-14T22:13:20.000000+0000");
        assert_eq!(v["flow"]["end"], "2023-11-14T22:15:00.000000+0000");
        assert!(v.get("alert").is_none());
    }

    #[test]
    fn stats_in_suricata_shape() {
        let rec = super::super::StatsRecord {
            ts: Ts::from_timeval(1_700_000_000, 0),
            counters: Counters { packets: 7, alerts: 2, reasm_gaps: 1, ..Default::default() },
            kernel: vec![
                ("eth0".into(), KernelStats { received: 5, dropped: 1, if_dropped: 0 }),
                ("eth1".into(), KernelStats { received: 3, dropped: 2, if_dropped: 1 }),
            ],
        };
        let mut buf = Vec::new();
        format_stats(&rec, "edge-1", &mut buf);
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["event_type"], "stats");
        assert_eq!(v["stats"]["decoder"]["pkts"], 7);
        assert_eq!(v["stats"]["detect"]["alert"], 2);
        assert_eq!(v["stats"]["tcp"]["reassembly_gap"], 1);
        assert_eq!(v["stats"]["capture"]["kernel_packets"], 8);
        assert_eq!(v["stats"]["capture"]["kernel_drops"], 3);
        assert_eq!(v["stats"]["capture"]["kernel_ifdrops"], 1);
    }
}
