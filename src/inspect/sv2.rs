//! Stratum V2, for a flow whose first speaker opened with binary bytes: a plain SetupConnection
//! frame makes it plain SV2 ([`Plain`], read to the same facts as Stratum V1); otherwise only
//! the exact Noise handshake shape (`stratum::sv2`, byte counts only) keeps it from being
//! bypassed, and then its encrypted pushes are counted as the alert's evidence ([`Noise`]).

use crate::flow::Side;
use crate::stratum::sv2::{self as wire, PlainVerdict, Sv2Shape, Sv2Verdict};
use crate::stratum::{Confidence, Encrypted, SessionFacts, Variant};

use super::{Cx, Parse, Parser, SessionView, Step};

/// The opening of a binary flow: the handshake shape, and the first six bytes of the initiator
/// to tell a plain SetupConnection header.
#[derive(Debug)]
pub struct Handshake {
    client: Side,
    shape: Sv2Shape,
    head: [u8; wire::HEADER_LEN],
    head_len: u8,
    /// Bytes of each handshake message so far (initiator, responder).
    sizes: [u32; 2],
}

impl Handshake {
    pub fn new(client: Side, shape: Sv2Shape) -> Handshake {
        Handshake { client, shape, head: [0; wire::HEADER_LEN], head_len: 0, sizes: [0, 0] }
    }

    /// The initiator's first bytes: once six are known, a plain SetupConnection header turns
    /// the flow into plain SV2, which reads the stream from its first byte.
    fn plain(&mut self, data: &[u8], cx: &mut Cx<'_>) -> Option<Step> {
        let have = usize::from(self.head_len);
        if have >= wire::HEADER_LEN || self.sizes[1] > 0 {
            return None;
        }
        let add = (wire::HEADER_LEN - have).min(data.len());
        if let (Some(dst), Some(src)) = (self.head.get_mut(have..have + add), data.get(..add)) {
            dst.copy_from_slice(src);
        }
        self.head_len = (have + add) as u8;
        if usize::from(self.head_len) < wire::HEADER_LEN || !wire::is_setup_connection(&self.head) {
            return None;
        }
        cx.counters.sv2_plain += 1;
        let mut p = Plain { plain: wire::Plain::new(self.client, cx.shared.parsers), malformed: 0 };
        let head = self.head;
        let rest = data.get(add..).unwrap_or_default();
        Some(match p.data(self.client, &head, true, cx) {
            Step::Continue => match p.data(self.client, rest, true, cx) {
                Step::Continue => Step::Become(Box::new(Parser::Sv2Plain(p))),
                other => other,
            },
            other => other,
        })
    }
}

impl Parse for Handshake {
    fn data(&mut self, side: Side, data: &[u8], _: bool, cx: &mut Cx<'_>) -> Step {
        let from_client = side == self.client;
        if from_client {
            if let Some(step) = self.plain(data, cx) {
                return step;
            }
        }
        let i = usize::from(!from_client);
        match self.shape.data(from_client, data) {
            Sv2Verdict::Undecided => {
                self.sizes[i] = self.sizes[i].saturating_add(data.len() as u32);
                Step::Continue
            }
            Sv2Verdict::NoMatch => Step::Bypass,
            Sv2Verdict::Match => {
                cx.counters.sv2_handshakes += 1;
                let mut encrypted = Encrypted { handshake: self.sizes, ..Encrypted::default() };
                // This is the initiator's first encrypted frame.
                encrypted.toserver.add(data.len());
                let facts = SessionFacts {
                    variant: Some(Variant::StratumV2),
                    client: Some(self.client),
                    encrypted: Some(Box::new(encrypted)),
                    ..SessionFacts::default()
                };
                Step::Become(Box::new(Parser::Sv2Noise(Noise {
                    client: self.client,
                    facts: Box::new(facts),
                })))
            }
        }
    }

    fn gap(&mut self, _: Side) -> Step {
        // The shape needs every byte from the start.
        Step::Bypass
    }

    fn session(&self) -> Option<SessionView<'_>> {
        None
    }
}

/// An SV2 session after its Noise handshake: nothing can be read, but its pushes each way
/// (count, bytes, smallest, largest) are the evidence of the `suspected` alert.
#[derive(Debug)]
pub struct Noise {
    client: Side,
    facts: Box<SessionFacts>,
}

impl Parse for Noise {
    fn data(&mut self, side: Side, data: &[u8], _: bool, _: &mut Cx<'_>) -> Step {
        if let Some(e) = self.facts.encrypted.as_mut() {
            let pushes = if side == self.client { &mut e.toserver } else { &mut e.toclient };
            pushes.add(data.len());
        }
        Step::Continue
    }

    fn gap(&mut self, _: Side) -> Step {
        Step::Continue
    }

    fn session(&self) -> Option<SessionView<'_>> {
        Some(SessionView { facts: &self.facts, confidence: Confidence::Suspected, whole: true, tunnel: None })
    }
}

/// A plain SV2 connection, read to the same facts as Stratum V1 (`stratum::sv2::Plain`).
#[derive(Debug)]
pub struct Plain {
    plain: wire::Plain,
    /// Malformed messages already counted.
    malformed: u64,
}

impl Parse for Plain {
    fn data(&mut self, side: Side, data: &[u8], _: bool, cx: &mut Cx<'_>) -> Step {
        let verdict = self.plain.data(side, data, cx.ts);
        let malformed = self.plain.malformed();
        cx.counters.sv2_malformed += malformed.saturating_sub(self.malformed);
        self.malformed = malformed;
        match verdict {
            PlainVerdict::Continue => Step::Continue,
            PlainVerdict::NotSv2 => Step::Bypass,
        }
    }

    fn gap(&mut self, _: Side) -> Step {
        // Frames cannot be found again after a gap: keep what was learnt, read no further.
        match self.session() {
            Some(_) => Step::Become(Box::new(Parser::Recognised(super::Recognised::with_confidence(
                self.plain.facts().clone(),
                self.plain.confidence().unwrap_or(Confidence::Detected),
            )))),
            None => Step::Bypass,
        }
    }

    fn session(&self) -> Option<SessionView<'_>> {
        let confidence = self.plain.confidence()?;
        Some(SessionView { facts: self.plain.facts(), confidence, whole: false, tunnel: None })
    }

    fn allocated(&self) -> usize {
        self.plain.allocated()
    }
}
