//! Live capture from a network interface through libpcap, for a SPAN or mirror port.
//!
//! The capture runs in non-blocking mode and waits with `poll` for at most the read timeout,
//! so that a quiet link still returns control regularly: the reader then flushes partial
//! batches, lets idle flows time out, and notices a stop request. (libpcap's own read timeout
//! does not promise to return when no packet arrives at all, so it is not relied on.)

use super::Frame;
use crate::decode::LinkType;
use crate::time::Ts;

/// Capture settings for one interface.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    pub iface: String,
    /// BPF filter; empty for none.
    pub filter: String,
    pub snaplen: i32,
    /// Kernel buffer, in MiB.
    pub buffer_mb: u32,
    pub promisc: bool,
    /// Read timeout, in milliseconds.
    pub timeout_ms: i32,
}

/// Counters the kernel keeps for a capture (libpcap's `pcap_stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    pub received: u64,
    /// Dropped because the capture buffer was full: we did not read fast enough.
    pub dropped: u64,
    /// Dropped by the interface or its driver.
    pub if_dropped: u64,
}

/// What one read gave.
pub enum Read<'a> {
    Frame(Frame<'a>),
    /// The read timeout passed with nothing to read.
    Idle,
}

pub struct LiveSource {
    cap: pcap::Capture<pcap::Active>,
    /// The last read found the buffer empty: wait for the descriptor before reading again.
    drained: bool,
    timeout_ms: u16,
    link: Option<LinkType>,
    dlt: i32,
    name: String,
}

impl LiveSource {
    /// Opens and activates the interface. Needs CAP_NET_RAW (root, or `setcap`); call before
    /// privileges are dropped.
    pub fn open(o: &LiveOptions) -> Result<LiveSource, String> {
        let inactive = pcap::Capture::from_device(o.iface.as_str()).map_err(|e| e.to_string())?;
        let mut cap = inactive
            .promisc(o.promisc)
            .snaplen(o.snaplen)
            .buffer_size(i32::try_from(u64::from(o.buffer_mb) << 20).unwrap_or(i32::MAX))
            .timeout(o.timeout_ms)
            .open()
            .and_then(|c| c.setnonblock())
            .map_err(|e| e.to_string())?;
        if !o.filter.is_empty() {
            cap.filter(&o.filter, true).map_err(|e| format!("filter {:?}: {e}", o.filter))?;
        }
        let dlt = cap.get_datalink().0;
        Ok(LiveSource {
            cap,
            drained: false,
            timeout_ms: u16::try_from(o.timeout_ms.max(1)).unwrap_or(u16::MAX),
            link: LinkType::from_dlt(dlt),
            dlt,
            name: o.iface.clone(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn dlt(&self) -> i32 {
        self.dlt
    }

    pub fn link(&self) -> Option<LinkType> {
        self.link
    }

    /// The next frame, or `Idle` when the read timeout passed; `Err` when the interface failed.
    pub fn read(&mut self) -> Result<Read<'_>, String> {
        if self.drained {
            use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
            use std::os::fd::AsFd;
            let mut fds = [PollFd::new(self.cap.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(self.timeout_ms)) {
                Ok(0) => return Ok(Read::Idle),
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(format!("poll: {e}")),
            }
            self.drained = false;
        }
        match self.cap.next_packet() {
            Ok(p) => Ok(Read::Frame(Frame {
                ts: Ts::from_timeval(p.header.ts.tv_sec, p.header.ts.tv_usec),
                data: p.data,
                wire_len: p.header.len,
            })),
            Err(pcap::Error::TimeoutExpired) => {
                self.drained = true;
                Ok(Read::Idle)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    pub fn stats(&mut self) -> Option<KernelStats> {
        self.cap.stats().ok().map(|s| KernelStats {
            received: u64::from(s.received),
            dropped: u64::from(s.dropped),
            if_dropped: u64::from(s.if_dropped),
        })
    }
}
