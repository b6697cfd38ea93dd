//! Cuts one direction of a reassembled stream into newline-terminated lines.
//!
//! Stratum is newline-delimited JSON. Lines that lie wholly inside one delivered chunk are handed
//! out as borrowed slices of it (no copy); only a line that spans chunks is buffered, and the
//! buffer never grows past `max_line`: a longer line is dropped and counted, and the framer skips
//! to the next newline. After a gap in the stream the partial line is dropped the same way, which
//! is how a line-framed protocol resynchronises (Suricata does the same after a gap).

use memchr::memchr;

#[derive(Debug)]
pub struct LineFramer {
    buf: Vec<u8>,
    /// Discarding bytes until the next newline (after a gap, an overlong line, or a midstream
    /// pickup that did not start on a message boundary).
    skipping: bool,
    max_line: usize,
    /// Lines dropped for being longer than `max_line`.
    pub overlong: u64,
}

impl LineFramer {
    pub fn new(max_line: usize) -> LineFramer {
        LineFramer { buf: Vec::new(), skipping: false, max_line, overlong: 0 }
    }

    /// A framer for a stream picked up in the middle: unless the first byte opens a JSON
    /// message, everything up to the first newline is a fragment of a line we never saw.
    pub fn midstream(max_line: usize) -> LineFramer {
        let mut f = LineFramer::new(max_line);
        f.skipping = true;
        f
    }

    /// Bytes held for an incomplete line.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Bytes allocated for the partial-line buffer (it keeps its capacity between lines).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Whether the framer is still looking for a line start.
    pub fn is_skipping(&self) -> bool {
        self.skipping
    }

    /// Data is missing before the next chunk: drop the partial line and resynchronise.
    pub fn gap(&mut self) {
        self.buf.clear();
        self.skipping = true;
    }

    /// Feeds in-order bytes; `on_line` gets each complete line without its `\n`.
    pub fn push(&mut self, mut data: &[u8], mut on_line: impl FnMut(&[u8])) {
        if self.skipping && self.buf.is_empty() {
            // A midstream or post-gap chunk that starts with `{` is most likely a message start
            // (senders write whole messages); take it as one instead of losing a line.
            if data.first() == Some(&b'{') {
                self.skipping = false;
            }
        }
        while !data.is_empty() {
            let nl = memchr(b'\n', data);
            if self.skipping {
                match nl {
                    Some(i) => {
                        self.skipping = false;
                        data = data.get(i + 1..).unwrap_or_default();
                        continue;
                    }
                    None => return,
                }
            }
            match nl {
                Some(i) => {
                    let (line, rest) = data.split_at(i);
                    if self.buf.is_empty() {
                        on_line(line);
                    } else if self.buf.len() + line.len() <= self.max_line {
                        self.buf.extend_from_slice(line);
                        on_line(&self.buf);
                        self.buf.clear();
                    } else {
                        self.overlong += 1;
                        self.buf.clear();
                    }
                    data = rest.get(1..).unwrap_or_default();
                }
                None => {
                    if self.buf.len() + data.len() <= self.max_line {
                        self.buf.extend_from_slice(data);
                    } else {
                        self.overlong += 1;
                        self.buf.clear();
                        self.skipping = true;
                    }
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(f: &mut LineFramer, chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, |l| out.push(l.to_vec()));
        }
        out
    }

    #[test]
    fn splits_and_joins_across_chunks() {
        let mut f = LineFramer::new(100);
        let got = lines(&mut f, &[b"ab\ncd", b"e\n\nf", b"g\n"]);
        assert_eq!(got, vec![b"ab".to_vec(), b"cde".to_vec(), b"".to_vec(), b"fg".to_vec()]);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn one_byte_chunks_give_the_same_lines() {
        let data = b"{\"a\":1}\r\n{\"b\":2}\n";
        let mut f = LineFramer::new(100);
        let chunks: Vec<&[u8]> = data.chunks(1).collect();
        let got = lines(&mut f, &chunks);
        assert_eq!(got, vec![b"{\"a\":1}\r".to_vec(), b"{\"b\":2}".to_vec()]);
    }

    #[test]
    fn overlong_line_is_dropped_and_counted_then_resyncs() {
        let mut f = LineFramer::new(8);
        let got = lines(&mut f, &[b"0123456", b"789abc", b"def\nok\n"]);
        assert_eq!(got, vec![b"ok".to_vec()]);
        assert_eq!(f.overlong, 1);
        assert!(f.buffered() <= 8);
    }

    #[test]
    fn gap_drops_partial_line_and_skips_to_next_newline() {
        let mut f = LineFramer::new(100);
        let mut got = lines(&mut f, &[b"{\"a\":"]);
        f.gap();
        got.extend(lines(&mut f, &[b"tail of other\n{\"b\":1}\n"]));
        assert_eq!(got, vec![b"{\"b\":1}".to_vec()]);
    }

    #[test]
    fn midstream_takes_a_chunk_that_opens_a_message() {
        let mut f = LineFramer::midstream(100);
        assert_eq!(lines(&mut f, &[b"{\"x\":1}\n"]), vec![b"{\"x\":1}".to_vec()]);
        let mut g = LineFramer::midstream(100);
        assert_eq!(lines(&mut g, &[b"x\":1}\n{\"y\":2}\n"]), vec![b"{\"y\":2}".to_vec()]);
    }
}
