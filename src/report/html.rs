//! The report as one self-contained HTML page (`--report`): inline CSS, inline SVG plots, no
//! script, no font, no image, no link to anything, so that it opens from a file on a laptop
//! with no connection and shows everything without JavaScript. The page's content security
//! policy forbids every fetch and every script besides, so even a string that escaped its
//! escaping could load or run nothing.
//!
//! Every string from the wire (logins, wallets, agents, pool names) goes through [`esc`].

use std::fmt::Write;

use super::{HostReport, Report, SessionBar, CONFIDENCES};
use crate::time::Ts;

/// Text for HTML element content and quoted attribute values. Five characters to replace do not
/// warrant a dependency; `'` is escaped too so that a value is safe in either kind of quote.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters have no business on a page (and some are invalid in HTML).
            c if c.is_control() && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A hash rate with its unit prefix (H/s, kH/s, ... EH/s).
pub fn rate(h: f64) -> String {
    const UNITS: [&str; 7] = ["H/s", "kH/s", "MH/s", "GH/s", "TH/s", "PH/s", "EH/s"];
    let mut v = h;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < UNITS.len() {
        v /= 1000.0;
        i += 1;
    }
    format!("{v:.3} {}", UNITS[i])
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 6px;\
text-align:left;vertical-align:top}th{background:#f3f3f3}td.n{text-align:right}\
.mono{font-family:ui-monospace,monospace}.wrap{word-break:break-all;min-width:24ch;max-width:48ch}.nw{white-space:nowrap}.muted{color:#777}\
svg{display:block}.confirmed{fill:#c0392b}.detected{fill:#e67e22}.suspected{fill:#f1c40f}\
.open{fill-opacity:.45}.line{fill:none;stroke:#2c3e50;stroke-width:1.5}\
.axis{stroke:#999;stroke-width:1}.lbl{font-size:11px;fill:#555}";

/// Hosts drawn with their timeline and hash-rate plot; the others (by fewest sessions, then
/// lowest confidence) keep their row, without the plots, so that a page of a great many hosts
/// still opens in a few seconds. 1,000 hosts with their plots are about 2 MB.
pub const DRAWN_HOSTS: usize = 2_000;

/// Width of a host's timeline and of its hash-rate plot, in pixels.
const TIMELINE_W: f64 = 360.0;
const SPARK_W: f64 = 140.0;
const ROW_H: f64 = 14.0;

/// The page.
pub fn render(r: &Report) -> String {
    let mut s = String::with_capacity(64 * 1024 + r.hosts.len() * 1024);
    let span = match (r.summary.first_seen, r.summary.last_seen) {
        (Some(a), Some(b)) => format!("{} — {}", a.rfc3339(), b.rfc3339()),
        _ => "no packets".to_string(),
    };
    let _ = writeln!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>minewatch report: {sensor}</title><style>{STYLE}</style></head><body>\n\
         <h1>minewatch report</h1>\n<p>Sensor <b id=\"sensor\">{sensor}</b>; capture time {span}.</p>",
        sensor = esc(&r.sensor),
    );
    summary(&mut s, r);
    let (t0, t1) = (r.summary.first_seen.unwrap_or_default(), r.summary.last_seen.unwrap_or_default());
    s.push_str("<h2 id=\"hashrate\">Estimated hash rate over time, all hosts</h2>\n");
    plot(&mut s, &r.hashrate.total, 720.0, 160.0, "hashrate-total", true, t0, t1);
    hosts(&mut s, r, t0, t1);
    pools(&mut s, r);
    wallets(&mut s, r);
    software(&mut s, r);
    lost(&mut s, r);
    s.push_str("</body></html>\n");
    s
}

fn summary(s: &mut String, r: &Report) {
    let m = &r.summary;
    s.push_str("<h2>Summary</h2>\n<table id=\"summary\">");
    let rows: [(&str, String); 10] = [
        ("capture time", format!("{:.1} s", m.duration_seconds)),
        ("packets", m.packets.to_string()),
        ("bytes", m.bytes.to_string()),
        ("flows", m.flows.to_string()),
        ("flows bypassed (not Stratum)", m.flows_bypassed.to_string()),
        ("mining sessions", m.sessions.to_string()),
        ("of which outside the home network (not reported)", m.sessions_external.to_string()),
        ("mining hosts", m.mining_hosts.to_string()),
        ("alerts", m.alerts.to_string()),
        (
            "pools, wallets, miner software",
            format!("{}, {}, {}", r.pools.len(), r.wallets.len(), r.software.len()),
        ),
    ];
    for (k, v) in rows {
        let _ = write!(s, "<tr><th>{k}</th><td class=\"n\">{v}</td></tr>");
    }
    s.push_str("</table>\n<table id=\"alerts\"><tr><th>alerts by confidence</th><th></th></tr>");
    for c in CONFIDENCES {
        let n = m.alerts_by_confidence.get(c.as_str()).copied().unwrap_or(0);
        let _ = write!(s, "<tr><td>{}</td><td class=\"n\">{n}</td></tr>", c.as_str());
    }
    s.push_str("<tr><th>alerts by clue</th><th></th></tr>");
    for (clue, n) in &m.alerts_by_clue {
        let _ = write!(s, "<tr><td>{}</td><td class=\"n\">{n}</td></tr>", esc(clue));
    }
    s.push_str("</table>\n");
}

/// A step plot of `values` (equal buckets from `t0` to `t1`), with its peak and the two ends of
/// the time axis labelled when `axes`.
#[allow(clippy::too_many_arguments)]
fn plot(s: &mut String, values: &[f64], w: f64, h: f64, id: &str, axes: bool, t0: Ts, t1: Ts) {
    let peak = values.iter().copied().filter(|v| v.is_finite()).fold(0.0f64, f64::max);
    let (pad_l, pad_b, pad_t) = if axes { (4.0, 16.0, 14.0) } else { (0.0, 0.0, 1.0) };
    let (pw, ph) = (w - pad_l, h - pad_b - pad_t);
    let n = values.len().max(1) as f64;
    let y = |v: f64| {
        let v = if v.is_finite() { v } else { 0.0 };
        pad_t + ph - if peak > 0.0 { v / peak * ph } else { 0.0 }
    };
    // A step line with a corner only where the value changes: a host that mined at one rate
    // all along is two points, not a hundred and twenty, which keeps a page of many hosts small.
    let mut pts = String::new();
    let mut i = 0;
    while i < values.len() {
        let mut j = i + 1;
        while j < values.len() && values[j] == values[i] {
            j += 1;
        }
        let (x0, x1) = (pad_l + i as f64 / n * pw, pad_l + j as f64 / n * pw);
        let _ = write!(pts, "{x0:.1},{y:.1} {x1:.1},{y:.1} ", y = y(values[i]));
        i = j;
    }
    let _ = write!(
        s,
        "<svg id=\"{id}\" class=\"plot\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\">\
         <title>estimated hash rate, peak {}</title>",
        rate(peak)
    );
    if axes {
        let base = pad_t + ph;
        let _ = write!(
            s,
            "<line class=\"axis\" x1=\"{pad_l}\" y1=\"{base}\" x2=\"{w}\" y2=\"{base}\"/>\
             <text class=\"lbl\" x=\"{pad_l}\" y=\"11\">peak {}</text>\
             <text class=\"lbl\" x=\"{pad_l}\" y=\"{ty}\">{}</text>\
             <text class=\"lbl\" x=\"{w}\" y=\"{ty}\" text-anchor=\"end\">{}</text>",
            rate(peak),
            t0.rfc3339(),
            t1.rfc3339(),
            ty = h - 3.0,
        );
    }
    let _ = writeln!(s, "<polyline class=\"line\" points=\"{}\"/></svg>", pts.trim_end());
}

/// A host's sessions as bars over the capture's time.
fn timeline(s: &mut String, h: &HostReport, t0: Ts, t1: Ts) {
    let span = t1.0.saturating_sub(t0.0).max(1) as f64;
    let _ = write!(
        s,
        "<svg class=\"timeline\" width=\"{TIMELINE_W}\" height=\"{ROW_H}\" viewBox=\"0 0 {TIMELINE_W} {ROW_H}\" role=\"img\">\
         <rect x=\"0\" y=\"0\" width=\"{TIMELINE_W}\" height=\"{ROW_H}\" fill=\"#f6f6f6\"/>"
    );
    // Sessions whose bars would touch on the page (same confidence, still running or not) are
    // drawn as one, so that a host with thousands of short sessions is a few hundred rectangles
    // at most, whatever `--report-max-sessions` allows.
    let mut bars: Vec<&SessionBar> = h.timeline.iter().collect();
    bars.sort_by_key(|b| b.start);
    let px = |t: Ts| t.0.saturating_sub(t0.0).max(0) as f64 / span * TIMELINE_W;
    let mut i = 0;
    while i < bars.len() {
        let first = bars[i];
        let mut end = first.end;
        let mut j = i + 1;
        while j < bars.len()
            && bars[j].confidence == first.confidence
            && bars[j].open == first.open
            && px(bars[j].start) <= px(end).max(px(first.start) + 1.5) + 1.0
        {
            end = end.max(bars[j].end);
            j += 1;
        }
        if j == i + 1 {
            bar(s, first, t0, span);
        } else {
            let merged = SessionBar { end, hashrate: None, ..first.clone() };
            bar_titled(s, &merged, t0, span, &format!("{} sessions, {}", j - i, first.confidence));
        }
        i = j;
    }
    s.push_str("</svg>");
}

fn bar(s: &mut String, b: &SessionBar, t0: Ts, span: f64) {
    let title = format!(
        "{}, {}{}",
        b.pool,
        b.confidence,
        b.hashrate.map(|r| format!(", {}", rate(r))).unwrap_or_default()
    );
    bar_titled(s, b, t0, span, &title)
}

/// A bar with its tooltip: `what`, then the times.
fn bar_titled(s: &mut String, b: &SessionBar, t0: Ts, span: f64, what: &str) {
    let x = (b.start.0.saturating_sub(t0.0).max(0) as f64 / span * TIMELINE_W).min(TIMELINE_W - 1.0);
    let w = (b.end.0.saturating_sub(b.start.0).max(0) as f64 / span * TIMELINE_W)
        .max(1.5)
        .min((TIMELINE_W - x).max(1.0));
    let _ = write!(
        s,
        "<rect class=\"session {c}{open}\" x=\"{x:.1}\" y=\"2\" width=\"{w:.1}\" height=\"{hh}\">\
         <title>{what}, {a} to {e}</title></rect>",
        c = b.confidence,
        open = if b.open { " open" } else { "" },
        hh = ROW_H - 4.0,
        what = esc(what),
        a = b.start.rfc3339(),
        e = if b.open { "still running".to_string() } else { b.end.rfc3339() },
    );
}

fn list(items: &[String], max_chars: usize) -> String {
    if items.is_empty() {
        return "<span class=\"muted\">–</span>".to_string();
    }
    items
        .iter()
        .map(|i| {
            let cut: String = i.chars().take(max_chars).collect();
            let more = if cut.len() < i.len() { "…" } else { "" };
            format!("{}{more}", esc(&cut))
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

fn hosts(s: &mut String, r: &Report, t0: Ts, t1: Ts) {
    let _ = writeln!(
        s,
        "<h2 id=\"hosts\">Mining hosts ({})</h2>\n<p class=\"muted\">Each bar is a session over the \
         capture time ({} to {}); red confirmed, orange detected, yellow suspected, pale still running. \
         Hover a bar for its pool and times.</p>\n<table id=\"host-table\"><tr><th>host</th><th>confidence</th>\
         <th>sessions</th><th>shares ok/sub</th><th>pools</th><th>logins / wallets</th><th>software</th>\
         <th>sessions over time</th><th>hash rate</th></tr>",
        r.hosts.len(),
        t0.rfc3339(),
        t1.rfc3339()
    );
    let drawn: std::collections::HashSet<std::net::IpAddr> = if r.hosts.len() > DRAWN_HOSTS {
        let mut rank: Vec<&HostReport> = r.hosts.iter().collect();
        rank.sort_by_key(|h| (std::cmp::Reverse(h.sessions), std::cmp::Reverse(h.confidence_rank()), h.ip));
        rank.iter().take(DRAWN_HOSTS).map(|h| h.ip).collect()
    } else {
        r.hosts.iter().map(|h| h.ip).collect()
    };
    if r.hosts.len() > DRAWN_HOSTS {
        let _ = writeln!(
            s,
            "<p id=\"not-drawn\" class=\"muted\">The {DRAWN_HOSTS} hosts with the most sessions are drawn; the \
             other {} have their row without plots (the JSON report has every timeline).</p>",
            r.hosts.len() - DRAWN_HOSTS
        );
    }
    for h in &r.hosts {
        let ip = h.ip.to_string();
        let pools: Vec<String> = h.pools.iter().map(|p| p.to_string()).collect();
        let mut who = h.logins.clone();
        for w in &h.wallets {
            if !h.logins.iter().any(|l| l.contains(w.as_str())) {
                who.push(w.clone());
            }
        }
        let _ = write!(
            s,
            "<tr class=\"host\" id=\"host-{id}\"><td class=\"mono nw ip\">{ip}</td><td>{c}</td><td class=\"n\">{n}</td>\
             <td class=\"n\">{ok}/{sub}</td><td class=\"mono nw\">{pools}</td><td class=\"mono wrap\">{who}</td>\
             <td>{agent}</td><td>",
            id = esc(&ip.replace(':', "-")),
            ip = esc(&ip),
            c = h.confidence,
            n = h.sessions,
            ok = h.shares_accepted,
            sub = h.shares_submitted,
            pools = list(&pools, 60),
            who = list(&who, 120),
            agent = list(h.agent.as_slice(), 80),
        );
        if !drawn.contains(&h.ip) {
            s.push_str("<span class=\"muted\">not drawn</span></td><td></td></tr>\n");
            continue;
        }
        timeline(s, h, t0, t1);
        if h.sessions_not_drawn > 0 {
            let _ =
                write!(s, "<span class=\"muted\">{} more sessions not drawn</span>", h.sessions_not_drawn);
        }
        s.push_str("</td><td>");
        match h.hashrate_peak {
            Some(p) if p > 0.0 => {
                plot(
                    s,
                    &h.hashrate,
                    SPARK_W,
                    ROW_H + 4.0,
                    &format!("hashrate-{}", esc(&ip.replace(':', "-"))),
                    false,
                    t0,
                    t1,
                );
                let top = h.timeline.iter().filter_map(|b| b.hashrate).fold(0.0f64, f64::max);
                let _ = write!(
                    s,
                    "<span class=\"muted\" title=\"highest mean over one point of the plot; \
                     the fastest session's own rate\">{} · session {}</span>",
                    rate(p),
                    rate(top)
                );
            }
            _ => s.push_str("<span class=\"muted\">–</span>"),
        }
        s.push_str("</td></tr>\n");
    }
    s.push_str("</table>\n");
    if r.hosts_table_full > 0 || r.left_out.host_records > 0 {
        let _ = writeln!(
            s,
            "<p class=\"muted\">Left out: {} records of hosts past the host table's bound, {} past the report's.</p>",
            r.hosts_table_full, r.left_out.host_records
        );
    }
}

fn pools(s: &mut String, r: &Report) {
    let _ = writeln!(
        s,
        "<h2 id=\"pools\">Pools ({})</h2>\n<table id=\"pool-table\"><tr><th>address</th><th>names</th>\
         <th>clue</th><th>sessions</th><th>hosts</th><th>first seen</th><th>last seen</th></tr>",
        r.pools.len()
    );
    for p in &r.pools {
        let clues: Vec<String> = p.clues.iter().map(|c| c.to_string()).collect();
        let clue = if clues.is_empty() { super::CLUE_PROTOCOL.to_string() } else { clues.join(", ") };
        let _ = writeln!(
            s,
            "<tr class=\"pool\"><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"nw\">{}</td><td class=\"nw\">{}</td></tr>",
            esc(&std::net::SocketAddr::new(p.address, p.port).to_string()),
            list(&p.names, 120),
            esc(&clue),
            p.sessions,
            p.hosts,
            p.first_seen.rfc3339(),
            p.last_seen.rfc3339()
        );
    }
    s.push_str("</table>\n");
}

fn wallets(s: &mut String, r: &Report) {
    let _ = writeln!(
        s,
        "<h2 id=\"wallets\">Wallets ({})</h2>\n<table id=\"wallet-table\"><tr><th>wallet</th><th>coin</th>\
         <th>watchlist</th><th>sessions</th><th>first seen</th><th>last seen</th></tr>",
        r.wallets.len()
    );
    for w in &r.wallets {
        let _ = writeln!(
            s,
            "<tr class=\"wallet\"><td class=\"mono wrap\">{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"nw\">{}</td><td class=\"nw\">{}</td></tr>",
            esc(&w.wallet),
            w.coin.unwrap_or("–"),
            w.watchlist_label.as_deref().map_or_else(|| "–".to_string(), |l| format!("<b>{}</b>", esc(if l.is_empty() { "listed" } else { l }))),
            w.sessions,
            w.first_seen.rfc3339(),
            w.last_seen.rfc3339()
        );
    }
    s.push_str("</table>\n");
}

fn software(s: &mut String, r: &Report) {
    let _ = writeln!(
        s,
        "<h2 id=\"software\">Miner software ({})</h2>\n<table id=\"software-table\"><tr><th>name</th>\
         <th>version</th><th>kind</th><th>sessions</th></tr>",
        r.software.len()
    );
    for a in &r.software {
        let _ = writeln!(
            s,
            "<tr class=\"software\"><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            esc(&a.name),
            esc(a.version.as_deref().unwrap_or("–")),
            a.kind.unwrap_or("–"),
            a.sessions
        );
    }
    s.push_str("</table>\n");
}

fn lost(s: &mut String, r: &Report) {
    s.push_str("<h2 id=\"lost\">Not inspected or lost</h2>\n");
    if r.not_inspected.is_empty() && r.kernel.iter().all(|k| k.dropped + k.if_dropped == 0) {
        s.push_str("<p id=\"nothing-lost\">Every counter of what was not inspected or lost is zero.</p>\n");
    }
    if !r.not_inspected.is_empty() {
        s.push_str("<table id=\"lost-table\"><tr><th>counter</th><th>value</th><th>meaning</th></tr>\n");
        for c in &r.not_inspected {
            let _ = writeln!(
                s,
                "<tr><td class=\"mono\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                c.name,
                c.value,
                esc(c.help)
            );
        }
        s.push_str("</table>\n");
    }
    if !r.kernel.is_empty() {
        s.push_str("<table id=\"kernel-table\"><tr><th>interface</th><th>received</th><th>dropped by kernel</th><th>dropped by interface</th></tr>\n");
        for k in &r.kernel {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&k.interface),
                k.received,
                k.dropped,
                k.if_dropped
            );
        }
        s.push_str("</table>\n");
    }
    let l = &r.left_out;
    if l.sessions + l.pool_records + l.wallet_records + l.software_records + l.host_records > 0 {
        let _ = writeln!(
            s,
            "<p id=\"left-out\">Left out of this report by its bounds: {} host records, {} sessions, \
             {} pool records, {} wallet records, {} software records.</p>",
            l.host_records, l.sessions, l.pool_records, l.wallet_records, l.software_records
        );
    }
}
