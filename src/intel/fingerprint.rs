//! JA3 and JA4 fingerprints of a TLS ClientHello, from the view [`super::tls`] already reads.
//!
//! Why: a TLS session with no name (no SNI, no DNS answer) is judged by its behaviour alone
//! ([`crate::inspect`]'s behaviour watch); the client's fingerprint tells an analyst which TLS
//! library (so which program) opened it, and lets the alert of any TLS flow be pivoted on in
//! other tools (Zeek, Suricata and Arkime print both). A fingerprint known to be a miner's
//! ([`known_miner`]) is stated in the evidence; it never raises an alert alone, because a
//! fingerprint names a TLS library build, which miners share with ordinary programs.
//!
//! JA3 (Salesforce): `version,ciphers,extensions,groups,point_formats`, decimal, dash-joined,
//! GREASE values left out, hashed with MD5 (by its definition). JA4 (FoxIO,
//! `technical_details/JA4.md`): `t` + version + `d`/`i` + cipher and extension counts + the
//! first ALPN's first and last characters, `_`, the first 12 hex digits of the SHA-256 of the
//! sorted cipher list, `_`, the same of the sorted extensions (SNI and ALPN left out) and the
//! signature algorithms in their order. Both are computed once per alerted TLS flow (never per
//! packet), into short strings.

use std::fmt::Write as _;

use md5::{Digest as _, Md5};
use sha2::Sha256;

use super::tls::{ClientHello, Reader};

const EXT_SERVER_NAME: u16 = 0x0000;
const EXT_SUPPORTED_GROUPS: u16 = 0x000a;
const EXT_POINT_FORMATS: u16 = 0x000b;
const EXT_SIGNATURE_ALGORITHMS: u16 = 0x000d;
const EXT_ALPN: u16 = 0x0010;
const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;

/// The fingerprints of one ClientHello.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fingerprints {
    /// The JA3 string's MD5, 32 lowercase hex digits.
    pub ja3: String,
    /// The JA3 string itself (what the hash is of), for an analyst to read.
    pub ja3_full: String,
    /// The JA4 fingerprint (`t13i0305h2_…_…`).
    pub ja4: String,
}

/// GREASE values (RFC 8701): 0x0a0a, 0x1a1a, … 0xfafa; left out of both fingerprints.
fn grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// The 16-bit values of a list, as on the wire.
fn u16s(b: &[u8]) -> impl Iterator<Item = u16> + '_ {
    b.chunks_exact(2).filter_map(|c| Some(u16::from_be_bytes(c.try_into().ok()?)))
}

/// The extensions of a hello: (type, data), in order.
fn extensions<'a>(h: &ClientHello<'a>) -> impl Iterator<Item = (u16, &'a [u8])> {
    let mut r = Reader::new(h.extensions);
    std::iter::from_fn(move || {
        let kind = r.u16()?;
        let data = r.vec16()?;
        Some((kind, data))
    })
}

fn join_dec(out: &mut String, it: impl Iterator<Item = u16>) {
    for (i, v) in it.enumerate() {
        if i > 0 {
            out.push('-');
        }
        let _ = write!(out, "{v}");
    }
}

fn join_hex(out: &mut String, it: impl Iterator<Item = u16>) {
    for (i, v) in it.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{v:04x}");
    }
}

fn hex12(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    let mut s = String::with_capacity(12);
    for b in d.iter().take(6) {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The JA3 string of a hello.
pub fn ja3_string(h: &ClientHello<'_>) -> String {
    let mut s = String::with_capacity(128);
    let _ = write!(s, "{},", h.version);
    join_dec(&mut s, u16s(h.ciphers).filter(|v| !grease(*v)));
    s.push(',');
    join_dec(&mut s, extensions(h).map(|(k, _)| k).filter(|v| !grease(*v)));
    s.push(',');
    let groups =
        extensions(h).find(|(k, _)| *k == EXT_SUPPORTED_GROUPS).and_then(|(_, d)| Reader::new(d).vec16());
    join_dec(&mut s, u16s(groups.unwrap_or_default()).filter(|v| !grease(*v)));
    s.push(',');
    let formats =
        extensions(h).find(|(k, _)| *k == EXT_POINT_FORMATS).and_then(|(_, d)| Reader::new(d).vec8());
    join_dec(&mut s, formats.unwrap_or_default().iter().map(|b| u16::from(*b)));
    s
}

/// JA4's two version characters.
fn ja4_version(h: &ClientHello<'_>) -> &'static str {
    let highest = extensions(h)
        .find(|(k, _)| *k == EXT_SUPPORTED_VERSIONS)
        .and_then(|(_, d)| Reader::new(d).vec8())
        .and_then(|l| u16s(l).filter(|v| !grease(*v)).max());
    match highest.unwrap_or(h.version) {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// JA4's ALPN characters: the first ALPN value's first and last characters, or (either not
/// alphanumeric) the first and last digits of its hex form; `00` with none.
fn ja4_alpn(h: &ClientHello<'_>) -> [char; 2] {
    let Some(first) = h.alpn().next().filter(|p| !p.is_empty()) else { return ['0', '0'] };
    let (Some(&a), Some(&z)) = (first.first(), first.last()) else { return ['0', '0'] };
    if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
        return [char::from(a), char::from(z)];
    }
    let hex = |n: u8| char::from_digit(u32::from(n), 16).unwrap_or('0');
    [hex(a >> 4), hex(z & 0x0f)]
}

/// The JA4 fingerprint of a hello seen over TCP.
pub fn ja4(h: &ClientHello<'_>) -> String {
    let ciphers: Vec<u16> = u16s(h.ciphers).filter(|v| !grease(*v)).collect();
    let exts: Vec<u16> = extensions(h).map(|(k, _)| k).filter(|v| !grease(*v)).collect();
    let sni = if exts.contains(&EXT_SERVER_NAME) { 'd' } else { 'i' };
    let alpn = ja4_alpn(h);
    let mut s = String::with_capacity(36);
    let _ = write!(
        s,
        "t{}{sni}{:02}{:02}{}{}_",
        ja4_version(h),
        ciphers.len().min(99),
        exts.len().min(99),
        alpn[0],
        alpn[1]
    );
    if ciphers.is_empty() {
        s.push_str("000000000000");
    } else {
        let mut sorted = ciphers;
        sorted.sort_unstable();
        let mut list = String::with_capacity(sorted.len() * 5);
        join_hex(&mut list, sorted.into_iter());
        s.push_str(&hex12(list.as_bytes()));
    }
    s.push('_');
    let mut sorted: Vec<u16> = exts.into_iter().filter(|k| *k != EXT_SERVER_NAME && *k != EXT_ALPN).collect();
    if sorted.is_empty() {
        s.push_str("000000000000");
        return s;
    }
    sorted.sort_unstable();
    let mut list = String::with_capacity(sorted.len() * 5 + 64);
    join_hex(&mut list, sorted.into_iter());
    let sigalgs = extensions(h)
        .find(|(k, _)| *k == EXT_SIGNATURE_ALGORITHMS)
        .and_then(|(_, d)| Reader::new(d).vec16())
        .unwrap_or_default();
    if !sigalgs.is_empty() {
        list.push('_');
        join_hex(&mut list, u16s(sigalgs));
    }
    s.push_str(&hex12(list.as_bytes()));
    s
}

/// Both fingerprints of a hello.
pub fn of(h: &ClientHello<'_>) -> Fingerprints {
    let ja3_full = ja3_string(h);
    let mut ja3 = String::with_capacity(32);
    for b in Md5::digest(ja3_full.as_bytes()) {
        let _ = write!(ja3, "{b:02x}");
    }
    Fingerprints { ja3, ja3_full, ja4: ja4(h) }
}

/// JA4 fingerprints of miners' TLS clients, and whose they are. The `_b`/`_c` parts name the
/// TLS library build and its settings: such a match says "the same TLS client as this miner",
/// which other programs built on the same library share, so it only adds to the evidence
/// (`behaviour.known_fingerprint`), never raises an alert.
///
/// Empty for now, on purpose: an entry must come from a capture of the real miner's own TLS
/// hello, and none of the captures at hand has one (the corpus's XMRig and cpuminer sessions
/// are in the clear; the encrypted ones here carry the test kit's or Python's hello). Add
/// `("t13i…_…_…", "XMRig 6.x (OpenSSL 3)")` lines from such captures.
const KNOWN_MINERS: &[(&str, &str)] = &[];

/// Whose miner fingerprint `ja4` is, if any known.
pub fn known_miner(ja4: &str) -> Option<&'static str> {
    known_in(KNOWN_MINERS, ja4)
}

fn known_in(list: &'static [(&'static str, &'static str)], ja4: &str) -> Option<&'static str> {
    list.iter().find(|(fp, _)| *fp == ja4).map(|(_, who)| *who)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::tls::client_hello;

    /// A ClientHello record: `legacy_version`, suites, and extensions (type, data).
    fn hello(version: u16, suites: &[u16], exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&version.to_be_bytes());
        body.extend_from_slice(&[7; 32]);
        body.push(0);
        body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
        for s in suites {
            body.extend_from_slice(&s.to_be_bytes());
        }
        body.extend_from_slice(&[1, 0]);
        let mut e = Vec::new();
        for (k, d) in exts {
            e.extend_from_slice(&k.to_be_bytes());
            e.extend_from_slice(&(d.len() as u16).to_be_bytes());
            e.extend_from_slice(d);
        }
        body.extend_from_slice(&(e.len() as u16).to_be_bytes());
        body.extend(e);
        let mut hs = vec![1, 0, (body.len() >> 8) as u8, body.len() as u8];
        hs.extend(body);
        let mut rec = vec![0x16, 3, 1, (hs.len() >> 8) as u8, hs.len() as u8];
        rec.extend(hs);
        rec
    }

    fn list16(v: &[u16]) -> Vec<u8> {
        let mut d = ((v.len() * 2) as u16).to_be_bytes().to_vec();
        for x in v {
            d.extend_from_slice(&x.to_be_bytes());
        }
        d
    }

    /// Salesforce's JA3 README example: `769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,
    /// 0-10-11,23-24-25,0` hashes to `ada70206e40642a3e4461f35503241d5`. Built as a hello, with
    /// GREASE values added, which JA3 leaves out.
    #[test]
    fn ja3_of_the_published_example() {
        let sni = {
            let name = b"example.com";
            let mut d = ((name.len() + 3) as u16).to_be_bytes().to_vec();
            d.push(0);
            d.extend_from_slice(&(name.len() as u16).to_be_bytes());
            d.extend_from_slice(name);
            d
        };
        let suites = [0x0a0a, 47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4];
        let rec = hello(
            769,
            &suites,
            &[(0x2a2a, vec![]), (0, sni), (10, list16(&[0x1a1a, 23, 24, 25])), (11, vec![1, 0])],
        );
        let h = client_hello(&rec).unwrap();
        let f = of(&h);
        assert_eq!(f.ja3_full, "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0");
        assert_eq!(f.ja3, "ada70206e40642a3e4461f35503241d5");
    }

    /// FoxIO's JA4 specification example (`technical_details/JA4.md`): its ciphers, extensions
    /// (in the order given there), signature algorithms and ALPN `h2` make
    /// `t13d1516h2_8daaf6152771_e5627efa2ab1`.
    #[test]
    fn ja4_of_the_published_example() {
        let suites = [
            0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c,
            0x009d, 0x002f, 0x0035,
        ];
        let order = [
            0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b,
            0xff01, 0x000b, 0x000a, 0x0015,
        ];
        let mut exts = vec![(0xdada, vec![])];
        for k in order {
            let data = match k {
                0x0000 => {
                    let name = b"example.org";
                    let mut d = ((name.len() + 3) as u16).to_be_bytes().to_vec();
                    d.push(0);
                    d.extend_from_slice(&(name.len() as u16).to_be_bytes());
                    d.extend_from_slice(name);
                    d
                }
                0x0010 => vec![0, 12, 2, b'h', b'2', 8, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1'],
                0x000d => list16(&[0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]),
                0x002b => vec![6, 0x3a, 0x3a, 3, 4, 3, 3],
                _ => vec![],
            };
            exts.push((k, data));
        }
        let rec = hello(0x0303, &suites, &exts);
        let h = client_hello(&rec).unwrap();
        assert_eq!(ja4(&h), "t13d1516h2_8daaf6152771_e5627efa2ab1");
    }

    #[test]
    fn ja4_alpn_and_empty_lists_follow_the_spec() {
        // No ciphers, no extensions, TLS 1.2 by the legacy version.
        let rec = hello(0x0303, &[], &[]);
        let h = client_hello(&rec).unwrap();
        assert_eq!(ja4(&h), "t12i000000_000000000000_000000000000");
        // A non-alphanumeric ALPN: the first and last hex digits (spec: 0x30 0xAB → "3b").
        let rec = hello(0x0303, &[0x1301], &[(0x0010, vec![0, 3, 2, 0x30, 0xab])]);
        let h = client_hello(&rec).unwrap();
        assert!(ja4(&h).starts_with("t12i01013b_"), "{}", ja4(&h));
        // Signature algorithms absent: the extension list alone is hashed (spec: 6d807ffa2a79).
        let exts: Vec<(u16, Vec<u8>)> = [
            0x0005u16, 0x000a, 0x000b, 0x000d, 0x0012, 0x0015, 0x0017, 0x001b, 0x0023, 0x002b, 0x002d,
            0x0033, 0x4469, 0xff01,
        ]
        .iter()
        .map(|k| (*k, vec![]))
        .collect();
        let rec = hello(0x0303, &[0x1301], &exts);
        let h = client_hello(&rec).unwrap();
        assert!(ja4(&h).ends_with("_6d807ffa2a79"), "{}", ja4(&h));
    }

    #[test]
    fn a_known_fingerprint_is_found_by_its_whole_ja4() {
        const LIST: &[(&str, &str)] = &[("t13i050400_b2647d7ac037_23223765ab26", "a miner")];
        assert_eq!(known_in(LIST, "t13i050400_b2647d7ac037_23223765ab26"), Some("a miner"));
        assert_eq!(known_in(LIST, "t13d050400_b2647d7ac037_23223765ab26"), None);
        assert_eq!(known_miner("t13i050400_b2647d7ac037_23223765ab26"), None);
    }

    #[test]
    fn grease_values_are_recognised() {
        assert!(grease(0x0a0a) && grease(0xfafa) && grease(0x3a3a));
        assert!(!grease(0x0a1a) && !grease(0x1301) && !grease(0x0000));
    }
}
