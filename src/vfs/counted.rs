//! I/O counting: a [`Vfs`] wrapper that counts every byte and call, split by [`FileKind`].
//!
//! Engines wrap the `Vfs` from their `Options` in a `Counted` when they open, so each store
//! counts only its own I/O. These counters are the engine's side of the amplification
//! figures (DESIGN §4); the device's counters are the outside view beside them.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::{FileKind, Vfs, VfsFile, VfsLock};
use crate::error::Result;

/// Totals of one kind of file (or of all of them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoTotals {
    /// Bytes passed to `write_at` and `append`.
    pub bytes_written: u64,
    /// Calls of `write_at` and `append`.
    pub writes: u64,
    /// Bytes returned by `read_at`.
    pub bytes_read: u64,
    /// Calls of `read_at`.
    pub reads: u64,
    /// Calls of `sync` (and, for [`FileKind::Other`], of `sync_dir`).
    pub syncs: u64,
}

impl IoTotals {
    /// Field-by-field sum.
    pub fn add(&mut self, other: &IoTotals) {
        self.bytes_written += other.bytes_written;
        self.writes += other.writes;
        self.bytes_read += other.bytes_read;
        self.reads += other.reads;
        self.syncs += other.syncs;
    }
}

#[derive(Debug, Default)]
struct KindCounters {
    bytes_written: AtomicU64,
    writes: AtomicU64,
    bytes_read: AtomicU64,
    reads: AtomicU64,
    syncs: AtomicU64,
}

impl KindCounters {
    fn snapshot(&self) -> IoTotals {
        IoTotals {
            bytes_written: self.bytes_written.load(Relaxed),
            writes: self.writes.load(Relaxed),
            bytes_read: self.bytes_read.load(Relaxed),
            reads: self.reads.load(Relaxed),
            syncs: self.syncs.load(Relaxed),
        }
    }
}

/// Live counters of a [`Counted`] file system, one set per [`FileKind`].
#[derive(Debug, Default)]
pub struct IoCounters {
    kinds: [KindCounters; FileKind::ALL.len()],
}

impl IoCounters {
    /// The totals for one kind of file.
    pub fn of(&self, kind: FileKind) -> IoTotals {
        self.kinds[kind.index()].snapshot()
    }

    /// The totals over all kinds.
    pub fn total(&self) -> IoTotals {
        let mut sum = IoTotals::default();
        for kind in FileKind::ALL {
            sum.add(&self.of(kind));
        }
        sum
    }

    fn kind(&self, kind: FileKind) -> &KindCounters {
        &self.kinds[kind.index()]
    }
}

/// A [`Vfs`] that counts what passes through it and forwards every call to an inner one.
#[derive(Debug)]
pub struct Counted {
    inner: Arc<dyn Vfs>,
    counters: Arc<IoCounters>,
}

impl Counted {
    /// Wraps `inner` with fresh counters.
    pub fn new(inner: Arc<dyn Vfs>) -> Self {
        Counted {
            inner,
            counters: Arc::new(IoCounters::default()),
        }
    }

    /// The counters, shared with every file opened through this wrapper.
    pub fn counters(&self) -> &IoCounters {
        &self.counters
    }

    /// The wrapped file system.
    pub fn inner(&self) -> &Arc<dyn Vfs> {
        &self.inner
    }

    fn wrap(&self, file: Box<dyn VfsFile>, kind: FileKind) -> Box<dyn VfsFile> {
        Box::new(CountedFile {
            inner: file,
            kind,
            counters: Arc::clone(&self.counters),
        })
    }
}

impl Vfs for Counted {
    fn create(&self, path: &Path, kind: FileKind) -> Result<Box<dyn VfsFile>> {
        Ok(self.wrap(self.inner.create(path, kind)?, kind))
    }

    fn open(&self, path: &Path, kind: FileKind) -> Result<Box<dyn VfsFile>> {
        Ok(self.wrap(self.inner.open(path, kind)?, kind))
    }

    fn create_dir_all(&self, path: &Path) -> Result<()> {
        self.inner.create_dir_all(path)
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        self.counters
            .kind(FileKind::Other)
            .syncs
            .fetch_add(1, Relaxed);
        self.inner.sync_dir(dir)
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        self.inner.rename(from, to)
    }

    fn remove(&self, path: &Path) -> Result<()> {
        self.inner.remove(path)
    }

    fn remove_dir_all(&self, dir: &Path) -> Result<()> {
        self.inner.remove_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> Result<Vec<String>> {
        self.inner.list(dir)
    }

    fn exists(&self, path: &Path) -> Result<bool> {
        self.inner.exists(path)
    }

    fn is_dir(&self, path: &Path) -> Result<bool> {
        self.inner.is_dir(path)
    }

    fn file_len(&self, path: &Path) -> Result<u64> {
        self.inner.file_len(path)
    }

    fn lock(&self, dir: &Path) -> Result<Box<dyn VfsLock>> {
        self.inner.lock(dir)
    }

    fn evict_cache(&self, dir: &Path) -> Result<()> {
        self.inner.evict_cache(dir)
    }

    fn is_os_fs(&self) -> bool {
        self.inner.is_os_fs()
    }
}

#[derive(Debug)]
struct CountedFile {
    inner: Box<dyn VfsFile>,
    kind: FileKind,
    counters: Arc<IoCounters>,
}

impl CountedFile {
    fn counters(&self) -> &KindCounters {
        self.counters.kind(self.kind)
    }

    fn count_write(&self, len: usize) {
        let c = self.counters();
        c.bytes_written.fetch_add(len as u64, Relaxed);
        c.writes.fetch_add(1, Relaxed);
    }
}

impl VfsFile for CountedFile {
    fn path(&self) -> &Path {
        self.inner.path()
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        let n = self.inner.read_at(buf, offset)?;
        let c = self.counters();
        c.bytes_read.fetch_add(n as u64, Relaxed);
        c.reads.fetch_add(1, Relaxed);
        Ok(n)
    }

    fn write_at(&self, data: &[u8], offset: u64) -> Result<()> {
        // Counted before the call: a write that fails half way may still have reached the
        // device, and the counters are an upper bound on what the engine asked for.
        self.count_write(data.len());
        self.inner.write_at(data, offset)
    }

    fn append(&self, data: &[u8]) -> Result<u64> {
        self.count_write(data.len());
        self.inner.append(data)
    }

    fn sync(&self) -> Result<()> {
        self.counters().syncs.fetch_add(1, Relaxed);
        self.inner.sync()
    }

    fn len(&self) -> Result<u64> {
        self.inner.len()
    }

    fn truncate(&self, len: u64) -> Result<()> {
        self.inner.truncate(len)
    }

    fn map(&self) -> Result<Option<bytes::Bytes>> {
        self.inner.map()
    }

    fn map_window(&self, len: u64) -> Result<Option<bytes::Bytes>> {
        self.inner.map_window(len)
    }

    fn prefetch(&self, offset: u64, len: u64) {
        // Counted when the bytes are really read.
        self.inner.prefetch(offset, len);
    }

    fn start_writeback(&self, offset: u64, len: u64) {
        // The bytes were counted when written.
        self.inner.start_writeback(offset, len);
    }

    fn record_mapped_read(&self, bytes: usize) {
        let c = self.counters();
        c.bytes_read.fetch_add(bytes as u64, Relaxed);
        c.reads.fetch_add(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::SimFs;

    #[test]
    fn counts_bytes_and_calls_by_kind() {
        let fs = Counted::new(Arc::new(SimFs::new()));
        fs.create_dir_all(Path::new("/d")).unwrap();
        let wal = fs.create(Path::new("/d/wal"), FileKind::Wal).unwrap();
        wal.append(b"hello").unwrap();
        wal.append(b"world!").unwrap();
        wal.sync().unwrap();
        let table = fs.create(Path::new("/d/t"), FileKind::Table).unwrap();
        table.write_at(&[7; 100], 0).unwrap();
        let mut buf = [0; 64];
        assert_eq!(table.read_at(&mut buf, 50).unwrap(), 50);
        fs.sync_dir(Path::new("/d")).unwrap();

        let w = fs.counters().of(FileKind::Wal);
        assert_eq!((w.bytes_written, w.writes, w.syncs), (11, 2, 1));
        let t = fs.counters().of(FileKind::Table);
        assert_eq!((t.bytes_written, t.bytes_read, t.reads), (100, 50, 1));
        let total = fs.counters().total();
        assert_eq!(total.bytes_written, 111);
        assert_eq!(total.syncs, 2, "file sync plus directory sync");
    }
}
