//! Row and column tables against a naive oracle (a map of records filtered, projected and
//! aggregated the obvious way), over the in-memory engine, the B+tree and the LSM tree;
//! and the errors bad input gets.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use kvlab::table::{
    Aggregate, Cmp, Column, ColumnTable, ColumnType, Group, Layout, Predicate, Record, RowTable,
    Schema, Table, TableOptions, Value, open_table,
};
use kvlab::vfs::SimFs;
use kvlab::{EngineKind, Error, KvStore, Options};
use proptest::prelude::*;

const ENGINES: [EngineKind; 3] = [EngineKind::Mem, EngineKind::BTree, EngineKind::Lsm];

fn open_store(kind: EngineKind, fs: &Arc<SimFs>) -> Arc<dyn KvStore> {
    Arc::from(kvlab::open(kind, Path::new("/db"), Options::with_vfs(fs.clone())).unwrap())
}

// ---------------------------------------------------------------- generators

fn column_type() -> impl Strategy<Value = ColumnType> {
    prop::sample::select(ColumnType::ALL.to_vec())
}

fn schema() -> impl Strategy<Value = Schema> {
    prop::collection::vec((column_type(), any::<bool>()), 1..6).prop_map(|cols| {
        let mut columns = vec![Column::new("id", ColumnType::U64)];
        for (i, (ty, nullable)) in cols.into_iter().enumerate() {
            let name = format!("c{i}");
            columns.push(if nullable {
                Column::nullable(&name, ty)
            } else {
                Column::new(&name, ty)
            });
        }
        Schema::new(columns).unwrap()
    })
}

/// A value of `ty` from a small domain, so that equal values, runs and predicate hits
/// are common, with the extremes mixed in.
fn value_of(ty: ColumnType) -> BoxedStrategy<Value> {
    match ty {
        ColumnType::U64 => prop_oneof![
            4 => (0u64..20).prop_map(Value::U64),
            1 => Just(Value::U64(u64::MAX)),
        ]
        .boxed(),
        ColumnType::I64 => prop_oneof![
            4 => (-10i64..10).prop_map(Value::I64),
            1 => prop::sample::select(vec![i64::MIN, i64::MAX]).prop_map(Value::I64),
        ]
        .boxed(),
        ColumnType::F64 => prop::sample::select(vec![
            0.0,
            -0.0,
            1.5,
            -2.25,
            1e300,
            f64::NAN,
            f64::INFINITY,
            3.0,
        ])
        .prop_map(Value::F64)
        .boxed(),
        ColumnType::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        ColumnType::Bytes => prop::collection::vec(0u8..3, 0..4)
            .prop_map(Value::Bytes)
            .boxed(),
        ColumnType::String => prop::sample::select(vec!["", "de", "fr", "us", "zürich"])
            .prop_map(|s| Value::String(s.to_owned()))
            .boxed(),
    }
}

fn field(column: &Column) -> BoxedStrategy<Value> {
    if column.nullable {
        prop_oneof![1 => Just(Value::Null), 3 => value_of(column.ty)].boxed()
    } else {
        value_of(column.ty)
    }
}

fn record(schema: &Schema) -> BoxedStrategy<Record> {
    let fields: Vec<BoxedStrategy<Value>> = schema
        .columns()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i == 0 {
                (0u64..60).prop_map(Value::U64).boxed()
            } else {
                field(c)
            }
        })
        .collect();
    fields.boxed()
}

fn condition(schema: &Schema) -> BoxedStrategy<(String, Option<Cmp>, Value, Value)> {
    let columns = schema.columns().to_vec();
    (0..columns.len())
        .prop_flat_map(move |i| {
            let c = columns[i].clone();
            let value = if i == 0 {
                (0u64..60).prop_map(Value::U64).boxed()
            } else {
                value_of(c.ty)
            };
            let cmp = prop::option::of(prop::sample::select(vec![
                Cmp::Eq,
                Cmp::Lt,
                Cmp::Le,
                Cmp::Gt,
                Cmp::Ge,
            ]));
            (Just(c.name), cmp, value.clone(), value)
        })
        .boxed()
}

fn predicate(schema: &Schema) -> BoxedStrategy<Predicate> {
    prop::collection::vec(condition(schema), 0..3)
        .prop_map(|conditions| {
            conditions
                .into_iter()
                .fold(Predicate::all(), |p, (column, cmp, a, b)| match cmp {
                    Some(cmp) => p.and(&column, cmp, a),
                    None => p.and_between(&column, a, b),
                })
        })
        .boxed()
}

fn projection(schema: &Schema) -> BoxedStrategy<Option<Vec<String>>> {
    let names: Vec<String> = schema.columns().iter().map(|c| c.name.clone()).collect();
    prop::option::of(prop::sample::subsequence(names.clone(), 0..=names.len()).prop_shuffle())
        .boxed()
}

#[derive(Clone, Debug)]
enum Op {
    Insert(Vec<Record>),
    Delete(u64),
    Update(u64, Vec<(String, Value)>),
    Reopen,
    Flush,
    Get(u64, Option<Vec<String>>),
    Scan(Option<Vec<String>>, Predicate),
    Aggregate(Aggregate, Predicate),
    GroupBy(String, Option<String>, Predicate),
}

fn op(schema: &Schema) -> BoxedStrategy<Op> {
    let s = schema.clone();
    let names: Vec<String> = s.columns().iter().map(|c| c.name.clone()).collect();
    let others: Vec<Column> = s.columns()[1..].to_vec();
    let numeric: Vec<String> = s
        .columns()
        .iter()
        .filter(|c| matches!(c.ty, ColumnType::U64 | ColumnType::I64 | ColumnType::F64))
        .map(|c| c.name.clone())
        .collect();
    let change = {
        let others = others.clone();
        (0..others.len().max(1)).prop_flat_map(move |i| {
            let c = others[i.min(others.len().saturating_sub(1))].clone();
            (Just(c.name.clone()), field(&c))
        })
    };
    let aggregate = {
        let names = names.clone();
        let numeric = numeric.clone();
        (
            0..5usize,
            prop::sample::select(names),
            prop::sample::select(numeric),
        )
            .prop_map(|(k, any, num)| match k {
                0 => Aggregate::Count,
                1 => Aggregate::Sum(num),
                2 => Aggregate::Min(any),
                3 => Aggregate::Max(any),
                _ => Aggregate::Avg(num),
            })
    };
    let mut choices: Vec<(u32, BoxedStrategy<Op>)> = vec![
        (
            4,
            prop::collection::vec(record(&s), 1..12)
                .prop_map(Op::Insert)
                .boxed(),
        ),
        (2, (0u64..60).prop_map(Op::Delete).boxed()),
        (1, Just(Op::Reopen).boxed()),
        (1, Just(Op::Flush).boxed()),
        (
            2,
            ((0u64..60), projection(&s))
                .prop_map(|(k, p)| Op::Get(k, p))
                .boxed(),
        ),
        (
            2,
            (projection(&s), predicate(&s))
                .prop_map(|(p, q)| Op::Scan(p, q))
                .boxed(),
        ),
        (
            2,
            (
                prop::sample::select(names.clone()),
                prop::option::of(prop::sample::select(numeric.clone())),
                predicate(&s),
            )
                .prop_map(|(g, sum, p)| Op::GroupBy(g, sum, p))
                .boxed(),
        ),
        (
            2,
            (aggregate, predicate(&s))
                .prop_map(|(a, p)| Op::Aggregate(a, p))
                .boxed(),
        ),
    ];
    if !others.is_empty() {
        choices.push((
            2,
            ((0u64..60), prop::collection::vec(change, 1..3))
                .prop_map(|(k, c)| Op::Update(k, c))
                .boxed(),
        ));
    }
    prop::strategy::Union::new_weighted(choices).boxed()
}

// ---------------------------------------------------------------- the oracle

/// The records by primary key, and the obvious answer to every query.
struct Oracle {
    schema: Schema,
    records: BTreeMap<u64, Record>,
}

impl Oracle {
    fn index(&self, name: &str) -> usize {
        self.schema
            .columns()
            .iter()
            .position(|c| c.name == name)
            .unwrap()
    }

    fn matches(&self, record: &Record, predicate: &Predicate) -> bool {
        use kvlab::table::predicate::Condition;
        use std::cmp::Ordering::*;
        predicate.conditions().iter().all(|c| match c {
            Condition::Compare(name, cmp, v) => {
                let order = record[self.index(name)].compare(v);
                match cmp {
                    Cmp::Eq => order == Some(Equal),
                    Cmp::Lt => order == Some(Less),
                    Cmp::Le => matches!(order, Some(Less | Equal)),
                    Cmp::Gt => order == Some(Greater),
                    Cmp::Ge => matches!(order, Some(Greater | Equal)),
                }
            }
            Condition::Between(name, lo, hi) => {
                let x = &record[self.index(name)];
                matches!(x.compare(lo), Some(Greater | Equal))
                    && matches!(x.compare(hi), Some(Less | Equal))
            }
        })
    }

    fn project(&self, record: &Record, projection: &Option<Vec<String>>) -> Record {
        match projection {
            None => record.clone(),
            Some(names) => names
                .iter()
                .map(|n| record[self.index(n)].clone())
                .collect(),
        }
    }

    fn matching<'a>(&'a self, predicate: &'a Predicate) -> impl Iterator<Item = &'a Record> + 'a {
        self.records
            .values()
            .filter(move |r| self.matches(r, predicate))
    }

    fn sum(&self, values: &[&Value], ty: ColumnType) -> Result<Value, ()> {
        let present: Vec<&&Value> = values.iter().filter(|v| !v.is_null()).collect();
        if present.is_empty() {
            return Ok(Value::Null);
        }
        Ok(match ty {
            ColumnType::F64 => Value::F64(
                present
                    .iter()
                    .map(|v| match v {
                        Value::F64(x) => *x,
                        _ => 0.0,
                    })
                    .sum(),
            ),
            _ => {
                let total: i128 = present
                    .iter()
                    .map(|v| match v {
                        Value::U64(x) => i128::from(*x),
                        Value::I64(x) => i128::from(*x),
                        _ => 0,
                    })
                    .sum();
                if ty == ColumnType::U64 {
                    Value::U64(u64::try_from(total).map_err(|_| ())?)
                } else {
                    Value::I64(i64::try_from(total).map_err(|_| ())?)
                }
            }
        })
    }

    fn aggregate(&self, aggregate: &Aggregate, predicate: &Predicate) -> Result<Value, ()> {
        let rows: Vec<&Record> = self.matching(predicate).collect();
        let column = |name: &str| -> Vec<&Value> {
            let i = self.index(name);
            rows.iter().map(|r| &r[i]).collect()
        };
        let ty = |name: &str| self.schema.columns()[self.index(name)].ty;
        match aggregate {
            Aggregate::Count => Ok(Value::U64(rows.len() as u64)),
            Aggregate::Sum(c) => self.sum(&column(c), ty(c)),
            Aggregate::Avg(c) => {
                let values = column(c);
                let n = values.iter().filter(|v| !v.is_null()).count();
                Ok(match self.sum(&values, ColumnType::F64) {
                    _ if n == 0 => Value::Null,
                    _ if ty(c) == ColumnType::F64 => {
                        let Ok(Value::F64(s)) = self.sum(&values, ColumnType::F64) else {
                            unreachable!()
                        };
                        Value::F64(s / n as f64)
                    }
                    _ => {
                        let total: i128 = values
                            .iter()
                            .map(|v| match v {
                                Value::U64(x) => i128::from(*x),
                                Value::I64(x) => i128::from(*x),
                                _ => 0,
                            })
                            .sum();
                        Value::F64(total as f64 / n as f64)
                    }
                })
            }
            Aggregate::Min(c) | Aggregate::Max(c) => {
                let mut comparable: Vec<&Value> = column(c)
                    .into_iter()
                    .filter(|v| v.compare(v).is_some())
                    .collect();
                comparable.sort_by(|a, b| a.compare(b).unwrap());
                let pick = if matches!(aggregate, Aggregate::Min(_)) {
                    comparable.first()
                } else {
                    comparable.last()
                };
                Ok(pick.map_or(Value::Null, |v| (*v).clone()))
            }
        }
    }

    fn group_by(&self, column: &str, sum: &Option<String>, predicate: &Predicate) -> Vec<Group> {
        let g = self.index(column);
        let mut keys: Vec<Value> = Vec::new();
        for r in self.matching(predicate) {
            if !keys.iter().any(|k| k.total_cmp(&r[g]).is_eq()) {
                keys.push(r[g].clone());
            }
        }
        keys.sort_by(|a, b| a.total_cmp(b));
        keys.into_iter()
            .map(|key| {
                let rows: Vec<&Record> = self
                    .matching(predicate)
                    .filter(|r| r[g].total_cmp(&key).is_eq())
                    .collect();
                let sum = match sum {
                    None => Value::Null,
                    Some(c) => {
                        let i = self.index(c);
                        let values: Vec<&Value> = rows.iter().map(|r| &r[i]).collect();
                        self.sum(&values, self.schema.columns()[i].ty)
                            .unwrap_or(Value::Null)
                    }
                };
                Group {
                    key,
                    count: rows.len() as u64,
                    sum,
                }
            })
            .collect()
    }
}

/// Equal, except that f64 results of sums and averages may differ in their last bits
/// (the order of additions differs) and -0.0 may stand for 0.0 in MIN and MAX.
fn same_result(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::F64(x), Value::F64(y)) => {
            x.to_bits() == y.to_bits()
                || x == y
                || (x.is_nan() && y.is_nan())
                || (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
        }
        _ => a == b,
    }
}

// ---------------------------------------------------------------- the model test

fn strs(p: &Option<Vec<String>>) -> Option<Vec<&str>> {
    p.as_ref().map(|v| v.iter().map(String::as_str).collect())
}

fn run_model(
    kind: EngineKind,
    layout: Layout,
    schema: &Schema,
    options: &TableOptions,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let fs = Arc::new(SimFs::new());
    let mut store = open_store(kind, &fs);
    let mut table = open_table(store.clone(), "t", layout, schema, options).unwrap();
    let mut oracle = Oracle {
        schema: schema.clone(),
        records: BTreeMap::new(),
    };
    for (step, op) in ops.iter().enumerate() {
        let at = format!("{kind} {} step {step} {op:?}", layout.name());
        match op {
            Op::Insert(records) => {
                let mut seen = std::collections::HashSet::new();
                let fresh = records.iter().all(|r| {
                    let Value::U64(pk) = r[0] else { unreachable!() };
                    seen.insert(pk) && !oracle.records.contains_key(&pk)
                });
                let got = table.insert(records);
                prop_assert_eq!(got.is_ok(), fresh, "{}: {:?}", at, got);
                if fresh {
                    for r in records {
                        let Value::U64(pk) = r[0] else { unreachable!() };
                        oracle.records.insert(pk, r.clone());
                    }
                }
            }
            Op::Delete(pk) => {
                let got = table.delete(*pk);
                prop_assert_eq!(got.is_ok(), oracle.records.remove(pk).is_some(), "{}", at);
            }
            Op::Update(pk, changes) => {
                let changes: Vec<(&str, Value)> = changes
                    .iter()
                    .map(|(c, v)| (c.as_str(), v.clone()))
                    .collect();
                let got = table.update(*pk, &changes);
                match oracle.records.get_mut(pk) {
                    None => prop_assert!(got.is_err(), "{}", at),
                    Some(r) => {
                        prop_assert!(got.is_ok(), "{}: {:?}", at, got);
                        for (c, v) in changes {
                            r[oracle
                                .schema
                                .columns()
                                .iter()
                                .position(|x| x.name == c)
                                .unwrap()] = v;
                        }
                    }
                }
            }
            Op::Reopen => {
                drop(table);
                if kind != EngineKind::Mem {
                    drop(store);
                    store = open_store(kind, &fs);
                }
                table = open_table(store.clone(), "t", layout, schema, options).unwrap();
            }
            Op::Flush => table.flush().unwrap(),
            Op::Get(pk, projection) => {
                let p = strs(projection);
                let got = table.get(*pk, p.as_deref()).unwrap();
                let want = oracle
                    .records
                    .get(pk)
                    .map(|r| oracle.project(r, projection));
                prop_assert_eq!(got, want, "{}", at);
            }
            Op::Scan(projection, predicate) => {
                let p = strs(projection);
                let got = table.scan(p.as_deref(), predicate).unwrap();
                let want: Vec<Record> = oracle
                    .matching(predicate)
                    .map(|r| oracle.project(r, projection))
                    .collect();
                prop_assert_eq!(got, want, "{}", at);
            }
            Op::Aggregate(aggregate, predicate) => {
                let got = table.aggregate(aggregate, predicate);
                let want = oracle.aggregate(aggregate, predicate);
                match (&got, &want) {
                    (Ok(g), Ok(w)) => prop_assert!(same_result(g, w), "{}: {:?} vs {:?}", at, g, w),
                    (Err(_), Err(())) => {}
                    _ => prop_assert!(false, "{}: {:?} vs {:?}", at, got, want),
                }
            }
            Op::GroupBy(column, sum, predicate) => {
                let got = table.group_by(column, sum.as_deref(), predicate);
                let want = oracle.group_by(column, sum, predicate);
                // An integer sum that overflows makes the whole query an error.
                let Ok(got) = got else {
                    continue;
                };
                prop_assert_eq!(got.len(), want.len(), "{}", at);
                for (g, w) in got.iter().zip(&want) {
                    prop_assert!(
                        g.key == w.key && g.count == w.count && same_result(&g.sum, &w.sum),
                        "{}: {:?} vs {:?}",
                        at,
                        g,
                        w
                    );
                }
            }
        }
    }
    Ok(())
}

fn case() -> impl Strategy<Value = (Schema, usize, f64, Vec<Op>)> {
    schema().prop_flat_map(|s| {
        let ops = prop::collection::vec(op(&s), 1..40);
        (
            Just(s),
            2usize..9,
            prop::sample::select(vec![0.2, 0.5, 1.0]),
            ops,
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn tables_answer_like_the_oracle_on_every_engine((schema, rows, share, ops) in case()) {
        let options = TableOptions { row_group_rows: rows, rewrite_deleted_share: share };
        for kind in ENGINES {
            for layout in Layout::ALL {
                run_model(kind, layout, &schema, &options, &ops)?;
            }
        }
    }
}

// ---------------------------------------------------------------- bad input

fn events_schema() -> Schema {
    Schema::new(vec![
        Column::new("id", ColumnType::U64),
        Column::new("amount", ColumnType::F64),
        Column::nullable("country", ColumnType::String),
    ])
    .unwrap()
}

fn event(id: u64) -> Record {
    vec![
        Value::U64(id),
        Value::F64(id as f64 / 2.0),
        Value::String(["de", "fr"][id as usize % 2].into()),
    ]
}

fn both_layouts(store: &Arc<dyn KvStore>) -> Vec<Box<dyn Table>> {
    let options = TableOptions {
        row_group_rows: 4,
        ..TableOptions::default()
    };
    vec![
        Box::new(RowTable::open(store.clone(), "rows", &events_schema()).unwrap()),
        Box::new(ColumnTable::open(store.clone(), "cols", &events_schema(), &options).unwrap()),
    ]
}

fn is_invalid(r: kvlab::Result<impl std::fmt::Debug>, says: &str) {
    match r {
        Err(Error::InvalidArgument(m)) => assert!(m.contains(says), "'{m}' should say '{says}'"),
        other => panic!("expected an invalid argument saying '{says}', got {other:?}"),
    }
}

#[test]
fn bad_records_predicates_and_keys_are_clear_errors() {
    let fs = Arc::new(SimFs::new());
    let store = open_store(EngineKind::Lsm, &fs);
    for t in both_layouts(&store) {
        t.insert(&(0..10).map(event).collect::<Vec<_>>()).unwrap();
        is_invalid(
            t.insert(&[vec![Value::U64(99), Value::U64(1), Value::Null]]),
            "holds f64",
        );
        is_invalid(t.insert(&[vec![Value::U64(99)]]), "a record of 1 values");
        is_invalid(t.insert(&[event(3)]), "already holds primary key 3");
        is_invalid(t.insert(&[event(50), event(50)]), "appears twice");
        is_invalid(t.delete(77), "no primary key 77");
        is_invalid(
            t.update(77, &[("amount", Value::F64(1.0))]),
            "no primary key 77",
        );
        is_invalid(t.update(3, &[("id", Value::U64(4))]), "cannot be updated");
        is_invalid(t.update(3, &[("amount", Value::Null)]), "not nullable");
        is_invalid(t.get(3, Some(&["nope"])), "no column named 'nope'");
        let wrong_type = Predicate::all().and("amount", Cmp::Gt, Value::I64(1));
        is_invalid(t.scan(None, &wrong_type), "not a f64");
        let unknown = Predicate::all().and("nope", Cmp::Gt, Value::I64(1));
        is_invalid(
            t.aggregate(&Aggregate::Count, &unknown),
            "no column named 'nope'",
        );
        is_invalid(
            t.aggregate(&Aggregate::Sum("country".into()), &Predicate::all()),
            "numeric",
        );
        // Nothing a refused call did is visible.
        assert_eq!(
            t.aggregate(&Aggregate::Count, &Predicate::all()).unwrap(),
            Value::U64(10)
        );
        assert!(t.get(50, None).unwrap().is_none());
    }
}

#[test]
fn a_store_holding_another_schema_or_layout_is_an_error() {
    let fs = Arc::new(SimFs::new());
    let store = open_store(EngineKind::BTree, &fs);
    drop(both_layouts(&store));
    let other = Schema::new(vec![Column::new("id", ColumnType::U64)]).unwrap();
    is_invalid(
        RowTable::open(store.clone(), "rows", &other).map(|_| ()),
        "has the schema",
    );
    let options = TableOptions::default();
    is_invalid(
        ColumnTable::open(store.clone(), "rows", &events_schema(), &options).map(|_| ()),
        "has the row layout",
    );
    let bad = TableOptions {
        row_group_rows: 0,
        ..TableOptions::default()
    };
    is_invalid(
        ColumnTable::open(store, "x", &events_schema(), &bad).map(|_| ()),
        "row_group_rows",
    );
}

#[test]
fn a_corrupted_chunk_is_corruption_naming_the_chunk() {
    let fs = Arc::new(SimFs::new());
    let store = open_store(EngineKind::Lsm, &fs);
    let options = TableOptions {
        row_group_rows: 4,
        ..TableOptions::default()
    };
    let table = ColumnTable::open(store.clone(), "cols", &events_schema(), &options).unwrap();
    table
        .insert(&(0..8).map(event).collect::<Vec<_>>())
        .unwrap();
    // Flip a byte of the amount chunk of row group 1, through the store.
    let key: Vec<u8> = [
        &1u32.to_be_bytes()[..],
        b"c",
        &1u16.to_be_bytes(),
        &1u32.to_be_bytes(),
    ]
    .concat();
    let mut chunk = store.get(&key).unwrap().expect("the chunk exists").to_vec();
    chunk[2] ^= 1;
    store.put(&key, &chunk).unwrap();
    let err = table
        .aggregate(&Aggregate::Sum("amount".into()), &Predicate::all())
        .unwrap_err();
    assert!(matches!(err, Error::Corruption { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("column 'amount' in row group 1"),
        "{message}"
    );
    // Row group 0 still answers.
    let first = Predicate::all().and("id", Cmp::Lt, Value::U64(4));
    let sum = table
        .aggregate(&Aggregate::Sum("amount".into()), &first)
        .unwrap();
    assert_eq!(sum, Value::F64(0.0 + 0.5 + 1.0 + 1.5));
}

// ---------------------------------------------------------------- crashes

/// Power fails at a random call while a table takes inserts, deletes and updates (row
/// groups of five rows, so crashes land in seals and rewrites too). After recovery the
/// table holds every acknowledged change, and the change in flight wholly or not at all.
#[test]
fn a_crash_keeps_every_acknowledged_change_and_no_part_of_the_one_in_flight() {
    use rand::{RngExt, SeedableRng};
    let options = TableOptions {
        row_group_rows: 5,
        rewrite_deleted_share: 0.4,
    };
    for kind in [EngineKind::BTree, EngineKind::Lsm] {
        for layout in Layout::ALL {
            for seed in 0..24u64 {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
                let fs = Arc::new(SimFs::new());
                let store = open_store(kind, &fs);
                let table =
                    open_table(store.clone(), "t", layout, &events_schema(), &options).unwrap();
                fs.crash_after(rng.random_range(20..600));
                let mut acked: BTreeMap<u64, Record> = BTreeMap::new();
                let mut in_flight: Option<BTreeMap<u64, Record>> = None;
                let mut next = 0u64;
                for _ in 0..200 {
                    let mut after = acked.clone();
                    let result = match rng.random_range(0..4) {
                        0 if !acked.is_empty() => {
                            let pk = *acked.keys().nth(rng.random_range(0..acked.len())).unwrap();
                            after.remove(&pk);
                            table.delete(pk)
                        }
                        1 if !acked.is_empty() => {
                            let pk = *acked.keys().nth(rng.random_range(0..acked.len())).unwrap();
                            let amount = Value::F64(rng.random_range(0..100) as f64);
                            after.get_mut(&pk).unwrap()[1] = amount.clone();
                            table.update(pk, &[("amount", amount)])
                        }
                        _ => {
                            let records: Vec<Record> = (0..rng.random_range(1..4))
                                .map(|i| event(next + i))
                                .collect();
                            next += records.len() as u64;
                            records.iter().for_each(|r| {
                                let Value::U64(pk) = r[0] else { unreachable!() };
                                after.insert(pk, r.clone());
                            });
                            table.insert(&records)
                        }
                    };
                    match result {
                        Ok(()) => acked = after,
                        Err(_) => {
                            in_flight = Some(after);
                            break;
                        }
                    }
                }
                drop(table);
                drop(store);
                fs.crash(seed);
                let store = open_store(kind, &fs);
                let table = open_table(store, "t", layout, &events_schema(), &options).unwrap();
                let got: Vec<Record> = table.scan(None, &Predicate::all()).unwrap();
                let want: Vec<Record> = acked.values().cloned().collect();
                let whole: Option<Vec<Record>> = in_flight.map(|m| m.values().cloned().collect());
                assert!(
                    got == want || Some(&got) == whole.as_ref(),
                    "{kind} {} seed {seed}: {} records after recovery, {} acknowledged",
                    layout.name(),
                    got.len(),
                    want.len()
                );
            }
        }
    }
}
