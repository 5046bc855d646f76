//! The participant screen: the live, dark file list of the seed, uploads, downloads,
//! deletes (with undo), transfers and their history, connection status, toasts, grouped
//! notifications and the keyboard. The host screen embeds it too.
//!
//! Its state, messages and routing are here. How it is drawn is in `view` and `rows`; what
//! the host's events do in `live_events`; transfers and deletes in `files`; the keyboard in
//! `keyboard` (which key means what: `keys`). The pieces with no Iced state of their own —
//! `toasts`, `deletes`, `grouping`, `order` — are plain models, tested with time passed in;
//! `local` is the file-system work updates start as tasks.

mod comments;
mod deletes;
mod direct;
mod files;
mod grouping;
mod hashing;
mod keyboard;
mod keys;
mod library;
mod live_events;
mod local;
mod order;
mod previews;
mod rows;
mod toasts;
mod versions;
mod view;
mod wording;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use iced::{Subscription, Task};

use super::bridge::{self, DialogResult, DropEvent, Feed};
use super::transfers::Transfers;
use crate::identity::Identity;
use crate::participant::live::{LiveEvent, LiveSession};
use crate::participant::trust::HostKey;
use crate::participant::worker::{LANES, TransferEvent, TransferId, TransferLanes};
use crate::participant::{Credentials, FetchedPreview, FileEntry, PreviewAvailable};
use crate::protocol::{ClientId, FileId, Fingerprint, Passcode, Role};
use deletes::Deletes;
use grouping::ShareGroups;
use library::Chips;
use order::Sort;
use toasts::{Kind, Toasts};

pub use deletes::UNDO_TIME;
pub use hashing::{HashEvent, HashStep};
pub use keys::KeyCommand;
pub use library::{Keep, ShareWith};
pub use local::{LocalFile, UploadList};
pub use order::SortKey;
pub use toasts::TOAST_LIFETIME;
pub use wording::failed_to_join;

/// The id of the filter box.
pub const FILTER_INPUT: &str = "filter";
/// The id of the file list's scrollable.
pub const FILE_LIST: &str = "file-list";
/// Desktop notifications remembered for their "Show" action.
const NOTIFICATIONS_KEPT: usize = 32;

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

/// The controls Tab moves through, in order (the list is the file the keyboard selected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    Filter,
    Sort(SortKey),
    DownloadTicked,
    DownloadAll,
    List,
    Transfers,
    Upload,
    ShareDirectly,
    Leave,
}

/// A desktop notification this screen sent: its id (which its "Show" action names), what it
/// said, and the files it was about.
#[derive(Debug, Clone)]
struct Sent {
    id: u64,
    summary: String,
    files: Vec<FileId>,
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
    sort: Sort,
    /// The category and tag chips picked.
    chips: Chips,
    /// How long files shared from here are kept.
    keep: Keep,
    /// Who files shared from here are for.
    share_with: ShareWith,
    /// The file whose versions are open under its row.
    versions: versions::VersionsPanel,
    /// The file whose comments are open under its row, and the comment being written.
    comments: comments::CommentsPanel,
    /// The previews fetched for the rows in view, and the one open over the list.
    previews: previews::Previews,
    /// The file the keyboard is on.
    selected: Option<FileId>,
    /// Files ticked for "Download selected".
    ticked: BTreeSet<FileId>,
    /// The control the keyboard is on (Tab), if any.
    focus: Option<Control>,
    /// The list's scroll offset and visible height, as last reported.
    list_view: (f32, f32),
    transfers: Transfers,
    transfer_events: flume::Sender<TransferEvent>,
    transfer_feed: Feed<TransferEvent>,
    /// The scheduler every upload and download of this screen goes through.
    lanes: TransferLanes,
    transfers_hidden: bool,
    history_open: bool,
    toasts: Toasts,
    deletes: Deletes,
    groups: ShareGroups,
    sent: VecDeque<Sent>,
    next_notification: u64,
    shown_sender: flume::Sender<u64>,
    shown_feed: Feed<u64>,
    /// The time as of the last tick: what countdowns count from.
    now: Instant,
    drop_hover: bool,
    hosting: bool,
    /// Files shared directly from this computer, and the server that serves them.
    direct: direct::DirectSharing,
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
    /// A sort was picked (again: reversed).
    SortBy(SortKey),
    /// A category chip was clicked (`None`: "All"); clicking the picked one unpicks it.
    CategoryChip(Option<crate::protocol::Category>),
    /// A tag chip was clicked; clicking the picked one unpicks it.
    TagChip(String),
    /// How long new uploads are kept was picked.
    KeepPicked(Keep),
    /// "Share with: …" after the status line was clicked: its chips open or close.
    ShareWithOpened,
    /// "Everyone" was clicked among the "Share with" chips.
    ShareWithEveryone,
    /// A person online was clicked among the "Share with" chips (again: unpicked).
    ShareWithPeer(ClientId),
    /// "3 versions" was clicked on a file: its versions open (or close).
    VersionsClicked(FileId),
    /// The host answered which versions of a file it keeps (or why not).
    VersionsListed(FileId, Result<Vec<crate::protocol::VersionInfo>, String>),
    /// Download was pressed on one version of a file.
    DownloadVersionClicked(FileId, u32),
    /// The save dialog for a version closed.
    VersionSavePicked(FileId, u32, DialogResult<PathBuf>),
    /// "New version…" was pressed on a file (its sharer's, or any, for the operator).
    NewVersionClicked(FileId),
    /// The picker for a file's new version closed.
    NewVersionPicked(FileId, DialogResult<PathBuf>),
    /// The file picked as a file's new version was looked at (its size read).
    NewVersionListed(FileId, UploadList),
    /// "Comment" (or "2 comments") was clicked on a file: its comments open (or close).
    CommentsClicked(FileId),
    /// The comment being written changed.
    CommentDraft(String),
    /// Send was pressed (or Enter) in the comment box.
    CommentSend,
    /// × was pressed on a comment.
    CommentDelete(FileId, u64),
    /// The host answered for a file's preview (the one listed as given), or why not.
    PreviewFetched(FileId, PreviewAvailable, Result<FetchedPreview, String>),
    /// A file's thumbnail (or a text preview's badge) was clicked: its larger preview opens.
    PreviewClicked(FileId),
    /// "Close preview" was pressed.
    PreviewClosed,
    /// A file's row was clicked: the keyboard's selection moves there.
    Select(FileId),
    /// A file's box was ticked or unticked for "Download selected".
    Ticked(FileId, bool),
    /// The list was scrolled: its offset and visible height.
    ListScrolled(f32, f32),
    /// "Upload files" was pressed.
    UploadClicked,
    /// The file dialog closed.
    FilesPicked(DialogResult<Vec<PathBuf>>),
    /// The files chosen or dropped were listed (a folder walked, sizes read).
    UploadsListed(UploadList),
    /// "Share directly…" was pressed.
    ShareDirectlyClicked,
    /// The file dialog for sharing directly closed.
    DirectFilesPicked(DialogResult<Vec<PathBuf>>),
    /// "Share directly instead" was pressed on the error of a file too large for the host.
    ShareDirectlyInstead(PathBuf),
    /// The files to share directly were listed (a folder walked, sizes read).
    DirectListed(UploadList),
    /// The thread reading files to share directly reported.
    Hashed(HashEvent),
    /// "Upload to host" was pressed on a file shared directly from here.
    UploadToHost(FileId),
    /// Download was pressed on a file.
    DownloadClicked(FileId),
    /// The save dialog closed.
    SavePicked(FileId, DialogResult<PathBuf>),
    /// No save dialog could be shown: the file goes into this folder (the downloads folder).
    SaveIntoFolder(FileId, PathBuf),
    /// "Download selected" was pressed.
    DownloadTicked,
    /// "Download all" was pressed.
    DownloadAll,
    /// The folder for several downloads was picked (or not).
    FolderPicked(Vec<FileId>, DialogResult<PathBuf>),
    /// Several downloads go into this folder.
    SaveAllInto(Vec<FileId>, PathBuf),
    /// Delete was pressed on a file: it goes after a few seconds unless undone.
    DeleteClicked(FileId),
    /// Undo was pressed on a file about to be deleted.
    UndoDelete(FileId),
    /// Cancel was pressed on a transfer.
    CancelTransfer(TransferId),
    /// The transfers modal was hidden or shown again.
    ToggleTransfers,
    /// "Transfers" was pressed: the modal, with the history, opens.
    ShowTransfers,
    /// "Open" was pressed on a finished download.
    Open(PathBuf),
    /// "Show in folder" was pressed on a finished download.
    Reveal(PathBuf),
    /// A toast was closed.
    Dismiss(u64),
    /// "Leave" (or "Back to start") was pressed.
    Leave,
    /// "Trust the new key" was pressed for a host whose key changed.
    TrustNewKey,
    /// "Retry now" was pressed while the host is lost.
    RetryNow,
    /// A key was pressed.
    Key(KeyCommand),
    /// A desktop notification's "Show" was chosen: the app comes forward on its files.
    NotificationShown(u64),
    /// Time passed (countdowns, toasts, deletes and notifications that are due).
    Tick(Instant),
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

/// What a key press means on this screen, given whether a widget (the filter box) used it:
/// the key listener's mapping, public so tests apply it as the window does.
pub fn key_message(event: &iced::Event, status: iced::event::Status) -> Option<Message> {
    keys::command(event, status).map(Message::Key)
}

fn key_event(
    event: iced::Event,
    status: iced::event::Status,
    _window: iced::window::Id,
) -> Option<Message> {
    key_message(&event, status)
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
        let (shown_sender, shown_receiver) = flume::unbounded();
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
            sort: Sort::default(),
            chips: Chips::default(),
            keep: Keep::default(),
            share_with: ShareWith::default(),
            versions: versions::VersionsPanel::default(),
            comments: comments::CommentsPanel::default(),
            previews: previews::Previews::default(),
            selected: None,
            ticked: BTreeSet::new(),
            focus: None,
            list_view: (0.0, 0.0),
            transfers: Transfers::default(),
            transfer_events,
            transfer_feed: Feed::new(transfer_receiver),
            lanes: TransferLanes::new(LANES),
            transfers_hidden: false,
            history_open: false,
            toasts: Toasts::default(),
            deletes: Deletes::default(),
            groups: ShareGroups::default(),
            sent: VecDeque::new(),
            next_notification: 0,
            shown_sender,
            shown_feed: Feed::new(shown_receiver),
            now: Instant::now(),
            drop_hover: false,
            hosting: false,
            direct: direct::DirectSharing::new(&crate::config::config_dir()),
        }
    }

    /// Keeps this screen's files (the certificate of the server that shares files directly)
    /// in `config_dir` rather than the default config folder.
    pub fn keeping_files_in(mut self, config_dir: &Path) -> Self {
        self.direct = direct::DirectSharing::new(config_dir);
        self
    }

    /// Marks this as the host's own session, shown inside the host screen (which has its own
    /// way out, "Stop hosting").
    pub fn hosting(mut self) -> Self {
        self.hosting = true;
        self
    }

    /// What this screen listens to: the same as [`Self::feeds`].
    pub fn subscription(&self) -> Subscription<Message> {
        self.feeds()
    }

    /// What this screen listens to: its live session, its transfers, its notifications'
    /// "Show", files dropped on the window, the keyboard, and a tick for its countdowns,
    /// toasts and undo times.
    pub fn feeds(&self) -> Subscription<Message> {
        Subscription::batch([
            self.live_feed.subscription().map(Message::Live),
            self.transfer_feed.subscription().map(Message::Transfer),
            self.shown_feed
                .subscription()
                .map(Message::NotificationShown),
            self.direct.feed().subscription().map(Message::Hashed),
            bridge::file_drops().map(Message::Drop),
            iced::event::listen_with(key_event),
            bridge::every(bridge::TICK).map(Message::Tick),
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
        let shown = self
            .shown_feed
            .drain()
            .into_iter()
            .map(Message::NotificationShown);
        let hashed = self.direct.feed().drain().into_iter().map(Message::Hashed);
        live.chain(transfers).chain(shown).chain(hashed).collect()
    }

    /// Participants online, by id.
    pub fn peers(&self) -> impl Iterator<Item = &str> {
        self.peers.values().map(String::as_str)
    }

    /// The desktop notifications this screen sent lately (their ids and summaries), oldest
    /// first.
    pub fn notifications(&self) -> Vec<(u64, String)> {
        self.sent
            .iter()
            .map(|sent| (sent.id, sent.summary.clone()))
            .collect()
    }

    fn toast(&mut self, kind: Kind, text: impl Into<String>) {
        self.toasts.push(kind, text, Instant::now());
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

    /// Whether this participant may add versions of `file`: as for deleting it, its sharer
    /// or the host's operator.
    fn may_add_version(&self, file: &FileEntry) -> bool {
        self.may_delete(file)
    }

    /// Handles a message; when the rows in view may have changed, asks for their previews.
    pub fn update(&mut self, message: Message) -> Action {
        let rows_may_change = matches!(
            message,
            Message::Live(_)
                | Message::ListScrolled(..)
                | Message::FilterChanged(_)
                | Message::SortBy(_)
                | Message::CategoryChip(_)
                | Message::TagChip(_)
                | Message::PreviewFetched(..)
        );
        let action = self.handle(message);
        if !rows_may_change {
            return action;
        }
        match (action, self.fetch_visible_previews()) {
            (Action::None, Some(fetch)) => Action::Run(fetch),
            (Action::Run(task), Some(fetch)) => Action::Run(Task::batch([task, fetch])),
            // Leaving, or nothing to fetch.
            (action, _) => action,
        }
    }

    /// Handles one message.
    fn handle(&mut self, message: Message) -> Action {
        match message {
            Message::Live(event) => return self.on_live(event),
            Message::Transfer(event) => {
                let id = event.id;
                if let Some(finished) = self.transfers.apply(event) {
                    self.on_finished(id, finished);
                }
            }
            Message::Drop(DropEvent::Hovered) => self.drop_hover = true,
            Message::Drop(DropEvent::Left) => self.drop_hover = false,
            Message::Drop(DropEvent::Dropped(path)) => {
                self.drop_hover = false;
                return self.list_uploads(vec![path]);
            }
            Message::FilterChanged(filter) => {
                self.filter = filter;
                self.focus = Some(Control::Filter);
            }
            Message::SortBy(key) => self.sort = self.sort.pick(key),
            Message::CategoryChip(category) => self.chips.pick_category(category),
            Message::TagChip(tag) => self.chips.pick_tag(tag),
            Message::KeepPicked(keep) => self.keep = keep,
            Message::ShareWithOpened => self.share_with.toggle_open(),
            Message::ShareWithEveryone => self.share_with.everyone(),
            Message::ShareWithPeer(peer) => self.share_with.toggle(peer),
            Message::Select(file) => {
                self.selected = Some(file);
                self.focus = Some(Control::List);
            }
            Message::Ticked(file, true) => _ = self.ticked.insert(file),
            Message::Ticked(file, false) => _ = self.ticked.remove(&file),
            Message::ListScrolled(offset, height) => self.list_view = (offset, height),
            Message::Key(command) => return self.on_key(command),
            Message::NotificationShown(id) => return self.show_notified(id),
            Message::Tick(now) => self.tick(now),
            Message::Dismiss(id) => self.toasts.dismiss(id),
            Message::TrustNewKey => self.trust_new_key(),
            Message::RetryNow => self.retry_now(),
            Message::Leave => {
                self.leave();
                return Action::Leave;
            }
            message @ (Message::CommentsClicked(_)
            | Message::CommentDraft(_)
            | Message::CommentSend
            | Message::CommentDelete(..)) => self.on_comments(message),
            message @ (Message::PreviewFetched(..)
            | Message::PreviewClicked(_)
            | Message::PreviewClosed) => self.on_previews(message),
            message @ (Message::VersionsClicked(_)
            | Message::VersionsListed(..)
            | Message::DownloadVersionClicked(..)
            | Message::VersionSavePicked(..)
            | Message::NewVersionClicked(_)
            | Message::NewVersionPicked(..)
            | Message::NewVersionListed(..)) => return self.on_versions(message),
            message @ (Message::ShareDirectlyClicked
            | Message::DirectFilesPicked(_)
            | Message::ShareDirectlyInstead(_)
            | Message::DirectListed(_)
            | Message::Hashed(_)
            | Message::UploadToHost(_)) => return self.on_direct(message),
            other => return self.on_files(other),
        }
        Action::None
    }

    /// What is due at `now`: toasts that go, deletes whose undo time is over, grouped
    /// notifications.
    fn tick(&mut self, now: Instant) {
        self.now = now;
        self.toasts.expire(now);
        for file in self.deletes.due(now) {
            self.live.delete(file);
        }
        for announcement in self.groups.due(now) {
            self.announce(announcement);
        }
    }

    /// Before leaving: deletes still in their undo time go out now, transfers are cancelled.
    fn leave(&mut self) {
        for file in self.deletes.all_waiting() {
            self.live.delete(file);
        }
        self.transfers.cancel_all();
        self.direct.stop();
    }

    /// Sends a desktop notification for a group of shares, remembering its files for its
    /// "Show" action.
    fn announce(&mut self, announcement: grouping::Announcement) {
        let id = self.next_notification;
        self.next_notification += 1;
        bridge::notify(
            announcement.summary.clone(),
            announcement.body,
            Some(bridge::ShowAction {
                sender: self.shown_sender.clone(),
                id,
            }),
        );
        self.sent.push_back(Sent {
            id,
            summary: announcement.summary,
            files: announcement.files,
        });
        if self.sent.len() > NOTIFICATIONS_KEPT {
            self.sent.pop_front();
        }
    }

    /// The app comes forward on a notification's files: they are ticked (ready for "Download
    /// selected"), the filter cleared, the newest first, the first selected.
    fn show_notified(&mut self, id: u64) -> Action {
        let Some(sent) = self.sent.iter().find(|sent| sent.id == id) else {
            return Action::Run(bridge::bring_forward());
        };
        let files: Vec<FileId> = sent
            .files
            .iter()
            .copied()
            .filter(|file| self.files.contains_key(file))
            .collect();
        self.filter.clear();
        self.chips = Chips::default();
        self.ticked = files.iter().copied().collect();
        self.sort = Sort::default();
        self.selected = self
            .visible_files()
            .into_iter()
            .find_map(|file| self.ticked.contains(&file.id).then_some(file.id));
        self.focus = Some(Control::List);
        let scroll = self.scroll_to_selection();
        Action::Run(Task::batch([bridge::bring_forward(), scroll]))
    }

    /// Files matching the filter and the chips, in the chosen order.
    fn visible_files(&self) -> Vec<&FileEntry> {
        let filter = order::fold(self.filter.trim());
        let mut files: Vec<&FileEntry> = self
            .files
            .values()
            .filter(|file| order::passes(file, &filter) && self.chips.passes(file))
            .collect();
        files.sort_by(|a, b| self.sort.compare(a, b));
        files
    }
}

/// A file as the screen shows it: its name and uploader without the characters that draw
/// nothing or reorder text (a name with U+202E could pass `a\u{202e}txt.sh` off as `ahs.txt`). The
/// file is downloaded by its id, and saved under the same name with them removed.
fn shown(file: FileEntry) -> FileEntry {
    FileEntry {
        name: crate::protocol::visible_text(&file.name),
        uploader: crate::protocol::visible_text(&file.uploader),
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
            details: crate::participant::FileDetails::default(),
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
