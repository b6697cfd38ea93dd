//! Shared helpers for the integration tests: running the binary, reading `TRUTH.tsv` files,
//! parsing and checking the JSON-lines alert stream, and walking capture files record by record.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Locations
// ---------------------------------------------------------------------------------------------

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_minewatch")
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared corpus of real captures: `../shared/corpus` next to the repository, or
/// `$MINEWATCH_CORPUS` when set.
pub fn corpus_dir() -> PathBuf {
    match std::env::var_os("MINEWATCH_CORPUS") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => repo_root().join("../shared/corpus"),
    }
}

/// The project's own captures and their truth.
pub fn pcaps_dir() -> PathBuf {
    repo_root().join("pcaps")
}

/// Every `<corpus>/<folder>/TRUTH.tsv`, sorted by folder name. `Err` carries the reason the
/// corpus directory itself cannot be read (the caller decides whether that means "skip").
pub fn corpus_truth_files() -> Result<Vec<PathBuf>, String> {
    let dir = corpus_dir();
    let entries = std::fs::read_dir(&dir).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let tsv = entry.path().join("TRUTH.tsv");
        if tsv.is_file() {
            out.push(tsv);
        }
    }
    out.sort();
    Ok(out)
}

/// All truth tables that exist: the project's `pcaps/TRUTH.tsv` first (it ships with the
/// repository), then the shared corpus folders. Tables that fail to parse are returned as errors
/// so that a caller can report them instead of silently skipping.
pub fn available_truth_sets() -> Vec<Result<TruthSet, String>> {
    let mut paths = Vec::new();
    let own = pcaps_dir().join("TRUTH.tsv");
    if own.is_file() {
        paths.push(own);
    }
    if let Ok(corpus) = corpus_truth_files() {
        paths.extend(corpus);
    }
    paths.iter().map(|p| TruthSet::load(p)).collect()
}

/// A capture that has at least one `mining` row, chosen from [`available_truth_sets`], preferring
/// files for which `prefer` holds. Returns the capture path and its rows.
pub fn sample_capture(prefer: impl Fn(&Path, &[TruthRow]) -> bool) -> Option<(PathBuf, Vec<TruthRow>)> {
    let mut candidates = Vec::new();
    for set in available_truth_sets().into_iter().flatten() {
        for file in set.files() {
            let rows: Vec<TruthRow> = set.rows_for(&file).into_iter().cloned().collect();
            let path = set.dir.join(&file);
            if path.is_file() && rows.iter().any(|r| r.expect == Expect::Mining) {
                candidates.push((path, rows));
            }
        }
    }
    let preferred = candidates.iter().position(|(p, rows)| prefer(p, rows));
    match preferred {
        Some(i) => Some(candidates.swap_remove(i)),
        None => candidates.into_iter().next(),
    }
}

pub fn no_sample_message() -> String {
    format!(
        "no capture with a `mining` row found: neither {} nor {} (set MINEWATCH_CORPUS) has one",
        pcaps_dir().join("TRUTH.tsv").display(),
        corpus_dir().display()
    )
}

// ---------------------------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------------------------

/// A safety net so that a hung binary fails the test instead of hanging CI. Not a performance
/// assertion: every capture in the tests replays in well under a second.
const HANG_LIMIT: Duration = Duration::from_secs(600);

#[derive(Debug)]
pub struct RunOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub args: Vec<String>,
}

impl RunOutput {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The command line and both output streams, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "command: minewatch {}\nexit: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args.join(" "),
            self.status.code(),
            truncate_for_display(&self.stdout, 4000),
            truncate_for_display(&self.stderr, 4000)
        )
    }

    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }
}

fn truncate_for_display(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}\n... ({} more bytes)", &s[..cut], s.len() - cut)
}

/// Runs the binary with `args`, feeding `stdin` when given (otherwise stdin is empty).
pub fn run<S: AsRef<std::ffi::OsStr>>(args: &[S], stdin: Option<Vec<u8>>) -> RunOutput {
    let shown: Vec<String> = args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect();
    let mut child = Command::new(bin())
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin()));

    let feeder = stdin.map(|bytes| {
        let mut pipe = child.stdin.take().expect("piped stdin");
        // A binary that stops reading early closes the pipe; that is not the test's concern.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        })
    });
    let mut out_pipe = child.stdout.take().expect("piped stdout");
    let mut err_pipe = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out_pipe.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });

    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > HANG_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "minewatch {} did not finish within {} s; killed",
                    shown.join(" "),
                    HANG_LIMIT.as_secs()
                );
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for minewatch: {e}"),
        }
    };
    if let Some(f) = feeder {
        let _ = f.join();
    }
    let stdout = out_reader.join().expect("stdout reader");
    let stderr = err_reader.join().expect("stderr reader");
    RunOutput {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        args: shown,
    }
}

// ---------------------------------------------------------------------------------------------
// TRUTH.tsv
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    Mining,
    None,
}

/// A client or server address from a truth row. `None` means `*` (any).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub ip: Option<IpAddr>,
    pub port: Option<u16>,
}

impl Endpoint {
    fn matches(&self, ip: &str, port: u16) -> bool {
        let ip_ok = match self.ip {
            None => true,
            Some(want) => canonical_ip(&want) == ip,
        };
        ip_ok && self.port.map_or(true, |p| p == port)
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ip = self.ip.map_or_else(|| "*".to_string(), |ip| canonical_ip(&ip));
        let port = self.port.map_or_else(|| "*".to_string(), |p| p.to_string());
        match self.ip {
            Some(IpAddr::V6(_)) => write!(f, "[{ip}]:{port}"),
            _ => write!(f, "{ip}:{port}"),
        }
    }
}

/// The textual form the binary must use: Rust's `Display` of the address.
pub fn canonical_ip(ip: &IpAddr) -> String {
    ip.to_string()
}

#[derive(Clone, Debug)]
pub struct TruthRow {
    /// 1-based line number in TRUTH.tsv.
    pub line: usize,
    pub file: String,
    pub expect: Expect,
    pub variant: String,
    pub client: Endpoint,
    pub server: Endpoint,
    /// Empty when the session carries no login.
    pub login: String,
    pub note: String,
    pub submits: Option<u64>,
    pub jobs: Option<u64>,
}

/// (src_ip, src_port, dest_ip, dest_port), with IPs in canonical form.
pub type FourTuple = (String, u16, String, u16);

impl TruthRow {
    /// The exact four-tuple of a `mining` row; `None` for rows with wildcards.
    pub fn key(&self) -> Option<FourTuple> {
        Some((
            canonical_ip(&self.client.ip?),
            self.client.port?,
            canonical_ip(&self.server.ip?),
            self.server.port?,
        ))
    }

    pub fn is_file_wide_negative(&self) -> bool {
        self.expect == Expect::None && self.client.ip.is_none()
    }

    pub fn describe(&self) -> String {
        match self.expect {
            Expect::None if self.is_file_wide_negative() => {
                format!("none  (no mining alert anywhere in the file) [TRUTH line {}]", self.line)
            }
            Expect::None => format!("none  no mining alert from {} [TRUTH line {}]", self.client, self.line),
            Expect::Mining => {
                let mut s = format!(
                    "mining {} {} -> {} login={:?}",
                    self.variant, self.client, self.server, self.login
                );
                if let Some(n) = self.submits {
                    let _ = write!(s, " submits={n}");
                }
                if let Some(n) = self.jobs {
                    let _ = write!(s, " jobs={n}");
                }
                let _ = write!(s, " [TRUTH line {}]", self.line);
                s
            }
        }
    }
}

/// One parsed TRUTH.tsv and the folder its file names are relative to.
#[derive(Clone, Debug)]
pub struct TruthSet {
    pub path: PathBuf,
    pub dir: PathBuf,
    pub rows: Vec<TruthRow>,
}

impl TruthSet {
    pub fn load(path: &Path) -> Result<TruthSet, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let rows = parse_truth(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(TruthSet { path: path.to_path_buf(), dir, rows })
    }

    /// A short name for messages: the folder's name.
    pub fn label(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.dir.display().to_string())
    }

    /// Distinct capture names, in the order they first appear.
    pub fn files(&self) -> Vec<String> {
        let mut seen = BTreeSet::new();
        self.rows.iter().filter(|r| seen.insert(r.file.clone())).map(|r| r.file.clone()).collect()
    }

    pub fn rows_for(&self, file: &str) -> Vec<&TruthRow> {
        self.rows.iter().filter(|r| r.file == file).collect()
    }
}

const REQUIRED_COLUMNS: [&str; 9] =
    ["file", "expect", "variant", "client_ip", "client_port", "server_ip", "server_port", "login", "note"];

pub const VARIANTS: [&str; 8] =
    ["stratum-v1", "cryptonote", "eth-proxy", "ethereum-stratum", "getwork", "stratum-v2", "tls", "webminer"];

/// Parses a TRUTH.tsv: a header line naming the columns, then one row per line. Columns are
/// found by name, so extra columns (anywhere) are ignored; `submits` and `jobs` are optional
/// columns. Blank lines and lines starting with `#` are skipped. A row may omit trailing empty
/// fields, but may not have more fields than the header.
pub fn parse_truth(text: &str) -> Result<Vec<TruthRow>, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
    let (_, header) = lines.next().ok_or("empty file: no header line")?;
    let columns: Vec<&str> = header.split('\t').map(str::trim).collect();
    let find = |name: &str| columns.iter().position(|c| *c == name);
    let mut idx = [0usize; 9];
    for (slot, name) in idx.iter_mut().zip(REQUIRED_COLUMNS) {
        *slot = find(name).ok_or_else(|| format!("header lacks column `{name}`"))?;
    }
    let [c_file, c_expect, c_variant, c_cip, c_cport, c_sip, c_sport, c_login, c_note] = idx;
    let c_submits = find("submits");
    let c_jobs = find("jobs");

    let mut rows = Vec::new();
    for (line, text) in lines {
        let fields: Vec<&str> = text.split('\t').collect();
        if fields.len() > columns.len() {
            return Err(format!(
                "line {line}: {} fields but the header has {} columns",
                fields.len(),
                columns.len()
            ));
        }
        let get = |i: usize| fields.get(i).copied().unwrap_or("");
        let err = |what: String| format!("line {line}: {what}");

        let file = get(c_file).to_string();
        if file.is_empty() {
            return Err(err("empty `file`".into()));
        }
        let expect = match get(c_expect) {
            "mining" => Expect::Mining,
            "none" => Expect::None,
            other => return Err(err(format!("`expect` must be mining or none, not {other:?}"))),
        };
        let client = Endpoint {
            ip: parse_ip_field(get(c_cip)).map_err(&err)?,
            port: parse_port_field(get(c_cport)).map_err(&err)?,
        };
        let server = Endpoint {
            ip: parse_ip_field(get(c_sip)).map_err(&err)?,
            port: parse_port_field(get(c_sport)).map_err(&err)?,
        };
        let variant = get(c_variant).to_string();
        let count = |col: Option<usize>, name: &str| -> Result<Option<u64>, String> {
            match col.map(get).unwrap_or("") {
                "" => Ok(None),
                v => v.parse().map(Some).map_err(|_| err(format!("`{name}` is not a count: {v:?}"))),
            }
        };
        let row = TruthRow {
            line,
            file,
            expect,
            variant,
            client,
            server,
            login: get(c_login).to_string(),
            note: get(c_note).to_string(),
            submits: count(c_submits, "submits")?,
            jobs: count(c_jobs, "jobs")?,
        };
        match row.expect {
            Expect::Mining => {
                if row.key().is_none() {
                    return Err(err(
                        "a `mining` row needs concrete client and server addresses and ports".into()
                    ));
                }
                if !VARIANTS.contains(&row.variant.as_str()) {
                    return Err(err(format!("unknown variant {:?}", row.variant)));
                }
            }
            Expect::None => {
                if row.client.ip.is_none() && row.client.port.is_some() {
                    return Err(err("client_ip `*` with a concrete client_port".into()));
                }
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

fn parse_ip_field(s: &str) -> Result<Option<IpAddr>, String> {
    match s.trim() {
        "" | "*" => Ok(None),
        v => v.parse().map(Some).map_err(|_| format!("not an IP address: {v:?}")),
    }
}

fn parse_port_field(s: &str) -> Result<Option<u16>, String> {
    match s.trim() {
        "" | "*" => Ok(None),
        v => v.parse().map(Some).map_err(|_| format!("not a port: {v:?}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Alerts
// ---------------------------------------------------------------------------------------------

/// One JSON line of the binary's output.
#[derive(Clone, Debug)]
pub struct Record {
    pub line: String,
    pub value: Value,
}

impl Record {
    pub fn event_type(&self) -> &str {
        self.value["event_type"].as_str().unwrap_or("")
    }

    pub fn is_mining(&self) -> bool {
        self.event_type() == "mining"
    }

    pub fn is_session(&self) -> bool {
        self.event_type() == "mining_session"
    }

    pub fn key(&self) -> Option<FourTuple> {
        let v = &self.value;
        Some((
            v["src_ip"].as_str()?.to_string(),
            u16::try_from(v["src_port"].as_u64()?).ok()?,
            v["dest_ip"].as_str()?.to_string(),
            u16::try_from(v["dest_port"].as_u64()?).ok()?,
        ))
    }

    pub fn variant(&self) -> Option<&str> {
        self.value["stratum"]["variant"].as_str()
    }

    /// The login with absent, `null` and `""` all folded to `""`; `Err` for a non-string.
    pub fn login(&self) -> Result<&str, String> {
        match &self.value["stratum"]["login"] {
            Value::Null => Ok(""),
            Value::String(s) => Ok(s),
            other => Err(format!("stratum.login is not a string: {other}")),
        }
    }

    pub fn stratum_count(&self, name: &str) -> Option<u64> {
        self.value["stratum"][name].as_u64()
    }

    pub fn summary(&self) -> String {
        let v = &self.value;
        let ep = |ip: &Value, port: &Value| {
            let ip = ip.as_str().unwrap_or("?");
            if ip.contains(':') {
                format!("[{ip}]:{port}")
            } else {
                format!("{ip}:{port}")
            }
        };
        let mut s = format!(
            "{} {} {} -> {} login={:?} confidence={}",
            self.event_type(),
            self.variant().unwrap_or("?"),
            ep(&v["src_ip"], &v["src_port"]),
            ep(&v["dest_ip"], &v["dest_port"]),
            self.login().unwrap_or("<not a string>"),
            v["confidence"]
        );
        if self.is_session() {
            let _ = write!(
                s,
                " jobs={} submitted={} accepted={} rejected={}",
                v["stratum"]["jobs"],
                v["stratum"]["shares_submitted"],
                v["stratum"]["shares_accepted"],
                v["stratum"]["shares_rejected"]
            );
        }
        s
    }
}

/// Splits stdout into records. Every line must be a JSON object that follows the output contract;
/// each violation becomes a problem string. Records that parse as JSON are returned even when they
/// break the contract, so matching can still report what it can.
pub fn parse_records(stdout: &str) -> (Vec<Record>, Vec<String>) {
    let mut records = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in stdout.lines().enumerate() {
        let n = i + 1;
        let value: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("stdout line {n} is not JSON ({e}): {line}"));
                continue;
            }
        };
        for p in contract_violations(&value) {
            problems.push(format!("stdout line {n}: {p}: {line}"));
        }
        records.push(Record { line: line.to_string(), value });
    }
    (records, problems)
}

/// Checks one record against the output contract.
pub fn contract_violations(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if !v.is_object() {
        out.push("not a JSON object".to_string());
        return out;
    }
    let event = v["event_type"].as_str().unwrap_or("");
    let session = match event {
        "mining" => false,
        "mining_session" => true,
        "stats" => {
            // The counters record: a timestamp and an object of non-negative integer counters.
            if let Err(e) = v["timestamp"].as_str().ok_or("missing".to_string()).and_then(check_timestamp) {
                out.push(format!("stats `timestamp` {e}"));
            }
            match v["stats"].as_object() {
                Some(m) if !m.is_empty() && m.values().all(|x| x.is_u64()) => {}
                _ => out.push("stats record needs a `stats` object of counters".to_string()),
            }
            return out;
        }
        _ => {
            out.push(format!(
                "event_type must be \"mining\", \"mining_session\" or \"stats\", got {}",
                v["event_type"]
            ));
            return out;
        }
    };
    let mut stamps = vec!["timestamp"];
    if session {
        stamps.extend(["first_seen", "last_seen"]);
    }
    for field in stamps {
        match v[field].as_str() {
            Some(ts) => {
                if let Err(e) = check_timestamp(ts) {
                    out.push(format!("`{field}` {e}"));
                }
            }
            None => out.push(format!("`{field}` missing or not a string")),
        }
    }
    for field in ["src_ip", "dest_ip"] {
        match v[field].as_str() {
            None => out.push(format!("`{field}` missing or not a string")),
            Some(s) => match s.parse::<IpAddr>() {
                Err(_) => out.push(format!("`{field}` is not an IP address: {s:?}")),
                Ok(ip) if canonical_ip(&ip) != s => {
                    out.push(format!("`{field}` {s:?} is not in canonical form {:?}", canonical_ip(&ip)))
                }
                Ok(_) => {}
            },
        }
    }
    for field in ["src_port", "dest_port"] {
        if v[field].as_u64().and_then(|p| u16::try_from(p).ok()).is_none() {
            out.push(format!("`{field}` is not a port number: {}", v[field]));
        }
    }
    if v["proto"] != "TCP" {
        out.push(format!("`proto` must be \"TCP\", got {}", v["proto"]));
    }
    let confidence = v["confidence"].as_str().unwrap_or("");
    if !["suspected", "detected", "confirmed"].contains(&confidence) {
        out.push(format!("`confidence` invalid: {}", v["confidence"]));
    }
    let st = &v["stratum"];
    if !st.is_object() {
        out.push("`stratum` missing or not an object".to_string());
        return out;
    }
    if !VARIANTS.contains(&st["variant"].as_str().unwrap_or("")) {
        out.push(format!("`stratum.variant` invalid: {}", st["variant"]));
    }
    if !(st["login"].is_null() || st["login"].is_string()) {
        out.push(format!("`stratum.login` must be a string or null: {}", st["login"]));
    }
    if !(st["pool_host"].is_null() || st["pool_host"].is_string()) {
        out.push(format!("`stratum.pool_host` must be a string when present: {}", st["pool_host"]));
    }
    if !(st["clue"].is_null()
        || ["sni", "dns", "pool-list", "tunnel", "behaviour"].iter().any(|c| st["clue"] == *c))
    {
        out.push(format!(
            "`stratum.clue` must be \"sni\", \"dns\", \"pool-list\", \"tunnel\" or \"behaviour\" when present: {}",
            st["clue"]
        ));
    }
    // A name (SNI, DNS), or the analyst's word on the address (a pool list: a pool host only
    // when the ClientHello named a server), or else the behaviour evidence: what the analyst
    // judges it by.
    let named = !st["pool_host"].is_null() || st["clue"] == "pool-list";
    let behaved = st["clue"] == "behaviour" && st["behaviour"].is_object();
    if st["variant"] == "tls" && (st["clue"].is_null() || !(named || behaved)) {
        out.push("a `tls` record must name its `stratum.clue` and `stratum.pool_host` (but for clue pool-list, or carry `stratum.behaviour`)".to_string());
    }
    if st["clue"] == "behaviour" && !(st["ja4"].is_string() && st["ja3"].is_string()) {
        out.push("a `behaviour` record must carry the client's `stratum.ja3` and `stratum.ja4`".to_string());
    }
    if !st["methods"].is_array() {
        out.push(format!("`stratum.methods` must be an array: {}", st["methods"]));
    }
    if session {
        for field in ["bytes_toserver", "bytes_toclient", "pkts_toserver", "pkts_toclient"] {
            if !v[field].is_u64() {
                out.push(format!("`{field}` must be a count: {}", v[field]));
            }
        }
        for field in ["jobs", "shares_submitted", "shares_accepted", "shares_rejected"] {
            if !st[field].is_u64() {
                out.push(format!("`stratum.{field}` must be a count: {}", st[field]));
            }
        }
    }
    out
}

/// RFC 3339, in UTC (`Z`), with microseconds: `2024-05-01T12:00:00.123456Z`.
pub fn check_timestamp(ts: &str) -> Result<(), String> {
    chrono::DateTime::parse_from_rfc3339(ts).map_err(|e| format!("is not RFC 3339 ({e}): {ts:?}"))?;
    if !ts.ends_with('Z') {
        return Err(format!("does not end in `Z` (UTC): {ts:?}"));
    }
    let b = ts.as_bytes();
    let shape_ok =
        b.len() == 27 && b[10] == b'T' && b[19] == b'.' && b[20..26].iter().all(u8::is_ascii_digit);
    if !shape_ok {
        return Err(format!("is not in the form YYYY-MM-DDTHH:MM:SS.ffffffZ (microseconds): {ts:?}"));
    }
    Ok(())
}

/// Compares the records of one replay with the truth rows that apply to it. Returns one string
/// per problem; empty means the output is right.
pub fn check_against_truth(rows: &[&TruthRow], records: &[Record]) -> Vec<String> {
    let mut problems = Vec::new();
    let mining: Vec<&Record> = records.iter().filter(|r| r.is_mining()).collect();
    let sessions: Vec<&Record> = records.iter().filter(|r| r.is_session()).collect();
    let expected_keys: Vec<FourTuple> =
        rows.iter().filter(|r| r.expect == Expect::Mining).filter_map(|r| r.key()).collect();

    for row in rows.iter().filter(|r| r.expect == Expect::Mining) {
        let Some(key) = row.key() else { continue };
        let hits: Vec<&&Record> = mining.iter().filter(|r| r.key() == Some(key.clone())).collect();
        match hits.as_slice() {
            [] => {
                let swapped = (key.2.clone(), key.3, key.0.clone(), key.1);
                let hint = if mining.iter().any(|r| r.key() == Some(swapped.clone())) {
                    " (an alert exists with client and pool swapped)"
                } else {
                    ""
                };
                problems.push(format!("MISSED: no mining alert for {}{hint}", row.describe()));
            }
            [one] => {
                if one.variant() != Some(row.variant.as_str()) {
                    problems.push(format!(
                        "WRONG VARIANT: expected {:?}, got {:?} for TRUTH line {}: {}",
                        row.variant,
                        one.variant(),
                        row.line,
                        one.line
                    ));
                }
                match one.login() {
                    Ok(login) if login == row.login => {}
                    Ok(login) => problems.push(format!(
                        "WRONG LOGIN: expected {:?}, got {:?} for TRUTH line {}: {}",
                        row.login, login, row.line, one.line
                    )),
                    Err(e) => problems.push(format!("{e} for TRUTH line {}", row.line)),
                }
            }
            many => problems.push(format!(
                "DUPLICATE: {} mining alerts (expected exactly one) for {}:\n{}",
                many.len(),
                row.describe(),
                many.iter().map(|r| format!("      {}", r.line)).collect::<Vec<_>>().join("\n")
            )),
        }

        let ends: Vec<&&Record> = sessions.iter().filter(|r| r.key() == Some(key.clone())).collect();
        match ends.as_slice() {
            [] => problems.push(format!("NO SESSION RECORD: no mining_session for {}", row.describe())),
            [end] => {
                for (name, want) in [("shares_submitted", row.submits), ("jobs", row.jobs)] {
                    let Some(want) = want else { continue };
                    let got = end.stratum_count(name);
                    if got != Some(want) {
                        problems.push(format!(
                            "WRONG COUNT: stratum.{name} expected {want}, got {} for TRUTH line {}: {}",
                            got.map_or_else(|| "nothing".to_string(), |n| n.to_string()),
                            row.line,
                            end.line
                        ));
                    }
                }
            }
            many => problems.push(format!(
                "DUPLICATE: {} mining_session records (expected exactly one) for {}",
                many.len(),
                row.describe()
            )),
        }
    }

    // Negatives, then anything else that matches no `mining` row.
    let mut reported = BTreeSet::new();
    for row in rows.iter().filter(|r| r.expect == Expect::None) {
        for (i, rec) in mining.iter().enumerate() {
            let Some((src_ip, src_port, _, _)) = rec.key() else {
                continue;
            };
            if row.client.matches(&src_ip, src_port) && reported.insert(i) {
                problems.push(format!("ALERT ON NEGATIVE ({}): {}", row.describe(), rec.line));
            }
        }
    }
    for (i, rec) in mining.iter().enumerate() {
        let matched = rec.key().is_some_and(|k| expected_keys.contains(&k));
        if !matched && reported.insert(i) {
            problems.push(format!("FALSE ALARM (matches no mining row): {}", rec.line));
        }
    }
    for rec in &sessions {
        if !rec.key().is_some_and(|k| expected_keys.contains(&k)) {
            problems.push(format!("FALSE ALARM (mining_session matches no mining row): {}", rec.line));
        }
    }
    problems
}

/// The per-file report printed on failure: what the truth expects, what came out, what is wrong.
pub fn render_report(label: &str, rows: &[&TruthRow], records: &[Record], problems: &[String]) -> String {
    let mut s = format!("=== {label}: {} problem(s)\n  expected:\n", problems.len());
    for row in rows {
        let _ = writeln!(s, "    {}", row.describe());
    }
    let _ = writeln!(s, "  got:");
    let shown: Vec<&Record> = records.iter().filter(|r| r.is_mining() || r.is_session()).collect();
    if shown.is_empty() {
        let _ = writeln!(s, "    (no mining or mining_session records)");
    }
    for rec in shown {
        let _ = writeln!(s, "    {}", rec.summary());
    }
    let _ = writeln!(s, "  problems:");
    for p in problems {
        let _ = writeln!(s, "    - {p}");
    }
    s
}

/// The raw lines of the `mining` alerts, sorted.
pub fn sorted_mining_lines(records: &[Record]) -> Vec<String> {
    let mut v: Vec<String> =
        records.iter().filter(|r| r.is_mining()).map(|r| without_file(&r.line)).collect();
    v.sort();
    v
}

/// A record line without its `pcap_filename`: what two replays of the same traffic under two
/// names (a file and standard input, a truncated copy and a clean one) must agree on.
pub fn without_file(line: &str) -> String {
    const KEY: &str = "\"pcap_filename\":\"";
    let Some(i) = line.find(KEY) else { return line.to_string() };
    let rest = &line[i + KEY.len()..];
    match rest.find("\",") {
        Some(j) => format!("{}{}", &line[..i], &rest[j + 2..]),
        None => line.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Capture files
// ---------------------------------------------------------------------------------------------

/// One packet record of a capture file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketRecord {
    /// Byte range of the whole record (header included) in the file.
    pub start: usize,
    pub end: usize,
    /// The TCP connection it belongs to, as (src ip, src port, dst ip, dst port), when it is TCP.
    pub tcp: Option<(IpAddr, u16, IpAddr, u16)>,
}

/// A pcapng block: type, total length, body padded to 4 bytes, total length again.
pub fn pcapng_block(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    while body.len() % 4 != 0 {
        body.push(0);
    }
    let len = (body.len() + 12) as u32;
    let mut b = kind.to_le_bytes().to_vec();
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(&body);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

/// Walks a pcap or pcapng file. Returns the offset where packet records start (after the pcap
/// file header; 0 for pcapng, whose header blocks are not packet records) and the records. Fails
/// on anything that is not a complete, well-formed capture.
pub fn capture_records(data: &[u8]) -> Result<Vec<PacketRecord>, String> {
    if data.len() < 4 {
        return Err("too short for a capture".into());
    }
    let magic = [data[0], data[1], data[2], data[3]];
    match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => pcap_records(data, false),
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => pcap_records(data, true),
        [0x0a, 0x0d, 0x0d, 0x0a] => pcapng_records(data),
        _ => Err(format!("unknown capture magic {magic:02x?}")),
    }
}

fn read_u32(data: &[u8], at: usize, big: bool) -> Result<u32, String> {
    let b: [u8; 4] = data
        .get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| format!("truncated at offset {at}"))?;
    Ok(if big { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
}

fn read_u16(data: &[u8], at: usize, big: bool) -> Result<u16, String> {
    let b: [u8; 2] = data
        .get(at..at + 2)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| format!("truncated at offset {at}"))?;
    Ok(if big { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) })
}

fn pcap_records(data: &[u8], big: bool) -> Result<Vec<PacketRecord>, String> {
    let linktype = read_u32(data, 20, big)? & 0x0fff_ffff;
    let mut out = Vec::new();
    let mut at = 24;
    while at < data.len() {
        let caplen = read_u32(data, at + 8, big)? as usize;
        let body = at + 16;
        let end = body + caplen;
        let packet = data
            .get(body..end)
            .ok_or_else(|| format!("record at offset {at} runs past the end of the file"))?;
        out.push(PacketRecord { start: at, end, tcp: tcp_flow(linktype, packet) });
        at = end;
    }
    Ok(out)
}

fn pcapng_records(data: &[u8]) -> Result<Vec<PacketRecord>, String> {
    let mut out = Vec::new();
    let mut big = false;
    let mut linktypes: Vec<u32> = Vec::new();
    let mut at = 0;
    while at < data.len() {
        // The section header's type reads the same in either byte order.
        let block_type = read_u32(data, at, big)?;
        if block_type == 0x0a0d_0d0a {
            // Section header: the byte-order magic decides the endianness of this section.
            big = match data.get(at + 8..at + 12) {
                Some([0x1a, 0x2b, 0x3c, 0x4d]) => true,
                Some([0x4d, 0x3c, 0x2b, 0x1a]) => false,
                _ => return Err(format!("bad section header at offset {at}")),
            };
            linktypes.clear();
        }
        let len = read_u32(data, at + 4, big)? as usize;
        if len < 12 || len % 4 != 0 {
            return Err(format!("bad block length {len} at offset {at}"));
        }
        let end = at + len;
        let block =
            data.get(at..end).ok_or_else(|| format!("block at offset {at} runs past the end of the file"))?;
        match block_type {
            1 => linktypes.push(u32::from(read_u16(block, 8, big)?)),
            6 | 2 => {
                let iface = if block_type == 6 {
                    read_u32(block, 8, big)? as usize
                } else {
                    usize::from(read_u16(block, 8, big)?)
                };
                let caplen = read_u32(block, 20, big)? as usize;
                let packet = block
                    .get(28..28 + caplen)
                    .ok_or_else(|| format!("packet block at offset {at} is shorter than its data"))?;
                let linktype = linktypes.get(iface).copied().unwrap_or(u32::MAX);
                out.push(PacketRecord { start: at, end, tcp: tcp_flow(linktype, packet) });
            }
            3 => {
                let orig = read_u32(block, 8, big)? as usize;
                let caplen = orig.min(len - 16);
                let linktype = linktypes.first().copied().unwrap_or(u32::MAX);
                out.push(PacketRecord { start: at, end, tcp: tcp_flow(linktype, &block[12..12 + caplen]) });
            }
            _ => {}
        }
        at = end;
    }
    Ok(out)
}

/// The TCP four-tuple of a link-layer frame, for the link types captures commonly use.
fn tcp_flow(linktype: u32, frame: &[u8]) -> Option<(IpAddr, u16, IpAddr, u16)> {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    let sliced = match linktype {
        1 => SlicedPacket::from_ethernet(frame),
        113 => SlicedPacket::from_linux_sll(frame),
        0 | 108 => SlicedPacket::from_ip(frame.get(4..)?),
        276 => SlicedPacket::from_ip(frame.get(20..)?),
        12 | 14 | 101 | 228 | 229 => SlicedPacket::from_ip(frame),
        _ => return None,
    }
    .ok()?;
    let (src, dst) = match sliced.net? {
        NetSlice::Ipv4(ip) => {
            (IpAddr::V4(ip.header().source_addr()), IpAddr::V4(ip.header().destination_addr()))
        }
        NetSlice::Ipv6(ip) => {
            (IpAddr::V6(ip.header().source_addr()), IpAddr::V6(ip.header().destination_addr()))
        }
        NetSlice::Arp(_) => return None,
    };
    match sliced.transport? {
        TransportSlice::Tcp(tcp) => Some((src, tcp.source_port(), dst, tcp.destination_port())),
        _ => None,
    }
}

/// The end offset of the last record that belongs to the connection between the two endpoints
/// (either direction), or `None` when no record does.
pub fn connection_end(records: &[PacketRecord], a: (IpAddr, u16), b: (IpAddr, u16)) -> Option<usize> {
    records
        .iter()
        .filter(|r| {
            r.tcp.is_some_and(|(si, sp, di, dp)| {
                ((si, sp) == a && (di, dp) == b) || ((si, sp) == b && (di, dp) == a)
            })
        })
        .map(|r| r.end)
        .max()
}

/// The Python that has the test tools from PyPI (`stix2`, `stix2-patterns`, `pymisp`):
/// `$MINEWATCH_PYTOOLS/bin/python`, or the virtual environment scripts/test.sh makes in
/// `target/pytools` (Debian's Python refuses pip installs into the system). `None` when it is
/// missing or lacks one of `modules`, so that the caller can say SKIPPED.
pub fn pytools(modules: &[&str]) -> Option<std::path::PathBuf> {
    let base = match std::env::var_os("MINEWATCH_PYTOOLS") {
        Some(p) if !p.is_empty() => std::path::PathBuf::from(p),
        _ => repo_root().join("target/pytools"),
    };
    let py = base.join("bin/python");
    let ok = std::process::Command::new(&py)
        .args(["-c", &format!("import {}", modules.join(", "))])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(py)
}

/// Stops a server the test started the way an init system does (SIGTERM), waits up to `limit`
/// for it to exit, and kills it if it has not: the restart tests depend on a clean stop.
pub fn terminate(child: &mut std::process::Child, limit: std::time::Duration) {
    let _ = std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

// ---------------------------------------------------------------------------------------------
// Tests of the helpers themselves
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod self_tests {
    use super::*;

    const TSV: &str = "file\texpect\tvariant\tclient_ip\tclient_port\tserver_ip\tserver_port\tlogin\tnote\tclient\tsubmits\tjobs\n\
a.pcap\tmining\tstratum-v1\t10.0.0.5\t40000\t198.51.100.7\t3333\twallet.rig\tplain\tx\t3\t2\n\
a.pcap\tnone\t\t10.0.0.9\t*\t\t\t\tnot a miner\n\
b.pcap\tnone\t\t*\t*\t\t\t\tNEGATIVE\t\t\t\n\
c.pcapng\tmining\tcryptonote\t2001:0db8::0001\t5555\t2001:db8::2\t443\t\tno login, no counts\r\n";

    fn alert(
        event: &str,
        src: &str,
        sport: u16,
        dst: &str,
        dport: u16,
        variant: &str,
        login: Value,
    ) -> String {
        let mut v = serde_json::json!({
            "event_type": event,
            "timestamp": "2024-05-01T12:00:00.123456Z",
            "src_ip": src, "src_port": sport, "dest_ip": dst, "dest_port": dport,
            "proto": "TCP", "confidence": "confirmed",
            "stratum": {"variant": variant, "login": login, "agent": null, "methods": ["login"]}
        });
        if event == "mining_session" {
            v["first_seen"] = "2024-05-01T12:00:00.000000Z".into();
            v["last_seen"] = "2024-05-01T12:05:00.000000Z".into();
            v["bytes_toserver"] = 10.into();
            v["bytes_toclient"] = 20.into();
            v["pkts_toserver"] = 3.into();
            v["pkts_toclient"] = 4.into();
            v["stratum"]["jobs"] = 2.into();
            v["stratum"]["shares_submitted"] = 3.into();
            v["stratum"]["shares_accepted"] = 3.into();
            v["stratum"]["shares_rejected"] = 0.into();
        }
        v.to_string()
    }

    fn good_a() -> String {
        [
            alert("mining", "10.0.0.5", 40000, "198.51.100.7", 3333, "stratum-v1", "wallet.rig".into()),
            alert(
                "mining_session",
                "10.0.0.5",
                40000,
                "198.51.100.7",
                3333,
                "stratum-v1",
                "wallet.rig".into(),
            ),
        ]
        .join("\n")
    }

    fn check_file(file: &str, stdout: &str) -> Vec<String> {
        let rows = parse_truth(TSV).unwrap();
        let rows: Vec<&TruthRow> = rows.iter().filter(|r| r.file == file).collect();
        let (records, mut problems) = parse_records(stdout);
        problems.extend(check_against_truth(&rows, &records));
        problems
    }

    #[test]
    fn truth_columns_are_found_by_name() {
        let rows = parse_truth(TSV).unwrap();
        assert_eq!(rows.len(), 4);
        let a = &rows[0];
        assert_eq!((a.line, a.file.as_str(), a.expect), (2, "a.pcap", Expect::Mining));
        assert_eq!(a.key().unwrap(), ("10.0.0.5".into(), 40000, "198.51.100.7".into(), 3333));
        assert_eq!((a.login.as_str(), a.submits, a.jobs), ("wallet.rig", Some(3), Some(2)));
        // Trailing fields may be missing; `*` ports are wildcards.
        assert_eq!(rows[1].client.port, None);
        assert!(!rows[1].is_file_wide_negative());
        assert!(rows[2].is_file_wide_negative());
        // IPv6 is canonicalised, CR stripped, empty counts are "no check".
        let c = &rows[3];
        assert_eq!(c.key().unwrap().0, "2001:db8::1");
        assert_eq!((c.login.as_str(), c.submits, c.jobs), ("", None, None));
        assert_eq!(c.note, "no login, no counts");
    }

    #[test]
    fn truth_with_reordered_columns_and_no_counts() {
        let tsv = "note\tlogin\tserver_port\tserver_ip\tclient_port\tclient_ip\tvariant\texpect\tfile\n\
n\tw\t3333\t192.0.2.1\t1234\t192.0.2.2\tgetwork\tmining\tx.pcap\n";
        let rows = parse_truth(tsv).unwrap();
        assert_eq!(rows[0].key().unwrap(), ("192.0.2.2".into(), 1234, "192.0.2.1".into(), 3333));
        assert_eq!(rows[0].variant, "getwork");
        assert_eq!(rows[0].submits, None);
    }

    #[test]
    fn truth_rejects_bad_tables() {
        let header = "file\texpect\tvariant\tclient_ip\tclient_port\tserver_ip\tserver_port\tlogin\tnote";
        assert!(parse_truth("").is_err());
        assert!(parse_truth("file\texpect\n").unwrap_err().contains("variant"));
        for bad in [
            "a\tmaybe\tstratum-v1\t1.2.3.4\t1\t1.2.3.5\t2\t\t",
            "a\tmining\tstratum-v1\t1.2.3.4\t*\t1.2.3.5\t2\t\t",
            "a\tmining\tstratum-v9\t1.2.3.4\t1\t1.2.3.5\t2\t\t",
            "a\tmining\tstratum-v1\tnot-ip\t1\t1.2.3.5\t2\t\t",
            "a\tmining\tstratum-v1\t1.2.3.4\t70000\t1.2.3.5\t2\t\t",
            "a\tmining\tstratum-v1\t1.2.3.4\t1\t1.2.3.5\t2\t\t\textra",
        ] {
            assert!(parse_truth(&format!("{header}\n{bad}\n")).is_err(), "accepted {bad:?}");
        }
        let counts = format!("{header}\tsubmits\na\tmining\tgetwork\t1.2.3.4\t1\t1.2.3.5\t2\t\t\tmany\n");
        assert!(parse_truth(&counts).unwrap_err().contains("submits"));
    }

    #[test]
    fn correct_output_has_no_problems() {
        assert_eq!(check_file("a.pcap", &good_a()), Vec::<String>::new());
        assert_eq!(check_file("b.pcap", ""), Vec::<String>::new());
        // Login absent, null and "" all mean "no login".
        for login in [Value::Null, "".into()] {
            let out = [
                alert("mining", "2001:db8::1", 5555, "2001:db8::2", 443, "cryptonote", login.clone()),
                alert("mining_session", "2001:db8::1", 5555, "2001:db8::2", 443, "cryptonote", login),
            ]
            .join("\n");
            assert_eq!(check_file("c.pcapng", &out), Vec::<String>::new());
        }
    }

    fn has(problems: &[String], needle: &str) -> bool {
        problems.iter().any(|p| p.contains(needle))
    }

    #[test]
    fn each_kind_of_mistake_is_reported() {
        assert!(has(&check_file("a.pcap", ""), "MISSED"));
        assert!(has(&check_file("a.pcap", ""), "NO SESSION RECORD"));

        let wrong_variant = good_a().replace("stratum-v1", "getwork");
        assert!(has(&check_file("a.pcap", &wrong_variant), "WRONG VARIANT"));

        let wrong_login = good_a().replacen("wallet.rig", "wallet", 1);
        assert!(has(&check_file("a.pcap", &wrong_login), "WRONG LOGIN"));

        let wrong_count = good_a().replace("\"shares_submitted\":3", "\"shares_submitted\":4");
        assert!(has(&check_file("a.pcap", &wrong_count), "stratum.shares_submitted expected 3, got 4"));

        let dup = format!(
            "{}\n{}",
            good_a(),
            alert("mining", "10.0.0.5", 40000, "198.51.100.7", 3333, "stratum-v1", "wallet.rig".into())
        );
        assert!(has(&check_file("a.pcap", &dup), "DUPLICATE: 2 mining alerts"));

        let reversed =
            alert("mining", "198.51.100.7", 3333, "10.0.0.5", 40000, "stratum-v1", "wallet.rig".into());
        assert!(has(&check_file("a.pcap", &reversed), "client and pool swapped"));
    }

    #[test]
    fn negatives_and_false_alarms_quote_the_whole_line() {
        let stray = alert("mining", "10.0.0.9", 1234, "198.51.100.8", 3333, "stratum-v1", Value::Null);
        let p = check_file("a.pcap", &format!("{}\n{stray}", good_a()));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("ALERT ON NEGATIVE") && p[0].contains(&stray), "{p:?}");

        let p = check_file("b.pcap", &stray);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("anywhere in the file") && p[0].contains(&stray), "{p:?}");

        let other = alert("mining", "10.0.0.77", 1, "198.51.100.8", 3333, "stratum-v1", Value::Null);
        let p = check_file("a.pcap", &format!("{}\n{other}", good_a()));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("FALSE ALARM") && p[0].contains(&other), "{p:?}");
    }

    #[test]
    fn contract_violations_are_reported() {
        let (_, p) = parse_records("not json\n{\"event_type\":\"mining\"}\n[1]\n");
        assert!(has(&p, "line 1 is not JSON"));
        assert!(has(&p, "line 2: `timestamp` missing"));
        assert!(has(&p, "line 3: not a JSON object"));

        let base = alert("mining", "10.0.0.5", 40000, "198.51.100.7", 3333, "stratum-v1", "w".into());
        for (from, to, needle) in [
            ("2024-05-01T12:00:00.123456Z", "2024-05-01T12:00:00.123456+00:00", "does not end in `Z`"),
            ("2024-05-01T12:00:00.123456Z", "2024-05-01T12:00:00Z", "microseconds"),
            ("2024-05-01T12:00:00.123456Z", "2024-05-01 12:00:00.123456Z", "microseconds"),
            ("2024-05-01T12:00:00.123456Z", "yesterday", "not RFC 3339"),
            ("\"proto\":\"TCP\"", "\"proto\":\"UDP\"", "proto"),
            ("\"confirmed\"", "\"sure\"", "confidence"),
            ("\"10.0.0.5\"", "\"10.0.0.500\"", "not an IP"),
            ("40000", "70000", "src_port"),
            ("\"stratum-v1\"", "\"sv1\"", "stratum.variant"),
            ("[\"login\"]", "\"login\"", "stratum.methods"),
            ("\"mining\"", "\"mined\"", "event_type"),
        ] {
            let line = base.replace(from, to);
            assert_ne!(line, base, "replacement {from:?} did not apply");
            let (_, p) = parse_records(&line);
            assert!(has(&p, needle), "{to:?}: expected a problem with {needle:?}, got {p:?}");
        }
        let (_, p) = parse_records(&base.replace("\"10.0.0.5\"", "\"2001:DB8:0::1\""));
        assert!(has(&p, "canonical form \"2001:db8::1\""), "{p:?}");

        let session =
            alert("mining_session", "10.0.0.5", 40000, "198.51.100.7", 3333, "stratum-v1", "w".into());
        assert_eq!(parse_records(&session).1, Vec::<String>::new());
        let (_, p) = parse_records(&session.replace("\"jobs\":2", "\"jobs\":-2"));
        assert!(has(&p, "stratum.jobs"), "{p:?}");
        let (_, p) = parse_records(&session.replace("12:05:00.000000Z", "12:05:00.000000"));
        assert!(has(&p, "`last_seen`"), "{p:?}");
    }

    /// Builds a little-endian Ethernet pcap holding the given TCP segments.
    fn tiny_pcap(segments: &[(&str, u16, &str, u16, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]);
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&65535u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        for (i, (s, sp, d, dp, payload)) in segments.iter().enumerate() {
            let s: std::net::Ipv4Addr = s.parse().unwrap();
            let d: std::net::Ipv4Addr = d.parse().unwrap();
            let builder = etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
                .ipv4(s.octets(), d.octets(), 64)
                .tcp(*sp, *dp, i as u32, 1024);
            let mut frame = Vec::new();
            builder.write(&mut frame, payload).unwrap();
            out.extend_from_slice(&(i as u32).to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(&frame);
        }
        out
    }

    #[test]
    fn pcap_records_and_connection_ends() {
        let data = tiny_pcap(&[
            ("10.0.0.5", 40000, "198.51.100.7", 3333, b"{\"id\":1}\n"),
            ("198.51.100.7", 3333, "10.0.0.5", 40000, b"{\"id\":1,\"result\":true}\n"),
            ("10.0.0.6", 40001, "198.51.100.7", 3333, b"x"),
        ]);
        let recs = capture_records(&data).unwrap();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0].start, 24);
        assert_eq!(recs[2].end, data.len());
        assert!(recs.windows(2).all(|w| w[0].end == w[1].start));
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(recs[0].tcp, Some((ip("10.0.0.5"), 40000, ip("198.51.100.7"), 3333)));
        let a = (ip("10.0.0.5"), 40000);
        let pool = (ip("198.51.100.7"), 3333);
        assert_eq!(connection_end(&recs, pool, a), Some(recs[1].end));
        assert_eq!(connection_end(&recs, (ip("10.0.0.6"), 40001), pool), Some(data.len()));
        assert_eq!(connection_end(&recs, (ip("10.0.0.7"), 1), pool), None);

        // Cut mid-record: the walker refuses it.
        assert!(capture_records(&data[..data.len() - 3]).is_err());
        assert!(capture_records(b"hello world, not a capture").is_err());
    }

    #[test]
    fn pcapng_records_are_walked() {
        // SHB, IDB (Ethernet), one EPB carrying the first frame of a classic pcap.
        let classic = tiny_pcap(&[("10.0.0.5", 40000, "198.51.100.7", 3333, b"hi")]);
        let frame = &classic[40..];
        let mut ng = Vec::new();
        let block = |ng: &mut Vec<u8>, ty: u32, body: &[u8]| {
            let mut body = body.to_vec();
            while body.len() % 4 != 0 {
                body.push(0);
            }
            let len = (body.len() + 12) as u32;
            ng.extend_from_slice(&ty.to_le_bytes());
            ng.extend_from_slice(&len.to_le_bytes());
            ng.extend_from_slice(&body);
            ng.extend_from_slice(&len.to_le_bytes());
        };
        let mut shb = vec![0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0];
        shb.extend_from_slice(&u64::MAX.to_le_bytes());
        block(&mut ng, 0x0a0d_0d0a, &shb);
        block(&mut ng, 1, &[1, 0, 0, 0, 0, 0, 0, 0]);
        let epb_start = ng.len();
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&[0; 8]);
        epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        epb.extend_from_slice(frame);
        block(&mut ng, 6, &epb);

        let recs = capture_records(&ng).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!((recs[0].start, recs[0].end), (epb_start, ng.len()));
        assert_eq!(recs[0].tcp.unwrap().1, 40000);
        assert!(capture_records(&ng[..ng.len() - 5]).is_err());
    }
}
