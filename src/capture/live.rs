//! Live capture from a network interface through libpcap, for a SPAN or mirror port.
//!
//! The capture runs in non-blocking mode and waits with `poll` for at most the read timeout,
//! so that a quiet link still returns control regularly: the reader then flushes partial
//! batches, lets idle flows time out, and notices a stop request. (libpcap's own read timeout
//! does not promise to return when no packet arrives at all, so it is not relied on.)
//!
//! With several workers, each opens its own capture of the interface and the kernel shares the
//! packets among them ([`open_shared`]): no thread reads for the others, so the workers scale
//! like separate sensors.
//!
//! A thread that reads several captures (several interfaces, e.g. a tap with one port per
//! direction) reads them as a [`LiveSet`], which puts their frames back in time order
//! ([`super::merge`]).

use std::net::SocketAddr;

use super::merge::Merge;
use super::{shunt, Frame};
use crate::decode::LinkType;
use crate::stats::KernelStats;
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

/// Why a live capture could not be opened or shared among the workers: one line, said after
/// the interface's name.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// libpcap could not open or activate the interface (no such device, no permission...).
    #[error("{0}")]
    Open(pcap::Error),
    /// libpcap refused the BPF filter.
    #[error("filter {filter:?}: {source}")]
    Filter { filter: String, source: pcap::Error },
    /// The kernel refused the fanout group (an old kernel, another system).
    #[error("packet fanout: {0}")]
    Fanout(nix::Error),
    #[error("packet fanout is Linux only")]
    FanoutUnsupported,
    /// Reading a capture failed (the interface went away, ...).
    #[error("{0}")]
    Read(pcap::Error),
    /// Waiting for the captures failed.
    #[error("poll: {0}")]
    Poll(nix::Error),
}

pub struct LiveSource {
    cap: pcap::Capture<pcap::Active>,
    /// When this capture began to join its fanout group (not the first capture of a group):
    /// until then it got every frame, as the group's first capture did.
    joining: Option<Ts>,
    before_join: u64,
    /// libpcap's counters are 32 bits and wrap (within hours on a busy link): the last ones
    /// read, and their sums since the capture opened.
    last: [u32; 3],
    totals: KernelStats,
    timeout_ms: u16,
    link: Option<LinkType>,
    dlt: i32,
    name: String,
    /// The user's BPF filter as compiled for this capture, kept to rebuild the kernel's with
    /// shunted flows (or why it could not be read back).
    user_prog: Result<Vec<libc::sock_filter>, String>,
}

fn frame(p: pcap::Packet<'_>) -> Frame<'_> {
    Frame {
        ts: Ts::from_timeval(p.header.ts.tv_sec, p.header.ts.tv_usec),
        data: p.data,
        wire_len: p.header.len,
    }
}

/// Opens `o.iface` once per worker (`n` captures) and has the kernel share its packets among
/// them by flow: Linux's packet fanout, hashing each packet's addresses and ports symmetrically,
/// so both directions of a connection reach one capture, with IPv4 fragments put back together
/// before the hash (they carry no ports). The group id is one the kernel picks, so another
/// program's fanout group on the same interface is never joined by mistake.
///
/// When the kernel cannot share (another system, an old kernel), returns one capture and the
/// reason: the caller then has one reader hand packets to the workers.
pub fn open_shared(o: &LiveOptions, n: usize) -> Result<(Vec<LiveSource>, Option<LiveError>), LiveError> {
    let first = LiveSource::open(o)?;
    if n <= 1 {
        return Ok((vec![first], None));
    }
    let id = match fanout::create(&first.cap) {
        Ok(id) => id,
        Err(why) => return Ok((vec![first], Some(why))),
    };
    let mut all = vec![first];
    for _ in 1..n {
        let mut next = LiveSource::open(o)?;
        next.joining = Some(crate::time::now());
        fanout::join(&next.cap, id)?;
        all.push(next);
    }
    Ok((all, None))
}

/// Frames read from one capture before the next one gets its turn.
const BURST: usize = 64;
/// Most bytes of frames held to put several captures in time order (per thread).
const MERGE_BYTES: usize = 32 << 20;
/// While frames are held for ordering, how long a wait for new ones may last.
const HOLDING_WAIT_MS: u16 = 10;

/// One thread's captures (a worker's share of every interface, or a reader's interfaces), read
/// in time order: several captures go through a [`Merge`], one is read as it is.
pub struct LiveSet {
    caps: Vec<LiveSource>,
    links: Vec<LinkType>,
    /// Failed captures stay in place (their index is theirs in the merge), without reads; the
    /// reason is kept as its message, for the run's report.
    failed: Vec<Option<String>>,
    merge: Option<Merge>,
    timeout_ms: u16,
}

impl LiveSet {
    /// Returns the set and the captures it cannot read (a link type minewatch does not decode).
    pub fn new(caps: Vec<LiveSource>) -> (LiveSet, Vec<(String, String)>) {
        let mut unsupported = Vec::new();
        let mut kept = Vec::new();
        let mut links = Vec::new();
        for c in caps {
            match c.link() {
                Some(l) => {
                    links.push(l);
                    kept.push(c);
                }
                None => unsupported
                    .push((c.name().to_string(), format!("link type {} is not supported", c.dlt()))),
            }
        }
        let timeout_ms = kept.iter().map(|c| c.timeout_ms).max().unwrap_or(100);
        // A block of frames reaches the reader at most a read timeout after its first frame
        // arrived (the kernel's block timeout is libpcap's read timeout); twice that is slack.
        let hold_us = 2_000 * i64::from(timeout_ms);
        let merge = (kept.len() > 1).then(|| Merge::new(kept.len(), hold_us, MERGE_BYTES));
        let failed = vec![None; kept.len()];
        (LiveSet { caps: kept, links, failed, merge, timeout_ms }, unsupported)
    }

    /// Whether every capture has failed.
    pub fn ended(&self) -> bool {
        self.failed.iter().all(Option::is_some)
    }

    /// The captures that failed, with why.
    pub fn failures(&self) -> Vec<(String, String)> {
        self.caps
            .iter()
            .zip(&self.failed)
            .filter_map(|(c, f)| Some((c.name().to_string(), f.clone()?)))
            .collect()
    }

    /// The kernel counters of every capture, by interface.
    pub fn stats(&mut self) -> Vec<(String, KernelStats)> {
        self.caps.iter_mut().filter_map(|c| Some((c.name().to_string(), c.stats()?))).collect()
    }

    /// Hands `f` the frames that are ready, in time order; waits up to the read timeout when
    /// none came. Returns how many frames it read.
    pub fn pump(&mut self, f: &mut dyn FnMut(LinkType, &Frame<'_>)) -> usize {
        // Taken before the reads: a capture found empty after it holds nothing that arrived a
        // hold before it.
        let now = crate::time::now();
        let mut got = 0;
        for (i, cap) in self.caps.iter_mut().enumerate() {
            let (Some(&link), Some(failed)) = (self.links.get(i), self.failed.get_mut(i)) else { continue };
            if failed.is_some() {
                continue;
            }
            let merge = &mut self.merge;
            let read = cap.dispatch(BURST, &mut |frame| match merge {
                Some(m) => m.push(i, frame),
                None => f(link, frame),
            });
            // Fewer frames than asked for: the ring is empty.
            let empty = match read {
                Ok(n) => {
                    got += n;
                    n < BURST
                }
                Err(e) => {
                    *failed = Some(e.to_string());
                    false
                }
            };
            if let Some(m) = &mut self.merge {
                if failed.is_some() {
                    m.closed(i);
                } else if empty {
                    m.drained(i, now);
                }
            }
        }
        self.release(false, f);
        if got == 0 && !self.ended() {
            let holding = self.merge.as_ref().is_some_and(Merge::holding);
            let wait = if holding { HOLDING_WAIT_MS } else { self.timeout_ms };
            let live: Vec<&LiveSource> =
                self.caps.iter().zip(&self.failed).filter(|(_, f)| f.is_none()).map(|(c, _)| c).collect();
            if let Err(e) = wait_any(&live, wait) {
                let why = e.to_string();
                for f in self.failed.iter_mut().filter(|f| f.is_none()) {
                    *f = Some(why.clone());
                }
            }
        }
        got
    }

    /// Rebuilds every capture's kernel filter to drop the data packets of `flows` (see
    /// [`super::shunt`]). Stops at the first that fails.
    pub fn shunt(&self, flows: &[(SocketAddr, SocketAddr)]) -> Result<(), shunt::ShuntError> {
        self.caps.iter().zip(&self.failed).filter(|(_, f)| f.is_none()).try_for_each(|(c, _)| c.shunt(flows))
    }

    /// Hands `f` every frame still held (the capture is ending).
    pub fn flush(&mut self, f: &mut dyn FnMut(LinkType, &Frame<'_>)) {
        self.release(true, f);
    }

    fn release(&mut self, all: bool, f: &mut dyn FnMut(LinkType, &Frame<'_>)) {
        let links = &self.links;
        if let Some(m) = &mut self.merge {
            m.release(all, &mut |c, frame| {
                if let Some(&link) = links.get(c) {
                    f(link, frame);
                }
            });
        }
    }
}

/// Waits until one of `sources` may have a frame, or `timeout_ms` passes.
fn wait_any(sources: &[&LiveSource], timeout_ms: u16) -> Result<(), LiveError> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let mut fds: Vec<PollFd<'_>> =
        sources.iter().map(|s| PollFd::new(s.cap.as_fd(), PollFlags::POLLIN)).collect();
    match poll(&mut fds, PollTimeout::from(timeout_ms)) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(()),
        Err(e) => Err(LiveError::Poll(e)),
    }
}

#[cfg(target_os = "linux")]
mod fanout {
    use super::LiveError;
    use nix::sys::socket::{getsockopt, setsockopt, sockopt};

    /// The `PACKET_FANOUT` socket option. (nix's own helpers make the system call; this crate
    /// has no unsafe code of its own.)
    #[derive(Clone, Copy, Debug)]
    struct Fanout;
    nix::setsockopt_impl!(Fanout, libc::SOL_PACKET, libc::PACKET_FANOUT, u32, sockopt::SetStruct<'_, u32>);
    nix::getsockopt_impl!(Fanout, libc::SOL_PACKET, libc::PACKET_FANOUT, u32, sockopt::GetStruct<u32>);

    /// By a symmetric hash of the flow, IPv4 fragments reassembled first.
    const MODE: u32 = libc::PACKET_FANOUT_HASH | libc::PACKET_FANOUT_FLAG_DEFRAG;

    /// Makes `cap` the first member of a new group; returns the id the kernel gave it.
    pub fn create(cap: &pcap::Capture<pcap::Active>) -> Result<u16, LiveError> {
        let ask = (MODE | libc::PACKET_FANOUT_FLAG_UNIQUEID) << 16;
        setsockopt(cap, Fanout, &ask).map_err(LiveError::Fanout)?;
        let got = getsockopt(cap, Fanout).map_err(LiveError::Fanout)?;
        Ok((got & 0xffff) as u16)
    }

    pub fn join(cap: &pcap::Capture<pcap::Active>, id: u16) -> Result<(), LiveError> {
        setsockopt(cap, Fanout, &(u32::from(id) | MODE << 16)).map_err(LiveError::Fanout)
    }
}

#[cfg(not(target_os = "linux"))]
mod fanout {
    use super::LiveError;

    pub fn create(_: &pcap::Capture<pcap::Active>) -> Result<u16, LiveError> {
        Err(LiveError::FanoutUnsupported)
    }

    pub fn join(_: &pcap::Capture<pcap::Active>, _: u16) -> Result<(), LiveError> {
        Err(LiveError::FanoutUnsupported)
    }
}

impl LiveSource {
    /// Opens and activates the interface. Needs CAP_NET_RAW (root, or `setcap`); call before
    /// privileges are dropped.
    pub fn open(o: &LiveOptions) -> Result<LiveSource, LiveError> {
        let inactive = pcap::Capture::from_device(o.iface.as_str()).map_err(LiveError::Open)?;
        let mut cap = inactive
            .promisc(o.promisc)
            .snaplen(o.snaplen)
            .buffer_size(i32::try_from(u64::from(o.buffer_mb) << 20).unwrap_or(i32::MAX))
            .timeout(o.timeout_ms)
            .open()
            .and_then(|c| c.setnonblock())
            .map_err(LiveError::Open)?;
        let bad_filter = |source| LiveError::Filter { filter: o.filter.clone(), source };
        if !o.filter.is_empty() {
            cap.filter(&o.filter, true).map_err(bad_filter)?;
        }
        let dlt = cap.get_datalink().0;
        let user_prog = cap
            .compile(&o.filter, true)
            .map_err(|e| bad_filter(e).to_string())
            .and_then(|p| shunt::instructions(&p).map_err(|e| e.to_string()));
        Ok(LiveSource {
            cap,
            joining: None,
            before_join: 0,
            last: [0; 3],
            totals: KernelStats::default(),
            timeout_ms: u16::try_from(o.timeout_ms.max(1)).unwrap_or(u16::MAX),
            link: LinkType::from_dlt(dlt),
            dlt,
            name: o.iface.clone(),
            user_prog,
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

    /// Hands `f` up to `max` of the frames waiting in the capture's ring, where they lie: a
    /// frame read one at a time (`pcap_next_ex`) is first copied out of the ring, which cost
    /// half of a live worker's time. Never blocks. Returns how many frames it read; those this
    /// capture got before it joined its fanout group (the group's first capture got them too)
    /// are left out, and out of its counters. `Err` when the interface failed.
    pub fn dispatch(&mut self, max: usize, f: &mut dyn FnMut(&Frame<'_>)) -> Result<usize, LiveError> {
        let LiveSource { cap, joining, before_join, .. } = self;
        let read = cap.dispatch(Some(max), |p| {
            let fr = frame(p);
            if let Some(t) = *joining {
                if fr.ts < t {
                    *before_join += 1;
                    return;
                }
                // The ring is in time order: no earlier frame is left.
                *joining = None;
            }
            f(&fr);
        });
        read.map_err(LiveError::Read)
    }

    /// Has the kernel drop the data packets of `flows` (besides what the user's filter drops):
    /// see [`super::shunt`]. Ethernet captures only: on a cooked capture libpcap rewrites a
    /// program's offsets before the kernel gets it.
    pub fn shunt(&self, flows: &[(SocketAddr, SocketAddr)]) -> Result<(), shunt::ShuntError> {
        use shunt::ShuntError;
        let iface = || self.name.clone();
        if self.link != Some(LinkType::Ethernet) {
            return Err(ShuntError::NotEthernet { iface: iface(), dlt: self.dlt });
        }
        let user = self
            .user_prog
            .as_deref()
            .map_err(|why| ShuntError::UserFilter { iface: iface(), why: why.clone() })?;
        let prog = shunt::program(user, flows)
            .map_err(|e| ShuntError::Program { iface: iface(), source: Box::new(e) })?;
        shunt::attach(&self.cap, &prog)
            .map_err(|e| ShuntError::Capture { iface: iface(), source: Box::new(e) })
    }

    /// The kernel's counters since the capture opened, without the frames it got before it
    /// joined its fanout group. Call at least once per 2^32 frames (the collector's once a
    /// second is plenty): libpcap's own counters wrap.
    pub fn stats(&mut self) -> Option<KernelStats> {
        let s = self.cap.stats().ok()?;
        accumulate(&mut self.totals, &mut self.last, [s.received, s.dropped, s.if_dropped]);
        let t = self.totals;
        Some(KernelStats { received: t.received.saturating_sub(self.before_join), ..t })
    }
}

/// Adds to `totals` what libpcap's 32-bit counters gained since `last` (across a wrap), and
/// keeps `now` as the new `last`.
fn accumulate(totals: &mut KernelStats, last: &mut [u32; 3], now: [u32; 3]) {
    let sums = [&mut totals.received, &mut totals.dropped, &mut totals.if_dropped];
    for (sum, (n, l)) in sums.into_iter().zip(now.iter().zip(last.iter())) {
        *sum += u64::from(n.wrapping_sub(*l));
    }
    *last = now;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_counters_keep_counting_across_libpcaps_32_bit_wrap() {
        let mut totals = KernelStats::default();
        let mut last = [0u32; 3];
        accumulate(&mut totals, &mut last, [4_000_000_000, 10, 0]);
        // The received counter wraps past 2^32; the others keep growing.
        accumulate(&mut totals, &mut last, [5, 12, 1]);
        assert_eq!(totals.received, (1u64 << 32) + 5);
        assert_eq!(totals.dropped, 12);
        assert_eq!(totals.if_dropped, 1);
        accumulate(&mut totals, &mut last, [5, 12, 1]);
        assert_eq!(totals, KernelStats { received: (1u64 << 32) + 5, dropped: 12, if_dropped: 1 });
    }
}
