//! Stratum V2 from the outside: its Noise handshake has a fixed shape, and that shape is all we
//! can see (everything after it is encrypted). See `docs/stratum-v2.md` for the reasoning and
//! the false-positive risk.
//!
//! The Noise NX handshake of the SV2 spec (§4.5): the initiator (miner or proxy) opens the
//! connection and sends its ephemeral key, 64 bytes of ElligatorSwift encoding, and nothing
//! else; the responder (pool) answers with exactly 234 bytes (its 64-byte ephemeral key, its
//! encrypted static key 64+16, and the encrypted signature noise message 74+16), and only then
//! does the initiator send its first encrypted frame. Drafts before ElligatorSwift used 32-byte
//! x-only keys, giving 32 and 170 bytes. [`Sv2Shape`] matches only these exact pairs, from the
//! first byte of a connection seen from its SYN, with the initiator's key looking random.
//!
//! Pure and bounded: it counts bytes and remembers which byte values the key used (a 256-bit
//! set); no payload is kept.

/// (initiator's first message, responder's reply) in the current spec and in older drafts.
pub const SHAPES: [(u64, u64); 2] = [(64, 234), (32, 170)];

/// What the opening of a connection says so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sv2Verdict {
    /// Still consistent with the handshake: wait for more.
    Undecided,
    /// The exact handshake shape was seen, and the initiator has started its first frame.
    Match,
    /// Not a Stratum V2 handshake.
    NoMatch,
}

/// Byte counts of the first two messages of a connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sv2Shape {
    /// Bytes the initiator sent before the responder's first byte.
    initiator: u64,
    /// Bytes the responder sent before the initiator spoke again.
    responder: u64,
    /// Which byte values the initiator's key used.
    seen: [u64; 4],
    decided: Option<bool>,
}

impl Sv2Shape {
    pub fn new() -> Sv2Shape {
        Sv2Shape::default()
    }

    /// Takes the next in-order bytes of one direction (`from_initiator`: the side that opened
    /// the connection and spoke first).
    pub fn data(&mut self, from_initiator: bool, bytes: &[u8]) -> Sv2Verdict {
        if let Some(d) = self.decided {
            return if d { Sv2Verdict::Match } else { Sv2Verdict::NoMatch };
        }
        if bytes.is_empty() {
            return Sv2Verdict::Undecided;
        }
        let n = bytes.len() as u64;
        let verdict = if from_initiator {
            if self.responder == 0 {
                self.initiator += n;
                for &b in bytes.iter().take(64) {
                    if let Some(w) = self.seen.get_mut(usize::from(b >> 6)) {
                        *w |= 1 << (b & 63);
                    }
                }
                if self.initiator > SHAPES[0].0 {
                    Sv2Verdict::NoMatch
                } else {
                    Sv2Verdict::Undecided
                }
            } else if SHAPES.contains(&(self.initiator, self.responder)) && self.key_looks_random() {
                Sv2Verdict::Match
            } else {
                Sv2Verdict::NoMatch
            }
        } else {
            self.responder += n;
            let expected = SHAPES.iter().find(|s| s.0 == self.initiator).map(|s| s.1);
            match expected {
                Some(e) if self.responder <= e => Sv2Verdict::Undecided,
                _ => Sv2Verdict::NoMatch,
            }
        };
        match verdict {
            Sv2Verdict::Match => self.decided = Some(true),
            Sv2Verdict::NoMatch => self.decided = Some(false),
            Sv2Verdict::Undecided => {}
        }
        verdict
    }

    /// A public key encoding is uniformly random: 64 random bytes take ~57 distinct values and
    /// 32 take ~30; text or structured binary takes far fewer. The thresholds below are
    /// practically never missed by random keys (the chance is below 10^-9).
    fn key_looks_random(&self) -> bool {
        let distinct: u32 = self.seen.iter().map(|w| w.count_ones()).sum();
        match self.initiator {
            64 => distinct >= 40,
            32 => distinct >= 22,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    fn run(steps: &[(bool, Vec<u8>)]) -> Sv2Verdict {
        let mut s = Sv2Shape::new();
        let mut v = Sv2Verdict::Undecided;
        for (from, b) in steps {
            v = s.data(*from, b);
        }
        v
    }

    #[test]
    fn exact_shapes_match_in_any_segmentation() {
        let key = random(64, 3);
        let reply = random(234, 4);
        assert_eq!(
            run(&[(true, key.clone()), (false, reply.clone()), (true, random(60, 5))]),
            Sv2Verdict::Match
        );
        let split = vec![
            (true, key[..10].to_vec()),
            (true, key[10..].to_vec()),
            (false, reply[..100].to_vec()),
            (false, reply[100..].to_vec()),
            (true, vec![1]),
        ];
        assert_eq!(run(&split), Sv2Verdict::Match);
        assert_eq!(
            run(&[(true, random(32, 6)), (false, random(170, 7)), (true, random(40, 8))]),
            Sv2Verdict::Match
        );
    }

    #[test]
    fn other_shapes_do_not() {
        // Undecided until the initiator speaks again.
        assert_eq!(run(&[(true, random(64, 1)), (false, random(234, 2))]), Sv2Verdict::Undecided);
        // Wrong sizes on either side.
        assert_eq!(run(&[(true, random(65, 1))]), Sv2Verdict::NoMatch);
        assert_eq!(run(&[(true, random(48, 1)), (false, random(10, 2))]), Sv2Verdict::NoMatch);
        assert_eq!(run(&[(true, random(64, 1)), (false, random(235, 2))]), Sv2Verdict::NoMatch);
        assert_eq!(
            run(&[(true, random(64, 1)), (false, random(200, 2)), (true, vec![1])]),
            Sv2Verdict::NoMatch
        );
        // The responder speaking first.
        assert_eq!(run(&[(false, random(234, 2))]), Sv2Verdict::NoMatch);
        // The right sizes, but the "key" is text.
        let text = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".to_vec();
        assert_eq!(run(&[(true, text), (false, random(234, 2)), (true, vec![1])]), Sv2Verdict::NoMatch);
        // Decided stays decided.
        let mut s = Sv2Shape::new();
        assert_eq!(s.data(true, &random(70, 1)), Sv2Verdict::NoMatch);
        assert_eq!(s.data(false, &random(234, 1)), Sv2Verdict::NoMatch);
    }
}
