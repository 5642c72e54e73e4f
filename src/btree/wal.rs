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
//! ```text
//! payload:
//!   0    txn       u64          transaction number
//!   8    header    100 bytes    the database header as of this commit (pager.rs)
//!   108  pages     u32          images that follow
//!   112  images    pages x ( page number u64 | page image, page_size bytes )
//! ```
//!
//! Each image is a sealed page (its own CRC too), so a reader that fetches one image by
//! offset checks it without the rest of the record.

use std::path::Path;
use std::sync::Arc;

use super::page::Page;
use super::pager::{DbHeader, HEADER_LEN};
use crate::error::Result;
use crate::lsm::coding::Reader;
use crate::lsm::wal::{self, Appends};

/// Bytes of a commit record before its first image, log framing included.
const PREFIX: usize = wal::HEADER_LEN + 8 + HEADER_LEN + 4;

/// Appends the commit record of transaction `txn` to `out` (which will be written at file
/// offset `at`), and returns the file offset of each page's image.
pub fn encode_commit(
    out: &mut Vec<u8>,
    at: u64,
    txn: u64,
    header: &DbHeader,
    pages: &[Arc<Page>],
    synced: u64,
) -> Result<Vec<(u64, u64)>> {
    let page_size = header.page_size as usize;
    let mut payload = Vec::with_capacity(PREFIX + pages.len() * (8 + page_size));
    payload.extend_from_slice(&txn.to_le_bytes());
    payload.extend_from_slice(&header.encode()[..HEADER_LEN]);
    payload.extend_from_slice(&(pages.len() as u32).to_le_bytes());
    let start = at + out.len() as u64 + (PREFIX - payload.len()) as u64;
    let mut offsets = Vec::with_capacity(pages.len());
    for page in pages {
        payload.extend_from_slice(&page.number.to_le_bytes());
        offsets.push((page.number, start + payload.len() as u64));
        payload.extend_from_slice(&page.data);
    }
    wal::encode_record(out, &payload, synced)?;
    Ok(offsets)
}

/// One committed transaction found in the log.
#[derive(Debug)]
pub struct Commit {
    /// Its number.
    pub txn: u64,
    /// The header it committed.
    pub header: DbHeader,
    /// (page number, file offset of the image).
    pub images: Vec<(u64, u64)>,
    /// Where the record ends in the file.
    pub end: u64,
}

/// The committed transactions of a WAL's bytes, and the length of the intact part.
pub fn read_commits(data: &[u8], path: &Path) -> Result<(Vec<Commit>, u64)> {
    let contents = wal::read_records(data, path, Appends::MaybeConcurrent)?;
    let mut commits = Vec::with_capacity(contents.records.len());
    for record in contents.records {
        let payload = &data[record.clone()];
        let mut r = Reader::new(payload, path, record.start as u64);
        let txn = r.u64()?;
        let header = DbHeader::decode(r.bytes(HEADER_LEN)?, path)?;
        let count = r.u32()? as usize;
        let page_size = header.page_size as usize;
        if count.checked_mul(8 + page_size) != Some(r.remaining()) {
            return Err(r.corrupt(format!(
                "commit record of {count} pages holds {} bytes of images",
                r.remaining()
            )));
        }
        let mut images = Vec::with_capacity(count);
        for _ in 0..count {
            let number = r.u64()?;
            if number == 0 || number >= header.page_count {
                return Err(r.corrupt(format!(
                    "image of page {number} in a database of {} pages",
                    header.page_count
                )));
            }
            images.push((number, record.start as u64 + r.position() as u64));
            r.bytes(page_size)?;
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

    fn page(n: u64, fill: u8) -> Arc<Page> {
        let mut p = Page::new(n, 512, PageKind::Overflow);
        p.data[100] = fill;
        p.seal();
        Arc::new(p)
    }

    #[test]
    fn commits_round_trip_with_image_offsets() {
        let header = DbHeader {
            page_count: 10,
            ..DbHeader::new(512)
        };
        let mut log = Vec::new();
        let first = encode_commit(&mut log, 0, 1, &header, &[page(3, 7), page(9, 8)], 0).unwrap();
        let at = log.len() as u64;
        let second = encode_commit(&mut log, 0, 2, &header, &[page(3, 9)], at).unwrap();
        let (commits, valid) = read_commits(&log, Path::new("wal")).unwrap();
        assert_eq!(valid, log.len() as u64);
        assert_eq!(commits.len(), 2);
        assert_eq!(commits[0].images, first);
        assert_eq!(commits[1].images, second);
        assert_eq!(commits[1].txn, 2);
        for (n, off) in first.iter().chain(&second) {
            let image = log[*off as usize..*off as usize + 512].to_vec();
            let p = Page::decode(*n, image, Path::new("wal")).unwrap();
            assert_eq!(p.number, *n);
        }
        assert_eq!(log[second[0].1 as usize + 100], 9);
    }

    #[test]
    fn a_torn_commit_is_not_a_commit() {
        let header = DbHeader {
            page_count: 10,
            ..DbHeader::new(512)
        };
        let mut log = Vec::new();
        encode_commit(&mut log, 0, 1, &header, &[page(3, 7)], 0).unwrap();
        let whole = log.len();
        encode_commit(&mut log, 0, 2, &header, &[page(4, 7), page(5, 1)], 0).unwrap();
        for cut in whole..log.len() {
            let (commits, valid) = read_commits(&log[..cut], Path::new("wal")).unwrap();
            assert_eq!((commits.len(), valid), (1, whole as u64), "cut at {cut}");
        }
    }
}
