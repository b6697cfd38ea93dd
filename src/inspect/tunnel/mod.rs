//! Tunnels and proxies in front of a connection: SOCKS4, SOCKS4a, SOCKS5 (with its
//! username/password sub-negotiation), HTTP `CONNECT`, a WebSocket upgrade and the PROXY
//! protocol header (v1, v2). The opening probe picks [`Tunnel`] from the first speaker's first
//! bytes; it reads each side's handshake ([`wire`]), then hands the inner stream, from its first
//! byte, to an inner [`Inspector`] as if it were the connection: the same opening probe picks
//! the inner stream's parser (Stratum lines, a TLS hello, HTTP getwork, the Stratum V2 shape,
//! or another tunnel, to [`MAX_DEPTH`] tunnels in all), so every dialect and every fact is
//! found inside as outside, with roles from the protocol. WebSocket messages are taken out of
//! their frames ([`websocket`]) and handed on one per line.
//!
//! The session's record names the tunnel and its target as the handshake stated it
//! ([`crate::stratum::Tunnel`]); a target that names a pool domain is a clue of its own (clue
//! `tunnel`) when the inner stream shows nothing better.
//!
//! Bounds: a handshake is gathered (copied: they are a few dozen bytes) up to its protocol's
//! largest size (SOCKS5 with a sub-negotiation: 1,032 bytes; a PROXY header:
//! [`wire::MAX_PROXY_HEADER`]) or the HTTP head bound (`--http-max-head`); a WebSocket message
//! up to the line bound (`--max-line`); the inner stream's parsers have their own.

pub mod websocket;
pub mod wire;

use std::mem;

use crate::flow::Side;
use crate::stratum::probe::TunnelOpening;
use crate::stratum::sv2::Sv2Shape;
use crate::stratum::{self, Clue, Confidence, SessionFacts, TunnelKind};

use self::wire::Hs;
use super::{idx, sv2, Cx, Inspector, Parse, Parser, Recognised, SessionView, Step};

/// Most tunnels inspected one inside the other (a PROXY header before a SOCKS handshake is
/// two); a deeper one is bypassed and counted (`tunnel_too_deep`).
pub const MAX_DEPTH: u8 = 2;
/// The largest SOCKS handshake of one side: a SOCKS5 greeting (2 + 255), its username/password
/// sub-negotiation (3 + 255 + 255) and a request to a 255-byte name (7 + 255); SOCKS4a's is
/// smaller.
const MAX_SOCKS: usize = 1032;

#[derive(Debug)]
pub struct Tunnel {
    opening: TunnelOpening,
    /// The side that opened the tunnel (the first speaker).
    client: Side,
    /// This tunnel's depth: 1 for a tunnel at the connection's start.
    depth: u8,
    /// Each side's handshake bytes gathered so far, until its handshake is whole.
    hs: [Vec<u8>; 2],
    done: [bool; 2],
    tunnel: Option<stratum::Tunnel>,
    /// The session the target's name alone makes (clue `tunnel`), when it names a pool.
    pool: Option<Box<SessionFacts>>,
    /// A WebSocket's frames, each way.
    ws: Option<Box<[websocket::Frames; 2]>>,
    /// A side whose WebSocket framing broke (after a gap): its bytes are ignored.
    ws_broken: [bool; 2],
    inner: Option<Box<Inspector>>,
    inner_spoke: [bool; 2],
}

impl Tunnel {
    pub fn new(opening: TunnelOpening, client: Side, depth: u8) -> Tunnel {
        // The PROXY header has no answer: the server's bytes are the inner stream's at once.
        let proxy = matches!(opening, TunnelOpening::ProxyV1 | TunnelOpening::ProxyV2);
        let mut done = [false; 2];
        if let Some(d) = done.get_mut(idx(client.other())) {
            *d = proxy;
        }
        Tunnel {
            opening,
            client,
            depth,
            hs: [Vec::new(), Vec::new()],
            done,
            tunnel: None,
            pool: None,
            ws: None,
            ws_broken: [false; 2],
            inner: None,
            inner_spoke: [false; 2],
        }
    }

    /// The most handshake bytes of one side.
    fn bound(&self, cx: &Cx<'_>) -> usize {
        match self.opening {
            TunnelOpening::Socks4 | TunnelOpening::Socks5 => MAX_SOCKS,
            TunnelOpening::HttpConnect | TunnelOpening::HttpGet => cx.shared.parsers.http_max_head,
            TunnelOpening::ProxyV1 | TunnelOpening::ProxyV2 => wire::MAX_PROXY_HEADER,
        }
    }

    /// One side's handshake as gathered so far: the client's request (with its target) or the
    /// server's reply.
    fn read_handshake(&self, client: bool, buf: &[u8], max: usize) -> Hs<Option<wire::Request>> {
        let req = |h: Hs<wire::Request>| match h {
            Hs::Done(n, r) => Hs::Done(n, Some(r)),
            Hs::More => Hs::More,
            Hs::No => Hs::No,
        };
        let reply = |h: Hs<()>| match h {
            Hs::Done(n, ()) => Hs::Done(n, None),
            Hs::More => Hs::More,
            Hs::No => Hs::No,
        };
        match (self.opening, client) {
            (TunnelOpening::Socks4 | TunnelOpening::Socks5, true) => req(wire::socks_request(buf)),
            (TunnelOpening::Socks4, false) => reply(wire::socks_reply(buf, false)),
            (TunnelOpening::Socks5, false) => reply(wire::socks_reply(buf, true)),
            (TunnelOpening::HttpConnect, true) => req(wire::http_connect(buf, max)),
            (TunnelOpening::HttpConnect, false) => reply(wire::http_reply(buf, max, false)),
            (TunnelOpening::HttpGet, true) => req(wire::websocket_upgrade(buf, max)),
            (TunnelOpening::HttpGet, false) => reply(wire::http_reply(buf, max, true)),
            (TunnelOpening::ProxyV1 | TunnelOpening::ProxyV2, true) => req(wire::proxy_header(buf)),
            (TunnelOpening::ProxyV1 | TunnelOpening::ProxyV2, false) => Hs::Done(0, None),
        }
    }

    /// The handshake did not fit: a SOCKS5-looking opening may still be a Stratum V2 Noise key
    /// (its first bytes can look like a greeting), which the shape check reads from the bytes
    /// gathered; anything else is bypassed. A `GET` that is no WebSocket upgrade is ordinary
    /// web traffic, not counted.
    fn fail(&mut self, cx: &mut Cx<'_>) -> Step {
        if self.opening == TunnelOpening::Socks5 && !self.done.iter().any(|&d| d) {
            let mut p = sv2::Handshake::new(self.client, Sv2Shape::new());
            for side in [self.client, self.client.other()] {
                let bytes = self.hs.get_mut(idx(side)).map(mem::take).unwrap_or_default();
                if bytes.is_empty() {
                    continue;
                }
                match p.data(side, &bytes, true, cx) {
                    Step::Continue => {}
                    other => return other,
                }
            }
            return Step::Become(Box::new(Parser::Sv2(p)));
        }
        if self.opening != TunnelOpening::HttpGet || self.done.iter().any(|&d| d) {
            cx.counters.tunnel_failed += 1;
        }
        Step::Bypass
    }

    /// The client's request is whole: the tunnel's facts, and its target looked up in the pool
    /// list.
    fn opened(&mut self, req: wire::Request, cx: &mut Cx<'_>) {
        cx.counters.tunnels += 1;
        let tunnel = stratum::Tunnel { kind: req.kind, target: req.target };
        if let Some(name) = req.name.filter(|n| cx.shared.intel.pools.matches(n).is_some()) {
            cx.counters.tunnel_pool_target += 1;
            self.pool = Some(Box::new(SessionFacts {
                client: Some(self.client),
                pool_host: Some(name),
                clue: Some(Clue::Tunnel),
                tunnel: Some(tunnel.clone()),
                ..SessionFacts::default()
            }));
        }
        if tunnel.kind == TunnelKind::WebSocket {
            let max = cx.limits.max_line;
            let client = self.client == Side::A;
            self.ws =
                Some(Box::new([websocket::Frames::new(client, max), websocket::Frames::new(!client, max)]));
        }
        self.tunnel = Some(tunnel);
    }

    /// Bytes of the inner stream of `side`: through the WebSocket's frames, then the inner
    /// inspector.
    fn inner_data(&mut self, side: Side, data: &[u8], cx: &mut Cx<'_>) -> Step {
        if data.is_empty() {
            return Step::Continue;
        }
        let i = idx(side);
        if self.ws_broken.get(i).copied().unwrap_or(true) {
            return Step::Continue;
        }
        let inner =
            self.inner.get_or_insert_with(|| Box::new(Inspector::inner(cx.limits, cx.shared, self.depth)));
        let mut bypass = false;
        match self.ws.as_deref_mut().and_then(|w| w.get_mut(i)) {
            Some(frames) => {
                let spoke = &mut self.inner_spoke;
                let r = frames.push(data, &mut |msg| {
                    if bypass || msg.is_empty() {
                        return;
                    }
                    let other_silent = !spoke.get(idx(side.other())).copied().unwrap_or(false);
                    if let Some(s) = spoke.get_mut(i) {
                        *s = true;
                    }
                    // One message a line: the inner line parser frames on newlines.
                    bypass =
                        inner.data(side, msg, other_silent, cx) || inner.data(side, b"\n", other_silent, cx);
                });
                cx.counters.tunnel_ws_overlong += r.overlong;
                if r.broken {
                    cx.counters.tunnel_ws_broken += 1;
                    if let Some(b) = self.ws_broken.get_mut(i) {
                        *b = true;
                    }
                    bypass |= inner.parser.get().session().is_none();
                }
            }
            None => {
                let other_silent = !self.inner_spoke.get(idx(side.other())).copied().unwrap_or(false);
                if let Some(s) = self.inner_spoke.get_mut(i) {
                    *s = true;
                }
                bypass = inner.data(side, data, other_silent, cx);
            }
        }
        // A TLS hello without a name waits for a DNS answer for the server's address: inside
        // a tunnel that address is the proxy's, so nothing will name it. The tunnel's own
        // target is the clue when it names a pool; else only the behaviour watch is left
        // (`Watch`, which reads on inside the tunnel), or nothing (`AwaitName`).
        let unnamed = match inner.parser {
            Parser::AwaitName(_) => true,
            Parser::Watch(_) => self.pool.is_some(),
            _ => false,
        };
        if bypass || unnamed {
            return match self.pool.take() {
                Some(f) => Step::Become(Box::new(Parser::Recognised(Recognised::boxed(f)))),
                None => Step::Bypass,
            };
        }
        Step::Continue
    }
}

impl Parse for Tunnel {
    fn data(&mut self, side: Side, data: &[u8], _: bool, cx: &mut Cx<'_>) -> Step {
        if self.depth > MAX_DEPTH {
            cx.counters.tunnel_too_deep += 1;
            return Step::Bypass;
        }
        let i = idx(side);
        if self.done.get(i).copied().unwrap_or(true) {
            return self.inner_data(side, data, cx);
        }
        let bound = self.bound(cx);
        let Some(hs) = self.hs.get_mut(i) else { return Step::Bypass };
        let room = bound.saturating_sub(hs.len());
        hs.extend_from_slice(data.get(..room).unwrap_or(data));
        let taken = data.len().min(room);
        let hs = mem::take(hs);
        match self.read_handshake(side == self.client, &hs, bound) {
            Hs::More if hs.len() < bound => {
                if let Some(h) = self.hs.get_mut(i) {
                    *h = hs;
                }
                Step::Continue
            }
            Hs::More | Hs::No => {
                if let Some(h) = self.hs.get_mut(i) {
                    *h = hs;
                }
                self.fail(cx)
            }
            Hs::Done(n, req) => {
                if let Some(d) = self.done.get_mut(i) {
                    *d = true;
                }
                if let Some(req) = req {
                    self.opened(req, cx);
                }
                // The bytes after the handshake: the rest of those gathered, then the rest of
                // this chunk beyond what the bound let in.
                let rest = hs.get(n..).unwrap_or_default();
                match self.inner_data(side, rest, cx) {
                    Step::Continue => {}
                    other => return other,
                }
                self.inner_data(side, data.get(taken..).unwrap_or_default(), cx)
            }
        }
    }

    fn gap(&mut self, side: Side) -> Step {
        let handshaken = self.done.iter().all(|&d| d);
        let Some(inner) = self.inner.as_deref_mut().filter(|_| handshaken) else { return Step::Bypass };
        if self.ws.is_some() {
            // Frames cannot be found again after a hole.
            if let Some(b) = self.ws_broken.get_mut(idx(side)) {
                *b = true;
            }
            return if inner.parser.get().session().is_some() { Step::Continue } else { Step::Bypass };
        }
        match inner.gap(side) {
            true => Step::Bypass,
            false => Step::Continue,
        }
    }

    fn session(&self) -> Option<SessionView<'_>> {
        if let Some(mut v) = self.inner.as_ref().and_then(|i| i.parser.get().session()) {
            // The innermost tunnel names the session's: its target is the pool.
            if v.tunnel.is_none() {
                v.tunnel = self.tunnel.as_ref();
            }
            return Some(v);
        }
        self.pool.as_deref().map(|facts| SessionView {
            facts,
            confidence: Confidence::Suspected,
            whole: false,
            tunnel: None,
        })
    }

    fn allocated(&self) -> usize {
        self.hs.iter().map(Vec::capacity).sum::<usize>()
            + self.ws.as_ref().map_or(0, |w| w.iter().map(websocket::Frames::capacity).sum())
            + self.inner.as_ref().map_or(0, |i| mem::size_of::<Inspector>() + i.parser.get().allocated())
    }

    fn reads(&self) -> bool {
        self.inner.as_ref().map_or(true, |i| i.parser.get().reads())
    }
}
