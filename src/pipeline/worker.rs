//! A worker: one flow table and its defragmenter, owned by one thread, fed by a replay's walk
//! or a live capture. It counts what it does, ends idle flows on its ticks, and sends alerts and
//! now and then its counters to the collector.

use std::net::IpAddr;
use std::sync::Arc;

use crossbeam_channel::Sender;

use super::evidence::{Current, Evidence, EvidenceDir};
use super::front::{front, Route};
use super::Record;
use crate::capture::Frame;
use crate::config::Detection;
use crate::decode::{self, Fragment, LinkType, Packet, TcpInfo, Transport};
use crate::flow::defrag::{Datagram, DefragLimits, Defragmenter};
use crate::flow::{FlowKey, Stage};
use crate::hosts::HostTable;
use crate::inspect::FlowTable;
use crate::intel::clock::{FileOrder, Place};
use crate::intel::Intel;
use crate::stats::{Counters, KernelStats, Load};
use crate::time::{now, Ts};
use crate::verdict::Event;

/// One worker's state: its flow table, and where its records go.
pub(super) struct Worker {
    pub(super) id: usize,
    pub(super) table: FlowTable,
    defrag: Defragmenter,
    /// Where DNS answers go (the worker reads its own frames: the only replay worker, a live
    /// worker on the kernel's share).
    intel: Arc<Intel>,
    hosts: Arc<HostTable>,
    records: Sender<Record>,
    pub(super) own: Counters,
    /// Replay: the capture file being read, named on every record that leaves this worker.
    pub(super) file: Option<Arc<str>>,
    /// `--pcap-dir`: the first packets of the flows inspected, and the alerted sessions' files.
    evidence: Option<Evidence>,
    /// A replay of several workers: this worker's place in the file, for the push clock (see
    /// [`crate::intel::clock`]; its table's too), and the blocks it has processed, over every
    /// file.
    place: Place,
    blocks: u64,
}

impl Worker {
    pub(super) fn new(
        id: usize,
        cfg: &Detection,
        intel: &Arc<Intel>,
        hosts: Arc<HostTable>,
        records: Sender<Record>,
        evidence: Option<&Arc<EvidenceDir>>,
    ) -> Worker {
        Worker {
            id,
            table: FlowTable::new(cfg.flow, cfg.home_net.clone())
                .with_intel(intel.clone())
                .with_parser_limits(cfg.parsers)
                .with_behaviour_limits(cfg.behaviour),
            defrag: Defragmenter::new(cfg.defrag),
            intel: intel.clone(),
            hosts,
            records,
            own: Counters::default(),
            file: None,
            evidence: evidence.cloned().map(|d| Evidence::new(d, cfg.defrag.timeout_us)),
            place: Place::default(),
            blocks: 0,
        }
    }

    /// Worker `self.id` of a replay of several workers whose places in the file are `order`.
    pub(super) fn in_file_order(mut self, order: &Arc<FileOrder>) -> Worker {
        self.place = Place::replay(order.clone(), self.id);
        self.table = self.table.with_place(self.place.clone());
        self
    }

    /// A replay with several workers: this worker is at the frame `within` its next block
    /// (every frame of its own before it done).
    #[inline]
    pub(super) fn at(&self, within: u32) {
        self.place.set(FileOrder::place(self.blocks, within));
    }

    /// A replay with several workers: this worker is done with its block.
    pub(super) fn block_done(&mut self) {
        self.blocks += 1;
        self.at_block_start();
    }

    /// A replay with several workers: this worker is at the start of its next block (nothing
    /// of it done), as at the start of a file.
    pub(super) fn at_block_start(&self) {
        self.place.set(FileOrder::place(self.blocks, 0));
    }

    /// What sets this worker's place past every other if it panics (see
    /// [`Place::leave_on_panic`]).
    pub(super) fn leave_on_panic(&self) -> Option<impl Drop> {
        self.place.leave_on_panic()
    }

    /// A frame read in order by the worker that owns it: the only replay worker, or a live
    /// worker reading its own captures.
    pub(super) fn frame(&mut self, link: LinkType, frame: &Frame<'_>) {
        front(link, frame, self);
    }

    /// A TCP packet, decoded, to the flow table; with its frames as captured, of link type
    /// `link`, for the evidence: one, or the fragments of a datagram put back together (none:
    /// they were not handed over or not kept).
    fn tcp_packet(&mut self, pkt: &Packet<'_>, tcp: &TcpInfo, ts: Ts, link: LinkType, frames: &[Frame<'_>]) {
        if self.evidence.is_some() {
            return self.tcp_packet_kept(pkt, tcp, ts, link, frames);
        }
        let Worker { table, hosts, records, own, file, .. } = self;
        own.tcp_packets += 1;
        table.tcp(pkt, tcp, ts, &mut |ev| deliver(hosts, records, own, file, None, ev));
    }

    /// [`Worker::tcp_packet`] with the evidence on (apart, so that the path without it stays as
    /// small as it was).
    #[inline(never)]
    fn tcp_packet_kept(
        &mut self,
        pkt: &Packet<'_>,
        tcp: &TcpInfo,
        ts: Ts,
        link: LinkType,
        frames: &[Frame<'_>],
    ) {
        let Worker { table, hosts, records, own, file, evidence, .. } = self;
        own.tcp_packets += 1;
        let Some(e) = evidence else { return };
        // The packet's frames go where the table's answer says, with no lookup of the flow
        // before: to the file of a session that alerts or ends with this packet (after the
        // packets before it), to the file of an open session, or among the first packets of a
        // flow still new or inspected.
        let key = FlowKey::new(pkt.src, pkt.src_port, pkt.dst, pkt.dst_port);
        let mut cur = Current { key, link, frames, done: false };
        table.tcp(pkt, tcp, ts, &mut |ev| {
            deliver(hosts, records, own, file, Some((&mut *e, Some(&mut cur))), ev)
        });
        e.after(&cur, table.last_stage(), own);
    }

    /// One item handed over, with its payload and, if it was handed over, its frame.
    pub(super) fn item(&mut self, item: &Item, bytes: &[u8], frame: Option<&[u8]>) {
        match *item {
            Item::Tcp { ts, src, dst, src_port, dst_port, tcp, link, wire_len, .. } => {
                let transport = Transport::Tcp(tcp);
                let pkt = Packet { src, dst, src_port, dst_port, transport, payload: bytes };
                let frame = frame.map(|data| Frame { ts, data, wire_len });
                self.tcp_packet(&pkt, &tcp, ts, link, frame.as_slice());
            }
            Item::Fragment { ts, link, .. } => self.fragment(link, bytes, ts),
        }
    }

    /// An IP fragment: held until its datagram is whole, which then goes on as a packet. A UDP
    /// datagram put back together is counted, and read if it is a DNS answer: answers larger
    /// than the path's MTU (DNSSEC, long CNAME chains, EDNS0 buffers of 4 KiB) come in fragments,
    /// and the front only reads whole frames. Such an answer takes effect when its datagram is
    /// whole on this worker; a TLS flow that it names and that another worker reads first waits
    /// for it (`AwaitName`), which covers live capture shared by the kernel. A replay with
    /// several workers puts UDP fragments together in its in-order walk instead
    /// ([`Worker::walked_fragment`]), and the live reader of `--no-fanout` as it reads them, so
    /// that such an answer takes effect in capture order as a whole one does.
    fn fragment(&mut self, link: LinkType, frame: &[u8], ts: Ts) {
        let Some(f) = decode::fragment(link, frame) else { return };
        // The evidence keeps the fragments as captured until the datagram is whole.
        let id = (f.src, f.dst, f.id, f.proto);
        if let Some(e) = &mut self.evidence {
            let captured = Frame { ts, data: frame, wire_len: frame.len() as u32 };
            e.fragment(id, link, &captured, &mut self.own);
        }
        let Some(dg) = self.defrag.add(&f, ts, &mut self.own) else { return };
        let kept = self.evidence.as_mut().and_then(|e| e.whole(&id));
        let (link, kept) = kept.unwrap_or((link, Vec::new()));
        let frames: Vec<Frame<'_>> = kept.iter().map(|k| k.frame()).collect();
        self.datagram(&dg, ts, link, &frames);
    }

    /// A UDP fragment met by a replay's walk of several workers, put together by `defrag`, the
    /// walk's own, in file order (the walk is confirmed one block at a time, and this worker
    /// confirms this block): its datagram, once whole, is counted and read here, before any
    /// worker processes the block (see [`Worker::fragment`]).
    pub(super) fn walked_fragment(
        &mut self,
        defrag: &mut Defragmenter,
        link: LinkType,
        frame: &[u8],
        ts: Ts,
    ) {
        let Some(f) = decode::fragment(link, frame) else { return };
        if let Some(dg) = defrag.add(&f, ts, &mut self.own) {
            self.datagram(&dg, ts, link, &[]);
        }
    }

    /// The defragmenter's bounds, for a replay's walk to put UDP fragments together as this worker
    /// would.
    pub(super) fn defrag_limits(&self) -> DefragLimits {
        self.defrag.limits()
    }

    /// A datagram put back together, with its fragments as captured (for the evidence; none if
    /// not kept): a TCP packet goes on; a UDP datagram is counted, and read if a DNS answer.
    fn datagram(&mut self, dg: &Datagram, ts: Ts, link: LinkType, frames: &[Frame<'_>]) {
        if let Some((pkt, tcp)) = super::front::datagram(dg, ts, self) {
            self.tcp_packet(&pkt, &tcp, ts, link, frames);
        }
    }

    /// Idle flows (and fragments, and evidence) end at packet time `now` and the counters go to
    /// the collector: live every second, a replay at its ticks ([`super::ticks`]).
    pub(super) fn tick(&mut self, now: Ts) {
        self.defrag.expire(now, &mut self.own);
        let Worker { table, hosts, records, own, file, evidence, .. } = self;
        let mut e = evidence.as_mut();
        table.recheck_names(now, &mut |ev| {
            deliver(hosts, records, own, file, e.as_deref_mut().map(|e| (e, None)), ev)
        });
        table.expire(now, &mut |ev| {
            deliver(hosts, records, own, file, e.as_deref_mut().map(|e| (e, None)), ev)
        });
        if let Some(e) = e {
            // Flows that timed out or were evicted: their first packets go too.
            e.sweep(|k| matches!(table.stage(k), Some(Stage::New | Stage::Inspecting)));
            e.expire_fragments(now);
        }
        self.report();
    }

    /// TLS flows waiting for a name are looked up again when the DNS map has learnt something
    /// (live: another worker may read the answer after this one read the ClientHello).
    /// Not in replay, where the map is written in file order and a flow's own packets and the
    /// ticks of packet time look it up again, deterministically.
    pub(super) fn recheck_names(&mut self) {
        if self.table.names_news() {
            let Worker { table, hosts, records, own, file, evidence, .. } = self;
            let mut e = evidence.as_mut();
            table.recheck_names(now(), &mut |ev| {
                deliver(hosts, records, own, file, e.as_deref_mut().map(|e| (e, None)), ev)
            });
        }
    }

    pub(super) fn flush(&mut self) {
        let Worker { table, hosts, records, own, file, evidence, .. } = self;
        let mut e = evidence.as_mut();
        table
            .flush_all(&mut |ev| deliver(hosts, records, own, file, e.as_deref_mut().map(|e| (e, None)), ev));
        if let Some(e) = e {
            e.sweep(|_| false);
            e.expire_fragments(Ts(i64::MAX));
        }
    }

    fn counters(&self) -> Counters {
        let mut c = self.table.counters;
        c.add(&self.own);
        c
    }

    pub(super) fn report(&self) {
        self.report_with(Vec::new());
    }

    /// Sends the counters, and those of the worker's own captures (live, one per interface).
    pub(super) fn report_with(&self, kernel: Vec<(String, KernelStats)>) {
        let load = Load {
            flows: self.table.len() as u64,
            flow_memory: self.table.memory() as u64,
            flow_memcap: self.table.memcap() as u64,
            worker_queue: 0,
        };
        let _ = self.records.send(Record::Counters {
            reporter: self.id,
            counters: self.counters(),
            kernel,
            load,
        });
    }
}

/// A worker reading its own frames takes TCP and fragments itself, and reads DNS answers into
/// the shared map at once.
impl Route for Worker {
    fn counters(&mut self) -> &mut Counters {
        &mut self.own
    }

    fn tcp(&mut self, link: LinkType, frame: &Frame<'_>, pkt: &Packet<'_>, tcp: TcpInfo) {
        self.tcp_packet(pkt, &tcp, frame.ts, link, std::slice::from_ref(frame));
    }

    fn fragment(&mut self, link: LinkType, _: &Fragment<'_>, frame: &Frame<'_>) {
        Worker::fragment(self, link, frame.data, frame.ts);
    }

    fn dns_answer(&mut self, payload: &[u8], ts: Ts) {
        self.intel.dns_answer(payload, ts, &mut self.own);
    }
}

fn deliver(
    hosts: &HostTable,
    records: &Sender<Record>,
    own: &mut Counters,
    file: &Option<Arc<str>>,
    evidence: Option<(&mut Evidence, Option<&mut Current<'_, '_>>)>,
    mut ev: Event,
) {
    ev.pcap_filename.clone_from(file);
    if let Some((e, cur)) = evidence {
        e.on_record(&mut ev, own, cur);
    }
    if !hosts.record(&ev) {
        own.hosts_table_full += 1;
    }
    if records.send(Record::Event(ev)).is_err() {
        own.events_dropped += 1;
    }
}

/// What a worker is handed for one frame, by a live reader or by a replay's walk.
#[derive(Clone, Copy, Debug)]
pub(super) enum Item {
    /// A TCP packet already decoded: its fields, and its payload at `data[off + head..][..len]`.
    /// The worker does not decode it again (nor touch the frame's headers: on a bypassed flow it
    /// never touches the frame at all). The frame as captured is at `data[off..off +
    /// frame_len]` when it was handed over (`frame_len` 0: the payload alone was, `head` 0), for
    /// the evidence (`--pcap-dir`).
    Tcp {
        ts: Ts,
        src: IpAddr,
        dst: IpAddr,
        src_port: u16,
        dst_port: u16,
        tcp: TcpInfo,
        off: u32,
        len: u32,
        head: u32,
        frame_len: u32,
        wire_len: u32,
        link: LinkType,
    },
    /// An IP fragment, whole frame at `data[off..off + len]`, for the worker's defragmenter.
    Fragment { ts: Ts, link: LinkType, off: u32, len: u32 },
}

impl Item {
    /// Where its frame is (the whole frame is always handed over by a replay's walk).
    pub(super) fn off(&self) -> u32 {
        match *self {
            Item::Tcp { off, .. } | Item::Fragment { off, .. } => off,
        }
    }

    /// Where its payload is (a fragment's: the whole frame).
    pub(super) fn bytes(&self) -> (u32, u32) {
        match *self {
            Item::Tcp { off, len, head, .. } => (off.saturating_add(head), len),
            Item::Fragment { off, len, .. } => (off, len),
        }
    }

    /// Where a TCP packet's frame is, if it was handed over.
    pub(super) fn frame(&self) -> Option<(u32, u32)> {
        match *self {
            Item::Tcp { off, frame_len, .. } if frame_len > 0 => Some((off, frame_len)),
            _ => None,
        }
    }

    /// The item for a TCP packet of `frame`, the frame placed at `off` (`whole`) or only its
    /// payload.
    pub(super) fn tcp(
        link: LinkType,
        frame: &Frame<'_>,
        pkt: &Packet<'_>,
        tcp: TcpInfo,
        off: u32,
        whole: bool,
    ) -> Item {
        let (src, dst, src_port, dst_port) = (pkt.src, pkt.dst, pkt.src_port, pkt.dst_port);
        let head = (pkt.payload.as_ptr() as usize).saturating_sub(frame.data.as_ptr() as usize);
        let (head, frame_len) = match u32::try_from(head) {
            Ok(h) if whole && (h as usize) + pkt.payload.len() <= frame.data.len() => {
                (h, frame.data.len() as u32)
            }
            _ => (0, 0),
        };
        let (ts, wire_len, len) = (frame.ts, frame.wire_len, pkt.payload.len() as u32);
        Item::Tcp { ts, src, dst, src_port, dst_port, tcp, off, len, head, frame_len, wire_len, link }
    }
}

/// The `len` bytes at `off` in `data` (none if they are not all there).
pub(super) fn span(data: &[u8], off: u32, len: u32) -> &[u8] {
    let off = off as usize;
    data.get(off..off.saturating_add(len as usize)).unwrap_or_default()
}
