//! The write path: group commit (a leader appends its followers' batches and syncs once,
//! with the sync on a thread of its own), poisoning after a failed write or sync, and the
//! memtable switch with its stalls.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::compaction;
use super::memtable::Memtable;
use super::wal_syncer::WalSyncer;
use crate::error::{Error, Result};
use crate::format::log::{self, LogWriter};
use crate::kv::{Durability, WriteBatch};
use crate::planted::planted;
use crate::vfs::{FileKind, Vfs};

use super::db::*;
use super::{filename::*, wal::*};

impl Inner {
    pub(super) fn check_writable(&self) -> Result<()> {
        if let Some(reason) = self.poisoned.lock().as_ref() {
            return Err(Error::Poisoned(reason.clone()));
        }
        Ok(())
    }

    pub(super) fn poison(&self, e: &Error) {
        self.poisoned.lock().get_or_insert_with(|| e.to_string());
    }

    /// Makes the directory's names durable, one thread at a time, and refuses for good
    /// once that failed: a failed sync may drop names another thread has just made (a
    /// table the background thread wrote, a WAL a writer switched to), and a later sync
    /// that succeeds would not bring them back. So after one failure no manifest edit may
    /// name a new table and no new WAL may take writes: the store is poisoned.
    pub(super) fn sync_dir(&self) -> Result<()> {
        let mut failed = self.dir_sync.lock();
        if let Some(why) = &*failed {
            return Err(Error::Poisoned(why.clone()));
        }
        if let Err(e) = self.vfs.sync_dir(&self.dir) {
            *failed = Some(format!("a sync of the directory failed ({e})"));
            self.poison(&e);
            return Err(e);
        }
        Ok(())
    }

    /// The write path: queue, and lead a group commit when first in line.
    pub(super) fn write(&self, batch: &WriteBatch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.check_writable()?;
        let entries = Bytes::from(encode_entries(batch));
        let count = u32::try_from(batch.len())
            .map_err(|_| Error::invalid("batch of 2^32 entries or more"))?;
        let mut q = self.commit.lock();
        let ticket = q.next_ticket;
        q.next_ticket += 1;
        q.queue.push_back((ticket, entries, count));
        loop {
            if let Some(result) = q.done.remove(&ticket) {
                return result.map_err(Error::Poisoned);
            }
            if !q.leader_active && q.queue.front().is_some_and(|(t, _, _)| *t == ticket) {
                break;
            }
            self.commit_cv.wait(&mut q);
        }
        q.leader_active = true;
        let mut group = Vec::new();
        let mut bytes = 0;
        while let Some(front) = q.queue.front() {
            if !group.is_empty() && bytes + front.1.len() > self.opts.max_group_bytes {
                break;
            }
            bytes += front.1.len();
            group.extend(q.queue.pop_front());
        }
        drop(q);
        let result = self.commit_group(&group);
        let mut q = self.commit.lock();
        q.leader_active = false;
        for (t, _, _) in &group[1..] {
            q.done
                .insert(*t, result.as_ref().map(|_| ()).map_err(|e| e.to_string()));
        }
        drop(q);
        self.commit_cv.notify_all();
        result
    }

    /// Makes the group durable and visible. Called by the leader only.
    pub(super) fn commit_group(&self, group: &[(u64, Bytes, u32)]) -> Result<()> {
        let (mem, log) = self.make_room(false, false)?;
        let first = self.last_seq.load(Ordering::Acquire) + 1;
        let mut wal = self.wal.lock();
        let bytes: usize = group
            .iter()
            .map(|(_, e, _)| log::HEADER_LEN + WAL_HEADER + e.len())
            .sum();
        let mut records = Vec::with_capacity(bytes);
        let mut seq = first;
        for (_, entries, count) in group {
            log::encode_record_with(&mut records, wal.synced(), |out| {
                out.extend_from_slice(&log.to_le_bytes());
                out.extend_from_slice(&seq.to_le_bytes());
                out.extend_from_slice(&count.to_le_bytes());
                out.extend_from_slice(entries);
            })?;
            seq += u64::from(*count);
        }
        if let Err(e) = wal.append(&records) {
            self.poison(&e);
            return Err(e);
        }
        let apply = || -> Result<u64> {
            let mut seq = first;
            for (_, entries, count) in group {
                apply_entries(&mem, entries, seq, *count, &self.dir, 0)?;
                seq += u64::from(*count);
            }
            Ok(seq - 1)
        };
        let (synced, applied) = match self.durability {
            Durability::Buffered => (Ok(()), apply()),
            Durability::Sync if planted("lsm_wal_sync") => (Ok(()), apply()),
            // A large group fills the memtable while its sync is in flight: the entries
            // stay invisible until `last_seq` says otherwise, below.
            Durability::Sync if records.len() >= log::SMALL_RECORD => {
                WalSyncer::sync_while(self.syncer.lock().as_ref(), &mut wal, apply)
            }
            Durability::Sync => (wal.sync(), apply()),
        };
        drop(wal);
        if let Err(e) = synced {
            // The memtable may hold the group's entries now, unpublished; a poisoned store
            // takes no further writes and flushes no memtable, so they stay unseen.
            self.poison(&e);
            return Err(e);
        }
        let last = applied.inspect_err(|e| self.poison(e))?;
        self.last_seq.store(last, Ordering::Release);
        if group.len() > 1 {
            self.counters.group_commits.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Returns the memtable to write into and the number of its WAL, switching to a new
    /// pair when the memtable is full (or at once, if `force` and it holds anything), and
    /// stalling while the tree is too far behind. With `claim`, a memtable switched out
    /// is left for the caller to merge down rather than to the flush thread.
    pub(super) fn make_room(&self, force: bool, claim: bool) -> Result<(Arc<Memtable>, u64)> {
        // A switch to a new WAL and memtable that failed part way leaves them in no state
        // to take writes, and a failed sync of the old WAL may have lost records the
        // memtable still serves: the store refuses writes (and syncs) from here on, as
        // after any failed write, whether a commit or a settle asked for the room.
        self.switch_when_full(force, claim)
            .inspect_err(|e| self.poison(e))
    }

    /// [`make_room`](Self::make_room) before the poisoning.
    fn switch_when_full(&self, force: bool, claim: bool) -> Result<(Arc<Memtable>, u64)> {
        // A poisoned store's memtable may hold entries of a group whose sync failed: it
        // takes no more writes and is never flushed.
        self.check_writable()?;
        let mut st = self.state.lock();
        let mut slowed = false;
        loop {
            if let Some(e) = &st.bg_error {
                return Err(Error::Poisoned(e.clone()));
            }
            let l0 = st.version.levels[0].len();
            // (Tiered keeps its runs in level 0: their number is the policy's to bound.)
            let leveled = compaction::policy(self.opts.compaction).drains_level0();
            if leveled && l0 >= self.opts.l0_slowdown && !slowed && !force {
                // Give compaction a millisecond before going on.
                slowed = true;
                let start = Instant::now();
                drop(st);
                std::thread::sleep(Duration::from_millis(1));
                self.note_stall(start);
                st = self.state.lock();
                continue;
            }
            let full = st.mem.size() >= self.opts.memtable_size || (force && !st.mem.is_empty());
            let stop = leveled && l0 >= self.opts.l0_stop;
            if !full && !stop {
                return Ok((Arc::clone(&st.mem), st.wal_number));
            }
            if st.imm.is_some() || stop {
                let start = Instant::now();
                self.bg_cv.notify_all();
                self.bg_cv.wait_for(&mut st, Duration::from_millis(100));
                self.note_stall(start);
                continue;
            }
            // Switch: a new WAL for a new memtable (the spare one under a new name, if a
            // flush left one); the old pair goes to be flushed.
            let number = st.next_file;
            st.next_file += 1;
            let path = wal_path(&self.dir, number);
            let step = wal_step(&self.opts);
            let writer = match st.spare_wal.take() {
                Some(old) => {
                    self.vfs.rename(&wal_path(&self.dir, old), &path)?;
                    LogWriter::reusing(self.vfs.open(&path, FileKind::Wal)?, step)?
                }
                None => LogWriter::stepped(self.vfs.create(&path, FileKind::Wal)?, step),
            };
            // The name must be durable before a record in the file is acknowledged.
            self.sync_dir()?;
            let mut wal = self.wal.lock();
            if self.durability == Durability::Buffered {
                // What was written to the old WAL must not stay unsynced forever.
                wal.sync()?;
            }
            *wal = writer;
            drop(wal);
            let old = std::mem::replace(&mut st.mem, Arc::new(Memtable::new()));
            st.imm = Some(old);
            st.imm_wal_number = Some(st.wal_number);
            st.imm_claimed = claim;
            st.wal_number = number;
            self.bg_cv.notify_all();
            return Ok((Arc::clone(&st.mem), number));
        }
    }

    pub(super) fn note_stall(&self, start: Instant) {
        self.counters.stalls.fetch_add(1, Ordering::Relaxed);
        self.counters
            .stall_micros
            .fetch_add(start.elapsed().as_micros() as u64, Ordering::Relaxed);
    }
}
