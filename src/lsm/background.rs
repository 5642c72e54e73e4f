//! Background work: flushing memtables, compacting, settling, and installing each new
//! version through a manifest edit.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::compaction::{self, Plan};
use super::iter::InternalIterator;
use super::memtable::Memtable;
use super::version::{TableFile, Version, VersionEdit};
use crate::error::{Error, Result};
use crate::format::log;
use crate::vfs::Vfs;

use super::db::*;
use super::{filename::*, manifest::*};

impl Inner {
    /// Deletes the spare WAL and cuts the live one back to its records: room kept for
    /// the next writes that a settled store should not hold on to.
    pub(super) fn give_back_wal_room(&self) -> Result<()> {
        let spare = self.state.lock().spare_wal.take();
        if let Some(number) = spare {
            self.vfs.remove(&wal_path(&self.dir, number))?;
        }
        self.wal.lock().trim()
    }

    /// Switches the memtable now (as a writer would when it is full), if it holds data;
    /// with `claim`, the old one is the caller's to merge down (see `make_room`).
    pub(super) fn force_flush(&self, claim: bool) -> Result<()> {
        // Take the commit leadership so no group is being written meanwhile.
        let mut q = self.commit.lock();
        while q.leader_active {
            self.commit_cv.wait(&mut q);
        }
        q.leader_active = true;
        drop(q);
        let result = self.make_room(true, claim).map(|_| ());
        self.commit.lock().leader_active = false;
        self.commit_cv.notify_all();
        result
    }

    /// Waits until nothing is being flushed and no compaction is due.
    pub(super) fn wait_idle(&self) -> Result<()> {
        let mut st = self.state.lock();
        loop {
            if let Some(e) = &st.bg_error {
                return Err(Error::Poisoned(e.clone()));
            }
            let mut pointers = st.pointers.clone();
            let due = compaction::pick(&st.version, &self.opts, &mut pointers).is_some();
            if st.imm.is_none() && !st.bg_busy && !due {
                return Ok(());
            }
            self.bg_cv.notify_all();
            self.bg_cv.wait_for(&mut st, Duration::from_millis(50));
        }
    }

    /// Merges the memtable and every level-0 table into the level below, leaving level 0
    /// empty. A memtable that meets tables there goes straight into the merge: written
    /// out as a level-0 table first, it was written and synced only to be read back at
    /// once (a fifth of a settle after a fill of 1M keys). One that meets none is flushed
    /// as usual and moved down.
    pub(super) fn settle_level0(&self) -> Result<()> {
        self.force_flush(true)?;
        let work = self.work.lock();
        let plan = {
            let mut st = self.state.lock();
            let imm = st.imm.clone().filter(|_| st.imm_claimed);
            let range = imm.as_ref().and_then(|m| m.key_range());
            let plan = range
                .and_then(|(lo, hi)| compaction::plan_settle(&st.version, &self.opts, (&lo, &hi)));
            if plan.is_none() && st.imm_claimed {
                st.imm_claimed = false;
                self.bg_cv.notify_all();
            }
            plan.map(|plan| Plan {
                memtable: imm,
                ..plan
            })
        };
        if let Some(plan) = plan {
            let result = self.run_compaction(&plan);
            let mut st = self.state.lock();
            if st.imm_claimed {
                // The merge failed: the memtable is the flush thread's to write out.
                st.imm_claimed = false;
                self.bg_cv.notify_all();
            }
            result?;
        }
        drop(work);
        self.wait_idle()?;
        self.compact_level0()
    }

    /// Merges whatever is in level 0 into the level below it now (the base level).
    pub(super) fn compact_level0(&self) -> Result<()> {
        let _work = self.work.lock();
        // Every user key lies in [empty, 1025 bytes of 0xff].
        let top = [0xffu8; crate::MAX_KEY_LEN + 1];
        let plan = compaction::plan_range(&self.state.lock().version, &self.opts, 0, &[], &top);
        match plan {
            Some(plan) => self.run_compaction(&plan),
            None => Ok(()),
        }
    }

    pub(super) fn alloc_number(&self) -> u64 {
        let mut st = self.state.lock();
        let n = st.next_file;
        st.next_file += 1;
        n
    }

    /// Logs `edit` to the manifest (durably) and installs the version it makes.
    pub(super) fn log_and_apply(
        &self,
        mut edit: VersionEdit,
        obsolete: &[Arc<TableFile>],
    ) -> Result<()> {
        let _install = self.install.lock();
        // After a failed manifest write or sync (by this thread or the other one) the last
        // edit may be lost or torn: nothing may be logged after it.
        self.check_writable()?;
        let base = Arc::clone(&self.state.lock().version);
        let shared: Arc<dyn Vfs> = self.vfs.clone();
        let next = base.apply(&edit, |meta| {
            Ok(Arc::new(TableFile::open(
                Arc::clone(&shared),
                &self.dir,
                meta.clone(),
                Arc::clone(&self.cache),
                Arc::clone(&self.handles),
                self.opts.mmap_reads,
            )?))
        })?;
        if !edit.added.is_empty() && !crate::planted::planted("lsm_dir_sync") {
            // The new tables' names must be durable before the manifest names them.
            self.sync_dir()?;
        }
        let mut manifest = self.manifest.lock();
        edit.next_file = Some(self.state.lock().next_file);
        edit.last_seq = Some(self.last_seq.load(Ordering::Acquire));
        let mut record = Vec::new();
        log::encode_record(&mut record, &edit.encode(), manifest.log.synced())?;
        if let Err(e) = manifest
            .log
            .append(&record)
            .and_then(|()| manifest.log.sync())
        {
            self.poison(&e);
            return Err(e);
        }
        if let Some(log) = edit.log_number {
            manifest.log_number = log;
        }
        let next = Arc::new(next);
        self.state.lock().version = Arc::clone(&next);
        for t in obsolete {
            t.mark_obsolete();
        }
        if manifest.log.len() > self.opts.manifest_limit {
            self.roll_manifest(&mut manifest, &next)
                .inspect_err(|e| self.poison(e))?;
        }
        Ok(())
    }

    /// Starts a new manifest holding `version` whole, in place of `manifest`, which has
    /// grown past `manifest_limit` with edits: without this it would grow for as long as
    /// the store stays open. A failure poisons the store, since which manifest CURRENT
    /// names after a crash is then unknown.
    pub(super) fn roll_manifest(&self, manifest: &mut Manifest, version: &Version) -> Result<()> {
        let number = self.alloc_number();
        let snapshot = VersionEdit {
            log_number: Some(manifest.log_number),
            next_file: Some(self.state.lock().next_file),
            last_seq: Some(self.last_seq.load(Ordering::Acquire)),
            ..whole_version(version)
        };
        let log = write_manifest(self.vfs.as_ref(), &self.dir, number, &snapshot)?;
        let old = std::mem::replace(
            manifest,
            Manifest {
                log,
                number,
                log_number: manifest.log_number,
            },
        );
        // Best effort: a leftover manifest is removed at the next open.
        let _ = self.vfs.remove(&self.dir.join(manifest_name(old.number)));
        self.counters.manifest_rolls.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    pub(super) fn flush(&self, imm: Arc<Memtable>, imm_wal: u64, new_log: u64) -> Result<()> {
        let mut it = imm.iter();
        it.seek_to_first()?;
        let outputs = compaction::write_tables(
            self.vfs.as_ref(),
            &self.dir,
            &self.opts,
            &mut it,
            compaction::Rules::FLUSH,
            || self.alloc_number(),
        )?;
        let mut edit = VersionEdit {
            log_number: Some(new_log),
            ..VersionEdit::default()
        };
        for out in outputs {
            self.counters
                .flush_bytes
                .fetch_add(out.meta.size, Ordering::Relaxed);
            edit.added.push((0, out.meta));
        }
        self.log_and_apply(edit, &[])?;
        self.retire_imm(imm_wal);
        Ok(())
    }

    /// Lets go of the immutable memtable, whose entries the version now holds in tables,
    /// and of its WAL `wal`: kept as the spare, or deleted.
    pub(super) fn retire_imm(&self, wal: u64) {
        let kept = {
            let mut st = self.state.lock();
            st.imm = None;
            st.imm_wal_number = None;
            st.imm_claimed = false;
            let keep = st.spare_wal.is_none();
            if keep {
                st.spare_wal = Some(wal);
            }
            keep
        };
        self.counters.flushes.fetch_add(1, Ordering::Relaxed);
        if !kept {
            let _ = self.vfs.remove(&wal_path(&self.dir, wal));
        }
        self.bg_cv.notify_all();
    }

    pub(super) fn run_compaction(&self, plan: &Plan) -> Result<()> {
        if plan.is_move() {
            // Only the manifest changes: the same tables, one level down.
            let mut edit = VersionEdit::default();
            for (level, t) in &plan.inputs {
                edit.removed.push((*level, t.meta.number));
                edit.added.push((plan.output_level, t.meta.clone()));
            }
            self.log_and_apply(edit, &[])?;
            let tables = plan.inputs.len() as u64;
            self.counters.moves.fetch_add(tables, Ordering::Relaxed);
            return Ok(());
        }
        let read: u64 = plan.inputs.iter().map(|(_, t)| t.meta.size).sum();
        let outputs = compaction::run(plan, self.vfs.as_ref(), &self.dir, &self.opts, &|| {
            self.alloc_number()
        })?;
        let mut edit = VersionEdit::default();
        let imm_wal = match plan.memtable {
            // The outputs hold the memtable's entries: only the live WAL is needed now.
            // (No switch can come while this memtable is still the immutable one.)
            Some(_) => {
                let st = self.state.lock();
                edit.log_number = Some(st.wal_number);
                st.imm_wal_number
            }
            None => None,
        };
        for (level, t) in &plan.inputs {
            edit.removed.push((*level, t.meta.number));
        }
        let mut written = 0;
        for out in outputs {
            written += out.meta.size;
            edit.added.push((plan.output_level, out.meta));
        }
        let obsolete: Vec<Arc<TableFile>> =
            plan.inputs.iter().map(|(_, t)| Arc::clone(t)).collect();
        self.log_and_apply(edit, &obsolete)?;
        if let Some(wal) = imm_wal {
            self.retire_imm(wal);
        }
        self.counters.compactions.fetch_add(1, Ordering::Relaxed);
        self.counters
            .compaction_bytes_read
            .fetch_add(read, Ordering::Relaxed);
        self.counters
            .compaction_bytes_written
            .fetch_add(written, Ordering::Relaxed);
        Ok(())
    }

    /// The flush thread: writes each full memtable to a level-0 table. It runs beside the
    /// compaction thread, so a long merge never keeps a full memtable waiting (and the
    /// writers stalled behind it).
    pub(super) fn flush_thread(&self) {
        loop {
            let (imm, wal, new_log) = {
                let mut st = self.state.lock();
                loop {
                    if st.shutting_down || st.bg_error.is_some() {
                        return;
                    }
                    if let (Some(imm), Some(wal), false) =
                        (&st.imm, st.imm_wal_number, st.imm_claimed)
                    {
                        break (Arc::clone(imm), wal, st.wal_number);
                    }
                    self.bg_cv.wait(&mut st);
                }
            };
            let result = self.flush(imm, wal, new_log);
            self.finish_job(result);
        }
    }

    /// The compaction thread: merges tables down whenever a level is over its limit.
    pub(super) fn compaction_thread(&self) {
        loop {
            {
                let mut st = self.state.lock();
                loop {
                    if st.shutting_down || st.bg_error.is_some() {
                        return;
                    }
                    let mut pointers = st.pointers.clone();
                    if compaction::pick(&st.version, &self.opts, &mut pointers).is_some() {
                        break;
                    }
                    self.bg_cv.wait(&mut st);
                }
            }
            // Plan under the work lock: a manual compaction may have changed things.
            let _work = self.work.lock();
            let plan = {
                let mut st = self.state.lock();
                let version = Arc::clone(&st.version);
                match compaction::pick(&version, &self.opts, &mut st.pointers) {
                    Some(plan) => {
                        st.bg_busy = true;
                        plan
                    }
                    None => continue,
                }
            };
            let result = self.run_compaction(&plan);
            // Let go of the inputs before saying the work is done: the last holder of a
            // replaced table deletes its file, and a caller of `settle` may look next.
            drop(plan);
            self.state.lock().bg_busy = false;
            self.finish_job(result);
        }
    }

    /// Records how a flush or compaction ended and wakes whoever waits on it.
    pub(super) fn finish_job(&self, result: Result<()>) {
        if let Err(e) = result {
            let mut st = self.state.lock();
            st.bg_error
                .get_or_insert_with(|| format!("background work failed: {e}"));
        }
        self.bg_cv.notify_all();
    }
}
