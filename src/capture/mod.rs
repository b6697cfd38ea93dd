//! Packet sources: offline files (pcap and pcapng, through libpcap, `-` for standard input) and
//! live interfaces ([`live`]). Both yield the same [`Frame`]s. Knows nothing of flows.

pub mod live;

use crate::decode::LinkType;
use crate::time::Ts;

/// One captured frame, borrowed from libpcap's buffer until the next read.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub ts: Ts,
    pub data: &'a [u8],
    /// The frame's length on the wire; more than `data.len()` when the snap length cut it.
    pub wire_len: u32,
}

/// A capture file being read.
pub struct OfflineSource {
    cap: pcap::Capture<pcap::Offline>,
    dlt: i32,
    link: Option<LinkType>,
}

/// libpcap prefixes some messages with the path; the caller prints the path itself.
fn clean_message(path: &str, err: &pcap::Error) -> String {
    let msg = err.to_string();
    let msg = msg.strip_prefix("libpcap error: ").unwrap_or(&msg).to_string();
    let msg = msg.strip_prefix(path).map(|m| m.trim_start_matches(':').trim().to_string()).unwrap_or(msg);
    msg.replace(['\n', '\r'], " ")
}

/// An I/O error's reason without Rust's "(os error N)" suffix.
fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s.get(..i).unwrap_or(&s).to_string(),
        None => s,
    }
}

impl OfflineSource {
    /// Opens a pcap or pcapng file; `-` reads standard input. The error is a one-line reason.
    pub fn open(path: &str) -> Result<OfflineSource, String> {
        if path != "-" {
            match std::fs::metadata(path) {
                Err(e) => return Err(io_reason(&e)),
                Ok(m) if m.is_dir() => return Err("is a directory, not a capture file".to_string()),
                Ok(_) => {}
            }
        }
        let cap = pcap::Capture::from_file(path).map_err(|e| clean_message(path, &e))?;
        let dlt = cap.get_datalink().0;
        Ok(OfflineSource { cap, dlt, link: LinkType::from_dlt(dlt) })
    }

    /// The file's link type number, as libpcap reports it.
    pub fn dlt(&self) -> i32 {
        self.dlt
    }

    /// The link type, if we can decode it.
    pub fn link(&self) -> Option<LinkType> {
        self.link
    }

    /// The next frame; `Ok(None)` at the end of the file, `Err` (a one-line reason) when the
    /// file is corrupt or truncated: everything before that point has been delivered.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, String> {
        match self.cap.next_packet() {
            Ok(p) => Ok(Some(Frame {
                ts: Ts::from_timeval(p.header.ts.tv_sec, p.header.ts.tv_usec),
                data: p.data,
                wire_len: p.header.len,
            })),
            Err(pcap::Error::NoMorePackets) => Ok(None),
            Err(e) => Err(clean_message("", &e)),
        }
    }
}
