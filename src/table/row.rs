//! The row layout: one key-value entry per record, the primary key in the key and every
//! other column in the value. A point read is one `get`; any scan reads every column.
//!
//! ```text
//! key   := table_id:u32 BE  pk:u64 BE          (big-endian, so keys sort by pk)
//! value := null_bitmap  fixed*  variable*
//!          null_bitmap: ceil((columns - 1) / 8) bytes; bit i - 1 set when column i is
//!                       null, least significant bit first (column 0 is the key)
//!          fixed:    each non-null u64, i64, f64 (8 bytes LE) and bool (1 byte) column,
//!                    in schema order
//!          variable: each non-null bytes and string column as len:varint bytes, in
//!                    schema order
//! ```
//!
//! Worked example, schema `id u64, country string, amount f64, note string null`, record
//! `(7, "de", 12.5, null)`: key `00 00 00 01 | 00 00 00 00 00 00 00 07`; value `04`
//! (column 3 null) `00 00 00 00 00 00 29 40` (12.5) `02 64 65` ("de").
//!
//! The same encoding stores the column layout's open row group (its tail).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::format::coding::Reader;
use crate::kv::{KeyRange, KvStore, MAX_VALUE_LEN, WriteBatch};

use super::aggregate::{Accumulator, Group, Grouping};
use super::catalog::{self, TableEntry};
use super::predicate::{Bound, Predicate};
use super::query::{Collect, Sink};
use super::schema::Schema;
use super::value::{ColumnType, Record, Value};
use super::{Aggregate, Layout, Table};

/// Encodes and decodes the value of a row-layout entry for one schema.
#[derive(Clone, Debug)]
pub(crate) struct RowCodec {
    schema: Schema,
    bitmap_len: usize,
}

impl RowCodec {
    pub(crate) fn new(schema: &Schema) -> Self {
        RowCodec {
            schema: schema.clone(),
            bitmap_len: (schema.len() - 1).div_ceil(8),
        }
    }

    /// Appends the encoding of `record` (already checked against the schema).
    pub(crate) fn encode(&self, record: &[Value], out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + self.bitmap_len, 0);
        for (i, v) in record.iter().enumerate().skip(1) {
            if v.is_null() {
                out[start + (i - 1) / 8] |= 1 << ((i - 1) % 8);
            }
        }
        for v in record.iter().skip(1) {
            if v.column_type().and_then(ColumnType::fixed_width).is_some() {
                v.put_plain(out);
            }
        }
        for v in record.iter().skip(1) {
            if matches!(v, Value::Bytes(_) | Value::String(_)) {
                v.put_plain(out);
            }
        }
    }

    /// Decodes the columns `wanted` marks into `row` (a slot per column, `row[0]` = `pk`);
    /// the others are left null. `place` names the entry in errors.
    pub(crate) fn decode(
        &self,
        pk: u64,
        bytes: &[u8],
        wanted: &[bool],
        row: &mut [Value],
        place: &std::path::Path,
    ) -> Result<()> {
        let mut r = Reader::new(bytes, place, 0);
        let bitmap = r.bytes(self.bitmap_len)?;
        let is_null = |i: usize| bitmap[(i - 1) / 8] & (1 << ((i - 1) % 8)) != 0;
        row[0] = Value::U64(pk);
        let columns = self.schema.columns();
        for i in 1..columns.len() {
            row[i] = Value::Null;
            if is_null(i) && !columns[i].nullable {
                return Err(r.corrupt(format!("column '{}' is null", columns[i].name)));
            }
        }
        for (i, c) in columns.iter().enumerate().skip(1) {
            if let Some(width) = c.ty.fixed_width().filter(|_| !is_null(i)) {
                if wanted[i] {
                    row[i] = Value::read_plain(&mut r, c.ty)?;
                } else {
                    r.bytes(width)?;
                }
            }
        }
        for (i, c) in columns.iter().enumerate().skip(1) {
            if c.ty.fixed_width().is_none() && !is_null(i) {
                if wanted[i] {
                    row[i] = Value::read_plain(&mut r, c.ty)?;
                } else {
                    let n = r.len(MAX_VALUE_LEN)?;
                    r.bytes(n)?;
                }
            }
        }
        if r.remaining() != 0 {
            return Err(r.corrupt(format!("{} bytes after the last column", r.remaining())));
        }
        Ok(())
    }
}

/// The key of record `pk` in table `id` (also the column layout's tail key shape).
pub(crate) fn record_key(prefix: &[u8], pk: u64) -> Vec<u8> {
    [prefix, &pk.to_be_bytes()].concat()
}

/// Marks `columns` in a vector of one flag per schema column.
pub(crate) fn wanted(schema: &Schema, columns: impl IntoIterator<Item = usize>) -> Vec<bool> {
    let mut w = vec![false; schema.len()];
    columns.into_iter().for_each(|c| w[c] = true);
    w
}

/// Checks a batch of records: the schema, and no primary key twice. Returns the keys.
pub(crate) fn check_batch(schema: &Schema, records: &[Record]) -> Result<Vec<u64>> {
    let mut seen = HashSet::with_capacity(records.len());
    records
        .iter()
        .map(|r| {
            let pk = schema.check_record(r)?;
            if !seen.insert(pk) {
                return Err(Error::invalid(format!(
                    "primary key {pk} appears twice in the batch"
                )));
            }
            Ok(pk)
        })
        .collect()
}

/// Checks an update's changes and applies them to `record`.
pub(crate) fn apply_changes(
    schema: &Schema,
    record: &mut Record,
    changes: &[(&str, Value)],
) -> Result<()> {
    for (name, value) in changes {
        let i = schema.index_of(name)?;
        if i == 0 {
            return Err(Error::invalid(format!(
                "the primary key '{name}' cannot be updated; delete and insert instead"
            )));
        }
        schema.check_value(i, value)?;
        record[i] = value.clone();
    }
    Ok(())
}

/// A table in the row layout over any [`KvStore`].
pub struct RowTable {
    store: Arc<dyn KvStore>,
    entry: TableEntry,
    codec: RowCodec,
    prefix: [u8; 4],
    place: PathBuf,
}

impl RowTable {
    /// Opens table `name` in `store`, creating it if the store has no table of that name.
    /// A table of that name with another layout or schema is an error.
    pub fn open(store: Arc<dyn KvStore>, name: &str, schema: &Schema) -> Result<RowTable> {
        let entry = catalog::open(store.as_ref(), name, Layout::Row, schema)?;
        Ok(RowTable {
            codec: RowCodec::new(&entry.schema),
            prefix: entry.id.to_be_bytes(),
            place: entry.place("row"),
            entry,
            store,
        })
    }

    fn pk_of(&self, key: &[u8]) -> Result<u64> {
        key.get(4..12)
            .filter(|_| key.len() == 12)
            .map(|b| u64::from_be_bytes(b.try_into().unwrap_or_default()))
            .ok_or_else(|| Error::corruption(&self.place, 0, "a key that is not table id + pk"))
    }

    fn read(&self, pk: u64) -> Result<Option<Record>> {
        let Some(bytes) = self.store.get(&record_key(&self.prefix, pk))? else {
            return Ok(None);
        };
        let mut row = vec![Value::Null; self.entry.schema.len()];
        let all = vec![true; row.len()];
        self.codec
            .decode(pk, &bytes, &all, &mut row, &self.place_of(pk))?;
        Ok(Some(row))
    }

    fn place_of(&self, pk: u64) -> PathBuf {
        PathBuf::from(format!("table '{}' record {pk}", self.entry.name))
    }

    /// Feeds every record `predicate` matches to `sink`, in primary-key order.
    fn visit(&self, predicate: &Bound, sink: &mut dyn Sink) -> Result<()> {
        let Some((lo, hi)) = predicate.pk_range() else {
            return Ok(());
        };
        let range = KeyRange::new(
            std::ops::Bound::Included(record_key(&self.prefix, lo)),
            std::ops::Bound::Included(record_key(&self.prefix, hi)),
        );
        let wanted = wanted(
            &self.entry.schema,
            sink.columns().into_iter().chain(predicate.columns()),
        );
        let mut row = vec![Value::Null; self.entry.schema.len()];
        for pair in self.store.scan(range)? {
            let (key, value) = pair?;
            let pk = self.pk_of(&key)?;
            self.codec
                .decode(pk, &value, &wanted, &mut row, &self.place_of(pk))?;
            if predicate.terms.iter().all(|t| t.matches(&row[t.column])) {
                sink.row(&row);
            }
        }
        Ok(())
    }
}

impl Table for RowTable {
    fn name(&self) -> &str {
        &self.entry.name
    }

    fn schema(&self) -> &Schema {
        &self.entry.schema
    }

    fn layout(&self) -> Layout {
        Layout::Row
    }

    fn insert(&self, records: &[Record]) -> Result<()> {
        let pks = check_batch(&self.entry.schema, records)?;
        for &pk in &pks {
            if self.store.get(&record_key(&self.prefix, pk))?.is_some() {
                return Err(Error::invalid(format!(
                    "table '{}' already holds primary key {pk}",
                    self.entry.name
                )));
            }
        }
        let mut batch = WriteBatch::new();
        let mut value = Vec::new();
        for (record, pk) in records.iter().zip(pks) {
            value.clear();
            self.codec.encode(record, &mut value);
            batch.put(&record_key(&self.prefix, pk), &value);
        }
        self.store.write(&batch)
    }

    fn get(&self, pk: u64, projection: Option<&[&str]>) -> Result<Option<Record>> {
        let columns = self.entry.schema.projection(projection)?;
        Ok(self
            .read(pk)?
            .map(|row| columns.iter().map(|&i| row[i].clone()).collect()))
    }

    fn delete(&self, pk: u64) -> Result<()> {
        let key = record_key(&self.prefix, pk);
        if self.store.get(&key)?.is_none() {
            return Err(missing(&self.entry.name, pk));
        }
        self.store.delete(&key)
    }

    fn update(&self, pk: u64, changes: &[(&str, Value)]) -> Result<()> {
        let mut record = self
            .read(pk)?
            .ok_or_else(|| missing(&self.entry.name, pk))?;
        apply_changes(&self.entry.schema, &mut record, changes)?;
        let mut value = Vec::new();
        self.codec.encode(&record, &mut value);
        self.store.put(&record_key(&self.prefix, pk), &value)
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
    ) -> Result<Vec<Group>> {
        let mut groups = Grouping::new(column, sum, &self.entry.schema)?;
        self.visit(&predicate.bind(&self.entry.schema)?, &mut groups)?;
        groups.finish()
    }

    fn sync(&self) -> Result<()> {
        self.store.sync()
    }
}

/// The error for an operation on a primary key the table does not hold.
pub(crate) fn missing(table: &str, pk: u64) -> Error {
    Error::invalid(format!("table '{table}' holds no primary key {pk}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::schema::Column;
    use std::path::Path;

    #[test]
    fn the_drawn_example_encodes_as_drawn() {
        let schema = Schema::new(vec![
            Column::new("id", ColumnType::U64),
            Column::new("country", ColumnType::String),
            Column::new("amount", ColumnType::F64),
            Column::nullable("note", ColumnType::String),
        ])
        .unwrap();
        let codec = RowCodec::new(&schema);
        let record = vec![
            Value::U64(7),
            Value::String("de".into()),
            Value::F64(12.5),
            Value::Null,
        ];
        let mut out = Vec::new();
        codec.encode(&record, &mut out);
        assert_eq!(out, [4, 0, 0, 0, 0, 0, 0, 0x29, 0x40, 2, b'd', b'e']);
        let mut row = vec![Value::Null; 4];
        codec
            .decode(7, &out, &[true; 4], &mut row, Path::new("r"))
            .unwrap();
        assert_eq!(row, record);
        let mut only_amount = vec![Value::Null; 4];
        codec
            .decode(
                7,
                &out,
                &[false, false, true, false],
                &mut only_amount,
                Path::new("r"),
            )
            .unwrap();
        assert_eq!(only_amount[2], Value::F64(12.5));
        assert!(only_amount[1].is_null());
        assert!(
            codec
                .decode(7, &out[..5], &[true; 4], &mut row, Path::new("r"))
                .is_err()
        );
    }
}
