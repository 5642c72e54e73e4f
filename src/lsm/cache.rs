//! The block cache: decoded data blocks by (table number, offset), evicted by CLOCK.
//!
//! Sharded 16 ways so concurrent readers rarely meet on one lock. Each shard is a ring of
//! slots with a "referenced" bit: a hit sets the bit; inserting sweeps the hand, clearing
//! bits and evicting the first slot whose bit was already clear, until the new block fits.
//! That approximates LRU at a fraction of the bookkeeping.
//!
//! An evicted block's buffer, when nothing else holds it (no iterator, no value handed
//! out), is kept for the next block read from disk into that shard: a random read that
//! misses would otherwise pay for zeroing a new buffer and freeing an old one.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use bytes::BytesMut;
use parking_lot::Mutex;

use super::sstable::block::Block;
use crate::format::intmap::KeyHasher;

const SHARDS: usize = 16;

/// Evicted buffers a shard keeps for reuse.
const SPARE_BUFFERS: usize = 4;

type Key = (u64, u64);

type KeyMap = HashMap<Key, usize, BuildHasherDefault<KeyHasher>>;

/// A block's (table, offset) mixed into 64 well-spread bits: its shard is the top bits,
/// its doorkeeper slot the bits below them.
fn mix((table, offset): Key) -> u64 {
    (table.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ offset).wrapping_mul(0xff51_afd7_ed55_8ccd)
}

struct Slot {
    key: Key,
    block: Block,
    referenced: bool,
}

#[derive(Default)]
struct Shard {
    map: KeyMap,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    hand: usize,
    bytes: usize,
    spare: Vec<BytesMut>,
}

/// Slots of the doorkeeper ([`BlockCache::admit`]).
const DOORKEEPER_SLOTS: usize = 4096;

/// A bounded cache of decoded blocks.
pub struct BlockCache {
    shards: Vec<Mutex<Shard>>,
    capacity_per_shard: usize,
    /// Per slot, the last block (a hash of table and offset) a point read missed there.
    doorkeeper: Box<[AtomicU64]>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockCache")
            .field("capacity", &(self.capacity_per_shard * SHARDS))
            .finish()
    }
}

impl BlockCache {
    /// A cache of at most about `capacity` bytes of blocks (0 disables it).
    pub fn new(capacity: usize) -> Self {
        BlockCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            capacity_per_shard: capacity / SHARDS,
            doorkeeper: (0..DOORKEEPER_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: Key) -> &Mutex<Shard> {
        &self.shards[(mix(key) >> 60) as usize % SHARDS]
    }

    /// The block of table `table` at `offset`, if cached.
    pub fn get(&self, table: u64, offset: u64) -> Option<Block> {
        let key = (table, offset);
        let mut shard = self.shard(key).lock();
        let found = shard.map.get(&key).copied().and_then(|i| {
            let slot = shard.slots[i].as_mut()?;
            slot.referenced = true;
            Some(slot.block.clone())
        });
        drop(shard);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Relaxed);
        found
    }

    /// A buffer of `len` bytes to read the block of `table` at `offset` into: one an
    /// eviction left in that block's shard if there is one (its old bytes are about to
    /// be overwritten), else a new one.
    pub fn buffer(&self, table: u64, offset: u64, len: usize) -> BytesMut {
        let mut buffer = self
            .shard((table, offset))
            .lock()
            .spare
            .pop()
            .unwrap_or_default();
        buffer.resize(len, 0);
        buffer
    }

    /// Whether a point read that missed the block of `table` at `offset` should put it in
    /// the cache: only when the same block was the last one missed in its doorkeeper slot
    /// (a second miss within about the last `DOORKEEPER_SLOTS` misses). Blocks read again
    /// soon come in on their second read; a block read once in a uniformly random stream
    /// (most of them, when the tables are many times the cache) does not evict a block
    /// for nothing. Without it, each such read paid for an insert and an eviction: 9% of
    /// a get.
    pub fn admit(&self, table: u64, offset: u64) -> bool {
        // (Never 0, the value of a slot that has seen no miss.)
        let id = mix((table, offset)) | 1;
        let slot = &self.doorkeeper[(id >> 40) as usize % DOORKEEPER_SLOTS];
        slot.swap(id, Relaxed) == id
    }

    /// Caches a block, evicting others as needed.
    pub fn insert(&self, table: u64, offset: u64, block: Block) {
        let size = block.size();
        if size > self.capacity_per_shard {
            return;
        }
        let key = (table, offset);
        let mut guard = self.shard(key).lock();
        let shard = &mut *guard;
        if shard.map.contains_key(&key) {
            return;
        }
        while shard.bytes + size > self.capacity_per_shard && !shard.slots.is_empty() {
            let hand = shard.hand % shard.slots.len();
            shard.hand = hand + 1;
            if let Some(slot) = &mut shard.slots[hand] {
                if slot.referenced {
                    slot.referenced = false;
                    continue;
                }
                shard.bytes -= slot.block.size();
                shard.map.remove(&slot.key);
                shard.free.push(hand);
                if let Some(evicted) = shard.slots[hand].take()
                    && shard.spare.len() < SPARE_BUFFERS
                    && let Ok(buffer) = evicted.block.into_bytes().try_into_mut()
                {
                    shard.spare.push(buffer);
                }
            }
        }
        let slot = Some(Slot {
            key,
            block,
            referenced: false,
        });
        let index = match shard.free.pop() {
            Some(i) => {
                shard.slots[i] = slot;
                i
            }
            None => {
                shard.slots.push(slot);
                shard.slots.len() - 1
            }
        };
        shard.map.insert(key, index);
        shard.bytes += size;
    }

    /// Drops every block of a table that no longer exists.
    pub fn forget_table(&self, table: u64) {
        for shard in &self.shards {
            let mut guard = shard.lock();
            let shard = &mut *guard;
            let doomed: Vec<Key> = shard.map.keys().filter(|k| k.0 == table).copied().collect();
            for key in doomed {
                if let Some(i) = shard.map.remove(&key)
                    && let Some(slot) = shard.slots[i].take()
                {
                    shard.bytes -= slot.block.size();
                    shard.free.push(i);
                }
            }
        }
    }

    /// (hits, misses) since creation.
    pub fn hits_and_misses(&self) -> (u64, u64) {
        (self.hits.load(Relaxed), self.misses.load(Relaxed))
    }

    /// Bytes of blocks held now.
    pub fn used(&self) -> usize {
        self.shards.iter().map(|s| s.lock().bytes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsm::sstable::block::BlockBuilder;
    use bytes::Bytes;
    use std::path::Path;
    use std::sync::Arc;

    fn block(size: usize) -> Block {
        let mut b = BlockBuilder::new(16);
        b.add(b"k", &vec![0; size]);
        Block::decode(Bytes::from(b.finish()), Arc::from(Path::new("t")), 0).unwrap()
    }

    #[test]
    fn the_doorkeeper_admits_a_block_on_its_second_miss() {
        let cache = BlockCache::new(1 << 20);
        assert!(!cache.admit(7, 4096), "a first miss is not admitted");
        assert!(cache.admit(7, 4096), "the same block's second miss is");
        assert!(cache.admit(7, 4096));
        assert!(!cache.admit(7, 8192), "another block starts over");
        assert!(
            !cache.admit(8, 4096),
            "so does the same offset of another table"
        );
        // A slot remembers one block: after a hundred thousand misses of other blocks,
        // spread over every slot, this one starts over.
        for offset in 0..100_000u64 {
            cache.admit(9, offset * 4096);
        }
        assert!(!cache.admit(7, 4096), "forgotten after many other misses");
    }

    #[test]
    fn stays_within_capacity_and_keeps_hot_blocks() {
        let cache = BlockCache::new(16 * 10_000);
        for i in 0..1000 {
            cache.insert(1, i * 4096, block(1000));
            // Block 0 of shard(1, 0) is touched all the time.
            cache.get(1, 0);
        }
        assert!(cache.used() <= 16 * 10_000);
        assert!(cache.get(1, 0).is_some(), "the hot block survived");
        assert!(
            cache.get(1, 4096).is_none(),
            "an old cold block was evicted"
        );
        cache.forget_table(1);
        assert_eq!(cache.used(), 0);
        let (hits, misses) = cache.hits_and_misses();
        assert!(hits >= 1000 && misses >= 1);
    }
}
