//! One direction of a TCP connection, put back in order. (Being written.)

/// What the reassembler hands on, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// The next bytes of the stream.
    Data(&'a [u8]),
    /// `missing` bytes will never arrive (lost, or given up on to stay within bounds).
    Gap { missing: u64 },
}

/// Bounds on what one direction may hold while waiting for a missing segment.
#[derive(Clone, Copy, Debug)]
pub struct ReassemblyLimits {
    pub max_ooo_bytes: usize,
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
    pub gaps: u64,
    pub gap_bytes: u64,
    pub retransmitted_bytes: u64,
    pub overlap_conflicts: u64,
    pub ooo_dropped_bytes: u64,
}

#[derive(Debug)]
pub struct Reassembler {
    next: Option<u32>,
    limits: ReassemblyLimits,
    pub counters: ReassemblyCounters,
}

impl Reassembler {
    /// A direction whose SYN carried `isn`: its data starts at `isn + 1`.
    pub fn with_isn(isn: u32, limits: ReassemblyLimits) -> Reassembler {
        Reassembler { next: Some(isn.wrapping_add(1)), limits, counters: Default::default() }
    }

    /// A direction picked up midstream: its data starts at the first segment seen.
    pub fn midstream(limits: ReassemblyLimits) -> Reassembler {
        Reassembler { next: None, limits, counters: Default::default() }
    }

    /// Takes one segment; hands every byte that is now in order to `out`.
    pub fn segment(&mut self, seq: u32, payload: &[u8], out: &mut dyn FnMut(Chunk<'_>)) {
        let _ = self.limits;
        if self.next.is_none() {
            self.next = Some(seq);
        }
        if self.next == Some(seq) && !payload.is_empty() {
            out(Chunk::Data(payload));
            self.next = Some(seq.wrapping_add(payload.len() as u32));
        }
    }

    /// The connection ended or timed out: give up on what is missing and hand out what is held.
    pub fn flush(&mut self, _out: &mut dyn FnMut(Chunk<'_>)) {}

    /// Bytes held out of order.
    pub fn held_bytes(&self) -> usize {
        0
    }
}
