//! One capture file shared by every replaying worker, with no reader thread: each block is read
//! once, by whichever worker gets to it first, and walked by the same worker right after (the
//! walk sorts its frames by owner); then processed by every worker, each taking its own frames.
//!
//! Why this shape: replay's cost is mostly the read itself (the kernel copying the file into
//! memory) and the walk, so a single reader thread feeding the workers, or workers that each walk
//! the whole file, cap the speed-up of a second worker well below 2×. Blocks of a regular file
//! are plain byte ranges at fixed offsets, so workers read different blocks at once with
//! positional reads; a pipe is read in order, one block at a time, by a worker that has
//! processed every block read before (a read of a pipe waits for its writer).
//!
//! Where a block's first record begins is only known for sure once the block before it has been
//! walked, which would make the walks wait for each other. So each worker walks the block it has
//! just read (still in its cache) from a guess ([`Resume::guess`]), side by side with the
//! others; blocks are then committed in file order, one at a time, by whichever worker is free:
//! the [`Stitcher`] puts back the record cut by the block's edge and takes the guess only if it
//! began exactly where that record ends, in the same file state; otherwise the block is walked
//! again in order. A wrong guess costs time, never a frame; the guess's effects (counts, DNS
//! answers) wait for the commit.
//!
//! Bounds: at most [`RING`] blocks per worker are held at once; a worker that runs ahead waits
//! for the slowest one to let go of the oldest block, whose buffer is then reused. A worker that
//! stops leaves, so nobody waits for it; one that panics ends the input at the last block
//! committed (it may have held the walk state or a block half read).

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::file::{Resume, Stitcher, BLOCK};

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
    pub error: Option<super::CaptureError>,
}

enum Source {
    /// A regular file of this many bytes (its size when opened: bytes appended later are not
    /// read, so a replay of a growing capture ends where it began).
    File(File, u64),
    Stream(Mutex<Box<dyn Read + Send>>),
}

enum Slot<T, G> {
    /// Being read, then walked on a guess, by the same worker.
    Reading,
    /// Read and walked on a guess, waiting for its turn to be walked for sure.
    Guessed(Block, Option<G>),
    Committing,
    Walked(Arc<Walked<T>>),
}

/// A block and what its walk made of it.
pub struct Walked<T> {
    pub block: Block,
    pub product: T,
}

struct Ring<T, G> {
    /// Block number of `slots[0]`.
    base: u64,
    slots: VecDeque<Slot<T, G>>,
    /// Blocks walked for sure so far; that walk goes in order, one block at a time.
    walked: u64,
    /// The file's walk state, taken by whoever walks the next block for sure.
    stitcher: Option<Stitcher>,
    /// The state after the latest block walked for sure, for guesses.
    resume: Option<Arc<Resume>>,
    /// Per worker: the next block it will process (every earlier one it is done with).
    next: Vec<u64>,
    /// How many blocks are to be processed, once known (the input's end, its damage, a stop).
    end: Option<u64>,
    /// Why the input ended early.
    error: Option<super::CaptureError>,
    free: Vec<Vec<u8>>,
}

/// What a worker does with the blocks of a shared input.
pub trait BlockWorker<T, G> {
    /// Walks the block this worker has just read (still in its cache) from a guess of where its
    /// first record starts, in the state `from` ([`Resume::guess`]), while other workers walk
    /// other blocks. Nothing of it may take effect before [`BlockWorker::commit`]: the guess
    /// may be wrong.
    fn guess(&mut self, block: &Block, from: &Resume) -> Option<G>;
    /// Walks a block for sure, in file order, one block at a time (any worker may do it):
    /// through `stitcher`, taking the block's guess if it was right. Returns what every
    /// worker's `process` will get.
    fn commit(
        &mut self,
        block: &Block,
        stitcher: &mut Stitcher,
        guess: Option<G>,
    ) -> (T, Result<(), super::FileError>);
    /// Processes a walked block (every worker, every block, in order).
    fn process(&mut self, block: &Block, product: &T);
}

/// An input shared by `workers` workers.
pub struct SharedInput<T, G> {
    source: Source,
    ring: Mutex<Ring<T, G>>,
    changed: Condvar,
    capacity: usize,
    read: AtomicU64,
    stop: Arc<AtomicBool>,
}

impl<T, G> SharedInput<T, G> {
    /// A regular file is read with positional reads; anything else (`-`, a FIFO) in order.
    /// `stop` ends the input at the next block.
    pub fn new(input: super::Input, workers: usize, stop: Arc<AtomicBool>) -> SharedInput<T, G> {
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
            resume: None,
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
    pub fn error(&self) -> Option<super::CaptureError> {
        self.lock().error.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Ring<T, G>> {
        self.ring.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Worker `me` takes part until the input ends: it processes, walks or reads whatever is
    /// due, and waits only when none of that is. `tick` runs after each block it processes.
    pub fn run(&self, me: usize, w: &mut dyn BlockWorker<T, G>, tick: &mut dyn FnMut(&Self)) {
        /// Leaves the input however the worker stops, so nobody waits for it; a worker that
        /// panicked may have held the walk state or a block half read, so the input ends at the
        /// last block walked for sure.
        struct Leave<'a, T, G>(&'a SharedInput<T, G>, usize);
        impl<T, G> Drop for Leave<'_, T, G> {
            fn drop(&mut self) {
                let mut ring = self.0.lock();
                if let Some(n) = ring.next.get_mut(self.1) {
                    *n = u64::MAX;
                }
                if std::thread::panicking() {
                    let walked = ring.walked;
                    ring.end = Some(ring.end.map_or(walked, |e| e.min(walked)));
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
            let due = ring.walked.checked_sub(ring.base).and_then(|i| ring.slots.get(i as usize));
            let open = !ring.end.is_some_and(|e| ring.walked >= e);
            if ring.stitcher.is_some() && open && matches!(due, Some(Slot::Guessed(..))) {
                ring = self.commit(ring, w);
                continue;
            }
            // Read the next unread block, if there is room for it and (on a pipe) nobody
            // else is reading and this worker has processed every block read so far: a read of
            // a pipe waits for the writer, and a worker waiting there with a block of its own
            // being walked would leave its share of that block unprocessed until more input
            // came (a capture written into standard input and held open: never). Otherwise
            // wait for whoever is walking or reading.
            let have = ring.base + ring.slots.len() as u64;
            let room = ring.slots.len() < self.capacity && !ring.end.is_some_and(|e| have >= e);
            let in_order = match self.source {
                Source::File(..) => true,
                Source::Stream(_) => k >= have && !ring.slots.iter().any(|s| matches!(s, Slot::Reading)),
            };
            if room && in_order {
                if self.stop.load(Ordering::Relaxed) {
                    ring.end = Some(ring.end.map_or(have, |e| e.min(have)).max(ring.walked));
                    self.changed.notify_all();
                    continue;
                }
                ring.slots.push_back(Slot::Reading);
                let buf = ring.free.pop().unwrap_or_default();
                let resume = ring.resume.clone();
                drop(ring);
                let block = self.read_block(have, buf);
                let guess = resume.and_then(|r| w.guess(&block, &r));
                ring = self.lock();
                if let Some(slot) = have.checked_sub(ring.base).and_then(|i| ring.slots.get_mut(i as usize)) {
                    *slot = Slot::Guessed(block, guess);
                }
                continue;
            }
            ring = self.changed.wait(ring).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Walks the next block for sure (it has been read and guessed; the caller checked).
    fn commit<'a>(
        &'a self,
        mut ring: MutexGuard<'a, Ring<T, G>>,
        w: &mut dyn BlockWorker<T, G>,
    ) -> MutexGuard<'a, Ring<T, G>> {
        let k = ring.walked;
        let Some(i) = k.checked_sub(ring.base).map(|i| i as usize) else { return ring };
        if ring.stitcher.is_none() || !matches!(ring.slots.get(i), Some(Slot::Guessed(..))) {
            return ring;
        }
        let Some(Slot::Guessed(block, guess)) =
            ring.slots.get_mut(i).map(|s| std::mem::replace(s, Slot::Committing))
        else {
            return ring;
        };
        let Some(mut stitcher) = ring.stitcher.take() else { return ring };
        drop(ring);
        let (product, result) = w.commit(&block, &mut stitcher, guess);
        let resume = stitcher.resume().map(Arc::new);
        ring = self.lock();
        ring.stitcher = Some(stitcher);
        ring.resume = resume;
        ring.walked += 1;
        let err = result.err().map(super::CaptureError::from).or_else(|| block.error.clone());
        if let Some(e) = err {
            ring.error.get_or_insert(e);
            ring.end = Some(ring.end.map_or(k + 1, |e| e.min(k + 1)));
        } else if block.eof {
            ring.end = Some(k + 1);
        }
        // Blocks may have been freed meanwhile: find the slot again.
        if let Some(slot) = k.checked_sub(ring.base).and_then(|i| ring.slots.get_mut(i as usize)) {
            *slot = Slot::Walked(Arc::new(Walked { block, product }));
        }
        self.changed.notify_all();
        ring
    }

    /// Frees the blocks every worker is done with, oldest first.
    fn release<'a>(&'a self, mut ring: MutexGuard<'a, Ring<T, G>>) -> MutexGuard<'a, Ring<T, G>> {
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
                            block.error = Some(super::CaptureError::Shrank);
                            break;
                        }
                        Ok(n) => at += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            block.error = Some(super::CaptureError::Read(super::io_reason(&e)));
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
                            block.error = Some(super::CaptureError::Read(super::io_reason(&e)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::time::Duration;

    /// Where a test worker panics.
    #[derive(Clone, Copy, PartialEq)]
    enum Fail {
        Guess,
        Commit,
        Process,
    }

    /// Counts the blocks it processes, and panics at block [`FAILS_AT`] in `fails` (worker 1
    /// when it processes it; any worker that guesses or commits it).
    struct Counting {
        me: usize,
        fails: Fail,
        processed: Vec<u64>,
    }

    impl Counting {
        fn check(&self, at: Fail, block: &Block) {
            let k = block.data.first().copied().unwrap_or(0);
            if self.fails == at && k == FAILS_AT && (at != Fail::Process || self.me == 1) {
                panic!("test worker fails at block {k}");
            }
        }
    }

    impl BlockWorker<u64, ()> for Counting {
        fn guess(&mut self, block: &Block, _: &Resume) -> Option<()> {
            self.check(Fail::Guess, block);
            Some(())
        }
        fn commit(
            &mut self,
            block: &Block,
            st: &mut Stitcher,
            _: Option<()>,
        ) -> (u64, Result<(), crate::capture::FileError>) {
            self.check(Fail::Commit, block);
            if st.resume().is_none() {
                // A pcap file header, so that later blocks are guessed.
                let mut header = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
                header.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0]);
                st.feed(&header, false, &mut |_, _| {}).unwrap();
            }
            (u64::from(block.data.first().copied().unwrap_or(0)), Ok(()))
        }
        fn process(&mut self, block: &Block, k: &u64) {
            self.check(Fail::Process, block);
            self.processed.push(*k);
        }
    }

    /// Many more blocks than the ring holds, each filled with its number.
    fn numbered_file() -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        for k in 0..BLOCKS {
            f.write_all(&vec![k; BLOCK]).unwrap();
        }
        f
    }

    const BLOCKS: u8 = 32;
    /// Past the blocks read before the first one is walked for sure (those have no state to
    /// begin a guess in, so they are not guessed).
    const FAILS_AT: u8 = 12;

    /// A pipe that hands out `chunks`, one per read, then waits until `closed` says so (a
    /// capture written into standard input by a writer that holds it open), and is at its end
    /// from then on.
    struct HeldPipe {
        chunks: std::collections::VecDeque<Vec<u8>>,
        closed: std::sync::mpsc::Receiver<()>,
        at_end: bool,
    }

    impl Read for HeldPipe {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.chunks.pop_front() {
                Some(c) => {
                    let n = c.len().min(buf.len());
                    buf[..n].copy_from_slice(&c[..n]);
                    Ok(n)
                }
                None => {
                    if !self.at_end {
                        let _ = self.closed.recv();
                        self.at_end = true;
                    }
                    Ok(0)
                }
            }
        }
    }

    /// Records the blocks it processes where the test sees them while it runs; commits slowly,
    /// so that the other worker is free meanwhile.
    struct Slow {
        processed: Arc<Mutex<Vec<u64>>>,
    }

    impl BlockWorker<u64, ()> for Slow {
        fn guess(&mut self, _: &Block, _: &Resume) -> Option<()> {
            None
        }
        fn commit(
            &mut self,
            block: &Block,
            _: &mut Stitcher,
            _: Option<()>,
        ) -> (u64, Result<(), crate::capture::FileError>) {
            std::thread::sleep(Duration::from_millis(200));
            (u64::from(block.data.first().copied().unwrap_or(u8::MAX)), Ok(()))
        }
        fn process(&mut self, _: &Block, k: &u64) {
            self.processed.lock().unwrap().push(*k);
        }
    }

    #[test]
    fn a_worker_does_not_wait_on_a_pipe_with_blocks_of_its_own_unprocessed() {
        // Two blocks come at once, then the writer holds the pipe open. A worker free while the
        // other one walks a block used to go and read the pipe, and wait there with both blocks
        // unprocessed.
        let (close, closed) = std::sync::mpsc::channel();
        let pipe = HeldPipe { chunks: [vec![0u8; 100], vec![1u8; 100]].into(), closed, at_end: false };
        let stop = Arc::new(AtomicBool::new(false));
        let input: Arc<SharedInput<u64, ()>> =
            Arc::new(SharedInput::new(crate::capture::Input::Stream(Box::new(pipe)), 2, stop));
        let seen: Vec<Arc<Mutex<Vec<u64>>>> = (0..2).map(|_| Arc::default()).collect();
        let handles: Vec<_> = (0..2)
            .map(|me| {
                let (input, processed) = (input.clone(), seen[me].clone());
                std::thread::spawn(move || input.run(me, &mut Slow { processed }, &mut |_| {}))
            })
            .collect();
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while seen.iter().any(|s| s.lock().unwrap().len() < 2) && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        let got: Vec<Vec<u64>> = seen.iter().map(|s| s.lock().unwrap().clone()).collect();
        let _ = close.send(());
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(
            got,
            vec![vec![0, 1], vec![0, 1]],
            "every worker processed both blocks while the pipe was open"
        );
    }

    #[test]
    fn a_worker_that_panics_anywhere_leaves_and_the_others_end_in_order() {
        for fails in [Fail::Guess, Fail::Commit, Fail::Process] {
            {
                let f = numbered_file();
                let file = std::fs::File::open(f.path()).unwrap();
                let size = file.metadata().unwrap().len();
                let stop = Arc::new(AtomicBool::new(false));
                let input: Arc<SharedInput<u64, ()>> =
                    Arc::new(SharedInput::new(crate::capture::Input::File(file, size), 2, stop));
                let (tx, rx) = std::sync::mpsc::channel();
                for me in 0..2 {
                    let (input, tx) = (input.clone(), tx.clone());
                    std::thread::spawn(move || {
                        let mut w = Counting { me, fails, processed: Vec::new() };
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            input.run(me, &mut w, &mut |_| {})
                        }));
                        let _ = tx.send((me, r.is_err(), w.processed));
                    });
                }
                let mut panics = 0;
                for _ in 0..2 {
                    let (_, panicked, processed) = rx
                        .recv_timeout(Duration::from_secs(20))
                        .unwrap_or_else(|_| panic!("a worker hung after the other panicked"));
                    panics += usize::from(panicked);
                    // Whatever a worker processed, it processed in order, from the start, and
                    // the input ended at the failure (or as far as the ring ran ahead of it).
                    assert!(processed.iter().enumerate().all(|(i, &k)| k == i as u64), "{processed:?}");
                    let most = usize::from(FAILS_AT) + 2 * RING;
                    assert!(processed.len() <= most, "{} blocks processed", processed.len());
                }
                assert_eq!(panics, 1);
            }
        }
    }
}
