//! Reassembly throughput and the memory floods cost, as printed figures.
//!
//! Run: `cargo bench --bench floods`. Each case runs in a child process of its own, so that the
//! peak resident memory it reports (the kernel's VmHWM) is that case's alone.
//!
//! - `reasm-inorder` / `reasm-reordered`: one direction's reassembler, 1448-byte segments, in
//!   order or with every block of 64 segments reversed; segments/s and bytes/s.
//! - `syn-flood`: a million SYNs of distinct flows into one flow table with default limits.
//! - `ooo-flood`: a million out-of-order segments (20,000 flows × 50 segments behind a hole).

use std::net::IpAddr;
use std::process::Command;
use std::time::Instant;

use minewatch::config::HomeNet;
use minewatch::decode::{Packet, TcpInfo, Transport};
use minewatch::flow::reassembly::{Chunk, Reassembler, ReassemblyLimits};
use minewatch::flow::FlowLimits;
use minewatch::inspect::FlowTable;
use minewatch::time::Ts;

const CASES: &[&str] = &["reasm-inorder", "reasm-reordered", "syn-flood", "ooo-flood"];

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn reasm(reordered: bool) -> String {
    const SEG: usize = 1448;
    const N: usize = 1_000_000;
    let payload = vec![b'x'; SEG];
    let limits = ReassemblyLimits { max_ooo_bytes: 1 << 20, max_ooo_segments: 1024 };
    let mut r = Reassembler::with_isn(0, limits);
    let mut order: Vec<usize> = (0..N).collect();
    if reordered {
        for block in order.chunks_mut(64) {
            block.reverse();
        }
    }
    let mut delivered = 0u64;
    let t = Instant::now();
    for &i in &order {
        let seq = 1u32.wrapping_add((i * SEG) as u32);
        r.segment(seq, &payload, &mut |c| {
            if let Chunk::Data(d) = c {
                delivered += d.len() as u64;
            }
        });
    }
    let secs = t.elapsed().as_secs_f64();
    format!(
        "{:>12.0} segments/s {:>8.2} GB/s delivered {} gaps {}",
        N as f64 / secs,
        delivered as f64 / secs / 1e9,
        delivered,
        r.counters.gaps
    )
}

fn pkt(src: IpAddr, sport: u16, dst: IpAddr, t: TcpInfo, payload: &[u8]) -> Packet<'_> {
    Packet { src, dst, src_port: sport, dst_port: 3333, transport: Transport::Tcp(t), payload }
}

fn syn_flood() -> String {
    let mut table = FlowTable::new(FlowLimits::default(), HomeNet::default());
    let dst: IpAddr = "198.51.100.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let t0 = Instant::now();
    for i in 0..1_000_000u32 {
        let src = IpAddr::from([10, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
        let t = TcpInfo { seq: i, ack: 0, syn: true, ack_flag: false, fin: false, rst: false };
        table.tcp(&pkt(src, 1024 + (i % 60_000) as u16, dst, t, b""), &t, Ts(i64::from(i)), &mut |_| {});
    }
    let secs = t0.elapsed().as_secs_f64();
    format!(
        "{:>12.0} packets/s flows {} in table {} evicted {} table estimate {} MiB",
        1e6 / secs,
        table.counters.flows,
        table.len(),
        table.counters.flows_evicted,
        table.memory() >> 20
    )
}

fn ooo_flood() -> String {
    let mut table = FlowTable::new(FlowLimits::default(), HomeNet::default());
    let dst: IpAddr = "198.51.100.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let payload = [b'{'; 1000];
    let t0 = Instant::now();
    let mut n = 0u64;
    for seg in 0..50u32 {
        for f in 0..20_000u32 {
            let src = IpAddr::from([10, 1, (f >> 8) as u8, f as u8]);
            // Offset 0 never comes: every segment waits behind the hole.
            let seq = 1_000 + 1_000 * (seg + 1);
            let t = TcpInfo { seq, ack: 1, syn: false, ack_flag: true, fin: false, rst: false };
            table.tcp(&pkt(src, 40_000, dst, t, &payload), &t, Ts(i64::from(seg)), &mut |_| {});
            n += 1;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let c = &table.counters;
    format!(
        "{:>12.0} segments/s segments {} flows in table {} bypassed {} gaps {} memcap evictions {} table estimate {} MiB",
        n as f64 / secs,
        n,
        table.len(),
        c.flows_bypassed,
        c.reasm_gaps,
        c.flows_evicted_memcap,
        table.memory() >> 20
    )
}

fn run_case(case: &str) {
    let line = match case {
        "reasm-inorder" => reasm(false),
        "reasm-reordered" => reasm(true),
        "syn-flood" => syn_flood(),
        "ooo-flood" => ooo_flood(),
        _ => return,
    };
    println!("{case:<16} {line}  peak RSS {} MiB", peak_rss_kib() / 1024);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--case") {
        if let Some(case) = args.get(i + 1) {
            run_case(case);
        }
        return;
    }
    // `cargo test --all-targets` runs benches once in test mode: keep that quick.
    if args.iter().any(|a| a == "--test" || a == "--list") || !args.iter().any(|a| a == "--bench") {
        println!("floods: run with `cargo bench --bench floods`");
        return;
    }
    let Ok(me) = std::env::current_exe() else { return };
    for case in CASES {
        match Command::new(&me).args(["--case", case]).output() {
            Ok(out) => print!("{}", String::from_utf8_lossy(&out.stdout)),
            Err(e) => eprintln!("{case}: {e}"),
        }
    }
}
