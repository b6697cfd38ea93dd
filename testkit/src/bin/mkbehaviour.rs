//! Writes the kept captures of the behaviour watch into `pcaps/behaviour/` (with its
//! `TRUTH.tsv`): encrypted counterparts of real cleartext mining sessions from the shared
//! corpus (`--corpus DIR`, usually `../shared/corpus`), and the cross-flow capture. They are
//! kept as files because the corpus is not part of the repository; `pcaps/behaviour/README.md`
//! says how each was made. Usage: `mkbehaviour --corpus DIR [OUT]` (OUT: pcaps/behaviour).

use std::fmt::Write as _;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use minewatch::time::Ts;
use testkit::synth::behaviour::{aligned_capture, looped, messages_of, write_encrypted, Encrypted, Gather};

/// A real session to re-encrypt: its file in the corpus, its endpoints there, the new
/// endpoints, how long to make it (looping its steady part, `None`: as it is) and a note.
struct Real {
    out: &'static str,
    src: &'static str,
    client: &'static str,
    server: &'static str,
    new_client: &'static str,
    new_server: &'static str,
    loop_to_s: Option<f64>,
    rtt_us: i64,
    note: &'static str,
}

const REAL: &[Real] = &[
    Real {
        out: "enc-xmrig-rx0.pcap",
        src: "real-clients/xmrig-rx0-plain.pcap",
        client: "127.0.0.1:36406",
        server: "127.0.0.1:3333",
        new_client: "10.74.0.2:43001",
        new_server: "203.0.113.100:443",
        loop_to_s: Some(480.0),
        rtt_us: 500,
        note: "behaviour: real XMRig 6.26.0 session (corpus real-clients/xmrig-rx0-plain.pcap: rx/0, keepalive 5 s) re-encrypted as TLS 1.3 with no SNI, each write one record of its length + 17, same times and directions; its 50 s steady part repeated to 8 min",
    },
    Real {
        out: "enc-cpuminer-sha256d.pcap",
        src: "real-clients/cpuminer-sha256d-btc.pcap",
        client: "127.0.0.1:52460",
        server: "127.0.0.1:3333",
        new_client: "10.74.0.3:43002",
        new_server: "203.0.113.101:443",
        loop_to_s: Some(480.0),
        rtt_us: 500,
        note: "behaviour: real cpuminer 2.5.1 SV1 session (corpus real-clients/cpuminer-sha256d-btc.pcap) re-encrypted as TLS 1.3 with no SNI; its 45 s steady part repeated to 8 min",
    },
    Real {
        out: "enc-ewbf-zcash.pcap",
        src: "ndpi/monero-mining.pcap",
        client: "192.168.2.148:46838",
        server: "94.23.199.191:3333",
        new_client: "192.168.2.148:46838",
        new_server: "94.23.199.191:443",
        loop_to_s: None,
        rtt_us: 30_000,
        note: "behaviour: real EWBF 0.3.4b Zcash session to flypool (corpus ndpi/monero-mining.pcap, 18 min, 2.9 KB Equihash submits) re-encrypted as TLS 1.3 with no SNI, as it was",
    },
    Real {
        out: "enc-ethminer-ethproxy.pcap",
        src: "ndpi/ethereum-2018.pcap",
        client: "192.168.2.92:57726",
        server: "94.23.36.128:4444",
        new_client: "192.168.2.92:57726",
        new_server: "94.23.36.128:443",
        loop_to_s: None,
        rtt_us: 30_000,
        note: "behaviour: real ethminer-style eth-proxy session (corpus ndpi/ethereum-2018.pcap, 20 min, getWork polling and pushed work) re-encrypted as TLS 1.3 with no SNI, as it was",
    },
];

fn row(
    out: &mut String,
    file: &str,
    expect: &str,
    variant: &str,
    ends: Option<(SocketAddr, SocketAddr)>,
    note: &str,
) {
    let (ci, cp, si, sp) = match ends {
        Some((c, s)) => (c.ip().to_string(), c.port().to_string(), s.ip().to_string(), s.port().to_string()),
        None => ("*".into(), "*".into(), String::new(), String::new()),
    };
    let _ = writeln!(out, "{file}\t{expect}\t{variant}\t{ci}\t{cp}\t{si}\t{sp}\t\t{note}");
}

fn run(corpus: &Path, dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut truth =
        String::from("file\texpect\tvariant\tclient_ip\tclient_port\tserver_ip\tserver_port\tlogin\tnote\n");
    for (k, r) in REAL.iter().enumerate() {
        let bytes = fs::read(corpus.join(r.src))?;
        let p = |s: &str| s.parse::<SocketAddr>().map_err(|_| std::io::Error::other("bad address"));
        let mut msgs = messages_of(&bytes, p(r.client)?, p(r.server)?)?;
        if let Some(to) = r.loop_to_s {
            msgs = looped(&msgs, 2, 3_000_000, (to * 1e6) as i64);
        }
        let e = Encrypted {
            client: p(r.new_client)?,
            server: p(r.new_server)?,
            start: Ts::from_micros(1_717_243_200_000_000 + k as i64 * 7_200_000_000),
            rtt_us: r.rtt_us,
            msgs: &msgs,
            seed: 6000 + k as u64,
            sni: None,
            alpn: &[],
            ech: false,
        };
        let mut g = Gather::new();
        let t = write_encrypted(&mut g, &e)?;
        let mut f = fs::File::create(dir.join(r.out))?;
        g.write_to(&mut f)?;
        row(&mut truth, r.out, "mining", "tls", Some((t.client(), t.server())), r.note);
    }
    let mut f = fs::File::create(dir.join("aligned-cleartext-and-tls.pcap"))?;
    let [clear, aligned, control] = aligned_capture(&mut f)?;
    let file = "aligned-cleartext-and-tls.pcap";
    row(
        &mut truth,
        file,
        "mining",
        "cryptonote",
        Some(clear),
        "a Monero session in the clear (XMRig dialect), jobs on a 20 s Poisson clock",
    );
    row(&mut truth, file, "mining", "tls", Some(aligned), "behaviour: TLS with no name, 150 s, its jobs 0.3 s after the clear session's: decided by the lined-up pushes (replay with one worker; live across workers in tests/it/live.rs)");
    row(&mut truth, file, "mining", "tls", Some(control), "behaviour: the same TLS session shape with its jobs 9 s off the clear session's: nothing lines up, decided by its behaviour alone after --behaviour-min-duration (30 s; with 3 min it is too short to decide, see tests/it/behaviour.rs)");
    // Captures of real software over real TLS, made by make-real.sh in network namespaces
    // (kept as they were captured; see README.md).
    let p = |s: &str| s.parse::<SocketAddr>().map_err(|_| std::io::Error::other("bad address"));
    row(&mut truth, "real-tls-stratum.pcap", "mining", "tls", Some((p("127.0.0.1:46038")?, p("127.0.0.1:14433")?)), "behaviour: a Python (OpenSSL) XMRig-dialect miner and pool over real TLS 1.3 with no SNI, 5 min: jobs on a 20 s Poisson clock, shares every 6 s on average, keepalived after 30 s of silence");
    row(&mut truth, "real-mqtt-tls.pcap", "none", "", None, "NEGATIVE: mosquitto 2.0.11 over TLS, 5 min: mosquitto_sub kept open (keepalive 60 s) while mosquitto_pub sends a reading every 7 s on its own connection; both send the address as SNI, which names nothing, so both are watched");
    row(&mut truth, "real-websocket-tls.pcap", "none", "", None, "NEGATIVE: a WebSocket ticker over TLS (python websockets 12.0, no SNI), 5 min: a quote every 2 s, news at random times, pings every 20 s, a subscription change now and then");
    row(&mut truth, "real-longpoll-tls.pcap", "none", "", None, "NEGATIVE: an HTTPS long-poll over TLS (Python http.server and http.client, keep-alive, no SNI, no ALPN), 4 min: each GET held until there is news (1-20 s), asked again at once, a small POST now and then");
    fs::write(dir.join("TRUTH.tsv"), truth)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (corpus, out) = match args.as_slice() {
        [flag, c] if flag == "--corpus" => (PathBuf::from(c), PathBuf::from("pcaps/behaviour")),
        [flag, c, o] if flag == "--corpus" => (PathBuf::from(c), PathBuf::from(o)),
        _ => {
            eprintln!("usage: mkbehaviour --corpus DIR [OUT]");
            return ExitCode::from(2);
        }
    };
    match run(&corpus, &out) {
        Ok(()) => {
            println!("wrote the behaviour captures and TRUTH.tsv to {}", out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mkbehaviour: {e}");
            ExitCode::FAILURE
        }
    }
}
