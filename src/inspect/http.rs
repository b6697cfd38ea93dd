//! HTTP getwork/getblocktemplate (`stratum::http`), for a flow whose client opened with `POST `.

use std::mem::size_of;

use crate::flow::Side;
use crate::stratum::http::HttpSession;

use super::{Cx, Parse, SessionView, Step};

#[derive(Debug)]
pub struct Http {
    client: Side,
    http: Box<HttpSession>,
}

impl Http {
    pub fn new(http: HttpSession, client: Side) -> Http {
        Http { client, http: Box::new(http) }
    }
}

impl Parse for Http {
    fn data(&mut self, side: Side, data: &[u8], _: bool, cx: &mut Cx<'_>) -> Step {
        match self.http.push(side == self.client, data, cx.ts) {
            Ok(p) => {
                cx.counters.http_requests += u64::from(p.requests);
                *cx.idle_lines += p.other;
                Step::Continue
            }
            Err(_) => {
                cx.counters.http_errors += 1;
                Step::Bypass
            }
        }
    }

    fn gap(&mut self, _: Side) -> Step {
        // HTTP needs every byte, until it is recognised.
        if self.http.confidence().is_some() {
            Step::Continue
        } else {
            Step::Bypass
        }
    }

    fn session(&self) -> Option<SessionView<'_>> {
        let confidence = self.http.confidence()?;
        Some(SessionView { facts: self.http.facts(), confidence, whole: false, tunnel: None })
    }

    fn allocated(&self) -> usize {
        size_of::<HttpSession>() + self.http.buffered()
    }
}
