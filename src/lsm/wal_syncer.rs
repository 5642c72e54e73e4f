//! A thread kept to sync the WAL while the commit leader inserts its group's entries.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::error::{Error, Result};
use crate::format::log::LogWriter;
use crate::vfs::VfsFile;

/// A thread kept to sync the WAL while the commit leader inserts its group's entries: a
/// sync of a large group's records takes a millisecond or more, about as long as
/// inserting them, so the two overlap. Handing a sync over through two channels costs
/// about 15 µs; starting a thread for each group cost about 65 µs, before its sync began.
pub(super) struct WalSyncer {
    /// Files to sync (`None` once dropped, which ends the thread).
    requests: Option<SyncSender<Arc<dyn VfsFile>>>,
    results: Receiver<Result<()>>,
    thread: Option<JoinHandle<()>>,
}

impl WalSyncer {
    /// Starts the thread; `None` when none can be started (syncs then run in turn).
    pub(super) fn start() -> Option<WalSyncer> {
        let (requests, incoming) = sync_channel::<Arc<dyn VfsFile>>(1);
        let (outgoing, results) = sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("kvlab-lsm-sync".into())
            .spawn(move || {
                for file in incoming {
                    if outgoing.send(file.sync()).is_err() {
                        break;
                    }
                }
            })
            .ok()?;
        Some(WalSyncer {
            requests: Some(requests),
            results,
            thread: Some(thread),
        })
    }

    /// Syncs `wal` on the `syncer`'s thread while this one runs `apply`, and returns both
    /// results; in turn when there is no thread.
    pub(super) fn sync_while(
        syncer: Option<&WalSyncer>,
        wal: &mut LogWriter,
        apply: impl FnOnce() -> Result<u64>,
    ) -> (Result<()>, Result<u64>) {
        let Some(syncer) = syncer.filter(|s| {
            s.requests
                .as_ref()
                .is_some_and(|r| r.send(wal.file()).is_ok())
        }) else {
            return (wal.sync(), apply());
        };
        let applied = apply();
        let synced = syncer
            .results
            .recv()
            .unwrap_or_else(|_| Err(Error::Poisoned("the WAL sync thread stopped".into())));
        if synced.is_ok() {
            wal.note_synced();
        }
        (synced, applied)
    }
}

impl Drop for WalSyncer {
    fn drop(&mut self) {
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
