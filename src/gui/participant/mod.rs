//! The participant screen: the live, dark file list of the seed, uploads, downloads,
//! deletes, transfers and connection status. The host screen embeds it too.
//!
//! Its state and updates are here; how it is drawn is in `view`, and the file-system work
//! its updates start (as tasks) is in `local`.

mod local;
mod view;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use iced::{Subscription, Task};

use super::bridge::{self, DialogResult, DropEvent, Feed};
use super::transfers::{Finished, Transfers};
use crate::host::Direction;
use crate::identity::Identity;
use crate::participant::live::{LiveEvent, LiveSession};
use crate::participant::save::{Destination, safe_file_name};
use crate::participant::trust::{self, HostKey};
use crate::participant::worker::{
    LANES, Route, TransferEvent, TransferId, TransferLanes, TransferUpdate, UploadItem,
};
use crate::participant::{Credentials, FileEntry, SessionEvent};
use crate::protocol::{ClientId, FileId, Fingerprint, Passcode, Role, visible_text};
use crate::units::format_size;
use local::{MAX_FOLDER_FILES, downloads_folder, list_uploads};

pub use local::{LocalFile, UploadList};

/// Notices kept on screen at most.
const MAX_NOTICES: usize = 4;
/// The id of the filter box.
pub const FILTER_INPUT: &str = "filter";

/// Where the connection to the host stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Connection {
    Connecting,
    Connected {
        host: SocketAddr,
        client_id: ClientId,
        role: Role,
        credentials: Credentials,
        host_key: HostKey,
    },
    /// The host shows another key than the one pinned for its address: nothing goes on
    /// until the person decides.
    KeyChanged {
        host: SocketAddr,
        pinned: Fingerprint,
        shown: Fingerprint,
    },
    Lost {
        reason: String,
        retry_at: Instant,
    },
    Failed {
        reason: String,
    },
}

/// A success or failure message shown above the list.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Notice {
    id: u64,
    good: bool,
    text: String,
}

/// The participant screen's state.
pub struct Participant {
    address: String,
    username: String,
    identity: Arc<Identity>,
    passcode: Option<Passcode>,
    live: LiveSession,
    live_feed: Feed<LiveEvent>,
    connection: Connection,
    ever_connected: bool,
    files: BTreeMap<FileId, FileEntry>,
    peers: BTreeMap<ClientId, String>,
    filter: String,
    transfers: Transfers,
    transfer_events: flume::Sender<TransferEvent>,
    transfer_feed: Feed<TransferEvent>,
    /// The scheduler every upload and download of this screen goes through.
    lanes: TransferLanes,
    transfers_hidden: bool,
    notices: Vec<Notice>,
    next_notice: u64,
    drop_hover: bool,
    hosting: bool,
}

/// What the participant screen can be told.
#[derive(Debug, Clone)]
pub enum Message {
    /// The live session reported something.
    Live(LiveEvent),
    /// A transfer reported something.
    Transfer(TransferEvent),
    /// A file was dragged over or dropped on the window.
    Drop(DropEvent),
    /// The filter box changed.
    FilterChanged(String),
    /// "Upload files" was pressed.
    UploadClicked,
    /// The file dialog closed.
    FilesPicked(DialogResult<Vec<PathBuf>>),
    /// The files chosen or dropped were listed (a folder walked, sizes read).
    UploadsListed(UploadList),
    /// Download was pressed on a file.
    DownloadClicked(FileId),
    /// The save dialog closed.
    SavePicked(FileId, DialogResult<PathBuf>),
    /// No save dialog could be shown: the file goes into this folder (the downloads folder).
    SaveIntoFolder(FileId, PathBuf),
    /// Delete was pressed on a file.
    DeleteClicked(FileId),
    /// Cancel was pressed on a transfer.
    CancelTransfer(TransferId),
    /// The transfers modal was hidden or shown again.
    ToggleTransfers,
    /// A notice was dismissed.
    Dismiss(u64),
    /// "Leave" (or "Back to start") was pressed.
    Leave,
    /// "Trust the new key" was pressed for a host whose key changed.
    TrustNewKey,
    /// The status line's countdown needs redrawing.
    Tick,
}

/// What the app should do after an update.
pub enum Action {
    /// Nothing more.
    None,
    /// Run this task (a dialog, or file-system work).
    Run(Task<Message>),
    /// Leave this screen for the start screen.
    Leave,
    /// Joining failed before it ever worked: back to the start screen with this reason.
    Failed(String),
}

impl Participant {
    /// Starts joining `address` as `username` (with the host's `passcode`, if it has one).
    pub fn join(
        address: String,
        username: String,
        identity: Arc<Identity>,
        passcode: Option<Passcode>,
    ) -> Self {
        let live = LiveSession::start(
            address.clone(),
            username.clone(),
            Arc::clone(&identity),
            passcode.clone(),
        );
        let live_feed = Feed::new(live.events().clone());
        let (transfer_events, transfer_receiver) = flume::unbounded();
        Self {
            address,
            username,
            identity,
            passcode,
            live,
            live_feed,
            connection: Connection::Connecting,
            ever_connected: false,
            files: BTreeMap::new(),
            peers: BTreeMap::new(),
            filter: String::new(),
            transfers: Transfers::default(),
            transfer_events,
            transfer_feed: Feed::new(transfer_receiver),
            lanes: TransferLanes::new(LANES),
            transfers_hidden: false,
            notices: Vec::new(),
            next_notice: 0,
            drop_hover: false,
            hosting: false,
        }
    }

    /// Marks this as the host's own session, shown inside the host screen (which has its own
    /// way out, "Stop hosting").
    pub fn hosting(mut self) -> Self {
        self.hosting = true;
        self
    }

    /// What this screen listens to: its workers, file drops, and a tick for its countdowns.
    pub fn subscription(&self) -> Subscription<Message> {
        Subscription::batch([
            self.feeds(),
            bridge::every(bridge::TICK).map(|_| Message::Tick),
        ])
    }

    /// What this screen listens to but the tick: its live session, its transfers and files
    /// dropped on the window (for a screen that embeds this one and ticks itself).
    pub fn feeds(&self) -> Subscription<Message> {
        Subscription::batch([
            self.live_feed.subscription().map(Message::Live),
            self.transfer_feed.subscription().map(Message::Transfer),
            bridge::file_drops().map(Message::Drop),
        ])
    }

    /// Everything the workers have reported so far, as messages: what the feeds deliver in a
    /// window, for driving the screen without one.
    pub fn pending(&self) -> Vec<Message> {
        let live = self.live_feed.drain().into_iter().map(Message::Live);
        let transfers = self
            .transfer_feed
            .drain()
            .into_iter()
            .map(Message::Transfer);
        live.chain(transfers).collect()
    }

    /// Participants online, by id.
    pub fn peers(&self) -> impl Iterator<Item = &str> {
        self.peers.values().map(String::as_str)
    }

    fn notice(&mut self, good: bool, text: String) {
        self.notices.push(Notice {
            id: self.next_notice,
            good,
            text,
        });
        self.next_notice += 1;
        if self.notices.len() > MAX_NOTICES {
            self.notices.remove(0);
        }
    }

    fn connected(&self) -> Option<(SocketAddr, &Credentials)> {
        match &self.connection {
            Connection::Connected {
                host, credentials, ..
            } => Some((*host, credentials)),
            _ => None,
        }
    }

    fn client_id(&self) -> Option<ClientId> {
        match &self.connection {
            Connection::Connected { client_id, .. } => Some(*client_id),
            _ => None,
        }
    }

    fn may_delete(&self, file: &FileEntry) -> bool {
        match &self.connection {
            Connection::Connected {
                client_id, role, ..
            } => file.uploader_id == *client_id || *role == Role::Operator,
            _ => false,
        }
    }

    /// Handles a message.
    pub fn update(&mut self, message: Message) -> Action {
        match message {
            Message::Live(event) => return self.on_live(event),
            Message::Transfer(event) => {
                if let Some(finished) = self.transfers.apply(event) {
                    self.on_finished(finished);
                }
            }
            Message::Drop(DropEvent::Hovered) => self.drop_hover = true,
            Message::Drop(DropEvent::Left) => self.drop_hover = false,
            Message::Drop(DropEvent::Dropped(path)) => {
                self.drop_hover = false;
                return self.list_uploads(vec![path]);
            }
            Message::FilterChanged(filter) => self.filter = filter,
            Message::UploadClicked => {
                return Action::Run(bridge::pick_files().map(Message::FilesPicked));
            }
            Message::FilesPicked(result) => return self.on_files_picked(result),
            Message::UploadsListed(list) => self.upload(list),
            Message::DownloadClicked(file_id) => {
                if let Some(file) = self.files.get(&file_id) {
                    let name = safe_file_name(&file.name);
                    return Action::Run(
                        bridge::pick_save_path(name)
                            .map(move |result| Message::SavePicked(file_id, result)),
                    );
                }
            }
            Message::SavePicked(file_id, result) => return self.on_save_picked(file_id, result),
            Message::SaveIntoFolder(file_id, folder) => {
                self.notice(
                    true,
                    format!(
                        "No save dialog is available on this system; saving into {}",
                        folder.display()
                    ),
                );
                self.download(file_id, Destination::Folder(folder));
            }
            Message::DeleteClicked(file_id) => self.live.delete(file_id),
            Message::CancelTransfer(id) => self.transfers.cancel(id),
            Message::ToggleTransfers => self.transfers_hidden = !self.transfers_hidden,
            Message::Dismiss(id) => self.notices.retain(|n| n.id != id),
            Message::Leave => {
                self.transfers.cancel_all();
                return Action::Leave;
            }
            Message::TrustNewKey => self.trust_new_key(),
            Message::Tick => {}
        }
        Action::None
    }

    fn on_files_picked(&mut self, result: DialogResult<Vec<PathBuf>>) -> Action {
        if result.never_showed() {
            self.notice(
                false,
                "No file dialog is available on this system (it needs xdg-desktop-portal \
                 or zenity). Drop files onto this window to share them."
                    .into(),
            );
        } else if let Some(paths) = result.chosen {
            return self.list_uploads(paths);
        }
        Action::None
    }

    fn on_save_picked(&mut self, file_id: FileId, result: DialogResult<PathBuf>) -> Action {
        if let Some(path) = result.chosen {
            self.download(
                file_id,
                Destination::Path {
                    path,
                    overwrite: true,
                },
            );
        } else if result.never_showed() {
            // No dialog could be shown: save into the downloads folder (made if missing, so
            // not here), under a free name, and say where.
            return Action::Run(Task::perform(async { downloads_folder() }, move |folder| {
                Message::SaveIntoFolder(file_id, folder)
            }));
        }
        Action::None
    }

    fn on_live(&mut self, event: LiveEvent) -> Action {
        match event {
            LiveEvent::Connected {
                host,
                client_id,
                role,
                credentials,
                snapshot,
                host_key,
            } => {
                // A fresh snapshot replaces everything: this is how a rejoin resynchronises.
                self.files = snapshot
                    .files
                    .into_iter()
                    .map(|f| (f.id, shown(f)))
                    .collect();
                self.peers = snapshot
                    .peers
                    .into_iter()
                    .map(|p| (p.client_id, visible_text(&p.username)))
                    .collect();
                self.connection = Connection::Connected {
                    host,
                    client_id,
                    role,
                    credentials,
                    host_key,
                };
                self.ever_connected = true;
            }
            LiveEvent::Session(event) => self.on_session(event),
            LiveEvent::Lost { reason, retry_in } => {
                self.connection = Connection::Lost {
                    reason,
                    retry_at: Instant::now() + retry_in,
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
                self.connection = Connection::Failed { reason };
            }
        }
        Action::None
    }

    /// What the host's session said.
    fn on_session(&mut self, event: SessionEvent) {
        match event {
            SessionEvent::FileOffered(file) => {
                let file = shown(file);
                let from_someone_else = Some(file.uploader_id) != self.client_id();
                let is_new = !self.files.contains_key(&file.id);
                if from_someone_else && is_new {
                    bridge::notify(
                        format!(
                            "{} shared {}, {}",
                            file.uploader,
                            file.name,
                            format_size(file.size)
                        ),
                        "Open lanshare to download it.".into(),
                    );
                }
                self.files.insert(file.id, file);
            }
            SessionEvent::FileDeleted(file_id) => {
                self.files.remove(&file_id);
            }
            SessionEvent::PeerJoined(peer) => {
                self.peers
                    .insert(peer.client_id, visible_text(&peer.username));
            }
            SessionEvent::PeerLeft(client_id) => {
                self.peers.remove(&client_id);
            }
            SessionEvent::DeleteFailed { reason, .. } => {
                self.notice(false, format!("Could not delete: {reason}"));
            }
            SessionEvent::Closed(_) => {}
        }
    }

    /// Pins the key the host shows now (the person compared its verification code with the
    /// host's) and joins again.
    fn trust_new_key(&mut self) {
        let Connection::KeyChanged { host, shown, .. } = self.connection else {
            return;
        };
        if let Err(error) = trust::pin(host, shown) {
            self.notice(false, format!("Could not trust the new key: {error}"));
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

    fn on_finished(&mut self, finished: Finished) {
        let (good, text) = match (finished.direction, finished.outcome) {
            (Direction::Upload, TransferUpdate::Uploaded(_)) => {
                (true, format!("'{}' uploaded successfully!", finished.name))
            }
            (Direction::Download, TransferUpdate::Downloaded(path)) => (
                true,
                format!("'{}' saved to {}", finished.name, path.display()),
            ),
            (_, TransferUpdate::Cancelled) => (false, format!("'{}' cancelled", finished.name)),
            (Direction::Upload, TransferUpdate::Failed(reason)) => (
                false,
                format!("Failed to upload '{}': {reason}", finished.name),
            ),
            (Direction::Download, TransferUpdate::Failed(reason)) => (
                false,
                format!("Failed to download '{}': {reason}", finished.name),
            ),
            (_, other) => (false, format!("'{}': {other:?}", finished.name)),
        };
        self.notice(good, text);
    }

    /// Lists what `paths` share (walking folders, reading sizes) in a task, off the UI
    /// thread; the uploads start when the list arrives.
    fn list_uploads(&mut self, paths: Vec<PathBuf>) -> Action {
        if self.connected().is_none() {
            self.not_connected();
            return Action::None;
        }
        Action::Run(Task::perform(
            async move { list_uploads(paths) },
            Message::UploadsListed,
        ))
    }

    fn not_connected(&mut self) {
        self.notice(
            false,
            "Not connected to the host: try again once reconnected".into(),
        );
    }

    /// Starts uploading the listed files.
    fn upload(&mut self, list: UploadList) {
        let Some((host, credentials)) = self.connected() else {
            self.not_connected();
            return;
        };
        let credentials = credentials.clone();
        let files = match list {
            UploadList::Files(files) => files,
            UploadList::TooMany(count) => {
                self.notice(
                    false,
                    format!("Too many files ({count}); share at most {MAX_FOLDER_FILES} at once"),
                );
                return;
            }
        };
        let route = Route {
            host,
            passcode: self.passcode.clone(),
            credentials: Some(credentials),
        };
        for LocalFile { path, name, size } in files {
            let item = UploadItem {
                path,
                name: name.clone(),
            };
            match self
                .lanes
                .upload(route.clone(), vec![item], &self.transfer_events)
            {
                Ok(handles) => {
                    for handle in handles {
                        self.transfers
                            .add(handle, name.clone(), Direction::Upload, size);
                    }
                }
                Err(error) => self.notice(false, format!("Failed to upload '{name}': {error}")),
            }
        }
        self.transfers_hidden = false;
    }

    fn download(&mut self, file_id: FileId, destination: Destination) {
        let (Some((host, credentials)), Some(file)) = (self.connected(), self.files.get(&file_id))
        else {
            self.notice(false, "That file is no longer available".into());
            return;
        };
        let file = file.clone();
        let name = file.name.clone();
        let size = file.size;
        // The same credentials as uploads, so a lane's connection serves both.
        let route = Route {
            host,
            passcode: self.passcode.clone(),
            credentials: Some(credentials.clone()),
        };
        let queued = self
            .lanes
            .download(route, vec![(file, destination)], &self.transfer_events);
        for handle in queued {
            self.transfers
                .add(handle, name.clone(), Direction::Download, size);
        }
        self.transfers_hidden = false;
    }
}

/// A file as the screen shows it: its name and uploader without the characters that draw
/// nothing or reorder text (a name with U+202E could pass `a\u{202e}txt.sh` off as `ahs.txt`). The
/// file is downloaded by its id, and saved under the same name with them removed.
fn shown(file: FileEntry) -> FileEntry {
    FileEntry {
        name: visible_text(&file.name),
        uploader: visible_text(&file.uploader),
        ..file
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Sha256Digest;

    #[test]
    fn files_are_shown_without_bidi_controls_or_invisible_characters() {
        let listed = FileEntry {
            id: 7,
            name: "a\u{202e}txt.sh".into(),
            size: 10,
            uploader: "Mal\u{200b}lory\u{2066}".into(),
            uploader_id: 0,
            uploaded_at: chrono::Utc::now(),
            sha256: Sha256Digest([0; 32]),
            check: None,
        };
        let file = shown(listed.clone());
        assert_eq!(
            (file.name.as_str(), file.uploader.as_str()),
            ("atxt.sh", "Mallory")
        );
        assert_eq!(
            (file.id, file.size, file.sha256),
            (listed.id, listed.size, listed.sha256)
        );
    }
}
