//! The collector thread: owns the sink, writes the records, keeps every reporter's latest
//! counters and sums them (into `stats` records, the run's report, and the metrics endpoint's
//! copy), and on SIGHUP reopens the outputs and has the lists read again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::Record;
use crate::hosts::HostTable;
use crate::intel::Reloader;
use crate::metrics::{Published, Snapshot};
use crate::output::{Sink, StatsRecord};
use crate::report::{Builder, Files};
use crate::stats::{Counters, KernelStats, Load};
use crate::time::{now, Ts};

/// The report files to write (`--report`, `--report-json`, `--export-stix`, `--export-misp`),
/// opened by `main` with the outputs:
/// the collector feeds every record it writes to a [`Builder`] and renders the files at the end
/// of the run, and on a live capture also at each SIGHUP (after the outputs are reopened), so
/// that a long capture can be looked at while it runs. A rewrite costs a copy of the host table
/// and the rendering, done in this thread between two records; at most once per SIGHUP.
pub(super) struct ReportJob {
    pub(super) files: Arc<Files>,
    pub(super) hosts: Arc<HostTable>,
    pub(super) live: bool,
}

/// The builder of a report with the time it was started, for a live capture's span.
struct Reporting {
    job: ReportJob,
    builder: Builder,
    started: Ts,
}

impl Reporting {
    /// Renders the report as it stands into every file asked for.
    fn write(&mut self, counters: &Counters, kernel: &[(String, KernelStats)]) -> Result<(), String> {
        if self.job.live {
            // A live capture spans from the start to now.
            self.builder.capture_span(self.started, now());
        }
        let plan = self.job.files.plan();
        let report = self.builder.build(&plan.sensor, &self.job.hosts.snapshot(), counters, kernel);
        self.job.files.write(&report)
    }
}

/// What the collector hands back: summed counters, kernel stats, the sink's first error.
pub(super) type Collected = (Counters, Vec<(String, KernelStats)>, Option<String>);

/// How often the collector refreshes the metrics endpoint's copy when no counters arrive.
const PUBLISH_EVERY: Duration = Duration::from_millis(500);

/// Kernel counters summed by interface (one interface may have a capture per worker), in the
/// order the interfaces first reported.
fn by_interface(captures: &[(usize, String, KernelStats)]) -> Vec<(String, KernelStats)> {
    let mut out: Vec<(String, KernelStats)> = Vec::new();
    for (_, name, k) in captures {
        let i = match out.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                out.push((name.clone(), KernelStats::default()));
                out.len() - 1
            }
        };
        if let Some((_, sum)) = out.get_mut(i) {
            sum.received += k.received;
            sum.dropped += k.dropped;
            sum.if_dropped += k.if_dropped;
        }
    }
    out
}

/// Runs one write; keeps the first failure. An output that failed stays silent on its own (see
/// [`Sink`]), so the others keep receiving records.
fn write(sink: &mut Sink, f: impl FnOnce(&mut Sink) -> std::io::Result<()>, err: &mut Option<String>) {
    if let Err(e) = f(sink) {
        if err.is_none() {
            *err = Some(e.to_string());
        }
    }
}

/// The counters summed over every reporter, the output side's (suppression, delivery, spool),
/// which counts in the sink, not in a reporter, and the collector's own (failed reloads).
fn sum(latest: &[Option<Counters>], sink: &Sink, own: &Counters) -> Counters {
    let mut total = sink.counters();
    total.add(own);
    for c in latest.iter().flatten() {
        total.add(c);
    }
    total
}

/// What the metrics endpoint shows: the sums, and what every queue holds now (`queued`: the
/// collector's own).
fn snapshot(
    latest: &[Option<Counters>],
    loads: &[Load],
    kernel: &[(String, KernelStats)],
    sink: &Sink,
    own: &Counters,
    queued: usize,
) -> Snapshot {
    let mut load = Load::default();
    loads.iter().for_each(|l| load.add(l));
    Snapshot {
        counters: sum(latest, sink, own),
        kernel: kernel.to_vec(),
        load,
        records_queue: queued as u64,
        outputs: sink.load(),
    }
}

/// How long the collector waits for a record before its housekeeping (SIGHUP, `stats`).
const COLLECT_WAIT: Duration = Duration::from_millis(500);
/// ... and while the lists are being reloaded, so that the new ones take effect soon after
/// they are read.
const COLLECT_WAIT_RELOADING: Duration = Duration::from_millis(20);

/// The collector: writes records, keeps every reporter's latest counters, writes `stats`
/// records (every `interval` of wall-clock time when set, and when asked), reopens the sink on
/// SIGHUP and has the lists read again (on the reloader's own thread, so records keep flowing
/// meanwhile; the new lists are put in force here, between two records, so none is lost or
/// written twice), and publishes the sums for `--metrics` whenever counters arrive (about once
/// a second per reporter on a live capture; never per packet). When every output's reader has
/// gone (`minewatch … | head`), it sets `stop`, so that the run ends as if interrupted, quietly
/// and with success. Returns the summed counters, the kernel stats and the sink's first error.
#[allow(clippy::too_many_arguments)]
pub(super) fn collect(
    mut sink: Sink,
    rx: Receiver<Record>,
    interval: Option<Duration>,
    reopen: Arc<AtomicBool>,
    mut reloader: Option<Reloader>,
    published: Option<Arc<Published>>,
    stop: Arc<AtomicBool>,
    report: Option<ReportJob>,
) -> Collected {
    let mut report =
        report.map(|job| Reporting { builder: Builder::new(job.files.plan().limits), job, started: now() });
    // Live: the next rewrite of the report files, with `--report-interval`.
    let report_every = report.as_ref().filter(|r| r.job.live).and_then(|r| r.job.files.plan().interval);
    let mut next_report = report_every.map(|i| Instant::now() + i);
    // What the collector itself counts (failed reloads).
    let mut own = Counters::default();
    let mut latest: Vec<Option<Counters>> = Vec::new();
    let mut loads: Vec<Load> = Vec::new();
    // The endpoint's copy is refreshed when counters arrive and at least this often besides, so
    // that the output gauges (queues, spools) move while no reporter reports.
    let mut next_publish = Instant::now();
    // Every capture's latest kernel counters, by reporter and interface; summed by interface.
    let mut captures: Vec<(usize, String, KernelStats)> = Vec::new();
    let mut kernel: Vec<(String, KernelStats)> = Vec::new();
    let mut err: Option<String> = None;
    let mut next_stats = interval.map(|i| Instant::now() + i);

    loop {
        let reloading = reloader.as_ref().is_some_and(Reloader::busy);
        let msg = rx.recv_timeout(if reloading { COLLECT_WAIT_RELOADING } else { COLLECT_WAIT });
        if reopen.swap(false, Ordering::Relaxed) {
            match sink.reopen() {
                Ok(()) => err = None,
                Err(e) => err = Some(e.to_string()),
            }
            if let Some(r) = reloader.as_mut() {
                r.request();
            }
            if let Some(rep) = report.as_mut().filter(|r| r.job.live) {
                if let Err(e) = rep.write(&sum(&latest, &sink, &own), &kernel) {
                    err.get_or_insert(e);
                }
            }
        }
        if let Some(outcome) = reloader.as_mut().and_then(Reloader::poll) {
            match outcome {
                Ok(done) => {
                    eprintln!(
                        "minewatch: reloaded {} pool domains, {} watchlist entries",
                        done.pools,
                        done.watchlist.len()
                    );
                    sink.set_watchlist(done.watchlist);
                }
                Err(e) => {
                    own.reload_failed += 1;
                    eprintln!("minewatch: reload failed, the old lists stay in force: {e}");
                    next_publish = Instant::now();
                }
            }
        }
        match msg {
            Ok(Record::Event(ev)) => {
                if let Some(rep) = report.as_mut() {
                    rep.builder.record(&ev, sink.watch_label(&ev).as_deref());
                }
                write(&mut sink, |s| s.write(&ev), &mut err)
            }
            Ok(Record::Span(first, last)) => {
                if let Some(rep) = report.as_mut() {
                    rep.builder.capture_span(first, last);
                }
            }
            Ok(Record::Counters { reporter, counters, kernel: k, load }) => {
                if latest.len() <= reporter {
                    latest.resize(reporter + 1, None);
                    loads.resize(reporter + 1, Load::default());
                }
                if let Some(slot) = latest.get_mut(reporter) {
                    *slot = Some(counters);
                }
                if let Some(slot) = loads.get_mut(reporter) {
                    *slot = load;
                }
                if !k.is_empty() {
                    for (name, ks) in k {
                        match captures.iter_mut().find(|(r, n, _)| *r == reporter && *n == name) {
                            Some(e) => e.2 = ks,
                            None => captures.push((reporter, name, ks)),
                        }
                    }
                    kernel = by_interface(&captures);
                }
                next_publish = Instant::now();
            }
            Ok(Record::StatsNow(ts)) => {
                // The last record of a run: let network outputs deliver first, so its counters
                // say what reached the receivers.
                sink.settle();
                let rec = StatsRecord { ts, counters: sum(&latest, &sink, &own), kernel: kernel.clone() };
                write(&mut sink, |s| s.write_stats(&rec), &mut err);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if let Some(p) = published.as_deref().filter(|_| Instant::now() >= next_publish) {
            next_publish = Instant::now() + PUBLISH_EVERY;
            p.publish(snapshot(&latest, &loads, &kernel, &sink, &own, rx.len()));
        }
        if let (Some(at), Some(i), Some(rep)) = (next_report, report_every, report.as_mut()) {
            if Instant::now() >= at {
                next_report = Some(Instant::now() + i);
                if let Err(e) = rep.write(&sum(&latest, &sink, &own), &kernel) {
                    err.get_or_insert(e);
                }
            }
        }
        if let (Some(at), Some(i)) = (next_stats, interval) {
            if Instant::now() >= at {
                next_stats = Some(Instant::now() + i);
                let rec =
                    StatsRecord { ts: now(), counters: sum(&latest, &sink, &own), kernel: kernel.clone() };
                write(&mut sink, |s| s.write_stats(&rec), &mut err);
            }
        }
        if rx.is_empty() {
            write(&mut sink, |s| s.flush(), &mut err);
        }
        if sink.readers_gone() && !stop.load(Ordering::Relaxed) {
            stop.store(true, Ordering::Relaxed);
        }
    }
    write(&mut sink, |s| s.flush(), &mut err);
    // Network outputs deliver, spool or count what they still hold; then the counters are final.
    sink.close();
    if let Some(p) = &published {
        p.publish(snapshot(&latest, &loads, &kernel, &sink, &own, 0));
    }
    let total = sum(&latest, &sink, &own);
    if let Some(rep) = report.as_mut() {
        if let Err(e) = rep.write(&total, &kernel) {
            err.get_or_insert(e);
        }
    }
    (total, kernel, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_counters_are_summed_by_interface_in_the_order_first_seen() {
        let k = |received, dropped| KernelStats { received, dropped, if_dropped: 1 };
        let captures = vec![
            (0, "eth1".to_string(), k(10, 1)),
            (0, "eth0".to_string(), k(5, 0)),
            (1, "eth1".to_string(), k(7, 2)),
        ];
        let sums = by_interface(&captures);
        assert_eq!(
            sums,
            vec![
                ("eth1".to_string(), KernelStats { received: 17, dropped: 3, if_dropped: 2 }),
                ("eth0".to_string(), k(5, 0)),
            ]
        );
    }
}
