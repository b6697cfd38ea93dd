//! Frames of several live captures put back in time order, within a bounded window.
//!
//! Why: a tap that sends each direction of the traffic out of its own port (client to server on
//! one interface, server to client on another) gives two captures of one conversation. Each
//! capture is in order, but the kernel hands a capture's frames over a block at a time (when a
//! block fills, or after the read timeout), so read one capture after the other, a pool's reply
//! can come before the request it answers, and the session loses it (or an HTTP flow is judged
//! by its response). Every frame carries the kernel's arrival time, so frames from several
//! captures can be released in time order: a frame is released once no capture can still
//! deliver an earlier one, that is once every capture has shown a later frame, or was found
//! empty long enough after the frame's time (a block is handed over at most one read timeout
//! after its first frame arrived).
//!
//! Bounds: at most `max_bytes` of frames are held (copied, since a capture's frame lives only
//! until its next read); past that the oldest goes out at once, so a flood costs order, never
//! frames or memory. With one capture nothing is held: its own order is time order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::Frame;
use crate::time::Ts;

/// Spare frame buffers kept for reuse, at most.
const SPARE: usize = 4096;

/// A held frame: its time, the order it came in (ties), its capture and its bytes.
type Held = Reverse<(Ts, u64, usize, u32, Vec<u8>)>;

pub struct Merge {
    held: BinaryHeap<Held>,
    bytes: usize,
    max_bytes: usize,
    order: u64,
    /// Per capture: the latest frame time it gave, and the time up to which it can give nothing
    /// more (it was found empty; see [`Merge::drained`]).
    latest: Vec<Ts>,
    quiet_until: Vec<Ts>,
    /// How long after a frame's arrival its capture may hand it over.
    hold_us: i64,
    spare: Vec<Vec<u8>>,
}

impl Merge {
    /// For `captures` captures, which hand a frame over at most `hold_us` after it arrived.
    pub fn new(captures: usize, hold_us: i64, max_bytes: usize) -> Merge {
        Merge {
            held: BinaryHeap::new(),
            bytes: 0,
            max_bytes,
            order: 0,
            latest: vec![Ts(i64::MIN); captures],
            quiet_until: vec![Ts(i64::MIN); captures],
            hold_us,
            spare: Vec::new(),
        }
    }

    /// Keeps a copy of a frame read from capture `c`.
    pub fn push(&mut self, c: usize, frame: &Frame<'_>) {
        let mut data = self.spare.pop().unwrap_or_default();
        data.clear();
        data.extend_from_slice(frame.data);
        self.bytes += data.len();
        if let Some(l) = self.latest.get_mut(c) {
            *l = (*l).max(frame.ts);
        }
        self.held.push(Reverse((frame.ts, self.order, c, frame.wire_len, data)));
        self.order += 1;
    }

    /// Capture `c` was read to its end at wall-clock time `now`: whatever it gives later arrived
    /// after `now` less the hold.
    pub fn drained(&mut self, c: usize, now: Ts) {
        if let Some(q) = self.quiet_until.get_mut(c) {
            *q = (*q).max(Ts(now.0.saturating_sub(self.hold_us)));
        }
    }

    /// Capture `c` failed: it gives nothing more.
    pub fn closed(&mut self, c: usize) {
        if let Some(q) = self.quiet_until.get_mut(c) {
            *q = Ts(i64::MAX);
        }
    }

    /// The time before which no capture can still give a frame.
    fn watermark(&self) -> Ts {
        self.latest.iter().zip(&self.quiet_until).map(|(l, q)| (*l).max(*q)).min().unwrap_or(Ts(i64::MAX))
    }

    /// Releases, in time order, every frame no capture can still precede, and the oldest ones
    /// past the bound (all of them with `all`). `f` gets the capture index and the frame.
    pub fn release(&mut self, all: bool, f: &mut dyn FnMut(usize, &Frame<'_>)) -> usize {
        let mark = self.watermark();
        let mut n = 0;
        while let Some(Reverse((ts, ..))) = self.held.peek() {
            if !(all || *ts <= mark || self.bytes > self.max_bytes) {
                break;
            }
            let Some(Reverse((ts, _, c, wire_len, data))) = self.held.pop() else { break };
            self.bytes -= data.len();
            f(c, &Frame { ts, data: &data, wire_len });
            n += 1;
            if self.spare.len() < SPARE {
                self.spare.push(data);
            }
        }
        n
    }

    /// Whether frames are held (the caller should come back soon even if nothing arrives).
    pub fn holding(&self) -> bool {
        !self.held.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(ts: i64, data: &[u8]) -> Frame<'_> {
        Frame { ts: Ts(ts), data, wire_len: data.len() as u32 }
    }

    fn out(m: &mut Merge, all: bool) -> Vec<(usize, i64, Vec<u8>)> {
        let mut v = Vec::new();
        m.release(all, &mut |c, f| v.push((c, f.ts.0, f.data.to_vec())));
        v
    }

    #[test]
    fn a_reply_read_before_its_request_comes_out_after_it() {
        let mut m = Merge::new(2, 100_000, 1 << 20);
        // The server's capture is read first: its reply (t=20) waits...
        m.push(1, &frame(20, b"reply"));
        m.drained(1, Ts(30));
        assert!(out(&mut m, false).is_empty(), "released before the other capture was read");
        // ... until the client's capture gives its request (t=10) and a later frame (t=25).
        m.push(0, &frame(10, b"request"));
        m.push(0, &frame(25, b"ack"));
        let got = out(&mut m, false);
        assert_eq!(got, vec![(0, 10, b"request".to_vec()), (1, 20, b"reply".to_vec())]);
        // The t=25 frame waits for the server's capture to pass it, or to be quiet long enough.
        assert!(m.holding());
        m.drained(1, Ts(100_024));
        assert!(out(&mut m, false).is_empty());
        m.drained(1, Ts(100_025));
        assert_eq!(out(&mut m, false), vec![(0, 25, b"ack".to_vec())]);
        assert!(!m.holding());
    }

    #[test]
    fn a_quiet_capture_holds_nothing_back_for_longer_than_the_hold() {
        let mut m = Merge::new(2, 100_000, 1 << 20);
        m.push(0, &frame(1_000, b"a"));
        m.drained(0, Ts(1_000));
        // Capture 1 never gives a frame: once it was found empty a hold after t=1000, out.
        m.drained(1, Ts(50_000));
        assert!(out(&mut m, false).is_empty());
        m.drained(1, Ts(101_000));
        assert_eq!(out(&mut m, false).len(), 1);
    }

    #[test]
    fn past_the_bound_the_oldest_go_out_at_once_and_all_flushes() {
        let mut m = Merge::new(2, 100_000, 10);
        for t in 0..5 {
            m.push(0, &frame(t, b"xxxx"));
        }
        // 20 bytes held, 10 allowed: the oldest go until the rest fits.
        let got = out(&mut m, false);
        assert_eq!(got.iter().map(|g| g.1).collect::<Vec<_>>(), vec![0, 1, 2]);
        let rest = out(&mut m, true);
        assert_eq!(rest.iter().map(|g| g.1).collect::<Vec<_>>(), vec![3, 4]);
        assert!(!m.holding());
    }

    #[test]
    fn equal_times_keep_the_order_they_came_in() {
        let mut m = Merge::new(2, 0, 1 << 20);
        m.push(1, &frame(5, b"first"));
        m.push(0, &frame(5, b"second"));
        let got = out(&mut m, true);
        assert_eq!(
            got.iter().map(|g| g.2.clone()).collect::<Vec<_>>(),
            vec![b"first".to_vec(), b"second".to_vec()]
        );
    }
}
