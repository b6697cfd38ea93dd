//! The opening probe: the first bytes of a stream seen from its start pick the parser that
//! reads the connection. A Stratum stream opens with `{` or `[` and stays with the line parser;
//! the side that speaks first on a connection may switch it to TLS (a handshake record), HTTP
//! (`POST `) or, for any other binary opening, the Stratum V2 handshake shape; eight printable
//! bytes that are none of these open a text protocol (SSH, SMTP, HTTP GET...), never a random
//! Noise key, and the flow is bypassed at once.

use crate::flow::Side;
use crate::stratum::http::HttpSession;
use crate::stratum::probe::{self, Opening};
use crate::stratum::sv2::Sv2Shape;
use crate::stratum::Limits;

use super::{http, sv2, tls, tunnel, Parser};

/// Bytes of a stream's start kept to judge it ([`probe::opening`]).
pub const HEAD_LEN: usize = 8;

/// One side's opening: whether it is read from its start, and its first bytes until judged
/// (`POST ` or a TLS record header may arrive a byte at a time).
#[derive(Debug, Default)]
pub struct Head {
    /// The stream's start (SYN) was seen, with no gap since: its first byte opens its first
    /// message.
    pub from_start: bool,
    /// The first significant payload byte has been judged.
    pub judged: bool,
    head: [u8; HEAD_LEN],
    head_len: u8,
}

/// The bytes of a head kept before the current segment.
pub struct Earlier {
    bytes: [u8; HEAD_LEN],
    len: usize,
}

impl Earlier {
    pub fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

impl Head {
    /// A stream (re)starting, from its first byte or midstream.
    pub fn new(from_start: bool) -> Head {
        Head { from_start, ..Head::default() }
    }

    /// Takes the next in-order bytes of `side` (read from its start, not judged yet). `None`:
    /// the line parser reads on (not enough bytes yet, a JSON opening, or a session already
    /// recognised). `Some((None, _))`: bypass. `Some((Some(parser), earlier))`: `parser` reads
    /// the stream from here, starting with the `earlier` bytes kept from previous segments.
    pub fn judge(
        &mut self,
        data: &[u8],
        side: Side,
        recognised: bool,
        other_silent: bool,
        parsers: Limits,
        depth: u8,
    ) -> Option<(Option<Parser>, Earlier)> {
        let prev = usize::from(self.head_len);
        let add = data.len().min(HEAD_LEN - prev);
        if let (Some(dst), Some(src)) = (self.head.get_mut(prev..prev + add), data.get(..add)) {
            dst.copy_from_slice(src);
        }
        self.head_len = (prev + add) as u8;
        let seen = self.head.get(..usize::from(self.head_len)).unwrap_or_default();
        let opening = match probe::opening(seen) {
            // A long run of whitespace: judge on the first significant byte as before.
            Opening::NeedMore if seen.len() == HEAD_LEN => match probe::may_start_json(data) {
                Some(true) => Opening::Json,
                Some(false) => Opening::Other,
                None => Opening::NeedMore,
            },
            o => o,
        };
        match opening {
            Opening::NeedMore => return None,
            Opening::Json => {
                self.judged = true;
                return None;
            }
            _ if recognised => {
                self.judged = true;
                return None;
            }
            _ => self.judged = true,
        }
        let text = seen.len() == HEAD_LEN && seen.iter().all(|b| (0x20..0x7f).contains(b));
        let earlier = Earlier { bytes: self.head, len: prev };
        // Only the first speaker of a connection may switch it out of the line parser (TLS,
        // HTTP and Stratum V2 clients speak first; a pool never does in these protocols).
        Some((pick(opening, side, text, other_silent, parsers, depth), earlier))
    }
}

/// The parser for a judged non-JSON opening by `client` of a stream inside `depth` tunnels,
/// or `None` to bypass the flow.
fn pick(
    opening: Opening,
    client: Side,
    text: bool,
    other_silent: bool,
    parsers: Limits,
    depth: u8,
) -> Option<Parser> {
    Some(match opening {
        _ if !other_silent => return None,
        Opening::Other if text => return None,
        Opening::Tunnel(t) => {
            Parser::Tunnel(Box::new(tunnel::Tunnel::new(t, client, depth.saturating_add(1))))
        }
        Opening::Tls => Parser::Tls(tls::Hello::new(client)),
        Opening::HttpPost => {
            Parser::Http(http::Http::new(HttpSession::with_limits(parsers).with_client(client), client))
        }
        _ => Parser::Sv2(sv2::Handshake::new(client, Sv2Shape::new())),
    })
}
