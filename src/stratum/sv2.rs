//! Stratum V2, from the outside and in the clear. See `docs/stratum-v2.md` for the reasoning
//! and the false-positive risk.
//!
//! **Encrypted** ([`Sv2Shape`]): the Noise NX handshake of the SV2 spec (§4.5) has a fixed
//! shape, and that shape is all we can see (everything after it is encrypted, frame headers
//! included). The initiator (miner or proxy) opens the connection and sends its ephemeral key,
//! 64 bytes of ElligatorSwift encoding, and nothing else; the responder (pool) answers with
//! exactly 234 bytes (its 64-byte ephemeral key, its encrypted static key 64+16, and the
//! encrypted signature noise message 74+16), and only then does the initiator send its first
//! encrypted frame. Drafts before ElligatorSwift used 32-byte x-only keys, giving 32 and 170
//! bytes. [`Sv2Shape`] matches only these exact pairs, from the first byte of a connection seen
//! from its SYN, with the initiator's key looking random. It counts bytes and remembers which
//! byte values the key used (a 256-bit set); no payload is kept.
//!
//! **Plain** ([`Plain`]): between a device and a local proxy the spec lets the handshake be
//! skipped, and the frames go in the clear: a 6-byte header (extension type `u16`, whose top
//! bit marks a channel message; message type `u8`; payload length `u24`, all little-endian)
//! and the payload in `binary_sv2` encoding. [`Plain`] reads both directions' frames as views
//! over the bytes (a frame split across segments is copied into a bounded buffer, at most
//! [`MAX_BODY`] bytes of it: every message read here fits, longer ones are only counted) into
//! the same [`SessionFacts`] as the Stratum V1 dialects. Written here over the spec's byte
//! layout rather than with the reference crates (`binary_sv2`, `codec_sv2`), whose decoders
//! want each frame whole in a buffer of their own, and which pull in the Noise and secp256k1
//! stack the product never needs; the tests hold this parser to those crates' encodings.

use super::{Confidence, Limits, SessionFacts, Side, Variant, MAX_METHODS};
use crate::time::Ts;

/// (initiator's first message, responder's reply) in the current spec and in older drafts.
pub const SHAPES: [(u64, u64); 2] = [(64, 234), (32, 170)];

/// What the opening of a connection says so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sv2Verdict {
    /// Still consistent with the handshake: wait for more.
    Undecided,
    /// The exact handshake shape was seen, and the initiator has started its first frame.
    Match,
    /// Not a Stratum V2 handshake.
    NoMatch,
}

/// Byte counts of the first two messages of a connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sv2Shape {
    /// Bytes the initiator sent before the responder's first byte.
    initiator: u64,
    /// Bytes the responder sent before the initiator spoke again.
    responder: u64,
    /// Which byte values the initiator's key used.
    seen: [u64; 4],
    decided: Option<bool>,
}

impl Sv2Shape {
    pub fn new() -> Sv2Shape {
        Sv2Shape::default()
    }

    /// Takes the next in-order bytes of one direction (`from_initiator`: the side that opened
    /// the connection and spoke first).
    pub fn data(&mut self, from_initiator: bool, bytes: &[u8]) -> Sv2Verdict {
        if let Some(d) = self.decided {
            return if d { Sv2Verdict::Match } else { Sv2Verdict::NoMatch };
        }
        if bytes.is_empty() {
            return Sv2Verdict::Undecided;
        }
        let n = bytes.len() as u64;
        let verdict = if from_initiator {
            if self.responder == 0 {
                self.initiator += n;
                for &b in bytes.iter().take(64) {
                    if let Some(w) = self.seen.get_mut(usize::from(b >> 6)) {
                        *w |= 1 << (b & 63);
                    }
                }
                if self.initiator > SHAPES[0].0 {
                    Sv2Verdict::NoMatch
                } else {
                    Sv2Verdict::Undecided
                }
            } else if SHAPES.contains(&(self.initiator, self.responder)) && self.key_looks_random() {
                Sv2Verdict::Match
            } else {
                Sv2Verdict::NoMatch
            }
        } else {
            self.responder += n;
            let expected = SHAPES.iter().find(|s| s.0 == self.initiator).map(|s| s.1);
            match expected {
                Some(e) if self.responder <= e => Sv2Verdict::Undecided,
                _ => Sv2Verdict::NoMatch,
            }
        };
        match verdict {
            Sv2Verdict::Match => self.decided = Some(true),
            Sv2Verdict::NoMatch => self.decided = Some(false),
            Sv2Verdict::Undecided => {}
        }
        verdict
    }

    /// A public key encoding is uniformly random: 64 random bytes take ~57 distinct values and
    /// 32 take ~30; text or structured binary takes far fewer. The thresholds below are
    /// practically never missed by random keys (the chance is below 10^-9).
    fn key_looks_random(&self) -> bool {
        let distinct: u32 = self.seen.iter().map(|w| w.count_ones()).sum();
        match self.initiator {
            64 => distinct >= 40,
            32 => distinct >= 22,
            _ => false,
        }
    }
}

/// Length of a plain frame header: extension type (2), message type (1), payload length (3).
pub const HEADER_LEN: usize = 6;
/// Most bytes of one payload kept when a frame is split across segments: the longest message
/// read here whole is a SetupConnection of four 255-byte strings (1,291 bytes). Of a longer
/// frame (a job with a long merkle path or coinbase) only this much is kept, which is all that
/// is read of it; a longer message of a type read whole is malformed.
pub const MAX_BODY: usize = 1536;
/// The extension type's top bit: a channel message, whose payload opens with a channel id.
const CHANNEL_BIT: u16 = 0x8000;
/// Shortest SetupConnection payload (every string empty) and the longest.
const SETUP_MIN: u32 = 1 + 2 + 2 + 4 + 1 + 2 + 4;
const SETUP_MAX: u32 = 1 + 2 + 2 + 4 + 256 + 2 + 4 * 256;
/// Difficulty 1 on the scale the Stratum V1 dialects use for SHA-256d (a share at difficulty
/// 1 takes 2^32 hashes), so an SV2 target gives a difficulty comparable with V1's.
const TWO_POW_32: f64 = 4_294_967_296.0;

/// The message types read (sv2-spec "Message Types"; `common_messages_sv2`, `mining_sv2`).
pub mod msg {
    pub const SETUP_CONNECTION: u8 = 0x00;
    pub const SETUP_CONNECTION_SUCCESS: u8 = 0x01;
    pub const SETUP_CONNECTION_ERROR: u8 = 0x02;
    pub const RECONNECT: u8 = 0x04;
    pub const OPEN_STANDARD_MINING_CHANNEL: u8 = 0x10;
    pub const OPEN_STANDARD_MINING_CHANNEL_SUCCESS: u8 = 0x11;
    pub const OPEN_MINING_CHANNEL_ERROR: u8 = 0x12;
    pub const OPEN_EXTENDED_MINING_CHANNEL: u8 = 0x13;
    pub const OPEN_EXTENDED_MINING_CHANNEL_SUCCESS: u8 = 0x14;
    pub const NEW_MINING_JOB: u8 = 0x15;
    pub const SUBMIT_SHARES_STANDARD: u8 = 0x1a;
    pub const SUBMIT_SHARES_EXTENDED: u8 = 0x1b;
    pub const SUBMIT_SHARES_SUCCESS: u8 = 0x1c;
    pub const SUBMIT_SHARES_ERROR: u8 = 0x1d;
    pub const NEW_EXTENDED_MINING_JOB: u8 = 0x1f;
    pub const SET_NEW_PREV_HASH: u8 = 0x20;
    pub const SET_TARGET: u8 = 0x21;
}

/// A plain frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The extension type without its channel bit (0: the base protocols).
    pub extension: u16,
    pub channel_msg: bool,
    pub msg_type: u8,
    /// Payload length.
    pub len: u32,
}

impl Header {
    pub fn parse(b: &[u8; HEADER_LEN]) -> Header {
        let [e0, e1, t, l0, l1, l2] = *b;
        let ext = u16::from_le_bytes([e0, e1]);
        Header {
            extension: ext & !CHANNEL_BIT,
            channel_msg: ext & CHANNEL_BIT != 0,
            msg_type: t,
            len: u32::from_le_bytes([l0, l1, l2, 0]),
        }
    }
}

/// Whether `head` opens with the header of a plain SetupConnection, the first message of every
/// plain SV2 connection: extension 0, not a channel message, type 0, a length it can have.
pub fn is_setup_connection(head: &[u8]) -> bool {
    match head {
        [0, 0, 0, a, b, c, ..] => (SETUP_MIN..=SETUP_MAX).contains(&u32::from_le_bytes([*a, *b, *c, 0])),
        _ => false,
    }
}

/// A message of the base protocols, viewed in its payload (`binary_sv2`: little-endian
/// integers, `STR0_255`/`B0_32` with a one-byte length, `U256` as 32 bytes little-endian).
/// Only the fields minewatch uses are taken.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Message<'a> {
    SetupConnection {
        protocol: u8,
        flags: u32,
        endpoint_host: &'a [u8],
        endpoint_port: u16,
        vendor: &'a [u8],
        hardware_version: &'a [u8],
        firmware: &'a [u8],
        device_id: &'a [u8],
    },
    SetupConnectionSuccess {
        used_version: u16,
        flags: u32,
    },
    SetupConnectionError {
        flags: u32,
        error_code: &'a [u8],
    },
    Reconnect {
        new_host: &'a [u8],
        new_port: u16,
    },
    OpenChannel {
        extended: bool,
        request_id: u32,
        user_identity: &'a [u8],
        nominal_hash_rate: f32,
    },
    OpenChannelSuccess {
        extended: bool,
        request_id: u32,
        channel_id: u32,
        target: &'a [u8; 32],
    },
    OpenChannelError {
        request_id: u32,
        error_code: &'a [u8],
    },
    NewJob {
        extended: bool,
        channel_id: u32,
        job_id: u32,
    },
    SetNewPrevHash {
        channel_id: u32,
        job_id: u32,
    },
    SetTarget {
        channel_id: u32,
        maximum_target: &'a [u8; 32],
    },
    SubmitShares {
        extended: bool,
        channel_id: u32,
        sequence_number: u32,
        job_id: u32,
    },
    SubmitSharesSuccess {
        channel_id: u32,
        new_submits_accepted_count: u32,
        new_shares_sum: u64,
    },
    SubmitSharesError {
        channel_id: u32,
        sequence_number: u32,
        error_code: &'a [u8],
    },
    /// Another message type, or another extension's: counted, not read.
    Other {
        msg_type: u8,
    },
}

impl Message<'_> {
    /// The spec's name of the message, for the alert's `methods`.
    pub fn name(&self) -> Option<&'static str> {
        Some(match self {
            Message::SetupConnection { .. } => "SetupConnection",
            Message::SetupConnectionSuccess { .. } => "SetupConnection.Success",
            Message::SetupConnectionError { .. } => "SetupConnection.Error",
            Message::Reconnect { .. } => "Reconnect",
            Message::OpenChannel { extended: false, .. } => "OpenStandardMiningChannel",
            Message::OpenChannel { extended: true, .. } => "OpenExtendedMiningChannel",
            Message::OpenChannelSuccess { extended: false, .. } => "OpenStandardMiningChannel.Success",
            Message::OpenChannelSuccess { extended: true, .. } => "OpenExtendedMiningChannel.Success",
            Message::OpenChannelError { .. } => "OpenMiningChannel.Error",
            Message::NewJob { extended: false, .. } => "NewMiningJob",
            Message::NewJob { extended: true, .. } => "NewExtendedMiningJob",
            Message::SetNewPrevHash { .. } => "SetNewPrevHash",
            Message::SetTarget { .. } => "SetTarget",
            Message::SubmitShares { extended: false, .. } => "SubmitSharesStandard",
            Message::SubmitShares { extended: true, .. } => "SubmitSharesExtended",
            Message::SubmitSharesSuccess { .. } => "SubmitShares.Success",
            Message::SubmitSharesError { .. } => "SubmitShares.Error",
            Message::Other { .. } => return None,
        })
    }
}

/// A cursor over a payload; every read is checked, so a short payload is `None`, never a panic.
struct Cur<'a>(&'a [u8]);

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (a, b) = self.0.split_at_checked(n)?;
        self.0 = b;
        Some(a)
    }
    fn array<const N: usize>(&mut self) -> Option<&'a [u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(*self.array()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(*self.array()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(*self.array()?))
    }
    fn f32(&mut self) -> Option<f32> {
        Some(f32::from_le_bytes(*self.array()?))
    }
    /// `STR0_255` (and `B0_255`): a one-byte length, then the bytes.
    fn str0_255(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }
}

/// The message in a frame's payload (`body`: the payload, or its first [`MAX_BODY`] bytes).
/// `None`: a message of a type read here whose fields do not fit its payload.
pub fn message(h: Header, body: &[u8]) -> Option<Message<'_>> {
    use msg::*;
    let mut c = Cur(body);
    if h.extension != 0 {
        return Some(Message::Other { msg_type: h.msg_type });
    }
    Some(match h.msg_type {
        SETUP_CONNECTION => {
            let protocol = c.u8()?;
            let _min_version = c.u16()?;
            let _max_version = c.u16()?;
            let flags = c.u32()?;
            let endpoint_host = c.str0_255()?;
            let endpoint_port = c.u16()?;
            Message::SetupConnection {
                protocol,
                flags,
                endpoint_host,
                endpoint_port,
                vendor: c.str0_255()?,
                hardware_version: c.str0_255()?,
                firmware: c.str0_255()?,
                device_id: c.str0_255()?,
            }
        }
        SETUP_CONNECTION_SUCCESS => {
            Message::SetupConnectionSuccess { used_version: c.u16()?, flags: c.u32()? }
        }
        SETUP_CONNECTION_ERROR => {
            Message::SetupConnectionError { flags: c.u32()?, error_code: c.str0_255()? }
        }
        RECONNECT => Message::Reconnect { new_host: c.str0_255()?, new_port: c.u16()? },
        OPEN_STANDARD_MINING_CHANNEL | OPEN_EXTENDED_MINING_CHANNEL => Message::OpenChannel {
            extended: h.msg_type == OPEN_EXTENDED_MINING_CHANNEL,
            request_id: c.u32()?,
            user_identity: c.str0_255()?,
            nominal_hash_rate: c.f32()?,
        },
        OPEN_STANDARD_MINING_CHANNEL_SUCCESS | OPEN_EXTENDED_MINING_CHANNEL_SUCCESS => {
            Message::OpenChannelSuccess {
                extended: h.msg_type == OPEN_EXTENDED_MINING_CHANNEL_SUCCESS,
                request_id: c.u32()?,
                channel_id: c.u32()?,
                target: c.array()?,
            }
        }
        OPEN_MINING_CHANNEL_ERROR => {
            Message::OpenChannelError { request_id: c.u32()?, error_code: c.str0_255()? }
        }
        NEW_MINING_JOB | NEW_EXTENDED_MINING_JOB => Message::NewJob {
            extended: h.msg_type == NEW_EXTENDED_MINING_JOB,
            channel_id: c.u32()?,
            job_id: c.u32()?,
        },
        SET_NEW_PREV_HASH => Message::SetNewPrevHash { channel_id: c.u32()?, job_id: c.u32()? },
        SET_TARGET => Message::SetTarget { channel_id: c.u32()?, maximum_target: c.array()? },
        SUBMIT_SHARES_STANDARD | SUBMIT_SHARES_EXTENDED => Message::SubmitShares {
            extended: h.msg_type == SUBMIT_SHARES_EXTENDED,
            channel_id: c.u32()?,
            sequence_number: c.u32()?,
            job_id: c.u32()?,
        },
        SUBMIT_SHARES_SUCCESS => {
            let channel_id = c.u32()?;
            let _last_sequence_number = c.u32()?;
            Message::SubmitSharesSuccess {
                channel_id,
                new_submits_accepted_count: c.u32()?,
                new_shares_sum: c.u64()?,
            }
        }
        SUBMIT_SHARES_ERROR => Message::SubmitSharesError {
            channel_id: c.u32()?,
            sequence_number: c.u32()?,
            error_code: c.str0_255()?,
        },
        t => Message::Other { msg_type: t },
    })
}

/// Hashes a share is expected to take under a `U256` target (little-endian): 2^256 / target.
pub fn target_hashes(target: &[u8; 32]) -> Option<f64> {
    let t = target.iter().rev().fold(0.0f64, |acc, &b| acc * 256.0 + f64::from(b));
    let h = 2f64.powi(256) / t;
    (h.is_finite() && h > 0.0).then_some(h)
}

/// One direction's framing: the header being read, then the payload.
#[derive(Debug, Default)]
struct Framing {
    head: [u8; HEADER_LEN],
    head_len: u8,
    /// The frame whose payload is being read, and its bytes still to come.
    cur: Option<Header>,
    remaining: u32,
    /// The start of a payload split across segments (at most [`MAX_BODY`] bytes).
    buf: Vec<u8>,
}

impl Framing {
    /// Cuts `bytes` into frames, handing `f` each complete one (header and payload, or the
    /// payload's first [`MAX_BODY`] bytes); a payload within one segment is handed in place.
    /// Stops early when `f` says so.
    fn feed(&mut self, mut bytes: &[u8], f: &mut dyn FnMut(Header, &[u8]) -> bool) -> bool {
        while !bytes.is_empty() {
            let Some(h) = self.cur else {
                let have = usize::from(self.head_len);
                let add = (HEADER_LEN - have).min(bytes.len());
                let (now, rest) = bytes.split_at(add);
                if let Some(dst) = self.head.get_mut(have..have + add) {
                    dst.copy_from_slice(now);
                }
                bytes = rest;
                self.head_len = (have + add) as u8;
                if usize::from(self.head_len) == HEADER_LEN {
                    self.head_len = 0;
                    let h = Header::parse(&self.head);
                    self.buf.clear();
                    if h.len == 0 {
                        if !f(h, &[]) {
                            return false;
                        }
                    } else {
                        self.cur = Some(h);
                        self.remaining = h.len;
                    }
                }
                continue;
            };
            let n = bytes.len().min(self.remaining as usize);
            let (now, rest) = bytes.split_at(n);
            bytes = rest;
            self.remaining -= n as u32;
            let done = self.remaining == 0;
            if done && self.buf.is_empty() && n as u32 == h.len {
                self.cur = None;
                if !f(h, now) {
                    return false;
                }
                continue;
            }
            if self.buf.is_empty() {
                // All this frame will keep, at once: the buffer never grows past the bound.
                self.buf.reserve_exact((h.len as usize).min(MAX_BODY));
            }
            let room = MAX_BODY.saturating_sub(self.buf.len()).min(n);
            self.buf.extend_from_slice(now.get(..room).unwrap_or_default());
            if done {
                self.cur = None;
                let body = std::mem::take(&mut self.buf);
                let go = f(h, &body);
                self.buf = body;
                self.buf.clear();
                if !go {
                    return false;
                }
            }
        }
        true
    }

    fn allocated(&self) -> usize {
        self.buf.capacity()
    }
}

/// What a plain SV2 connection said so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlainVerdict {
    /// Plain SV2 (or not yet contradicted): read on.
    Continue,
    /// Not plain SV2 (its first messages are not SetupConnection and its answer, or a message
    /// does not fit its frame before the session was recognised).
    NotSv2,
}

/// A plain (unencrypted) SV2 connection: both directions' framing and the session's facts.
#[derive(Debug)]
pub struct Plain {
    /// Framing of the initiator's bytes (`[0]`) and the responder's (`[1]`).
    framing: [Framing; 2],
    state: PlainState,
}

#[derive(Debug)]
struct PlainState {
    initiator: Side,
    facts: SessionFacts,
    max_field_len: usize,
    /// Frames seen from the initiator and the responder.
    frames: [u64; 2],
    client_mining: bool,
    pool_work: bool,
    pool_push: bool,
    /// Hashes a share takes under the pool's latest target.
    share_hashes: Option<f64>,
    /// Messages whose fields did not fit their frame.
    malformed: u64,
    not_sv2: bool,
}

impl Plain {
    /// A plain SV2 connection opened by `initiator` (the side that sent SetupConnection).
    pub fn new(initiator: Side, limits: Limits) -> Plain {
        Plain {
            framing: [Framing::default(), Framing::default()],
            state: PlainState {
                initiator,
                facts: SessionFacts { variant: Some(Variant::StratumV2), ..SessionFacts::default() },
                max_field_len: limits.max_field_len,
                frames: [0, 0],
                client_mining: false,
                pool_work: false,
                pool_push: false,
                share_hashes: None,
                malformed: 0,
                not_sv2: false,
            },
        }
    }

    /// Takes the next in-order bytes of `side`.
    pub fn data(&mut self, side: Side, bytes: &[u8], ts: Ts) -> PlainVerdict {
        let from_initiator = side == self.state.initiator;
        let st = &mut self.state;
        if st.not_sv2 {
            return PlainVerdict::NotSv2;
        }
        let framing = &mut self.framing[usize::from(!from_initiator)];
        framing.feed(bytes, &mut |h, body| st.frame(from_initiator, h, body, ts));
        if st.not_sv2 {
            PlainVerdict::NotSv2
        } else {
            PlainVerdict::Continue
        }
    }

    pub fn facts(&self) -> &SessionFacts {
        &self.state.facts
    }

    /// As the Stratum V1 session's: confirmed once the miner mined (opened a channel or
    /// submitted) and the pool gave work (a channel, a job, an accepted share); detected on
    /// either alone.
    pub fn confidence(&self) -> Option<Confidence> {
        let s = &self.state;
        if s.client_mining && s.pool_work {
            Some(Confidence::Confirmed)
        } else if s.client_mining || s.pool_work || s.pool_push {
            Some(Confidence::Detected)
        } else {
            None
        }
    }

    /// Messages whose fields did not fit their frame.
    pub fn malformed(&self) -> u64 {
        self.state.malformed
    }

    /// Bytes held for split payloads.
    pub fn allocated(&self) -> usize {
        self.framing.iter().map(Framing::allocated).sum()
    }
}

impl PlainState {
    fn cap(&mut self, b: &[u8]) -> Option<String> {
        if b.is_empty() {
            return None;
        }
        let s = String::from_utf8_lossy(b);
        let (kept, cut) = super::session::capped(&s, self.max_field_len);
        self.facts.truncated |= cut;
        Some(kept.to_owned())
    }

    fn note(&mut self, name: &'static str) {
        let m = &mut self.facts.methods;
        if m.len() < MAX_METHODS && !m.iter().any(|x| x == name) {
            m.push(name.to_owned());
        }
    }

    fn set_target(&mut self, target: &[u8; 32]) {
        let Some(h) = target_hashes(target) else { return };
        self.share_hashes = Some(h);
        let d = h / TWO_POW_32;
        let f = &mut self.facts;
        if f.difficulty != Some(d) {
            f.difficulty_changes = f.difficulty_changes.saturating_add(1);
        }
        f.difficulty = Some(d);
        f.difficulty_min = Some(f.difficulty_min.map_or(d, |m| m.min(d)));
        f.difficulty_max = Some(f.difficulty_max.map_or(d, |m| m.max(d)));
    }

    /// One complete frame. Returns whether to read on.
    fn frame(&mut self, from_initiator: bool, h: Header, body: &[u8], ts: Ts) -> bool {
        let dir = usize::from(!from_initiator);
        let first = self.frames[dir] == 0;
        self.frames[dir] = self.frames[dir].saturating_add(1);
        let Some(m) = message(h, body) else {
            self.malformed = self.malformed.saturating_add(1);
            // Before anything showed mining, a message that does not fit is not SV2.
            self.not_sv2 |= !(self.client_mining || self.pool_work);
            return !self.not_sv2;
        };
        // The first message each way is fixed: SetupConnection, then its answer.
        if first {
            let ok = matches!(
                (from_initiator, &m),
                (true, Message::SetupConnection { .. })
                    | (false, Message::SetupConnectionSuccess { .. } | Message::SetupConnectionError { .. })
            );
            if !ok {
                self.not_sv2 = true;
                return false;
            }
        }
        if let Some(name) = m.name() {
            self.note(name);
        }
        if from_initiator {
            self.facts.client_msgs = self.facts.client_msgs.saturating_add(1);
            self.client(m, ts);
        } else {
            self.facts.pool_msgs = self.facts.pool_msgs.saturating_add(1);
            self.pool(m);
        }
        true
    }

    fn client(&mut self, m: Message<'_>, ts: Ts) {
        match m {
            Message::SetupConnection {
                endpoint_host, vendor, hardware_version, firmware, device_id, ..
            } => {
                self.facts.client = Some(self.initiator);
                self.facts.handshake_seen = true;
                // agent = vendor/hardware/firmware, the empty ones left out.
                let parts: Vec<&[u8]> =
                    [vendor, hardware_version, firmware].into_iter().filter(|p| !p.is_empty()).collect();
                let agent = parts.join(&b'/');
                self.facts.agent = self.cap(&agent);
                if self.facts.worker.is_none() {
                    self.facts.worker = self.cap(device_id);
                }
                // The host the device was told to connect to, when it is a name.
                let named =
                    std::str::from_utf8(endpoint_host).is_ok_and(|h| h.parse::<std::net::IpAddr>().is_err());
                if self.facts.pool_host.is_none() && named {
                    self.facts.pool_host = self.cap(endpoint_host);
                }
            }
            Message::OpenChannel { user_identity, nominal_hash_rate, .. } => {
                self.client_mining = true;
                if self.facts.login.is_none() {
                    if let Some(login) = self.cap(user_identity) {
                        self.identity(&login);
                        self.facts.login = Some(login);
                    }
                }
                let r = f64::from(nominal_hash_rate);
                if r.is_finite() && r > 0.0 {
                    self.facts.reported_hashrate = Some(r);
                }
            }
            Message::SubmitShares { .. } => {
                self.client_mining = true;
                let f = &mut self.facts;
                f.shares_submitted = f.shares_submitted.saturating_add(1);
                f.first_share.get_or_insert(ts);
                f.last_share = Some(ts);
            }
            _ => {}
        }
    }

    /// Wallet, coin and worker from the channel's user identity, as a V1 login.
    fn identity(&mut self, login: &str) {
        let (account, worker, _) = super::session::split_login(login);
        let f = &mut self.facts;
        if let Some(w) = crate::intel::wallet::identify(account) {
            f.wallet = Some(account.to_owned());
            f.coin = Some(w.coin);
            f.wallet_checksum = w.checksum;
        }
        if f.worker.is_none() {
            f.worker = worker.filter(|w| !w.is_empty()).map(|w| w.to_owned());
        }
    }

    fn pool(&mut self, m: Message<'_>) {
        match m {
            Message::SetupConnectionError { error_code, .. }
            | Message::OpenChannelError { error_code, .. } => {
                self.facts.pool_message = self.cap(error_code);
            }
            Message::Reconnect { new_host, new_port } => {
                let host = String::from_utf8_lossy(new_host);
                self.facts.reconnect_to = self.cap(format!("{host}:{new_port}").as_bytes());
            }
            Message::OpenChannelSuccess { target, .. } => {
                self.pool_work = true;
                self.set_target(target);
            }
            Message::SetTarget { maximum_target, .. } => {
                self.pool_push = true;
                self.set_target(maximum_target);
            }
            Message::NewJob { .. } => {
                self.pool_work = true;
                self.facts.jobs = self.facts.jobs.saturating_add(1);
            }
            Message::SetNewPrevHash { .. } => self.pool_push = true,
            Message::SubmitSharesSuccess { new_submits_accepted_count, .. } => {
                self.pool_work = true;
                let mut n = u64::from(new_submits_accepted_count);
                let f = &mut self.facts;
                // Never more than the shares seen submitted: some pools send a running total
                // where the spec says "since the last acknowledgement".
                if f.shares_submitted > 0 {
                    n = n.min(f.shares_submitted.saturating_sub(f.shares_accepted));
                }
                f.shares_accepted = f.shares_accepted.saturating_add(n);
                if let Some(h) = self.share_hashes {
                    f.accepted_hashes += h * n as f64;
                }
            }
            Message::SubmitSharesError { .. } => {
                self.pool_work = true;
                self.facts.shares_rejected = self.facts.shares_rejected.saturating_add(1);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    fn run(steps: &[(bool, Vec<u8>)]) -> Sv2Verdict {
        let mut s = Sv2Shape::new();
        let mut v = Sv2Verdict::Undecided;
        for (from, b) in steps {
            v = s.data(*from, b);
        }
        v
    }

    // ---- plain frames -------------------------------------------------------------------

    fn frame(ext: u16, t: u8, payload: &[u8]) -> Vec<u8> {
        let n = payload.len() as u32;
        let mut f = ext.to_le_bytes().to_vec();
        f.push(t);
        f.extend_from_slice(&n.to_le_bytes()[..3]);
        f.extend_from_slice(payload);
        f
    }

    fn str0(s: &str) -> Vec<u8> {
        let mut v = vec![s.len() as u8];
        v.extend_from_slice(s.as_bytes());
        v
    }

    fn setup() -> Vec<u8> {
        let mut p = vec![0u8, 2, 0, 2, 0, 1, 0, 0, 0];
        p.extend(str0("pool.example.net"));
        p.extend(34255u16.to_le_bytes());
        for s in ["Bitmain", "Antminer S19", "fw-1.2", "dev-7"] {
            p.extend(str0(s));
        }
        frame(0, msg::SETUP_CONNECTION, &p)
    }

    /// A target of 2^224 (little-endian): 2^32 hashes per share, difficulty 1.
    fn target_2_224() -> [u8; 32] {
        let mut t = [0u8; 32];
        t[28] = 1;
        t
    }

    fn session_frames() -> Vec<(bool, Vec<u8>)> {
        let mut open = 7u32.to_le_bytes().to_vec();
        open.extend(str0("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4.rig1"));
        open.extend(1.0e12f32.to_le_bytes());
        open.extend([0xffu8; 32]);
        let mut ok = 7u32.to_le_bytes().to_vec();
        ok.extend(1u32.to_le_bytes());
        ok.extend(target_2_224());
        ok.extend([0u8, 0, 0, 0, 0]);
        let job: Vec<u8> =
            [1u32, 9].iter().flat_map(|v| v.to_le_bytes()).chain([0u8]).chain([0u8; 36]).collect();
        let share: Vec<u8> = [1u32, 0, 9, 5, 6, 7].iter().flat_map(|v| v.to_le_bytes()).collect();
        let share_ok: Vec<u8> =
            [1u32, 0, 1].iter().flat_map(|v| v.to_le_bytes()).chain(1u64.to_le_bytes()).collect();
        let mut share_err: Vec<u8> = [1u32, 1].iter().flat_map(|v| v.to_le_bytes()).collect();
        share_err.extend(str0("stale-share"));
        vec![
            (true, setup()),
            (false, frame(0, msg::SETUP_CONNECTION_SUCCESS, &[2, 0, 0, 0, 0, 0])),
            (true, frame(0, msg::OPEN_STANDARD_MINING_CHANNEL, &open)),
            (false, frame(0, msg::OPEN_STANDARD_MINING_CHANNEL_SUCCESS, &ok)),
            (false, frame(CHANNEL_BIT, msg::NEW_MINING_JOB, &job)),
            (true, frame(CHANNEL_BIT, msg::SUBMIT_SHARES_STANDARD, &share)),
            (false, frame(CHANNEL_BIT, msg::SUBMIT_SHARES_SUCCESS, &share_ok)),
            (true, frame(CHANNEL_BIT, msg::SUBMIT_SHARES_STANDARD, &share)),
            (false, frame(CHANNEL_BIT, msg::SUBMIT_SHARES_ERROR, &share_err)),
            // Another extension's message, and a long job: counted, skipped.
            (false, frame(0x0002, 0x05, &[1, 2, 3])),
            (false, frame(CHANNEL_BIT, msg::NEW_EXTENDED_MINING_JOB, &[0u8; 5000])),
        ]
    }

    fn plain_run(steps: &[(bool, Vec<u8>)], chunk: usize) -> (Plain, PlainVerdict) {
        let mut p = Plain::new(Side::A, Limits::default());
        let mut v = PlainVerdict::Continue;
        for (i, (from_init, bytes)) in steps.iter().enumerate() {
            let side = if *from_init { Side::A } else { Side::B };
            for c in bytes.chunks(chunk) {
                v = p.data(side, c, Ts(i as i64 * 1_000_000));
            }
        }
        (p, v)
    }

    #[test]
    fn plain_session_gives_the_v1_facts_in_any_segmentation() {
        let steps = session_frames();
        let whole: Vec<u8> = steps.iter().flat_map(|(_, b)| b.clone()).collect();
        assert!(is_setup_connection(&whole));
        for chunk in [1, 2, 5, 7, 64, 10_000] {
            let (p, v) = plain_run(&steps, chunk);
            assert_eq!(v, PlainVerdict::Continue, "chunk {chunk}");
            let f = p.facts();
            assert_eq!(f.variant, Some(Variant::StratumV2));
            assert_eq!(f.client, Some(Side::A));
            assert_eq!(f.login.as_deref(), Some("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4.rig1"));
            assert_eq!(f.wallet.as_deref(), Some("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"));
            assert_eq!(f.worker.as_deref(), Some("dev-7"), "device_id first");
            assert_eq!(f.agent.as_deref(), Some("Bitmain/Antminer S19/fw-1.2"));
            assert_eq!(f.pool_host.as_deref(), Some("pool.example.net"));
            assert_eq!(f.reported_hashrate, Some(f64::from(1.0e12f32)));
            assert_eq!(f.difficulty, Some(1.0));
            assert_eq!((f.jobs, f.shares_submitted, f.shares_accepted, f.shares_rejected), (2, 2, 1, 1));
            assert_eq!(f.accepted_hashes, 4_294_967_296.0);
            assert_eq!(f.first_share, Some(Ts(5_000_000)));
            assert_eq!(f.last_share, Some(Ts(7_000_000)));
            assert!(f.methods.iter().any(|m| m == "SubmitShares.Error"));
            assert_eq!(p.confidence(), Some(Confidence::Confirmed));
            assert_eq!(p.malformed(), 0);
            assert!(p.allocated() <= 2 * MAX_BODY, "{}", p.allocated());
        }
    }

    #[test]
    fn not_plain_sv2_and_hostile_frames() {
        // A first message other than SetupConnection, or an answer other than its Success/Error.
        let (_, v) = plain_run(&[(true, frame(0, msg::OPEN_STANDARD_MINING_CHANNEL, &[0; 40]))], 3);
        assert_eq!(v, PlainVerdict::NotSv2);
        let (_, v) = plain_run(&[(true, setup()), (false, frame(0, 0x15, &[0; 45]))], 3);
        assert_eq!(v, PlainVerdict::NotSv2);
        // A SetupConnection whose strings run past its frame.
        let mut bad = setup();
        bad[6 + 9] = 200;
        let (p, v) = plain_run(&[(true, bad)], 4);
        assert_eq!((v, p.malformed()), (PlainVerdict::NotSv2, 1));
        // Header lengths a SetupConnection cannot have.
        assert!(!is_setup_connection(&[0, 0, 0, 3, 0, 0]));
        assert!(!is_setup_connection(&[0, 0, 0, 0xff, 0xff, 0xff]));
        assert!(!is_setup_connection(&[0, 0x80, 0, 40, 0, 0]));
        // A frame announcing 16 MiB keeps at most MAX_BODY of it, and the session goes on.
        let mut steps = session_frames();
        steps.truncate(5);
        let mut huge = vec![0x00, 0x80, msg::NEW_EXTENDED_MINING_JOB, 0xff, 0xff, 0xff];
        huge.extend(vec![7u8; 100_000]);
        steps.push((false, huge));
        let (p, v) = plain_run(&steps, 1000);
        assert_eq!(v, PlainVerdict::Continue);
        assert!(p.allocated() <= 2 * MAX_BODY, "{}", p.allocated());
        assert_eq!(p.facts().jobs, 1, "the unfinished frame is not counted yet");
    }

    #[test]
    fn targets_and_counts_are_clamped() {
        assert_eq!(target_hashes(&target_2_224()), Some(4_294_967_296.0));
        assert_eq!(target_hashes(&[0; 32]), None);
        // A pool that reports a running total is never believed past the shares submitted.
        let mut steps = session_frames();
        steps.truncate(6);
        let total: Vec<u8> =
            [1u32, 0, 50].iter().flat_map(|v| v.to_le_bytes()).chain(1u64.to_le_bytes()).collect();
        steps.push((false, frame(CHANNEL_BIT, msg::SUBMIT_SHARES_SUCCESS, &total)));
        let (p, _) = plain_run(&steps, 9);
        assert_eq!(p.facts().shares_accepted, 1);
    }

    proptest::proptest! {
        /// After a valid opening, any bytes either way, cut anywhere: no panic, and the buffers
        /// and the method list stay within their bounds.
        #[test]
        fn arbitrary_frames_never_panic_nor_grow(
            a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000),
            b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000),
            cut in 1usize..97,
        ) {
            let mut p = Plain::new(Side::A, Limits::default());
            for (i, (from, bytes)) in session_frames().into_iter().take(4).enumerate() {
                let side = if from { Side::A } else { Side::B };
                p.data(side, &bytes, Ts(i as i64));
            }
            for (x, y) in a.chunks(cut).zip(b.chunks(cut + 3)) {
                p.data(Side::A, x, Ts(9));
                p.data(Side::B, y, Ts(9));
                proptest::prop_assert!(p.allocated() <= 2 * MAX_BODY);
            }
            let f = p.facts();
            proptest::prop_assert!(f.methods.len() <= MAX_METHODS);
        }
    }

    #[test]
    fn exact_shapes_match_in_any_segmentation() {
        let key = random(64, 3);
        let reply = random(234, 4);
        assert_eq!(
            run(&[(true, key.clone()), (false, reply.clone()), (true, random(60, 5))]),
            Sv2Verdict::Match
        );
        let split = vec![
            (true, key[..10].to_vec()),
            (true, key[10..].to_vec()),
            (false, reply[..100].to_vec()),
            (false, reply[100..].to_vec()),
            (true, vec![1]),
        ];
        assert_eq!(run(&split), Sv2Verdict::Match);
        assert_eq!(
            run(&[(true, random(32, 6)), (false, random(170, 7)), (true, random(40, 8))]),
            Sv2Verdict::Match
        );
    }

    #[test]
    fn other_shapes_do_not() {
        // Undecided until the initiator speaks again.
        assert_eq!(run(&[(true, random(64, 1)), (false, random(234, 2))]), Sv2Verdict::Undecided);
        // Wrong sizes on either side.
        assert_eq!(run(&[(true, random(65, 1))]), Sv2Verdict::NoMatch);
        assert_eq!(run(&[(true, random(48, 1)), (false, random(10, 2))]), Sv2Verdict::NoMatch);
        assert_eq!(run(&[(true, random(64, 1)), (false, random(235, 2))]), Sv2Verdict::NoMatch);
        assert_eq!(
            run(&[(true, random(64, 1)), (false, random(200, 2)), (true, vec![1])]),
            Sv2Verdict::NoMatch
        );
        // The responder speaking first.
        assert_eq!(run(&[(false, random(234, 2))]), Sv2Verdict::NoMatch);
        // The right sizes, but the "key" is text.
        let text = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".to_vec();
        assert_eq!(run(&[(true, text), (false, random(234, 2)), (true, vec![1])]), Sv2Verdict::NoMatch);
        // Decided stays decided.
        let mut s = Sv2Shape::new();
        assert_eq!(s.data(true, &random(70, 1)), Sv2Verdict::NoMatch);
        assert_eq!(s.data(false, &random(234, 1)), Sv2Verdict::NoMatch);
    }
}
