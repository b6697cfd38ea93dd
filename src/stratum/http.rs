//! Mining over HTTP/1.x: the getwork family (`getwork`, `getblocktemplate`, `submitblock`, and
//! Ethereum's `eth_getWork`/`eth_submitWork`/`eth_submitHashrate` sent to a node), the variant
//! `getwork`.
//!
//! The flow layer hands a connection here only when its client stream opens with `POST `; every
//! other HTTP request line (and everything else that is not JSON) is still bypassed at its
//! first bytes. Both directions are framed as HTTP messages (headers parsed with `httparse`;
//! bodies by `Content-Length` or chunked transfer coding; pipelined requests matched to their
//! responses in order), and each JSON body is parsed with the same borrowed JSON-RPC types as
//! Stratum lines ([`super::message`]).
//!
//! Evidence, as for the line dialects: a request calling a getwork-family method, or carrying
//! `X-Mining-Extensions`/`X-Mining-Hashrate` headers (cgminer, bfgminer), or a POST of JSON-RPC
//! from a miner's User-Agent, is the client mining; work handed out in a response (or pool-only
//! headers such as `X-Long-Polling`, or an accepted share) is the pool's side. Ordinary JSON-RPC
//! over HTTP (`eth_blockNumber`, `eth_call`, `web3_clientVersion`, wallet RPC) carries none of
//! this and is never reported. Facts: login = the HTTP Basic user, pool host = `Host`, agent =
//! `User-Agent`; the Basic password is never kept (unlike Stratum's, it is often a real secret).
//!
//! Bounds (defaults; the configuration may change them, see [`Limits`]): a message head is at
//! most [`MAX_HEAD`] bytes; a body is parsed only up to [`MAX_BODY`] bytes (a larger one is skipped as it streams by, never buffered: a
//! getblocktemplate answer can be megabytes); at most [`MAX_PENDING`] requests await their
//! responses. Anything past a bound, or that does not parse as HTTP, is an [`HttpError`] and
//! the flow layer bypasses the flow unless it is already mining.

use std::collections::VecDeque;

use base64::Engine as _;
use serde_json::value::RawValue;

use super::message;
use super::{Confidence, Limits, SessionFacts, Side, Variant, MAX_METHODS};
use crate::time::Ts;

/// Longest request or status line plus headers.
pub const MAX_HEAD: usize = 8 * 1024;
/// Longest body parsed as JSON.
pub const MAX_BODY: usize = 64 * 1024;
/// Requests remembered while their responses are awaited.
pub const MAX_PENDING: usize = 32;
/// Headers read per message (more is an error).
const MAX_HEADERS: usize = 48;
/// Longest chunk-size line with extensions.
const MAX_CHUNK_LINE: usize = 1024;

/// Miner programs known to speak getwork or getblocktemplate (User-Agent product names).
const MINER_AGENTS: &[&str] = &[
    "cgminer",
    "bfgminer",
    "sgminer",
    "cpuminer",
    "minerd",
    "ccminer",
    "cudaminer",
    "ethminer",
    "poclbm",
    "phoenix",
    "diablominer",
    "guiminer",
    "bitminter",
    "btcminer",
    "ufasoft",
    "nsgminer",
    "bitcoin-miner",
];

/// Why a direction could not be read as HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// Not HTTP/1.x, or a header that does not parse.
    Syntax,
    /// A head longer than [`MAX_HEAD`], a bad chunk line, or too many requests in flight.
    Bound,
}

/// What a request asked for, remembered until its response comes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReqKind {
    /// Nothing mining-specific.
    Other,
    /// getwork without data, getblocktemplate, eth_getWork: the answer is work.
    Work,
    /// getwork with data, submitblock, eth_submitWork: the answer judges a share.
    Submit,
    /// eth_submitHashrate and headers-only mining requests: the answer carries nothing.
    MiningOther,
}

/// The facts of one message head, copied out of the parser's borrow.
#[derive(Debug, Default)]
struct Head {
    post: bool,
    status: u16,
    host: Option<String>,
    agent: Option<String>,
    login: Option<String>,
    /// X-Mining-Extensions / X-Mining-Hashrate (client) or X-Long-Polling / X-Roll-NTime /
    /// X-Reject-Reason (pool).
    mining_header: bool,
    content_length: Option<usize>,
    chunked: bool,
}

/// Where a direction is in its current message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Head,
    /// `left` body bytes to come.
    Length {
        left: usize,
    },
    ChunkSize,
    ChunkData {
        left: usize,
    },
    ChunkEnd,
    Trailers,
    /// A response framed by the connection's end: its body is not read.
    UntilClose,
}

#[derive(Debug)]
struct Dir {
    /// Bytes not yet consumed (a partial head or chunk line); compacted after every push.
    buf: Vec<u8>,
    framing: Framing,
    /// The body being gathered (at most [`MAX_BODY`] bytes); `overflow` once it was longer.
    body: Vec<u8>,
    overflow: bool,
    head: Head,
}

impl Dir {
    fn new() -> Dir {
        Dir {
            buf: Vec::new(),
            framing: Framing::Head,
            body: Vec::new(),
            overflow: false,
            head: Head::default(),
        }
    }
}

/// One HTTP connection's mining state. `client` is the direction index (0 or 1) of the side
/// that sent `POST`; the flow layer maps its sides onto it.
#[derive(Debug)]
pub struct HttpSession {
    dirs: [Dir; 2],
    pending: VecDeque<ReqKind>,
    facts: SessionFacts,
    client_mining: bool,
    pool_work: bool,
    limits: Limits,
}

/// What one push found: messages with and without mining meaning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pushed {
    pub mining: u32,
    pub other: u32,
    pub requests: u32,
}

impl Default for HttpSession {
    fn default() -> Self {
        HttpSession::new()
    }
}

impl HttpSession {
    /// With the default [`Limits`].
    pub fn new() -> HttpSession {
        HttpSession::with_limits(Limits::default())
    }

    /// With the bounds the configuration gives.
    pub fn with_limits(limits: Limits) -> HttpSession {
        HttpSession {
            dirs: [Dir::new(), Dir::new()],
            pending: VecDeque::new(),
            facts: SessionFacts::default(),
            client_mining: false,
            pool_work: false,
            limits,
        }
    }

    /// Names the side that sent the requests (the miner, once there is evidence).
    pub fn with_client(mut self, side: Side) -> HttpSession {
        self.facts.client = Some(side);
        self
    }

    pub fn facts(&self) -> &SessionFacts {
        &self.facts
    }

    /// `None` until mining evidence: `Confirmed` with both sides, else `Detected`.
    pub fn confidence(&self) -> Option<Confidence> {
        match (self.client_mining, self.pool_work) {
            (true, true) => Some(Confidence::Confirmed),
            (false, false) => None,
            _ => Some(Confidence::Detected),
        }
    }

    /// Bytes held between pushes (partial heads and bodies being gathered).
    pub fn buffered(&self) -> usize {
        self.dirs.iter().map(|d| d.buf.capacity() + d.body.capacity()).sum()
    }

    /// Takes the next in-order bytes from the client (requests) or the server (responses).
    pub fn push(&mut self, from_client: bool, data: &[u8], ts: Ts) -> Result<Pushed, HttpError> {
        let i = usize::from(!from_client);
        let mut out = Pushed::default();
        let Some(dir) = self.dirs.get_mut(i) else { return Ok(out) };
        if dir.framing == Framing::UntilClose {
            return Ok(out);
        }
        dir.buf.extend_from_slice(data);
        let mut pos = 0;
        let result = loop {
            match self.step(i, pos, ts, &mut out) {
                Ok(Some(p)) => pos = p,
                Ok(None) => break Ok(out),
                Err(e) => break Err(e),
            }
        };
        if let Some(dir) = self.dirs.get_mut(i) {
            dir.buf.drain(..pos.min(dir.buf.len()));
            if dir.framing == Framing::UntilClose {
                dir.buf = Vec::new();
            }
        }
        result
    }

    /// One framing step on direction `i` from `pos`: the new position, or `None` when more
    /// bytes are needed.
    fn step(&mut self, i: usize, pos: usize, ts: Ts, out: &mut Pushed) -> Result<Option<usize>, HttpError> {
        let from_client = i == 0;
        let (max_head, max_body) = (self.limits.http_max_head, self.limits.http_max_body);
        let Some(dir) = self.dirs.get_mut(i) else { return Ok(None) };
        let rest = dir.buf.get(pos..).unwrap_or_default();
        if rest.is_empty() && !matches!(dir.framing, Framing::Length { left: 0 }) {
            return Ok(None);
        }
        match dir.framing {
            Framing::Head => {
                let parsed = if from_client { parse_request(rest) } else { parse_response(rest) };
                let Some((n, head)) = parsed? else {
                    return if rest.len() > max_head { Err(HttpError::Bound) } else { Ok(None) };
                };
                if n > max_head {
                    return Err(HttpError::Bound);
                }
                dir.body.clear();
                dir.overflow = false;
                let informational = !from_client && (100..200).contains(&head.status);
                let no_body = !from_client && (informational || head.status == 204 || head.status == 304);
                dir.framing = if no_body {
                    Framing::Length { left: 0 }
                } else if head.chunked {
                    Framing::ChunkSize
                } else if let Some(len) = head.content_length {
                    Framing::Length { left: len }
                } else if from_client {
                    Framing::Length { left: 0 }
                } else {
                    Framing::UntilClose
                };
                dir.head = head;
                if informational {
                    // 100 Continue: the real response follows.
                    dir.framing = Framing::Head;
                    return Ok(Some(pos + n));
                }
                if dir.framing == Framing::UntilClose {
                    self.message_done(i, ts, out)?;
                    return Ok(None);
                }
                Ok(Some(pos + n))
            }
            Framing::Length { left } => {
                let take = left.min(rest.len());
                let chunk = rest.get(..take).unwrap_or_default();
                gather(&mut dir.body, &mut dir.overflow, chunk, max_body);
                let left = left - take;
                dir.framing = Framing::Length { left };
                if left == 0 {
                    dir.framing = Framing::Head;
                    self.message_done(i, ts, out)?;
                }
                Ok(Some(pos + take))
            }
            Framing::ChunkSize => match httparse::parse_chunk_size(rest) {
                Ok(httparse::Status::Complete((n, size))) => {
                    let size = usize::try_from(size).map_err(|_| HttpError::Bound)?;
                    dir.framing =
                        if size == 0 { Framing::Trailers } else { Framing::ChunkData { left: size } };
                    Ok(Some(pos + n))
                }
                Ok(httparse::Status::Partial) if rest.len() <= MAX_CHUNK_LINE => Ok(None),
                _ => Err(HttpError::Bound),
            },
            Framing::ChunkData { left } => {
                let take = left.min(rest.len());
                gather(&mut dir.body, &mut dir.overflow, rest.get(..take).unwrap_or_default(), max_body);
                dir.framing =
                    if take == left { Framing::ChunkEnd } else { Framing::ChunkData { left: left - take } };
                Ok(Some(pos + take))
            }
            Framing::ChunkEnd => match rest {
                [b'\r', b'\n', ..] => {
                    dir.framing = Framing::ChunkSize;
                    Ok(Some(pos + 2))
                }
                [b'\r'] => Ok(None),
                _ => Err(HttpError::Syntax),
            },
            Framing::Trailers => {
                let end = if rest.starts_with(b"\r\n") {
                    Some(2)
                } else {
                    memchr::memmem::find(rest, b"\r\n\r\n").map(|p| p + 4)
                };
                match end {
                    Some(n) => {
                        dir.framing = Framing::Head;
                        self.message_done(i, ts, out)?;
                        Ok(Some(pos + n))
                    }
                    None if rest.len() > max_head => Err(HttpError::Bound),
                    None => Ok(None),
                }
            }
            Framing::UntilClose => Ok(None),
        }
    }

    /// A whole message (head and body) has been read on direction `i`.
    fn message_done(&mut self, i: usize, ts: Ts, out: &mut Pushed) -> Result<(), HttpError> {
        let Some(dir) = self.dirs.get_mut(i) else { return Ok(()) };
        let head = std::mem::take(&mut dir.head);
        let body = std::mem::take(&mut dir.body);
        let overflow = dir.overflow;
        let mining = if i == 0 {
            out.requests += 1;
            self.request(&head, (!overflow).then_some(body.as_slice()), ts)?
        } else {
            let body = (!overflow && dir.framing != Framing::UntilClose).then_some(body.as_slice());
            self.response(&head, body, ts)
        };
        if let Some(dir) = self.dirs.get_mut(i) {
            // Keep the allocation for the next message unless it grew large.
            dir.body = if body.capacity() <= 4096 { body } else { Vec::new() };
            dir.body.clear();
        }
        if mining {
            out.mining += 1;
        } else {
            out.other += 1;
        }
        Ok(())
    }

    /// A request: classifies its JSON-RPC call and records the client's facts. Returns whether
    /// it was a mining request.
    fn request(&mut self, head: &Head, body: Option<&[u8]>, ts: Ts) -> Result<bool, HttpError> {
        let mut kind = ReqKind::Other;
        let mut json_rpc = false;
        if let Some(Ok(parsed)) = body.filter(|_| head.post).map(message::parse_line) {
            for msg in parsed.messages() {
                let Some(method) = msg.method.as_deref() else { continue };
                json_rpc = true;
                let k = classify(method, msg.params);
                if k != ReqKind::Other {
                    self.note_method(method);
                    if k == ReqKind::Submit {
                        self.share(ts);
                    }
                    if kind == ReqKind::Other || k == ReqKind::Submit {
                        kind = k;
                    }
                }
            }
        }
        let miner_agent = head.agent.as_deref().is_some_and(is_miner_agent);
        if kind == ReqKind::Other && head.post && (head.mining_header || (json_rpc && miner_agent)) {
            kind = ReqKind::MiningOther;
        }
        if self.pending.len() >= self.limits.http_max_pending {
            return Err(HttpError::Bound);
        }
        self.pending.push_back(kind);
        if kind == ReqKind::Other {
            return Ok(false);
        }
        self.client_mining = true;
        let max = self.limits.max_field_len;
        let f = &mut self.facts;
        f.variant = Some(Variant::Getwork);
        f.client_msgs = f.client_msgs.saturating_add(1);
        if f.login.is_none() {
            f.login = head.login.as_deref().map(|s| cap(s, max, &mut f.truncated));
        }
        if f.pool_host.is_none() {
            f.pool_host = head.host.as_deref().map(|s| cap(s, max, &mut f.truncated));
        }
        if f.agent.is_none() {
            f.agent = head.agent.as_deref().map(|s| cap(s, max, &mut f.truncated));
        }
        Ok(true)
    }

    /// A response, matched to the oldest unanswered request. Returns whether it carried mining
    /// meaning.
    fn response(&mut self, head: &Head, body: Option<&[u8]>, _ts: Ts) -> bool {
        let Some(kind) = self.pending.pop_front() else { return false };
        if kind == ReqKind::Other || !(200..300).contains(&head.status) {
            return false;
        }
        let mut work = head.mining_header;
        let f = &mut self.facts;
        match body.map(message::parse_line) {
            Some(Ok(parsed)) => {
                for msg in parsed.messages().filter(|m| m.is_response()) {
                    match kind {
                        ReqKind::Work if msg.result.is_some_and(|r| r.get() != "null") => {
                            f.jobs = f.jobs.saturating_add(1);
                            work = true;
                        }
                        ReqKind::Submit => {
                            if share_accepted(msg.result, msg.error) {
                                f.shares_accepted = f.shares_accepted.saturating_add(1);
                                work = true;
                            } else {
                                f.shares_rejected = f.shares_rejected.saturating_add(1);
                            }
                        }
                        _ => {}
                    }
                }
            }
            // A 2xx answer to a work request too large to parse (a full getblocktemplate) is work.
            None if kind == ReqKind::Work => {
                f.jobs = f.jobs.saturating_add(1);
                work = true;
            }
            _ => {}
        }
        if work {
            self.pool_work = true;
            f.pool_msgs = f.pool_msgs.saturating_add(1);
        }
        work
    }

    fn note_method(&mut self, method: &str) {
        let f = &mut self.facts;
        if f.methods.len() < MAX_METHODS && !f.methods.iter().any(|m| m == method) {
            let m = cap(method, self.limits.max_field_len, &mut f.truncated);
            f.methods.push(m);
        }
    }

    fn share(&mut self, ts: Ts) {
        let f = &mut self.facts;
        f.shares_submitted = f.shares_submitted.saturating_add(1);
        f.first_share.get_or_insert(ts);
        f.last_share = Some(ts);
    }
}

/// Appends to a body being gathered, up to `max` bytes ([`Limits::http_max_body`]); past it
/// only `overflow` is set.
fn gather(body: &mut Vec<u8>, overflow: &mut bool, chunk: &[u8], max: usize) {
    if *overflow || body.len() + chunk.len() > max {
        *overflow = true;
        body.clear();
        return;
    }
    body.extend_from_slice(chunk);
}

/// Copies at most `max` bytes of `s` ([`Limits::max_field_len`]), cut on a char boundary.
fn cap(s: &str, max: usize, truncated: &mut bool) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    *truncated = true;
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_owned()
}

/// The getwork-family methods and what their answer will be.
fn classify(method: &str, params: Option<&RawValue>) -> ReqKind {
    match method {
        // getwork with a data parameter submits a solved header; without, it asks for work.
        "getwork" => {
            if params.and_then(message::elements::<1>).is_some_and(|(_, len)| len > 0) {
                ReqKind::Submit
            } else {
                ReqKind::Work
            }
        }
        "getblocktemplate" | "eth_getWork" => ReqKind::Work,
        "submitblock" | "eth_submitWork" => ReqKind::Submit,
        "eth_submitHashrate" => ReqKind::MiningOther,
        _ => ReqKind::Other,
    }
}

/// Whether a share's answer accepts it: `true`, or (submitblock) `null` without an error.
fn share_accepted(result: Option<&RawValue>, error: Option<&RawValue>) -> bool {
    if error.is_some() {
        return false;
    }
    match result {
        None => true,
        Some(r) => r.get().trim() == "true",
    }
}

fn is_miner_agent(agent: &str) -> bool {
    let product = agent.split(['/', ' ']).next().unwrap_or("");
    MINER_AGENTS.iter().any(|m| product.eq_ignore_ascii_case(m))
}

fn header_str(v: &[u8]) -> Option<&str> {
    std::str::from_utf8(v).ok().map(str::trim).filter(|s| !s.is_empty())
}

/// The head facts shared by requests and responses.
fn read_headers(headers: &[httparse::Header<'_>], head: &mut Head) -> Result<(), HttpError> {
    for h in headers {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            let len = header_str(h.value).and_then(|s| s.parse::<usize>().ok()).ok_or(HttpError::Syntax)?;
            if head.content_length.is_some_and(|l| l != len) {
                return Err(HttpError::Syntax);
            }
            head.content_length = Some(len);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked |= header_str(h.value).is_some_and(|v| {
                v.rsplit(',').next().is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
            });
        } else if name.eq_ignore_ascii_case("host") {
            head.host = header_str(h.value).map(str::to_owned);
        } else if name.eq_ignore_ascii_case("user-agent") {
            head.agent = header_str(h.value).map(str::to_owned);
        } else if name.eq_ignore_ascii_case("authorization") {
            head.login = header_str(h.value).and_then(basic_user);
        } else if [
            "x-mining-extensions",
            "x-mining-hashrate",
            "x-long-polling",
            "x-roll-ntime",
            "x-reject-reason",
        ]
        .iter()
        .any(|m| name.eq_ignore_ascii_case(m))
        {
            head.mining_header = true;
        }
    }
    Ok(())
}

/// The user of an HTTP Basic `Authorization` value.
fn basic_user(value: &str) -> Option<String> {
    let (scheme, cred) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(cred.trim()).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let user = text.split(':').next().unwrap_or("");
    (!user.is_empty()).then(|| user.to_owned())
}

fn parse_request(buf: &[u8]) -> Result<Option<(usize, Head)>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => {
            let mut head = Head { post: req.method == Some("POST"), ..Head::default() };
            read_headers(req.headers, &mut head)?;
            Ok(Some((n, head)))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(HttpError::Bound),
        Err(_) => Err(HttpError::Syntax),
    }
}

fn parse_response(buf: &[u8]) -> Result<Option<(usize, Head)>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => {
            let mut head = Head { status: resp.code.unwrap_or(0), ..Head::default() };
            read_headers(resp.headers, &mut head)?;
            Ok(Some((n, head)))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(HttpError::Bound),
        Err(_) => Err(HttpError::Syntax),
    }
}

/// Whether a stream's first bytes may open an HTTP POST: `Some(true)` on `POST `, `None` while
/// they are a prefix of it.
pub fn may_start_post(prefix: &[u8]) -> Option<bool> {
    const POST: &[u8] = b"POST ";
    let n = prefix.len().min(POST.len());
    if prefix.get(..n) != POST.get(..n) {
        Some(false)
    } else if n == POST.len() {
        Some(true)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(body: &str, extra: &str) -> String {
        format!(
            "POST / HTTP/1.1\r\nHost: pool.example.net:8332\r\nAuthorization: Basic {}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            base64::engine::general_purpose::STANDARD.encode("worker1.rig:secret"),
            body.len()
        )
    }

    fn ok(body: &str, extra: &str) -> String {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    #[test]
    fn getwork_session_bytewise_and_pipelined() {
        let mut s = HttpSession::new();
        let reqs = format!(
            "{}{}",
            post(r#"{"method":"getwork","params":[],"id":0}"#, "User-Agent: cgminer/4.10.0\r\nX-Mining-Extensions: longpoll midstate rollntime submitold\r\n"),
            post(r#"{"method":"getwork","params":["000000020000"],"id":1}"#, "")
        );
        for b in reqs.as_bytes() {
            s.push(true, std::slice::from_ref(b), Ts(1)).unwrap();
        }
        assert_eq!(s.confidence(), Some(Confidence::Detected));
        let f = s.facts();
        assert_eq!(f.variant, Some(Variant::Getwork));
        assert_eq!(f.login.as_deref(), Some("worker1.rig"));
        assert_eq!(f.pool_host.as_deref(), Some("pool.example.net:8332"));
        assert_eq!(f.agent.as_deref(), Some("cgminer/4.10.0"));
        assert_eq!(f.shares_submitted, 1);
        assert_eq!(f.password, None);
        let resps = format!(
            "{}{}",
            ok(
                r#"{"result":{"data":"00000002","target":"ffff"},"error":null,"id":0}"#,
                "X-Long-Polling: /LP\r\n"
            ),
            ok(r#"{"result":true,"error":null,"id":1}"#, "")
        );
        let p = s.push(false, resps.as_bytes(), Ts(2)).unwrap();
        assert_eq!(p.mining, 2);
        assert_eq!(s.confidence(), Some(Confidence::Confirmed));
        assert_eq!((s.facts().jobs, s.facts().shares_accepted), (1, 1));
        assert_eq!(s.facts().methods, vec!["getwork".to_string()]);
    }

    #[test]
    fn chunked_getblocktemplate_and_large_bodies() {
        let mut s = HttpSession::new();
        s.push(
            true,
            post(
                r#"{"jsonrpc":"1.0","method":"getblocktemplate","params":[{"rules":["segwit"]}],"id":"gbt"}"#,
                "",
            )
            .as_bytes(),
            Ts(1),
        )
        .unwrap();
        let body = r#"{"result":{"version":536870912,"previousblockhash":"00","transactions":[]},"error":null,"id":"gbt"}"#;
        let (a, b) = body.split_at(40);
        let chunked = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\n\r\n",
            a.len(),
            b.len()
        );
        for part in chunked.as_bytes().chunks(7) {
            s.push(false, part, Ts(2)).unwrap();
        }
        assert_eq!(s.facts().jobs, 1);
        assert_eq!(s.confidence(), Some(Confidence::Confirmed));
        // A body beyond the parse bound streams by unparsed; a work answer still counts.
        s.push(true, post(r#"{"method":"getblocktemplate","params":[],"id":2}"#, "").as_bytes(), Ts(3))
            .unwrap();
        let big = format!("{{\"result\":{{\"txs\":\"{}\"}},\"id\":2}}", "a".repeat(MAX_BODY));
        s.push(false, ok(&big, "").as_bytes(), Ts(4)).unwrap();
        assert_eq!(s.facts().jobs, 2);
        assert!(s.buffered() < 2 * MAX_BODY);
    }

    #[test]
    fn ethereum_getwork_is_mining_but_node_rpc_is_not() {
        let mut node = HttpSession::new();
        for m in ["eth_blockNumber", "eth_call", "web3_clientVersion", "eth_getBlockByNumber"] {
            let req = post(
                &format!(r#"{{"jsonrpc":"2.0","method":"{m}","params":[],"id":1}}"#),
                "User-Agent: Go-http-client/1.1\r\n",
            );
            node.push(true, req.as_bytes(), Ts(1)).unwrap();
            node.push(false, ok(r#"{"jsonrpc":"2.0","id":1,"result":"0x12e4a31"}"#, "").as_bytes(), Ts(1))
                .unwrap();
        }
        assert_eq!(node.confidence(), None);
        assert!(node.facts().methods.is_empty());

        let mut eth = HttpSession::new();
        eth.push(
            true,
            post(r#"{"jsonrpc":"2.0","method":"eth_getWork","params":[],"id":1}"#, "").as_bytes(),
            Ts(1),
        )
        .unwrap();
        eth.push(
            false,
            ok(r#"{"jsonrpc":"2.0","id":1,"result":["0xaa","0xbb","0xcc"]}"#, "").as_bytes(),
            Ts(1),
        )
        .unwrap();
        eth.push(
            true,
            post(r#"{"jsonrpc":"2.0","method":"eth_submitWork","params":["0x1","0x2","0x3"],"id":2}"#, "")
                .as_bytes(),
            Ts(2),
        )
        .unwrap();
        eth.push(false, ok(r#"{"jsonrpc":"2.0","id":2,"result":false}"#, "").as_bytes(), Ts(2)).unwrap();
        assert_eq!(eth.confidence(), Some(Confidence::Confirmed));
        let f = eth.facts();
        assert_eq!((f.jobs, f.shares_submitted, f.shares_accepted, f.shares_rejected), (1, 1, 0, 1));
    }

    #[test]
    fn miner_agent_needs_json_rpc_and_errors_are_reported() {
        let mut s = HttpSession::new();
        let req = "POST /login HTTP/1.1\r\nUser-Agent: cpuminer/2.5\r\nContent-Length: 3\r\n\r\na=b";
        s.push(true, req.as_bytes(), Ts(1)).unwrap();
        assert_eq!(s.confidence(), None);
        assert_eq!(
            HttpSession::new().push(true, b"POST / HTTP/1.1\r\nBad Header\r\n\r\n", Ts(1)),
            Err(HttpError::Syntax)
        );
        let huge = format!("POST / HTTP/1.1\r\nX: {}\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(HttpSession::new().push(true, huge.as_bytes(), Ts(1)), Err(HttpError::Bound));
        let mut s = HttpSession::new();
        let bad_chunk = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        s.push(true, post("{}", "").as_bytes(), Ts(1)).unwrap();
        assert_eq!(s.push(false, bad_chunk.as_bytes(), Ts(1)), Err(HttpError::Bound));
    }

    #[test]
    fn configured_limits_bound_pending_requests_and_fields() {
        let limits = Limits { max_field_len: 16, http_max_pending: 2, ..Limits::default() };
        let mut s = HttpSession::with_limits(limits);
        let getwork = r#"{"id":1,"method":"getwork","params":[]}"#;
        s.push(true, post(getwork, "").as_bytes(), Ts(1)).unwrap();
        // The Host header, 22 bytes, is cut to the configured 16.
        assert_eq!(s.facts().pool_host.as_deref(), Some("pool.example.net"));
        assert!(s.facts().truncated);
        s.push(true, post(getwork, "").as_bytes(), Ts(2)).unwrap();
        // A third request with two unanswered is over the configured bound.
        assert_eq!(s.push(true, post(getwork, "").as_bytes(), Ts(3)), Err(HttpError::Bound));

        // A head over the configured bound, well under the default one.
        let small = Limits { http_max_head: 1024, ..Limits::default() };
        let head = format!("POST / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(1100));
        assert!(head.len() < MAX_HEAD);
        assert_eq!(HttpSession::new().push(true, head.as_bytes(), Ts(1)).map(|_| ()), Ok(()));
        assert_eq!(HttpSession::with_limits(small).push(true, head.as_bytes(), Ts(1)), Err(HttpError::Bound));
        // A body over the configured bound is not gathered, where the default bound gathers it.
        let big = format!("{{\"result\":{{\"txs\":\"{}\"}},\"id\":2}}", "a".repeat(4000));
        let answer = ok(&big, "");
        let (head_part, body) = answer.split_at(answer.len() - big.len());
        let held = |limits: Limits| {
            let mut s = HttpSession::with_limits(limits);
            let gbt = post(r#"{"method":"getblocktemplate","params":[],"id":2}"#, "");
            s.push(true, gbt.as_bytes(), Ts(3)).unwrap();
            s.push(false, head_part.as_bytes(), Ts(4)).unwrap();
            s.push(false, &body.as_bytes()[..3000], Ts(4)).unwrap();
            s.buffered()
        };
        let (small, default) =
            (held(Limits { http_max_body: 1024, ..Limits::default() }), held(Limits::default()));
        assert!(small + 1900 <= default, "{small} {default}");
    }

    #[test]
    fn post_prefix() {
        assert_eq!(may_start_post(b""), None);
        assert_eq!(may_start_post(b"PO"), None);
        assert_eq!(may_start_post(b"POST /"), Some(true));
        assert_eq!(may_start_post(b"GET /"), Some(false));
        assert_eq!(may_start_post(b"POSTX"), Some(false));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let mut s = HttpSession::new();
            let mut req = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            req.extend_from_slice(&a);
            let _ = s.push(true, &req, Ts(0));
            let mut resp = b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n".to_vec();
            resp.extend_from_slice(&b);
            let _ = s.push(false, &resp, Ts(0));
            proptest::prop_assert!(s.buffered() <= 4 * (MAX_HEAD + MAX_BODY));
        }
    }
}
