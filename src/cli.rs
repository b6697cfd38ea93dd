//! The command line, in tcpdump's and Suricata's conventions (`-r`, `-i`, `-o`, `-q`). One
//! definition serves parsing, `--help`, and later the man page and shell completions.

use clap::Parser;

use crate::config::{HomeNet, DEFAULT_HOME_NET};

const EXAMPLES: &str = "\
Examples:
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
pub struct Args {
    /// Read packets from a pcap or pcapng file (`-` for standard input); repeatable.
    #[arg(short = 'r', long = "read", value_name = "FILE", required = true)]
    pub read: Vec<String>,

    /// Write alerts to PATH (appended), `-` for standard output.
    #[arg(short = 'o', long = "output", value_name = "PATH", default_value = "-")]
    pub output: String,

    /// Do not print the summary of mining hosts on stderr.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,

    /// The internal networks (comma-separated CIDRs): only miners inside them are reported.
    #[arg(long = "home-net", value_name = "CIDR[,CIDR...]", default_value = DEFAULT_HOME_NET)]
    pub home_net: HomeNet,

    /// Worker threads (default: one per core).
    #[arg(long = "workers", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: Option<u16>,
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
        assert!(Args::try_parse_from(["minewatch", "-r", "a", "--home-net", "nope"]).is_err());
        assert!(Args::try_parse_from(["minewatch", "-r", "a", "--workers", "0"]).is_err());
    }
}
