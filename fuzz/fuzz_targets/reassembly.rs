//! Fuzz target `reassembly`: see `testkit::fuzzing::fuzz_reassembly` for the input encoding and the
//! invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    testkit::fuzzing::fuzz_reassembly(data);
});
