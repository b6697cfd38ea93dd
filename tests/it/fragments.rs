//! Ordinary fragment trains are put back together and read (issue 21 asked whether the
//! defragmenter's drops were deliberate): a DNS answer that arrived in IPv4 fragments, its first
//! fragment last, still names the pool that a TLS connection without SNI then reaches, with one
//! worker or several.

use crate::util;

/// `pcaps/tls-dns-no-sni.pcap` with its DNS answer (record `answer`) cut into two IPv4 fragments
/// written last fragment first.
fn with_fragmented_answer(data: &[u8], answer: usize) -> Vec<u8> {
    let recs = util::capture_records(data).unwrap();
    let r = &recs[answer];
    let (head, frame) = (&data[r.start..r.start + 16], &data[r.start + 16..r.end]);
    assert_eq!(&frame[12..14], &[0x08, 0x00], "an IPv4 frame");
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
    let (eth_ip, l4) = (&frame[..14 + ihl], &frame[14 + ihl..14 + total]);
    assert!(l4.len() > 24);
    let fragment = |offset: usize, part: &[u8], more: bool| {
        let mut f = eth_ip.to_vec();
        f[16..18].copy_from_slice(&((ihl + part.len()) as u16).to_be_bytes());
        let flags = (u16::from(more) << 13) | (offset / 8) as u16;
        f[20..22].copy_from_slice(&flags.to_be_bytes());
        f.extend_from_slice(part);
        let mut rec = head.to_vec();
        rec[8..12].copy_from_slice(&(f.len() as u32).to_le_bytes());
        rec[12..16].copy_from_slice(&(f.len() as u32).to_le_bytes());
        rec.extend_from_slice(&f);
        rec
    };
    let mut out = data[..r.start].to_vec();
    out.extend(fragment(16, &l4[16..], false));
    out.extend(fragment(0, &l4[..16], true));
    out.extend_from_slice(&data[r.end..]);
    out
}

/// `pcaps/tls-dns-no-sni.pcap` with its answer in fragments, written into a directory of its own
/// (kept while the returned guard lives).
fn fragmented_capture() -> (tempfile::TempDir, std::path::PathBuf) {
    let data = std::fs::read(util::pcaps_dir().join("tls-dns-no-sni.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fragmented-answer.pcap");
    std::fs::write(&path, with_fragmented_answer(&data, 1)).unwrap();
    (dir, path)
}

fn stat(stdout: &str, name: &str) -> u64 {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event_type"] == "stats")
        .filter_map(|v| v["stats"][name].as_u64())
        .next_back()
        .unwrap_or_else(|| panic!("no stats record with {name}\n{stdout}"))
}

#[test]
fn a_dns_answer_in_fragments_first_fragment_last_is_read() {
    let (_dir, path) = fragmented_capture();
    for workers in ["1", "2"] {
        let run = util::run(
            &["-q", "--stats-interval", "0", "--workers", workers, "-r", path.to_str().unwrap()],
            None,
        );
        assert_eq!(run.code(), Some(0), "{}", run.describe());
        assert_eq!(stat(&run.stdout, "frag_reassembled"), 1, "{}", run.describe());
        assert_eq!(stat(&run.stdout, "frag_dropped"), 0);
        assert_eq!(stat(&run.stdout, "malformed"), 0);
        assert_eq!(stat(&run.stdout, "dns_answers"), 1, "the answer was read: {}", run.describe());
        assert_eq!(stat(&run.stdout, "dns_pool_addrs"), 1, "the pool's address was learnt");
        let (records, _) = util::parse_records(&run.stdout);
        let alerts: Vec<_> = records.iter().filter(|r| r.is_mining()).collect();
        assert_eq!(alerts.len(), 1, "--workers {workers}: {}", run.describe());
        assert_eq!(alerts[0].value["dest_ip"], "203.0.113.31");
    }
}

/// With several workers, a DNS answer in fragments takes effect in file order, as a whole one
/// does: the TLS flow it names, on another worker, is reported every time. (Its datagram used
/// to be put together by the worker that owned the resolver's addresses while the others
/// processed the same block: whether the flow's worker saw the answer in time was a race.)
#[test]
fn a_fragmented_dns_answer_is_read_in_file_order_by_every_number_of_workers() {
    let (_dir, path) = fragmented_capture();
    for round in 0..8 {
        for workers in ["2", "3", "4"] {
            let run = util::run(&["-q", "--workers", workers, "-r", path.to_str().unwrap()], None);
            assert_eq!(run.code(), Some(0), "{}", run.describe());
            let (records, _) = util::parse_records(&run.stdout);
            let alerts: Vec<_> = records.iter().filter(|r| r.is_mining()).collect();
            assert_eq!(alerts.len(), 1, "round {round}, --workers {workers}: {}", run.describe());
        }
    }
}
