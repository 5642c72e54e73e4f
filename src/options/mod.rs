//! Each engine's knobs: plain data below the contract, which [`crate::Options`] holds one
//! struct of per engine. The engines read them; nothing here knows an engine's code.
//! (`kvlab::lsm::LsmOptions` and `kvlab::btree::BTreeOptions` name the same types.)

pub mod btree;
pub mod lsm;
