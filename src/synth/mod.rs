//! Synthetic captures for tests and benchmarks. (Being written.)
