//! Evidence pcaps (`--pcap-dir`): every alerted session's packets in a pcap file of its own,
//! from the session's first packet, named in its `mining_session` record with its SHA-256.
//!
//! Suricata's conditional pcap logging keeps a ring of every recent packet to have a session's
//! beginning at hand when it alerts. Here each worker keeps only the first packets of the flows
//! it still inspects ([`Evidence`]): at most `first_packets` and `first_bytes` per flow (512
//! and 64 KiB by default: the login, even sent one byte per segment, and what a flow may show
//! before it is bypassed), `buffer_bytes` in all (each counted with a
//! per-packet overhead), freed as soon as the flow is bypassed or ends; a flow bypassed costs
//! nothing more. A bypassed flow is most of the traffic, so the memory is that of the few flows
//! being looked at. When the gate alerts, the worker opens the session's file, writes those
//! packets and then every later packet of the session as it comes (up to `session_packets` and
//! `session_bytes`), and closes the file when the session ends, hashing it as closed.
//!
//! The worker writes the files itself, through libpcap's dumper (a stdio buffer: one `write`
//! per 4 KiB or so) rather than handing packets to a writer thread over a channel: only the
//! packets of alerted sessions are written, a few per second for a mining session (shares every
//! few seconds), so the writes are rare and short; a channel would cost a copy of each packet
//! and put the file's closing (and its hash, which the session's record carries) on another
//! thread, delaying the record or reordering it. The one long step, hashing a closed file, is
//! bounded by `session_bytes` (64 MiB by default; a mining session's file is a few KiB).
//!
//! The directory is bounded in all (`dir_bytes`), shared by the workers ([`EvidenceDir`]): past
//! it the oldest closed files this run wrote are removed and counted; a packet that would still
//! not fit is not written.
//!
//! The table is not asked where a flow is before it takes a packet: the packet's frames go where
//! its answer says ([`Current`], [`Evidence::after`]). Measured with callgrind on a one-worker
//! replay of a 30 MB benchmark capture: 63% more instructions with `--pcap-dir`, half of them
//! the SHA-256 of the evidence written (263 KB), the rest about 300 instructions a frame.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::capture::Frame;
use crate::config::EvidenceOptions;
use crate::decode::LinkType;
use crate::flow::{FlowKey, Stage};
use crate::stats::Counters;
use crate::time::Ts;
use crate::verdict::{Event, EventKind, Evidence as EvidenceInfo};

/// Bytes counted for a kept packet besides its frame (its header, its vector, the map entry):
/// what keeps a flood of tiny packets within `buffer_bytes` too.
const PACKET_OVERHEAD: usize = 64;
/// A pcap file's header, and each record's.
const FILE_HEADER: u64 = 24;
const RECORD_HEADER: u64 = 16;

/// The evidence directory, shared by the workers: its size, and the files closed, oldest first.
#[derive(Debug)]
pub struct EvidenceDir {
    opts: EvidenceOptions,
    state: Mutex<DirState>,
}

#[derive(Debug, Default)]
struct DirState {
    /// Bytes of the files this run wrote that are still there, open ones included.
    total: u64,
    closed: VecDeque<(PathBuf, u64)>,
}

impl EvidenceDir {
    /// Creates the directory if it is missing.
    pub fn create(opts: EvidenceOptions) -> std::io::Result<Arc<EvidenceDir>> {
        std::fs::create_dir_all(&opts.dir)?;
        Ok(Arc::new(EvidenceDir { opts, state: Mutex::new(DirState::default()) }))
    }

    pub fn options(&self) -> &EvidenceOptions {
        &self.opts
    }

    /// Makes room for `n` more bytes, removing the oldest closed files while the directory
    /// would be over its bound. Returns whether the bytes fit (and are now counted).
    fn grow(&self, n: u64, c: &mut Counters) -> bool {
        let Ok(mut s) = self.state.lock() else { return false };
        while s.total.saturating_add(n) > self.opts.dir_bytes {
            let Some((path, size)) = s.closed.pop_front() else { return false };
            // Gone already (removed by hand) or not: it is no longer ours to count.
            let _ = std::fs::remove_file(&path);
            s.total = s.total.saturating_sub(size);
            c.evidence_files_removed += 1;
        }
        s.total = s.total.saturating_add(n);
        true
    }

    /// A file is closed (`size` bytes, already counted): the first to go when room is needed.
    fn closed(&self, path: PathBuf, size: u64) {
        if let Ok(mut s) = self.state.lock() {
            s.closed.push_back((path, size));
        }
    }

    /// A file that could not be written: its bytes are no longer there.
    fn forget(&self, size: u64) {
        if let Ok(mut s) = self.state.lock() {
            s.total = s.total.saturating_sub(size);
        }
    }
}

/// A packet kept, as captured.
pub(super) struct Kept {
    ts: Ts,
    wire_len: u32,
    data: Box<[u8]>,
}

impl Kept {
    pub(super) fn frame(&self) -> Frame<'_> {
        Frame { ts: self.ts, data: &self.data, wire_len: self.wire_len }
    }
}

/// The first packets of a flow still inspected.
struct First {
    link: LinkType,
    packets: Vec<Kept>,
    /// Bytes counted against the worker's buffer (frames and overhead).
    held: usize,
    /// Frame bytes (for the per-flow bound).
    bytes: usize,
}

/// An IP datagram's fragments as captured, until the worker's defragmenter puts it back
/// together: then they are the frames of its TCP packet.
struct Fragments {
    since: Ts,
    link: LinkType,
    frames: Vec<Kept>,
    held: usize,
}

/// A datagram's fragments' key: addresses, IP identification, protocol (as the defragmenter's).
pub(super) type DatagramId = (IpAddr, IpAddr, u32, u8);

/// The file of an alerted session.
struct Session {
    name: String,
    path: PathBuf,
    link: LinkType,
    file: pcap::Savefile,
    packets: u64,
    /// The file's size so far.
    bytes: u64,
}

/// One worker's evidence: the first packets of its inspected flows, and its open files.
pub(super) struct Evidence {
    dir: Arc<EvidenceDir>,
    first: HashMap<FlowKey, First, ahash::RandomState>,
    /// Bytes held in `first`, counted as [`First::held`].
    held: usize,
    open: HashMap<FlowKey, Session, ahash::RandomState>,
    /// Fragments of datagrams not yet whole (within the same `held` bytes), let go after
    /// `fragment_timeout_us` of packet time as the defragmenter lets them go.
    fragments: HashMap<DatagramId, Fragments, ahash::RandomState>,
    fragment_timeout_us: i64,
    /// libpcap's handles for writing each link type met (a "dead" capture of that type).
    dead: Vec<(LinkType, pcap::Capture<pcap::Dead>)>,
}

/// A packet the table is taking, with its frames as captured (none: fragments not kept).
pub(super) struct Current<'a, 'f> {
    pub(super) key: FlowKey,
    pub(super) link: LinkType,
    pub(super) frames: &'a [Frame<'f>],
    /// Its frames went to a file already.
    pub(super) done: bool,
}

/// The key a session's record names.
pub(super) fn key_of(ev: &Event) -> FlowKey {
    FlowKey::new(ev.client.ip(), ev.client.port(), ev.pool.ip(), ev.pool.port())
}

impl Evidence {
    pub(super) fn new(dir: Arc<EvidenceDir>, fragment_timeout_us: i64) -> Evidence {
        Evidence {
            dir,
            first: HashMap::default(),
            held: 0,
            open: HashMap::default(),
            fragments: HashMap::default(),
            fragment_timeout_us,
            dead: Vec::new(),
        }
    }

    /// An IP fragment, kept as captured until its datagram is whole ([`Evidence::whole`]).
    pub(super) fn fragment(&mut self, id: DatagramId, link: LinkType, frame: &Frame<'_>, c: &mut Counters) {
        let o = &self.dir.opts;
        let cost = frame.data.len() + PACKET_OVERHEAD;
        if self.held + cost > o.buffer_bytes {
            c.evidence_buffer_full += 1;
            return;
        }
        let f = self.fragments.entry(id).or_insert_with(|| Fragments {
            since: frame.ts,
            link,
            frames: Vec::new(),
            held: 0,
        });
        if f.frames.len() >= o.first_packets {
            c.evidence_first_dropped += 1;
            return;
        }
        f.frames.push(Kept { ts: frame.ts, wire_len: frame.wire_len, data: frame.data.into() });
        f.held += cost;
        self.held += cost;
    }

    /// A datagram is whole: its fragments as captured, and their link type.
    pub(super) fn whole(&mut self, id: &DatagramId) -> Option<(LinkType, Vec<Kept>)> {
        let f = self.fragments.remove(id)?;
        self.held = self.held.saturating_sub(f.held);
        Some((f.link, f.frames))
    }

    /// Lets go of the fragments of datagrams that will not be whole by `now`.
    pub(super) fn expire_fragments(&mut self, now: Ts) {
        let (timeout, mut freed) = (self.fragment_timeout_us, 0);
        self.fragments.retain(|_, f| {
            let keep = now.0.saturating_sub(f.since.0) <= timeout;
            if !keep {
                freed += f.held;
            }
            keep
        });
        self.held = self.held.saturating_sub(freed);
    }

    /// Bytes held in first packets.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.held
    }

    /// A packet of flow `key`, which the table inspects (or does not know yet: it may create
    /// it). Written to the session's file if it alerted; else kept among the flow's first
    /// packets, within the bounds.
    pub(super) fn packet(&mut self, key: FlowKey, link: LinkType, frame: &Frame<'_>, c: &mut Counters) {
        if let Some(s) = self.open.get_mut(&key) {
            if s.link == link {
                write(&self.dir, s, frame.ts, frame.wire_len, frame.data, c);
            } else {
                // (A pcapng file may give one connection's packets on two interfaces of two
                // link types; a pcap file has one.)
                c.evidence_session_cut += 1;
            }
            return;
        }
        let o = &self.dir.opts;
        let cost = frame.data.len() + PACKET_OVERHEAD;
        let f = self.first.get(&key);
        let (n, bytes) = f.map_or((0, 0), |f| (f.packets.len(), f.bytes));
        if n >= o.first_packets || bytes + frame.data.len() > o.first_bytes {
            c.evidence_first_dropped += 1;
            return;
        }
        if self.held + cost > o.buffer_bytes {
            c.evidence_buffer_full += 1;
            return;
        }
        let f =
            self.first.entry(key).or_insert_with(|| First { link, packets: Vec::new(), held: 0, bytes: 0 });
        f.packets.push(Kept { ts: frame.ts, wire_len: frame.wire_len, data: frame.data.into() });
        f.held += cost;
        f.bytes += frame.data.len();
        self.held += cost;
    }

    /// The flow will not alert (bypassed, ended, evicted): its first packets are let go.
    pub(super) fn forget(&mut self, key: &FlowKey) {
        if let Some(f) = self.first.remove(key) {
            self.held = self.held.saturating_sub(f.held);
        }
    }

    /// Lets go of the first packets of every flow `keep` says no longer needs them.
    pub(super) fn sweep(&mut self, keep: impl Fn(&FlowKey) -> bool) {
        let mut freed = 0;
        self.first.retain(|k, f| {
            let kept = keep(k);
            if !kept {
                freed += f.held;
            }
            kept
        });
        self.held = self.held.saturating_sub(freed);
    }

    /// A record leaves the worker: a `mining` alert opens its session's file (with the first
    /// packets kept), a `mining_session` record closes it and carries what it holds.
    /// `cur`: the packet the table is taking, if the record comes with one; its frames go to the
    /// file of the session the record opens or closes, after the packets before it.
    pub(super) fn on_record(&mut self, ev: &mut Event, c: &mut Counters, cur: Option<&mut Current<'_, '_>>) {
        let key = key_of(ev);
        match ev.kind {
            EventKind::Mining => {
                self.open_file(key, ev, c);
                self.write_current(key, cur, c);
            }
            EventKind::MiningSession => {
                self.write_current(key, cur, c);
                ev.evidence = self.close(&key, c);
            }
        }
    }

    fn write_current(&mut self, key: FlowKey, cur: Option<&mut Current<'_, '_>>, c: &mut Counters) {
        let Some(cur) = cur.filter(|x| x.key == key && !x.done) else { return };
        if self.open.contains_key(&key) {
            cur.done = true;
            self.take(cur, c);
        }
    }

    /// The packet's frames: written to its session's file if it is open, else kept among the
    /// flow's first packets.
    fn take(&mut self, cur: &Current<'_, '_>, c: &mut Counters) {
        if cur.frames.is_empty() {
            c.evidence_fragments_skipped += 1;
        }
        for f in cur.frames {
            self.packet(cur.key, cur.link, f, c);
        }
    }

    /// The table has taken the packet, and its flow is now at `stage`: its frames, unless a
    /// record took them, go to the session's file or among the flow's first packets (a flow
    /// still new or inspected), or the flow's first packets are let go (bypassed, ended).
    pub(super) fn after(&mut self, cur: &Current<'_, '_>, stage: Option<Stage>, c: &mut Counters) {
        if cur.done {
            return;
        }
        if self.open.contains_key(&cur.key) || matches!(stage, Some(Stage::New | Stage::Inspecting)) {
            self.take(cur, c);
        } else if !self.first.is_empty() {
            self.forget(&cur.key);
        }
    }

    fn open_file(&mut self, key: FlowKey, ev: &Event, c: &mut Counters) {
        let first = self.first.remove(&key);
        if let Some(f) = &first {
            self.held = self.held.saturating_sub(f.held);
        }
        if self.open.contains_key(&key) {
            return;
        }
        if self.open.len() >= self.dir.opts.max_open {
            c.evidence_failed += 1;
            return;
        }
        let link = first.as_ref().map_or(LinkType::Ethernet, |f| f.link);
        let name = file_name(ev);
        let path = self.dir.opts.dir.join(&name);
        let Some(mut s) = self.create(&name, &path, link, c) else { return };
        for k in first.map(|f| f.packets).unwrap_or_default() {
            write(&self.dir, &mut s, k.ts, k.wire_len, &k.data, c);
        }
        c.evidence_files += 1;
        self.open.insert(key, s);
    }

    fn create(&mut self, name: &str, path: &Path, link: LinkType, c: &mut Counters) -> Option<Session> {
        if !self.dir.grow(FILE_HEADER, c) {
            c.evidence_failed += 1;
            return None;
        }
        let dead = match self.dead.iter().position(|(l, _)| *l == link) {
            Some(i) => self.dead.get(i).map(|(_, d)| d),
            None => match pcap::Capture::dead(pcap::Linktype(link.libpcap_dlt())) {
                Ok(d) => {
                    self.dead.push((link, d));
                    self.dead.last().map(|(_, d)| d)
                }
                Err(_) => None,
            },
        };
        // (libpcap takes the path as a C string: the directory was checked to be UTF-8.)
        let file = dead.zip(path.to_str()).and_then(|(d, p)| d.savefile(p).ok());
        let Some(file) = file else {
            self.dir.forget(FILE_HEADER);
            c.evidence_failed += 1;
            return None;
        };
        Some(Session {
            name: name.to_string(),
            path: path.to_path_buf(),
            link,
            file,
            packets: 0,
            bytes: FILE_HEADER,
        })
    }

    /// Closes the session's file: what it holds, hashed as closed.
    fn close(&mut self, key: &FlowKey, c: &mut Counters) -> Option<EvidenceInfo> {
        let Session { name, path, file, packets, bytes, .. } = self.open.remove(key)?;
        drop(file); // libpcap flushes and closes it
        match sha256(&path) {
            Ok(sha256) => {
                self.dir.closed(path, bytes);
                Some(EvidenceInfo { file: name, packets, bytes, sha256 })
            }
            Err(_) => {
                self.dir.forget(bytes);
                c.evidence_failed += 1;
                None
            }
        }
    }
}

/// Writes one packet to a session's file, within the session's and the directory's bounds.
fn write(dir: &EvidenceDir, s: &mut Session, ts: Ts, wire_len: u32, data: &[u8], c: &mut Counters) {
    let o = &dir.opts;
    let n = RECORD_HEADER + data.len() as u64;
    if s.packets >= o.session_packets || s.bytes + n > o.session_bytes || !dir.grow(n, c) {
        c.evidence_session_cut += 1;
        return;
    }
    let header = pcap::PacketHeader {
        ts: libc::timeval {
            tv_sec: ts.0.div_euclid(1_000_000) as libc::time_t,
            tv_usec: ts.0.rem_euclid(1_000_000) as libc::suseconds_t,
        },
        caplen: data.len() as u32,
        len: wire_len.max(data.len() as u32),
    };
    s.file.write(&pcap::Packet::new(&header, data));
    s.packets += 1;
    s.bytes += n;
}

/// `20260301T080000Z-<flow_id>.pcap`: the session's first packet time, then its flow id (the
/// one every record of the session carries), so that a listing sorts by time.
fn file_name(ev: &Event) -> String {
    let t: String = ev.first_seen.rfc3339().chars().take(19).filter(|c| *c != '-' && *c != ':').collect();
    format!("{t}Z-{}.pcap", ev.flow_id)
}

/// The SHA-256 of a file, in lowercase hex.
fn sha256(path: &Path) -> std::io::Result<String> {
    let mut h = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut h)?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(dir: &Path) -> EvidenceOptions {
        EvidenceOptions {
            dir: dir.to_path_buf(),
            first_packets: 3,
            first_bytes: 250,
            buffer_bytes: 2 * (100 + PACKET_OVERHEAD) + 10,
            session_packets: 100,
            session_bytes: 1 << 20,
            dir_bytes: 1 << 20,
            max_open: 4,
        }
    }

    fn key(port: u16) -> FlowKey {
        FlowKey::new([10, 0, 0, 1].into(), port, [198, 51, 100, 1].into(), 3333)
    }

    #[test]
    fn first_packets_are_bounded_per_flow_and_per_worker_and_freed() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = Evidence::new(EvidenceDir::create(opts(dir.path())).unwrap(), 1_000_000);
        let mut c = Counters::default();
        let data = [0u8; 100];
        let frame = Frame { ts: Ts(1), data: &data, wire_len: 100 };
        // Two packets fill the worker's buffer: a packet of another flow is past it.
        e.packet(key(1), LinkType::Ethernet, &frame, &mut c);
        e.packet(key(1), LinkType::Ethernet, &frame, &mut c);
        e.packet(key(3), LinkType::Ethernet, &frame, &mut c);
        assert_eq!((c.evidence_buffer_full, c.evidence_first_dropped), (1, 0));
        assert_eq!(e.held(), 2 * (100 + PACKET_OVERHEAD));
        e.forget(&key(1));
        assert_eq!(e.held(), 0);
        // Per flow: 250 bytes is two frames of 100.
        e.packet(key(2), LinkType::Ethernet, &frame, &mut c);
        e.packet(key(2), LinkType::Ethernet, &frame, &mut c);
        e.packet(key(2), LinkType::Ethernet, &frame, &mut c);
        assert_eq!(c.evidence_first_dropped, 1);
        e.sweep(|_| false);
        assert_eq!(e.held(), 0);
    }

    #[test]
    fn the_directory_removes_its_oldest_closed_files_to_stay_within_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        let d = EvidenceDir::create(EvidenceOptions { dir_bytes: 100, ..opts(dir.path()) }).unwrap();
        let mut c = Counters::default();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, [0; 60]).unwrap();
        std::fs::write(&b, [0; 30]).unwrap();
        assert!(d.grow(60, &mut c));
        d.closed(a.clone(), 60);
        assert!(d.grow(30, &mut c));
        d.closed(b.clone(), 30);
        // 20 more: the oldest (a) goes.
        assert!(d.grow(20, &mut c));
        assert_eq!(c.evidence_files_removed, 1);
        assert!(!a.exists() && b.exists());
        // More than the bound even with everything closed gone: refused.
        assert!(!d.grow(200, &mut c));
        assert!(!b.exists());
    }
}
