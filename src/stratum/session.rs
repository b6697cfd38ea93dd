//! The per-connection dialect state machine: from parsed messages to [`SessionFacts`].
//!
//! Dialects recognised (all newline-delimited JSON-RPC):
//! - **stratum-v1** (`mining.subscribe`/`authorize`/`submit`, pool `mining.notify`,
//!   `mining.set_difficulty`, Zcash's `mining.set_target`) with its extensions
//!   (`mining.configure` version rolling, `mining.extranonce.subscribe`,
//!   `mining.suggest_difficulty`/`suggest_target`, pool `mining.set_extranonce`,
//!   `mining.set_version_mask`, `client.reconnect`, `client.get_version`, `client.show_message`);
//! - **ethereum-stratum**: EthereumStratum/1.0.0 (NiceHash: a subscribe naming
//!   `EthereumStratum/...` or answered so, or a `mining.notify` of the ETH shape
//!   `[job, seedhash, headerhash, clean]`) and EthereumStratum/2.0.0 (`mining.hello`,
//!   `mining.set`, `mining.hashrate`, `mining.noop`, `mining.bye`);
//! - **cryptonote** (XMRig and xmrig-proxy: `login`/`submit`/`keepalived`, pool `job`, NiceHash
//!   mode from the login's `nicehash` flag or the pool's `extensions`);
//! - **eth-proxy** (ethminer: `eth_submitLogin`/`eth_getWork`/`eth_submitWork`/
//!   `eth_submitHashrate`, pool work pushed as an `"id":0` response).
//!
//! Only a method name (after unescaping) or a response to a tracked request is evidence: a
//! mining keyword inside a string value means nothing. Generic names (`login`, `submit`, `job`)
//! count only with their dialect's parameter shape; names that are too weak alone
//! (`keepalived`, `client.reconnect`, ...) count only once the session already has a dialect.
//!
//! Roles come from who sends what: the sender of client methods is the miner, the sender of
//! pool methods or of answers to the miner's requests is the pool. The first evidence fixes the
//! role; a later message that contradicts it is counted in [`Session::role_conflicts`] and
//! contributes no facts (it still makes its line [`LineKind::Mining`]).
//!
//! Limits (defaults; the configuration may change them, see [`super::Limits`]): at most
//! [`MAX_PENDING`] unanswered requests are remembered (oldest evicted and
//! counted), request ids longer than [`MAX_ID_LEN`] bytes are not tracked, every stored string
//! is capped at [`super::MAX_FIELD_LEN`], and `methods` holds at most [`MAX_METHODS`] names. Nothing
//! a peer sends can grow a session beyond these.

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};

use serde_json::value::RawValue;

use super::message::{self, as_f64, as_str, elements, fields, is_false, is_true, Message};
#[cfg(test)]
use super::MAX_FIELD_LEN;
use super::{Confidence, Limits, SessionFacts, Side, Variant, MAX_EXTENSIONS, MAX_METHODS};
use crate::time::Ts;

/// Unanswered requests remembered per session. Real miners have a handful in flight; a peer
/// that never answers makes us evict the oldest rather than grow.
pub const MAX_PENDING: usize = 64;
/// Longest request id (its JSON text) we track. Real ids are small integers or short strings.
pub const MAX_ID_LEN: usize = 64;
/// Most cryptonote `algo` list entries joined into `facts.algo`.
const MAX_ALGOS: usize = 16;
/// Longest share target kept (256 bits in hex, with a `0x`).
const MAX_TARGET_LEN: usize = 66;
/// 2^32: hashes of a difficulty-1 share in SHA-256d Stratum and EthereumStratum.
const TWO_POW_32: f64 = 4_294_967_296.0;
/// Equihash (Zcash pools): difficulty 1 is the target 0x0007ff...ff, i.e. 2^256 / that
/// = 2^13 expected solutions per share.
const EQUIHASH_HASHES_PER_DIFF1: f64 = 8192.0;
/// Longest `client.show_message` text kept.
const MAX_MESSAGE_LEN: usize = 256;

/// What one line turned out to be, so the flow layer can decide when to give up on a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    /// Not a JSON object or array (after the cheap probe let it through, serde_json said no).
    NotJson,
    /// Valid JSON, but nothing mining-specific: plain JSON-RPC, Electrum, Ethereum node RPC.
    OtherJson,
    /// A message of a mining dialect, from either side.
    Mining,
}

/// A client request whose answer we wait for, so the answer can be interpreted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReqKind {
    Subscribe,
    Authorize,
    V1Submit,
    /// extranonce.subscribe, configure, suggest_difficulty, ...: answers carry no facts.
    V1Other,
    CnLogin,
    CnSubmit,
    CnKeepalive,
    EthLogin,
    EthGetWork,
    EthSubmitWork,
    EthHashrate,
    /// `client.get_version`, asked by the pool: the miner's answer is its agent.
    GetVersion,
}

/// Which end a method belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Client,
    Pool,
}

/// A recognised method call with the facts pulled out of its params.
#[derive(Debug)]
enum Call {
    Subscribe {
        agent: Option<String>,
        ethereum_stratum: bool,
    },
    Hello {
        agent: Option<String>,
    },
    Authorize {
        login: Option<String>,
        pass: Option<String>,
    },
    V1Submit {
        worker: Option<String>,
        /// EthereumStratum/2.0.0 puts the worker last: `[job, nonce, worker]`.
        es2_worker: Option<String>,
    },
    /// mining.configure with the extensions it asks for.
    Configure(Vec<&'static str>),
    ExtranonceSubscribe,
    SuggestDifficulty(Option<f64>),
    /// get_transactions, multi_version, suggest_target, pong, noop, bye, ...
    V1ClientOther,
    /// EthereumStratum/2.0.0 `mining.hashrate` (self-reported, H/s).
    Hashrate(Option<f64>),
    /// A job; `eth_shape` when its params are EthereumStratum/1.0.0's
    /// `[job, seedhash, headerhash, clean]`.
    Notify {
        eth_shape: bool,
    },
    SetDifficulty(Option<f64>),
    /// A 256-bit share target (Zcash/Equihash pools, and some others): hashes per share.
    SetTarget(Option<Target>),
    /// EthereumStratum/2.0.0 `mining.set {epoch, target, algo, extranonce}`.
    EsSet {
        target: Option<Target>,
        algo: Option<String>,
    },
    SetVersionMask,
    Reconnect(Option<String>),
    ShowMessage(Option<String>),
    GetVersion,
    /// set_extranonce, ping, ...
    V1PoolOther,
    CnLogin(CnLogin),
    CnSubmit,
    CnKeepalive,
    CnJob(CnJob),
    EthLogin {
        login: Option<String>,
        pass: Option<String>,
    },
    EthGetWork,
    EthSubmitWork,
    EthHashrate(Option<f64>),
    /// Web miner `auth`: the site key (the pool account: a wallet for the self-hosted clones)
    /// and the optional user name.
    WmAuth {
        site_key: Option<String>,
        user: Option<String>,
    },
    WmSubmit,
    WmJob(CnJob),
    WmAuthed,
    WmAccepted,
}

#[derive(Debug, Default)]
struct CnLogin {
    login: Option<String>,
    pass: Option<String>,
    agent: Option<String>,
    algo: Option<String>,
    rigid: Option<String>,
    nicehash: bool,
}

/// A share target as sent (capped hex) and the hashes a share takes under it (2^256 / target).
#[derive(Debug)]
struct Target {
    hex: String,
    hashes: f64,
}

#[derive(Debug, Default)]
struct CnJob {
    difficulty: Option<f64>,
    algo: Option<String>,
}

impl Call {
    fn role(&self) -> Role {
        match self {
            Call::Notify { .. }
            | Call::SetDifficulty(_)
            | Call::SetTarget(_)
            | Call::EsSet { .. }
            | Call::SetVersionMask
            | Call::Reconnect(_)
            | Call::ShowMessage(_)
            | Call::GetVersion
            | Call::V1PoolOther
            | Call::CnJob(_)
            | Call::WmJob(_)
            | Call::WmAuthed
            | Call::WmAccepted => Role::Pool,
            _ => Role::Client,
        }
    }

    fn variant(&self) -> Variant {
        match self {
            Call::CnLogin(_) | Call::CnSubmit | Call::CnKeepalive | Call::CnJob(_) => Variant::CryptoNote,
            Call::WmAuth { .. } | Call::WmSubmit | Call::WmJob(_) | Call::WmAuthed | Call::WmAccepted => {
                Variant::WebMiner
            }
            Call::EthLogin { .. } | Call::EthGetWork | Call::EthSubmitWork | Call::EthHashrate(_) => {
                Variant::EthProxy
            }
            Call::Hello { .. }
            | Call::Subscribe { ethereum_stratum: true, .. }
            | Call::Notify { eth_shape: true }
            | Call::EsSet { .. }
            | Call::Hashrate(_) => Variant::EthereumStratum,
            _ => Variant::StratumV1,
        }
    }

    /// The request kind to remember until the pool answers (client requests only).
    fn pending_kind(&self) -> Option<ReqKind> {
        Some(match self {
            Call::Subscribe { .. } => ReqKind::Subscribe,
            Call::Authorize { .. } => ReqKind::Authorize,
            Call::V1Submit { .. } => ReqKind::V1Submit,
            Call::Hello { .. }
            | Call::V1ClientOther
            | Call::Configure(_)
            | Call::ExtranonceSubscribe
            | Call::SuggestDifficulty(_)
            | Call::Hashrate(_) => ReqKind::V1Other,
            Call::GetVersion => ReqKind::GetVersion,
            Call::CnLogin(_) => ReqKind::CnLogin,
            Call::CnSubmit => ReqKind::CnSubmit,
            Call::CnKeepalive => ReqKind::CnKeepalive,
            Call::EthLogin { .. } => ReqKind::EthLogin,
            Call::EthGetWork => ReqKind::EthGetWork,
            Call::EthSubmitWork => ReqKind::EthSubmitWork,
            Call::EthHashrate(_) => ReqKind::EthHashrate,
            _ => return None,
        })
    }
}

/// The session's field cap ([`Limits::max_field_len`]) and the flag it raises when it cuts.
struct Capper<'a> {
    max: usize,
    truncated: &'a mut bool,
}

/// A string param, capped; `truncated` is raised when it had to be cut.
fn str_param(v: Option<&RawValue>, truncated: &mut Capper<'_>) -> Option<String> {
    v.and_then(as_str).map(|s| cap(&s, truncated))
}

/// Copies at most `max_field_len` bytes of `s`, cut on a char boundary.
fn cap(s: &str, truncated: &mut Capper<'_>) -> String {
    let (kept, cut) = capped(s, truncated.max);
    *truncated.truncated |= cut;
    kept.to_owned()
}

/// The longest prefix of `s` within `max` bytes that ends on a char boundary, and whether
/// anything was cut.
pub(crate) fn capped(s: &str, max: usize) -> (&str, bool) {
    if s.len() <= max {
        return (s, false);
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    (s.get(..end).unwrap_or_default(), true)
}

/// Recognises a method call. `None`: not a mining method, or a generic name (`login`,
/// `submit`, `job`) without its dialect's parameter shape, or a weak name (`keepalived`,
/// `client.*`) in a session that has no dialect yet.
fn classify(
    method: &str,
    params: Option<&RawValue>,
    known_dialect: bool,
    truncated: &mut Capper<'_>,
) -> Option<Call> {
    // The first two positional params, when params is an array.
    let arr = || params.and_then(elements::<2>).map_or([None, None], |(a, _)| a);
    Some(match method {
        "mining.subscribe" => {
            // EthereumStratum/1.0.0 puts its protocol name in params[1]; look at a few.
            let (first, es) = match params.and_then(elements::<4>) {
                Some((a, _)) => {
                    let es = a
                        .iter()
                        .flatten()
                        .filter_map(|v| as_str(v))
                        .any(|s| s.get(..16).is_some_and(|p| p.eq_ignore_ascii_case("EthereumStratum/")));
                    (a.first().copied().flatten(), es)
                }
                None => (None, false),
            };
            Call::Subscribe { agent: str_param(first, truncated), ethereum_stratum: es }
        }
        "mining.hello" => {
            let agent = params.and_then(|p| fields(p, &["agent"])).and_then(|[a]| a);
            Call::Hello { agent: str_param(agent, truncated) }
        }
        "mining.authorize" => {
            let [login, pass] = arr();
            Call::Authorize { login: str_param(login, truncated), pass: str_param(pass, truncated) }
        }
        "mining.submit" => {
            let (a, n) = params.and_then(elements::<3>).unwrap_or_default();
            let [worker, _, third] = a;
            let es2_worker = if n == 3 { str_param(third, truncated) } else { None };
            Call::V1Submit { worker: str_param(worker, truncated), es2_worker }
        }
        "mining.configure" => Call::Configure(configure_extensions(params)),
        "mining.extranonce.subscribe" => Call::ExtranonceSubscribe,
        "mining.suggest_difficulty" => {
            let [d, _] = arr();
            Call::SuggestDifficulty(d.and_then(as_f64).filter(|d| *d > 0.0))
        }
        "mining.suggest_target" | "mining.get_transactions" | "mining.multi_version" => Call::V1ClientOther,
        "mining.notify" => Call::Notify { eth_shape: params.is_some_and(eth_notify_shape) },
        "mining.set_difficulty" => {
            let [d, _] = arr();
            Call::SetDifficulty(d.and_then(as_f64).filter(|d| *d > 0.0))
        }
        "mining.set_target" => {
            let [t, _] = arr();
            Call::SetTarget(t.and_then(as_str).and_then(|t| target(&t)))
        }
        "mining.set" => {
            // EthereumStratum/2.0.0: an object with at least one of its known keys.
            let [epoch, t, algo, xn] = fields(params?, &["epoch", "target", "algo", "extranonce"])?;
            if epoch.is_none() && t.is_none() && algo.is_none() && xn.is_none() {
                return None;
            }
            Call::EsSet {
                target: t.and_then(as_str).and_then(|t| target(&t)),
                algo: str_param(algo, truncated),
            }
        }
        "mining.set_extranonce" => Call::V1PoolOther,
        "mining.set_version_mask" => Call::SetVersionMask,
        "client.reconnect" if known_dialect => {
            let [host, port] = arr();
            let host = host.and_then(as_str);
            let port =
                port.and_then(|p| as_str(p).map(|s| s.into_owned()).or_else(|| Some(p.get().to_owned())));
            let to = match (host, port) {
                (Some(h), Some(p)) if !h.is_empty() => Some(format!("{h}:{p}")),
                (Some(h), None) if !h.is_empty() => Some(h.into_owned()),
                _ => None,
            };
            Call::Reconnect(to.map(|t| cap(&t, truncated)))
        }
        "client.show_message" if known_dialect => {
            let [m, _] = arr();
            Call::ShowMessage(m.and_then(as_str).map(|m| short(&m, MAX_MESSAGE_LEN)))
        }
        "client.get_version" if known_dialect => Call::GetVersion,
        "mining.ping" if known_dialect => Call::V1PoolOther,
        "mining.pong" | "mining.noop" | "mining.bye" if known_dialect => Call::V1ClientOther,
        "mining.hashrate" if known_dialect => {
            let [r, _] = arr();
            Call::Hashrate(r.and_then(rate))
        }
        "login" => {
            let [login, pass, agent, algo, rigid, nicehash] =
                fields(params?, &["login", "pass", "agent", "algo", "rigid", "nicehash"])?;
            // The defining shape: an object with a string `login`, and either a field of the
            // miner protocol beside it (`pass`, `agent`, `algo`, `rigid`) or a login that is a
            // wallet address. A web application's `{"login":"bob","password":"..."}` is neither.
            let login = as_str(login?).map(|s| cap(&s, truncated))?;
            let miner_field = pass.is_some() || agent.is_some() || algo.is_some() || rigid.is_some();
            let (account, _, _) = split_login(&login);
            if !miner_field && crate::intel::wallet::identify(account).is_none() {
                return None;
            }
            Call::CnLogin(CnLogin {
                login: Some(login),
                pass: str_param(pass, truncated),
                agent: str_param(agent, truncated),
                algo: algo.and_then(|a| algo_list(a, truncated)),
                rigid: str_param(rigid, truncated),
                nicehash: nicehash.is_some_and(is_true),
            })
        }
        "submit" => {
            let [job_id, nonce] = fields(params?, &["job_id", "nonce"])?;
            as_str(job_id?)?;
            as_str(nonce?)?;
            Call::CnSubmit
        }
        "job" => Call::CnJob(cn_job(params?, truncated)?),
        "keepalived" if known_dialect => Call::CnKeepalive,
        "eth_submitLogin" => {
            let [login, pass] = arr();
            Call::EthLogin { login: str_param(login, truncated), pass: str_param(pass, truncated) }
        }
        "eth_getWork" => Call::EthGetWork,
        "eth_submitWork" => Call::EthSubmitWork,
        "eth_submitHashrate" => {
            let [r, _] = arr();
            Call::EthHashrate(r.and_then(rate))
        }
        _ => return None,
    })
}

/// Recognises a web-miner message (`{"type": ..., "params": {...}}`, as Coinhive's client and
/// its successors send and their pool front ends answer). Each type counts only with its
/// defining params, so a chat application's `{"type":"auth","params":{"token":...}}` is none:
/// `auth` needs a string `site_key`, `job` a cryptonote job, `submit` the string `job_id`,
/// `nonce` and `result`, `authed` a `token` or `hashes`, `hash_accepted` a number `hashes`.
fn classify_webminer(kind: &str, params: Option<&RawValue>, truncated: &mut Capper<'_>) -> Option<Call> {
    let params = params?;
    Some(match kind {
        "auth" => {
            let [site_key, user] = fields(params, &["site_key", "user"])?;
            let site_key = as_str(site_key?).map(|s| cap(&s, truncated))?;
            Call::WmAuth {
                site_key: Some(site_key),
                user: str_param(user, truncated).filter(|u| !u.is_empty()),
            }
        }
        "submit" => {
            let [job_id, nonce, result] = fields(params, &["job_id", "nonce", "result"])?;
            as_str(job_id?)?;
            as_str(nonce?)?;
            as_str(result?)?;
            Call::WmSubmit
        }
        "job" => Call::WmJob(cn_job(params, truncated)?),
        "authed" => {
            let [token, hashes] = fields(params, &["token", "hashes"])?;
            if token.and_then(as_str).is_none() && hashes.and_then(as_f64).is_none() {
                return None;
            }
            Call::WmAuthed
        }
        "hash_accepted" => {
            let [hashes] = fields(params, &["hashes"])?;
            as_f64(hashes?)?;
            Call::WmAccepted
        }
        _ => return None,
    })
}

/// The extensions a `mining.configure` asks for (`[["version-rolling", ...], {...}]`), among
/// those we name.
fn configure_extensions(params: Option<&RawValue>) -> Vec<&'static str> {
    let mut out = Vec::new();
    let Some(([names, _], _)) = params.and_then(elements::<2>) else { return out };
    let Some((items, _)) = names.and_then(elements::<8>) else { return out };
    for item in items.iter().flatten() {
        if let Some(e) = as_str(item).and_then(|n| known_extension(&n)) {
            if !out.contains(&e) {
                out.push(e);
            }
        }
    }
    out
}

/// Tickers accepted from a `c=` password option (anything else is ignored).
const TICKERS: &[&str] = &[
    "BTC", "BCH", "LTC", "DOGE", "XMR", "ETH", "ETC", "ZEC", "RVN", "DASH", "ERG", "KAS", "WOW", "ZEN", "BTG",
];

fn known_extension(name: &str) -> Option<&'static str> {
    Some(match name {
        "version-rolling" => "version-rolling",
        "minimum-difficulty" => "minimum-difficulty",
        "subscribe-extranonce" => "extranonce-subscribe",
        "info" => "info",
        _ => return None,
    })
}

/// Whether `mining.notify` params have EthereumStratum/1.0.0's shape: exactly
/// `[job_id, seedhash, headerhash, clean]` with two 64-digit hex hashes.
fn eth_notify_shape(params: &RawValue) -> bool {
    let Some(([_, seed, header, clean], 4)) = elements::<4>(params) else { return false };
    let hash64 = |v: Option<&RawValue>| {
        v.and_then(as_str).is_some_and(|s| {
            let d = s.strip_prefix("0x").unwrap_or(&s);
            d.len() == 64 && d.bytes().all(|c| c.is_ascii_hexdigit())
        })
    };
    hash64(seed) && hash64(header) && clean.is_some_and(|c| is_true(c) || is_false(c))
}

/// A share target in hex (optionally `0x`), up to 256 bits: hashes per share = 2^256 / target.
fn target(hex: &str) -> Option<Target> {
    let digits = hex.strip_prefix("0x").or_else(|| hex.strip_prefix("0X")).unwrap_or(hex);
    if digits.is_empty() || digits.len() > 64 || !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let hashes = eth_boundary_difficulty(&format!("0x{digits}"))?;
    Some(Target { hex: hex.get(..MAX_TARGET_LEN).unwrap_or(hex).to_owned(), hashes })
}

/// Whether a subscribe result names EthereumStratum (`[["mining.notify", id,
/// "EthereumStratum/1.0.0"], extranonce]`): looks at the first element's first three strings.
fn names_ethereum_stratum(result: &RawValue) -> bool {
    let is_es = |v: &RawValue| {
        as_str(v).is_some_and(|s| s.get(..16).is_some_and(|p| p.eq_ignore_ascii_case("EthereumStratum/")))
    };
    let Some(([first], _)) = elements::<1>(result) else { return false };
    let Some((inner, _)) = first.and_then(elements::<3>) else { return false };
    inner.iter().flatten().any(|v| is_es(v))
}

/// A self-reported hash rate: `0x` hex (eth_submitHashrate), decimal digits, or a JSON number.
fn rate(v: &RawValue) -> Option<f64> {
    if let Some(n) = as_f64(v) {
        return (n >= 0.0).then_some(n);
    }
    let s = as_str(v)?;
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) if !h.is_empty() && h.len() <= 32 => {
            h.bytes().try_fold(0.0_f64, |acc, c| hex_val(c).map(|d| acc * 16.0 + f64::from(d)))?
        }
        Some(_) => return None,
        None => s.parse::<f64>().ok()?,
    };
    (r.is_finite() && r >= 0.0).then_some(r)
}

/// At most `max` bytes of `s`, cut on a char boundary.
fn short(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_owned()
}

/// Splits a login into the account (wallet or user name), the worker, and a fixed difficulty:
/// `ACCOUNT.worker`, `ACCOUNT/worker`, `ACCOUNT+diff`, `ACCOUNT.worker+diff`. A cashaddr
/// `bitcoincash:` prefix stays part of the account.
pub fn split_login(login: &str) -> (&str, Option<&str>, Option<f64>) {
    let body_start =
        if login.len() > 12 && login.get(..12).is_some_and(|p| p.eq_ignore_ascii_case("bitcoincash:")) {
            12
        } else {
            0
        };
    let is_sep = |c: char| matches!(c, '.' | '/' | '+');
    let Some(first) = login.get(body_start..).and_then(|b| b.find(is_sep)).map(|i| i + body_start) else {
        return (login, None, None);
    };
    let account = login.get(..first).unwrap_or(login);
    let (mut worker, mut diff) = (None, None);
    let mut rest = login.get(first..).unwrap_or("");
    while let Some(sep) = rest.chars().next() {
        let body = rest.get(1..).unwrap_or("");
        let end = body.find(is_sep).unwrap_or(body.len());
        let token = body.get(..end).unwrap_or("");
        match sep {
            '+' if diff.is_none() => diff = token.parse::<f64>().ok().filter(|d| d.is_finite() && *d > 0.0),
            '.' | '/' if worker.is_none() && !token.is_empty() => worker = Some(token),
            _ => {}
        }
        rest = body.get(end..).unwrap_or("");
    }
    (account, worker, diff)
}

/// Options pools read from the password: `d=512` / `diff=512` (fixed difficulty) and
/// `c=XMR` / `coin=XMR`, separated by `,`, `;`, `&` or spaces.
fn password_options(pass: &str) -> (Option<f64>, Option<String>) {
    let (mut diff, mut coin) = (None, None);
    for opt in pass.split([',', ';', '&', ' ']) {
        let Some((k, v)) = opt.split_once('=') else { continue };
        match k.trim().to_ascii_lowercase().as_str() {
            "d" | "diff" | "sd" => diff = v.trim().parse::<f64>().ok().filter(|d| d.is_finite() && *d > 0.0),
            "c" | "coin" => {
                let v = v.trim();
                if !v.is_empty() && v.len() <= 10 && v.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    coin = Some(v.to_ascii_uppercase());
                }
            }
            _ => {}
        }
    }
    (diff, coin)
}

/// A cryptonote job object (`{blob, job_id, target, algo?, ...}`): `None` without the string
/// `blob` and `job_id` that make it one.
fn cn_job(v: &RawValue, truncated: &mut Capper<'_>) -> Option<CnJob> {
    let [blob, job_id, target, algo] = fields(v, &["blob", "job_id", "target", "algo"])?;
    as_str(blob?)?;
    as_str(job_id?)?;
    Some(CnJob {
        difficulty: target.and_then(as_str).and_then(|t| cn_target_difficulty(&t)),
        algo: str_param(algo, truncated),
    })
}

/// The cryptonote login's `algo` list joined with `,` (first [`MAX_ALGOS`] strings), or a
/// single string.
fn algo_list(v: &RawValue, truncated: &mut Capper<'_>) -> Option<String> {
    if let Some(s) = as_str(v) {
        return Some(cap(&s, truncated));
    }
    let (items, _) = elements::<MAX_ALGOS>(v)?;
    let mut out = String::new();
    for s in items.iter().flatten().filter_map(|v| as_str(v)) {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&s);
        if out.len() > truncated.max {
            break;
        }
    }
    (!out.is_empty()).then(|| cap(&out, truncated))
}

/// Difficulty from a cryptonote `target`: little-endian hex, 4 bytes (`difficulty = 2^32 / t`)
/// or 8 bytes (`difficulty = 2^64 / t`), as XMRig reads it. Other lengths or a zero target
/// give `None`. E.g. `"dd240601"` (t = 0x010624dd) is difficulty 250.
pub fn cn_target_difficulty(hex: &str) -> Option<f64> {
    let bytes = hex.as_bytes();
    let (width, scale) = match bytes.len() {
        8 => (4, 4_294_967_296.0_f64),
        16 => (8, 18_446_744_073_709_551_616.0_f64),
        _ => return None,
    };
    let mut t: u64 = 0;
    for i in (0..width).rev() {
        let hi = hex_val(*bytes.get(2 * i)?)?;
        let lo = hex_val(*bytes.get(2 * i + 1)?)?;
        t = (t << 8) | u64::from(hi << 4 | lo);
    }
    (t != 0).then(|| scale / t as f64)
}

/// Difficulty from an eth-proxy work boundary (`0x`-prefixed big-endian hex, up to 256 bits):
/// `2^256 / boundary`, the usual ethash share difficulty. Approximate (f64), which is all a
/// report needs.
pub fn eth_boundary_difficulty(hex: &str) -> Option<f64> {
    let digits = hex.strip_prefix("0x").or_else(|| hex.strip_prefix("0X"))?;
    if digits.is_empty() || digits.len() > 64 {
        return None;
    }
    let mut b = 0.0_f64;
    for c in digits.bytes() {
        b = b * 16.0 + f64::from(hex_val(c)?);
    }
    (b > 0.0).then(|| 2.0_f64.powi(256) / b)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Work handed out in an eth-proxy `result` array `[header, seed, boundary, ...]`: a hash of
/// the header (to tell new work from a repeated poll) and the difficulty. `None` unless the
/// first three elements are `0x` hex strings.
fn eth_work(result: &RawValue) -> Option<(u64, Option<f64>)> {
    let ([header, seed, boundary], _) = elements::<3>(result)?;
    let header = as_str(header?)?;
    let seed = as_str(seed?)?;
    let boundary = as_str(boundary?)?;
    let is_hex = |s: &str| {
        s.strip_prefix("0x").is_some_and(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_hexdigit()))
    };
    if !(is_hex(&header) && is_hex(&seed) && is_hex(&boundary)) {
        return None;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    header.hash(&mut h);
    Some((h.finish(), eth_boundary_difficulty(&boundary)))
}

/// The key a request id is matched by: strings unescaped (a pool may re-serialise them), other
/// ids by their JSON text. `None` for ids too long to be worth tracking.
fn id_key(id: &RawValue) -> Option<String> {
    let key = match as_str(id) {
        Some(s) => format!("s{s}"),
        None => format!("n{}", id.get()),
    };
    (key.len() <= MAX_ID_LEN + 1).then_some(key)
}

#[derive(Debug)]
struct Pending {
    key: String,
    /// The side that asked; only the other side may answer.
    side: Side,
    kind: ReqKind,
    /// For a share: the hashes it is expected to take under the difficulty in force when it
    /// was submitted.
    hashes: Option<f64>,
}

/// The last share difficulty setting the pool made, kept raw so that its meaning in hashes can
/// be decided when a share is submitted (when the coin and dialect are best known).
#[derive(Clone, Copy, Debug)]
enum ShareSetting {
    /// A difficulty in the dialect's own units.
    Difficulty(f64),
    /// A target: hashes per share directly.
    Hashes(f64),
}

/// One TCP connection's Stratum state.
///
/// Confidence rule (see [`Session::confidence`]): two evidence flags, each set only by messages
/// consistent with the established roles.
/// - *client mining*: the miner side sent a recognised client method (subscribe, authorize,
///   login, submit, eth_submitLogin, eth_getWork, ...).
/// - *pool work*: the pool side handed out work (mining.notify, a cryptonote job pushed or in a
///   login result, eth-proxy work), answered authorize/login/eth_submitLogin positively, or
///   accepted a share.
/// - *pool push*: the pool side pushed any mining notification (also set_difficulty,
///   set_target, set_extranonce).
#[derive(Debug, Default)]
pub struct Session {
    facts: SessionFacts,
    pending: VecDeque<Pending>,
    client_mining: bool,
    pool_work: bool,
    pool_push: bool,
    /// `facts.login` came from authorize/login (authoritative), not from a submit's worker.
    login_authoritative: bool,
    /// Header hash of the last eth-proxy work seen: ethminer polls `eth_getWork` and gets the
    /// same work back many times; only new work counts as a job.
    last_eth_work: Option<u64>,
    /// The pool's latest share difficulty or target.
    share_setting: Option<ShareSetting>,
    /// Hashes per share of the latest `mining.set_target`, kept to turn into a difficulty once
    /// the session shows it is Equihash.
    last_target_hashes: Option<f64>,
    /// The session speaks EthereumStratum/2.0.0 (`mining.hello` seen).
    es2: bool,
    role_conflicts: u64,
    pending_dropped: u64,
    limits: Limits,
}

impl Session {
    /// With the default [`Limits`].
    pub fn new() -> Session {
        Session::default()
    }

    /// With the bounds the configuration gives.
    pub fn with_limits(limits: Limits) -> Session {
        Session { limits, ..Session::default() }
    }

    /// Feeds one complete line (without its line terminator) sent by `side` at `ts`.
    ///
    /// A batch (JSON array) is handled element by element (at most
    /// [`message::MAX_BATCH`]); the line is [`LineKind::Mining`] if any element was.
    pub fn on_line(&mut self, side: Side, line: &[u8], ts: Ts) -> LineKind {
        let parsed = match message::parse_line(line) {
            Ok(p) => p,
            Err(_) => return LineKind::NotJson,
        };
        let mut kind = LineKind::OtherJson;
        for msg in parsed.messages() {
            if self.on_message(side, msg, ts) {
                kind = LineKind::Mining;
            }
        }
        kind
    }

    pub fn facts(&self) -> &SessionFacts {
        &self.facts
    }

    /// `None` until the session shows mining evidence.
    ///
    /// - `Confirmed`: client mining AND pool work (both sides seen doing mining).
    /// - `Detected`: any one of client mining, pool work, pool push (covers one-sided captures
    ///   and sessions whose pool has not yet answered).
    /// - `None`: nothing a mining dialect defines was seen.
    ///
    /// Monotonic: the flags are never cleared. Invariant: whenever this is `Some`,
    /// `facts().client` is `Some` too (every flag is set only after the roles were fixed).
    pub fn confidence(&self) -> Option<Confidence> {
        if self.client_mining && self.pool_work {
            Some(Confidence::Confirmed)
        } else if self.client_mining || self.pool_work || self.pool_push {
            Some(Confidence::Detected)
        } else {
            None
        }
    }

    /// Mining messages whose sender contradicted the roles fixed earlier (e.g. an echo server
    /// reflecting a `mining.subscribe`). They contribute no facts.
    pub fn role_conflicts(&self) -> u64 {
        self.role_conflicts
    }

    /// Requests forgotten unanswered because [`MAX_PENDING`] were already waiting, or not
    /// tracked because their id was longer than [`MAX_ID_LEN`].
    pub fn pending_dropped(&self) -> u64 {
        self.pending_dropped
    }

    /// Returns whether the message was a mining message.
    fn on_message(&mut self, side: Side, msg: &Message<'_>, ts: Ts) -> bool {
        if let Some(method) = msg.method.as_deref() {
            self.note_method(method);
            let known = self.facts.variant.is_some();
            let Some(call) = classify(
                method,
                msg.params,
                known,
                &mut Capper { max: self.limits.max_field_len, truncated: &mut self.facts.truncated },
            ) else {
                return false;
            };
            self.on_call(side, call, msg, ts);
            true
        } else if msg.is_response() {
            self.on_response(side, msg)
        } else if let Some(kind) = msg.kind.as_deref() {
            let Some(call) = classify_webminer(
                kind,
                msg.params,
                &mut Capper { max: self.limits.max_field_len, truncated: &mut self.facts.truncated },
            ) else {
                return false;
            };
            self.note_method(kind);
            self.on_call(side, call, msg, ts);
            true
        } else {
            false
        }
    }

    fn note_method(&mut self, method: &str) {
        // Compare before allocating: most lines repeat a method already listed.
        let (name, cut) = capped(method, self.limits.max_field_len);
        if self.facts.methods.len() >= MAX_METHODS || self.facts.methods.iter().any(|m| m == name) {
            return;
        }
        self.facts.truncated |= cut;
        self.facts.methods.push(name.to_owned());
    }

    /// Fixes roles on first evidence; returns whether `side` sending a `role` message agrees.
    fn assign_role(&mut self, side: Side, role: Role) -> bool {
        let client = match role {
            Role::Client => side,
            Role::Pool => side.other(),
        };
        match self.facts.client {
            None => {
                self.facts.client = Some(client);
                true
            }
            Some(c) => c == client,
        }
    }

    fn set_variant(&mut self, v: Variant) {
        match (self.facts.variant, v) {
            (None, _) => self.facts.variant = Some(v),
            // EthereumStratum is stratum-v1 plus a handshake: upgrade when it shows up.
            (Some(Variant::StratumV1), Variant::EthereumStratum) => self.facts.variant = Some(v),
            _ => {}
        }
    }

    /// The first authorize/login wins (a proxy may authorize several workers; the first is the
    /// session's identity). A worker name taken from a submit (midstream pickup) is only a
    /// stand-in until an authoritative login shows up.
    fn set_login(&mut self, login: Option<String>, pass: Option<String>, authoritative: bool) {
        let Some(login) = login else { return };
        if self.facts.login.is_none() || (authoritative && !self.login_authoritative) {
            self.derive_identity(&login, pass.as_deref());
            self.facts.login = Some(login);
            self.facts.password = pass;
            self.login_authoritative = authoritative;
        }
    }

    /// Wallet, worker, coin and requested difficulty from a login and its password.
    fn derive_identity(&mut self, login: &str, pass: Option<&str>) {
        let f = &mut self.facts;
        let (account, worker, login_diff) = split_login(login);
        match crate::intel::wallet::identify(account) {
            Some(w) => {
                f.wallet = Some(account.to_owned());
                f.coin = Some(w.coin);
                f.wallet_checksum = w.checksum;
            }
            None => {
                f.wallet = None;
                f.wallet_checksum = false;
            }
        }
        if f.worker.is_none() {
            f.worker = worker.filter(|w| !w.is_empty()).map(|w| w.to_owned());
        }
        let (pass_diff, pass_coin) = pass.map(password_options).unwrap_or_default();
        if let Some(d) = login_diff.or(pass_diff) {
            f.suggested_difficulty = Some(d);
        }
        if f.coin.is_none() {
            f.coin = pass_coin.and_then(|c| TICKERS.iter().find(|t| **t == c).copied());
        }
        self.refresh_coin();
    }

    /// Falls back to the coin the algorithm implies when no wallet or option named one.
    fn refresh_coin(&mut self) {
        if self.facts.coin.is_none() {
            self.facts.coin = self.facts.algo.as_deref().and_then(crate::intel::wallet::coin_from_algo);
        }
        // A target seen before the session showed it is Equihash gets its difficulty now.
        if self.facts.difficulty.is_none() && self.is_equihash() {
            if let Some(h) = self.last_target_hashes {
                self.set_difficulty(h / EQUIHASH_HASHES_PER_DIFF1);
            }
        }
    }

    /// Equihash (Zcash family): a Zcash wallet, the algorithm, or an Equihash-only miner.
    fn is_equihash(&self) -> bool {
        let f = &self.facts;
        f.coin == Some("ZEC")
            || f.algo.as_deref().is_some_and(|a| a.to_ascii_lowercase().contains("equihash"))
            || f.agent.as_deref().and_then(super::agent::parse).is_some_and(|a| {
                let n = a.name.to_ascii_lowercase();
                n == "ewbf" || n == "nheqminer" || n == "dstm" || n.starts_with("zec")
            })
    }

    /// Records a difficulty the pool set: latest, min, max, count.
    fn set_difficulty(&mut self, d: f64) {
        if !(d.is_finite() && d > 0.0) {
            return;
        }
        let f = &mut self.facts;
        if f.difficulty != Some(d) {
            f.difficulty_changes = f.difficulty_changes.saturating_add(1);
        }
        f.difficulty = Some(d);
        f.difficulty_min = Some(f.difficulty_min.map_or(d, |m| m.min(d)));
        f.difficulty_max = Some(f.difficulty_max.map_or(d, |m| m.max(d)));
    }

    /// The hashes a share submitted now is expected to take (see docs/hashrate.md).
    fn share_hashes(&self) -> Option<f64> {
        match self.share_setting? {
            ShareSetting::Hashes(h) => Some(h),
            ShareSetting::Difficulty(d) => Some(d * self.hashes_per_diff1()),
        }
    }

    /// Hashes of one difficulty-1 share in this session's dialect and algorithm.
    fn hashes_per_diff1(&self) -> f64 {
        match self.facts.variant {
            // Cryptonote difficulty comes from the target and is already in hashes; so is the
            // eth-proxy difficulty, which is 2^256 / boundary.
            Some(Variant::CryptoNote) | Some(Variant::EthProxy) | Some(Variant::WebMiner) => 1.0,
            Some(Variant::EthereumStratum) => TWO_POW_32,
            _ if self.is_equihash() => EQUIHASH_HASHES_PER_DIFF1,
            _ if matches!(self.facts.coin, Some("LTC" | "DOGE"))
                || self.facts.algo.as_deref().is_some_and(|a| a.eq_ignore_ascii_case("scrypt")) =>
            {
                65_536.0
            }
            _ => TWO_POW_32,
        }
    }

    fn add_extension(&mut self, e: &'static str) {
        let x = &mut self.facts.extensions;
        if x.len() < MAX_EXTENSIONS && !x.contains(&e) {
            x.push(e);
        }
    }

    fn on_call(&mut self, side: Side, call: Call, msg: &Message<'_>, ts: Ts) {
        if !self.assign_role(side, call.role()) {
            self.role_conflicts = self.role_conflicts.saturating_add(1);
            return;
        }
        self.set_variant(call.variant());
        match call.role() {
            Role::Client => {
                self.client_mining = true;
                self.facts.client_msgs = self.facts.client_msgs.saturating_add(1);
            }
            Role::Pool => {
                self.pool_push = true;
                self.facts.pool_msgs = self.facts.pool_msgs.saturating_add(1);
            }
        }
        if let (Some(kind), Some(id)) = (call.pending_kind(), msg.id) {
            let hashes =
                if kind == ReqKind::V1Submit || kind == ReqKind::CnSubmit || kind == ReqKind::EthSubmitWork {
                    self.share_hashes()
                } else {
                    None
                };
            self.push_pending(id, side, kind, hashes);
        }
        if matches!(call, Call::Subscribe { .. } | Call::Hello { .. } | Call::Configure(_)) {
            self.facts.handshake_seen = true;
        }
        let f = &mut self.facts;
        match call {
            Call::Subscribe { agent, .. } => {
                if f.agent.is_none() {
                    f.agent = agent;
                }
            }
            Call::Hello { agent } => {
                self.es2 = true;
                if f.agent.is_none() {
                    f.agent = agent;
                }
            }
            Call::Authorize { login, pass } => self.set_login(login, pass, true),
            Call::EthLogin { login, pass } => {
                // The login's own `.worker` suffix names the rig; ethminer's top-level
                // `"worker"` is a fallback.
                self.set_login(login, pass, true);
                if let Some(w) = msg.worker.as_deref().filter(|w| !w.is_empty()) {
                    if self.facts.worker.is_none() {
                        self.facts.worker = Some(cap(
                            w,
                            &mut Capper {
                                max: self.limits.max_field_len,
                                truncated: &mut self.facts.truncated,
                            },
                        ));
                    }
                }
            }
            Call::CnLogin(l) => {
                if f.agent.is_none() {
                    f.agent = l.agent;
                }
                if f.algo.is_none() {
                    f.algo = l.algo;
                }
                if f.worker.is_none() {
                    f.worker = l.rigid.filter(|r| !r.is_empty());
                }
                if l.nicehash {
                    self.add_extension("nicehash");
                }
                self.set_login(l.login, l.pass, true);
                self.refresh_coin();
            }
            Call::V1Submit { worker, es2_worker } => {
                self.share(ts);
                let worker = if self.es2 { es2_worker } else { worker };
                self.set_login(worker, None, false);
            }
            Call::CnSubmit | Call::EthSubmitWork => self.share(ts),
            Call::Notify { .. } => {
                f.jobs = f.jobs.saturating_add(1);
                self.pool_work = true;
            }
            Call::CnJob(job) => self.cn_job(job),
            Call::SetDifficulty(d) => {
                if let Some(d) = d {
                    self.share_setting = Some(ShareSetting::Difficulty(d));
                    self.set_difficulty(d);
                }
            }
            Call::SetTarget(t) => {
                if let Some(t) = t {
                    self.share_setting = Some(ShareSetting::Hashes(t.hashes));
                    self.last_target_hashes = Some(t.hashes);
                    if self.is_equihash() {
                        self.facts.target = None;
                        self.set_difficulty(t.hashes / EQUIHASH_HASHES_PER_DIFF1);
                    } else {
                        self.facts.target = Some(t.hex);
                    }
                }
            }
            Call::EsSet { target, algo } => {
                if let Some(t) = target {
                    self.share_setting = Some(ShareSetting::Hashes(t.hashes));
                    // EthereumStratum difficulty 1 is 2^32 hashes, as in EthereumStratum/1.0.0.
                    self.set_difficulty(t.hashes / TWO_POW_32);
                }
                if algo.is_some() {
                    self.facts.algo = algo;
                    self.refresh_coin();
                }
                self.pool_work = true;
            }
            Call::Configure(exts) => {
                for e in exts {
                    self.add_extension(e);
                }
            }
            Call::ExtranonceSubscribe => self.add_extension("extranonce-subscribe"),
            Call::SetVersionMask => self.add_extension("version-rolling"),
            Call::SuggestDifficulty(d) => {
                if d.is_some() {
                    f.suggested_difficulty = d;
                }
            }
            Call::Reconnect(to) => {
                if to.is_some() {
                    f.reconnect_to = to;
                }
            }
            Call::ShowMessage(m) => {
                if m.is_some() {
                    f.pool_message = m;
                }
            }
            Call::Hashrate(r) | Call::EthHashrate(r) => {
                if r.is_some() {
                    f.reported_hashrate = r;
                }
            }
            Call::WmAuth { site_key, user } => {
                if f.worker.is_none() {
                    f.worker = user;
                }
                self.set_login(site_key, None, true);
                self.refresh_coin();
            }
            Call::WmSubmit => self.share(ts),
            Call::WmJob(job) => self.cn_job(job),
            Call::WmAuthed => self.pool_work = true,
            Call::WmAccepted => {
                // No request ids: each `hash_accepted` answers the oldest share, at the
                // difficulty in force now.
                let hashes = self.share_hashes();
                let f = &mut self.facts;
                f.shares_accepted = f.shares_accepted.saturating_add(1);
                if let Some(h) = hashes {
                    f.accepted_hashes += h;
                }
                self.pool_work = true;
            }
            Call::GetVersion
            | Call::V1PoolOther
            | Call::V1ClientOther
            | Call::CnKeepalive
            | Call::EthGetWork => {}
        }
    }

    fn share(&mut self, ts: Ts) {
        let f = &mut self.facts;
        f.shares_submitted = f.shares_submitted.saturating_add(1);
        if f.first_share.is_none() {
            f.first_share = Some(ts);
        }
        f.last_share = Some(ts);
    }

    fn cn_job(&mut self, job: CnJob) {
        let f = &mut self.facts;
        f.jobs = f.jobs.saturating_add(1);
        // The job's algo is what is actually mined; it replaces the login's list.
        if job.algo.is_some() {
            f.algo = job.algo;
        }
        if let Some(d) = job.difficulty {
            self.share_setting = Some(ShareSetting::Difficulty(d));
            self.set_difficulty(d);
        }
        self.refresh_coin();
        self.pool_work = true;
    }

    fn push_pending(&mut self, id: &RawValue, side: Side, kind: ReqKind, hashes: Option<f64>) {
        let Some(key) = id_key(id) else {
            self.pending_dropped = self.pending_dropped.saturating_add(1);
            return;
        };
        if self.pending.len() >= self.limits.max_pending {
            self.pending.pop_front();
            self.pending_dropped = self.pending_dropped.saturating_add(1);
        }
        self.pending.push_back(Pending { key, side, kind, hashes });
    }

    /// Takes the oldest request with this id asked by the other side. Oldest first, so a miner
    /// that reuses one id for every submit (cpuminer) has each answer matched to one submit.
    fn take_pending(&mut self, id: &RawValue, answerer: Side) -> Option<(ReqKind, Option<f64>)> {
        let key = id_key(id)?;
        let pos = self.pending.iter().position(|p| p.side != answerer && p.key == key)?;
        self.pending.remove(pos).map(|p| (p.kind, p.hashes))
    }

    fn on_response(&mut self, side: Side, msg: &Message<'_>) -> bool {
        let matched = msg.id.and_then(|id| self.take_pending(id, side));
        let Some((kind, hashes)) = matched else {
            return self.on_unmatched_response(side, msg);
        };
        let ok = msg.error.is_none();
        let result = msg.result;
        if kind == ReqKind::GetVersion {
            // The pool asked, the miner answers with its software and version.
            self.facts.client_msgs = self.facts.client_msgs.saturating_add(1);
            if self.facts.agent.is_none() {
                self.facts.agent = result.filter(|_| ok).and_then(|r| {
                    str_param(
                        Some(r),
                        &mut Capper { max: self.limits.max_field_len, truncated: &mut self.facts.truncated },
                    )
                });
            }
            return true;
        }
        // The requester was the client, so the answerer is the pool: roles already agree.
        self.facts.pool_msgs = self.facts.pool_msgs.saturating_add(1);
        match kind {
            ReqKind::Authorize | ReqKind::EthLogin => {
                if ok && result.is_some_and(is_true) {
                    self.pool_work = true;
                }
            }
            ReqKind::CnLogin => {
                if let (true, Some(r)) = (ok, result) {
                    let [job, status, exts] = fields(r, &["job", "status", "extensions"]).unwrap_or_default();
                    if exts.and_then(elements::<16>).is_some_and(|(e, _)| {
                        e.iter()
                            .flatten()
                            .filter_map(|v| as_str(v))
                            .any(|x| x.eq_ignore_ascii_case("nicehash"))
                    }) {
                        self.add_extension("nicehash");
                    }
                    let job = job.and_then(|j| {
                        cn_job(
                            j,
                            &mut Capper {
                                max: self.limits.max_field_len,
                                truncated: &mut self.facts.truncated,
                            },
                        )
                    });
                    let status_ok = status.and_then(as_str).is_some_and(|s| s.eq_ignore_ascii_case("ok"));
                    match job {
                        Some(job) => self.cn_job(job),
                        None if status_ok => self.pool_work = true,
                        None => {}
                    }
                }
            }
            ReqKind::V1Submit | ReqKind::EthSubmitWork | ReqKind::CnSubmit => {
                let accepted = ok
                    && result.is_some_and(|r| {
                        is_true(r)
                            || (kind == ReqKind::CnSubmit
                                && fields(r, &["status"])
                                    .and_then(|[s]| s)
                                    .and_then(as_str)
                                    .is_some_and(|s| s.eq_ignore_ascii_case("ok")))
                    });
                let rejected = !ok || result.is_some_and(is_false);
                let f = &mut self.facts;
                if accepted {
                    f.shares_accepted = f.shares_accepted.saturating_add(1);
                    if let Some(h) = hashes {
                        f.accepted_hashes += h;
                    }
                    self.pool_work = true;
                } else if rejected {
                    f.shares_rejected = f.shares_rejected.saturating_add(1);
                }
            }
            ReqKind::EthGetWork => {
                if let Some(r) = result.filter(|_| ok) {
                    self.eth_work(r);
                }
            }
            ReqKind::Subscribe => {
                // EthereumStratum/1.0.0 pools name the protocol in the subscribe result.
                if result.is_some_and(names_ethereum_stratum) {
                    self.set_variant(Variant::EthereumStratum);
                }
            }
            ReqKind::V1Other | ReqKind::CnKeepalive | ReqKind::EthHashrate | ReqKind::GetVersion => {}
        }
        true
    }

    /// A response to nothing we saw asked. Counted only when its meaning is unambiguous:
    /// eth-proxy work pushed with `"id":0` in an eth-proxy session, or a cryptonote login
    /// result (`{job:{blob, job_id, ...}}`) from a pool whose client side we never saw. In an
    /// established mining session, any other response from the pool side is still part of the
    /// conversation ([`LineKind::Mining`]) but carries no facts.
    fn on_unmatched_response(&mut self, side: Side, msg: &Message<'_>) -> bool {
        let Some(result) = msg.result.filter(|_| msg.error.is_none()) else {
            return self.pool_reply_in_session(side);
        };
        if self.facts.variant == Some(Variant::EthProxy)
            && msg.id.is_some_and(|id| id.get() == "0")
            && self.facts.client != Some(side)
        {
            if let Some(work) = eth_work(result) {
                self.facts.pool_msgs = self.facts.pool_msgs.saturating_add(1);
                self.apply_eth_work(work);
                return true;
            }
        }
        if matches!(self.facts.variant, None | Some(Variant::CryptoNote)) {
            let job = fields(result, &["job"]).and_then(|[j]| j).and_then(|j| {
                cn_job(
                    j,
                    &mut Capper { max: self.limits.max_field_len, truncated: &mut self.facts.truncated },
                )
            });
            if let Some(job) = job {
                if !self.assign_role(side, Role::Pool) {
                    self.role_conflicts = self.role_conflicts.saturating_add(1);
                    return true;
                }
                self.set_variant(Variant::CryptoNote);
                self.pool_push = true;
                self.facts.pool_msgs = self.facts.pool_msgs.saturating_add(1);
                self.cn_job(job);
                return true;
            }
        }
        self.pool_reply_in_session(side)
    }

    fn pool_reply_in_session(&mut self, side: Side) -> bool {
        let from_pool = self.facts.variant.is_some() && self.facts.client == Some(side.other());
        if from_pool {
            self.facts.pool_msgs = self.facts.pool_msgs.saturating_add(1);
        }
        from_pool
    }

    fn eth_work(&mut self, result: &RawValue) {
        if let Some(work) = eth_work(result) {
            self.apply_eth_work(work);
        }
    }

    fn apply_eth_work(&mut self, (header, difficulty): (u64, Option<f64>)) {
        self.pool_work = true;
        if let Some(d) = difficulty {
            self.share_setting = Some(ShareSetting::Difficulty(d));
            self.set_difficulty(d);
        }
        if self.last_eth_work != Some(header) {
            self.last_eth_work = Some(header);
            self.facts.jobs = self.facts.jobs.saturating_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: Side = Side::A;
    const B: Side = Side::B;

    /// Feeds lines in order with timestamps 1, 2, 3, ...; returns each line's kind.
    fn run(s: &mut Session, lines: &[(Side, &[u8])]) -> Vec<LineKind> {
        lines.iter().enumerate().map(|(i, (side, l))| s.on_line(*side, l, Ts(i as i64 + 1))).collect()
    }

    fn session(lines: &[(Side, &[u8])]) -> Session {
        let mut s = Session::new();
        run(&mut s, lines);
        s
    }

    fn assert_not_mining(lines: &[(Side, &[u8])]) {
        let mut s = Session::new();
        let kinds = run(&mut s, lines);
        assert_eq!(s.confidence(), None, "{lines:?}");
        assert!(kinds.iter().all(|k| *k == LineKind::OtherJson), "{kinds:?}");
        assert_eq!(s.facts().client, None);
        assert_eq!(s.facts().variant, None);
        assert_eq!(s.facts().shares_submitted + s.facts().jobs, 0);
    }

    #[test]
    fn web_miner_dialect_auth_job_submit_accepted() {
        // As Coinhive's client sends and its pool front ends (deepMiner and the like) answer.
        let s = session(&[
            (Side::A, br#"{"type":"auth","params":{"site_key":"QmVsb3ZlZFNpdGVLZXkwMDAwMDAwMDAwMDAwMDA","type":"anonymous","user":null,"goal":0}}"#),
            (Side::B, br#"{"type":"authed","params":{"token":"","hashes":0}}"#),
            (Side::B, br#"{"type":"job","params":{"job_id":"j1","blob":"0707aa","target":"b88d0600","algo":"cn/r","height":1797516}}"#),
            (Side::A, br#"{"type":"submit","params":{"version":7,"job_id":"j1","nonce":"0a000000","result":"ab01"}}"#),
            (Side::B, br#"{"type":"hash_accepted","params":{"hashes":256}}"#),
            (Side::A, br#"{"type":"submit","params":{"job_id":"j1","nonce":"0b000000","result":"ab02"}}"#),
        ]);
        let f = s.facts();
        assert_eq!(s.confidence(), Some(Confidence::Confirmed));
        assert_eq!((f.variant, f.client), (Some(Variant::WebMiner), Some(Side::A)));
        assert_eq!(f.login.as_deref(), Some("QmVsb3ZlZFNpdGVLZXkwMDAwMDAwMDAwMDAwMDA"));
        assert_eq!((f.jobs, f.shares_submitted, f.shares_accepted), (1, 2, 1));
        assert_eq!(f.algo.as_deref(), Some("cn/r"));
        assert!(f.difficulty.is_some_and(|d| d > 0.0));
        assert!(f.accepted_hashes > 0.0);
        assert_eq!(f.methods, vec!["auth", "authed", "job", "submit", "hash_accepted"]);
        // A user name rides beside the site key.
        let s = session(&[(
            Side::B,
            br#"{"type":"auth","params":{"site_key":"k","type":"user","user":"alice"}}"#,
        )]);
        assert_eq!((s.facts().worker.as_deref(), s.facts().client), (Some("alice"), Some(Side::B)));
    }

    #[test]
    fn typed_json_of_other_applications_is_no_web_miner() {
        assert_not_mining(&[
            (Side::A, br#"{"type":"auth","params":{"token":"eyJhbGciOi"}}"#),
            (Side::B, br#"{"type":"job","params":{"id":7,"name":"build"}}"#),
            (Side::A, br#"{"type":"submit","params":{"form":"contact"}}"#),
            (Side::B, br#"{"type":"hash_accepted","params":{"hashes":"many"}}"#),
            (Side::B, br#"{"type":"authed"}"#),
            (Side::A, br#"{"type":"message","params":{"text":"hi"}}"#),
        ]);
    }

    #[test]
    fn stratum_v1_end_to_end_with_miner_on_side_b() {
        let mut s = Session::new();
        // The pool speaks first here (a banner-like push): roles still come from the protocol.
        let t = |s: &mut Session, side, l: &[u8], ts| s.on_line(side, l, Ts(ts));
        assert_eq!(
            t(&mut s, B, br#"{"id": 1, "method": "mining.subscribe", "params": ["cpuminer/2.5.1"]}"#, 1),
            LineKind::Mining
        );
        assert_eq!(s.confidence(), Some(Confidence::Detected));
        assert_eq!(s.facts().client, Some(B));
        t(&mut s, A, br#"{"id":1,"result":[[["mining.set_difficulty","d1"],["mining.notify","n1"]],"0199f51e",4],"error":null}"#, 2);
        assert_eq!(s.confidence(), Some(Confidence::Detected));
        t(&mut s, B, br#"{"id": 2, "method": "mining.authorize", "params": ["bc1qwallet.rig01", "x"]}"#, 3);
        assert_eq!(t(&mut s, A, br#"{"id":2,"result":true,"error":null}"#, 4), LineKind::Mining);
        assert_eq!(s.confidence(), Some(Confidence::Confirmed));
        t(&mut s, A, br#"{"id":null,"method":"mining.set_difficulty","params":[0.005]}"#, 5);
        t(&mut s, A, br#"{"id":null,"method":"mining.notify","params":["1a2b0001","f82c","01","0a",[],"20000000","1d00ffff","5f5e1000",true]}"#, 6);
        t(&mut s, B, br#"{"method": "mining.submit", "params": ["bc1qwallet.rig01", "1a2b0001", "00000000", "6b062559", "43505500"], "id":4}"#, 7);
        t(&mut s, A, br#"{"id":4,"result":true,"error":null}"#, 8);
        t(&mut s, B, br#"{"method": "mining.submit", "params": ["bc1qwallet.rig01", "1a2b0001", "00000000", "6b062559", "43505501"], "id":5}"#, 9);
        t(&mut s, A, br#"{"id":5,"result":null,"error":[21,"Stale job!",null]}"#, 10);
        let f = s.facts();
        assert_eq!(f.variant, Some(Variant::StratumV1));
        assert_eq!(f.client, Some(B));
        assert_eq!(f.login.as_deref(), Some("bc1qwallet.rig01"));
        assert_eq!(f.password.as_deref(), Some("x"));
        assert_eq!(f.agent.as_deref(), Some("cpuminer/2.5.1"));
        assert_eq!(f.jobs, 1);
        assert_eq!(f.difficulty, Some(0.005));
        assert_eq!((f.shares_submitted, f.shares_accepted, f.shares_rejected), (2, 1, 1));
        assert_eq!((f.first_share, f.last_share), (Some(Ts(7)), Some(Ts(9))));
        assert_eq!((f.client_msgs, f.pool_msgs), (4, 6));
        assert_eq!(
            f.methods,
            [
                "mining.subscribe",
                "mining.authorize",
                "mining.set_difficulty",
                "mining.notify",
                "mining.submit"
            ]
        );
        assert!(!f.truncated);
    }

    #[test]
    fn cpuminer_reusing_one_id_for_every_submit_counts_every_answer() {
        let sub: &[u8] =
            br#"{"method": "mining.submit", "params": ["w", "j", "00000000", "6b062559", "1"], "id":4}"#;
        let ok: &[u8] = br#"{"id":4,"result":true,"error":null}"#;
        let bad: &[u8] = br#"{"id":4,"result":false,"error":null}"#;
        // Three in flight before any answer, then interleaved.
        let s = session(&[(A, sub), (A, sub), (A, sub), (B, ok), (B, ok), (B, bad), (A, sub), (B, ok)]);
        let f = s.facts();
        assert_eq!((f.shares_submitted, f.shares_accepted, f.shares_rejected), (4, 3, 1));
        // The worker name of a submit stands in for the login when no authorize was seen.
        assert_eq!(f.login.as_deref(), Some("w"));
        assert_eq!(s.confidence(), Some(Confidence::Confirmed));
        // A fifth answer has no request left: a pool message, but no share.
        let mut s = s;
        assert_eq!(s.on_line(B, ok, Ts(99)), LineKind::Mining);
        assert_eq!(s.facts().shares_accepted, 3);
    }

    #[test]
    fn zcash_set_target_and_extra_subscribe_params() {
        let s = session(&[
            (A, br#"{"id":1,"method":"mining.subscribe","params":["EWBF 0.3.4b",null,"eu1-zcash.flypool.org","3333"]}"#),
            (B, br#"{"id":1,"result":["04d567b212", "04d567b212"], "error": null}"#),
            (A, br#"{"id":2,"method":"mining.authorize","params":["t1fAhZF5.rig4","x"]}"#),
            (B, br#"{"id":2,"result":true, "error": null}"#),
            (B, br#"{"id":null,"method":"mining.set_target","params":["0004189374bc6a7ef9db22d0e5604189374bc6a7ef9db22d0e5604189374bc6a"]}"#),
            (A, br#"{"id":3,"method":"mining.extranonce.subscribe","params":[]}"#),
            (B, br#"{"id":null,"method":"mining.notify","params":["8c6f","04000000","9e2f","35d3","0000","a9cc405a","09d8151c",true]}"#),
            (A, br#"{"id":100,"method":"mining.submit","params":["t1fAhZF5.rig4","8c6f","a9cc405a","3e27","fd4005"]}"#),
            (B, br#"{"id":100,"result":true}"#),
        ]);
        let f = s.facts();
        assert_eq!(f.variant, Some(Variant::StratumV1));
        assert_eq!(f.agent.as_deref(), Some("EWBF 0.3.4b"));
        assert_eq!(f.login.as_deref(), Some("t1fAhZF5.rig4"));
        // An Equihash miner (EWBF): the target becomes a difficulty on the 0x0007ff.. scale.
        // 2^256 / 0x0004189374bc.. = 16000 solutions per share = difficulty 16000 / 8192.
        let d = f.difficulty.unwrap_or_default();
        assert!((d - 16_000.0 / 8192.0).abs() < 1e-3, "{d}");
        assert_eq!(f.target, None);
        assert!(f.methods.iter().any(|m| m == "mining.set_target"));
        assert_eq!((f.jobs, f.shares_submitted, f.shares_accepted), (1, 1, 1));
        assert_eq!(s.confidence(), Some(Confidence::Confirmed));
    }

    #[test]
    fn ethereum_stratum_from_subscribe_or_hello() {
        let s = session(&[
            (A, br#"{"id":1,"method":"mining.subscribe","params":["ethminer/0.19.0","EthereumStratum/1.0.0"]}"#),
            (B, br#"{"id":1,"result":[["mining.notify","ae6812eb4cd7735a302a8a9dd95cf71f","EthereumStratum/1.0.0"],"080c"],"error":null}"#),
            (A, br#"{"id":2,"method":"mining.authorize","params":["0xabc.rig","x"]}"#),
            (B, br#"{"id":2,"result":true,"error":null}"#),
            (B, br#"{"id":null,"method":"mining.set_difficulty","params":[4]}"#),
            (B, br#"{"id":null,"method":"mining.notify","params":["bf0488aa","abad8f99","c4b2",true]}"#),
        ]);
        let f = s.facts();
        assert_eq!(f.variant, Some(Variant::EthereumStratum));
        assert_eq!(f.agent.as_deref(), Some("ethminer/0.19.0"));
        assert_eq!((f.jobs, f.difficulty), (1, Some(4.0)));
        assert_eq!(s.confidence(), Some(Confidence::Confirmed));

        let s = session(&[(
            B,
            br#"{"id":0,"method":"mining.hello","params":{"agent":"lolMiner 1.0","host":"pool","port":"4444","proto":"EthereumStratum/2.0.0"}}"#,
        )]);
        assert_eq!(s.facts().variant, Some(Variant::EthereumStratum));
        assert_eq!(s.facts().agent.as_deref(), Some("lolMiner 1.0"));
        assert_eq!(s.facts().client, Some(B));
        assert_eq!(s.confidence(), Some(Confidence::Detected));
    }

    #[test]
    fn sv1_extensions_asic_agent_and_pool_controls() {
        let s = session(&[
            (A, br#"{"id":1,"method":"mining.configure","params":[["version-rolling","minimum-difficulty","bogus"],{"version-rolling.mask":"1fffe000","version-rolling.min-bit-count":2,"minimum-difficulty.value":2048}]}"#),
            (B, br#"{"id":1,"result":{"version-rolling":true,"version-rolling.mask":"1fffe000","minimum-difficulty":true},"error":null}"#),
            (A, br#"{"id":2,"method":"mining.subscribe","params":["bmminer/2.0.0","0a1b"]}"#),
            (B, br#"{"id":2,"result":[[["mining.notify","ae68"]],"08000002",4],"error":null}"#),
            (A, br#"{"id":3,"method":"mining.extranonce.subscribe","params":[]}"#),
            (B, br#"{"id":3,"result":true,"error":null}"#),
            (A, br#"{"id":4,"method":"mining.authorize","params":["1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa.s19+4096","d=8192,c=BTC"]}"#),
            (B, br#"{"id":4,"result":true,"error":null}"#),
            (A, br#"{"id":5,"method":"mining.suggest_difficulty","params":[16384]}"#),
            (B, br#"{"id":null,"method":"mining.set_version_mask","params":["1fffe000"]}"#),
            (B, br#"{"id":null,"method":"mining.set_difficulty","params":[8192]}"#),
            (B, br#"{"id":null,"method":"mining.set_extranonce","params":["08000003",4]}"#),
            (B, br#"{"id":null,"method":"mining.notify","params":["j1","p","c1","c2",[],"20000000","1703a30c","66302f00",true]}"#),
            (A, br#"{"id":6,"method":"mining.submit","params":["1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa.s19","j1","00000000","66302f00","0badf00d","00a00000"]}"#),
            (B, br#"{"id":6,"result":true,"error":null}"#),
            (B, br#"{"id":null,"method":"mining.set_difficulty","params":[4096]}"#),
            (A, br#"{"id":7,"method":"mining.submit","params":["1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa.s19","j1","00000000","66302f00","0badf00e"]}"#),
            (B, br#"{"id":7,"result":true,"error":null}"#),
            (B, br#"{"id":"v1","method":"client.get_version","params":[]}"#),
            (A, br#"{"id":"v1","result":"bmminer/2.0.0 (Antminer S19)","error":null}"#),
            (B, br#"{"id":null,"method":"client.show_message","params":["maintenance at 12:00"]}"#),
            (B, br#"{"id":null,"method":"client.reconnect","params":["stratum2.example.net",3333,5]}"#),
        ]);
        let f = s.facts();
        assert_eq!(f.variant, Some(Variant::StratumV1));
        assert_eq!(f.client, Some(A));
        assert_eq!(f.agent.as_deref(), Some("bmminer/2.0.0"));
        assert_eq!(f.wallet.as_deref(), Some("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"));
        assert_eq!(f.worker.as_deref(), Some("s19"));
        assert_eq!((f.coin, f.wallet_checksum), (Some("BTC"), true));
        assert_eq!(f.suggested_difficulty, Some(16384.0), "the latest request wins");
        assert_eq!(f.extensions, ["version-rolling", "minimum-difficulty", "extranonce-subscribe"]);
        assert_eq!(
            (f.difficulty, f.difficulty_min, f.difficulty_max),
            (Some(4096.0), Some(4096.0), Some(8192.0))
        );
        assert_eq!(f.difficulty_changes, 2);
        assert_eq!((f.shares_submitted, f.shares_accepted), (2, 2));
        // SHA-256d: difficulty 1 = 2^32 hashes; one share at 8192, one at 4096.
        assert_eq!(f.accepted_hashes, (8192.0 + 4096.0) * 4_294_967_296.0);
        assert_eq!(f.pool_message.as_deref(), Some("maintenance at 12:00"));
        assert_eq!(f.reconnect_to.as_deref(), Some("stratum2.example.net:3333"));
        assert_eq!(s.role_conflicts(), 0);
        assert_eq!(s.confidence(), Some(Confidence::Confirmed));
        // A pool that asks for the version before the miner names itself gets the agent that way.
        let s = session(&[
            (A, br#"{"id":2,"method":"mining.authorize","params":["acct.w","x"]}"#),
            (B, br#"{"id":"v","method":"client.get_version","params":[]}"#),
            (A, br#"{"id":"v","result":"cgminer/4.11.1"}"#),
        ]);
        assert_eq!(s.facts().agent.as_deref(), Some("cgminer/4.11.1"));
        assert_eq!(s.facts().wallet, None, "acct is not an address");
        assert_eq!(s.facts().worker.as_deref(), Some("w"));
    }

    #[test]
    fn ethereum_stratum_1_from_shapes_and_2_from_hello() {
        // EthereumStratum/1.0.0 where only the subscribe result names it.
        let s = session(&[
            (A, br#"{"id":1,"method":"mining.subscribe","params":["NBMiner/42.3"]}"#),
            (B, br#"{"id":1,"result":[["mining.notify","ae6812eb4cd7735a302a8a9dd95cf71f","EthereumStratum/1.0.0"],"080c"],"error":null}"#),
        ]);
        assert_eq!(s.facts().variant, Some(Variant::EthereumStratum));
        // ... or only the ETH-shaped notify (midstream).
        let s = session(&[
            (B, br#"{"id":null,"method":"mining.set_difficulty","params":[0.5]}"#),
            (B, br#"{"id":null,"method":"mining.notify","params":["bf0488aa","abad8f99f3ef5e1e5e1e4ed4d8a6a3d2a5e5b3f1c9a0e4d6b3a2c1d0e9f8a7b6","c4b2a0e4d6b3a2c1d0e9f8a7b6abad8f99f3ef5e1e5e1e4ed4d8a6a3d2a5e5b3",true]}"#),
            (A, br#"{"id":4,"method":"mining.submit","params":["0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed.rig","bf0488aa","0a1b2c3d"]}"#),
            (B, br#"{"id":4,"result":true}"#),
        ]);
        let f = s.facts();
        assert_eq!(f.variant, Some(Variant::EthereumStratum));
        assert_eq!(f.client, Some(A));
        assert_eq!(f.coin, Some("ETH"));
        assert_eq!(f.accepted_hashes, 0.5 * 4_294_967_296.0);
        // EthereumStratum/2.0.0.
        let s = session(&[
            (A, br#"{"id":1,"method":"mining.hello","params":{"agent":"lolMiner 1.42","host":"eth.example.net","port":"1b1e","proto":"EthereumStratum/2.0.0"}}"#),
            (B, br#"{"id":1,"result":{"proto":"EthereumStratum/2.0.0","encoding":"plain","resume":1,"timeout":30,"maxerrors":5,"node":"Geth/v1.10"}}"#),
            (A, br#"{"id":2,"method":"mining.subscribe","params":[]}"#),
            (B, br#"{"id":2,"result":"s-12345"}"#),
            (A, br#"{"id":3,"method":"mining.authorize","params":["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed.rig7","x"]}"#),
            (B, br#"{"id":3,"result":["0001","s-12345"]}"#),
            (B, br#"{"method":"mining.set","params":{"epoch":"1c","target":"00000001ffffffffffffffffffffffffffffffffffffffffffffffffffffffff","algo":"ethash","extranonce":"af4c"}}"#),
            (B, br#"{"method":"mining.notify","params":["cf8a","e35b0a","7a7a0d9b8d5c4e5c6c1b1a2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f",true]}"#),
            (A, br#"{"id":4,"method":"mining.submit","params":["cf8a","c1a0e4d6b3a2","rig7"]}"#),
            (B, br#"{"id":4,"result":true}"#),
            (A, br#"{"id":5,"method":"mining.hashrate","params":["0x1dcd6500","rig7"]}"#),
            (A, br#"{"id":6,"method":"mining.noop"}"#),
            (B, br#"{"id":6,"result":true}"#),
            (A, br#"{"id":7,"method":"mining.bye"}"#),
        ]);
        let f = s.facts();
        assert_eq!(f.variant, Some(Variant::EthereumStratum));
        assert_eq!(f.agent.as_deref(), Some("lolMiner 1.42"));
        assert_eq!(f.login.as_deref(), Some("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed.rig7"));
        assert_eq!((f.coin, f.wallet_checksum), (Some("ETH"), true));
        assert_eq!(f.algo.as_deref(), Some("ethash"));
        // target 2^224 * 2 -> 2^31 hashes per share = difficulty 0.5 on the 2^32 scale.
        assert_eq!(f.difficulty, Some(0.5));
        assert_eq!(f.accepted_hashes, 2f64.powi(31));
        assert_eq!(f.reported_hashrate, Some(500_000_000.0));
        assert_eq!((f.jobs, f.shares_accepted), (1, 1));
        assert!(["mining.set", "mining.noop", "mining.bye", "mining.hashrate"]
            .iter()
            .all(|m| f.methods.iter().any(|x| x == m)));
        assert_eq!(s.role_conflicts(), 0);
        assert_eq!(s.confidence(), Some(Confidence::Confirmed));
        // mining.set alone with none of its keys is nothing.
        assert_not_mining(&[(B, br#"{"method":"mining.set","params":{"volume":3}}"#)]);
    }

    #[test]
    fn cryptonote_nicehash_proxy_and_hashrate() {
        let s = session(&[
            (A, br#"{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A.farm1","pass":"x","agent":"xmrig-proxy/6.22.0 (Linux x86_64) libuv/1.48.0 gcc/13.2.0","algo":["rx/0"],"nicehash":true}}"#),
            (B, br#"{"id":1,"jsonrpc":"2.0","error":null,"result":{"id":"s1","job":{"blob":"10","job_id":"1","target":"dd240601","algo":"rx/0"},"extensions":["algo","nicehash","keepalive"],"status":"OK"}}"#),
            (A, br#"{"id":2,"jsonrpc":"2.0","method":"submit","params":{"id":"s1","job_id":"1","nonce":"a0000000","result":"ff"}}"#),
            (B, br#"{"id":2,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}"#),
        ]);
        let f = s.facts();
        assert_eq!(f.extensions, ["nicehash"]);
        assert_eq!(f.worker.as_deref(), Some("farm1"));
        assert_eq!((f.coin, f.wallet_checksum), (Some("XMR"), true));
        // Cryptonote difficulty is in hashes: the accepted share is worth ~250 hashes.
        assert!((f.accepted_hashes - 250.0).abs() < 0.01, "{}", f.accepted_hashes);
        // No wallet: the algorithm names the coin.
        let s = session(&[(
            A,
            br#"{"id":1,"method":"login","params":{"login":"user7","pass":"x","algo":["rx/0"]}}"#,
        )]);
        assert_eq!(s.facts().coin, Some("XMR"));
        assert_eq!(s.facts().wallet, None);
    }

    #[test]
    fn login_conventions() {
        assert_eq!(split_login("W.rig1"), ("W", Some("rig1"), None));
        assert_eq!(split_login("W+512"), ("W", None, Some(512.0)));
        assert_eq!(split_login("W.rig1+512"), ("W", Some("rig1"), Some(512.0)));
        assert_eq!(split_login("W/rig/mail@example.org"), ("W", Some("rig"), None));
        assert_eq!(split_login("W+x"), ("W", None, None));
        assert_eq!(split_login("W"), ("W", None, None));
        assert_eq!(split_login("."), ("", None, None));
        assert_eq!(
            split_login("bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a.w"),
            ("bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a", Some("w"), None)
        );
        assert_eq!(password_options("d=512,c=xmr"), (Some(512.0), Some("XMR".to_string())));
        assert_eq!(password_options("x"), (None, None));
        assert_eq!(password_options("diff=nan; coin=&x"), (None, None));
    }

    #[test]
    fn cryptonote_end_to_end() {
        let mut s = Session::new();
        let k = run(&mut s, &[
            (A, br#"{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"4AASi45ub","pass":"x","agent":"XMRig/6.26.0 (Linux x86_64)","rigid":"rig-xmr01","algo":["rx/0","cn/2","cn/r"]}}"#),
        ]);
        assert_eq!(k, [LineKind::Mining]);
        assert_eq!(s.confidence(), Some(Confidence::Detected));
        assert_eq!(s.facts().algo.as_deref(), Some("rx/0,cn/2,cn/r"));
        run(&mut s, &[
            (B, br#"{"id":1,"jsonrpc":"2.0","error":null,"result":{"id":"fa7e","job":{"blob":"1010ae","job_id":"200001","target":"dd240601","algo":"rx/0","height":3200001},"status":"OK"}}"#),
        ]);
        assert_eq!(s.confidence(), Some(Confidence::Confirmed));
        run(&mut s, &[
            (A, br#"{"id":2,"jsonrpc":"2.0","method":"submit","params":{"id":"fa7e","job_id":"200001","nonce":"53000000","result":"1fa2","algo":"rx/0"}}"#),
            (B, br#"{"id":2,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}"#),
            (B, br#"{"jsonrpc":"2.0","method":"job","params":{"blob":"1010b8","job_id":"200002","target":"b88d0600","algo":"rx/0"}}"#),
            (A, br#"{"id":3,"jsonrpc":"2.0","method":"submit","params":{"id":"fa7e","job_id":"200002","nonce":"e4000000","result":"da6e"}}"#),
            (B, br#"{"id":3,"jsonrpc":"2.0","error":{"code":-1,"message":"Low difficulty share"}}"#),
        ]);
        let k = run(
            &mut s,
            &[
                (A, br#"{"id":7,"jsonrpc":"2.0","method":"keepalived","params":{"id":"fa7e"}}"#),
                (B, br#"{"id":7,"jsonrpc":"2.0","error":null,"result":{"status":"KEEPALIVED"}}"#),
            ],
        );
        assert_eq!(k, [LineKind::Mining, LineKind::Mining]);
        let f = s.facts();
        assert_eq!(f.variant, Some(Variant::CryptoNote));
        assert_eq!(f.client, Some(A));
        assert_eq!(f.login.as_deref(), Some("4AASi45ub"));
        assert_eq!(f.password.as_deref(), Some("x"));
        assert_eq!(f.agent.as_deref(), Some("XMRig/6.26.0 (Linux x86_64)"));
        assert_eq!(f.worker.as_deref(), Some("rig-xmr01"));
        assert_eq!(f.algo.as_deref(), Some("rx/0"), "the job's algo replaces the login list");
        assert_eq!(f.jobs, 2);
        // 0x00068db8 = 429496 -> 2^32 / 429496 = 10000.02
        let d = f.difficulty.unwrap_or_default();
        assert!((d - 10_000.0).abs() < 0.1, "{d}");
        assert_eq!((f.shares_submitted, f.shares_accepted, f.shares_rejected), (2, 1, 1));
        assert_eq!(f.methods, ["login", "submit", "job", "keepalived"]);
    }

    #[test]
    fn cryptonote_login_shapes() {
        // XMRig variants may omit agent (and everything but login and pass).
        let s = session(&[(A, br#"{"id":1,"method":"login","params":{"login":"wallet","pass":"x"}}"#)]);
        assert_eq!(s.facts().variant, Some(Variant::CryptoNote));
        assert_eq!(s.facts().login.as_deref(), Some("wallet"));
        assert_eq!(s.confidence(), Some(Confidence::Detected));
        // A login that is a wallet address needs nothing beside it.
        let s = session(&[(A, br#"{"id":1,"method":"login","params":{"login":"44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A+50000"}}"#)]);
        assert_eq!(s.facts().variant, Some(Variant::CryptoNote));
        assert_eq!(s.facts().coin, Some("XMR"));
        assert_eq!(s.facts().suggested_difficulty, Some(50_000.0));
        // A generic RPC login with other shapes is not mining.
        assert_not_mining(&[
            (A, br#"{"id":1,"method":"login","params":["user","secret"]}"#),
            (A, br#"{"id":2,"method":"login","params":{"user":"bob","password":"x"}}"#),
            (A, br#"{"id":2,"method":"login","params":{"login":"bob","password":"hunter2"}}"#),
            (A, br#"{"id":3,"method":"login","params":{"login":42}}"#),
            (A, br#"{"id":4,"method":"login"}"#),
            (A, br#"{"id":5,"method":"submit","params":{"form":"x"}}"#),
            (A, br#"{"id":6,"method":"job","params":{"name":"backup"}}"#),
            (A, br#"{"id":7,"method":"keepalived","params":{"id":"x"}}"#),
            (B, br#"{"id":7,"result":{"status":"OK"}}"#),
        ]);
    }

    #[test]
    fn eth_proxy_end_to_end() {
        let work1: &[u8] = br#"{"id":3,"jsonrpc":"2.0","result":["0x22b597d7bf24ef9a605a5d4fb6f7e155b7d0ce28ba6a9aa9eda6b74b34685d71","0x88615dc9f6fe84975a471ca044adecdfde8c8fcdde97d2a3416254d590c52d0c","0x0112e0be826d694b2e62d01511f12a6061fbaec8bc02357593e70e52ba","0x492609"]}"#;
        let get: &[u8] =
            br#"{"worker": "", "jsonrpc": "2.0", "params": [], "id": 3, "method": "eth_getWork"}"#;
        let mut s = Session::new();
        run(&mut s, &[
            (A, br#"{"worker": "eth1.0", "jsonrpc": "2.0", "params": ["0x0fccfff9e61a230ff380530c6827caf4759337c6.rig2", "x"], "id": 2, "method": "eth_submitLogin"}"#),
        ]);
        assert_eq!(s.confidence(), Some(Confidence::Detected));
        run(&mut s, &[(B, br#"{"id":2,"jsonrpc":"2.0","result":true}"#)]);
        assert_eq!(s.confidence(), Some(Confidence::Confirmed));
        let k = run(&mut s, &[
            (A, get),
            (B, work1),
            (A, get),
            (B, work1), // the same work polled again: not a new job
            (B, br#"{"id":0,"jsonrpc":"2.0","result":["0x7203ec897ece1d7f30b92dde44a8afa950fe2288360e59f5ae23ec6841ce6011","0x88615dc9f6fe84975a471ca044adecdfde8c8fcdde97d2a3416254d590c52d0c","0x0112e0be826d694b2e62d01511f12a6061fbaec8bc02357593e70e52ba","0x49260a"]}"#),
            (A, br#"{"id":6,"jsonrpc":"2.0","method":"eth_submitHashrate","params":["0x375198a", "0x16526810"]}"#),
            (B, br#"{"id":6,"jsonrpc":"2.0","result":true}"#),
            (A, br#"{"id":4,"method":"eth_submitWork","params":["0x93dc6cdc00d0d468","0x7203","0x5f50"]}"#),
            (B, br#"{"id":4,"jsonrpc":"2.0","result":true}"#),
            (A, br#"{"id":4,"method":"eth_submitWork","params":["0x93dc6cdc00d0d469","0x7203","0x5f50"]}"#),
            (B, br#"{"id":4,"jsonrpc":"2.0","result":false}"#),
        ]);
        assert!(k.iter().all(|k| *k == LineKind::Mining), "{k:?}");
        let f = s.facts();
        assert_eq!(f.variant, Some(Variant::EthProxy));
        assert_eq!(f.client, Some(A));
        assert_eq!(f.login.as_deref(), Some("0x0fccfff9e61a230ff380530c6827caf4759337c6.rig2"));
        assert_eq!(f.worker.as_deref(), Some("rig2"), "the login's suffix, not ethminer's marker");
        assert_eq!(f.wallet.as_deref(), Some("0x0fccfff9e61a230ff380530c6827caf4759337c6"));
        assert_eq!((f.coin, f.wallet_checksum), (Some("ETH"), false));
        assert_eq!(f.reported_hashrate, Some(f64::from(0x375198a)));
        // One share accepted at 2^256 / boundary hashes (eth-proxy difficulty is in hashes).
        assert!((f.accepted_hashes / f.difficulty.unwrap_or_default() - 1.0).abs() < 1e-9);
        assert_eq!(f.jobs, 2);
        assert_eq!((f.shares_submitted, f.shares_accepted, f.shares_rejected), (2, 1, 1));
        let d = f.difficulty.unwrap_or_default();
        assert!((d / 4e9 - 1.0).abs() < 1e-6, "{d}");
    }

    #[test]
    fn escaped_methods_keys_odd_whitespace_key_order_and_crlf() {
        let s = session(&[
            (A, b"  {\t\"params\" :\n[ \"agent\\u002f1\" ] , \"me\\u0074hod\"\t:  \"mining\\u002esubscribe\" ,\"id\" : 1 }\r"),
            (B, b"{ \"error\" : null , \"result\" : [ ] , \"id\" : 1 }\r"),
            (A, b"{\"params\":[\"w\\u00e9.1\",\"p\"],\"id\":\"a\\u0062\",\"method\":\"mining.authorize\"}\r"),
            // The pool re-serialises the string id without the escape: still the same request.
            (B, b"{\"id\":\"ab\",\"error\":null,\"result\":true}\r"),
        ]);
        let f = s.facts();
        assert_eq!(f.agent.as_deref(), Some("agent/1"));
        assert_eq!(f.login.as_deref(), Some("w\u{e9}.1"));
        assert_eq!(f.methods, ["mining.subscribe", "mining.authorize"]);
        assert_eq!(s.confidence(), Some(Confidence::Confirmed));
    }

    #[test]
    fn batch_lines_handle_each_element() {
        let mut s = Session::new();
        let k = s.on_line(
            A,
            br#"[{"id":1,"method":"mining.subscribe","params":["m/1"]}, 7, {"id":2,"method":"mining.authorize","params":["u.w","x"]}]"#,
            Ts(1),
        );
        assert_eq!(k, LineKind::Mining);
        let k = s.on_line(B, br#"[{"id":1,"result":[]},{"id":2,"result":true}]"#, Ts(2));
        assert_eq!(k, LineKind::Mining);
        assert_eq!(s.facts().login.as_deref(), Some("u.w"));
        assert_eq!(s.facts().agent.as_deref(), Some("m/1"));
        assert_eq!(s.confidence(), Some(Confidence::Confirmed));
        assert_eq!(s.on_line(A, b"[]", Ts(3)), LineKind::OtherJson);
        assert_eq!(s.on_line(A, br#"[{"id":9,"method":"echo"}]"#, Ts(4)), LineKind::OtherJson);
    }

    #[test]
    fn midstream_pickup_notify_and_submit_only() {
        let s = session(&[
            (B, br#"{"id":null,"method":"mining.notify","params":["j2","prev","c1","c2",[],"20000000","1d00ffff","5f5e1000",false]}"#),
            (A, br#"{"params":["acct.worker7","j2","00000000","5f5e1001","1234"],"id":41,"method":"mining.submit"}"#),
            (B, br#"{"id":41,"result":true,"error":null}"#),
        ]);
        let f = s.facts();
        assert_eq!(f.client, Some(A));
        assert_eq!(f.variant, Some(Variant::StratumV1));
        assert_eq!(f.login.as_deref(), Some("acct.worker7"));
        assert_eq!((f.jobs, f.shares_submitted, f.shares_accepted), (1, 1, 1));
        assert_eq!(s.confidence(), Some(Confidence::Confirmed));
        // A later authorize is authoritative and replaces the stand-in.
        let mut s = s;
        s.on_line(A, br#"{"id":42,"method":"mining.authorize","params":["acct.real","pw"]}"#, Ts(9));
        assert_eq!(s.facts().login.as_deref(), Some("acct.real"));
        assert_eq!(s.facts().password.as_deref(), Some("pw"));
    }

    #[test]
    fn client_only_capture_is_detected() {
        let s = session(&[
            (B, br#"{"id": 1, "method": "mining.subscribe", "params": ["cpuminer/2.5.1"]}"#),
            (B, br#"{"id": 2, "method": "mining.authorize", "params": ["acct.rig", "x"]}"#),
            (B, br#"{"method": "mining.submit", "params": ["acct.rig", "j", "0", "1", "2"], "id":4}"#),
        ]);
        let f = s.facts();
        assert_eq!(f.client, Some(B));
        assert_eq!((f.shares_submitted, f.shares_accepted), (1, 0));
        assert_eq!(f.login.as_deref(), Some("acct.rig"));
        assert_eq!(s.confidence(), Some(Confidence::Detected));
    }

    #[test]
    fn pool_only_capture_is_detected() {
        let s = session(&[
            (A, br#"{"id":null,"method":"mining.set_difficulty","params":[16]}"#),
            (A, br#"{"id":null,"method":"mining.notify","params":["j1","p","c1","c2",[],"v","b","t",true]}"#),
            (A, br#"{"id":4,"result":true,"error":null}"#),
        ]);
        let f = s.facts();
        assert_eq!(f.client, Some(B), "the miner is the side the pool talks to");
        assert_eq!((f.jobs, f.difficulty), (1, Some(16.0)));
        assert_eq!(f.shares_accepted, 0, "an answer to an unseen request proves nothing");
        assert_eq!(s.confidence(), Some(Confidence::Detected));

        // Cryptonote pool side only: an unrequested login result with a job, then a job push.
        let s = session(&[
            (B, br#"{"id":1,"jsonrpc":"2.0","error":null,"result":{"id":"x","job":{"blob":"10","job_id":"1","target":"dd240601"},"status":"OK"}}"#),
            (B, br#"{"jsonrpc":"2.0","method":"job","params":{"blob":"11","job_id":"2","target":"dd240601"}}"#),
        ]);
        assert_eq!(s.facts().variant, Some(Variant::CryptoNote));
        assert_eq!(s.facts().client, Some(A));
        assert_eq!(s.facts().jobs, 2);
        assert_eq!(s.confidence(), Some(Confidence::Detected));
    }

    #[test]
    fn role_conflicts_keep_the_first_roles() {
        // An echo server reflects the miner's subscribe: B would be a client too.
        let sub: &[u8] = br#"{"id":1,"method":"mining.subscribe","params":["m/1"]}"#;
        let mut s = session(&[(A, sub), (B, sub)]);
        assert_eq!(s.facts().client, Some(A));
        assert_eq!(s.role_conflicts(), 1);
        assert_eq!(s.facts().client_msgs, 1);
        // The miner side pushing a notify is also a conflict, and no job.
        s.on_line(A, br#"{"id":null,"method":"mining.notify","params":[]}"#, Ts(5));
        assert_eq!((s.role_conflicts(), s.facts().jobs), (2, 0));
        assert_eq!(s.confidence(), Some(Confidence::Detected));
    }

    #[test]
    fn negatives_stay_silent() {
        // Electrum.
        assert_not_mining(&[
            (A, br#"{"jsonrpc":"2.0","method":"server.version","params":["electrum/4.5","1.4"],"id":0}"#),
            (B, br#"{"jsonrpc":"2.0","result":["ElectrumX 1.16","1.4"],"id":0}"#),
            (A, br#"{"jsonrpc":"2.0","method":"blockchain.headers.subscribe","params":[],"id":1}"#),
            (A, br#"{"jsonrpc":"2.0","method":"blockchain.scripthash.subscribe","params":["8b01df4e"],"id":2}"#),
            (B, br#"{"jsonrpc":"2.0","method":"blockchain.headers.subscribe","params":[{"hex":"00","height":1}]}"#),
        ]);
        // Ethereum node RPC, including a result array of hashes with id 0.
        assert_not_mining(&[
            (A, br#"{"jsonrpc":"2.0","method":"eth_blockNumber","params":[],"id":0}"#),
            (B, br#"{"jsonrpc":"2.0","id":0,"result":["0x22b597d7bf24ef9a605a5d4fb6f7e155b7d0ce28ba6a9aa9eda6b74b34685d71","0x88615dc9f6fe84975a471ca044adecdfde8c8fcdde97d2a3416254d590c52d0c","0x0112e0"]}"#),
            (A, br#"{"jsonrpc":"2.0","method":"eth_call","params":[{"to":"0x1"},"latest"],"id":1}"#),
            (A, br#"{"jsonrpc":"2.0","method":"web3_clientVersion","params":[],"id":2}"#),
            (A, br#"{"jsonrpc":"2.0","method":"net_version","params":[],"id":3}"#),
        ]);
        // Plain JSON-RPC echo and language-server traffic.
        assert_not_mining(&[
            (A, br#"{"jsonrpc": "2.0", "method": "echo", "params": ["Testing!"], "id": "ca08159b-af1a-481f-a9e1-0dafdd22bdec"}"#),
            (B, br#"{"jsonrpc": "2.0", "result": ["Testing!"], "id": "ca08159b-af1a-481f-a9e1-0dafdd22bdec"}"#),
            (A, br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":1,"capabilities":{}}}"#),
            (B, br#"{"jsonrpc":"2.0","method":"textDocument/publishDiagnostics","params":{"uri":"file:///a.rs","diagnostics":[]}}"#),
        ]);
        // Mining keywords only inside string values, and weak names on their own.
        assert_not_mining(&[
            (A, br#"{"msg":"send {\"method\":\"mining.subscribe\"}"}"#),
            (A, br#"{"method":"chat.post","params":["mining.subscribe","mining.notify"]}"#),
            (A, br#"{"method":"mining.subscribex","params":[]}"#),
            (A, br#"{"result":{"method":"mining.notify"},"id":1}"#),
            (A, br#"{"method":"proxy","params":{"method":"mining.authorize","params":["a","b"]}}"#),
            (B, br#"{"method":"client.reconnect","params":["h",1]}"#),
            (B, br#"{"method":"client.show_message","params":["hi"]}"#),
            (B, br#"{"id":0,"result":["0x1","0x2","0x3"]}"#),
        ]);
    }

    #[test]
    fn over_long_login_is_truncated_on_a_char_boundary() {
        let login = "\u{e9}".repeat(600); // 1200 bytes
        let line = format!(r#"{{"id":2,"method":"mining.authorize","params":["{login}","x"]}}"#);
        let s = session(&[(A, line.as_bytes())]);
        let f = s.facts();
        let got = f.login.as_deref().unwrap_or_default();
        assert!(f.truncated);
        assert_eq!(got.len(), MAX_FIELD_LEN);
        assert!(login.starts_with(got));
        // An odd cap position: a 3-byte char straddling the limit is dropped whole.
        let login = format!("a{}", "\u{20ac}".repeat(300));
        let line = format!(r#"{{"id":2,"method":"login","params":{{"login":"{login}"}}}}"#);
        let s = session(&[(A, line.as_bytes())]);
        let got = s.facts().login.as_deref().unwrap_or_default();
        assert!(got.len() <= MAX_FIELD_LEN && login.starts_with(got), "{}", got.len());
    }

    #[test]
    fn garbage_and_deep_nesting_do_not_panic() {
        let mut s = Session::new();
        for l in [
            &b"{"[..],
            b"[",
            b"{\"id\":1,\"method\":\"mining.subscribe\"",
            b"{\"method\":\"mining.subscribe\"}}",
            b"\xff\xfe{}",
            b"{\"method\":\"\xc3\x28\"}",
            b"{\"x\":\"\xc3\x28\",\"method\":\"mining.notify\"}",
        ] {
            assert_eq!(s.on_line(A, l, Ts(0)), LineKind::NotJson, "{l:?}");
        }
        let mut deep: Vec<u8> = vec![b'['; 200_000];
        deep.extend(std::iter::repeat(b']').take(200_000));
        let _ = s.on_line(A, &deep, Ts(0));
        let mut deep = br#"{"method":"mining.notify","params":"#.to_vec();
        deep.extend(std::iter::repeat(b'[').take(200_000));
        deep.extend(std::iter::repeat(b']').take(200_000));
        deep.push(b'}');
        assert_eq!(s.on_line(B, &deep, Ts(0)), LineKind::Mining);
        let mut deep = br#"{"method":"login","params":{"login":"w","algo":"#.to_vec();
        deep.extend(std::iter::repeat(b'[').take(100_000));
        deep.extend(std::iter::repeat(b']').take(100_000));
        deep.extend_from_slice(b"}}");
        assert_eq!(s.on_line(A, &deep, Ts(0)), LineKind::Mining);
        assert_eq!(s.facts().login.as_deref(), Some("w"));
        assert_eq!(s.facts().algo, None);
        assert_eq!(s.confidence(), Some(Confidence::Confirmed));
    }

    #[test]
    fn configured_limits_bound_fields_and_pending_requests() {
        let limits = Limits { max_field_len: 20, max_pending: 3, ..Limits::default() };
        let mut s = Session::with_limits(limits);
        let login = "w".repeat(100);
        let l = format!(r#"{{"id":1,"method":"mining.authorize","params":["{login}","x"]}}"#);
        s.on_line(A, l.as_bytes(), Ts(1));
        assert_eq!(s.facts().login.as_deref(), Some(&login[..20]));
        assert!(s.facts().truncated);
        for i in 10..20 {
            let l = format!(r#"{{"id":{i},"method":"mining.submit","params":["w","j","0","0","{i}"]}}"#);
            s.on_line(A, l.as_bytes(), Ts(i));
        }
        assert_eq!(s.pending.len(), 3);
        // Eleven requests, three kept.
        assert_eq!(s.pending_dropped(), 8);
    }

    #[test]
    fn methods_and_pending_requests_are_bounded() {
        let mut s = Session::new();
        for i in 0..1000 {
            let l = format!(r#"{{"id":{i},"method":"m{i}","params":[]}}"#);
            s.on_line(A, l.as_bytes(), Ts(i));
        }
        assert_eq!(s.facts().methods.len(), MAX_METHODS);
        for i in 0..1000 {
            let l = format!(r#"{{"id":{i},"method":"mining.submit","params":["w","j","0","0","{i}"]}}"#);
            s.on_line(A, l.as_bytes(), Ts(i));
        }
        assert!(s.pending.len() <= MAX_PENDING);
        assert_eq!(s.pending_dropped(), 1000 - MAX_PENDING as u64);
        // The newest requests are still answerable.
        s.on_line(B, br#"{"id":999,"result":true}"#, Ts(2000));
        s.on_line(B, br#"{"id":0,"result":true}"#, Ts(2001));
        assert_eq!(s.facts().shares_accepted, 1);
        // Over-long ids are not tracked.
        let id = "9".repeat(MAX_ID_LEN + 1);
        let l = format!(r#"{{"id":"{id}","method":"mining.submit","params":["w","j","0","0","x"]}}"#);
        s.on_line(A, l.as_bytes(), Ts(3000));
        assert_eq!(s.pending_dropped(), 1001 - MAX_PENDING as u64);
    }

    #[test]
    fn target_and_boundary_difficulty() {
        let d = cn_target_difficulty("dd240601").unwrap_or_default();
        assert!((d - 250.0).abs() < 1e-3, "{d}");
        let d = cn_target_difficulty("b88d060000000000").unwrap_or_default();
        assert!((d / (2f64.powi(64) / 429_496.0) - 1.0).abs() < 1e-12);
        assert_eq!(cn_target_difficulty("00000000"), None);
        assert_eq!(cn_target_difficulty("zz240601"), None);
        assert_eq!(cn_target_difficulty("dd2406"), None);
        assert_eq!(eth_boundary_difficulty("0x0"), None);
        assert_eq!(eth_boundary_difficulty("0x"), None);
        assert_eq!(eth_boundary_difficulty(&format!("0x{}", "f".repeat(65))), None);
        let d = eth_boundary_difficulty(&format!("0x1{}", "0".repeat(60))).unwrap_or_default();
        assert_eq!(d, 2f64.powi(16));
    }

    /// JSON-ish lines built from Stratum vocabulary, so the fuzzer reaches the state machine.
    fn jsonish() -> impl Strategy<Value = Vec<u8>> {
        let word = prop::sample::select(vec![
            "\"mining.subscribe\"",
            "\"mining.authorize\"",
            "\"mining.submit\"",
            "\"mining.notify\"",
            "\"mining.set_difficulty\"",
            "\"login\"",
            "\"submit\"",
            "\"job\"",
            "\"keepalived\"",
            "\"eth_submitLogin\"",
            "\"eth_getWork\"",
            "\"eth_submitWork\"",
            "\"mining.configure\"",
            "\"mining.set\"",
            "\"mining.set_target\"",
            "\"mining.hello\"",
            "\"client.get_version\"",
            "\"client.reconnect\"",
            "\"version-rolling\"",
            "\"EthereumStratum/1.0.0\"",
            "\"00000001ffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"",
            "\"method\"",
            "\"params\"",
            "\"result\"",
            "\"error\"",
            "\"id\"",
            "\"blob\"",
            "\"job_id\"",
            "\"nonce\"",
            "\"target\"",
            "\"dd240601\"",
            "\"0x1f\"",
            "\"status\"",
            "\"OK\"",
            "0",
            "4",
            "-1.5e3",
            "true",
            "false",
            "null",
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            " ",
            "\\u002e",
            "\"\u{e9}\"",
        ]);
        prop::collection::vec(word, 0..40).prop_map(|w| w.concat().into_bytes())
    }

    fn line() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            jsonish().prop_map(|mut v| {
                v.insert(0, b'{');
                v.push(b'}');
                v
            }),
            jsonish(),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_lines_never_panic_and_stay_bounded(
            lines in prop::collection::vec((any::<bool>(), line()), 0..40)
        ) {
            let mut s = Session::new();
            let mut last = None;
            for (i, (a, l)) in lines.iter().enumerate() {
                let side = if *a { A } else { B };
                let _ = s.on_line(side, l, Ts(i as i64));
                let c = s.confidence();
                prop_assert!(c >= last, "confidence went down");
                last = c;
            }
            let f = s.facts();
            prop_assert!(f.methods.len() <= MAX_METHODS);
            prop_assert!(f.methods.iter().all(|m| m.len() <= MAX_FIELD_LEN));
            prop_assert!(s.pending.len() <= MAX_PENDING);
            prop_assert!(f.shares_accepted + f.shares_rejected <= f.shares_submitted);
            prop_assert!(s.confidence().is_none() || f.client.is_some());
            prop_assert!(f.login.as_ref().map_or(true, |l| l.len() <= MAX_FIELD_LEN));
        }
    }
}
