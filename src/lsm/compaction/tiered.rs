//! Tiered compaction (size-tiered, "universal"): every table is a sorted run in level 0.
//! When there are `l0_trigger` runs, the newest runs of similar size (each no larger than
//! the sum of the newer ones times `size_ratio`) are merged into one. Lower write
//! amplification, higher space and read amplification.

use std::sync::Arc;

use super::super::LsmOptions;
use super::super::version::{LEVELS, TableFile, Version};
use super::{Plan, Policy, key_range};

/// The tiered policy.
pub(crate) struct Tiered;

impl Policy for Tiered {
    fn pick(
        &self,
        version: &Version,
        opts: &LsmOptions,
        _pointers: &mut [Vec<u8>],
    ) -> Option<Plan> {
        pick_tiered(version, opts)
    }

    fn range_output(&self, _version: &Version, _opts: &LsmOptions, _level: usize) -> usize {
        0
    }

    fn drains_level0(&self) -> bool {
        false
    }
}

fn pick_tiered(version: &Version, opts: &LsmOptions) -> Option<Plan> {
    let runs = &version.levels[0];
    if runs.len() < opts.l0_trigger.max(2) {
        return None;
    }
    // Runs newest first by file number; gather newest runs while the next is not much
    // larger than what is gathered so far.
    let mut by_age: Vec<&Arc<TableFile>> = runs.iter().collect();
    by_age.sort_by_key(|t| std::cmp::Reverse(t.meta.number));
    let mut take = 1;
    let mut sum = by_age[0].meta.size;
    while take < by_age.len() && by_age[take].meta.size <= sum.saturating_mul(opts.size_ratio) {
        sum += by_age[take].meta.size;
        take += 1;
    }
    let take = take.max(opts.l0_trigger.max(2)).min(by_age.len());
    let inputs: Vec<Arc<TableFile>> = by_age[..take].iter().map(|&t| Arc::clone(t)).collect();
    // Deletions may go only if the merge takes every run and no deeper level holds its
    // keys: a store once compacted leveled keeps tables in levels 1 to 6 that the tiered
    // picker never merges, and a deletion dropped over them would bring their values back.
    let (lo, hi) = key_range(&inputs)?;
    let bottommost =
        take == by_age.len() && (1..LEVELS).all(|l| version.overlapping(l, &lo, &hi).is_empty());
    Some(Plan {
        inputs: inputs.into_iter().map(|t| (0, t)).collect(),
        output_level: 0,
        bottommost,
        memtable: None,
    })
}
