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
    /// Anything else (only a Stratum V2 handshake is still possible).
    Other,
}

/// Classifies the first bytes of a stream (`head`: up to its first 8 bytes, as received).
/// Leading JSON whitespace is allowed before `{`/`[` only; TLS and HTTP start at byte 0.
pub fn opening(head: &[u8]) -> Opening {
    match head.iter().find(|&&b| !is_json_ws(b)) {
        Some(b'{' | b'[') => return Opening::Json,
        Some(_) if head.first().is_some_and(|&b| is_json_ws(b)) => return Opening::Other,
        Some(_) => {}
        None => return Opening::NeedMore,
    }
    match (crate::intel::tls::may_start_tls(head), super::http::may_start_post(head)) {
        (Some(true), _) => Opening::Tls,
        (_, Some(true)) => Opening::HttpPost,
        (None, _) | (_, None) => Opening::NeedMore,
        (Some(false), Some(false)) => Opening::Other,
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
        assert_eq!(opening(b"GET / HT"), Opening::Other);
        assert_eq!(opening(b"PUT / HT"), Opening::Other);
        assert_eq!(opening(&[0x16]), Opening::NeedMore);
        assert_eq!(opening(&[0x16, 3, 1, 2, 0]), Opening::Tls);
        assert_eq!(opening(&[0x16, 9]), Opening::Other);
        assert_eq!(opening(b"SSH-2.0-"), Opening::Other);
    }
}
