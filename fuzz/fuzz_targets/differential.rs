//! Fuzz target `differential`: a thin shell over `kvlab::crashtest::Target::Differential`.

#![no_main]

use kvlab::crashtest::Target;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(finding) = Target::Differential.run(data) {
        panic!("{finding}");
    }
});
