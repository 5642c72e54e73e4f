//! The B+tree engine ("btree"), under construction: the slotted page format is here; the
//! pager, the tree and its write-ahead log come next (issue 5). Nothing opens a B+tree
//! store yet, and `EngineKind` does not list it.

pub mod page;
