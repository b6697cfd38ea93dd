//! The edge mix (`mkbench --mix edge`): the traffic of a network edge where most flows carry a
//! handful of packets, so that what a sensor pays per flow (create, probe, decide, time out,
//! evict) dominates rather than what it pays per byte.
//!
//! Proportions per 1.2 GB, after issue 21's edge capture (3.74 M packets, mean frame ~305 bytes;
//! ~205 k TCP and ~46 k UDP flows, ~44 k of them DNS; ~20 k IPv6 and ~25 k VLAN-tagged flows;
//! ~9% of the bytes from captures of many protocols spliced in): DNS over UDP (some over IPv6,
//! some tagged, one answer in fifty larger than the MTU and so in IPv4 fragments, a quarter of
//! those trains last fragment first), inbound SYN scans (closed ports answer RST, open ones SYN-ACK and the scanner
//! resets, filtered ones nothing), one-request HTTP, short TLS page and API loads, a few long
//! TLS connections, a little QUIC and NTP, and whole captures spliced in: every file of a
//! `TRUTH.tsv` that raises nothing anywhere (`none`, client `*`), each splice on addresses of its
//! own (100.64.0.0/10 and fd00:5eed::/32, so a capture spliced twice is two sets of flows) and
//! tagged like the rest one time in ten. The same 200 mining sessions and 100 JSON-RPC
//! look-alikes as the standard mix hide in it.
//!
//! Spliced frames keep their own payloads and transport checksums (the addresses change, so the
//! TCP/UDP checksums no longer match; the IPv4 header checksum is recomputed). Deterministic
//! given the seed, the size and the spliced captures.

use std::collections::HashSet;
use std::fs;
use std::io::{self, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use minewatch::decode::{self, LinkType, Transport};
use minewatch::time::Ts;

use super::{
    Ctx, Flow, Pending, Tcp, K_DNS, K_HTTP, K_NTP, K_QUIC, K_SCAN, K_SPLICE, K_TLS, K_TLS_API, K_TLS_LONG,
};
use super::{PacketSink, Quic};
use crate::synth::frame::{Framer, Link, TcpFlags, TcpSeg};

/// New flows per second of capture time on the edge: 1.2 GB then spans about three minutes, so
/// idle timeouts and eviction come into play as on the standard mix.
pub(super) const EDGE_ARRIVALS_PER_SEC: f64 = 1_400.0;

/// One capture to splice: its frames as IP packets (link header removed), time relative to the
/// first, and the distinct addresses it uses (each becomes one address of a splice's own).
#[derive(Clone, Debug)]
pub struct Splice {
    pub name: String,
    frames: Vec<(i64, Vec<u8>)>,
    addrs: Vec<IpAddr>,
    /// Frame bytes once an Ethernet header is put back.
    pub bytes: u64,
}

/// The most distinct addresses a spliced capture may use (its addresses are renumbered into a
/// block of this many per splice).
const SPLICE_ADDRS: usize = 64;

/// Reads the whole-file negatives (`none` rows whose client is `*`) of each folder's
/// `TRUTH.tsv`: classic pcap, little-endian, microsecond files only (the others are skipped).
/// A folder without a `TRUTH.tsv` is skipped; files come out sorted by folder then name.
pub fn load_splices(dirs: &[&Path]) -> io::Result<Vec<Splice>> {
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(truth) = fs::read_to_string(dir.join("TRUTH.tsv")) else { continue };
        let mut names: Vec<&str> = truth
            .lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f.get(1) == Some(&"none") && f.get(3) == Some(&"*")).then_some(*f.first()?)
            })
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            if let Some(s) = read_splice(&dir.join(name), name)? {
                out.push(s);
            }
        }
    }
    Ok(out)
}

fn read_splice(path: &Path, name: &str) -> io::Result<Option<Splice>> {
    let data = fs::read(path)?;
    let Ok(cap) = pcap_parser::PcapCapture::from_file(&data) else { return Ok(None) };
    if cap.header.is_bigendian() || cap.header.is_nanosecond_precision() {
        return Ok(None);
    }
    let Some(link) = LinkType::from_dlt(cap.header.network.0) else { return Ok(None) };
    let mut frames = Vec::new();
    let mut addrs: Vec<IpAddr> = Vec::new();
    let mut first = None;
    let mut bytes = 0u64;
    for b in &cap.blocks {
        let Some(ip) = ip_of(link, b.data) else { continue };
        let Some((s, d)) = addresses(ip) else { continue };
        for a in [s, d] {
            if !addrs.contains(&a) {
                addrs.push(a);
            }
        }
        let ts = i64::from(b.ts_sec) * 1_000_000 + i64::from(b.ts_usec);
        let t0 = *first.get_or_insert(ts);
        frames.push(((ts - t0).max(0), ip.to_vec()));
        bytes += 14 + ip.len() as u64;
    }
    if frames.is_empty() || addrs.len() > SPLICE_ADDRS {
        return Ok(None);
    }
    Ok(Some(Splice { name: name.to_string(), frames, addrs, bytes }))
}

/// The IP packet inside a frame of `link`, past any VLAN tags.
fn ip_of(link: LinkType, frame: &[u8]) -> Option<&[u8]> {
    let ip = match link {
        LinkType::Ethernet => {
            let mut at = 12;
            while matches!(frame.get(at..at + 2)?, [0x81, 0x00] | [0x88, 0xa8]) {
                at += 4;
            }
            frame.get(at + 2..)?
        }
        LinkType::RawIp => frame,
        LinkType::LinuxSll => frame.get(16..)?,
        LinkType::LinuxSll2 => frame.get(20..)?,
        LinkType::Null | LinkType::Loop => frame.get(4..)?,
    };
    matches!(ip.first()? >> 4, 4 | 6).then_some(ip)
}

fn addresses(ip: &[u8]) -> Option<(IpAddr, IpAddr)> {
    match ip.first()? >> 4 {
        4 => {
            let s: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
            let d: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
            Some((Ipv4Addr::from(s).into(), Ipv4Addr::from(d).into()))
        }
        _ => {
            let s: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let d: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            Some((Ipv6Addr::from(s).into(), Ipv6Addr::from(d).into()))
        }
    }
}

/// Where splice `inst` puts the capture's `idx`-th address.
fn renumber(orig: IpAddr, inst: u64, idx: usize) -> IpAddr {
    let n = inst.wrapping_mul(SPLICE_ADDRS as u64).wrapping_add(idx as u64);
    match orig {
        IpAddr::V4(_) => Ipv4Addr::from(0x6440_0000 | (n as u32 & 0x003f_ffff)).into(),
        IpAddr::V6(_) => {
            Ipv6Addr::new(0xfd00, 0x5eed, 0, 0, 0, (n >> 32) as u16, (n >> 16) as u16, n as u16).into()
        }
    }
}

/// One splice being written, a frame per step.
pub(super) struct SpliceRun {
    src: usize,
    pos: usize,
    start: i64,
    inst: u64,
    vlan: Option<u16>,
}

pub(super) fn splice_step(s: &mut SpliceRun, cx: &mut Ctx, out: &mut Pending) -> io::Result<Option<i64>> {
    let Some(src) = cx.splices.get(s.src) else { return Ok(None) };
    let Some((t, ip)) = src.frames.get(s.pos) else { return Ok(None) };
    let mut f = std::mem::take(&mut cx.scratch);
    f.clear();
    f.extend_from_slice(&[0x02, 0x00, 0x5e, 0x00, 0x00, 0x01, 0x02, 0x42, 0x64, 0x40, 0x00, 0x01]);
    if let Some(v) = s.vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&v.to_be_bytes());
    }
    let v4 = ip.first().is_some_and(|b| b >> 4 == 4);
    f.extend_from_slice(if v4 { &[0x08, 0x00] } else { &[0x86, 0xdd] });
    let at = f.len();
    f.extend_from_slice(ip);
    if let Some((a, b)) = addresses(ip) {
        let (ra, rb) = (rename(src, a, s.inst), rename(src, b, s.inst));
        match (ra, rb) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                if let Some(h) = f.get_mut(at + 12..at + 20) {
                    h[..4].copy_from_slice(&a.octets());
                    h[4..].copy_from_slice(&b.octets());
                }
                ipv4_checksum(&mut f[at..]);
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                if let Some(h) = f.get_mut(at + 8..at + 40) {
                    h[..16].copy_from_slice(&a.octets());
                    h[16..].copy_from_slice(&b.octets());
                }
            }
            _ => {}
        }
    }
    let ts = s.start + t;
    out.write_packet(Ts::from_micros(ts), &f)?;
    cx.scratch = f;
    s.pos += 1;
    Ok(src.frames.get(s.pos).map(|(t, _)| s.start + t))
}

fn rename(src: &Splice, a: IpAddr, inst: u64) -> IpAddr {
    let idx = src.addrs.iter().position(|x| *x == a).unwrap_or(0);
    renumber(a, inst, idx)
}

/// Recomputes an IPv4 header's checksum in place.
fn ipv4_checksum(ip: &mut [u8]) {
    let ihl = usize::from(ip.first().map_or(0, |b| b & 0x0f)) * 4;
    if ihl < 20 || ip.len() < ihl {
        return;
    }
    ip[10] = 0;
    ip[11] = 0;
    let mut sum: u32 = ip[..ihl].chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

/// A VLAN tag one flow in ten, as on a trunk port carrying a few VLANs (including priority-tagged
/// frames, VLAN 0).
fn maybe_vlan(cx: &mut Ctx) -> Link {
    if cx.chance(10) {
        Link::Vlan([0u16, 10, 20, 30, 100, 200][cx.rng.range(0, 5) as usize])
    } else {
        Link::Ethernet
    }
}

fn v6_client(cx: &mut Ctx) -> IpAddr {
    Ipv6Addr::new(0xfd00, 0x10, 0, 0, 0, 0, 0, 1 + cx.rng.range(0, 999) as u16).into()
}

/// A DNS query and its answer over IPv4 or IPv6, tagged or not.
fn edge_dns(cx: &mut Ctx, at: i64, out: &mut Pending) -> io::Result<()> {
    let link = maybe_vlan(cx);
    let v6 = cx.chance(10);
    let cport = cx.rng.range(32_768, 60_999) as u16;
    let (c, s) = if v6 {
        (
            SocketAddr::new(v6_client(cx), cport),
            SocketAddr::new(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x53).into(), 53),
        )
    } else {
        (SocketAddr::new(cx.client_v4(), cport), SocketAddr::new(Ipv4Addr::new(10, 0, 0, 53).into(), 53))
    };
    // One answer in fifty is larger than the MTU (DNSSEC, long chains, padding) and comes in
    // IPv4 fragments, one train in four last fragment first, as a resolver's may arrive.
    let big = (!v6 && cx.chance(2)).then(|| (cx.rng.range(1_500, 3_500) as usize, cx.chance(25)));
    let mut framer = Framer::new(link);
    super::dns_exchange(cx, &mut framer, c, s, at, out, big)
}

/// Writes an Ethernet (maybe tagged) IPv4 frame as fragments of a 1500-byte MTU, all at `ts`.
pub(super) fn write_fragmented(out: &mut Pending, ts: Ts, frame: &[u8], last_first: bool) -> io::Result<()> {
    let Some(ip) = ip_of(LinkType::Ethernet, frame) else { return out.write_packet(ts, frame) };
    let link = frame.len() - ip.len();
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let (head, l4) = (&frame[..link + ihl], &frame[link + ihl..]);
    let chunks: Vec<(usize, &[u8])> = l4.chunks(1480).enumerate().map(|(i, c)| (i * 1480, c)).collect();
    let n = chunks.len();
    let mut order: Vec<usize> = (0..n).collect();
    if last_first {
        order.reverse();
    }
    let mut f = Vec::with_capacity(1514 + 4);
    for k in order {
        let (off, part) = chunks[k];
        f.clear();
        f.extend_from_slice(head);
        f.extend_from_slice(part);
        let ip = &mut f[link..];
        ip[2..4].copy_from_slice(&((ihl + part.len()) as u16).to_be_bytes());
        let more = u16::from(k + 1 < n) << 13;
        ip[6..8].copy_from_slice(&(more | (off / 8) as u16).to_be_bytes());
        ipv4_checksum(ip);
        out.write_packet(ts, &f)?;
    }
    Ok(())
}

/// An inbound SYN scan probe: closed port (RST), open port (SYN-ACK, the scanner resets), or
/// filtered (no answer).
fn scan(cx: &mut Ctx, at: i64, out: &mut Pending) -> io::Result<()> {
    let link = maybe_vlan(cx);
    let v6 = cx.chance(9);
    let sport = cx.rng.range(32_768, 65_000) as u16;
    let dport = [22u16, 23, 80, 443, 445, 3389, 8080, 8443, 5900, 1433][cx.rng.range(0, 9) as usize]
        .wrapping_add(if cx.chance(50) { cx.rng.range(1, 20_000) as u16 } else { 0 });
    let (scanner, target): (IpAddr, IpAddr) = if v6 {
        (
            Ipv6Addr::new(0x2001, 0xdb8, 0x5ca, 0, 0, 0, 0, 1 + cx.rng.range(0, 99) as u16).into(),
            Ipv6Addr::new(0xfd00, 0x10, 0, 0, 0, 0, 0, 1 + cx.rng.range(0, 999) as u16).into(),
        )
    } else {
        (Ipv4Addr::from(0xc613_f000 + cx.rng.range(0, 255) as u32).into(), cx.client_v4())
    };
    let (a, b) = (SocketAddr::new(scanner, sport), SocketAddr::new(target, dport));
    let isn = cx.rng.next_u64() as u32;
    let seg = |seq, ack, flags, mss| TcpSeg { seq, ack, flags, window: 1024, mss_option: mss };
    let mut framer = Framer::new(link);
    out.write_packet(Ts::from_micros(at), framer.tcp(a, b, &seg(isn, 0, TcpFlags::SYN, Some(1460)), &[])?)?;
    let rtt = cx.rng.range(5_000, 120_000) as i64;
    match cx.rng.range(0, 9) {
        0..=5 => {
            let f = framer.tcp(
                b,
                a,
                &seg(0, isn.wrapping_add(1), TcpFlags::RST.union(TcpFlags::ACK), None),
                &[],
            )?;
            out.write_packet(Ts::from_micros(at + rtt), f)?;
        }
        6..=7 => {
            let sisn = cx.rng.next_u64() as u32;
            let synack = TcpFlags::SYN.union(TcpFlags::ACK);
            out.write_packet(
                Ts::from_micros(at + rtt),
                framer.tcp(b, a, &seg(sisn, isn.wrapping_add(1), synack, Some(1400)), &[])?,
            )?;
            let f = framer.tcp(a, b, &seg(isn.wrapping_add(1), 0, TcpFlags::RST, None), &[])?;
            out.write_packet(Ts::from_micros(at + 2 * rtt), f)?;
        }
        _ => {}
    }
    Ok(())
}

/// Starts a background flow of the edge mix at `at`: DNS and scans are written at once, the
/// others returned as flows.
pub(super) fn background_edge(cx: &mut Ctx, at: i64, out: &mut Pending) -> io::Result<Option<Flow>> {
    let r = cx.rng.range(0, 9_999);
    let kind = match r {
        0..=1_649 => K_DNS,
        1_650..=1_689 => K_QUIC,
        1_690..=1_709 => K_NTP,
        1_710..=3_939 => K_SCAN,
        3_940..=6_139 => K_HTTP,
        6_140..=8_339 => K_TLS,
        8_340..=9_199 => K_TLS_API,
        9_200..=9_249 => K_TLS_LONG,
        _ => K_SPLICE,
    };
    out.kind = kind;
    match kind {
        K_DNS => edge_dns(cx, at, out).map(|_| None),
        K_NTP => super::ntp(cx, at, out).map(|_| None),
        K_SCAN => scan(cx, at, out).map(|_| None),
        K_QUIC => {
            let v6 = cx.chance(15);
            let (c, s) = cx.pair(443, v6);
            Ok(Some(Flow::Quic(Quic { c, s, now: at, rounds: cx.rng.range(2, 8) as u32 })))
        }
        K_SPLICE => {
            if cx.splices.is_empty() {
                return Ok(None);
            }
            let src = cx.rng.range(0, cx.splices.len() as u64 - 1) as usize;
            let inst = cx.splice_count;
            cx.splice_count += 1;
            let vlan = match maybe_vlan(cx) {
                Link::Vlan(v) => Some(v),
                _ => None,
            };
            Ok(Some(Flow::Splice(Box::new(SpliceRun { src, pos: 0, start: at, inst, vlan }))))
        }
        _ => {
            let v6 = cx.chance(8);
            let link = maybe_vlan(cx);
            let port = if kind == K_HTTP { 80 } else { 443 };
            let (rounds, think) = match kind {
                K_TLS => (cx.rng.range(1, 3) as u32, (50, 1_000)),
                K_TLS_API => (1, (10, 100)),
                K_TLS_LONG => (cx.rng.range(5, 30) as u32, (2_000, 15_000)),
                _ => (1, (100, 1_000)),
            };
            let t = cx.conv_on(port, v6, at, link);
            Ok(Some(Flow::Tcp(Box::new(Tcp {
                t,
                kind,
                stage: 0,
                rounds,
                think_ms: think,
                xfer: None,
                edge: true,
            }))))
        }
    }
}

/// What a capture holds, counted from its frames (the edge mix's proportions are checked on
/// this, not on the generator's own bookkeeping).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Census {
    pub packets: u64,
    /// Frame bytes (record headers not counted).
    pub frame_bytes: u64,
    pub tcp_flows: u64,
    pub udp_flows: u64,
    /// UDP flows with port 53 on either side.
    pub dns_flows: u64,
    pub ipv6_flows: u64,
    /// Flows whose first frame carries a VLAN tag.
    pub vlan_flows: u64,
    /// Frame bytes on a splice's addresses (100.64.0.0/10, fd00:5eed::/32).
    pub spliced_bytes: u64,
    /// Frames that decode to no TCP/UDP packet (fragments, other protocols, damage).
    pub undecoded: u64,
}

type FlowKey = (bool, (IpAddr, u16), (IpAddr, u16));

/// Counts the flows of a classic little-endian Ethernet pcap stream. Memory grows with the
/// flows, not the bytes.
pub fn census<R: Read>(r: R) -> io::Result<Census> {
    let mut r = BufReader::with_capacity(1 << 20, r);
    let mut head = [0u8; 24];
    r.read_exact(&mut head)?;
    if head[..4] != [0xd4, 0xc3, 0xb2, 0xa1] || head[20..24] != [1, 0, 0, 0] {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "not a little-endian Ethernet pcap"));
    }
    let mut c = Census::default();
    let mut seen: HashSet<FlowKey> = HashSet::new();
    let mut rec = [0u8; 16];
    let mut frame = Vec::new();
    loop {
        match r.read_exact(&mut rec) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
        let len = u32::from_le_bytes([rec[8], rec[9], rec[10], rec[11]]) as usize;
        frame.resize(len, 0);
        r.read_exact(&mut frame)?;
        c.packets += 1;
        c.frame_bytes += len as u64;
        let Ok(p) = decode::decode(LinkType::Ethernet, &frame) else {
            c.undecoded += 1;
            continue;
        };
        if is_spliced(p.src) {
            c.spliced_bytes += len as u64;
        }
        let tcp = matches!(p.transport, Transport::Tcp(_));
        let (a, b) = ((p.src, p.src_port), (p.dst, p.dst_port));
        let key = if a <= b { (tcp, a, b) } else { (tcp, b, a) };
        if seen.insert(key) {
            if tcp {
                c.tcp_flows += 1;
            } else {
                c.udp_flows += 1;
                c.dns_flows += u64::from(p.src_port == 53 || p.dst_port == 53);
            }
            c.ipv6_flows += u64::from(p.src.is_ipv6());
            c.vlan_flows += u64::from(matches!(frame.get(12..14), Some([0x81, 0x00] | [0x88, 0xa8])));
        }
    }
    Ok(c)
}

fn is_spliced(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.octets()[0] == 100 && v4.octets()[1] & 0xc0 == 64,
        IpAddr::V6(v6) => v6.segments()[..2] == [0xfd00, 0x5eed],
    }
}

/// The folders whose whole-file negatives the edge mix splices in by default: the bundled
/// `pcaps/`, and each folder of the shared real-capture corpus (`../shared/corpus/*` beside the
/// repository) when it is there. The mix then depends on which of them were found: [`Splice`]
/// names are printed by `mkbench`.
pub fn default_splice_dirs() -> Vec<std::path::PathBuf> {
    default_splice_dirs_for(&Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
}

/// [`default_splice_dirs`] of the repository at `root`.
pub fn default_splice_dirs_for(root: &Path) -> Vec<std::path::PathBuf> {
    let mut dirs = vec![root.join("pcaps")];
    if let Ok(rd) = fs::read_dir(root.join("../shared/corpus")) {
        let mut more: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
        more.sort();
        dirs.extend(more);
    }
    dirs
}
