//! The integration tests, as one test binary: one build and one link for all of them, and
//! helpers shared through [`util`] without `dead_code` allowances. Each module is one area; run
//! one with a filter on its path, e.g. `cargo test --test it live::` or
//! `cargo test --test it replay::`.

mod architecture;
mod cli;
mod delivery;
mod deploy;
mod dialects;
mod evasion;
mod exhaustion;
mod formats;
mod fuzz_seeds;
mod hostile;
mod live;
mod metrics;
mod outputs;
mod pcaps_fresh;
mod reader;
mod redis;
mod replay;
mod responder;
mod schemas;
mod siem;
mod syslog;
mod util;
