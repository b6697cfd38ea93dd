//! The capture-file reader: it must read exactly what libpcap reads, however the file is cut
//! into blocks, and a replay must report the same whatever the number of workers sharing it.

use crate::util;

use std::path::{Path, PathBuf};

use minewatch::capture::file::Stitcher;
use minewatch::capture::OfflineSource;
use minewatch::decode::LinkType;
use proptest::prelude::*;
use testkit::fuzzing::walk_guessed;
use testkit::synth::bench::{write_bench, BenchSpec};

/// (time in µs, bytes, length on the wire) of every frame.
type Frames = Vec<(i64, Vec<u8>, u32)>;

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            captures(&p, out);
        } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
            out.push(p);
        }
    }
}

fn ours(path: &Path) -> Result<Frames, String> {
    let mut src = OfflineSource::open(path.to_str().unwrap()).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some((_, f)) = src.next_frame().map_err(|e| e.to_string())? {
        out.push((f.ts.as_micros(), f.data.to_vec(), f.wire_len));
    }
    Ok(out)
}

fn libpcaps(path: &Path) -> Result<Frames, String> {
    let mut cap = pcap::Capture::from_file(path).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    loop {
        match cap.next_packet() {
            Ok(p) => out.push((
                p.header.ts.tv_sec * 1_000_000 + p.header.ts.tv_usec,
                p.data.to_vec(),
                p.header.len,
            )),
            Err(pcap::Error::NoMorePackets) => return Ok(out),
            Err(e) => return Err(e.to_string()),
        }
    }
}

#[test]
fn reads_every_capture_exactly_as_libpcap_does() {
    let mut files = Vec::new();
    captures(&util::pcaps_dir(), &mut files);
    let corpus = util::corpus_dir();
    if corpus.is_dir() {
        captures(&corpus, &mut files);
    } else {
        eprintln!("SKIPPED for the shared corpus: {} is absent; checking pcaps/ only", corpus.display());
    }
    assert!(files.len() >= 60, "only {} captures found", files.len());
    for f in &files {
        let theirs = libpcaps(f).unwrap_or_else(|e| panic!("libpcap on {}: {e}", f.display()));
        let mine = ours(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(mine.len(), theirs.len(), "{}: frame count", f.display());
        for (i, (a, b)) in mine.iter().zip(&theirs).enumerate() {
            assert_eq!(a, b, "{}: frame {i} differs", f.display());
        }
    }
}

/// Frames from feeding `data` to a stitcher in pieces cut at `cuts`.
fn stitched(data: &[u8], cuts: &[usize]) -> (Frames, Option<String>) {
    let mut st = Stitcher::default();
    let mut out = Vec::new();
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.sort_unstable();
    points.push(data.len());
    let mut at = 0;
    for (i, &p) in points.iter().enumerate() {
        let eof = i + 1 == points.len();
        let r = st.feed(&data[at..p.max(at)], eof, &mut |_, f| {
            out.push((f.ts.as_micros(), f.data.to_vec(), f.wire_len))
        });
        if let Err(e) = r {
            return (out, Some(e.to_string()));
        }
        at = p.max(at);
    }
    (out, None)
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(util::pcaps_dir().join(name)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A record cut anywhere by block edges, header or body, reads the same.
    #[test]
    fn any_cut_into_blocks_reads_the_same(cuts in proptest::collection::vec(any::<usize>(), 0..40)) {
        for name in ["sv1-cpuminer.pcap", "cryptonote-xmrig.pcapng"] {
            let data = sample(name);
            let (whole, err) = stitched(&data, &[]);
            prop_assert_eq!(err, None);
            prop_assert!(!whole.is_empty());
            let (pieces, err) = stitched(&data, &cuts);
            prop_assert_eq!(err, None, "{}", name);
            prop_assert_eq!(&pieces, &whole, "{}", name);
        }
    }
}

#[test]
fn a_file_cut_short_in_any_block_delivers_every_whole_record_then_one_error() {
    let data = sample("sv1-cpuminer.pcap");
    let (whole, _) = stitched(&data, &[]);
    let cut = data.len() - 7;
    let (frames, err) = stitched(&data[..cut], &[100, 1000, cut - 3]);
    assert_eq!(frames.len(), whole.len() - 1);
    let err = err.expect("a truncation error");
    assert!(err.contains("truncated") && !err.contains('\n'), "{err}");
}

/// A capture several blocks long, with mining sessions in it.
fn multi_block_capture(dir: &Path) -> PathBuf {
    let path = dir.join("mix.pcap");
    let spec = BenchSpec { size: 12_000_000, seed: 3, file: "mix.pcap".into() };
    let f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let summary = write_bench(f, &spec).unwrap();
    assert!(summary.truth.len() >= 12, "{} truth rows", summary.truth.len());
    path
}

fn sorted_records(out: &str) -> Vec<String> {
    let mut v: Vec<String> =
        out.lines().filter(|l| l.contains("\"event_type\":\"mining")).map(util::without_file).collect();
    v.sort();
    v
}

#[test]
fn any_number_of_workers_and_stdin_report_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = multi_block_capture(dir.path());
    let p = path.to_str().unwrap();
    let one = util::run(&["-q", "--workers", "1", "-r", p], None);
    assert_eq!(one.code(), Some(0), "{}", one.describe());
    let base = sorted_records(&one.stdout);
    assert!(base.len() >= 24, "{} records\n{}", base.len(), one.describe());
    for workers in ["2", "3", "5"] {
        let run = util::run(&["-q", "--workers", workers, "-r", p], None);
        assert_eq!(run.code(), Some(0), "{}", run.describe());
        assert_eq!(sorted_records(&run.stdout), base, "--workers {workers}");
    }
    let piped = util::run(&["-q", "--workers", "2", "-r", "-"], Some(std::fs::read(&path).unwrap()));
    assert_eq!(sorted_records(&piped.stdout), base, "standard input");
}

#[test]
fn a_damaged_multi_block_file_reports_one_error_and_the_same_records_with_any_workers() {
    let dir = tempfile::tempdir().unwrap();
    let whole = std::fs::read(multi_block_capture(dir.path())).unwrap();
    // Cut in the middle of a record several blocks in.
    let cut = util::capture_records(&whole)
        .unwrap()
        .into_iter()
        .find(|r| r.start > 5_000_000 && r.end - r.start > 100)
        .map(|r| r.start + 50)
        .unwrap();
    let path = dir.path().join("cut.pcap");
    std::fs::write(&path, &whole[..cut]).unwrap();
    let p = path.to_str().unwrap();
    let mut first: Option<Vec<String>> = None;
    for workers in ["1", "2", "3"] {
        let run = util::run(&["-q", "--workers", workers, "-r", p], None);
        assert_eq!(run.code(), Some(1), "{}", run.describe());
        let errors: Vec<&str> = run.stderr_lines().into_iter().filter(|l| l.contains("truncated")).collect();
        assert_eq!(errors.len(), 1, "--workers {workers}\n{}", run.describe());
        let records = sorted_records(&run.stdout);
        assert!(records.len() >= 8, "--workers {workers}: {} records", records.len());
        match &first {
            None => first = Some(records),
            Some(f) => assert_eq!(&records, f, "--workers {workers}"),
        }
    }
}

/// The (client, server) addresses of every `mining_session` record.
fn session_pairs(out: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["event_type"] == "mining_session")
        .map(|r| {
            (r["src_ip"].as_str().unwrap_or("").to_string(), r["dest_ip"].as_str().unwrap_or("").to_string())
        })
        .collect();
    v.sort();
    v
}

/// A pcapng holding the packets of `parts` (pcap files and their link types), each on an
/// interface of its own, described just before its packets (so the second one mid-file).
fn pcapng_of(parts: &[(&str, u16)]) -> Vec<u8> {
    let mut out = util::pcapng_block(
        0x0A0D_0D0A,
        &[0x4D, 0x3C, 0x2B, 0x1A, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    );
    for (iface, (name, link)) in parts.iter().enumerate() {
        let mut idb = link.to_le_bytes().to_vec();
        idb.extend_from_slice(&[0, 0, 0, 0, 4, 0]);
        out.extend(util::pcapng_block(1, &idb));
        let data = sample(name);
        for r in util::capture_records(&data).unwrap() {
            let h = &data[r.start..r.start + 16];
            let word = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
            let units = u64::from(word(0)) * 1_000_000 + u64::from(word(4));
            let mut epb = (iface as u32).to_le_bytes().to_vec();
            epb.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
            epb.extend_from_slice(&(units as u32).to_le_bytes());
            epb.extend_from_slice(&word(8).to_le_bytes());
            epb.extend_from_slice(&word(12).to_le_bytes());
            epb.extend_from_slice(&data[r.start + 16..r.end]);
            out.extend(util::pcapng_block(6, &epb));
        }
    }
    out
}

#[test]
fn a_pcapng_with_interfaces_of_different_link_types_is_read_whole() {
    // libpcap refuses such a file; both interfaces' sessions must be found.
    let parts = [("sv1-cpuminer.pcap", 1u16), ("cryptonote-raw-ip.pcap", 101u16)];
    let out = pcapng_of(&parts);
    let mut expected = Vec::new();
    for (name, _) in parts {
        let path = util::pcaps_dir().join(name);
        expected.extend(session_pairs(&util::run(&["-q", "-r", path.to_str().unwrap()], None).stdout));
    }
    expected.sort();
    assert_eq!(expected.len(), 2, "{expected:?}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two-links.pcapng");
    std::fs::write(&path, &out).unwrap();
    for workers in ["1", "2"] {
        let run = util::run(&["-q", "--workers", workers, "-r", path.to_str().unwrap()], None);
        assert_eq!(run.code(), Some(0), "{}", run.describe());
        assert_eq!(session_pairs(&run.stdout), expected, "--workers {workers}");
    }
}

/// (link type, time, bytes, length on the wire) of every frame.
type LinkFrames = Vec<(LinkType, i64, Vec<u8>, u32)>;

fn guessed(data: &[u8], cuts: &[usize], lags: &[usize]) -> (LinkFrames, Option<String>, usize) {
    let (frames, err, taken) = walk_guessed(data, cuts, lags);
    (frames.into_iter().map(|(l, ts, d, w)| (l, ts.as_micros(), d, w)).collect(), err, taken)
}

fn ordered(data: &[u8]) -> (LinkFrames, Option<String>) {
    let (frames, err, taken) = guessed(data, &[], &[0]);
    assert_eq!(taken, 0);
    (frames, err)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Blocks walked side by side on guesses, begun in a state one or several blocks old, or
    /// not at all, deliver exactly what one walk in order does: a wrong guess is never taken.
    #[test]
    fn guessed_walks_read_exactly_what_an_ordered_walk_reads(
        cuts in proptest::collection::vec(any::<usize>(), 0..40),
        lags in proptest::collection::vec(0usize..4, 1..8),
    ) {
        let files = [
            sample("sv1-bytewise.pcap"),
            sample("cryptonote-xmrig.pcapng"),
            pcapng_of(&[("sv1-cpuminer.pcap", 1), ("cryptonote-raw-ip.pcap", 101)]),
        ];
        for data in &files {
            let (whole, err) = ordered(data);
            prop_assert_eq!(&err, &None);
            let (got, err, _) = guessed(data, &cuts, &lags);
            prop_assert_eq!(err, None);
            prop_assert_eq!(&got, &whole);
        }
    }
}

/// Cuts every `size` bytes.
fn every(data: &[u8], size: usize) -> Vec<usize> {
    (1..=data.len() / size).map(|i| i * size).collect()
}

#[test]
fn guesses_begun_one_block_behind_are_taken_for_every_block_of_a_plain_capture() {
    let pcap = sample("sv1-bytewise.pcap");
    let ng = pcapng_of(&[("sv1-bytewise.pcap", 1)]);
    for (name, data, size) in [("pcap", &pcap, 4096), ("pcapng", &ng, 4096), ("pcap", &pcap, 777)] {
        let cuts = every(data, size);
        let (got, err, taken) = guessed(data, &cuts, &[1]);
        assert_eq!((got, err), ordered(data), "{name}");
        // The first block has nothing to begin from.
        assert_eq!(taken, cuts.len(), "{name} in blocks of {size}: guesses taken");
    }
}

#[test]
fn a_guess_fooled_by_packet_bytes_that_look_like_records_is_not_taken() {
    // One large packet whose bytes are a chain of fake pcap record headers (each with a time
    // next to the real records' and a length that leads to the next), then real records. A
    // block that begins inside the large packet is guessed to begin at a fake header.
    let mut data = sample("sv1-bytewise.pcap");
    let records = util::capture_records(&data).unwrap();
    let first = &data[records[0].start..records[0].start + 16];
    let sec = u32::from_le_bytes([first[0], first[1], first[2], first[3]]);
    let mut fake = Vec::new();
    for _ in 0..40 {
        for word in [sec, 0, 20, 20] {
            fake.extend_from_slice(&word.to_le_bytes());
        }
        fake.extend_from_slice(&[0x45; 20]);
    }
    let at = records[3].start;
    let mut big = Vec::new();
    for word in [sec, 0, fake.len() as u32, fake.len() as u32] {
        big.extend_from_slice(&word.to_le_bytes());
    }
    big.extend_from_slice(&fake);
    data.splice(at..at, big);
    let (whole, err) = ordered(&data);
    assert_eq!(err, None);
    assert_eq!(whole.len(), records.len() + 1);
    // A block that starts 7 bytes into the large packet, another 1000 bytes later.
    let cuts = [at + 16 + 7, at + 16 + 1007];
    let (got, err, taken) = guessed(&data, &cuts, &[1]);
    assert_eq!((got, err), (whole, None));
    assert_eq!(taken, 0, "both guesses began at a fake header");
}

#[test]
fn a_guess_across_a_new_interface_is_not_taken_when_begun_before_it() {
    // The second interface is described mid-file: a guess begun in the state before that
    // description does not know the interface; it is dropped and the block walked in order.
    let data = pcapng_of(&[("sv1-cpuminer.pcap", 1), ("cryptonote-raw-ip.pcap", 101)]);
    let (whole, _) = ordered(&data);
    assert!(whole.iter().any(|f| f.0 == LinkType::RawIp) && whole.iter().any(|f| f.0 == LinkType::Ethernet));
    // Offsets of the pcapng blocks that describe interfaces.
    let mut idbs = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let word = |i: usize| u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
        if word(at) == 1 {
            idbs.push(at);
        }
        at += word(at + 4) as usize;
    }
    assert_eq!(idbs.len(), 2);
    // Block 1 begins 8 bytes before the second description, block 2 among its packets.
    let cuts = [idbs[1] - 8, idbs[1] + 200];
    let (got, err, taken) = guessed(&data, &cuts, &[2]);
    assert_eq!((got, err), (whole.clone(), None));
    assert_eq!(taken, 0, "block 2's guess began before the description");
    let (got, _, taken) = guessed(&data, &cuts, &[1]);
    assert_eq!(got, whole);
    assert_eq!(taken, 2, "guesses begun one block behind are taken");
}
