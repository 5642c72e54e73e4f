//! The memtable: every recent write, sorted, versioned by sequence number.
//!
//! Entries live in sorted runs, merged the way a binary counter carries (the "logarithmic
//! method" of Bentley and Saxe): each batch becomes a run of its own, sorted, and while the
//! run before the newest holds fewer than twice as many entries, the two are merged. The
//! runs thus at least halve from oldest to newest: there are at most log2(n) + 1 of them,
//! and an entry is copied about log2(n / batch) times over its life, in sequential merges.
//!
//! ```text
//!   runs, oldest first          entry (40 bytes; the key and value stay in their batch)
//!   [ 256k entries ]            +--------+-----+-------+--------+----------+-----------+---------+------+
//!   [ 128k ]                    | prefix | seq | batch | key_at | value_at | value_len | key_len | kind |
//!   [ 32k ]                     |  u64   | u64 |  u32  |  u32   |   u32    |    u32    |   u16   |  u8  |
//!   [ 1k ]  <- the last batch   +--------+-----+-------+--------+----------+-----------+---------+------+
//! ```
//!
//! Why not a B-tree or a skip list: a random fill's profile showed `BTreeMap::insert`
//! taking 0.9 µs an entry (a cache miss per level, and elements shifted within nodes),
//! half the writer's time; a skip list chases a pointer per level. Sorting a batch and
//! merging runs touches memory in order.
//!
//! Order: user key ascending, then sequence number descending (newest version first); the
//! first 8 bytes of the key, as a big-endian integer, settle most comparisons.
//!
//! Runs partition time: batches arrive in sequence order and only the newest runs merge,
//! so every entry of a newer run is newer than every entry of an older one. A get asks the
//! runs newest first and stops at the first that holds the key.
//!
//! Invariants / thread safety: one thread inserts at a time (a lock makes sure); any
//! number read. Runs never change once made: the inserter merges them outside the write
//! lock and takes it only to install the result, so a get waits microseconds at most, and
//! a cursor reads the runs it started with. Entries with a sequence number above the
//! published one may be present and are skipped by readers, which is what makes a batch
//! appear at once. A batch's buffer is kept whole until the memtable goes.

use std::cmp::Ordering;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use super::ikey::{self, Kind};
use super::iter::InternalIterator;
use crate::error::{Error, Result};
use crate::prefetch::prefetch_lines;

/// A memtable value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemValue {
    /// A value.
    Put(Bytes),
    /// A deletion.
    Delete,
}

/// Where one entry of a batch lies in the batch's buffer, as the batch's decoder found it.
#[derive(Clone, Debug)]
pub struct BatchEntry {
    /// A value or a deletion.
    pub kind: Kind,
    /// The user key's bytes.
    pub key: Range<usize>,
    /// The value's bytes (empty for a deletion).
    pub value: Range<usize>,
}

/// One version, pointing into its batch's buffer.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// The first 8 bytes of the user key, big-endian, zero-padded.
    prefix: u64,
    seq: u64,
    /// Index of its batch in [`Contents::batches`].
    batch: u32,
    key_at: u32,
    value_at: u32,
    value_len: u32,
    key_len: u16,
    kind: Kind,
}

/// The first 8 bytes of `key` as a big-endian integer, zero-padded.
fn prefix_of(key: &[u8]) -> u64 {
    let mut head = [0u8; 8];
    let n = key.len().min(8);
    head[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(head)
}

/// Entries in one chunk of a run: 40 KiB. A run of many megabytes in one allocation,
/// made and freed as runs merge, stayed on glibc's heap once freed (peak RSS of a 10M
/// fill and overwrite 267 MB against 190 MB with such blocks mapped); chunks this size
/// are reused.
const RUN_CHUNK: usize = 1024;

/// A sorted run, in chunks of `RUN_CHUNK` entries (the last one may be shorter).
#[derive(Debug, Default)]
struct Run {
    chunks: Vec<Vec<Entry>>,
    len: usize,
}

impl Run {
    fn len(&self) -> usize {
        self.len
    }

    fn get(&self, i: usize) -> Option<&Entry> {
        self.chunks.get(i / RUN_CHUNK)?.get(i % RUN_CHUNK)
    }

    fn first(&self) -> Option<&Entry> {
        self.get(0)
    }

    fn last(&self) -> Option<&Entry> {
        self.len.checked_sub(1).and_then(|i| self.get(i))
    }

    fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.chunks.iter().flatten()
    }

    /// The index of the first entry for which `before` is false (`before` holds for a
    /// prefix of the run, as for `slice::partition_point`).
    fn partition_point(&self, mut before: impl FnMut(&Entry) -> bool) -> usize {
        let chunk = self
            .chunks
            .partition_point(|c| c.last().is_some_and(&mut before));
        match self.chunks.get(chunk) {
            Some(c) => chunk * RUN_CHUNK + c.partition_point(before),
            None => self.len,
        }
    }

    /// Appends an entry after all the others.
    fn push(&mut self, e: Entry) {
        match self.chunks.last_mut() {
            Some(c) if c.len() < RUN_CHUNK => c.push(e),
            _ => {
                let mut c = Vec::with_capacity(RUN_CHUNK.min(self.len.max(16)));
                c.push(e);
                self.chunks.push(c);
            }
        }
        self.len += 1;
    }
}

#[derive(Debug, Default)]
struct Contents {
    /// Every batch inserted, in order; entries point into them.
    batches: Vec<Bytes>,
    /// Oldest (largest) first.
    runs: Vec<Arc<Run>>,
}

impl Contents {
    fn key(&self, e: &Entry) -> &[u8] {
        key_in(&self.batches[e.batch as usize], e)
    }

    fn value(&self, e: &Entry) -> MemValue {
        match e.kind {
            Kind::Put => {
                let at = e.value_at as usize;
                MemValue::Put(self.batches[e.batch as usize].slice(at..at + e.value_len as usize))
            }
            Kind::Delete => MemValue::Delete,
        }
    }

    fn cmp(&self, a: &Entry, b: &Entry) -> Ordering {
        a.prefix
            .cmp(&b.prefix)
            .then_with(|| ikey::cmp(self.key(a), a.seq, self.key(b), b.seq))
    }

    /// How entry `e` compares with the internal key (`user`, `seq`) whose prefix is `prefix`.
    fn cmp_probe(&self, e: &Entry, prefix: u64, user: &[u8], seq: u64) -> Ordering {
        e.prefix
            .cmp(&prefix)
            .then_with(|| ikey::cmp(self.key(e), e.seq, user, seq))
    }

    /// The runs `older` and `newer` as one.
    fn merge(&self, older: &Run, newer: &Run) -> Run {
        let mut out = Run::default();
        let (mut a, mut b) = (older.iter().peekable(), newer.iter().peekable());
        while let (Some(&x), Some(&y)) = (a.peek(), b.peek()) {
            // No two entries are equal: sequence numbers differ.
            if self.cmp(y, x) == Ordering::Less {
                out.push(*y);
                b.next();
            } else {
                out.push(*x);
                a.next();
            }
        }
        a.chain(b).for_each(|e| out.push(*e));
        out
    }
}

fn key_in<'a>(batch: &'a [u8], e: &Entry) -> &'a [u8] {
    let at = e.key_at as usize;
    &batch[at..at + e.key_len as usize]
}

/// The memtable.
#[derive(Debug, Default)]
pub struct Memtable {
    contents: RwLock<Contents>,
    /// Held by the one thread inserting.
    inserting: Mutex<()>,
    bytes: AtomicUsize,
    entries: AtomicUsize,
}

/// Bytes an entry costs beyond its key and value, counted toward the memtable's size so
/// that `memtable_size` bounds the memory it really takes: its entry twice (while a merge
/// writes a run, the runs it merges are still there) and the kind byte and two length
/// varints of its batch's encoding.
const ENTRY_OVERHEAD: usize = 2 * size_of::<Entry>() + 3;

/// Bytes a batch costs beyond its entries: its handle and its buffer's allocation.
const BATCH_OVERHEAD: usize = size_of::<Bytes>() + 64;

fn too_large(what: &str) -> Error {
    Error::invalid(format!("memtable: {what} does not fit its entry"))
}

impl Memtable {
    /// An empty memtable.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts the entries of one batch, whose buffer is `batch`, with sequence numbers
    /// from `first_seq` on in their order.
    pub fn insert_batch(&self, batch: Bytes, first_seq: u64, entries: &[BatchEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let _inserting = self.inserting.lock();
        let index = u32::try_from(self.contents.read().batches.len())
            .map_err(|_| too_large("batch number"))?;
        let offset = |at: usize| u32::try_from(at).map_err(|_| too_large("batch offset"));
        let mut run = Vec::with_capacity(entries.len());
        let mut size = BATCH_OVERHEAD;
        for (e, seq) in entries.iter().zip(first_seq..) {
            let key = batch
                .get(e.key.clone())
                .ok_or_else(|| too_large("key range"))?;
            batch
                .get(e.value.clone())
                .ok_or_else(|| too_large("value range"))?;
            size += key.len() + e.value.len() + ENTRY_OVERHEAD;
            run.push(Entry {
                prefix: prefix_of(key),
                seq,
                batch: index,
                key_at: offset(e.key.start)?,
                value_at: offset(e.value.start)?,
                value_len: offset(e.value.len())?,
                key_len: u16::try_from(key.len()).map_err(|_| too_large("key length"))?,
                kind: e.kind,
            });
        }
        self.contents.write().batches.push(batch);

        // Carry: merge while the run before holds fewer than twice the new run's entries.
        let (keep, run) = {
            let contents = self.contents.read();
            run.sort_unstable_by(|a, b| contents.cmp(a, b));
            let mut keep = contents.runs.len();
            let mut run = Run {
                len: run.len(),
                chunks: run.chunks(RUN_CHUNK).map(<[Entry]>::to_vec).collect(),
            };
            while keep > 0 && contents.runs[keep - 1].len() < 2 * run.len() {
                run = contents.merge(&contents.runs[keep - 1], &run);
                keep -= 1;
            }
            (keep, run)
        };
        let mut contents = self.contents.write();
        contents.runs.truncate(keep);
        contents.runs.push(Arc::new(run));
        drop(contents);
        self.bytes.fetch_add(size, Relaxed);
        self.entries.fetch_add(entries.len(), Relaxed);
        Ok(())
    }

    /// Inserts one version (a batch of one).
    #[cfg(test)]
    pub fn insert(&self, user: &[u8], seq: u64, value: MemValue) {
        let (kind, v): (Kind, &[u8]) = match &value {
            MemValue::Put(v) => (Kind::Put, v),
            MemValue::Delete => (Kind::Delete, &[]),
        };
        let batch = Bytes::from([user, v].concat());
        let entry = BatchEntry {
            kind,
            key: 0..user.len(),
            value: user.len()..batch.len(),
        };
        self.insert_batch(batch, seq, &[entry]).unwrap();
    }

    /// The newest version of `user` with sequence number at most `seq`.
    pub fn get(&self, user: &[u8], seq: u64) -> Option<MemValue> {
        let prefix = prefix_of(user);
        let contents = self.contents.read();
        for run in contents.runs.iter().rev() {
            let i =
                run.partition_point(|e| contents.cmp_probe(e, prefix, user, seq) == Ordering::Less);
            if let Some(e) = run.get(i)
                && e.prefix == prefix
                && contents.key(e) == user
            {
                return Some(contents.value(e));
            }
        }
        None
    }

    /// The smallest and largest user keys held, if any.
    pub fn key_range(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        let contents = self.contents.read();
        let smallest = contents
            .runs
            .iter()
            .filter_map(|r| r.first())
            .map(|e| contents.key(e))
            .min()?;
        let largest = contents
            .runs
            .iter()
            .filter_map(|r| r.last())
            .map(|e| contents.key(e))
            .max()?;
        Some((smallest.to_vec(), largest.to_vec()))
    }

    /// Approximate bytes held.
    pub fn size(&self) -> usize {
        self.bytes.load(Relaxed)
    }

    /// Number of versions held.
    pub fn len(&self) -> usize {
        self.entries.load(Relaxed)
    }

    /// True when nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of sorted runs (for tests of the merging).
    #[cfg(test)]
    fn runs(&self) -> Vec<usize> {
        self.contents.read().runs.iter().map(|r| r.len()).collect()
    }

    /// A cursor over every version, in internal-key order.
    pub fn iter(self: &Arc<Self>) -> MemIter {
        MemIter {
            mem: Arc::clone(self),
            runs: Vec::new(),
            heads: Vec::new(),
            keys: Vec::new(),
            entries: Vec::new(),
            pos: 0,
        }
    }
}

/// A cursor over a memtable: merges the runs there were when it was positioned, copying
/// a chunk of entries at a time under the read lock (so it holds neither a borrow nor the
/// lock between calls).
pub struct MemIter {
    mem: Arc<Memtable>,
    runs: Vec<Arc<Run>>,
    /// Per run, its next entry not yet in a chunk.
    heads: Vec<usize>,
    /// The chunk's internal keys, end to end.
    keys: Vec<u8>,
    /// Per entry of the chunk: where its key ends in `keys`, and its value.
    entries: Vec<(usize, Bytes)>,
    pos: usize,
}

const CHUNK: usize = 256;

impl MemIter {
    /// Takes the memtable's runs as they are now, each from its first entry not below
    /// (`user`, `seq`), or from its start.
    fn position(&mut self, from: Option<(&[u8], u64)>) {
        let contents = self.mem.contents.read();
        self.runs = contents.runs.clone();
        self.heads = match from {
            None => vec![0; self.runs.len()],
            Some((user, seq)) => {
                let prefix = prefix_of(user);
                self.runs
                    .iter()
                    .map(|run| {
                        run.partition_point(|e| {
                            contents.cmp_probe(e, prefix, user, seq) == Ordering::Less
                        })
                    })
                    .collect()
            }
        };
        drop(contents);
        self.fill();
    }

    /// Copies the next chunk of the merged runs.
    fn fill(&mut self) {
        self.keys.clear();
        self.entries.clear();
        self.pos = 0;
        let contents = self.mem.contents.read();
        let mut picked: Vec<Entry> = Vec::with_capacity(CHUNK);
        while picked.len() < CHUNK {
            // The smallest head (the runs are few: at most log2 of the entries).
            let mut best: Option<(usize, &Entry)> = None;
            for (r, run) in self.runs.iter().enumerate() {
                if let Some(e) = run.get(self.heads[r])
                    && best.is_none_or(|(_, b)| contents.cmp(e, b) == Ordering::Less)
                {
                    best = Some((r, e));
                }
            }
            let Some((r, e)) = best else { break };
            picked.push(*e);
            self.heads[r] += 1;
        }
        // The keys and values lie wherever their batches were written, in no order: ask
        // for all their cache lines first, so the misses overlap rather than follow one
        // another in the copies below (a flush spent most of its time in those misses).
        for e in &picked {
            let batch = &contents.batches[e.batch as usize];
            prefetch_lines(key_in(batch, e));
            if e.kind == Kind::Put {
                let at = e.value_at as usize;
                prefetch_lines(&batch[at..at + (e.value_len as usize).min(256)]);
            }
        }
        for e in &picked {
            let value = match contents.value(e) {
                MemValue::Put(v) => v,
                MemValue::Delete => Bytes::new(),
            };
            ikey::encode(&mut self.keys, contents.key(e), e.seq, e.kind);
            self.entries.push((self.keys.len(), value));
        }
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
        if self.pos >= self.entries.len() && self.entries.len() == CHUNK {
            self.fill();
        }
        Ok(())
    }

    fn seek(&mut self, target: &[u8]) -> Result<()> {
        match ikey::decode(target) {
            Some((user, seq, _)) => self.position(Some((user, seq))),
            None => self.position(None),
        }
        Ok(())
    }

    fn seek_to_first(&mut self) -> Result<()> {
        self.position(None);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_snapshots() {
        let m = Memtable::new();
        m.insert(b"k", 1, MemValue::Put(Bytes::from_static(b"v1")));
        m.insert(b"k", 5, MemValue::Delete);
        m.insert(b"k", 9, MemValue::Put(Bytes::from_static(b"v9")));
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
            m.insert(&i.to_be_bytes(), u64::from(i) + 1, MemValue::Delete);
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

    /// A batch's buffer and entries: keys `keyNNNNN` for `keys`, values `key@seq_tag`.
    fn batch(keys: impl Iterator<Item = u64>, seq_tag: u64) -> (Bytes, Vec<BatchEntry>) {
        let mut buf = Vec::new();
        let mut entries = Vec::new();
        for k in keys {
            let key = format!("key{k:05}");
            let start = buf.len();
            buf.extend_from_slice(key.as_bytes());
            let mid = buf.len();
            buf.extend_from_slice(format!("{k}@{seq_tag}").as_bytes());
            entries.push(BatchEntry {
                kind: Kind::Put,
                key: start..mid,
                value: mid..buf.len(),
            });
        }
        (Bytes::from(buf), entries)
    }

    #[test]
    fn runs_merge_like_a_binary_counter() {
        let m = Memtable::new();
        let mut seq = 1;
        for b in 0..11u64 {
            let (buf, entries) = batch((0..10).map(|i| (i * 7 + b * 3) % 50), b);
            m.insert_batch(buf, seq, &entries).unwrap();
            seq += 10;
        }
        // 11 batches of 10 = 8 + 2 + 1 in binary.
        assert_eq!(m.runs(), vec![80, 20, 10]);
        assert_eq!(m.len(), 110);
    }

    #[test]
    fn gets_and_cursors_see_the_newest_version_across_runs() {
        let m = Arc::new(Memtable::new());
        let mut oracle = std::collections::BTreeMap::new();
        let mut seq = 1;
        for b in 0..37u64 {
            // Uneven batches, keys written again and again across them.
            let keys: Vec<u64> = (0..(b % 5) * 9 + 1)
                .map(|i| (i * 13 + b * 29) % 97)
                .collect();
            let (buf, entries) = batch(keys.iter().copied(), b);
            for (k, s) in keys.iter().zip(seq..) {
                oracle.insert((format!("key{k:05}"), s), format!("{k}@{b}"));
            }
            m.insert_batch(buf, seq, &entries).unwrap();
            seq += keys.len() as u64;
        }
        assert!(m.runs().len() > 1, "the test needs several runs");
        // Every key at every snapshot: the newest version at or below it.
        for snapshot in (0..seq).step_by(17) {
            for k in 0..100u64 {
                let key = format!("key{k:05}");
                let want = oracle
                    .range((key.clone(), 0)..=(key.clone(), snapshot))
                    .next_back()
                    .map(|(_, v)| MemValue::Put(Bytes::from(v.clone())));
                assert_eq!(m.get(key.as_bytes(), snapshot), want, "{key} at {snapshot}");
            }
        }
        // The cursor yields every version, keys ascending, newest first within a key.
        let mut it = m.iter();
        it.seek_to_first().unwrap();
        let mut seen = Vec::new();
        while it.valid() {
            let (user, seq, _) = ikey::decode(it.key()).unwrap();
            seen.push((String::from_utf8(user.to_vec()).unwrap(), seq, it.value()));
            it.next().unwrap();
        }
        let mut want: Vec<_> = oracle
            .iter()
            .map(|((k, s), v)| (k.clone(), *s, Bytes::from(v.clone())))
            .collect();
        want.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        assert_eq!(seen, want);
    }

    #[test]
    fn runs_longer_than_a_chunk_are_searched_and_walked_across_chunks() {
        let m = Arc::new(Memtable::new());
        let mut seq = 1;
        for b in 0..5u64 {
            let (buf, entries) = batch((0..1000).map(|i| i * 5 + b), b);
            m.insert_batch(buf, seq, &entries).unwrap();
            seq += 1000;
        }
        assert_eq!(m.runs(), vec![4000, 1000]);
        for k in 0..5000u64 {
            let want = MemValue::Put(Bytes::from(format!("{k}@{}", k % 5)));
            assert_eq!(
                m.get(format!("key{k:05}").as_bytes(), seq),
                Some(want),
                "{k}"
            );
        }
        assert_eq!(m.get(b"key05000", seq), None);
        let mut it = m.iter();
        let mut target = Vec::new();
        ikey::encode(&mut target, b"key01024", ikey::MAX_SEQ, Kind::Put);
        it.seek(&target).unwrap();
        let mut k = 1024;
        while it.valid() {
            assert_eq!(
                ikey::decode(it.key()).unwrap().0,
                format!("key{k:05}").as_bytes()
            );
            it.next().unwrap();
            k += 1;
        }
        assert_eq!(k, 5000);
    }

    #[test]
    fn a_cursor_reads_the_runs_it_started_with() {
        let m = Arc::new(Memtable::new());
        for i in 0..300u32 {
            m.insert(&i.to_be_bytes(), u64::from(i) + 1, MemValue::Delete);
        }
        let mut it = m.iter();
        it.seek_to_first().unwrap();
        // Later inserts merge the runs the cursor holds into new ones.
        for i in 300..600u32 {
            m.insert(&i.to_be_bytes(), u64::from(i) + 1, MemValue::Delete);
        }
        let mut n = 0u32;
        while it.valid() {
            assert_eq!(ikey::decode(it.key()).unwrap().0, n.to_be_bytes());
            it.next().unwrap();
            n += 1;
        }
        assert_eq!(n, 300);
    }
}
