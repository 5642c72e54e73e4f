//! Fuzz target `crash_btree`: a thin shell over `kvlab::crashtest::Target::CrashBtree`.

#![no_main]

use kvlab::crashtest::Target;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(finding) = Target::CrashBtree.run(data) {
        panic!("{finding}");
    }
});
