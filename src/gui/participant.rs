//! The participant screen: the live, dark file list of the seed, uploads, downloads,
//! deletes, transfers and connection status. The host screen embeds it too.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Local;
use iced::widget::{
    button, center, column, container, opaque, row, scrollable, space, stack, text, text_input,
};
use iced::{Alignment, Element, Length, Task};

use super::bridge::{self, DialogResult, DropEvent, Feed};
use super::theme;
use super::transfers::{Finished, Transfers, Way};
use crate::identity::Identity;
use crate::participant::live::{LiveEvent, LiveSession};
use crate::participant::save::{Destination, safe_file_name};
use crate::participant::worker::{
    TransferEvent, TransferId, TransferUpdate, spawn_download, spawn_upload,
};
use crate::participant::{Credentials, FileEntry, SessionEvent};
use crate::protocol::{ClientId, FileId, Role};
use crate::units::format_size;

/// Most files one dropped or chosen folder may add.
const MAX_FOLDER_FILES: usize = 10_000;
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
    live: LiveSession,
    feed: Feed<LiveEvent>,
    connection: Connection,
    ever_connected: bool,
    files: BTreeMap<FileId, FileEntry>,
    peers: BTreeMap<ClientId, String>,
    filter: String,
    transfers: Transfers,
    transfer_events: flume::Sender<TransferEvent>,
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
    /// Download was pressed on a file.
    DownloadClicked(FileId),
    /// The save dialog closed.
    SavePicked(FileId, DialogResult<PathBuf>),
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
    /// The status line's countdown needs redrawing.
    Tick,
}

/// What the app should do after an update.
pub enum Action {
    /// Nothing more.
    None,
    /// Run this task (a dialog).
    Run(Task<Message>),
    /// Leave this screen for the start screen.
    Leave,
    /// Joining failed before it ever worked: back to the start screen with this reason.
    Failed(String),
}

impl Participant {
    /// Starts joining `address` as `username`; transfer events go to `transfer_events`.
    pub fn join(
        address: String,
        username: String,
        identity: Arc<Identity>,
        transfer_events: flume::Sender<TransferEvent>,
    ) -> Self {
        let live = LiveSession::start(address.clone(), username.clone(), identity);
        let feed = Feed::new(live.events().clone());
        Self {
            address,
            username,
            live,
            feed,
            connection: Connection::Connecting,
            ever_connected: false,
            files: BTreeMap::new(),
            peers: BTreeMap::new(),
            filter: String::new(),
            transfers: Transfers::default(),
            transfer_events,
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

    /// The live session's feed (for the app's subscription, or tests).
    pub fn feed(&self) -> &Feed<LiveEvent> {
        &self.feed
    }

    /// True while the host is unreachable and the session is waiting to rejoin.
    pub fn is_reconnecting(&self) -> bool {
        matches!(self.connection, Connection::Lost { .. })
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
                self.upload(vec![path]);
            }
            Message::FilterChanged(filter) => self.filter = filter,
            Message::UploadClicked => {
                return Action::Run(bridge::pick_files().map(Message::FilesPicked));
            }
            Message::FilesPicked(result) => {
                if result.never_showed() {
                    self.notice(
                        false,
                        "No file dialog is available on this system (it needs xdg-desktop-portal \
                         or zenity). Drop files onto this window to share them."
                            .into(),
                    );
                } else if let Some(paths) = result.chosen {
                    self.upload(paths);
                }
            }
            Message::DownloadClicked(file_id) => {
                if let Some(file) = self.files.get(&file_id) {
                    let name = safe_file_name(&file.name);
                    return Action::Run(
                        bridge::pick_save_path(name)
                            .map(move |result| Message::SavePicked(file_id, result)),
                    );
                }
            }
            Message::SavePicked(file_id, result) => {
                let destination = match (result.never_showed(), result.chosen) {
                    (_, Some(path)) => Some(Destination::Path {
                        path,
                        overwrite: true,
                    }),
                    // No dialog could be shown: save into Downloads under a free name.
                    (true, None) => Some(Destination::Folder(
                        dirs::download_dir().unwrap_or_else(|| PathBuf::from(".")),
                    )),
                    (false, None) => None,
                };
                if let Some(destination) = destination {
                    self.download(file_id, destination);
                }
            }
            Message::DeleteClicked(file_id) => self.live.delete(file_id),
            Message::CancelTransfer(id) => self.transfers.cancel(id),
            Message::ToggleTransfers => self.transfers_hidden = !self.transfers_hidden,
            Message::Dismiss(id) => self.notices.retain(|n| n.id != id),
            Message::Leave => {
                self.transfers.cancel_all();
                return Action::Leave;
            }
            Message::Tick => {}
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
            } => {
                // A fresh snapshot replaces everything: this is how a rejoin resynchronises.
                self.files = snapshot.files.into_iter().map(|f| (f.id, f)).collect();
                self.peers = snapshot
                    .peers
                    .into_iter()
                    .map(|p| (p.client_id, p.username))
                    .collect();
                self.connection = Connection::Connected {
                    host,
                    client_id,
                    role,
                    credentials,
                };
                self.ever_connected = true;
            }
            LiveEvent::Session(SessionEvent::FileOffered(file)) => {
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
            LiveEvent::Session(SessionEvent::FileDeleted(file_id)) => {
                self.files.remove(&file_id);
            }
            LiveEvent::Session(SessionEvent::PeerJoined(peer)) => {
                self.peers.insert(peer.client_id, peer.username);
            }
            LiveEvent::Session(SessionEvent::PeerLeft(client_id)) => {
                self.peers.remove(&client_id);
            }
            LiveEvent::Session(SessionEvent::DeleteFailed { reason, .. }) => {
                self.notice(false, format!("Could not delete: {reason}"));
            }
            LiveEvent::Session(SessionEvent::Closed(_)) => {}
            LiveEvent::Lost { reason, retry_in } => {
                self.connection = Connection::Lost {
                    reason,
                    retry_at: Instant::now() + retry_in,
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

    fn on_finished(&mut self, finished: Finished) {
        let (good, text) = match (finished.way, finished.outcome) {
            (Way::Upload, TransferUpdate::Uploaded(_)) => {
                (true, format!("'{}' uploaded successfully!", finished.name))
            }
            (Way::Download, TransferUpdate::Downloaded(path)) => (
                true,
                format!("'{}' saved to {}", finished.name, path.display()),
            ),
            (_, TransferUpdate::Cancelled) => (false, format!("'{}' cancelled", finished.name)),
            (Way::Upload, TransferUpdate::Failed(reason)) => (
                false,
                format!("Failed to upload '{}': {reason}", finished.name),
            ),
            (Way::Download, TransferUpdate::Failed(reason)) => (
                false,
                format!("Failed to download '{}': {reason}", finished.name),
            ),
            (_, other) => (false, format!("'{}': {other:?}", finished.name)),
        };
        self.notice(good, text);
    }

    /// Starts uploading files (a folder adds every file in it, named by its path inside).
    fn upload(&mut self, paths: Vec<PathBuf>) {
        let Some((host, credentials)) = self.connected() else {
            self.notice(
                false,
                "Not connected to the host: try again once reconnected".into(),
            );
            return;
        };
        let credentials = credentials.clone();
        let mut files = Vec::new();
        for path in paths {
            if path.is_dir() {
                collect_folder(&path, &mut files);
            } else {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                files.push((path, name));
            }
        }
        if files.len() > MAX_FOLDER_FILES {
            self.notice(
                false,
                format!(
                    "Too many files ({}); share at most {MAX_FOLDER_FILES} at once",
                    files.len()
                ),
            );
            return;
        }
        for (path, name) in files {
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            match spawn_upload(
                host,
                Some(credentials.clone()),
                path,
                name.clone(),
                self.transfer_events.clone(),
            ) {
                Ok(handle) => self.transfers.add(handle, name, Way::Upload, size),
                Err(error) => self.notice(false, format!("Failed to upload '{name}': {error}")),
            }
        }
        self.transfers_hidden = false;
    }

    fn download(&mut self, file_id: FileId, destination: Destination) {
        let (Some((host, _)), Some(file)) = (self.connected(), self.files.get(&file_id)) else {
            self.notice(false, "That file is no longer available".into());
            return;
        };
        let file = file.clone();
        let name = file.name.clone();
        let size = file.size;
        match spawn_download(host, file, destination, self.transfer_events.clone()) {
            Ok(handle) => self.transfers.add(handle, name, Way::Download, size),
            Err(error) => self.notice(false, format!("Failed to download '{name}': {error}")),
        }
        self.transfers_hidden = false;
    }

    /// Files matching the filter, newest first.
    fn visible_files(&self) -> Vec<&FileEntry> {
        let filter = self.filter.trim().to_lowercase();
        let mut files: Vec<&FileEntry> = self
            .files
            .values()
            .filter(|f| {
                filter.is_empty()
                    || f.name.to_lowercase().contains(&filter)
                    || f.uploader.to_lowercase().contains(&filter)
            })
            .collect();
        files.sort_by_key(|f| std::cmp::Reverse((f.uploaded_at, f.id)));
        files
    }

    /// Draws the screen.
    pub fn view(&self) -> Element<'_, Message> {
        let body = column![
            self.header(),
            self.status_banner(),
            self.notices(),
            self.list()
        ]
        .spacing(12)
        .padding(16);
        let mut layers = stack![body];
        if !self.transfers.is_empty() {
            if self.transfers_hidden {
                layers = layers.push(
                    container(
                        button(
                            text(format!(
                                "{} transfer(s) in progress — show",
                                self.transfers.len()
                            ))
                            .size(14),
                        )
                        .padding([8, 14])
                        .style(theme::primary_button)
                        .on_press(Message::ToggleTransfers),
                    )
                    .align_bottom(Length::Fill)
                    .align_right(Length::Fill)
                    .padding(16),
                );
            } else {
                let modal = self
                    .transfers
                    .view(Message::CancelTransfer, Message::ToggleTransfers);
                layers = layers.push(opaque(center(modal).padding(20).style(theme::backdrop)));
            }
        }
        if self.drop_hover {
            layers = layers.push(opaque(
                center(text("Drop to share with everyone").size(26)).style(theme::backdrop),
            ));
        }
        layers.into()
    }

    fn header(&self) -> Element<'_, Message> {
        let (dot, status) = match &self.connection {
            Connection::Connecting => (theme::WARNING, format!("Connecting to {}…", self.address)),
            Connection::Connected { .. } if self.hosting => (
                theme::SUCCESS,
                format!("Sharing as {} · {} online", self.username, self.peers.len()),
            ),
            Connection::Connected { host, .. } => (
                theme::SUCCESS,
                format!(
                    "Connected to {host} as {} · {} online",
                    self.username,
                    self.peers.len()
                ),
            ),
            Connection::Lost { .. } => (theme::WARNING, "Reconnecting…".to_owned()),
            Connection::Failed { .. } => (theme::DANGER, "Disconnected".to_owned()),
        };
        let can_upload = self.connected().is_some();
        let leave = (!self.hosting).then(|| {
            button(text("Leave").size(15))
                .padding([8, 16])
                .style(theme::secondary_button)
                .on_press(Message::Leave)
        });
        row![
            column![
                text("Shared files").size(24),
                row![
                    text("●").color(dot).size(14),
                    text(status).size(14).color(theme::MUTED)
                ]
                .spacing(6)
                .align_y(Alignment::Center),
            ]
            .spacing(4)
            .width(Length::Fill),
            button(text("Upload files").size(15))
                .padding([8, 16])
                .style(theme::primary_button)
                .on_press_maybe(can_upload.then_some(Message::UploadClicked)),
        ]
        .push(leave)
        .spacing(10)
        .align_y(Alignment::Center)
        .into()
    }

    fn status_banner(&self) -> Element<'_, Message> {
        match &self.connection {
            Connection::Lost { reason, retry_at } => {
                let wait = retry_at.saturating_duration_since(Instant::now());
                let when = if wait < Duration::from_millis(500) {
                    "now".to_owned()
                } else {
                    format!("in {} s", wait.as_secs().max(1))
                };
                container(text(format!(
                    "Connection to the host lost ({reason}). Reconnecting {when}…"
                )))
                .padding(10)
                .width(Length::Fill)
                .style(theme::banner(theme::WARNING))
                .into()
            }
            Connection::Failed { reason } => container(
                row![
                    text(format!("Disconnected: {reason}")).width(Length::Fill),
                    button(text("Back to start"))
                        .style(theme::secondary_button)
                        .on_press(Message::Leave),
                ]
                .align_y(Alignment::Center),
            )
            .padding(10)
            .width(Length::Fill)
            .style(theme::banner(theme::DANGER))
            .into(),
            Connection::Connecting | Connection::Connected { .. } => space().height(0).into(),
        }
    }

    fn notices(&self) -> Element<'_, Message> {
        column(self.notices.iter().map(|notice| {
            let color = if notice.good {
                theme::SUCCESS
            } else {
                theme::DANGER
            };
            container(
                row![
                    text(notice.text.clone()).size(14).width(Length::Fill),
                    button(text("×").size(14))
                        .padding([2, 8])
                        .style(theme::secondary_button)
                        .on_press(Message::Dismiss(notice.id)),
                ]
                .align_y(Alignment::Center)
                .spacing(8),
            )
            .padding([6, 10])
            .width(Length::Fill)
            .style(theme::banner(color))
            .into()
        }))
        .spacing(6)
        .into()
    }

    fn list(&self) -> Element<'_, Message> {
        let files = self.visible_files();
        let count = match (self.files.len(), files.len()) {
            (1, _) if self.filter.trim().is_empty() => "1 file".to_owned(),
            (all, _) if self.filter.trim().is_empty() => format!("{all} files"),
            (all, shown) => format!("{shown} of {all} files"),
        };
        let filter = row![
            text_input("Filter by name or uploader", &self.filter)
                .id(FILTER_INPUT)
                .on_input(Message::FilterChanged)
                .padding(8)
                .style(theme::input)
                .width(Length::Fill),
            text(count).size(14).color(theme::MUTED),
        ]
        .spacing(12)
        .align_y(Alignment::Center);

        let content: Element<'_, Message> = if self.files.is_empty() {
            center(
                column![
                    text("No files shared yet").size(20),
                    text("Upload a file, or drop files onto this window, to share them with everyone.")
                        .size(14)
                        .color(theme::MUTED),
                ]
                .spacing(8)
                .align_x(Alignment::Center),
            )
            .into()
        } else if files.is_empty() {
            center(text("No file matches the filter").color(theme::MUTED)).into()
        } else {
            scrollable(column(files.into_iter().map(|f| self.file_row(f))).spacing(8))
                .height(Length::Fill)
                .into()
        };
        column![filter, content].spacing(12).into()
    }

    fn file_row<'a>(&self, file: &'a FileEntry) -> Element<'a, Message> {
        let when = file
            .uploaded_at
            .with_timezone(&Local)
            .format("%Y-%m-%d %H:%M");
        let details = format!(
            "{} • Uploaded by {} • {when}",
            format_size(file.size),
            file.uploader
        );
        let mut actions = row![
            button(text("Download").size(14))
                .padding([8, 16])
                .style(theme::primary_button)
                .on_press_maybe(
                    self.connected()
                        .is_some()
                        .then_some(Message::DownloadClicked(file.id))
                )
        ]
        .spacing(8);
        if self.may_delete(file) {
            actions = actions.push(
                button(text("Delete").size(14))
                    .padding([8, 16])
                    .style(theme::danger_button)
                    .on_press(Message::DeleteClicked(file.id)),
            );
        }
        container(
            row![
                column![
                    text(file.name.as_str()).size(16),
                    text(details).size(13).color(theme::MUTED),
                ]
                .spacing(4)
                .width(Length::Fill),
                actions,
            ]
            .spacing(12)
            .align_y(Alignment::Center),
        )
        .padding(12)
        .width(Length::Fill)
        .style(theme::card)
        .into()
    }
}

/// Adds every file under `folder`, named by its path from the folder (e.g. `photos/2024/a.jpg`).
fn collect_folder(folder: &Path, files: &mut Vec<(PathBuf, String)>) {
    let base = folder.parent().unwrap_or(folder);
    let mut pending = vec![folder.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if files.len() <= MAX_FOLDER_FILES {
                let name = path
                    .strip_prefix(base)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                files.push((path, name));
            }
        }
    }
    files.sort();
}
