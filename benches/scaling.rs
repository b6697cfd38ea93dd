//! Worker scaling: replays one generated capture through the release binary with `--workers 1`
//! and `--workers 2` and prints packets per second and the ratio. Not run in CI.
//!
//! Run: `cargo bench --bench scaling` (set `MINEWATCH_BENCH_CONVERSATIONS` to change the size,
//! default 4000 conversations, about 500 000 frames). The capture is kept at
//! `target/bench-scaling.pcap`, which `scripts/bench-live-drops.sh` replays onto a veth.
//!
//! The traffic is a mix a SPAN port might carry: nine in ten connections are bulk non-Stratum
//! data (bypassed after their first payload), one in ten a Stratum session sending a submit per
//! segment (every line through the framer, the pre-filter, serde_json and the state machine).
//! Each run is repeated three times and the best kept, since the machine is shared.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use minewatch::decode::LinkType;
use minewatch::time::Ts;
use testkit::synth::{Link, PcapWriter, TcpConversation};

fn write_capture(path: &Path, conversations: u32) -> std::io::Result<u64> {
    let mut w = PcapWriter::new(BufWriter::new(std::fs::File::create(path)?), LinkType::Ethernet)?;
    let bulk = vec![0x17u8; 1000];
    for c in 0..conversations {
        let client =
            format!("10.{}.{}.{}:{}", 1 + c / 65536 % 200, c / 256 % 256, c % 256, 40000 + c % 20000)
                .parse()
                .map_err(std::io::Error::other)?;
        let stratum = c % 10 == 0;
        let server = if stratum { "198.51.100.10:3333" } else { "203.0.113.80:443" };
        let server = server.parse().map_err(std::io::Error::other)?;
        let mut t = TcpConversation::new(
            client,
            server,
            Ts(1_700_000_000_000_000 + i64::from(c) * 100),
            Link::Ethernet,
        );
        t.handshake(&mut w)?;
        if stratum {
            t.client_sends(
                &mut w,
                b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"cpuminer/2.5.1\"]}\n",
            )?;
            t.server_sends(
                &mut w,
                b"{\"id\":1,\"result\":[[[\"mining.notify\",\"n1\"]],\"08000002\",4],\"error\":null}\n",
            )?;
            t.client_sends(
                &mut w,
                b"{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"wallet.rig\",\"x\"]}\n",
            )?;
            t.server_sends(&mut w, b"{\"id\":2,\"result\":true,\"error\":null}\n")?;
            for i in 0..40u32 {
                let line = format!(
                    "{{\"id\":{},\"method\":\"mining.submit\",\"params\":[\"wallet.rig\",\"4d2\",\"00000000\",\"5f5e1000\",\"{i:08x}\"]}}\n",
                    10 + i
                );
                t.client_sends(&mut w, line.as_bytes())?;
                t.server_sends(
                    &mut w,
                    format!("{{\"id\":{},\"result\":true,\"error\":null}}\n", 10 + i).as_bytes(),
                )?;
            }
        } else {
            for _ in 0..30 {
                t.server_sends(&mut w, &bulk)?;
            }
        }
    }
    let n = w.packets();
    w.into_inner()?.flush()?;
    Ok(n)
}

/// Best of three wall-clock times of a quiet replay.
fn replay(capture: &Path, workers: u32) -> Duration {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            let status = Command::new(env!("CARGO_BIN_EXE_minewatch"))
                .args(["-q", "-o", "/dev/null", "--workers", &workers.to_string(), "-r"])
                .arg(capture)
                .stdout(Stdio::null())
                .status();
            let took = start.elapsed();
            match status {
                Ok(s) if s.success() => took,
                other => panic!("minewatch failed: {other:?}"),
            }
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let conversations =
        std::env::var("MINEWATCH_BENCH_CONVERSATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(4000);
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    let capture = target.join("bench-scaling.pcap");
    let frames = match write_capture(&capture, conversations) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("cannot write {}: {e}", capture.display());
            std::process::exit(1);
        }
    };
    let size = std::fs::metadata(&capture).map(|m| m.len()).unwrap_or(0);
    println!("capture: {} ({frames} frames, {} MB)", capture.display(), size >> 20);
    let one = replay(&capture, 1);
    let two = replay(&capture, 2);
    let pps = |d: Duration| frames as f64 / d.as_secs_f64().max(1e-9);
    println!("--workers 1: {:>8.3} s  {:>12.0} packets/s", one.as_secs_f64(), pps(one));
    println!("--workers 2: {:>8.3} s  {:>12.0} packets/s", two.as_secs_f64(), pps(two));
    println!("scaling 2/1: {:.2}x", pps(two) / pps(one));
}
