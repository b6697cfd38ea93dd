//! A zero-copy view of a TLS ClientHello at the start of a client's stream: enough to read the
//! server name (SNI) and whether the client offers HTTP in ALPN.
//!
//! Why our own: the two facts we need sit at fixed places of one structure, and a full TLS
//! dissector (record layer, every extension, allocation per message) is far more code on the
//! path of every TLS flow we see. This is ~150 lines of bounds-checked reads over `&[u8]`.
//!
//! Contract: [`client_hello`] reads only through [`Reader`], whose every accessor is checked, so
//! no input can make it panic or read out of bounds; it never allocates; its work is linear in
//! the input (each byte is looked at a bounded number of times).
//!
//! Limits: the ClientHello must lie in the first TLS record (records carry up to 16 KiB, and
//! every client we know sends its hello in one); a hello fragmented over several records is
//! reported as [`TlsError::Fragmented`] and treated as unparsed by the caller. The caller bounds
//! how much of the stream it gathers before giving up ([`MAX_HELLO_STREAM`]).

/// The most client bytes gathered while waiting for a whole ClientHello.
pub const MAX_HELLO_STREAM: usize = 16 * 1024;
/// TLS record header: type, version, length.
const RECORD_HEADER: usize = 5;
const CONTENT_HANDSHAKE: u8 = 0x16;
const HANDSHAKE_CLIENT_HELLO: u8 = 0x01;
const EXT_SERVER_NAME: u16 = 0x0000;
const EXT_ALPN: u16 = 0x0010;
/// Longest host name kept (DNS's limit).
const MAX_SNI: usize = 253;

/// Why bytes are not (yet) a ClientHello.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsError {
    /// A prefix of a ClientHello: more bytes are needed.
    Incomplete,
    /// Not a TLS handshake record holding a ClientHello.
    NotTls,
    /// A ClientHello whose fields do not add up.
    Malformed,
    /// The handshake message continues past its first record.
    Fragmented,
}

/// What a ClientHello says, borrowed from the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientHello<'a> {
    /// The first `host_name` of the server_name extension, when it is a plausible host name.
    pub sni: Option<&'a str>,
    /// The ALPN protocols offered, as the raw `ProtocolNameList` (see [`ClientHello::alpn`]).
    alpn: Option<&'a [u8]>,
    /// The hello's `legacy_version` (0x0303 for TLS 1.2 and 1.3).
    pub version: u16,
    /// The cipher suites, as on the wire (two bytes each), for the fingerprints
    /// ([`crate::intel::fingerprint`]).
    pub ciphers: &'a [u8],
    /// The extensions block, as on the wire (type, length, data; repeated).
    pub extensions: &'a [u8],
}

impl<'a> ClientHello<'a> {
    /// The ALPN protocol names offered, in order.
    pub fn alpn(&self) -> impl Iterator<Item = &'a [u8]> {
        let mut r = Reader::new(self.alpn.unwrap_or_default());
        std::iter::from_fn(move || r.vec8())
    }

    /// The client offers ALPN and every protocol it offers is HTTP (`http/1.x`, `h2`, `h3`):
    /// a web client. Stratum clients (XMRig, SRBMiner, lolMiner, ...) set no ALPN.
    pub fn offers_only_http(&self) -> bool {
        let mut any = false;
        for p in self.alpn() {
            any = true;
            if !(p.starts_with(b"http/") || p == b"h2" || p == b"h2c" || p == b"h3") {
                return false;
            }
        }
        any
    }
}

/// A cursor over bytes whose reads are all checked.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Some(head)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.take(1).and_then(|b| b.first().copied())
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.take(2).and_then(|b| Some(u16::from_be_bytes(b.try_into().ok()?)))
    }

    fn u24(&mut self) -> Option<usize> {
        let b = self.take(3)?;
        Some(b.iter().fold(0usize, |acc, &x| (acc << 8) | usize::from(x)))
    }

    pub(crate) fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    pub(crate) fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// Whether `prefix` (at least its first bytes) can open a TLS handshake record: content type
/// 22 and major version 3. `None` until three bytes are there.
pub fn may_start_tls(prefix: &[u8]) -> Option<bool> {
    match prefix {
        [] => None,
        [t] if *t == CONTENT_HANDSHAKE => None,
        [_] => Some(false),
        [t, v, ..] if *t != CONTENT_HANDSHAKE || *v != 3 => Some(false),
        [_, _] => None,
        [_, _, minor, ..] => Some(*minor <= 4),
    }
}

/// Parses the ClientHello at the start of `stream` (the client's reassembled bytes from its
/// first byte on). Trailing bytes after the hello's record are ignored.
pub fn client_hello(stream: &[u8]) -> Result<ClientHello<'_>, TlsError> {
    if may_start_tls(stream) == Some(false) {
        return Err(TlsError::NotTls);
    }
    let mut rec = Reader::new(stream);
    let mut header = Reader::new(rec.take(RECORD_HEADER).ok_or(TlsError::Incomplete)?);
    let len = header.take(3).and(header.u16()).map_or(0, usize::from);
    if len == 0 || len > (1 << 14) + 2048 {
        return Err(TlsError::NotTls);
    }
    let mut hs = Reader::new(rec.take(len).ok_or(TlsError::Incomplete)?);
    if hs.u8() != Some(HANDSHAKE_CLIENT_HELLO) {
        return Err(TlsError::NotTls);
    }
    let body_len = hs.u24().ok_or(TlsError::Malformed)?;
    let Some(body) = hs.take(body_len) else {
        // The record is complete but the message is longer: it continues in the next record.
        return Err(if body_len > len { TlsError::Fragmented } else { TlsError::Malformed });
    };
    parse_body(body).ok_or(TlsError::Malformed)
}

fn parse_body(body: &[u8]) -> Option<ClientHello<'_>> {
    let mut r = Reader::new(body);
    let version = r.u16()?;
    r.take(32)?; // random
    r.vec8()?; // session id
    let ciphers = r.vec16()?;
    r.vec8()?; // compression methods
    let mut hello = ClientHello { sni: None, alpn: None, version, ciphers, extensions: &[] };
    if r.is_empty() {
        return Some(hello); // no extensions (SSL 3.0 style)
    }
    let block = r.vec16()?;
    hello.extensions = block;
    let mut exts = Reader::new(block);
    while !exts.is_empty() {
        let kind = exts.u16()?;
        let data = exts.vec16()?;
        match kind {
            EXT_SERVER_NAME if hello.sni.is_none() => hello.sni = server_name(data),
            EXT_ALPN if hello.alpn.is_none() => hello.alpn = Some(Reader::new(data).vec16()?),
            _ => {}
        }
    }
    Some(hello)
}

/// The first `host_name` entry of a server_name extension, if it is a plausible host name.
fn server_name(data: &[u8]) -> Option<&str> {
    let mut list = Reader::new(Reader::new(data).vec16()?);
    while !list.is_empty() {
        let kind = list.u8()?;
        let name = list.vec16()?;
        if kind == 0 {
            let ok = !name.is_empty()
                && name.len() <= MAX_SNI
                && name.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
            return if ok { std::str::from_utf8(name).ok() } else { None };
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A ClientHello record with the given extensions (type, data).
    fn hello(exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[7u8; 32]);
        body.push(0);
        body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
        let mut e = Vec::new();
        for (t, d) in exts {
            e.extend_from_slice(&t.to_be_bytes());
            e.extend_from_slice(&(d.len() as u16).to_be_bytes());
            e.extend_from_slice(d);
        }
        body.extend_from_slice(&(e.len() as u16).to_be_bytes());
        body.extend_from_slice(&e);
        testkit::synth::encrypted::client_hello_record(&body)
    }

    fn sni(name: &str) -> (u16, Vec<u8>) {
        let n = name.len() as u16;
        let mut d = (n + 3).to_be_bytes().to_vec();
        d.push(0);
        d.extend_from_slice(&n.to_be_bytes());
        d.extend_from_slice(name.as_bytes());
        (0, d)
    }

    fn alpn(protos: &[&str]) -> (u16, Vec<u8>) {
        let mut list = Vec::new();
        for p in protos {
            list.push(p.len() as u8);
            list.extend_from_slice(p.as_bytes());
        }
        let mut d = (list.len() as u16).to_be_bytes().to_vec();
        d.extend(list);
        (0x10, d)
    }

    #[test]
    fn reads_sni_and_alpn() {
        let rec =
            hello(&[(0x0a, vec![0, 2, 0, 0x1d]), sni("pool.supportxmr.com"), alpn(&["h2", "http/1.1"])]);
        let h = client_hello(&rec).unwrap();
        assert_eq!(h.sni, Some("pool.supportxmr.com"));
        assert_eq!(h.alpn().collect::<Vec<_>>(), vec![&b"h2"[..], b"http/1.1"]);
        assert!(h.offers_only_http());
        let rec = hello(&[alpn(&["h2", "stratum"])]);
        let h = client_hello(&rec).unwrap();
        assert_eq!(h.sni, None);
        assert!(!h.offers_only_http());
        let rec = hello(&[sni("x.example")]);
        let h = client_hello(&rec).unwrap();
        assert!(!h.offers_only_http());
    }

    #[test]
    fn every_prefix_is_incomplete_and_trailing_bytes_are_ignored() {
        let mut rec = hello(&[sni("gulf.moneroocean.stream")]);
        for n in 0..rec.len() {
            assert_eq!(client_hello(&rec[..n]), Err(TlsError::Incomplete), "prefix {n}");
        }
        rec.extend_from_slice(&[0x17, 0x03, 0x03, 0, 5, 1, 2, 3, 4, 5]);
        assert_eq!(client_hello(&rec).unwrap().sni, Some("gulf.moneroocean.stream"));
    }

    #[test]
    fn rejects_other_bytes_and_bad_lengths() {
        assert_eq!(client_hello(b"GET / HTTP/1.1\r\n"), Err(TlsError::NotTls));
        assert_eq!(client_hello(b"{\"id\":1}"), Err(TlsError::NotTls));
        assert_eq!(client_hello(&[0x16, 0x02]), Err(TlsError::NotTls));
        // A ServerHello is not a ClientHello.
        let mut rec = hello(&[]);
        rec[5] = 2;
        assert_eq!(client_hello(&rec), Err(TlsError::NotTls));
        // The handshake claims more than its record: fragmented over records.
        let mut rec = hello(&[sni("a.example")]);
        rec[7] = rec[7].wrapping_add(1);
        assert_eq!(client_hello(&rec), Err(TlsError::Fragmented));
        // An extension longer than the extensions block.
        let mut rec = hello(&[sni("a.example")]);
        let n = rec.len();
        rec[n - 16] = 0xff;
        assert!(client_hello(&rec).is_err());
        // A name with a NUL or a space is not kept.
        assert_eq!(client_hello(&hello(&[sni("a\0b.example")])).unwrap().sni, None);
        assert_eq!(client_hello(&hello(&[sni("a b.example")])).unwrap().sni, None);
    }

    #[test]
    fn stream_start_test() {
        assert_eq!(may_start_tls(b""), None);
        assert_eq!(may_start_tls(&[0x16]), None);
        assert_eq!(may_start_tls(&[0x16, 3]), None);
        assert_eq!(may_start_tls(&[0x16, 3, 1]), Some(true));
        assert_eq!(may_start_tls(&[0x16, 3, 9]), Some(false));
        assert_eq!(may_start_tls(b"{"), Some(false));
        assert_eq!(may_start_tls(&[0x16, 2]), Some(false));
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = client_hello(&data);
            let mut rec = vec![0x16, 0x03, 0x01, (data.len() >> 8) as u8, data.len() as u8];
            rec.extend_from_slice(&data);
            if let Ok(h) = client_hello(&rec) {
                let _ = h.alpn().count();
                let _ = h.offers_only_http();
            }
        }

        #[test]
        fn mutated_hellos_never_panic(pos in 0usize..200, val in any::<u8>()) {
            let mut rec = hello(&[sni("pool.supportxmr.com"), alpn(&["h2"])]);
            if let Some(b) = rec.get_mut(pos) {
                *b = val;
            }
            let _ = client_hello(&rec);
        }
    }
}
