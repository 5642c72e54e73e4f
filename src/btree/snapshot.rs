//! What a reader sees: a snapshot (one commit's header, how far into the WAL it reaches,
//! and the pages a checkpoint pinned for it), pages as it sees them (`View`), and scans.

use std::sync::Arc;

use parking_lot::RwLock;

use super::page::Page;
use super::pager::{DbHeader, Mapped};
use crate::format::intmap::IntMap;

/// What a reader sees: the state after one commit.
#[derive(Debug)]
pub(super) struct Snapshot {
    pub(super) generation: u64,
    /// WAL bytes up to the end of this commit's record.
    pub(super) end: u64,
    pub(super) header: DbHeader,
    /// The mapped database file (mmap read mode), as mapped when this snapshot was taken:
    /// searches read its pages in place.
    pub(super) map: Option<Arc<Mapped>>,
    /// Whether a frozen cycle was being checkpointed when this snapshot was taken (if not,
    /// a snapshot at the start of its cycle sees no WAL image at all).
    pub(super) after_frozen: bool,
    /// Pages as this snapshot sees them that a checkpoint has since written over in the
    /// database file (or whose WAL image it let go of). A reader holds the lock for the
    /// length of one operation; a checkpoint takes it to pin pages before it writes.
    pub(super) pinned: RwLock<Pinned>,
}

/// The pages a checkpoint kept for one older snapshot (see [`Shared::pin_for_readers`]).
#[derive(Debug, Default)]
pub(super) struct Pinned {
    pub(super) pages: IntMap<u64, Arc<Page>>,
    /// Checkpoints that pinned pages: a scan that sees this change finds its place
    /// again, since a page it holds may be a view of the file that was written over.
    pub(super) rounds: u64,
}
