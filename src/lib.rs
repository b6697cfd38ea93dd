//! minewatch: find the hosts on a network that mine cryptocurrency, by parsing the Stratum
//! mining-pool protocol out of reassembled TCP streams.
//!
//! Data flows one way: [`capture`] yields packets, [`decode`] turns each into a borrowed view,
//! [`pipeline`] shards them by a symmetric flow hash onto workers, each worker owns a
//! [`flow::FlowTable`] that tracks connections and reassembles TCP for the [`inspect`]or of each
//! connection, whose parsers ([`stratum`] lines, TLS, HTTP, Stratum V2) gather a session's facts,
//! and [`verdict`] turns them into [`output`] records and the shared [`hosts`] table; [`report`]
//! gathers what the records showed into a page, a JSON document and intelligence exports.
#![forbid(unsafe_code)]

pub mod capture;
pub mod cli;
pub mod config;
pub mod decode;
pub mod flow;
pub mod hosts;
pub mod inspect;
pub mod intel;
pub mod metrics;
pub mod output;
pub mod pipeline;
pub mod preflight;
pub mod privilege;
pub mod probe;
pub mod report;
pub mod sensor;
pub mod stats;
pub mod stratum;
pub mod summary;
pub mod time;
pub mod verdict;
