//! Packet sources: capture files (pcap and pcapng, read in chunks by [`file`], `-` for standard
//! input) and live interfaces (libpcap, [`live`]). Both yield the same [`Frame`]s. Knows nothing
//! of flows and imports nothing above it (only `decode`, `stats` and `time`): the shunt is
//! handed its flows by the pipeline, and the kernel's counters are [`crate::stats::KernelStats`].

pub mod bpf;
pub mod file;
pub mod inputs;
pub mod live;
pub mod merge;
pub mod shared;
pub mod shunt;

use crate::decode::LinkType;
use crate::time::Ts;

/// One captured frame, borrowed from the reader's buffer until the next read.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub ts: Ts,
    pub data: &'a [u8],
    /// The frame's length on the wire; more than `data.len()` when the snap length cut it.
    pub wire_len: u32,
}

/// An opened capture input.
pub enum Input {
    /// A regular file and its size.
    File(std::fs::File, u64),
    /// Standard input, a FIFO, a device: read in order.
    Stream(Box<dyn std::io::Read + Send>),
}

pub use file::FileError;

/// Why a capture input could not be opened or read to its end: one line, said after the
/// input's path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    /// The input could not be opened (the I/O reason, without Rust's "(os error N)").
    #[error("{0}")]
    Open(String),
    #[error("is a directory, not a capture file")]
    IsDirectory,
    /// A directory given to `-r` with no capture file in it or below it.
    #[error("holds no capture file (pcap or pcapng)")]
    NoCaptures,
    /// Reading failed part way (the I/O reason).
    #[error("read error: {0}")]
    Read(String),
    /// A regular file got shorter while it was read.
    #[error("the file shrank while being read")]
    Shrank,
    /// The file's contents are damaged or cut short.
    #[error(transparent)]
    File(#[from] FileError),
}

/// An I/O error's reason without Rust's "(os error N)" suffix.
fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s.get(..i).unwrap_or(&s).to_string(),
        None => s,
    }
}

/// Opens a capture file for reading; `-` is standard input. The error is a one-line reason.
pub fn open_input(path: &str) -> Result<Input, CaptureError> {
    if path == "-" {
        return Ok(Input::Stream(Box::new(std::io::stdin())));
    }
    let meta = std::fs::metadata(path).map_err(|e| CaptureError::Open(io_reason(&e)))?;
    if meta.is_dir() {
        return Err(CaptureError::IsDirectory);
    }
    let f = std::fs::File::open(path).map_err(|e| CaptureError::Open(io_reason(&e)))?;
    Ok(if meta.is_file() { Input::File(f, meta.len()) } else { Input::Stream(Box::new(f)) })
}

/// A capture file read one frame at a time, for tools and tests (the pipeline shares blocks
/// between workers instead, see [`shared`]). Frames are copied out of each block.
pub struct OfflineSource {
    input: Box<dyn std::io::Read + Send>,
    stitcher: file::Stitcher,
    block: Vec<u8>,
    frames: std::collections::VecDeque<(LinkType, Ts, Vec<u8>, u32)>,
    current: Vec<u8>,
    failed: Option<CaptureError>,
    eof: bool,
}

impl OfflineSource {
    /// Opens a pcap or pcapng file; `-` reads standard input. The error is a one-line reason
    /// (a damaged header is reported by the first [`OfflineSource::next_frame`]).
    pub fn open(path: &str) -> Result<OfflineSource, CaptureError> {
        Ok(OfflineSource::from_reader(match open_input(path)? {
            Input::File(f, _) => Box::new(f),
            Input::Stream(r) => r,
        }))
    }

    /// Reads a capture from any byte stream.
    pub fn from_reader(input: Box<dyn std::io::Read + Send>) -> OfflineSource {
        OfflineSource {
            input,
            stitcher: file::Stitcher::default(),
            block: Vec::new(),
            frames: Default::default(),
            current: Vec::new(),
            failed: None,
            eof: false,
        }
    }

    /// The next frame and its link type; `Ok(None)` at the end of the file, `Err` (a one-line
    /// reason) when the file is corrupt or truncated: everything before that point has been
    /// delivered.
    pub fn next_frame(&mut self) -> Result<Option<(LinkType, Frame<'_>)>, CaptureError> {
        use std::io::Read;
        while self.frames.is_empty() {
            if let Some(e) = self.failed.take() {
                return Err(e);
            }
            if self.eof {
                return Ok(None);
            }
            self.block.clear();
            match self.input.by_ref().take(file::BLOCK as u64).read_to_end(&mut self.block) {
                Ok(n) => self.eof = n < file::BLOCK,
                Err(e) => {
                    self.failed = Some(CaptureError::Read(io_reason(&e)));
                    self.eof = true;
                }
            }
            let frames = &mut self.frames;
            let fed = self.stitcher.feed(&self.block, self.eof, &mut |link, f| {
                frames.push_back((link, f.ts, f.data.to_vec(), f.wire_len));
            });
            if let Err(e) = fed {
                self.failed.get_or_insert(e.into());
                self.eof = true;
            }
        }
        let Some((link, ts, data, wire_len)) = self.frames.pop_front() else { return Ok(None) };
        self.current = data;
        Ok(Some((link, Frame { ts, data: &self.current, wire_len })))
    }
}
