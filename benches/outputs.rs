//! Cost of one record in each output format, and of the syslog framing around it: what the
//! collector thread pays per alert.
//!
//! Run: `cargo bench --bench outputs`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

use minewatch::output::{syslog, Format};
use minewatch::stratum::{Confidence, SessionFacts, Variant};
use minewatch::time::Ts;
use minewatch::verdict::{EndReason, Event, EventKind};

fn event() -> Event {
    Event {
        kind: EventKind::MiningSession,
        ts: Ts::from_timeval(1_700_000_000, 1),
        flow_id: 4_401_233_077_715_503,
        client: "10.0.0.5:40000".parse().unwrap_or_else(|_| ([0, 0, 0, 0], 0).into()),
        pool: "198.51.100.10:3333".parse().unwrap_or_else(|_| ([0, 0, 0, 0], 0).into()),
        confidence: Confidence::Confirmed,
        facts: SessionFacts {
            variant: Some(Variant::CryptoNote),
            login: Some("48edfHu7V9Z84YzzMa6fUueoELZ9ZRXq9VetWzYGzKt52XU5xvqgzYnDK9URnRoJMk1j8nLwEVsaSWJ4fhdUyZijBGUicoD".into()),
            password: Some("x|rig=1\\".into()),
            agent: Some("XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0".into()),
            algo: Some("rx/0".into()),
            methods: vec!["login".into(), "job".into(), "submit".into(), "keepalived".into()],
            jobs: 40,
            shares_submitted: 12,
            shares_accepted: 12,
            difficulty: Some(120_001.0),
            ..Default::default()
        },
        first_seen: Ts::from_timeval(1_700_000_000, 0),
        last_seen: Ts::from_timeval(1_700_003_600, 0),
        bytes_toserver: 12_000,
        bytes_toclient: 90_000,
        pkts_toserver: 120,
        pkts_toclient: 180,
        end_reason: Some(EndReason::Fin),
        derived: Default::default(),
        pcap_filename: None,
        evidence: None,
    }
    .derive()
}

fn bench(c: &mut Criterion) {
    let ev = event();
    let mut g = c.benchmark_group("per_record");
    g.throughput(Throughput::Elements(1));
    for f in Format::ALL {
        let mut buf = Vec::with_capacity(2048);
        g.bench_function(format!("format_{}", f.as_str()), |b| {
            b.iter(|| {
                buf.clear();
                f.format(black_box(&ev), "edge-1", &mut buf);
                buf.len()
            })
        });
    }
    let mut rec = Vec::new();
    Format::Json.format(&ev, "edge-1", &mut rec);
    let h = syslog::Header::new("edge-1");
    let mut msg = Vec::with_capacity(2048);
    g.bench_function("syslog_rfc5424_header", |b| {
        b.iter(|| {
            msg.clear();
            h.message(syslog::Severity::Notice, ev.ts, "mining_session", black_box(&rec), &mut msg);
            msg.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
