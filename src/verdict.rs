//! From session facts to records: when a session earns its one `mining` alert, and what the
//! `mining` and `mining_session` records carry.

use std::net::SocketAddr;

use crate::stratum::{Confidence, SessionFacts};
use crate::time::Ts;

/// Mining messages after which a session is reported even if it never named a login (a
/// session picked up midstream, after its `authorize`).
const MESSAGES_WITHOUT_LOGIN: u64 = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The alert: once per session, as soon as the session is recognised.
    Mining,
    /// The session ended (FIN/RST, idle timeout, end of input): its final counters.
    MiningSession,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Mining => "mining",
            EventKind::MiningSession => "mining_session",
        }
    }
}

/// Why a session ended.
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

/// One record for the outputs: everything a formatter needs, owned, so that it can cross to the
/// output thread. Built only on verdicts, never per packet.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    /// Packet time of the packet that triggered the record (or of the last packet, at the end).
    pub ts: Ts,
    pub flow_id: u64,
    /// The miner.
    pub client: SocketAddr,
    /// The pool.
    pub pool: SocketAddr,
    pub confidence: Confidence,
    pub facts: SessionFacts,
    pub first_seen: Ts,
    pub last_seen: Ts,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    /// Set on `mining_session` records.
    pub end_reason: Option<EndReason>,
}

/// Whether a recognised session has shown enough to raise its alert now. Earlier is better
/// for the analyst, but an alert that waits for the login names the wallet; so wait for the
/// login unless the session is already plainly mining without one.
pub fn ready_to_alert(facts: &SessionFacts, confidence: Confidence) -> bool {
    if confidence < Confidence::Detected {
        return false;
    }
    facts.login.is_some()
        || facts.shares_submitted > 0
        || facts.client_msgs + facts.pool_msgs >= MESSAGES_WITHOUT_LOGIN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_login_or_enough_evidence() {
        let mut f = SessionFacts::default();
        assert!(!ready_to_alert(&f, Confidence::Detected));
        f.login = Some("wallet".into());
        assert!(ready_to_alert(&f, Confidence::Detected));
        assert!(!ready_to_alert(&f, Confidence::Suspected));
        let mut g = SessionFacts { shares_submitted: 1, ..Default::default() };
        assert!(ready_to_alert(&g, Confidence::Confirmed));
        g.shares_submitted = 0;
        g.pool_msgs = 3;
        g.client_msgs = 1;
        assert!(ready_to_alert(&g, Confidence::Confirmed));
    }
}
