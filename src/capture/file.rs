//! Capture files (pcap and pcapng), read in large blocks and walked record by record.
//!
//! Why not libpcap's offline reader: it reads through stdio a few kilobytes at a time and copies
//! every packet, which cost about two thirds of a one-worker replay (profiled on the 1.2 GB
//! benchmark mix), and its buffer is private to one reader, so a second worker cannot share it.
//! Here the input is read a megabyte at a time into plain blocks (see [`super::shared`] for how
//! several workers share them) and each reader of the blocks walks them with its own
//! [`Stitcher`]: a record cut by a block boundary is put back together in a small carry buffer,
//! every other record is read in place, zero-copy. A block can also be walked before the blocks
//! ahead of it, from a guess of where its first record begins ([`Resume::guess`]), which the
//! stitcher takes later only if it was right. The file header and pcapng blocks are parsed by
//! `pcap-parser`; a pcap record's 16-byte header is read here (see [`Walker::step`]).
//!
//! Hostile files: a record or block is never trusted for more than the bounds below, so the
//! carry never grows past [`MAX_BLOCK`]; a corrupt record ends the file with a one-line reason
//! after every record before it has been delivered, as libpcap does.

use pcap_parser::nom;
use pcap_parser::pcap::parse_pcap_header;
use pcap_parser::pcapng::{
    parse_block_be, parse_block_le, Block, InterfaceDescriptionBlock, SimplePacketBlock,
};

use super::Frame;
use crate::decode::LinkType;
use crate::time::Ts;

/// Bytes read per block.
pub const BLOCK: usize = 1 << 20;
/// Largest packet record accepted in a pcap file: libpcap's own limit (`MAXIMUM_SNAPLEN`).
pub const MAX_RECORD: u32 = 262_144;
/// Largest pcapng block accepted: libpcap's limit too.
pub const MAX_BLOCK: u32 = 16 << 20;

const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
const PCAPNG_BYTE_ORDER: u32 = 0x1A2B_3C4D;
const PCAPNG_IDB: u32 = 1;
const PCAPNG_SPB: u32 = 3;
const PCAPNG_EPB: u32 = 6;

/// What the start of a capture file says about the rest of it.
#[derive(Clone, Debug)]
enum Format {
    Pcap { big_endian: bool, nanos: bool, modified: bool, link: LinkType },
    PcapNg,
}

/// One interface of a pcapng section.
#[derive(Clone, Copy, Debug)]
struct Iface {
    link: Option<LinkType>,
    dlt: i32,
    /// Timestamp units per second.
    per_sec: u64,
    offset_s: i64,
    snaplen: u32,
}

/// Reads whole records of one capture file, keeping what the file has declared so far (pcapng's
/// interfaces and byte order).
#[derive(Clone, Debug)]
struct Walker {
    format: Format,
    big_endian: bool,
    ifaces: Vec<Iface>,
    /// Counts the changes to what the file has declared (pcapng section headers and
    /// interfaces), so that a walk begun on a guess can tell whether it began on the right one.
    generation: u64,
    /// The seconds of the latest pcap record, to tell a record header from packet bytes.
    last_sec: u32,
}

/// What [`Walker::step`] found at the start of a buffer.
enum Step<'a> {
    /// The buffer does not hold the whole next record yet.
    Need,
    /// A record of `len` bytes; its frame, if it carries one.
    Record { len: usize, frame: Option<(LinkType, Frame<'a>)> },
}

/// Most interfaces a pcapng section may declare (each costs a few bytes; the bound keeps a file
/// of nothing but interface blocks from growing the table without end).
const MAX_IFACES: usize = 4096;

/// Why a capture file is refused or ends early: one line, said after the file's path. Every
/// record before the damage has been delivered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("truncated file: {0} bytes, shorter than a capture file header")]
    ShortHeader(usize),
    #[error("unknown file format: neither pcap nor pcapng")]
    UnknownFormat,
    #[error("link type {0} is not supported")]
    LinkType(i32),
    #[error("corrupt record: {0} captured bytes, more than the {MAX_RECORD} allowed")]
    RecordTooLong(u32),
    #[error("corrupt pcapng block: length {0}")]
    BlockLength(u32),
    #[error("corrupt pcapng section header: bad byte-order magic")]
    ByteOrder,
    #[error("corrupt record")]
    CorruptRecord,
    #[error("corrupt pcapng block")]
    CorruptBlock,
    #[error("corrupt pcapng file: more than {MAX_IFACES} interfaces")]
    TooManyInterfaces,
    #[error("corrupt pcapng interface: time resolution {0}")]
    TimeResolution(u8),
    #[error("corrupt pcapng packet: interface {0} was never described")]
    UnknownInterface(u32),
    #[error("interface {iface}: link type {dlt} is not supported")]
    InterfaceLinkType { iface: u32, dlt: i32 },
    #[error("truncated file: the last record is cut short ({0} bytes)")]
    LastRecordCut(usize),
}

fn u32_at(b: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(if big_endian { u32::from_be_bytes(s) } else { u32::from_le_bytes(s) })
}

/// Microseconds from a count of `per_sec` units plus an offset in seconds, without overflow.
fn ts_from_units(units: u64, per_sec: u64, offset_s: i64) -> Ts {
    let per_sec = per_sec.max(1);
    let secs = i64::try_from(units / per_sec).unwrap_or(i64::MAX).saturating_add(offset_s);
    let frac = u128::from(units % per_sec) * 1_000_000 / u128::from(per_sec);
    Ts::from_timeval(secs, i64::try_from(frac).unwrap_or(0))
}

impl Walker {
    /// Reads the file header. `Ok(None)`: not enough bytes yet; the `usize` is the header's
    /// length (pcapng's section header is a record of its own and is left in place).
    fn open(head: &[u8], at_eof: bool) -> Result<Option<(Walker, usize)>, FileError> {
        if head.len() < 4 {
            return if at_eof { Err(FileError::ShortHeader(head.len())) } else { Ok(None) };
        }
        if u32_at(head, 0, false) == Some(PCAPNG_SHB) {
            let w = Walker::new(Format::PcapNg, false);
            return Ok(Some((w, 0)));
        }
        let h = match parse_pcap_header(head) {
            Ok((_, h)) => h,
            Err(nom::Err::Incomplete(_)) if !at_eof => return Ok(None),
            Err(nom::Err::Incomplete(_)) => return Err(FileError::ShortHeader(head.len())),
            Err(_) => return Err(FileError::UnknownFormat),
        };
        let dlt = h.network.0;
        let link = LinkType::from_dlt(dlt).ok_or(FileError::LinkType(dlt))?;
        let format = Format::Pcap {
            big_endian: h.is_bigendian(),
            nanos: h.is_nanosecond_precision(),
            modified: h.is_modified_format(),
            link,
        };
        Ok(Some((Walker::new(format, h.is_bigendian()), 24)))
    }

    fn new(format: Format, big_endian: bool) -> Walker {
        Walker { format, big_endian, ifaces: Vec::new(), generation: 0, last_sec: 0 }
    }

    /// The length of the record at the start of `buf`, once its header is there (`Ok(None)`
    /// before). An `Err` is the one-line reason the file is corrupt at this point.
    fn record_len(&self, buf: &[u8]) -> Result<Option<usize>, FileError> {
        match self.format {
            Format::Pcap { big_endian, modified, .. } => pcap_record_len(buf, big_endian, modified),
            Format::PcapNg => {
                let Some(big_endian) = self.ng_byte_order(buf)? else { return Ok(None) };
                let Some(block_len) = u32_at(buf, 4, big_endian) else { return Ok(None) };
                if !ng_block_len_ok(block_len) {
                    return Err(FileError::BlockLength(block_len));
                }
                Ok(Some(block_len as usize))
            }
        }
    }

    /// The byte order of the pcapng block at the start of `buf` (`Ok(None)` before enough of it
    /// is there): a section header sets its own, and that of everything up to the next one.
    fn ng_byte_order(&self, buf: &[u8]) -> Result<Option<bool>, FileError> {
        let Some(kind) = u32_at(buf, 0, false) else { return Ok(None) };
        if kind != PCAPNG_SHB {
            return Ok(Some(self.big_endian));
        }
        match u32_at(buf, 8, false) {
            None => Ok(None),
            Some(PCAPNG_BYTE_ORDER) => Ok(Some(false)),
            Some(m) if m.swap_bytes() == PCAPNG_BYTE_ORDER => Ok(Some(true)),
            Some(_) => Err(FileError::ByteOrder),
        }
    }

    /// Reads the record at the start of `buf`. An `Err` is the one-line reason the file is
    /// corrupt at this point.
    fn step<'a>(&mut self, buf: &'a [u8]) -> Result<Step<'a>, FileError> {
        let Some(len) = self.record_len(buf)? else { return Ok(Step::Need) };
        let Some(rec) = buf.get(..len) else { return Ok(Step::Need) };
        match self.format {
            Format::Pcap { big_endian, nanos, modified, link } => {
                Ok(match self.pcap_record(rec, big_endian, nanos, modified)? {
                    Some((len, frame)) => Step::Record { len, frame: Some((link, frame)) },
                    None => Step::Need,
                })
            }
            Format::PcapNg => self.step_ng(rec),
        }
    }

    /// The pcap record at the start of `buf`, once whole: its length and frame. Read here rather
    /// than by pcap-parser's (nom) parser, and walked in a loop of its own by [`Stitcher`] and
    /// [`Resume::guess`] rather than through [`Walker::step`]: the walk of the records was 11%
    /// of a one-worker replay of the edge benchmark mix (3.8 M records of 298 bytes on average;
    /// callgrind), the parser and the step's generality most of it.
    #[inline(always)]
    fn pcap_record<'a>(
        &mut self,
        buf: &'a [u8],
        big_endian: bool,
        nanos: bool,
        modified: bool,
    ) -> Result<Option<(usize, Frame<'a>)>, FileError> {
        let Some(len) = pcap_record_len(buf, big_endian, modified)? else { return Ok(None) };
        let Some(rec) = buf.get(..len) else { return Ok(None) };
        // The header and exactly the captured bytes (the "modified" format's 8 more header
        // bytes are skipped).
        let field = |at| u32_at(rec, at, big_endian).ok_or(FileError::CorruptRecord);
        let (sec, frac, orig) = (field(0)?, field(4)?, field(12)?);
        let data = rec.get(pcap_record_header(modified)..).ok_or(FileError::CorruptRecord)?;
        self.last_sec = sec;
        let usec = if nanos { frac / 1000 } else { frac };
        let ts = Ts::from_timeval(i64::from(sec), i64::from(usec));
        Ok(Some((len, Frame { ts, data, wire_len: orig })))
    }

    /// Every whole record at the start of `buf`, each through `frame`, up to one cut by its end
    /// or damaged: the bytes walked, and the damage.
    #[inline(always)]
    fn records(
        &mut self,
        buf: &[u8],
        frame: &mut impl FnMut(LinkType, &Frame<'_>),
    ) -> (usize, Result<(), FileError>) {
        let mut at = 0;
        if let Format::Pcap { big_endian, nanos, modified, link } = self.format {
            loop {
                match self.pcap_record(buf.get(at..).unwrap_or_default(), big_endian, nanos, modified) {
                    Ok(Some((len, f))) => {
                        frame(link, &f);
                        at += len;
                    }
                    Ok(None) => return (at, Ok(())),
                    Err(e) => return (at, Err(e)),
                }
            }
        }
        loop {
            match self.step(buf.get(at..).unwrap_or_default()) {
                Ok(Step::Record { len, frame: f }) => {
                    if let Some((link, f)) = f {
                        frame(link, &f);
                    }
                    at += len;
                }
                Ok(Step::Need) => return (at, Ok(())),
                Err(e) => return (at, Err(e)),
            }
        }
    }

    /// One whole pcapng block (its length already checked by [`Walker::record_len`]).
    fn step_ng<'a>(&mut self, block: &'a [u8]) -> Result<Step<'a>, FileError> {
        let len = block.len();
        self.big_endian = self.ng_byte_order(block)?.unwrap_or(self.big_endian);
        let parsed = if self.big_endian { parse_block_be(block) } else { parse_block_le(block) };
        // The parser sees exactly one whole block: asking for more means the block is corrupt.
        // Only the blocks that carry packets or describe them matter; any other block that does
        // not parse is skipped whole, as libpcap skips every block it does not know.
        let (_, block) = match parsed {
            Ok(b) => b,
            Err(_) => {
                let kind = u32_at(block, 0, self.big_endian).unwrap_or(0);
                if [PCAPNG_SHB, PCAPNG_IDB, PCAPNG_EPB, PCAPNG_SPB].contains(&kind) {
                    return Err(FileError::CorruptBlock);
                }
                return Ok(Step::Record { len, frame: None });
            }
        };
        let frame = match block {
            Block::SectionHeader(_) => {
                self.ifaces.clear();
                self.generation += 1;
                None
            }
            Block::InterfaceDescription(idb) => {
                self.add_iface(&idb)?;
                self.generation += 1;
                None
            }
            Block::EnhancedPacket(epb) => {
                let iface = self.iface(epb.if_id)?;
                let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let ts = ts_from_units(units, iface.per_sec, iface.offset_s);
                let link =
                    iface.link.ok_or(FileError::InterfaceLinkType { iface: epb.if_id, dlt: iface.dlt })?;
                // The data is padded to 4 bytes; the captured length says where it ends.
                let d = epb.data;
                let data = d.get(..epb.caplen as usize).unwrap_or(d);
                Some((link, Frame { ts, data, wire_len: epb.origlen }))
            }
            Block::SimplePacket(spb) => Some(self.simple(&spb)?),
            _ => None,
        };
        Ok(Step::Record { len, frame })
    }

    fn add_iface(&mut self, idb: &InterfaceDescriptionBlock<'_>) -> Result<(), FileError> {
        if self.ifaces.len() >= MAX_IFACES {
            return Err(FileError::TooManyInterfaces);
        }
        let dlt = i32::from(idb.linktype.0 as u16);
        let per_sec = idb.ts_resolution().ok_or(FileError::TimeResolution(idb.if_tsresol))?;
        self.ifaces.push(Iface {
            link: LinkType::from_dlt(dlt),
            dlt,
            per_sec,
            offset_s: idb.ts_offset(),
            snaplen: idb.snaplen,
        });
        Ok(())
    }

    fn iface(&self, id: u32) -> Result<Iface, FileError> {
        self.ifaces.get(id as usize).copied().ok_or(FileError::UnknownInterface(id))
    }

    /// A simple packet block: interface 0, no timestamp (libpcap gives it time zero too).
    fn simple<'a>(&self, spb: &SimplePacketBlock<'a>) -> Result<(LinkType, Frame<'a>), FileError> {
        let iface = self.iface(0)?;
        let link = iface.link.ok_or(FileError::InterfaceLinkType { iface: 0, dlt: iface.dlt })?;
        let d = spb.data;
        let cap = if iface.snaplen == 0 { u32::MAX } else { iface.snaplen };
        let keep = d.len().min(spb.origlen as usize).min(cap as usize);
        let data = d.get(..keep).unwrap_or(d);
        Ok((link, Frame { ts: Ts::default(), data, wire_len: spb.origlen }))
    }
}

/// The length of the pcap record at the start of `buf`, once its header is there.
#[inline(always)]
fn pcap_record_len(buf: &[u8], big_endian: bool, modified: bool) -> Result<Option<usize>, FileError> {
    let Some(caplen) = u32_at(buf, 8, big_endian) else { return Ok(None) };
    if caplen > MAX_RECORD {
        return Err(FileError::RecordTooLong(caplen));
    }
    Ok(Some(pcap_record_header(modified) + caplen as usize))
}

/// Bytes before a pcap record's data (the "modified" format adds 8).
fn pcap_record_header(modified: bool) -> usize {
    if modified {
        24
    } else {
        16
    }
}

/// Whether a pcapng block may be this long: a whole number of words, at least a header and a
/// trailer, at most [`MAX_BLOCK`].
fn ng_block_len_ok(len: u32) -> bool {
    len >= 12 && len % 4 == 0 && len <= MAX_BLOCK
}

/// Walks a capture file handed over block by block (of any sizes): the records inside a block
/// are read in place; one cut by the end of a block waits in `carry` for the rest.
#[derive(Debug, Default)]
pub struct Stitcher {
    walker: Option<Walker>,
    carry: Vec<u8>,
    /// The file turned out damaged: nothing after this is read.
    failed: bool,
}

impl Stitcher {
    /// Walks the next block of the file; `eof` says it is the last. Calls `frame` for every
    /// packet record completed by this block. An `Err` is the one-line reason the file is
    /// damaged or cut short; every record before the damage has been delivered, and later calls
    /// do nothing.
    pub fn feed(
        &mut self,
        block: &[u8],
        eof: bool,
        frame: &mut impl FnMut(LinkType, &Frame<'_>),
    ) -> Result<(), FileError> {
        self.feed_guessed(block, eof, None, frame).1
    }

    /// [`Stitcher::feed`], given a walk of the same block begun on a guess ([`Resume::guess`]).
    /// If the guess began where the block's first record really begins, in the file's state
    /// there, its walk is taken: only the record cut by the previous block's end goes through
    /// `frame`, and the first value is `true`. Otherwise the guess is dropped and the block is
    /// walked here (`false`: every record of the block went through `frame`).
    pub fn feed_guessed(
        &mut self,
        block: &[u8],
        eof: bool,
        guess: Option<Guess>,
        frame: &mut impl FnMut(LinkType, &Frame<'_>),
    ) -> (bool, Result<(), FileError>) {
        if self.failed {
            return (false, Ok(()));
        }
        let mut taken = false;
        let r = self.walk(block, eof, guess, &mut taken, frame);
        self.failed = r.is_err();
        (taken, r)
    }

    /// Where a walk of the next block may begin on a guess: the file's state now (`None` before
    /// the file header has been read, or after damage).
    pub fn resume(&self) -> Option<Resume> {
        self.walker.as_ref().filter(|_| !self.failed).cloned().map(Resume)
    }

    fn walk(
        &mut self,
        mut block: &[u8],
        eof: bool,
        guess: Option<Guess>,
        taken: &mut bool,
        frame: &mut impl FnMut(LinkType, &Frame<'_>),
    ) -> Result<(), FileError> {
        let whole = block;
        let walker = match &mut self.walker {
            Some(w) => w,
            None => {
                // The file header, perhaps split over blocks.
                let take = 64usize.saturating_sub(self.carry.len()).min(block.len());
                self.carry.extend_from_slice(block.get(..take).unwrap_or_default());
                block = block.get(take..).unwrap_or_default();
                match Walker::open(&self.carry, eof && block.is_empty())? {
                    None => return Ok(()),
                    Some((w, skip)) => {
                        self.carry.drain(..skip.min(self.carry.len()));
                        self.walker.insert(w)
                    }
                }
            }
        };
        // Finish the record the last block cut, a header's worth of bytes at a time until its
        // length is known, then the rest of it.
        while !self.carry.is_empty() {
            let need = match walker.record_len(&self.carry)? {
                Some(len) => len.saturating_sub(self.carry.len()),
                None => 32,
            };
            if need == 0 {
                match walker.step(&self.carry)? {
                    Step::Record { len, frame: f } => {
                        if let Some((link, f)) = f {
                            frame(link, &f);
                        }
                        self.carry.drain(..len.min(self.carry.len()));
                    }
                    // A record whose whole length is there parses or fails; it never asks for more.
                    Step::Need => return Err(FileError::CorruptRecord),
                }
                continue;
            }
            if block.is_empty() {
                break;
            }
            let take = need.min(block.len());
            self.carry.extend_from_slice(block.get(..take).unwrap_or_default());
            block = block.get(take..).unwrap_or_default();
        }
        if self.carry.is_empty() {
            let start = whole.len() - block.len();
            match guess {
                Some(g) if g.start == start && g.from == walker.generation => {
                    *walker = g.after;
                    *taken = true;
                    if let Some(e) = g.error {
                        return Err(e);
                    }
                    block = whole.get(g.end..).unwrap_or_default();
                }
                _ => {
                    // Records in place.
                    let (walked, damage) = walker.records(block, frame);
                    damage?;
                    block = block.get(walked..).unwrap_or_default();
                }
            }
            self.carry.extend_from_slice(block);
        }
        if eof && !self.carry.is_empty() {
            let left = self.carry.len();
            return Err(FileError::LastRecordCut(left));
        }
        Ok(())
    }
}

/// How far into a block a guess looks for the first record: past the longest pcap record, so
/// a block of ordinary records always has one in reach (one of longer pcapng blocks may not:
/// then there is no guess, and the block is walked in order).
const GUESS_SCAN: usize = MAX_RECORD as usize + 24;
/// Record headers in a row that must look right (or run to the block's end) to be taken for
/// the first record: packet bytes that look like one header are common, like eight in a row
/// are not, and a wrong guess costs only the walk done in vain.
const GUESS_CHAIN: usize = 8;
/// Most seconds between a guessed pcap record and the latest record walked for sure.
const GUESS_WINDOW_S: u32 = 86_400;

/// The file's state after the latest block walked in order: where a walk of a later block may
/// begin on a guess.
#[derive(Clone, Debug)]
pub struct Resume(Walker);

/// A walk of one block begun on a guess of where its first record starts, made before the
/// blocks ahead of it were walked (so that several blocks are walked at once, each by the worker
/// that read it). [`Stitcher::feed_guessed`] takes it only if the guess was right.
#[derive(Debug)]
pub struct Guess {
    start: usize,
    /// The generation of the state it began in.
    from: u64,
    /// The state after its last record.
    after: Walker,
    /// Where the record cut by the block's end starts.
    end: usize,
    error: Option<FileError>,
}

/// What a guess finds at one offset.
enum Probe {
    /// Not a record header.
    No,
    /// A header of a record this long, the whole record in the block and checked as far as it
    /// can be (a pcapng block's length repeated at its end).
    Whole(usize),
    /// A header, its record running past the block's end (or the header itself cut by it).
    Past,
}

impl Resume {
    /// Walks `block` from the first offset where [`GUESS_CHAIN`] record headers in a row look
    /// right, calling `frame` for each packet record, up to the record cut by its end. `None`:
    /// no offset in reach looks right. Costs at most [`GUESS_SCAN`] × [`GUESS_CHAIN`] header
    /// checks, whatever the bytes.
    pub fn guess(&self, block: &[u8], frame: &mut impl FnMut(LinkType, &Frame<'_>)) -> Option<Guess> {
        let w = &self.0;
        let align = match w.format {
            Format::Pcap { .. } => 1,
            // pcapng blocks start on 4-byte boundaries, and so do our blocks.
            Format::PcapNg => 4,
        };
        let start = (0..block.len().min(GUESS_SCAN)).step_by(align).find(|&at| w.chain_at(block, at))?;
        let mut after = w.clone();
        let (walked, damage) = after.records(block.get(start..).unwrap_or_default(), frame);
        Some(Guess { start, from: w.generation, after, end: start + walked, error: damage.err() })
    }
}

impl Walker {
    /// Whether [`GUESS_CHAIN`] plausible records in a row start at `at`, or fewer (but at least
    /// one) up to the block's end.
    fn chain_at(&self, block: &[u8], mut at: usize) -> bool {
        for i in 0..GUESS_CHAIN {
            match self.probe(block.get(at..).unwrap_or_default()) {
                Probe::Whole(len) => at += len,
                Probe::Past => return i > 0,
                Probe::No => return false,
            }
        }
        true
    }

    fn probe(&self, b: &[u8]) -> Probe {
        let be = self.big_endian;
        let len = match self.format {
            Format::Pcap { nanos, modified, .. } => {
                let (Some(sec), Some(frac), Some(cap), Some(orig)) =
                    (u32_at(b, 0, be), u32_at(b, 4, be), u32_at(b, 8, be), u32_at(b, 12, be))
                else {
                    return Probe::Past;
                };
                let frac_max = if nanos { 1_000_000_000 } else { 1_000_000 };
                if cap > MAX_RECORD
                    || orig < cap
                    || frac >= frac_max
                    || sec.abs_diff(self.last_sec) > GUESS_WINDOW_S
                {
                    return Probe::No;
                }
                pcap_record_header(modified) + cap as usize
            }
            Format::PcapNg => {
                let Some(len) = u32_at(b, 4, be) else { return Probe::Past };
                if !ng_block_len_ok(len) {
                    return Probe::No;
                }
                // The length is repeated at the block's end.
                match u32_at(b, len as usize - 4, be) {
                    Some(again) if again != len => return Probe::No,
                    _ => len as usize,
                }
            }
        };
        if len <= b.len() {
            Probe::Whole(len)
        } else {
            Probe::Past
        }
    }
}
