//! What the disk store writes in `files/<id>.json`, and how it reads it back.
//!
//! Metadata written by a lanshare from before downloads were verified by the transfer check has
//! no `check`: reading it computes the check from the file's data and writes it back, so it is
//! computed once.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::category::{HEAD_BYTES, categorize};
use super::record::{Comment, FileRecord, PreviewNote, StorageError, Version, Viewer};
use crate::pipeline::{CheckHash, hash_exactly};
use crate::protocol::{
    Category, FileId, PreviewKind, PublicKey, Sha256Digest, Tags, TransferCheck, decode_hex,
};

/// What `files/<id>.json` holds.
#[derive(Serialize, Deserialize)]
pub(super) struct Metadata {
    id: FileId,
    name: String,
    size: u64,
    uploader_name: String,
    uploader_id: u64,
    uploaded_at: DateTime<Utc>,
    sha256: String,
    /// Missing from metadata written before the store kept the transfer check.
    #[serde(default)]
    check: Option<String>,
    owner: Option<String>,
    /// Missing from metadata written before categories: judged again at each start.
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    tags: String,
    /// When the host deletes the file; missing or null: never.
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    /// Who may see it besides its owner and the operator; missing or null: everyone.
    #[serde(default)]
    audience: Option<Vec<ViewerMetadata>>,
    /// The latest version's number; missing: 1.
    #[serde(default = "first_version")]
    version: u32,
    /// The older versions kept, oldest first; missing: none.
    #[serde(default)]
    older: Vec<VersionMetadata>,
    /// Its comments, oldest first; missing: none.
    #[serde(default)]
    comments: Vec<CommentMetadata>,
    /// The number of the last comment written on it; missing: 0.
    #[serde(default)]
    last_comment: u64,
    /// What was made for its preview (in `<id>.preview`); missing: nothing yet.
    #[serde(default)]
    preview: Option<PreviewMetadata>,
}

/// A file's preview, as `files/<id>.json` notes it.
#[derive(Serialize, Deserialize)]
struct PreviewMetadata {
    /// The version it was made of.
    version: u32,
    /// `png` or `text`; null: that version has no preview.
    kind: Option<String>,
    /// The preview's size in bytes.
    size: u64,
}

impl PreviewMetadata {
    fn from_note(note: &PreviewNote) -> Self {
        Self {
            version: note.version,
            kind: note.made.map(|(kind, _)| kind.to_string()),
            size: note.made.map_or(0, |(_, size)| size),
        }
    }

    /// The note; `None` if its kind is not one this host knows (the preview is made again).
    fn into_note(self) -> Option<PreviewNote> {
        let made = match self.kind {
            Some(word) => Some((PreviewKind::from_word(&word)?, self.size)),
            None => None,
        };
        Some(PreviewNote {
            version: self.version,
            made,
        })
    }
}

/// One comment, as `files/<id>.json` holds it.
#[derive(Serialize, Deserialize)]
struct CommentMetadata {
    id: u64,
    author_id: u64,
    author_name: String,
    author: String,
    at: DateTime<Utc>,
    text: String,
}

impl CommentMetadata {
    fn from_comment(comment: &Comment) -> Self {
        Self {
            id: comment.id,
            author_id: comment.author_id,
            author_name: comment.author_name.clone(),
            author: comment.author.to_string(),
            at: comment.at,
            text: comment.text.clone(),
        }
    }

    /// The comment; `None` if its author's key is damaged.
    fn into_comment(self) -> Option<Comment> {
        Some(Comment {
            id: self.id,
            author_id: self.author_id,
            author_name: self.author_name,
            author: PublicKey(decode_hex(self.author.as_bytes())?),
            at: self.at,
            text: self.text,
        })
    }
}

/// The number of a file's first version.
fn first_version() -> u32 {
    1
}

/// One older version, as `files/<id>.json` holds it (its bytes are in
/// [`version_data_path`]).
#[derive(Serialize, Deserialize)]
struct VersionMetadata {
    number: u32,
    size: u64,
    uploaded_at: DateTime<Utc>,
    sha256: String,
    check: String,
}

impl VersionMetadata {
    fn from_version(version: &Version) -> Self {
        Self {
            number: version.number,
            size: version.size,
            uploaded_at: version.uploaded_at,
            sha256: version.sha256.to_string(),
            check: version.check.to_string(),
        }
    }

    /// The version; `None` if a field is damaged.
    fn into_version(self) -> Option<Version> {
        Some(Version {
            number: self.number,
            size: self.size,
            uploaded_at: self.uploaded_at,
            sha256: self.sha256.parse().ok()?,
            check: TransferCheck(decode_hex(self.check.as_bytes())?),
        })
    }
}

/// One participant of a restricted file's audience, as `files/<id>.json` holds it.
#[derive(Serialize, Deserialize)]
struct ViewerMetadata {
    /// The participant's public key, 64 hex digits.
    key: String,
    /// Its name when chosen.
    name: String,
}

impl Metadata {
    /// What `record`'s metadata says.
    pub(super) fn from_record(record: &FileRecord) -> Self {
        Self {
            id: record.id,
            name: record.name.clone(),
            size: record.size,
            uploader_name: record.uploader_name.clone(),
            uploader_id: record.uploader_id,
            uploaded_at: record.uploaded_at,
            sha256: record.sha256.to_string(),
            check: Some(record.check.to_string()),
            owner: record.owner.map(|key| key.to_string()),
            category: Some(record.category.to_string()),
            tags: record.tags.to_string(),
            expires_at: record.expires_at,
            audience: record.audience.as_ref().map(|viewers| {
                viewers
                    .iter()
                    .map(|viewer| ViewerMetadata {
                        key: viewer.key.to_string(),
                        name: viewer.name.clone(),
                    })
                    .collect()
            }),
            version: record.version,
            older: record
                .older
                .iter()
                .map(VersionMetadata::from_version)
                .collect(),
            comments: record
                .comments
                .iter()
                .map(CommentMetadata::from_comment)
                .collect(),
            last_comment: record.last_comment,
            preview: record.preview.as_ref().map(PreviewMetadata::from_note),
        }
    }

    /// Reads the metadata at `path`; `None` if it cannot be read or is not metadata.
    pub(super) fn read(path: &Path) -> Option<Self> {
        let bytes = fs::read(path).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The file's id, as recorded.
    pub(super) fn id(&self) -> FileId {
        self.id
    }

    /// The latest version's size, as recorded.
    pub(super) fn size(&self) -> u64 {
        self.size
    }

    /// The latest version's number, as recorded.
    pub(super) fn version(&self) -> u32 {
        self.version
    }

    /// The record this metadata describes, whose data is `data`; `None` if a field is
    /// damaged. Metadata without the transfer check gets it now: computed from the data and
    /// written back into `files` (the store's folder of complete files).
    pub(super) fn into_record(
        mut self,
        files: &Path,
        data: &Path,
    ) -> Result<Option<FileRecord>, StorageError> {
        if self.category.is_none() {
            let head = read_head(data)?;
            self.category = Some(categorize(&self.name, &head).to_string());
        }
        let check = match &self.check {
            Some(hex) => match decode_hex(hex.as_bytes()) {
                Some(bytes) => TransferCheck(bytes),
                None => return Ok(None),
            },
            None => {
                tracing::info!(
                    "Computing the transfer check of {} (stored by an older lanshare)",
                    data.display()
                );
                let mut content = File::open(data)?;
                let check = hash_exactly(
                    CheckHash::default(),
                    &mut content,
                    self.size,
                    &AtomicBool::new(false),
                )?;
                let Some(record) = self.with_check(check) else {
                    return Ok(None);
                };
                replace(files, &record)?;
                return Ok(Some(record));
            }
        };
        Ok(self.with_check(check))
    }

    /// The record of metadata that has its transfer check and category (as every object
    /// store's has); `None` if a field is damaged or missing.
    pub(super) fn into_complete_record(self) -> Option<FileRecord> {
        self.category.as_ref()?;
        let check = TransferCheck(decode_hex(self.check.as_deref()?.as_bytes())?);
        self.with_check(check)
    }

    /// The record, with the transfer check given; `None` if a field is damaged.
    fn with_check(self, check: TransferCheck) -> Option<FileRecord> {
        let owner = match self.owner {
            Some(hex) => Some(PublicKey(decode_hex(hex.as_bytes())?)),
            None => None,
        };
        let category = match &self.category {
            Some(word) => Category::from_word(word)?,
            None => Category::Other,
        };
        let audience = match self.audience {
            // A damaged key must not widen who sees the file: the record is refused instead.
            Some(viewers) => Some(
                viewers
                    .into_iter()
                    .map(|viewer| {
                        let key = PublicKey(decode_hex(viewer.key.as_bytes())?);
                        Some(Viewer {
                            key,
                            name: viewer.name,
                        })
                    })
                    .collect::<Option<Vec<_>>>()?,
            ),
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
            check,
            owner,
            category,
            tags: Tags::parse(&self.tags).ok()?,
            expires_at: self.expires_at,
            audience,
            version: self.version,
            // A damaged older version is left out; the file keeps the others.
            older: self
                .older
                .into_iter()
                .filter_map(VersionMetadata::into_version)
                .collect(),
            // A comment whose author cannot be read is left out.
            comments: self
                .comments
                .into_iter()
                .filter_map(CommentMetadata::into_comment)
                .collect(),
            last_comment: self.last_comment,
            preview: self.preview.and_then(PreviewMetadata::into_note),
        })
    }
}

/// The first bytes of the file at `path`, as many as [`categorize`] looks at.
pub(super) fn read_head(path: &Path) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(HEAD_BYTES);
    File::open(path)?
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)?;
    Ok(head)
}

/// Where the bytes of version `number` of file `id` are: `<id>.data` for the first (as files
/// were always stored), `<id>-<number>.data` for later ones.
pub(super) fn version_data_path(files: &Path, id: FileId, number: u32) -> PathBuf {
    if number <= 1 {
        files.join(format!("{id}.data"))
    } else {
        files.join(format!("{id}-{number}.data"))
    }
}

/// Where the preview of file `id` is (of the version its metadata notes).
pub(super) fn preview_path(files: &Path, id: FileId) -> PathBuf {
    files.join(format!("{id}.preview"))
}

/// Where `record`'s metadata goes.
pub(super) fn meta_path(files: &Path, id: FileId) -> PathBuf {
    files.join(format!("{id}.json"))
}

/// Writes `record`'s metadata under a temporary name in `files` (not synced); returns the open
/// file and its path. Renamed to [`meta_path`], it makes the file exist.
pub(super) fn write_temporary(
    files: &Path,
    record: &FileRecord,
) -> Result<(File, PathBuf), StorageError> {
    let temp = files.join(format!("{}.json.tmp", record.id));
    let json = serde_json::to_vec_pretty(&Metadata::from_record(record))
        .map_err(|e| StorageError::Io(io::Error::other(e)))?;
    let mut meta = File::create(&temp)?;
    meta.write_all(&json)?;
    Ok((meta, temp))
}

/// Replaces a stored file's metadata with `record`'s, crash-safely: a crash leaves the old
/// metadata or the new, never half of one (a leftover temporary file is removed at the next
/// start).
pub(super) fn replace(files: &Path, record: &FileRecord) -> Result<(), StorageError> {
    let (meta, temp) = write_temporary(files, record)?;
    let replaced = meta
        .sync_all()
        .and_then(|()| fs::rename(&temp, meta_path(files, record.id)))
        .and_then(|()| File::open(files)?.sync_all());
    if replaced.is_err() {
        let _ = fs::remove_file(&temp);
    }
    Ok(replaced?)
}
