//! What a query does with the records its predicate matches, whichever layout found them:
//! collect a projection, feed an aggregate, or feed a GROUP BY.
//!
//! A layout hands matching records over one at a time ([`Sink::row`], as the row layout
//! decodes them) or a row group at a time ([`Sink::rows`], decoded columns and the indexes
//! of the matching rows), which lets an aggregate run down a column without building a
//! record per row.

use super::aggregate::{Accumulator, Grouping};
use super::encoding::{ColumnData, Values};
use super::value::{Record, Value};

/// The consumer of a query's matching records.
pub(crate) trait Sink {
    /// The columns it reads.
    fn columns(&self) -> Vec<usize>;

    /// One matching record: a slot per schema column, the unread ones null.
    fn row(&mut self, row: &[Value]);

    /// The matching rows `selected` of one row group whose read columns are decoded.
    fn rows(&mut self, columns: &[Option<ColumnData>], selected: &[usize]) {
        let mut row = vec![Value::Null; columns.len()];
        for &i in selected {
            for (slot, c) in row.iter_mut().zip(columns) {
                if let Some(c) = c {
                    *slot = c.get(i);
                }
            }
            self.row(&row);
        }
    }
}

/// Collects projected records with their primary keys.
pub(crate) struct Collect {
    projection: Vec<usize>,
    pub(crate) records: Vec<(u64, Record)>,
}

impl Collect {
    pub(crate) fn new(projection: Vec<usize>) -> Self {
        Collect {
            projection,
            records: Vec::new(),
        }
    }

    /// The records in primary-key order.
    pub(crate) fn finish(mut self) -> Vec<Record> {
        self.records.sort_by_key(|(pk, _)| *pk);
        self.records.into_iter().map(|(_, r)| r).collect()
    }
}

impl Sink for Collect {
    fn columns(&self) -> Vec<usize> {
        let mut c = self.projection.clone();
        c.push(0);
        c
    }

    fn row(&mut self, row: &[Value]) {
        let pk = match row[0] {
            Value::U64(pk) => pk,
            _ => 0,
        };
        let record = self.projection.iter().map(|&i| row[i].clone()).collect();
        self.records.push((pk, record));
    }
}

impl Sink for Accumulator {
    fn columns(&self) -> Vec<usize> {
        self.column.into_iter().collect()
    }

    fn row(&mut self, row: &[Value]) {
        self.add(self.column.map_or(&Value::Null, |c| &row[c]));
    }

    fn rows(&mut self, columns: &[Option<ColumnData>], selected: &[usize]) {
        let column = self.column.and_then(|c| columns[c].as_ref());
        match column {
            None => selected.iter().for_each(|_| self.add(&Value::Null)),
            Some(ColumnData {
                values: Values::F64(v),
                nulls,
            }) if self.sums_f64() => {
                for &i in selected {
                    if nulls.as_ref().is_some_and(|n| n[i]) {
                        self.add(&Value::Null);
                    } else {
                        self.add_f64(v[i]);
                    }
                }
            }
            Some(c) => selected.iter().for_each(|&i| self.add(&c.get(i))),
        }
    }
}

impl Sink for Grouping {
    fn columns(&self) -> Vec<usize> {
        let mut c = vec![self.column];
        c.extend(self.sum_column());
        c
    }

    fn row(&mut self, row: &[Value]) {
        let summed = self.sum_column().map_or(&Value::Null, |c| &row[c]);
        self.add(&row[self.column], summed);
    }
}
