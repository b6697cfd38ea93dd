//! The benchmark's edge mix (`mkbench --mix edge`, issue 21): a small one has the proportions of
//! the edge capture the issue describes, counted from its frames, and minewatch finds exactly
//! its mining sessions and none of its look-alikes, with one worker and with two.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use testkit::synth::bench::{
    census, default_splice_dirs_for, load_splices, write_edge, BenchSpec, BenchSummary,
};
use testkit::synth::scenarios::Expect;

use crate::util;

/// 30 MB: a fortieth of the issue's 1.2 GB capture, 12 mining sessions and 6 look-alikes (the
/// least the generator hides). Smaller files hold a third more flows per byte: the seconds they
/// span cut most page loads before their answers.
const SIZE: u64 = 30_000_000;

fn edge_capture(dir: &Path) -> (PathBuf, BenchSummary) {
    let dirs = default_splice_dirs_for(&util::repo_root());
    let dirs: Vec<&Path> = dirs.iter().map(|d| d.as_path()).collect();
    let splices = load_splices(&dirs).unwrap();
    assert!(splices.len() >= 15, "{} captures to splice", splices.len());
    let path = dir.join("edge.pcap");
    let f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let summary =
        write_edge(f, &BenchSpec { size: SIZE, seed: 5, file: "edge.pcap".into() }, splices).unwrap();
    (path, summary)
}

/// `got` within `tol` (a fraction) of `want`.
fn near(what: &str, got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= want * tol, "{what}: {got:.3}, want {want:.3} ± {:.0}%", tol * 100.0);
}

#[test]
fn the_edge_mix_has_the_issues_proportions_and_every_session_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let (path, summary) = edge_capture(dir.path());
    let c = census(std::fs::File::open(&path).unwrap()).unwrap();
    // Issue 21's capture, per 1.2 GB: 3.74 M packets, mean frame ~305 bytes, 205,573 TCP and
    // 46,110 UDP flows (44,289 DNS), 20,233 IPv6 and 25,466 VLAN-tagged flows, 9% spliced.
    let gb = c.frame_bytes as f64 / 1.2e9;
    near("packets per 1.2 GB", c.packets as f64 / gb, 3.74e6, 0.2);
    near("mean frame bytes", c.frame_bytes as f64 / c.packets as f64, 305.0, 0.15);
    // A small file holds a few more flows per byte (the flows still open at its end are cut
    // short), hence the wider bounds on these two.
    near("TCP flows per 1.2 GB", c.tcp_flows as f64 / gb, 205_573.0, 0.25);
    near("UDP flows per 1.2 GB", c.udp_flows as f64 / gb, 46_110.0, 0.25);
    let flows = (c.tcp_flows + c.udp_flows) as f64;
    near("DNS share of UDP flows", c.dns_flows as f64 / c.udp_flows as f64, 44_289.0 / 46_110.0, 0.05);
    near("IPv6 share of flows", c.ipv6_flows as f64 / flows, 20_233.0 / 251_683.0, 0.3);
    near("VLAN share of flows", c.vlan_flows as f64 / flows, 25_466.0 / 251_683.0, 0.3);
    // Splices come whole, a few of them large, so a small file's share varies more.
    near("spliced share of bytes", c.spliced_bytes as f64 / c.frame_bytes as f64, 0.09, 0.6);
    assert_eq!(c.packets, summary.packets);
    // One DNS answer in fifty comes in IPv4 fragments: every train is put back together.
    assert!(c.undecoded > 10, "{} fragments", c.undecoded);

    let mining: HashSet<util::FourTuple> = summary
        .truth
        .iter()
        .filter(|r| r.expect == Expect::Mining)
        .map(|r| {
            let (c, s) = (r.client.unwrap(), r.server.unwrap());
            (c.ip().to_string(), c.port(), s.ip().to_string(), s.port())
        })
        .collect();
    let look: HashSet<util::FourTuple> = summary
        .truth
        .iter()
        .filter(|r| r.expect != Expect::Mining)
        .map(|r| {
            let (c, s) = (r.client.unwrap(), r.server.unwrap());
            (c.ip().to_string(), c.port(), s.ip().to_string(), s.port())
        })
        .collect();
    assert_eq!((mining.len(), look.len()), (12, 6));
    let p = path.to_str().unwrap();
    for workers in ["1", "2"] {
        let run = util::run(
            &["-q", "--stats-interval", "0", "--workers", workers, "--home-net", "0.0.0.0/0,::/0", "-r", p],
            None,
        );
        assert_eq!(run.code(), Some(0), "{}", run.describe());
        let (records, bad) = util::parse_records(&run.stdout);
        assert!(bad.is_empty(), "{bad:?}");
        let alerts: Vec<util::FourTuple> =
            records.iter().filter(|r| r.is_mining()).filter_map(|r| r.key()).collect();
        let found: HashSet<util::FourTuple> = alerts.iter().cloned().collect();
        assert_eq!(alerts.len(), found.len(), "--workers {workers}: a session alerted twice");
        assert_eq!(found, mining, "--workers {workers}: the alerts are not the mining sessions");
        assert!(found.is_disjoint(&look));
        let stats = records.iter().rfind(|r| r.event_type() == "stats").expect("a stats record");
        let stat = |k: &str| stats.value["stats"][k].as_u64().unwrap_or(u64::MAX);
        assert_eq!(stat("fragments"), c.undecoded, "--workers {workers}");
        assert_eq!(stat("frag_dropped"), 0, "--workers {workers}");
        assert_eq!((stat("malformed"), stat("truncated")), (0, 0), "--workers {workers}");
        assert!(stat("frag_reassembled") * 2 <= c.undecoded && stat("frag_reassembled") * 3 >= c.undecoded);
    }
}
