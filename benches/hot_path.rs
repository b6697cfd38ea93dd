//! Micro-benchmarks of the per-packet and per-line costs: decode, the pre-filter on payloads
//! that are not Stratum, a flow-table lookup for a bypassed flow among many, reassembly per
//! segment (in order and reordered), framing, and a full Stratum line through the recogniser.
//!
//! Run: `cargo bench --bench hot_path`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use etherparse::PacketBuilder;

use std::net::{IpAddr, Ipv4Addr};

use minewatch::config::HomeNet;
use minewatch::decode::{decode, LinkType, Packet, TcpInfo, Transport};
use minewatch::flow::reassembly::{Chunk, Reassembler, ReassemblyLimits};
use minewatch::flow::{FlowLimits, FlowTable};
use minewatch::stratum::framer::LineFramer;
use minewatch::stratum::{probe, Session, Side};
use minewatch::time::Ts;

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
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
