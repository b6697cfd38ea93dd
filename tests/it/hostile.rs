//! Hostile capture files: truncated at every offset, damaged headers and records, absurd
//! lengths, pcapng with unknown or broken blocks, things that are no capture at all, paths that
//! cannot be read. Each must end in one clear error line (or a counter), never a panic, a hang
//! or an unbounded allocation; what was readable before the damage is still read.
//!
//! Files are generated into temporary directories from the bundled `pcaps/`. Runs of the binary
//! happen under `ulimit -v` (a virtual memory cap of [`VMEM_LIMIT_KB`]), so a giant allocation
//! makes the run abort and the test fail, and under a hang guard that kills it.

use crate::util;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use minewatch::capture::OfflineSource;

/// Virtual memory a run may map: far above what replaying a small file needs (a few worker
/// stacks and allocator arenas), far below what trusting a 4 GiB record length would take.
const VMEM_LIMIT_KB: u64 = 1024 * 1024;

/// A hang guard, not a timing assertion: every run here takes well under a second.
const HANG_LIMIT: Duration = Duration::from_secs(120);

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

fn pcap_sample() -> Vec<u8> {
    std::fs::read(util::pcaps_dir().join("sv1-two-per-segment.pcap")).expect("bundled capture")
}

fn pcapng_sample() -> Vec<u8> {
    std::fs::read(util::pcaps_dir().join("cryptonote-xmrig.pcapng")).expect("bundled capture")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write temporary file");
    p
}

struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    fn describe(&self) -> String {
        let cut = |s: &str| s.chars().take(3000).collect::<String>();
        format!(
            "exit: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status,
            cut(&self.stdout),
            cut(&self.stderr)
        )
    }

    /// Exited by itself (no signal: no abort, no kill) with 0 or 1, printed no panic, and every
    /// stdout line is JSON.
    fn assert_clean(&self) {
        assert!(matches!(self.status.code(), Some(0 | 1)), "not a clean exit\n{}", self.describe());
        assert!(!self.stderr.contains("panicked"), "panic\n{}", self.describe());
        for line in self.stdout.lines() {
            assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "not JSON: {line}");
        }
    }

    /// The closing `stats` record's counter `name`.
    fn stat(&self, name: &str) -> u64 {
        self.stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["event_type"] == "stats")
            .filter_map(|v| v["stats"][name].as_u64())
            .next_back()
            .unwrap_or_else(|| panic!("no stats record with {name}\n{}", self.describe()))
    }

    fn alerts(&self) -> usize {
        self.stdout.lines().filter(|l| l.contains("\"event_type\":\"mining\"")).count()
    }

    /// The stderr lines that report a bad input, with the input's path.
    fn error_lines(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| l.starts_with("minewatch: ")).collect()
    }
}

fn spawn_limited(args: &[&std::ffi::OsStr]) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {VMEM_LIMIT_KB} && exec \"$0\" \"$@\""))
        .arg(util::bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start minewatch")
}

fn finish(mut child: Child) -> Run {
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let o = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let e = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if started.elapsed() > HANG_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("minewatch hung (killed after {} s)", HANG_LIMIT.as_secs());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run { status, stdout: o.join().unwrap_or_default(), stderr: e.join().unwrap_or_default() }
}

/// Runs `minewatch -q --stats-interval 0 --workers 1 -r FILE...` (the closing `stats` record
/// holds the counters) under the memory cap and the hang guard.
fn replay(files: &[&Path]) -> Run {
    let mut args: Vec<&std::ffi::OsStr> =
        vec!["-q".as_ref(), "--stats-interval".as_ref(), "0".as_ref(), "--workers".as_ref(), "1".as_ref()];
    for f in files {
        args.push("-r".as_ref());
        args.push(f.as_os_str());
    }
    finish(spawn_limited(&args))
}

/// Asserts exit 1 and exactly one well-formed error line naming `path`.
fn assert_one_error(run: &Run, path: &Path) {
    run.assert_clean();
    assert_eq!(run.status.code(), Some(1), "expected exit 1\n{}", run.describe());
    let lines = run.error_lines();
    assert_eq!(lines.len(), 1, "expected one error line\n{}", run.describe());
    let prefix = format!("minewatch: {}: ", path.display());
    assert!(lines[0].starts_with(&prefix) && lines[0].len() > prefix.len() + 3, "{:?}", lines[0]);
}

/// Reads a file with the library: frames delivered, and the error that ended it, if any.
fn read_all(path: &Path) -> (usize, Option<String>) {
    let mut src = match OfflineSource::open(path.to_str().expect("utf-8 temp path")) {
        Ok(s) => s,
        Err(e) => return (0, Some(e.to_string())),
    };
    let mut n = 0;
    loop {
        match src.next_frame() {
            Ok(Some(_)) => n += 1,
            Ok(None) => return (n, None),
            Err(e) => return (n, Some(e.to_string())),
        }
    }
}

/// Byte offsets at which a capture may end cleanly: the end of its file header (pcap) and the
/// end of every block or record.
fn boundaries(data: &[u8]) -> Vec<usize> {
    let mut b = Vec::new();
    if data.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        let mut at = 0;
        while let Some(len) = data.get(at + 4..at + 8).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]])) {
            at += len as usize;
            b.push(at);
        }
    } else {
        b.push(24);
        b.extend(util::capture_records(data).expect("valid sample").iter().map(|r| r.end));
    }
    b
}

fn truncated_everywhere(data: &[u8], name: &str) {
    let records = util::capture_records(data).expect("valid sample");
    let ends = boundaries(data);
    let dir = tempdir();
    for cut in 0..=data.len() {
        let path = write(dir.path(), name, &data[..cut]);
        let (frames, err) = read_all(&path);
        let complete = records.iter().filter(|r| r.end <= cut).count();
        assert_eq!(frames, complete, "cut at {cut}: frames before the damage must all be read");
        if !ends.contains(&cut) {
            let e = err.clone().unwrap_or_else(|| panic!("cut at {cut} inside a record read as a clean end"));
            assert!(!e.is_empty() && !e.contains('\n'), "cut at {cut}: error {e:?}");
        }
        if cut == data.len() {
            assert_eq!(err, None, "the whole file read with an error");
        }
    }
}

#[test]
fn pcap_truncated_at_every_offset() {
    truncated_everywhere(&pcap_sample(), "cut.pcap");
}

#[test]
fn pcapng_truncated_at_every_offset() {
    truncated_everywhere(&pcapng_sample(), "cut.pcapng");
}

/// The binary on many truncated copies in one run: one error line for each damaged file, the
/// alerts from the records before each cut, and no other output on stderr.
#[test]
fn binary_reports_each_truncated_file_on_one_line() {
    let data = pcap_sample();
    let ends = boundaries(&data);
    let dir = tempdir();
    let mut files = Vec::new();
    let mut damaged = 0;
    for cut in (0..data.len()).step_by(97) {
        files.push(write(dir.path(), &format!("cut-{cut:06}.pcap"), &data[..cut]));
        if !ends.contains(&cut) {
            damaged += 1;
        }
    }
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let run = replay(&refs);
    run.assert_clean();
    assert_eq!(run.status.code(), Some(1), "{}", run.describe());
    assert_eq!(run.error_lines().len(), damaged, "{}", run.describe());
    assert_eq!(run.stderr.lines().count(), damaged, "stray stderr output\n{}", run.describe());
    // The longest cuts hold a whole mining handshake: their sessions are still reported.
    assert!(run.alerts() > 0, "nothing reported from the readable parts\n{}", run.describe());
}

fn set_u32(data: &mut [u8], at: usize, v: u32) {
    data[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn wrong_magic_is_one_error_line() {
    let dir = tempdir();
    let mut data = pcap_sample();
    data[0] ^= 0xff;
    let p = write(dir.path(), "magic.pcap", &data);
    assert_one_error(&replay(&[&p]), &p);
}

#[test]
fn absurd_header_fields_never_crash() {
    let dir = tempdir();
    let clean = replay(&[&write(dir.path(), "clean.pcap", &pcap_sample())]);
    clean.assert_clean();
    for (i, (at, v)) in
        [(16, 0u32), (16, 1), (16, 0x7fff_ffff), (16, u32::MAX), (20, 147), (20, u32::MAX), (4, 0)]
            .into_iter()
            .enumerate()
    {
        let mut data = pcap_sample();
        set_u32(&mut data, at, v);
        let p = write(dir.path(), &format!("hdr-{i}.pcap"), &data);
        let run = replay(&[&p]);
        run.assert_clean();
        if run.status.code() == Some(1) {
            assert_one_error(&run, &p);
        } else {
            // Accepted: every record is read, and either read like the clean file or (a snap
            // length below the frames) counted as truncated.
            assert_eq!(run.stat("packets"), clean.stat("packets"), "{}", run.describe());
            let same = run.alerts() == clean.alerts();
            let cut = run.stat("truncated") == run.stat("packets");
            assert!(same || cut, "header field {at} = {v:#x}\n{}", run.describe());
        }
    }
}

/// Offset of the first record's header fields in a classic pcap.
const REC: usize = 24;

#[test]
fn absurd_record_lengths_are_refused_without_allocating_them() {
    let dir = tempdir();
    for (i, caplen) in [u32::MAX, 0x8000_0000, 300 << 20, 16 << 20, 262_145].into_iter().enumerate() {
        let mut data = pcap_sample();
        set_u32(&mut data, REC + 8, caplen);
        set_u32(&mut data, REC + 12, caplen);
        let p = write(dir.path(), &format!("caplen-{i}.pcap"), &data);
        // A record longer than the file: an error, under the memory cap (so never allocated).
        assert_one_error(&replay(&[&p]), &p);
    }
}

#[test]
fn caplen_above_snaplen_or_above_wire_length_never_crashes() {
    let dir = tempdir();
    // The header's snap length below the records' lengths.
    let mut data = pcap_sample();
    set_u32(&mut data, 16, 40);
    let run = replay(&[&write(dir.path(), "snap40.pcap", &data)]);
    run.assert_clean();
    // Every record claiming fewer bytes on the wire than captured.
    let mut data = pcap_sample();
    for r in util::capture_records(&pcap_sample()).unwrap() {
        set_u32(&mut data, r.start + 12, 1);
    }
    let run = replay(&[&write(dir.path(), "len1.pcap", &data)]);
    run.assert_clean();
    assert_eq!(run.status.code(), Some(0), "{}", run.describe());
}

/// Builds a pcap: the sample's header, then `records`, then the sample's own records.
fn with_records(records: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
    let sample = pcap_sample();
    let mut out = sample[..24].to_vec();
    for (caplen, len, body) in records {
        out.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&caplen.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(body);
    }
    out.extend_from_slice(&sample[24..]);
    out
}

#[test]
fn zero_length_records_are_counted_and_the_rest_read() {
    let dir = tempdir();
    let clean = replay(&[&write(dir.path(), "clean.pcap", &pcap_sample())]);
    let zeros: Vec<_> = (0..1000).map(|_| (0, 0, Vec::new())).collect();
    let run = replay(&[&write(dir.path(), "zeros.pcap", &with_records(&zeros))]);
    run.assert_clean();
    assert_eq!(run.status.code(), Some(0), "{}", run.describe());
    assert_eq!(run.stat("packets"), clean.stat("packets") + 1000);
    assert_eq!(run.stat("truncated"), clean.stat("truncated") + 1000);
    assert_eq!(run.alerts(), clean.alerts());
}

#[test]
fn giant_records_stay_within_the_memory_cap() {
    let dir = tempdir();
    let clean = replay(&[&write(dir.path(), "clean.pcap", &pcap_sample())]);
    // The largest records libpcap accepts, full of junk: read and skipped.
    let mut x = 7u32;
    let junk: Vec<u8> = (0..262_144)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect();
    let recs: Vec<_> = (0..40).map(|_| (262_144, 262_144, junk.clone())).collect();
    let run = replay(&[&write(dir.path(), "giant.pcap", &with_records(&recs))]);
    run.assert_clean();
    assert_eq!(run.stat("packets"), clean.stat("packets") + 40, "{}", run.describe());
    assert_eq!(run.alerts(), clean.alerts());
}

/// Where the first block after the section header and interface blocks starts.
fn first_packet_block(data: &[u8]) -> usize {
    util::capture_records(data).unwrap().first().map(|r| r.start).expect("a packet")
}

#[test]
fn pcapng_unknown_blocks_are_skipped() {
    let dir = tempdir();
    let data = pcapng_sample();
    let clean = replay(&[&write(dir.path(), "clean.pcapng", &data)]);
    let at = first_packet_block(&data);
    let mut spliced = data[..at].to_vec();
    for kind in [0x0bad, 0x8000_0001, 0x0000_0bad, 0x4000_0000] {
        spliced.extend(util::pcapng_block(kind, b"unknown block body"));
        spliced.extend(util::pcapng_block(kind, b""));
    }
    spliced.extend_from_slice(&data[at..]);
    let run = replay(&[&write(dir.path(), "unknown.pcapng", &spliced)]);
    run.assert_clean();
    assert_eq!(run.status.code(), Some(0), "{}", run.describe());
    assert_eq!(run.alerts(), clean.alerts());
    assert!(clean.alerts() > 0);
}

#[test]
fn pcapng_bad_block_lengths_are_one_error_line() {
    let dir = tempdir();
    let data = pcapng_sample();
    let at = first_packet_block(&data);
    for (i, len) in [0u32, 4, 7, 13, 0x7fff_fff0, u32::MAX].into_iter().enumerate() {
        let mut bad = data.clone();
        set_u32(&mut bad, at + 4, len);
        let p = write(dir.path(), &format!("len-{i}.pcapng"), &bad);
        assert_one_error(&replay(&[&p]), &p);
    }
    // Trailing length disagreeing with the leading one.
    let mut bad = data.clone();
    let len = u32::from_le_bytes([data[at + 4], data[at + 5], data[at + 6], data[at + 7]]) as usize;
    set_u32(&mut bad, at + len - 4, 12);
    let run = replay(&[&write(dir.path(), "trailer.pcapng", &bad)]);
    run.assert_clean();
}

#[test]
fn files_that_are_no_capture() {
    let dir = tempdir();
    let mut x = 99u32;
    let noise: Vec<u8> = (0..100_000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect();
    for (name, bytes) in [
        ("noise.pcap", noise),
        ("json.pcap", b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n".repeat(100)),
        ("short.pcap", vec![0xd4, 0xc3, 0xb2]),
        ("elf.pcap", b"\x7fELF\x02\x01\x01\0".repeat(64)),
    ] {
        let p = write(dir.path(), name, &bytes);
        assert_one_error(&replay(&[&p]), &p);
    }
}

#[test]
fn a_directory_is_one_error_line() {
    let dir = tempdir();
    assert_one_error(&replay(&[dir.path()]), dir.path());
}

#[test]
fn an_unreadable_file_is_one_error_line() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir();
    let p = write(dir.path(), "secret.pcap", &pcap_sample());
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&p).is_ok() {
        println!("skipped: running as root (or with CAP_DAC_OVERRIDE), a mode-000 file is readable");
        return;
    }
    assert_one_error(&replay(&[&p]), &p);
}

fn mkfifo(path: &Path) -> bool {
    Command::new("mkfifo").arg(path).status().is_ok_and(|s| s.success())
}

/// A FIFO waits for its writer, as every Unix reader of a named pipe does (that is what lets
/// `mkfifo p; minewatch -r p & tcpdump -w p` work); once the writer has been and gone, the run
/// ends with what was written, or one error line when nothing was.
#[test]
fn a_fifo_is_read_once_its_writer_comes_and_never_hangs_after_it_leaves() {
    let dir = tempdir();
    let fifo = dir.path().join("pipe.pcap");
    if !mkfifo(&fifo) {
        println!("skipped: mkfifo is not available");
        return;
    }
    // A writer that opens and closes without writing.
    let child = spawn_limited(&["-q".as_ref(), "-r".as_ref(), fifo.as_os_str()]);
    std::thread::sleep(Duration::from_millis(200));
    drop(std::fs::OpenOptions::new().write(true).open(&fifo).expect("open the FIFO's writing end"));
    assert_one_error(&finish(child), &fifo);

    // A writer that sends a whole capture.
    let child = spawn_limited(&["-q".as_ref(), "-r".as_ref(), fifo.as_os_str()]);
    std::fs::write(&fifo, pcap_sample()).expect("write into the FIFO");
    let run = finish(child);
    run.assert_clean();
    assert_eq!(run.status.code(), Some(0), "{}", run.describe());
    assert!(run.alerts() > 0);
}

/// Packet times from the far future (pcapng's 64-bit timestamps, all ones): read like any other
/// time. This used to kill the worker thread (an overflow in the idle-sweep clock) and lose
/// every TCP packet after it, still exiting 0.
#[test]
fn pcapng_far_future_timestamps_are_read_like_any_other() {
    let dir = tempdir();
    let data = pcapng_sample();
    let mut future = data.clone();
    for r in util::capture_records(&data).unwrap() {
        set_u32(&mut future, r.start + 12, u32::MAX);
        set_u32(&mut future, r.start + 16, u32::MAX);
    }
    let clean = replay(&[&write(dir.path(), "clean.pcapng", &data)]);
    for workers in ["1", "2"] {
        let p = write(dir.path(), "future.pcapng", &future);
        let run = finish(spawn_limited(&[
            "-q".as_ref(),
            "--stats-interval".as_ref(),
            "0".as_ref(),
            "--workers".as_ref(),
            workers.as_ref(),
            "-r".as_ref(),
            p.as_os_str(),
        ]));
        run.assert_clean();
        assert_eq!(run.status.code(), Some(0), "{}", run.describe());
        assert_eq!(run.stat("tcp_packets"), clean.stat("tcp_packets"), "{}", run.describe());
        assert_eq!(run.alerts(), clean.alerts(), "{}", run.describe());
    }
}

/// A FIFO nobody ever writes to: the run waits (as it must: the writer may be about to come);
/// the first SIGTERM asks it to stop, the second ends it at once, even though it is blocked
/// opening the FIFO.
#[test]
fn a_fifo_without_a_writer_stops_on_a_second_sigterm() {
    let dir = tempdir();
    let fifo = dir.path().join("nowriter.pcap");
    if !mkfifo(&fifo) {
        println!("skipped: mkfifo is not available");
        return;
    }
    let mut child = spawn_limited(&["-q".as_ref(), "-r".as_ref(), fifo.as_os_str()]);
    // Until the handlers are installed a signal would kill it outright; give it time to start.
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().expect("wait").is_none(), "a FIFO without a writer cannot be read yet");
    let pid = child.id().to_string();
    let kill = |pid: &str| Command::new("sh").args(["-c", &format!("kill -TERM {pid}")]).status();
    kill(&pid).expect("send SIGTERM");
    std::thread::sleep(Duration::from_millis(200));
    kill(&pid).expect("send SIGTERM");
    let run = finish(child);
    // On a very slow machine the first signal may beat the handlers and end it outright.
    use std::os::unix::process::ExitStatusExt;
    let stopped = run.status.code() == Some(1) || run.status.signal() == Some(15);
    assert!(stopped, "{}", run.describe());
    assert!(!run.stderr.contains("panicked"), "{}", run.describe());
}
