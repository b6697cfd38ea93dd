//! minewatch's test kit: what the tests, benches and fuzz targets need and the sensor does not.
//!
//! - [`synth`]: synthetic captures written from a script (pcap and pcapng writers, frames, TCP
//!   conversations, Stratum text), the bundled `pcaps/` with their truth table, and the large
//!   benchmark capture. The `mkpcaps` and `mkbench` binaries write them to disk.
//! - [`fuzzing`]: the entry points of the fuzz targets in `fuzz/` and the seeds they start from,
//!   also replayed by the integration tests.
//!
//! It lives in its own crate (`publish = false`) so that none of it ships inside the product:
//! it uses the product only through its public API, and the product's own types (the link type,
//! the sides of a connection) rather than copies of them.
#![forbid(unsafe_code)]

pub mod fuzzing;
pub mod synth;
