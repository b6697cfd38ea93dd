//! Packets per direction (`pkts_toserver`, `pkts_toclient`): what minewatch prints in JSON
//! session records, EVE `flow` objects and ECS `source.packets`/`destination.packets` equals
//! what tcpdump counts in the same capture for each direction of the session, up to the
//! session's last packet (the flow table forgets a connection once it ended, as at both FINs, so
//! a last ACK after that is not the session's).
//!
//! Needs `tcpdump` (`scripts/lib.sh` installs it); without it the test says SKIPPED.

use crate::util;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// IPv4 captures over Ethernet with a handshake, of several shapes: a clean FIN close, 1-byte
/// segments, reordering and retransmissions, an RST, one direction only.
const CAPTURES: &[&str] = &[
    "sv1-cpuminer.pcap",
    "sv1-bytewise.pcap",
    "sv1-reorder-retrans.pcap",
    "cryptonote-xmrig.pcap",
    "cryptonote-rst.pcap",
    "ethproxy-ethminer.pcap",
    "sv1-client-only.pcap",
    "sv1-server-only.pcap",
];

fn tcpdump() -> Option<&'static str> {
    ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"].into_iter().find(|p| Path::new(p).is_file())
}

/// Microseconds since the epoch of an RFC 3339 time as minewatch writes it.
fn micros(t: &str) -> i64 {
    let t = chrono::DateTime::parse_from_rfc3339(t).unwrap_or_else(|e| panic!("{t}: {e}"));
    t.timestamp_micros()
}

/// Packets tcpdump reads in `pcap` from `src` to `dst` (`IP PORT` each) up to `until`
/// (microseconds since the epoch, inclusive).
fn count(bin: &str, pcap: &Path, src: (&str, u64), dst: (&str, u64), until: i64) -> u64 {
    let filter =
        format!("src host {} and src port {} and dst host {} and dst port {}", src.0, src.1, dst.0, dst.1);
    let out = Command::new(bin).args(["-n", "-tt", "-r"]).arg(pcap).arg(&filter).output().unwrap();
    assert!(out.status.success(), "tcpdump {filter}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            let ts = l.split_whitespace().next().unwrap_or("");
            let (s, us) = ts.split_once('.').unwrap_or((ts, "0"));
            let t = s.parse::<i64>().unwrap() * 1_000_000 + us.parse::<i64>().unwrap();
            t <= until
        })
        .count() as u64
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn packets_per_direction_equal_tcpdumps_count_in_every_format() {
    let Some(bin) = tcpdump() else {
        eprintln!("SKIPPED: tcpdump is not installed (scripts/lib.sh installs it)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for name in CAPTURES {
        let pcap = util::pcaps_dir().join(name);
        let (json, eve, ecs) =
            (tmp.path().join("a.json"), tmp.path().join("a.eve"), tmp.path().join("a.ecs"));
        for f in [&json, &eve, &ecs] {
            let _ = std::fs::remove_file(f);
        }
        let out = util::run(
            &[
                "-q".as_ref(),
                "--stats-interval".as_ref(),
                "0".as_ref(),
                "-r".as_ref(),
                pcap.as_os_str(),
                "-o".as_ref(),
                format!("json:{}?types=mining_session", json.display()).as_ref(),
                "-o".as_ref(),
                format!("eve:{}?types=mining,mining_session", eve.display()).as_ref(),
                "-o".as_ref(),
                format!("ecs:{}?types=mining_session", ecs.display()).as_ref(),
            ],
            None,
        );
        assert_eq!(out.code(), Some(0), "{}", out.describe());
        let json = lines(&json);
        assert_eq!(json.len(), 1, "{name}: one session record");
        let s = &json[0];
        let client = (s["src_ip"].as_str().unwrap(), s["src_port"].as_u64().unwrap());
        let pool = (s["dest_ip"].as_str().unwrap(), s["dest_port"].as_u64().unwrap());
        let until = micros(s["last_seen"].as_str().unwrap());
        let want = (count(bin, &pcap, client, pool, until), count(bin, &pcap, pool, client, until));
        assert!(want.0 + want.1 > 0, "{name}: tcpdump read nothing");
        let got = (s["pkts_toserver"].as_u64().unwrap(), s["pkts_toclient"].as_u64().unwrap());
        assert_eq!(got, want, "{name}: JSON (to server, to client) against tcpdump");

        let eve = lines(&eve);
        let flow = eve.iter().find(|v| v["event_type"] == "flow").unwrap();
        let f = &flow["flow"];
        assert_eq!(
            (f["pkts_toserver"].as_u64(), f["pkts_toclient"].as_u64()),
            (Some(got.0), Some(got.1)),
            "{name}"
        );
        // The alert says how far the flow had come when it was raised: no further than its end.
        let alert = eve.iter().find(|v| v["event_type"] == "alert").unwrap();
        let a = &alert["flow"];
        let (at, ac) = (a["pkts_toserver"].as_u64().unwrap(), a["pkts_toclient"].as_u64().unwrap());
        assert!(at + ac > 0 && at <= got.0 && ac <= got.1, "{name}: alert {a} vs end {f}");

        let ecs = lines(&ecs);
        let e = &ecs[0];
        assert_eq!(e["source"]["packets"].as_u64(), Some(got.0), "{name}");
        assert_eq!(e["destination"]["packets"].as_u64(), Some(got.1), "{name}");
    }
}
