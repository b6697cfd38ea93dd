//! A scripted TCP conversation: handshake, data in either direction with chosen segmentation and
//! misdelivery, and a FIN or RST close, all with consistent sequence and acknowledgment numbers.
//!
//! The builder tracks both sides' sequence numbers itself, so a scenario only says *what* each
//! side sends and *how it is delivered*; the wire details that reassembly depends on (seq/ack
//! arithmetic, SYN and FIN consuming one sequence number, wrap-around) cannot be got wrong by a
//! scenario author. Frames go straight to a [`PacketSink`] as they are made: nothing is held, so
//! a benchmark can drive millions of conversations in constant memory, and several
//! conversations can be interleaved on one sink by alternating calls.

use std::io;
use std::net::SocketAddr;

use minewatch::time::Ts;

use super::frame::{Framer, Ipv6Ext, Link, TcpFlags, TcpSeg};
use super::PacketSink;

/// The two ends of a conversation are the product's sides: [`Side::A`] is the client, the side
/// that opens the connection (sends the SYN), as the flow table names it; [`Side::B`] the server.
pub use minewatch::stratum::Side;

/// How one `send` is cut into segments and put on the wire. The default is in-order delivery in
/// segments of the conversation's MSS. Slices rather than vectors so the common case costs no
/// allocation and scenarios can write them as literals.
#[derive(Clone, Copy, Debug, Default)]
pub struct Delivery<'a> {
    /// Largest payload per segment for this send (1 means byte by byte); `None` keeps the
    /// conversation's MSS.
    pub mss: Option<usize>,
    /// Transmission order: the segments are numbered 0.. in sequence order, and each pair
    /// `(i, j)` swaps segments `i` and `j` in the order they are sent, so the receiver sees a
    /// later segment before an earlier one.
    pub swaps: &'a [(usize, usize)],
    /// Segment numbers sent a second time, byte-identical, after the whole burst (a
    /// retransmission after a lost ACK).
    pub retransmit: &'a [usize],
    /// `(offset, len)` byte ranges of this send that are sent again as one extra segment after
    /// the burst. A range that straddles segment boundaries is an overlapping re-send: same
    /// bytes, different segment edges, which a reassembler must trim rather than duplicate.
    pub overlap: &'a [(usize, usize)],
}

/// One TCP connection between a client and a server, with its own clock.
#[derive(Debug)]
pub struct TcpConversation {
    client: SocketAddr,
    server: SocketAddr,
    framer: Framer,
    now: i64,
    /// Next sequence number each side will send.
    client_next: u32,
    server_next: u32,
    mss: usize,
    capture_client: bool,
    capture_server: bool,
    rtt_us: i64,
    closed: bool,
}

/// Spacing between back-to-back segments of one burst, and between a local host receiving a
/// segment and acknowledging it: tens of microseconds, as on a LAN capture near the client.
const BURST_GAP_US: i64 = 12;
const LOCAL_ACK_US: i64 = 45;
/// Retransmission timeout before re-sends: Linux's minimum RTO is 200 ms.
const RTO_US: i64 = 204_000;

/// An initial sequence number derived from the endpoint, so every run and every host gets the
/// same, but different conversations get different ones (FNV-1a over the address text bytes).
fn derived_isn(a: SocketAddr, salt: u32) -> u32 {
    let mut h: u32 = 0x811c_9dc5 ^ salt;
    let mut feed = |b: u8| {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    };
    match a.ip() {
        std::net::IpAddr::V4(v4) => v4.octets().into_iter().for_each(&mut feed),
        std::net::IpAddr::V6(v6) => v6.octets().into_iter().for_each(&mut feed),
    }
    a.port().to_be_bytes().into_iter().for_each(&mut feed);
    h
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl TcpConversation {
    /// A conversation whose first packet is at `start`. Nothing is written until a method is
    /// called: call [`handshake`](Self::handshake) first for a normal connection, or leave it
    /// out to model a capture that starts in the middle of one.
    pub fn new(client: SocketAddr, server: SocketAddr, start: Ts, link: Link) -> TcpConversation {
        TcpConversation {
            client,
            server,
            framer: Framer::new(link),
            now: start.as_micros(),
            client_next: derived_isn(client, 1),
            server_next: derived_isn(server, 2),
            mss: 1448,
            capture_client: true,
            capture_server: true,
            rtt_us: 18_000,
            closed: false,
        }
    }

    /// Puts `ext` into every IPv6 packet of this conversation.
    pub fn with_ipv6_ext(mut self, ext: Ipv6Ext) -> Self {
        self.framer = Framer::new(self.framer.link()).with_ipv6_ext(ext);
        self
    }

    /// Chooses the initial sequence numbers (the SYN's, or the first data byte's when there is
    /// no handshake), e.g. near 2^32 to test wrap-around.
    pub fn with_isns(mut self, client: u32, server: u32) -> Self {
        self.client_next = client;
        self.server_next = server;
        self
    }

    /// Default largest payload per segment.
    pub fn with_mss(mut self, mss: usize) -> Self {
        self.mss = mss.max(1);
        self
    }

    /// Round-trip time between client and pool: how long after a client segment the server's
    /// answer (or ACK) appears at the capture point.
    pub fn with_rtt_us(mut self, rtt: i64) -> Self {
        self.rtt_us = rtt.max(0);
        self
    }

    /// Which directions reach the capture: an asymmetric tap sees only one. Sequence numbers
    /// still advance for the unseen direction, so the seen one stays consistent.
    pub fn capture(mut self, client_to_server: bool, server_to_client: bool) -> Self {
        self.capture_client = client_to_server;
        self.capture_server = server_to_client;
        self
    }

    pub fn client(&self) -> SocketAddr {
        self.client
    }

    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The conversation's clock: the time the next packet will carry.
    pub fn now(&self) -> Ts {
        Ts::from_micros(self.now)
    }

    /// Lets time pass with nothing on the wire (think time, job intervals).
    pub fn pause_ms(&mut self, ms: i64) {
        self.now = self.now.saturating_add(ms.saturating_mul(1000));
    }

    /// Lets time pass, in microseconds.
    pub fn pause_us(&mut self, us: i64) {
        self.now = self.now.saturating_add(us);
    }

    /// Moves the clock forward to `ts` if it is behind. Interleaving several conversations on
    /// one sink: call this with the other conversation's [`now`](Self::now) before each step,
    /// and the file's timestamps never go backwards.
    pub fn wait_until(&mut self, ts: Ts) {
        self.now = self.now.max(ts.as_micros());
    }

    fn next_of(&self, side: Side) -> u32 {
        match side {
            Side::A => self.client_next,
            Side::B => self.server_next,
        }
    }

    fn advance(&mut self, side: Side, by: u32) {
        match side {
            Side::A => self.client_next = self.client_next.wrapping_add(by),
            Side::B => self.server_next = self.server_next.wrapping_add(by),
        }
    }

    /// Delay before the other side's reaction appears at the capture point. The capture sits
    /// next to the client, so the remote pool's packets take a round trip, the client's a moment.
    fn reaction_delay(&self, responder: Side) -> i64 {
        match responder {
            Side::B => self.rtt_us,
            Side::A => LOCAL_ACK_US,
        }
    }

    fn emit<S: PacketSink + ?Sized>(
        &mut self,
        sink: &mut S,
        from: Side,
        seq: u32,
        flags: TcpFlags,
        payload: &[u8],
        mss_option: Option<u16>,
    ) -> io::Result<()> {
        let seen = match from {
            Side::A => self.capture_client,
            Side::B => self.capture_server,
        };
        if !seen {
            return Ok(());
        }
        if sink.link() != self.framer.link().link_type() {
            return Err(invalid("sink link type does not match the conversation's link"));
        }
        let (src, dst, window) = match from {
            Side::A => (self.client, self.server, 502),
            Side::B => (self.server, self.client, 509),
        };
        let seg = TcpSeg {
            seq,
            ack: self.next_of(from.other()),
            flags,
            window: if flags.contains(TcpFlags::SYN) { 64240 } else { window },
            mss_option,
        };
        let ts = Ts::from_micros(self.now);
        let frame = self.framer.tcp(src, dst, &seg, payload)?;
        sink.write_packet(ts, frame)
    }

    /// SYN, SYN-ACK, ACK. Both SYNs announce an MSS, as real stacks do.
    pub fn handshake<S: PacketSink + ?Sized>(&mut self, sink: &mut S) -> io::Result<()> {
        let c = self.client_next;
        self.emit(sink, Side::A, c, TcpFlags::SYN, &[], Some(1460))?;
        self.advance(Side::A, 1);
        self.now = self.now.saturating_add(self.rtt_us);
        let s = self.server_next;
        self.emit(sink, Side::B, s, TcpFlags::SYN.union(TcpFlags::ACK), &[], Some(1400))?;
        self.advance(Side::B, 1);
        self.now = self.now.saturating_add(LOCAL_ACK_US);
        let c = self.client_next;
        self.emit(sink, Side::A, c, TcpFlags::ACK, &[], None)?;
        self.now = self.now.saturating_add(BURST_GAP_US);
        Ok(())
    }

    /// The client sends `data` in MSS-sized segments, in order; the server ACKs it.
    pub fn client_sends<S: PacketSink + ?Sized>(&mut self, sink: &mut S, data: &[u8]) -> io::Result<()> {
        self.send(sink, Side::A, data, &Delivery::default())
    }

    /// The server sends `data` in MSS-sized segments, in order; the client ACKs it.
    pub fn server_sends<S: PacketSink + ?Sized>(&mut self, sink: &mut S, data: &[u8]) -> io::Result<()> {
        self.send(sink, Side::B, data, &Delivery::default())
    }

    /// `from` sends `data`, delivered as `how` says, then the other side acknowledges all of it.
    /// Invalid delivery plans (segment numbers or ranges outside this send, an MSS of 0) are
    /// errors, checked before anything is written.
    pub fn send<S: PacketSink + ?Sized>(
        &mut self,
        sink: &mut S,
        from: Side,
        data: &[u8],
        how: &Delivery<'_>,
    ) -> io::Result<()> {
        if self.closed {
            return Err(invalid("conversation already closed"));
        }
        if data.is_empty() {
            return Ok(());
        }
        let len32 = u32::try_from(data.len()).map_err(|_| invalid("send larger than 4 GiB"))?;
        let mss = how.mss.unwrap_or(self.mss);
        if mss == 0 {
            return Err(invalid("segment size 0"));
        }
        let n = data.len().div_ceil(mss);
        if how.swaps.iter().any(|&(i, j)| i >= n || j >= n) || how.retransmit.iter().any(|&i| i >= n) {
            return Err(invalid("segment number beyond this send"));
        }
        if how
            .overlap
            .iter()
            .any(|&(off, len)| len == 0 || off.checked_add(len).map_or(true, |end| end > data.len()))
        {
            return Err(invalid("overlap range outside this send"));
        }
        let base = self.next_of(from);
        let segment = |i: usize| -> (u32, &[u8]) {
            let start = i * mss;
            let end = start.saturating_add(mss).min(data.len());
            // start < data.len() <= u32::MAX because i < n.
            (base.wrapping_add(start as u32), data.get(start..end).unwrap_or(&[]))
        };
        let data_flags = |last: bool| {
            if last {
                TcpFlags::ACK.union(TcpFlags::PSH)
            } else {
                TcpFlags::ACK
            }
        };
        for k in 0..n {
            // Apply the swaps to position k to find which segment goes out k-th.
            let mut i = k;
            for &(a, b) in how.swaps {
                if i == a {
                    i = b;
                } else if i == b {
                    i = a;
                }
            }
            let (seq, bytes) = segment(i);
            self.emit(sink, from, seq, data_flags(i + 1 == n), bytes, None)?;
            self.now = self.now.saturating_add(BURST_GAP_US);
        }
        if !how.retransmit.is_empty() || !how.overlap.is_empty() {
            self.now = self.now.saturating_add(RTO_US);
        }
        for &i in how.retransmit {
            let (seq, bytes) = segment(i);
            self.emit(sink, from, seq, data_flags(i + 1 == n), bytes, None)?;
            self.now = self.now.saturating_add(BURST_GAP_US);
        }
        for &(off, len) in how.overlap {
            let bytes = data.get(off..off + len).unwrap_or(&[]);
            let seq = base.wrapping_add(off as u32);
            self.emit(sink, from, seq, data_flags(off + len == data.len()), bytes, None)?;
            self.now = self.now.saturating_add(BURST_GAP_US);
        }
        self.advance(from, len32);
        let to = from.other();
        self.now = self.now.saturating_add(self.reaction_delay(to));
        let seq = self.next_of(to);
        self.emit(sink, to, seq, TcpFlags::ACK, &[], None)?;
        self.now = self.now.saturating_add(BURST_GAP_US);
        Ok(())
    }

    /// Orderly close started by `by`: FIN, the peer's FIN, the last ACK.
    pub fn close_fin<S: PacketSink + ?Sized>(&mut self, sink: &mut S, by: Side) -> io::Result<()> {
        if self.closed {
            return Err(invalid("conversation already closed"));
        }
        let fin_ack = TcpFlags::FIN.union(TcpFlags::ACK);
        let seq = self.next_of(by);
        self.emit(sink, by, seq, fin_ack, &[], None)?;
        self.advance(by, 1);
        let peer = by.other();
        self.now = self.now.saturating_add(self.reaction_delay(peer));
        let seq = self.next_of(peer);
        self.emit(sink, peer, seq, fin_ack, &[], None)?;
        self.advance(peer, 1);
        self.now = self.now.saturating_add(self.reaction_delay(by));
        let seq = self.next_of(by);
        self.emit(sink, by, seq, TcpFlags::ACK, &[], None)?;
        self.closed = true;
        Ok(())
    }

    /// Abortive close: `by` sends RST+ACK and nothing more is sent.
    pub fn reset<S: PacketSink + ?Sized>(&mut self, sink: &mut S, by: Side) -> io::Result<()> {
        if self.closed {
            return Err(invalid("conversation already closed"));
        }
        let seq = self.next_of(by);
        self.emit(sink, by, seq, TcpFlags::RST.union(TcpFlags::ACK), &[], None)?;
        self.closed = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{SlicedPacket, TransportSlice};
    use minewatch::decode::LinkType;

    /// Keeps every frame in memory for inspection.
    #[derive(Default)]
    struct Frames(Vec<(Ts, Vec<u8>)>);

    impl PacketSink for Frames {
        fn write_packet(&mut self, ts: Ts, frame: &[u8]) -> io::Result<()> {
            self.0.push((ts, frame.to_vec()));
            Ok(())
        }
        fn link(&self) -> LinkType {
            LinkType::RawIp
        }
    }

    struct Seg {
        from_client: bool,
        seq: u32,
        ack: u32,
        syn: bool,
        fin: bool,
        rst: bool,
        payload: Vec<u8>,
    }

    fn segs(f: &Frames, client: SocketAddr) -> Vec<Seg> {
        f.0.iter()
            .map(|(_, b)| {
                let p = SlicedPacket::from_ip(b).unwrap();
                let Some(TransportSlice::Tcp(t)) = p.transport else { panic!("not tcp") };
                Seg {
                    from_client: t.source_port() == client.port(),
                    seq: t.sequence_number(),
                    ack: t.acknowledgment_number(),
                    syn: t.syn(),
                    fin: t.fin(),
                    rst: t.rst(),
                    payload: t.payload().to_vec(),
                }
            })
            .collect()
    }

    /// Reassembles one direction the simple way: place every payload byte at its offset from
    /// `first`, checking that overlapping copies agree.
    fn reassemble(segs: &[Seg], client: bool, first: u32) -> Vec<u8> {
        let mut out: Vec<Option<u8>> = Vec::new();
        for s in segs.iter().filter(|s| s.from_client == client) {
            let off = s.seq.wrapping_sub(first) as usize;
            for (k, &b) in s.payload.iter().enumerate() {
                if out.len() <= off + k {
                    out.resize(off + k + 1, None);
                }
                if let Some(old) = out[off + k] {
                    assert_eq!(old, b, "overlap disagrees");
                }
                out[off + k] = Some(b);
            }
        }
        out.into_iter().map(|b| b.expect("hole")).collect()
    }

    fn pair() -> (SocketAddr, SocketAddr) {
        ("10.0.0.2:40000".parse().unwrap(), "198.51.100.1:3333".parse().unwrap())
    }

    #[test]
    fn handshake_data_fin_numbers_line_up() {
        let (c, s) = pair();
        let mut f = Frames::default();
        let mut t = TcpConversation::new(c, s, Ts::from_micros(1_000_000), Link::Raw).with_isns(100, 5000);
        t.handshake(&mut f).unwrap();
        t.client_sends(&mut f, b"hello\n").unwrap();
        t.server_sends(&mut f, b"world!\n").unwrap();
        t.close_fin(&mut f, Side::A).unwrap();
        let v = segs(&f, c);
        assert!(v[0].syn && v[0].from_client && v[0].seq == 100);
        assert!(v[1].syn && !v[1].from_client && v[1].seq == 5000 && v[1].ack == 101);
        assert!(v[2].from_client && v[2].seq == 101 && v[2].ack == 5001);
        assert_eq!(v[3].payload, b"hello\n");
        assert_eq!((v[4].from_client, v[4].ack), (false, 107));
        assert_eq!((v[5].seq, v[5].payload.as_slice()), (5001, &b"world!\n"[..]));
        assert_eq!((v[6].from_client, v[6].ack), (true, 5008));
        assert!(v[7].fin && v[7].from_client && v[7].seq == 107);
        assert!(v[8].fin && !v[8].from_client && v[8].ack == 108);
        assert!(!v[9].fin && v[9].ack == 5009 && v[9].seq == 108);
        assert_eq!(v.len(), 10);
        // Time never goes backwards.
        assert!(f.0.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(t.client_sends(&mut f, b"late").is_err());
    }

    #[test]
    fn segmentation_reassembles_to_the_original() {
        let (c, s) = pair();
        let data: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        for mss in [1usize, 7, 536, 1448, 10_000] {
            let mut f = Frames::default();
            let mut t = TcpConversation::new(c, s, Ts::from_micros(0), Link::Raw).with_isns(u32::MAX - 10, 7);
            t.send(&mut f, Side::A, &data, &Delivery { mss: Some(mss), ..Default::default() }).unwrap();
            let v = segs(&f, c);
            let data_segs = v.iter().filter(|s| s.from_client).count();
            assert_eq!(data_segs, data.len().div_ceil(mss));
            assert!(v.iter().filter(|s| s.from_client).all(|s| s.payload.len() <= mss));
            assert_eq!(reassemble(&v, true, u32::MAX - 10), data, "mss {mss}");
        }
    }

    #[test]
    fn misdelivery_still_reassembles() {
        let (c, s) = pair();
        let data: Vec<u8> = (b'a'..=b'z').cycle().take(100).collect();
        let mut f = Frames::default();
        let mut t = TcpConversation::new(c, s, Ts::from_micros(0), Link::Raw).with_isns(1, 1);
        let how = Delivery {
            mss: Some(10),
            swaps: &[(1, 2), (5, 9)],
            retransmit: &[0, 4],
            overlap: &[(15, 20), (95, 5)],
        };
        t.send(&mut f, Side::B, &data, &how).unwrap();
        let v = segs(&f, c);
        let server: Vec<&Seg> = v.iter().filter(|s| !s.from_client).collect();
        assert_eq!(server.len(), 10 + 2 + 2);
        let order: Vec<u32> = server.iter().take(10).map(|s| (s.seq - 1) / 10).collect();
        assert_eq!(order, [0, 2, 1, 3, 4, 9, 6, 7, 8, 5]);
        assert_eq!(server[12].seq, 16);
        assert_eq!(server[12].payload, &data[15..35]);
        assert_eq!(reassemble(&v, false, 1), data);
        // The final ACK covers everything.
        assert_eq!(v.last().unwrap().ack, 101);
    }

    #[test]
    fn bad_plans_are_errors_and_write_nothing() {
        let (c, s) = pair();
        let mut f = Frames::default();
        let mut t = TcpConversation::new(c, s, Ts::from_micros(0), Link::Raw);
        let d = b"0123456789";
        for how in [
            Delivery { mss: Some(0), ..Default::default() },
            Delivery { mss: Some(5), swaps: &[(0, 2)], ..Default::default() },
            Delivery { mss: Some(5), retransmit: &[2], ..Default::default() },
            Delivery { overlap: &[(5, 6)], ..Default::default() },
            Delivery { overlap: &[(usize::MAX, 2)], ..Default::default() },
            Delivery { overlap: &[(0, 0)], ..Default::default() },
        ] {
            assert!(t.send(&mut f, Side::A, d, &how).is_err());
        }
        assert!(f.0.is_empty());
    }

    #[test]
    fn one_sided_capture_and_rst() {
        let (c, s) = pair();
        let mut f = Frames::default();
        let mut t =
            TcpConversation::new(c, s, Ts::from_micros(0), Link::Raw).with_isns(10, 20).capture(false, true);
        t.handshake(&mut f).unwrap();
        t.client_sends(&mut f, b"abc").unwrap();
        t.server_sends(&mut f, b"xyz").unwrap();
        t.reset(&mut f, Side::B).unwrap();
        let v = segs(&f, c);
        assert!(v.iter().all(|s| !s.from_client));
        // SYN-ACK, ACK of "abc", "xyz", RST.
        assert_eq!(v.len(), 4);
        assert_eq!(v[1].ack, 14);
        assert!(v[3].rst && v[3].seq == 24);
    }

    #[test]
    fn wrong_sink_link_is_an_error() {
        let (c, s) = pair();
        let mut f = Frames::default();
        let mut t = TcpConversation::new(c, s, Ts::from_micros(0), Link::Ethernet);
        assert!(t.handshake(&mut f).is_err());
    }
}
