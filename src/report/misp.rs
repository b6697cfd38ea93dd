//! The report as a MISP event (`--export-misp`), in MISP's core format (`{"Event": {...,
//! "Attribute": [...]}}`), for import into a MISP instance or a feed:
//!
//! - each pool address: `ip-dst` (Network activity, `to_ids`: a connection to it is worth an
//!   alert elsewhere); each pool name: `domain` (the same);
//! - each wallet: `btc` or `xmr` (Financial fraud) when the coin has a MISP type, else `text`
//!   with the coin in the comment; not `to_ids` (a wallet is not on the wire of another
//!   network's sensor, and an IDS would match it in any text);
//! - each miner software: `user-agent` with the name and version, not `to_ids`;
//! - every attribute with `first_seen`/`last_seen` in packet time where the report has them;
//! - a TLP tag on the event (`--export-tlp`, default `tlp:amber`).
//!
//! UUIDs are UUIDv5 over the fact, as in the STIX export, so that a second export of the same
//! capture updates the same event and attributes instead of adding new ones.

use serde_json::{json, Value};

use super::{Report, Tlp};
use crate::time::Ts;

/// A MISP UUID (no type prefix) for `fact`.
fn uuid(fact: &str) -> String {
    let full = super::stix::id("misp", fact);
    full.trim_start_matches("misp--").to_string()
}

/// MISP's time format for `first_seen`/`last_seen` (ISO 8601 with microseconds).
fn t(ts: Ts) -> String {
    ts.rfc3339()
}

/// The MISP attribute type of a wallet of `coin`, when MISP has one.
fn wallet_type(coin: Option<&str>) -> Option<&'static str> {
    match coin {
        Some("BTC") => Some("btc"),
        Some("XMR") => Some("xmr"),
        _ => None,
    }
}

/// The event as pretty JSON.
pub fn render(r: &Report, tlp: Tlp) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(&event(r, tlp)).unwrap_or_default();
    v.push(b'\n');
    v
}

/// The event as a JSON value.
pub fn event(r: &Report, tlp: Tlp) -> Value {
    let first = r.summary.first_seen.unwrap_or_default();
    let last = r.summary.last_seen.unwrap_or_default();
    let event_uuid = uuid(&format!("event:{}:{}:{}", r.sensor, first.0, last.0));
    let mut attrs: Vec<Value> = Vec::new();
    let mut attr =
        |kind: &str, category: &str, value: &str, to_ids: bool, comment: String, span: Option<(Ts, Ts)>| {
            let mut a = json!({
                "uuid": uuid(&format!("{event_uuid}:{kind}:{value}")),
                "type": kind,
                "category": category,
                "value": value,
                "to_ids": to_ids,
                "distribution": "5",
                "comment": comment,
            });
            if let Some((f, l)) = span {
                a["first_seen"] = json!(t(f));
                a["last_seen"] = json!(t(l.max(f)));
            }
            attrs.push(a);
        };
    let mut names_done: Vec<&str> = Vec::new();
    for p in &r.pools {
        attr(
            "ip-dst",
            "Network activity",
            &p.address.to_string(),
            true,
            format!("mining pool, port {}, {} sessions from {} hosts", p.port, p.sessions, p.hosts),
            Some((p.first_seen, p.last_seen)),
        );
        for n in p.names.iter().filter_map(|n| super::stix::host_name(n)) {
            if names_done.contains(&n) {
                continue;
            }
            names_done.push(n);
            attr(
                "domain",
                "Network activity",
                n,
                true,
                format!("mining pool name ({})", p.address),
                Some((p.first_seen, p.last_seen)),
            );
        }
    }
    for w in &r.wallets {
        let label = w.watchlist_label.as_deref().map(|l| format!(", on watchlist {l}")).unwrap_or_default();
        let coin = w.coin.unwrap_or("unknown coin");
        let (kind, comment) = match wallet_type(w.coin) {
            Some(k) => (k, format!("wallet in mining logins, {} sessions{label}", w.sessions)),
            None => ("text", format!("{coin} wallet in mining logins, {} sessions{label}", w.sessions)),
        };
        attr(kind, "Financial fraud", &w.wallet, false, comment, Some((w.first_seen, w.last_seen)));
    }
    for a in &r.software {
        let value = match &a.version {
            Some(v) => format!("{}/{v}", a.name),
            None => a.name.clone(),
        };
        attr(
            "user-agent",
            "Network activity",
            &value,
            false,
            format!("miner software ({}), {} sessions", a.kind.unwrap_or("unknown kind"), a.sessions),
            None,
        );
    }
    let date = {
        let s = t(first);
        s.get(..10).unwrap_or("1970-01-01").to_string()
    };
    json!({
        "Event": {
            "uuid": event_uuid,
            "info": format!(
                "minewatch {}: cryptocurrency mining seen from {} to {}: {} hosts, {} pools, {} wallets",
                r.sensor, t(first), t(last), r.summary.mining_hosts, r.pools.len(), r.wallets.len()
            ),
            "date": date,
            "timestamp": (last.0 / 1_000_000).max(0).to_string(),
            "threat_level_id": "3",
            "analysis": "2",
            "distribution": "0",
            "published": false,
            "Orgc": { "name": r.sensor },
            "Tag": [ { "name": tlp.misp_tag() }, { "name": "cryptomining" } ],
            "Attribute": attrs,
        }
    })
}
