//! The catalog: one entry per table, naming its id, its layout and its schema. Every
//! key of a table starts with its id; id 0 is the catalog's own, so the catalog sorts
//! before every table.
//!
//! ```text
//! key   := 00 00 00 00  "table/"  name
//! value := version:u8 (1)  id:u32 LE  layout:u8 (0 row, 1 column)  schema
//! ```

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::format::coding::Reader;
use crate::kv::{KeyRange, KvStore};

use super::Layout;
use super::schema::{MAX_NAME_LEN, Schema};

const PREFIX: &[u8] = b"\0\0\0\0table/";
const VERSION: u8 = 1;

/// What the catalog says of one table.
#[derive(Clone, Debug, PartialEq)]
pub struct TableEntry {
    /// The table's name.
    pub name: String,
    /// The first four bytes of each of its keys (big-endian).
    pub id: u32,
    /// Row or column.
    pub layout: Layout,
    /// Its columns.
    pub schema: Schema,
}

impl TableEntry {
    /// The path-like label errors about this table's data carry.
    pub(crate) fn place(&self, what: &str) -> PathBuf {
        PathBuf::from(format!("table '{}' {what}", self.name))
    }
}

fn key(name: &str) -> Vec<u8> {
    [PREFIX, name.as_bytes()].concat()
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(Error::invalid(format!(
            "a table name has 1 to {MAX_NAME_LEN} bytes"
        )));
    }
    Ok(())
}

fn decode(name: &str, value: &[u8]) -> Result<TableEntry> {
    let place = PathBuf::from(format!("catalog entry of table '{name}'"));
    let mut r = Reader::new(value, &place, 0);
    let version = r.u8()?;
    if version != VERSION {
        return Err(r.corrupt(format!(
            "catalog version {version}, this build reads {VERSION}"
        )));
    }
    let id = r.u32()?;
    let layout = match r.u8()? {
        0 => Layout::Row,
        1 => Layout::Column,
        b => return Err(r.corrupt(format!("layout {b}"))),
    };
    let schema = Schema::decode(&mut r)?;
    if id == 0 || r.remaining() != 0 {
        return Err(r.corrupt("bad table id or trailing bytes"));
    }
    Ok(TableEntry {
        name: name.to_owned(),
        id,
        layout,
        schema,
    })
}

/// The entry of table `name`, if the store holds one.
pub fn find(store: &dyn KvStore, name: &str) -> Result<Option<TableEntry>> {
    check_name(name)?;
    store.get(&key(name))?.map(|v| decode(name, &v)).transpose()
}

/// Every table in the store, by name.
pub fn list(store: &dyn KvStore) -> Result<Vec<TableEntry>> {
    let mut out = Vec::new();
    for pair in store.scan(KeyRange::prefix(PREFIX))? {
        let (k, v) = pair?;
        let name = std::str::from_utf8(&k[PREFIX.len()..])
            .map_err(|_| Error::corruption(Path::new("catalog"), 0, "a table name is not UTF-8"))?;
        out.push(decode(name, &v)?);
    }
    Ok(out)
}

/// Opens table `name` with `layout` and `schema`, recording it in the catalog if the store
/// has no such table. A table of that name with another layout or schema is an error.
pub(crate) fn open(
    store: &dyn KvStore,
    name: &str,
    layout: Layout,
    schema: &Schema,
) -> Result<TableEntry> {
    if let Some(entry) = find(store, name)? {
        if entry.layout != layout {
            return Err(Error::invalid(format!(
                "table '{name}' has the {} layout, not {}",
                entry.layout.name(),
                layout.name()
            )));
        }
        if &entry.schema != schema {
            return Err(Error::invalid(format!(
                "table '{name}' has the schema ({}), not ({})",
                entry.schema.describe(),
                schema.describe()
            )));
        }
        return Ok(entry);
    }
    let id = list(store)?.iter().map(|e| e.id).max().unwrap_or(0);
    let id = id
        .checked_add(1)
        .ok_or_else(|| Error::invalid("the store holds the most tables it can"))?;
    let mut value = vec![VERSION];
    value.extend_from_slice(&id.to_le_bytes());
    value.push(match layout {
        Layout::Row => 0,
        Layout::Column => 1,
    });
    schema.encode(&mut value);
    store.put(&key(name), &value)?;
    Ok(TableEntry {
        name: name.to_owned(),
        id,
        layout,
        schema: schema.clone(),
    })
}
