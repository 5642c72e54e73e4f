//! Read-ahead for scans, asked for on a helper thread.
//!
//! A scan reading tables from the device asks the file system for the bytes ahead of it
//! (`VfsFile::prefetch`: `POSIX_FADV_WILLNEED` on a real disk). The call does not wait
//! for the device, but it is not free either: the kernel allocates a page-cache page for
//! each 4 KiB asked for and queues its read, on the caller's CPU. A scan asking on its own
//! thread does that work between parsing one window and the next; handed to this thread,
//! it runs on another core while the scan parses.
//!
//! One thread serves the process, started at the first request. A request holds its
//! table open until served (the file may already be unlinked: that changes nothing). When
//! the queue is full, or no thread could be started, the caller asks itself: a hint is
//! never dropped silently, only moved back onto the scan's own time.

use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, OnceLock};

/// What can be read ahead: a table's file, asked for a range of its bytes.
pub trait Prefetch: Send + Sync {
    /// Asks the file system to read `len` bytes at `offset` into memory (a hint).
    fn prefetch(&self, offset: u64, len: u64);
}

/// Requests waiting for the helper at most (each asks for up to a scan's window).
const QUEUE: usize = 64;

struct Request {
    table: Arc<dyn Prefetch>,
    offset: u64,
    len: u64,
}

/// The helper's queue, or `None` when its thread could not be started.
fn helper() -> Option<&'static SyncSender<Request>> {
    static HELPER: OnceLock<Option<SyncSender<Request>>> = OnceLock::new();
    HELPER
        .get_or_init(|| {
            let (sender, receiver) = sync_channel::<Request>(QUEUE);
            std::thread::Builder::new()
                .name("lsm-readahead".into())
                .spawn(move || {
                    for request in receiver {
                        request.table.prefetch(request.offset, request.len);
                    }
                })
                .ok()
                .map(|_| sender)
        })
        .as_ref()
}

/// Asks, from the helper thread when it has room, for `len` bytes of `table` at `offset`
/// to be read into memory ahead of a scan.
pub fn read_ahead<T: Prefetch + 'static>(table: &Arc<T>, offset: u64, len: u64) {
    let Some(sender) = helper() else {
        return table.prefetch(offset, len);
    };
    let request = Request {
        table: Arc::clone(table) as Arc<dyn Prefetch>,
        offset,
        len,
    };
    match sender.try_send(request) {
        Ok(()) => {}
        Err(TrySendError::Full(request) | TrySendError::Disconnected(request)) => {
            request.table.prefetch(request.offset, request.len);
        }
    }
}
