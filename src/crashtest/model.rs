//! The oracle of a crash run: what the store must show now, and which states a crash may
//! leave.
//!
//! Batches are acknowledged in order: with `Durability::Sync` each at its `write`, with
//! `Buffered` all of them at a `sync()` that returns. A crash may keep any prefix of the
//! batches issued since the last acknowledgement, whole batches only, and nothing else
//! (DESIGN §6). Whatever a recovery shows becomes the new durable state: a later crash may
//! not take it back.

use std::collections::BTreeMap;

use crate::WriteBatch;

/// Keys to values.
pub type State = BTreeMap<Vec<u8>, Vec<u8>>;

type Entries = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// Durable state, and the batches issued since it.
#[derive(Clone, Debug, Default)]
pub struct Model {
    durable: State,
    pending: Vec<Entries>,
    live: State,
}

fn apply(state: &mut State, batch: &Entries) {
    for (key, value) in batch {
        match value {
            Some(v) => state.insert(key.clone(), v.clone()),
            None => state.remove(key),
        };
    }
}

impl Model {
    /// What reads must see now: every issued batch applied.
    pub fn live(&self) -> &State {
        &self.live
    }

    /// Batches issued and not yet acknowledged.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// A batch was applied (and may or may not be durable yet).
    pub fn issue(&mut self, batch: &WriteBatch) {
        let entries: Entries = batch
            .iter()
            .map(|op| (op.key().to_vec(), op.value().map(<[u8]>::to_vec)))
            .collect();
        apply(&mut self.live, &entries);
        self.pending.push(entries);
    }

    /// Every batch issued so far is durable.
    pub fn acknowledge(&mut self) {
        self.acknowledge_first(self.pending.len());
    }

    /// The first `n` batches issued since the last acknowledgement are durable.
    pub fn acknowledge_first(&mut self, n: usize) {
        for batch in self.pending.drain(..n) {
            apply(&mut self.durable, &batch);
        }
    }

    /// Checks the state a recovery shows (`got`): the durable state plus a prefix of the
    /// pending batches. Returns how many pending batches it kept, and takes `got` as the
    /// new durable state.
    pub fn recovered(&mut self, got: State) -> Result<usize, String> {
        let mut state = self.durable.clone();
        let mut kept = None;
        if got == state {
            kept = Some(0);
        }
        for (i, batch) in self.pending.iter().enumerate() {
            if kept.is_some() {
                break;
            }
            apply(&mut state, batch);
            if got == state {
                kept = Some(i + 1);
            }
        }
        let Some(kept) = kept else {
            return Err(format!(
                "the recovered state is not the durable state plus a prefix of the {} batches \
                 issued since: against the durable state, {}",
                self.pending.len(),
                describe_difference(&got, &self.durable)
            ));
        };
        self.durable = got.clone();
        self.live = got;
        self.pending.clear();
        Ok(kept)
    }
}

/// The first few differences of `got` from `want`, for a finding's message.
pub fn describe_difference(got: &State, want: &State) -> String {
    let show = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .chars()
            .take(40)
            .collect::<String>()
    };
    let mut lines = Vec::new();
    for (k, v) in want {
        match got.get(k) {
            None => lines.push(format!("{} missing", show(k))),
            Some(g) if g != v => lines.push(format!("{} = {} not {}", show(k), show(g), show(v))),
            _ => {}
        }
    }
    for k in got.keys().filter(|k| !want.contains_key(*k)) {
        lines.push(format!("{} unexpected", show(k)));
    }
    if lines.is_empty() {
        return "no difference".into();
    }
    let more = lines.len().saturating_sub(6);
    lines.truncate(6);
    if more > 0 {
        lines.push(format!("and {more} more"));
    }
    lines.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, value: &str) -> WriteBatch {
        let mut b = WriteBatch::new();
        b.put(key.as_bytes(), value.as_bytes());
        b
    }

    #[test]
    fn a_recovery_may_keep_a_prefix_of_the_pending_batches_and_nothing_else() {
        let mut model = Model::default();
        model.issue(&put("a", "1"));
        model.acknowledge();
        model.issue(&put("b", "2"));
        model.issue(&put("a", "3"));
        let state = |pairs: &[(&str, &str)]| -> State {
            pairs
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect()
        };
        // The second pending batch without the first is no prefix.
        assert!(model.clone().recovered(state(&[("a", "3")])).is_err());
        // Losing an acknowledged batch is never allowed.
        assert!(model.clone().recovered(state(&[])).is_err());
        assert_eq!(model.clone().recovered(state(&[("a", "1")])), Ok(0));
        assert_eq!(
            model.recovered(state(&[("a", "1"), ("b", "2")])),
            Ok(1),
            "the first pending batch survived"
        );
        // What recovery showed is durable now: the lost batch cannot come back.
        assert!(
            model
                .clone()
                .recovered(state(&[("a", "3"), ("b", "2")]))
                .is_err()
        );
    }
}
