//! What the store holds and says: file records, the store's configuration, and its errors.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::protocol::{
    Audience, Category, ClientId, FileId, PreviewKind, PublicKey, Sha256Digest, Tags, TransferCheck,
};

/// A participant a restricted file is shown to: its key, and the name it had when chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// The participant's lasting identity.
    pub key: PublicKey,
    /// Its name when the sharer chose it (for lists of who may see the file).
    pub name: String,
}

/// One version of a file: the bytes shared under its name at one time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Its number: 1 for the first, counted up from there.
    pub number: u32,
    /// Size in bytes.
    pub size: u64,
    /// When its last byte arrived.
    pub uploaded_at: DateTime<Utc>,
    /// SHA-256 of its content.
    pub sha256: Sha256Digest,
    /// Its transfer check.
    pub check: TransferCheck,
}

/// A comment on a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// Its number on the file (from 1, never reused).
    pub id: u64,
    /// Its author's client id.
    pub author_id: ClientId,
    /// Its author's name when it was written.
    pub author_name: String,
    /// Its author's key: who may delete it (with the operator).
    pub author: PublicKey,
    /// When it was written.
    pub at: DateTime<Utc>,
    /// What it says.
    pub text: String,
}

/// What the host made of a file's version for its preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviewNote {
    /// The version it was made of.
    pub version: u32,
    /// The preview's kind and size in bytes; `None`: that version has none (not an image or
    /// text, damaged, or too large).
    pub made: Option<(PreviewKind, u64)>,
}

/// Everything the host knows about one stored file: its latest version (the fields of the
/// seed's listing) and the older versions kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// Id assigned at commit.
    pub id: FileId,
    /// Name as uploaded.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Display name of the uploader.
    pub uploader_name: String,
    /// Client id of the uploader (0 for guests).
    pub uploader_id: ClientId,
    /// When the last byte arrived.
    pub uploaded_at: DateTime<Utc>,
    /// SHA-256 of the content, computed while receiving.
    pub sha256: Sha256Digest,
    /// The transfer check of the content, computed while receiving: what downloads are
    /// verified against.
    pub check: TransferCheck,
    /// Public key of the participant who may delete it; `None` for guest uploads.
    pub owner: Option<PublicKey>,
    /// What kind of file it is, judged from its first bytes and its name.
    pub category: Category,
    /// The sharer's tags.
    pub tags: Tags,
    /// When the host deletes it; `None`: never.
    pub expires_at: Option<DateTime<Utc>>,
    /// Who may see it besides its owner (and the host's operator); `None`: everyone.
    pub audience: Option<Vec<Viewer>>,
    /// The latest version's number: 1 for a file shared once.
    pub version: u32,
    /// The older versions kept, oldest first (the latest is the record's own fields).
    pub older: Vec<Version>,
    /// Its comments, oldest first.
    pub comments: Vec<Comment>,
    /// The number of the last comment written on it (deleted ones included).
    pub last_comment: u64,
    /// What was made for its preview; `None`: nothing yet.
    pub preview: Option<PreviewNote>,
}

impl FileRecord {
    /// The latest version.
    pub fn latest(&self) -> Version {
        Version {
            number: self.version,
            size: self.size,
            uploaded_at: self.uploaded_at,
            sha256: self.sha256,
            check: self.check,
        }
    }

    /// Every version kept, oldest first, the latest last.
    pub fn versions(&self) -> Vec<Version> {
        let mut versions = self.older.clone();
        versions.push(self.latest());
        versions
    }

    /// The kept version numbered `number`, if there is one.
    pub fn version(&self, number: u32) -> Option<Version> {
        self.versions().into_iter().find(|v| v.number == number)
    }

    /// The kind and size of its latest version's preview, once one is made.
    pub fn preview_ready(&self) -> Option<(PreviewKind, u64)> {
        self.preview
            .filter(|note| note.version == self.version)
            .and_then(|note| note.made)
    }

    /// Whether its latest version's preview is still to be made (or found to be impossible).
    pub fn lacks_preview(&self) -> bool {
        self.preview.is_none_or(|note| note.version != self.version)
    }

    /// Whether it has expired by `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Whether the participant with `key` (`None`: someone unproven, such as a seed client)
    /// may see it, the operator aside: everyone may see a file that is not restricted; a
    /// restricted one, its owner and the participants chosen.
    pub fn may_see(&self, key: Option<&PublicKey>) -> bool {
        match &self.audience {
            None => true,
            Some(viewers) => key.is_some_and(|key| {
                self.owner.as_ref() == Some(key) || viewers.iter().any(|v| v.key == *key)
            }),
        }
    }

    /// The names of who may see it, for a restricted file.
    pub fn audience_names(&self) -> Option<Audience> {
        let viewers = self.audience.as_ref()?;
        // The names were checked when chosen; an empty one (damaged metadata) is left out.
        let names = viewers
            .iter()
            .map(|viewer| viewer.name.clone())
            .filter(|name| !name.trim().is_empty())
            .collect();
        Some(Audience::new(names).unwrap_or_default())
    }
}

/// The metadata of an upload that is known before its bytes arrive.
#[derive(Debug, Clone)]
pub struct NewFile {
    /// Name as uploaded.
    pub name: String,
    /// Display name of the uploader.
    pub uploader_name: String,
    /// Client id of the uploader.
    pub uploader_id: ClientId,
    /// Key of the uploader, if proven.
    pub owner: Option<PublicKey>,
    /// The sharer's tags.
    pub tags: Tags,
    /// How long after it is stored the host deletes it; `None`: never.
    pub lifetime: Option<std::time::Duration>,
    /// Who may see it besides its owner and the operator; `None`: everyone.
    pub audience: Option<Vec<Viewer>>,
    /// Whether it becomes a new version of a file already stored.
    pub versioning: Versioning,
}

/// Whether an upload becomes a new version of a stored file, and how many that file keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versioning {
    /// A file of its own.
    NewFile,
    /// The new version of the file its owner shares under the same name (the newest, if
    /// several), which keeps its last `keep` versions; a file of its own if there is none.
    SameName {
        /// How many versions the file keeps.
        keep: usize,
    },
    /// The new version of file `id`, whose name and owner stay as they are and which keeps its
    /// last `keep` versions; refused ([`StorageError::Gone`]) if the file is no longer there.
    Of {
        /// The file.
        id: FileId,
        /// How many versions the file keeps.
        keep: usize,
    },
}

/// Which backend to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    /// Keep files in RAM, at most `limit` bytes in all.
    Memory {
        /// Total bytes the store may hold, counting uploads in progress.
        limit: u64,
    },
    /// Keep files in an S3-compatible object store, which several hosts may share.
    Object(super::s3::ObjectStoreConfig),
    /// Keep files in this directory; they survive restarts.
    Disk {
        /// The store's directory (created if missing).
        dir: PathBuf,
        /// Total bytes the store may hold, counting uploads in progress; without it, as much as
        /// the disk has room for.
        limit: Option<u64>,
    },
}

/// Why the store refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The store's cap (`--memory-limit`, `--disk-limit`) would be exceeded.
    #[error(
        "Host storage is full: this file needs {}, only {} of {} is free",
        crate::units::format_size(*needed),
        crate::units::format_size(*free),
        crate::units::format_size(*limit)
    )]
    Full {
        /// Bytes asked for.
        needed: u64,
        /// Bytes still free.
        free: u64,
        /// The cap.
        limit: u64,
    },
    /// The disk under the store has no room left.
    #[error("Host disk is full")]
    DiskFull,
    /// The disk under the store has too little room for an upload.
    #[error(
        "Host disk is full: this file needs {}, only {} is free",
        crate::units::format_size(*needed),
        crate::units::format_size(*free)
    )]
    DiskSpace {
        /// Bytes asked for.
        needed: u64,
        /// Bytes free on the disk, less what uploads in progress will still write.
        free: u64,
    },
    /// The upload delivered a different number of bytes than announced.
    #[error("Upload incomplete: received {received} of {expected} bytes")]
    Incomplete {
        /// Bytes received.
        received: u64,
        /// Bytes announced.
        expected: u64,
    },
    /// The file an upload was to be a new version of was deleted meanwhile.
    #[error("File #{0} was deleted while its new version was uploading")]
    Gone(FileId),
    /// Other hosts changed the file each time this one tried to.
    #[error("File #{0} is being changed at another host: try again")]
    Busy(FileId),
    /// Any other I/O failure in the store.
    #[error("Host storage error: {0}")]
    Io(io::Error),
    /// The object store failed or refused.
    #[error("Host storage error: {0}")]
    ObjectStore(super::s3::S3Error),
}

impl From<super::s3::S3Error> for StorageError {
    fn from(error: super::s3::S3Error) -> Self {
        Self::ObjectStore(error)
    }
}

impl StorageError {
    /// Whether a conditional write found the metadata changed by another host meanwhile.
    pub(super) fn is_conflict(&self) -> bool {
        matches!(self, Self::ObjectStore(super::s3::S3Error::Conflict))
    }
}

impl From<io::Error> for StorageError {
    fn from(error: io::Error) -> Self {
        if error.kind() == io::ErrorKind::StorageFull {
            Self::DiskFull
        } else {
            Self::Io(error)
        }
    }
}

/// Why a file's record could not be changed ([`crate::storage::Storage::change`]).
#[derive(Debug)]
pub enum ChangeError {
    /// No file has that id.
    NotFound,
    /// The change refused, with its reason.
    Refused(String),
    /// The store failed to keep the change.
    Storage(StorageError),
}

/// Why a file could not be removed (or its list of who may see it changed).
#[derive(Debug)]
pub enum RemoveError {
    /// No file has that id.
    NotFound,
    /// The check passed to [`Storage::remove_if`] refused; carries the record.
    Refused(Arc<FileRecord>),
    /// The store failed to delete it.
    Storage(StorageError),
}
