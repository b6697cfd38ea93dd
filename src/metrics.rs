//! The Prometheus endpoint (`--metrics ADDR:PORT`): every counter, the kernel's capture drops
//! per interface, gauges of what the sensor holds (flows and their memory, queues, spools), the
//! mining hosts, the process itself (memory, CPU, descriptors) and the build.
//!
//! The numbers are the collector's: it owns the counters summed over every thread and, each
//! time a reporter sends its counters (about once a second per thread on a live capture, never
//! per packet) and every half second besides, publishes a copy into [`Published`]. A scrape
//! reads that copy, the host table and `/proc/self`; it never touches a worker.
//!
//! No label carries a string from the wire: labels are addresses, fixed words, and names the
//! operator wrote (interfaces, `-o` targets). A login or a TLS server name can be anything an
//! attacker likes (a fake exposition line, a million distinct values); they are in the alerts.
//!
//! The HTTP side is a std `TcpListener`: an accepting thread hands each connection to one of
//! [`MAX_CONNECTIONS`] serving threads; a connection over that bound is closed at once (with a
//! best-effort `503`) and counted. Each connection has one whole [`DEADLINE`] from its accept for
//! reading the request and writing the answer: the socket timeouts are set to the time left
//! before every read and every write, so a client that trickles a byte now and then (or reads
//! the answer that slowly) is cut off at the deadline rather than holding a thread for as long
//! as it keeps trickling. Why not a crate: `tiny_http` has timeouts per read, not per request,
//! which is the very hole this closes, and hyper or axum would bring an async runtime into a
//! program that has none, for one page read every few seconds.

use std::fmt::Write as _;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver};

use crate::hosts::{HostEntry, HostTable};
use crate::output::OutputLoad;
use crate::stats::{Counters, KernelStats, Load};

/// Hosts given their own series; more are counted in `minewatch_mining_hosts` only. This is
/// the bound on the endpoint's cardinality.
pub const MAX_HOST_SERIES: usize = 1000;
/// Bytes of a request read before answering; a scrape request is a few hundred.
const MAX_REQUEST: usize = 8192;
/// How long one connection may take, from its accept to the last byte of the answer. A scrape
/// of a sensor on the same host or network takes milliseconds; Prometheus' default scrape
/// timeout is 10 s, so a scraper never waits on us past its own limit.
pub const DEADLINE: Duration = Duration::from_secs(5);
/// Connections served at once; more are closed at once. A few scrapers (two Prometheus
/// replicas, an operator's curl) fit; a flood of idle connections costs at most this many
/// threads for at most [`DEADLINE`] each.
pub const MAX_CONNECTIONS: usize = 4;
/// Longest label value kept (interface names and output targets, which the operator wrote).
const MAX_LABEL: usize = 128;

/// What the collector publishes for the endpoint: its latest totals and gauges.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub counters: Counters,
    /// Kernel capture counters, by interface.
    pub kernel: Vec<(String, KernelStats)>,
    /// Flows, their memory and cap, and the workers' queues, summed over the reporters.
    pub load: Load,
    /// Records waiting in the collector's queue.
    pub records_queue: u64,
    /// Each TCP output's queue and spool.
    pub outputs: Vec<OutputLoad>,
}

/// The collector's latest totals, shared with the endpoint.
#[derive(Debug, Default)]
pub struct Published {
    inner: Mutex<Snapshot>,
}

impl Published {
    pub fn new() -> Arc<Published> {
        Arc::new(Published::default())
    }

    /// Replaces the totals (called by the collector).
    pub fn publish(&self, snapshot: Snapshot) {
        if let Ok(mut g) = self.inner.lock() {
            *g = snapshot;
        }
    }

    /// A copy of the totals.
    pub fn get(&self) -> Snapshot {
        self.inner.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

/// The endpoint's own counters.
#[derive(Debug, Default)]
struct Served {
    requests: AtomicU64,
    rejected: AtomicU64,
    timed_out: AtomicU64,
}

/// Escapes a label value (backslash, quote, newline) and caps its length.
fn label(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_LABEL) + 2);
    for ch in s.chars().take(MAX_LABEL) {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The text exposition format (version 0.0.4), written one family at a time so that every
/// family gets its `# HELP` and `# TYPE` before its samples.
struct Exposition {
    s: String,
}

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
}

impl Exposition {
    /// Starts a family. Help text is one line: spaces collapse, and `\` is escaped.
    fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ").replace('\\', "\\\\");
        let _ = writeln!(self.s, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// One sample; label values are escaped here.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.s.push_str(name);
        if !labels.is_empty() {
            self.s.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.s.push(',');
                }
                let _ = write!(self.s, "{k}=\"{}\"", label(v));
            }
            self.s.push('}');
        }
        let _ = writeln!(self.s, " {value}");
    }

    /// A family of one sample without labels.
    fn single(&mut self, name: &str, kind: Kind, help: &str, value: impl std::fmt::Display) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

/// The exposition of the totals, the hosts (`host_count` of them in all; series for the first
/// [`MAX_HOST_SERIES`] of `hosts`) and the endpoint's own counters.
fn render_all(snap: &Snapshot, hosts: &[HostEntry], host_count: usize, served: &Served) -> String {
    let mut e = Exposition { s: String::with_capacity(16384) };
    e.family(
        "minewatch_build_info",
        Kind::Gauge,
        "The running minewatch: its version, as a label; always 1.",
    );
    e.sample("minewatch_build_info", &[("version", env!("CARGO_PKG_VERSION"))], 1);
    for (name, help, value) in snap.counters.described() {
        let name = format!("minewatch_{name}_total");
        e.single(&name, Kind::Counter, help, value);
    }
    type Series = (&'static str, &'static str, fn(&KernelStats) -> u64);
    let kernel_series: [Series; 3] = [
        ("capture_received", "Frames the kernel handed to the capture.", |k| k.received),
        ("capture_kernel_dropped", "Frames dropped because the capture buffer was full.", |k| k.dropped),
        ("capture_interface_dropped", "Frames dropped by the interface or its driver.", |k| k.if_dropped),
    ];
    for (name, help, get) in kernel_series {
        let name = format!("minewatch_{name}_total");
        e.family(&name, Kind::Counter, help);
        for (iface, k) in &snap.kernel {
            e.sample(&name, &[("interface", iface)], get(k));
        }
    }
    let load = &snap.load;
    e.single("minewatch_flows_active", Kind::Gauge, "Flows in the flow tables.", load.flows);
    e.single(
        "minewatch_flow_memory_bytes",
        Kind::Gauge,
        "The flow tables' memory estimate (flows, out-of-order and line buffers).",
        load.flow_memory,
    );
    e.single(
        "minewatch_flow_memcap_bytes",
        Kind::Gauge,
        "The flow tables' memory cap (--memcap); flows are evicted above it.",
        load.flow_memcap,
    );
    e.family(
        "minewatch_queue_depth",
        Kind::Gauge,
        "Items waiting in a queue: records for the output thread, frame batches for the workers \
         (live capture with one reader), records held by each TCP output (by its -o target).",
    );
    e.sample("minewatch_queue_depth", &[("queue", "records")], snap.records_queue);
    e.sample("minewatch_queue_depth", &[("queue", "workers")], load.worker_queue);
    for o in &snap.outputs {
        e.sample("minewatch_queue_depth", &[("queue", &o.label)], o.queued);
    }
    e.family(
        "minewatch_spool_bytes",
        Kind::Gauge,
        "Bytes in a TCP output's spool on disk (by its -o target).",
    );
    for o in &snap.outputs {
        if let Some(bytes) = o.spool_bytes {
            e.sample("minewatch_spool_bytes", &[("output", &o.label)], bytes);
        }
    }
    e.single("minewatch_mining_hosts", Kind::Gauge, "Internal hosts seen mining.", host_count);
    e.family(
        "minewatch_mining_host_info",
        Kind::Gauge,
        &format!(
            "One series per mining host (at most {MAX_HOST_SERIES}): its address, its first pool's \
             address and its dialect; logins are in the alerts."
        ),
    );
    let shown = hosts.get(..MAX_HOST_SERIES.min(hosts.len())).unwrap_or_default();
    for h in shown {
        let pool = h.pools.first().map(|p| p.to_string()).unwrap_or_default();
        let variant = h.variants.first().map(|v| v.as_str()).unwrap_or("");
        e.sample(
            "minewatch_mining_host_info",
            &[("host", &h.ip.to_string()), ("pool", &pool), ("variant", variant)],
            1,
        );
    }
    e.family(
        "minewatch_mining_host_shares_accepted_total",
        Kind::Counter,
        "Shares the pool accepted, per mining host, over its ended sessions.",
    );
    for h in shown {
        e.sample(
            "minewatch_mining_host_shares_accepted_total",
            &[("host", &h.ip.to_string())],
            h.shares_accepted,
        );
    }
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    e.single(
        "minewatch_metrics_requests_total",
        Kind::Counter,
        "Connections to this endpoint that were served (this one included).",
        get(&served.requests),
    );
    e.single(
        "minewatch_metrics_requests_rejected_total",
        Kind::Counter,
        &format!("Connections to this endpoint closed at once: {MAX_CONNECTIONS} were already being served."),
        get(&served.rejected),
    );
    e.single(
        "minewatch_metrics_requests_timed_out_total",
        Kind::Counter,
        &format!(
            "Connections to this endpoint cut off at the deadline ({} s from accept).",
            DEADLINE.as_secs()
        ),
        get(&served.timed_out),
    );
    process(&mut e);
    e.s
}

/// Prometheus' standard process metrics, from `/proc/self` through the `procfs` crate (the one
/// the Prometheus Rust client's process collector uses): it knows the field layout of `stat`
/// and `limits` and the clock tick and page size. A figure that cannot be read is left out.
#[cfg(target_os = "linux")]
fn process(e: &mut Exposition) {
    let Ok(me) = procfs::process::Process::myself() else { return };
    if let Ok(stat) = me.stat() {
        let ticks = procfs::ticks_per_second().max(1) as f64;
        e.single(
            "process_cpu_seconds_total",
            Kind::Counter,
            "Total user and system CPU time spent in seconds.",
            (stat.utime + stat.stime) as f64 / ticks,
        );
        e.single(
            "process_resident_memory_bytes",
            Kind::Gauge,
            "Resident memory size in bytes.",
            stat.rss.saturating_mul(procfs::page_size()),
        );
        e.single("process_virtual_memory_bytes", Kind::Gauge, "Virtual memory size in bytes.", stat.vsize);
        if let Ok(boot) = procfs::boot_time_secs() {
            e.single(
                "process_start_time_seconds",
                Kind::Gauge,
                "Start time of the process since unix epoch in seconds.",
                boot as f64 + stat.starttime as f64 / ticks,
            );
        }
    }
    if let Ok(n) = me.fd_count() {
        e.single("process_open_fds", Kind::Gauge, "Number of open file descriptors.", n);
    }
    if let Ok(limits) = me.limits() {
        if let procfs::process::LimitValue::Value(max) = limits.max_open_files.soft_limit {
            e.single("process_max_fds", Kind::Gauge, "Maximum number of open file descriptors.", max);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn process(_: &mut Exposition) {}

/// The exposition of the totals and the hosts, as a scrape sees it (without the endpoint's own
/// counters, which only a running endpoint has).
pub fn render(snap: &Snapshot, hosts: &[HostEntry], host_count: usize) -> String {
    render_all(snap, hosts, host_count, &Served::default())
}

/// What the serving threads share.
struct Shared {
    published: Arc<Published>,
    hosts: Arc<HostTable>,
    served: Served,
    /// Connections accepted and not yet closed.
    active: AtomicUsize,
}

/// Binds the endpoint (before privileges are dropped, so a low port works) and serves it for the
/// rest of the process: an accepting thread and [`MAX_CONNECTIONS`] serving threads. Returns the
/// bound address (port 0 picks one).
/// The endpoint's socket, bound but not yet served: [`bind`] runs before privileges are
/// dropped (so a port below 1024 works) and [`Endpoint::serve`] after, so that the thread that
/// reads requests from the network never holds a capability (capabilities belong to threads).
pub struct Endpoint {
    listener: TcpListener,
}

/// Binds the endpoint; see [`Endpoint`].
pub fn bind(addr: SocketAddr) -> std::io::Result<Endpoint> {
    Ok(Endpoint { listener: TcpListener::bind(addr)? })
}

impl Endpoint {
    /// The bound address (port 0 picks one).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves the endpoint for the rest of the process: an accepting thread and
    /// [`MAX_CONNECTIONS`] serving threads.
    pub fn serve(self, published: Arc<Published>, hosts: Arc<HostTable>) -> std::io::Result<()> {
        let listener = self.listener;
        let shared =
            Arc::new(Shared { published, hosts, served: Served::default(), active: AtomicUsize::new(0) });
        // Never full: `active` admits at most MAX_CONNECTIONS, and each is in here or being served.
        let (tx, rx) = bounded::<(TcpStream, Instant)>(MAX_CONNECTIONS);
        for i in 0..MAX_CONNECTIONS {
            let (rx, shared) = (rx.clone(), shared.clone());
            std::thread::Builder::new()
                .name(format!("metrics-{i}"))
                .spawn(move || serve_from(&rx, &shared))?;
        }
        std::thread::Builder::new().name("metrics".into()).spawn(move || {
            for stream in listener.incoming() {
                let stream = match stream {
                    Ok(s) => s,
                    Err(_) => {
                        // The client left, or descriptors ran out: that client is lost. A short
                        // pause, so that a lasting failure (EMFILE) does not spin a core.
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    }
                };
                let accepted = Instant::now();
                if shared.active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
                    shared.active.fetch_sub(1, Ordering::AcqRel);
                    shared.served.rejected.fetch_add(1, Ordering::Relaxed);
                    refuse(stream);
                    continue;
                }
                if tx.try_send((stream, accepted)).is_err() {
                    shared.active.fetch_sub(1, Ordering::AcqRel);
                    shared.served.rejected.fetch_add(1, Ordering::Relaxed);
                }
            }
        })?;
        Ok(())
    }
}

/// Binds and serves at once (when no privilege is dropped in between). Returns the bound
/// address.
pub fn serve(
    addr: SocketAddr,
    published: Arc<Published>,
    hosts: Arc<HostTable>,
) -> std::io::Result<SocketAddr> {
    let endpoint = bind(addr)?;
    let local = endpoint.local_addr()?;
    endpoint.serve(published, hosts)?;
    Ok(local)
}

/// Tells a client over the bound to come back later, without waiting for it: one non-blocking
/// write into an empty socket buffer, then the connection is closed.
fn refuse(stream: TcpStream) {
    const BUSY: &[u8] =
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\nRetry-After: 1\r\n\r\n";
    if stream.set_nonblocking(true).is_ok() {
        let _ = (&stream).write(BUSY);
    }
}

/// A serving thread: answers connections until the accepting thread is gone.
fn serve_from(rx: &Receiver<(TcpStream, Instant)>, shared: &Shared) {
    for (stream, accepted) in rx.iter() {
        shared.served.requests.fetch_add(1, Ordering::Relaxed);
        let r = answer(stream, accepted + DEADLINE, shared);
        if r.is_err_and(|e| matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)) {
            shared.served.timed_out.fetch_add(1, Ordering::Relaxed);
        }
        shared.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The time left before `deadline`, or a `TimedOut` error when none is.
fn left(deadline: Instant) -> std::io::Result<Duration> {
    let d = deadline.saturating_duration_since(Instant::now());
    if d.is_zero() {
        Err(ErrorKind::TimedOut.into())
    } else {
        Ok(d)
    }
}

/// Writes all of `buf` by `deadline`.
fn write_by(stream: &mut TcpStream, mut buf: &[u8], deadline: Instant) -> std::io::Result<()> {
    while !buf.is_empty() {
        stream.set_write_timeout(Some(left(deadline)?))?;
        match stream.write(buf) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => buf = buf.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads one request (bounded) and answers it, all by `deadline`; the connection is then closed.
fn answer(mut stream: TcpStream, deadline: Instant, shared: &Shared) -> std::io::Result<()> {
    let mut buf = vec![0u8; MAX_REQUEST];
    let mut len = 0;
    while len < buf.len() {
        stream.set_read_timeout(Some(left(deadline)?))?;
        let Some(rest) = buf.get_mut(len..) else { break };
        let n = match stream.read(rest) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        // Only the bytes new in this read (and three before them) can complete the end of head.
        let from = len.saturating_sub(3);
        len += n;
        if buf.get(from..len).is_some_and(|b| b.windows(4).any(|w| w == b"\r\n\r\n")) {
            break;
        }
    }
    let head = buf.get(..len).unwrap_or_default();
    let line = head.split(|&b| b == b'\r' || b == b'\n').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    let (status, ctype, body) = match (method, path) {
        (b"GET", b"/metrics") => {
            let snap = shared.published.get();
            let mut list = shared.hosts.snapshot();
            let count = list.len();
            list.truncate(MAX_HOST_SERIES);
            let text = render_all(&snap, &list, count, &shared.served);
            ("200 OK", "text/plain; version=0.0.4; charset=utf-8", text)
        }
        (b"GET", _) => ("404 Not Found", "text/plain", "not found; try /metrics\n".to_string()),
        _ => ("405 Method Not Allowed", "text/plain", "only GET\n".to_string()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    write_by(&mut stream, head.as_bytes(), deadline)?;
    write_by(&mut stream, body.as_bytes(), deadline)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stratum::{SessionFacts, Variant};
    use crate::verdict::{Event, EventKind};

    fn scrape(addr: SocketAddr, request: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    fn event(client: &str, login: &str) -> Event {
        Event::sample(
            EventKind::MiningSession,
            client,
            SessionFacts {
                variant: Some(Variant::CryptoNote),
                login: Some(login.into()),
                shares_accepted: 4,
                ..Default::default()
            },
        )
    }

    #[test]
    fn scrape_shows_published_counters_kernel_drops_and_hosts() {
        let published = Published::new();
        let hosts = Arc::new(HostTable::new(10));
        hosts.record(&event("10.0.0.7:4000", "wallet\"with\nquote"));
        let addr = serve("127.0.0.1:0".parse().unwrap(), published.clone(), hosts).unwrap();

        let before = scrape(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(before.starts_with("HTTP/1.1 200 OK\r\n"), "{before}");
        assert!(before.contains("\nminewatch_packets_total 0\n"), "{before}");

        let c = Counters { packets: 1234, dispatch_dropped: 5, ..Counters::default() };
        let k = KernelStats { received: 1300, dropped: 66, if_dropped: 0 };
        let load = Load { flows: 3, flow_memory: 4096, flow_memcap: 1 << 20, worker_queue: 2 };
        let outputs = vec![OutputLoad {
            label: "syslog+tcp://127.0.0.1:6514".into(),
            queued: 9,
            spool_bytes: Some(77),
        }];
        published.publish(Snapshot {
            counters: c,
            kernel: vec![("eth1".to_string(), k)],
            load,
            records_queue: 1,
            outputs,
        });
        let body = scrape(addr, "GET /metrics HTTP/1.0\r\n\r\n");
        assert!(body.contains("\nminewatch_packets_total 1234\n"), "{body}");
        assert!(body.contains("\nminewatch_dispatch_dropped_total 5\n"), "{body}");
        assert!(body.contains("\nminewatch_capture_kernel_dropped_total{interface=\"eth1\"} 66\n"), "{body}");
        assert!(body.contains("\nminewatch_mining_hosts 1\n"), "{body}");
        assert!(body.contains("\nminewatch_flows_active 3\n"), "{body}");
        assert!(body.contains("\nminewatch_flow_memory_bytes 4096\n"), "{body}");
        assert!(body.contains("\nminewatch_flow_memcap_bytes 1048576\n"), "{body}");
        assert!(body.contains("\nminewatch_queue_depth{queue=\"records\"} 1\n"), "{body}");
        assert!(body.contains("\nminewatch_queue_depth{queue=\"workers\"} 2\n"), "{body}");
        assert!(
            body.contains("\nminewatch_queue_depth{queue=\"syslog+tcp://127.0.0.1:6514\"} 9\n"),
            "{body}"
        );
        assert!(
            body.contains("\nminewatch_spool_bytes{output=\"syslog+tcp://127.0.0.1:6514\"} 77\n"),
            "{body}"
        );
        assert!(
            body.contains(&format!(
                "\nminewatch_build_info{{version=\"{}\"}} 1\n",
                env!("CARGO_PKG_VERSION")
            )),
            "{body}"
        );
        // The host's series carry its address, its pool's address and its dialect; its login (a
        // wire string, here one that would break a naive exposition) is nowhere.
        assert!(
            body.contains("\nminewatch_mining_host_info{host=\"10.0.0.7\",pool=\"198.51.100.1:3333\",variant=\"cryptonote\"} 1\n"),
            "{body}"
        );
        assert!(!body.contains("wallet"), "{body}");
        assert!(body.contains("\nminewatch_metrics_requests_total 2\n"), "{body}");
        #[cfg(target_os = "linux")]
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
        ] {
            assert!(body.contains(&format!("\n# TYPE {name} ")), "no {name}: {body}");
        }
        assert!(body.contains("minewatch_mining_host_shares_accepted_total{host=\"10.0.0.7\"} 4"), "{body}");
        // Every counter of the stats record is there.
        for (name, help, _) in Counters::default().described() {
            assert!(body.contains(&format!("\nminewatch_{name}_total ")), "missing {name}");
            let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                body.contains(&format!("\n# HELP minewatch_{name}_total {help}\n")),
                "no help for {name}"
            );
        }
        assert!(scrape(addr, "GET / HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 404"));
        assert!(scrape(addr, "POST /metrics HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 405"));
        // A request that never ends its head is cut at the bound and still answered.
        let junk = "GET /metrics ".to_string() + &"x".repeat(MAX_REQUEST * 2);
        let mut s = TcpStream::connect(addr).unwrap();
        let _ = s.write_all(junk.as_bytes());
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        // The server is still serving.
        assert!(scrape(addr, "GET /metrics HTTP/1.0\r\n\r\n").contains("minewatch_packets_total 1234"));
    }

    #[test]
    fn host_series_are_bounded() {
        let hosts: Vec<HostEntry> = (0..MAX_HOST_SERIES + 50)
            .map(|i| {
                let t = HostTable::new(1);
                let ip = format!("10.{}.{}.1:1", i / 256, i % 256);
                t.record(&event(&ip, "w"));
                t.snapshot().remove(0)
            })
            .collect();
        let text = render(&Snapshot::default(), &hosts, hosts.len());
        assert_eq!(text.matches("minewatch_mining_host_info{").count(), MAX_HOST_SERIES);
        assert!(text.contains(&format!("\nminewatch_mining_hosts {}\n", MAX_HOST_SERIES + 50)));
    }
}
