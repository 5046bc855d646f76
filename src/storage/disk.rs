//! The disk store: files survive restarts, and memory use does not grow with file size.
//!
//! Layout of the store's directory:
//! - `incoming/<random>.part`: an upload in progress;
//! - `files/<id>.data`: a complete file's bytes (its first version), `files/<id>-<n>.data`
//!   those of its version `n`;
//! - `files/<id>.json`: its metadata, written last: a file exists once this exists (a new
//!   version replaces it, listing the versions kept; data no metadata names is a leftover);
//! - `files/<id>.preview`: the preview of its latest version, once made: written (synced)
//!   before the metadata that notes it, so a preview the metadata does not note, or whose size
//!   differs, is a leftover (removed at start, and the preview made again);
//! - `lock`: held while a host uses the directory.
//!
//! Committing writes the metadata under a temporary name, syncs the data and the metadata
//! (one journal commit on ext4: the metadata's write-back is started first), renames both into
//! place and syncs the directory: two waits for the disk per file, not three. A host killed at
//! any moment leaves either a complete file or leftovers that the next start removes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::budget::{Budget, Reservation};
use super::metadata::{self, Metadata};
use super::record::{FileRecord, StorageError};
use crate::pipeline::{PipelineError, UploadDigests, UploadHash, copy_hashing, hash_prefix};
use crate::protocol::{FileId, encode_hex};
use crate::writeback::WritebackFile;

/// Free space the disk must keep beyond an upload's bytes: room for its metadata.
const HEADROOM: u64 = 64 * 1024;

/// The disk backend.
pub(super) struct DiskStore {
    files: PathBuf,
    incoming: PathBuf,
    /// Held open so that the directory's lock lasts as long as the store.
    _lock: File,
    /// The cap on the store's files, if one was set.
    budget: Option<Arc<Budget>>,
    /// Bytes that uploads in progress have announced but not yet written: free space already
    /// promised to them.
    promised: Arc<AtomicU64>,
}

impl DiskStore {
    /// Opens (or creates) a store directory, holding at most `limit` bytes of files if given,
    /// and returns the complete files it holds.
    pub(super) fn open(
        dir: &Path,
        limit: Option<u64>,
    ) -> Result<(Self, Vec<FileRecord>), StorageError> {
        let files = dir.join("files");
        let incoming = dir.join("incoming");
        fs::create_dir_all(&files)?;
        fs::create_dir_all(&incoming)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))?;
        if !lock_soon(&lock) {
            return Err(StorageError::Io(io::Error::new(
                io::ErrorKind::ResourceBusy,
                format!("{} is in use by another lanshare host", dir.display()),
            )));
        }
        for leftover in fs::read_dir(&incoming)? {
            let path = leftover?.path();
            tracing::info!("Removing unfinished upload {}", path.display());
            remove_if_present(&path)?;
        }
        let records = load_records(&files)?;
        Ok((
            Self {
                files,
                incoming,
                _lock: lock,
                budget: limit.map(Budget::new),
                promised: Arc::new(AtomicU64::new(0)),
            },
            records,
        ))
    }

    /// Counts a stored file against the cap, if there is one.
    pub(super) fn claim(&self, bytes: u64) -> Option<Reservation> {
        self.budget.as_ref().map(|budget| budget.claim(bytes))
    }

    /// Reserves `bytes` of the cap for a preview, if there is a cap.
    pub(super) fn reserve(&self, bytes: u64) -> Result<Option<Reservation>, StorageError> {
        self.budget
            .as_ref()
            .map(|budget| budget.reserve(bytes))
            .transpose()
    }

    /// Bytes of files and uploads in progress counted against the cap (0 without a cap).
    pub(super) fn in_use(&self) -> u64 {
        self.budget.as_ref().map_or(0, |budget| budget.in_use())
    }

    fn data_path(&self, id: FileId, version: u32) -> PathBuf {
        metadata::version_data_path(&self.files, id, version)
    }

    fn meta_path(&self, id: FileId) -> PathBuf {
        metadata::meta_path(&self.files, id)
    }

    /// Creates a temporary file for an upload of `size` bytes, once the cap (if any) and the
    /// disk's free space, less what other uploads in progress will still write, have room.
    pub(super) fn begin(&self, size: u64) -> Result<DiskIncoming, StorageError> {
        let reservation = match &self.budget {
            Some(budget) => Some(budget.reserve(size)?),
            None => None,
        };
        let promise = Promise::new(&self.promised, size);
        let available = fs4::available_space(&self.incoming)?;
        let promised = self.promised.load(Ordering::SeqCst);
        if available < promised.saturating_add(HEADROOM) {
            return Err(StorageError::DiskSpace {
                needed: size,
                free: available.saturating_sub(promised - size),
            });
        }
        let random = crate::random::random_bytes::<12>()?;
        let path = self.incoming.join(format!("{}.part", encode_hex(&random)));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(DiskIncoming {
            file: WritebackFile::new(file),
            path: Some(path),
            promise,
            reservation,
        })
    }

    /// Makes a fully received upload a stored file, or (`replacing`) the new version of a
    /// stored one (see the module comment for the steps). Returns its share of the cap, held
    /// as long as the version is.
    pub(super) fn commit(
        &self,
        mut incoming: DiskIncoming,
        record: &FileRecord,
        replacing: bool,
    ) -> Result<Option<Reservation>, StorageError> {
        let data_path = self.data_path(record.id, record.version);
        let meta_path = self.meta_path(record.id);
        let mut temp = None;
        let mut replaced = false;
        let written = (|| -> Result<(), StorageError> {
            let (meta, temp_path) = metadata::write_temporary(&self.files, record)?;
            let temp = temp.insert(temp_path);
            // The metadata starts on its way to the disk now, so that the data's sync below
            // carries it in the same journal commit and its own sync has nothing left to do.
            start_writeback(&meta);
            incoming.file.sync()?;
            meta.sync_all()?;
            if let Some(part) = &incoming.path {
                fs::rename(part, &data_path)?;
            }
            incoming.path = None;
            fs::rename(temp, &meta_path)?;
            replaced = true;
            File::open(&self.files)?.sync_all()?;
            Ok(())
        })();
        // A new version whose metadata is in place stays whole (only the folder's sync failed);
        // before that, its file is left as it was.
        if written.is_err() && !(replacing && replaced) {
            // Nothing half-made stays: the data without its metadata would be an orphan.
            let meta = (!replacing).then_some(&meta_path);
            for path in [meta, temp.as_ref(), Some(&data_path)]
                .into_iter()
                .flatten()
            {
                let _ = fs::remove_file(path);
            }
        }
        written.map(|()| incoming.reservation.take())
    }

    /// Opens version `version` of a stored file for reading.
    pub(super) fn open_file(&self, id: FileId, version: u32) -> Result<File, StorageError> {
        Ok(File::open(self.data_path(id, version))?)
    }

    /// Deletes the bytes of versions no longer kept (after the metadata that named them was
    /// replaced: a crash before leaves leftovers the next start removes).
    pub(super) fn remove_versions(&self, id: FileId, numbers: &[u32]) -> Result<(), StorageError> {
        for number in numbers {
            remove_if_present(&self.data_path(id, *number))?;
        }
        Ok(())
    }

    /// Stores `bytes` as the preview `record` notes: the preview is written under a temporary
    /// name, synced and renamed into place, then the metadata replaced (crash-safely); a crash
    /// between the two leaves a preview no metadata notes, removed at the next start.
    pub(super) fn write_preview(
        &self,
        record: &FileRecord,
        bytes: &[u8],
    ) -> Result<(), StorageError> {
        let path = metadata::preview_path(&self.files, record.id);
        let temp = self.files.join(format!("{}.preview.tmp", record.id));
        let written = (|| -> Result<(), StorageError> {
            let mut file = File::create(&temp)?;
            io::Write::write_all(&mut file, bytes)?;
            file.sync_all()?;
            fs::rename(&temp, &path)?;
            metadata::replace(&self.files, record)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temp);
            let _ = fs::remove_file(&path);
        }
        written
    }

    /// Removes the preview of file `id`, if it has one on disk.
    pub(super) fn remove_preview(&self, id: FileId) -> Result<(), StorageError> {
        Ok(remove_if_present(&metadata::preview_path(&self.files, id))?)
    }

    /// Opens the preview of file `id`.
    pub(super) fn open_preview(&self, id: FileId) -> Result<File, StorageError> {
        Ok(File::open(metadata::preview_path(&self.files, id))?)
    }

    /// Replaces a stored file's metadata with `record`'s, crash-safely.
    pub(super) fn rewrite(&self, record: &FileRecord) -> Result<(), StorageError> {
        metadata::replace(&self.files, record)
    }

    /// Deletes a stored file, every version: its metadata first, so a crash in between leaves
    /// no listing.
    pub(super) fn remove(&self, record: &FileRecord) -> Result<(), StorageError> {
        remove_if_present(&self.meta_path(record.id))?;
        let numbers: Vec<u32> = record.versions().iter().map(|v| v.number).collect();
        self.remove_versions(record.id, &numbers)?;
        self.remove_preview(record.id)
    }
}

/// Asks the kernel to start writing `file`'s data to disk without waiting for it (Linux: the
/// write-back that `POSIX_FADV_DONTNEED` starts; pages still being written stay cached).
#[cfg(target_os = "linux")]
fn start_writeback(file: &File) {
    // Only a head start for the sync that follows, which reports any real failure.
    let _ = rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::DontNeed);
}

/// Elsewhere the sync that follows does all the work.
#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File) {}

/// Reads `files/`: every `<id>.json` whose latest version's data has the recorded size is a
/// file (with the older versions whose data is whole, and its preview if whole); any other
/// entry is a leftover of an interrupted commit or delete and is removed. Metadata without the transfer check gets it
/// (see [`Metadata::into_record`]).
fn load_records(files: &Path) -> Result<Vec<FileRecord>, StorageError> {
    // Listed before anything is read, so that metadata rewritten meanwhile is not seen twice.
    let entries = fs::read_dir(files)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<io::Result<Vec<_>>>()?;
    let mut records = Vec::new();
    let mut data_files = Vec::new();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with(".json") {
            if let Some(record) = load_record(files, &path, &name)? {
                records.push(record);
            }
        } else if name.ends_with(".data") || name.ends_with(".preview") {
            data_files.push(path);
        } else {
            tracing::info!("Removing leftover {}", path.display());
            remove_if_present(&path)?;
        }
    }
    let named: std::collections::HashSet<PathBuf> = records
        .iter()
        .flat_map(|record| {
            let preview = record
                .preview_ready()
                .map(|_| metadata::preview_path(files, record.id));
            record
                .versions()
                .into_iter()
                .map(|version| metadata::version_data_path(files, record.id, version.number))
                .chain(preview)
        })
        .collect();
    for data in data_files {
        if !named.contains(&data) {
            tracing::info!("Removing orphaned data {}", data.display());
            remove_if_present(&data)?;
        }
    }
    records.sort_by_key(|record| record.id);
    Ok(records)
}

/// The file whose metadata is `path` (named `name`), if its metadata is whole and its data has
/// the recorded size; otherwise removes both.
fn load_record(files: &Path, path: &Path, name: &str) -> Result<Option<FileRecord>, StorageError> {
    let size_of = |path: &Path| fs::metadata(path).map(|m| m.len()).ok();
    let metadata = Metadata::read(path);
    let data = match &metadata {
        Some(metadata) => metadata::version_data_path(files, metadata.id(), metadata.version()),
        None => files.join(name.replace(".json", ".data")),
    };
    let metadata = metadata.filter(|metadata| {
        size_of(&data) == Some(metadata.size()) && name == format!("{}.json", metadata.id())
    });
    let record = match metadata {
        Some(metadata) => metadata.into_record(files, &data)?.map(|mut record| {
            // An older version whose data is not whole is no longer offered.
            record.older.retain(|version| {
                let path = metadata::version_data_path(files, record.id, version.number);
                size_of(&path) == Some(version.size)
            });
            // A preview that is not whole is made again.
            if let Some((_, size)) = record.preview_ready()
                && size_of(&metadata::preview_path(files, record.id)) != Some(size)
            {
                record.preview = None;
            }
            record
        }),
        None => None,
    };
    if record.is_none() {
        tracing::warn!("Discarding damaged entry {}", path.display());
        remove_if_present(path)?;
        remove_if_present(&data)?;
    }
    Ok(record)
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Free space promised to one upload: what it announced and has not written yet.
struct Promise {
    promised: Arc<AtomicU64>,
    left: u64,
}

impl Promise {
    fn new(promised: &Arc<AtomicU64>, bytes: u64) -> Self {
        promised.fetch_add(bytes, Ordering::SeqCst);
        Self {
            promised: Arc::clone(promised),
            left: bytes,
        }
    }

    fn kept(&mut self, bytes: u64) {
        let bytes = bytes.min(self.left);
        self.left -= bytes;
        self.promised.fetch_sub(bytes, Ordering::SeqCst);
    }
}

impl Drop for Promise {
    fn drop(&mut self) {
        self.promised.fetch_sub(self.left, Ordering::SeqCst);
    }
}

/// An upload into a temporary file, removed on drop unless committed.
pub(super) struct DiskIncoming {
    file: WritebackFile,
    path: Option<PathBuf>,
    promise: Promise,
    reservation: Option<Reservation>,
}

impl DiskIncoming {
    /// Receives the file's bytes after its first `kept` from `source` (it is `size` bytes in
    /// all), hashing them on the way; returns the whole file's digest (the kept bytes are read
    /// back and hashed first). The file goes to disk while it fills, and the free space
    /// promised to it is released as it does.
    pub(super) fn receive(
        &mut self,
        source: &mut dyn Read,
        kept: u64,
        size: u64,
        progress: &mut dyn FnMut(u64) -> bool,
    ) -> Result<UploadDigests, PipelineError> {
        let prefix = self
            .hash_kept(kept)
            .map_err(|error| PipelineError::Sink { error, received: 0 })?;
        let promise = &mut self.promise;
        let mut counted = 0;
        copy_hashing(
            prefix,
            source,
            &mut self.file,
            size - kept,
            &mut |received| {
                promise.kept(received - counted);
                counted = received;
                progress(received)
            },
        )
    }

    /// The file's first bytes (as many as a category is judged by).
    pub(super) fn head(&self) -> io::Result<Vec<u8>> {
        let path = self
            .path
            .as_ref()
            .ok_or_else(|| io::Error::other("upload committed"))?;
        metadata::read_head(path)
    }

    /// Hashes the first `kept` bytes written, and makes sure the file ends right after them
    /// (where the next write goes).
    fn hash_kept(&mut self, kept: u64) -> io::Result<UploadHash> {
        let path = self
            .path
            .as_ref()
            .ok_or_else(|| io::Error::other("upload committed"))?;
        self.file.set_len(kept)?;
        self.file.seek(SeekFrom::Start(kept))?;
        if kept == 0 {
            return Ok(UploadHash::default());
        }
        hash_prefix(UploadHash::default(), &mut File::open(path)?, kept)
    }
}

/// How long opening a store waits for a host that is still letting go of it (one that has
/// just stopped, say) before calling it in use.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// Takes the store's lock, waiting up to [`LOCK_WAIT`] for another holder to let go.
fn lock_soon(lock: &File) -> bool {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        if lock.try_lock().is_ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for DiskIncoming {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            // Emptying the file frees its room at once; the open handle would otherwise keep
            // it taken until after the name is gone.
            let _ = self.file.set_len(0);
            let _ = fs::remove_file(path);
        }
    }
}
