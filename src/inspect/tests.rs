//! Flow-table and inspector tests on hand-built packets: bounds, eviction, holes, roles.

use super::*;
use crate::decode::{Packet, TcpInfo, Transport};
use crate::flow::{FlowKey, MAX_AWAITING};
use crate::stratum::{Clue, Variant};
use crate::verdict::EventKind;

const FLOW_COST: usize = FlowTable::FLOW_COST;
const INSPECT_COST: usize = FlowTable::INSPECT_COST;

const CLIENT: &str = "10.0.0.2";
const POOL: &str = "198.51.100.9";

fn tcp(seq: u32, ack: u32, syn: bool, fin: bool) -> TcpInfo {
    TcpInfo { seq, ack, syn, ack_flag: !syn || ack != 0, fin, rst: false }
}

struct Harness {
    table: FlowTable,
    events: Vec<Event>,
}

impl Harness {
    fn new(limits: FlowLimits) -> Harness {
        Harness { table: FlowTable::new(limits, HomeNet::default()), events: Vec::new() }
    }

    #[allow(clippy::too_many_arguments)]
    fn send(&mut self, src: (&str, u16), dst: (&str, u16), t: TcpInfo, payload: &[u8], ts: i64) {
        let pkt = Packet {
            src: src.0.parse().unwrap(),
            dst: dst.0.parse().unwrap(),
            src_port: src.1,
            dst_port: dst.1,
            transport: Transport::Tcp(t),
            payload,
        };
        let events = &mut self.events;
        self.table.tcp(&pkt, &t, Ts(ts), &mut |e| events.push(e));
    }

    fn flush(&mut self) {
        let events = &mut self.events;
        self.table.flush_all(&mut |e| events.push(e));
    }

    fn alerts(&self) -> Vec<&Event> {
        self.events.iter().filter(|e| e.kind == EventKind::Mining).collect()
    }
}

const SUBSCRIBE: &[u8] = b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"cpuminer/2.5.1\"]}\n";
const AUTHORIZE: &[u8] = b"{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"wallet.rig\",\"x\"]}\n";
const NOTIFY: &[u8] = b"{\"id\":null,\"method\":\"mining.notify\",\"params\":[\"1\",\"00\",\"00\",\"00\",[],\"2\",\"3\",\"4\",true]}\n";

/// A miner's handshake: SYN, SYN-ACK, subscribe and authorize, a notify from the pool.
fn mining_session(h: &mut Harness, port: u16, t0: i64) {
    let c = (CLIENT, port);
    let p = (POOL, 3333);
    h.send(c, p, tcp(100, 0, true, false), b"", t0);
    h.send(p, c, TcpInfo { ack_flag: true, ..tcp(500, 101, true, false) }, b"", t0 + 1);
    h.send(c, p, tcp(101, 501, false, false), SUBSCRIBE, t0 + 2);
    let s2 = 101 + SUBSCRIBE.len() as u32;
    h.send(c, p, tcp(s2, 501, false, false), AUTHORIZE, t0 + 3);
    h.send(p, c, tcp(501, s2 + AUTHORIZE.len() as u32, false, false), NOTIFY, t0 + 4);
}

#[test]
fn a_handshake_raises_one_alert_naming_the_miner() {
    let mut h = Harness::new(FlowLimits::default());
    mining_session(&mut h, 40000, 0);
    h.flush();
    let alerts = h.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].client, format!("{CLIENT}:40000").parse().unwrap());
    assert_eq!(alerts[0].facts.login.as_deref(), Some("wallet.rig"));
    let sessions: Vec<_> = h.events.iter().filter(|e| e.kind == EventKind::MiningSession).collect();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].end_reason, Some(EndReason::EndOfInput));
}

#[test]
fn syn_flood_stays_within_the_table_and_memory() {
    let limits = FlowLimits { max_flows: 10_000, ..FlowLimits::default() };
    let mut h = Harness::new(limits);
    for i in 0..200_000u32 {
        let src = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        h.send((&src, 1000 + (i % 50_000) as u16), (POOL, 443), tcp(i, 0, true, false), b"", i64::from(i));
    }
    assert!(h.table.len() <= 10_000);
    assert_eq!(h.table.counters.flows, 200_000);
    assert_eq!(h.table.counters.flows_evicted, 190_000);
    // SYN-only flows allocate no inspection state.
    assert!(h.table.memory() <= 10_000 * FLOW_COST, "{}", h.table.memory());
}

#[test]
fn eviction_spares_mining_sessions() {
    let limits = FlowLimits { max_flows: 64, ..FlowLimits::default() };
    let mut h = Harness::new(limits);
    mining_session(&mut h, 40000, 0);
    for i in 0..10_000u32 {
        let src = format!("10.9.{}.{}", (i >> 8) & 255, i & 255);
        h.send((&src, 5000), (POOL, 80), tcp(i, 0, true, false), b"", 10 + i64::from(i));
    }
    assert_eq!(h.table.counters.sessions_evicted, 0);
    assert!(h.events.iter().all(|e| e.kind == EventKind::Mining));
    h.flush();
    assert_eq!(h.events.iter().filter(|e| e.kind == EventKind::MiningSession).count(), 1);
}

#[test]
fn memcap_evicts_buffering_flows() {
    let limits = FlowLimits { memcap: 200_000, ..FlowLimits::default() };
    let mut h = Harness::new(limits);
    // Many midstream flows each holding out-of-order data behind a hole.
    for i in 0..2_000u32 {
        let src = format!("10.8.{}.{}", (i >> 8) & 255, i & 255);
        h.send((&src, 6000), (POOL, 3333), tcp(1000, 1, false, false), b"{\"id\":1,", 0);
        h.send((&src, 6000), (POOL, 3333), tcp(1500, 1, false, false), &[b'x'; 400], 1);
    }
    assert!(h.table.memory() <= 200_000, "{}", h.table.memory());
    assert!(h.table.counters.flows_evicted_memcap > 0);
}

#[test]
fn an_acknowledged_hole_is_given_up_at_once() {
    let mut h = Harness::new(FlowLimits::default());
    let c = (CLIENT, 40001);
    let p = (POOL, 3333);
    h.send(c, p, tcp(100, 0, true, false), b"", 0);
    h.send(p, c, TcpInfo { ack_flag: true, ..tcp(500, 101, true, false) }, b"", 1);
    let lost = b"{\"id\":9,\"method\":\"mining.extranonce.subscribe\",\"params\":[]}\n";
    // The capture loses the first segment; the next is held behind the hole.
    let s2 = 101 + lost.len() as u32;
    h.send(c, p, tcp(s2, 501, false, false), SUBSCRIBE, 2);
    let s3 = s2 + SUBSCRIBE.len() as u32;
    h.send(c, p, tcp(s3, 501, false, false), AUTHORIZE, 3);
    assert!(h.alerts().is_empty(), "held behind the hole");
    // The pool acknowledges everything: the hole was lost in the capture.
    h.send(p, c, tcp(501, s3 + AUTHORIZE.len() as u32, false, false), NOTIFY, 4);
    assert_eq!(h.alerts().len(), 1);
    assert_eq!(h.table.counters.reasm_gaps, 1);
}

#[test]
fn a_hole_in_a_one_sided_capture_times_out() {
    let limits = FlowLimits { hole_timeout_us: 1_000, ..FlowLimits::default() };
    let mut h = Harness::new(limits);
    let c = (CLIENT, 40002);
    let p = (POOL, 3333);
    // Only the miner's direction, from its SYN; the first data segment is lost.
    h.send(c, p, tcp(100, 0, true, false), b"", 0);
    let lost = 60u32;
    let s2 = 101 + lost;
    h.send(c, p, tcp(s2, 1, false, false), SUBSCRIBE, 10);
    let s3 = s2 + SUBSCRIBE.len() as u32;
    h.send(c, p, tcp(s3, 1, false, false), AUTHORIZE, 20);
    assert!(h.alerts().is_empty());
    let s4 = s3 + AUTHORIZE.len() as u32;
    let submit =
        b"{\"id\":4,\"method\":\"mining.submit\",\"params\":[\"wallet.rig\",\"1\",\"00\",\"5\",\"6\"]}\n";
    h.send(c, p, tcp(s4, 1, false, false), submit, 5_000);
    assert_eq!(h.alerts().len(), 1);
    assert_eq!(h.alerts()[0].client, format!("{CLIENT}:40002").parse().unwrap());
}

#[test]
fn a_retransmitted_syn_does_not_reset_a_stream() {
    let mut h = Harness::new(FlowLimits::default());
    let c = (CLIENT, 40003);
    let p = (POOL, 3333);
    h.send(c, p, tcp(100, 0, true, false), b"", 0);
    h.send(c, p, tcp(101, 1, false, false), &SUBSCRIBE[..20], 1);
    h.send(c, p, tcp(100, 0, true, false), b"", 2);
    h.send(c, p, tcp(121, 1, false, false), &SUBSCRIBE[20..], 3);
    h.send(c, p, tcp(101 + SUBSCRIBE.len() as u32, 1, false, false), AUTHORIZE, 4);
    assert_eq!(h.alerts().len(), 1);
}

#[test]
fn non_stratum_flows_are_bypassed_on_their_first_byte() {
    let mut h = Harness::new(FlowLimits::default());
    for (port, opening) in [
        (40004, &b"SSH-2.0-OpenSSH_9.6\r\n"[..]),
        (40014, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        (40024, b"<html><head>"),
    ] {
        let c = (CLIENT, port);
        let p = (POOL, 443);
        h.send(c, p, tcp(100, 0, true, false), b"", 0);
        h.send(c, p, tcp(101, 1, false, false), opening, 1);
    }
    assert_eq!(h.table.counters.flows_bypassed, 3);
    assert!(h.table.memory() <= 3 * FLOW_COST);
}

/// A ClientHello record with an optional SNI and ALPN.
fn client_hello(sni: Option<&str>, alpn: Option<&str>) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[9u8; 32]);
    body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
    let mut ext = Vec::new();
    if let Some(name) = sni {
        let n = name.len() as u16;
        ext.extend_from_slice(&[0, 0]);
        ext.extend_from_slice(&(n + 5).to_be_bytes());
        ext.extend_from_slice(&(n + 3).to_be_bytes());
        ext.push(0);
        ext.extend_from_slice(&n.to_be_bytes());
        ext.extend_from_slice(name.as_bytes());
    }
    if let Some(p) = alpn {
        let n = p.len() as u16;
        ext.extend_from_slice(&[0, 0x10]);
        ext.extend_from_slice(&(n + 3).to_be_bytes());
        ext.extend_from_slice(&(n + 1).to_be_bytes());
        ext.push(n as u8);
        ext.extend_from_slice(p.as_bytes());
    }
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut rec = vec![0x16, 3, 1];
    rec.extend_from_slice(&(body.len() as u16 + 4).to_be_bytes());
    rec.push(1);
    rec.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    rec.extend(body);
    rec
}

/// Sends `data` from the client of a fresh connection in segments of `mss` bytes.
fn client_stream(h: &mut Harness, port: u16, dport: u16, data: &[u8], mss: usize, t0: i64) {
    let c = (CLIENT, port);
    let p = (POOL, dport);
    h.send(c, p, tcp(100, 0, true, false), b"", t0);
    h.send(p, c, TcpInfo { ack_flag: true, ..tcp(500, 101, true, false) }, b"", t0 + 1);
    let mut seq = 101u32;
    for (i, part) in data.chunks(mss).enumerate() {
        h.send(c, p, tcp(seq, 501, false, false), part, t0 + 2 + i as i64);
        seq += part.len() as u32;
    }
}

#[test]
fn tls_to_a_pool_sni_is_reported_even_one_byte_at_a_time() {
    let mut h = Harness::new(FlowLimits::default());
    client_stream(&mut h, 41000, 443, &client_hello(Some("eu.Nanopool.org"), None), 1, 0);
    let alerts = h.alerts();
    assert_eq!(alerts.len(), 1);
    let f = &alerts[0].facts;
    assert_eq!(
        (f.variant, f.clue, f.pool_host.as_deref()),
        (Some(Variant::Tls), Some(Clue::Sni), Some("eu.nanopool.org"))
    );
    assert_eq!(alerts[0].confidence, Confidence::Suspected);
    assert_eq!(h.table.counters.tls_pool, 1);
    // Recognised flows hold no buffers.
    assert!(h.table.memory() <= FLOW_COST + INSPECT_COST);
}

/// The table with the behaviour watch turned off (`--no-behaviour`): a TLS flow with no name
/// only waits for a DNS answer.
fn without_watch(h: &mut Harness) {
    let off = super::behaviour::Limits { enabled: false, ..super::behaviour::Limits::default() };
    let table = std::mem::replace(&mut h.table, FlowTable::new(FlowLimits::default(), HomeNet::default()));
    h.table = table.with_behaviour_limits(off);
}

#[test]
fn ordinary_tls_is_read_once_then_bypassed() {
    let mut h = Harness::new(FlowLimits::default());
    without_watch(&mut h);
    client_stream(&mut h, 41001, 443, &client_hello(Some("www.example.com"), None), 1400, 0);
    client_stream(&mut h, 41002, 443, &client_hello(Some("nanopool.org"), Some("h2")), 1400, 0);
    client_stream(&mut h, 41003, 443, &client_hello(None, None), 7, 0);
    assert!(h.alerts().is_empty());
    // The hello with no name waits for a DNS answer that another worker may read late.
    assert_eq!(h.table.counters.flows_bypassed, 2);
    assert_eq!(h.table.counters.tls_name_waits, 1);
    assert_eq!(h.table.counters.tls_hellos, 3);
    assert_eq!(h.table.counters.tls_pool_web, 1);
    // Waiting holds no buffers.
    assert!(h.table.memory() <= 3 * FLOW_COST + INSPECT_COST, "{}", h.table.memory());
    // No answer within the wait: bypassed too.
    let events = &mut h.events;
    h.table.recheck_names(Ts(FlowLimits::default().name_wait_us + 100), &mut |e| events.push(e));
    assert!(h.alerts().is_empty());
    assert_eq!(h.table.counters.flows_bypassed, 3);
    assert_eq!(h.table.counters.tls_name_unanswered, 1);
    assert!(h.table.memory() <= 3 * FLOW_COST);
}

#[test]
fn a_watched_flow_with_a_big_record_is_bypassed_and_its_bodies_are_never_held() {
    let mut h = Harness::new(FlowLimits::default());
    client_stream(&mut h, 41006, 443, &client_hello(None, None), 1400, 0);
    let (c, p) = ((CLIENT, 41006), (POOL, 443));
    // A record of 3000 bytes in three segments, after the warm-up: within bounds, walked over.
    let mut rec = vec![23, 3, 3, 0x0b, 0xb8];
    rec.extend(std::iter::repeat(0x5a).take(3000));
    let mut seq = 501u32;
    for (i, part) in rec.chunks(1000).enumerate() {
        h.send(p, c, tcp(seq, 200, false, false), part, 3_000_000 + i as i64);
        seq += part.len() as u32;
    }
    assert_eq!((h.table.counters.behaviour_records, h.table.counters.flows_bypassed), (1, 0));
    // The state does not grow with the record: no payload is kept.
    assert!(h.table.memory() < FLOW_COST + INSPECT_COST + 2048, "{}", h.table.memory());
    // A 12 KB record: no Stratum message is that big.
    let big = [23u8, 3, 3, 0x30, 0x00];
    h.send(p, c, tcp(seq, 200, false, false), &big, 4_000_000);
    assert_eq!((h.table.counters.behaviour_bulk, h.table.counters.flows_bypassed), (1, 1));
    assert!(h.alerts().is_empty());
}

#[test]
fn an_address_as_sni_names_nothing_and_the_flow_is_watched() {
    let mut h = Harness::new(FlowLimits::default());
    client_stream(&mut h, 41004, 443, &client_hello(Some("198.51.100.7"), None), 1400, 0);
    client_stream(&mut h, 41005, 443, &client_hello(Some("www.example.com"), None), 1400, 0);
    assert_eq!(h.table.counters.behaviour_watched, 1);
    assert_eq!(h.table.counters.tls_name_waits, 1);
    assert_eq!(h.table.counters.flows_bypassed, 1);
}

#[test]
fn tls_with_no_name_is_watched_after_its_wait_and_bypassed_when_it_is_not_tls() {
    let mut h = Harness::new(FlowLimits::default());
    client_stream(&mut h, 41003, 443, &client_hello(None, None), 7, 0);
    assert_eq!(h.table.counters.behaviour_watched, 1);
    assert_eq!(h.table.counters.flows_bypassed, 0);
    // No answer within the wait: the watch reads on.
    let events = &mut h.events;
    h.table.recheck_names(Ts(FlowLimits::default().name_wait_us + 100), &mut |e| events.push(e));
    assert_eq!((h.table.counters.tls_name_unanswered, h.table.counters.flows_bypassed), (1, 0));
    // A server byte stream that is not TLS records rules it out at once.
    let wait = FlowLimits::default().name_wait_us;
    h.send((POOL, 443), (CLIENT, 41003), tcp(501, 200, false, false), b"HTTP/1.1 200 OK\r\n", wait + 200);
    assert_eq!((h.table.counters.behaviour_not_tls, h.table.counters.flows_bypassed), (1, 1));
    assert!(h.alerts().is_empty());
}

/// A table sharing `intel` with the test, as workers share the DNS map.
fn harness_with_intel() -> (Harness, Arc<Intel>) {
    let mut h = Harness::new(FlowLimits::default());
    let intel = Arc::new(Intel::new(Arc::new(crate::intel::PoolDomains::builtin())));
    h.table = FlowTable::new(FlowLimits::default(), HomeNet::default()).with_intel(intel.clone());
    (h, intel)
}

fn answer(intel: &Intel, domain: &str, at: i64) {
    let domain: Arc<str> = Arc::from(domain);
    intel.dns.insert(POOL.parse().unwrap(), &domain, 60, Ts(at));
}

#[test]
fn tls_without_sni_waits_for_a_dns_answer_held_back_and_is_reported_when_the_map_learns_it() {
    let (mut h, intel) = harness_with_intel();
    // The ClientHello is read first; the answer that names its server is held back, as when
    // another worker is behind.
    client_stream(&mut h, 41010, 12222, &client_hello(None, None), 100, 1_000_000);
    assert!(h.alerts().is_empty());
    assert!(!h.table.names_news(), "nothing learnt yet");
    assert_eq!((h.table.counters.tls_name_waits, h.table.counters.flows_bypassed), (1, 0));
    answer(&intel, "xmr.2miners.com", 900_000);
    assert!(h.table.names_news());
    let events = &mut h.events;
    h.table.recheck_names(Ts(1_300_000), &mut |e| events.push(e));
    assert!(!h.table.names_news());
    let alerts = h.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].facts.clue, Some(Clue::Dns));
    assert_eq!(alerts[0].facts.pool_host.as_deref(), Some("xmr.2miners.com"));
    assert_eq!(alerts[0].client, format!("{CLIENT}:41010").parse().unwrap());
    assert_eq!((h.table.counters.tls_name_late, h.table.counters.tls_pool), (1, 1));
    h.flush();
    assert_eq!(h.events.iter().filter(|e| e.kind == EventKind::MiningSession).count(), 1);
}

#[test]
fn a_waiting_tls_flow_is_named_at_its_next_packet_or_at_its_end() {
    let (mut h, intel) = harness_with_intel();
    client_stream(&mut h, 41011, 12222, &client_hello(None, None), 1400, 1_000_000);
    answer(&intel, "gulf.moneroocean.stream", 1_000_100);
    // The server's next packet: looked up again without any recheck.
    h.send((POOL, 12222), (CLIENT, 41011), tcp(501, 200, false, false), &[0x16, 3, 3, 0, 1, 2], 1_200_000);
    assert_eq!(h.alerts().len(), 1);

    // A flow that ends (FIN both ways) before any recheck gets a last look.
    let (mut h, intel) = harness_with_intel();
    client_stream(&mut h, 41012, 12222, &client_hello(None, None), 1400, 1_000_000);
    answer(&intel, "gulf.moneroocean.stream", 1_000_100);
    let (c, p) = ((CLIENT, 41012), (POOL, 12222));
    h.events.clear();
    let a = FlowLimits::default().name_wait_us;
    assert!(a > 100_000);
    h.send(c, p, TcpInfo { fin: true, ..tcp(300, 501, false, false) }, b"", 1_050_000);
    h.send(p, c, TcpInfo { fin: true, ..tcp(501, 301, false, false) }, b"", 1_060_000);
    let kinds: Vec<_> = h.events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::Mining, EventKind::MiningSession]);
    assert_eq!(h.events[1].end_reason, Some(EndReason::Fin));
}

#[test]
fn an_answer_after_the_wait_names_nothing() {
    let (mut h, intel) = harness_with_intel();
    without_watch(&mut h);
    client_stream(&mut h, 41013, 12222, &client_hello(None, None), 1400, 1_000_000);
    let wait = FlowLimits::default().name_wait_us;
    // The flow's own packet after its wait bypasses it.
    h.send(
        (POOL, 12222),
        (CLIENT, 41013),
        tcp(501, 200, false, false),
        &[0x16, 3, 3, 0, 1, 2],
        1_000_003 + wait,
    );
    assert_eq!((h.table.counters.flows_bypassed, h.table.counters.tls_name_unanswered), (1, 1));
    answer(&intel, "xmr.2miners.com", 1_000_004 + wait);
    let events = &mut h.events;
    h.table.recheck_names(Ts(1_000_005 + wait), &mut |e| events.push(e));
    h.send((POOL, 12222), (CLIENT, 41013), tcp(507, 200, false, false), &[1; 20], 1_000_006 + wait);
    h.flush();
    assert!(h.events.is_empty(), "{:?}", h.events);
}

#[test]
fn waiting_tls_flows_are_bounded() {
    let (mut h, intel) = harness_with_intel();
    let n = MAX_AWAITING + 10;
    for i in 0..n {
        let port = 10_000 + i as u16;
        client_stream(&mut h, port, 12222, &client_hello(None, None), 1400, 1_000_000 + i as i64);
    }
    let c = h.table.counters;
    assert_eq!((c.tls_name_waits, c.tls_name_wait_full, c.flows_bypassed), (n as u64, 10, 10));
    assert_eq!(h.table.awaiting_len(), MAX_AWAITING);
    // One answer names them all at the next look, which empties the list.
    answer(&intel, "xmr.2miners.com", 1_000_000);
    let events = &mut h.events;
    h.table.recheck_names(Ts(2_000_000), &mut |e| events.push(e));
    assert_eq!(h.alerts().len(), MAX_AWAITING);
    assert!(h.table.awaiting_len() == 0);
}

#[test]
fn tls_without_sni_uses_the_dns_map() {
    let mut h = Harness::new(FlowLimits::default());
    let intel = Arc::new(Intel::new(Arc::new(crate::intel::PoolDomains::builtin())));
    let domain: Arc<str> = Arc::from("xmr.2miners.com");
    intel.dns.insert(POOL.parse().unwrap(), &domain, 60, Ts(0));
    h.table = FlowTable::new(FlowLimits::default(), HomeNet::default()).with_intel(intel);
    client_stream(&mut h, 41004, 12222, &client_hello(None, None), 100, 1_000_000);
    let alerts = h.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].facts.clue, Some(Clue::Dns));
    assert_eq!(alerts[0].facts.pool_host.as_deref(), Some("xmr.2miners.com"));
    // Much later the answer has expired.
    client_stream(&mut h, 41005, 12222, &client_hello(None, None), 100, 10_000_000_000);
    assert_eq!(h.alerts().len(), 1);
}

#[test]
fn getwork_post_split_bytewise_is_read_as_http() {
    let mut h = Harness::new(FlowLimits::default());
    let body = "{\"method\":\"getwork\",\"params\":[],\"id\":1}";
    let req = format!(
        "POST / HTTP/1.1\r\nHost: pool.example.net\r\nAuthorization: Basic dXNlcjE6eA==\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    client_stream(&mut h, 41006, 8332, req.as_bytes(), 1, 0);
    let alerts = h.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].facts.variant, Some(Variant::Getwork));
    assert_eq!(alerts[0].facts.login.as_deref(), Some("user1"));
    assert_eq!(alerts[0].facts.pool_host.as_deref(), Some("pool.example.net"));
}

#[test]
fn stratum_v2_shape_is_reported_and_other_shapes_bypassed() {
    let mut h = Harness::new(FlowLimits::default());
    let mut x = 0x1234_5678_9abc_def1u64;
    let mut random = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect()
    };
    for (port, reply) in [(41007u16, 234usize), (41008, 233)] {
        let c = (CLIENT, port);
        let p = (POOL, 3336);
        h.send(c, p, tcp(100, 0, true, false), b"", 0);
        h.send(p, c, TcpInfo { ack_flag: true, ..tcp(500, 101, true, false) }, b"", 1);
        h.send(c, p, tcp(101, 501, false, false), &random(64), 2);
        h.send(p, c, tcp(501, 165, false, false), &random(reply), 3);
        h.send(c, p, tcp(165, 501 + reply as u32, false, false), &random(114), 4);
    }
    let alerts = h.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].facts.variant, Some(Variant::StratumV2));
    assert_eq!(alerts[0].client.port(), 41007);
    assert_eq!(h.table.counters.sv2_handshakes, 1);
    assert_eq!(h.table.counters.flows_bypassed, 1);
}

#[test]
fn fin_from_both_sides_ends_the_session() {
    let mut h = Harness::new(FlowLimits::default());
    mining_session(&mut h, 40005, 0);
    let c = (CLIENT, 40005);
    let p = (POOL, 3333);
    let cs = 101 + (SUBSCRIBE.len() + AUTHORIZE.len()) as u32;
    let ps = 501 + NOTIFY.len() as u32;
    h.send(c, p, tcp(cs, ps, false, true), b"", 10);
    h.send(p, c, tcp(ps, cs + 1, false, true), b"", 11);
    assert!(h.table.is_empty());
    let end: Vec<_> = h.events.iter().filter(|e| e.kind == EventKind::MiningSession).collect();
    assert_eq!(end.len(), 1);
    assert_eq!(end[0].end_reason, Some(EndReason::Fin));
    assert_eq!(end[0].confidence, Confidence::Confirmed);
}

#[test]
fn idle_sessions_time_out_and_are_written() {
    let limits = FlowLimits { idle_timeout_us: 1_000_000, ..FlowLimits::default() };
    let mut h = Harness::new(limits);
    mining_session(&mut h, 40006, 0);
    // Traffic on another flow, much later, drives the sweep.
    h.send((CLIENT, 50000), (POOL, 80), tcp(1, 0, true, false), b"", 100_000_000);
    let end: Vec<_> = h.events.iter().filter(|e| e.kind == EventKind::MiningSession).collect();
    assert_eq!(end.len(), 1);
    assert_eq!(end[0].end_reason, Some(EndReason::Timeout));
}

fn syn_packet(sport: u16) -> (Packet<'static>, TcpInfo) {
    let info = TcpInfo { seq: 1, ack: 0, syn: true, ack_flag: false, fin: false, rst: false };
    let p = Packet {
        src: CLIENT.parse().unwrap(),
        dst: POOL.parse().unwrap(),
        src_port: sport,
        dst_port: 3333,
        transport: Transport::Tcp(info),
        payload: b"",
    };
    (p, info)
}

/// A capture may carry any 64-bit time (pcapng timestamps saturate to `i64::MAX` micros).
#[test]
fn extreme_timestamps_do_not_overflow_the_sweep_clock() {
    let mut t = FlowTable::new(FlowLimits::default(), HomeNet::default());
    for (i, ts) in [i64::MAX, i64::MAX - 1, i64::MIN, 0, i64::MAX].into_iter().enumerate() {
        let (p, info) = syn_packet(1000 + i as u16);
        t.tcp(&p, &info, Ts(ts), &mut |_| {});
    }
    // Time went back to before the first sweep point: nothing swept, nothing lost.
    assert_eq!(t.len(), 5);
    assert_eq!(t.counters.flows_timed_out, 0);
    // Regression: a pcapng record stamped 2^64-1 microseconds (libpcap hands it on; `Ts`
    // saturates at i64::MAX) used to overflow the next sweep time: a worker panic in debug
    // builds; in release, a wrapped deadline and a sweep of the whole table on every packet.
}

/// A bulk transfer, bypassed on its first byte: `frames` more data segments from the pool side.
fn bulk(h: &mut Harness, port: u16, frames: u32, t0: i64) {
    let c = (CLIENT, port);
    let p = (POOL, 873);
    h.send(c, p, tcp(100, 0, true, false), b"", t0);
    h.send(c, p, tcp(101, 1, false, false), b"@RSYNCD: 31.0\n", t0 + 1);
    for i in 0..frames {
        h.send(p, c, tcp(1 + i * 1000, 115, false, false), &[7u8; 1000], t0 + 2 + i64::from(i));
    }
}

#[test]
fn a_bypassed_flow_is_offered_as_an_elephant_every_so_many_frames_and_its_end_is_told() {
    let limits = FlowLimits { elephant_frames: 100, ..FlowLimits::default() };
    let mut h = Harness::new(limits);
    // A short one stays below the mark; a mining session is never bypassed, so never offered.
    bulk(&mut h, 40100, 99, 0);
    mining_session(&mut h, 40101, 0);
    for i in 0..300u32 {
        h.send((POOL, 3333), (CLIENT, 40101), tcp(600 + i, 1, false, false), NOTIFY, 10 + i64::from(i));
    }
    assert!(!h.table.elephant_news());
    bulk(&mut h, 40102, 250, 1_000);
    let (mut found, mut ended) = (Vec::new(), Vec::new());
    h.table.take_elephants(&mut found, &mut ended);
    // Once at 100 frames after the bypass, again at 200.
    assert_eq!(found.len(), 2, "{found:?}");
    let key = FlowKey::new(CLIENT.parse().unwrap(), 40102, POOL.parse().unwrap(), 873);
    assert!(found.iter().all(|e| e.key == key && e.a.port() == 40102 && e.b.port() == 873));
    assert!(ended.is_empty());
    // Its end (both FINs) is told, and only once.
    h.send((CLIENT, 40102), (POOL, 873), tcp(115, 1, false, true), b"", 2_000);
    h.send((POOL, 873), (CLIENT, 40102), tcp(250_001, 116, false, true), b"", 2_001);
    let (mut found, mut ended) = (Vec::new(), Vec::new());
    h.table.take_elephants(&mut found, &mut ended);
    assert_eq!((found.len(), ended), (0, vec![key]));
    h.flush();
    assert!(!h.table.elephant_news());
}

#[test]
fn a_new_connection_on_the_ports_of_a_bypassed_flow_is_inspected_afresh() {
    let limits = FlowLimits { elephant_frames: 10, ..FlowLimits::default() };
    let mut h = Harness::new(limits);
    // A transfer whose end was never seen, then a miner on the same addresses and ports.
    let c = (CLIENT, 40200);
    let p = (POOL, 3333);
    h.send(c, p, tcp(100, 0, true, false), b"", 0);
    h.send(c, p, tcp(101, 1, false, false), b"GET /big HTTP/1.1\r\n\r\n", 1);
    for i in 0..20u32 {
        h.send(p, c, tcp(1 + i * 1000, 122, false, false), &[7u8; 1000], 2 + i64::from(i));
    }
    assert_eq!(h.table.counters.flows_bypassed, 1);
    mining_session(&mut h, 40200, 100);
    assert_eq!(h.table.counters.tcp_port_reuse, 1);
    assert_eq!(h.alerts().len(), 1, "the miner on a reused port was not seen");
    let (mut found, mut ended) = (Vec::new(), Vec::new());
    h.table.take_elephants(&mut found, &mut ended);
    assert_eq!(found.len(), 2);
    assert_eq!(ended, vec![found[0].key], "the old flow's end must be told (a shunt must go)");
}

#[test]
fn a_tls_connection_that_ends_before_its_answer_is_read_is_reported_when_it_comes() {
    // A whole short connection, closed before the worker of its DNS answer reads it.
    let (mut h, intel) = harness_with_intel();
    client_stream(&mut h, 41020, 12222, &client_hello(None, None), 1400, 1_000_000);
    let (c, p) = ((CLIENT, 41020), (POOL, 12222));
    h.send(c, p, TcpInfo { fin: true, ..tcp(300, 501, false, false) }, b"", 1_010_000);
    h.send(p, c, TcpInfo { fin: true, ..tcp(501, 301, false, false) }, b"", 1_020_000);
    assert!(h.events.is_empty());
    assert_eq!(h.table.len(), 0, "the flow left the table");
    assert!(!h.table.names_news());
    answer(&intel, "xmr.2miners.com", 900_000);
    assert!(h.table.names_news(), "an ended wait is looked up again too");
    let events = &mut h.events;
    h.table.recheck_names(Ts(1_100_000), &mut |e| events.push(e));
    let kinds: Vec<_> = h.events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::Mining, EventKind::MiningSession]);
    assert_eq!(h.events[1].end_reason, Some(EndReason::Fin));
    assert_eq!(h.events[1].facts.clue, Some(Clue::Dns));
    assert_eq!(h.events[0].client, format!("{CLIENT}:41020").parse().unwrap());
    assert_eq!(h.table.counters.tls_name_late, 1);

    // Its wait over with no answer: forgotten, and a later answer names nothing.
    let (mut h, intel) = harness_with_intel();
    client_stream(&mut h, 41021, 12222, &client_hello(None, None), 1400, 1_000_000);
    let (c, p) = ((CLIENT, 41021), (POOL, 12222));
    h.send(c, p, TcpInfo { rst: true, ..tcp(300, 501, false, false) }, b"", 1_010_000);
    let wait = FlowLimits::default().name_wait_us;
    let events = &mut h.events;
    h.table.recheck_names(Ts(1_000_100 + wait), &mut |e| events.push(e));
    assert_eq!(h.table.counters.tls_name_unanswered, 1);
    answer(&intel, "xmr.2miners.com", 1_000_200 + wait);
    h.flush();
    assert!(h.events.is_empty(), "{:?}", h.events);

    // Answered by the end of input: the last look at flush reports it.
    let (mut h, intel) = harness_with_intel();
    client_stream(&mut h, 41022, 12222, &client_hello(None, None), 1400, 1_000_000);
    let (c, p) = ((CLIENT, 41022), (POOL, 12222));
    h.send(c, p, TcpInfo { rst: true, ..tcp(300, 501, false, false) }, b"", 1_010_000);
    answer(&intel, "xmr.2miners.com", 1_020_000);
    h.flush();
    let kinds: Vec<_> = h.events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::Mining, EventKind::MiningSession]);
    assert_eq!(h.events[1].end_reason, Some(EndReason::Rst));
}
