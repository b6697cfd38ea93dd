//! One capture file shared by every replaying worker, with no reader thread: each block is read
//! once, by whichever worker gets to it first, and walked by the same worker right after, in
//! file order (the walk sorts its frames by owner); then processed by every worker, each taking
//! its own frames.
//!
//! Why this shape: replay's cost is mostly the read itself (the kernel copying the file into
//! memory) and the walk (one cache miss per record), so a single reader thread feeding the
//! workers, or workers that each walk the whole file, cap the speed-up of a second worker well
//! below 2×. Blocks of a regular file are plain byte ranges at fixed offsets (the
//! [`Stitcher`] puts back the records cut by their edges), so workers read different blocks at
//! once with positional reads; a pipe is read in order, one block at a time. The walk is the
//! only part done in order, and the worker that read a block walks it while it is still in its
//! cache.
//!
//! Bounds: at most [`RING`] blocks per worker are held at once; a worker that runs ahead waits
//! for the slowest one to let go of the oldest block, whose buffer is then reused. A worker that
//! stops (or fails) leaves, so nobody waits for it.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::file::{Stitcher, BLOCK};

/// Blocks held per worker.
pub const RING: usize = 4;
/// Most bytes one read of a pipe asks for (a pipe holds 64 KiB by default).
const STREAM_READ: usize = 256 * 1024;

/// One block of the input.
#[derive(Debug, Default)]
pub struct Block {
    pub data: Vec<u8>,
    /// The last block of the input.
    pub eof: bool,
    /// Reading failed after `data`: the input ends here, with this reason.
    pub error: Option<String>,
}

enum Source {
    /// A regular file of this many bytes (its size when opened: bytes appended later are not
    /// read, so a replay of a growing capture ends where it began).
    File(File, u64),
    Stream(Mutex<Box<dyn Read + Send>>),
}

enum Slot<T> {
    /// Being read, then walked, by the same worker.
    Reading,
    Walking,
    Walked(Arc<Walked<T>>),
}

/// A block and what its walk made of it.
pub struct Walked<T> {
    pub block: Block,
    pub product: T,
}

struct Ring<T> {
    /// Block number of `slots[0]`.
    base: u64,
    slots: VecDeque<Slot<T>>,
    /// Blocks walked so far; the walk goes in order, one block at a time.
    walked: u64,
    /// The file's walk state, taken by whoever walks the next block.
    stitcher: Option<Stitcher>,
    /// Per worker: the next block it will process (every earlier one it is done with).
    next: Vec<u64>,
    /// How many blocks are to be processed, once known (the input's end, its damage, a stop).
    end: Option<u64>,
    /// Why the input ended early.
    error: Option<String>,
    free: Vec<Vec<u8>>,
}

/// What a worker does with the blocks of a shared input.
pub trait BlockWorker<T> {
    /// Walks the block this worker has just read, in file order (blocks are walked one at a
    /// time). Returns what every worker's `process` will get.
    fn walk(&mut self, block: &Block, stitcher: &mut Stitcher) -> (T, Result<(), String>);
    /// Processes a walked block (every worker, every block, in order).
    fn process(&mut self, block: &Block, product: &T);
}

/// An input shared by `workers` workers.
pub struct SharedInput<T> {
    source: Source,
    ring: Mutex<Ring<T>>,
    changed: Condvar,
    capacity: usize,
    read: AtomicU64,
    stop: Arc<AtomicBool>,
}

impl<T> SharedInput<T> {
    /// A regular file is read with positional reads; anything else (`-`, a FIFO) in order.
    /// `stop` ends the input at the next block.
    pub fn new(input: super::Input, workers: usize, stop: Arc<AtomicBool>) -> SharedInput<T> {
        let source = match input {
            super::Input::File(f, size) => Source::File(f, size),
            super::Input::Stream(r) => Source::Stream(Mutex::new(r)),
        };
        let end = match &source {
            Source::File(_, size) => Some(size.div_ceil(BLOCK as u64).max(1)),
            Source::Stream(_) => None,
        };
        let workers = workers.max(1);
        let ring = Ring {
            base: 0,
            slots: VecDeque::new(),
            walked: 0,
            stitcher: Some(Stitcher::default()),
            next: vec![0; workers],
            end,
            error: None,
            free: Vec::new(),
        };
        SharedInput {
            source,
            ring: Mutex::new(ring),
            changed: Condvar::new(),
            capacity: RING * workers,
            read: AtomicU64::new(0),
            stop,
        }
    }

    /// Bytes read so far, for progress.
    pub fn bytes_read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// Why the input ended early, if it did.
    pub fn error(&self) -> Option<String> {
        self.lock().error.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Ring<T>> {
        self.ring.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Worker `me` takes part until the input ends: it walks, reads or processes whatever is
    /// due, and waits only when none of that is. `tick` runs after each block it processes.
    pub fn run(&self, me: usize, w: &mut dyn BlockWorker<T>, tick: &mut dyn FnMut(&Self)) {
        /// Leaves the input however the worker stops, so nobody waits for it.
        struct Leave<'a, T>(&'a SharedInput<T>, usize);
        impl<T> Drop for Leave<'_, T> {
            fn drop(&mut self) {
                let mut ring = self.0.lock();
                if let Some(n) = ring.next.get_mut(self.1) {
                    *n = u64::MAX;
                }
                drop(self.0.release(ring));
            }
        }
        let _leave = Leave(self, me);
        let mut ring = self.lock();
        loop {
            let k = ring.next.get(me).copied().unwrap_or(u64::MAX);
            if ring.end.is_some_and(|e| k >= e) {
                return;
            }
            if let Some(Slot::Walked(b)) = ring.slots.get(k.saturating_sub(ring.base) as usize) {
                let b = b.clone();
                drop(ring);
                w.process(&b.block, &b.product);
                drop(b);
                tick(self);
                ring = self.lock();
                if let Some(n) = ring.next.get_mut(me) {
                    *n += 1;
                }
                ring = self.release(ring);
                continue;
            }
            // Read the next unread block, if there is room for it and (on a pipe) nobody
            // else is reading; otherwise wait for whoever is walking or reading.
            let have = ring.base + ring.slots.len() as u64;
            let room = ring.slots.len() < self.capacity && !ring.end.is_some_and(|e| have >= e);
            let in_order = matches!(self.source, Source::File(..))
                || !ring.slots.iter().any(|s| matches!(s, Slot::Reading));
            if room && in_order {
                if self.stop.load(Ordering::Relaxed) {
                    ring.end = Some(ring.end.map_or(have, |e| e.min(have)).max(ring.walked));
                    self.changed.notify_all();
                    continue;
                }
                ring.slots.push_back(Slot::Reading);
                let buf = ring.free.pop().unwrap_or_default();
                drop(ring);
                let block = self.read_block(have, buf);
                ring = self.walk(self.lock(), have, block, w);
                continue;
            }
            ring = self.changed.wait(ring).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Walks block `k`, just read by this worker (so still in its cache: the walk is a chain of
    /// dependent loads, one per record, and costs several times more on a block another core
    /// read), once every block before it has been walked.
    fn walk<'a>(
        &'a self,
        mut ring: MutexGuard<'a, Ring<T>>,
        k: u64,
        block: Block,
        w: &mut dyn BlockWorker<T>,
    ) -> MutexGuard<'a, Ring<T>> {
        loop {
            if ring.end.is_some_and(|e| k >= e) {
                // The input ended before this block (damage, or a stop): nobody needs it.
                return ring;
            }
            if ring.walked == k {
                if let Some(mut stitcher) = ring.stitcher.take() {
                    let i = k.saturating_sub(ring.base) as usize;
                    if let Some(slot) = ring.slots.get_mut(i) {
                        *slot = Slot::Walking;
                    }
                    drop(ring);
                    let (product, result) = w.walk(&block, &mut stitcher);
                    ring = self.lock();
                    ring.stitcher = Some(stitcher);
                    ring.walked += 1;
                    let err = result.err().or_else(|| block.error.clone());
                    if let Some(e) = err {
                        ring.error.get_or_insert(e);
                        ring.end = Some(ring.end.map_or(k + 1, |e| e.min(k + 1)));
                    } else if block.eof {
                        ring.end = Some(k + 1);
                    }
                    // Blocks may have been freed meanwhile: find the slot again.
                    let i = k.saturating_sub(ring.base) as usize;
                    if let Some(slot) = ring.slots.get_mut(i) {
                        *slot = Slot::Walked(Arc::new(Walked { block, product }));
                    }
                    self.changed.notify_all();
                    return ring;
                }
            }
            ring = self.changed.wait(ring).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Frees the blocks every worker is done with, oldest first.
    fn release<'a>(&'a self, mut ring: MutexGuard<'a, Ring<T>>) -> MutexGuard<'a, Ring<T>> {
        let oldest_needed = ring.next.iter().copied().min().unwrap_or(0);
        while ring.base < oldest_needed && matches!(ring.slots.front(), Some(Slot::Walked(_))) {
            let Some(Slot::Walked(b)) = ring.slots.pop_front() else { break };
            ring.base += 1;
            if let Ok(b) = Arc::try_unwrap(b) {
                if ring.free.len() < self.capacity {
                    ring.free.push(b.block.data);
                }
            }
        }
        self.changed.notify_all();
        ring
    }

    /// Reads block `k` into `data` (a reused buffer: a file's block overwrites it in place, so
    /// it is not zeroed again).
    fn read_block(&self, k: u64, mut data: Vec<u8>) -> Block {
        let mut block = Block::default();
        match &self.source {
            Source::File(f, size) => {
                let start = k * BLOCK as u64;
                let len = size.saturating_sub(start).min(BLOCK as u64) as usize;
                data.resize(len, 0);
                let mut at = 0;
                while at < len {
                    match f.read_at(data.get_mut(at..).unwrap_or_default(), start + at as u64) {
                        // The file shrank since it was opened.
                        Ok(0) => {
                            block.error = Some("the file shrank while being read".to_string());
                            break;
                        }
                        Ok(n) => at += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            block.error = Some(format!("read error: {}", super::io_reason(&e)));
                            break;
                        }
                    }
                }
                data.truncate(at);
                block.eof = block.error.is_some() || start + BLOCK as u64 >= *size;
            }
            Source::Stream(r) => {
                // One read: whatever the pipe holds now, so that a capture written slowly into
                // standard input is processed as it comes, not when a block is full.
                data.resize(STREAM_READ, 0);
                let mut r = r.lock().unwrap_or_else(|p| p.into_inner());
                let n = loop {
                    match r.read(&mut data) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            block.error = Some(format!("read error: {}", super::io_reason(&e)));
                            break 0;
                        }
                    }
                };
                data.truncate(n);
                block.eof = n == 0;
            }
        }
        self.read.fetch_add(data.len() as u64, Ordering::Relaxed);
        block.data = data;
        block
    }
}
