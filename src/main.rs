//! The `minewatch` binary: parse the command line, run the pipeline, print the summary, and
//! pick the exit code. Everything else lives in the library.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

use minewatch::cli::Args;
use minewatch::config::Config;
use minewatch::hosts::HostTable;
use minewatch::output::Sink;
use minewatch::pipeline::{self, Progress};
use minewatch::summary;

/// Mining hosts remembered for the summary; more are counted, not listed.
const MAX_HOSTS: usize = 100_000;

/// A progress bar over the inputs' total size, only when a person is watching stderr.
fn progress_bar(args: &Args) -> Option<ProgressBar> {
    if args.quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let total: u64 = args
        .read
        .iter()
        .filter(|p| p.as_str() != "-")
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    if total < 64 << 20 {
        return None;
    }
    let bar = ProgressBar::new(total);
    let style =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let cfg = Config {
        home_net: args.home_net.clone(),
        ..Config::default()
    };
    let sink = match Sink::open(&args.output) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("minewatch: {}: {e}", args.output);
            return ExitCode::from(1);
        }
    };
    let workers = args.workers.map(usize::from).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let hosts = Arc::new(HostTable::new(MAX_HOSTS));
    let bar = progress_bar(&args);
    let report = pipeline::run_files(
        &args.read,
        &cfg,
        workers,
        sink,
        hosts.clone(),
        bar.as_ref().map(|b| b as &dyn Progress),
    );
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for (path, reason) in &report.input_errors {
        eprintln!("minewatch: {path}: {reason}");
    }
    if let Some(e) = &report.output_error {
        eprintln!("minewatch: {}: {e}", args.output);
    }
    if !args.quiet {
        eprint!("{}", summary::render(&hosts.snapshot(), &report.counters));
    }
    if report.input_errors.is_empty() && report.output_error.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
