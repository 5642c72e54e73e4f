//! [`WriteBatch`]: an ordered list of puts and deletes applied all or nothing.

use std::fmt;

use super::limits;
use crate::error::{Error, Result};

/// One entry of a [`WriteBatch`], borrowed from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchOp<'a> {
    /// Set `key` to `value` (an empty value is a value, not a deletion).
    Put {
        /// The key.
        key: &'a [u8],
        /// The value.
        value: &'a [u8],
    },
    /// Remove `key`.
    Delete {
        /// The key.
        key: &'a [u8],
    },
}

impl<'a> BatchOp<'a> {
    /// The key the entry is for.
    pub fn key(&self) -> &'a [u8] {
        match self {
            BatchOp::Put { key, .. } | BatchOp::Delete { key } => key,
        }
    }

    /// The value of a put, `None` for a delete.
    pub fn value(&self) -> Option<&'a [u8]> {
        match self {
            BatchOp::Put { value, .. } => Some(value),
            BatchOp::Delete { .. } => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    /// Where the key starts in `WriteBatch::data`; the value follows it.
    start: usize,
    key_len: usize,
    /// `None` for a delete.
    value_len: Option<usize>,
}

/// Puts and deletes applied atomically, in order: for the same key, a later entry wins.
///
/// Entries are stored back to back in one buffer, so building a batch of a thousand small
/// entries costs a couple of allocations, not two thousand.
///
/// ```
/// use kvlab::WriteBatch;
/// let mut batch = WriteBatch::new();
/// batch.put(b"a", b"1").put(b"b", b"").delete(b"a");
/// assert_eq!(batch.len(), 3);
/// assert_eq!(batch.user_bytes(), 2 + 1 + 1);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    data: Vec<u8>,
    entries: Vec<Entry>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch with room for `entries` entries holding `bytes` bytes of keys and values.
    pub fn with_capacity(entries: usize, bytes: usize) -> Self {
        WriteBatch {
            data: Vec::with_capacity(bytes),
            entries: Vec::with_capacity(entries),
        }
    }

    /// Adds a put. Limits are checked when the batch is written, not here.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> &mut Self {
        let start = self.data.len();
        self.data.extend_from_slice(key);
        self.data.extend_from_slice(value);
        self.entries.push(Entry {
            start,
            key_len: key.len(),
            value_len: Some(value.len()),
        });
        self
    }

    /// Adds a delete.
    pub fn delete(&mut self, key: &[u8]) -> &mut Self {
        let start = self.data.len();
        self.data.extend_from_slice(key);
        self.entries.push(Entry {
            start,
            key_len: key.len(),
            value_len: None,
        });
        self
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the batch has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every entry, keeping the allocations.
    pub fn clear(&mut self) {
        self.data.clear();
        self.entries.clear();
    }

    /// The entries in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = BatchOp<'_>> + '_ {
        self.entries.iter().map(|e| {
            let key = &self.data[e.start..e.start + e.key_len];
            match e.value_len {
                Some(len) => {
                    let value_start = e.start + e.key_len;
                    BatchOp::Put {
                        key,
                        value: &self.data[value_start..value_start + len],
                    }
                }
                None => BatchOp::Delete { key },
            }
        })
    }

    /// The bytes the user asked to write: key + value of each put, key of each delete
    /// (the denominator of write amplification).
    pub fn user_bytes(&self) -> u64 {
        self.data.len() as u64
    }

    /// Checks every entry against the key and value limits. A batch with one bad entry is
    /// rejected whole.
    pub fn validate(&self) -> Result<()> {
        for (i, op) in self.iter().enumerate() {
            let problem = limits::key_problem(op.key())
                .or_else(|| op.value().and_then(limits::value_problem));
            if let Some(problem) = problem {
                return Err(Error::invalid(format!("batch entry {i}: {problem}")));
            }
        }
        Ok(())
    }
}

impl<'a> IntoIterator for &'a WriteBatch {
    type Item = BatchOp<'a>;
    type IntoIter = Box<dyn ExactSizeIterator<Item = BatchOp<'a>> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl fmt::Debug for WriteBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteBatch")
            .field("entries", &self.len())
            .field("user_bytes", &self.user_bytes())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_back_in_order() {
        let mut b = WriteBatch::with_capacity(4, 64);
        b.put(b"k1", b"v1").delete(b"k2").put(b"k3", b"");
        let ops: Vec<_> = b.iter().collect();
        assert_eq!(
            ops,
            vec![
                BatchOp::Put {
                    key: b"k1",
                    value: b"v1"
                },
                BatchOp::Delete { key: b"k2" },
                BatchOp::Put {
                    key: b"k3",
                    value: b""
                },
            ]
        );
        assert_eq!(
            ops[2].value(),
            Some(&b""[..]),
            "an empty value is still a value"
        );
        assert_eq!(ops[1].value(), None);
        b.clear();
        assert!(b.is_empty());
    }

    #[test]
    fn validation_names_the_bad_entry() {
        let mut b = WriteBatch::new();
        b.put(b"ok", b"v").delete(b"");
        let err = b.validate().unwrap_err().to_string();
        assert!(err.contains("entry 1"), "{err}");
    }
}
