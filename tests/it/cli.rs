//! Command-line behaviour of the `minewatch` binary: help and version, exit statuses and error
//! lines for bad inputs, truncated captures, stdin input, `-q`, `-o`, `--home-net`, the `--config`
//! file's errors and arrays, and `--test-config`.
//!
//! Tests that need a real capture take one from `pcaps/TRUTH.tsv` (shipped with the repository)
//! or, failing that, from the shared corpus.

use crate::util;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::util::{Expect, Record, RunOutput, TruthRow};

fn sample(prefer: impl Fn(&Path, &[TruthRow]) -> bool) -> (PathBuf, Vec<TruthRow>) {
    util::sample_capture(prefer).unwrap_or_else(|| panic!("{}", util::no_sample_message()))
}

fn any_sample() -> (PathBuf, Vec<TruthRow>) {
    sample(|_, _| true)
}

fn mining_rows(rows: &[TruthRow]) -> impl Iterator<Item = &TruthRow> {
    rows.iter().filter(|r| r.expect == Expect::Mining)
}

/// The mining rows for which the records hold no `mining` alert with the right four-tuple.
fn missing_alerts(rows: &[TruthRow], records: &[Record]) -> Vec<String> {
    mining_rows(rows)
        .filter(|row| !records.iter().any(|r| r.is_mining() && r.key() == row.key()))
        .map(|row| row.describe())
        .collect()
}

/// Parses stdout and fails the test if any line breaks the output contract.
/// The alert records (`mining`, `mining_session`) on stdout, after checking that every line,
/// the closing `stats` record included, follows the contract.
fn records_of(out: &RunOutput) -> Vec<Record> {
    let (records, problems) = util::parse_records(&out.stdout);
    assert!(
        problems.is_empty(),
        "stdout is not clean JSON lines:\n  {}\n{}",
        problems.join("\n  "),
        out.describe()
    );
    records.into_iter().filter(|r| r.is_mining() || r.is_session()).collect()
}

/// Asserts exit status 1 and exactly one stderr line `minewatch: <path>: <reason>`.
fn assert_one_error_line(out: &RunOutput, path: &Path) {
    assert_eq!(out.code(), Some(1), "expected exit status 1\n{}", out.describe());
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "expected exactly one stderr line for the bad input\n{}", out.describe());
    let prefix = format!("minewatch: {}: ", path.display());
    let line = lines[0];
    assert!(
        line.starts_with(&prefix) && line.len() > prefix.len(),
        "stderr line should be `{prefix}<reason>`, got {line:?}"
    );
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

#[test]
fn help_mentions_read_and_home_net() {
    let out = util::run(&["--help"], None);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert!(out.stdout.contains("-r"), "--help does not mention -r\n{}", out.describe());
    assert!(out.stdout.contains("--home-net"), "--help does not mention --home-net\n{}", out.describe());
}

#[test]
fn version_is_the_crate_version() {
    let out = util::run(&["--version"], None);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        out.stdout.split_whitespace().any(|w| w == version),
        "--version does not print {version}\n{}",
        out.describe()
    );
}

#[test]
fn unknown_option_is_a_usage_error() {
    let out = util::run(&["--no-such-option"], None);
    assert_eq!(out.code(), Some(2), "usage errors exit 2\n{}", out.describe());
    assert!(out.stdout.is_empty(), "usage error wrote to stdout\n{}", out.describe());
}

#[test]
fn missing_file_is_reported_and_the_next_file_still_processed() {
    let (good, rows) = any_sample();
    let dir = tempdir();
    let missing = dir.path().join("no-such-capture.pcap");
    let out = util::run(
        &["-q".as_ref(), "-r".as_ref(), missing.as_os_str(), "-r".as_ref(), good.as_os_str()],
        None,
    );
    assert_one_error_line(&out, &missing);
    let records = records_of(&out);
    let missed = missing_alerts(&rows, &records);
    assert!(
        missed.is_empty(),
        "after the missing file, {} was not fully processed; no alert for:\n  {}\n{}",
        good.display(),
        missed.join("\n  "),
        out.describe()
    );
}

#[test]
fn a_text_file_is_not_a_capture() {
    let dir = tempdir();
    let text = dir.path().join("notes.pcap");
    std::fs::write(&text, "this is not a capture\njust some text\n".repeat(20)).unwrap();
    let out = util::run(&["-q".as_ref(), "-r".as_ref(), text.as_os_str()], None);
    assert_one_error_line(&out, &text);
    assert!(records_of(&out).is_empty(), "alerts from a text file\n{}", out.describe());
}

#[test]
fn an_empty_file_is_not_a_capture() {
    let dir = tempdir();
    let empty = dir.path().join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let out = util::run(&["-q".as_ref(), "-r".as_ref(), empty.as_os_str()], None);
    assert_one_error_line(&out, &empty);
}

#[test]
fn a_directory_without_a_capture_is_one_error_line() {
    let dir = tempdir();
    let out = util::run(&["-q".as_ref(), "-r".as_ref(), dir.path().as_os_str()], None);
    assert_one_error_line(&out, dir.path());
    assert!(records_of(&out).is_empty(), "alerts from a directory\n{}", out.describe());
}

/// Where a truncated copy of `data` is cut, and what was complete before the cut.
struct Cut {
    /// Length of the truncated copy: 70% of the file, moved off a record boundary.
    at: usize,
    /// End of the last record that is complete before `at`.
    complete_until: usize,
}

fn plan_cut(data: &[u8]) -> Result<Cut, String> {
    let records = util::capture_records(data)?;
    let mut at = data.len() * 7 / 10;
    if records.iter().any(|r| r.start == at) {
        at += 1; // one byte into the next record's header: mid-record
    }
    let first = records.first().ok_or("capture holds no packet")?.start;
    let complete_until = records.iter().map(|r| r.end).filter(|&end| end <= at).max().unwrap_or(first);
    if at >= data.len() {
        return Err("capture too small to cut".into());
    }
    Ok(Cut { at, complete_until })
}

/// The mining rows whose connection has no packet after `until`.
fn sessions_done_by(data: &[u8], rows: &[TruthRow], until: usize) -> Vec<TruthRow> {
    let Ok(records) = util::capture_records(data) else {
        return Vec::new();
    };
    mining_rows(rows)
        .filter(|row| {
            let (Some(cip), Some(cport), Some(sip), Some(sport)) =
                (row.client.ip, row.client.port, row.server.ip, row.server.port)
            else {
                return false;
            };
            util::connection_end(&records, (cip, cport), (sip, sport)).is_some_and(|end| end <= until)
        })
        .cloned()
        .collect()
}

#[test]
fn truncated_capture_is_an_error_but_keeps_what_came_before() {
    // Prefer a capture in which some mining session is over before the cut, so that its alert
    // can be required; any capture still checks the exit status and the output format.
    let (source, rows) = sample(|path, rows| {
        let Ok(data) = std::fs::read(path) else {
            return false;
        };
        plan_cut(&data).is_ok_and(|cut| !sessions_done_by(&data, rows, cut.complete_until).is_empty())
    });
    let data = std::fs::read(&source).unwrap();
    let cut = plan_cut(&data).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    let dir = tempdir();
    let name = source.file_name().unwrap().to_string_lossy().into_owned();
    let truncated = dir.path().join(format!("truncated-{name}"));
    std::fs::write(&truncated, &data[..cut.at]).unwrap();

    let out = util::run(&["-q".as_ref(), "-r".as_ref(), truncated.as_os_str()], None);
    assert_one_error_line(&out, &truncated);
    let records = records_of(&out);

    // Everything that a clean copy ending at the last whole record reports, the truncated copy
    // must report too: the error at the cut may not discard earlier alerts.
    let clean = dir.path().join(format!("clean-prefix-{name}"));
    std::fs::write(&clean, &data[..cut.complete_until]).unwrap();
    let clean_out = util::run(&["-q".as_ref(), "-r".as_ref(), clean.as_os_str()], None);
    assert_eq!(
        clean_out.code(),
        Some(0),
        "a capture ending on a record boundary is whole\n{}",
        clean_out.describe()
    );
    assert_eq!(
        util::sorted_mining_lines(&records),
        util::sorted_mining_lines(&records_of(&clean_out)),
        "mining alerts of {} cut mid-record at byte {} differ from those of the same capture \
         ending at the last whole record (byte {})",
        source.display(),
        cut.at,
        cut.complete_until
    );

    let done = sessions_done_by(&data, &rows, cut.complete_until);
    println!(
        "{}: cut at {} of {} bytes; {} mining session(s) complete before the cut",
        source.display(),
        cut.at,
        data.len(),
        done.len()
    );
    let missed = missing_alerts(&done, &records);
    assert!(
        missed.is_empty(),
        "sessions that ended before the cut were not reported:\n  {}\n{}",
        missed.join("\n  "),
        out.describe()
    );
}

#[test]
fn stdin_gives_the_same_alerts_as_the_file() {
    let (path, rows) = any_sample();
    let from_file = util::run(&["-q".as_ref(), "-r".as_ref(), path.as_os_str()], None);
    let from_stdin = util::run(&["-q", "-r", "-"], Some(std::fs::read(&path).unwrap()));
    assert_eq!(from_file.code(), Some(0), "{}", from_file.describe());
    assert_eq!(from_stdin.code(), Some(0), "{}", from_stdin.describe());
    let file_records = records_of(&from_file);
    let missed = missing_alerts(&rows, &file_records);
    assert!(missed.is_empty(), "no alert for:\n  {}\n{}", missed.join("\n  "), from_file.describe());
    let sorted = |out: &RunOutput| {
        let mut lines: Vec<String> = out.stdout.lines().map(util::without_file).collect();
        lines.sort();
        lines
    };
    assert_eq!(sorted(&from_stdin), sorted(&from_file), "`-r -` and `-r {}` differ", path.display());
}

#[test]
fn quiet_silences_the_summary() {
    // A summary naming the miner is only telling when the miner's address differs from the pool's.
    let (path, rows) = sample(|_, rows| mining_rows(rows).any(|r| r.client.ip != r.server.ip));
    let miner = mining_rows(&rows).find_map(|r| r.client.ip).expect("mining row").to_string();

    let quiet = util::run(&["-q".as_ref(), "-r".as_ref(), path.as_os_str()], None);
    assert_eq!(quiet.code(), Some(0), "{}", quiet.describe());
    assert!(quiet.stderr.is_empty(), "-q must keep stderr empty for a clean file\n{}", quiet.describe());

    let loud = util::run(&["-r".as_ref(), path.as_os_str()], None);
    assert_eq!(loud.code(), Some(0), "{}", loud.describe());
    assert!(
        loud.stderr.contains(&miner),
        "the summary on stderr does not name the mining host {miner}\n{}",
        loud.describe()
    );
    // The summary goes to stderr only: stdout is the same alerts with or without -q.
    assert_eq!(util::sorted_mining_lines(&records_of(&loud)), util::sorted_mining_lines(&records_of(&quiet)));
}

#[test]
fn output_file_receives_the_alerts() {
    let (path, rows) = any_sample();
    let dir = tempdir();
    let target = dir.path().join("alerts.json");
    let to_stdout = util::run(&["-q".as_ref(), "-r".as_ref(), path.as_os_str()], None);
    let to_file =
        util::run(&["-q".as_ref(), "-o".as_ref(), target.as_os_str(), "-r".as_ref(), path.as_os_str()], None);
    assert_eq!(to_file.code(), Some(0), "{}", to_file.describe());
    assert!(to_file.stdout.is_empty(), "with -o FILE, stdout stays empty\n{}", to_file.describe());
    let written = std::fs::read_to_string(&target)
        .unwrap_or_else(|e| panic!("-o {}: nothing written: {e}", target.display()));
    let (records, problems) = util::parse_records(&written);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let missed = missing_alerts(&rows, &records);
    assert!(missed.is_empty(), "no alert in the -o file for:\n  {}", missed.join("\n  "));
    assert_eq!(util::sorted_mining_lines(&records), util::sorted_mining_lines(&records_of(&to_stdout)));
}

fn in_test_net(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V4(v4) if v4.octets()[..3] == [192, 0, 2])
}

#[test]
fn home_net_excludes_a_miner_outside_it() {
    let loopback_or_ten = |ip: Option<IpAddr>| match ip {
        Some(IpAddr::V4(v4)) => v4.is_loopback() || v4.octets()[0] == 10,
        _ => false,
    };
    let outside = |rows: &[TruthRow]| {
        mining_rows(rows)
            .all(|r| !r.client.ip.is_some_and(in_test_net) && !r.server.ip.is_some_and(in_test_net))
    };
    // A miner on loopback or in 10/8, as the brief for this test says; else any miner outside
    // 192.0.2.0/24.
    let mut chosen = sample(|_, rows| mining_rows(rows).all(|r| loopback_or_ten(r.client.ip)));
    if !outside(&chosen.1) {
        chosen = sample(|_, rows| outside(rows));
    }
    let (path, rows) = chosen;
    assert!(
        outside(&rows),
        "no capture whose mining hosts are all outside 192.0.2.0/24 (picked {})",
        path.display()
    );

    // Positive control: with the default home networks the miner is reported.
    let default = util::run(&["-q".as_ref(), "-r".as_ref(), path.as_os_str()], None);
    let missed = missing_alerts(&rows, &records_of(&default));
    assert!(missed.is_empty(), "no alert for:\n  {}\n{}", missed.join("\n  "), default.describe());

    let elsewhere = util::run(
        &["-q".as_ref(), "--home-net".as_ref(), "192.0.2.0/24".as_ref(), "-r".as_ref(), path.as_os_str()],
        None,
    );
    assert_eq!(elsewhere.code(), Some(0), "{}", elsewhere.describe());
    let records = records_of(&elsewhere);
    assert!(
        records.iter().all(|r| !r.is_mining() && !r.is_session()),
        "--home-net 192.0.2.0/24 excludes the miner, yet it was reported\n{}",
        elsewhere.describe()
    );
}

/// `--pool-list` adds domains: the TLS negative (SNI www.example.com) becomes a `tls` alert
/// once that name is listed; an unreadable list or a bad line is a usage error (exit 2).
#[test]
fn pool_list_adds_domains_and_bad_lists_are_usage_errors() {
    let pcap = util::pcaps_dir().join("neg-tls.pcap");
    if !pcap.is_file() {
        println!("SKIPPED: {} not found", pcap.display());
        return;
    }
    let dir = tempdir();
    let list = dir.path().join("pools.txt");
    std::fs::write(&list, "# our own\nexample.com\n").unwrap();
    let plain = util::run(&["-q".as_ref(), "-r".as_ref(), pcap.as_os_str()], None);
    assert!(records_of(&plain).iter().all(|r| !r.is_mining()), "{}", plain.describe());
    let with = util::run(
        &["-q".as_ref(), "--pool-list".as_ref(), list.as_os_str(), "-r".as_ref(), pcap.as_os_str()],
        None,
    );
    assert_eq!(with.code(), Some(0), "{}", with.describe());
    let alerts: Vec<Record> = records_of(&with).into_iter().filter(Record::is_mining).collect();
    assert_eq!(alerts.len(), 1, "{}", with.describe());
    assert_eq!(alerts[0].variant(), Some("tls"));
    assert_eq!(alerts[0].value["stratum"]["clue"], "sni");
    assert_eq!(alerts[0].value["stratum"]["pool_host"], "www.example.com");
    assert_eq!(alerts[0].value["confidence"], "suspected");

    let missing = dir.path().join("absent.txt");
    let out =
        util::run(&["--pool-list".as_ref(), missing.as_os_str(), "-r".as_ref(), pcap.as_os_str()], None);
    assert_eq!(out.code(), Some(2), "{}", out.describe());
    assert!(out.stderr.contains("absent.txt"), "{}", out.stderr);
    std::fs::write(&list, "good.example\nnot a domain\n").unwrap();
    let out = util::run(&["--pool-list".as_ref(), list.as_os_str(), "-r".as_ref(), pcap.as_os_str()], None);
    assert_eq!(out.code(), Some(2), "{}", out.describe());
    assert!(out.stderr.contains("line 2"), "{}", out.stderr);
}

/// Writes `text` as `minewatch.toml` in `dir` and returns its path.
fn config_file(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("minewatch.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Asserts exit status 2 and exactly one stderr line starting `minewatch: <start>` and holding
/// `needle`.
fn assert_one_usage_line(out: &RunOutput, start: &str, needle: &str) {
    assert_eq!(out.code(), Some(2), "expected exit status 2\n{}", out.describe());
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "expected exactly one stderr line\n{}", out.describe());
    assert!(
        lines[0].starts_with(&format!("minewatch: {start}")),
        "{:?} should start with {start:?}",
        lines[0]
    );
    assert!(lines[0].contains(needle), "{:?} should contain {needle:?}", lines[0]);
}

/// A TOML array for `home-net` is every network in it: the miners are reported when their
/// addresses are the array's later items, and not when the array leaves them out.
#[test]
fn config_home_net_array_counts_every_item() {
    let (path, rows) =
        sample(|_, rows| mining_rows(rows).all(|r| r.client.ip.is_some_and(|ip| !in_test_net(ip))));
    let miners: Vec<String> =
        mining_rows(&rows).filter_map(|r| r.client.ip).map(|ip| format!("\"{ip}\"")).collect();
    assert!(!miners.is_empty(), "{} has no mining row with a client address", path.display());
    let dir = tempdir();
    let read = format!("read = {:?}\nquiet = true\n", path.display().to_string());
    let inside =
        config_file(dir.path(), &format!("{read}home-net = [\"192.0.2.0/24\", {}]\n", miners.join(", ")));
    let out = util::run(&["--config".as_ref(), inside.as_os_str()], None);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let missed = missing_alerts(&rows, &records_of(&out));
    assert!(missed.is_empty(), "no alert for:\n  {}\n{}", missed.join("\n  "), out.describe());

    let outside =
        config_file(dir.path(), &format!("{read}home-net = [\"192.0.2.0/24\", \"198.51.100.0/24\"]\n"));
    let out = util::run(&["--config".as_ref(), outside.as_os_str()], None);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert!(records_of(&out).is_empty(), "the home networks leave the miners out\n{}", out.describe());
}

/// Every error from the file is one line `minewatch: FILE: key `KEY`: PROBLEM` (or, for its
/// syntax, `FILE: line L, column C: ...`), exit status 2; the command line's own errors stay
/// clap's.
#[test]
fn config_errors_name_the_file_and_the_key_in_one_line() {
    let dir = tempdir();
    let cases = [
        ("workers = 0\n", "workers", "0 is not in 1..=256"),
        ("workers = \"two\"\n", "workers", "invalid value 'two'"),
        ("workers = [1, 2]\n", "workers", "takes one value, found an array of 2"),
        ("home-net = { a = 1 }\n", "home-net", "found a table"),
        ("quiet = 1\n", "quiet", "expected true or false, found an integer"),
        ("format = \"xml\"\n", "format", "unknown format"),
        ("no-such-option = 1\n", "no-such-option", "not an option"),
        ("metrics = \"0.0.0.0:9500\"\n", "metrics", "--metrics-allow-remote"),
    ];
    for (text, key, needle) in cases {
        let cfg = config_file(dir.path(), &format!("interface = \"lo\"\n{text}"));
        let out = util::run(&["--config".as_ref(), cfg.as_os_str()], None);
        assert_one_usage_line(&out, &format!("{}: key `{key}`: ", cfg.display()), needle);
    }
    let cfg = config_file(dir.path(), "interface = \"lo\"\nworkers = = 2\n");
    let out = util::run(&["--config".as_ref(), cfg.as_os_str()], None);
    assert_one_usage_line(&out, &format!("{}: line 2, column 11: ", cfg.display()), "");

    // Arrays for the repeatable options: two interfaces, two outputs, two lists of each kind.
    let pools = dir.path().join("pools.txt");
    std::fs::write(&pools, "pool.example\n").unwrap();
    let wl = dir.path().join("wl.txt");
    std::fs::write(&wl, "0x5a0b54d5dc17e0aadc383d2db43b0a0d3e029c4c drop\n").unwrap();
    let text = format!(
        "interface = [\"lo\", \"lo\"]\noutput = [\"-\", \"cef:{}\"]\npool-list = [{p:?}, {p:?}]\nwatchlist = [{w:?}, {w:?}]\n",
        dir.path().join("a.cef").display(),
        p = pools.display().to_string(),
        w = wl.display().to_string(),
    );
    let cfg = config_file(dir.path(), &text);
    let out = util::run(&["--config".as_ref(), cfg.as_os_str(), "--test-config".as_ref()], None);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert!(out.stdout.contains("lo, lo"), "{}", out.describe());
    assert!(out.stdout.contains("a.cef (file, cef)"), "{}", out.describe());
    assert_eq!(out.stdout.matches("pools.txt: ").count(), 2, "{}", out.describe());
    assert_eq!(out.stdout.matches("wl.txt: 1 addresses").count(), 2, "{}", out.describe());

    // The command line's errors keep clap's message (several lines, with the usage).
    let cfg = config_file(dir.path(), "interface = \"lo\"\n");
    let out = util::run(&["--config".as_ref(), cfg.as_os_str(), "--workers".as_ref(), "0".as_ref()], None);
    assert_eq!(out.code(), Some(2), "{}", out.describe());
    assert!(out.stderr.starts_with("error: invalid value '0' for '--workers <N>'"), "{}", out.describe());
}

/// `--test-config` prints what a run would do and exits 0, opening no capture (so it works
/// without privileges); with problems it prints one line for each and exits 2.
#[test]
fn test_config_summarises_or_lists_every_problem() {
    let dir = tempdir();
    let wl = dir.path().join("wl.txt");
    std::fs::write(&wl, "# ours\n0x5a0b54d5dc17e0aadc383d2db43b0a0d3e029c4c drop\nbc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4\n")
        .unwrap();
    let alerts = dir.path().join("alerts.json");
    let text = format!(
        "interface = \"lo\"\nhome-net = [\"10.0.0.0/8\", \"192.168.0.0/16\"]\nworkers = 3\n\
         output = [{a:?}, \"cef:syslog+tcp://127.0.0.1:6514\"]\nspool = {s:?}\nwatchlist = {w:?}\n\
         metrics = \"127.0.0.1:9464\"\n",
        a = alerts.display().to_string(),
        s = dir.path().join("spool").display().to_string(),
        w = wl.display().to_string(),
    );
    let cfg = config_file(dir.path(), &text);
    let out = util::run(&["--config".as_ref(), cfg.as_os_str(), "-T".as_ref()], None);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert!(out.stderr.is_empty(), "{}", out.describe());
    for needle in [
        "capture:   lo".to_string(),
        "workers:   3".to_string(),
        "home net:  10.0.0.0/8, 192.168.0.0/16".to_string(),
        format!("outputs:   {} (file, json)", alerts.display()),
        "syslog+tcp://127.0.0.1:6514 (syslog over TCP, cef)".to_string(),
        format!("spool:     {}", dir.path().join("spool").display()),
        format!("watchlist: {}: 2 addresses", wl.display()),
        "metrics:   http://127.0.0.1:9464/metrics".to_string(),
    ] {
        assert!(out.stdout.contains(&needle), "the summary lacks {needle:?}\n{}", out.describe());
    }
    assert!(!alerts.exists(), "the check created the output file");
    assert!(!dir.path().join("spool").exists(), "the check created the spool");

    // Three problems at once: each its own line, exit 2.
    std::fs::write(&wl, "0x5a0b54d5dc17e0aadc383d2db43b0a0d3e029c4c drop\nwallet.rig01\n").unwrap();
    let gone = dir.path().join("nosuch").join("alerts.json");
    let cfg = config_file(
        dir.path(),
        &format!(
            "interface = [\"lo\", \"nosuch0\"]\noutput = {o:?}\nwatchlist = {w:?}\n",
            o = gone.display().to_string(),
            w = wl.display().to_string()
        ),
    );
    let out = util::run(&["--config".as_ref(), cfg.as_os_str(), "--test-config".as_ref()], None);
    assert_eq!(out.code(), Some(2), "{}", out.describe());
    assert!(out.stdout.is_empty(), "{}", out.describe());
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 3, "one line per problem\n{}", out.describe());
    assert_eq!(lines[0], "minewatch: nosuch0: no such interface");
    assert!(
        lines[1].starts_with(&format!("minewatch: output {}: directory ", gone.display())),
        "{}",
        lines[1]
    );
    assert!(lines[2].starts_with(&format!("minewatch: {}: line 2: ", wl.display())), "{}", lines[2]);

    // A directory the user cannot write in (root can write anywhere, so only checked as another user).
    let is_root =
        std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(true);
    if !is_root {
        use std::os::unix::fs::PermissionsExt;
        let ro = dir.path().join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        let out = util::run(
            &["-T".as_ref(), "-i".as_ref(), "lo".as_ref(), "-o".as_ref(), ro.join("a.json").as_os_str()],
            None,
        );
        assert_one_usage_line(&out, "output ", "not writable");
    }
}

/// The limits are options: `--max-field-len` reaches the Stratum parser of every connection
/// (the alerts' logins are cut to it and flagged), and a zero timeout is a usage error.
#[test]
fn limit_options_reach_the_parsers_and_are_validated() {
    let path = util::pcaps_dir().join("cryptonote-xmrig.pcap");
    let logins = |extra: &[&str]| -> Vec<(String, bool)> {
        let mut argv: Vec<&std::ffi::OsStr> = vec!["-q".as_ref(), "--format".as_ref(), "json".as_ref()];
        argv.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
        argv.extend(["-r".as_ref(), path.as_os_str()]);
        let out = util::run(&argv, None);
        assert_eq!(out.code(), Some(0), "{}", out.describe());
        out.stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["event_type"] == "mining")
            .map(|v| {
                let s = &v["stratum"];
                (
                    s["login"].as_str().unwrap_or_default().to_string(),
                    s["truncated"].as_bool().unwrap_or(false),
                )
            })
            .collect()
    };
    let full = logins(&[]);
    assert!(!full.is_empty() && full.iter().all(|(l, cut)| l.len() > 16 && !cut), "{full:?}");
    let cut = logins(&["--max-field-len", "16"]);
    assert_eq!(cut.len(), full.len());
    for ((short, flagged), (long, _)) in cut.iter().zip(&full) {
        assert!(*flagged && short.len() == 16 && long.starts_with(short.as_str()), "{short:?} of {long:?}");
    }

    // The same limit as a key of the configuration file.
    let dir = tempdir();
    let file = config_file(dir.path(), "max_field_len = 16\n");
    let from_file = logins(&["--config", file.to_str().unwrap()]);
    assert_eq!(from_file, cut);

    let out = util::run(&["--flow-timeout".as_ref(), "0s".as_ref(), "-r".as_ref(), path.as_os_str()], None);
    assert_eq!(out.code(), Some(2), "{}", out.describe());
    assert!(out.stderr.contains("must not be zero"), "{}", out.describe());
    let file = config_file(dir.path(), "defrag-timeout = \"0s\"\n");
    let out = util::run(&["--config".as_ref(), file.as_os_str(), "-r".as_ref(), path.as_os_str()], None);
    assert_one_usage_line(
        &out,
        &file.display().to_string(),
        "key `defrag-timeout`: invalid value '0s': must not be zero",
    );
}
