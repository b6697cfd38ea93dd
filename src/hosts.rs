//! The mining hosts: one entry per internal miner, shared by all workers. Touched only on
//! verdicts (an alert, a session's end), never per packet, so a concurrent map costs nothing
//! on the hot path.

use std::net::{IpAddr, SocketAddr};

use dashmap::DashMap;

use crate::stratum::{Confidence, Variant};
use crate::time::Ts;
use crate::verdict::{Event, EventKind};

/// Distinct pools and logins kept per host; a host cycling through thousands is still one row.
const MAX_PER_HOST: usize = 8;

#[derive(Clone, Debug, PartialEq)]
pub struct HostEntry {
    pub ip: IpAddr,
    pub pools: Vec<SocketAddr>,
    pub variants: Vec<Variant>,
    pub logins: Vec<String>,
    pub agent: Option<String>,
    pub sessions: u64,
    pub shares_submitted: u64,
    pub shares_accepted: u64,
    pub confidence: Confidence,
    pub first_seen: Ts,
    pub last_seen: Ts,
}

fn push_bounded<T: PartialEq>(v: &mut Vec<T>, item: T) {
    if v.len() < MAX_PER_HOST && !v.contains(&item) {
        v.push(item);
    }
}

/// The shared host table, bounded by `max_hosts`.
pub struct HostTable {
    map: DashMap<IpAddr, HostEntry, ahash::RandomState>,
    max_hosts: usize,
}

impl HostTable {
    pub fn new(max_hosts: usize) -> HostTable {
        HostTable { map: DashMap::with_hasher(ahash::RandomState::new()), max_hosts }
    }

    /// Folds a record into its host's entry. Returns false when the table was full and the host
    /// is new (the caller counts it).
    pub fn record(&self, ev: &Event) -> bool {
        let ip = ev.client.ip();
        if !self.map.contains_key(&ip) && self.map.len() >= self.max_hosts {
            return false;
        }
        let mut e = self.map.entry(ip).or_insert_with(|| HostEntry {
            ip,
            pools: Vec::new(),
            variants: Vec::new(),
            logins: Vec::new(),
            agent: None,
            sessions: 0,
            shares_submitted: 0,
            shares_accepted: 0,
            confidence: ev.confidence,
            first_seen: ev.first_seen,
            last_seen: ev.last_seen,
        });
        push_bounded(&mut e.pools, ev.pool);
        if let Some(v) = ev.facts.variant {
            push_bounded(&mut e.variants, v);
        }
        if let Some(l) = &ev.facts.login {
            if !e.logins.contains(l) {
                push_bounded(&mut e.logins, l.clone());
            }
        }
        if e.agent.is_none() {
            e.agent.clone_from(&ev.facts.agent);
        }
        e.confidence = e.confidence.max(ev.confidence);
        e.first_seen = e.first_seen.min(ev.first_seen);
        e.last_seen = e.last_seen.max(ev.last_seen);
        if ev.kind == EventKind::MiningSession {
            e.sessions += 1;
            e.shares_submitted += ev.facts.shares_submitted;
            e.shares_accepted += ev.facts.shares_accepted;
        }
        true
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// A copy of every entry, sorted by address.
    pub fn snapshot(&self) -> Vec<HostEntry> {
        let mut v: Vec<HostEntry> = self.map.iter().map(|e| e.value().clone()).collect();
        v.sort_by_key(|e| e.ip);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stratum::SessionFacts;

    fn ev(kind: EventKind, client: &str, login: &str) -> Event {
        Event::sample(
            kind,
            client,
            SessionFacts {
                variant: Some(Variant::StratumV1),
                login: Some(login.into()),
                shares_submitted: 3,
                ..Default::default()
            },
        )
    }

    #[test]
    fn folds_alert_and_session_into_one_host() {
        let t = HostTable::new(10);
        assert!(t.record(&ev(EventKind::Mining, "10.0.0.1:5000", "w1")));
        assert!(t.record(&ev(EventKind::MiningSession, "10.0.0.1:5000", "w1")));
        let s = t.snapshot();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].sessions, 1);
        assert_eq!(s[0].shares_submitted, 3);
        assert_eq!(s[0].logins, vec!["w1".to_string()]);
    }

    #[test]
    fn table_is_bounded() {
        let t = HostTable::new(2);
        assert!(t.record(&ev(EventKind::Mining, "10.0.0.1:1", "a")));
        assert!(t.record(&ev(EventKind::Mining, "10.0.0.2:1", "a")));
        assert!(!t.record(&ev(EventKind::Mining, "10.0.0.3:1", "a")));
        assert!(t.record(&ev(EventKind::Mining, "10.0.0.1:2", "b")));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn per_host_lists_are_bounded() {
        let t = HostTable::new(2);
        for i in 0..100 {
            t.record(&ev(EventKind::Mining, "10.0.0.1:1", &format!("w{i}")));
        }
        assert_eq!(t.snapshot()[0].logins.len(), MAX_PER_HOST);
    }
}
