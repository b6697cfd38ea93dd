//! From session facts to records: when a session earns its one `mining` alert, and what the
//! `mining` and `mining_session` records carry.

use std::net::SocketAddr;

use crate::stratum::agent::{self, AgentKind};
use crate::stratum::{Confidence, SessionFacts};
use crate::time::Ts;

/// Mining messages after which a session is reported even if it never named a login (a
/// session picked up midstream, after its `authorize`).
const MESSAGES_WITHOUT_LOGIN: u64 = 4;
/// The same when the miner was seen opening the session (subscribe, hello, configure): its
/// login usually follows within a few messages (ASIC firmware negotiates extensions first,
/// EthereumStratum/2 says hello), so wait for it a little longer.
const MESSAGES_WITHOUT_LOGIN_AFTER_HANDSHAKE: u64 = 12;

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
    /// What is worked out from `facts` and the times, once, when the record is built
    /// ([`Derived::of`]): every format prints the same derived facts and no formatter works
    /// them out again.
    pub derived: Derived,
}

/// The facts of a record that are worked out rather than seen on the wire. The coin is not
/// among them: the session decides it as the login arrives (`SessionFacts::coin`), since it
/// also steers how shares are counted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Derived {
    /// The miner software from the agent string ([`agent::parse`]); `None` without an agent or
    /// when the string names nothing.
    pub agent: Option<AgentInfo>,
    /// Estimated hash rate in hashes per second ([`estimated_hashrate`]) at the record's time:
    /// on a `mining_session` record over the whole session.
    pub hashrate: Option<f64>,
}

/// The miner software an agent string names, owned so that the record can cross threads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentInfo {
    /// As sent (`XMRig`, `bmminer`), never empty.
    pub name: String,
    pub version: Option<String>,
    /// Set when the name is known software.
    pub kind: Option<AgentKind>,
}

impl Derived {
    /// The derived facts of a session with `facts`, seen from `first_seen` to `last_seen`. Called
    /// where an `Event` is built, on verdicts only, never per packet.
    pub fn of(facts: &SessionFacts, first_seen: Ts, last_seen: Ts) -> Derived {
        Derived {
            agent: facts.agent.as_deref().and_then(agent::parse).map(|a| AgentInfo {
                name: a.name.to_string(),
                version: a.version.map(str::to_string),
                kind: a.kind,
            }),
            hashrate: estimated_hashrate(facts, first_seen, last_seen),
        }
    }
}

/// Whether a recognised session has shown enough to raise its alert now. Earlier is better
/// for the analyst, but an alert that waits for the login names the wallet; so wait for the
/// login unless the session is already plainly mining without one.
pub fn ready_to_alert(facts: &SessionFacts, confidence: Confidence) -> bool {
    if confidence < Confidence::Detected {
        return false;
    }
    let patience =
        if facts.handshake_seen { MESSAGES_WITHOUT_LOGIN_AFTER_HANDSHAKE } else { MESSAGES_WITHOUT_LOGIN };
    facts.login.is_some() || facts.shares_submitted > 0 || facts.client_msgs + facts.pool_msgs >= patience
}

/// Shortest window a hash rate is estimated over; below it one share's luck dominates.
const MIN_HASHRATE_WINDOW_US: i64 = 1_000_000;

/// Estimated hash rate of a session in hashes per second (see docs/hashrate.md):
/// the expected hashes of the accepted shares (each at the share difficulty in force when it
/// was submitted, converted by the dialect's hashes-per-difficulty-1) over the time between the
/// first and the last share, or over the whole session when the shares span less than a
/// second. `None` without an accepted share of known difficulty or a usable window.
pub fn estimated_hashrate(facts: &SessionFacts, first_seen: Ts, last_seen: Ts) -> Option<f64> {
    if facts.shares_accepted == 0
        || facts.accepted_hashes.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
    {
        return None;
    }
    let share_window = match (facts.first_share, facts.last_share) {
        (Some(a), Some(b)) => b.0.saturating_sub(a.0),
        _ => 0,
    };
    let window = if share_window >= MIN_HASHRATE_WINDOW_US {
        share_window
    } else {
        last_seen.0.saturating_sub(first_seen.0)
    };
    if window < MIN_HASHRATE_WINDOW_US {
        return None;
    }
    let rate = facts.accepted_hashes / (window as f64 / 1e6);
    rate.is_finite().then_some(rate)
}

#[cfg(test)]
impl Event {
    /// A record for tests: `kind` for the miner at `client` (an `ip:port`) to a documentation
    /// pool, with `facts`, seen from Ts(1) to Ts(9).
    pub(crate) fn sample(kind: EventKind, client: &str, facts: SessionFacts) -> Event {
        Event {
            kind,
            ts: Ts(1),
            flow_id: 1,
            client: client.parse().unwrap_or_else(|_| SocketAddr::from(([10, 0, 0, 1], 1))),
            pool: SocketAddr::from(([198, 51, 100, 1], 3333)),
            confidence: Confidence::Detected,
            facts,
            first_seen: Ts(1),
            last_seen: Ts(9),
            bytes_toserver: 0,
            bytes_toclient: 0,
            end_reason: None,
            derived: Derived::default(),
        }
        .derive()
    }
}

impl Event {
    /// The record with its [`Derived`] facts worked out again from its facts and times: for
    /// records built field by field (tests, benchmarks, fuzzing) after their facts are set.
    pub fn derive(mut self) -> Event {
        self.derived = Derived::of(&self.facts, self.first_seen, self.last_seen);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashrate_over_the_share_window_or_the_session() {
        let mut f = SessionFacts {
            shares_accepted: 3,
            accepted_hashes: 3.0 * 4_294_967_296.0,
            first_share: Some(Ts(1_000_000)),
            last_share: Some(Ts(11_000_000)),
            ..Default::default()
        };
        let r = estimated_hashrate(&f, Ts(0), Ts(60_000_000)).unwrap_or_default();
        assert!((r - 3.0 * 4_294_967_296.0 / 10.0).abs() < 1.0, "{r}");
        // One share: the session's duration is the window.
        f.last_share = f.first_share;
        let r = estimated_hashrate(&f, Ts(0), Ts(60_000_000)).unwrap_or_default();
        assert!((r - 3.0 * 4_294_967_296.0 / 60.0).abs() < 1.0, "{r}");
        assert_eq!(estimated_hashrate(&f, Ts(0), Ts(10)), None);
        f.accepted_hashes = 0.0;
        assert_eq!(estimated_hashrate(&f, Ts(0), Ts(60_000_000)), None);
    }

    #[test]
    fn derived_once_from_the_facts() {
        let f = SessionFacts {
            agent: Some("xmrig-proxy/6.22.0 (Linux x86_64)".into()),
            shares_accepted: 1,
            accepted_hashes: 1e9,
            first_share: Some(Ts(10_000_000)),
            last_share: Some(Ts(20_000_000)),
            ..Default::default()
        };
        let d = Derived::of(&f, Ts(0), Ts(60_000_000));
        let a = d.agent.unwrap_or_else(|| panic!("agent not parsed"));
        assert_eq!(
            (a.name.as_str(), a.version.as_deref(), a.kind),
            ("xmrig-proxy", Some("6.22.0"), Some(AgentKind::Proxy))
        );
        assert_eq!(d.hashrate, Some(1e8));
        // No agent, no share: nothing derived.
        assert_eq!(Derived::of(&SessionFacts::default(), Ts(0), Ts(60_000_000)), Derived::default());
        // A record built field by field gets the same facts from `derive`.
        let ev = Event::sample(EventKind::MiningSession, "10.0.0.1:1", f);
        assert_eq!(ev.derived, Derived::of(&ev.facts, ev.first_seen, ev.last_seen));
    }

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
        // After a handshake the login is expected: wait longer for it.
        g.handshake_seen = true;
        assert!(!ready_to_alert(&g, Confidence::Confirmed));
        g.pool_msgs = 11;
        assert!(ready_to_alert(&g, Confidence::Confirmed));
    }
}
