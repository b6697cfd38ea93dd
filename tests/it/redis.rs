//! A real receiver: Debian's redis-server, started by the test on 127.0.0.1 with a free port.
//! minewatch replays the generated capture of the syslog test (sessions whose logins are full of
//! characters JSON escapes) and sends its records to Redis as a list, a stream and a channel; it
//! also writes them to a JSON file, the ground truth. Every record must arrive exactly once, byte
//! for byte as in the file, including when the server is stopped in the middle of a run and
//! started again (the records made meanwhile go to the spool and are sent after the restart).
//!
//! The test needs `redis-server` (`scripts/lib.sh` installs the `redis-server` package); without
//! it, or when it cannot start, the test says so and passes as skipped.

use crate::syslog::{capture, check_truth, free_port, multiset, records, wait_success, SENSOR};
use crate::util;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Safety net against a hang, not a performance assertion.
const LIMIT: Duration = Duration::from_secs(120);
const SESSIONS: usize = 40;

fn redis_server() -> Option<PathBuf> {
    ["/usr/bin/redis-server", "/usr/sbin/redis-server", "/usr/local/bin/redis-server"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

struct Server {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
    /// More arguments for redis-server (`--requirepass`, `--user`).
    args: Vec<String>,
    /// The user and password the test itself logs in with, when the server wants one.
    login: Option<(String, String)>,
}

impl Server {
    /// Starts the server with an append-only file written at every command, so that what it
    /// acknowledged before a restart is still there after it; waits until it answers.
    fn start(&mut self) -> Result<(), String> {
        let log = std::fs::File::create(self.dir.join("redis.log")).map_err(|e| e.to_string())?;
        let child = Command::new(&self.bin)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if let Ok(mut c) = self.conn() {
                if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                    return Ok(());
                }
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err(format!("redis-server did not answer within 30 s\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server the way an init system does (SIGTERM) and waits for it to exit.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            util::terminate(&mut c, LIMIT);
        }
    }

    fn conn(&self) -> redis::RedisResult<redis::Connection> {
        self.conn_db(0)
    }

    /// A connection to database `db`, logged in when the server wants it.
    fn conn_db(&self, db: i64) -> redis::RedisResult<redis::Connection> {
        let info = redis::ConnectionInfo {
            addr: redis::ConnectionAddr::Tcp("127.0.0.1".into(), self.port),
            redis: redis::RedisConnectionInfo {
                db,
                username: self.login.as_ref().map(|l| l.0.clone()),
                password: self.login.as_ref().map(|l| l.1.clone()),
                ..Default::default()
            },
        };
        redis::Client::open(info)?.get_connection_with_timeout(Duration::from_secs(5))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }

    fn list(&self, key: &str) -> Vec<String> {
        redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(&mut self.conn().unwrap()).unwrap()
    }

    fn stream(&self, key: &str) -> Vec<String> {
        let entries: Vec<(String, Vec<(String, String)>)> =
            redis::cmd("XRANGE").arg(key).arg("-").arg("+").query(&mut self.conn().unwrap()).unwrap();
        entries
            .into_iter()
            .map(|(_, fields)| {
                assert_eq!(fields.len(), 1, "one field per entry");
                assert_eq!(fields[0].0, "record");
                fields[0].1.clone()
            })
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A started server in a temporary directory, or `None` (the test is skipped) when there is
/// none to start.
fn server(tmp: &Path) -> Option<Server> {
    server_with(tmp, &[], None)
}

/// [`server`] with more arguments for redis-server, and the login the test uses.
fn server_with(tmp: &Path, args: &[&str], login: Option<(&str, &str)>) -> Option<Server> {
    let Some(bin) = redis_server() else {
        eprintln!(
            "SKIPPED: redis-server is not installed (scripts/lib.sh installs the redis-server package)"
        );
        return None;
    };
    let mut s = Server {
        bin,
        dir: tmp.to_path_buf(),
        port: free_port(),
        child: None,
        args: args.iter().map(|a| a.to_string()).collect(),
        login: login.map(|(u, p)| (u.to_string(), p.to_string())),
    };
    if let Err(e) = s.start() {
        eprintln!("SKIPPED: redis-server cannot be started here: {e}");
        return None;
    }
    Some(s)
}

fn replay(pcap: &Path, outputs: &[String]) -> util::RunOutput {
    let mut args: Vec<String> = ["-q", "--stats-interval", "0", "--workers", "1", "--sensor-name", SENSOR]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push("-r".into());
    args.push(pcap.display().to_string());
    for o in outputs {
        args.push("-o".into());
        args.push(o.clone());
    }
    util::run(&args, None)
}

#[test]
fn every_record_arrives_once_in_a_list_and_in_a_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(srv) = server(tmp.path()) else { return };
    let pcap = tmp.path().join("many.pcap");
    std::fs::write(&pcap, capture(0..SESSIONS, true)).unwrap();
    let truth = tmp.path().join("truth.json");
    let p = srv.port;
    let out = replay(
        &pcap,
        &[
            format!("json:{}", truth.display()),
            format!("json:redis://127.0.0.1:{p}/mw-alerts?mode=list"),
            format!("json:redis://127.0.0.1:{p}/mw-stream?mode=stream"),
            format!("json:redis://127.0.0.1:{p}/mw-suricata?mode=lpush&types=mining"),
        ],
    );
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let want = records(&truth);
    check_truth(&want, SESSIONS);
    assert_eq!(want.len(), 2 * SESSIONS + 1, "alerts, session records and the stats record");
    let list = srv.list("mw-alerts");
    assert_eq!(list, want, "list: RPUSH keeps the order, every record once");
    let stream = srv.stream("mw-stream");
    assert_eq!(stream, want, "stream: every record once, in order");
    // LPUSH: newest first; `types=mining` keeps the session and stats records out.
    let mut lpushed = srv.list("mw-suricata");
    lpushed.reverse();
    let mining: Vec<String> = want
        .iter()
        .filter(|l| serde_json::from_str::<Value>(l).unwrap()["event_type"] == "mining")
        .cloned()
        .collect();
    assert_eq!(mining.len(), SESSIONS);
    assert_eq!(lpushed, mining);
    let stats: Value = serde_json::from_str(want.last().unwrap()).unwrap();
    assert_eq!(stats["event_type"], "stats");
    assert_eq!(stats["stats"]["output_send_errors"], 0, "{stats}");
}

#[test]
fn a_channel_subscriber_gets_every_record() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(srv) = server(tmp.path()) else { return };
    let mut sub = srv.conn().unwrap();
    sub.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let listener = std::thread::spawn(move || {
        let mut ps = sub.as_pubsub();
        ps.subscribe("mw-channel").unwrap();
        let started = Instant::now();
        while started.elapsed() < LIMIT && !stopped.load(std::sync::atomic::Ordering::Relaxed) {
            match ps.get_message() {
                Ok(m) => {
                    if tx.send(m.get_payload::<String>().unwrap()).is_err() {
                        return;
                    }
                }
                Err(e) if e.is_timeout() => continue,
                Err(e) => panic!("subscriber: {e}"),
            }
        }
    });
    // Publish only once the subscription is in place.
    let started = Instant::now();
    loop {
        let n: Vec<(String, u64)> =
            redis::cmd("PUBSUB").arg("NUMSUB").arg("mw-channel").query(&mut srv.conn().unwrap()).unwrap();
        if n.first().map(|x| x.1) == Some(1) {
            break;
        }
        assert!(started.elapsed() < LIMIT, "the subscriber never subscribed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pcap = tmp.path().join("many.pcap");
    std::fs::write(&pcap, capture(0..SESSIONS, true)).unwrap();
    let truth = tmp.path().join("truth.json");
    let out = replay(
        &pcap,
        &[
            format!("json:{}", truth.display()),
            format!("json:redis://127.0.0.1:{}/mw-channel?mode=channel", srv.port),
        ],
    );
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let want = records(&truth);
    assert_eq!(want.len(), 2 * SESSIONS + 1);
    let mut got = Vec::new();
    while got.len() < want.len() {
        match rx.recv_timeout(LIMIT) {
            Ok(m) => got.push(m),
            Err(e) => panic!("{} of {} records published: {e}", got.len(), want.len()),
        }
    }
    // A moment more, so that a duplicate would have arrived too.
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err(), "more records than were sent");
    assert_eq!(got, want);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    listener.join().unwrap();
}

#[test]
fn every_record_arrives_exactly_once_across_a_server_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(mut srv) = server(tmp.path()) else { return };
    let truth = tmp.path().join("truth.json");
    let spool = tmp.path().join("spool");
    let mut mw = Command::new(util::bin())
        .args(["-q", "--stats-interval", "0", "--workers", "1", "--drain-timeout", "100s"])
        .args(["--sensor-name", SENSOR, "-r", "-", "--spool"])
        .arg(&spool)
        .arg("-o")
        .arg(format!("json:{}", truth.display()))
        .arg("-o")
        .arg(format!("json:redis://127.0.0.1:{}/mw-alerts?mode=list", srv.port))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = mw.stdin.take().unwrap();
    let half = SESSIONS / 2;
    stdin.write_all(&capture(0..half, true)).unwrap();
    stdin.flush().unwrap();
    // Both records of every session in the first half reach the server.
    let started = Instant::now();
    while srv.list("mw-alerts").len() < 2 * half {
        assert!(started.elapsed() < LIMIT, "first half: {} records", srv.list("mw-alerts").len());
        std::thread::sleep(Duration::from_millis(50));
    }
    srv.stop();
    stdin.write_all(&capture(half..SESSIONS, false)).unwrap();
    stdin.flush().unwrap();
    // Records of the second half are made while the server is down.
    std::thread::sleep(Duration::from_millis(500));
    srv.start().unwrap();
    drop(stdin);
    wait_success(&mut mw);
    let want = records(&truth);
    check_truth(&want, SESSIONS);
    let got = srv.list("mw-alerts");
    assert_eq!(got.len(), want.len(), "every record exactly once");
    assert_eq!(multiset(&got), multiset(&want), "the server's records differ from minewatch's file");
    let stats: Value = serde_json::from_str(want.last().unwrap()).unwrap();
    assert_eq!(stats["event_type"], "stats");
    assert!(stats["stats"]["output_connect_failures"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(stats["stats"]["output_queue_dropped"], 0);
    srv.stop();
}

/// AUTH and SELECT: a server that requires a password (`--requirepass`) and has an ACL user
/// whose password holds URL-special characters. An ACL user (percent-encoded in the URL) writing
/// to database 3, and the default user with the password alone, each get every record once; the
/// key is in database 3 and not in 0. A wrong password is one line on standard error, and no
/// record reaches the server.
#[test]
fn auth_with_a_user_or_a_password_and_a_database() {
    let tmp = tempfile::tempdir().unwrap();
    let acl = "sensor on >p@ss/w:rd ~mw-* +@all";
    let Some(srv) =
        server_with(tmp.path(), &["--requirepass", "s3cret", "--user", acl], Some(("default", "s3cret")))
    else {
        return;
    };
    let pcap = tmp.path().join("many.pcap");
    std::fs::write(&pcap, capture(0..10, true)).unwrap();
    let truth = tmp.path().join("truth.json");
    let p = srv.port;
    let out = replay(
        &pcap,
        &[
            format!("json:{}", truth.display()),
            format!("json:redis://sensor:p%40ss%2Fw%3Ard@127.0.0.1:{p}/mw-acl?db=3"),
            format!("json:redis://:s3cret@127.0.0.1:{p}/mw-legacy"),
        ],
    );
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert!(out.stderr.is_empty(), "{}", out.describe());
    let want = records(&truth);
    check_truth(&want, 10);
    let in_db = |db: i64, key: &str| -> Vec<String> {
        redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(&mut srv.conn_db(db).unwrap()).unwrap()
    };
    assert_eq!(in_db(3, "mw-acl"), want, "the ACL user's records, in database 3");
    assert!(in_db(0, "mw-acl").is_empty(), "database 0 has no mw-acl");
    assert_eq!(in_db(0, "mw-legacy"), want, "the default user's records");

    // A wrong password: one line, and nothing written.
    let wrong = format!("json:redis://sensor:wrong@127.0.0.1:{p}/mw-wrong");
    let out = util::run(
        &["-q", "--workers", "1", "--drain-timeout", "2s", "-r", &pcap.display().to_string(), "-o", &wrong],
        None,
    );
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{}", out.describe());
    assert!(lines[0].contains("redis://sensor:***@") && lines[0].contains("refused"), "{}", lines[0]);
    assert!(!out.stderr.contains("wrong"), "the password shows: {}", out.stderr);
    assert!(in_db(0, "mw-wrong").is_empty());
}
