//! The JSON-lines alert format: the contract SIEM engineers map (docs/alert-schema.md).
//! Field names follow Suricata's EVE head (`timestamp`, `flow_id`, `event_type`, `src_ip`, ...)
//! so existing pipelines parse them unchanged.
//!
//! Every wire string passes through serde_json, which escapes quotes, backslashes and control
//! characters; we also escape U+2028 and U+2029, which JSON allows raw but JavaScript-based
//! consumers treat as line breaks. No value can therefore add a field or start a new record.

use serde::Serialize;

use crate::intel::{SEVERITY_DEFAULT, SEVERITY_WATCHLISTED};
use crate::verdict::{Event, EventKind};

/// The head every JSON and EVE record opens with, in Suricata's EVE order, written here only:
/// the two formats differ after it, never in it (EVE writes the time with Suricata's numeric
/// offset, [`Head::with_time`]).
#[derive(Serialize)]
pub(crate) struct Head {
    timestamp: String,
    flow_id: u64,
    event_type: &'static str,
    src_ip: String,
    src_port: u16,
    dest_ip: String,
    dest_port: u16,
    proto: &'static str,
    /// The flow's Community ID v1 (`Derived::community_id`), the key to pivot on between
    /// sensors; absent only when the endpoints are of two families, which names no flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    community_id: Option<String>,
    /// On replay, the capture file the record came from (Suricata's `pcap_filename`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pcap_filename: Option<String>,
}

impl Head {
    /// The head of `ev`'s record, whose type is `event_type` (the formats name them apart).
    pub(crate) fn of(ev: &Event, event_type: &'static str) -> Head {
        Head {
            timestamp: ev.ts.rfc3339(),
            flow_id: ev.flow_id,
            event_type,
            src_ip: ev.client.ip().to_string(),
            src_port: ev.client.port(),
            dest_ip: ev.pool.ip().to_string(),
            dest_port: ev.pool.port(),
            proto: "TCP",
            community_id: ev.derived.community_id.clone(),
            pcap_filename: ev.pcap_filename.as_deref().map(str::to_string),
        }
    }

    /// The same head with the time written as `timestamp`.
    pub(crate) fn with_time(self, timestamp: String) -> Head {
        Head { timestamp, ..self }
    }
}

#[derive(Serialize)]
struct Record<'a> {
    #[serde(flatten)]
    head: Head,
    sensor: &'a str,
    confidence: &'static str,
    /// 2 normally, 1 when the login holds a watchlisted wallet (Suricata's scale: 1 is high).
    severity: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    watchlist_label: Option<&'a str>,
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
    pkts_toserver: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pkts_toclient: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_reason: Option<&'static str>,
    /// `mining_session` with `--pcap-dir`: the session's evidence file.
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<EvidenceJson<'a>>,
}

/// The `evidence` object: the session's pcap file in the evidence directory, as closed.
#[derive(Serialize)]
struct EvidenceJson<'a> {
    file: &'a str,
    packets: u64,
    bytes: u64,
    sha256: &'a str,
}

/// The `stratum` object, shared by the JSON, EVE and ECS formats.
#[derive(Serialize)]
pub(crate) struct Stratum<'a> {
    variant: Option<&'static str>,
    login: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    worker: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
    agent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wallet: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wallet_checksum: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    coin: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    algo: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    extensions: &'a [&'static str],
    methods: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pool_host: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    clue: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tunnel: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tunnel_target: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ja3: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ja3_string: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ja4: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    behaviour: Option<BehaviourOut>,
    /// The hello hid its server's name: `ech` or `esni` (see [`crate::stratum::Ech`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_ech: Option<&'static str>,
    /// ... and the outer SNI it showed instead, which is not the pool's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_ech_outer_sni: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    difficulty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    difficulty_min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    difficulty_max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    suggested_difficulty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reported_hashrate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reconnect_to: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pool_message: Option<&'a str>,
    /// The visible shape of an encrypted session (`suspected` Stratum V2): the evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    encrypted: Option<&'a crate::stratum::Encrypted>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
    #[serde(flatten)]
    counters: Option<SessionCounters>,
}

/// The evidence of a `behaviour` clue (see [`crate::stratum::Behaviour`]): times rounded to
/// milliseconds, so that records read well and compare across runs.
#[derive(Serialize)]
pub(crate) struct BehaviourOut {
    pub(crate) pushes: u32,
    pub(crate) push_period_mean_s: f64,
    pub(crate) push_period_stddev_s: f64,
    pub(crate) push_len_min: u32,
    pub(crate) push_len_max: u32,
    pub(crate) requests: u32,
    pub(crate) answered: u32,
    pub(crate) client_len_min: u32,
    pub(crate) client_len_max: u32,
    pub(crate) answer_ms_mean: f64,
    pub(crate) answer_ms_max: f64,
    pub(crate) duration_s: f64,
    pub(crate) aligned_pushes: u32,
    pub(crate) pushes_checked: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) known_fingerprint: Option<&'static str>,
}

fn milli(v: f64) -> f64 {
    if v.is_finite() {
        (v * 1000.0).round() / 1000.0
    } else {
        0.0
    }
}

impl BehaviourOut {
    pub(crate) fn of(b: &crate::stratum::Behaviour) -> BehaviourOut {
        BehaviourOut {
            pushes: b.pushes,
            push_period_mean_s: milli(b.push_period_mean_s),
            push_period_stddev_s: milli(b.push_period_stddev_s),
            push_len_min: b.push_len_min,
            push_len_max: b.push_len_max,
            requests: b.requests,
            answered: b.answered,
            client_len_min: b.client_len_min,
            client_len_max: b.client_len_max,
            answer_ms_mean: milli(b.answer_ms_mean),
            answer_ms_max: milli(b.answer_ms_max),
            duration_s: milli(b.duration_s),
            aligned_pushes: b.aligned_pushes,
            pushes_checked: b.pushes_checked,
            known_fingerprint: b.known_fingerprint,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct SessionCounters {
    jobs: u64,
    shares_submitted: u64,
    shares_accepted: u64,
    shares_rejected: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_share: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_share: Option<String>,
    difficulty_changes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    hashrate: Option<f64>,
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|d| d.is_finite())
}

/// The session's facts; with `with_counters` also its jobs and shares (`mining_session`).
pub(crate) fn stratum(ev: &Event, with_counters: bool) -> Stratum<'_> {
    let f = &ev.facts;
    let agent = ev.derived.agent.as_ref();
    Stratum {
        variant: f.variant.map(|v| v.as_str()),
        login: f.login.as_deref(),
        worker: f.worker.as_deref(),
        password: f.password.as_deref(),
        agent: f.agent.as_deref(),
        agent_name: agent.map(|a| a.name.as_str()),
        agent_version: agent.and_then(|a| a.version.as_deref()),
        agent_kind: agent.and_then(|a| a.kind).map(|k| k.as_str()),
        wallet: f.wallet.as_deref(),
        wallet_checksum: f.wallet.as_ref().map(|_| f.wallet_checksum),
        coin: f.coin,
        algo: f.algo.as_deref(),
        extensions: &f.extensions,
        methods: &f.methods,
        pool_host: f.pool_host.as_deref(),
        clue: f.clue.map(|c| c.as_str()),
        tunnel: f.tunnel.as_ref().map(|t| t.kind.as_str()),
        tunnel_target: f.tunnel.as_ref().and_then(|t| t.target.as_deref()),
        ja3: f.tls_fingerprints.as_deref().map(|t| t.ja3.as_str()),
        ja3_string: f.tls_fingerprints.as_deref().map(|t| t.ja3_full.as_str()),
        ja4: f.tls_fingerprints.as_deref().map(|t| t.ja4.as_str()),
        behaviour: f.behaviour.as_deref().map(BehaviourOut::of),
        tls_ech: f.tls_ech.as_deref().map(|e| e.kind.as_str()),
        tls_ech_outer_sni: f.tls_ech.as_deref().and_then(|e| e.outer_sni.as_deref()),
        difficulty: finite(f.difficulty),
        difficulty_min: finite(f.difficulty_min),
        difficulty_max: finite(f.difficulty_max),
        suggested_difficulty: finite(f.suggested_difficulty),
        target: f.target.as_deref(),
        reported_hashrate: finite(f.reported_hashrate),
        reconnect_to: f.reconnect_to.as_deref(),
        pool_message: f.pool_message.as_deref(),
        encrypted: f.encrypted.as_deref(),
        truncated: f.truncated,
        counters: with_counters.then(|| SessionCounters {
            jobs: f.jobs,
            shares_submitted: f.shares_submitted,
            shares_accepted: f.shares_accepted,
            shares_rejected: f.shares_rejected,
            first_share: f.first_share.map(|t| t.rfc3339()),
            last_share: f.last_share.map(|t| t.rfc3339()),
            difficulty_changes: f.difficulty_changes,
            hashrate: ev.derived.hashrate,
        }),
    }
}

/// Appends one record (without the line terminator) to `out`, with no watchlist. `sensor` names
/// this sensor.
pub fn format(ev: &Event, sensor: &str, out: &mut Vec<u8>) {
    format_with(ev, sensor, None, out)
}

/// As [`format`]; `watch` is the watchlist's verdict on the login: `Some(label)` raises the
/// record's severity and names the label (when not empty) in `watchlist_label`.
pub fn format_with(ev: &Event, sensor: &str, watch: Option<&str>, out: &mut Vec<u8>) {
    let session = ev.kind == EventKind::MiningSession;
    let rec = Record {
        head: Head::of(ev, ev.kind.as_str()),
        sensor,
        confidence: ev.confidence.as_str(),
        severity: if watch.is_some() { SEVERITY_WATCHLISTED } else { SEVERITY_DEFAULT },
        watchlist_label: watch.filter(|l| !l.is_empty()),
        stratum: stratum(ev, session),
        first_seen: session.then(|| ev.first_seen.rfc3339()),
        last_seen: session.then(|| ev.last_seen.rfc3339()),
        bytes_toserver: session.then_some(ev.bytes_toserver),
        bytes_toclient: session.then_some(ev.bytes_toclient),
        pkts_toserver: session.then_some(ev.pkts_toserver),
        pkts_toclient: session.then_some(ev.pkts_toclient),
        end_reason: ev.end_reason.map(|r| r.as_str()),
        evidence: ev.evidence.as_ref().map(|e| EvidenceJson {
            file: &e.file,
            packets: e.packets,
            bytes: e.bytes,
            sha256: &e.sha256,
        }),
    };
    write_json(&rec, out);
}

/// Serialises `value` onto `out` as one line: serde_json escapes quotes, backslashes and every
/// control character; the rest is escaped afterwards (see [`escape_line_separators`]).
pub(crate) fn write_json<T: Serialize>(value: &T, out: &mut Vec<u8>) {
    let start = out.len();
    // Serializing plain structs of strings and numbers into a Vec cannot fail.
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.truncate(start);
        out.extend_from_slice(b"{\"event_type\":\"error\"}");
        return;
    }
    escape_line_separators(out, start);
}

#[derive(Serialize)]
pub(crate) struct StatsOut<'a> {
    pub timestamp: String,
    pub event_type: &'static str,
    pub sensor: &'a str,
    pub stats: &'a crate::stats::Counters,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub capture: Vec<KernelOut<'a>>,
}

#[derive(Serialize)]
pub(crate) struct KernelOut<'a> {
    iface: &'a str,
    received: u64,
    dropped: u64,
    if_dropped: u64,
}

/// The kernel's capture counters, per interface.
pub(crate) fn kernel_out(rec: &super::StatsRecord) -> Vec<KernelOut<'_>> {
    rec.kernel
        .iter()
        .map(|(iface, k)| KernelOut {
            iface,
            received: k.received,
            dropped: k.dropped,
            if_dropped: k.if_dropped,
        })
        .collect()
}

/// Appends one `stats` record (without the line terminator) to `out`.
pub fn format_stats(rec: &super::StatsRecord, sensor: &str, out: &mut Vec<u8>) {
    let r = StatsOut {
        timestamp: rec.ts.rfc3339(),
        event_type: "stats",
        sensor,
        stats: &rec.counters,
        capture: kernel_out(rec),
    };
    write_json(&r, out);
}

/// Rewrites, in what was written since `start`, the characters JSON allows raw but some readers
/// take as line breaks or terminal controls: U+2028/U+2029 (JavaScript line terminators), DEL
/// and the C1 controls (U+0080-U+009F, NEL among them), as `\uXXXX`. serde_json already escapes
/// C0. These bytes only occur inside JSON strings, where the escape means the same character.
fn escape_line_separators(out: &mut Vec<u8>, start: usize) {
    let tail = out.get(start..).unwrap_or_default();
    let needs = |w: &[u8]| matches!(w, [0x7F, _] | [0xC2, 0x80..=0x9F] | [0xE2, 0x80]);
    if !tail.windows(2).any(needs) && tail.last() != Some(&0x7F) {
        return;
    }
    let src = out.split_off(start);
    let mut i = 0;
    while let Some(&b) = src.get(i) {
        match (b, src.get(i + 1), src.get(i + 2)) {
            (0x7F, _, _) => {
                out.extend_from_slice(b"\\u007f");
                i += 1;
            }
            (0xC2, Some(&c @ 0x80..=0x9F), _) => {
                out.extend_from_slice(format!("\\u{:04x}", u32::from(c)).as_bytes());
                i += 2;
            }
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
pub(crate) mod tests {
    use super::*;
    use crate::intel::Watchlist;
    use crate::output::Format;
    use crate::stratum::{Confidence, SessionFacts, Variant};
    use crate::time::Ts;
    use crate::verdict::{Derived, EndReason};

    pub(crate) fn event(kind: EventKind, login: &str) -> Event {
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
            pkts_toserver: 3,
            pkts_toclient: 4,
            end_reason: (kind == EventKind::MiningSession).then_some(EndReason::Fin),
            derived: Derived::default(),
            pcap_filename: None,
            evidence: None,
        }
        .derive()
    }

    /// As [`event`] with an IPv4 pool, so that the endpoints name a flow with a Community ID:
    /// 10.0.0.5:40000 to 198.51.100.1:3333, whose ID is [`EVENT4_COMMUNITY_ID`].
    pub(crate) fn event4(kind: EventKind, login: &str) -> Event {
        Event { pool: "198.51.100.1:3333".parse().unwrap(), ..event(kind, login) }.derive()
    }

    /// The Community ID of [`event4`]'s flow, worked out apart from the crate (the specification's
    /// SHA-1 over seed, ordered addresses, protocol, pad, ordered ports), as a second check.
    pub(crate) const EVENT4_COMMUNITY_ID: &str = "1:DOpsjSv3SQrpJHlf2B3okYRDutA=";

    fn parse(ev: &Event) -> serde_json::Value {
        let mut buf = Vec::new();
        format(ev, "sensor-1", &mut buf);
        assert!(!buf.contains(&b'\n'));
        serde_json::from_slice(&buf).unwrap()
    }

    #[test]
    fn every_record_names_its_community_id() {
        for kind in [EventKind::Mining, EventKind::MiningSession] {
            let v = parse(&event4(kind, "w"));
            assert_eq!(v["community_id"], EVENT4_COMMUNITY_ID);
            // Endpoints of two families name no flow: no key rather than an empty one.
            assert!(parse(&event(kind, "w")).get("community_id").is_none());
        }
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
        assert_eq!(v["sensor"], "sensor-1");
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
        assert_eq!(v["pkts_toserver"], 3);
        assert_eq!(v["pkts_toclient"], 4);
        assert_eq!(v["end_reason"], "fin");
        assert_eq!(v["severity"], 2);
        assert!(v.get("watchlist_label").is_none());
    }

    #[test]
    fn derived_facts_and_watchlist() {
        let mut ev = event(EventKind::MiningSession, "48edfHu7.rig01");
        ev.facts.agent = Some("xmrig-proxy/6.22.0 (Linux x86_64)".into());
        ev.facts.wallet = Some("48edfHu7".into());
        ev.facts.coin = Some("XMR");
        ev.facts.wallet_checksum = true;
        ev.facts.accepted_hashes = 1e9;
        ev.facts.first_share = Some(Ts::from_timeval(1_700_000_010, 0));
        ev.facts.last_share = Some(Ts::from_timeval(1_700_000_020, 0));
        ev.facts.extensions = vec!["nicehash"];
        let ev = ev.derive();
        let wl: Watchlist = "48edfHu7\tIR-117 botnet\n".parse().unwrap();
        let mut buf = Vec::new();
        Format::Json.format_with(&ev, "s", &wl, &mut buf);
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["severity"], 1);
        assert_eq!(v["watchlist_label"], "IR-117 botnet");
        let st = &v["stratum"];
        assert_eq!(st["agent_name"], "xmrig-proxy");
        assert_eq!(st["agent_version"], "6.22.0");
        assert_eq!(st["agent_kind"], "proxy");
        assert_eq!(st["wallet"], "48edfHu7");
        assert_eq!(st["wallet_checksum"], true);
        assert_eq!(st["coin"], "XMR");
        assert_eq!(st["extensions"], serde_json::json!(["nicehash"]));
        assert_eq!(st["hashrate"], 1e8);
        assert_eq!(st["difficulty_changes"], 0);
        // A watchlist entry without a label raises severity and adds no label.
        let wl: Watchlist = "48edfHu7\n".parse().unwrap();
        buf.clear();
        Format::Json.format_with(&ev, "s", &wl, &mut buf);
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["severity"], 1);
        assert!(v.get("watchlist_label").is_none());
    }

    #[test]
    fn hostile_login_cannot_break_the_record() {
        let nasty = "a\"b\\c\nd\re\u{0}f\u{2028}g\u{2029}h\u{7f}i\u{85}j\",\"event_type\":\"forged";
        let ev = event(EventKind::Mining, nasty);
        let mut buf = Vec::new();
        format(&ev, "s", &mut buf);
        assert!(!buf.contains(&b'\n') && !buf.contains(&b'\r'));
        assert!(!buf.windows(3).any(|w| w == [0xE2, 0x80, 0xA8] || w == [0xE2, 0x80, 0xA9]));
        assert!(!buf.contains(&0x7F) && !buf.windows(2).any(|w| w == [0xC2, 0x85]));
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["stratum"]["login"], nasty);
        assert_eq!(v["event_type"], "mining");
    }
}
