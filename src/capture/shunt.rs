//! Elephant flows left in the kernel: a live capture's filter drops the packets of the few
//! largest flows already found not to be Stratum, so that they cost no worker anything.
//!
//! A bypassed flow costs a decode and a table lookup a frame (see [`crate::flow`]), but a
//! backup or a big download is a large share of a link's frames, and with several workers all
//! of one flow falls on one of them (the kernel shares a link among them by flow): one worker
//! then does far more than the others, and the link is only watched as fast as that worker.
//! Suricata answers the same problem with its eBPF "capture bypass"; minewatch rebuilds the
//! capture's classic BPF filter instead, which needs no eBPF support, no maps and no extra
//! privilege once the capture is open: the user's filter, and not the shunted flows.
//!
//! What keeps this from hiding a miner:
//! - only flows the table has already bypassed are shunted, and a bypassed flow is never read
//!   again anyway; a mining session is never bypassed;
//! - SYN, FIN and RST of a shunted flow still pass: its end is seen, and a new connection on
//!   the same addresses and ports (see `tcp_port_reuse`) takes the flow out of the filter at
//!   once, not at the next rebuild;
//! - an entry lasts [`SHUNT_TTL`] at most: a flow that ended unseen is let go, and one that goes
//!   on is found again after as many frames as it took the first time;
//! - the list is bounded (`--shunt`); elephants past it are read as before (`shunt_full`).
//!
//! The filter is put together here ([`program`]): a test of the shunted flows, assembled in
//! microseconds (libpcap's compiler took milliseconds for the same list, on the worker's time),
//! ahead of the user's filter as libpcap compiled it when the capture opened. Ethernet captures
//! only: the offsets are Ethernet's. A VLAN tag the kernel took out of the frame (the usual
//! offload) changes nothing; frames that still carry their tag are not shunted, only read. It
//! is attached with `SO_ATTACH_FILTER` directly: libpcap's own `pcap_setfilter` first attaches
//! a filter that drops everything while it empties the socket's queue, and what arrives in that
//! window is lost without a count. The kernel swaps one filter for the next atomically. A
//! rebuild costs about 0.1 ms, mostly the kernel's checking and translating of the program
//! (`cargo bench --bench hot_path -- shunt`).
//!
//! What it costs: the frames of a shunted flow are neither read nor counted by the kernel as
//! received (the `stats` record's `flows_shunted` says how many flows were shunted); every other
//! frame runs through a few more BPF instructions in the kernel (about a dozen, and one per
//! shunted flow).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::stats::Counters;

/// Frames a bypassed flow shows before it is shunted: one frame in this many of an elephant is
/// still read, at most.
pub const ELEPHANT_FRAMES: u32 = 256;
/// How long a flow stays shunted before it is read again.
pub const SHUNT_TTL: Duration = Duration::from_secs(30);
/// Least time between two rebuilds that only add flows (one that takes a flow out is not
/// held back): at most a hundred rebuilds a second, about a hundredth of a core.
const MIN_GAP: Duration = Duration::from_millis(10);

/// An elephant flow to shunt: `key` names it to whoever found it (the shunt only compares keys,
/// to let the flow go when its end is told), `a` and `b` are its endpoints. The capture layer
/// knows no flow table: the pipeline hands the shunt what the table found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow<K> {
    pub key: K,
    pub a: SocketAddr,
    pub b: SocketAddr,
}

struct Entry<K> {
    flow: Flow<K>,
    until: Instant,
}

/// One live worker's shunted flows, named by keys of type `K`.
pub struct Shunt<K> {
    max: usize,
    entries: Vec<Entry<K>>,
    /// The list differs from the one in the kernel.
    changed: bool,
    /// A flow left the list: the kernel must be told at once.
    urgent: bool,
    next: Option<Instant>,
    /// Shunting stopped (a filter could not be built or attached), or was never on.
    off: bool,
}

impl<K: PartialEq> Shunt<K> {
    /// At most `max` flows at once; 0 turns shunting off.
    pub fn new(max: usize) -> Shunt<K> {
        Shunt { max, entries: Vec::new(), changed: false, urgent: false, next: None, off: max == 0 }
    }

    pub fn is_on(&self) -> bool {
        !self.off
    }

    /// Whether a rebuild is waiting for its time.
    pub fn pending(&self) -> bool {
        !self.off && self.changed
    }

    /// Takes the news (elephants `found`, and the keys of those whose flow has `ended`) and lets
    /// go of entries past their time.
    pub fn update(
        &mut self,
        found: impl IntoIterator<Item = Flow<K>>,
        ended: impl IntoIterator<Item = K>,
        now: Instant,
        c: &mut Counters,
    ) {
        if self.off {
            return;
        }
        let before = self.entries.len();
        self.entries.retain(|e| e.until > now);
        self.changed |= self.entries.len() != before;
        // Found before ended: a flow offered again and then ended between two updates (a busy
        // worker reads both in one pass) must not stay shunted after its end, where a new
        // connection on its ports would lose its data to the filter.
        for e in found {
            if self.entries.iter().any(|x| x.flow.key == e.key) {
                continue;
            }
            if self.entries.len() >= self.max {
                c.shunt_full += 1;
                continue;
            }
            c.flows_shunted += 1;
            self.entries.push(Entry { flow: e, until: now + SHUNT_TTL });
            self.changed = true;
        }
        for key in ended {
            if let Some(i) = self.entries.iter().position(|e| e.flow.key == key) {
                self.entries.swap_remove(i);
                self.changed = true;
                self.urgent = true;
            }
        }
    }

    /// Whether the filter should be rebuilt now.
    pub fn due(&self, now: Instant) -> bool {
        !self.off && self.changed && (self.urgent || self.next.map_or(true, |t| now >= t))
    }

    /// The flows the filter should drop, as (endpoint, endpoint).
    pub fn flows(&self) -> Vec<(SocketAddr, SocketAddr)> {
        self.entries.iter().map(|e| (e.flow.a, e.flow.b)).collect()
    }

    /// The rebuild's outcome. A failure turns shunting off (after which the caller should
    /// attach the user's filter alone); returns the error for the caller to say.
    pub fn applied(
        &mut self,
        result: Result<(), ShuntError>,
        now: Instant,
        c: &mut Counters,
    ) -> Option<ShuntError> {
        self.changed = false;
        self.urgent = false;
        self.next = Some(now + MIN_GAP);
        match result {
            Ok(()) => None,
            Err(e) => {
                c.shunt_failed += 1;
                self.off = true;
                self.entries.clear();
                Some(e)
            }
        }
    }
}

/// Why the capture filter could not be rebuilt with the shunted flows (shunting then stops).
#[derive(Debug, thiserror::Error)]
pub enum ShuntError {
    #[error(transparent)]
    Bpf(#[from] super::bpf::BpfError),
    /// libpcap showed an instruction in a form not understood.
    #[error("BPF instruction {0:?}")]
    Instruction(String),
    #[error("filter of {0} instructions")]
    TooLong(usize),
    #[error("attaching the capture filter: {0}")]
    Attach(nix::Error),
    #[error("shunting is Linux only")]
    Unsupported,
    /// One capture's rebuild failed (`live`: said with the interface).
    #[error("{iface}: {source}")]
    Capture { iface: String, source: Box<ShuntError> },
    #[error("{iface}: shunt filter: {source}")]
    Program { iface: String, source: Box<ShuntError> },
    #[error("{iface}: shunting needs an Ethernet capture (link type {dlt})")]
    NotEthernet { iface: String, dlt: i32 },
    /// The user's filter could not be compiled or read back when the capture opened.
    #[error("{iface}: {why}")]
    UserFilter { iface: String, why: String },
}

/// Where the frame's TCP flags and addresses are, and which scratch words hold what.
mod at {
    /// The EtherType.
    pub const ETHER_TYPE: u32 = 12;
    /// The IPv4 header (and the IPv6 one).
    pub const IP: u32 = 14;
    pub const V4_FRAGMENT: u32 = IP + 6;
    pub const V4_PROTOCOL: u32 = IP + 9;
    pub const V4_SRC: u32 = IP + 12;
    pub const V4_DST: u32 = IP + 16;
    pub const V6_NEXT: u32 = IP + 6;
    pub const V6_SRC: u32 = IP + 8;
    pub const V6_DST: u32 = IP + 24;
    /// The TCP header after an IPv6 fixed header.
    pub const V6_TCP: u32 = IP + 40;
    /// In the TCP header: the ports, and the flags byte.
    pub const PORTS: u32 = 0;
    pub const FLAGS: u32 = 13;
    /// TCP bytes that must be in the frame: up to the flags.
    pub const TCP_NEEDED: u32 = FLAGS + 1;
}

/// SYN, FIN and RST: a flow's ends, which always pass.
const ENDS: u32 = 0x07;
const ETHERTYPE_IPV4: u32 = libc::ETH_P_IP as u32;
const ETHERTYPE_IPV6: u32 = libc::ETH_P_IPV6 as u32;
const TCP: u32 = libc::IPPROTO_TCP as u32;

/// The capture filter: the data packets of `flows` dropped, either way, then the user's filter
/// (`user`, compiled by libpcap) on what is left. SYN, FIN and RST always pass; so do IP
/// fragments, frames cut short before the TCP flags, and IPv6 packets whose TCP header does not
/// follow the fixed header.
///
/// Shape: the frame's addresses and ports go to scratch memory once, with the two ports
/// exclusive-or'ed as a key that is the same both ways; each flow then costs a frame of another
/// flow one comparison of that key, and only a frame with the same key compares addresses and
/// ports, both ways. An IPv4 flow takes 15 instructions, an IPv6 one 39: `--shunt`'s most, 64,
/// leaves room in the kernel's limit for a user filter of 1,500 instructions.
pub fn program(
    user: &[libc::sock_filter],
    flows: &[(SocketAddr, SocketAddr)],
) -> Result<Vec<libc::sock_filter>, ShuntError> {
    use super::bpf::{
        Asm, Label, ABS, ALU, B, H, IND, JEQ, JGE, JSET, LD, LDX, LEN, MEM, MISC, MSH, RET, ST, SUB, TXA, W,
        X, XOR,
    };
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for (a, b) in flows {
        match (a.ip(), b.ip()) {
            (IpAddr::V4(x), IpAddr::V4(y)) => v4.push(([u32::from(x)], a.port(), [u32::from(y)], b.port())),
            (IpAddr::V6(x), IpAddr::V6(y)) => v6.push((words(x), a.port(), words(y), b.port())),
            _ => {}
        }
    }
    if v4.is_empty() && v6.is_empty() {
        return Ok(user.to_vec());
    }
    let mut p = Asm::default();
    let (pass, ip4, ip6) = (p.label(), p.label(), p.label());
    // Shorter than the least that can be shunted (an IPv4 header and TCP up to its flags).
    let least = at::IP + 20 + at::TCP_NEEDED;
    p.op(LD | W | LEN, 0);
    p.unless(JGE, least, pass);
    p.op(LD | H | ABS, at::ETHER_TYPE);
    if !v4.is_empty() {
        p.when(JEQ, ETHERTYPE_IPV4, ip4);
    }
    if !v6.is_empty() {
        p.when(JEQ, ETHERTYPE_IPV6, ip6);
    }
    p.goto(pass);
    if !v4.is_empty() {
        p.bind(ip4);
        p.op(LD | B | ABS, at::V4_PROTOCOL);
        p.unless(JEQ, TCP, pass);
        // More fragments, or an offset: the defragmenter's.
        p.op(LD | H | ABS, at::V4_FRAGMENT);
        p.when(JSET, 0x3fff, pass);
        p.op(LDX | B | MSH, at::IP);
        p.op(MISC | TXA, 0);
        p.unless(JGE, 20, pass);
        // The TCP header as far as the flags is in the frame: length - 28 >= the IP header's
        // (the length is at least `least`, so the subtraction does not wrap).
        p.op(LD | W | LEN, 0);
        p.op(ALU | SUB, at::IP + at::TCP_NEEDED);
        p.unless(JGE | X, 0, pass);
        p.op(LD | B | IND, at::IP + at::FLAGS);
        p.when(JSET, ENDS, pass);
        let m = Slots::new(1);
        store(&mut p, &[at::V4_SRC], m.src);
        store(&mut p, &[at::V4_DST], m.dst);
        tail(&mut p, &m, (IND, at::IP), &v4, pass);
    }
    if !v6.is_empty() {
        p.bind(ip6);
        p.op(LD | W | LEN, 0);
        p.unless(JGE, at::V6_TCP + at::TCP_NEEDED, pass);
        p.op(LD | B | ABS, at::V6_NEXT);
        p.unless(JEQ, TCP, pass);
        p.op(LD | B | ABS, at::V6_TCP + at::FLAGS);
        p.when(JSET, ENDS, pass);
        let m = Slots::new(4);
        store(&mut p, &[0, 4, 8, 12].map(|o| at::V6_SRC + o), m.src);
        store(&mut p, &[0, 4, 8, 12].map(|o| at::V6_DST + o), m.dst);
        tail(&mut p, &m, (ABS, at::V6_TCP), &v6, pass);
    }
    p.bind(pass);
    p.extend(user);
    return p.finish().map_err(ShuntError::from);

    fn words(a: Ipv6Addr) -> [u32; 4] {
        let o = a.octets();
        std::array::from_fn(|i| u32::from_be_bytes([o[4 * i], o[4 * i + 1], o[4 * i + 2], o[4 * i + 3]]))
    }

    /// With the addresses stored: the ports and the key from the TCP header at `tcp` (a
    /// mode, ABS or IND from X, and an offset), then the flows, then on to `pass`.
    fn tail<const N: usize>(
        p: &mut Asm,
        m: &Slots,
        (mode, tcp): (u16, u32),
        list: &[([u32; N], u16, [u32; N], u16)],
        pass: Label,
    ) {
        p.op(LD | W | mode, tcp + at::PORTS);
        p.op(ST, m.ports);
        // The key: source port ^ destination port, the same both ways.
        p.op(LD | H | mode, tcp + at::PORTS);
        p.op(ST, m.key);
        p.op(LD | H | mode, tcp + at::PORTS + 2);
        p.op(LDX | W | MEM, m.key);
        p.op(ALU | XOR | X, 0);
        p.op(ST, m.key);
        for f in list {
            flow(p, m, f);
        }
        p.goto(pass);
    }

    /// Loads the words at `from` into scratch words `to`, `to + 1`, ...
    fn store(p: &mut Asm, from: &[u32], to: u32) {
        for (i, &at) in (0..).zip(from) {
            p.op(LD | W | ABS, at);
            p.op(ST, to + i);
        }
    }

    /// One flow: on a frame with its key, its addresses and ports one way, then the other; a
    /// match is dropped (A holds the key on the way in and on the way out).
    fn flow<const N: usize>(p: &mut Asm, m: &Slots, &(a, pa, b, pb): &([u32; N], u16, [u32; N], u16)) {
        let (check, next, back, other, drop) = (p.label(), p.label(), p.label(), p.label(), p.label());
        p.jump(JEQ, u32::from(pa ^ pb), check, next);
        p.bind(check);
        way(p, m, (a, pa), (b, pb), drop, other);
        p.bind(other);
        way(p, m, (b, pb), (a, pa), drop, back);
        p.bind(drop);
        p.op(RET, 0);
        p.bind(back);
        p.op(LD | MEM, m.key);
        p.bind(next);
    }

    /// To `drop` if the frame goes from `src` to `dst`, else to `miss`.
    fn way<const N: usize>(
        p: &mut Asm,
        m: &Slots,
        (src, sport): ([u32; N], u16),
        (dst, dport): ([u32; N], u16),
        drop: Label,
        miss: Label,
    ) {
        let ports = u32::from(sport) << 16 | u32::from(dport);
        let mut wanted = (m.src..).zip(src).chain((m.dst..).zip(dst)).chain([(m.ports, ports)]).peekable();
        while let Some((slot, value)) = wanted.next() {
            p.op(LD | MEM, slot);
            let on = p.label();
            p.jump(JEQ, value, if wanted.peek().is_some() { on } else { drop }, miss);
            p.bind(on);
        }
    }
}

/// Scratch words of the shunt program: the frame's source and destination addresses (`n`
/// words each), its ports as one word, and the key.
struct Slots {
    src: u32,
    dst: u32,
    ports: u32,
    key: u32,
}

impl Slots {
    fn new(n: u32) -> Slots {
        Slots { src: 0, dst: n, ports: 2 * n, key: 2 * n + 1 }
    }
}

/// A compiled program's instructions in the kernel's form. The pcap crate shows an instruction
/// only as text (`code jt jf k`, the fields of `struct bpf_insn`), so they are read back from it.
pub fn instructions(p: &pcap::BpfProgram) -> Result<Vec<libc::sock_filter>, ShuntError> {
    fn insn(text: &str) -> Option<libc::sock_filter> {
        let mut f = text.split(' ');
        let insn = libc::sock_filter {
            code: f.next()?.parse().ok()?,
            jt: f.next()?.parse().ok()?,
            jf: f.next()?.parse().ok()?,
            k: f.next()?.parse().ok()?,
        };
        f.next().is_none().then_some(insn)
    }
    p.get_instructions()
        .iter()
        .map(|i| {
            let text = i.to_string();
            insn(&text).ok_or(ShuntError::Instruction(text))
        })
        .collect()
}

/// Replaces the socket filter of `sock` (a capture's) by `prog`, atomically. The kernel checks
/// the program first and refuses one that is not sound.
#[cfg(target_os = "linux")]
pub fn attach(sock: &impl std::os::fd::AsFd, prog: &[libc::sock_filter]) -> Result<(), ShuntError> {
    use nix::sys::socket::{setsockopt, sockopt};

    /// The `SO_ATTACH_FILTER` socket option (made by nix's helpers: no unsafe code here).
    #[derive(Clone, Copy, Debug)]
    struct AttachFilter;
    nix::setsockopt_impl!(
        AttachFilter,
        libc::SOL_SOCKET,
        libc::SO_ATTACH_FILTER,
        libc::sock_fprog,
        sockopt::SetStruct<'_, libc::sock_fprog>
    );

    let len = u16::try_from(prog.len()).map_err(|_| ShuntError::TooLong(prog.len()))?;
    // The kernel copies the program during the call; `prog` outlives it.
    let fprog = libc::sock_fprog { len, filter: prog.as_ptr().cast_mut() };
    setsockopt(sock, AttachFilter, &fprog).map_err(ShuntError::Attach)
}

#[cfg(not(target_os = "linux"))]
pub fn attach(_: &impl std::os::fd::AsFd, _: &[libc::sock_filter]) -> Result<(), ShuntError> {
    Err(ShuntError::Unsupported)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::bpf;
    use crate::cli::DEFAULT_FILTER;
    use testkit::synth::frame::{Framer, Link, TcpFlags, TcpSeg};

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn compiled(expr: &str) -> pcap::BpfProgram {
        let dead = pcap::Capture::dead(pcap::Linktype::ETHERNET).unwrap();
        dead.compile(expr, true).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    /// The shunt filter as libpcap's filter language says it: the reference the assembled
    /// program is held to. (libpcap's `tcp[...]` also tests that the fragment offset is 0.)
    fn expression(user: &str, flows: &[(SocketAddr, SocketAddr)]) -> String {
        let dir = |fam: &str, a: &SocketAddr, b: &SocketAddr| {
            let (x, y, px, py) = (a.ip(), b.ip(), a.port(), b.port());
            format!("({fam} src host {x} and {fam} dst host {y} and tcp src port {px} and tcp dst port {py})")
        };
        let list = |v6: bool| {
            let fam = if v6 { "ip6" } else { "ip" };
            let dirs = flows.iter().filter(|(a, b)| a.is_ipv6() == v6 && b.is_ipv6() == v6);
            dirs.flat_map(|(a, b)| [dir(fam, a, b), dir(fam, b, a)]).collect::<Vec<_>>().join(" or ")
        };
        let (v4, v6) = (list(false), list(true));
        let mut parts = Vec::new();
        if !v4.is_empty() {
            parts.push(format!("(ip and tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) == 0 and ({v4}))"));
        }
        if !v6.is_empty() {
            parts.push(format!("(ip6 and ip6[6] == 6 and ip6[53] & 7 == 0 and ({v6}))"));
        }
        match (user.trim().is_empty(), parts.join(" or ")) {
            (_, shunt) if shunt.is_empty() => user.to_string(),
            (true, shunt) => format!("not ({shunt})"),
            (false, shunt) => format!("({user}) and not ({shunt})"),
        }
    }

    fn seg(flags: TcpFlags) -> TcpSeg {
        TcpSeg { seq: 1, ack: 1, flags, window: 512, mss_option: None }
    }

    fn tcp(a: &str, b: &str, flags: TcpFlags) -> Vec<u8> {
        Framer::new(Link::Ethernet).tcp(addr(a), addr(b), &seg(flags), b"data").unwrap().to_vec()
    }

    fn shunt_program(user: &str, flows: &[(SocketAddr, SocketAddr)]) -> Vec<libc::sock_filter> {
        program(&instructions(&compiled(user)).unwrap(), flows).unwrap()
    }

    const DATA: TcpFlags = TcpFlags::ACK.union(TcpFlags::PSH);

    #[test]
    fn the_filter_drops_only_data_of_shunted_flows_either_way() {
        let flows = [
            (addr("10.1.1.1:40000"), addr("198.18.0.1:873")),
            (addr("[2001:db8::1]:50000"), addr("[2001:db8::2]:22")),
            (addr("10.9.9.9:5000"), addr("10.9.9.9:5001")),
        ];
        let prog = shunt_program(DEFAULT_FILTER, &flows);
        let passes = |f: &[u8]| bpf::run(&prog, f) != 0;
        for (a, b) in [
            ("10.1.1.1:40000", "198.18.0.1:873"),
            ("[2001:db8::1]:50000", "[2001:db8::2]:22"),
            ("10.9.9.9:5000", "10.9.9.9:5001"),
        ] {
            assert!(!passes(&tcp(a, b, DATA)), "{a} -> {b}");
            assert!(!passes(&tcp(b, a, TcpFlags::ACK)), "{b} -> {a}");
            for f in [TcpFlags::SYN, TcpFlags::FIN.union(TcpFlags::ACK), TcpFlags::RST] {
                assert!(passes(&tcp(a, b, f)), "{a} -> {b} {f:?}: a flow's ends must pass");
            }
        }
        // Another port, another address, the ports crossed (the same key): not this flow.
        assert!(passes(&tcp("10.1.1.1:40001", "198.18.0.1:873", DATA)));
        assert!(passes(&tcp("10.1.1.2:40000", "198.18.0.1:873", DATA)));
        assert!(passes(&tcp("10.1.1.1:873", "198.18.0.1:40000", DATA)));
        assert!(passes(&tcp("[2001:db8::1]:50000", "[2001:db8::3]:22", DATA)));
        // The user's filter still rules: DNS answers pass, other UDP does not.
        let mut f = Framer::new(Link::Ethernet);
        assert!(passes(f.udp(addr("10.0.0.53:53"), addr("10.1.1.1:5000"), b"x").unwrap()));
        assert!(!passes(f.udp(addr("10.0.0.9:123"), addr("10.1.1.1:123"), b"x").unwrap()));
        // No flows: the user's program, as it is; no user filter: only the flows are dropped.
        let user = instructions(&compiled("tcp port 3333")).unwrap();
        assert_eq!(format!("{:?}", program(&user, &[]).unwrap()), format!("{user:?}"));
        let prog = shunt_program("", &flows[..1]);
        assert_eq!(bpf::run(&prog, &tcp("10.1.1.1:40000", "198.18.0.1:873", DATA)), 0);
        assert_ne!(bpf::run(&prog, &tcp("10.1.1.1:40000", "198.18.0.1:874", DATA)), 0);
    }

    #[test]
    fn a_frame_cut_short_or_a_fragment_is_left_to_the_users_filter() {
        let flows = [(addr("10.1.1.1:40000"), addr("198.18.0.1:873"))];
        let prog = shunt_program("", &flows);
        let whole = tcp("10.1.1.1:40000", "198.18.0.1:873", DATA);
        assert_eq!(bpf::run(&prog, &whole), 0);
        // Cut before the flags byte (14 + 20 + 13): passes. libpcap's program for the same
        // flows drops it (a load past the end), and a frame of another flow cut there too.
        assert_ne!(bpf::run(&prog, &whole[..47]), 0);
        let reference = compiled(&expression("", &flows));
        assert!(!reference.filter(&whole[..47]));
        assert!(!reference.filter(&tcp("10.7.7.7:1", "10.8.8.8:2", DATA)[..47]));
        assert_eq!(bpf::run(&prog, &whole[..48]), 0);
        for frag in [0x2000u16, 0x0001] {
            let mut f = whole.clone();
            f[20..22].copy_from_slice(&frag.to_be_bytes());
            assert_ne!(bpf::run(&prog, &f), 0, "fragment bits {frag:#x}");
        }
    }

    #[test]
    fn the_interpreter_runs_libpcaps_programs_as_libpcap_does() {
        let frames: Vec<Vec<u8>> = [
            tcp("10.0.0.1:3333", "10.0.0.2:40000", DATA),
            tcp("[2001:db8::1]:3333", "[2001:db8::2]:22", TcpFlags::SYN),
            tcp("10.0.0.1:80", "10.0.0.2:40000", TcpFlags::RST),
            Framer::new(Link::Ethernet)
                .udp(addr("10.0.0.53:53"), addr("10.1.1.1:5000"), b"x")
                .unwrap()
                .to_vec(),
            Framer::new(Link::Ethernet).udp(addr("[::1]:123"), addr("[::2]:123"), b"x").unwrap().to_vec(),
        ]
        .into_iter()
        .flat_map(|f| (0..=f.len()).map(move |n| f[..n].to_vec()))
        .collect();
        let exprs = [DEFAULT_FILTER, "tcp port 3333", "ip6 and tcp port 22", "", "len > 60"];
        for expr in exprs {
            let prog = compiled(expr);
            let insns = instructions(&prog).unwrap();
            for f in &frames {
                assert_eq!(bpf::run(&insns, f) != 0, prog.filter(f), "{expr}, frame of {}", f.len());
            }
        }
    }

    /// A frame for the property test: TCP between two of a few endpoints (so that many frames
    /// belong to the flows shunted), with some flags, perhaps IPv4 options, perhaps marked as a
    /// fragment, perhaps cut short.
    #[derive(Clone, Debug)]
    struct Case {
        v6: bool,
        a: u8,
        b: u8,
        flags: u8,
        options: bool,
        fragment: u16,
        cut: Option<usize>,
    }

    fn endpoint(v6: bool, i: u8) -> SocketAddr {
        let port = 1000 + u16::from(i % 3);
        let host = i / 3;
        if v6 {
            addr(&format!("[2001:db8::{host}]:{port}"))
        } else {
            addr(&format!("10.0.0.{host}:{port}"))
        }
    }

    /// `case`'s frame, and whether it is a whole unfragmented TCP header (which the reference
    /// expression judges; anything else only the user's filter does).
    fn frame(c: &Case) -> (Vec<u8>, bool) {
        let (a, b) = (endpoint(c.v6, c.a), endpoint(c.v6, c.b));
        let seg = TcpSeg { flags: TcpFlags(c.flags), ..seg(DATA) };
        let mut f = Framer::new(Link::Ethernet).tcp(a, b, &seg, b"payload").unwrap().to_vec();
        let mut ihl = 20;
        if !c.v6 && c.options {
            // Four NOP options: the TCP header moves 4 bytes.
            f.splice(34..34, [1u8; 4]);
            f[14] = 0x46;
            let total = u16::from_be_bytes([f[16], f[17]]) + 4;
            f[16..18].copy_from_slice(&total.to_be_bytes());
            ihl = 24;
        }
        if !c.v6 {
            f[20..22].copy_from_slice(&c.fragment.to_be_bytes());
        }
        let needed = if c.v6 { 14 + 40 + 14 } else { 14 + ihl + 14 };
        let whole = match c.cut {
            Some(n) if n % f.len() < f.len() => {
                let n = n % f.len();
                f.truncate(n);
                n >= needed
            }
            _ => true,
        };
        (f, whole && (c.v6 || c.fragment & 0x3fff == 0))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// What the assembled filter passes is what libpcap's compiled expression passes (on a
        /// whole unfragmented TCP header; else what the user's filter passes).
        #[test]
        fn the_assembled_filter_passes_what_the_expression_passes(
            flows in proptest::collection::vec((proptest::bool::ANY, 0u8..9, 0u8..9), 0..6),
            cases in proptest::collection::vec(
                (proptest::bool::ANY, 0u8..9, 0u8..9, 0u8..0x40, proptest::bool::ANY,
                 proptest::sample::select(vec![0u16, 0x4000, 0x2000, 0x0010]),
                 proptest::option::weighted(0.2, 0usize..200)),
                1..40),
            user in proptest::sample::select(vec![DEFAULT_FILTER, "", "tcp port 1001 or udp"]),
        ) {
            let flows: Vec<_> = flows.into_iter().map(|(v6, a, b)| (endpoint(v6, a), endpoint(v6, b))).collect();
            let prog = shunt_program(user, &flows);
            let (reference, alone) = (compiled(&expression(user, &flows)), compiled(user));
            for (v6, a, b, flags, options, fragment, cut) in cases {
                let c = Case { v6, a, b, flags, options, fragment, cut };
                let (f, whole) = frame(&c);
                let want = if whole { reference.filter(&f) } else { alone.filter(&f) };
                proptest::prop_assert_eq!(bpf::run(&prog, &f) != 0, want, "{:?} {:?}", c, flows);
            }
        }
    }

    #[test]
    fn a_full_list_fits_the_kernels_limit_and_the_kernel_takes_it() {
        let v4 = (0..64u16)
            .map(|i| (addr(&format!("10.1.{}.{}:{}", i / 200, i % 200, 1000 + i)), addr("198.18.0.1:443")));
        let v6 =
            (0..64u16).map(|i| (addr(&format!("[2001:db8::{i:x}]:{}", 2000 + i)), addr("[2001:db8::1]:22")));
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for flows in
            [v4.clone().collect::<Vec<_>>(), v6.clone().collect(), v4.take(32).chain(v6.take(32)).collect()]
        {
            let prog = shunt_program(DEFAULT_FILTER, &flows);
            assert!(prog.len() <= bpf::MAX_INSNS, "{} instructions", prog.len());
            // Any socket takes a filter, and the kernel checks it first (jumps in the program,
            // scratch memory written before it is read, a return at every end).
            attach(&sock, &prog).unwrap_or_else(|e| panic!("{} flows: {e}", flows.len()));
        }
        // The kernel does refuse a program that is not sound: the check above can fail.
        let mut bad = shunt_program(DEFAULT_FILTER, &[(addr("10.0.0.1:1"), addr("10.0.0.2:2"))]);
        bad.last_mut().unwrap().code = bpf::JMP | bpf::JA;
        assert!(attach(&sock, &bad).is_err());
        // Past the limit: an error, not a program the kernel would refuse.
        let many: Vec<_> = (0..200u16)
            .map(|i| (addr(&format!("[2001:db8::{i:x}]:{}", 2000 + i)), addr("[2001:db8::1]:22")))
            .collect();
        assert!(program(&[], &many).unwrap_err().to_string().contains("more than"));
    }

    #[test]
    fn flows_are_shunted_up_to_the_bound_and_let_go_at_their_end_or_their_time() {
        let mut c = Counters::default();
        let flow = |key: u16| Flow { key, a: addr(&format!("10.0.0.2:{key}")), b: addr("198.18.0.1:873") };
        let mut shunt = Shunt::new(2);
        let t0 = Instant::now();
        shunt.update([flow(1000), flow(1001), flow(1002)], [], t0, &mut c);
        assert_eq!((c.flows_shunted, c.shunt_full), (2, 1));
        assert!(shunt.due(t0));
        assert_eq!(shunt.flows(), vec![(flow(1000).a, flow(1000).b), (flow(1001).a, flow(1001).b)]);
        assert!(shunt.applied(Ok(()), t0, &mut c).is_none());
        assert!(!shunt.due(t0));
        // A flow found again while it is shunted is not counted twice.
        shunt.update([flow(1000)], [], t0, &mut c);
        assert_eq!((c.flows_shunted, shunt.flows().len()), (2, 2));
        assert!(!shunt.due(t0));
        // Its end takes a flow out at once, however soon after the last rebuild; the end of a flow
        // that is not shunted changes nothing.
        shunt.update([], [1002], t0, &mut c);
        assert!(!shunt.pending());
        shunt.update([], [1000], t0, &mut c);
        assert!(shunt.due(t0), "a flow's end must reach the kernel at once");
        assert_eq!(shunt.flows(), vec![(flow(1001).a, flow(1001).b)]);
        shunt.applied(Ok(()), t0, &mut c);
        // Found and ended before the next update (one busy pass read both): not left shunted
        // after its end, where a new connection on its ports would lose its data.
        shunt.update([flow(1005)], [1005], t0, &mut c);
        assert_eq!(shunt.flows(), vec![(flow(1001).a, flow(1001).b)]);
        shunt.applied(Ok(()), t0, &mut c);
        // The other one goes when its time is up.
        shunt.update([], [], t0 + SHUNT_TTL, &mut c);
        assert!(shunt.flows().is_empty());
        assert!(shunt.pending());
        // A failed rebuild turns shunting off for good: news is no longer taken.
        assert!(shunt.applied(Err(ShuntError::Unsupported), t0 + SHUNT_TTL + MIN_GAP, &mut c).is_some());
        assert!(!shunt.is_on() && c.shunt_failed == 1);
        shunt.update([flow(1003)], [], t0 + SHUNT_TTL + MIN_GAP, &mut c);
        assert!(shunt.flows().is_empty() && c.flows_shunted == 3);
    }
}
