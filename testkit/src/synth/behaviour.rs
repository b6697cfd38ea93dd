//! Encrypted mining with no name, and long-lived TLS that is not mining, for the behaviour
//! watch (`minewatch::inspect::behaviour`).
//!
//! Two ways to an encrypted session: [`messages_of`] reads a real cleartext session from a
//! capture (each application write: its time, direction and length) and [`write_encrypted`]
//! writes it again as TLS 1.3 would carry it: a handshake (no SNI, no ALPN, as XMRig sends to
//! an address), then each write as one application-data record of the length the AEAD gives
//! (plaintext + 1 content-type byte + 16 tag bytes, i.e. 22 bytes more on the wire with the
//! header), at the same time and in the same direction. Or [`coin_session`] makes a long
//! session up from a coin's block clock (new work at exponential intervals of the coin's mean
//! block time, plus a pool's periodic refresh where pools do that), shares at a vardiff rate
//! (exponential intervals), XMRig-style keepalives after silence, with the sizes seen in the
//! real captures. Hours of packet time cost nothing: only the packets are written.
//!
//! The negatives ([`negative`]) model long-lived TLS applications whose shape comes closest to
//! mining: MQTT subscribers and publishers, IMAP IDLE, a WebSocket ticker, a chat client with
//! an application heartbeat, an HTTPS long-poll. Captures of the real programs (mosquitto, a
//! Python TLS Stratum pool) are kept beside them (`pcaps/behaviour/`).

use std::io::{self, Write};
use std::net::SocketAddr;

use super::encrypted::hello_ech;
use super::msg::Rng;
use super::scenarios::{at, pcap, sa, tls_record, Truth};
use super::tcp::{Side, TcpConversation};
use super::PacketSink;
use minewatch::decode::{decode, LinkType, Transport};
use minewatch::stratum::Variant;
use minewatch::time::Ts;

/// AEAD expansion of a TLS 1.3 record's length field: content type byte and 16-byte tag.
pub const AEAD_OVERHEAD: usize = 17;

/// One application write: when (microseconds from the session's first write), who, how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Msg {
    pub t_us: i64,
    pub from_client: bool,
    pub len: usize,
}

/// Writes of one direction closer than this, with nothing from the other side between, are
/// one application write cut into segments.
const SAME_WRITE_US: i64 = 2_000;

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// The application writes of the TCP connection `client`↔`server` in a classic pcap file
/// (`bytes`), in capture order; retransmitted bytes are dropped, segments of one write joined.
pub fn messages_of(bytes: &[u8], client: SocketAddr, server: SocketAddr) -> io::Result<Vec<Msg>> {
    let head = bytes.get(..24).ok_or_else(|| bad("not a pcap file"))?;
    let (le, nanos) = match head.get(..4) {
        Some([0xd4, 0xc3, 0xb2, 0xa1]) => (true, false),
        Some([0xa1, 0xb2, 0xc3, 0xd4]) => (false, false),
        Some([0x4d, 0x3c, 0xb2, 0xa1]) => (true, true),
        Some([0xa1, 0xb2, 0x3c, 0x4d]) => (false, true),
        _ => return Err(bad("not a classic pcap file")),
    };
    let u32_at = |b: &[u8], i: usize| -> u32 {
        let w: [u8; 4] = b.get(i..i + 4).and_then(|s| s.try_into().ok()).unwrap_or([0; 4]);
        if le {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    };
    let link = LinkType::from_dlt(u32_at(head, 20) as i32).ok_or_else(|| bad("unknown link type"))?;
    let mut out: Vec<Msg> = Vec::new();
    let mut next_seq: [Option<u32>; 2] = [None, None];
    let mut last_side: Option<bool> = None;
    let mut last_t = 0i64;
    let mut t0: Option<i64> = None;
    let mut off = 24;
    while let Some(rec) = bytes.get(off..off + 16) {
        let sec = i64::from(u32_at(rec, 0));
        let frac = i64::from(u32_at(rec, 4));
        let caplen = u32_at(rec, 8) as usize;
        let frame = bytes.get(off + 16..off + 16 + caplen).ok_or_else(|| bad("cut short"))?;
        off += 16 + caplen;
        let ts = sec * 1_000_000 + if nanos { frac / 1000 } else { frac };
        let Ok(p) = decode(link, frame) else { continue };
        let Transport::Tcp(tcp) = p.transport else { continue };
        let src = SocketAddr::new(p.src, p.src_port);
        let dst = SocketAddr::new(p.dst, p.dst_port);
        let from_client = if (src, dst) == (client, server) {
            true
        } else if (src, dst) == (server, client) {
            false
        } else {
            continue;
        };
        if p.payload.is_empty() {
            continue;
        }
        let k = usize::from(!from_client);
        let seq = tcp.seq;
        let end = seq.wrapping_add(p.payload.len() as u32);
        let new_bytes = match next_seq.get(k).copied().flatten() {
            // Only what lies past the highest byte seen counts (retransmissions, overlaps).
            Some(n) => {
                let ahead = end.wrapping_sub(n) as i32;
                if ahead <= 0 {
                    continue;
                }
                ahead as usize
            }
            None => p.payload.len(),
        };
        if let Some(slot) = next_seq.get_mut(k) {
            *slot = Some(end);
        }
        let t = ts - *t0.get_or_insert(ts);
        match out.last_mut() {
            Some(m) if last_side == Some(from_client) && t - last_t <= SAME_WRITE_US => m.len += new_bytes,
            _ => out.push(Msg { t_us: t, from_client, len: new_bytes }),
        }
        last_side = Some(from_client);
        last_t = t;
    }
    Ok(out)
}

/// `msgs` with its steady part (from write `keep` on) repeated, each time `gap_us` after the
/// last, until `until_us`: a short real session made long with its own timing, sizes and
/// directions.
pub fn looped(msgs: &[Msg], keep: usize, gap_us: i64, until_us: i64) -> Vec<Msg> {
    let mut out: Vec<Msg> = msgs.to_vec();
    let Some(steady) = msgs.get(keep..).filter(|s| !s.is_empty()) else { return out };
    let (first, last) = (steady.first().map_or(0, |m| m.t_us), steady.last().map_or(0, |m| m.t_us));
    let period = (last - first) + gap_us.max(1);
    let mut shift = period;
    while out.last().map_or(0, |m| m.t_us) < until_us {
        out.extend(steady.iter().map(|m| Msg { t_us: m.t_us + shift, ..*m }));
        shift += period;
    }
    out.retain(|m| m.t_us <= until_us);
    out
}

/// What the TLS session of [`write_encrypted`] looks like.
pub struct Encrypted<'a> {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub start: Ts,
    /// Round trip between client and server at the capture point.
    pub rtt_us: i64,
    pub msgs: &'a [Msg],
    pub seed: u64,
    pub sni: Option<&'a str>,
    pub alpn: &'a [&'a str],
    /// The hello carries an Encrypted Client Hello extension (`sni` is then its outer name).
    pub ech: bool,
}

/// Writes `e` as a TLS 1.3 session over TCP: handshake, the server's flight (ServerHello, a
/// change_cipher_spec, the encrypted certificate flight), the client's Finished, two session
/// tickets, then each write as one application-data record; FIN from the client.
pub fn write_encrypted<S: PacketSink>(w: &mut S, e: &Encrypted<'_>) -> io::Result<TcpConversation> {
    let mut t =
        TcpConversation::new(e.client, e.server, e.start, super::frame::Link::Ethernet).with_rtt_us(e.rtt_us);
    let rng = &mut Rng::new(e.seed);
    t.handshake(w)?;
    t.client_sends(w, &hello_ech(rng, e.sni, e.alpn, e.ech))?;
    let mut flight = tls_record(rng, 0x16, 122);
    flight.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
    let cert_len = 2100 + rng.range(0, 400) as usize;
    flight.extend(tls_record(rng, 0x17, cert_len));
    t.server_sends(w, &flight)?;
    let mut fin = vec![0x14, 0x03, 0x03, 0x00, 0x01, 0x01];
    fin.extend(tls_record(rng, 0x17, 53));
    t.client_sends(w, &fin)?;
    let mut tickets = tls_record(rng, 0x17, 233);
    tickets.extend(tls_record(rng, 0x17, 233));
    t.server_sends(w, &tickets)?;
    let base = t.now().as_micros() + 5_000;
    for m in e.msgs {
        t.wait_until(Ts::from_micros(base + m.t_us));
        let mut rec = Vec::new();
        let mut left = m.len;
        // A write longer than a record's plaintext goes in several records.
        while left > 0 {
            let n = left.min(16_384);
            rec.extend(tls_record(rng, 0x17, n + AEAD_OVERHEAD));
            left -= n;
        }
        if m.from_client {
            t.client_sends(w, &rec)?;
        } else {
            t.server_sends(w, &rec)?;
        }
    }
    t.close_fin(w, Side::A)?;
    Ok(t)
}

/// An exponential interval of mean `mean_s`, in microseconds (at least 1 ms).
fn exp_us(rng: &mut Rng, mean_s: f64) -> i64 {
    let u = ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    ((-u.ln() * mean_s * 1e6) as i64).max(1_000)
}

/// A coin's clock and the sizes of its Stratum messages (plaintext bytes, from the real
/// captures: XMRig `job` 378, `submit` 205, `keepalived` 83, answers 63-72; cpuminer
/// `mining.notify` ~330-700, `mining.submit` ~150, answers ~40).
#[derive(Clone, Copy, Debug)]
pub struct Coin {
    pub name: &'static str,
    /// Mean time between blocks (new work at each).
    pub block_s: f64,
    /// Pools that refresh work on a timer too (Bitcoin-style `mining.notify` every ~30 s).
    pub refresh_s: Option<f64>,
    pub job_len: (u64, u64),
    pub submit_len: (u64, u64),
    pub answer_len: (u64, u64),
    /// XMRig's `keepalived` after this much client silence.
    pub keepalive: Option<(f64, usize)>,
}

pub const MONERO: Coin = Coin {
    name: "monero",
    block_s: 120.0,
    refresh_s: None,
    job_len: (370, 390),
    submit_len: (204, 208),
    answer_len: (63, 64),
    keepalive: Some((60.0, 83)),
};
pub const BITCOIN: Coin = Coin {
    name: "bitcoin",
    block_s: 600.0,
    refresh_s: Some(30.0),
    job_len: (520, 700),
    submit_len: (148, 160),
    answer_len: (38, 42),
    keepalive: None,
};
pub const LITECOIN: Coin = Coin {
    name: "litecoin",
    block_s: 150.0,
    refresh_s: Some(55.0),
    job_len: (480, 640),
    submit_len: (150, 162),
    answer_len: (38, 42),
    keepalive: None,
};
pub const RAVENCOIN: Coin = Coin {
    name: "ravencoin",
    block_s: 60.0,
    refresh_s: None,
    job_len: (300, 330),
    submit_len: (240, 250),
    answer_len: (38, 42),
    keepalive: None,
};
pub const ETC: Coin = Coin {
    name: "ethereum-classic",
    block_s: 13.0,
    refresh_s: None,
    job_len: (250, 262),
    submit_len: (190, 196),
    answer_len: (38, 40),
    keepalive: None,
};

/// A made-up session of `coin`: login and first job, then `duration_s` of pushes (block clock
/// and refresh), shares every `share_s` on average (each answered after `rtt_us` and a little
/// pool time) and keepalives.
pub fn coin_session(coin: &Coin, share_s: f64, duration_s: f64, rtt_us: i64, seed: u64) -> Vec<Msg> {
    let rng = &mut Rng::new(seed);
    let end = (duration_s * 1e6) as i64;
    let mut out = vec![
        Msg { t_us: 0, from_client: true, len: 520 },
        Msg { t_us: rtt_us + 600, from_client: false, len: 490 },
    ];
    // Pool pushes: block clock, plus the refresh timer (restarted at each push).
    let mut next_block = exp_us(rng, coin.block_s);
    let mut next_refresh = coin.refresh_s.map(|r| (r * 1e6) as i64);
    loop {
        let (at, block) = match next_refresh {
            Some(r) if r < next_block => (r, false),
            _ => (next_block, true),
        };
        if at > end {
            break;
        }
        out.push(Msg {
            t_us: at,
            from_client: false,
            len: rng.range(coin.job_len.0, coin.job_len.1) as usize,
        });
        if block {
            next_block = at + exp_us(rng, coin.block_s);
        }
        next_refresh = coin.refresh_s.map(|r| at + (r * 1e6) as i64);
    }
    // Shares and keepalives.
    let mut last_client = 0i64;
    let mut next_share = exp_us(rng, share_s);
    loop {
        let ka = coin.keepalive.map(|(s, len)| (last_client + (s * 1e6) as i64, len));
        let (at, len, answer) = match ka {
            Some((k, len)) if k < next_share => (k, len, 72),
            _ => {
                let a = next_share;
                next_share = a + exp_us(rng, share_s);
                (
                    a,
                    rng.range(coin.submit_len.0, coin.submit_len.1) as usize,
                    rng.range(coin.answer_len.0, coin.answer_len.1) as usize,
                )
            }
        };
        if at > end {
            break;
        }
        out.push(Msg { t_us: at, from_client: true, len });
        out.push(Msg { t_us: at + rtt_us + rng.range(200, 3000) as i64, from_client: false, len: answer });
        last_client = at;
    }
    out.sort_by_key(|m| m.t_us);
    out
}

/// Long-lived TLS applications that are not mining.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Negative {
    /// MQTT subscriber: the broker pushes readings every 10 s; the client sends a 2-byte
    /// PINGREQ every 60 s (answered by PINGRESP) and a PUBACK (QoS 1) per message.
    MqttSubscriber,
    /// MQTT publisher: a reading every 5 s, each acknowledged (PUBACK); the broker never
    /// speaks first.
    MqttPublisher,
    /// IMAP IDLE: a new-mail notice every few minutes, then DONE, a FETCH and the message.
    ImapIdle,
    /// A WebSocket ticker: one fixed-size update a second; pings of a few bytes.
    WebSocketTicker,
    /// A chat client with an application heartbeat (a fixed JSON every 30 s, acknowledged)
    /// and messages pushed at random times with random lengths.
    ChatHeartbeat,
    /// Push notifications of one size at random times, with a 25 s heartbeat answered: the
    /// closest to a pool's pushes and a miner's keepalives.
    PushHeartbeat,
    /// HTTPS long-poll: each request is held up to 30 s, then answered with the news, and
    /// asked again at once.
    LongPoll,
}

/// A made-up session of `n` lasting `duration_s`.
pub fn negative(n: Negative, duration_s: f64, rtt_us: i64, seed: u64) -> Vec<Msg> {
    let rng = &mut Rng::new(seed);
    let end = (duration_s * 1e6) as i64;
    let mut out = Vec::new();
    let mut push = |t: i64, from_client: bool, len: usize| out.push(Msg { t_us: t, from_client, len });
    let ans = |rng: &mut Rng| rtt_us + rng.range(100, 2000) as i64;
    match n {
        Negative::MqttSubscriber => {
            push(0, true, 40); // CONNECT
            push(rtt_us, false, 4); // CONNACK
            push(rtt_us * 2, true, 20); // SUBSCRIBE
            push(rtt_us * 3, false, 5); // SUBACK
            let mut t = 10_000_000;
            while t < end {
                let len = rng.range(90, 260) as usize;
                push(t, false, len);
                push(t + 300, true, 4);
                t += 10_000_000;
            }
            let mut t = 60_000_000;
            while t < end {
                push(t, true, 2);
                let a = ans(rng);
                push(t + a, false, 2);
                t += 60_000_000;
            }
        }
        Negative::MqttPublisher => {
            push(0, true, 40);
            push(rtt_us, false, 4);
            let mut t = 5_000_000;
            while t < end {
                push(t, true, rng.range(120, 160) as usize);
                let a = ans(rng);
                push(t + a, false, 4);
                t += 5_000_000;
            }
        }
        Negative::ImapIdle => {
            push(0, false, 90); // greeting
            push(rtt_us * 2, true, 40); // LOGIN
            push(rtt_us * 3, false, 120);
            push(rtt_us * 4, true, 10); // IDLE
            push(rtt_us * 5, false, 12);
            let mut t = exp_us(rng, 240.0);
            while t < end {
                push(t, false, 24); // * N EXISTS
                push(t + 400, true, 6); // DONE
                push(t + 400 + rtt_us, false, 30);
                push(t + 900 + rtt_us, true, 28); // FETCH
                push(t + 900 + 2 * rtt_us, false, rng.range(1800, 9000) as usize);
                push(t + 1500 + 2 * rtt_us, true, 10); // IDLE again
                push(t + 1500 + 3 * rtt_us, false, 12);
                t += exp_us(rng, 240.0);
            }
        }
        Negative::WebSocketTicker => {
            push(0, true, 380); // upgrade request
            push(rtt_us, false, 160); // 101
            let mut t = 1_000_000;
            while t < end {
                push(t, false, rng.range(170, 190) as usize);
                if t % 20_000_000 == 0 {
                    push(t + 5_000, true, 10); // masked ping
                    push(t + 5_000 + rtt_us, false, 6);
                }
                t += 1_000_000;
            }
        }
        Negative::ChatHeartbeat | Negative::PushHeartbeat => {
            push(0, true, 300);
            push(rtt_us, false, 900);
            let beat = if n == Negative::ChatHeartbeat { 30_000_000 } else { 25_000_000 };
            let mut t = beat;
            while t < end {
                push(t, true, 100);
                let a = ans(rng);
                push(t + a, false, 60);
                t += beat;
            }
            let mut t = exp_us(rng, 40.0);
            while t < end {
                let len =
                    if n == Negative::ChatHeartbeat { rng.range(150, 1500) } else { rng.range(300, 310) };
                push(t, false, len as usize);
                t += exp_us(rng, 40.0);
            }
        }
        Negative::LongPoll => {
            let mut t = 0;
            while t < end {
                push(t, true, rng.range(380, 420) as usize);
                let wait = rng.range(2_000_000, 30_000_000) as i64;
                push(t + wait, false, rng.range(300, 900) as usize);
                t += wait + rtt_us;
            }
        }
    }
    out.sort_by_key(|m| m.t_us);
    out
}

/// Frames gathered from several conversations, written in time order at the end: the way to
/// put sessions that overlap in time into one capture.
pub struct Gather {
    frames: Vec<(Ts, u64, Vec<u8>)>,
    n: u64,
}

impl PacketSink for Gather {
    fn write_packet(&mut self, ts: Ts, frame: &[u8]) -> io::Result<()> {
        self.frames.push((ts, self.n, frame.to_vec()));
        self.n += 1;
        Ok(())
    }

    fn link(&self) -> minewatch::decode::LinkType {
        super::frame::Link::Ethernet.link_type()
    }
}

impl Gather {
    pub fn new() -> Gather {
        Gather { frames: Vec::new(), n: 0 }
    }

    /// Writes every frame gathered, in time order (ties in the order written).
    pub fn write_to(mut self, out: &mut dyn Write) -> io::Result<()> {
        self.frames.sort_by_key(|(ts, n, _)| (ts.as_micros(), *n));
        let mut w = pcap(out, super::frame::Link::Ethernet)?;
        for (ts, _, f) in &self.frames {
            w.write_packet(*ts, f)?;
        }
        Ok(())
    }
}

impl Default for Gather {
    fn default() -> Self {
        Gather::new()
    }
}

/// A Monero session in the clear (XMRig dialect): login at `start`, a `job` push at each of
/// `pushes` (absolute), a share every ~10 s, each answered.
fn cleartext_monero<S: PacketSink>(
    w: &mut S,
    client: SocketAddr,
    server: SocketAddr,
    start: Ts,
    end: Ts,
    pushes: &[i64],
    seed: u64,
) -> io::Result<TcpConversation> {
    use super::msg::{xmr_job, xmr_job_body, xmr_login, xmr_login_result, xmr_status, xmr_submit};
    let rng = &mut Rng::new(seed);
    let mut t = TcpConversation::new(client, server, start, super::frame::Link::Ethernet).with_rtt_us(20_000);
    t.handshake(w)?;
    let session = "7c2d1f0e-aligned";
    let seedhash = rng.hex(32);
    t.client_sends(
        w,
        format!("{}\n", xmr_login(1, super::scenarios::XMR_WALLET, "x", "rig-clear")).as_bytes(),
    )?;
    let job = xmr_job_body(rng, session, 1, 3_100_000, &seedhash);
    t.server_sends(w, format!("{}\n", xmr_login_result(1, session, &job)).as_bytes())?;
    let mut events: Vec<(i64, bool)> = pushes.iter().map(|p| (*p, false)).collect();
    let mut s = start.as_micros() + exp_us(rng, 10.0);
    while s < end.as_micros() {
        events.push((s, true));
        s += exp_us(rng, 10.0);
    }
    events.sort_unstable();
    let (mut id, mut job_id) = (1u32, 1u32);
    for (at, share) in events {
        t.wait_until(Ts::from_micros(at));
        if share {
            id += 1;
            t.client_sends(w, format!("{}\n", xmr_submit(rng, id, session, job_id)).as_bytes())?;
            t.server_sends(w, format!("{}\n", xmr_status(id, "OK")).as_bytes())?;
        } else {
            job_id += 1;
            let body = xmr_job_body(rng, session, job_id, 3_100_000 + job_id, &seedhash);
            t.server_sends(w, format!("{}\n", xmr_job(&body)).as_bytes())?;
        }
    }
    t.close_fin(w, Side::A)?;
    Ok(t)
}

/// A suspect's writes: login and job, pushes at `pushes` (relative), shares every ~5 s.
fn suspect(pushes: &[i64], duration_s: f64, seed: u64) -> Vec<Msg> {
    let rng = &mut Rng::new(seed);
    let end = (duration_s * 1e6) as i64;
    let mut out = vec![
        Msg { t_us: 0, from_client: true, len: 520 },
        Msg { t_us: 30_600, from_client: false, len: 490 },
    ];
    out.extend(pushes.iter().filter(|p| **p > 0 && **p < end).map(|p| Msg {
        t_us: *p,
        from_client: false,
        len: 378,
    }));
    let mut s = exp_us(rng, 5.0);
    while s < end {
        out.push(Msg { t_us: s, from_client: true, len: 205 });
        out.push(Msg { t_us: s + 30_000 + rng.range(200, 2000) as i64, from_client: false, len: 63 });
        s += exp_us(rng, 5.0);
    }
    out.sort_by_key(|m| m.t_us);
    out
}

/// Cross-flow evidence in one capture (kept in `pcaps/behaviour/`): a Monero session in the
/// clear whose pool pushes jobs on a fast block clock (mean 20 s), then two TLS sessions with
/// no name, 150 s each: the first gets its jobs at the same instants (0.3 s later), the second
/// 9 s off them. Only the first lines up with the known session's pushes; with a
/// `--behaviour-min-duration` over 150 s only it is decided (after
/// `--behaviour-aligned-duration`), with the default both are, by their behaviour.
/// Returns the truth rows' endpoints: (clear, aligned, control).
pub fn aligned_capture(out: &mut dyn Write) -> io::Result<[(SocketAddr, SocketAddr); 3]> {
    let start = at(5000);
    let rng = &mut Rng::new(5000);
    let mut pushes = Vec::new();
    let mut p = start.as_micros() + exp_us(rng, 20.0);
    while p < start.as_micros() + 400_000_000 {
        pushes.push(p);
        p += exp_us(rng, 20.0);
    }
    let mut g = Gather::new();
    let clear = cleartext_monero(
        &mut g,
        sa("10.73.0.2:42001")?,
        sa("198.51.100.90:3333")?,
        start,
        Ts::from_micros(start.as_micros() + 400_000_000),
        &pushes,
        5001,
    )?;
    let mut ends = [(clear.client(), clear.server()); 3];
    for (k, (client, server, shift)) in [
        ("10.73.0.3:42002", "203.0.113.91:443", 300_000i64),
        ("10.73.0.4:42003", "203.0.113.92:443", 9_000_000),
    ]
    .into_iter()
    .enumerate()
    {
        let s0 = start.as_micros() + 60_000_000 + k as i64 * 170_000_000;
        // The session's writes are timed from its first application write, ~the handshake
        // plus a few ms after its start: near enough for a 2 s tolerance.
        let rel: Vec<i64> = pushes.iter().map(|p| p + shift - s0).collect();
        let msgs = suspect(&rel, 150.0, 5002 + k as u64);
        let e = Encrypted {
            client: sa(client)?,
            server: sa(server)?,
            start: Ts::from_micros(s0),
            rtt_us: 30_000,
            msgs: &msgs,
            seed: 5010 + k as u64,
            sni: None,
            alpn: &[],
            ech: false,
        };
        let t = write_encrypted(&mut g, &e)?;
        if let Some(slot) = ends.get_mut(k + 1) {
            *slot = (t.client(), t.server());
        }
    }
    g.write_to(out)?;
    Ok(ends)
}

/// One encrypted session in a capture file of its own (Ethernet, classic pcap).
fn one_session(out: &mut dyn Write, e: &Encrypted<'_>) -> io::Result<TcpConversation> {
    let mut w = pcap(out, super::frame::Link::Ethernet)?;
    write_encrypted(&mut w, e)
}

/// A bundled positive: `coin` mined over TLS with no name (scenario table, `pcaps/`).
fn positive(
    out: &mut dyn Write,
    truth: &mut Truth,
    coin: &Coin,
    share_s: f64,
    minutes: f64,
    (client, server, minute): (&str, &str, i64),
    seed: u64,
) -> io::Result<()> {
    let msgs = coin_session(coin, share_s, minutes * 60.0, 30_000, seed);
    let e = Encrypted {
        client: sa(client)?,
        server: sa(server)?,
        start: at(minute),
        rtt_us: 30_000,
        msgs: &msgs,
        seed,
        sni: None,
        alpn: &[],
        ech: false,
    };
    let t = one_session(out, &e)?;
    let note = format!(
        "behaviour: {} over TLS with no SNI to a bare address, {minutes} min: jobs on the coin's block clock (mean {} s{}), a share every {share_s} s on average, each answered in ~30 ms; clue behaviour",
        coin.name,
        coin.block_s,
        coin.refresh_s.map_or(String::new(), |r| format!(", refreshed every {r} s")),
    );
    truth.mining(Variant::Tls, &t, "", &note);
    Ok(())
}

/// A bundled negative: `n` over TLS with no SNI, `minutes` long.
fn negative_capture(
    out: &mut dyn Write,
    truth: &mut Truth,
    n: Negative,
    minutes: f64,
    (client, server, minute): (&str, &str, i64),
    seed: u64,
    note: &str,
) -> io::Result<()> {
    let msgs = negative(n, minutes * 60.0, 25_000, seed);
    let e = Encrypted {
        client: sa(client)?,
        server: sa(server)?,
        start: at(minute),
        rtt_us: 25_000,
        msgs: &msgs,
        seed,
        sni: None,
        alpn: &[],
        ech: false,
    };
    let t = one_session(out, &e)?;
    truth.none_for(&t, note);
    Ok(())
}

/// The outer name of the ECH captures: Cloudflare's public name, which every ECH hello to a
/// site behind Cloudflare shows, whatever the site.
const ECH_OUTER: &str = "cloudflare-ech.com";

/// A Monero session over TLS (10 min, a share every 10 s) whose ClientHello uses Encrypted
/// Client Hello with `ECH_OUTER` as its outer SNI and offers no ALPN, as XMRig would through
/// a TLS library that speaks ECH: the outer name is no pool's, the real one is encrypted, so
/// only behaviour is left (one alert, clue behaviour, with the ECH fact). With `browser`, the
/// same writes after a hello that offers `h2` and `http/1.1` too, as Chrome's (which sends a
/// GREASE ECH on most hellos): the flow is shaped like mining, so only the HTTP-only ALPN rule
/// keeps it out of the watch, and nothing is raised.
fn ech_session(out: &mut dyn Write, truth: &mut Truth, browser: bool) -> io::Result<()> {
    let (client, server, minute, seed) = if browser {
        ("10.72.0.3:44002", "203.0.113.88:443", 4400, 88)
    } else {
        ("10.72.0.2:44001", "203.0.113.87:443", 4300, 87)
    };
    // The same writes both ways: the browser's differs from the miner's by its ALPN alone.
    let msgs = coin_session(&MONERO, 10.0, 600.0, 30_000, 87);
    let alpn: &[&str] = if browser { &["h2", "http/1.1"] } else { &[] };
    let e = Encrypted {
        client: sa(client)?,
        server: sa(server)?,
        start: at(minute),
        rtt_us: 30_000,
        msgs: &msgs,
        seed,
        sni: Some(ECH_OUTER),
        alpn,
        ech: true,
    };
    let t = one_session(out, &e)?;
    if browser {
        truth.none_for(&t, "NEGATIVE: a browser's hello with ECH (outer SNI cloudflare-ech.com) and ALPN h2 + http/1.1, then the writes of beh-ech-monero.pcap (10 min of monero mining's shape): HTTP-only ALPN keeps browsers out of the watch, ECH or not");
    } else {
        truth.mining(Variant::Tls, &t, "", "behaviour: monero over TLS whose ClientHello uses Encrypted Client Hello (outer SNI cloudflare-ech.com, no ALPN), 10 min: jobs on the coin's block clock (mean 120 s), a share every 10 s on average, answered in ~30 ms; the outer name is no pool's: clue behaviour, tls_ech with the outer SNI");
    }
    Ok(())
}

/// A monero session over TLS whose hello names `sni` (no ECH, no ALPN): an attacker's own
/// domain, as XMRig sends with `"sni": true`. Written at test time for `--behaviour-named`
/// rather than kept in `pcaps/`, whose truth is what the defaults report.
pub fn named_monero(out: &mut dyn Write, sni: &str) -> io::Result<()> {
    let msgs = coin_session(&MONERO, 10.0, 600.0, 30_000, 89);
    let e = Encrypted {
        client: sa("10.72.0.4:44003")?,
        server: sa("203.0.113.89:443")?,
        start: at(4500),
        rtt_us: 30_000,
        msgs: &msgs,
        seed: 89,
        sni: Some(sni),
        alpn: &[],
        ech: false,
    };
    one_session(out, &e).map(|_| ())
}

pub(super) fn beh_ech_monero(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    ech_session(out, truth, false)
}

pub(super) fn neg_ech_browser(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    ech_session(out, truth, true)
}

macro_rules! positives {
    ($($name:ident: $coin:expr, $share:expr, $minutes:expr, $ends:expr, $seed:expr;)*) => {
        $(pub(super) fn $name(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
            positive(out, truth, &$coin, $share, $minutes, $ends, $seed)
        })*
    };
}

positives! {
    beh_monero_fast: MONERO, 3.0, 8.0, ("10.70.0.2:40001", "203.0.113.70:443", 3000), 70;
    beh_monero_slow: MONERO, 45.0, 25.0, ("10.70.0.3:40002", "203.0.113.71:8443", 3100), 71;
    beh_bitcoin: BITCOIN, 20.0, 15.0, ("10.70.0.4:40003", "203.0.113.72:443", 3200), 72;
    beh_litecoin: LITECOIN, 12.0, 12.0, ("10.70.0.5:40004", "203.0.113.73:3334", 3300), 73;
    beh_ravencoin: RAVENCOIN, 8.0, 8.0, ("10.70.0.6:40005", "203.0.113.74:443", 3400), 74;
    beh_etc: ETC, 5.0, 5.0, ("10.70.0.7:40006", "203.0.113.75:443", 3500), 75;
}

macro_rules! negatives {
    ($($name:ident: $kind:expr, $minutes:expr, $ends:expr, $seed:expr, $note:expr;)*) => {
        $(pub(super) fn $name(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
            negative_capture(out, truth, $kind, $minutes, $ends, $seed, $note)
        })*
    };
}

negatives! {
    beh_neg_mqtt_subscriber: Negative::MqttSubscriber, 30.0, ("10.71.0.2:41001", "203.0.113.80:8883", 3600), 80,
        "NEGATIVE: MQTT subscriber over TLS (no SNI): the broker pushes a reading every 10 s, the client answers with 4-byte PUBACKs and pings every 60 s";
    beh_neg_mqtt_publisher: Negative::MqttPublisher, 20.0, ("10.71.0.3:41002", "203.0.113.81:8883", 3700), 81,
        "NEGATIVE: MQTT publisher over TLS (no SNI): a reading every 5 s, each acknowledged; the broker never speaks first";
    beh_neg_imap_idle: Negative::ImapIdle, 40.0, ("10.71.0.4:41003", "203.0.113.82:993", 3800), 82,
        "NEGATIVE: IMAP IDLE over TLS (no SNI): a new-mail notice every ~4 min, then DONE, FETCH, the message, IDLE";
    beh_neg_websocket_ticker: Negative::WebSocketTicker, 8.0, ("10.71.0.5:41004", "203.0.113.83:443", 3900), 83,
        "NEGATIVE: WebSocket ticker over TLS (no SNI, no ALPN): one ~180-byte update a second, 10-byte pings";
    beh_neg_chat_heartbeat: Negative::ChatHeartbeat, 30.0, ("10.71.0.6:41005", "203.0.113.84:443", 4000), 84,
        "NEGATIVE: chat over TLS (no SNI): a 100-byte heartbeat every 30 s answered at once, messages of 150-1500 bytes pushed at random times";
    beh_neg_push_heartbeat: Negative::PushHeartbeat, 30.0, ("10.71.0.7:41006", "203.0.113.85:5223", 4100), 85,
        "NEGATIVE: push notifications over TLS (no SNI): ~300-byte notices at random times, a 100-byte heartbeat every 25 s answered at once";
    beh_neg_long_poll: Negative::LongPoll, 20.0, ("10.71.0.8:41007", "203.0.113.86:443", 4200), 86,
        "NEGATIVE: HTTPS long-poll (no SNI, no ALPN): each request held 2-30 s, answered with the news, asked again at once";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looped_keeps_the_opening_and_repeats_the_rest_until_the_end() {
        let m = |t, c, l| Msg { t_us: t, from_client: c, len: l };
        let msgs = [m(0, true, 500), m(10, false, 400), m(1_000, true, 200), m(1_100, false, 60)];
        let l = looped(&msgs, 2, 900, 5_000);
        assert_eq!(&l[..4], &msgs[..]);
        assert_eq!(l[4], m(2_000, true, 200));
        assert_eq!(l[5], m(2_100, false, 60));
        assert!(l.iter().all(|x| x.t_us <= 5_000));
        // Three whole repeats, and the fourth one's first write (its answer would be past the end).
        assert_eq!(l.len(), 4 + 2 * 3 + 1);
        assert_eq!(l.last(), Some(&m(5_000, true, 200)));
    }

    #[test]
    fn a_coin_session_pushes_on_its_clock_and_answers_every_share() {
        let s = coin_session(&MONERO, 10.0, 3600.0, 20_000, 1);
        let pushes = s.iter().filter(|m| !m.from_client && m.len > 300).count();
        // 3600 s of a 120 s clock: about 30 blocks.
        assert!((15..=50).contains(&pushes), "{pushes}");
        let submits = s.iter().filter(|m| m.from_client && m.len > 200 && m.len < 300).count();
        assert!((250..=470).contains(&submits), "{submits}");
        assert!(s.windows(2).all(|w| w[0].t_us <= w[1].t_us));
    }
}
