//! The Redis output, as Suricata has one: each record (the formatted line, no syslog header) is
//! appended to a list (`RPUSH`, or `LPUSH` as Suricata's `list` mode), published on a channel
//! (`PUBLISH`) or added to a stream (`XADD`), so that Logstash, Vector or a consumer of one's own
//! takes alerts from a fleet of sensors. `USER:PASSWORD@` in the URL logs in (`AUTH`) and `db=`
//! selects a database (`SELECT`) on every connection.
//!
//! It is a [`Link`] of the stream outputs' sender thread ([`super::net`]): the same bounded queue,
//! spool, reconnect with backoff, counters and drain as syslog over TCP. Unlike syslog, every
//! Redis command has a reply, so a record counts as delivered only once the server has
//! answered it, and a record whose command got no reply is kept and sent again after a reconnect.
//! A server that closes its connections before it stops (SIGTERM, `SHUTDOWN`) therefore loses
//! nothing and gets nothing twice; one that dies between executing a command and answering it
//! gets that record twice (at least once, never silently lost).
//!
//! The `redis` crate (default features off) speaks RESP: its synchronous connection suits a
//! sender thread of its own, so no hand-written protocol code is needed.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::net::{Conn, Delivery, Link};

/// How long one connection attempt, and one command, may take.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// The stream length `XADD` trims to (approximately) by default, as Suricata's
/// `stream-maxlen`: a stream that nobody reads must not fill the server's memory.
pub const STREAM_MAXLEN: u64 = 100_000;
/// The stream entry's field that holds the record.
pub const STREAM_FIELD: &str = "record";

/// Which Redis command carries the records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// `RPUSH KEY record`: a consumer's `LPOP`/`BLPOP` takes the oldest first.
    List,
    /// `LPUSH KEY record`, as Suricata's `list` mode writes.
    Lpush,
    /// `PUBLISH KEY record`: only subscribers present at the time get it (Redis keeps nothing).
    Channel,
    /// `XADD KEY MAXLEN ~ N * record RECORD`.
    Stream,
}

impl Mode {
    pub const ALL: [Mode; 4] = [Mode::List, Mode::Lpush, Mode::Channel, Mode::Stream];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::List => "list",
            Mode::Lpush => "lpush",
            Mode::Channel => "channel",
            Mode::Stream => "stream",
        }
    }
}

/// Where a Redis output sends: `redis://[USER:PASSWORD@]HOST:PORT/KEY?mode=...[&maxlen=N][&db=N]`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RedisTarget {
    /// `HOST:PORT`, checked but not resolved.
    pub addr: String,
    pub key: String,
    pub mode: Mode,
    /// Stream mode: the approximate length `XADD` trims the stream to; 0 for no trimming.
    pub maxlen: u64,
    /// `AUTH [USER] PASSWORD` on every connection: an ACL user (Redis 6 and later), or the
    /// default user's `requirepass` when there is no user. Percent-decoded from the URL.
    pub user: Option<String>,
    pub password: Option<String>,
    /// The database `SELECT`ed on every connection (0 by default, as Redis's own).
    pub db: u32,
}

/// The password never shows: not in a label, a spool directory name, a metric or a `{:?}`.
impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

impl RedisTarget {
    /// The target as the user wrote it (without `types=`), for labels and spool names; a
    /// password is written `***`.
    pub fn label(&self) -> String {
        let auth = match (&self.user, &self.password) {
            (Some(u), _) => format!("{u}:***@"),
            (None, Some(_)) => ":***@".to_string(),
            (None, None) => String::new(),
        };
        let mut s = format!("redis://{auth}{}/{}?mode={}", self.addr, self.key, self.mode.as_str());
        if self.mode == Mode::Stream && self.maxlen != STREAM_MAXLEN {
            s.push_str(&format!("&maxlen={}", self.maxlen));
        }
        if self.db != 0 {
            s.push_str(&format!("&db={}", self.db));
        }
        s
    }
}

/// Connects to the server at a resolved address.
pub struct RedisLink {
    addr: SocketAddr,
    target: RedisTarget,
    /// The server's refusal said last on standard error (a wrong password, a database that
    /// does not exist), so that a server that keeps refusing is one line, not one per attempt.
    said: Option<String>,
}

impl RedisLink {
    pub fn new(addr: SocketAddr, target: RedisTarget) -> RedisLink {
        RedisLink { addr, target, said: None }
    }
}

struct RedisConn {
    conn: redis::Connection,
    cmd: redis::Cmd,
    target: RedisTarget,
}

impl Link for RedisLink {
    fn connect(&mut self) -> io::Result<Box<dyn Conn>> {
        let t = &self.target;
        let info = redis::ConnectionInfo {
            addr: redis::ConnectionAddr::Tcp(self.addr.ip().to_string(), self.addr.port()),
            redis: redis::RedisConnectionInfo {
                db: i64::from(t.db),
                username: t.user.clone(),
                password: t.password.clone(),
                ..Default::default()
            },
        };
        let client = redis::Client::open(info).map_err(io::Error::other)?;
        // The crate sends AUTH and SELECT as it connects.
        let conn = match client.get_connection_with_timeout(IO_TIMEOUT) {
            Ok(c) => {
                self.said = None;
                c
            }
            Err(e) => {
                // The server's answer (a wrong password, no such database) is said once; an
                // unreachable server is only counted, as for every stream output.
                if !e.is_io_error() && !e.is_timeout() && !e.is_connection_refusal() {
                    let what = format!("Redis at {} refused the connection: {e}", self.addr);
                    if self.said.as_deref() != Some(what.as_str()) {
                        eprintln!("minewatch: {}: {what}; records are kept (queue or spool)", t.label());
                        self.said = Some(what);
                    }
                }
                return Err(io::Error::other(e));
            }
        };
        conn.set_write_timeout(Some(IO_TIMEOUT)).map_err(io::Error::other)?;
        conn.set_read_timeout(Some(IO_TIMEOUT)).map_err(io::Error::other)?;
        Ok(Box::new(RedisConn { conn, cmd: redis::Cmd::new(), target: self.target.clone() }))
    }
}

impl Conn for RedisConn {
    /// Every command is answered, so a lost connection shows on the next record's command
    /// (which is then kept and sent again): no probe is needed.
    fn alive(&mut self) -> bool {
        redis::ConnectionLike::is_open(&self.conn)
    }

    fn send(&mut self, msg: &[u8]) -> Delivery {
        let t = &self.target;
        self.cmd.clear();
        let c = &mut self.cmd;
        match t.mode {
            Mode::List => c.arg("RPUSH").arg(&t.key).arg(msg),
            Mode::Lpush => c.arg("LPUSH").arg(&t.key).arg(msg),
            Mode::Channel => c.arg("PUBLISH").arg(&t.key).arg(msg),
            Mode::Stream if t.maxlen > 0 => c
                .arg("XADD")
                .arg(&t.key)
                .arg("MAXLEN")
                .arg("~")
                .arg(t.maxlen)
                .arg("*")
                .arg(STREAM_FIELD)
                .arg(msg),
            Mode::Stream => c.arg("XADD").arg(&t.key).arg("*").arg(STREAM_FIELD).arg(msg),
        };
        match self.cmd.query::<redis::Value>(&mut self.conn) {
            Ok(_) => Delivery::Delivered,
            // A server that answered with an error got the command and refused it.
            // (LOADING, READONLY and the like are passing states: kept and sent again.)
            Err(e)
                if matches!(
                    e.kind(),
                    redis::ErrorKind::ResponseError
                        | redis::ErrorKind::ExtensionError
                        | redis::ErrorKind::TypeError
                ) =>
            {
                Delivery::Refused
            }
            Err(_) => Delivery::Lost,
        }
    }
}
