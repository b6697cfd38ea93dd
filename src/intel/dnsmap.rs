//! Addresses recently given out in DNS answers for pool domains: address → (domain, expiry).
//!
//! Why a shared concurrent map filled in file order: a DNS answer and the connection that
//! follows it usually have different address pairs, so the pipeline's sharding sends them to
//! different workers. In replay, UDP port 53 answers are parsed where frames are put in order
//! (the commit of each block, in file order, see `capture::shared`) and pool answers written
//! into this map before any later frame is processed; the worker that later sees the TCP flow
//! reads it. So a connection that follows its answer in the capture always finds it, whatever
//! the number of workers (replay stays deterministic). Live, each worker writes the answers its
//! own capture gets (or the reader, without packet fanout), and the worker of the connection may
//! be ahead of the worker of its answer (the kernel hands frames over a block at a time). So a
//! TLS flow whose ClientHello names no server and finds no answer does not lose the race: it
//! waits, holding no buffers, for a bounded time (`FlowLimits::name_wait_us`), and is looked up
//! again at its next packets and whenever [`DnsMap::generation`] says the map learnt something
//! (see `flow`'s `AwaitName`). (In replay, an answer later in the same 1 MiB block is known
//! too.) The map is touched only on DNS answers for pool domains (writes) and for TLS flows
//! whose ClientHello names no server (reads: at the hello and while such a flow waits),
//! never per packet, so `dashmap`'s sharded locks cost nothing measurable.
//!
//! Bounds: at most `capacity` addresses. When full, expired entries are purged (at most once
//! per [`PURGE_INTERVAL_US`] of packet time, so a flood of answers cannot make every insert
//! O(n)); a new address that still finds no room is dropped, and the caller counts it
//! (`dns_map_full`). An entry lives for its record's TTL (capped at [`MAX_TTL_S`]) plus
//! [`GRACE_S`], because resolvers and miners keep using an address a while after its TTL.

use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

use crate::time::Ts;

/// How long past its TTL an answer is still believed.
pub const GRACE_S: u32 = 300;
/// Longest TTL honoured (a day); longer ones are treated as this.
pub const MAX_TTL_S: u32 = 86_400;
/// Default capacity: addresses remembered at once.
pub const DEFAULT_CAPACITY: usize = 65_536;
/// Least packet time between two purges of expired entries.
pub const PURGE_INTERVAL_US: i64 = 30 * 1_000_000;

#[derive(Clone, Debug)]
struct Entry {
    domain: Arc<str>,
    expires: Ts,
}

/// What an insert did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    New,
    /// The address was known: its domain and expiry were updated.
    Refreshed,
    /// The map was full of live entries: the answer was dropped.
    Full,
}

/// The bounded address → pool domain map.
#[derive(Debug)]
pub struct DnsMap {
    map: DashMap<IpAddr, Entry, ahash::RandomState>,
    capacity: usize,
    next_purge: AtomicI64,
    /// Bumped on every insert that may name an address anew, so that a worker holding TLS
    /// flows that wait for a name ([`DnsMap::generation`]) looks again only when it can help.
    generation: AtomicU64,
}

impl Default for DnsMap {
    fn default() -> Self {
        DnsMap::new(DEFAULT_CAPACITY)
    }
}

impl DnsMap {
    pub fn new(capacity: usize) -> DnsMap {
        DnsMap {
            map: DashMap::with_hasher(ahash::RandomState::new()),
            capacity,
            next_purge: AtomicI64::new(0),
            generation: AtomicU64::new(0),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Remembers that `addr` was answered for pool `domain` at `now` with `ttl` seconds.
    pub fn insert(&self, addr: IpAddr, domain: &Arc<str>, ttl: u32, now: Ts) -> Inserted {
        let life = i64::from(ttl.min(MAX_TTL_S) + GRACE_S) * 1_000_000;
        let entry = Entry { domain: domain.clone(), expires: Ts(now.0.saturating_add(life)) };
        if let Some(mut e) = self.map.get_mut(&addr) {
            *e = entry;
            drop(e);
            // A refresh may revive an expired entry or change its domain.
            self.generation.fetch_add(1, Ordering::Release);
            return Inserted::Refreshed;
        }
        if self.map.len() >= self.capacity {
            let due = self.next_purge.load(Ordering::Relaxed);
            if now.0 >= due {
                self.next_purge.store(now.0.saturating_add(PURGE_INTERVAL_US), Ordering::Relaxed);
                self.map.retain(|_, e| e.expires > now);
            }
            if self.map.len() >= self.capacity {
                return Inserted::Full;
            }
        }
        self.map.insert(addr, entry);
        self.generation.fetch_add(1, Ordering::Release);
        Inserted::New
    }

    /// A number that changes after every insert that may answer a lookup that failed before.
    /// One atomic load: a live worker reads it after each pass over its captures, and looks
    /// its waiting TLS flows up again only when it moved (see `flow`'s `AwaitName`).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The pool domain `addr` was answered for, if that answer has not expired at `now`.
    pub fn lookup(&self, addr: IpAddr, now: Ts) -> Option<Arc<str>> {
        let e = self.map.get(&addr)?;
        (e.expires > now).then(|| e.domain.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn honours_ttl_plus_grace() {
        let m = DnsMap::new(4);
        let d: Arc<str> = Arc::from("xmr.2miners.com");
        assert_eq!(m.insert(ip("198.51.100.1"), &d, 60, Ts(0)), Inserted::New);
        let live = Ts(i64::from(60 + GRACE_S) * 1_000_000 - 1);
        assert_eq!(m.lookup(ip("198.51.100.1"), live).as_deref(), Some("xmr.2miners.com"));
        assert_eq!(m.lookup(ip("198.51.100.1"), Ts(live.0 + 1)), None);
        assert_eq!(m.lookup(ip("198.51.100.2"), Ts(0)), None);
        // Every insert that may answer a new lookup moves the generation.
        let g = m.generation();
        m.insert(ip("198.51.100.1"), &d, 60, Ts(1));
        assert_ne!(m.generation(), g, "a refresh");
        let g = m.generation();
        // A huge TTL is capped.
        m.insert(ip("198.51.100.3"), &d, u32::MAX, Ts(0));
        assert_ne!(m.generation(), g, "a new address");
        assert_eq!(m.lookup(ip("198.51.100.3"), Ts(i64::from(MAX_TTL_S + GRACE_S) * 1_000_000)), None);
    }

    #[test]
    fn full_map_purges_expired_then_drops() {
        let m = DnsMap::new(2);
        let d: Arc<str> = Arc::from("pool.example");
        assert_eq!(m.insert(ip("10.0.0.1"), &d, 0, Ts(0)), Inserted::New);
        assert_eq!(m.insert(ip("10.0.0.2"), &d, 3600, Ts(0)), Inserted::New);
        assert_eq!(m.insert(ip("10.0.0.2"), &d, 3600, Ts(1)), Inserted::Refreshed);
        // Both live: no room, and nothing new to look up.
        let g = m.generation();
        assert_eq!(m.insert(ip("10.0.0.3"), &d, 60, Ts(2)), Inserted::Full);
        assert_eq!(m.generation(), g);
        // Later, past the purge interval, the first has expired and is purged to make room.
        let later = Ts(i64::from(GRACE_S + 1) * 1_000_000);
        assert_eq!(m.insert(ip("10.0.0.3"), &d, 60, later), Inserted::New);
        assert_eq!(m.len(), 2);
        assert_eq!(m.lookup(ip("10.0.0.1"), later), None);
        assert!(m.lookup(ip("10.0.0.3"), later).is_some());
    }
}
