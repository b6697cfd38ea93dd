//! Stratum V2 with the reference implementation's own crates (see `examples/sv2pair.rs`): a real
//! pool and miner talk over TCP on 127.0.0.1, once with the Noise NX handshake and encrypted
//! frames, once in plain framing; every message either side wrote is recorded as it was written
//! and laid out as a capture (testkit's TCP writer, real timing), which minewatch's flow table
//! then reads as a replay would. Encrypted: one `suspected` stratum-v2 alert whose evidence is
//! the real handshake's 64/234 bytes and each side's encrypted messages. Plain: the miner's
//! user identity as the login, its SetupConnection as agent and worker, every job and share.
//! And minewatch's parser of plain frames is held to the crates' encodings, message by message.
//!
//! `SV2_CAPTURE_DIR=DIR` also writes the two captures there (how `pcaps/sv2-sri-*.pcap` were
//! made; see pcaps/README.md).

#[path = "../examples/sv2pair.rs"]
mod sv2pair;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use minewatch::decode::{self, LinkType, Transport};
use minewatch::flow::FlowLimits;
use minewatch::inspect::FlowTable;
use minewatch::stratum::sv2 as mw;
use minewatch::stratum::{Confidence, Variant};
use minewatch::time::Ts;
use minewatch::verdict::{Event, EventKind, HomeNet};
use testkit::synth::{Link, PacketSink, PcapWriter, TcpConversation};

use sv2pair::{Log, Written};

const SHARES: u32 = 6;

/// Runs the pair once; returns the miner's and pool's addresses, the log and the miner's report.
fn run_pair(encrypted: bool) -> (SocketAddr, SocketAddr, Vec<Written>, sv2pair::MinerReport) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let pool = listener.local_addr().expect("addr");
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let pool_log = log.clone();
    let server = std::thread::spawn(move || {
        let (s, _) = listener.accept().expect("accept");
        sv2pair::serve(s, encrypted, Some(pool_log))
    });
    let stream = TcpStream::connect(pool).expect("connect");
    let miner = stream.local_addr().expect("addr");
    let report =
        sv2pair::mine(stream, encrypted, SHARES, Duration::from_millis(20), sv2pair::USER, Some(log.clone()))
            .expect("the miner's session");
    server.join().expect("pool thread").expect("the pool's session");
    let log = std::mem::take(&mut *log.lock().expect("log"));
    (miner, pool, log, report)
}

/// Every frame of the capture, kept in memory.
struct Sink {
    frames: Vec<(Ts, Vec<u8>)>,
}

impl PacketSink for Sink {
    fn write_packet(&mut self, ts: Ts, frame: &[u8]) -> std::io::Result<()> {
        self.frames.push((ts, frame.to_vec()));
        Ok(())
    }
    fn link(&self) -> LinkType {
        LinkType::Ethernet
    }
}

/// The session as a capture: SYN, each logged message as it was written (at its time since the
/// first), FIN from the miner.
fn capture(miner: SocketAddr, pool: SocketAddr, log: &[Written]) -> Sink {
    let mut sink = Sink { frames: Vec::new() };
    // 2024-06-01T00:00:00Z, so the capture is the same whatever day the test runs.
    let start = Ts(1_717_200_000_000_000);
    let mut t = TcpConversation::new(miner, pool, start, Link::Ethernet);
    t.handshake(&mut sink).expect("handshake");
    let t0 = log.first().map(|e| e.1).expect("a message");
    for (from_miner, at, bytes) in log {
        let since = i64::try_from(at.duration_since(t0).as_micros()).unwrap_or(i64::MAX);
        t.wait_until(Ts(start.0 + 1_000 + since));
        if *from_miner {
            t.client_sends(&mut sink, bytes).expect("send");
        } else {
            t.server_sends(&mut sink, bytes).expect("send");
        }
    }
    t.close_fin(&mut sink, minewatch::flow::Side::A).expect("fin");
    sink
}

/// What minewatch reports on the capture, read by its flow table as a replay would.
fn inspect(sink: &Sink) -> Vec<Event> {
    let mut table = FlowTable::new(FlowLimits::default(), HomeNet::default());
    let mut events = Vec::new();
    for (ts, frame) in &sink.frames {
        let pkt = decode::decode(LinkType::Ethernet, frame).expect("the writer's frames decode");
        if let Transport::Tcp(tcp) = pkt.transport {
            table.tcp(&pkt, &tcp, *ts, &mut |e| events.push(e));
        }
    }
    table.flush_all(&mut |e| events.push(e));
    events
}

fn save(name: &str, sink: &Sink) {
    if let Some(dir) = std::env::var_os("SV2_CAPTURE_DIR") {
        let path = std::path::Path::new(&dir).join(name);
        let mut w = PcapWriter::new(Vec::new(), LinkType::Ethernet).expect("pcap");
        for (ts, frame) in &sink.frames {
            w.write_packet(*ts, frame).expect("pcap");
        }
        let bytes = w.into_inner().expect("pcap");
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

fn one(events: &[Event], kind: EventKind) -> &Event {
    let v: Vec<&Event> = events.iter().filter(|e| e.kind == kind).collect();
    assert_eq!(v.len(), 1, "one {kind:?} event: {events:#?}");
    v[0]
}

#[test]
fn a_real_noise_session_is_suspected_with_its_handshake_and_pushes_as_evidence() {
    let (miner, pool, log, report) = run_pair(true);
    assert_eq!(report.accepted, SHARES, "the real pair mined");
    // The real ElligatorSwift handshake: 64 bytes from the miner, 234 from the pool.
    assert_eq!(log[0].2.len(), 64);
    assert_eq!((log[1].0, log[1].2.len()), (false, 234));
    let sink = capture(miner, pool, &log);
    save("sv2-sri-noise.pcap", &sink);
    let events = inspect(&sink);
    let alert = one(&events, EventKind::Mining);
    let end = one(&events, EventKind::MiningSession);
    assert_eq!(alert.client, miner);
    assert_eq!(alert.pool, pool);
    assert_eq!(alert.confidence, Confidence::Suspected);
    assert_eq!(alert.facts.variant, Some(Variant::StratumV2));
    assert_eq!(alert.facts.login, None, "nothing inside is visible");
    let e = *end.facts.encrypted.clone().expect("the evidence");
    assert_eq!(e.handshake, [64, 234]);
    // Every message after the handshake is one push (the writer sends each in one segment).
    let sent = |miner_side: bool| {
        log.iter().skip(2).filter(|m| m.0 == miner_side).map(|m| m.2.len()).collect::<Vec<_>>()
    };
    let (up, down) = (sent(true), sent(false));
    assert_eq!(e.toserver.count, up.len() as u64, "{e:?}");
    assert_eq!(e.toclient.count, down.len() as u64, "{e:?}");
    assert_eq!(e.toserver.bytes, up.iter().sum::<usize>() as u64);
    assert_eq!(e.toclient.bytes, down.iter().sum::<usize>() as u64);
    assert_eq!(e.toserver.min as usize, up.iter().copied().min().unwrap_or(0));
    assert_eq!(e.toclient.max as usize, down.iter().copied().max().unwrap_or(0));
}

#[test]
fn a_real_plain_session_gives_login_agent_jobs_and_shares() {
    let (miner, pool, log, report) = run_pair(false);
    assert_eq!(report.accepted, SHARES, "the real pair mined");
    let sink = capture(miner, pool, &log);
    save("sv2-sri-plain.pcap", &sink);
    let events = inspect(&sink);
    let alert = one(&events, EventKind::Mining);
    let end = one(&events, EventKind::MiningSession);
    assert_eq!((alert.client, alert.pool), (miner, pool));
    let f = &end.facts;
    assert_eq!(f.variant, Some(Variant::StratumV2));
    assert_eq!(end.confidence, Confidence::Confirmed);
    assert_eq!(alert.facts.login.as_deref(), Some(sv2pair::USER));
    assert_eq!(f.wallet.as_deref(), Some("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"));
    let agent = format!("{}/{}/{}", sv2pair::VENDOR, sv2pair::HARDWARE, sv2pair::FIRMWARE);
    assert_eq!(f.agent.as_deref(), Some(agent.as_str()));
    assert_eq!(f.worker.as_deref(), Some(sv2pair::DEVICE_ID));
    assert_eq!(f.jobs, u64::from(report.jobs));
    assert_eq!((f.shares_submitted, f.shares_accepted, f.shares_rejected), (6, 6, 0));
    assert_eq!(f.reported_hashrate, Some(f64::from(sv2pair::NOMINAL_HASH_RATE)));
    // 2^24 hashes a share: difficulty 2^24 / 2^32 on the V1 scale.
    let d = f.difficulty.expect("difficulty");
    assert!((d - 1.0 / 256.0).abs() < 1e-9, "{d}");
    assert!((f.accepted_hashes - 6.0 * 16_777_216.0).abs() < 1.0, "{}", f.accepted_hashes);
    for m in [
        "SetupConnection",
        "OpenStandardMiningChannel.Success",
        "NewMiningJob",
        "SetNewPrevHash",
        "SubmitSharesStandard",
        "SubmitShares.Success",
    ] {
        assert!(f.methods.iter().any(|x| x == m), "{m}: {:?}", f.methods);
    }
}

/// minewatch's views of the crates' frames, field by field against what the crates decode.
#[test]
fn the_plain_parser_reads_what_the_crates_encode() {
    use common_messages_sv2::SetupConnection;
    use mining_sv2::{
        NewMiningJob, OpenStandardMiningChannel, OpenStandardMiningChannelSuccess, SubmitSharesStandard,
        SubmitSharesSuccess,
    };
    let (_, _, log, _) = run_pair(false);
    let mut seen = std::collections::BTreeSet::new();
    for (_, _, bytes) in &log {
        let head: &[u8; mw::HEADER_LEN] = bytes[..mw::HEADER_LEN].try_into().expect("a header");
        let h = mw::Header::parse(head);
        assert_eq!(h.len as usize, bytes.len() - mw::HEADER_LEN, "one frame per write");
        let body = &bytes[mw::HEADER_LEN..];
        let m = mw::message(h, body).unwrap_or_else(|| panic!("minewatch reads message {:#x}", h.msg_type));
        let mut p = body.to_vec();
        seen.insert(h.msg_type);
        match m {
            mw::Message::SetupConnection {
                protocol,
                endpoint_port,
                vendor,
                hardware_version,
                firmware,
                device_id,
                ..
            } => {
                let c: SetupConnection<'_> = binary_sv2::from_bytes(&mut p).expect("crate decodes");
                assert_eq!(protocol, c.protocol as u8);
                assert_eq!(endpoint_port, c.endpoint_port);
                assert_eq!(vendor, c.vendor.as_bytes());
                assert_eq!(hardware_version, c.hardware_version.as_bytes());
                assert_eq!(firmware, c.firmware.as_bytes());
                assert_eq!(device_id, c.device_id.as_bytes());
                assert!(mw::is_setup_connection(bytes));
            }
            mw::Message::OpenChannel { extended: false, request_id, user_identity, nominal_hash_rate } => {
                let c: OpenStandardMiningChannel<'_> = binary_sv2::from_bytes(&mut p).expect("crate decodes");
                assert_eq!((request_id, user_identity), (c.request_id, c.user_identity.as_bytes()));
                assert_eq!(nominal_hash_rate, c.nominal_hash_rate);
            }
            mw::Message::OpenChannelSuccess { extended: false, request_id, channel_id, target } => {
                let c: OpenStandardMiningChannelSuccess<'_> =
                    binary_sv2::from_bytes(&mut p).expect("crate decodes");
                assert_eq!((request_id, channel_id), (c.request_id, c.channel_id));
                assert_eq!(target, c.target.as_array());
                // 2^232 - 1 is 2^232 as a float: 2^24 hashes a share.
                assert_eq!(mw::target_hashes(target), Some(16_777_216.0));
            }
            mw::Message::NewJob { extended: false, channel_id, job_id } => {
                let c: NewMiningJob<'_> = binary_sv2::from_bytes(&mut p).expect("crate decodes");
                assert_eq!((channel_id, job_id), (c.channel_id, c.job_id));
                assert!(h.channel_msg);
            }
            mw::Message::SubmitShares { extended: false, channel_id, sequence_number, job_id } => {
                let c: SubmitSharesStandard = binary_sv2::from_bytes(&mut p).expect("crate decodes");
                assert_eq!(
                    (channel_id, sequence_number, job_id),
                    (c.channel_id, c.sequence_number, c.job_id)
                );
            }
            mw::Message::SubmitSharesSuccess { channel_id, new_submits_accepted_count, new_shares_sum } => {
                let c: SubmitSharesSuccess = binary_sv2::from_bytes(&mut p).expect("crate decodes");
                assert_eq!(
                    (channel_id, new_submits_accepted_count, new_shares_sum),
                    (c.channel_id, c.new_submits_accepted_count, c.new_shares_sum)
                );
            }
            _ => {}
        }
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![0x00, 0x01, 0x10, 0x11, 0x15, 0x1a, 0x1c, 0x20]);
}
