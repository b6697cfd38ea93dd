//! Fuzz target `intel_lists`: see `testkit::fuzzing::fuzz_intel_lists` for the input encoding
//! and the invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    testkit::fuzzing::fuzz_intel_lists(data);
});
