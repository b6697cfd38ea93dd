//! Frame building: link header, optional VLAN tags, IPv4 or IPv6 (optionally with one extension
//! header), then TCP or UDP with correct lengths and checksums.
//!
//! Everything from the IP header down is written by etherparse's `PacketBuilder`, so checksums
//! are computed by the same library the decoder uses to read them; only the two link headers
//! it does not know (Linux SLL2 and BSD loopback) are written here by hand. One [`Framer`] reuses
//! a single buffer for every frame, so building a packet allocates nothing once warmed up.

use std::io;
use std::net::{IpAddr, SocketAddr};

use etherparse::{
    ip_number, IpHeaders, Ipv4Extensions, Ipv4Header, Ipv6Extensions, Ipv6FlowLabel, Ipv6Header,
    Ipv6RawExtHeader, LinuxSllPacketType, PacketBuilder, PacketBuilderStep, TcpOptionElement, VlanId,
};

use minewatch::decode::LinkType;

/// How frames are encapsulated below IP. One value per capture file, since a pcap file has one
/// link type; the VLAN variants are all Ethernet (link type 1) on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Link {
    /// Ethernet II.
    Ethernet,
    /// Ethernet II with one 802.1Q tag.
    Vlan(u16),
    /// Ethernet II with an 802.1ad outer tag (0x88a8) and an 802.1Q inner tag.
    QinQ { outer: u16, inner: u16 },
    /// No link header: the frame starts with the IP header.
    Raw,
    /// Linux cooked capture v1 (16-byte header).
    LinuxSll,
    /// Linux cooked capture v2 (20-byte header).
    LinuxSll2,
    /// BSD loopback: a 4-byte little-endian address family, as macOS writes it.
    Null,
}

impl Link {
    /// The capture header's link type for frames built with this encapsulation.
    pub fn link_type(self) -> LinkType {
        match self {
            Link::Ethernet | Link::Vlan(_) | Link::QinQ { .. } => LinkType::Ethernet,
            Link::Raw => LinkType::RawIp,
            Link::LinuxSll => LinkType::LinuxSll,
            Link::LinuxSll2 => LinkType::LinuxSll2,
            Link::Null => LinkType::Null,
        }
    }
}

/// An IPv6 extension header to put between the IPv6 header and TCP/UDP. Decoders that look only
/// at the fixed header's next-header field miss such packets, which is why captures carry them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Ipv6Ext {
    #[default]
    None,
    /// Hop-by-hop options (next header 0) holding one PadN option.
    HopByHop,
    /// Destination options (next header 60) holding one PadN option.
    DestOpts,
}

/// TCP flag bits, as in the header's flags byte.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);

    pub const fn union(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | other.0)
    }

    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

/// The TCP fields a caller chooses; lengths, data offset and checksum are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpSeg {
    pub seq: u32,
    /// The acknowledgment number; it is only meaningful with [`TcpFlags::ACK`].
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// Advertise this MSS (plus window scale and SACK-permitted), as SYNs from real stacks do.
    pub mss_option: Option<u16>,
}

/// Builds frames into one reusable buffer.
#[derive(Debug)]
pub struct Framer {
    link: Link,
    v6_ext: Ipv6Ext,
    /// IPv4 identification: counts up per frame, as most stacks do, so frames differ like real ones.
    ip_id: u16,
    ttl: u8,
    buf: Vec<u8>,
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn build_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e.to_string())
}

/// Whether an address belongs to a private or local range: used only to pick plausible MAC
/// addresses and SLL packet types, never to decide anything about mining.
fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// A locally administered MAC for a host on the capture's LAN, derived from its address so every
/// host keeps one MAC; remote hosts are all behind one router MAC, as on a real LAN.
fn mac_for(ip: IpAddr) -> [u8; 6] {
    if !is_local(ip) {
        return [0x02, 0x00, 0x5e, 0x00, 0x00, 0x01];
    }
    let tail = match ip {
        IpAddr::V4(v4) => v4.octets(),
        IpAddr::V6(v6) => {
            let o = v6.octets();
            [o[12], o[13], o[14], o[15]]
        }
    };
    [0x02, 0x42, tail[0], tail[1], tail[2], tail[3]]
}

/// PadN option filling the 6 bytes after an extension header's next-header and length fields.
const PADN6: [u8; 6] = [1, 4, 0, 0, 0, 0];

impl Framer {
    pub fn new(link: Link) -> Framer {
        Framer { link, v6_ext: Ipv6Ext::None, ip_id: 0x1c46, ttl: 64, buf: Vec::with_capacity(2048) }
    }

    /// Adds `ext` to every IPv6 frame built from now on (IPv4 frames are unaffected).
    pub fn with_ipv6_ext(mut self, ext: Ipv6Ext) -> Framer {
        self.v6_ext = ext;
        self
    }

    /// The IPv4 TTL / IPv6 hop limit written from now on.
    pub fn set_ttl(&mut self, ttl: u8) {
        self.ttl = ttl;
    }

    pub fn link(&self) -> Link {
        self.link
    }

    /// Writes the link headers etherparse cannot (SLL2, loopback) and returns the builder step
    /// at the IP layer for the rest.
    fn start(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        proto: etherparse::IpNumber,
    ) -> io::Result<PacketBuilderStep<IpHeaders>> {
        self.buf.clear();
        let ip = match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let mut h = Ipv4Header::new(0, self.ttl, proto, s.octets(), d.octets()).map_err(build_err)?;
                h.identification = self.ip_id;
                h.dont_fragment = true;
                self.ip_id = self.ip_id.wrapping_add(1);
                IpHeaders::Ipv4(h, Ipv4Extensions::default())
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let h = Ipv6Header {
                    traffic_class: 0,
                    flow_label: Ipv6FlowLabel::ZERO,
                    payload_length: 0,
                    next_header: proto,
                    hop_limit: self.ttl,
                    source: s.octets(),
                    destination: d.octets(),
                };
                let mut ext = Ipv6Extensions::default();
                // The next-header values given here are placeholders: the builder rewrites the
                // chain so that it ends in the transport protocol.
                match self.v6_ext {
                    Ipv6Ext::None => {}
                    Ipv6Ext::HopByHop => {
                        ext.hop_by_hop_options =
                            Some(Ipv6RawExtHeader::new_raw(proto, &PADN6).map_err(build_err)?);
                    }
                    Ipv6Ext::DestOpts => {
                        ext.destination_options =
                            Some(Ipv6RawExtHeader::new_raw(proto, &PADN6).map_err(build_err)?);
                    }
                }
                IpHeaders::Ipv6(h, ext)
            }
            _ => return Err(invalid("source and destination are different IP versions")),
        };
        let v6 = matches!(src, IpAddr::V6(_));
        let src_mac = mac_for(src);
        let dst_mac = mac_for(dst);
        let sll_type = if is_local(src) { LinuxSllPacketType::OUTGOING } else { LinuxSllPacketType::HOST };
        let vid = |v: u16| VlanId::try_new(v).map_err(build_err);
        Ok(match self.link {
            Link::Ethernet => PacketBuilder::ethernet2(src_mac, dst_mac).ip(ip),
            Link::Vlan(v) => PacketBuilder::ethernet2(src_mac, dst_mac).single_vlan(vid(v)?).ip(ip),
            Link::QinQ { outer, inner } => {
                PacketBuilder::ethernet2(src_mac, dst_mac).double_vlan(vid(outer)?, vid(inner)?).ip(ip)
            }
            Link::LinuxSll => {
                let mut addr = [0u8; 8];
                addr[..6].copy_from_slice(&src_mac);
                PacketBuilder::linux_sll(sll_type, 6, addr).ip(ip)
            }
            Link::LinuxSll2 => {
                let proto: u16 = if v6 { 0x86dd } else { 0x0800 };
                self.buf.extend_from_slice(&proto.to_be_bytes());
                self.buf.extend_from_slice(&[0, 0]); // reserved
                self.buf.extend_from_slice(&2u32.to_be_bytes()); // interface index
                self.buf.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
                self.buf.push(sll_type_byte(sll_type));
                self.buf.push(6);
                self.buf.extend_from_slice(&src_mac);
                self.buf.extend_from_slice(&[0, 0]);
                PacketBuilder::ip(ip)
            }
            Link::Null => {
                // AF_INET is 2 everywhere; AF_INET6 is 30 on macOS, the usual source of such files.
                let family: u32 = if v6 { 30 } else { 2 };
                self.buf.extend_from_slice(&family.to_le_bytes());
                PacketBuilder::ip(ip)
            }
            Link::Raw => PacketBuilder::ip(ip),
        })
    }

    /// One TCP frame from `src` to `dst`. The returned slice lives until the next call.
    pub fn tcp(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSeg,
        payload: &[u8],
    ) -> io::Result<&[u8]> {
        let step = self.start(src.ip(), dst.ip(), ip_number::TCP)?;
        let mut t = step.tcp(src.port(), dst.port(), seg.seq, seg.window);
        let f = seg.flags;
        if f.contains(TcpFlags::ACK) {
            t = t.ack(seg.ack);
        }
        if f.contains(TcpFlags::SYN) {
            t = t.syn();
        }
        if f.contains(TcpFlags::FIN) {
            t = t.fin();
        }
        if f.contains(TcpFlags::RST) {
            t = t.rst();
        }
        if f.contains(TcpFlags::PSH) {
            t = t.psh();
        }
        if let Some(mss) = seg.mss_option {
            t = t
                .options(&[
                    TcpOptionElement::MaximumSegmentSize(mss),
                    TcpOptionElement::SelectiveAcknowledgementPermitted,
                    TcpOptionElement::Noop,
                    TcpOptionElement::WindowScale(7),
                ])
                .map_err(build_err)?;
        }
        t.write(&mut self.buf, payload).map_err(build_err)?;
        Ok(&self.buf)
    }

    /// One UDP frame from `src` to `dst`. The returned slice lives until the next call.
    pub fn udp(&mut self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> io::Result<&[u8]> {
        let step = self.start(src.ip(), dst.ip(), ip_number::UDP)?;
        step.udp(src.port(), dst.port()).write(&mut self.buf, payload).map_err(build_err)?;
        Ok(&self.buf)
    }
}

fn sll_type_byte(t: LinuxSllPacketType) -> u8 {
    // Packet types are 0..=4 (host, broadcast, multicast, other host, outgoing).
    if t == LinuxSllPacketType::OUTGOING {
        4
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn seg(seq: u32, ack: u32) -> TcpSeg {
        TcpSeg { seq, ack, flags: TcpFlags::ACK.union(TcpFlags::PSH), window: 502, mss_option: None }
    }

    /// Parses a frame as etherparse would for the link type and returns (src, dst, seq, ack, payload).
    fn parse(link: Link, frame: &[u8]) -> (SocketAddr, SocketAddr, u32, u32, Vec<u8>, bool) {
        let p = match link {
            Link::Ethernet | Link::Vlan(_) | Link::QinQ { .. } => SlicedPacket::from_ethernet(frame).unwrap(),
            Link::LinuxSll => SlicedPacket::from_linux_sll(frame).unwrap(),
            Link::Raw => SlicedPacket::from_ip(frame).unwrap(),
            Link::LinuxSll2 => SlicedPacket::from_ether_type(
                etherparse::EtherType(u16::from_be_bytes([frame[0], frame[1]])),
                &frame[20..],
            )
            .unwrap(),
            Link::Null => SlicedPacket::from_ip(&frame[4..]).unwrap(),
        };
        let (sip, dip): (IpAddr, IpAddr) = match p.net.unwrap() {
            NetSlice::Ipv4(v4) => (v4.header().source_addr().into(), v4.header().destination_addr().into()),
            NetSlice::Ipv6(v6) => (v6.header().source_addr().into(), v6.header().destination_addr().into()),
            NetSlice::Arp(_) => panic!("arp"),
        };
        match p.transport.unwrap() {
            TransportSlice::Tcp(t) => (
                SocketAddr::new(sip, t.source_port()),
                SocketAddr::new(dip, t.destination_port()),
                t.sequence_number(),
                t.acknowledgment_number(),
                t.payload().to_vec(),
                true,
            ),
            TransportSlice::Udp(u) => (
                SocketAddr::new(sip, u.source_port()),
                SocketAddr::new(dip, u.destination_port()),
                0,
                0,
                u.payload().to_vec(),
                false,
            ),
            _ => panic!("transport"),
        }
    }

    const LINKS: [Link; 7] = [
        Link::Ethernet,
        Link::Vlan(100),
        Link::QinQ { outer: 200, inner: 300 },
        Link::Raw,
        Link::LinuxSll,
        Link::LinuxSll2,
        Link::Null,
    ];

    #[test]
    fn tcp_frames_reparse_on_every_link_and_ip_version() {
        let pairs = [
            (addr("10.0.0.5:50000"), addr("198.51.100.7:3333")),
            (addr("[fd00::5]:50000"), addr("[2001:db8::7]:3333")),
        ];
        for link in LINKS {
            for ext in [Ipv6Ext::None, Ipv6Ext::HopByHop, Ipv6Ext::DestOpts] {
                let mut f = Framer::new(link).with_ipv6_ext(ext);
                for (c, s) in pairs {
                    let payload = b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n";
                    let frame = f.tcp(c, s, &seg(1000, 2000), payload).unwrap().to_vec();
                    let (ps, pd, seq, ack, pl, is_tcp) = parse(link, &frame);
                    assert!(is_tcp);
                    assert_eq!((ps, pd, seq, ack), (c, s, 1000, 2000), "{link:?} {ext:?}");
                    assert_eq!(pl, payload);
                }
            }
        }
    }

    #[test]
    fn tcp_checksum_is_valid() {
        let mut f = Framer::new(Link::Raw);
        let c = addr("192.168.1.2:40000");
        let s = addr("203.0.113.9:443");
        let frame = f.tcp(c, s, &seg(7, 9), b"hello").unwrap().to_vec();
        let p = SlicedPacket::from_ip(&frame).unwrap();
        let Some(TransportSlice::Tcp(t)) = p.transport else { panic!("not tcp") };
        let IpAddr::V4(sv4) = c.ip() else { panic!() };
        let IpAddr::V4(dv4) = s.ip() else { panic!() };
        let want = t.to_header().calc_checksum_ipv4_raw(sv4.octets(), dv4.octets(), b"hello").unwrap();
        assert_eq!(t.checksum(), want);
    }

    #[test]
    fn syn_carries_mss_option_and_flags() {
        let mut f = Framer::new(Link::Ethernet);
        let s = TcpSeg { seq: 1, ack: 0, flags: TcpFlags::SYN, window: 64240, mss_option: Some(1460) };
        let frame = f.tcp(addr("10.0.0.1:1"), addr("10.0.0.2:2"), &s, b"").unwrap().to_vec();
        let p = SlicedPacket::from_ethernet(&frame).unwrap();
        let Some(TransportSlice::Tcp(t)) = p.transport else { panic!("not tcp") };
        assert!(t.syn() && !t.ack() && !t.fin());
        assert_eq!(t.options()[..4], [2, 4, 0x05, 0xb4]);
    }

    #[test]
    fn vlan_ethertypes() {
        let mut f = Framer::new(Link::QinQ { outer: 5, inner: 6 });
        let frame = f.tcp(addr("10.0.0.1:1"), addr("10.0.0.2:2"), &seg(0, 0), b"").unwrap().to_vec();
        assert_eq!(&frame[12..14], &[0x88, 0xa8]);
        assert_eq!(&frame[16..18], &[0x81, 0x00]);
        assert_eq!(&frame[20..22], &[0x08, 0x00]);
        let mut f = Framer::new(Link::Vlan(5));
        let frame = f.tcp(addr("10.0.0.1:1"), addr("10.0.0.2:2"), &seg(0, 0), b"").unwrap().to_vec();
        assert_eq!(&frame[12..14], &[0x81, 0x00]);
        assert_eq!(&frame[14..16], &[0x00, 0x05]);
    }

    #[test]
    fn udp_reparses() {
        for link in LINKS {
            let mut f = Framer::new(link);
            let c = addr("10.0.0.5:53000");
            let s = addr("198.51.100.53:53");
            let frame = f.udp(c, s, b"dns").unwrap().to_vec();
            let (ps, pd, _, _, pl, is_tcp) = parse(link, &frame);
            assert!(!is_tcp);
            assert_eq!((ps, pd, pl.as_slice()), (c, s, &b"dns"[..]));
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let mut f = Framer::new(Link::Vlan(5000));
        assert!(f.tcp(addr("10.0.0.1:1"), addr("10.0.0.2:2"), &seg(0, 0), b"").is_err());
        let mut f = Framer::new(Link::Raw);
        assert!(f.tcp(addr("10.0.0.1:1"), addr("[::1]:2"), &seg(0, 0), b"").is_err());
        let big = vec![0u8; 70_000];
        assert!(f.tcp(addr("10.0.0.1:1"), addr("10.0.0.2:2"), &seg(0, 0), &big).is_err());
    }
}
