//! The human summary printed on exit: the mining hosts first (what the analyst came for), then
//! the counters that say what the sensor could not see.

use std::fmt::Write;

use crate::hosts::HostEntry;
use crate::stats::{Counters, NOT_INSPECTED};

/// Cuts a wire string for a table cell and removes anything that would move the cursor.
fn cell(s: &str, max: usize) -> String {
    let clean: String = s.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
    if clean.chars().count() <= max {
        clean
    } else {
        let mut out: String = clean.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Renders the host table and the counters.
pub fn render(hosts: &[HostEntry], c: &Counters) -> String {
    let mut s = String::new();
    if hosts.is_empty() {
        s.push_str("minewatch: no mining hosts found\n");
    } else {
        let _ = writeln!(s, "minewatch: {} mining host(s)", hosts.len());
        let _ = writeln!(
            s,
            "{:<39}  {:<45}  {:<16}  {:<10}  {:>8}  {:>13}  {:<27}  {:<27}  login",
            "host", "pool", "dialect", "confidence", "sessions", "shares ok/sub", "first seen", "last seen"
        );
        for h in hosts {
            let pools: Vec<String> = h.pools.iter().map(|p| p.to_string()).collect();
            let variants: Vec<&str> = h.variants.iter().map(|v| v.as_str()).collect();
            let logins: Vec<String> = h.logins.iter().map(|l| cell(l, 100)).collect();
            let _ = writeln!(
                s,
                "{:<39}  {:<45}  {:<16}  {:<10}  {:>8}  {:>13}  {:<27}  {:<27}  {}",
                h.ip.to_string(),
                cell(&pools.join(","), 45),
                variants.join(","),
                h.confidence.as_str(),
                h.sessions,
                format!("{}/{}", h.shares_accepted, h.shares_submitted),
                h.first_seen.rfc3339(),
                h.last_seen.rfc3339(),
                if logins.is_empty() { "-".to_string() } else { logins.join(",") },
            );
        }
    }
    let _ = writeln!(
        s,
        "packets {} ({} bytes), tcp {}, udp {}, flows {}, bypassed {}, sessions {} ({} external, not reported), alerts {}",
        c.packets, c.bytes, c.tcp_packets, c.udp_packets, c.flows, c.flows_bypassed, c.sessions, c.sessions_external, c.alerts
    );
    let skipped: Vec<String> = c
        .fields()
        .into_iter()
        .filter(|(name, v)| *v > 0 && NOT_INSPECTED.contains(name))
        .map(|(n, v)| format!("{n} {v}"))
        .collect();
    if !skipped.is_empty() {
        let _ = writeln!(s, "not inspected or lost: {}", skipped.join(", "));
    }
    if c.frames_outside_window + c.frames_filtered + c.inputs_not_capture > 0 {
        let _ = writeln!(
            s,
            "replay: frames outside --since/--until {}, filtered out by -f {}, files that are not captures {}",
            c.frames_outside_window, c.frames_filtered, c.inputs_not_capture
        );
    }
    if c.evidence_files + c.evidence_failed > 0 {
        let _ = writeln!(
            s,
            "evidence: files {} (old ones removed {}), sessions without a file {}, packets left out {}",
            c.evidence_files,
            c.evidence_files_removed,
            c.evidence_failed,
            c.evidence_session_cut + c.evidence_buffer_full + c.evidence_fragments_skipped
        );
    }
    if c.alerts_suppressed + c.output_delivered + c.output_spooled + c.output_connect_failures > 0 {
        let _ = writeln!(
            s,
            "outputs: suppressed {}, delivered to syslog {}, spooled {}, replayed from spool {}, failed connects {}",
            c.alerts_suppressed, c.output_delivered, c.output_spooled, c.output_spool_replayed, c.output_connect_failures
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stratum::{Confidence, Variant};
    use crate::time::Ts;

    #[test]
    fn lists_hosts_and_loss_counters() {
        let h = HostEntry {
            ip: "10.0.0.9".parse().unwrap(),
            pools: vec!["198.51.100.2:3333".parse().unwrap()],
            variants: vec![Variant::StratumV1],
            logins: vec!["bad\x1b[2Jlogin".into()],
            agent: None,
            sessions: 2,
            shares_submitted: 5,
            shares_accepted: 4,
            confidence: Confidence::Confirmed,
            first_seen: Ts(0),
            last_seen: Ts(1),
        };
        let c = Counters { packets: 10, truncated: 3, ..Default::default() };
        let out = render(&[h], &c);
        assert!(out.contains("10.0.0.9"));
        assert!(out.contains("198.51.100.2:3333"));
        assert!(out.contains("stratum-v1"));
        assert!(out.contains("4/5"));
        assert!(out.contains("bad?[2Jlogin"), "{out}");
        assert!(!out.contains('\x1b'));
        assert!(out.contains("truncated 3"));
        assert!(render(&[], &Counters::default()).contains("no mining hosts"));
        assert!(!out.contains("outputs:"));
        let c = Counters { output_queue_dropped: 2, alerts_suppressed: 4, ..Default::default() };
        let out = render(&[], &c);
        assert!(out.contains("output_queue_dropped 2"), "{out}");
        assert!(out.contains("outputs: suppressed 4,"), "{out}");
    }
}
