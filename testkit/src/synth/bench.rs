//! The benchmark capture: a large, realistic mix of enterprise-edge traffic with a few mining
//! sessions and JSON-RPC look-alikes hidden in it, and the truth table that says which is which.
//!
//! What it models, by share of flows: DNS over UDP, TLS on 443 (short page loads, long-lived
//! connections with periodic exchanges, some large downloads; TLS 1.3 handshakes with a real
//! ClientHello naming a web or API server, and realistic record sizes), HTTP on
//! 80 (keep-alive requests, text and binary bodies, some large downloads), QUIC-like UDP on 443,
//! NTP, and a few long bulk transfers (SSH, SMB, rsync). Into that go Stratum sessions of every
//! dialect the recogniser supports (stratum-v1, cryptonote, eth-proxy), on their usual and on odd
//! ports, some picked up midstream, some cut into tiny segments; and as many look-alikes
//! (Electrum, Ethereum node RPC over lines and over HTTP, plain JSON-RPC) that must raise nothing.
//!
//! How it stays realistic and cheap:
//! - Thousands of flows are open at once. Each is a small state machine whose *step* (one
//!   request/response, one 64 KiB window of a transfer, one Stratum exchange) writes frames into
//!   a time-ordered pending heap. A frame leaves the heap for the file once no flow can still
//!   write anything earlier, so the file's timestamps never go backwards.
//! - Memory is bounded by the open flows times one step (a step never sends more than
//!   [`WINDOW`] bytes): it does not grow with the size asked for.
//! - Payload bytes come from one random pool sliced at random offsets, so gigabytes cost no more
//!   than copying.
//! - Mining sessions start when the file crosses fixed fractions of the requested size, not at
//!   fixed times, so every one of them is complete in the file whatever the traffic rate; when
//!   the size is reached no new background flow starts and the open ones stop where they are
//!   (as when a capture ends), while the mining and look-alike sessions still open finish.
//!
//! Deterministic: the output depends only on the size and the seed. Addresses: internal hosts in
//! 10/8 and fd00::/8, background servers in 198.18.0.0/15 (the benchmarking range, RFC 2544) and
//! 2001:db8::/32, pools and look-alike servers in the documentation ranges.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use minewatch::decode::LinkType;
use minewatch::stratum::Variant;
use minewatch::time::Ts;

use super::encrypted;
use super::frame::{Framer, Link};
use super::msg::{self, Rng};
use super::pcap::PcapWriter;
use super::scenarios::{Expect, TruthRow};
use super::tcp::{Delivery, Side, TcpConversation};
use super::PacketSink;

/// Most bytes one step of a flow sends: one receive window. Bounds the pending heap.
pub const WINDOW: usize = 64 * 1024;
/// 2024-06-03T09:00:00Z, a Monday morning.
const T0_US: i64 = 1_717_405_200_000_000;
/// New background flows per second of capture time. With the mix below this averages roughly
/// 60 Mbit/s and ~20 000 flows per gigabyte, so a gigabyte spans a few minutes and idle
/// timeouts come into play.
const ARRIVALS_PER_SEC: f64 = 150.0;
/// Size of the random payload pool (larger than any record, so slices vary).
const POOL: usize = 1 << 20;
/// One mining session per this many bytes of capture (200 on 1.2 GB), at least [`MIN_MINING`];
/// half as many look-alikes.
const BYTES_PER_MINING: u64 = 6_000_000;
const MIN_MINING: u64 = 12;
/// Changes whenever the generator's output changes, so cached captures are not reused.
pub const GENERATOR_VERSION: u32 = 4;

/// What to generate.
#[derive(Clone, Debug)]
pub struct BenchSpec {
    /// Stop starting background flows once this many bytes are written.
    pub size: u64,
    pub seed: u64,
    /// The file name the truth rows name.
    pub file: String,
}

/// What was generated.
#[derive(Clone, Debug, Default)]
pub struct BenchSummary {
    pub packets: u64,
    pub bytes: u64,
    pub flows: u64,
    /// Capture time covered, in microseconds.
    pub span_us: i64,
    pub truth: Vec<TruthRow>,
    /// (kind, flows, frame bytes) per kind of traffic, for the record.
    pub mix: Vec<(&'static str, u64, u64)>,
}

/// Frames written by flow steps, waiting for their turn: a min-heap on (time, write order).
/// `kind` tags what the next frames are counted as.
struct Pending {
    heap: BinaryHeap<Reverse<(i64, u64, Vec<u8>)>>,
    order: u64,
    free: Vec<Vec<u8>>,
    kind: usize,
    mix_bytes: [u64; KINDS],
    /// Bytes of the file written so far (headers included) and the last time written.
    written: u64,
    last_ts: i64,
}

impl PacketSink for Pending {
    fn write_packet(&mut self, ts: Ts, frame: &[u8]) -> io::Result<()> {
        let mut buf = self.free.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(frame);
        if let Some(b) = self.mix_bytes.get_mut(self.kind) {
            *b += frame.len() as u64;
        }
        self.heap.push(Reverse((ts.as_micros(), self.order, buf)));
        self.order += 1;
        Ok(())
    }

    fn link(&self) -> LinkType {
        LinkType::Ethernet
    }
}

impl Pending {
    /// Writes every frame earlier than `t` (all of them with `i64::MAX`).
    fn drain_before<W: Write>(&mut self, t: i64, w: &mut PcapWriter<W>) -> io::Result<()> {
        while let Some(Reverse((ts, _, _))) = self.heap.peek() {
            if *ts >= t {
                break;
            }
            if let Some(Reverse((ts, _, buf))) = self.heap.pop() {
                w.write_packet(Ts::from_micros(ts), &buf)?;
                self.written += 16 + buf.len() as u64;
                self.last_ts = ts;
                if self.free.len() < 4096 {
                    self.free.push(buf);
                }
            }
        }
        Ok(())
    }
}

const KINDS: usize = 12;
const KIND_NAMES: [&str; KINDS] = [
    "dns",
    "ntp",
    "tls",
    "tls-long",
    "http",
    "quic",
    "bulk",
    "mining",
    "look-alike",
    "tls-api",
    "scan",
    "spliced",
];
const K_DNS: usize = 0;
const K_NTP: usize = 1;
const K_TLS: usize = 2;
const K_TLS_LONG: usize = 3;
const K_HTTP: usize = 4;
const K_QUIC: usize = 5;
const K_BULK: usize = 6;
const K_MINING: usize = 7;
const K_LOOK: usize = 8;
const K_TLS_API: usize = 9;
const K_SCAN: usize = 10;
const K_SPLICE: usize = 11;

/// Which traffic fills the capture around the hidden sessions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mix {
    /// The enterprise-edge mix described above: fewer, longer flows (~20 000 per gigabyte).
    #[default]
    Standard,
    /// Many short flows (~210 000 per gigabyte): see [`edge`].
    Edge,
}

impl Mix {
    pub fn parse(s: &str) -> Option<Mix> {
        match s {
            "standard" => Some(Mix::Standard),
            "edge" => Some(Mix::Edge),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mix::Standard => "standard",
            Mix::Edge => "edge",
        }
    }
}

#[path = "bench_edge.rs"]
pub mod edge;
pub use edge::{census, default_splice_dirs, default_splice_dirs_for, load_splices, Census, Splice};

/// Shared state of the generator: the random source, the payload pools and scratch space.
struct Ctx {
    rng: Rng,
    pool: Vec<u8>,
    text: Vec<u8>,
    scratch: Vec<u8>,
    udp: Framer,
    /// Captures the edge mix splices in, and how many splices were started.
    splices: Vec<Splice>,
    splice_count: u64,
}

impl Ctx {
    fn new(seed: u64) -> Ctx {
        let mut rng = Rng::new(seed);
        let mut pool = Vec::with_capacity(POOL);
        while pool.len() < POOL {
            pool.extend_from_slice(&rng.next_u64().to_le_bytes());
        }
        // HTML-like text for HTTP bodies.
        const WORDS: [&str; 16] = [
            "<div class=\"item\">",
            "</div>\n",
            "<p>",
            "</p>\n",
            "quarterly",
            "report",
            "the",
            "of",
            "network",
            "customer",
            "<a href=\"/docs/page",
            "\">",
            "</a>",
            "service",
            "and",
            "update",
        ];
        let mut text = Vec::with_capacity(POOL / 4);
        while text.len() < POOL / 4 {
            let w = WORDS.get(rng.range(0, 15) as usize).copied().unwrap_or("the");
            text.extend_from_slice(w.as_bytes());
            text.push(b' ');
        }
        Ctx {
            rng,
            pool,
            text,
            scratch: Vec::with_capacity(WINDOW + 64),
            udp: Framer::new(Link::Ethernet),
            splices: Vec::new(),
            splice_count: 0,
        }
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.rng.range(0, 99) < percent
    }

    /// An exponentially distributed wait with the given mean, in microseconds.
    fn exp_us(&mut self, mean_us: f64) -> i64 {
        let u = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        (-(1.0 - u).ln() * mean_us) as i64
    }

    /// `len` bytes from the random pool (or the text pool) at a random offset.
    fn bytes(&mut self, len: usize, text: bool) -> &[u8] {
        let src = if text { &self.text } else { &self.pool };
        let len = len.min(src.len());
        let off = self.rng.range(0, (src.len() - len) as u64) as usize;
        src.get(off..off + len).unwrap_or(&[])
    }

    /// Fills `scratch` with TLS records of content type `ctype` totalling `total` bytes.
    fn tls_records(&mut self, ctype: u8, total: usize) {
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        let mut left = total.max(6);
        while left > 0 {
            let body = left.saturating_sub(5).clamp(1, 16_401);
            out.extend_from_slice(&[ctype, 3, 3]);
            out.extend_from_slice(&(body as u16).to_be_bytes());
            out.extend_from_slice(self.bytes(body, false));
            left = left.saturating_sub(body + 5);
        }
        self.scratch = out;
    }

    fn client_v4(&mut self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a01_0001 + self.rng.range(0, 3999) as u32))
    }

    /// A background server, popular ones more often (the square skews towards low numbers).
    fn server_v4(&mut self) -> IpAddr {
        let r = self.rng.range(0, 1 << 20) as f64 / (1u64 << 20) as f64;
        IpAddr::V4(Ipv4Addr::from(0xc612_0001 + (r * r * 20_000.0) as u32))
    }

    fn pair(&mut self, port: u16, v6: bool) -> (SocketAddr, SocketAddr) {
        let cport = self.rng.range(32_768, 60_999) as u16;
        if v6 {
            let c = Ipv6Addr::new(0xfd00, 0x10, 0, 0, 0, 0, 0, 1 + self.rng.range(0, 999) as u16);
            let s = Ipv6Addr::new(0x2001, 0xdb8, 0x443, 0, 0, 0, 0, 1 + self.rng.range(0, 2999) as u16);
            (SocketAddr::new(c.into(), cport), SocketAddr::new(s.into(), port))
        } else {
            (SocketAddr::new(self.client_v4(), cport), SocketAddr::new(self.server_v4(), port))
        }
    }

    fn conv(&mut self, port: u16, v6: bool, at: i64) -> TcpConversation {
        self.conv_on(port, v6, at, Link::Ethernet)
    }

    fn conv_on(&mut self, port: u16, v6: bool, at: i64, link: Link) -> TcpConversation {
        let (c, s) = self.pair(port, v6);
        let rtt = self.rng.range(2_000, 90_000) as i64;
        TcpConversation::new(c, s, Ts::from_micros(at), link).with_rtt_us(rtt)
    }
}

/// One step of a Stratum or look-alike script.
#[derive(Debug)]
enum Act {
    Say(Side, String),
    PauseMs(i64),
    Fin(Side),
}

/// A TCP conversation driven by a precomputed script (Stratum sessions and look-alikes: a few
/// kilobytes of text each).
struct Script {
    t: TcpConversation,
    /// `K_MINING` or `K_LOOK`.
    kind: usize,
    /// Opens with a handshake (false: the capture starts midstream).
    handshake: bool,
    mss: Option<usize>,
    acts: VecDeque<Act>,
}

/// A transfer of `left` bytes from `from`, one window per step.
#[derive(Clone, Copy)]
struct Transfer {
    from: Side,
    left: u64,
    /// TLS application records (else raw bytes or HTML text).
    tls: bool,
    text: bool,
}

/// A background TCP flow: handshake, then rounds of request and (possibly large) response.
struct Tcp {
    t: TcpConversation,
    kind: usize,
    stage: u32,
    rounds: u32,
    think_ms: (u64, u64),
    xfer: Option<Transfer>,
    /// Edge mix: smaller responses (a page's objects, API answers).
    edge: bool,
}

struct Quic {
    c: SocketAddr,
    s: SocketAddr,
    now: i64,
    rounds: u32,
}

enum Flow {
    Tcp(Box<Tcp>),
    Script(Box<Script>),
    Quic(Quic),
    Splice(Box<edge::SpliceRun>),
}

impl Flow {
    fn kind(&self) -> usize {
        match self {
            Flow::Tcp(t) => t.kind,
            Flow::Script(s) => s.kind,
            Flow::Quic(_) => K_QUIC,
            Flow::Splice(_) => K_SPLICE,
        }
    }
}

/// Runs one step; returns when the flow's next step is due, or `None` when it has ended.
fn step(flow: &mut Flow, cx: &mut Ctx, out: &mut Pending) -> io::Result<Option<i64>> {
    match flow {
        Flow::Tcp(f) => tcp_step(f, cx, out),
        Flow::Script(s) => script_step(s, out),
        Flow::Quic(q) => quic_step(q, cx, out),
        Flow::Splice(s) => edge::splice_step(s, cx, out),
    }
}

fn script_step(s: &mut Script, out: &mut Pending) -> io::Result<Option<i64>> {
    if s.handshake {
        s.handshake = false;
        s.t.handshake(out)?;
    }
    while let Some(a) = s.acts.pop_front() {
        match a {
            Act::Say(side, text) => {
                s.t.send(out, side, text.as_bytes(), &Delivery { mss: s.mss, ..Default::default() })?
            }
            Act::PauseMs(ms) => {
                s.t.pause_ms(ms);
                return Ok(Some(s.t.now().as_micros()));
            }
            Act::Fin(side) => {
                s.t.close_fin(out, side)?;
                return Ok(None);
            }
        }
    }
    Ok(None)
}

/// Sends one window of a transfer; returns whether more is left. The receiver acknowledges
/// every second segment of a download, as delayed ACKs do; uploads are acknowledged per 16
/// segments (their ACKs come a round trip later, so finer ones would stall the sender).
fn send_window(
    t: &mut TcpConversation,
    x: &mut Transfer,
    cx: &mut Ctx,
    out: &mut Pending,
) -> io::Result<bool> {
    let n = (x.left as usize).min(WINDOW);
    let data = if x.tls {
        cx.tls_records(0x17, n);
        std::mem::take(&mut cx.scratch)
    } else {
        let text = x.text;
        let mut buf = std::mem::take(&mut cx.scratch);
        buf.clear();
        buf.extend_from_slice(cx.bytes(n, text));
        buf
    };
    let per_ack = if x.from == Side::B { 2 * 1448 } else { 16 * 1448 };
    for chunk in data.chunks(per_ack) {
        t.send(out, x.from, chunk, &Delivery::default())?;
    }
    cx.scratch = data;
    x.left -= n as u64;
    Ok(x.left > 0)
}

/// A response size: mostly small, a long tail of large ones (`big_permille` of 1-12 MB).
fn response_size(cx: &mut Ctx, big_permille: u64) -> u64 {
    if cx.rng.range(0, 999) < big_permille {
        cx.rng.range(1_000_000, 12_000_000)
    } else if cx.chance(5) {
        cx.rng.range(20_000, 150_000)
    } else {
        cx.rng.range(300, 20_000)
    }
}

/// A response on the edge: mostly small objects, a tail up to a megabyte.
fn edge_response_size(cx: &mut Ctx) -> u64 {
    match cx.rng.range(0, 999) {
        0 => cx.rng.range(100_000, 1_000_000),
        1..=59 => cx.rng.range(3_000, 15_000),
        _ => cx.rng.range(100, 1_500),
    }
}

fn tcp_step(f: &mut Tcp, cx: &mut Ctx, out: &mut Pending) -> io::Result<Option<i64>> {
    if let Some(mut x) = f.xfer.take() {
        if send_window(&mut f.t, &mut x, cx, out)? {
            f.xfer = Some(x);
            // The next window after about a round trip's worth of pacing.
            f.t.pause_us(cx.rng.range(500, 4_000) as i64);
            return Ok(Some(f.t.now().as_micros()));
        }
        f.t.pause_ms(cx.rng.range(f.think_ms.0, f.think_ms.1) as i64);
        return Ok(Some(f.t.now().as_micros()));
    }
    if f.stage == 0 {
        f.t.handshake(out)?;
        match f.kind {
            K_TLS | K_TLS_LONG | K_TLS_API => {
                // A TLS 1.3 handshake as it is on the wire: a real ClientHello (a web or API
                // server's name, ALPN) and ServerHello, then the change-cipher-spec record and
                // the encrypted rest of the server's flight (certificates, finished), and the
                // client's finished.
                let (alpn, host): (&[&str], _) = match f.kind {
                    K_TLS_API => (&["http/1.1"], format!("api{}.svc.example.net", cx.rng.range(1, 400))),
                    _ => (
                        &["h2", "http/1.1"],
                        format!("{}.cdn{}.example.com", cx.rng.hex(3), cx.rng.range(1, 300)),
                    ),
                };
                let hello = encrypted::hello(&mut cx.rng, Some(&host), alpn);
                f.t.send(out, Side::A, &hello, &Delivery::default())?;
                let mut flight = encrypted::server_hello(&mut cx.rng);
                flight.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
                // On the edge most loads resume a session: no certificates in the flight.
                let n =
                    if f.edge && cx.chance(50) { cx.rng.range(100, 400) } else { cx.rng.range(2_500, 6_500) }
                        as usize;
                cx.tls_records(0x17, n);
                flight.extend_from_slice(&cx.scratch);
                f.t.send(out, Side::B, &flight, &Delivery::default())?;
                let mut fin = vec![0x14, 0x03, 0x03, 0x00, 0x01, 0x01];
                cx.tls_records(0x17, 74);
                fin.extend_from_slice(&cx.scratch);
                f.t.send(out, Side::A, &fin, &Delivery::default())?;
            }
            K_BULK => {
                let port = f.t.server().port();
                if port == 22 {
                    f.t.client_sends(out, b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u2\r\n")?;
                    f.t.server_sends(out, b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n")?;
                } else {
                    let n = cx.rng.range(100, 400) as usize;
                    let data = cx.bytes(n, false).to_vec();
                    f.t.client_sends(out, &data)?;
                }
            }
            _ => {}
        }
        f.stage = 1;
        return Ok(Some(f.t.now().as_micros()));
    }
    if f.stage > f.rounds {
        if cx.chance(8) {
            f.t.reset(out, Side::B)?;
        } else {
            f.t.close_fin(out, if cx.chance(60) { Side::A } else { Side::B })?;
        }
        return Ok(None);
    }
    f.stage += 1;
    match f.kind {
        K_TLS | K_TLS_LONG | K_TLS_API => {
            let n = cx.rng.range(90, 1_500) as usize;
            cx.tls_records(0x17, n);
            f.t.send(out, Side::A, &cx.scratch, &Delivery::default())?;
            let big = if f.kind == K_TLS { 1 } else { 0 };
            let left = if f.kind == K_TLS_API || (f.kind == K_TLS_LONG && cx.chance(70)) {
                cx.rng.range(60, 8_000)
            } else if f.edge {
                edge_response_size(cx)
            } else {
                response_size(cx, big)
            };
            if f.edge {
                // HTTP/2 over TLS: the client's small control frames (settings acknowledgement,
                // window update) before the answer, as browsers send them.
                for _ in 0..2 {
                    let n = cx.rng.range(30, 90) as usize;
                    cx.tls_records(0x17, n);
                    f.t.send(out, Side::A, &cx.scratch, &Delivery::default())?;
                }
            }
            f.xfer = Some(Transfer { from: Side::B, left, tls: true, text: false });
        }
        K_HTTP => {
            let path = cx.rng.hex(6);
            let host = cx.rng.range(1, 400);
            let req = format!(
                "GET /static/{path}/index.html HTTP/1.1\r\nHost: www{host}.example.com\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0 Safari/537.36\r\nAccept: text/html,application/xhtml+xml,*/*;q=0.8\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n"
            );
            f.t.client_sends(out, req.as_bytes())?;
            let left = if f.edge { edge_response_size(cx) } else { response_size(cx, 3) };
            let text = left < 200_000 && cx.chance(60);
            let ctype = if text { "text/html; charset=utf-8" } else { "application/octet-stream" };
            let head = format!(
                "HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: Mon, 03 Jun 2024 09:00:00 GMT\r\nContent-Type: {ctype}\r\nContent-Length: {left}\r\nConnection: keep-alive\r\n\r\n"
            );
            f.t.server_sends(out, head.as_bytes())?;
            f.xfer = Some(Transfer { from: Side::B, left, tls: false, text });
        }
        _ => {
            // Bulk: one long transfer, mostly upstream (backups) or downstream (pulls).
            let from = if cx.chance(60) { Side::A } else { Side::B };
            let left = cx.rng.range(20_000_000, 100_000_000);
            f.xfer = Some(Transfer { from, left, tls: false, text: false });
            f.rounds = 1;
        }
    }
    Ok(Some(f.t.now().as_micros()))
}

fn quic_step(q: &mut Quic, cx: &mut Ctx, out: &mut Pending) -> io::Result<Option<i64>> {
    if q.rounds == 0 {
        return Ok(None);
    }
    q.rounds -= 1;
    let down = cx.rng.range(1, 8);
    for i in 0..down + 1 {
        let (src, dst) = if i == 0 { (q.c, q.s) } else { (q.s, q.c) };
        let len = if i == 0 { cx.rng.range(40, 1_200) } else { cx.rng.range(900, 1_350) } as usize;
        let mut payload = cx.bytes(len, false).to_vec();
        if let Some(b) = payload.first_mut() {
            // Short-header packets: fixed bit set, long-header bit clear.
            *b = 0x40 | (*b & 0x3f);
        }
        let frame = cx.udp.udp(src, dst, &payload)?;
        out.write_packet(Ts::from_micros(q.now), frame)?;
        q.now += if i == 0 { 15_000 } else { 30 };
    }
    q.now += cx.exp_us(40_000.0);
    Ok(Some(q.now))
}

/// A DNS query and its answer, written at once.
fn dns(cx: &mut Ctx, at: i64, out: &mut Pending) -> io::Result<()> {
    let c = SocketAddr::new(cx.client_v4(), cx.rng.range(32_768, 60_999) as u16);
    let s = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 53)), 53);
    let mut udp = std::mem::replace(&mut cx.udp, Framer::new(Link::Raw));
    let r = dns_exchange(cx, &mut udp, c, s, at, out, None);
    cx.udp = udp;
    r
}

/// A DNS query from `c` to the resolver `s` and its answer, framed by `framer`. With `big`
/// (padding bytes, last fragment first), the answer carries an EDNS0 padding option that makes
/// it larger than the MTU, and goes as IPv4 fragments (see [`edge`]).
fn dns_exchange(
    cx: &mut Ctx,
    framer: &mut Framer,
    c: SocketAddr,
    s: SocketAddr,
    at: i64,
    out: &mut Pending,
    big: Option<(usize, bool)>,
) -> io::Result<()> {
    let id = cx.rng.range(0, 65_535) as u16;
    let name = format!("{}.cdn{}.example.com", cx.rng.hex(3), cx.rng.range(1, 300));
    let aaaa = cx.chance(40);
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&[0, if aaaa { 28 } else { 1 }, 0, 1]);
    // EDNS0 OPT record, as resolvers send.
    q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    let frame = framer.udp(c, s, &q)?;
    out.write_packet(Ts::from_micros(at), frame)?;
    let mut r = q.clone();
    if let Some(flags) = r.get_mut(2..4) {
        flags.copy_from_slice(&[0x81, 0x80]);
    }
    if let Some(an) = r.get_mut(6..8) {
        an.copy_from_slice(&[0, 1]);
    }
    r.truncate(r.len() - 11);
    r.extend_from_slice(&[0xc0, 0x0c, 0, if aaaa { 28 } else { 1 }, 0, 1, 0, 0, 0x01, 0x2c]);
    if aaaa {
        r.extend_from_slice(&[0, 16, 0x20, 0x01, 0x0d, 0xb8]);
        r.extend_from_slice(cx.bytes(12, false));
    } else {
        r.extend_from_slice(&[0, 4, 198, 18]);
        r.extend_from_slice(cx.bytes(2, false));
    }
    let rtt = cx.rng.range(300, 25_000) as i64;
    if let Some((pad, last_first)) = big {
        // OPT: root name, type 41, 4096-byte buffer, then option 12 (padding, RFC 7830).
        r.extend_from_slice(&[0, 0, 41, 0x10, 0x00, 0, 0, 0, 0]);
        r.extend_from_slice(&((pad + 4) as u16).to_be_bytes());
        r.extend_from_slice(&[0, 12]);
        r.extend_from_slice(&(pad as u16).to_be_bytes());
        r.resize(r.len() + pad, 0);
        let frame = framer.udp(s, c, &r)?;
        return edge::write_fragmented(out, Ts::from_micros(at + rtt), frame, last_first);
    }
    let frame = framer.udp(s, c, &r)?;
    out.write_packet(Ts::from_micros(at + rtt), frame)
}

fn ntp(cx: &mut Ctx, at: i64, out: &mut Pending) -> io::Result<()> {
    let c = SocketAddr::new(cx.client_v4(), 123);
    let s = SocketAddr::new(cx.server_v4(), 123);
    let mut p = [0u8; 48];
    p[0] = 0x23;
    p.get_mut(40..48).unwrap_or(&mut []).copy_from_slice(cx.bytes(8, false));
    let frame = cx.udp.udp(c, s, &p)?;
    out.write_packet(Ts::from_micros(at), frame)?;
    p[0] = 0x24;
    p[1] = 2;
    let frame = cx.udp.udp(s, c, &p)?;
    out.write_packet(Ts::from_micros(at + cx.rng.range(5_000, 40_000) as i64), frame)
}

/// Starts a background flow at `at`: UDP ones are written at once, TCP ones are returned.
fn background(cx: &mut Ctx, at: i64, out: &mut Pending) -> io::Result<Option<Flow>> {
    let r = cx.rng.range(0, 9_999);
    let (kind, port) = match r {
        0..=2_999 => (K_DNS, 53),
        3_000..=3_099 => (K_NTP, 123),
        3_100..=5_099 => (K_TLS_API, 443),
        5_100..=7_599 => (K_TLS, 443),
        7_600..=7_899 => (K_TLS_LONG, 443),
        7_900..=9_099 => (K_HTTP, 80),
        9_100..=9_997 => (K_QUIC, 443),
        _ => (K_BULK, [22, 445, 873][cx.rng.range(0, 2) as usize]),
    };
    out.kind = kind;
    match kind {
        K_DNS => dns(cx, at, out).map(|_| None),
        K_NTP => ntp(cx, at, out).map(|_| None),
        K_QUIC => {
            let v6 = cx.chance(15);
            let (c, s) = cx.pair(443, v6);
            Ok(Some(Flow::Quic(Quic { c, s, now: at, rounds: cx.rng.range(3, 20) as u32 })))
        }
        _ => {
            let v6 = kind != K_BULK && cx.chance(12);
            let (rounds, think) = match kind {
                K_TLS => (cx.rng.range(1, 6) as u32, (50, 2_000)),
                K_TLS_API => (1, (10, 100)),
                K_TLS_LONG => (cx.rng.range(10, 60) as u32, (2_000, 15_000)),
                K_HTTP => (cx.rng.range(1, 4) as u32, (100, 3_000)),
                _ => (1, (10, 100)),
            };
            let t = cx.conv(port, v6, at);
            Ok(Some(Flow::Tcp(Box::new(Tcp {
                t,
                kind,
                stage: 0,
                rounds,
                think_ms: think,
                xfer: None,
                edge: false,
            }))))
        }
    }
}

/// The n-th hidden session: two mining sessions, then a look-alike, and again; with its truth.
fn hidden(cx: &mut Ctx, n: u64, at: i64, file: &str) -> (Flow, TruthRow) {
    let i = if n % 3 == 2 { n / 3 } else { n / 3 * 2 + n % 3 };
    let client = |net: u8| {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, net, (i / 200) as u8, (i % 200) as u8 + 10)), 0)
    };
    if n % 3 == 2 {
        return lookalike(cx, i, at, client(201).ip(), file);
    }
    // Dialect, then shape: normal, odd port, midstream, split.
    let variant = [Variant::StratumV1, Variant::CryptoNote, Variant::EthProxy][(i % 3) as usize];
    let shape = (i / 3) % 4;
    let odd_ports = [443u16, 80, 8080, 25, 993, 5222, 1883, 9000];
    let port = match (shape, variant) {
        (1, _) => odd_ports[((i / 12) % 8) as usize],
        (_, Variant::EthProxy) => 4444,
        (_, Variant::CryptoNote) => [3333, 5555, 7777][(i % 3) as usize],
        _ => 3333,
    };
    let pool_ip = if i % 2 == 0 {
        Ipv4Addr::new(203, 0, 113, 1 + (i % 250) as u8)
    } else {
        Ipv4Addr::new(198, 51, 100, 1 + (i % 250) as u8)
    };
    let c = SocketAddr::new(client(200).ip(), cx.rng.range(32_768, 60_999) as u16);
    let s = SocketAddr::new(IpAddr::V4(pool_ip), port);
    let t = TcpConversation::new(c, s, Ts::from_micros(at), Link::Ethernet)
        .with_rtt_us(cx.rng.range(15_000, 120_000) as i64);
    let midstream = shape == 2 && variant != Variant::EthProxy;
    let mss = if shape == 3 { Some(cx.rng.range(2, 9) as usize) } else { None };
    let rig = format!("bench{i:03}");
    let rng = &mut cx.rng;
    let mut acts = VecDeque::new();
    let (c_, s_) = (Side::A, Side::B);
    let login = match variant {
        Variant::CryptoNote => {
            let session = rng.hex(8);
            let seed = rng.hex(32);
            let mut id = 1;
            if !midstream {
                acts.push_back(Act::Say(c_, msg::xmr_login(id, XMR_WALLET, &rig, &rig) + "\n"));
                let job = msg::xmr_job_body(rng, &session, 300_001, 3_150_001, &seed);
                acts.push_back(Act::Say(s_, msg::xmr_login_result(id, &session, &job) + "\n"));
                id += 1;
            }
            for j in 0..3u32 {
                if j > 0 || midstream {
                    let job = msg::xmr_job_body(rng, &session, 300_001 + j, 3_150_001 + j, &seed);
                    acts.push_back(Act::Say(s_, msg::xmr_job(&job) + "\n"));
                }
                for _ in 0..2 {
                    acts.push_back(Act::PauseMs(rng.range(800, 6_000) as i64));
                    acts.push_back(Act::Say(c_, msg::xmr_submit(rng, id, &session, 300_001 + j) + "\n"));
                    acts.push_back(Act::Say(s_, msg::xmr_status(id, "OK") + "\n"));
                    id += 1;
                }
                acts.push_back(Act::PauseMs(rng.range(3_000, 12_000) as i64));
            }
            acts.push_back(Act::Say(c_, msg::xmr_keepalived(id, &session) + "\n"));
            acts.push_back(Act::Say(s_, msg::xmr_status(id, "KEEPALIVED") + "\n"));
            if midstream {
                String::new()
            } else {
                XMR_WALLET.to_string()
            }
        }
        Variant::EthProxy => {
            let login = format!("{ETH_WALLET}.{rig}");
            let seed = rng.hex(32);
            let client_id = rng.hex(32);
            acts.push_back(Act::Say(c_, msg::eth_submit_login(2, &login) + "\n"));
            acts.push_back(Act::Say(s_, msg::eth_true(2) + "\n"));
            acts.push_back(Act::Say(c_, msg::eth_get_work(3) + "\n"));
            acts.push_back(Act::Say(s_, msg::eth_work(rng, 3, &seed, 19_900_000).0 + "\n"));
            for round in 0..3u32 {
                acts.push_back(Act::PauseMs(rng.range(1_500, 8_000) as i64));
                let (push, header) = msg::eth_work(rng, 0, &seed, 19_900_001 + round);
                acts.push_back(Act::Say(s_, push + "\n"));
                acts.push_back(Act::PauseMs(rng.range(500, 4_000) as i64));
                acts.push_back(Act::Say(c_, msg::eth_submit_work(rng, 4, &header) + "\n"));
                acts.push_back(Act::Say(s_, msg::eth_true(4) + "\n"));
                let rate = rng.range(50_000_000, 60_000_000);
                acts.push_back(Act::Say(c_, msg::eth_submit_hashrate(6, rate, &client_id) + "\n"));
                acts.push_back(Act::Say(s_, msg::eth_true(6) + "\n"));
            }
            login
        }
        _ => {
            let login = format!("{BTC_WALLET}.{rig}");
            if midstream {
                let (old, _) = msg::sv1_notify(rng, "2b3c0010", 851_000, true, false);
                let tail = old.get(old.len().saturating_sub(150)..).unwrap_or("");
                acts.push_back(Act::Say(s_, format!("{tail}\n")));
                acts.push_back(Act::PauseMs(4_000));
            } else {
                acts.push_back(Act::Say(c_, msg::sv1_subscribe(1, "cpuminer/2.5.1", false) + "\n"));
                acts.push_back(Act::Say(s_, msg::sv1_subscribe_result(1, &rng.hex(4)) + "\n"));
                acts.push_back(Act::Say(c_, msg::sv1_authorize(2, &login, false) + "\n"));
                acts.push_back(Act::Say(s_, msg::sv1_result_true(2) + "\n"));
                acts.push_back(Act::Say(s_, msg::sv1_set_difficulty("0.01", false) + "\n"));
            }
            for j in 0..3u32 {
                let job = format!("2b3c{:04x}", j + 0x11);
                let (notify, ntime) = msg::sv1_notify(rng, &job, 851_001 + j, j == 0, false);
                acts.push_back(Act::Say(s_, notify + "\n"));
                for _ in 0..2 {
                    acts.push_back(Act::PauseMs(rng.range(900, 5_000) as i64));
                    let nonce = rng.hex(4);
                    acts.push_back(Act::Say(c_, msg::sv1_submit(&login, &job, &ntime, &nonce, false) + "\n"));
                    acts.push_back(Act::Say(s_, msg::sv1_result_true(4) + "\n"));
                }
                acts.push_back(Act::PauseMs(rng.range(2_000, 10_000) as i64));
            }
            login
        }
    };
    acts.push_back(Act::Fin(Side::A));
    let shape_note = match (shape, midstream) {
        (1, _) => format!("on odd port {port}"),
        (2, true) => "picked up midstream (no handshake, no login)".to_string(),
        (3, _) => format!("split into segments of at most {} bytes", mss.unwrap_or(0)),
        _ => format!("on port {port}"),
    };
    let row = TruthRow {
        file: file.to_string(),
        expect: Expect::Mining,
        variant: Some(variant),
        client: Some(c),
        server: Some(s),
        login,
        note: format!("bench mining session {i}: {} {shape_note}", variant.as_str()),
    };
    (Flow::Script(Box::new(Script { t, kind: K_MINING, handshake: !midstream, mss, acts })), row)
}

const BTC_WALLET: &str = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
const XMR_WALLET: &str =
    "48edfHu7V9Z84YzzMa6fUueoELZ9ZRXq9VetWzYGzKt52XU5xvqgzYnDK9URnRoJMk1j8nLwEVsaSWJ4fhdUyZijBGUicoD";
const ETH_WALLET: &str = "0x5a0b54d5dc17e0aadc383d2db43b0a0d3e029c4c";

/// A JSON-RPC service that is not mining: Electrum, Ethereum node (lines and HTTP), plain.
fn lookalike(cx: &mut Ctx, i: u64, at: i64, cip: IpAddr, file: &str) -> (Flow, TruthRow) {
    let which = i % 4;
    let port = [50001u16, 8545, 8545, 4000][which as usize];
    let c = SocketAddr::new(cip, cx.rng.range(32_768, 60_999) as u16);
    let s = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1 + (i % 250) as u8)), port);
    let t = TcpConversation::new(c, s, Ts::from_micros(at), Link::Ethernet).with_rtt_us(30_000);
    let rng = &mut cx.rng;
    let mut acts = VecDeque::new();
    let ex = |acts: &mut VecDeque<Act>, req: String, resp: String, pause: i64| {
        acts.push_back(Act::Say(Side::A, req));
        acts.push_back(Act::Say(Side::B, resp));
        acts.push_back(Act::PauseMs(pause));
    };
    let note = match which {
        0 => {
            ex(&mut acts, "{\"jsonrpc\": \"2.0\", \"method\": \"server.version\", \"params\": [\"electrum/4.5.5\", \"1.4\"], \"id\": 0}\n".into(),
                "{\"jsonrpc\": \"2.0\", \"result\": [\"ElectrumX 1.16.0\", \"1.4\"], \"id\": 0}\n".into(), 300);
            ex(&mut acts, "{\"jsonrpc\": \"2.0\", \"method\": \"blockchain.headers.subscribe\", \"params\": [], \"id\": 1}\n".into(),
                format!("{{\"jsonrpc\": \"2.0\", \"result\": {{\"hex\": \"{}\", \"height\": 843210}}, \"id\": 1}}\n", rng.hex(80)), 500);
            for id in 2..8 {
                let sh = rng.hex(32);
                ex(&mut acts, format!("{{\"jsonrpc\": \"2.0\", \"method\": \"blockchain.scripthash.subscribe\", \"params\": [\"{sh}\"], \"id\": {id}}}\n"),
                    format!("{{\"jsonrpc\": \"2.0\", \"result\": \"{}\", \"id\": {id}}}\n", rng.hex(32)), 200);
            }
            acts.push_back(Act::PauseMs(15_000));
            acts.push_back(Act::Say(Side::B, format!("{{\"jsonrpc\": \"2.0\", \"method\": \"blockchain.headers.subscribe\", \"params\": [{{\"hex\": \"{}\", \"height\": 843211}}]}}\n", rng.hex(80))));
            "Electrum wallet JSON-RPC lines"
        }
        1 => {
            for k in 0..12u32 {
                let (req, resp) = match k % 3 {
                    0 => ("{\"jsonrpc\":\"2.0\",\"method\":\"eth_blockNumber\",\"params\":[],\"id\":ID}".to_string(), "{\"jsonrpc\":\"2.0\",\"id\":ID,\"result\":\"0x12e4a31\"}".to_string()),
                    1 => ("{\"jsonrpc\":\"2.0\",\"method\":\"eth_getBlockByNumber\",\"params\":[\"latest\",false],\"id\":ID}".to_string(),
                          format!("{{\"jsonrpc\":\"2.0\",\"id\":ID,\"result\":{{\"number\":\"0x12e4a31\",\"hash\":\"0x{}\",\"miner\":\"0x{}\",\"transactions\":[]}}}}", rng.hex(32), rng.hex(20))),
                    _ => (format!("{{\"jsonrpc\":\"2.0\",\"method\":\"eth_call\",\"params\":[{{\"to\":\"0x{}\",\"data\":\"0x70a08231\"}},\"latest\"],\"id\":ID}}", rng.hex(20)),
                          format!("{{\"jsonrpc\":\"2.0\",\"id\":ID,\"result\":\"0x{}\"}}", rng.hex(32))),
                };
                let id = (k + 1).to_string();
                ex(
                    &mut acts,
                    req.replace("ID", &id) + "\n",
                    resp.replace("ID", &id) + "\n",
                    rng.range(500, 4_000) as i64,
                );
            }
            "Ethereum node JSON-RPC lines over TCP"
        }
        2 => {
            // A wallet or dapp polling a node over HTTP. (`eth_getWork` is not a look-alike:
            // polling a node for work is solo mining, reported as `getwork`.)
            for k in 1..10u32 {
                let req = match k % 2 {
                    0 => format!("{{\"jsonrpc\":\"2.0\",\"method\":\"eth_blockNumber\",\"params\":[],\"id\":{k}}}"),
                    _ => format!(
                        "{{\"jsonrpc\":\"2.0\",\"method\":\"eth_getBalance\",\"params\":[\"0x{}\",\"latest\"],\"id\":{k}}}",
                        rng.hex(20)
                    ),
                };
                let body = format!("{{\"jsonrpc\":\"2.0\",\"id\":{k},\"result\":\"0x{}\"}}\n", rng.hex(8));
                let post = format!("POST / HTTP/1.1\r\nHost: 192.0.2.{}:8545\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: {}\r\nContent-Type: application/json\r\n\r\n{req}", 1 + i % 250, req.len());
                let ok = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                ex(&mut acts, post, ok, rng.range(1_000, 5_000) as i64);
            }
            "Ethereum node JSON-RPC over HTTP POST (eth_blockNumber, eth_getBalance)"
        }
        _ => {
            for k in 0..10u32 {
                let id = format!("{}-{}-4{}", rng.hex(4), rng.hex(2), rng.hex(6));
                ex(&mut acts, format!("{{\"jsonrpc\": \"2.0\", \"method\": \"echo\", \"params\": [\"msg {k}\"], \"id\": \"{id}\"}}\n"),
                    format!("{{\"jsonrpc\": \"2.0\", \"result\": [\"msg {k}\"], \"id\": \"{id}\"}}\n"), rng.range(200, 3_000) as i64);
            }
            "plain JSON-RPC 2.0 echo lines"
        }
    };
    acts.push_back(Act::Fin(Side::A));
    let row = TruthRow {
        file: file.to_string(),
        expect: Expect::Nothing,
        variant: None,
        client: Some(c),
        server: Some(s),
        login: String::new(),
        note: format!("bench look-alike {i}: {note}"),
    };
    (Flow::Script(Box::new(Script { t, kind: K_LOOK, handshake: true, mss: None, acts })), row)
}

/// Writes the benchmark capture to `out` (classic pcap, Ethernet) and returns what it holds.
pub fn write_bench<W: Write>(out: W, spec: &BenchSpec) -> io::Result<BenchSummary> {
    write_mix(out, spec, Mix::Standard, Vec::new())
}

/// Writes the edge mix (see [`edge`]), splicing in `splices` (from [`load_splices`]).
pub fn write_edge<W: Write>(out: W, spec: &BenchSpec, splices: Vec<Splice>) -> io::Result<BenchSummary> {
    write_mix(out, spec, Mix::Edge, splices)
}

/// Writes a capture of the given mix (`splices` are used by the edge mix only).
pub fn write_mix<W: Write>(
    out: W,
    spec: &BenchSpec,
    mix: Mix,
    splices: Vec<Splice>,
) -> io::Result<BenchSummary> {
    let mut w = PcapWriter::new(out, LinkType::Ethernet)?;
    let mut cx = Ctx::new(spec.seed);
    cx.splices = splices;
    let mut pending = Pending {
        heap: BinaryHeap::new(),
        order: 0,
        free: Vec::new(),
        kind: 0,
        mix_bytes: [0; KINDS],
        written: 24,
        last_ts: T0_US,
    };
    let mut flows: HashMap<u64, Flow> = HashMap::new();
    let mut due: BinaryHeap<Reverse<(i64, u64)>> = BinaryHeap::new();
    let mut next_id = 0u64;
    let mut mix_flows = [0u64; KINDS];
    let mut truth = Vec::new();

    let mining_total = (spec.size / BYTES_PER_MINING).max(MIN_MINING) / 2 * 2;
    let hidden_total = mining_total + mining_total / 2;
    let mut hidden_started = 0u64;
    let mut background_on = true;
    let mut next_arrival = T0_US;
    let mean_gap_us = 1e6 / if mix == Mix::Edge { edge::EDGE_ARRIVALS_PER_SEC } else { ARRIVALS_PER_SEC };

    loop {
        let written = pending.written;
        if background_on && written >= spec.size {
            // The capture window closes for background traffic: open flows stop where they are.
            background_on = false;
            flows.retain(|_, f| matches!(f, Flow::Script(_)));
        }
        let next_due = due.peek().map(|Reverse((t, _))| *t);
        if background_on && next_due.map_or(true, |t| next_arrival <= t) {
            let at = next_arrival;
            next_arrival += cx.exp_us(mean_gap_us).max(1);
            pending.drain_before(at, &mut w)?;
            let mut new = Vec::new();
            // Hidden sessions start as the file crosses fixed fractions of 60% of its size.
            while hidden_started < hidden_total
                && written >= spec.size / 10 * 6 / hidden_total * hidden_started
            {
                let (flow, row) = hidden(&mut cx, hidden_started, at, &spec.file);
                truth.push(row);
                new.push(flow);
                hidden_started += 1;
            }
            let started = match mix {
                Mix::Standard => background(&mut cx, at, &mut pending)?,
                Mix::Edge => edge::background_edge(&mut cx, at, &mut pending)?,
            };
            match started {
                Some(flow) => new.push(flow),
                None => mix_flows[pending.kind] += 1,
            }
            for flow in new {
                mix_flows[flow.kind()] += 1;
                flows.insert(next_id, flow);
                due.push(Reverse((at, next_id)));
                next_id += 1;
            }
            continue;
        }
        let Some(Reverse((t, id))) = due.pop() else { break };
        let Some(mut flow) = flows.remove(&id) else { continue };
        pending.drain_before(t, &mut w)?;
        pending.kind = flow.kind();
        if let Some(next) = step(&mut flow, &mut cx, &mut pending)? {
            flows.insert(id, flow);
            due.push(Reverse((next.max(t), id)));
        }
    }
    pending.drain_before(i64::MAX, &mut w)?;
    let packets = w.packets();
    w.into_inner()?;
    Ok(BenchSummary {
        packets,
        bytes: pending.written,
        flows: mix_flows.iter().sum(),
        span_us: pending.last_ts - T0_US,
        truth,
        mix: KIND_NAMES
            .iter()
            .zip(mix_flows.iter().zip(pending.mix_bytes.iter()))
            .map(|(k, (f, b))| (*k, *f, *b))
            .filter(|(_, f, _)| *f > 0)
            .collect(),
    })
}

/// Parses a size such as `1.2G`, `100M`, `512k` or `1000000` (decimal units: a benchmark's
/// gigabyte is 10^9 bytes, as link speeds are).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (s.get(..i)?, 1e3),
        (i, 'm' | 'M') => (s.get(..i)?, 1e6),
        (i, 'g' | 'G') => (s.get(..i)?, 1e9),
        _ => (s, 1.0),
    };
    let v: f64 = num.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some((v * mult) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen(size: u64, seed: u64) -> (Vec<u8>, BenchSummary) {
        let mut out = Vec::new();
        let s = write_bench(&mut out, &BenchSpec { size, seed, file: "b.pcap".into() }).unwrap();
        (out, s)
    }

    #[test]
    fn deterministic_sized_and_time_ordered() {
        let (a, sa) = gen(3_000_000, 7);
        let (b, _) = gen(3_000_000, 7);
        assert_eq!(a, b, "same arguments, same bytes");
        let (c, _) = gen(3_000_000, 8);
        assert_ne!(a, c, "another seed, other traffic");
        assert!(a.len() as u64 >= 3_000_000, "{} bytes", a.len());
        assert_eq!(sa.bytes, a.len() as u64);
        // Every record's time is at or after the previous one.
        let mut off = 24;
        let mut last = 0u64;
        let mut n = 0;
        while off + 16 <= a.len() {
            let u = |o: usize| u32::from_le_bytes(a[o..o + 4].try_into().unwrap()) as u64;
            let ts = u(off) * 1_000_000 + u(off + 4);
            assert!(ts >= last, "record {n} goes back in time");
            last = ts;
            off += 16 + u(off + 8) as usize;
            n += 1;
        }
        assert_eq!(off, a.len());
        assert_eq!(n, sa.packets);
        // Every hidden session is in the truth: mining, half as many look-alikes, all dialects.
        let mining: Vec<_> = sa.truth.iter().filter(|r| r.expect == Expect::Mining).collect();
        assert_eq!(mining.len() as u64, MIN_MINING);
        assert_eq!(sa.truth.len() as u64, MIN_MINING + MIN_MINING / 2);
        for v in [Variant::StratumV1, Variant::CryptoNote, Variant::EthProxy] {
            assert!(mining.iter().any(|r| r.variant == Some(v)), "{v:?}");
        }
    }

    #[test]
    fn the_edge_mix_is_deterministic_and_splices_whole_captures() {
        let dirs = default_splice_dirs();
        let dirs: Vec<&std::path::Path> = dirs.iter().map(|d| d.as_path()).collect();
        let splices = load_splices(&dirs).unwrap();
        assert!(splices.len() >= 19, "the negatives of pcaps/ at least: {}", splices.len());
        let spec = BenchSpec { size: 3_000_000, seed: 7, file: "e.pcap".into() };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let sa = write_edge(&mut a, &spec, splices.clone()).unwrap();
        write_edge(&mut b, &spec, splices).unwrap();
        assert_eq!(a, b, "same arguments, same bytes");
        let c = census(a.as_slice()).unwrap();
        assert_eq!(c.packets, sa.packets);
        assert!(c.spliced_bytes > 0 && c.tcp_flows > 100 && c.dns_flows > 50, "{c:?}");
        assert!(sa.mix.iter().any(|(k, f, _)| *k == "spliced" && *f > 0), "{:?}", sa.mix);
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("1.2G"), Some(1_200_000_000));
        assert_eq!(parse_size("100M"), Some(100_000_000));
        assert_eq!(parse_size("512k"), Some(512_000));
        assert_eq!(parse_size("42"), Some(42));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("-1G"), None);
    }
}
