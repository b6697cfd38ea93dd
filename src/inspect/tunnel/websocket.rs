//! WebSocket frames (RFC 6455 §5) of one direction, read as they stream by: client frames
//! unmasked, fragmented messages joined, control frames (close, ping, pong) skipped, and each
//! whole text or binary message handed on. A message longer than the bound is skipped whole
//! (counted), never buffered past it; a frame's payload is copied only into the message being
//! joined.
//!
//! Why our own: the crates (tungstenite and the like) read frames from a socket they own and
//! answer pings; a sensor reads both directions' bytes passively, from the middle of the
//! stream's segments, with no I/O: a 14-byte header and a mask are all there is to it.

/// What the reader found in a push.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Read {
    /// Messages longer than the bound, skipped.
    pub overlong: u64,
    /// The stream is not WebSocket frames (reserved bits or opcodes, a control frame too long
    /// or fragmented, a client frame without its mask).
    pub broken: bool,
}

#[derive(Debug)]
pub struct Frames {
    /// Frames from the client must be masked (RFC 6455 §5.1).
    client: bool,
    /// Longest message joined.
    max: usize,
    head: [u8; 14],
    head_len: usize,
    /// The current frame, once its header is whole: payload bytes left, its mask and where in
    /// it the next byte falls, whether it is a control frame, whether it ends its message.
    left: u64,
    mask: Option<[u8; 4]>,
    mask_pos: usize,
    in_frame: bool,
    control: bool,
    fin: bool,
    /// A data message is being joined (a first frame seen, its final one not yet).
    in_message: bool,
    /// The message outgrew the bound: the rest of it is skipped.
    skipping: bool,
    msg: Vec<u8>,
}

impl Frames {
    pub fn new(client: bool, max: usize) -> Frames {
        Frames {
            client,
            max,
            head: [0; 14],
            head_len: 0,
            left: 0,
            mask: None,
            mask_pos: 0,
            in_frame: false,
            control: false,
            fin: false,
            in_message: false,
            skipping: false,
            msg: Vec::new(),
        }
    }

    /// Bytes held.
    pub fn capacity(&self) -> usize {
        self.msg.capacity()
    }

    /// The length of the frame header that `head` begins, once its first two bytes are in.
    fn header_len(&self) -> Option<usize> {
        let b1 = *self.head.get(1)?;
        let ext = match b1 & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        Some(2 + ext + if b1 & 0x80 != 0 { 4 } else { 0 })
    }

    /// Reads `data`, handing each whole data message to `msg`.
    pub fn push(&mut self, mut data: &[u8], msg: &mut dyn FnMut(&[u8])) -> Read {
        let mut out = Read::default();
        while !data.is_empty() {
            if !self.in_frame {
                // Gather the header: two bytes, then as many more as they say.
                let want = if self.head_len < 2 { 2 } else { self.header_len().unwrap_or(2) };
                let take = (want - self.head_len).min(data.len());
                let (h, rest) = data.split_at(take);
                if let Some(dst) = self.head.get_mut(self.head_len..self.head_len + take) {
                    dst.copy_from_slice(h);
                }
                self.head_len += take;
                data = rest;
                if self.head_len < 2 || Some(self.head_len) != self.header_len() {
                    continue;
                }
                if !self.start_frame() {
                    out.broken = true;
                    return out;
                }
                if self.left > 0 {
                    continue;
                }
            } else {
                let take = usize::try_from(self.left).unwrap_or(usize::MAX).min(data.len());
                let (p, rest) = data.split_at(take);
                data = rest;
                self.left -= take as u64;
                if !self.control && !self.skipping {
                    if self.msg.len() + p.len() > self.max {
                        self.skipping = true;
                        self.msg = Vec::new();
                        out.overlong += 1;
                    } else {
                        let from = self.msg.len();
                        self.msg.extend_from_slice(p);
                        if let (Some(mask), Some(tail)) = (self.mask, self.msg.get_mut(from..)) {
                            for b in tail {
                                *b ^= mask.get(self.mask_pos & 3).copied().unwrap_or(0);
                                self.mask_pos += 1;
                            }
                        }
                    }
                }
                if self.left > 0 {
                    continue;
                }
            }
            // The frame is whole.
            self.in_frame = false;
            self.head_len = 0;
            if !self.control && self.fin {
                if !self.skipping {
                    msg(&self.msg);
                }
                self.msg.clear();
                self.in_message = false;
                self.skipping = false;
            }
        }
        out
    }

    /// Reads a whole frame header. False: not a WebSocket frame.
    fn start_frame(&mut self) -> bool {
        let [b0, b1, ..] = self.head;
        let (fin, rsv, opcode, masked) = (b0 & 0x80 != 0, b0 & 0x70, b0 & 0x0f, b1 & 0x80 != 0);
        let len7 = u64::from(b1 & 0x7f);
        let (len, mask_at) = match len7 {
            126 => (self.head.get(2..4).map_or(0, be), 4),
            127 => (self.head.get(2..10).map_or(0, be), 10),
            n => (n, 2),
        };
        let control = opcode >= 8;
        // Reserved bits (no extension is read: permessage-deflate would set RSV1), reserved
        // opcodes, a fragmented or long control frame, a continuation with no message begun,
        // a new message inside one, an unmasked client frame.
        let bad = rsv != 0
            || matches!(opcode, 3..=7 | 11..=15)
            || (control && (!fin || len > 125))
            || (opcode == 0 && !self.in_message)
            || (matches!(opcode, 1 | 2) && self.in_message)
            || masked != self.client;
        if bad {
            return false;
        }
        self.mask = masked.then(|| {
            let mut m = [0u8; 4];
            if let Some(s) = self.head.get(mask_at..mask_at + 4) {
                m.copy_from_slice(s);
            }
            m
        });
        self.mask_pos = 0;
        self.left = len;
        self.in_frame = true;
        self.control = control;
        self.fin = fin;
        if !control {
            self.in_message = true;
        }
        true
    }
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics_and_stays_within_its_bound(data in proptest::collection::vec(any::<u8>(), 0..2000), cut in 1usize..64, client in any::<bool>()) {
            let mut fr = Frames::new(client, 100);
            for c in data.chunks(cut) {
                let mut too_long = false;
                fr.push(c, &mut |m| too_long |= m.len() > 100);
                prop_assert!(!too_long);
                prop_assert!(fr.msg.len() <= 100);
            }
        }
    }

    /// A frame: `opcode`, final or not, masked with `mask` when given.
    pub fn frame(opcode: u8, fin: bool, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
        let mut f = vec![opcode | if fin { 0x80 } else { 0 }];
        let m = if mask.is_some() { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => f.push(m | n as u8),
            n if n < 65536 => {
                f.push(m | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(m | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        match mask {
            Some(k) => {
                f.extend_from_slice(&k);
                f.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
            }
            None => f.extend_from_slice(payload),
        }
        f
    }

    fn read(fr: &mut Frames, data: &[u8], cut: usize) -> (Vec<Vec<u8>>, Read) {
        let mut got = Vec::new();
        let mut total = Read::default();
        for c in data.chunks(cut) {
            let r = fr.push(c, &mut |m| got.push(m.to_vec()));
            total.overlong += r.overlong;
            total.broken |= r.broken;
        }
        (got, total)
    }

    #[test]
    fn unmasks_joins_and_skips_control_frames_in_any_cut() {
        let login = br#"{"type":"auth","params":{"site_key":"abc","type":"anonymous","user":null}}"#;
        let big = vec![b'x'; 300];
        let mut s = frame(1, false, &login[..10], Some([1, 2, 3, 4]));
        s.extend(frame(9, true, b"ping", Some([9, 9, 9, 9])));
        s.extend(frame(0, false, &login[10..40], Some([5, 6, 7, 8])));
        s.extend(frame(0, true, &login[40..], Some([0xaa, 0xbb, 0xcc, 0xdd])));
        s.extend(frame(2, true, &big, Some([1, 1, 1, 1])));
        for cut in [1, 2, 3, 7, 1000] {
            let mut fr = Frames::new(true, 4096);
            let (got, r) = read(&mut fr, &s, cut);
            assert_eq!(got, vec![login.to_vec(), big.clone()], "cut {cut}");
            assert_eq!(r, Read::default());
        }
        // The server's frames are not masked.
        let mut fr = Frames::new(false, 4096);
        let (got, _) = read(&mut fr, &frame(1, true, b"{\"type\":\"job\"}", None), 5);
        assert_eq!(got, vec![b"{\"type\":\"job\"}".to_vec()]);
    }

    #[test]
    fn an_overlong_message_is_skipped_and_the_next_read() {
        let mut s = frame(1, false, &[b'a'; 100], None);
        s.extend(frame(0, true, &[b'a'; 100], None));
        s.extend(frame(1, true, b"{}", None));
        let mut fr = Frames::new(false, 150);
        let (got, r) = read(&mut fr, &s, 13);
        assert_eq!((got, r.overlong), (vec![b"{}".to_vec()], 1));
        assert!(fr.capacity() <= 256);
        // A 2^63-byte frame is counted and skipped as it streams by, never buffered.
        let mut huge = vec![0x82, 127];
        huge.extend_from_slice(&(1u64 << 62).to_be_bytes());
        huge.extend_from_slice(&[0; 1000]);
        let mut fr = Frames::new(false, 150);
        assert_eq!(read(&mut fr, &huge, 100).1.overlong, 1);
        assert!(fr.capacity() <= 256);
    }

    #[test]
    fn what_is_not_frames_is_broken() {
        for bad in [
            frame(1, true, b"x", Some([1, 2, 3, 4])), // masked from the server
            frame(3, true, b"x", None),               // reserved opcode
            frame(9, false, b"x", None),              // fragmented ping
            frame(0, true, b"x", None),               // continuation of nothing
            vec![0xc1, 0x01, b'x'],                   // RSV1 (compression) set
        ] {
            let mut fr = Frames::new(false, 100);
            assert!(read(&mut fr, &bad, 100).1.broken, "{bad:?}");
        }
        let mut fr = Frames::new(true, 100);
        assert!(read(&mut fr, &frame(1, true, b"x", None), 100).1.broken, "unmasked from the client");
    }
}
