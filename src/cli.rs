//! The command line, in tcpdump's and Suricata's conventions (`-r`, `-i`, `-o`, `-q`). One
//! definition serves parsing, `--help`, and later the man page and shell completions.

use clap::Parser;

use crate::config::{HomeNet, DEFAULT_HOME_NET};

/// What live capture keeps by default: all of TCP, DNS over UDP, and IP fragments.
pub const DEFAULT_FILTER: &str = "tcp or udp port 53 or (ip[6:2] & 0x3fff != 0) or ip6[6] == 44";

const EXAMPLES: &str = "\
Examples:
  minewatch -i eth1 -o /var/log/minewatch/alerts.json   watch a SPAN port
  minewatch -r capture.pcap                 report mining hosts in a capture
  minewatch -r a.pcapng -r b.pcap -o alerts.json
  tcpdump -w - -i eth1 | minewatch -r -     read a capture from standard input
  minewatch -r x.pcap --home-net 10.20.0.0/16,2001:db8:1::/48

Alerts are JSON lines (docs/alert-schema.md); the summary of mining hosts goes to stderr.
Exit status: 0 when every input was read, 1 when an input was missing or corrupt (the others
are still processed), 2 for a usage error.";

#[derive(Debug, Parser)]
#[command(
    name = "minewatch",
    version,
    about = "Finds the hosts on a network that mine cryptocurrency, by parsing the Stratum protocol",
    after_help = EXAMPLES
)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["read", "interface"])))]
pub struct Args {
    /// Read packets from a pcap or pcapng file (`-` for standard input); repeatable.
    #[arg(short = 'r', long = "read", value_name = "FILE", conflicts_with = "interface")]
    pub read: Vec<String>,

    /// Capture live from a network interface (promiscuous); repeatable.
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: Vec<String>,

    /// BPF filter for live capture. The default keeps TCP (Stratum, TLS), UDP port 53 (DNS
    /// answers for pool domains) and IP fragments (which carry no ports).
    #[arg(short = 'f', long = "filter", value_name = "EXPR", default_value = DEFAULT_FILTER)]
    pub filter: String,

    /// Bytes kept of each live frame.
    #[arg(long = "snaplen", value_name = "BYTES", default_value_t = 65535,
          value_parser = clap::value_parser!(i32).range(64..=262144))]
    pub snaplen: i32,

    /// Kernel capture buffer per interface, in MiB.
    #[arg(long = "buffer-mb", value_name = "MIB", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub buffer_mb: u32,

    /// Seconds between `stats` records in the alert output (0: only one, at exit). Live
    /// capture writes them every 60 s by default; a replay writes none unless this is given.
    #[arg(long = "stats-interval", value_name = "SECS")]
    pub stats_interval: Option<u64>,

    /// After opening the interfaces, run as this user (default when started as root: nobody).
    #[arg(long = "user", value_name = "USER")]
    pub user: Option<String>,

    /// ... and this group (default when started as root: nogroup).
    #[arg(long = "group", value_name = "GROUP")]
    pub group: Option<String>,

    /// Write alerts to PATH (appended), `-` for standard output.
    #[arg(short = 'o', long = "output", value_name = "PATH", default_value = "-")]
    pub output: String,

    /// Do not print the summary of mining hosts on stderr.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,

    /// The internal networks (comma-separated CIDRs): only miners inside them are reported.
    #[arg(long = "home-net", value_name = "CIDR[,CIDR...]", default_value = DEFAULT_HOME_NET)]
    pub home_net: HomeNet,

    /// Most TCP flows each worker tracks; past it the least valuable flow is evicted (a
    /// mining session last).
    #[arg(long = "max-flows", value_name = "N", default_value_t = 500_000,
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub max_flows: u64,

    /// Memory the flow tables may hold in all, in MiB (buffers and per-flow state, estimated).
    #[arg(long = "memcap", value_name = "MIB", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub memcap_mb: u64,

    /// Worker threads (default: one per core).
    #[arg(long = "workers", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: Option<u16>,

    // --- Running as a sensor: metrics, configuration file, generated docs (see `sensor`). ---
    /// Serve Prometheus metrics over HTTP at ADDR:PORT (path /metrics); off by default. Only a
    /// loopback address is accepted unless --metrics-allow-remote is given.
    #[arg(long = "metrics", value_name = "ADDR:PORT")]
    pub metrics: Option<std::net::SocketAddr>,

    /// Allow --metrics on a non-loopback address (the endpoint has no authentication).
    #[arg(long = "metrics-allow-remote")]
    pub metrics_allow_remote: bool,

    /// Read options from a TOML file whose keys are the long option names
    /// (`interface = ["eth1"]`, `stats-interval = 30`, `quiet = true`); the command line wins.
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,

    /// Print a shell completion script for SHELL and exit.
    #[arg(long = "generate-completions", value_name = "SHELL", hide = true, exclusive = true)]
    pub generate_completions: Option<clap_complete::Shell>,

    /// Print the man page (roff) and exit.
    #[arg(long = "generate-man", hide = true, exclusive = true)]
    pub generate_man: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_options() {
        let a = Args::try_parse_from([
            "minewatch",
            "-r",
            "a.pcap",
            "-r",
            "-",
            "-o",
            "x.json",
            "-q",
            "--home-net",
            "192.0.2.0/24",
            "--workers",
            "2",
        ])
        .unwrap();
        assert_eq!(a.read, vec!["a.pcap", "-"]);
        assert_eq!(a.output, "x.json");
        assert!(a.quiet);
        assert!(a.home_net.contains("192.0.2.1".parse().unwrap()));
        assert!(!a.home_net.contains("10.0.0.1".parse().unwrap()));
        assert_eq!(a.workers, Some(2));
    }

    #[test]
    fn defaults_and_errors() {
        let a = Args::try_parse_from(["minewatch", "-r", "a.pcap"]).unwrap();
        assert_eq!(a.output, "-");
        assert_eq!(a.home_net, HomeNet::default());
        assert!(Args::try_parse_from(["minewatch"]).is_err());
        assert!(Args::try_parse_from(["minewatch", "-r", "a", "-i", "eth0"]).is_err());
        let l = Args::try_parse_from(["minewatch", "-i", "eth0", "-i", "eth1", "--user", "mw"]).unwrap();
        assert_eq!(l.interface, vec!["eth0", "eth1"]);
        assert_eq!(l.filter, DEFAULT_FILTER);
        assert_eq!(l.user.as_deref(), Some("mw"));
        assert!(Args::try_parse_from(["minewatch", "-r", "a", "--home-net", "nope"]).is_err());
        assert!(Args::try_parse_from(["minewatch", "-r", "a", "--workers", "0"]).is_err());
    }
}
