//! Miner software from the agent string a client announces (subscribe's first param, cryptonote
//! `agent`, EthereumStratum `mining.hello` agent, or the answer to `client.get_version`).
//!
//! Why: the agent tells an analyst what is mining: a CPU miner dropped by malware (XMRig), a GPU
//! rig, an ASIC's stock firmware (bmminer, cgminer, btminer) or a proxy aggregating many
//! miners (xmrig-proxy, stratum-proxy). The string is attacker-controlled and free-form, so this
//! only splits it into a name and a version and, for software we know, a kind; it never fails.
//!
//! Shapes seen in the wild: `name/1.2.3 (extra)`, `name/v1.2`, `name 1.2.3`, `name-1.2.3`,
//! `name/1.2/more`. The version must start with a digit (after an optional `v`).

/// What kind of software a known agent is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentKind {
    /// Firmware or its mining daemon on an ASIC (Antminer, Whatsminer, Avalon, Braiins OS).
    Asic,
    /// A proxy that aggregates miners behind one pool connection.
    Proxy,
    /// CPU/GPU mining software.
    Miner,
}

impl AgentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentKind::Asic => "asic",
            AgentKind::Proxy => "proxy",
            AgentKind::Miner => "miner",
        }
    }
}

/// The parsed agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agent<'a> {
    /// The name as sent (`XMRig`, `bmminer`), never empty.
    pub name: &'a str,
    pub version: Option<&'a str>,
    /// Set when the name is known software.
    pub kind: Option<AgentKind>,
}

/// Known software by lower-case name (or name prefix ending in `*`).
const KNOWN: &[(&str, AgentKind)] = &[
    ("bmminer", AgentKind::Asic),
    ("cgminer", AgentKind::Asic),
    ("bfgminer", AgentKind::Asic),
    ("bosminer", AgentKind::Asic),
    ("braiins*", AgentKind::Asic),
    ("btminer", AgentKind::Asic),
    ("whatsminer", AgentKind::Asic),
    ("luxminer", AgentKind::Asic),
    ("vnish", AgentKind::Asic),
    ("antminer*", AgentKind::Asic),
    ("avalon*", AgentKind::Asic),
    ("xmrig-proxy", AgentKind::Proxy),
    ("stratum-proxy", AgentKind::Proxy),
    ("stratum-mining-proxy", AgentKind::Proxy),
    ("nicehash-proxy", AgentKind::Proxy),
    ("ckproxy", AgentKind::Proxy),
    ("xmrig", AgentKind::Miner),
    ("xmrig-cuda", AgentKind::Miner),
    ("xmr-stak*", AgentKind::Miner),
    ("cpuminer*", AgentKind::Miner),
    ("sgminer", AgentKind::Miner),
    ("ccminer", AgentKind::Miner),
    ("ethminer", AgentKind::Miner),
    ("lolminer", AgentKind::Miner),
    ("gminer", AgentKind::Miner),
    ("t-rex", AgentKind::Miner),
    ("teamredminer", AgentKind::Miner),
    ("nbminer", AgentKind::Miner),
    ("phoenixminer", AgentKind::Miner),
    ("srbminer*", AgentKind::Miner),
    ("bzminer", AgentKind::Miner),
    ("ewbf", AgentKind::Miner),
    ("nheqminer", AgentKind::Miner),
    ("minerd", AgentKind::Miner),
    ("nicehash*", AgentKind::Miner),
];

/// Splits an agent string. `None` only for an empty or whitespace-only string.
pub fn parse(agent: &str) -> Option<Agent<'_>> {
    let s = agent.trim();
    let name_end = s.find(['/', ' ', '\t', '(']).unwrap_or(s.len());
    let mut name = s.get(..name_end)?;
    let mut rest = s.get(name_end..).unwrap_or("");
    // `name-1.2.3`: a trailing `-<digit>...` is the version.
    if rest.is_empty() || rest.starts_with('(') {
        if let Some(dash) = name.rfind('-') {
            if name.get(dash + 1..).is_some_and(starts_like_version) {
                rest = name.get(dash..).unwrap_or("");
                name = name.get(..dash).unwrap_or(name);
            }
        }
    }
    if name.is_empty() {
        return None;
    }
    let rest = rest.trim_start_matches(['/', ' ', '\t', '-']);
    let version = rest.split([' ', '/', '(', ')', ',', ';']).next().filter(|v| starts_like_version(v));
    Some(Agent { name, version, kind: kind_of(name) })
}

fn starts_like_version(v: &str) -> bool {
    let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
    v.bytes().next().is_some_and(|b| b.is_ascii_digit())
}

fn kind_of(name: &str) -> Option<AgentKind> {
    let lower = name.to_ascii_lowercase();
    KNOWN.iter().find_map(|(k, kind)| {
        let hit = match k.strip_suffix('*') {
            Some(prefix) => lower.starts_with(prefix),
            None => lower == *k,
        };
        hit.then_some(*kind)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<(&str, Option<&str>, Option<&'static str>)> {
        parse(s).map(|a| (a.name, a.version, a.kind.map(AgentKind::as_str)))
    }

    #[test]
    fn common_shapes() {
        assert_eq!(p("cpuminer/2.5.1"), Some(("cpuminer", Some("2.5.1"), Some("miner"))));
        assert_eq!(
            p("XMRig/6.26.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0"),
            Some(("XMRig", Some("6.26.0"), Some("miner")))
        );
        assert_eq!(
            p("xmrig-proxy/6.22.0 (Linux x86_64)"),
            Some(("xmrig-proxy", Some("6.22.0"), Some("proxy")))
        );
        assert_eq!(p("bmminer/2.0.0"), Some(("bmminer", Some("2.0.0"), Some("asic"))));
        assert_eq!(p("cgminer/4.11.1"), Some(("cgminer", Some("4.11.1"), Some("asic"))));
        assert_eq!(p("bfgminer/5.5.0"), Some(("bfgminer", Some("5.5.0"), Some("asic"))));
        assert_eq!(
            p("BOSminer/0.2.0-36c56734af"),
            Some(("BOSminer", Some("0.2.0-36c56734af"), Some("asic")))
        );
        assert_eq!(p("braiins-os-2022.04"), Some(("braiins-os", Some("2022.04"), Some("asic"))));
        assert_eq!(p("lolMiner 1.0"), Some(("lolMiner", Some("1.0"), Some("miner"))));
        assert_eq!(p("EWBF 0.3.4b"), Some(("EWBF", Some("0.3.4b"), Some("miner"))));
        assert_eq!(p("ethminer/v0.19.0"), Some(("ethminer", Some("v0.19.0"), Some("miner"))));
        assert_eq!(p("somebot"), Some(("somebot", None, None)));
        assert_eq!(p("weird/abc"), Some(("weird", None, None)));
    }

    #[test]
    fn junk_never_fails() {
        assert_eq!(p(""), None);
        assert_eq!(p("   "), None);
        assert_eq!(p("/1.0"), None);
        assert!(parse("\u{e9}\u{e9}/\u{e9}").is_some());
        assert!(parse("a-").is_some());
    }
}
