//! What the live session's events do to the screen: joining and rejoining (and noticing a
//! host that restarted), files offered and deleted, people coming and going, losing the host
//! (said in words people use), and a changed host key.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use super::toasts::Kind;
use super::wording::plain_reason;
use super::{Action, Connection, Participant, shown};
use crate::gui::bridge::Feed;
use crate::participant::live::{LiveEvent, LiveSession};
use crate::participant::trust;
use crate::participant::{FileEntry, SessionEvent, Snapshot};
use crate::protocol::{FileId, visible_text};

impl Participant {
    pub(super) fn on_live(&mut self, event: LiveEvent) -> Action {
        match event {
            LiveEvent::Connected {
                host,
                client_id,
                role,
                credentials,
                snapshot,
                host_key,
            } => {
                self.resynchronise(snapshot);
                self.connection = Connection::Connected {
                    host,
                    client_id,
                    role,
                    credentials,
                    host_key,
                };
                self.ever_connected = true;
                self.share_directly_again();
            }
            LiveEvent::Session(event) => self.on_session(event),
            LiveEvent::Lost { reason, retry_in } => {
                self.now = Instant::now();
                self.connection = Connection::Lost {
                    reason: plain_reason(&reason),
                    retry_at: self.now + retry_in,
                };
            }
            LiveEvent::HostKeyChanged {
                host,
                pinned,
                shown,
            } => {
                self.connection = Connection::KeyChanged {
                    host,
                    pinned,
                    shown,
                };
            }
            LiveEvent::Failed { reason } => {
                if !self.ever_connected {
                    return Action::Failed(reason);
                }
                self.connection = Connection::Failed {
                    reason: plain_reason(&reason),
                };
            }
        }
        Action::None
    }

    /// A fresh snapshot replaces everything (this is how a rejoin resynchronises); if the
    /// files seen before are all gone, the host restarted, and the person is told.
    fn resynchronise(&mut self, snapshot: Snapshot) {
        let files: BTreeMap<FileId, FileEntry> = snapshot
            .files
            .into_iter()
            .map(|f| (f.id, shown(f)))
            .collect();
        let before = std::mem::replace(&mut self.files, files);
        self.peers = snapshot
            .peers
            .into_iter()
            .map(|p| (p.client_id, visible_text(&p.username)))
            .collect();
        let kept = before
            .values()
            .filter(|old| {
                self.files
                    .get(&old.id)
                    .is_some_and(|new| new.name == old.name && new.sha256 == old.sha256)
            })
            .count();
        if kept < before.len() {
            // Ids a restarted host gives again belong to other files: forget what was
            // ticked, selected or being deleted.
            self.ticked.clear();
            self.selected = None;
            self.deletes.clear();
        }
        match before.len() - kept {
            0 => {}
            _ if kept == 0 => self.toast(
                Kind::Warning,
                "The host restarted; files shared before are gone",
            ),
            1 => self.toast(Kind::Neutral, "1 file was removed while you were away"),
            gone => self.toast(
                Kind::Neutral,
                format!("{gone} files were removed while you were away"),
            ),
        }
    }

    /// What the host's session said.
    fn on_session(&mut self, event: SessionEvent) {
        match event {
            SessionEvent::FileOffered(file) => {
                let file = shown(*file);
                let from_someone_else = Some(file.uploader_id) != self.client_id();
                let is_new = !self.files.contains_key(&file.id);
                if from_someone_else && is_new {
                    self.groups.shared(
                        file.uploader_id,
                        &file.uploader,
                        (file.id, &file.name, file.size),
                        Instant::now(),
                    );
                }
                self.files.insert(file.id, file);
            }
            SessionEvent::FileDeleted(file_id) => {
                self.direct_file_gone(file_id);
                let removed = self.files.remove(&file_id);
                self.ticked.remove(&file_id);
                if self.selected == Some(file_id) {
                    self.selected = None;
                }
                if self.deletes.settled(file_id)
                    && let Some(file) = removed
                {
                    self.toast(Kind::Success, format!("Deleted {}", file.name));
                }
            }
            SessionEvent::PeerJoined(peer) => {
                self.peers
                    .insert(peer.client_id, visible_text(&peer.username));
            }
            SessionEvent::PeerLeft(client_id) => {
                self.peers.remove(&client_id);
            }
            SessionEvent::DeleteFailed { file_id, reason } => {
                self.deletes.settled(file_id);
                let name = self
                    .files
                    .get(&file_id)
                    .map_or_else(|| "the file".to_owned(), |f| f.name.clone());
                self.toast(Kind::Error, format!("Could not delete {name}: {reason}"));
            }
            SessionEvent::CommentAdded(comment) => {
                if let Some(file) = self.files.get_mut(&comment.file_id) {
                    let comments = &mut file.details.comments;
                    if comments.iter().all(|c| c.comment_id != comment.comment_id) {
                        comments.push(comment);
                    }
                }
            }
            SessionEvent::CommentDeleted {
                file_id,
                comment_id,
            } => {
                if let Some(file) = self.files.get_mut(&file_id) {
                    file.details.comments.retain(|c| c.comment_id != comment_id);
                }
            }
            SessionEvent::CommentFailed { reason, .. } => {
                self.toast(Kind::Error, format!("Could not comment: {reason}"));
            }
            SessionEvent::AccessFailed { file_id, reason } => {
                let name = self
                    .files
                    .get(&file_id)
                    .map_or_else(|| "the file".to_owned(), |f| f.name.clone());
                self.toast(
                    Kind::Error,
                    format!("Could not change who sees {name}: {reason}"),
                );
            }
            SessionEvent::PreviewReady { file_id, preview } => {
                if let Some(file) = self.files.get_mut(&file_id) {
                    file.details.preview = Some(preview);
                }
            }
            SessionEvent::FileState { file_id, available } => {
                if let Some(file) = self.files.get_mut(&file_id) {
                    file.details.direct = Some(available);
                }
            }
            SessionEvent::DirectShared {
                file_id,
                sha256,
                grant_key,
            } => self.on_direct_shared(file_id, sha256, grant_key),
            SessionEvent::DirectShareFailed { sha256, reason } => {
                self.on_direct_share_failed(sha256, &reason);
            }
            // The live session reports its end as Lost.
            SessionEvent::Closed(_) => {}
        }
    }

    /// Pins the key the host shows now (the person compared its verification code with the
    /// host's) and joins again.
    pub(super) fn trust_new_key(&mut self) {
        let Connection::KeyChanged { host, shown, .. } = self.connection else {
            return;
        };
        if let Err(error) = trust::pin(host, shown) {
            self.toast(Kind::Error, format!("Could not trust the new key: {error}"));
            return;
        }
        self.live = LiveSession::start(
            self.address.clone(),
            self.username.clone(),
            Arc::clone(&self.identity),
            self.passcode.clone(),
        );
        self.live_feed = Feed::new(self.live.events().clone());
        self.connection = Connection::Connecting;
    }

    /// While the host is lost: try to rejoin now rather than at the end of the countdown.
    pub(super) fn retry_now(&mut self) {
        if let Connection::Lost { retry_at, .. } = &mut self.connection {
            *retry_at = Instant::now();
            self.now = *retry_at;
            self.live.retry_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_errors_are_said_in_words_people_use() {
        assert_eq!(
            plain_reason(
                "cannot reach the host at 127.0.0.1:5005: Connection refused (os error 111)"
            ),
            "The host is not answering — it may have stopped"
        );
        assert_eq!(
            plain_reason("connection to the host lost: Connection reset by peer (os error 104)"),
            "The connection to the host was cut"
        );
        assert_eq!(
            plain_reason("This host requires a passcode"),
            "This host requires a passcode"
        );
    }
}
