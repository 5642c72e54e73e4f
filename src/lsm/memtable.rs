//! The memtable: every recent write, sorted, versioned by sequence number.
//!
//! A B-tree (`std::collections::BTreeMap`) behind a read-write lock, keyed by (user key,
//! sequence number descending). Writes never overwrite: each version is its own entry, so
//! a reader that holds a snapshot sequence number sees exactly the writes up to it while
//! the writer keeps inserting. A deletion is its own kind of entry, never an empty value.
//!
//! Why a B-tree and not a skip list: profiles of random fills showed a lock-free skip
//! list spending most of the writer's time chasing pointers (a cache miss per level);
//! a B-tree touches a handful of nodes per insert. The writer takes the lock for at most
//! `INSERT_CHUNK` entries at a time, so readers wait microseconds, not a whole batch.
//!
//! Invariants / thread safety: one thread inserts at a time (the commit leader, or
//! recovery); any number read. Entries with a sequence number above the published one may
//! be present and are skipped by readers, which is what makes a batch appear at once even
//! though it is inserted in chunks.

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use std::collections::BTreeMap;

use bytes::Bytes;
use parking_lot::RwLock;

use super::ikey::{self, Kind};
use super::iter::InternalIterator;
use crate::error::Result;
use crate::prefetch::prefetch_lines;

/// A memtable key: user key, then newest version first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemKey {
    /// The first 8 bytes of the user key, big-endian, zero-padded: most comparisons are
    /// settled by one integer compare instead of a call to memcmp.
    prefix: u64,
    /// The user key.
    pub user: Bytes,
    /// The write's sequence number.
    pub seq: u64,
}

impl MemKey {
    /// The key for `user` at `seq`.
    pub fn new(user: Bytes, seq: u64) -> Self {
        let mut head = [0u8; 8];
        let n = user.len().min(8);
        head[..n].copy_from_slice(&user[..n]);
        MemKey {
            prefix: u64::from_be_bytes(head),
            user,
            seq,
        }
    }
}

impl Ord for MemKey {
    fn cmp(&self, other: &Self) -> Ordering {
        // Equal prefixes can still hide different lengths ("a" vs "a\0"): fall back to the
        // whole comparison then.
        self.prefix
            .cmp(&other.prefix)
            .then_with(|| ikey::cmp(&self.user, self.seq, &other.user, other.seq))
    }
}

impl PartialOrd for MemKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A memtable value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemValue {
    /// A value.
    Put(Bytes),
    /// A deletion.
    Delete,
}

/// The memtable.
#[derive(Debug, Default)]
pub struct Memtable {
    map: RwLock<BTreeMap<MemKey, MemValue>>,
    bytes: AtomicUsize,
}

/// Entries inserted per hold of the write lock.
const INSERT_CHUNK: usize = 128;

/// Bytes an entry costs beyond its key and value, counted toward the memtable's size so
/// that `memtable_size` bounds the memory it really takes: its element in the B-tree, whose
/// nodes are about two-thirds full after random inserts (so an element takes half as much
/// again), and the kind byte and two length varints of its batch's encoding, which holds
/// the key and value bytes: 123 bytes. (With the 64 counted before, a memtable of
/// 116-byte entries took a third more memory than its size said.)
const ENTRY_OVERHEAD: usize = size_of::<(MemKey, MemValue)>() * 3 / 2 + 3;

impl Memtable {
    /// An empty memtable.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts one version.
    pub fn insert(&self, user: Bytes, seq: u64, value: MemValue) {
        self.insert_all(std::iter::once((user, seq, value)));
    }

    /// Inserts versions, taking the write lock once per `INSERT_CHUNK` of them.
    pub fn insert_all(&self, entries: impl IntoIterator<Item = (Bytes, u64, MemValue)>) {
        let mut entries = entries.into_iter().peekable();
        while entries.peek().is_some() {
            let mut map = self.map.write();
            let mut size = 0;
            for (user, seq, value) in entries.by_ref().take(INSERT_CHUNK) {
                size += user.len()
                    + ENTRY_OVERHEAD
                    + match &value {
                        MemValue::Put(v) => v.len(),
                        MemValue::Delete => 0,
                    };
                map.insert(MemKey::new(user, seq), value);
            }
            drop(map);
            self.bytes.fetch_add(size, Relaxed);
        }
    }

    /// The newest version of `user` with sequence number at most `seq`.
    pub fn get(&self, user: &[u8], seq: u64) -> Option<MemValue> {
        let probe = MemKey::new(Bytes::copy_from_slice(user), seq);
        let map = self.map.read();
        let (key, value) = map
            .range((Bound::Included(&probe), Bound::Unbounded))
            .next()?;
        (key.user == user).then(|| value.clone())
    }

    /// Approximate bytes held.
    pub fn size(&self) -> usize {
        self.bytes.load(Relaxed)
    }

    /// Number of versions held.
    pub fn len(&self) -> usize {
        self.map.read().len()
    }

    /// True when nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.map.read().is_empty()
    }

    /// A cursor over every version, in internal-key order.
    pub fn iter(self: &Arc<Self>) -> MemIter {
        MemIter {
            mem: Arc::clone(self),
            keys: Vec::new(),
            entries: Vec::new(),
            pos: 0,
            resume: None,
            exhausted: true,
        }
    }
}

/// A cursor over a memtable, copying a chunk of entries at a time under the read lock (so
/// it holds neither a borrow nor the lock between calls).
pub struct MemIter {
    mem: Arc<Memtable>,
    /// The chunk's internal keys, end to end.
    keys: Vec<u8>,
    /// Per entry of the chunk: where its key ends in `keys`, and its value.
    entries: Vec<(usize, Bytes)>,
    pos: usize,
    /// Where the next chunk starts, after the last entry of this one.
    resume: Option<MemKey>,
    exhausted: bool,
}

const CHUNK: usize = 256;

impl MemIter {
    fn fill_from(&mut self, start: Bound<&MemKey>) {
        self.keys.clear();
        self.entries.clear();
        self.pos = 0;
        let map = self.mem.map.read();
        let found: Vec<(&MemKey, &MemValue)> =
            map.range((start, Bound::Unbounded)).take(CHUNK).collect();
        // The keys and values lie wherever their batches were written, in no order: ask
        // for all their cache lines first, so the misses overlap rather than follow one
        // another in the copies below (a flush spent most of its time in those misses).
        for (k, v) in &found {
            prefetch_lines(&k.user);
            if let MemValue::Put(v) = v {
                prefetch_lines(&v[..v.len().min(256)]);
            }
        }
        for (k, v) in &found {
            let (kind, value) = match v {
                MemValue::Put(v) => (Kind::Put, v.clone()),
                MemValue::Delete => (Kind::Delete, Bytes::new()),
            };
            ikey::encode(&mut self.keys, &k.user, k.seq, kind);
            self.entries.push((self.keys.len(), value));
        }
        self.exhausted = found.len() < CHUNK;
        self.resume = found.last().map(|(k, _)| (*k).clone());
    }

    /// Where entry `i`'s key starts in `keys`.
    fn key_start(&self, i: usize) -> usize {
        if i == 0 { 0 } else { self.entries[i - 1].0 }
    }
}

impl InternalIterator for MemIter {
    fn valid(&self) -> bool {
        self.pos < self.entries.len()
    }

    fn key(&self) -> &[u8] {
        match self.entries.get(self.pos) {
            Some(&(end, _)) => &self.keys[self.key_start(self.pos)..end],
            None => &[],
        }
    }

    fn value(&self) -> Bytes {
        self.entries
            .get(self.pos)
            .map_or_else(Bytes::new, |(_, v)| v.clone())
    }

    fn next(&mut self) -> Result<()> {
        self.pos += 1;
        if self.pos >= self.entries.len() && !self.exhausted {
            let resume = self.resume.take();
            self.fill_from(resume.as_ref().map_or(Bound::Unbounded, Bound::Excluded));
        }
        Ok(())
    }

    fn seek(&mut self, target: &[u8]) -> Result<()> {
        let Some((user, seq, _)) = ikey::decode(target) else {
            self.fill_from(Bound::Unbounded);
            return Ok(());
        };
        let probe = MemKey::new(Bytes::copy_from_slice(user), seq);
        self.fill_from(Bound::Included(&probe));
        Ok(())
    }

    fn seek_to_first(&mut self) -> Result<()> {
        self.fill_from(Bound::Unbounded);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_snapshots() {
        let m = Memtable::new();
        m.insert(
            Bytes::from_static(b"k"),
            1,
            MemValue::Put(Bytes::from_static(b"v1")),
        );
        m.insert(Bytes::from_static(b"k"), 5, MemValue::Delete);
        m.insert(
            Bytes::from_static(b"k"),
            9,
            MemValue::Put(Bytes::from_static(b"v9")),
        );
        assert_eq!(
            m.get(b"k", 100),
            Some(MemValue::Put(Bytes::from_static(b"v9")))
        );
        assert_eq!(m.get(b"k", 6), Some(MemValue::Delete));
        assert_eq!(
            m.get(b"k", 4),
            Some(MemValue::Put(Bytes::from_static(b"v1")))
        );
        assert_eq!(m.get(b"k", 0), None);
        assert_eq!(m.get(b"j", 100), None);
    }

    #[test]
    fn the_cursor_crosses_chunks_in_order() {
        let m = Arc::new(Memtable::new());
        for i in 0..1000u32 {
            m.insert(
                Bytes::from(i.to_be_bytes().to_vec()),
                u64::from(i),
                MemValue::Delete,
            );
        }
        let mut it = m.iter();
        it.seek_to_first().unwrap();
        let mut n = 0u32;
        while it.valid() {
            assert_eq!(ikey::decode(it.key()).unwrap().0, n.to_be_bytes());
            it.next().unwrap();
            n += 1;
        }
        assert_eq!(n, 1000);
        let mut target = Vec::new();
        ikey::encode(&mut target, &500u32.to_be_bytes(), ikey::MAX_SEQ, Kind::Put);
        it.seek(&target).unwrap();
        assert_eq!(ikey::decode(it.key()).unwrap().0, 500u32.to_be_bytes());
    }
}
