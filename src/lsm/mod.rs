//! The LSM tree engine ("lsm").

pub mod cache;
pub mod coding;
pub mod ikey;
pub mod iter;
pub mod sstable;
