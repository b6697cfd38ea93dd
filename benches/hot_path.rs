//! Micro-benchmarks of the per-packet and per-line costs: decode, the pre-filter on payloads
//! that are not Stratum, a flow-table lookup for a bypassed flow among many, reassembly per
//! segment (in order and reordered), framing (one-line and pretty-printed multi-line JSON), and
//! the recogniser's cost per line for each dialect and for JSON-RPC look-alikes; and walking a
//! capture file's records in memory; and a live worker's rebuild of its capture filter when it
//! shunts an elephant flow.
//!
//! Run: `cargo bench --bench hot_path`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use etherparse::PacketBuilder;

use std::net::{IpAddr, Ipv4Addr};

use minewatch::capture::shunt;
use minewatch::config::HomeNet;
use minewatch::decode::{decode, LinkType, Packet, TcpInfo, Transport};
use minewatch::flow::reassembly::{Chunk, Reassembler, ReassemblyLimits};
use minewatch::flow::FlowLimits;
use minewatch::inspect::FlowTable;
use minewatch::stratum::framer::LineFramer;
use minewatch::stratum::{probe, Session, Side};
use minewatch::time::Ts;
use testkit::synth::PacketSink;

fn frame(payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4([10, 0, 0, 1], [198, 51, 100, 7], 64)
        .tcp(40000, 443, 1000, 65535)
        .ack(1);
    let mut out = Vec::new();
    let _ = b.write(&mut out, payload);
    out
}

fn bench(c: &mut Criterion) {
    let tls = frame(&[0x17, 0x03, 0x03, 0x05, 0xa0, 0x11, 0x22, 0x33].repeat(180));
    let mut g = c.benchmark_group("per_packet");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode_ethernet_ipv4_tcp", |b| {
        b.iter(|| decode(LinkType::Ethernet, black_box(&tls)).map(|p| p.payload.len()))
    });
    g.bench_function("prefilter_tls_payload", |b| b.iter(|| probe::may_start_json(black_box(&tls[54..]))));
    let http = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8\r\n\r\n";
    g.bench_function("prefilter_http_line", |b| b.iter(|| probe::may_be_json(black_box(http))));
    g.finish();

    // Walking a capture file in memory: framing and parsing each record, per record.
    let mut file = Vec::new();
    {
        let mut w = testkit::synth::pcap::PcapWriter::new(&mut file, minewatch::decode::LinkType::Ethernet)
            .expect("writer");
        for i in 0..1000i64 {
            w.write_packet(Ts::from_micros(1_700_000_000_000_000 + i), &tls).expect("record");
        }
    }
    let mut g = c.benchmark_group("capture_file");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("walk_1000_records", |b| {
        b.iter(|| {
            let mut st = minewatch::capture::file::Stitcher::default();
            let mut n = 0usize;
            let _ = st.feed(black_box(&file), true, &mut |_, f| n += f.data.len());
            n
        })
    });
    g.finish();

    let mut g = c.benchmark_group("flow");
    g.throughput(Throughput::Elements(1));
    // 100 000 flows, every one bypassed by a TLS first byte; then a packet of one of them.
    let mut table = FlowTable::new(FlowLimits::default(), HomeNet::default());
    let tls_rec = [0x17u8, 3, 3, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
    let pkt = |i: u32, syn: bool, payload: &'static [u8]| {
        let tcp = TcpInfo { seq: 1000, ack: 1, syn, ack_flag: !syn, fin: false, rst: false };
        let p = Packet {
            src: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)),
            dst: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)),
            src_port: 40000 + (i % 20000) as u16,
            dst_port: 443,
            transport: Transport::Tcp(tcp),
            payload,
        };
        (p, tcp)
    };
    let tls: &'static [u8] = Box::leak(Box::new(tls_rec));
    let n = 100_000u32;
    for i in 0..n {
        let (p, t) = pkt(i, true, &[]);
        table.tcp(&p, &t, Ts(1), &mut |_| {});
        let (mut p, mut t) = pkt(i, false, tls);
        t.seq = 1001;
        p.transport = Transport::Tcp(t);
        table.tcp(&p, &t, Ts(2), &mut |_| {});
    }
    let (mut p, mut t) = pkt(n / 2, false, tls);
    t.seq = 2001;
    p.transport = Transport::Tcp(t);
    g.bench_function("bypassed_flow_packet_100k_flows", |b| {
        b.iter(|| table.tcp(black_box(&p), &t, Ts(3), &mut |_| {}))
    });
    g.finish();

    let mut g = c.benchmark_group("reassembly");
    let seg: Vec<u8> =
        br#"{"id":4,"method":"mining.submit","params":[]}"#.iter().copied().cycle().take(1448).collect();
    g.throughput(Throughput::Bytes(64 * 1448));
    for (name, order) in [("in_order_64_segments", false), ("reordered_64_segments", true)] {
        // Pairs swapped: 1,0,3,2,... so every other segment waits in the out-of-order buffer.
        let idx: Vec<u32> = (0..64u32).map(|i| if order { i ^ 1 } else { i }).collect();
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut r = Reassembler::with_isn(999, ReassemblyLimits::default());
                let mut n = 0usize;
                for &i in &idx {
                    r.segment(1000 + i * 1448, black_box(&seg), &mut |c| {
                        if let Chunk::Data(d) = c {
                            n += d.len();
                        }
                    });
                }
                n
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("per_line");
    let notify = br#"{"id":null,"method":"mining.notify","params":["4d2","f1c3a8e8b0f2c9a1d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8","01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff20020862062f503253482f04b8864e5008","072f736c7573682f000000000100f2052a010000001976a914d23fcdf86f7e756a64c6a2b6e7b2e0f5c3a7b8c988ac00000000",[],"00000002","1c2ac4af","504e86b9",false]}"#;
    g.throughput(Throughput::Bytes(notify.len() as u64));
    g.bench_function("stratum_notify_line", |b| {
        let mut s = Session::new();
        b.iter(|| s.on_line(Side::B, black_box(notify), Ts(1)))
    });
    let other = br#"{"jsonrpc":"2.0","method":"eth_blockNumber","params":[],"id":83}"#;
    g.bench_function("json_rpc_lookalike_line", |b| {
        let mut s = Session::new();
        b.iter(|| s.on_line(Side::A, black_box(other), Ts(1)))
    });
    let stream: Vec<u8> = notify.iter().chain(b"\n").copied().cycle().take(64 * 1024).collect();
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("framer_64k", |b| {
        b.iter(|| {
            let mut f = LineFramer::new(64 * 1024);
            let mut n = 0usize;
            for chunk in stream.chunks(1448) {
                f.push(chunk, |l| n += l.len());
            }
            n
        })
    });
    let pretty: Vec<u8> = {
        let v: serde_json::Value = serde_json::from_slice(notify).unwrap_or_default();
        let mut p = serde_json::to_vec_pretty(&v).unwrap_or_default();
        p.push(b'\n');
        p.iter().copied().cycle().take(64 * 1024).collect()
    };
    g.throughput(Throughput::Bytes(pretty.len() as u64));
    g.bench_function("framer_64k_pretty_printed", |b| {
        b.iter(|| {
            let mut f = LineFramer::new(64 * 1024);
            let mut n = 0usize;
            for chunk in pretty.chunks(1448) {
                f.push(chunk, |l| n += l.len());
            }
            n
        })
    });
    g.finish();

    // The recogniser's cost for one line of each dialect (the pool's work push and the miner's
    // share, the lines a long session is made of) and for lines that are not mining at all.
    let mut g = c.benchmark_group("recogniser_per_line");
    g.throughput(Throughput::Elements(1));
    let lines: &[(&str, Side, &[u8])] = &[
        ("sv1_submit", Side::A, br#"{"params": ["bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4.rig01", "1a2b0001", "00000000", "66302f00", "6b062559"], "id": 4, "method": "mining.submit"}"#),
        ("sv1_submit_version_rolling", Side::A, br#"{"id":12,"method":"mining.submit","params":["16VVhjRYE6sgFaD91LNc4CwtgJ7vqjFcA9.s19pro","5e1f0001","0a1b2c3d","66302f00","deadbeef","1fe00000"]}"#),
        ("sv1_set_target_equihash", Side::B, br#"{"id":null,"method":"mining.set_target","params":["0004189374bc6a7ef9db22d0e5604189374bc6a7ef9db22d0e5604189374bc6a"]}"#),
        ("cryptonote_job", Side::B, br#"{"jsonrpc":"2.0","method":"job","params":{"blob":"1010ae8fd1b1e3f4c9a8e70c0d6f5b2f9d8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d100","job_id":"200002","target":"b88d0600","algo":"rx/0","height":3200002,"seed_hash":"7d0f4e3b2c1a0f9e8d7c6b5a49382716051f2e3d4c5b6a79887766554433221100"}}"#),
        ("cryptonote_submit", Side::A, br#"{"id":3,"jsonrpc":"2.0","method":"submit","params":{"id":"fa7e","job_id":"200002","nonce":"e4000000","result":"da6e0000000000000000000000000000000000000000000000000000000000ff","algo":"rx/0"}}"#),
        ("eth_proxy_work_push", Side::B, br#"{"id":0,"jsonrpc":"2.0","result":["0x7203ec897ece1d7f30b92dde44a8afa950fe2288360e59f5ae23ec6841ce6011","0x88615dc9f6fe84975a471ca044adecdfde8c8fcdde97d2a3416254d590c52d0c","0x0112e0be826d694b2e62d01511f12a6061fbaec8bc02357593e70e52ba","0x49260a"]}"#),
        ("ethereum_stratum1_notify", Side::B, br#"{"id": null, "method": "mining.notify", "params": ["bf0488aa", "abad8f99f3ef5e1e5e1e4ed4d8a6a3d2a5e5b3f1c9a0e4d6b3a2c1d0e9f8a7b6", "c4b2a0e4d6b3a2c1d0e9f8a7b6abad8f99f3ef5e1e5e1e4ed4d8a6a3d2a5e5b3", true]}"#),
        ("ethereum_stratum2_set", Side::B, br#"{"method":"mining.set","params":{"epoch":"1c","target":"00000001ffffffffffffffffffffffffffffffffffffffffffffffffffffffff","algo":"etchash","extranonce":"af4c"}}"#),
        ("lookalike_electrum", Side::A, br#"{"jsonrpc": "2.0", "method": "blockchain.scripthash.subscribe", "params": ["8b01df4e368ea28f8dc0423bcf7a4923e3a12d307c875e47a0cfbf90b5c39161"], "id": 2}"#),
        ("lookalike_eth_node", Side::A, br#"{"jsonrpc":"2.0","method":"eth_call","params":[{"to":"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed","data":"0x70a08231"},"latest"],"id":3}"#),
        ("lookalike_web_login", Side::A, br#"{"jsonrpc":"2.0","id":1,"method":"login","params":{"login":"alice","password":"correct horse"}}"#),
    ];
    for (name, side, line) in lines {
        g.bench_function(*name, |b| {
            // A session already in its dialect, as in the long middle of a real session.
            let mut s = Session::new();
            s.on_line(Side::A, br#"{"id":1,"method":"mining.subscribe","params":["m/1"]}"#, Ts(0));
            b.iter(|| s.on_line(*side, black_box(line), Ts(1)))
        });
    }
    // The first line of a stream that is not Stratum at all: what the pre-filter costs per
    // payload before the flow is bypassed.
    let payloads: &[(&str, &[u8])] = &[
        ("nonstratum_tls_record", &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]),
        ("nonstratum_http_request", b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"),
        (
            "nonstratum_bitcoin_p2p",
            &[0xf9, 0xbe, 0xb4, 0xd9, b'v', b'e', b'r', b's', b'i', b'o', b'n', 0, 0, 0, 0, 0],
        ),
    ];
    for (name, p) in payloads {
        g.bench_function(*name, |b| b.iter(|| probe::may_start_json(black_box(p))));
    }
    // Coin inference runs once per login.
    g.bench_function("wallet_identify_monero", |b| {
        b.iter(|| minewatch::intel::wallet::identify(black_box("48edfHu7V9Z84YzzMa6fUueoELZ9ZRXq9VetWzYGzKt52XU5xvqgzYnDK9URnRoJMk1j8nLwEVsaSWJ4fhdUyZijBGUicoD")))
    });
    g.finish();

    // A live worker rebuilds its capture filter each time it shunts an elephant flow: the
    // program for 32 flows, assembled, and handed to the kernel (which checks and translates
    // it) on a socket as a capture's would be.
    let mut g = c.benchmark_group("shunt");
    let flows: Vec<_> = (0..32u16)
        .map(|i| {
            let a = std::net::SocketAddr::from(([10, 1, 0, i as u8], 40000 + i));
            (a, std::net::SocketAddr::from(([198, 18, 0, 1], 443)))
        })
        .collect();
    let user = pcap::Capture::dead(pcap::Linktype::ETHERNET)
        .and_then(|d| d.compile(minewatch::cli::DEFAULT_FILTER, true))
        .map(|p| shunt::instructions(&p))
        .expect("the default filter compiles")
        .expect("and reads back");
    g.bench_function("assemble_32_flows", |b| b.iter(|| shunt::program(black_box(&user), black_box(&flows))));
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("a socket to attach to");
    let prog = shunt::program(&user, &flows).expect("32 flows fit");
    g.bench_function("attach_32_flows", |b| b.iter(|| shunt::attach(&sock, black_box(&prog))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
