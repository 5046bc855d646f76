//! A library shared with other hosts (an object store): the `lanshare-library` thread tells the
//! store this host is alive, looks for files the other hosts added, changed or deleted, tells
//! this host's sessions (`FILE_OFFER`, `FILE_DELETED`, comments, previews), and now and then
//! sweeps what killed hosts left.

use std::time::{Duration, Instant};

use super::state::Shared;
use crate::storage::{FileRecord, LibraryChange};

/// How often the store is swept, at least.
const SWEEP_EVERY_MOST: Duration = Duration::from_secs(300);

/// Runs until `stop` is dropped (or sent to). Does nothing for a store of this host's own.
pub(super) fn run(shared: &Shared, stop: &flume::Receiver<()>) {
    let Some(config) = shared.storage.object_store() else {
        return;
    };
    let sweep_every = (config.stale_after / 2).clamp(Duration::from_secs(1), SWEEP_EVERY_MOST);
    let mut swept = Instant::now();
    let mut failing = false;
    while let Err(flume::RecvTimeoutError::Timeout) = stop.recv_timeout(config.poll_every) {
        let looked = shared
            .storage
            .heartbeat()
            .and_then(|()| shared.storage.refresh());
        match looked {
            Ok(changes) => {
                if failing {
                    tracing::info!("The object store answers again");
                    failing = false;
                }
                for change in changes {
                    announce(shared, &change);
                }
            }
            Err(error) if !failing => {
                tracing::error!("Cannot follow the shared library: {error}");
                failing = true;
            }
            Err(_) => {}
        }
        if !failing && swept.elapsed() >= sweep_every {
            shared.storage.sweep();
            swept = Instant::now();
        }
    }
}

/// Tells the sessions of this host about a change another host made.
fn announce(shared: &Shared, change: &LibraryChange) {
    let registry = &shared.registry;
    match change {
        LibraryChange::Added(record) => {
            tracing::info!(
                "File '{}' (ID: {}) added at another host",
                super::wire::printable(&record.name),
                record.id
            );
            registry.announce_offer(record, &shared.storage);
            if record.expires_at.is_some() {
                shared.expiry.ring();
            }
        }
        LibraryChange::Removed(record) => {
            tracing::info!("File {} deleted at another host", record.id);
            registry.announce_deleted(record);
        }
        LibraryChange::Changed { before, after } => {
            if listing_of(before) != listing_of(after) {
                registry.announce_access(before, after);
            }
            for comment in &after.comments {
                if !before.comments.iter().any(|c| c.id == comment.id) {
                    registry.announce_comment(after, comment);
                }
            }
            for comment in &before.comments {
                if !after.comments.iter().any(|c| c.id == comment.id) {
                    registry.announce_comment_deleted(after, comment.id);
                }
            }
            if after.preview_ready().is_some() && before.preview != after.preview {
                registry.announce_preview(after);
            }
            if after.expires_at.is_some() {
                shared.expiry.ring();
            }
        }
    }
}

/// What a file's offer says: its record without its comments and preview.
fn listing_of(record: &FileRecord) -> FileRecord {
    FileRecord {
        comments: Vec::new(),
        last_comment: 0,
        preview: None,
        ..record.clone()
    }
}
