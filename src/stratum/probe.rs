//! The cheap pre-filter: the first test every line meets, so it must reject most traffic in a
//! few byte comparisons. It looks only at structure (a JSON object or array), never at keywords,
//! so no spelling of a method (`"mining\u002esubscribe"`, odd spacing, key order) can slip past
//! it; keywords are judged after a real JSON parse.

/// JSON's insignificant whitespace.
fn is_json_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Whether `line` may be a JSON-RPC message or batch: its first non-whitespace byte opens an
/// object or an array, and its last closes one.
pub fn may_be_json(line: &[u8]) -> bool {
    let first = line.iter().position(|&b| !is_json_ws(b));
    let last = line.iter().rposition(|&b| !is_json_ws(b));
    match (first, last) {
        (Some(f), Some(l)) => {
            matches!((line.get(f), line.get(l)), (Some(b'{'), Some(b'}')) | (Some(b'['), Some(b']')))
        }
        _ => false,
    }
}

/// Whether the start of a stream (possibly an incomplete first line) may open a JSON message.
/// Used to bypass a flow on its first payload byte, before a whole line has arrived.
pub fn may_start_json(prefix: &[u8]) -> Option<bool> {
    prefix.iter().find(|&&b| !is_json_ws(b)).map(|&b| b == b'{' || b == b'[')
}

/// What the first bytes of a connection's first speaker say it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opening {
    /// Too few bytes to tell.
    NeedMore,
    /// A JSON message: the Stratum line dialects.
    Json,
    /// A TLS handshake record (read for its ClientHello).
    Tls,
    /// `POST `: HTTP, read for getwork.
    HttpPost,
    /// The handshake of a tunnel or proxy, whose inner stream is inspected after it.
    Tunnel(TunnelOpening),
    /// Anything else (only a Stratum V2 handshake is still possible).
    Other,
}

/// The tunnel a connection's first bytes may open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TunnelOpening {
    /// `04 01`: a SOCKS4 (or 4a) CONNECT request.
    Socks4,
    /// `05 n` with 1 to 9 methods: a SOCKS5 greeting (or, rarely, a random Noise key: the
    /// tunnel parser falls back to the Stratum V2 shape when the rest does not fit).
    Socks5,
    /// `CONNECT `: an HTTP proxy tunnel.
    HttpConnect,
    /// `GET `: an HTTP request, perhaps a WebSocket upgrade.
    HttpGet,
    /// `PROXY `: the PROXY protocol's text header (v1).
    ProxyV1,
    /// `\r\n\r\n\0\r\nQ`: the start of the PROXY protocol's binary signature (v2).
    ProxyV2,
}

/// Whether `head` starts with `pat`: `None` while it is a shorter prefix of it.
fn prefix(head: &[u8], pat: &[u8]) -> Option<bool> {
    let n = head.len().min(pat.len());
    if head.get(..n) != pat.get(..n) {
        Some(false)
    } else if n == pat.len() {
        Some(true)
    } else {
        None
    }
}

/// The tunnel `head` opens, `Some(None)` for none, `None` while too short to tell.
fn tunnel(head: &[u8]) -> Option<Option<TunnelOpening>> {
    let socks = match head {
        [] | [4] | [5] => None,
        [4, 1, ..] => Some(true),
        [5, n, ..] => Some((1..=9).contains(n)),
        _ => Some(false),
    };
    let mut need_more = false;
    for (m, t) in [
        (socks, if head.first() == Some(&4) { TunnelOpening::Socks4 } else { TunnelOpening::Socks5 }),
        (prefix(head, b"CONNECT "), TunnelOpening::HttpConnect),
        (prefix(head, b"GET "), TunnelOpening::HttpGet),
        (prefix(head, b"PROXY "), TunnelOpening::ProxyV1),
        (prefix(head, b"\r\n\r\n\0\r\nQ"), TunnelOpening::ProxyV2),
    ] {
        match m {
            Some(true) => return Some(Some(t)),
            None => need_more = true,
            Some(false) => {}
        }
    }
    if need_more {
        None
    } else {
        Some(None)
    }
}

/// Classifies the first bytes of a stream (`head`: up to its first 8 bytes, as received).
/// Leading JSON whitespace is allowed before `{`/`[` only; TLS and HTTP start at byte 0.
/// The PROXY protocol v2 signature opens with JSON whitespace (`\r\n\r\n\0`): it is the one
/// opening that does. A `{` or `[` opens JSON only if the bytes so far are text: Stratum V2's
/// Noise handshake opens with 64 random bytes (an ElligatorSwift key), one in 128 of which
/// begins with `{` or `[`, and such a session was taken for JSON and missed (seen in a test of
/// the reference crates' real pair).
pub fn opening(head: &[u8]) -> Opening {
    match head.iter().find(|&&b| !is_json_ws(b)) {
        Some(b'{' | b'[') if head.iter().all(|&b| is_json_ws(b) || (0x20..0x7f).contains(&b)) => {
            return Opening::Json
        }
        Some(b'{' | b'[') => {}
        Some(0) if head.starts_with(b"\r\n\r\n\0") => {}
        Some(_) if head.first().is_some_and(|&b| is_json_ws(b)) => return Opening::Other,
        Some(_) => {}
        None => return Opening::NeedMore,
    }
    match (crate::intel::tls::may_start_tls(head), super::http::may_start_post(head), tunnel(head)) {
        (Some(true), _, _) => Opening::Tls,
        (_, Some(true), _) => Opening::HttpPost,
        (_, _, Some(Some(t))) => Opening::Tunnel(t),
        (None, _, _) | (_, None, _) | (_, _, None) => Opening::NeedMore,
        (Some(false), Some(false), Some(None)) => Opening::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_objects_and_batches_with_whitespace() {
        assert!(may_be_json(br#"{"id":1}"#));
        assert!(may_be_json(b"  [ {\"id\":1} ]\r"));
    }

    #[test]
    fn rejects_everything_else() {
        assert!(!may_be_json(b"GET / HTTP/1.1\r"));
        assert!(!may_be_json(b"\x16\x03\x01\x02\x00"));
        assert!(!may_be_json(b""));
        assert!(!may_be_json(b"   "));
        assert!(!may_be_json(br#"{"id":1"#));
        assert!(!may_be_json(b"<p>{\"method\":\"mining.subscribe\"}</p>"));
    }

    #[test]
    fn stream_start_decides_on_first_significant_byte() {
        assert_eq!(may_start_json(b""), None);
        assert_eq!(may_start_json(b" \r\n"), None);
        assert_eq!(may_start_json(b" {\"id\""), Some(true));
        assert_eq!(may_start_json(b"\x16\x03"), Some(false));
        assert_eq!(may_start_json(b"POST /"), Some(false));
    }

    #[test]
    fn opening_of_a_stream() {
        assert_eq!(opening(b""), Opening::NeedMore);
        assert_eq!(opening(b"  "), Opening::NeedMore);
        assert_eq!(opening(b" \r\n{\"id\""), Opening::Json);
        assert_eq!(opening(b"[{"), Opening::Json);
        assert_eq!(opening(b"P"), Opening::NeedMore);
        assert_eq!(opening(b"POST "), Opening::HttpPost);
        assert_eq!(opening(b" POST "), Opening::Other);
        assert_eq!(opening(b"GET / HT"), Opening::Tunnel(TunnelOpening::HttpGet));
        assert_eq!(opening(b"GE"), Opening::NeedMore);
        assert_eq!(opening(b"CONNECT "), Opening::Tunnel(TunnelOpening::HttpConnect));
        assert_eq!(opening(b"CONNECTX"), Opening::Other);
        assert_eq!(opening(b"PROXY TC"), Opening::Tunnel(TunnelOpening::ProxyV1));
        assert_eq!(opening(b"\r\n\r\n\0\r\nQ"), Opening::Tunnel(TunnelOpening::ProxyV2));
        assert_eq!(opening(b"\r\n\r\n\0"), Opening::NeedMore);
        assert_eq!(opening(b"\r\n\r\n\0\r\nX"), Opening::Other);
        assert_eq!(opening(b"\r\n\r\n{"), Opening::Json);
        assert_eq!(opening(&[5, 1, 0]), Opening::Tunnel(TunnelOpening::Socks5));
        assert_eq!(opening(&[5]), Opening::NeedMore);
        assert_eq!(opening(&[5, 0x40, 3]), Opening::Other);
        assert_eq!(opening(&[4, 1, 0, 80]), Opening::Tunnel(TunnelOpening::Socks4));
        assert_eq!(opening(&[4, 2, 0, 80]), Opening::Other);
        assert_eq!(opening(b"PUT / HT"), Opening::Other);
        assert_eq!(opening(&[0x16]), Opening::NeedMore);
        assert_eq!(opening(&[0x16, 3, 1, 2, 0]), Opening::Tls);
        assert_eq!(opening(&[0x16, 9]), Opening::Other);
        assert_eq!(opening(b"SSH-2.0-"), Opening::Other);
        // `{` or `[` followed by bytes that are not text: binary (a Noise key), not JSON.
        assert_eq!(opening(&[b'{', 0x9c, 0x01, 0xf3, 0x22, 0x7a, 0x00, 0x41]), Opening::Other);
        assert_eq!(opening(&[b'[', b'"', 0xff]), Opening::Other);
        assert_eq!(opening(b"{\"id\":1,"), Opening::Json);
    }
}
