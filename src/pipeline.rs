//! Threads and channels: source → dispatcher → workers → output.
//!
//! The reader thread decodes each frame just far enough to shard it by a symmetric hash of its
//! address pair, so both directions of a connection (and IP fragments, which carry no ports)
//! meet on one worker whose flow table needs no lock. Frames move in batches, copied once into
//! a batch buffer that is recycled; with one worker there is no hand-off at all and frames are
//! processed straight from libpcap's buffer. Records go over a bounded channel to one output
//! thread that owns the sink.

use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;
use std::thread;

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::capture::{Frame, OfflineSource};
use crate::config::Config;
use crate::decode::{self, LinkType, Packet, Skip, Transport};
use crate::flow::FlowTable;
use crate::hosts::HostTable;
use crate::output::Sink;
use crate::stats::Counters;
use crate::time::Ts;
use crate::verdict::Event;

/// Records waiting for the output thread. Alerts are rare, so this only fills when the sink
/// stalls; replay then waits for it rather than lose records.
const EVENT_QUEUE: usize = 4096;
/// Batches in flight to each worker.
const WORKER_QUEUE: usize = 64;
/// Frames per batch, and the batch buffer size that also closes a batch.
const BATCH_FRAMES: usize = 256;
const BATCH_BYTES: usize = 512 * 1024;

/// How a run went: counters summed over all workers, and each input that failed.
#[derive(Debug, Default)]
pub struct Report {
    pub counters: Counters,
    /// `(path, one-line reason)` for every input that could not be read to its end.
    pub input_errors: Vec<(String, String)>,
    /// The sink failed (disk full, closed pipe): records after it were lost.
    pub output_error: Option<String>,
}

/// Counts a frame and decodes it; `None` (counted) for anything that is not TCP or UDP over IP.
fn classify<'a>(link: LinkType, frame: &Frame<'a>, c: &mut Counters) -> Option<Packet<'a>> {
    c.packets += 1;
    c.bytes += frame.data.len() as u64;
    match decode::decode(link, frame.data) {
        Ok(p) => Some(p),
        Err(Skip::Truncated) => {
            c.truncated += 1;
            None
        }
        Err(Skip::Malformed) => {
            c.malformed += 1;
            None
        }
        Err(Skip::NotTcpUdp) => {
            c.not_tcp_udp += 1;
            None
        }
        Err(Skip::Fragment) => {
            c.fragments += 1;
            None
        }
    }
}

/// The same for both directions: hashes the address pair in a fixed order.
fn shard(src: IpAddr, dst: IpAddr, n: usize) -> usize {
    let (lo, hi) = if src <= dst { (src, dst) } else { (dst, src) };
    let mut h = ahash::RandomState::with_seeds(7, 11, 13, 17).build_hasher();
    lo.hash(&mut h);
    hi.hash(&mut h);
    (h.finish() % n as u64) as usize
}

/// One worker's state: its flow table, and where its records go.
struct Worker {
    table: FlowTable,
    hosts: Arc<HostTable>,
    events: Sender<Event>,
    extra: Counters,
}

impl Worker {
    fn new(cfg: &Config, hosts: Arc<HostTable>, events: Sender<Event>) -> Worker {
        Worker {
            table: FlowTable::new(cfg.flow, cfg.home_net.clone()),
            hosts,
            events,
            extra: Counters::default(),
        }
    }

    fn packet(&mut self, pkt: &Packet<'_>, ts: Ts) {
        let Worker {
            table,
            hosts,
            events,
            extra,
        } = self;
        match pkt.transport {
            Transport::Tcp(tcp) => {
                extra.tcp_packets += 1;
                table.tcp(pkt, &tcp, ts, &mut |ev| deliver(hosts, events, extra, ev));
            }
            Transport::Udp => extra.udp_packets += 1,
        }
    }

    fn flush(&mut self) {
        let Worker {
            table,
            hosts,
            events,
            extra,
        } = self;
        table.flush_all(&mut |ev| deliver(hosts, events, extra, ev));
    }

    fn counters(&self) -> Counters {
        let mut c = self.table.counters;
        c.add(&self.extra);
        c
    }
}

fn deliver(hosts: &HostTable, events: &Sender<Event>, extra: &mut Counters, ev: Event) {
    if !hosts.record(&ev) {
        extra.hosts_table_full += 1;
    }
    if events.send(ev).is_err() {
        extra.events_dropped += 1;
    }
}

/// A batch of frames for one worker, in one buffer.
struct Batch {
    link: LinkType,
    data: Vec<u8>,
    /// (time, offset, length) of each frame in `data`.
    frames: Vec<(Ts, u32, u32)>,
}

impl Batch {
    fn new(link: LinkType) -> Batch {
        Batch {
            link,
            data: Vec::with_capacity(BATCH_BYTES),
            frames: Vec::with_capacity(BATCH_FRAMES),
        }
    }
}

enum Msg {
    Batch(Batch),
    /// End of one input: end every open session.
    Flush,
}

fn worker_loop(mut w: Worker, rx: Receiver<Msg>, recycle: Sender<Batch>) -> Counters {
    for msg in rx {
        match msg {
            Msg::Batch(mut b) => {
                for &(ts, off, len) in &b.frames {
                    let bytes = b
                        .data
                        .get(off as usize..(off as usize + len as usize))
                        .unwrap_or_default();
                    // The dispatcher counted this frame and knows it decodes.
                    if let Ok(pkt) = decode::decode(b.link, bytes) {
                        w.packet(&pkt, ts);
                    }
                }
                b.data.clear();
                b.frames.clear();
                let _ = recycle.try_send(b);
            }
            Msg::Flush => w.flush(),
        }
    }
    w.flush();
    w.counters()
}

/// Where frames go: straight into one worker, or batched out to several.
enum Dispatch {
    Inline(Box<Worker>),
    Sharded {
        txs: Vec<Sender<Msg>>,
        pending: Vec<Option<Batch>>,
        recycled: Receiver<Batch>,
        handles: Vec<thread::JoinHandle<Counters>>,
    },
}

impl Dispatch {
    fn frame(&mut self, link: LinkType, frame: &Frame<'_>, c: &mut Counters) {
        let Some(pkt) = classify(link, frame, c) else {
            return;
        };
        match self {
            Dispatch::Inline(w) => w.packet(&pkt, frame.ts),
            Dispatch::Sharded {
                txs,
                pending,
                recycled,
                ..
            } => {
                let i = shard(pkt.src, pkt.dst, txs.len());
                let slot = match pending.get_mut(i) {
                    Some(s) => s,
                    None => return,
                };
                let batch = slot.get_or_insert_with(|| {
                    let mut b = recycled.try_recv().unwrap_or_else(|_| Batch::new(link));
                    b.link = link;
                    b
                });
                let off = batch.data.len() as u32;
                batch.data.extend_from_slice(frame.data);
                batch.frames.push((frame.ts, off, frame.data.len() as u32));
                if batch.frames.len() >= BATCH_FRAMES || batch.data.len() >= BATCH_BYTES {
                    if let (Some(b), Some(tx)) = (slot.take(), txs.get(i)) {
                        let _ = tx.send(Msg::Batch(b));
                    }
                }
            }
        }
    }

    /// End of one input file: hand out partial batches, then end every session.
    fn end_of_input(&mut self) {
        match self {
            Dispatch::Inline(w) => w.flush(),
            Dispatch::Sharded { txs, pending, .. } => {
                for (slot, tx) in pending.iter_mut().zip(txs.iter()) {
                    if let Some(b) = slot.take() {
                        let _ = tx.send(Msg::Batch(b));
                    }
                    let _ = tx.send(Msg::Flush);
                }
            }
        }
    }

    fn finish(self) -> Counters {
        match self {
            Dispatch::Inline(mut w) => {
                w.flush();
                w.counters()
            }
            Dispatch::Sharded { txs, handles, .. } => {
                drop(txs);
                let mut c = Counters::default();
                for h in handles {
                    if let Ok(wc) = h.join() {
                        c.add(&wc);
                    }
                }
                c
            }
        }
    }
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

/// Reads every capture in `paths` through `workers` workers into `sink`.
pub fn run_files(
    paths: &[String],
    cfg: &Config,
    workers: usize,
    sink: Sink,
    hosts: Arc<HostTable>,
    progress: Option<&dyn Progress>,
) -> Report {
    let (ev_tx, ev_rx) = bounded::<Event>(EVENT_QUEUE);
    let output = thread::spawn(move || output_loop(sink, ev_rx));
    let workers = workers.max(1);
    let mut dispatch = if workers == 1 {
        Dispatch::Inline(Box::new(Worker::new(cfg, hosts.clone(), ev_tx.clone())))
    } else {
        let (rec_tx, rec_rx) = bounded::<Batch>(workers * WORKER_QUEUE);
        let mut txs = Vec::new();
        let mut handles = Vec::new();
        for _ in 0..workers {
            let (tx, rx) = bounded::<Msg>(WORKER_QUEUE);
            let w = Worker::new(cfg, hosts.clone(), ev_tx.clone());
            let recycle = rec_tx.clone();
            handles.push(thread::spawn(move || worker_loop(w, rx, recycle)));
            txs.push(tx);
        }
        Dispatch::Sharded {
            txs,
            pending: (0..workers).map(|_| None).collect(),
            recycled: rec_rx,
            handles,
        }
    };
    drop(ev_tx);

    let mut report = Report::default();
    let mut c = Counters::default();
    for path in paths {
        if let Err(reason) = read_one(path, &mut dispatch, &mut c, progress) {
            report.input_errors.push((path.clone(), reason));
        }
        dispatch.end_of_input();
    }
    let wc = dispatch.finish();
    c.add(&wc);
    report.counters = c;
    report.output_error = output
        .join()
        .unwrap_or_else(|_| Some("output thread failed".into()));
    report
}

fn read_one(
    path: &str,
    dispatch: &mut Dispatch,
    c: &mut Counters,
    progress: Option<&dyn Progress>,
) -> Result<(), String> {
    let mut src = OfflineSource::open(path)?;
    let Some(link) = src.link() else {
        return Err(format!("link type {} is not supported", src.dlt()));
    };
    let mut pending_progress = 0u64;
    loop {
        match src.next_frame() {
            Ok(Some(frame)) => {
                // The record header is 16 bytes in pcap; close enough for pcapng's blocks.
                pending_progress += frame.data.len() as u64 + 16;
                dispatch.frame(link, &frame, c);
                if pending_progress >= 1 << 20 {
                    if let Some(p) = progress {
                        p.advance(pending_progress);
                    }
                    pending_progress = 0;
                }
            }
            Ok(None) => break,
            Err(e) => return Err(e),
        }
    }
    if let Some(p) = progress {
        p.advance(pending_progress);
    }
    Ok(())
}

fn output_loop(mut sink: Sink, rx: Receiver<Event>) -> Option<String> {
    let mut err = None;
    for ev in rx.iter() {
        if err.is_some() {
            continue;
        }
        if let Err(e) = sink.write(&ev) {
            err = Some(e.to_string());
            continue;
        }
        if rx.is_empty() {
            if let Err(e) = sink.flush() {
                err = Some(e.to_string());
            }
        }
    }
    if err.is_none() {
        if let Err(e) = sink.flush() {
            err = Some(e.to_string());
        }
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_is_symmetric_and_in_range() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "198.51.100.9".parse().unwrap();
        for n in 1..8 {
            assert_eq!(shard(a, b, n), shard(b, a, n));
            assert!(shard(a, b, n) < n);
        }
    }
}
