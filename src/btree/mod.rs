//! The B+tree engine ("btree"), under construction: the slotted page format and the pager
//! (header page, buffer pool) are here; the tree, its free list and its write-ahead log
//! of page images come next (issue 5). Nothing opens a B+tree store yet, and `EngineKind`
//! does not list it.

pub mod page;
pub mod pager;
