//! [`Predicate`]: an AND of comparisons on single columns, checked against a schema once
//! and then applied to values, and to zone maps to rule out whole chunks unread.

use std::cmp::Ordering;

use crate::error::{Error, Result};

use super::encoding::ColumnData;
use super::schema::Schema;
use super::value::Value;

/// A comparison of a column with a constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// `=`
    Eq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// One condition on one column.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// `column cmp value`
    Compare(String, Cmp, Value),
    /// `column BETWEEN low AND high`, both ends included.
    Between(String, Value, Value),
}

/// An AND of conditions; no conditions matches every record.
///
/// A null matches no comparison, and neither does a NaN (as in SQL); -0.0 equals 0.0.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Predicate {
    conditions: Vec<Condition>,
}

impl Predicate {
    /// The predicate every record matches.
    pub fn all() -> Self {
        Predicate::default()
    }

    /// Adds `column cmp value`.
    pub fn and(mut self, column: &str, cmp: Cmp, value: Value) -> Self {
        self.conditions
            .push(Condition::Compare(column.to_owned(), cmp, value));
        self
    }

    /// Adds `column BETWEEN low AND high`.
    pub fn and_between(mut self, column: &str, low: Value, high: Value) -> Self {
        self.conditions
            .push(Condition::Between(column.to_owned(), low, high));
        self
    }

    /// The conditions, in the order they were added.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// Checks the predicate against `schema`: every column exists and every constant is a
    /// non-null value of its column's type.
    pub(crate) fn bind(&self, schema: &Schema) -> Result<Bound> {
        let mut terms = Vec::with_capacity(self.conditions.len());
        for c in &self.conditions {
            let (name, low, high) = match c {
                Condition::Compare(name, cmp, v) => {
                    let (low, high) = match cmp {
                        Cmp::Eq => (Some((v, true)), Some((v, true))),
                        Cmp::Lt => (None, Some((v, false))),
                        Cmp::Le => (None, Some((v, true))),
                        Cmp::Gt => (Some((v, false)), None),
                        Cmp::Ge => (Some((v, true)), None),
                    };
                    (name, low, high)
                }
                Condition::Between(name, lo, hi) => (name, Some((lo, true)), Some((hi, true))),
            };
            let column = schema.index_of(name)?;
            let ty = schema.columns()[column].ty;
            for (v, _) in low.iter().chain(high.iter()) {
                if v.column_type() != Some(ty) {
                    return Err(Error::invalid(format!(
                        "predicate on '{name}' ({ty}) compares with {v}, which is not a {ty}"
                    )));
                }
            }
            terms.push(Term {
                column,
                low: low.map(|(v, inc)| (v.clone(), inc)),
                high: high.map(|(v, inc)| (v.clone(), inc)),
            });
        }
        Ok(Bound { terms })
    }
}

/// A predicate checked against a schema: column indexes and value ranges.
#[derive(Clone, Debug)]
pub(crate) struct Bound {
    pub(crate) terms: Vec<Term>,
}

/// `low <(=) column <(=) high`, either end open.
#[derive(Clone, Debug)]
pub(crate) struct Term {
    pub(crate) column: usize,
    /// The lower end and whether it is included.
    pub(crate) low: Option<(Value, bool)>,
    /// The upper end and whether it is included.
    pub(crate) high: Option<(Value, bool)>,
}

impl Term {
    /// True if `v` lies in the range.
    pub(crate) fn matches(&self, v: &Value) -> bool {
        self.matches_by(|bound| v.compare(bound))
    }

    /// True if row `row` of a decoded column lies in the range.
    #[inline]
    pub(crate) fn matches_at(&self, column: &ColumnData, row: usize) -> bool {
        !column.is_null(row) && self.matches_by(|bound| column.values.compare_at(row, bound))
    }

    /// The range test, given the order of the tested value against a bound. Every term
    /// has at least one end, and a null or NaN compares with nothing, so neither matches.
    #[inline]
    fn matches_by(&self, compare: impl Fn(&Value) -> Option<Ordering>) -> bool {
        let above = match &self.low {
            None => true,
            Some((low, inc)) => match compare(low) {
                Some(Ordering::Greater) => true,
                Some(Ordering::Equal) => *inc,
                _ => false,
            },
        };
        above
            && match &self.high {
                None => true,
                Some((high, inc)) => match compare(high) {
                    Some(Ordering::Less) => true,
                    Some(Ordering::Equal) => *inc,
                    _ => false,
                },
            }
    }

    /// False when no value between `min` and `max` (a zone map's bounds) can match.
    pub(crate) fn may_match_range(&self, min: &Value, max: &Value) -> bool {
        let below_low = self.low.as_ref().is_some_and(|(low, inc)| {
            matches!(
                (max.compare(low), inc),
                (Some(Ordering::Less), _) | (Some(Ordering::Equal), false)
            )
        });
        let above_high = self.high.as_ref().is_some_and(|(high, inc)| {
            matches!(
                (min.compare(high), inc),
                (Some(Ordering::Greater), _) | (Some(Ordering::Equal), false)
            )
        });
        !below_low && !above_high
    }
}

impl Bound {
    /// The columns the predicate reads.
    pub(crate) fn columns(&self) -> impl Iterator<Item = usize> + '_ {
        self.terms.iter().map(|t| t.column)
    }

    /// The range of primary keys the predicate allows, both ends included; None if none.
    pub(crate) fn pk_range(&self) -> Option<(u64, u64)> {
        let (mut lo, mut hi) = (0u64, u64::MAX);
        for t in self.terms.iter().filter(|t| t.column == 0) {
            if let Some((Value::U64(v), inc)) = &t.low {
                let v = if *inc { Some(*v) } else { v.checked_add(1) };
                lo = lo.max(v?);
            }
            if let Some((Value::U64(v), inc)) = &t.high {
                let v = if *inc { Some(*v) } else { v.checked_sub(1) };
                hi = hi.min(v?);
            }
        }
        (lo <= hi).then_some((lo, hi))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::schema::Column;
    use crate::table::value::ColumnType;

    fn schema() -> Schema {
        Schema::new(vec![
            Column::new("id", ColumnType::U64),
            Column::nullable("x", ColumnType::F64),
        ])
        .unwrap()
    }

    #[test]
    fn terms_match_like_sql() {
        let p = Predicate::all()
            .and("x", Cmp::Ge, Value::F64(0.0))
            .bind(&schema())
            .unwrap();
        let t = &p.terms[0];
        assert!(t.matches(&Value::F64(-0.0)));
        assert!(!t.matches(&Value::F64(f64::NAN)));
        assert!(!t.matches(&Value::Null));
        let between = Predicate::all()
            .and_between("x", Value::F64(1.0), Value::F64(2.0))
            .bind(&schema())
            .unwrap();
        let t = &between.terms[0];
        assert!(t.matches(&Value::F64(1.0)) && t.matches(&Value::F64(2.0)));
        assert!(!t.matches(&Value::F64(2.5)));
        assert!(!t.may_match_range(&Value::F64(2.5), &Value::F64(9.0)));
        assert!(t.may_match_range(&Value::F64(2.0), &Value::F64(9.0)));
        let lt = Predicate::all()
            .and("x", Cmp::Lt, Value::F64(1.0))
            .bind(&schema())
            .unwrap();
        assert!(!lt.terms[0].may_match_range(&Value::F64(1.0), &Value::F64(3.0)));
    }

    #[test]
    fn bad_predicates_are_errors() {
        let wrong = Predicate::all().and("x", Cmp::Eq, Value::U64(1));
        assert!(wrong.bind(&schema()).is_err());
        let null = Predicate::all().and("x", Cmp::Eq, Value::Null);
        assert!(null.bind(&schema()).is_err());
        let unknown = Predicate::all().and("y", Cmp::Eq, Value::F64(1.0));
        assert!(unknown.bind(&schema()).is_err());
    }

    #[test]
    fn primary_key_ranges_narrow_and_can_be_empty() {
        let p = Predicate::all()
            .and("id", Cmp::Gt, Value::U64(5))
            .and("id", Cmp::Le, Value::U64(9))
            .bind(&schema())
            .unwrap();
        assert_eq!(p.pk_range(), Some((6, 9)));
        let empty = Predicate::all()
            .and("id", Cmp::Lt, Value::U64(0))
            .bind(&schema())
            .unwrap();
        assert_eq!(empty.pk_range(), None);
    }
}
