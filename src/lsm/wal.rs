//! The LSM's write-ahead log records: one per batch, in the framing of `format::log`.
//!
//! ```text
//! payload: log u64 | first_seq u64 | count u32 | entries
//! entry:   kind u8 | key_len varint | key | (value_len varint | value)   (no value for a delete)
//! ```
//!
//! `log` is the number of the WAL file the record was written to: a flushed memtable's WAL
//! is renamed and written over by a later memtable, and the number tells its records from
//! the earlier ones still behind them.

use std::path::Path;

use bytes::Bytes;

use super::LsmOptions;
use super::ikey::{Kind, MAX_SEQ};
use super::memtable::{BatchEntry, Memtable};
use crate::error::Result;
use crate::format::coding::{Reader, put_varint};
use crate::format::log;
use crate::kv::{BatchOp, WriteBatch};

/// Bytes of zeros a WAL grows by ahead of small records: a 256th of a memtable, from 4 KiB
/// to 64 KiB. One step serves hundreds of single-key commits, and a WAL that ends soon
/// after (a few commits, then a memtable switch) carries few zeros.
pub(super) fn wal_step(opts: &LsmOptions) -> u64 {
    (opts.memtable_size as u64 / 256).clamp(4 << 10, 64 << 10)
}

/// Encodes a batch's entries for the WAL (without the sequence header).
pub(super) fn encode_entries(batch: &WriteBatch) -> Vec<u8> {
    let mut out = Vec::with_capacity(batch.user_bytes() as usize + 6 * batch.len());
    for op in batch.iter() {
        match op {
            BatchOp::Put { key, value } => {
                out.push(Kind::Put as u8);
                put_varint(&mut out, key.len() as u64);
                out.extend_from_slice(key);
                put_varint(&mut out, value.len() as u64);
                out.extend_from_slice(value);
            }
            BatchOp::Delete { key } => {
                out.push(Kind::Delete as u8);
                put_varint(&mut out, key.len() as u64);
                out.extend_from_slice(key);
            }
        }
    }
    out
}

/// Inserts the `count` entries of `entries` into `mem` with sequence numbers from `first`.
/// Keys and values stay in `entries`, not copied: one buffer per batch lives as long as
/// the memtable (or a value a reader still holds).
pub(super) fn apply_entries(
    mem: &Memtable,
    entries: &Bytes,
    first: u64,
    count: u32,
    path: &Path,
    at: u64,
) -> Result<u64> {
    let mut r = Reader::new(entries, path, at);
    // `count` comes from the file: room for no more entries than its bytes can hold (an
    // entry takes at least 3: its kind, its key's length, one byte of key).
    let mut decoded = Vec::with_capacity((count as usize).min(entries.len() / 3));
    for _ in 0..count {
        let kind = Kind::from_u8(r.u8()?).ok_or_else(|| r.corrupt("unknown entry kind"))?;
        let klen = r.len(crate::MAX_KEY_LEN)?;
        let start = r.position();
        let key = start..start + r.bytes(klen)?.len();
        let value = match kind {
            Kind::Put => {
                let vlen = r.len(crate::MAX_VALUE_LEN)?;
                let start = r.position();
                start..start + r.bytes(vlen)?.len()
            }
            Kind::Delete => key.end..key.end,
        };
        decoded.push(BatchEntry { kind, key, value });
    }
    if r.remaining() != 0 {
        return Err(r.corrupt("bytes left after the batch's entries"));
    }
    mem.insert_batch(entries.clone(), first, &decoded)?;
    Ok(first + u64::from(count).saturating_sub(1))
}

/// Bytes of a WAL record's payload before its entries: log number, first sequence number,
/// count.
pub(super) const WAL_HEADER: usize = 8 + 8 + 4;

/// Replays WAL `number` (the bytes of `path`) into `mem`: every whole record of this use
/// of the file, in order. Returns the last sequence number replayed (0 for none).
pub(crate) fn replay_wal(bytes: &Bytes, path: &Path, number: u64, mem: &Memtable) -> Result<u64> {
    let mut last_seq = 0;
    for record in read_wal(bytes, path, number)?.records {
        let mut r = Reader::new(&bytes[record.clone()], path, record.start as u64);
        r.u64()?; // the log's number, checked by read_wal
        let first = r.u64()?;
        let count = r.u32()?;
        if first == 0 || first > MAX_SEQ {
            return Err(r.corrupt(format!("WAL record with first sequence {first}")));
        }
        let entries = bytes.slice(record.start + WAL_HEADER..record.end);
        let at = (record.start + WAL_HEADER) as u64;
        last_seq = last_seq.max(apply_entries(mem, &entries, first, count, path, at)?);
    }
    Ok(last_seq)
}

/// The records of WAL `number` (the bytes of `path`). A file is written over once its
/// memtable is flushed (see `spare_wal`), so records of its earlier use may follow this
/// use's: they name another log's number, and end the log as a torn tail would.
pub fn read_wal(bytes: &[u8], path: &Path, number: u64) -> Result<log::LogContents> {
    let ours = number.to_le_bytes();
    log::read_records_of(bytes, path, log::Appends::MaybeConcurrent, &|payload| {
        payload.get(..8) == Some(&ours[..])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the fuzz target `decode_wal`: a record (whole, its checksum right) whose
    /// entry count says 2^32 - 1 made the replay reserve room for that many entries
    /// before reading one, and the process died out of memory.
    #[test]
    fn a_huge_entry_count_is_corruption_not_an_allocation() {
        let number = 7u64;
        let mut file = Vec::new();
        log::encode_record_with(&mut file, 0, |out| {
            out.extend_from_slice(&number.to_le_bytes());
            out.extend_from_slice(&1u64.to_le_bytes());
            out.extend_from_slice(&u32::MAX.to_le_bytes());
            out.extend_from_slice(&[Kind::Put as u8, 1, b'k', 1, b'v']);
        })
        .expect("a record");
        let mem = Memtable::new();
        let err = replay_wal(&Bytes::from(file), Path::new("000007.log"), number, &mem)
            .expect_err("2^32 - 1 entries in 5 bytes");
        assert!(matches!(err, crate::Error::Corruption { .. }), "{err}");
    }
}
