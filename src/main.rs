//! The `minewatch` binary: parse the command line, open the sources, drop privileges, run the
//! pipeline, print the summary, and pick the exit code. Everything else lives in the library.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::anyhow;
use indicatif::{ProgressBar, ProgressStyle};

use minewatch::capture::live;
use minewatch::config::{Config, RunMode};
use minewatch::hosts::HostTable;
use minewatch::intel::lists::ListError;
use minewatch::intel::SharedPools;
use minewatch::metrics::{self, Published};
use minewatch::output::Outputs;
use minewatch::pipeline::{self, EvidenceDir, Progress, RunOptions};
use minewatch::preflight;
use minewatch::privilege;
use minewatch::sensor::{self, LoadError};
use minewatch::summary;

/// A progress bar over the inputs' total size, only when a person is watching stderr.
fn progress_bar(files: &[String], quiet: bool) -> Option<ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    // (A directory counts the files below it: its captures are most of them.)
    let total: u64 = files
        .iter()
        .filter(|p| p.as_str() != "-")
        .flat_map(walkdir::WalkDir::new)
        .filter_map(|e| e.ok()?.metadata().ok())
        .filter(|m| m.is_file())
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
fn drop_privileges(cfg: &Config) -> anyhow::Result<()> {
    let plan = privilege::Plan {
        keep_user: assume_not_root(),
        hand_over: cfg.evidence.iter().map(|e| e.dir.clone()).collect(),
        ..cfg.privilege.plan.clone()
    };
    let done = privilege::drop_all(&plan).map_err(|e| anyhow!("privilege drop: {e}"))?;
    if cfg.privilege.seccomp && !privilege::deny_syscalls()? && !cfg.quiet {
        eprintln!("minewatch: no system-call filter on {}", std::env::consts::ARCH);
    }
    if done.bounding_kept > 0 && !cfg.quiet {
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
fn generate(args: &minewatch::cli::Args) -> Option<ExitCode> {
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

/// Parses the options, settles them into one [`Config`], runs, and turns the outcome into the
/// exit status: 0 when every input was read, 1 when one failed or the run could not start, 2
/// for a usage error. Errors are printed here, each as one `minewatch: ` line.
fn main() -> ExitCode {
    let args = match sensor::load() {
        Ok(a) => a,
        Err(LoadError::Clap(e)) => e.exit(),
        Err(LoadError::Usage(msg)) => return usage(&msg),
    };
    if let Some(code) = generate(&args) {
        return code;
    }
    if let Some(minewatch::cli::Command::Probe(p)) = &args.command {
        return match minewatch::probe::run(p) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("minewatch: probe: {e}");
                ExitCode::from(1)
            }
        };
    }
    let cfg = match Config::from_args(&args) {
        Ok(c) => c,
        Err(e) => return usage(&e.to_string()),
    };
    if args.test_config {
        return match preflight::check(&cfg) {
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
    match run(&cfg) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("minewatch: {e}");
            // A list file that cannot be read or has a bad line is a usage error.
            ExitCode::from(if e.is::<ListError>() { 2 } else { 1 })
        }
    }
}

/// A usage error: each line on stderr, status 2.
fn usage(msg: &str) -> ExitCode {
    for line in msg.lines() {
        eprintln!("minewatch: {line}");
    }
    ExitCode::from(2)
}

/// One run of `cfg`. `Err`: it could not start (one line to print); `Ok`: its exit status.
fn run(cfg: &Config) -> anyhow::Result<ExitCode> {
    let (stop, reopen) = signals().map_err(|e| anyhow!("cannot install signal handlers: {e}"))?;
    // The same files are read again on SIGHUP; a file that cannot be read or has a bad line is
    // a usage error here, and leaves the old lists in force then.
    let lists = cfg.lists.load()?;
    let watchlist = Arc::new(lists.watchlist);
    let pools = Arc::new(SharedPools::new(Arc::new(lists.pools)));
    // Created now, while the process may still write where its new user could not; the drop
    // hands it to that user (see `drop_privileges`).
    let evidence = match &cfg.evidence {
        Some(o) => {
            Some(EvidenceDir::create(o.clone()).map_err(|e| anyhow!("--pcap-dir {}: {e}", o.dir.display()))?)
        }
        None => None,
    };
    let opts = RunOptions {
        cfg: cfg.detection(pools, watchlist),
        workers: cfg.workers,
        stats_interval: cfg.stats_interval,
        stop,
        reopen,
        reload: Some(cfg.lists.clone()),
        published: cfg.metrics.map(|_| Published::new()),
        shunt: cfg.shunt,
        // Opened now, with the outputs: see `report::Plan::open`.
        report: match cfg.report.clone() {
            plan if plan.any() => Some(Arc::new(plan.open().map_err(|e| anyhow!("report: {e}"))?)),
            _ => None,
        },
        replay: cfg.replay.clone(),
        evidence,
    };
    // Opened now, while the process may still write where its new user could not; the TCP
    // senders' threads start after the privilege drop.
    let mut sink =
        Outputs::prepare(&cfg.outputs, &cfg.output_options)?.with_watchlist(opts.cfg.watchlist.clone());
    let hosts = Arc::new(HostTable::new(cfg.max_hosts));
    // Bound before the privilege drop, so that a port below 1024 works; served after it.
    let mut endpoint = None;
    if let (Some(addr), Some(p)) = (cfg.metrics, &opts.published) {
        let (local, e) = metrics::bind(addr)
            .and_then(|e| Ok((e.local_addr()?, e)))
            .map_err(|e| anyhow!("--metrics {addr}: {e}"))?;
        if !cfg.quiet {
            eprintln!("minewatch: metrics on http://{local}/metrics");
        }
        endpoint = Some((e, p.clone()));
    }
    // The threads that talk to the network, started once the process holds what it keeps.
    let start_threads = |sink: &mut Outputs| -> anyhow::Result<()> {
        sink.start()?;
        if let Some((e, p)) = endpoint {
            e.serve(p, hosts.clone()).map_err(|e| anyhow!("--metrics: {e}"))?;
        }
        Ok(())
    };

    let report = match &cfg.mode {
        RunMode::Files(files) => {
            start_threads(&mut sink)?;
            let bar = progress_bar(files, cfg.quiet);
            let r = pipeline::run_files(
                files,
                &opts,
                sink,
                hosts.clone(),
                bar.as_ref().map(|b| b as &dyn Progress),
            );
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            r
        }
        RunMode::Live(captures) => {
            let mut sources = Vec::new();
            let shared = if cfg.fanout { cfg.workers } else { 1 };
            for o in captures {
                let iface = &o.iface;
                let (caps, unshared) = live::open_shared(o, shared).map_err(|e| anyhow!("{iface}: {e}"))?;
                if let Some(why) = unshared {
                    eprintln!(
                        "minewatch: {iface}: the kernel cannot share it among the workers ({why}); \
                         one reader hands its packets to them"
                    );
                }
                sources.push(caps);
            }
            drop_privileges(cfg)?;
            start_threads(&mut sink)?;
            if !cfg.quiet {
                let workers = cfg.workers;
                let how = if workers > 1 && pipeline::shared_by_kernel(&sources, workers) {
                    format!(
                        " ({workers} workers, each with its own capture, the kernel sharing flows among them)"
                    )
                } else {
                    String::new()
                };
                let names: Vec<&str> = captures.iter().map(|o| o.iface.as_str()).collect();
                eprintln!("minewatch: capturing on {}{how}", names.join(", "));
            }
            pipeline::run_live(sources, &opts, sink, hosts.clone())
        }
    };

    for (input, reason) in &report.input_errors {
        eprintln!("minewatch: {input}: {reason}");
    }
    if let Some(e) = &report.output_error {
        eprintln!("minewatch: {e}");
    }
    if !cfg.quiet {
        eprint!("{}", summary::render(&hosts.snapshot(), &report.counters));
        for (iface, k) in &report.kernel {
            eprintln!(
                "capture {iface}: received {}, dropped by kernel {}, dropped by interface {}",
                k.received, k.dropped, k.if_dropped
            );
        }
    }
    Ok(if report.input_errors.is_empty() && report.output_error.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
