//! The open files of a store's tables, at most `max_open_files` of them, and which tables
//! wait to be deleted.
//!
//! A table keeps its index and filter in memory for its whole life, but needs its file only
//! to read data blocks. One descriptor per table, with no cap, made a store of many tables
//! run out of descriptors (`EMFILE`), refusing to open or failing a flush. So the tables'
//! handles live here: the least recently used is closed once the cap is reached, and a
//! table whose handle was closed opens its file again at its next read (LevelDB's table
//! cache does the same, with `max_open_files`).

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::Result;
use crate::format::intmap::IntMap;
use crate::vfs::{FileKind, Vfs, VfsFile};

/// The table handles of one store.
pub struct TableHandles {
    vfs: Arc<dyn Vfs>,
    capacity: usize,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    /// Table number → its handle and when it was last used.
    files: IntMap<u64, (Arc<dyn VfsFile>, u64)>,
    clock: u64,
    /// Files opened again after their handle was closed.
    reopens: u64,
    /// Replaced tables whose files are deleted once no reader holds them.
    replaced: HashSet<u64>,
}

impl std::fmt::Debug for TableHandles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableHandles")
            .field("capacity", &self.capacity)
            .field("open", &self.open.lock().files.len())
            .finish()
    }
}

/// The fewest handles kept open, whatever the limits say.
const MIN_OPEN: usize = 16;

impl TableHandles {
    /// At most `max_open_files` handles of tables opened through `vfs`, and never more
    /// than half of what the process may open (`RLIMIT_NOFILE`), which the logs, the
    /// tables a merge writes and the rest of the program share.
    pub fn new(vfs: Arc<dyn Vfs>, max_open_files: usize) -> Self {
        let allowed = descriptor_limit().map_or(usize::MAX, |limit| limit / 2);
        TableHandles {
            vfs,
            capacity: max_open_files.min(allowed).max(MIN_OPEN),
            open: Mutex::new(Open::default()),
        }
    }

    /// Handles without a cap, for a reader of one table (tests, `kvlab inspect`).
    pub fn unbounded(vfs: Arc<dyn Vfs>) -> Self {
        TableHandles {
            vfs,
            capacity: usize::MAX,
            open: Mutex::new(Open::default()),
        }
    }

    /// How many handles are kept open at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Handles open now, and files opened again since the store opened.
    pub fn counts(&self) -> (usize, u64) {
        let open = self.open.lock();
        (open.files.len(), open.reopens)
    }

    /// Keeps `file`, table `number`'s handle just opened.
    pub fn insert(&self, number: u64, file: Arc<dyn VfsFile>) {
        let mut open = self.open.lock();
        open.clock += 1;
        let now = open.clock;
        open.files.insert(number, (file, now));
        self.close_over_capacity(&mut open);
    }

    /// Table `number`'s handle, opening `path` again if it was closed.
    pub fn get(&self, number: u64, path: &Path) -> Result<Arc<dyn VfsFile>> {
        {
            let mut open = self.open.lock();
            open.clock += 1;
            let now = open.clock;
            if let Some((file, used)) = open.files.get_mut(&number) {
                *used = now;
                return Ok(Arc::clone(file));
            }
        }
        // Opened outside the lock: other tables' reads go on meanwhile.
        let file: Arc<dyn VfsFile> = Arc::from(self.vfs.open(path, FileKind::Table)?);
        let mut open = self.open.lock();
        open.reopens += 1;
        open.clock += 1;
        let now = open.clock;
        let kept = open
            .files
            .entry(number)
            .or_insert_with(|| (Arc::clone(&file), now));
        let file = Arc::clone(&kept.0);
        self.close_over_capacity(&mut open);
        Ok(file)
    }

    /// Notes that table `number` was replaced: its file goes when no reader holds it.
    pub fn mark_replaced(&self, number: u64) {
        self.open.lock().replaced.insert(number);
    }

    /// Replaced tables whose files are not deleted yet.
    pub fn replaced(&self) -> HashSet<u64> {
        self.open.lock().replaced.clone()
    }

    /// Closes table `number`'s handle (its file is being deleted).
    pub fn forget(&self, number: u64) {
        let mut open = self.open.lock();
        open.files.remove(&number);
        open.replaced.remove(&number);
    }

    /// Closes the least recently used handles until at most `capacity` are open. (A read
    /// in progress keeps its handle until it is done.)
    fn close_over_capacity(&self, open: &mut Open) {
        while open.files.len() > self.capacity {
            let oldest = open
                .files
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(&number, _)| number);
            match oldest {
                Some(number) => open.files.remove(&number),
                None => break,
            };
        }
    }
}

/// The process's soft limit on open files, if it has one.
fn descriptor_limit() -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass; no other memory is involved.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (rc == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::SimFs;

    #[test]
    fn the_least_recently_used_handle_closes_and_reopens_on_demand() {
        let fs: Arc<dyn Vfs> = Arc::new(SimFs::new());
        let path = |n: u64| std::path::PathBuf::from(format!("/t{n}"));
        let handles = TableHandles::new(Arc::clone(&fs), 1);
        assert_eq!(handles.capacity(), MIN_OPEN);
        for n in 0..20u64 {
            let file = fs.create(&path(n), FileKind::Table).unwrap();
            file.append(&n.to_le_bytes()).unwrap();
            handles.insert(n, Arc::from(file));
            // Table 0 stays in use, so it is never the oldest.
            handles.get(0, &path(0)).unwrap();
        }
        assert_eq!(handles.counts(), (MIN_OPEN, 0));
        // Tables 1 to 4 were closed; reading one opens it again.
        let file = handles.get(2, &path(2)).unwrap();
        let mut bytes = [0u8; 8];
        file.read_exact_at(&mut bytes, 0).unwrap();
        assert_eq!(u64::from_le_bytes(bytes), 2);
        assert_eq!(handles.counts(), (MIN_OPEN, 1));
        handles.get(0, &path(0)).unwrap();
        assert_eq!(handles.counts().1, 1, "table 0 stayed open");
        handles.forget(0);
        assert_eq!(handles.counts().0, MIN_OPEN - 1);
    }
}
