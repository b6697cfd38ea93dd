//! Micro-benchmarks of the per-packet and per-line costs: decode, the pre-filter on payloads
//! that are not Stratum, framing, and a full Stratum line through the recogniser.
//!
//! Run: `cargo bench --bench hot_path`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use etherparse::PacketBuilder;

use minewatch::decode::{decode, LinkType};
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
