//! Fuzz target `decode_manifest`: a thin shell over `kvlab::crashtest::Target::DecodeManifest`.

#![no_main]

use kvlab::crashtest::Target;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Past the checksums, into the parsers behind them.
    kvlab::format::coding::fuzzing::ignore_checksums();
    if let Err(finding) = Target::DecodeManifest.run(data) {
        panic!("{finding}");
    }
});
