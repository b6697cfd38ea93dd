//! The Stratum line dialects: newline-delimited JSON-RPC, framed per side and read by the
//! session's state machine. The default parser, and the only one for a flow picked up midstream.

use crate::flow::{FlowLimits, Side};
use crate::stratum::framer::LineFramer;
use crate::stratum::probe;
use crate::stratum::{Limits, LineKind, Session};

use super::{Cx, Parse, SessionView, Step};

#[derive(Debug)]
pub struct Lines {
    framers: [LineFramer; 2],
    session: Session,
    /// Non-JSON lines seen.
    non_json: u32,
}

impl Lines {
    pub fn new(max_line: usize) -> Lines {
        Lines::with_limits(max_line, Limits::default())
    }

    /// With the parser bounds the configuration gives.
    pub fn with_limits(max_line: usize, parsers: Limits) -> Lines {
        Lines {
            framers: [LineFramer::new(max_line), LineFramer::new(max_line)],
            session: Session::with_limits(parsers),
            non_json: 0,
        }
    }
}

fn idx(side: Side) -> usize {
    match side {
        Side::A => 0,
        Side::B => 1,
    }
}

impl Parse for Lines {
    fn start(&mut self, side: Side, from_start: bool, limits: &FlowLimits) {
        if let Some(f) = self.framers.get_mut(idx(side)) {
            *f = if from_start {
                LineFramer::new(limits.max_line)
            } else {
                LineFramer::midstream(limits.max_line)
            };
        }
    }

    fn data(&mut self, side: Side, data: &[u8], from_start: bool, cx: &mut Cx<'_>) -> Step {
        let Lines { framers, session, non_json } = self;
        let Some(framer) = framers.get_mut(idx(side)) else { return Step::Continue };
        let overlong_before = framer.overlong;
        let mut bypass = false;
        let ts = cx.ts;
        let jobs_before = session.facts().jobs;
        let counters = &mut *cx.counters;
        let idle_lines = &mut *cx.idle_lines;
        framer.push(data, |line| {
            if bypass || line.iter().all(|b| b.is_ascii_whitespace()) {
                return;
            }
            counters.lines += 1;
            if !probe::may_be_json(line) {
                *non_json += 1;
                // A stream seen from its start never carries non-JSON lines if it is Stratum;
                // one picked up midstream (or after a gap) gets one line of slack.
                if session.confidence().is_none() && (from_start || *non_json > 1) {
                    bypass = true;
                }
                return;
            }
            if session.on_line(side, line, ts) != LineKind::Mining {
                *idle_lines += 1;
            }
        });
        counters.lines_overlong += framer.overlong - overlong_before;
        if session.facts().jobs > jobs_before && session.confidence().is_some() {
            // New work for a known mining session: the coin's clock, for the behaviour watch
            // of encrypted sessions on any worker.
            match cx.shared.intel.clock.record(ts, cx.shared.place.now()) {
                crate::intel::clock::Recorded::Coalesced => {}
                crate::intel::clock::Recorded::New => cx.counters.behaviour_clock_pushes += 1,
                crate::intel::clock::Recorded::Overwrote => {
                    cx.counters.behaviour_clock_pushes += 1;
                    cx.counters.behaviour_clock_overwritten += 1;
                }
            }
        }
        if bypass {
            Step::Bypass
        } else {
            Step::Continue
        }
    }

    fn gap(&mut self, side: Side) -> Step {
        // Resynchronise at the next newline.
        if let Some(f) = self.framers.get_mut(idx(side)) {
            f.gap();
        }
        Step::Continue
    }

    fn session(&self) -> Option<SessionView<'_>> {
        let confidence = self.session.confidence()?;
        Some(SessionView { facts: self.session.facts(), confidence, whole: false, tunnel: None })
    }

    fn allocated(&self) -> usize {
        self.framers.iter().map(LineFramer::capacity).sum()
    }
}
