//! The Stratum recogniser: turns the lines of a reassembled TCP connection into mining facts.
//!
//! Architecture invariant: nothing here does I/O or knows about packets. The line parser of
//! `inspect` frames each direction into lines ([`framer`]), drops lines that cannot be JSON
//! ([`probe`]), and hands candidates to a per-connection [`Session`], which parses them with
//! serde_json into borrowed types ([`message`]) and runs the dialect state machine
//! ([`session`]).
//!
//! Roles come from the protocol, never from ports or from who sent the first packet: the side
//! that sends `mining.subscribe`/`login`/`submit` is the miner, the side that pushes
//! `mining.notify`/`job` or answers the miner's requests is the pool.

pub mod agent;
pub mod framer;
pub mod http;
pub mod message;
pub mod probe;
pub mod session;
pub mod sv2;

pub use session::{LineKind, Session};

use serde::Serialize;

/// One side of a connection (`A`: the SYN sender, or else the first packet's): the flow
/// layer's, used here to tell roles apart.
pub use crate::flow::Side;

/// The dialect of a mining session: the alert's `stratum.variant`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
pub enum Variant {
    #[serde(rename = "stratum-v1")]
    StratumV1,
    #[serde(rename = "cryptonote")]
    CryptoNote,
    #[serde(rename = "eth-proxy")]
    EthProxy,
    #[serde(rename = "ethereum-stratum")]
    EthereumStratum,
    #[serde(rename = "getwork")]
    Getwork,
    #[serde(rename = "stratum-v2")]
    StratumV2,
    #[serde(rename = "tls")]
    Tls,
    /// The browser miners' dialect (Coinhive, CoinIMP, the webminer pool front ends): JSON
    /// messages named by `type` (`auth`, `job`, `submit`, `hash_accepted`), inside WebSocket
    /// frames.
    #[serde(rename = "webminer")]
    WebMiner,
}

impl Variant {
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::StratumV1 => "stratum-v1",
            Variant::CryptoNote => "cryptonote",
            Variant::EthProxy => "eth-proxy",
            Variant::EthereumStratum => "ethereum-stratum",
            Variant::Getwork => "getwork",
            Variant::StratumV2 => "stratum-v2",
            Variant::Tls => "tls",
            Variant::WebMiner => "webminer",
        }
    }
}

/// How sure we are that a session is mining. Ordered: a session only ever moves up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Indirect evidence only (a pool's domain in SNI or DNS, a Stratum V2 handshake shape).
    Suspected,
    /// The miner's side of a mining handshake, or a share, was seen.
    Detected,
    /// Both sides: the pool handed out work, or accepted a share.
    Confirmed,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Suspected => "suspected",
            Confidence::Detected => "detected",
            Confidence::Confirmed => "confirmed",
        }
    }
}

/// Most distinct method names kept per session; a hostile peer cannot grow the list further.
pub const MAX_METHODS: usize = 32;
/// Longest wire string (login, agent, password, method) kept; longer ones are cut on a char
/// boundary and flagged in [`SessionFacts::truncated`].
pub const MAX_FIELD_LEN: usize = 512;

/// Most distinct protocol extensions kept per session.
pub const MAX_EXTENSIONS: usize = 8;

/// The bounds of one connection's parsers, given at construction (from the configuration:
/// `--max-field-len`, `--max-pending`, `--http-max-pending`) rather than read from globals, so
/// a deployment can trade memory for detail and a test can shrink them (`--http-max-head`,
/// `--http-max-body` too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest wire string kept (see [`MAX_FIELD_LEN`], the default).
    pub max_field_len: usize,
    /// Most unanswered Stratum requests remembered per session (oldest evicted and counted).
    pub max_pending: usize,
    /// Most HTTP requests awaiting their answer per connection (getwork over HTTP).
    pub http_max_pending: usize,
    /// Longest HTTP message head; a longer one bypasses the connection.
    pub http_max_head: usize,
    /// Longest HTTP body parsed; a longer one is skipped as it streams by, never buffered.
    pub http_max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_field_len: MAX_FIELD_LEN,
            max_pending: session::MAX_PENDING,
            http_max_pending: http::MAX_PENDING,
            http_max_head: http::MAX_HEAD,
            http_max_body: http::MAX_BODY,
        }
    }
}

/// What a session has told us so far. Every string in here came off the wire and is
/// attacker-controlled: output formats must escape it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionFacts {
    pub variant: Option<Variant>,
    /// The side that is the miner, once the protocol has shown it.
    pub client: Option<Side>,
    /// Worker or wallet string exactly as sent (after JSON unescaping).
    pub login: Option<String>,
    pub password: Option<String>,
    /// Rig or worker name sent beside the login (eth-proxy's top-level `worker`, cryptonote
    /// `rigid`), when non-empty.
    pub worker: Option<String>,
    /// Miner software as announced (subscribe's first param, cryptonote `agent`, ...).
    pub agent: Option<String>,
    /// The wallet address at the head of the login (`WALLET.worker`, `WALLET+diff`,
    /// `WALLET/worker`), only when it is a recognised address format ([`crate::intel::wallet`]).
    pub wallet: Option<String>,
    /// Coin inferred from the wallet (or, failing that, the algorithm or a `c=` password option).
    pub coin: Option<&'static str>,
    /// Whether the wallet's checksum was verified (false: format only).
    pub wallet_checksum: bool,
    /// Difficulty the miner asked for (`mining.suggest_difficulty`, a `d=` password option,
    /// or a `+N` login suffix).
    pub suggested_difficulty: Option<f64>,
    /// Lowest and highest difficulty the pool set during the session, and how many times it
    /// set one (bounded: three numbers, whatever the session length).
    pub difficulty_min: Option<f64>,
    pub difficulty_max: Option<f64>,
    pub difficulty_changes: u64,
    /// The latest share target as sent (hex, capped) when the pool gave a target and its
    /// difficulty scale is not known (`mining.set_target` outside Equihash, EthereumStratum/2
    /// `mining.set`).
    pub target: Option<String>,
    /// Sum over accepted shares of the hashes each share is expected to take (from the share
    /// difficulty in force when it was submitted; see docs/hashrate.md).
    pub accepted_hashes: f64,
    /// Hash rate the miner reported itself (eth_submitHashrate, mining.hashrate), in H/s.
    pub reported_hashrate: Option<f64>,
    /// Protocol extensions negotiated (version-rolling, nicehash, ...), first-seen order, at most
    /// [`MAX_EXTENSIONS`].
    pub extensions: Vec<&'static str>,
    /// Where the pool told the miner to reconnect (`client.reconnect` host:port), capped.
    pub reconnect_to: Option<String>,
    /// The last message the pool showed the miner (`client.show_message`), capped.
    pub pool_message: Option<String>,
    /// Algorithm(s) named by either side (cryptonote `algo`, job `algo`).
    pub algo: Option<String>,
    /// Distinct methods seen from either side, in first-seen order, at most [`MAX_METHODS`].
    pub methods: Vec<String>,
    /// Work units the pool handed out (mining.notify, job, eth_getWork results, ...).
    pub jobs: u64,
    pub shares_submitted: u64,
    pub shares_accepted: u64,
    pub shares_rejected: u64,
    /// The latest difficulty the pool set (mining.set_difficulty, or derived from a target).
    pub difficulty: Option<f64>,
    pub first_share: Option<crate::time::Ts>,
    pub last_share: Option<crate::time::Ts>,
    /// The miner opened the session with a handshake (subscribe, hello, configure), so its
    /// login is expected to follow: the alert waits a little longer for it.
    pub handshake_seen: bool,
    /// Mining messages seen from the miner and from the pool.
    pub client_msgs: u64,
    pub pool_msgs: u64,
    /// Some wire string was longer than [`MAX_FIELD_LEN`] and was cut.
    pub truncated: bool,
    /// The pool's host name, when the traffic named it: TLS SNI, a DNS answer, an HTTP `Host`.
    pub pool_host: Option<String>,
    /// What identified a session that shows no Stratum lines (TLS): see [`Clue`].
    pub clue: Option<Clue>,
    /// What can be seen of an encrypted session (Stratum V2 after its Noise handshake): the
    /// evidence an analyst judges a `suspected` alert by. Boxed: every session's facts carry
    /// the field, few sessions fill it.
    pub encrypted: Option<Box<Encrypted>>,
    /// The tunnel the session was found in (SOCKS, HTTP CONNECT, WebSocket, PROXY protocol):
    /// set by the inspector that unwrapped it, never by the dialect parsers.
    pub tunnel: Option<Tunnel>,
    /// The TLS client's JA3/JA4 fingerprints, for a TLS session (boxed: most sessions have none).
    pub tls_fingerprints: Option<Box<crate::intel::fingerprint::Fingerprints>>,
    /// What the behaviour of an encrypted session with no name showed (clue `behaviour`).
    pub behaviour: Option<Box<Behaviour>>,
    /// The TLS client hid its server's name (Encrypted Client Hello): the extension and the
    /// outer name (boxed: most sessions have none).
    pub tls_ech: Option<Box<Ech>>,
}

/// A ClientHello that hid its server's real name: Encrypted Client Hello, or the older ESNI.
///
/// Why the outer name is kept here and not as the session's `pool_host`: with ECH the SNI on
/// the wire is the client-facing server's public name (`cloudflare-ech.com` for every site
/// behind Cloudflare), and the client may put any name there; the pool's name is in the
/// encrypted inner hello. Calling it the pool host would name a CDN (or a decoy the miner
/// chose) as the pool in `pool_host`, ECS `destination.domain`, `related.hosts` and
/// `tls.client.server_name`. It is evidence of how the flow hid, which an analyst reads
/// beside the behaviour: a wire string, at most 253 bytes of host-name characters (the view
/// keeps nothing else), lower-cased like the pool host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ech {
    pub kind: crate::intel::tls::EchKind,
    /// The outer ClientHello's SNI, if it had one (an address literal included: it names
    /// nothing either).
    pub outer_sni: Option<String>,
}

impl Ech {
    /// The fact, if the hello `h` hid its server's name.
    pub fn of(h: &crate::intel::tls::ClientHello<'_>) -> Option<Box<Ech>> {
        h.ech.map(|kind| Box::new(Ech { kind, outer_sni: h.sni.map(str::to_ascii_lowercase) }))
    }
}

/// The visible shape of an encrypted session: its handshake's sizes and the data it carried
/// each way since, as counts and size ranges (a few numbers, whatever the session's length).
/// The frames themselves cannot be told apart (SV2 encrypts its frame headers too), so a push
/// is a piece of in-order data as the reassembler handed it, which is a TCP segment unless
/// segments were reordered or overlapped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Encrypted {
    /// Bytes of the initiator's and the responder's handshake messages (64 and 234 for SV2).
    pub handshake: [u32; 2],
    /// From the miner (the initiator) and from the pool.
    pub toserver: Pushes,
    pub toclient: Pushes,
}

/// Data pushes one way: how many, their bytes, the smallest and the largest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Pushes {
    pub count: u64,
    pub bytes: u64,
    pub min: u32,
    pub max: u32,
}

impl std::fmt::Display for Encrypted {
    /// One line for the formats that carry text only (CEF's `msg`): `handshake 64/234 bytes;
    /// to server 9 pushes, 718 bytes, 62-120; to client ...`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [i, r] = self.handshake;
        write!(f, "handshake {i}/{r} bytes")?;
        for (way, p) in [("to server", &self.toserver), ("to client", &self.toclient)] {
            write!(f, "; {way} {} pushes, {} bytes, {}-{}", p.count, p.bytes, p.min, p.max)?;
        }
        Ok(())
    }
}

impl Pushes {
    pub fn add(&mut self, len: usize) {
        let n = u32::try_from(len).unwrap_or(u32::MAX);
        self.min = if self.count == 0 { n } else { self.min.min(n) };
        self.max = self.max.max(n);
        self.count = self.count.saturating_add(1);
        self.bytes = self.bytes.saturating_add(len as u64);
    }
}

/// The tunnel a session was found in, and where the tunnel said it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tunnel {
    pub kind: TunnelKind,
    /// `host:port` as the tunnel's handshake stated it (`[v6]:port` for an IPv6 address; the
    /// WebSocket request's `Host`; the PROXY header's destination), capped.
    pub target: Option<String>,
}

/// The kinds of tunnel unwrapped: the alert's `stratum.tunnel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    Socks4,
    Socks4a,
    Socks5,
    HttpConnect,
    WebSocket,
    ProxyProtocol,
}

impl TunnelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TunnelKind::Socks4 => "socks4",
            TunnelKind::Socks4a => "socks4a",
            TunnelKind::Socks5 => "socks5",
            TunnelKind::HttpConnect => "http-connect",
            TunnelKind::WebSocket => "websocket",
            TunnelKind::ProxyProtocol => "proxy-protocol",
        }
    }
}

/// The evidence behind a `behaviour` clue: what an analyst needs to judge it. Every number is
/// from TLS record headers (type, length) and their times; no payload is read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Behaviour {
    /// Server records sent unasked (no client record within the answer window before them).
    pub pushes: u32,
    /// Mean and standard deviation of the time between pushes, in seconds.
    pub push_period_mean_s: f64,
    pub push_period_stddev_s: f64,
    /// Smallest and largest push record (record length field: plaintext + AEAD overhead).
    pub push_len_min: u32,
    pub push_len_max: u32,
    /// Client records of a request's size, and of those how many one small server record
    /// answered within the answer window.
    pub requests: u32,
    pub answered: u32,
    /// Smallest and largest client record after the opening.
    pub client_len_min: u32,
    pub client_len_max: u32,
    /// Mean and largest time from a request to its answer, in milliseconds.
    pub answer_ms_mean: f64,
    pub answer_ms_max: f64,
    /// Seconds from the ClientHello to the decision.
    pub duration_s: f64,
    /// Pushes that lined up with pushes of known mining sessions (the shared push clock), out
    /// of the last ones kept.
    pub aligned_pushes: u32,
    pub pushes_checked: u32,
    /// The client's fingerprint is a known miner's: whose.
    pub known_fingerprint: Option<&'static str>,
}

/// The indirect evidence behind a `tls` session: the alert's `stratum.clue`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Clue {
    /// The ClientHello's server name is a known pool domain.
    Sni,
    /// The server's address was given out in a DNS answer for a known pool domain.
    Dns,
    /// The server's address is on a pool list (an address or range of `--pool-list`, or of a
    /// MISP or STIX feed).
    #[serde(rename = "pool-list")]
    PoolList,
    /// A tunnel's handshake (SOCKS, HTTP CONNECT) named a known pool domain as its target.
    Tunnel,
    /// No name: the encrypted session behaved as Stratum does (see [`Behaviour`]).
    Behaviour,
}

impl Clue {
    pub fn as_str(self) -> &'static str {
        match self {
            Clue::Sni => "sni",
            Clue::Dns => "dns",
            Clue::PoolList => "pool-list",
            Clue::Tunnel => "tunnel",
            Clue::Behaviour => "behaviour",
        }
    }
}
