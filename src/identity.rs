//! The identity file: which engine a store directory belongs to.
//!
//! Every disk engine writes one small file, `KVLAB`, into its directory before any other
//! file, and checks it on every open. That is what lets `open` refuse a directory of another
//! engine, or one of some other program, without touching anything in it, and what lets
//! `kvlab inspect` tell which engine wrote a directory.
//!
//! # Format (see docs/FORMATS.md)
//!
//! All integers little-endian.
//!
//! ```text
//! offset   size  field
//! 0        8     magic            "KVLAB-ID"
//! 8        2     file version     u16, = 1
//! 10       1     name length n    u8, 1..=32
//! 11       n     engine name      ASCII, e.g. "lsm"
//! 11+n     4     engine format    u32, the engine's on-disk format version
//! 15+n     4     checksum         CRC-32 (IEEE) of bytes 0 .. 15+n
//!                                 total: 19 + n bytes
//! ```

use std::path::Path;

use crate::error::{Error, Result};
use crate::vfs::{self, FileKind, Vfs, VfsLock};

/// The name of the identity file in a store directory.
pub const IDENTITY_FILE: &str = "KVLAB";

const MAGIC: &[u8; 8] = b"KVLAB-ID";
const FILE_VERSION: u16 = 1;
const MAX_NAME_LEN: usize = 32;
const HEADER_LEN: usize = MAGIC.len() + 2 + 1;
const TRAILER_LEN: usize = 4 + 4;

/// The temporary file an identity is written to before it is renamed into place.
const IDENTITY_TMP: &str = "KVLAB.tmp";

/// What the identity file says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The engine's name, as [`crate::EngineKind`] spells it.
    pub engine: String,
    /// The engine's on-disk format version.
    pub format: u32,
}

impl Identity {
    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let name = self.engine.as_bytes();
        let mut out = Vec::with_capacity(HEADER_LEN + name.len() + TRAILER_LEN);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FILE_VERSION.to_le_bytes());
        out.push(name.len() as u8);
        out.extend_from_slice(name);
        out.extend_from_slice(&self.format.to_le_bytes());
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes the bytes of the identity file at `path`.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<Identity> {
        let bad = |offset: usize, detail: String| Error::corruption(path, offset as u64, detail);
        if bytes.len() < HEADER_LEN || &bytes[..MAGIC.len()] != MAGIC {
            return Err(bad(0, "no KVLAB-ID magic".into()));
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        if version != FILE_VERSION {
            return Err(bad(
                8,
                format!("identity file version {version}, expected 1"),
            ));
        }
        let n = usize::from(bytes[10]);
        if n == 0 || n > MAX_NAME_LEN || bytes.len() != HEADER_LEN + n + TRAILER_LEN {
            return Err(bad(
                10,
                format!(
                    "name length {n} does not fit a file of {} bytes",
                    bytes.len()
                ),
            ));
        }
        let body = HEADER_LEN + n + 4;
        let stored = u32::from_le_bytes(bytes[body..body + 4].try_into().expect("4 bytes"));
        let computed = crc32fast::hash(&bytes[..body]);
        if !crate::format::coding::checksum_ok(stored, computed) {
            return Err(bad(
                body,
                format!("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"),
            ));
        }
        let engine = std::str::from_utf8(&bytes[HEADER_LEN..HEADER_LEN + n])
            .map_err(|_| bad(HEADER_LEN, "engine name is not UTF-8".into()))?;
        let format = u32::from_le_bytes(bytes[HEADER_LEN + n..body].try_into().expect("4 bytes"));
        Ok(Identity {
            engine: engine.to_string(),
            format,
        })
    }
}

/// Reads the identity of the store in `dir`: `None` when `dir` holds no identity file.
pub fn read(vfs: &dyn Vfs, dir: &Path) -> Result<Option<Identity>> {
    let path = dir.join(IDENTITY_FILE);
    if !vfs.exists(&path)? {
        return Ok(None);
    }
    let bytes = vfs.open(&path, FileKind::Manifest)?.read_all()?;
    Identity::decode(&bytes, &path).map(Some)
}

/// A store directory opened for one engine; the lock is held while this lives.
#[derive(Debug)]
pub struct StoreDir {
    /// The directory's exclusive lock.
    pub lock: Box<dyn VfsLock>,
    /// True when this call created the store (the directory was missing or empty).
    pub created: bool,
}

/// What a directory holds, as far as opening it for `engine` goes.
enum Contents {
    Empty,
    Store,
}

fn inspect(vfs: &dyn Vfs, dir: &Path, engine: &str, format: u32) -> Result<Contents> {
    if !vfs.exists(dir)? {
        return Ok(Contents::Empty);
    }
    if !vfs.is_dir(dir)? {
        return Err(Error::NotAStore {
            dir: dir.to_path_buf(),
            detail: "it is a file, not a directory".into(),
        });
    }
    let names = vfs.list(dir)?;
    let mut others: Vec<&String> = Vec::new();
    for name in &names {
        if !is_leftover(vfs, dir, name)? {
            others.push(name);
        }
    }
    if others.is_empty() {
        return Ok(Contents::Empty);
    }
    let Some(identity) = read(vfs, dir)? else {
        let shown: Vec<&str> = others.iter().take(5).map(|s| s.as_str()).collect();
        return Err(Error::NotAStore {
            dir: dir.to_path_buf(),
            detail: format!(
                "it holds {} entries ({}{}) and no {IDENTITY_FILE} identity file",
                others.len(),
                shown.join(", "),
                if others.len() > shown.len() {
                    ", ..."
                } else {
                    ""
                }
            ),
        });
    };
    if identity.engine != engine {
        return Err(Error::WrongEngine {
            dir: dir.to_path_buf(),
            expected: engine.to_string(),
            found: identity.engine,
        });
    }
    if identity.format != format {
        return Err(Error::Unsupported(format!(
            "{} holds {engine} format {}, this build reads format {format}",
            dir.display(),
            identity.format
        )));
    }
    Ok(Contents::Store)
}

/// Whether `name` in `dir` is a file a claim of `dir` makes before the identity file is in
/// place, so that a directory holding only such files counts as empty: the lock file as
/// the lock makes it (empty), or the identity's temporary file as a crash may leave it
/// (empty, zeros, or the start of an identity). A file of the same name with anything else in it
/// belongs to someone else.
fn is_leftover(vfs: &dyn Vfs, dir: &Path, name: &str) -> Result<bool> {
    let path = dir.join(name);
    if name == vfs::LOCK_FILE {
        return Ok(!vfs.is_dir(&path)? && vfs.file_len(&path)? == 0);
    }
    if name != IDENTITY_TMP || vfs.is_dir(&path)? {
        return Ok(false);
    }
    if vfs.file_len(&path)? > (HEADER_LEN + MAX_NAME_LEN + TRAILER_LEN) as u64 {
        return Ok(false);
    }
    // (A crash that drops the write but keeps the file's length leaves zeros.)
    let bytes = vfs.open(&path, FileKind::Manifest)?.read_all()?;
    let magic = &bytes[..bytes.len().min(MAGIC.len())];
    Ok(MAGIC.starts_with(magic) || bytes.iter().all(|&b| b == 0))
}

/// Creates every missing directory down to `dir` and makes each new name durable.
fn create_dir_durably(vfs: &dyn Vfs, dir: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut at = dir;
    while !vfs.exists(at)? {
        missing.push(at);
        match at.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => at = parent,
            _ => break,
        }
    }
    vfs.create_dir_all(dir)?;
    for created in missing.iter().rev() {
        vfs.sync_dir(&vfs::parent_dir(created))?;
    }
    Ok(())
}

/// Opens `dir` as a store of `engine` (on-disk format `format`), creating the store if `dir`
/// is missing or empty, and takes its lock.
///
/// Errors, with nothing in `dir` touched: [`Error::NotAStore`] for a non-empty directory
/// without an identity file, [`Error::WrongEngine`] for another engine's store,
/// [`Error::Unsupported`] for another format version, [`Error::Locked`] when it is open
/// elsewhere.
pub fn claim(vfs: &dyn Vfs, dir: &Path, engine: &str, format: u32) -> Result<StoreDir> {
    if engine.is_empty() || engine.len() > MAX_NAME_LEN || !engine.is_ascii() {
        return Err(Error::invalid(format!("bad engine name '{engine}'")));
    }
    // Look before touching anything: a foreign directory must stay as it was.
    inspect(vfs, dir, engine, format)?;
    create_dir_durably(vfs, dir)?;
    let lock = vfs.lock(dir)?;
    // Look again under the lock: another process may have created a store meanwhile.
    let created = match inspect(vfs, dir, engine, format)? {
        Contents::Store => false,
        Contents::Empty => {
            let identity = Identity {
                engine: engine.to_string(),
                format,
            };
            vfs::write_file_atomic(
                vfs,
                &dir.join(IDENTITY_FILE),
                FileKind::Manifest,
                &identity.encode(),
            )?;
            true
        }
    };
    Ok(StoreDir { lock, created })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::SimFs;

    fn id(engine: &str) -> Identity {
        Identity {
            engine: engine.into(),
            format: 7,
        }
    }

    #[test]
    fn round_trip_and_worked_example() {
        assert_eq!(
            Identity::decode(&id("lsm").encode(), Path::new("K")).unwrap(),
            id("lsm")
        );
        // The worked example of docs/FORMATS.md, byte for byte.
        let example = Identity {
            engine: "lsm".into(),
            format: 1,
        };
        let expected: &[u8] = b"KVLAB-ID\x01\x00\x03lsm\x01\x00\x00\x00\x04\x1c\x13\xd1";
        assert_eq!(example.encode(), expected);
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let bytes = id("btree").encode();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut bad = bytes.clone();
                bad[i] ^= 1 << bit;
                assert!(
                    matches!(
                        Identity::decode(&bad, Path::new("K")),
                        Err(Error::Corruption { .. })
                    ),
                    "byte {i} bit {bit}"
                );
            }
        }
        for len in 0..bytes.len() {
            assert!(Identity::decode(&bytes[..len], Path::new("K")).is_err());
        }
    }

    #[test]
    fn claim_creates_then_recognises() {
        let fs = SimFs::new();
        let dir = Path::new("/a/b/store");
        let first = claim(&fs, dir, "lsm", 7).unwrap();
        assert!(first.created);
        assert!(matches!(
            claim(&fs, dir, "lsm", 7),
            Err(Error::Locked { .. })
        ));
        drop(first);
        assert!(!claim(&fs, dir, "lsm", 7).unwrap().created);
        assert_eq!(read(&fs, dir).unwrap(), Some(id("lsm")));
        // A crash right after creation keeps the store: every step was made durable.
        fs.crash(1);
        assert!(!claim(&fs, dir, "lsm", 7).unwrap().created);
    }

    #[test]
    fn foreign_directories_are_refused_untouched() {
        let fs = SimFs::new();
        claim(&fs, Path::new("/s"), "lsm", 7).unwrap();
        assert!(matches!(
            claim(&fs, Path::new("/s"), "btree", 7),
            Err(Error::WrongEngine { found, .. }) if found == "lsm"
        ));
        assert!(matches!(
            claim(&fs, Path::new("/s"), "lsm", 8),
            Err(Error::Unsupported(_))
        ));

        fs.create_dir_all(Path::new("/g")).unwrap();
        fs.create(Path::new("/g/CURRENT"), FileKind::Other).unwrap();
        let before = fs.list(Path::new("/g")).unwrap();
        let err = claim(&fs, Path::new("/g"), "lsm", 7).unwrap_err();
        assert!(matches!(err, Error::NotAStore { .. }), "{err}");
        assert!(err.to_string().contains("CURRENT"));
        assert_eq!(
            fs.list(Path::new("/g")).unwrap(),
            before,
            "nothing touched, no LOCK"
        );

        // A lock file or an identity's temporary file that the claim did not make: the
        // directory is someone else's, and both stay as they were.
        for (name, content) in [("LOCK", &b"pid 4242"[..]), ("KVLAB.tmp", b"my notes")] {
            let dir = format!("/f-{name}");
            fs.create_dir_all(dir.as_ref()).unwrap();
            let path = format!("{dir}/{name}");
            let file = fs.create(path.as_ref(), FileKind::Other).unwrap();
            file.append(content).unwrap();
            file.sync().unwrap();
            drop(file);
            let err = claim(&fs, dir.as_ref(), "lsm", 7).unwrap_err();
            assert!(matches!(err, Error::NotAStore { .. }), "{name}: {err}");
            assert_eq!(fs.list(dir.as_ref()).unwrap(), vec![name.to_string()]);
            let file = fs.open(path.as_ref(), FileKind::Other).unwrap();
            assert_eq!(file.read_all().unwrap(), content);
        }

        fs.create(Path::new("/file"), FileKind::Other).unwrap();
        assert!(matches!(
            claim(&fs, Path::new("/file"), "lsm", 7),
            Err(Error::NotAStore { .. })
        ));
    }

    #[test]
    fn an_interrupted_creation_can_be_retried() {
        for point in 0..12 {
            let fs = SimFs::new();
            fs.crash_after(point);
            let _ = claim(&fs, Path::new("/s"), "lsm", 7);
            fs.crash(point);
            let again = claim(&fs, Path::new("/s"), "lsm", 7);
            assert!(again.is_ok(), "crash point {point}: {again:?}");
        }
    }
}
