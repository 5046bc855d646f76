//! One file's row in the list: a box to tick it, its type badge, its name and details (and
//! its download's progress), and its actions in fixed-width columns so they line up from row
//! to row. Every row is as tall, and a row being deleted stays in place ("Deleting…").

use std::time::Duration;

use chrono::Local;
use iced::widget::text::Wrapping;
use iced::widget::{checkbox, column, container, mouse_area, progress_bar, row, space, text};
use iced::{Alignment, Element, Length};

use super::comments::comments_button;
use super::deletes::Pending;
use super::library::{expiry_words, restriction_words};
use super::order::FileKind;
use super::versions::{version_words, versions_button};
use super::{Message, Participant};
use crate::gui::theme::{self, badge, gap, list, text_size};
use crate::gui::widgets::{ButtonShape, fixed_button, muted};
use crate::participant::FileEntry;
use crate::units::format_size;

impl Participant {
    /// One file: tick box, badge, name and details, Download (or its progress, or Undo) and
    /// Delete (on files this participant may delete).
    pub(super) fn file_row<'a>(&self, file: &'a FileEntry) -> Element<'a, Message> {
        let ticked = self.ticked.contains(&file.id);
        let selected = self.selected == Some(file.id);
        let id = file.id;
        let about = mouse_area(
            column![
                text(file.name.as_str())
                    .size(text_size::NAME)
                    .wrapping(Wrapping::None),
                // The buttons first, so that a long details line never hides them.
                row![]
                    .push(
                        // Only a host that says what files are takes comments.
                        file.details
                            .category
                            .map(|_| comments_button(file, self.comments.is_open(file.id))),
                    )
                    .push(versions_button(file, self.versions.is_open(file.id)))
                    .push(self.new_version_button(file))
                    .push(self.upload_to_host_button(file))
                    .push(
                        muted(self.details(file))
                            .size(text_size::DETAIL)
                            .wrapping(Wrapping::None),
                    )
                    .spacing(gap::S)
                    .align_y(Alignment::Center),
            ]
            .push(
                self.transfers
                    .download_percent(file.id)
                    .map(|percent| progress_bar(0.0..=100.0, percent).girth(list::ROW_BAR_GIRTH)),
            )
            .spacing(gap::XXS),
        )
        .on_press(Message::Select(id));
        container(
            row![
                container(checkbox(ticked).on_toggle(move |on| Message::Ticked(id, on)))
                    .width(list::CHECK_WIDTH),
                self.thumbnail(file, kind_badge(FileKind::of_file(file))),
                container(about).width(Length::Fill).clip(true),
                self.actions(file),
            ]
            .spacing(gap::L)
            .align_y(Alignment::Center),
        )
        .padding([0.0, gap::XL])
        .height(list::ROW_HEIGHT)
        .align_y(Alignment::Center)
        .width(Length::Fill)
        .style(theme::file_row(selected, ticked, is_available(file)))
        .into()
    }

    /// The line under a file's name: size, uploader and time, or where its delete stands.
    fn details(&self, file: &FileEntry) -> String {
        match self.deletes.get(file.id) {
            Some(Pending::Waiting { send_at }) => {
                let wait = send_at.saturating_duration_since(self.now);
                format!("Deleting in {} s — Undo keeps it", whole_seconds(wait))
            }
            Some(Pending::Sent) => "Deleting…".to_owned(),
            None => {
                let when = file
                    .uploaded_at
                    .with_timezone(&Local)
                    .format("%Y-%m-%d %H:%M");
                let mut details = format!(
                    "{} • {} • {when}",
                    format_size(file.size),
                    self.whence(file)
                );
                if let Some(expiry) = expiry_words(file, chrono::Utc::now()) {
                    details.push_str(&format!(" • {expiry}"));
                }
                if let Some(version) = version_words(file) {
                    details.push_str(&format!(" • {version}"));
                }
                if let Some(only) = restriction_words(file) {
                    details.push_str(&format!(" • {only}"));
                }
                for tag in file.details.tags.as_slice() {
                    details.push_str(&format!(" #{tag}"));
                }
                details
            }
        }
    }

    /// Where a file comes from: who uploaded it, or whose machine shares it directly (and
    /// whether that machine is online).
    pub(super) fn whence(&self, file: &FileEntry) -> String {
        let own = Some(file.uploader_id) == self.client_id();
        match (file.details.direct, own) {
            (None, _) => format!("Uploaded by {}", file.uploader),
            (Some(true), true) => "Shared directly from this machine".to_owned(),
            (Some(true), false) => format!("Shared directly from {}'s machine", file.uploader),
            (Some(false), true) => {
                "unavailable: shared from your machine, which is not serving it now".to_owned()
            }
            (Some(false), false) => format!(
                "unavailable: {}, who shares it from their machine, is offline",
                file.uploader
            ),
        }
    }

    /// The two action columns. While a delete is pending, Undo takes Download's place and
    /// Delete's place says "Deleting…", so a second click there does nothing.
    fn actions<'a>(&self, file: &'a FileEntry) -> Element<'a, Message> {
        let pending = self.deletes.get(file.id);
        let first: Element<'a, Message> = match (pending, self.transfers.download_percent(file.id))
        {
            (Some(Pending::Waiting { .. }), _) => fixed_button(
                "Undo",
                ButtonShape::ROW,
                list::DOWNLOAD_WIDTH,
                theme::secondary_button,
            )
            .on_press(Message::UndoDelete(file.id))
            .into(),
            (Some(Pending::Sent), _) => space().width(list::DOWNLOAD_WIDTH).into(),
            (None, Some(percent)) => fixed_button(
                format!("{percent:.0} %"),
                ButtonShape::ROW,
                list::DOWNLOAD_WIDTH,
                theme::primary_button,
            )
            .into(),
            // Said on the button too: the row's details say why.
            (None, None) if !is_available(file) => fixed_button(
                "Unavailable",
                ButtonShape::ROW,
                list::DOWNLOAD_WIDTH,
                theme::primary_button,
            )
            .into(),
            (None, None) => fixed_button(
                "Download",
                ButtonShape::ROW,
                list::DOWNLOAD_WIDTH,
                theme::primary_button,
            )
            .on_press_maybe(
                self.connected()
                    .is_some()
                    .then_some(Message::DownloadClicked(file.id)),
            )
            .into(),
        };
        let second: Element<'a, Message> = match pending {
            _ if !self.may_delete(file) => space().width(list::DELETE_WIDTH).into(),
            Some(_) => container(muted("Deleting…").size(text_size::BODY))
                .width(list::DELETE_WIDTH)
                .center_x(list::DELETE_WIDTH)
                .into(),
            None => fixed_button(
                "Delete",
                ButtonShape::ROW,
                list::DELETE_WIDTH,
                theme::danger_button,
            )
            .on_press(Message::DeleteClicked(file.id))
            .into(),
        };
        row![first, second].spacing(gap::M).into()
    }
}

/// Whether `file` can be downloaded now: any file but one shared directly from a machine that
/// is offline.
pub(super) fn is_available(file: &FileEntry) -> bool {
    file.details.direct != Some(false)
}

/// A file-type badge: a small coloured square with the kind's label.
fn kind_badge<'a>(kind: FileKind) -> Element<'a, Message> {
    let color = match kind {
        FileKind::Document => badge::DOCUMENT,
        FileKind::Image => badge::IMAGE,
        FileKind::Audio => badge::AUDIO,
        FileKind::Video => badge::VIDEO,
        FileKind::Archive => badge::ARCHIVE,
        FileKind::Code => badge::CODE,
        FileKind::Other => badge::OTHER,
    };
    container(text(kind.label()).size(text_size::BADGE))
        .center_x(list::BADGE_SIZE)
        .center_y(list::BADGE_SIZE)
        .style(badge(color))
        .into()
}

/// Whole seconds left, counted up (3, 2, 1, never 0 while some time is left).
fn whole_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}
