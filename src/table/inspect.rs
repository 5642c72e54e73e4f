//! `kvlab inspect --tables`: the tables a store holds, their schemas and, for the column
//! layout, each column's encodings, chunk sizes and zone maps.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use crate::error::Result;
use crate::kv::{KeyRange, KvStore};

use super::catalog;
use super::column::ColumnTable;
use super::{Layout, TableOptions};

/// Row groups listed one by one; past this many, only the totals.
const LISTED_GROUPS: usize = 4;

/// A description of every table in `store`.
pub fn describe(store: Arc<dyn KvStore>) -> Result<String> {
    let mut out = String::new();
    let tables = catalog::list(store.as_ref())?;
    if tables.is_empty() {
        out.push_str("no tables\n");
    }
    for entry in tables {
        let _ = writeln!(
            out,
            "table '{}' (id {}, {} layout): {}",
            entry.name,
            entry.id,
            entry.layout.name(),
            entry.schema.describe()
        );
        match entry.layout {
            Layout::Row => {
                let (mut records, mut bytes) = (0u64, 0u64);
                for pair in store.scan(KeyRange::prefix(&entry.id.to_be_bytes()))? {
                    let (k, v) = pair?;
                    records += 1;
                    bytes += (k.len() + v.len()) as u64;
                }
                let _ = writeln!(out, "  {records} records, {bytes} key and value bytes");
            }
            Layout::Column => {
                let table = ColumnTable::open(
                    store.clone(),
                    &entry.name,
                    &entry.schema,
                    &TableOptions::default(),
                )?;
                let groups = table.row_groups();
                let rows: u64 = groups.iter().map(|(_, m, _)| m.rows).sum();
                let deleted: u64 = groups.iter().map(|(_, _, d)| d).sum();
                let _ = writeln!(
                    out,
                    "  {} row groups of {rows} rows ({deleted} deleted); {} records in the open row group",
                    groups.len(),
                    table.tail_rows()
                );
                let _ = writeln!(
                    out,
                    "  {:<16} {:>12} {:>9}  encodings (chunks)",
                    "column", "bytes", "bytes/row"
                );
                for (c, column) in entry.schema.columns().iter().enumerate() {
                    let bytes: u64 = groups.iter().map(|(_, m, _)| m.columns[c].len).sum();
                    let mut encodings: BTreeMap<&str, usize> = BTreeMap::new();
                    for (_, m, _) in &groups {
                        *encodings.entry(m.columns[c].encoding.name()).or_default() += 1;
                    }
                    let list: Vec<String> = encodings
                        .iter()
                        .map(|(e, n)| format!("{e} ({n})"))
                        .collect();
                    let _ = writeln!(
                        out,
                        "  {:<16} {bytes:>12} {:>9.2}  {}",
                        column.name,
                        bytes as f64 / rows.max(1) as f64,
                        list.join(", ")
                    );
                }
                for (id, meta, deleted) in groups.iter().take(LISTED_GROUPS) {
                    let _ = writeln!(
                        out,
                        "  row group {id}: {} rows, {deleted} deleted, keys {}..={}",
                        meta.rows, meta.pk_min, meta.pk_max
                    );
                    for (column, chunk) in entry.schema.columns().iter().zip(&meta.columns) {
                        let bounds = chunk
                            .bounds
                            .as_ref()
                            .map_or("no bounds".to_string(), |(lo, hi)| format!("{lo} ..= {hi}"));
                        let _ = writeln!(
                            out,
                            "    {:<16} {:<10} {:>10} B  nulls {:<6} {bounds}",
                            column.name,
                            chunk.encoding.name(),
                            chunk.len,
                            chunk.nulls
                        );
                    }
                }
                if groups.len() > LISTED_GROUPS {
                    let _ = writeln!(out, "  ({} more row groups)", groups.len() - LISTED_GROUPS);
                }
            }
        }
    }
    Ok(out)
}
