//! Link layer to TCP/UDP, as a borrowed view of one captured frame.
//!
//! etherparse does the slicing, in its lax mode so that a packet cut short by the snap length
//! still yields its headers. We then refuse, with a reason the caller counts, anything whose
//! payload we cannot trust: a truncated IP payload would feed the reassembler bytes that are not
//! the stream's, and a fragment carries no complete transport header.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};

/// The capture's link type (libpcap's DLT/LINKTYPE numbers), as far as we decode it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    Ethernet,
    /// Bare IPv4 or IPv6, told apart by the version nibble.
    RawIp,
    /// Linux cooked capture v1 (`tcpdump -i any`).
    LinuxSll,
    /// Linux cooked capture v2.
    LinuxSll2,
    /// BSD loopback: a 4-byte address family in the capturing host's byte order.
    Null,
    /// OpenBSD loopback: a 4-byte address family in network byte order.
    Loop,
}

impl LinkType {
    /// Every link type we decode.
    pub const ALL: [LinkType; 6] = [
        LinkType::Ethernet,
        LinkType::RawIp,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::Null,
        LinkType::Loop,
    ];

    /// Maps a libpcap link type number; `None` for link types we cannot decode.
    pub fn from_dlt(dlt: i32) -> Option<LinkType> {
        match dlt {
            1 => Some(LinkType::Ethernet),
            0 => Some(LinkType::Null),
            108 => Some(LinkType::Loop),
            // DLT_RAW has three numbers in the wild; LINKTYPE_IPV4/IPV6 are raw too.
            12 | 14 | 101 | 228 | 229 => Some(LinkType::RawIp),
            113 => Some(LinkType::LinuxSll),
            276 => Some(LinkType::LinuxSll2),
            _ => None,
        }
    }

    /// The `LINKTYPE_*` number a capture file's header writes for this link type (the inverse of
    /// [`LinkType::from_dlt`]; raw IP is written as 101, `LINKTYPE_RAW`). The test kit's capture
    /// writers use it, so that the link types a test writes are exactly the ones we decode.
    pub fn dlt(self) -> u16 {
        match self {
            LinkType::Ethernet => 1,
            LinkType::RawIp => 101,
            LinkType::LinuxSll => 113,
            LinkType::LinuxSll2 => 276,
            LinkType::Null => 0,
            LinkType::Loop => 108,
        }
    }
}

impl LinkType {
    /// The `DLT_*` number libpcap's own calls take for this link type (`pcap_open_dead`, for a
    /// filter compiled or a file written): the file's `LINKTYPE_*` number ([`LinkType::dlt`])
    /// except for raw IP, whose `DLT_RAW` is 12 (14 on OpenBSD), not `LINKTYPE_RAW`'s 101.
    pub fn libpcap_dlt(self) -> i32 {
        match self {
            LinkType::RawIp if cfg!(target_os = "openbsd") => 14,
            LinkType::RawIp => 12,
            other => i32::from(other.dlt()),
        }
    }
}

/// TCP header fields the flow layer needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpInfo {
    pub seq: u32,
    pub ack: u32,
    pub syn: bool,
    pub ack_flag: bool,
    pub fin: bool,
    pub rst: bool,
}

/// The transport layer of a decoded packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp(TcpInfo),
    Udp,
}

/// One decoded packet, borrowing its payload from the capture buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub transport: Transport,
    pub payload: &'a [u8],
}

/// Why a frame yields no packet. Cheap and `Copy`: the caller only counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Cut short by the snap length or by the capture: the payload is incomplete.
    Truncated,
    /// Headers that do not parse.
    Malformed,
    /// Not IP, or IP carrying neither TCP nor UDP (ARP, ICMP, ...).
    NotTcpUdp,
    /// An IP fragment: its transport header, if any, is not complete.
    Fragment,
}

/// Address families as BSD loopback captures write them.
const AF_INET: u32 = 2;
/// AF_INET6 differs across BSDs, macOS and Linux.
const AF_INET6: [u32; 4] = [10, 24, 28, 30];

fn ether_type_of_family(af: u32) -> Option<EtherType> {
    if af == AF_INET {
        Some(EtherType::IPV4)
    } else if AF_INET6.contains(&af) {
        Some(EtherType::IPV6)
    } else {
        None
    }
}

fn slice_link(link: LinkType, frame: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    match link {
        LinkType::Ethernet => LaxSlicedPacket::from_ethernet(frame).map_err(|_| Skip::Truncated),
        LinkType::RawIp => LaxSlicedPacket::from_ip(frame).map_err(|_| Skip::Malformed),
        LinkType::LinuxSll => {
            // 16-byte header; the protocol (an EtherType for IP) sits in its last two bytes.
            let proto = frame.get(14..16).ok_or(Skip::Truncated)?;
            let rest = frame.get(16..).ok_or(Skip::Truncated)?;
            let et = EtherType(u16::from_be_bytes([proto[0], proto[1]]));
            Ok(LaxSlicedPacket::from_ether_type(et, rest))
        }
        LinkType::LinuxSll2 => {
            // 20-byte header that starts with the protocol.
            let proto = frame.get(0..2).ok_or(Skip::Truncated)?;
            let rest = frame.get(20..).ok_or(Skip::Truncated)?;
            let et = EtherType(u16::from_be_bytes([proto[0], proto[1]]));
            Ok(LaxSlicedPacket::from_ether_type(et, rest))
        }
        LinkType::Null | LinkType::Loop => {
            let af: [u8; 4] = frame.get(0..4).and_then(|b| b.try_into().ok()).ok_or(Skip::Truncated)?;
            let rest = frame.get(4..).ok_or(Skip::Truncated)?;
            // DLT_NULL is in the writer's byte order: accept either reading.
            let et = if link == LinkType::Loop {
                ether_type_of_family(u32::from_be_bytes(af))
            } else {
                ether_type_of_family(u32::from_le_bytes(af))
                    .or_else(|| ether_type_of_family(u32::from_be_bytes(af)))
            }
            .ok_or(Skip::NotTcpUdp)?;
            Ok(LaxSlicedPacket::from_ether_type(et, rest))
        }
    }
}

/// Decodes one frame of the given link type down to TCP or UDP.
///
/// The common case, Ethernet (untagged, 802.1Q or QinQ: at most two tags) with an
/// unfragmented, complete IPv4 packet or an IPv6 packet without extension headers, carrying TCP
/// or UDP, is read by [`fast_ethernet`] (it is most of the traffic and etherparse's general
/// slicing was a tenth of the replay's time; on an edge mix with a tenth of the flows tagged and
/// a twelfth on IPv6, the tagged and IPv6 frames alone were 9% of one worker's instructions);
/// anything else, including every frame the fast path finds the least bit unusual, goes through
/// etherparse, which stays the reference.
#[inline]
pub fn decode(link: LinkType, frame: &[u8]) -> Result<Packet<'_>, Skip> {
    match fast(link, frame) {
        Some(p) => Ok(p),
        None => decode_general(link, frame),
    }
}

/// The fast path of [`decode`] alone: `None` is no verdict (the caller then asks
/// [`decode_general`]). Apart so that the hot caller (the pipeline's frame front) matches the
/// packet where it is built rather than copied into `decode`'s `Result`.
#[inline(always)]
pub fn fast(link: LinkType, frame: &[u8]) -> Option<Packet<'_>> {
    if link == LinkType::Ethernet {
        fast_ethernet(frame)
    } else {
        None
    }
}

/// Ethernet II, up to two VLAN tags (802.1Q `0x8100`, 802.1ad `0x88a8`), then IPv4 or IPv6 by
/// hand; `None` for anything else (etherparse then decides).
#[inline(always)]
fn fast_ethernet(frame: &[u8]) -> Option<Packet<'_>> {
    let mut at = 12;
    let mut et = be16(frame, at)?;
    let mut tags = 0;
    while et == 0x8100 || et == 0x88a8 {
        if tags == 2 {
            return None;
        }
        tags += 1;
        at += 4;
        et = be16(frame, at)?;
    }
    let ip = frame.get(at + 2..)?;
    match et {
        0x0800 => fast_ipv4(ip),
        0x86dd => fast_ipv6(ip),
        _ => None,
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// IPv4 → TCP/UDP by hand. `None` whenever the packet is not exactly that, or any length
/// disagrees (truncated, padded oddly, fragment, bad header length): etherparse then decides and
/// names the reason. When it returns a packet it is the one etherparse returns (a unit test
/// compares the two on mutated frames).
#[inline(always)]
fn fast_ipv4(ip: &[u8]) -> Option<Packet<'_>> {
    let vihl = *ip.first()?;
    let ihl = usize::from(vihl & 0x0f) * 4;
    let total = usize::from(be16(ip, 2)?);
    if vihl >> 4 != 4 || ihl < 20 || total < ihl || total > ip.len() {
        return None;
    }
    // More-fragments flag or a fragment offset: a fragment.
    if be16(ip, 6)? & 0x3fff != 0 {
        return None;
    }
    let src = IpAddr::V4(Ipv4Addr::from(be32(ip, 12)?));
    let dst = IpAddr::V4(Ipv4Addr::from(be32(ip, 16)?));
    fast_l4(src, dst, *ip.get(9)?, ip.get(ihl..total)?)
}

/// IPv6 with no extension header → TCP/UDP by hand, as [`fast_ipv4`]: a payload length of 0
/// (jumbogram) or longer than the frame, or any next header but TCP or UDP, is left to etherparse.
#[inline(always)]
fn fast_ipv6(ip: &[u8]) -> Option<Packet<'_>> {
    if *ip.first()? >> 4 != 6 {
        return None;
    }
    let len = usize::from(be16(ip, 4)?);
    if len == 0 {
        return None;
    }
    let a: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
    let b: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
    let (src, dst) = (IpAddr::V6(Ipv6Addr::from(a)), IpAddr::V6(Ipv6Addr::from(b)));
    fast_l4(src, dst, *ip.get(6)?, ip.get(40..40 + len)?)
}

/// The TCP or UDP segment `l4` (exactly the IP payload) by hand.
#[inline(always)]
fn fast_l4(src: IpAddr, dst: IpAddr, proto: u8, l4: &[u8]) -> Option<Packet<'_>> {
    match proto {
        6 => {
            let doff = usize::from(*l4.get(12)? >> 4) * 4;
            if doff < 20 || doff > l4.len() {
                return None;
            }
            let flags = *l4.get(13)?;
            Some(Packet {
                src,
                dst,
                src_port: be16(l4, 0)?,
                dst_port: be16(l4, 2)?,
                transport: Transport::Tcp(TcpInfo {
                    seq: be32(l4, 4)?,
                    ack: be32(l4, 8)?,
                    syn: flags & 0x02 != 0,
                    ack_flag: flags & 0x10 != 0,
                    fin: flags & 0x01 != 0,
                    rst: flags & 0x04 != 0,
                }),
                payload: l4.get(doff..)?,
            })
        }
        17 => {
            // Only the plain case: the UDP length matches the IP payload exactly.
            if usize::from(be16(l4, 4)?) != l4.len() || l4.len() < 8 {
                return None;
            }
            Some(Packet {
                src,
                dst,
                src_port: be16(l4, 0)?,
                dst_port: be16(l4, 2)?,
                transport: Transport::Udp,
                payload: l4.get(8..)?,
            })
        }
        _ => None,
    }
}

/// Any link type, through etherparse.
pub fn decode_general(link: LinkType, frame: &[u8]) -> Result<Packet<'_>, Skip> {
    let sliced = slice_link(link, frame)?;
    let (src, dst, ip_payload) = match &sliced.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            (
                IpAddr::V4(Ipv4Addr::from(h.source())),
                IpAddr::V4(Ipv4Addr::from(h.destination())),
                v4.payload(),
            )
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            (
                IpAddr::V6(Ipv6Addr::from(h.source())),
                IpAddr::V6(Ipv6Addr::from(h.destination())),
                v6.payload(),
            )
        }
        Some(LaxNetSlice::Arp(_)) => return Err(Skip::NotTcpUdp),
        None => return Err(stopped(&sliced.stop_err)),
    };
    // A fragment cut short cannot be put back together: it is truncated, as any cut frame.
    if ip_payload.incomplete {
        return Err(Skip::Truncated);
    }
    if ip_payload.fragmented {
        return Err(Skip::Fragment);
    }
    match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => Ok(tcp_packet(src, dst, tcp)),
        Some(TransportSlice::Udp(udp)) => Ok(udp_packet(src, dst, udp)),
        Some(_) => Err(Skip::NotTcpUdp),
        None => Err(stopped(&sliced.stop_err)),
    }
}

/// Why etherparse stopped before the transport layer: a header cut by the end of the frame (the
/// snap length) is `Truncated`, as a cut payload is; a header that contradicts itself (a length
/// field too small, a bad version) is `Malformed`; nothing to stop on means a protocol we do not
/// read. Before this, a snap length that cut an IPv6 or optioned header was counted as malformed.
fn stopped(stop: &Option<(etherparse::err::packet::SliceError, etherparse::err::Layer)>) -> Skip {
    use etherparse::err::packet::SliceError;
    match stop {
        Some((SliceError::Len(e), _)) if e.len_source == etherparse::LenSource::Slice => Skip::Truncated,
        Some(_) => Skip::Malformed,
        None => Skip::NotTcpUdp,
    }
}

/// One IP fragment, as the defragmenter needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4's 16-bit identification or IPv6's 32-bit one.
    pub id: u32,
    /// The transport protocol of the whole datagram.
    pub proto: u8,
    /// Byte offset of this fragment's payload in the datagram's payload.
    pub offset: u32,
    pub more: bool,
    pub payload: &'a [u8],
}

impl Fragment<'_> {
    /// Whether it is part of a UDP datagram.
    pub fn is_udp(&self) -> bool {
        etherparse::IpNumber(self.proto) == etherparse::IpNumber::UDP
    }
}

/// The fragment a frame carries, for a frame that [`decode`] refused as [`Skip::Fragment`].
pub fn fragment(link: LinkType, frame: &[u8]) -> Option<Fragment<'_>> {
    let sliced = slice_link(link, frame).ok()?;
    match &sliced.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            let p = v4.payload();
            if p.incomplete || !p.fragmented {
                return None;
            }
            Some(Fragment {
                src: IpAddr::V4(Ipv4Addr::from(h.source())),
                dst: IpAddr::V4(Ipv4Addr::from(h.destination())),
                id: u32::from(h.identification()),
                proto: p.ip_number.0,
                offset: u32::from(h.fragments_offset().byte_offset()),
                more: h.more_fragments(),
                payload: p.payload,
            })
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            let p = v6.payload();
            if p.incomplete || !p.fragmented {
                return None;
            }
            let frag = v6.extensions().clone().into_iter().find_map(|e| match e {
                etherparse::Ipv6ExtensionSlice::Fragment(f) => Some(f),
                _ => None,
            })?;
            Some(Fragment {
                src: IpAddr::V6(Ipv6Addr::from(h.source())),
                dst: IpAddr::V6(Ipv6Addr::from(h.destination())),
                id: frag.identification(),
                proto: p.ip_number.0,
                offset: u32::from(frag.fragment_offset().byte_offset()),
                more: frag.more_fragments(),
                payload: p.payload,
            })
        }
        _ => None,
    }
}

fn tcp_packet<'a>(src: IpAddr, dst: IpAddr, tcp: &etherparse::TcpSlice<'a>) -> Packet<'a> {
    Packet {
        src,
        dst,
        src_port: tcp.source_port(),
        dst_port: tcp.destination_port(),
        transport: Transport::Tcp(TcpInfo {
            seq: tcp.sequence_number(),
            ack: tcp.acknowledgment_number(),
            syn: tcp.syn(),
            ack_flag: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
        }),
        payload: tcp.payload(),
    }
}

fn udp_packet<'a>(src: IpAddr, dst: IpAddr, udp: &etherparse::UdpSlice<'a>) -> Packet<'a> {
    Packet {
        src,
        dst,
        src_port: udp.source_port(),
        dst_port: udp.destination_port(),
        transport: Transport::Udp,
        payload: udp.payload(),
    }
}

/// Decodes a transport segment (TCP or UDP header and payload) carried by `src` → `dst`: the
/// payload of a datagram put back together from fragments.
pub fn transport(src: IpAddr, dst: IpAddr, proto: u8, segment: &[u8]) -> Result<Packet<'_>, Skip> {
    match etherparse::IpNumber(proto) {
        etherparse::IpNumber::TCP => {
            let tcp = etherparse::TcpSlice::from_slice(segment).map_err(|_| Skip::Malformed)?;
            Ok(tcp_packet(src, dst, &tcp))
        }
        etherparse::IpNumber::UDP => {
            let udp = etherparse::UdpSlice::from_slice(segment).map_err(|_| Skip::Malformed)?;
            Ok(udp_packet(src, dst, &udp))
        }
        _ => Err(Skip::NotTcpUdp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, PacketBuilderStep};

    #[test]
    fn dlt_is_the_number_from_dlt_reads_back() {
        for link in LinkType::ALL {
            assert_eq!(LinkType::from_dlt(i32::from(link.dlt())), Some(link), "{link:?}");
        }
        assert_eq!(LinkType::RawIp.dlt(), 101);
        assert_eq!(LinkType::LinuxSll2.dlt(), 276);
    }

    fn tcp_v4(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [198, 51, 100, 7], 64)
            .tcp(40000, 3333, 1000, 65535)
            .ack(77)
            .psh();
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    #[test]
    fn ethernet_ipv4_tcp() {
        let frame = tcp_v4(b"{\"id\":1}\n");
        let p = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(p.src, "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(p.dst, "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!((p.src_port, p.dst_port), (40000, 3333));
        assert_eq!(p.payload, b"{\"id\":1}\n");
        match p.transport {
            Transport::Tcp(t) => {
                assert_eq!(t.seq, 1000);
                assert_eq!(t.ack, 77);
                assert!(t.ack_flag && !t.syn && !t.fin && !t.rst);
            }
            Transport::Udp => panic!("expected tcp"),
        }
    }

    #[test]
    fn snap_length_cut_is_truncated_not_an_error() {
        let frame = tcp_v4(&[b'x'; 100]);
        for cut in [0, 5, 14, 20, 40, 54, 60, frame.len() - 1] {
            let r = decode(LinkType::Ethernet, &frame[..cut]);
            assert!(matches!(r, Err(Skip::Truncated) | Err(Skip::Malformed)), "cut {cut}: {r:?}");
        }
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        let mut frame = tcp_v4(b"");
        frame.extend_from_slice(&[0u8; 6]);
        let p = decode(LinkType::Ethernet, &frame).unwrap();
        assert!(p.payload.is_empty());
    }

    #[test]
    fn vlan_and_qinq() {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .double_vlan(etherparse::VlanId::try_new(10).unwrap(), etherparse::VlanId::try_new(20).unwrap())
            .ipv6([0xfd; 16], [0x20; 16], 64)
            .tcp(1, 2, 3, 4);
        let mut frame = Vec::new();
        b.write(&mut frame, b"hi").unwrap();
        let p = decode(LinkType::Ethernet, &frame).unwrap();
        assert!(p.src.is_ipv6());
        assert_eq!(p.payload, b"hi");
    }

    #[test]
    fn raw_sll_sll2_and_loopback() {
        let b = PacketBuilder::ipv4([192, 168, 1, 2], [8, 8, 8, 8], 64).udp(5353, 53);
        let mut ip = Vec::new();
        b.write(&mut ip, b"q").unwrap();

        let p = decode(LinkType::RawIp, &ip).unwrap();
        assert_eq!((p.src_port, p.transport), (5353, Transport::Udp));

        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
        sll.extend_from_slice(&ip);
        assert_eq!(decode(LinkType::LinuxSll, &sll).unwrap().payload, b"q");

        let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0];
        sll2.extend_from_slice(&ip);
        assert_eq!(decode(LinkType::LinuxSll2, &sll2).unwrap().payload, b"q");

        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(&ip);
        assert_eq!(decode(LinkType::Null, &null).unwrap().payload, b"q");
        let mut lo = 2u32.to_be_bytes().to_vec();
        lo.extend_from_slice(&ip);
        assert_eq!(decode(LinkType::Loop, &lo).unwrap().payload, b"q");
        let mut other = 99u32.to_le_bytes().to_vec();
        other.extend_from_slice(&ip);
        assert_eq!(decode(LinkType::Null, &other), Err(Skip::NotTcpUdp));
    }

    #[test]
    fn fast_path_agrees_with_etherparse() {
        let mut frames = vec![tcp_v4(b"{\"id\":1}\n"), tcp_v4(b""), tcp_v4(&[7u8; 1400])];
        let b =
            PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4([10, 0, 0, 1], [10, 0, 0, 53], 64).udp(5353, 53);
        let mut udp = Vec::new();
        b.write(&mut udp, b"query").unwrap();
        frames.push(udp);
        // Tagged (802.1Q, priority-tagged VLAN 0, QinQ) and IPv6 frames take the fast path too.
        let v6 = |b: PacketBuilderStep<etherparse::Ethernet2Header>| {
            let mut out = Vec::new();
            b.ipv6([0xfd; 16], [0x20; 16], 64)
                .tcp(40000, 443, 5, 1000)
                .ack(9)
                .write(&mut out, b"hello")
                .unwrap();
            out
        };
        frames.push(v6(PacketBuilder::ethernet2([1; 6], [2; 6])));
        let mut out = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .single_vlan(etherparse::VlanId::try_new(0).unwrap())
            .ipv4([10, 0, 0, 1], [10, 0, 0, 53], 64)
            .udp(5353, 53)
            .write(&mut out, b"query")
            .unwrap();
        frames.push(out);
        let mut out = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .double_vlan(etherparse::VlanId::try_new(100).unwrap(), etherparse::VlanId::try_new(7).unwrap())
            .ipv6([0xfd; 16], [0x20; 16], 64)
            .udp(5353, 53)
            .write(&mut out, b"query")
            .unwrap();
        frames.push(out);
        let mut x: u32 = 99;
        let mut checked = 0;
        for base in &frames {
            assert_eq!(fast_ethernet(base), decode_general(LinkType::Ethernet, base).ok());
            assert!(fast_ethernet(base).is_some(), "the fast path reads {base:02x?}");
            // Flip single bytes in the headers and cut frames short: whenever the fast path
            // answers, etherparse gives the very same packet.
            for _ in 0..4000 {
                let mut f = base.clone();
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let at = (x >> 8) as usize % 80.min(f.len());
                f[at] = (x >> 20) as u8;
                if x % 7 == 0 {
                    f.truncate((x >> 4) as usize % f.len());
                }
                if let Some(p) = fast_ethernet(&f) {
                    assert_eq!(Ok(p), decode_general(LinkType::Ethernet, &f), "byte {at}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 3000, "{checked}");
    }

    #[test]
    fn fragments_and_truncation_fall_back() {
        let mut f = tcp_v4(b"abc");
        f[14 + 6] |= 0x20; // more fragments
        assert_eq!(fast_ethernet(&f), None);
        assert_eq!(decode(LinkType::Ethernet, &f), Err(Skip::Fragment));
        let f = tcp_v4(b"abcdef");
        assert_eq!(fast_ethernet(&f[..f.len() - 2]), None);
        assert_eq!(decode(LinkType::Ethernet, &f[..f.len() - 2]), Err(Skip::Truncated));
    }

    /// Well-formed frames of every shape an edge link carries decode to their packet: none is
    /// called malformed (issue 21 asked where 309 `malformed` frames came from).
    #[test]
    fn well_formed_frames_are_never_malformed() {
        use etherparse::{IpNumber, Ipv4Header, Ipv4Options, Ipv6Extensions, Ipv6Header, Ipv6RawExtHeader};
        use etherparse::{TcpHeader, TcpOptionElement};
        let mut frames: Vec<(&str, Vec<u8>)> = Vec::new();
        let eth = || PacketBuilder::ethernet2([1; 6], [2; 6]);
        let write = |b: PacketBuilderStep<etherparse::TcpHeader>, payload: &[u8]| {
            let mut out = Vec::new();
            b.write(&mut out, payload).unwrap();
            out
        };
        // IPv6 extension headers before TCP: hop-by-hop, destination options, routing.
        for (name, ext) in [
            ("ipv6 hop-by-hop", 0u8),
            ("ipv6 destination options", 60),
            ("ipv6 routing", 43),
            ("ipv6 hop-by-hop + destination options", 1),
        ] {
            let pad = [1u8, 4, 0, 0, 0, 0];
            let mut x = Ipv6Extensions::default();
            let raw = Ipv6RawExtHeader::new_raw(IpNumber::TCP, &pad).unwrap();
            match ext {
                0 => x.hop_by_hop_options = Some(raw),
                60 => x.destination_options = Some(raw),
                43 => {
                    x.routing = Some(etherparse::Ipv6RoutingExtensions {
                        routing: Ipv6RawExtHeader::new_raw(IpNumber::TCP, &[0, 0, 0, 0, 0, 0]).unwrap(),
                        final_destination_options: None,
                    })
                }
                _ => {
                    x.hop_by_hop_options = Some(raw.clone());
                    x.destination_options = Some(raw);
                }
            }
            let h = Ipv6Header {
                next_header: IpNumber::TCP,
                hop_limit: 64,
                source: [0xfd; 16],
                destination: [0x20; 16],
                ..Default::default()
            };
            let b = eth().ip(etherparse::IpHeaders::Ipv6(h, x)).tcp(40000, 443, 1, 1000).ack(2);
            frames.push((name, write(b, b"hello")));
        }
        // VLAN: 802.1Q, priority-tagged (VLAN 0), QinQ (802.1ad outer).
        let vid = |v| etherparse::VlanId::try_new(v).unwrap();
        frames.push((
            "802.1Q",
            write(eth().single_vlan(vid(10)).ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).tcp(1, 2, 3, 4), b"hi"),
        ));
        frames.push((
            "VLAN 0",
            write(eth().single_vlan(vid(0)).ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).tcp(1, 2, 3, 4), b"hi"),
        ));
        frames.push((
            "QinQ",
            write(
                eth().double_vlan(vid(100), vid(0)).ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).tcp(1, 2, 3, 4),
                b"hi",
            ),
        ));
        // TCP options: MSS, SACK permitted, timestamps, window scale; and SACK blocks.
        let b = eth()
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(1, 2, 3, 4)
            .options(&[
                TcpOptionElement::MaximumSegmentSize(1460),
                TcpOptionElement::SelectiveAcknowledgementPermitted,
                TcpOptionElement::Timestamp(1, 2),
                TcpOptionElement::Noop,
                TcpOptionElement::WindowScale(7),
            ])
            .unwrap();
        frames.push(("TCP options", write(b, b"hi")));
        let b = eth()
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(1, 2, 3, 4)
            .options(&[TcpOptionElement::SelectiveAcknowledgement((10, 20), [Some((30, 40)), None, None])])
            .unwrap();
        frames.push(("TCP SACK", write(b, b"hi")));
        // IPv4 options (router alert, padded to 4 bytes).
        let mut h = Ipv4Header::new(0, 64, IpNumber::TCP, [10, 0, 0, 1], [10, 0, 0, 2]).unwrap();
        h.options = Ipv4Options::from([0x94, 0x04, 0, 0]);
        let b = eth().ip(etherparse::IpHeaders::Ipv4(h, Default::default())).tcp(1, 2, 3, 4);
        frames.push(("IPv4 options", write(b, b"hi")));
        // A short frame padded to Ethernet's 60 bytes, IPv4 and tagged.
        let mut f = write(eth().ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).tcp(1, 2, 3, 4), b"");
        f.resize(60, 0);
        frames.push(("padded", f));
        let mut f =
            write(eth().single_vlan(vid(5)).ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).tcp(1, 2, 3, 4), b"");
        f.resize(64, 0);
        frames.push(("padded tagged", f));
        // A jumbo frame (9000-byte MTU), and a frame with its FCS kept.
        frames.push((
            "jumbo",
            write(eth().ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).tcp(1, 2, 3, 4), &[7u8; 8960]),
        ));
        let mut f = write(eth().ipv6([0xfd; 16], [0x20; 16], 64).tcp(1, 2, 3, 4), b"hi");
        f.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        frames.push(("IPv6 with FCS", f));
        let _ = TcpHeader::default();
        for (name, f) in &frames {
            let p = decode(LinkType::Ethernet, f);
            assert!(p.is_ok(), "{name}: {p:?}");
            assert_eq!(Ok(*p.as_ref().unwrap()), decode_general(LinkType::Ethernet, f), "{name}");
        }
    }

    /// A frame cut by the capture's snap length anywhere past the Ethernet header is
    /// `Truncated` (what it is), not `Malformed`: old captures were often taken with 68 or 96
    /// bytes, which cuts IPv6 and optioned headers.
    #[test]
    fn a_snap_length_cut_anywhere_is_truncated() {
        let mut frames = vec![tcp_v4(&[b'x'; 100])];
        let mut f = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .single_vlan(etherparse::VlanId::try_new(7).unwrap())
            .ipv6([0xfd; 16], [0x20; 16], 64)
            .tcp(1, 2, 3, 4)
            .options(&[etherparse::TcpOptionElement::Timestamp(1, 2)])
            .unwrap()
            .write(&mut f, &[b'y'; 100])
            .unwrap();
        frames.push(f);
        let mut f = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv6([0xfd; 16], [0x20; 16], 64)
            .udp(1, 53)
            .write(&mut f, b"answer")
            .unwrap();
        frames.push(f);
        for frame in &frames {
            for cut in 1..frame.len() {
                let r = decode(LinkType::Ethernet, &frame[..cut]);
                assert_eq!(r, Err(Skip::Truncated), "cut at {cut} of {}", frame.len());
            }
        }
    }

    /// A fragment cut short by the snap length is truncated too; a whole one is a fragment.
    #[test]
    fn a_cut_fragment_is_truncated() {
        let mut f = tcp_v4(&[b'z'; 64]);
        f[14 + 6] |= 0x20; // more fragments
        assert_eq!(decode(LinkType::Ethernet, &f), Err(Skip::Fragment));
        assert!(fragment(LinkType::Ethernet, &f).is_some());
        assert_eq!(decode(LinkType::Ethernet, &f[..f.len() - 10]), Err(Skip::Truncated));
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u32 = 12345;
        for len in 0..300 {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (x >> 16) as u8
                })
                .collect();
            for link in LinkType::ALL {
                let _ = decode(link, &buf);
            }
        }
    }
}
