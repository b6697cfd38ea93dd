//! The frame front: what every frame goes through first, however it was read. It is decoded
//! once, counted by what it is, a DNS answer is read, and a TCP packet or an IP fragment is
//! routed on. The three readers (a worker reading its own frames, the replay's walk, the live
//! reader that hands frames to the workers) share this and differ only in their [`Route`]:
//! written once, the three cannot drift apart in what they count or read.

use std::net::IpAddr;

use crate::capture::Frame;
use crate::decode::{self, Fragment, LinkType, Packet, Skip, TcpInfo, Transport};
use crate::flow::defrag::Datagram;
use crate::stats::Counters;
use crate::time::Ts;

/// Where the front sends what it found in a frame.
pub(super) trait Route {
    /// Where the frame is counted.
    fn counters(&mut self) -> &mut Counters;
    /// A TCP packet, decoded, of `frame` (whose bytes it borrows).
    fn tcp(&mut self, link: LinkType, frame: &Frame<'_>, pkt: &Packet<'_>, tcp: TcpInfo);
    /// An IP fragment, `f` as read from `frame`; the whole frame is its defragmenter's.
    fn fragment(&mut self, link: LinkType, f: &Fragment<'_>, frame: &Frame<'_>);
    /// The payload of a UDP datagram from port 53: a DNS answer, maybe (see
    /// [`crate::intel::Intel::dns_answer`]). UDP goes no further than this.
    fn dns_answer(&mut self, payload: &[u8], ts: Ts);
}

/// Decodes `frame`, counts it, and hands `to` what it holds: a TCP packet, an IP fragment, or
/// a DNS answer. Anything else (other UDP, a frame that is not TCP or UDP over IP) is counted
/// and goes no further.
#[inline(always)]
pub(super) fn front(link: LinkType, frame: &Frame<'_>, to: &mut impl Route) {
    let c = to.counters();
    c.packets += 1;
    c.bytes += frame.data.len() as u64;
    // The packet is matched by reference where the decoder's fast path builds it. Moved on (into
    // `decode`'s `Result`, into a classification of the frame, into a local), its 72 bytes were
    // copied at each step: 6% of a one-worker replay's instructions on the edge mix.
    if let Some(pkt) = &decode::fast(link, frame.data) {
        return packet(link, frame, pkt, to);
    }
    match &decode::decode_general(link, frame.data) {
        Ok(pkt) => packet(link, frame, pkt, to),
        Err(Skip::Fragment) => match decode::fragment(link, frame.data) {
            Some(f) => {
                to.counters().fragments += 1;
                to.fragment(link, &f, frame);
            }
            None => skipped(Skip::Fragment, to.counters()),
        },
        Err(skip) => skipped(*skip, to.counters()),
    }
}

/// A TCP packet goes on; a UDP datagram stops here, counted, and read if it is a DNS answer.
#[inline(always)]
fn packet(link: LinkType, frame: &Frame<'_>, pkt: &Packet<'_>, to: &mut impl Route) {
    match pkt.transport {
        Transport::Tcp(tcp) => to.tcp(link, frame, pkt, tcp),
        Transport::Udp => udp(pkt, frame.ts, to),
    }
}

/// A UDP datagram, whole in a frame or put back together from fragments: counted, and read if
/// it is a DNS answer. It goes no further.
#[inline(always)]
fn udp(pkt: &Packet<'_>, ts: Ts, to: &mut impl Route) {
    to.counters().udp_packets += 1;
    if pkt.src_port == 53 {
        to.dns_answer(pkt.payload, ts);
    }
}

/// A datagram put back together from fragments: a UDP one goes through [`udp`] as a whole
/// frame's does, one that does not decode is counted malformed, and a TCP packet is handed back
/// for the caller (a worker) to take with the fragments it kept.
pub(super) fn datagram<'d>(dg: &'d Datagram, ts: Ts, to: &mut impl Route) -> Option<(Packet<'d>, TcpInfo)> {
    match decode::transport(dg.src, dg.dst, dg.proto, &dg.payload) {
        Ok(pkt) => match pkt.transport {
            Transport::Tcp(tcp) => Some((pkt, tcp)),
            Transport::Udp => {
                udp(&pkt, ts, to);
                None
            }
        },
        Err(_) => {
            to.counters().malformed += 1;
            None
        }
    }
}

/// Counts a frame that goes no further. A TCP packet is counted (`tcp_packets`) by the worker
/// that takes it, as is a datagram its defragmenter puts back together; a UDP datagram is
/// counted where it stops, in [`front`].
#[cold]
fn skipped(skip: Skip, c: &mut Counters) {
    match skip {
        Skip::Truncated => c.truncated += 1,
        Skip::Malformed => c.malformed += 1,
        Skip::NotTcpUdp => c.not_tcp_udp += 1,
        // A fragment whose addresses do not parse.
        Skip::Fragment => {
            c.fragments += 1;
            c.malformed += 1;
        }
    }
}

/// The same for both directions: the sum of the two addresses (folded to 64 bits) is symmetric,
/// and a multiplicative hash spreads it. Runs once per frame on the replay's walk, where
/// hashing both `IpAddr`s with a general hasher cost about a twentieth of a 2-worker replay.
pub(super) fn shard(src: IpAddr, dst: IpAddr, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    fn fold(a: IpAddr) -> u64 {
        match a {
            IpAddr::V4(v4) => u64::from(u32::from(v4)),
            IpAddr::V6(v6) => {
                let x = u128::from(v6);
                (x as u64) ^ ((x >> 64) as u64).rotate_left(17)
            }
        }
    }
    let h = fold(src).wrapping_add(fold(dst)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // The high bits are the well-mixed ones: map them onto 0..n without a division.
    (((h >> 32) * n as u64) >> 32) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    /// Remembers what the front routed where.
    #[derive(Default)]
    struct Seen {
        c: Counters,
        tcp: Vec<(u16, Vec<u8>)>,
        fragments: Vec<(IpAddr, IpAddr, usize)>,
        answers: Vec<Vec<u8>>,
    }

    impl Route for Seen {
        fn counters(&mut self) -> &mut Counters {
            &mut self.c
        }
        fn tcp(&mut self, _: LinkType, _: &Frame<'_>, pkt: &Packet<'_>, _: TcpInfo) {
            self.tcp.push((pkt.dst_port, pkt.payload.to_vec()));
        }
        fn fragment(&mut self, _: LinkType, f: &Fragment<'_>, frame: &Frame<'_>) {
            self.fragments.push((f.src, f.dst, frame.data.len()));
        }
        fn dns_answer(&mut self, payload: &[u8], _: Ts) {
            self.answers.push(payload.to_vec());
        }
    }

    fn udp(src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4([10, 0, 0, 53], [10, 0, 0, 1], 64);
        let b = b.udp(src_port, dst_port);
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    fn tcp(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64);
        let b = b.tcp(40000, 3333, 1, 1000);
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    fn feed(seen: &mut Seen, data: &[u8]) {
        let frame = Frame { ts: Ts(1), data, wire_len: data.len() as u32 };
        front(LinkType::Ethernet, &frame, seen);
    }

    #[test]
    fn a_dns_answer_is_read_other_udp_stops_and_tcp_goes_on() {
        let mut seen = Seen::default();
        feed(&mut seen, &udp(53, 5353, b"answer"));
        feed(&mut seen, &udp(5353, 53, b"question"));
        feed(&mut seen, &udp(123, 123, b"ntp"));
        feed(&mut seen, &tcp(b"{\"id\":1}\n"));
        feed(&mut seen, &[0u8; 10]);
        // The first fragment of a DNS answer (more fragments follow): the whole frame goes to the
        // defragmenter, not to DNS.
        let mut first = udp(53, 5353, b"answer");
        first[20] = 0x20;
        feed(&mut seen, &first);
        assert_eq!(seen.answers, vec![b"answer".to_vec()], "only a datagram from port 53 is an answer");
        assert_eq!(seen.tcp, vec![(3333, b"{\"id\":1}\n".to_vec())]);
        let (src, dst) = ("10.0.0.53".parse().unwrap(), "10.0.0.1".parse().unwrap());
        assert_eq!(seen.fragments, vec![(src, dst, first.len())]);
        assert_eq!((seen.c.packets, seen.c.udp_packets, seen.c.truncated, seen.c.fragments), (6, 3, 1, 1));
        // The worker counts the TCP packet it takes, not the front.
        assert_eq!(seen.c.tcp_packets, 0);
    }

    #[test]
    fn shard_is_symmetric_and_in_range() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "198.51.100.9".parse().unwrap();
        for n in 1..8 {
            assert_eq!(shard(a, b, n), shard(b, a, n));
            assert!(shard(a, b, n) < n);
        }
    }

    #[test]
    fn shard_spreads_address_pairs_evenly() {
        // Internal hosts talking to servers, v4 and v6: every worker gets its share within 15%.
        for n in 2..=8 {
            let mut load = vec![0u32; n];
            for i in 0..20_000u32 {
                let (a, b): (IpAddr, IpAddr) = if i % 4 == 0 {
                    let c = std::net::Ipv6Addr::new(0xfd00, 0x10, 0, 0, 0, 0, 0, (i % 997) as u16);
                    let s = std::net::Ipv6Addr::new(0x2001, 0xdb8, 0x443, 0, 0, 0, 0, (i / 7) as u16);
                    (c.into(), s.into())
                } else {
                    let c = std::net::Ipv4Addr::from(0x0a00_0000 + (i % 1000));
                    let s = std::net::Ipv4Addr::from(0xc612_0000 + (i * 7919) % 65_536);
                    (c.into(), s.into())
                };
                load[shard(a, b, n)] += 1;
            }
            let fair = 20_000.0 / n as f64;
            for (w, &l) in load.iter().enumerate() {
                assert!((f64::from(l) - fair).abs() < fair * 0.15, "{n} workers: worker {w} got {l}");
            }
        }
    }
}
