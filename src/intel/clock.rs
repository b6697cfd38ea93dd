//! The push clock: when known mining sessions were handed new work, shared by every worker.
//!
//! Why: a pool pushes a new job to every miner of a coin within a second or so of a new block
//! (and blocks come at the coin's own random clock). An encrypted session whose unsolicited
//! server records land on those same instants is far more likely mining the same coin than one
//! whose pushes follow an application timer; MineHunter (ACSAC 2021) matched push times
//! against block times from the chain. We have no chain, but cleartext sessions on the same
//! network tell the same clock: each `job`/`mining.notify` a Stratum session read in the clear
//! (and each push of a confirmed behavioural suspect) is written here, and a suspect's pushes
//! are looked up ([`PushClock::aligned`]).
//!
//! Shared like [`super::DnsMap`] (one per run in [`super::Intel`]): a session and a suspect are
//! usually on different workers. Bounded: `capacity` instants; past it the earliest is
//! forgotten (counted by the caller). Pushes of the same instant from many sessions are
//! coalesced into one instant (a slot of [`COALESCE_US`] of packet time), so a busy pool does
//! not flush the clock.
//!
//! The same in replay whatever the number of workers: every push is written with its place in
//! the file ([`FileOrder`]), an instant keeps the push of its slot that comes first in the
//! file (not the first written), and a suspect's worker looks the clock up only once every
//! other worker has processed the frames before its own ([`Place::settled`]), seeing only the
//! pushes of those frames. So the lookup sees what the only worker would see at that frame,
//! whichever worker ran ahead or fell behind. (With a clock that took pushes in the order they
//! were written, a lined-up session was found in 2 of 5 two-worker replays.) Live, there is no
//! file order: the clock is read as it stands, and a suspect whose clock's writer is a little
//! behind looks again at its next records.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_utils::CachePadded;

use crate::time::Ts;

/// Default number of push instants remembered (`--behaviour-clock-capacity`).
pub const DEFAULT_CAPACITY: usize = 4096;
/// Pushes closer than this to the last one written are the same instant (by default: a
/// quarter of the default alignment tolerance, `--behaviour-align-tolerance`).
pub const COALESCE_US: i64 = 500_000;

/// What [`PushClock::record`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// A new instant.
    New,
    /// A new instant, and the earliest one was forgotten to make room.
    Overwrote,
    /// An instant already remembered: nothing to add.
    Coalesced,
}

/// An instant remembered: the push of its slot first in the file, and where it was.
#[derive(Clone, Copy, Debug)]
struct Instant {
    at: u64,
    t: i64,
}

/// A bounded set of push instants (microseconds of packet time), by slot of `coalesce_us`.
///
/// A mutex, not atomics: a push is written a few times a minute per mining session, and read
/// a few times per suspect, never per packet; what it holds has to be the same whatever order
/// the workers wrote it in, which a ring of atomics written in arrival order is not.
#[derive(Debug)]
pub struct PushClock {
    instants: Mutex<BTreeMap<i64, Instant>>,
    capacity: usize,
    coalesce_us: i64,
}

impl Default for PushClock {
    fn default() -> Self {
        PushClock::new(DEFAULT_CAPACITY)
    }
}

impl PushClock {
    pub fn new(capacity: usize) -> PushClock {
        PushClock {
            instants: Mutex::new(BTreeMap::new()),
            capacity: capacity.max(1),
            coalesce_us: COALESCE_US,
        }
    }

    /// Pushes in one slot of `us` are taken as the same instant: keep it well under the
    /// alignment tolerance, or a suspect's push next to a coalesced one finds nothing to line
    /// up with.
    pub fn with_coalesce(mut self, us: i64) -> PushClock {
        self.coalesce_us = us.max(0);
        self
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn slot(&self, t: i64) -> i64 {
        if self.coalesce_us > 0 {
            t.div_euclid(self.coalesce_us)
        } else {
            t
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, Instant>> {
        self.instants.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers a push of a known mining session at `ts`, at place `at` in the file
    /// ([`Place::now`]).
    pub fn record(&self, ts: Ts, at: u64) -> Recorded {
        let t = ts.0;
        let slot = self.slot(t);
        let mut instants = self.lock();
        if let Some(i) = instants.get_mut(&slot) {
            if at < i.at {
                *i = Instant { at, t };
            }
            return Recorded::Coalesced;
        }
        instants.insert(slot, Instant { at, t });
        if instants.len() > self.capacity {
            instants.pop_first();
            return Recorded::Overwrote;
        }
        Recorded::New
    }

    /// How many of `pushes` (0 entries ignored, at most 64 asked about) lie within
    /// `tolerance_us` of a remembered push from a place in the file before `before`
    /// ([`Place::settled`]).
    pub fn aligned(&self, pushes: &[i64], tolerance_us: i64, before: u64) -> u32 {
        let tol = tolerance_us.max(0);
        let instants = self.lock();
        if instants.is_empty() {
            return 0;
        }
        let lined_up = |p: i64| {
            let (lo, hi) = (self.slot(p.saturating_sub(tol)), self.slot(p.saturating_add(tol)));
            instants.range(lo..=hi).any(|(_, i)| i.at < before && p.abs_diff(i.t) <= tol.unsigned_abs())
        };
        pushes.iter().take(64).filter(|p| **p != 0 && lined_up(**p)).count() as u32
    }
}

/// Where each worker of a replay is in the file, for lookups of the push clock in file order:
/// a worker's place is that of the frame it is processing ([`FileOrder::place`]), every frame
/// of its own before it being done. Each place on a cache line of its own: it is written at
/// every frame and read only by a worker about to look up the clock.
#[derive(Debug)]
pub struct FileOrder {
    places: Box<[CachePadded<AtomicU64>]>,
}

impl FileOrder {
    pub fn new(workers: usize) -> FileOrder {
        FileOrder { places: (0..workers).map(|_| CachePadded::new(AtomicU64::new(0))).collect() }
    }

    /// The place in the file of a frame: its block, and its position in the block (any number
    /// that grows along the block).
    pub fn place(block: u64, within: u32) -> u64 {
        (block << 32) | u64::from(within)
    }

    /// Worker `me` is at place `at`: every frame of its own before it is done.
    pub fn set(&self, me: usize, at: u64) {
        if let Some(p) = self.places.get(me) {
            p.store(at, Ordering::Release);
        }
    }

    fn get(&self, me: usize) -> u64 {
        self.places.get(me).map_or(u64::MAX, |p| p.load(Ordering::Acquire))
    }
}

/// A worker's view of the file order: none live or for the only worker of a replay (its
/// frames come in file order already), or its place among the replay's workers.
#[derive(Clone, Debug, Default)]
pub struct Place(Option<(Arc<FileOrder>, usize)>);

impl Place {
    /// Worker `me` of a replay whose workers' places are `order`.
    pub fn replay(order: Arc<FileOrder>, me: usize) -> Place {
        Place(Some((order, me)))
    }

    /// This worker is at place `at` ([`FileOrder::place`]): every frame of its own before it is
    /// done. Nothing without a file order.
    #[inline]
    pub fn set(&self, at: u64) {
        if let Some((order, me)) = &self.0 {
            order.set(*me, at);
        }
    }

    /// What sets this worker's place past every other's when dropped while its thread panics:
    /// the replay ends, and no other worker may wait for this one. None without a file order.
    pub fn leave_on_panic(&self) -> Option<impl Drop> {
        struct Leave(Place);
        impl Drop for Leave {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    self.0.set(u64::MAX);
                }
            }
        }
        self.0.is_some().then(|| Leave(self.clone()))
    }

    /// Where this worker is, for a push it writes (0 without a file order: first come first).
    pub fn now(&self) -> u64 {
        self.0.as_ref().map_or(0, |(o, me)| o.get(*me))
    }

    /// Waits until every other worker has processed the frames before this worker's place,
    /// and returns the place: the clock is looked up with what those frames wrote, as the only
    /// worker would have at this frame. Without a file order, at once: everything written.
    ///
    /// Never waits for ever: a worker behind has every frame before this one's in blocks walked
    /// already, and waits itself only for workers behind it (see the replay's `Replayer`).
    pub fn settled(&self) -> u64 {
        let Some((order, me)) = &self.0 else { return u64::MAX };
        let at = order.get(*me);
        let mut spins = 0u32;
        while order.places.iter().enumerate().any(|(i, p)| i != *me && p.load(Ordering::Acquire) < at) {
            spins += 1;
            if spins < 64 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
        }
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: u64 = u64::MAX;

    #[test]
    fn pushes_are_found_within_the_tolerance_and_coalesced_and_bounded() {
        let c = PushClock::new(3);
        assert_eq!(c.aligned(&[5_000_000], 1_000_000, ALL), 0);
        assert_eq!(c.record(Ts(10_000_000), 0), Recorded::New);
        assert_eq!(c.record(Ts(10_200_000), 0), Recorded::Coalesced);
        assert_eq!(c.record(Ts(130_000_000), 0), Recorded::New);
        assert_eq!(c.aligned(&[10_900_000, 131_500_000, 70_000_000, 0], 1_000_000, ALL), 1);
        assert_eq!(c.aligned(&[10_900_000, 131_500_000], 2_000_000, ALL), 2);
        // The coalesced instant is the first push of its slot, not the last.
        assert_eq!(c.aligned(&[11_100_000], 1_000_000, ALL), 0);
        c.record(Ts(250_000_000), 0);
        assert_eq!(c.record(Ts(370_000_000), 0), Recorded::Overwrote);
        // The earliest (10 s) is gone; the clock holds three.
        assert_eq!(c.aligned(&[10_000_000], 1, ALL), 0);
        assert_eq!(c.aligned(&[130_000_000, 250_000_000, 370_000_000], 1, ALL), 3);
    }

    #[test]
    fn a_lookup_sees_the_pushes_before_its_place_whatever_order_they_were_written_in() {
        // Pushes at 10.0 s (place 5) and 10.3 s (place 2) share a slot; 40 s is at place 9.
        let pushes = [(10_000_000, 5), (10_300_000, 2), (40_000_000, 9)];
        let mut orders = vec![[0, 1, 2], [2, 1, 0], [1, 0, 2], [2, 0, 1]];
        let mut seen = Vec::new();
        for order in orders.drain(..) {
            let c = PushClock::new(8);
            for i in order {
                let (t, at) = pushes[i];
                c.record(Ts(t), at);
            }
            // Before place 2 nothing; before 3 the 10.3 s push alone (10.0 s not yet in the
            // file); before 10 both instants, the slot's still the 10.3 s push.
            let lookups = [
                c.aligned(&[10_300_000], 1, 2),
                c.aligned(&[10_300_000, 40_000_000], 1, 3),
                c.aligned(&[10_300_000, 40_000_000], 1, 10),
                c.aligned(&[10_000_000], 1, 10),
            ];
            seen.push(lookups);
        }
        assert!(seen.iter().all(|l| *l == [0, 1, 2, 0]), "{seen:?}");
    }

    #[test]
    fn a_worker_looks_up_the_clock_once_every_other_has_passed_its_place() {
        let order = Arc::new(FileOrder::new(3));
        let me = Place::replay(order.clone(), 0);
        order.set(0, FileOrder::place(4, 100));
        order.set(1, FileOrder::place(5, 0));
        order.set(2, FileOrder::place(4, 99));
        let behind = {
            let order = order.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                let passing = std::time::Instant::now();
                order.set(2, FileOrder::place(4, 101));
                passing
            })
        };
        let at = me.settled();
        let looked = std::time::Instant::now();
        let passed = behind.join().expect("thread");
        assert_eq!(at, FileOrder::place(4, 100));
        assert!(looked >= passed, "looked up before worker 2 passed the place");
        // A worker that panics is passed at once.
        let gone = {
            let order = order.clone();
            std::thread::spawn(move || {
                let _leave = Place::replay(order.clone(), 2).leave_on_panic();
                order.set(2, 0);
                panic!("worker 2 fails");
            })
        };
        assert!(gone.join().is_err());
        order.set(1, FileOrder::place(9, 1));
        order.set(0, FileOrder::place(9, 0));
        assert_eq!(me.settled(), FileOrder::place(9, 0));
    }
}
