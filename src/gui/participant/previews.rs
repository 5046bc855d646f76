//! Previews in the list: a file whose host made a preview shows its thumbnail in place of its
//! type badge, and clicking the thumbnail (or the badge of a text) opens the larger preview
//! over the list. Previews are fetched lazily, only for the rows in view (and a few around
//! them), a few at a time, each once: the answers are kept for as long as the file keeps the
//! same preview (a new version's preview is fetched anew).

use std::collections::HashMap;

use iced::widget::image::Handle;
use iced::widget::{column, container, image, mouse_area, row, scrollable, text};
use iced::{Alignment, ContentFit, Element, Length, Task};

use super::{Message, Participant};
use crate::gui::theme::{self, gap, list, preview, text_size};
use crate::gui::widgets::{ButtonShape, action_button, muted};
use crate::participant::worker::fetch_preview;
use crate::participant::{FetchedPreview, FileEntry, PreviewAvailable};
use crate::protocol::{FileId, PreviewKind};

/// Most previews asked for at once.
const MOST_IN_FLIGHT: usize = 4;
/// Rows around the visible ones whose previews are fetched too, so a short scroll finds them.
const ROWS_AROUND: usize = 4;
/// Rows taken to be in view before the list has said how tall it is.
const ROWS_AT_FIRST: usize = 12;

/// The previews fetched so far, and the one open.
#[derive(Debug, Clone, Default)]
pub struct Previews {
    /// By file: which preview (as listed) and what came of asking for it.
    fetched: HashMap<FileId, (PreviewAvailable, Fetched)>,
    /// The file whose larger preview is open over the list.
    open: Option<FileId>,
}

/// What came of asking for a preview.
#[derive(Debug, Clone)]
enum Fetched {
    /// Asked; no answer yet.
    Loading,
    /// A thumbnail, ready to draw.
    Picture(Handle),
    /// The first lines of a text.
    Text(String),
    /// The host did not give it (the file went, the connection broke): not asked again.
    Failed,
}

impl Previews {
    /// Closes the larger preview; false if none was open.
    pub(super) fn close(&mut self) -> bool {
        self.open.take().is_some()
    }

    /// What is known of `file`'s preview, if it is still the one listed.
    fn get(&self, file: &FileEntry) -> Option<&Fetched> {
        let listed = file.details.preview?;
        match self.fetched.get(&file.id) {
            Some((asked, fetched)) if *asked == listed => Some(fetched),
            _ => None,
        }
    }

    fn in_flight(&self) -> usize {
        self.fetched
            .values()
            .filter(|(_, fetched)| matches!(fetched, Fetched::Loading))
            .count()
    }
}

impl Participant {
    /// Asks for the previews of the rows in view (and a few around them) not fetched yet, at
    /// most a few at a time.
    pub(super) fn fetch_visible_previews(&mut self) -> Option<Task<Message>> {
        let route = self.route()?;
        // Previews of files no longer listed are let go.
        let files = &self.files;
        self.previews.fetched.retain(|id, _| files.contains_key(id));
        let row_height = list::ROW_HEIGHT + gap::M;
        let (offset, height) = self.list_view;
        let first = (offset / row_height).max(0.0) as usize;
        let rows = if height > 0.0 {
            (height / row_height).ceil() as usize
        } else {
            ROWS_AT_FIRST
        };
        let wanted: Vec<(FileId, PreviewAvailable)> = self
            .visible_files()
            .into_iter()
            .skip(first.saturating_sub(ROWS_AROUND))
            .take(rows + 2 * ROWS_AROUND)
            .filter_map(|file| {
                let listed = file.details.preview?;
                self.previews
                    .get(file)
                    .is_none()
                    .then_some((file.id, listed))
            })
            .take(MOST_IN_FLIGHT.saturating_sub(self.previews.in_flight()))
            .collect();
        if wanted.is_empty() {
            return None;
        }
        let tasks = wanted.into_iter().map(|(file_id, listed)| {
            self.previews
                .fetched
                .insert(file_id, (listed, Fetched::Loading));
            let route = route.clone();
            Task::perform(
                async move { fetch_preview(&route, file_id).map_err(|error| error.to_string()) },
                move |result| Message::PreviewFetched(file_id, listed, result),
            )
        });
        Some(Task::batch(tasks.collect::<Vec<_>>()))
    }

    /// Handles the messages about previews.
    pub(super) fn on_previews(&mut self, message: Message) {
        match message {
            Message::PreviewFetched(file_id, listed, result) => {
                let fetched = match result {
                    Ok(FetchedPreview {
                        kind: PreviewKind::Png,
                        bytes,
                    }) => Fetched::Picture(Handle::from_bytes(bytes)),
                    Ok(FetchedPreview {
                        kind: PreviewKind::Text,
                        bytes,
                    }) => Fetched::Text(String::from_utf8_lossy(&bytes).into_owned()),
                    Err(_) => Fetched::Failed,
                };
                self.previews.fetched.insert(file_id, (listed, fetched));
            }
            Message::PreviewClicked(file_id) => self.previews.open = Some(file_id),
            Message::PreviewClosed => self.previews.open = None,
            _ => {}
        }
    }

    /// A file's thumbnail, or the text preview's badge made clickable; `None` while there is
    /// nothing to show.
    pub(super) fn thumbnail<'a>(
        &self,
        file: &FileEntry,
        badge: Element<'a, Message>,
    ) -> Element<'a, Message> {
        let shown: Element<'a, Message> = match self.previews.get(file) {
            // Within the badge's square, so that names line up as with badges.
            Some(Fetched::Picture(handle)) => image(handle.clone())
                .width(list::BADGE_SIZE)
                .height(list::BADGE_SIZE)
                .content_fit(ContentFit::Contain)
                .into(),
            Some(Fetched::Text(_)) => badge,
            _ => return badge,
        };
        mouse_area(shown)
            .on_press(Message::PreviewClicked(file.id))
            .into()
    }

    /// The larger preview over the list, if one is open.
    pub(super) fn open_preview(&self) -> Option<Element<'_, Message>> {
        let file = self.files.get(&self.previews.open?)?;
        let shown: Element<'_, Message> = match self.previews.get(file)? {
            Fetched::Picture(handle) => image(handle.clone())
                .width(preview::LARGE_SIDE)
                .height(preview::LARGE_SIDE)
                .content_fit(ContentFit::Contain)
                .into(),
            Fetched::Text(lines) => scrollable(
                text(lines.as_str())
                    .size(text_size::DETAIL)
                    .font(iced::Font::MONOSPACE),
            )
            .width(preview::TEXT_WIDTH)
            .height(preview::TEXT_HEIGHT)
            .into(),
            Fetched::Loading | Fetched::Failed => return None,
        };
        let card = column![
            row![
                text(file.name.as_str())
                    .size(text_size::EMPHASIS)
                    .width(Length::Fill),
                action_button("Close preview", ButtonShape::ROW, theme::secondary_button)
                    .on_press(Message::PreviewClosed),
            ]
            .spacing(gap::L)
            .align_y(Alignment::Center),
            container(shown).center_x(Length::Fill),
            muted("Preview made by the host; download the file for all of it.")
                .size(text_size::DETAIL),
        ]
        .spacing(gap::L)
        .padding(gap::XL)
        .width(preview::CARD_WIDTH);
        Some(container(card).style(theme::modal).into())
    }
}
