//! The object store: files kept in an S3-compatible store, shared by every host started on the
//! same bucket and prefix.
//!
//! Keys under the library's prefix:
//! - `data/<host>-<random>`: a version's bytes, uploaded while they arrive (one PUT for a
//!   file of one part, else a multipart upload of [`PART_SIZE`] parts, at most one queued and
//!   one sending beside the one filling); `<host>` is the uploading host's tag;
//! - `files/<id>.json`: a file's metadata (the disk store's, plus the key of each version's
//!   bytes), written last: a file exists once this exists. New files are created with
//!   `If-None-Match: *`, changes written with `If-Match` on the ETag last seen;
//! - `previews/<id>-<version>`: a version's preview, written before the metadata that notes
//!   it;
//! - `ids/<id>`: the claim on an id (created with `If-None-Match: *`, never removed, so ids are
//!   never given twice, by any host);
//! - `hosts/<host>`: each running host's heartbeat, rewritten every few seconds.
//!
//! Unfinished multipart uploads of hosts whose heartbeat is older than
//! [`ObjectStoreConfig::stale_after`] (a host killed mid-upload), and bytes or previews that no
//! metadata names and older than that (a host killed between two steps), are swept.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::thread::JoinHandle;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::category::HEAD_BYTES;
use super::metadata::Metadata;
use super::record::{FileRecord, StorageError};
use super::s3::{Condition, Listed, ObjectStoreConfig, S3Client, S3Error};
use crate::pipeline::{PipelineError, UploadDigests, UploadHash, copy_hashing};
use crate::protocol::{FileId, encode_hex};

/// Bytes of one part of a multipart upload (S3 wants at least 5 MiB but for the last).
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Most parts S3 takes in one upload.
const MAX_PARTS: u64 = 10_000;
/// Attempts at a conditional write before giving up on a file changed elsewhere all the time.
pub(super) const ATTEMPTS: usize = 5;

/// What `files/<id>.json` holds in an object store.
#[derive(Serialize, Deserialize)]
struct ObjectMetadata {
    #[serde(flatten)]
    meta: Metadata,
    /// The key of each kept version's bytes, by version number.
    objects: BTreeMap<u32, String>,
}

/// A file as the store holds it.
pub(super) struct StoredObject {
    /// Its record.
    pub record: FileRecord,
    /// The key of each kept version's bytes.
    pub objects: BTreeMap<u32, String>,
    /// The ETag of its metadata.
    pub etag: String,
}

/// The object store backend.
pub(super) struct ObjectStore {
    client: Arc<S3Client>,
    config: ObjectStoreConfig,
    /// This host's tag: in its upload keys and its heartbeat's key.
    tag: String,
    /// Multipart uploads of this host that could not be aborted (the store was away):
    /// `(key, upload id)`, tried again at each sweep.
    abandoned: Abandoned,
}

/// Multipart uploads to abort later: `(key, upload id)`.
type Abandoned = Arc<std::sync::Mutex<Vec<(String, String)>>>;

impl ObjectStore {
    /// Connects to the store (refusing to start if it does not answer, or refuses the
    /// credentials), sweeps what killed hosts left, and returns the files it holds.
    pub(super) fn open(
        config: &ObjectStoreConfig,
    ) -> Result<(Self, Vec<StoredObject>), StorageError> {
        let client = Arc::new(S3Client::new(config)?);
        client.check()?;
        let tag = encode_hex(&crate::random::random_bytes::<6>()?);
        let store = Self {
            client,
            config: config.clone(),
            tag,
            abandoned: Abandoned::default(),
        };
        store.heartbeat()?;
        let stored = store.load_all()?;
        let referenced = stored.iter().flat_map(StoredObject::keys).collect();
        store.sweep(&referenced);
        Ok((store, stored))
    }

    /// The store's settings.
    pub(super) fn config(&self) -> &ObjectStoreConfig {
        &self.config
    }

    /// Every file whose metadata is whole, by id.
    fn load_all(&self) -> Result<Vec<StoredObject>, StorageError> {
        let mut stored = Vec::new();
        for (id, _) in self.list_files()? {
            if let Some(file) = self.fetch(id)? {
                stored.push(file);
            }
        }
        stored.sort_by_key(|file| file.record.id);
        Ok(stored)
    }

    /// The ETag of every file's metadata, by id.
    pub(super) fn list_files(&self) -> Result<HashMap<FileId, String>, StorageError> {
        Ok(self
            .client
            .list("files/")?
            .into_iter()
            .filter_map(|listed| {
                let id = listed.key.strip_prefix("files/")?.strip_suffix(".json")?;
                Some((id.parse().ok()?, listed.etag))
            })
            .collect())
    }

    /// File `id` as the store holds it now; `None` if it is gone (or its metadata damaged).
    pub(super) fn fetch(&self, id: FileId) -> Result<Option<StoredObject>, StorageError> {
        let Some((bytes, etag)) = self.client.get(&meta_key(id))? else {
            return Ok(None);
        };
        let Ok(parsed) = serde_json::from_slice::<ObjectMetadata>(&bytes) else {
            tracing::warn!("Ignoring damaged metadata of file {id} in the object store");
            return Ok(None);
        };
        let Some(record) = parsed.meta.into_complete_record() else {
            tracing::warn!("Ignoring damaged metadata of file {id} in the object store");
            return Ok(None);
        };
        let mut objects = parsed.objects;
        objects.retain(|number, _| record.version(*number).is_some());
        if record.id != id || !objects.contains_key(&record.version) {
            return Ok(None);
        }
        Ok(Some(StoredObject {
            record,
            objects,
            etag,
        }))
    }

    /// Claims the first free id from `from` on, for this host alone.
    pub(super) fn claim_id(&self, from: FileId) -> Result<FileId, StorageError> {
        let mut id = from.max(1);
        loop {
            match self
                .client
                .put(&format!("ids/{id}"), b"", Condition::Absent)
            {
                Ok(_) => return Ok(id),
                Err(S3Error::Conflict) => id += 1,
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// The highest id any host has claimed (0 if none).
    pub(super) fn highest_claimed(&self) -> Result<FileId, StorageError> {
        Ok(self
            .client
            .list("ids/")?
            .iter()
            .filter_map(|listed| listed.key.strip_prefix("ids/")?.parse::<FileId>().ok())
            .max()
            .unwrap_or(0))
    }

    /// Writes `record`'s metadata (with the keys of its versions' bytes) if `condition`
    /// holds; returns its new ETag. [`StorageError::Conflict`] if it does not.
    pub(super) fn write_meta(
        &self,
        record: &FileRecord,
        objects: &BTreeMap<u32, String>,
        condition: Condition<'_>,
    ) -> Result<String, StorageError> {
        let json = serde_json::to_vec_pretty(&ObjectMetadata {
            meta: Metadata::from_record(record),
            objects: objects.clone(),
        })
        .map_err(|error| StorageError::Io(io::Error::other(error)))?;
        Ok(self.client.put(&meta_key(record.id), &json, condition)?)
    }

    /// Prepares to receive `size` bytes (nothing is sent before the first part is full).
    pub(super) fn begin(&self, size: u64) -> Result<ObjectIncoming, StorageError> {
        let random = encode_hex(&crate::random::random_bytes::<10>()?);
        let part_size = usize::try_from(size.div_ceil(MAX_PARTS - 1))
            .unwrap_or(usize::MAX)
            .max(PART_SIZE);
        Ok(ObjectIncoming {
            parts: PartSink {
                client: Arc::clone(&self.client),
                abandoned: Arc::clone(&self.abandoned),
                key: format!("data/{}-{random}", self.tag),
                part_size,
                size,
                buffer: Vec::new(),
                head: Vec::new(),
                written: 0,
                upload: None,
            },
        })
    }

    /// Makes a fully received upload an object; returns its key.
    pub(super) fn finish(&self, incoming: ObjectIncoming) -> Result<String, StorageError> {
        incoming.parts.finish()
    }

    /// Deletes objects (bytes no longer kept, or a preview), logging what could not be (the
    /// sweep removes it later).
    pub(super) fn delete_all(&self, keys: impl IntoIterator<Item = String>) {
        for key in keys {
            if let Err(error) = self.client.delete(&key) {
                tracing::warn!("Could not delete '{key}' from the object store: {error}");
            }
        }
    }

    /// Deletes a file's metadata: from then on it no longer exists, at any host.
    pub(super) fn delete_meta(&self, id: FileId) -> Result<(), StorageError> {
        Ok(self.client.delete(&meta_key(id))?)
    }

    /// The bytes of the object `key`, to be read from any offset.
    pub(super) fn content(&self, key: &str) -> ObjectContent {
        ObjectContent {
            client: Arc::clone(&self.client),
            key: key.to_owned(),
            started: None,
        }
    }

    /// Writes the preview of version `version` of file `id`.
    pub(super) fn write_preview(
        &self,
        id: FileId,
        version: u32,
        bytes: &[u8],
    ) -> Result<(), StorageError> {
        self.client
            .put(&preview_key(id, version), bytes, Condition::None)?;
        Ok(())
    }

    /// The preview of version `version` of file `id`, if it is there.
    pub(super) fn read_preview(
        &self,
        id: FileId,
        version: u32,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .client
            .get(&preview_key(id, version))?
            .map(|(bytes, _)| bytes))
    }

    /// Tells other hosts that this one is alive (its unfinished uploads are not swept).
    pub(super) fn heartbeat(&self) -> Result<(), StorageError> {
        self.client
            .put(&format!("hosts/{}", self.tag), b"", Condition::None)?;
        Ok(())
    }

    /// Removes what hosts killed mid-way left: their unfinished uploads (once they have been
    /// silent for [`ObjectStoreConfig::stale_after`]), and bytes and previews that no metadata
    /// names (`referenced`: the keys of every file listed) once older than that.
    pub(super) fn sweep(&self, referenced: &HashSet<String>) {
        if let Err(error) = self.sweep_unfinished() {
            tracing::warn!("Could not sweep unfinished uploads: {error}");
        }
        if let Err(error) = self.sweep_unnamed(referenced) {
            tracing::warn!("Could not sweep leftover objects: {error}");
        }
    }

    /// The store's time now (the time of this host's heartbeat), and the hosts that were
    /// alive by then.
    fn live_hosts(&self) -> Result<(DateTime<Utc>, HashSet<String>), StorageError> {
        let hosts = self.client.list("hosts/")?;
        let now = hosts
            .iter()
            .find(|listed| listed.key == format!("hosts/{}", self.tag))
            .and_then(|listed| listed.modified)
            .unwrap_or_else(Utc::now);
        let mut alive = HashSet::new();
        for host in hosts {
            let tag = host.key.trim_start_matches("hosts/").to_owned();
            if !self.is_stale(now, host.modified) || tag == self.tag {
                alive.insert(tag);
            } else {
                let _ = self.client.delete(&host.key);
            }
        }
        Ok((now, alive))
    }

    /// Whether something written at `when` (by the store's clock) is older than the bound.
    fn is_stale(&self, now: DateTime<Utc>, when: Option<DateTime<Utc>>) -> bool {
        let bound = chrono::Duration::from_std(self.config.stale_after).unwrap_or_default();
        when.is_none_or(|when| now - when > bound)
    }

    fn sweep_unfinished(&self) -> Result<(), StorageError> {
        let abandoned = std::mem::take(
            &mut *self
                .abandoned
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for (key, upload_id) in abandoned {
            if self.client.abort_multipart(&key, &upload_id).is_err() {
                self.note_abandoned(key, upload_id);
            }
        }
        let (now, alive) = self.live_hosts()?;
        for upload in self.client.unfinished("data/")? {
            let host = upload
                .key
                .trim_start_matches("data/")
                .split('-')
                .next()
                .unwrap_or_default();
            if alive.contains(host) || !self.is_stale(now, upload.initiated) {
                continue;
            }
            tracing::info!("Aborting the unfinished upload '{}'", upload.key);
            if let Err(error) = self.client.abort_multipart(&upload.key, &upload.upload_id) {
                tracing::warn!("Could not abort the upload '{}': {error}", upload.key);
            }
        }
        Ok(())
    }

    fn sweep_unnamed(&self, referenced: &HashSet<String>) -> Result<(), StorageError> {
        let (now, _) = self.live_hosts()?;
        let mut leftovers: Vec<Listed> = self.client.list("data/")?;
        leftovers.extend(self.client.list("previews/")?);
        // Listed after the bytes: a file whose metadata appeared meanwhile is kept.
        let listed = self.list_files()?;
        for object in leftovers {
            let named = referenced.contains(&object.key)
                || preview_owner(&object.key).is_some_and(|id| listed.contains_key(&id));
            if named || !self.is_stale(now, object.modified) {
                continue;
            }
            tracing::info!("Removing '{}', which no file names", object.key);
            self.delete_all([object.key]);
        }
        Ok(())
    }
}

impl ObjectStore {
    /// Notes a multipart upload to abort at the next sweep.
    fn note_abandoned(&self, key: String, upload_id: String) {
        remember_abandoned(&self.abandoned, key, upload_id);
    }
}

/// Notes a multipart upload to abort at the next sweep.
fn remember_abandoned(abandoned: &Abandoned, key: String, upload_id: String) {
    abandoned
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((key, upload_id));
}

impl StoredObject {
    /// The keys of its bytes and preview.
    pub(super) fn keys(&self) -> Vec<String> {
        let preview = self
            .record
            .preview_ready()
            .map(|_| preview_key(self.record.id, self.record.version));
        self.objects.values().cloned().chain(preview).collect()
    }
}

/// Where file `id`'s metadata is.
fn meta_key(id: FileId) -> String {
    format!("files/{id}.json")
}

/// Where the preview of version `version` of file `id` is.
pub(super) fn preview_key(id: FileId, version: u32) -> String {
    format!("previews/{id}-{version}")
}

/// The file a preview's key belongs to.
fn preview_owner(key: &str) -> Option<FileId> {
    key.strip_prefix("previews/")?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// A stored version's bytes in the object store, read from any offset with a ranged GET.
pub struct ObjectContent {
    client: Arc<S3Client>,
    key: String,
    /// A read already started, and where.
    started: Option<(u64, Box<dyn Read + Send>)>,
}

impl ObjectContent {
    /// Starts reading from `offset` now, so that a store that cannot be read fails here, before
    /// anything is promised to the downloader.
    pub fn start_at(self, offset: u64) -> io::Result<Self> {
        let reader = self.client.read_from(&self.key, offset)?;
        Ok(Self {
            started: Some((offset, reader)),
            ..self
        })
    }

    /// A reader of the bytes from `offset` on.
    pub fn read_from(self, offset: u64) -> io::Result<Box<dyn Read + Send>> {
        match self.started {
            Some((at, reader)) if at == offset => Ok(reader),
            _ => Ok(self.client.read_from(&self.key, offset)?),
        }
    }

    /// The `size` bytes as a file that can be read from anywhere: each seek elsewhere starts a
    /// new ranged GET, so that only what is read is fetched.
    pub fn seekable(self, size: u64) -> SeekableObject {
        SeekableObject {
            content: self,
            size,
            position: 0,
            reader: None,
        }
    }
}

/// An object read as a file ([`ObjectContent::seekable`]).
pub struct SeekableObject {
    content: ObjectContent,
    size: u64,
    position: u64,
    reader: Option<Box<dyn Read + Send>>,
}

impl Read for SeekableObject {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.position >= self.size {
            return Ok(0);
        }
        let reader = match &mut self.reader {
            Some(reader) => reader,
            None => self.reader.insert(
                self.content
                    .client
                    .read_from(&self.content.key, self.position)?,
            ),
        };
        let read = reader.read(buffer)?;
        self.position += read as u64;
        Ok(read)
    }
}

impl io::Seek for SeekableObject {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let position = match to {
            io::SeekFrom::Start(at) => Some(at),
            io::SeekFrom::End(delta) => self.size.checked_add_signed(delta),
            io::SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        if position != self.position {
            self.reader = None;
            self.position = position;
        }
        Ok(position)
    }
}

/// An upload on its way into the object store; abandoned (its parts freed) when dropped
/// before [`ObjectStore::finish`].
pub(super) struct ObjectIncoming {
    parts: PartSink,
}

impl ObjectIncoming {
    /// Receives all `size` bytes from `source`, hashing them on the way. The store cannot give
    /// back what it has been sent, so this always starts from the first byte: an upload cut
    /// off earlier starts over.
    pub(super) fn receive(
        &mut self,
        source: &mut dyn Read,
        size: u64,
        progress: &mut dyn FnMut(u64) -> bool,
    ) -> Result<UploadDigests, PipelineError> {
        if self.parts.written > 0 {
            self.parts
                .restart()
                .map_err(|error| PipelineError::Sink { error, received: 0 })?;
        }
        copy_hashing(
            UploadHash::default(),
            source,
            &mut self.parts,
            size,
            progress,
        )
    }

    /// The file's first bytes (as many as a category is judged by).
    pub(super) fn head(&self) -> Vec<u8> {
        self.parts.head.clone()
    }
}

/// A multipart upload under way: its id, and the thread that sends its parts.
struct Multipart {
    upload_id: String,
    /// Parts to send, by number; dropped to tell the thread that no more come.
    parts: Option<flume::Sender<(u16, Vec<u8>)>>,
    /// Buffers of parts sent, to be filled again.
    recycled: flume::Receiver<Vec<u8>>,
    /// Sends the parts; returns their ETags in order.
    sender: Option<JoinHandle<Result<Vec<String>, S3Error>>>,
    /// The next part's number.
    next: u16,
}

impl Multipart {
    /// Starts a multipart upload of `key` and the thread that sends its parts.
    fn start(client: &Arc<S3Client>, key: &str) -> io::Result<Self> {
        let upload_id = client.start_multipart(key)?;
        // One part waits while another is sent: with the one filling, three in memory. Sent
        // parts' buffers come back to be filled again.
        let (parts, queued) = flume::bounded::<(u16, Vec<u8>)>(1);
        let (recycle, recycled) = flume::bounded::<Vec<u8>>(2);
        let (sending, key_owned, id) = (Arc::clone(client), key.to_owned(), upload_id.clone());
        let sender = std::thread::Builder::new()
            .name("lanshare-parts".into())
            .spawn(move || {
                let mut etags = Vec::new();
                for (number, mut bytes) in queued.iter() {
                    etags.push(sending.upload_part(&key_owned, &id, number, &bytes)?);
                    bytes.clear();
                    let _ = recycle.try_send(bytes);
                }
                Ok(etags)
            });
        let sender = match sender {
            Ok(sender) => sender,
            Err(error) => {
                let _ = client.abort_multipart(key, &upload_id);
                return Err(error);
            }
        };
        Ok(Self {
            upload_id,
            parts: Some(parts),
            recycled,
            sender: Some(sender),
            next: 1,
        })
    }

    /// Queues the next part; fails with the sending thread's error if it stopped.
    fn send(&mut self, bytes: Vec<u8>) -> io::Result<()> {
        let number = self.next;
        self.next += 1;
        let queued = self
            .parts
            .as_ref()
            .is_some_and(|parts| parts.send((number, bytes)).is_ok());
        if queued {
            return Ok(());
        }
        match self.wait() {
            Err(error) => Err(error.into()),
            Ok(_) => Err(io::Error::other("the part sender stopped")),
        }
    }

    /// Waits until every queued part is sent; their ETags in order.
    fn wait(&mut self) -> Result<Vec<String>, S3Error> {
        self.parts = None;
        match self.sender.take().map(JoinHandle::join) {
            Some(Ok(sent)) => sent,
            Some(Err(_)) | None => Err(S3Error::Answer("sending parts")),
        }
    }
}

/// Where an upload's bytes go: a part's buffer, sent as it fills.
struct PartSink {
    client: Arc<S3Client>,
    abandoned: Abandoned,
    key: String,
    part_size: usize,
    /// Bytes the upload announced.
    size: u64,
    buffer: Vec<u8>,
    head: Vec<u8>,
    written: u64,
    upload: Option<Multipart>,
}

impl Write for PartSink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.head.len() < HEAD_BYTES {
            let wanted = (HEAD_BYTES - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..wanted]);
        }
        if self.buffer.capacity() == 0 {
            let spare = self
                .upload
                .as_ref()
                .and_then(|upload| upload.recycled.try_recv().ok());
            match spare {
                Some(spare) => self.buffer = spare,
                // A file smaller than a part needs no more than its size.
                None => self.buffer.reserve_exact(self.part_size.min(
                    usize::try_from(self.size.saturating_sub(self.written)).unwrap_or(usize::MAX),
                )),
            }
        }
        let taken = (self.part_size - self.buffer.len()).min(bytes.len());
        self.buffer.extend_from_slice(&bytes[..taken]);
        self.written += taken as u64;
        if self.buffer.len() == self.part_size {
            self.send_part()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl PartSink {
    /// Sends the full buffer as the next part (starting the multipart upload first).
    fn send_part(&mut self) -> io::Result<()> {
        let part = std::mem::take(&mut self.buffer);
        let upload = match &mut self.upload {
            Some(upload) => upload,
            None => self
                .upload
                .insert(Multipart::start(&self.client, &self.key)?),
        };
        upload.send(part)
    }

    /// Forgets everything sent so far, to receive the file again from its first byte.
    fn restart(&mut self) -> io::Result<()> {
        self.abandon();
        self.buffer.clear();
        self.head.clear();
        self.written = 0;
        Ok(())
    }

    /// Abandons the multipart upload, if one was started.
    fn abandon(&mut self) {
        if let Some(mut upload) = self.upload.take() {
            let _ = upload.wait();
            if let Err(error) = self.client.abort_multipart(&self.key, &upload.upload_id) {
                tracing::warn!("Could not abort the upload '{}' yet: {error}", self.key);
                remember_abandoned(&self.abandoned, self.key.clone(), upload.upload_id);
            }
        }
    }

    /// Sends what is left and makes the object; returns its key.
    fn finish(mut self) -> Result<String, StorageError> {
        let Some(mut upload) = self.upload.take() else {
            // A file of one part: one PUT.
            self.client.put(&self.key, &self.buffer, Condition::None)?;
            return Ok(std::mem::take(&mut self.key));
        };
        let finished = (|| {
            if !self.buffer.is_empty() {
                upload.send(std::mem::take(&mut self.buffer))?;
            }
            let etags = upload.wait()?;
            self.client
                .complete_multipart(&self.key, &upload.upload_id, &etags)?;
            Ok::<_, StorageError>(())
        })();
        if let Err(error) = finished {
            self.upload = Some(upload);
            return Err(error);
        }
        Ok(std::mem::take(&mut self.key))
    }
}

impl Drop for PartSink {
    fn drop(&mut self) {
        self.abandon();
    }
}
