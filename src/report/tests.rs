use super::*;
use crate::hosts::HostTable;
use crate::stratum::{Clue, SessionFacts, Variant};

fn ev(kind: EventKind, client: &str, flow: u64, login: &str, start: i64, end: i64) -> Event {
    let mut e = Event::sample(
        kind,
        client,
        SessionFacts {
            variant: Some(Variant::StratumV1),
            login: Some(login.into()),
            wallet: Some("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa".into()),
            coin: Some("BTC"),
            agent: Some("XMRig/6.21.0".into()),
            pool_host: Some("pool.example.net".into()),
            shares_accepted: 10,
            accepted_hashes: 1e9 * end.saturating_sub(start) as f64 / 1e6,
            ..Default::default()
        },
    );
    e.flow_id = flow;
    e.first_seen = Ts(start);
    e.last_seen = Ts(end);
    e.ts = Ts(end);
    e.derive()
}

fn build(events: &[Event], limits: Limits) -> Report {
    let mut b = Builder::new(limits);
    let table = HostTable::new(100);
    for e in events {
        table.record(e);
        b.record(e, Some("IR-1"));
    }
    b.build("sensor-1", &table.snapshot(), &Counters { truncated: 2, ..Default::default() }, &[])
}

#[test]
fn an_alert_opens_a_bar_and_the_session_end_closes_it() {
    let r = build(
        &[
            ev(EventKind::Mining, "10.0.0.1:5000", 7, "w", 0, 2_000_000),
            ev(EventKind::MiningSession, "10.0.0.1:5000", 7, "w", 0, 10_000_000),
        ],
        Limits::default(),
    );
    assert_eq!(r.hosts.len(), 1);
    let h = &r.hosts[0];
    assert_eq!(h.timeline.len(), 1, "{:?}", h.timeline);
    assert!(!h.timeline[0].open);
    assert_eq!(h.timeline[0].end, Ts(10_000_000));
    // 1 GH/s over the whole span: every bucket holds it.
    let peak = h.hashrate_peak.unwrap_or_default();
    assert!((peak - 1e9).abs() < 1e6, "{peak}");
    assert!(r.hashrate.total.iter().all(|v| (v - 1e9).abs() < 1e6), "{:?}", r.hashrate.total);
    assert_eq!(r.summary.alerts_by_confidence.get("detected"), Some(&1));
    assert_eq!(r.summary.alerts_by_clue.get(CLUE_PROTOCOL), Some(&1));
    assert_eq!(r.wallets[0].watchlist_label.as_deref(), Some("IR-1"));
    assert_eq!(r.wallets[0].coin, Some("BTC"));
    assert_eq!(r.software[0].name, "XMRig");
    assert_eq!(r.pools[0].names, vec!["pool.example.net".to_string()]);
    assert_eq!((r.pools[0].sessions, r.pools[0].hosts), (1, 1));
    assert_eq!(r.not_inspected.len(), 1);
    assert_eq!(r.not_inspected[0].name, "truncated");
}

#[test]
fn every_collection_is_bounded_and_counts_what_it_left_out() {
    let limits =
        Limits { hosts: 2, sessions_per_host: 3, pools: 1, wallets: 1, software: 1, ..Limits::default() };
    let mut events = Vec::new();
    for host in 0..4 {
        for flow in 0..5u64 {
            let mut e = ev(EventKind::Mining, &format!("10.0.0.{host}:5000"), flow, "w", 0, 1_000_000);
            e.pool = SocketAddr::from(([198, 51, 100, flow as u8], 3333));
            e.facts.wallet = Some(format!("wallet{flow}"));
            if let Some(a) = e.derived.agent.as_mut() {
                a.version = Some(flow.to_string());
            }
            let mut end = e.clone();
            end.kind = EventKind::MiningSession;
            events.push(e);
            events.push(end);
        }
    }
    let r = build(&events, limits);
    assert_eq!(r.pools.len(), 1);
    assert_eq!(r.wallets.len(), 1);
    assert_eq!(r.software.len(), 1);
    assert!(r.hosts.iter().all(|h| h.timeline.len() <= 3));
    assert_eq!(r.left_out.host_records, 2 * 10);
    assert_eq!(r.left_out.sessions, 2 * 2);
    assert_eq!(r.left_out.pool_records, 4 * 4);
    assert_eq!(r.left_out.wallet_records, 4 * 4);
    assert_eq!(r.left_out.software_records, 4 * 4);
}

#[test]
fn the_page_escapes_every_wire_string_and_needs_nothing_from_outside() {
    let mut e = ev(EventKind::Mining, "10.0.0.1:5000", 1, "<script>alert(\"x\")</script>", 0, 1_000_000);
    e.facts.pool_host = Some("evil\"><img src=x onerror=alert(1)>".into());
    e.facts.agent = Some("<b>XMRig</b>/1".into());
    e.facts.clue = Some(Clue::Sni);
    let e = e.derive();
    let r = build(&[e], Limits::default());
    let page = html::render(&r);
    assert!(!page.contains("<script"), "a tag from the wire got through");
    assert!(!page.contains("<img"), "a tag from the wire got through");
    assert!(!page.contains("<b>XMRig"), "a tag from the wire got through");
    assert!(page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
    for outside in ["http:", "https:", "src=\"", "href=", "@import", "url("] {
        assert!(!page.contains(outside), "the page refers to something outside: {outside}");
    }
    assert!(page.contains("<svg"));
}

#[test]
fn a_pool_name_that_is_no_host_name_is_no_indicator() {
    assert!(stix::is_hostname("pool.supportxmr.com") && stix::is_hostname("_srv.x-y.example."));
    for bad in ["", "a..b", "-a.b", "a b", "a'b.example", "évil.example", "x<script>"] {
        assert!(!stix::is_hostname(bad), "{bad:?}");
    }
    assert_eq!(stix::host_name("pool.example.net:8332"), Some("pool.example.net"));
    assert_eq!(stix::host_name("pool.example.net"), Some("pool.example.net"));
    assert_eq!(stix::host_name("203.0.113.37:8545"), None);
    assert_eq!(stix::host_name("[2001:db8::1]:3333"), None);
    assert_eq!(stix::host_name("2001:db8::1"), None);
    let mut e = ev(EventKind::Mining, "10.0.0.1:5000", 1, "w", 0, 1_000_000);
    e.facts.pool_host = Some("evil'] OR [ipv4-addr:value = '0.0.0.0".into());
    let r = build(&[e], Limits::default());
    let b = stix::bundle(&r, Tlp::Amber).to_string();
    assert!(!b.contains("domain-name"), "{b}");
    assert!(!misp::event(&r, Tlp::Amber).to_string().contains("\"domain\""));
    assert!(html::render(&r).contains("evil&#39;] OR"), "the name left the page too");
}

#[test]
fn stix_ids_depend_on_the_facts_only_and_patterns_are_escaped() {
    let mut e = ev(EventKind::Mining, "10.0.0.1:5000", 1, "w", 0, 1_000_000);
    e.facts.pool_host = Some("pool-1.example".into());
    let r = build(std::slice::from_ref(&e), Limits::default());
    let a = stix::bundle(&r, Tlp::Amber);
    let b = stix::bundle(&build(&[e], Limits::default()), Tlp::Amber);
    assert_eq!(a, b, "two exports of the same records differ");
    let text = a.to_string();
    assert!(text.contains("[domain-name:value = 'pool-1.example']"), "{text}");
    // Host names need no escape; the pattern writer escapes anyway (STIX patterning 9.4).
    assert_eq!(stix::pattern_string("a'b\\c"), "a\\'b\\\\c");
    assert!(text.contains("[ipv4-addr:value = '198.51.100.1']"));
    assert!(text.contains("x-minewatch-wallet--"));
    assert!(text.contains("\"software--"));
    // The software id follows STIX's observable rule: UUIDv5 in STIX's namespace over
    // {"name":..,"version":..}.
    let want = Uuid::new_v5(
        &Uuid::from_u128(0x00abedb4_aa42_466c_9c01_fed23315a9b7),
        br#"{"name":"XMRig","version":"6.21.0"}"#,
    );
    assert!(text.contains(&format!("software--{want}")), "{text}");
    let m = misp::event(&r, Tlp::Amber).to_string();
    assert!(m.contains("\"type\":\"btc\"") && m.contains("\"tlp:amber\"") && m.contains("\"ip-dst\""), "{m}");
}

use uuid::Uuid;

#[test]
fn touching_bars_are_drawn_as_one_and_a_huge_page_draws_its_busiest_hosts_only() {
    let limits = Limits { sessions_per_host: 5_000, ..Limits::default() };
    let events: Vec<Event> = (0..3_000u64)
        .map(|i| {
            let s = i as i64 * 1_000_000;
            ev(EventKind::MiningSession, "10.0.0.1:5000", i, "w", s, s + 900_000)
        })
        .collect();
    let r = build(&events, limits);
    assert_eq!(r.hosts[0].timeline.len(), 3_000);
    let page = html::render(&r);
    let rects = page.matches("<rect class=\"session").count();
    assert!((1..=200).contains(&rects), "{rects} bars for 3,000 sessions side by side");
    assert!(page.contains("3000 sessions, detected"), "the merged bar does not say how many");

    let many: Vec<Event> = (0..html::DRAWN_HOSTS + 5)
        .map(|i| {
            let client = format!("10.{}.{}.{}:5000", i / 65536, (i / 256) % 256, i % 256);
            ev(EventKind::MiningSession, &client, i as u64, "w", 0, 1_000_000)
        })
        .collect();
    let mut b = Builder::new(Limits::default());
    let table = HostTable::new(100_000);
    for e in &many {
        table.record(e);
        b.record(e, None);
    }
    let r = b.build("s", &table.snapshot(), &Counters::default(), &[]);
    let page = html::render(&r);
    assert_eq!(page.matches("<tr class=\"host\"").count(), html::DRAWN_HOSTS + 5, "every host keeps its row");
    assert_eq!(page.matches("<svg class=\"timeline\"").count(), html::DRAWN_HOSTS);
    assert!(page.contains("id=\"not-drawn\""));
}

#[test]
fn absurd_times_neither_panic_nor_overflow() {
    let events = [
        ev(EventKind::MiningSession, "10.0.0.1:5000", 1, "w", 0, i64::MAX),
        ev(EventKind::MiningSession, "10.0.0.2:5000", 2, "w", i64::MIN + 1, 5),
        ev(EventKind::MiningSession, "10.0.0.3:5000", 3, "w", 9, 3),
    ];
    let r = build(&events, Limits::default());
    assert_eq!(r.hosts.len(), 3);
    let page = html::render(&r);
    assert!(!page.contains("NaN") && !page.contains("inf"), "a plot got a non-number");
    let _ = stix::render(&r, Tlp::Red);
    let _ = misp::render(&r, Tlp::Clear);
}
