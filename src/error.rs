//! The one error type of the crate.
//!
//! Every fallible call in kvlab returns [`Result<T>`]. The variants are structured so that a
//! caller (and a test) can tell *what kind* of failure happened without parsing a message:
//! an I/O failure names the operation and the path, a corruption names the file and the byte
//! offset where the bad bytes were found.

use std::io;
use std::path::PathBuf;

/// `Result` with the crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in kvlab.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system (or the simulated file system) refused an I/O call.
    #[error("I/O error in {op} of {}: {source}", path.display())]
    Io {
        /// The Vfs operation that failed ("read", "append", "sync", "rename", ...).
        op: &'static str,
        /// The file or directory it was applied to.
        path: PathBuf,
        /// The underlying error; `raw_os_error()` tells EIO from ENOSPC.
        #[source]
        source: io::Error,
    },

    /// Bytes read from disk do not decode: a checksum mismatch, an impossible length, a
    /// truncated structure. Never returned for a torn tail that the format allows for.
    #[error("corruption in {} at offset {offset}: {detail}", file.display())]
    Corruption {
        /// The file holding the bad bytes.
        file: PathBuf,
        /// Byte offset of the structure that failed to decode.
        offset: u64,
        /// What was wrong, e.g. "block checksum mismatch: stored 0x…, computed 0x…".
        detail: String,
    },

    /// The caller passed something outside the contract: an empty or oversized key, an
    /// oversized value, a malformed option. Nothing was applied.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// The directory holds a kvlab store of a different engine.
    #[error("{} holds a {found} store, not a {expected} store", dir.display())]
    WrongEngine {
        /// The directory that was opened.
        dir: PathBuf,
        /// The engine asked for.
        expected: String,
        /// The engine whose identity file the directory holds.
        found: String,
    },

    /// The directory is not empty and holds no kvlab store: another program's files or
    /// garbage. Nothing in it was touched.
    #[error("{} is not a kvlab store: {detail}", dir.display())]
    NotAStore {
        /// The directory that was opened.
        dir: PathBuf,
        /// Why it was not recognised.
        detail: String,
    },

    /// Another process (or another open handle in this process) holds the store's lock.
    #[error("{} is locked by another open store", path.display())]
    Locked {
        /// The lock file (or directory) that is held.
        path: PathBuf,
    },

    /// A call on a [`SimFs`](crate::vfs::SimFs) handle opened before a simulated crash: the
    /// process that owned it is dead.
    #[error("the simulated process crashed; this handle is dead")]
    Crashed,

    /// An earlier failure (a failed sync, a failed write) left the durable state of the store
    /// unknown, so it refuses further writes. Reopening the store runs recovery.
    #[error("store refuses writes after an earlier failure ({0}); reopen it to recover")]
    Poisoned(String),

    /// The engine or feature is not part of this build.
    #[error("unsupported: {0}")]
    Unsupported(String),

    /// A production engine run as a peer (see `kvlab::peers`) reported an error of its own.
    #[error("{engine}: {detail}")]
    Peer {
        /// The peer's name ("redb", "lmdb", "fjall").
        engine: &'static str,
        /// The peer's own message.
        detail: String,
    },
}

impl Error {
    /// Builds an [`Error::Io`].
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Builds an [`Error::Corruption`].
    pub fn corruption(file: impl Into<PathBuf>, offset: u64, detail: impl Into<String>) -> Self {
        Error::Corruption {
            file: file.into(),
            offset,
            detail: detail.into(),
        }
    }

    /// Builds an [`Error::InvalidArgument`].
    pub fn invalid(detail: impl Into<String>) -> Self {
        Error::InvalidArgument(detail.into())
    }

    /// The OS error number behind an [`Error::Io`], if any (e.g. `libc::ENOSPC`).
    pub fn os_error(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// True for a full disk (`ENOSPC`).
    pub fn is_no_space(&self) -> bool {
        self.os_error() == Some(libc::ENOSPC)
    }

    /// True when a file or directory does not exist (`ENOENT`).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }

    /// True for an error of the simulated crash: the handle's process is gone.
    pub fn is_crashed(&self) -> bool {
        matches!(self, Error::Crashed)
    }
}
