//! The bundled test captures and their truth table: one small file per case a sensor must get
//! right, each paired with the rows a correct sensor reports for it.
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

type Build = fn(&mut dyn Write, &mut Truth) -> io::Result<()>;

/// One bundled capture.
#[derive(Clone, Copy)]
pub struct Scenario {
    /// File name inside the output directory; `.pcapng` for the pcapng case.
    pub file: &'static str,
    build: Build,
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario").field("file", &self.file).finish()
    }
}

impl Scenario {
    /// Writes the capture to `out` and returns its truth rows.
    pub fn write(&self, out: &mut dyn Write) -> io::Result<Vec<TruthRow>> {
        let mut truth = Truth { file: self.file, rows: Vec::new() };
        (self.build)(out, &mut truth)?;
        out.flush()?;
        Ok(truth.rows)
    }
}

/// Every bundled scenario, in `TRUTH.tsv` order.
pub fn all() -> &'static [Scenario] {
    const fn s(file: &'static str, build: Build) -> Scenario {
        Scenario { file, build }
    }
    const ALL: &[Scenario] = &[
        s("sv1-cpuminer.pcap", sv1_cpuminer),
        s("cryptonote-xmrig.pcap", cryptonote_xmrig),
        s("ethproxy-ethminer.pcap", ethproxy_ethminer),
        s("sv1-port443.pcap", sv1_port443),
        s("cryptonote-port8080.pcap", cryptonote_port8080),
        s("sv1-bytewise.pcap", sv1_bytewise),
        s("sv1-reorder-retrans.pcap", sv1_reorder_retrans),
        s("sv1-seq-wrap.pcap", sv1_seq_wrap),
        s("sv1-midstream.pcap", sv1_midstream),
        s("cryptonote-midstream.pcap", cryptonote_midstream),
        s("sv1-client-only.pcap", sv1_client_only),
        s("sv1-server-only.pcap", sv1_server_only),
        s("cryptonote-rst.pcap", cryptonote_rst),
        s("sv1-ipv6-hopbyhop.pcap", sv1_ipv6),
        s("ethproxy-ipv6-destopts-sll2.pcap", ethproxy_ipv6_sll2),
        s("sv1-vlan.pcap", sv1_vlan),
        s("cryptonote-qinq.pcap", cryptonote_qinq),
        s("sv1-linux-sll.pcap", sv1_sll),
        s("cryptonote-raw-ip.pcap", cryptonote_raw),
        s("sv1-bsd-null.pcap", sv1_null),
        s("cryptonote-xmrig.pcapng", cryptonote_pcapng),
        s("sv1-escaped-method.pcap", sv1_escaped_method),
        s("cryptonote-escaped-login.pcap", cryptonote_escaped_login),
        s("sv1-crlf.pcap", sv1_crlf),
        s("sv1-two-per-segment.pcap", sv1_two_per_segment),
        s("sv1-batch-array.pcap", sv1_batch),
        s("two-miners.pcap", two_miners),
        s("evasion-overlap-conflict.pcap", super::evasion::overlap_conflict),
        s("evasion-lost-segment-acked.pcap", super::evasion::lost_segment_acked),
        s("evasion-lost-segment-one-sided.pcap", super::evasion::lost_segment_one_sided),
        s("evasion-ipv4-fragments.pcap", super::evasion::ipv4_fragments),
        s("evasion-ipv6-fragments.pcap", super::evasion::ipv6_fragments),
        s("evasion-keepalive-zero-window.pcap", super::evasion::keepalive_zero_window),
        s("evasion-idle-timeout.pcap", super::evasion::idle_timeout),
        s("external-client.pcap", external_client),
        s("neg-electrum.pcap", neg_electrum),
        s("neg-eth-node-tcp.pcap", neg_eth_node_tcp),
        s("neg-eth-node-http.pcap", neg_eth_node_http),
        s("neg-jsonrpc-echo.pcap", neg_jsonrpc_echo),
        s("neg-http-html.pcap", neg_http_html),
        s("neg-chat.pcap", neg_chat),
        s("neg-lsp.pcap", neg_lsp),
        s("neg-tls.pcap", neg_tls),
        s("neg-dns.pcap", neg_dns),
        s("sv1-asic-extensions.pcap", sv1_asic_extensions),
        s("sv1-zcash-set-target.pcap", sv1_zcash_set_target),
        s("ethstratum1-nicehash.pcap", ethstratum1_nicehash),
        s("ethstratum2-hello.pcap", ethstratum2_hello),
        s("cryptonote-nicehash-proxy.pcap", cryptonote_nicehash_proxy),
        s("sv1-pretty-printed.pcap", sv1_pretty_printed),
        s("neg-bitcoin-p2p.pcap", neg_bitcoin_p2p),
        s("neg-monero-levin.pcap", neg_monero_levin),
        s("neg-eth-devp2p.pcap", neg_eth_devp2p),
        s("neg-web-login-jsonrpc.pcap", neg_web_login_jsonrpc),
        s("neg-pretty-jsonrpc.pcap", neg_pretty_jsonrpc),
        s("tls-pool-sni.pcap", super::encrypted::tls_pool_sni),
        s("tls-dns-no-sni.pcap", super::encrypted::tls_dns_no_sni),
        s("neg-tls-pool-website.pcap", super::encrypted::neg_tls_pool_website),
        s("neg-dns-pool-no-connection.pcap", super::encrypted::neg_dns_pool_no_connection),
        s("neg-dns-expired.pcap", super::encrypted::neg_dns_expired),
        s("getwork-cgminer.pcap", super::encrypted::getwork_cgminer),
        s("getwork-eth-node.pcap", super::encrypted::getwork_eth_node),
        s("neg-http-get-pool-api.pcap", super::encrypted::neg_http_get_pool_api),
        s("sv2-handshake.pcap", super::encrypted::sv2_handshake),
        s("neg-binary-3336.pcap", super::encrypted::neg_binary_3336),
    ];
    ALL
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
const XMR_WALLET: &str =
    "48edfHu7V9Z84YzzMa6fUueoELZ9ZRXq9VetWzYGzKt52XU5xvqgzYnDK9URnRoJMk1j8nLwEVsaSWJ4fhdUyZijBGUicoD";
/// An Ethereum-format address made for these captures.
const ETH_WALLET: &str = "0x5a0b54d5dc17e0aadc383d2db43b0a0d3e029c4c";

fn say<S: PacketSink>(
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

impl Default for Sv1<'_> {
    fn default() -> Self {
        Sv1 {
            login: "",
            eol: "\n",
            escaped: false,
            jobs: 2,
            submits_per_job: 3,
            client_mss: None,
            server_mss: None,
        }
    }
}

/// A cpuminer-like session: subscribe, authorize, set_difficulty, then jobs with submits and
/// their results. Timing follows the real client: the pool answers after one RTT, shares come
/// seconds apart.
fn sv1_session<S: PacketSink>(
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
fn sv1_jobs<S: PacketSink>(
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
struct Xmr<'a> {
    /// Login and password as they go into JSON strings (escapes allowed).
    login: &'a str,
    pass: &'a str,
    jobs: u32,
    submits_per_job: u32,
    keepalive: bool,
}

impl Default for Xmr<'_> {
    fn default() -> Self {
        Xmr { login: XMR_WALLET, pass: "x", jobs: 2, submits_per_job: 2, keepalive: true }
    }
}

/// An XMRig-like session: login (answered with the first job), submits, job pushes,
/// keepalived. Returns the next request id, so a caller can carry on the session.
fn xmr_session<S: PacketSink>(
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
fn xmr_work<S: PacketSink>(
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
fn eth_session<S: PacketSink>(
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

// ---- dialects --------------------------------------------------------------------------------

fn sv1_cpuminer(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.20.0.11:49152")?, sa("198.51.100.10:3333")?, at(0), Link::Ethernet);
    let login = format!("{BTC_WALLET}.rig01");
    t.handshake(&mut w)?;
    sv1_session(&mut t, &mut w, &mut Rng::new(1), &Sv1 { login: &login, ..Default::default() })?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(Variant::StratumV1, &t, &login, "cpuminer-like SV1: subscribe, authorize, set_difficulty, 2 notify, 6 submits all accepted; FIN close");
    Ok(())
}

fn cryptonote_xmrig(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("192.168.1.50:51234")?, sa("203.0.113.20:3333")?, at(5), Link::Ethernet);
    t.handshake(&mut w)?;
    xmr_session(&mut t, &mut w, &mut Rng::new(2), &Xmr::default())?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(Variant::CryptoNote, &t, XMR_WALLET, "XMRig-like cryptonote: login with agent/rigid/algo list, job in login result, 1 job push, 4 submits, keepalived; FIN close");
    Ok(())
}

fn ethproxy_ethminer(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("172.16.5.9:50311")?, sa("198.51.100.77:4444")?, at(10), Link::Ethernet);
    let login = format!("{ETH_WALLET}.rig2");
    t.handshake(&mut w)?;
    eth_session(&mut t, &mut w, &mut Rng::new(3), &login)?;
    t.close_fin(&mut w, Side::B)?;
    truth.mining(Variant::EthProxy, &t, &login, "ethminer-like eth-proxy: eth_submitLogin (worker key first, Python-style spacing), eth_getWork, 3 pushes with id 0, eth_submitWork, eth_submitHashrate; pool closes with FIN");
    Ok(())
}

// ---- tricky ----------------------------------------------------------------------------------

fn sv1_port443(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.20.0.12:50022")?, sa("198.51.100.11:443")?, at(15), Link::Ethernet);
    let login = format!("{BTC_WALLET}.https");
    t.handshake(&mut w)?;
    sv1_session(&mut t, &mut w, &mut Rng::new(4), &Sv1 { login: &login, jobs: 1, ..Default::default() })?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(
        Variant::StratumV1,
        &t,
        &login,
        "plain-text SV1 on port 443 (no TLS): ports must not decide the protocol",
    );
    Ok(())
}

fn cryptonote_port8080(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("192.168.1.51:40188")?, sa("203.0.113.21:8080")?, at(20), Link::Ethernet);
    t.handshake(&mut w)?;
    xmr_session(&mut t, &mut w, &mut Rng::new(5), &Xmr { jobs: 1, ..Default::default() })?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(
        Variant::CryptoNote,
        &t,
        XMR_WALLET,
        "XMRig-like cryptonote on port 8080, the HTTP-proxy port",
    );
    Ok(())
}

fn sv1_bytewise(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.20.0.13:50377")?, sa("198.51.100.12:3333")?, at(25), Link::Ethernet);
    let login = format!("{BTC_WALLET}.tiny");
    t.handshake(&mut w)?;
    let o = Sv1 {
        login: &login,
        jobs: 1,
        submits_per_job: 2,
        client_mss: Some(1),
        server_mss: Some(1),
        ..Default::default()
    };
    sv1_session(&mut t, &mut w, &mut Rng::new(6), &o)?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(
        Variant::StratumV1,
        &t,
        &login,
        "every message in both directions split into 1-byte TCP segments",
    );
    Ok(())
}

fn sv1_reorder_retrans(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.20.0.14:51515")?, sa("198.51.100.13:3333")?, at(30), Link::Ethernet);
    let login = format!("{BTC_WALLET}.shuffle");
    let mut rng = Rng::new(7);
    t.handshake(&mut w)?;
    // Subscribe in 16-byte segments: 2nd and 3rd swapped, the 1st retransmitted, and bytes
    // 10..40 re-sent as one segment straddling three boundaries.
    let sub = format!("{}\n", msg::sv1_subscribe(1, "cpuminer/2.5.1", false));
    t.send(
        &mut w,
        Side::A,
        sub.as_bytes(),
        &Delivery { mss: Some(16), swaps: &[(1, 2)], retransmit: &[0], overlap: &[(10, 30)] },
    )?;
    say(&mut t, &mut w, Side::B, &msg::sv1_subscribe_result(1, &rng.hex(4)), "\n", None)?;
    // Authorize: last segment first, then an overlapping re-send of the middle.
    let auth = format!("{}\n", msg::sv1_authorize(2, &login, false));
    let n = auth.len().div_ceil(20);
    t.send(
        &mut w,
        Side::A,
        auth.as_bytes(),
        &Delivery { mss: Some(20), swaps: &[(0, n - 1)], overlap: &[(15, 50)], ..Default::default() },
    )?;
    say(&mut t, &mut w, Side::B, &msg::sv1_result_true(2), "\n", None)?;
    say(&mut t, &mut w, Side::B, &msg::sv1_set_difficulty("0.005", false), "\n", None)?;
    // The pool's notify in 100-byte segments, reversed pairs, two retransmitted.
    let (notify, ntime) = msg::sv1_notify(&mut rng, "1a2b0001", 850_001, true, false);
    let notify = format!("{notify}\n");
    t.send(
        &mut w,
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
        t.send(&mut w, Side::A, sub.as_bytes(), &how)?;
        say(&mut t, &mut w, Side::B, &msg::sv1_result_true(4), "\n", None)?;
    }
    t.close_fin(&mut w, Side::A)?;
    truth.mining(Variant::StratumV1, &t, &login, "out-of-order segments, byte-identical retransmissions and overlapping re-sends with different segment edges in both directions");
    Ok(())
}

fn sv1_seq_wrap(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.20.0.15:52000")?, sa("198.51.100.14:3333")?, at(35), Link::Ethernet)
            .with_isns(u32::MAX - 60, u32::MAX - 200)
            .with_mss(64);
    let login = format!("{BTC_WALLET}.wrap");
    t.handshake(&mut w)?;
    sv1_session(&mut t, &mut w, &mut Rng::new(8), &Sv1 { login: &login, jobs: 1, ..Default::default() })?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(
        Variant::StratumV1,
        &t,
        &login,
        "sequence numbers of both directions wrap past 2^32 inside the first messages (64-byte segments)",
    );
    Ok(())
}

fn sv1_midstream(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.20.0.16:49777")?, sa("198.51.100.15:3333")?, at(40), Link::Ethernet);
    let mut rng = Rng::new(9);
    let login = format!("{BTC_WALLET}.late");
    // The capture starts inside a notify: the first segment holds the tail of one line.
    let (old, _) = msg::sv1_notify(&mut rng, "1a2b0011", 850_010, true, false);
    let tail = old.get(old.len() - 120..).unwrap_or("");
    say(&mut t, &mut w, Side::B, tail, "\n", None)?;
    t.pause_ms(4200);
    let o = Sv1 { login: &login, jobs: 3, submits_per_job: 2, ..Default::default() };
    sv1_jobs(&mut t, &mut w, &mut rng, &o, &login, 0x11)?;
    t.close_fin(&mut w, Side::A)?;
    // No authorize is on the wire, but every mining.submit names the worker as authorized: that
    // is the login the session carries.
    truth.mining(Variant::StratumV1, &t, &login, "midstream pickup: no handshake, no subscribe/authorize; first packet is the pool's (tail of a notify line), then notify/submit/result; the miner is the submitting side, not the first sender; the login is the worker named in mining.submit");
    Ok(())
}

fn cryptonote_midstream(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("192.168.1.52:46001")?, sa("203.0.113.22:3333")?, at(45), Link::Ethernet);
    let mut rng = Rng::new(10);
    let session = rng.hex(8);
    let seed = rng.hex(32);
    xmr_work(
        &mut t,
        &mut w,
        &mut rng,
        &Xmr { jobs: 3, ..Default::default() },
        &session,
        &seed,
        57,
        200_040,
        false,
    )?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(Variant::CryptoNote, &t, "", "midstream pickup: no handshake, no login; starts with the pool's job push, then submit/status/keepalived; first sender is the pool");
    Ok(())
}

fn sv1_client_only(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.20.0.17:53311")?, sa("198.51.100.16:3333")?, at(50), Link::Ethernet)
            .capture(true, false);
    let login = format!("{BTC_WALLET}.upstream");
    t.handshake(&mut w)?;
    sv1_session(&mut t, &mut w, &mut Rng::new(11), &Sv1 { login: &login, ..Default::default() })?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(
        Variant::StratumV1,
        &t,
        &login,
        "asymmetric capture: only the miner-to-pool direction (SYN, subscribe, authorize, submits, ACKs)",
    );
    Ok(())
}

fn sv1_server_only(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.20.0.18:53312")?, sa("198.51.100.17:3333")?, at(55), Link::Ethernet)
            .capture(false, true);
    let login = format!("{BTC_WALLET}.downstream");
    t.handshake(&mut w)?;
    sv1_session(&mut t, &mut w, &mut Rng::new(12), &Sv1 { login: &login, ..Default::default() })?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(Variant::StratumV1, &t, "", "asymmetric capture: only the pool-to-miner direction (SYN-ACK, subscribe result, set_difficulty, notify, results); the login is never seen");
    Ok(())
}

fn cryptonote_rst(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("192.168.1.53:47002")?, sa("203.0.113.23:3333")?, at(60), Link::Ethernet);
    t.handshake(&mut w)?;
    xmr_session(&mut t, &mut w, &mut Rng::new(13), &Xmr { jobs: 1, keepalive: false, ..Default::default() })?;
    t.reset(&mut w, Side::A)?;
    truth.mining(Variant::CryptoNote, &t, XMR_WALLET, "session ends with an RST from the miner, no FIN");
    Ok(())
}

fn sv1_ipv6(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t = TcpConversation::new(
        sa("[fd00:10::21]:50500")?,
        sa("[2001:db8:100::10]:3333")?,
        at(65),
        Link::Ethernet,
    )
    .with_ipv6_ext(Ipv6Ext::HopByHop);
    let login = format!("{BTC_WALLET}.v6");
    t.handshake(&mut w)?;
    sv1_session(&mut t, &mut w, &mut Rng::new(14), &Sv1 { login: &login, ..Default::default() })?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(Variant::StratumV1, &t, &login, "IPv6 over Ethernet with a hop-by-hop options header before TCP in every packet; miner in fd00::/8 (ULA)");
    Ok(())
}

fn ethproxy_ipv6_sll2(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::LinuxSll2)?;
    let mut t = TcpConversation::new(
        sa("[fd00:20::9]:41234")?,
        sa("[2001:db8:200::77]:4444")?,
        at(70),
        Link::LinuxSll2,
    )
    .with_ipv6_ext(Ipv6Ext::DestOpts);
    let login = format!("{ETH_WALLET}.v6rig");
    t.handshake(&mut w)?;
    eth_session(&mut t, &mut w, &mut Rng::new(15), &login)?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(
        Variant::EthProxy,
        &t,
        &login,
        "eth-proxy over IPv6 with a destination-options header, Linux cooked capture v2 (link type 276)",
    );
    Ok(())
}

fn sv1_vlan(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let link = Link::Vlan(100);
    let mut w = pcap(out, link)?;
    let mut t = TcpConversation::new(sa("10.30.0.5:49999")?, sa("198.51.100.18:3333")?, at(75), link);
    let login = format!("{BTC_WALLET}.vlan");
    t.handshake(&mut w)?;
    sv1_session(&mut t, &mut w, &mut Rng::new(16), &Sv1 { login: &login, jobs: 1, ..Default::default() })?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(Variant::StratumV1, &t, &login, "802.1Q VLAN 100 tag on every frame");
    Ok(())
}

fn cryptonote_qinq(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let link = Link::QinQ { outer: 200, inner: 30 };
    let mut w = pcap(out, link)?;
    let mut t = TcpConversation::new(sa("10.30.1.6:40404")?, sa("203.0.113.24:3333")?, at(80), link);
    t.handshake(&mut w)?;
    xmr_session(&mut t, &mut w, &mut Rng::new(17), &Xmr { jobs: 1, ..Default::default() })?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(
        Variant::CryptoNote,
        &t,
        XMR_WALLET,
        "QinQ: 802.1ad outer tag 200 (0x88a8) and 802.1Q inner tag 30 on every frame",
    );
    Ok(())
}

fn sv1_sll(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::LinuxSll)?;
    let mut t =
        TcpConversation::new(sa("172.16.9.3:43210")?, sa("198.51.100.19:3333")?, at(85), Link::LinuxSll);
    let login = format!("{BTC_WALLET}.sll");
    t.handshake(&mut w)?;
    sv1_session(&mut t, &mut w, &mut Rng::new(18), &Sv1 { login: &login, jobs: 1, ..Default::default() })?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(
        Variant::StratumV1,
        &t,
        &login,
        "Linux cooked capture v1 (link type 113), as from tcpdump -i any",
    );
    Ok(())
}

fn cryptonote_raw(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Raw)?;
    let mut t = TcpConversation::new(sa("10.8.0.6:39001")?, sa("203.0.113.25:5555")?, at(90), Link::Raw);
    t.handshake(&mut w)?;
    xmr_session(&mut t, &mut w, &mut Rng::new(19), &Xmr { jobs: 1, ..Default::default() })?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(
        Variant::CryptoNote,
        &t,
        XMR_WALLET,
        "raw IP, no link header (link type 101), as from a tun interface",
    );
    Ok(())
}

fn sv1_null(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Null)?;
    let mut t = TcpConversation::new(sa("10.9.0.2:61001")?, sa("198.51.100.20:3333")?, at(95), Link::Null);
    let login = format!("{BTC_WALLET}.utun");
    t.handshake(&mut w)?;
    sv1_session(&mut t, &mut w, &mut Rng::new(20), &Sv1 { login: &login, jobs: 1, ..Default::default() })?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(Variant::StratumV1, &t, &login, "BSD loopback/null link type 0 (4-byte little-endian address family 2), as macOS writes for lo0 and utun");
    Ok(())
}

fn cryptonote_pcapng(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = PcapngWriter::new(out, Link::Ethernet.link_type())?;
    let mut t =
        TcpConversation::new(sa("192.168.1.54:50505")?, sa("203.0.113.26:3333")?, at(100), Link::Ethernet);
    t.handshake(&mut w)?;
    xmr_session(&mut t, &mut w, &mut Rng::new(21), &Xmr { jobs: 1, ..Default::default() })?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(
        Variant::CryptoNote,
        &t,
        XMR_WALLET,
        "pcapng file (SHB, one Ethernet IDB, EPBs), as Wireshark saves by default",
    );
    Ok(())
}

fn sv1_escaped_method(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.20.0.19:50999")?, sa("198.51.100.21:3333")?, at(105), Link::Ethernet);
    let login = format!("{BTC_WALLET}.esc");
    t.handshake(&mut w)?;
    sv1_session(
        &mut t,
        &mut w,
        &mut Rng::new(22),
        &Sv1 { login: &login, escaped: true, jobs: 1, ..Default::default() },
    )?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(Variant::StratumV1, &t, &login, "JSON escapes in keys and method names in both directions: \"\\u006dethod\": \"mining\\u002esubscribe\" etc.");
    Ok(())
}

fn cryptonote_escaped_login(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("192.168.1.55:44044")?, sa("203.0.113.27:3333")?, at(110), Link::Ethernet);
    // The wallet's first character, the dot and the slash are escaped on the wire.
    let wire = format!("\\u0034{}\\u002erig\\/07", XMR_WALLET.get(1..).unwrap_or(""));
    let login = format!("{XMR_WALLET}.rig/07");
    t.handshake(&mut w)?;
    xmr_session(
        &mut t,
        &mut w,
        &mut Rng::new(23),
        &Xmr { login: &wire, pass: "rig\\u002d07", jobs: 1, ..Default::default() },
    )?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(
        Variant::CryptoNote,
        &t,
        &login,
        "login sent with JSON escapes (\\u0034, \\u002e, \\/): the reported login is the unescaped string",
    );
    Ok(())
}

fn sv1_crlf(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.20.0.20:51020")?, sa("198.51.100.22:3333")?, at(115), Link::Ethernet);
    let login = format!("{BTC_WALLET}.crlf");
    t.handshake(&mut w)?;
    sv1_session(
        &mut t,
        &mut w,
        &mut Rng::new(24),
        &Sv1 { login: &login, eol: "\r\n", jobs: 1, ..Default::default() },
    )?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(Variant::StratumV1, &t, &login, "CRLF line endings in both directions");
    Ok(())
}

fn sv1_two_per_segment(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.20.0.21:51021")?, sa("198.51.100.23:3333")?, at(120), Link::Ethernet);
    let mut rng = Rng::new(25);
    let login = format!("{BTC_WALLET}.pipelined");
    t.handshake(&mut w)?;
    let c = format!(
        "{}\n{}\n",
        msg::sv1_subscribe(1, "cpuminer/2.5.1", false),
        msg::sv1_authorize(2, &login, false)
    );
    t.client_sends(&mut w, c.as_bytes())?;
    let s = format!(
        "{}\n{}\n{}\n",
        msg::sv1_subscribe_result(1, &rng.hex(4)),
        msg::sv1_result_true(2),
        msg::sv1_set_difficulty("0.005", false)
    );
    t.server_sends(&mut w, s.as_bytes())?;
    let (notify, ntime) = msg::sv1_notify(&mut rng, "1a2b0001", 850_000, true, false);
    t.server_sends(&mut w, format!("{notify}\n").as_bytes())?;
    t.pause_ms(2100);
    let two = format!(
        "{}\n{}\n",
        msg::sv1_submit(&login, "1a2b0001", &ntime, &rng.hex(4), false),
        msg::sv1_submit(&login, "1a2b0001", &ntime, &rng.hex(4), false)
    );
    t.client_sends(&mut w, two.as_bytes())?;
    t.server_sends(&mut w, format!("{}\n{}\n", msg::sv1_result_true(4), msg::sv1_result_true(4)).as_bytes())?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(
        Variant::StratumV1,
        &t,
        &login,
        "several messages per TCP segment: subscribe+authorize, three pool replies, two submits, two results",
    );
    Ok(())
}

fn sv1_batch(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.20.0.22:51022")?, sa("198.51.100.24:3333")?, at(125), Link::Ethernet);
    let mut rng = Rng::new(26);
    let login = format!("{BTC_WALLET}.batch");
    t.handshake(&mut w)?;
    let c = format!(
        "[{}, {}]\n",
        msg::sv1_subscribe(1, "cpuminer/2.5.1", false),
        msg::sv1_authorize(2, &login, false)
    );
    t.client_sends(&mut w, c.as_bytes())?;
    let s = format!("[{},{}]\n", msg::sv1_subscribe_result(1, &rng.hex(4)), msg::sv1_result_true(2));
    t.server_sends(&mut w, s.as_bytes())?;
    let o = Sv1 { login: &login, jobs: 1, submits_per_job: 2, ..Default::default() };
    say(&mut t, &mut w, Side::B, &msg::sv1_set_difficulty("0.005", false), "\n", None)?;
    sv1_jobs(&mut t, &mut w, &mut rng, &o, &login, 0)?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(Variant::StratumV1, &t, &login, "JSON-RPC batch: subscribe and authorize sent as one JSON array, answered with one array; then plain notify/submit lines");
    Ok(())
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
        let o = Sv1 { jobs: 1, submits_per_job: 2, ..Default::default() };
        sv1_jobs(&mut a, &mut w, &mut ra, &o, &login_a, j)?;
        b.wait_until(a.now());
        let ox = Xmr { jobs: 1, keepalive: j == 1, ..Default::default() };
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

fn external_client(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t = TcpConversation::new(sa("203.0.113.5:41000")?, sa("10.1.1.1:3333")?, at(135), Link::Ethernet);
    t.handshake(&mut w)?;
    sv1_session(
        &mut t,
        &mut w,
        &mut Rng::new(29),
        &Sv1 { login: "1BoatSLRHtKNngkdXEeobR76b53LETtpyT.ext", jobs: 1, ..Default::default() },
    )?;
    t.close_fin(&mut w, Side::A)?;
    truth.none_for(&t, "a real SV1 session, but the miner is outside the home networks (pool is internal 10.1.1.1): only internal miners are reported");
    Ok(())
}

// ---- negatives -------------------------------------------------------------------------------

/// A request/response exchange of whole lines.
fn exchange<S: PacketSink>(t: &mut TcpConversation, sink: &mut S, req: &str, resp: &str) -> io::Result<()> {
    t.client_sends(sink, req.as_bytes())?;
    t.server_sends(sink, resp.as_bytes())?;
    t.pause_ms(300);
    Ok(())
}

fn neg_electrum(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("192.168.1.60:52110")?, sa("198.51.100.50:50001")?, at(140), Link::Ethernet);
    let mut rng = Rng::new(30);
    t.handshake(&mut w)?;
    exchange(&mut t, &mut w,
        "{\"jsonrpc\": \"2.0\", \"method\": \"server.version\", \"params\": [\"electrum/4.5.5\", \"1.4\"], \"id\": 0}\n",
        "{\"jsonrpc\": \"2.0\", \"result\": [\"ElectrumX 1.16.0\", \"1.4\"], \"id\": 0}\n")?;
    let header = rng.hex(80);
    exchange(&mut t, &mut w,
        "{\"jsonrpc\": \"2.0\", \"method\": \"blockchain.headers.subscribe\", \"params\": [], \"id\": 1}\n",
        &format!("{{\"jsonrpc\": \"2.0\", \"result\": {{\"hex\": \"{header}\", \"height\": 843210}}, \"id\": 1}}\n"))?;
    for id in 2..6 {
        let sh = rng.hex(32);
        exchange(&mut t, &mut w,
            &format!("{{\"jsonrpc\": \"2.0\", \"method\": \"blockchain.scripthash.subscribe\", \"params\": [\"{sh}\"], \"id\": {id}}}\n"),
            &format!("{{\"jsonrpc\": \"2.0\", \"result\": \"{}\", \"id\": {id}}}\n", rng.hex(32)))?;
        exchange(&mut t, &mut w,
            &format!("{{\"jsonrpc\": \"2.0\", \"method\": \"blockchain.scripthash.get_balance\", \"params\": [\"{sh}\"], \"id\": {}}}\n", id + 10),
            &format!("{{\"jsonrpc\": \"2.0\", \"result\": {{\"confirmed\": {}, \"unconfirmed\": 0}}, \"id\": {}}}\n", rng.range(0, 5_000_000), id + 10))?;
    }
    // The server pushes a new block header unasked, the way a pool pushes a job.
    t.pause_ms(9000);
    t.server_sends(&mut w, format!("{{\"jsonrpc\": \"2.0\", \"method\": \"blockchain.headers.subscribe\", \"params\": [{{\"hex\": \"{}\", \"height\": 843211}}]}}\n", rng.hex(80)).as_bytes())?;
    t.pause_ms(20_000);
    exchange(
        &mut t,
        &mut w,
        "{\"jsonrpc\": \"2.0\", \"method\": \"server.ping\", \"params\": [], \"id\": 20}\n",
        "{\"jsonrpc\": \"2.0\", \"result\": null, \"id\": 20}\n",
    )?;
    t.close_fin(&mut w, Side::A)?;
    truth.none_in_file("NEGATIVE: Electrum wallet JSON-RPC lines (server.version, blockchain.headers.subscribe with a pushed header, blockchain.scripthash.subscribe/get_balance, server.ping)");
    Ok(())
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

fn neg_eth_node_tcp(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.40.0.7:55001")?, sa("198.51.100.60:8546")?, at(145), Link::Ethernet);
    t.handshake(&mut w)?;
    for (req, resp) in eth_node_calls(&mut Rng::new(31)) {
        exchange(&mut t, &mut w, &format!("{req}\n"), &format!("{resp}\n"))?;
    }
    t.close_fin(&mut w, Side::A)?;
    truth.none_in_file("NEGATIVE: Ethereum node JSON-RPC as newline-delimited lines over TCP (web3_clientVersion, eth_blockNumber, eth_call, eth_getBlockByNumber with a miner field, eth_gasPrice)");
    Ok(())
}

fn neg_eth_node_http(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.40.0.8:55002")?, sa("198.51.100.61:8545")?, at(150), Link::Ethernet);
    t.handshake(&mut w)?;
    for (req, resp) in eth_node_calls(&mut Rng::new(32)) {
        let post = format!(
            "POST / HTTP/1.1\r\nHost: 198.51.100.61:8545\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: {}\r\nAccept: application/json\r\nContent-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\n{req}",
            req.len()
        );
        let body = format!("{resp}\n");
        let ok = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nVary: Origin\r\nDate: Wed, 01 May 2024 14:30:00 GMT\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        exchange(&mut t, &mut w, &post, &ok)?;
    }
    t.close_fin(&mut w, Side::A)?;
    truth.none_in_file(
        "NEGATIVE: Ethereum node JSON-RPC over HTTP POST with keep-alive (Geth-style requests and responses)",
    );
    Ok(())
}

fn neg_jsonrpc_echo(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("192.168.1.61:36646")?, sa("198.51.100.62:8080")?, at(155), Link::Ethernet);
    let mut rng = Rng::new(33);
    t.handshake(&mut w)?;
    for word in ["Testing!", "hello", "ping 3"] {
        let id = format!(
            "{}-{}-4{}-a{}-{}",
            rng.hex(4),
            rng.hex(2),
            rng.hex(2).get(1..).unwrap_or(""),
            rng.hex(2).get(1..).unwrap_or(""),
            rng.hex(6)
        );
        exchange(&mut t, &mut w,
            &format!("{{\"jsonrpc\": \"2.0\", \"method\": \"echo\", \"params\": [\"{word}\"], \"id\": \"{id}\"}}\n"),
            &format!("{{\"jsonrpc\": \"2.0\", \"result\": [\"{word}\"], \"id\": \"{id}\"}}\n"))?;
    }
    t.close_fin(&mut w, Side::A)?;
    truth.none_in_file("NEGATIVE: plain JSON-RPC 2.0 echo service over TCP lines (UUID ids), the shape nDPI 4.2 calls mining");
    Ok(())
}

fn neg_http_html(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t = TcpConversation::new(sa("10.40.0.9:55003")?, sa("203.0.113.80:80")?, at(160), Link::Ethernet);
    let mut rng = Rng::new(34);
    t.handshake(&mut w)?;
    t.client_sends(&mut w, b"GET /docs/stratum-protocol.html HTTP/1.1\r\nHost: docs.example.org\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\r\nAccept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.5\r\nConnection: keep-alive\r\n\r\n")?;
    let (notify, ntime) = msg::sv1_notify(&mut rng, "1a2b0001", 850_000, true, false);
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
    t.server_sends(&mut w, resp.as_bytes())?;
    t.pause_ms(1200);
    t.close_fin(&mut w, Side::A)?;
    truth.none_in_file("NEGATIVE: an HTTP GET for an HTML page whose <pre> blocks quote whole Stratum lines (subscribe, authorize, notify, submit), each on its own line");
    Ok(())
}

fn neg_chat(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("172.16.20.4:58000")?, sa("198.51.100.70:6697")?, at(165), Link::Ethernet);
    t.handshake(&mut w)?;
    exchange(
        &mut t,
        &mut w,
        "{\"id\":1,\"method\":\"chat.join\",\"params\":{\"room\":\"miners-help\",\"nick\":\"alice\"}}\n",
        "{\"id\":1,\"result\":{\"room\":\"miners-help\",\"members\":14},\"error\":null}\n",
    )?;
    exchange(&mut t, &mut w,
        "{\"id\":2,\"method\":\"chat.send\",\"params\":{\"room\":\"miners-help\",\"text\":\"my miner sends mining.subscribe then mining.authorize but the pool never answers\"}}\n",
        "{\"id\":2,\"result\":true,\"error\":null}\n")?;
    t.pause_ms(4000);
    t.server_sends(&mut w, b"{\"id\":null,\"method\":\"chat.message\",\"params\":{\"room\":\"miners-help\",\"from\":\"bob\",\"text\":\"paste the line, should look like {\\\"id\\\": 1, \\\"method\\\": \\\"mining.subscribe\\\", \\\"params\\\": []}\"}}\n")?;
    t.pause_ms(6000);
    exchange(&mut t, &mut w,
        "{\"id\":3,\"method\":\"chat.send\",\"params\":{\"room\":\"miners-help\",\"text\":\"{\\\"id\\\": 2, \\\"method\\\": \\\"mining.authorize\\\", \\\"params\\\": [\\\"alice.rig1\\\", \\\"x\\\"]}\",\"mining.submit\":\"mining.notify\"}}\n",
        "{\"id\":3,\"result\":true,\"error\":null}\n")?;
    t.pause_ms(3000);
    t.server_sends(&mut w, b"{\"id\":null,\"method\":\"chat.message\",\"params\":{\"room\":\"miners-help\",\"from\":\"bob\",\"text\":\"mining.notify never came? then it is your firewall\"}}\n")?;
    t.close_fin(&mut w, Side::A)?;
    truth.none_in_file("NEGATIVE: JSON-RPC chat protocol (chat.join/chat.send/chat.message) whose messages carry mining.subscribe, mining.authorize, mining.notify only inside string values (and one as a key)");
    Ok(())
}

fn neg_lsp(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.40.0.10:55004")?, sa("10.40.0.11:2087")?, at(170), Link::Ethernet);
    t.handshake(&mut w)?;
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
        t.send(&mut w, *side, m.as_bytes(), &Delivery::default())?;
        t.pause_ms(40);
    }
    t.server_sends(&mut w, frame("{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":null}").as_bytes())?;
    t.close_fin(&mut w, Side::A)?;
    truth.none_in_file("NEGATIVE: language-server session (Content-Length framed JSON-RPC over TCP, no newlines between messages) editing a file that contains a mining.subscribe line");
    Ok(())
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

fn neg_tls(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("192.168.1.62:53100")?, sa("198.51.100.80:443")?, at(175), Link::Ethernet);
    let mut rng = Rng::new(35);
    t.handshake(&mut w)?;
    t.client_sends(&mut w, &super::encrypted::hello(&mut rng, Some("www.example.com"), &[]))?;
    let mut flight = tls_record(&mut rng, 0x16, 122);
    flight.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
    flight.extend(tls_record(&mut rng, 0x17, 2800));
    t.server_sends(&mut w, &flight)?;
    let mut fin = vec![0x14, 0x03, 0x03, 0x00, 0x01, 0x01];
    fin.extend(tls_record(&mut rng, 0x17, 53));
    t.client_sends(&mut w, &fin)?;
    for k in 0..6 {
        t.pause_ms(rng.range(50, 900) as i64);
        t.client_sends(&mut w, &tls_record(&mut rng, 0x17, 200 + k * 37))?;
        t.server_sends(&mut w, &tls_record(&mut rng, 0x17, 1500 + k * 911))?;
    }
    t.close_fin(&mut w, Side::A)?;
    truth.none_in_file("NEGATIVE: TLS-like binary traffic on 443 (ClientHello with SNI www.example.com, server flight, random application-data records)");
    Ok(())
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
fn say_all<S: PacketSink>(
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

fn sv1_asic_extensions(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.50.0.21:40100")?, sa("198.51.100.90:3333")?, at(185), Link::Ethernet);
    let mut rng = Rng::new(40);
    let wallet = b58_address(&[0x00], 0x3c);
    let login = format!("{wallet}.s19pro");
    let (c, s) = (Side::A, Side::B);
    t.handshake(&mut w)?;
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
    let (notify, ntime) = msg::sv1_notify(&mut rng, "5e1f0001", 850_100, true, false);
    lines.push((s, notify));
    say_all(&mut t, &mut w, &lines, "\n", None)?;
    for i in 0..6u32 {
        t.pause_ms(10_000);
        let submit = format!(
            "{{\"id\":{},\"method\":\"mining.submit\",\"params\":[\"{login}\",\"5e1f0001\",\"{}\",\"{ntime}\",\"{}\",\"{}\"]}}",
            10 + i,
            rng.hex(4),
            rng.hex(4),
            rng.hex(2) + "0000"
        );
        say(&mut t, &mut w, c, &submit, "\n", None)?;
        say(&mut t, &mut w, s, &msg::sv1_result_true(10 + i), "\n", None)?;
        if i == 2 {
            say(
                &mut t,
                &mut w,
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
    say_all(&mut t, &mut w, &tail, "\n", None)?;
    t.close_fin(&mut w, Side::B)?;
    truth.mining(Variant::StratumV1, &t, &login, "ASIC firmware (bmminer): mining.configure version-rolling, extranonce.subscribe, suggest_difficulty, set_version_mask, set_extranonce, 6-param submits with version bits, client.get_version answered by the miner, show_message, reconnect; base58check P2PKH wallet");
    Ok(())
}

fn sv1_zcash_set_target(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.50.0.22:40200")?, sa("198.51.100.91:3357")?, at(190), Link::Ethernet);
    let mut rng = Rng::new(41);
    let login = format!("{}.rig4", b58_address(&[0x1c, 0xb8], 0x21));
    let (c, s) = (Side::A, Side::B);
    t.handshake(&mut w)?;
    let lines = vec![
        (c, "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"EWBF 0.3.4b\",null,\"zec.example.net\",\"3357\"]}".to_string()),
        (s, format!("{{\"id\":1,\"result\":[\"{0}\",\"{0}\"],\"error\":null}}", rng.hex(5))),
        (c, format!("{{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"{login}\",\"x\"]}}")),
        (s, msg::sv1_result_true(2)),
        (s, "{\"id\":null,\"method\":\"mining.set_target\",\"params\":[\"0004189374bc6a7ef9db22d0e5604189374bc6a7ef9db22d0e5604189374bc6a\"]}".to_string()),
        (c, "{\"id\":3,\"method\":\"mining.extranonce.subscribe\",\"params\":[]}".to_string()),
        (s, format!("{{\"id\":null,\"method\":\"mining.notify\",\"params\":[\"8c6f\",\"04000000\",\"{}\",\"{}\",\"{}\",\"a9cc405a\",\"09d8151c\",true]}}", rng.hex(32), rng.hex(32), "0".repeat(64))),
    ];
    say_all(&mut t, &mut w, &lines, "\n", None)?;
    for i in 0..4u32 {
        t.pause_ms(15_000);
        // An Equihash solution is 1344 bytes: the submit spans several segments.
        let submit = format!(
            "{{\"id\":{},\"method\":\"mining.submit\",\"params\":[\"{login}\",\"8c6f\",\"a9cc405a\",\"{}\",\"fd4005{}\"]}}",
            100 + i,
            rng.hex(27),
            rng.hex(1344)
        );
        say(&mut t, &mut w, c, &submit, "\n", None)?;
        say(&mut t, &mut w, s, &format!("{{\"id\":{},\"result\":true}}", 100 + i), "\n", None)?;
    }
    t.close_fin(&mut w, Side::A)?;
    truth.mining(Variant::StratumV1, &t, &login, "Zcash Equihash SV1 (EWBF-like): mining.set_target (difficulty from the 0x0007ff.. diff-1 target), 4 submits of ~2.8 KB over several segments; t1 transparent wallet");
    Ok(())
}

fn ethstratum1_nicehash(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("172.16.30.5:41000")?, sa("198.51.100.92:3353")?, at(195), Link::Ethernet);
    let mut rng = Rng::new(42);
    let login = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed.gpu3";
    let (c, s) = (Side::A, Side::B);
    t.handshake(&mut w)?;
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
        say(&mut t, &mut w, *side, line, "\n", None)?;
        t.pause_ms(if *side == c { 8000 } else { 50 });
    }
    t.close_fin(&mut w, Side::A)?;
    truth.mining(Variant::EthereumStratum, &t, login, "EthereumStratum/1.0.0 (NiceHash): subscribe naming the protocol, ETH-shaped notify [job, seedhash, headerhash, clean], 3-param submits; EIP-55 checksummed wallet");
    Ok(())
}

fn ethstratum2_hello(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("172.16.30.6:41001")?, sa("198.51.100.93:4444")?, at(200), Link::Ethernet);
    let mut rng = Rng::new(43);
    let login = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359.rig7";
    let (c, s) = (Side::A, Side::B);
    t.handshake(&mut w)?;
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
        say(&mut t, &mut w, *side, line, "\n", None)?;
        t.pause_ms(if *side == c { 7000 } else { 40 });
    }
    t.close_fin(&mut w, Side::A)?;
    truth.mining(Variant::EthereumStratum, &t, login, "EthereumStratum/2.0.0: mining.hello, mining.set {epoch, target, algo, extranonce}, notify, submits with the worker last, mining.hashrate, noop, bye");
    Ok(())
}

fn cryptonote_nicehash_proxy(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("192.168.9.20:43000")?, sa("203.0.113.40:3333")?, at(205), Link::Ethernet);
    let mut rng = Rng::new(44);
    let login = format!("{XMR_WALLET}+50000");
    let (c, s) = (Side::A, Side::B);
    t.handshake(&mut w)?;
    let session = rng.hex(8);
    let seed = rng.hex(32);
    let job = msg::xmr_job_body(&mut rng, &session, 300_001, 3_150_100, &seed);
    let lines = vec![
        (c, format!("{{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"login\",\"params\":{{\"login\":\"{login}\",\"pass\":\"farm-eu\",\"agent\":\"xmrig-proxy/6.22.0 (Linux x86_64) libuv/1.48.0 gcc/13.2.0\",\"algo\":[\"rx/0\"],\"nicehash\":true}}}}")),
        (s, msg::xmr_login_result(1, &session, &job)),
    ];
    say_all(&mut t, &mut w, &lines, "\n", None)?;
    let o = Xmr { jobs: 2, submits_per_job: 3, keepalive: true, ..Default::default() };
    xmr_work(&mut t, &mut w, &mut rng, &o, &session, &seed, 2, 300_001, true)?;
    t.close_fin(&mut w, Side::A)?;
    truth.mining(Variant::CryptoNote, &t, &login, "xmrig-proxy in NiceHash mode (login nicehash flag, pool extensions), login WALLET+50000 fixed difficulty");
    Ok(())
}

/// A JSON value the way a pretty-printer writes it: two-space indent, one member per line.
fn pretty(line: &str, eol: &str) -> io::Result<String> {
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let text = serde_json::to_string_pretty(&v).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(text.replace('\n', eol))
}

fn sv1_pretty_printed(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.50.0.23:40300")?, sa("198.51.100.94:3333")?, at(210), Link::Ethernet);
    let mut rng = Rng::new(45);
    let login = format!("{BTC_WALLET}.pretty");
    let (c, s) = (Side::A, Side::B);
    t.handshake(&mut w)?;
    // Pretty-printed with CRLF, sent in 5-byte segments; then \u escapes in keys and values.
    let mut lines = vec![
        (c, pretty(&msg::sv1_subscribe(1, "cpuminer/2.5.1", false), "\r\n")?),
        (s, pretty(&msg::sv1_subscribe_result(1, &rng.hex(4)), "\r\n")?),
        (c, pretty(&msg::sv1_authorize(2, &login, false), "\r\n")?),
        (s, pretty(&msg::sv1_result_true(2), "\r\n")?),
        (s, pretty(&msg::sv1_set_difficulty("0.005", false), "\r\n")?),
    ];
    let (notify, ntime) = msg::sv1_notify(&mut rng, "1a2b0001", 850_000, true, false);
    lines.push((s, pretty(&notify, "\r\n")?));
    say_all(&mut t, &mut w, &lines, "\r\n", Some(5))?;
    for _ in 0..3 {
        t.pause_ms(3000);
        let submit = msg::sv1_submit(&login, "1a2b0001", &ntime, &rng.hex(4), false);
        // Escapes put back after pretty-printing (the printer writes plain text).
        let submit = pretty(&submit, "\n")?
            .replace("\"method\": \"mining.submit\"", "\"\\u006dethod\": \"mining\\u002esubmit\"");
        say(&mut t, &mut w, c, &submit, "\n", Some(7))?;
        say(&mut t, &mut w, s, "{\"id\":4,\r\n \"result\":true,\r\n \"error\":null}", "\r\n", None)?;
    }
    t.close_fin(&mut w, Side::A)?;
    truth.mining(Variant::StratumV1, &t, &login, "pretty-printed JSON: every message spread over several lines (CRLF), sent in 5- and 7-byte segments; submits with \\u escapes");
    Ok(())
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

fn neg_bitcoin_p2p(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.60.0.5:50900")?, sa("198.51.100.100:8333")?, at(215), Link::Ethernet);
    let mut rng = Rng::new(46);
    t.handshake(&mut w)?;
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
        let m = btc_msg(&mut rng, cmd, len);
        t.send(&mut w, side, &m, &Delivery::default())?;
        t.pause_ms(80);
    }
    t.close_fin(&mut w, Side::A)?;
    truth.none_in_file("NEGATIVE: Bitcoin P2P (binary: version/verack/inv/getdata/block/ping on 8333), bypassed on its first byte");
    Ok(())
}

fn neg_monero_levin(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.60.0.6:50901")?, sa("198.51.100.101:18080")?, at(216), Link::Ethernet);
    let mut rng = Rng::new(47);
    t.handshake(&mut w)?;
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
        t.send(&mut w, side, &m, &Delivery::default())?;
        t.pause_ms(120);
    }
    t.close_fin(&mut w, Side::A)?;
    truth.none_in_file("NEGATIVE: Monero P2P levin protocol (binary handshake and timed sync on 18080)");
    Ok(())
}

fn neg_eth_devp2p(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.60.0.7:50902")?, sa("198.51.100.102:30303")?, at(217), Link::Ethernet);
    let mut rng = Rng::new(48);
    t.handshake(&mut w)?;
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
        t.send(&mut w, side, &m, &Delivery::default())?;
        t.pause_ms(60);
    }
    t.close_fin(&mut w, Side::A)?;
    truth.none_in_file("NEGATIVE: Ethereum devp2p/RLPx (binary ECIES handshake and frames on 30303)");
    Ok(())
}

fn neg_web_login_jsonrpc(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.60.0.8:50903")?, sa("198.51.100.103:7000")?, at(218), Link::Ethernet);
    t.handshake(&mut w)?;
    exchange(&mut t, &mut w,
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"login\",\"params\":{\"login\":\"alice\",\"password\":\"correct horse\"}}\n",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"status\":\"OK\",\"token\":\"c2Vzc2lvbg\"}}\n")?;
    exchange(&mut t, &mut w,
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"job\",\"params\":{\"name\":\"nightly-backup\",\"target\":\"s3\"}}\n",
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"job_id\":\"77\",\"status\":\"queued\"}}\n")?;
    exchange(&mut t, &mut w,
        "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"submit\",\"params\":{\"form\":\"expenses\",\"job_id\":\"77\"}}\n",
        "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":true}\n")?;
    exchange(
        &mut t,
        &mut w,
        "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"keepalived\",\"params\":{\"id\":\"c2Vzc2lvbg\"}}\n",
        "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{\"status\":\"KEEPALIVED\"}}\n",
    )?;
    t.close_fin(&mut w, Side::A)?;
    truth.none_in_file("NEGATIVE: a web application's JSON-RPC using the generic names login (user/password object), job, submit and keepalived without the mining shapes");
    Ok(())
}

fn neg_pretty_jsonrpc(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    let mut w = pcap(out, Link::Ethernet)?;
    let mut t =
        TcpConversation::new(sa("10.60.0.9:50904")?, sa("198.51.100.104:9000")?, at(219), Link::Ethernet);
    t.handshake(&mut w)?;
    for (req, resp) in [
        ("{\"jsonrpc\":\"2.0\",\"method\":\"server.version\",\"params\":[\"electrum/4.5.5\",\"1.4\"],\"id\":0}", "{\"jsonrpc\":\"2.0\",\"result\":[\"ElectrumX 1.16.0\",\"1.4\"],\"id\":0}"),
        ("{\"jsonrpc\":\"2.0\",\"method\":\"eth_blockNumber\",\"params\":[],\"id\":1}", "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x12e4a31\"}"),
        ("{\"jsonrpc\":\"2.0\",\"method\":\"chat.send\",\"params\":{\"text\":\"{\\\"method\\\":\\\"mining.subscribe\\\"}\"},\"id\":2}", "{\"jsonrpc\":\"2.0\",\"result\":true,\"id\":2}"),
    ] {
        exchange(&mut t, &mut w, &format!("{}\n", pretty(req, "\n")?), &format!("{}\n", pretty(resp, "\n")?))?;
    }
    t.close_fin(&mut w, Side::A)?;
    truth.none_in_file("NEGATIVE: pretty-printed (multi-line) JSON-RPC that is not mining: Electrum server.version, eth_blockNumber, a chat message quoting mining.subscribe");
    Ok(())
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
