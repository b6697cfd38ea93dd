//! Syslog over TLS (RFC 5425) against a real receiver: Debian's rsyslog with its GnuTLS driver
//! (`rsyslog-gnutls`), started by the test on 127.0.0.1, with certificates the test makes
//! (`rcgen`): a CA, the server's certificate for the name `siem.test`, and a client certificate
//! that rsyslog requires (`x509/certvalid`). minewatch's own JSON file is the ground truth.
//!
//! - Every record arrives exactly once across a receiver restart.
//! - A server certificate that does not verify (another CA; the right CA but another name) is
//!   one line on standard error, and no record reaches rsyslog: they go to the spool, from which
//!   a later run with the right CA delivers them.
//! - A plain TCP listener posing as the receiver gets a TLS ClientHello and no record text.
//!
//! Without `rsyslogd` or its TLS driver the tests say SKIPPED and pass (`scripts/lib.sh`
//! installs `rsyslog-gnutls`).

use crate::syslog::{capture, check_truth, free_port, multiset, records, wait_success, SENSOR};
use crate::util;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use serde_json::Value;

/// Safety net against a hang, not a performance assertion.
const LIMIT: Duration = Duration::from_secs(120);
const SESSIONS: usize = 40;
const SERVER_NAME: &str = "siem.test";

fn rsyslogd() -> Option<PathBuf> {
    let bin = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"].iter().map(PathBuf::from).find(|p| p.is_file())?;
    // The GnuTLS network stream driver (package rsyslog-gnutls).
    // /usr/lib/rsyslog or /usr/lib/<multiarch triple>/rsyslog.
    let mut dirs = vec![PathBuf::from("/usr/lib")];
    dirs.extend(std::fs::read_dir("/usr/lib").into_iter().flatten().flatten().map(|e| e.path()));
    let driver = dirs.iter().any(|d| d.join("rsyslog/lmnsd_gtls.so").is_file());
    driver.then_some(bin)
}

/// A CA and a certificate it signed, as PEM files in `dir`: `NAME.pem` and `NAME.key`.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Ca {
    fn new(cn: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, cn);
        let pem = p.self_signed(&key).unwrap().pem();
        Ca { issuer: Issuer::new(p, key), pem }
    }

    fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(format!("{name}.pem"));
        std::fs::write(&path, &self.pem).unwrap();
        path
    }

    /// A leaf certificate for `san`, written as `NAME.pem` and `NAME.key`.
    fn leaf(&self, dir: &Path, name: &str, san: &str) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec![san.to_string()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, san);
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        let (c, k) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }
}

/// Everything a test needs: rsyslog's directory, port, and the files minewatch is given.
struct Setup {
    dir: PathBuf,
    port: u16,
    ca: PathBuf,
    other_ca: PathBuf,
    client: (PathBuf, PathBuf),
    rsyslog: Rsyslog,
}

impl Setup {
    /// `None` (after saying SKIPPED) when rsyslog with its TLS driver is not there or does not
    /// start.
    fn new(tmp: &Path) -> Option<Setup> {
        let Some(bin) = rsyslogd() else {
            eprintln!("SKIPPED: rsyslogd with its GnuTLS driver is not installed (scripts/lib.sh installs rsyslog-gnutls)");
            return None;
        };
        let dir = tmp.to_path_buf();
        let ca = Ca::new("minewatch test CA");
        let ca_file = ca.write(&dir, "ca");
        let other_ca = Ca::new("another CA").write(&dir, "other-ca");
        let (server_cert, server_key) = ca.leaf(&dir, "server", SERVER_NAME);
        let client = ca.leaf(&dir, "client", "sensor.test");
        let port = free_port();
        let d = dir.display();
        let conf = format!(
            r#"$MaxMessageSize 64k
global(workDirectory="{d}"
       defaultNetstreamDriver="gtls"
       defaultNetstreamDriverCAFile="{ca}"
       defaultNetstreamDriverCertFile="{cert}"
       defaultNetstreamDriverKeyFile="{key}")
module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="x509/certvalid")
template(name="msgonly" type="string" string="%msg%\n")
ruleset(name="tls") {{ action(type="omfile" file="{d}/tls.log" template="msgonly") }}
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="tls")
"#,
            ca = ca_file.display(),
            cert = server_cert.display(),
            key = server_key.display(),
        );
        std::fs::write(dir.join("rsyslog.conf"), conf).unwrap();
        let mut rsyslog = Rsyslog { bin, dir: dir.clone(), child: None };
        if let Err(e) = rsyslog.start().and_then(|()| listening(port)) {
            eprintln!("SKIPPED: rsyslogd cannot be started here: {e}\n{}", rsyslog.stderr());
            return None;
        }
        Some(Setup { dir, port, ca: ca_file, other_ca, client, rsyslog })
    }

    fn target(&self, ca: &Path, name: &str) -> String {
        format!(
            "json:syslog+tls://127.0.0.1:{}?ca={}&cert={}&key={}&name={name}",
            self.port,
            ca.display(),
            self.client.0.display(),
            self.client.1.display()
        )
    }

    fn received(&self) -> Vec<String> {
        records(&self.dir.join("tls.log"))
    }
}

struct Rsyslog {
    bin: PathBuf,
    dir: PathBuf,
    child: Option<Child>,
}

impl Rsyslog {
    fn start(&mut self) -> Result<(), String> {
        let log = std::fs::File::create(self.dir.join("rsyslogd.stderr")).map_err(|e| e.to_string())?;
        let child = Command::new(&self.bin)
            .arg("-n")
            .arg("-f")
            .arg(self.dir.join("rsyslog.conf"))
            .arg("-i")
            .arg(self.dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// Stops rsyslog the way an init system does (SIGTERM) and waits for it to exit.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            util::terminate(&mut c, LIMIT);
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("rsyslogd.stderr")).unwrap_or_default()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Waits until something accepts TCP connections on the port (a TLS receiver cannot be probed
/// with a plain message; minewatch reconnects anyway).
fn listening(port: u16) -> Result<(), String> {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!("nothing listens on port {port} after 30 s"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Waits until `path` holds at least `n` records.
fn wait_for(path: &Path, n: usize, what: &str) -> Vec<String> {
    let started = Instant::now();
    loop {
        let r = records(path);
        if r.len() >= n {
            return r;
        }
        assert!(started.elapsed() < LIMIT, "{what}: {} of {n} records in {}", r.len(), path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn alerts(r: &[String]) -> Vec<String> {
    r.iter().filter(|l| !l.contains("\"event_type\":\"stats\"")).cloned().collect()
}

/// Runs minewatch over a capture file of `sessions` to `target`, with a spool; returns its
/// stderr and the JSON records it wrote to its own file.
fn run_to(dir: &Path, tag: &str, sessions: usize, target: &str, spool: &Path) -> (String, Vec<String>) {
    let pcap = dir.join(format!("{tag}.pcap"));
    std::fs::write(&pcap, capture(0..sessions, true)).unwrap();
    let truth = dir.join(format!("{tag}-truth.json"));
    let out = util::run(
        &[
            "-q".as_ref(),
            "--stats-interval".as_ref(),
            "0".as_ref(),
            "--workers".as_ref(),
            "1".as_ref(),
            "--drain-timeout".as_ref(),
            "3s".as_ref(),
            "--sensor-name".as_ref(),
            SENSOR.as_ref(),
            "--spool".as_ref(),
            spool.as_os_str(),
            "-r".as_ref(),
            pcap.as_os_str(),
            "-o".as_ref(),
            format!("json:{}", truth.display()).as_ref(),
            "-o".as_ref(),
            target.as_ref(),
        ],
        None,
    );
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    (out.stderr.clone(), records(&truth))
}

#[test]
fn rsyslog_over_tls_receives_every_record_exactly_once_across_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(mut s) = Setup::new(tmp.path()) else { return };
    let truth = s.dir.join("truth.json");
    let mut mw = Command::new(util::bin())
        .args(["-q", "--stats-interval", "0", "--workers", "1", "--drain-timeout", "100s"])
        .args(["--sensor-name", SENSOR, "-r", "-"])
        .arg("-o")
        .arg(format!("json:{}", truth.display()))
        .arg("-o")
        .arg(s.target(&s.ca, SERVER_NAME))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = mw.stdin.take().unwrap();
    let half = SESSIONS / 2;
    stdin.write_all(&capture(0..half, true)).unwrap();
    stdin.flush().unwrap();
    wait_for(&s.dir.join("tls.log"), 2 * half, "TLS before the restart");
    s.rsyslog.stop();
    stdin.write_all(&capture(half..SESSIONS, false)).unwrap();
    stdin.flush().unwrap();
    // Records of the second half are made while rsyslog is down.
    std::thread::sleep(Duration::from_millis(500));
    s.rsyslog.start().unwrap();
    drop(stdin);
    wait_success(&mut mw);
    let want = records(&truth);
    check_truth(&want, SESSIONS);
    let got = wait_for(&s.dir.join("tls.log"), want.len(), "TLS after the restart");
    // A moment more, so that a duplicate would have arrived too.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(s.received().len(), got.len(), "more records arrived than were sent");
    assert_eq!(multiset(&got), multiset(&want), "rsyslog's records differ from minewatch's file");
    let stats: Value = serde_json::from_str(want.last().unwrap()).unwrap();
    assert_eq!(stats["event_type"], "stats");
    assert!(stats["stats"]["output_connect_failures"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(stats["stats"]["output_queue_dropped"], 0);
    s.rsyslog.stop();
}

#[test]
fn a_certificate_that_does_not_verify_is_one_line_and_the_records_wait_in_the_spool() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(mut s) = Setup::new(tmp.path()) else { return };
    let spool = s.dir.join("spool");
    let sessions = 5;
    for (tag, target, why) in [
        ("wrong-ca", s.target(&s.other_ca, SERVER_NAME), "UnknownIssuer"),
        ("wrong-name", s.target(&s.ca, "other.test"), "not valid for name"),
    ] {
        let (stderr, truth) = run_to(&s.dir, tag, sessions, &target, &spool);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{tag}: one line on stderr, got {stderr:?}");
        assert!(lines[0].contains("TLS handshake") && lines[0].contains(why), "{tag}: {stderr}");
        assert!(lines[0].contains("none sent"), "{tag}: {stderr}");
        assert_eq!(truth.len(), 2 * sessions + 1, "{tag}: alerts, session records, stats");
        assert!(s.received().is_empty(), "{tag}: rsyslog received {:?}", s.received());
    }
    // The spool holds both runs' records (alerts, session records and stats): a run with the
    // right CA and nothing to replay delivers them, once each.
    let (stderr, _) = run_to(&s.dir, "right", 0, &s.target(&s.ca, SERVER_NAME), &spool);
    assert!(stderr.is_empty(), "{stderr}");
    let got = wait_for(&s.dir.join("tls.log"), 2 * (2 * sessions + 1) + 1, "the spool");
    let mut want = alerts(&records(&s.dir.join("wrong-ca-truth.json")));
    want.extend(alerts(&records(&s.dir.join("wrong-name-truth.json"))));
    assert_eq!(want.len(), 2 * 2 * sessions);
    assert_eq!(multiset(&alerts(&got)), multiset(&want), "the spooled records, once each");
    s.rsyslog.stop();
}

#[test]
fn a_plain_tcp_listener_posing_as_the_receiver_gets_no_record_text() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(mut s) = Setup::new(tmp.path()) else { return };
    s.rsyslog.stop();
    let poser = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = poser.local_addr().unwrap().port();
    // Reads whatever each connection sends, answers in plain text, and keeps it all.
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        poser.set_nonblocking(true).unwrap();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(8) {
            match poser.accept() {
                Ok((mut c, _)) => {
                    c.set_nonblocking(false).unwrap();
                    c.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
                    let mut buf = [0u8; 4096];
                    if let Ok(n) = c.read(&mut buf) {
                        seen.push(buf[..n].to_vec());
                    }
                    let _ = c.write_all(b"220 plain text, no TLS here\r\n");
                    let mut rest = Vec::new();
                    let _ = c.read_to_end(&mut rest);
                    if let Some(l) = seen.last_mut() {
                        l.extend_from_slice(&rest);
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        seen
    });
    let target = format!(
        "json:syslog+tls://127.0.0.1:{port}?ca={}&cert={}&key={}&name={SERVER_NAME}",
        s.ca.display(),
        s.client.0.display(),
        s.client.1.display()
    );
    let (stderr, truth) = run_to(&s.dir, "poser", 3, &target, &s.dir.join("spool"));
    assert_eq!(truth.len(), 7);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("TLS handshake"), "{stderr}");
    let seen = reader.join().unwrap();
    assert!(!seen.is_empty(), "minewatch never connected");
    for conn in &seen {
        assert_eq!(conn.first(), Some(&0x16), "a TLS handshake record opens each connection");
        let text = String::from_utf8_lossy(conn);
        for needle in ["mining", "bc1q", "stratum", SENSOR] {
            assert!(!text.contains(needle), "the poser read {needle:?} in {text:?}");
        }
    }
}

/// `--test-config` loads the CA, certificate and key files as a run would: good files pass and
/// show in the summary; a CA file with no certificate and a key that does not go with its
/// certificate are one line each, naming the file. Needs no rsyslog.
#[test]
fn test_config_loads_the_tls_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ca = Ca::new("minewatch test CA");
    let ca_file = ca.write(dir, "ca");
    let (cert, key) = ca.leaf(dir, "client", "sensor.test");
    let (_, other_key) = ca.leaf(dir, "other", "other.test");
    let not_pem = dir.join("not.pem");
    std::fs::write(&not_pem, "hello\n").unwrap();
    let spec = |ca: &Path, key: &Path| {
        format!(
            "syslog+tls://127.0.0.1:6514?ca={}&cert={}&key={}",
            ca.display(),
            cert.display(),
            key.display()
        )
    };
    let check = |outputs: &[String]| {
        let mut args: Vec<String> = vec!["-i".into(), "lo".into(), "--test-config".into()];
        for o in outputs {
            args.extend(["-o".to_string(), o.clone()]);
        }
        util::run(&args, None)
    };
    let good = spec(&ca_file, &key);
    let out = check(std::slice::from_ref(&good));
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert!(out.stdout.contains(&format!("{good} (syslog over TLS, json)")), "{}", out.describe());

    let out = check(&[spec(&not_pem, &key), spec(&ca_file, &other_key)]);
    assert_eq!(out.code(), Some(2), "{}", out.describe());
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 2, "{}", out.describe());
    assert!(lines[0].contains("not.pem: holds no PEM certificate"), "{}", lines[0]);
    assert!(lines[1].contains("other.key: does not go with"), "{}", lines[1]);
}
