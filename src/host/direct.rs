//! Files shared directly (PROTOCOL.md, *Direct transfers*): the host lists them and vouches for
//! their downloaders, but stores none of their bytes; their sharers serve them.
//!
//! A direct file keeps its id while the host runs: when its sharer's session ends it becomes
//! unavailable, and when the same key shares the same bytes (SHA-256) again it is the same
//! listing once more.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::wire::Connection;
use crate::protocol::{
    ClientId, DirectShare, FileId, Fingerprint, PublicKey, RelayToken, Sha256Digest, Tags,
};
use crate::storage::{FileRecord, RemoveError, Viewer, categorize};

/// The first id given to a direct file: far above any stored file's, so the two never meet
/// without the store having to know of direct files.
pub(super) const FIRST_DIRECT_ID: FileId = 1 << 48;

/// Most direct files listed at once; past it, the oldest unavailable one is forgotten.
pub(super) const MAX_DIRECT_FILES: usize = 16_384;
/// Most direct files listed for one key; past it, its oldest unavailable one is forgotten.
pub(super) const MAX_DIRECT_FILES_PER_SHARER: usize = 1_024;

/// Why a direct share was not listed (the text of `DIRECT_FAILED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(super) enum ShareRefused {
    /// This key serves as many as it may.
    #[error(
        "You share {MAX_DIRECT_FILES_PER_SHARER} files directly already: stop sharing some first"
    )]
    SharerFull,
    /// The host lists as many as it may, all of them available.
    #[error("This host lists {MAX_DIRECT_FILES} files shared directly already")]
    HostFull,
}

/// Why a direct file's listing was not removed (the text of `DELETE_FAILED`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum RemoveRefused {
    /// No such direct file.
    #[error("File not found")]
    NotFound,
    /// Only its sharer (or the operator) may.
    #[error("Only {sharer} (who shared it) or the host can delete '{name}'")]
    NotTheSharer {
        /// Who shares it.
        sharer: String,
        /// Its name.
        name: String,
    },
}

/// A direct share listed: its record, and the listings forgotten to make room for it.
pub(super) struct Listed {
    /// The file as listed.
    pub record: FileRecord,
    /// Unavailable files no longer listed.
    pub forgotten: Vec<FileRecord>,
    /// The listing as it was, if the same key shared the same bytes before.
    pub before: Option<FileRecord>,
}

/// Who shares a direct file now, and where its server is.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sharer {
    /// Its control session, which asks it to serve relays.
    pub session_id: u64,
    /// The sharer's server.
    pub address: SocketAddr,
    /// SHA-256 of its certificate.
    pub fingerprint: Fingerprint,
}

/// One direct file.
struct Entry {
    record: FileRecord,
    /// `None` while its sharer is offline.
    sharer: Option<Sharer>,
}

/// Who shares a file directly, as its session proved.
pub(super) struct Owner<'a> {
    /// The sharer's client id.
    pub client_id: ClientId,
    /// Its name.
    pub username: &'a str,
    /// Its key.
    pub key: PublicKey,
    /// Its session.
    pub session_id: u64,
    /// The address its session comes from, where its server listens too.
    pub seen_at: SocketAddr,
}

/// Forgets the oldest unavailable listing of `key` if it has its most, then the oldest
/// unavailable one of anyone if the host has its most; refuses if the room is held by files
/// available now.
fn make_room(
    files: &mut BTreeMap<FileId, Entry>,
    key: &PublicKey,
) -> Result<Vec<FileRecord>, ShareRefused> {
    let mut forgotten = Vec::new();
    let owned = |entry: &Entry| entry.record.owner == Some(*key);
    if files.values().filter(|entry| owned(entry)).count() >= MAX_DIRECT_FILES_PER_SHARER {
        let oldest = files
            .iter()
            .find(|(_, entry)| owned(entry) && entry.sharer.is_none())
            .map(|(id, _)| *id)
            .ok_or(ShareRefused::SharerFull)?;
        forgotten.extend(files.remove(&oldest).map(|entry| entry.record));
    }
    if files.len() >= MAX_DIRECT_FILES {
        let oldest = files
            .iter()
            .find(|(_, entry)| entry.sharer.is_none())
            .map(|(id, _)| *id)
            .ok_or(ShareRefused::HostFull)?;
        forgotten.extend(files.remove(&oldest).map(|entry| entry.record));
    }
    Ok(forgotten)
}

/// The direct files, by id.
#[derive(Default)]
pub(super) struct DirectShares {
    files: Mutex<BTreeMap<FileId, Entry>>,
    /// The last id given (changed under `files`' lock).
    last_id: AtomicU64,
}

impl DirectShares {
    fn files(&self) -> std::sync::MutexGuard<'_, BTreeMap<FileId, Entry>> {
        self.files.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lists `share` for `owner` (the same id as before if the same key shared the same bytes)
    /// and marks it available, forgetting unavailable listings if it needs the room.
    pub(super) fn share(
        &self,
        owner: &Owner<'_>,
        share: &DirectShare,
        audience: Option<Vec<Viewer>>,
    ) -> Result<Listed, ShareRefused> {
        let mut files = self.files();
        let known = files
            .iter()
            .find(|(_, entry)| {
                entry.record.owner == Some(owner.key) && entry.record.sha256 == share.sha256
            })
            .map(|(id, _)| *id);
        // Ids are never given twice, even those of listings forgotten.
        let next = (self.last_id.load(Ordering::Relaxed) + 1).max(FIRST_DIRECT_ID);
        let forgotten = match known {
            Some(_) => Vec::new(),
            None => make_room(&mut files, &owner.key)?,
        };
        let file_id = known.unwrap_or(next);
        // Shared again without names: it keeps who may see it.
        let audience = audience.or_else(|| {
            known
                .and_then(|id| files.get(&id))
                .and_then(|entry| entry.record.audience.clone())
        });
        let record = FileRecord {
            id: file_id,
            name: share.name.clone(),
            size: share.size,
            uploader_name: owner.username.to_owned(),
            uploader_id: owner.client_id,
            uploaded_at: chrono::Utc::now(),
            sha256: share.sha256,
            check: share.check,
            owner: Some(owner.key),
            category: categorize(&share.name, &[]),
            tags: Tags::default(),
            expires_at: None,
            audience,
            version: 1,
            older: Vec::new(),
            comments: Vec::new(),
            last_comment: 0,
            preview: None,
        };
        let sharer = Sharer {
            session_id: owner.session_id,
            address: SocketAddr::new(owner.seen_at.ip(), share.port),
            fingerprint: share.sharer,
        };
        let entry = Entry {
            record: record.clone(),
            sharer: Some(sharer),
        };
        let before = files.insert(file_id, entry).map(|entry| entry.record);
        self.last_id.store(
            self.last_id.load(Ordering::Relaxed).max(file_id),
            Ordering::Relaxed,
        );
        Ok(Listed {
            record,
            forgotten,
            before,
        })
    }

    /// Marks the files session `session_id` served unavailable; returns them.
    pub(super) fn sharer_left(&self, session_id: u64) -> Vec<FileRecord> {
        let mut files = self.files();
        let mut left = Vec::new();
        for entry in files.values_mut() {
            if entry
                .sharer
                .is_some_and(|sharer| sharer.session_id == session_id)
            {
                entry.sharer = None;
                left.push(entry.record.clone());
            }
        }
        left
    }

    /// Every direct file and whether it is available now, by id.
    pub(super) fn listed(&self) -> Vec<(FileRecord, bool)> {
        let files = self.files();
        let listed = files.values();
        listed
            .map(|entry| (entry.record.clone(), entry.sharer.is_some()))
            .collect()
    }

    /// Stops listing file `file_id` if `allowed` lets its record go; returns the record.
    pub(super) fn remove_if(
        &self,
        file_id: FileId,
        allowed: impl FnOnce(&FileRecord) -> bool,
    ) -> Result<FileRecord, RemoveRefused> {
        let mut files = self.files();
        let entry = files.get(&file_id).ok_or(RemoveRefused::NotFound)?;
        if !allowed(&entry.record) {
            return Err(RemoveRefused::NotTheSharer {
                sharer: entry.record.uploader_name.clone(),
                name: entry.record.name.clone(),
            });
        }
        files
            .remove(&file_id)
            .map(|entry| entry.record)
            .ok_or(RemoveRefused::NotFound)
    }

    /// Changes who may see direct file `file_id` (`None`: everyone) if `allowed` lets its
    /// record change; returns its record before and after, and whether it is available.
    pub(super) fn set_audience(
        &self,
        file_id: FileId,
        audience: Option<Vec<Viewer>>,
        allowed: impl FnOnce(&FileRecord) -> bool,
    ) -> Result<(FileRecord, FileRecord, bool), RemoveError> {
        let mut files = self.files();
        let entry = files.get_mut(&file_id).ok_or(RemoveError::NotFound)?;
        if !allowed(&entry.record) {
            return Err(RemoveError::Refused(Arc::new(entry.record.clone())));
        }
        let before = entry.record.clone();
        entry.record.audience = audience;
        Ok((before, entry.record.clone(), entry.sharer.is_some()))
    }

    /// Stops listing the direct files of `owner` with these bytes (`sha256`): the owner has
    /// stored them on the host, which lists them as a file of its own now. Returns their
    /// records.
    pub(super) fn now_stored(&self, owner: &PublicKey, sha256: &Sha256Digest) -> Vec<FileRecord> {
        let mut files = self.files();
        let stored: Vec<FileId> = files
            .iter()
            .filter(|(_, entry)| {
                entry.record.owner.as_ref() == Some(owner) && entry.record.sha256 == *sha256
            })
            .map(|(id, _)| *id)
            .collect();
        stored
            .iter()
            .filter_map(|id| files.remove(id))
            .map(|entry| entry.record)
            .collect()
    }

    /// The file `file_id` and, while it is available, where its sharer serves it.
    pub(super) fn find(&self, file_id: FileId) -> Option<(FileRecord, Option<Sharer>)> {
        let files = self.files();
        let entry = files.get(&file_id)?;
        Some((entry.record.clone(), entry.sharer))
    }
}

/// Relays waiting for their sharer's connection, by the token its session was sent.
#[derive(Default)]
pub(super) struct Relays {
    waiting: Mutex<HashMap<RelayToken, flume::Sender<Connection>>>,
}

impl Relays {
    /// Opens a relay: the token to send the sharer and where its connection will arrive.
    pub(super) fn open(&self) -> std::io::Result<(RelayToken, flume::Receiver<Connection>)> {
        let token = RelayToken(crate::random::random_bytes()?);
        let (sender, receiver) = flume::bounded(1);
        self.waiting().insert(token, sender);
        Ok((token, receiver))
    }

    /// Forgets a relay that was served or given up on.
    pub(super) fn close(&self, token: &RelayToken) {
        self.waiting().remove(token);
    }

    /// Where the sharer's connection for `token` goes, if a relay waits for it.
    pub(super) fn take(&self, token: &RelayToken) -> Option<flume::Sender<Connection>> {
        self.waiting().remove(token)
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<RelayToken, flume::Sender<Connection>>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Sha256Digest, TransferCheck};

    fn owner(key: u8, session_id: u64) -> Owner<'static> {
        Owner {
            client_id: u64::from(key),
            username: "alice",
            key: PublicKey([key; 32]),
            session_id,
            seen_at: SocketAddr::from(([192, 168, 1, 20], 5005)),
        }
    }

    fn share(n: u32) -> DirectShare {
        let mut sha256 = [0u8; 32];
        sha256[..4].copy_from_slice(&n.to_be_bytes());
        DirectShare {
            name: format!("file-{n}.bin"),
            size: u64::from(n),
            sha256: Sha256Digest(sha256),
            check: TransferCheck([0; 16]),
            port: 40_000,
            only: None,
            sharer: Fingerprint([9; 32]),
        }
    }

    #[test]
    fn the_same_bytes_from_the_same_key_keep_their_id_and_others_get_new_ones() {
        let shares = DirectShares::default();
        let first = shares
            .share(&owner(1, 1), &share(1), None)
            .map(|l| l.record.id);
        assert_eq!(first, Ok(FIRST_DIRECT_ID));
        assert_eq!(shares.sharer_left(1).len(), 1);
        assert_eq!(shares.listed().first().map(|(_, up)| *up), Some(false));
        let again = shares
            .share(&owner(1, 2), &share(1), None)
            .map(|l| l.record.id);
        assert_eq!(again, Ok(FIRST_DIRECT_ID));
        let (record, sharer) = shares.find(FIRST_DIRECT_ID).unzip();
        assert_eq!(record.map(|r| r.size), Some(1));
        let address = sharer.flatten().map(|s| s.address);
        assert_eq!(address, Some(SocketAddr::from(([192, 168, 1, 20], 40_000))));
        // Another key sharing the same bytes is another listing.
        let other = shares
            .share(&owner(2, 3), &share(1), None)
            .map(|l| l.record.id);
        assert_eq!(other, Ok(FIRST_DIRECT_ID + 1));
    }

    #[test]
    fn a_sharer_lists_so_many_files_and_its_unavailable_ones_make_way() {
        let shares = DirectShares::default();
        let alice = owner(1, 1);
        let limit = MAX_DIRECT_FILES_PER_SHARER as u32;
        for n in 0..limit {
            assert!(shares.share(&alice, &share(n), None).is_ok(), "share {n}");
        }
        let refused = shares
            .share(&alice, &share(limit), None)
            .map(|l| l.record.id);
        assert_eq!(refused, Err(ShareRefused::SharerFull));
        // Offline, then back with one new file: the oldest listing makes way, never its id.
        shares.sharer_left(1);
        let back = owner(1, 2);
        let listed = shares
            .share(&back, &share(limit), None)
            .unwrap_or_else(|refused| panic!("{refused}"));
        assert_eq!(listed.record.id, FIRST_DIRECT_ID + u64::from(limit));
        let forgotten: Vec<FileId> = listed.forgotten.iter().map(|r| r.id).collect();
        assert_eq!(forgotten, [FIRST_DIRECT_ID]);
        assert_eq!(shares.listed().len(), MAX_DIRECT_FILES_PER_SHARER);
    }
}
