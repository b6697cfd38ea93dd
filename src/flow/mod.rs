//! The per-worker connection tracker: which TCP connections exist, which are still worth
//! inspecting, and how long each is kept. It knows connections only: what is read out of a
//! connection's bytes belongs to its [`Application`] (the crate's is `inspect::Inspector`),
//! which the table creates at a flow's first payload byte and hands, in order, each side's
//! reassembled bytes and gaps.
//!
//! A flow is *new* until its first payload byte (a SYN flood of a million flows therefore costs
//! a key and a few timestamps each, no buffers), then *inspecting*: both directions are
//! reassembled and handed to the application (a recognised session stays here until it ends).
//! A flow whose application says it cannot be what it looks for is *bypassed*: its packets cost
//! one table lookup and nothing else, no reassembly, no buffering.
//!
//! Bounds, each with a counter: the number of flows (`max_flows`), the memory they hold
//! (`memcap`: per-flow overhead plus out-of-order data and what the application reports it
//! holds), the out-of-order data per direction (see [`reassembly`]), and the flows that wait for
//! something outside them (a name, see [`Application::waiting`]). When the table or the memory
//! cap is full, a flow is evicted by sampling a few at random and taking the least valuable
//! (bypassed, then new, then undecided; a recognised session only if nothing else was drawn),
//! oldest first: O(1), and a flood of new flows cannot push out the sessions we are tracking.
//!
//! Lost segments never stall a flow: a hole that the peer has acknowledged was lost in the
//! capture and is given up at once; a hole that has waited longer than `hole_timeout` (a
//! one-sided capture has no ACKs to tell us) is given up too.
//!
//! Architecture invariants: the table is owned by one worker thread and never locked (the
//! pipeline's symmetric hash sends both directions of a connection to the same worker); this
//! module names no protocol and no module above it (`inspect`, `stratum`, `intel`, `verdict`):
//! it is generic over its application, so a new protocol never touches it.

pub mod defrag;
pub mod reassembly;

use std::fmt::Debug;
use std::hash::{BuildHasher, Hash, Hasher};
use std::mem::size_of;
use std::net::{IpAddr, SocketAddr};

use indexmap::IndexMap;

use crate::decode::{Packet, TcpInfo};
use crate::stats::Counters;
use crate::time::Ts;
use reassembly::{Chunk, Reassembler, ReassemblyLimits};

/// Bounds and timeouts of one worker's flow table.
#[derive(Clone, Copy, Debug)]
pub struct FlowLimits {
    /// Most flows tracked at once; beyond it the least valuable flow is evicted.
    pub max_flows: usize,
    /// Memory the table may hold, in bytes (estimated: per-flow overhead plus buffers).
    pub memcap: usize,
    /// Longest Stratum line kept (Equihash submits run to ~3 KB; a getblocktemplate far more).
    pub max_line: usize,
    /// Bytes a flow may show without a mining message before it is bypassed.
    pub inspect_bytes: u64,
    /// JSON lines without mining meaning a flow may show before it is bypassed.
    pub inspect_lines: u32,
    /// Idle time after which a flow still being inspected (or mining) is ended.
    pub idle_timeout_us: i64,
    /// Idle time after which a new or bypassed flow is forgotten.
    pub bypass_timeout_us: i64,
    /// How long a hole in a stream may wait for its segment before it is given up.
    pub hole_timeout_us: i64,
    /// Frames a bypassed flow shows before it is offered as an elephant (and again after as
    /// many more), for a live capture to leave in the kernel ([`FlowTable::take_elephants`]);
    /// 0: never.
    pub elephant_frames: u32,
    /// How long (packet time) a TLS flow whose ClientHello names no server waits for a DNS
    /// answer that another worker may not have read yet (an inspector's wait, see
    /// [`Application::waiting`]). Live, the
    /// kernel hands a worker its frames a block at a time, at most a read timeout (100 ms)
    /// late, and a busy worker can be further behind: 5 s covers that with a wide margin and
    /// costs a waiting flow's fixed state (no buffers) for that long.
    pub name_wait_us: i64,
    /// Most flows waiting at once (see [`MAX_AWAITING`], the default).
    pub max_awaiting: usize,
    pub reassembly: ReassemblyLimits,
}

impl Default for FlowLimits {
    fn default() -> Self {
        FlowLimits {
            max_flows: 500_000,
            memcap: 256 << 20,
            max_line: 64 * 1024,
            inspect_bytes: 64 * 1024,
            inspect_lines: 16,
            idle_timeout_us: 600 * 1_000_000,
            bypass_timeout_us: 120 * 1_000_000,
            hole_timeout_us: 3 * 1_000_000,
            elephant_frames: 0,
            name_wait_us: 5 * 1_000_000,
            max_awaiting: MAX_AWAITING,
            reassembly: ReassemblyLimits::default(),
        }
    }
}

/// How often (in packet time) the table looks for idle flows.
const SWEEP_INTERVAL_US: i64 = 5 * 1_000_000;
/// Flows drawn at random to choose one to evict.
const EVICTION_SAMPLE: usize = 8;
/// Estimated cost of one out-of-order run besides its bytes (B-tree node share, vector header).
const RUN_COST: usize = 160;
/// Most flows one table keeps waiting ([`Application::waiting`]); past it a flow that would
/// wait is bypassed at once and counted (`tls_name_wait_full`). Each wait is looked up again
/// when the application's news move, so this also bounds that work.
pub(crate) const MAX_AWAITING: usize = 4096;

/// One side of a connection, as the flow layer names them before a protocol tells roles apart:
/// `A` is the side that sent the SYN, or else the sender of the first packet seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    A,
    B,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// Why a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    Fin,
    Rst,
    Timeout,
    EndOfInput,
    Evicted,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Fin => "fin",
            EndReason::Rst => "rst",
            EndReason::Timeout => "timeout",
            EndReason::EndOfInput => "end_of_input",
            EndReason::Evicted => "evicted",
        }
    }
}

/// A connection's key, the same for both directions: the lower endpoint first.
///
/// Compact on purpose: addresses as `u128` (IPv4 as its IPv4-mapped IPv6 form, with the family
/// kept apart so a v4 flow and a v6 flow to `::ffff:a.b.c.d` never share a key) hash in a few
/// word-sized writes and compare in two, where `IpAddr` pairs cost an enum dispatch and a
/// length-prefixed byte write each. The table looks one up for every TCP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    lo: u128,
    hi: u128,
    /// Low port in the high half, high port in the low half; bit 32 set for IPv6.
    ports: u64,
}

fn addr_bits(ip: IpAddr) -> (u128, bool) {
    match ip {
        IpAddr::V4(v4) => (u128::from(v4.to_ipv6_mapped()), false),
        IpAddr::V6(v6) => (u128::from(v6), true),
    }
}

impl FlowKey {
    pub fn new(src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> FlowKey {
        FlowKey::oriented(src, sport, dst, dport).0
    }

    /// The key, and whether `src` is its lower endpoint: the table tells a packet's side by
    /// this (see [`Flow::a_lo`]) instead of building and comparing socket addresses per packet.
    fn oriented(src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> (FlowKey, bool) {
        if let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) {
            // Most packets: ordered as 32-bit numbers (the same order as their mapped forms),
            // then widened, instead of comparing 128-bit tuples.
            let (s, d) = (u32::from(s), u32::from(d));
            let src_lo = (s, sport) <= (d, dport);
            let ((lo, lp), (hi, hp)) =
                if src_lo { ((s, sport), (d, dport)) } else { ((d, dport), (s, sport)) };
            const MAPPED: u128 = 0xffff << 32;
            let (lo, hi) = (MAPPED | u128::from(lo), MAPPED | u128::from(hi));
            return (FlowKey { lo, hi, ports: (u64::from(lp) << 16) | u64::from(hp) }, src_lo);
        }
        let ((s, v6), (d, _)) = (addr_bits(src), addr_bits(dst));
        let src_lo = (s, sport) <= (d, dport);
        let ((lo, lp), (hi, hp)) = if src_lo { ((s, sport), (d, dport)) } else { ((d, dport), (s, sport)) };
        (FlowKey { lo, hi, ports: (u64::from(v6) << 32) | (u64::from(lp) << 16) | u64::from(hp) }, src_lo)
    }
}

/// What the table knows of a connection apart from its inspection: its endpoints, times and
/// byte and packet counts. `Copy`, so that records can be built while the application is
/// borrowed; this is what the table hands its application (and through it the verdict).
#[derive(Clone, Copy, Debug)]
pub struct ConnInfo {
    /// Side A's endpoint: the SYN sender, or else the sender of the first packet seen.
    pub a: SocketAddr,
    pub b: SocketAddr,
    pub first_seen: Ts,
    pub last_seen: Ts,
    /// Payload bytes sent by A and by B.
    pub bytes: [u64; 2],
    /// TCP packets sent by A and by B (every packet the table saw of the connection, from the
    /// one that created its entry, with or without payload), as Suricata's `pkts_toserver`.
    pub pkts: [u64; 2],
    pub fin: [bool; 2],
}

impl ConnInfo {
    /// The endpoint of `side`.
    pub fn addr(&self, side: Side) -> SocketAddr {
        match side {
            Side::A => self.a,
            Side::B => self.b,
        }
    }

    /// Payload bytes sent by `side`.
    pub fn bytes_from(&self, side: Side) -> u64 {
        self.bytes[idx(side)]
    }

    /// TCP packets sent by `side`.
    pub fn pkts_from(&self, side: Side) -> u64 {
        self.pkts[idx(side)]
    }

    /// A number that names the flow in every record about it, as Suricata's `flow_id` does.
    /// Kept below 2^53 so that JSON consumers that read numbers as doubles keep it exact.
    pub fn flow_id(&self) -> u64 {
        let key = FlowKey::new(self.a.ip(), self.a.port(), self.b.ip(), self.b.port());
        let mut h = ahash::RandomState::with_seeds(1, 2, 3, 4).build_hasher();
        key.hash(&mut h);
        self.first_seen.hash(&mut h);
        h.finish() & ((1 << 53) - 1)
    }
}

/// What an application call may look at besides its own state: the connection, the table's
/// limits, what the table's applications share (the run's lists, the verdict's gate), and the
/// packet time of the call.
pub struct Ctx<'a, S> {
    pub conn: &'a ConnInfo,
    pub limits: &'a FlowLimits,
    pub shared: &'a S,
    pub ts: Ts,
}

/// A waiting flow looked up again ([`Application::recheck`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recheck {
    /// What it waited for came: it reads no more and stays as the session it now is.
    Resolved,
    /// Still waiting.
    Waiting,
    /// The wait is over and nothing came: the table bypasses it.
    Expired,
    /// The wait is over and nothing came, but the application reads on: it has more to judge
    /// the flow by (it bypasses the flow itself if it finds nothing).
    Over,
}

/// What the table runs on each inspected connection: everything above TCP. Modelled on
/// Retina's `ConnTracker`, which is generic over its connection data, so that the table can
/// be tested, benchmarked and reasoned about without a protocol, and a protocol added without
/// touching the table.
///
/// The table calls, per packet of an inspected flow: [`Application::reads`] (no: only
/// [`Application::idle`]); else [`Application::start`] when a side's stream begins,
/// [`Application::chunk`] for each in-order chunk a reassembler hands out, then
/// [`Application::settle`]; unless that bypasses the flow, [`Application::progress`] (where
/// verdicts are raised). When the flow ends, after the reassemblers are flushed,
/// [`Application::finish`].
pub trait Application: Sized {
    /// What every application of one table shares (read only).
    type Shared;
    /// The records it raises, handed to the table's caller.
    type Event;
    /// A compact note of a flow that waits ([`Application::still_waiting`]), kept by the table
    /// after the flow itself has ended, instead of the application and its buffers.
    type Wait: Copy + Debug;

    /// A flow's first payload byte arrived.
    fn new(limits: &FlowLimits, shared: &Self::Shared) -> Self;
    /// `side`'s stream (re)starts: from its SYN (`from_start`: its first byte opens its first
    /// message), or midstream at the first byte seen.
    fn start(&mut self, side: Side, from_start: bool, limits: &FlowLimits);
    /// Whether it still reads bytes; once false the table drops the flow's reassemblers and
    /// calls only [`Application::idle`] at its packets.
    fn reads(&self) -> bool;
    /// A packet of a flow that reads no more. Returns whether to bypass it.
    fn idle(&mut self, cx: &Ctx<'_, Self::Shared>, counters: &mut Counters) -> bool;
    /// One in-order chunk of `side` (data or a gap); `other_silent`: the other side has sent
    /// nothing yet. Returns whether the flow has shown it is of no interest.
    fn chunk(
        &mut self,
        side: Side,
        chunk: Chunk<'_>,
        other_silent: bool,
        cx: &Ctx<'_, Self::Shared>,
        counters: &mut Counters,
    ) -> bool;
    /// After a packet's chunks (`bypass`: one of them said so): whether to bypass the flow
    /// (a budget spent, or nothing found).
    fn settle(&mut self, bypass: bool, cx: &Ctx<'_, Self::Shared>, counters: &mut Counters) -> bool;
    /// After a packet that did not bypass the flow: raise what is due.
    fn progress(
        &mut self,
        cx: &Ctx<'_, Self::Shared>,
        counters: &mut Counters,
        emit: &mut dyn FnMut(Self::Event),
    );
    /// The flow ended (`reason`); its reassemblers were flushed.
    fn finish(
        &mut self,
        reason: EndReason,
        cx: &Ctx<'_, Self::Shared>,
        counters: &mut Counters,
        emit: &mut dyn FnMut(Self::Event),
    );
    /// Whether it has recognised a session (evicted last).
    fn is_session(&self) -> bool;
    /// Bytes it holds, for the memory cap.
    fn allocated(&self) -> usize;

    /// Until when (packet time) the flow waits for something that may come from outside it (a
    /// DNS answer another worker reads late); it is then looked up again at each
    /// [`FlowTable::recheck_names`].
    fn waiting(&self) -> Option<Ts>;
    /// A waiting flow looked up again at `now` (`cx.ts` is its last packet's time).
    fn recheck(
        &mut self,
        now: Ts,
        cx: &Ctx<'_, Self::Shared>,
        counters: &mut Counters,
        emit: &mut dyn FnMut(Self::Event),
    ) -> Recheck;
    /// The flow ends at `cx.ts`: whether it is still waiting, and then what to keep of it.
    fn still_waiting(&self, cx: &Ctx<'_, Self::Shared>) -> Option<Self::Wait>;
    /// Whether the wait of an ended flow is over at `now`, come what may (`cx.ts`: its end).
    fn wait_over(wait: &Self::Wait, now: Ts, cx: &Ctx<'_, Self::Shared>) -> bool;
    /// Ends an ended flow whose wait is over (`cx.ts`: its end).
    fn end_wait(
        wait: Self::Wait,
        reason: EndReason,
        cx: &Ctx<'_, Self::Shared>,
        counters: &mut Counters,
        emit: &mut dyn FnMut(Self::Event),
    );
    /// A number that moves when waiting flows may be resolved (the DNS map's generation): one
    /// atomic load, for a live worker to ask after every pass ([`FlowTable::names_news`]).
    fn news(shared: &Self::Shared) -> u64;
}

/// An inspected flow: the table's reassemblers and the application reading them.
#[derive(Debug)]
struct Conn<A> {
    reasm: [Option<Reassembler>; 2],
    /// Since when data has been held behind a hole, per direction.
    hole_since: [Option<Ts>; 2],
    app: A,
}

/// Whether a direction has delivered or holds any byte.
fn silent(r: &Option<Reassembler>) -> bool {
    r.as_ref().map_or(true, |r| r.stream_offset() == 0 && r.held_bytes() == 0)
}

impl<A: Application> Conn<A> {
    /// What the direction's out-of-order buffers may really occupy: a held run's vector can
    /// have twice its length allocated, and each run costs a tree node and a vector header.
    /// Measured against the process's peak RSS in `benches/floods.rs`, so that the cap holds
    /// for real memory.
    fn allocated(&self) -> usize {
        self.app.allocated()
            + self
                .reasm
                .iter()
                .flatten()
                .map(|r| 2 * r.held_bytes() + RUN_COST * r.held_segments())
                .sum::<usize>()
    }

    /// Feeds one segment of an inspected flow through reassembly to the application, and gives
    /// up holes that are acknowledged or too old. Returns whether to bypass the flow.
    fn inspect(
        &mut self,
        side: Side,
        tcp: &TcpInfo,
        payload: &[u8],
        cx: &Ctx<'_, A::Shared>,
        counters: &mut Counters,
    ) -> bool {
        if !self.app.reads() {
            return self.app.idle(cx, counters);
        }
        let limits = cx.limits;
        if let Some(r) = self.reasm.get_mut(idx(side)) {
            // A SYN starts the direction, unless data already flowed (a retransmitted SYN).
            if tcp.syn && silent(r) {
                *r = Some(Reassembler::with_isn(tcp.seq, limits.reassembly));
                self.app.start(side, true, limits);
            }
            if !payload.is_empty() && r.is_none() {
                *r = Some(Reassembler::midstream(limits.reassembly));
                self.app.start(side, false, limits);
            }
        }
        let mut bypass = false;
        if !payload.is_empty() {
            // Data on a SYN (TCP Fast Open) starts one past the ISN.
            let seq = if tcp.syn { tcp.seq.wrapping_add(1) } else { tcp.seq };
            bypass |= self.pump(side, cx, counters, |r, out| r.segment(seq, payload, out));
        }
        // This packet's ACK tells what the other side's holes really are.
        let other = side.other();
        if tcp.ack_flag
            && self.reasm.get(idx(other)).is_some_and(|r| r.as_ref().is_some_and(|r| r.held_bytes() > 0))
        {
            bypass |= self.pump(other, cx, counters, |r, out| r.acked(tcp.ack, out));
        }
        for i in 0..2 {
            let held = self.reasm.get(i).is_some_and(|r| r.as_ref().is_some_and(|r| r.held_bytes() > 0));
            let Some(since) = self.hole_since.get(i).copied() else { continue };
            match (held, since) {
                (false, _) => self.set_hole_since(i, None),
                (true, None) => self.set_hole_since(i, Some(cx.ts)),
                (true, Some(since)) if cx.ts.0.saturating_sub(since.0) > limits.hole_timeout_us => {
                    bypass |= self.pump(side_of(i), cx, counters, |r, out| r.skip_first_hole(out));
                    let still =
                        self.reasm.get(i).is_some_and(|r| r.as_ref().is_some_and(|r| r.held_bytes() > 0));
                    self.set_hole_since(i, still.then_some(cx.ts));
                }
                (true, Some(_)) => {}
            }
        }
        if !self.app.reads() {
            self.reasm = [None, None];
        }
        self.app.settle(bypass, cx, counters)
    }

    fn set_hole_since(&mut self, i: usize, v: Option<Ts>) {
        if let Some(h) = self.hole_since.get_mut(i) {
            *h = v;
        }
    }

    /// Runs `op` on one direction's reassembler and hands what it gives out to the application.
    /// Returns whether the application said to bypass the flow.
    fn pump(
        &mut self,
        side: Side,
        cx: &Ctx<'_, A::Shared>,
        counters: &mut Counters,
        op: impl FnOnce(&mut Reassembler, &mut dyn FnMut(Chunk<'_>)),
    ) -> bool {
        let other_silent = self.reasm.get(idx(side.other())).map_or(true, silent);
        let Some(Some(reasm)) = self.reasm.get_mut(idx(side)) else { return false };
        let app = &mut self.app;
        let mut bypass = false;
        let before = reasm.counters;
        op(reasm, &mut |chunk| {
            if !bypass {
                bypass = app.chunk(side, chunk, other_silent, cx, counters);
            }
        });
        let after = reasm.counters;
        counters.reasm_gaps += after.gaps - before.gaps;
        counters.reasm_gap_bytes += after.gap_bytes - before.gap_bytes;
        counters.reasm_retransmitted_bytes += after.retransmitted_bytes - before.retransmitted_bytes;
        counters.reasm_overlap_conflicts += after.overlap_conflicts - before.overlap_conflicts;
        counters.reasm_ooo_dropped_bytes += after.ooo_dropped_bytes - before.ooo_dropped_bytes;
        bypass
    }

    /// Ends the flow: what reassembly still holds goes to the application, which then finishes.
    fn finish(
        &mut self,
        reason: EndReason,
        cx: &Ctx<'_, A::Shared>,
        counters: &mut Counters,
        emit: &mut dyn FnMut(A::Event),
    ) {
        if self.app.reads() {
            for side in [Side::A, Side::B] {
                self.pump(side, cx, counters, |r, out| r.flush(out));
            }
        }
        self.app.finish(reason, cx, counters, emit);
    }
}

#[derive(Debug)]
enum State<A> {
    /// No payload yet: nothing allocated. Holds the ISNs of SYNs seen, to start reassembly.
    New {
        isn: [Option<u32>; 2],
    },
    Inspecting(Box<Conn<A>>),
    /// Frames seen since it was bypassed or last offered as an elephant, and whether it was.
    Bypassed {
        frames: u32,
        offered: bool,
    },
}

#[derive(Debug)]
struct Flow<A> {
    meta: ConnInfo,
    /// Whether side A is the key's lower endpoint: a packet whose source is the lower endpoint
    /// exactly when A is comes from A. (A connection from an endpoint to itself has both sides
    /// alike: every packet is A's, as a comparison of addresses would say.)
    a_lo: bool,
    state: State<A>,
    /// This flow's share of the table's memory estimate.
    cost: usize,
}

impl<A: Application> Flow<A> {
    /// Eviction order: lower goes first.
    fn value(&self) -> u8 {
        match &self.state {
            State::Bypassed { .. } => 0,
            State::New { .. } => 1,
            State::Inspecting(c) if !c.app.is_session() => 2,
            State::Inspecting(_) => 3,
        }
    }

    fn estimate(&self) -> usize {
        FlowTable::<A>::FLOW_COST
            + match &self.state {
                State::Inspecting(c) => FlowTable::<A>::INSPECT_COST + c.allocated(),
                _ => 0,
            }
    }
}

fn idx(side: Side) -> usize {
    match side {
        Side::A => 0,
        Side::B => 1,
    }
}

fn side_of(i: usize) -> Side {
    if i == 0 {
        Side::A
    } else {
        Side::B
    }
}

/// One worker's flows, each inspected by an `A`.
pub struct FlowTable<A: Application> {
    flows: IndexMap<FlowKey, Flow<A>, ahash::RandomState>,
    limits: FlowLimits,
    /// What every flow's application reads (lists, the verdict's gate).
    shared: A::Shared,
    /// Packet time of the last idle sweep.
    last_sweep: Option<Ts>,
    /// Whether the table sweeps itself on its packets' times (live); a replay's workers sweep
    /// it at ticks decided in file order instead (see [`FlowTable::swept_at_ticks`]).
    own_sweeps: bool,
    /// When packet time may restart the sweeps after going back.
    restart: crate::time::Restart,
    /// Sum of every flow's `cost`.
    mem: usize,
    /// xorshift state for eviction sampling.
    rng: u64,
    /// Elephants found, and ended, since [`FlowTable::take_elephants`] was last called.
    elephants: Vec<Elephant>,
    elephants_ended: Vec<FlowKey>,
    /// Flows whose application waits (key and first-seen time, which tell a later flow on the
    /// same key apart), at most [`MAX_AWAITING`]; entries of flows that ended meanwhile are
    /// dropped at the next [`FlowTable::recheck_names`].
    awaiting: Vec<(FlowKey, Ts)>,
    /// Flows that ended (FIN, RST, eviction) while they waited: a whole short connection can
    /// pass before a lagging worker reads its answer. Kept as their endpoints, counts and the
    /// application's note only (no buffers) until their wait ends, at most [`MAX_AWAITING`].
    ended_waiting: Vec<EndedWait<A::Wait>>,
    /// The applications' news ([`Application::news`]) at the last look at the waiting flows.
    news_seen: u64,
    /// Where the flow of the last packet is after it ([`FlowTable::last_stage`]).
    last: Option<Stage>,
    pub counters: Counters,
}

/// A flow that ended while it waited, kept until its wait ends.
#[derive(Clone, Copy, Debug)]
struct EndedWait<W> {
    meta: ConnInfo,
    wait: W,
    reason: EndReason,
    /// When it ended.
    at: Ts,
}

/// Where a flow is in its life ([`FlowTable::stage`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// No payload yet.
    New,
    /// Its bytes are read.
    Inspecting,
    /// Of no interest: its packets are only counted.
    Bypassed,
}

/// A bypassed flow with many frames: a live capture may have the kernel drop its packets
/// (see `capture::shunt`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elephant {
    pub key: FlowKey,
    /// The endpoints, as in the flow's records.
    pub a: SocketAddr,
    pub b: SocketAddr,
}

/// Most elephants (found, or ended) kept between two calls of [`FlowTable::take_elephants`]; a
/// flow left out is offered again after as many frames more, and one whose end is left out is
/// let go by the shunt's own time limit.
const ELEPHANT_QUEUE: usize = 256;

impl<A: Application> FlowTable<A> {
    /// Estimated fixed cost of a flow in the table (key, entry, index slot).
    pub(crate) const FLOW_COST: usize = size_of::<FlowKey>() + size_of::<Flow<A>>() + 16;
    /// Estimated fixed cost of an inspected flow's state beyond the table entry.
    pub(crate) const INSPECT_COST: usize = size_of::<Conn<A>>() + 2048;

    /// An empty table whose applications share `shared`.
    pub fn with_shared(limits: FlowLimits, shared: A::Shared) -> FlowTable<A> {
        FlowTable {
            flows: IndexMap::with_hasher(ahash::RandomState::new()),
            limits,
            shared,
            last_sweep: None,
            own_sweeps: true,
            restart: crate::time::Restart::default(),
            mem: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
            elephants: Vec::new(),
            elephants_ended: Vec::new(),
            awaiting: Vec::new(),
            ended_waiting: Vec::new(),
            news_seen: 0,
            last: None,
            counters: Counters::default(),
        }
    }

    /// What the applications share, to change before the first packet.
    pub fn shared_mut(&mut self) -> &mut A::Shared {
        &mut self.shared
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Flows waiting now ([`Application::waiting`]), for tests of the bound.
    #[cfg(test)]
    pub(crate) fn awaiting_len(&self) -> usize {
        self.awaiting.len()
    }

    /// Whether [`FlowTable::take_elephants`] has anything to hand over.
    pub fn elephant_news(&self) -> bool {
        !self.elephants.is_empty() || !self.elephants_ended.is_empty()
    }

    /// Moves out the elephants found since the last call (bypassed flows that showed another
    /// `elephant_frames` frames), and the keys of elephants whose flow has ended since (FIN, RST,
    /// timeout, eviction, or a new connection on its ports).
    pub fn take_elephants(&mut self, found: &mut Vec<Elephant>, ended: &mut Vec<FlowKey>) {
        found.append(&mut self.elephants);
        ended.append(&mut self.elephants_ended);
    }

    /// Where the flow of `key` is in its life (`None`: the table does not hold it), for a caller
    /// that keeps something of its own per flow while the flow is inspected (the evidence's
    /// first packets): one lookup.
    pub fn stage(&self, key: &FlowKey) -> Option<Stage> {
        self.flows.get(key).map(|f| match f.state {
            State::New { .. } => Stage::New,
            State::Inspecting(_) => Stage::Inspecting,
            State::Bypassed { .. } => Stage::Bypassed,
        })
    }

    /// Where the flow of the last packet [`FlowTable::tcp`] took is after it (`None`: it ended
    /// with it, or none was created): what [`FlowTable::stage`] would say, without a lookup.
    pub fn last_stage(&self) -> Option<Stage> {
        self.last
    }

    /// The table's memory estimate, in bytes (never above `memcap` after a packet).
    pub fn memory(&self) -> usize {
        self.mem
    }

    /// The cap on [`FlowTable::memory`], in bytes.
    pub fn memcap(&self) -> usize {
        self.limits.memcap
    }

    /// Takes one decoded TCP packet.
    pub fn tcp(&mut self, pkt: &Packet<'_>, tcp: &TcpInfo, ts: Ts, emit: &mut dyn FnMut(A::Event)) {
        self.last = None;
        self.maybe_sweep(ts, emit);
        let (key, src_lo) = FlowKey::oriented(pkt.src, pkt.src_port, pkt.dst, pkt.dst_port);
        let mut found = self.flows.get_index_of(&key);
        let reused = tcp.syn
            && !tcp.ack_flag
            && found
                .and_then(|i| self.flows.get_index(i))
                .is_some_and(|(_, f)| matches!(f.state, State::Bypassed { .. }));
        if let Some(i) = found.filter(|_| reused) {
            // A new connection on the addresses and ports of one that was bypassed (its end
            // unseen, or a port reused at once): inspected afresh, not left bypassed. (A
            // bypassed flow leaves no record, so the end reason shows nowhere.)
            self.counters.tcp_port_reuse += 1;
            self.remove_index(i, EndReason::Evicted, ts, emit);
            found = None;
        }
        let i = match found {
            Some(i) => i,
            None => {
                if tcp.rst || (!tcp.syn && pkt.payload.is_empty()) {
                    // A reset, or a bare ACK or FIN, of a connection we do not know creates
                    // nothing: it carries nothing to inspect (the last ACK after both FINs would
                    // otherwise open a new flow, and a one-sided capture of a download would
                    // fill the table with ACK-only flows). Its first SYN or payload will.
                    self.counters.tcp_no_flow += 1;
                    return;
                }
                while self.flows.len() >= self.limits.max_flows.max(1) {
                    self.counters.flows_evicted += 1;
                    if !self.evict_one(None, ts, emit) {
                        return;
                    }
                }
                let src = SocketAddr::new(pkt.src, pkt.src_port);
                let dst = SocketAddr::new(pkt.dst, pkt.dst_port);
                // A bare SYN-ACK names its receiver as the connection's opener.
                let syn_ack = tcp.syn && tcp.ack_flag;
                let (a, b) = if syn_ack { (dst, src) } else { (src, dst) };
                let a_lo = src == dst || src_lo != syn_ack;
                self.counters.flows += 1;
                let meta = ConnInfo {
                    a,
                    b,
                    first_seen: ts,
                    last_seen: ts,
                    bytes: [0, 0],
                    pkts: [0, 0],
                    fin: [false, false],
                };
                let flow =
                    Flow { meta, a_lo, state: State::New { isn: [None, None] }, cost: Self::FLOW_COST };
                self.mem += flow.cost;
                self.flows.insert_full(key, flow).0
            }
        };
        let Some((_, flow)) = self.flows.get_index_mut(i) else { return };
        // Borrowed, not copied: a copy of the limits was a per-packet cost of its own.
        let limits = &self.limits;
        let m = &mut flow.meta;
        let side = if src_lo == flow.a_lo { Side::A } else { Side::B };
        m.last_seen = m.last_seen.max(ts);
        m.bytes[idx(side)] += pkt.payload.len() as u64;
        m.pkts[idx(side)] += 1;

        let mut end = None;
        if tcp.rst {
            end = Some(EndReason::Rst);
        } else if tcp.fin {
            m.fin[idx(side)] = true;
            if m.fin == [true, true] {
                end = Some(EndReason::Fin);
            }
        }

        let counters = &mut self.counters;
        if let State::Bypassed { frames, offered } = &mut flow.state {
            *frames = frames.wrapping_add(1);
            // (A count up and a reset, not a division, on this path of most packets.)
            if *frames == limits.elephant_frames && limits.elephant_frames != 0 {
                *frames = 0;
                *offered = true;
                if self.elephants.len() < ELEPHANT_QUEUE {
                    self.elephants.push(Elephant { key, a: m.a, b: m.b });
                }
            }
        }
        if let State::New { isn } = &mut flow.state {
            if tcp.syn {
                if let Some(slot) = isn.get_mut(idx(side)) {
                    *slot = Some(tcp.seq);
                }
            }
            if !pkt.payload.is_empty() {
                let mut conn = Box::new(Conn {
                    reasm: [None, None],
                    hole_since: [None, None],
                    app: A::new(limits, &self.shared),
                });
                for (i, isn) in isn.iter().enumerate() {
                    if let (Some(isn), Some(r)) = (isn, conn.reasm.get_mut(i)) {
                        *r = Some(Reassembler::with_isn(*isn, limits.reassembly));
                        conn.app.start(side_of(i), true, limits);
                    }
                }
                flow.state = State::Inspecting(conn);
            }
        }
        if let State::Inspecting(conn) = &mut flow.state {
            let cx = Ctx { conn: &flow.meta, limits, shared: &self.shared, ts };
            let was_waiting = conn.app.waiting().is_some();
            let mut bypass = conn.inspect(side, tcp, pkt.payload, &cx, counters);
            if !bypass && !was_waiting && conn.app.waiting().is_some() {
                if self.awaiting.len() < limits.max_awaiting {
                    self.awaiting.push((key, flow.meta.first_seen));
                } else {
                    counters.tls_name_wait_full += 1;
                    bypass = true;
                }
            }
            if bypass {
                flow.state = State::Bypassed { frames: 0, offered: false };
                counters.flows_bypassed += 1;
            } else {
                conn.app.progress(&cx, counters, emit);
            }
        }
        let cost = flow.estimate();
        self.mem = self.mem.saturating_sub(flow.cost) + cost;
        flow.cost = cost;
        // (The memory cap below never evicts this flow.)
        self.last = match &flow.state {
            _ if end.is_some() => None,
            State::New { .. } => Some(Stage::New),
            State::Inspecting(_) => Some(Stage::Inspecting),
            State::Bypassed { .. } => Some(Stage::Bypassed),
        };

        if let Some(reason) = end {
            self.remove_index(i, reason, ts, emit);
        }
        while self.mem > self.limits.memcap && self.flows.len() > 1 {
            self.counters.flows_evicted_memcap += 1;
            if !self.evict_one(Some(key), ts, emit) {
                break;
            }
        }
    }

    /// Removes the flow at `i`, finishing its application if it has one.
    fn remove_index(&mut self, i: usize, reason: EndReason, ts: Ts, emit: &mut dyn FnMut(A::Event)) {
        let Some((key, flow)) = self.flows.swap_remove_index(i) else { return };
        self.mem = self.mem.saturating_sub(flow.cost);
        if matches!(flow.state, State::Bypassed { offered: true, .. })
            && self.elephants_ended.len() < ELEPHANT_QUEUE
        {
            self.elephants_ended.push(key);
        }
        let Flow { meta, state, .. } = flow;
        let State::Inspecting(mut conn) = state else { return };
        let cx = Ctx { conn: &meta, limits: &self.limits, shared: &self.shared, ts };
        if let Some(wait) = conn.app.still_waiting(&cx) {
            // What it waits for may still come: it waits, ended, for the rest of its wait.
            if self.ended_waiting.len() < self.limits.max_awaiting {
                self.ended_waiting.push(EndedWait { meta, wait, reason, at: ts });
            } else {
                self.counters.tls_name_wait_full += 1;
            }
            return;
        }
        conn.finish(reason, &cx, &mut self.counters, emit);
    }

    /// Ends a flow that ended while it waited and whose wait is now over.
    fn end_waiting(&mut self, w: EndedWait<A::Wait>, emit: &mut dyn FnMut(A::Event)) {
        let cx = Ctx { conn: &w.meta, limits: &self.limits, shared: &self.shared, ts: w.at };
        A::end_wait(w.wait, w.reason, &cx, &mut self.counters, emit);
    }

    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// Evicts the least valuable of a few flows drawn at random (never `keep`). Returns false
    /// when there was nothing to evict.
    fn evict_one(&mut self, keep: Option<FlowKey>, ts: Ts, emit: &mut dyn FnMut(A::Event)) -> bool {
        let n = self.flows.len();
        if n == 0 {
            return false;
        }
        let mut best: Option<(u8, Ts, usize)> = None;
        for _ in 0..EVICTION_SAMPLE.min(n) {
            let i = (self.next_random() % n as u64) as usize;
            let Some((k, f)) = self.flows.get_index(i) else { continue };
            if Some(*k) == keep {
                continue;
            }
            let cand = (f.value(), f.meta.last_seen, i);
            if best.map_or(true, |b| (cand.0, cand.1) < (b.0, b.1)) {
                best = Some(cand);
            }
        }
        let Some((value, _, i)) = best else { return false };
        if value == 3 {
            self.counters.sessions_evicted += 1;
        }
        self.remove_index(i, EndReason::Evicted, ts, emit);
        true
    }

    /// The table no longer sweeps itself on its packets' times: its owner calls
    /// [`FlowTable::expire`] at ticks of its own. A replay with several workers decides its
    /// ticks in file order over every frame (each table sees only its own), so that one worker
    /// and several end the same flows at the same frames.
    pub fn swept_at_ticks(&mut self) {
        self.own_sweeps = false;
    }

    /// Sweeps for idle flows once [`SWEEP_INTERVAL_US`] of packet time has passed since the last
    /// sweep. Measured as a distance from the last sweep, not as a deadline, so that no packet
    /// time (captures carry any 64-bit time, `i64::MAX` included) can overflow it or make every
    /// packet sweep the whole table. Time going far back restarts the sweeps from there
    /// ([`crate::time::Restart`]).
    fn maybe_sweep(&mut self, now: Ts, emit: &mut dyn FnMut(A::Event)) {
        if !self.own_sweeps {
            return;
        }
        match self.last_sweep {
            None => self.last_sweep = Some(now),
            Some(t) if now.0.saturating_sub(t.0) >= SWEEP_INTERVAL_US => {
                self.last_sweep = Some(now);
                self.expire(now, emit);
            }
            Some(t) if now < t && self.restart.went_back(t, now, self.counters.flows, self.flows.len()) => {
                self.counters.clock_restarts += 1;
                self.last_sweep = Some(now);
            }
            Some(_) => {}
        }
    }

    /// Ends every flow idle for longer than its timeout.
    pub fn expire(&mut self, now: Ts, emit: &mut dyn FnMut(A::Event)) {
        let limits = self.limits;
        let mut i = 0;
        while let Some((_, f)) = self.flows.get_index(i) {
            let timeout = match f.state {
                State::Bypassed { .. } | State::New { .. } => limits.bypass_timeout_us,
                State::Inspecting(_) => limits.idle_timeout_us,
            };
            if now.0.saturating_sub(f.meta.last_seen.0) > timeout {
                self.counters.flows_timed_out += 1;
                let at = f.meta.last_seen;
                // swap_remove moves the last flow into `i`: look at `i` again.
                self.remove_index(i, EndReason::Timeout, at, emit);
            } else {
                i += 1;
            }
        }
    }

    /// Whether flows wait and the applications' news have moved since they were last looked
    /// up: one atomic load, for a live worker to ask after every pass.
    pub fn names_news(&self) -> bool {
        (!self.awaiting.is_empty() || !self.ended_waiting.is_empty())
            && A::news(&self.shared) != self.news_seen
    }

    /// Looks every waiting flow up again ([`Application::recheck`]): one whose wait is resolved
    /// stays as the session it is; one whose wait ended by `now` is bypassed. Called at every
    /// tick and, live, whenever [`FlowTable::names_news`].
    pub fn recheck_names(&mut self, now: Ts, emit: &mut dyn FnMut(A::Event)) {
        self.news_seen = A::news(&self.shared);
        let mut i = 0;
        while let Some(w) = self.ended_waiting.get(i).copied() {
            let cx = Ctx { conn: &w.meta, limits: &self.limits, shared: &self.shared, ts: w.at };
            if A::wait_over(&w.wait, now, &cx) {
                self.ended_waiting.swap_remove(i);
                self.end_waiting(w, emit);
            } else {
                i += 1;
            }
        }
        if self.awaiting.is_empty() {
            return;
        }
        let mut waiting = std::mem::take(&mut self.awaiting);
        waiting.retain(|&(key, first_seen)| {
            let Some(flow) = self.flows.get_mut(&key) else { return false };
            if flow.meta.first_seen != first_seen {
                return false;
            }
            let State::Inspecting(conn) = &mut flow.state else { return false };
            if conn.app.waiting().is_none() {
                return false;
            }
            let cx =
                Ctx { conn: &flow.meta, limits: &self.limits, shared: &self.shared, ts: flow.meta.last_seen };
            match conn.app.recheck(now, &cx, &mut self.counters, emit) {
                Recheck::Resolved | Recheck::Over => return false,
                Recheck::Waiting => return true,
                Recheck::Expired => {}
            }
            self.counters.flows_bypassed += 1;
            flow.state = State::Bypassed { frames: 0, offered: false };
            let cost = flow.estimate();
            self.mem = self.mem.saturating_sub(flow.cost) + cost;
            flow.cost = cost;
            false
        });
        self.awaiting = waiting;
    }

    /// End of input: every open flow is ended (its session written).
    pub fn flush_all(&mut self, emit: &mut dyn FnMut(A::Event)) {
        while let Some((_, flow)) = self.flows.pop() {
            let Flow { meta, state, .. } = flow;
            let State::Inspecting(mut conn) = state else { continue };
            let cx = Ctx { conn: &meta, limits: &self.limits, shared: &self.shared, ts: meta.last_seen };
            conn.finish(EndReason::EndOfInput, &cx, &mut self.counters, emit);
        }
        self.awaiting.clear();
        // A last look for the flows that ended while they waited.
        for w in std::mem::take(&mut self.ended_waiting) {
            self.end_waiting(w, emit);
        }
        self.mem = 0;
    }
}

#[cfg(test)]
mod tests;
