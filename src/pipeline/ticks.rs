//! A replay's ticks: where, in the file, idle flows end (and the counters go to the collector).
//! Decided once, in file order, over every frame's time, whatever the number of workers: each
//! worker then ticks at the same frames with the same time. Before, each worker ticked on its
//! own frames' times (and each flow table swept on its own packets'), so a single frame whose
//! time jumps ahead (a damaged capture, a clock stepped forward for a moment) ended every idle
//! flow of its owner only: one worker and two gave different sessions on the same file.

use crate::time::{Restart, Ts};

/// How often, in packet time, a replay ticks.
pub(super) const REPLAY_TICK_US: i64 = 5_000_000;

/// What a frame's time does to the schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// Nothing: the next tick is later.
    Wait,
    /// Every worker ticks at this time, before the frame.
    Tick(Ts),
    /// Packet time went far back: the ticks start again from here (counted in
    /// `clock_restarts`).
    Restart,
}

/// The tick schedule of one capture file, stepped through its frames in file order.
#[derive(Debug)]
pub(super) struct Ticks {
    next: Option<Ts>,
    /// Frames stepped through: what pays for a restart (see below).
    frames: u64,
    restart: Restart,
    /// The earliest and latest packet times, for the report's span (`first` above `last`:
    /// no frame).
    first: Ts,
    last: Ts,
}

impl Default for Ticks {
    fn default() -> Ticks {
        Ticks { next: None, frames: 0, restart: Restart::default(), first: Ts(i64::MAX), last: Ts(i64::MIN) }
    }
}

impl Ticks {
    /// The frame at `ts`, next in file order.
    ///
    /// A restart is bounded in frames: allowed once a 64th of the file's frames so far came
    /// since the last one. The tick after it looks at every flow, and the tables hold no more
    /// flows than the file had frames, so a capture whose time swings back and forth at every
    /// frame costs at most 64 looks per frame, not a sweep every other frame. (A bound in flows
    /// created, as a flow table's own sweeps have, would be a fact of each worker's table, and
    /// the schedule must be the same for every number of workers.)
    #[inline]
    pub(super) fn step(&mut self, ts: Ts) -> Step {
        self.frames += 1;
        self.first = self.first.min(ts);
        self.last = self.last.max(ts);
        // Most frames: before the next tick, and not far back from the last one.
        if let Some(t) = self.next {
            if ts < t && !Restart::far_back(Ts(t.0.saturating_sub(REPLAY_TICK_US)), ts) {
                return Step::Wait;
            }
        }
        self.turn(ts)
    }

    /// [`Ticks::step`] where the schedule may turn: a tick, a restart, the first frame.
    #[cold]
    fn turn(&mut self, ts: Ts) -> Step {
        let step = match self.next {
            Some(t) if ts < t => {
                let last = Ts(t.0.saturating_sub(REPLAY_TICK_US));
                if !self.restart.went_back(last, ts, self.frames, self.frames as usize) {
                    return Step::Wait;
                }
                Step::Restart
            }
            Some(_) => Step::Tick(ts),
            None => Step::Wait,
        };
        self.next = Some(Ts(ts.0.saturating_add(REPLAY_TICK_US)));
        step
    }

    /// The earliest and the latest packet time, if any frame was stepped through.
    pub(super) fn span(&self) -> Option<(Ts, Ts)> {
        (self.frames > 0).then_some((self.first, self.last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000;

    fn steps(times: &[i64]) -> Vec<Step> {
        let mut t = Ticks::default();
        times.iter().map(|&s| t.step(Ts(s))).collect()
    }

    #[test]
    fn ticks_come_every_five_seconds_of_packet_time_at_the_frame_that_reaches_them() {
        use Step::*;
        assert_eq!(
            steps(&[0, S, 5 * S, 6 * S, 10 * S, 12 * S]),
            [Wait, Wait, Tick(Ts(5 * S)), Wait, Tick(Ts(10 * S)), Wait]
        );
    }

    #[test]
    fn a_frame_far_ahead_ticks_once_and_time_back_restarts_only_when_paid_for() {
        use Step::*;
        let day = 86_400 * S;
        // Far ahead: one tick there. Back by a day at the next frame: 2 frames since the start
        // pay for a restart (a 64th of 2 is 0), and ticks go on from there.
        assert_eq!(steps(&[0, day, S, 6 * S]), [Wait, Tick(Ts(day)), Restart, Tick(Ts(6 * S))]);
        // Back by less than a minute only waits.
        assert_eq!(steps(&[100 * S, 50 * S, 105 * S]), [Wait, Wait, Tick(Ts(105 * S))]);
        // Swinging by a day at every frame: far fewer restarts than frames.
        let mut t = Ticks::default();
        let n = 40_000;
        let restarts = (0..n).filter(|i| t.step(Ts(i + if i % 2 == 1 { day } else { 0 })) == Restart).count();
        assert!((10..n as usize / 16).contains(&restarts), "{restarts}");
        assert_eq!(t.span(), Some((Ts(0), Ts(n - 1 + day))));
        assert_eq!(Ticks::default().span(), None);
    }
}
