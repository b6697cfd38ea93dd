//! One direction of a TCP connection, put back in order.
//!
//! A [`Reassembler`] takes the payload-carrying segments of one direction, in whatever order the
//! wire delivered them, and hands the stream on as [`Chunk`]s in stream order: `Data` for bytes,
//! `Gap` for bytes that will never come (lost before capture, or given up on to stay in bounds).
//! The Stratum framer downstream treats a `Gap` as "resynchronise at the next newline".
//!
//! # Stream offsets
//!
//! Sequence numbers are 32-bit and wrap; internally everything is a 64-bit *stream offset*
//! (bytes since the first byte of the direction), which never wraps. A segment's offset is found
//! by unwrapping its sequence number against `next`, the offset of the next byte to hand out:
//! the signed 32-bit distance `seq - seq(next)` says how far ahead (or behind) it is. That is the
//! usual TCP sequence comparison (RFC 9293 §3.4), valid while a segment is within 2^31 of `next`.
//!
//! # Overlap policy: first wins
//!
//! When two segments carry bytes for the same offsets, the bytes we saw **first** are kept: bytes
//! already handed out are never re-sent, bytes already held keep their value, and a new segment
//! contributes only the offsets nobody had. Operating systems disagree on this (Suricata models
//! "first", "last", "BSD", "Linux", "Windows", ... target policies), and a passive sensor does
//! not know which OS the receiver runs, so it picks one consistent policy. First-wins is the one
//! that needs no rewriting: what has been handed to the parser is never contradicted later, and
//! nothing already held needs to be replaced. Overlapping bytes that match what we hold are
//! counted in [`ReassemblyCounters::retransmitted_bytes`]; a segment whose overlap differs from
//! what we hold counts once in [`ReassemblyCounters::overlap_conflicts`] (a sign of evasion or a
//! broken middlebox). Bytes before `next` have been handed out and are not kept, so they cannot
//! be compared: they count as retransmitted.
//!
//! # Window
//!
//! Bytes more than [`MAX_AHEAD`] (1 GiB) beyond `next` are dropped and counted in
//! [`ReassemblyCounters::ooo_dropped_bytes`]: the largest TCP window (65535 << 14, RFC 7323) is
//! just under 1 GiB, and a sender cannot have more than a window in flight past what the receiver
//! acknowledged, so such bytes are another incarnation of the connection or garbage. The price:
//! if the capture itself loses more than 1 GiB of one direction, that direction never resyncs;
//! the owner can notice `ooo_dropped_bytes` climbing with no data and start a
//! [`Reassembler::midstream`] afresh.
//!
//! # Bounds
//!
//! Out-of-order bytes are copied and held until the hole before them is filled. What is held never
//! exceeds [`ReassemblyLimits::max_ooo_bytes`] payload bytes in at most
//! [`ReassemblyLimits::max_ooo_segments`] runs (a run is a maximal held range built by appending
//! segments that arrive in order behind a hole; allocation overhead is at most 2x per run, capped
//! at `max_ooo_bytes`). When holding a new segment would exceed either limit, the reassembler does
//! not stall and does not drop the new data: it gives up on the *earliest* hole, hands out a `Gap`
//! for it and the held data now in order, and repeats until the new segment fits. If the new
//! segment starts before everything held (or nothing is held and it alone is too big), the gap is
//! declared up to the new segment, which is then handed out directly. So no byte within the window
//! is ever dropped for space; space is bought by declaring holes lost, oldest first, which is what
//! a real receiver's timeout would conclude anyway.
//!
//! # Cost
//!
//! A segment costs O(log n + k log n + len) where n is the number of held runs (at most
//! `max_ooo_segments`) and k the number of held runs it overlaps; each byte is copied at most once
//! into the buffer (appends to a run grow it geometrically). A segment at `next` with nothing held
//! is handed out without copying.
//!
//! # What is not data
//!
//! Zero-length segments (pure ACKs, window probes, SYN/FIN without payload) are ignored and do not
//! set a midstream base. A one-byte segment at `next - 1` is a keep-alive: ignored, not counted.
//! A midstream direction takes the first payload it sees as offset 0; anything that later turns out
//! to be before it is old data.

use std::cmp::{max, min};
use std::collections::BTreeMap;

/// How far beyond `next` a byte may lie and still be this stream: 1 GiB, a hair above the largest
/// TCP window (65535 << 14). Bytes beyond are dropped and counted in `ooo_dropped_bytes`.
pub const MAX_AHEAD: u64 = 1 << 30;

/// What the reassembler hands on, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// The next bytes of the stream. Never empty.
    Data(&'a [u8]),
    /// `missing` bytes will never arrive (lost, or given up on to stay within bounds).
    /// Always > 0, and always followed by `Data` (a gap is only declared up to data we have).
    Gap { missing: u64 },
}

/// Bounds on what one direction may hold while waiting for a missing segment.
#[derive(Clone, Copy, Debug)]
pub struct ReassemblyLimits {
    /// Most payload bytes held out of order. 0 means "never hold": every hole becomes a `Gap`.
    pub max_ooo_bytes: usize,
    /// Most separate held runs (each a map entry plus an allocation).
    pub max_ooo_segments: usize,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        ReassemblyLimits { max_ooo_bytes: 256 * 1024, max_ooo_segments: 256 }
    }
}

/// Counters one direction keeps; the flow table sums them into the stats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReassemblyCounters {
    /// `Gap` chunks handed out (holes given up on, by bound or by `flush`).
    pub gaps: u64,
    /// Sum of `missing` over those gaps.
    pub gap_bytes: u64,
    /// Bytes received again: before `next` (not comparable), or matching held bytes.
    pub retransmitted_bytes: u64,
    /// Segments whose overlap with held bytes differed from them (first wins; counted once each).
    pub overlap_conflicts: u64,
    /// Bytes dropped because they lay more than [`MAX_AHEAD`] beyond `next`.
    pub ooo_dropped_bytes: u64,
}

/// One direction of a TCP connection being put back in order. See the module doc.
///
/// Invariants between calls: every held run is non-empty, runs are disjoint and start strictly
/// after `next`; `held_bytes` is the sum of their lengths and respects the limits.
#[derive(Debug)]
pub struct Reassembler {
    /// Sequence number of stream offset 0; `None` until a midstream direction sees payload.
    base: Option<u32>,
    /// Stream offset of the next byte to hand out: every earlier byte went out as `Data` or `Gap`.
    next: u64,
    /// Out-of-order runs by stream offset.
    held: BTreeMap<u64, Vec<u8>>,
    held_bytes: usize,
    limits: ReassemblyLimits,
    pub counters: ReassemblyCounters,
}

impl Reassembler {
    /// A direction whose SYN carried `isn`: its data starts at `isn + 1`.
    pub fn with_isn(isn: u32, limits: ReassemblyLimits) -> Reassembler {
        Reassembler::new(Some(isn.wrapping_add(1)), limits)
    }

    /// A direction picked up midstream: its data starts at the first payload seen.
    pub fn midstream(limits: ReassemblyLimits) -> Reassembler {
        Reassembler::new(None, limits)
    }

    fn new(base: Option<u32>, limits: ReassemblyLimits) -> Reassembler {
        Reassembler {
            base,
            next: 0,
            held: BTreeMap::new(),
            held_bytes: 0,
            limits,
            counters: ReassemblyCounters::default(),
        }
    }

    /// Takes one segment; hands every byte that is now in order to `out`.
    pub fn segment(&mut self, seq: u32, payload: &[u8], out: &mut dyn FnMut(Chunk<'_>)) {
        if payload.is_empty() {
            return;
        }
        let base = *self.base.get_or_insert(seq);
        let next_seq = seq_at(base, self.next);
        // Signed distance: the standard TCP sequence comparison, valid within 2^31.
        let delta = seq.wrapping_sub(next_seq) as i32;
        let len = len64(payload);

        let (off, data) = if delta < 0 {
            let behind = u64::from(delta.unsigned_abs());
            if behind == 1 && len == 1 {
                // Keep-alive (or zero-window probe) carrying the last acknowledged byte.
                return;
            }
            if len <= behind {
                self.counters.retransmitted_bytes += len;
                return;
            }
            self.counters.retransmitted_bytes += behind;
            (self.next, tail(payload, behind))
        } else {
            (self.next + u64::from(delta.unsigned_abs()), payload)
        };

        let limit = self.next.saturating_add(MAX_AHEAD);
        if off >= limit {
            self.counters.ooo_dropped_bytes += len64(data);
            return;
        }
        let keep = min(len64(data), limit - off);
        self.counters.ooo_dropped_bytes += len64(data) - keep;
        let data = sub(data, 0, keep);
        if data.is_empty() {
            return;
        }

        if off == self.next && self.held.is_empty() {
            // Fast path: in order, nothing waiting. Zero copy.
            self.next += len64(data);
            out(Chunk::Data(data));
            return;
        }
        self.compare_overlaps(off, data);
        self.place_fresh(off, data, out);
    }

    /// The connection ended or timed out: give up on what is missing and hand out what is held.
    /// For each hole before a held run: a `Gap`, then the run. Nothing is held afterwards; the
    /// reassembler stays usable (later data continues after the last held byte).
    pub fn flush(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        while let Some(&first) = self.held.keys().next() {
            self.gap_to(first, out);
            self.drain(out);
        }
    }

    /// Gives up the earliest hole only: a `Gap` for it, then the held data now in order. For a
    /// hole that has waited too long (a lost segment in a one-sided capture, where no ACK tells
    /// us it is gone): the flow goes on instead of waiting for the next hole to fill the buffer.
    pub fn skip_first_hole(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        if let Some(&first) = self.held.keys().next() {
            self.gap_to(first, out);
            self.drain(out);
        }
    }

    /// The peer acknowledged every byte before `ack`. A hole below that point was received by
    /// the peer but not by us: it was lost in the capture and no retransmission will fill it, so
    /// it is given up at once (with the held data behind it). Holes are only given up up to held
    /// data, never speculatively: on a SPAN port an ACK can overtake the data it acknowledges.
    pub fn acked(&mut self, ack: u32, out: &mut dyn FnMut(Chunk<'_>)) {
        let Some(base) = self.base else { return };
        let delta = ack.wrapping_sub(seq_at(base, self.next)) as i32;
        if delta <= 0 {
            return;
        }
        let ack_off = self.next + u64::from(delta.unsigned_abs());
        while let Some(&first) = self.held.keys().next() {
            if first > ack_off {
                return;
            }
            self.gap_to(first, out);
            self.drain(out);
        }
    }

    /// Bytes held out of order. Never more than `limits.max_ooo_bytes`.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Separate runs held out of order. Never more than `limits.max_ooo_segments`.
    pub fn held_segments(&self) -> usize {
        self.held.len()
    }

    /// Stream offset of the next byte to hand out: bytes handed out as `Data` plus `Gap` bytes.
    pub fn stream_offset(&self) -> u64 {
        self.next
    }

    /// Sequence number of the next byte expected; `None` for a midstream direction before its
    /// first payload.
    pub fn next_seq(&self) -> Option<u32> {
        self.base.map(|b| seq_at(b, self.next))
    }

    /// The limits this direction was built with.
    pub fn limits(&self) -> ReassemblyLimits {
        self.limits
    }

    /// Counts, without changing anything, how `data` at `off` agrees with the held runs it
    /// overlaps. Done before any placing, because placing may hand those runs out.
    fn compare_overlaps(&mut self, off: u64, data: &[u8]) {
        let end = off + len64(data);
        let from = match self.held.range(..off).next_back() {
            Some((&k, v)) if k + len64(v) > off => k,
            _ => off,
        };
        let mut conflict = false;
        for (&k, v) in self.held.range(from..end) {
            let lo = max(k, off);
            let hi = min(k + len64(v), end);
            if lo >= hi {
                continue;
            }
            let ours = sub(data, lo - off, hi - off);
            let theirs = sub(v, lo - k, hi - k);
            if ours == theirs {
                self.counters.retransmitted_bytes += hi - lo;
            } else {
                conflict = true;
                let same = ours.iter().zip(theirs).filter(|(a, b)| a == b).count();
                self.counters.retransmitted_bytes += same as u64;
            }
        }
        if conflict {
            self.counters.overlap_conflicts += 1;
        }
    }

    /// Places the parts of `data` (at stream offset `off >= next`) that nobody had: first wins.
    fn place_fresh(&mut self, off: u64, data: &[u8], out: &mut dyn FnMut(Chunk<'_>)) {
        let end = off + len64(data);
        let mut c = off;
        loop {
            // Placing may hand out held runs (and fresh pieces) and so move `next` past `c`.
            c = max(c, self.next);
            if c >= end {
                return;
            }
            if let Some((&k, v)) = self.held.range(..=c).next_back() {
                let k_end = k + len64(v);
                if k_end > c {
                    c = k_end;
                    continue;
                }
            }
            // No held run covers `c`, so the next one (if any) starts after it.
            let b = self.held.range(c..).next().map_or(end, |(&k, _)| min(k, end));
            self.place(c, sub(data, c - off, b - off), out);
            c = b;
        }
    }

    /// Hands out or holds `bytes`, which belong at `at >= next` and overlap nothing held.
    fn place(&mut self, at: u64, bytes: &[u8], out: &mut dyn FnMut(Chunk<'_>)) {
        if bytes.is_empty() || at < self.next {
            return; // Unreachable by the callers' invariants; kept so no input can misplace data.
        }
        let len = bytes.len();
        loop {
            if at == self.next {
                self.next += len64(bytes);
                out(Chunk::Data(bytes));
                self.drain(out);
                return;
            }
            let append_to = match self.held.range(..at).next_back() {
                Some((&k, v)) if k + len64(v) == at => Some(k),
                _ => None,
            };
            let bytes_fit = self.held_bytes.checked_add(len).is_some_and(|t| t <= self.limits.max_ooo_bytes);
            let runs_fit = append_to.is_some() || self.held.len() < self.limits.max_ooo_segments;
            if bytes_fit && runs_fit {
                self.hold(at, append_to, bytes);
                return;
            }
            // Out of room: give up on the earliest hole. Held runs before `at` cannot reach past
            // it (`bytes` overlaps nothing held), so afterwards `next <= at` still holds.
            match self.held.keys().next() {
                Some(&first) if first < at => {
                    self.gap_to(first, out);
                    self.drain(out);
                }
                _ => self.gap_to(at, out),
            }
        }
    }

    fn hold(&mut self, at: u64, append_to: Option<u64>, bytes: &[u8]) {
        let cap = self.limits.max_ooo_bytes;
        match append_to.and_then(|k| self.held.get_mut(&k)) {
            Some(run) => {
                let need = run.len() + bytes.len();
                if run.capacity() < need {
                    // Grow geometrically (linear total copying) but never past the byte limit.
                    let want = min(max(run.capacity().saturating_mul(2), need), max(cap, need));
                    run.reserve_exact(want - run.len());
                }
                run.extend_from_slice(bytes);
            }
            None => {
                self.held.insert(at, bytes.to_vec());
            }
        }
        self.held_bytes += bytes.len();
    }

    /// Hands out held runs that are now in order.
    fn drain(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        while let Some(entry) = self.held.first_entry() {
            let k = *entry.key();
            if k > self.next {
                return;
            }
            let run = entry.remove();
            self.held_bytes -= run.len();
            // `k < next` cannot happen (runs start after `next`); trimming keeps it harmless.
            let rest = tail(&run, self.next - k);
            if !rest.is_empty() {
                self.next += len64(rest);
                out(Chunk::Data(rest));
            }
        }
    }

    /// Declares the bytes from `next` up to `target` lost.
    fn gap_to(&mut self, target: u64, out: &mut dyn FnMut(Chunk<'_>)) {
        if target > self.next {
            let missing = target - self.next;
            self.counters.gaps += 1;
            self.counters.gap_bytes += missing;
            self.next = target;
            out(Chunk::Gap { missing });
        }
    }
}

/// Sequence number of stream offset `off`: sequence space is offset modulo 2^32.
fn seq_at(base: u32, off: u64) -> u32 {
    base.wrapping_add(off as u32)
}

fn len64(b: &[u8]) -> u64 {
    b.len() as u64
}

/// `b[from..]`, or empty if `from` is past the end.
fn tail(b: &[u8], from: u64) -> &[u8] {
    usize::try_from(from).ok().and_then(|f| b.get(f..)).unwrap_or_default()
}

/// `b[from..to]`, or empty if the range is not inside `b`.
fn sub(b: &[u8], from: u64, to: u64) -> &[u8] {
    match (usize::try_from(from), usize::try_from(to)) {
        (Ok(f), Ok(t)) => b.get(f..t).unwrap_or_default(),
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An owned `Chunk`, so output can be collected and compared.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Out {
        Data(Vec<u8>),
        Gap(u64),
    }

    fn sink(v: &mut Vec<Out>) -> impl FnMut(Chunk<'_>) + '_ {
        move |c| match c {
            Chunk::Data(d) => {
                assert!(!d.is_empty(), "empty Data chunk");
                v.push(Out::Data(d.to_vec()))
            }
            Chunk::Gap { missing } => {
                assert!(missing > 0, "empty Gap chunk");
                v.push(Out::Gap(missing))
            }
        }
    }

    /// Feeds segments, returns output with adjacent `Data` merged (chunking is not the contract).
    fn feed(r: &mut Reassembler, segs: &[(u32, &[u8])]) -> Vec<Out> {
        let mut v = Vec::new();
        for &(seq, p) in segs {
            r.segment(seq, p, &mut sink(&mut v));
        }
        merge(v)
    }

    fn flush(r: &mut Reassembler) -> Vec<Out> {
        let mut v = Vec::new();
        r.flush(&mut sink(&mut v));
        merge(v)
    }

    fn merge(v: Vec<Out>) -> Vec<Out> {
        let mut m: Vec<Out> = Vec::new();
        for o in v {
            match (m.last_mut(), o) {
                (Some(Out::Data(a)), Out::Data(b)) => a.extend_from_slice(&b),
                (_, o) => m.push(o),
            }
        }
        m
    }

    fn data(b: &[u8]) -> Out {
        Out::Data(b.to_vec())
    }

    fn big() -> ReassemblyLimits {
        ReassemblyLimits { max_ooo_bytes: 1 << 20, max_ooo_segments: 1 << 16 }
    }

    const ISN: u32 = 1000;
    const S: u32 = ISN + 1;

    #[test]
    fn in_order_is_zero_copy() {
        let mut r = Reassembler::with_isn(ISN, Default::default());
        let a = b"mining.subscribe".to_vec();
        let b = b"\n{}".to_vec();
        let mut ptrs = Vec::new();
        let mut out = |c: Chunk<'_>| {
            if let Chunk::Data(d) = c {
                ptrs.push((d.as_ptr() as usize, d.len()));
            }
        };
        r.segment(S, &a, &mut out);
        r.segment(S + a.len() as u32, &b, &mut out);
        assert_eq!(ptrs, vec![(a.as_ptr() as usize, a.len()), (b.as_ptr() as usize, b.len())]);
        assert_eq!(r.held_bytes(), 0);
        assert_eq!(r.counters, ReassemblyCounters::default());
        assert_eq!(r.next_seq(), Some(S + 19));
    }

    #[test]
    fn reordered() {
        let mut r = Reassembler::with_isn(ISN, Default::default());
        assert_eq!(feed(&mut r, &[(S + 6, b"ghi"), (S + 3, b"def")]), vec![]);
        assert_eq!(r.held_bytes(), 6);
        assert_eq!(feed(&mut r, &[(S, b"abc")]), vec![data(b"abcdefghi")]);
        assert_eq!(r.held_bytes(), 0);
        assert_eq!(r.held_segments(), 0);
        assert_eq!(r.counters, ReassemblyCounters::default());
    }

    #[test]
    fn in_order_behind_a_hole_appends_to_one_run() {
        let mut r = Reassembler::with_isn(ISN, Default::default());
        feed(&mut r, &[(S + 1, b"b"), (S + 2, b"c"), (S + 3, b"d")]);
        assert_eq!(r.held_segments(), 1);
        assert_eq!(feed(&mut r, &[(S, b"a")]), vec![data(b"abcd")]);
    }

    #[test]
    fn duplicates_are_counted_once_delivered_once() {
        let mut r = Reassembler::with_isn(ISN, Default::default());
        let o = feed(&mut r, &[(S + 3, b"def"), (S + 3, b"def"), (S, b"abc"), (S, b"abc"), (S + 3, b"def")]);
        assert_eq!(o, vec![data(b"abcdef")]);
        assert_eq!(r.counters.retransmitted_bytes, 9);
        assert_eq!(r.counters.overlap_conflicts, 0);
    }

    #[test]
    fn overlap_conflict_first_wins() {
        let mut r = Reassembler::with_isn(ISN, Default::default());
        assert_eq!(feed(&mut r, &[(S + 4, b"EFGH")]), vec![]);
        // Covers the held run and the hole on both sides; differs on two held bytes.
        let o = feed(&mut r, &[(S + 2, b"cdEfgHij")]);
        assert_eq!(o, vec![]);
        assert_eq!(r.counters.overlap_conflicts, 1);
        assert_eq!(r.counters.retransmitted_bytes, 2); // 'E' and 'H' matched
        assert_eq!(feed(&mut r, &[(S, b"ab")]), vec![data(b"abcdEFGHij")]);
        // A second, fully contained conflicting copy: still the first bytes.
        let o = feed(&mut r, &[(S + 12, b"mn"), (S + 12, b"MN"), (S + 10, b"kl")]);
        assert_eq!(o, vec![data(b"klmn")]);
        assert_eq!(r.counters.overlap_conflicts, 2);
    }

    #[test]
    fn overlap_with_delivered_bytes_keeps_them() {
        let mut r = Reassembler::with_isn(ISN, Default::default());
        feed(&mut r, &[(S, b"abcd")]);
        // Old part cannot be compared (not kept): counted as retransmitted, new part delivered.
        assert_eq!(feed(&mut r, &[(S + 2, b"XXef")]), vec![data(b"ef")]);
        assert_eq!(r.counters.retransmitted_bytes, 2);
        assert_eq!(r.counters.overlap_conflicts, 0);
    }

    #[test]
    fn in_order_segment_spanning_held_runs() {
        let mut r = Reassembler::with_isn(ISN, Default::default());
        feed(&mut r, &[(S + 2, b"cd"), (S + 6, b"gh")]);
        assert_eq!(r.held_segments(), 2);
        let o = feed(&mut r, &[(S, b"abcdefghij")]);
        assert_eq!(o, vec![data(b"abcdefghij")]);
        assert_eq!(r.counters.retransmitted_bytes, 4);
        assert_eq!(r.held_bytes(), 0);
    }

    #[test]
    fn split_to_one_byte_reversed() {
        let msg = b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n";
        let mut r = Reassembler::with_isn(ISN, Default::default());
        let mut o = Vec::new();
        for i in (0..msg.len()).rev() {
            o.extend(feed(&mut r, &[(S + i as u32, &msg[i..i + 1])]));
        }
        assert_eq!(merge(o), vec![data(msg)]);
        assert_eq!(r.held_bytes(), 0);
    }

    #[test]
    fn wraps_past_u32_max() {
        let isn = u32::MAX - 2; // data starts at MAX-1: MAX-1, MAX, 0, 1, ...
        let mut r = Reassembler::with_isn(isn, Default::default());
        let s = isn.wrapping_add(1);
        let o = feed(
            &mut r,
            &[
                (s.wrapping_add(4), b"efgh"),
                (s.wrapping_add(2), b"cd"),
                (s, b"ab"),
                (s.wrapping_add(1), b"bc"), // retransmission across the wrap
                (s.wrapping_add(8), b"ij"),
            ],
        );
        assert_eq!(o, vec![data(b"abcdefghij")]);
        assert_eq!(r.next_seq(), Some(8));
        assert_eq!(r.stream_offset(), 10);
        assert_eq!(r.counters.retransmitted_bytes, 2);
    }

    #[test]
    fn byte_bound_forces_gap_then_data() {
        let lim = ReassemblyLimits { max_ooo_bytes: 8, max_ooo_segments: 16 };
        let mut r = Reassembler::with_isn(ISN, lim);
        assert_eq!(feed(&mut r, &[(S + 4, b"efgh")]), vec![]);
        // 4 + 8 > 8: give up on [0,4), hand out efgh, then hold the new segment.
        let o = feed(&mut r, &[(S + 12, b"mnopqrst")]);
        assert_eq!(o, vec![Out::Gap(4), data(b"efgh")]);
        assert_eq!(r.held_bytes(), 8);
        assert_eq!(r.counters.gaps, 1);
        assert_eq!(r.counters.gap_bytes, 4);
        assert_eq!(r.counters.ooo_dropped_bytes, 0);
        // The hole fills after all.
        assert_eq!(feed(&mut r, &[(S + 8, b"ijkl")]), vec![data(b"ijklmnopqrst")]);
    }

    #[test]
    fn segment_bound_forces_gap() {
        let lim = ReassemblyLimits { max_ooo_bytes: 1000, max_ooo_segments: 2 };
        let mut r = Reassembler::with_isn(ISN, lim);
        feed(&mut r, &[(S + 2, b"c"), (S + 4, b"e")]);
        assert_eq!(r.held_segments(), 2);
        let o = feed(&mut r, &[(S + 6, b"g")]);
        assert_eq!(o, vec![Out::Gap(2), data(b"c")]);
        assert_eq!(r.held_segments(), 2);
        // Late bytes of the abandoned hole are old now.
        assert_eq!(feed(&mut r, &[(S, b"ab")]), vec![]);
        assert_eq!(r.counters.retransmitted_bytes, 2);
    }

    #[test]
    fn too_big_to_hold_goes_out_after_a_gap() {
        let lim = ReassemblyLimits { max_ooo_bytes: 4, max_ooo_segments: 4 };
        let mut r = Reassembler::with_isn(ISN, lim);
        feed(&mut r, &[(S + 20, b"uv")]);
        // Starts before everything held and cannot be held: gap to it, hand it out directly,
        // and the held run is in order behind it.
        let o = feed(&mut r, &[(S + 10, b"klmnopqrst")]);
        assert_eq!(o, vec![Out::Gap(10), data(b"klmnopqrstuv")]);
        assert_eq!(r.held_bytes(), 0);
        // Zero limits: never hold, every hole is a gap.
        let mut r = Reassembler::with_isn(ISN, ReassemblyLimits { max_ooo_bytes: 0, max_ooo_segments: 0 });
        let o = feed(&mut r, &[(S + 3, b"d"), (S + 1, b"b"), (S + 4, b"e")]);
        assert_eq!(o, vec![Out::Gap(3), data(b"de")]);
    }

    #[test]
    fn skip_first_hole_gives_up_only_the_earliest() {
        let mut r = Reassembler::with_isn(0, big());
        let mut got = feed(&mut r, &[(1, b"ab"), (5, b"ef"), (9, b"ij")]);
        let mut v = Vec::new();
        r.skip_first_hole(&mut sink(&mut v));
        got.extend(v);
        assert_eq!(merge(got), vec![data(b"ab"), Out::Gap(2), data(b"ef")]);
        assert_eq!(r.held_bytes(), 2);
        assert_eq!(r.counters.gaps, 1);
    }

    #[test]
    fn ack_beyond_a_hole_gives_it_up_but_not_speculatively() {
        let mut r = Reassembler::with_isn(0, big());
        let mut got = feed(&mut r, &[(1, b"ab"), (5, b"ef")]);
        let mut v = Vec::new();
        // An ACK that only reaches into the hole changes nothing: the data may still come.
        r.acked(4, &mut sink(&mut v));
        assert!(v.is_empty());
        // An ACK past the held run: the hole before it is lost.
        r.acked(7, &mut sink(&mut v));
        got.extend(v);
        assert_eq!(merge(got), vec![data(b"ab"), Out::Gap(2), data(b"ef")]);
        // Nothing held: an ACK ahead of us declares nothing.
        let mut w = Vec::new();
        r.acked(100, &mut sink(&mut w));
        assert!(w.is_empty());
        assert_eq!(r.stream_offset(), 6);
    }

    #[test]
    fn flush_emits_gap_then_data_per_hole() {
        let mut r = Reassembler::with_isn(ISN, Default::default());
        feed(&mut r, &[(S, b"ab"), (S + 4, b"ef"), (S + 9, b"j")]);
        assert_eq!(flush(&mut r), vec![Out::Gap(2), data(b"ef"), Out::Gap(3), data(b"j")]);
        assert_eq!(r.held_bytes(), 0);
        assert_eq!(r.held_segments(), 0);
        assert_eq!(r.counters.gaps, 2);
        assert_eq!(r.counters.gap_bytes, 5);
        assert_eq!(flush(&mut r), vec![]);
        // Still usable: continues after the last byte.
        assert_eq!(feed(&mut r, &[(S + 10, b"k")]), vec![data(b"k")]);
    }

    #[test]
    fn old_data_is_counted_and_ignored() {
        let mut r = Reassembler::with_isn(ISN, Default::default());
        feed(&mut r, &[(S, b"0123456789")]);
        assert_eq!(feed(&mut r, &[(S, b"01234"), (S + 3, b"XYZ")]), vec![]);
        assert_eq!(r.counters.retransmitted_bytes, 8);
        // A stray SYN retransmission (seq = ISN, no payload) changes nothing.
        assert_eq!(feed(&mut r, &[(ISN, b"")]), vec![]);
        assert_eq!(r.stream_offset(), 10);
    }

    #[test]
    fn far_future_is_dropped() {
        let mut r = Reassembler::with_isn(ISN, Default::default());
        let far = S.wrapping_add(MAX_AHEAD as u32);
        assert_eq!(feed(&mut r, &[(far, b"nope")]), vec![]);
        assert_eq!(r.counters.ooo_dropped_bytes, 4);
        assert_eq!(r.held_bytes(), 0);
        // Straddling the edge: the byte inside is held, the rest dropped.
        feed(&mut r, &[(far.wrapping_sub(1), b"yes!")]);
        assert_eq!(r.held_bytes(), 1);
        assert_eq!(r.counters.ooo_dropped_bytes, 7);
        // Just beyond 2^31 ahead reads as behind: old, never delivered.
        feed(&mut r, &[(S.wrapping_add(0x8000_0001), b"old")]);
        assert_eq!(r.counters.retransmitted_bytes, 3);
        assert_eq!(feed(&mut r, &[(S, b"ok")]), vec![data(b"ok")]);
    }

    #[test]
    fn keep_alive_and_empty_segments_do_not_corrupt() {
        let mut r = Reassembler::with_isn(ISN, Default::default());
        feed(&mut r, &[(S, b"abc")]);
        let o = feed(&mut r, &[(S + 2, b"\0"), (S + 3, b""), (S + 100, b""), (S + 3, b"d")]);
        assert_eq!(o, vec![data(b"d")]);
        assert_eq!(r.counters, ReassemblyCounters::default());
        // Zero-window probe: one new byte, then the same byte re-sent with more.
        assert_eq!(feed(&mut r, &[(S + 4, b"e")]), vec![data(b"e")]);
        assert_eq!(feed(&mut r, &[(S + 4, b"efg")]), vec![data(b"fg")]);
    }

    #[test]
    fn midstream_base_is_first_payload() {
        let mut r = Reassembler::midstream(Default::default());
        assert_eq!(r.next_seq(), None);
        // A pure ACK does not set the base.
        assert_eq!(feed(&mut r, &[(5, b"")]), vec![]);
        assert_eq!(r.next_seq(), None);
        let o = feed(&mut r, &[(u32::MAX, b"xy"), (3, b"b"), (1, b"za")]);
        assert_eq!(o, vec![data(b"xyzab")]);
        // Anything before the first payload is old.
        assert_eq!(feed(&mut r, &[(u32::MAX - 10, b"old")]), vec![]);
        assert_eq!(r.counters.retransmitted_bytes, 3);
    }

    /// A million one-byte segments out of order within a sliding window, default limits: must
    /// finish quickly (linear-ish), hold within bounds and account for every byte.
    #[test]
    fn million_one_byte_segments_stay_bounded() {
        let n: u32 = 1_000_000;
        let lim = ReassemblyLimits::default();
        let mut r = Reassembler::with_isn(ISN, lim);
        let (mut data_bytes, mut gap_bytes) = (0u64, 0u64);
        let mut out = |c: Chunk<'_>| match c {
            Chunk::Data(d) => data_bytes += d.len() as u64,
            Chunk::Gap { missing } => gap_bytes += missing,
        };
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for block in 0..n / 1000 {
            // Each block of 1000 in a pseudo-random order (full-period LCG over 1024 values).
            for _ in 0..1024 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let i = (x >> 54) as u32; // 0..1024
                if i < 1000 {
                    let off = block * 1000 + i;
                    r.segment(S.wrapping_add(off), &[off as u8], &mut out);
                    assert!(r.held_bytes() <= lim.max_ooo_bytes);
                    assert!(r.held_segments() <= lim.max_ooo_segments);
                }
            }
        }
        r.flush(&mut out);
        assert_eq!(data_bytes + gap_bytes, u64::from(n));
        assert_eq!(r.stream_offset(), u64::from(n));
    }

    // ---- properties ----

    fn isn_strategy() -> impl Strategy<Value = u32> {
        prop_oneof![any::<u32>(), (u32::MAX - 5000)..=u32::MAX, 0u32..5000]
    }

    /// Small deterministic RNG for permutations, seeded by proptest.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// A transmission of `stream`: segments covering it (sizes cycled from `sizes`), plus
    /// duplicates and overlapping re-sends `(start, len)` of the same bytes, randomly permuted.
    /// Returns `(offset, len)` pairs.
    fn transmission(
        len: usize,
        sizes: &[usize],
        dups: &[usize],
        resends: &[(usize, usize)],
        seed: u64,
    ) -> Vec<(usize, usize)> {
        let mut segs = Vec::new();
        let mut off = 0;
        let mut i = 0;
        while off < len {
            let n = sizes.get(i % sizes.len().max(1)).copied().unwrap_or(1).max(1);
            let n = n.min(len - off);
            segs.push((off, n));
            off += n;
            i += 1;
        }
        let base = segs.len();
        if base > 0 {
            for &d in dups {
                segs.push(segs[d % base]);
            }
            for &(s, n) in resends {
                let s = s % len;
                segs.push((s, n.min(len - s)));
            }
        }
        let mut rng = Rng(seed | 1);
        for i in (1..segs.len()).rev() {
            segs.swap(i, rng.below(i + 1));
        }
        segs
    }

    /// Walks output against the true stream: every `Data` byte must be the stream's byte at that
    /// position, every `Gap` positive and followed by `Data`. Returns (data bytes, gap bytes).
    fn check_against(stream: &[u8], out: &[Out]) -> Result<(u64, u64), TestCaseError> {
        let (mut pos, mut d, mut g) = (0usize, 0u64, 0u64);
        for (i, o) in out.iter().enumerate() {
            match o {
                Out::Data(b) => {
                    prop_assert!(!b.is_empty());
                    prop_assert!(pos + b.len() <= stream.len());
                    prop_assert_eq!(&stream[pos..pos + b.len()], &b[..]);
                    pos += b.len();
                    d += b.len() as u64;
                }
                Out::Gap(m) => {
                    prop_assert!(*m > 0);
                    prop_assert!(matches!(out.get(i + 1), Some(Out::Data(_))));
                    pos += *m as usize;
                    g += m;
                }
            }
        }
        Ok((d, g))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Large limits: any order, duplicates and same-byte overlaps give back the stream exactly,
        /// with no gap, before any flush.
        #[test]
        fn any_order_gives_back_the_stream(
            stream in proptest::collection::vec(any::<u8>(), 0..4000),
            isn in isn_strategy(),
            sizes in proptest::collection::vec(1usize..200, 1..50),
            dups in proptest::collection::vec(any::<usize>(), 0..30),
            resends in proptest::collection::vec((any::<usize>(), 1usize..300), 0..30),
            seed in any::<u64>(),
        ) {
            let segs = transmission(stream.len(), &sizes, &dups, &resends, seed);
            let mut r = Reassembler::with_isn(isn, big());
            let mut out = Vec::new();
            for &(off, n) in &segs {
                let seq = isn.wrapping_add(1).wrapping_add(off as u32);
                r.segment(seq, &stream[off..off + n], &mut sink(&mut out));
            }
            let out = merge(out);
            if stream.is_empty() {
                prop_assert!(out.is_empty());
            } else {
                prop_assert_eq!(out, vec![Out::Data(stream.clone())]);
            }
            prop_assert_eq!(r.held_bytes(), 0);
            prop_assert_eq!(flush(&mut r), vec![]);
            prop_assert_eq!(r.counters.gaps, 0);
            prop_assert_eq!(r.counters.overlap_conflicts, 0);
            prop_assert_eq!(r.counters.ooo_dropped_bytes, 0);
            prop_assert_eq!(r.next_seq(), Some(isn.wrapping_add(1).wrapping_add(stream.len() as u32)));
        }

        /// Small limits: holding never exceeds them; every Data byte is the stream's byte at its
        /// position; after the whole transmission and a flush, Data + Gap bytes == stream length
        /// (a gap is only declared up to data we have, so the last byte is never given up on);
        /// the counters agree with the chunks.
        #[test]
        fn small_limits_give_the_stream_with_gaps(
            stream in proptest::collection::vec(any::<u8>(), 1..4000),
            isn in isn_strategy(),
            sizes in proptest::collection::vec(1usize..200, 1..50),
            dups in proptest::collection::vec(any::<usize>(), 0..30),
            resends in proptest::collection::vec((any::<usize>(), 1usize..300), 0..30),
            seed in any::<u64>(),
            max_ooo_bytes in 0usize..600,
            max_ooo_segments in 0usize..6,
        ) {
            let lim = ReassemblyLimits { max_ooo_bytes, max_ooo_segments };
            let segs = transmission(stream.len(), &sizes, &dups, &resends, seed);
            let mut r = Reassembler::with_isn(isn, lim);
            let mut out = Vec::new();
            for &(off, n) in &segs {
                let seq = isn.wrapping_add(1).wrapping_add(off as u32);
                r.segment(seq, &stream[off..off + n], &mut sink(&mut out));
                prop_assert!(r.held_bytes() <= max_ooo_bytes);
                prop_assert!(r.held_segments() <= max_ooo_segments);
            }
            r.flush(&mut sink(&mut out));
            let out = merge(out);
            let (d, g) = check_against(&stream, &out)?;
            prop_assert_eq!(d + g, stream.len() as u64);
            prop_assert_eq!(r.stream_offset(), stream.len() as u64);
            prop_assert_eq!(r.held_bytes(), 0);
            prop_assert_eq!(r.counters.gap_bytes, g);
            prop_assert_eq!(r.counters.gaps, out.iter().filter(|o| matches!(o, Out::Gap(_))).count() as u64);
            prop_assert_eq!(r.counters.overlap_conflicts, 0);
            prop_assert_eq!(r.counters.ooo_dropped_bytes, 0);
        }

        /// First wins, against a model: with large limits and re-sends carrying *different* bytes,
        /// the byte delivered at each offset is the one from the first segment that covered it.
        #[test]
        fn first_arrival_wins(
            stream in proptest::collection::vec(any::<u8>(), 1..2000),
            isn in isn_strategy(),
            sizes in proptest::collection::vec(1usize..100, 1..20),
            resends in proptest::collection::vec((any::<usize>(), 1usize..200, any::<u8>()), 0..30),
            seed in any::<u64>(),
        ) {
            // Segments carry their own payloads: the originals, plus re-sends XORed with a mask.
            let plain: Vec<(usize, usize)> =
                transmission(stream.len(), &sizes, &[], &[], seed);
            let mut segs: Vec<(usize, Vec<u8>)> =
                plain.iter().map(|&(o, n)| (o, stream[o..o + n].to_vec())).collect();
            for &(s, n, mask) in &resends {
                let s = s % stream.len();
                let n = n.min(stream.len() - s);
                segs.push((s, stream[s..s + n].iter().map(|b| b ^ mask).collect()));
            }
            let mut rng = Rng(seed.rotate_left(17) | 1);
            for i in (1..segs.len()).rev() {
                segs.swap(i, rng.below(i + 1));
            }
            let mut model: Vec<Option<u8>> = vec![None; stream.len()];
            for (o, p) in &segs {
                for (i, b) in p.iter().enumerate() {
                    model[o + i].get_or_insert(*b);
                }
            }
            let want: Vec<u8> = model.into_iter().map(|b| b.unwrap_or(0)).collect();
            let mut r = Reassembler::with_isn(isn, big());
            let mut out = Vec::new();
            for (o, p) in &segs {
                let seq = isn.wrapping_add(1).wrapping_add(*o as u32);
                r.segment(seq, p, &mut sink(&mut out));
            }
            prop_assert_eq!(merge(out), vec![Out::Data(want)]);
            prop_assert_eq!(r.counters.gaps, 0);
        }

        /// Hostile input: arbitrary sequence numbers, lengths and limits, midstream or not. Never
        /// panics, never holds more than the limits, and everything handed out adds up to the
        /// stream offset.
        #[test]
        fn hostile_input_is_bounded(
            midstream in any::<bool>(),
            isn in any::<u32>(),
            max_ooo_bytes in 0usize..2000,
            max_ooo_segments in 0usize..16,
            segs in proptest::collection::vec(
                (prop_oneof![any::<u32>(), 0u32..3000, (u32::MAX - 3000)..=u32::MAX],
                 proptest::collection::vec(any::<u8>(), 0..400)),
                0..200),
        ) {
            let lim = ReassemblyLimits { max_ooo_bytes, max_ooo_segments };
            let mut r = if midstream {
                Reassembler::midstream(lim)
            } else {
                Reassembler::with_isn(isn, lim)
            };
            let (mut d, mut g) = (0u64, 0u64);
            let mut out = |c: Chunk<'_>| match c {
                Chunk::Data(b) => d += b.len() as u64,
                Chunk::Gap { missing } => g += missing,
            };
            for (seq, p) in &segs {
                let seq = if midstream { *seq } else { seq.wrapping_add(isn) };
                r.segment(seq, p, &mut out);
                prop_assert!(r.held_bytes() <= max_ooo_bytes);
                prop_assert!(r.held_segments() <= max_ooo_segments);
            }
            r.flush(&mut out);
            prop_assert_eq!(r.held_bytes(), 0);
            prop_assert_eq!(d + g, r.stream_offset());
            prop_assert_eq!(g, r.counters.gap_bytes);
        }
    }
}
