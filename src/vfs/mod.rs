//! The file layer: every byte an engine reads or writes goes through [`Vfs`].
//!
//! Three things follow from routing *all* I/O through one trait:
//!
//! - **Counting.** [`Counted`] wraps any `Vfs` and counts bytes and calls read, written and
//!   synced, split by [`FileKind`]. Each open store wraps the `Vfs` it was given, so its
//!   [`Stats`](crate::Stats) count exactly its own I/O, whatever else shares the file system.
//! - **Crash testing.** [`SimFs`] keeps files in memory together with what of them is
//!   durable, and at [`SimFs::crash`] throws away, keeps or tears everything that was not,
//!   following the crash model of DESIGN §6. It can also make any call fail.
//! - **Real disks.** [`RealFs`] maps the calls onto `std::fs` and a few `libc` calls
//!   (`fdatasync`, `flock`, `posix_fadvise`).
//!
//! The contract every implementation keeps (and the crash model assumes):
//!
//! - Bytes written to a file are durable only after [`VfsFile::sync`] on it returns `Ok`.
//! - A create, rename or remove is durable only after [`Vfs::sync_dir`] of the directory
//!   holding the name returns `Ok`.
//! - After a failed `sync`, nothing written since the previous successful sync may be assumed
//!   durable, and a retried sync proves nothing ("fsyncgate").
//!
//! Paths are plain [`Path`]s. With `SimFs` they name places inside the simulated tree
//! (`/db`, `db/000001.log`); relative paths are taken from its root.

mod counted;
mod os;
mod real;
mod sim;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub use counted::{Counted, IoCounters, IoTotals};
pub use os::{CHECK_BYTES, CounterCheck, OsIo, check_counters, os_io};
pub use real::{LOCK_FILE, RealFs};
pub use sim::{CrashChoices, Fault, FaultError, FaultOp, SimFs};

/// What a file holds, so that I/O can be counted per kind of file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    /// A write-ahead log.
    Wal,
    /// An immutable sorted table (LSM SSTable).
    Table,
    /// A page file (B-tree database file).
    Page,
    /// A manifest, identity file or other small metadata file.
    Manifest,
    /// Anything else.
    Other,
}

impl FileKind {
    /// Every kind, in the order used by counters and reports.
    pub const ALL: [FileKind; 5] = [
        FileKind::Wal,
        FileKind::Table,
        FileKind::Page,
        FileKind::Manifest,
        FileKind::Other,
    ];

    /// A short lower-case name: "wal", "table", "page", "manifest", "other".
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Wal => "wal",
            FileKind::Table => "table",
            FileKind::Page => "page",
            FileKind::Manifest => "manifest",
            FileKind::Other => "other",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An open file. All calls take `&self`, so one handle can serve concurrent readers; writers
/// are serialised by the implementation where they must be (appends).
pub trait VfsFile: Send + Sync + fmt::Debug {
    /// The path the file was opened under.
    fn path(&self) -> &Path;

    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read, fewer only at
    /// the end of the file.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize>;

    /// Writes all of `data` at `offset`, growing the file (with zeros) if `offset` is past
    /// its end.
    fn write_at(&self, data: &[u8], offset: u64) -> Result<()>;

    /// Writes all of `data` at the end of the file and returns the offset it was written at.
    fn append(&self, data: &[u8]) -> Result<u64>;

    /// Makes every byte written so far durable (`fdatasync`).
    fn sync(&self) -> Result<()>;

    /// The current length in bytes.
    fn len(&self) -> Result<u64>;

    /// Shrinks (or grows with zeros) the file to `len` bytes.
    fn truncate(&self, len: u64) -> Result<()>;

    /// The file's current bytes as one read-only mapping, if this file system can map
    /// files (`None` otherwise). Only for files that no longer change: the mapping of a
    /// file that is written to or truncated afterwards is undefined.
    fn map(&self) -> Result<Option<bytes::Bytes>> {
        Ok(None)
    }

    /// A mapping of the file's first `len` bytes that follows the file as it grows: bytes
    /// appended after the call are seen through it, and it may reach past the file's end.
    /// Only bytes inside the file's length may be read, and only while nothing truncates
    /// the file below them. `None` where the file system cannot map so (a `SimFs`, whose
    /// "mappings" are copies).
    fn map_window(&self, _len: u64) -> Result<Option<bytes::Bytes>> {
        Ok(None)
    }

    /// Tells the counters that `bytes` were read from this file's mapping (reads through a
    /// mapping make no Vfs call, yet are reads of the file all the same).
    fn record_mapped_read(&self, _bytes: usize) {}

    /// Hints that `len` bytes at `offset` will be read soon, so the file system may start
    /// reading them now (a scan asks for the leaves ahead of it). Reads nothing itself, and
    /// changes nothing a reader sees; the default does nothing.
    fn prefetch(&self, _offset: u64, _len: u64) {}

    /// Hints that the `len` bytes written at `offset` will be synced soon, so the file
    /// system may start writing them to the device now, while the caller goes on working
    /// (a large WAL record is written in pieces as it is encoded). Makes nothing durable:
    /// only [`VfsFile::sync`] does, and reports any failure of the write. The default
    /// does nothing.
    fn start_writeback(&self, _offset: u64, _len: u64) {}

    /// True when the file holds no bytes.
    fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Reads exactly `buf.len()` bytes at `offset`. A file that ends first is corrupt: the
    /// caller asked for bytes that its own format says are there.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        let mut done = 0;
        while done < buf.len() {
            let n = self.read_at(&mut buf[done..], offset + done as u64)?;
            if n == 0 {
                return Err(Error::corruption(
                    self.path(),
                    offset,
                    format!(
                        "file ends after {} of the {} bytes expected here",
                        done,
                        buf.len()
                    ),
                ));
            }
            done += n;
        }
        Ok(())
    }

    /// Reads the whole file.
    fn read_all(&self) -> Result<Vec<u8>> {
        let len = usize::try_from(self.len()?)
            .map_err(|_| Error::invalid("file too large to read into memory"))?;
        let mut buf = vec![0; len];
        self.read_exact_at(&mut buf, 0)?;
        Ok(buf)
    }
}

/// A held lock on a store directory; dropping it releases the lock.
pub trait VfsLock: Send + Sync + fmt::Debug {}

/// A file system: the only way kvlab engines touch files.
pub trait Vfs: Send + Sync + fmt::Debug {
    /// Creates a new, empty file. Fails if the name exists. The name is durable only after
    /// `sync_dir` of its directory.
    fn create(&self, path: &Path, kind: FileKind) -> Result<Box<dyn VfsFile>>;

    /// Opens an existing file for reading and writing.
    fn open(&self, path: &Path, kind: FileKind) -> Result<Box<dyn VfsFile>>;

    /// Creates a directory and any missing parents; no error if it exists.
    fn create_dir_all(&self, path: &Path) -> Result<()>;

    /// Makes the names in directory `dir` (creates, renames, removes) durable (`fsync` of the
    /// directory).
    fn sync_dir(&self, dir: &Path) -> Result<()>;

    /// Atomically replaces `to` (if it exists) with `from`. Both must be in one directory.
    fn rename(&self, from: &Path, to: &Path) -> Result<()>;

    /// Removes a file.
    fn remove(&self, path: &Path) -> Result<()>;

    /// Removes a directory and everything below it. Like `remove`, durable only after
    /// `sync_dir` of the parent.
    fn remove_dir_all(&self, dir: &Path) -> Result<()>;

    /// The names of the entries in directory `dir`, sorted. A missing directory is an error.
    fn list(&self, dir: &Path) -> Result<Vec<String>>;

    /// Whether anything exists at `path`.
    fn exists(&self, path: &Path) -> Result<bool>;

    /// Whether `path` is a directory.
    fn is_dir(&self, path: &Path) -> Result<bool>;

    /// The length of the file at `path`.
    fn file_len(&self, path: &Path) -> Result<u64>;

    /// Takes the exclusive lock of store directory `dir`, or fails with
    /// [`Error::Locked`] when another open store holds it.
    fn lock(&self, dir: &Path) -> Result<Box<dyn VfsLock>>;

    /// Drops the operating system's cached pages of every file in `dir`, so that the next
    /// reads come from the device. A no-op where there is no such cache.
    fn evict_cache(&self, dir: &Path) -> Result<()>;

    /// True when this file system's paths are the operating system's own, so that code
    /// outside the Vfs (a production engine run as a peer) may open files under them.
    fn is_os_fs(&self) -> bool {
        false
    }
}

/// The total size in bytes of the files in `dir` and its subdirectories. A file removed
/// between the listing and its `stat` (an engine's background work deletes files while
/// this runs) counts as nothing.
pub fn dir_size(vfs: &dyn Vfs, dir: &Path) -> Result<u64> {
    let mut total = 0;
    for name in vfs.list(dir)? {
        let path = dir.join(&name);
        let size = if vfs.is_dir(&path)? {
            dir_size(vfs, &path)
        } else {
            vfs.file_len(&path)
        };
        total += match size {
            Err(e) if e.is_not_found() => 0,
            other => other?,
        };
    }
    Ok(total)
}

/// The directory that holds `path`, for `sync_dir` after creating or renaming it.
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Installs `bytes` as the file `path` atomically: write a temporary file, sync it, rename it
/// over `path`, sync the directory. After a crash `path` holds either the old or the new
/// contents, never a mix.
pub fn write_file_atomic(vfs: &dyn Vfs, path: &Path, kind: FileKind, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    if vfs.exists(&tmp)? {
        vfs.remove(&tmp)?;
    }
    let file = vfs.create(&tmp, kind)?;
    file.write_at(bytes, 0)?;
    file.sync()?;
    drop(file);
    vfs.rename(&tmp, path)?;
    vfs.sync_dir(&parent_dir(path))
}
