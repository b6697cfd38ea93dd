//! IP fragment reassembly (IPv4 and IPv6), bounded.
//!
//! etherparse ships a defragmenter (`defrag::IpDefragPool`), and we judged it unfit for hostile
//! input: its own documentation says it is not safe against memory exhaustion (the pool of
//! datagrams in progress has no bound and no count), later fragments overwrite earlier bytes
//! (the opposite of our TCP overlap policy), and merging a fragment's range walks every range
//! held so far, quadratic in the fragments of one datagram. This one keeps the same small job
//! within bounds:
//!
//! - at most `max_datagrams` datagrams in progress and `max_bytes` bytes held in all; a
//!   fragment that would pass either bound is dropped and counted;
//! - at most `max_fragments` fragments per datagram (the tiny-fragment attack), after which the
//!   datagram is dropped;
//! - a datagram not completed within `timeout_us` is dropped (RFC 791 suggests 15 s; Linux
//!   waits 30 s);
//! - overlaps: **first wins**, as in TCP reassembly; differing bytes are counted as conflicts.
//!
//! A datagram is keyed by (source, destination, identification, protocol), as RFC 791 and
//! RFC 8200 say.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::decode::Fragment;
use crate::stats::Counters;
use crate::time::Ts;

/// Largest datagram payload: the IP total length is 16 bits.
const MAX_DATAGRAM: u32 = 65_535;

#[derive(Clone, Copy, Debug)]
pub struct DefragLimits {
    pub max_datagrams: usize,
    pub max_bytes: usize,
    pub max_fragments: usize,
    pub timeout_us: i64,
}

impl Default for DefragLimits {
    fn default() -> Self {
        DefragLimits { max_datagrams: 4096, max_bytes: 16 << 20, max_fragments: 64, timeout_us: 30_000_000 }
    }
}

type Key = (IpAddr, IpAddr, u32, u8);

#[derive(Debug)]
struct Pending {
    data: Vec<u8>,
    /// Byte ranges received, sorted, disjoint and not touching.
    have: Vec<(u32, u32)>,
    /// The datagram's length, once the last fragment came.
    end: Option<u32>,
    fragments: usize,
    first_seen: Ts,
}

impl Pending {
    fn complete(&self) -> bool {
        matches!((self.end, self.have.as_slice()), (Some(e), [(0, h)]) if *h == e)
    }

    /// Writes the parts of `[start, end)` nobody had; returns whether covered bytes differed.
    fn add(&mut self, start: u32, end: u32, bytes: &[u8]) -> bool {
        let mut conflict = false;
        if self.data.len() < end as usize {
            self.data.resize(end as usize, 0);
        }
        let mut pos = start;
        for &(s, e) in &self.have {
            if e <= pos || s >= end {
                continue;
            }
            if s > pos {
                copy(&mut self.data, bytes, start, pos, s);
            }
            // Covered part [max(s,pos), min(e,end)): first wins, compare only.
            let (cs, ce) = (s.max(pos), e.min(end));
            let old = self.data.get(cs as usize..ce as usize);
            let new = bytes.get((cs - start) as usize..(ce - start) as usize);
            conflict |= old != new;
            pos = ce;
        }
        if pos < end {
            copy(&mut self.data, bytes, start, pos, end);
        }
        // Merge [start, end) into the ranges.
        let (mut ns, mut ne) = (start, end);
        self.have.retain(|&(s, e)| {
            if e < ns || s > ne {
                true
            } else {
                ns = ns.min(s);
                ne = ne.max(e);
                false
            }
        });
        let at = self.have.partition_point(|&(s, _)| s < ns);
        self.have.insert(at, (ns, ne));
        conflict
    }
}

/// Copies `bytes[from-start .. to-start]` into `data[from..to]`.
fn copy(data: &mut [u8], bytes: &[u8], start: u32, from: u32, to: u32) {
    if let (Some(dst), Some(src)) =
        (data.get_mut(from as usize..to as usize), bytes.get((from - start) as usize..(to - start) as usize))
    {
        dst.copy_from_slice(src);
    }
}

/// One worker's datagrams in progress.
#[derive(Debug)]
pub struct Defragmenter {
    pending: HashMap<Key, Pending, ahash::RandomState>,
    bytes: usize,
    limits: DefragLimits,
    /// Packet time of the last sweep for timed-out datagrams.
    last_expire: Option<Ts>,
}

/// A datagram put back together: its addresses, protocol and whole transport payload.
#[derive(Debug, PartialEq, Eq)]
pub struct Datagram {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub payload: Vec<u8>,
}

impl Defragmenter {
    /// Its bounds.
    pub fn limits(&self) -> DefragLimits {
        self.limits
    }

    pub fn new(limits: DefragLimits) -> Defragmenter {
        Defragmenter {
            pending: HashMap::with_hasher(ahash::RandomState::new()),
            bytes: 0,
            limits,
            last_expire: None,
        }
    }

    /// Bytes held for datagrams in progress.
    pub fn held_bytes(&self) -> usize {
        self.bytes
    }

    pub fn in_progress(&self) -> usize {
        self.pending.len()
    }

    /// Takes one fragment; returns the datagram when this fragment completed it.
    pub fn add(&mut self, f: &Fragment<'_>, ts: Ts, c: &mut Counters) -> Option<Datagram> {
        // A distance from the last sweep, not a deadline: a deadline saturated at `i64::MAX` (a
        // capture stamped at the end of time) would make every fragment sweep the whole pool.
        if self.last_expire.map_or(true, |t| ts.0.saturating_sub(t.0) >= self.limits.timeout_us / 4) {
            self.expire(ts, c);
            self.last_expire = Some(ts);
        }
        c.frag_fragments += 1;
        let len = u32::try_from(f.payload.len()).unwrap_or(u32::MAX);
        let start = f.offset;
        let end = start.saturating_add(len);
        // All but the last fragment carry a multiple of 8 bytes; nothing may pass 64 KiB.
        if end > MAX_DATAGRAM || (f.more && len % 8 != 0) || (len == 0 && f.more) {
            c.frag_dropped += 1;
            return None;
        }
        let key = (f.src, f.dst, f.id, f.proto);
        if !self.pending.contains_key(&key) && self.pending.len() >= self.limits.max_datagrams {
            c.frag_dropped += 1;
            return None;
        }
        let p = self.pending.entry(key).or_insert_with(|| Pending {
            data: Vec::new(),
            have: Vec::new(),
            end: None,
            fragments: 0,
            first_seen: ts,
        });
        let grow = (end as usize).saturating_sub(p.data.len());
        let bad_end = match p.end {
            Some(e) => end > e || (!f.more && end != e),
            None => !f.more && p.have.last().is_some_and(|&(_, e)| e > end),
        };
        if p.fragments >= self.limits.max_fragments || bad_end || self.bytes + grow > self.limits.max_bytes {
            c.frag_dropped += 1 + p.fragments as u64;
            let dropped = p.data.len();
            self.pending.remove(&key);
            self.bytes = self.bytes.saturating_sub(dropped);
            return None;
        }
        p.fragments += 1;
        if !f.more {
            p.end = Some(end);
        }
        if p.add(start, end, f.payload) {
            c.frag_overlap_conflicts += 1;
        }
        self.bytes += grow;
        if !p.complete() {
            return None;
        }
        let p = self.pending.remove(&key)?;
        self.bytes = self.bytes.saturating_sub(p.data.len());
        c.frag_reassembled += 1;
        let mut payload = p.data;
        payload.truncate(p.end.unwrap_or(0) as usize);
        Some(Datagram { src: f.src, dst: f.dst, proto: f.proto, payload })
    }

    /// Drops datagrams whose first fragment is older than the timeout.
    pub fn expire(&mut self, now: Ts, c: &mut Counters) {
        let timeout = self.limits.timeout_us;
        let mut freed = 0usize;
        self.pending.retain(|_, p| {
            let keep = now.0.saturating_sub(p.first_seen.0) <= timeout;
            if !keep {
                c.frag_dropped += p.fragments as u64;
                freed += p.data.len();
            }
            keep
        });
        self.bytes = self.bytes.saturating_sub(freed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(id: u32, offset: u32, more: bool, payload: &[u8]) -> Fragment<'_> {
        Fragment {
            src: "10.0.0.1".parse().unwrap(),
            dst: "198.51.100.1".parse().unwrap(),
            id,
            proto: 6,
            offset,
            more,
            payload,
        }
    }

    #[test]
    fn reassembles_in_any_order() {
        let whole: Vec<u8> = (0..40u8).collect();
        let mut d = Defragmenter::new(DefragLimits::default());
        let mut c = Counters::default();
        assert!(d.add(&frag(1, 16, true, &whole[16..32]), Ts(1), &mut c).is_none());
        assert!(d.add(&frag(1, 32, false, &whole[32..]), Ts(2), &mut c).is_none());
        let got = d.add(&frag(1, 0, true, &whole[..16]), Ts(3), &mut c).unwrap();
        assert_eq!(got.payload, whole);
        assert_eq!(got.proto, 6);
        assert_eq!(d.held_bytes(), 0);
        assert_eq!(d.in_progress(), 0);
        assert_eq!(c.frag_reassembled, 1);
    }

    #[test]
    fn overlap_first_wins_and_counts_conflicts() {
        let mut d = Defragmenter::new(DefragLimits::default());
        let mut c = Counters::default();
        d.add(&frag(2, 0, true, b"AAAAAAAA"), Ts(1), &mut c);
        d.add(&frag(2, 0, true, b"BBBBBBBBCCCCCCCC"), Ts(1), &mut c);
        let got = d.add(&frag(2, 16, false, b"DD"), Ts(1), &mut c).unwrap();
        assert_eq!(got.payload, b"AAAAAAAACCCCCCCCDD");
        assert_eq!(c.frag_overlap_conflicts, 1);
    }

    #[test]
    fn bounds_hold_and_are_counted() {
        let limits = DefragLimits { max_datagrams: 2, max_bytes: 64, max_fragments: 3, timeout_us: 10 };
        let mut d = Defragmenter::new(limits);
        let mut c = Counters::default();
        d.add(&frag(1, 0, true, &[0; 8]), Ts(0), &mut c);
        d.add(&frag(2, 0, true, &[0; 8]), Ts(0), &mut c);
        assert!(d.add(&frag(3, 0, true, &[0; 8]), Ts(0), &mut c).is_none());
        assert_eq!(d.in_progress(), 2);
        assert_eq!(c.frag_dropped, 1);
        // Too many fragments for one datagram: the datagram goes.
        d.add(&frag(1, 8, true, &[0; 8]), Ts(0), &mut c);
        d.add(&frag(1, 16, true, &[0; 8]), Ts(0), &mut c);
        d.add(&frag(1, 24, true, &[0; 8]), Ts(0), &mut c);
        assert_eq!(d.in_progress(), 1);
        // Over the byte bound.
        assert!(d.add(&frag(2, 200, true, &[0; 8]), Ts(0), &mut c).is_none());
        assert!(d.held_bytes() <= 64);
        // Timeout.
        d.add(&frag(9, 0, true, &[0; 8]), Ts(0), &mut c);
        d.expire(Ts(100), &mut c);
        assert_eq!(d.in_progress(), 0);
        assert_eq!(d.held_bytes(), 0);
    }

    #[test]
    fn rejects_impossible_fragments() {
        let mut d = Defragmenter::new(DefragLimits::default());
        let mut c = Counters::default();
        assert!(d.add(&frag(1, 65_530, false, &[0; 16]), Ts(0), &mut c).is_none());
        assert!(d.add(&frag(1, 0, true, &[0; 5]), Ts(0), &mut c).is_none());
        assert_eq!(c.frag_dropped, 2);
        // A last fragment that ends before data already held is inconsistent.
        d.add(&frag(4, 16, true, &[0; 8]), Ts(0), &mut c);
        assert!(d.add(&frag(4, 0, false, &[0; 8]), Ts(0), &mut c).is_none());
        assert_eq!(d.in_progress(), 0);
    }

    #[test]
    fn tiny_fragments_stay_linear_and_bounded() {
        let mut d = Defragmenter::new(DefragLimits::default());
        let mut c = Counters::default();
        for id in 0..10_000u32 {
            for k in 0..100u32 {
                d.add(&frag(id, k * 8, true, &[1; 8]), Ts(0), &mut c);
            }
        }
        assert!(d.in_progress() <= DefragLimits::default().max_datagrams);
        assert!(d.held_bytes() <= DefragLimits::default().max_bytes);
    }
}
