//! A disk store's copy in an object store (`--backup s3://…`), kept in step by the
//! `lanshare-backup` thread: a file stored, changed (a version, comments, who may see it, its
//! preview) or deleted is copied or removed there soon after. The copy is an object-store
//! library like any other ([`super::object`]): a host can even be started on it with
//! `--storage s3://…`. A host started on an empty folder with a backup restores the folder from
//! it first; one started on a folder with files brings the backup in step with them.
//!
//! While the store cannot be reached, the changes wait (the latest of each file) and are
//! copied once it is back.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::metadata;
use super::object::{ObjectStore, StoredObject};
use super::record::{FileRecord, StorageError};
use super::s3::{Condition, ObjectStoreConfig};
use crate::protocol::FileId;

/// How long the thread waits before trying again when the store cannot be reached.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// What the backup is told.
enum Job {
    /// The file is stored (or changed) as this record says.
    Save(Arc<FileRecord>),
    /// The file is deleted.
    Remove(FileId),
    /// These are all the files the disk store holds: the backup drops the others.
    KeepOnly(Vec<FileId>),
}

/// What the backup holds of one file.
struct Copied {
    record: FileRecord,
    objects: BTreeMap<u32, String>,
}

/// The copy of a disk store, and the thread that keeps it in step.
pub(super) struct Backup {
    jobs: Option<flume::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Backup {
    /// Connects to the backup (refusing if the store cannot be used); if the disk store's
    /// folder `dir` has no files yet, fills it from the backup. Call before opening the disk
    /// store.
    pub(super) fn open(config: &ObjectStoreConfig, dir: &Path) -> Result<Self, StorageError> {
        let (store, stored) = ObjectStore::open(config)?;
        let files = dir.join("files");
        fs::create_dir_all(&files)?;
        let empty = !fs::read_dir(&files)?
            .flatten()
            .any(|entry| entry.file_name().to_string_lossy().ends_with(".json"));
        if empty && !stored.is_empty() {
            tracing::info!(
                "Restoring {} file(s) from the backup {}",
                stored.len(),
                config.describe()
            );
            for file in &stored {
                restore(&store, file, &files)?;
            }
        }
        let copied = stored
            .into_iter()
            .map(|file| {
                let copied = Copied {
                    record: file.record,
                    objects: file.objects,
                };
                (copied.record.id, copied)
            })
            .collect();
        let (jobs, queued) = flume::unbounded();
        let thread = std::thread::Builder::new()
            .name("lanshare-backup".into())
            .spawn(move || run(&store, &files, copied, &queued))?;
        Ok(Self {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Brings the backup in step with the files the disk store holds (at start): each is
    /// compared with its copy, and files the store no longer has are dropped.
    pub(super) fn align(&self, records: &[Arc<FileRecord>]) {
        for record in records {
            self.saved(record);
        }
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(Job::KeepOnly(records.iter().map(|r| r.id).collect()));
        }
    }

    /// Copies a file stored or changed.
    pub(super) fn saved(&self, record: &Arc<FileRecord>) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(Job::Save(Arc::clone(record)));
        }
    }

    /// Removes a file deleted.
    pub(super) fn removed(&self, id: FileId) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(Job::Remove(id));
        }
    }
}

impl Drop for Backup {
    fn drop(&mut self) {
        // The thread copies what is queued (one try each), then ends.
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Writes one file of the backup into the disk store's folder `files`: each version's bytes,
/// its preview, then its metadata (which makes it a file).
fn restore(store: &ObjectStore, file: &StoredObject, files: &Path) -> Result<(), StorageError> {
    let id = file.record.id;
    for (number, key) in &file.objects {
        let path = metadata::version_data_path(files, id, *number);
        copy_to(store.content(key).read_from(0)?, &path)?;
    }
    let mut record = file.record.clone();
    if record.preview_ready().is_some() {
        match store.read_preview(id, record.version)? {
            Some(bytes) => fs::write(metadata::preview_path(files, id), bytes)?,
            // Made again by the host.
            None => record.preview = None,
        }
    }
    metadata::replace(files, &record)
}

/// Copies everything `reader` gives into a new file at `path` (written under a temporary name
/// and synced first).
fn copy_to(mut reader: Box<dyn io::Read + Send>, path: &Path) -> Result<(), StorageError> {
    let temp = path.with_extension("restoring");
    let mut file = File::create(&temp)?;
    io::copy(&mut reader, &mut file)?;
    file.sync_all()?;
    fs::rename(&temp, path)?;
    Ok(())
}

/// The thread: applies each job, keeping those the store could not take for later (the
/// latest of each file), until the sender is dropped.
fn run(
    store: &ObjectStore,
    files: &Path,
    mut copied: HashMap<FileId, Copied>,
    queued: &flume::Receiver<Job>,
) {
    let mut waiting: BTreeMap<FileId, Job> = BTreeMap::new();
    loop {
        let next = if waiting.is_empty() {
            queued.recv().ok()
        } else {
            match queued.recv_timeout(RETRY_AFTER) {
                Ok(job) => Some(job),
                Err(flume::RecvTimeoutError::Timeout) => None,
                Err(flume::RecvTimeoutError::Disconnected) => {
                    apply_all(store, files, &mut copied, &mut waiting);
                    return;
                }
            }
        };
        match next {
            Some(Job::KeepOnly(ids)) => {
                let gone: Vec<FileId> = copied
                    .keys()
                    .filter(|id| !ids.contains(id) && !waiting.contains_key(id))
                    .copied()
                    .collect();
                for id in gone {
                    waiting.insert(id, Job::Remove(id));
                }
            }
            Some(Job::Save(record)) => {
                waiting.insert(record.id, Job::Save(record));
            }
            Some(Job::Remove(id)) => {
                waiting.insert(id, Job::Remove(id));
            }
            None if queued.is_disconnected() && waiting.is_empty() => return,
            None => {}
        }
        apply_all(store, files, &mut copied, &mut waiting);
    }
}

/// Applies the waiting jobs, keeping those the store could not take.
fn apply_all(
    store: &ObjectStore,
    files: &Path,
    copied: &mut HashMap<FileId, Copied>,
    waiting: &mut BTreeMap<FileId, Job>,
) {
    let ids: Vec<FileId> = waiting.keys().copied().collect();
    for id in ids {
        let Some(job) = waiting.remove(&id) else {
            continue;
        };
        let applied = match &job {
            Job::Save(record) => save(store, files, copied, record),
            Job::Remove(id) => remove(store, copied, *id),
            Job::KeepOnly(_) => Ok(()),
        };
        match applied {
            Ok(()) => {}
            Err(error @ StorageError::ObjectStore(_)) => {
                tracing::warn!("Backup of file {id} waits: {error}");
                waiting.insert(id, job);
                // The store is most likely away: the rest waits too.
                return;
            }
            // Gone from the disk meanwhile, most likely: a later job says what became of it.
            Err(error) => tracing::warn!("Could not back up file {id}: {error}"),
        }
    }
}

/// Copies what the backup lacks of `record`: the bytes of versions it does not have, the
/// preview if new, then the metadata; then drops the versions no longer kept.
fn save(
    store: &ObjectStore,
    files: &Path,
    copied: &mut HashMap<FileId, Copied>,
    record: &FileRecord,
) -> Result<(), StorageError> {
    let before = copied.get(&record.id);
    if before.is_some_and(|before| before.record == *record) {
        return Ok(());
    }
    let mut objects = BTreeMap::new();
    for version in record.versions() {
        let had = before.and_then(|before| {
            let same = before.record.version(version.number) == Some(version.clone());
            same.then(|| before.objects.get(&version.number).cloned())
                .flatten()
        });
        let key = match had {
            Some(key) => key,
            None => {
                let path = metadata::version_data_path(files, record.id, version.number);
                upload_file(store, &path, version.size)?
            }
        };
        objects.insert(version.number, key);
    }
    let preview_new = record.preview_ready().is_some()
        && before.is_none_or(|before| before.record.preview_ready() != record.preview_ready());
    if preview_new {
        let bytes = fs::read(metadata::preview_path(files, record.id))?;
        store.write_preview(record.id, record.version, &bytes)?;
    }
    store.write_meta(record, &objects, Condition::None)?;
    let dropped: Vec<String> = before
        .map(|before| {
            before
                .objects
                .values()
                .filter(|key| !objects.values().any(|kept| kept == *key))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    store.delete_all(dropped);
    copied.insert(
        record.id,
        Copied {
            record: record.clone(),
            objects,
        },
    );
    Ok(())
}

/// Sends a stored file's bytes (`size` of them, at `path`) to the store; returns its key.
fn upload_file(store: &ObjectStore, path: &PathBuf, size: u64) -> Result<String, StorageError> {
    // Alive for the store's sweep (of anyone serving this library) while parts go up.
    store.heartbeat()?;
    let mut incoming = store.begin(size)?;
    let mut file = File::open(path)?;
    incoming
        .receive(&mut file, size, &mut |_| true)
        .map_err(|error| StorageError::Io(io::Error::other(error.to_string())))?;
    store.finish(incoming)
}

/// Removes a deleted file from the backup.
fn remove(
    store: &ObjectStore,
    copied: &mut HashMap<FileId, Copied>,
    id: FileId,
) -> Result<(), StorageError> {
    let Some(before) = copied.get(&id) else {
        return Ok(());
    };
    store.delete_meta(id)?;
    let preview = before
        .record
        .preview_ready()
        .map(|_| super::object::preview_key(id, before.record.version));
    store.delete_all(before.objects.values().cloned().chain(preview));
    copied.remove(&id);
    Ok(())
}
