//! Threads and channels: sources → workers → collector.
//!
//! Both directions of a connection meet on one worker, whose flow table needs no lock. How
//! frames reach the workers depends on the source:
//!
//! - Replay: no reader thread. The workers share the file block by block (see
//!   [`crate::capture::shared`]): the worker that reads a block walks it at once, side by side
//!   with the others, decoding each frame once, counting it, noting DNS answers and sorting each
//!   TCP packet's decoded fields by owner as an `Item` whose payload stays in the block; blocks
//!   are committed in file order (counts and DNS answers take effect, see
//!   [`crate::intel::dnsmap`]); then every worker processes its own items. A file can wait, so
//!   nothing is ever dropped. The only worker processes each frame as its walk finds it, with no
//!   hand-off at all.
//! - Replay shards each frame by a symmetric hash of its address pair (IP fragments carry no
//!   ports).
//! - Live capture: each worker reads its own capture of every interface, the kernel sharing
//!   each interface's packets among them by a symmetric hash of the flow (see
//!   [`crate::capture::live::open_shared`]): nothing is handed over, and the workers scale like
//!   separate sensors. Where the kernel cannot share (or with `--no-fanout`), one reader reads
//!   every interface, decodes each frame once and sends its worker the decoded TCP fields and
//!   the payload, copied once into a recycled batch buffer (a fragment goes whole, for the
//!   worker's defragmenter; UDP stops at the reader). An interface cannot wait, so the reader
//!   never blocks and counts every batch it has to drop (`dispatch_dropped`), next to the
//!   kernel's own drops. A thread reading several interfaces reads them in time order (see
//!   [`crate::capture::live::LiveSet`]).
//!
//! One collector thread owns the sink (every output, see [`crate::output::Outputs`]). Workers
//! and readers send it records and, now and then, a copy of their counters; the collector writes
//! alerts, sums the counters into `stats` records, and returns the totals at the end, so every
//! counter is summed in one place.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};

use crate::capture::file::{Guess, Resume, Stitcher};
use crate::capture::live::{KernelStats, LiveSet, LiveSource};
use crate::capture::shared::{Block, BlockWorker, SharedInput};
use crate::capture::shunt::{Shunt, ELEPHANT_FRAMES};
use crate::capture::{open_input, Frame};
use crate::config::Config;
use crate::decode::{self, LinkType, Packet, Skip, TcpInfo, Transport};
use crate::flow::defrag::{DefragLimits, Defragmenter};
use crate::hosts::HostTable;
use crate::inspect::FlowTable;
use crate::intel::{Intel, ListFiles, Reloader};
use crate::metrics::{Published, Snapshot};
use crate::output::{Sink, StatsRecord};
use crate::stats::{Counters, Load};
use crate::time::{now, Ts};
use crate::verdict::Event;

/// Records waiting for the collector. Alerts are rare, so this only fills when the sink stalls.
const RECORD_QUEUE: usize = 4096;
/// Batches in flight to each worker (live capture).
const WORKER_QUEUE: usize = 64;
/// Frames per batch, and the batch buffer size that also closes a batch.
const BATCH_FRAMES: usize = 256;
const BATCH_BYTES: usize = 512 * 1024;
/// How often (in packet time) a replaying worker ends idle flows and reports its counters.
const REPLAY_TICK_US: i64 = 5_000_000;
/// How often the collector refreshes the metrics endpoint's copy when no counters arrive.
const PUBLISH_EVERY: Duration = Duration::from_millis(500);
/// How often a live reader flushes partial batches, ticks the workers and reports its counters.
const LIVE_TICK: Duration = Duration::from_secs(1);

/// What a run is given besides its inputs.
pub struct RunOptions {
    pub cfg: Config,
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

/// What the collector hands back: summed counters, kernel stats, the sink's first error.
type Collected = (Counters, Vec<(String, KernelStats)>, Option<String>);

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
}

/// What a frame is.
enum Class<'a> {
    Packet(Packet<'a>),
    /// An IP fragment between these addresses: the worker puts its datagram back together.
    Fragment(IpAddr, IpAddr),
    /// Counted and dropped (`Skip::Fragment`: a fragment whose addresses do not parse).
    Skip(Skip),
}

/// Decodes a frame; anything that is not TCP or UDP over IP (or a fragment of it) is skipped.
fn classify<'a>(link: LinkType, data: &'a [u8]) -> Class<'a> {
    match decode::decode(link, data) {
        Ok(p) => Class::Packet(p),
        Err(Skip::Fragment) => match decode::fragment(link, data) {
            Some(f) => Class::Fragment(f.src, f.dst),
            None => Class::Skip(Skip::Fragment),
        },
        Err(skip) => Class::Skip(skip),
    }
}

/// Counts a frame by what it is.
fn count(class: &Class<'_>, frame: &Frame<'_>, c: &mut Counters) {
    c.packets += 1;
    c.bytes += frame.data.len() as u64;
    match class {
        Class::Packet(_) => {}
        Class::Fragment(..) => c.fragments += 1,
        Class::Skip(Skip::Truncated) => c.truncated += 1,
        Class::Skip(Skip::Malformed) => c.malformed += 1,
        Class::Skip(Skip::NotTcpUdp) => c.not_tcp_udp += 1,
        Class::Skip(Skip::Fragment) => {
            c.fragments += 1;
            c.malformed += 1;
        }
    }
}

/// The same for both directions: the sum of the two addresses (folded to 64 bits) is symmetric,
/// and a multiplicative hash spreads it. Runs once per frame on the replay's walk, where
/// hashing both `IpAddr`s with a general hasher cost about a twentieth of a 2-worker replay.
fn shard(src: IpAddr, dst: IpAddr, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    fn fold(a: IpAddr) -> u64 {
        match a {
            IpAddr::V4(v4) => u64::from(u32::from(v4)),
            IpAddr::V6(v6) => {
                let x = u128::from(v6);
                (x as u64) ^ ((x >> 64) as u64).rotate_left(17)
            }
        }
    }
    let h = fold(src).wrapping_add(fold(dst)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // The high bits are the well-mixed ones: map them onto 0..n without a division.
    (((h >> 32) * n as u64) >> 32) as usize
}

/// One worker's state: its flow table, and where its records go.
struct Worker {
    id: usize,
    table: FlowTable,
    defrag: Defragmenter,
    hosts: Arc<HostTable>,
    records: Sender<Record>,
    own: Counters,
    /// Replay: the packet time of the next tick, and the latest packet time seen.
    next_tick: Option<Ts>,
    last_ts: Ts,
}

impl Worker {
    fn new(
        id: usize,
        cfg: &Config,
        intel: &Arc<Intel>,
        hosts: Arc<HostTable>,
        records: Sender<Record>,
    ) -> Worker {
        Worker {
            id,
            table: FlowTable::new(cfg.flow, cfg.home_net.clone()).with_intel(intel.clone()),
            defrag: Defragmenter::new(DefragLimits::default()),
            hosts,
            records,
            own: Counters::default(),
            next_tick: None,
            last_ts: Ts::default(),
        }
    }

    /// Replay: packet time has reached `ts`; every [`REPLAY_TICK_US`] of it, idle flows end and
    /// the counters go to the collector.
    fn clock(&mut self, ts: Ts) {
        self.last_ts = self.last_ts.max(ts);
        match self.next_tick {
            Some(t) if ts < t => {}
            Some(_) => {
                self.tick(ts);
                self.next_tick = Some(Ts(ts.0.saturating_add(REPLAY_TICK_US)));
            }
            None => self.next_tick = Some(Ts(ts.0.saturating_add(REPLAY_TICK_US))),
        }
    }

    fn packet(&mut self, pkt: &Packet<'_>, ts: Ts) {
        let Worker { table, hosts, records, own, .. } = self;
        match pkt.transport {
            Transport::Tcp(tcp) => {
                own.tcp_packets += 1;
                table.tcp(pkt, &tcp, ts, &mut |ev| deliver(hosts, records, own, ev));
            }
            Transport::Udp => own.udp_packets += 1,
        }
    }

    /// One item handed over, with its bytes.
    fn item(&mut self, item: &Item, bytes: &[u8]) {
        match *item {
            Item::Tcp { ts, src, dst, src_port, dst_port, tcp, .. } => {
                let transport = Transport::Tcp(tcp);
                let pkt = Packet { src, dst, src_port, dst_port, transport, payload: bytes };
                self.packet(&pkt, ts);
            }
            Item::Fragment { ts, link, .. } => self.fragment(link, bytes, ts),
        }
    }

    /// An IP fragment: held until its datagram is whole, which then goes on as a packet.
    fn fragment(&mut self, link: LinkType, frame: &[u8], ts: Ts) {
        let Some(f) = decode::fragment(link, frame) else { return };
        let Some(dg) = self.defrag.add(&f, ts, &mut self.own) else { return };
        match decode::transport(dg.src, dg.dst, dg.proto, &dg.payload) {
            Ok(pkt) => self.packet(&pkt, ts),
            Err(_) => self.own.malformed += 1,
        }
    }

    fn tick(&mut self, now: Ts) {
        self.defrag.expire(now, &mut self.own);
        let Worker { table, hosts, records, own, .. } = self;
        table.recheck_names(now, &mut |ev| deliver(hosts, records, own, ev));
        table.expire(now, &mut |ev| deliver(hosts, records, own, ev));
        self.report();
    }

    /// TLS flows waiting for a name are looked up again when the DNS map has learnt something
    /// (live: another worker may read the answer after this one read the ClientHello).
    /// Not in replay, where the map is written in file order and a flow's own packets and the
    /// ticks of packet time look it up again, deterministically.
    fn recheck_names(&mut self) {
        if self.table.names_news() {
            let Worker { table, hosts, records, own, .. } = self;
            table.recheck_names(now(), &mut |ev| deliver(hosts, records, own, ev));
        }
    }

    fn flush(&mut self) {
        let Worker { table, hosts, records, own, .. } = self;
        table.flush_all(&mut |ev| deliver(hosts, records, own, ev));
    }

    fn counters(&self) -> Counters {
        let mut c = self.table.counters;
        c.add(&self.own);
        c
    }

    fn report(&self) {
        self.report_with(Vec::new());
    }

    /// Sends the counters, and those of the worker's own captures (live, one per interface).
    fn report_with(&self, kernel: Vec<(String, KernelStats)>) {
        let load = Load {
            flows: self.table.len() as u64,
            flow_memory: self.table.memory() as u64,
            flow_memcap: self.table.memcap() as u64,
            worker_queue: 0,
        };
        let _ = self.records.send(Record::Counters {
            reporter: self.id,
            counters: self.counters(),
            kernel,
            load,
        });
    }

    /// A frame read in order by the worker that owns it: the only replay worker, or a live
    /// worker reading its own captures.
    fn frame(&mut self, link: LinkType, frame: &Frame<'_>, intel: &Intel) {
        let class = classify(link, frame.data);
        count(&class, frame, &mut self.own);
        match class {
            Class::Packet(pkt) => {
                intel.udp(&pkt, frame.ts, &mut self.own);
                self.packet(&pkt, frame.ts);
            }
            Class::Fragment(..) => self.fragment(link, frame.data, frame.ts),
            Class::Skip(_) => {}
        }
    }
}

fn deliver(hosts: &HostTable, records: &Sender<Record>, own: &mut Counters, ev: Event) {
    if !hosts.record(&ev) {
        own.hosts_table_full += 1;
    }
    if records.send(Record::Event(ev)).is_err() {
        own.events_dropped += 1;
    }
}

/// What a worker is handed for one frame, by a live reader or by a replay's walk.
#[derive(Clone, Copy, Debug)]
enum Item {
    /// A TCP packet already decoded: its fields, and its payload at `data[off..off + len]`. The
    /// worker does not decode it again (nor touch the frame's headers: on a bypassed flow it
    /// never touches the frame at all).
    Tcp { ts: Ts, src: IpAddr, dst: IpAddr, src_port: u16, dst_port: u16, tcp: TcpInfo, off: u32, len: u32 },
    /// An IP fragment, whole frame at `data[off..off + len]`, for the worker's defragmenter.
    Fragment { ts: Ts, link: LinkType, off: u32, len: u32 },
}

impl Item {
    fn ts(&self) -> Ts {
        match *self {
            Item::Tcp { ts, .. } | Item::Fragment { ts, .. } => ts,
        }
    }

    fn bytes(&self) -> (u32, u32) {
        match *self {
            Item::Tcp { off, len, .. } | Item::Fragment { off, len, .. } => (off, len),
        }
    }

    /// The item for a TCP packet whose payload is at `off`.
    fn tcp(pkt: &Packet<'_>, tcp: TcpInfo, ts: Ts, off: u32) -> Item {
        let (src, dst, src_port, dst_port) = (pkt.src, pkt.dst, pkt.src_port, pkt.dst_port);
        Item::Tcp { ts, src, dst, src_port, dst_port, tcp, off, len: pkt.payload.len() as u32 }
    }
}

/// The `len` bytes at `off` in `data` (none if they are not all there).
fn span(data: &[u8], off: u32, len: u32) -> &[u8] {
    let off = off as usize;
    data.get(off..off.saturating_add(len as usize)).unwrap_or_default()
}

/// A batch of frames for one worker, in one buffer.
struct Batch {
    data: Vec<u8>,
    items: Vec<Item>,
}

impl Batch {
    fn new() -> Batch {
        Batch { data: Vec::with_capacity(BATCH_BYTES), items: Vec::with_capacity(BATCH_FRAMES) }
    }
}

enum Msg {
    Batch(Batch),
    /// Time passes (live capture): end idle flows and report counters.
    Tick(Ts),
}

fn worker_loop(mut w: Worker, rx: Receiver<Msg>, recycle: Sender<Batch>) {
    for msg in rx {
        match msg {
            Msg::Batch(mut b) => {
                for item in &b.items {
                    let (off, len) = item.bytes();
                    w.item(item, span(&b.data, off, len));
                }
                b.data.clear();
                b.items.clear();
                let _ = recycle.try_send(b);
            }
            Msg::Tick(now) => w.tick(now),
        }
    }
    w.flush();
    w.report();
}

/// The worker threads and what feeds them.
#[derive(Clone)]
struct Workers {
    txs: Vec<Sender<Msg>>,
    recycled: Receiver<Batch>,
}

/// One reader's view of the workers: its own partial batches.
struct Dispatcher {
    workers: Workers,
    pending: Vec<Option<Batch>>,
}

impl Dispatcher {
    fn new(workers: Workers) -> Dispatcher {
        let n = workers.txs.len();
        Dispatcher { workers, pending: (0..n).map(|_| None).collect() }
    }

    /// Never blocks: a full worker queue drops the batch, counted.
    fn send(&self, i: usize, msg: Msg, c: &mut Counters) {
        let Some(tx) = self.workers.txs.get(i) else { return };
        if let Err(TrySendError::Full(Msg::Batch(b))) = tx.try_send(msg) {
            c.dispatch_dropped += b.items.len() as u64;
        }
    }

    /// Hands a decoded packet to its worker. UDP goes no further than the reader (DNS answers
    /// were read there); only a TCP packet's payload is copied.
    fn packet(&mut self, pkt: &Packet<'_>, ts: Ts, c: &mut Counters) {
        let Transport::Tcp(tcp) = pkt.transport else {
            c.udp_packets += 1;
            return;
        };
        self.push(pkt.src, pkt.dst, pkt.payload, c, |off, _| Item::tcp(pkt, tcp, ts, off));
    }

    /// Hands an IP fragment, whole frame, to the worker of its address pair.
    fn fragment(&mut self, link: LinkType, src: IpAddr, dst: IpAddr, frame: &Frame<'_>, c: &mut Counters) {
        let ts = frame.ts;
        self.push(src, dst, frame.data, c, |off, len| Item::Fragment { ts, link, off, len });
    }

    /// Appends `bytes` and the item describing them to the batch of `src`/`dst`'s worker.
    fn push(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        bytes: &[u8],
        c: &mut Counters,
        item: impl FnOnce(u32, u32) -> Item,
    ) {
        let i = shard(src, dst, self.workers.txs.len());
        let Some(slot) = self.pending.get_mut(i) else { return };
        let recycled = &self.workers.recycled;
        let batch = slot.get_or_insert_with(|| recycled.try_recv().unwrap_or_else(|_| Batch::new()));
        let off = batch.data.len() as u32;
        batch.data.extend_from_slice(bytes);
        batch.items.push(item(off, bytes.len() as u32));
        if batch.items.len() >= BATCH_FRAMES || batch.data.len() >= BATCH_BYTES {
            if let Some(b) = slot.take() {
                self.send(i, Msg::Batch(b), c);
            }
        }
    }

    /// Hands out every partial batch.
    fn flush_batches(&mut self, c: &mut Counters) {
        for i in 0..self.pending.len() {
            if let Some(b) = self.pending.get_mut(i).and_then(Option::take) {
                self.send(i, Msg::Batch(b), c);
            }
        }
    }

    /// The messages waiting in the workers' queues, for the metrics endpoint.
    fn load(&self) -> Load {
        Load { worker_queue: self.workers.txs.iter().map(|t| t.len() as u64).sum(), ..Load::default() }
    }

    fn broadcast(&mut self, msg: impl Fn() -> Msg, c: &mut Counters) {
        self.flush_batches(c);
        for tx in &self.workers.txs {
            // Control messages are never dropped: they are rare and carry the session ends.
            let _ = tx.send(msg());
        }
    }
}

/// Spawns `n` workers; returns their feed and their handles.
fn spawn_workers(
    n: usize,
    cfg: &Config,
    intel: &Arc<Intel>,
    hosts: &Arc<HostTable>,
    records: &Sender<Record>,
    stop: &Arc<AtomicBool>,
) -> (Workers, Vec<thread::JoinHandle<()>>) {
    let (rec_tx, rec_rx) = bounded::<Batch>(n * WORKER_QUEUE);
    let mut txs = Vec::new();
    let mut handles = Vec::new();
    for id in 0..n {
        let (tx, rx) = bounded::<Msg>(WORKER_QUEUE);
        let w = Worker::new(id, cfg, intel, hosts.clone(), records.clone());
        let recycle = rec_tx.clone();
        let stop = StopOnPanic(stop.clone());
        handles.push(thread::spawn(move || {
            let _stop = stop;
            worker_loop(w, rx, recycle);
        }));
        txs.push(tx);
    }
    (Workers { txs, recycled: rec_rx }, handles)
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

/// Progress reporting hook: called with bytes of input consumed.
pub trait Progress {
    fn advance(&self, bytes: u64);
}

impl Progress for indicatif::ProgressBar {
    fn advance(&self, bytes: u64) {
        self.inc(bytes);
    }
}

/// Replays every capture file in `paths`, in order, into `sink`. Each file's sessions end with
/// the file.
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
    let collector = thread::spawn(move || collect(sink, rec_rx, None, reopen, reloader, published));
    let n = opts.workers.max(1);
    let intel = Arc::new(Intel::shared(opts.cfg.pools.clone()));
    let mut workers: Vec<Worker> =
        (0..n).map(|me| Worker::new(me, &opts.cfg, &intel, hosts.clone(), rec_tx.clone())).collect();
    let mut input_errors = Vec::new();
    for path in paths {
        if opts.stop.load(Ordering::Relaxed) {
            break;
        }
        let input = match open_input(path) {
            Ok(i) => SharedInput::new(i, n, opts.stop.clone()),
            Err(reason) => {
                input_errors.push((path.clone(), reason));
                continue;
            }
        };
        let failed = replay_input(&mut workers, &input, &intel, progress);
        if let Some(reason) = input.error() {
            input_errors.push((path.clone(), reason));
        }
        if !failed.is_empty() {
            // A worker that panicked left its flows half-inspected: stop here, say so.
            input_errors.extend(failed.into_iter().map(worker_failed));
            break;
        }
    }
    let mut last_ts = Ts::default();
    for w in &workers {
        w.report();
        last_ts = last_ts.max(w.last_ts);
    }
    drop(workers);
    if opts.stats_interval.is_some() {
        let _ = rec_tx.send(Record::StatsNow(last_ts));
    }
    drop(rec_tx);
    finish(collector, input_errors)
}

/// What a walk makes of some frames of a block: each worker's items, in order. An item's bytes
/// are in the block, or past its end in `bridge`. Nothing in it has taken effect yet: a walk
/// begun on a guess may be thrown away (see [`crate::capture::file::Guess`]).
#[derive(Default)]
struct Sorted {
    owned: Vec<Vec<Item>>,
    /// Frames that straddled the previous block's end, put back together.
    bridge: Vec<u8>,
    /// The first and the latest packet time: every worker's clock, frames or not.
    first_ts: Option<Ts>,
    last_ts: Ts,
    /// The frames' counts, added to the counters of the worker that walks the block for sure.
    counters: Counters,
    /// UDP datagrams from port 53, read into the shared DNS map (in file order) when the block
    /// is walked for sure.
    answers: Vec<Answer>,
}

/// A UDP datagram from port 53, its payload at `off` like an [`Item`]'s.
struct Answer {
    ts: Ts,
    src: IpAddr,
    dst: IpAddr,
    dst_port: u16,
    off: u32,
    len: u32,
}

impl Sorted {
    /// For `n` workers, about `frames` of them each.
    fn new(n: usize, frames: usize) -> Sorted {
        // (Not `vec![...; n]`: a cloned `Vec` does not keep the capacity.)
        let owned = (0..n).map(|_| Vec::with_capacity(frames)).collect();
        Sorted { owned, ..Sorted::default() }
    }

    /// Decodes a frame once, counts it, keeps it if it is a DNS answer, and hands a TCP packet or
    /// a fragment to its owner as an [`Item`]. Frames in `block` stay there; others (put back
    /// together from two blocks) are copied into the bridge.
    fn frame(&mut self, link: LinkType, frame: &Frame<'_>, block: &[u8]) {
        self.first_ts.get_or_insert(frame.ts);
        self.last_ts = self.last_ts.max(frame.ts);
        let class = classify(link, frame.data);
        count(&class, frame, &mut self.counters);
        let (base, block_len) = (block.as_ptr() as usize, block.len());
        let mut place = |bytes: &[u8]| -> u32 {
            let in_block =
                (bytes.as_ptr() as usize).checked_sub(base).filter(|off| off + bytes.len() <= block_len);
            match in_block {
                Some(off) => off as u32,
                None => {
                    self.bridge.extend_from_slice(bytes);
                    (block_len + self.bridge.len() - bytes.len()) as u32
                }
            }
        };
        let n = self.owned.len();
        let (owner, item) = match class {
            Class::Packet(pkt) => match pkt.transport {
                Transport::Tcp(tcp) => {
                    let off = place(pkt.payload);
                    (shard(pkt.src, pkt.dst, n), Item::tcp(&pkt, tcp, frame.ts, off))
                }
                Transport::Udp => {
                    // UDP goes no further than the walk.
                    self.counters.udp_packets += 1;
                    if pkt.src_port == 53 {
                        let (ts, src, dst, dst_port) = (frame.ts, pkt.src, pkt.dst, pkt.dst_port);
                        let (off, len) = (place(pkt.payload), pkt.payload.len() as u32);
                        self.answers.push(Answer { ts, src, dst, dst_port, off, len });
                    }
                    return;
                }
            },
            Class::Fragment(src, dst) => {
                let off = place(frame.data);
                let len = frame.data.len() as u32;
                (shard(src, dst, n), Item::Fragment { ts: frame.ts, link, off, len })
            }
            Class::Skip(_) => return,
        };
        if let Some(list) = self.owned.get_mut(owner) {
            list.push(item);
        }
    }

    /// The bytes at `off` (in `block`, or in the bridge past its end).
    fn bytes<'a>(&'a self, block: &'a [u8], off: u32, len: u32) -> &'a [u8] {
        match (off as usize).checked_sub(block.len()) {
            Some(b) => span(&self.bridge, b as u32, len),
            None => span(block, off, len),
        }
    }

    /// The walk is confirmed: its counts and DNS answers take effect, on worker `w`.
    fn settle(&self, w: &mut Worker, intel: &Intel, block: &[u8]) {
        w.own.add(&self.counters);
        for a in &self.answers {
            let payload = self.bytes(block, a.off, a.len);
            let (src, dst, dst_port) = (a.src, a.dst, a.dst_port);
            let pkt = Packet { src, dst, src_port: 53, dst_port, transport: Transport::Udp, payload };
            intel.udp(&pkt, a.ts, &mut w.own);
        }
    }

    /// Worker `me` processes its items.
    fn process(&self, w: &mut Worker, me: usize, block: &[u8]) {
        if let Some(t) = self.first_ts {
            w.clock(t);
        }
        for item in self.owned.get(me).map(Vec::as_slice).unwrap_or_default() {
            w.clock(item.ts());
            let (off, len) = item.bytes();
            w.item(item, self.bytes(block, off, len));
        }
        w.clock(self.last_ts);
    }
}

/// A block walked for sure: the frames walked in order (the record cut by the previous block's
/// end; the whole block if its guess was wrong), then those of its guess, if it was right.
#[derive(Default)]
struct Product {
    lead: Sorted,
    body: Option<Sorted>,
}

/// A worker's part in a shared replay: shard `me` of `n`.
struct Replayer<'a> {
    w: &'a mut Worker,
    me: usize,
    n: usize,
    intel: &'a Intel,
}

impl BlockWorker<Product, (Guess, Sorted)> for Replayer<'_> {
    /// Sorts the frames of a block this worker has just read, beginning on a guess. The only
    /// worker guesses nothing: it walks and processes each block at once, in order.
    fn guess(&mut self, block: &Block, from: &Resume) -> Option<(Guess, Sorted)> {
        if self.n <= 1 {
            return None;
        }
        let data = &block.data;
        let mut out = Sorted::new(self.n, data.len() / 512 / self.n + 16);
        let guess = from.guess(data, &mut |link, frame| out.frame(link, frame, data))?;
        Some((guess, out))
    }

    /// Walks a block in file order, so that every count and DNS answer (see intel::dnsmap)
    /// takes effect before any worker processes its frames; with a right guess only the record
    /// cut by the previous block's end is left to walk.
    fn commit(
        &mut self,
        block: &Block,
        stitcher: &mut Stitcher,
        guess: Option<(Guess, Sorted)>,
    ) -> (Product, Result<(), String>) {
        let Replayer { w, n, intel, .. } = self;
        if *n <= 1 {
            // The only worker: no hand-over.
            let result = stitcher.feed(&block.data, block.eof, &mut |link, frame| {
                w.clock(frame.ts);
                w.frame(link, frame, intel);
            });
            return (Product::default(), result);
        }
        let (guess, body) = guess.unzip();
        let data = &block.data;
        let mut lead = Sorted::new(*n, 0);
        let (taken, result) =
            stitcher.feed_guessed(data, block.eof, guess, &mut |link, frame| lead.frame(link, frame, data));
        let body = body.filter(|_| taken);
        lead.settle(w, intel, data);
        if let Some(b) = &body {
            b.settle(w, intel, data);
        }
        (Product { lead, body }, result)
    }

    fn process(&mut self, block: &Block, p: &Product) {
        for part in std::iter::once(&p.lead).chain(&p.body) {
            part.process(self.w, self.me, &block.data);
        }
    }
}

/// Every worker replays `input`, the first one on this thread, and ends every session at its
/// end. Returns the workers that panicked.
fn replay_input(
    workers: &mut [Worker],
    input: &SharedInput<Product, (Guess, Sorted)>,
    intel: &Intel,
    progress: Option<&dyn Progress>,
) -> Vec<usize> {
    let n = workers.len();
    let Some((first, rest)) = workers.split_first_mut() else { return Vec::new() };
    thread::scope(|s| {
        let handles: Vec<_> = rest
            .iter_mut()
            .enumerate()
            .map(|(i, w)| {
                s.spawn(move || {
                    input.run(i + 1, &mut Replayer { w, me: i + 1, n, intel }, &mut |_| {});
                    w.flush();
                })
            })
            .collect();
        let mut reported = 0;
        let mut advance = |input: &SharedInput<Product, (Guess, Sorted)>| {
            if let Some(p) = progress {
                let read = input.bytes_read();
                p.advance(read.saturating_sub(reported));
                reported = read;
            }
        };
        let own = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            input.run(0, &mut Replayer { w: first, me: 0, n, intel }, &mut advance);
            first.flush();
        }));
        let mut failed = Vec::new();
        if own.is_err() {
            failed.push(0);
        }
        for (i, h) in handles.into_iter().enumerate() {
            if h.join().is_err() {
                failed.push(i + 1);
            }
        }
        failed
    })
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

/// Waits for the workers (see [`worker_failed`]).
fn join_workers(handles: Vec<thread::JoinHandle<()>>, errors: &mut Vec<(String, String)>) {
    for (i, h) in handles.into_iter().enumerate() {
        if h.join().is_err() {
            errors.push(worker_failed(i));
        }
    }
}

fn finish(collector: thread::JoinHandle<Collected>, input_errors: Vec<(String, String)>) -> Report {
    let (counters, kernel, output_error) = collector
        .join()
        .unwrap_or_else(|_| (Counters::default(), Vec::new(), Some("output thread failed".into())));
    Report { counters, kernel, input_errors, output_error }
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
    let collector = thread::spawn(move || collect(sink, rec_rx, interval, reopen, reloader, published));
    let n = opts.workers.max(1);
    let intel = Arc::new(Intel::shared(opts.cfg.pools.clone()));
    let mut input_errors = Vec::new();
    if shared_by_kernel(&sources, n) {
        // Worker `w` reads capture `w` of every interface: the `w`-th member of each fanout
        // group (they joined in order). The kernel's hash is the same in every group and both
        // ways, so a connection whose directions come in on two interfaces still meets on one
        // worker (the split-tap tests check it).
        let mut own: Vec<Vec<LiveSource>> = (0..n).map(|_| Vec::new()).collect();
        for caps in sources {
            for (w, cap) in caps.into_iter().enumerate() {
                if let Some(o) = own.get_mut(w) {
                    o.push(cap);
                }
            }
        }
        let mut cfg = opts.cfg.clone();
        if opts.shunt > 0 {
            cfg.flow.elephant_frames = ELEPHANT_FRAMES;
        }
        let handles: Vec<_> = own
            .into_iter()
            .enumerate()
            .map(|(id, caps)| {
                let w = Worker::new(id, &cfg, &intel, hosts.clone(), rec_tx.clone());
                let (intel, stop) = (intel.clone(), opts.stop.clone());
                let on_panic = StopOnPanic(stop.clone());
                let shunt = Shunt::new(opts.shunt);
                thread::spawn(move || {
                    let _stop = on_panic;
                    capture_own(w, caps, shunt, &intel, &stop)
                })
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            match h.join() {
                Ok(failed) => {
                    for f in failed {
                        if !input_errors.contains(&f) {
                            input_errors.push(f);
                        }
                    }
                }
                Err(_) => input_errors.push(worker_failed(i)),
            }
        }
    } else {
        dispatch_live(sources, n, opts, &intel, &hosts, &rec_tx, &mut input_errors);
    }
    if opts.stats_interval.is_some() {
        let _ = rec_tx.send(Record::StatsNow(now()));
    }
    drop(rec_tx);
    finish(collector, input_errors)
}

/// A live worker reading its own captures (one per interface, in time order): no reader
/// thread, no hand-over. It has the kernel drop the elephant flows it bypassed, on its own
/// captures (see [`crate::capture::shunt`]). Returns the interfaces that failed.
fn capture_own(
    mut w: Worker,
    caps: Vec<LiveSource>,
    mut shunt: Shunt,
    intel: &Intel,
    stop: &AtomicBool,
) -> Vec<(String, String)> {
    let (mut set, mut failed) = LiveSet::new(caps);
    let mut clock = Clock::new();
    while !set.ended() && !stop.load(Ordering::Relaxed) {
        let got = set.pump(&mut |link, frame| w.frame(link, frame, intel));
        w.recheck_names();
        let tick = clock.due(got);
        if shunt.is_on() && (tick || shunt.pending() || w.table.elephant_news()) {
            update_shunt(&mut w, &mut shunt, &set);
        }
        if tick {
            w.tick(now());
            w.report_with(set.stats());
        }
    }
    set.flush(&mut |link, frame| w.frame(link, frame, intel));
    w.flush();
    w.report_with(set.stats());
    failed.extend(set.failures());
    failed
}

/// Hands the shunt the flow table's news and rebuilds the captures' filter when it is due.
fn update_shunt(w: &mut Worker, shunt: &mut Shunt, set: &LiveSet) {
    let t = Instant::now();
    shunt.update(&mut w.table, t, &mut w.own);
    if !shunt.due(t) {
        return;
    }
    let result = set.shunt(&shunt.flows());
    if let Some(e) = shunt.applied(result, t, &mut w.own) {
        eprintln!("minewatch: worker {}: elephant flows are no longer shunted: {e}", w.id);
        // Back to the user's filter alone, so that no flow stays dropped.
        if let Err(e) = set.shunt(&[]) {
            eprintln!("minewatch: worker {}: {e}", w.id);
        }
    }
}

/// When a live loop looks at the clock: on every pass that read nothing, and every thousand
/// frames or so; it is due every [`LIVE_TICK`].
struct Clock {
    next: Instant,
    since: usize,
}

impl Clock {
    fn new() -> Clock {
        Clock { next: Instant::now() + LIVE_TICK, since: 0 }
    }

    /// After a pass that read `got` frames: whether a tick is due.
    fn due(&mut self, got: usize) -> bool {
        self.since += got + 1;
        if got > 0 && self.since < 1024 {
            return false;
        }
        self.since = 0;
        if Instant::now() < self.next {
            return false;
        }
        self.next = Instant::now() + LIVE_TICK;
        true
    }
}

/// Live capture when the kernel cannot share an interface among the workers: one reader reads
/// every interface (in time order, see [`LiveSet`]), decodes each frame and hands it to its
/// worker.
fn dispatch_live(
    sources: Vec<Vec<LiveSource>>,
    n: usize,
    opts: &RunOptions,
    intel: &Arc<Intel>,
    hosts: &Arc<HostTable>,
    rec_tx: &Sender<Record>,
    input_errors: &mut Vec<(String, String)>,
) {
    let (workers, worker_handles) = spawn_workers(n, &opts.cfg, intel, hosts, rec_tx, &opts.stop);
    let caps: Vec<LiveSource> = sources.into_iter().filter_map(|s| s.into_iter().next()).collect();
    let d = Dispatcher::new(workers);
    let (records, stop, intel) = (rec_tx.clone(), opts.stop.clone(), intel.clone());
    let reader = thread::spawn(move || read_live(caps, d, n, &intel, records, stop));
    match reader.join() {
        Ok(failed) => input_errors.extend(failed),
        Err(_) => input_errors.push(("reader".to_string(), "internal error: the reader stopped".to_string())),
    }
    join_workers(worker_handles, input_errors);
}

/// The reader loop. Returns the interfaces that failed.
fn read_live(
    caps: Vec<LiveSource>,
    mut d: Dispatcher,
    reporter: usize,
    intel: &Intel,
    records: Sender<Record>,
    stop: Arc<AtomicBool>,
) -> Vec<(String, String)> {
    let (mut set, mut failed) = LiveSet::new(caps);
    let mut c = Counters::default();
    let mut clock = Clock::new();
    let read = |link: LinkType, frame: &Frame<'_>, d: &mut Dispatcher, c: &mut Counters| {
        let class = classify(link, frame.data);
        count(&class, frame, c);
        match class {
            Class::Packet(pkt) => {
                intel.udp(&pkt, frame.ts, c);
                d.packet(&pkt, frame.ts, c)
            }
            Class::Fragment(src, dst) => d.fragment(link, src, dst, frame, c),
            Class::Skip(_) => {}
        }
    };
    while !set.ended() && !stop.load(Ordering::Relaxed) {
        let got = set.pump(&mut |link, frame| read(link, frame, &mut d, &mut c));
        if clock.due(got) {
            let t = now();
            d.broadcast(|| Msg::Tick(t), &mut c);
            let load = d.load();
            let _ = records.send(Record::Counters { reporter, counters: c, kernel: set.stats(), load });
        }
    }
    set.flush(&mut |link, frame| read(link, frame, &mut d, &mut c));
    d.flush_batches(&mut c);
    let load = d.load();
    let _ = records.send(Record::Counters { reporter, counters: c, kernel: set.stats(), load });
    failed.extend(set.failures());
    failed
}

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
/// a second per reporter on a live capture; never per packet). Returns the summed counters, the
/// kernel stats and the sink's first error.
fn collect(
    mut sink: Sink,
    rx: Receiver<Record>,
    interval: Option<Duration>,
    reopen: Arc<AtomicBool>,
    mut reloader: Option<Reloader>,
    published: Option<Arc<Published>>,
) -> Collected {
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
            Ok(Record::Event(ev)) => write(&mut sink, |s| s.write(&ev), &mut err),
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
    }
    write(&mut sink, |s| s.flush(), &mut err);
    // Network outputs deliver, spool or count what they still hold; then the counters are final.
    sink.close();
    if let Some(p) = &published {
        p.publish(snapshot(&latest, &loads, &kernel, &sink, &own, 0));
    }
    (sum(&latest, &sink, &own), kernel, err)
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

    #[test]
    fn shard_is_symmetric_and_in_range() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "198.51.100.9".parse().unwrap();
        for n in 1..8 {
            assert_eq!(shard(a, b, n), shard(b, a, n));
            assert!(shard(a, b, n) < n);
        }
    }

    #[test]
    fn shard_spreads_address_pairs_evenly() {
        // Internal hosts talking to servers, v4 and v6: every worker gets its share within 15%.
        for n in 2..=8 {
            let mut load = vec![0u32; n];
            for i in 0..20_000u32 {
                let (a, b): (IpAddr, IpAddr) = if i % 4 == 0 {
                    let c = std::net::Ipv6Addr::new(0xfd00, 0x10, 0, 0, 0, 0, 0, (i % 997) as u16);
                    let s = std::net::Ipv6Addr::new(0x2001, 0xdb8, 0x443, 0, 0, 0, 0, (i / 7) as u16);
                    (c.into(), s.into())
                } else {
                    let c = std::net::Ipv4Addr::from(0x0a00_0000 + (i % 1000));
                    let s = std::net::Ipv4Addr::from(0xc612_0000 + (i * 7919) % 65_536);
                    (c.into(), s.into())
                };
                load[shard(a, b, n)] += 1;
            }
            let fair = 20_000.0 / n as f64;
            for (w, &l) in load.iter().enumerate() {
                assert!((f64::from(l) - fair).abs() < fair * 0.15, "{n} workers: worker {w} got {l}");
            }
        }
    }
}
