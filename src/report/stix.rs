//! The report as a STIX 2.1 bundle (`--export-stix`): what this sensor observed, for another
//! team's threat-intelligence platform.
//!
//! - the sensor: an `identity` (class `system`);
//! - each pool address and each pool name: an `indicator` (`[ipv4-addr:value = '…']`,
//!   `[ipv6-addr:value = '…']`, `[domain-name:value = '…']`) and a `sighting` of it by the
//!   sensor (first and last seen, count of sessions);
//! - each wallet: an `x-minewatch-wallet` custom object (no wallet object is standardised;
//!   the draft `cryptocurrency-wallet` extension is not published), `related-to` the pools it
//!   was mined to (their address indicators);
//! - each miner software: a `software` observable (name, version), `related-to` the pools it
//!   mined to;
//! - the TLP marking (`--export-tlp`) on every object.
//!
//! The miners' own addresses are not exported: they are the reporting network's hosts.
//!
//! Ids are UUIDv5 over the fact they name (the `uuid` crate), so two exports of the same capture
//! give the same ids and a receiver merges them; observables use STIX's own namespace and
//! contributing properties. Times are packet time, so the whole bundle is a function of the
//! capture.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde_json::{json, Value};
use uuid::Uuid;

use super::{Report, Tlp};
use crate::time::Ts;

/// minewatch's namespace for the ids of the objects it makes up (any fixed UUID would do).
const NAMESPACE: Uuid = Uuid::from_u128(0x939613bb_40cf_42d4_a642_ecb092c9c643);
/// STIX 2.1's namespace for the deterministic ids of cyber observables (section 2.9).
const SCO_NAMESPACE: Uuid = Uuid::from_u128(0x00abedb4_aa42_466c_9c01_fed23315a9b7);

/// An id of `kind` for `fact`.
pub fn id(kind: &str, fact: &str) -> String {
    format!("{kind}--{}", Uuid::new_v5(&NAMESPACE, format!("{kind}:{fact}").as_bytes()))
}

/// A string inside a STIX pattern's single quotes: `'` and `\` are escaped (STIX patterning
/// 2.1, section 9.4); nothing else is special. Pool names come from the wire: only host names
/// ([`is_hostname`]) reach a pattern, which need no escape, but the pattern is safe regardless.
pub fn pattern_string(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "\\'")
}

/// Whether a pool name from the wire is a host name a `domain-name` object or a MISP `domain`
/// can hold (letters, digits, `-` and `_` in labels of 1 to 63, 253 in all, a dot between
/// them). A TLS server name or an HTTP `Host` can be any string: one that is not a host name
/// stays in the page and the JSON, but is no indicator for another team's sensors.
pub fn is_hostname(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// The host name in a pool name from the wire, for an indicator: an HTTP `Host` carries a
/// port (`pool.example.net:8332`), which is dropped; an address (`203.0.113.37:8545`) is no
/// name (the pool's address has its own indicator); and anything that is not a host name
/// ([`is_hostname`]) is none.
pub fn host_name(name: &str) -> Option<&str> {
    let host = match name.rsplit_once(':') {
        Some((h, port))
            if !h.contains(':') && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            h
        }
        _ => name,
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() || name.parse::<IpAddr>().is_ok() {
        return None;
    }
    is_hostname(host).then_some(host)
}

/// The indicator pattern of a pool's address.
fn address_pattern(ip: IpAddr) -> String {
    let kind = if ip.is_ipv4() { "ipv4-addr" } else { "ipv6-addr" };
    format!("[{kind}:value = '{ip}']")
}

/// `related-to` relationships from `source` to the address indicators of `pools`.
fn relate(
    objects: &mut Vec<Value>,
    source: &str,
    pools: &[SocketAddr],
    pool_ind: &BTreeMap<SocketAddr, String>,
    stamp: &str,
    marking_id: &Value,
    description: &str,
) {
    let mut done: Vec<&str> = Vec::new();
    for target in pools.iter().filter_map(|p| pool_ind.get(p)) {
        if done.contains(&target.as_str()) {
            continue;
        }
        done.push(target);
        objects.push(json!({
            "type": "relationship", "spec_version": "2.1",
            "id": id("relationship", &format!("{source}:related-to:{target}")),
            "created": stamp, "modified": stamp,
            "relationship_type": "related-to",
            "source_ref": source, "target_ref": target,
            "description": description,
            "object_marking_refs": [marking_id],
        }));
    }
}

/// STIX 2.1's TLP 1.0 marking definitions, as the specification fixes them (id, date, text).
fn tlp_marking(t: Tlp) -> Value {
    let (id, name) = match t {
        Tlp::Clear => ("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", "white"),
        Tlp::Green => ("marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", "green"),
        Tlp::Amber => ("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", "amber"),
        Tlp::Red => ("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "red"),
    };
    json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": id,
        "created": "2017-01-20T00:00:00.000Z",
        "definition_type": "tlp",
        "name": format!("TLP:{}", name.to_uppercase()),
        "definition": { "tlp": name },
    })
}

/// STIX timestamps: RFC 3339 in UTC; microseconds are allowed.
fn t(ts: Ts) -> String {
    ts.rfc3339()
}

/// The bundle, as pretty JSON.
pub fn render(r: &Report, tlp: Tlp) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(&bundle(r, tlp)).unwrap_or_default();
    v.push(b'\n');
    v
}

/// The bundle as a JSON value.
pub fn bundle(r: &Report, tlp: Tlp) -> Value {
    let marking = tlp_marking(tlp);
    let marking_id = marking["id"].clone();
    // Created and modified: the end of the capture, so that the bundle depends on it alone.
    let stamp = t(r.summary.last_seen.unwrap_or_default());
    let me = id("identity", &r.sensor);
    let mut objects = vec![
        marking,
        json!({
            "type": "identity", "spec_version": "2.1", "id": me,
            "created": stamp, "modified": stamp,
            "name": r.sensor, "identity_class": "system",
            "description": "minewatch sensor: finds hosts mining cryptocurrency from the Stratum protocol on the wire",
            "object_marking_refs": [marking_id],
        }),
    ];
    // Indicators by pattern: a pool name or address seen in several sessions is one indicator,
    // its sighting spanning them all.
    struct Seen {
        name: String,
        first: Ts,
        last: Ts,
        count: u64,
        ports: Vec<u16>,
    }
    let mut indicators: BTreeMap<String, Seen> = BTreeMap::new();
    let mut add = |pattern: String, name: String, p: &super::PoolReport| {
        let e = indicators.entry(pattern).or_insert(Seen {
            name,
            first: p.first_seen,
            last: p.last_seen,
            count: 0,
            ports: Vec::new(),
        });
        e.first = e.first.min(p.first_seen);
        e.last = e.last.max(p.last_seen);
        e.count += p.sessions.max(1);
        if !e.ports.contains(&p.port) {
            e.ports.push(p.port);
        }
    };
    for p in &r.pools {
        add(address_pattern(p.address), format!("mining pool {}", p.address), p);
        for n in p.names.iter().filter_map(|n| host_name(n)) {
            add(format!("[domain-name:value = '{}']", pattern_string(n)), format!("mining pool {n}"), p);
        }
    }
    // Each pool's address indicator, for the relationships below.
    let mut pool_ind: BTreeMap<SocketAddr, String> = BTreeMap::new();
    for p in &r.pools {
        let sa = SocketAddr::new(p.address, p.port);
        pool_ind.insert(sa, id("indicator", &address_pattern(p.address)));
    }
    for (pattern, s) in &indicators {
        let ind = id("indicator", pattern);
        let ports: Vec<String> = s.ports.iter().map(u16::to_string).collect();
        objects.push(json!({
            "type": "indicator", "spec_version": "2.1", "id": ind,
            "created": stamp, "modified": stamp,
            "name": s.name,
            "description": format!("Cryptocurrency mining pool seen in use by miners on the reporting network (port {}).", ports.join(", ")),
            "indicator_types": ["malicious-activity"],
            "pattern": pattern, "pattern_type": "stix", "pattern_version": "2.1",
            "valid_from": t(s.first),
            "labels": ["cryptomining", "mining-pool"],
            "object_marking_refs": [marking_id],
        }));
        objects.push(json!({
            "type": "sighting", "spec_version": "2.1", "id": id("sighting", &format!("{me}:{ind}")),
            "created": stamp, "modified": stamp,
            "sighting_of_ref": ind,
            "where_sighted_refs": [me],
            "first_seen": t(s.first), "last_seen": t(s.last.max(s.first)),
            "count": s.count.min(999_999_999),
            "object_marking_refs": [marking_id],
        }));
    }
    for w in &r.wallets {
        let wid = id("x-minewatch-wallet", &w.wallet);
        let mut o = json!({
            "type": "x-minewatch-wallet", "spec_version": "2.1", "id": wid,
            "created": stamp, "modified": stamp,
            "address": w.wallet,
            "first_seen": t(w.first_seen), "last_seen": t(w.last_seen),
            "sessions": w.sessions,
            "object_marking_refs": [marking_id],
        });
        if let Some(c) = w.coin {
            o["coin"] = json!(c);
        }
        if let Some(l) = &w.watchlist_label {
            o["watchlist_label"] = json!(l);
        }
        objects.push(o);
        relate(&mut objects, &wid, &w.pools, &pool_ind, &stamp, &marking_id, "wallet mined to this pool");
    }
    for a in &r.software {
        let mut contributing = serde_json::Map::new();
        contributing.insert("name".into(), json!(a.name));
        if let Some(v) = &a.version {
            contributing.insert("version".into(), json!(v));
        }
        // serde_json's map is sorted by key without the `preserve_order` feature: the
        // canonical form STIX asks for over these two strings.
        let canon = serde_json::to_string(&contributing).unwrap_or_default();
        let sid = format!("software--{}", Uuid::new_v5(&SCO_NAMESPACE, canon.as_bytes()));
        let mut o = json!({
            "type": "software", "spec_version": "2.1", "id": sid, "name": a.name,
            "object_marking_refs": [marking_id],
        });
        if let Some(v) = &a.version {
            o["version"] = json!(v);
        }
        objects.push(o);
        relate(
            &mut objects,
            &sid,
            &a.pools,
            &pool_ind,
            &stamp,
            &marking_id,
            "miner software seen mining to this pool",
        );
    }
    let ids: Vec<&str> = objects.iter().filter_map(|o| o["id"].as_str()).collect();
    let bundle_id = id("bundle", &ids.join(","));
    json!({ "type": "bundle", "id": bundle_id, "objects": objects })
}
