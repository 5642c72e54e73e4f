//! The commands of the `kvlab` binary, one module per group.

pub(crate) mod common;
pub(crate) mod phases;
pub(crate) mod report;
pub(crate) mod store;
