//! `--suppress WINDOW`: at most one `mining` alert per (miner host, pool) per window.
//!
//! Time is packet time, so a replay suppresses as live capture would. The first alert for a pair
//! passes and opens the window; alerts inside it are suppressed (counted, `alerts_suppressed`);
//! the first alert after it passes and opens a new one, so a miner that keeps going is reported
//! again once per window. `mining_session` records are never suppressed.
//!
//! Bound: at most [`MAX_PAIRS`] pairs are remembered. When the table is full, pairs whose window
//! has passed are dropped (at most once per eighth of a window, so the scan cannot go quadratic);
//! if it is still full, the new pair's alert passes unsuppressed and is counted
//! (`suppress_table_full`): a full table costs volume, never an alert.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::time::Ts;

pub const MAX_PAIRS: usize = 100_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Pass,
    Suppress,
    /// Passed, not remembered: the table is full.
    PassTableFull,
}

pub struct Suppressor {
    window_us: i64,
    opened: HashMap<(IpAddr, SocketAddr), Ts>,
    cap: usize,
    next_prune: Ts,
}

impl Suppressor {
    pub fn new(window: Duration) -> Suppressor {
        Suppressor::with_capacity(window, MAX_PAIRS)
    }

    pub fn with_capacity(window: Duration, cap: usize) -> Suppressor {
        let window_us = i64::try_from(window.as_micros()).unwrap_or(i64::MAX);
        Suppressor { window_us, opened: HashMap::new(), cap, next_prune: Ts(i64::MIN) }
    }

    fn inside(&self, opened: Ts, now: Ts) -> bool {
        now.0.saturating_sub(opened.0) < self.window_us
    }

    pub fn check(&mut self, client: IpAddr, pool: SocketAddr, now: Ts) -> Decision {
        let key = (client, pool);
        if let Some(&t) = self.opened.get(&key) {
            if self.inside(t, now) {
                return Decision::Suppress;
            }
            self.opened.insert(key, now);
            return Decision::Pass;
        }
        if self.opened.len() >= self.cap && now >= self.next_prune {
            let w = self.window_us;
            self.opened.retain(|_, t| now.0.saturating_sub(t.0) < w);
            self.next_prune = Ts(now.0.saturating_add((w / 8).max(1_000_000)));
        }
        if self.opened.len() >= self.cap {
            return Decision::PassTableFull;
        }
        self.opened.insert(key, now);
        Decision::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_alert_per_pair_per_window() {
        let mut s = Suppressor::new(Duration::from_secs(600));
        let c: IpAddr = "10.0.0.5".parse().unwrap();
        let p: SocketAddr = "198.51.100.1:3333".parse().unwrap();
        let q: SocketAddr = "198.51.100.1:4444".parse().unwrap();
        let t = |s: i64| Ts::from_timeval(s, 0);
        assert_eq!(s.check(c, p, t(0)), Decision::Pass);
        assert_eq!(s.check(c, p, t(599)), Decision::Suppress);
        assert_eq!(s.check(c, q, t(1)), Decision::Pass);
        assert_eq!(s.check(c, p, t(600)), Decision::Pass);
        assert_eq!(s.check(c, p, t(601)), Decision::Suppress);
    }

    #[test]
    fn full_table_passes_and_prunes() {
        let mut s = Suppressor::with_capacity(Duration::from_secs(10), 2);
        let p: SocketAddr = "198.51.100.1:3333".parse().unwrap();
        let ip = |n: u8| IpAddr::from([10, 0, 0, n]);
        let t = |s: i64| Ts::from_timeval(s, 0);
        assert_eq!(s.check(ip(1), p, t(0)), Decision::Pass);
        assert_eq!(s.check(ip(2), p, t(0)), Decision::Pass);
        assert_eq!(s.check(ip(3), p, t(1)), Decision::PassTableFull);
        assert_eq!(s.check(ip(3), p, t(2)), Decision::PassTableFull);
        assert_eq!(s.check(ip(3), p, t(20)), Decision::Pass);
        assert_eq!(s.check(ip(3), p, t(21)), Decision::Suppress);
    }
}
