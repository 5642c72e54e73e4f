//! Tables of typed records over any [`KvStore`], in two layouts.
//!
//! A [`Schema`] names typed columns, the first a `u64` primary key. A [`Table`] inserts,
//! gets, updates and deletes [`Record`]s, scans them with a projection and a
//! [`Predicate`], and answers aggregates and GROUP BY. Two layouts implement it over the
//! same key-value store, which is what makes them comparable:
//!
//! - [`RowTable`] stores each record as one entry ([`row`]): a point read is one `get`,
//!   and a scan reads every column of every record.
//! - [`ColumnTable`] groups records into row groups and stores each column of a group as
//!   one chunk ([`column`](mod@column)), encoded with the smallest of four encodings ([`encoding`]) and
//!   described by a zone map: a scan reads only the columns it needs, and skips the groups
//!   whose zone maps rule them out.
//!
//! The [`catalog`] records each table's layout and schema in the store, so that reopening
//! a table with another schema is an error. A store that holds tables should hold nothing
//! else: table keys start with four bytes of table id, and other keys could collide.

pub mod aggregate;
pub mod catalog;
pub mod column;
pub mod encoding;
pub mod inspect;
pub mod predicate;
mod query;
pub mod row;
pub mod schema;
pub mod value;

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::kv::KvStore;

pub use aggregate::{Aggregate, Group};
pub use column::{ColumnTable, TableOptions};
pub use predicate::{Cmp, Predicate};
pub use row::RowTable;
pub use schema::{Column, Schema};
pub use value::{ColumnType, Record, Value};

/// How a table lays its records out in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// One entry per record.
    Row,
    /// One entry per column of each row group.
    Column,
}

impl Layout {
    /// Both layouts.
    pub const ALL: [Layout; 2] = [Layout::Row, Layout::Column];

    /// "row" or "column".
    pub fn name(self) -> &'static str {
        match self {
            Layout::Row => "row",
            Layout::Column => "column",
        }
    }
}

impl std::str::FromStr for Layout {
    type Err = Error;

    fn from_str(s: &str) -> Result<Layout> {
        match s {
            "row" => Ok(Layout::Row),
            "column" => Ok(Layout::Column),
            _ => Err(Error::invalid(format!(
                "unknown layout '{s}' (row, column)"
            ))),
        }
    }
}

/// Counters of the work a table's reads did, since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableStats {
    /// Row groups a scan read at least one chunk of.
    pub row_groups_read: u64,
    /// Row groups a scan ruled out by their zone maps or key range, unread.
    pub row_groups_skipped: u64,
    /// Column chunks read.
    pub chunks_read: u64,
    /// Bytes of the chunks read.
    pub chunk_bytes_read: u64,
    /// Row groups rewritten to drop deleted rows.
    pub row_groups_rewritten: u64,
}

/// A table of records in one layout. Every call that changes the table is one atomic
/// [`KvStore::write`]: it happens entirely or not at all, and is durable as the store's
/// writes are.
pub trait Table: Send + Sync {
    /// The table's name in its store.
    fn name(&self) -> &str;

    /// Its columns.
    fn schema(&self) -> &Schema;

    /// Row or column.
    fn layout(&self) -> Layout;

    /// Inserts `records`, each with every column of the schema. A record of the wrong
    /// shape or type, or a primary key the table (or the batch) already holds, is an
    /// error and nothing is inserted.
    fn insert(&self, records: &[Record]) -> Result<()>;

    /// The record with primary key `pk`, projected to `projection` (None: every column).
    fn get(&self, pk: u64, projection: Option<&[&str]>) -> Result<Option<Record>>;

    /// Deletes the record with primary key `pk`; an error if there is none.
    fn delete(&self, pk: u64) -> Result<()>;

    /// Sets some columns of the record with primary key `pk`; an error if there is none,
    /// or for a change of the primary key or of the wrong type.
    fn update(&self, pk: u64, changes: &[(&str, Value)]) -> Result<()>;

    /// The records `predicate` matches, projected, in primary-key order.
    fn scan(&self, projection: Option<&[&str]>, predicate: &Predicate) -> Result<Vec<Record>>;

    /// One aggregate over the records `predicate` matches.
    fn aggregate(&self, aggregate: &Aggregate, predicate: &Predicate) -> Result<Value>;

    /// COUNT(*) and, if `sum` names a column, SUM(sum) per value of `column` over the
    /// records `predicate` matches, sorted by that value.
    fn group_by(
        &self,
        column: &str,
        sum: Option<&str>,
        predicate: &Predicate,
    ) -> Result<Vec<Group>>;

    /// Makes every change so far durable (the store's `sync`).
    fn sync(&self) -> Result<()>;

    /// Puts the records buffered for the layout's final form into it now, as a bulk load
    /// does at its end: the column layout seals its open row group however few records it
    /// holds (a short row group); the row layout buffers nothing.
    fn flush(&self) -> Result<()> {
        Ok(())
    }

    /// The work its reads did since it was opened.
    fn stats(&self) -> TableStats {
        TableStats::default()
    }
}

/// Opens table `name` in `layout`, creating it with `schema` if the store has none of that
/// name. A table of that name with another layout or schema is an error.
pub fn open_table(
    store: Arc<dyn KvStore>,
    name: &str,
    layout: Layout,
    schema: &Schema,
    options: &TableOptions,
) -> Result<Box<dyn Table>> {
    Ok(match layout {
        Layout::Row => Box::new(RowTable::open(store, name, schema)?),
        Layout::Column => Box::new(ColumnTable::open(store, name, schema, options)?),
    })
}
