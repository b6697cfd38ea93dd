//! The `minewatch` binary: parse the command line, open the sources, drop privileges, run the
//! pipeline, print the summary, and pick the exit code. Everything else lives in the library.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use minewatch::capture::live::{self, LiveOptions};
use minewatch::cli::Args;
use minewatch::config::Config;
use minewatch::flow::FlowLimits;
use minewatch::hosts::HostTable;
use minewatch::intel::{ListFiles, SharedPools};
use minewatch::metrics::{self, Published};
use minewatch::output::Outputs;
use minewatch::pipeline::{self, Progress, RunOptions};
use minewatch::preflight;
use minewatch::privilege;
use minewatch::sensor::{self, LoadError};
use minewatch::summary;

/// Mining hosts remembered for the summary; more are counted, not listed.
const MAX_HOSTS: usize = 100_000;
/// Seconds between `stats` records on a live capture when not told otherwise.
const DEFAULT_LIVE_STATS_SECS: u64 = 60;
/// Live read timeout: how long a quiet link may keep the reader from its housekeeping.
const LIVE_TIMEOUT_MS: i32 = 100;

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
    let style = ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

/// SIGINT and SIGTERM stop the run (sessions are flushed); SIGHUP reopens the output files and
/// reloads the pool lists and the watchlist.
/// A second SIGINT or SIGTERM exits at once (status 1): the first cannot end a read that is
/// blocked in the kernel, such as opening a FIFO whose writer never comes.
fn signals() -> std::io::Result<(Arc<AtomicBool>, Arc<AtomicBool>)> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    let reopen = Arc::new(AtomicBool::new(false));
    // Registered before the flags, so the second signal finds the flag already set.
    signal_hook::flag::register_conditional_shutdown(SIGINT, 1, stop.clone())?;
    signal_hook::flag::register_conditional_shutdown(SIGTERM, 1, stop.clone())?;
    signal_hook::flag::register(SIGINT, stop.clone())?;
    signal_hook::flag::register(SIGTERM, stop.clone())?;
    signal_hook::flag::register(SIGHUP, reopen.clone())?;
    Ok((stop, reopen))
}

/// Gives up root and every capability once the interfaces and the outputs are open, before a
/// packet is read: a bug in a parser of hostile input then runs as an unprivileged user with
/// no capability, and `no_new_privs` keeps an exec from gaining any (see `privilege`).
fn drop_privileges(args: &Args) -> Result<(), String> {
    let plan =
        privilege::Plan { user: args.user.clone(), group: args.group.clone(), keep_user: assume_not_root() };
    let done = privilege::drop_all(&plan).map_err(|e| format!("privilege drop: {e}"))?;
    if !args.no_seccomp && !privilege::deny_syscalls()? && !args.quiet {
        eprintln!("minewatch: no system-call filter on {}", std::env::consts::ARCH);
    }
    if done.bounding_kept > 0 && !args.quiet {
        eprintln!(
            "minewatch: cannot empty the capability bounding set ({} left; that needs CAP_SETPCAP); \
             no_new_privs keeps an exec from gaining them",
            done.bounding_kept
        );
    }
    Ok(())
}

/// `MINEWATCH_ASSUME_NOT_ROOT` (set to anything): a root start keeps its user, though it still
/// loses every capability. For development only, so honoured by debug builds alone: a release
/// build says once that it ignores it, and never silently runs parsers as root.
fn assume_not_root() -> bool {
    if std::env::var_os("MINEWATCH_ASSUME_NOT_ROOT").is_none() {
        return false;
    }
    if cfg!(debug_assertions) {
        return true;
    }
    eprintln!("minewatch: MINEWATCH_ASSUME_NOT_ROOT is for debug builds only; ignored");
    false
}

/// `--generate-man` / `--generate-completions SHELL`: print and exit.
fn generate(args: &Args) -> Option<ExitCode> {
    use std::io::Write;
    let bytes = if args.generate_man {
        match sensor::man_page() {
            Ok(b) => b,
            Err(e) => {
                eprintln!("minewatch: man page: {e}");
                return Some(ExitCode::from(1));
            }
        }
    } else {
        sensor::completions(args.generate_completions?)
    };
    let mut out = std::io::stdout().lock();
    Some(if out.write_all(&bytes).and_then(|()| out.flush()).is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn main() -> ExitCode {
    let args = match sensor::load() {
        Ok(a) => a,
        Err(LoadError::Clap(e)) => e.exit(),
        Err(LoadError::Usage(msg)) => {
            for line in msg.lines() {
                eprintln!("minewatch: {line}");
            }
            return ExitCode::from(2);
        }
    };
    if let Some(code) = generate(&args) {
        return code;
    }
    if args.test_config {
        return match preflight::check(&args) {
            Ok(summary) => {
                print!("{summary}");
                ExitCode::SUCCESS
            }
            Err(problems) => {
                for p in problems {
                    eprintln!("minewatch: {p}");
                }
                ExitCode::from(2)
            }
        };
    }
    let (stop, reopen) = match signals() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("minewatch: cannot install signal handlers: {e}");
            return ExitCode::from(1);
        }
    };
    let workers = args.worker_count();
    // The same files are read again on SIGHUP; a file that cannot be read or has a bad line is
    // a usage error here, and leaves the old lists in force then.
    let list_files = ListFiles { pool_lists: args.pool_list.clone(), watchlists: args.watchlist.clone() };
    let lists = match list_files.load() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("minewatch: {e}");
            return ExitCode::from(2);
        }
    };
    let watchlist = Arc::new(lists.watchlist);
    let pools = Arc::new(SharedPools::new(Arc::new(lists.pools)));
    let flow = FlowLimits {
        max_flows: usize::try_from(args.max_flows).unwrap_or(usize::MAX),
        // The cap is for the whole process: each worker's table gets its share.
        memcap: usize::try_from(args.memcap_mb << 20).unwrap_or(usize::MAX) / workers.max(1),
        ..FlowLimits::default()
    };
    let opts = RunOptions {
        cfg: Config { home_net: args.home_net.clone(), flow, pools, watchlist },
        workers,
        stats_interval: match (args.stats_interval, args.interface.is_empty()) {
            (Some(secs), _) => Some(Duration::from_secs(secs)),
            (None, false) => Some(Duration::from_secs(DEFAULT_LIVE_STATS_SECS)),
            (None, true) => None,
        },
        stop,
        reopen,
        reload: Some(list_files),
        published: args.metrics.map(|_| Published::new()),
        shunt: usize::from(args.shunt),
    };
    // Opened now, while the process may still write where its new user could not; the TCP
    // senders' threads start after the privilege drop.
    let mut sink = match Outputs::prepare(&args.outputs(), &args.output_options()) {
        Ok(s) => s.with_watchlist(opts.cfg.watchlist.clone()),
        Err(e) => {
            eprintln!("minewatch: {e}");
            return ExitCode::from(1);
        }
    };
    let hosts = Arc::new(HostTable::new(MAX_HOSTS));
    // Bound before the privilege drop, so that a port below 1024 works; served after it.
    let mut endpoint = None;
    if let (Some(addr), Some(p)) = (args.metrics, &opts.published) {
        match metrics::bind(addr).and_then(|e| Ok((e.local_addr()?, e))) {
            Ok((local, e)) => {
                if !args.quiet {
                    eprintln!("minewatch: metrics on http://{local}/metrics");
                }
                endpoint = Some((e, p.clone()));
            }
            Err(e) => {
                eprintln!("minewatch: --metrics {addr}: {e}");
                return ExitCode::from(1);
            }
        }
    }
    // The threads that talk to the network, started once the process holds what it keeps.
    let start_threads = |sink: &mut Outputs| -> Result<(), String> {
        sink.start()?;
        if let Some((e, p)) = endpoint {
            e.serve(p, hosts.clone()).map_err(|e| format!("--metrics: {e}"))?;
        }
        Ok(())
    };

    let report = if args.interface.is_empty() {
        if let Err(e) = start_threads(&mut sink) {
            eprintln!("minewatch: {e}");
            return ExitCode::from(1);
        }
        let bar = progress_bar(&args);
        let r = pipeline::run_files(
            &args.read,
            &opts,
            sink,
            hosts.clone(),
            bar.as_ref().map(|b| b as &dyn Progress),
        );
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        r
    } else {
        let mut sources = Vec::new();
        for iface in &args.interface {
            let o = LiveOptions {
                iface: iface.clone(),
                filter: args.filter.clone(),
                snaplen: args.snaplen,
                buffer_mb: args.buffer_mb,
                promisc: true,
                timeout_ms: LIVE_TIMEOUT_MS,
            };
            let shared = if args.no_fanout { 1 } else { workers };
            match live::open_shared(&o, shared) {
                Ok((caps, unshared)) => {
                    if let Some(why) = unshared {
                        eprintln!(
                            "minewatch: {iface}: the kernel cannot share it among the workers ({why}); \
                             one reader hands its packets to them"
                        );
                    }
                    sources.push(caps);
                }
                Err(e) => {
                    eprintln!("minewatch: {iface}: {e}");
                    return ExitCode::from(1);
                }
            }
        }
        if let Err(e) = drop_privileges(&args).and_then(|()| start_threads(&mut sink)) {
            eprintln!("minewatch: {e}");
            return ExitCode::from(1);
        }
        if !args.quiet {
            let how = if workers > 1 && pipeline::shared_by_kernel(&sources, workers) {
                format!(
                    " ({workers} workers, each with its own capture, the kernel sharing flows among them)"
                )
            } else {
                String::new()
            };
            eprintln!("minewatch: capturing on {}{how}", args.interface.join(", "));
        }
        pipeline::run_live(sources, &opts, sink, hosts.clone())
    };

    for (input, reason) in &report.input_errors {
        eprintln!("minewatch: {input}: {reason}");
    }
    if let Some(e) = &report.output_error {
        eprintln!("minewatch: {e}");
    }
    if !args.quiet {
        eprint!("{}", summary::render(&hosts.snapshot(), &report.counters));
        for (iface, k) in &report.kernel {
            eprintln!(
                "capture {iface}: received {}, dropped by kernel {}, dropped by interface {}",
                k.received, k.dropped, k.if_dropped
            );
        }
    }
    if report.input_errors.is_empty() && report.output_error.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
