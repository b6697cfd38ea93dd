//! From session facts to records: the whole gate. Whose sessions are reported (the home
//! network), when a session earns its one `mining` alert, counting each session once, and what
//! the `mining` and `mining_session` records carry. The flow table hands the inspector's facts
//! here with what it knows of the connection ([`ConnInfo`]: endpoints, times, byte counts) and,
//! at the end, why it ended.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use ipnet::IpNet;

pub use crate::flow::EndReason;
use crate::flow::{ConnInfo, Side};
use crate::stats::Counters;
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
    /// TCP packets from the miner and from the pool (EVE's `pkts_toserver`/`pkts_toclient`).
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    /// Set on `mining_session` records.
    pub end_reason: Option<EndReason>,
    /// What is worked out from `facts` and the times, once, when the record is built
    /// ([`Derived::of`]): every format prints the same derived facts and no formatter works
    /// them out again.
    pub derived: Derived,
    /// On replay, the capture file the record came from, as it was named on the command line
    /// (every session ends with the file it was read from): set by the pipeline, which alone
    /// knows it, when the record leaves the worker.
    pub pcap_filename: Option<Arc<str>>,
    /// On a `mining_session` record with `--pcap-dir`: the session's evidence file as closed.
    /// Set by the pipeline, which alone writes it, when the record leaves the worker.
    pub evidence: Option<Evidence>,
}

/// A session's evidence file (`--pcap-dir`): its packets as captured, from the session's first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// The file's name, relative to the evidence directory.
    pub file: String,
    /// Packets in it.
    pub packets: u64,
    /// Its size in bytes, headers included.
    pub bytes: u64,
    /// The SHA-256 of the file as closed, lowercase hex.
    pub sha256: String,
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
    /// The flow's Community ID v1 (Corelight's specification, seed 0: `1:` and the base64 of a
    /// SHA-1 over the ordered endpoints), the key SOC tools (Zeek, Suricata, Elastic, Arkime)
    /// pivot on between sensors; `None` only if the two endpoints are of different families.
    pub community_id: Option<String>,
    /// Where the session goes, seen from the home network's perimeter: set where the gate
    /// builds the record (it alone knows the home network), `None` on records built elsewhere.
    pub direction: Option<Direction>,
}

/// The direction of a reported session from the perimeter's point of view. The miner is always
/// inside the home network (the gate reports no other), so only the pool decides: ECS
/// `network.direction` and the other formats' words for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The pool is inside the home network too (an internal proxy or pool).
    Internal,
    /// The pool is outside.
    Outbound,
}

impl Direction {
    /// As ECS spells it (`network.direction`).
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Internal => "internal",
            Direction::Outbound => "outbound",
        }
    }
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
    /// The derived facts of a session with `facts` between `client` and `pool`, seen from
    /// `first_seen` to `last_seen`. Called where an `Event` is built, on verdicts only, never per
    /// packet.
    pub fn of(
        facts: &SessionFacts,
        client: SocketAddr,
        pool: SocketAddr,
        first_seen: Ts,
        last_seen: Ts,
    ) -> Derived {
        Derived {
            agent: facts.agent.as_deref().and_then(agent::parse).map(|a| AgentInfo {
                name: a.name.to_string(),
                version: a.version.map(str::to_string),
                kind: a.kind,
            }),
            hashrate: estimated_hashrate(facts, first_seen, last_seen),
            community_id: community_id(client, pool),
            direction: None,
        }
    }
}

/// IANA protocol number of TCP, the only transport a record names.
const IPPROTO_TCP: u8 = 6;

/// The Community ID v1 of the TCP connection between `a` and `b` (seed 0, base64), the same
/// whichever side is given first. Computed by the `community-id` crate, which the unit test
/// holds to the specification's published test vectors.
pub fn community_id(a: SocketAddr, b: SocketAddr) -> Option<String> {
    ::community_id::calculate_community_id(
        0,
        a.ip(),
        b.ip(),
        Some(a.port()),
        Some(b.port()),
        IPPROTO_TCP,
        false,
    )
    .ok()
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

/// RFC 1918, shared address space, loopback, unique-local, link-local and IPv6 loopback: the
/// networks a sensor should treat as "ours" when nobody says otherwise.
pub const DEFAULT_HOME_NET: &str =
    "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,127.0.0.0/8,fc00::/7,fe80::/10,::1/128";

/// The internal networks: only sessions whose miner is inside them are reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HomeNet {
    nets: Vec<IpNet>,
}

impl HomeNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4-mapped IPv6 address is the IPv4 host it maps.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.nets.iter().any(|n| n.contains(&ip))
    }

    pub fn nets(&self) -> &[IpNet] {
        &self.nets
    }
}

impl Default for HomeNet {
    fn default() -> Self {
        DEFAULT_HOME_NET.parse().unwrap_or(HomeNet { nets: Vec::new() })
    }
}

impl FromStr for HomeNet {
    type Err = String;

    /// Comma-separated CIDRs; a bare address means a single host.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut nets = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let net = match part.parse::<IpNet>() {
                Ok(n) => n.trunc(),
                Err(_) => match part.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(ip),
                    Err(_) => return Err(format!("not a CIDR or address: {part:?}")),
                },
            };
            nets.push(net);
        }
        if nets.is_empty() {
            return Err("home-net is empty".to_string());
        }
        Ok(HomeNet { nets })
    }
}

/// A session as the gate sees it: its facts, how sure, and whether they are all there will be.
#[derive(Clone, Copy, Debug)]
pub struct Seen<'a> {
    pub facts: &'a SessionFacts,
    pub confidence: Confidence,
    /// Recognised from its opening alone (tls, stratum-v2): it will show nothing more, so it is
    /// reported at once.
    pub whole: bool,
    /// The tunnel the session was found in, when its facts do not name it already: the
    /// record's `facts.tunnel`.
    pub tunnel: Option<&'a crate::stratum::Tunnel>,
}

/// One session's part of the gate: alerted once, counted once.
#[derive(Clone, Copy, Debug, Default)]
pub struct Once {
    alerted: bool,
    /// Counted in `sessions` already.
    counted: bool,
}

impl Once {
    /// Counts a recognised session once, internal or not.
    fn count(&mut self, internal: bool, counters: &mut Counters) {
        if !self.counted {
            self.counted = true;
            counters.sessions += 1;
            if !internal {
                counters.sessions_external += 1;
            }
        }
    }
}

/// The gate every session passes: only miners inside the home network are reported, each
/// session counted once and alerted once, whether it earns its alert while it runs or only at
/// its end.
#[derive(Clone, Debug, Default)]
pub struct Gate {
    home: HomeNet,
}

impl Gate {
    pub fn new(home: HomeNet) -> Gate {
        Gate { home }
    }

    /// The miner of a recognised session, and whether it is inside the home network.
    fn miner(&self, conn: &ConnInfo, s: &Seen<'_>) -> Option<bool> {
        let (client, _, _) = roles(conn.a, conn.b, s.facts.client)?;
        Some(self.home.contains(client.ip()))
    }

    /// A recognised session after a packet (or after a late name): raises its one `mining`
    /// alert once it is ready and its miner is internal.
    pub fn progress(
        &self,
        once: &mut Once,
        conn: &ConnInfo,
        s: Seen<'_>,
        ts: Ts,
        counters: &mut Counters,
        emit: &mut dyn FnMut(Event),
    ) {
        if once.alerted {
            return;
        }
        let Some(internal) = self.miner(conn, &s) else { return };
        once.count(internal, counters);
        if !(s.whole || ready_to_alert(s.facts, s.confidence)) {
            return;
        }
        once.alerted = true;
        if internal {
            if let Some(ev) = make_event(EventKind::Mining, conn, &s, ts, None, &self.home) {
                counters.alerts += 1;
                emit(ev);
            }
        }
    }

    /// A recognised session ended: its alert if it never earned one, and its
    /// `mining_session` record.
    #[allow(clippy::too_many_arguments)]
    pub fn end(
        &self,
        once: &mut Once,
        conn: &ConnInfo,
        s: Seen<'_>,
        reason: EndReason,
        ts: Ts,
        counters: &mut Counters,
        emit: &mut dyn FnMut(Event),
    ) {
        let Some(internal) = self.miner(conn, &s) else { return };
        once.count(internal, counters);
        if !internal {
            return;
        }
        if !once.alerted {
            once.alerted = true;
            if let Some(ev) = make_event(EventKind::Mining, conn, &s, ts, None, &self.home) {
                counters.alerts += 1;
                emit(ev);
            }
        }
        if let Some(ev) = make_event(EventKind::MiningSession, conn, &s, ts, Some(reason), &self.home) {
            counters.session_records += 1;
            emit(ev);
        }
    }
}

/// The client and pool endpoints of a recognised session.
pub fn roles(a: SocketAddr, b: SocketAddr, client: Option<Side>) -> Option<(SocketAddr, SocketAddr, Side)> {
    match client? {
        Side::A => Some((a, b, Side::A)),
        Side::B => Some((b, a, Side::B)),
    }
}

/// The record of a session: `None` if its facts name no client.
fn make_event(
    kind: EventKind,
    conn: &ConnInfo,
    s: &Seen<'_>,
    ts: Ts,
    end_reason: Option<EndReason>,
    home: &HomeNet,
) -> Option<Event> {
    let (client, pool, cside) = roles(conn.a, conn.b, s.facts.client)?;
    let direction = if home.contains(pool.ip()) { Direction::Internal } else { Direction::Outbound };
    let mut facts = s.facts.clone();
    if let Some(t) = s.tunnel {
        facts.tunnel = Some(t.clone());
    }
    Some(Event {
        kind,
        ts,
        flow_id: conn.flow_id(),
        client,
        pool,
        confidence: s.confidence,
        facts,
        first_seen: conn.first_seen,
        last_seen: conn.last_seen,
        bytes_toserver: conn.bytes_from(cside),
        bytes_toclient: conn.bytes_from(cside.other()),
        pkts_toserver: conn.pkts_from(cside),
        pkts_toclient: conn.pkts_from(cside.other()),
        end_reason,
        derived: Derived {
            direction: Some(direction),
            ..Derived::of(s.facts, client, pool, conn.first_seen, conn.last_seen)
        },
        pcap_filename: None,
        evidence: None,
    })
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
            pkts_toserver: 0,
            pkts_toclient: 0,
            end_reason: None,
            derived: Derived::default(),
            pcap_filename: None,
            evidence: None,
        }
        .derive()
    }
}

impl Event {
    /// The record with its [`Derived`] facts worked out again from its facts and times: for
    /// records built field by field (tests, benchmarks, fuzzing) after their facts are set.
    pub fn derive(mut self) -> Event {
        let direction = self.derived.direction;
        self.derived = Derived {
            direction,
            ..Derived::of(&self.facts, self.client, self.pool, self.first_seen, self.last_seen)
        };
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

    /// The specification's published test vectors (`baseline/baseline_deflt.json` of
    /// corelight/community-id-spec, TCP entries, seed 0) and its README's example, each both ways.
    #[test]
    fn community_id_matches_the_specification_vectors() {
        let vectors = [
            ("128.232.110.120:34855", "66.35.250.204:80", "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
            (
                "[2001:470:e5bf:dead:4957:2174:e82c:4887]:63943",
                "[2607:f8b0:400c:c03::1a]:25",
                "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
            ),
            ("1.2.3.4:1122", "5.6.7.8:3344", "1:wCb3OG7yAFWelaUydu0D+125CLM="),
        ];
        for (a, b, want) in vectors {
            let (a, b): (SocketAddr, SocketAddr) = (a.parse().unwrap(), b.parse().unwrap());
            assert_eq!(community_id(a, b).as_deref(), Some(want), "{a} -> {b}");
            assert_eq!(community_id(b, a).as_deref(), Some(want), "{b} -> {a}");
        }
        // Endpoints of two families name no flow.
        let v6: SocketAddr = "[2001:db8::1]:3333".parse().unwrap();
        assert_eq!(community_id("10.0.0.1:1".parse().unwrap(), v6), None);
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
        let (c, p) = (SocketAddr::from(([10, 0, 0, 1], 1)), SocketAddr::from(([10, 0, 0, 2], 2)));
        let d = Derived::of(&f, c, p, Ts(0), Ts(60_000_000));
        let a = d.agent.unwrap_or_else(|| panic!("agent not parsed"));
        assert_eq!(
            (a.name.as_str(), a.version.as_deref(), a.kind),
            ("xmrig-proxy", Some("6.22.0"), Some(AgentKind::Proxy))
        );
        assert_eq!(d.hashrate, Some(1e8));
        // No agent, no share: nothing derived.
        let d = Derived::of(&SessionFacts::default(), c, p, Ts(0), Ts(60_000_000));
        assert_eq!((d.agent, d.hashrate), (None, None));
        assert_eq!(d.community_id, community_id(c, p));
        // A record built field by field gets the same facts from `derive`.
        let ev = Event::sample(EventKind::MiningSession, "10.0.0.1:1", f);
        assert_eq!(ev.derived, Derived::of(&ev.facts, ev.client, ev.pool, ev.first_seen, ev.last_seen));
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

    #[test]
    fn default_home_net_covers_private_ranges_only() {
        let h = HomeNet::default();
        for ip in
            ["10.1.2.3", "172.31.0.1", "192.168.0.1", "100.64.1.1", "127.0.0.1", "fd00::1", "fe80::1", "::1"]
        {
            assert!(h.contains(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "172.32.0.1", "198.51.100.1", "2001:db8::1"] {
            assert!(!h.contains(ip.parse().unwrap()), "{ip}");
        }
        assert!(h.contains("::ffff:10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn parses_lists_and_rejects_junk() {
        let h: HomeNet = "192.0.2.0/24, 2001:db8::/32,203.0.113.9".parse().unwrap();
        assert!(h.contains("192.0.2.77".parse().unwrap()));
        assert!(h.contains("203.0.113.9".parse().unwrap()));
        assert!(!h.contains("203.0.113.10".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<HomeNet>().is_err());
        assert!("bogus".parse::<HomeNet>().is_err());
        assert!("".parse::<HomeNet>().is_err());
    }

    fn conn(client: &str) -> ConnInfo {
        ConnInfo {
            a: client.parse().unwrap(),
            b: "198.51.100.1:3333".parse().unwrap(),
            first_seen: Ts(1),
            last_seen: Ts(9),
            bytes: [10, 20],
            pkts: [3, 4],
            fin: [false, false],
        }
    }

    #[test]
    fn the_gate_counts_once_alerts_once_and_only_for_the_home_network() {
        let gate = Gate::new(HomeNet::default());
        let facts = SessionFacts { client: Some(Side::A), login: Some("w".into()), ..Default::default() };
        let seen = Seen { facts: &facts, confidence: Confidence::Detected, whole: false, tunnel: None };
        let (mut c, mut ev) = (Counters::default(), Vec::new());
        // Internal miner: one alert however often it progresses, then its session record.
        let (inside, mut once) = (conn("10.0.0.2:4000"), Once::default());
        for ts in 2..5 {
            gate.progress(&mut once, &inside, seen, Ts(ts), &mut c, &mut |e| ev.push(e));
        }
        gate.end(&mut once, &inside, seen, EndReason::Fin, Ts(9), &mut c, &mut |e| ev.push(e));
        let kinds: Vec<_> = ev.iter().map(|e| (e.kind, e.ts, e.bytes_toserver, e.end_reason)).collect();
        assert_eq!(
            kinds,
            vec![
                (EventKind::Mining, Ts(2), 10, None),
                (EventKind::MiningSession, Ts(9), 10, Some(EndReason::Fin))
            ]
        );
        assert_eq!((c.sessions, c.sessions_external, c.alerts, c.session_records), (1, 0, 1, 1));
        // External miner: counted once, never reported.
        let (outside, mut once) = (conn("203.0.113.5:4000"), Once::default());
        ev.clear();
        gate.progress(&mut once, &outside, seen, Ts(2), &mut c, &mut |e| ev.push(e));
        gate.end(&mut once, &outside, seen, EndReason::Rst, Ts(9), &mut c, &mut |e| ev.push(e));
        assert!(ev.is_empty());
        assert_eq!((c.sessions, c.sessions_external, c.alerts), (2, 1, 1));
        // Not ready while it runs (no login yet): alerted at its end, once.
        let early = SessionFacts { client: Some(Side::B), ..Default::default() };
        let seen = Seen { facts: &early, confidence: Confidence::Detected, whole: false, tunnel: None };
        let mut once = Once::default();
        let server_first = ConnInfo { a: inside.b, b: inside.a, ..inside };
        gate.progress(&mut once, &server_first, seen, Ts(2), &mut c, &mut |e| ev.push(e));
        assert!(ev.is_empty());
        gate.end(&mut once, &server_first, seen, EndReason::Timeout, Ts(9), &mut c, &mut |e| ev.push(e));
        assert_eq!(
            ev.iter().map(|e| e.kind).collect::<Vec<_>>(),
            vec![EventKind::Mining, EventKind::MiningSession]
        );
        assert_eq!(ev[0].client, inside.a, "the client is side B here");
        assert_eq!(ev[0].bytes_toserver, 20);
        assert_eq!((ev[0].pkts_toserver, ev[0].pkts_toclient), (4, 3), "packets follow the roles too");
    }

    #[test]
    fn the_direction_is_the_pools_side_of_the_perimeter() {
        let gate = Gate::new("10.0.0.0/8,198.51.100.0/24".parse().unwrap());
        let facts = SessionFacts { client: Some(Side::A), login: Some("w".into()), ..Default::default() };
        let seen = Seen { facts: &facts, confidence: Confidence::Detected, whole: true, tunnel: None };
        let (mut c, mut ev) = (Counters::default(), Vec::new());
        gate.progress(&mut Once::default(), &conn("10.0.0.2:4000"), seen, Ts(2), &mut c, &mut |e| ev.push(e));
        let outside = ConnInfo { b: "192.0.2.1:3333".parse().unwrap(), ..conn("10.0.0.2:4000") };
        gate.progress(&mut Once::default(), &outside, seen, Ts(2), &mut c, &mut |e| ev.push(e));
        let dirs: Vec<_> = ev.iter().map(|e| e.derived.direction).collect();
        assert_eq!(dirs, vec![Some(Direction::Internal), Some(Direction::Outbound)]);
        // Worked out again (`derive`), the record keeps it.
        assert_eq!(ev.remove(1).derive().derived.direction, Some(Direction::Outbound));
    }
}
