//! The bundled test captures and their truth table: one small file per case a sensor must get
//! right, each paired with the rows a correct sensor reports for it.
//!
//! The captures are a table, [`all`]: one row per file. Most are one TCP conversation, and their
//! row says it all as data: link type and file format, client and pool endpoints, start time and
//! random seed, how the TCP is shaped (handshake or midstream, sequence numbers, segment size,
//! directions captured, IPv6 extension header), who speaks (a recorded session of a dialect with
//! its options; lines as they are: asked and answered, pushed, pauses; or, for the irregular
//! ones, a function that writes only what is said), how it ends and what a correct sensor
//! reports. The few files that are not one conversation (two interleaved, DNS only, frames built
//! one by one) are a row naming the code that writes them.
//!
//! The truth rows are produced by the same code that writes the packets, from the same address
//! values, so the table cannot drift from the captures. `mkpcaps` writes them all;
//! `tests/it/pcaps_fresh.rs` checks the committed copies are exactly what this code produces.
//!
//! Addresses: miners on private ranges (10/8, 172.16/12, 192.168/16, fd00::/8), pools on
//! documentation ranges (198.51.100/24, 203.0.113/24, 2001:db8::/32), so nothing here names a
//! real host.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::path::Path;

use minewatch::stratum::Variant;
use minewatch::time::Ts;

use super::frame::{Framer, Ipv6Ext, Link};
use super::msg::{self, Rng};
use super::pcap::{PcapWriter, PcapngWriter};
use super::tcp::{Delivery, Side, TcpConversation};
use super::PacketSink;

/// What a correct sensor does with a row's session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Raises a `mining` alert for it.
    Mining,
    /// Raises nothing for it (or, with no client given, nothing anywhere in the file).
    Nothing,
}

impl Expect {
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Mining => "mining",
            Expect::Nothing => "none",
        }
    }
}

/// One row of `TRUTH.tsv`, in the corpus format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TruthRow {
    pub file: String,
    pub expect: Expect,
    pub variant: Option<Variant>,
    /// The miner; `None` on a negative means "no mining alert anywhere in this file" (`*`).
    pub client: Option<SocketAddr>,
    pub server: Option<SocketAddr>,
    /// The login after JSON unescaping; empty when the capture carries none.
    pub login: String,
    pub note: String,
}

/// The header line of `TRUTH.tsv`, shared with the real-capture corpus.
pub const TRUTH_HEADER: &str =
    "file\texpect\tvariant\tclient_ip\tclient_port\tserver_ip\tserver_port\tlogin\tnote";

impl TruthRow {
    /// The row as one TSV line (with its newline). Fields holding a tab or newline would shift
    /// every later column, so they are refused rather than written.
    pub fn tsv_line(&self) -> io::Result<String> {
        let (cip, cport) = match (self.client, self.expect) {
            (Some(c), _) => (c.ip().to_string(), c.port().to_string()),
            (None, Expect::Nothing) => ("*".to_string(), "*".to_string()),
            (None, Expect::Mining) => {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "mining row without client"))
            }
        };
        let (sip, sport) = match self.server {
            Some(s) => (s.ip().to_string(), s.port().to_string()),
            None => (String::new(), String::new()),
        };
        let fields = [
            self.file.as_str(),
            self.expect.as_str(),
            self.variant.map(Variant::as_str).unwrap_or(""),
            &cip,
            &cport,
            &sip,
            &sport,
            &self.login,
            &self.note,
        ];
        if fields.iter().any(|f| f.contains(['\t', '\n', '\r'])) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "tab or newline in a truth field"));
        }
        let mut line = fields.join("\t");
        line.push('\n');
        Ok(line)
    }
}

/// Rows being collected for one scenario.
#[derive(Debug)]
pub(super) struct Truth {
    file: &'static str,
    rows: Vec<TruthRow>,
}

impl Truth {
    /// A mining session given by its endpoints (for captures built without a conversation).
    pub(super) fn mining_between(
        &mut self,
        v: Variant,
        client: SocketAddr,
        server: SocketAddr,
        login: &str,
        note: &str,
    ) {
        self.rows.push(TruthRow {
            file: self.file.to_string(),
            expect: Expect::Mining,
            variant: Some(v),
            client: Some(client),
            server: Some(server),
            login: login.to_string(),
            note: note.to_string(),
        });
    }

    pub(super) fn mining(&mut self, v: Variant, t: &TcpConversation, login: &str, note: &str) {
        self.rows.push(TruthRow {
            file: self.file.to_string(),
            expect: Expect::Mining,
            variant: Some(v),
            client: Some(t.client()),
            server: Some(t.server()),
            login: login.to_string(),
            note: note.to_string(),
        });
    }

    pub(super) fn none_in_file(&mut self, note: &str) {
        self.rows.push(TruthRow {
            file: self.file.to_string(),
            expect: Expect::Nothing,
            variant: None,
            client: None,
            server: None,
            login: String::new(),
            note: note.to_string(),
        });
    }

    pub(super) fn none_for(&mut self, t: &TcpConversation, note: &str) {
        self.rows.push(TruthRow {
            file: self.file.to_string(),
            expect: Expect::Nothing,
            variant: None,
            client: Some(t.client()),
            server: Some(t.server()),
            login: String::new(),
            note: note.to_string(),
        });
    }
}

/// A capture that is not one conversation (several interleaved, DNS only, frames built one by
/// one for the evasions and the encrypted cases), as code: it writes the whole file and its rows.
type Build = fn(&mut dyn Write, &mut Truth) -> io::Result<()>;

/// What is said on a conversation that no [`Script`] shape covers: it writes the conversation
/// after the handshake and before its end, drawing every random value from the row's seed, and
/// returns the login a correct sensor reports (empty when none is on the wire).
type Say = fn(&mut TcpConversation, &mut dyn PacketSink, &mut Rng) -> io::Result<String>;

/// One bundled capture: a row of [`all`].
#[derive(Clone, Copy)]
pub struct Scenario {
    /// File name inside the output directory; `.pcapng` for the pcapng case.
    pub file: &'static str,
    how: How,
}

#[derive(Clone, Copy)]
enum How {
    /// One TCP conversation, described by the row.
    Talk(&'static Talk),
    Code(Build),
    /// A capture of real software, kept as it was recorded (`testkit/real/`, made by
    /// `scripts/mkpcaps-tunnels.sh`; see pcaps/README.md): copied, with its truth row.
    Kept(&'static Kept),
}

/// A capture of real software and what a sensor must report for it.
pub struct Kept {
    pub bytes: &'static [u8],
    pub variant: Variant,
    pub client: &'static str,
    pub server: &'static str,
    pub login: &'static str,
    /// The tunnel the session goes through and its stated target, as `stratum.tunnel` and
    /// `stratum.tunnel_target` must name them (`tests/it/tunnels.rs`).
    pub tunnel: Option<(&'static str, &'static str)>,
    pub note: &'static str,
}

/// A capture of one TCP conversation, as data: where and when it happens, how the TCP is
/// shaped, who says what, how it ends and what a sensor must report. Most fields keep the value
/// of [`TALK`]; a row names only what is particular to it.
#[derive(Clone, Copy)]
struct Talk {
    link: Link,
    /// Written as pcapng rather than classic pcap.
    pcapng: bool,
    client: &'static str,
    server: &'static str,
    /// Start, in minutes after the common origin, so that files do not overlap in time.
    minute: i64,
    /// Seed of the conversation's random values (ids, nonces, think times); unused by a script
    /// that draws none.
    seed: u64,
    /// The capture starts with the three-way handshake; without, it is picked up midstream.
    handshake: bool,
    /// Initial sequence numbers of the client and the server, when they matter.
    isns: Option<(u32, u32)>,
    /// Largest payload per segment, when not the default.
    mss: Option<usize>,
    /// Which directions the capture sees: client to server, server to client.
    capture: (bool, bool),
    ipv6_ext: Ipv6Ext,
    script: Script,
    end: End,
    verdict: Verdict,
    /// The truth row's note: what the case is about.
    note: &'static str,
}

/// Who says what on a conversation.
#[derive(Clone, Copy)]
enum Script {
    /// A cpuminer-like Stratum V1 session ([`sv1_session`]) logging in as the login given.
    Sv1(Login, Sv1<'static>),
    /// An XMRig-like cryptonote session ([`xmr_session`]).
    Xmr(Xmr<'static>),
    /// An ethminer-like eth-proxy session ([`eth_session`]).
    Eth(Login),
    /// Lines as they are, step by step.
    Lines(&'static [Line]),
    /// Anything else, as code.
    Say(Say),
}

/// One step of a [`Script::Lines`] conversation.
#[derive(Clone, Copy)]
enum Line {
    /// The client asks and the server answers, then a pause ([`exchange`]).
    Ask(&'static str, &'static str),
    /// The server sends this unasked.
    Push(&'static str),
    /// Time passes with nothing on the wire, in milliseconds.
    Pause(i64),
}

/// The login of a [`Script::Sv1`] or [`Script::Eth`] session.
#[derive(Clone, Copy)]
enum Login {
    /// The dialect's example wallet, a dot and this worker name.
    Worker(&'static str),
    /// This string as it is.
    Exact(&'static str),
}

impl Login {
    fn text(self, wallet: &str) -> String {
        match self {
            Login::Worker(w) => format!("{wallet}.{w}"),
            Login::Exact(s) => s.to_string(),
        }
    }
}

/// How a conversation ends: a FIN exchange or an RST, from the side given.
#[derive(Clone, Copy)]
enum End {
    Fin(Side),
    Rst(Side),
}

/// What a correct sensor reports for a conversation: its truth row.
#[derive(Clone, Copy)]
enum Verdict {
    /// A mining alert of this dialect.
    Mining(Variant),
    /// Nothing for this conversation (a row naming its endpoints).
    NothingForIt,
    /// No mining alert anywhere in the file (a row with `*` endpoints).
    NothingInFile,
}

/// What a [`Talk`] row leaves unsaid: Ethernet, classic pcap, a handshake, default TCP, both
/// directions, the client closing with FIN.
const TALK: Talk = Talk {
    link: Link::Ethernet,
    pcapng: false,
    client: "",
    server: "",
    minute: 0,
    seed: 0,
    handshake: true,
    isns: None,
    mss: None,
    capture: (true, true),
    ipv6_ext: Ipv6Ext::None,
    script: Script::Lines(&[]),
    end: End::Fin(Side::A),
    verdict: Verdict::NothingInFile,
    note: "",
};

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario").field("file", &self.file).finish()
    }
}

impl Scenario {
    /// Writes the capture to `out` and returns its truth rows.
    pub fn write(&self, out: &mut dyn Write) -> io::Result<Vec<TruthRow>> {
        let mut truth = Truth { file: self.file, rows: Vec::new() };
        match self.how {
            How::Talk(talk) if talk.pcapng => {
                talk.write(&mut PcapngWriter::new(&mut *out, talk.link.link_type())?, &mut truth)?
            }
            How::Talk(talk) => talk.write(&mut pcap(&mut *out, talk.link)?, &mut truth)?,
            How::Code(build) => build(&mut *out, &mut truth)?,
            How::Kept(k) => {
                out.write_all(k.bytes)?;
                truth.mining_between(k.variant, sa(k.client)?, sa(k.server)?, k.login, k.note);
            }
        }
        out.flush()?;
        Ok(truth.rows)
    }
}

impl Talk {
    fn write(&self, w: &mut dyn PacketSink, truth: &mut Truth) -> io::Result<()> {
        let mut t = TcpConversation::new(sa(self.client)?, sa(self.server)?, at(self.minute), self.link)
            .with_ipv6_ext(self.ipv6_ext)
            .capture(self.capture.0, self.capture.1);
        if let Some((client, server)) = self.isns {
            t = t.with_isns(client, server);
        }
        if let Some(mss) = self.mss {
            t = t.with_mss(mss);
        }
        let rng = &mut Rng::new(self.seed);
        if self.handshake {
            t.handshake(w)?;
        }
        let login = match self.script {
            Script::Sv1(login, o) => {
                let login = login.text(BTC_WALLET);
                sv1_session(&mut t, w, rng, &Sv1 { login: &login, ..o })?;
                login
            }
            Script::Xmr(o) => {
                xmr_session(&mut t, w, rng, &o)?;
                o.login.to_string()
            }
            Script::Eth(login) => {
                let login = login.text(ETH_WALLET);
                eth_session(&mut t, w, rng, &login)?;
                login
            }
            Script::Lines(lines) => {
                for line in lines {
                    match *line {
                        Line::Ask(req, resp) => exchange(&mut t, w, req, resp)?,
                        Line::Push(text) => t.server_sends(w, text.as_bytes())?,
                        Line::Pause(ms) => t.pause_ms(ms),
                    }
                }
                String::new()
            }
            Script::Say(say) => say(&mut t, w, rng)?,
        };
        match self.end {
            End::Fin(side) => t.close_fin(w, side)?,
            End::Rst(side) => t.reset(w, side)?,
        }
        // Only the client sends the login: a capture without its direction never sees it.
        let login = if self.capture.0 { login } else { String::new() };
        match self.verdict {
            Verdict::Mining(v) => truth.mining(v, &t, &login, self.note),
            Verdict::NothingForIt => truth.none_for(&t, self.note),
            Verdict::NothingInFile => truth.none_in_file(self.note),
        }
        Ok(())
    }
}

/// Every bundled scenario, in `TRUTH.tsv` order: one row per capture.
pub fn all() -> &'static [Scenario] {
    const fn talk(file: &'static str, talk: &'static Talk) -> Scenario {
        Scenario { file, how: How::Talk(talk) }
    }
    const fn code(file: &'static str, build: Build) -> Scenario {
        Scenario { file, how: How::Code(build) }
    }
    const fn kept(file: &'static str, kept: &'static Kept) -> Scenario {
        Scenario { file, how: How::Kept(kept) }
    }
    const ALL: &[Scenario] = &[
        talk(
            "sv1-cpuminer.pcap",
            &Talk {
                client: "10.20.0.11:49152",
                server: "198.51.100.10:3333",
                minute: 0,
                seed: 1,
                script: Script::Sv1(Login::Worker("rig01"), SV1),
                verdict: Verdict::Mining(Variant::StratumV1),
                note: "cpuminer-like SV1: subscribe, authorize, set_difficulty, 2 notify, 6 submits all accepted; FIN close",
                ..TALK
            },
        ),
        talk(
            "cryptonote-xmrig.pcap",
            &Talk {
                client: "192.168.1.50:51234",
                server: "203.0.113.20:3333",
                minute: 5,
                seed: 2,
                script: Script::Xmr(XMR),
                verdict: Verdict::Mining(Variant::CryptoNote),
                note: "XMRig-like cryptonote: login with agent/rigid/algo list, job in login result, 1 job push, 4 submits, keepalived; FIN close",
                ..TALK
            },
        ),
        talk(
            "ethproxy-ethminer.pcap",
            &Talk {
                client: "172.16.5.9:50311",
                server: "198.51.100.77:4444",
                minute: 10,
                seed: 3,
                script: Script::Eth(Login::Worker("rig2")),
                end: End::Fin(Side::B),
                verdict: Verdict::Mining(Variant::EthProxy),
                note: "ethminer-like eth-proxy: eth_submitLogin (worker key first, Python-style spacing), eth_getWork, 3 pushes with id 0, eth_submitWork, eth_submitHashrate; pool closes with FIN",
                ..TALK
            },
        ),
        talk(
            "sv1-port443.pcap",
            &Talk {
                client: "10.20.0.12:50022",
                server: "198.51.100.11:443",
                minute: 15,
                seed: 4,
                script: Script::Sv1(Login::Worker("https"), Sv1 { jobs: 1, ..SV1 }),
                verdict: Verdict::Mining(Variant::StratumV1),
                note: "plain-text SV1 on port 443 (no TLS): ports must not decide the protocol",
                ..TALK
            },
        ),
        talk(
            "cryptonote-port8080.pcap",
            &Talk {
                client: "192.168.1.51:40188",
                server: "203.0.113.21:8080",
                minute: 20,
                seed: 5,
                script: Script::Xmr(Xmr { jobs: 1, ..XMR }),
                verdict: Verdict::Mining(Variant::CryptoNote),
                note: "XMRig-like cryptonote on port 8080, the HTTP-proxy port",
                ..TALK
            },
        ),
        talk(
            "sv1-bytewise.pcap",
            &Talk {
                client: "10.20.0.13:50377",
                server: "198.51.100.12:3333",
                minute: 25,
                seed: 6,
                script: Script::Sv1(Login::Worker("tiny"), Sv1 { jobs: 1, submits_per_job: 2, client_mss: Some(1), server_mss: Some(1), ..SV1 }),
                verdict: Verdict::Mining(Variant::StratumV1),
                note: "every message in both directions split into 1-byte TCP segments",
                ..TALK
            },
        ),
        talk(
            "sv1-reorder-retrans.pcap",
            &Talk {
                client: "10.20.0.14:51515",
                server: "198.51.100.13:3333",
                minute: 30,
                seed: 7,
                script: Script::Say(sv1_reorder_retrans),
                verdict: Verdict::Mining(Variant::StratumV1),
                note: "out-of-order segments, byte-identical retransmissions and overlapping re-sends with different segment edges in both directions",
                ..TALK
            },
        ),
        talk(
            "sv1-seq-wrap.pcap",
            &Talk {
                client: "10.20.0.15:52000",
                server: "198.51.100.14:3333",
                minute: 35,
                seed: 8,
                isns: Some((u32::MAX - 60, u32::MAX - 200)),
                mss: Some(64),
                script: Script::Sv1(Login::Worker("wrap"), Sv1 { jobs: 1, ..SV1 }),
                verdict: Verdict::Mining(Variant::StratumV1),
                note: "sequence numbers of both directions wrap past 2^32 inside the first messages (64-byte segments)",
                ..TALK
            },
        ),
        talk(
            "sv1-midstream.pcap",
            &Talk {
                client: "10.20.0.16:49777",
                server: "198.51.100.15:3333",
                minute: 40,
                seed: 9,
                handshake: false,
                script: Script::Say(sv1_midstream),
                verdict: Verdict::Mining(Variant::StratumV1),
                note: "midstream pickup: no handshake, no subscribe/authorize; first packet is the pool's (tail of a notify line), then notify/submit/result; the miner is the submitting side, not the first sender; the login is the worker named in mining.submit",
                ..TALK
            },
        ),
        talk(
            "cryptonote-midstream.pcap",
            &Talk {
                client: "192.168.1.52:46001",
                server: "203.0.113.22:3333",
                minute: 45,
                seed: 10,
                handshake: false,
                script: Script::Say(cryptonote_midstream),
                verdict: Verdict::Mining(Variant::CryptoNote),
                note: "midstream pickup: no handshake, no login; starts with the pool's job push, then submit/status/keepalived; first sender is the pool",
                ..TALK
            },
        ),
        talk(
            "sv1-client-only.pcap",
            &Talk {
                client: "10.20.0.17:53311",
                server: "198.51.100.16:3333",
                minute: 50,
                seed: 11,
                capture: (true, false),
                script: Script::Sv1(Login::Worker("upstream"), SV1),
                verdict: Verdict::Mining(Variant::StratumV1),
                note: "asymmetric capture: only the miner-to-pool direction (SYN, subscribe, authorize, submits, ACKs)",
                ..TALK
            },
        ),
        talk(
            "sv1-server-only.pcap",
            &Talk {
                client: "10.20.0.18:53312",
                server: "198.51.100.17:3333",
                minute: 55,
                seed: 12,
                capture: (false, true),
                script: Script::Sv1(Login::Worker("downstream"), SV1),
                verdict: Verdict::Mining(Variant::StratumV1),
                note: "asymmetric capture: only the pool-to-miner direction (SYN-ACK, subscribe result, set_difficulty, notify, results); the login is never seen",
                ..TALK
            },
        ),
        talk(
            "cryptonote-rst.pcap",
            &Talk {
                client: "192.168.1.53:47002",
                server: "203.0.113.23:3333",
                minute: 60,
                seed: 13,
                script: Script::Xmr(Xmr { jobs: 1, keepalive: false, ..XMR }),
                end: End::Rst(Side::A),
                verdict: Verdict::Mining(Variant::CryptoNote),
                note: "session ends with an RST from the miner, no FIN",
                ..TALK
            },
        ),
        talk(
            "sv1-ipv6-hopbyhop.pcap",
            &Talk {
                client: "[fd00:10::21]:50500",
                server: "[2001:db8:100::10]:3333",
                minute: 65,
                seed: 14,
                ipv6_ext: Ipv6Ext::HopByHop,
                script: Script::Sv1(Login::Worker("v6"), SV1),
                verdict: Verdict::Mining(Variant::StratumV1),
                note: "IPv6 over Ethernet with a hop-by-hop options header before TCP in every packet; miner in fd00::/8 (ULA)",
                ..TALK
            },
        ),
        talk(
            "ethproxy-ipv6-destopts-sll2.pcap",
            &Talk {
                client: "[fd00:20::9]:41234",
                server: "[2001:db8:200::77]:4444",
                minute: 70,
                seed: 15,
                link: Link::LinuxSll2,
                ipv6_ext: Ipv6Ext::DestOpts,
                script: Script::Eth(Login::Worker("v6rig")),
                verdict: Verdict::Mining(Variant::EthProxy),
                note: "eth-proxy over IPv6 with a destination-options header, Linux cooked capture v2 (link type 276)",
                ..TALK
            },
        ),
        talk(
            "sv1-vlan.pcap",
            &Talk {
                client: "10.30.0.5:49999",
                server: "198.51.100.18:3333",
                minute: 75,
                seed: 16,
                link: Link::Vlan(100),
                script: Script::Sv1(Login::Worker("vlan"), Sv1 { jobs: 1, ..SV1 }),
                verdict: Verdict::Mining(Variant::StratumV1),
                note: "802.1Q VLAN 100 tag on every frame",
                ..TALK
            },
        ),
        talk(
            "cryptonote-qinq.pcap",
            &Talk {
                client: "10.30.1.6:40404",
                server: "203.0.113.24:3333",
                minute: 80,
                seed: 17,
                link: Link::QinQ { outer: 200, inner: 30 },
                script: Script::Xmr(Xmr { jobs: 1, ..XMR }),
                verdict: Verdict::Mining(Variant::CryptoNote),
                note: "QinQ: 802.1ad outer tag 200 (0x88a8) and 802.1Q inner tag 30 on every frame",
                ..TALK
            },
        ),
        talk(
            "sv1-linux-sll.pcap",
            &Talk {
                client: "172.16.9.3:43210",
                server: "198.51.100.19:3333",
                minute: 85,
                seed: 18,
                link: Link::LinuxSll,
                script: Script::Sv1(Login::Worker("sll"), Sv1 { jobs: 1, ..SV1 }),
                verdict: Verdict::Mining(Variant::StratumV1),
                note: "Linux cooked capture v1 (link type 113), as from tcpdump -i any",
                ..TALK
            },
        ),
        talk(
            "cryptonote-raw-ip.pcap",
            &Talk {
                client: "10.8.0.6:39001",
                server: "203.0.113.25:5555",
                minute: 90,
                seed: 19,
                link: Link::Raw,
                script: Script::Xmr(Xmr { jobs: 1, ..XMR }),
                verdict: Verdict::Mining(Variant::CryptoNote),
                note: "raw IP, no link header (link type 101), as from a tun interface",
                ..TALK
            },
        ),
        talk(
            "sv1-bsd-null.pcap",
            &Talk {
                client: "10.9.0.2:61001",
                server: "198.51.100.20:3333",
                minute: 95,
                seed: 20,
                link: Link::Null,
                script: Script::Sv1(Login::Worker("utun"), Sv1 { jobs: 1, ..SV1 }),
                verdict: Verdict::Mining(Variant::StratumV1),
                note: "BSD loopback/null link type 0 (4-byte little-endian address family 2), as macOS writes for lo0 and utun",
                ..TALK
            },
        ),
        talk(
            "cryptonote-xmrig.pcapng",
            &Talk {
                client: "192.168.1.54:50505",
                server: "203.0.113.26:3333",
                minute: 100,
                seed: 21,
                pcapng: true,
                script: Script::Xmr(Xmr { jobs: 1, ..XMR }),
                verdict: Verdict::Mining(Variant::CryptoNote),
                note: "pcapng file (SHB, one Ethernet IDB, EPBs), as Wireshark saves by default",
                ..TALK
            },
        ),
        talk(
            "sv1-escaped-method.pcap",
            &Talk {
                client: "10.20.0.19:50999",
                server: "198.51.100.21:3333",
                minute: 105,
                seed: 22,
                script: Script::Sv1(Login::Worker("esc"), Sv1 { escaped: true, jobs: 1, ..SV1 }),
                verdict: Verdict::Mining(Variant::StratumV1),
                note: "JSON escapes in keys and method names in both directions: \"\\u006dethod\": \"mining\\u002esubscribe\" etc.",
                ..TALK
            },
        ),
        talk(
            "cryptonote-escaped-login.pcap",
            &Talk {
                client: "192.168.1.55:44044",
                server: "203.0.113.27:3333",
                minute: 110,
                seed: 23,
                script: Script::Say(cryptonote_escaped_login),
                verdict: Verdict::Mining(Variant::CryptoNote),
                note: "login sent with JSON escapes (\\u0034, \\u002e, \\/): the reported login is the unescaped string",
                ..TALK
            },
        ),
        talk(
            "sv1-crlf.pcap",
            &Talk {
                client: "10.20.0.20:51020",
                server: "198.51.100.22:3333",
                minute: 115,
                seed: 24,
                script: Script::Sv1(Login::Worker("crlf"), Sv1 { eol: "\r\n", jobs: 1, ..SV1 }),
                verdict: Verdict::Mining(Variant::StratumV1),
                note: "CRLF line endings in both directions",
                ..TALK
            },
        ),
        talk(
            "sv1-two-per-segment.pcap",
            &Talk {
                client: "10.20.0.21:51021",
                server: "198.51.100.23:3333",
                minute: 120,
                seed: 25,
                script: Script::Say(sv1_two_per_segment),
                verdict: Verdict::Mining(Variant::StratumV1),
                note: "several messages per TCP segment: subscribe+authorize, three pool replies, two submits, two results",
                ..TALK
            },
        ),
        talk(
            "sv1-batch-array.pcap",
            &Talk {
                client: "10.20.0.22:51022",
                server: "198.51.100.24:3333",
                minute: 125,
                seed: 26,
                script: Script::Say(sv1_batch),
                verdict: Verdict::Mining(Variant::StratumV1),
                note: "JSON-RPC batch: subscribe and authorize sent as one JSON array, answered with one array; then plain notify/submit lines",
                ..TALK
            },
        ),
        code("two-miners.pcap", two_miners),
        code("evasion-overlap-conflict.pcap", super::evasion::overlap_conflict),
        code("evasion-lost-segment-acked.pcap", super::evasion::lost_segment_acked),
        code("evasion-lost-segment-one-sided.pcap", super::evasion::lost_segment_one_sided),
        code("evasion-ipv4-fragments.pcap", super::evasion::ipv4_fragments),
        code("evasion-ipv6-fragments.pcap", super::evasion::ipv6_fragments),
        code("evasion-keepalive-zero-window.pcap", super::evasion::keepalive_zero_window),
        code("evasion-idle-timeout.pcap", super::evasion::idle_timeout),
        talk(
            "external-client.pcap",
            &Talk {
                client: "203.0.113.5:41000",
                server: "10.1.1.1:3333",
                minute: 135,
                seed: 29,
                script: Script::Sv1(Login::Exact("1BoatSLRHtKNngkdXEeobR76b53LETtpyT.ext"), Sv1 { jobs: 1, ..SV1 }),
                verdict: Verdict::NothingForIt,
                note: "a real SV1 session, but the miner is outside the home networks (pool is internal 10.1.1.1): only internal miners are reported",
                ..TALK
            },
        ),
        talk(
            "neg-electrum.pcap",
            &Talk {
                client: "192.168.1.60:52110",
                server: "198.51.100.50:50001",
                minute: 140,
                seed: 30,
                script: Script::Say(neg_electrum),
                verdict: Verdict::NothingInFile,
                note: "NEGATIVE: Electrum wallet JSON-RPC lines (server.version, blockchain.headers.subscribe with a pushed header, blockchain.scripthash.subscribe/get_balance, server.ping)",
                ..TALK
            },
        ),
        talk(
            "neg-eth-node-tcp.pcap",
            &Talk {
                client: "10.40.0.7:55001",
                server: "198.51.100.60:8546",
                minute: 145,
                seed: 31,
                script: Script::Say(neg_eth_node_tcp),
                verdict: Verdict::NothingInFile,
                note: "NEGATIVE: Ethereum node JSON-RPC as newline-delimited lines over TCP (web3_clientVersion, eth_blockNumber, eth_call, eth_getBlockByNumber with a miner field, eth_gasPrice)",
                ..TALK
            },
        ),
        talk(
            "neg-eth-node-http.pcap",
            &Talk {
                client: "10.40.0.8:55002",
                server: "198.51.100.61:8545",
                minute: 150,
                seed: 32,
                script: Script::Say(neg_eth_node_http),
                verdict: Verdict::NothingInFile,
                note: "NEGATIVE: Ethereum node JSON-RPC over HTTP POST with keep-alive (Geth-style requests and responses)",
                ..TALK
            },
        ),
        talk(
            "neg-jsonrpc-echo.pcap",
            &Talk {
                client: "192.168.1.61:36646",
                server: "198.51.100.62:8080",
                minute: 155,
                seed: 33,
                script: Script::Say(neg_jsonrpc_echo),
                verdict: Verdict::NothingInFile,
                note: "NEGATIVE: plain JSON-RPC 2.0 echo service over TCP lines (UUID ids), the shape nDPI 4.2 calls mining",
                ..TALK
            },
        ),
        talk(
            "neg-http-html.pcap",
            &Talk {
                client: "10.40.0.9:55003",
                server: "203.0.113.80:80",
                minute: 160,
                seed: 34,
                script: Script::Say(neg_http_html),
                verdict: Verdict::NothingInFile,
                note: "NEGATIVE: an HTTP GET for an HTML page whose <pre> blocks quote whole Stratum lines (subscribe, authorize, notify, submit), each on its own line",
                ..TALK
            },
        ),
        talk(
            "neg-chat.pcap",
            &Talk {
                client: "172.16.20.4:58000",
                server: "198.51.100.70:6697",
                minute: 165,
                script: Script::Lines(&[
                    Line::Ask(
                        "{\"id\":1,\"method\":\"chat.join\",\"params\":{\"room\":\"miners-help\",\"nick\":\"alice\"}}\n",
                        "{\"id\":1,\"result\":{\"room\":\"miners-help\",\"members\":14},\"error\":null}\n",
                    ),
                    Line::Ask(
                        "{\"id\":2,\"method\":\"chat.send\",\"params\":{\"room\":\"miners-help\",\"text\":\"my miner sends mining.subscribe then mining.authorize but the pool never answers\"}}\n",
                        "{\"id\":2,\"result\":true,\"error\":null}\n",
                    ),
                    Line::Pause(4000),
                    Line::Push(
                        "{\"id\":null,\"method\":\"chat.message\",\"params\":{\"room\":\"miners-help\",\"from\":\"bob\",\"text\":\"paste the line, should look like {\\\"id\\\": 1, \\\"method\\\": \\\"mining.subscribe\\\", \\\"params\\\": []}\"}}\n",
                    ),
                    Line::Pause(6000),
                    Line::Ask(
                        "{\"id\":3,\"method\":\"chat.send\",\"params\":{\"room\":\"miners-help\",\"text\":\"{\\\"id\\\": 2, \\\"method\\\": \\\"mining.authorize\\\", \\\"params\\\": [\\\"alice.rig1\\\", \\\"x\\\"]}\",\"mining.submit\":\"mining.notify\"}}\n",
                        "{\"id\":3,\"result\":true,\"error\":null}\n",
                    ),
                    Line::Pause(3000),
                    Line::Push(
                        "{\"id\":null,\"method\":\"chat.message\",\"params\":{\"room\":\"miners-help\",\"from\":\"bob\",\"text\":\"mining.notify never came? then it is your firewall\"}}\n",
                    ),
                ]),
                verdict: Verdict::NothingInFile,
                note: "NEGATIVE: JSON-RPC chat protocol (chat.join/chat.send/chat.message) whose messages carry mining.subscribe, mining.authorize, mining.notify only inside string values (and one as a key)",
                ..TALK
            },
        ),
        talk(
            "neg-lsp.pcap",
            &Talk {
                client: "10.40.0.10:55004",
                server: "10.40.0.11:2087",
                minute: 170,
                script: Script::Say(neg_lsp),
                verdict: Verdict::NothingInFile,
                note: "NEGATIVE: language-server session (Content-Length framed JSON-RPC over TCP, no newlines between messages) editing a file that contains a mining.subscribe line",
                ..TALK
            },
        ),
        talk(
            "neg-tls.pcap",
            &Talk {
                client: "192.168.1.62:53100",
                server: "198.51.100.80:443",
                minute: 175,
                seed: 35,
                script: Script::Say(neg_tls),
                verdict: Verdict::NothingInFile,
                note: "NEGATIVE: TLS-like binary traffic on 443 (ClientHello with SNI www.example.com, server flight, random application-data records)",
                ..TALK
            },
        ),
        code("neg-dns.pcap", neg_dns),
        talk(
            "sv1-asic-extensions.pcap",
            &Talk {
                client: "10.50.0.21:40100",
                server: "198.51.100.90:3333",
                minute: 185,
                seed: 40,
                script: Script::Say(sv1_asic_extensions),
                end: End::Fin(Side::B),
                verdict: Verdict::Mining(Variant::StratumV1),
                note: "ASIC firmware (bmminer): mining.configure version-rolling, extranonce.subscribe, suggest_difficulty, set_version_mask, set_extranonce, 6-param submits with version bits, client.get_version answered by the miner, show_message, reconnect; base58check P2PKH wallet",
                ..TALK
            },
        ),
        talk(
            "sv1-zcash-set-target.pcap",
            &Talk {
                client: "10.50.0.22:40200",
                server: "198.51.100.91:3357",
                minute: 190,
                seed: 41,
                script: Script::Say(sv1_zcash_set_target),
                verdict: Verdict::Mining(Variant::StratumV1),
                note: "Zcash Equihash SV1 (EWBF-like): mining.set_target (difficulty from the 0x0007ff.. diff-1 target), 4 submits of ~2.8 KB over several segments; t1 transparent wallet",
                ..TALK
            },
        ),
        talk(
            "ethstratum1-nicehash.pcap",
            &Talk {
                client: "172.16.30.5:41000",
                server: "198.51.100.92:3353",
                minute: 195,
                seed: 42,
                script: Script::Say(ethstratum1_nicehash),
                verdict: Verdict::Mining(Variant::EthereumStratum),
                note: "EthereumStratum/1.0.0 (NiceHash): subscribe naming the protocol, ETH-shaped notify [job, seedhash, headerhash, clean], 3-param submits; EIP-55 checksummed wallet",
                ..TALK
            },
        ),
        talk(
            "ethstratum2-hello.pcap",
            &Talk {
                client: "172.16.30.6:41001",
                server: "198.51.100.93:4444",
                minute: 200,
                seed: 43,
                script: Script::Say(ethstratum2_hello),
                verdict: Verdict::Mining(Variant::EthereumStratum),
                note: "EthereumStratum/2.0.0: mining.hello, mining.set {epoch, target, algo, extranonce}, notify, submits with the worker last, mining.hashrate, noop, bye",
                ..TALK
            },
        ),
        talk(
            "cryptonote-nicehash-proxy.pcap",
            &Talk {
                client: "192.168.9.20:43000",
                server: "203.0.113.40:3333",
                minute: 205,
                seed: 44,
                script: Script::Say(cryptonote_nicehash_proxy),
                verdict: Verdict::Mining(Variant::CryptoNote),
                note: "xmrig-proxy in NiceHash mode (login nicehash flag, pool extensions), login WALLET+50000 fixed difficulty",
                ..TALK
            },
        ),
        talk(
            "sv1-pretty-printed.pcap",
            &Talk {
                client: "10.50.0.23:40300",
                server: "198.51.100.94:3333",
                minute: 210,
                seed: 45,
                script: Script::Say(sv1_pretty_printed),
                verdict: Verdict::Mining(Variant::StratumV1),
                note: "pretty-printed JSON: every message spread over several lines (CRLF), sent in 5- and 7-byte segments; submits with \\u escapes",
                ..TALK
            },
        ),
        talk(
            "neg-bitcoin-p2p.pcap",
            &Talk {
                client: "10.60.0.5:50900",
                server: "198.51.100.100:8333",
                minute: 215,
                seed: 46,
                script: Script::Say(neg_bitcoin_p2p),
                verdict: Verdict::NothingInFile,
                note: "NEGATIVE: Bitcoin P2P (binary: version/verack/inv/getdata/block/ping on 8333), bypassed on its first byte",
                ..TALK
            },
        ),
        talk(
            "neg-monero-levin.pcap",
            &Talk {
                client: "10.60.0.6:50901",
                server: "198.51.100.101:18080",
                minute: 216,
                seed: 47,
                script: Script::Say(neg_monero_levin),
                verdict: Verdict::NothingInFile,
                note: "NEGATIVE: Monero P2P levin protocol (binary handshake and timed sync on 18080)",
                ..TALK
            },
        ),
        talk(
            "neg-eth-devp2p.pcap",
            &Talk {
                client: "10.60.0.7:50902",
                server: "198.51.100.102:30303",
                minute: 217,
                seed: 48,
                script: Script::Say(neg_eth_devp2p),
                verdict: Verdict::NothingInFile,
                note: "NEGATIVE: Ethereum devp2p/RLPx (binary ECIES handshake and frames on 30303)",
                ..TALK
            },
        ),
        talk(
            "neg-web-login-jsonrpc.pcap",
            &Talk {
                client: "10.60.0.8:50903",
                server: "198.51.100.103:7000",
                minute: 218,
                script: Script::Lines(&[
                    Line::Ask(
                        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"login\",\"params\":{\"login\":\"alice\",\"password\":\"correct horse\"}}\n",
                        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"status\":\"OK\",\"token\":\"c2Vzc2lvbg\"}}\n",
                    ),
                    Line::Ask(
                        "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"job\",\"params\":{\"name\":\"nightly-backup\",\"target\":\"s3\"}}\n",
                        "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"job_id\":\"77\",\"status\":\"queued\"}}\n",
                    ),
                    Line::Ask(
                        "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"submit\",\"params\":{\"form\":\"expenses\",\"job_id\":\"77\"}}\n",
                        "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":true}\n",
                    ),
                    Line::Ask(
                        "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"keepalived\",\"params\":{\"id\":\"c2Vzc2lvbg\"}}\n",
                        "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{\"status\":\"KEEPALIVED\"}}\n",
                    ),
                ]),
                verdict: Verdict::NothingInFile,
                note: "NEGATIVE: a web application's JSON-RPC using the generic names login (user/password object), job, submit and keepalived without the mining shapes",
                ..TALK
            },
        ),
        talk(
            "neg-pretty-jsonrpc.pcap",
            &Talk {
                client: "10.60.0.9:50904",
                server: "198.51.100.104:9000",
                minute: 219,
                script: Script::Say(neg_pretty_jsonrpc),
                verdict: Verdict::NothingInFile,
                note: "NEGATIVE: pretty-printed (multi-line) JSON-RPC that is not mining: Electrum server.version, eth_blockNumber, a chat message quoting mining.subscribe",
                ..TALK
            },
        ),
        code("tls-pool-sni.pcap", super::encrypted::tls_pool_sni),
        code("tls-dns-no-sni.pcap", super::encrypted::tls_dns_no_sni),
        code("neg-tls-pool-website.pcap", super::encrypted::neg_tls_pool_website),
        code("neg-dns-pool-no-connection.pcap", super::encrypted::neg_dns_pool_no_connection),
        code("neg-dns-expired.pcap", super::encrypted::neg_dns_expired),
        code("beh-monero-fast-shares.pcap", super::behaviour::beh_monero_fast),
        code("beh-monero-slow-shares.pcap", super::behaviour::beh_monero_slow),
        code("beh-bitcoin.pcap", super::behaviour::beh_bitcoin),
        code("beh-litecoin.pcap", super::behaviour::beh_litecoin),
        code("beh-ravencoin.pcap", super::behaviour::beh_ravencoin),
        code("beh-etc.pcap", super::behaviour::beh_etc),
        code("beh-neg-mqtt-subscriber.pcap", super::behaviour::beh_neg_mqtt_subscriber),
        code("beh-neg-mqtt-publisher.pcap", super::behaviour::beh_neg_mqtt_publisher),
        code("beh-neg-imap-idle.pcap", super::behaviour::beh_neg_imap_idle),
        code("beh-neg-websocket-ticker.pcap", super::behaviour::beh_neg_websocket_ticker),
        code("beh-neg-chat-heartbeat.pcap", super::behaviour::beh_neg_chat_heartbeat),
        code("beh-neg-push-heartbeat.pcap", super::behaviour::beh_neg_push_heartbeat),
        code("beh-neg-long-poll.pcap", super::behaviour::beh_neg_long_poll),
        code("beh-ech-monero.pcap", super::behaviour::beh_ech_monero),
        code("neg-ech-browser.pcap", super::behaviour::neg_ech_browser),
        code("getwork-cgminer.pcap", super::encrypted::getwork_cgminer),
        code("getwork-eth-node.pcap", super::encrypted::getwork_eth_node),
        code("neg-http-get-pool-api.pcap", super::encrypted::neg_http_get_pool_api),
        code("sv2-handshake.pcap", super::encrypted::sv2_handshake),
        code("neg-binary-3336.pcap", super::encrypted::neg_binary_3336),
        code("sv2-sri-noise.pcap", super::sv2::sri_noise),
        code("sv2-sri-plain.pcap", super::sv2::sri_plain),
        kept("tunnel-socks5-microsocks.pcap", &TUNNEL_SOCKS5_MICROSOCKS),
        kept("tunnel-socks5-auth-microsocks.pcap", &TUNNEL_SOCKS5_AUTH_MICROSOCKS),
        kept("tunnel-socks5-dante.pcap", &TUNNEL_SOCKS5_DANTE),
        kept("tunnel-socks4-dante.pcap", &TUNNEL_SOCKS4_DANTE),
        kept("tunnel-http-connect-tinyproxy.pcap", &TUNNEL_HTTP_CONNECT_TINYPROXY),
        kept("tunnel-websocket-python.pcap", &TUNNEL_WEBSOCKET_PYTHON),
        kept("tunnel-websocket-webminer.pcap", &TUNNEL_WEBSOCKET_WEBMINER),
        kept("tunnel-proxy-v1-haproxy.pcap", &TUNNEL_PROXY_V1_HAPROXY),
        kept("tunnel-proxy-v2-haproxy.pcap", &TUNNEL_PROXY_V2_HAPROXY),
        kept("tls-hello-split-openssl.pcap", &TLS_HELLO_SPLIT_OPENSSL),
        kept("tunnel-http-connect-tls-openssl.pcap", &TUNNEL_HTTP_CONNECT_TLS_OPENSSL),
    ];
    ALL
}

/// The kept captures of real software (all on loopback: 127.0.0.0/8 is in the default home
/// networks). The miner and pool are `scripts/tunnel-lab.py`, XMRig's dialect.
const TUNNEL_KEPT: Kept = Kept {
    bytes: &[],
    variant: Variant::CryptoNote,
    client: "",
    server: "",
    login: XMR_WALLET,
    tunnel: None,
    note: "",
};

pub const TUNNEL_SOCKS5_MICROSOCKS: Kept = Kept {
    bytes: include_bytes!("../../real/tunnel-socks5-microsocks.pcap"),
    client: "127.0.0.1:46602",
    server: "127.0.0.1:1080",
    tunnel: Some(("socks5", "127.0.0.1:3333")),
    note: "real microsocks 1.0.3: SOCKS5 greeting 05 01 00, CONNECT to an IPv4 address, then cryptonote login, job, 3 submits",
    ..TUNNEL_KEPT
};

pub const TUNNEL_SOCKS5_AUTH_MICROSOCKS: Kept = Kept {
    bytes: include_bytes!("../../real/tunnel-socks5-auth-microsocks.pcap"),
    client: "127.0.0.1:41208",
    server: "127.0.0.1:1090",
    tunnel: Some(("socks5", "localhost:3333")),
    note: "real microsocks 1.0.3 with -u/-P: SOCKS5 username/password sub-negotiation (RFC 1929), CONNECT to a name, then cryptonote",
    ..TUNNEL_KEPT
};

pub const TUNNEL_SOCKS5_DANTE: Kept = Kept {
    bytes: include_bytes!("../../real/tunnel-socks5-dante.pcap"),
    client: "127.0.0.1:33558",
    server: "127.0.0.1:1081",
    tunnel: Some(("socks5", "127.0.0.1:3333")),
    note: "real dante-server 1.4.2 (danted): SOCKS5 CONNECT to an IPv4 address, then cryptonote",
    ..TUNNEL_KEPT
};

pub const TUNNEL_SOCKS4_DANTE: Kept = Kept {
    bytes: include_bytes!("../../real/tunnel-socks4-dante.pcap"),
    client: "127.0.0.1:33566",
    server: "127.0.0.1:1081",
    tunnel: Some(("socks4", "127.0.0.1:3333")),
    note: "real dante-server 1.4.2 (danted): SOCKS4 CONNECT with a user id, reply 0x5a, then cryptonote",
    ..TUNNEL_KEPT
};

pub const TUNNEL_HTTP_CONNECT_TINYPROXY: Kept = Kept {
    bytes: include_bytes!("../../real/tunnel-http-connect-tinyproxy.pcap"),
    client: "127.0.0.1:40278",
    server: "127.0.0.1:8888",
    tunnel: Some(("http-connect", "localhost:3333")),
    note: "real tinyproxy 1.11.1: CONNECT localhost:3333, 200 Connection established, then cryptonote",
    ..TUNNEL_KEPT
};

pub const TUNNEL_WEBSOCKET_PYTHON: Kept = Kept {
    bytes: include_bytes!("../../real/tunnel-websocket-python.pcap"),
    client: "127.0.0.1:36268",
    server: "127.0.0.1:8765",
    tunnel: Some(("websocket", "127.0.0.1:8765")),
    note: "real python websockets 14.1 client and server (relaying to the pool): upgrade, 101, masked text frames of cryptonote JSON",
    ..TUNNEL_KEPT
};

pub const TUNNEL_WEBSOCKET_WEBMINER: Kept = Kept {
    bytes: include_bytes!("../../real/tunnel-websocket-webminer.pcap"),
    variant: Variant::WebMiner,
    client: "127.0.0.1:46926",
    server: "127.0.0.1:8765",
    login: "QmVsb3ZlZFNpdGVLZXkwMDAwMDAwMDAwMDAwMDA",
    tunnel: Some(("websocket", "127.0.0.1:8765")),
    note: "real python websockets 14.1: the browser miners' dialect (Coinhive's auth with a site key, authed, job, submit, hash_accepted) in masked frames, relayed to a cryptonote pool as the web-miner front ends do",
};

pub const TUNNEL_PROXY_V1_HAPROXY: Kept = Kept {
    bytes: include_bytes!("../../real/tunnel-proxy-v1-haproxy.pcap"),
    client: "127.0.0.1:55024",
    server: "127.0.0.1:3334",
    tunnel: Some(("proxy-protocol", "127.0.0.1:3401")),
    note: "real haproxy 2.6.12 send-proxy: the PROXY v1 line before the miner's cryptonote stream, on the haproxy-to-pool leg",
    ..TUNNEL_KEPT
};

pub const TUNNEL_PROXY_V2_HAPROXY: Kept = Kept {
    bytes: include_bytes!("../../real/tunnel-proxy-v2-haproxy.pcap"),
    client: "127.0.0.1:55030",
    server: "127.0.0.1:3334",
    tunnel: Some(("proxy-protocol", "127.0.0.1:3402")),
    note:
        "real haproxy 2.6.12 send-proxy-v2: the PROXY v2 binary header before the miner's cryptonote stream",
    ..TUNNEL_KEPT
};

pub const TLS_HELLO_SPLIT_OPENSSL: Kept = Kept {
    bytes: include_bytes!("../../real/tls-hello-split-openssl.pcap"),
    variant: Variant::Tls,
    client: "127.0.0.1:43472",
    server: "127.0.0.1:4433",
    login: "",
    tunnel: None,
    note: "real openssl s_client 3.0 -max_send_frag 512 with a long ALPN list: a 1,006-byte ClientHello (SNI pool.supportxmr.com) in two TLS records; clue sni",
};

pub const TUNNEL_HTTP_CONNECT_TLS_OPENSSL: Kept = Kept {
    bytes: include_bytes!("../../real/tunnel-http-connect-tls-openssl.pcap"),
    variant: Variant::Tls,
    client: "127.0.0.1:40682",
    server: "127.0.0.1:8889",
    login: "",
    tunnel: Some(("http-connect", "localhost:4433")),
    note: "real openssl s_client 3.0 -proxy through tinyproxy 1.11.1: CONNECT localhost:4433, then TLS with SNI pool.supportxmr.com inside; tls, clue sni",
};

/// Every kept capture with the tunnel it must be reported in: for the tunnel tests.
pub fn kept_tunnels() -> Vec<(&'static str, &'static Kept)> {
    all()
        .iter()
        .filter_map(|sc| match sc.how {
            How::Kept(k) => Some((sc.file, k)),
            _ => None,
        })
        .collect()
}

/// Writes every scenario into `dir` (created if missing) plus `TRUTH.tsv`, and returns the rows.
/// Output depends only on this code, never on the clock or the machine.
pub fn write_dir(dir: &Path) -> io::Result<Vec<TruthRow>> {
    fs::create_dir_all(dir)?;
    let mut rows = Vec::new();
    for sc in all() {
        let mut out = BufWriter::new(fs::File::create(dir.join(sc.file))?);
        rows.extend(sc.write(&mut out)?);
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    let mut tsv = String::from(TRUTH_HEADER);
    tsv.push('\n');
    for r in &rows {
        tsv.push_str(&r.tsv_line()?);
    }
    fs::write(dir.join("TRUTH.tsv"), tsv)?;
    Ok(rows)
}

// ---- shared pieces ---------------------------------------------------------------------------

/// 2024-05-01T12:00:00Z; each scenario starts some minutes after it so files do not overlap.
const T0_US: i64 = 1_714_564_800_000_000;

pub(super) fn at(minute: i64) -> Ts {
    Ts::from_micros(T0_US + minute * 60_000_000)
}

pub(super) fn sa(s: &str) -> io::Result<SocketAddr> {
    s.parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad socket address"))
}

pub(super) fn pcap(out: &mut dyn Write, link: Link) -> io::Result<PcapWriter<&mut dyn Write>> {
    PcapWriter::new(out, link.link_type())
}

/// The Bech32 example address from BIP-173: a valid-looking wallet that belongs to no one.
pub(super) const BTC_WALLET: &str = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
/// A Monero-format (95-character, leading `4`) address made for these captures.
pub(super) const XMR_WALLET: &str =
    "48edfHu7V9Z84YzzMa6fUueoELZ9ZRXq9VetWzYGzKt52XU5xvqgzYnDK9URnRoJMk1j8nLwEVsaSWJ4fhdUyZijBGUicoD";
/// An Ethereum-format address made for these captures.
const ETH_WALLET: &str = "0x5a0b54d5dc17e0aadc383d2db43b0a0d3e029c4c";

fn say<S: PacketSink + ?Sized>(
    t: &mut TcpConversation,
    sink: &mut S,
    from: Side,
    line: &str,
    eol: &str,
    mss: Option<usize>,
) -> io::Result<()> {
    let mut bytes = Vec::with_capacity(line.len() + eol.len());
    bytes.extend_from_slice(line.as_bytes());
    bytes.extend_from_slice(eol.as_bytes());
    t.send(sink, from, &bytes, &Delivery { mss, ..Default::default() })
}

/// How a Stratum V1 session is shaped.
#[derive(Clone, Copy)]
struct Sv1<'a> {
    /// The worker as it goes into JSON strings (escapes allowed).
    login: &'a str,
    eol: &'a str,
    escaped: bool,
    jobs: u32,
    submits_per_job: u32,
    client_mss: Option<usize>,
    server_mss: Option<usize>,
}

/// The usual Stratum V1 session: two jobs of three shares, LF line ends, no escapes.
const SV1: Sv1<'static> = Sv1 {
    login: "",
    eol: "\n",
    escaped: false,
    jobs: 2,
    submits_per_job: 3,
    client_mss: None,
    server_mss: None,
};

/// A cpuminer-like session: subscribe, authorize, set_difficulty, then jobs with submits and
/// their results. Timing follows the real client: the pool answers after one RTT, shares come
/// seconds apart.
fn sv1_session<S: PacketSink + ?Sized>(
    t: &mut TcpConversation,
    sink: &mut S,
    rng: &mut Rng,
    o: &Sv1<'_>,
) -> io::Result<()> {
    let (c, s) = (Side::A, Side::B);
    let login = if o.login.is_empty() { BTC_WALLET } else { o.login };
    say(t, sink, c, &msg::sv1_subscribe(1, "cpuminer/2.5.1", o.escaped), o.eol, o.client_mss)?;
    say(t, sink, s, &msg::sv1_subscribe_result(1, &rng.hex(4)), o.eol, o.server_mss)?;
    t.pause_us(150);
    say(t, sink, c, &msg::sv1_authorize(2, login, o.escaped), o.eol, o.client_mss)?;
    say(t, sink, s, &msg::sv1_result_true(2), o.eol, o.server_mss)?;
    say(t, sink, s, &msg::sv1_set_difficulty("0.005", o.escaped), o.eol, o.server_mss)?;
    sv1_jobs(t, sink, rng, o, login, 0)
}

/// Jobs and shares only: what a capture started after the login sees.
fn sv1_jobs<S: PacketSink + ?Sized>(
    t: &mut TcpConversation,
    sink: &mut S,
    rng: &mut Rng,
    o: &Sv1<'_>,
    login: &str,
    first_job: u32,
) -> io::Result<()> {
    for j in first_job..first_job + o.jobs {
        let job = format!("1a2b{:04x}", j + 1);
        let (notify, ntime) = msg::sv1_notify(rng, &job, 850_000 + j, j == first_job, o.escaped);
        say(t, sink, Side::B, &notify, o.eol, o.server_mss)?;
        for _ in 0..o.submits_per_job {
            t.pause_ms(rng.range(900, 4000) as i64);
            let nonce = rng.hex(4);
            say(
                t,
                sink,
                Side::A,
                &msg::sv1_submit(login, &job, &ntime, &nonce, o.escaped),
                o.eol,
                o.client_mss,
            )?;
            say(t, sink, Side::B, &msg::sv1_result_true(4), o.eol, o.server_mss)?;
        }
        t.pause_ms(rng.range(2000, 9000) as i64);
    }
    Ok(())
}

/// How an XMRig session is shaped.
#[derive(Clone, Copy)]
struct Xmr<'a> {
    /// Login and password as they go into JSON strings (escapes allowed).
    login: &'a str,
    pass: &'a str,
    jobs: u32,
    submits_per_job: u32,
    keepalive: bool,
}

/// The usual XMRig session: the example wallet, two jobs of two shares, keepalives.
const XMR: Xmr<'static> = Xmr { login: XMR_WALLET, pass: "x", jobs: 2, submits_per_job: 2, keepalive: true };

/// An XMRig-like session: login (answered with the first job), submits, job pushes,
/// keepalived. Returns the next request id, so a caller can carry on the session.
fn xmr_session<S: PacketSink + ?Sized>(
    t: &mut TcpConversation,
    sink: &mut S,
    rng: &mut Rng,
    o: &Xmr<'_>,
) -> io::Result<u32> {
    let session = rng.hex(8);
    let seed = rng.hex(32);
    say(t, sink, Side::A, &msg::xmr_login(1, o.login, o.pass, "rig-xmr01"), "\n", None)?;
    let job = msg::xmr_job_body(rng, &session, 200_001, 3_150_001, &seed);
    say(t, sink, Side::B, &msg::xmr_login_result(1, &session, &job), "\n", None)?;
    xmr_work(t, sink, rng, o, &session, &seed, 2, 200_001, true)
}

/// Submits against the current job, then pushed jobs with their submits and keepalives.
#[allow(clippy::too_many_arguments)]
fn xmr_work<S: PacketSink + ?Sized>(
    t: &mut TcpConversation,
    sink: &mut S,
    rng: &mut Rng,
    o: &Xmr<'_>,
    session: &str,
    seed: &str,
    mut id: u32,
    first_job: u32,
    have_job: bool,
) -> io::Result<u32> {
    for j in 0..o.jobs {
        let job_id = first_job + j;
        if j > 0 || !have_job {
            let body = msg::xmr_job_body(rng, session, job_id, 3_150_000 + job_id - 199_999, seed);
            say(t, sink, Side::B, &msg::xmr_job(&body), "\n", None)?;
        }
        for _ in 0..o.submits_per_job {
            t.pause_ms(rng.range(800, 5000) as i64);
            say(t, sink, Side::A, &msg::xmr_submit(rng, id, session, job_id), "\n", None)?;
            say(t, sink, Side::B, &msg::xmr_status(id, "OK"), "\n", None)?;
            id += 1;
        }
        if o.keepalive {
            t.pause_ms(5000);
            say(t, sink, Side::A, &msg::xmr_keepalived(id, session), "\n", None)?;
            say(t, sink, Side::B, &msg::xmr_status(id, "KEEPALIVED"), "\n", None)?;
            id += 1;
        }
        t.pause_ms(rng.range(3000, 12_000) as i64);
    }
    Ok(id)
}

/// An ethminer-like eth-proxy session: login, getWork, hashrate reports, work pushes with id 0
/// and submitted solutions.
fn eth_session<S: PacketSink + ?Sized>(
    t: &mut TcpConversation,
    sink: &mut S,
    rng: &mut Rng,
    login: &str,
) -> io::Result<()> {
    let (c, s) = (Side::A, Side::B);
    let seed = rng.hex(32);
    let client_id = rng.hex(32);
    say(t, sink, c, &msg::eth_submit_login(2, login), "\n", None)?;
    say(t, sink, s, &msg::eth_true(2), "\n", None)?;
    say(t, sink, c, &msg::eth_get_work(3), "\n", None)?;
    let (work, mut header) = msg::eth_work(rng, 3, &seed, 19_800_000);
    say(t, sink, s, &work, "\n", None)?;
    for round in 0..3u32 {
        t.pause_ms(rng.range(1500, 6000) as i64);
        let (push, h) = msg::eth_work(rng, 0, &seed, 19_800_001 + round);
        say(t, sink, s, &push, "\n", None)?;
        header = h;
        t.pause_ms(rng.range(500, 3000) as i64);
        say(t, sink, c, &msg::eth_submit_work(rng, 4, &header), "\n", None)?;
        say(t, sink, s, &msg::eth_true(4), "\n", None)?;
        say(
            t,
            sink,
            c,
            &msg::eth_submit_hashrate(6, rng.range(50_000_000, 60_000_000), &client_id),
            "\n",
            None,
        )?;
        say(t, sink, s, &msg::eth_true(6), "\n", None)?;
        say(t, sink, c, &msg::eth_get_work(3), "\n", None)?;
        let (work, _) = msg::eth_work(rng, 3, &seed, 19_800_001 + round);
        say(t, sink, s, &work, "\n", None)?;
    }
    let _ = header;
    Ok(())
}

// ---- what is said on the irregular conversations ----------------------------------------------

fn sv1_reorder_retrans(t: &mut TcpConversation, w: &mut dyn PacketSink, rng: &mut Rng) -> io::Result<String> {
    let login = format!("{BTC_WALLET}.shuffle");
    // Subscribe in 16-byte segments: 2nd and 3rd swapped, the 1st retransmitted, and bytes
    // 10..40 re-sent as one segment straddling three boundaries.
    let sub = format!("{}\n", msg::sv1_subscribe(1, "cpuminer/2.5.1", false));
    t.send(
        w,
        Side::A,
        sub.as_bytes(),
        &Delivery { mss: Some(16), swaps: &[(1, 2)], retransmit: &[0], overlap: &[(10, 30)] },
    )?;
    say(t, w, Side::B, &msg::sv1_subscribe_result(1, &rng.hex(4)), "\n", None)?;
    // Authorize: last segment first, then an overlapping re-send of the middle.
    let auth = format!("{}\n", msg::sv1_authorize(2, &login, false));
    let n = auth.len().div_ceil(20);
    t.send(
        w,
        Side::A,
        auth.as_bytes(),
        &Delivery { mss: Some(20), swaps: &[(0, n - 1)], overlap: &[(15, 50)], ..Default::default() },
    )?;
    say(t, w, Side::B, &msg::sv1_result_true(2), "\n", None)?;
    say(t, w, Side::B, &msg::sv1_set_difficulty("0.005", false), "\n", None)?;
    // The pool's notify in 100-byte segments, reversed pairs, two retransmitted.
    let (notify, ntime) = msg::sv1_notify(rng, "1a2b0001", 850_001, true, false);
    let notify = format!("{notify}\n");
    t.send(
        w,
        Side::B,
        notify.as_bytes(),
        &Delivery { mss: Some(100), swaps: &[(0, 1), (3, 4)], retransmit: &[2, 4], overlap: &[(95, 110)] },
    )?;
    for k in 0..3 {
        t.pause_ms(rng.range(900, 3000) as i64);
        let sub = format!("{}\n", msg::sv1_submit(&login, "1a2b0001", &ntime, &rng.hex(4), false));
        let how = match k {
            0 => Delivery { mss: Some(40), swaps: &[(0, 3)], ..Default::default() },
            1 => Delivery { mss: Some(40), retransmit: &[0, 1, 2, 3], ..Default::default() },
            _ => Delivery { mss: Some(40), overlap: &[(0, 100), (35, 10)], ..Default::default() },
        };
        t.send(w, Side::A, sub.as_bytes(), &how)?;
        say(t, w, Side::B, &msg::sv1_result_true(4), "\n", None)?;
    }
    Ok(login)
}

fn sv1_midstream(t: &mut TcpConversation, w: &mut dyn PacketSink, rng: &mut Rng) -> io::Result<String> {
    let login = format!("{BTC_WALLET}.late");
    // The capture starts inside a notify: the first segment holds the tail of one line.
    let (old, _) = msg::sv1_notify(rng, "1a2b0011", 850_010, true, false);
    let tail = old.get(old.len() - 120..).unwrap_or("");
    say(t, w, Side::B, tail, "\n", None)?;
    t.pause_ms(4200);
    let o = Sv1 { login: &login, jobs: 3, submits_per_job: 2, ..SV1 };
    sv1_jobs(t, w, rng, &o, &login, 0x11)?;
    // No authorize is on the wire, but every mining.submit names the worker as authorized: that
    // is the login the session carries.
    Ok(login)
}

fn cryptonote_midstream(
    t: &mut TcpConversation,
    w: &mut dyn PacketSink,
    rng: &mut Rng,
) -> io::Result<String> {
    let session = rng.hex(8);
    let seed = rng.hex(32);
    xmr_work(t, w, rng, &Xmr { jobs: 3, ..XMR }, &session, &seed, 57, 200_040, false)?;
    Ok(String::new())
}

fn cryptonote_escaped_login(
    t: &mut TcpConversation,
    w: &mut dyn PacketSink,
    rng: &mut Rng,
) -> io::Result<String> {
    // The wallet's first character, the dot and the slash are escaped on the wire.
    let wire = format!("\\u0034{}\\u002erig\\/07", XMR_WALLET.get(1..).unwrap_or(""));
    let login = format!("{XMR_WALLET}.rig/07");
    xmr_session(t, w, rng, &Xmr { login: &wire, pass: "rig\\u002d07", jobs: 1, ..XMR })?;
    Ok(login)
}

fn sv1_two_per_segment(t: &mut TcpConversation, w: &mut dyn PacketSink, rng: &mut Rng) -> io::Result<String> {
    let login = format!("{BTC_WALLET}.pipelined");
    let c = format!(
        "{}\n{}\n",
        msg::sv1_subscribe(1, "cpuminer/2.5.1", false),
        msg::sv1_authorize(2, &login, false)
    );
    t.client_sends(w, c.as_bytes())?;
    let s = format!(
        "{}\n{}\n{}\n",
        msg::sv1_subscribe_result(1, &rng.hex(4)),
        msg::sv1_result_true(2),
        msg::sv1_set_difficulty("0.005", false)
    );
    t.server_sends(w, s.as_bytes())?;
    let (notify, ntime) = msg::sv1_notify(rng, "1a2b0001", 850_000, true, false);
    t.server_sends(w, format!("{notify}\n").as_bytes())?;
    t.pause_ms(2100);
    let two = format!(
        "{}\n{}\n",
        msg::sv1_submit(&login, "1a2b0001", &ntime, &rng.hex(4), false),
        msg::sv1_submit(&login, "1a2b0001", &ntime, &rng.hex(4), false)
    );
    t.client_sends(w, two.as_bytes())?;
    t.server_sends(w, format!("{}\n{}\n", msg::sv1_result_true(4), msg::sv1_result_true(4)).as_bytes())?;
    Ok(login)
}

fn sv1_batch(t: &mut TcpConversation, w: &mut dyn PacketSink, rng: &mut Rng) -> io::Result<String> {
    let login = format!("{BTC_WALLET}.batch");
    let c = format!(
        "[{}, {}]\n",
        msg::sv1_subscribe(1, "cpuminer/2.5.1", false),
        msg::sv1_authorize(2, &login, false)
    );
    t.client_sends(w, c.as_bytes())?;
    let s = format!("[{},{}]\n", msg::sv1_subscribe_result(1, &rng.hex(4)), msg::sv1_result_true(2));
    t.server_sends(w, s.as_bytes())?;
    let o = Sv1 { login: &login, jobs: 1, submits_per_job: 2, ..SV1 };
    say(t, w, Side::B, &msg::sv1_set_difficulty("0.005", false), "\n", None)?;
    sv1_jobs(t, w, rng, &o, &login, 0)?;
    Ok(login)
}

fn two_miners(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut a =
        TcpConversation::new(sa("10.20.0.23:49200")?, sa("198.51.100.25:3333")?, at(130), Link::Ethernet);
    let mut b =
        TcpConversation::new(sa("192.168.7.8:50100")?, sa("203.0.113.28:3333")?, at(130), Link::Ethernet);
    let mut ra = Rng::new(27);
    let mut rb = Rng::new(28);
    let login_a = format!("{BTC_WALLET}.desk12");
    a.handshake(&mut w)?;
    b.wait_until(a.now());
    b.handshake(&mut w)?;
    a.wait_until(b.now());
    say(&mut a, &mut w, Side::A, &msg::sv1_subscribe(1, "cpuminer/2.5.1", false), "\n", None)?;
    say(&mut a, &mut w, Side::B, &msg::sv1_subscribe_result(1, &ra.hex(4)), "\n", None)?;
    b.wait_until(a.now());
    let session = rb.hex(8);
    let seed = rb.hex(32);
    say(&mut b, &mut w, Side::A, &msg::xmr_login(1, XMR_WALLET, "x", "rig-xmr01"), "\n", None)?;
    let job = msg::xmr_job_body(&mut rb, &session, 200_001, 3_150_001, &seed);
    say(&mut b, &mut w, Side::B, &msg::xmr_login_result(1, &session, &job), "\n", None)?;
    a.wait_until(b.now());
    say(&mut a, &mut w, Side::A, &msg::sv1_authorize(2, &login_a, false), "\n", None)?;
    say(&mut a, &mut w, Side::B, &msg::sv1_result_true(2), "\n", None)?;
    say(&mut a, &mut w, Side::B, &msg::sv1_set_difficulty("0.005", false), "\n", None)?;
    let mut id = 2;
    for j in 0..2u32 {
        a.wait_until(b.now());
        let o = Sv1 { jobs: 1, submits_per_job: 2, ..SV1 };
        sv1_jobs(&mut a, &mut w, &mut ra, &o, &login_a, j)?;
        b.wait_until(a.now());
        let ox = Xmr { jobs: 1, keepalive: j == 1, ..XMR };
        id = xmr_work(&mut b, &mut w, &mut rb, &ox, &session, &seed, id, 200_001 + j, j == 0)?;
    }
    a.wait_until(b.now());
    a.close_fin(&mut w, Side::A)?;
    b.wait_until(a.now());
    b.close_fin(&mut w, Side::A)?;
    truth.mining(
        Variant::StratumV1,
        &a,
        &login_a,
        "two miners in one file, interleaved in time: this SV1 session and a cryptonote one",
    );
    truth.mining(
        Variant::CryptoNote,
        &b,
        XMR_WALLET,
        "two miners in one file, interleaved in time: this cryptonote session and an SV1 one",
    );
    Ok(())
}

// ---- negatives -------------------------------------------------------------------------------

/// A request/response exchange of whole lines.
fn exchange<S: PacketSink + ?Sized>(
    t: &mut TcpConversation,
    sink: &mut S,
    req: &str,
    resp: &str,
) -> io::Result<()> {
    t.client_sends(sink, req.as_bytes())?;
    t.server_sends(sink, resp.as_bytes())?;
    t.pause_ms(300);
    Ok(())
}

fn neg_electrum(t: &mut TcpConversation, w: &mut dyn PacketSink, rng: &mut Rng) -> io::Result<String> {
    exchange(t, w,
        "{\"jsonrpc\": \"2.0\", \"method\": \"server.version\", \"params\": [\"electrum/4.5.5\", \"1.4\"], \"id\": 0}\n",
        "{\"jsonrpc\": \"2.0\", \"result\": [\"ElectrumX 1.16.0\", \"1.4\"], \"id\": 0}\n")?;
    let header = rng.hex(80);
    exchange(t, w,
        "{\"jsonrpc\": \"2.0\", \"method\": \"blockchain.headers.subscribe\", \"params\": [], \"id\": 1}\n",
        &format!("{{\"jsonrpc\": \"2.0\", \"result\": {{\"hex\": \"{header}\", \"height\": 843210}}, \"id\": 1}}\n"))?;
    for id in 2..6 {
        let sh = rng.hex(32);
        exchange(t, w,
            &format!("{{\"jsonrpc\": \"2.0\", \"method\": \"blockchain.scripthash.subscribe\", \"params\": [\"{sh}\"], \"id\": {id}}}\n"),
            &format!("{{\"jsonrpc\": \"2.0\", \"result\": \"{}\", \"id\": {id}}}\n", rng.hex(32)))?;
        exchange(t, w,
            &format!("{{\"jsonrpc\": \"2.0\", \"method\": \"blockchain.scripthash.get_balance\", \"params\": [\"{sh}\"], \"id\": {}}}\n", id + 10),
            &format!("{{\"jsonrpc\": \"2.0\", \"result\": {{\"confirmed\": {}, \"unconfirmed\": 0}}, \"id\": {}}}\n", rng.range(0, 5_000_000), id + 10))?;
    }
    // The server pushes a new block header unasked, the way a pool pushes a job.
    t.pause_ms(9000);
    t.server_sends(w, format!("{{\"jsonrpc\": \"2.0\", \"method\": \"blockchain.headers.subscribe\", \"params\": [{{\"hex\": \"{}\", \"height\": 843211}}]}}\n", rng.hex(80)).as_bytes())?;
    t.pause_ms(20_000);
    exchange(
        t,
        w,
        "{\"jsonrpc\": \"2.0\", \"method\": \"server.ping\", \"params\": [], \"id\": 20}\n",
        "{\"jsonrpc\": \"2.0\", \"result\": null, \"id\": 20}\n",
    )?;
    Ok(String::new())
}

fn eth_node_calls(rng: &mut Rng) -> Vec<(String, String)> {
    vec![
        (
            "{\"jsonrpc\":\"2.0\",\"method\":\"web3_clientVersion\",\"params\":[],\"id\":1}".to_string(),
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"Geth/v1.13.14-stable-2bd6bd01/linux-amd64/go1.21.7\"}".to_string(),
        ),
        (
            "{\"jsonrpc\":\"2.0\",\"method\":\"eth_blockNumber\",\"params\":[],\"id\":2}".to_string(),
            "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":\"0x12e4a31\"}".to_string(),
        ),
        (
            format!("{{\"jsonrpc\":\"2.0\",\"method\":\"eth_call\",\"params\":[{{\"to\":\"0x{}\",\"data\":\"0x70a08231000000000000000000000000{}\"}},\"latest\"],\"id\":3}}", rng.hex(20), rng.hex(20)),
            format!("{{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":\"0x{}\"}}", rng.hex(32)),
        ),
        (
            "{\"jsonrpc\":\"2.0\",\"method\":\"eth_getBlockByNumber\",\"params\":[\"latest\",false],\"id\":4}".to_string(),
            format!("{{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{{\"number\":\"0x12e4a31\",\"hash\":\"0x{}\",\"parentHash\":\"0x{}\",\"miner\":\"0x{}\",\"gasUsed\":\"0xd1c2a5\",\"transactions\":[]}}}}", rng.hex(32), rng.hex(32), rng.hex(20)),
        ),
        (
            "{\"jsonrpc\":\"2.0\",\"method\":\"eth_gasPrice\",\"params\":[],\"id\":5}".to_string(),
            "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":\"0x1dfd14000\"}".to_string(),
        ),
    ]
}

fn neg_eth_node_tcp(t: &mut TcpConversation, w: &mut dyn PacketSink, rng: &mut Rng) -> io::Result<String> {
    for (req, resp) in eth_node_calls(rng) {
        exchange(t, w, &format!("{req}\n"), &format!("{resp}\n"))?;
    }
    Ok(String::new())
}

fn neg_eth_node_http(t: &mut TcpConversation, w: &mut dyn PacketSink, rng: &mut Rng) -> io::Result<String> {
    for (req, resp) in eth_node_calls(rng) {
        let post = format!(
            "POST / HTTP/1.1\r\nHost: 198.51.100.61:8545\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: {}\r\nAccept: application/json\r\nContent-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\n{req}",
            req.len()
        );
        let body = format!("{resp}\n");
        let ok = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nVary: Origin\r\nDate: Wed, 01 May 2024 14:30:00 GMT\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        exchange(t, w, &post, &ok)?;
    }
    Ok(String::new())
}

fn neg_jsonrpc_echo(t: &mut TcpConversation, w: &mut dyn PacketSink, rng: &mut Rng) -> io::Result<String> {
    for word in ["Testing!", "hello", "ping 3"] {
        let id = format!(
            "{}-{}-4{}-a{}-{}",
            rng.hex(4),
            rng.hex(2),
            rng.hex(2).get(1..).unwrap_or(""),
            rng.hex(2).get(1..).unwrap_or(""),
            rng.hex(6)
        );
        exchange(t, w,
            &format!("{{\"jsonrpc\": \"2.0\", \"method\": \"echo\", \"params\": [\"{word}\"], \"id\": \"{id}\"}}\n"),
            &format!("{{\"jsonrpc\": \"2.0\", \"result\": [\"{word}\"], \"id\": \"{id}\"}}\n"))?;
    }
    Ok(String::new())
}

fn neg_http_html(t: &mut TcpConversation, w: &mut dyn PacketSink, rng: &mut Rng) -> io::Result<String> {
    t.client_sends(w, b"GET /docs/stratum-protocol.html HTTP/1.1\r\nHost: docs.example.org\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\r\nAccept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.5\r\nConnection: keep-alive\r\n\r\n")?;
    let (notify, ntime) = msg::sv1_notify(rng, "1a2b0001", 850_000, true, false);
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Stratum protocol walkthrough</title></head>\n<body>\n<h1>A Stratum V1 session, line by line</h1>\n<p>The miner subscribes and authorizes:</p>\n<pre><code>\n{}\n{}\n{}\n</code></pre>\n<p>The pool then sends work:</p>\n<pre><code>\n{}\n{}\n</code></pre>\n<p>And the miner submits shares:</p>\n<pre><code>\n{}\n</code></pre>\n</body>\n</html>\n",
        msg::sv1_subscribe(1, "cpuminer/2.5.1", false),
        msg::sv1_subscribe_result(1, "08000002"),
        msg::sv1_authorize(2, "slush.worker1", false),
        msg::sv1_set_difficulty("1", false),
        notify,
        msg::sv1_submit("slush.worker1", "1a2b0001", &ntime, "b2957c02", false),
    );
    let resp = format!(
        "HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: Wed, 01 May 2024 14:40:00 GMT\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{body}",
        body.len()
    );
    t.server_sends(w, resp.as_bytes())?;
    t.pause_ms(1200);
    Ok(String::new())
}

fn neg_lsp(t: &mut TcpConversation, w: &mut dyn PacketSink, _rng: &mut Rng) -> io::Result<String> {
    let frame = |body: &str| format!("Content-Length: {}\r\n\r\n{body}", body.len());
    let msgs: [(Side, String); 6] = [
        (Side::A, frame("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"processId\":4242,\"rootUri\":\"file:///home/dev/miner\",\"capabilities\":{}}}")),
        (Side::B, frame("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"capabilities\":{\"textDocumentSync\":1,\"hoverProvider\":true},\"serverInfo\":{\"name\":\"pylsp\",\"version\":\"1.10.0\"}}}")),
        (Side::A, frame("{\"jsonrpc\":\"2.0\",\"method\":\"initialized\",\"params\":{}}")),
        (Side::A, frame("{\"jsonrpc\":\"2.0\",\"method\":\"textDocument/didOpen\",\"params\":{\"textDocument\":{\"uri\":\"file:///home/dev/miner/pool.py\",\"languageId\":\"python\",\"version\":1,\"text\":\"import json\\nSUB = {\\\"id\\\": 1, \\\"method\\\": \\\"mining.subscribe\\\", \\\"params\\\": []}\\nsock.send(json.dumps(SUB).encode() + b\\\"\\\\n\\\")\\n\"}}}")),
        (Side::B, frame("{\"jsonrpc\":\"2.0\",\"method\":\"textDocument/publishDiagnostics\",\"params\":{\"uri\":\"file:///home/dev/miner/pool.py\",\"diagnostics\":[{\"range\":{\"start\":{\"line\":2,\"character\":0},\"end\":{\"line\":2,\"character\":4}},\"message\":\"undefined name 'sock'\",\"severity\":1}]}}")),
        (Side::A, frame("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"textDocument/hover\",\"params\":{\"textDocument\":{\"uri\":\"file:///home/dev/miner/pool.py\"},\"position\":{\"line\":1,\"character\":30}}}")),
    ];
    for (side, m) in msgs.iter() {
        t.send(w, *side, m.as_bytes(), &Delivery::default())?;
        t.pause_ms(40);
    }
    t.server_sends(w, frame("{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":null}").as_bytes())?;
    Ok(String::new())
}

/// A TLS record of `kind` holding `len` random bytes.
pub(super) fn tls_record(rng: &mut Rng, kind: u8, len: usize) -> Vec<u8> {
    let mut rec = vec![kind, 0x03, 0x03];
    rec.extend_from_slice(&(len as u16).to_be_bytes());
    let start = rec.len();
    rec.resize(start + len, 0);
    rng.fill(&mut rec[start..]);
    rec
}

fn neg_tls(t: &mut TcpConversation, w: &mut dyn PacketSink, rng: &mut Rng) -> io::Result<String> {
    t.client_sends(w, &super::encrypted::hello(rng, Some("www.example.com"), &[]))?;
    let mut flight = tls_record(rng, 0x16, 122);
    flight.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
    flight.extend(tls_record(rng, 0x17, 2800));
    t.server_sends(w, &flight)?;
    let mut fin = vec![0x14, 0x03, 0x03, 0x00, 0x01, 0x01];
    fin.extend(tls_record(rng, 0x17, 53));
    t.client_sends(w, &fin)?;
    for k in 0..6 {
        t.pause_ms(rng.range(50, 900) as i64);
        t.client_sends(w, &tls_record(rng, 0x17, 200 + k * 37))?;
        t.server_sends(w, &tls_record(rng, 0x17, 1500 + k * 911))?;
    }
    Ok(String::new())
}

/// A DNS message with one question and, for a response, one answer of `rdata`.
pub(super) fn dns(id: u16, name: &str, qtype: u16, answer: Option<&[u8]>) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(if answer.is_some() { &[0x81, 0x80] } else { &[0x01, 0x00] });
    m.extend_from_slice(&[0, 1, 0, u8::from(answer.is_some()), 0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    if let Some(rdata) = answer {
        m.extend_from_slice(&[0xc0, 0x0c]);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0x0e, 0x10]);
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(rdata);
    }
    m
}

fn neg_dns(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut f = Framer::new(Link::Ethernet);
    let client = sa("192.168.1.63:53535")?;
    let resolver = sa("198.51.100.53:53")?;
    let mut ts = at(180).as_micros();
    let v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80];
    let queries: [(u16, &str, u16, &[u8]); 4] = [
        (0x3b1e, "www.example.com", 1, &[198, 51, 100, 81]),
        (0x8c02, "www.example.com", 28, &v6),
        (0x51aa, "docs.example.org", 1, &[203, 0, 113, 80]),
        (0x0c7f, "pool.example.net", 1, &[198, 51, 100, 82]),
    ];
    for (id, name, qtype, rdata) in queries {
        let q = dns(id, name, qtype, None);
        w.write_packet(Ts::from_micros(ts), f.udp(client, resolver, &q)?)?;
        ts += 11_400;
        let r = dns(id, name, qtype, Some(rdata));
        w.write_packet(Ts::from_micros(ts), f.udp(resolver, client, &r)?)?;
        ts += 250_000;
    }
    truth.none_in_file("NEGATIVE: DNS over UDP (A and AAAA queries and answers, documentation-range names)");
    Ok(())
}

// ---- more dialects and oddities ---------------------------------------------------------------

/// A base58check address for `version` over a fixed 20-byte hash: valid, and nobody's.
fn b58_address(version: &[u8], fill: u8) -> String {
    let mut v = version.to_vec();
    v.extend_from_slice(&[fill; 20]);
    bs58::encode(v).with_check().into_string()
}

/// Sends each line with CRLF, in segments of at most `mss` bytes.
fn say_all<S: PacketSink + ?Sized>(
    t: &mut TcpConversation,
    sink: &mut S,
    lines: &[(Side, String)],
    eol: &str,
    mss: Option<usize>,
) -> io::Result<()> {
    for (side, line) in lines {
        say(t, sink, *side, line, eol, mss)?;
        t.pause_ms(40);
    }
    Ok(())
}

fn sv1_asic_extensions(t: &mut TcpConversation, w: &mut dyn PacketSink, rng: &mut Rng) -> io::Result<String> {
    let wallet = b58_address(&[0x00], 0x3c);
    let login = format!("{wallet}.s19pro");
    let (c, s) = (Side::A, Side::B);
    let mut lines = vec![
        (c, "{\"id\":1,\"method\":\"mining.configure\",\"params\":[[\"version-rolling\",\"minimum-difficulty\"],{\"version-rolling.mask\":\"1fffe000\",\"version-rolling.min-bit-count\":2,\"minimum-difficulty.value\":2048}]}".to_string()),
        (s, "{\"id\":1,\"result\":{\"version-rolling\":true,\"version-rolling.mask\":\"1fffe000\",\"minimum-difficulty\":true},\"error\":null}".to_string()),
        (c, "{\"id\":2,\"method\":\"mining.subscribe\",\"params\":[\"bmminer/2.0.0\"]}".to_string()),
        (s, msg::sv1_subscribe_result(2, &rng.hex(4))),
        (c, "{\"id\":3,\"method\":\"mining.extranonce.subscribe\",\"params\":[]}".to_string()),
        (s, msg::sv1_result_true(3)),
        (c, format!("{{\"id\":4,\"method\":\"mining.authorize\",\"params\":[\"{login}\",\"d=65536\"]}}")),
        (s, msg::sv1_result_true(4)),
        (c, "{\"id\":5,\"method\":\"mining.suggest_difficulty\",\"params\":[65536]}".to_string()),
        (s, "{\"id\":null,\"method\":\"mining.set_version_mask\",\"params\":[\"1fffe000\"]}".to_string()),
        (s, msg::sv1_set_difficulty("65536", false)),
    ];
    let (notify, ntime) = msg::sv1_notify(rng, "5e1f0001", 850_100, true, false);
    lines.push((s, notify));
    say_all(t, w, &lines, "\n", None)?;
    for i in 0..6u32 {
        t.pause_ms(10_000);
        let submit = format!(
            "{{\"id\":{},\"method\":\"mining.submit\",\"params\":[\"{login}\",\"5e1f0001\",\"{}\",\"{ntime}\",\"{}\",\"{}\"]}}",
            10 + i,
            rng.hex(4),
            rng.hex(4),
            rng.hex(2) + "0000"
        );
        say(t, w, c, &submit, "\n", None)?;
        say(t, w, s, &msg::sv1_result_true(10 + i), "\n", None)?;
        if i == 2 {
            say(
                t,
                w,
                s,
                &format!(
                    "{{\"id\":null,\"method\":\"mining.set_extranonce\",\"params\":[\"{}\",4]}}",
                    rng.hex(4)
                ),
                "\n",
                None,
            )?;
        }
    }
    let tail = [
        (s, "{\"id\":\"gv1\",\"method\":\"client.get_version\",\"params\":[]}".to_string()),
        (c, "{\"id\":\"gv1\",\"result\":\"bmminer/2.0.0\",\"error\":null}".to_string()),
        (s, "{\"id\":null,\"method\":\"client.show_message\",\"params\":[\"Pool maintenance in 10 minutes\"]}".to_string()),
        (s, "{\"id\":null,\"method\":\"client.reconnect\",\"params\":[\"stratum-b.example.net\",3334,0]}".to_string()),
    ];
    say_all(t, w, &tail, "\n", None)?;
    Ok(login)
}

fn sv1_zcash_set_target(
    t: &mut TcpConversation,
    w: &mut dyn PacketSink,
    rng: &mut Rng,
) -> io::Result<String> {
    let login = format!("{}.rig4", b58_address(&[0x1c, 0xb8], 0x21));
    let (c, s) = (Side::A, Side::B);
    let lines = vec![
        (c, "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"EWBF 0.3.4b\",null,\"zec.example.net\",\"3357\"]}".to_string()),
        (s, format!("{{\"id\":1,\"result\":[\"{0}\",\"{0}\"],\"error\":null}}", rng.hex(5))),
        (c, format!("{{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"{login}\",\"x\"]}}")),
        (s, msg::sv1_result_true(2)),
        (s, "{\"id\":null,\"method\":\"mining.set_target\",\"params\":[\"0004189374bc6a7ef9db22d0e5604189374bc6a7ef9db22d0e5604189374bc6a\"]}".to_string()),
        (c, "{\"id\":3,\"method\":\"mining.extranonce.subscribe\",\"params\":[]}".to_string()),
        (s, format!("{{\"id\":null,\"method\":\"mining.notify\",\"params\":[\"8c6f\",\"04000000\",\"{}\",\"{}\",\"{}\",\"a9cc405a\",\"09d8151c\",true]}}", rng.hex(32), rng.hex(32), "0".repeat(64))),
    ];
    say_all(t, w, &lines, "\n", None)?;
    for i in 0..4u32 {
        t.pause_ms(15_000);
        // An Equihash solution is 1344 bytes: the submit spans several segments.
        let submit = format!(
            "{{\"id\":{},\"method\":\"mining.submit\",\"params\":[\"{login}\",\"8c6f\",\"a9cc405a\",\"{}\",\"fd4005{}\"]}}",
            100 + i,
            rng.hex(27),
            rng.hex(1344)
        );
        say(t, w, c, &submit, "\n", None)?;
        say(t, w, s, &format!("{{\"id\":{},\"result\":true}}", 100 + i), "\n", None)?;
    }
    Ok(login)
}

fn ethstratum1_nicehash(
    t: &mut TcpConversation,
    w: &mut dyn PacketSink,
    rng: &mut Rng,
) -> io::Result<String> {
    let login = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed.gpu3";
    let (c, s) = (Side::A, Side::B);
    let seed = rng.hex(32);
    let mut lines = vec![
        (c, "{\"id\": 1, \"method\": \"mining.subscribe\", \"params\": [\"ethminer/0.19.0\", \"EthereumStratum/1.0.0\"]}".to_string()),
        (s, format!("{{\"id\": 1, \"result\": [[\"mining.notify\", \"{}\", \"EthereumStratum/1.0.0\"], \"{}\"], \"error\": null}}", rng.hex(16), rng.hex(2))),
        (c, format!("{{\"id\": 2, \"method\": \"mining.authorize\", \"params\": [\"{login}\", \"x\"]}}")),
        (s, "{\"id\": 2, \"result\": true, \"error\": null}".to_string()),
        (c, "{\"id\": 3, \"method\": \"mining.extranonce.subscribe\", \"params\": []}".to_string()),
        (s, "{\"id\": 3, \"result\": true, \"error\": null}".to_string()),
        (s, "{\"id\": null, \"method\": \"mining.set_difficulty\", \"params\": [0.5]}".to_string()),
    ];
    for j in 0..3u32 {
        lines.push((s, format!("{{\"id\": null, \"method\": \"mining.notify\", \"params\": [\"{:08x}\", \"{seed}\", \"{}\", {}]}}", 0xbf04_88aa_u32 + j, rng.hex(32), j == 0)));
        lines.push((c, format!("{{\"id\": {}, \"method\": \"mining.submit\", \"params\": [\"{login}\", \"{:08x}\", \"{}\"]}}", 10 + j, 0xbf04_88aa_u32 + j, rng.hex(6))));
        lines.push((s, format!("{{\"id\": {}, \"result\": true, \"error\": null}}", 10 + j)));
    }
    for (side, line) in &lines {
        say(t, w, *side, line, "\n", None)?;
        t.pause_ms(if *side == c { 8000 } else { 50 });
    }
    Ok(login.to_string())
}

fn ethstratum2_hello(t: &mut TcpConversation, w: &mut dyn PacketSink, rng: &mut Rng) -> io::Result<String> {
    let login = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359.rig7";
    let (c, s) = (Side::A, Side::B);
    let mut lines = vec![
        (c, "{\"id\":1,\"method\":\"mining.hello\",\"params\":{\"agent\":\"lolMiner 1.42\",\"host\":\"etc.example.net\",\"port\":\"115c\",\"proto\":\"EthereumStratum/2.0.0\"}}".to_string()),
        (s, "{\"id\":1,\"result\":{\"proto\":\"EthereumStratum/2.0.0\",\"encoding\":\"plain\",\"resume\":1,\"timeout\":30,\"maxerrors\":5,\"node\":\"core-geth/v1.12\"}}".to_string()),
        (c, "{\"id\":2,\"method\":\"mining.subscribe\",\"params\":[]}".to_string()),
        (s, format!("{{\"id\":2,\"result\":\"{}\"}}", rng.hex(4))),
        (c, format!("{{\"id\":3,\"method\":\"mining.authorize\",\"params\":[\"{login}\",\"x\"]}}")),
        (s, format!("{{\"id\":3,\"result\":[\"{}\",\"{}\"]}}", rng.hex(2), rng.hex(4))),
        (s, "{\"method\":\"mining.set\",\"params\":{\"epoch\":\"1c\",\"target\":\"00000001ffffffffffffffffffffffffffffffffffffffffffffffffffffffff\",\"algo\":\"etchash\",\"extranonce\":\"af4c\"}}".to_string()),
    ];
    for j in 0..3u32 {
        lines.push((
            s,
            format!(
                "{{\"method\":\"mining.notify\",\"params\":[\"{:04x}\",\"{:x}\",\"{}\",{}]}}",
                0xcf8a + j,
                0x00e3_5b0a + j,
                rng.hex(32),
                j == 0
            ),
        ));
        lines.push((
            c,
            format!(
                "{{\"id\":{},\"method\":\"mining.submit\",\"params\":[\"{:04x}\",\"{}\",\"rig7\"]}}",
                10 + j,
                0xcf8a + j,
                rng.hex(6)
            ),
        ));
        lines.push((s, format!("{{\"id\":{},\"result\":true}}", 10 + j)));
        lines.push((
            c,
            format!(
                "{{\"id\":{},\"method\":\"mining.hashrate\",\"params\":[\"0x{:x}\",\"rig7\"]}}",
                20 + j,
                500_000_000u32 + j
            ),
        ));
    }
    lines.push((c, "{\"id\":30,\"method\":\"mining.noop\"}".to_string()));
    lines.push((s, "{\"id\":30,\"result\":true}".to_string()));
    lines.push((c, "{\"id\":31,\"method\":\"mining.bye\"}".to_string()));
    for (side, line) in &lines {
        say(t, w, *side, line, "\n", None)?;
        t.pause_ms(if *side == c { 7000 } else { 40 });
    }
    Ok(login.to_string())
}

fn cryptonote_nicehash_proxy(
    t: &mut TcpConversation,
    w: &mut dyn PacketSink,
    rng: &mut Rng,
) -> io::Result<String> {
    let login = format!("{XMR_WALLET}+50000");
    let (c, s) = (Side::A, Side::B);
    let session = rng.hex(8);
    let seed = rng.hex(32);
    let job = msg::xmr_job_body(rng, &session, 300_001, 3_150_100, &seed);
    let lines = vec![
        (c, format!("{{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"login\",\"params\":{{\"login\":\"{login}\",\"pass\":\"farm-eu\",\"agent\":\"xmrig-proxy/6.22.0 (Linux x86_64) libuv/1.48.0 gcc/13.2.0\",\"algo\":[\"rx/0\"],\"nicehash\":true}}}}")),
        (s, msg::xmr_login_result(1, &session, &job)),
    ];
    say_all(t, w, &lines, "\n", None)?;
    let o = Xmr { jobs: 2, submits_per_job: 3, keepalive: true, ..XMR };
    xmr_work(t, w, rng, &o, &session, &seed, 2, 300_001, true)?;
    Ok(login)
}

/// A JSON value the way a pretty-printer writes it: two-space indent, one member per line.
fn pretty(line: &str, eol: &str) -> io::Result<String> {
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let text = serde_json::to_string_pretty(&v).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(text.replace('\n', eol))
}

fn sv1_pretty_printed(t: &mut TcpConversation, w: &mut dyn PacketSink, rng: &mut Rng) -> io::Result<String> {
    let login = format!("{BTC_WALLET}.pretty");
    let (c, s) = (Side::A, Side::B);
    // Pretty-printed with CRLF, sent in 5-byte segments; then \u escapes in keys and values.
    let mut lines = vec![
        (c, pretty(&msg::sv1_subscribe(1, "cpuminer/2.5.1", false), "\r\n")?),
        (s, pretty(&msg::sv1_subscribe_result(1, &rng.hex(4)), "\r\n")?),
        (c, pretty(&msg::sv1_authorize(2, &login, false), "\r\n")?),
        (s, pretty(&msg::sv1_result_true(2), "\r\n")?),
        (s, pretty(&msg::sv1_set_difficulty("0.005", false), "\r\n")?),
    ];
    let (notify, ntime) = msg::sv1_notify(rng, "1a2b0001", 850_000, true, false);
    lines.push((s, pretty(&notify, "\r\n")?));
    say_all(t, w, &lines, "\r\n", Some(5))?;
    for _ in 0..3 {
        t.pause_ms(3000);
        let submit = msg::sv1_submit(&login, "1a2b0001", &ntime, &rng.hex(4), false);
        // Escapes put back after pretty-printing (the printer writes plain text).
        let submit = pretty(&submit, "\n")?
            .replace("\"method\": \"mining.submit\"", "\"\\u006dethod\": \"mining\\u002esubmit\"");
        say(t, w, c, &submit, "\n", Some(7))?;
        say(t, w, s, "{\"id\":4,\r\n \"result\":true,\r\n \"error\":null}", "\r\n", None)?;
    }
    Ok(login)
}

/// A Bitcoin P2P message: magic, command, length, checksum, payload.
fn btc_msg(rng: &mut Rng, cmd: &str, len: usize) -> Vec<u8> {
    let mut m = vec![0xf9, 0xbe, 0xb4, 0xd9];
    let mut c = [0u8; 12];
    for (d, b) in c.iter_mut().zip(cmd.bytes()) {
        *d = b;
    }
    m.extend_from_slice(&c);
    m.extend_from_slice(&(len as u32).to_le_bytes());
    let mut body = vec![0u8; len + 4];
    rng.fill(&mut body);
    m.extend_from_slice(&body);
    m
}

fn neg_bitcoin_p2p(t: &mut TcpConversation, w: &mut dyn PacketSink, rng: &mut Rng) -> io::Result<String> {
    for (side, cmd, len) in [
        (Side::A, "version", 102),
        (Side::B, "version", 102),
        (Side::A, "verack", 0),
        (Side::B, "verack", 0),
        (Side::B, "inv", 361),
        (Side::A, "getdata", 37),
        (Side::B, "block", 2900),
        (Side::A, "ping", 8),
        (Side::B, "pong", 8),
    ] {
        let m = btc_msg(rng, cmd, len);
        t.send(w, side, &m, &Delivery::default())?;
        t.pause_ms(80);
    }
    Ok(String::new())
}

fn neg_monero_levin(t: &mut TcpConversation, w: &mut dyn PacketSink, rng: &mut Rng) -> io::Result<String> {
    for (side, command, len) in
        [(Side::A, 1001u32, 240usize), (Side::B, 1001, 4100), (Side::A, 1002, 120), (Side::B, 1002, 900)]
    {
        // Levin header: signature, body size, have-to-return, command, return code, flags, version.
        let mut m = 0x0101_0101_0101_2101u64.to_le_bytes().to_vec();
        m.extend_from_slice(&(len as u64).to_le_bytes());
        m.push(1);
        m.extend_from_slice(&command.to_le_bytes());
        m.extend_from_slice(&0i32.to_le_bytes());
        m.extend_from_slice(&1u32.to_le_bytes());
        m.extend_from_slice(&1u32.to_le_bytes());
        let mut body = vec![0u8; len];
        rng.fill(&mut body);
        m.extend_from_slice(&body);
        t.send(w, side, &m, &Delivery::default())?;
        t.pause_ms(120);
    }
    Ok(String::new())
}

fn neg_eth_devp2p(t: &mut TcpConversation, w: &mut dyn PacketSink, rng: &mut Rng) -> io::Result<String> {
    // RLPx: an ECIES auth message (size prefix, then ciphertext), the ack, then framed traffic.
    for (side, len) in [(Side::A, 307usize), (Side::B, 210), (Side::A, 180), (Side::B, 1400), (Side::A, 96)] {
        let mut m = (len as u16).to_be_bytes().to_vec();
        let mut body = vec![0u8; len];
        rng.fill(&mut body);
        if let Some(b) = body.first_mut() {
            // Ciphertext may start with anything except what a JSON stream opens with.
            if *b == b'{' || *b == b'[' || b.is_ascii_whitespace() {
                *b = 0x04;
            }
        }
        m.extend_from_slice(&body);
        t.send(w, side, &m, &Delivery::default())?;
        t.pause_ms(60);
    }
    Ok(String::new())
}

fn neg_pretty_jsonrpc(t: &mut TcpConversation, w: &mut dyn PacketSink, _rng: &mut Rng) -> io::Result<String> {
    for (req, resp) in [
        ("{\"jsonrpc\":\"2.0\",\"method\":\"server.version\",\"params\":[\"electrum/4.5.5\",\"1.4\"],\"id\":0}", "{\"jsonrpc\":\"2.0\",\"result\":[\"ElectrumX 1.16.0\",\"1.4\"],\"id\":0}"),
        ("{\"jsonrpc\":\"2.0\",\"method\":\"eth_blockNumber\",\"params\":[],\"id\":1}", "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x12e4a31\"}"),
        ("{\"jsonrpc\":\"2.0\",\"method\":\"chat.send\",\"params\":{\"text\":\"{\\\"method\\\":\\\"mining.subscribe\\\"}\"},\"id\":2}", "{\"jsonrpc\":\"2.0\",\"result\":true,\"id\":2}"),
    ] {
        exchange(t, w, &format!("{}\n", pretty(req, "\n")?), &format!("{}\n", pretty(resp, "\n")?))?;
    }
    Ok(String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_builds_and_is_deterministic() {
        for sc in all() {
            let mut a = Vec::new();
            let rows_a = sc.write(&mut a).unwrap();
            let mut b = Vec::new();
            let rows_b = sc.write(&mut b).unwrap();
            assert_eq!(a, b, "{} differs between runs", sc.file);
            assert_eq!(rows_a, rows_b);
            assert!(!rows_a.is_empty(), "{} has no truth row", sc.file);
            assert!(a.len() < 400_000, "{} is {} bytes", sc.file, a.len());
            for r in &rows_a {
                assert_eq!(r.file, sc.file);
                r.tsv_line().unwrap();
            }
        }
    }

    #[test]
    fn conversation_rows_are_well_formed_and_apart() {
        let talks: Vec<&Talk> = all()
            .iter()
            .filter_map(|sc| match sc.how {
                How::Talk(t) => Some(t),
                How::Code(_) | How::Kept(_) => None,
            })
            .collect();
        // Enough conversations for the checks below to mean something (the captures written
        // by code, behaviour and ECH sessions among them, are now about as many).
        assert!(talks.len() >= 40, "only {} of {} captures are rows of data", talks.len(), all().len());
        let mut seeds = std::collections::BTreeSet::new();
        let mut last = -1;
        for t in &talks {
            let (c, s) = (sa(t.client).unwrap(), sa(t.server).unwrap());
            assert_ne!(c, s, "{}", t.note);
            // Each conversation starts after the one before: files do not overlap in time.
            assert!(t.minute > last, "{} starts at minute {}", t.client, t.minute);
            last = t.minute;
            // Each draws its own random values.
            assert!(t.seed == 0 || seeds.insert(t.seed), "seed {} used twice", t.seed);
            assert!(!t.note.is_empty());
        }
    }

    #[test]
    fn a_login_only_the_client_sends_is_not_reported_without_its_direction() {
        let row = |file: &str| {
            let sc = all().iter().find(|sc| sc.file == file).unwrap();
            sc.write(&mut Vec::new()).unwrap().remove(0)
        };
        assert_eq!(row("sv1-server-only.pcap").login, "");
        assert_eq!(row("sv1-client-only.pcap").login, format!("{BTC_WALLET}.upstream"));
    }

    #[test]
    fn file_names_are_unique() {
        let mut names: Vec<&str> = all().iter().map(|s| s.file).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
    }

    #[test]
    fn tsv_line_format() {
        let row = TruthRow {
            file: "x.pcap".into(),
            expect: Expect::Nothing,
            variant: None,
            client: None,
            server: None,
            login: String::new(),
            note: "n".into(),
        };
        assert_eq!(row.tsv_line().unwrap(), "x.pcap\tnone\t\t*\t*\t\t\t\tn\n");
        let row = TruthRow {
            expect: Expect::Mining,
            variant: Some(Variant::CryptoNote),
            client: Some("[fd00::1]:5".parse().unwrap()),
            server: Some("203.0.113.1:3333".parse().unwrap()),
            login: "w.r".into(),
            ..row
        };
        assert_eq!(
            row.tsv_line().unwrap(),
            "x.pcap\tmining\tcryptonote\tfd00::1\t5\t203.0.113.1\t3333\tw.r\tn\n"
        );
        let bad = TruthRow { note: "a\tb".into(), ..row.clone() };
        assert!(bad.tsv_line().is_err());
        let no_client = TruthRow { client: None, ..row };
        assert!(no_client.tsv_line().is_err());
    }
}
