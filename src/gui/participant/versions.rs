//! The versions of a file, under its row: "3 versions" on a file shared more than once opens
//! a small list of the versions the host keeps (number, size, time), each with its own
//! Download. The list is asked for when opened, in a task (it is network work).
//! "New version…" on a file its sharer (or the host's operator) may add versions of picks a
//! file and uploads it as that file's new version.

use std::path::PathBuf;

use chrono::{DateTime, Local, Utc};
use iced::widget::{button, column, container, row, text};
use iced::{Alignment, Element, Length, Task};

use super::local::list_uploads;
use super::toasts::Kind;
use super::{Action, Message, Participant};
use crate::gui::bridge::{self, DialogResult};
use crate::gui::theme::{self, gap, text_size};
use crate::gui::widgets::{ButtonShape, action_button, muted};
use crate::participant::FileEntry;
use crate::participant::save::{Destination, safe_file_name};
use crate::participant::worker::list_versions;
use crate::protocol::{FileId, VersionInfo};
use crate::units::format_size;

/// The file whose versions are open under its row, and what is known of them.
#[derive(Debug, Clone, Default)]
pub struct VersionsPanel {
    open: Option<(FileId, Shown)>,
}

/// What the open list shows.
#[derive(Debug, Clone)]
enum Shown {
    /// Asked for; not answered yet.
    Loading,
    /// The versions kept, oldest first.
    Listed(Vec<VersionInfo>),
    /// Why they could not be listed.
    Failed(String),
}

impl VersionsPanel {
    /// Whether `file`'s versions are open.
    pub fn is_open(&self, file: FileId) -> bool {
        matches!(self.open, Some((open, _)) if open == file)
    }
}

/// The words under a file's name for its versions: "version 3 of 3 kept".
pub fn version_words(file: &FileEntry) -> Option<String> {
    let count = file.details.versions?;
    Some(format!("version {} ({} kept)", count.latest, count.kept))
}

impl Participant {
    /// Handles the messages about versions.
    pub(super) fn on_versions(&mut self, message: Message) -> Action {
        match message {
            Message::VersionsClicked(file_id) => return self.toggle_versions(file_id),
            // An answer for a list closed meanwhile is dropped.
            Message::VersionsListed(file_id, listed) if self.versions.is_open(file_id) => {
                let shown = match listed {
                    Ok(versions) => Shown::Listed(versions),
                    Err(reason) => Shown::Failed(reason),
                };
                self.versions.open = Some((file_id, shown));
            }
            Message::DownloadVersionClicked(file_id, number) => {
                let Some(file) = self.files.get(&file_id) else {
                    return Action::None;
                };
                let name = safe_file_name(&file.name);
                return Action::Run(
                    bridge::pick_save_path(name)
                        .map(move |result| Message::VersionSavePicked(file_id, number, result)),
                );
            }
            Message::VersionSavePicked(file_id, number, result) => {
                self.on_version_save_picked(file_id, number, result);
            }
            Message::NewVersionClicked(file_id) => {
                return Action::Run(
                    bridge::pick_file("Pick the new version")
                        .map(move |result| Message::NewVersionPicked(file_id, result)),
                );
            }
            Message::NewVersionPicked(file_id, result) => {
                return self.on_new_version_picked(file_id, result);
            }
            Message::NewVersionListed(file_id, list) => self.upload(list, Some(file_id)),
            _ => {}
        }
        Action::None
    }

    /// Opens a file's versions (and asks the host for them), or closes them.
    fn toggle_versions(&mut self, file_id: FileId) -> Action {
        if self.versions.is_open(file_id) {
            self.versions.open = None;
            return Action::None;
        }
        let Some(route) = self.route() else {
            self.not_connected();
            return Action::None;
        };
        self.versions.open = Some((file_id, Shown::Loading));
        Action::Run(Task::perform(
            async move { list_versions(&route, file_id).map_err(|error| error.to_string()) },
            move |listed| Message::VersionsListed(file_id, listed),
        ))
    }

    /// Looks at the file picked as `file_id`'s new version (off the UI thread), then uploads
    /// it; says so if no picker could be shown.
    fn on_new_version_picked(&mut self, file_id: FileId, result: DialogResult<PathBuf>) -> Action {
        let Some(path) = result.chosen else {
            if result.never_showed() {
                self.toast(
                    Kind::Error,
                    "No file dialog is available on this system (it needs xdg-desktop-portal \
                     or zenity) to pick a new version",
                );
            }
            return Action::None;
        };
        if self.connected().is_none() {
            self.not_connected();
            return Action::None;
        }
        Action::Run(Task::perform(
            async move { list_uploads(vec![path]) },
            move |list| Message::NewVersionListed(file_id, list),
        ))
    }

    /// "New version…" on a row of a file this participant may add versions of, from a host
    /// that says what files are (an older one takes no version by id).
    pub(super) fn new_version_button(&self, file: &FileEntry) -> Option<Element<'static, Message>> {
        file.details.category?;
        self.may_add_version(file).then(|| {
            button(text("New version…").size(text_size::DETAIL))
                .padding([0.0, gap::S])
                .style(theme::chip(false))
                .on_press(Message::NewVersionClicked(file.id))
                .into()
        })
    }

    /// Downloads version `number` of a file to where the save dialog said.
    fn on_version_save_picked(
        &mut self,
        file_id: FileId,
        number: u32,
        result: DialogResult<PathBuf>,
    ) {
        let Some(path) = result.chosen else {
            if result.never_showed() {
                self.toast(
                    Kind::Error,
                    "No save dialog is available on this system to save a version",
                );
            }
            return;
        };
        let version = match &self.versions.open {
            Some((open, Shown::Listed(versions))) if *open == file_id => {
                versions.iter().find(|v| v.number == number).cloned()
            }
            _ => None,
        };
        let (Some(version), Some(file)) = (version, self.files.get(&file_id)) else {
            self.toast(Kind::Error, "That version is no longer available");
            return;
        };
        let mut entry = file.clone();
        entry.size = version.size;
        entry.sha256 = version.sha256;
        entry.check = Some(version.check);
        entry.details.version = Some(number);
        let destination = Destination::Path {
            path,
            overwrite: true,
        };
        self.download_entry(entry, destination);
    }

    /// Under the row of `file`, if its versions are open: one line per version kept.
    pub(super) fn versions_panel(&self, file: FileId) -> Option<Element<'_, Message>> {
        let (open, shown) = self.versions.open.as_ref()?;
        if *open != file {
            return None;
        }
        let body: Element<'_, Message> = match shown {
            Shown::Loading => muted("Asking the host for its versions…")
                .size(text_size::DETAIL)
                .into(),
            Shown::Failed(reason) => muted(format!("Could not list the versions: {reason}"))
                .size(text_size::DETAIL)
                .into(),
            Shown::Listed(versions) => column(
                versions
                    .iter()
                    .rev()
                    .map(|version| version_line(file, version)),
            )
            .spacing(gap::XS)
            .into(),
        };
        Some(
            container(body)
                .padding([gap::S, gap::XL])
                .width(Length::Fill)
                .style(theme::card)
                .into(),
        )
    }
}

/// "Version 2 • 1.5 KB • 2026-11-24 10:31" and its Download.
fn version_line(file: FileId, version: &VersionInfo) -> Element<'static, Message> {
    let when = DateTime::<Utc>::from_timestamp_millis(version.uploaded_at_ms).map_or_else(
        || "-".to_owned(),
        |at| {
            at.with_timezone(&Local)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        },
    );
    row![
        text(format!(
            "Version {} • {} • {when}",
            version.number,
            format_size(version.size)
        ))
        .size(text_size::DETAIL)
        .width(Length::Fill),
        action_button("Download", ButtonShape::COMPACT, theme::secondary_button)
            .on_press(Message::DownloadVersionClicked(file, version.number)),
    ]
    .spacing(gap::M)
    .align_y(Alignment::Center)
    .into()
}

/// The "3 versions" button on a row of a file shared more than once.
pub fn versions_button(file: &FileEntry, open: bool) -> Option<Element<'static, Message>> {
    let count = file.details.versions?;
    let label = if open {
        "Hide versions".to_owned()
    } else {
        format!("{} versions", count.kept)
    };
    Some(
        button(text(label).size(text_size::DETAIL))
            .padding([0.0, gap::S])
            .style(theme::chip(open))
            .on_press(Message::VersionsClicked(file.id))
            .into(),
    )
}
