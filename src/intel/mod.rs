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

pub mod dns;
pub mod dnsmap;
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

use crate::decode::{Packet, Transport};
use crate::stats::Counters;
use crate::time::Ts;

/// What workers and readers share: the pool list in force (replaced whole on SIGHUP) and the
/// DNS map.
#[derive(Debug, Default)]
pub struct Intel {
    pub pools: Arc<SharedPools>,
    pub dns: DnsMap,
}

impl Intel {
    /// With a fixed pool list.
    pub fn new(pools: Arc<PoolDomains>) -> Intel {
        Intel::shared(Arc::new(SharedPools::new(pools)))
    }

    /// With the pool list `pools`, which a [`Reloader`] may replace while the workers run.
    pub fn shared(pools: Arc<SharedPools>) -> Intel {
        Intel { pools, dns: DnsMap::default() }
    }

    /// With a DNS map of `capacity` addresses (`--dns-map-capacity`) instead of the default.
    pub fn with_dns_capacity(mut self, capacity: usize) -> Intel {
        self.dns = DnsMap::new(capacity);
        self
    }

    /// Looks at a UDP packet from port 53: when it answers a question for a pool domain (or
    /// names one in its CNAME chain), every address it gives is remembered with its TTL.
    /// Anything else costs a port comparison.
    pub fn udp(&self, pkt: &Packet<'_>, ts: Ts, c: &mut Counters) {
        if !matches!(pkt.transport, Transport::Udp) || pkt.src_port != 53 {
            return;
        }
        let resp = match dns::parse_response(pkt.payload) {
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
