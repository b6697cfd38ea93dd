//! The report of a run, for people and for other teams: `--report FILE.html` (a page to look
//! at), `--report-json FILE` (the same content as JSON, docs/report.md), `--export-stix FILE`
//! (a STIX 2.1 bundle) and `--export-misp FILE` (a MISP event).
//!
//! One place collects: the collector thread hands every record it writes to a [`Builder`]
//! (with the watchlist's label for it, looked up by the outputs), which keeps what the report
//! needs, bounded: hosts, sessions per host, pools, wallets and miner software, each with a
//! counter of what it left out. At the end of the run (and on SIGHUP, live) the builder and the
//! host table ([`crate::hosts`]) become a plain [`Report`], which the renderers (`html`, `stix`,
//! `misp`) and serde turn into files. Like the outputs, the report formats what the records
//! hold and works out no fact of its own; the hash-rate plot only spreads each session's
//! estimated rate (`Derived::hashrate`) over the time it ran.

pub mod html;
pub mod misp;
pub mod stix;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::{Serialize, Serializer};

use crate::hosts::HostEntry;
use crate::stats::{Counters, KernelStats, NOT_INSPECTED};
use crate::stratum::Confidence;
use crate::time::Ts;
use crate::verdict::{Event, EventKind};

/// The bounds of what the report keeps. Defaults are the values the tests were run with; a
/// page with every bound full (10,000 hosts of 64 sessions) is a few tens of MB, which a
/// browser still opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Mining hosts with a timeline.
    pub hosts: usize,
    /// Sessions drawn per host.
    pub sessions_per_host: usize,
    /// Distinct pools (address and port).
    pub pools: usize,
    /// Distinct wallets.
    pub wallets: usize,
    /// Distinct miner software (name and version).
    pub software: usize,
    /// Names, clues or wallets kept per pool or host.
    pub per_item: usize,
    /// Points of each hash-rate plot (time buckets over the capture's span).
    pub buckets: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            hosts: 10_000,
            sessions_per_host: 64,
            pools: 4_096,
            wallets: 4_096,
            software: 1_024,
            per_item: 8,
            buckets: 60,
        }
    }
}

/// Traffic Light Protocol level of the exports (`--export-tlp`): a STIX marking on every object
/// and a MISP tag on the event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Tlp {
    /// TLP:CLEAR (STIX 2.1's predefined marking is still called TLP:WHITE).
    Clear,
    Green,
    /// The default: a sensor's findings name the network it watches.
    #[default]
    Amber,
    Red,
}

impl Tlp {
    /// The MISP taxonomy tag.
    pub fn misp_tag(self) -> &'static str {
        match self {
            Tlp::Clear => "tlp:clear",
            Tlp::Green => "tlp:green",
            Tlp::Amber => "tlp:amber",
            Tlp::Red => "tlp:red",
        }
    }
}

/// What to write at the end of the run, and where.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub html: Option<PathBuf>,
    pub json: Option<PathBuf>,
    pub stix: Option<PathBuf>,
    pub misp: Option<PathBuf>,
    pub tlp: Tlp,
    /// The sensor's name (`--sensor-name`), the STIX identity and the MISP event's author.
    pub sensor: String,
    pub limits: Limits,
    /// Live capture: also rewrite the files this often (`--report-interval`); `None`: only at
    /// SIGHUP and at exit.
    pub interval: Option<std::time::Duration>,
}

impl Plan {
    /// Whether any report file is asked for.
    pub fn any(&self) -> bool {
        self.html.is_some() || self.json.is_some() || self.stix.is_some() || self.misp.is_some()
    }

    /// Opens (creates, empties) every file asked for, now: at the start of the run, while the
    /// process may still write where its unprivileged user could not (a live capture drops
    /// privileges before reading), and so that a path that cannot be written stops the run
    /// before a day of captures is read rather than after. `Err`: one line naming the file.
    pub fn open(self) -> Result<Files, String> {
        let open = |p: &Option<PathBuf>| -> Result<Option<(PathBuf, File)>, String> {
            match p {
                None => Ok(None),
                Some(p) => {
                    File::create(p).map(|f| Some((p.clone(), f))).map_err(|e| format!("{}: {e}", p.display()))
                }
            }
        };
        Ok(Files {
            html: open(&self.html)?,
            json: open(&self.json)?,
            stix: open(&self.stix)?,
            misp: open(&self.misp)?,
            plan: self,
        })
    }
}

/// The report files of a run, open.
#[derive(Debug)]
pub struct Files {
    plan: Plan,
    html: Option<(PathBuf, File)>,
    json: Option<(PathBuf, File)>,
    stix: Option<(PathBuf, File)>,
    misp: Option<(PathBuf, File)>,
}

impl Files {
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Renders `report` into every file, each rewritten from its start (a live capture
    /// rewrites them at each SIGHUP). Returns the first failure, one line naming the file.
    pub fn write(&self, report: &Report) -> Result<(), String> {
        let mut first: Option<String> = None;
        let mut one = |file: &Option<(PathBuf, File)>, render: &dyn Fn() -> Vec<u8>| {
            if let Some((p, f)) = file {
                if let Err(e) = rewrite(f, &render()) {
                    first.get_or_insert(format!("{}: {e}", p.display()));
                }
            }
        };
        let tlp = self.plan.tlp;
        one(&self.html, &|| html::render(report).into_bytes());
        one(&self.json, &|| {
            let mut v = serde_json::to_vec_pretty(report).unwrap_or_default();
            v.push(b'\n');
            v
        });
        one(&self.stix, &|| stix::render(report, tlp));
        one(&self.misp, &|| misp::render(report, tlp));
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Replaces the content of the open file `f` with `bytes`.
fn rewrite(mut f: &File, bytes: &[u8]) -> std::io::Result<()> {
    f.set_len(0)?;
    f.seek(SeekFrom::Start(0))?;
    f.write_all(bytes)?;
    f.flush()
}

/// One session as the timeline draws it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SessionBar {
    pub flow_id: u64,
    pub pool: SocketAddr,
    #[serde(serialize_with = "ser_ts")]
    pub start: Ts,
    #[serde(serialize_with = "ser_ts")]
    pub end: Ts,
    pub confidence: &'static str,
    /// Alerted but not ended yet (a live report written while the session runs).
    pub open: bool,
    /// The session's estimated hash rate (H/s), from its `mining_session` record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hashrate: Option<f64>,
}

#[derive(Debug, Default)]
struct HostTrack {
    sessions: Vec<SessionBar>,
    sessions_not_drawn: u64,
    wallets: Vec<String>,
}

#[derive(Debug)]
struct PoolTrack {
    names: Vec<String>,
    clues: Vec<&'static str>,
    sessions: u64,
    first_seen: Ts,
    last_seen: Ts,
}

#[derive(Debug)]
struct WalletTrack {
    coin: Option<&'static str>,
    pools: Vec<SocketAddr>,
    label: Option<String>,
    sessions: u64,
    first_seen: Ts,
    last_seen: Ts,
}

#[derive(Debug)]
struct SoftwareTrack {
    kind: Option<&'static str>,
    pools: Vec<SocketAddr>,
    sessions: u64,
}

/// What the report left out because a bound was reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LeftOut {
    /// Records of mining hosts past `Limits::hosts` (no timeline for them).
    pub host_records: u64,
    /// `mining_session` records not drawn on a timeline (past `Limits::sessions_per_host`).
    pub sessions: u64,
    /// Alerts to pools past `Limits::pools`.
    pub pool_records: u64,
    /// Alerts with wallets past `Limits::wallets`.
    pub wallet_records: u64,
    /// Alerts with software past `Limits::software`.
    pub software_records: u64,
}

/// Collects what the report needs from the records, in the collector thread. Bounded by
/// [`Limits`]: each map stops growing at its bound and counts what it left out.
#[derive(Debug)]
pub struct Builder {
    limits: Limits,
    hosts: HashMap<IpAddr, HostTrack>,
    pools: HashMap<SocketAddr, PoolTrack>,
    wallets: HashMap<String, WalletTrack>,
    software: HashMap<(String, Option<String>), SoftwareTrack>,
    by_confidence: BTreeMap<&'static str, u64>,
    by_clue: BTreeMap<&'static str, u64>,
    span: Option<(Ts, Ts)>,
    left_out: LeftOut,
}

/// What the alerts by clue call a session recognised from its own protocol messages rather
/// than from a TLS server name or a DNS answer.
pub const CLUE_PROTOCOL: &str = "protocol";

fn push_bounded<T: PartialEq>(v: &mut Vec<T>, item: T, max: usize) {
    if v.len() < max && !v.contains(&item) {
        v.push(item);
    }
}

fn widen(span: &mut Option<(Ts, Ts)>, a: Ts, b: Ts) {
    let (lo, hi) = (a.min(b), a.max(b));
    *span = Some(match *span {
        Some((f, l)) => (f.min(lo), l.max(hi)),
        None => (lo, hi),
    });
}

impl Builder {
    pub fn new(limits: Limits) -> Builder {
        Builder {
            limits,
            hosts: HashMap::new(),
            pools: HashMap::new(),
            wallets: HashMap::new(),
            software: HashMap::new(),
            by_confidence: BTreeMap::new(),
            by_clue: BTreeMap::new(),
            span: None,
            left_out: LeftOut::default(),
        }
    }

    /// The time the capture covers (first and last packet), when the pipeline knows it; the
    /// report's span also takes in every record's times.
    pub fn capture_span(&mut self, first: Ts, last: Ts) {
        if first.0 > 0 || last.0 > 0 {
            widen(&mut self.span, first, last);
        }
    }

    /// Folds one record in; `label` is the watchlist's label for its wallet, if listed.
    pub fn record(&mut self, ev: &Event, label: Option<&str>) {
        widen(&mut self.span, ev.first_seen, ev.last_seen.max(ev.ts));
        let alert = ev.kind == EventKind::Mining;
        let f = &ev.facts;
        if alert {
            *self.by_confidence.entry(ev.confidence.as_str()).or_default() += 1;
            *self.by_clue.entry(f.clue.map_or(CLUE_PROTOCOL, |c| c.as_str())).or_default() += 1;
        }
        self.host(ev);
        let per_item = self.limits.per_item;
        // Pools, wallets and software count sessions by their alert (one per session).
        let n = u64::from(alert);
        let pools_full = self.pools.len() >= self.limits.pools;
        match self.pools.get_mut(&ev.pool) {
            Some(p) => {
                p.sessions += n;
                p.first_seen = p.first_seen.min(ev.first_seen);
                p.last_seen = p.last_seen.max(ev.last_seen);
                if let Some(h) = &f.pool_host {
                    push_bounded(&mut p.names, h.clone(), per_item);
                }
                if let Some(c) = f.clue {
                    push_bounded(&mut p.clues, c.as_str(), per_item);
                }
            }
            None if pools_full => self.left_out.pool_records += n,
            None => {
                self.pools.insert(
                    ev.pool,
                    PoolTrack {
                        names: f.pool_host.iter().cloned().collect(),
                        clues: f.clue.iter().map(|c| c.as_str()).collect(),
                        sessions: n,
                        first_seen: ev.first_seen,
                        last_seen: ev.last_seen,
                    },
                );
            }
        }
        if let Some(w) = &f.wallet {
            let full = self.wallets.len() >= self.limits.wallets;
            match self.wallets.get_mut(w) {
                Some(t) => {
                    t.sessions += n;
                    push_bounded(&mut t.pools, ev.pool, per_item);
                    t.first_seen = t.first_seen.min(ev.first_seen);
                    t.last_seen = t.last_seen.max(ev.last_seen);
                    if t.label.is_none() {
                        t.label = label.map(str::to_string);
                    }
                }
                None if full => self.left_out.wallet_records += n,
                None => {
                    self.wallets.insert(
                        w.clone(),
                        WalletTrack {
                            coin: f.coin,
                            pools: vec![ev.pool],
                            label: label.map(str::to_string),
                            sessions: n,
                            first_seen: ev.first_seen,
                            last_seen: ev.last_seen,
                        },
                    );
                }
            }
        }
        if let Some(a) = &ev.derived.agent {
            let key = (a.name.clone(), a.version.clone());
            let full = self.software.len() >= self.limits.software;
            match self.software.get_mut(&key) {
                Some(s) => {
                    s.sessions += n;
                    push_bounded(&mut s.pools, ev.pool, per_item);
                }
                None if full => self.left_out.software_records += n,
                None => {
                    self.software.insert(
                        key,
                        SoftwareTrack { kind: a.kind.map(|k| k.as_str()), pools: vec![ev.pool], sessions: n },
                    );
                }
            }
        }
    }

    /// The record's session on its host's timeline: an alert opens a bar, the session's end
    /// closes it (found by flow id and pool) or adds it whole.
    fn host(&mut self, ev: &Event) {
        let ip = ev.client.ip();
        let full = self.hosts.len() >= self.limits.hosts;
        let h = match self.hosts.get_mut(&ip) {
            Some(h) => h,
            None if full => {
                self.left_out.host_records += 1;
                return;
            }
            None => self.hosts.entry(ip).or_default(),
        };
        if let Some(w) = &ev.facts.wallet {
            push_bounded(&mut h.wallets, w.clone(), self.limits.per_item);
        }
        let ended = ev.kind == EventKind::MiningSession;
        let bar = SessionBar {
            flow_id: ev.flow_id,
            pool: ev.pool,
            start: ev.first_seen,
            end: if ended { ev.last_seen } else { ev.last_seen.max(ev.ts) },
            confidence: ev.confidence.as_str(),
            open: !ended,
            hashrate: ev.derived.hashrate.filter(|r| r.is_finite() && *r >= 0.0),
        };
        let room = h.sessions.len() < self.limits.sessions_per_host;
        match h.sessions.iter_mut().find(|s| s.flow_id == ev.flow_id && s.pool == ev.pool && s.open) {
            Some(s) => *s = SessionBar { start: s.start.min(bar.start), ..bar },
            None if room => h.sessions.push(bar),
            None => {
                if ended {
                    h.sessions_not_drawn += 1;
                    self.left_out.sessions += 1;
                }
            }
        }
    }

    /// The report as it stands: the builder's collections, the host table's entries, the
    /// run's counters and the kernel's (by interface).
    pub fn build(
        &self,
        sensor: &str,
        hosts: &[HostEntry],
        c: &Counters,
        kernel: &[(String, KernelStats)],
    ) -> Report {
        let (first, last) = self.span.unwrap_or_default();
        let buckets = self.limits.buckets.max(1);
        let width = (last.0.saturating_sub(first.0) / buckets as i64).max(1);
        let mut total = vec![0.0f64; buckets];
        let mut host_reports = Vec::with_capacity(hosts.len());
        for e in hosts {
            let track = self.hosts.get(&e.ip);
            let timeline = track.map(|t| t.sessions.clone()).unwrap_or_default();
            let hashrate = spread(&timeline, first, width, buckets);
            total.iter_mut().zip(&hashrate).for_each(|(t, v)| *t += v);
            host_reports.push(HostReport {
                ip: e.ip,
                confidence: e.confidence.as_str(),
                sessions: e.sessions,
                shares_submitted: e.shares_submitted,
                shares_accepted: e.shares_accepted,
                first_seen: e.first_seen,
                last_seen: e.last_seen,
                pools: e.pools.clone(),
                variants: e.variants.iter().map(|v| v.as_str()).collect(),
                logins: e.logins.clone(),
                wallets: track.map(|t| t.wallets.clone()).unwrap_or_default(),
                agent: e.agent.clone(),
                hashrate_peak: hashrate
                    .iter()
                    .copied()
                    .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v)))),
                sessions_not_drawn: track.map_or(0, |t| t.sessions_not_drawn),
                timeline,
                hashrate,
            });
        }
        // Hosts per pool, counted once over the hosts' (bounded) pool lists.
        let mut hosts_of: HashMap<SocketAddr, u64> = HashMap::new();
        for h in &host_reports {
            for p in &h.pools {
                *hosts_of.entry(*p).or_default() += 1;
            }
        }
        let mut pools: Vec<PoolReport> = self
            .pools
            .iter()
            .map(|(a, p)| PoolReport {
                address: a.ip(),
                port: a.port(),
                names: p.names.clone(),
                clues: p.clues.clone(),
                sessions: p.sessions,
                hosts: hosts_of.get(a).copied().unwrap_or(0),
                first_seen: p.first_seen,
                last_seen: p.last_seen,
            })
            .collect();
        pools.sort_by_key(|p| (p.address, p.port));
        let mut wallets: Vec<WalletReport> = self
            .wallets
            .iter()
            .map(|(w, t)| WalletReport {
                wallet: w.clone(),
                coin: t.coin,
                watchlist_label: t.label.clone(),
                pools: t.pools.clone(),
                sessions: t.sessions,
                first_seen: t.first_seen,
                last_seen: t.last_seen,
            })
            .collect();
        wallets.sort_by(|a, b| a.wallet.cmp(&b.wallet));
        let mut software: Vec<SoftwareReport> = self
            .software
            .iter()
            .map(|((name, version), s)| SoftwareReport {
                name: name.clone(),
                version: version.clone(),
                kind: s.kind,
                pools: s.pools.clone(),
                sessions: s.sessions,
            })
            .collect();
        software.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
        let not_inspected = c
            .described()
            .into_iter()
            .filter(|(name, _, v)| *v > 0 && NOT_INSPECTED.contains(name))
            .map(|(name, help, value)| CounterReport { name, help: help.trim(), value })
            .collect();
        Report {
            format: REPORT_FORMAT,
            sensor: sensor.to_string(),
            summary: Summary {
                first_seen: self.span.map(|s| s.0),
                last_seen: self.span.map(|s| s.1),
                duration_seconds: last.secs_since(first),
                packets: c.packets,
                bytes: c.bytes,
                flows: c.flows,
                flows_bypassed: c.flows_bypassed,
                sessions: c.sessions,
                sessions_external: c.sessions_external,
                alerts: c.alerts,
                mining_hosts: hosts.len() as u64,
                alerts_by_confidence: self.by_confidence.clone(),
                alerts_by_clue: self.by_clue.clone(),
            },
            hashrate: Hashrate { start: first, bucket_seconds: width as f64 / 1e6, total },
            hosts: host_reports,
            pools,
            wallets,
            software,
            not_inspected,
            kernel: kernel
                .iter()
                .map(|(i, k)| KernelReport {
                    interface: i.clone(),
                    received: k.received,
                    dropped: k.dropped,
                    if_dropped: k.if_dropped,
                })
                .collect(),
            left_out: LeftOut { ..self.left_out },
            hosts_table_full: c.hosts_table_full,
        }
    }
}

impl HostReport {
    /// The host's confidence as a rank (confirmed highest), for ordering.
    pub fn confidence_rank(&self) -> usize {
        CONFIDENCES.iter().rev().position(|c| c.as_str() == self.confidence).unwrap_or(0)
    }
}

/// Each session's hash rate spread over the buckets it overlaps (time-weighted), so that a
/// bucket holds the mean rate the host mined at during it.
fn spread(sessions: &[SessionBar], start: Ts, width: i64, buckets: usize) -> Vec<f64> {
    let mut out = vec![0.0f64; buckets];
    for s in sessions {
        let Some(rate) = s.hashrate else { continue };
        let (a, b) = (s.start.0.saturating_sub(start.0), s.end.0.saturating_sub(start.0));
        if b <= a {
            continue;
        }
        let first = usize::try_from(a / width).unwrap_or(0).min(buckets - 1);
        let last = usize::try_from(b / width).unwrap_or(0).min(buckets - 1);
        for (i, slot) in out.iter_mut().enumerate().take(last + 1).skip(first) {
            let lo = (i as i64).saturating_mul(width).max(a);
            let hi = (i as i64 + 1).saturating_mul(width).min(b);
            if hi > lo {
                *slot += rate * (hi - lo) as f64 / width as f64;
            }
        }
    }
    out
}

/// The report's shape and version, written first in the JSON (docs/report.md).
pub const REPORT_FORMAT: &str = "minewatch-report/1";

fn ser_ts<S: Serializer>(t: &Ts, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.rfc3339())
}

fn ser_opt_ts<S: Serializer>(t: &Option<Ts>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.rfc3339()),
        None => s.serialize_none(),
    }
}

/// The whole report: what the page shows and the JSON holds (docs/report.md).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub format: &'static str,
    pub sensor: String,
    pub summary: Summary,
    /// The hash rate summed over the hosts, in buckets of packet time.
    pub hashrate: Hashrate,
    /// The mining hosts, by address.
    pub hosts: Vec<HostReport>,
    pub pools: Vec<PoolReport>,
    pub wallets: Vec<WalletReport>,
    pub software: Vec<SoftwareReport>,
    /// The counters that say what was not inspected or was lost, those above zero.
    pub not_inspected: Vec<CounterReport>,
    pub kernel: Vec<KernelReport>,
    pub left_out: LeftOut,
    /// Mining-host records the host table had no room for (the hosts list misses them).
    pub hosts_table_full: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    #[serde(serialize_with = "ser_opt_ts")]
    pub first_seen: Option<Ts>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub last_seen: Option<Ts>,
    pub duration_seconds: f64,
    pub packets: u64,
    pub bytes: u64,
    pub flows: u64,
    pub flows_bypassed: u64,
    pub sessions: u64,
    pub sessions_external: u64,
    pub alerts: u64,
    pub mining_hosts: u64,
    pub alerts_by_confidence: BTreeMap<&'static str, u64>,
    pub alerts_by_clue: BTreeMap<&'static str, u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Hashrate {
    #[serde(serialize_with = "ser_ts")]
    pub start: Ts,
    pub bucket_seconds: f64,
    pub total: Vec<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct HostReport {
    pub ip: IpAddr,
    pub confidence: &'static str,
    pub sessions: u64,
    pub shares_submitted: u64,
    pub shares_accepted: u64,
    #[serde(serialize_with = "ser_ts")]
    pub first_seen: Ts,
    #[serde(serialize_with = "ser_ts")]
    pub last_seen: Ts,
    pub pools: Vec<SocketAddr>,
    pub variants: Vec<&'static str>,
    pub logins: Vec<String>,
    pub wallets: Vec<String>,
    pub agent: Option<String>,
    pub hashrate_peak: Option<f64>,
    pub timeline: Vec<SessionBar>,
    pub sessions_not_drawn: u64,
    /// Mean hash rate per bucket (H/s), buckets as in [`Report::hashrate`].
    pub hashrate: Vec<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PoolReport {
    pub address: IpAddr,
    pub port: u16,
    /// Names the traffic gave it (TLS SNI, DNS answer, HTTP Host).
    pub names: Vec<String>,
    pub clues: Vec<&'static str>,
    pub sessions: u64,
    pub hosts: u64,
    #[serde(serialize_with = "ser_ts")]
    pub first_seen: Ts,
    #[serde(serialize_with = "ser_ts")]
    pub last_seen: Ts,
}

#[derive(Clone, Debug, Serialize)]
pub struct WalletReport {
    pub wallet: String,
    pub coin: Option<&'static str>,
    pub watchlist_label: Option<String>,
    /// The pools it was mined to (up to `Limits::per_item`).
    pub pools: Vec<SocketAddr>,
    pub sessions: u64,
    #[serde(serialize_with = "ser_ts")]
    pub first_seen: Ts,
    #[serde(serialize_with = "ser_ts")]
    pub last_seen: Ts,
}

#[derive(Clone, Debug, Serialize)]
pub struct SoftwareReport {
    pub name: String,
    pub version: Option<String>,
    pub kind: Option<&'static str>,
    /// The pools it mined to (up to `Limits::per_item`).
    pub pools: Vec<SocketAddr>,
    pub sessions: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct CounterReport {
    pub name: &'static str,
    pub help: &'static str,
    pub value: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct KernelReport {
    pub interface: String,
    pub received: u64,
    pub dropped: u64,
    pub if_dropped: u64,
}

/// The confidence levels in the order a report lists them.
pub const CONFIDENCES: [Confidence; 3] = [Confidence::Confirmed, Confidence::Detected, Confidence::Suspected];

#[cfg(test)]
mod tests;
