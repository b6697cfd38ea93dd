//! Entry points for the fuzz targets in `fuzz/`, and the seeds they start from.
//!
//! Each `fuzz_*` function takes arbitrary bytes, drives one layer of the sensor with them and
//! checks that layer's invariants (bounds respected, stream accounting exact, output re-parses).
//! The fuzz targets are one-line wrappers around these, so the same code also runs under a plain
//! `cargo test` (`tests/it/fuzz_seeds.rs` replays the seeds and every kept crash input), which keeps
//! the harnesses compiling and exercised where no sanitizer toolchain is available.
//!
//! These functions panic on a broken invariant: that is how a fuzzer learns of a bug. Nothing
//! else in the crate calls them.
//!
//! Input encodings are documented on each function; [`seeds`] builds valid inputs for every
//! target out of capture files (the bundled `pcaps/`), so the fuzzer starts from real traffic.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use minewatch::capture::file::{Resume, Stitcher};
use minewatch::capture::OfflineSource;
use minewatch::config::HomeNet;
use minewatch::decode::{self, LinkType, Transport};
use minewatch::flow::defrag::{DefragLimits, Defragmenter};
use minewatch::flow::reassembly::{Chunk, Reassembler, ReassemblyLimits};
use minewatch::flow::FlowLimits;
use minewatch::inspect::FlowTable;
use minewatch::stratum::{message, Confidence, SessionFacts, Side, Variant, MAX_FIELD_LEN, MAX_METHODS};
use minewatch::time::Ts;
use minewatch::verdict::{EndReason, Event, EventKind};

/// Every link type we decode, in the order the first input byte selects them.
pub const LINKS: [LinkType; 6] = LinkType::ALL;

/// The targets, by the names `fuzz/fuzz_targets/*.rs` and the seed directories use.
pub const TARGETS: [&str; 7] =
    ["decode", "reassembly", "session", "flow_table", "capture_file", "output_json", "intel_lists"];

/// Runs `data` through the target named `name`; false if there is no such target.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "decode" => fuzz_decode(data),
        "reassembly" => fuzz_reassembly(data),
        "session" => fuzz_session(data),
        "flow_table" => fuzz_flow_table(data),
        "capture_file" => fuzz_capture_file(data),
        "output_json" => fuzz_output_json(data),
        "intel_lists" => fuzz_intel_lists(data),
        _ => return false,
    }
    true
}

fn link_of(b: u8) -> LinkType {
    LINKS.get(usize::from(b) % LINKS.len()).copied().unwrap_or(LinkType::Ethernet)
}

fn link_index(link: LinkType) -> u8 {
    LINKS.iter().position(|l| *l == link).and_then(|i| u8::try_from(i).ok()).unwrap_or(0)
}

/// `data[0]` picks the link type ([`LINKS`]), the rest is one frame.
pub fn fuzz_decode(data: &[u8]) {
    let Some((&l, frame)) = data.split_first() else { return };
    if let Ok(p) = decode::decode(link_of(l), frame) {
        // The payload is borrowed from the frame: it can never be longer.
        assert!(p.payload.len() <= frame.len());
    }
    if let Some(f) = decode::fragment(link_of(l), frame) {
        let mut d = Defragmenter::new(DefragLimits::default());
        let _ = d.add(&f, Ts(0), &mut minewatch::stats::Counters::default());
    }
}

/// A small reader over fuzz input; running out yields `None`.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.u8()?, self.u8()?]))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes([self.u8()?, self.u8()?, self.u8()?, self.u8()?]))
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
}

/// The byte the stream carries at `off` in [`fuzz_reassembly`]: consistent segments carry these,
/// so what comes out in order can be checked byte for byte.
fn pattern(off: u64) -> u8 {
    (off.wrapping_mul(31) >> 3) as u8 ^ (off as u8)
}

/// Input: a header `[mode u8][isn u32]`, then segments `[op u8][offset u16][len u16 % 4096]`
/// (`op & 1`: the offset is a raw u32 sequence number `[seq u32]` instead of `isn + 1 +
/// offset`; `op & 2`: the payload is corrupted, so overlaps conflict; `op & 4`: call `flush`
/// before this segment). `mode` picks small or default limits and SYN or midstream start.
///
/// Checks: every bound holds after every call; `Data` is never empty and `Gap` never zero; the
/// stream offset equals the bytes handed out plus the gap bytes; with no corrupted or raw
/// segment, every byte handed out is the byte sent at that offset.
pub fn fuzz_reassembly(data: &[u8]) {
    let mut inp = Input(data);
    let (Some(mode), Some(isn)) = (inp.u8(), inp.u32()) else { return };
    let limits = match mode & 3 {
        0 => ReassemblyLimits { max_ooo_bytes: 0, max_ooo_segments: 0 },
        1 => ReassemblyLimits { max_ooo_bytes: 64, max_ooo_segments: 3 },
        2 => ReassemblyLimits { max_ooo_bytes: 4096, max_ooo_segments: 16 },
        _ => ReassemblyLimits::default(),
    };
    let midstream = mode & 4 != 0;
    let mut r = if midstream { Reassembler::midstream(limits) } else { Reassembler::with_isn(isn, limits) };
    let mut emitted: u64 = 0;
    let mut exact = !midstream;
    let mut last_gap = false;
    let mut buf = Vec::new();
    let check = |chunk: Chunk<'_>, emitted: &mut u64, exact: bool, last_gap: &mut bool| match chunk {
        Chunk::Data(d) => {
            assert!(!d.is_empty(), "empty Data chunk");
            if exact {
                for (i, &b) in d.iter().enumerate() {
                    let off = *emitted + i as u64;
                    assert_eq!(b, pattern(off), "wrong byte at stream offset {off}");
                }
            }
            *emitted += d.len() as u64;
            *last_gap = false;
        }
        Chunk::Gap { missing } => {
            assert!(missing > 0, "empty Gap");
            *emitted += missing;
            *last_gap = true;
        }
    };
    while let Some(op) = inp.u8() {
        let seq = if op & 1 != 0 {
            exact = false;
            match inp.u32() {
                Some(s) => s,
                None => break,
            }
        } else {
            let Some(off) = inp.u16() else { break };
            isn.wrapping_add(1).wrapping_add(u32::from(off))
        };
        // Up to 4 KiB a segment: enough to overflow the small limits alone, and cheap enough
        // per execution that the fuzzer explores orderings rather than filling buffers.
        let Some(len) = inp.u16().map(|l| l % 4096) else { break };
        let off = u64::from(seq.wrapping_sub(isn.wrapping_add(1)));
        buf.clear();
        buf.extend((0..u64::from(len)).map(|i| pattern(off + i)));
        if op & 2 != 0 {
            exact = false;
            for b in buf.iter_mut().step_by(3) {
                *b ^= 0x5a;
            }
        }
        if op & 4 != 0 {
            r.flush(&mut |c| check(c, &mut emitted, exact, &mut last_gap));
            assert_eq!(r.held_bytes(), 0);
        }
        r.segment(seq, &buf, &mut |c| check(c, &mut emitted, exact, &mut last_gap));
        assert!(r.held_bytes() <= limits.max_ooo_bytes, "held {} bytes", r.held_bytes());
        assert!(r.held_segments() <= limits.max_ooo_segments, "held {} runs", r.held_segments());
        assert_eq!(r.stream_offset(), emitted, "stream offset disagrees with what was handed out");
        assert!(!last_gap, "a Gap was not followed by Data");
    }
    r.flush(&mut |c| check(c, &mut emitted, exact, &mut last_gap));
    assert_eq!(r.held_bytes(), 0);
    assert_eq!(r.held_segments(), 0);
    assert_eq!(r.stream_offset(), emitted);
    assert!(!last_gap, "a Gap was not followed by Data");
}

/// Checks the bounds [`SessionFacts`] promises on hostile input.
fn check_facts(f: &SessionFacts) {
    assert!(f.methods.len() <= MAX_METHODS);
    for s in
        f.methods.iter().chain(&f.login).chain(&f.password).chain(&f.worker).chain(&f.agent).chain(&f.algo)
    {
        assert!(s.len() <= MAX_FIELD_LEN, "a stored wire string of {} bytes", s.len());
    }
}

/// Input: lines separated by `\n`; each line's first byte picks the side (low bit) and the rest
/// is the line. Each line also goes through the JSON parser alone.
///
/// Checks: confidence only ever rises; when there is one, the miner's side is known; the facts
/// stay within their bounds.
pub fn fuzz_session(data: &[u8]) {
    let mut s = minewatch::stratum::Session::new();
    let mut conf: Option<Confidence> = None;
    for (i, rec) in data.split(|&b| b == b'\n').enumerate() {
        let Some((&sb, line)) = rec.split_first() else { continue };
        let side = if sb & 1 == 0 { Side::A } else { Side::B };
        if let Ok(parsed) = message::parse_line(line) {
            assert!(parsed.messages().count() <= message::MAX_BATCH);
        }
        s.on_line(side, line, Ts(i as i64 * 1000));
        let now = s.confidence();
        assert!(now >= conf, "confidence went down: {conf:?} -> {now:?}");
        if now.is_some() {
            assert!(s.facts().client.is_some(), "confidence without a client side");
        }
        conf = now;
        check_facts(s.facts());
    }
}

/// Flow limits small enough that a fuzz input can reach every bound.
pub fn small_flow_limits() -> FlowLimits {
    FlowLimits {
        max_flows: 16,
        max_line: 512,
        inspect_bytes: 4096,
        inspect_lines: 8,
        idle_timeout_us: 60_000_000,
        bypass_timeout_us: 30_000_000,
        hole_timeout_us: 1_000_000,
        elephant_frames: 3,
        name_wait_us: 2_000_000,
        max_awaiting: 4096,
        memcap: 64 * 1024,
        reassembly: ReassemblyLimits { max_ooo_bytes: 2048, max_ooo_segments: 8 },
    }
}

/// An output format's record formatter: event, sensor name, output buffer.
type Formatter = fn(&Event, &str, &mut Vec<u8>);

/// Formats an event in every output format: each record must be one line; the JSON-based ones
/// must parse; the JSON-lines record must carry the event's strings intact.
fn check_event(ev: &Event) {
    use minewatch::output::{cef, ecs, eve, json};
    let sensor = "sensor\n\"|=1";
    let formats: [(&str, Formatter); 4] =
        [("eve", eve::format), ("ecs", ecs::format), ("cef", cef::format), ("json", json::format)];
    for (name, f) in formats {
        let mut out = Vec::new();
        f(ev, sensor, &mut out);
        assert!(!out.contains(&b'\n') && !out.contains(&b'\r'), "a {name} record spans lines");
        assert!(std::str::from_utf8(&out).is_ok(), "a {name} record is not UTF-8");
        if name != "cef" {
            if let Err(e) = serde_json::from_slice::<serde_json::Value>(&out) {
                panic!("{name} record is not JSON ({e}): {}", String::from_utf8_lossy(&out));
            }
        }
    }
    let mut out = Vec::new();
    json::format(ev, sensor, &mut out);
    assert!(!out.contains(&b'\n') && !out.contains(&b'\r'), "a record spans lines");
    let v: serde_json::Value = match serde_json::from_slice(&out) {
        Ok(v) => v,
        Err(e) => panic!("record is not JSON ({e}): {}", String::from_utf8_lossy(&out)),
    };
    let st = v.get("stratum");
    let login = st.and_then(|s| s.get("login")).and_then(|l| l.as_str());
    assert_eq!(login, ev.facts.login.as_deref(), "login changed on the way out");
    let agent = st.and_then(|s| s.get("agent")).and_then(|l| l.as_str());
    assert_eq!(agent, ev.facts.agent.as_deref(), "agent changed on the way out");
    let methods: Vec<&str> = st
        .and_then(|s| s.get("methods"))
        .and_then(|m| m.as_array())
        .map(|a| a.iter().filter_map(|m| m.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(methods, ev.facts.methods, "methods changed on the way out");
    assert_eq!(v.get("flow_id").and_then(|f| f.as_u64()), Some(ev.flow_id));
}

/// Input: `[link u8]`, then records `[len u16][dt u16][frame: len bytes]` (IP fragments go
/// through a small [`Defragmenter`] first, as in the pipeline's workers); `dt` advances the
/// packet clock in milliseconds, so idle timeouts fire (`dt = 0xffff` is followed by an absolute
/// time, `[ts u64]`, before the frame). TCP packets go to a [`FlowTable`] with
/// [`small_flow_limits`], then everything is flushed.
///
/// Checks: the table never exceeds `max_flows` nor `memcap`; every record formats into one line of JSON
/// that parses back with its strings unchanged; every elephant said to have ended was offered.
pub fn fuzz_flow_table(data: &[u8]) {
    let mut inp = Input(data);
    let Some(l) = inp.u8() else { return };
    let link = link_of(l);
    let limits = small_flow_limits();
    let mut table = FlowTable::new(limits, HomeNet::default());
    let defrag_limits =
        DefragLimits { max_datagrams: 8, max_bytes: 16 * 1024, max_fragments: 16, timeout_us: 5_000_000 };
    let mut defrag = Defragmenter::new(defrag_limits);
    let mut counters = minewatch::stats::Counters::default();
    let mut ts = Ts(1_700_000_000_000_000);
    // Every elephant the table has offered: one it says has ended must be among them.
    let mut offered = std::collections::HashSet::new();
    let mut emit = |ev: Event| {
        check_facts(&ev.facts);
        check_event(&ev);
    };
    while let (Some(len), Some(dt)) = (inp.u16(), inp.u16()) {
        if dt == u16::MAX {
            // An absolute time: captures carry any 64-bit time, backwards ones included.
            let (Some(lo), Some(hi)) = (inp.u32(), inp.u32()) else { break };
            ts = Ts(((u64::from(hi) << 32) | u64::from(lo)) as i64);
        } else {
            ts = Ts(ts.0.saturating_add(i64::from(dt) * 1000));
        }
        let frame = inp.bytes(usize::from(len));
        match decode::decode(link, frame) {
            Ok(pkt) => {
                if let Transport::Tcp(tcp) = pkt.transport {
                    table.tcp(&pkt, &tcp, ts, &mut emit);
                }
            }
            Err(decode::Skip::Fragment) => {
                // As the pipeline's workers do: hold fragments until their datagram is whole.
                if let Some(f) = decode::fragment(link, frame) {
                    if let Some(dg) = defrag.add(&f, ts, &mut counters) {
                        if let Ok(pkt) = decode::transport(dg.src, dg.dst, dg.proto, &dg.payload) {
                            if let Transport::Tcp(tcp) = pkt.transport {
                                table.tcp(&pkt, &tcp, ts, &mut emit);
                            }
                        }
                    }
                }
                assert!(defrag.held_bytes() <= defrag_limits.max_bytes);
                assert!(defrag.in_progress() <= defrag_limits.max_datagrams);
            }
            Err(_) => {}
        }
        assert!(table.len() <= limits.max_flows);
        assert!(table.memory() <= limits.memcap, "memory {} over the cap", table.memory());
        let (mut found, mut ended) = (Vec::new(), Vec::new());
        table.take_elephants(&mut found, &mut ended);
        offered.extend(found.iter().map(|e| e.key));
        for key in ended {
            assert!(offered.contains(&key), "an elephant ended that was never offered: {key:?}");
        }
    }
    defrag.expire(ts, &mut counters);
    table.flush_all(&mut emit);
    assert!(table.is_empty());
}

/// Most frames read from one fuzzed capture file: a tiny file cannot describe more than a few
/// thousand records anyway, and this keeps each execution short.
const MAX_FRAMES_PER_FILE: usize = 100_000;

/// Input: a whole capture file (pcap or pcapng), read by the same reader as `minewatch -r`.
/// Every frame is decoded and TCP goes into a flow table.
///
/// Checks: no frame is longer than the file; the reader ends (end of file or a one-line error);
/// blocks walked side by side from guesses (block size and how far behind each guess begins
/// taken from the first bytes) deliver exactly the frames and error of the same blocks walked in
/// order.
pub fn fuzz_capture_file(data: &[u8]) {
    let size = 16 + usize::from(data.first().copied().unwrap_or(0)) * 7;
    let cuts: Vec<usize> = (1..=data.len() / size).map(|i| i * size).collect();
    let lags: Vec<usize> = data.iter().skip(1).take(4).map(|b| usize::from(b % 4)).collect();
    let (ordered, err, _) = walk_guessed(data, &cuts, &[0]);
    let (guessed, guessed_err, _) = walk_guessed(data, &cuts, &lags);
    assert_eq!(guessed_err, err, "a guessed walk ends otherwise than the ordered one");
    assert!(guessed == ordered, "a guessed walk delivers other frames than the ordered one");
    let mut table = FlowTable::new(small_flow_limits(), HomeNet::default());
    let mut emit = |ev: Event| check_event(&ev);
    let input: Box<dyn std::io::Read + Send> = Box::new(std::io::Cursor::new(data.to_vec()));
    {
        let mut src = OfflineSource::from_reader(input);
        for _ in 0..MAX_FRAMES_PER_FILE {
            match src.next_frame() {
                Ok(Some((link, frame))) => {
                    assert!(frame.data.len() <= data.len(), "a frame longer than its file");
                    if let Ok(pkt) = decode::decode(link, frame.data) {
                        if let Transport::Tcp(tcp) = pkt.transport {
                            table.tcp(&pkt, &tcp, frame.ts, &mut emit);
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    assert!(!e.to_string().contains('\n'), "a multi-line error: {e:?}");
                    break;
                }
            }
        }
    }
    table.flush_all(&mut emit);
}

/// (link type, time, bytes, length on the wire) of every frame a walk delivers.
pub type WalkedFrames = Vec<(LinkType, Ts, Vec<u8>, u32)>;

/// What walking `data` in blocks cut at `cuts` delivers when every block is first walked on a
/// guess begun in the state the file was in `lags[i % lags.len()]` blocks before block `i` (0:
/// no guess for it), as replaying workers walk blocks side by side: the frames, the error, and
/// how many guesses were taken. An ordered walk is `lags = [0]`.
pub fn walk_guessed(data: &[u8], cuts: &[usize], lags: &[usize]) -> (WalkedFrames, Option<String>, usize) {
    let mut st = Stitcher::default();
    let mut resumes: Vec<Option<Resume>> = Vec::new();
    let (mut out, mut taken) = (WalkedFrames::new(), 0);
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.sort_unstable();
    points.push(data.len());
    let mut at = 0;
    for (i, &p) in points.iter().enumerate() {
        let block = data.get(at..p.max(at)).unwrap_or_default();
        let eof = i + 1 == points.len();
        let lag = lags.get(i % lags.len().max(1)).copied().unwrap_or(0);
        let from = i.checked_sub(lag).filter(|_| lag > 0).and_then(|j| resumes.get(j).cloned().flatten());
        let mut ahead = WalkedFrames::new();
        let guess =
            from.and_then(|r| r.guess(block, &mut |l, f| ahead.push((l, f.ts, f.data.to_vec(), f.wire_len))));
        let (took, r) =
            st.feed_guessed(block, eof, guess, &mut |l, f| out.push((l, f.ts, f.data.to_vec(), f.wire_len)));
        if took {
            taken += 1;
            out.extend(ahead);
        }
        resumes.push(st.resume());
        if let Err(e) = r {
            return (out, Some(e.to_string()), taken);
        }
        at = p.max(at);
    }
    (out, None, taken)
}

/// Input: fields separated by `0xff` (never valid UTF-8, so it never occurs inside a field):
/// login, password, worker, agent, algo, then methods (the last five also fill wallet, target,
/// reconnect host, pool message and pool host); a trailing 8+ bytes give the
/// timestamp and counters. Builds an [`Event`] and formats it.
///
/// Checks: one line of JSON that parses back with every string unchanged (lossy UTF-8
/// conversion happens on the way in, as the parser's own output is always valid UTF-8).
pub fn fuzz_output_json(data: &[u8]) {
    let mut parts = data.split(|&b| b == 0xff);
    let mut field = || parts.next().map(|p| String::from_utf8_lossy(p).into_owned());
    let login = field();
    let password = field();
    let worker = field();
    let agent = field();
    let algo = field();
    let mut methods = Vec::new();
    while let Some(m) = field() {
        methods.push(m);
    }
    // The last methods double as the other wire strings (wallet, target, pool message, ...).
    let extra: Vec<String> = methods.iter().rev().take(5).cloned().collect();
    let n = |i: usize| {
        let mut b = [0u8; 8];
        for (j, x) in b.iter_mut().enumerate() {
            *x = data.get(i * 8 + j).copied().unwrap_or(0);
        }
        u64::from_le_bytes(b)
    };
    let ts = Ts(n(0) as i64);
    let facts = SessionFacts {
        variant: Some(Variant::StratumV1),
        client: Some(Side::A),
        login,
        password,
        worker,
        agent,
        algo,
        methods,
        jobs: n(1),
        shares_submitted: n(2),
        shares_accepted: n(3),
        shares_rejected: n(1) ^ n(2),
        difficulty: Some(f64::from_bits(n(4))),
        first_share: Some(ts),
        last_share: Some(Ts(n(5) as i64)),
        client_msgs: 1,
        pool_msgs: 1,
        truncated: n(0) & 1 == 1,
        wallet: extra.first().cloned(),
        target: extra.get(1).cloned(),
        reconnect_to: extra.get(2).cloned(),
        pool_message: extra.get(3).cloned(),
        pool_host: extra.get(4).cloned(),
        accepted_hashes: f64::from_bits(n(9)),
        reported_hashrate: Some(f64::from_bits(n(10))),
        suggested_difficulty: Some(f64::from_bits(n(11))),
        ..SessionFacts::default()
    };
    for (kind, end) in [(EventKind::Mining, None), (EventKind::MiningSession, Some(EndReason::Timeout))] {
        let ev = Event {
            kind,
            ts,
            flow_id: n(6) & ((1 << 53) - 1),
            client: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000),
            pool: SocketAddr::new(IpAddr::V4(Ipv4Addr::from(n(7) as u32)), 3333),
            confidence: Confidence::Detected,
            facts: facts.clone(),
            first_seen: Ts(n(8) as i64),
            last_seen: ts,
            bytes_toserver: n(2),
            bytes_toclient: n(3),
            pkts_toserver: n(4),
            pkts_toclient: n(5),
            end_reason: end,
            derived: Default::default(),
            pcap_filename: None,
            evidence: None,
        }
        .derive();
        check_event(&ev);
    }
}

/// Seeds for every target, built from the capture files in `dir`: `(target, input)` pairs.
/// Unreadable files are skipped: seeds are a head start, not a test of their own.
pub fn seeds(dir: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"));
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let Ok(bytes) = std::fs::read(&path) else { continue };
        // Small files whole; a big one would slow every execution down.
        if bytes.len() <= 16 * 1024 {
            out.push(("capture_file", bytes));
        }
        let Some(p) = path.to_str() else { continue };
        let Ok(mut src) = OfflineSource::open(p) else { continue };
        // Every seed of a file is read with the link type of its first frame.
        let mut link = None;
        let mut table_input = Vec::new();
        let mut lines = Vec::new();
        // One direction per flow for the reassembler: the first data sender's segments.
        let mut reasm: Option<((IpAddr, u16), u32, Vec<u8>)> = None;
        let mut frames = 0;
        let mut last_ts: Option<Ts> = None;
        while let Ok(Some((first, frame))) = src.next_frame() {
            let link = *link.get_or_insert(first);
            let li = link_index(link);
            if table_input.is_empty() {
                table_input.push(li);
            }
            frames += 1;
            if frames <= 4 {
                let mut d = vec![li];
                d.extend_from_slice(frame.data);
                out.push(("decode", d));
            }
            let dt = last_ts.map_or(0, |t| frame.ts.0.saturating_sub(t.0) / 1000);
            last_ts = Some(frame.ts);
            if let Ok(len) = u16::try_from(frame.data.len()) {
                if table_input.len() < 64 * 1024 {
                    table_input.extend_from_slice(&len.to_le_bytes());
                    table_input
                        .extend_from_slice(&u16::try_from(dt.clamp(0, 65534)).unwrap_or(0).to_le_bytes());
                    table_input.extend_from_slice(frame.data);
                }
            }
            let Ok(pkt) = decode::decode(link, frame.data) else { continue };
            let Transport::Tcp(tcp) = pkt.transport else { continue };
            if pkt.payload.is_empty() {
                continue;
            }
            let side = u8::from(pkt.src_port < pkt.dst_port);
            for line in pkt.payload.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                if lines.len() < 16 * 1024 {
                    lines.push(side);
                    lines.extend_from_slice(line);
                    lines.push(b'\n');
                }
            }
            let here = (pkt.src, pkt.src_port);
            let (first, isn, segs) = reasm.get_or_insert_with(|| {
                let isn = tcp.seq.wrapping_sub(1);
                let mut h = vec![2u8];
                h.extend_from_slice(&isn.to_le_bytes());
                (here, isn, h)
            });
            if *first == here {
                let off = tcp.seq.wrapping_sub(isn.wrapping_add(1));
                if let (Ok(off), Ok(len)) = (u16::try_from(off), u16::try_from(pkt.payload.len())) {
                    segs.push(0);
                    segs.extend_from_slice(&off.to_le_bytes());
                    segs.extend_from_slice(&len.to_le_bytes());
                }
            }
        }
        if !table_input.is_empty() {
            out.push(("flow_table", table_input));
        }
        if !lines.is_empty() {
            out.push(("session", lines));
        }
        if let Some((_, _, segs)) = reasm {
            out.push(("reassembly", segs));
        }
    }
    // Output seeds: real-looking strings, and the characters a formatter must escape.
    out.push(("output_json", b"bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh.rig01\xffx\xffrig\xffcpuminer/2.5.1\xffsha256d\xffmining.subscribe\xffmining.authorize".to_vec()));
    let mut esc = "a\"b\\c\n\r\t\u{2028}\u{2029}\u{0}\u{7f}\u{fffd}\u{1F600}".as_bytes().to_vec();
    esc.extend_from_slice(b"\xff</script>\xff\xc3\x28\xed\xa0\x80");
    out.push(("output_json", esc));
    // List and intelligence files: the MISP and STIX fixtures of tests/intel/ (next to pcaps/),
    // a plain list with labels, ranges and a bad line.
    let intel = dir.parent().map(|p| p.join("tests/intel"));
    let mut fixtures: Vec<_> = intel
        .and_then(|d| std::fs::read_dir(d).ok())
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    fixtures.sort();
    for path in fixtures {
        if let Ok(bytes) = std::fs::read(&path) {
            out.push(("intel_lists", bytes));
        }
    }
    out.push(("intel_lists", b"# label: case 7\n48edfHu7V9Z84YzzMa6f own label\n203.0.113.0/24\n2001:db8::/32\npool.example.net\nbad.one+x\n".to_vec()));
    out.push((
        "intel_lists",
        b"[\"49HqitRzdnhYjgTEAhgGpCfsjdTeMbUTU6cyR4JV1R7k2Eej9rGT8JpFiYDa\", \"198.51.100.7\"]".to_vec(),
    ));
    out
}

/// The bytes are a list file (as text, invalid UTF-8 replaced): read as every format (plain
/// watchlist and pool list, JSON list, MISP, STIX) as the loaders do, then looked up. Checks:
/// no panic, a feed within its entry bound, every label kept within its bound.
pub fn fuzz_intel_lists(data: &[u8]) {
    use minewatch::intel::feeds::{self, Format, Hint};
    use minewatch::intel::watchlist::MAX_LABEL;
    use minewatch::intel::{PoolDomains, Watchlist};

    let text = String::from_utf8_lossy(data);
    let mut pools = PoolDomains::default();
    let _ = pools.add_list(&text);
    let mut watch = Watchlist::parse_labelled(&text, "seed").unwrap_or_default();
    if let Ok(list) = feeds::json_list(&text) {
        for v in &list {
            let _ = pools.add_entry(v);
            let _ = watch.insert(v, "seed");
        }
    }
    for hint in [None, Some(Hint::Misp), Some(Hint::Stix)] {
        let format = feeds::detect(&text, hint);
        let Ok(feed) = feeds::parse(format, &text) else { continue };
        assert!(feed.wallets.len() + feed.pools.len() <= feeds::MAX_ENTRIES);
        if matches!(format, Format::Plain | Format::JsonList) {
            assert_eq!(feed, feeds::Feed::default(), "a plain format gives no feed");
        }
        for p in &feed.pools {
            let _ = pools.add_entry(p);
        }
        for (w, label) in &feed.wallets {
            if watch.insert(w, label.as_deref().unwrap_or("seed")).is_ok() {
                let got = watch.lookup(Some(w), None);
                assert!(got.is_some_and(|l| l.len() <= MAX_LABEL), "{w:?} inserted but {got:?}");
            }
        }
    }
    for addr in ["203.0.113.9", "2001:db8::1", "::ffff:10.0.0.1", "0.0.0.0"] {
        if let Ok(a) = addr.parse() {
            let _ = pools.matches_addr(a);
        }
    }
    for name in text.split_whitespace().take(64) {
        let _ = pools.matches(name);
        let _ = watch.lookup(Some(name), None);
    }
}
