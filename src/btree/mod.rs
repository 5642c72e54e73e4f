//! The B+tree engine ("btree"), under construction: the slotted page format and the pager
//! (header page, buffer pool) are here; the tree, its free list and its write-ahead log
//! of page images come next (issue 5). Nothing opens a B+tree store yet, and `EngineKind`
//! does not list it.
//!
//! # Plan for the rest (so the pieces here fit it)
//!
//! - **Transactions.** One writer at a time builds a transaction: copies of the pages it
//!   changes (and new pages, from the free list first), plus a new header. Readers never
//!   see those copies.
//! - **WAL of page images.** A commit appends one record (the `lsm::wal` framing: checksummed,
//!   torn tail recognised) holding the transaction number, the new header and the image of
//!   every page it changed, then syncs. The committed images go into an in-memory index
//!   (page number → newest image); readers look there before the pager's database file.
//! - **Snapshots.** A reader takes the index and header as of one commit (an `Arc`), so a
//!   scan stays consistent while the writer commits. A checkpoint writes the newest images
//!   into the database file, syncs it, then resets the WAL; it must not overwrite a page
//!   image an open snapshot would read from the file, so it waits for (or skips while)
//!   older snapshots are open.
//! - **Large keys and values.** Keys go up to 1024 bytes and pages down to 512 bytes, so a
//!   cell keeps a local prefix of its payload and sends the rest down a chain of overflow
//!   pages (as SQLite does), in leaves and internal nodes alike; a comparison that ties on
//!   the local prefix reads the rest of the key from the chain. Values over a quarter page
//!   always go to overflow.
//! - **Shrinking.** A node under a quarter full borrows from or merges with a sibling;
//!   freed pages go on the free list (header `free_head`, linked through page `link`).
//! - **`check()`.** Key order, fill, separators, and every page reachable or free exactly
//!   once, run after every test.

pub mod page;
pub mod pager;
