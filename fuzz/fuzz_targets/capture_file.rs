//! Fuzz target `capture_file`: see `testkit::fuzzing::fuzz_capture_file` for the input encoding and the
//! invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    testkit::fuzzing::fuzz_capture_file(data);
});
