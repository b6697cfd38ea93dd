//! The Prometheus endpoint (`--metrics ADDR:PORT`): every counter, the kernel's capture drops
//! per interface, the number of mining hosts, and one info series per mining host.
//!
//! The numbers are the collector's: it owns the counters summed over every thread and, each
//! time a reporter sends its counters (about once a second per thread on a live capture, never
//! per packet), publishes a copy into [`Published`]. A scrape reads that copy and the host
//! table; it never touches a worker.
//!
//! The HTTP side is a std `TcpListener` served by one thread, one connection at a time: a
//! scraper is one client every few seconds, and serving serially bounds the memory and threads
//! an unauthenticated port can cost. Each request is read up to [`MAX_REQUEST`] bytes with a
//! timeout, so a slow or hostile client holds the thread for at most a few seconds.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::capture::live::KernelStats;
use crate::hosts::{HostEntry, HostTable};
use crate::stats::Counters;

/// Hosts given their own series; more are counted in `minewatch_mining_hosts` only. This is
/// the bound on the endpoint's cardinality.
pub const MAX_HOST_SERIES: usize = 1000;
/// Bytes of a request read before answering; a scrape request is a few hundred.
const MAX_REQUEST: usize = 8192;
/// How long a client may take to send its request or take the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest label value kept; wire strings (logins) can be anything.
const MAX_LABEL: usize = 128;

/// The collector's latest totals, shared with the endpoint.
#[derive(Debug, Default)]
pub struct Published {
    inner: Mutex<(Counters, Vec<(String, KernelStats)>)>,
}

impl Published {
    pub fn new() -> Arc<Published> {
        Arc::new(Published::default())
    }

    /// Replaces the totals (called by the collector when counters arrive).
    pub fn publish(&self, counters: &Counters, kernel: &[(String, KernelStats)]) {
        if let Ok(mut g) = self.inner.lock() {
            g.0 = *counters;
            g.1.clear();
            g.1.extend_from_slice(kernel);
        }
    }

    /// A copy of the totals.
    pub fn get(&self) -> (Counters, Vec<(String, KernelStats)>) {
        self.inner.lock().map(|g| (g.0, g.1.clone())).unwrap_or_default()
    }
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

/// The text exposition format (version 0.0.4) of the totals and the hosts.
pub fn render(
    counters: &Counters,
    kernel: &[(String, KernelStats)],
    hosts: &[HostEntry],
    host_count: usize,
) -> String {
    let mut s = String::with_capacity(8192);
    for (name, value) in counters.fields() {
        let _ = writeln!(s, "# TYPE minewatch_{name}_total counter\nminewatch_{name}_total {value}");
    }
    type Series = (&'static str, &'static str, fn(&KernelStats) -> u64);
    let kernel_series: [Series; 3] = [
        ("capture_received", "Frames the kernel handed to the capture.", |k| k.received),
        ("capture_kernel_dropped", "Frames dropped because the capture buffer was full.", |k| k.dropped),
        ("capture_interface_dropped", "Frames dropped by the interface or its driver.", |k| k.if_dropped),
    ];
    for (name, help, get) in kernel_series {
        let _ = writeln!(s, "# HELP minewatch_{name}_total {help}\n# TYPE minewatch_{name}_total counter");
        for (iface, k) in kernel {
            let _ = writeln!(s, "minewatch_{name}_total{{interface=\"{}\"}} {}", label(iface), get(k));
        }
    }
    let _ = writeln!(
        s,
        "# HELP minewatch_mining_hosts Internal hosts seen mining.\n# TYPE minewatch_mining_hosts gauge\n\
         minewatch_mining_hosts {host_count}"
    );
    let _ = writeln!(
        s,
        "# HELP minewatch_mining_host_info One series per mining host (at most {MAX_HOST_SERIES}).\n\
         # TYPE minewatch_mining_host_info gauge"
    );
    for h in hosts.iter().take(MAX_HOST_SERIES) {
        let pool = h.pools.first().map(|p| p.to_string()).unwrap_or_default();
        let variant = h.variants.first().map(|v| v.as_str()).unwrap_or("");
        let login = h.logins.first().map(String::as_str).unwrap_or("");
        let _ = writeln!(
            s,
            "minewatch_mining_host_info{{host=\"{}\",pool=\"{}\",variant=\"{}\",login=\"{}\"}} 1",
            h.ip,
            label(&pool),
            label(variant),
            label(login)
        );
    }
    let _ = writeln!(s, "# TYPE minewatch_mining_host_shares_accepted_total counter");
    for h in hosts.iter().take(MAX_HOST_SERIES) {
        let _ = writeln!(
            s,
            "minewatch_mining_host_shares_accepted_total{{host=\"{}\"}} {}",
            h.ip, h.shares_accepted
        );
    }
    s
}

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

    /// Serves the endpoint on a thread of its own for the rest of the process.
    pub fn serve(self, published: Arc<Published>, hosts: Arc<HostTable>) -> std::io::Result<()> {
        let listener = self.listener;
        std::thread::Builder::new().name("metrics".into()).spawn(move || {
            // A failed accept (the client left, descriptors exhausted) only loses that client.
            for stream in listener.incoming().flatten() {
                let _ = answer(stream, &published, &hosts);
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

/// Reads one request (bounded) and answers it; the connection is then closed.
fn answer(mut stream: TcpStream, published: &Published, hosts: &HostTable) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut buf = vec![0u8; MAX_REQUEST];
    let mut len = 0;
    while len < buf.len() {
        let Some(rest) = buf.get_mut(len..) else { break };
        let n = stream.read(rest)?;
        if n == 0 {
            break;
        }
        len += n;
        if buf.get(..len).is_some_and(|b| b.windows(4).any(|w| w == b"\r\n\r\n")) {
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
            let (counters, kernel) = published.get();
            let mut list = hosts.snapshot();
            let count = list.len();
            list.truncate(MAX_HOST_SERIES);
            ("200 OK", "text/plain; version=0.0.4; charset=utf-8", render(&counters, &kernel, &list, count))
        }
        (b"GET", _) => ("404 Not Found", "text/plain", "not found; try /metrics\n".to_string()),
        _ => ("405 Method Not Allowed", "text/plain", "only GET\n".to_string()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
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
        published.publish(&c, &[("eth1".to_string(), k)]);
        let body = scrape(addr, "GET /metrics HTTP/1.0\r\n\r\n");
        assert!(body.contains("\nminewatch_packets_total 1234\n"), "{body}");
        assert!(body.contains("\nminewatch_dispatch_dropped_total 5\n"), "{body}");
        assert!(body.contains("\nminewatch_capture_kernel_dropped_total{interface=\"eth1\"} 66\n"), "{body}");
        assert!(body.contains("\nminewatch_mining_hosts 1\n"), "{body}");
        assert!(
            body.contains(
                "minewatch_mining_host_info{host=\"10.0.0.7\",pool=\"198.51.100.1:3333\",\
                 variant=\"cryptonote\",login=\"wallet\\\"with\\nquote\"} 1"
            ),
            "{body}"
        );
        assert!(body.contains("minewatch_mining_host_shares_accepted_total{host=\"10.0.0.7\"} 4"), "{body}");
        // Every counter of the stats record is there.
        for (name, _) in Counters::default().fields() {
            assert!(body.contains(&format!("\nminewatch_{name}_total ")), "missing {name}");
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
        let text = render(&Counters::default(), &[], &hosts, hosts.len());
        assert_eq!(text.matches("minewatch_mining_host_info{").count(), MAX_HOST_SERIES);
        assert!(text.contains(&format!("\nminewatch_mining_hosts {}\n", MAX_HOST_SERIES + 50)));
    }
}
