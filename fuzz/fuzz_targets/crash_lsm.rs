//! Fuzz target `crash_lsm`: a thin shell over `kvlab::crashtest::Target::CrashLsm`.

#![no_main]

use kvlab::crashtest::Target;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(finding) = Target::CrashLsm.run(data) {
        panic!("{finding}");
    }
});
