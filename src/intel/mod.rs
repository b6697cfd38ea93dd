//! Intelligence applied to mining sessions: which coin a wallet belongs to ([`wallet`]), the
//! analyst's wallet watchlist ([`watchlist`]), and what identifies a pool without Stratum lines:
//! the known pool domains ([`pools`]), DNS answers for them ([`dns`], [`dnsmap`]) and the server
//! name of TLS ClientHellos ([`tls`]).
//!
//! Architecture invariant: pure functions and immutable tables; the only file reading after
//! start-up is a reload on SIGHUP ([`lists`]), done on a thread of its own, never a worker's.
//! Coin inference runs in the recogniser once per login; the watchlist is consulted by the
//! output thread once per record, so workers never touch it, and a reload replaces it there.
//! The pool list is shared as a whole list swapped atomically ([`SharedPools`]): a worker loads
//! it once per TLS ClientHello or DNS answer, without a lock. The only shared mutable state
//! besides is the [`DnsMap`], written in file order on DNS answers for pool domains and read by
//! a worker once per TLS flow (see [`dnsmap`] for why it is shared rather than sharded).

pub mod clock;
pub mod dns;
pub mod dnsmap;
pub mod feeds;
pub mod fingerprint;
pub mod lists;
pub mod pools;
pub mod tls;
pub mod wallet;
pub mod watchlist;

pub use watchlist::Watchlist;

/// Severity of an ordinary mining record (Suricata's scale: 1 is the highest).
pub const SEVERITY_DEFAULT: u8 = 2;
/// Severity of a record whose login holds a watchlisted address.
pub const SEVERITY_WATCHLISTED: u8 = 1;

use std::sync::Arc;

pub use dnsmap::DnsMap;
pub use lists::{ListFiles, Lists, Reloader};
pub use pools::{PoolDomains, SharedPools};

use crate::stats::Counters;
use crate::time::Ts;

/// What workers and readers share: the pool list in force (replaced whole on SIGHUP) and the
/// DNS map.
#[derive(Debug, Default)]
pub struct Intel {
    pub pools: Arc<SharedPools>,
    pub dns: DnsMap,
    /// When known mining sessions were pushed work ([`clock`]), for the behaviour watch.
    pub clock: clock::PushClock,
}

impl Intel {
    /// With a fixed pool list.
    pub fn new(pools: Arc<PoolDomains>) -> Intel {
        Intel::shared(Arc::new(SharedPools::new(pools)))
    }

    /// With the pool list `pools`, which a [`Reloader`] may replace while the workers run.
    pub fn shared(pools: Arc<SharedPools>) -> Intel {
        Intel { pools, dns: DnsMap::default(), clock: clock::PushClock::default() }
    }

    /// With a push clock of `capacity` instants (`--behaviour-clock-capacity`) that takes
    /// pushes within a quarter of `tolerance_us` (`--behaviour-align-tolerance`) as one.
    pub fn with_clock(mut self, capacity: usize, tolerance_us: i64) -> Intel {
        self.clock = clock::PushClock::new(capacity).with_coalesce(tolerance_us / 4);
        self
    }

    /// With a DNS map of `capacity` addresses (`--dns-map-capacity`) instead of the default.
    pub fn with_dns_capacity(mut self, capacity: usize) -> Intel {
        self.dns = DnsMap::new(capacity);
        self
    }

    /// Reads the payload of a UDP datagram from port 53, seen at `ts`: when it answers a
    /// question for a pool domain (or names one in its CNAME chain), every address it gives is
    /// remembered with its TTL. The caller picks the datagrams (the pipeline's frame front, on
    /// the source port); this takes only what it reads, so a replay can keep an answer as bytes
    /// and read it later, in file order.
    pub fn dns_answer(&self, payload: &[u8], ts: Ts, c: &mut Counters) {
        let resp = match dns::parse_response(payload) {
            Ok(r) => r,
            Err(dns::DnsError::NotAnAnswer) => return,
            Err(dns::DnsError::Malformed) => {
                c.dns_malformed += 1;
                return;
            }
        };
        c.dns_answers += 1;
        // The question names the pool; a CNAME in the chain may do so instead. One list for
        // the whole answer, even if a reload swaps it meanwhile.
        let pools = self.pools.load();
        let pool = std::iter::once(resp.question.as_str())
            .chain(
                resp.records
                    .iter()
                    .filter_map(|r| match r {
                        dns::Record::Cname { owner, target } => Some([owner.as_str(), target.as_str()]),
                        dns::Record::Addr { .. } => None,
                    })
                    .flatten(),
            )
            .find(|n| pools.matches(n).is_some());
        let Some(name) = pool else { return };
        let domain: Arc<str> = Arc::from(name);
        for r in &resp.records {
            if let dns::Record::Addr { addr, ttl, .. } = r {
                match self.dns.insert(*addr, &domain, *ttl, ts) {
                    dnsmap::Inserted::Full => c.dns_map_full += 1,
                    _ => c.dns_pool_addrs += 1,
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An answer to `question` (type A) with one address record for it, TTL 60.
    pub(crate) fn answer(question: &str, addr: [u8; 4]) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        for label in question.split('.') {
            m.push(label.len() as u8);
            m.extend_from_slice(label.as_bytes());
        }
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        m.extend_from_slice(&addr);
        m
    }

    #[test]
    fn a_dns_answer_for_a_pool_domain_names_its_addresses_and_others_do_not() {
        let intel = Intel::new(Arc::new(PoolDomains::builtin()));
        let mut c = Counters::default();
        let ts = Ts::from_micros(1_000_000);
        intel.dns_answer(&answer("xmr.2miners.com", [198, 51, 100, 7]), ts, &mut c);
        intel.dns_answer(&answer("www.example.org", [198, 51, 100, 8]), ts, &mut c);
        intel.dns_answer(b"\x12\x34", ts, &mut c);
        let pool = intel.dns.lookup("198.51.100.7".parse().unwrap(), ts);
        assert_eq!(pool.as_deref(), Some("xmr.2miners.com"));
        assert_eq!(intel.dns.lookup("198.51.100.8".parse().unwrap(), ts), None);
        assert_eq!((c.dns_answers, c.dns_pool_addrs, c.dns_malformed), (2, 1, 1));
    }
}
