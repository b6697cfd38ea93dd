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
//! The filter is rebuilt as text and compiled by libpcap for the capture's own link type, then
//! attached with `SO_ATTACH_FILTER` directly: libpcap's own `pcap_setfilter` first attaches a
//! filter that drops everything while it empties the socket's queue, and what arrives in that
//! window is lost without a count. The kernel swaps one filter for the next atomically.
//!
//! What it costs: the frames of a shunted flow are neither read nor counted by the kernel as
//! received (the `stats` record's `flows_shunted` says how many flows were shunted); every other
//! frame runs through a few more BPF instructions in the kernel (about four per shunted flow).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::flow::{Elephant, FlowKey, FlowTable};
use crate::stats::Counters;

/// Frames a bypassed flow shows before it is shunted: one frame in this many of an elephant is
/// still read, at most.
pub const ELEPHANT_FRAMES: u32 = 1024;
/// How long a flow stays shunted before it is read again.
pub const SHUNT_TTL: Duration = Duration::from_secs(30);
/// Least time between two rebuilds that only add flows (one that takes a flow out is not
/// held back).
const MIN_GAP: Duration = Duration::from_millis(250);

struct Entry {
    flow: Elephant,
    until: Instant,
}

/// One live worker's shunted flows.
pub struct Shunt {
    max: usize,
    entries: Vec<Entry>,
    /// The list differs from the one in the kernel.
    changed: bool,
    /// A flow left the list: the kernel must be told at once.
    urgent: bool,
    next: Option<Instant>,
    /// Shunting stopped (a filter could not be built or attached), or was never on.
    off: bool,
    found: Vec<Elephant>,
    ended: Vec<FlowKey>,
}

impl Shunt {
    /// At most `max` flows at once; 0 turns shunting off.
    pub fn new(max: usize) -> Shunt {
        Shunt {
            max,
            entries: Vec::new(),
            changed: false,
            urgent: false,
            next: None,
            off: max == 0,
            found: Vec::new(),
            ended: Vec::new(),
        }
    }

    pub fn is_on(&self) -> bool {
        !self.off
    }

    /// Whether a rebuild is waiting for its time.
    pub fn pending(&self) -> bool {
        !self.off && self.changed
    }

    /// Takes the table's news (elephants found and ended) and lets go of entries past their time.
    pub fn update(&mut self, table: &mut FlowTable, now: Instant, c: &mut Counters) {
        if self.off {
            return;
        }
        table.take_elephants(&mut self.found, &mut self.ended);
        for key in self.ended.drain(..) {
            if let Some(i) = self.entries.iter().position(|e| e.flow.key == key) {
                self.entries.swap_remove(i);
                self.changed = true;
                self.urgent = true;
            }
        }
        let before = self.entries.len();
        self.entries.retain(|e| e.until > now);
        self.changed |= self.entries.len() != before;
        for e in self.found.drain(..) {
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
    pub fn applied(&mut self, result: Result<(), String>, now: Instant, c: &mut Counters) -> Option<String> {
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

/// The capture filter: the user's, and not the data packets of `flows` either way. SYN, FIN and
/// RST always pass. IPv6 flows are matched only when TCP follows the fixed header directly.
pub fn expression(user: &str, flows: &[(SocketAddr, SocketAddr)]) -> String {
    let dir = |fam: &str, a: &SocketAddr, b: &SocketAddr| {
        format!(
            "({fam} src host {} and {fam} dst host {} and tcp src port {} and tcp dst port {})",
            a.ip(),
            b.ip(),
            a.port(),
            b.port()
        )
    };
    let list = |v6: bool| {
        let fam = if v6 { "ip6" } else { "ip" };
        flows
            .iter()
            .filter(|(a, b)| a.is_ipv6() == v6 && b.is_ipv6() == v6)
            .flat_map(|(a, b)| [dir(fam, a, b), dir(fam, b, a)])
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let mut parts = Vec::new();
    let v4 = list(false);
    if !v4.is_empty() {
        parts.push(format!("(ip and tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) == 0 and ({v4}))"));
    }
    let v6 = list(true);
    if !v6.is_empty() {
        // 40: the fixed header; 13: the TCP flags byte.
        parts.push(format!("(ip6 and ip6[6] == 6 and ip6[53] & 7 == 0 and ({v6}))"));
    }
    let shunt = parts.join(" or ");
    match (user.trim().is_empty(), shunt.is_empty()) {
        (_, true) => user.to_string(),
        (true, false) => format!("not ({shunt})"),
        (false, false) => format!("({user}) and not ({shunt})"),
    }
}

/// A compiled program's instructions in the kernel's form. The pcap crate shows an instruction
/// only as text (`code jt jf k`, the fields of `struct bpf_insn`), so they are read back from it.
pub fn instructions(p: &pcap::BpfProgram) -> Result<Vec<libc::sock_filter>, String> {
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
            insn(&text).ok_or_else(|| format!("BPF instruction {text:?}"))
        })
        .collect()
}

/// Replaces the socket filter of `cap` by `prog`, atomically.
#[cfg(target_os = "linux")]
pub fn attach(cap: &pcap::Capture<pcap::Active>, prog: &[libc::sock_filter]) -> Result<(), String> {
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

    let len = u16::try_from(prog.len()).map_err(|_| format!("filter of {} instructions", prog.len()))?;
    // The kernel copies the program during the call; `prog` outlives it.
    let fprog = libc::sock_fprog { len, filter: prog.as_ptr().cast_mut() };
    setsockopt(cap, AttachFilter, &fprog).map_err(|e| format!("attaching the capture filter: {e}"))
}

#[cfg(not(target_os = "linux"))]
pub fn attach(_: &pcap::Capture<pcap::Active>, _: &[libc::sock_filter]) -> Result<(), String> {
    Err("shunting is Linux only".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::DEFAULT_FILTER;
    use crate::synth::frame::{Framer, Link, TcpFlags, TcpSeg};

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn program(expr: &str) -> pcap::BpfProgram {
        let dead = pcap::Capture::dead(pcap::Linktype::ETHERNET).unwrap();
        dead.compile(expr, true).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    fn seg(flags: TcpFlags) -> TcpSeg {
        TcpSeg { seq: 1, ack: 1, flags, window: 512, mss_option: None }
    }

    /// Whether `prog` passes a TCP frame from `a` to `b` with `flags`.
    fn passes(prog: &pcap::BpfProgram, a: &str, b: &str, flags: TcpFlags) -> bool {
        let mut f = Framer::new(Link::Ethernet);
        prog.filter(f.tcp(addr(a), addr(b), &seg(flags), b"data").unwrap())
    }

    const DATA: TcpFlags = TcpFlags::ACK.union(TcpFlags::PSH);

    #[test]
    fn the_filter_drops_only_data_of_shunted_flows_either_way() {
        let flows = [
            (addr("10.1.1.1:40000"), addr("198.18.0.1:873")),
            (addr("[2001:db8::1]:50000"), addr("[2001:db8::2]:22")),
        ];
        let prog = program(&expression(DEFAULT_FILTER, &flows));
        for (a, b) in [("10.1.1.1:40000", "198.18.0.1:873"), ("[2001:db8::1]:50000", "[2001:db8::2]:22")] {
            assert!(!passes(&prog, a, b, DATA), "{a} -> {b}");
            assert!(!passes(&prog, b, a, TcpFlags::ACK), "{b} -> {a}");
            for f in [TcpFlags::SYN, TcpFlags::FIN.union(TcpFlags::ACK), TcpFlags::RST] {
                assert!(passes(&prog, a, b, f), "{a} -> {b} {f:?}: a flow's ends must pass");
            }
        }
        // Another port, another address, the ports crossed: not this flow.
        assert!(passes(&prog, "10.1.1.1:40001", "198.18.0.1:873", DATA));
        assert!(passes(&prog, "10.1.1.2:40000", "198.18.0.1:873", DATA));
        assert!(passes(&prog, "10.1.1.1:873", "198.18.0.1:40000", DATA));
        assert!(passes(&prog, "[2001:db8::1]:50000", "[2001:db8::3]:22", DATA));
        // The user's filter still rules: DNS answers pass, other UDP does not.
        let mut f = Framer::new(Link::Ethernet);
        assert!(prog.filter(f.udp(addr("10.0.0.53:53"), addr("10.1.1.1:5000"), b"x").unwrap()));
        assert!(!prog.filter(f.udp(addr("10.0.0.9:123"), addr("10.1.1.1:123"), b"x").unwrap()));
    }

    #[test]
    fn no_flows_leave_the_users_filter_as_it_is_and_no_filter_is_a_negation() {
        assert_eq!(expression("tcp port 3333", &[]), "tcp port 3333");
        let flows = [(addr("10.1.1.1:1"), addr("10.2.2.2:2"))];
        let prog = program(&expression("", &flows));
        assert!(!passes(&prog, "10.1.1.1:1", "10.2.2.2:2", DATA));
        assert!(passes(&prog, "10.1.1.1:1", "10.2.2.2:3", DATA));
    }

    #[test]
    fn a_full_list_compiles_within_the_kernels_limit_and_reads_back_whole() {
        let flows: Vec<_> = (0..64u16)
            .map(|i| (addr(&format!("10.1.{}.{}:{}", i / 200, i % 200, 1000 + i)), addr("198.18.0.1:443")))
            .chain(
                (0..64u16)
                    .map(|i| (addr(&format!("[2001:db8::{i:x}]:{}", 2000 + i)), addr("[2001:db8::1]:22"))),
            )
            .collect();
        let prog = program(&expression(DEFAULT_FILTER, &flows));
        let insns = instructions(&prog).unwrap();
        assert_eq!(insns.len(), prog.get_instructions().len());
        // BPF_MAXINSNS.
        assert!(insns.len() <= 4096, "{} instructions", insns.len());
        // The last instruction of a libpcap program is a return (class 6).
        assert_eq!(insns.last().map(|i| i.code & 7), Some(6));
    }

    #[test]
    fn flows_are_shunted_up_to_the_bound_and_let_go_at_their_end_or_their_time() {
        use crate::config::HomeNet;
        use crate::decode::{Packet, TcpInfo, Transport};
        use crate::flow::FlowLimits;
        use crate::time::Ts;
        let limits = FlowLimits { elephant_frames: 10, ..FlowLimits::default() };
        let mut table = FlowTable::new(limits, HomeNet::default());
        let mut c = Counters::default();
        let send = |t: &mut FlowTable, port: u16, from_pool: bool, info: TcpInfo, payload: &[u8]| {
            let (cl, pool) = (addr(&format!("10.0.0.2:{port}")), addr("198.18.0.1:873"));
            let (s, d) = if from_pool { (pool, cl) } else { (cl, pool) };
            let pkt = Packet {
                src: s.ip(),
                dst: d.ip(),
                src_port: s.port(),
                dst_port: d.port(),
                transport: Transport::Tcp(info),
                payload,
            };
            t.tcp(&pkt, &info, Ts(0), &mut |_| {});
        };
        let data = TcpInfo { seq: 1, ack: 1, syn: false, ack_flag: true, fin: false, rst: false };
        for port in [1000, 1001, 1002] {
            let syn = TcpInfo { seq: 0, syn: true, ack_flag: false, ..data };
            send(&mut table, port, false, syn, b"");
            send(&mut table, port, false, data, b"SSH-2.0-x\r\n");
            for _ in 0..10 {
                send(&mut table, port, true, data, &[0; 100]);
            }
        }
        let mut shunt = Shunt::new(2);
        let t0 = Instant::now();
        shunt.update(&mut table, t0, &mut c);
        assert_eq!((c.flows_shunted, c.shunt_full), (2, 1));
        assert!(shunt.due(t0));
        assert_eq!(shunt.flows().len(), 2);
        assert_eq!(shunt.applied(Ok(()), t0, &mut c), None);
        assert!(!shunt.due(t0));
        // Its end (an RST) takes a flow out at once, however soon after the last rebuild.
        let port = shunt.flows()[0].0.port();
        send(&mut table, port, true, TcpInfo { rst: true, ..data }, b"");
        shunt.update(&mut table, t0, &mut c);
        assert!(shunt.due(t0), "a flow's end must reach the kernel at once");
        assert!(shunt.flows().iter().all(|(a, _)| a.port() != port));
        shunt.applied(Ok(()), t0, &mut c);
        // The other one goes when its time is up.
        shunt.update(&mut table, t0 + SHUNT_TTL, &mut c);
        assert!(shunt.flows().is_empty());
        assert!(shunt.pending());
        // A failed rebuild turns shunting off for good.
        assert!(shunt.applied(Err("no".into()), t0 + SHUNT_TTL + MIN_GAP, &mut c).is_some());
        assert!(!shunt.is_on() && c.shunt_failed == 1);
    }
}
