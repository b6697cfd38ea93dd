//! Validated configuration: what the command line becomes once checked.
//!
//! clap's [`Args`] are the raw options as typed (or read from `--config`); [`Config::from_args`]
//! turns them into the settings a run uses, once, in one place (ripgrep's low-level → high-level
//! arguments): the run mode, the worker count, every limit (with the flow table's memory cap
//! split among the workers), the stats interval's default, the live captures, the outputs, the
//! metrics address, the list files and the privilege settings. A run (`main`) and the check of a
//! configuration (`--test-config`, [`crate::preflight`]) both start from it, so they cannot
//! disagree about what the options mean.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::capture::live::LiveOptions;
use crate::cli::Args;
use crate::flow::defrag::DefragLimits;
use crate::flow::reassembly::ReassemblyLimits;
use crate::flow::FlowLimits;
use crate::intel::{ListFiles, SharedPools, Watchlist};
use crate::output::{OutputOptions, OutputSpec};
use crate::privilege::Plan;
use crate::time::When;
/// The home network lives with the gate that uses it ([`crate::verdict`]).
pub use crate::verdict::{HomeNet, DEFAULT_HOME_NET};

/// Everything a worker needs to know.
#[derive(Clone, Debug)]
pub struct Detection {
    pub home_net: HomeNet,
    pub flow: FlowLimits,
    /// The Stratum and HTTP parsers' bounds.
    pub parsers: crate::stratum::Limits,
    /// Each worker's defragmenter's bounds.
    pub defrag: DefragLimits,
    /// Addresses the shared DNS map of pool domains holds.
    pub dns_capacity: usize,
    /// The behaviour watch of TLS flows with no name.
    pub behaviour: crate::inspect::behaviour::Limits,
    /// Push instants the shared push clock holds.
    pub clock_capacity: usize,
    /// The wallet watchlist (empty when none was given); read by the output thread only.
    pub watchlist: std::sync::Arc<crate::intel::Watchlist>,
    /// Known pool domains: the shipped list plus `--pool-list` files (TLS SNI, DNS answers);
    /// replaced whole when the lists are reloaded (SIGHUP).
    pub pools: std::sync::Arc<crate::intel::SharedPools>,
}

impl Default for Detection {
    fn default() -> Self {
        Detection {
            home_net: HomeNet::default(),
            flow: FlowLimits::default(),
            parsers: crate::stratum::Limits::default(),
            defrag: DefragLimits::default(),
            dns_capacity: crate::intel::dnsmap::DEFAULT_CAPACITY,
            behaviour: crate::inspect::behaviour::Limits::default(),
            clock_capacity: crate::intel::clock::DEFAULT_CAPACITY,
            watchlist: Arc::default(),
            pools: Arc::default(),
        }
    }
}

/// What part of a replay is read, as given (see `pipeline::ReplayWindow` for it settled).
#[derive(Clone, Debug, Default)]
pub struct ReplayOptions {
    pub since: Option<When>,
    pub until: Option<When>,
    pub filter: Option<String>,
}

/// The bounds of the evidence, from the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceOptions {
    pub dir: PathBuf,
    /// Per flow still inspected: packets, and bytes of frames, kept.
    pub first_packets: usize,
    pub first_bytes: usize,
    /// Per worker: bytes kept of every flow's first packets.
    pub buffer_bytes: usize,
    /// Per session file: packets, and bytes.
    pub session_packets: u64,
    pub session_bytes: u64,
    /// The directory: bytes of the files this run wrote.
    pub dir_bytes: u64,
    /// Per worker: session files open at once.
    pub max_open: usize,
}

/// Seconds between `stats` records on a live capture when not told otherwise.
pub const DEFAULT_LIVE_STATS_SECS: u64 = 60;
/// Live read timeout: how long a quiet link may keep the reader from its housekeeping.
pub const LIVE_TIMEOUT_MS: i32 = 100;
/// Mining hosts remembered for the summary; more are counted, not listed.
pub const MAX_HOSTS: usize = 100_000;

/// What the options cannot be, beyond what clap checks one option at a time. Each message is
/// `--LONG VALUE: reason`, so that [`crate::sensor`] can name the configuration file's key
/// instead when the option came from there.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "--metrics {0}: not a loopback address; the endpoint has no authentication, so pass \
         --metrics-allow-remote to serve it on {ip}",
        ip = .0.ip()
    )]
    MetricsNotLoopback(SocketAddr),
    #[error("--{0}: a replay's time window (with -r), not live capture's")]
    ReplayOnly(&'static str),
    #[error("--filter {0}: {1}")]
    Filter(String, String),
    #[error("--pcap-dir {0}: the path must be UTF-8 (libpcap takes it as a C string)")]
    PcapDirNotUtf8(String),
}

impl ConfigError {
    /// The long name of the option the error is about (`metrics`).
    pub fn option(&self) -> &'static str {
        match self {
            ConfigError::MetricsNotLoopback(_) => "metrics",
            ConfigError::Filter(..) => "filter",
            ConfigError::ReplayOnly(o) => o,
            ConfigError::PcapDirNotUtf8(_) => "pcap-dir",
        }
    }
}

/// Where packets come from.
#[derive(Clone, Debug)]
pub enum RunMode {
    /// Capture files (`-` for standard input), replayed in order.
    Files(Vec<String>),
    /// Live interfaces, one [`LiveOptions`] each.
    Live(Vec<LiveOptions>),
}

/// Who the process becomes once its captures and outputs are open.
#[derive(Clone, Debug)]
pub struct PrivilegeSettings {
    /// `--user`, `--group`; `keep_user` is left to the binary (a debug-only override).
    pub plan: Plan,
    /// Install the system-call deny list (not `--no-seccomp`).
    pub seccomp: bool,
}

/// The validated configuration of one run: what [`Args`] mean, settled once.
#[derive(Clone, Debug)]
pub struct Config {
    pub mode: RunMode,
    /// Worker threads: `--workers`, or one per core.
    pub workers: usize,
    /// Live: the kernel shares each interface among the workers (not `--no-fanout`).
    pub fanout: bool,
    /// Live: most elephant flows each worker has the kernel drop; 0: none.
    pub shunt: usize,
    /// `stats` records: `None` for none; otherwise one at the end and, live, one every interval.
    pub stats_interval: Option<Duration>,
    pub home_net: HomeNet,
    /// Each worker's flow table: `--max-flows`, its share of `--memcap`, and the other limits.
    pub flow: FlowLimits,
    /// The Stratum and HTTP parsers' bounds (field length, pending requests, HTTP head/body).
    pub parsers: crate::stratum::Limits,
    pub defrag: DefragLimits,
    pub dns_capacity: usize,
    /// The behaviour watch's thresholds (`--behaviour-*`, `--no-behaviour`).
    pub behaviour: crate::inspect::behaviour::Limits,
    pub clock_capacity: usize,
    /// Every `-o`, standard output when none.
    pub outputs: Vec<OutputSpec>,
    pub output_options: OutputOptions,
    /// `--metrics`, already checked to be loopback unless remote serving was allowed.
    pub metrics: Option<SocketAddr>,
    /// The pool lists and watchlists, read at start and again on SIGHUP.
    pub lists: ListFiles,
    pub privilege: PrivilegeSettings,
    /// No summary, no notices on stderr.
    pub quiet: bool,
    /// `--config`, for the check's summary.
    pub config_file: Option<PathBuf>,
    /// Mining hosts kept for the summary.
    pub max_hosts: usize,
    /// The report and export files, written at the end of the run.
    pub report: crate::report::Plan,
    /// Replay: the time window and the filter.
    pub replay: ReplayOptions,
    /// `--pcap-dir` and its bounds.
    pub evidence: Option<EvidenceOptions>,
}

/// Microseconds of `d`, saturating (the flow table counts packet time in `i64` µs).
fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// A count from the command line as a `usize`, saturating.
fn size(n: impl TryInto<usize>) -> usize {
    n.try_into().unwrap_or(usize::MAX)
}

/// The checks across options that clap cannot express.
pub fn validate(args: &Args) -> Result<(), ConfigError> {
    if let Some(addr) = args.metrics {
        if !addr.ip().is_loopback() && !args.metrics_allow_remote {
            return Err(ConfigError::MetricsNotLoopback(addr));
        }
    }
    if !args.interface.is_empty() {
        if let Some(w) = args.since.as_ref().map(|_| "since").or(args.until.as_ref().map(|_| "until")) {
            return Err(ConfigError::ReplayOnly(w));
        }
    }
    if let Some(dir) = &args.pcap_dir {
        if dir.to_str().is_none() {
            return Err(ConfigError::PcapDirNotUtf8(dir.display().to_string()));
        }
    }
    if let (Some(f), false) = (&args.filter, args.read.is_empty()) {
        // A replay compiles the filter for each file's link type; a syntax error is a usage
        // error now rather than every frame filtered out later.
        let compiled =
            pcap::Capture::dead(pcap::Linktype::ETHERNET).and_then(|d| d.compile(f, true).map(drop));
        if let Err(e) = compiled {
            return Err(ConfigError::Filter(f.clone(), e.to_string()));
        }
    }
    Ok(())
}

impl Config {
    /// Settles `args` into the configuration of a run, or says which option is wrong.
    pub fn from_args(args: &Args) -> Result<Config, ConfigError> {
        validate(args)?;
        let workers = args.worker_count();
        let mode = if args.interface.is_empty() {
            RunMode::Files(args.read.clone())
        } else {
            RunMode::Live(
                args.interface
                    .iter()
                    .map(|iface| LiveOptions {
                        iface: iface.clone(),
                        filter: args.filter.clone().unwrap_or_else(|| crate::cli::DEFAULT_FILTER.to_string()),
                        snaplen: args.snaplen,
                        buffer_mb: args.buffer_mb,
                        promisc: true,
                        timeout_ms: LIVE_TIMEOUT_MS,
                    })
                    .collect(),
            )
        };
        let live = matches!(mode, RunMode::Live(_));
        let flow = FlowLimits {
            max_flows: size(args.max_flows),
            // The cap is for the whole process: each worker's table gets its share.
            memcap: size(args.memcap_mb << 20) / workers.max(1),
            max_line: size(args.max_line),
            inspect_bytes: args.inspect_bytes,
            inspect_lines: args.inspect_lines,
            idle_timeout_us: micros(args.flow_timeout),
            bypass_timeout_us: micros(args.bypass_timeout),
            hole_timeout_us: micros(args.hole_timeout),
            name_wait_us: micros(args.name_wait),
            max_awaiting: size(args.name_wait_max),
            reassembly: ReassemblyLimits {
                max_ooo_bytes: size(args.reassembly_max_bytes),
                max_ooo_segments: size(args.reassembly_max_segments),
            },
            ..FlowLimits::default()
        };
        let parsers = crate::stratum::Limits {
            max_field_len: size(args.max_field_len),
            max_pending: size(args.max_pending),
            http_max_pending: size(args.http_max_pending),
            http_max_head: size(args.http_max_head),
            http_max_body: size(args.http_max_body),
        };
        Ok(Config {
            mode,
            workers,
            fanout: !args.no_fanout,
            shunt: usize::from(args.shunt),
            stats_interval: match (args.stats_interval, live) {
                (Some(secs), _) => Some(Duration::from_secs(secs)),
                (None, true) => Some(Duration::from_secs(DEFAULT_LIVE_STATS_SECS)),
                (None, false) => None,
            },
            home_net: args.home_net.clone(),
            flow,
            parsers,
            defrag: DefragLimits {
                max_datagrams: size(args.defrag_max_datagrams),
                max_bytes: size(args.defrag_max_bytes),
                max_fragments: size(args.defrag_max_fragments),
                timeout_us: micros(args.defrag_timeout),
            },
            dns_capacity: size(args.dns_map_capacity),
            behaviour: crate::inspect::behaviour::Limits {
                enabled: !args.no_behaviour,
                named: args.behaviour_named,
                min_pushes: args.behaviour_min_pushes,
                min_pairs: args.behaviour_min_pairs,
                min_duration_us: micros(args.behaviour_min_duration),
                aligned_duration_us: micros(args.behaviour_aligned_duration),
                max_watch_us: micros(args.behaviour_max_watch),
                answer_us: micros(args.behaviour_answer),
                warmup_us: micros(args.behaviour_warmup),
                max_record: args.behaviour_max_record,
                max_rate: args.behaviour_max_rate,
                align_tolerance_us: micros(args.behaviour_align_tolerance),
                min_request: args.behaviour_request_len.0,
                max_request: args.behaviour_request_len.1,
                max_answer: args.behaviour_max_answer,
                min_answer: args.behaviour_min_answer,
                min_push: args.behaviour_min_push,
                min_request_cv: args.behaviour_min_request_cv,
            },
            clock_capacity: size(args.behaviour_clock_capacity),
            outputs: args.outputs(),
            output_options: args.output_options(),
            metrics: args.metrics,
            lists: ListFiles { pool_lists: args.pool_list.clone(), watchlists: args.watchlist.clone() },
            privilege: PrivilegeSettings {
                plan: Plan {
                    user: args.user.clone(),
                    group: args.group.clone(),
                    keep_user: false,
                    hand_over: Vec::new(),
                },
                seccomp: !args.no_seccomp,
            },
            quiet: args.quiet,
            config_file: args.config.clone(),
            max_hosts: MAX_HOSTS,
            report: args.report_plan(),
            replay: ReplayOptions {
                since: args.since,
                until: args.until,
                filter: if live { None } else { args.filter.clone() },
            },
            evidence: args.pcap_dir.clone().map(|dir| EvidenceOptions {
                dir,
                first_packets: size(args.pcap_first_packets),
                first_bytes: size(args.pcap_first_bytes),
                buffer_bytes: size(args.pcap_buffer_mb << 20),
                session_packets: args.pcap_session_packets,
                session_bytes: args.pcap_session_mb << 20,
                dir_bytes: args.pcap_dir_mb << 20,
                max_open: size(args.pcap_max_open),
            }),
        })
    }

    /// A live capture (rather than files).
    pub fn is_live(&self) -> bool {
        matches!(self.mode, RunMode::Live(_))
    }

    /// What the workers need, with the lists as loaded.
    pub fn detection(&self, pools: Arc<SharedPools>, watchlist: Arc<Watchlist>) -> Detection {
        Detection {
            home_net: self.home_net.clone(),
            flow: self.flow,
            parsers: self.parsers,
            defrag: self.defrag,
            dns_capacity: self.dns_capacity,
            behaviour: self.behaviour,
            clock_capacity: self.clock_capacity,
            watchlist,
            pools,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(argv: &[&str]) -> Config {
        let mut all = vec!["minewatch"];
        all.extend_from_slice(argv);
        Config::from_args(&Args::try_parse_from(all).unwrap()).unwrap()
    }

    #[test]
    fn defaults_are_the_limits_the_code_was_tested_with() {
        let c = config(&["-r", "a.pcap", "--workers", "4"]);
        let d = FlowLimits::default();
        assert_eq!(c.workers, 4);
        // The process-wide memory cap is split among the workers.
        assert_eq!(c.flow.memcap, (256 << 20) / 4);
        assert_eq!(c.flow.max_flows, d.max_flows);
        assert_eq!(c.flow.max_line, d.max_line);
        assert_eq!(c.flow.inspect_bytes, d.inspect_bytes);
        assert_eq!(c.flow.inspect_lines, d.inspect_lines);
        assert_eq!(c.flow.idle_timeout_us, d.idle_timeout_us);
        assert_eq!(c.flow.bypass_timeout_us, d.bypass_timeout_us);
        assert_eq!(c.flow.hole_timeout_us, d.hole_timeout_us);
        assert_eq!(c.flow.name_wait_us, d.name_wait_us);
        assert_eq!(c.flow.max_awaiting, d.max_awaiting);
        assert_eq!(c.flow.elephant_frames, d.elephant_frames);
        assert_eq!(c.flow.reassembly.max_ooo_bytes, d.reassembly.max_ooo_bytes);
        assert_eq!(c.flow.reassembly.max_ooo_segments, d.reassembly.max_ooo_segments);
        assert_eq!(c.parsers, crate::stratum::Limits::default());
        let dd = DefragLimits::default();
        assert_eq!(
            (c.defrag.max_datagrams, c.defrag.max_bytes, c.defrag.max_fragments, c.defrag.timeout_us),
            (dd.max_datagrams, dd.max_bytes, dd.max_fragments, dd.timeout_us)
        );
        assert_eq!(c.dns_capacity, crate::intel::dnsmap::DEFAULT_CAPACITY);
        assert_eq!(c.behaviour, crate::inspect::behaviour::Limits::default());
        assert_eq!(c.clock_capacity, crate::intel::clock::DEFAULT_CAPACITY);
        assert!(matches!(&c.mode, RunMode::Files(f) if f == &["a.pcap"]));
        // A replay writes no stats records unless asked.
        assert_eq!(c.stats_interval, None);
        assert!(c.privilege.seccomp && c.privilege.plan.user.is_none());
    }

    #[test]
    fn options_reach_the_limits() {
        let c = config(&[
            "-i",
            "eth0",
            "-i",
            "eth1",
            "--no-fanout",
            "--max-line",
            "4096",
            "--inspect-lines",
            "3",
            "--flow-timeout",
            "90s",
            "--name-wait",
            "250ms",
            "--reassembly-max-bytes",
            "0",
            "--defrag-max-fragments",
            "8",
            "--defrag-timeout",
            "1m",
            "--max-field-len",
            "32",
            "--max-pending",
            "5",
            "--http-max-pending",
            "2",
            "--dns-map-capacity",
            "100",
            "--http-max-head",
            "2048",
            "--http-max-body",
            "4096",
            "--name-wait-max",
            "7",
            "--user",
            "mw",
            "--no-seccomp",
            "--memcap",
            "1",
            "--workers",
            "1",
        ]);
        assert_eq!(c.flow.max_line, 4096);
        assert_eq!(c.flow.inspect_lines, 3);
        assert_eq!(c.flow.idle_timeout_us, 90_000_000);
        assert_eq!(c.flow.name_wait_us, 250_000);
        assert_eq!(c.flow.reassembly.max_ooo_bytes, 0);
        assert_eq!(c.flow.memcap, 1 << 20);
        assert_eq!(c.defrag.max_fragments, 8);
        assert_eq!(c.defrag.timeout_us, 60_000_000);
        assert_eq!(
            c.parsers,
            crate::stratum::Limits {
                max_field_len: 32,
                max_pending: 5,
                http_max_pending: 2,
                http_max_head: 2048,
                http_max_body: 4096
            }
        );
        assert_eq!(c.dns_capacity, 100);
        assert_eq!(c.flow.max_awaiting, 7);
        assert!(!c.fanout && !c.privilege.seccomp);
        assert_eq!(c.privilege.plan.user.as_deref(), Some("mw"));
        // Live capture writes stats every minute unless told otherwise.
        assert_eq!(c.stats_interval, Some(Duration::from_secs(60)));
        let RunMode::Live(caps) = &c.mode else { panic!("not live") };
        let names: Vec<&str> = caps.iter().map(|o| o.iface.as_str()).collect();
        assert_eq!(names, ["eth0", "eth1"]);
        assert!(caps.iter().all(|o| o.promisc && o.timeout_ms == LIVE_TIMEOUT_MS));
        assert_eq!(config(&["-i", "lo", "--stats-interval", "0"]).stats_interval, Some(Duration::ZERO));
    }

    #[test]
    fn refuses_what_makes_no_sense() {
        for bad in [
            ["--flow-timeout", "0s"],
            ["--name-wait", "0ms"],
            ["--defrag-timeout", "soon"],
            ["--inspect-lines", "0"],
            ["--max-pending", "0"],
            ["--dns-map-capacity", "0"],
            ["--max-field-len", "8"],
            ["--http-max-head", "0"],
            ["--name-wait-max", "0"],
        ] {
            let mut argv = vec!["minewatch", "-r", "a"];
            argv.extend_from_slice(&bad);
            assert!(Args::try_parse_from(&argv).is_err(), "{bad:?}");
        }
        let args = Args::try_parse_from(["minewatch", "-i", "lo", "--metrics", "0.0.0.0:9500"]).unwrap();
        let e = Config::from_args(&args).unwrap_err();
        assert_eq!(e.option(), "metrics");
        assert!(e.to_string().starts_with("--metrics 0.0.0.0:9500: not a loopback address"), "{e}");
    }
}
