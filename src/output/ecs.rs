//! Elastic Common Schema (ECS) documents, one per line, for Elasticsearch through Filebeat or
//! Elastic Agent without an ingest pipeline of our own.
//!
//! Standard ECS fields carry what ECS has names for (`@timestamp`, `event.*`, `source.*`,
//! `destination.*`, `network.*` with `network.community_id`, `observer.*`, `user_agent.original`); the Stratum facts go in
//! the `minewatch` group with the same names as the JSON contract's `stratum` object. Escaping is
//! the JSON format's: serde_json plus U+2028/U+2029.

use serde::Serialize;

use super::json::{self, Stratum};
use crate::verdict::{Event, EventKind};

/// The ECS version these field names follow.
pub const ECS_VERSION: &str = "8.11.0";

#[derive(Serialize)]
struct Doc<'a> {
    #[serde(rename = "@timestamp")]
    timestamp: String,
    ecs: Version,
    event: EcsEvent<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<Rule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<Endpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination: Option<Endpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    network: Option<Network<'a>>,
    observer: Observer<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<UserAgent<'a>>,
    minewatch: Minewatch<'a>,
}

#[derive(Serialize)]
struct Version {
    version: &'static str,
}

#[derive(Serialize)]
struct EcsEvent<'a> {
    kind: &'static str,
    category: &'static [&'static str],
    #[serde(rename = "type")]
    type_: &'static [&'static str],
    action: &'a str,
    dataset: &'static str,
    module: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

#[derive(Serialize)]
struct Rule {
    name: String,
    category: &'static str,
}

#[derive(Serialize)]
struct Endpoint {
    ip: String,
    port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
}

#[derive(Serialize)]
struct Network<'a> {
    transport: &'static str,
    protocol: &'static str,
    /// The flow's Community ID v1, as Zeek, Suricata and Elastic Agent write it.
    #[serde(skip_serializing_if = "Option::is_none")]
    community_id: Option<&'a str>,
}

#[derive(Serialize)]
struct Observer<'a> {
    name: &'a str,
    product: &'static str,
    vendor: &'static str,
    #[serde(rename = "type")]
    type_: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct UserAgent<'a> {
    original: &'a str,
}

#[derive(Serialize)]
struct Minewatch<'a> {
    sensor: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    confidence: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stratum: Option<Stratum<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    watchlist_label: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stats: Option<&'a crate::stats::Counters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    capture: Option<Vec<json::KernelOut<'a>>>,
}

fn observer(sensor: &str) -> Observer<'_> {
    Observer {
        name: sensor,
        product: "minewatch",
        vendor: "minewatch",
        type_: "sensor",
        version: env!("CARGO_PKG_VERSION"),
    }
}

/// Appends one ECS document (without the line terminator) to `out`.
pub fn format(ev: &Event, sensor: &str, out: &mut Vec<u8>) {
    format_with(ev, sensor, None, out)
}

/// As [`format`]; `watch` is the watchlist's verdict on the login: `Some(label)` raises
/// `event.severity` to 99 and names the label in `minewatch.watchlist_label`.
pub fn format_with(ev: &Event, sensor: &str, watch: Option<&str>, out: &mut Vec<u8>) {
    let session = ev.kind == EventKind::MiningSession;
    let variant = ev.facts.variant.map_or("unknown", |v| v.as_str());
    let (kind, category, type_, dataset): (_, &'static [&'static str], &'static [&'static str], _) =
        if session {
            ("event", &["network"], &["connection", "end"], "minewatch.session")
        } else {
            ("alert", &["network", "intrusion_detection"], &["info"], "minewatch.alert")
        };
    let doc = Doc {
        timestamp: ev.ts.rfc3339(),
        ecs: Version { version: ECS_VERSION },
        event: EcsEvent {
            kind,
            category,
            type_,
            action: ev.kind.as_str(),
            dataset,
            module: "minewatch",
            severity: (!session).then_some(match (watch, ev.confidence) {
                (Some(_), _) => 99,
                (_, crate::stratum::Confidence::Confirmed) => 73,
                (_, crate::stratum::Confidence::Detected) => 60,
                _ => 47,
            }),
            start: session.then(|| ev.first_seen.rfc3339()),
            end: session.then(|| ev.last_seen.rfc3339()),
            reason: ev.end_reason.map(|r| r.as_str()),
        },
        rule: (!session).then(|| Rule {
            name: format!("Cryptocurrency mining ({variant})"),
            category: "Crypto Currency Mining Activity Detected",
        }),
        source: Some(Endpoint {
            ip: ev.client.ip().to_string(),
            port: ev.client.port(),
            bytes: session.then_some(ev.bytes_toserver),
        }),
        destination: Some(Endpoint {
            ip: ev.pool.ip().to_string(),
            port: ev.pool.port(),
            bytes: session.then_some(ev.bytes_toclient),
        }),
        network: Some(Network {
            transport: "tcp",
            protocol: "stratum",
            community_id: ev.derived.community_id.as_deref(),
        }),
        observer: observer(sensor),
        user_agent: ev.facts.agent.as_deref().map(|original| UserAgent { original }),
        minewatch: Minewatch {
            sensor,
            flow_id: Some(ev.flow_id),
            confidence: Some(ev.confidence.as_str()),
            stratum: Some(json::stratum(ev, session)),
            watchlist_label: watch.filter(|l| !l.is_empty()),
            stats: None,
            capture: None,
        },
    };
    json::write_json(&doc, out);
}

/// Appends one `stats` document: `event.kind: metric`, the counters under `minewatch.stats`.
pub fn format_stats(rec: &super::StatsRecord, sensor: &str, out: &mut Vec<u8>) {
    let capture = json::kernel_out(rec);
    let doc = Doc {
        timestamp: rec.ts.rfc3339(),
        ecs: Version { version: ECS_VERSION },
        event: EcsEvent {
            kind: "metric",
            category: &["network"],
            type_: &["info"],
            action: "stats",
            dataset: "minewatch.stats",
            module: "minewatch",
            severity: None,
            start: None,
            end: None,
            reason: None,
        },
        rule: None,
        source: None,
        destination: None,
        network: None,
        observer: observer(sensor),
        user_agent: None,
        minewatch: Minewatch {
            sensor,
            flow_id: None,
            confidence: None,
            stratum: None,
            watchlist_label: None,
            stats: Some(&rec.counters),
            capture: (!capture.is_empty()).then_some(capture),
        },
    };
    json::write_json(&doc, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::json::tests::{event, event4, EVENT4_COMMUNITY_ID};

    #[test]
    fn network_community_id() {
        let mut buf = Vec::new();
        format(&event4(EventKind::Mining, "4Awallet"), "edge-1", &mut buf);
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["network"]["community_id"], EVENT4_COMMUNITY_ID);
    }

    #[test]
    fn ecs_field_names() {
        let mut buf = Vec::new();
        format(&event(EventKind::Mining, "4Awallet"), "edge-1", &mut buf);
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["@timestamp"], "2023-11-14T22:13:20.000042Z");
        assert_eq!(v["event"]["kind"], "alert");
        assert_eq!(v["event"]["action"], "mining");
        assert_eq!(v["event"]["dataset"], "minewatch.alert");
        assert_eq!(v["source"]["ip"], "10.0.0.5");
        assert_eq!(v["source"]["port"], 40000);
        assert_eq!(v["destination"]["ip"], "2001:db8::1");
        assert_eq!(v["network"]["transport"], "tcp");
        assert_eq!(v["observer"]["name"], "edge-1");
        assert_eq!(v["minewatch"]["stratum"]["login"], "4Awallet");
        assert_eq!(v["minewatch"]["flow_id"], 7);
        let mut buf = Vec::new();
        format(&event(EventKind::MiningSession, "w"), "edge-1", &mut buf);
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["event"]["kind"], "event");
        assert_eq!(v["event"]["reason"], "fin");
        assert_eq!(v["source"]["bytes"], 10);
        assert_eq!(v["minewatch"]["stratum"]["shares_submitted"], 2);
    }
}
