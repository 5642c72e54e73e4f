//! The column layout: records gather in an open row group (the tail, one row-layout entry
//! per record) until it holds [`TableOptions::row_group_rows`] records; then they are
//! sorted by primary key and sealed into a row group, one chunk per column.
//!
//! ```text
//! key                                      value
//! table_id:u32 BE 'c' column:u16 BE rg:u32 BE   the column's chunk      (see encoding)
//! table_id:u32 BE 'g' rg:u32 BE                 the group's description (see meta)
//! table_id:u32 BE 'd' rg:u32 BE                 its deleted rows        (see meta)
//! table_id:u32 BE 't' pk:u64 BE                 a record of the tail    (see row)
//! ```
//!
//! A column's chunks sit side by side in key order, so a scan of one column reads one
//! key range. The descriptions (zone maps) are read once, at open, and kept in memory:
//! a predicate rules a chunk out without a read. A point get finds the candidate groups
//! by their primary-key ranges and binary-searches each one's key chunk (sorted); keys
//! that arrive roughly in order, like an event log's, give one candidate.
//!
//! A delete marks the row in its group's deletions; an update is a delete and an insert
//! into the tail. When [`TableOptions::rewrite_deleted_share`] of a group's rows are
//! deleted, the group is rewritten without them. Each call is one atomic batch.

pub mod meta;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

use crate::error::{Error, Result};
use crate::kv::{KeyRange, KvStore, WriteBatch};

use super::aggregate::{Accumulator, Group as GroupResult, Grouping};
use super::catalog::{self, TableEntry};
use super::encoding::{self, ColumnData, MAX_ROWS, Values};
use super::predicate::{Bound, Predicate};
use super::query::{Collect, Sink};
use super::row::{RowCodec, apply_changes, check_batch, missing, wanted};
use super::schema::Schema;
use super::value::{Record, Value};
use super::{Aggregate, Layout, Table, TableStats};

pub use meta::{ChunkMeta, GroupMeta};

/// A group is sealed early when its records' row-layout bytes reach this, so that no
/// chunk nears the store's largest value.
const SEAL_BYTES: u64 = 8 << 20;

/// Knobs of the column layout; neither is stored, so a table may reopen with others.
#[derive(Clone, Debug, PartialEq)]
pub struct TableOptions {
    /// Records per row group (1 to 2^20). Default 65,536.
    pub row_group_rows: usize,
    /// Share of a group's rows deleted at which the group is rewritten without them
    /// (above 0, at most 1). Default 0.25.
    pub rewrite_deleted_share: f64,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            row_group_rows: 65_536,
            rewrite_deleted_share: 0.25,
        }
    }
}

impl TableOptions {
    fn check(&self) -> Result<()> {
        if !(1..=MAX_ROWS).contains(&self.row_group_rows) {
            return Err(Error::invalid(format!(
                "row_group_rows = {} (1 to {MAX_ROWS})",
                self.row_group_rows
            )));
        }
        let share = self.rewrite_deleted_share;
        if !(share > 0.0 && share <= 1.0) {
            return Err(Error::invalid(format!(
                "rewrite_deleted_share = {share} (above 0, at most 1)"
            )));
        }
        Ok(())
    }
}

/// A sealed row group as the table keeps it in memory.
#[derive(Clone, Debug)]
struct RowGroup {
    meta: GroupMeta,
    deleted: BTreeSet<u32>,
}

/// What the table keeps in memory; the store holds the truth.
#[derive(Debug, Default)]
struct State {
    groups: BTreeMap<u32, RowGroup>,
    /// The tail's primary keys and the size of each one's entry.
    tail: BTreeMap<u64, u64>,
    tail_bytes: u64,
}

/// How one removal changes the state once its batch is written.
enum Removal {
    Tail(u64),
    Marked(u32, BTreeSet<u32>),
    Rewritten(u32, Option<GroupMeta>),
}

/// How one placement of records changes the state once its batch is written.
#[derive(Default)]
struct Placement {
    sealed: Vec<(u32, GroupMeta)>,
    tail_removed: Vec<u64>,
    tail_added: Vec<(u64, u64)>,
}

#[derive(Default)]
struct Counters {
    row_groups_read: AtomicU64,
    row_groups_skipped: AtomicU64,
    chunks_read: AtomicU64,
    chunk_bytes_read: AtomicU64,
    row_groups_rewritten: AtomicU64,
}

/// A table in the column layout over any [`KvStore`].
pub struct ColumnTable {
    store: Arc<dyn KvStore>,
    entry: TableEntry,
    codec: RowCodec,
    prefix: [u8; 4],
    options: TableOptions,
    state: RwLock<State>,
    counters: Counters,
}

impl ColumnTable {
    /// Opens table `name` in `store`, creating it if the store has no table of that name.
    /// A table of that name with another layout or schema is an error.
    pub fn open(
        store: Arc<dyn KvStore>,
        name: &str,
        schema: &Schema,
        options: &TableOptions,
    ) -> Result<ColumnTable> {
        options.check()?;
        let entry = catalog::open(store.as_ref(), name, Layout::Column, schema)?;
        let table = ColumnTable {
            codec: RowCodec::new(&entry.schema),
            prefix: entry.id.to_be_bytes(),
            entry,
            store,
            options: options.clone(),
            state: RwLock::new(State::default()),
            counters: Counters::default(),
        };
        let state = table.load()?;
        *table.state.write() = state;
        Ok(table)
    }

    /// The sealed row groups: id, description and deleted rows.
    pub fn row_groups(&self) -> Vec<(u32, GroupMeta, u64)> {
        let state = self.state.read();
        state
            .groups
            .iter()
            .map(|(&id, g)| (id, g.meta.clone(), g.deleted.len() as u64))
            .collect()
    }

    /// Records in the open row group.
    pub fn tail_rows(&self) -> usize {
        self.state.read().tail.len()
    }

    fn key(&self, tag: u8, rest: &[u8]) -> Vec<u8> {
        [&self.prefix[..], &[tag], rest].concat()
    }

    fn chunk_key(&self, column: usize, group: u32) -> Vec<u8> {
        let mut rest = (column as u16).to_be_bytes().to_vec();
        rest.extend_from_slice(&group.to_be_bytes());
        self.key(b'c', &rest)
    }

    fn meta_key(&self, group: u32) -> Vec<u8> {
        self.key(b'g', &group.to_be_bytes())
    }

    fn deletions_key(&self, group: u32) -> Vec<u8> {
        self.key(b'd', &group.to_be_bytes())
    }

    fn tail_key(&self, pk: u64) -> Vec<u8> {
        self.key(b't', &pk.to_be_bytes())
    }

    fn place(&self, what: String) -> PathBuf {
        self.entry.place(&what)
    }

    fn chunk_place(&self, column: usize, group: u32) -> PathBuf {
        let name = &self.entry.schema.columns()[column].name;
        self.place(format!("chunk of column '{name}' in row group {group}"))
    }

    /// The number after a fixed-width key prefix `tag`, or a corruption error.
    fn suffix(&self, key: &[u8], tag: u8, len: usize) -> Result<u64> {
        let rest = key
            .get(5..)
            .filter(|r| key[4] == tag && r.len() == len)
            .ok_or_else(|| Error::corruption(self.place("key".into()), 0, "a malformed key"))?;
        Ok(rest.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b)))
    }

    /// Reads the descriptions, deletions and tail keys.
    fn load(&self) -> Result<State> {
        let mut state = State::default();
        for pair in self.store.scan(KeyRange::prefix(&self.key(b'g', &[])))? {
            let (key, value) = pair?;
            let id = self.suffix(&key, b'g', 4)? as u32;
            let place = self.place(format!("description of row group {id}"));
            let meta = GroupMeta::decode(&value, &self.entry.schema, &place)?;
            let deleted = BTreeSet::new();
            state.groups.insert(id, RowGroup { meta, deleted });
        }
        for pair in self.store.scan(KeyRange::prefix(&self.key(b'd', &[])))? {
            let (key, value) = pair?;
            let id = self.suffix(&key, b'd', 4)? as u32;
            let place = self.place(format!("deletions of row group {id}"));
            let group = state
                .groups
                .get_mut(&id)
                .ok_or_else(|| Error::corruption(&place, 0, "deletions of a missing group"))?;
            group.deleted = meta::decode_deletions(&value, group.meta.rows, &place)?;
        }
        for pair in self.store.scan(KeyRange::prefix(&self.key(b't', &[])))? {
            let (key, value) = pair?;
            let pk = self.suffix(&key, b't', 8)?;
            state.tail.insert(pk, value.len() as u64);
            state.tail_bytes += value.len() as u64;
        }
        Ok(state)
    }

    /// The stored bytes of the chunk of `column` in `group`.
    fn chunk_bytes(&self, column: usize, group: u32) -> Result<bytes::Bytes> {
        let bytes = self
            .store
            .get(&self.chunk_key(column, group))?
            .ok_or_else(|| {
                Error::corruption(self.chunk_place(column, group), 0, "the chunk is missing")
            })?;
        self.counters.chunks_read.fetch_add(1, Ordering::Relaxed);
        self.counters
            .chunk_bytes_read
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(bytes)
    }

    /// Reads and decodes the chunk of `column` in `group`, which holds `rows` rows.
    fn read_chunk(&self, column: usize, group: u32, rows: u64) -> Result<ColumnData> {
        let bytes = self.chunk_bytes(column, group)?;
        let place = self.chunk_place(column, group);
        let ty = self.entry.schema.columns()[column].ty;
        let (data, _) = encoding::decode(&bytes, ty, &place)?;
        if rows != data.rows() as u64 {
            return Err(Error::corruption(
                place,
                0,
                "the chunk's row count disagrees with its group",
            ));
        }
        Ok(data)
    }

    /// The primary keys of `group` (sorted), through `cache`.
    fn group_keys<'c>(
        &self,
        group: u32,
        rows: u64,
        cache: &'c mut HashMap<u32, Vec<u64>>,
    ) -> Result<&'c [u64]> {
        if let std::collections::hash_map::Entry::Vacant(e) = cache.entry(group) {
            match self.read_chunk(0, group, rows)?.values {
                Values::U64(keys) => {
                    e.insert(keys);
                }
                _ => unreachable!("column 0 is a u64"),
            }
        }
        Ok(&cache[&group])
    }

    /// The live row holding `pk` in a sealed group: (group, row index).
    fn locate(
        &self,
        state: &State,
        pk: u64,
        cache: &mut HashMap<u32, Vec<u64>>,
    ) -> Result<Option<(u32, usize)>> {
        for (&id, g) in &state.groups {
            if pk < g.meta.pk_min || pk > g.meta.pk_max {
                continue;
            }
            let keys = self.group_keys(id, g.meta.rows, cache)?;
            if let Ok(i) = keys.binary_search(&pk)
                && !g.deleted.contains(&(i as u32))
            {
                return Ok(Some((id, i)));
            }
        }
        Ok(None)
    }

    /// The whole record `pk`, from the tail or a sealed group.
    fn read_record(&self, state: &State, pk: u64, columns: &[usize]) -> Result<Option<Record>> {
        let n = self.entry.schema.len();
        if state.tail.contains_key(&pk) {
            let place = self.place(format!("tail record {pk}"));
            let bytes = self
                .store
                .get(&self.tail_key(pk))?
                .ok_or_else(|| Error::corruption(&place, 0, "the record is missing"))?;
            let mut row = vec![Value::Null; n];
            self.codec.decode(
                pk,
                &bytes,
                &wanted(&self.entry.schema, columns.iter().copied()),
                &mut row,
                &place,
            )?;
            return Ok(Some(columns.iter().map(|&c| row[c].clone()).collect()));
        }
        let mut cache = HashMap::new();
        let Some((group, i)) = self.locate(state, pk, &mut cache)? else {
            return Ok(None);
        };
        let mut record = Vec::with_capacity(columns.len());
        for &c in columns {
            if c == 0 {
                record.push(Value::U64(pk));
                continue;
            }
            let bytes = self.chunk_bytes(c, group)?;
            let ty = self.entry.schema.columns()[c].ty;
            record.push(encoding::decode_row(
                &bytes,
                ty,
                i,
                &self.chunk_place(c, group),
            )?);
        }
        Ok(Some(record))
    }

    /// Writes the chunks and description of group `id` holding `rows` (sorted by key).
    fn write_group(&self, id: u32, rows: &[&Record], batch: &mut WriteBatch) -> GroupMeta {
        let mut columns = Vec::with_capacity(self.entry.schema.len());
        for (c, column) in self.entry.schema.columns().iter().enumerate() {
            let data = ColumnData::from_values(column.ty, rows.iter().map(|r| &r[c]));
            let (chunk, encoding) = encoding::encode(&data);
            let (nulls, bounds) = meta::zone_map(&data);
            batch.put(&self.chunk_key(c, id), &chunk);
            columns.push(ChunkMeta {
                encoding,
                len: chunk.len() as u64,
                nulls,
                bounds,
            });
        }
        let pk = |r: &Record| match r[0] {
            Value::U64(pk) => pk,
            _ => 0,
        };
        let meta = GroupMeta {
            rows: rows.len() as u64,
            pk_min: rows.first().map_or(0, |r| pk(r)),
            pk_max: rows.last().map_or(0, |r| pk(r)),
            columns,
        };
        batch.put(&self.meta_key(id), &meta.encode());
        meta
    }

    /// Removes the live record `pk` in `batch`; None if there is none.
    fn remove(&self, state: &State, pk: u64, batch: &mut WriteBatch) -> Result<Option<Removal>> {
        if state.tail.contains_key(&pk) {
            batch.delete(&self.tail_key(pk));
            return Ok(Some(Removal::Tail(pk)));
        }
        let Some((id, i)) = self.locate(state, pk, &mut HashMap::new())? else {
            return Ok(None);
        };
        let group = &state.groups[&id];
        let mut deleted = group.deleted.clone();
        deleted.insert(i as u32);
        let share = deleted.len() as f64 / group.meta.rows as f64;
        if share < self.options.rewrite_deleted_share {
            batch.put(&self.deletions_key(id), &meta::encode_deletions(&deleted));
            return Ok(Some(Removal::Marked(id, deleted)));
        }
        // Rewrite the group without its deleted rows.
        let columns: Vec<ColumnData> = (0..self.entry.schema.len())
            .map(|c| self.read_chunk(c, id, group.meta.rows))
            .collect::<Result<_>>()?;
        let live: Vec<Record> = (0..group.meta.rows as usize)
            .filter(|r| !deleted.contains(&(*r as u32)))
            .map(|r| columns.iter().map(|c| c.get(r)).collect())
            .collect();
        batch.delete(&self.deletions_key(id));
        self.counters
            .row_groups_rewritten
            .fetch_add(1, Ordering::Relaxed);
        if live.is_empty() {
            for c in 0..self.entry.schema.len() {
                batch.delete(&self.chunk_key(c, id));
            }
            batch.delete(&self.meta_key(id));
            return Ok(Some(Removal::Rewritten(id, None)));
        }
        let refs: Vec<&Record> = live.iter().collect();
        let meta = self.write_group(id, &refs, batch);
        Ok(Some(Removal::Rewritten(id, Some(meta))))
    }

    /// Adds `records` (checked, keys new) to the tail in `batch`, sealing full groups, and
    /// with `seal_rest` the rest too. `replaced` is a key whose tail entry the batch
    /// already deletes.
    fn place_records(
        &self,
        state: &State,
        records: &[Record],
        replaced: Option<u64>,
        seal_rest: bool,
        batch: &mut WriteBatch,
    ) -> Result<Placement> {
        let mut placement = Placement::default();
        let mut encoded = Vec::with_capacity(records.len());
        let mut new_bytes = 0;
        for r in records {
            let mut value = Vec::new();
            self.codec.encode(r, &mut value);
            new_bytes += value.len() as u64;
            encoded.push(value);
        }
        let pk = |r: &Record| match r[0] {
            Value::U64(pk) => pk,
            _ => 0,
        };
        let tail_rows = state.tail.len() + records.len();
        if !seal_rest
            && tail_rows < self.options.row_group_rows
            && state.tail_bytes + new_bytes < SEAL_BYTES
        {
            for (r, value) in records.iter().zip(&encoded) {
                batch.put(&self.tail_key(pk(r)), value);
                placement.tail_added.push((pk(r), value.len() as u64));
            }
            return Ok(placement);
        }
        // Merge the tail with the new records, by key: (record, its index among the new
        // records or None for a tail record, size).
        let mut rows: Vec<(Record, Option<usize>, u64)> = Vec::with_capacity(tail_rows);
        let all = vec![true; self.entry.schema.len()];
        for pair in self.store.scan(KeyRange::prefix(&self.key(b't', &[])))? {
            let (key, value) = pair?;
            let key_pk = self.suffix(&key, b't', 8)?;
            if Some(key_pk) == replaced {
                continue;
            }
            let mut row = vec![Value::Null; all.len()];
            let place = self.place(format!("tail record {key_pk}"));
            self.codec.decode(key_pk, &value, &all, &mut row, &place)?;
            rows.push((row, None, value.len() as u64));
        }
        for (i, (r, value)) in records.iter().zip(&encoded).enumerate() {
            rows.push((r.clone(), Some(i), value.len() as u64));
        }
        rows.sort_by_key(|(r, _, _)| pk(r));
        // The groups to seal: full ones, and with `seal_rest` the rest.
        let mut groups = Vec::new();
        let mut start = 0;
        while start < rows.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < rows.len()
                && end - start < self.options.row_group_rows
                && bytes < SEAL_BYTES
            {
                bytes += rows[end].2;
                end += 1;
            }
            let full =
                seal_rest || end - start == self.options.row_group_rows || bytes >= SEAL_BYTES;
            if !full {
                break;
            }
            groups.push(start..end);
            start = end;
        }
        // Tail records sealed leave the tail first, so that an engine that reuses freed
        // space within a batch (the B+tree) puts the chunks where they were.
        for (r, new, _) in &rows[..start] {
            if new.is_none() {
                batch.delete(&self.tail_key(pk(r)));
                placement.tail_removed.push(pk(r));
            }
        }
        let mut next_id = state.groups.keys().next_back().map_or(0, |&id| id + 1);
        for range in groups {
            let group: Vec<&Record> = rows[range].iter().map(|(r, _, _)| r).collect();
            let meta = self.write_group(next_id, &group, batch);
            placement.sealed.push((next_id, meta));
            next_id = next_id
                .checked_add(1)
                .ok_or_else(|| Error::invalid("the table has used every row group id"))?;
        }
        for (r, new, size) in &rows[start..] {
            if let Some(i) = new {
                batch.put(&self.tail_key(pk(r)), &encoded[*i]);
                placement.tail_added.push((pk(r), *size));
            }
        }
        Ok(placement)
    }

    fn apply_removal(state: &mut State, removal: Removal) {
        match removal {
            Removal::Tail(pk) => {
                if let Some(size) = state.tail.remove(&pk) {
                    state.tail_bytes -= size;
                }
            }
            Removal::Marked(id, deleted) => {
                if let Some(g) = state.groups.get_mut(&id) {
                    g.deleted = deleted;
                }
            }
            Removal::Rewritten(id, None) => {
                state.groups.remove(&id);
            }
            Removal::Rewritten(id, Some(meta)) => {
                let deleted = BTreeSet::new();
                state.groups.insert(id, RowGroup { meta, deleted });
            }
        }
    }

    fn apply_placement(state: &mut State, placement: Placement) {
        for (id, meta) in placement.sealed {
            let deleted = BTreeSet::new();
            state.groups.insert(id, RowGroup { meta, deleted });
        }
        for pk in placement.tail_removed {
            if let Some(size) = state.tail.remove(&pk) {
                state.tail_bytes -= size;
            }
        }
        for (pk, size) in placement.tail_added {
            if let Some(old) = state.tail.insert(pk, size) {
                state.tail_bytes -= old;
            }
            state.tail_bytes += size;
        }
    }

    /// Writes `batch`; after a failed write, the state is read again from the store, as
    /// the batch may or may not have reached it.
    fn write(&self, state: &mut State, batch: &WriteBatch) -> Result<()> {
        match self.store.write(batch) {
            Ok(()) => Ok(()),
            Err(e) => {
                if let Ok(fresh) = self.load() {
                    *state = fresh;
                }
                Err(e)
            }
        }
    }

    /// Feeds every live record `predicate` matches to `sink`.
    fn visit(&self, predicate: &Bound, sink: &mut dyn Sink) -> Result<()> {
        let Some((lo, hi)) = predicate.pk_range() else {
            return Ok(());
        };
        let state = self.state.read();
        let n = self.entry.schema.len();
        let sink_columns = sink.columns();
        for (&id, group) in &state.groups {
            let meta = &group.meta;
            let ruled_out = meta.pk_max < lo
                || meta.pk_min > hi
                || predicate.terms.iter().any(|t| {
                    let chunk = &meta.columns[t.column];
                    chunk.nulls == meta.rows
                        || chunk
                            .bounds
                            .as_ref()
                            .is_some_and(|(min, max)| !t.may_match_range(min, max))
                });
            if ruled_out {
                self.counters
                    .row_groups_skipped
                    .fetch_add(1, Ordering::Relaxed);
                continue;
            }
            self.counters
                .row_groups_read
                .fetch_add(1, Ordering::Relaxed);
            let mut columns: Vec<Option<ColumnData>> = vec![None; n];
            let mut selected: Vec<usize> = (0..meta.rows as usize)
                .filter(|r| !group.deleted.contains(&(*r as u32)))
                .collect();
            for t in &predicate.terms {
                if columns[t.column].is_none() {
                    columns[t.column] = Some(self.read_chunk(t.column, id, meta.rows)?);
                }
                let column = columns[t.column].as_ref().expect("read above");
                selected.retain(|&r| t.matches_at(column, r));
                if selected.is_empty() {
                    break;
                }
            }
            if selected.is_empty() {
                continue;
            }
            for &c in &sink_columns {
                if columns[c].is_none() {
                    columns[c] = Some(self.read_chunk(c, id, meta.rows)?);
                }
            }
            sink.rows(&columns, &selected);
        }
        // The open row group, in the row layout.
        if !state.tail.is_empty() {
            let range = KeyRange::new(
                std::ops::Bound::Included(self.tail_key(lo)),
                std::ops::Bound::Included(self.tail_key(hi)),
            );
            let wanted = wanted(
                &self.entry.schema,
                sink_columns.iter().copied().chain(predicate.columns()),
            );
            let mut row = vec![Value::Null; n];
            for pair in self.store.scan(range)? {
                let (key, value) = pair?;
                let pk = self.suffix(&key, b't', 8)?;
                let place = self.place(format!("tail record {pk}"));
                self.codec.decode(pk, &value, &wanted, &mut row, &place)?;
                if predicate.terms.iter().all(|t| t.matches(&row[t.column])) {
                    sink.row(&row);
                }
            }
        }
        Ok(())
    }
}

impl Table for ColumnTable {
    fn name(&self) -> &str {
        &self.entry.name
    }

    fn schema(&self) -> &Schema {
        &self.entry.schema
    }

    fn layout(&self) -> Layout {
        Layout::Column
    }

    fn insert(&self, records: &[Record]) -> Result<()> {
        let pks = check_batch(&self.entry.schema, records)?;
        let mut state = self.state.write();
        let mut cache = HashMap::new();
        for &pk in &pks {
            if state.tail.contains_key(&pk) || self.locate(&state, pk, &mut cache)?.is_some() {
                return Err(Error::invalid(format!(
                    "table '{}' already holds primary key {pk}",
                    self.entry.name
                )));
            }
        }
        let mut batch = WriteBatch::new();
        let placement = self.place_records(&state, records, None, false, &mut batch)?;
        self.write(&mut state, &batch)?;
        Self::apply_placement(&mut state, placement);
        Ok(())
    }

    fn get(&self, pk: u64, projection: Option<&[&str]>) -> Result<Option<Record>> {
        let columns = self.entry.schema.projection(projection)?;
        let state = self.state.read();
        self.read_record(&state, pk, &columns)
    }

    fn delete(&self, pk: u64) -> Result<()> {
        let mut state = self.state.write();
        let mut batch = WriteBatch::new();
        let removal = self
            .remove(&state, pk, &mut batch)?
            .ok_or_else(|| missing(&self.entry.name, pk))?;
        self.write(&mut state, &batch)?;
        Self::apply_removal(&mut state, removal);
        Ok(())
    }

    fn update(&self, pk: u64, changes: &[(&str, Value)]) -> Result<()> {
        let mut state = self.state.write();
        let all: Vec<usize> = (0..self.entry.schema.len()).collect();
        let mut record = self
            .read_record(&state, pk, &all)?
            .ok_or_else(|| missing(&self.entry.name, pk))?;
        apply_changes(&self.entry.schema, &mut record, changes)?;
        let mut batch = WriteBatch::new();
        let removal = self
            .remove(&state, pk, &mut batch)?
            .ok_or_else(|| missing(&self.entry.name, pk))?;
        let placement = self.place_records(&state, &[record], Some(pk), false, &mut batch)?;
        self.write(&mut state, &batch)?;
        Self::apply_removal(&mut state, removal);
        Self::apply_placement(&mut state, placement);
        Ok(())
    }

    fn scan(&self, projection: Option<&[&str]>, predicate: &Predicate) -> Result<Vec<Record>> {
        let mut sink = Collect::new(self.entry.schema.projection(projection)?);
        self.visit(&predicate.bind(&self.entry.schema)?, &mut sink)?;
        Ok(sink.finish())
    }

    fn aggregate(&self, aggregate: &Aggregate, predicate: &Predicate) -> Result<Value> {
        let mut acc = Accumulator::new(aggregate, &self.entry.schema)?;
        self.visit(&predicate.bind(&self.entry.schema)?, &mut acc)?;
        acc.finish()
    }

    fn group_by(
        &self,
        column: &str,
        sum: Option<&str>,
        predicate: &Predicate,
    ) -> Result<Vec<GroupResult>> {
        let mut groups = Grouping::new(column, sum, &self.entry.schema)?;
        self.visit(&predicate.bind(&self.entry.schema)?, &mut groups)?;
        groups.finish()
    }

    fn sync(&self) -> Result<()> {
        self.store.sync()
    }

    /// Seals the open row group, however few records it holds.
    fn flush(&self) -> Result<()> {
        let mut state = self.state.write();
        if state.tail.is_empty() {
            return Ok(());
        }
        let mut batch = WriteBatch::new();
        let placement = self.place_records(&state, &[], None, true, &mut batch)?;
        self.write(&mut state, &batch)?;
        Self::apply_placement(&mut state, placement);
        Ok(())
    }

    fn stats(&self) -> TableStats {
        let c = &self.counters;
        TableStats {
            row_groups_read: c.row_groups_read.load(Ordering::Relaxed),
            row_groups_skipped: c.row_groups_skipped.load(Ordering::Relaxed),
            chunks_read: c.chunks_read.load(Ordering::Relaxed),
            chunk_bytes_read: c.chunk_bytes_read.load(Ordering::Relaxed),
            row_groups_rewritten: c.row_groups_rewritten.load(Ordering::Relaxed),
        }
    }
}
