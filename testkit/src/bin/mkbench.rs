//! Writes the large benchmark capture (`testkit::synth::bench`) and its truth table.
//!
//! Usage: `mkbench [--size SIZE] [--seed N] [--mix standard|edge] [--census] OUT.pcap` (SIZE like
//! `1.2G`, `100M`; default 1.2G). `--mix edge` makes the many-short-flows mix, splicing in the
//! whole-file negatives of `pcaps/` and of the shared corpus when present; `--census` counts the
//! written file's flows (TCP, UDP, DNS, IPv6, VLAN, spliced bytes) by decoding it again.
//! The truth goes beside the capture as `OUT.TRUTH.tsv`, in the columns of `pcaps/TRUTH.tsv`.
//! Identical arguments give identical bytes; memory stays flat whatever the size.

use std::fs;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use testkit::synth::bench::{census, edge, load_splices, parse_size, write_mix, BenchSpec, Mix};
use testkit::synth::scenarios::TRUTH_HEADER;

const USAGE: &str = "usage: mkbench [--size SIZE] [--seed N] [--mix standard|edge] [--census] OUT.pcap\n\
writes a realistic benchmark capture of about SIZE bytes (default 1.2G; k/M/G are powers of 10)\n\
and its truth table OUT.TRUTH.tsv; --mix edge: many short flows, real captures spliced in;\n\
--census: count the written file's flows";

fn main() -> ExitCode {
    let mut size = 1_200_000_000u64;
    let mut seed = 1u64;
    let mut out: Option<PathBuf> = None;
    let mut mix = Mix::Standard;
    let mut want_census = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--size" => match args.next().as_deref().and_then(parse_size) {
                Some(s) => size = s,
                None => return usage("--size needs a size such as 1.2G or 100M"),
            },
            "--seed" => match args.next().and_then(|s| s.parse().ok()) {
                Some(s) => seed = s,
                None => return usage("--seed needs a number"),
            },
            "--mix" => match args.next().as_deref().and_then(Mix::parse) {
                Some(m) => mix = m,
                None => return usage("--mix needs standard or edge"),
            },
            "--census" => want_census = true,
            _ if out.is_none() && !a.starts_with('-') => out = Some(PathBuf::from(a)),
            _ => return usage(&format!("unexpected argument {a}")),
        }
    }
    let Some(out) = out else { return usage("no output file") };
    let file = out.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let splices = if mix == Mix::Edge {
        let dirs = edge::default_splice_dirs();
        let dirs: Vec<&std::path::Path> = dirs.iter().map(|d| d.as_path()).collect();
        match load_splices(&dirs) {
            Ok(s) => {
                let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
                eprintln!("mkbench: splicing {} captures: {}", s.len(), names.join(" "));
                s
            }
            Err(e) => {
                eprintln!("mkbench: reading the captures to splice: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        Vec::new()
    };
    let started = Instant::now();
    let result = fs::File::create(&out).and_then(|f| {
        let spec = BenchSpec { size, seed, file };
        let summary = write_mix(BufWriter::with_capacity(1 << 20, f), &spec, mix, splices)?;
        let mut tsv = String::from(TRUTH_HEADER);
        tsv.push('\n');
        for r in &summary.truth {
            tsv.push_str(&r.tsv_line()?);
        }
        fs::write(truth_path(&out), tsv)?;
        Ok(summary)
    });
    match result {
        Ok(s) => {
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "mkbench: {}: {} packets, {} bytes, {} flows, {:.0} s of traffic ({:.1} Mbit/s), {} truth rows; {:.1} s",
                out.display(),
                s.packets,
                s.bytes,
                s.flows,
                s.span_us as f64 / 1e6,
                s.bytes as f64 * 8.0 / (s.span_us.max(1) as f64),
                s.truth.len(),
                secs
            );
            for (kind, flows, bytes) in &s.mix {
                eprintln!(
                    "  {kind:<11} {flows:>8} flows {:>6.2}% of flows {:>6.2}% of bytes",
                    *flows as f64 * 100.0 / s.flows.max(1) as f64,
                    *bytes as f64 * 100.0 / s.bytes.max(1) as f64
                );
            }
            if want_census {
                match fs::File::open(&out).and_then(census) {
                    Ok(c) => eprintln!(
                        "census: {} packets, mean frame {:.0} bytes; {} TCP flows, {} UDP flows ({} DNS), {} IPv6 flows, {} VLAN-tagged flows; {:.1}% of frame bytes spliced; {} frames not TCP/UDP",
                        c.packets,
                        c.frame_bytes as f64 / c.packets.max(1) as f64,
                        c.tcp_flows,
                        c.udp_flows,
                        c.dns_flows,
                        c.ipv6_flows,
                        c.vlan_flows,
                        c.spliced_bytes as f64 * 100.0 / c.frame_bytes.max(1) as f64,
                        c.undecoded
                    ),
                    Err(e) => {
                        eprintln!("mkbench: census of {}: {e}", out.display());
                        return ExitCode::FAILURE;
                    }
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mkbench: {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}

/// `x.pcap` → `x.TRUTH.tsv`.
fn truth_path(out: &std::path::Path) -> PathBuf {
    let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    out.with_file_name(format!("{stem}.TRUTH.tsv"))
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("mkbench: {msg}\n{USAGE}");
    ExitCode::from(2)
}
