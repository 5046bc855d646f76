//! The `lanshare-previews` thread: makes the preview of each stored file's latest version once,
//! one file at a time, at the lowest CPU priority, so that it never competes with transfers.
//! Its queue is the catalog itself: it takes up to [`BATCH`] files still lacking a preview,
//! newest first, works through them and looks again; with none left it sleeps until a file is
//! stored. A host started on a disk store whose files lack previews (stored by an older
//! lanshare, or by a host stopped first) makes them the same way. Memory stays bounded: one
//! preview is made at a time, within the preview maker's limits ([`crate::preview`]).

use std::collections::HashSet;
use std::io::Cursor;
use std::time::Instant;

use super::doorbell::Doorbell;
use super::registry::Registry;
use super::wire::printable;
use crate::preview::make_preview;
use crate::protocol::FileId;
use crate::storage::{Content, FileRecord, Storage, StorageError};

/// How many files the thread takes from the catalog at a time.
const BATCH: usize = 64;

/// Most files whose preview failed to be kept (the store full, a disk error) remembered so as
/// not to retry them at once; past it they are tried again.
const MAX_GIVEN_UP: usize = 4096;

/// Makes the previews of `storage`'s files, telling the `registry`'s sessions of each one
/// made, until `queue` is stopped; runs on a thread of its own.
pub(super) fn run(storage: &Storage, registry: &Registry, queue: &Doorbell) {
    lower_priority();
    let mut given_up: HashSet<(FileId, u32)> = HashSet::new();
    loop {
        let batch = storage.lacking_previews(BATCH, |record| {
            !given_up.contains(&(record.id, record.version))
        });
        if batch.is_empty() {
            if !queue.sleep(None) {
                return;
            }
            continue;
        }
        for record in batch {
            if queue.is_stopped() {
                return;
            }
            if let Err(error) = make_one(storage, registry, &record) {
                tracing::warn!(
                    "No preview of '{}' (ID: {}): {error}",
                    printable(&record.name),
                    record.id
                );
                if given_up.len() >= MAX_GIVEN_UP {
                    given_up.clear();
                }
                given_up.insert((record.id, record.version));
            }
        }
    }
}

/// Makes and keeps the preview of `record`'s latest version, and tells the sessions that may
/// see it.
fn make_one(
    storage: &Storage,
    registry: &Registry,
    record: &FileRecord,
) -> Result<(), StorageError> {
    let Some((_, version, content)) = storage.open_content(record.id, Some(record.version))? else {
        return Ok(());
    };
    let started = Instant::now();
    let made = match content {
        Content::Memory(blob) => make_preview(Cursor::new(blob.bytes())),
        Content::Disk(file) => make_preview(file),
        // Read as a file is: only what the preview maker looks at is fetched.
        Content::Object(object) => make_preview(object.seekable(version.size)),
    };
    tracing::debug!(
        "Preview of '{}' (ID: {}): {} in {:?}",
        printable(&record.name),
        record.id,
        made.as_ref()
            .map_or_else(|| "none".to_owned(), |made| made.kind.to_string()),
        started.elapsed()
    );
    let kept = storage.set_preview(record.id, version.number, made.as_ref())?;
    if let Some(record) = kept.filter(|record| record.preview_ready().is_some()) {
        registry.announce_preview(&record);
    }
    Ok(())
}

/// Puts the calling thread at the lowest CPU priority (Linux: niceness is per thread).
#[cfg(target_os = "linux")]
fn lower_priority() {
    // Best effort: without it previews are made at normal priority, still one at a time.
    if let Err(error) = rustix::process::setpriority_process(None, 19) {
        tracing::debug!("Could not lower the previews thread's priority: {error}");
    }
}

/// Elsewhere the thread keeps its priority (it still makes one preview at a time).
#[cfg(not(target_os = "linux"))]
fn lower_priority() {}
