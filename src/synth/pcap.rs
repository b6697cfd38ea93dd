//! Capture file writers: classic libpcap and a minimal pcapng.
//!
//! Both stream straight into any [`std::io::Write`]: nothing is buffered here beyond what the
//! caller's writer buffers, so a benchmark can write gigabytes with constant memory. Both always
//! write little-endian files with microsecond timestamps, because that is what `tcpdump` writes
//! on the machines our users run, and so the bytes of a generated file never depend on the host.

use std::io::{self, Write};

use crate::time::Ts;

use super::PacketSink;

/// Link-layer header types (the `LINKTYPE_*` registry), as written in a capture's header.
///
/// A newtype rather than an enum so a test can write any value, including ones no reader knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: a 4-byte address family in the capturing host's byte order.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II, with or without 802.1Q tags.
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IPv4 or IPv6, no link header (the version nibble tells them apart).
    pub const RAW: LinkType = LinkType(101);
    /// Linux cooked capture v1 (`tcpdump -i any` before libpcap 1.10).
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Linux cooked capture v2 (`tcpdump -i any` since libpcap 1.10).
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// The snapshot length we announce: libpcap's default, so no generated frame is ever cut.
pub const DEFAULT_SNAPLEN: u32 = 262_144;

/// Magic of a microsecond-resolution classic pcap file, as it reads in the writer's byte order.
pub const PCAP_MAGIC_MICROS: u32 = 0xa1b2_c3d4;

/// Splits a capture timestamp into the (seconds, microseconds) pair both formats store, refusing
/// times that a 32-bit seconds field cannot hold instead of silently wrapping them.
fn split_ts(ts: Ts) -> io::Result<(u32, u32)> {
    let us = ts.as_micros();
    let secs = us.div_euclid(1_000_000);
    let frac = us.rem_euclid(1_000_000);
    let secs = u32::try_from(secs).map_err(|_| {
        io::Error::new(io::ErrorKind::InvalidInput, "timestamp outside the pcap 32-bit range")
    })?;
    // rem_euclid of a positive modulus is in 0..1_000_000, which always fits.
    let frac = u32::try_from(frac).unwrap_or(0);
    Ok((secs, frac))
}

/// Length of a frame as a 32-bit record field; frames over 4 GiB cannot be stored at all.
fn len32(len: usize) -> io::Result<u32> {
    u32::try_from(len).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame longer than 4 GiB"))
}

/// A classic libpcap writer (`.pcap`): a 24-byte global header, then a 16-byte record header
/// before each frame.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    snaplen: u32,
    link: LinkType,
    packets: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header at once, so even a capture with no packets is a valid file.
    pub fn new(out: W, link: LinkType) -> io::Result<Self> {
        Self::with_snaplen(out, link, DEFAULT_SNAPLEN)
    }

    /// As [`PcapWriter::new`], with a smaller snapshot length: frames longer than it are cut and
    /// keep their original length in the record, exactly as libpcap stores a truncated capture.
    /// That is how tests produce truncated packets a decoder must survive.
    pub fn with_snaplen(mut out: W, link: LinkType, snaplen: u32) -> io::Result<Self> {
        let mut hdr = [0u8; 24];
        hdr[0..4].copy_from_slice(&PCAP_MAGIC_MICROS.to_le_bytes());
        hdr[4..6].copy_from_slice(&2u16.to_le_bytes()); // version major
        hdr[6..8].copy_from_slice(&4u16.to_le_bytes()); // version minor
                                                        // 8..16: thiszone and sigfigs, always 0.
        hdr[16..20].copy_from_slice(&snaplen.to_le_bytes());
        hdr[20..24].copy_from_slice(&link.0.to_le_bytes());
        out.write_all(&hdr)?;
        Ok(PcapWriter { out, snaplen, link, packets: 0 })
    }

    /// The link type announced in the header; frames must be built for it.
    pub fn link(&self) -> LinkType {
        self.link
    }

    /// Records written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Flushes and hands back the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> PacketSink for PcapWriter<W> {
    fn write_packet(&mut self, ts: Ts, frame: &[u8]) -> io::Result<()> {
        let (secs, usecs) = split_ts(ts)?;
        let orig = len32(frame.len())?;
        let incl = orig.min(self.snaplen);
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&secs.to_le_bytes());
        rec[4..8].copy_from_slice(&usecs.to_le_bytes());
        rec[8..12].copy_from_slice(&incl.to_le_bytes());
        rec[12..16].copy_from_slice(&orig.to_le_bytes());
        self.out.write_all(&rec)?;
        // incl <= frame.len() by construction, so get() always succeeds.
        self.out.write_all(frame.get(..incl as usize).unwrap_or(frame))?;
        self.packets += 1;
        Ok(())
    }

    fn link(&self) -> LinkType {
        self.link
    }
}

/// pcapng block types used here.
const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 0x0000_0001;
const EPB: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// A minimal pcapng writer: one Section Header Block, one Interface Description Block, then an
/// Enhanced Packet Block per frame. No options are written: the default timestamp resolution
/// (`if_tsresol` absent) is microseconds, which is all we need, and fewer fields mean fewer
/// ways for the generated bytes to drift.
#[derive(Debug)]
pub struct PcapngWriter<W: Write> {
    out: W,
    link: LinkType,
    snaplen: u32,
    packets: u64,
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the SHB and the single IDB at once.
    pub fn new(mut out: W, link: LinkType) -> io::Result<Self> {
        let link16 = u16::try_from(link.0)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pcapng link types are 16-bit"))?;
        // SHB: type, length, byte-order magic, version 1.0, section length -1 (unknown), length.
        let mut shb = [0u8; 28];
        shb[0..4].copy_from_slice(&SHB.to_le_bytes());
        shb[4..8].copy_from_slice(&28u32.to_le_bytes());
        shb[8..12].copy_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        shb[12..14].copy_from_slice(&1u16.to_le_bytes());
        shb[14..16].copy_from_slice(&0u16.to_le_bytes());
        shb[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        shb[24..28].copy_from_slice(&28u32.to_le_bytes());
        out.write_all(&shb)?;
        // IDB: type, length, link type, reserved, snaplen, length.
        let mut idb = [0u8; 20];
        idb[0..4].copy_from_slice(&IDB.to_le_bytes());
        idb[4..8].copy_from_slice(&20u32.to_le_bytes());
        idb[8..10].copy_from_slice(&link16.to_le_bytes());
        idb[12..16].copy_from_slice(&DEFAULT_SNAPLEN.to_le_bytes());
        idb[16..20].copy_from_slice(&20u32.to_le_bytes());
        out.write_all(&idb)?;
        Ok(PcapngWriter { out, link, snaplen: DEFAULT_SNAPLEN, packets: 0 })
    }

    /// Records written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Flushes and hands back the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> PacketSink for PcapngWriter<W> {
    fn write_packet(&mut self, ts: Ts, frame: &[u8]) -> io::Result<()> {
        let us = u64::try_from(ts.as_micros())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "negative timestamp in pcapng"))?;
        let orig = len32(frame.len())?;
        let incl = orig.min(self.snaplen);
        let pad = (4 - (incl % 4)) % 4;
        // 28 bytes of fixed fields + data + padding + trailing length.
        let total = 32u32
            .checked_add(incl + pad)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too long"))?;
        let mut hdr = [0u8; 28];
        hdr[0..4].copy_from_slice(&EPB.to_le_bytes());
        hdr[4..8].copy_from_slice(&total.to_le_bytes());
        // 8..12: interface 0.
        hdr[12..16].copy_from_slice(&((us >> 32) as u32).to_le_bytes());
        hdr[16..20].copy_from_slice(&(us as u32).to_le_bytes());
        hdr[20..24].copy_from_slice(&incl.to_le_bytes());
        hdr[24..28].copy_from_slice(&orig.to_le_bytes());
        self.out.write_all(&hdr)?;
        self.out.write_all(frame.get(..incl as usize).unwrap_or(frame))?;
        self.out.write_all(&[0u8; 3][..pad as usize])?;
        self.out.write_all(&total.to_le_bytes())?;
        self.packets += 1;
        Ok(())
    }

    fn link(&self) -> LinkType {
        self.link
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32le(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    #[test]
    fn pcap_global_header_is_byte_exact() {
        for lt in
            [LinkType::NULL, LinkType::ETHERNET, LinkType::RAW, LinkType::LINUX_SLL, LinkType::LINUX_SLL2]
        {
            let w = PcapWriter::new(Vec::new(), lt).unwrap();
            let b = w.into_inner().unwrap();
            let mut want = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
            want.extend_from_slice(&[0; 8]);
            want.extend_from_slice(&262_144u32.to_le_bytes());
            want.extend_from_slice(&lt.0.to_le_bytes());
            assert_eq!(b, want, "link type {lt:?}");
        }
    }

    #[test]
    fn pcap_record_layout() {
        let mut w = PcapWriter::new(Vec::new(), LinkType::RAW).unwrap();
        w.write_packet(Ts::from_micros(1_700_000_000_123_456), b"abcde").unwrap();
        w.write_packet(Ts::from_micros(1_700_000_001_000_000), b"").unwrap();
        assert_eq!(w.packets(), 2);
        let b = w.into_inner().unwrap();
        assert_eq!(b.len(), 24 + 16 + 5 + 16);
        assert_eq!(u32le(&b, 24), 1_700_000_000);
        assert_eq!(u32le(&b, 28), 123_456);
        assert_eq!(u32le(&b, 32), 5);
        assert_eq!(u32le(&b, 36), 5);
        assert_eq!(&b[40..45], b"abcde");
        assert_eq!(u32le(&b, 45), 1_700_000_001);
        assert_eq!(u32le(&b, 49), 0);
        assert_eq!(u32le(&b, 53), 0);
    }

    #[test]
    fn pcap_snaplen_truncates_but_keeps_original_length() {
        let mut w = PcapWriter::with_snaplen(Vec::new(), LinkType::RAW, 3).unwrap();
        w.write_packet(Ts::from_micros(0), b"abcdef").unwrap();
        let b = w.into_inner().unwrap();
        assert_eq!(u32le(&b, 16), 3);
        assert_eq!(u32le(&b, 24 + 8), 3);
        assert_eq!(u32le(&b, 24 + 12), 6);
        assert_eq!(&b[40..], b"abc");
    }

    #[test]
    fn out_of_range_times_are_errors_not_panics() {
        let mut w = PcapWriter::new(Vec::new(), LinkType::RAW).unwrap();
        assert!(w.write_packet(Ts::from_micros(-1), b"x").is_err());
        assert!(w.write_packet(Ts::from_micros(i64::MAX), b"x").is_err());
        let mut n = PcapngWriter::new(Vec::new(), LinkType::RAW).unwrap();
        assert!(n.write_packet(Ts::from_micros(-1), b"x").is_err());
        assert!(PcapngWriter::new(Vec::new(), LinkType(70_000)).is_err());
    }

    #[test]
    fn pcapng_blocks_are_byte_exact() {
        let mut w = PcapngWriter::new(Vec::new(), LinkType::ETHERNET).unwrap();
        w.write_packet(Ts::from_micros(0x1_0000_0002), b"hello").unwrap();
        let b = w.into_inner().unwrap();
        // SHB
        assert_eq!(u32le(&b, 0), 0x0A0D_0D0A);
        assert_eq!(u32le(&b, 4), 28);
        assert_eq!(u32le(&b, 8), 0x1A2B_3C4D);
        assert_eq!(&b[12..16], &[1, 0, 0, 0]);
        assert_eq!(&b[16..24], &[0xff; 8]);
        assert_eq!(u32le(&b, 24), 28);
        // IDB
        assert_eq!(u32le(&b, 28), 1);
        assert_eq!(u32le(&b, 32), 20);
        assert_eq!(&b[36..40], &[1, 0, 0, 0]);
        assert_eq!(u32le(&b, 40), 262_144);
        assert_eq!(u32le(&b, 44), 20);
        // EPB: 5 bytes of data padded to 8.
        let e = 48;
        assert_eq!(u32le(&b, e), 6);
        assert_eq!(u32le(&b, e + 4), 40);
        assert_eq!(u32le(&b, e + 8), 0);
        assert_eq!(u32le(&b, e + 12), 1);
        assert_eq!(u32le(&b, e + 16), 2);
        assert_eq!(u32le(&b, e + 20), 5);
        assert_eq!(u32le(&b, e + 24), 5);
        assert_eq!(&b[e + 28..e + 33], b"hello");
        assert_eq!(&b[e + 33..e + 36], &[0, 0, 0]);
        assert_eq!(u32le(&b, e + 36), 40);
        assert_eq!(b.len(), e + 40);
    }
}
