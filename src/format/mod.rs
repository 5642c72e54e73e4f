//! Building blocks of the on-disk formats that no engine owns: both engines use them.
//!
//! - `coding`: integers, varints, the checksummed reader, CRC-32 and the byte order of
//!   keys.
//! - `log`: the checksummed record log (the LSM's WAL and manifest, the B+tree's WAL),
//!   with its byte layout, torn-tail rules and stepped growth.
//! - `intmap`: a hash map keyed by integers.
//! - `size`: `4KiB`-style sizes for knobs.

pub mod coding;
pub(crate) mod intmap;
pub mod log;
pub(crate) mod size;
