//! The replay walk: every worker replays a capture file shared block by block (see
//! [`crate::capture::shared`]). The worker that reads a block walks it at once through the
//! frame front, sorting each TCP packet or fragment by owner ([`Sorted`]); the walk takes effect
//! (counts, DNS answers) when the block is confirmed in file order; then every worker processes
//! its own items. The only worker walks and processes each frame at once.

use std::sync::{Arc, Mutex};
use std::thread;

use super::front::{front, shard, Route};
use super::ticks::{Step, Ticks};
use super::worker::{span, Item, Worker};
use super::Progress;
use crate::capture::file::{Guess, Resume, Stitcher};
use crate::capture::shared::{Block, BlockWorker, SharedInput, RING};
use crate::capture::Frame;
use crate::decode::{Fragment, LinkType, Packet, TcpInfo};
use crate::flow::defrag::Defragmenter;
use crate::stats::Counters;
use crate::time::Ts;

/// What part of a replay is read: the frames within a time window that pass a BPF filter
/// (`--since`, `--until`, `-f`), settled before the replay (a duration counted from its first
/// packet is a time by then).
#[derive(Clone, Debug, Default)]
pub struct ReplayWindow {
    /// The first packet time read.
    pub since: Option<Ts>,
    /// The first packet time no longer read.
    pub until: Option<Ts>,
    /// A BPF expression in libpcap's syntax, compiled for each link type a file holds.
    pub filter: Option<String>,
}

impl ReplayWindow {
    /// Whether every frame is read (nothing to test).
    fn is_open(&self) -> bool {
        self.since.is_none() && self.until.is_none() && self.filter.is_none()
    }
}

/// A replaying worker's test of each frame against the [`ReplayWindow`], made before the frame
/// is decoded: a time comparison, then libpcap's interpreter of the compiled filter over the
/// frame as captured (the frames are read by our own reader, so libpcap's own filtering of a
/// capture it reads is not there to use). The compiled programs are the worker's own (libpcap's
/// are not to be shared between threads), one per link type met.
pub(super) struct Admit {
    window: ReplayWindow,
    open: bool,
    /// Per link type met: its program, or `None` if the filter does not compile for it (every
    /// frame of that link type is then filtered out: a filter is never silently ignored).
    programs: Vec<(LinkType, Option<pcap::BpfProgram>)>,
}

impl Admit {
    pub(super) fn new(window: &ReplayWindow) -> Admit {
        Admit { window: window.clone(), open: window.is_open(), programs: Vec::new() }
    }

    /// Whether `frame` is replayed; a frame that is not is counted in `c`. Without a window or
    /// a filter, one test of a flag.
    #[inline(always)]
    pub(super) fn admit(&mut self, link: LinkType, frame: &Frame<'_>, c: &mut Counters) -> bool {
        self.open || self.test(link, frame, c)
    }

    #[inline(never)]
    fn test(&mut self, link: LinkType, frame: &Frame<'_>, c: &mut Counters) -> bool {
        if self.window.since.is_some_and(|t| frame.ts < t) || self.window.until.is_some_and(|t| frame.ts >= t)
        {
            c.frames_outside_window += 1;
            return false;
        }
        let Some(expr) = &self.window.filter else { return true };
        let i = match self.programs.iter().position(|(l, _)| *l == link) {
            Some(i) => i,
            None => {
                let program = pcap::Capture::dead(pcap::Linktype(link.libpcap_dlt()))
                    .and_then(|d| d.compile(expr, true))
                    .ok();
                self.programs.push((link, program));
                self.programs.len() - 1
            }
        };
        let pass = self.programs.get(i).and_then(|(_, p)| p.as_ref()).is_some_and(|p| p.filter(frame.data));
        if !pass {
            c.frames_filtered += 1;
        }
        pass
    }
}

/// What a walk makes of some frames of a block: each worker's items, in order. An item's bytes
/// are in the block, or past its end in `bridge`. Nothing in it has taken effect yet: a walk
/// begun on a guess may be thrown away (see [`crate::capture::file::Guess`]).
#[derive(Default)]
pub(super) struct Sorted {
    owned: Vec<Vec<Item>>,
    /// Frames that straddled the previous block's end, put back together.
    bridge: Vec<u8>,
    /// Every frame's place (as its item's, see [`Sorted::process`]) and time, in file order:
    /// the ticks are decided over them when the walk is confirmed.
    times: Vec<(u32, Ts)>,
    /// The ticks among them: where (before the frame at that place) and at what time every
    /// worker ticks.
    ticks: Vec<(u32, Ts)>,
    /// The frames' counts, added to the counters of the worker that walks the block for sure.
    counters: Counters,
    /// DNS answers and UDP fragments, in file order: they take effect when the block is walked
    /// for sure (answers into the shared DNS map, fragments into the walk's defragmenter).
    held: Vec<Held>,
    /// Where `owned`'s lists go back when every worker is done with the block.
    spare: Option<Arc<Spare>>,
}

impl Drop for Sorted {
    fn drop(&mut self) {
        if let Some(spare) = &self.spare {
            spare.put(&mut self.owned);
        }
    }
}

/// Item lists of blocks every worker is done with, for the walks of later blocks. A block's list
/// is a sixth of a MiB per owner on the edge mix; allocated afresh for each block, glibc gave
/// the pages back and the kernel handed out zeroed ones at the next block: 18,000–25,000 page
/// faults in a two-worker replay of the 1.2 GB edge mix (one worker: 3,300), 5,000–6,000 with
/// the lists kept, and the two workers 5–8% faster.
pub(super) struct Spare {
    lists: Mutex<Vec<Vec<Item>>>,
    /// Most lists kept: as many as can be in use at once (the guessed part of every block of the
    /// ring, a list per owner), so that what is kept is never more than what the replay held at
    /// its busiest.
    most: usize,
}

impl Spare {
    pub(super) fn new(workers: usize) -> Spare {
        Spare { lists: Mutex::new(Vec::new()), most: RING * workers * workers }
    }

    /// A list for about `frames` items.
    fn take(&self, frames: usize) -> Vec<Item> {
        let mut list = self.lists.lock().unwrap_or_else(|p| p.into_inner()).pop().unwrap_or_default();
        list.reserve(frames);
        list
    }

    fn put(&self, lists: &mut Vec<Vec<Item>>) {
        let mut kept = self.lists.lock().unwrap_or_else(|p| p.into_inner());
        for mut list in lists.drain(..).filter(|l| l.capacity() > 0) {
            if kept.len() >= self.most {
                break;
            }
            list.clear();
            kept.push(list);
        }
    }
}

/// What the walk keeps of a frame until it is confirmed: bytes at `off` like an [`Item`]'s.
struct Held {
    ts: Ts,
    off: u32,
    len: u32,
    kind: HeldKind,
}

enum HeldKind {
    /// The payload of a UDP datagram from port 53.
    Answer,
    /// The whole frame of a UDP fragment (a DNS answer larger than the path's MTU, maybe).
    UdpFragment(LinkType),
}

impl Sorted {
    /// For `n` workers, about `frames` of them each, in lists from `spare` (without, in lists
    /// that grow as they fill: the part of a block walked in order is mostly a single record).
    fn new(n: usize, frames: usize, spare: Option<&Arc<Spare>>) -> Sorted {
        let owned = (0..n).map(|_| spare.map(|s| s.take(frames)).unwrap_or_default()).collect();
        Sorted {
            owned,
            bridge: Vec::new(),
            times: Vec::new(),
            ticks: Vec::new(),
            counters: Counters::default(),
            held: Vec::new(),
            spare: spare.cloned(),
        }
    }

    /// Walks a frame of `block` through the front: counted, a DNS answer kept, a TCP packet or a
    /// fragment handed to its owner as an [`Item`]. Frames in `block` stay there; others (put
    /// back together from two blocks) are copied into the bridge.
    fn frame(&mut self, link: LinkType, frame: &Frame<'_>, block: &[u8]) {
        // Its place: in the block, or (put back together) where the walk copies it if it is
        // handed over, at the bridge's end.
        let off = offset_in(block, frame.data).unwrap_or(block.len() + self.bridge.len());
        self.times.push((off as u32, frame.ts));
        front(link, frame, &mut Walk { sorted: self, block });
    }

    /// The walk is confirmed, in file order: its frames' times step the file's tick schedule,
    /// and the ticks are kept for every worker; a restart is counted in `c`.
    fn schedule(&mut self, ticks: &mut Ticks, c: &mut Counters) {
        for &(off, ts) in &self.times {
            match ticks.step(ts) {
                Step::Wait => {}
                Step::Tick(now) => self.ticks.push((off, now)),
                Step::Restart => c.clock_restarts += 1,
            }
        }
    }

    /// The bytes at `off` (in `block`, or in the bridge past its end).
    fn bytes<'a>(&'a self, block: &'a [u8], off: u32, len: u32) -> &'a [u8] {
        match (off as usize).checked_sub(block.len()) {
            Some(b) => span(&self.bridge, b as u32, len),
            None => span(block, off, len),
        }
    }

    /// The walk is confirmed: its counts, DNS answers and UDP fragments (through `defrag`, the
    /// walk's own defragmenter) take effect, on worker `w`.
    fn settle(&self, w: &mut Worker, block: &[u8], defrag: &Mutex<Defragmenter>) {
        w.own.add(&self.counters);
        for h in &self.held {
            let bytes = self.bytes(block, h.off, h.len);
            match h.kind {
                HeldKind::Answer => Route::dns_answer(w, bytes, h.ts),
                HeldKind::UdpFragment(link) => {
                    let mut d = defrag.lock().unwrap_or_else(|p| p.into_inner());
                    w.walked_fragment(&mut d, link, bytes, h.ts);
                }
            }
        }
    }

    /// Worker `me` processes its items, and ticks where every worker does.
    fn process(&self, w: &mut Worker, me: usize, block: &[u8]) {
        // A frame's place in the block (for the push clock, see `crate::intel::clock`, and for
        // the ticks): its offset, counted so that the record put back together from the
        // previous block's end (in the bridge, past the block's end) comes before the block's
        // own.
        let len = block.len() as u32;
        let place = |off: u32| off.wrapping_sub(len);
        let mut ticks = self.ticks.iter().peekable();
        // The ticks at or before place `upto`, in order.
        let mut tick = |w: &mut Worker, upto: u32| {
            while let Some(&(off, now)) = ticks.next_if(|&&(off, _)| place(off) <= upto) {
                w.at(place(off));
                w.tick(now);
            }
        };
        for item in self.owned.get(me).map(Vec::as_slice).unwrap_or_default() {
            let at = place(item.off());
            tick(w, at);
            w.at(at);
            let (off, len) = item.bytes();
            let frame = item.frame().map(|(off, len)| self.bytes(block, off, len));
            w.item(item, self.bytes(block, off, len), frame);
        }
        tick(w, u32::MAX);
    }
}

/// Where `bytes` are in `block`, if they are there (not put back together from two blocks).
#[inline]
fn offset_in(block: &[u8], bytes: &[u8]) -> Option<usize> {
    (bytes.as_ptr() as usize)
        .checked_sub(block.as_ptr() as usize)
        .filter(|off| off + bytes.len() <= block.len())
}

/// A walk over one block: where the front's findings are sorted.
struct Walk<'s, 'b> {
    sorted: &'s mut Sorted,
    block: &'b [u8],
}

impl Walk<'_, '_> {
    /// Where `bytes` are: their offset in the block, or past its end once copied into the
    /// bridge (a frame put back together from two blocks).
    fn place(&mut self, bytes: &[u8]) -> u32 {
        match offset_in(self.block, bytes) {
            Some(off) => off as u32,
            None => {
                let bridge = &mut self.sorted.bridge;
                bridge.extend_from_slice(bytes);
                (self.block.len() + bridge.len() - bytes.len()) as u32
            }
        }
    }

    fn give(&mut self, owner: usize, item: Item) {
        if let Some(list) = self.sorted.owned.get_mut(owner) {
            list.push(item);
        }
    }
}

impl Route for Walk<'_, '_> {
    fn counters(&mut self) -> &mut Counters {
        &mut self.sorted.counters
    }

    fn tcp(&mut self, link: LinkType, frame: &Frame<'_>, pkt: &Packet<'_>, tcp: TcpInfo) {
        // The whole frame, not only its payload: the worker may keep it as evidence.
        let off = self.place(frame.data);
        let owner = shard(pkt.src, pkt.dst, self.sorted.owned.len());
        self.give(owner, Item::tcp(link, frame, pkt, tcp, off, true));
    }

    /// A TCP fragment goes to its owner's defragmenter; a UDP fragment stays with the walk, put
    /// together in file order when the block is confirmed (a DNS answer in fragments then takes
    /// effect in file order, as a whole one does, whichever worker owns the resolver).
    fn fragment(&mut self, link: LinkType, f: &Fragment<'_>, frame: &Frame<'_>) {
        let off = self.place(frame.data);
        let (ts, len) = (frame.ts, frame.data.len() as u32);
        if f.is_udp() {
            self.sorted.held.push(Held { ts, off, len, kind: HeldKind::UdpFragment(link) });
            return;
        }
        let owner = shard(f.src, f.dst, self.sorted.owned.len());
        self.give(owner, Item::Fragment { ts, link, off, len });
    }

    fn dns_answer(&mut self, payload: &[u8], ts: Ts) {
        let (off, len) = (self.place(payload), payload.len() as u32);
        self.sorted.held.push(Held { ts, off, len, kind: HeldKind::Answer });
    }
}

/// A block walked for sure: the frames walked in order (the record cut by the previous block's
/// end; the whole block if its guess was wrong), then those of its guess, if it was right.
#[derive(Default)]
pub(super) struct Product {
    lead: Sorted,
    body: Option<Sorted>,
}

/// A worker's part in a shared replay: shard `me` of `n`.
struct Replayer<'a> {
    w: &'a mut Worker,
    me: usize,
    n: usize,
    admit: Admit,
    /// Items the busiest owner got in this worker's latest guessed block.
    expect: usize,
    spare: Arc<Spare>,
    /// The walk's defragmenter of UDP, shared by the workers and used by the one that confirms
    /// a block (one at a time, in file order): never waited for.
    defrag: Arc<Mutex<Defragmenter>>,
    /// The file's ticks, stepped by the worker that confirms a block, as the defragmenter.
    ticks: Arc<Mutex<Ticks>>,
    /// The times of this worker's walks, once stepped through, for its later walks (as the
    /// item lists are kept: growing them afresh at each block was 4% of a two-worker replay's
    /// instructions). At most one per block of the ring.
    times: Vec<Vec<(u32, Ts)>>,
}

impl BlockWorker<Product, (Guess, Sorted)> for Replayer<'_> {
    /// Sorts the frames of a block this worker has just read, beginning on a guess. The only
    /// worker guesses nothing: it walks and processes each block at once, in order.
    fn guess(&mut self, block: &Block, from: &Resume) -> Option<(Guess, Sorted)> {
        if self.n <= 1 {
            return None;
        }
        let data = &block.data;
        // Room for as many items as the busiest owner had in this worker's previous block, and
        // an eighth more: growing the lists as they fill was 2% of a worker's instructions on
        // the edge mix (a block of small frames holds twice the 512-byte guess).
        let expect = match self.expect {
            0 => data.len() / 256 / self.n,
            e => e + e / 8,
        };
        let mut out = Sorted::new(self.n, expect + 16, Some(&self.spare));
        out.times = self.times.pop().unwrap_or_default();
        out.times.reserve((expect + 16) * self.n);
        let admit = &mut self.admit;
        let guess = from.guess(data, &mut |link, frame| {
            if admit.admit(link, frame, &mut out.counters) {
                out.frame(link, frame, data);
            }
        })?;
        self.expect = out.owned.iter().map(Vec::len).max().unwrap_or_default();
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
    ) -> (Product, Result<(), crate::capture::FileError>) {
        let Replayer { w, n, admit, defrag, ticks, times, .. } = self;
        let mut ticks = ticks.lock().unwrap_or_else(|p| p.into_inner());
        if *n <= 1 {
            // The only worker: no hand-over.
            let result = stitcher.feed(&block.data, block.eof, &mut |link, frame| {
                if admit.admit(link, frame, &mut w.own) {
                    match ticks.step(frame.ts) {
                        Step::Wait => {}
                        Step::Tick(now) => w.tick(now),
                        Step::Restart => w.own.clock_restarts += 1,
                    }
                    w.frame(link, frame);
                }
            });
            return (Product::default(), result);
        }
        let (guess, body) = guess.unzip();
        let data = &block.data;
        let mut lead = Sorted::new(*n, 0, None);
        let (taken, result) = stitcher.feed_guessed(data, block.eof, guess, &mut |link, frame| {
            if admit.admit(link, frame, &mut lead.counters) {
                lead.frame(link, frame, data);
            }
        });
        let mut body = body.filter(|_| taken);
        for part in std::iter::once(&mut lead).chain(&mut body) {
            part.schedule(&mut ticks, &mut w.own);
            part.settle(w, data, defrag);
            if times.len() < RING {
                let mut kept = std::mem::take(&mut part.times);
                kept.clear();
                times.push(kept);
            }
        }
        (Product { lead, body }, result)
    }

    fn process(&mut self, block: &Block, p: &Product) {
        for part in std::iter::once(&p.lead).chain(&p.body) {
            part.process(self.w, self.me, &block.data);
        }
        self.w.block_done();
    }
}

/// The input shared by the replaying workers, with what their walks make of its blocks.
pub(super) type Shared = SharedInput<Product, (Guess, Sorted)>;

/// Every worker replays `input`, the first one on this thread, and ends every session at its
/// end. Returns the workers that panicked, and the file's earliest and latest packet times (as
/// its ticks saw them: every frame, in file order).
pub(super) fn replay_input(
    workers: &mut [Worker],
    input: &Shared,
    window: &ReplayWindow,
    progress: Option<&dyn Progress>,
) -> (Vec<usize>, Option<(Ts, Ts)>) {
    let n = workers.len();
    let Some((first, rest)) = workers.split_first_mut() else { return (Vec::new(), None) };
    let spare = Arc::new(Spare::new(n));
    let defrag = Arc::new(Mutex::new(Defragmenter::new(first.defrag_limits())));
    let ticks = Arc::new(Mutex::new(Ticks::default()));
    for w in std::iter::once(&mut *first).chain(rest.iter_mut()) {
        w.table.swept_at_ticks();
    }
    // Every worker at the start of the file before any begins (one that ran ahead in the last
    // file is not ahead in this one).
    first.at_block_start();
    rest.iter().for_each(|w| w.at_block_start());
    let failed = thread::scope(|s| {
        let handles: Vec<_> = rest
            .iter_mut()
            .enumerate()
            .map(|(i, w)| {
                let (spare, defrag, ticks) = (spare.clone(), defrag.clone(), ticks.clone());
                s.spawn(move || {
                    let _leave = w.leave_on_panic();
                    let admit = Admit::new(window);
                    let mut r = Replayer {
                        w,
                        me: i + 1,
                        n,
                        admit,
                        expect: 0,
                        spare,
                        defrag,
                        ticks,
                        times: Vec::new(),
                    };
                    input.run(i + 1, &mut r, &mut |_| {});
                    w.flush();
                })
            })
            .collect();
        let mut reported = 0;
        let mut advance = |input: &Shared| {
            if let Some(p) = progress {
                let read = input.bytes_read();
                p.advance(read.saturating_sub(reported));
                reported = read;
            }
        };
        let own = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _leave = first.leave_on_panic();
            let admit = Admit::new(window);
            let (spare, defrag, ticks) = (spare.clone(), defrag.clone(), ticks.clone());
            let mut r =
                Replayer { w: first, me: 0, n, admit, expect: 0, spare, defrag, ticks, times: Vec::new() };
            input.run(0, &mut r, &mut advance);
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
    });
    let span = ticks.lock().unwrap_or_else(|p| p.into_inner()).span();
    (failed, span)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(off: u32) -> Item {
        Item::Fragment { ts: Ts(1), link: LinkType::Ethernet, off, len: 60 }
    }

    #[test]
    fn a_blocks_lists_come_back_empty_with_their_room_and_no_more_are_kept_than_the_bound() {
        let spare = Arc::new(Spare::new(2));
        let mut sorted = Sorted::new(2, 1000, Some(&spare));
        sorted.owned[0].push(fragment(0));
        sorted.owned[1].push(fragment(60));
        drop(sorted);
        let again = Sorted::new(2, 10, Some(&spare));
        assert!(again.owned.iter().all(|l| l.is_empty() && l.capacity() >= 1000), "lists reused, emptied");
        drop(again);
        // Lists of blocks walked in order (no spare) are not kept.
        drop(Sorted::new(2, 0, None));
        assert_eq!(spare.lists.lock().unwrap().len(), 2);
        // However many blocks let go of their lists, the spare keeps its bound.
        let many: Vec<Sorted> = (0..4 * spare.most).map(|_| Sorted::new(2, 4, Some(&spare))).collect();
        drop(many);
        assert_eq!(spare.lists.lock().unwrap().len(), spare.most);
    }
}
