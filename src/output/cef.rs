//! ArcSight Common Event Format (CEF): `CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|ext`,
//! for ArcSight, QRadar, Sentinel and the other SIEMs that read CEF over syslog or from files.
//!
//! Escaping follows the CEF specification: in the header `\` and `|` are escaped with a
//! backslash; in extension values `\` and `=` are, and CR and LF become the two-character
//! sequences `\r` and `\n`. CEF has no escape for the other control characters, so they (C0
//! except CR/LF, DEL, C1) and U+2028/U+2029 are replaced by U+FFFD: the value still shows that
//! something was there, and no value can add a field, end the header early or start a record.
//! A formatted record is therefore always one line.
//!
//! Field map (every record): `rt` (packet time, ms since the epoch), `dvchost` (sensor),
//! `externalId` (flow_id), the miner in `src` (IPv4) or `c6a2` (IPv6, labelled `Source IPv6
//! Address` as the specification's dictionary does) with `spt`, the pool in `dst` or `c6a3`
//! (`Destination IPv6 Address`) with `dpt` and its name in `dhost` (SNI, DNS answer or HTTP
//! `Host`, when known), `proto`, `app` (the Stratum variant, `tls` for a pool reached over TLS),
//! `act` (`alert` on an alert; on a `mining_session` record how the session ended: `closed`,
//! `reset`, `timed out`, `capture ended`, `evicted`), `cat=mining`, `suser` (login),
//! `requestClientApplication` (agent), `cs1` worker, `cs2` wallet, `cs3` password, `cs4` algo,
//! `cs5` methods (comma-separated) (variant `tls`: `cs1` ja3, `cs2` ja4, `cs3` clue, `cs4`
//! `tlsEch` when the hello used ECH, `cs5` the behaviour evidence), `cs6` confidence, `flexString1` coin, `flexNumber2=1` when a
//! wire string was truncated, `cfp1` difficulty, `flexString2` (label `communityId`) the flow's
//! Community ID; on replay, the capture file the record came from (JSON and EVE `pcap_filename`)
//! in `filePath` (the path as given after `-r`) and `fname` (its file name alone), the
//! specification's file keys; `msg` the watchlist's label (`watchlisted wallet: LABEL`), an
//! encrypted session's evidence and the tunnel the session was found in (`tunnel socks5 to
//! HOST:PORT`), `; `-joined. `mining_session` adds `flexNumber1` shares submitted, `cn1` jobs, `cn2` shares accepted,
//! `cn3` shares rejected, `cfp2` the estimated hash rate in hashes per second (the JSON
//! contract's `hashrate`, present when it could be estimated), `in`/`out` (bytes from the miner /
//! from the pool), `start`/`end` (ms), `reason` (end reason), and with `--pcap-dir` the
//! session's evidence file: `fileId` (its name, relative to the directory), `fileHash` (its
//! SHA-256), `cfp3` (label `evidencePackets`) and `cfp4` (`evidenceBytes`). `cnt` (baseEventCount: how many
//! times the same event was seen) is not written: every record is one event.
//!
//! A key whose value is unknown or empty is left out, never written as `key=`; every custom key
//! (`csN`, `cnN`, `cfpN`, `flexStringN`, `flexNumberN`, `c6aN`) comes with its `…Label`.
//!
//! Like every format, it prints the facts the `Event` holds, derived ones included
//! (`Event::derived`), and works none out itself.

use std::fmt::Write as _;

use crate::stratum::Confidence;
use crate::verdict::{EndReason, Event, EventKind};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The flow's Community ID goes in `flexString2`, labelled `communityId`: the standard's custom
/// strings `cs1`-`cs6` are taken, and a flex string is the standard's other labelled string key
/// (a vendor-named custom dictionary key would land only in a SIEM's "additional data").
const COMMUNITY_ID_LABEL: &str = "communityId";

/// Whether CEF cannot carry `c` in a value (it has no escape for it) and it must be replaced.
fn unrepresentable(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\r') || c == '\u{2028}' || c == '\u{2029}'
}

/// Appends a header field: `\` and `|` escaped; CR, LF and other control characters replaced.
fn header(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            c if c.is_control() || unrepresentable(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// Appends an extension value: `\` and `=` escaped, CR/LF as `\r`/`\n`, the rest replaced.
fn value(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if unrepresentable(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// Extension pairs, separated by single spaces.
struct Ext {
    s: String,
}

impl Ext {
    /// A key and its value; nothing at all when the value is empty (an empty value tells a
    /// reader nothing and some parsers take the next key as its value).
    fn kv(&mut self, key: &str, v: &str) {
        if v.is_empty() {
            return;
        }
        if !self.s.is_empty() {
            self.s.push(' ');
        }
        self.s.push_str(key);
        self.s.push('=');
        value(&mut self.s, v);
    }

    /// A custom number with its label, only when present.
    fn labelled_num(&mut self, key: &str, label: &str, v: Option<impl std::fmt::Display>) {
        if let Some(v) = v {
            self.kv(&format!("{key}Label"), label);
            self.num(key, v);
        }
    }

    /// An address: IPv4 in its dictionary key (`src`, `dst`), which CEF:0 defines as IPv4 only;
    /// IPv6 in the dictionary's IPv6 custom address with its label.
    fn addr(&mut self, v4_key: &str, v6_key: &str, v6_label: &str, ip: std::net::IpAddr) {
        match ip.to_canonical() {
            std::net::IpAddr::V4(v4) => self.num(v4_key, v4),
            v6 => self.labelled(v6_key, v6_label, Some(&v6.to_string())),
        }
    }

    fn num(&mut self, key: &str, v: impl std::fmt::Display) {
        if !self.s.is_empty() {
            self.s.push(' ');
        }
        let _ = write!(self.s, "{key}={v}");
    }

    /// A custom string with its label (`cs1Label=... cs1=...`), only when present.
    fn labelled(&mut self, key: &str, label: &str, v: Option<&str>) {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            self.kv(&format!("{key}Label"), label);
            self.kv(key, v);
        }
    }
}

fn severity(ev: &Event) -> u8 {
    match (ev.kind, ev.confidence) {
        (EventKind::MiningSession, _) => 3,
        (_, Confidence::Confirmed) => 8,
        (_, Confidence::Detected) => 7,
        _ => 5,
    }
}

fn millis(ts: crate::time::Ts) -> i64 {
    ts.as_micros().div_euclid(1000)
}

fn start(out: &mut String, signature: &str, name: &str, severity: u8) {
    out.push_str("CEF:0|minewatch|minewatch|");
    header(out, VERSION);
    out.push('|');
    header(out, signature);
    out.push('|');
    header(out, name);
    let _ = write!(out, "|{severity}|");
}

/// Appends one CEF record (without the line terminator) to `out`.
pub fn format(ev: &Event, sensor: &str, out: &mut Vec<u8>) {
    format_with(ev, sensor, None, out)
}

/// As [`format`]; `watch` is the watchlist's verdict on the login: `Some(label)` raises the
/// severity to 10 and puts the label (when not empty) in `msg`.
pub fn format_with(ev: &Event, sensor: &str, watch: Option<&str>, out: &mut Vec<u8>) {
    let f = &ev.facts;
    let variant = f.variant.map_or("unknown", |v| v.as_str());
    let name = match ev.kind {
        EventKind::Mining => format!("Cryptocurrency mining ({variant})"),
        EventKind::MiningSession => format!("Mining session ended ({variant})"),
    };
    let mut s = String::with_capacity(512);
    let sev = if watch.is_some() && ev.kind == EventKind::Mining { 10 } else { severity(ev) };
    start(&mut s, ev.kind.as_str(), &name, sev);
    let mut e = Ext { s: String::with_capacity(512) };
    e.num("rt", millis(ev.ts));
    e.kv("dvchost", sensor);
    e.num("externalId", ev.flow_id);
    e.addr("src", "c6a2", "Source IPv6 Address", ev.client.ip());
    e.num("spt", ev.client.port());
    e.addr("dst", "c6a3", "Destination IPv6 Address", ev.pool.ip());
    e.num("dpt", ev.pool.port());
    if let Some(host) = f.pool_host.as_deref() {
        e.kv("dhost", host);
    }
    e.kv("proto", "TCP");
    e.kv("app", variant);
    let act = match ev.end_reason {
        None => "alert",
        Some(EndReason::Fin) => "closed",
        Some(EndReason::Rst) => "reset",
        Some(EndReason::Timeout) => "timed out",
        Some(EndReason::EndOfInput) => "capture ended",
        Some(EndReason::Evicted) => "evicted",
    };
    e.kv("act", act);
    e.kv("cat", "mining");
    if let Some(login) = f.login.as_deref() {
        e.kv("suser", login);
    }
    if let Some(agent) = f.agent.as_deref() {
        e.kv("requestClientApplication", agent);
    }
    // `msg`: the watchlist's word, the encrypted session's evidence and the tunnel, the free
    // text an analyst reads (the standard's labelled custom strings are all taken).
    let watch_msg =
        watch.map(|label| format!("watchlisted wallet{}{label}", if label.is_empty() { "" } else { ": " }));
    let evidence = f.encrypted.as_ref().map(|x| format!("encrypted: {x}"));
    let tunnel = f.tunnel.as_ref().map(|t| match t.target.as_deref() {
        Some(target) => format!("tunnel {} to {target}", t.kind.as_str()),
        None => format!("tunnel {}", t.kind.as_str()),
    });
    let msg = [watch_msg, evidence, tunnel].into_iter().flatten().collect::<Vec<_>>().join("; ");
    if !msg.is_empty() {
        e.kv("msg", &msg);
    }
    if f.variant == Some(crate::stratum::Variant::Tls) {
        // An encrypted session has no worker, wallet, password, algorithm or methods: its
        // custom strings carry what identified it (labels say which), the client's
        // fingerprints, and the behaviour evidence as `name:value` pairs.
        let fp = f.tls_fingerprints.as_deref();
        e.labelled("cs1", "ja3", fp.map(|t| t.ja3.as_str()));
        e.labelled("cs2", "ja4", fp.map(|t| t.ja4.as_str()));
        e.labelled("cs3", "clue", f.clue.map(|c| c.as_str()));
        // A hello that hid its server's name: the extension, and the outer name it showed
        // (`ech outer_sni:cloudflare-ech.com`), pairs as in the behaviour's `cs5`.
        let ech = f.tls_ech.as_deref().map(|x| match x.outer_sni.as_deref() {
            Some(outer) => format!("{} outer_sni:{outer}", x.kind.as_str()),
            None => x.kind.as_str().to_string(),
        });
        e.labelled("cs4", "tlsEch", ech.as_deref());
        if let Some(b) = f.behaviour.as_deref() {
            let mut pairs = String::new();
            if let Ok(serde_json::Value::Object(o)) = serde_json::to_value(super::json::BehaviourOut::of(b)) {
                for (k, v) in o {
                    let v = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    let _ = write!(pairs, "{}{k}:{v}", if pairs.is_empty() { "" } else { " " });
                }
            }
            e.labelled("cs5", "behaviour", Some(&pairs));
        }
    } else {
        e.labelled("cs1", "stratumWorker", f.worker.as_deref());
        e.labelled("cs2", "wallet", f.wallet.as_deref());
        e.labelled("cs3", "stratumPassword", f.password.as_deref());
        e.labelled("cs4", "stratumAlgo", f.algo.as_deref());
        e.labelled("cs5", "stratumMethods", Some(&f.methods.join(",")));
    }
    e.labelled("cs6", "confidence", Some(ev.confidence.as_str()));
    e.labelled("flexString1", "coin", f.coin);
    e.labelled("flexString2", COMMUNITY_ID_LABEL, ev.derived.community_id.as_deref());
    e.labelled_num("flexNumber2", "truncated", f.truncated.then_some(1));
    if let Some(path) = ev.pcap_filename.as_deref().filter(|p| !p.is_empty()) {
        e.kv("filePath", path);
        let name = std::path::Path::new(path).file_name().map(|n| n.to_string_lossy());
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            e.kv("fname", &name);
        }
    }
    if let Some(d) = f.difficulty.filter(|d| d.is_finite()) {
        e.kv("cfp1Label", "difficulty");
        e.num("cfp1", d);
    }
    if ev.kind == EventKind::MiningSession {
        e.labelled_num("flexNumber1", "sharesSubmitted", Some(f.shares_submitted));
        e.kv("cn1Label", "jobs");
        e.num("cn1", f.jobs);
        e.kv("cn2Label", "sharesAccepted");
        e.num("cn2", f.shares_accepted);
        e.kv("cn3Label", "sharesRejected");
        e.num("cn3", f.shares_rejected);
        if let Some(h) = ev.derived.hashrate.filter(|h| h.is_finite()) {
            e.kv("cfp2Label", "hashrate");
            e.num("cfp2", h);
        }
        e.num("in", ev.bytes_toserver);
        e.num("out", ev.bytes_toclient);
        e.num("start", millis(ev.first_seen));
        e.num("end", millis(ev.last_seen));
        if let Some(r) = ev.end_reason {
            e.kv("reason", r.as_str());
        }
        if let Some(x) = &ev.evidence {
            // (`fname` and `filePath` name the capture replayed; the evidence is another file.)
            e.kv("fileId", &x.file);
            e.kv("fileHash", &x.sha256);
            e.kv("cfp3Label", "evidencePackets");
            e.num("cfp3", x.packets);
            e.kv("cfp4Label", "evidenceBytes");
            e.num("cfp4", x.bytes);
        }
    }
    s.push_str(&e.s);
    out.extend_from_slice(s.as_bytes());
}

/// Appends one `stats` record: the counters as `name:value` pairs in `msg`.
pub fn format_stats(rec: &super::StatsRecord, sensor: &str, out: &mut Vec<u8>) {
    let mut s = String::with_capacity(1024);
    start(&mut s, "stats", "minewatch statistics", 0);
    let mut e = Ext { s: String::new() };
    e.num("rt", millis(rec.ts));
    e.kv("dvchost", sensor);
    let mut msg = String::new();
    for (name, v) in rec.counters.fields() {
        let _ = write!(msg, "{}{name}:{v}", if msg.is_empty() { "" } else { " " });
    }
    for (iface, k) in &rec.kernel {
        let _ = write!(
            msg,
            " capture.{iface}.received:{} capture.{iface}.dropped:{} capture.{iface}.if_dropped:{}",
            k.received, k.dropped, k.if_dropped
        );
    }
    e.kv("msg", &msg);
    s.push_str(&e.s);
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::json::tests::{event, event4, EVENT4_COMMUNITY_ID};

    #[test]
    fn the_capture_file_is_file_path_and_fname() {
        let mut ev = event4(EventKind::Mining, "w");
        let cef = |ev: &Event| {
            let mut buf = Vec::new();
            format(ev, "s", &mut buf);
            String::from_utf8(buf).unwrap()
        };
        assert!(!cef(&ev).contains("filePath") && !cef(&ev).contains("fname"));
        ev.pcap_filename = Some("/data/a=b/day 1.pcap".into());
        let s = cef(&ev);
        assert!(s.contains(" filePath=/data/a\\=b/day 1.pcap fname=day 1.pcap"), "{s}");
        ev.pcap_filename = Some("-".into());
        assert!(cef(&ev).contains(" filePath=- fname=-"), "{}", cef(&ev));
    }

    #[test]
    fn community_id_in_its_custom_key() {
        for kind in [EventKind::Mining, EventKind::MiningSession] {
            let mut buf = Vec::new();
            format(&event4(kind, "w"), "s", &mut buf);
            let s = String::from_utf8(buf).unwrap();
            // `=` escaped, as in every extension value.
            let id = EVENT4_COMMUNITY_ID.replace('=', "\\=");
            assert!(s.contains(&format!(" flexString2Label=communityId flexString2={id}")), "{s}");
        }
    }

    #[test]
    fn header_and_standard_keys() {
        let mut buf = Vec::new();
        format(&event(EventKind::Mining, "4Awallet"), "sensor|1", &mut buf);
        let s = String::from_utf8(buf).unwrap();
        assert!(s.starts_with("CEF:0|minewatch|minewatch|"), "{s}");
        assert!(s.contains("|mining|Cryptocurrency mining (cryptonote)|8|rt=1700000000000 "), "{s}");
        assert!(s.contains(" dvchost=sensor|1 "), "{s}");
        assert!(
            s.contains(" src=10.0.0.5 spt=40000 c6a3Label=Destination IPv6 Address c6a3=2001:db8::1 dpt=3333 proto=TCP "),
            "{s}"
        );
        assert!(!s.contains(" dst="), "{s}");
        assert!(s.contains(" act=alert "), "{s}");
        assert!(s.contains(" suser=4Awallet "), "{s}");
        assert!(s.contains(" cs5Label=stratumMethods cs5=login,job "), "{s}");
        assert!(!s.contains("cnt="));
    }

    #[test]
    fn session_adds_counts() {
        let mut buf = Vec::new();
        format(&event(EventKind::MiningSession, "w"), "s", &mut buf);
        let s = String::from_utf8(buf).unwrap();
        assert!(s.contains("|mining_session|Mining session ended (cryptonote)|3|"), "{s}");
        assert!(s.contains(" flexNumber1Label=sharesSubmitted flexNumber1=2 cn1Label=jobs cn1=3 "), "{s}");
        assert!(!s.contains("cnt="), "{s}");
        assert!(s.contains(" act=closed "), "{s}");
        assert!(s.contains(" in=10 out=20 "), "{s}");
        assert!(s.ends_with(" reason=fin"), "{s}");
        // No accepted share of known difficulty: no hash rate.
        assert!(!s.contains("cfp2"), "{s}");
    }

    #[test]
    fn session_with_shares_carries_the_hash_rate() {
        let mut ev = event(EventKind::MiningSession, "w");
        ev.facts.accepted_hashes = 1e9;
        ev.facts.first_share = Some(crate::time::Ts::from_timeval(1_700_000_010, 0));
        ev.facts.last_share = Some(crate::time::Ts::from_timeval(1_700_000_020, 0));
        let ev = ev.derive();
        let mut buf = Vec::new();
        format(&ev, "s", &mut buf);
        let s = String::from_utf8(buf).unwrap();
        // 1e9 hashes over the 10 s between the first and the last share, as in the JSON record.
        assert!(s.contains(" cn3=1 cfp2Label=hashrate cfp2=100000000 in=10 "), "{s}");
        let mut json = Vec::new();
        crate::output::json::format(&ev, "s", &mut json);
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["stratum"]["hashrate"], 1e8);
        // The alert names no hash rate, in CEF as in JSON.
        let mut buf = Vec::new();
        format(&Event { kind: EventKind::Mining, end_reason: None, ..ev }, "s", &mut buf);
        assert!(!String::from_utf8(buf).unwrap().contains("cfp2"));
    }

    #[test]
    fn no_empty_keys_and_the_pool_name_in_dhost() {
        let mut ev = event(EventKind::Mining, "w");
        ev.facts.methods.clear();
        ev.facts.pool_host = Some("pool.example".into());
        ev.facts.wallet = Some("4Awallet".into());
        ev.facts.coin = Some("XMR");
        ev.client = "[2001:db8::5]:1".parse().unwrap();
        ev.pool = "192.0.2.1:443".parse().unwrap();
        let mut buf = Vec::new();
        format(&ev, "s", &mut buf);
        let s = String::from_utf8(buf).unwrap();
        assert!(!s.contains("cs5"), "{s}");
        assert!(!s.contains("= ") && !s.ends_with('='), "{s}");
        assert!(s.contains(" c6a2Label=Source IPv6 Address c6a2=2001:db8::5 spt=1 dst=192.0.2.1 "), "{s}");
        assert!(s.contains(" dhost=pool.example "), "{s}");
        assert!(s.contains(" cs2Label=wallet cs2=4Awallet "), "{s}");
        assert!(s.contains(" flexString1Label=coin flexString1=XMR"), "{s}");
    }

    #[test]
    fn escapes_per_the_spec() {
        let mut h = String::new();
        header(&mut h, "a|b\\c\nd");
        assert_eq!(h, "a\\|b\\\\c\u{FFFD}d");
        let mut v = String::new();
        value(&mut v, "a=b\\c\nd\re|f\u{0}g\u{2028}");
        assert_eq!(v, "a\\=b\\\\c\\nd\\re|f\u{FFFD}g\u{FFFD}");
    }
}
