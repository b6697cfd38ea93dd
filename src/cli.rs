//! The command line, in tcpdump's and Suricata's conventions (`-r`, `-i`, `-o`, `-q`). One
//! definition serves parsing, `--help`, and later the man page and shell completions.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::output::{Format, OutputOptions, OutputSpec, Target};
use crate::verdict::{HomeNet, DEFAULT_HOME_NET};

/// What live capture keeps by default: all of TCP, DNS over UDP, and IP fragments.
pub const DEFAULT_FILTER: &str = "tcp or udp port 53 or (ip[6:2] & 0x3fff != 0) or ip6[6] == 44";

const EXAMPLES: &str = "\
Examples:
  minewatch -i eth1 -o /var/log/minewatch/alerts.json   watch a SPAN port
  minewatch -r capture.pcap                 report mining hosts in a capture
  minewatch -r a.pcapng -r b.pcap -o alerts.json
  tcpdump -w - -i eth1 | minewatch -r -     read a capture from standard input
  minewatch -r x.pcap --home-net 10.20.0.0/16,2001:db8:1::/48
  minewatch -i eth1 -o json:/var/log/mw.json -o cef:syslog+tcp://127.0.0.1:514 --spool /var/lib/minewatch/spool

Alerts are JSON lines (docs/alert-schema.md) unless --format or -o FORMAT: says otherwise; the summary of mining hosts goes to stderr.
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
// `minewatch probe ...` needs no input and takes none of the sensor's options.
#[command(subcommand_negates_reqs = true, args_conflicts_with_subcommands = true)]
pub struct Args {
    /// A command other than watching traffic (none: the sensor, with -r or -i).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Read packets from pcap or pcapng files (`-` for standard input), one after another;
    /// several may follow one `-r`, and `-r` may repeat. A directory stands for every capture
    /// in it and below it (recognised by its magic number, whatever its name), in the order of
    /// their first packets.
    #[arg(short = 'r', long = "read", value_name = "FILE|DIR", conflicts_with = "interface",
          num_args = 1..)]
    pub read: Vec<String>,

    /// Capture live from a network interface (promiscuous); repeatable.
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: Vec<String>,

    /// BPF filter (libpcap's syntax). Live, the default keeps TCP (Stratum, TLS), UDP port 53
    /// (DNS answers for pool domains) and IP fragments (which carry no ports). On replay it is
    /// off unless given; then each frame is tested against it (compiled for the file's link
    /// type) and one that fails it is skipped, counted in `frames_filtered`.
    #[arg(short = 'f', long = "filter", value_name = "EXPR")]
    pub filter: Option<String>,

    /// Replay: skip the frames before this time, an RFC 3339 time (`2026-03-01T08:00:00Z`) or
    /// a duration after the first packet of the replay (`90m`); counted in
    /// `frames_outside_window`.
    #[arg(long = "since", value_name = "TIME|DURATION", value_parser = parse_when)]
    pub since: Option<When>,

    /// Replay: skip the frames from this time on (an RFC 3339 time, or a duration after the
    /// first packet of the replay).
    #[arg(long = "until", value_name = "TIME|DURATION", value_parser = parse_when)]
    pub until: Option<When>,

    /// Write the packets of every alerted session to a pcap file of its own in this directory
    /// (created if missing), from the session's first packet: the evidence, named in the
    /// session's `mining_session` record (`evidence`: file, packets, bytes, SHA-256).
    #[arg(long = "pcap-dir", value_name = "DIR")]
    pub pcap_dir: Option<std::path::PathBuf>,

    /// Evidence: the first packets kept of each flow still inspected, until it alerts (its
    /// login is among them) or is bypassed. Enough for a login sent one byte per segment.
    #[arg(long = "pcap-first-packets", value_name = "N", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub pcap_first_packets: u32,

    /// Evidence: the bytes of frames kept of each flow still inspected (a flow shows at most
    /// `--inspect-bytes` of payload without a mining message before it is bypassed).
    #[arg(long = "pcap-first-bytes", value_name = "BYTES", default_value_t = 65_536,
          value_parser = clap::value_parser!(u32).range(64..=16_777_216))]
    pub pcap_first_bytes: u32,

    /// Evidence: the bytes of first packets each worker keeps in all, in MiB; past it a flow's
    /// packets are not kept (`evidence_buffer_full`).
    #[arg(long = "pcap-buffer-mb", value_name = "MIB", default_value_t = 16,
          value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub pcap_buffer_mb: u64,

    /// Evidence: most packets written to one session's file; later ones are counted in
    /// `evidence_session_cut`.
    #[arg(long = "pcap-session-packets", value_name = "N", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub pcap_session_packets: u64,

    /// Evidence: most bytes of one session's file, in MiB.
    #[arg(long = "pcap-session-mb", value_name = "MIB", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub pcap_session_mb: u64,

    /// Evidence: most bytes of the evidence directory, in MiB; past it the oldest closed files
    /// this run wrote are removed (`evidence_files_removed`).
    #[arg(long = "pcap-dir-mb", value_name = "MIB", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(1..=16_777_216))]
    pub pcap_dir_mb: u64,

    /// Evidence: most session files each worker holds open at once; a session alerted past it
    /// has no file (`evidence_failed`).
    #[arg(long = "pcap-max-open", value_name = "N", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub pcap_max_open: u32,

    /// Bytes kept of each live frame.
    #[arg(long = "snaplen", value_name = "BYTES", default_value_t = 65535,
          value_parser = clap::value_parser!(i32).range(64..=262144))]
    pub snaplen: i32,

    /// Kernel capture buffer of each capture, in MiB: one per interface and worker (the
    /// kernel shares each interface among the workers; see --no-fanout).
    #[arg(long = "buffer-mb", value_name = "MIB", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub buffer_mb: u32,

    /// Read each interface with one capture, and all of them with one reader thread that hands
    /// packets to the workers, instead of one capture per worker shared by the kernel (Linux
    /// packet fanout, by a symmetric hash of each flow). For a kernel whose fanout hash is not
    /// the same both ways; slower.
    #[arg(long = "no-fanout")]
    pub no_fanout: bool,

    /// Most elephant flows each worker has the kernel drop: a flow already found not to be
    /// Stratum that goes on for over 256 frames (a backup, a big download) is added to
    /// the capture filter, its SYN, FIN and RST still read, for 30 s at a time. Frees the
    /// workers for the rest of the link; its frames are then not counted. 0: off. Linux, with
    /// the kernel sharing the interfaces (not with --no-fanout), Ethernet captures.
    #[arg(long = "shunt", value_name = "FLOWS", default_value_t = 32,
          value_parser = clap::value_parser!(u16).range(0..=64))]
    pub shunt: u16,

    /// Seconds between `stats` records in the alert output (0: only one, at exit). Live
    /// capture writes them every 60 s by default; a replay writes none unless this is given.
    #[arg(long = "stats-interval", value_name = "SECS")]
    pub stats_interval: Option<u64>,

    /// After opening the interfaces, run as this user (default when started as root: nobody).
    #[arg(long = "user", value_name = "USER")]
    pub user: Option<String>,

    /// ... and this group (default when started as root: nogroup, or nobody where there is no
    /// nogroup, or else the user's primary group).
    #[arg(long = "group", value_name = "GROUP")]
    pub group: Option<String>,

    /// Live capture: do not install the system-call filter that, once privileges are dropped,
    /// refuses what a sensor never does (exec, ptrace, namespaces, mounts, kernel modules,
    /// bpf, io_uring...). For debugging with tools the filter would refuse.
    #[arg(long = "no-seccomp")]
    pub no_seccomp: bool,

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

    // ---- Limits: every bound of the flow table and the parsers (defaults are the tested ones) ----
    /// Longest Stratum line kept, in bytes (Equihash submits run to ~3 KB; a getblocktemplate
    /// far more); a longer line is dropped and counted.
    #[arg(long = "max-line", value_name = "BYTES", default_value_t = 65_536,
          value_parser = clap::value_parser!(u32).range(64..=16_777_216))]
    pub max_line: u32,

    /// Bytes a flow may show without a mining message before it is bypassed (no longer read).
    #[arg(long = "inspect-bytes", value_name = "BYTES", default_value_t = 65_536,
          value_parser = clap::value_parser!(u64).range(1..=1_073_741_824))]
    pub inspect_bytes: u64,

    /// JSON lines without mining meaning a flow may show before it is bypassed.
    #[arg(long = "inspect-lines", value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub inspect_lines: u32,

    /// Idle time after which a flow still inspected (or mining) is ended and reported.
    #[arg(long = "flow-timeout", value_name = "DURATION", default_value = "10m", value_parser = nonzero_duration)]
    pub flow_timeout: Duration,

    /// Idle time after which a new or bypassed flow is forgotten.
    #[arg(long = "bypass-timeout", value_name = "DURATION", default_value = "2m", value_parser = nonzero_duration)]
    pub bypass_timeout: Duration,

    /// How long a hole in a TCP stream waits for its segment before it is given up as a gap.
    #[arg(long = "hole-timeout", value_name = "DURATION", default_value = "3s", value_parser = nonzero_duration)]
    pub hole_timeout: Duration,

    /// How long (packet time) a TLS flow whose ClientHello names no server waits for a DNS
    /// answer read by another worker before it is judged.
    #[arg(long = "name-wait", value_name = "DURATION", default_value = "5s", value_parser = nonzero_duration)]
    pub name_wait: Duration,

    /// TLS flows with no server name each worker keeps waiting for a DNS answer at once; past
    /// it such a flow is judged at once (counted in `tls_name_wait_full`).
    #[arg(long = "name-wait-max", value_name = "FLOWS", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub name_wait_max: u32,

    /// Payload bytes each direction of a stream may hold out of order (0: none; every hole is
    /// then a gap at once).
    #[arg(long = "reassembly-max-bytes", value_name = "BYTES", default_value_t = 262_144,
          value_parser = clap::value_parser!(u64).range(0..=1_073_741_824))]
    pub reassembly_max_bytes: u64,

    /// Separate out-of-order runs each direction may hold (0: none).
    #[arg(long = "reassembly-max-segments", value_name = "N", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub reassembly_max_segments: u32,

    /// IP datagrams each worker may be putting back together from fragments at once.
    #[arg(long = "defrag-max-datagrams", value_name = "N", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub defrag_max_datagrams: u32,

    /// Bytes each worker may hold of datagrams being put back together.
    #[arg(long = "defrag-max-bytes", value_name = "BYTES", default_value_t = 16_777_216,
          value_parser = clap::value_parser!(u64).range(65_535..=1_073_741_824))]
    pub defrag_max_bytes: u64,

    /// Fragments one datagram may arrive in.
    #[arg(long = "defrag-max-fragments", value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=8192))]
    pub defrag_max_fragments: u32,

    /// How long (packet time) a datagram's fragments wait for the rest.
    #[arg(long = "defrag-timeout", value_name = "DURATION", default_value = "30s", value_parser = nonzero_duration)]
    pub defrag_timeout: Duration,

    /// Longest wire string (login, agent, password, method) kept of a session; longer ones are
    /// cut and flagged `truncated`.
    #[arg(long = "max-field-len", value_name = "BYTES", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(16..=65_536))]
    pub max_field_len: u32,

    /// Unanswered Stratum requests remembered per session (the oldest are forgotten and counted).
    #[arg(long = "max-pending", value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub max_pending: u32,

    /// HTTP requests awaiting their answer per connection (getwork over HTTP); past it the
    /// connection is bypassed.
    #[arg(long = "http-max-pending", value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub http_max_pending: u32,

    /// Longest HTTP message head (getwork over HTTP); a longer one bypasses the connection.
    #[arg(long = "http-max-head", value_name = "BYTES", default_value_t = 8192,
          value_parser = clap::value_parser!(u32).range(1024..=1_048_576))]
    pub http_max_head: u32,

    /// Longest HTTP body parsed (getwork over HTTP); a longer one is skipped, never buffered.
    #[arg(long = "http-max-body", value_name = "BYTES", default_value_t = 65_536,
          value_parser = clap::value_parser!(u32).range(1024..=67_108_864))]
    pub http_max_body: u32,

    /// Addresses the DNS map of pool domains holds (shared by the workers); past it the oldest
    /// are forgotten.
    #[arg(long = "dns-map-capacity", value_name = "N", default_value_t = 65_536,
          value_parser = clap::value_parser!(u32).range(1..=16_777_216))]
    pub dns_map_capacity: u32,

    /// Do not watch the behaviour of TLS flows with no name (no SNI, no DNS answer naming a
    /// pool): they are then forgotten after `--name-wait`.
    #[arg(long = "no-behaviour")]
    pub no_behaviour: bool,

    /// Also watch TLS flows whose ClientHello names a server that is no pool (an attacker's own
    /// domain in SNI, XMRig with `"sni": true`), not only those with no name. Off by default:
    /// every non-browser TLS application with a name (mail, chat, push, MQTT to a named
    /// broker) is then judged by its behaviour too, which the tests' negatives cover but a
    /// network's own traffic may not. Browsers (ALPN `h2`/`http/1.1` only) stay out.
    #[arg(long = "behaviour-named")]
    pub behaviour_named: bool,

    /// Pushes (server records sent unasked) a TLS flow with no name must show before its
    /// behaviour is judged mining.
    #[arg(long = "behaviour-min-pushes", value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub behaviour_min_pushes: u32,

    /// Requests answered within `--behaviour-answer` a TLS flow with no name must show.
    #[arg(long = "behaviour-min-pairs", value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub behaviour_min_pairs: u32,

    /// Least time (packet time, from the ClientHello) before a flow's behaviour is judged. The
    /// pushes and answered requests it must show take longer than this with most coins' block
    /// clocks; this guards the fast ones (a pool's own job refresh every few seconds).
    #[arg(long = "behaviour-min-duration", value_name = "DURATION", default_value = "30s", value_parser = nonzero_duration)]
    pub behaviour_min_duration: Duration,

    /// Least time when the flow's pushes line up with pushes of known mining sessions.
    #[arg(long = "behaviour-aligned-duration", value_name = "DURATION", default_value = "15s", value_parser = nonzero_duration)]
    pub behaviour_aligned_duration: Duration,

    /// Longest a TLS flow with no name is watched undecided; then it is bypassed.
    #[arg(long = "behaviour-max-watch", value_name = "DURATION", default_value = "30m", value_parser = nonzero_duration)]
    pub behaviour_max_watch: Duration,

    /// A server record this soon after a client record answers it; one with no client record
    /// this long before it is a push.
    #[arg(long = "behaviour-answer", value_name = "DURATION", default_value = "1500ms", value_parser = nonzero_duration)]
    pub behaviour_answer: Duration,

    /// Records in this time after the ClientHello (handshake, tickets, login) are not judged.
    #[arg(long = "behaviour-warmup", value_name = "DURATION", default_value = "2s", value_parser = nonzero_duration)]
    pub behaviour_warmup: Duration,

    /// A TLS record longer than this rules a watched flow out (bulk transfer).
    #[arg(long = "behaviour-max-record", value_name = "BYTES", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(64..=18_432))]
    pub behaviour_max_record: u32,

    /// Mean bytes per second (both ways) above which a watched flow is ruled out.
    #[arg(long = "behaviour-max-rate", value_name = "BYTES", default_value_t = 2048,
          value_parser = clap::value_parser!(u32).range(1..=1_073_741_824))]
    pub behaviour_max_rate: u32,

    /// How far a push may lie from a known mining session's push and still line up with it.
    #[arg(long = "behaviour-align-tolerance", value_name = "DURATION", default_value = "2s", value_parser = nonzero_duration)]
    pub behaviour_align_tolerance: Duration,

    /// Client record lengths taken as requests (shares, keepalives), `MIN-MAX`.
    #[arg(long = "behaviour-request-len", value_name = "MIN-MAX", default_value = "80-3072", value_parser = len_range)]
    pub behaviour_request_len: (u32, u32),

    /// Largest server record taken as an answer to a request.
    #[arg(long = "behaviour-max-answer", value_name = "BYTES", default_value_t = 384,
          value_parser = clap::value_parser!(u32).range(1..=18_432))]
    pub behaviour_max_answer: u32,

    /// Smallest server record taken as an answer to a request: a Stratum answer is JSON (38
    /// bytes or more sealed); binary protocols acknowledge in a few bytes (MQTT's PUBACK).
    #[arg(long = "behaviour-min-answer", value_name = "BYTES", default_value_t = 36,
          value_parser = clap::value_parser!(u32).range(1..=18_432))]
    pub behaviour_min_answer: u32,

    /// Smallest server record taken as a push (a job).
    #[arg(long = "behaviour-min-push", value_name = "BYTES", default_value_t = 96,
          value_parser = clap::value_parser!(u32).range(1..=18_432))]
    pub behaviour_min_push: u32,

    /// Least variation (stddev / mean) of the time between a watched flow's requests: shares
    /// come at random, an application's heartbeat on a timer.
    #[arg(long = "behaviour-min-request-cv", value_name = "RATIO", default_value_t = 0.3,
          value_parser = ratio)]
    pub behaviour_min_request_cv: f64,

    /// Push instants of known mining sessions remembered (shared by the workers), for lining
    /// suspects' pushes up with them; past it the oldest are forgotten.
    #[arg(long = "behaviour-clock-capacity", value_name = "N", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub behaviour_clock_capacity: u32,

    /// A file of extra mining pools, one per line (`#` comments): domains (`pool.example.net`
    /// also matches its subdomains), addresses and CIDR ranges, added to the shipped list;
    /// repeatable. Also a JSON array of them, a MISP export (CSV or JSON) or a STIX 2.1 bundle
    /// (told by the content, or `misp:FILE`, `stix:FILE`), whose wallets go to the watchlist.
    /// Used for TLS server names and addresses and DNS answers. Read again on SIGHUP (with the
    /// watchlist; all or nothing).
    #[arg(long = "pool-list", value_name = "FILE")]
    pub pool_list: Vec<std::path::PathBuf>,

    /// Worker threads (default: one per core).
    #[arg(long = "workers", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: Option<u16>,

    // ---- Outputs: formats, transports, delivery (docs/alert-schema.md, README "Into a SIEM") ----
    /// Where records go, repeatable: `[FORMAT:]TARGET`. TARGET is `-` (standard output, the
    /// default), a file (appended; reopened on SIGHUP), `syslog+udp://HOST:PORT`,
    /// `syslog+tcp://HOST:PORT` (RFC 5424; TCP octet-counted, reconnecting, queued),
    /// `syslog+tls://HOST:PORT` (the same over TLS, RFC 5425; options `?ca=FILE`, `&cert=FILE`,
    /// `&key=FILE`, `&name=NAME`, each optional) or `redis://[USER:PASSWORD@]HOST:PORT/KEY`
    /// (reconnecting, queued; options `?mode=list|lpush|channel|stream`, `&db=N`). FORMAT is
    /// json, cef, ecs or eve; without it `--format` applies. `?types=mining,mining_session,stats`
    /// after TARGET limits the output to those record types.
    #[arg(short = 'o', long = "output", value_name = "[FORMAT:]TARGET")]
    pub output: Vec<OutputSpec>,

    /// Format of the outputs that name none: json (the documented contract), cef, ecs, eve.
    #[arg(long = "format", value_name = "FORMAT", default_value = "json")]
    pub format: Format,

    /// The sensor's name, carried by every record (default: the host name).
    #[arg(long = "sensor-name", value_name = "NAME")]
    pub sensor_name: Option<String>,

    /// At most one `mining` alert per (miner host, pool) per WINDOW of packet time, e.g. `10m`;
    /// the rest are counted (`alerts_suppressed`). `mining_session` records are never held back.
    #[arg(long = "suppress", value_name = "WINDOW", value_parser = humantime::parse_duration)]
    pub suppress: Option<Duration>,

    /// Keep what TCP outputs cannot deliver on disk in DIR (one subdirectory per output); it is
    /// sent first when the receiver is back, also after a restart of minewatch.
    #[arg(long = "spool", value_name = "DIR")]
    pub spool: Option<PathBuf>,

    /// Bound of each output's spool, in MiB; records past it are dropped and counted.
    #[arg(long = "spool-max-mb", value_name = "MIB", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub spool_max_mb: u64,

    /// Records each TCP output keeps in memory while its receiver is away (without `--spool`).
    #[arg(long = "output-queue", value_name = "N", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub output_queue: u64,

    /// How long network outputs keep trying to deliver at exit before spooling or dropping.
    #[arg(long = "drain-timeout", value_name = "DURATION", default_value = "10s",
          value_parser = humantime::parse_duration)]
    pub drain_timeout: Duration,

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

    /// Check the configuration and exit (like `suricata -T`): read the file and the options,
    /// load the pool lists and watchlists, check the outputs (a file output's directory must be
    /// writable), the spool directory, the filter and that each interface exists, without
    /// opening a capture; print what a run would do and exit 0, or one line per problem on
    /// stderr and exit 2. Needs no privileges.
    #[arg(short = 'T', long = "test-config")]
    pub test_config: bool,

    /// Print a shell completion script for SHELL and exit.
    #[arg(long = "generate-completions", value_name = "SHELL", hide = true, exclusive = true)]
    pub generate_completions: Option<clap_complete::Shell>,

    /// Print the man page (roff) and exit.
    #[arg(long = "generate-man", hide = true, exclusive = true)]
    pub generate_man: bool,

    /// Wallet watchlist: one address per line, an optional label after whitespace, `#`
    /// comments; unlabelled entries carry the file's `# label:` line, else its name. Also a
    /// JSON array of addresses, a MISP export or a STIX 2.1 bundle (as for --pool-list; their
    /// domains and addresses go to the pool list). A session whose login holds a listed address
    /// gets severity 1 and the label.
    /// Repeatable: the lists are merged (an address in two of them keeps the later label).
    /// Read again on SIGHUP (with the pool lists; all or nothing).
    #[arg(long = "watchlist", value_name = "FILE")]
    pub watchlist: Vec<std::path::PathBuf>,

    // ---- The report and the intelligence exports (README "From captures to a report") ----
    /// Write a self-contained HTML page at the end of the run (live: also on SIGHUP): summary,
    /// each mining host's sessions over time, hash rate, pools, wallets, miner software and
    /// what was not inspected or lost. Opens from a file with no network.
    #[arg(long = "report", value_name = "FILE.html")]
    pub report: Option<PathBuf>,

    /// The same content as --report, as JSON (docs/report.md).
    #[arg(long = "report-json", value_name = "FILE")]
    pub report_json: Option<PathBuf>,

    /// Write a STIX 2.1 bundle of what the run observed (pools as indicators sighted by this
    /// sensor, wallets, miner software) at the end of the run (live: also on SIGHUP).
    #[arg(long = "export-stix", value_name = "FILE")]
    pub export_stix: Option<PathBuf>,

    /// Write the same as a MISP event (JSON, MISP core format).
    #[arg(long = "export-misp", value_name = "FILE")]
    pub export_misp: Option<PathBuf>,

    /// Traffic Light Protocol level marked on the STIX bundle and tagged on the MISP event.
    #[arg(long = "export-tlp", value_name = "LEVEL", value_enum, default_value = "amber")]
    pub export_tlp: crate::report::Tlp,

    /// Live capture: also rewrite the report and export files every DURATION (e.g. `10m`), as
    /// at SIGHUP. Off by default: at exit and at SIGHUP only.
    #[arg(long = "report-interval", value_name = "DURATION", value_parser = nonzero_duration)]
    pub report_interval: Option<Duration>,

    /// Most mining hosts the report draws a timeline for; records of further hosts are counted.
    #[arg(long = "report-max-hosts", value_name = "N", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub report_max_hosts: u32,

    /// Most sessions drawn per host in the report; further ones are counted.
    #[arg(long = "report-max-sessions", value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub report_max_sessions: u32,
}

/// The subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Ask an endpoint whether it is a mining pool: connect, speak just enough of each Stratum
    /// dialect (subscribe and authorize, XMRig login, eth_submitLogin, mining.hello, an SV2
    /// SetupConnection) with a dummy login, and print what it answered: dialect, algorithm,
    /// difficulty or target, extranonce, pool software, whether it sent a job. An analyst's
    /// confirmation, run by hand only; needs no privileges. Exit status 0 when the endpoint is
    /// a pool, 1 when it is not (or cannot be reached), 2 for a usage error.
    Probe(ProbeArgs),
}

/// Which dialect `probe` speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProbeDialect {
    /// Each below in turn, on a fresh connection each, until one is answered.
    Auto,
    /// Stratum V1: mining.subscribe then mining.authorize.
    Stratum1,
    /// CryptoNote (XMRig, Monero pools): login.
    Cryptonote,
    /// eth-proxy: eth_submitLogin then eth_getWork.
    Ethproxy,
    /// EthereumStratum/2.0.0: mining.hello.
    Ethstratum,
    /// Stratum V2 in plain framing: SetupConnection, then OpenStandardMiningChannel.
    Sv2,
}

/// `minewatch probe HOST:PORT`.
#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// The endpoint: `HOST:PORT` (a name, an IPv4 address, or `[IPv6]:PORT`).
    #[arg(value_name = "HOST:PORT")]
    pub target: String,
    /// Speak TLS (stratum+ssl): the server's certificate is checked against `--ca` or the
    /// system's bundle, unless `--insecure`.
    #[arg(long)]
    pub tls: bool,
    /// With --tls: accept any certificate (pools often use self-signed ones); said in the
    /// output.
    #[arg(long, requires = "tls")]
    pub insecure: bool,
    /// With --tls: the PEM file of the certificate authorities to trust [default: the system's
    /// bundle, /etc/ssl/certs/ca-certificates.crt].
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub ca: Option<std::path::PathBuf>,
    /// Time limit on the whole probe, every dialect tried included.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// The dialect to speak.
    #[arg(long, value_enum, default_value_t = ProbeDialect::Auto)]
    pub dialect: ProbeDialect,
    /// The login sent (a dummy: the probe never mines).
    #[arg(long, value_name = "LOGIN", default_value = "minewatch-probe")]
    pub login: String,
    /// One JSON line instead of the text report.
    #[arg(long)]
    pub json: bool,
}

/// A humantime duration (`30s`, `10m`) that is not zero: a zero timeout or wait would end
/// every flow, hole or datagram at its first packet.
/// A ratio from 0 to 10.
fn ratio(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|e| format!("{s:?}: {e}"))?;
    if !(0.0..=10.0).contains(&v) {
        return Err(format!("{s:?}: must be from 0 to 10"));
    }
    Ok(v)
}

/// `MIN-MAX` record lengths, `MIN <= MAX`.
fn len_range(s: &str) -> Result<(u32, u32), String> {
    let (a, b) = s.split_once('-').ok_or_else(|| format!("expected MIN-MAX, got {s:?}"))?;
    let a: u32 = a.trim().parse().map_err(|e| format!("{a:?}: {e}"))?;
    let b: u32 = b.trim().parse().map_err(|e| format!("{b:?}: {e}"))?;
    if a > b || b > 18_432 {
        return Err(format!("{s:?}: MIN must not exceed MAX, and MAX at most 18432"));
    }
    Ok((a, b))
}

fn nonzero_duration(s: &str) -> Result<Duration, DurationError> {
    match humantime::parse_duration(s)? {
        d if d.is_zero() => Err(DurationError::Zero),
        d => Ok(d),
    }
}

pub use crate::time::When;

/// An RFC 3339 time (`2026-03-01T08:00:00Z`, any offset) or a humantime duration (`90m`).
fn parse_when(s: &str) -> Result<When, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        let us =
            t.timestamp().saturating_mul(1_000_000).saturating_add(i64::from(t.timestamp_subsec_micros()));
        return Ok(When::At(crate::time::Ts(us)));
    }
    humantime::parse_duration(s)
        .map(When::After)
        .map_err(|_| "neither an RFC 3339 time (2026-03-01T08:00:00Z) nor a duration (90m)".to_string())
}

/// Why a timeout or wait was refused (clap prints it after the value).
#[derive(Debug, thiserror::Error)]
pub enum DurationError {
    #[error("must not be zero")]
    Zero,
    #[error(transparent)]
    Parse(#[from] humantime::DurationError),
}

impl Args {
    /// Worker threads: `--workers`, or one per core.
    pub fn worker_count(&self) -> usize {
        self.workers
            .map(usize::from)
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
    }

    /// The outputs asked for; standard output when none.
    pub fn outputs(&self) -> Vec<OutputSpec> {
        if self.output.is_empty() {
            vec![OutputSpec { format: None, target: Target::Stdout, types: Default::default() }]
        } else {
            self.output.clone()
        }
    }

    /// The report files and their bounds.
    pub fn report_plan(&self) -> crate::report::Plan {
        crate::report::Plan {
            html: self.report.clone(),
            json: self.report_json.clone(),
            stix: self.export_stix.clone(),
            misp: self.export_misp.clone(),
            tlp: self.export_tlp,
            sensor: self.sensor_name.clone().unwrap_or_else(crate::output::default_sensor_name),
            limits: crate::report::Limits {
                hosts: usize::try_from(self.report_max_hosts).unwrap_or(usize::MAX),
                sessions_per_host: usize::try_from(self.report_max_sessions).unwrap_or(usize::MAX),
                ..Default::default()
            },
            interval: self.report_interval,
        }
    }

    /// What every output shares.
    pub fn output_options(&self) -> OutputOptions {
        OutputOptions {
            default_format: self.format,
            sensor: self.sensor_name.clone().unwrap_or_else(crate::output::default_sensor_name),
            suppress: self.suppress.filter(|d| !d.is_zero()),
            spool: self.spool.clone(),
            spool_max_bytes: self.spool_max_mb.saturating_mul(1 << 20),
            queue: usize::try_from(self.output_queue).unwrap_or(usize::MAX),
            drain: self.drain_timeout,
        }
    }
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
        assert_eq!(a.outputs(), vec!["x.json".parse::<OutputSpec>().unwrap()]);
        assert!(a.quiet);
        assert!(a.home_net.contains("192.0.2.1".parse().unwrap()));
        assert!(!a.home_net.contains("10.0.0.1".parse().unwrap()));
        assert_eq!(a.workers, Some(2));
    }

    #[test]
    fn defaults_and_errors() {
        let a = Args::try_parse_from(["minewatch", "-r", "a.pcap"]).unwrap();
        assert_eq!(
            a.outputs(),
            vec![OutputSpec { format: None, target: Target::Stdout, types: Default::default() }]
        );
        assert_eq!(a.format, Format::Json);
        assert_eq!(a.output_options().suppress, None);
        assert_eq!(a.home_net, HomeNet::default());
        assert!(Args::try_parse_from(["minewatch"]).is_err());
        assert!(Args::try_parse_from(["minewatch", "-r", "a", "-i", "eth0"]).is_err());
        let l = Args::try_parse_from(["minewatch", "-i", "eth0", "-i", "eth1", "--user", "mw"]).unwrap();
        assert_eq!(l.interface, vec!["eth0", "eth1"]);
        assert_eq!(l.filter, None);
        assert_eq!(l.user.as_deref(), Some("mw"));
        assert!(Args::try_parse_from(["minewatch", "-r", "a", "--home-net", "nope"]).is_err());
        assert!(Args::try_parse_from(["minewatch", "-r", "a", "--workers", "0"]).is_err());
        let p = Args::try_parse_from(["minewatch", "-r", "a", "--pool-list", "x.txt", "--pool-list", "y"])
            .unwrap();
        assert_eq!(p.pool_list, vec![std::path::PathBuf::from("x.txt"), "y".into()]);
        let w = Args::try_parse_from(["minewatch", "-r", "a", "--watchlist", "wl.txt"]).unwrap();
        assert_eq!(w.watchlist, vec![std::path::PathBuf::from("wl.txt")]);
        assert!(a.watchlist.is_empty());
    }

    #[test]
    fn output_options() {
        let a = Args::try_parse_from([
            "minewatch",
            "-r",
            "a",
            "-o",
            "json:/tmp/x.json",
            "-o",
            "cef:syslog+tcp://127.0.0.1:514",
            "-o",
            "-",
            "--format",
            "ecs",
            "--sensor-name",
            "edge-7",
            "--suppress",
            "10m",
            "--spool",
            "sp",
            "--spool-max-mb",
            "2",
        ])
        .unwrap();
        let outs = a.outputs();
        assert_eq!(outs.len(), 3);
        assert_eq!(outs[1].label(), "cef:syslog+tcp://127.0.0.1:514");
        assert_eq!(outs[2].label(), "-");
        let o = a.output_options();
        assert_eq!(o.sensor, "edge-7");
        assert_eq!(o.suppress, Some(Duration::from_secs(600)));
        assert_eq!(o.spool_max_bytes, 2 << 20);
        assert_eq!(o.drain, Duration::from_secs(10));
        assert!(!Args::try_parse_from(["minewatch", "-r", "a"]).unwrap().output_options().sensor.is_empty());
        assert!(Args::try_parse_from(["minewatch", "-r", "a", "--format", "xml"]).is_err());
        assert!(Args::try_parse_from(["minewatch", "-r", "a", "-o", "syslog+tcp://x"]).is_err());
        assert!(Args::try_parse_from(["minewatch", "-r", "a", "--suppress", "soon"]).is_err());
    }
}
