//! The per-worker flow table: which TCP connections exist, which are still worth inspecting,
//! and the Stratum sessions among them.
//!
//! A flow is *new* until its first payload byte (a SYN flood of a million flows therefore costs
//! a key and a few timestamps each, no buffers), then *inspecting*: both directions are
//! reassembled and framed into lines for the recogniser (a recognised mining session stays
//! here until it ends). A flow that shows it cannot be Stratum is *bypassed*: its packets cost
//! one table lookup and nothing else, no reassembly, no buffering. Most flows are bypassed on
//! their first payload byte, because a Stratum stream opens with `{`.
//!
//! Bounds, each with a counter: the number of flows (`max_flows`), the memory they hold
//! (`memcap`: per-flow overhead plus out-of-order and partial-line buffers), the out-of-order
//! data per direction (see [`reassembly`]), the line length, and the bytes and lines a flow may
//! show before it must look like Stratum. When the table or the memory cap is full, a flow is
//! evicted by sampling a few at random and taking the least valuable (bypassed, then new, then
//! undecided; a mining session only if nothing else was drawn), oldest first: O(1), and a flood
//! of new flows cannot push out the sessions we are tracking.
//!
//! Lost segments never stall a flow: a hole that the peer has acknowledged was lost in the
//! capture and is given up at once; a hole that has waited longer than `hole_timeout` (a
//! one-sided capture has no ACKs to tell us) is given up too.
//!
//! Architecture invariant: the table is owned by one worker thread and never locked; the
//! pipeline's symmetric hash sends both directions of a connection to the same worker.

pub mod defrag;
pub mod reassembly;

use std::hash::{BuildHasher, Hash, Hasher};
use std::mem::size_of;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use indexmap::IndexMap;

use crate::config::HomeNet;
use crate::decode::{Packet, TcpInfo};
use crate::intel::{tls, Intel};
use crate::stats::Counters;
use crate::stratum::framer::LineFramer;
use crate::stratum::http::HttpSession;
use crate::stratum::probe::{self, Opening};
use crate::stratum::sv2::{Sv2Shape, Sv2Verdict};
use crate::stratum::{Clue, Confidence, LineKind, Session, SessionFacts, Side, Variant};
use crate::time::Ts;
use crate::verdict::{self, EndReason, Event, EventKind};
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
    /// answer that another worker may not have read yet (see [`Mode::AwaitName`]). Live, the
    /// kernel hands a worker its frames a block at a time, at most a read timeout (100 ms)
    /// late, and a busy worker can be further behind: 5 s covers that with a wide margin and
    /// costs a waiting flow's fixed state (no buffers) for that long.
    pub name_wait_us: i64,
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
            reassembly: ReassemblyLimits::default(),
        }
    }
}

/// How often (in packet time) the table looks for idle flows.
const SWEEP_INTERVAL_US: i64 = 5 * 1_000_000;
/// Flows drawn at random to choose one to evict.
const EVICTION_SAMPLE: usize = 8;
/// Estimated fixed cost of a flow in the table (key, entry, index slot).
const FLOW_COST: usize = size_of::<FlowKey>() + size_of::<Flow>() + 16;
/// Estimated cost of one out-of-order run besides its bytes (B-tree node share, vector header).
const RUN_COST: usize = 160;
/// Estimated fixed cost of an inspected flow's state beyond the table entry.
const INSPECT_COST: usize = size_of::<Inspect>() + 2048;
/// Most TLS flows one table keeps waiting for a name ([`Mode::AwaitName`]); past it a flow
/// with no name is bypassed at once and counted (`tls_name_wait_full`). Each wait is looked up
/// again when the DNS map changes, so this also bounds that work.
const MAX_AWAITING: usize = 4096;

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
        let ((s, v6), (d, _)) = (addr_bits(src), addr_bits(dst));
        let ((lo, lp), (hi, hp)) =
            if (s, sport) <= (d, dport) { ((s, sport), (d, dport)) } else { ((d, dport), (s, sport)) };
        FlowKey { lo, hi, ports: (u64::from(v6) << 32) | (u64::from(lp) << 16) | u64::from(hp) }
    }
}

/// A number that names a flow in every record about it, as Suricata's `flow_id` does. Kept
/// below 2^53 so that JSON consumers that read numbers as doubles keep it exact.
fn flow_id(key: &FlowKey, first_seen: Ts) -> u64 {
    let mut h = ahash::RandomState::with_seeds(1, 2, 3, 4).build_hasher();
    key.hash(&mut h);
    first_seen.hash(&mut h);
    h.finish() & ((1 << 53) - 1)
}

#[derive(Debug)]
struct Direction {
    reasm: Option<Reassembler>,
    framer: LineFramer,
    /// The stream's start (SYN) was seen, so its first byte opens its first message.
    from_start: bool,
    /// The first significant payload byte has been judged.
    judged: bool,
    /// Since when data has been held behind a hole.
    hole_since: Option<Ts>,
    /// The stream's first bytes (at most [`HEAD_LEN`]), kept until it is judged: `POST ` or a
    /// TLS record header may arrive a byte at a time.
    head: [u8; HEAD_LEN],
    head_len: u8,
}

/// Bytes of a stream's start kept to judge it ([`probe::opening`]).
const HEAD_LEN: usize = 8;

impl Direction {
    fn new(max_line: usize) -> Direction {
        Direction {
            reasm: None,
            framer: LineFramer::new(max_line),
            from_start: false,
            judged: false,
            hole_since: None,
            head: [0; HEAD_LEN],
            head_len: 0,
        }
    }

    /// Whether this direction has delivered or holds any byte.
    fn silent(&self) -> bool {
        self.reasm.as_ref().map_or(true, |r| r.stream_offset() == 0 && r.held_bytes() == 0)
    }

    /// Bytes held (partial line and out-of-order data): whether anything waits.
    fn buffered(&self) -> usize {
        self.framer.buffered() + self.reasm.as_ref().map_or(0, Reassembler::held_bytes)
    }

    /// What this direction's buffers may really occupy: a held run's vector can have twice its
    /// length allocated, and each run costs a tree node and a vector header. Measured against
    /// the process's peak RSS in `benches/floods.rs`, so that the cap holds for real memory.
    fn allocated(&self) -> usize {
        self.framer.capacity()
            + self.reasm.as_ref().map_or(0, |r| 2 * r.held_bytes() + RUN_COST * r.held_segments())
    }
}

/// How an inspected flow's bytes are read, decided by the first bytes of the side that speaks
/// first on a connection seen from its start. Only streams seen from their start leave
/// `Lines`: TLS, HTTP and Stratum V2 are recognised by how a connection opens.
#[derive(Debug)]
enum Mode {
    /// Newline-delimited JSON-RPC (the Stratum line dialects); every midstream flow.
    Lines,
    /// The client opened with a TLS handshake record: its first flight is gathered (at most
    /// [`tls::MAX_HELLO_STREAM`] bytes, copied only when the ClientHello spans segments) until
    /// the ClientHello is whole; then the flow is reported (pool SNI, or an address from a DNS
    /// answer for a pool) or bypassed.
    Tls { client: Side, hello: Vec<u8> },
    /// The client opened with `POST `: HTTP getwork/getblocktemplate.
    Http { client: Side, http: Box<HttpSession> },
    /// Some other binary opening, from the side that spoke first: only the exact Stratum V2
    /// handshake shape keeps it from being bypassed.
    Sv2 { client: Side, shape: Sv2Shape },
    /// The client's ClientHello named no server and its server's address is in no DNS answer
    /// for a pool yet. Live, the answer may be read by another worker that is behind this one,
    /// so the flow waits until `until` (packet time), holding no buffers, and is looked up
    /// again at each of its packets and whenever the DNS map learns an address
    /// ([`FlowTable::recheck_names`]); then it is recognised (clue `dns`) or bypassed.
    AwaitName { client: Side, until: Ts },
    /// Recognised from its opening alone (tls, stratum-v2): nothing more is read; the flow is
    /// kept only for its `mining_session` record.
    Recognised,
}

#[derive(Debug)]
struct Inspect {
    dirs: [Direction; 2],
    session: Session,
    mode: Mode,
    /// The facts of a session recognised from its opening (tls, stratum-v2), which has no lines.
    indirect: Option<Box<(SessionFacts, Confidence)>>,
    /// Lines that carried nothing mining-specific.
    idle_lines: u32,
    /// Non-JSON lines seen.
    non_json: u32,
    /// Payload bytes handed to the framers.
    inspected: u64,
    alerted: bool,
    /// Counted in `sessions` already.
    counted: bool,
}

impl Inspect {
    /// The session's confidence, whichever way it was recognised.
    fn confidence(&self) -> Option<Confidence> {
        match (&self.indirect, &self.mode) {
            (Some(ind), _) => Some(ind.1),
            (None, Mode::Http { http, .. }) => http.confidence(),
            (None, _) => self.session.confidence(),
        }
    }

    fn facts(&self) -> &SessionFacts {
        match (&self.indirect, &self.mode) {
            (Some(ind), _) => &ind.0,
            (None, Mode::Http { http, .. }) => http.facts(),
            (None, _) => self.session.facts(),
        }
    }

    /// Whether the session has earned its alert: one recognised from its opening at once (it
    /// will show nothing more), the others by [`verdict::ready_to_alert`].
    fn ready_to_alert(&self, conf: Confidence) -> bool {
        self.indirect.is_some() || verdict::ready_to_alert(self.facts(), conf)
    }

    /// Bytes the mode holds besides the directions' buffers.
    fn mode_allocated(&self) -> usize {
        match &self.mode {
            Mode::Tls { hello, .. } => hello.capacity(),
            Mode::Http { http, .. } => size_of::<HttpSession>() + http.buffered(),
            _ => 0,
        }
    }

    fn new(max_line: usize) -> Inspect {
        Inspect {
            dirs: [Direction::new(max_line), Direction::new(max_line)],
            session: Session::new(),
            mode: Mode::Lines,
            indirect: None,
            idle_lines: 0,
            non_json: 0,
            inspected: 0,
            alerted: false,
            counted: false,
        }
    }
}

#[derive(Debug)]
enum State {
    /// No payload yet: nothing allocated. Holds the ISNs of SYNs seen, to start reassembly.
    New {
        isn: [Option<u32>; 2],
    },
    Inspecting(Box<Inspect>),
    /// Frames seen since it was bypassed or last offered as an elephant, and whether it was.
    Bypassed {
        frames: u32,
        offered: bool,
    },
}

/// What a flow knows of itself apart from its inspection state; `Copy` so that records can be
/// built while the state is borrowed.
#[derive(Clone, Copy, Debug)]
struct Meta {
    /// Side A's endpoint: the SYN sender, or else the sender of the first packet seen.
    a: SocketAddr,
    b: SocketAddr,
    first_seen: Ts,
    last_seen: Ts,
    /// Payload bytes sent by A and by B.
    bytes: [u64; 2],
    fin: [bool; 2],
}

#[derive(Debug)]
struct Flow {
    meta: Meta,
    state: State,
    /// This flow's share of the table's memory estimate.
    cost: usize,
}

impl Flow {
    /// Eviction order: lower goes first.
    fn value(&self) -> u8 {
        match &self.state {
            State::Bypassed { .. } => 0,
            State::New { .. } => 1,
            State::Inspecting(i) if i.confidence().is_none() => 2,
            State::Inspecting(_) => 3,
        }
    }

    fn estimate(&self) -> usize {
        FLOW_COST
            + match &self.state {
                State::Inspecting(i) => {
                    INSPECT_COST + i.mode_allocated() + i.dirs.iter().map(Direction::allocated).sum::<usize>()
                }
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

/// One worker's flows.
pub struct FlowTable {
    flows: IndexMap<FlowKey, Flow, ahash::RandomState>,
    limits: FlowLimits,
    home: HomeNet,
    /// Packet time of the last idle sweep.
    last_sweep: Option<Ts>,
    /// Sum of every flow's `cost`.
    mem: usize,
    /// xorshift state for eviction sampling.
    rng: u64,
    /// Pool domains and DNS answers, for TLS flows.
    intel: Arc<Intel>,
    /// Elephants found, and ended, since [`FlowTable::take_elephants`] was last called.
    elephants: Vec<Elephant>,
    elephants_ended: Vec<FlowKey>,
    /// TLS flows waiting for a name (key and first-seen time, which tell a later flow on the
    /// same key apart), at most [`MAX_AWAITING`]; entries of flows that ended meanwhile are
    /// dropped at the next [`FlowTable::recheck_names`].
    awaiting: Vec<(FlowKey, Ts)>,
    /// Flows that ended (FIN, RST, eviction) while they waited for a name: a whole short
    /// connection can pass before a lagging worker reads its answer. Kept as their endpoints
    /// and counts only (no buffers) until their wait ends, at most [`MAX_AWAITING`].
    ended_waiting: Vec<EndedWait>,
    /// The DNS map's generation at the last look at the waiting flows.
    dns_generation: u64,
    pub counters: Counters,
}

/// A flow that ended while it waited for a name ([`Mode::AwaitName`]), kept until its wait ends.
#[derive(Clone, Copy, Debug)]
struct EndedWait {
    meta: Meta,
    client: Side,
    until: Ts,
    reason: EndReason,
    /// When it ended.
    at: Ts,
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

impl FlowTable {
    pub fn new(limits: FlowLimits, home: HomeNet) -> FlowTable {
        FlowTable {
            flows: IndexMap::with_hasher(ahash::RandomState::new()),
            limits,
            home,
            last_sweep: None,
            mem: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
            intel: Arc::new(Intel::new(Arc::new(crate::intel::PoolDomains::builtin()))),
            elephants: Vec::new(),
            elephants_ended: Vec::new(),
            awaiting: Vec::new(),
            ended_waiting: Vec::new(),
            dns_generation: 0,
            counters: Counters::default(),
        }
    }

    /// Uses `intel` (the run's pool list and shared DNS map) instead of the built-in list and
    /// an empty map of this table's own.
    pub fn with_intel(mut self, intel: Arc<Intel>) -> FlowTable {
        self.intel = intel;
        self
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
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

    /// The table's memory estimate, in bytes (never above `memcap` after a packet).
    pub fn memory(&self) -> usize {
        self.mem
    }

    /// The cap on [`FlowTable::memory`], in bytes.
    pub fn memcap(&self) -> usize {
        self.limits.memcap
    }

    /// Takes one decoded TCP packet.
    pub fn tcp(&mut self, pkt: &Packet<'_>, tcp: &TcpInfo, ts: Ts, emit: &mut dyn FnMut(Event)) {
        self.maybe_sweep(ts, emit);
        let key = FlowKey::new(pkt.src, pkt.src_port, pkt.dst, pkt.dst_port);
        let src = SocketAddr::new(pkt.src, pkt.src_port);
        let dst = SocketAddr::new(pkt.dst, pkt.dst_port);
        let limits = self.limits;
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
                while self.flows.len() >= limits.max_flows.max(1) {
                    self.counters.flows_evicted += 1;
                    if !self.evict_one(None, ts, emit) {
                        return;
                    }
                }
                // A bare SYN-ACK names its receiver as the connection's opener.
                let (a, b) = if tcp.syn && tcp.ack_flag { (dst, src) } else { (src, dst) };
                self.counters.flows += 1;
                let meta = Meta { a, b, first_seen: ts, last_seen: ts, bytes: [0, 0], fin: [false, false] };
                let flow = Flow { meta, state: State::New { isn: [None, None] }, cost: FLOW_COST };
                self.mem += flow.cost;
                self.flows.insert_full(key, flow).0
            }
        };
        let Some((_, flow)) = self.flows.get_index_mut(i) else { return };
        let m = &mut flow.meta;
        let side = if src == m.a { Side::A } else { Side::B };
        m.last_seen = m.last_seen.max(ts);
        m.bytes[idx(side)] += pkt.payload.len() as u64;

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
                let mut insp = Box::new(Inspect::new(limits.max_line));
                for (d, isn) in insp.dirs.iter_mut().zip(isn.iter()) {
                    if let Some(isn) = isn {
                        d.reasm = Some(Reassembler::with_isn(*isn, limits.reassembly));
                        d.from_start = true;
                    }
                }
                flow.state = State::Inspecting(insp);
            }
        }
        if let State::Inspecting(insp) = &mut flow.state {
            let ctx = Ctx { meta: &flow.meta, intel: &self.intel, limits: &limits };
            let was_waiting = matches!(insp.mode, Mode::AwaitName { .. });
            let mut bypass = inspect(insp, side, tcp, pkt.payload, ts, &ctx, counters);
            if !bypass && !was_waiting && matches!(insp.mode, Mode::AwaitName { .. }) {
                if self.awaiting.len() < MAX_AWAITING {
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
                check_alert(&flow.meta, insp, ts, &self.home, counters, emit);
            }
        }
        let cost = flow.estimate();
        self.mem = self.mem.saturating_sub(flow.cost) + cost;
        flow.cost = cost;

        if let Some(reason) = end {
            self.remove_index(i, reason, ts, emit);
        }
        while self.mem > limits.memcap && self.flows.len() > 1 {
            self.counters.flows_evicted_memcap += 1;
            if !self.evict_one(Some(key), ts, emit) {
                break;
            }
        }
    }

    /// Removes the flow at `i`, ending its session if it has one.
    fn remove_index(&mut self, i: usize, reason: EndReason, ts: Ts, emit: &mut dyn FnMut(Event)) {
        if let Some((key, flow)) = self.flows.swap_remove_index(i) {
            self.mem = self.mem.saturating_sub(flow.cost);
            if matches!(flow.state, State::Bypassed { offered: true, .. })
                && self.elephants_ended.len() < ELEPHANT_QUEUE
            {
                self.elephants_ended.push(key);
            }
            if let Some(wait) = self.still_waiting(&flow, reason, ts) {
                // Its name may still come: it waits, ended, for the rest of its wait.
                if self.ended_waiting.len() < MAX_AWAITING {
                    self.ended_waiting.push(wait);
                } else {
                    self.counters.tls_name_wait_full += 1;
                }
                return;
            }
            finish(flow, reason, ts, &self.home, &self.intel, &self.limits, &mut self.counters, emit);
        }
    }

    /// A flow ending at `ts` while it waits for a name that the DNS map does not give yet.
    fn still_waiting(&self, flow: &Flow, reason: EndReason, ts: Ts) -> Option<EndedWait> {
        let State::Inspecting(insp) = &flow.state else { return None };
        let Mode::AwaitName { client, until } = insp.mode else { return None };
        let server = match client {
            Side::A => flow.meta.b,
            Side::B => flow.meta.a,
        };
        (ts.0 <= until.0 && self.intel.dns.lookup(server.ip(), ts).is_none()).then_some(EndedWait {
            meta: flow.meta,
            client,
            until,
            reason,
            at: ts,
        })
    }

    /// Ends a flow that ended while it waited for a name: reported if the DNS map now names
    /// its server (within its wait), else forgotten as the bypassed flow it then is.
    fn end_waiting(&mut self, w: EndedWait, emit: &mut dyn FnMut(Event)) {
        let mut insp = Box::new(Inspect::new(0));
        insp.mode = Mode::AwaitName { client: w.client, until: w.until };
        let flow = Flow { meta: w.meta, state: State::Inspecting(insp), cost: 0 };
        let before = self.counters.tls_name_late;
        finish(flow, w.reason, w.at, &self.home, &self.intel, &self.limits, &mut self.counters, emit);
        if self.counters.tls_name_late == before {
            self.counters.tls_name_unanswered += 1;
        }
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
    fn evict_one(&mut self, keep: Option<FlowKey>, ts: Ts, emit: &mut dyn FnMut(Event)) -> bool {
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

    /// Sweeps for idle flows once [`SWEEP_INTERVAL_US`] of packet time has passed since the last
    /// sweep. Measured as a distance from the last sweep, not as a deadline, so that no packet
    /// time (captures carry any 64-bit time, `i64::MAX` included) can overflow it or make every
    /// packet sweep the whole table; time going backwards just delays the next sweep.
    fn maybe_sweep(&mut self, now: Ts, emit: &mut dyn FnMut(Event)) {
        match self.last_sweep {
            None => self.last_sweep = Some(now),
            Some(t) if now.0.saturating_sub(t.0) >= SWEEP_INTERVAL_US => {
                self.last_sweep = Some(now);
                self.expire(now, emit);
            }
            Some(_) => {}
        }
    }

    /// Ends every flow idle for longer than its timeout.
    pub fn expire(&mut self, now: Ts, emit: &mut dyn FnMut(Event)) {
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

    /// Whether TLS flows wait for a name and the DNS map has learnt something since they were
    /// last looked up: one atomic load, for a live worker to ask after every pass.
    pub fn names_news(&self) -> bool {
        (!self.awaiting.is_empty() || !self.ended_waiting.is_empty())
            && self.intel.dns.generation() != self.dns_generation
    }

    /// Looks every TLS flow that waits for a name up again: one the DNS map now names is
    /// recognised (and alerted, at its last packet's time); one whose wait ended by `now` is
    /// bypassed. Called at every tick and, live, whenever [`FlowTable::names_news`].
    pub fn recheck_names(&mut self, now: Ts, emit: &mut dyn FnMut(Event)) {
        self.dns_generation = self.intel.dns.generation();
        let mut i = 0;
        while let Some(w) = self.ended_waiting.get(i).copied() {
            let server = match w.client {
                Side::A => w.meta.b,
                Side::B => w.meta.a,
            };
            if now.0 > w.until.0 || self.intel.dns.lookup(server.ip(), w.at).is_some() {
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
            let State::Inspecting(insp) = &mut flow.state else { return false };
            let Mode::AwaitName { client, until } = insp.mode else { return false };
            let counters = &mut self.counters;
            let ctx = Ctx { meta: &flow.meta, intel: &self.intel, limits: &self.limits };
            let at = flow.meta.last_seen;
            if named_late(insp, client, at, &ctx, counters) {
                check_alert(&flow.meta, insp, at, &self.home, counters, emit);
                return false;
            }
            if now.0 <= until.0 {
                return true;
            }
            counters.tls_name_unanswered += 1;
            counters.flows_bypassed += 1;
            flow.state = State::Bypassed { frames: 0, offered: false };
            let cost = flow.estimate();
            self.mem = self.mem.saturating_sub(flow.cost) + cost;
            flow.cost = cost;
            false
        });
        self.awaiting = waiting;
    }

    /// End of input: every open session is ended and written.
    pub fn flush_all(&mut self, emit: &mut dyn FnMut(Event)) {
        while let Some((_, flow)) = self.flows.pop() {
            let at = flow.meta.last_seen;
            finish(
                flow,
                EndReason::EndOfInput,
                at,
                &self.home,
                &self.intel,
                &self.limits,
                &mut self.counters,
                emit,
            );
        }
        self.awaiting.clear();
        // A last look for the flows that ended while they waited.
        for w in std::mem::take(&mut self.ended_waiting) {
            self.end_waiting(w, emit);
        }
        self.mem = 0;
    }
}

/// What the recognisers of a flow's opening need besides the flow's own state.
struct Ctx<'a> {
    meta: &'a Meta,
    intel: &'a Intel,
    limits: &'a FlowLimits,
}

impl Ctx<'_> {
    fn addr(&self, side: Side) -> SocketAddr {
        match side {
            Side::A => self.meta.a,
            Side::B => self.meta.b,
        }
    }
}

/// Runs `op` on one direction's reassembler and takes what it hands out through framing and the
/// recogniser. Returns whether the flow has shown it cannot be Stratum.
fn pump(
    insp: &mut Inspect,
    side: Side,
    ts: Ts,
    ctx: &Ctx<'_>,
    counters: &mut Counters,
    op: impl FnOnce(&mut Reassembler, &mut dyn FnMut(Chunk<'_>)),
) -> bool {
    let Inspect { dirs, session, mode, indirect, idle_lines, non_json, inspected, .. } = insp;
    // Only the first speaker of a connection may switch it out of `Lines` (TLS, HTTP and
    // Stratum V2 clients speak first; a pool never does in these protocols).
    let other_silent = dirs.get(idx(side.other())).map_or(true, Direction::silent);
    let Some(dir) = dirs.get_mut(idx(side)) else { return false };
    let Direction { reasm, framer, from_start, judged, head, head_len, .. } = dir;
    let Some(reasm) = reasm.as_mut() else { return false };
    let mut bypass = false;
    let overlong_before = framer.overlong;
    let before = reasm.counters;
    op(reasm, &mut |chunk| {
        if bypass {
            return;
        }
        match chunk {
            Chunk::Data(data) => {
                *inspected += data.len() as u64;
                if !matches!(mode, Mode::Lines) {
                    bypass = opening_data(mode, indirect, side, data, ts, ctx, counters, idle_lines);
                    return;
                }
                if *from_start && !*judged {
                    // Keep the stream's first bytes: the opening may need several segments.
                    let prev = usize::from(*head_len);
                    let add = data.len().min(HEAD_LEN - prev);
                    if let (Some(dst), Some(src)) = (head.get_mut(prev..prev + add), data.get(..add)) {
                        dst.copy_from_slice(src);
                    }
                    *head_len = (prev + add) as u8;
                    let seen = head.get(..usize::from(*head_len)).unwrap_or_default();
                    let opening = match probe::opening(seen) {
                        // A long run of whitespace: judge on the first significant byte as before.
                        Opening::NeedMore if seen.len() == HEAD_LEN => match probe::may_start_json(data) {
                            Some(true) => Opening::Json,
                            Some(false) => Opening::Other,
                            None => Opening::NeedMore,
                        },
                        o => o,
                    };
                    let recognised = session.confidence().is_some();
                    match opening {
                        Opening::NeedMore => {}
                        Opening::Json => *judged = true,
                        _ if recognised => *judged = true,
                        other => {
                            *judged = true;
                            let client = side;
                            // Eight printable ASCII bytes open a text protocol (SSH, SMTP,
                            // HTTP GET...), never a random Noise key: bypassed at once.
                            let text =
                                seen.len() == HEAD_LEN && seen.iter().all(|b| (0x20..0x7f).contains(b));
                            *mode = match other {
                                _ if !other_silent => {
                                    bypass = true;
                                    return;
                                }
                                Opening::Other if text => {
                                    bypass = true;
                                    return;
                                }
                                Opening::Tls => Mode::Tls { client, hello: Vec::new() },
                                Opening::HttpPost => Mode::Http {
                                    client,
                                    http: Box::new(HttpSession::new().with_client(client)),
                                },
                                _ => Mode::Sv2 { client, shape: Sv2Shape::new() },
                            };
                            // The new mode reads the stream from its first byte: the bytes kept
                            // from earlier segments, then this one.
                            let earlier = head.get(..prev).unwrap_or_default();
                            bypass = (!earlier.is_empty()
                                && opening_data(
                                    mode, indirect, side, earlier, ts, ctx, counters, idle_lines,
                                ))
                                || opening_data(mode, indirect, side, data, ts, ctx, counters, idle_lines);
                            return;
                        }
                    }
                }
                framer.push(data, |line| {
                    if bypass || line.iter().all(|b| b.is_ascii_whitespace()) {
                        return;
                    }
                    counters.lines += 1;
                    if !probe::may_be_json(line) {
                        *non_json += 1;
                        // A stream seen from its start never carries non-JSON lines if it is
                        // Stratum; one picked up midstream (or after a gap) gets one line of slack.
                        if session.confidence().is_none() && (*from_start || *non_json > 1) {
                            bypass = true;
                        }
                        return;
                    }
                    if session.on_line(side, line, ts) != LineKind::Mining {
                        *idle_lines += 1;
                    }
                });
            }
            Chunk::Gap { .. } => {
                // After a gap the next byte is not a line start: resynchronise at a newline.
                *from_start = false;
                framer.gap();
                // The opening recognisers need every byte from the start.
                match mode {
                    Mode::Lines | Mode::Recognised => {}
                    Mode::Http { http, .. } if http.confidence().is_some() => {}
                    _ => bypass = true,
                }
            }
        }
    });
    let after = reasm.counters;
    counters.reasm_gaps += after.gaps - before.gaps;
    counters.reasm_gap_bytes += after.gap_bytes - before.gap_bytes;
    counters.reasm_retransmitted_bytes += after.retransmitted_bytes - before.retransmitted_bytes;
    counters.reasm_overlap_conflicts += after.overlap_conflicts - before.overlap_conflicts;
    counters.reasm_ooo_dropped_bytes += after.ooo_dropped_bytes - before.ooo_dropped_bytes;
    counters.lines_overlong += framer.overlong - overlong_before;
    bypass
}

/// In-order bytes of a flow read by an opening recogniser (TLS, HTTP, Stratum V2). Returns
/// whether the flow has shown it cannot be mining.
#[allow(clippy::too_many_arguments)]
fn opening_data(
    mode: &mut Mode,
    indirect: &mut Option<Box<(SessionFacts, Confidence)>>,
    side: Side,
    data: &[u8],
    ts: Ts,
    ctx: &Ctx<'_>,
    counters: &mut Counters,
    idle_lines: &mut u32,
) -> bool {
    match mode {
        Mode::Lines | Mode::Recognised | Mode::AwaitName { .. } => false,
        Mode::Tls { client, hello } => {
            if side != *client {
                return false; // the server's flight tells nothing we use
            }
            let client = *client;
            // Zero-copy when the whole ClientHello is in one chunk (the usual case).
            let parsed = if hello.is_empty() {
                tls::client_hello(data)
            } else {
                let room = tls::MAX_HELLO_STREAM.saturating_sub(hello.len());
                hello.extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
                tls::client_hello(hello)
            };
            let found = match parsed {
                Err(tls::TlsError::Incomplete) => {
                    if hello.is_empty() {
                        hello.extend_from_slice(data.get(..tls::MAX_HELLO_STREAM).unwrap_or(data));
                    }
                    if hello.len() < tls::MAX_HELLO_STREAM {
                        return false;
                    }
                    counters.tls_unparsed += 1;
                    return true;
                }
                Err(_) => {
                    counters.tls_unparsed += 1;
                    return true;
                }
                Ok(h) => {
                    counters.tls_hellos += 1;
                    let found = tls_pool(&h, ctx.addr(client.other()), ts, ctx.intel, counters);
                    if found.is_none() && h.sni.is_none() && !h.offers_only_http() {
                        // No name to judge by, and no answer read yet for this address: the
                        // answer may still be on its way to another worker.
                        counters.tls_name_waits += 1;
                        let until = Ts(ts.0.saturating_add(ctx.limits.name_wait_us));
                        *mode = Mode::AwaitName { client, until };
                        return false;
                    }
                    found
                }
            };
            let Some((host, clue)) = found else { return true };
            let facts = SessionFacts {
                variant: Some(Variant::Tls),
                client: Some(client),
                pool_host: Some(host),
                clue: Some(clue),
                ..SessionFacts::default()
            };
            *indirect = Some(Box::new((facts, Confidence::Suspected)));
            *mode = Mode::Recognised;
            false
        }
        Mode::Http { client, http } => match http.push(side == *client, data, ts) {
            Ok(p) => {
                counters.http_requests += u64::from(p.requests);
                *idle_lines += p.other;
                false
            }
            Err(_) => {
                counters.http_errors += 1;
                true
            }
        },
        Mode::Sv2 { client, shape } => match shape.data(side == *client, data) {
            Sv2Verdict::Undecided => false,
            Sv2Verdict::NoMatch => true,
            Sv2Verdict::Match => {
                counters.sv2_handshakes += 1;
                let facts = SessionFacts {
                    variant: Some(Variant::StratumV2),
                    client: Some(*client),
                    ..SessionFacts::default()
                };
                *indirect = Some(Box::new((facts, Confidence::Suspected)));
                *mode = Mode::Recognised;
                false
            }
        },
    }
}

/// Whether a ClientHello goes to a pool: its SNI is a pool domain, or (no SNI) the server's
/// address came in a DNS answer for one. A non-pool SNI wins over the DNS map (shared hosting
/// puts many names on one address); a client that offers only HTTP in ALPN is a browser on the
/// pool's web site, not a miner.
fn tls_pool(
    h: &tls::ClientHello<'_>,
    server: SocketAddr,
    ts: Ts,
    intel: &Intel,
    counters: &mut Counters,
) -> Option<(String, Clue)> {
    let found = match h.sni {
        Some(sni) => intel.pools.matches(sni).map(|_| (sni.to_ascii_lowercase(), Clue::Sni)),
        None => intel.dns.lookup(server.ip(), ts).map(|d| (d.to_string(), Clue::Dns)),
    };
    if found.is_some() && h.offers_only_http() {
        counters.tls_pool_web += 1;
        return None;
    }
    if found.is_some() {
        counters.tls_pool += 1;
    }
    found
}

/// A TLS flow waiting for a name ([`Mode::AwaitName`]): whether the DNS map now names its
/// server (then it is recognised, clue `dns`, as it would have been at its ClientHello).
fn named_late(insp: &mut Inspect, client: Side, ts: Ts, ctx: &Ctx<'_>, counters: &mut Counters) -> bool {
    let Some(domain) = ctx.intel.dns.lookup(ctx.addr(client.other()).ip(), ts) else { return false };
    counters.tls_pool += 1;
    counters.tls_name_late += 1;
    let facts = SessionFacts {
        variant: Some(Variant::Tls),
        client: Some(client),
        pool_host: Some(domain.to_string()),
        clue: Some(Clue::Dns),
        ..SessionFacts::default()
    };
    insp.indirect = Some(Box::new((facts, Confidence::Suspected)));
    insp.mode = Mode::Recognised;
    true
}

/// Feeds one segment of an inspected flow through reassembly, framing and the recogniser, and
/// gives up holes that are acknowledged or too old. Returns whether the flow has shown it cannot
/// be Stratum.
#[allow(clippy::too_many_arguments)]
fn inspect(
    insp: &mut Inspect,
    side: Side,
    tcp: &TcpInfo,
    payload: &[u8],
    ts: Ts,
    ctx: &Ctx<'_>,
    counters: &mut Counters,
) -> bool {
    let limits = ctx.limits;
    match insp.mode {
        // Recognised from its opening: nothing more to read, and nothing held.
        Mode::Recognised => return false,
        Mode::AwaitName { client, until } => {
            if named_late(insp, client, ts, ctx, counters) || ts.0 <= until.0 {
                return false;
            }
            counters.tls_name_unanswered += 1;
            return true;
        }
        _ => {}
    }
    let mut bypass = false;
    if let Some(dir) = insp.dirs.get_mut(idx(side)) {
        // A SYN starts the direction, unless data already flowed (a retransmitted SYN).
        let fresh = dir.reasm.as_ref().map_or(true, |r| r.stream_offset() == 0 && r.held_bytes() == 0);
        if tcp.syn && fresh {
            dir.reasm = Some(Reassembler::with_isn(tcp.seq, limits.reassembly));
            dir.framer = LineFramer::new(limits.max_line);
            dir.from_start = true;
            dir.judged = false;
        }
        if !payload.is_empty() && dir.reasm.is_none() {
            dir.framer = LineFramer::midstream(limits.max_line);
            dir.reasm = Some(Reassembler::midstream(limits.reassembly));
        }
    }
    if !payload.is_empty() {
        // Data on a SYN (TCP Fast Open) starts one past the ISN.
        let seq = if tcp.syn { tcp.seq.wrapping_add(1) } else { tcp.seq };
        bypass |= pump(insp, side, ts, ctx, counters, |r, out| r.segment(seq, payload, out));
    }
    // This packet's ACK tells what the other side's holes really are.
    let other = side.other();
    if tcp.ack_flag && insp.dirs.get(idx(other)).is_some_and(|d| d.buffered() > 0) {
        bypass |= pump(insp, other, ts, ctx, counters, |r, out| r.acked(tcp.ack, out));
    }
    for i in 0..2 {
        let Some(dir) = insp.dirs.get_mut(i) else { continue };
        let held = dir.reasm.as_ref().is_some_and(|r| r.held_bytes() > 0);
        match (held, dir.hole_since) {
            (false, _) => dir.hole_since = None,
            (true, None) => dir.hole_since = Some(ts),
            (true, Some(since)) if ts.0.saturating_sub(since.0) > limits.hole_timeout_us => {
                bypass |= pump(insp, side_of(i), ts, ctx, counters, |r, out| r.skip_first_hole(out));
                if let Some(dir) = insp.dirs.get_mut(i) {
                    let still = dir.reasm.as_ref().is_some_and(|r| r.held_bytes() > 0);
                    dir.hole_since = still.then_some(ts);
                }
            }
            (true, Some(_)) => {}
        }
    }
    if matches!(insp.mode, Mode::Recognised | Mode::AwaitName { .. }) {
        for d in &mut insp.dirs {
            d.reasm = None;
            d.framer = LineFramer::new(0);
        }
    }
    let mining = insp.confidence().is_some();
    if !mining && (insp.idle_lines > limits.inspect_lines || insp.inspected > limits.inspect_bytes) {
        counters.flows_budget_exhausted += 1;
        return true;
    }
    bypass && !mining
}

/// The client and pool endpoints of a recognised session.
fn roles(a: SocketAddr, b: SocketAddr, client: Option<Side>) -> Option<(SocketAddr, SocketAddr, Side)> {
    match client? {
        Side::A => Some((a, b, Side::A)),
        Side::B => Some((b, a, Side::B)),
    }
}

fn make_event(
    kind: EventKind,
    flow: &Meta,
    insp: &Inspect,
    key_ts: Ts,
    confidence: Confidence,
    end_reason: Option<EndReason>,
) -> Option<Event> {
    let facts = insp.facts();
    let (client, pool, cside) = roles(flow.a, flow.b, facts.client)?;
    let key = FlowKey::new(flow.a.ip(), flow.a.port(), flow.b.ip(), flow.b.port());
    Some(Event {
        kind,
        ts: key_ts,
        flow_id: flow_id(&key, flow.first_seen),
        client,
        pool,
        confidence,
        facts: facts.clone(),
        first_seen: flow.first_seen,
        last_seen: flow.last_seen,
        bytes_toserver: flow.bytes[idx(cside)],
        bytes_toclient: flow.bytes[idx(cside.other())],
        end_reason,
        derived: crate::verdict::Derived::of(facts, flow.first_seen, flow.last_seen),
    })
}

/// Raises the session's one `mining` alert once it is ready and its miner is internal.
fn check_alert(
    meta: &Meta,
    insp: &mut Inspect,
    ts: Ts,
    home: &HomeNet,
    counters: &mut Counters,
    emit: &mut dyn FnMut(Event),
) {
    if insp.alerted {
        return;
    }
    let Some(conf) = insp.confidence() else { return };
    let facts = insp.facts();
    let Some((client, _, _)) = roles(meta.a, meta.b, facts.client) else { return };
    let internal = home.contains(client.ip());
    count_session(insp, internal, counters);
    if !insp.ready_to_alert(conf) {
        return;
    }
    insp.alerted = true;
    if internal {
        if let Some(ev) = make_event(EventKind::Mining, meta, insp, ts, conf, None) {
            counters.alerts += 1;
            emit(ev);
        }
    }
}

/// Counts a recognised session once, internal or not.
fn count_session(insp: &mut Inspect, internal: bool, counters: &mut Counters) {
    if !insp.counted {
        insp.counted = true;
        counters.sessions += 1;
        if !internal {
            counters.sessions_external += 1;
        }
    }
}

/// Ends a flow: what reassembly still holds is framed, then a mining session gets its alert
/// (if it never earned one) and its `mining_session` record.
#[allow(clippy::too_many_arguments)]
fn finish(
    mut flow: Flow,
    reason: EndReason,
    ts: Ts,
    home: &HomeNet,
    intel: &Intel,
    limits: &FlowLimits,
    counters: &mut Counters,
    emit: &mut dyn FnMut(Event),
) {
    let State::Inspecting(insp) = &mut flow.state else { return };
    let ctx = Ctx { meta: &flow.meta, intel, limits };
    if let Mode::AwaitName { client, until } = insp.mode {
        // A last look, within the wait, for an answer read since the flow's last packet.
        if !(ts.0 <= until.0 && named_late(insp, client, ts, &ctx, counters)) {
            return;
        }
    }
    for side in [Side::A, Side::B] {
        pump(insp, side, ts, &ctx, counters, |r, out| r.flush(out));
    }
    let Some(conf) = insp.confidence() else { return };
    let meta = &flow.meta;
    let Some((client, _, _)) = roles(meta.a, meta.b, insp.facts().client) else { return };
    let internal = home.contains(client.ip());
    count_session(insp, internal, counters);
    if !internal {
        return;
    }
    if !insp.alerted {
        if let Some(ev) = make_event(EventKind::Mining, meta, insp, ts, conf, None) {
            counters.alerts += 1;
            emit(ev);
        }
    }
    if let Some(ev) = make_event(EventKind::MiningSession, meta, insp, ts, conf, Some(reason)) {
        counters.session_records += 1;
        emit(ev);
    }
}

#[cfg(test)]
mod tests;
