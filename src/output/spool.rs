//! The on-disk spool of one network output: records that could not be delivered yet, kept across
//! a SIEM outage and a minewatch restart, and sent (oldest first) before anything newer.
//!
//! Layout: a directory of append-only segment files `seg-<16 digits>.log`, one record per line
//! (every format writes exactly one line per record and never a raw newline inside it), plus a
//! `cursor` file naming the segment and byte offset up to which records were delivered.
//!
//! Bounds: the segments together hold at most `max_bytes`; a record that would pass that is
//! refused and the caller counts it (`output_spool_dropped`). A segment is closed at
//! [`SEGMENT_BYTES`], and a segment is only read once closed, so memory holds at most one segment.
//! Delivered segments are deleted.
//!
//! Durability (fsync policy): a segment is fsync'd when it is closed (full, about to be read, or
//! at shutdown), not after every record: a crash of minewatch loses nothing (the data is in the
//! page cache), a power loss can lose the unsynced tail of the open segment. A torn last line
//! is skipped when read. The cursor is replaced atomically (write, rename) after every burst of
//! delivered records and is not fsync'd: after a power loss some records may be sent twice,
//! never skipped. Delivery from the spool is therefore at least once.
//!
//! One minewatch process per spool directory: nothing stops two from sharing one.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A segment is closed once it holds this much.
pub const SEGMENT_BYTES: u64 = 1 << 20;

pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    /// Segments on disk, oldest first: (sequence number, bytes).
    segments: VecDeque<(u64, u64)>,
    total: u64,
    /// The open segment being appended to.
    writer: Option<(u64, File)>,
    next_seq: u64,
    /// The oldest segment, loaded for sending: (sequence number, contents, read position).
    reading: Option<(u64, Vec<u8>, usize)>,
    /// Where delivery stopped in an earlier run: (segment, offset).
    cursor: Option<(u64, usize)>,
}

/// The most of one segment file that is read: what the writer can put there (a segment closes
/// past [`SEGMENT_BYTES`], so it holds at most that plus one record), with room to spare. A
/// larger file was not written by us; its excess is ignored.
const READ_LIMIT: u64 = 2 * SEGMENT_BYTES + (1 << 20);

fn read_bounded(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut data = Vec::new();
    if let Ok(f) = File::open(path) {
        let _ = f.take(READ_LIMIT).read_to_end(&mut data);
    }
    data
}

fn seg_name(seq: u64) -> String {
    format!("seg-{seq:016}.log")
}

fn parse_seg(name: &str) -> Option<u64> {
    name.strip_prefix("seg-")?.strip_suffix(".log")?.parse().ok()
}

impl Spool {
    /// Opens (creating) `dir` and finds the segments an earlier run left.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Spool> {
        fs::create_dir_all(dir)?;
        let mut found = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if let Some(seq) = entry.file_name().to_str().and_then(parse_seg) {
                found.push((seq, entry.metadata()?.len()));
            }
        }
        found.sort_unstable();
        let cursor = fs::read_to_string(dir.join("cursor")).ok().and_then(|s| {
            let mut it = s.split_whitespace();
            Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
        });
        let total = found.iter().map(|s| s.1).sum();
        let next_seq = found.last().map_or(1, |s| s.0 + 1);
        Ok(Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            segments: found.into(),
            total,
            writer: None,
            next_seq,
            reading: None,
            cursor,
        })
    }

    /// No record waits in the spool.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.total
    }

    /// Appends one record. `Ok(false)`: refused, because the spool is full or the record holds a
    /// newline (no formatter writes one).
    pub fn push(&mut self, rec: &[u8]) -> io::Result<bool> {
        let len = rec.len() as u64 + 1;
        if rec.contains(&b'\n') || self.total.saturating_add(len) > self.max_bytes {
            return Ok(false);
        }
        let full = self
            .writer
            .as_ref()
            .and_then(|(seq, _)| self.segments.back().filter(|s| s.0 == *seq))
            .map_or(true, |s| s.1 >= SEGMENT_BYTES);
        if full {
            self.close_writer()?;
            let seq = self.next_seq;
            self.next_seq += 1;
            let f = OpenOptions::new().create(true).append(true).open(self.dir.join(seg_name(seq)))?;
            self.writer = Some((seq, f));
            self.segments.push_back((seq, 0));
        }
        let mut line = Vec::with_capacity(rec.len() + 1);
        line.extend_from_slice(rec);
        line.push(b'\n');
        if let Some((_, f)) = self.writer.as_mut() {
            f.write_all(&line)?;
        }
        if let Some(last) = self.segments.back_mut() {
            last.1 += len;
        }
        self.total += len;
        Ok(true)
    }

    /// Closes the open segment, fsync'd.
    pub fn close_writer(&mut self) -> io::Result<()> {
        if let Some((_, f)) = self.writer.take() {
            f.sync_all()?;
        }
        Ok(())
    }

    /// The oldest record not yet delivered.
    pub fn front(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if self.reading.is_none() {
                let Some(&(seq, _)) = self.segments.front() else { return Ok(None) };
                if self.writer.as_ref().is_some_and(|w| w.0 == seq) {
                    self.close_writer()?;
                }
                let data = read_bounded(&self.dir.join(seg_name(seq)));
                let pos = match self.cursor {
                    Some((s, off)) if s == seq => off.min(data.len()),
                    _ => 0,
                };
                self.reading = Some((seq, data, pos));
            }
            if let Some((_, data, pos)) = &mut self.reading {
                // Skip empty lines; a last line without its newline is a torn write.
                while data.get(*pos) == Some(&b'\n') {
                    *pos += 1;
                }
                let rest = data.get(*pos..).unwrap_or_default();
                if let Some(n) = memchr::memchr(b'\n', rest) {
                    return Ok(rest.get(..n).map(<[u8]>::to_vec));
                }
            }
            self.finish_segment()?;
        }
    }

    /// Marks the record [`front`](Self::front) returned as delivered.
    pub fn pop(&mut self) -> io::Result<()> {
        if let Some((_, data, pos)) = &mut self.reading {
            let rest = data.get(*pos..).unwrap_or_default();
            match memchr::memchr(b'\n', rest) {
                Some(n) => *pos += n + 1,
                None => *pos = data.len(),
            }
            let more = data.get(*pos..).unwrap_or_default().contains(&b'\n');
            if !more {
                self.finish_segment()?;
            }
        }
        Ok(())
    }

    /// Deletes the segment being read: all of it was delivered (or it is torn).
    fn finish_segment(&mut self) -> io::Result<()> {
        if let Some((seq, _, _)) = self.reading.take() {
            let _ = fs::remove_file(self.dir.join(seg_name(seq)));
            if let Some(pos) = self.segments.iter().position(|s| s.0 == seq) {
                if let Some((_, len)) = self.segments.remove(pos) {
                    self.total = self.total.saturating_sub(len);
                }
            }
            self.cursor = None;
            self.commit()?;
        } else if let Some((seq, len)) = self.segments.pop_front() {
            let _ = fs::remove_file(self.dir.join(seg_name(seq)));
            self.total = self.total.saturating_sub(len);
        }
        Ok(())
    }

    /// Records how far delivery got, so a restart does not send it again.
    pub fn commit(&mut self) -> io::Result<()> {
        let text = match &self.reading {
            Some((seq, _, pos)) => format!("{seq} {pos}\n"),
            None => "0 0\n".to_string(),
        };
        let tmp = self.dir.join("cursor.tmp");
        fs::write(&tmp, text)?;
        fs::rename(&tmp, self.dir.join("cursor"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(s: &mut Spool) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(r) = s.front().unwrap() {
            out.push(String::from_utf8(r).unwrap());
            s.pop().unwrap();
        }
        out
    }

    #[test]
    fn fifo_across_reopen_and_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        for i in 0..5 {
            assert!(s.push(format!("r{i}").as_bytes()).unwrap());
        }
        assert_eq!(s.front().unwrap().as_deref(), Some(&b"r0"[..]));
        s.pop().unwrap();
        s.front().unwrap();
        s.pop().unwrap();
        s.commit().unwrap();
        drop(s);
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        assert!(!s.is_empty());
        assert!(s.push(b"r5").unwrap());
        assert_eq!(drain(&mut s), ["r2", "r3", "r4", "r5"]);
        assert!(s.is_empty());
        assert_eq!(s.bytes(), 0);
        drop(s);
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        assert!(s.is_empty());
        assert_eq!(drain(&mut s), Vec::<String>::new());
    }

    #[test]
    fn bounded_and_refuses_newlines() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 10).unwrap();
        assert!(s.push(b"1234").unwrap());
        assert!(s.push(b"1234").unwrap());
        assert!(!s.push(b"1").unwrap());
        assert!(!s.push(b"a\nb").unwrap());
        assert_eq!(drain(&mut s), ["1234", "1234"]);
        assert!(s.push(b"1234").unwrap());
    }

    #[test]
    fn torn_tail_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(seg_name(3)), b"ok1\nok2\ntor").unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        assert!(s.push(b"new").unwrap());
        assert_eq!(drain(&mut s), ["ok1", "ok2", "new"]);
    }
}
