//! [`KeyRange`]: the bounds of a scan.

use std::ops::Bound;

/// The keys a scan visits: from `start` to `end`, in byte order. An empty or inverted range
/// scans nothing (it is never an error).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyRange {
    /// The lower bound.
    pub start: Bound<Vec<u8>>,
    /// The upper bound.
    pub end: Bound<Vec<u8>>,
}

impl KeyRange {
    /// Every key.
    pub fn all() -> Self {
        KeyRange {
            start: Bound::Unbounded,
            end: Bound::Unbounded,
        }
    }

    /// From explicit bounds.
    pub fn new(start: Bound<Vec<u8>>, end: Bound<Vec<u8>>) -> Self {
        KeyRange { start, end }
    }

    /// `start <= key < end`.
    pub fn between(start: &[u8], end: &[u8]) -> Self {
        KeyRange::new(
            Bound::Included(start.to_vec()),
            Bound::Excluded(end.to_vec()),
        )
    }

    /// `key >= start`.
    pub fn from_key(start: &[u8]) -> Self {
        KeyRange::new(Bound::Included(start.to_vec()), Bound::Unbounded)
    }

    /// Every key that begins with `prefix`.
    pub fn prefix(prefix: &[u8]) -> Self {
        // The first key after all keys with the prefix: drop trailing 0xff bytes, then add
        // one to the last byte. A prefix of only 0xff bytes has no such key.
        let mut end = prefix.to_vec();
        while end.last() == Some(&0xff) {
            end.pop();
        }
        let end = match end.last_mut() {
            Some(last) => {
                *last += 1;
                Bound::Excluded(end)
            }
            None => Bound::Unbounded,
        };
        KeyRange::new(Bound::Included(prefix.to_vec()), end)
    }

    /// True when no key can lie in the range (empty or inverted bounds).
    pub fn is_empty(&self) -> bool {
        use Bound::*;
        match (&self.start, &self.end) {
            (Unbounded, _) | (_, Unbounded) => false,
            (Included(s), Included(e)) => s > e,
            (Included(s), Excluded(e))
            | (Excluded(s), Included(e))
            | (Excluded(s), Excluded(e)) => s >= e,
        }
    }

    /// Whether `key` is at or after the start bound.
    pub fn after_start(&self, key: &[u8]) -> bool {
        match &self.start {
            Bound::Unbounded => true,
            Bound::Included(s) => key >= s.as_slice(),
            Bound::Excluded(s) => key > s.as_slice(),
        }
    }

    /// Whether `key` is at or before the end bound: a scan stops at the first key that is not.
    pub fn before_end(&self, key: &[u8]) -> bool {
        match &self.end {
            Bound::Unbounded => true,
            Bound::Included(e) => key <= e.as_slice(),
            Bound::Excluded(e) => key < e.as_slice(),
        }
    }

    /// Whether `key` lies in the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.after_start(key) && self.before_end(key)
    }

    /// The bounds as borrowed slices, the form `BTreeMap::range` takes.
    pub fn as_slices(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (as_slice(&self.start), as_slice(&self.end))
    }
}

/// One bound as a borrowed slice.
pub(crate) fn as_slice(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl Default for KeyRange {
    fn default() -> Self {
        KeyRange::all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emptiness() {
        assert!(!KeyRange::all().is_empty());
        assert!(KeyRange::between(b"b", b"a").is_empty());
        assert!(KeyRange::between(b"a", b"a").is_empty());
        assert!(!KeyRange::between(b"a", b"b").is_empty());
        let r = KeyRange::new(
            Bound::Included(b"a".to_vec()),
            Bound::Included(b"a".to_vec()),
        );
        assert!(!r.is_empty());
        assert!(r.contains(b"a"));
        let r = KeyRange::new(
            Bound::Excluded(b"a".to_vec()),
            Bound::Excluded(b"a".to_vec()),
        );
        assert!(r.is_empty());
    }

    #[test]
    fn prefix_bounds() {
        let r = KeyRange::prefix(b"ab");
        assert!(r.contains(b"ab") && r.contains(b"ab\xff\xff") && !r.contains(b"ac"));
        assert!(!r.contains(b"aa\xff"));
        let r = KeyRange::prefix(b"a\xff");
        assert_eq!(r.end, Bound::Excluded(b"b".to_vec()));
        assert_eq!(KeyRange::prefix(b"\xff\xff").end, Bound::Unbounded);
    }
}
