//! The Stratum V2 handshake shape (`stratum::sv2`, byte counts only), for a flow that opened
//! with some other binary bytes: only the exact shape keeps it from being bypassed.

use crate::flow::Side;
use crate::stratum::sv2::{Sv2Shape, Sv2Verdict};
use crate::stratum::{SessionFacts, Variant};

use super::{Cx, Parse, Parser, Recognised, SessionView, Step};

#[derive(Debug)]
pub struct Handshake {
    client: Side,
    shape: Sv2Shape,
}

impl Handshake {
    pub fn new(client: Side, shape: Sv2Shape) -> Handshake {
        Handshake { client, shape }
    }
}

impl Parse for Handshake {
    fn data(&mut self, side: Side, data: &[u8], _: bool, cx: &mut Cx<'_>) -> Step {
        match self.shape.data(side == self.client, data) {
            Sv2Verdict::Undecided => Step::Continue,
            Sv2Verdict::NoMatch => Step::Bypass,
            Sv2Verdict::Match => {
                cx.counters.sv2_handshakes += 1;
                let facts = SessionFacts {
                    variant: Some(Variant::StratumV2),
                    client: Some(self.client),
                    ..SessionFacts::default()
                };
                Step::Become(Box::new(Parser::Recognised(Recognised::new(facts))))
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
