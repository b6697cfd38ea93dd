//! Threads and channels: sources → workers → collector.
//!
//! Both directions of a connection meet on one worker, whose flow table needs no lock. How
//! frames reach the workers depends on the source:
//!
//! - Replay (`replay.rs`): no reader thread. The workers share the file block by block (see
//!   [`crate::capture::shared`]): the worker that reads a block walks it at once, side by side
//!   with the others, decoding each frame once, counting it, noting DNS answers and sorting each
//!   TCP packet's decoded fields by owner as an `Item` whose payload stays in the block; blocks
//!   are committed in file order (counts and DNS answers take effect, see
//!   [`crate::intel::dnsmap`]); then every worker processes its own items. A file can wait, so
//!   nothing is ever dropped. The only worker processes each frame as its walk finds it, with no
//!   hand-off at all.
//! - Replay shards each frame by a symmetric hash of its address pair (IP fragments carry no
//!   ports).
//! - Live capture (`live.rs`): each worker reads its own capture of every interface, the kernel
//!   sharing each interface's packets among them by a symmetric hash of the flow (see
//!   [`crate::capture::live::open_shared`]): nothing is handed over, and the workers scale like
//!   separate sensors. Where the kernel cannot share (or with `--no-fanout`), one reader reads
//!   every interface, decodes each frame once and sends its worker the decoded TCP fields and
//!   the payload, copied once into a recycled batch buffer (a fragment goes whole, for the
//!   worker's defragmenter; UDP stops at the reader). An interface cannot wait, so the reader
//!   never blocks and counts every batch it has to drop (`dispatch_dropped`), next to the
//!   kernel's own drops. A thread reading several interfaces reads them in time order (see
//!   [`crate::capture::live::LiveSet`]).
//!
//! Every frame, however it was read, goes through one front (`front.rs`): decoded once,
//! counted, a DNS answer read for [`crate::intel`], a TCP packet or a fragment routed on. The
//! three readers (a worker reading for itself, the replay's walk, the live reader) differ only
//! in where they route it.
//!
//! One collector thread (`collect.rs`) owns the sink (every output, see
//! [`crate::output::Outputs`]). Workers (`worker.rs`) and readers send it records and, now and
//! then, a copy of their counters; the collector writes alerts, sums the counters into `stats`
//! records, and returns the totals at the end, so every counter is summed in one place.

mod collect;
mod evidence;
mod front;
mod live;
mod replay;
mod ticks;
mod worker;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crossbeam_channel::bounded;

use crate::capture::live::LiveSource;
use crate::capture::open_input;
use crate::capture::shared::SharedInput;
use crate::config::{Detection, ReplayOptions};
use crate::hosts::HostTable;
use crate::intel::{Intel, ListFiles, Reloader};
use crate::metrics::Published;
use crate::output::Sink;
use crate::stats::{Counters, KernelStats, Load};
use crate::time::{now, Ts, When};
use crate::verdict::Event;

pub use evidence::EvidenceDir;
pub use replay::ReplayWindow;

use collect::{collect, Collected, ReportJob};
use worker::Worker;

/// Records waiting for the collector. Alerts are rare, so this only fills when the sink stalls.
const RECORD_QUEUE: usize = 4096;

/// What a run is given besides its inputs.
pub struct RunOptions {
    pub cfg: Detection,
    pub workers: usize,
    /// `stats` records in the output: `None` for none; otherwise one at the end and, on a live
    /// capture, one every interval (a zero interval: only the last).
    pub stats_interval: Option<Duration>,
    /// Set by SIGINT/SIGTERM: stop reading, end every session, write the last records.
    pub stop: Arc<AtomicBool>,
    /// Set by SIGHUP: the collector reopens its output files and, with `reload`, reloads the
    /// lists.
    pub reopen: Arc<AtomicBool>,
    /// The files the pool list and the watchlist were loaded from, read again on SIGHUP (see
    /// [`crate::intel::lists`]); `None`: the lists never change.
    pub reload: Option<ListFiles>,
    /// Where the collector publishes its summed counters for `--metrics`, if anywhere.
    pub published: Option<Arc<Published>>,
    /// Live: most elephant flows each worker has the kernel drop (see
    /// [`crate::capture::shunt`]); 0: none.
    pub shunt: usize,
    /// The report files to write at the end (and, live, on SIGHUP), opened: `--report`,
    /// `--report-json`, `--export-stix`, `--export-misp`; `None` for none.
    pub report: Option<Arc<crate::report::Files>>,
    /// Replay: the time window and the filter (`--since`, `--until`, `-f`).
    pub replay: ReplayOptions,
    /// `--pcap-dir`: where the workers write the alerted sessions' packets (created before the
    /// privilege drop).
    pub evidence: Option<Arc<EvidenceDir>>,
}

/// How a run went: counters summed over every thread, and each input that failed.
#[derive(Debug, Default)]
pub struct Report {
    pub counters: Counters,
    pub kernel: Vec<(String, KernelStats)>,
    /// `(input, one-line reason)` for every input that could not be read to its end.
    pub input_errors: Vec<(String, String)>,
    /// The sink failed (disk full, closed pipe): records after it were lost.
    pub output_error: Option<String>,
}

/// What the collector receives. Records are few (alerts, and counters once a second), so the
/// size of the largest variant costs nothing worth a box per alert.
#[allow(clippy::large_enum_variant)]
enum Record {
    Event(Event),
    /// The latest counters of one reporter (a worker or a reader), replacing its previous ones.
    Counters {
        reporter: usize,
        counters: Counters,
        /// The reporter's captures, by interface (none for a replay).
        kernel: Vec<(String, KernelStats)>,
        /// What it holds now: flows and their memory (a worker), queued frames (a reader).
        load: Load,
    },
    /// Write a `stats` record now, stamped `ts`.
    StatsNow(Ts),
    /// Replay: the first and last packet time of the inputs, for the report.
    Span(Ts, Ts),
}

/// Progress reporting hook: called with bytes of input consumed.
pub trait Progress {
    fn advance(&self, bytes: u64);
}

impl Progress for indicatif::ProgressBar {
    fn advance(&self, bytes: u64) {
        self.inc(bytes);
    }
}

/// Replays every capture file in `paths`, in order, into `sink`: a directory stands for the
/// captures below it, in the order of their first packets (see [`crate::capture::inputs`]).
/// Each file's sessions end with the file.
pub fn run_files(
    paths: &[String],
    opts: &RunOptions,
    sink: Sink,
    hosts: Arc<HostTable>,
    progress: Option<&dyn Progress>,
) -> Report {
    let (rec_tx, rec_rx) = bounded::<Record>(RECORD_QUEUE);
    let reopen = opts.reopen.clone();
    let published = opts.published.clone();
    let reloader = opts.reload.clone().map(|f| Reloader::new(f, opts.cfg.pools.clone()));
    let stop = opts.stop.clone();
    let report = report_job(opts, &hosts, false);
    let collector =
        thread::spawn(move || collect(sink, rec_rx, None, reopen, reloader, published, stop, report));
    let n = opts.workers.max(1);
    let intel = Arc::new(
        Intel::shared(opts.cfg.pools.clone())
            .with_dns_capacity(opts.cfg.dns_capacity)
            .with_clock(opts.cfg.clock_capacity, opts.cfg.behaviour.align_tolerance_us),
    );
    // Several workers look up the push clock in file order (see `crate::intel::clock`).
    let order = (n > 1).then(|| Arc::new(crate::intel::clock::FileOrder::new(n)));
    let mut workers: Vec<Worker> = (0..n)
        .map(|me| Worker::new(me, &opts.cfg, &intel, hosts.clone(), rec_tx.clone(), opts.evidence.as_ref()))
        .map(|w| match &order {
            Some(o) => w.in_file_order(o),
            None => w,
        })
        .collect();
    let mut input_errors = Vec::new();
    let inputs = crate::capture::inputs::expand(paths);
    let mut own = Counters { inputs_not_capture: inputs.not_capture, ..Counters::default() };
    input_errors.extend(inputs.failed.iter().map(|(p, e)| (p.clone(), e.to_string())));
    let window = match settle_window(&opts.replay, inputs.first_ts()) {
        Ok(w) => w,
        Err(e) => {
            input_errors.push(("--since/--until".to_string(), e.to_string()));
            // Nothing is replayed rather than the wrong window.
            ReplayWindow { until: Some(Ts(i64::MIN)), ..ReplayWindow::default() }
        }
    };
    // The earliest and the latest packet time of the files replayed, for the report.
    let mut span: Option<(Ts, Ts)> = None;
    for (path, _) in &inputs.files {
        if opts.stop.load(Ordering::Relaxed) {
            break;
        }
        let input = match open_input(path) {
            Ok(i) => SharedInput::new(i, n, opts.stop.clone()),
            Err(reason) => {
                input_errors.push((path.clone(), reason.to_string()));
                continue;
            }
        };
        let name: Arc<str> = Arc::from(path.as_str());
        for w in &mut workers {
            w.file = Some(name.clone());
        }
        let (failed, file_span) = replay::replay_input(&mut workers, &input, &window, progress);
        if let Some((first, last)) = file_span {
            span = Some(span.map_or((first, last), |(f, l): (Ts, Ts)| (f.min(first), l.max(last))));
        }
        if let Some(reason) = input.error() {
            input_errors.push((path.clone(), reason.to_string()));
        }
        if !failed.is_empty() {
            // A worker that panicked left its flows half-inspected: stop here, say so.
            input_errors.extend(failed.into_iter().map(worker_failed));
            break;
        }
    }
    for w in &workers {
        w.report();
    }
    drop(workers);
    if let Some((first, last)) = span {
        let _ = rec_tx.send(Record::Span(first, last));
    }
    // The inputs' own counts, as one more reporter after the workers.
    own.inputs_failed = input_errors.len() as u64;
    let _ = rec_tx.send(Record::Counters {
        reporter: n,
        counters: own,
        kernel: Vec::new(),
        load: Load::default(),
    });
    if opts.stats_interval.is_some() {
        let _ = rec_tx.send(Record::StatsNow(span.map(|(_, last)| last).unwrap_or_default()));
    }
    drop(rec_tx);
    finish(collector, input_errors)
}

/// Why a replay window could not be settled.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    #[error("a duration counts from the first packet of a capture file; with standard input alone give an RFC 3339 time")]
    NoFirstPacket,
}

/// The window of a replay whose first packet (among the files read ahead) is at `first`.
fn settle_window(o: &ReplayOptions, first: Option<Ts>) -> Result<ReplayWindow, WindowError> {
    let relative = [o.since, o.until].iter().any(|w| matches!(w, Some(When::After(_))));
    if relative && first.is_none() {
        return Err(WindowError::NoFirstPacket);
    }
    Ok(ReplayWindow {
        since: o.since.map(|w| w.resolve(first)),
        until: o.until.map(|w| w.resolve(first)),
        filter: o.filter.clone(),
    })
}

/// Whether every interface has one capture per worker, shared by the kernel (see
/// [`crate::capture::live::open_shared`]); then each worker reads its own captures.
pub fn shared_by_kernel(sources: &[Vec<LiveSource>], workers: usize) -> bool {
    sources.iter().all(|s| s.len() == workers.max(1))
}

/// Captures from live interfaces until `opts.stop` is set (or every interface fails). The
/// interfaces must already be open (see [`crate::capture::live::open_shared`]: one capture per
/// worker, or one per interface), so that privileges can be dropped between opening and
/// reading.
pub fn run_live(
    sources: Vec<Vec<LiveSource>>,
    opts: &RunOptions,
    sink: Sink,
    hosts: Arc<HostTable>,
) -> Report {
    let (rec_tx, rec_rx) = bounded::<Record>(RECORD_QUEUE);
    let reopen = opts.reopen.clone();
    let interval = opts.stats_interval.filter(|i| !i.is_zero());
    let published = opts.published.clone();
    let reloader = opts.reload.clone().map(|f| Reloader::new(f, opts.cfg.pools.clone()));
    let stop = opts.stop.clone();
    let report = report_job(opts, &hosts, true);
    let collector =
        thread::spawn(move || collect(sink, rec_rx, interval, reopen, reloader, published, stop, report));
    let n = opts.workers.max(1);
    let intel = Arc::new(
        Intel::shared(opts.cfg.pools.clone())
            .with_dns_capacity(opts.cfg.dns_capacity)
            .with_clock(opts.cfg.clock_capacity, opts.cfg.behaviour.align_tolerance_us),
    );
    let mut input_errors = Vec::new();
    if shared_by_kernel(&sources, n) {
        live::capture_shared(sources, n, opts, &intel, &hosts, &rec_tx, &mut input_errors);
    } else {
        live::dispatch_live(sources, n, opts, &intel, &hosts, &rec_tx, &mut input_errors);
    }
    if opts.stats_interval.is_some() {
        let _ = rec_tx.send(Record::StatsNow(now()));
    }
    drop(rec_tx);
    finish(collector, input_errors)
}

/// What the collector needs to write the report files, when any is asked for.
fn report_job(opts: &RunOptions, hosts: &Arc<HostTable>, live: bool) -> Option<ReportJob> {
    let files = opts.report.clone()?;
    Some(ReportJob { files, hosts: hosts.clone(), live })
}

/// Stops a live capture if the thread holding it panics: a worker that stopped would leave its
/// share of the traffic unwatched while the sensor looked healthy, so the whole capture ends
/// instead, with the worker's error line and exit status 1 (for the service manager to restart
/// it).
struct StopOnPanic(Arc<AtomicBool>);

impl Drop for StopOnPanic {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// A worker that panicked (a bug: nothing on the wire should make one) lost its flows and every
/// packet sent to it afterwards, so the run must not look complete: it becomes an error line
/// and exit status 1 instead of a silently short report.
fn worker_failed(i: usize) -> (String, String) {
    (
        format!("worker {i}"),
        "internal error: the worker stopped; its flows were not inspected to the end".into(),
    )
}

fn finish(collector: thread::JoinHandle<Collected>, input_errors: Vec<(String, String)>) -> Report {
    let (counters, kernel, output_error) = collector
        .join()
        .unwrap_or_else(|_| (Counters::default(), Vec::new(), Some("output thread failed".into())));
    Report { counters, kernel, input_errors, output_error }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_thread_that_panics_stops_the_capture_and_one_that_ends_does_not() {
        let stop = Arc::new(AtomicBool::new(false));
        let guard = StopOnPanic(stop.clone());
        thread::spawn(move || {
            let _stop = guard;
        })
        .join()
        .expect("the thread ends cleanly");
        assert!(!stop.load(Ordering::Relaxed));
        let guard = StopOnPanic(stop.clone());
        let panicked = thread::spawn(move || {
            let _stop = guard;
            panic!("a worker bug");
        })
        .join();
        assert!(panicked.is_err());
        assert!(stop.load(Ordering::Relaxed), "the other threads were not told to stop");
    }
}
