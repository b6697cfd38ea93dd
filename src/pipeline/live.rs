//! Live capture set-ups. With the kernel sharing each interface among the workers
//! ([`capture_shared`]), each worker reads its own captures and has the kernel drop its
//! elephant flows; otherwise one reader reads every interface and hands each frame to its worker
//! in batches ([`dispatch_live`]), never blocking.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

use super::front::{datagram, front, shard, Route};
use super::worker::{span, Item, Worker};
use super::{worker_failed, Record, RunOptions, StopOnPanic};
use crate::capture::live::{LiveSet, LiveSource};
use crate::capture::shunt::{self, Shunt, ELEPHANT_FRAMES};
use crate::capture::Frame;
use crate::decode::{Fragment, LinkType, Packet, TcpInfo};
use crate::flow::defrag::Defragmenter;
use crate::flow::{Elephant, FlowKey};
use crate::hosts::HostTable;
use crate::inspect::FlowTable;
use crate::intel::Intel;
use crate::stats::{Counters, Load};
use crate::time::{now, Ts};

/// Batches in flight to each worker (live capture).
const WORKER_QUEUE: usize = 64;
/// Frames per batch, and the batch buffer size that also closes a batch.
const BATCH_FRAMES: usize = 256;
const BATCH_BYTES: usize = 512 * 1024;
/// How often a live reader flushes partial batches, ticks the workers and reports its counters.
const LIVE_TICK: Duration = Duration::from_secs(1);

/// Every interface has one capture per worker, shared by the kernel: worker `w` reads capture
/// `w` of every interface, the `w`-th member of each fanout group (they joined in order). The
/// kernel's hash is the same in every group and both ways, so a connection whose directions
/// come in on two interfaces still meets on one worker (the split-tap tests check it). Returns
/// when every worker has ended; the interfaces that failed and the workers that panicked go to
/// `input_errors`.
pub(super) fn capture_shared(
    sources: Vec<Vec<LiveSource>>,
    n: usize,
    opts: &RunOptions,
    intel: &Arc<Intel>,
    hosts: &Arc<HostTable>,
    rec_tx: &Sender<Record>,
    input_errors: &mut Vec<(String, String)>,
) {
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
            let w = Worker::new(id, &cfg, intel, hosts.clone(), rec_tx.clone(), opts.evidence.as_ref());
            let stop = opts.stop.clone();
            let on_panic = StopOnPanic(stop.clone());
            let shunt = Shunt::new(opts.shunt);
            thread::spawn(move || {
                let _stop = on_panic;
                capture_own(w, caps, shunt, &stop)
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
}

/// A live worker reading its own captures (one per interface, in time order): no reader
/// thread, no hand-over. It has the kernel drop the elephant flows it bypassed, on its own
/// captures (see [`crate::capture::shunt`]). Returns the interfaces that failed.
fn capture_own(
    mut w: Worker,
    caps: Vec<LiveSource>,
    mut shunt: Shunt<FlowKey>,
    stop: &AtomicBool,
) -> Vec<(String, String)> {
    let (mut set, mut failed) = LiveSet::new(caps);
    let mut clock = Clock::new();
    let mut elephants = Elephants::default();
    while !set.ended() && !stop.load(Ordering::Relaxed) {
        let got = set.pump(&mut |link, frame| w.frame(link, frame));
        w.recheck_names();
        let tick = clock.due(got);
        if shunt.is_on() && (tick || shunt.pending() || w.table.elephant_news()) {
            update_shunt(&mut w, &mut shunt, &mut elephants, &set);
        }
        if tick {
            w.tick(now());
            w.report_with(set.stats());
        }
    }
    set.flush(&mut |link, frame| w.frame(link, frame));
    w.flush();
    w.report_with(set.stats());
    failed.extend(set.failures());
    failed
}

/// What the flow table says of its elephants between two updates of the shunt (kept to reuse
/// the lists' memory).
#[derive(Default)]
struct Elephants {
    found: Vec<Elephant>,
    ended: Vec<FlowKey>,
}

impl Elephants {
    /// Hands the shunt the table's news: the elephants found, and those whose flow ended. The
    /// shunt knows no flow table (capture/ names nothing above it): it is given endpoints and
    /// keys it only compares. A shunt that is off takes nothing (the table bounds its news).
    fn hand_over(
        &mut self,
        table: &mut FlowTable,
        shunt: &mut Shunt<FlowKey>,
        now: Instant,
        c: &mut Counters,
    ) {
        if !shunt.is_on() {
            return;
        }
        table.take_elephants(&mut self.found, &mut self.ended);
        let found = self.found.drain(..).map(|e| shunt::Flow { key: e.key, a: e.a, b: e.b });
        shunt.update(found, self.ended.drain(..), now, c);
    }
}

/// Hands the shunt the flow table's news and rebuilds the captures' filter when it is due.
fn update_shunt(w: &mut Worker, shunt: &mut Shunt<FlowKey>, elephants: &mut Elephants, set: &LiveSet) {
    let t = Instant::now();
    elephants.hand_over(&mut w.table, shunt, t, &mut w.own);
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
pub(super) fn dispatch_live(
    sources: Vec<Vec<LiveSource>>,
    n: usize,
    opts: &RunOptions,
    intel: &Arc<Intel>,
    hosts: &Arc<HostTable>,
    rec_tx: &Sender<Record>,
    input_errors: &mut Vec<(String, String)>,
) {
    let (workers, worker_handles) = spawn_workers(n, opts, intel, hosts, rec_tx);
    let caps: Vec<LiveSource> = sources.into_iter().filter_map(|s| s.into_iter().next()).collect();
    let frames = opts.evidence.is_some();
    let defrag = Defragmenter::new(opts.cfg.defrag);
    let reader =
        Reader { d: Dispatcher::new(workers), c: Counters::default(), intel: intel.clone(), frames, defrag };
    let (records, stop) = (rec_tx.clone(), opts.stop.clone());
    let handle = thread::spawn(move || read_live(caps, reader, n, records, stop));
    match handle.join() {
        Ok(failed) => input_errors.extend(failed),
        Err(_) => input_errors.push(("reader".to_string(), "internal error: the reader stopped".to_string())),
    }
    join_workers(worker_handles, input_errors);
}

/// The reader: the workers' partial batches, its own counters, and where DNS answers go.
struct Reader {
    d: Dispatcher,
    c: Counters,
    intel: Arc<Intel>,
    /// Hand each TCP packet's whole frame to its worker (for the evidence), not its payload.
    frames: bool,
    /// UDP fragments, put together here as they are read (see [`Reader::fragment`]).
    defrag: Defragmenter,
}

/// The reader hands each TCP packet (payload copied) and each fragment (whole frame) to the
/// worker of its address pair, and reads DNS answers itself: UDP goes no further.
impl Route for Reader {
    fn counters(&mut self) -> &mut Counters {
        &mut self.c
    }

    fn tcp(&mut self, link: LinkType, frame: &Frame<'_>, pkt: &Packet<'_>, tcp: TcpInfo) {
        // The whole frame only when the workers keep evidence; else the payload alone.
        let whole = self.frames;
        let bytes = if whole { frame.data } else { pkt.payload };
        self.d.push(pkt.src, pkt.dst, bytes, &mut self.c, |off, _| {
            Item::tcp(link, frame, pkt, tcp, off, whole)
        });
    }

    /// A TCP fragment goes to the worker of its connection. A UDP fragment stays here: its
    /// datagram is put together as the frames are read, so that a DNS answer larger than the
    /// path's MTU takes effect in capture order, as a whole one read here does (a worker would
    /// read it whenever it got to its batch, after frames the reader read later).
    fn fragment(&mut self, link: LinkType, f: &Fragment<'_>, frame: &Frame<'_>) {
        let ts = frame.ts;
        if f.is_udp() {
            if let Some(dg) = self.defrag.add(f, ts, &mut self.c) {
                // A UDP datagram: read here, nothing handed back.
                let _ = datagram(&dg, ts, self);
            }
            return;
        }
        self.d.push(f.src, f.dst, frame.data, &mut self.c, |off, len| Item::Fragment { ts, link, off, len });
    }

    fn dns_answer(&mut self, payload: &[u8], ts: Ts) {
        self.intel.dns_answer(payload, ts, &mut self.c);
    }
}

impl Reader {
    /// Sends the reader's counters, its captures' and the workers' queues.
    fn report(&self, reporter: usize, set: &mut LiveSet, records: &Sender<Record>) {
        let load = self.d.load();
        let _ = records.send(Record::Counters { reporter, counters: self.c, kernel: set.stats(), load });
    }
}

/// The reader loop. Returns the interfaces that failed.
fn read_live(
    caps: Vec<LiveSource>,
    mut r: Reader,
    reporter: usize,
    records: Sender<Record>,
    stop: Arc<AtomicBool>,
) -> Vec<(String, String)> {
    let (mut set, mut failed) = LiveSet::new(caps);
    let mut clock = Clock::new();
    while !set.ended() && !stop.load(Ordering::Relaxed) {
        let got = set.pump(&mut |link, frame| front(link, frame, &mut r));
        if clock.due(got) {
            let t = now();
            r.defrag.expire(t, &mut r.c);
            r.d.broadcast(|| Msg::Tick(t), &mut r.c);
            r.report(reporter, &mut set, &records);
        }
    }
    set.flush(&mut |link, frame| front(link, frame, &mut r));
    r.d.flush_batches(&mut r.c);
    r.report(reporter, &mut set, &records);
    failed.extend(set.failures());
    failed
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
                    let frame = item.frame().map(|(off, len)| span(&b.data, off, len));
                    w.item(item, span(&b.data, off, len), frame);
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
    opts: &RunOptions,
    intel: &Arc<Intel>,
    hosts: &Arc<HostTable>,
    records: &Sender<Record>,
) -> (Workers, Vec<thread::JoinHandle<()>>) {
    let (cfg, stop) = (&opts.cfg, &opts.stop);
    let (rec_tx, rec_rx) = bounded::<Batch>(n * WORKER_QUEUE);
    let mut txs = Vec::new();
    let mut handles = Vec::new();
    for id in 0..n {
        let (tx, rx) = bounded::<Msg>(WORKER_QUEUE);
        let w = Worker::new(id, cfg, intel, hosts.clone(), records.clone(), opts.evidence.as_ref());
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

/// Waits for the workers (see [`worker_failed`]).
fn join_workers(handles: Vec<thread::JoinHandle<()>>, errors: &mut Vec<(String, String)>) {
    for (i, h) in handles.into_iter().enumerate() {
        if h.join().is_err() {
            errors.push(worker_failed(i));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HomeNet;
    use crate::decode::Transport;
    use crate::flow::FlowLimits;
    use std::net::SocketAddr;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_reader_puts_a_dns_answer_in_fragments_together_and_reads_it_at_once() {
        let (tx, rx) = bounded(8);
        let (_, recycled) = bounded(1);
        let intel = Arc::new(Intel::new(Arc::new(crate::intel::PoolDomains::builtin())));
        let mut r = Reader {
            d: Dispatcher::new(Workers { txs: vec![tx], recycled }),
            c: Counters::default(),
            intel: intel.clone(),
            frames: false,
            defrag: Defragmenter::new(crate::flow::defrag::DefragLimits::default()),
        };
        let answer = crate::intel::tests::answer("xmr.2miners.com", [198, 51, 100, 7]);
        let mut framer = testkit::synth::Framer::new(testkit::synth::Link::Ethernet);
        let whole = framer.udp(addr("192.0.2.53:53"), addr("10.0.0.2:40000"), &answer).unwrap().to_vec();
        // Two IPv4 fragments (14-byte Ethernet header, 20-byte IP header), the last one first.
        let (head, l4) = whole.split_at(34);
        let fragment = |offset: usize, part: &[u8], more: bool| {
            let mut f = head.to_vec();
            f[16..18].copy_from_slice(&((20 + part.len()) as u16).to_be_bytes());
            f[20..22].copy_from_slice(&((u16::from(more) << 13) | (offset / 8) as u16).to_be_bytes());
            f.extend_from_slice(part);
            f
        };
        let ts = Ts(1_000_000);
        for f in [fragment(16, &l4[16..], false), fragment(0, &l4[..16], true)] {
            front(LinkType::Ethernet, &Frame { ts, data: &f, wire_len: f.len() as u32 }, &mut r);
        }
        assert_eq!(intel.dns.lookup("198.51.100.7".parse().unwrap(), ts).as_deref(), Some("xmr.2miners.com"));
        let c = &r.c;
        assert_eq!(
            (c.fragments, c.frag_reassembled, c.udp_packets, c.dns_answers, c.dns_pool_addrs),
            (2, 1, 1, 1, 1)
        );
        // Nothing went to a worker.
        r.d.flush_batches(&mut r.c);
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn the_tables_elephants_reach_the_shunt_up_to_its_bound_and_their_end_takes_them_out() {
        let limits = FlowLimits { elephant_frames: 10, ..FlowLimits::default() };
        let mut table = FlowTable::new(limits, HomeNet::default());
        let mut c = Counters::default();
        let send = |t: &mut FlowTable, port: u16, from_pool: bool, info: TcpInfo, payload: &[u8]| {
            let (cl, pool) = (addr(&format!("10.0.0.2:{port}")), addr("198.18.0.1:873"));
            let (s, d) = if from_pool { (pool, cl) } else { (cl, pool) };
            let pkt = Packet {
                src: s.ip(),
                dst: d.ip(),
                src_port: s.port(),
                dst_port: d.port(),
                transport: Transport::Tcp(info),
                payload,
            };
            t.tcp(&pkt, &info, Ts(0), &mut |_| {});
        };
        let data = TcpInfo { seq: 1, ack: 1, syn: false, ack_flag: true, fin: false, rst: false };
        for port in [1000, 1001, 1002] {
            let syn = TcpInfo { seq: 0, syn: true, ack_flag: false, ..data };
            send(&mut table, port, false, syn, b"");
            send(&mut table, port, false, data, b"SSH-2.0-x\r\n");
            for _ in 0..10 {
                send(&mut table, port, true, data, &[0; 100]);
            }
        }
        let mut elephants = Elephants::default();
        let mut shunt = Shunt::new(2);
        let t0 = Instant::now();
        elephants.hand_over(&mut table, &mut shunt, t0, &mut c);
        assert_eq!((c.flows_shunted, c.shunt_full), (2, 1));
        assert!(shunt.due(t0));
        let flows = shunt.flows();
        assert_eq!(flows.len(), 2);
        assert!(flows.iter().all(|(a, b)| a.ip() == addr("10.0.0.2:1").ip() && *b == addr("198.18.0.1:873")));
        assert!(shunt.applied(Ok(()), t0, &mut c).is_none());
        // Its end (an RST) takes a flow out at once, however soon after the last rebuild.
        let port = flows[0].0.port();
        send(&mut table, port, true, TcpInfo { rst: true, ..data }, b"");
        elephants.hand_over(&mut table, &mut shunt, t0, &mut c);
        assert!(shunt.due(t0), "a flow's end must reach the kernel at once");
        assert!(shunt.flows().iter().all(|(a, _)| a.port() != port));
        assert_eq!(shunt.flows().len(), 1);
        // A shunt that is off takes nothing from the table.
        shunt.applied(Err(crate::capture::shunt::ShuntError::Unsupported), t0, &mut c);
        for _ in 0..10 {
            send(&mut table, 1002, true, data, &[0; 100]);
        }
        assert!(table.elephant_news());
        elephants.hand_over(&mut table, &mut shunt, t0, &mut c);
        assert!(table.elephant_news(), "the news stays with the table");
        assert!(elephants.found.is_empty() && shunt.flows().is_empty());
    }
}
