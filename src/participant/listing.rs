//! What a host lists: its files (each a `FILE_OFFER` with the `FILE_META` after it) and, for a
//! session, who is online. Read by listings on transfer connections and by sessions alike.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::connection::Connection;
use super::error::Error;
use crate::protocol::{
    Audience, Category, ClientId, CommentInfo, FileId, FileInfo, HostLine, PreviewKind,
    Sha256Digest, Tags, TransferCheck,
};

/// A shared file as participants see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// The host's id for it.
    pub id: FileId,
    /// Its name as uploaded.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Who shared it.
    pub uploader: String,
    /// The uploader's client id (0 for a guest upload).
    pub uploader_id: ClientId,
    /// When it finished uploading.
    pub uploaded_at: DateTime<Utc>,
    /// SHA-256 of its bytes.
    pub sha256: Sha256Digest,
    /// The transfer check of its bytes, which a download is verified against; `None` from a
    /// host that does not send it (then the SHA-256 is checked).
    pub check: Option<TransferCheck>,
    /// Its category, tags and expiry (empty from a host that does not send them).
    pub details: FileDetails,
}

/// A file's place in the shared library: what the host sends in `FILE_INFO`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileDetails {
    /// What kind of file the host judged it; `None` from a host that does not say.
    pub category: Option<Category>,
    /// The sharer's tags.
    pub tags: Tags,
    /// When the host will delete it (by this computer's clock); `None`: never.
    pub expires_at: Option<DateTime<Utc>>,
    /// For a restricted file this participant shared (or any, for the operator): who else may
    /// see it (`FILE_ACCESS`). `None`: not restricted, or not this participant's to know.
    pub only: Option<Audience>,
    /// For a file with more than one version: the latest's number and how many are kept
    /// (`FILE_VERSIONS`); `None`: one version (or a host that does not say).
    pub versions: Option<VersionCount>,
    /// The version this entry stands for when it is not the latest (from `VERSIONS`): a
    /// download of it asks for that version. `None`: the latest.
    pub version: Option<u32>,
    /// Its comments, oldest first (from a host that sends them).
    pub comments: Vec<CommentInfo>,
    /// Its preview, once the host has made one (`FILE_PREVIEW`); fetched on demand.
    pub preview: Option<PreviewAvailable>,
    /// For a file shared directly from its sharer's machine: whether its sharer serves it now
    /// (`FILE_STATE`). `None`: the host stores it.
    pub direct: Option<bool>,
}

/// A preview the host holds of a file (`FILE_PREVIEW`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviewAvailable {
    /// What it is.
    pub kind: PreviewKind,
    /// Its size in bytes.
    pub size: u64,
}

/// How many versions of a file there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionCount {
    /// The latest version's number.
    pub latest: u32,
    /// How many versions the host keeps (the latest included).
    pub kept: u32,
}

impl FileDetails {
    /// The details a `FILE_INFO` line gives, its expiry counted from `received` (when the
    /// line arrived).
    pub fn from_info(info: FileInfo, received: DateTime<Utc>) -> Self {
        let expires_at = info.expires_in_ms.map(|ms| {
            let ms = i64::try_from(ms).unwrap_or(i64::MAX);
            received
                .checked_add_signed(chrono::Duration::milliseconds(ms))
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        });
        Self {
            category: Some(info.category),
            tags: info.tags,
            expires_at,
            only: None,
            versions: None,
            version: None,
            comments: Vec::new(),
            preview: None,
            direct: None,
        }
    }
}

/// Someone online on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Their client id.
    pub client_id: ClientId,
    /// Their display name.
    pub username: String,
}

/// What the host had when the session opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Participants online, this one included.
    pub peers: Vec<Peer>,
    /// Files shared, by id.
    pub files: Vec<FileEntry>,
}

/// Pairs each `FILE_OFFER` with the `FILE_META` that follows it (and the `FILE_INFO`
/// between them, from a host that sends it).
#[derive(Default)]
pub(super) struct OfferAssembler {
    pending: HashMap<FileId, HostLine>,
    details: HashMap<FileId, FileDetails>,
    access: HashMap<FileId, Audience>,
    versions: HashMap<FileId, VersionCount>,
    comments: HashMap<FileId, Vec<CommentInfo>>,
    previews: HashMap<FileId, PreviewAvailable>,
    states: HashMap<FileId, bool>,
}

impl OfferAssembler {
    /// Whether an offer of `file_id` waits for its `FILE_META`.
    pub(super) fn is_pending(&self, file_id: FileId) -> bool {
        self.pending.contains_key(&file_id)
    }

    /// Feeds one line; returns a complete entry when a `FILE_META` completes an offer.
    pub(super) fn feed(&mut self, line: HostLine) -> Result<Option<FileEntry>, Error> {
        match line {
            HostLine::FileOffer { file_id, .. } => {
                self.pending.insert(file_id, line);
                Ok(None)
            }
            HostLine::FileInfo(info) if self.pending.contains_key(&info.file_id) => {
                self.details
                    .insert(info.file_id, FileDetails::from_info(info, Utc::now()));
                Ok(None)
            }
            HostLine::FileAccess { file_id, only } if self.pending.contains_key(&file_id) => {
                self.access.insert(file_id, only);
                Ok(None)
            }
            HostLine::CommentAdded(comment) if self.pending.contains_key(&comment.file_id) => {
                self.comments
                    .entry(comment.file_id)
                    .or_default()
                    .push(comment);
                Ok(None)
            }
            HostLine::FilePreview {
                file_id,
                kind,
                size,
            } if self.pending.contains_key(&file_id) => {
                self.previews
                    .insert(file_id, PreviewAvailable { kind, size });
                Ok(None)
            }
            HostLine::FileState { file_id, available } if self.pending.contains_key(&file_id) => {
                self.states.insert(file_id, available);
                Ok(None)
            }
            HostLine::FileVersions {
                file_id,
                latest,
                kept,
            } if self.pending.contains_key(&file_id) => {
                self.versions.insert(file_id, VersionCount { latest, kept });
                Ok(None)
            }
            HostLine::FileMeta {
                file_id,
                uploaded_at_ms,
                sha256,
                check,
            } => {
                let Some(HostLine::FileOffer {
                    name,
                    size,
                    uploader_name,
                    uploader_id,
                    ..
                }) = self.pending.remove(&file_id)
                else {
                    return Err(Error::Protocol(format!(
                        "FILE_META for {file_id} without its FILE_OFFER"
                    )));
                };
                let uploaded_at = DateTime::<Utc>::from_timestamp_millis(uploaded_at_ms)
                    .ok_or_else(|| Error::Protocol(format!("bad upload time {uploaded_at_ms}")))?;
                Ok(Some(FileEntry {
                    id: file_id,
                    name,
                    size,
                    uploader: uploader_name,
                    uploader_id,
                    uploaded_at,
                    sha256,
                    check,
                    details: FileDetails {
                        only: self.access.remove(&file_id),
                        versions: self.versions.remove(&file_id),
                        version: None,
                        comments: self.comments.remove(&file_id).unwrap_or_default(),
                        preview: self.previews.remove(&file_id),
                        direct: self.states.remove(&file_id),
                        ..self.details.remove(&file_id).unwrap_or_default()
                    },
                }))
            }
            other => Err(Error::unexpected_reply(&other)),
        }
    }
}

/// Reads file lines up to `END` (a `LIST`'s answer), each within `timeout`.
pub(super) fn read_files(
    connection: &mut Connection,
    timeout: Duration,
) -> Result<Vec<FileEntry>, Error> {
    let mut offers = OfferAssembler::default();
    let mut files = Vec::new();
    loop {
        match connection.read_reply(timeout)? {
            HostLine::End => return Ok(files),
            line => {
                if let Some(entry) = offers.feed(line)? {
                    files.push(entry);
                }
            }
        }
    }
}

/// Reads `PEER_JOINED` and file lines up to `END` (a session's opening), each within
/// `timeout`.
pub(super) fn read_snapshot(
    connection: &mut Connection,
    timeout: Duration,
) -> Result<Snapshot, Error> {
    let mut snapshot = Snapshot::default();
    let mut offers = OfferAssembler::default();
    loop {
        match connection.read_reply(timeout)? {
            HostLine::End => return Ok(snapshot),
            HostLine::PeerJoined {
                client_id,
                username,
            } => snapshot.peers.push(Peer {
                client_id,
                username,
            }),
            line => {
                if let Some(entry) = offers.feed(line)? {
                    snapshot.files.push(entry);
                }
            }
        }
    }
}
