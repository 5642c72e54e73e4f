//! Outside anchors for the row vs column matrix: the same events table as an Apache
//! Parquet file (feature `parquet`: the `parquet` crate's own writer and reader, its
//! default encodings and statistics, uncompressed and then snappy) and as a real SQL table
//! in SQLite (feature `sqlite`), answering the same queries, every answer checked.
//!
//! Parquet answers Q3–Q5 (it has no key index for point gets, nor updates); SQLite
//! answers Q1–Q5 in SQL, with an index on `ts`. Both do their own I/O, so their bytes
//! read are the process's read system calls (`rchar` of `/proc/self/io`), which count
//! what a read asked for as the engines' Vfs counters do.

#[cfg(any(feature = "parquet", feature = "sqlite"))]
use super::events::{self, Events};
#[cfg(any(feature = "parquet", feature = "sqlite"))]
use super::layouts::{Expected, LayoutConfig, QueryReport};
#[cfg(any(feature = "parquet", feature = "sqlite"))]
use super::runner::{BenchEnv, evict};
#[cfg(any(feature = "parquet", feature = "sqlite"))]
use crate::error::{Error, Result};

/// Runs every anchor this build has, each report handed to `each`.
#[cfg(any(feature = "parquet", feature = "sqlite"))]
pub fn run(
    config: &LayoutConfig,
    env: &BenchEnv,
    events: &Events,
    each: &mut dyn FnMut(QueryReport),
) -> Result<()> {
    let expected = Expected::of(config.rows, events);
    #[cfg(feature = "parquet")]
    for compression in [parquet_anchor::Codec::None, parquet_anchor::Codec::Snappy] {
        parquet_anchor::run(config, env, events, &expected, compression, each)?;
    }
    #[cfg(feature = "sqlite")]
    sql_anchor::run(config, env, events, &expected, each)?;
    Ok(())
}

/// Nothing to run: this build has neither anchor.
#[cfg(not(any(feature = "parquet", feature = "sqlite")))]
pub fn run(
    _config: &super::layouts::LayoutConfig,
    _env: &super::runner::BenchEnv,
    _events: &super::events::Events,
    _each: &mut dyn FnMut(super::layouts::QueryReport),
) -> crate::error::Result<()> {
    Ok(())
}

#[cfg(any(feature = "parquet", feature = "sqlite"))]
fn fresh_file_dir(env: &BenchEnv, name: &str) -> Result<std::path::PathBuf> {
    let dir = env.dir.join(name);
    if dir.exists() {
        let ours = std::fs::read_dir(&dir)
            .map_err(|e| Error::io("list", &dir, e))?
            .filter_map(|e| e.ok())
            .all(|e| e.file_name().to_string_lossy().starts_with("events."));
        if !ours {
            return Err(Error::NotAStore {
                dir,
                detail: "the benchmark would replace its events file, but it holds other files \
                         (left as it is; choose another --dir)"
                    .into(),
            });
        }
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io("remove", &dir, e))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    Ok(dir)
}

#[cfg(any(feature = "parquet", feature = "sqlite"))]
#[allow(clippy::too_many_arguments)]
fn report(
    engine: &str,
    layout: &'static str,
    query: &'static str,
    what: &'static str,
    cache: &'static str,
    ops: u64,
    rows: u64,
    secs: f64,
    read: u64,
    written: u64,
    disk_usage: u64,
    raw_bytes: u64,
) -> QueryReport {
    QueryReport {
        engine: engine.to_owned(),
        layout: layout.to_owned(),
        query: query.to_owned(),
        what: what.to_owned(),
        cache: cache.to_owned(),
        ops,
        rows,
        secs,
        rows_per_sec: rows as f64 / secs.max(1e-9),
        disk_bytes_read: read,
        disk_bytes_written: written,
        io_source: crate::engines::IoSource::Syscalls.name().to_owned(),
        chunk_bytes_read: 0,
        row_groups_read: 0,
        row_groups_skipped: 0,
        disk_usage,
        raw_bytes,
    }
}

#[cfg(feature = "parquet")]
mod parquet_anchor {
    use std::fs::File;
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Instant;

    use parquet::basic::Compression;
    use parquet::column::reader::ColumnReader;
    use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
    use parquet::file::metadata::RowGroupMetaData;
    use parquet::file::properties::WriterProperties;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::file::statistics::Statistics;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    use super::*;
    use crate::table::Value;

    const SCHEMA: &str = "message events {
        REQUIRED INT64 id (INTEGER(64, false));
        REQUIRED INT64 ts (INTEGER(64, false));
        REQUIRED INT64 user_id (INTEGER(64, false));
        REQUIRED BINARY country (STRING);
        REQUIRED BINARY device (STRING);
        REQUIRED DOUBLE amount;
        REQUIRED BOOLEAN is_refund;
        REQUIRED BINARY note (STRING);
    }";
    const TS: usize = 1;
    const COUNTRY: usize = 3;
    const AMOUNT: usize = 5;

    #[derive(Clone, Copy)]
    pub(super) enum Codec {
        None,
        Snappy,
    }

    fn perr(e: parquet::errors::ParquetError) -> Error {
        Error::Peer {
            engine: "parquet",
            detail: e.to_string(),
        }
    }

    fn write(path: &Path, config: &LayoutConfig, events: &Events, codec: Codec) -> Result<f64> {
        let schema = Arc::new(parse_message_type(SCHEMA).map_err(perr)?);
        let props = WriterProperties::builder()
            .set_compression(match codec {
                Codec::None => Compression::UNCOMPRESSED,
                Codec::Snappy => Compression::SNAPPY,
            })
            .build();
        let file = File::create(path).map_err(|e| Error::io("create", path, e))?;
        let mut writer = SerializedFileWriter::new(file, schema, Arc::new(props)).map_err(perr)?;
        let mut secs = 0.0;
        let group = config.table.row_group_rows as u64;
        let mut start = 0;
        while start < config.rows {
            let end = (start + group).min(config.rows);
            let rows: Vec<events::Event> = (start..end).map(|i| events.event(i)).collect();
            let t = Instant::now();
            let mut rg = writer.next_row_group().map_err(perr)?;
            let mut column = 0;
            while let Some(mut col) = rg.next_column().map_err(perr)? {
                let ints = |f: fn(&events::Event) -> u64| -> Vec<i64> {
                    rows.iter().map(|e| f(e) as i64).collect()
                };
                let strings = |f: fn(&events::Event) -> &str| -> Vec<ByteArray> {
                    rows.iter().map(|e| ByteArray::from(f(e))).collect()
                };
                match column {
                    0 => col
                        .typed::<Int64Type>()
                        .write_batch(&ints(|e| e.id), None, None),
                    1 => col
                        .typed::<Int64Type>()
                        .write_batch(&ints(|e| e.ts), None, None),
                    2 => col
                        .typed::<Int64Type>()
                        .write_batch(&ints(|e| e.user_id), None, None),
                    3 => col.typed::<ByteArrayType>().write_batch(
                        &strings(|e| events::COUNTRIES[e.country]),
                        None,
                        None,
                    ),
                    4 => col.typed::<ByteArrayType>().write_batch(
                        &strings(|e| events::DEVICES[e.device].0),
                        None,
                        None,
                    ),
                    5 => {
                        let v: Vec<f64> = rows.iter().map(|e| e.amount()).collect();
                        col.typed::<DoubleType>().write_batch(&v, None, None)
                    }
                    6 => {
                        let v: Vec<bool> = rows.iter().map(|e| e.is_refund).collect();
                        col.typed::<BoolType>().write_batch(&v, None, None)
                    }
                    _ => {
                        col.typed::<ByteArrayType>()
                            .write_batch(&strings(|e| &e.note), None, None)
                    }
                }
                .map_err(perr)?;
                col.close().map_err(perr)?;
                column += 1;
            }
            rg.close().map_err(perr)?;
            secs += t.elapsed().as_secs_f64();
            start = end;
        }
        let t = Instant::now();
        let file = writer.into_inner().map_err(perr)?;
        file.sync_all().map_err(|e| Error::io("sync", path, e))?;
        Ok(secs + t.elapsed().as_secs_f64())
    }

    fn open(path: &Path) -> Result<SerializedFileReader<File>> {
        let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        SerializedFileReader::new(file).map_err(perr)
    }

    fn doubles(
        reader: &SerializedFileReader<File>,
        group: usize,
        column: usize,
    ) -> Result<Vec<f64>> {
        let rg = reader.get_row_group(group).map_err(perr)?;
        let rows = rg.metadata().num_rows() as usize;
        let mut values = Vec::with_capacity(rows);
        match rg.get_column_reader(column).map_err(perr)? {
            ColumnReader::DoubleColumnReader(mut r) => {
                r.read_records(rows, None, None, &mut values)
                    .map_err(perr)?;
            }
            _ => return Err(Error::invalid("not a double column")),
        }
        Ok(values)
    }

    fn longs(reader: &SerializedFileReader<File>, group: usize, column: usize) -> Result<Vec<i64>> {
        let rg = reader.get_row_group(group).map_err(perr)?;
        let rows = rg.metadata().num_rows() as usize;
        let mut values = Vec::with_capacity(rows);
        match rg.get_column_reader(column).map_err(perr)? {
            ColumnReader::Int64ColumnReader(mut r) => {
                r.read_records(rows, None, None, &mut values)
                    .map_err(perr)?;
            }
            _ => return Err(Error::invalid("not an int64 column")),
        }
        Ok(values)
    }

    fn byte_arrays(
        reader: &SerializedFileReader<File>,
        group: usize,
        column: usize,
    ) -> Result<Vec<ByteArray>> {
        let rg = reader.get_row_group(group).map_err(perr)?;
        let rows = rg.metadata().num_rows() as usize;
        let mut values = Vec::with_capacity(rows);
        match rg.get_column_reader(column).map_err(perr)? {
            ColumnReader::ByteArrayColumnReader(mut r) => {
                r.read_records(rows, None, None, &mut values)
                    .map_err(perr)?;
            }
            _ => return Err(Error::invalid("not a byte array column")),
        }
        Ok(values)
    }

    /// Whether the ts statistics of `meta` rule the range out.
    fn skips(meta: &RowGroupMetaData, lo: u64, hi: u64) -> bool {
        match meta.column(TS).statistics() {
            Some(Statistics::Int64(s)) => match (s.min_opt(), s.max_opt()) {
                (Some(&min), Some(&max)) => (max as u64) < lo || (min as u64) > hi,
                _ => false,
            },
            _ => false,
        }
    }

    pub(super) fn run(
        config: &LayoutConfig,
        env: &BenchEnv,
        events: &Events,
        expected: &Expected,
        codec: Codec,
        each: &mut dyn FnMut(QueryReport),
    ) -> Result<()> {
        let name = match codec {
            Codec::None => "parquet",
            Codec::Snappy => "parquet-snappy",
        };
        let dir = fresh_file_dir(env, name)?;
        let path = dir.join("events.parquet");
        let secs = write(&path, config, events, codec)?;
        let size = std::fs::metadata(&path)
            .map_err(|e| Error::io("stat", &path, e))?
            .len();
        let raw = expected.raw_bytes;
        let n = config.rows;
        each(report(
            name,
            "column",
            "Q6",
            "load in batches, then flush and settle",
            "-",
            1,
            n,
            secs,
            0,
            size,
            size,
            raw,
        ));
        let (lo, hi) = expected.range;
        for query in ["Q3", "Q4", "Q5"] {
            for cache in ["cold", "warm"] {
                if cache == "cold" {
                    evict(env, &dir)?;
                }
                let before = crate::vfs::os_io()?;
                let t = Instant::now();
                let reader = open(&path)?;
                let groups = reader.metadata().num_row_groups();
                let (what, rows) = match query {
                    "Q3" => {
                        let mut sum = 0.0;
                        for g in 0..groups {
                            sum += doubles(&reader, g, AMOUNT)?.iter().sum::<f64>();
                        }
                        let want = expected.total_cents();
                        super::super::layouts::check_sum(
                            "parquet SUM(amount)",
                            &Value::F64(sum),
                            want,
                            n,
                        )?;
                        ("SUM(amount)", n)
                    }
                    "Q4" => {
                        let mut sum = 0.0;
                        for g in 0..groups {
                            if skips(reader.metadata().row_group(g), lo, hi) {
                                continue;
                            }
                            let ts = longs(&reader, g, TS)?;
                            let amount = doubles(&reader, g, AMOUNT)?;
                            sum += ts
                                .iter()
                                .zip(&amount)
                                .filter(|(t, _)| (lo..=hi).contains(&(**t as u64)))
                                .map(|(_, a)| a)
                                .sum::<f64>();
                        }
                        let rows = expected.ts_in_range.len() as u64;
                        super::super::layouts::check_sum(
                            "parquet SUM WHERE ts",
                            &Value::F64(sum),
                            expected.range_cents(),
                            rows,
                        )?;
                        ("SUM(amount) WHERE ts in a 1% range", rows)
                    }
                    _ => {
                        let mut by: std::collections::BTreeMap<Vec<u8>, (u64, f64)> =
                            Default::default();
                        for g in 0..groups {
                            let country = byte_arrays(&reader, g, COUNTRY)?;
                            let amount = doubles(&reader, g, AMOUNT)?;
                            for (c, a) in country.iter().zip(&amount) {
                                let e = by.entry(c.data().to_vec()).or_default();
                                e.0 += 1;
                                e.1 += a;
                            }
                        }
                        let want = expected.groups();
                        let same = by.len() == want.len()
                            && by.iter().zip(&want).all(
                                |((k, (count, sum)), &(country, c, cents))| {
                                    k.as_slice() == events::COUNTRIES[country].as_bytes()
                                        && *count == c
                                        && super::super::layouts::close_to(
                                            &Value::F64(*sum),
                                            cents,
                                            c,
                                        )
                                },
                            );
                        if !same {
                            return Err(Error::invalid("parquet GROUP BY gave a wrong answer"));
                        }
                        ("COUNT(*), SUM(amount) GROUP BY country", n)
                    }
                };
                let secs = t.elapsed().as_secs_f64();
                let bytes = crate::vfs::os_io()?.rchar - before.rchar;
                each(report(
                    name, "column", query, what, cache, 1, rows, secs, bytes, 0, size, raw,
                ));
            }
        }
        if !env.keep_stores {
            let _ = std::fs::remove_dir_all(&dir);
        }
        Ok(())
    }
}

#[cfg(feature = "sqlite")]
mod sql_anchor {
    use std::path::Path;
    use std::time::Instant;

    use rusqlite::{Connection, params};

    use super::*;
    use crate::table::Value;

    fn serr(e: rusqlite::Error) -> Error {
        Error::Peer {
            engine: "sqlite",
            detail: e.to_string(),
        }
    }

    fn open(path: &Path, env: &BenchEnv) -> Result<Connection> {
        let conn = Connection::open(path).map_err(serr)?;
        let synchronous = match env.options.durability {
            crate::kv::Durability::Sync => "FULL",
            crate::kv::Durability::Buffered => "NORMAL",
        };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous};"
        ))
        .map_err(serr)?;
        Ok(conn)
    }

    fn size(dir: &Path) -> u64 {
        std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    pub(super) fn run(
        config: &LayoutConfig,
        env: &BenchEnv,
        events: &Events,
        expected: &Expected,
        each: &mut dyn FnMut(QueryReport),
    ) -> Result<()> {
        const NAME: &str = "sqlite-sql";
        let dir = fresh_file_dir(env, NAME)?;
        let path = dir.join("events.db");
        let raw = expected.raw_bytes;
        let n = config.rows;
        let mut conn = open(&path, env)?;
        conn.execute_batch(
            "CREATE TABLE events(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,
                 user_id INTEGER NOT NULL, country TEXT NOT NULL, device TEXT NOT NULL,
                 amount REAL NOT NULL, is_refund INTEGER NOT NULL, note TEXT NOT NULL);
             CREATE INDEX events_ts ON events(ts);",
        )
        .map_err(serr)?;
        let io = crate::vfs::os_io()?;
        let mut secs = 0.0;
        let mut start = 0;
        let mut batches = 0;
        while start < n {
            let end = (start + config.load_batch as u64).min(n);
            let rows: Vec<events::Event> = (start..end).map(|i| events.event(i)).collect();
            let t = Instant::now();
            let tx = conn.transaction().map_err(serr)?;
            {
                let mut insert = tx
                    .prepare_cached("INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
                    .map_err(serr)?;
                for e in &rows {
                    insert
                        .execute(params![
                            e.id as i64,
                            e.ts as i64,
                            e.user_id as i64,
                            events::COUNTRIES[e.country],
                            events::DEVICES[e.device].0,
                            e.amount(),
                            e.is_refund,
                            e.note
                        ])
                        .map_err(serr)?;
                }
            }
            tx.commit().map_err(serr)?;
            secs += t.elapsed().as_secs_f64();
            batches += 1;
            start = end;
        }
        let t = Instant::now();
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(serr)?;
        secs += t.elapsed().as_secs_f64();
        let written = crate::vfs::os_io()?.wchar - io.wchar;
        each(report(
            NAME,
            "row",
            "Q6",
            "load in batches, then flush and settle",
            "-",
            batches,
            n,
            secs,
            0,
            written,
            size(&dir),
            raw,
        ));
        let keys = events::random_rows(n, config.point_gets, 1);
        let (lo, hi) = expected.range;
        for query in ["Q1", "Q2", "Q3", "Q4", "Q5"] {
            for cache in ["cold", "warm"] {
                if cache == "cold" {
                    drop(conn);
                    evict(env, &dir)?;
                    conn = open(&path, env)?;
                }
                let before = crate::vfs::os_io()?;
                let t = Instant::now();
                let (what, ops, rows) = match query {
                    "Q1" => {
                        let mut get = conn
                            .prepare_cached("SELECT ts, user_id, country, device, amount, is_refund, note FROM events WHERE id = ?1")
                            .map_err(serr)?;
                        for &k in &keys {
                            let e = events.event(k);
                            let ok = get
                                .query_row([k as i64], |r| {
                                    Ok(r.get::<_, i64>(0)? as u64 == e.ts
                                        && r.get::<_, i64>(1)? as u64 == e.user_id
                                        && r.get::<_, String>(2)? == events::COUNTRIES[e.country]
                                        && r.get::<_, String>(3)? == events::DEVICES[e.device].0
                                        && r.get::<_, f64>(4)? == e.amount()
                                        && r.get::<_, bool>(5)? == e.is_refund
                                        && r.get::<_, String>(6)? == e.note)
                                })
                                .map_err(serr)?;
                            if !ok {
                                return Err(Error::invalid(format!("sqlite: record {k} is wrong")));
                            }
                        }
                        (
                            "point get of a whole record",
                            keys.len() as u64,
                            keys.len() as u64,
                        )
                    }
                    "Q2" => {
                        let mut get = conn
                            .prepare_cached("SELECT amount FROM events WHERE id = ?1")
                            .map_err(serr)?;
                        for &k in &keys {
                            let amount: f64 =
                                get.query_row([k as i64], |r| r.get(0)).map_err(serr)?;
                            if amount != events.event(k).amount() {
                                return Err(Error::invalid(format!(
                                    "sqlite: amount of {k} is wrong"
                                )));
                            }
                        }
                        (
                            "point get of one column",
                            keys.len() as u64,
                            keys.len() as u64,
                        )
                    }
                    "Q3" => {
                        let sum: f64 = conn
                            .query_row("SELECT SUM(amount) FROM events", [], |r| r.get(0))
                            .map_err(serr)?;
                        super::super::layouts::check_sum(
                            "sqlite SUM(amount)",
                            &Value::F64(sum),
                            expected.total_cents(),
                            n,
                        )?;
                        ("SUM(amount)", 1, n)
                    }
                    "Q4" => {
                        let sum: f64 = conn
                            .query_row(
                                "SELECT TOTAL(amount) FROM events WHERE ts BETWEEN ?1 AND ?2",
                                [lo as i64, hi as i64],
                                |r| r.get(0),
                            )
                            .map_err(serr)?;
                        let rows = expected.ts_in_range.len() as u64;
                        super::super::layouts::check_sum(
                            "sqlite SUM WHERE ts",
                            &Value::F64(sum),
                            expected.range_cents(),
                            rows,
                        )?;
                        ("SUM(amount) WHERE ts in a 1% range", 1, rows)
                    }
                    _ => {
                        let mut stmt = conn
                            .prepare_cached("SELECT country, COUNT(*), SUM(amount) FROM events GROUP BY country ORDER BY country")
                            .map_err(serr)?;
                        let got: Vec<(String, i64, f64)> = stmt
                            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                            .map_err(serr)?
                            .collect::<std::result::Result<_, _>>()
                            .map_err(serr)?;
                        let want = expected.groups();
                        let same = got.len() == want.len()
                            && got.iter().zip(&want).all(
                                |((k, count, sum), &(country, c, cents))| {
                                    k == events::COUNTRIES[country]
                                        && *count as u64 == c
                                        && super::super::layouts::close_to(
                                            &Value::F64(*sum),
                                            cents,
                                            c,
                                        )
                                },
                            );
                        if !same {
                            return Err(Error::invalid("sqlite GROUP BY gave a wrong answer"));
                        }
                        ("COUNT(*), SUM(amount) GROUP BY country", 1, n)
                    }
                };
                let secs = t.elapsed().as_secs_f64();
                let read = crate::vfs::os_io()?.rchar - before.rchar;
                each(report(
                    NAME,
                    "row",
                    query,
                    what,
                    cache,
                    ops,
                    rows,
                    secs,
                    read,
                    0,
                    size(&dir),
                    raw,
                ));
            }
        }
        drop(conn);
        if !env.keep_stores {
            let _ = std::fs::remove_dir_all(&dir);
        }
        Ok(())
    }
}
