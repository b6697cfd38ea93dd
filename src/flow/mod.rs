//! Per-worker flow table. (Being written.)
pub mod reassembly;
