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
//! usually on different workers. Lock-free: a ring of atomic timestamps, written at a slot
//! taken with one `fetch_add`, read by a scan of at most `capacity` loads, which happens only
//! when a suspect has enough pushes to be judged (a few times per suspect, never per packet).
//! Bounded: `capacity` pushes; the oldest is overwritten (counted by the caller). Pushes of the
//! same instant from many sessions are coalesced (within [`COALESCE_US`] of the last one
//! written), so a busy pool does not flush the ring. Live, the writer may be a little behind
//! the suspect's worker: the suspect keeps its last push times and looks again later.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

use crate::time::Ts;

/// Default number of push instants remembered (`--behaviour-clock-capacity`).
pub const DEFAULT_CAPACITY: usize = 4096;
/// Pushes closer than this to the last one written are the same instant (by default: a
/// quarter of the default alignment tolerance, `--behaviour-align-tolerance`).
pub const COALESCE_US: i64 = 500_000;

/// What [`PushClock::record`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// Written into a free slot.
    New,
    /// Written over the oldest push.
    Overwrote,
    /// The same instant as the last push written: nothing to add.
    Coalesced,
}

/// A bounded ring of push instants (microseconds of packet time; 0 is an empty slot).
#[derive(Debug)]
pub struct PushClock {
    slots: Box<[AtomicI64]>,
    coalesce_us: i64,
    next: AtomicUsize,
    last: AtomicI64,
    /// Bumped on every push written, so a waiting suspect knows when to look again.
    generation: AtomicU64,
}

impl Default for PushClock {
    fn default() -> Self {
        PushClock::new(DEFAULT_CAPACITY)
    }
}

impl PushClock {
    pub fn new(capacity: usize) -> PushClock {
        let slots = (0..capacity.max(1)).map(|_| AtomicI64::new(0)).collect();
        PushClock {
            slots,
            coalesce_us: COALESCE_US,
            next: AtomicUsize::new(0),
            last: AtomicI64::new(i64::MIN),
            generation: AtomicU64::new(0),
        }
    }

    /// Pushes closer than `us` to the last one written are taken as the same instant: keep it
    /// well under the alignment tolerance, or a suspect's push at a coalesced instant finds
    /// nothing to line up with.
    pub fn with_coalesce(mut self, us: i64) -> PushClock {
        self.coalesce_us = us.max(0);
        self
    }

    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Remembers a push of a known mining session at `ts`.
    pub fn record(&self, ts: Ts) -> Recorded {
        let t = ts.0.max(1);
        let last = self.last.swap(t, Ordering::Relaxed);
        if last != i64::MIN && t.abs_diff(last) < self.coalesce_us.unsigned_abs() {
            return Recorded::Coalesced;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let old = self.slots.get(i).map_or(0, |s| s.swap(t, Ordering::Relaxed));
        self.generation.fetch_add(1, Ordering::Release);
        if old == 0 {
            Recorded::New
        } else {
            Recorded::Overwrote
        }
    }

    /// How many of `pushes` (0 entries ignored) lie within `tolerance_us` of a remembered push.
    pub fn aligned(&self, pushes: &[i64], tolerance_us: i64) -> u32 {
        if self.next.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        let tol = tolerance_us.unsigned_abs();
        let mut hit = 0u64; // a bit per push (at most 64 are asked about)
        for s in self.slots.iter() {
            let t = s.load(Ordering::Relaxed);
            if t == 0 {
                continue;
            }
            for (k, p) in pushes.iter().enumerate().take(64) {
                if *p != 0 && p.abs_diff(t) <= tol {
                    hit |= 1 << k;
                }
            }
        }
        hit.count_ones()
    }

    /// A number that moves whenever a push is written.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_are_found_within_the_tolerance_and_coalesced_and_bounded() {
        let c = PushClock::new(3);
        assert_eq!(c.aligned(&[5_000_000], 1_000_000), 0);
        assert_eq!(c.record(Ts(10_000_000)), Recorded::New);
        assert_eq!(c.record(Ts(10_200_000)), Recorded::Coalesced);
        assert_eq!(c.record(Ts(130_000_000)), Recorded::New);
        assert_eq!(c.aligned(&[10_900_000, 131_500_000, 70_000_000, 0], 1_000_000), 1);
        assert_eq!(c.aligned(&[10_900_000, 131_500_000], 2_000_000), 2);
        c.record(Ts(250_000_000));
        assert_eq!(c.record(Ts(370_000_000)), Recorded::Overwrote);
        // The oldest (10 s) is gone; the ring holds three.
        assert_eq!(c.aligned(&[10_000_000], 1), 0);
        assert_eq!(c.aligned(&[130_000_000, 250_000_000, 370_000_000], 1), 3);
    }
}
