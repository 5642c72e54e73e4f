//! The WAL index: the committed images of the pages each WAL cycle changed, kept in
//! memory until a checkpoint has written them into the database file (the WAL holds only
//! deltas), with the older images a reader's snapshot still sees.

use std::collections::hash_map::Entry;
use std::sync::Arc;

use super::page::Page;
use crate::format::intmap::IntMap;

/// The committed images of the pages one WAL cycle changed, kept in memory until a
/// checkpoint has written them into the database file (the WAL holds only deltas).
pub(super) struct CycleIndex {
    /// The cycle; snapshots carry it.
    pub(super) generation: u64,
    /// Page number → its images in this cycle.
    pub(super) pages: IntMap<u64, Images>,
    /// Images held, all pages together.
    pub(super) held: usize,
}

/// The WAL index: the cycle being written, and the one before it while a checkpoint
/// copies it into the database file.
pub(super) struct WalIndex {
    pub(super) active: CycleIndex,
    pub(super) frozen: Option<CycleIndex>,
}

/// One committed image of a page: the page as the commit whose record starts at WAL
/// offset `at` left it.
pub(super) struct Image {
    pub(super) at: u64,
    pub(super) page: Arc<Page>,
}

/// The images of one page: the newest kept in line, since nearly every lookup wants it (a
/// reader of the newest snapshot, the writer), and older ones while a reader of an older
/// snapshot may want them.
pub(super) struct Images {
    pub(super) newest: Image,
    /// Older images, oldest first.
    pub(super) older: Vec<Image>,
}

impl CycleIndex {
    pub(super) fn new(generation: u64) -> CycleIndex {
        CycleIndex {
            generation,
            pages: IntMap::default(),
            held: 0,
        }
    }

    /// The newest image of page `n` committed by a record that starts before `end`.
    pub(super) fn find(&self, n: u64, end: u64) -> Option<&Arc<Page>> {
        let images = self.pages.get(&n)?;
        if images.newest.at < end {
            return Some(&images.newest.page);
        }
        let i = images.older.partition_point(|o| o.at < end);
        (i > 0).then(|| &images.older[i - 1].page)
    }

    /// Adds page `page`'s image as the commit whose record starts at `at` left it.
    pub(super) fn add(&mut self, at: u64, page: Arc<Page>) {
        self.held += 1;
        let image = Image { at, page };
        match self.pages.entry(image.page.number) {
            Entry::Vacant(e) => {
                e.insert(Images {
                    newest: image,
                    older: Vec::new(),
                });
            }
            Entry::Occupied(e) => {
                let images = e.into_mut();
                let old = std::mem::replace(&mut images.newest, image);
                images.older.push(old);
            }
        }
    }

    /// Moves to `unseen` the older images of page `n` that no snapshot of this cycle
    /// ending at one of `ends` (sorted) can see: each sees the newest image committed
    /// before its end, and the newest image is always kept. A reader that holds an old
    /// snapshot keeps one image of a page for itself, however many commits change it.
    pub(super) fn forget(&mut self, n: u64, ends: &[u64], unseen: &mut Vec<Arc<Page>>) {
        let Some(images) = self.pages.get_mut(&n) else {
            return;
        };
        if images.older.is_empty() {
            return;
        }
        let before = images.older.len();
        let newest_at = images.newest.at;
        let mut older = std::mem::take(&mut images.older).into_iter().peekable();
        while let Some(image) = older.next() {
            // Seen by a snapshot that ends after it and no later than the next image.
            let next = older.peek().map_or(newest_at, |o| o.at);
            let first_after = ends.partition_point(|&e| e <= image.at);
            if ends.get(first_after).is_some_and(|&e| e <= next) {
                images.older.push(image);
            } else {
                unseen.push(image.page);
            }
        }
        self.held -= before - images.older.len();
    }

    /// [`CycleIndex::forget`] for every page.
    pub(super) fn forget_all(&mut self, ends: &[u64], unseen: &mut Vec<Arc<Page>>) {
        let numbers: Vec<u64> = self.pages.keys().copied().collect();
        for n in numbers {
            self.forget(n, ends, unseen);
        }
    }

    /// Each page's newest image, by page number.
    pub(super) fn newest(&self) -> Vec<Arc<Page>> {
        let mut newest: Vec<Arc<Page>> = self
            .pages
            .values()
            .map(|images| Arc::clone(&images.newest.page))
            .collect();
        newest.sort_unstable_by_key(|p| p.number);
        newest
    }
}

impl WalIndex {
    /// The image of page `n` a snapshot of cycle `generation` up to `end` sees; `None` if
    /// it sees the database file's page. A snapshot of the cycle being written sees all
    /// of the frozen one under its own.
    pub(super) fn find(&self, generation: u64, end: u64, n: u64) -> Option<Arc<Page>> {
        if self.active.generation == generation {
            if let Some(page) = self.active.find(n, end) {
                return Some(Arc::clone(page));
            }
            return self.frozen.as_ref()?.find(n, u64::MAX).cloned();
        }
        let frozen = self
            .frozen
            .as_ref()
            .filter(|f| f.generation == generation)?;
        frozen.find(n, end).cloned()
    }
}
