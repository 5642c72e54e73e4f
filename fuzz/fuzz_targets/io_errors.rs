//! Fuzz target `io_errors`: a thin shell over `kvlab::crashtest::Target::IoErrors`.

#![no_main]

use kvlab::crashtest::Target;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(finding) = Target::IoErrors.run(data) {
        panic!("{finding}");
    }
});
