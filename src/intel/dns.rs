//! DNS responses, read just far enough to learn which addresses a name resolved to: the header,
//! the first question, and the answer section's A, AAAA and CNAME records (RFC 1035 §4).
//!
//! Hostile input: every read is checked; a compressed name may follow at most
//! [`MAX_POINTER_HOPS`] pointers, each pointing strictly before the previous one (so no loop
//! and no recursion is possible), and a decoded name is at most 255 bytes. At most
//! [`MAX_ANSWERS`] answer records are looked at. Parsing is linear in the message; it allocates
//! only the decoded names it returns.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Answer records looked at per response.
pub const MAX_ANSWERS: usize = 32;
/// Compression pointers followed while decoding one name.
pub const MAX_POINTER_HOPS: usize = 16;
/// Longest decoded name (RFC 1035: 255 octets on the wire).
const MAX_NAME: usize = 255;
const HEADER: usize = 12;
const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;

/// Why a message was not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsError {
    /// A query, a failed answer (RCODE ≠ 0), another opcode, or no question: nothing to learn.
    NotAnAnswer,
    /// Fields that do not add up.
    Malformed,
}

/// One answer record we use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// An address, valid for `ttl` seconds, of the question's name or of a name in its CNAME
    /// chain (its owner is not kept: a pool is recognised by the question or a CNAME, and an
    /// owned name per address record was a third of an answer's cost).
    Addr { addr: IpAddr, ttl: u32 },
    /// `owner` is an alias of `target`.
    Cname { owner: String, target: String },
}

/// A parsed response: its question name (lower case, no trailing dot) and its usable answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    pub question: String,
    pub records: Vec<Record>,
}

fn u16_at(msg: &[u8], at: usize) -> Option<u16> {
    let b = msg.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes(b.try_into().ok()?))
}

fn u32_at(msg: &[u8], at: usize) -> Option<u32> {
    let b = msg.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(b.try_into().ok()?))
}

/// Decodes the name at `at` into `out` (lower case, labels joined by `.`). Returns the offset
/// just past the name where it started (not where a pointer led).
pub fn read_name(msg: &[u8], at: usize, out: &mut String) -> Option<usize> {
    out.clear();
    // One allocation for most names, rather than the doublings of a String grown a char at a
    // time (they were a third of a DNS answer's cost).
    out.reserve(64);
    let mut pos = at;
    let mut end = None;
    let mut hops = 0;
    loop {
        let len = *msg.get(pos)?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                return Some(end.unwrap_or(pos + 1));
            }
            0x00 => {
                let label = msg.get(pos + 1..pos + 1 + usize::from(len))?;
                if out.len() + label.len() + 1 > MAX_NAME {
                    return None;
                }
                if !out.is_empty() {
                    out.push('.');
                }
                // Non-ASCII bytes cannot be a pool's host name; keep them visible but harmless.
                out.extend(label.iter().map(|&b| {
                    if b.is_ascii_graphic() {
                        b.to_ascii_lowercase() as char
                    } else {
                        '?'
                    }
                }));
                pos += 1 + usize::from(len);
            }
            0xc0 => {
                let target = usize::from(u16_at(msg, pos)? & 0x3fff);
                hops += 1;
                // Strictly backwards: every hop lowers `pos`, so no loop can form.
                if hops > MAX_POINTER_HOPS || target >= pos {
                    return None;
                }
                end.get_or_insert(pos + 2);
                pos = target;
            }
            _ => return None, // 0x40/0x80: extended label types, obsolete
        }
    }
}

/// Parses a DNS response; see the module doc for what is kept.
pub fn parse_response(msg: &[u8]) -> Result<Response, DnsError> {
    let flags = u16_at(msg, 2).ok_or(DnsError::Malformed)?;
    let qr = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0xf;
    let rcode = flags & 0xf;
    let qdcount = u16_at(msg, 4).ok_or(DnsError::Malformed)?;
    let ancount = u16_at(msg, 6).ok_or(DnsError::Malformed)?;
    if !qr || opcode != 0 || rcode != 0 || qdcount == 0 {
        return Err(DnsError::NotAnAnswer);
    }
    let mut resp = Response::default();
    let mut pos = read_name(msg, HEADER, &mut resp.question).ok_or(DnsError::Malformed)?;
    pos = pos.checked_add(4).filter(|&p| p <= msg.len()).ok_or(DnsError::Malformed)?;
    // Further questions (practically never sent) are skipped.
    let mut scratch = String::new();
    for _ in 1..qdcount {
        pos = read_name(msg, pos, &mut scratch).ok_or(DnsError::Malformed)? + 4;
    }
    for _ in 0..usize::from(ancount).min(MAX_ANSWERS) {
        // Read (and so checked) into the scratch; owned only by a CNAME.
        pos = read_name(msg, pos, &mut scratch).ok_or(DnsError::Malformed)?;
        let rtype = u16_at(msg, pos).ok_or(DnsError::Malformed)?;
        let class = u16_at(msg, pos + 2).ok_or(DnsError::Malformed)?;
        let ttl = u32_at(msg, pos + 4).ok_or(DnsError::Malformed)?;
        let rdlen = usize::from(u16_at(msg, pos + 8).ok_or(DnsError::Malformed)?);
        let rdata_at = pos + 10;
        let rdata = msg.get(rdata_at..rdata_at + rdlen).ok_or(DnsError::Malformed)?;
        pos = rdata_at + rdlen;
        if class != CLASS_IN {
            continue;
        }
        // A TTL with the top bit set is treated as zero (RFC 2181 §8).
        let ttl = if ttl > i32::MAX as u32 { 0 } else { ttl };
        match (rtype, rdata) {
            (TYPE_A, &[a, b, c, d]) => {
                resp.records.push(Record::Addr { addr: IpAddr::V4(Ipv4Addr::new(a, b, c, d)), ttl })
            }
            (TYPE_AAAA, r) if r.len() == 16 => {
                let bytes: [u8; 16] = r.try_into().map_err(|_| DnsError::Malformed)?;
                resp.records.push(Record::Addr { addr: IpAddr::V6(Ipv6Addr::from(bytes)), ttl });
            }
            (TYPE_CNAME, _) => {
                let mut target = String::new();
                read_name(msg, rdata_at, &mut target).ok_or(DnsError::Malformed)?;
                resp.records.push(Record::Cname { owner: scratch.clone(), target });
            }
            _ => {}
        }
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn name(n: &str) -> Vec<u8> {
        let mut v = Vec::new();
        for l in n.split('.') {
            v.push(l.len() as u8);
            v.extend_from_slice(l.as_bytes());
        }
        v.push(0);
        v
    }

    /// xmr.2miners.com CNAME lb.example.net (compressed), which has two A records and an AAAA.
    fn response() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 4, 0, 0, 0, 0];
        m.extend(name("XMR.2miners.com"));
        m.extend_from_slice(&[0, 1, 0, 1]);
        // CNAME, owner = pointer to the question (offset 12).
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60]);
        let target = name("lb.example.net");
        m.extend_from_slice(&(target.len() as u16).to_be_bytes());
        let target_at = m.len();
        m.extend(target);
        for last in [10u8, 11] {
            m.extend_from_slice(&[
                0xc0,
                target_at as u8,
                0,
                1,
                0,
                1,
                0,
                0,
                0x0e,
                0x10,
                0,
                4,
                198,
                51,
                100,
                last,
            ]);
        }
        m.extend_from_slice(&[0xc0, target_at as u8, 0, 28, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 16]);
        m.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        m
    }

    #[test]
    fn reads_question_cname_and_addresses() {
        let r = parse_response(&response()).unwrap();
        assert_eq!(r.question, "xmr.2miners.com");
        assert_eq!(
            r.records,
            vec![
                Record::Cname { owner: "xmr.2miners.com".into(), target: "lb.example.net".into() },
                Record::Addr { addr: "198.51.100.10".parse().unwrap(), ttl: 3600 },
                Record::Addr { addr: "198.51.100.11".parse().unwrap(), ttl: 3600 },
                Record::Addr { addr: "2001:db8::1".parse().unwrap(), ttl: 0 },
            ]
        );
    }

    #[test]
    fn queries_errors_and_truncation() {
        let mut q = response();
        q[2] = 0x01; // QR clear: a query
        assert_eq!(parse_response(&q), Err(DnsError::NotAnAnswer));
        let mut nx = response();
        nx[3] = 0x83; // NXDOMAIN
        assert_eq!(parse_response(&nx), Err(DnsError::NotAnAnswer));
        let full = response();
        for n in 0..full.len() {
            assert!(parse_response(&full[..n]).is_err(), "prefix {n} parsed");
        }
    }

    #[test]
    fn pointer_loops_and_forward_pointers_are_refused() {
        let mut out = String::new();
        // A pointer to itself, and one pointing forward.
        assert_eq!(read_name(&[0xc0, 0x00], 0, &mut out), None);
        assert_eq!(read_name(&[0xc0, 0x02, 1, b'a', 0], 0, &mut out), None);
        // A backwards chain longer than the hop limit.
        let mut m = vec![1, b'a', 0];
        let mut prev = 0u8;
        for _ in 0..(MAX_POINTER_HOPS + 2) {
            let at = m.len() as u8;
            m.extend_from_slice(&[0xc0, prev]);
            prev = at;
        }
        assert_eq!(read_name(&m, usize::from(prev), &mut out), None);
        let ok_at = 3 + 2 * (MAX_POINTER_HOPS - 1);
        assert_eq!(read_name(&m, ok_at, &mut out), Some(ok_at + 2));
        assert_eq!(out, "a");
        // Names longer than 255 bytes.
        let mut long = Vec::new();
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'x'; 63]);
        }
        long.push(0);
        assert_eq!(read_name(&long, 0, &mut out), None);
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_response(&data);
            let mut m = vec![0, 0, 0x81, 0x80, 0, 1, 0, 8, 0, 0, 0, 0];
            m.extend_from_slice(&data);
            if let Ok(r) = parse_response(&m) {
                prop_assert!(r.records.len() <= MAX_ANSWERS);
                prop_assert!(r.question.len() <= MAX_NAME);
            }
        }

        #[test]
        fn mutated_responses_never_panic(pos in 0usize..120, val in any::<u8>()) {
            let mut m = response();
            if let Some(b) = m.get_mut(pos) {
                *b = val;
            }
            let _ = parse_response(&m);
        }
    }
}
