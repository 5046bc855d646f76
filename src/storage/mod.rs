//! Where the host keeps shared files: in memory (the seed's default), in a directory, or in an
//! S3-compatible object store that several hosts may share.
//!
//! [`Storage`] owns the catalog of complete files. An upload goes through an [`Incoming`],
//! which receives the bytes and becomes a listed file only when [`Storage::commit`] is called
//! after its last byte; dropping an `Incoming` any earlier removes every trace of it.

mod backup;
mod budget;
mod category;
mod disk;
mod memory;
mod metadata;
mod object;
mod record;
mod s3;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Read};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use crate::pipeline::{PipelineError, UploadDigests};
use crate::preview::Preview;
use crate::protocol::{Category, FileId, PreviewKind, PublicKey};
pub use category::{HEAD_BYTES, categorize};
pub use memory::MemoryBlob;
pub use object::{ObjectContent, PART_SIZE, SeekableObject};
pub use record::{
    ChangeError, Comment, FileRecord, NewFile, PreviewNote, RemoveError, StorageConfig,
    StorageError, Version, Versioning, Viewer,
};
pub use s3::{
    DEFAULT_POLL_EVERY, DEFAULT_STALE_AFTER, ObjectConfigError, ObjectStoreConfig, S3Error,
};

/// A stored file's bytes, ready to be sent.
pub enum Content {
    /// Shared bytes of the memory store.
    Memory(Arc<MemoryBlob>),
    /// An open file of the disk store (positioned at its start).
    Disk(std::fs::File),
    /// An object of the object store, read from any offset.
    Object(ObjectContent),
}

/// A file being received. [`Incoming::receive`] its bytes, then pass it to
/// [`Storage::commit`]. Dropping it before then discards everything it holds.
///
/// If the connection breaks mid-way, the bytes that did arrive stay in it
/// ([`Incoming::received`]); another call to [`Incoming::receive`] continues after them (the
/// host keeps such uploads for a while, see `UPLOAD_RESUME`).
pub struct Incoming {
    expected: u64,
    received: u64,
    sink: Sink,
}

enum Sink {
    Memory(memory::MemoryIncoming),
    Disk(disk::DiskIncoming),
    Object(object::ObjectIncoming),
}

impl Incoming {
    /// Bytes announced for this upload.
    pub fn expected(&self) -> u64 {
        self.expected
    }

    /// Bytes received and kept so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Receives the rest of the announced bytes from `source` (all of them, unless an earlier
    /// call was cut short) and stores them, computing their SHA-256 and transfer check on a
    /// second thread (see [`crate::pipeline`]). Returns the digests of the whole file: the
    /// bytes kept from before are hashed again first. `progress` is told the bytes received by
    /// this call so far and returns false to stop. If `source` fails or ends early, the bytes
    /// it delivered are kept and counted in [`Incoming::received`].
    pub fn receive(
        &mut self,
        source: &mut dyn Read,
        progress: &mut dyn FnMut(u64) -> bool,
    ) -> Result<UploadDigests, PipelineError> {
        if self.received == self.expected && self.expected > 0 {
            return Err(PipelineError::Sink {
                error: io::Error::other("this upload was received already"),
                received: 0,
            });
        }
        let kept = self.received;
        let result = match &mut self.sink {
            Sink::Memory(sink) => sink.receive(source, kept, progress),
            Sink::Disk(sink) => sink.receive(source, kept, self.expected, progress),
            Sink::Object(sink) => sink.receive(source, self.expected, progress),
        };
        let keeps_partial = !matches!(self.sink, Sink::Object(_));
        match &result {
            Ok(_) => self.received = self.expected,
            Err(PipelineError::Source { received, .. }) if keeps_partial => {
                self.received = kept + received;
            }
            // Bytes of a stopped or failed write may be half stored: start over if resumed.
            Err(_) => self.received = 0,
        }
        result
    }

    /// The first bytes received (up to [`HEAD_BYTES`]), for [`categorize`].
    fn head(&self) -> io::Result<Vec<u8>> {
        let received = usize::try_from(self.received).unwrap_or(usize::MAX);
        match &self.sink {
            Sink::Memory(sink) => Ok(sink.head(received.min(HEAD_BYTES))),
            Sink::Disk(sink) => sink.head(),
            Sink::Object(sink) => Ok(sink.head()),
        }
    }
}

struct Entry {
    record: Arc<FileRecord>,
    /// The bytes of every version kept, by number.
    blobs: BTreeMap<u32, Blob>,
    /// The latest version's preview, once made.
    preview: Option<PreviewBlob>,
    /// The ETag of its metadata in an object store (empty for other stores).
    etag: String,
}

/// A file's preview, read from the store.
pub struct StoredPreview {
    /// The file's record (of the version the preview was made of).
    pub record: Arc<FileRecord>,
    /// What the bytes are.
    pub kind: PreviewKind,
    /// The preview.
    pub bytes: Vec<u8>,
}

/// A preview the store holds, counted against its cap.
struct PreviewBlob {
    /// Its bytes, in the memory store (the disk store's are in `files/<id>.preview`).
    bytes: Option<Arc<[u8]>>,
    /// Its share of the cap, if the store has one.
    _space: Option<budget::Reservation>,
}

enum Blob {
    Memory(Arc<MemoryBlob>),
    Disk {
        /// The file's share of the disk store's cap, if it has one.
        _space: Option<budget::Reservation>,
    },
    /// The key of the object that holds the bytes.
    Object(String),
}

struct Catalog {
    files: BTreeMap<FileId, Entry>,
    next_id: FileId,
    /// Changes made by other hosts, found while writing, for [`Storage::refresh`] to report.
    changed: Vec<LibraryChange>,
    /// Files this host deleted from an object store: never taken back from a listing made
    /// before the deletion.
    deleted: HashSet<FileId>,
}

/// A change another host made to a shared library (an object store), found by
/// [`Storage::refresh`].
#[derive(Debug, Clone)]
pub enum LibraryChange {
    /// A file appeared.
    Added(Arc<FileRecord>),
    /// A file changed (a new version, comments, who may see it, its preview, ...).
    Changed {
        /// Its record before.
        before: Arc<FileRecord>,
        /// Its record now.
        after: Arc<FileRecord>,
    },
    /// A file was deleted.
    Removed(Arc<FileRecord>),
}

/// An upload about to become a file's new version: what [`Storage::commit_version`] needs
/// to make the record, perhaps more than once (when another host changed the file meanwhile).
struct NewVersion {
    size: u64,
    head: Vec<u8>,
    file: NewFile,
    digests: UploadDigests,
    category: Category,
    keep: usize,
    uploaded_at: DateTime<Utc>,
}

impl NewVersion {
    /// The record of the file after this version, and the numbers of the versions it no
    /// longer keeps.
    fn record_after(&self, previous: &FileRecord) -> (FileRecord, Vec<u32>) {
        let mut older = previous.versions();
        let pruned: Vec<u32> = older
            .drain(..older.len().saturating_sub(self.keep.max(1) - 1))
            .map(|version| version.number)
            .collect();
        let file = &self.file;
        let (name, uploader_name, uploader_id, category) = match file.versioning {
            Versioning::Of { .. } => (
                previous.name.clone(),
                previous.uploader_name.clone(),
                previous.uploader_id,
                // Judged by the name it is listed under, not the one it was uploaded as.
                categorize(&previous.name, &self.head),
            ),
            _ => (
                file.name.clone(),
                file.uploader_name.clone(),
                file.uploader_id,
                self.category,
            ),
        };
        let record = FileRecord {
            id: previous.id,
            name,
            size: self.size,
            uploader_name,
            uploader_id,
            uploaded_at: self.uploaded_at,
            sha256: self.digests.sha256,
            check: self.digests.check,
            owner: previous.owner,
            category,
            tags: if file.tags.is_empty() {
                previous.tags.clone()
            } else {
                file.tags.clone()
            },
            expires_at: expiry_time(self.uploaded_at, file.lifetime),
            audience: file.audience.clone().or_else(|| previous.audience.clone()),
            version: previous.version + 1,
            older,
            comments: previous.comments.clone(),
            last_comment: previous.last_comment,
            // The new version's preview is made anew.
            preview: None,
        };
        (record, pruned)
    }
}

/// The keys of the objects that hold a file's versions, by number.
fn object_keys(entry: &Entry) -> BTreeMap<u32, String> {
    entry
        .blobs
        .iter()
        .filter_map(|(number, blob)| match blob {
            Blob::Object(key) => Some((*number, key.clone())),
            _ => None,
        })
        .collect()
}

impl Catalog {
    /// The file `owner` shares under `name` (the newest, if several), which a new upload of
    /// the same name by the same owner becomes a version of.
    fn same_file(&self, name: &str, owner: Option<PublicKey>) -> Option<FileId> {
        owner?;
        self.files
            .values()
            .filter(|entry| entry.record.owner == owner && entry.record.name == name)
            .map(|entry| entry.record.id)
            .max()
    }
}

enum Backend {
    Memory(memory::MemoryStore),
    Disk(disk::DiskStore),
    Object(object::ObjectStore),
}

/// The host's file store: a catalog of complete files over one backend.
pub struct Storage {
    backend: Backend,
    catalog: Mutex<Catalog>,
    /// The disk store's copy in an object store, if it keeps one.
    backup: Option<backup::Backup>,
}

impl Storage {
    /// Opens a store. A disk store lists the files it already holds and removes leftovers of
    /// uploads that never completed; an object store lists the library's files (refusing to
    /// open if the store cannot be reached or refuses the credentials) and sweeps what killed
    /// hosts left.
    pub fn open(config: &StorageConfig) -> Result<Self, StorageError> {
        Self::open_with_backup(config, None)
    }

    /// Opens a store as [`Storage::open`] does, keeping a disk store's copy in the object
    /// store `backup` (`--backup`): restored from first if the folder has no files yet, else
    /// brought in step with them.
    pub fn open_with_backup(
        config: &StorageConfig,
        backup: Option<&ObjectStoreConfig>,
    ) -> Result<Self, StorageError> {
        let backup = match (backup, config) {
            (None, _) => None,
            (Some(backup), StorageConfig::Disk { dir, .. }) => {
                Some(backup::Backup::open(backup, dir)?)
            }
            (Some(_), _) => {
                return Err(StorageError::Io(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a backup is kept of a folder store only (--storage DIR --backup s3://…)",
                )));
            }
        };
        let (backend, files, next_id) = match config {
            StorageConfig::Memory { limit } => (
                Backend::Memory(memory::MemoryStore::new(*limit)),
                BTreeMap::new(),
                1,
            ),
            StorageConfig::Disk { dir, limit } => {
                let (store, records) = disk::DiskStore::open(dir, *limit)?;
                let next_id = records.iter().map(|r| r.id).max().unwrap_or(0) + 1;
                let files = records
                    .into_iter()
                    .map(|record| (record.id, disk_entry(&store, record)))
                    .collect();
                (Backend::Disk(store), files, next_id)
            }
            StorageConfig::Object(config) => {
                let (store, stored) = object::ObjectStore::open(config)?;
                let next_id = store.highest_claimed()? + 1;
                let files = stored
                    .into_iter()
                    .map(|stored| (stored.record.id, object_entry(stored)))
                    .collect();
                (Backend::Object(store), files, next_id)
            }
        };
        let storage = Self {
            backend,
            backup,
            catalog: Mutex::new(Catalog {
                files,
                next_id,
                changed: Vec::new(),
                deleted: HashSet::new(),
            }),
        };
        if let Some(backup) = &storage.backup {
            backup.align(&storage.list());
        }
        Ok(storage)
    }

    /// Tells the backup, if there is one, that a file is stored or changed.
    fn back_up(&self, record: &Arc<FileRecord>) {
        if let Some(backup) = &self.backup {
            backup.saved(record);
        }
    }

    fn catalog(&self) -> MutexGuard<'_, Catalog> {
        // A panic while holding the lock cannot leave the catalog half-updated (every update
        // is a single insert or remove), so a poisoned lock is still safe to use.
        self.catalog
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Prepares to receive `size` bytes, reserving room for them.
    pub fn begin(&self, size: u64) -> Result<Incoming, StorageError> {
        let sink = match &self.backend {
            Backend::Memory(store) => Sink::Memory(store.begin(size)?),
            Backend::Disk(store) => Sink::Disk(store.begin(size)?),
            Backend::Object(store) => Sink::Object(store.begin(size)?),
        };
        Ok(Incoming {
            expected: size,
            received: 0,
            sink,
        })
    }

    /// Stores a fully received upload durably and lists it, with the digests computed while
    /// receiving it; returns its record. As [`NewFile::versioning`] asks, it may become a
    /// stored file's new version instead.
    pub fn commit(
        &self,
        incoming: Incoming,
        file: NewFile,
        digests: UploadDigests,
    ) -> Result<Arc<FileRecord>, StorageError> {
        if incoming.received != incoming.expected {
            return Err(StorageError::Incomplete {
                received: incoming.received,
                expected: incoming.expected,
            });
        }
        let category = categorize(&file.name, &incoming.head()?);
        if file.versioning != Versioning::NewFile {
            // Held while the version is written, so that the file cannot go meanwhile.
            let mut catalog = self.catalog();
            let target = match file.versioning {
                Versioning::Of { id, keep } if catalog.files.contains_key(&id) => Some((id, keep)),
                Versioning::Of { id, .. } => return Err(StorageError::Gone(id)),
                Versioning::SameName { keep } => catalog
                    .same_file(&file.name, file.owner)
                    .map(|id| (id, keep)),
                Versioning::NewFile => None,
            };
            if let Some((id, keep)) = target {
                let new = (incoming, file, digests, category);
                return self.commit_version(&mut catalog, id, new, keep);
            }
        }
        let id = self.new_id()?;
        let uploaded_at = Utc::now();
        let expires_at = expiry_time(uploaded_at, file.lifetime);
        let record = Arc::new(FileRecord {
            id,
            category,
            name: file.name,
            size: incoming.expected,
            uploader_name: file.uploader_name,
            uploader_id: file.uploader_id,
            uploaded_at,
            sha256: digests.sha256,
            check: digests.check,
            owner: file.owner,
            tags: file.tags,
            expires_at,
            audience: file.audience,
            version: 1,
            older: Vec::new(),
            comments: Vec::new(),
            last_comment: 0,
            preview: None,
        });
        let (blob, etag) = self.store(incoming.sink, &record)?;
        self.catalog().files.insert(
            id,
            Entry {
                record: Arc::clone(&record),
                blobs: BTreeMap::from([(1, blob)]),
                preview: None,
                etag,
            },
        );
        self.back_up(&record);
        Ok(record)
    }

    /// An id for a new file: the next one, claimed in the object store (where other hosts
    /// may have taken it) if that is the backend.
    fn new_id(&self) -> Result<FileId, StorageError> {
        let next = {
            let mut catalog = self.catalog();
            let id = catalog.next_id;
            catalog.next_id += 1;
            id
        };
        let Backend::Object(store) = &self.backend else {
            return Ok(next);
        };
        let id = store.claim_id(next)?;
        let mut catalog = self.catalog();
        catalog.next_id = catalog.next_id.max(id + 1);
        Ok(id)
    }

    /// Makes an upload the new version of file `id` (in `catalog`, whose lock the caller
    /// holds), keeping its last `keep` versions; the older ones' bytes are freed. The file
    /// keeps its tags and who may see it unless the upload gives new ones. A version of a file
    /// named by its id ([`Versioning::Of`]) keeps the file's name, and its sharer as its
    /// uploader and owner.
    fn commit_version(
        &self,
        catalog: &mut Catalog,
        id: FileId,
        (incoming, file, digests, category): (Incoming, NewFile, UploadDigests, Category),
        keep: usize,
    ) -> Result<Arc<FileRecord>, StorageError> {
        let new = NewVersion {
            size: incoming.expected,
            head: incoming.head()?,
            file,
            digests,
            category,
            keep,
            uploaded_at: Utc::now(),
        };
        let sink = match (incoming.sink, &self.backend) {
            (Sink::Object(sink), Backend::Object(store)) => {
                let key = store.finish(sink)?;
                let written = self.write_object_version(store, catalog, id, &key, &new);
                if written.is_err() {
                    store.delete_all([key]);
                }
                return written;
            }
            (sink, _) => sink,
        };
        let Some(entry) = catalog.files.get_mut(&id) else {
            return Err(StorageError::Gone(id));
        };
        let (record, pruned) = new.record_after(&entry.record);
        let record = Arc::new(record);
        let blob = match (sink, &self.backend) {
            (Sink::Memory(sink), _) => Blob::Memory(Arc::new(sink.finish())),
            (Sink::Disk(sink), Backend::Disk(store)) => Blob::Disk {
                _space: store.commit(sink, &record, true)?,
            },
            _ => {
                return Err(StorageError::Io(io::Error::other(
                    "upload from another store",
                )));
            }
        };
        for number in &pruned {
            entry.blobs.remove(number);
        }
        entry.blobs.insert(record.version, blob);
        entry.record = Arc::clone(&record);
        entry.preview = None;
        if let Backend::Disk(store) = &self.backend
            && let Err(error) = store
                .remove_versions(id, &pruned)
                .and_then(|()| store.remove_preview(id))
        {
            // No longer listed; the next start removes what is left.
            tracing::warn!("Could not remove old versions of file {id}: {error}");
        }
        self.back_up(&record);
        Ok(record)
    }

    /// Writes the metadata of file `id` with its new version, whose bytes are object `key`,
    /// if no other host changed the file meanwhile (else reads it again and tries anew), then
    /// frees the objects of the versions (and the preview) no longer kept.
    fn write_object_version(
        &self,
        store: &object::ObjectStore,
        catalog: &mut Catalog,
        id: FileId,
        key: &str,
        new: &NewVersion,
    ) -> Result<Arc<FileRecord>, StorageError> {
        for _ in 0..object::ATTEMPTS {
            let Some(entry) = catalog.files.get_mut(&id) else {
                return Err(StorageError::Gone(id));
            };
            let (record, pruned) = new.record_after(&entry.record);
            let mut objects = object_keys(entry);
            let dropped: Vec<String> = pruned
                .iter()
                .filter_map(|number| objects.remove(number))
                .chain(
                    entry
                        .record
                        .preview_ready()
                        .map(|_| object::preview_key(id, entry.record.version)),
                )
                .collect();
            objects.insert(record.version, key.to_owned());
            match store.write_meta(&record, &objects, s3::Condition::Unchanged(&entry.etag)) {
                Ok(etag) => {
                    let record = Arc::new(record);
                    entry.blobs = objects
                        .into_iter()
                        .map(|(number, key)| (number, Blob::Object(key)))
                        .collect();
                    entry.record = Arc::clone(&record);
                    entry.preview = None;
                    entry.etag = etag;
                    store.delete_all(dropped);
                    return Ok(record);
                }
                Err(error) if error.is_conflict() => self.reload(store, catalog, id)?,
                Err(error) => return Err(error),
            }
        }
        Err(StorageError::Busy(id))
    }

    /// Reads file `id` again from the object store after another host changed it, and notes
    /// the change for [`Storage::refresh`] to report; [`StorageError::Gone`] if it was deleted
    /// (which `refresh` reports too).
    fn reload(
        &self,
        store: &object::ObjectStore,
        catalog: &mut Catalog,
        id: FileId,
    ) -> Result<(), StorageError> {
        let Some(stored) = store.fetch(id)? else {
            return Err(StorageError::Gone(id));
        };
        let entry = object_entry(stored);
        let after = Arc::clone(&entry.record);
        if let Some(before) = catalog.files.insert(id, entry) {
            catalog.changed.push(LibraryChange::Changed {
                before: before.record,
                after,
            });
        }
        Ok(())
    }

    /// Stores a received upload's bytes as new file `record` (the object store: its metadata
    /// created, if no other host took its id); returns where they are and, for the object
    /// store, the metadata's ETag.
    fn store(&self, sink: Sink, record: &FileRecord) -> Result<(Blob, String), StorageError> {
        match (sink, &self.backend) {
            (Sink::Memory(sink), _) => Ok((Blob::Memory(Arc::new(sink.finish())), String::new())),
            (Sink::Disk(sink), Backend::Disk(store)) => Ok((
                Blob::Disk {
                    _space: store.commit(sink, record, false)?,
                },
                String::new(),
            )),
            (Sink::Object(sink), Backend::Object(store)) => {
                let key = store.finish(sink)?;
                let objects = BTreeMap::from([(record.version, key.clone())]);
                match store.write_meta(record, &objects, s3::Condition::Absent) {
                    Ok(etag) => Ok((Blob::Object(key), etag)),
                    Err(error) => {
                        store.delete_all([key]);
                        Err(error)
                    }
                }
            }
            _ => Err(StorageError::Io(io::Error::other(
                "upload from another store",
            ))),
        }
    }

    /// All complete files, by id.
    pub fn list(&self) -> Vec<Arc<FileRecord>> {
        self.catalog()
            .files
            .values()
            .map(|entry| Arc::clone(&entry.record))
            .collect()
    }

    /// One file's record.
    pub fn get(&self, id: FileId) -> Option<Arc<FileRecord>> {
        self.catalog()
            .files
            .get(&id)
            .map(|entry| Arc::clone(&entry.record))
    }

    /// Opens the bytes of a file's version `version` (`None`: the latest) for sending. The
    /// content stays readable even if the file (or the version) is deleted meanwhile.
    pub fn open_content(
        &self,
        id: FileId,
        version: Option<u32>,
    ) -> Result<Option<(Arc<FileRecord>, Version, Content)>, StorageError> {
        let (record, chosen, memory) = {
            let catalog = self.catalog();
            let Some(entry) = catalog.files.get(&id) else {
                return Ok(None);
            };
            let number = version.unwrap_or(entry.record.version);
            let (Some(chosen), Some(blob)) =
                (entry.record.version(number), entry.blobs.get(&number))
            else {
                return Ok(None);
            };
            let found = match blob {
                Blob::Memory(blob) => Ok(Arc::clone(blob)),
                Blob::Disk { .. } => Err(None),
                Blob::Object(key) => Err(Some(key.clone())),
            };
            (Arc::clone(&entry.record), chosen, found)
        };
        let content = match (memory, &self.backend) {
            (Ok(blob), _) => Content::Memory(blob),
            (Err(None), Backend::Disk(store)) => Content::Disk(store.open_file(id, chosen.number)?),
            (Err(Some(key)), Backend::Object(store)) => Content::Object(store.content(&key)),
            (Err(_), _) => return Ok(None),
        };
        Ok(Some((record, chosen, content)))
    }

    /// Up to `most` files whose latest version's preview is still to be made and that `wanted`
    /// approves, newest first.
    pub fn lacking_previews(
        &self,
        most: usize,
        wanted: impl Fn(&FileRecord) -> bool,
    ) -> Vec<Arc<FileRecord>> {
        self.catalog()
            .files
            .values()
            .rev()
            .filter(|entry| entry.record.lacks_preview() && wanted(&entry.record))
            .take(most)
            .map(|entry| Arc::clone(&entry.record))
            .collect()
    }

    /// Keeps `preview` (`None`: none could be made) as the preview of version `version` of
    /// file `id`, counted against the store's cap; a disk store writes it beside the file and
    /// notes it in the metadata, crash-safely. Returns the record after, or `None` if the file
    /// is gone or has a newer version by now.
    pub fn set_preview(
        &self,
        id: FileId,
        version: u32,
        preview: Option<&Preview>,
    ) -> Result<Option<Arc<FileRecord>>, StorageError> {
        if let Backend::Object(store) = &self.backend {
            return self.set_object_preview(store, id, version, preview);
        }
        let mut catalog = self.catalog();
        let Some(entry) = catalog.files.get_mut(&id) else {
            return Ok(None);
        };
        if entry.record.version != version {
            return Ok(None);
        }
        let made = preview.map(|preview| (preview.kind, preview.bytes.len() as u64));
        let changed = Arc::new(FileRecord {
            preview: Some(PreviewNote { version, made }),
            ..FileRecord::clone(&entry.record)
        });
        let size = made.map_or(0, |(_, size)| size);
        // Under the catalog's lock, so that the file cannot go (or change) meanwhile.
        let blob = match (&self.backend, preview) {
            (Backend::Memory(store), Some(preview)) => Some(PreviewBlob {
                bytes: Some(Arc::from(preview.bytes.as_slice())),
                _space: Some(store.reserve(size)?),
            }),
            (Backend::Disk(store), Some(preview)) => {
                let space = store.reserve(size)?;
                store.write_preview(&changed, &preview.bytes)?;
                Some(PreviewBlob {
                    bytes: None,
                    _space: space,
                })
            }
            (Backend::Disk(store), None) => {
                store.rewrite(&changed)?;
                store.remove_preview(id)?;
                None
            }
            (Backend::Memory(_), None) | (Backend::Object(_), _) => None,
        };
        entry.preview = blob;
        entry.record = Arc::clone(&changed);
        self.back_up(&changed);
        Ok(Some(changed))
    }

    /// [`Storage::set_preview`] in an object store: the preview is written, then the metadata
    /// that notes it (if the file is still at that version, at every host).
    fn set_object_preview(
        &self,
        store: &object::ObjectStore,
        id: FileId,
        version: u32,
        preview: Option<&Preview>,
    ) -> Result<Option<Arc<FileRecord>>, StorageError> {
        let mut catalog = self.catalog();
        if catalog
            .files
            .get(&id)
            .is_none_or(|entry| entry.record.version != version)
        {
            return Ok(None);
        }
        if let Some(preview) = preview {
            store.write_preview(id, version, &preview.bytes)?;
        }
        let made = preview.map(|preview| (preview.kind, preview.bytes.len() as u64));
        let note = PreviewNote { version, made };
        let saved = self.save_change(&mut catalog, id, |record| {
            if record.version != version {
                return Err(());
            }
            Ok(FileRecord {
                preview: Some(note),
                ..record.clone()
            })
        });
        match saved {
            Ok(Ok(record)) => {
                if let Some(entry) = catalog.files.get_mut(&id) {
                    entry.preview = made.map(|_| PreviewBlob {
                        bytes: None,
                        _space: None,
                    });
                }
                Ok(Some(record))
            }
            Ok(Err(())) | Err(StorageError::Gone(_)) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Saves the change `make` makes of file `id`'s record (in `catalog`, whose lock the caller
    /// holds) in the store, or returns `make`'s refusal: a disk store rewrites the metadata
    /// crash-safely; an object store writes it if no other host changed the file meanwhile,
    /// else reads the file again and makes the change anew (a few times at most). Returns the
    /// record after.
    fn save_change<E>(
        &self,
        catalog: &mut Catalog,
        id: FileId,
        mut make: impl FnMut(&FileRecord) -> Result<FileRecord, E>,
    ) -> Result<Result<Arc<FileRecord>, E>, StorageError> {
        for _ in 0..object::ATTEMPTS {
            let Some(entry) = catalog.files.get_mut(&id) else {
                return Err(StorageError::Gone(id));
            };
            let changed = match make(&entry.record) {
                Ok(changed) => changed,
                Err(refused) => return Ok(Err(refused)),
            };
            match &self.backend {
                Backend::Memory(_) => {}
                Backend::Disk(store) => store.rewrite(&changed)?,
                Backend::Object(store) => {
                    let condition = s3::Condition::Unchanged(&entry.etag);
                    match store.write_meta(&changed, &object_keys(entry), condition) {
                        Ok(etag) => entry.etag = etag,
                        Err(error) if error.is_conflict() => {
                            self.reload(store, catalog, id)?;
                            continue;
                        }
                        Err(error) => return Err(error),
                    }
                }
            }
            let changed = Arc::new(changed);
            entry.record = Arc::clone(&changed);
            self.back_up(&changed);
            return Ok(Ok(changed));
        }
        Err(StorageError::Busy(id))
    }

    /// The preview of file `id`'s latest version, with its record, if one is made.
    pub fn open_preview(&self, id: FileId) -> Result<Option<StoredPreview>, StorageError> {
        let (record, kind, source) = {
            let catalog = self.catalog();
            let Some(entry) = catalog.files.get(&id) else {
                return Ok(None);
            };
            let (Some((kind, _)), Some(blob)) = (entry.record.preview_ready(), &entry.preview)
            else {
                return Ok(None);
            };
            let source = match (&blob.bytes, &self.backend) {
                (Some(bytes), _) => Ok(Arc::clone(bytes)),
                // Opened under the lock, so that it is this version's preview.
                (None, Backend::Disk(store)) => Err(Ok(store.open_preview(id)?)),
                // Keyed by the version, so that it is this version's preview.
                (None, Backend::Object(_)) => Err(Err(entry.record.version)),
                (None, Backend::Memory(_)) => return Ok(None),
            };
            (Arc::clone(&entry.record), kind, source)
        };
        let bytes = match (source, &self.backend) {
            (Ok(bytes), _) => bytes.to_vec(),
            (Err(Ok(file)), _) => {
                let mut bytes = Vec::new();
                file.take(crate::protocol::MAX_PREVIEW_BYTES)
                    .read_to_end(&mut bytes)?;
                bytes
            }
            (Err(Err(version)), Backend::Object(store)) => {
                match store.read_preview(id, version)? {
                    Some(bytes) => bytes,
                    None => return Ok(None),
                }
            }
            (Err(Err(_)), _) => return Ok(None),
        };
        Ok(Some(StoredPreview {
            record,
            kind,
            bytes,
        }))
    }

    /// Removes a file if `allowed` approves its record.
    pub fn remove_if(
        &self,
        id: FileId,
        allowed: impl FnOnce(&FileRecord) -> bool,
    ) -> Result<Arc<FileRecord>, RemoveError> {
        let entry = {
            let mut catalog = self.catalog();
            let Some(entry) = catalog.files.get(&id) else {
                return Err(RemoveError::NotFound);
            };
            if !allowed(&entry.record) {
                return Err(RemoveError::Refused(Arc::clone(&entry.record)));
            }
            if let Backend::Object(store) = &self.backend {
                // Gone at every host once its metadata is; until then it stays listed here.
                store.delete_meta(id).map_err(RemoveError::Storage)?;
                catalog.deleted.insert(id);
            }
            catalog.files.remove(&id).ok_or(RemoveError::NotFound)?
        };
        match &self.backend {
            Backend::Disk(store) => {
                if let Some(backup) = &self.backup {
                    backup.removed(id);
                }
                store.remove(&entry.record).map_err(RemoveError::Storage)?;
            }
            Backend::Object(store) => {
                let preview = entry
                    .record
                    .preview_ready()
                    .map(|_| object::preview_key(id, entry.record.version));
                store.delete_all(object_keys(&entry).into_values().chain(preview));
            }
            Backend::Memory(_) => {}
        }
        Ok(entry.record)
    }

    /// Gives a file a new list of who may see it (`None`: everyone), if `allowed` approves its
    /// record; a disk store rewrites its metadata crash-safely first. Returns the record before
    /// and after.
    pub fn set_audience(
        &self,
        id: FileId,
        audience: Option<Vec<Viewer>>,
        allowed: impl Fn(&FileRecord) -> bool,
    ) -> Result<(Arc<FileRecord>, Arc<FileRecord>), RemoveError> {
        let mut catalog = self.catalog();
        let mut before = None;
        // Under the catalog's lock, so that two changes reach the store in the order they
        // reach the catalog.
        let saved = self.save_change(&mut catalog, id, |record| {
            if !allowed(record) {
                return Err(RemoveError::Refused(Arc::new(record.clone())));
            }
            before = Some(Arc::new(record.clone()));
            Ok(FileRecord {
                audience: audience.clone(),
                ..record.clone()
            })
        });
        match saved {
            Ok(Ok(changed)) => Ok((before.ok_or(RemoveError::NotFound)?, changed)),
            Ok(Err(refused)) => Err(refused),
            Err(StorageError::Gone(_)) => Err(RemoveError::NotFound),
            Err(error) => Err(RemoveError::Storage(error)),
        }
    }

    /// Changes a file's record to what `change` makes of it (or refuses, with its reason); a
    /// disk store rewrites the metadata crash-safely first. Returns the record after.
    pub fn change(
        &self,
        id: FileId,
        change: impl FnMut(&FileRecord) -> Result<FileRecord, String>,
    ) -> Result<Arc<FileRecord>, ChangeError> {
        let mut catalog = self.catalog();
        match self.save_change(&mut catalog, id, change) {
            Ok(Ok(changed)) => Ok(changed),
            Ok(Err(refused)) => Err(ChangeError::Refused(refused)),
            Err(StorageError::Gone(_)) => Err(ChangeError::NotFound),
            Err(error) => Err(ChangeError::Storage(error)),
        }
    }

    /// Removes every file expired by `now` (uploads a download is reading stay readable to
    /// it); returns their records. A file whose removal from the disk failed is out of the
    /// catalog all the same, and returned too; one whose metadata an object store did not
    /// delete stays (and is not returned).
    pub fn remove_expired(&self, now: DateTime<Utc>) -> Vec<Arc<FileRecord>> {
        let expired: Vec<Arc<FileRecord>> = self
            .catalog()
            .files
            .values()
            .filter(|entry| entry.record.is_expired(now))
            .map(|entry| Arc::clone(&entry.record))
            .collect();
        expired
            .into_iter()
            .filter_map(
                |record| match self.remove_if(record.id, |record| record.is_expired(now)) {
                    Ok(removed) => Some(removed),
                    Err(RemoveError::Storage(error)) => {
                        tracing::error!(
                            "Could not delete expired file {} from the store: {error}",
                            record.id
                        );
                        // Still listed (an object store that could not be reached): tried
                        // again at the next expiry.
                        self.get(record.id).is_none().then_some(record)
                    }
                    Err(RemoveError::NotFound | RemoveError::Refused(_)) => None,
                },
            )
            .collect()
    }

    /// When the next file expires, if any does.
    pub fn next_expiry(&self) -> Option<DateTime<Utc>> {
        self.catalog()
            .files
            .values()
            .filter_map(|entry| entry.record.expires_at)
            .min()
    }

    /// The object store the files are in, if they are in one.
    pub fn object_store(&self) -> Option<&ObjectStoreConfig> {
        match &self.backend {
            Backend::Object(store) => Some(store.config()),
            _ => None,
        }
    }

    /// For a library shared with other hosts (an object store): what they added, changed or
    /// deleted since the last call (now so in the catalog too). Always nothing for the other
    /// stores.
    pub fn refresh(&self) -> Result<Vec<LibraryChange>, StorageError> {
        let Backend::Object(store) = &self.backend else {
            return Ok(Vec::new());
        };
        // What was known before the listing: a file written here meanwhile is not mistaken
        // for a change (or a deletion) made elsewhere.
        let known: HashMap<FileId, String> = self
            .catalog()
            .files
            .iter()
            .map(|(id, entry)| (*id, entry.etag.clone()))
            .collect();
        let listed = store.list_files()?;
        let mut fetched = Vec::new();
        for (id, etag) in &listed {
            if known.get(id) != Some(etag) {
                fetched.push((*id, store.fetch(*id)?));
            }
        }
        let mut catalog = self.catalog();
        let mut changes = std::mem::take(&mut catalog.changed);
        for (id, found) in fetched {
            let current = catalog.files.get(&id).map(|entry| &entry.etag);
            let Some(found) = found.filter(|_| current == known.get(&id)) else {
                continue;
            };
            if catalog.deleted.contains(&id) {
                continue;
            }
            catalog.next_id = catalog.next_id.max(id + 1);
            let entry = object_entry(found);
            let after = Arc::clone(&entry.record);
            changes.push(match catalog.files.insert(id, entry) {
                Some(before) => LibraryChange::Changed {
                    before: before.record,
                    after,
                },
                None => LibraryChange::Added(after),
            });
        }
        for (id, etag) in known {
            let unchanged = catalog.files.get(&id).is_some_and(|e| e.etag == etag);
            if !listed.contains_key(&id)
                && unchanged
                && let Some(gone) = catalog.files.remove(&id)
            {
                changes.push(LibraryChange::Removed(gone.record));
            }
        }
        Ok(changes)
    }

    /// For an object store: tells the other hosts that this one is alive (so that its
    /// unfinished uploads are not swept).
    pub fn heartbeat(&self) -> Result<(), StorageError> {
        match &self.backend {
            Backend::Object(store) => store.heartbeat(),
            _ => Ok(()),
        }
    }

    /// For an object store: removes what killed hosts left (unfinished uploads, bytes no file
    /// names), once older than [`ObjectStoreConfig::stale_after`].
    pub fn sweep(&self) {
        if let Backend::Object(store) = &self.backend {
            let referenced: HashSet<String> = self
                .catalog()
                .files
                .values()
                .flat_map(|entry| {
                    let preview = entry
                        .record
                        .preview_ready()
                        .map(|_| object::preview_key(entry.record.id, entry.record.version));
                    object_keys(entry).into_values().chain(preview)
                })
                .collect();
            store.sweep(&referenced);
        }
    }

    /// Bytes held by the memory store (uploads in progress included); 0 for the others.
    pub fn memory_in_use(&self) -> u64 {
        match &self.backend {
            Backend::Memory(store) => store.in_use(),
            Backend::Disk(_) | Backend::Object(_) => 0,
        }
    }

    /// Bytes counted against the disk store's cap (uploads in progress included); 0 for the
    /// memory store and for a disk store without a cap.
    pub fn disk_in_use(&self) -> u64 {
        match &self.backend {
            Backend::Memory(_) | Backend::Object(_) => 0,
            Backend::Disk(store) => store.in_use(),
        }
    }
}

/// When a file stored at `uploaded_at` expires, for a `lifetime` (`None`: never).
fn expiry_time(
    uploaded_at: DateTime<Utc>,
    lifetime: Option<std::time::Duration>,
) -> Option<DateTime<Utc>> {
    lifetime
        .and_then(|lifetime| chrono::Duration::from_std(lifetime).ok())
        .and_then(|lifetime| uploaded_at.checked_add_signed(lifetime))
}

/// The catalog entry of a file found in a disk store: every version kept counts against the
/// cap, and its preview if made.
fn disk_entry(store: &disk::DiskStore, record: FileRecord) -> Entry {
    let blobs = record
        .versions()
        .iter()
        .map(|version| {
            let space = store.claim(version.size);
            (version.number, Blob::Disk { _space: space })
        })
        .collect();
    let preview = record.preview_ready().map(|(_, size)| PreviewBlob {
        bytes: None,
        _space: store.claim(size),
    });
    Entry {
        record: Arc::new(record),
        blobs,
        preview,
        etag: String::new(),
    }
}

/// The catalog entry of a file as an object store holds it.
fn object_entry(stored: object::StoredObject) -> Entry {
    let preview = stored.record.preview_ready().map(|_| PreviewBlob {
        bytes: None,
        _space: None,
    });
    Entry {
        blobs: stored
            .objects
            .into_iter()
            .map(|(number, key)| (number, Blob::Object(key)))
            .collect(),
        record: Arc::new(stored.record),
        preview,
        etag: stored.etag,
    }
}
