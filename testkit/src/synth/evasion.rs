//! Captures of the ways a stream can be made hard to read: conflicting overlaps, segments lost
//! before the capture (with and without the peer's ACK to say so), IP fragments in both IP
//! versions, keep-alives and zero-window probes, and a session that ends by going idle.
//!
//! These are written segment by segment with explicit sequence numbers (a [`Raw`] conversation),
//! because each case is about exactly which bytes reach the sensor in which order.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};

use etherparse::{IpFragOffset, IpNumber, Ipv4Header, Ipv6FragmentHeader, Ipv6Header};

use super::frame::{Framer, Link, TcpFlags, TcpSeg};
use super::msg::{self, Rng};
use super::pcap::PcapWriter;
use super::scenarios::Truth;
use super::PacketSink;
use minewatch::stratum::Variant;
use minewatch::time::Ts;

const ACK: TcpFlags = TcpFlags::ACK;
const PSH_ACK: TcpFlags = TcpFlags::PSH.union(TcpFlags::ACK);

/// A TCP conversation driven one segment at a time.
struct Raw<'w> {
    w: PcapWriter<&'w mut dyn Write>,
    f: Framer,
    client: SocketAddr,
    server: SocketAddr,
    /// Next sequence number of each side: [client, server].
    next: [u32; 2],
    now: Ts,
}

impl<'w> Raw<'w> {
    fn new(out: &'w mut dyn Write, client: &str, server: &str, start: Ts) -> io::Result<Raw<'w>> {
        Ok(Raw {
            w: PcapWriter::new(out, Link::Ethernet.link_type())?,
            f: Framer::new(Link::Ethernet),
            client: parse(client)?,
            server: parse(server)?,
            next: [1_000, 7_000_000],
            now: start,
        })
    }

    fn ends(&self, from_client: bool) -> (SocketAddr, SocketAddr, usize) {
        if from_client {
            (self.client, self.server, 0)
        } else {
            (self.server, self.client, 1)
        }
    }

    fn tick(&mut self, us: i64) {
        self.now = Ts(self.now.0 + us);
    }

    /// Writes one segment at an explicit sequence number.
    fn seg_at(
        &mut self,
        from_client: bool,
        seq: u32,
        flags: TcpFlags,
        data: &[u8],
        window: u16,
    ) -> io::Result<()> {
        let (src, dst, i) = self.ends(from_client);
        let ack = self.next.get(1 - i).copied().unwrap_or(0);
        let seg = TcpSeg { seq, ack, flags, window, mss_option: None };
        let frame = self.f.tcp(src, dst, &seg, data)?;
        self.w.write_packet(self.now, frame)?;
        self.tick(50);
        Ok(())
    }

    /// Sends `data` in order and advances the sender's sequence number.
    fn send(&mut self, from_client: bool, data: &[u8]) -> io::Result<()> {
        let i = usize::from(!from_client);
        let seq = self.next.get(i).copied().unwrap_or(0);
        self.seg_at(from_client, seq, PSH_ACK, data, 502)?;
        if let Some(n) = self.next.get_mut(i) {
            *n = n.wrapping_add(data.len() as u32);
        }
        Ok(())
    }

    /// The sender sends `data`, but the capture never sees it.
    fn lose(&mut self, from_client: bool, data: &[u8]) {
        let i = usize::from(!from_client);
        if let Some(n) = self.next.get_mut(i) {
            *n = n.wrapping_add(data.len() as u32);
        }
    }

    /// A pure ACK from one side, acknowledging all the other side sent.
    fn ack(&mut self, from_client: bool) -> io::Result<()> {
        let seq = self.next.get(usize::from(!from_client)).copied().unwrap_or(0);
        self.seg_at(from_client, seq, ACK, b"", 502)
    }

    fn handshake(&mut self) -> io::Result<()> {
        let [c, s] = self.next;
        let (client, server) = (self.client, self.server);
        let syn = TcpSeg { seq: c, ack: 0, flags: TcpFlags::SYN, window: 64240, mss_option: Some(1460) };
        let frame = self.f.tcp(client, server, &syn, b"")?;
        self.w.write_packet(self.now, frame)?;
        self.tick(30_000);
        let synack = TcpSeg {
            seq: s,
            ack: c.wrapping_add(1),
            flags: TcpFlags::SYN.union(TcpFlags::ACK),
            window: 65160,
            mss_option: Some(1460),
        };
        let frame = self.f.tcp(server, client, &synack, b"")?;
        self.w.write_packet(self.now, frame)?;
        self.tick(50);
        self.next = [c.wrapping_add(1), s.wrapping_add(1)];
        self.ack(true)
    }

    fn fin(&mut self) -> io::Result<()> {
        for from_client in [true, false] {
            let i = usize::from(!from_client);
            let seq = self.next.get(i).copied().unwrap_or(0);
            self.seg_at(from_client, seq, TcpFlags::FIN.union(TcpFlags::ACK), b"", 502)?;
            if let Some(n) = self.next.get_mut(i) {
                *n = n.wrapping_add(1);
            }
        }
        Ok(())
    }
}

fn parse(s: &str) -> io::Result<SocketAddr> {
    s.parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad socket address"))
}

fn line(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(b'\n');
    v
}

const BTC: &str = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";

fn start(minute: i64) -> Ts {
    Ts::from_micros(1_714_600_000_000_000 + minute * 60_000_000)
}

/// A Stratum v1 handshake after the TCP one: subscribe, its answer, authorize, its answer,
/// difficulty and one notify. `authorize` lets a case deliver the authorize line its own way.
fn sv1_open(
    r: &mut Raw<'_>,
    rng: &mut Rng,
    login: &str,
    authorize: &mut dyn FnMut(&mut Raw<'_>, &[u8]) -> io::Result<()>,
) -> io::Result<String> {
    r.send(true, &line(&msg::sv1_subscribe(1, "cpuminer/2.5.1", false)))?;
    r.send(false, &line(&msg::sv1_subscribe_result(1, &rng.hex(4))))?;
    authorize(r, &line(&msg::sv1_authorize(2, login, false)))?;
    r.send(false, &line(&msg::sv1_result_true(2)))?;
    r.send(false, &line(&msg::sv1_set_difficulty("0.01", false)))?;
    let (notify, ntime) = msg::sv1_notify(rng, "3c000001", 850_100, true, false);
    r.send(false, &line(&notify))?;
    Ok(ntime)
}

fn submits(
    r: &mut Raw<'_>,
    rng: &mut Rng,
    login: &str,
    ntime: &str,
    n: usize,
    gap_us: i64,
) -> io::Result<()> {
    for k in 0..n {
        r.tick(gap_us);
        r.send(true, &line(&msg::sv1_submit(login, "3c000001", ntime, &rng.hex(4), false)))?;
        r.send(false, &line(&msg::sv1_result_true(10 + k as u32)))?;
    }
    Ok(())
}

/// The authorize line is re-sent with different bytes over the login: the first copy wins.
pub(super) fn overlap_conflict(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let login = format!("{BTC}.first");
    let mut r = Raw::new(out, "10.30.0.1:50001", "198.51.100.31:3333", start(100))?;
    let mut rng = Rng::new(31);
    r.handshake()?;
    let ntime = sv1_open(&mut r, &mut rng, &login, &mut |r, auth| {
        let seq = r.next[0];
        // The line's tail arrives first and is held; then a copy of its middle whose bytes
        // differ over the login (a forged "retransmission"); then the head. Receivers disagree
        // on which copy counts; we keep what arrived first, so the login stays the tail's.
        let forged: Vec<u8> = auth.iter().map(|&b| if b == b'f' { b'X' } else { b }).collect();
        let n = auth.len();
        r.seg_at(true, seq.wrapping_add(30), PSH_ACK, auth.get(30..).unwrap_or(&[]), 502)?;
        r.seg_at(true, seq.wrapping_add(20), PSH_ACK, forged.get(20..n - 10).unwrap_or(&[]), 502)?;
        r.seg_at(true, seq, PSH_ACK, auth.get(..30).unwrap_or(&[]), 502)?;
        r.next[0] = seq.wrapping_add(n as u32);
        Ok(())
    })?;
    submits(&mut r, &mut rng, &login, &ntime, 2, 2_000_000)?;
    r.fin()?;
    truth.mining_between(
        Variant::StratumV1,
        r.client,
        r.server,
        &login,
        "the authorize arrives out of order: its tail first, then an overlapping copy whose bytes differ over the login, then its head; the first arrival wins (Suricata's 'first' policy), so the login is the tail's and the conflict is counted",
    );
    Ok(())
}

/// A client segment is lost before the capture; the pool's ACK shows it was delivered.
pub(super) fn lost_segment_acked(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let login = format!("{BTC}.gap");
    let mut r = Raw::new(out, "10.30.0.2:50002", "198.51.100.32:3333", start(110))?;
    let mut rng = Rng::new(32);
    r.handshake()?;
    r.send(true, &line(&msg::sv1_subscribe(1, "cpuminer/2.5.1", false)))?;
    r.send(false, &line(&msg::sv1_subscribe_result(1, &rng.hex(4))))?;
    // Half of an extranonce.subscribe line never reaches the sensor; the rest of the line and
    // the authorize follow in one segment.
    let ex = line(r#"{"id":3,"method":"mining.extranonce.subscribe","params":[]}"#);
    let (lost, rest) = ex.split_at(25);
    r.lose(true, lost);
    let mut seg = rest.to_vec();
    seg.extend_from_slice(&line(&msg::sv1_authorize(2, &login, false)));
    r.send(true, &seg)?;
    r.ack(false)?;
    r.send(false, &line(&msg::sv1_result_true(2)))?;
    let (notify, ntime) = msg::sv1_notify(&mut rng, "3c000002", 850_101, true, false);
    r.send(false, &line(&notify))?;
    submits(&mut r, &mut rng, &login, &ntime, 2, 1_500_000)?;
    r.fin()?;
    truth.mining_between(
        Variant::StratumV1,
        r.client,
        r.server,
        &login,
        "25 bytes of the miner's stream are lost before the capture; the pool's ACK covers them, so the hole is given up at once and the framer resynchronises at the next newline",
    );
    Ok(())
}

/// Only the miner's direction is captured, and one of its segments is lost: no ACK can tell,
/// so the hole is given up when it has waited too long.
pub(super) fn lost_segment_one_sided(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let login = format!("{BTC}.onesided");
    let mut r = Raw::new(out, "10.30.0.3:50003", "198.51.100.33:3333", start(120))?;
    let mut rng = Rng::new(33);
    let (client, server) = (r.client, r.server);
    let syn = TcpSeg { seq: r.next[0], ack: 0, flags: TcpFlags::SYN, window: 64240, mss_option: Some(1460) };
    let frame = r.f.tcp(client, server, &syn, b"")?;
    r.w.write_packet(r.now, frame)?;
    r.next[0] = r.next[0].wrapping_add(1);
    r.tick(40_000);
    r.lose(true, &line(&msg::sv1_subscribe(1, "cpuminer/2.5.1", false)));
    r.send(true, &line(&msg::sv1_authorize(2, &login, false)))?;
    let ntime = "6650a0b1";
    for _ in 0..4 {
        r.tick(5_000_000);
        r.send(true, &line(&msg::sv1_submit(&login, "3c000003", ntime, &rng.hex(4), false)))?;
    }
    truth.mining_between(
        Variant::StratumV1,
        r.client,
        r.server,
        &login,
        "client-to-pool direction only, and its first data segment (the subscribe) is lost: nothing acknowledges the hole, so it is given up after the hole timeout and the authorize and submits behind it are read",
    );
    Ok(())
}

/// Splits an IP payload into fragments of `size` bytes (a multiple of 8), sent in `order`.
fn fragments(payload: &[u8], size: usize) -> Vec<(u16, bool, &[u8])> {
    let chunks: Vec<&[u8]> = payload.chunks(size).collect();
    let n = chunks.len();
    chunks.into_iter().enumerate().map(|(i, c)| (((i * size) / 8) as u16, i + 1 < n, c)).collect()
}

/// Writes a TCP segment as IP fragments, last fragment first.
fn send_fragmented(
    r: &mut Raw<'_>,
    from_client: bool,
    data: &[u8],
    frag_size: usize,
    id: u32,
) -> io::Result<()> {
    let (src, dst, i) = r.ends(from_client);
    let seq = r.next.get(i).copied().unwrap_or(0);
    let ack = r.next.get(1 - i).copied().unwrap_or(0);
    // The whole TCP segment (header + data), as the IP payload to fragment.
    let mut raw = Framer::new(Link::Raw);
    let seg = TcpSeg { seq, ack, flags: PSH_ACK, window: 502, mss_option: None };
    let whole = raw.tcp(src, dst, &seg, data)?.to_vec();
    let tcp = match src.ip() {
        IpAddr::V4(_) => whole.get(20..),
        IpAddr::V6(_) => whole.get(40..),
    }
    .unwrap_or_default()
    .to_vec();
    let mut frags = fragments(&tcp, frag_size);
    frags.reverse();
    for (off8, more, chunk) in frags {
        let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                frame.extend_from_slice(&[0x08, 0x00]);
                let mut h = Ipv4Header::new(chunk.len() as u16, 64, IpNumber::TCP, s.octets(), d.octets())
                    .map_err(|_| io::Error::other("ipv4 header"))?;
                h.identification = id as u16;
                h.more_fragments = more;
                h.fragment_offset = IpFragOffset::try_new(off8).map_err(|_| io::Error::other("offset"))?;
                h.header_checksum = h.calc_header_checksum();
                h.write(&mut frame)?;
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                frame.extend_from_slice(&[0x86, 0xdd]);
                let h = Ipv6Header {
                    traffic_class: 0,
                    flow_label: Default::default(),
                    payload_length: (chunk.len() + 8) as u16,
                    next_header: IpNumber::IPV6_FRAGMENTATION_HEADER,
                    hop_limit: 64,
                    source: s.octets(),
                    destination: d.octets(),
                };
                h.write(&mut frame)?;
                let fh = Ipv6FragmentHeader::new(
                    IpNumber::TCP,
                    IpFragOffset::try_new(off8).map_err(|_| io::Error::other("offset"))?,
                    more,
                    id,
                );
                fh.write(&mut frame)?;
            }
            _ => return Err(io::Error::other("mixed address families")),
        }
        frame.extend_from_slice(chunk);
        r.w.write_packet(r.now, &frame)?;
        r.tick(20);
    }
    if let Some(n) = r.next.get_mut(i) {
        *n = n.wrapping_add(data.len() as u32);
    }
    Ok(())
}

fn fragmented(
    out: &mut dyn Write,
    truth: &mut Truth,
    client: &str,
    server: &str,
    minute: i64,
    tag: &str,
) -> io::Result<()> {
    let login = format!("{BTC}.{tag}");
    let mut r = Raw::new(out, client, server, start(minute))?;
    let mut rng = Rng::new(34);
    r.handshake()?;
    let mut id = 0x4d00;
    let ntime = sv1_open(&mut r, &mut rng, &login, &mut |r, auth| {
        id += 1;
        send_fragmented(r, true, auth, 24, id)
    })?;
    for k in 0..2 {
        r.tick(2_000_000);
        id += 1;
        let sub = line(&msg::sv1_submit(&login, "3c000001", &ntime, &rng.hex(4), false));
        send_fragmented(&mut r, true, &sub, 32, id)?;
        r.send(false, &line(&msg::sv1_result_true(10 + k)))?;
    }
    r.fin()?;
    truth.mining_between(
        Variant::StratumV1,
        r.client,
        r.server,
        &login,
        "the authorize and submit segments are IP-fragmented (24- and 32-byte fragments, sent last fragment first); the datagrams are put back together before TCP reassembly",
    );
    Ok(())
}

pub(super) fn ipv4_fragments(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    fragmented(out, truth, "10.30.0.4:50004", "198.51.100.34:3333", 130, "frag4")
}

pub(super) fn ipv6_fragments(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    fragmented(out, truth, "[fd00:30::5]:50005", "[2001:db8:30::35]:3333", 140, "frag6")
}

/// Keep-alives (one old byte) and zero-window probes between the messages.
pub(super) fn keepalive_zero_window(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let login = format!("{BTC}.keepalive");
    let mut r = Raw::new(out, "10.30.0.6:50006", "198.51.100.36:3333", start(150))?;
    let mut rng = Rng::new(36);
    r.handshake()?;
    let ntime = sv1_open(&mut r, &mut rng, &login, &mut |r, auth| r.send(true, auth))?;
    for _ in 0..3 {
        r.tick(45_000_000);
        // TCP keep-alive: the last byte already sent, again.
        let seq = r.next[0].wrapping_sub(1);
        r.seg_at(true, seq, ACK, b"\n", 502)?;
        r.ack(false)?;
        // The pool's window closes; the miner probes it with one byte of its next line...
        r.seg_at(false, r.next[1], ACK, b"", 0)?;
        r.seg_at(true, r.next[0], ACK, b"{", 502)?;
        r.seg_at(false, r.next[1], ACK, b"", 0)?;
        // ...and when it opens, sends the whole line (its first byte again).
        r.seg_at(false, r.next[1], ACK, b"", 502)?;
        r.send(true, &line(&msg::sv1_submit(&login, "3c000001", &ntime, &rng.hex(4), false)))?;
        r.send(false, &line(&msg::sv1_result_true(20)))?;
    }
    r.fin()?;
    truth.mining_between(
        Variant::StratumV1,
        r.client,
        r.server,
        &login,
        "keep-alives (one already-sent byte) and zero-window probes (one byte of the next line, re-sent when the window opens) between submits must not corrupt the stream",
    );
    Ok(())
}

/// A session that never closes: it ends by the idle timeout, which a later flow's packets drive.
pub(super) fn idle_timeout(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let login = format!("{BTC}.idle");
    let mut r = Raw::new(out, "10.30.0.7:50007", "198.51.100.37:3333", start(160))?;
    let mut rng = Rng::new(37);
    r.handshake()?;
    let ntime = sv1_open(&mut r, &mut rng, &login, &mut |r, auth| r.send(true, auth))?;
    submits(&mut r, &mut rng, &login, &ntime, 1, 1_000_000)?;
    // Twenty minutes later, a web request from another host: the miner's session has timed out.
    r.tick(20 * 60_000_000);
    let (c, s) = (parse("10.30.0.8:40000")?, parse("198.51.100.80:80")?);
    let syn = TcpSeg { seq: 5, ack: 0, flags: TcpFlags::SYN, window: 64240, mss_option: Some(1460) };
    let frame = r.f.tcp(c, s, &syn, b"")?;
    r.w.write_packet(r.now, frame)?;
    truth.mining_between(
        Variant::StratumV1,
        r.client,
        r.server,
        &login,
        "the session never closes; it ends by the idle timeout (its mining_session record says timeout), driven by another flow's packet 20 minutes later",
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_cover_the_payload_in_order_of_offset() {
        let data: Vec<u8> = (0..50).collect();
        let f = fragments(&data, 16);
        assert_eq!(f.len(), 4);
        assert_eq!(f.iter().map(|x| x.2.len()).sum::<usize>(), 50);
        assert_eq!((f[3].0, f[3].1), (6, false));
        assert!(f[..3].iter().all(|x| x.1));
    }

    #[test]
    fn link_type_is_ethernet() {
        assert_eq!(Link::Ethernet.link_type(), minewatch::decode::LinkType::Ethernet);
    }
}
