//! What the screen does with files: uploads, downloads (one, the ticked ones, or all),
//! deletes with undo, the transfers modal, and opening what was saved.

use std::path::PathBuf;

use iced::Task;

use super::local::{MAX_FOLDER_FILES, downloads_folder, list_uploads};
use super::rows::is_available;
use super::toasts::Kind;
use super::{Action, LocalFile, Message, Participant, UploadList};
use crate::gui::bridge::{self, DialogResult};
use crate::gui::transfers::Finished;
use crate::host::Direction;
use crate::participant::FileEntry;
use crate::participant::save::{Destination, safe_file_name};
use crate::participant::worker::{Route, TransferId, TransferUpdate, UploadItem};
use crate::protocol::{FileId, ShareOptions, Tags};

impl Participant {
    /// Handles the messages about files and transfers.
    pub(super) fn on_files(&mut self, message: Message) -> Action {
        match message {
            Message::UploadClicked => {
                return Action::Run(bridge::pick_files().map(Message::FilesPicked));
            }
            Message::FilesPicked(result) => return self.on_files_picked(result),
            Message::UploadsListed(list) => self.upload(list, None),
            Message::DownloadClicked(file) => return self.ask_where_to_save(file),
            Message::SavePicked(file, result) => return self.on_save_picked(file, result),
            Message::SaveIntoFolder(file, folder) => {
                self.toast(
                    Kind::Neutral,
                    format!(
                        "No save dialog is available on this system; saving into {}",
                        folder.display()
                    ),
                );
                self.download(file, Destination::Folder(folder));
            }
            Message::DownloadTicked => {
                let files = self.ticked.iter().copied().collect();
                return self.ask_folder_for(files);
            }
            Message::DownloadAll => {
                let files = self.visible_files().iter().map(|f| f.id).collect();
                return self.ask_folder_for(files);
            }
            Message::FolderPicked(files, result) => return self.on_folder_picked(files, result),
            Message::SaveAllInto(files, folder) => self.download_many(files, folder),
            Message::DeleteClicked(file) => self.ask_delete(file),
            Message::UndoDelete(file) if self.deletes.undo(file) => {
                self.toast(Kind::Neutral, "Delete undone");
            }
            Message::CancelTransfer(id) => self.transfers.cancel(id),
            Message::ToggleTransfers => {
                self.transfers_hidden = !self.transfers_hidden;
                self.history_open = false;
            }
            Message::ShowTransfers => {
                self.transfers_hidden = false;
                self.history_open = true;
            }
            Message::Open(path) | Message::Reveal(path) if !path.exists() => {
                self.toast(
                    Kind::Error,
                    format!("{} is no longer there", path.display()),
                );
            }
            Message::Open(path) => self.open(path, false),
            Message::Reveal(path) => self.open(path, true),
            _ => {}
        }
        Action::None
    }

    fn open(&mut self, path: PathBuf, reveal: bool) {
        if let Err(reason) = bridge::open(&path, reveal) {
            self.toast(Kind::Error, reason);
        }
    }

    /// Download pressed: asks where to save the file, unless it is downloading already.
    fn ask_where_to_save(&mut self, file_id: FileId) -> Action {
        if self.transfers.download_percent(file_id).is_some() {
            return Action::None;
        }
        let Some(file) = self.files.get(&file_id) else {
            return Action::None;
        };
        if !is_available(file) {
            let why = format!(
                "'{}' cannot be downloaded now: {}",
                file.name,
                self.whence(file)
            );
            self.toast(Kind::Error, why);
            return Action::None;
        }
        let name = safe_file_name(&file.name);
        Action::Run(
            bridge::pick_save_path(name).map(move |result| Message::SavePicked(file_id, result)),
        )
    }

    fn on_files_picked(&mut self, result: DialogResult<Vec<PathBuf>>) -> Action {
        if result.never_showed() {
            self.toast(
                Kind::Error,
                "No file dialog is available on this system (it needs xdg-desktop-portal \
                 or zenity). Drop files onto this window to share them.",
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

    /// "Download selected" or "Download all": asks for one folder for them all.
    fn ask_folder_for(&mut self, files: Vec<FileId>) -> Action {
        if files.is_empty() {
            return Action::None;
        }
        Action::Run(
            bridge::pick_folder("Save the files into", dirs::download_dir())
                .map(move |result| Message::FolderPicked(files.clone(), result)),
        )
    }

    fn on_folder_picked(&mut self, files: Vec<FileId>, result: DialogResult<PathBuf>) -> Action {
        if let Some(folder) = result.chosen {
            self.download_many(files, folder);
        } else if result.never_showed() {
            return Action::Run(Task::perform(async { downloads_folder() }, move |folder| {
                Message::SaveAllInto(files.clone(), folder)
            }));
        }
        Action::None
    }

    /// Delete pressed (or the Delete key): the file is marked, and deleted once the undo
    /// time is over. Its row stays where it is meanwhile.
    pub(super) fn ask_delete(&mut self, file_id: FileId) {
        let allowed = self.files.get(&file_id).is_some_and(|f| self.may_delete(f));
        if allowed {
            // The screen's clock catches up, so the countdown starts from the undo time.
            self.now = self.now.max(std::time::Instant::now());
            self.deletes.ask(file_id, self.now);
        }
    }

    /// Transfer `id` ended as `finished` says: a toast says how.
    pub(super) fn on_finished(&mut self, id: TransferId, finished: Finished) {
        if finished.direction == Direction::Upload {
            let (stored, reason) = match &finished.outcome {
                TransferUpdate::Uploaded(_) => (true, ""),
                TransferUpdate::Failed(reason) => (false, reason.as_str()),
                _ => (false, ""),
            };
            if self.direct_upload_ended(id, stored, reason) {
                return;
            }
        }
        let name = &finished.name;
        let (kind, text) = match (finished.direction, &finished.outcome) {
            (Direction::Upload, TransferUpdate::Uploaded(_)) => {
                (Kind::Success, format!("'{name}' uploaded successfully!"))
            }
            (Direction::Download, TransferUpdate::Downloaded(path)) => (
                Kind::Success,
                format!("'{name}' saved to {}", path.display()),
            ),
            // The person's own choice: said plainly, not as an error.
            (_, TransferUpdate::Cancelled) => (Kind::Neutral, format!("'{name}' cancelled")),
            (Direction::Upload, TransferUpdate::Failed(reason)) => {
                (Kind::Error, format!("Failed to upload '{name}': {reason}"))
            }
            (Direction::Download, TransferUpdate::Failed(reason)) => (
                Kind::Error,
                format!("Failed to download '{name}': {reason}"),
            ),
            (_, other) => (Kind::Error, format!("'{name}': {other:?}")),
        };
        self.toast(kind, text);
    }

    /// Lists what `paths` share (walking folders, reading sizes) in a task, off the UI
    /// thread; the uploads start when the list arrives.
    pub(super) fn list_uploads(&mut self, paths: Vec<PathBuf>) -> Action {
        if self.connected().is_none() {
            self.not_connected();
            return Action::None;
        }
        Action::Run(Task::perform(
            async move { list_uploads(paths) },
            Message::UploadsListed,
        ))
    }

    pub(super) fn not_connected(&mut self) {
        self.toast(
            Kind::Error,
            "Not connected to the host: try again once reconnected",
        );
    }

    /// Starts uploading the listed files: shared as new files, or (`version_of`) the one
    /// picked as the new version of a file, shown under that file's name.
    pub(super) fn upload(&mut self, list: UploadList, version_of: Option<FileId>) {
        match list {
            UploadList::Files(files) => {
                self.upload_files(files, version_of);
            }
            UploadList::TooMany(count) => {
                self.toast(
                    Kind::Error,
                    format!("Too many files ({count}); share at most {MAX_FOLDER_FILES} at once"),
                );
            }
        }
    }

    /// Starts uploading `files` (as [`Self::upload`]); returns the uploads started.
    pub(super) fn upload_files(
        &mut self,
        files: Vec<LocalFile>,
        version_of: Option<FileId>,
    ) -> Vec<TransferId> {
        let Some((host, credentials)) = self.connected() else {
            self.not_connected();
            return Vec::new();
        };
        let route = Route {
            host,
            passcode: self.passcode.clone(),
            credentials: Some(credentials.clone()),
            identity: None,
            compression: true,
        };
        let mut started = Vec::new();
        let listed_name = version_of.and_then(|id| self.files.get(&id).map(|f| f.name.clone()));
        for file in files {
            let LocalFile { path, name, size } = file.clone();
            let item = UploadItem {
                path,
                name: name.clone(),
                options: ShareOptions {
                    expiry: self.keep.expiry(),
                    tags: Tags::default(),
                    // A new version keeps who may see the file.
                    only: match version_of {
                        Some(_) => None,
                        None => self.share_with.audience(&self.peers),
                    },
                    version_of,
                },
                new_file: false,
            };
            let name = listed_name.clone().unwrap_or(name);
            match self
                .lanes
                .upload(route.clone(), vec![item], &self.transfer_events)
            {
                Ok(handles) => {
                    for handle in handles {
                        started.push(handle.id());
                        if version_of.is_none() {
                            self.direct.upload_started(handle.id(), file.clone());
                        }
                        self.transfers
                            .add(handle, name.clone(), Direction::Upload, size);
                    }
                }
                Err(error) => {
                    self.toast(Kind::Error, format!("Failed to upload '{name}': {error}"))
                }
            }
        }
        self.transfers_hidden = false;
        started
    }

    /// Where this screen's transfers go: the host, with the passcode and the credentials (the
    /// same for uploads and downloads, so that a lane's connection serves both).
    pub(super) fn route(&self) -> Option<Route> {
        let (host, credentials) = self.connected()?;
        Some(Route {
            host,
            passcode: self.passcode.clone(),
            credentials: Some(credentials.clone()),
            identity: Some(std::sync::Arc::clone(&self.identity)),
            compression: true,
        })
    }

    fn download(&mut self, file_id: FileId, destination: Destination) {
        let Some(file) = self.files.get(&file_id) else {
            self.toast(Kind::Error, "That file is no longer available");
            return;
        };
        self.download_entry(file.clone(), destination);
    }

    /// Downloads `file` (the latest version, or the one its details name) to `destination`
    /// through the screen's lanes, unless it is downloading already.
    pub(super) fn download_entry(&mut self, file: FileEntry, destination: Destination) {
        let Some(route) = self.route() else {
            self.not_connected();
            return;
        };
        let file_id = file.id;
        if self.transfers.download_percent(file_id).is_some() {
            return;
        }
        let name = file.name.clone();
        let size = file.size;
        let queued = self
            .lanes
            .download(route, vec![(file, destination)], &self.transfer_events);
        for handle in queued {
            self.transfers
                .add_download(handle, file_id, name.clone(), size);
        }
        self.transfers_hidden = false;
    }

    /// Downloads `files` into `folder` (each under a free name) through the screen's lanes;
    /// those already downloading are left to finish.
    fn download_many(&mut self, files: Vec<FileId>, folder: PathBuf) {
        let Some(route) = self.route() else {
            self.not_connected();
            return;
        };
        let entries: Vec<_> = files
            .iter()
            .filter(|id| self.transfers.download_percent(**id).is_none())
            .filter_map(|id| self.files.get(id).filter(|f| is_available(f)).cloned())
            .collect();
        let items = entries
            .iter()
            .map(|entry| (entry.clone(), Destination::Folder(folder.clone())))
            .collect();
        let handles = self.lanes.download(route, items, &self.transfer_events);
        for (handle, entry) in handles.into_iter().zip(entries) {
            self.transfers
                .add_download(handle, entry.id, entry.name, entry.size);
        }
        self.ticked.clear();
        self.transfers_hidden = false;
    }
}
