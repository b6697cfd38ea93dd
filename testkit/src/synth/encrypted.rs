//! Captures of mining that is not newline-delimited JSON on a plain stream: Stratum over TLS
//! (found by SNI, or by an earlier DNS answer when the ClientHello names no server), getwork
//! and getblocktemplate over HTTP, and the Stratum V2 handshake shape; with the negatives each
//! rule must not fire on.
//!
//! Pool host names are real public pool domains from the shipped list (names only: nothing
//! here resolves or contacts them); every address is from the documentation ranges, and each
//! scenario uses its own, so that DNS answers of one file cannot leak into another when several
//! files are replayed in one run.

use std::io::{self, Write};

use base64::Engine as _;

use super::frame::{Framer, Link};
use super::msg::Rng;
use super::scenarios::{at, dns, pcap, sa, tls_record, Truth, BTC_WALLET};
use super::tcp::{Side, TcpConversation};
use super::PacketSink;
use minewatch::stratum::Variant;
use minewatch::time::Ts;

/// A TLS 1.3-style ClientHello record: SNI and ALPN only when given (XMRig sends neither).
/// The one ClientHello builder of the synthetic captures.
pub fn hello(rng: &mut Rng, sni: Option<&str>, alpn: &[&str]) -> Vec<u8> {
    hello_ech(rng, sni, alpn, false)
}

/// As [`hello`]; with `ech`, an outer Encrypted Client Hello extension after the ALPN (RFC
/// 9849 `ECHClientHello`: type outer, HPKE HKDF-SHA256/AES-128-GCM, a config id, a 32-byte
/// X25519 `enc` and a 208-byte encrypted inner hello, as Cloudflare's ECH clients and
/// Chrome's GREASE ECH send), whose `sni` is then the outer, public name.
pub fn hello_ech(rng: &mut Rng, sni: Option<&str>, alpn: &[&str], ech: bool) -> Vec<u8> {
    let mut body = hello_start(rng);
    let suites: [u16; 5] = [0x1302, 0x1303, 0x1301, 0xc02c, 0xc030];
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]);
    let mut ext = Vec::new();
    if let Some(name) = sni {
        let n = name.len() as u16;
        ext.extend_from_slice(&[0x00, 0x00]);
        ext.extend_from_slice(&(n + 5).to_be_bytes());
        ext.extend_from_slice(&(n + 3).to_be_bytes());
        ext.push(0);
        ext.extend_from_slice(&n.to_be_bytes());
        ext.extend_from_slice(name.as_bytes());
    }
    if !alpn.is_empty() {
        let mut list = Vec::new();
        for p in alpn {
            list.push(p.len() as u8);
            list.extend_from_slice(p.as_bytes());
        }
        ext.extend_from_slice(&[0x00, 0x10]);
        ext.extend_from_slice(&(list.len() as u16 + 2).to_be_bytes());
        ext.extend_from_slice(&(list.len() as u16).to_be_bytes());
        ext.extend(list);
    }
    if ech {
        let mut inner = [0u8; 1 + 32 + 208];
        rng.fill(&mut inner);
        let [config_id, rest @ ..] = &inner;
        let (enc, payload) = rest.split_at(32);
        let len = 1 + 4 + 1 + 2 + enc.len() + 2 + payload.len();
        ext.extend_from_slice(&[0xfe, 0x0d]);
        ext.extend_from_slice(&(len as u16).to_be_bytes());
        ext.extend_from_slice(&[0x00, 0x00, 0x01, 0x00, 0x01, *config_id]);
        ext.extend_from_slice(&(enc.len() as u16).to_be_bytes());
        ext.extend_from_slice(enc);
        ext.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        ext.extend_from_slice(payload);
    }
    // supported_groups, ec_point_formats, supported_versions, key_share (x25519).
    ext.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]);
    ext.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
    ext.extend_from_slice(&[0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03]);
    ext.extend_from_slice(&[0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20]);
    let mut key = [0u8; 32];
    rng.fill(&mut key);
    ext.extend_from_slice(&key);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    client_hello_record(&body)
}

/// A TLS 1.3 ServerHello record (AES-128-GCM, x25519), echoing no session id in particular.
pub(super) fn server_hello(rng: &mut Rng) -> Vec<u8> {
    let mut body = hello_start(rng);
    body.extend_from_slice(&[0x13, 0x01, 0x00]);
    // supported_versions (TLS 1.3), key_share (x25519).
    let mut ext = vec![0x00, 0x2b, 0x00, 0x02, 0x03, 0x04];
    ext.extend_from_slice(&[0x00, 0x33, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20]);
    let mut key = [0u8; 32];
    rng.fill(&mut key);
    ext.extend_from_slice(&key);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    handshake_record(0x02, 0x03, &body)
}

/// How a hello body begins: the legacy version, 32 random bytes and a 32-byte session id.
fn hello_start(rng: &mut Rng) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    let mut random = [0u8; 32];
    rng.fill(&mut random);
    body.extend_from_slice(&random);
    body.push(32);
    let mut sid = [0u8; 32];
    rng.fill(&mut sid);
    body.extend_from_slice(&sid);
    body
}

/// A handshake message of type `msg` in a handshake record of version 3.`minor`.
fn handshake_record(msg: u8, minor: u8, body: &[u8]) -> Vec<u8> {
    let mut hs = vec![msg];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(body);
    let mut rec = vec![0x16, 0x03, minor];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// A ClientHello body wrapped in its handshake header and a TLS record.
pub fn client_hello_record(body: &[u8]) -> Vec<u8> {
    handshake_record(0x01, 0x01, body)
}

/// A TLS session after the ClientHello: the server's flight, the client's finish, then
/// `rounds` of application data the size of Stratum jobs and shares.
fn tls_session<S: PacketSink>(
    t: &mut TcpConversation,
    w: &mut S,
    rng: &mut Rng,
    rounds: usize,
) -> io::Result<()> {
    let mut flight = tls_record(rng, 0x16, 122);
    flight.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
    flight.extend(tls_record(rng, 0x17, 2400));
    t.server_sends(w, &flight)?;
    let mut fin = vec![0x14, 0x03, 0x03, 0x00, 0x01, 0x01];
    fin.extend(tls_record(rng, 0x17, 53));
    t.client_sends(w, &fin)?;
    for k in 0..rounds {
        t.pause_ms(rng.range(800, 6000) as i64);
        t.server_sends(w, &tls_record(rng, 0x17, 480 + k * 3))?;
        t.pause_ms(rng.range(200, 3000) as i64);
        t.client_sends(w, &tls_record(rng, 0x17, 190))?;
        t.server_sends(w, &tls_record(rng, 0x17, 60))?;
    }
    Ok(())
}

/// A DNS query and its answer (one record, TTL 3600) between `client` and a resolver.
fn dns_exchange<S: PacketSink>(
    w: &mut S,
    f: &mut Framer,
    client: &str,
    name: &str,
    addr: [u8; 4],
    ts: Ts,
) -> io::Result<()> {
    let client = sa(client)?;
    let resolver = sa("198.51.100.53:53")?;
    w.write_packet(ts, f.udp(client, resolver, &dns(0x4d2, name, 1, None))?)?;
    w.write_packet(Ts(ts.0 + 9_800), f.udp(resolver, client, &dns(0x4d2, name, 1, Some(&addr)))?)?;
    Ok(())
}

pub(super) fn tls_pool_sni(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.60.0.5:41500")?, sa("203.0.113.30:443")?, at(700), Link::Ethernet);
    let mut rng = Rng::new(700);
    t.handshake(&mut w)?;
    t.client_sends(&mut w, &hello(&mut rng, Some("pool.supportxmr.com"), &[]))?;
    tls_session(&mut t, &mut w, &mut rng, 4)?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(Variant::Tls, &t, "", "Stratum over TLS (stratum+ssl) on 443: the ClientHello's SNI pool.supportxmr.com is a known pool domain and offers no ALPN; clue sni, confidence suspected");
    Ok(())
}

pub(super) fn tls_dns_no_sni(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut f = Framer::new(Link::Ethernet);
    let start = at(705);
    dns_exchange(&mut w, &mut f, "10.60.0.6:53001", "gulf.moneroocean.stream", [203, 0, 113, 31], start)?;
    let mut t = TcpConversation::new(
        sa("10.60.0.6:41600")?,
        sa("203.0.113.31:20128")?,
        Ts(start.0 + 40_000),
        Link::Ethernet,
    );
    let mut rng = Rng::new(705);
    t.handshake(&mut w)?;
    t.client_sends(&mut w, &hello(&mut rng, None, &[]))?;
    tls_session(&mut t, &mut w, &mut rng, 3)?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(Variant::Tls, &t, "", "XMRig-style TLS with no SNI to 203.0.113.31:20128, 40 ms after a DNS answer gave that address for gulf.moneroocean.stream; clue dns");
    Ok(())
}

pub(super) fn neg_tls_pool_website(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.60.0.7:41700")?, sa("203.0.113.32:443")?, at(710), Link::Ethernet);
    let mut rng = Rng::new(710);
    t.handshake(&mut w)?;
    t.client_sends(&mut w, &hello(&mut rng, Some("supportxmr.com"), &["h2", "http/1.1"]))?;
    tls_session(&mut t, &mut w, &mut rng, 2)?;
    t.close_fin(&mut w, Side::A)?;
    truth.none_in_file("NEGATIVE: a browser on a pool's web site: SNI supportxmr.com (a pool domain) but ALPN offers only h2 and http/1.1, which no Stratum client sends");
    Ok(())
}

pub(super) fn neg_dns_pool_no_connection(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut f = Framer::new(Link::Ethernet);
    let start = at(715);
    dns_exchange(&mut w, &mut f, "10.60.0.8:53002", "xmr.2miners.com", [203, 0, 113, 33], start)?;
    // The host then talks TLS without SNI, but to another address than the one answered.
    let mut t = TcpConversation::new(
        sa("10.60.0.8:41800")?,
        sa("203.0.113.34:443")?,
        Ts(start.0 + 500_000),
        Link::Ethernet,
    );
    let mut rng = Rng::new(715);
    t.handshake(&mut w)?;
    t.client_sends(&mut w, &hello(&mut rng, None, &[]))?;
    tls_session(&mut t, &mut w, &mut rng, 1)?;
    t.close_fin(&mut w, Side::A)?;
    truth.none_in_file("NEGATIVE: a DNS answer for the pool domain xmr.2miners.com (203.0.113.33) that is never connected to; a TLS session without SNI goes to another address");
    Ok(())
}

pub(super) fn neg_dns_expired(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut f = Framer::new(Link::Ethernet);
    let start = at(720);
    dns_exchange(&mut w, &mut f, "10.60.0.9:53003", "xmr-eu1.nanopool.org", [203, 0, 113, 35], start)?;
    // Two hours later: far past the answer's TTL (1 h) and the grace period.
    let mut t = TcpConversation::new(
        sa("10.60.0.9:41900")?,
        sa("203.0.113.35:10343")?,
        Ts(start.0 + 2 * 3600 * 1_000_000),
        Link::Ethernet,
    );
    let mut rng = Rng::new(720);
    t.handshake(&mut w)?;
    t.client_sends(&mut w, &hello(&mut rng, None, &[]))?;
    tls_session(&mut t, &mut w, &mut rng, 1)?;
    t.close_fin(&mut w, Side::A)?;
    truth.none_in_file("NEGATIVE: TLS without SNI to an address a DNS answer gave for xmr-eu1.nanopool.org two hours earlier with a TTL of one hour: the answer has expired");
    Ok(())
}

/// An HTTP/1.1 POST of a JSON-RPC body.
fn post(host: &str, headers: &str, body: &str) -> String {
    format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn ok(headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

pub(super) fn getwork_cgminer(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.60.0.10:42000")?, sa("203.0.113.36:8332")?, at(725), Link::Ethernet);
    let mut rng = Rng::new(725);
    let login = format!("{BTC_WALLET}.cg1");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{login}:x"));
    let hdrs = format!(
        "Authorization: Basic {auth}\r\nUser-Agent: cgminer/4.10.0\r\nX-Mining-Extensions: longpoll midstate rollntime submitold\r\nX-Mining-Hashrate: 14000000000\r\nAccept: */*\r\n"
    );
    let host = "pool.example.net:8332";
    t.handshake(&mut w)?;
    for round in 0..3u32 {
        t.client_sends(
            &mut w,
            post(
                host,
                &hdrs,
                &format!("{{\"method\": \"getwork\", \"params\": [], \"id\": {}}}\n", round * 2),
            )
            .as_bytes(),
        )?;
        let work = format!(
            "{{\"result\":{{\"midstate\":\"{}\",\"data\":\"{}\",\"hash1\":\"{}\",\"target\":\"{}\"}},\"error\":null,\"id\":{}}}",
            rng.hex(32),
            rng.hex(128),
            rng.hex(64),
            rng.hex(32),
            round * 2
        );
        t.server_sends(&mut w, ok("X-Long-Polling: /LP\r\nX-Roll-NTime: expire=120\r\n", &work).as_bytes())?;
        t.pause_ms(rng.range(2000, 8000) as i64);
        let submit = format!(
            "{{\"method\": \"getwork\", \"params\": [\"{}\"], \"id\": {}}}\n",
            rng.hex(128),
            round * 2 + 1
        );
        t.client_sends(&mut w, post(host, &hdrs, &submit).as_bytes())?;
        t.server_sends(
            &mut w,
            ok("", &format!("{{\"result\":true,\"error\":null,\"id\":{}}}", round * 2 + 1)).as_bytes(),
        )?;
    }
    // A getblocktemplate whose answer comes in chunked transfer coding, split over segments.
    let gbt = "{\"jsonrpc\":\"1.0\",\"id\":\"gbt\",\"method\":\"getblocktemplate\",\"params\":[{\"rules\":[\"segwit\"]}]}\n";
    t.client_sends(&mut w, post(host, &hdrs, gbt).as_bytes())?;
    let body = format!(
        "{{\"result\":{{\"version\":536870912,\"previousblockhash\":\"{}\",\"transactions\":[],\"coinbasevalue\":312500000,\"bits\":\"17034219\",\"height\":850123}},\"error\":null,\"id\":\"gbt\"}}",
        rng.hex(32)
    );
    let (a, b) = body.split_at(body.len() / 2);
    let chunked = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    t.send(
        &mut w,
        Side::B,
        chunked.as_bytes(),
        &super::tcp::Delivery { mss: Some(90), ..Default::default() },
    )?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(Variant::Getwork, &t, &login, "cgminer-style getwork over HTTP/1.1 keep-alive: Basic auth login, X-Mining-Extensions, 3 getwork requests answered with work and X-Long-Polling, 3 submits accepted, then a getblocktemplate answered in chunked coding over 90-byte segments");
    Ok(())
}

pub(super) fn getwork_eth_node(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.60.0.11:42100")?, sa("203.0.113.37:8545")?, at(730), Link::Ethernet);
    let mut rng = Rng::new(730);
    let host = "203.0.113.37:8545";
    let hdrs = "User-Agent: Go-http-client/1.1\r\n";
    t.handshake(&mut w)?;
    let header = rng.hex(32);
    for id in 1..=4u32 {
        let req = format!("{{\"jsonrpc\":\"2.0\",\"method\":\"eth_getWork\",\"params\":[],\"id\":{id}}}");
        t.client_sends(&mut w, post(host, hdrs, &req).as_bytes())?;
        let work = format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":[\"0x{header}\",\"0x{}\",\"0x00000000ffff0000000000000000000000000000000000000000000000000000\",\"0x12e4a31\"]}}",
            rng.hex(32)
        );
        t.server_sends(&mut w, ok("Vary: Origin\r\n", &work).as_bytes())?;
        t.pause_ms(500);
    }
    let rate = format!(
        "{{\"jsonrpc\":\"2.0\",\"method\":\"eth_submitHashrate\",\"params\":[\"0x1dcd6500\",\"0x{}\"],\"id\":5}}",
        rng.hex(32)
    );
    t.client_sends(&mut w, post(host, hdrs, &rate).as_bytes())?;
    t.server_sends(&mut w, ok("", "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":true}").as_bytes())?;
    let submit = format!(
        "{{\"jsonrpc\":\"2.0\",\"method\":\"eth_submitWork\",\"params\":[\"0x{}\",\"0x{header}\",\"0x{}\"],\"id\":6}}",
        rng.hex(8),
        rng.hex(32)
    );
    t.client_sends(&mut w, post(host, hdrs, &submit).as_bytes())?;
    t.server_sends(&mut w, ok("", "{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":true}").as_bytes())?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(Variant::Getwork, &t, "", "ethminer-style getwork against an Ethereum node's HTTP JSON-RPC: eth_getWork polled 4 times (same work), eth_submitHashrate, eth_submitWork accepted; no login");
    Ok(())
}

pub(super) fn neg_http_get_pool_api(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.60.0.12:42200")?, sa("203.0.113.38:80")?, at(735), Link::Ethernet);
    t.handshake(&mut w)?;
    t.client_sends(&mut w, b"GET /api/stats?method=getwork HTTP/1.1\r\nHost: pool.example.net\r\nUser-Agent: cgminer/4.10.0\r\nX-Mining-Extensions: longpoll\r\nAccept: application/json\r\n\r\n")?;
    let body =
        "{\"method\":\"getwork\",\"result\":{\"data\":\"00000002\"},\"hashrate\":123456,\"workers\":5}";
    t.server_sends(&mut w, ok("", body).as_bytes())?;
    t.close_fin(&mut w, Side::A)?;
    truth.none_in_file("NEGATIVE: an HTTP GET (not POST) of a pool statistics page, even with a miner's User-Agent, a mining header and getwork words in the JSON answer: only POST is read as HTTP");
    Ok(())
}

pub(super) fn sv2_handshake(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.60.0.13:42300")?, sa("203.0.113.39:34254")?, at(740), Link::Ethernet);
    let mut rng = Rng::new(740);
    let mut random = |n: usize| {
        let mut v = vec![0u8; n];
        rng.fill(&mut v);
        v
    };
    t.handshake(&mut w)?;
    // Noise NX: the initiator's ElligatorSwift ephemeral key, then the responder's 234 bytes.
    t.client_sends(&mut w, &random(64))?;
    t.server_sends(&mut w, &random(234))?;
    // SetupConnection and its success, then a channel and a few shares: encrypted frames
    // (22-byte encrypted header + payload + 16-byte MAC).
    for (from, len) in [(Side::A, 22 + 76 + 16), (Side::B, 22 + 6 + 16), (Side::A, 22 + 40 + 16)] {
        t.send(&mut w, from, &random(len), &Default::default())?;
    }
    for k in 0..4 {
        t.pause_ms(3000 + k * 700);
        t.server_sends(&mut w, &random(22 + 60 + 16))?;
        t.client_sends(&mut w, &random(22 + 32 + 16))?;
        t.server_sends(&mut w, &random(22 + 12 + 16))?;
    }
    t.close_fin(&mut w, Side::A)?;
    truth.mining(Variant::StratumV2, &t, "", "Stratum V2 on its default port 34254: a 64-byte ElligatorSwift key from the miner, the pool's 234-byte Noise NX reply, then encrypted frames; confidence suspected");
    Ok(())
}

pub(super) fn neg_binary_3336(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut rng = Rng::new(745);
    let mut random = |n: usize| {
        let mut v = vec![0u8; n];
        rng.fill(&mut v);
        v
    };
    // Three connections to the SV2 port, each off the handshake shape in one way.
    let shapes: [(u16, usize, usize); 3] = [(42400, 64, 200), (42401, 80, 234), (42402, 32, 234)];
    for (i, (port, first, reply)) in shapes.into_iter().enumerate() {
        let client = sa(&format!("10.60.0.14:{port}"))?;
        let mut t =
            TcpConversation::new(client, sa("203.0.113.40:3336")?, at(745 + i as i64), Link::Ethernet);
        t.handshake(&mut w)?;
        t.client_sends(&mut w, &random(first))?;
        t.server_sends(&mut w, &random(reply))?;
        for _ in 0..3 {
            t.client_sends(&mut w, &random(120))?;
            t.server_sends(&mut w, &random(300))?;
        }
        t.close_fin(&mut w, Side::A)?;
    }
    truth.none_in_file("NEGATIVE: a random binary protocol on port 3336 (the SV2 port) whose opening sizes are not the Noise handshake's: 64 then 200, 80 then 234, 32 then 234");
    Ok(())
}
