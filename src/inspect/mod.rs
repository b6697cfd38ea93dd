//! The application layer of a connection: one [`Inspector`] per inspected flow, which the flow
//! table ([`crate::flow`]) hands each side's in-order bytes and gaps.
//!
//! The opening probe ([`opening`]) reads the first bytes of the side that speaks first on a
//! connection seen from its start and picks an application parser; every parser sits behind
//! one interface ([`Parse`]: bytes of a side in, then continue, bypass, or become another
//! parser, such as a session recognised from its opening). The parsers:
//! - [`lines`]: newline-delimited JSON-RPC, the Stratum line dialects (the default, and every
//!   midstream flow);
//! - [`tls`]: the client's TLS hello, judged by its SNI or a DNS answer, and the wait for a
//!   name that another worker may read late;
//! - [`behaviour`]: a TLS flow with no name, watched by its record headers' sizes, directions
//!   and timing (and the wait for a name meanwhile);
//! - [`http`]: getwork/getblocktemplate over HTTP/1.x, for a flow that opens with `POST `;
//! - [`tunnel`]: SOCKS4/4a/5, HTTP `CONNECT`, a WebSocket upgrade, the PROXY protocol header:
//!   the handshake, then the inner stream read by an inner inspector as if it were the
//!   connection;
//! - [`sv2`]: Stratum V2, for any other binary opening: plain frames read to facts, or the
//!   Noise handshake shape and then the encrypted pushes counted as evidence;
//! - [`Recognised`]: a session recognised from its opening alone, which reads nothing more.
//!
//! A session's facts live in one place, the current parser ([`Parse::session`]); the verdict's
//! gate ([`crate::verdict::Gate`]) decides from them when to report. A new protocol is a new
//! module here, a variant of [`Parser`] and a line of the probe: nothing outside `inspect/`.

pub mod behaviour;
pub mod http;
pub mod lines;
pub mod opening;
pub mod sv2;
pub mod tls;
pub mod tunnel;

use std::sync::Arc;

use crate::flow::reassembly::Chunk;
use crate::flow::{self, Application, ConnInfo, EndReason, FlowLimits, Recheck, Side};
use crate::intel::Intel;
use crate::stats::Counters;
use crate::stratum::{Confidence, SessionFacts};
use crate::time::Ts;
use crate::verdict::{Event, Gate, HomeNet, Once, Seen};

/// The flow table of a worker: connections inspected by [`Inspector`]s.
pub type FlowTable = flow::FlowTable<Inspector>;

/// What every inspector of one table reads.
pub struct Shared {
    /// Pool domains and DNS answers, for TLS flows.
    pub intel: Arc<Intel>,
    /// The home network and when a session is reported.
    pub gate: Gate,
    /// The bounds of the Stratum and HTTP parsers (from the configuration).
    pub parsers: crate::stratum::Limits,
    /// The behaviour watch's thresholds (from the configuration).
    pub behaviour: behaviour::Limits,
    /// Where this table's worker is in a replay's file, for the push clock (see
    /// [`crate::intel::clock`]).
    pub place: crate::intel::clock::Place,
}

impl FlowTable {
    /// A table of inspected flows whose miners inside `home` are reported, with the built-in
    /// pool list and an empty DNS map of its own (see [`FlowTable::with_intel`]).
    pub fn new(limits: FlowLimits, home: HomeNet) -> FlowTable {
        let intel = Arc::new(Intel::new(Arc::new(crate::intel::PoolDomains::builtin())));
        let parsers = crate::stratum::Limits::default();
        let behaviour = behaviour::Limits::default();
        let place = crate::intel::clock::Place::default();
        flow::FlowTable::with_shared(
            limits,
            Shared { intel, gate: Gate::new(home), parsers, behaviour, place },
        )
    }

    /// Gives the parsers of the connections opened from now on these bounds instead of the
    /// defaults (`--max-field-len`, `--max-pending`, `--http-max-*`).
    pub fn with_parser_limits(mut self, parsers: crate::stratum::Limits) -> FlowTable {
        self.shared_mut().parsers = parsers;
        self
    }

    /// Gives the behaviour watch these thresholds instead of the defaults (`--behaviour-*`).
    pub fn with_behaviour_limits(mut self, behaviour: behaviour::Limits) -> FlowTable {
        self.shared_mut().behaviour = behaviour;
        self
    }

    /// Looks up the push clock in file order, from `place` (a worker's among a replay's).
    pub fn with_place(mut self, place: crate::intel::clock::Place) -> FlowTable {
        self.shared_mut().place = place;
        self
    }

    /// Uses `intel` (the run's pool list and shared DNS map) instead of the built-in list and
    /// an empty map of this table's own.
    pub fn with_intel(mut self, intel: Arc<Intel>) -> FlowTable {
        self.shared_mut().intel = intel;
        self
    }
}

/// What a parser may look at and count while it reads.
pub struct Cx<'a> {
    pub ts: Ts,
    pub conn: &'a ConnInfo,
    pub limits: &'a FlowLimits,
    pub shared: &'a Shared,
    pub counters: &'a mut Counters,
    /// Messages without mining meaning, against the flow's `inspect_lines` budget.
    pub idle_lines: &'a mut u32,
}

/// What a parser says after a side's bytes.
pub enum Step {
    Continue,
    /// The flow cannot be mining.
    Bypass,
    /// The flow is now read by another parser (from the next byte on). Boxed: a switch happens
    /// at most a couple of times per flow, a `Continue` on every chunk.
    Become(Box<Parser>),
}

/// A session as a parser sees it: its facts, how sure, and whether it is all there will be.
#[derive(Clone, Copy)]
pub struct SessionView<'a> {
    pub facts: &'a SessionFacts,
    pub confidence: Confidence,
    /// Recognised from its opening alone: nothing more will be learnt, report it at once.
    pub whole: bool,
    /// The tunnel the session was found in, when its facts do not say it already: set by the
    /// tunnel parser around the inner stream's parser.
    pub tunnel: Option<&'a crate::stratum::Tunnel>,
}

impl<'a> SessionView<'a> {
    fn seen(self) -> Seen<'a> {
        Seen { facts: self.facts, confidence: self.confidence, whole: self.whole, tunnel: self.tunnel }
    }
}

/// The one interface of the application parsers.
pub trait Parse {
    /// In-order bytes of `side`; `from_start`: the side's stream is read from its first byte
    /// with no gap since.
    fn data(&mut self, side: Side, data: &[u8], from_start: bool, cx: &mut Cx<'_>) -> Step;
    /// A gap in `side`'s stream: bytes that will never be seen.
    fn gap(&mut self, side: Side) -> Step;
    /// The session recognised so far, if any.
    fn session(&self) -> Option<SessionView<'_>>;
    /// Bytes it holds, for the table's memory cap.
    fn allocated(&self) -> usize {
        0
    }
    /// Whether it still reads bytes (else the table drops the flow's reassemblers).
    fn reads(&self) -> bool {
        true
    }
    /// `side`'s stream (re)starts, from its first byte or midstream.
    fn start(&mut self, _side: Side, _from_start: bool, _limits: &FlowLimits) {}
}

/// The parser reading a flow now. The line parser is much the largest, and the one nearly
/// every inspected flow uses: kept inline (the enum lives in the flow's boxed state already), so
/// that inspecting a flow costs no second allocation.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Parser {
    Lines(lines::Lines),
    Tls(tls::Hello),
    AwaitName(tls::AwaitName),
    Watch(Box<behaviour::Watch>),
    Http(http::Http),
    Sv2(sv2::Handshake),
    Sv2Noise(sv2::Noise),
    Sv2Plain(sv2::Plain),
    Tunnel(Box<tunnel::Tunnel>),
    Recognised(Recognised),
}

impl Parser {
    fn get(&self) -> &dyn Parse {
        match self {
            Parser::Lines(p) => p,
            Parser::Tls(p) => p,
            Parser::AwaitName(p) => p,
            Parser::Watch(p) => p.as_ref(),
            Parser::Http(p) => p,
            Parser::Sv2(p) => p,
            Parser::Sv2Noise(p) => p,
            Parser::Sv2Plain(p) => p,
            Parser::Tunnel(p) => p.as_ref(),
            Parser::Recognised(p) => p,
        }
    }

    fn get_mut(&mut self) -> &mut dyn Parse {
        match self {
            Parser::Lines(p) => p,
            Parser::Tls(p) => p,
            Parser::AwaitName(p) => p,
            Parser::Watch(p) => p.as_mut(),
            Parser::Http(p) => p,
            Parser::Sv2(p) => p,
            Parser::Sv2Noise(p) => p,
            Parser::Sv2Plain(p) => p,
            Parser::Tunnel(p) => p.as_mut(),
            Parser::Recognised(p) => p,
        }
    }
}

/// A session recognised from its opening (tls, stratum-v2): nothing more is read; the flow is
/// kept only for its `mining_session` record.
#[derive(Debug)]
pub struct Recognised {
    facts: Box<SessionFacts>,
    confidence: Confidence,
}

impl Recognised {
    pub fn new(facts: SessionFacts) -> Recognised {
        Recognised::with_confidence(facts, Confidence::Suspected)
    }

    /// A session read so far and no further (a plain SV2 stream after a gap).
    pub fn with_confidence(facts: SessionFacts, confidence: Confidence) -> Recognised {
        Recognised { facts: Box::new(facts), confidence }
    }

    pub fn boxed(facts: Box<SessionFacts>) -> Recognised {
        Recognised { facts, confidence: Confidence::Suspected }
    }

    pub(crate) fn facts_mut(&mut self) -> &mut SessionFacts {
        &mut self.facts
    }
}

impl Parse for Recognised {
    fn data(&mut self, _: Side, _: &[u8], _: bool, _: &mut Cx<'_>) -> Step {
        Step::Continue
    }
    fn gap(&mut self, _: Side) -> Step {
        Step::Continue
    }
    fn session(&self) -> Option<SessionView<'_>> {
        Some(SessionView { facts: &self.facts, confidence: self.confidence, whole: true, tunnel: None })
    }
    fn reads(&self) -> bool {
        false
    }
}

/// One connection's application state: the opening probe of each side, the parser it picked,
/// the inspection budget, and the verdict's once-per-session state.
#[derive(Debug)]
pub struct Inspector {
    open: [opening::Head; 2],
    parser: Parser,
    /// Payload bytes handed to the parsers.
    inspected: u64,
    /// Messages that carried nothing mining-specific.
    idle_lines: u32,
    once: Once,
    /// Tunnels around this inspector's stream: 0 for a connection's own.
    depth: u8,
}

fn idx(side: Side) -> usize {
    match side {
        Side::A => 0,
        Side::B => 1,
    }
}

impl Inspector {
    fn with_parser(parser: Parser) -> Inspector {
        Inspector {
            open: [opening::Head::default(), opening::Head::default()],
            parser,
            inspected: 0,
            idle_lines: 0,
            once: Once::default(),
            depth: 0,
        }
    }

    /// The inspector of the inner stream of a tunnel at `depth`: both sides read from their
    /// first byte, as a connection seen from its start.
    fn inner(limits: &FlowLimits, shared: &Shared, depth: u8) -> Inspector {
        let mut i = Inspector::new(limits, shared);
        i.depth = depth;
        i.start(Side::A, true, limits);
        i.start(Side::B, true, limits);
        i
    }

    /// In-order bytes of `side`: the opening probe, then the current parser. Returns whether
    /// to bypass.
    fn data(&mut self, side: Side, data: &[u8], other_silent: bool, cx: &mut Cx<'_>) -> bool {
        match self.probe(side, data, other_silent, cx) {
            Some(bypass) => bypass,
            None => self.feed(side, data, cx),
        }
    }

    /// A gap in `side`'s stream. Returns whether to bypass.
    fn gap(&mut self, side: Side) -> bool {
        // After a gap the next byte is not a line start, and the opening is lost.
        if let Some(o) = self.open.get_mut(idx(side)) {
            o.from_start = false;
        }
        let step = self.parser.get_mut().gap(side);
        self.apply(step)
    }

    /// Hands `data` to the current parser and follows what it says. Returns whether to bypass.
    fn feed(&mut self, side: Side, data: &[u8], cx: &mut Cx<'_>) -> bool {
        let from_start = self.open.get(idx(side)).is_some_and(|o| o.from_start);
        let step = self.parser.get_mut().data(side, data, from_start, cx);
        self.apply(step)
    }

    fn apply(&mut self, step: Step) -> bool {
        match step {
            Step::Continue => false,
            Step::Bypass => true,
            Step::Become(p) => {
                self.parser = *p;
                false
            }
        }
    }

    /// The flow's first bytes, while the line parser reads it: the probe of a side seen from
    /// its start may pick another parser, which then reads the stream from its first byte.
    /// `None`: the line parser goes on with `data`.
    fn probe(&mut self, side: Side, data: &[u8], other_silent: bool, cx: &mut Cx<'_>) -> Option<bool> {
        let Parser::Lines(lines) = &self.parser else { return None };
        let recognised = lines.session().is_some();
        let head = self.open.get_mut(idx(side))?;
        if !head.from_start || head.judged {
            return None;
        }
        let (choice, earlier) =
            head.judge(data, side, recognised, other_silent, cx.shared.parsers, self.depth)?;
        let Some(parser) = choice else { return Some(true) };
        self.parser = parser;
        // The new parser reads the stream from its first byte: the bytes kept from earlier
        // segments, then this one.
        let earlier = earlier.as_slice();
        Some((!earlier.is_empty() && self.feed(side, earlier, cx)) || self.feed(side, data, cx))
    }
}

impl Application for Inspector {
    type Shared = Shared;
    type Event = Event;
    /// The client side and the end of its wait.
    type Wait = (Side, Ts);

    fn new(limits: &FlowLimits, shared: &Shared) -> Inspector {
        Inspector::with_parser(Parser::Lines(lines::Lines::with_limits(limits.max_line, shared.parsers)))
    }

    fn start(&mut self, side: Side, from_start: bool, limits: &FlowLimits) {
        if let Some(o) = self.open.get_mut(idx(side)) {
            *o = opening::Head::new(from_start);
        }
        self.parser.get_mut().start(side, from_start, limits);
    }

    fn reads(&self) -> bool {
        self.parser.get().reads()
    }

    fn idle(&mut self, cx: &flow::Ctx<'_, Shared>, counters: &mut Counters) -> bool {
        let Parser::AwaitName(w) = &self.parser else { return false };
        let until = w.until;
        if let Some(r) = w.named(cx.conn, cx.ts, cx.shared, counters) {
            self.parser = Parser::Recognised(r);
            return false;
        }
        if cx.ts.0 <= until.0 {
            return false;
        }
        counters.tls_name_unanswered += 1;
        true
    }

    fn chunk(
        &mut self,
        side: Side,
        chunk: Chunk<'_>,
        other_silent: bool,
        fcx: &flow::Ctx<'_, Shared>,
        counters: &mut Counters,
    ) -> bool {
        let mut idle_lines = self.idle_lines;
        let mut cx = Cx {
            ts: fcx.ts,
            conn: fcx.conn,
            limits: fcx.limits,
            shared: fcx.shared,
            counters,
            idle_lines: &mut idle_lines,
        };
        let bypass = match chunk {
            Chunk::Data(data) => {
                self.inspected += data.len() as u64;
                self.data(side, data, other_silent, &mut cx)
            }
            Chunk::Gap { .. } => self.gap(side),
        };
        self.idle_lines = idle_lines;
        bypass
    }

    fn settle(&mut self, bypass: bool, cx: &flow::Ctx<'_, Shared>, counters: &mut Counters) -> bool {
        let mining = self.is_session();
        // The behaviour watch bounds itself (time, record size, byte rate), not by these.
        let watching = matches!(self.parser, Parser::Watch(_));
        if !mining
            && !watching
            && (self.idle_lines > cx.limits.inspect_lines || self.inspected > cx.limits.inspect_bytes)
        {
            counters.flows_budget_exhausted += 1;
            return true;
        }
        bypass && !mining
    }

    fn progress(&mut self, cx: &flow::Ctx<'_, Shared>, counters: &mut Counters, emit: &mut dyn FnMut(Event)) {
        if let Some(s) = self.parser.get().session() {
            cx.shared.gate.progress(&mut self.once, cx.conn, s.seen(), cx.ts, counters, emit);
        }
    }

    fn finish(
        &mut self,
        reason: EndReason,
        cx: &flow::Ctx<'_, Shared>,
        counters: &mut Counters,
        emit: &mut dyn FnMut(Event),
    ) {
        if let Parser::AwaitName(w) = &self.parser {
            // A last look, within the wait, for an answer read since the flow's last packet.
            if cx.ts.0 > w.until.0 {
                return;
            }
            let Some(r) = w.named(cx.conn, cx.ts, cx.shared, counters) else { return };
            self.parser = Parser::Recognised(r);
        }
        if let Parser::Watch(w) = &mut self.parser {
            if !w.name_waiting(cx.ts) {
                return;
            }
            let Some(r) = w.named(cx.conn, cx.ts, cx.shared, counters) else { return };
            self.parser = Parser::Recognised(r);
        }
        if let Some(s) = self.parser.get().session() {
            cx.shared.gate.end(&mut self.once, cx.conn, s.seen(), reason, cx.ts, counters, emit);
        }
    }

    fn is_session(&self) -> bool {
        self.parser.get().session().is_some()
    }

    fn allocated(&self) -> usize {
        self.parser.get().allocated()
    }

    fn waiting(&self) -> Option<Ts> {
        match &self.parser {
            Parser::AwaitName(w) => Some(w.until),
            Parser::Watch(w) if !w.name_over => Some(w.name.until),
            _ => None,
        }
    }

    fn recheck(
        &mut self,
        now: Ts,
        cx: &flow::Ctx<'_, Shared>,
        counters: &mut Counters,
        emit: &mut dyn FnMut(Event),
    ) -> Recheck {
        if let Parser::Watch(w) = &mut self.parser {
            if w.name_over {
                return Recheck::Over;
            }
            if let Some(r) = w.named(cx.conn, cx.ts, cx.shared, counters) {
                self.parser = Parser::Recognised(r);
                self.progress(cx, counters, emit);
                return Recheck::Resolved;
            }
            if now.0 <= w.name.until.0 {
                return Recheck::Waiting;
            }
            // No answer came: the watch reads on, by behaviour alone.
            w.name_over = true;
            counters.tls_name_unanswered += 1;
            return Recheck::Over;
        }
        let Parser::AwaitName(w) = &self.parser else { return Recheck::Resolved };
        let until = w.until;
        if let Some(r) = w.named(cx.conn, cx.ts, cx.shared, counters) {
            self.parser = Parser::Recognised(r);
            self.progress(cx, counters, emit);
            return Recheck::Resolved;
        }
        if now.0 <= until.0 {
            return Recheck::Waiting;
        }
        counters.tls_name_unanswered += 1;
        Recheck::Expired
    }

    fn still_waiting(&self, cx: &flow::Ctx<'_, Shared>) -> Option<(Side, Ts)> {
        let w = match &self.parser {
            Parser::AwaitName(w) => w,
            Parser::Watch(w) if !w.name_over => &w.name,
            _ => return None,
        };
        (cx.ts.0 <= w.until.0 && !w.answered(cx.conn, cx.ts, cx.shared)).then_some((w.client, w.until))
    }

    fn wait_over(wait: &(Side, Ts), now: Ts, cx: &flow::Ctx<'_, Shared>) -> bool {
        let w = tls::AwaitName { client: wait.0, until: wait.1 };
        now.0 > w.until.0 || w.answered(cx.conn, cx.ts, cx.shared)
    }

    fn end_wait(
        wait: (Side, Ts),
        reason: EndReason,
        cx: &flow::Ctx<'_, Shared>,
        counters: &mut Counters,
        emit: &mut dyn FnMut(Event),
    ) {
        let mut insp =
            Inspector::with_parser(Parser::AwaitName(tls::AwaitName { client: wait.0, until: wait.1 }));
        let before = counters.tls_name_late;
        insp.finish(reason, cx, counters, emit);
        if counters.tls_name_late == before {
            counters.tls_name_unanswered += 1;
        }
    }

    fn news(shared: &Shared) -> u64 {
        shared.intel.dns.generation()
    }
}

#[cfg(test)]
mod tests;
