//! Where the host keeps shared files: in memory (the seed's default) or in a directory.
//!
//! [`Storage`] owns the catalog of complete files. An upload goes through an [`Incoming`],
//! which receives the bytes and becomes a listed file only when [`Storage::commit`] is called
//! after its last byte; dropping an `Incoming` any earlier removes every trace of it.

mod budget;
mod category;
mod disk;
mod memory;
mod metadata;
mod record;

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use crate::pipeline::{PipelineError, UploadDigests};
use crate::preview::Preview;
use crate::protocol::{Category, FileId, PreviewKind, PublicKey};
pub use category::{HEAD_BYTES, categorize};
pub use memory::MemoryBlob;
pub use record::{
    ChangeError, Comment, FileRecord, NewFile, PreviewNote, RemoveError, StorageConfig,
    StorageError, Version, Versioning, Viewer,
};

/// A stored file's bytes, ready to be sent.
pub enum Content {
    /// Shared bytes of the memory store.
    Memory(Arc<MemoryBlob>),
    /// An open file of the disk store (positioned at its start).
    Disk(std::fs::File),
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
        };
        match &result {
            Ok(_) => self.received = self.expected,
            Err(PipelineError::Source { received, .. }) => self.received = kept + received,
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
        }
    }
}

struct Entry {
    record: Arc<FileRecord>,
    /// The bytes of every version kept, by number.
    blobs: BTreeMap<u32, Blob>,
    /// The latest version's preview, once made.
    preview: Option<PreviewBlob>,
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
}

struct Catalog {
    files: BTreeMap<FileId, Entry>,
    next_id: FileId,
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
}

/// The host's file store: a catalog of complete files over one backend.
pub struct Storage {
    backend: Backend,
    catalog: Mutex<Catalog>,
}

impl Storage {
    /// Opens a store. A disk store lists the files it already holds and removes leftovers of
    /// uploads that never completed.
    pub fn open(config: &StorageConfig) -> Result<Self, StorageError> {
        let (backend, records) = match config {
            StorageConfig::Memory { limit } => (
                Backend::Memory(memory::MemoryStore::new(*limit)),
                Vec::new(),
            ),
            StorageConfig::Disk { dir, limit } => {
                let (store, records) = disk::DiskStore::open(dir, *limit)?;
                (Backend::Disk(store), records)
            }
        };
        let next_id = records.iter().map(|r| r.id).max().unwrap_or(0) + 1;
        let files = records
            .into_iter()
            .map(|record| {
                // Every version kept counts against the cap.
                let blobs = record
                    .versions()
                    .iter()
                    .map(|version| {
                        let space = match &backend {
                            Backend::Disk(store) => store.claim(version.size),
                            Backend::Memory(_) => None,
                        };
                        (version.number, Blob::Disk { _space: space })
                    })
                    .collect();
                let preview = match (&backend, record.preview_ready()) {
                    (Backend::Disk(store), Some((_, size))) => Some(PreviewBlob {
                        bytes: None,
                        _space: store.claim(size),
                    }),
                    _ => None,
                };
                let entry = Entry {
                    record: Arc::new(record),
                    blobs,
                    preview,
                };
                (entry.record.id, entry)
            })
            .collect();
        Ok(Self {
            backend,
            catalog: Mutex::new(Catalog { files, next_id }),
        })
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
        let id = {
            let mut catalog = self.catalog();
            let id = catalog.next_id;
            catalog.next_id += 1;
            id
        };
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
        let blob = self.store(incoming.sink, &record, false)?;
        self.catalog().files.insert(
            id,
            Entry {
                record: Arc::clone(&record),
                blobs: BTreeMap::from([(1, blob)]),
                preview: None,
            },
        );
        Ok(record)
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
        let Some(entry) = catalog.files.get_mut(&id) else {
            return Err(StorageError::Gone(id));
        };
        let previous = Arc::clone(&entry.record);
        let mut older = previous.versions();
        let pruned: Vec<u32> = older
            .drain(..older.len().saturating_sub(keep.max(1) - 1))
            .map(|version| version.number)
            .collect();
        let uploaded_at = Utc::now();
        let (name, uploader_name, uploader_id, category) = match file.versioning {
            Versioning::Of { .. } => (
                previous.name.clone(),
                previous.uploader_name.clone(),
                previous.uploader_id,
                // Judged by the name it is listed under, not the one it was uploaded as.
                categorize(&previous.name, &incoming.head()?),
            ),
            _ => (file.name, file.uploader_name, file.uploader_id, category),
        };
        let record = Arc::new(FileRecord {
            id,
            name,
            size: incoming.expected,
            uploader_name,
            uploader_id,
            uploaded_at,
            sha256: digests.sha256,
            check: digests.check,
            owner: previous.owner,
            category,
            tags: if file.tags.is_empty() {
                previous.tags.clone()
            } else {
                file.tags
            },
            expires_at: expiry_time(uploaded_at, file.lifetime),
            audience: file.audience.or_else(|| previous.audience.clone()),
            version: previous.version + 1,
            older,
            comments: previous.comments.clone(),
            last_comment: previous.last_comment,
            // The new version's preview is made anew.
            preview: None,
        });
        let blob = self.store(incoming.sink, &record, true)?;
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
        Ok(record)
    }

    /// Stores a received upload's bytes as `record`'s latest version (`replacing` the metadata
    /// of a file already stored, for a new version).
    fn store(
        &self,
        sink: Sink,
        record: &FileRecord,
        replacing: bool,
    ) -> Result<Blob, StorageError> {
        match (sink, &self.backend) {
            (Sink::Memory(sink), _) => Ok(Blob::Memory(Arc::new(sink.finish()))),
            (Sink::Disk(sink), Backend::Disk(store)) => Ok(Blob::Disk {
                _space: store.commit(sink, record, replacing)?,
            }),
            (Sink::Disk(_), Backend::Memory(_)) => Err(StorageError::Io(io::Error::other(
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
            let memory = match blob {
                Blob::Memory(blob) => Some(Arc::clone(blob)),
                Blob::Disk { .. } => None,
            };
            (Arc::clone(&entry.record), chosen, memory)
        };
        let content = match (memory, &self.backend) {
            (Some(blob), _) => Content::Memory(blob),
            (None, Backend::Disk(store)) => Content::Disk(store.open_file(id, chosen.number)?),
            (None, Backend::Memory(_)) => return Ok(None),
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
            (Backend::Memory(_), None) => None,
        };
        entry.preview = blob;
        entry.record = Arc::clone(&changed);
        Ok(Some(changed))
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
                (None, Backend::Disk(store)) => Err(store.open_preview(id)?),
                (None, Backend::Memory(_)) => return Ok(None),
            };
            (Arc::clone(&entry.record), kind, source)
        };
        let bytes = match source {
            Ok(bytes) => bytes.to_vec(),
            Err(file) => {
                let mut bytes = Vec::new();
                file.take(crate::protocol::MAX_PREVIEW_BYTES)
                    .read_to_end(&mut bytes)?;
                bytes
            }
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
            catalog.files.remove(&id).ok_or(RemoveError::NotFound)?
        };
        if let Backend::Disk(store) = &self.backend {
            store.remove(&entry.record).map_err(RemoveError::Storage)?;
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
        allowed: impl FnOnce(&FileRecord) -> bool,
    ) -> Result<(Arc<FileRecord>, Arc<FileRecord>), RemoveError> {
        let mut catalog = self.catalog();
        let Some(entry) = catalog.files.get_mut(&id) else {
            return Err(RemoveError::NotFound);
        };
        if !allowed(&entry.record) {
            return Err(RemoveError::Refused(Arc::clone(&entry.record)));
        }
        let changed = Arc::new(FileRecord {
            audience,
            ..FileRecord::clone(&entry.record)
        });
        // Under the catalog's lock, so that two changes reach the disk in the order they
        // reach the catalog.
        if let Backend::Disk(store) = &self.backend {
            store.rewrite(&changed).map_err(RemoveError::Storage)?;
        }
        let before = std::mem::replace(&mut entry.record, Arc::clone(&changed));
        Ok((before, changed))
    }

    /// Changes a file's record to what `change` makes of it (or refuses, with its reason); a
    /// disk store rewrites the metadata crash-safely first. Returns the record after.
    pub fn change(
        &self,
        id: FileId,
        change: impl FnOnce(&FileRecord) -> Result<FileRecord, String>,
    ) -> Result<Arc<FileRecord>, ChangeError> {
        let mut catalog = self.catalog();
        let Some(entry) = catalog.files.get_mut(&id) else {
            return Err(ChangeError::NotFound);
        };
        let changed = Arc::new(change(&entry.record).map_err(ChangeError::Refused)?);
        if let Backend::Disk(store) = &self.backend {
            store.rewrite(&changed).map_err(ChangeError::Storage)?;
        }
        entry.record = Arc::clone(&changed);
        Ok(changed)
    }

    /// Removes every file expired by `now` (uploads a download is reading stay readable to
    /// it); returns their records. A file whose removal from the disk failed is out of the
    /// catalog all the same, and returned too.
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
                        Some(record)
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

    /// Bytes held by the memory store (uploads in progress included); 0 for the disk store.
    pub fn memory_in_use(&self) -> u64 {
        match &self.backend {
            Backend::Memory(store) => store.in_use(),
            Backend::Disk(_) => 0,
        }
    }

    /// Bytes counted against the disk store's cap (uploads in progress included); 0 for the
    /// memory store and for a disk store without a cap.
    pub fn disk_in_use(&self) -> u64 {
        match &self.backend {
            Backend::Memory(_) => 0,
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
