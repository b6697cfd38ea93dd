//! The handshakes of the tunnels, as zero-copy reads over the bytes of one side gathered so far:
//! each says whether they are whole (and how many bytes they took), need more, or are not the
//! handshake at all. Pure functions of their input, no allocation but the target string.
//!
//! SOCKS4/4a (the de facto specification, "SOCKS: A protocol for TCP proxy across firewalls",
//! and its 4A extension), SOCKS5 (RFC 1928, with the username/password sub-negotiation of
//! RFC 1929), HTTP `CONNECT` (RFC 9110 §9.3.6) and the WebSocket upgrade (RFC 6455 §4) through
//! `httparse`, and the PROXY protocol v1/v2 header (HAProxy's specification, proxy-protocol.txt).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use crate::stratum::TunnelKind;

/// What a handshake reader made of one side's bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Hs<T> {
    /// A prefix of the handshake: more bytes are needed.
    More,
    /// The handshake is whole: it took the first `.0` bytes.
    Done(usize, T),
    /// Not this handshake, or one that refused the tunnel.
    No,
}

/// What the client's handshake states.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub kind: TunnelKind,
    /// `host:port` (`[v6]:port`), as stated.
    pub target: Option<String>,
    /// The name in the target, when it is a name rather than an address (looked up in the
    /// pool list).
    pub name: Option<String>,
}

/// The longest host name kept from a handshake (DNS's limit; SOCKS allows 255).
const MAX_NAME: usize = 253;

/// A cursor whose every read is checked: `None` means "need more bytes".
struct Cur<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cur<'a> {
    fn new(buf: &'a [u8]) -> Cur<'a> {
        Cur { buf, pos: 0 }
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).and_then(|b| b.first().copied())
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| b.iter().fold(0u16, |a, &x| (a << 8) | u16::from(x)))
    }
    /// Bytes up to a NUL (not included; the NUL is consumed); `None` until the NUL is there.
    fn cstr(&mut self, max: usize) -> Option<Result<&'a [u8], ()>> {
        let rest = self.buf.get(self.pos..)?;
        match rest.iter().position(|&b| b == 0) {
            Some(n) if n <= max => {
                self.pos += n + 1;
                Some(Ok(rest.get(..n).unwrap_or_default()))
            }
            Some(_) => Some(Err(())),
            None if rest.len() > max => Some(Err(())),
            None => None,
        }
    }
}

/// A host name as a handshake gave it: printable, DNS-like, at most [`MAX_NAME`] bytes.
fn host_name(b: &[u8]) -> Option<String> {
    let ok = !b.is_empty()
        && b.len() <= MAX_NAME
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'));
    ok.then(|| String::from_utf8_lossy(b).to_ascii_lowercase())
}

/// `Some(x)` → `Hs::Done`-able value; `None` (short) → `Hs::More`.
macro_rules! need {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => return Hs::More,
        }
    };
}

/// The client's side of a SOCKS4, SOCKS4a or SOCKS5 tunnel (for SOCKS5: the greeting, the
/// username/password sub-negotiation if the client sends one, then the request). Only CONNECT
/// opens a stream to inspect.
pub fn socks_request(buf: &[u8]) -> Hs<Request> {
    let mut c = Cur::new(buf);
    match need!(c.u8()) {
        4 => {
            if need!(c.u8()) != 1 {
                return Hs::No;
            }
            let port = need!(c.u16());
            let ip = need!(c.take(4));
            let ip = Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]);
            if need!(c.cstr(255)).is_err() {
                return Hs::No; // user id
            }
            let o = ip.octets();
            if o[0] == 0 && o[1] == 0 && o[2] == 0 && o[3] != 0 {
                // 4a: the name follows the user id.
                let Ok(name) = need!(c.cstr(255)) else { return Hs::No };
                let Some(name) = host_name(name) else { return Hs::No };
                let target = Some(format!("{name}:{port}"));
                return Hs::Done(c.pos, Request { kind: TunnelKind::Socks4a, target, name: Some(name) });
            }
            Hs::Done(
                c.pos,
                Request { kind: TunnelKind::Socks4, target: Some(format!("{ip}:{port}")), name: None },
            )
        }
        5 => {
            let n = need!(c.u8());
            if n == 0 {
                return Hs::No;
            }
            let methods = need!(c.take(usize::from(n)));
            // Assigned methods and the private range; never "no acceptable method".
            if !methods.iter().all(|&m| m <= 0x09 || (0x80..=0xfe).contains(&m)) {
                return Hs::No;
            }
            if need!(c.buf.get(c.pos).copied()) == 1 {
                // RFC 1929: 01 ulen user plen pass.
                c.u8();
                let ulen = need!(c.u8());
                need!(c.take(usize::from(ulen)));
                let plen = need!(c.u8());
                need!(c.take(usize::from(plen)));
            }
            if need!(c.u8()) != 5 || need!(c.u8()) != 1 || need!(c.u8()) != 0 {
                return Hs::No; // not a CONNECT request
            }
            let (target, name) = match need!(c.u8()) {
                1 => {
                    let ip = need!(c.take(4));
                    let port = need!(c.u16());
                    (format!("{}:{port}", Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3])), None)
                }
                3 => {
                    let len = need!(c.u8());
                    let name = need!(c.take(usize::from(len)));
                    let port = need!(c.u16());
                    let Some(name) = host_name(name) else { return Hs::No };
                    (format!("{name}:{port}"), Some(name))
                }
                4 => {
                    let ip = need!(c.take(16));
                    let port = need!(c.u16());
                    let mut o = [0u8; 16];
                    o.copy_from_slice(ip);
                    (format!("[{}]:{port}", Ipv6Addr::from(o)), None)
                }
                _ => return Hs::No,
            };
            Hs::Done(c.pos, Request { kind: TunnelKind::Socks5, target: Some(target), name })
        }
        _ => Hs::No,
    }
}

/// The server's side of a SOCKS tunnel: SOCKS4's 8-byte reply (granted), or SOCKS5's method
/// choice, the sub-negotiation's status if it chose username/password, and the reply
/// (succeeded).
pub fn socks_reply(buf: &[u8], v5: bool) -> Hs<()> {
    let mut c = Cur::new(buf);
    if !v5 {
        let head = need!(c.take(8));
        return if head[0] == 0 && head[1] == 0x5a { Hs::Done(8, ()) } else { Hs::No };
    }
    if need!(c.u8()) != 5 {
        return Hs::No;
    }
    match need!(c.u8()) {
        0 => {}
        2 => {
            if need!(c.u8()) != 1 || need!(c.u8()) != 0 {
                return Hs::No;
            }
        }
        _ => return Hs::No, // none acceptable, or a method whose sub-negotiation we do not read
    }
    if need!(c.u8()) != 5 || need!(c.u8()) != 0 || need!(c.u8()) != 0 {
        return Hs::No;
    }
    let addr = match need!(c.u8()) {
        1 => 4,
        4 => 16,
        3 => usize::from(need!(c.u8())),
        _ => return Hs::No,
    };
    need!(c.take(addr + 2));
    Hs::Done(c.pos, ())
}

/// The end of an HTTP head (`\r\n\r\n`): `Ok(len)`, `Err(true)` when `buf` is longer than `max`
/// without one, `Err(false)` to wait.
fn head_len(buf: &[u8], max: usize) -> Result<usize, bool> {
    // Built once: `memmem::find` builds its searcher at every call, which cost more than the
    // search in a short head.
    static END: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(b"\r\n\r\n"));
    match END.find(buf) {
        Some(n) if n + 4 <= max => Ok(n + 4),
        Some(_) => Err(true),
        None => Err(buf.len() > max),
    }
}

/// The client's `CONNECT host:port` request head (`max`: the longest head read).
pub fn http_connect(buf: &[u8], max: usize) -> Hs<Request> {
    let len = match head_len(buf, max) {
        Ok(n) => n,
        Err(true) => return Hs::No,
        Err(false) => return Hs::More,
    };
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf.get(..len).unwrap_or_default()) {
        Ok(httparse::Status::Complete(_)) if req.method == Some("CONNECT") => {}
        _ => return Hs::No,
    }
    let Some(authority) = req.path.filter(|p| !p.is_empty() && p.len() <= MAX_NAME + 8) else {
        return Hs::No;
    };
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    let name = (!host.starts_with('[') && host.parse::<Ipv4Addr>().is_err())
        .then(|| host_name(host.as_bytes()))
        .flatten();
    Hs::Done(len, Request { kind: TunnelKind::HttpConnect, target: Some(authority.to_string()), name })
}

/// The client's WebSocket opening handshake: a `GET` with `Upgrade: websocket`. Any other
/// request is [`Hs::No`].
pub fn websocket_upgrade(buf: &[u8], max: usize) -> Hs<Request> {
    let len = match head_len(buf, max) {
        Ok(n) => n,
        Err(true) => return Hs::No,
        Err(false) => return Hs::More,
    };
    // Nearly every `GET` is a plain web request: a head with no header line that begins with
    // `upgrade` (in any case) has no `Upgrade: websocket`, and is told apart here without
    // httparse, whose parse of a whole head was most of what a one-request HTTP flow cost.
    if !has_upgrade_line(buf.get(..len).unwrap_or_default()) {
        return Hs::No;
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf.get(..len).unwrap_or_default()) {
        Ok(httparse::Status::Complete(_)) if req.method == Some("GET") => {}
        _ => return Hs::No,
    }
    let header = |name: &str| req.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value);
    if !header("upgrade").is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"websocket")) {
        return Hs::No;
    }
    let target = header("host")
        .map(|h| String::from_utf8_lossy(h.trim_ascii()).into_owned())
        .filter(|h| !h.is_empty() && h.len() <= MAX_NAME + 8 && h.bytes().all(|b| b.is_ascii_graphic()));
    Hs::Done(len, Request { kind: TunnelKind::WebSocket, target, name: None })
}

/// Whether a line of `head` after its first begins with `upgrade` in any mix of upper and lower
/// case: httparse reads a header's name from the line's first byte to the colon, so a head
/// without such a line has no `Upgrade` header.
fn has_upgrade_line(head: &[u8]) -> bool {
    const NAME: &[u8] = b"upgrade";
    memchr::memchr_iter(b'\n', head)
        .any(|i| head.get(i + 1..i + 1 + NAME.len()).is_some_and(|w| w.eq_ignore_ascii_case(NAME)))
}

/// The server's reply head: `101` for a WebSocket upgrade, any `2xx` for `CONNECT`.
pub fn http_reply(buf: &[u8], max: usize, websocket: bool) -> Hs<()> {
    let len = match head_len(buf, max) {
        Ok(n) => n,
        Err(true) => return Hs::No,
        Err(false) => return Hs::More,
    };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let code = match resp.parse(buf.get(..len).unwrap_or_default()) {
        Ok(httparse::Status::Complete(_)) => resp.code.unwrap_or(0),
        _ => return Hs::No,
    };
    let ok = if websocket { code == 101 } else { (200..300).contains(&code) };
    if ok {
        Hs::Done(len, ())
    } else {
        Hs::No
    }
}

/// The PROXY protocol v2 signature.
const PROXY_V2_SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// The longest PROXY header read: v1's line is at most 107 bytes; v2's addresses and TLVs are
/// read up to this much (HAProxy's own TLVs, an SSL summary and a unique id, fit well within).
pub const MAX_PROXY_HEADER: usize = 1024;

/// The PROXY protocol header (v1 text line or v2 binary), whose destination is the target.
pub fn proxy_header(buf: &[u8]) -> Hs<Request> {
    let req = |target| Request { kind: TunnelKind::ProxyProtocol, target, name: None };
    if buf.len() < 6 && b"PROXY ".starts_with(buf) && !buf.is_empty() {
        return Hs::More;
    }
    if buf.starts_with(b"PROXY ") {
        let Some(end) = buf.iter().take(107).position(|&b| b == b'\n') else {
            return if buf.len() >= 107 { Hs::No } else { Hs::More };
        };
        let line = buf.get(..end).unwrap_or_default().strip_suffix(b"\r").unwrap_or_default();
        let Ok(line) = std::str::from_utf8(line) else { return Hs::No };
        let f: Vec<&str> = line.split(' ').collect();
        return match f.as_slice() {
            ["PROXY", "UNKNOWN", ..] => Hs::Done(end + 1, req(None)),
            ["PROXY", fam @ ("TCP4" | "TCP6"), src, dst, sport, dport] => {
                let ok = if *fam == "TCP4" {
                    src.parse::<Ipv4Addr>().is_ok() && dst.parse::<Ipv4Addr>().is_ok()
                } else {
                    src.parse::<Ipv6Addr>().is_ok() && dst.parse::<Ipv6Addr>().is_ok()
                };
                if !ok || sport.parse::<u16>().is_err() || dport.parse::<u16>().is_err() {
                    return Hs::No;
                }
                let target =
                    if *fam == "TCP4" { format!("{dst}:{dport}") } else { format!("[{dst}]:{dport}") };
                Hs::Done(end + 1, req(Some(target)))
            }
            _ => Hs::No,
        };
    }
    let n = buf.len().min(PROXY_V2_SIG.len());
    if buf.get(..n) != PROXY_V2_SIG.get(..n) {
        return Hs::No;
    }
    let mut c = Cur::new(buf);
    need!(c.take(PROXY_V2_SIG.len()));
    let ver_cmd = need!(c.u8());
    let fam = need!(c.u8());
    let len = usize::from(need!(c.u16()));
    if ver_cmd >> 4 != 2 || ver_cmd & 0x0f > 1 || 16 + len > MAX_PROXY_HEADER {
        return Hs::No;
    }
    let body = need!(c.take(len));
    let mut b = Cur::new(body);
    let target = match (ver_cmd & 0x0f, fam) {
        // LOCAL (a health check of the proxy's own), or an address family we do not name.
        (0, _) => None,
        (_, 0x11) => b
            .take(8)
            .zip(b.take(2).and(b.u16()))
            .map(|(a, dport)| format!("{}:{dport}", Ipv4Addr::new(a[4], a[5], a[6], a[7]))),
        (_, 0x21) => b.take(32).zip(b.take(2).and(b.u16())).map(|(a, dport)| {
            let mut o = [0u8; 16];
            o.copy_from_slice(a.get(16..32).unwrap_or(&[0; 16]));
            format!("[{}]:{dport}", Ipv6Addr::from(o))
        }),
        _ => None,
    };
    Hs::Done(c.pos, req(target))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics_and_never_takes_more_than_it_was_given(data in proptest::collection::vec(any::<u8>(), 0..700)) {
            for h in [socks_request(&data), http_connect(&data, 512), websocket_upgrade(&data, 512), proxy_header(&data)] {
                if let Hs::Done(n, _) = h {
                    prop_assert!(n <= data.len());
                }
            }
            for h in [socks_reply(&data, true), socks_reply(&data, false), http_reply(&data, 512, true), http_reply(&data, 512, false)] {
                if let Hs::Done(n, ()) = h {
                    prop_assert!(n <= data.len());
                }
            }
        }
    }

    fn done<T>(h: Hs<T>) -> (usize, T) {
        match h {
            Hs::Done(n, t) => (n, t),
            _ => panic!("not done"),
        }
    }

    /// Every proper prefix of a whole handshake asks for more.
    fn prefixes_need_more<T: std::fmt::Debug + PartialEq>(f: impl Fn(&[u8]) -> Hs<T>, whole: &[u8]) {
        for n in 0..whole.len() {
            assert_eq!(f(&whole[..n]), Hs::More, "prefix {n} of {whole:?}");
        }
    }

    #[test]
    fn socks5_greeting_auth_and_connect_to_each_address_kind() {
        // XMRig through microsocks: 05 01 00, then CONNECT 127.0.0.2:3333.
        let mut s = vec![5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 2, 0x0d, 0x05];
        s.extend_from_slice(b"{\"id\":1}\n");
        let (n, r) = done(socks_request(&s));
        assert_eq!(
            (n, r.kind, r.target.as_deref(), r.name),
            (13, TunnelKind::Socks5, Some("127.0.0.2:3333"), None)
        );
        prefixes_need_more(socks_request, &s[..13]);
        // Username/password, then a name.
        let mut s = vec![5, 2, 0, 2, 1, 4];
        s.extend_from_slice(b"user");
        s.extend_from_slice(&[4]);
        s.extend_from_slice(b"pass");
        s.extend_from_slice(&[5, 1, 0, 3, 16]);
        s.extend_from_slice(b"Pool.Example.COM");
        s.extend_from_slice(&[0x0d, 0x05]);
        let (n, r) = done(socks_request(&s));
        assert_eq!(n, s.len());
        assert_eq!(r.target.as_deref(), Some("pool.example.com:3333"));
        assert_eq!(r.name.as_deref(), Some("pool.example.com"));
        prefixes_need_more(socks_request, &s);
        // IPv6.
        let mut s = vec![5, 1, 0, 5, 1, 0, 4];
        s.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        s.extend_from_slice(&[0x0d, 0x05]);
        assert_eq!(done(socks_request(&s)).1.target.as_deref(), Some("[::1]:3333"));
        // BIND, UDP ASSOCIATE, a bad address type, "no acceptable method" offered, no methods.
        assert_eq!(socks_request(&[5, 1, 0, 5, 2, 0, 1, 1, 2, 3, 4, 0, 80]), Hs::No);
        assert_eq!(socks_request(&[5, 1, 0, 5, 3, 0, 1, 1, 2, 3, 4, 0, 80]), Hs::No);
        assert_eq!(socks_request(&[5, 1, 0, 5, 1, 0, 9, 1, 2, 3, 4, 0, 80]), Hs::No);
        assert_eq!(socks_request(&[5, 1, 0xff]), Hs::No);
        assert_eq!(socks_request(&[5, 0]), Hs::No);
        // A name that is no host name.
        assert_eq!(socks_request(&[5, 1, 0, 5, 1, 0, 3, 2, b'a', b' ', 0, 80]), Hs::No);
    }

    #[test]
    fn socks5_replies() {
        let ok = [5, 0, 5, 0, 0, 1, 127, 0, 0, 1, 0x04, 0x38, b'{'];
        assert_eq!(socks_reply(&ok, true), Hs::Done(12, ()));
        prefixes_need_more(|b| socks_reply(b, true), &ok[..12]);
        let auth = [5, 2, 1, 0, 5, 0, 0, 3, 1, b'x', 0, 80];
        assert_eq!(socks_reply(&auth, true), Hs::Done(12, ()));
        // Refused: no method, failed auth, connection refused.
        assert_eq!(socks_reply(&[5, 0xff], true), Hs::No);
        assert_eq!(socks_reply(&[5, 2, 1, 1], true), Hs::No);
        assert_eq!(socks_reply(&[5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0], true), Hs::No);
    }

    #[test]
    fn socks4_and_4a() {
        let s = [4, 1, 0x0d, 0x05, 10, 0, 0, 7, b'm', b'e', 0];
        let (n, r) = done(socks_request(&s));
        assert_eq!((n, r.kind, r.target.as_deref()), (11, TunnelKind::Socks4, Some("10.0.0.7:3333")));
        prefixes_need_more(socks_request, &s);
        let mut s = vec![4, 1, 0x0d, 0x05, 0, 0, 0, 1, 0];
        s.extend_from_slice(b"xmr.pool.example\0");
        let (n, r) = done(socks_request(&s));
        assert_eq!(
            (n, r.kind, r.target.as_deref()),
            (s.len(), TunnelKind::Socks4a, Some("xmr.pool.example:3333"))
        );
        assert_eq!(r.name.as_deref(), Some("xmr.pool.example"));
        prefixes_need_more(socks_request, &s);
        // A user id with no end within 255 bytes; BIND.
        let mut long = vec![4, 1, 0, 80, 1, 2, 3, 4];
        long.resize(300, b'a');
        assert_eq!(socks_request(&long), Hs::No);
        assert_eq!(socks_request(&[4, 2, 0, 80, 1, 2, 3, 4, 0]), Hs::No);
        assert_eq!(socks_reply(&[0, 0x5a, 0, 0, 0, 0, 0, 0], false), Hs::Done(8, ()));
        assert_eq!(socks_reply(&[0, 0x5b, 0, 0, 0, 0, 0, 0], false), Hs::No);
        assert_eq!(socks_reply(&[0, 0x5a, 0], false), Hs::More);
    }

    #[test]
    fn http_connect_and_its_reply() {
        let req =
            b"CONNECT gulf.moneroocean.stream:10128 HTTP/1.1\r\nHost: gulf.moneroocean.stream:10128\r\n\r\n{";
        let (n, r) = done(http_connect(req, 8192));
        assert_eq!(n, req.len() - 1);
        assert_eq!(r.target.as_deref(), Some("gulf.moneroocean.stream:10128"));
        assert_eq!(r.name.as_deref(), Some("gulf.moneroocean.stream"));
        prefixes_need_more(|b| http_connect(b, 8192), &req[..n]);
        let (_, r) = done(http_connect(b"CONNECT 192.0.2.1:3333 HTTP/1.0\r\n\r\n", 8192));
        assert_eq!((r.target.as_deref(), r.name), (Some("192.0.2.1:3333"), None));
        assert_eq!(http_connect(b"GET / HTTP/1.1\r\n\r\n", 8192), Hs::No);
        // Over the head bound.
        assert_eq!(http_connect(req, 20), Hs::No);
        let ok = b"HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n";
        assert_eq!(http_reply(ok, 8192, false), Hs::Done(ok.len(), ()));
        assert_eq!(http_reply(b"HTTP/1.1 403 Forbidden\r\n\r\n", 8192, false), Hs::No);
        assert_eq!(http_reply(ok, 8192, true), Hs::No);
    }

    #[test]
    fn websocket_upgrade_or_not() {
        let req = b"GET /ws HTTP/1.1\r\nHost: ws.miner.example:8080\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        let (n, r) = done(websocket_upgrade(req, 8192));
        assert_eq!(
            (n, r.kind, r.target.as_deref()),
            (req.len(), TunnelKind::WebSocket, Some("ws.miner.example:8080"))
        );
        prefixes_need_more(|b| websocket_upgrade(b, 8192), req);
        assert_eq!(websocket_upgrade(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 8192), Hs::No);
        // The header's name and value in any case; the word elsewhere in the head is not enough.
        let shouty = b"GET / HTTP/1.1\r\nHost: a\r\nUPGRADE: WEBSOCKET\r\n\r\n";
        assert_eq!(done(websocket_upgrade(shouty, 8192)).0, shouty.len());
        let mixed = b"GET / HTTP/1.1\r\nHost: a\r\nupgrade:  wEbSoCkEt \r\n\r\n";
        assert_eq!(done(websocket_upgrade(mixed, 8192)).0, mixed.len());
        let elsewhere = b"GET /websocket HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n";
        assert_eq!(websocket_upgrade(elsewhere, 8192), Hs::No);
        let no_upgrade = b"GET /ws HTTP/1.1\r\nHost: a\r\nX-Upgrade: websocket\r\n\r\n";
        assert_eq!(websocket_upgrade(no_upgrade, 8192), Hs::No);
        assert!(has_upgrade_line(b"GET /\r\nUpGrAdE: x") && !has_upgrade_line(b"Upgrade: x\r\n"));
        assert!(!has_upgrade_line(b"GET /\r\nupgrad") && !has_upgrade_line(b"GET /\r\n x-upgrade: y"));
        let ok = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
        assert_eq!(http_reply(ok, 8192, true), Hs::Done(ok.len(), ()));
        assert_eq!(http_reply(b"HTTP/1.1 200 OK\r\n\r\n", 8192, true), Hs::No);
    }

    #[test]
    fn proxy_protocol_v1_and_v2() {
        let v1 = b"PROXY TCP4 192.0.2.10 127.0.0.1 51000 3333\r\n{\"id\":1}";
        let (n, r) = done(proxy_header(v1));
        assert_eq!((n, r.kind, r.target.as_deref()), (44, TunnelKind::ProxyProtocol, Some("127.0.0.1:3333")));
        prefixes_need_more(proxy_header, &v1[..44]);
        let (_, r) = done(proxy_header(b"PROXY TCP6 2001:db8::1 ::1 51000 3333\r\n"));
        assert_eq!(r.target.as_deref(), Some("[::1]:3333"));
        assert_eq!(done(proxy_header(b"PROXY UNKNOWN\r\n")).1.target, None);
        assert_eq!(proxy_header(b"PROXY TCP4 a b c d\r\n"), Hs::No);
        let mut v2 = PROXY_V2_SIG.to_vec();
        v2.extend_from_slice(&[0x21, 0x11, 0, 15, 192, 0, 2, 10, 127, 0, 0, 1, 0xc7, 0x38, 0x0d, 0x05]);
        v2.extend_from_slice(&[0x04, 0, 0]); // an empty NOOP TLV
        let whole = v2.len();
        v2.extend_from_slice(b"{\"id\":1}");
        let (n, r) = done(proxy_header(&v2));
        assert_eq!((n, r.target.as_deref()), (whole, Some("127.0.0.1:3333")));
        prefixes_need_more(proxy_header, &v2[..whole]);
        // Version 1 in the binary header; a header longer than the bound.
        let mut bad = PROXY_V2_SIG.to_vec();
        bad.extend_from_slice(&[0x11, 0x11, 0, 12]);
        assert_eq!(proxy_header(&bad), Hs::No);
        let mut long = PROXY_V2_SIG.to_vec();
        long.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        assert_eq!(proxy_header(&long), Hs::No);
    }
}
