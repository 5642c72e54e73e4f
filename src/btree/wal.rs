//! The B+tree's write-ahead log: one record per committed transaction, holding the new
//! header and the image of every page the transaction changed.
//!
//! # Format (see docs/FORMATS.md)
//!
//! The file is a log of records in the framing of `lsm::wal` (header CRC, length, synced
//! length, payload CRC), so a torn tail is recognised and damage inside synced data is
//! `Error::Corruption`. The payload CRC covers every image of the transaction: the record
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
//!   124  pages     u32          images that follow
//!   128  images    pages x image
//!
//! image:
//!   0    page      u64          page number
//!   8    hole      u32          where the page's hole starts
//!   12   hole len  u32          bytes of hole left out
//!   16   bytes     page_size - hole len: the page before the hole, then after it
//! ```
//!
//! The hole is a page's free gap (between the slot array and the cells; all of a free
//! page after its header), zero in the page, so leaving it out loses nothing; a tree
//! page filled to 70% logs 70% of a page. Each image rebuilds to a sealed page (its own
//! CRC), so a reader that fetches one image by offset checks it without the rest of the
//! record.

use std::path::Path;
use std::sync::Arc;

use super::page::{Page, PageBytes};
use super::pager::{DbHeader, HEADER_LEN};
use crate::error::{Error, Result};
use crate::lsm::coding::Reader;
use crate::lsm::wal::{self, Appends};
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

/// Bytes of a commit record before its first image, log framing included.
const PREFIX: usize = wal::HEADER_LEN + 8 + HEADER_LEN + 4;
/// Bytes of an image before the page's bytes.
pub const IMAGE_HEADER: usize = 8 + 4 + 4;

/// Rebuilds a page from the image at the start of `bytes` (which may run on past it);
/// `None` if the image is malformed or cut short.
pub fn decode_image(bytes: &[u8], page_size: usize) -> Option<(u64, Vec<u8>)> {
    let mut data = Vec::with_capacity(page_size);
    let number = decode_image_onto(bytes, page_size, &mut data)?;
    Some((number, data))
}

/// [`decode_image`] onto the end of `out`, which grows by a page (or not at all, if the
/// image is malformed); returns the page number. Each byte is written once: the kept
/// bytes copied, the hole zeroed.
pub fn decode_image_onto(bytes: &[u8], page_size: usize, out: &mut Vec<u8>) -> Option<u64> {
    let u32_at = |at: usize| -> Option<usize> {
        Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize)
    };
    let number = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let (start, len) = (u32_at(8)?, u32_at(12)?);
    if start.checked_add(len)? > page_size {
        return None;
    }
    let kept = bytes.get(IMAGE_HEADER..IMAGE_HEADER + page_size - len)?;
    out.reserve(page_size);
    out.extend_from_slice(&kept[..start]);
    out.resize(out.len() + len, 0);
    out.extend_from_slice(&kept[start..]);
    Some(number)
}

/// Bytes of `page`'s image (header included).
pub fn image_len<B: PageBytes>(page: &Page<B>) -> usize {
    IMAGE_HEADER + page.data.len() - page.hole().1
}

/// Appends the commit record of transaction `header.txn` to `out` (whose first byte will be
/// written at file offset `at`), and returns the file offset of each page's image.
///
/// Each page is sealed (hole zeroed, checksum set) just before its image is copied, while
/// its bytes are in cache. Every `spill_every` bytes, the payload encoded so far goes to
/// `spill(bytes, file offset)`, so a caller can write it out while the rest is encoded;
/// the second value returned is how many payload bytes went that way. The rest of the
/// payload and the record's header, filled in last, are only in `out`.
pub fn encode_commit(
    out: &mut Vec<u8>,
    at: u64,
    header: &DbHeader,
    pages: &mut [Arc<Page>],
    synced: u64,
    spill_every: usize,
    mut spill: impl FnMut(&[u8], u64) -> Result<()>,
) -> Result<(Vec<(u64, u64)>, usize)> {
    let mut offsets = Vec::with_capacity(pages.len());
    let images: usize = pages.iter().map(|p| image_len(p)).sum();
    if PREFIX - wal::HEADER_LEN + images > u32::MAX as usize {
        // Before anything is spilled: a batch too large to log changes nothing.
        return Err(Error::invalid("a commit record of 4 GiB or more"));
    }
    out.reserve(PREFIX + images);
    let mut record = wal::RecordEncoder::begin(out);
    let payload_start = out.len();
    let mut spilled = payload_start;
    out.extend_from_slice(&header.txn.to_le_bytes());
    out.extend_from_slice(&header.encode()[..HEADER_LEN]);
    out.extend_from_slice(&(pages.len() as u32).to_le_bytes());
    for page in pages {
        let page = Arc::make_mut(page);
        page.zero_hole();
        page.seal();
        let (hole, hole_len) = page.hole();
        offsets.push((page.number, at + out.len() as u64));
        out.extend_from_slice(&page.number.to_le_bytes());
        out.extend_from_slice(&(hole as u32).to_le_bytes());
        out.extend_from_slice(&(hole_len as u32).to_le_bytes());
        out.extend_from_slice(&page.data[..hole]);
        out.extend_from_slice(&page.data[hole + hole_len..]);
        record.hash(out);
        if out.len() - spilled >= spill_every {
            spill(&out[spilled..], at + spilled as u64)?;
            spilled = out.len();
        }
    }
    record.finish(out, synced)?;
    Ok((offsets, spilled - payload_start))
}

/// Records under this many bytes grow the WAL file in steps of zeros.
pub const SMALL_RECORD: usize = 16 << 10;

/// Writes commit records at the end of the current cycle's records.
///
/// Small records make the file grow in steps of zeros written ahead of them (as
/// PostgreSQL zero-fills its WAL segments): a record then lands inside the file's length,
/// and its fdatasync has no new size or blocks to journal (single-key commits here: 4.2k/s
/// appending, 6–8k/s inside the file). Zeros are no record, so the log ends where they
/// start. The price: each byte of a first cycle is written twice, so only records under
/// [`SMALL_RECORD`] do it; larger ones just append, and share their metadata update among
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

    /// How much of this cycle is durable.
    pub fn synced(&self) -> u64 {
        self.synced
    }

    /// Writes encoded records after the last one.
    pub fn append(&mut self, records: &[u8]) -> Result<()> {
        let end = self.len + records.len() as u64;
        if end <= self.size || records.len() >= SMALL_RECORD {
            self.file.write_at(records, self.len)?;
            self.size = self.size.max(end);
        } else {
            let mut grown = Vec::with_capacity(records.len() + self.step as usize);
            grown.extend_from_slice(records);
            grown.resize(records.len() + self.step as usize, 0);
            self.file.write_at(&grown, self.len)?;
            self.size = end + self.step;
        }
        self.len = end;
        Ok(())
    }

    /// Encodes transaction `header.txn`'s commit record into `buf` (emptied first) and writes it
    /// after the last one; returns the file offset of each page's image. A large record
    /// goes out in pieces as it is encoded, each one's writeback started at once, so the
    /// device is busy while the CPU encodes the rest and the sync that follows has less
    /// left to wait for (1M random inserts: fdatasync took 5 ms of each 22 ms batch).
    pub fn append_commit(
        &mut self,
        buf: &mut Vec<u8>,
        header: &DbHeader,
        pages: &mut [Arc<Page>],
    ) -> Result<Vec<(u64, u64)>> {
        buf.clear();
        let at = self.len;
        let file = &self.file;
        let spill = |part: &[u8], offset| {
            file.write_at(part, offset)?;
            file.start_writeback(offset, part.len() as u64);
            Ok(())
        };
        let (offsets, spilled) =
            encode_commit(buf, at, header, pages, self.synced, self.spill_every, spill)?;
        if spilled == 0 {
            self.append(buf)?;
        } else {
            // The header last: only now is the payload's checksum known.
            let rest = wal::HEADER_LEN + spilled;
            self.file.write_at(&buf[rest..], at + rest as u64)?;
            self.file.write_at(&buf[..wal::HEADER_LEN], at)?;
            self.len = at + buf.len() as u64;
            self.size = self.size.max(self.len);
        }
        Ok(offsets)
    }

    /// Makes every record written durable.
    pub fn sync(&mut self) -> Result<()> {
        if self.synced < self.len {
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

/// One committed transaction found in the log.
#[derive(Debug)]
pub struct Commit {
    /// Its number.
    pub txn: u64,
    /// The header it committed.
    pub header: DbHeader,
    /// (page number, file offset of the image's header).
    pub images: Vec<(u64, u64)>,
    /// Where the record ends in the file.
    pub end: u64,
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
    let contents = wal::read_records_of(data, path, Appends::MaybeConcurrent, &belongs)?;
    let mut commits = Vec::with_capacity(contents.records.len());
    for record in contents.records {
        let payload = &data[record.clone()];
        let mut r = Reader::new(payload, path, record.start as u64);
        let txn = r.u64()?;
        let header = DbHeader::decode(r.bytes(HEADER_LEN)?, path)?;
        let count = r.u32()? as usize;
        let page_size = header.page_size as usize;
        let mut images = Vec::with_capacity(count);
        for _ in 0..count {
            let at = r.position();
            let Some((number, data)) = decode_image(&payload[at..], page_size) else {
                return Err(r.corrupt("malformed page image in a commit record"));
            };
            if number == 0 || number >= header.page_count {
                return Err(r.corrupt(format!(
                    "image of page {number} in a database of {} pages",
                    header.page_count
                )));
            }
            let page = Page::decode_at(number, data, path, record.start as u64 + at as u64)?;
            images.push((number, record.start as u64 + at as u64));
            r.bytes(image_len(&page))?;
        }
        if r.remaining() != 0 {
            return Err(r.corrupt("bytes after the last image of a commit record"));
        }
        commits.push(Commit {
            txn,
            header,
            images,
            end: record.end as u64,
        });
    }
    Ok((commits, contents.valid_len as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::page::PageKind;

    /// [`encode_commit`] into `out` alone: what it spills is in `out` all the same.
    fn encode(
        out: &mut Vec<u8>,
        at: u64,
        txn: u64,
        header: &DbHeader,
        mut pages: Vec<Arc<Page>>,
        synced: u64,
    ) -> Vec<(u64, u64)> {
        let ignore = |_: &[u8], _: u64| Ok(());
        let header = DbHeader { txn, ..*header };
        encode_commit(out, at, &header, &mut pages, synced, 1, ignore)
            .unwrap()
            .0
    }

    fn page(n: u64, fill: u8) -> Arc<Page> {
        let mut p = Page::new(n, 512, PageKind::Overflow);
        p.data[100] = fill;
        p.seal();
        Arc::new(p)
    }

    #[test]
    fn images_leave_the_hole_out_and_rebuild_the_page() {
        let mut p = Page::new(5, 4096, PageKind::Leaf);
        p.insert(0, &Page::inline_leaf_cell(b"k", &[3; 200]))
            .unwrap();
        p.zero_hole();
        p.seal();
        let header = DbHeader {
            page_count: 10,
            ..DbHeader::new(4096)
        };
        let mut log = Vec::new();
        let at = encode(&mut log, 0, 1, &header, vec![Arc::new(p.clone())], 0);
        assert!(
            log.len() < 400,
            "a page 5% full logs 5% of a page: {}",
            log.len()
        );
        let (n, data) = decode_image(&log[at[0].1 as usize..], 4096).unwrap();
        assert_eq!((n, &data[..]), (5, &p.data[..]));
        let free = Page::new(6, 4096, PageKind::Free);
        assert_eq!(image_len(&free), IMAGE_HEADER + 24);
    }

    #[test]
    fn commits_round_trip_with_image_offsets() {
        let header = DbHeader {
            page_count: 10,
            ..DbHeader::new(512)
        };
        let mut log = Vec::new();
        let first = encode(&mut log, 0, 1, &header, vec![page(3, 7), page(9, 8)], 0);
        let at = log.len() as u64;
        let second = encode(&mut log, 0, 2, &header, vec![page(3, 9)], at);
        let (commits, valid) = read_commits(&log, Path::new("wal"), 1).unwrap();
        assert_eq!(valid, log.len() as u64);
        assert_eq!(commits.len(), 2);
        assert_eq!(commits[0].images, first);
        assert_eq!(commits[1].images, second);
        assert_eq!(commits[1].txn, 2);
        for (n, off) in first.iter().chain(&second) {
            let (number, data) = decode_image(&log[*off as usize..], 512).unwrap();
            assert_eq!(number, *n);
            Page::decode(*n, data, Path::new("wal")).unwrap();
        }
        let (_, data) = decode_image(&log[second[0].1 as usize..], 512).unwrap();
        assert_eq!(data[100], 9);
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
        let mut ends = Vec::new();
        for txn in 1..=6 {
            let mut record = Vec::new();
            let pages = &mut [page(3, txn as u8)];
            let header = DbHeader { txn, ..header };
            w.append_commit(&mut record, &header, pages).unwrap();
            w.sync().unwrap();
            ends.push(w.len());
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
        let big: Vec<_> = (1..200).map(|n| page(n % 9 + 1, 1)).collect();
        let mut big: Vec<_> = big;
        let mut record = Vec::new();
        let before = w.len();
        w.append_commit(&mut record, &DbHeader { txn: 7, ..header }, &mut big)
            .unwrap();
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
        let pages = |fill: u8| -> Vec<Arc<Page>> { (1..=300).map(|n| page(n, fill)).collect() };
        let mut buf = Vec::new();
        let small = w
            .append_commit(&mut buf, &DbHeader { txn: 1, ..header }, &mut [page(2, 1)])
            .unwrap();
        let at = w.len();
        let offsets = w
            .append_commit(&mut buf, &DbHeader { txn: 2, ..header }, &mut pages(5))
            .unwrap();
        assert!(w.len() - at > 2 * (512 << 10), "spills more than once");

        let mut whole = Vec::new();
        let expected = encode(&mut whole, 0, 1, &header, vec![page(2, 1)], 0);
        assert_eq!(small, expected);
        let expected = encode(&mut whole, 0, 2, &header, pages(5), 0);
        assert_eq!(offsets, expected);
        let data = fs
            .open(Path::new("/wal"), FileKind::Wal)
            .unwrap()
            .read_all()
            .unwrap();
        assert_eq!(data.len(), whole.len());
        assert!(data == whole, "the file holds the record as encoded whole");
        let (commits, valid) = read_commits(&data, Path::new("wal"), 1).unwrap();
        assert_eq!((commits.len(), valid), (2, data.len() as u64));
        assert_eq!(commits[1].images, expected);
        for &(n, off) in &expected {
            let (number, image) = decode_image(&data[off as usize..], 4096).unwrap();
            assert_eq!((number, image[100]), (n, 5 ^ n as u8));
        }
    }
}
