//! Stream-evasion and resource-bound cases through the whole binary: what the alert says is
//! checked by the TRUTH replay; here we check how the sensor got there (counters, end reasons)
//! and that floods stay inside their bounds.

use crate::util;

use std::io::BufWriter;
use std::net::SocketAddr;
use std::path::Path;

use minewatch::time::Ts;
use serde_json::Value;
use testkit::synth::{Framer, Link, PacketSink, PcapWriter, TcpFlags, TcpSeg};

fn pcap(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps").join(name).to_string_lossy().into_owned()
}

/// Runs the binary and returns (records, the final stats object).
fn replay(args: &[&str]) -> (Vec<Value>, Value) {
    let mut all = vec!["--stats-interval", "0"];
    all.extend_from_slice(args);
    let out = util::run(&all, None);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let records: Vec<Value> = out.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let stats = records
        .iter()
        .rev()
        .find(|r| r["event_type"] == "stats")
        .map(|r| r["stats"].clone())
        .unwrap_or_else(|| panic!("no stats record\n{}", out.describe()));
    (records, stats)
}

fn sessions(records: &[Value]) -> Vec<&Value> {
    records.iter().filter(|r| r["event_type"] == "mining_session").collect()
}

#[test]
fn conflicting_overlap_keeps_the_first_bytes_and_is_counted() {
    let (records, stats) = replay(&["-q", "-r", &pcap("evasion-overlap-conflict.pcap")]);
    assert!(stats["reasm_overlap_conflicts"].as_u64().unwrap() >= 1, "{stats}");
    let s = sessions(&records);
    assert_eq!(s.len(), 1);
    assert!(s[0]["stratum"]["login"].as_str().unwrap().ends_with(".first"));
}

#[test]
fn an_acknowledged_lost_segment_is_a_counted_gap() {
    let (records, stats) = replay(&["-q", "-r", &pcap("evasion-lost-segment-acked.pcap")]);
    assert_eq!(stats["reasm_gaps"], 1, "{stats}");
    assert_eq!(stats["reasm_gap_bytes"], 25, "{stats}");
    assert_eq!(sessions(&records)[0]["confidence"], "confirmed");
}

#[test]
fn a_lost_segment_in_a_one_sided_capture_does_not_stall_the_flow() {
    let (records, stats) = replay(&["-q", "-r", &pcap("evasion-lost-segment-one-sided.pcap")]);
    assert_eq!(stats["reasm_gaps"], 1, "{stats}");
    let s = sessions(&records);
    assert_eq!(s.len(), 1);
    // Every submit behind the hole was read.
    assert_eq!(s[0]["stratum"]["shares_submitted"], 4);
}

#[test]
fn fragmented_datagrams_are_put_back_together() {
    for (file, workers) in [
        ("evasion-ipv4-fragments.pcap", "1"),
        ("evasion-ipv6-fragments.pcap", "1"),
        ("evasion-ipv4-fragments.pcap", "2"),
    ] {
        let (records, stats) = replay(&["-q", "--workers", workers, "-r", &pcap(file)]);
        assert_eq!(stats["frag_reassembled"], 3, "{file}: {stats}");
        assert_eq!(stats["frag_dropped"], 0, "{file}: {stats}");
        let s = sessions(&records);
        assert_eq!(s.len(), 1, "{file}");
        assert_eq!(s[0]["stratum"]["shares_submitted"], 2, "{file}");
    }
}

#[test]
fn keep_alives_and_window_probes_do_not_corrupt_the_stream() {
    let (records, stats) = replay(&["-q", "-r", &pcap("evasion-keepalive-zero-window.pcap")]);
    assert_eq!(stats["reasm_gaps"], 0, "{stats}");
    assert_eq!(stats["reasm_overlap_conflicts"], 0, "{stats}");
    assert_eq!(sessions(&records)[0]["stratum"]["shares_submitted"], 3);
}

#[test]
fn an_idle_session_ends_by_timeout_with_any_number_of_workers() {
    for workers in ["1", "2"] {
        let (records, _) = replay(&["-q", "--workers", workers, "-r", &pcap("evasion-idle-timeout.pcap")]);
        let s = sessions(&records);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0]["end_reason"], "timeout", "workers {workers}");
    }
}

#[test]
fn an_idle_session_times_out_in_a_file_older_than_the_one_replayed_before_it() {
    // The first file's packets are two days later than the second's. Each file's packet time
    // is its own: before, the sweeps and ticks waited for the second file to reach the first
    // one's time, never did, and the idle session was ended by the end of input instead.
    let (later, older) = (pcap("beh-ech-monero.pcap"), pcap("evasion-idle-timeout.pcap"));
    for workers in ["1", "2"] {
        let (records, stats) = replay(&["-q", "--workers", workers, "-r", &later, "-r", &older]);
        let idle: Vec<&Value> =
            sessions(&records).into_iter().filter(|s| s["pcap_filename"] == older.as_str()).collect();
        assert_eq!(idle.len(), 1, "workers {workers}: {records:#?}");
        assert_eq!(idle[0]["end_reason"], "timeout", "workers {workers}: {}", idle[0]);
        let (_, alone) = replay(&["-q", "--workers", workers, "-r", &older]);
        assert_eq!(stats["flows_timed_out"], alone["flows_timed_out"], "workers {workers}");
    }
}

#[test]
fn captures_joined_end_to_end_time_out_their_idle_flows_and_time_going_back_and_forth_stays_linear() {
    let dir = tempfile::tempdir().unwrap();
    // A later capture and an older one joined end to end in one file (`mergecap -a`): the
    // idle session of the second part times out as it does alone, with any number of workers
    // (before, the sweeps and ticks waited for the second part to reach the first one's time).
    let joined = dir.path().join("joined.pcap");
    let (later, older) = (
        std::fs::read(pcap("beh-ech-monero.pcap")).unwrap(),
        std::fs::read(pcap("evasion-idle-timeout.pcap")).unwrap(),
    );
    assert_eq!(later.get(..24), older.get(..24), "same file header");
    std::fs::write(&joined, [&later[..], &older[24..]].concat()).unwrap();
    for workers in ["1", "2", "3"] {
        let (records, stats) = replay(&["-q", "--workers", workers, "-r", joined.to_str().unwrap()]);
        let reasons: Vec<&Value> = sessions(&records).iter().map(|s| &s["end_reason"]).collect();
        assert_eq!(reasons, ["fin", "timeout"], "workers {workers}: {records:#?}");
        assert_eq!(stats["flows_timed_out"], 1, "workers {workers}: {stats}");
        assert_eq!(stats["clock_restarts"], 1, "workers {workers}: {stats}");
    }
    // Time going back and forth by a day at every packet, each packet a new flow: a restart
    // of the sweeps (and the sweep after it, a look at every flow) is allowed once per a 64th
    // of the table in packets, not at every other packet (quadratic).
    let file = dir.path().join("back-and-forth.pcap");
    let n: u32 = 40_000;
    {
        let f = std::fs::File::create(&file).unwrap();
        let mut w = PcapWriter::new(BufWriter::new(f), Link::Ethernet.link_type()).unwrap();
        let mut fr = Framer::new(Link::Ethernet);
        let dst: SocketAddr = "198.51.100.200:443".parse().unwrap();
        for i in 0..n {
            let src: SocketAddr =
                format!("10.9.{}.{}:{}", (i >> 8) & 255, i & 255, 1024 + (i >> 16)).parse().unwrap();
            let seg = TcpSeg { seq: i, ack: 0, flags: TcpFlags::SYN, window: 1024, mss_option: None };
            let day = if i % 2 == 0 { 0 } else { 86_400_000_000 };
            w.write_packet(
                Ts(1_700_000_000_000_000 + day + i64::from(i)),
                fr.tcp(src, dst, &seg, b"").unwrap(),
            )
            .unwrap();
        }
        w.into_inner().unwrap();
    }
    let (_, stats) = replay(&["-q", "--workers", "1", "-r", file.to_str().unwrap()]);
    assert_eq!(stats["flows"], u64::from(n), "{stats}");
    let restarts = stats["clock_restarts"].as_u64().unwrap_or(u64::MAX);
    assert!(restarts >= 10 && restarts < u64::from(n / 16), "{restarts} restarts: {stats}");
}

#[test]
fn a_frame_an_hour_ahead_ends_the_same_idle_flows_whatever_the_number_of_workers() {
    // A damaged capture, or a clock stepped forward for a moment: one frame of `two-miners`
    // (its 31st, of the first miner) an hour ahead of the others. Packet time reaches an hour
    // on, so both sessions (idle for longer than the 10-minute timeout at that time) end there
    // and are picked up again by their next packets. Before, each worker ticked on its own
    // frames' times: with two or three workers the other miner's worker never saw that hour,
    // and one session fewer ended (3 sessions and 1 timeout instead of 4 and 2).
    let dir = tempfile::tempdir().unwrap();
    let mut data = std::fs::read(pcap("two-miners.pcap")).unwrap();
    assert_eq!(data.get(..4), Some(&[0xd4, 0xc3, 0xb2, 0xa1][..]), "little-endian pcap");
    let mut at = 24;
    for _ in 0..30 {
        let caplen = u32::from_le_bytes(data[at + 8..at + 12].try_into().unwrap());
        at += 16 + caplen as usize;
    }
    let secs = u32::from_le_bytes(data[at..at + 4].try_into().unwrap());
    data[at..at + 4].copy_from_slice(&(secs + 3600).to_le_bytes());
    let file = dir.path().join("an-hour-ahead.pcap");
    std::fs::write(&file, &data).unwrap();
    let run = |workers: &str| {
        let (records, stats) = replay(&["-q", "--workers", workers, "-r", file.to_str().unwrap()]);
        let mut lines: Vec<String> =
            records.iter().filter(|r| r["event_type"] != "stats").map(Value::to_string).collect();
        lines.sort();
        let counts: Vec<(&str, u64)> = ["flows", "flows_timed_out", "sessions", "alerts", "clock_restarts"]
            .into_iter()
            .map(|k| (k, stats[k].as_u64().unwrap_or(u64::MAX)))
            .collect();
        (lines, counts)
    };
    let one = run("1");
    assert_eq!(
        one.1,
        [("flows", 4), ("flows_timed_out", 2), ("sessions", 4), ("alerts", 4), ("clock_restarts", 1)],
        "{:#?}",
        one.0
    );
    for workers in ["2", "3"] {
        let other = run(workers);
        assert_eq!(other.1, one.1, "workers {workers}");
        assert_eq!(other.0, one.0, "workers {workers}");
    }
}

/// Writes `n` SYNs from distinct internal hosts to one pool, then one mining session.
fn syn_flood(path: &Path, n: u32) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = PcapWriter::new(BufWriter::new(f), Link::Ethernet.link_type()).unwrap();
    let mut fr = Framer::new(Link::Ethernet);
    let dst: SocketAddr = "198.51.100.200:3333".parse().unwrap();
    for i in 0..n {
        let src: SocketAddr =
            format!("10.{}.{}.{}:{}", (i >> 16) & 255, (i >> 8) & 255, i & 255, 1024 + (i % 60_000))
                .parse()
                .unwrap();
        let seg = TcpSeg { seq: i, ack: 0, flags: TcpFlags::SYN, window: 1024, mss_option: None };
        let frame = fr.tcp(src, dst, &seg, b"").unwrap();
        w.write_packet(Ts(1_700_000_000_000_000 + i64::from(i)), frame).unwrap();
    }
    w.into_inner().unwrap();
}

#[test]
fn a_syn_flood_stays_inside_the_flow_table() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flood.pcap");
    syn_flood(&file, 100_000);
    let (_, stats) = replay(&["-q", "--workers", "1", "--max-flows", "5000", "-r", file.to_str().unwrap()]);
    assert_eq!(stats["flows"], 100_000, "{stats}");
    assert_eq!(stats["flows_evicted"], 95_000, "{stats}");
    assert_eq!(stats["sessions_evicted"], 0, "{stats}");
}
