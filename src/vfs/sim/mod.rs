//! [`SimFs`]: an in-memory file system that knows what is durable, crashes on request, and
//! fails on request.
//!
//! # The crash model (DESIGN §6)
//!
//! Every file keeps two images: `live`, what reads see now, and `durable`, what a crash
//! would leave if nothing pending survived. Every write and truncate since the file's last
//! `sync` is kept in order as *pending*. Every directory likewise keeps its live and durable
//! entries and the creates, removes and renames pending since its last `sync_dir`.
//!
//! [`SimFs::crash`] then decides, for each pending operation independently and in order:
//!
//! - a file write is **kept**, **dropped**, or **torn**: only a prefix survives, cut at a
//!   512-byte sector boundary of the file (a write inside one sector cannot tear and is
//!   dropped instead);
//! - a truncate, create, remove or rename is kept or dropped.
//!
//! So later writes can survive while earlier ones vanish, a synced file can lose its name,
//! and a renamed file can appear under its new name although its create did not survive.
//! After the crash every handle opened before it fails with [`Error::Crashed`], locks are
//! released, and the surviving images are both live and durable.
//!
//! Deliberate simplifications: there are no hard links, no file permissions or times, and
//! rename works only inside one directory (kvlab engines never need more).
//!
//! # Faults
//!
//! [`SimFs::inject`] arms a [`Fault`]: the n-th call of a kind fails with `EIO` or `ENOSPC`.
//! [`SimFs::crash_after`] arms a crash point: after n more mutating calls the file system
//! "loses power": that call and every later one fails with `Error::Crashed` until
//! [`SimFs::crash`] applies the crash rule. This freezes background threads exactly where
//! they were, which a crash between two foreground calls cannot do.

mod fault;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{FileKind, Vfs, VfsFile, VfsLock, parent_dir};
use crate::error::{Error, Result};
use fault::ArmedFault;
pub use fault::{CrashChoices, Fault, FaultError, FaultOp};

/// Disk sector size: the unit in which a crash tears a write.
pub const SECTOR: u64 = 512;

type NodeId = u64;
const ROOT: NodeId = 0;

/// The in-memory, crash-simulating file system. Cheap to share: wrap it in an `Arc` and pass
/// it as `Options.vfs`.
#[derive(Debug, Default)]
pub struct SimFs {
    state: Arc<Mutex<State>>,
}

/// What a crash did, for tests and for debugging a failing seed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrashReport {
    /// Pending file writes and truncates that survived whole.
    pub writes_kept: u64,
    /// Pending file writes and truncates that vanished.
    pub writes_dropped: u64,
    /// Pending file writes of which only a prefix survived.
    pub writes_torn: u64,
    /// Pending directory changes that survived.
    pub dir_changes_kept: u64,
    /// Pending directory changes that vanished.
    pub dir_changes_dropped: u64,
}

#[derive(Clone, Debug)]
struct State {
    /// Bumped at every crash; handles from an older epoch are dead.
    epoch: u64,
    nodes: BTreeMap<NodeId, Node>,
    next_node: NodeId,
    /// Directories whose store lock is held.
    locks: HashSet<NodeId>,
    faults: Vec<ArmedFault>,
    /// Calls per [`FaultOp`] since the file system was made.
    calls: [u64; FaultOp::ALL.len()],
    /// Mutating calls still allowed before the armed crash point, if any.
    crash_countdown: Option<u64>,
    /// The crash point was reached: every call fails until `crash()`.
    powered_off: bool,
}

impl Default for State {
    fn default() -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(ROOT, Node::Dir(SimDir::default()));
        State {
            epoch: 0,
            nodes,
            next_node: ROOT + 1,
            locks: HashSet::new(),
            faults: Vec::new(),
            calls: [0; FaultOp::ALL.len()],
            crash_countdown: None,
            powered_off: false,
        }
    }
}

#[derive(Clone, Debug)]
enum Node {
    File(SimFile),
    Dir(SimDir),
}

#[derive(Clone, Debug, Default)]
struct SimFile {
    live: Vec<u8>,
    durable: Vec<u8>,
    pending: Vec<FileChange>,
}

#[derive(Clone, Debug)]
enum FileChange {
    Write { offset: u64, data: Vec<u8> },
    Truncate(u64),
}

#[derive(Clone, Debug, Default)]
struct SimDir {
    live: BTreeMap<String, NodeId>,
    durable: BTreeMap<String, NodeId>,
    pending: Vec<DirChange>,
}

#[derive(Clone, Debug)]
enum DirChange {
    Link(String, NodeId),
    Unlink(String),
    Rename {
        from: String,
        to: String,
        node: NodeId,
    },
}

fn os_err(errno: i32) -> io::Error {
    io::Error::from_raw_os_error(errno)
}

/// The path as a list of names below the root; `.` and `..` resolved.
fn components(path: &Path) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(name) => names.push(name.to_string_lossy().into_owned()),
            Component::ParentDir => {
                names.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    names
}

fn apply_write(image: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let start = offset as usize;
    let end = start + data.len();
    if image.len() < end {
        image.resize(end, 0);
    }
    image[start..end].copy_from_slice(data);
}

fn apply_file_change(image: &mut Vec<u8>, change: &FileChange) {
    match change {
        FileChange::Write { offset, data } => apply_write(image, *offset, data),
        FileChange::Truncate(len) => image.resize(*len as usize, 0),
    }
}

fn apply_dir_change(entries: &mut BTreeMap<String, NodeId>, change: &DirChange) {
    match change {
        DirChange::Link(name, node) => {
            entries.insert(name.clone(), *node);
        }
        DirChange::Unlink(name) => {
            entries.remove(name);
        }
        DirChange::Rename { from, to, node } => {
            if entries.get(from) == Some(node) {
                entries.remove(from);
            }
            entries.insert(to.clone(), *node);
        }
    }
}

impl State {
    /// Counts a call of `op` and fails it if a fault or the crash point says so.
    fn enter(&mut self, op: FaultOp, epoch: u64, path: &Path, name: &'static str) -> Result<()> {
        if self.powered_off || epoch != self.epoch {
            return Err(Error::Crashed);
        }
        self.calls[op.index()] += 1;
        if op.mutates()
            && let Some(left) = self.crash_countdown.as_mut()
        {
            if *left == 0 {
                self.powered_off = true;
                self.crash_countdown = None;
                return Err(Error::Crashed);
            }
            *left -= 1;
        }
        let mut failure = None;
        self.faults.retain_mut(|armed| {
            if armed.fault.op != op || failure.is_some() {
                return true;
            }
            if armed.calls_left > 1 {
                armed.calls_left -= 1;
                return true;
            }
            failure = Some(armed.fault.error);
            armed.calls_left = 1;
            armed.fault.sticky
        });
        match failure {
            Some(error) => Err(Error::io(name, path, os_err(error.errno()))),
            None => Ok(()),
        }
    }

    fn dir(&self, id: NodeId) -> Option<&SimDir> {
        match self.nodes.get(&id) {
            Some(Node::Dir(d)) => Some(d),
            _ => None,
        }
    }

    fn dir_mut(&mut self, id: NodeId) -> Option<&mut SimDir> {
        match self.nodes.get_mut(&id) {
            Some(Node::Dir(d)) => Some(d),
            _ => None,
        }
    }

    fn file_mut(&mut self, id: NodeId) -> Result<&mut SimFile> {
        match self.nodes.get_mut(&id) {
            Some(Node::File(f)) => Ok(f),
            _ => Err(Error::Crashed),
        }
    }

    /// The node at `path`, following live entries.
    fn lookup(&self, path: &Path) -> Option<NodeId> {
        let mut at = ROOT;
        for name in components(path) {
            at = *self.dir(at)?.live.get(&name)?;
        }
        Some(at)
    }

    /// The directory holding `path` and the last name of `path`.
    fn parent_of(&self, path: &Path, op: &'static str) -> Result<(NodeId, String)> {
        let mut names = components(path);
        let Some(name) = names.pop() else {
            return Err(Error::io(op, path, os_err(libc::EISDIR)));
        };
        let mut at = ROOT;
        for n in &names {
            at = match self.dir(at).and_then(|d| d.live.get(n)) {
                Some(&child) if self.dir(child).is_some() => child,
                Some(_) => return Err(Error::io(op, path, os_err(libc::ENOTDIR))),
                None => return Err(Error::io(op, path, os_err(libc::ENOENT))),
            };
        }
        Ok((at, name))
    }

    fn new_node(&mut self, node: Node) -> NodeId {
        let id = self.next_node;
        self.next_node += 1;
        self.nodes.insert(id, node);
        id
    }

    fn link(&mut self, dir: NodeId, name: String, node: NodeId) {
        if let Some(d) = self.dir_mut(dir) {
            d.live.insert(name.clone(), node);
            d.pending.push(DirChange::Link(name, node));
        }
    }

    fn crash(&mut self, choices: &mut CrashChoices<'_>) -> CrashReport {
        let mut report = CrashReport::default();
        for node in self.nodes.values_mut() {
            match node {
                Node::File(f) => {
                    let mut image = std::mem::take(&mut f.durable);
                    for change in f.pending.drain(..) {
                        crash_file_change(&mut image, change, choices, &mut report);
                    }
                    f.live = image.clone();
                    f.durable = image;
                }
                Node::Dir(d) => {
                    let mut entries = std::mem::take(&mut d.durable);
                    for change in d.pending.drain(..) {
                        if choices.pick(2) == 0 {
                            apply_dir_change(&mut entries, &change);
                            report.dir_changes_kept += 1;
                        } else {
                            report.dir_changes_dropped += 1;
                        }
                    }
                    d.live = entries.clone();
                    d.durable = entries;
                }
            }
        }
        self.collect_garbage();
        self.epoch += 1;
        self.locks.clear();
        self.faults.clear();
        self.crash_countdown = None;
        self.powered_off = false;
        report
    }

    /// Drops the nodes no durable name reaches any more.
    fn collect_garbage(&mut self) {
        let mut reachable = HashSet::from([ROOT]);
        let mut stack = vec![ROOT];
        while let Some(id) = stack.pop() {
            if let Some(d) = self.dir(id) {
                for &child in d.live.values() {
                    if reachable.insert(child) {
                        stack.push(child);
                    }
                }
            }
        }
        self.nodes.retain(|id, _| reachable.contains(id));
    }
}

fn crash_file_change(
    image: &mut Vec<u8>,
    change: FileChange,
    choices: &mut CrashChoices<'_>,
    report: &mut CrashReport,
) {
    match choices.pick(3) {
        0 => {
            apply_file_change(image, &change);
            report.writes_kept += 1;
        }
        1 => report.writes_dropped += 1,
        _ => match change {
            FileChange::Write { offset, data } => {
                // Sector boundaries strictly inside the write: each is a place it may tear.
                let end = offset + data.len() as u64;
                let first = (offset / SECTOR + 1) * SECTOR;
                if first >= end {
                    report.writes_dropped += 1;
                    return;
                }
                let cuts = (end - 1 - first) / SECTOR + 1;
                let cut = first + choices.pick(cuts) * SECTOR;
                apply_write(image, offset, &data[..(cut - offset) as usize]);
                report.writes_torn += 1;
            }
            FileChange::Truncate(_) => report.writes_dropped += 1,
        },
    }
}

impl SimFs {
    /// An empty file system holding only its root directory.
    pub fn new() -> Self {
        SimFs::default()
    }

    /// Simulates a power failure, deciding the fate of every pending change from `seed`.
    /// See the module docs for the rules.
    pub fn crash(&self, seed: u64) -> CrashReport {
        self.crash_with(&mut CrashChoices::from_seed(seed))
    }

    /// Simulates a power failure with decisions taken from `choices` (e.g. a fuzzer's bytes).
    pub fn crash_with(&self, choices: &mut CrashChoices<'_>) -> CrashReport {
        self.state.lock().crash(choices)
    }

    /// Arms a crash point: the next `calls` mutating calls succeed, the one after fails with
    /// [`Error::Crashed`], and so does every call after it until [`SimFs::crash`].
    pub fn crash_after(&self, calls: u64) {
        self.state.lock().crash_countdown = Some(calls);
    }

    /// Disarms a crash point that has not been reached yet.
    pub fn disarm_crash(&self) {
        self.state.lock().crash_countdown = None;
    }

    /// Whether an armed crash point has been reached.
    pub fn is_powered_off(&self) -> bool {
        self.state.lock().powered_off
    }

    /// Arms a fault.
    pub fn inject(&self, fault: Fault) {
        self.state.lock().faults.push(ArmedFault {
            calls_left: fault.nth.max(1),
            fault,
        });
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        self.state.lock().faults.clear();
    }

    /// How many calls of `op` were made since the file system was created.
    pub fn calls(&self, op: FaultOp) -> u64 {
        self.state.lock().calls[op.index()]
    }

    /// How many mutating calls (those a crash point counts) were made so far.
    pub fn mutating_calls(&self) -> u64 {
        let state = self.state.lock();
        FaultOp::ALL
            .iter()
            .filter(|op| op.mutates())
            .map(|op| state.calls[op.index()])
            .sum()
    }

    /// An independent copy of the whole file system as it is now, pending changes included,
    /// with no handles, locks or faults: crash several copies with different seeds to test
    /// many outcomes of one workload.
    pub fn fork(&self) -> SimFs {
        let mut copy = self.state.lock().clone();
        copy.epoch += 1;
        copy.locks.clear();
        copy.faults.clear();
        copy.crash_countdown = None;
        SimFs {
            state: Arc::new(Mutex::new(copy)),
        }
    }

    /// A digest of every file's name and bytes as reads see them now: two file systems
    /// with the same digest hold the same files (to count distinct crash states).
    pub fn digest(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let state = self.state.lock();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        let mut stack = vec![(String::new(), ROOT)];
        while let Some((path, id)) = stack.pop() {
            match state.nodes.get(&id) {
                Some(Node::Dir(d)) => {
                    for (name, &child) in &d.live {
                        stack.push((format!("{path}/{name}"), child));
                    }
                }
                Some(Node::File(f)) => {
                    path.hash(&mut hasher);
                    f.live.hash(&mut hasher);
                }
                None => {}
            }
        }
        hasher.finish()
    }

    fn handle(&self, id: NodeId, epoch: u64, path: &Path) -> Box<dyn VfsFile> {
        Box::new(SimHandle {
            state: Arc::clone(&self.state),
            node: id,
            epoch,
            path: path.to_path_buf(),
        })
    }
}

impl Vfs for SimFs {
    fn create(&self, path: &Path, _kind: FileKind) -> Result<Box<dyn VfsFile>> {
        let mut s = self.state.lock();
        let epoch = s.epoch;
        s.enter(FaultOp::Create, epoch, path, "create")?;
        let (dir, name) = s.parent_of(path, "create")?;
        if s.dir(dir).is_some_and(|d| d.live.contains_key(&name)) {
            return Err(Error::io("create", path, os_err(libc::EEXIST)));
        }
        let id = s.new_node(Node::File(SimFile::default()));
        s.link(dir, name, id);
        Ok(self.handle(id, epoch, path))
    }

    fn open(&self, path: &Path, _kind: FileKind) -> Result<Box<dyn VfsFile>> {
        let mut s = self.state.lock();
        let epoch = s.epoch;
        s.enter(FaultOp::Open, epoch, path, "open")?;
        match s.lookup(path) {
            Some(id) if matches!(s.nodes.get(&id), Some(Node::File(_))) => {
                Ok(self.handle(id, epoch, path))
            }
            Some(_) => Err(Error::io("open", path, os_err(libc::EISDIR))),
            None => Err(Error::io("open", path, os_err(libc::ENOENT))),
        }
    }

    fn create_dir_all(&self, path: &Path) -> Result<()> {
        let mut s = self.state.lock();
        let epoch = s.epoch;
        s.enter(FaultOp::CreateDir, epoch, path, "create_dir")?;
        let mut at = ROOT;
        for name in components(path) {
            let existing = s.dir(at).and_then(|d| d.live.get(&name)).copied();
            at = match existing {
                Some(child) if s.dir(child).is_some() => child,
                Some(_) => return Err(Error::io("create_dir", path, os_err(libc::ENOTDIR))),
                None => {
                    let child = s.new_node(Node::Dir(SimDir::default()));
                    s.link(at, name, child);
                    child
                }
            };
        }
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        let mut s = self.state.lock();
        let epoch = s.epoch;
        let id = s.lookup(dir).filter(|&id| s.dir(id).is_some());
        let Some(id) = id else {
            return Err(Error::io("sync_dir", dir, os_err(libc::ENOENT)));
        };
        let result = s.enter(FaultOp::SyncDir, epoch, dir, "sync_dir");
        let d = s.dir_mut(id).ok_or(Error::Crashed)?;
        match result {
            Ok(()) => {
                for change in d.pending.drain(..) {
                    apply_dir_change(&mut d.durable, &change);
                }
                Ok(())
            }
            Err(Error::Crashed) => Err(Error::Crashed),
            Err(e) => {
                // A failed directory sync loses the pending changes, as a failed fsync does.
                d.pending.clear();
                d.live = d.durable.clone();
                Err(e)
            }
        }
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        let mut s = self.state.lock();
        let epoch = s.epoch;
        s.enter(FaultOp::Rename, epoch, from, "rename")?;
        if parent_dir(from) != parent_dir(to) {
            return Err(Error::invalid(format!(
                "rename across directories ({} -> {}) is not supported",
                from.display(),
                to.display()
            )));
        }
        let (dir, from_name) = s.parent_of(from, "rename")?;
        let (_, to_name) = s.parent_of(to, "rename")?;
        let d = s.dir_mut(dir).ok_or(Error::Crashed)?;
        let Some(node) = d.live.remove(&from_name) else {
            return Err(Error::io("rename", from, os_err(libc::ENOENT)));
        };
        d.live.insert(to_name.clone(), node);
        d.pending.push(DirChange::Rename {
            from: from_name,
            to: to_name,
            node,
        });
        Ok(())
    }

    fn remove(&self, path: &Path) -> Result<()> {
        let mut s = self.state.lock();
        let epoch = s.epoch;
        s.enter(FaultOp::Remove, epoch, path, "remove")?;
        let (dir, name) = s.parent_of(path, "remove")?;
        let target = s.dir(dir).and_then(|d| d.live.get(&name)).copied();
        match target {
            None => Err(Error::io("remove", path, os_err(libc::ENOENT))),
            Some(id) if s.dir(id).is_some() => Err(Error::io("remove", path, os_err(libc::EISDIR))),
            Some(_) => {
                let d = s.dir_mut(dir).ok_or(Error::Crashed)?;
                d.live.remove(&name);
                d.pending.push(DirChange::Unlink(name));
                Ok(())
            }
        }
    }

    fn remove_dir_all(&self, dir: &Path) -> Result<()> {
        let mut s = self.state.lock();
        let epoch = s.epoch;
        s.enter(FaultOp::Remove, epoch, dir, "remove_dir")?;
        let (parent, name) = s.parent_of(dir, "remove_dir")?;
        let target = s.dir(parent).and_then(|d| d.live.get(&name)).copied();
        match target {
            Some(id) if s.dir(id).is_some() => {
                // Unlinking the name is enough: nothing below it is reachable any more.
                let d = s.dir_mut(parent).ok_or(Error::Crashed)?;
                d.live.remove(&name);
                d.pending.push(DirChange::Unlink(name));
                Ok(())
            }
            Some(_) => Err(Error::io("remove_dir", dir, os_err(libc::ENOTDIR))),
            None => Err(Error::io("remove_dir", dir, os_err(libc::ENOENT))),
        }
    }

    fn list(&self, dir: &Path) -> Result<Vec<String>> {
        let s = self.state.lock();
        if s.powered_off {
            return Err(Error::Crashed);
        }
        match s.lookup(dir).and_then(|id| s.dir(id)) {
            Some(d) => Ok(d.live.keys().cloned().collect()),
            None => Err(Error::io("list", dir, os_err(libc::ENOENT))),
        }
    }

    fn exists(&self, path: &Path) -> Result<bool> {
        let s = self.state.lock();
        if s.powered_off {
            return Err(Error::Crashed);
        }
        Ok(s.lookup(path).is_some())
    }

    fn is_dir(&self, path: &Path) -> Result<bool> {
        let s = self.state.lock();
        if s.powered_off {
            return Err(Error::Crashed);
        }
        Ok(s.lookup(path).is_some_and(|id| s.dir(id).is_some()))
    }

    fn file_len(&self, path: &Path) -> Result<u64> {
        let s = self.state.lock();
        if s.powered_off {
            return Err(Error::Crashed);
        }
        match s.lookup(path).and_then(|id| s.nodes.get(&id)) {
            Some(Node::File(f)) => Ok(f.live.len() as u64),
            Some(Node::Dir(_)) => Err(Error::io("stat", path, os_err(libc::EISDIR))),
            None => Err(Error::io("stat", path, os_err(libc::ENOENT))),
        }
    }

    fn lock(&self, dir: &Path) -> Result<Box<dyn VfsLock>> {
        let mut s = self.state.lock();
        let epoch = s.epoch;
        s.enter(FaultOp::Create, epoch, dir, "lock")?;
        let Some(id) = s.lookup(dir).filter(|&id| s.dir(id).is_some()) else {
            return Err(Error::io("lock", dir, os_err(libc::ENOENT)));
        };
        let lock_path = dir.join(super::real::LOCK_FILE);
        if !s.locks.insert(id) {
            return Err(Error::Locked { path: lock_path });
        }
        // Like RealFs, leave a LOCK file behind, so both file systems list the same names.
        if s.dir(id)
            .is_some_and(|d| !d.live.contains_key(super::real::LOCK_FILE))
        {
            let file = s.new_node(Node::File(SimFile::default()));
            s.link(id, super::real::LOCK_FILE.to_string(), file);
        }
        Ok(Box::new(SimLock {
            state: Arc::clone(&self.state),
            dir: id,
            epoch,
        }))
    }

    fn evict_cache(&self, _dir: &Path) -> Result<()> {
        Ok(())
    }
}

#[derive(Debug)]
struct SimLock {
    state: Arc<Mutex<State>>,
    dir: NodeId,
    epoch: u64,
}

impl VfsLock for SimLock {}

impl Drop for SimLock {
    fn drop(&mut self) {
        let mut s = self.state.lock();
        // A crash already released every lock of the dead process.
        if s.epoch == self.epoch {
            s.locks.remove(&self.dir);
        }
    }
}

#[derive(Debug)]
struct SimHandle {
    state: Arc<Mutex<State>>,
    node: NodeId,
    epoch: u64,
    path: PathBuf,
}

impl SimHandle {
    /// Runs `f` on the file after counting the call against faults and the crash point.
    fn with<T>(
        &self,
        op: FaultOp,
        name: &'static str,
        f: impl FnOnce(&mut SimFile) -> T,
    ) -> Result<T> {
        let mut s = self.state.lock();
        s.enter(op, self.epoch, &self.path, name)?;
        Ok(f(s.file_mut(self.node)?))
    }
}

impl VfsFile for SimHandle {
    fn path(&self) -> &Path {
        &self.path
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        self.with(FaultOp::Read, "read", |f| {
            let start = (offset as usize).min(f.live.len());
            let n = buf.len().min(f.live.len() - start);
            buf[..n].copy_from_slice(&f.live[start..start + n]);
            n
        })
    }

    fn write_at(&self, data: &[u8], offset: u64) -> Result<()> {
        self.with(FaultOp::Write, "write", |f| {
            apply_write(&mut f.live, offset, data);
            f.pending.push(FileChange::Write {
                offset,
                data: data.to_vec(),
            });
        })
    }

    fn append(&self, data: &[u8]) -> Result<u64> {
        self.with(FaultOp::Write, "append", |f| {
            let offset = f.live.len() as u64;
            apply_write(&mut f.live, offset, data);
            f.pending.push(FileChange::Write {
                offset,
                data: data.to_vec(),
            });
            offset
        })
    }

    fn sync(&self) -> Result<()> {
        let mut s = self.state.lock();
        let result = s.enter(FaultOp::Sync, self.epoch, &self.path, "sync");
        let f = s.file_mut(self.node)?;
        match result {
            Ok(()) => {
                for change in f.pending.drain(..) {
                    apply_file_change(&mut f.durable, &change);
                }
                Ok(())
            }
            Err(Error::Crashed) => Err(Error::Crashed),
            Err(e) => {
                // fsyncgate: the kernel forgets the dirty pages it failed to write.
                f.pending.clear();
                f.live = f.durable.clone();
                Err(e)
            }
        }
    }

    fn len(&self) -> Result<u64> {
        let s = self.state.lock();
        if s.powered_off || s.epoch != self.epoch {
            return Err(Error::Crashed);
        }
        match s.nodes.get(&self.node) {
            Some(Node::File(f)) => Ok(f.live.len() as u64),
            _ => Err(Error::Crashed),
        }
    }

    fn map(&self) -> Result<Option<bytes::Bytes>> {
        // A snapshot of the file: the same bytes a mapping of a file that no longer
        // changes shows.
        self.with(FaultOp::Read, "map", |f| {
            Some(bytes::Bytes::copy_from_slice(&f.live))
        })
    }

    fn truncate(&self, len: u64) -> Result<()> {
        self.with(FaultOp::Truncate, "truncate", |f| {
            f.live.resize(len as usize, 0);
            f.pending.push(FileChange::Truncate(len));
        })
    }
}
