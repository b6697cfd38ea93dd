//! The table on its own, with a toy application that names no protocol: what it is handed
//! (in-order chunks, starts, gaps), bypass on request, the end of a flow, the memory estimate.

use super::*;
use crate::decode::Transport;

/// Records what the table hands it; bypasses at the byte `b'!'`; "recognises" a session at the
/// byte `b'*'`, reported at its end.
#[derive(Debug, Default)]
struct Toy {
    got: Vec<(Side, Vec<u8>)>,
    starts: Vec<(Side, bool)>,
    gaps: usize,
    session: bool,
}

/// What the toy applications of a table share: nothing.
struct NoShared;

impl Application for Toy {
    type Shared = NoShared;
    type Event = (EndReason, Vec<(Side, Vec<u8>)>, usize, Vec<(Side, bool)>);
    type Wait = ();

    fn new(_: &FlowLimits, _: &NoShared) -> Toy {
        Toy::default()
    }
    fn start(&mut self, side: Side, from_start: bool, _: &FlowLimits) {
        self.starts.push((side, from_start));
    }
    fn reads(&self) -> bool {
        true
    }
    fn idle(&mut self, _: &Ctx<'_, NoShared>, _: &mut Counters) -> bool {
        false
    }
    fn chunk(
        &mut self,
        side: Side,
        chunk: Chunk<'_>,
        _: bool,
        _: &Ctx<'_, NoShared>,
        _: &mut Counters,
    ) -> bool {
        match chunk {
            Chunk::Data(d) => {
                self.session |= d.contains(&b'*');
                self.got.push((side, d.to_vec()));
                d.contains(&b'!')
            }
            Chunk::Gap { .. } => {
                self.gaps += 1;
                false
            }
        }
    }
    fn settle(&mut self, bypass: bool, _: &Ctx<'_, NoShared>, _: &mut Counters) -> bool {
        bypass
    }
    fn progress(&mut self, _: &Ctx<'_, NoShared>, _: &mut Counters, _: &mut dyn FnMut(Self::Event)) {}
    fn finish(
        &mut self,
        reason: EndReason,
        _: &Ctx<'_, NoShared>,
        _: &mut Counters,
        emit: &mut dyn FnMut(Self::Event),
    ) {
        if self.session {
            emit((reason, std::mem::take(&mut self.got), self.gaps, std::mem::take(&mut self.starts)));
        }
    }
    fn is_session(&self) -> bool {
        self.session
    }
    fn allocated(&self) -> usize {
        self.got.iter().map(|(_, d)| d.len()).sum()
    }
    fn waiting(&self) -> Option<Ts> {
        None
    }
    fn recheck(
        &mut self,
        _: Ts,
        _: &Ctx<'_, NoShared>,
        _: &mut Counters,
        _: &mut dyn FnMut(Self::Event),
    ) -> Recheck {
        Recheck::Resolved
    }
    fn still_waiting(&self, _: &Ctx<'_, NoShared>) -> Option<()> {
        None
    }
    fn wait_over(_: &(), _: Ts, _: &Ctx<'_, NoShared>) -> bool {
        true
    }
    fn end_wait(
        _: (),
        _: EndReason,
        _: &Ctx<'_, NoShared>,
        _: &mut Counters,
        _: &mut dyn FnMut(Self::Event),
    ) {
    }
    fn news(_: &NoShared) -> u64 {
        0
    }
}

type Events = Vec<<Toy as Application>::Event>;

fn send(t: &mut FlowTable<Toy>, from_client: bool, info: TcpInfo, payload: &[u8], ts: i64, ev: &mut Events) {
    let (c, s) = (("10.0.0.2".parse().unwrap(), 40000), ("192.0.2.1".parse().unwrap(), 7000));
    let ((src, sp), (dst, dp)) = if from_client { (c, s) } else { (s, c) };
    let pkt = Packet { src, dst, src_port: sp, dst_port: dp, transport: Transport::Tcp(info), payload };
    t.tcp(&pkt, &info, Ts(ts), &mut |e| ev.push(e));
}

fn tcp(seq: u32, syn: bool, fin: bool) -> TcpInfo {
    TcpInfo { seq, ack: 0, syn, ack_flag: false, fin, rst: false }
}

/// The general form of a key, by 128-bit addresses, that the IPv4 fast path must agree with.
fn key_by_bits(src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> (FlowKey, bool) {
    let ((s, v6), (d, _)) = (addr_bits(src), addr_bits(dst));
    let src_lo = (s, sport) <= (d, dport);
    let ((lo, lp), (hi, hp)) = if src_lo { ((s, sport), (d, dport)) } else { ((d, dport), (s, sport)) };
    (FlowKey { lo, hi, ports: (u64::from(v6) << 32) | (u64::from(lp) << 16) | u64::from(hp) }, src_lo)
}

#[test]
fn ipv4_keys_and_sides_match_the_general_form() {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..20_000 {
        let r = next();
        // Small ranges too, so that equal addresses and equal ports come up.
        let (a, b) =
            if i % 2 == 0 { (r as u32, (r >> 32) as u32) } else { ((r % 3) as u32, (r >> 8) as u32 % 3) };
        let (pa, pb) = if i % 3 == 0 {
            ((r >> 16) as u16, (r >> 40) as u16)
        } else {
            ((r % 2) as u16, (r >> 5) as u16 % 2)
        };
        let (src, dst) =
            (IpAddr::from(std::net::Ipv4Addr::from(a)), IpAddr::from(std::net::Ipv4Addr::from(b)));
        assert_eq!(
            FlowKey::oriented(src, pa, dst, pb),
            key_by_bits(src, pa, dst, pb),
            "{src}:{pa} {dst}:{pb}"
        );
        assert_eq!(FlowKey::new(src, pa, dst, pb), FlowKey::new(dst, pb, src, pa));
    }
    // A v4 flow and a v6 flow to the v4-mapped addresses never share a key.
    let (v4a, v4b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
    let (v6a, v6b): (IpAddr, IpAddr) =
        ("::ffff:10.0.0.1".parse().unwrap(), "::ffff:10.0.0.2".parse().unwrap());
    assert_ne!(FlowKey::new(v4a, 1, v4b, 2), FlowKey::new(v6a, 1, v6b, 2));
}

#[test]
fn hands_the_application_each_side_in_order_and_ends_it() {
    let mut t = FlowTable::<Toy>::with_shared(FlowLimits::default(), NoShared);
    let mut ev = Events::new();
    send(&mut t, true, tcp(100, true, false), b"", 1, &mut ev);
    // Out of order: the second segment first; the application sees them in order.
    send(&mut t, true, tcp(104, false, false), b"def*", 2, &mut ev);
    assert!(t.counters.flows == 1 && t.len() == 1);
    send(&mut t, true, tcp(101, false, false), b"abc", 3, &mut ev);
    // The server's side is picked up midstream.
    send(&mut t, false, tcp(9000, false, false), b"xyz", 4, &mut ev);
    assert!(t.memory() > FlowTable::<Toy>::FLOW_COST + FlowTable::<Toy>::INSPECT_COST);
    send(&mut t, true, tcp(108, false, true), b"", 5, &mut ev);
    send(&mut t, false, tcp(9003, false, true), b"", 6, &mut ev);
    assert!(t.is_empty() && t.memory() == 0);
    let [(reason, got, gaps, starts)] = ev.as_slice() else { panic!("{ev:?}") };
    assert_eq!(*reason, EndReason::Fin);
    assert_eq!(*gaps, 0);
    // A's stream from its SYN, B's midstream.
    assert_eq!(*starts, vec![(Side::A, true), (Side::B, false)]);
    let want = vec![(Side::A, b"abc".to_vec()), (Side::A, b"def*".to_vec()), (Side::B, b"xyz".to_vec())];
    assert_eq!(*got, want);
}

#[test]
fn a_flow_the_application_gives_up_is_bypassed_and_never_read_again() {
    let mut t = FlowTable::<Toy>::with_shared(FlowLimits::default(), NoShared);
    let mut ev = Events::new();
    send(&mut t, true, tcp(100, true, false), b"", 1, &mut ev);
    send(&mut t, true, tcp(101, false, false), b"hi!", 2, &mut ev);
    assert_eq!(t.counters.flows_bypassed, 1);
    assert_eq!(t.memory(), FlowTable::<Toy>::FLOW_COST, "a bypassed flow holds nothing");
    // Even a byte that would make it a session is not read.
    send(&mut t, true, tcp(104, false, false), b"*", 3, &mut ev);
    t.flush_all(&mut |e| ev.push(e));
    assert!(ev.is_empty(), "{ev:?}");
}

#[test]
fn starts_and_gaps_reach_the_application() {
    let limits = FlowLimits { hole_timeout_us: 10, ..FlowLimits::default() };
    let mut t = FlowTable::<Toy>::with_shared(limits, NoShared);
    let mut ev = Events::new();
    send(&mut t, true, tcp(100, true, false), b"", 1, &mut ev);
    send(&mut t, true, tcp(101, false, false), b"*", 2, &mut ev);
    // A hole of 3 bytes that never fills: given up after the hole timeout.
    send(&mut t, true, tcp(105, false, false), b"late", 3, &mut ev);
    send(&mut t, true, tcp(109, false, false), b"", 100, &mut ev);
    t.flush_all(&mut |e| ev.push(e));
    let [(reason, got, gaps, _)] = ev.as_slice() else { panic!("{ev:?}") };
    assert_eq!((*reason, *gaps), (EndReason::EndOfInput, 1));
    assert_eq!(*got, vec![(Side::A, b"*".to_vec()), (Side::A, b"late".to_vec())]);
    assert_eq!(t.counters.reasm_gaps, 1);
}

#[test]
fn the_table_says_where_a_flow_is_after_each_packet() {
    let mut t = FlowTable::<Toy>::with_shared(FlowLimits::default(), NoShared);
    let mut ev = Events::new();
    let key = FlowKey::new("10.0.0.2".parse().unwrap(), 40000, "192.0.2.1".parse().unwrap(), 7000);
    // A bare ACK of an unknown flow creates none.
    send(&mut t, true, TcpInfo { ack_flag: true, ..tcp(100, false, false) }, b"", 1, &mut ev);
    assert_eq!((t.last_stage(), t.stage(&key)), (None, None));
    send(&mut t, true, tcp(100, true, false), b"", 2, &mut ev);
    assert_eq!((t.last_stage(), t.stage(&key)), (Some(Stage::New), Some(Stage::New)));
    send(&mut t, true, tcp(101, false, false), b"ab", 3, &mut ev);
    assert_eq!((t.last_stage(), t.stage(&key)), (Some(Stage::Inspecting), Some(Stage::Inspecting)));
    send(&mut t, true, tcp(103, false, false), b"!", 4, &mut ev);
    assert_eq!((t.last_stage(), t.stage(&key)), (Some(Stage::Bypassed), Some(Stage::Bypassed)));
    // The packet that ends it: gone.
    send(&mut t, true, TcpInfo { rst: true, ..tcp(104, false, false) }, b"", 5, &mut ev);
    assert_eq!((t.last_stage(), t.stage(&key)), (None, None));
}
