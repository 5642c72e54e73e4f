//! Writes one table: data blocks as entries arrive, then filter, index and footer.

use std::path::Path;

use super::block::BlockBuilder;
use super::{BLOCK_TRAILER, Footer, Handle, bloom};
use crate::error::Result;
use crate::format::coding::crc;
use crate::lsm::ikey;
use crate::vfs::{FileKind, Vfs, VfsFile};

/// Writes are gathered into chunks of this size before they reach the Vfs.
const WRITE_CHUNK: usize = 256 << 10;

/// What a finished table holds.
#[derive(Clone, Debug)]
pub struct TableSummary {
    /// Bytes of the file.
    pub size: u64,
    /// The first encoded internal key.
    pub smallest: Vec<u8>,
    /// The last encoded internal key.
    pub largest: Vec<u8>,
}

/// A table written whole but not yet synced: not to be named in a manifest before
/// [`UnsyncedTable::sync`].
pub struct UnsyncedTable {
    file: Box<dyn VfsFile>,
    summary: TableSummary,
}

impl UnsyncedTable {
    /// Makes the file durable and says what it holds.
    pub fn sync(self) -> Result<TableSummary> {
        if !crate::planted::planted("lsm_table_sync") {
            self.file.sync()?;
        }
        Ok(self.summary)
    }
}

/// Builds a table file from entries given in internal-key order.
pub struct TableBuilder {
    file: Box<dyn VfsFile>,
    pending: Vec<u8>,
    offset: u64,
    data: BlockBuilder,
    index: BlockBuilder,
    block_size: usize,
    bloom_bits: u32,
    hashes: Vec<u64>,
    last_user_key: Vec<u8>,
    entries: u64,
    smallest: Vec<u8>,
}

impl TableBuilder {
    /// Creates `path`; blocks of about `block_size` bytes, `bloom_bits` bits per key
    /// (0 = no filter), a restart every `restart_interval` keys.
    pub fn create(
        vfs: &dyn Vfs,
        path: &Path,
        block_size: usize,
        bloom_bits: u32,
        restart_interval: usize,
    ) -> Result<Self> {
        Ok(TableBuilder {
            file: vfs.create(path, FileKind::Table)?,
            pending: Vec::with_capacity(WRITE_CHUNK + block_size),
            offset: 0,
            data: BlockBuilder::new(restart_interval),
            index: BlockBuilder::new(1),
            block_size,
            bloom_bits,
            hashes: Vec::new(),
            last_user_key: Vec::new(),
            entries: 0,
            smallest: Vec::new(),
        })
    }

    /// Adds an entry; `ikey` is an encoded internal key after every key added before.
    pub fn add(&mut self, ikey: &[u8], value: &[u8]) -> Result<()> {
        if self.entries == 0 {
            self.smallest = ikey.to_vec();
        }
        let user_key = &ikey[..ikey.len() - ikey::TRAILER_LEN];
        if self.bloom_bits > 0 && (self.entries == 0 || user_key != self.last_user_key.as_slice()) {
            self.hashes.push(bloom::hash(user_key));
            self.last_user_key.clear();
            self.last_user_key.extend_from_slice(user_key);
        }
        // Close the block before an entry that could take it, with its CRC, past
        // `block_size` (varints, a restart and all: a bound, not the exact size).
        let bound = ikey.len() + value.len() + 3 * 10 + 4;
        if !self.data.is_empty() && self.data.size() + bound + BLOCK_TRAILER > self.block_size {
            self.finish_data_block()?;
        }
        self.data.add(ikey, value);
        self.entries += 1;
        Ok(())
    }

    /// Bytes written or buffered so far: the file's size if it were finished now.
    pub fn size(&self) -> u64 {
        self.offset + self.data.size() as u64
    }

    fn write_block(&mut self, block: &[u8]) -> Result<Handle> {
        let handle = Handle {
            offset: self.offset,
            size: block.len() as u32,
        };
        self.pending.extend_from_slice(block);
        self.pending.extend_from_slice(&crc(block).to_le_bytes());
        self.offset += (block.len() + BLOCK_TRAILER) as u64;
        if self.pending.len() >= WRITE_CHUNK {
            let at = self.file.append(&self.pending)?;
            // Start writing it to the device now, so that the sync at the end finds
            // little left to do and the device works while the CPU merges.
            self.file.start_writeback(at, self.pending.len() as u64);
            self.pending.clear();
        }
        Ok(handle)
    }

    fn finish_data_block(&mut self) -> Result<()> {
        if self.data.is_empty() {
            return Ok(());
        }
        let last = self.data.last_key().to_vec();
        let block = self.data.finish();
        // Start the block on a multiple of `block_size`, zeros before it: a block then lies
        // in one page of the file, and a read of it costs the device one page, not two.
        // Only a short gap is filled (a block grown large by a large value is not followed
        // by most of a page of zeros), and never after the last data block, so that a
        // full scan reads, and checks, every gap.
        let gap =
            (self.block_size - (self.offset % self.block_size as u64) as usize) % self.block_size;
        if self.offset > 0 && gap <= self.block_size / 8 {
            self.pending.resize(self.pending.len() + gap, 0);
            self.offset += gap as u64;
        }
        let handle = self.write_block(&block)?;
        self.index.add(&last, &handle.encode());
        Ok(())
    }

    /// Writes the rest, syncs the file, and says what it holds.
    #[cfg(test)]
    pub fn finish(self) -> Result<TableSummary> {
        self.finish_unsynced()?.sync()
    }

    /// Writes the rest and starts it toward the device, but leaves the sync to the
    /// caller ([`UnsyncedTable::sync`]): a merge that writes many tables syncs them all at
    /// its end instead of waiting on each in turn.
    pub fn finish_unsynced(mut self) -> Result<UnsyncedTable> {
        let largest = self.data.last_key().to_vec();
        let largest = if largest.is_empty() {
            self.last_index_key()
        } else {
            largest
        };
        self.finish_data_block()?;
        let filter = if self.bloom_bits > 0 {
            let bytes = bloom::build(&self.hashes, self.bloom_bits);
            self.write_block(&bytes)?
        } else {
            Handle { offset: 0, size: 0 }
        };
        let index_bytes = self.index.finish();
        let index = self.write_block(&index_bytes)?;
        let footer = Footer {
            index,
            filter,
            entries: self.entries,
        };
        self.pending.extend_from_slice(&footer.encode());
        let at = self.file.append(&self.pending)?;
        self.file.start_writeback(at, self.pending.len() as u64);
        Ok(UnsyncedTable {
            file: self.file,
            summary: TableSummary {
                size: self.offset + super::FOOTER_LEN as u64,
                smallest: self.smallest,
                largest,
            },
        })
    }

    fn last_index_key(&self) -> Vec<u8> {
        self.index.last_key().to_vec()
    }
}
