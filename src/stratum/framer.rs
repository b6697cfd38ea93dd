//! Cuts one direction of a reassembled stream into newline-terminated lines.
//!
//! Stratum is newline-delimited JSON. Lines that lie wholly inside one delivered chunk are handed
//! out as borrowed slices of it (no copy); only a line that spans chunks is buffered, and the
//! buffer never grows past `max_line`: a longer line is dropped and counted, and the framer skips
//! to the next newline. After a gap in the stream the partial line is dropped the same way, which
//! is how a line-framed protocol resynchronises (Suricata does the same after a gap).
//!
//! **Messages over several lines.** Some pools and proxies pretty-print their JSON, so one
//! message spans lines. A line that opens a JSON object or array and leaves it open (brace depth
//! above zero outside strings) is not handed out; the following lines are appended to it (with
//! their `\n`) until the depth returns to zero, and the whole value is handed out as one
//! "line". The depth is tracked incrementally, so every byte is scanned once (linear); the
//! joined value obeys the same `max_line` bound as a line (overlong: dropped, counted, skip to
//! the next line). Only lines that fail the cheap end-of-line test (last significant byte is not
//! `}`/`]`) are scanned at all, so one-line messages cost nothing extra. Limit: a first line that
//! happens to end in `}` or `]` while still open (`{"a":{"b":1}`) is handed out alone and fails
//! to parse; pretty-printers put an opening bracket at the end of the line, so this does not
//! happen with them.

use memchr::memchr;

/// Incremental JSON bracket scanner: depth outside strings, and string/escape state.
#[derive(Clone, Copy, Debug, Default)]
struct Depth {
    depth: u32,
    in_string: bool,
    escaped: bool,
}

impl Depth {
    fn scan(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth = self.depth.saturating_add(1),
                b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
    }
}

/// Whether a complete line opens a JSON value it does not close, judged cheaply first: it must
/// start with `{`/`[` and not end with `}`/`]` (after JSON whitespace).
fn opens_multiline_value(line: &[u8]) -> Option<Depth> {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let first = line.iter().find(|b| !ws(b))?;
    let last = line.iter().rev().find(|b| !ws(b))?;
    if !matches!(first, b'{' | b'[') || matches!(last, b'}' | b']') {
        return None;
    }
    let mut d = Depth::default();
    d.scan(line);
    // Inside a string at the end of a line is not JSON (raw newlines are not allowed there).
    (d.depth > 0 && !d.in_string).then_some(d)
}

#[derive(Debug)]
pub struct LineFramer {
    buf: Vec<u8>,
    /// A JSON value spread over several lines, being joined, and its scanner state.
    joined: Vec<u8>,
    joining: Option<Depth>,
    /// Values handed out that had been joined from several lines.
    pub joined_values: u64,
    /// Discarding bytes until the next newline (after a gap, an overlong line, or a midstream
    /// pickup that did not start on a message boundary).
    skipping: bool,
    max_line: usize,
    /// Lines dropped for being longer than `max_line`.
    pub overlong: u64,
}

impl LineFramer {
    pub fn new(max_line: usize) -> LineFramer {
        LineFramer {
            buf: Vec::new(),
            joined: Vec::new(),
            joining: None,
            joined_values: 0,
            skipping: false,
            max_line,
            overlong: 0,
        }
    }

    /// A framer for a stream picked up in the middle: unless the first byte opens a JSON
    /// message, everything up to the first newline is a fragment of a line we never saw.
    pub fn midstream(max_line: usize) -> LineFramer {
        let mut f = LineFramer::new(max_line);
        f.skipping = true;
        f
    }

    /// Bytes held for an incomplete line or a value being joined.
    pub fn buffered(&self) -> usize {
        self.buf.len() + self.joined.len()
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
        self.joined.clear();
        self.joining = None;
        self.skipping = true;
    }

    /// Feeds in-order bytes; `on_line` gets each complete line without its `\n`.
    pub fn push(&mut self, data: &[u8], mut on_line: impl FnMut(&[u8])) {
        let LineFramer { buf, joined, joining, joined_values, skipping, max_line, overlong } = self;
        let mut joiner = Joiner { joined, joining, joined_values, overlong, max_line: *max_line };
        split_lines(buf, skipping, *max_line, data, |line, overlong| {
            if overlong {
                *joiner.overlong += 1;
                joiner.reset();
            } else {
                joiner.line(line, &mut on_line);
            }
        });
    }
}

/// The state that joins lines into multi-line JSON values (see the module doc).
struct Joiner<'f> {
    joined: &'f mut Vec<u8>,
    joining: &'f mut Option<Depth>,
    joined_values: &'f mut u64,
    overlong: &'f mut u64,
    max_line: usize,
}

impl Joiner<'_> {
    fn reset(&mut self) {
        self.joined.clear();
        *self.joining = None;
    }

    fn line(&mut self, line: &[u8], on_line: &mut impl FnMut(&[u8])) {
        if self.joining.is_some() && matches!(line.first(), Some(b'{' | b'[')) {
            // Pretty-printers indent what is nested, so a bracket in column 0 starts a new
            // message: the open value never closed. Hand it on (it will not parse) and start
            // afresh, so a stray `{` cannot swallow the messages after it.
            on_line(self.joined);
            self.reset();
        }
        let Some(depth) = self.joining.as_mut() else {
            match opens_multiline_value(line) {
                Some(d) if line.len() < self.max_line => {
                    self.joined.extend_from_slice(line);
                    *self.joining = Some(d);
                }
                _ => on_line(line),
            }
            return;
        };
        if self.joined.len() + 1 + line.len() > self.max_line {
            *self.overlong += 1;
            self.reset();
            return;
        }
        depth.scan(line);
        self.joined.push(b'\n');
        self.joined.extend_from_slice(line);
        if depth.in_string {
            // A raw newline inside a string: not JSON; hand it on to be judged and rejected.
            on_line(self.joined);
            self.reset();
        } else if depth.depth == 0 {
            *self.joined_values += 1;
            on_line(self.joined);
            self.reset();
        }
    }
}

/// Cuts `data` into lines; `on_line(line, false)` for each complete line, `on_line(&[], true)`
/// when an overlong line was dropped (so that a value being joined is abandoned too).
fn split_lines(
    buf: &mut Vec<u8>,
    skipping: &mut bool,
    max_line: usize,
    mut data: &[u8],
    mut on_line: impl FnMut(&[u8], bool),
) {
    {
        if *skipping && buf.is_empty() {
            // A midstream or post-gap chunk that starts with `{` is most likely a message start
            // (senders write whole messages); take it as one instead of losing a line.
            if data.first() == Some(&b'{') {
                *skipping = false;
            }
        }
        while !data.is_empty() {
            let nl = memchr(b'\n', data);
            if *skipping {
                match nl {
                    Some(i) => {
                        *skipping = false;
                        data = data.get(i + 1..).unwrap_or_default();
                        continue;
                    }
                    None => return,
                }
            }
            match nl {
                Some(i) => {
                    let (line, rest) = data.split_at(i);
                    if buf.is_empty() {
                        on_line(line, false);
                    } else if buf.len() + line.len() <= max_line {
                        buf.extend_from_slice(line);
                        on_line(buf, false);
                        buf.clear();
                    } else {
                        on_line(&[], true);
                        buf.clear();
                    }
                    data = rest.get(1..).unwrap_or_default();
                }
                None => {
                    if buf.len() + data.len() <= max_line {
                        buf.extend_from_slice(data);
                    } else {
                        on_line(&[], true);
                        buf.clear();
                        *skipping = true;
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
    fn pretty_printed_values_are_joined_across_lines_and_chunks() {
        let msg: &[u8] = b"{\r\n  \"id\": 1,\r\n  \"method\": \"mining.subscribe\",\r\n  \"params\": [\r\n    \"a}]{[\\\"\"\r\n  ]\r\n}\r\n{\"id\":2}\n[\n 1,\n 2\n]\n";
        for size in [1, 3, 7, msg.len()] {
            let mut f = LineFramer::new(1000);
            let chunks: Vec<&[u8]> = msg.chunks(size).collect();
            let got = lines(&mut f, &chunks);
            assert_eq!(got.len(), 3, "chunk size {size}: {got:?}");
            let v: serde_json::Value = serde_json::from_slice(&got[0]).unwrap();
            assert_eq!(v["method"], "mining.subscribe");
            assert_eq!(v["params"][0], "a}]{[\"");
            assert_eq!(got[1], b"{\"id\":2}");
            assert_eq!(got[2], b"[\n 1,\n 2\n]");
            assert_eq!(f.joined_values, 2);
            assert_eq!(f.buffered(), 0);
        }
    }

    #[test]
    fn joining_is_bounded_and_recovers() {
        // Never closes: dropped at the bound, counted, and the next message still comes out.
        let mut f = LineFramer::new(64);
        let mut data = b"{\n".to_vec();
        for _ in 0..20 {
            data.extend_from_slice(b"  \"k\": [1, 2, 3],\n");
        }
        data.extend_from_slice(b"}\n{\"id\":3}\n");
        let got = lines(&mut f, &[&data]);
        assert_eq!(got.last().map(Vec::as_slice), Some(&b"{\"id\":3}"[..]));
        assert_eq!(f.overlong, 1);
        assert!(f.buffered() <= 64);
        // A stray unclosed `{` line does not swallow the message in column 0 after it.
        let mut f = LineFramer::new(1000);
        let got = lines(&mut f, &[b"{ \"a\": [\n{\"id\":4}\n"]);
        assert_eq!(got, vec![b"{ \"a\": [".to_vec(), b"{\"id\":4}".to_vec()]);
        // A raw newline inside a string is handed on at once, not joined further.
        let mut f = LineFramer::new(1000);
        let got = lines(&mut f, &[b"{\"a\": [\"x\n\"]}\n"]);
        assert_eq!(got.len(), 2);
        assert_eq!(f.buffered(), 0);
        // A gap abandons a value being joined.
        let mut f = LineFramer::new(1000);
        let mut got = lines(&mut f, &[b"{\n \"a\": 1,\n"]);
        f.gap();
        got.extend(lines(&mut f, &[b" \"b\": 2\n}\n{\"id\":5}\n"]));
        // (the first whole line after the resync is the tail of the lost value)
        assert_eq!(got, vec![b"}".to_vec(), b"{\"id\":5}".to_vec()]);
    }

    #[test]
    fn midstream_takes_a_chunk_that_opens_a_message() {
        let mut f = LineFramer::midstream(100);
        assert_eq!(lines(&mut f, &[b"{\"x\":1}\n"]), vec![b"{\"x\":1}".to_vec()]);
        let mut g = LineFramer::midstream(100);
        assert_eq!(lines(&mut g, &[b"x\":1}\n{\"y\":2}\n"]), vec![b"{\"y\":2}".to_vec()]);
    }
}
