//! Elastic Common Schema (ECS) documents, one per line, for Elasticsearch through Filebeat or
//! Elastic Agent without an ingest pipeline of our own.
//!
//! Standard ECS fields carry what ECS has names for (`@timestamp`, `event.*`, `source.*`,
//! `destination.*`, `network.*` with `network.community_id`, `observer.*`, `user_agent.original`, `related.*`, `tls.client.
//! server_name`, `threat.enrichments`); the Stratum facts go in the one custom group `minewatch`
//! with the same names as the JSON contract's `stratum` object. Every other key is an ECS field
//! of its ECS type, and `event.kind/category/type` take only ECS's allowed values: a test holds
//! every record of every bundled capture to Elastic's `ecs_flat.yml`. Escaping is the JSON
//! format's: serde_json plus U+2028/U+2029.
//!
//! What analysts pivot on is filled in wherever the record knows it: `related.ip` (both ends),
//! `related.user` (the login), `related.hosts` and `destination.domain` (the pool's name from SNI,
//! DNS answer or HTTP `Host`), `network.direction` (from the home network, as the gate decided),
//! `event.start`/`end`/`duration` on session records.

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
    source: Option<Endpoint<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination: Option<Endpoint<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    network: Option<Network<'a>>,
    observer: Observer<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<UserAgent<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    related: Option<Related<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<Tls<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    threat: Option<Threat<'a>>,
    /// On replay, the capture file the record came from, in `log.file.path` (the file "this
    /// event came from"; JSON and EVE `pcap_filename`).
    #[serde(skip_serializing_if = "Option::is_none")]
    log: Option<Log<'a>>,
    minewatch: Minewatch<'a>,
}

#[derive(Serialize)]
struct Log<'a> {
    file: LogFile<'a>,
}

#[derive(Serialize)]
struct LogFile<'a> {
    path: &'a str,
}

/// `related.*`: the values an analyst searches across every field at once.
#[derive(Serialize)]
struct Related<'a> {
    ip: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    user: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hosts: Vec<&'a str>,
}

#[derive(Serialize)]
struct Tls<'a> {
    client: TlsClient<'a>,
}

#[derive(Serialize)]
struct TlsClient<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    server_name: Option<&'a str>,
    /// ECS's `tls.client.ja3` (the JA4 has no ECS field: `minewatch.stratum.ja4`).
    #[serde(skip_serializing_if = "Option::is_none")]
    ja3: Option<&'a str>,
}

/// A watchlist hit, as ECS records an alert enriched by an indicator match.
#[derive(Serialize)]
struct Threat<'a> {
    enrichments: [Enrichment<'a>; 1],
}

#[derive(Serialize)]
struct Enrichment<'a> {
    indicator: Indicator<'a>,
    matched: Matched<'a>,
}

#[derive(Serialize)]
struct Indicator<'a> {
    provider: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
}

#[derive(Serialize)]
struct Matched<'a> {
    /// The login that matched.
    atomic: &'a str,
    field: &'static str,
    #[serde(rename = "type")]
    type_: &'static str,
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
    /// Nanoseconds, as ECS counts `event.duration`.
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

#[derive(Serialize)]
struct Rule {
    name: String,
    category: &'static str,
}

#[derive(Serialize)]
struct Endpoint<'a> {
    /// The address as seen, which ECS keeps beside `ip` (for sources that log names).
    address: String,
    ip: String,
    port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    /// Packets this end sent (ECS `source.packets`, `destination.packets`).
    #[serde(skip_serializing_if = "Option::is_none")]
    packets: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
}

impl Endpoint<'_> {
    /// `counts`: the bytes and packets this end sent, when the record carries them.
    fn of(addr: std::net::SocketAddr, counts: Option<(u64, u64)>, domain: Option<&str>) -> Endpoint<'_> {
        Endpoint {
            address: addr.ip().to_string(),
            ip: addr.ip().to_string(),
            port: addr.port(),
            bytes: counts.map(|c| c.0),
            packets: counts.map(|c| c.1),
            domain,
        }
    }
}

#[derive(Serialize)]
struct Network<'a> {
    transport: &'static str,
    protocol: &'static str,
    /// The flow's Community ID v1, as Zeek, Suricata and Elastic Agent write it.
    #[serde(skip_serializing_if = "Option::is_none")]
    community_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    direction: Option<&'static str>,
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
    /// `mining_session` with `--pcap-dir`: the session's evidence file (as in the JSON contract).
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<EcsEvidence<'a>>,
}

/// `minewatch.evidence`: the session's pcap file in the evidence directory, as closed.
#[derive(Serialize)]
struct EcsEvidence<'a> {
    file: &'a str,
    packets: u64,
    bytes: u64,
    sha256: &'a str,
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
    let f = &ev.facts;
    let variant = f.variant.map_or("unknown", |v| v.as_str());
    let pool_host = f.pool_host.as_deref().filter(|h| !h.is_empty());
    let login = f.login.as_deref().filter(|l| !l.is_empty());
    // The server name is the ClientHello's only when the SNI is what named the pool.
    let server_name = pool_host.filter(|_| f.clue == Some(crate::stratum::Clue::Sni));
    let protocol = match f.variant {
        Some(crate::stratum::Variant::Tls) => "tls",
        Some(crate::stratum::Variant::Getwork) => "http",
        _ => "stratum",
    };
    let mut ips = vec![ev.client.ip().to_string()];
    if ev.pool.ip() != ev.client.ip() {
        ips.push(ev.pool.ip().to_string());
    }
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
            duration: session.then(|| {
                (ev.last_seen.as_micros().saturating_sub(ev.first_seen.as_micros()))
                    .max(0)
                    .saturating_mul(1000)
            }),
            reason: ev.end_reason.map(|r| r.as_str()),
        },
        rule: (!session).then(|| Rule {
            name: format!("Cryptocurrency mining ({variant})"),
            category: "Crypto Currency Mining Activity Detected",
        }),
        source: Some(Endpoint::of(ev.client, session.then_some((ev.bytes_toserver, ev.pkts_toserver)), None)),
        destination: Some(Endpoint::of(
            ev.pool,
            session.then_some((ev.bytes_toclient, ev.pkts_toclient)),
            pool_host,
        )),
        network: Some(Network {
            transport: "tcp",
            protocol,
            direction: ev.derived.direction.map(|d| d.as_str()),
            community_id: ev.derived.community_id.as_deref(),
        }),
        observer: observer(sensor),
        user_agent: f.agent.as_deref().map(|original| UserAgent { original }),
        related: Some(Related {
            ip: ips,
            user: login.into_iter().collect(),
            hosts: pool_host.into_iter().collect(),
        }),
        tls: {
            let ja3 = f.tls_fingerprints.as_deref().map(|t| t.ja3.as_str());
            (server_name.is_some() || ja3.is_some()).then_some(Tls { client: TlsClient { server_name, ja3 } })
        },
        // The watchlist holds wallet addresses: the wallet the login carries matched, or the
        // login itself when no wallet was split out of it.
        threat: watch.zip(matched(ev)).map(|(label, (atomic, field))| Threat {
            enrichments: [Enrichment {
                indicator: Indicator {
                    provider: "minewatch wallet watchlist",
                    description: Some(label).filter(|l| !l.is_empty()),
                },
                matched: Matched { atomic, field, type_: "indicator_match_rule" },
            }],
        }),
        log: ev.pcap_filename.as_deref().map(|path| Log { file: LogFile { path } }),
        minewatch: Minewatch {
            sensor,
            flow_id: Some(ev.flow_id),
            confidence: Some(ev.confidence.as_str()),
            stratum: Some(json::stratum(ev, session)),
            watchlist_label: watch.filter(|l| !l.is_empty()),
            stats: None,
            capture: None,
            evidence: ev.evidence.as_ref().map(|e| EcsEvidence {
                file: &e.file,
                packets: e.packets,
                bytes: e.bytes,
                sha256: &e.sha256,
            }),
        },
    };
    json::write_json(&doc, out);
}

/// What a watchlist hit matched, and the field of this document that holds it.
fn matched(ev: &Event) -> Option<(&str, &'static str)> {
    match (ev.facts.wallet.as_deref(), ev.facts.login.as_deref()) {
        (Some(w), _) if !w.is_empty() => Some((w, "minewatch.stratum.wallet")),
        (_, Some(l)) if !l.is_empty() => Some((l, "related.user")),
        _ => None,
    }
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
            duration: None,
            reason: None,
        },
        rule: None,
        source: None,
        destination: None,
        network: None,
        observer: observer(sensor),
        user_agent: None,
        related: None,
        tls: None,
        threat: None,
        log: None,
        minewatch: Minewatch {
            sensor,
            flow_id: None,
            confidence: None,
            stratum: None,
            watchlist_label: None,
            stats: Some(&rec.counters),
            capture: (!capture.is_empty()).then_some(capture),
            evidence: None,
        },
    };
    json::write_json(&doc, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::json::tests::{event, event4, EVENT4_COMMUNITY_ID};

    #[test]
    fn the_capture_file_is_log_file_path() {
        let mut ev = event4(EventKind::MiningSession, "w");
        let doc = |ev: &Event| {
            let mut buf = Vec::new();
            format(ev, "edge-1", &mut buf);
            serde_json::from_slice::<serde_json::Value>(&buf).unwrap()
        };
        assert!(doc(&ev).get("log").is_none(), "live capture: no file");
        ev.pcap_filename = Some("captures/day 1.pcap".into());
        assert_eq!(doc(&ev)["log"], serde_json::json!({"file": {"path": "captures/day 1.pcap"}}));
    }

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
        assert_eq!(v["source"]["packets"], 3);
        assert_eq!(v["destination"]["packets"], 4);
        assert_eq!(v["minewatch"]["stratum"]["shares_submitted"], 2);
        assert_eq!(v["event"]["duration"], 100_000_000_000_i64);
        assert_eq!(v["related"]["ip"], serde_json::json!(["10.0.0.5", "2001:db8::1"]));
        assert_eq!(v["related"]["user"], serde_json::json!(["w"]));
    }

    #[test]
    fn direction_pool_name_and_watchlist_hit() {
        let mut ev = event(EventKind::Mining, "4Awallet.rig");
        ev.facts.wallet = Some("4Awallet".into());
        ev.facts.pool_host = Some("pool.example".into());
        ev.facts.clue = Some(crate::stratum::Clue::Dns);
        ev.derived.direction = Some(crate::verdict::Direction::Outbound);
        let mut buf = Vec::new();
        format_with(&ev, "s", Some("case-7"), &mut buf);
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["network"]["direction"], "outbound");
        assert_eq!(v["destination"]["domain"], "pool.example");
        assert_eq!(v["related"]["hosts"], serde_json::json!(["pool.example"]));
        // Named by a DNS answer, not by the ClientHello: no TLS server name.
        assert!(v.get("tls").is_none(), "{v}");
        let e = &v["threat"]["enrichments"][0];
        assert_eq!(e["matched"]["atomic"], "4Awallet");
        assert_eq!(e["matched"]["field"], "minewatch.stratum.wallet");
        assert_eq!(e["matched"]["type"], "indicator_match_rule");
        assert_eq!(e["indicator"]["description"], "case-7");
        ev.facts.clue = Some(crate::stratum::Clue::Sni);
        let mut buf = Vec::new();
        format(&ev, "s", &mut buf);
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["tls"]["client"]["server_name"], "pool.example");
        assert!(v.get("threat").is_none(), "{v}");
    }
}
