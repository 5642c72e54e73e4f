//! The log: checksummed records appended to a file, used for the write-ahead log and for
//! the manifest.
//!
//! # Format (see docs/FORMATS.md)
//!
//! ```text
//! record:
//!   0   header crc  u32   CRC-32 of bytes 4..20 of the record
//!   4   length      u32   payload bytes
//!   8   synced      u64   bytes of this file known durable when the record was written
//!   16  payload crc u32   CRC-32 of the payload
//!   20  payload     `length` bytes
//! ```
//!
//! A crash can leave a torn tail: a record cut short, or garbage where a record was
//! being written. Reading stops at the first record that does not check out and reports
//! where the good records end, so the writer can cut the file there.
//!
//! Telling a torn tail from real corruption: a record's `synced` field says how much of the
//! file had been synced before it was written. If any intact record further on claims the
//! bad spot was synced, the damage is inside data that was durable: `Error::Corruption`.
//! Bytes inside another record's extent are payload, never such a record (see
//! `later_claim`). (Damage to the very last synced record, with nothing after it, looks like a torn tail;
//! no log can tell the two apart without another durable write.)

use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::format::coding::{checksum_ok, crc};
use crate::vfs::VfsFile;

/// Bytes of a record header.
pub const HEADER_LEN: usize = 4 + 4 + 8 + 4;

/// Appends `payload` as one record to `out`; `synced` is the file's durable length.
pub fn encode_record(out: &mut Vec<u8>, payload: &[u8], synced: u64) -> Result<()> {
    encode_record_with(out, synced, |buf| buf.extend_from_slice(payload))
}

/// Appends one record to `out` whose payload `write` appends in place (no copy of a
/// large payload through a buffer of its own).
pub fn encode_record_with(
    out: &mut Vec<u8>,
    synced: u64,
    write: impl FnOnce(&mut Vec<u8>),
) -> Result<()> {
    let record = RecordEncoder::begin(out);
    write(out);
    record.finish(out, synced)
}

/// A record being encoded at the end of a buffer whose payload is appended in pieces and
/// checksummed as it goes ([`RecordEncoder::hash`]), so that the finished part of a large
/// record can be written out while the rest is encoded. Only the header, filled in by
/// [`RecordEncoder::finish`], waits for the end.
pub struct RecordEncoder {
    /// Where the record starts in the buffer.
    start: usize,
    /// CRC of the payload bytes before `hashed`.
    crc: crc32fast::Hasher,
    hashed: usize,
}

impl RecordEncoder {
    /// Starts a record at the end of `out`, with room for its header.
    pub fn begin(out: &mut Vec<u8>) -> Self {
        let start = out.len();
        out.extend_from_slice(&[0; HEADER_LEN]);
        RecordEncoder {
            start,
            crc: crc32fast::Hasher::new(),
            hashed: start + HEADER_LEN,
        }
    }

    /// Takes the payload appended to `out` since the last call into the checksum; those
    /// bytes are final from here on.
    pub fn hash(&mut self, out: &[u8]) {
        self.crc.update(&out[self.hashed..]);
        self.hashed = out.len();
    }

    /// Fills in the header of the record, whose payload is everything after it in `out`;
    /// `synced` is the file's durable length.
    pub fn finish(mut self, out: &mut Vec<u8>, synced: u64) -> Result<()> {
        let start = self.start;
        self.hash(out);
        let Ok(len) = u32::try_from(out.len() - start - HEADER_LEN) else {
            out.truncate(start);
            return Err(Error::invalid("a log record of 4 GiB or more"));
        };
        let payload_crc = self.crc.finalize();
        out[start + 4..start + 8].copy_from_slice(&len.to_le_bytes());
        out[start + 8..start + 16].copy_from_slice(&synced.to_le_bytes());
        out[start + 16..start + 20].copy_from_slice(&payload_crc.to_le_bytes());
        let header_crc = crc(&out[start + 4..start + HEADER_LEN]);
        out[start..start + 4].copy_from_slice(&header_crc.to_le_bytes());
        Ok(())
    }
}

/// A parsed header, if the bytes at `at` hold an intact one.
fn header_at(data: &[u8], at: usize) -> Option<(usize, u64, u32)> {
    let h = data.get(at..at + HEADER_LEN)?;
    let stored = u32::from_le_bytes(h[0..4].try_into().ok()?);
    if !checksum_ok(stored, crc(&h[4..HEADER_LEN])) {
        return None;
    }
    let len = u32::from_le_bytes(h[4..8].try_into().ok()?) as usize;
    let synced = u64::from_le_bytes(h[8..16].try_into().ok()?);
    let payload_crc = u32::from_le_bytes(h[16..20].try_into().ok()?);
    Some((len, synced, payload_crc))
}

/// An intact record at `at`: its payload range and `synced` claim.
fn record_at(data: &[u8], at: usize) -> Option<(std::ops::Range<usize>, u64)> {
    let (len, synced, payload_crc) = header_at(data, at)?;
    let start = at + HEADER_LEN;
    let payload = data.get(start..start.checked_add(len)?)?;
    checksum_ok(payload_crc, crc(payload)).then_some((start..start + len, synced))
}

/// The records of a log file's bytes.
#[derive(Debug)]
pub struct LogContents {
    /// Payload ranges of the intact records, in order.
    pub records: Vec<std::ops::Range<usize>>,
    /// Where the intact records end: the length to cut a torn tail back to.
    pub valid_len: usize,
}

/// How much a reader may assume about how a log was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Appends {
    /// Appends may have been in flight together (a WAL written with buffered durability):
    /// after a crash, a record may be cut or hold zeros anywhere after the last sync.
    MaybeConcurrent,
    /// Every append was synced before the next began (the manifest): a crash can only
    /// cut the last record short, so a record whose bytes are all there but do not check
    /// out is corruption, even at the end of the file.
    SyncedOneByOne,
}

/// Splits `data` (the bytes of `path`) into records, stopping at a torn tail.
pub fn read_records(data: &[u8], path: &Path, appends: Appends) -> Result<LogContents> {
    read_records_of(data, path, appends, &|_| true)
}

/// [`read_records`] for a log whose file is reused: an intact record whose payload
/// `belongs` says is from an earlier use of the file ends the log like a torn tail, and
/// says nothing about what was synced.
pub fn read_records_of(
    data: &[u8],
    path: &Path,
    appends: Appends,
    belongs: &dyn Fn(&[u8]) -> bool,
) -> Result<LogContents> {
    let ours = |at: usize| record_at(data, at).filter(|(p, _)| belongs(&data[p.clone()]));
    let mut records = Vec::new();
    let mut at = 0;
    while at < data.len() {
        match ours(at) {
            Some((payload, _)) => {
                at = payload.end;
                records.push(payload);
            }
            None => {
                // (An intact record of an earlier use of the file ends the log.)
                if appends == Appends::SyncedOneByOne && record_at(data, at).is_none() {
                    let whole = match header_at(data, at) {
                        Some((len, _, _)) => at + HEADER_LEN + len <= data.len(),
                        None => at + HEADER_LEN <= data.len(),
                    };
                    if whole {
                        return Err(Error::corruption(
                            path,
                            at as u64,
                            "damaged log record: all its bytes are there, so no crash cut it",
                        ));
                    }
                }
                // Zeros to the end: the room a stepped log grew ahead of its records,
                // or a tail written but never synced. No record lies further on.
                if data[at..].iter().all(|&b| b == 0) {
                    break;
                }
                // An intact record of an earlier use: this use never wrote here, or its
                // write was lost unsynced (a synced one would be here), so no later
                // record of this use can claim these bytes were synced. No need to look.
                if record_at(data, at).is_some() {
                    break;
                }
                // Was the bad spot durable? Look for an intact record further on that
                // says so.
                if let Some(synced) = later_claim(data, at, &ours) {
                    return Err(Error::corruption(
                        path,
                        at as u64,
                        format!("damaged log record inside data synced up to byte {synced}"),
                    ));
                }
                break;
            }
        }
    }
    Ok(LogContents {
        records,
        valid_len: at,
    })
}

/// The first claim, by an intact record of this log after the damaged record at `at`,
/// that the bytes at `at` were synced: the `synced` field of such a record, if any.
///
/// Only a record that stands where a record may start can claim anything. Bytes inside
/// the extent that an intact header gives a record are that record's payload, whatever
/// they hold (a value may be a copy of a log, records and all), so the search steps over
/// them; and a record written at offset `o` cannot have known of more than `o` synced
/// bytes, so a larger claim is payload that merely looks like a record.
fn later_claim(
    data: &[u8],
    at: usize,
    ours: &dyn Fn(usize) -> Option<(std::ops::Range<usize>, u64)>,
) -> Option<u64> {
    let mut later = at;
    while later + HEADER_LEN <= data.len() {
        let Some((len, synced, _)) = header_at(data, later) else {
            later += 1;
            continue;
        };
        if later > at && synced > at as u64 && synced <= later as u64 && ours(later).is_some() {
            return Some(synced);
        }
        later = later.checked_add(HEADER_LEN + len)?;
    }
    None
}

/// Records under this many bytes grow a stepped log (see [`LogWriter::stepped`]) by a
/// step of zeros; larger ones share one metadata update among many bytes anyway.
pub const SMALL_RECORD: usize = 16 << 10;

/// Writes `records` at offset `at` of `file`, whose length is `size`, and returns the
/// file's new length. Records under [`SMALL_RECORD`] that reach past the end bring `step`
/// bytes of zeros after them (0: never), so that the records after them land inside the
/// file; larger records share one metadata update among many bytes anyway.
pub fn write_stepped(
    file: &dyn VfsFile,
    records: &[u8],
    at: u64,
    size: u64,
    step: u64,
) -> Result<u64> {
    let end = at + records.len() as u64;
    if end <= size || step == 0 || records.len() >= SMALL_RECORD {
        file.write_at(records, at)?;
        return Ok(size.max(end));
    }
    let mut grown = Vec::with_capacity(records.len() + step as usize);
    grown.extend_from_slice(records);
    grown.resize(records.len() + step as usize, 0);
    file.write_at(&grown, at)?;
    Ok(end + step)
}

/// Appends records to a log file.
#[derive(Debug)]
pub struct LogWriter {
    /// Shared, so that another thread may sync it (see [`LogWriter::file`]).
    file: Arc<dyn VfsFile>,
    len: u64,
    synced: u64,
    /// The file's length: the records, then zeros written ahead of them.
    size: u64,
    /// Bytes of zeros written ahead when a small record reaches the end (0: never).
    step: u64,
}

impl LogWriter {
    /// Writes to `file`, which holds `len` bytes of intact records already, appending
    /// each record at the end of the file.
    pub fn new(file: Box<dyn VfsFile>, len: u64) -> Self {
        LogWriter {
            file: Arc::from(file),
            len,
            synced: len,
            size: len,
            step: 0,
        }
    }

    /// Writes to the new, empty `file`, growing it `step` bytes of zeros at a time when
    /// a small record reaches its end. A record then lands inside the file's length, and
    /// its `fdatasync` has no new size to write out with the data (single-key commits
    /// here, by `strace -T`: a median sync of 194–209 µs inside the file against 204–227
    /// µs appending). Zeros are no record (their header does not check out), so a reader
    /// finds the log's end where they start. The price is writing the zeros once: a log
    /// of small records is written twice.
    pub fn stepped(file: Box<dyn VfsFile>, step: u64) -> Self {
        LogWriter {
            step,
            ..LogWriter::new(file, 0)
        }
    }

    /// Writes over `file`, a log whose records are no longer needed, from its start, as
    /// [`LogWriter::stepped`] does past its end. Its old records stay behind the new
    /// ones, so whoever reads the log must tell the two uses apart (the LSM's WAL
    /// records name their log's file number). What this buys: a batch's record lands in
    /// blocks the file already has, and its `fdatasync` writes no new size or extents.
    /// Measured here, a 116 KB record and its `fdatasync` with a millisecond of work
    /// between syncs: median 0.64–0.74 ms over a file written before, 1.05–1.38 ms
    /// appending (1000 syncs each; 1.08–1.24 ms into space from `fallocate`, whose
    /// extents still change on their first write).
    pub fn reusing(file: Box<dyn VfsFile>, step: u64) -> Result<Self> {
        let size = file.len()?;
        Ok(LogWriter {
            size,
            ..LogWriter::stepped(file, step)
        })
    }

    /// Cuts the file back to its records, giving back the room ahead of them (zeros, or
    /// an earlier use's records).
    pub fn trim(&mut self) -> Result<()> {
        if self.size > self.len {
            self.file.truncate(self.len)?;
            self.size = self.len;
        }
        Ok(())
    }

    /// The durable length, for the next record's header.
    pub fn synced(&self) -> u64 {
        self.synced
    }

    /// Appends already-encoded records.
    pub fn append(&mut self, records: &[u8]) -> Result<()> {
        self.size = write_stepped(self.file.as_ref(), records, self.len, self.size, self.step)?;
        self.len += records.len() as u64;
        Ok(())
    }

    /// Makes everything appended durable.
    pub fn sync(&mut self) -> Result<()> {
        self.file.sync()?;
        self.note_synced();
        Ok(())
    }

    /// The file, for a sync made on another thread (then [`LogWriter::note_synced`]).
    pub fn file(&self) -> Arc<dyn VfsFile> {
        Arc::clone(&self.file)
    }

    /// Records that a sync of [`LogWriter::file`], begun after the last append, succeeded.
    pub fn note_synced(&mut self) {
        self.synced = self.len;
    }

    /// Bytes in the file.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(payloads: &[&[u8]], sync_after_each: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for p in payloads {
            let synced = if sync_after_each { out.len() as u64 } else { 0 };
            encode_record(&mut out, p, synced).unwrap();
        }
        out
    }

    #[test]
    fn the_worked_example_of_formats_md() {
        let mut out = Vec::new();
        encode_record(&mut out, b"abc", 0).unwrap();
        let expected: &[u8] = &[
            0x58, 0x1b, 0x34, 0xcf, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc2, 0x41, 0x24, 0x35,
            b'a', b'b', b'c',
        ];
        assert_eq!(out, expected);
    }

    #[test]
    fn records_round_trip() {
        let data = log(&[b"one", b"", b"three"], false);
        let c = read_records(&data, Path::new("l"), Appends::MaybeConcurrent).unwrap();
        let got: Vec<&[u8]> = c.records.iter().map(|r| &data[r.clone()]).collect();
        assert_eq!(got, vec![&b"one"[..], b"", b"three"]);
        assert_eq!(c.valid_len, data.len());
    }

    #[test]
    fn a_torn_tail_at_every_byte_keeps_the_whole_records_before_it() {
        let payloads: [&[u8]; 3] = [b"first record", b"second", b"third and last"];
        let data = log(&payloads, false);
        let ends: Vec<usize> = {
            let c = read_records(&data, Path::new("l"), Appends::MaybeConcurrent).unwrap();
            c.records.iter().map(|r| r.end).collect()
        };
        for cut in 0..=data.len() {
            let c = read_records(&data[..cut], Path::new("l"), Appends::MaybeConcurrent).unwrap();
            let whole = ends.iter().filter(|&&e| e <= cut).count();
            assert_eq!(c.records.len(), whole, "cut at {cut}");
            assert_eq!(c.valid_len, if whole == 0 { 0 } else { ends[whole - 1] });
        }
    }

    #[test]
    fn a_stepped_log_ends_where_its_zeros_begin() {
        use crate::vfs::{FileKind, SimFs, Vfs};
        let fs = SimFs::new();
        let path = Path::new("/wal");
        let mut w = LogWriter::stepped(fs.create(path, FileKind::Wal).unwrap(), 4096);
        let mut ends = Vec::new();
        for i in 0..100u32 {
            let mut record = Vec::new();
            encode_record(&mut record, &i.to_le_bytes().repeat(10), w.synced()).unwrap();
            w.append(&record).unwrap();
            w.sync().unwrap();
            ends.push(w.len() as usize);
        }
        let data = fs.open(path, FileKind::Wal).unwrap().read_all().unwrap();
        assert!(
            data.len() > w.len() as usize,
            "zeros lie ahead of the records"
        );
        assert!(
            data.len() <= w.len() as usize + 4096,
            "grown a step at a time"
        );
        let c = read_records(&data, path, Appends::MaybeConcurrent).unwrap();
        assert_eq!(c.records.len(), 100);
        assert_eq!(c.valid_len, w.len() as usize);
        // Cut anywhere, the log holds the records wholly before the cut.
        for cut in (0..data.len()).step_by(7) {
            let c = read_records(&data[..cut], path, Appends::MaybeConcurrent).unwrap();
            assert_eq!(c.records.len(), ends.iter().filter(|&&e| e <= cut).count());
        }
        // A record of 16 KiB or more is appended as it is, with no zeros after it.
        let mut big = Vec::new();
        encode_record(&mut big, &vec![7; SMALL_RECORD], w.synced()).unwrap();
        let before = w.len();
        w.append(&big).unwrap();
        assert_eq!(w.len(), before + big.len() as u64);
    }

    #[test]
    fn a_reused_log_is_written_over_in_place_and_its_old_records_end_it() {
        use crate::vfs::{FileKind, SimFs, Vfs};
        let fs = SimFs::new();
        let path = Path::new("/wal");
        // The first use: records tagged 1, synced.
        let mut w = LogWriter::stepped(fs.create(path, FileKind::Wal).unwrap(), 4096);
        for i in 0..50u8 {
            let mut record = Vec::new();
            encode_record(&mut record, &[1, i, i, i], w.synced()).unwrap();
            w.append(&record).unwrap();
        }
        w.sync().unwrap();
        let old_size = fs.file_len(path).unwrap();
        // The second use writes fewer records of the same size, tagged 2, over the
        // first's: an intact record of the first use follows its last.
        let mut w = LogWriter::reusing(fs.open(path, FileKind::Wal).unwrap(), 4096).unwrap();
        for i in 0..20u8 {
            let mut record = Vec::new();
            encode_record(&mut record, &[2, i, i, i], w.synced()).unwrap();
            w.append(&record).unwrap();
            w.sync().unwrap();
        }
        assert_eq!(
            fs.file_len(path).unwrap(),
            old_size,
            "no byte past the old end"
        );
        let data = fs.open(path, FileKind::Wal).unwrap().read_all().unwrap();
        let second = |p: &[u8]| p.first() == Some(&2);
        let c = read_records_of(&data, path, Appends::MaybeConcurrent, &second).unwrap();
        assert_eq!(c.records.len(), 20);
        assert!(c.records.iter().all(|r| second(&data[r.clone()])));
        assert_eq!(c.valid_len, w.len() as usize);
        // Read without telling the uses apart, the first use's records would follow.
        let all = read_records(&data, path, Appends::MaybeConcurrent).unwrap();
        assert!(all.records.len() > 20);
        // Trimmed, the file is its records and nothing after them.
        w.trim().unwrap();
        assert_eq!(fs.file_len(path).unwrap(), w.len());
        let data = fs.open(path, FileKind::Wal).unwrap().read_all().unwrap();
        let c = read_records_of(&data, path, Appends::MaybeConcurrent, &second).unwrap();
        assert_eq!((c.records.len(), c.valid_len), (20, data.len()));
    }

    #[test]
    fn garbage_after_the_last_record_is_a_torn_tail() {
        let mut data = log(&[b"kept"], false);
        let good = data.len();
        data.extend_from_slice(&[0xab; 100]);
        let c = read_records(&data, Path::new("l"), Appends::MaybeConcurrent).unwrap();
        assert_eq!((c.records.len(), c.valid_len), (1, good));
    }

    #[test]
    fn one_by_one_logs_call_any_whole_damaged_record_corruption() {
        let data = log(&[b"a synced record", b"another", b"the last"], true);
        let one_by_one = |d: &[u8]| read_records(d, Path::new("m"), Appends::SyncedOneByOne);
        for at in 0..data.len() {
            let mut bad = data.clone();
            bad[at] ^= 0x04;
            assert!(
                matches!(one_by_one(&bad), Err(Error::Corruption { .. })),
                "byte {at}"
            );
        }
        // A cut tail is still a torn append, not corruption.
        for cut in 0..data.len() {
            assert!(one_by_one(&data[..cut]).is_ok(), "cut at {cut}");
        }
    }

    /// A value that holds a copy of a log record (here, claiming a megabyte synced, and
    /// claiming the bytes before it): when the record holding the value is torn, the
    /// copy inside it is payload, not a claim, and the log ends before the torn record.
    #[test]
    fn a_record_inside_a_torn_record_claims_nothing() {
        for claim in [1u64 << 20, 10] {
            let mut inner = Vec::new();
            encode_record(&mut inner, b"an embedded record", claim).unwrap();
            let mut payload = b"value: ".to_vec();
            payload.extend_from_slice(&inner);
            payload.extend_from_slice(&[0x5a; 600]);
            let mut data = log(&[b"acknowledged"], true);
            let first_end = data.len();
            encode_record(&mut data, &payload, first_end as u64).unwrap();
            // Torn: the embedded record is there, the end of the outer one is not.
            data.truncate(data.len() - 300);
            let c = read_records(&data, Path::new("l"), Appends::MaybeConcurrent).unwrap();
            assert_eq!(
                (c.records.len(), c.valid_len),
                (1, first_end),
                "claim {claim}"
            );
        }
    }

    #[test]
    fn damage_inside_synced_data_is_corruption() {
        let data = log(&[b"a synced record", b"another", b"the last"], true);
        for at in 0..data.len() {
            let mut bad = data.clone();
            bad[at] ^= 0x04;
            let outcome = read_records(&bad, Path::new("l"), Appends::MaybeConcurrent);
            // Damage in the last record cannot be told from a tear; anywhere before it,
            // a later record vouches that the spot was synced.
            let last_start = {
                let c = read_records(&data, Path::new("l"), Appends::MaybeConcurrent).unwrap();
                c.records[2].start - HEADER_LEN
            };
            if at < last_start {
                assert!(
                    matches!(outcome, Err(Error::Corruption { .. })),
                    "byte {at}"
                );
            } else {
                assert_eq!(outcome.unwrap().records.len(), 2, "byte {at}");
            }
        }
    }
}
