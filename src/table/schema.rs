//! [`Schema`]: named, typed columns, the first of them the primary key, and its stored
//! form in a table's catalog entry.
//!
//! ```text
//! schema := columns:varint  column*
//! column := type:u8  nullable:u8  name_len:varint  name[name_len]
//!           type: 0 u64, 1 i64, 2 f64, 3 bool, 4 bytes, 5 string
//! ```

use crate::error::{Error, Result};
use crate::format::coding::{Reader, put_varint};

use super::value::{ColumnType, Record, Value};

/// Most columns a schema may have.
pub const MAX_COLUMNS: usize = 1024;
/// Longest column name, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// One column of a schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// The column's name, unique within its schema.
    pub name: String,
    /// The type of its values.
    pub ty: ColumnType,
    /// Whether it may hold [`Value::Null`].
    pub nullable: bool,
}

impl Column {
    /// A column that may not hold nulls.
    pub fn new(name: &str, ty: ColumnType) -> Self {
        Column {
            name: name.to_owned(),
            ty,
            nullable: false,
        }
    }

    /// A column that may hold nulls.
    pub fn nullable(name: &str, ty: ColumnType) -> Self {
        Column {
            nullable: true,
            ..Column::new(name, ty)
        }
    }
}

/// The columns of a table. Column 0 is the primary key: a `u64` that is never null.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schema {
    columns: Vec<Column>,
}

impl Schema {
    /// Checks the columns: at least one, at most [`MAX_COLUMNS`], names non-empty, at most
    /// [`MAX_NAME_LEN`] bytes and unique, and column 0 a non-null `u64`.
    pub fn new(columns: Vec<Column>) -> Result<Schema> {
        let Some(pk) = columns.first() else {
            return Err(Error::invalid(
                "a schema needs at least the primary key column",
            ));
        };
        if pk.ty != ColumnType::U64 || pk.nullable {
            return Err(Error::invalid(format!(
                "the primary key column '{}' must be a non-null u64",
                pk.name
            )));
        }
        if columns.len() > MAX_COLUMNS {
            return Err(Error::invalid(format!(
                "{} columns; a schema has at most {MAX_COLUMNS}",
                columns.len()
            )));
        }
        for (i, c) in columns.iter().enumerate() {
            if c.name.is_empty() || c.name.len() > MAX_NAME_LEN {
                return Err(Error::invalid(format!(
                    "column {i}: a name has 1 to {MAX_NAME_LEN} bytes"
                )));
            }
            if columns[..i].iter().any(|d| d.name == c.name) {
                return Err(Error::invalid(format!("column '{}' appears twice", c.name)));
            }
        }
        Ok(Schema { columns })
    }

    /// The columns, the primary key first.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Never true: a schema has its primary key column.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The primary key column's name.
    pub fn primary_key(&self) -> &str {
        &self.columns[0].name
    }

    /// The index of the column named `name`, or an error naming it.
    pub fn index_of(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| Error::invalid(format!("no column named '{name}'")))
    }

    /// The column indexes of a projection; None means every column.
    pub fn projection(&self, names: Option<&[&str]>) -> Result<Vec<usize>> {
        match names {
            None => Ok((0..self.columns.len()).collect()),
            Some(names) => names.iter().map(|n| self.index_of(n)).collect(),
        }
    }

    /// Checks that `value` may stand in column `index`.
    pub(crate) fn check_value(&self, index: usize, value: &Value) -> Result<()> {
        let c = &self.columns[index];
        match value.column_type() {
            None if c.nullable => Ok(()),
            None => Err(Error::invalid(format!(
                "column '{}' is not nullable",
                c.name
            ))),
            Some(t) if t == c.ty => Ok(()),
            Some(t) => Err(Error::invalid(format!(
                "column '{}' holds {}, not {t}",
                c.name, c.ty
            ))),
        }
    }

    /// Checks that `record` has one value of the right type for every column, and returns
    /// its primary key.
    pub(crate) fn check_record(&self, record: &Record) -> Result<u64> {
        if record.len() != self.columns.len() {
            return Err(Error::invalid(format!(
                "a record of {} values for a schema of {} columns",
                record.len(),
                self.columns.len()
            )));
        }
        for (i, v) in record.iter().enumerate() {
            self.check_value(i, v)?;
        }
        match record[0] {
            Value::U64(pk) => Ok(pk),
            _ => unreachable!("column 0 was checked to be a non-null u64"),
        }
    }

    /// Appends the stored form.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, self.columns.len() as u64);
        for c in &self.columns {
            out.push(c.ty.tag());
            out.push(u8::from(c.nullable));
            put_varint(out, c.name.len() as u64);
            out.extend_from_slice(c.name.as_bytes());
        }
    }

    /// Reads the stored form.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Schema> {
        let n = r.len(MAX_COLUMNS)?;
        let mut columns = Vec::with_capacity(n);
        for _ in 0..n {
            let tag = r.u8()?;
            let ty = ColumnType::from_tag(tag)
                .ok_or_else(|| r.corrupt(format!("unknown column type {tag}")))?;
            let nullable = match r.u8()? {
                0 => false,
                1 => true,
                b => return Err(r.corrupt(format!("nullable byte {b}"))),
            };
            let len = r.len(MAX_NAME_LEN)?;
            let name = std::str::from_utf8(r.bytes(len)?)
                .map_err(|_| r.corrupt("column name is not UTF-8"))?
                .to_owned();
            columns.push(Column { name, ty, nullable });
        }
        Schema::new(columns).map_err(|e| r.corrupt(format!("stored schema: {e}")))
    }

    /// A one-line description, e.g. `id u64, note string null`.
    pub fn describe(&self) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                let null = if c.nullable { " null" } else { "" };
                format!("{} {}{null}", c.name, c.ty)
            })
            .collect();
        cols.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn schemas_are_checked() {
        assert!(Schema::new(vec![]).is_err());
        assert!(Schema::new(vec![Column::new("id", ColumnType::I64)]).is_err());
        assert!(Schema::new(vec![Column::nullable("id", ColumnType::U64)]).is_err());
        let twice = vec![
            Column::new("id", ColumnType::U64),
            Column::new("id", ColumnType::Bool),
        ];
        assert!(Schema::new(twice).is_err());
        assert!(Schema::new(vec![Column::new("", ColumnType::U64)]).is_err());
    }

    #[test]
    fn the_stored_form_round_trips_and_records_are_checked() {
        let schema = Schema::new(vec![
            Column::new("id", ColumnType::U64),
            Column::nullable("name", ColumnType::String),
            Column::new("x", ColumnType::F64),
        ])
        .unwrap();
        let mut out = Vec::new();
        schema.encode(&mut out);
        let place = Path::new("table t");
        let decoded = Schema::decode(&mut Reader::new(&out, place, 0)).unwrap();
        assert_eq!(decoded, schema);
        let ok = vec![Value::U64(7), Value::Null, Value::F64(1.5)];
        assert_eq!(schema.check_record(&ok).unwrap(), 7);
        let wrong_type = vec![Value::U64(7), Value::Null, Value::I64(1)];
        assert!(schema.check_record(&wrong_type).is_err());
        let null_x = vec![Value::U64(7), Value::Null, Value::Null];
        assert!(schema.check_record(&null_x).is_err());
        assert!(schema.check_record(&vec![Value::U64(7)]).is_err());
        assert!(schema.index_of("nope").is_err());
    }
}
