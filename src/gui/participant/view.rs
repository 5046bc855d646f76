//! How the participant screen is drawn: a header, the connection's banner (scrolling if it
//! is long), the filter, sort and bulk actions, and the file list; over them, the toasts, the
//! transfers (modal or button) and the drop hint. Nothing over the list moves it.

use std::time::Duration;

use iced::widget::progress_bar;
use iced::widget::{Stack, button, pick_list, text_input};
use iced::widget::{center, column, container, opaque, row, scrollable, space, stack, text};
use iced::{Alignment, Element, Length};

use super::library::{self, Keep};
use super::order::SortKey;
use super::toasts::ToastAction;
use super::{Connection, Control, FILE_LIST, FILTER_INPUT, Message, Participant};
use crate::gui::theme::{self, Tone, gap, list, text_size};
use crate::gui::transfers::ModalMessages;
use crate::gui::widgets::{ButtonShape, action_button, lock, muted, ringed};
use crate::protocol::{ClientId, Fingerprint};

impl Participant {
    /// Draws the screen.
    pub fn view(&self) -> Element<'_, Message> {
        let body = column![
            self.header(),
            self.status_banner(),
            self.list_controls(),
            self.list()
        ]
        .spacing(gap::XL)
        .padding(gap::XXL);
        let toasts = container(self.toasts.view(Message::Dismiss, |action| match action {
            ToastAction::ShareDirectly(path) => Message::ShareDirectlyInstead(path.clone()),
        }))
        .align_bottom(Length::Fill)
        .align_left(Length::Fill)
        .padding(gap::XXL);
        let mut layers = self.with_transfers(stack![body, toasts]);
        if let Some(card) = self.open_preview() {
            layers = layers.push(opaque(
                center(card).padding(gap::XXXL).style(theme::backdrop),
            ));
        }
        if self.drop_hover {
            layers = layers.push(opaque(
                center(text("Drop to share with everyone").size(text_size::OVERLAY))
                    .style(theme::backdrop),
            ));
        }
        layers.into()
    }

    /// `layers` with the transfers over them: the modal, or when it is hidden, a button in
    /// the corner that shows it again.
    fn with_transfers<'a>(&'a self, layers: Stack<'a, Message>) -> Stack<'a, Message> {
        let modal_open =
            self.history_open || (!self.transfers.is_empty() && !self.transfers_hidden);
        if modal_open {
            let modal = self.transfers.view(ModalMessages {
                cancel: Message::CancelTransfer,
                hide: Message::ToggleTransfers,
                open: Message::Open,
                reveal: Message::Reveal,
            });
            return layers.push(opaque(
                center(modal).padding(gap::XXXL).style(theme::backdrop),
            ));
        }
        if self.transfers.is_empty() {
            return layers;
        }
        let label = format!("{} transfer(s) in progress — show", self.transfers.len());
        layers.push(
            container(
                action_button(label, ButtonShape::FLOATING, theme::primary_button)
                    .on_press(Message::ToggleTransfers),
            )
            .align_bottom(Length::Fill)
            .align_right(Length::Fill)
            .padding(gap::XXL),
        )
    }

    /// The title, where the connection stands, Transfers, Upload (and Leave, unless hosting).
    fn header(&self) -> Element<'_, Message> {
        let (tone, status) = self.status();
        let can_upload = self.connected().is_some();
        let leave = (!self.hosting).then(|| {
            ringed(
                action_button("Leave", ButtonShape::HEADER, theme::secondary_button)
                    .on_press(Message::Leave),
                self.is_focused(Control::Leave),
            )
        });
        let transfers = ringed(
            action_button("Transfers", ButtonShape::HEADER, theme::secondary_button)
                .on_press(Message::ShowTransfers),
            self.is_focused(Control::Transfers),
        );
        let upload = ringed(
            action_button("Upload files", ButtonShape::HEADER, theme::primary_button)
                .on_press_maybe(can_upload.then_some(Message::UploadClicked)),
            self.is_focused(Control::Upload),
        );
        let share_directly = ringed(
            action_button(
                "Share directly…",
                ButtonShape::HEADER,
                theme::secondary_button,
            )
            .on_press_maybe(can_upload.then_some(Message::ShareDirectlyClicked)),
            self.is_focused(Control::ShareDirectly),
        );
        let title = row![
            text("Shared files")
                .size(text_size::TITLE)
                .width(Length::Fill),
            transfers,
            upload,
            share_directly,
        ]
        .push(leave)
        .spacing(gap::M)
        .align_y(Alignment::Center);
        column![
            title,
            row![
                text("●")
                    .style(theme::toned_text(tone))
                    .size(text_size::BODY),
                muted(status).size(text_size::BODY)
            ]
            .push(self.share_with_toggle())
            .spacing(gap::S)
            .align_y(Alignment::Center),
        ]
        .push(self.encryption())
        .extend(self.reading_for_direct_sharing())
        .spacing(gap::XS)
        .into()
    }

    /// A line for each file being read before it is shared directly, with how far it is.
    fn reading_for_direct_sharing(&self) -> Vec<Element<'_, Message>> {
        self.direct
            .reading()
            .map(|(name, percent)| {
                row![
                    muted(format!(
                        "Preparing '{name}' to share directly · {percent:.0} %"
                    ))
                    .size(text_size::DETAIL),
                    progress_bar(0.0..=100.0, percent)
                        .girth(list::ROW_BAR_GIRTH)
                        .length(list::PREPARING_BAR_LENGTH),
                ]
                .spacing(gap::M)
                .align_y(Alignment::Center)
                .into()
            })
            .collect()
    }

    /// The status line under the title, and the colour of its dot.
    fn status(&self) -> (Tone, String) {
        let (tone, status) = self.connection_status();
        match self.direct.port() {
            Some(port) => (tone, format!("{status} · Sharing directly on port {port}")),
            None => (tone, status),
        }
    }

    /// Where the connection stands, and the colour of the status line's dot.
    fn connection_status(&self) -> (Tone, String) {
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
            .spacing(gap::L)
            .wrap(),
        ]
        .spacing(gap::M)
        .into()
    }

    /// A banner while the connection is lost (why, the countdown to the next try, and
    /// Retry now), failed, or the host's key changed; it scrolls if it would not fit.
    fn status_banner(&self) -> Element<'_, Message> {
        let (tone, content): (Tone, Element<'_, Message>) = match &self.connection {
            Connection::Lost { reason, retry_at } => {
                let wait = retry_at.saturating_duration_since(self.now);
                (Tone::Warning, lost_banner(reason, wait))
            }
            Connection::Failed { reason } => (
                Tone::Danger,
                row![
                    text(format!("Disconnected: {reason}")).width(Length::Fill),
                    action_button(
                        "Back to start",
                        ButtonShape::BANNER,
                        theme::secondary_button
                    )
                    .on_press(Message::Leave),
                ]
                .spacing(gap::L)
                .align_y(Alignment::Center)
                .into(),
            ),
            Connection::KeyChanged {
                host,
                pinned,
                shown,
            } => (
                Tone::Danger,
                self.key_changed_banner(*host, *pinned, *shown),
            ),
            Connection::Connecting | Connection::Connected { .. } => {
                return space().height(0).into();
            }
        };
        container(scrollable(
            container(content).padding(gap::L).width(Length::Fill),
        ))
        .max_height(list::BANNER_MAX_HEIGHT)
        .width(Length::Fill)
        .style(theme::banner(tone))
        .into()
    }

    /// The filter and the file count; the sort choices; Download selected and Download all.
    fn list_controls(&self) -> Element<'_, Message> {
        let files = self.visible_files();
        let unfiltered = self.filter.trim().is_empty() && !self.chips.any();
        let count = match (self.files.len(), files.len()) {
            (1, _) if unfiltered => "1 file".to_owned(),
            (all, _) if unfiltered => format!("{all} files"),
            (all, shown) => format!("{shown} of {all} files"),
        };
        let connected = self.connected().is_some();
        let ticked = self.ticked.len();
        let filter = row![
            ringed(
                text_input("Filter by name or uploader", &self.filter)
                    .id(FILTER_INPUT)
                    .on_input(Message::FilterChanged)
                    .padding(gap::M)
                    .style(theme::input)
                    .width(Length::Fill),
                self.is_focused(Control::Filter),
            ),
            ringed(
                action_button(
                    format!("Download selected ({ticked})"),
                    ButtonShape::COMPACT,
                    theme::secondary_button,
                )
                .on_press_maybe((connected && ticked > 0).then_some(Message::DownloadTicked)),
                self.is_focused(Control::DownloadTicked),
            ),
            ringed(
                action_button(
                    "Download all",
                    ButtonShape::COMPACT,
                    theme::secondary_button
                )
                .on_press_maybe((connected && !files.is_empty()).then_some(Message::DownloadAll),),
                self.is_focused(Control::DownloadAll),
            ),
        ]
        .spacing(gap::S)
        .align_y(Alignment::Center);
        let sorts = SortKey::ALL.map(|key| {
            let active = self.sort.key == key;
            let label = if active {
                format!("{} {}", key.label(), self.sort.arrow())
            } else {
                key.label().to_owned()
            };
            ringed(
                action_button(label, ButtonShape::COMPACT, theme::sort_button(active))
                    .on_press(Message::SortBy(key)),
                self.is_focused(Control::Sort(key)),
            )
        });
        // How long files shared from here are kept: chosen before uploading.
        let keep = pick_list(Keep::ALL, Some(self.keep), Message::KeepPicked)
            .text_size(text_size::DETAIL)
            .padding([gap::XS, gap::M])
            .style(theme::pick_list)
            .menu_style(theme::pick_list_menu);
        let choices = row![muted("Sort by").size(text_size::DETAIL)]
            .extend(sorts)
            .push(space().width(Length::Fill))
            .push(keep)
            .push(muted(count).size(text_size::BODY))
            .spacing(gap::XS)
            .align_y(Alignment::Center);
        column![filter, choices]
            .push(self.share_with_row())
            .push(self.chips_row())
            .spacing(gap::S)
            .into()
    }

    /// The people online besides this participant.
    fn others_online(&self) -> Vec<(ClientId, &String)> {
        let me = self.client_id();
        self.peers
            .iter()
            .filter(|(id, _)| Some(**id) != me)
            .map(|(id, name)| (*id, name))
            .collect()
    }

    /// After the status line, when anyone else is online: who new uploads are for; a click
    /// opens (or closes) the "Share with" chips.
    fn share_with_toggle(&self) -> Option<Element<'_, Message>> {
        if self.others_online().is_empty() {
            return None;
        }
        let label = match self.share_with.picked() {
            0 => "Share with: everyone".to_owned(),
            1 => "Share with: 1 person".to_owned(),
            picked => format!("Share with: {picked} people"),
        };
        Some(
            button(text(label).size(text_size::DETAIL))
                .padding([gap::XXS, gap::M])
                .style(theme::chip(!self.share_with.is_everyone()))
                .on_press(Message::ShareWithOpened)
                .into(),
        )
    }

    /// "Share with", once opened: Everyone, or the people online picked (chips).
    fn share_with_row(&self) -> Option<Element<'_, Message>> {
        let others = self.others_online();
        if others.is_empty() || !self.share_with.is_open() {
            return None;
        }
        let everyone = chip(
            "Everyone".to_owned(),
            self.share_with.is_everyone(),
            Message::ShareWithEveryone,
        );
        let people = others.into_iter().map(|(id, name)| {
            chip(
                name.clone(),
                self.share_with.has(id),
                Message::ShareWithPeer(id),
            )
        });
        Some(
            row![muted("Share with").size(text_size::DETAIL), everyone]
                .extend(people)
                .spacing(gap::XS)
                .align_y(Alignment::Center)
                .wrap()
                .into(),
        )
    }

    /// The category chips ("All", then each category the files have) and the tag chips
    /// (`#week3`), when the host says what the files are; `None` from a host that does not.
    fn chips_row(&self) -> Option<Element<'_, Message>> {
        let (categories, tags) = library::present(self.files.values());
        if categories.is_empty() && tags.is_empty() {
            return None;
        }
        let all = chip(
            "All".to_owned(),
            self.chips.category.is_none(),
            Message::CategoryChip(None),
        );
        let categories = categories.into_iter().map(|category| {
            let active = self.chips.category == Some(category);
            chip(
                capitalized(category.as_str()),
                active,
                Message::CategoryChip(Some(category)),
            )
        });
        let tags = tags.into_iter().map(|tag| {
            let active = self.chips.tag.as_ref() == Some(&tag);
            chip(format!("#{tag}"), active, Message::TagChip(tag))
        });
        Some(
            row![all]
                .extend(categories)
                .extend(tags)
                .spacing(gap::XS)
                .align_y(Alignment::Center)
                .wrap()
                .into(),
        )
    }

    /// The files the filter lets through (or why there are none), room left after the last
    /// so it can be scrolled clear of what floats over the list.
    fn list(&self) -> Element<'_, Message> {
        let files = self.visible_files();
        if self.files.is_empty() {
            return center(
                column![
                    text("No files shared yet").size(text_size::HEADING),
                    muted("Upload a file, or drop files onto this window, to share them with everyone.")
                        .size(text_size::BODY),
                ]
                .spacing(gap::M)
                .align_x(Alignment::Center),
            )
            .into();
        }
        if files.is_empty() {
            return center(muted("No file matches the filter and chips")).into();
        }
        let rows = column(files.into_iter().flat_map(|f| {
            std::iter::once(self.file_row(f))
                .chain(self.versions_panel(f.id))
                .chain(self.comments_panel(f))
        }))
        .spacing(gap::M)
        .push(space().height(list::OVERLAY_ROOM));
        scrollable(rows)
            .id(FILE_LIST)
            .spacing(gap::S)
            .on_scroll(|viewport| {
                Message::ListScrolled(viewport.absolute_offset().y, viewport.bounds().height)
            })
            .height(Length::Fill)
            .into()
    }
}

/// The lost host's banner: why, in words people use, the true countdown, and Retry now.
fn lost_banner<'a>(reason: &str, wait: Duration) -> Element<'a, Message> {
    let when = if wait.is_zero() {
        "Reconnecting now…".to_owned()
    } else {
        // Counted up, so it reads 3, 2, 1 and never "0 s".
        format!(
            "Reconnecting in {} s…",
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        )
    };
    row![
        text(format!("{reason}. {when}")).width(Length::Fill),
        action_button("Retry now", ButtonShape::BANNER, theme::secondary_button)
            .on_press(Message::RetryNow),
    ]
    .spacing(gap::L)
    .align_y(Alignment::Center)
    .into()
}

/// `word` with its first letter in upper case (`images` → `Images`).
fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A host's verification code that wraps as one word (its groups joined by no-break spaces).
fn unbroken(fingerprint: Fingerprint) -> String {
    fingerprint
        .verification_code()
        .to_string()
        .replace(' ', "\u{a0}")
}

/// A small toggle chip (Share with, categories, tags), lit when `active`.
fn chip<'a>(label: String, active: bool, message: Message) -> Element<'a, Message> {
    button(text(label).size(text_size::DETAIL))
        .padding([gap::XXS, gap::M])
        .style(theme::chip(active))
        .on_press(message)
        .into()
}
