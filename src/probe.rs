//! `minewatch probe HOST:PORT`: an analyst's confirmation that an endpoint is a mining pool.
//! It connects (over TLS with `--tls`), speaks just enough of a dialect with a dummy login
//! (Stratum V1 subscribe and authorize, the XMRig `login`, `eth_submitLogin` and
//! `eth_getWork`, EthereumStratum/2's `mining.hello`, an SV2 SetupConnection and
//! OpenStandardMiningChannel in plain framing) and reports what the server answered. Opt-in:
//! nothing in a run calls it; it needs no privileges.
//!
//! Bounded against a hostile server: one time limit on the whole probe (connection, TLS,
//! every dialect tried), each read waits at most what is left of it; a line longer than
//! [`MAX_LINE`] or more than [`MAX_READ`] bytes in all ends the attempt; an SV2 frame is read
//! only up to [`sv2::MAX_BODY`] bytes.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Value};

use crate::cli::{ProbeArgs, ProbeDialect};
use crate::stratum::session::{cn_target_difficulty, eth_boundary_difficulty};
use crate::stratum::sv2;

/// Longest line read from the server.
pub const MAX_LINE: usize = 64 * 1024;
/// Most bytes read from the server in one attempt.
pub const MAX_READ: usize = 256 * 1024;
/// Most lines read after the login while waiting for a job.
const MAX_LINES: usize = 32;

/// What the probe learnt.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub target: String,
    /// The address connected to.
    pub address: Option<String>,
    /// Whether the endpoint answered as a mining pool.
    pub pool: bool,
    pub dialect: Option<&'static str>,
    pub algorithm: Option<String>,
    pub difficulty: Option<f64>,
    /// A share target as sent, when the pool gave one.
    pub share_target: Option<String>,
    pub extranonce: Option<String>,
    pub extranonce2_size: Option<u64>,
    /// Pool software or version, when the pool announced one.
    pub software: Option<String>,
    /// The pool sent work.
    pub job: bool,
    pub tls: bool,
    /// TLS: the certificate was not checked (`--insecure`).
    pub insecure: bool,
    /// Why it is not a pool, or what went wrong.
    pub reason: Option<String>,
}

/// One connection: plain TCP or TLS, every read and write within the deadline.
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// A connection with its deadline and a bounded reader.
struct Conn {
    stream: Stream,
    deadline: Instant,
    buf: Vec<u8>,
    read: usize,
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "time limit reached")
}

impl Conn {
    /// Sets the socket's timeouts to what is left; an error once nothing is.
    fn arm(&self) -> io::Result<()> {
        let left = self
            .deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(timed_out)?;
        self.stream.tcp().set_read_timeout(Some(left))?;
        self.stream.tcp().set_write_timeout(Some(left))
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.arm()?;
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    fn send_json(&mut self, v: &Value) -> io::Result<()> {
        let mut line = v.to_string().into_bytes();
        line.push(b'\n');
        self.send(&line)
    }

    /// More bytes into the buffer, within the bounds.
    fn fill(&mut self) -> io::Result<()> {
        if self.read >= MAX_READ {
            return Err(io::Error::other(format!("more than {MAX_READ} bytes without an answer")));
        }
        self.arm()?;
        let mut chunk = [0u8; 4096];
        let want = chunk.len().min(MAX_READ - self.read);
        let n = match self.stream.read(&mut chunk[..want]) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Err(timed_out())
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection"));
        }
        self.read += n;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// The next line (without its newline).
    fn line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf) {
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buf.len() > MAX_LINE {
                return Err(io::Error::other(format!("a line longer than {MAX_LINE} bytes")));
            }
            self.fill()?;
        }
    }

    /// Exactly `n` bytes.
    fn exact(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            self.fill()?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// The next JSON message; a line that is not JSON ends the attempt as "not a pool".
    fn json(&mut self) -> io::Result<Value> {
        let line = self.line()?;
        serde_json::from_slice(&line).map_err(|_| {
            let shown: String = String::from_utf8_lossy(&line).chars().take(60).collect();
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("answered something that is not JSON: {shown:?}"),
            )
        })
    }
}

/// Accepts any certificate: `--insecure`, for pools with self-signed ones (said in the output).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The TLS client configuration of the probe.
fn tls_config(args: &ProbeArgs) -> Result<Arc<rustls::ClientConfig>, String> {
    // ring, as the syslog TLS output: it builds with a C compiler alone; rustls 0.23.48
    // deprecates it only for its lack of the post-quantum key exchange.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let config = if args.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        use rustls::pki_types::pem::PemObject;
        let path = args.ca.clone().unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into());
        let mut roots = rustls::RootCertStore::empty();
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(&path)
            .map_err(|e| format!("{}: {e} (--ca FILE, or --insecure)", path.display()))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
            roots.add(cert).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The host part of `HOST:PORT`, for TLS's server name.
fn host_of(target: &str) -> &str {
    let host = target.rsplit_once(':').map_or(target, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// Connects to `addr` within the deadline, with TLS when asked.
fn connect(
    args: &ProbeArgs,
    addr: SocketAddr,
    tls: Option<&Arc<rustls::ClientConfig>>,
    deadline: Instant,
) -> io::Result<Conn> {
    let left =
        deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()).ok_or_else(timed_out)?;
    let tcp = TcpStream::connect_timeout(&addr, left)?;
    tcp.set_nodelay(true)?;
    let stream = match tls {
        None => Stream::Plain(tcp),
        Some(config) => {
            let name = rustls::pki_types::ServerName::try_from(host_of(&args.target).to_string())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("TLS server name: {e}")))?;
            let conn = rustls::ClientConnection::new(config.clone(), name).map_err(io::Error::other)?;
            Stream::Tls(Box::new(rustls::StreamOwned::new(conn, tcp)))
        }
    };
    let mut c = Conn { stream, deadline, buf: Vec::new(), read: 0 };
    if let Stream::Tls(s) = &mut c.stream {
        // The handshake now, so that a TLS failure is told apart from the dialect's.
        while s.conn.is_handshaking() {
            let left = deadline
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())
                .ok_or_else(timed_out)?;
            s.sock.set_read_timeout(Some(left))?;
            s.sock.set_write_timeout(Some(left))?;
            s.conn.complete_io(&mut s.sock).map_err(|e| io::Error::new(e.kind(), format!("TLS: {e}")))?;
        }
    }
    Ok(c)
}

fn str_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.chars().take(256).collect()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Pool software, when a message names it (a `software`, `agent`, `version`, `server` or
/// `node` field).
fn software_in(v: &Value) -> Option<String> {
    let o = v.as_object()?;
    ["software", "agent", "server", "node", "version"].iter().find_map(|k| o.get(*k).and_then(str_of))
}

/// A message of the pool that may carry a job, the difficulty, the algorithm or its software.
fn note_push(r: &mut Report, m: &Value) {
    let method = m.get("method").and_then(Value::as_str).unwrap_or_default();
    let params = m.get("params").cloned().unwrap_or(Value::Null);
    match method {
        "mining.notify" | "job" => r.job = true,
        "mining.set_difficulty" => r.difficulty = params.get(0).and_then(Value::as_f64).or(r.difficulty),
        "mining.set_target" => r.share_target = params.get(0).and_then(str_of),
        "mining.set" => {
            r.algorithm = params.get("algo").and_then(str_of).or(r.algorithm.take());
            r.share_target = params.get("target").and_then(str_of).or(r.share_target.take());
            r.extranonce = params.get("extranonce").and_then(str_of).or(r.extranonce.take());
        }
        "client.show_message" | "mining.set_version" => {
            r.software = r.software.take().or(params.get(0).and_then(str_of))
        }
        _ => {}
    }
    if method == "job" {
        cn_job(r, &params);
    }
}

/// A cryptonote job object: its target (as difficulty) and algorithm.
fn cn_job(r: &mut Report, job: &Value) {
    if let Some(t) = job.get("target").and_then(Value::as_str) {
        r.share_target = Some(t.chars().take(80).collect());
        r.difficulty = cn_target_difficulty(t).or(r.difficulty);
    }
    r.algorithm = job.get("algo").and_then(str_of).or(r.algorithm.take());
    r.job = true;
}

/// Reads the pool's messages until `done` says it has learnt enough, or the lines run out.
fn read_pushes(c: &mut Conn, r: &mut Report, done: impl Fn(&Report) -> bool) {
    for _ in 0..MAX_LINES {
        if done(r) {
            return;
        }
        match c.json() {
            Ok(m) => note_push(r, &m),
            Err(_) => return,
        }
    }
}

/// Waits for the answer to request `id`, noting every push on the way.
fn answer(c: &mut Conn, r: &mut Report, id: u64) -> io::Result<Value> {
    for _ in 0..MAX_LINES {
        let m = c.json()?;
        if m.get("id").and_then(Value::as_u64) == Some(id) && m.get("method").is_none() {
            return Ok(m);
        }
        note_push(r, &m);
    }
    Err(io::Error::other("no answer to the request"))
}

fn stratum1(c: &mut Conn, r: &mut Report, login: &str) -> io::Result<bool> {
    c.send_json(&json!({"id": 1, "method": "mining.subscribe", "params": ["minewatch-probe/1.0"]}))?;
    let a = answer(c, r, 1)?;
    let Some(result) = a.get("result").filter(|v| v.is_array()) else { return Ok(false) };
    // [subscriptions, extranonce1, extranonce2_size]; EthereumStratum/1.0.0 (NiceHash) names
    // itself in the subscription and has no extranonce2 size.
    let nicehash = result
        .get(0)
        .and_then(|s| s.get(2))
        .and_then(Value::as_str)
        .is_some_and(|p| p.starts_with("EthereumStratum"));
    r.dialect = Some(if nicehash { "ethstratum" } else { "stratum1" });
    r.extranonce = result.get(1).and_then(str_of);
    r.extranonce2_size = result.get(2).and_then(Value::as_u64);
    c.send_json(&json!({"id": 2, "method": "mining.authorize", "params": [login, "x"]}))?;
    if let Ok(a) = answer(c, r, 2) {
        r.software = r.software.take().or_else(|| software_in(&a));
    }
    read_pushes(c, r, |r| r.job && r.difficulty.is_some());
    Ok(true)
}

fn cryptonote(c: &mut Conn, r: &mut Report, login: &str) -> io::Result<bool> {
    c.send_json(&json!({"id": 1, "jsonrpc": "2.0", "method": "login",
        "params": {"login": login, "pass": "x", "agent": "minewatch-probe/1.0", "algo": ["rx/0", "cn/r", "kawpow", "argon2/chukwav2"]}}))?;
    let a = answer(c, r, 1)?;
    let result = a.get("result").cloned().unwrap_or(Value::Null);
    let error = a.get("error").filter(|e| !e.is_null());
    if result.get("job").is_none() && result.get("id").is_none() {
        // A cryptonote pool refuses a dummy wallet with an error object naming the login.
        let said = error
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase();
        if said.contains("login") || said.contains("wallet") || said.contains("address") {
            r.dialect = Some("cryptonote");
            r.reason = Some(format!("the pool refused the dummy login: {said}"));
            return Ok(true);
        }
        return Ok(false);
    }
    r.dialect = Some("cryptonote");
    if let Some(job) = result.get("job") {
        cn_job(r, job);
    }
    r.software = software_in(&result).or_else(|| {
        let ext = result.get("extensions")?.as_array()?;
        Some(format!("extensions: {}", ext.iter().filter_map(str_of).collect::<Vec<_>>().join(",")))
    });
    Ok(true)
}

fn ethproxy(c: &mut Conn, r: &mut Report, login: &str) -> io::Result<bool> {
    c.send_json(&json!({"id": 1, "jsonrpc": "2.0", "method": "eth_submitLogin", "params": [login, "x"], "worker": "probe"}))?;
    let a = answer(c, r, 1)?;
    // Only a `true` result says eth-proxy: any JSON-RPC server answers an unknown method with
    // an error.
    if a.get("result").and_then(Value::as_bool) != Some(true) {
        return Ok(false);
    }
    r.dialect = Some("ethproxy");
    c.send_json(&json!({"id": 2, "jsonrpc": "2.0", "method": "eth_getWork", "params": []}))?;
    if let Ok(a) = answer(c, r, 2) {
        if let Some(work) = a.get("result").and_then(Value::as_array) {
            r.job = work.len() >= 3;
            r.share_target = work.get(2).and_then(str_of);
            r.difficulty = work.get(2).and_then(Value::as_str).and_then(eth_boundary_difficulty);
            r.algorithm = Some("ethash".into());
        }
    }
    Ok(true)
}

fn ethstratum(c: &mut Conn, r: &mut Report, login: &str) -> io::Result<bool> {
    c.send_json(&json!({"id": 1, "method": "mining.hello",
        "params": {"agent": "minewatch-probe/1.0", "host": host_of(&r.target), "port": "0", "proto": "EthereumStratum/2.0.0"}}))?;
    let a = answer(c, r, 1)?;
    let Some(result) = a.get("result").filter(|v| v.is_object()) else { return Ok(false) };
    if !result.get("proto").and_then(Value::as_str).is_some_and(|p| p.starts_with("EthereumStratum")) {
        return Ok(false);
    }
    r.dialect = Some("ethstratum");
    r.software = software_in(result);
    c.send_json(&json!({"id": 2, "method": "mining.subscribe", "params": []}))?;
    let _ = answer(c, r, 2);
    c.send_json(&json!({"id": 3, "method": "mining.authorize", "params": [login, "x"]}))?;
    let _ = answer(c, r, 3);
    read_pushes(c, r, |r| r.job && r.share_target.is_some());
    Ok(true)
}

/// One plain SV2 frame.
fn sv2_frame(ext: u16, msg_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = ext.to_le_bytes().to_vec();
    f.push(msg_type);
    f.extend_from_slice(&(payload.len() as u32).to_le_bytes()[..3]);
    f.extend_from_slice(payload);
    f
}

fn str0_255(out: &mut Vec<u8>, s: &str) {
    let b = &s.as_bytes()[..s.len().min(255)];
    out.push(b.len() as u8);
    out.extend_from_slice(b);
}

/// The next SV2 frame: its header and payload (at most [`sv2::MAX_BODY`] bytes kept: a longer
/// frame is not one the probe asked for).
fn sv2_read(c: &mut Conn) -> io::Result<(sv2::Header, Vec<u8>)> {
    let head = c.exact(sv2::HEADER_LEN)?;
    let head: [u8; sv2::HEADER_LEN] = head.try_into().map_err(|_| io::Error::other("short header"))?;
    let h = sv2::Header::parse(&head);
    if h.len as usize > sv2::MAX_BODY {
        return Err(io::Error::other(format!("an SV2 frame of {} bytes", h.len)));
    }
    Ok((h, c.exact(h.len as usize)?))
}

fn stratum_v2(c: &mut Conn, r: &mut Report, login: &str, addr: SocketAddr) -> io::Result<bool> {
    let mut p = vec![0u8]; // the mining protocol
    p.extend_from_slice(&2u16.to_le_bytes());
    p.extend_from_slice(&2u16.to_le_bytes());
    p.extend_from_slice(&0u32.to_le_bytes());
    str0_255(&mut p, host_of(&r.target));
    p.extend_from_slice(&addr.port().to_le_bytes());
    for s in ["minewatch", "probe", env!("CARGO_PKG_VERSION"), ""] {
        str0_255(&mut p, s);
    }
    c.send(&sv2_frame(0, sv2::msg::SETUP_CONNECTION, &p))?;
    let (h, body) = sv2_read(c)?;
    match sv2::message(h, &body) {
        Some(sv2::Message::SetupConnectionSuccess { .. }) => {}
        Some(sv2::Message::SetupConnectionError { error_code, .. }) => {
            r.dialect = Some("sv2");
            r.reason = Some(format!("SetupConnection refused: {}", String::from_utf8_lossy(error_code)));
            return Ok(true);
        }
        _ => return Ok(false),
    }
    r.dialect = Some("sv2");
    let mut open = 1u32.to_le_bytes().to_vec();
    str0_255(&mut open, login);
    open.extend_from_slice(&1.0e12f32.to_le_bytes());
    open.extend_from_slice(&[0xff; 32]);
    c.send(&sv2_frame(0, sv2::msg::OPEN_STANDARD_MINING_CHANNEL, &open))?;
    for _ in 0..MAX_LINES {
        let Ok((h, body)) = sv2_read(c) else { break };
        match sv2::message(h, &body) {
            Some(sv2::Message::OpenChannelSuccess { target, .. })
            | Some(sv2::Message::SetTarget { maximum_target: target, .. }) => {
                r.difficulty = sv2::target_hashes(target).map(|h| h / 4_294_967_296.0);
                r.share_target = Some(target.iter().rev().map(|b| format!("{b:02x}")).collect());
                r.algorithm = Some("sha256d".into());
            }
            Some(sv2::Message::OpenChannelError { error_code, .. }) => {
                r.reason = Some(format!("channel refused: {}", String::from_utf8_lossy(error_code)));
                break;
            }
            Some(sv2::Message::NewJob { .. }) => r.job = true,
            _ => {}
        }
        if r.job && r.difficulty.is_some() {
            break;
        }
    }
    Ok(true)
}

/// Runs the probe. Never panics; every failure is in the report's `reason`.
pub fn probe(args: &ProbeArgs) -> Report {
    let start = Instant::now();
    let deadline = start + args.timeout;
    let mut r =
        Report { target: args.target.clone(), tls: args.tls, insecure: args.insecure, ..Report::default() };
    let addr = match args.target.to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(a)) => a,
        Ok(None) => {
            r.reason = Some("the name has no address".into());
            return r;
        }
        Err(e) => {
            r.reason = Some(format!("{}: {e}", args.target));
            return r;
        }
    };
    r.address = Some(addr.to_string());
    let tls = match args.tls.then(|| tls_config(args)).transpose() {
        Ok(t) => t,
        Err(e) => {
            r.reason = Some(e);
            return r;
        }
    };
    let dialects: &[ProbeDialect] = match args.dialect {
        ProbeDialect::Auto => &[
            ProbeDialect::Stratum1,
            ProbeDialect::Cryptonote,
            ProbeDialect::Ethproxy,
            ProbeDialect::Ethstratum,
            ProbeDialect::Sv2,
        ],
        d => std::slice::from_ref(match d {
            ProbeDialect::Stratum1 => &ProbeDialect::Stratum1,
            ProbeDialect::Cryptonote => &ProbeDialect::Cryptonote,
            ProbeDialect::Ethproxy => &ProbeDialect::Ethproxy,
            ProbeDialect::Ethstratum => &ProbeDialect::Ethstratum,
            _ => &ProbeDialect::Sv2,
        }),
    };
    let mut why = Vec::new();
    for (i, d) in dialects.iter().enumerate() {
        // Each dialect gets an equal share of the time left, so a silent server cannot take
        // the whole limit from the ones after it.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            why.push("time limit reached".to_string());
            break;
        }
        let share = left / u32::try_from(dialects.len() - i).unwrap_or(1);
        let mut c = match connect(args, addr, tls.as_ref(), Instant::now() + share) {
            Ok(c) => c,
            Err(e) => {
                r.reason = Some(format!("cannot connect: {e}"));
                return r;
            }
        };
        let login = args.login.as_str();
        let res = match d {
            ProbeDialect::Stratum1 | ProbeDialect::Auto => stratum1(&mut c, &mut r, login),
            ProbeDialect::Cryptonote => cryptonote(&mut c, &mut r, login),
            ProbeDialect::Ethproxy => ethproxy(&mut c, &mut r, login),
            ProbeDialect::Ethstratum => ethstratum(&mut c, &mut r, login),
            ProbeDialect::Sv2 => stratum_v2(&mut c, &mut r, login, addr),
        };
        match res {
            Ok(true) => {
                r.pool = true;
                return r;
            }
            Ok(false) => why.push(format!("{d:?}: no {d:?} answer").to_ascii_lowercase()),
            Err(e) => why.push(format!("{}: {e}", format!("{d:?}").to_ascii_lowercase())),
        }
    }
    r.reason = Some(format!("not a pool: {}", why.join("; ")));
    r
}

/// The report as text, one fact a line.
pub fn render(r: &Report) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut s = format!(
        "{}{}: {}\n",
        r.target,
        r.address.as_ref().map(|a| format!(" ({a})")).unwrap_or_default(),
        if r.pool { "a mining pool" } else { "not a mining pool" }
    );
    let mut line = |k: &str, v: String| s.push_str(&format!("  {k:<12}{v}\n"));
    if r.tls {
        line(
            "tls",
            if r.insecure {
                "yes, certificate NOT checked (--insecure)".into()
            } else {
                "yes, certificate checked".into()
            },
        );
    }
    if r.pool {
        line("dialect", r.dialect.unwrap_or("-").into());
        line("algorithm", opt(&r.algorithm));
        line("difficulty", r.difficulty.map_or_else(|| "-".into(), |d| d.to_string()));
        line("target", opt(&r.share_target));
        let en2 = r.extranonce2_size.map(|n| format!(" (extranonce2 size {n})")).unwrap_or_default();
        line("extranonce", format!("{}{en2}", opt(&r.extranonce)));
        line("software", opt(&r.software));
        line("job seen", if r.job { "yes" } else { "no" }.into());
    }
    if let Some(why) = &r.reason {
        line("note", why.clone());
    }
    s
}

/// `minewatch probe`: prints the report; `Ok(true)` when the endpoint is a pool.
pub fn run(args: &ProbeArgs) -> io::Result<bool> {
    let r = probe(args);
    let mut out = io::stdout().lock();
    if args.json {
        let line = serde_json::to_string(&r).map_err(io::Error::other)?;
        writeln!(out, "{line}")?;
    } else {
        write!(out, "{}", render(&r))?;
    }
    out.flush()?;
    Ok(r.pool)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_names_and_addresses() {
        assert_eq!(host_of("pool.example.net:3333"), "pool.example.net");
        assert_eq!(host_of("[2001:db8::1]:443"), "2001:db8::1");
        assert_eq!(host_of("10.0.0.1:3333"), "10.0.0.1");
    }

    #[test]
    fn pushes_fill_the_report() {
        let mut r = Report::default();
        note_push(&mut r, &json!({"id": null, "method": "mining.set_difficulty", "params": [16]}));
        note_push(&mut r, &json!({"id": null, "method": "mining.notify", "params": []}));
        assert_eq!((r.difficulty, r.job), (Some(16.0), true));
        let mut r = Report::default();
        note_push(
            &mut r,
            &json!({"jsonrpc": "2.0", "method": "job", "params": {"blob": "00", "target": "dd240601", "algo": "rx/0"}}),
        );
        assert_eq!(r.algorithm.as_deref(), Some("rx/0"));
        assert!(r.difficulty.is_some_and(|d| d > 0.0) && r.job);
    }
}
