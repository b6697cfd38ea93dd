//! RFC 5424 syslog messages around a formatted record, and RFC 6587 octet-counting for TCP.
//!
//! `<PRI>1 TIMESTAMP HOSTNAME minewatch PROCID MSGID - MSG`: facility local0; severity warning
//! for `mining`, notice for `mining_session`, informational for `stats`; TIMESTAMP is the
//! record's packet time (microseconds, UTC); HOSTNAME the sensor name reduced to the printable
//! US-ASCII the RFC allows (anything else becomes `_`, at most 255 characters); MSGID the record
//! type; no structured data (`-`); MSG the record as the chosen format wrote it. Every format
//! writes one line with no control characters, so MSG never needs framing of its own; over TCP
//! each message is still prefixed with its length (`LEN SP MSG`), which receivers such as rsyslog,
//! syslog-ng and Splunk read without depending on newlines.

use std::io::Write as _;

use crate::time::Ts;

/// local0: the facility conventionally left to local applications.
pub const FACILITY: u8 = 16;

/// Syslog severities used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Warning = 4,
    Notice = 5,
    Info = 6,
}

/// The HOSTNAME field: 1-255 characters of PRINTUSASCII (33-126); `-` when empty.
pub fn hostname_field(name: &str) -> String {
    let s: String = name.chars().take(255).map(|c| if c.is_ascii_graphic() { c } else { '_' }).collect();
    if s.is_empty() {
        "-".to_string()
    } else {
        s
    }
}

/// The fixed part of every message of one sensor: its HOSTNAME field and process id.
#[derive(Clone, Debug)]
pub struct Header {
    pub hostname: String,
    pub procid: u32,
}

impl Header {
    pub fn new(sensor: &str) -> Header {
        Header { hostname: hostname_field(sensor), procid: std::process::id() }
    }

    /// Appends `<PRI>1 TIMESTAMP HOSTNAME minewatch PROCID MSGID - ` and then `msg`. `msgid` is
    /// one of our record type names (ASCII, at most 32 characters).
    pub fn message(&self, severity: Severity, ts: Ts, msgid: &str, msg: &[u8], out: &mut Vec<u8>) {
        let pri = u16::from(FACILITY) * 8 + severity as u16;
        let _ =
            write!(out, "<{pri}>1 {} {} minewatch {} {msgid} - ", ts.rfc3339(), self.hostname, self.procid);
        out.extend_from_slice(msg);
    }
}

/// Appends the RFC 6587 octet-counting frame of `msg`: its length in decimal, a space, `msg`.
pub fn octet_counted(msg: &[u8], out: &mut Vec<u8>) {
    let _ = write!(out, "{} ", msg.len());
    out.extend_from_slice(msg);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5424_header_and_octet_count() {
        let h = Header { hostname: hostname_field("edge 1\u{e9}"), procid: 42 };
        let mut m = Vec::new();
        h.message(Severity::Warning, Ts::from_timeval(1_700_000_000, 5), "mining", b"{\"a\":1}", &mut m);
        assert_eq!(
            String::from_utf8(m.clone()).unwrap(),
            "<132>1 2023-11-14T22:13:20.000005Z edge_1_ minewatch 42 mining - {\"a\":1}"
        );
        let mut f = Vec::new();
        octet_counted(&m, &mut f);
        assert!(f.starts_with(format!("{} <132>", m.len()).as_bytes()));
        assert_eq!(hostname_field(""), "-");
        assert_eq!(hostname_field(&"x".repeat(300)).len(), 255);
    }
}
