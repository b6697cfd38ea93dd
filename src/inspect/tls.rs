//! A flow whose client opened with a TLS handshake record: its first flight is gathered (at
//! most [`tls::MAX_HELLO_STREAM`] bytes, copied only when the ClientHello spans segments) until
//! the ClientHello is whole; then the flow is recognised (pool SNI, or an address from a DNS
//! answer for a pool), waits for a name ([`AwaitName`]), or is bypassed.

use std::net::SocketAddr;

use crate::flow::{ConnInfo, Side};
use crate::intel::{fingerprint, tls, Intel};
use crate::stats::Counters;
use crate::stratum::{Clue, SessionFacts, Variant};
use crate::time::Ts;

use super::behaviour::Watch;
use super::{Cx, Parse, Parser, Recognised, SessionView, Shared, Step};

#[derive(Debug)]
pub struct Hello {
    client: Side,
    /// Set once the hello did not lie whole in the client's first chunk.
    joiner: Option<Box<tls::HelloJoiner>>,
}

impl Hello {
    pub fn new(client: Side) -> Hello {
        Hello { client, joiner: None }
    }
}

/// The facts of a TLS session to a pool.
fn recognised(client: Side, host: Option<String>, clue: Clue) -> Recognised {
    Recognised::new(SessionFacts {
        variant: Some(Variant::Tls),
        client: Some(client),
        pool_host: host,
        clue: Some(clue),
        ..SessionFacts::default()
    })
}

impl Parse for Hello {
    fn data(&mut self, side: Side, data: &[u8], _: bool, cx: &mut Cx<'_>) -> Step {
        if side != self.client {
            return Step::Continue; // the server's flight tells nothing we use
        }
        let client = self.client;
        // Zero-copy when the whole ClientHello is in the first record of one chunk (the usual
        // case); otherwise its records are joined as they stream by. `tail`: the client's bytes
        // after the hello, and the hello record's bytes still to come after the message, which
        // the behaviour watch must skip to stay in step with the record framing.
        let mut tail: (&[u8], usize) = (&[], 0);
        let parsed = match &mut self.joiner {
            None => match tls::client_hello(data) {
                Err(tls::TlsError::Incomplete | tls::TlsError::Fragmented) => {
                    let j = self.joiner.insert(Box::default());
                    joined(j, data, &mut tail, cx)
                }
                Ok(h) => {
                    let end = data
                        .get(3..5)
                        .and_then(|l| <[u8; 2]>::try_from(l).ok())
                        .map_or(data.len(), |l| 5 + usize::from(u16::from_be_bytes(l)));
                    tail = (data.get(end..).unwrap_or_default(), 0);
                    Ok(h)
                }
                other => other,
            },
            Some(j) => joined(j, data, &mut tail, cx),
        };
        let h = match parsed {
            Err(tls::TlsError::Incomplete) => return Step::Continue,
            Err(_) => {
                cx.counters.tls_unparsed += 1;
                return Step::Bypass;
            }
            Ok(h) => h,
        };
        cx.counters.tls_hellos += 1;
        if h.ech.is_some() {
            cx.counters.tls_ech_hellos += 1;
        }
        let found = tls_pool(&h, cx.conn.addr(client.other()), cx.ts, &cx.shared.intel, cx.counters);
        if let Some((host, clue)) = found {
            let mut r = recognised(client, host, clue);
            r.facts_mut().tls_fingerprints = Some(Box::new(fingerprint::of(&h)));
            r.facts_mut().tls_ech = crate::stratum::Ech::of(&h);
            return Step::Become(Box::new(Parser::Recognised(r)));
        }
        if h.offers_only_http() {
            return Step::Bypass;
        }
        if let Some(name) = named(&h) {
            // A name that is no pool's: bypassed, unless every such flow is watched too.
            if !(cx.shared.behaviour.enabled && cx.shared.behaviour.named) {
                return Step::Bypass;
            }
            cx.counters.behaviour_watched_named += 1;
            let mut watch = Box::new(Watch::new(client, &h, cx.ts, cx.ts));
            watch.named_server(name);
            return watched(watch, tail, cx);
        }
        // No name to judge by (none, an address, or one that ECH made the outer name only),
        // and no answer read yet for this address: the answer may still be on its way to
        // another worker. Meanwhile (and after, if none comes) the flow's behaviour is watched.
        cx.counters.tls_name_waits += 1;
        if h.ech.is_some() && outer_name(&h).is_some() {
            cx.counters.tls_ech_watched += 1;
        }
        let until = Ts(cx.ts.0.saturating_add(cx.limits.name_wait_us));
        if !cx.shared.behaviour.enabled {
            return Step::Become(Box::new(Parser::AwaitName(AwaitName { client, until })));
        }
        watched(Box::new(Watch::new(client, &h, cx.ts, until)), tail, cx)
    }

    fn gap(&mut self, _: Side) -> Step {
        // The hello needs every byte from the start.
        Step::Bypass
    }

    fn session(&self) -> Option<SessionView<'_>> {
        None
    }

    fn allocated(&self) -> usize {
        self.joiner.as_ref().map_or(0, |j| j.capacity())
    }
}

/// The flow goes on watched (counted); the client's bytes after its hello (`tail`: those bytes,
/// and the hello record's bytes still to come), if any, keep the record framing in step.
fn watched(mut watch: Box<Watch>, tail: (&[u8], usize), cx: &mut Cx<'_>) -> Step {
    cx.counters.behaviour_watched += 1;
    let (rest, skip) = tail;
    match watch.client_tail(skip, rest, cx) {
        Step::Continue => Step::Become(Box::new(Parser::Watch(watch))),
        other => other,
    }
}

/// Pushes `data` into the joiner: the hello once whole (`Incomplete` until then).
fn joined<'j, 'd>(
    j: &'j mut tls::HelloJoiner,
    data: &'d [u8],
    tail: &mut (&'d [u8], usize),
    cx: &mut Cx<'_>,
) -> Result<tls::ClientHello<'j>, tls::TlsError> {
    match j.push(data) {
        tls::Joined::More => Err(tls::TlsError::Incomplete),
        tls::Joined::NotTls => Err(tls::TlsError::NotTls),
        tls::Joined::Overlong => {
            cx.counters.tls_hello_overlong += 1;
            Err(tls::TlsError::Malformed)
        }
        tls::Joined::Whole => {
            *tail = (data.get(data.len() - j.unread.min(data.len())..).unwrap_or_default(), j.record_left());
            let h = j.hello();
            if h.is_ok() && j.records > 1 {
                cx.counters.tls_hello_joined += 1;
            }
            h
        }
    }
}

/// The hello's SNI, if it is a name: an address literal names nothing (TLS forbids it, but
/// OpenSSL clients such as XMRig and mosquitto send the host they were given, address or not),
/// so it is judged as a hello with no SNI.
fn outer_name<'a>(h: &tls::ClientHello<'a>) -> Option<&'a str> {
    h.sni.filter(|s| !is_address(s))
}

/// Whether `s` is an IPv4 or IPv6 address literal. Most names have a letter past `f` (or a
/// `-`), which no address has: only the rest are parsed (std's parser, tried on every hello
/// with an SNI, was 2% of a one-worker replay of the edge benchmark mix).
fn is_address(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':')
        && s.parse::<std::net::IpAddr>().is_ok()
}

/// The name the hello gives for its server: an SNI that is a name (see [`outer_name`]), in a
/// hello that does not hide its real one. With Encrypted Client Hello (or ESNI) the SNI on the wire is
/// the client-facing server's public name (`cloudflare-ech.com` for any site behind it) and
/// the real name is encrypted: the hello names nothing we can judge, and is watched as a hello
/// with no SNI, or ECH would hide a miner completely. Browsers, which send a GREASE ECH on
/// most hellos, are still kept out by their ALPN (`offers_only_http`).
fn named<'a>(h: &tls::ClientHello<'a>) -> Option<&'a str> {
    outer_name(h).filter(|_| h.ech.is_none())
}

/// Whether a ClientHello goes to a pool: its SNI is a pool domain, or the server's address is
/// on a pool list (an analyst's explicit word on that address, so it holds whatever name the
/// hello gives), or (no SNI) the server's address came in a DNS answer for one. A non-pool SNI
/// wins over the DNS map (shared hosting puts many names on one address); a client that offers
/// only HTTP in ALPN is a browser on the pool's web site, not a miner. A session found by its
/// address alone names the hello's server name, if any, as its pool host.
///
/// With ECH the SNI is only the outer name: a pool domain there still gives clue `sni` (the
/// client chose to show it), but any other outer name names neither the pool host nor wins
/// over the DNS map, as a hello with no SNI.
fn tls_pool(
    h: &tls::ClientHello<'_>,
    server: SocketAddr,
    ts: Ts,
    intel: &Intel,
    counters: &mut Counters,
) -> Option<(Option<String>, Clue)> {
    // An address literal as SNI names nothing (see `outer_name`).
    let outer = outer_name(h);
    let sni_pool = outer.filter(|sni| intel.pools.matches(sni).is_some());
    // The name the hello gives for its server, if the SNI is not an ECH outer name.
    let sni = named(h);
    let found = match (sni_pool, sni) {
        (Some(sni), _) => Some((Some(sni.to_ascii_lowercase()), Clue::Sni)),
        _ if intel.pools.matches_addr(server.ip()).is_some() => {
            Some((sni.map(str::to_ascii_lowercase), Clue::PoolList))
        }
        (None, Some(_)) => None,
        (None, None) => intel.dns.lookup(server.ip(), ts).map(|d| (Some(d.to_string()), Clue::Dns)),
    };
    if found.is_some() && h.offers_only_http() {
        counters.tls_pool_web += 1;
        return None;
    }
    if found.is_some() {
        counters.tls_pool += 1;
    }
    found
}

/// The client's ClientHello named no server and its server's address is in no DNS answer for
/// a pool yet. Live, the answer may be read by another worker that is behind this one, so the
/// flow waits until `until` (packet time), holding no buffers, and is looked up again at each
/// of its packets and whenever the DNS map learns an address
/// ([`crate::flow::FlowTable::recheck_names`]); then it is recognised (clue `dns`) or bypassed.
#[derive(Clone, Copy, Debug)]
pub struct AwaitName {
    pub client: Side,
    pub until: Ts,
}

impl AwaitName {
    /// Whether the DNS map now names the server (at packet time `ts`).
    pub fn answered(&self, conn: &ConnInfo, ts: Ts, shared: &Shared) -> bool {
        shared.intel.dns.lookup(conn.addr(self.client.other()).ip(), ts).is_some()
    }

    /// The session, if the DNS map now names its server: recognised (clue `dns`) as it would
    /// have been at its ClientHello.
    pub fn named(
        &self,
        conn: &ConnInfo,
        ts: Ts,
        shared: &Shared,
        counters: &mut Counters,
    ) -> Option<Recognised> {
        let domain = shared.intel.dns.lookup(conn.addr(self.client.other()).ip(), ts)?;
        counters.tls_pool += 1;
        counters.tls_name_late += 1;
        Some(recognised(self.client, Some(domain.to_string()), Clue::Dns))
    }
}

impl Parse for AwaitName {
    fn data(&mut self, _: Side, _: &[u8], _: bool, _: &mut Cx<'_>) -> Step {
        Step::Continue
    }

    fn gap(&mut self, _: Side) -> Step {
        Step::Bypass
    }

    fn session(&self) -> Option<SessionView<'_>> {
        None
    }

    fn reads(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::is_address;

    proptest::proptest! {
        /// The shortcut says what std's parser says, on names, addresses and anything between.
        #[test]
        fn is_address_agrees_with_the_std_parser(s in "[0-9a-fA-F.:%\\[\\]gxz-]{0,40}") {
            proptest::prop_assert_eq!(is_address(&s), s.parse::<std::net::IpAddr>().is_ok());
        }
    }

    #[test]
    fn addresses_and_names() {
        for a in ["192.0.2.1", "::1", "2001:db8::10", "::ffff:198.51.100.7"] {
            assert!(is_address(a), "{a}");
        }
        for n in ["pool.example", "cafe.de", "1.2.3", "dead::beef::1", "fe80::1%eth0", "[::1]", ""] {
            assert!(!is_address(n), "{n}");
        }
    }
}
