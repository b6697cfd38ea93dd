//! Known mining-pool domains: the default list shipped in the repository
//! (`data/pool-domains.txt`, compiled in) plus the user's own (`--pool-list FILE`).
//!
//! An entry matches the name itself and every name under it, on a label boundary:
//! `nanopool.org` matches `xmr-eu1.nanopool.org` but not `notnanopool.org`. Matching walks the
//! name's suffixes, one hash lookup per label (at most [`MAX_LABELS`]), so its cost does not
//! grow with the size of the list. It runs once per TLS ClientHello and once per DNS answer,
//! never per packet.
//!
//! A user's list (and a MISP or STIX feed, see [`super::feeds`]) may also name pool addresses
//! and ranges (`198.51.100.7`, `203.0.113.0/24`, `2001:db8::/32`): a TLS flow to such an address
//! is a pool session (clue `pool-list`) even when it names no pool. They are kept in a
//! [`PrefixTable`], looked up in a few hash probes whatever the number of ranges.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use ipnet::IpNet;

/// The default list, one domain per line, `#` comments.
pub const DEFAULT_LIST: &str = include_str!("../../data/pool-domains.txt");

/// Longest name looked up (a DNS name is at most 253 characters).
pub const MAX_NAME_LEN: usize = 253;
/// Most labels of a name tried as suffixes; real names have a handful.
pub const MAX_LABELS: usize = 32;

/// A set of pool domains, lower case, without a trailing dot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolDomains {
    domains: HashSet<String, ahash::RandomState>,
    /// Pool addresses and ranges (none in the shipped list: addresses change hands).
    nets: PrefixTable,
    /// The last two labels of every entry (each has at least two): a name whose own last two
    /// are not here matches nothing, so most names (every DNS answer and ClientHello of an edge
    /// link) cost one lookup instead of one per label.
    tails: HashSet<String, ahash::RandomState>,
}

/// Most addresses and ranges the pool lists may hold together.
pub const MAX_NETS: usize = 1_000_000;
/// Most domains the pool lists may hold together (the shipped ones included).
pub const MAX_DOMAINS: usize = 1_000_000;

/// A set of IP networks, answering "which listed network holds this address?" with one hash
/// probe per prefix length in use (at most 33 for IPv4, 129 for IPv6, usually a handful), never
/// a scan over the ranges. Our own rather than a crate's trie: it is `ipnet` (already used) and
/// a map per prefix length, twenty lines, and lookups are rare (once per TLS ClientHello).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrefixTable {
    /// Prefix length -> the networks of that length, by their (masked) network address.
    by_len: HashMap<(bool, u8), HashSet<IpAddr, ahash::RandomState>, ahash::RandomState>,
    /// The prefix lengths in use, longest first, for a longest-prefix match.
    lens: Vec<(bool, u8)>,
    len: usize,
}

impl PrefixTable {
    /// Adds `net` (its host bits cleared); false when it was already there.
    pub fn insert(&mut self, net: IpNet) -> bool {
        let net = net.trunc();
        let key = (net.addr().is_ipv6(), net.prefix_len());
        let set = self.by_len.entry(key).or_default();
        if !set.insert(net.network()) {
            return false;
        }
        if !self.lens.contains(&key) {
            self.lens.push(key);
            self.lens.sort_unstable_by_key(|k| std::cmp::Reverse(k.1));
        }
        self.len += 1;
        true
    }

    /// The longest listed network holding `addr` (an IPv4-mapped IPv6 address is looked up as
    /// the IPv4 address it carries).
    pub fn lookup(&self, addr: IpAddr) -> Option<IpNet> {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        let v6 = addr.is_ipv6();
        self.lens.iter().filter(|(is6, _)| *is6 == v6).find_map(|&(is6, len)| {
            let net = IpNet::new(addr, len).ok()?.trunc();
            self.by_len.get(&(is6, len))?.contains(&net.network()).then_some(net)
        })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The last two labels of a name with at least two (`pool.example.com` → `example.com`).
fn tail2(name: &str) -> Option<&str> {
    // Bytes, not `rfind(char)`: the char searcher was most of this function's cost.
    let b = name.as_bytes();
    let last_dot = b.iter().rposition(|&c| c == b'.')?;
    Some(match b.get(..last_dot)?.iter().rposition(|&c| c == b'.') {
        Some(i) => name.get(i + 1..)?,
        None => name,
    })
}

/// Why a list line was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub reason: &'static str,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for BadLine {}

impl PoolDomains {
    /// The shipped default list.
    pub fn builtin() -> PoolDomains {
        let mut p = PoolDomains::default();
        // The shipped list is checked by a unit test; a bad line there would only be skipped.
        let _ = p.add_list(DEFAULT_LIST);
        p
    }

    /// Adds every entry of a list (one per line, `#` comments, blank lines ignored): a domain
    /// (an optional leading `*.`), an IP address or a CIDR range. Returns the first bad line,
    /// after adding all good ones.
    pub fn add_list(&mut self, text: &str) -> Result<usize, BadLine> {
        let mut added = 0;
        let mut first_bad = None;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            match self.add_entry(line) {
                Ok(new) => added += usize::from(new),
                Err(reason) => {
                    first_bad.get_or_insert(BadLine { line: i + 1, reason });
                }
            }
        }
        match first_bad {
            Some(b) => Err(b),
            None => Ok(added),
        }
    }

    /// Adds one entry: a domain, an address or a range (`ADDR/LEN`). `Ok(false)`: already there.
    pub fn add_entry(&mut self, entry: &str) -> Result<bool, &'static str> {
        if let Some(net) = parse_net(entry) {
            return self.add_net(net);
        }
        let d = normalise(entry)?;
        if self.domains.len() >= MAX_DOMAINS && !self.domains.contains(&d) {
            return Err("more than 1000000 pool domains");
        }
        if let Some(t) = tail2(&d) {
            if !self.tails.contains(t) {
                self.tails.insert(t.to_string());
            }
        }
        Ok(self.domains.insert(d))
    }

    /// Adds a pool address or range.
    pub fn add_net(&mut self, net: IpNet) -> Result<bool, &'static str> {
        if self.nets.len() >= MAX_NETS {
            return Err("more than 1000000 pool addresses and ranges");
        }
        Ok(self.nets.insert(net))
    }

    /// Domains and networks together.
    pub fn len(&self) -> usize {
        self.domains.len() + self.nets.len()
    }

    /// Domains alone.
    pub fn domains(&self) -> usize {
        self.domains.len()
    }

    /// Addresses and ranges alone.
    pub fn nets(&self) -> usize {
        self.nets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.domains.is_empty() && self.nets.is_empty()
    }

    /// The listed address or range that holds `addr`, if any.
    pub fn matches_addr(&self, addr: IpAddr) -> Option<IpNet> {
        if self.nets.is_empty() {
            return None;
        }
        self.nets.lookup(addr)
    }

    /// The list entry `name` falls under, if any. `name` may be in any case and may end with a
    /// dot; names that are not plausible host names match nothing.
    pub fn matches(&self, name: &str) -> Option<&str> {
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return None;
        }
        // One branch-free pass for both questions, by a table of byte classes: a name is looked
        // up at every ClientHello and DNS answer, and two passes that each stopped early cost
        // more than the rest of the lookup.
        let (mut class_or, mut class_and) = (0u8, HOST);
        for b in name.bytes() {
            let c = BYTE_CLASS.get(usize::from(b)).copied().unwrap_or(0);
            class_or |= c;
            class_and &= c;
        }
        if class_and & HOST == 0 {
            return None;
        }
        let lower;
        let name = if class_or & UPPER != 0 {
            lower = name.to_ascii_lowercase();
            lower.as_str()
        } else {
            name
        };
        if !tail2(name).is_some_and(|t| self.tails.contains(t)) {
            return None;
        }
        let mut rest = name;
        for _ in 0..MAX_LABELS {
            if let Some(d) = self.domains.get(rest) {
                return Some(d.as_str());
            }
            match rest.split_once('.') {
                Some((_, tail)) if !tail.is_empty() => rest = tail,
                _ => return None,
            }
        }
        None
    }
}

/// The pool list in force, shared by every worker and replaced whole on SIGHUP (see
/// [`crate::intel::lists`]). A reader takes the current list with one atomic load and no lock
/// (`arc-swap`), so a reload never makes a worker wait, and a lookup sees either the old list or
/// the new one, never a mix. Looked up once per TLS ClientHello and DNS answer, never per packet.
#[derive(Debug)]
pub struct SharedPools {
    current: ArcSwap<PoolDomains>,
}

impl SharedPools {
    pub fn new(pools: Arc<PoolDomains>) -> SharedPools {
        SharedPools { current: ArcSwap::new(pools) }
    }

    /// The list in force now; it stays valid, unchanged, for as long as it is held.
    pub fn load(&self) -> Arc<PoolDomains> {
        self.current.load_full()
    }

    /// Puts `pools` in force for every lookup that starts after this call.
    pub fn store(&self, pools: Arc<PoolDomains>) {
        self.current.store(pools);
    }

    /// [`PoolDomains::matches`] on the list in force. The entry is returned owned: the list it
    /// came from may be replaced as soon as this returns.
    pub fn matches(&self, name: &str) -> Option<String> {
        self.current.load().matches(name).map(str::to_owned)
    }

    /// [`PoolDomains::matches_addr`] on the list in force.
    pub fn matches_addr(&self, addr: IpAddr) -> Option<IpNet> {
        self.current.load().matches_addr(addr)
    }

    pub fn len(&self) -> usize {
        self.current.load().len()
    }

    pub fn is_empty(&self) -> bool {
        self.current.load().is_empty()
    }
}

/// The shipped list alone.
impl Default for SharedPools {
    fn default() -> SharedPools {
        SharedPools::new(Arc::new(PoolDomains::builtin()))
    }
}

/// [`BYTE_CLASS`] bits: a byte of a host name; an upper-case letter.
const HOST: u8 = 1;
const UPPER: u8 = 2;

/// The class of every byte, as [`is_host_byte`] and `u8::is_ascii_uppercase` say.
static BYTE_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let host = c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_';
        t[b] = if host { HOST } else { 0 } | if c.is_ascii_uppercase() { UPPER } else { 0 };
        b += 1;
    }
    t
};

fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_'
}

/// An address (a network of one) or a CIDR range, as a list writes it.
pub fn parse_net(entry: &str) -> Option<IpNet> {
    if let Ok(addr) = entry.parse::<IpAddr>() {
        return Some(IpNet::from(addr));
    }
    entry.parse::<IpNet>().ok()
}

/// One list entry as stored: lower case, no `*.`, no trailing dot, at least two labels.
fn normalise(entry: &str) -> Result<String, &'static str> {
    let d = entry.strip_prefix("*.").unwrap_or(entry);
    let d = d.strip_suffix('.').unwrap_or(d);
    if d.is_empty() || d.len() > MAX_NAME_LEN {
        return Err("empty or longer than 253 characters");
    }
    if !d.bytes().all(is_host_byte) {
        return Err("not a domain name (letters, digits, '-', '_' and '.' only)");
    }
    if !d.contains('.') || d.split('.').any(str::is_empty) {
        return Err("a domain needs at least two non-empty labels (a bare TLD would match too much)");
    }
    Ok(d.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_classes_say_what_the_functions_say() {
        for b in 0..=255u8 {
            let c = BYTE_CLASS[usize::from(b)];
            assert_eq!((c & HOST != 0, c & UPPER != 0), (is_host_byte(b), b.is_ascii_uppercase()), "{b}");
        }
        let p = PoolDomains::builtin();
        assert!(p.matches("Pool.SupportXMR.com.").is_some());
        assert!(p.matches("pool.supportxmr.com").is_some());
        assert!(
            p.matches("pool.supportxmr .com").is_none() && p.matches("pool.supportxmr.com\u{e9}").is_none()
        );
    }

    #[test]
    fn shipped_list_is_clean_and_large() {
        let mut p = PoolDomains::default();
        let n = p.add_list(DEFAULT_LIST).unwrap();
        assert!(n >= 50, "only {n} domains shipped");
        assert_eq!(p, PoolDomains::builtin());
    }

    #[test]
    fn suffix_match_on_label_boundaries() {
        let p = PoolDomains::builtin();
        assert_eq!(p.matches("xmr-eu1.nanopool.org"), Some("nanopool.org"));
        assert_eq!(p.matches("nanopool.org"), Some("nanopool.org"));
        assert_eq!(p.matches("Pool.SupportXMR.com."), Some("supportxmr.com"));
        assert_eq!(p.matches("gulf.moneroocean.stream"), Some("moneroocean.stream"));
        assert_eq!(p.matches("btc.ss.btc.com"), Some("ss.btc.com"));
        assert_eq!(p.matches("notnanopool.org"), None);
        assert_eq!(p.matches("nanopool.org.example.com"), None);
        assert_eq!(p.matches("btc.com"), None);
        assert_eq!(p.matches("www.example.com"), None);
        assert_eq!(p.matches("org"), None);
        assert_eq!(p.matches(""), None);
        assert_eq!(p.matches("."), None);
        assert_eq!(p.matches("x\u{0}.nanopool.org"), None);
        assert_eq!(p.matches(&"a.".repeat(200)), None);
        assert_eq!(p.matches("a.b.c.ss.btc.com"), Some("ss.btc.com"));
        // An entry of four labels: names under it match, its own parents do not, whatever the
        // two-label prefilter lets through.
        let mut p = PoolDomains::default();
        p.add_list("eu.pool.example.net\n").unwrap();
        assert_eq!(p.matches("x.y.eu.pool.example.net"), Some("eu.pool.example.net"));
        assert_eq!(p.matches("EU.pool.example.net"), Some("eu.pool.example.net"));
        assert_eq!(p.matches("pool.example.net"), None);
        assert_eq!(p.matches("example.net"), None);
        assert_eq!(p.matches("eu.pool.example.org"), None);
    }

    #[test]
    fn user_lists_add_and_report_bad_lines() {
        let mut p = PoolDomains::default();
        let r = p.add_list(
            "# mine\n*.pool.example.net  # our test pool\n\nOther.Example.ORG.\ncom\nbad name.org\n",
        );
        assert_eq!(r, Err(BadLine { line: 5, reason: normalise("com").unwrap_err() }));
        assert_eq!(p.len(), 2);
        assert_eq!(p.matches("eu.pool.example.net"), Some("pool.example.net"));
        assert_eq!(p.matches("other.example.org"), Some("other.example.org"));
        assert_eq!(p.matches("example.net"), None);
    }

    #[test]
    fn addresses_and_ranges_match_by_longest_prefix() {
        let mut p = PoolDomains::default();
        let n = p
            .add_list("198.51.100.7\n203.0.113.0/24 # a pool's range\n203.0.113.128/25\n2001:db8::/32\n10.1.2.3/8\n")
            .unwrap();
        assert_eq!((n, p.nets(), p.domains()), (5, 5, 0));
        let m = |a: &str| p.matches_addr(a.parse().unwrap()).map(|n| n.to_string());
        assert_eq!(m("198.51.100.7").as_deref(), Some("198.51.100.7/32"));
        assert_eq!(m("198.51.100.8"), None);
        assert_eq!(m("203.0.113.9").as_deref(), Some("203.0.113.0/24"));
        assert_eq!(m("203.0.113.200").as_deref(), Some("203.0.113.128/25"));
        assert_eq!(m("2001:db8:1::5").as_deref(), Some("2001:db8::/32"));
        assert_eq!(m("2001:db9::5"), None);
        assert_eq!(m("::ffff:203.0.113.1").as_deref(), Some("203.0.113.0/24"));
        // Host bits in a range are cleared, as a router would.
        assert_eq!(m("10.200.0.1").as_deref(), Some("10.0.0.0/8"));
        assert_eq!(p.add_list("198.51.100.7\n"), Ok(0), "a repeat adds nothing");
        assert_eq!(p.add_list("203.0.113.0/33\n").map_err(|b| b.line), Err(1));
        assert_eq!(PoolDomains::builtin().matches_addr("203.0.113.9".parse().unwrap()), None);
    }
}
