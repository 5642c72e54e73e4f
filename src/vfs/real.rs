//! [`RealFs`]: the [`Vfs`] of a real disk, on `std::fs` and a few `libc` calls.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use super::{FileKind, Vfs, VfsFile, VfsLock, parent_dir};
use crate::error::{Error, Result};

/// The name of the lock file [`RealFs::lock`] creates in a store directory.
pub const LOCK_FILE: &str = "LOCK";

/// The operating system's file system.
///
/// `sync` is `fdatasync`; `sync_dir` is `fsync` of the directory; `lock` is an exclusive
/// `flock` on `DIR/LOCK`, which also keeps two handles in one process apart (each open
/// creates its own open file description); `evict_cache` writes back and then drops the
/// page cache of every file with `posix_fadvise(POSIX_FADV_DONTNEED)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealFs;

impl RealFs {
    /// The real file system.
    pub fn new() -> Self {
        RealFs
    }
}

fn check_same_dir(from: &Path, to: &Path) -> Result<()> {
    if parent_dir(from) != parent_dir(to) {
        return Err(Error::invalid(format!(
            "rename across directories ({} -> {}) is not atomic and not supported",
            from.display(),
            to.display()
        )));
    }
    Ok(())
}

fn open_file(path: &Path, create: bool, kind: FileKind) -> Result<RealFile> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create_new(create);
    let op = if create { "create" } else { "open" };
    let reads_often = matches!(kind, FileKind::Table | FileKind::Page);
    let file = if reads_often {
        // A read need not update the file's access time (1.5% of a random get went to
        // deciding whether to). Only the file's owner may ask; anyone else opens it plainly.
        use std::os::unix::fs::OpenOptionsExt;
        let mut quiet = options.clone();
        quiet.custom_flags(libc::O_NOATIME);
        match quiet.open(path) {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => options.open(path),
            other => other,
        }
    } else {
        options.open(path)
    }
    .map_err(|e| Error::io(op, path, e))?;
    if reads_often {
        // Tables and B+tree pages are read a block or page at a time: kernel readahead
        // would only add device reads nobody asked for (measured: 8.7 KB read from the
        // device per 4 KB cold get of a table without this).
        // SAFETY: fadvise on a descriptor we own; offset 0, length 0 = the whole file.
        unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_RANDOM) };
    }
    let len = file
        .metadata()
        .map_err(|e| Error::io("stat", path, e))?
        .len();
    Ok(RealFile {
        file,
        path: path.to_path_buf(),
        len: Mutex::new(len),
    })
}

impl Vfs for RealFs {
    fn create(&self, path: &Path, kind: FileKind) -> Result<Box<dyn VfsFile>> {
        Ok(Box::new(open_file(path, true, kind)?))
    }

    fn open(&self, path: &Path, kind: FileKind) -> Result<Box<dyn VfsFile>> {
        Ok(Box::new(open_file(path, false, kind)?))
    }

    fn create_dir_all(&self, path: &Path) -> Result<()> {
        std::fs::create_dir_all(path).map_err(|e| Error::io("create_dir", path, e))
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        let handle = File::open(dir).map_err(|e| Error::io("open_dir", dir, e))?;
        handle.sync_all().map_err(|e| Error::io("sync_dir", dir, e))
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        check_same_dir(from, to)?;
        std::fs::rename(from, to).map_err(|e| Error::io("rename", from, e))
    }

    fn remove(&self, path: &Path) -> Result<()> {
        std::fs::remove_file(path).map_err(|e| Error::io("remove", path, e))
    }

    fn remove_dir_all(&self, dir: &Path) -> Result<()> {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io("remove_dir", dir, e))
    }

    fn list(&self, dir: &Path) -> Result<Vec<String>> {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io("list", dir, e))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list", dir, e))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn exists(&self, path: &Path) -> Result<bool> {
        path.try_exists().map_err(|e| Error::io("stat", path, e))
    }

    fn is_dir(&self, path: &Path) -> Result<bool> {
        match std::fs::metadata(path) {
            Ok(m) => Ok(m.is_dir()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io("stat", path, e)),
        }
    }

    fn file_len(&self, path: &Path) -> Result<u64> {
        Ok(std::fs::metadata(path)
            .map_err(|e| Error::io("stat", path, e))?
            .len())
    }

    fn lock(&self, dir: &Path) -> Result<Box<dyn VfsLock>> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io("lock", &path, e))?;
        // SAFETY: flock on a descriptor we own; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            return Err(if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                Error::Locked { path }
            } else {
                Error::io("lock", &path, err)
            });
        }
        Ok(Box::new(RealLock { _file: file }))
    }

    fn evict_cache(&self, dir: &Path) -> Result<()> {
        for name in self.list(dir)? {
            let path = dir.join(name);
            if self.is_dir(&path)? {
                self.evict_cache(&path)?;
                continue;
            }
            let file = File::open(&path).map_err(|e| Error::io("open", &path, e))?;
            // Dirty pages are not dropped by DONTNEED: write them back first.
            file.sync_data().map_err(|e| Error::io("sync", &path, e))?;
            // SAFETY: fadvise on a descriptor we own; offset 0, length 0 = the whole file.
            let rc =
                unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
            if rc != 0 {
                return Err(Error::io(
                    "fadvise",
                    &path,
                    std::io::Error::from_raw_os_error(rc),
                ));
            }
        }
        Ok(())
    }

    fn is_os_fs(&self) -> bool {
        true
    }
}

#[derive(Debug)]
struct RealLock {
    // Closing the descriptor releases the flock.
    _file: File,
}

impl VfsLock for RealLock {}

#[derive(Debug)]
struct RealFile {
    file: File,
    path: PathBuf,
    // The length as this handle has made it; appends go here. Engines keep one writing
    // handle per file, so no other handle moves it.
    len: Mutex<u64>,
}

impl VfsFile for RealFile {
    fn path(&self) -> &Path {
        &self.path
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        let mut done = 0;
        // pread may return short for reasons other than end of file; loop until it says 0.
        while done < buf.len() {
            match self.file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io("read", &self.path, e)),
            }
        }
        Ok(done)
    }

    fn write_at(&self, data: &[u8], offset: u64) -> Result<()> {
        let mut len = self.len.lock();
        self.file
            .write_all_at(data, offset)
            .map_err(|e| Error::io("write", &self.path, e))?;
        *len = (*len).max(offset + data.len() as u64);
        Ok(())
    }

    fn append(&self, data: &[u8]) -> Result<u64> {
        let mut len = self.len.lock();
        let offset = *len;
        self.file
            .write_all_at(data, offset)
            .map_err(|e| Error::io("append", &self.path, e))?;
        *len = offset + data.len() as u64;
        Ok(offset)
    }

    fn sync(&self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| Error::io("sync", &self.path, e))
    }

    fn len(&self) -> Result<u64> {
        Ok(*self.len.lock())
    }

    fn map(&self) -> Result<Option<bytes::Bytes>> {
        // The file's length now, which another handle may have changed.
        let len = self
            .file
            .metadata()
            .map_err(|e| Error::io("stat", &self.path, e))?
            .len();
        if len == 0 {
            return Ok(Some(bytes::Bytes::new()));
        }
        // SAFETY: a mapping is only read where nothing writes: LSM tables are finished
        // before they are mapped and only ever unlinked (which keeps the pages); the
        // B+tree maps its WAL only while recovery reads it (before anything appends), and
        // its database file whose pages are overwritten only when no reader can hold
        // them (see btree::pager).
        // No mapped file is truncated below what a reader holds.
        let map = unsafe { memmap2::Mmap::map(&self.file) }
            .map_err(|e| Error::io("mmap", &self.path, e))?;
        // Point reads touch one block; readahead around it would only add device reads.
        let _ = map.advise(memmap2::Advice::Random);
        Ok(Some(bytes::Bytes::from_owner(map)))
    }

    fn map_window(&self, len: u64) -> Result<Option<bytes::Bytes>> {
        let len = usize::try_from(len.max(1))
            .map_err(|_| Error::io("mmap", &self.path, std::io::ErrorKind::InvalidInput.into()))?;
        // SAFETY: a shared mapping past the end of the file is allowed; the caller reads
        // only bytes inside the file (the B+tree's database file: pages below the length
        // it last saw, which only grows, and none while a checkpoint overwrites it; see
        // btree::pager).
        let map = unsafe { memmap2::MmapOptions::new().len(len).map(&self.file) }
            .map_err(|e| Error::io("mmap", &self.path, e))?;
        let _ = map.advise(memmap2::Advice::Random);
        Ok(Some(bytes::Bytes::from_owner(map)))
    }

    fn start_writeback(&self, offset: u64, len: u64) {
        // A hint: a write that fails is reported by the sync that follows (the kernel
        // keeps the error for it), so the result is ignored here.
        // SAFETY: sync_file_range on a descriptor this file owns; it reads no memory.
        unsafe {
            libc::sync_file_range(
                self.file.as_raw_fd(),
                offset as libc::off64_t,
                len as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            )
        };
    }

    fn prefetch(&self, offset: u64, len: u64) {
        // A hint: its failure changes nothing a reader sees, so it is ignored.
        // SAFETY: fadvise on a descriptor this file owns.
        unsafe {
            libc::posix_fadvise(
                self.file.as_raw_fd(),
                offset as libc::off_t,
                len as libc::off_t,
                libc::POSIX_FADV_WILLNEED,
            )
        };
    }

    fn truncate(&self, new_len: u64) -> Result<()> {
        let mut len = self.len.lock();
        self.file
            .set_len(new_len)
            .map_err(|e| Error::io("truncate", &self.path, e))?;
        *len = new_len;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_and_report_short_reads() {
        let dir = tempfile::tempdir().unwrap();
        let fs = RealFs::new();
        let path = dir.path().join("f");
        let file = fs.create(&path, FileKind::Other).unwrap();
        assert_eq!(file.append(b"abc").unwrap(), 0);
        assert_eq!(file.append(b"def").unwrap(), 3);
        file.write_at(b"Z", 10).unwrap();
        file.sync().unwrap();
        assert_eq!(file.len().unwrap(), 11);
        let mut buf = [0u8; 16];
        assert_eq!(file.read_at(&mut buf, 0).unwrap(), 11);
        assert_eq!(&buf[..11], b"abcdef\0\0\0\0Z");
        assert!(matches!(
            file.read_exact_at(&mut buf, 0),
            Err(Error::Corruption { .. })
        ));
        assert!(
            fs.create(&path, FileKind::Other).is_err(),
            "create never clobbers"
        );
        file.truncate(2).unwrap();
        assert_eq!(
            fs.open(&path, FileKind::Other).unwrap().read_all().unwrap(),
            b"ab"
        );
    }

    #[test]
    fn lock_is_exclusive_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let fs = RealFs::new();
        let held = fs.lock(dir.path()).unwrap();
        assert!(matches!(fs.lock(dir.path()), Err(Error::Locked { .. })));
        drop(held);
        fs.lock(dir.path()).unwrap();
    }

    #[test]
    fn rename_list_remove_and_evict() {
        let dir = tempfile::tempdir().unwrap();
        let fs = RealFs::new();
        let a = dir.path().join("a");
        fs.create(&a, FileKind::Other)
            .unwrap()
            .append(&[1; 5000])
            .unwrap();
        fs.rename(&a, &dir.path().join("b")).unwrap();
        fs.sync_dir(dir.path()).unwrap();
        assert_eq!(fs.list(dir.path()).unwrap(), vec!["b".to_string()]);
        fs.evict_cache(dir.path()).unwrap();
        assert_eq!(crate::vfs::dir_size(&fs, dir.path()).unwrap(), 5000);
        fs.remove(&dir.path().join("b")).unwrap();
        assert!(fs.list(dir.path()).unwrap().is_empty());
        let other = tempfile::tempdir().unwrap();
        assert!(matches!(
            fs.rename(&dir.path().join("x"), &other.path().join("x")),
            Err(Error::InvalidArgument(_))
        ));
    }
}
