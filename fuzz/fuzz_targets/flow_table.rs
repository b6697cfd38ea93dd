//! Fuzz target `flow_table`: see `testkit::fuzzing::fuzz_flow_table` for the input encoding and the
//! invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    testkit::fuzzing::fuzz_flow_table(data);
});
