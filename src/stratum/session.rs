//! The per-connection dialect state machine. (Being written: see the module docs in `mod.rs`.)

use super::{Confidence, SessionFacts, Side};
use crate::time::Ts;

/// What one line turned out to be, so the flow layer can decide when to give up on a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    /// Not a JSON object or array (after the cheap probe let it through, serde_json said no).
    NotJson,
    /// Valid JSON, but nothing mining-specific: plain JSON-RPC, Electrum, Ethereum node RPC.
    OtherJson,
    /// A message of a mining dialect, from either side.
    Mining,
}

/// One TCP connection's Stratum state.
#[derive(Debug, Default)]
pub struct Session {
    facts: SessionFacts,
}

impl Session {
    pub fn new() -> Session {
        Session::default()
    }

    /// Feeds one complete line (without its line terminator) sent by `side` at `ts`.
    pub fn on_line(&mut self, _side: Side, _line: &[u8], _ts: Ts) -> LineKind {
        LineKind::NotJson
    }

    pub fn facts(&self) -> &SessionFacts {
        &self.facts
    }

    /// `None` until the session shows mining evidence.
    pub fn confidence(&self) -> Option<Confidence> {
        None
    }
}
