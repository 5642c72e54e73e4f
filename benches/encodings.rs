//! Encode and decode speed of each column encoding on the events table's columns
//! (65,536 rows, one row group): MB/s of plain-form bytes.
//!
//! `cargo bench --bench encodings`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kvlab::bench::events::{Events, schema};
use kvlab::table::encoding::{Encoding, decode_chunk, encode_chunk};
use kvlab::table::{ColumnType, Value};

const ROWS: u64 = 65_536;

fn columns() -> Vec<(String, ColumnType, Vec<Value>)> {
    let events = Events::new();
    let records: Vec<Vec<Value>> = (0..ROWS).map(|i| events.event(i).record()).collect();
    schema()
        .columns()
        .iter()
        .enumerate()
        .map(|(c, column)| {
            let values = records.iter().map(|r| r[c].clone()).collect();
            (column.name.clone(), column.ty, values)
        })
        .collect()
}

fn plain_bytes(values: &[Value]) -> u64 {
    values
        .iter()
        .map(|v| match v {
            Value::String(s) => s.len() as u64,
            Value::Bool(_) => 1,
            _ => 8,
        })
        .sum()
}

fn encodings(c: &mut Criterion) {
    for (name, ty, values) in columns() {
        let mut group = c.benchmark_group(format!("encoding/{name}"));
        group.throughput(Throughput::Bytes(plain_bytes(&values)));
        group.sample_size(10);
        for encoding in Encoding::ALL {
            let Some(chunk) = encode_chunk(ty, &values, Some(encoding)) else {
                continue;
            };
            group.bench_with_input(
                BenchmarkId::new("encode", encoding.name()),
                &values,
                |b, v| b.iter(|| encode_chunk(ty, v, Some(encoding))),
            );
            group.bench_with_input(
                BenchmarkId::new("decode", encoding.name()),
                &chunk,
                |b, chunk| b.iter(|| decode_chunk(chunk, ty).map(|(d, _)| d.rows())),
            );
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().configure_from_args();
    targets = encodings
}
criterion_main!(benches);
