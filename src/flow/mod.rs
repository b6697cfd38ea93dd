//! The per-worker flow table: which TCP connections exist, which are still worth inspecting,
//! and the Stratum sessions among them.
//!
//! Each flow is in one of two states. *Inspecting*: both directions are reassembled and framed
//! into lines for the recogniser (this is also where a recognised mining session stays until it
//! ends). *Bypassed*: the flow cannot be Stratum, so its packets cost one table lookup and
//! nothing else: no reassembly, no buffering. Most flows are bypassed on their first payload
//! byte, because a Stratum stream opens with `{`.
//!
//! Architecture invariant: the table is owned by one worker thread and never locked; the
//! pipeline's symmetric hash sends both directions of a connection to the same worker.

pub mod reassembly;

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::{IpAddr, SocketAddr};

use crate::config::HomeNet;
use crate::decode::{Packet, TcpInfo};
use crate::stats::Counters;
use crate::stratum::framer::LineFramer;
use crate::stratum::{probe, Confidence, Session, Side};
use crate::time::Ts;
use crate::verdict::{self, EndReason, Event, EventKind};
use reassembly::{Chunk, Reassembler, ReassemblyLimits};

/// Bounds and timeouts of one worker's flow table.
#[derive(Clone, Copy, Debug)]
pub struct FlowLimits {
    /// Most flows tracked at once; new flows beyond it are counted and not tracked.
    pub max_flows: usize,
    /// Longest Stratum line kept (Equihash submits run to ~3 KB; a getblocktemplate far more).
    pub max_line: usize,
    /// Bytes a flow may show without a mining message before it is bypassed.
    pub inspect_bytes: u64,
    /// JSON lines without mining meaning a flow may show before it is bypassed.
    pub inspect_lines: u32,
    /// Idle time after which a flow still being inspected (or mining) is ended.
    pub idle_timeout_us: i64,
    /// Idle time after which a bypassed flow is forgotten.
    pub bypass_timeout_us: i64,
    pub reassembly: ReassemblyLimits,
}

impl Default for FlowLimits {
    fn default() -> Self {
        FlowLimits {
            max_flows: 500_000,
            max_line: 64 * 1024,
            inspect_bytes: 64 * 1024,
            inspect_lines: 16,
            idle_timeout_us: 600 * 1_000_000,
            bypass_timeout_us: 120 * 1_000_000,
            reassembly: ReassemblyLimits::default(),
        }
    }
}

/// How often (in packet time) the table looks for idle flows.
const SWEEP_INTERVAL_US: i64 = 5 * 1_000_000;

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

    /// A hash that is the same for both directions, for picking a worker.
    pub fn shard_hash(&self) -> u64 {
        ahash::RandomState::with_seeds(7, 11, 13, 17).hash_one(self)
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
}

impl Direction {
    fn new(max_line: usize) -> Direction {
        Direction { reasm: None, framer: LineFramer::new(max_line), from_start: false, judged: false }
    }
}

#[derive(Debug)]
struct Inspect {
    dirs: [Direction; 2],
    session: Session,
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

#[derive(Debug)]
enum State {
    Inspecting(Box<Inspect>),
    Bypassed,
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
}

fn idx(side: Side) -> usize {
    match side {
        Side::A => 0,
        Side::B => 1,
    }
}

/// One worker's flows.
pub struct FlowTable {
    flows: HashMap<FlowKey, Flow, ahash::RandomState>,
    limits: FlowLimits,
    home: HomeNet,
    next_sweep: Option<Ts>,
    pub counters: Counters,
}

impl FlowTable {
    pub fn new(limits: FlowLimits, home: HomeNet) -> FlowTable {
        FlowTable {
            flows: HashMap::with_hasher(ahash::RandomState::new()),
            limits,
            home,
            next_sweep: None,
            counters: Counters::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Takes one decoded TCP packet.
    pub fn tcp(&mut self, pkt: &Packet<'_>, tcp: &TcpInfo, ts: Ts, emit: &mut dyn FnMut(Event)) {
        self.maybe_sweep(ts, emit);
        let key = FlowKey::new(pkt.src, pkt.src_port, pkt.dst, pkt.dst_port);
        let src = SocketAddr::new(pkt.src, pkt.src_port);
        let dst = SocketAddr::new(pkt.dst, pkt.dst_port);
        let max_flows = self.limits.max_flows;
        let limits = self.limits;
        // One hash lookup for a known flow (nearly every packet); the insert path pays a second.
        let full = self.flows.len() >= max_flows;
        let entry = match self.flows.entry(key) {
            std::collections::hash_map::Entry::Occupied(o) => Some(o.into_mut()),
            std::collections::hash_map::Entry::Vacant(_) if full => None,
            std::collections::hash_map::Entry::Vacant(v) => {
                // A bare SYN-ACK names its receiver as the connection's opener.
                let (a, b) = if tcp.syn && tcp.ack_flag { (dst, src) } else { (src, dst) };
                self.counters.flows += 1;
                Some(v.insert(Flow {
                    meta: Meta { a, b, first_seen: ts, last_seen: ts, bytes: [0, 0], fin: [false, false] },
                    state: State::Inspecting(Box::new(Inspect {
                        dirs: [Direction::new(limits.max_line), Direction::new(limits.max_line)],
                        session: Session::new(),
                        idle_lines: 0,
                        non_json: 0,
                        inspected: 0,
                        alerted: false,
                        counted: false,
                    })),
                }))
            }
        };
        let Some(flow) = entry else {
            self.counters.flows_table_full += 1;
            return;
        };
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

        if let State::Inspecting(insp) = &mut flow.state {
            if inspect(insp, side, tcp, pkt.payload, ts, &limits, &mut self.counters) {
                flow.state = State::Bypassed;
                self.counters.flows_bypassed += 1;
            } else {
                check_alert(&flow.meta, insp, ts, &self.home, &mut self.counters, emit);
            }
        }
        if let Some(reason) = end {
            if let Some(flow) = self.flows.remove(&key) {
                finish(flow, reason, ts, &self.home, &mut self.counters, emit);
            }
        }
    }

    fn maybe_sweep(&mut self, now: Ts, emit: &mut dyn FnMut(Event)) {
        match self.next_sweep {
            None => self.next_sweep = Some(Ts(now.0 + SWEEP_INTERVAL_US)),
            Some(t) if now >= t => {
                self.next_sweep = Some(Ts(now.0 + SWEEP_INTERVAL_US));
                self.expire(now, emit);
            }
            Some(_) => {}
        }
    }

    /// Ends every flow idle for longer than its timeout.
    pub fn expire(&mut self, now: Ts, emit: &mut dyn FnMut(Event)) {
        let limits = self.limits;
        let expired: Vec<FlowKey> = self
            .flows
            .iter()
            .filter(|(_, f)| {
                let timeout = match f.state {
                    State::Bypassed => limits.bypass_timeout_us,
                    State::Inspecting(_) => limits.idle_timeout_us,
                };
                now.0.saturating_sub(f.meta.last_seen.0) > timeout
            })
            .map(|(k, _)| *k)
            .collect();
        for key in expired {
            if let Some(flow) = self.flows.remove(&key) {
                self.counters.flows_timed_out += 1;
                let at = flow.meta.last_seen;
                finish(flow, EndReason::Timeout, at, &self.home, &mut self.counters, emit);
            }
        }
    }

    /// End of input: every open session is ended and written.
    pub fn flush_all(&mut self, emit: &mut dyn FnMut(Event)) {
        let flows: Vec<Flow> = self.flows.drain().map(|(_, f)| f).collect();
        for flow in flows {
            let at = flow.meta.last_seen;
            finish(flow, EndReason::EndOfInput, at, &self.home, &mut self.counters, emit);
        }
    }
}

/// Feeds one segment of an inspected flow through reassembly, framing and the recogniser.
/// Returns whether the flow has shown it cannot be Stratum.
fn inspect(
    insp: &mut Inspect,
    side: Side,
    tcp: &TcpInfo,
    payload: &[u8],
    ts: Ts,
    limits: &FlowLimits,
    counters: &mut Counters,
) -> bool {
    let Inspect { dirs, session, idle_lines, non_json, inspected, .. } = insp;
    let [d0, d1] = dirs;
    let dir = if side == Side::A { d0 } else { d1 };
    if tcp.syn {
        dir.reasm = Some(Reassembler::with_isn(tcp.seq, limits.reassembly));
        dir.framer = LineFramer::new(limits.max_line);
        dir.from_start = true;
        dir.judged = false;
    }
    if payload.is_empty() {
        return false;
    }
    let Direction { reasm, framer, from_start, judged } = dir;
    let reasm = reasm.get_or_insert_with(|| {
        *framer = LineFramer::midstream(limits.max_line);
        Reassembler::midstream(limits.reassembly)
    });
    let mut bypass = false;
    let mining = session.confidence().is_some();
    let overlong_before = framer.overlong;
    let before = reasm.counters;
    reasm.segment(tcp.seq, payload, &mut |chunk| {
        if bypass {
            return;
        }
        match chunk {
            Chunk::Data(data) => {
                *inspected += data.len() as u64;
                if *from_start && !*judged {
                    match probe::may_start_json(data) {
                        Some(false) if !mining => {
                            bypass = true;
                            return;
                        }
                        Some(_) => *judged = true,
                        None => {}
                    }
                }
                framer.push(data, |line| {
                    if bypass {
                        return;
                    }
                    if line.iter().all(|b| b.is_ascii_whitespace()) {
                        return;
                    }
                    counters.lines += 1;
                    if !probe::may_be_json(line) {
                        *non_json += 1;
                        // A stream seen from its start never carries non-JSON lines if it is
                        // Stratum; one picked up midstream gets one line of slack.
                        if session.confidence().is_none() && (*from_start || *non_json > 1) {
                            bypass = true;
                        }
                        return;
                    }
                    if session.on_line(side, line, ts) != crate::stratum::LineKind::Mining {
                        *idle_lines += 1;
                    }
                });
            }
            Chunk::Gap { .. } => framer.gap(),
        }
    });
    let after = reasm.counters;
    counters.reasm_gaps += after.gaps - before.gaps;
    counters.reasm_gap_bytes += after.gap_bytes - before.gap_bytes;
    counters.reasm_retransmitted_bytes += after.retransmitted_bytes - before.retransmitted_bytes;
    counters.reasm_overlap_conflicts += after.overlap_conflicts - before.overlap_conflicts;
    counters.reasm_ooo_dropped_bytes += after.ooo_dropped_bytes - before.ooo_dropped_bytes;
    counters.lines_overlong += framer.overlong - overlong_before;
    if session.confidence().is_none()
        && (*idle_lines > limits.inspect_lines || *inspected > limits.inspect_bytes)
    {
        counters.flows_budget_exhausted += 1;
        bypass = true;
    }
    bypass && session.confidence().is_none()
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
    let facts = insp.session.facts();
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
    let Some(conf) = insp.session.confidence() else {
        return;
    };
    let facts = insp.session.facts();
    let Some((client, _, _)) = roles(meta.a, meta.b, facts.client) else {
        return;
    };
    let internal = home.contains(client.ip());
    count_session(insp, internal, counters);
    if !verdict::ready_to_alert(insp.session.facts(), conf) {
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
fn finish(
    mut flow: Flow,
    reason: EndReason,
    ts: Ts,
    home: &HomeNet,
    counters: &mut Counters,
    emit: &mut dyn FnMut(Event),
) {
    let State::Inspecting(insp) = &mut flow.state else {
        return;
    };
    {
        let Inspect { dirs, session, .. } = &mut **insp;
        for (i, dir) in dirs.iter_mut().enumerate() {
            let side = if i == 0 { Side::A } else { Side::B };
            let Direction { reasm, framer, .. } = dir;
            if let Some(r) = reasm {
                r.flush(&mut |chunk| match chunk {
                    Chunk::Data(data) => framer.push(data, |line| {
                        if probe::may_be_json(line) {
                            session.on_line(side, line, ts);
                        }
                    }),
                    Chunk::Gap { .. } => framer.gap(),
                });
            }
        }
    }
    let Some(conf) = insp.session.confidence() else {
        return;
    };
    let meta = &flow.meta;
    let Some((client, _, _)) = roles(meta.a, meta.b, insp.session.facts().client) else {
        return;
    };
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
