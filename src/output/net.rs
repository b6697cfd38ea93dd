//! Network outputs: syslog over UDP and over TCP, and the sender thread that every stream
//! output (syslog over TCP, Redis) shares: the stream-specific part is a [`Link`].
//!
//! UDP is fire-and-forget by nature: one datagram per record, sent without blocking; a send that
//! fails (no listener, full socket buffer) is counted (`output_send_errors`), never retried.
//!
//! TCP gets a sender thread of its own, so that neither the collector nor the workers ever wait
//! for the network. The collector hands it formatted messages through a bounded channel and never
//! blocks: a full channel drops the record, counted (`output_queue_dropped`). The sender keeps
//! undelivered records in a bounded in-memory queue (or, with a spool, on disk), reconnects
//! with exponential backoff from [`BACKOFF_MIN`] to [`BACKOFF_MAX`], writes with a timeout, and
//! before each burst checks that the receiver has not closed the connection (a receiver that
//! restarts closes it; writing into such a socket would succeed and lose the record).
//!
//! What plain syslog over TCP cannot promise: a receiver that dies with records in its socket
//! buffer, unread, loses them, and nothing on the wire tells the sender. Restarts that close the
//! connection first (rsyslog, syslog-ng, Splunk on SIGTERM) lose nothing.
//!
//! At exit the sender keeps trying for the drain timeout; what it still holds then goes to the
//! spool, or without one is counted as dropped (`output_queue_dropped`).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError};

use super::spool::Spool;
use super::syslog;
use crate::stats::Counters;

/// The largest UDP payload (IPv4); a bigger record cannot be sent as one datagram.
pub const MAX_DATAGRAM: usize = 65_507;
/// First wait after a failed connection attempt; doubled on each further failure.
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// The longest wait between connection attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How long one connection attempt, and one write, may take.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Records hand-off between the collector and a sender thread.
const CHANNEL: usize = 1024;
/// Spooled records sent between two cursor updates.
const COMMIT_EVERY: usize = 256;

/// Counters a network output shares with the collector, which adds them to the stats record.
#[derive(Debug, Default)]
pub struct NetCounters {
    pub delivered: AtomicU64,
    pub queue_dropped: AtomicU64,
    pub spooled: AtomicU64,
    pub spool_replayed: AtomicU64,
    pub spool_dropped: AtomicU64,
    pub connect_failures: AtomicU64,
    pub send_errors: AtomicU64,
    pub oversize: AtomicU64,
    /// Records handed to the sender, and those it is done with (delivered, spooled or dropped):
    /// the difference is what it still holds in memory.
    pub handed: AtomicU64,
    pub finished: AtomicU64,
    /// Records the sender holds on disk.
    pub spool_pending: AtomicBool,
    /// Bytes of the spool on disk (a gauge for the metrics endpoint).
    pub spool_bytes: AtomicU64,
    pub connected: AtomicBool,
    /// A connection attempt has finished (either way) since the sender started.
    pub tried: AtomicBool,
}

impl NetCounters {
    pub fn add_to(&self, c: &mut Counters) {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        c.output_delivered += get(&self.delivered);
        c.output_queue_dropped += get(&self.queue_dropped);
        c.output_spooled += get(&self.spooled);
        c.output_spool_replayed += get(&self.spool_replayed);
        c.output_spool_dropped += get(&self.spool_dropped);
        c.output_connect_failures += get(&self.connect_failures);
        c.output_send_errors += get(&self.send_errors);
        c.output_oversize += get(&self.oversize);
    }

    /// Records handed to the sender that it still holds in memory (its channel and its queue).
    pub fn queued(&self) -> u64 {
        self.handed.load(Ordering::Relaxed).saturating_sub(self.finished.load(Ordering::Relaxed))
    }
}

fn inc(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

/// Syslog over UDP: one datagram per record.
pub struct UdpOut {
    sock: UdpSocket,
    pub counters: Arc<NetCounters>,
}

impl UdpOut {
    pub fn open(addr: SocketAddr) -> io::Result<UdpOut> {
        let local: SocketAddr = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }
            .parse()
            .map_err(|_| io::Error::other("bad local address"))?;
        let sock = UdpSocket::bind(local)?;
        sock.connect(addr)?;
        sock.set_nonblocking(true)?;
        Ok(UdpOut { sock, counters: Arc::new(NetCounters::default()) })
    }

    pub fn send(&self, msg: &[u8]) {
        if msg.len() > MAX_DATAGRAM {
            inc(&self.counters.oversize);
            return;
        }
        match self.sock.send(msg) {
            Ok(_) => inc(&self.counters.delivered),
            Err(_) => inc(&self.counters.send_errors),
        }
    }
}

/// How a TCP output holds what it cannot deliver yet.
#[derive(Clone, Debug)]
pub struct TcpOptions {
    /// Records kept in memory while the receiver is away (without a spool).
    pub queue: usize,
    /// Spool directory for this output, and its size bound in bytes.
    pub spool: Option<(std::path::PathBuf, u64)>,
    /// How long to keep trying to deliver at exit.
    pub drain: Duration,
}

/// What became of one record handed to a [`Conn`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// The connection is lost: the record is kept and sent again after a reconnect.
    Lost,
    /// The receiver answered with an error (a Redis key of the wrong type): sending it again
    /// would fail again, so it is counted (`output_send_errors`) and dropped.
    Refused,
}

/// One connection of a stream output, as the sender thread sees it.
pub trait Conn: Send {
    /// Whether the receiver still has the connection open (checked before each burst).
    fn alive(&mut self) -> bool;
    fn send(&mut self, msg: &[u8]) -> Delivery;
    /// Ends the connection at exit.
    fn close(&mut self) {}
}

/// How a stream output reaches its receiver: the one part that differs between syslog over TCP
/// and Redis; the queue, spool, backoff, counters and drain around it are the sender thread's.
pub trait Link: Send {
    fn connect(&mut self) -> io::Result<Box<dyn Conn>>;
}

/// Syslog over TCP, octet-counted (RFC 6587).
struct SyslogTcp {
    addr: SocketAddr,
}

struct SyslogConn {
    stream: TcpStream,
    frame: Vec<u8>,
}

impl Link for SyslogTcp {
    fn connect(&mut self) -> io::Result<Box<dyn Conn>> {
        let stream = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT)?;
        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
        Ok(Box::new(SyslogConn { stream, frame: Vec::new() }))
    }
}

impl Conn for SyslogConn {
    fn alive(&mut self) -> bool {
        alive(&self.stream)
    }

    fn send(&mut self, msg: &[u8]) -> Delivery {
        self.frame.clear();
        syslog::octet_counted(msg, &mut self.frame);
        match self.stream.write_all(&self.frame) {
            Ok(()) => Delivery::Delivered,
            Err(_) => Delivery::Lost,
        }
    }

    fn close(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
    }
}

/// A stream output (syslog over TCP, Redis) through a sender thread.
pub struct TcpOut {
    tx: Option<Sender<Vec<u8>>>,
    handle: Option<thread::JoinHandle<()>>,
    /// The sender, until its thread is started: [`TcpOut::prepare`] opens everything without
    /// starting a thread, so that the thread can be started after the privilege drop and hold
    /// no capability (they belong to each thread, and a thread inherits its creator's).
    waiting: Option<Box<SenderThread>>,
    pub counters: Arc<NetCounters>,
    /// Whether it has a spool (then `counters.spool_bytes` means something).
    pub spooled: bool,
    /// The sender thread's name.
    thread: &'static str,
}

impl TcpOut {
    /// Opens the output and starts the sender thread.
    pub fn open(addr: SocketAddr, opts: &TcpOptions) -> io::Result<TcpOut> {
        let mut t = TcpOut::prepare(addr, opts)?;
        t.start()?;
        Ok(t)
    }

    /// Starts the sender thread, unless it runs already. Records handed over before then wait
    /// in the channel.
    pub fn start(&mut self) -> io::Result<()> {
        if let Some(s) = self.waiting.take() {
            let handle = thread::Builder::new().name(self.thread.into()).spawn(move || s.run())?;
            self.handle = Some(handle);
        }
        Ok(())
    }

    /// Opens the output without starting its thread ([`TcpOut::start`]). The spool is opened
    /// here, so a bad directory fails at start.
    pub fn prepare(addr: SocketAddr, opts: &TcpOptions) -> io::Result<TcpOut> {
        TcpOut::prepare_link(Box::new(SyslogTcp { addr }), "minewatch-syslog-tcp", opts)
    }

    /// [`TcpOut::prepare`] for any [`Link`]; `thread` names the sender thread.
    pub fn prepare_link(link: Box<dyn Link>, thread: &'static str, opts: &TcpOptions) -> io::Result<TcpOut> {
        let spool = match &opts.spool {
            Some((dir, max)) => Some(Spool::open(dir, *max)?),
            None => None,
        };
        let counters = Arc::new(NetCounters::default());
        counters.spool_pending.store(spool.as_ref().is_some_and(|s| !s.is_empty()), Ordering::Relaxed);
        counters.spool_bytes.store(spool.as_ref().map_or(0, Spool::bytes), Ordering::Relaxed);
        let spooled = spool.is_some();
        let (tx, rx) = bounded(CHANNEL);
        let s = SenderThread {
            link,
            rx,
            spool,
            pending: VecDeque::new(),
            queue: opts.queue.max(1),
            conn: None,
            backoff: BACKOFF_MIN,
            next_attempt: Instant::now(),
            c: counters.clone(),
            drain: opts.drain,
        };
        Ok(TcpOut { tx: Some(tx), handle: None, waiting: Some(Box::new(s)), counters, spooled, thread })
    }

    /// Hands one message to the sender; never blocks.
    pub fn send(&self, msg: Vec<u8>) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(msg) {
            Ok(()) => inc(&self.counters.handed),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                inc(&self.counters.queue_dropped)
            }
        }
    }

    /// Whether the sender still has records in memory that it may yet deliver: it is connected,
    /// or has not tried to connect yet.
    pub fn busy(&self) -> bool {
        let c = &self.counters;
        let queued = c.handed.load(Ordering::Relaxed) > c.finished.load(Ordering::Relaxed);
        queued && (c.connected.load(Ordering::Relaxed) || !c.tried.load(Ordering::Relaxed))
    }

    /// Ends the sender: it delivers what it can within the drain timeout, spools or counts the
    /// rest, and returns.
    pub fn close(&mut self) {
        // A sender never started still delivers (or spools) what it was handed.
        let _ = self.start();
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for TcpOut {
    fn drop(&mut self) {
        self.close();
    }
}

struct SenderThread {
    link: Box<dyn Link>,
    rx: Receiver<Vec<u8>>,
    spool: Option<Spool>,
    /// In-memory queue. Invariant: when the spool holds records this is empty, so the spool's
    /// records are always the oldest and order is kept.
    pending: VecDeque<Vec<u8>>,
    queue: usize,
    conn: Option<Box<dyn Conn>>,
    backoff: Duration,
    next_attempt: Instant,
    c: Arc<NetCounters>,
    drain: Duration,
}

/// Whether the receiver still has the connection open. Syslog receivers send nothing, so a
/// readable socket means end of stream (or data we discard).
fn alive(s: &TcpStream) -> bool {
    if s.set_nonblocking(true).is_err() {
        return false;
    }
    let mut buf = [0u8; 256];
    let ok = loop {
        match (&*s).read(&mut buf) {
            Ok(0) => break false,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break false,
        }
    };
    s.set_nonblocking(false).is_ok() && ok
}

impl SenderThread {
    fn spool_empty(&self) -> bool {
        self.spool.as_ref().map_or(true, Spool::is_empty)
    }

    fn has_work(&self) -> bool {
        !self.pending.is_empty() || !self.spool_empty()
    }

    fn publish(&self) {
        self.c.spool_pending.store(!self.spool_empty(), Ordering::Relaxed);
        self.c.spool_bytes.store(self.spool.as_ref().map_or(0, Spool::bytes), Ordering::Relaxed);
        self.c.connected.store(self.conn.is_some(), Ordering::Relaxed);
    }

    fn spool_one(&mut self, msg: &[u8]) -> bool {
        let Some(spool) = self.spool.as_mut() else { return false };
        inc(&self.c.finished);
        match spool.push(msg) {
            Ok(true) => inc(&self.c.spooled),
            _ => inc(&self.c.spool_dropped),
        }
        true
    }

    /// Takes one new record: to the spool when it holds older ones or the receiver is away,
    /// else to the memory queue (bounded).
    fn accept(&mut self, msg: Vec<u8>) {
        if (self.conn.is_none() || !self.spool_empty()) && self.spool_one(&msg) {
            return;
        }
        if self.pending.len() < self.queue {
            self.pending.push_back(msg);
        } else {
            inc(&self.c.queue_dropped);
            inc(&self.c.finished);
        }
    }

    /// Moves the memory queue to the spool (the receiver went away).
    fn spill(&mut self) {
        if self.spool.is_none() {
            return;
        }
        while let Some(m) = self.pending.pop_front() {
            self.spool_one(&m);
        }
    }

    fn disconnect(&mut self) {
        self.conn = None;
        self.c.connected.store(false, Ordering::Relaxed);
        self.next_attempt = Instant::now();
        self.spill();
    }

    fn connect(&mut self) {
        let r = self.link.connect();
        self.c.tried.store(true, Ordering::Relaxed);
        match r {
            Ok(s) => {
                self.conn = Some(s);
                self.c.connected.store(true, Ordering::Relaxed);
                self.backoff = BACKOFF_MIN;
            }
            Err(_) => {
                inc(&self.c.connect_failures);
                self.next_attempt = Instant::now() + self.backoff;
                self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
                self.spill();
            }
        }
    }

    fn write(&mut self, msg: &[u8]) -> Delivery {
        let Some(conn) = self.conn.as_mut() else { return Delivery::Lost };
        let d = conn.send(msg);
        match d {
            Delivery::Delivered => inc(&self.c.delivered),
            Delivery::Refused => inc(&self.c.send_errors),
            Delivery::Lost => {}
        }
        d
    }

    /// Sends the spool, then the memory queue, until done or the connection fails.
    fn send_all(&mut self) {
        if let Some(conn) = self.conn.as_mut() {
            if !conn.alive() {
                self.disconnect();
                return;
            }
        }
        let mut sent = 0usize;
        while let Some(spool) = self.spool.as_mut() {
            let Ok(Some(rec)) = spool.front() else { break };
            if self.write(&rec) == Delivery::Lost {
                self.disconnect();
                break;
            }
            let Some(spool) = self.spool.as_mut() else { break };
            let _ = spool.pop();
            inc(&self.c.spool_replayed);
            sent += 1;
            if sent % COMMIT_EVERY == 0 {
                let _ = spool.commit();
            }
        }
        if sent > 0 {
            if let Some(spool) = self.spool.as_mut() {
                let _ = spool.commit();
            }
        }
        if self.conn.is_none() {
            return;
        }
        while let Some(msg) = self.pending.pop_front() {
            if self.write(&msg) == Delivery::Lost {
                self.pending.push_front(msg);
                self.disconnect();
                return;
            }
            inc(&self.c.finished);
        }
    }

    fn run(mut self) {
        let mut deadline: Option<Instant> = None;
        loop {
            // Take new records: wait for them only when there is nothing else to do.
            let now = Instant::now();
            let wait = if deadline.is_some() {
                None
            } else if !self.has_work() {
                Some(Duration::from_millis(250))
            } else if self.conn.is_none() {
                Some(self.next_attempt.saturating_duration_since(now).min(Duration::from_millis(250)))
            } else {
                None
            };
            let first = match wait {
                Some(w) => match self.rx.recv_timeout(w) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => {
                        deadline.get_or_insert(Instant::now() + self.drain);
                        None
                    }
                },
                None => None,
            };
            if let Some(m) = first {
                self.accept(m);
            }
            loop {
                match self.rx.try_recv() {
                    Ok(m) => self.accept(m),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        deadline.get_or_insert(Instant::now() + self.drain);
                        break;
                    }
                }
            }
            if self.has_work() {
                if self.conn.is_none() && Instant::now() >= self.next_attempt {
                    self.connect();
                }
                if self.conn.is_some() {
                    self.send_all();
                }
            }
            self.publish();
            if let Some(d) = deadline {
                if !self.has_work() {
                    break;
                }
                if Instant::now() >= d {
                    self.spill();
                    let left = self.pending.len() as u64;
                    self.c.queue_dropped.fetch_add(left, Ordering::Relaxed);
                    self.c.finished.fetch_add(left, Ordering::Relaxed);
                    self.pending.clear();
                    break;
                }
                if self.conn.is_none() {
                    let until = self.next_attempt.min(d);
                    thread::sleep(
                        until.saturating_duration_since(Instant::now()).min(Duration::from_millis(250)),
                    );
                }
            }
        }
        if let Some(spool) = self.spool.as_mut() {
            let _ = spool.close_writer();
            let _ = spool.commit();
        }
        if let Some(mut conn) = self.conn.take() {
            conn.close();
        }
        self.publish();
    }
}

/// A spool directory name for an output: its target, made safe as one path component.
pub fn spool_dir(base: &Path, label: &str) -> std::path::PathBuf {
    let safe: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect();
    base.join(safe)
}
