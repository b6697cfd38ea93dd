//! Data-driven replay tests: every capture named in a `TRUTH.tsv` is replayed through the binary
//! and its alerts are compared with the table, row by row.
//!
//! Truth tables:
//! - `../shared/corpus/<folder>/TRUTH.tsv` (real captures; override the corpus location with
//!   `MINEWATCH_CORPUS`). Skipped, with a `SKIPPED:` line, when the corpus is not there.
//! - `pcaps/TRUTH.tsv`, the project's own captures. Required.
//!
//! Every test collects all problems first, prints a per-file report (expected vs got), and fails
//! once at the end with the full list.

use crate::util;

use std::path::{Path, PathBuf};

use crate::util::{Expect, TruthRow, TruthSet};

/// Replays one capture with `-q -r FILE` and returns the problems found, with a report.
fn replay_one(set: &TruthSet, file: &str) -> Vec<String> {
    let rows = set.rows_for(file);
    let label = format!("{}/{file}", set.label());
    let path = set.dir.join(file);
    if !path.is_file() {
        return vec![format!(
            "{label}: named in {} (line {}) but not found at {}",
            set.path.display(),
            rows[0].line,
            path.display()
        )];
    }
    let out = util::run(&["-q".as_ref(), "-r".as_ref(), path.as_os_str()], None);
    let (records, mut problems) = util::parse_records(&out.stdout);
    if out.code() != Some(0) {
        problems.push(format!(
            "exit status {:?} (expected 0: the file is readable); stderr:\n{}",
            out.code(),
            out.stderr
        ));
    }
    problems.extend(util::check_against_truth(&rows, &records));
    report(&label, &rows, &records, problems)
}

/// Prints the report for one unit and turns its problems into labelled lines.
fn report(label: &str, rows: &[&TruthRow], records: &[util::Record], problems: Vec<String>) -> Vec<String> {
    if problems.is_empty() {
        println!("ok   {label}: {} truth row(s) matched", rows.len());
        return Vec::new();
    }
    eprintln!("{}", util::render_report(label, rows, records, &problems));
    problems.into_iter().map(|p| format!("{label}: {p}")).collect()
}

fn replay_set(set: &TruthSet) -> Vec<String> {
    if set.rows.is_empty() {
        return vec![format!("{}: no rows", set.path.display())];
    }
    set.files().iter().flat_map(|f| replay_one(set, f)).collect()
}

fn fail_if_any(what: &str, problems: &[String]) {
    assert!(problems.is_empty(), "{what}: {} problem(s):\n  - {}", problems.len(), problems.join("\n  - "));
}

/// The corpus truth tables, or `None` (after printing why) when the corpus is absent.
fn corpus_sets() -> Option<Vec<Result<TruthSet, String>>> {
    let dir = util::corpus_dir();
    match util::corpus_truth_files() {
        Err(e) => {
            println!("SKIPPED: shared corpus not found at {}: {e}", dir.display());
            None
        }
        Ok(files) => {
            assert!(!files.is_empty(), "the corpus at {} has no <folder>/TRUTH.tsv", dir.display());
            Some(files.iter().map(|p| TruthSet::load(p)).collect())
        }
    }
}

fn own_truth_path() -> PathBuf {
    util::pcaps_dir().join("TRUTH.tsv")
}

#[test]
fn corpus_replay_matches_truth() {
    let Some(sets) = corpus_sets() else { return };
    let mut problems = Vec::new();
    for set in sets {
        match set {
            Ok(set) => problems.extend(replay_set(&set)),
            Err(e) => problems.push(e),
        }
    }
    fail_if_any("shared corpus replay", &problems);
}

#[test]
fn own_pcaps_replay_matches_truth() {
    let path = own_truth_path();
    assert!(
        path.is_file(),
        "{} is missing: the project's own captures must come with their truth table",
        path.display()
    );
    let set = TruthSet::load(&path).unwrap_or_else(|e| panic!("{e}"));
    fail_if_any("pcaps/ replay", &replay_set(&set));
}

/// The folders whose files are replayed together: every corpus folder, and pcaps/ when present.
fn all_sets() -> Vec<TruthSet> {
    let mut sets = Vec::new();
    if let Some(corpus) = corpus_sets() {
        sets.extend(corpus.into_iter().map(|s| s.unwrap_or_else(|e| panic!("{e}"))));
    }
    if own_truth_path().is_file() {
        sets.push(TruthSet::load(&own_truth_path()).unwrap_or_else(|e| panic!("{e}")));
    }
    sets
}

/// `-r A -r B ...` for every capture of the set that exists (missing ones are the single-file
/// tests' business).
fn read_args(set: &TruthSet) -> Vec<String> {
    set.files()
        .iter()
        .map(|f| set.dir.join(f))
        .filter(|p| p.is_file())
        .flat_map(|p| ["-r".to_string(), p.display().to_string()])
        .collect()
}

/// Every truth set, or none (said so) when there are no truth tables.
fn truth_sets() -> Option<Vec<TruthSet>> {
    let sets = all_sets();
    if sets.is_empty() {
        println!("SKIPPED: no truth tables (neither the shared corpus nor pcaps/TRUTH.tsv)");
        return None;
    }
    Some(sets)
}

#[test]
fn multi_file_replay_matches_truth() {
    let Some(sets) = truth_sets() else { return };
    let mut problems = Vec::new();
    for set in &sets {
        let mut args = vec!["-q".to_string()];
        args.extend(read_args(set));
        let out = util::run(&args, None);
        let (records, mut found) = util::parse_records(&out.stdout);
        if out.code() != Some(0) {
            found.push(format!("exit status {:?} (expected 0); stderr:\n{}", out.code(), out.stderr));
        }
        // Alerts of a multi-file run do not say which file they came from, so file-wide
        // negatives (`*`) are enforced by the false-alarm check instead.
        let rows: Vec<&TruthRow> = set.rows.iter().filter(|r| !r.is_file_wide_negative()).collect();
        found.extend(util::check_against_truth(&rows, &records));
        let label = format!("{} (all {} files in one run)", set.label(), set.files().len());
        problems.extend(report(&label, &rows, &records, found));
    }
    fail_if_any("multi-file replay", &problems);
}

/// Counters that say what was found and how flows ended, which no number of workers may change
/// (`clock_restarts` too: a replay's ticks are decided in file order, over every frame).
const SAME_WHATEVER_THE_WORKERS: &[&str] = &[
    "flows",
    "flows_timed_out",
    "flows_bypassed",
    "flows_evicted",
    "sessions",
    "alerts",
    "tcp_packets",
    "udp_packets",
    "dns_answers",
    "dns_pool_addrs",
    "tls_hellos",
    "behaviour_watched",
    "behaviour_suspects",
    "behaviour_aligned",
    "behaviour_clock_pushes",
    "clock_restarts",
    "frag_reassembled",
    "malformed",
    "truncated",
];

#[test]
fn two_or_three_workers_give_every_record_and_count_that_one_gives() {
    // Every file of a set in one run, as the multi-file replay does: a file's time and the
    // next one's (older, newer) meet in the workers' clocks. Sessions' end reasons and the
    // counts of flows are compared too: a file older than the one before was once never swept
    // by one worker (its idle flows did not time out) while two workers swept it.
    let Some(sets) = truth_sets() else { return };
    let mut problems = Vec::new();
    for set in &sets {
        let run = |workers: &str| {
            let mut args = vec!["--workers".to_string(), workers.to_string()];
            args.extend(read_args(set));
            let (code, _, lines, counts) = records_and_counts(&args);
            assert_eq!(code, Some(0), "{}", set.label());
            (lines, counts)
        };
        let one = run("1");
        assert!(one.1.iter().any(|(k, n)| *k == "flows" && *n > 0), "{}: nothing read", set.label());
        let expected = set.rows.iter().filter(|r| r.expect == Expect::Mining).count();
        if expected > 0 && !one.0.iter().any(|l| l.contains("\"event_type\":\"mining\"")) {
            problems.push(format!(
                "{}: --workers 1 raised no mining alert, but the truth has {expected}",
                set.label()
            ));
        }
        for workers in ["2", "3"] {
            let other = run(workers);
            if other.1 != one.1 {
                problems.push(format!(
                    "{}: counts with 1 worker {:?}\n    with {workers}: {:?}",
                    set.label(),
                    one.1,
                    other.1
                ));
            }
            if other.0 != one.0 {
                let only = |a: &[String], b: &[String]| -> Vec<String> {
                    a.iter().filter(|l| !b.contains(l)).map(|l| format!("      {l}")).collect()
                };
                problems.push(format!(
                    "{}: records differ with 1 and {workers} workers\n    only with 1:\n{}\n    only with {workers}:\n{}",
                    set.label(),
                    only(&one.0, &other.0).join("\n"),
                    only(&other.0, &one.0).join("\n")
                ));
            }
        }
    }
    fail_if_any("records and counts by number of workers", &problems);
}

/// What a replay gave: the exit status, the error lines, every record but the stats (sorted),
/// and the counts of [`SAME_WHATEVER_THE_WORKERS`].
type Gave = (Option<i32>, String, Vec<String>, Vec<(&'static str, u64)>);

/// Replays with `args` (and `-q --stats-interval 0`).
fn records_and_counts(args: &[String]) -> Gave {
    let mut all: Vec<String> = ["-q", "--stats-interval", "0"].map(String::from).to_vec();
    all.extend_from_slice(args);
    let out = util::run(&all, None);
    let (records, _) = util::parse_records(&out.stdout);
    let mut lines: Vec<String> =
        records.iter().filter(|r| r.event_type() != "stats").map(|r| r.line.clone()).collect();
    lines.sort();
    let stats = records.iter().rfind(|r| r.event_type() == "stats").map(|r| r.value["stats"].clone());
    let stats = stats.unwrap_or_else(|| panic!("{all:?}: no stats record: {}", out.describe()));
    let counts =
        SAME_WHATEVER_THE_WORKERS.iter().map(|k| (*k, stats[*k].as_u64().unwrap_or(u64::MAX))).collect();
    (out.code(), out.stderr.clone(), lines, counts)
}

#[test]
fn damaged_captures_give_the_same_records_and_counts_with_one_two_and_three_workers() {
    // Two bundled captures interleaved frame by frame (so that flows go to different
    // workers), then damaged as a broken disk or a capture host's clock damages them: a frame's
    // time far ahead or far back (once, a frame ahead ended the idle flows of its own worker
    // only: 11 of these 48 files differed), bits of frames flipped, the file cut short.
    // Whatever the damage, the number of workers changes nothing: not a record, not a count,
    // not the error.
    let dir = tempfile::tempdir().unwrap();
    // Ethernet captures in little-endian classic pcap, as their records (whole, header first).
    let mut sources: Vec<(PathBuf, Vec<Vec<u8>>)> = std::fs::read_dir(util::pcaps_dir())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .filter_map(|p| {
            let data = std::fs::read(&p).ok()?;
            if data.get(..4)? != [0xd4, 0xc3, 0xb2, 0xa1] || data.get(20..24)? != [1, 0, 0, 0] {
                return None;
            }
            let (mut at, mut records) = (24, Vec::new());
            while at + 16 <= data.len() {
                let end = at + 16 + u32::from_le_bytes(data[at + 8..at + 12].try_into().ok()?) as usize;
                records.push(data.get(at..end)?.to_vec());
                at = end;
            }
            (records.len() >= 4).then_some((p, records))
        })
        .collect();
    sources.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(sources.len() >= 20, "{} captures", sources.len());
    let header = std::fs::read(&sources[0].0).unwrap()[..24].to_vec();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut random = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n.max(1) as u64) as usize
    };
    let secs = |r: &[u8]| u32::from_le_bytes(r[..4].try_into().unwrap());
    let mut problems = Vec::new();
    for i in 0..48 {
        let (a, b) = (&sources[random(sources.len())], &sources[random(sources.len())]);
        // B's frames moved to A's time, then the two taken in turn.
        let shift = secs(&a.1[0]).wrapping_sub(secs(&b.1[0]));
        let mut records: Vec<Vec<u8>> = Vec::new();
        for k in 0..a.1.len().max(b.1.len()) {
            records.extend(a.1.get(k).cloned());
            if let Some(mut r) = b.1.get(k).cloned() {
                let moved = secs(&r).wrapping_add(shift);
                r[..4].copy_from_slice(&moved.to_le_bytes());
                records.push(r);
            }
        }
        let frame = random(records.len());
        let by = [61, 700, 3_600, 86_400, 1 << 30][random(5)];
        let moved = if i % 2 == 0 {
            secs(&records[frame]).wrapping_add(by)
        } else {
            secs(&records[frame]).wrapping_sub(by)
        };
        records[frame][..4].copy_from_slice(&moved.to_le_bytes());
        let mut what = format!("frame {frame} {} by {by} s", if i % 2 == 0 { "ahead" } else { "back" });
        if i % 4 == 2 {
            for _ in 0..1 + random(20) {
                let pick = random(records.len());
                let r = &mut records[pick];
                let at = 16 + random(r.len() - 16);
                if let Some(byte) = r.get_mut(at) {
                    *byte ^= 1 << random(8);
                }
            }
            what.push_str(", bits flipped");
        }
        let mut data = header.clone();
        records.iter().for_each(|r| data.extend_from_slice(r));
        if i % 4 == 3 {
            data.truncate(24 + random(data.len() - 24));
            what.push_str(&format!(", cut at {}", data.len()));
        }
        let file = dir.path().join(format!("damaged-{i}.pcap"));
        std::fs::write(&file, &data).unwrap();
        let run = |workers: &str| {
            records_and_counts(&["--workers", workers, "-r", file.to_str().unwrap()].map(String::from))
        };
        let one = run("1");
        let name = |p: &Path| p.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let label = format!("{} and {} ({what})", name(&a.0), name(&b.0));
        for workers in ["2", "3"] {
            let other = run(workers);
            if other != one {
                problems.push(format!(
                    "{label}:\n    1 worker: {:?} {:?}, {} records, {:?}\n    {workers} workers: {:?} {:?}, {} records, {:?}",
                    one.0, one.1, one.2.len(), one.3, other.0, other.1, other.2.len(), other.3
                ));
            }
        }
    }
    fail_if_any("damaged captures by number of workers", &problems);
}

/// The harness must find the corpus where the brief says it lives, relative to the manifest.
#[test]
fn corpus_location_is_relative_to_the_manifest() {
    if std::env::var_os("MINEWATCH_CORPUS").is_some() {
        return;
    }
    let dir = util::corpus_dir();
    assert!(dir.ends_with(Path::new("../shared/corpus")), "{}", dir.display());
    assert!(dir.starts_with(env!("CARGO_MANIFEST_DIR")));
}

/// Every record of a replay names the capture file its session was read from (JSON and EVE
/// `pcap_filename`), with several files after one another; a live record names none.
#[test]
fn every_record_names_the_capture_it_came_from() {
    let files = ["sv1-cpuminer.pcap", "cryptonote-xmrig.pcap", "tls-pool-sni.pcap"];
    let paths: Vec<String> =
        files.iter().map(|f| util::pcaps_dir().join(f).to_string_lossy().into_owned()).collect();
    for format in ["json", "eve"] {
        let mut args = vec!["-q".to_string(), "--format".to_string(), format.to_string()];
        for p in &paths {
            args.push("-r".to_string());
            args.push(p.clone());
        }
        let out = util::run(&args, None);
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        let mut seen = std::collections::BTreeSet::new();
        for line in out.stdout.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("JSON");
            let file = v["pcap_filename"].as_str().unwrap_or_else(|| panic!("no pcap_filename: {line}"));
            assert!(paths.iter().any(|p| p == file), "{file} is not an input: {line}");
            // The session's own file: its client address is only in that capture.
            let single = util::run(&["-q", "--format", format, "-r", file], None);
            assert!(single.stdout.contains(&format!("\"flow_id\":{}", v["flow_id"])), "{file}: {line}");
            seen.insert(file.to_string());
        }
        assert_eq!(seen.len(), files.len(), "{format}: {seen:?}");
    }
}

/// ECS and CEF name the capture file too: ECS `log.file.path`, CEF `filePath` (as given) and
/// `fname` (its file name), each record the file its session came from (its flow id is in that
/// file's own replay), with several files after one another.
#[test]
fn ecs_and_cef_name_the_capture_too() {
    let files = ["sv1-cpuminer.pcap", "cryptonote-xmrig.pcap"];
    let paths: Vec<String> =
        files.iter().map(|f| util::pcaps_dir().join(f).to_string_lossy().into_owned()).collect();
    let run = |format: &str, inputs: &[String]| {
        let mut args = vec!["-q".to_string(), "--format".to_string(), format.to_string()];
        for p in inputs {
            args.extend(["-r".to_string(), p.clone()]);
        }
        let out = util::run(&args, None);
        assert_eq!(out.code(), Some(0), "{}", out.describe());
        out.stdout
    };
    let mut seen = std::collections::BTreeSet::new();
    for line in run("ecs", &paths).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON");
        let file = v["log"]["file"]["path"].as_str().unwrap_or_else(|| panic!("no log.file.path: {line}"));
        assert!(paths.iter().any(|p| p == file), "{file} is not an input: {line}");
        let own = run("ecs", &[file.to_string()]);
        assert!(own.contains(&format!("\"flow_id\":{}", v["minewatch"]["flow_id"])), "{file}: {line}");
        seen.insert(file.to_string());
    }
    assert_eq!(seen.len(), files.len(), "ecs: {seen:?}");
    seen.clear();
    for line in run("cef", &paths).lines() {
        let key = |k: &str| {
            let i = line.find(&format!(" {k}=")).unwrap_or_else(|| panic!("no {k}: {line}"));
            let rest = &line[i + k.len() + 2..];
            // The value runs to the next key (` word=`); these paths hold no space or `=`.
            rest.split(' ').next().unwrap_or("").to_string()
        };
        let (path, name) = (key("filePath"), key("fname"));
        assert!(paths.contains(&path), "{path} is not an input: {line}");
        assert!(path.ends_with(&format!("/{name}")) && files.contains(&name.as_str()), "{line}");
        let own = run("cef", std::slice::from_ref(&path));
        assert!(own.contains(&format!(" externalId={} ", key("externalId"))), "{path}: {line}");
        seen.insert(path);
    }
    assert_eq!(seen.len(), files.len(), "cef: {seen:?}");
}
