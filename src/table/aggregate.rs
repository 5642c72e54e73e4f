//! [`Aggregate`]s and GROUP BY: accumulators both layouts feed row by row, so that they
//! give the same answers by construction of the arithmetic, not by luck.
//!
//! Semantics, as in SQL: COUNT counts matching records; SUM, MIN, MAX and AVG skip nulls
//! and give null over no values; MIN and MAX skip NaN. Integer sums are exact (kept in 128
//! bits) and an error when the total does not fit the column's type; f64 sums are IEEE
//! sums, whose last bits depend on the order rows are visited.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::error::{Error, Result};

use super::schema::Schema;
use super::value::{ColumnType, Value};

/// An aggregate over the records a predicate matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Aggregate {
    /// COUNT(*): a `u64`.
    Count,
    /// SUM(column) of a numeric column: a value of the column's type.
    Sum(String),
    /// MIN(column): a value of the column's type.
    Min(String),
    /// MAX(column): a value of the column's type.
    Max(String),
    /// AVG(column) of a numeric column: an `f64`.
    Avg(String),
}

/// One group of a GROUP BY.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// The grouping column's value (groups are sorted by [`Value::total_cmp`]).
    pub key: Value,
    /// COUNT(*) of the group.
    pub count: u64,
    /// SUM of the summed column, or null when none was asked for or all were null.
    pub sum: Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Count,
    Sum,
    Min,
    Max,
    Avg,
}

/// A running aggregate.
#[derive(Clone, Debug)]
pub(crate) struct Accumulator {
    kind: Kind,
    ty: ColumnType,
    /// The column it reads (None for COUNT).
    pub(crate) column: Option<usize>,
    rows: u64,
    values: u64,
    int_sum: i128,
    float_sum: f64,
    best: Option<Value>,
}

impl Accumulator {
    /// Checks `aggregate` against `schema`.
    pub(crate) fn new(aggregate: &Aggregate, schema: &Schema) -> Result<Accumulator> {
        let (kind, name) = match aggregate {
            Aggregate::Count => (Kind::Count, None),
            Aggregate::Sum(c) => (Kind::Sum, Some(c)),
            Aggregate::Min(c) => (Kind::Min, Some(c)),
            Aggregate::Max(c) => (Kind::Max, Some(c)),
            Aggregate::Avg(c) => (Kind::Avg, Some(c)),
        };
        let column = name.map(|n| schema.index_of(n)).transpose()?;
        let ty = column.map_or(ColumnType::U64, |c| schema.columns()[c].ty);
        if matches!(kind, Kind::Sum | Kind::Avg) && !ty.is_numeric() {
            return Err(Error::invalid(format!(
                "{aggregate:?} needs a numeric column, not {ty}"
            )));
        }
        Ok(Accumulator {
            kind,
            ty,
            column,
            rows: 0,
            values: 0,
            int_sum: 0,
            float_sum: 0.0,
            best: None,
        })
    }

    /// A SUM of `column` for group results, or None.
    pub(crate) fn sum_of(column: Option<&str>, schema: &Schema) -> Result<Option<Accumulator>> {
        column
            .map(|c| Accumulator::new(&Aggregate::Sum(c.to_owned()), schema))
            .transpose()
    }

    /// Adds one matching record whose aggregated column holds `v` (anything for COUNT).
    #[inline]
    pub(crate) fn add(&mut self, v: &Value) {
        self.rows += 1;
        match (self.kind, v) {
            (Kind::Count, _) | (_, Value::Null) => {}
            (Kind::Sum | Kind::Avg, v) => {
                self.values += 1;
                match v {
                    Value::U64(x) => self.int_sum += i128::from(*x),
                    Value::I64(x) => self.int_sum += i128::from(*x),
                    Value::F64(x) => self.float_sum += x,
                    _ => {}
                }
            }
            (Kind::Min | Kind::Max, v) => {
                if v.compare(v).is_none() {
                    return; // NaN
                }
                self.values += 1;
                let better = match &self.best {
                    None => true,
                    Some(b) => {
                        let order = v.compare(b);
                        if self.kind == Kind::Min {
                            order == Some(Ordering::Less)
                        } else {
                            order == Some(Ordering::Greater)
                        }
                    }
                };
                if better {
                    self.best = Some(v.clone());
                }
            }
        }
    }

    /// Adds one f64 without building a [`Value`] (the column scan's fast path for SUM/AVG).
    #[inline]
    pub(crate) fn add_f64(&mut self, x: f64) {
        self.rows += 1;
        self.values += 1;
        self.float_sum += x;
    }

    /// True when [`Accumulator::add_f64`] may stand for [`Accumulator::add`].
    pub(crate) fn sums_f64(&self) -> bool {
        matches!(self.kind, Kind::Sum | Kind::Avg) && self.ty == ColumnType::F64
    }

    /// The result.
    pub(crate) fn finish(&self) -> Result<Value> {
        if self.kind == Kind::Count {
            return Ok(Value::U64(self.rows));
        }
        if self.values == 0 {
            return Ok(Value::Null);
        }
        Ok(match self.kind {
            Kind::Count => unreachable!(),
            Kind::Min | Kind::Max => self.best.clone().unwrap_or(Value::Null),
            Kind::Sum => match self.ty {
                ColumnType::U64 => Value::U64(u64::try_from(self.int_sum).map_err(|_| {
                    Error::invalid(format!("the sum {} does not fit a u64", self.int_sum))
                })?),
                ColumnType::I64 => Value::I64(i64::try_from(self.int_sum).map_err(|_| {
                    Error::invalid(format!("the sum {} does not fit an i64", self.int_sum))
                })?),
                _ => Value::F64(self.float_sum),
            },
            Kind::Avg => {
                let total = if self.ty == ColumnType::F64 {
                    self.float_sum
                } else {
                    self.int_sum as f64
                };
                Value::F64(total / self.values as f64)
            }
        })
    }
}

/// Groups by the total order of their keys.
#[derive(Clone, Debug)]
struct Key(Value);

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.0.total_cmp(&other.0) == Ordering::Equal
    }
}
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Key) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A running GROUP BY: COUNT(*) and an optional SUM per group.
#[derive(Clone, Debug)]
pub(crate) struct Grouping {
    /// The grouping column.
    pub(crate) column: usize,
    sum: Option<Accumulator>,
    groups: BTreeMap<Key, (u64, Option<Accumulator>)>,
}

impl Grouping {
    /// A GROUP BY `column` with SUM(`sum`), checked against `schema`.
    pub(crate) fn new(column: &str, sum: Option<&str>, schema: &Schema) -> Result<Grouping> {
        Ok(Grouping {
            column: schema.index_of(column)?,
            sum: Accumulator::sum_of(sum, schema)?,
            groups: BTreeMap::new(),
        })
    }

    /// The summed column, if any.
    pub(crate) fn sum_column(&self) -> Option<usize> {
        self.sum.as_ref().and_then(|s| s.column)
    }

    /// Adds one matching record: its key and its summed value (ignored without a SUM).
    pub(crate) fn add(&mut self, key: &Value, summed: &Value) {
        let entry = match self.groups.get_mut(&Key(key.clone())) {
            Some(e) => e,
            None => self
                .groups
                .entry(Key(key.clone()))
                .or_insert((0, self.sum.clone())),
        };
        entry.0 += 1;
        if let Some(acc) = &mut entry.1 {
            acc.add(summed);
        }
    }

    /// The groups, sorted by key.
    pub(crate) fn finish(self) -> Result<Vec<Group>> {
        self.groups
            .into_iter()
            .map(|(key, (count, sum))| {
                Ok(Group {
                    key: key.0,
                    count,
                    sum: sum.map_or(Ok(Value::Null), |s| s.finish())?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::schema::Column;

    fn schema() -> Schema {
        Schema::new(vec![
            Column::new("id", ColumnType::U64),
            Column::nullable("n", ColumnType::I64),
            Column::new("s", ColumnType::String),
        ])
        .unwrap()
    }

    #[test]
    fn aggregates_skip_nulls_and_overflow_is_an_error() {
        let s = schema();
        let mut sum = Accumulator::new(&Aggregate::Sum("n".into()), &s).unwrap();
        let mut count = Accumulator::new(&Aggregate::Count, &s).unwrap();
        let mut avg = Accumulator::new(&Aggregate::Avg("n".into()), &s).unwrap();
        for v in [Value::I64(4), Value::Null, Value::I64(-1)] {
            sum.add(&v);
            count.add(&v);
            avg.add(&v);
        }
        assert_eq!(sum.finish().unwrap(), Value::I64(3));
        assert_eq!(count.finish().unwrap(), Value::U64(3));
        assert_eq!(avg.finish().unwrap(), Value::F64(1.5));
        let mut big = Accumulator::new(&Aggregate::Sum("n".into()), &s).unwrap();
        big.add(&Value::I64(i64::MAX));
        big.add(&Value::I64(1));
        assert!(big.finish().is_err());
        assert!(Accumulator::new(&Aggregate::Sum("s".into()), &s).is_err());
        let empty = Accumulator::new(&Aggregate::Min("s".into()), &s).unwrap();
        assert_eq!(empty.finish().unwrap(), Value::Null);
    }

    #[test]
    fn groups_come_sorted_with_their_sums() {
        let s = schema();
        let mut g = Grouping::new("s", Some("n"), &s).unwrap();
        g.add(&Value::String("b".into()), &Value::I64(1));
        g.add(&Value::String("a".into()), &Value::I64(2));
        g.add(&Value::String("b".into()), &Value::Null);
        let groups = g.finish().unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].key, Value::String("a".into()));
        assert_eq!((groups[1].count, &groups[1].sum), (2, &Value::I64(1)));
    }
}
