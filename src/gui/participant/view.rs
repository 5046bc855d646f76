//! How the participant screen is drawn: a header, the connection's banner, notices and the
//! file list, with the transfers modal and the drop hint over them.

use std::time::{Duration, Instant};

use chrono::Local;
use iced::widget::{Stack, text_input};
use iced::widget::{center, column, container, opaque, row, scrollable, space, stack, text};
use iced::{Alignment, Element, Length};

use super::{Connection, FILTER_INPUT, Message, Notice, Participant};
use crate::gui::theme::{self, Tone, gap, text_size};
use crate::gui::widgets::{ButtonShape, action_button, lock, muted};
use crate::participant::FileEntry;
use crate::protocol::Fingerprint;
use crate::units::format_size;

impl Participant {
    /// Draws the screen.
    pub fn view(&self) -> Element<'_, Message> {
        let body = column![
            self.header(),
            self.status_banner(),
            self.notices(),
            self.list()
        ]
        .spacing(gap::XL)
        .padding(gap::XXL);
        let mut layers = self.with_transfers(stack![body]);
        if self.drop_hover {
            layers = layers.push(opaque(
                center(text("Drop to share with everyone").size(text_size::OVERLAY))
                    .style(theme::backdrop),
            ));
        }
        layers.into()
    }

    /// `layers` with the transfers in progress over them: the modal, or when it is hidden, a
    /// button in the corner that shows it again.
    fn with_transfers<'a>(&'a self, layers: Stack<'a, Message>) -> Stack<'a, Message> {
        if self.transfers.is_empty() {
            return layers;
        }
        if self.transfers_hidden {
            let label = format!("{} transfer(s) in progress — show", self.transfers.len());
            return layers.push(
                container(
                    action_button(label, ButtonShape::FLOATING, theme::primary_button)
                        .on_press(Message::ToggleTransfers),
                )
                .align_bottom(Length::Fill)
                .align_right(Length::Fill)
                .padding(gap::XXL),
            );
        }
        let modal = self
            .transfers
            .view(Message::CancelTransfer, Message::ToggleTransfers);
        layers.push(opaque(
            center(modal).padding(gap::XXXL).style(theme::backdrop),
        ))
    }

    /// The title, where the connection stands, and Upload (and Leave, unless hosting).
    fn header(&self) -> Element<'_, Message> {
        let (tone, status) = self.status();
        let can_upload = self.connected().is_some();
        let leave = (!self.hosting).then(|| {
            action_button("Leave", ButtonShape::HEADER, theme::secondary_button)
                .on_press(Message::Leave)
        });
        row![
            column![
                text("Shared files").size(text_size::TITLE),
                row![
                    text("●")
                        .style(theme::toned_text(tone))
                        .size(text_size::BODY),
                    muted(status).size(text_size::BODY)
                ]
                .spacing(gap::S)
                .align_y(Alignment::Center),
            ]
            .push(self.encryption())
            .spacing(gap::XS)
            .width(Length::Fill),
            action_button("Upload files", ButtonShape::HEADER, theme::primary_button)
                .on_press_maybe(can_upload.then_some(Message::UploadClicked)),
        ]
        .push(leave)
        .spacing(gap::L)
        .align_y(Alignment::Center)
        .into()
    }

    /// The status line under the title, and the colour of its dot.
    fn status(&self) -> (Tone, String) {
        match &self.connection {
            Connection::Connecting => (Tone::Warning, format!("Connecting to {}…", self.address)),
            Connection::Connected { .. } if self.hosting => (
                Tone::Success,
                format!("Sharing as {} · {} online", self.username, self.peers.len()),
            ),
            Connection::Connected { host, .. } => (
                Tone::Success,
                format!(
                    "Connected to {host} as {} · {} online",
                    self.username,
                    self.peers.len()
                ),
            ),
            Connection::Lost { .. } => (Tone::Warning, "Reconnecting…".to_owned()),
            Connection::Failed { .. } => (Tone::Danger, "Disconnected".to_owned()),
            Connection::KeyChanged { .. } => (Tone::Danger, "Not connected".to_owned()),
        }
    }

    /// While connected: the lock and the host's verification code, which people compare
    /// with the one the host shows.
    fn encryption(&self) -> Option<Element<'_, Message>> {
        let Connection::Connected { host_key, .. } = &self.connection else {
            return None;
        };
        let code = host_key.fingerprint.verification_code();
        Some(
            row![
                lock(),
                muted(format!("Encrypted · verification code {code}")).size(text_size::BODY),
            ]
            .spacing(gap::S)
            .align_y(Alignment::Center)
            .into(),
        )
    }

    /// Why nothing goes on with a host whose key changed, both codes, and the two ways on.
    fn key_changed_banner(
        &self,
        host: std::net::SocketAddr,
        pinned: Fingerprint,
        shown: Fingerprint,
    ) -> Element<'_, Message> {
        let explanation = format!(
            "The host at {host} is not the one you met before. Its verification code was {} \
             and is now {}. This happens when the host was reinstalled or lost its settings, \
             or when someone is impersonating it. Ask the host's operator which code their \
             screen shows: trust the new key only if it is {}.",
            unbroken(pinned),
            unbroken(shown),
            unbroken(shown)
        );
        container(
            column![
                text("The host's identity changed").size(text_size::HEADING),
                text(explanation),
                row![
                    action_button(
                        "Trust the new key",
                        ButtonShape::BANNER,
                        theme::danger_button
                    )
                    .on_press(Message::TrustNewKey),
                    action_button(
                        "Back to start",
                        ButtonShape::BANNER,
                        theme::secondary_button
                    )
                    .on_press(Message::Leave),
                ]
                .spacing(gap::L),
            ]
            .spacing(gap::M),
        )
        .padding(gap::L)
        .width(Length::Fill)
        .style(theme::banner(Tone::Danger))
        .into()
    }

    /// A banner while the connection is lost (with the countdown to the next try) or failed.
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
                .padding(gap::L)
                .width(Length::Fill)
                .style(theme::banner(Tone::Warning))
                .into()
            }
            Connection::Failed { reason } => container(
                row![
                    text(format!("Disconnected: {reason}")).width(Length::Fill),
                    action_button(
                        "Back to start",
                        ButtonShape::BANNER,
                        theme::secondary_button
                    )
                    .on_press(Message::Leave),
                ]
                .align_y(Alignment::Center),
            )
            .padding(gap::L)
            .width(Length::Fill)
            .style(theme::banner(Tone::Danger))
            .into(),
            Connection::KeyChanged {
                host,
                pinned,
                shown,
            } => self.key_changed_banner(*host, *pinned, *shown),
            Connection::Connecting | Connection::Connected { .. } => space().height(0).into(),
        }
    }

    fn notices(&self) -> Element<'_, Message> {
        column(self.notices.iter().map(notice))
            .spacing(gap::S)
            .into()
    }

    /// The filter box and the files it lets through (or why there are none).
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
                .padding(gap::M)
                .style(theme::input)
                .width(Length::Fill),
            muted(count).size(text_size::BODY),
        ]
        .spacing(gap::XL)
        .align_y(Alignment::Center);

        let content: Element<'_, Message> = if self.files.is_empty() {
            center(
                column![
                    text("No files shared yet").size(text_size::HEADING),
                    muted("Upload a file, or drop files onto this window, to share them with everyone.")
                        .size(text_size::BODY),
                ]
                .spacing(gap::M)
                .align_x(Alignment::Center),
            )
            .into()
        } else if files.is_empty() {
            center(muted("No file matches the filter")).into()
        } else {
            scrollable(column(files.into_iter().map(|f| self.file_row(f))).spacing(gap::M))
                .height(Length::Fill)
                .into()
        };
        column![filter, content].spacing(gap::XL).into()
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

    /// One file: its name, size, uploader and time, Download, and Delete if allowed.
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
        let download = action_button("Download", ButtonShape::ROW, theme::primary_button)
            .on_press_maybe(
                self.connected()
                    .is_some()
                    .then_some(Message::DownloadClicked(file.id)),
            );
        let delete = self.may_delete(file).then(|| {
            action_button("Delete", ButtonShape::ROW, theme::danger_button)
                .on_press(Message::DeleteClicked(file.id))
        });
        container(
            row![
                column![
                    text(file.name.as_str()).size(text_size::NAME),
                    muted(details).size(text_size::DETAIL),
                ]
                .spacing(gap::XS)
                .width(Length::Fill),
                row![download].push(delete).spacing(gap::M),
            ]
            .spacing(gap::XL)
            .align_y(Alignment::Center),
        )
        .padding(gap::XL)
        .width(Length::Fill)
        .style(theme::card)
        .into()
    }
}

/// A notice in green or red, with × to dismiss it.
fn notice(notice: &Notice) -> Element<'_, Message> {
    let tone = if notice.good {
        Tone::Success
    } else {
        Tone::Danger
    };
    container(
        row![
            text(notice.text.clone())
                .size(text_size::BODY)
                .width(Length::Fill),
            action_button("×", ButtonShape::DISMISS, theme::secondary_button)
                .on_press(Message::Dismiss(notice.id)),
        ]
        .align_y(Alignment::Center)
        .spacing(gap::M),
    )
    .padding([gap::S, gap::L])
    .width(Length::Fill)
    .style(theme::banner(tone))
    .into()
}

/// A host's verification code that wraps as one word (its groups joined by no-break spaces).
fn unbroken(fingerprint: Fingerprint) -> String {
    fingerprint
        .verification_code()
        .to_string()
        .replace(' ', "\u{a0}")
}
