//! The integration tests, as one test binary: one build and one link for all of them, and
//! helpers shared through [`util`] without `dead_code` allowances. Each module is one area; run
//! one with a filter on its path, e.g. `cargo test --test it live::` or
//! `cargo test --test it replay::`.

mod architecture;
mod behaviour;
mod cli;
mod delivery;
mod deploy;
mod dialects;
mod edge_mix;
mod evasion;
mod exhaustion;
mod formats;
mod fragments;
mod fuzz_seeds;
mod hostile;
mod intel;
mod live;
mod metrics;
mod outputs;
mod package;
mod packets;
mod pcaps_fresh;
mod probe;
mod reader;
mod redis;
mod replay;
mod report;
mod responder;
mod schemas;
mod siem;
mod sv2;
mod syslog;
mod syslog_tls;
mod tunnels;
mod util;
