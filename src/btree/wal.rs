//! The B+tree's write-ahead log: one record per committed transaction, holding the new
//! header and, for every page the transaction changed, the bytes that changed.
//!
//! # Format (see docs/FORMATS.md)
//!
//! The file is a log of records in the framing of `format::log` (header CRC, length, synced
//! length, payload CRC), so a torn tail is recognised and damage inside synced data is
//! `Error::Corruption`. The payload CRC covers every delta of the transaction: the record
//! is its own commit frame, and a transaction is in the log whole or not at all.
//!
//! The log is written in cycles, in two files by turns (db.rs). Once a cycle has been
//! checkpointed, its file is written again from its start for the cycle after next rather
//! than truncated: overwriting blocks the file already has makes each fdatasync cheaper
//! (no block allocation to journal; measured here: 2.4 GB/s against 0.3–0.6 GB/s
//! appending). The header inside each record names its WAL cycle, and recovery asks each
//! file for one cycle, so a record left over from an earlier cycle ends that file's log.
//!
//! ```text
//! payload:
//!   0    txn       u64          transaction number
//!   8    header    116 bytes    the database header as of this commit (pager.rs)
//!   124  pages     u32          deltas that follow
//!   128  deltas    pages x delta
//!
//! delta:
//!   0    page      u64          page number
//!   8    base      u8           0: the page as it was before this commit, 1: zeros
//!   9    len       u32          bytes of runs
//!   13   runs      len bytes    run...
//!
//! run:
//!   skip           varint       bytes left as they are since the last run's end
//!   size           varint       run length x 2, plus 1 for a run of zeros
//!   bytes          run length bytes, none for a run of zeros
//! ```
//!
//! A delta holds the bytes where the page differs from its base: for an insert into a
//! leaf, the new cell, the slots after it, the header fields and the checksum — about 200
//! bytes of a 4 KiB page, where a whole image would be 3 KB. The base is the page before
//! the commit: the newest delta before it in the log, or the database file's page. A new
//! page (past the end of the file) has a page of zeros for its base.
//!
//! Replaying a cycle's deltas in order onto a page is right even when a checkpoint of
//! that cycle was cut short and left the database file's page new, old, or torn between
//! the two: every byte that differs between the old page and the new one is in some delta
//! of the cycle, and the deltas set bytes rather than change them, so after the last one
//! each byte is the new page's. Only the end of a cycle's replay is a page to check.

use std::collections::hash_map::Entry;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use super::page::{MAX_PAGE, Page};
use super::pager::{DbHeader, HEADER_LEN};
use crate::error::{Error, Result};
use crate::format::coding::{Reader, put_varint};
use crate::format::intmap::IntMap;
use crate::format::log::{self, Appends};
use crate::vfs::VfsFile;

/// Which of the two WAL files holds cycle `cycle`: the log is written in cycles, in the
/// two files by turns (db.rs), even cycles in the first.
pub fn file_of(cycle: u64) -> usize {
    (cycle % 2) as usize
}

/// `[this, next]`, the things of cycle `cycle` and of the cycle after it, in the order of
/// the WAL files they belong to.
pub fn by_file<T>(cycle: u64, [this, next]: [T; 2]) -> [T; 2] {
    if file_of(cycle) == 0 {
        [this, next]
    } else {
        [next, this]
    }
}

/// Bytes of a commit record before its first delta, log framing included.
const PREFIX: usize = log::HEADER_LEN + 8 + HEADER_LEN + 4;
/// Bytes of a delta before its runs.
pub const DELTA_HEADER: usize = 8 + 1 + 4;
/// The base of a page new to the file.
static ZEROS: [u8; MAX_PAGE] = [0; MAX_PAGE];
/// Changed bytes closer than this go in one run: a run's header costs 2 to 6 bytes.
const JOIN_GAP: usize = 8;
/// Zeros at least this long inside a run are logged as a run of zeros.
const ZERO_RUN: usize = 32;

/// 16 bytes of `a` from `at`, as one integer to compare.
#[inline]
fn word(a: &[u8], at: usize) -> u128 {
    let mut w = [0u8; 16];
    w.copy_from_slice(&a[at..at + 16]);
    u128::from_le_bytes(w)
}

/// 8 bytes of `a` from `at`, as one integer to compare.
#[inline]
fn word8(a: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&a[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Where a run of differences that starts at `start` ends: before the first 8 bytes in
/// a row where `a` and `b` agree (or at their end). Steps 8 bytes at a time, so a long
/// run costs a compare per word, not a call per byte.
#[inline]
fn run_end(a: &[u8], b: &[u8], start: usize) -> usize {
    const _: () = assert!(JOIN_GAP == 8, "run_end compares 8-byte words");
    let mut end = start + 1;
    while end + 8 <= a.len() {
        let x = word8(a, end) ^ word8(b, end);
        if x == 0 {
            return end;
        }
        // Just past the last byte of the word that differs (little-endian: the highest).
        end += 8 - (x.leading_zeros() / 8) as usize;
    }
    (end..a.len())
        .rev()
        .find(|&j| a[j] != b[j])
        .map_or(end, |last| last + 1)
}

/// The first offset at or after `from` where `a` and `b` (of one length) differ.
#[inline]
fn next_difference(a: &[u8], b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    // 64 bytes a step while they agree, then 16 to find where they do not.
    while i + 64 <= a.len() {
        let x = (word(a, i) ^ word(b, i))
            | (word(a, i + 16) ^ word(b, i + 16))
            | (word(a, i + 32) ^ word(b, i + 32))
            | (word(a, i + 48) ^ word(b, i + 48));
        if x != 0 {
            break;
        }
        i += 64;
    }
    while i + 16 <= a.len() {
        let x = word(a, i) ^ word(b, i);
        if x != 0 {
            return Some(i + (x.trailing_zeros() / 8) as usize);
        }
        i += 16;
    }
    (i..a.len()).find(|&j| a[j] != b[j])
}

/// Appends one run header and its bytes.
fn put_run(out: &mut Vec<u8>, skip: usize, bytes: &[u8], zeros: bool) {
    put_varint(out, skip as u64);
    put_varint(out, (bytes.len() as u64) << 1 | u64::from(zeros));
    if !zeros {
        out.extend_from_slice(bytes);
    }
}

/// Appends the runs for `bytes`, which start `skip` bytes after the last run's end: as
/// literal bytes, except for stretches of at least [`ZERO_RUN`] zeros.
fn put_changed(out: &mut Vec<u8>, mut skip: usize, bytes: &[u8]) {
    let mut literal = 0; // start of the bytes not logged yet
    let mut i = 0;
    // A stretch of ZERO_RUN zeros holds a whole zero word on the 8-byte grid from the
    // start, so only where one is found is the stretch measured.
    const _: () = assert!(ZERO_RUN >= 16);
    while i + 8 <= bytes.len() {
        if word8(bytes, i) != 0 {
            i += 8;
            continue;
        }
        let start = bytes[..i]
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |n| n + 1);
        let end = bytes[i..]
            .iter()
            .position(|&b| b != 0)
            .map_or(bytes.len(), |n| i + n);
        if end - start >= ZERO_RUN && start >= literal {
            if literal < start {
                put_run(out, skip, &bytes[literal..start], false);
                skip = 0;
            }
            put_run(out, skip, &bytes[start..end], true);
            skip = 0;
            literal = end;
        }
        i = end.max(i + 8);
    }
    if literal < bytes.len() {
        put_run(out, skip, &bytes[literal..], false);
    }
}

/// Appends the runs that turn `base` (zeros if `None`) into `page`; the bytes in `same`
/// are known to be equal in both (zeros in both pages' holes), and are not compared.
pub fn encode_runs(out: &mut Vec<u8>, base: Option<&[u8]>, page: &[u8], same: Range<usize>) {
    let base = base.unwrap_or(&ZEROS[..page.len()]);
    debug_assert_eq!(base.len(), page.len());
    debug_assert!(base.get(same.clone()) == page.get(same.clone()));
    let next_outside = |from: usize| {
        if from < same.start
            && let Some(d) = next_difference(&base[..same.start], &page[..same.start], from)
        {
            return Some(d);
        }
        next_difference(base, page, from.max(same.end))
    };
    let mut logged = 0; // where the last run ended
    let mut next = next_outside(0);
    while let Some(start) = next {
        let end = run_end(base, page, start);
        put_changed(out, start - logged, &page[start..end]);
        logged = end;
        next = next_outside(end);
    }
}

/// The bytes zero in both `page` and `base` (zeros if `None`) since they lie in both
/// pages' holes, which are kept zero (see [`Page::zero_hole`]).
fn zero_in_both(page: &Page, base: Option<&Page>) -> Range<usize> {
    let (start, len) = page.hole();
    let (mut start, mut end) = (start, start + len);
    if let Some(base) = base {
        let (b_start, b_len) = base.hole();
        start = start.max(b_start);
        end = end.min(b_start + b_len);
    }
    if start < end { start..end } else { 0..0 }
}

/// Applies the runs in `runs` (all of the reader's bytes) to `page`.
pub fn apply_runs(runs: &mut Reader<'_>, page: &mut [u8]) -> Result<()> {
    let mut at = 0usize;
    while runs.remaining() > 0 {
        let skip = runs.varint()?;
        let size = runs.varint()?;
        let len = size >> 1;
        let start = usize::try_from(skip).ok().and_then(|s| at.checked_add(s));
        let end = start.and_then(|s| s.checked_add(usize::try_from(len).ok()?));
        let (Some(start), Some(end)) = (start, end) else {
            return Err(runs.corrupt("a delta's run past the end of its page"));
        };
        if end > page.len() {
            return Err(runs.corrupt("a delta's run past the end of its page"));
        }
        if size & 1 == 1 {
            page[start..end].fill(0);
        } else {
            page[start..end].copy_from_slice(runs.bytes(end - start)?);
        }
        at = end;
    }
    Ok(())
}

/// A page a transaction changed, and what it was before: `None` for a page new to the
/// file, whose base is zeros.
pub struct Changed {
    /// The page as the transaction leaves it.
    pub page: Arc<Page>,
    /// The page as the last commit left it.
    pub base: Option<Arc<Page>>,
}

/// Appends the commit record of transaction `header.txn` to `out` (whose first byte will be
/// written at file offset `at`), sealing each page (hole zeroed, checksum set).
///
/// Every `spill_every` bytes (checked every [`ROUND`] pages), the payload encoded so far goes to
/// `spill(bytes, file offset)`, so a caller can write it out while the rest is encoded;
/// the value returned is how many payload bytes went that way. The rest of the payload and
/// the record's header, filled in last, are only in `out`.
pub fn encode_commit(
    out: &mut Vec<u8>,
    at: u64,
    header: &DbHeader,
    pages: &mut [Changed],
    synced: u64,
    spill_every: usize,
    mut spill: impl FnMut(&[u8], u64) -> Result<()>,
) -> Result<usize> {
    // A delta is at most its page and a run header per JOIN_GAP bytes of it.
    let most: usize = pages
        .iter()
        .map(|c| DELTA_HEADER + 2 * c.page.data.len())
        .sum();
    if PREFIX - log::HEADER_LEN + most > u32::MAX as usize {
        // Before anything is spilled: a batch too large to log changes nothing.
        return Err(Error::invalid("a commit record of 4 GiB or more"));
    }
    let mut record = log::RecordEncoder::begin(out);
    let payload_start = out.len();
    let mut spilled = payload_start;
    out.extend_from_slice(&header.txn.to_le_bytes());
    out.extend_from_slice(&header.encode()[..HEADER_LEN]);
    out.extend_from_slice(&(pages.len() as u32).to_le_bytes());
    for round in pages.chunks_mut(ROUND) {
        encode_round(out, round);
        record.hash(out);
        if out.len() - spilled >= spill_every {
            spill(&out[spilled..], at + spilled as u64)?;
            spilled = out.len();
        }
    }
    record.finish(out, synced)?;
    Ok(spilled - payload_start)
}

/// Pages whose deltas are encoded between two checks for a piece to spill.
const ROUND: usize = 256;
/// Rounds of this many pages or more are split between this thread and a helper.
const PARALLEL_PAGES: usize = 32;

/// Appends the deltas of `pages` to `out`: for a large round, the first half here and
/// the second on a helper thread at the same time. Sealing and diffing pages is most of
/// a large commit's CPU (at 1M random inserts, a third of the writer's), and the writer
/// would otherwise leave the second core idle while it does it.
fn encode_round(out: &mut Vec<u8>, pages: &mut [Changed]) {
    if pages.len() < PARALLEL_PAGES {
        return encode_deltas(out, pages);
    }
    let mid = pages.len() / 2;
    let (mine, theirs) = pages.split_at_mut(mid);
    let helped = std::thread::scope(|s| {
        let helper = std::thread::Builder::new()
            .name("btree-encode".into())
            .spawn_scoped(s, || {
                let mut part = Vec::new();
                encode_deltas(&mut part, theirs);
                part
            });
        encode_deltas(out, mine);
        helper.ok().and_then(|h| h.join().ok())
    });
    match helped {
        Some(part) => out.extend_from_slice(&part),
        // No thread to be had: the second half here too.
        None => encode_deltas(out, &mut pages[mid..]),
    }
}

/// Appends the delta of each page to `out`, sealing the page (hole zeroed, checksum set)
/// just before its delta is taken, while its bytes are in cache.
fn encode_deltas(out: &mut Vec<u8>, pages: &mut [Changed]) {
    for changed in pages {
        let page = Arc::make_mut(&mut changed.page);
        page.zero_hole();
        page.seal();
        out.extend_from_slice(&page.number.to_le_bytes());
        out.push(u8::from(changed.base.is_none()));
        let len_at = out.len();
        out.extend_from_slice(&[0; 4]);
        let base = changed.base.as_deref();
        let same = zero_in_both(page, base);
        encode_runs(out, base.map(|b| &b.data[..]), &page.data, same);
        let len = (out.len() - len_at - 4) as u32;
        out[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
    }
}

/// Writes commit records at the end of the current cycle's records.
///
/// Small records make the file grow in steps of zeros written ahead of them (as
/// PostgreSQL zero-fills its WAL segments): a record then lands inside the file's length,
/// and its fdatasync has no new size or blocks to journal (single-key commits here: 4.2k/s
/// appending, 6–8k/s inside the file). Zeros are no record, so the log ends where they
/// start. The price: each byte of a first cycle is written twice, so only records under
/// [`SMALL_RECORD`](crate::format::log::SMALL_RECORD) do it; larger ones just append, and share their metadata update among
/// many bytes (fillseq, 120 KB a commit: W 2.1 zero-filling, 1.1 appending).
pub struct WalWriter {
    file: Box<dyn VfsFile>,
    len: u64,
    synced: u64,
    /// The file's length: records, then zeros (or an earlier cycle's records).
    size: u64,
    /// Bytes of zeros to write ahead when a record reaches the end of the file.
    step: u64,
    /// A large record goes out in pieces of this many bytes (see `append_commit`).
    spill_every: usize,
}

impl WalWriter {
    /// Writes after the `len` bytes of this cycle's intact records, growing the file
    /// `step` bytes at a time, and writing records larger than `spill_every` in pieces.
    pub fn new(file: Box<dyn VfsFile>, len: u64, step: u64, spill_every: usize) -> Result<Self> {
        let size = file.len()?;
        Ok(WalWriter {
            file,
            len,
            synced: len,
            size,
            step,
            spill_every,
        })
    }

    /// Bytes of this cycle's records.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when this cycle has no records yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes encoded records after the last one.
    pub fn append(&mut self, records: &[u8]) -> Result<()> {
        self.size =
            log::write_stepped(self.file.as_ref(), records, self.len, self.size, self.step)?;
        self.len += records.len() as u64;
        Ok(())
    }

    /// Encodes transaction `header.txn`'s commit record into `buf` (emptied first) and
    /// writes it after the last one; returns the file offset where the record starts. A
    /// large record (a bulk load, a big value) goes out in pieces as it is encoded, each
    /// one's writeback started at once, so the device is busy while the CPU encodes the
    /// rest and the sync that follows has less left to wait for.
    pub fn append_commit(
        &mut self,
        buf: &mut Vec<u8>,
        header: &DbHeader,
        pages: &mut [Changed],
    ) -> Result<u64> {
        buf.clear();
        let at = self.len;
        let file = &self.file;
        let spill = |part: &[u8], offset| {
            file.write_at(part, offset)?;
            file.start_writeback(offset, part.len() as u64);
            Ok(())
        };
        let spilled = encode_commit(buf, at, header, pages, self.synced, self.spill_every, spill)?;
        if spilled == 0 {
            self.append(buf)?;
        } else {
            // The header last: only now is the payload's checksum known.
            let rest = log::HEADER_LEN + spilled;
            self.file.write_at(&buf[rest..], at + rest as u64)?;
            self.file.write_at(&buf[..log::HEADER_LEN], at)?;
            self.len = at + buf.len() as u64;
            self.size = self.size.max(self.len);
        }
        Ok(at)
    }

    /// Makes every record written durable.
    pub fn sync(&mut self) -> Result<()> {
        if self.synced < self.len && !crate::planted::planted("btree_wal_sync") {
            self.file.sync()?;
            self.synced = self.len;
        }
        Ok(())
    }

    /// Starts the next cycle at the start of the file, keeping its blocks.
    pub fn restart(&mut self) {
        self.len = 0;
        self.synced = 0;
    }

    /// Starts the next cycle in an empty file (a store at rest takes no space for it).
    pub fn truncate(&mut self) -> Result<()> {
        if self.file.len()? > 0 {
            self.file.truncate(0)?;
            self.file.sync()?;
        }
        self.size = 0;
        self.restart();
        Ok(())
    }
}

/// One page's delta in a commit found in the log.
#[derive(Debug, Clone)]
pub struct Delta {
    /// The page it changes.
    pub page: u64,
    /// True if its base is a page of zeros, false if the page as it was before.
    pub from_zeros: bool,
    /// Where its runs lie in the log's bytes.
    pub runs: std::ops::Range<usize>,
}

impl Delta {
    /// Applies this delta, found in `log` (the bytes of `path`), to `page`.
    pub fn apply(&self, log: &[u8], path: &Path, page: &mut [u8]) -> Result<()> {
        if self.from_zeros {
            page.fill(0);
        }
        let mut runs = Reader::new(&log[self.runs.clone()], path, self.runs.start as u64);
        apply_runs(&mut runs, page)
    }
}

/// One committed transaction found in the log.
#[derive(Debug)]
pub struct Commit {
    /// Its number.
    pub txn: u64,
    /// The header it committed.
    pub header: DbHeader,
    /// The changed pages' deltas, in the order to apply them.
    pub deltas: Vec<Delta>,
    /// Where the record starts in the file.
    pub start: u64,
}

/// The WAL cycle a commit record's payload names, if it has one.
fn cycle_of(payload: &[u8]) -> Option<u64> {
    let at = 8 + 96;
    Some(u64::from_le_bytes(
        payload.get(at..at + 8)?.try_into().ok()?,
    ))
}

/// The committed transactions of WAL cycle `cycle` in a WAL's bytes, and where they end.
pub fn read_commits(data: &[u8], path: &Path, cycle: u64) -> Result<(Vec<Commit>, u64)> {
    let belongs = |payload: &[u8]| cycle_of(payload) == Some(cycle);
    let contents = log::read_records_of(data, path, Appends::MaybeConcurrent, &belongs)?;
    let mut commits = Vec::with_capacity(contents.records.len());
    for record in contents.records {
        let payload = &data[record.clone()];
        let mut r = Reader::new(payload, path, record.start as u64);
        let txn = r.u64()?;
        let header = DbHeader::decode(r.bytes(HEADER_LEN)?, path)?;
        let count = r.u32()? as usize;
        let mut deltas = Vec::with_capacity(count.min(payload.len() / DELTA_HEADER));
        for _ in 0..count {
            let page = r.u64()?;
            let from_zeros = match r.u8()? {
                0 => false,
                1 => true,
                other => return Err(r.corrupt(format!("delta base {other}"))),
            };
            let len = r.u32()? as usize;
            let start = record.start + r.position();
            r.bytes(len)?;
            if page == 0 || page >= header.page_count {
                return Err(r.corrupt(format!(
                    "a delta of page {page} in a database of {} pages",
                    header.page_count
                )));
            }
            deltas.push(Delta {
                page,
                from_zeros,
                runs: start..start + len,
            });
        }
        if r.remaining() != 0 {
            return Err(r.corrupt("bytes after the last delta of a commit record"));
        }
        commits.push(Commit {
            txn,
            header,
            deltas,
            start: (record.start - log::HEADER_LEN) as u64,
        });
    }
    Ok((commits, contents.valid_len as u64))
}

/// Replays `commits`, found in `log` (the bytes of `path`), onto `pages`: each delta is
/// applied to the page as `pages` holds it, or, for a page not there yet, to its base,
/// which `read_base(page, buffer)` reads into a buffer (a page the first delta of which
/// starts from zeros needs none). Returns the pages the commits changed, each with the
/// start of the last record that did. Pages are not checked here: while a cycle is
/// replayed onto the database file a checkpoint of it left, a page may be half old and
/// half new until the cycle's last delta of it.
pub(crate) fn replay(
    commits: &[Commit],
    log: &[u8],
    path: &Path,
    pages: &mut IntMap<u64, Vec<u8>>,
    page_size: usize,
    read_base: &mut dyn FnMut(u64, &mut [u8]) -> Result<()>,
) -> Result<IntMap<u64, u64>> {
    let mut changed = IntMap::default();
    for commit in commits {
        for delta in &commit.deltas {
            let page = match pages.entry(delta.page) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    let mut data = vec![0; page_size];
                    if !delta.from_zeros {
                        read_base(delta.page, &mut data)?;
                    }
                    e.insert(data)
                }
            };
            delta.apply(log, path, page)?;
            changed.insert(delta.page, commit.start);
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::page::PageKind;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// [`encode_commit`] into `out` alone: what it spills is in `out` all the same.
    fn encode(
        out: &mut Vec<u8>,
        at: u64,
        txn: u64,
        header: &DbHeader,
        pages: Vec<Arc<Page>>,
        synced: u64,
    ) {
        let ignore = |_: &[u8], _: u64| Ok(());
        let header = DbHeader { txn, ..*header };
        let mut pages: Vec<Changed> = pages
            .into_iter()
            .map(|page| Changed { page, base: None })
            .collect();
        encode_commit(out, at, &header, &mut pages, synced, 1, ignore).unwrap();
    }

    fn page(n: u64, fill: u8) -> Arc<Page> {
        let mut p = Page::new(n, 512, PageKind::Overflow);
        p.data[100] = fill;
        p.seal();
        Arc::new(p)
    }

    /// The runs from `base` to `page`, applied to `base`.
    fn round_trip(base: Option<&[u8]>, page: &[u8]) -> (Vec<u8>, usize) {
        let mut runs = Vec::new();
        encode_runs(&mut runs, base, page, 0..0);
        let mut out = base.map_or_else(|| vec![0; page.len()], <[u8]>::to_vec);
        let mut r = Reader::new(&runs, Path::new("wal"), 0);
        apply_runs(&mut r, &mut out).unwrap();
        (out, runs.len())
    }

    #[test]
    fn runs_turn_the_base_into_the_page() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for round in 0..2000 {
            let size = [512, 4096, 65536][round % 3];
            let base: Vec<u8> = (0..size)
                .map(|_| {
                    if rng.random_bool(0.5) {
                        0
                    } else {
                        rng.random()
                    }
                })
                .collect();
            let mut page = base.clone();
            // Changes of every shape: single bytes, short and long stretches, zeros.
            for _ in 0..rng.random_range(0..20) {
                let at = rng.random_range(0..size);
                let len = rng.random_range(1..=(size - at).min([1, 7, 40, 3000][round % 4]));
                let zero = rng.random_bool(0.3);
                for b in &mut page[at..at + len] {
                    *b = if zero { 0 } else { rng.random() };
                }
            }
            let (out, _) = round_trip(Some(&base), &page);
            assert!(out == page, "round {round}");
            let (out, _) = round_trip(None, &page);
            assert!(out == page, "round {round} from zeros");
        }
    }

    #[test]
    fn an_insert_into_a_leaf_logs_its_cell_not_its_page() {
        let mut leaf = Page::new(5, 4096, PageKind::Leaf);
        for i in 0..24u32 {
            let key = (i * 2).to_be_bytes();
            leaf.insert(i as usize, &Page::inline_leaf_cell(&key, &[i as u8; 100]))
                .unwrap();
        }
        leaf.seal();
        let mut after = leaf.clone();
        after
            .insert(3, &Page::inline_leaf_cell(&5u32.to_be_bytes(), &[9; 100]))
            .unwrap();
        after.seal();
        let (out, len) = round_trip(Some(&leaf.data), &after.data);
        assert!(out == after.data[..]);
        assert!(
            len < 200,
            "a 106-byte cell into a 70% full page logs {len} bytes"
        );
        // Leaving out the bytes in both holes changes nothing.
        let same = zero_in_both(&after, Some(&leaf));
        assert!(same.len() > 1000, "{same:?}");
        let mut runs = (Vec::new(), Vec::new());
        encode_runs(&mut runs.0, Some(&leaf.data), &after.data, 0..0);
        encode_runs(&mut runs.1, Some(&leaf.data), &after.data, same);
        assert_eq!(runs.0, runs.1);
        // A page new to the file logs its used bytes, not its empty middle.
        let (out, len) = round_trip(None, &after.data);
        assert!(out == after.data[..]);
        assert!(len < after.used() + 200, "{len} bytes for a new page");
        let (_, len) = round_trip(None, &Page::new(6, 4096, PageKind::Free).data);
        assert!(len < 10, "an empty page logs {len} bytes");
        let (_, len) = round_trip(Some(&after.data), &after.data);
        assert_eq!(len, 0, "no change, no runs");
    }

    #[test]
    fn the_worked_example_in_formats_md() {
        let mut before = Page::new(7, 512, PageKind::Leaf);
        before
            .insert(0, &Page::inline_leaf_cell(b"a", b"xy"))
            .unwrap();
        before.seal();
        let mut after = before.clone();
        after
            .insert(1, &Page::inline_leaf_cell(b"k", b"vv"))
            .unwrap();
        let mut changed = [Changed {
            page: Arc::new(after),
            base: Some(Arc::new(before)),
        }];
        let mut delta = Vec::new();
        encode_deltas(&mut delta, &mut changed);
        let crc = &changed[0].page.data[0..4];
        let mut expected = vec![7, 0, 0, 0, 0, 0, 0, 0, 0, 23, 0, 0, 0];
        expected.extend_from_slice(&[0x00, 0x12]); // skip 0, 9 literal bytes
        expected.extend_from_slice(crc);
        expected.extend_from_slice(&[0x01, 0x00, 0x02, 0x00, 0xf6]); // kind, 0, cells 2, content 502
        expected.extend_from_slice(&[0x11, 0x04, 0xf6, 0x01]); // skip 17, slot 1 = 502
        expected.extend_from_slice(&[0xda, 0x03, 0x0a, 0x01, 0x02, b'k', b'v', b'v']); // skip 474, the cell
        assert_eq!(delta, expected, "{delta:02x?}");
    }

    #[test]
    fn a_run_past_the_page_is_corruption() {
        let mut runs = Vec::new();
        put_run(&mut runs, 500, &[1; 20], false);
        let mut page = vec![0; 512];
        let mut r = Reader::new(&runs, Path::new("wal"), 0);
        assert!(matches!(
            apply_runs(&mut r, &mut page),
            Err(Error::Corruption { .. })
        ));
        let mut runs = Vec::new();
        put_varint(&mut runs, u64::MAX);
        put_varint(&mut runs, 4);
        let mut r = Reader::new(&runs, Path::new("wal"), 0);
        assert!(apply_runs(&mut r, &mut page).is_err());
    }

    /// Page `n` as the commits in `log` leave it, starting from zeros.
    fn replay(log: &[u8], commits: &[Commit], n: u64) -> Vec<u8> {
        let mut page = vec![0; 512];
        for delta in commits.iter().flat_map(|c| &c.deltas) {
            if delta.page == n {
                delta.apply(log, Path::new("wal"), &mut page).unwrap();
            }
        }
        page
    }

    #[test]
    fn commits_round_trip() {
        let header = DbHeader {
            page_count: 10,
            ..DbHeader::new(512)
        };
        let mut log = Vec::new();
        encode(&mut log, 0, 1, &header, vec![page(3, 7), page(9, 8)], 0);
        let at = log.len() as u64;
        // The second commit changes page 3 against its first image.
        let mut changed = vec![Changed {
            page: page(3, 9),
            base: Some(page(3, 7)),
        }];
        let second = DbHeader { txn: 2, ..header };
        encode_commit(&mut log, at, &second, &mut changed, at, 1, |_, _| Ok(())).unwrap();
        let (commits, valid) = read_commits(&log, Path::new("wal"), 1).unwrap();
        assert_eq!(valid, log.len() as u64);
        assert_eq!(commits.len(), 2);
        assert_eq!((commits[0].start, commits[1].start), (0, at));
        assert_eq!(commits[1].txn, 2);
        assert!(!commits[1].deltas[0].from_zeros && commits[0].deltas[0].from_zeros);
        assert_eq!(replay(&log, &commits[..1], 3), page(3, 7).data[..]);
        assert_eq!(replay(&log, &commits, 3), page(3, 9).data[..]);
        assert_eq!(replay(&log, &commits, 9), page(9, 8).data[..]);
        Page::decode(3, replay(&log, &commits, 3), Path::new("wal")).unwrap();
    }

    #[test]
    fn records_of_an_earlier_cycle_end_the_log_quietly() {
        let old = DbHeader {
            page_count: 10,
            ..DbHeader::new(512)
        };
        let mut log = Vec::new();
        for txn in 1..6 {
            let synced = log.len() as u64;
            encode(&mut log, 0, txn, &old, vec![page(3, 7), page(4, 1)], synced);
        }
        // The next cycle overwrites the start of the file with one shorter record.
        let new = DbHeader {
            wal_cycle: 2,
            ..old
        };
        let mut first = Vec::new();
        encode(&mut first, 0, 6, &new, vec![page(5, 2)], 0);
        log[..first.len()].copy_from_slice(&first);
        let (commits, valid) = read_commits(&log, Path::new("wal"), 2).unwrap();
        assert_eq!((commits.len(), valid), (1, first.len() as u64));
        let (commits, _) = read_commits(&log, Path::new("wal"), 3).unwrap();
        assert!(commits.is_empty());
    }

    #[test]
    fn small_records_grow_the_file_in_steps_of_zeros_that_end_the_log() {
        use crate::vfs::{FileKind, SimFs, Vfs};
        let fs = SimFs::new();
        let file = fs.create(Path::new("/wal"), FileKind::Wal).unwrap();
        let mut w = WalWriter::new(file, 0, 64 << 10, 1 << 20).unwrap();
        let header = DbHeader {
            page_count: 10,
            ..DbHeader::new(512)
        };
        let changed = |pages: Vec<Arc<Page>>| -> Vec<Changed> {
            pages
                .into_iter()
                .map(|page| Changed { page, base: None })
                .collect()
        };
        for txn in 1..=6 {
            let mut record = Vec::new();
            let header = DbHeader { txn, ..header };
            let at = w
                .append_commit(&mut record, &header, &mut changed(vec![page(3, txn as u8)]))
                .unwrap();
            assert_eq!(at + record.len() as u64, w.len());
            w.sync().unwrap();
        }
        let size = fs.file_len(Path::new("/wal")).unwrap();
        assert!(
            size > w.len() && size <= w.len() + (64 << 10),
            "zeros ahead: {size}"
        );
        let data = fs
            .open(Path::new("/wal"), FileKind::Wal)
            .unwrap()
            .read_all()
            .unwrap();
        let (commits, valid) = read_commits(&data, Path::new("wal"), 1).unwrap();
        assert_eq!((commits.len(), valid), (6, w.len()));
        // A large record just appends.
        let big: Vec<_> = (1..200)
            .map(|n| {
                let mut p = Page::new(n % 9 + 1, 512, PageKind::Overflow);
                p.data[24..].fill(n as u8 | 1);
                Arc::new(p)
            })
            .collect();
        let mut record = Vec::new();
        let before = w.len();
        w.append_commit(
            &mut record,
            &DbHeader { txn: 7, ..header },
            &mut changed(big),
        )
        .unwrap();
        assert!(record.len() >= crate::format::log::SMALL_RECORD);
        assert_eq!(w.len(), before + record.len() as u64);
        assert!(w.len() > size);
        assert_eq!(
            fs.file_len(Path::new("/wal")).unwrap(),
            w.len(),
            "no zeros after it"
        );
    }

    #[test]
    fn a_torn_commit_is_not_a_commit() {
        let header = DbHeader {
            page_count: 10,
            ..DbHeader::new(512)
        };
        let mut log = Vec::new();
        encode(&mut log, 0, 1, &header, vec![page(3, 7)], 0);
        let whole = log.len();
        encode(&mut log, 0, 2, &header, vec![page(4, 7), page(5, 1)], 0);
        for cut in whole..log.len() {
            let (commits, valid) = read_commits(&log[..cut], Path::new("wal"), 1).unwrap();
            assert_eq!((commits.len(), valid), (1, whole as u64), "cut at {cut}");
        }
    }

    #[test]
    fn deltas_encoded_on_two_threads_are_the_deltas_encoded_on_one() {
        let pages = || -> Vec<Changed> {
            (1..=700u64)
                .map(|n| {
                    let mut base = Page::new(n, 512, PageKind::Leaf);
                    base.insert(0, &Page::inline_leaf_cell(&n.to_be_bytes(), &[1; 40]))
                        .unwrap();
                    base.seal();
                    let mut page = base.clone();
                    page.insert(1, &Page::inline_leaf_cell(b"~", &[n as u8; 30]))
                        .unwrap();
                    Changed {
                        page: Arc::new(page),
                        base: (n % 3 != 0).then(|| Arc::new(base)),
                    }
                })
                .collect()
        };
        let header = DbHeader {
            page_count: 800,
            ..DbHeader::new(512)
        };
        let mut record = Vec::new();
        encode_commit(
            &mut record,
            0,
            &header,
            &mut pages(),
            0,
            usize::MAX,
            |_, _| Ok(()),
        )
        .unwrap();
        let mut serial = Vec::new();
        encode_deltas(&mut serial, &mut pages());
        assert!(
            record.ends_with(&serial),
            "the same deltas in the same order"
        );
        assert_eq!(record.len(), PREFIX + serial.len());
        let (commits, _) = read_commits(&record, Path::new("wal"), 1).unwrap();
        assert_eq!(commits[0].deltas.len(), 700);
    }

    #[test]
    fn a_large_record_written_in_pieces_is_the_record_encoded_whole() {
        use crate::vfs::{FileKind, SimFs, Vfs};
        let fs = SimFs::new();
        let file = fs.create(Path::new("/wal"), FileKind::Wal).unwrap();
        let mut w = WalWriter::new(file, 0, 64 << 10, 512 << 10).unwrap();
        let header = DbHeader {
            page_count: 400,
            ..DbHeader::new(4096)
        };
        let page = |n: u64, fill: u8| {
            let mut p = Page::new(n, 4096, PageKind::Overflow);
            p.data[100..4000].fill(fill ^ n as u8);
            Arc::new(p)
        };
        let pages = |fill: u8| -> Vec<Changed> {
            (1..=300)
                .map(|n| Changed {
                    page: page(n, fill),
                    base: None,
                })
                .collect()
        };
        let mut buf = Vec::new();
        let one = |n| {
            vec![Changed {
                page: page(n, 1),
                base: None,
            }]
        };
        w.append_commit(&mut buf, &DbHeader { txn: 1, ..header }, &mut one(2))
            .unwrap();
        let at = w.len();
        assert_eq!(
            w.append_commit(&mut buf, &DbHeader { txn: 2, ..header }, &mut pages(5))
                .unwrap(),
            at
        );
        assert!(w.len() - at > 2 * (512 << 10), "spills more than once");

        let mut whole = Vec::new();
        let ignore = |_: &[u8], _: u64| Ok(());
        let h1 = DbHeader { txn: 1, ..header };
        encode_commit(&mut whole, 0, &h1, &mut one(2), 0, usize::MAX, ignore).unwrap();
        let h2 = DbHeader { txn: 2, ..header };
        encode_commit(&mut whole, 0, &h2, &mut pages(5), 0, usize::MAX, ignore).unwrap();
        let data = fs
            .open(Path::new("/wal"), FileKind::Wal)
            .unwrap()
            .read_all()
            .unwrap();
        assert_eq!(data.len(), whole.len());
        assert!(data == whole, "the file holds the record as encoded whole");
        let (commits, valid) = read_commits(&data, Path::new("wal"), 1).unwrap();
        assert_eq!((commits.len(), valid), (2, data.len() as u64));
        assert_eq!(commits[1].deltas.len(), 300);
        for delta in &commits[1].deltas {
            let mut image = vec![0; 4096];
            delta.apply(&data, Path::new("wal"), &mut image).unwrap();
            let n = delta.page;
            assert_eq!(image[100], 5 ^ n as u8);
            Page::decode(n, image, Path::new("wal")).unwrap();
        }
    }
}
