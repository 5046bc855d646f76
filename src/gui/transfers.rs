//! Transfers in progress and those that ended since the app started: their model, and the
//! modal that lists them (with Cancel, and Open / Show in folder for a finished download).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Local};
use iced::widget::{column, container, progress_bar, row, scrollable, space, text};
use iced::{Alignment, Element, Length};

use super::theme::{self, Tone, gap, text_size};
use super::widgets::{ButtonShape, action_button, muted};
use crate::host::Direction;
use crate::participant::worker::{TransferEvent, TransferHandle, TransferId, TransferUpdate};
use crate::protocol::FileId;
use crate::units::{format_duration, format_rate, format_size};

/// The widest the modal grows.
const MODAL_WIDTH: f32 = 620.0;
/// The thickness of a transfer's progress bar.
const BAR_GIRTH: f32 = 8.0;
/// Ended transfers remembered for the history (the oldest are forgotten).
const HISTORY_LENGTH: usize = 1000;
/// Ended transfers the modal lists (the newest).
const HISTORY_SHOWN: usize = 100;

/// One running transfer.
#[derive(Clone)]
struct Running {
    handle: TransferHandle,
    name: String,
    direction: Direction,
    /// The shared file a download fetches.
    file: Option<FileId>,
    done: u64,
    total: u64,
    /// When the bytes of this connection began to move: at the start, or when it resumed.
    started: Instant,
    /// Bytes done at `started` (those an earlier connection moved).
    done_before: u64,
    /// The connection was lost and the transfer is reconnecting.
    resuming: bool,
    /// A direct file whose sharer cannot be reached: the host relays its bytes.
    relayed: bool,
}

impl Running {
    /// Average speed since the start (or the last resume), in bytes per second.
    fn rate(&self) -> f64 {
        let seconds = self.started.elapsed().as_secs_f64();
        if seconds > 0.0 {
            self.done.saturating_sub(self.done_before) as f64 / seconds
        } else {
            0.0
        }
    }

    /// How long the rest should take at the average speed, once there is one.
    fn eta(&self) -> Option<Duration> {
        let rate = self.rate();
        (rate > 0.0 && self.done > self.done_before).then(|| {
            Duration::from_secs_f64((self.total - self.done.min(self.total)) as f64 / rate)
        })
    }

    /// How far along it is, from 0 to 100.
    fn percent(&self) -> f32 {
        if self.total == 0 {
            100.0
        } else {
            self.done as f32 / self.total as f32 * 100.0
        }
    }

    /// Bytes done of all, and the speed and time left (or that it is reconnecting).
    fn figures(&self) -> String {
        if self.resuming {
            return format!(
                "Resuming… (connection lost at {} of {})",
                format_size(self.done),
                format_size(self.total),
            );
        }
        let eta = self
            .eta()
            .map(|eta| format!(" · ETA {}", format_duration(eta)))
            .unwrap_or_default();
        let relayed = if self.relayed {
            " · relayed through the host"
        } else {
            ""
        };
        format!(
            "{} of {} · {:.0}% · {}{eta}{relayed}",
            format_size(self.done),
            format_size(self.total),
            self.percent(),
            format_rate(self.rate()),
        )
    }

    /// The transfer's card in the modal: what moves, its bar, its figures and Cancel.
    fn card<'a, Message: Clone + 'a>(&'a self, cancel: Message) -> Element<'a, Message> {
        let verb = match self.direction {
            Direction::Upload => "Uploading",
            Direction::Download => "Downloading",
        };
        container(
            column![
                row![
                    text(format!("{verb} {}", self.name))
                        .size(text_size::LARGE)
                        .width(Length::Fill),
                    action_button("Cancel", ButtonShape::COMPACT, theme::secondary_button)
                        .on_press(cancel),
                ]
                .spacing(gap::L)
                .align_y(Alignment::Center),
                progress_bar(0.0..=100.0, self.percent()).girth(BAR_GIRTH),
                muted(self.figures()).size(text_size::DETAIL),
            ]
            .spacing(gap::M),
        )
        .padding(gap::XL)
        .style(theme::card)
        .into()
    }
}

/// How a transfer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The file's name.
    pub name: String,
    /// Which way it moved.
    pub direction: Direction,
    /// Its last update (uploaded, downloaded, failed or cancelled).
    pub outcome: TransferUpdate,
    /// A direct file's download whose bytes the host relayed (its sharer was unreachable).
    pub relayed: bool,
    /// When it ended.
    pub at: DateTime<Local>,
}

impl Finished {
    /// Where a finished download was saved.
    pub fn saved_to(&self) -> Option<&Path> {
        match &self.outcome {
            TransferUpdate::Downloaded(path) => Some(path),
            _ => None,
        }
    }

    /// One line for the history: what happened, and why if it failed; a relayed download
    /// says so.
    pub fn describe(&self) -> String {
        let line = self.what_happened();
        if self.relayed {
            format!("{line} · relayed through the host")
        } else {
            line
        }
    }

    fn what_happened(&self) -> String {
        let name = &self.name;
        match (&self.outcome, self.direction) {
            (TransferUpdate::Uploaded(_), _) => format!("Shared {name}"),
            (TransferUpdate::Downloaded(path), _) => {
                format!("Saved {name} to {}", path.display())
            }
            (TransferUpdate::Cancelled, Direction::Upload) => format!("Cancelled sharing {name}"),
            (TransferUpdate::Cancelled, Direction::Download) => {
                format!("Cancelled downloading {name}")
            }
            (TransferUpdate::Failed(reason), Direction::Upload) => {
                format!("Could not share {name}: {reason}")
            }
            (TransferUpdate::Failed(reason), Direction::Download) => {
                format!("Could not download {name}: {reason}")
            }
            (other, _) => format!("{name}: {other:?}"),
        }
    }

    fn tone(&self) -> Option<Tone> {
        match self.outcome {
            TransferUpdate::Uploaded(_) | TransferUpdate::Downloaded(_) => Some(Tone::Success),
            TransferUpdate::Cancelled => None,
            _ => Some(Tone::Danger),
        }
    }
}

/// The messages the transfers modal sends.
#[derive(Debug, Clone)]
pub struct ModalMessages<Message> {
    /// Cancel this transfer.
    pub cancel: fn(TransferId) -> Message,
    /// Close the modal.
    pub hide: Message,
    /// Open this downloaded file.
    pub open: fn(PathBuf) -> Message,
    /// Show this downloaded file in its folder.
    pub reveal: fn(PathBuf) -> Message,
}

/// The transfers of one participant: running, and ended since the app started.
#[derive(Default, Clone)]
pub struct Transfers {
    running: Vec<Running>,
    history: Vec<Finished>,
}

impl Transfers {
    /// Starts following a transfer.
    pub fn add(&mut self, handle: TransferHandle, name: String, direction: Direction, total: u64) {
        self.follow(handle, name, direction, None, total);
    }

    /// Starts following the download of shared file `file`.
    pub fn add_download(&mut self, handle: TransferHandle, file: FileId, name: String, total: u64) {
        self.follow(handle, name, Direction::Download, Some(file), total);
    }

    fn follow(
        &mut self,
        handle: TransferHandle,
        name: String,
        direction: Direction,
        file: Option<FileId>,
        total: u64,
    ) {
        self.running.push(Running {
            handle,
            name,
            direction,
            file,
            done: 0,
            total,
            started: Instant::now(),
            done_before: 0,
            resuming: false,
            relayed: false,
        });
    }

    /// Applies a worker's event; returns the transfer if this was its end.
    pub fn apply(&mut self, event: TransferEvent) -> Option<Finished> {
        let index = self
            .running
            .iter()
            .position(|t| t.handle.id() == event.id)?;
        match event.update {
            TransferUpdate::Progress { done, total, .. } => {
                let transfer = &mut self.running[index];
                transfer.done = done;
                transfer.total = total;
                transfer.resuming = false;
                None
            }
            TransferUpdate::Relayed => {
                self.running[index].relayed = true;
                None
            }
            TransferUpdate::Resuming { done, total } => {
                let transfer = &mut self.running[index];
                transfer.done = done;
                transfer.total = total;
                transfer.resuming = true;
                // The speed counts only what the new connection moves.
                transfer.started = Instant::now();
                transfer.done_before = done;
                None
            }
            outcome => {
                let transfer = self.running.remove(index);
                let finished = Finished {
                    name: transfer.name,
                    direction: transfer.direction,
                    outcome,
                    relayed: transfer.relayed,
                    at: Local::now(),
                };
                self.history.push(finished.clone());
                if self.history.len() > HISTORY_LENGTH {
                    self.history.remove(0);
                }
                Some(finished)
            }
        }
    }

    /// How far the download of shared file `file` is (0 to 100), while it runs.
    pub fn download_percent(&self, file: FileId) -> Option<f32> {
        self.running
            .iter()
            .find(|t| t.file == Some(file))
            .map(Running::percent)
    }

    /// The transfers that ended since the app started, oldest first.
    pub fn history(&self) -> &[Finished] {
        &self.history
    }

    /// Cancels one transfer (its end arrives as an event).
    pub fn cancel(&self, id: TransferId) {
        if let Some(transfer) = self.running.iter().find(|t| t.handle.id() == id) {
            transfer.handle.cancel();
        }
    }

    /// Cancels every transfer (when leaving).
    pub fn cancel_all(&self) {
        for transfer in &self.running {
            transfer.handle.cancel();
        }
    }

    /// How many are running.
    pub fn len(&self) -> usize {
        self.running.len()
    }

    /// True if none is running.
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// The modal's card: every running transfer with its bar and Cancel, then the history
    /// of those that ended (newest first), a finished download with Open and Show in folder.
    pub fn view<'a, Message: Clone + 'a>(
        &'a self,
        messages: ModalMessages<Message>,
    ) -> Element<'a, Message> {
        let cards = self
            .running
            .iter()
            .map(|transfer| transfer.card((messages.cancel)(transfer.handle.id())));
        let title = match self.running.len() {
            0 => "Transfers".to_owned(),
            1 => "1 transfer in progress".to_owned(),
            n => format!("{n} transfers in progress"),
        };
        let history = (!self.history.is_empty()).then(|| {
            column![
                muted("Since the app started").size(text_size::DETAIL),
                column(
                    self.history
                        .iter()
                        .rev()
                        .take(HISTORY_SHOWN)
                        .map(|finished| history_line(finished, &messages)),
                )
                .spacing(gap::S),
            ]
            .spacing(gap::M)
        });
        container(
            column![
                row![
                    text(title).size(text_size::EMPHASIS).width(Length::Fill),
                    action_button("Hide", ButtonShape::COMPACT, theme::secondary_button)
                        .on_press(messages.hide.clone()),
                ]
                .align_y(Alignment::Center),
                scrollable(column(cards).spacing(gap::M).push(history).spacing(gap::XL))
                    .height(Length::Shrink),
                space().height(gap::XS),
            ]
            .spacing(gap::XL),
        )
        .padding(gap::XXXL)
        .max_width(MODAL_WIDTH)
        .style(theme::modal)
        .into()
    }
}

/// One ended transfer: when, what happened, and for a saved file Open and Show in folder.
fn history_line<'a, Message: Clone + 'a>(
    finished: &'a Finished,
    messages: &ModalMessages<Message>,
) -> Element<'a, Message> {
    let when = finished.at.format("%H:%M:%S").to_string();
    let mut line = row![
        muted(when).size(text_size::DETAIL),
        text(finished.describe())
            .size(text_size::DETAIL)
            .style(theme::history_text(finished.tone()))
            .width(Length::Fill),
    ]
    .spacing(gap::M)
    .align_y(Alignment::Center);
    if let Some(path) = finished.saved_to() {
        line = line
            .push(
                action_button("Open", ButtonShape::COMPACT, theme::secondary_button)
                    .on_press((messages.open)(path.to_path_buf())),
            )
            .push(
                action_button(
                    "Show in folder",
                    ButtonShape::COMPACT,
                    theme::secondary_button,
                )
                .on_press((messages.reveal)(path.to_path_buf())),
            );
    }
    line.into()
}
