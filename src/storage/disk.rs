//! The disk store: files survive restarts, and memory use does not grow with file size.
//!
//! Layout of the store's directory:
//! - `incoming/<random>.part`: an upload in progress;
//! - `files/<id>.data`: a complete file's bytes;
//! - `files/<id>.json`: its metadata, written last: a file exists once this exists;
//! - `lock`: held while a host uses the directory.
//!
//! Committing syncs the data, renames it into `files/`, then writes the metadata through a
//! temporary name and a rename, and syncs the directory. A host killed at any moment leaves
//! either a complete file or leftovers that the next start removes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{FileRecord, StorageError};
use crate::pipeline::{PipelineError, copy_hashing};
use crate::protocol::{FileId, Sha256Digest, decode_hex, encode_hex};
use crate::writeback::WritebackFile;

/// What `files/<id>.json` holds.
#[derive(Serialize, Deserialize)]
struct Metadata {
    id: FileId,
    name: String,
    size: u64,
    uploader_name: String,
    uploader_id: u64,
    uploaded_at: DateTime<Utc>,
    sha256: String,
    owner: Option<String>,
}

impl Metadata {
    fn from_record(record: &FileRecord) -> Self {
        Self {
            id: record.id,
            name: record.name.clone(),
            size: record.size,
            uploader_name: record.uploader_name.clone(),
            uploader_id: record.uploader_id,
            uploaded_at: record.uploaded_at,
            sha256: record.sha256.to_string(),
            owner: record.owner.map(|key| encode_hex(&key)),
        }
    }

    fn into_record(self) -> Option<FileRecord> {
        let owner = match self.owner {
            Some(hex) => Some(decode_hex(hex.as_bytes())?),
            None => None,
        };
        Some(FileRecord {
            id: self.id,
            name: self.name,
            size: self.size,
            uploader_name: self.uploader_name,
            uploader_id: self.uploader_id,
            uploaded_at: self.uploaded_at,
            sha256: self.sha256.parse::<Sha256Digest>().ok()?,
            owner,
        })
    }
}

/// The disk backend.
pub(super) struct DiskStore {
    files: PathBuf,
    incoming: PathBuf,
    /// Held open so that the directory's lock lasts as long as the store.
    _lock: File,
}

impl DiskStore {
    /// Opens (or creates) a store directory and returns the complete files it holds.
    pub(super) fn open(dir: &Path) -> Result<(Self, Vec<FileRecord>), StorageError> {
        let files = dir.join("files");
        let incoming = dir.join("incoming");
        fs::create_dir_all(&files)?;
        fs::create_dir_all(&incoming)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))?;
        if lock.try_lock().is_err() {
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
            },
            records,
        ))
    }

    fn data_path(&self, id: FileId) -> PathBuf {
        self.files.join(format!("{id}.data"))
    }

    fn meta_path(&self, id: FileId) -> PathBuf {
        self.files.join(format!("{id}.json"))
    }

    /// Creates a temporary file for an upload.
    pub(super) fn begin(&self) -> Result<DiskIncoming, StorageError> {
        let random = crate::random::random_bytes::<12>()?;
        let path = self.incoming.join(format!("{}.part", encode_hex(&random)));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(DiskIncoming {
            file: WritebackFile::new(file),
            path: Some(path),
        })
    }

    /// Makes a fully received upload a stored file (see the module comment for the steps).
    pub(super) fn commit(
        &self,
        mut incoming: DiskIncoming,
        record: &FileRecord,
    ) -> Result<(), StorageError> {
        incoming.file.sync()?;
        let data_path = self.data_path(record.id);
        if let Some(part) = &incoming.path {
            fs::rename(part, &data_path)?;
        }
        incoming.path = None;
        let written = (|| -> Result<(), StorageError> {
            let json = serde_json::to_vec_pretty(&Metadata::from_record(record))
                .map_err(|e| StorageError::Io(io::Error::other(e)))?;
            let temp = self.files.join(format!("{}.json.tmp", record.id));
            let mut meta = File::create(&temp)?;
            meta.write_all(&json)?;
            meta.sync_all()?;
            fs::rename(&temp, self.meta_path(record.id))?;
            File::open(&self.files)?.sync_all()?;
            Ok(())
        })();
        if written.is_err() {
            // Without its metadata the data would be an orphan: remove it now.
            let _ = fs::remove_file(&data_path);
            let _ = fs::remove_file(self.files.join(format!("{}.json.tmp", record.id)));
        }
        written
    }

    /// Opens a stored file for reading.
    pub(super) fn open_file(&self, id: FileId) -> Result<File, StorageError> {
        Ok(File::open(self.data_path(id))?)
    }

    /// Deletes a stored file: its metadata first, so a crash in between leaves no listing.
    pub(super) fn remove(&self, id: FileId) -> Result<(), StorageError> {
        remove_if_present(&self.meta_path(id))?;
        remove_if_present(&self.data_path(id))?;
        Ok(())
    }
}

/// Reads `files/`: every `<id>.json` whose `<id>.data` has the recorded size is a file; any
/// other entry is a leftover of an interrupted commit or delete and is removed.
fn load_records(files: &Path) -> Result<Vec<FileRecord>, StorageError> {
    let mut records = Vec::new();
    let mut data_files = Vec::new();
    for entry in fs::read_dir(files)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with(".json") {
            let record = fs::read(&path)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Metadata>(&bytes).ok())
                .and_then(Metadata::into_record);
            let data = files.join(name.replace(".json", ".data"));
            match record {
                Some(record)
                    if fs::metadata(&data).map(|m| m.len()).ok() == Some(record.size)
                        && name == format!("{}.json", record.id) =>
                {
                    records.push(record);
                }
                _ => {
                    tracing::warn!("Discarding damaged entry {}", path.display());
                    remove_if_present(&path)?;
                    remove_if_present(&data)?;
                }
            }
        } else if name.ends_with(".data") {
            data_files.push(path);
        } else {
            tracing::info!("Removing leftover {}", path.display());
            remove_if_present(&path)?;
        }
    }
    for data in data_files {
        if !data.with_extension("json").exists() {
            tracing::info!("Removing orphaned data {}", data.display());
            remove_if_present(&data)?;
        }
    }
    records.sort_by_key(|record| record.id);
    Ok(records)
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// An upload into a temporary file, removed on drop unless committed.
pub(super) struct DiskIncoming {
    file: WritebackFile,
    path: Option<PathBuf>,
}

impl DiskIncoming {
    /// Receives `size` bytes from `source` into the file, hashing them on the way; the file
    /// goes to disk while it fills.
    pub(super) fn receive(
        &mut self,
        source: &mut dyn Read,
        size: u64,
        progress: &mut dyn FnMut(u64) -> bool,
    ) -> Result<Sha256Digest, PipelineError> {
        copy_hashing(source, &mut self.file, size, progress)
    }
}

impl Drop for DiskIncoming {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = fs::remove_file(path);
        }
    }
}
