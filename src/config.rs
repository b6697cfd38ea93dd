//! Validated configuration: what the command line becomes once checked.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

use crate::flow::FlowLimits;

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

/// Everything a worker needs to know.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub home_net: HomeNet,
    pub flow: FlowLimits,
    /// The wallet watchlist (empty when none was given); read by the output thread only.
    pub watchlist: std::sync::Arc<crate::intel::Watchlist>,
    /// Known pool domains: the shipped list plus `--pool-list` files (TLS SNI, DNS answers);
    /// replaced whole when the lists are reloaded (SIGHUP).
    pub pools: std::sync::Arc<crate::intel::SharedPools>,
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
