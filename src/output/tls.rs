//! Syslog over TLS (RFC 5425): the records of `syslog+tls://HOST:PORT`, octet-counted as over
//! plain TCP, inside a TLS connection made with rustls.
//!
//! It is a [`Link`] of the stream outputs' sender thread ([`super::net`]): the same bounded queue,
//! spool, reconnect with backoff, counters and drain as syslog over TCP. A record is written
//! only once the handshake is complete, so a server whose certificate does not verify (unknown
//! CA, wrong name, expired) gets the ClientHello and nothing else: the records stay in the queue
//! or go to the spool, and the failure is said once on standard error (again only after a
//! connection has succeeded in between), besides being counted in `output_connect_failures`.
//!
//! The server's certificate is checked against the CA file (`ca=`, PEM; by default the system's
//! bundle) and the name (`name=`, by default the host of `HOST:PORT`, which may be an address);
//! a client certificate (`cert=` and `key=`, PEM) is offered when the receiver asks for one.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use super::net::{Conn, Delivery, Link};
use super::syslog;

/// How long one connection attempt (TCP and handshake), and one write, may take.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// The CA bundle used when `ca=` is not given: Debian's (and Ubuntu's) system bundle.
pub const SYSTEM_CA: &str = "/etc/ssl/certs/ca-certificates.crt";
/// Reads of what the receiver sent, at most, in one check that it is still there.
const POLL_READS: usize = 64;
/// The largest PEM file read (a system CA bundle is a few hundred KiB).
const MAX_PEM: u64 = 16 << 20;

/// Where a syslog-over-TLS output sends, and how it checks the receiver:
/// `syslog+tls://HOST:PORT[?ca=FILE][&cert=FILE&key=FILE][&name=NAME]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TlsTarget {
    /// `HOST:PORT`, checked but not resolved.
    pub addr: String,
    /// PEM file of the CA certificates the server's certificate must chain to.
    pub ca: Option<PathBuf>,
    /// PEM files of the client certificate (chain) and its private key, for mutual TLS.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// The name the server's certificate must hold; the host of `addr` when absent.
    pub name: Option<String>,
}

impl TlsTarget {
    /// The target as the user wrote it (without `types=`), for labels.
    pub fn label(&self) -> String {
        let mut s = format!("syslog+tls://{}", self.addr);
        let opts = [
            ("ca", self.ca.as_ref().map(|p| p.display().to_string())),
            ("cert", self.cert.as_ref().map(|p| p.display().to_string())),
            ("key", self.key.as_ref().map(|p| p.display().to_string())),
            ("name", self.name.clone()),
        ];
        let mut sep = '?';
        for (k, v) in opts {
            if let Some(v) = v {
                s.push_str(&format!("{sep}{k}={v}"));
                sep = '&';
            }
        }
        s
    }

    /// The CA file in use.
    pub fn ca_file(&self) -> &Path {
        self.ca.as_deref().unwrap_or(Path::new(SYSTEM_CA))
    }

    /// The name the server's certificate is checked against: `name=`, else the host of
    /// `HOST:PORT` (brackets of an IPv6 address taken off).
    pub fn server_name(&self) -> Result<ServerName<'static>, TlsError> {
        let host = match &self.name {
            Some(n) => n.as_str(),
            None => {
                let host = self.addr.rsplit_once(':').map_or(self.addr.as_str(), |(h, _)| h);
                host.trim_start_matches('[').trim_end_matches(']')
            }
        };
        ServerName::try_from(host.to_string()).map_err(|_| TlsError::Name(host.to_string()))
    }
}

/// Why a TLS output's files or name were refused: one line, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("{0:?} is not a valid server name")]
    Name(String),
    #[error("cert= and key= go together")]
    HalfPair,
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
}

fn read_pem(path: &Path) -> Result<Vec<u8>, TlsError> {
    let fail = |reason: String| TlsError::File { path: path.to_path_buf(), reason };
    let f = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let mut buf = Vec::new();
    f.take(MAX_PEM + 1).read_to_end(&mut buf).map_err(|e| fail(e.to_string()))?;
    if buf.len() as u64 > MAX_PEM {
        return Err(fail(format!("larger than {} MiB", MAX_PEM >> 20)));
    }
    Ok(buf)
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let fail = |reason: String| TlsError::File { path: path.to_path_buf(), reason };
    let pem = read_pem(path)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| fail(format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(fail("holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// Loads the CA file, and the client certificate and key when given, into a client
/// configuration: at start (and in `--test-config`), so that a bad file is one line then.
pub fn client_config(t: &TlsTarget) -> Result<Arc<ClientConfig>, TlsError> {
    let ca = t.ca_file();
    let mut roots = RootCertStore::empty();
    for c in certs(ca)? {
        roots.add(c).map_err(|e| TlsError::File { path: ca.to_path_buf(), reason: e.to_string() })?;
    }
    t.server_name()?;
    // ring, not aws-lc-rs: it builds with a C compiler alone (aws-lc-sys may want cmake), and
    // no syslog receiver offers the post-quantum key exchange it lacks (rsyslog's GnuTLS and
    // OpenSSL drivers on Debian 12 do not), which is why rustls 0.23.48 deprecates it.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let config = match (&t.cert, &t.key) {
        (Some(cert), Some(key)) => {
            let chain = certs(cert)?;
            let pem = read_pem(key)?;
            let key_der = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError::File {
                path: key.clone(),
                reason: format!("not a PEM private key file: {e}"),
            })?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| TlsError::File {
                path: key.clone(),
                reason: format!("does not go with {}: {e}", cert.display()),
            })?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(TlsError::HalfPair),
    };
    Ok(Arc::new(config))
}

/// Connects to the receiver at a resolved address and completes the handshake.
pub struct TlsLink {
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    label: String,
    /// The handshake failure said last on standard error, so that a receiver that keeps
    /// failing the same way is one line, not one per attempt.
    said: Option<String>,
}

impl TlsLink {
    pub fn new(addr: SocketAddr, target: &TlsTarget, label: String) -> Result<TlsLink, TlsError> {
        Ok(TlsLink { addr, config: client_config(target)?, name: target.server_name()?, label, said: None })
    }
}

struct TlsConn {
    sock: TcpStream,
    tls: ClientConnection,
    frame: Vec<u8>,
}

impl Link for TlsLink {
    fn connect(&mut self) -> io::Result<Box<dyn Conn>> {
        let mut sock = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT)?;
        sock.set_write_timeout(Some(IO_TIMEOUT))?;
        sock.set_read_timeout(Some(IO_TIMEOUT))?;
        let mut tls =
            ClientConnection::new(self.config.clone(), self.name.clone()).map_err(io::Error::other)?;
        while tls.is_handshaking() {
            if let Err(e) = tls.complete_io(&mut sock) {
                // An error of rustls (the certificate, the protocol) is said once; a reset or a
                // timeout is the network's and only counted, as for plain TCP.
                if let Some(t) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                    let what = format!("TLS handshake with {} failed: {t}", self.addr);
                    if self.said.as_deref() != Some(what.as_str()) {
                        eprintln!(
                            "minewatch: {}: {what}; records are kept (queue or spool), none sent",
                            self.label
                        );
                        self.said = Some(what);
                    }
                }
                return Err(e);
            }
        }
        self.said = None;
        // Written records go out at once; a read (of what the receiver sends, e.g. session
        // tickets) is only ever tried without blocking.
        let _ = sock.set_nodelay(true);
        Ok(Box::new(TlsConn { sock, tls, frame: Vec::new() }))
    }
}

impl TlsConn {
    /// Writes out everything rustls holds for the network.
    fn flush(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            self.tls.write_tls(&mut self.sock)?;
        }
        Ok(())
    }

    /// Reads what the receiver sent, without blocking: `false` once it closed. A receiver that
    /// keeps sending is read at most [`POLL_READS`] times per check, so it cannot hold the sender.
    fn poll_open(&mut self) -> io::Result<bool> {
        let mut plain = [0u8; 256];
        for _ in 0..POLL_READS {
            match self.tls.read_tls(&mut self.sock) {
                Ok(0) => return Ok(false),
                Ok(_) => {
                    let state = self.tls.process_new_packets().map_err(io::Error::other)?;
                    if state.peer_has_closed() {
                        return Ok(false);
                    }
                    // Syslog receivers send no data; whatever they send is read and dropped.
                    while let Ok(n) = self.tls.reader().read(&mut plain) {
                        if n == 0 {
                            return Ok(false);
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

impl Conn for TlsConn {
    /// As for plain TCP: a receiver that restarts closes the connection (with a TLS
    /// close_notify or without), and that shows as something to read before the next burst.
    fn alive(&mut self) -> bool {
        if self.sock.set_nonblocking(true).is_err() {
            return false;
        }
        let open = self.poll_open();
        self.sock.set_nonblocking(false).is_ok() && matches!(open, Ok(true)) && self.flush().is_ok()
    }

    fn send(&mut self, msg: &[u8]) -> Delivery {
        self.frame.clear();
        syslog::octet_counted(msg, &mut self.frame);
        let mut off = 0;
        while off < self.frame.len() {
            // rustls takes plaintext up to its buffer limit; what it took is written out before
            // more is given, so a record of any size goes through a bounded buffer.
            match self.tls.writer().write(&self.frame[off..]) {
                Ok(n) if n > 0 => off += n,
                _ => return Delivery::Lost,
            }
            if self.flush().is_err() {
                return Delivery::Lost;
            }
        }
        Delivery::Delivered
    }

    fn close(&mut self) {
        self.tls.send_close_notify();
        let _ = self.flush();
        let _ = self.sock.shutdown(std::net::Shutdown::Write);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(addr: &str, name: Option<&str>) -> TlsTarget {
        TlsTarget { addr: addr.into(), ca: None, cert: None, key: None, name: name.map(Into::into) }
    }

    #[test]
    fn server_name_is_the_host_unless_given() {
        let n = |t: TlsTarget| t.server_name().unwrap().to_str().into_owned();
        assert_eq!(n(target("logs.example.org:6514", None)), "logs.example.org");
        assert_eq!(n(target("127.0.0.1:6514", None)), "127.0.0.1");
        assert_eq!(n(target("[::1]:6514", None)), "::1");
        assert_eq!(n(target("127.0.0.1:6514", Some("siem.example"))), "siem.example");
        assert!(target("h:1", Some("bad name!")).server_name().is_err());
    }

    #[test]
    fn bad_files_are_one_line_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let mut t = target("h:1", None);
        t.ca = Some(empty.clone());
        let e = client_config(&t).unwrap_err().to_string();
        assert!(e.contains("empty.pem") && e.contains("no PEM certificate"), "{e}");
        t.ca = Some(dir.path().join("missing.pem"));
        let e = client_config(&t).unwrap_err().to_string();
        assert!(e.contains("missing.pem"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn label_lists_the_options_given() {
        let mut t = target("h:6514", None);
        assert_eq!(t.label(), "syslog+tls://h:6514");
        t.ca = Some("/etc/ca.pem".into());
        t.name = Some("siem".into());
        assert_eq!(t.label(), "syslog+tls://h:6514?ca=/etc/ca.pem&name=siem");
    }
}
