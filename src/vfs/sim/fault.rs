//! Fault injection and crash choices for [`SimFs`](super::SimFs).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A kind of Vfs call that a [`Fault`] can target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultOp {
    /// `create` of a file.
    Create,
    /// `open` of a file.
    Open,
    /// `read_at`.
    Read,
    /// `write_at` and `append`.
    Write,
    /// `sync` of a file.
    Sync,
    /// `sync_dir`.
    SyncDir,
    /// `rename`.
    Rename,
    /// `remove`.
    Remove,
    /// `truncate`.
    Truncate,
    /// `create_dir_all`.
    CreateDir,
}

impl FaultOp {
    /// Every targetable call.
    pub const ALL: [FaultOp; 10] = [
        FaultOp::Create,
        FaultOp::Open,
        FaultOp::Read,
        FaultOp::Write,
        FaultOp::Sync,
        FaultOp::SyncDir,
        FaultOp::Rename,
        FaultOp::Remove,
        FaultOp::Truncate,
        FaultOp::CreateDir,
    ];

    pub(super) fn index(self) -> usize {
        self as usize
    }

    /// Whether the call changes what is (or will become) durable. A crash point set with
    /// [`SimFs::crash_after`](super::SimFs::crash_after) counts only these.
    pub fn mutates(self) -> bool {
        !matches!(self, FaultOp::Open | FaultOp::Read)
    }
}

/// The error a [`Fault`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultError {
    /// `EIO`: the device failed.
    Eio,
    /// `ENOSPC`: the device is full.
    NoSpace,
}

impl FaultError {
    pub(super) fn errno(self) -> i32 {
        match self {
            FaultError::Eio => libc::EIO,
            FaultError::NoSpace => libc::ENOSPC,
        }
    }
}

/// Makes the `nth` call (counting from 1, from when the fault is injected) of `op` fail with
/// `error`; with `sticky`, that call and every later call of `op` fail.
///
/// A failed call changes nothing, except a failed `sync` (or `sync_dir`): it drops whatever
/// was pending on that file (or directory), as a kernel that has lost dirty pages would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Which calls to count.
    pub op: FaultOp,
    /// The call that fails, 1-based.
    pub nth: u64,
    /// What it fails with.
    pub error: FaultError,
    /// Whether every later call of `op` fails too.
    pub sticky: bool,
}

impl Fault {
    /// The `nth` call of `op` fails once with `EIO`.
    pub fn eio(op: FaultOp, nth: u64) -> Self {
        Fault {
            op,
            nth,
            error: FaultError::Eio,
            sticky: false,
        }
    }

    /// The `nth` call of `op` fails once with `ENOSPC`.
    pub fn no_space(op: FaultOp, nth: u64) -> Self {
        Fault {
            op,
            nth,
            error: FaultError::NoSpace,
            sticky: false,
        }
    }

    /// The same fault, failing every call of its op from the `nth` on.
    pub fn sticky(self) -> Self {
        Fault {
            sticky: true,
            ..self
        }
    }
}

/// A fault as it counts down.
#[derive(Clone, Debug)]
pub(super) struct ArmedFault {
    pub fault: Fault,
    /// Calls of `fault.op` still to pass before the failing one.
    pub calls_left: u64,
}

/// Where the decisions of a crash come from: a seeded generator, or a fuzzer's bytes.
///
/// Each decision picks one of `n` outcomes. From bytes, each decision takes the next byte
/// modulo `n`; when the bytes run out every decision is 0 (keep), so a short input means
/// "keep everything else".
#[derive(Debug)]
pub struct CrashChoices<'a> {
    source: ChoiceSource<'a>,
    /// The number of outcomes of each decision taken so far, in order.
    asked: Vec<u64>,
}

#[derive(Debug)]
enum ChoiceSource<'a> {
    Seed(Box<ChaCha8Rng>),
    Bytes(&'a [u8]),
    Script(&'a [u64]),
}

impl<'a> CrashChoices<'a> {
    /// Decisions drawn from a generator seeded with `seed`: the same seed, the same crash.
    pub fn from_seed(seed: u64) -> Self {
        CrashChoices {
            source: ChoiceSource::Seed(Box::new(ChaCha8Rng::seed_from_u64(seed))),
            asked: Vec::new(),
        }
    }

    /// Decisions read from `bytes`, one byte each.
    pub fn from_bytes(bytes: &'a [u8]) -> Self {
        CrashChoices {
            source: ChoiceSource::Bytes(bytes),
            asked: Vec::new(),
        }
    }

    /// Decisions read from `script`, one number each (taken modulo the decision's number
    /// of outcomes; 0, keep, once the script runs out). With [`CrashChoices::asked`] this
    /// walks every outcome of a crash, one script at a time.
    pub fn from_script(script: &'a [u64]) -> Self {
        CrashChoices {
            source: ChoiceSource::Script(script),
            asked: Vec::new(),
        }
    }

    /// How many outcomes each decision taken so far had, in order: decision `i` took one
    /// of `0..asked()[i]`.
    pub fn asked(&self) -> &[u64] {
        &self.asked
    }

    /// One of `0..n` (`n` > 0).
    pub(super) fn pick(&mut self, n: u64) -> u64 {
        self.asked.push(n);
        match &mut self.source {
            ChoiceSource::Seed(rng) => rng.next_u64() % n,
            ChoiceSource::Bytes(bytes) => match bytes.split_first() {
                Some((&b, rest)) => {
                    *bytes = rest;
                    u64::from(b) % n
                }
                None => 0,
            },
            ChoiceSource::Script(script) => match script.split_first() {
                Some((&v, rest)) => {
                    *script = rest;
                    v % n
                }
                None => 0,
            },
        }
    }
}
