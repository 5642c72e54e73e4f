//! The outside view: the block device's own counters, and a description of the machine.
//!
//! `/sys/block/DEV/stat` counts sectors (512 bytes) read and written by the device that
//! holds the store. It sees the whole machine, so a measurement runs with nothing else
//! writing; the kernel's buffered writes reach it only after a `sync`, which the runner
//! issues before each reading.

use std::path::{Path, PathBuf};

/// Sectors of the `stat` file are always 512 bytes, whatever the device's block size.
const SECTOR: u64 = 512;

/// A block device's cumulative byte counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceIo {
    /// Bytes read from the device.
    pub read_bytes: u64,
    /// Bytes written to the device.
    pub write_bytes: u64,
}

/// The `/sys/.../stat` file of the device holding `path`, if it can be found.
pub fn device_stat_file(path: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(path).ok()?.dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let file = PathBuf::from(format!("/sys/dev/block/{major}:{minor}/stat"));
    file.exists().then_some(file)
}

/// Reads the counters from a `stat` file.
pub fn read_device_io(stat_file: &Path) -> Option<DeviceIo> {
    let text = std::fs::read_to_string(stat_file).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<DeviceIo> {
    let fields: Vec<u64> = text
        .split_whitespace()
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // Field 3 is sectors read, field 7 sectors written (1-based, Documentation/block/stat).
    Some(DeviceIo {
        read_bytes: fields.get(2)? * SECTOR,
        write_bytes: fields.get(6)? * SECTOR,
    })
}

/// True when `path` is on a tmpfs (memory, not a disk).
pub fn is_tmpfs(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statfs writes into the zeroed struct we pass; the path is NUL-terminated.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        libc::statfs(c_path.as_ptr(), &mut st) == 0 && st.f_type == libc::TMPFS_MAGIC
    }
}

/// One line about the machine: cores, memory, the disk and file system of `dir`.
pub fn describe_machine(dir: &Path) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0.0, |kib| kib as f64 / (1u64 << 20) as f64);
    let (disk, fs) = mount_of(dir).unwrap_or_else(|| ("unknown".into(), "unknown".into()));
    format!("{cores} cores, {mem_gib:.0} GiB RAM, {fs} on {disk}")
}

/// The device and file-system type of the mount holding `dir`, from /proc/self/mounts.
fn mount_of(dir: &Path) -> Option<(String, String)> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?, f.next()?, f.next()?))
        })
        .filter(|(_, point, _)| dir.starts_with(point))
        .max_by_key(|(_, point, _)| point.len())
        .map(|(dev, _, fs)| {
            let model = Path::new(dev)
                .file_name()
                .and_then(|name| {
                    let name = name.to_string_lossy();
                    std::fs::read_to_string(format!("/sys/block/{name}/device/model"))
                        .ok()
                        .map(|m| format!("{dev} ({})", m.trim()))
                })
                .unwrap_or_else(|| dev.to_string());
            (model, fs.to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_stat_file() {
        let io = parse_stat("  100 0 2048 0 50 0 4096 0 0 0 0\n").unwrap();
        assert_eq!(io.read_bytes, 2048 * 512);
        assert_eq!(io.write_bytes, 4096 * 512);
        assert!(parse_stat("1 2").is_none());
    }
}
