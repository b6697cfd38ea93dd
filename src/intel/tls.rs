//! A zero-copy view of a TLS ClientHello at the start of a client's stream: enough to read the
//! server name (SNI), whether the client offers HTTP in ALPN, and whether it hides its real
//! server name (Encrypted Client Hello, or the older ESNI draft).
//!
//! Why our own: the two facts we need sit at fixed places of one structure, and a full TLS
//! dissector (record layer, every extension, allocation per message) is far more code on the
//! path of every TLS flow we see. This is ~150 lines of bounds-checked reads over `&[u8]`.
//!
//! Contract: [`client_hello`] reads only through [`Reader`], whose every accessor is checked, so
//! no input can make it panic or read out of bounds; it never allocates; its work is linear in
//! the input (each byte is looked at a bounded number of times).
//!
//! A ClientHello in its first record is read in place ([`client_hello`]); one fragmented over
//! several records (a client or a middlebox dodging SNI matching by sending the hello a few
//! bytes a record) is joined by [`HelloJoiner`], which strips the record headers as the bytes
//! stream by and keeps only the handshake message, at most [`MAX_HELLO_MESSAGE`] bytes: memory
//! is bounded by the message, whatever the number of records (1-byte records make the stream
//! six times the message).

/// The most client bytes gathered while waiting for a whole ClientHello in its first record.
pub const MAX_HELLO_STREAM: usize = 16 * 1024;
/// The longest ClientHello handshake message (type, length, body) joined from several records:
/// 16 KiB, the most one record may carry, which no real hello comes near (a post-quantum key
/// share makes one ~1.8 KiB).
pub const MAX_HELLO_MESSAGE: usize = 16 * 1024;
/// TLS record header: type, version, length.
const RECORD_HEADER: usize = 5;
const CONTENT_HANDSHAKE: u8 = 0x16;
const HANDSHAKE_CLIENT_HELLO: u8 = 0x01;
const EXT_SERVER_NAME: u16 = 0x0000;
const EXT_ALPN: u16 = 0x0010;
/// encrypted_client_hello (RFC 9849; draft-ietf-tls-esni-13 and later use the same number).
const EXT_ECH: u16 = 0xfe0d;
/// encrypted_server_name, the ESNI drafts (-01 to -04) that ECH replaced; Firefox and
/// Cloudflare spoke it in 2018-2020.
const EXT_ESNI: u16 = 0xffce;
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
    /// The hello carries an extension that encrypts the real ClientHello (or server name):
    /// its SNI, if any, is then the client-facing server's public name (a CDN's, or any name
    /// the client chose), not the server it talks to. Only the extension's presence is read:
    /// a GREASE ECH (Chrome sends one on most hellos) cannot be told from a real one on the
    /// wire, by design, and a malformed one still says the client chose to hide the name.
    pub ech: Option<EchKind>,
}

/// Which extension hid the hello's real server name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EchKind {
    /// encrypted_client_hello (0xfe0d): the whole inner ClientHello is encrypted.
    Ech,
    /// encrypted_server_name (0xffce): the ESNI drafts, only the name encrypted.
    Esni,
}

impl EchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EchKind::Ech => "ech",
            EchKind::Esni => "esni",
        }
    }
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
    // A first record too short for the handshake header: the message goes on in the next.
    let body_len = hs.u24().ok_or(TlsError::Fragmented)?;
    let Some(body) = hs.take(body_len) else {
        // The record is complete but the message is longer: it continues in the next record.
        return Err(if body_len > len { TlsError::Fragmented } else { TlsError::Malformed });
    };
    parse_body(body).ok_or(TlsError::Malformed)
}

/// Parses a whole ClientHello handshake message (type, 24-bit length, body), as joined from
/// its records by [`HelloJoiner`].
pub fn client_hello_message(msg: &[u8]) -> Result<ClientHello<'_>, TlsError> {
    let mut hs = Reader::new(msg);
    if hs.u8() != Some(HANDSHAKE_CLIENT_HELLO) {
        return Err(TlsError::NotTls);
    }
    let body_len = hs.u24().ok_or(TlsError::Incomplete)?;
    let body = hs.take(body_len).ok_or(TlsError::Incomplete)?;
    parse_body(body).ok_or(TlsError::Malformed)
}

/// What [`HelloJoiner::push`] has made of the bytes so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Joined {
    /// The message is not whole yet.
    More,
    /// The ClientHello message is whole: read it with [`HelloJoiner::hello`].
    Whole,
    /// Not a ClientHello in handshake records (another record type before it was whole, a bad
    /// record header, an empty record).
    NotTls,
    /// The message claims more than [`MAX_HELLO_MESSAGE`] bytes.
    Overlong,
}

/// Joins a ClientHello fragmented over TLS records, streaming: record headers are read as they
/// go by (even a byte at a time) and only the handshake bytes are kept, up to the message's
/// stated length (at most [`MAX_HELLO_MESSAGE`]). Linear in the bytes pushed; the caller hands
/// it the client's in-order stream from its first byte (TCP segments, out of order or not, are
/// put in order by the flow's reassembler).
#[derive(Clone, Debug, Default)]
pub struct HelloJoiner {
    header: [u8; RECORD_HEADER],
    header_len: usize,
    /// Payload bytes left in the current record.
    left: usize,
    msg: Vec<u8>,
    /// Records read so far.
    pub records: u32,
    /// Bytes of the last push not read, once the message is whole: what the client sent after
    /// its hello.
    pub unread: usize,
}

impl HelloJoiner {
    pub fn new() -> HelloJoiner {
        HelloJoiner::default()
    }

    /// The message's stated length (type and length included), once its first four bytes are in.
    fn wanted(&self) -> Option<usize> {
        match self.msg.get(..4) {
            Some(&[_, a, b, c]) => {
                Some(4 + ((usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c)))
            }
            _ => None,
        }
    }

    /// Reads more of the client's stream.
    pub fn push(&mut self, mut data: &[u8]) -> Joined {
        loop {
            if self.msg.first().is_some_and(|&t| t != HANDSHAKE_CLIENT_HELLO) {
                return Joined::NotTls;
            }
            if let Some(w) = self.wanted() {
                if w > MAX_HELLO_MESSAGE {
                    return Joined::Overlong;
                }
                if self.msg.len() >= w {
                    self.unread = data.len();
                    return Joined::Whole;
                }
            }
            if data.is_empty() {
                return Joined::More;
            }
            if self.left == 0 {
                // A record header, perhaps over several pushes.
                let take = (RECORD_HEADER - self.header_len).min(data.len());
                let (h, rest) = data.split_at(take);
                if let Some(dst) = self.header.get_mut(self.header_len..self.header_len + take) {
                    dst.copy_from_slice(h);
                }
                self.header_len += take;
                data = rest;
                if self.header_len < RECORD_HEADER {
                    continue;
                }
                self.header_len = 0;
                let [kind, major, minor, hi, lo] = self.header;
                let len = (usize::from(hi) << 8) | usize::from(lo);
                if kind != CONTENT_HANDSHAKE || major != 3 || minor > 4 || len == 0 || len > (1 << 14) + 2048
                {
                    return Joined::NotTls;
                }
                self.records = self.records.saturating_add(1);
                self.left = len;
                continue;
            }
            // Record payload: keep what the message still needs (its header first).
            let need = self.wanted().map_or(4, |w| w).saturating_sub(self.msg.len()).max(1);
            let take = self.left.min(data.len()).min(need);
            let (p, rest) = data.split_at(take);
            self.msg.extend_from_slice(p);
            self.left -= take;
            data = rest;
        }
    }

    /// Bytes of the current record still to come after the whole message (another handshake
    /// message in the same record, which a reader of the record framing must skip).
    pub fn record_left(&self) -> usize {
        self.left
    }

    /// The joined ClientHello, once [`HelloJoiner::push`] said [`Joined::Whole`].
    pub fn hello(&self) -> Result<ClientHello<'_>, TlsError> {
        let w = self.wanted().ok_or(TlsError::Incomplete)?;
        client_hello_message(self.msg.get(..w).ok_or(TlsError::Incomplete)?)
    }

    /// Bytes held.
    pub fn capacity(&self) -> usize {
        self.msg.capacity()
    }
}

fn parse_body(body: &[u8]) -> Option<ClientHello<'_>> {
    let mut r = Reader::new(body);
    let version = r.u16()?;
    r.take(32)?; // random
    r.vec8()?; // session id
    let ciphers = r.vec16()?;
    r.vec8()?; // compression methods
    let mut hello = ClientHello { sni: None, alpn: None, version, ciphers, extensions: &[], ech: None };
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
            EXT_ECH => hello.ech = Some(EchKind::Ech),
            EXT_ESNI if hello.ech.is_none() => hello.ech = Some(EchKind::Esni),
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

    /// An outer ECH extension (RFC 9849 `ECHClientHello`, type outer): HPKE suite
    /// (HKDF-SHA256, AES-128-GCM), config id, a 32-byte `enc` and a payload of `n` bytes.
    fn ech(n: usize) -> (u16, Vec<u8>) {
        let mut d = vec![0, 0x00, 0x01, 0x00, 0x01, 0x2a, 0, 32];
        d.extend_from_slice(&[0x11; 32]);
        d.extend_from_slice(&(n as u16).to_be_bytes());
        d.resize(d.len() + n, 0x5a);
        (0xfe0d, d)
    }

    #[test]
    fn tells_an_encrypted_client_hello_by_its_extension() {
        // ECH with the public name as outer SNI, as Cloudflare's clients send it.
        let rec = hello(&[sni("cloudflare-ech.com"), ech(200), alpn(&["h2", "http/1.1"])]);
        let h = client_hello(&rec).unwrap();
        assert_eq!(h.ech, Some(EchKind::Ech));
        assert_eq!(h.sni, Some("cloudflare-ech.com"));
        assert!(h.offers_only_http());
        // Before the SNI, and with a body that is no ECHClientHello at all: its presence counts.
        let h2 = hello(&[(0xfe0d, vec![9]), sni("a.example")]);
        assert_eq!(client_hello(&h2).unwrap().ech, Some(EchKind::Ech));
        assert_eq!(client_hello(&h2).unwrap().sni, Some("a.example"));
        // The ESNI drafts' extension, which replaced the SNI.
        let rec = hello(&[(0xffce, vec![0x13, 0x01, 0, 0x1d, 0, 4, 1, 2, 3, 4])]);
        let h = client_hello(&rec).unwrap();
        assert_eq!((h.ech, h.sni), (Some(EchKind::Esni), None));
        // Both: ECH is what the hello says last of all (it replaced ESNI).
        let rec = hello(&[(0xffce, vec![]), ech(8)]);
        assert_eq!(client_hello(&rec).unwrap().ech, Some(EchKind::Ech));
        // Neither; nor the numbers next to them.
        let rec = hello(&[sni("pool.supportxmr.com"), (0xfe0c, vec![]), (0xffcf, vec![])]);
        assert_eq!(client_hello(&rec).unwrap().ech, None);
        assert_eq!(client_hello(&hello(&[])).unwrap().ech, None);
    }

    #[test]
    fn a_cut_ech_extension_is_malformed_or_incomplete_never_a_panic() {
        let rec = hello(&[sni("cloudflare-ech.com"), ech(200)]);
        let n = rec.len();
        // The extension's length field claims more than the block holds.
        let mut bad = rec.clone();
        let at = n - ech(200).1.len() - 2;
        assert_eq!(&bad[at - 2..at], &[0xfe, 0x0d]);
        bad[at] = 0xff;
        assert_eq!(client_hello(&bad), Err(TlsError::Malformed));
        // Every prefix of the record: more bytes are needed.
        for k in 0..n {
            assert_eq!(client_hello(&rec[..k]), Err(TlsError::Incomplete), "prefix {k}");
        }
        // The hello message cut in the middle of the extension, with its lengths made to fit
        // the cut: the extensions block ends inside the extension.
        let mut msg = rec[5..n - 100].to_vec();
        let body = msg.len() - 4;
        msg[1..4].copy_from_slice(&(body as u32).to_be_bytes()[1..]);
        assert_eq!(client_hello_message(&msg), Err(TlsError::Malformed));
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

    /// `rec`'s handshake message re-cut into records of `n` payload bytes.
    fn split_records(rec: &[u8], n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for part in rec[5..].chunks(n) {
            out.extend_from_slice(&[0x16, 0x03, 0x01]);
            out.extend_from_slice(&(part.len() as u16).to_be_bytes());
            out.extend_from_slice(part);
        }
        out
    }

    #[test]
    fn joins_a_hello_split_over_records_pushed_in_any_cut() {
        let rec = hello(&[sni("pool.supportxmr.com"), alpn(&["stratum"])]);
        for n in [1, 2, 7, 64] {
            let stream = split_records(&rec, n);
            assert_eq!(client_hello(&stream), Err(TlsError::Fragmented), "records of {n}");
            for push in [1, 3, 100, stream.len()] {
                let mut j = HelloJoiner::new();
                let mut verdicts = stream.chunks(push).map(|c| j.push(c)).collect::<Vec<_>>();
                assert_eq!(verdicts.pop(), Some(Joined::Whole), "records of {n}, pushes of {push}");
                assert!(verdicts.iter().all(|v| *v == Joined::More));
                assert_eq!(j.hello().unwrap().sni, Some("pool.supportxmr.com"));
                assert_eq!(j.records as usize, (rec.len() - 5).div_ceil(n));
                // Only the message is kept, not the record headers.
                assert_eq!(j.msg.len(), rec.len() - 5);
            }
        }
        // The same hello in one record joins too (a record cut across segments).
        let mut j = HelloJoiner::new();
        assert_eq!(j.push(&rec[..9]), Joined::More);
        assert_eq!(j.push(&rec[9..]), Joined::Whole);
        assert_eq!(j.hello().unwrap().sni, Some("pool.supportxmr.com"));
    }

    #[test]
    fn the_joiner_refuses_other_records_and_overlong_hellos() {
        let rec = hello(&[sni("a.example")]);
        let mut stream = split_records(&rec, 10);
        // An application-data record before the hello is whole.
        stream[15] = 0x17;
        assert_eq!(HelloJoiner::new().push(&stream), Joined::NotTls);
        // An empty record.
        assert_eq!(HelloJoiner::new().push(&[0x16, 3, 1, 0, 0, 1]), Joined::NotTls);
        // Not a ClientHello.
        assert_eq!(HelloJoiner::new().push(&[0x16, 3, 1, 0, 1, 2]), Joined::NotTls);
        // A message claiming 16 MiB: refused on its header, nothing more kept.
        let mut j = HelloJoiner::new();
        assert_eq!(j.push(&[0x16, 3, 1, 0, 2, 1, 0xff]), Joined::More);
        assert_eq!(j.push(&[0x16, 3, 1, 0, 2, 0xff, 0xff]), Joined::Overlong);
        assert!(j.capacity() <= 64);
        // Just within the bound: 16 KiB of message in 1-byte records, kept as 16 KiB.
        let body_len = MAX_HELLO_MESSAGE - 4;
        let mut msg = vec![1, (body_len >> 16) as u8, (body_len >> 8) as u8, body_len as u8];
        msg.resize(MAX_HELLO_MESSAGE, 0);
        let mut rec = vec![0x16, 3, 1, 0, 0];
        rec.extend_from_slice(&msg);
        let mut j = HelloJoiner::new();
        assert_eq!(j.push(&split_records(&rec, 1)), Joined::Whole);
        assert_eq!(j.msg.len(), MAX_HELLO_MESSAGE);
        // Zeros read as a hello of empty lists, naming no server.
        assert_eq!(j.hello().map(|h| h.sni), Ok(None));
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
            let mut rec = hello(&[sni("pool.supportxmr.com"), alpn(&["h2"]), ech(16)]);
            if let Some(b) = rec.get_mut(pos) {
                *b = val;
            }
            let _ = client_hello(&rec);
            let mut j = HelloJoiner::new();
            if j.push(&split_records(&rec, 3)) == Joined::Whole {
                let _ = j.hello();
            }
        }

        #[test]
        fn the_joiner_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600), cut in 1usize..50) {
            let mut j = HelloJoiner::new();
            for c in data.chunks(cut) {
                if j.push(c) != Joined::More {
                    break;
                }
            }
            let _ = j.hello();
            prop_assert!(j.msg.len() <= MAX_HELLO_MESSAGE);
        }
    }
}
