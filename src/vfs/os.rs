//! The kernel's view of this process's I/O: `/proc/self/io`.
//!
//! These counters see this process only (all its threads), so they measure a production
//! engine that does its own file I/O without counting anything else the machine does.
//! `wchar` and `rchar` count the bytes of write and read system calls, as kvlab's counted
//! Vfs counts its engines' calls. `read_bytes` counts bytes the block layer fetched for
//! the process, the one view of reads through a memory map. `write_bytes` is *not* a count
//! of bytes written on this kernel: with ext4 large folios it charges a whole page-cache
//! folio (up to 2 MiB) for a small write into it, so it is reported only beside the rest.
//! [`check_counters`] measures a known write and read-back, so a run can show the
//! counters it relies on count true.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::error::{Error, Result};

/// The counters of `/proc/self/io`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OsIo {
    /// Bytes passed to read-like system calls (`rchar`), cache hits included.
    pub rchar: u64,
    /// Bytes passed to write-like system calls (`wchar`).
    pub wchar: u64,
    /// Read-like system calls (`syscr`).
    pub syscr: u64,
    /// Write-like system calls (`syscw`).
    pub syscw: u64,
    /// Bytes fetched from the storage layer (`read_bytes`).
    pub read_bytes: u64,
    /// Bytes sent to the storage layer as the kernel accounts them (`write_bytes`; see the
    /// module docs before trusting it).
    pub write_bytes: u64,
}

/// Reads `/proc/self/io`.
pub fn os_io() -> Result<OsIo> {
    let path = "/proc/self/io";
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    parse_proc_io(&text).ok_or_else(|| Error::corruption(path, 0, "unexpected format"))
}

fn parse_proc_io(text: &str) -> Option<OsIo> {
    let mut io = OsIo::default();
    let mut seen = 0;
    for line in text.lines() {
        let (name, value) = line.split_once(':')?;
        let value: u64 = value.trim().parse().ok()?;
        let field = match name.trim() {
            "rchar" => &mut io.rchar,
            "wchar" => &mut io.wchar,
            "syscr" => &mut io.syscr,
            "syscw" => &mut io.syscw,
            "read_bytes" => &mut io.read_bytes,
            "write_bytes" => &mut io.write_bytes,
            _ => continue,
        };
        *field = value;
        seen += 1;
    }
    (seen == 6).then_some(io)
}

/// Bytes [`check_counters`] writes and reads back.
pub const CHECK_BYTES: u64 = 8 << 20;

/// What this process's counters made of a known write and read-back of [`CHECK_BYTES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(serde::Serialize))]
pub struct CounterCheck {
    /// The bytes written, then read back.
    pub bytes: u64,
    /// `wchar` over the write.
    pub written: u64,
    /// `rchar` over the read-back.
    pub read: u64,
    /// `read_bytes` over the read-back, which started with the file out of the page cache.
    pub fetched: u64,
}

/// Writes [`CHECK_BYTES`] to a new file in `dir` in 64 KiB calls and syncs it, evicts it
/// from the page cache, reads it back, removes it, and returns what `/proc/self/io`
/// counted over each step.
pub fn check_counters(dir: &Path) -> Result<CounterCheck> {
    const CALL: usize = 64 << 10;
    let path = dir.join(format!(".kvlab-counter-check-{}", std::process::id()));
    let at = path.as_path();
    let io = |op: &'static str| move |e| Error::io(op, at, e);
    let block = vec![0x5a_u8; CALL];
    let result = (|| {
        let mut file = File::create(&path).map_err(io("create"))?;
        let before = os_io()?;
        for _ in 0..CHECK_BYTES / CALL as u64 {
            file.write_all(&block).map_err(io("write"))?;
        }
        let after_write = os_io()?;
        file.sync_all().map_err(io("sync"))?;
        // SAFETY: fadvise on a descriptor we own; offset 0, length 0 = the whole file.
        unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        let mut file = File::open(&path).map_err(io("open"))?;
        let mut buf = vec![0; CALL];
        let before_read = os_io()?;
        for _ in 0..CHECK_BYTES / CALL as u64 {
            file.read_exact(&mut buf).map_err(io("read"))?;
        }
        let after_read = os_io()?;
        Ok(CounterCheck {
            bytes: CHECK_BYTES,
            written: after_write.wchar - before.wchar,
            read: after_read.rchar - before_read.rchar,
            fetched: after_read.read_bytes - before_read.read_bytes,
        })
    })();
    let _ = std::fs::remove_file(&path);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_kernel_format() {
        let text = "rchar: 10\nwchar: 20\nsyscr: 3\nsyscw: 4\nread_bytes: 4096\n\
                    write_bytes: 8192\ncancelled_write_bytes: 0\n";
        let io = parse_proc_io(text).unwrap();
        assert_eq!(io.read_bytes, 4096);
        assert_eq!(io.write_bytes, 8192);
        assert_eq!(io.syscw, 4);
        assert!(parse_proc_io("rchar: x\n").is_none());
        assert!(parse_proc_io("rchar: 1\n").is_none(), "missing fields");
    }

    #[test]
    fn reads_this_process() {
        // /proc is always there on Linux, the only platform kvlab measures on.
        let before = os_io().unwrap();
        let _ = std::fs::read("/proc/self/status").unwrap();
        let after = os_io().unwrap();
        assert!(after.rchar > before.rchar);
    }
}
