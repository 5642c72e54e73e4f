//! The kernel's view of this process's I/O: `/proc/self/io`.
//!
//! `read_bytes` counts bytes the process caused to be fetched from the storage layer and is
//! a fair outside check of an engine's cold reads. `write_bytes` is *not* a fair check on
//! this kernel: with ext4 large folios it charges a whole page-cache folio (up to 2 MiB) for
//! a small write, so it is reported only beside the device's own sector counters.

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
