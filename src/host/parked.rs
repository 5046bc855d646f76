//! Uploads cut off mid-way (`UPLOAD_RESUME`), kept for a while so that their sender can
//! continue them instead of starting over.
//!
//! A parked upload is an [`Incoming`] with the bytes that arrived: it still holds its share of
//! the store's cap (and, in the disk store, its `incoming/*.part` file). It is filed under the
//! verified participant who sent it and the client's resume key, so no one else can take it
//! over. It is freed when taken back, when it expires (a sweeper thread looks every few
//! seconds), when its participant parks too many, when a new upload needs its room, or when
//! the host stops.
//!
//! It also remembers, for as long, which resumable uploads were stored: a client whose
//! connection broke after the last byte but before `STORED` arrived retries, and is told the
//! file is already there instead of sending it again (and listing it twice).

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::pipeline::UploadDigests;
use crate::protocol::{ClientId, FileId, ResumeKey};
use crate::storage::Incoming;

/// How many cut-off uploads one participant may have parked at once; parking another frees
/// the oldest of them.
pub(super) const MAX_PARKED_PER_PARTICIPANT: usize = 4;

/// Longest pause between two sweeps of expired uploads.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// One cut-off upload.
struct Parked {
    incoming: Incoming,
    filename: String,
    parked_at: Instant,
}

/// How many stored uploads are remembered per participant; remembering another forgets the
/// oldest.
const MAX_REMEMBERED_PER_PARTICIPANT: usize = 64;

/// A resumable upload that was stored.
struct Finished {
    filename: String,
    size: u64,
    file_id: FileId,
    digests: UploadDigests,
    stored_at: Instant,
}

/// Where a parked upload is filed: who sent it, and the client's key for it.
type Slot = (ClientId, ResumeKey);

/// The cut-off uploads the host keeps.
pub(super) struct ParkedUploads {
    kept_for: Duration,
    uploads: Mutex<HashMap<Slot, Parked>>,
    finished: Mutex<HashMap<Slot, Finished>>,
    stopped: Mutex<bool>,
    wake: Condvar,
}

/// Removes `client_id`'s oldest entries (by `since`) beyond `cap`; returns them.
fn remove_oldest_beyond<T>(
    entries: &mut HashMap<Slot, T>,
    client_id: ClientId,
    cap: usize,
    since: impl Fn(&T) -> Instant,
) -> Vec<T> {
    let mut theirs: Vec<(Slot, Instant)> = entries
        .iter()
        .filter(|((owner, _), _)| *owner == client_id)
        .map(|(slot, entry)| (*slot, since(entry)))
        .collect();
    theirs.sort_by_key(|(_, at)| *at);
    let excess = theirs.len().saturating_sub(cap);
    theirs
        .into_iter()
        .take(excess)
        .filter_map(|(slot, _)| entries.remove(&slot))
        .collect()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update is a single insert or remove: a poisoned lock is still consistent.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ParkedUploads {
    /// Keeps each parked upload for `kept_for`.
    pub(super) fn new(kept_for: Duration) -> Self {
        Self {
            kept_for,
            uploads: Mutex::new(HashMap::new()),
            finished: Mutex::new(HashMap::new()),
            stopped: Mutex::new(false),
            wake: Condvar::new(),
        }
    }

    /// Keeps a cut-off upload of `client_id` under `key`, replacing any kept there before.
    /// An upload with no byte received is not worth keeping and is dropped.
    pub(super) fn park(
        &self,
        client_id: ClientId,
        key: ResumeKey,
        filename: String,
        incoming: Incoming,
    ) {
        if incoming.received() == 0 {
            return;
        }
        let mut freed = Vec::new();
        {
            let mut uploads = lock(&self.uploads);
            let parked = Parked {
                incoming,
                filename,
                parked_at: Instant::now(),
            };
            freed.extend(uploads.insert((client_id, key), parked));
            freed.extend(remove_oldest_beyond(
                &mut uploads,
                client_id,
                MAX_PARKED_PER_PARTICIPANT,
                |parked| parked.parked_at,
            ));
        }
        // Dropped outside the lock: a disk upload's file is deleted on drop.
        drop(freed);
    }

    /// Takes back the upload `client_id` parked under `key`, if it is for the same file name
    /// and size; one parked for another file is freed.
    pub(super) fn take(
        &self,
        client_id: ClientId,
        key: ResumeKey,
        filename: &str,
        size: u64,
    ) -> Option<Incoming> {
        let parked = lock(&self.uploads).remove(&(client_id, key))?;
        let same_file = parked.filename == filename && parked.incoming.expected() == size;
        let fresh = parked.parked_at.elapsed() < self.kept_for;
        (same_file && fresh).then_some(parked.incoming)
    }

    /// Remembers that the upload `client_id` sent under `key` is stored as `file_id`.
    pub(super) fn remember_stored(
        &self,
        (client_id, key): (ClientId, ResumeKey),
        filename: &str,
        size: u64,
        (file_id, digests): (FileId, UploadDigests),
    ) {
        let mut finished = lock(&self.finished);
        finished.insert(
            (client_id, key),
            Finished {
                filename: filename.to_owned(),
                size,
                file_id,
                digests,
                stored_at: Instant::now(),
            },
        );
        remove_oldest_beyond(
            &mut finished,
            client_id,
            MAX_REMEMBERED_PER_PARTICIPANT,
            |done| done.stored_at,
        );
    }

    /// The file stored, within the window, for the upload `client_id` sends under `key`, if
    /// it was the same file name and size.
    pub(super) fn stored_before(
        &self,
        (client_id, key): (ClientId, ResumeKey),
        filename: &str,
        size: u64,
    ) -> Option<(FileId, UploadDigests)> {
        let finished = lock(&self.finished);
        let done = finished.get(&(client_id, key))?;
        (done.filename == filename && done.size == size && done.stored_at.elapsed() < self.kept_for)
            .then_some((done.file_id, done.digests))
    }

    /// Frees the upload parked longest ago, to make room for a new one; false if none is.
    pub(super) fn free_oldest(&self) -> bool {
        let oldest = {
            let mut uploads = lock(&self.uploads);
            let slot = uploads
                .iter()
                .min_by_key(|(_, parked)| parked.parked_at)
                .map(|(slot, _)| *slot);
            slot.and_then(|slot| uploads.remove(&slot))
        };
        oldest.is_some()
    }

    /// How many uploads are parked now.
    pub(super) fn count(&self) -> usize {
        lock(&self.uploads).len()
    }

    /// Frees the uploads kept longer than allowed, and forgets stored ones as old.
    fn sweep(&self) {
        lock(&self.finished).retain(|_, done| done.stored_at.elapsed() < self.kept_for);
        let expired: Vec<Parked> = {
            let mut uploads = lock(&self.uploads);
            let slots: Vec<Slot> = uploads
                .iter()
                .filter(|(_, parked)| parked.parked_at.elapsed() >= self.kept_for)
                .map(|(slot, _)| *slot)
                .collect();
            slots
                .iter()
                .filter_map(|slot| uploads.remove(slot))
                .collect()
        };
        for parked in &expired {
            tracing::info!(
                "Discarded the cut-off upload of '{}' ({} of {} bytes): not resumed within {:?}",
                super::wire::printable(&parked.filename),
                parked.incoming.received(),
                parked.incoming.expected(),
                self.kept_for
            );
        }
    }

    /// Sweeps expired uploads until [`ParkedUploads::stop`]; run on a thread of its own.
    pub(super) fn run_sweeper(&self) {
        let pause = (self.kept_for / 4).clamp(Duration::from_millis(50), SWEEP_EVERY);
        let mut stopped = lock(&self.stopped);
        while !*stopped {
            stopped = self
                .wake
                .wait_timeout(stopped, pause)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
            if !*stopped {
                self.sweep();
            }
        }
    }

    /// Ends the sweeper and frees every parked upload (the host is stopping).
    pub(super) fn stop(&self) {
        *lock(&self.stopped) = true;
        self.wake.notify_all();
        let all: Vec<Parked> = lock(&self.uploads)
            .drain()
            .map(|(_, parked)| parked)
            .collect();
        drop(all);
    }
}
