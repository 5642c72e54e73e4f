//! Fuzz target `decode_wal`: a thin shell over `kvlab::crashtest::Target::DecodeWal`.

#![no_main]

use kvlab::crashtest::Target;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Past the checksums, into the parsers behind them.
    kvlab::format::coding::fuzzing::ignore_checksums();
    if let Err(finding) = Target::DecodeWal.run(data) {
        panic!("{finding}");
    }
});
