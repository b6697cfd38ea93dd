//! Outputs: formatters are pure functions from a record to bytes (`json`, `cef`, `ecs`, `eve`);
//! transports carry the bytes (a file, standard output, syslog over UDP or TCP); [`Outputs`]
//! holds every output the user asked for and is owned by the collector thread alone.
//!
//! Nothing here may block the workers: they hand records to the collector through a bounded
//! channel; files and standard output are written by the collector; each TCP output has a
//! sender thread behind a bounded queue (see [`net`]), so a slow or absent SIEM costs memory
//! up to a bound, then spool space up to a bound, then counted drops, never a stall.

pub mod cef;
pub mod ecs;
pub mod eve;
pub mod json;
pub mod net;
pub mod redis;
pub mod spool;
pub mod suppress;
pub mod syslog;
pub mod tls;

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::intel::Watchlist;
use crate::stats::{Counters, KernelStats};
use crate::time::Ts;
use crate::verdict::{Event, EventKind};

use net::{TcpOptions, TcpOut, UdpOut};
use redis::{Mode, RedisLink, RedisTarget};
use suppress::{Decision, Suppressor};
use tls::{TlsLink, TlsTarget};

/// A `stats` record: every counter, summed over the threads, and the kernel's capture drops.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatsRecord {
    pub ts: Ts,
    pub counters: Counters,
    pub kernel: Vec<(String, KernelStats)>,
}

/// A record layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// The JSON-lines contract (docs/alert-schema.md).
    Json,
    /// ArcSight Common Event Format.
    Cef,
    /// Elastic Common Schema.
    Ecs,
    /// Suricata EVE (`alert`, `flow`, `stats`).
    Eve,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Json, Format::Cef, Format::Ecs, Format::Eve];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Cef => "cef",
            Format::Ecs => "ecs",
            Format::Eve => "eve",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Appends one record, without a line terminator, to `out`.
    pub fn format(self, ev: &Event, sensor: &str, out: &mut Vec<u8>) {
        self.format_with(ev, sensor, &Watchlist::default(), out)
    }

    /// [`format`](Self::format), where a login holding an address on `watchlist` raises the
    /// record's severity and carries the entry's label.
    pub fn format_with(self, ev: &Event, sensor: &str, watchlist: &Watchlist, out: &mut Vec<u8>) {
        self.format_watched(
            ev,
            sensor,
            watchlist.lookup(ev.facts.login.as_deref(), ev.facts.wallet.as_deref()),
            out,
        )
    }

    /// [`format`](Self::format), with the watchlist's verdict on the login already looked up:
    /// `Some(label)` raises the record's severity and carries the label. The formatters take
    /// the verdict rather than the list so that a record is looked up once, however many
    /// formats it is written in.
    fn format_watched(self, ev: &Event, sensor: &str, watch: Option<&str>, out: &mut Vec<u8>) {
        match self {
            Format::Json => json::format_with(ev, sensor, watch, out),
            Format::Cef => cef::format_with(ev, sensor, watch, out),
            Format::Ecs => ecs::format_with(ev, sensor, watch, out),
            Format::Eve => eve::format_with(ev, sensor, watch, out),
        }
    }

    /// Appends one `stats` record, without a line terminator, to `out`.
    pub fn format_stats(self, rec: &StatsRecord, sensor: &str, out: &mut Vec<u8>) {
        match self {
            Format::Json => json::format_stats(rec, sensor, out),
            Format::Cef => cef::format_stats(rec, sensor, out),
            Format::Ecs => ecs::format_stats(rec, sensor, out),
            Format::Eve => eve::format_stats(rec, sensor, out),
        }
    }
}

/// Why an `-o` or `--format` value was refused (clap prints it after the value).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("unknown format {0:?} (json, cef, ecs, eve)")]
    UnknownFormat(String),
    #[error("unknown output scheme in {0:?} (syslog+udp://, syslog+tcp://, syslog+tls://, redis://)")]
    UnknownScheme(String),
    #[error("unknown record type {0:?} (mining, mining_session, stats)")]
    UnknownType(String),
    #[error("unknown output option {0:?} (types=; redis:// also mode=, maxlen=, db=; syslog+tls:// also ca=, cert=, key=, name=)")]
    UnknownOption(String),
    #[error("unknown redis mode {0:?} (list, lpush, channel, stream)")]
    UnknownMode(String),
    #[error("expected redis://[USER:PASSWORD@]HOST:PORT/KEY (user and password percent-encoded), got {0:?}")]
    NotRedis(String),
    #[error("syslog+tls://: cert= and key= go together")]
    HalfKeyPair,
    #[error("empty output path")]
    EmptyPath,
    #[error("expected HOST:PORT, got {0:?}")]
    NotHostPort(String),
}

/// Why the outputs could not be opened or their senders started: `LABEL: reason`.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A file could not be opened, a name not resolved, a socket or spool not opened.
    #[error("{label}: {source}")]
    Open { label: String, source: io::Error },
    /// A TCP output's sender thread could not be started.
    #[error("{label}: {source}")]
    Start { label: String, source: io::Error },
}

impl FromStr for Format {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| SpecError::UnknownFormat(s.to_string()))
    }
}

/// Where an output's records go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Stdout,
    /// A file, appended to.
    File(PathBuf),
    /// `syslog+udp://HOST:PORT`
    SyslogUdp(String),
    /// `syslog+tcp://HOST:PORT`
    SyslogTcp(String),
    /// `syslog+tls://HOST:PORT?ca=...` (RFC 5425)
    SyslogTls(TlsTarget),
    /// `redis://HOST:PORT/KEY?mode=...`
    Redis(RedisTarget),
}

/// A kind of record: `mining`, `mining_session` (alerts) or `stats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordType {
    Mining,
    MiningSession,
    Stats,
}

impl RecordType {
    pub const ALL: [RecordType; 3] = [RecordType::Mining, RecordType::MiningSession, RecordType::Stats];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Mining => "mining",
            RecordType::MiningSession => "mining_session",
            RecordType::Stats => "stats",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// The record types an output takes (`?types=mining,mining_session`), so that `stats` stay
/// out of an alerts index. Every type by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecordTypes(u8);

impl RecordTypes {
    pub const ALL: RecordTypes = RecordTypes(0b111);

    pub fn takes(self, t: RecordType) -> bool {
        self.0 & t.bit() != 0
    }
}

impl Default for RecordTypes {
    fn default() -> Self {
        RecordTypes::ALL
    }
}

impl FromStr for RecordTypes {
    type Err = SpecError;

    /// A comma-separated list of type names; at least one.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bits = 0;
        for name in s.split(',') {
            let t = RecordType::ALL
                .into_iter()
                .find(|t| t.as_str() == name)
                .ok_or_else(|| SpecError::UnknownType(name.to_string()))?;
            bits |= t.bit();
        }
        Ok(RecordTypes(bits))
    }
}

impl std::fmt::Display for RecordTypes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> =
            RecordType::ALL.into_iter().filter(|t| self.takes(*t)).map(RecordType::as_str).collect();
        f.write_str(&names.join(","))
    }
}

/// One `-o` argument: `[FORMAT:]TARGET[?types=T,...]`, where TARGET is `-` (standard output), a
/// file path, `syslog+udp://HOST:PORT`, `syslog+tcp://HOST:PORT`,
/// `syslog+tls://HOST:PORT[?ca=FILE][&cert=FILE&key=FILE][&name=NAME]` (RFC 5425) or
/// `redis://[USER:PASSWORD@]HOST:PORT/KEY[?mode=list|lpush|channel|stream][&db=N]`. Without `FORMAT:` the `--format`
/// default applies, so `-o PATH` and `-o -` mean what they always did. A file whose name starts
/// with a format name and a colon is written as `./json:name`. A `?` in a file name is kept unless
/// what follows it is `types=...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputSpec {
    pub format: Option<Format>,
    pub target: Target,
    /// The record types this output takes.
    pub types: RecordTypes,
}

impl OutputSpec {
    /// The output as the user wrote it, for messages: `[FORMAT:]TARGET`.
    pub fn label(&self) -> String {
        let t = match &self.target {
            Target::Stdout => "-".to_string(),
            Target::File(p) => p.display().to_string(),
            Target::SyslogUdp(a) => format!("syslog+udp://{a}"),
            Target::SyslogTcp(a) => format!("syslog+tcp://{a}"),
            Target::SyslogTls(t) => t.label(),
            Target::Redis(r) => r.label(),
        };
        let t = if self.types == RecordTypes::ALL {
            t
        } else {
            let sep = if t.contains('?') { '&' } else { '?' };
            format!("{t}{sep}types={}", self.types)
        };
        match self.format {
            Some(f) => format!("{}:{t}", f.as_str()),
            None => t,
        }
    }
}

impl FromStr for OutputSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (format, rest) = match s.split_once(':') {
            Some((f, rest)) if Format::ALL.iter().any(|x| x.as_str() == f) => (Some(f.parse()?), rest),
            _ => (None, s),
        };
        // A URL's query is always options; a path's only when every key is a known option, so
        // that a file name with a `?` in it still means that file.
        let is_url = rest.contains("://");
        let (rest, query) = match rest.rsplit_once('?') {
            Some((base, q))
                if is_url || q.split('&').all(|kv| kv.split_once('=').is_some_and(|(k, _)| k == "types")) =>
            {
                (base, Some(q))
            }
            _ => (rest, None),
        };
        let mut types = RecordTypes::ALL;
        let mut mode = None;
        let mut maxlen = None;
        let mut db = 0;
        let tls = rest.starts_with("syslog+tls://");
        let (mut ca, mut cert, mut key, mut name) = (None, None, None, None);
        for kv in query.into_iter().flat_map(|q| q.split('&')) {
            match kv.split_once('=') {
                Some(("types", v)) => types = v.parse()?,
                Some(("mode", v)) if rest.starts_with("redis://") => {
                    mode = Some(
                        Mode::ALL
                            .into_iter()
                            .find(|m| m.as_str() == v)
                            .ok_or_else(|| SpecError::UnknownMode(v.to_string()))?,
                    )
                }
                Some(("maxlen", v)) if rest.starts_with("redis://") => {
                    maxlen = Some(v.parse::<u64>().map_err(|_| SpecError::UnknownOption(kv.to_string()))?)
                }
                Some(("db", v)) if rest.starts_with("redis://") => {
                    db = v.parse::<u32>().map_err(|_| SpecError::UnknownOption(kv.to_string()))?
                }
                Some(("ca", v)) if tls && !v.is_empty() => ca = Some(PathBuf::from(v)),
                Some(("cert", v)) if tls && !v.is_empty() => cert = Some(PathBuf::from(v)),
                Some(("key", v)) if tls && !v.is_empty() => key = Some(PathBuf::from(v)),
                Some(("name", v)) if tls && !v.is_empty() => name = Some(v.to_string()),
                _ => return Err(SpecError::UnknownOption(kv.to_string())),
            }
        }
        let target = if rest == "-" {
            Target::Stdout
        } else if let Some(addr) = rest.strip_prefix("syslog+udp://") {
            Target::SyslogUdp(host_port(addr)?)
        } else if let Some(addr) = rest.strip_prefix("syslog+tcp://") {
            Target::SyslogTcp(host_port(addr)?)
        } else if let Some(addr) = rest.strip_prefix("syslog+tls://") {
            if cert.is_some() != key.is_some() {
                return Err(SpecError::HalfKeyPair);
            }
            Target::SyslogTls(TlsTarget { addr: host_port(addr)?, ca, cert, key, name })
        } else if let Some(url) = rest.strip_prefix("redis://") {
            // A label, never the URL, goes into the message: it may hold a password.
            let bad = || {
                let shown = match url.split_once('@') {
                    Some((_, after)) => format!("redis://***@{after}"),
                    None => rest.to_string(),
                };
                SpecError::NotRedis(shown)
            };
            let (authority, key) = url.split_once('/').ok_or_else(bad)?;
            if key.is_empty() {
                return Err(bad());
            }
            // `USER:PASSWORD@` or `:PASSWORD@`, percent-encoded as in any URL.
            let (userinfo, addr) = match authority.rsplit_once('@') {
                Some((u, a)) => (Some(u), a),
                None => (None, authority),
            };
            let decode =
                |s: &str| percent_encoding::percent_decode_str(s).decode_utf8().map(|c| c.into_owned());
            let (user, password) = match userinfo.map(|u| u.split_once(':')) {
                None => (None, None),
                Some(Some((u, p))) if !p.is_empty() => {
                    let user = decode(u).map_err(|_| bad())?;
                    (Some(user).filter(|u| !u.is_empty()), Some(decode(p).map_err(|_| bad())?))
                }
                Some(_) => return Err(bad()),
            };
            Target::Redis(RedisTarget {
                addr: host_port(addr)?,
                key: key.to_string(),
                mode: mode.unwrap_or(Mode::List),
                maxlen: maxlen.unwrap_or(redis::STREAM_MAXLEN),
                user,
                password,
                db,
            })
        } else if rest.contains("://") {
            return Err(SpecError::UnknownScheme(rest.to_string()));
        } else if rest.is_empty() {
            return Err(SpecError::EmptyPath);
        } else {
            Target::File(PathBuf::from(rest))
        };
        Ok(OutputSpec { format, target, types })
    }
}

/// Checks `HOST:PORT` (a name, an IPv4 address, or `[IPv6]`) without resolving it.
fn host_port(s: &str) -> Result<String, SpecError> {
    let bad = || SpecError::NotHostPort(s.to_string());
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 || host.contains('/') {
        return Err(bad());
    }
    Ok(s.to_string())
}

fn resolve(s: &str) -> io::Result<SocketAddr> {
    s.to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "name resolves to no address"))
}

/// What every output shares.
#[derive(Clone, Debug)]
pub struct OutputOptions {
    /// `--format`: the format of outputs that name none.
    pub default_format: Format,
    /// `--sensor-name`: carried by every record.
    pub sensor: String,
    /// `--suppress`: one `mining` alert per (miner, pool) per window.
    pub suppress: Option<Duration>,
    /// `--spool`: a directory for what TCP outputs cannot deliver; one subdirectory each.
    pub spool: Option<PathBuf>,
    /// `--spool-max-mb`, in bytes: the bound of each output's spool.
    pub spool_max_bytes: u64,
    /// `--output-queue`: records each TCP output holds in memory while its receiver is away.
    pub queue: usize,
    /// `--drain-timeout`: how long network outputs keep trying at exit.
    pub drain: Duration,
}

impl Default for OutputOptions {
    fn default() -> Self {
        OutputOptions {
            default_format: Format::Json,
            sensor: default_sensor_name(),
            suppress: None,
            spool: None,
            spool_max_bytes: 256 << 20,
            queue: 10_000,
            drain: Duration::from_secs(10),
        }
    }
}

/// The host name, or `minewatch` when it cannot be had.
pub fn default_sensor_name() -> String {
    let h = gethostname::gethostname().to_string_lossy().into_owned();
    if h.is_empty() {
        "minewatch".to_string()
    } else {
        h
    }
}

/// What one TCP output holds at a moment (see [`Outputs::load`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutputLoad {
    /// The output as given to `-o`.
    pub label: String,
    /// Records in its channel and memory queue.
    pub queued: u64,
    /// Bytes in its spool, when it has one.
    pub spool_bytes: Option<u64>,
}

enum Transport {
    /// A file or standard output; `path` is `None` for standard output.
    Writer {
        out: Box<dyn Write + Send>,
        path: Option<PathBuf>,
    },
    Udp(UdpOut),
    /// A stream output through a sender thread: syslog over TCP (`syslog: true`, each record
    /// gets a syslog header) or Redis (the record alone).
    Tcp {
        out: TcpOut,
        syslog: bool,
    },
}

struct Output {
    format: Format,
    types: RecordTypes,
    label: String,
    transport: Transport,
    /// A file that failed stays silent until it is reopened (SIGHUP).
    failed: bool,
    /// The reader of this standard output or pipe went away (`EPIPE`: `minewatch … | head`).
    /// Not an error, as for `grep` or `rg`: the output falls silent without a word, and once
    /// every output is gone the run stops ([`Outputs::readers_gone`]).
    gone: bool,
}

impl Output {
    /// Marks a failed write or flush: silent from now on; `first` keeps the first real error.
    /// A reader that went away is no error.
    fn failed_with(&mut self, e: io::Error, first: &mut io::Result<()>) {
        self.failed = true;
        if e.kind() == io::ErrorKind::BrokenPipe {
            self.gone = true;
        } else if first.is_ok() {
            *first = Err(io::Error::new(e.kind(), format!("{}: {e}", self.label)));
        }
    }
}

fn open_append(path: &Path) -> io::Result<Box<dyn Write + Send>> {
    let f = OpenOptions::new().create(true).append(true).open(path)?;
    Ok(Box::new(BufWriter::new(f)))
}

/// Every output of a run, owned by the collector thread.
pub struct Outputs {
    outs: Vec<Output>,
    sensor: String,
    syslog: syslog::Header,
    suppress: Option<Suppressor>,
    /// Counters kept here (suppression); network outputs keep theirs in [`net::NetCounters`].
    own: Counters,
    /// One formatted record per format, reused.
    bufs: [Vec<u8>; 4],
    drain: Duration,
    /// Consulted once per record, in the output thread (workers never touch it).
    watchlist: std::sync::Arc<Watchlist>,
}

/// The collector's name for its outputs.
pub type Sink = Outputs;

impl Outputs {
    /// One JSON output: `-` for standard output, else a file (appended). The sensor name is the
    /// host name.
    pub fn open(path: &str) -> io::Result<Outputs> {
        let spec: OutputSpec =
            path.parse().map_err(|e: SpecError| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Outputs::build(&[spec], &OutputOptions::default()).map_err(io::Error::other)
    }

    /// Opens every output and starts the TCP senders: [`Outputs::prepare`] then
    /// [`Outputs::start`].
    pub fn build(specs: &[OutputSpec], opts: &OutputOptions) -> Result<Outputs, OutputError> {
        let mut o = Outputs::prepare(specs, opts)?;
        o.start()?;
        Ok(o)
    }

    /// Starts the sender thread of every TCP output not started yet. Separate from opening so
    /// that the threads are started after the privilege drop, holding no capability.
    pub fn start(&mut self) -> Result<(), OutputError> {
        for o in &mut self.outs {
            if let Transport::Tcp { out: t, .. } = &mut o.transport {
                t.start().map_err(|source| OutputError::Start { label: o.label.clone(), source })?;
            }
        }
        Ok(())
    }

    /// Opens every output: files are created, names resolved, spools opened; no thread is
    /// started ([`Outputs::start`]). The first failure is returned as `LABEL: reason`.
    pub fn prepare(specs: &[OutputSpec], opts: &OutputOptions) -> Result<Outputs, OutputError> {
        let mut outs = Vec::new();
        for spec in specs {
            let label = spec.label();
            let format = spec.format.unwrap_or(opts.default_format);
            let err = |source: io::Error| OutputError::Open { label: label.clone(), source };
            let transport = match &spec.target {
                Target::Stdout => {
                    Transport::Writer { out: Box::new(BufWriter::new(io::stdout())), path: None }
                }
                Target::File(p) => {
                    Transport::Writer { out: open_append(p).map_err(err)?, path: Some(p.clone()) }
                }
                Target::SyslogUdp(a) => Transport::Udp(UdpOut::open(resolve(a).map_err(err)?).map_err(err)?),
                Target::SyslogTcp(a) => {
                    let addr = resolve(a).map_err(err)?;
                    let name =
                        OutputSpec { format: Some(format), target: spec.target.clone(), types: spec.types }
                            .label();
                    let spool = opts.spool.as_ref().map(|d| (net::spool_dir(d, &name), opts.spool_max_bytes));
                    let t = TcpOptions { queue: opts.queue, spool, drain: opts.drain };
                    Transport::Tcp { out: TcpOut::prepare(addr, &t).map_err(err)?, syslog: true }
                }
                Target::SyslogTls(tt) => {
                    let addr = resolve(&tt.addr).map_err(err)?;
                    // The spool is named by the receiver's address alone: another CA file or
                    // name for the same receiver keeps its records.
                    let plain = Target::SyslogTls(TlsTarget {
                        addr: tt.addr.clone(),
                        ca: None,
                        cert: None,
                        key: None,
                        name: None,
                    });
                    let name = OutputSpec { format: Some(format), target: plain, types: spec.types }.label();
                    let spool = opts.spool.as_ref().map(|d| (net::spool_dir(d, &name), opts.spool_max_bytes));
                    let t = TcpOptions { queue: opts.queue, spool, drain: opts.drain };
                    let link = TlsLink::new(addr, tt, label.clone()).map_err(|e| err(io::Error::other(e)))?;
                    Transport::Tcp {
                        out: TcpOut::prepare_link(Box::new(link), "minewatch-syslog-tls", &t).map_err(err)?,
                        syslog: true,
                    }
                }
                Target::Redis(r) => {
                    let addr = resolve(&r.addr).map_err(err)?;
                    let name =
                        OutputSpec { format: Some(format), target: spec.target.clone(), types: spec.types }
                            .label();
                    let spool = opts.spool.as_ref().map(|d| (net::spool_dir(d, &name), opts.spool_max_bytes));
                    let t = TcpOptions { queue: opts.queue, spool, drain: opts.drain };
                    let link = Box::new(RedisLink::new(addr, r.clone()));
                    Transport::Tcp {
                        out: TcpOut::prepare_link(link, "minewatch-redis", &t).map_err(err)?,
                        syslog: false,
                    }
                }
            };
            outs.push(Output { format, types: spec.types, label, transport, failed: false, gone: false });
        }
        Ok(Outputs {
            outs,
            sensor: opts.sensor.clone(),
            syslog: syslog::Header::new(&opts.sensor),
            suppress: opts.suppress.map(Suppressor::new),
            own: Counters::default(),
            bufs: Default::default(),
            drain: opts.drain,
            watchlist: Default::default(),
        })
    }

    /// One output over any writer (tests, benchmarks).
    pub fn from_writer(w: Box<dyn Write + Send>) -> Outputs {
        Outputs::from_writer_with(w, Format::Json, "minewatch")
    }

    pub fn from_writer_with(w: Box<dyn Write + Send>, format: Format, sensor: &str) -> Outputs {
        Outputs {
            outs: vec![Output {
                format,
                types: RecordTypes::ALL,
                label: format!("{}:writer", format.as_str()),
                transport: Transport::Writer { out: w, path: None },
                failed: false,
                gone: false,
            }],
            sensor: sensor.to_string(),
            syslog: syslog::Header::new(sensor),
            suppress: None,
            own: Counters::default(),
            bufs: Default::default(),
            drain: Duration::from_secs(10),
            watchlist: Default::default(),
        }
    }

    /// Records written from now on are checked against `watchlist` instead (a reload).
    pub fn set_watchlist(&mut self, watchlist: std::sync::Arc<Watchlist>) {
        self.watchlist = watchlist;
    }

    /// The watchlist's label for `ev`'s wallet (`Some("")` for an entry without one), as the
    /// records written for it carry: for the report, which shows what the outputs showed.
    pub fn watch_label(&self, ev: &Event) -> Option<String> {
        self.watchlist.lookup(ev.facts.login.as_deref(), ev.facts.wallet.as_deref()).map(str::to_string)
    }

    /// Records whose login holds an address on `watchlist` get a raised severity and its label.
    pub fn with_watchlist(mut self, watchlist: std::sync::Arc<Watchlist>) -> Outputs {
        self.watchlist = watchlist;
        self
    }

    /// After log rotation (SIGHUP): flush, then open every file anew; a failed file gets another
    /// chance. Standard output and network outputs stay as they are.
    pub fn reopen(&mut self) -> io::Result<()> {
        let mut first = Ok(());
        for o in &mut self.outs {
            if let Transport::Writer { out, path: Some(p) } = &mut o.transport {
                let _ = out.flush();
                match open_append(p) {
                    Ok(w) => {
                        *out = w;
                        o.failed = false;
                        o.gone = false;
                    }
                    Err(e) => {
                        o.failed = true;
                        if first.is_ok() {
                            first = Err(io::Error::new(e.kind(), format!("{}: {e}", o.label)));
                        }
                    }
                }
            }
        }
        first
    }

    /// Formats the record once per format in use, then hands it to every output. An `Err` names
    /// the output that failed (a file: disk full, closed pipe); the other outputs still got it.
    fn emit(
        &mut self,
        fill: impl Fn(Format, &mut Vec<u8>),
        severity: syslog::Severity,
        ts: Ts,
        kind: RecordType,
    ) -> io::Result<()> {
        let msgid = kind.as_str();
        for b in &mut self.bufs {
            b.clear();
        }
        let mut first = Ok(());
        let mut msg = Vec::new();
        for o in &mut self.outs {
            if !o.types.takes(kind) {
                continue;
            }
            let Some(buf) = self.bufs.get_mut(o.format.index()) else { continue };
            if buf.is_empty() {
                fill(o.format, buf);
            }
            match &mut o.transport {
                Transport::Writer { out, .. } => {
                    if o.failed {
                        continue;
                    }
                    let r = out.write_all(buf).and_then(|()| out.write_all(b"\n"));
                    if let Err(e) = r {
                        o.failed_with(e, &mut first);
                    }
                }
                Transport::Udp(u) => {
                    msg.clear();
                    self.syslog.message(severity, ts, msgid, buf, &mut msg);
                    u.send(&msg);
                }
                Transport::Tcp { out, syslog: true } => {
                    let mut m = Vec::with_capacity(buf.len() + 96);
                    self.syslog.message(severity, ts, msgid, buf, &mut m);
                    out.send(m);
                }
                Transport::Tcp { out, syslog: false } => out.send(buf.clone()),
            }
        }
        first
    }

    /// Writes one alert record to every output, unless `--suppress` holds it back.
    pub fn write(&mut self, ev: &Event) -> io::Result<()> {
        if ev.kind == EventKind::Mining {
            if let Some(s) = self.suppress.as_mut() {
                match s.check(ev.client.ip(), ev.pool, ev.ts) {
                    Decision::Pass => {}
                    Decision::Suppress => {
                        self.own.alerts_suppressed += 1;
                        return Ok(());
                    }
                    Decision::PassTableFull => self.own.suppress_table_full += 1,
                }
            }
        }
        let sensor = std::mem::take(&mut self.sensor);
        let severity = match ev.kind {
            EventKind::Mining => syslog::Severity::Warning,
            EventKind::MiningSession => syslog::Severity::Notice,
        };
        let wl = self.watchlist.clone();
        let watch = wl.lookup(ev.facts.login.as_deref(), ev.facts.wallet.as_deref());
        let kind = match ev.kind {
            EventKind::Mining => RecordType::Mining,
            EventKind::MiningSession => RecordType::MiningSession,
        };
        let r = self.emit(|f, b| f.format_watched(ev, &sensor, watch, b), severity, ev.ts, kind);
        self.sensor = sensor;
        r
    }

    /// Writes one `stats` record to every output.
    pub fn write_stats(&mut self, rec: &StatsRecord) -> io::Result<()> {
        let sensor = std::mem::take(&mut self.sensor);
        let r = self.emit(
            |f, b| f.format_stats(rec, &sensor, b),
            syslog::Severity::Info,
            rec.ts,
            RecordType::Stats,
        );
        self.sensor = sensor;
        r
    }

    pub fn flush(&mut self) -> io::Result<()> {
        let mut first = Ok(());
        for o in &mut self.outs {
            if let Transport::Writer { out, .. } = &mut o.transport {
                if o.failed {
                    continue;
                }
                if let Err(e) = out.flush() {
                    o.failed_with(e, &mut first);
                }
            }
        }
        first
    }

    /// Whether every output's reader went away (`EPIPE`), so that nothing the run finds can be
    /// written anywhere: the collector then stops the run, as `grep` stops when `head` has had
    /// enough. Network outputs never go away (they reconnect or spool).
    pub fn readers_gone(&self) -> bool {
        !self.outs.is_empty() && self.outs.iter().all(|o| o.gone)
    }

    /// The output-side counters: suppression, and every network output's delivery counters.
    pub fn counters(&self) -> Counters {
        let mut c = self.own;
        for o in &self.outs {
            match &o.transport {
                Transport::Udp(u) => u.counters.add_to(&mut c),
                Transport::Tcp { out: t, .. } => t.counters.add_to(&mut c),
                Transport::Writer { .. } => {}
            }
        }
        c
    }

    /// What each TCP output holds now, for the metrics endpoint's gauges, labelled with the
    /// output as the operator wrote it (`-o`), never with anything from the wire.
    pub fn load(&self) -> Vec<OutputLoad> {
        self.outs
            .iter()
            .filter_map(|o| match &o.transport {
                Transport::Tcp { out: t, .. } => Some(OutputLoad {
                    label: o.label.clone(),
                    queued: t.counters.queued(),
                    spool_bytes: t.spooled.then(|| t.counters.spool_bytes.load(Ordering::Relaxed)),
                }),
                _ => None,
            })
            .collect()
    }

    /// Before the last `stats` record: waits (at most the drain timeout) until every TCP output
    /// has delivered what it holds in memory, or has found its receiver away, so that the
    /// record's delivery counters are as final as they can be.
    pub fn settle(&self) {
        let deadline = Instant::now() + self.drain;
        loop {
            let busy =
                self.outs.iter().any(|o| matches!(&o.transport, Transport::Tcp { out: t, .. } if t.busy()));
            if !busy || Instant::now() >= deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Ends every output: flushes files, lets each TCP sender deliver within the drain timeout
    /// and spool or count the rest.
    pub fn close(&mut self) {
        let _ = self.flush();
        for o in &mut self.outs {
            if let Transport::Tcp { out: t, .. } = &mut o.transport {
                t.close();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_syntax() {
        let p = |s: &str| s.parse::<OutputSpec>();
        assert_eq!(
            p("-").unwrap(),
            OutputSpec { format: None, target: Target::Stdout, types: RecordTypes::ALL }
        );
        assert_eq!(p("x.json").unwrap().target, Target::File("x.json".into()));
        assert_eq!(p("/var/log/mw.json").unwrap().target, Target::File("/var/log/mw.json".into()));
        let s = p("cef:syslog+tcp://127.0.0.1:6514").unwrap();
        assert_eq!(s.format, Some(Format::Cef));
        assert_eq!(s.target, Target::SyslogTcp("127.0.0.1:6514".into()));
        assert_eq!(p("ecs:-").unwrap().format, Some(Format::Ecs));
        assert_eq!(p("eve:/a/b").unwrap().target, Target::File("/a/b".into()));
        assert_eq!(p("syslog+udp://[::1]:514").unwrap().target, Target::SyslogUdp("[::1]:514".into()));
        assert_eq!(p("./json:x").unwrap().target, Target::File("./json:x".into()));
        assert!(p("syslog://h:1").is_err());
        assert!(p("syslog+tcp://nohost").is_err());
        assert!(p("syslog+tcp://h:0").is_err());
        assert!(p("json:").is_err());
        assert_eq!(s.label(), "cef:syslog+tcp://127.0.0.1:6514");
        assert_eq!(p("x.json").unwrap().label(), "x.json");
    }

    #[test]
    fn syslog_tls_syntax() {
        let p = |s: &str| s.parse::<OutputSpec>();
        let s = p(
            "cef:syslog+tls://logs.example:6514?ca=/etc/ca.pem&cert=/c.pem&key=/k.pem&name=siem&types=mining",
        )
        .unwrap();
        let Target::SyslogTls(t) = &s.target else { panic!("{s:?}") };
        assert_eq!(t.addr, "logs.example:6514");
        assert_eq!(t.ca.as_deref(), Some(Path::new("/etc/ca.pem")));
        assert_eq!(t.cert.as_deref(), Some(Path::new("/c.pem")));
        assert_eq!(t.key.as_deref(), Some(Path::new("/k.pem")));
        assert_eq!(t.name.as_deref(), Some("siem"));
        assert_eq!(s.types, "mining".parse().unwrap());
        assert_eq!(
            s.label(),
            "cef:syslog+tls://logs.example:6514?ca=/etc/ca.pem&cert=/c.pem&key=/k.pem&name=siem&types=mining"
        );
        let Target::SyslogTls(t) = p("syslog+tls://[::1]:6514").unwrap().target else { panic!() };
        assert_eq!((t.ca, t.cert, t.key, t.name), (None, None, None, None));
        assert_eq!(p("syslog+tls://h:1?cert=/c.pem"), Err(SpecError::HalfKeyPair));
        assert_eq!(p("syslog+tls://h:1?key=/k.pem"), Err(SpecError::HalfKeyPair));
        assert!(matches!(p("syslog+tls://h:1?ca="), Err(SpecError::UnknownOption(_))));
        assert!(matches!(p("syslog+tcp://h:1?ca=/x"), Err(SpecError::UnknownOption(_))));
        assert!(matches!(p("syslog+tls://h:1?mode=list"), Err(SpecError::UnknownOption(_))));
        assert!(p("syslog+tls://nohost").is_err());
    }

    #[test]
    fn redis_and_types_syntax() {
        let p = |s: &str| s.parse::<OutputSpec>();
        let r = p("eve:redis://127.0.0.1:6379/suricata?mode=stream&types=mining").unwrap();
        assert_eq!(r.format, Some(Format::Eve));
        let Target::Redis(t) = &r.target else { panic!("{r:?}") };
        assert_eq!((t.addr.as_str(), t.key.as_str(), t.mode), ("127.0.0.1:6379", "suricata", Mode::Stream));
        assert_eq!(t.maxlen, redis::STREAM_MAXLEN);
        assert!(r.types.takes(RecordType::Mining) && !r.types.takes(RecordType::Stats));
        assert_eq!(r.label(), "eve:redis://127.0.0.1:6379/suricata?mode=stream&types=mining");
        let Target::Redis(t) = p("redis://h:1/k").unwrap().target else { panic!() };
        assert_eq!(t.mode, Mode::List, "list by default, as Suricata");
        let Target::Redis(t) = p("redis://h:1/k?mode=stream&maxlen=0").unwrap().target else { panic!() };
        assert_eq!(t.maxlen, 0);
        let f = p("json:/var/log/a.json?types=mining,mining_session").unwrap();
        assert_eq!(f.target, Target::File("/var/log/a.json".into()));
        assert_eq!(f.label(), "json:/var/log/a.json?types=mining,mining_session");
        let s = p("syslog+tcp://h:1?types=stats").unwrap();
        assert_eq!(s.target, Target::SyslogTcp("h:1".into()));
        assert_eq!(s.types.to_string(), "stats");
        // A `?` in a file name that is no option stays in the name.
        assert_eq!(p("odd?name.json").unwrap().target, Target::File("odd?name.json".into()));
        assert_eq!(p("x.json").unwrap().types, RecordTypes::ALL);
        assert_eq!(p("a?types=mining,nope"), Err(SpecError::UnknownType("nope".into())));
        assert!(p("redis://h:1/").is_err());
        assert!(p("redis://h/k").is_err());
        assert!(p("redis://h:1/k?mode=x").is_err());
        assert!(p("redis://h:1/k?maxlen=-1").is_err());
        assert!(p("redis://h:1/k?db=x").is_err());
    }

    #[test]
    fn redis_auth_and_db_syntax() {
        let p = |s: &str| s.parse::<OutputSpec>();
        let r = p("eve:redis://sensor:p%40ss%2Fw%3Ard@127.0.0.1:6379/alerts?db=3&types=mining").unwrap();
        let Target::Redis(t) = &r.target else { panic!("{r:?}") };
        assert_eq!((t.user.as_deref(), t.password.as_deref()), (Some("sensor"), Some("p@ss/w:rd")));
        assert_eq!((t.addr.as_str(), t.key.as_str(), t.db), ("127.0.0.1:6379", "alerts", 3));
        // The password shows nowhere: label (messages, metrics, spool names) and Debug.
        assert_eq!(r.label(), "eve:redis://sensor:***@127.0.0.1:6379/alerts?mode=list&db=3&types=mining");
        assert!(!format!("{r:?}").contains("p@ss"), "{r:?}");
        let Target::Redis(t) = p("redis://:s3cret@h:1/k").unwrap().target else { panic!() };
        assert_eq!((t.user, t.password.as_deref(), t.db), (None, Some("s3cret"), 0));
        assert_eq!(p("redis://:s3cret@h:1/k").unwrap().label(), "redis://:***@h:1/k?mode=list");
        // A user without a password, or an empty one, is refused, and the message hides it.
        for bad in ["redis://sensor@h:1/k", "redis://sensor:@h:1/k", "redis://u:%ff@h:1/k"] {
            let e = p(bad).unwrap_err().to_string();
            assert!(e.contains("USER:PASSWORD@") && !e.contains("sensor") && !e.contains("%ff"), "{e}");
        }
    }

    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().map_err(|_| io::Error::other("poisoned"))?.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A writer whose every write fails with `kind`.
    struct Failing(io::ErrorKind);
    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(self.0))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from(self.0))
        }
    }

    #[test]
    fn a_reader_that_went_away_is_no_error_and_ends_the_outputs() {
        let ev = json::tests::event(EventKind::Mining, "w");
        let mut o = Outputs::from_writer(Box::new(Failing(io::ErrorKind::BrokenPipe)));
        assert!(!o.readers_gone());
        assert!(o.write(&ev).is_ok());
        assert!(o.flush().is_ok());
        assert!(o.readers_gone());
        // Any other failure is an error, and the run goes on (the output is not "gone").
        let mut o = Outputs::from_writer(Box::new(Failing(io::ErrorKind::StorageFull)));
        assert!(o.write(&ev).is_err());
        assert!(!o.readers_gone());
        // One output still read: not over.
        let dir = tempfile::tempdir().unwrap();
        let specs = [
            OutputSpec {
                format: None,
                target: Target::File(dir.path().join("a.json")),
                types: RecordTypes::ALL,
            },
            OutputSpec {
                format: None,
                target: Target::File(dir.path().join("b.json")),
                types: RecordTypes::ALL,
            },
        ];
        let mut o = Outputs::build(&specs, &OutputOptions::default()).unwrap();
        if let Some(Transport::Writer { out, .. }) = o.outs.get_mut(0).map(|o| &mut o.transport) {
            *out = Box::new(Failing(io::ErrorKind::BrokenPipe));
        }
        assert!(o.write(&ev).is_ok());
        assert!(!o.readers_gone());
    }

    #[test]
    fn reopen_follows_log_rotation_and_every_record_is_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let specs = [
            OutputSpec {
                format: Some(Format::Cef),
                target: Target::File(path.clone()),
                types: RecordTypes::ALL,
            },
            OutputSpec {
                format: None,
                target: Target::File(dir.path().join("b.json")),
                types: RecordTypes::ALL,
            },
        ];
        let opts = OutputOptions { sensor: "s".into(), ..OutputOptions::default() };
        let mut o = Outputs::build(&specs, &opts).unwrap();
        o.write(&json::tests::event(EventKind::Mining, "one\nline")).unwrap();
        o.flush().unwrap();
        std::fs::rename(&path, dir.path().join("a.log.1")).unwrap();
        o.reopen().unwrap();
        o.write(&json::tests::event(EventKind::MiningSession, "two")).unwrap();
        o.close();
        let old = std::fs::read_to_string(dir.path().join("a.log.1")).unwrap();
        let new = std::fs::read_to_string(&path).unwrap();
        assert_eq!(old.lines().count(), 1);
        assert!(old.starts_with("CEF:0|") && old.contains("suser=one\\nline"), "{old}");
        assert_eq!(new.lines().count(), 1);
        assert!(new.contains("|mining_session|"));
        let json = std::fs::read_to_string(dir.path().join("b.json")).unwrap();
        assert_eq!(json.lines().count(), 2);
    }

    #[test]
    fn watchlist_raises_severity_in_every_format() {
        let wl: Watchlist = "4Awallet\tIR-117\n".parse().unwrap();
        let ev = json::tests::event(EventKind::Mining, "4Awallet");
        let out = |f: Format| {
            let mut b = Vec::new();
            f.format_with(&ev, "s", &wl, &mut b);
            String::from_utf8(b).unwrap()
        };
        let v: serde_json::Value = serde_json::from_str(&out(Format::Json)).unwrap();
        assert_eq!((v["severity"].as_u64(), v["watchlist_label"].as_str()), (Some(1), Some("IR-117")));
        let v: serde_json::Value = serde_json::from_str(&out(Format::Eve)).unwrap();
        assert_eq!(
            (v["alert"]["severity"].as_u64(), &v["alert"]["metadata"]["watchlist_label"]),
            (Some(1), &serde_json::json!(["IR-117"]))
        );
        let v: serde_json::Value = serde_json::from_str(&out(Format::Ecs)).unwrap();
        assert_eq!(v["event"]["severity"], 99);
        assert_eq!(v["minewatch"]["watchlist_label"], "IR-117");
        let cef = out(Format::Cef);
        assert!(cef.contains("|10|") && cef.contains(" msg=watchlisted wallet: IR-117"), "{cef}");
    }

    #[test]
    fn suppression_counts_and_keeps_sessions() {
        let w = Shared::default();
        let mut o = Outputs::from_writer_with(Box::new(w.clone()), Format::Json, "s1");
        o.suppress = Some(Suppressor::new(Duration::from_secs(600)));
        let mut ev = json::tests::event(EventKind::Mining, "w");
        o.write(&ev).unwrap();
        ev.flow_id = 8;
        ev.ts = Ts(ev.ts.0 + 1_000_000);
        o.write(&ev).unwrap();
        o.write(&json::tests::event(EventKind::MiningSession, "w")).unwrap();
        o.flush().unwrap();
        let text = String::from_utf8(w.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains("\"event_type\":\"mining\"") && lines[0].contains("\"sensor\":\"s1\""));
        assert!(lines[1].contains("mining_session"));
        assert_eq!(o.counters().alerts_suppressed, 1);
    }
}
