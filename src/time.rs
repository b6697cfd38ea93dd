//! Packet time. Every timestamp minewatch reports comes from the capture, never from the wall
//! clock, so a replay of last month's capture reports last month's times.

use std::fmt;

/// Microseconds since the Unix epoch, as libpcap hands them out (it scales nanosecond pcaps down).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ts(pub i64);

/// Wall-clock time as packet time (what a live capture stamps its frames with), for ticks and
/// stats on a live capture.
pub fn now() -> Ts {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Ts(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

impl Ts {
    pub const fn from_micros(us: i64) -> Ts {
        Ts(us)
    }

    pub fn from_timeval(sec: i64, usec: i64) -> Ts {
        Ts(sec.saturating_mul(1_000_000).saturating_add(usec))
    }

    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Seconds (fractional) from `earlier` to `self`; zero when time went backwards.
    pub fn secs_since(self, earlier: Ts) -> f64 {
        (self.0.saturating_sub(earlier.0)).max(0) as f64 / 1e6
    }

    /// RFC 3339 in UTC with microseconds, e.g. `2024-05-01T12:00:00.000001Z`.
    pub fn rfc3339(self) -> String {
        let secs = self.0.div_euclid(1_000_000);
        let micros = self.0.rem_euclid(1_000_000) as u32;
        match chrono::DateTime::from_timestamp(secs, micros * 1000) {
            Some(dt) => dt.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            None => "1970-01-01T00:00:00.000000Z".to_string(),
        }
    }
}

/// When a schedule kept in packet time (a live flow table's idle sweeps, a replay's ticks)
/// starts again after packet time went back by more than [`Restart::BACK_US`]: captures joined
/// end to end (`mergecap -a`, `cat` of pcapng files) or a capture host's clock stepped back.
/// Without a restart the schedule waits for the capture to catch up, and no flow times out
/// meanwhile. Bounded: a restart (and the sweep that follows, a look at every flow) is allowed
/// once a 64th of what that sweep looks at has been made since the last one: flows created, for
/// a table (which counts them anyway; a count of its own on every packet was 1% of a worker's
/// instructions); frames, for a replay's ticks (a file's tables hold no more flows than it had
/// frames). So a capture whose time goes back and forth at every packet cannot make the sweeps
/// quadratic.
#[derive(Clone, Copy, Debug, Default)]
pub struct Restart {
    /// Flows (or frames) made at the last restart.
    made_then: u64,
}

impl Restart {
    /// Going back by less than this (packets a little out of order, two interfaces' clocks)
    /// only delays the schedule.
    pub const BACK_US: i64 = 60 * 1_000_000;

    /// Whether `now` is earlier than `last` by more than [`Restart::BACK_US`] (no restart
    /// otherwise; cheap enough for every packet, before [`Restart::went_back`]).
    #[inline]
    pub fn far_back(last: Ts, now: Ts) -> bool {
        last.0.saturating_sub(now.0) > Self::BACK_US
    }

    /// Whether `now`, earlier than `last` (the schedule's latest time) by more than
    /// [`Restart::BACK_US`], restarts the schedule, with `made` flows (or frames) made so far
    /// and `size` for a sweep to look at.
    #[cold]
    pub fn went_back(&mut self, last: Ts, now: Ts, made: u64, size: usize) -> bool {
        if !Self::far_back(last, now) || made.saturating_sub(self.made_then) < (size / 64) as u64 {
            return false;
        }
        self.made_then = made;
        true
    }
}

impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_restarts_when_time_goes_back_far_and_not_more_often_than_its_cost() {
        let mut r = Restart::default();
        let (last, now) = (Ts(100_000_000_000), Ts(1_000_000));
        assert!(!r.went_back(last, Ts(last.0 - Restart::BACK_US), 1, 0), "a minute back only delays");
        assert!(r.went_back(last, now, 1, 64), "one new flow pays for a sweep of 64 flows");
        // Right after a restart, time going back again waits for 640 new flows (a table of
        // 40,960), then restarts.
        assert!(!r.went_back(last, now, 1, 40_960));
        assert!(!r.went_back(last, now, 640, 40_960));
        assert!(r.went_back(last, now, 641, 40_960));
        // Extreme times do not overflow.
        assert!(!r.went_back(Ts(i64::MIN), Ts(i64::MAX), u64::MAX, 0));
        assert!(r.went_back(Ts(i64::MAX), Ts(i64::MIN), u64::MAX, 0));
    }

    #[test]
    fn formats_rfc3339_with_micros_in_utc() {
        assert_eq!(Ts::from_timeval(0, 1).rfc3339(), "1970-01-01T00:00:00.000001Z");
        assert_eq!(Ts::from_timeval(1_700_000_000, 123_456).rfc3339(), "2023-11-14T22:13:20.123456Z");
    }

    #[test]
    fn secs_since_never_negative() {
        assert_eq!(Ts(5).secs_since(Ts(10)), 0.0);
        assert_eq!(Ts(3_000_000).secs_since(Ts(1_000_000)), 2.0);
    }
}

/// A point in packet time given on the command line (`--since`, `--until`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// An RFC 3339 time.
    At(Ts),
    /// This long after the first packet of the replay (the earliest first packet of its files).
    After(std::time::Duration),
}

impl When {
    /// The packet time it names, for a replay whose first packet is at `first`.
    pub fn resolve(self, first: Option<Ts>) -> Ts {
        match self {
            When::At(t) => t,
            When::After(d) => {
                let us = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
                Ts(first.unwrap_or_default().0.saturating_add(us))
            }
        }
    }
}
