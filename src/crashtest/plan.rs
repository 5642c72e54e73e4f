//! What a fuzz input means: engine knobs, a durability, and a run of operations with
//! crashes among them, built from the input's bytes by `arbitrary`. Every size is bounded
//! (keys, values, batches, operations), so that no input makes a run slow or large.

use std::sync::Arc;

use arbitrary::{Arbitrary, Unstructured};

use crate::btree::BTreeOptions;
use crate::lsm::{CompactionStyle, LsmOptions};
use crate::vfs::SimFs;
use crate::{Durability, Options};

/// Distinct keys a run uses: few, so that operations meet on the same keys.
pub const KEYS: u8 = 40;
/// Most operations in a run.
pub const MAX_OPS: usize = 48;
/// Most entries in one batch.
pub const MAX_BATCH: usize = 12;
/// Longest value padding: values cross sectors (so writes can tear) and B+tree pages.
pub const MAX_PAD: u16 = 2500;
/// Most crash-choice bytes one crash reads.
pub const MAX_CHOICES: usize = 96;

/// One of [`KEYS`] keys, `key-00` to `key-39`.
#[derive(Clone, Copy, Debug, Arbitrary)]
pub struct Key(pub u8);

impl Key {
    /// The key's bytes.
    pub fn bytes(self) -> Vec<u8> {
        format!("key-{:02}", self.0 % KEYS).into_bytes()
    }
}

/// Bytes of padding after a value's name, 0 to [`MAX_PAD`].
#[derive(Clone, Copy, Debug, Arbitrary)]
pub struct Pad(pub u16);

impl Pad {
    /// Bytes of padding.
    pub fn bytes(self) -> usize {
        usize::from(self.0 % (MAX_PAD + 1))
    }
}

/// One step of a run.
#[derive(Clone, Debug, Arbitrary)]
pub enum Op {
    /// A batch of one put.
    Put(Key, Pad),
    /// A batch of one delete.
    Delete(Key),
    /// A batch of puts (`Some`) and deletes (`None`).
    Batch(#[arbitrary(with = batch_entries)] Vec<(Key, Option<Pad>)>),
    /// A point read, checked against the model.
    Get(Key),
    /// A range scan from the first key to the second, checked against the model.
    Scan(Key, Key),
    /// `sync()`: with buffered durability, what was written becomes durable.
    Sync,
    /// `settle()`: flush, checkpoint, finish compactions.
    Settle,
    /// A clean close and reopen.
    Reopen,
    /// A power failure (ignored by the differential run).
    Crash(Crash),
}

/// Where the power fails and what it takes with it.
#[derive(Clone, Debug, Arbitrary)]
pub struct Crash {
    /// Mutating Vfs calls that still succeed before the power fails; 0: it fails now,
    /// between two operations. Calls made by background threads count too.
    pub after_calls: u8,
    /// If set, the first recovery loses power too, after this many mutating calls.
    pub during_recovery: Option<u8>,
    /// The fate of each write and directory change not yet durable, one byte each
    /// ([`CrashChoices::from_bytes`](crate::vfs::CrashChoices::from_bytes)).
    #[arbitrary(with = choice_bytes)]
    pub choices: Vec<u8>,
}

/// Engine knobs, each mapped into a small range so that memtable switches, flushes,
/// compactions, page splits and checkpoints happen within a few operations.
#[derive(Clone, Debug, Arbitrary)]
pub struct Knobs {
    page_shift: u8,
    pool_pages: u8,
    wal_kib: u8,
    dirty_kib: u8,
    background_checkpoints: bool,
    memtable_kib: u8,
    block_shift: u8,
    table_kib: u8,
    tiered: bool,
    mmap_reads: bool,
    bloom_bits: u8,
}

impl Knobs {
    /// Options for a store on `fs` with these knobs.
    pub fn options(&self, fs: &Arc<SimFs>, durability: Durability) -> Options {
        let page_size = 512 << (self.page_shift % 4);
        let btree = BTreeOptions {
            page_size,
            pool_size: page_size * (4 + usize::from(self.pool_pages % 60)),
            wal_limit: (4 + u64::from(self.wal_kib % 60)) << 10,
            dirty_limit: (4 + u64::from(self.dirty_kib % 60)) << 10,
            mmap_reads: self.mmap_reads,
            background_checkpoints: self.background_checkpoints,
        };
        let lsm = LsmOptions {
            memtable_size: (2 + usize::from(self.memtable_kib % 30)) << 10,
            block_size: 256 << (self.block_shift % 4),
            block_cache: 64 << 10,
            bloom_bits: u32::from(self.bloom_bits % 12),
            mmap_reads: self.mmap_reads,
            compaction: if self.tiered {
                CompactionStyle::Tiered
            } else {
                CompactionStyle::Leveled
            },
            target_file_size: (4 + u64::from(self.table_kib % 28)) << 10,
            base_level_size: 32 << 10,
            manifest_limit: 4 << 10,
            ..LsmOptions::default()
        };
        Options {
            durability,
            btree,
            lsm,
            ..Options::with_vfs(fs.clone())
        }
    }
}

/// A whole run: knobs, durability, operations, and the crash that ends it.
#[derive(Clone, Debug, Arbitrary)]
pub struct Plan {
    /// The engine's knobs.
    pub knobs: Knobs,
    /// `Durability::Buffered` (a batch is durable at the next `sync()`) rather than `Sync`.
    pub buffered: bool,
    /// The operations, in order.
    #[arbitrary(with = ops)]
    pub ops: Vec<Op>,
    /// The crash after the last operation: every run ends with a power failure.
    pub final_crash: Crash,
}

impl Plan {
    /// The plan `bytes` describe (a short input fills the rest with zeros and defaults).
    pub fn from_bytes(bytes: &[u8]) -> Plan {
        let mut u = Unstructured::new(bytes);
        Plan::arbitrary(&mut u).unwrap_or_else(|_| {
            Plan::arbitrary(&mut Unstructured::new(&[])).expect("an empty input makes a plan")
        })
    }

    /// The plan's durability.
    pub fn durability(&self) -> Durability {
        if self.buffered {
            Durability::Buffered
        } else {
            Durability::Sync
        }
    }
}

fn bounded<'a, T: Arbitrary<'a>>(
    u: &mut Unstructured<'a>,
    max: usize,
) -> arbitrary::Result<Vec<T>> {
    let n = u.int_in_range(0..=max)?;
    (0..n).map(|_| T::arbitrary(u)).collect()
}

fn ops(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<Op>> {
    bounded(u, MAX_OPS)
}

fn batch_entries(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<(Key, Option<Pad>)>> {
    bounded(u, MAX_BATCH)
}

fn choice_bytes(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    bounded(u, MAX_CHOICES)
}
