//! The differential run (fuzz target `differential`): one plan's operations on `mem`,
//! `btree` and `lsm` side by side, with `Durability::Sync` and no crashes. Every answer of
//! every engine must equal the model's, so the engines agree with one another; a reopen
//! (of the engines that keep data) must change nothing.

use super::Finding;
use super::plan::{Op, Plan};
use super::under_test::{RunSummary, StoreUnderTest};
use crate::{Durability, EngineKind};

/// The engines compared.
pub const ENGINES: [EngineKind; 3] = [EngineKind::Mem, EngineKind::BTree, EngineKind::Lsm];

/// Runs `plan` on `mem`, `btree` and `lsm`. `Err` names the engine that answered
/// differently and how.
pub fn run_differential(plan: &Plan) -> Result<RunSummary, Finding> {
    let mut stores = Vec::with_capacity(ENGINES.len());
    for engine in ENGINES {
        let store = StoreUnderTest::start(engine, &plan.knobs, Durability::Sync)
            .map_err(|e| Finding::new(engine, format!("open of a new store: {e}")))?;
        stores.push(store);
    }
    for op in &plan.ops {
        let batch = stores[0].batch_of(op);
        for s in &mut stores {
            s.summary.ops += 1;
            let failed =
                |s: &StoreUnderTest, e: crate::Error| s.finding(format!("{op:?} failed: {e}"));
            if let Some(batch) = &batch {
                s.store().write(batch).map_err(|e| failed(s, e))?;
                s.model.issue(batch);
                s.model.acknowledge();
                s.summary.acknowledged += 1;
                continue;
            }
            match op {
                Op::Get(key) => s.check_get(*key).map_err(|e| failed(s, e))??,
                Op::Scan(from, to) => s.check_scan(*from, *to).map_err(|e| failed(s, e))??,
                Op::Sync => s.store().sync().map_err(|e| failed(s, e))?,
                Op::Settle => s.store().settle().map_err(|e| failed(s, e))?,
                Op::Reopen if s.engine != EngineKind::Mem => {
                    s.store = None;
                    s.store = Some(s.open().map_err(|e| failed(s, e))?);
                    s.verify_recovered("a clean reopen")?;
                }
                _ => {}
            }
        }
    }
    Ok(stores
        .iter()
        .fold(RunSummary::default(), |total, s| total.plus(&s.summary)))
}
