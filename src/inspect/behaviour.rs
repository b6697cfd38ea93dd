//! The behaviour watch: a TLS flow whose ClientHello named no server (or hid it with Encrypted
//! Client Hello, whose SNI is only the client-facing server's public name: see
//! `inspect::tls::named`), and whose server no DNS answer named, judged by how it behaves (clue
//! `behaviour`, confidence `suspected`).
//!
//! Why: XMRig `--tls` to a proxy on a rented address, DNS over HTTPS, or Encrypted Client
//! Hello leave no name to match, and the payload is encrypted; but a Stratum session is
//! distinctive in its shape. The pool pushes small records unasked whenever the coin's chain
//! moves on (a new block, every 13 s to 10 min by coin) or the difficulty is retargeted; the
//! miner sends records of nearly one size (shares, keepalives: tens to a few hundred bytes of
//! JSON) at a rate vardiff keeps near one every few seconds to a minute, and the pool answers
//! each with one small record within a round trip; nothing is big, the byte rate is tiny and
//! the session lasts hours. MineHunter (ACSAC 2021) and CryptoCatch (2026) use packet sizes,
//! directions and timing (and, for MineHunter, job pushes against block times); we read the
//! TLS record headers themselves (5 bytes: type, version, length), which give message sizes
//! exactly where packet sizes blur them, from the reassembled streams, skipping every record
//! body without holding it.
//!
//! Per flow the state is fixed (a few counters, the last pushes' times, a handful of size
//! bins, the client's fingerprints, and the outer name of a hello that used Encrypted Client
//! Hello, at most 253 bytes); no byte of payload is kept. A flow that shows a big record
//! or a bulk byte rate is bypassed at once (so a download costs a few record headers); one not
//! decided within `max_watch` is bypassed too. A flow decides after `min_pushes` pushes and
//! `min_pairs` answered requests over `min_duration`, or sooner (`aligned_duration`) when its
//! pushes line up with those of known mining sessions ([`crate::intel::clock`]).
//!
//! What it must not fire on (tested on captures of real software): MQTT over TLS (pushes, but
//! the client sends only 2-byte PINGREQs and acknowledgements; a device that publishes has its
//! readings acknowledged by 4-byte PUBACKs, too short to be a JSON answer: `min_answer`), IMAP
//! IDLE (rare pushes, tiny commands), WebSocket applications (pings of a few bytes; data pushes
//! not answered), HTTPS long-polls (big records, or one request per push), Redis pub/sub,
//! gRPC and browsers (ALPN `h2`/`http/1.1`: never watched; a gRPC stream with no ALPN has no
//! answered requests), SSH (not TLS).

use crate::flow::{ConnInfo, Side};
use crate::intel::fingerprint::{self, Fingerprints};
use crate::intel::tls::ClientHello;
use crate::stratum::{Behaviour, Clue, Ech, SessionFacts, Variant};
use crate::time::Ts;

use super::tls::AwaitName;
use super::{Cx, Parse, Parser, Recognised, SessionView, Shared, Step};

const RECORD_HEADER: usize = 5;
const CT_CCS: u8 = 20;
const CT_APPLICATION_DATA: u8 = 23;
/// Largest record length TLS allows (2^14 plaintext + 2048 of expansion in TLS 1.2).
const MAX_TLS_RECORD: usize = (1 << 14) + 2048;
/// Push times kept per flow, for the period and the push clock.
const PUSHES_KEPT: usize = 8;
/// Client record size bins kept per flow (32-byte wide); the rest counted together.
const BINS: usize = 4;
const BIN_WIDTH: u32 = 32;
/// Server records closer than this (or an eighth of the answer window, if less) to the
/// previous server record continue it (a job written in two records), rather than push anew.
const BURST_US: i64 = 200_000;

/// The watch's thresholds (`--behaviour-*`): defaults are the values the tests were run with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Watch no-name TLS flows at all.
    pub enabled: bool,
    /// Watch also flows whose hello names a server that is no pool (`--behaviour-named`).
    pub named: bool,
    /// Pushes needed to decide.
    pub min_pushes: u32,
    /// Requests answered within the answer window needed to decide.
    pub min_pairs: u32,
    /// Least time from the hello to a decision. 30 s: a miner's session is judged by its pushes
    /// and answered requests, which take minutes to gather on most coins' block clocks; this
    /// only keeps a burst of a few seconds from deciding. It was 3 minutes, which missed every
    /// session shorter than that (a capture of a minute, a miner killed or moved). Measured:
    /// none of the real or made-up negatives of `pcaps/` (nor the shared corpus, nor the edge
    /// benchmark mix) raises an alert even at 20 s; the positives are decided by their third
    /// push (`enc-xmrig-rx0.pcap`, jobs every 10 s: within 50 s).
    pub min_duration_us: i64,
    /// Least time when the pushes line up with known mining sessions' pushes.
    pub aligned_duration_us: i64,
    /// Longest a flow is watched without a decision; then it is bypassed.
    pub max_watch_us: i64,
    /// A server record this soon after a client record answers it (one round trip and the
    /// pool's work); a server record with no client record this long before it is a push.
    pub answer_us: i64,
    /// Records in the first moments after the hello (the rest of the handshake, tickets, the
    /// login and its first job) are not judged.
    pub warmup_us: i64,
    /// A record longer than this (after the warm-up) is not Stratum: bypass.
    pub max_record: u32,
    /// Mean bytes per second (both ways, after the warm-up, judged after a minute) above which
    /// the flow is bulk: bypass.
    pub max_rate: u32,
    /// How far a push may be from a known session's push and still line up with it.
    pub align_tolerance_us: i64,
    /// Client records of a request's size: from this record length (plaintext + 17) on.
    pub min_request: u32,
    /// ... up to this one.
    pub max_request: u32,
    /// Largest server record taken as an answer.
    pub max_answer: u32,
    /// Smallest server record taken as an answer: a Stratum answer is a JSON-RPC object, at
    /// least `{"id":1,"result":true}` (22 bytes, 38 or more sealed), where binary protocols
    /// acknowledge in a few bytes (MQTT's PUBACK 4, Redis's `:1` 4, HTTP/2's PING 17, sealed
    /// 21-34 in TLS 1.3). Measured on a real MQTT device over TLS (`real-mqtt-events-tls.pcap`):
    /// its readings PUBACKed by the broker were answered requests; with commands pushed to it
    /// now and then it raised a behaviour alert.
    pub min_answer: u32,
    /// Smallest server record taken as a push (a job is at least a block header's hex).
    pub min_push: u32,
    /// Least coefficient of variation (stddev / mean) of the time between requests: shares
    /// come at random (vardiff aims at a mean, each share is luck), an application's heartbeat
    /// on a timer (variation near 0).
    pub min_request_cv: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            enabled: true,
            named: false,
            min_pushes: 3,
            min_pairs: 3,
            min_duration_us: 30 * 1_000_000,
            aligned_duration_us: 15 * 1_000_000,
            max_watch_us: 1800 * 1_000_000,
            answer_us: 1_500_000,
            warmup_us: 2_000_000,
            max_record: 4096,
            max_rate: 2048,
            align_tolerance_us: 2_000_000,
            min_request: 80,
            max_request: 3072,
            max_answer: 384,
            min_answer: 36,
            min_push: 96,
            min_request_cv: 0.3,
        }
    }
}

/// One direction's record framing: the header being gathered, and the body left to skip.
#[derive(Clone, Copy, Debug, Default)]
struct Walker {
    hdr: [u8; RECORD_HEADER],
    have: u8,
    skip: usize,
}

impl Walker {
    /// Walks `data`, calling `on(type, length)` at each whole record header. `Err` when the
    /// bytes are not TLS records.
    fn feed(&mut self, mut data: &[u8], mut on: impl FnMut(u8, u32)) -> Result<(), ()> {
        while !data.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                self.skip -= n;
                data = data.get(n..).unwrap_or_default();
                continue;
            }
            let have = usize::from(self.have);
            let n = (RECORD_HEADER - have).min(data.len());
            if let (Some(dst), Some(src)) = (self.hdr.get_mut(have..have + n), data.get(..n)) {
                dst.copy_from_slice(src);
            }
            data = data.get(n..).unwrap_or_default();
            self.have += n as u8;
            if usize::from(self.have) < RECORD_HEADER {
                return Ok(());
            }
            self.have = 0;
            let [t, major, _, hi, lo] = self.hdr;
            let len = usize::from(u16::from_be_bytes([hi, lo]));
            if !(CT_CCS..=24).contains(&t) || major != 3 || len > MAX_TLS_RECORD {
                return Err(());
            }
            self.skip = len;
            on(t, len as u32);
        }
        Ok(())
    }
}

/// Welford's running mean and variance: three numbers, whatever the count.
#[derive(Clone, Copy, Debug, Default)]
struct Running {
    n: u32,
    mean: f64,
    m2: f64,
}

impl Running {
    fn add(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / f64::from(self.n);
        self.m2 += d * (x - self.mean);
    }

    fn stddev(&self) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            (self.m2 / f64::from(self.n - 1)).sqrt()
        }
    }
}

/// A no-name TLS flow being watched. Fixed size; lives in the flow's parser box.
#[derive(Debug)]
pub struct Watch {
    /// The wait for a DNS answer (as [`AwaitName`]), until it is over.
    pub(super) name: AwaitName,
    pub(super) name_over: bool,
    start: Ts,
    walk: [Walker; 2],
    fingerprints: Fingerprints,
    /// The hello hid its server's name (ECH): the fact goes in the alert's evidence.
    ech: Option<Box<Ech>>,
    /// The server's name in the hello, when it named one that is no pool and the flow is
    /// watched all the same (`--behaviour-named`): the alert's pool host.
    server_name: Option<Box<str>>,
    last_client: Option<Ts>,
    last_server: Option<Ts>,
    /// The latest request not yet answered.
    pending: Option<Ts>,
    client_records: u32,
    requests: u32,
    answered: u32,
    client_len: (u32, u32),
    last_request: Option<Ts>,
    request_gaps: Running,
    bins: [(u32, u32); BINS],
    bins_other: u32,
    pushes: u32,
    push_len: (u32, u32),
    push_times: [i64; PUSHES_KEPT],
    periods: Running,
    latency_ms: Running,
    latency_max_ms: f64,
    /// Bytes of records (headers included) after the warm-up, and during it.
    bytes: u64,
    warmup_bytes: u64,
}

/// Bytes a flow may send during the warm-up (a certificate chain, tickets, the login).
const WARMUP_BYTES: u64 = 64 * 1024;

fn idx(side: Side) -> usize {
    match side {
        Side::A => 0,
        Side::B => 1,
    }
}

impl Watch {
    /// Starts watching after the hello `h` of `client`, read at `ts`.
    pub fn new(client: Side, h: &ClientHello<'_>, ts: Ts, name_until: Ts) -> Watch {
        Watch {
            name: AwaitName { client, until: name_until },
            name_over: false,
            start: ts,
            walk: [Walker::default(); 2],
            fingerprints: fingerprint::of(h),
            ech: Ech::of(h),
            server_name: None,
            last_client: None,
            last_server: None,
            pending: None,
            client_records: 0,
            requests: 0,
            answered: 0,
            client_len: (u32::MAX, 0),
            last_request: None,
            request_gaps: Running::default(),
            bins: [(0, 0); BINS],
            bins_other: 0,
            pushes: 0,
            push_len: (u32::MAX, 0),
            push_times: [0; PUSHES_KEPT],
            periods: Running::default(),
            latency_ms: Running::default(),
            latency_max_ms: 0.0,
            bytes: 0,
            warmup_bytes: 0,
        }
    }

    /// The client's bytes that followed its hello record in the same chunk (early data, or a
    /// client that did not wait): walked so that the record framing stays in step.
    pub fn client_tail(&mut self, skip: usize, tail: &[u8], cx: &mut Cx<'_>) -> Step {
        if let Some(w) = self.walk.get_mut(idx(self.name.client)) {
            w.skip = skip;
        }
        if tail.is_empty() {
            return Step::Continue;
        }
        self.data(self.name.client, tail, true, cx)
    }

    /// Watches a flow whose hello named `server`, a name that is no pool's (`--behaviour-named`):
    /// no DNS answer is waited for (a name that is no pool's wins over the DNS map), and the
    /// name is the alert's pool host.
    pub fn named_server(&mut self, server: &str) {
        self.name_over = true;
        self.server_name = Some(server.to_ascii_lowercase().into());
    }

    /// The fingerprints, for a session named late by a DNS answer.
    pub fn fingerprints(&self) -> &Fingerprints {
        &self.fingerprints
    }

    /// Whether the wait for a name is still on at `ts`.
    pub fn name_waiting(&self, ts: Ts) -> bool {
        !self.name_over && ts.0 <= self.name.until.0
    }

    /// The session named by a DNS answer read since, if the wait is on.
    pub fn named(
        &mut self,
        conn: &ConnInfo,
        ts: Ts,
        shared: &Shared,
        counters: &mut crate::stats::Counters,
    ) -> Option<Recognised> {
        if self.name_over {
            return None;
        }
        let mut r = self.name.named(conn, ts, shared, counters)?;
        r.facts_mut().tls_fingerprints = Some(Box::new(self.fingerprints.clone()));
        r.facts_mut().tls_ech = self.ech.clone();
        Some(r)
    }

    fn record(&mut self, side: Side, t: u8, len: u32, ts: Ts, limits: &Limits) -> Result<(), &'static str> {
        let size = u64::from(len) + RECORD_HEADER as u64;
        if ts.0.saturating_sub(self.start.0) < limits.warmup_us {
            self.warmup_bytes += size;
            return if self.warmup_bytes > WARMUP_BYTES { Err("bulk") } else { Ok(()) };
        }
        self.bytes += size;
        if t != CT_APPLICATION_DATA {
            return Ok(());
        }
        if len > limits.max_record {
            return Err("big");
        }
        if side == self.name.client {
            self.client_records += 1;
            self.client_len = (self.client_len.0.min(len), self.client_len.1.max(len));
            let bin = len / BIN_WIDTH;
            if let Some(b) = self.bins.iter_mut().find(|b| b.1 > 0 && b.0 == bin) {
                b.1 += 1;
            } else if let Some(b) = self.bins.iter_mut().find(|b| b.1 == 0) {
                *b = (bin, 1);
            } else {
                self.bins_other += 1;
            }
            if (limits.min_request..=limits.max_request).contains(&len) {
                self.requests += 1;
                self.pending = Some(ts);
                if let Some(last) = self.last_request {
                    self.request_gaps.add(ts.0.saturating_sub(last.0) as f64 / 1e6);
                }
                self.last_request = Some(ts);
            } else {
                self.pending = None;
            }
            self.last_client = Some(ts);
            return Ok(());
        }
        let within = |since: Option<Ts>, us: i64| since.is_some_and(|s| ts.0.saturating_sub(s.0) <= us);
        let burst = within(self.last_server, BURST_US.min(limits.answer_us / 8));
        self.last_server = Some(ts);
        if len < limits.min_answer && within(self.pending, limits.answer_us) {
            // An acknowledgement of a few bytes: the request was taken, but not as a pool
            // answers a share, and what follows is not its answer.
            self.pending = None;
            return Ok(());
        }
        if len <= limits.max_answer && within(self.pending, limits.answer_us) {
            if let Some(p) = self.pending.take() {
                self.answered += 1;
                let ms = ts.0.saturating_sub(p.0) as f64 / 1000.0;
                self.latency_ms.add(ms);
                self.latency_max_ms = self.latency_max_ms.max(ms);
            }
            return Ok(());
        }
        // Unasked: nothing from the client for a few round trips (as measured by the answers
        // so far; the whole answer window until there is one).
        let quiet = if self.latency_ms.n > 0 {
            ((self.latency_ms.mean * 4000.0) as i64).clamp(limits.answer_us / 30, limits.answer_us)
        } else {
            limits.answer_us
        };
        if within(self.last_client, quiet) || burst || len < limits.min_push {
            return Ok(());
        }
        // A push: the server spoke unasked.
        let last =
            self.pushes.checked_sub(1).and_then(|k| self.push_times.get(k as usize % PUSHES_KEPT).copied());
        if let Some(last) = last {
            self.periods.add(ts.0.saturating_sub(last) as f64 / 1e6);
        }
        if let Some(slot) = self.push_times.get_mut(self.pushes as usize % PUSHES_KEPT) {
            *slot = ts.0;
        }
        self.pushes += 1;
        self.push_len = (self.push_len.0.min(len), self.push_len.1.max(len));
        Ok(())
    }

    /// Whether the client's records look like a miner's: all of a request's size or less,
    /// most of them requests, of nearly one size (two 32-byte bins hold most), and answered.
    fn client_fits(&self, limits: &Limits) -> bool {
        if self.client_records == 0 || self.client_len.1 > limits.max_request {
            return false;
        }
        let mut counts: [u32; BINS] = [0; BINS];
        for (c, b) in counts.iter_mut().zip(self.bins.iter()) {
            *c = b.1;
        }
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top2 = counts.first().copied().unwrap_or(0) + counts.get(1).copied().unwrap_or(0);
        let n = self.client_records;
        // Proportions in integers: top2/n ≥ 3/4, requests/n ≥ 3/4, answered/requests ≥ 3/4.
        let shaped =
            4 * top2 >= 3 * n && 4 * self.requests >= 3 * n && 4 * self.answered >= 3 * self.requests;
        // Requests at random, not on a timer.
        let g = &self.request_gaps;
        let random = g.n >= 2 && g.mean > 0.0 && g.stddev() / g.mean >= limits.min_request_cv;
        // Jobs of a coin are of nearly one size (a template's fields); news are not.
        let jobs_alike = self.push_len.1 <= 2 * self.push_len.0 + 128;
        shaped && random && jobs_alike
    }

    /// Decides at `ts`: `Some` evidence when the flow behaves as mining.
    fn decide(&mut self, ts: Ts, shared: &Shared, limits: &Limits) -> Option<Behaviour> {
        let elapsed = ts.0.saturating_sub(self.start.0);
        if elapsed < limits.aligned_duration_us.min(limits.min_duration_us)
            || self.pushes < limits.min_pushes
            || self.answered < limits.min_pairs
            || !self.client_fits(limits)
        {
            return None;
        }
        let kept = (self.pushes as usize).min(PUSHES_KEPT);
        // Looked up afresh each time (a few records per suspect, past the other tests): what
        // the clock holds before this frame depends on where this frame is in the file, not on
        // whether anything was written since the last lookup (see `crate::intel::clock`).
        let times = self.push_times.get(..kept).unwrap_or_default();
        let before = shared.place.settled();
        let aligned = shared.intel.clock.aligned(times, limits.align_tolerance_us, before);
        let lined_up = aligned >= limits.min_pushes && 4 * aligned >= 3 * kept as u32;
        if elapsed < limits.min_duration_us && !(lined_up && elapsed >= limits.aligned_duration_us) {
            return None;
        }
        Some(Behaviour {
            pushes: self.pushes,
            push_period_mean_s: self.periods.mean,
            push_period_stddev_s: self.periods.stddev(),
            push_len_min: self.push_len.0,
            push_len_max: self.push_len.1,
            requests: self.requests,
            answered: self.answered,
            client_len_min: self.client_len.0,
            client_len_max: self.client_len.1,
            answer_ms_mean: self.latency_ms.mean,
            answer_ms_max: self.latency_max_ms,
            duration_s: elapsed as f64 / 1e6,
            aligned_pushes: aligned,
            pushes_checked: kept as u32,
            known_fingerprint: fingerprint::known_miner(&self.fingerprints.ja4),
        })
    }

    /// The pushes kept, for the push clock once the flow is judged mining.
    fn push_times(&self) -> impl Iterator<Item = i64> + '_ {
        self.push_times.iter().copied().filter(|t| *t != 0)
    }
}

impl Parse for Watch {
    fn data(&mut self, side: Side, data: &[u8], _: bool, cx: &mut Cx<'_>) -> Step {
        let limits = cx.shared.behaviour;
        let ts = cx.ts;
        if self.name_waiting(ts) {
            if let Some(r) = self.named(cx.conn, ts, cx.shared, cx.counters) {
                return Step::Become(Box::new(Parser::Recognised(r)));
            }
        } else if !self.name_over {
            // The wait ended unanswered at this packet: the watch goes on by behaviour alone.
            self.name_over = true;
            cx.counters.tls_name_unanswered += 1;
        }
        if ts.0.saturating_sub(self.start.0) > limits.max_watch_us {
            cx.counters.behaviour_expired += 1;
            return Step::Bypass;
        }
        let mut walker = self.walk.get(idx(side)).copied().unwrap_or_default();
        let mut verdict: Result<(), &'static str> = Ok(());
        let mut records = 0u64;
        let walked = walker.feed(data, |t, len| {
            records += 1;
            if verdict.is_ok() {
                verdict = self.record(side, t, len, ts, &limits);
            }
        });
        if let Some(w) = self.walk.get_mut(idx(side)) {
            *w = walker;
        }
        cx.counters.behaviour_records += records;
        if walked.is_err() {
            cx.counters.behaviour_not_tls += 1;
            return Step::Bypass;
        }
        if verdict.is_err() {
            cx.counters.behaviour_bulk += 1;
            return Step::Bypass;
        }
        let after = ts.0.saturating_sub(self.start.0).saturating_sub(limits.warmup_us);
        if after >= 60_000_000
            && self.bytes.saturating_mul(1_000_000) / after.unsigned_abs() > u64::from(limits.max_rate)
        {
            cx.counters.behaviour_bulk += 1;
            return Step::Bypass;
        }
        if records == 0 {
            return Step::Continue;
        }
        let Some(evidence) = self.decide(ts, cx.shared, &limits) else { return Step::Continue };
        cx.counters.behaviour_suspects += 1;
        if evidence.aligned_pushes > 0 {
            cx.counters.behaviour_aligned += 1;
        }
        // A confirmed suspect's pushes tell the clock too (for other suspects of its coin).
        for t in self.push_times() {
            let at = cx.shared.place.now();
            if cx.shared.intel.clock.record(Ts(t), at) == crate::intel::clock::Recorded::Overwrote {
                cx.counters.behaviour_clock_overwritten += 1;
            }
        }
        let facts = SessionFacts {
            variant: Some(Variant::Tls),
            client: Some(self.name.client),
            clue: Some(Clue::Behaviour),
            tls_fingerprints: Some(Box::new(self.fingerprints.clone())),
            behaviour: Some(Box::new(evidence)),
            tls_ech: self.ech.take(),
            pool_host: self.server_name.take().map(String::from),
            ..SessionFacts::default()
        };
        Step::Become(Box::new(Parser::Recognised(Recognised::new(facts))))
    }

    fn gap(&mut self, _: Side) -> Step {
        // Record framing is lost with the bytes.
        Step::Bypass
    }

    fn session(&self) -> Option<SessionView<'_>> {
        None
    }

    fn allocated(&self) -> usize {
        let f = &self.fingerprints;
        let ech = self
            .ech
            .as_deref()
            .map_or(0, |e| std::mem::size_of::<Ech>() + e.outer_sni.as_ref().map_or(0, String::capacity));
        std::mem::size_of::<Watch>() + f.ja3.capacity() + f.ja3_full.capacity() + f.ja4.capacity() + ech
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walker_finds_record_headers_across_chunks_and_refuses_non_tls() {
        let mut w = Walker::default();
        let mut seen = Vec::new();
        let mut stream = vec![23, 3, 3, 0, 3, 1, 2, 3, 23, 3, 3, 0, 0, 21, 3, 3, 0, 2, 9, 9];
        stream.extend_from_slice(&[23, 3, 3, 0x01, 0x00]);
        stream.extend(std::iter::repeat(0).take(256));
        for chunk in stream.chunks(3) {
            w.feed(chunk, |t, l| seen.push((t, l))).unwrap();
        }
        assert_eq!(seen, vec![(23, 3), (23, 0), (21, 2), (23, 256)]);
        assert_eq!((w.have, w.skip), (0, 0));
        let mut w = Walker::default();
        assert!(w.feed(b"GET / HTTP/1.1\r\n", |_, _| {}).is_err());
        let mut w = Walker::default();
        assert!(w.feed(&[23, 3, 3, 0xff, 0xff], |_, _| {}).is_err());
    }

    proptest::proptest! {
        /// Any bytes, cut anywhere: no panic, and the records found do not depend on the cuts.
        #[test]
        fn the_walker_is_the_same_whatever_the_cuts(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048),
            cuts in proptest::collection::vec(1usize..64, 1..64),
        ) {
            let whole = {
                let mut w = Walker::default();
                let mut seen = Vec::new();
                let ok = w.feed(&bytes, |t, l| seen.push((t, l))).is_ok();
                (seen, ok)
            };
            let mut w = Walker::default();
            let mut seen = Vec::new();
            let mut ok = true;
            let mut rest = bytes.as_slice();
            for c in cuts.iter().cycle() {
                if rest.is_empty() || !ok {
                    break;
                }
                let (a, b) = rest.split_at((*c).min(rest.len()));
                ok = w.feed(a, |t, l| seen.push((t, l))).is_ok();
                rest = b;
            }
            proptest::prop_assert_eq!(&seen, &whole.0);
            proptest::prop_assert_eq!(ok, whole.1);
        }
    }

    #[test]
    fn running_mean_and_stddev() {
        let mut r = Running::default();
        for x in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0] {
            r.add(x);
        }
        assert!((r.mean - 5.0).abs() < 1e-9);
        assert!((r.stddev() - 2.138).abs() < 1e-3);
    }
}
