//! Counters. Every bound in minewatch has one here, and so does every kind of input we skip:
//! an operator reads these to know what the sensor did not see.
//!
//! Each worker owns a plain `Counters` (no atomics on the hot path); they are summed when a
//! worker reports.

use serde::Serialize;

macro_rules! counters {
    // At least one doc line per counter, so a counter without its help text does not compile.
    ($($(#[doc = $doc:literal])+ $name:ident),* $(,)?) => {
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
        pub struct Counters {
            $($(#[doc = $doc])+ pub $name: u64,)*
        }

        impl Counters {
            /// Adds `other` into `self`, field by field.
            pub fn add(&mut self, other: &Counters) {
                $(self.$name = self.$name.saturating_add(other.$name);)*
            }

            /// Every counter with its name, for the summary and the stats record.
            pub fn fields(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($name), self.$name),)*]
            }

            /// Every counter with its name and help text (its doc comment, lines joined), for the
            /// metrics endpoint's `# HELP` lines: the doc comment is the one place it is written.
            pub fn described(&self) -> Vec<(&'static str, &'static str, u64)> {
                vec![$((stringify!($name), concat!($($doc),+), self.$name),)*]
            }
        }
    };
}

/// Counters the kernel keeps for a capture (libpcap's `pcap_stats`), summed over its life
/// (libpcap's own are 32 bits and wrap). Kept here with the other counters, so that the
/// outputs and the metrics endpoint that print them need not know the capture layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    pub received: u64,
    /// Dropped because the capture buffer was full: we did not read fast enough.
    pub dropped: u64,
    /// Dropped by the interface or its driver.
    pub if_dropped: u64,
}

counters! {
    /// Frames read from the capture.
    packets,
    /// Bytes of frames read (captured length).
    bytes,
    /// Frames cut short by the snap length or the file, anywhere past the link header (IP or
    /// extension headers, TCP header, payload, a fragment): skipped.
    truncated,
    /// Frames whose headers contradict themselves (a length field too small, a bad version or
    /// header length): skipped.
    malformed,
    /// Frames that are neither TCP nor UDP over IP (ARP, ICMP, ...).
    not_tcp_udp,
    /// IP fragments (not yet reassembled): skipped.
    fragments,
    /// Frames of a link type we do not decode.
    unsupported_link,
    /// UDP datagrams read (DNS answers are looked at; the rest is skipped).
    udp_packets,
    /// TCP segments read.
    tcp_packets,
    /// TCP packets of no known flow that carried nothing to start one (RST, bare ACK or FIN).
    tcp_no_flow,
    /// Flows entered in the flow table.
    flows,
    /// Flows found not to be Stratum and no longer inspected.
    flows_bypassed,
    /// SYNs that opened a new connection on the addresses and ports of a bypassed flow: the
    /// new one is inspected afresh.
    tcp_port_reuse,
    /// Bypassed flows with many frames that the kernel was told to drop (live capture,
    /// `--shunt`): their frames after that are neither read nor counted as received, save
    /// SYN, FIN and RST.
    flows_shunted,
    /// Such flows left to be read because the shunt list was full.
    shunt_full,
    /// Times the kernel filter could not be rebuilt with the shunt list: shunting stops.
    shunt_failed,
    /// Flows evicted to make room for a new one (the flow table was full).
    flows_evicted,
    /// Flows evicted because the flow table's memory estimate passed its cap.
    flows_evicted_memcap,
    /// Mining sessions among the evicted flows (their `mining_session` records say `evicted`).
    sessions_evicted,
    /// Flows ended by the idle timeout.
    flows_timed_out,
    /// Times packet time went back by more than a minute and the idle sweeps started again
    /// from there (captures joined end to end, a clock stepped back).
    clock_restarts,
    /// Flows that reached the inspection budget without showing Stratum.
    flows_budget_exhausted,
    /// Mining sessions recognised (internal clients or not).
    sessions,
    /// Mining sessions whose client is outside home-net: not reported.
    sessions_external,
    /// `mining` alerts raised (before `--suppress`, which counts what it holds back).
    alerts,
    /// `mining_session` records written.
    session_records,
    /// Lines handed to the Stratum recogniser.
    lines,
    /// Lines dropped for exceeding the line-length bound.
    lines_overlong,
    /// Holes in a TCP stream (lost segments, or given up on to stay in bounds).
    reasm_gaps,
    /// Bytes missing in those holes.
    reasm_gap_bytes,
    /// Bytes received again (retransmissions, or matching bytes already held): ignored.
    reasm_retransmitted_bytes,
    /// Segments whose overlap with held bytes differed from them (first wins; counted once each).
    reasm_overlap_conflicts,
    /// Out-of-order bytes dropped because the per-direction buffer was full.
    reasm_ooo_dropped_bytes,
    /// Frames a live reader dropped because a worker's queue was full (workers fell behind).
    dispatch_dropped,
    /// IP fragments held for reassembly.
    frag_fragments,
    /// IP datagrams put back together from fragments.
    frag_reassembled,
    /// Fragments dropped: over the per-datagram or table bounds, timed out, or malformed.
    frag_dropped,
    /// Fragments whose bytes disagreed with an earlier fragment's (first wins).
    frag_overlap_conflicts,
    /// Events dropped because the output queue was full.
    events_dropped,
    /// Hosts not added because the host table was full.
    hosts_table_full,
    /// DNS responses read (UDP from port 53), for pool-domain answers.
    dns_answers,
    /// DNS responses from port 53 that did not parse.
    dns_malformed,
    /// Addresses remembered from DNS answers for pool domains.
    dns_pool_addrs,
    /// Pool-domain addresses not remembered because the DNS map was full of live entries.
    dns_map_full,
    /// TLS ClientHellos read at the start of a client's stream.
    tls_hellos,
    /// TLS streams whose ClientHello could not be read (malformed, another record before it
    /// was whole, or longer than 16 KiB): bypassed.
    tls_unparsed,
    /// ClientHellos fragmented over several TLS records, joined and read.
    tls_hello_joined,
    /// Of the unparsed, ClientHellos whose handshake message claimed more than 16 KiB (the
    /// most a hello is joined from its records): bypassed.
    tls_hello_overlong,
    /// TLS sessions to a pool, by their SNI or by an earlier DNS answer for a pool domain.
    tls_pool,
    /// TLS flows whose ClientHello named no server and whose server no DNS answer read so far
    /// named: they wait, a few seconds at most, for an answer another worker may read late.
    tls_name_waits,
    /// Of those, flows a DNS answer read after their ClientHello named: reported (clue `dns`).
    tls_name_late,
    /// Of those, flows no answer named within the wait: bypassed.
    tls_name_unanswered,
    /// TLS flows with no name bypassed at once because too many already waited.
    tls_name_wait_full,
    /// TLS sessions to a pool domain not reported because the client offered only HTTP in ALPN
    /// (a browser on the pool's web site).
    tls_pool_web,
    /// ClientHellos that carried Encrypted Client Hello (or ESNI), whatever became of them: a
    /// real ECH cannot be told from Chrome's GREASE ECH, which it sends on most hellos.
    tls_ech_hellos,
    /// Of the waits, TLS flows whose ClientHello hid its server's name (Encrypted Client Hello,
    /// or ESNI) behind an outer SNI that is not a pool domain: judged as hellos with no name
    /// (wait for a DNS answer, behaviour watched) rather than bypassed by the outer name.
    tls_ech_watched,
    /// TLS flows with no name whose behaviour was watched (record headers only).
    behaviour_watched,
    /// Of them, flows whose hello named a server that is no pool, watched because of
    /// `--behaviour-named`.
    behaviour_watched_named,
    /// TLS record headers read by the behaviour watch.
    behaviour_records,
    /// Watched flows whose bytes were not TLS records: bypassed.
    behaviour_not_tls,
    /// Watched flows bypassed for a big record or a bulk byte rate (not Stratum's shape).
    behaviour_bulk,
    /// Watched flows bypassed undecided when their watch time ran out.
    behaviour_expired,
    /// Watched flows that behaved as mining: reported (clue `behaviour`, suspected).
    behaviour_suspects,
    /// Of those, flows whose pushes lined up with pushes of known mining sessions.
    behaviour_aligned,
    /// Pushes of known mining sessions written into the shared push clock.
    behaviour_clock_pushes,
    /// Pushes written over the oldest in the push clock (its bound reached).
    behaviour_clock_overwritten,
    /// HTTP requests read in flows that opened with `POST`.
    http_requests,
    /// HTTP messages that did not parse or broke a bound (header size, body size): the flow was
    /// bypassed.
    http_errors,
    /// Connections whose opening matched the Stratum V2 Noise handshake shape.
    sv2_handshakes,
    /// Connections that opened with a plain (unencrypted) Stratum V2 SetupConnection frame.
    sv2_plain,
    /// Plain Stratum V2 messages whose fields did not fit their frame (skipped).
    sv2_malformed,
    /// Tunnels whose client handshake was read (SOCKS4/4a/5 CONNECT, HTTP CONNECT, WebSocket
    /// upgrade, PROXY header): their inner stream is inspected as a connection.
    tunnels,
    /// Tunnel handshakes that did not parse, broke their bound or were refused by the server
    /// (SOCKS failure reply, HTTP status other than 2xx/101): bypassed.
    tunnel_failed,
    /// Tunnels inside more tunnels than are inspected (2): bypassed.
    tunnel_too_deep,
    /// Tunnels whose target named a known pool domain (clue `tunnel`).
    tunnel_pool_target,
    /// WebSocket messages longer than the line bound (`--max-line`): skipped.
    tunnel_ws_overlong,
    /// WebSocket streams whose framing broke (a reserved bit or opcode, an unmasked client
    /// frame, a gap): not read further.
    tunnel_ws_broken,
    /// `mining` alerts held back by `--suppress` (same miner and pool within the window).
    alerts_suppressed,
    /// `mining` alerts passed unsuppressed because the suppression table was full.
    suppress_table_full,
    /// Records delivered to network (syslog) outputs, sent from the spool or not.
    output_delivered,
    /// Records a network output dropped: its queue was full, or it still held them at exit
    /// (without a spool).
    output_queue_dropped,
    /// Records written to the spool because the receiver was away.
    output_spooled,
    /// Spooled records delivered (also counted in `output_delivered`).
    output_spool_replayed,
    /// Records dropped because the spool was full (`--spool-max-mb`) or failed.
    output_spool_dropped,
    /// Failed connection attempts to TCP receivers.
    output_connect_failures,
    /// UDP datagrams that could not be sent: dropped.
    output_send_errors,
    /// Records too large for one UDP datagram: dropped.
    output_oversize,
    /// Reloads of the lists (SIGHUP) refused because a file could not be read or had a bad
    /// line: the old lists stayed in force.
    reload_failed,
    /// Replay: inputs that could not be read (a file or directory that would not open, a
    /// capture damaged or cut short): one line each on stderr, the others still replayed.
    inputs_failed,
    /// Replay: files found in a directory given to `-r` that are not captures (no pcap or
    /// pcapng magic number): skipped.
    inputs_not_capture,
    /// Replay: frames outside the `--since`/`--until` window: skipped before decoding.
    frames_outside_window,
    /// Replay: frames the `-f` filter rejected: skipped before decoding.
    frames_filtered,
    /// Evidence (`--pcap-dir`): packets of inspected flows not kept for their evidence
    /// because the flow's first-packets buffer was full (`--pcap-first-packets`,
    /// `--pcap-first-bytes`).
    evidence_first_dropped,
    /// Evidence: packets not kept because the worker's first-packets buffers together were
    /// full (`--pcap-buffer-mb`).
    evidence_buffer_full,
    /// Evidence: evidence files written (one per alerted session).
    evidence_files,
    /// Evidence: packets of alerted sessions not written because the session's file reached
    /// `--pcap-session-packets` or `--pcap-session-mb`.
    evidence_session_cut,
    /// Evidence: alerted sessions left without a file: too many files open at once
    /// (`--pcap-max-open`), or the file could not be created or written.
    evidence_failed,
    /// Evidence: old evidence files removed to keep the directory under `--pcap-dir-mb`.
    evidence_files_removed,
    /// Evidence: TCP packets put back together from IP fragments whose fragments were not kept
    /// (the buffer was full, or the session's file was not open when they came): not written,
    /// an evidence file holds frames as captured.
    evidence_fragments_skipped,
}

/// The counters that say what the sensor did not inspect or lost (frames skipped, streams with
/// holes, tables and queues that overflowed, records not delivered): the summary on exit and the
/// report (`--report`) list those above zero, so they are named here once.
pub const NOT_INSPECTED: &[&str] = &[
    "truncated",
    "malformed",
    "reasm_overlap_conflicts",
    "frag_overlap_conflicts",
    "unsupported_link",
    "flows_evicted",
    "flows_evicted_memcap",
    "sessions_evicted",
    "frag_dropped",
    "lines_overlong",
    "reasm_gaps",
    "reasm_ooo_dropped_bytes",
    "dispatch_dropped",
    "flows_shunted",
    "shunt_full",
    "shunt_failed",
    "dns_map_full",
    "tls_unparsed",
    "tls_name_wait_full",
    "http_errors",
    "events_dropped",
    "hosts_table_full",
    "suppress_table_full",
    "output_queue_dropped",
    "output_spool_dropped",
    "output_send_errors",
    "output_oversize",
];

/// What a reporter holds at the moment it reports: gauges, replaced (not added) by each report
/// and summed over the reporters by the collector for the metrics endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Load {
    /// Flows in the worker's flow table.
    pub flows: u64,
    /// The flow table's memory estimate, in bytes.
    pub flow_memory: u64,
    /// The flow table's memory cap, in bytes.
    pub flow_memcap: u64,
    /// Messages waiting in the workers' queues (a live reader that hands frames to workers).
    pub worker_queue: u64,
}

impl Load {
    /// Adds `other` into `self`, field by field.
    pub fn add(&mut self, other: &Load) {
        self.flows = self.flows.saturating_add(other.flows);
        self.flow_memory = self.flow_memory.saturating_add(other.flow_memory);
        self.flow_memcap = self.flow_memcap.saturating_add(other.flow_memcap);
        self.worker_queue = self.worker_queue.saturating_add(other.worker_queue);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_has_one_line_of_help() {
        let c = Counters { packets: 7, ..Counters::default() };
        let described = c.described();
        assert_eq!(described.len(), c.fields().len());
        for ((name, help, value), (n, v)) in described.iter().zip(c.fields()) {
            assert_eq!((*name, *value), (n, v));
            assert!(help.trim().len() > 10, "{name}: {help:?}");
            assert!(!help.contains('\n'), "{name}: {help:?}");
        }
        assert_eq!(described[0], ("packets", " Frames read from the capture.", 7));
    }
}
