//! Transfers in progress: their model and the progress modal that lists them.

use std::time::{Duration, Instant};

use iced::widget::{column, container, progress_bar, row, scrollable, space, text};
use iced::{Alignment, Element, Length};

use super::theme::{self, gap, text_size};
use super::widgets::{ButtonShape, action_button, muted};
use crate::host::Direction;
use crate::participant::worker::{TransferEvent, TransferHandle, TransferId, TransferUpdate};
use crate::units::{format_duration, format_rate, format_size};

/// The widest the modal grows.
const MODAL_WIDTH: f32 = 620.0;
/// The thickness of a transfer's progress bar.
const BAR_GIRTH: f32 = 8.0;

/// One running transfer.
#[derive(Clone)]
struct Running {
    handle: TransferHandle,
    name: String,
    direction: Direction,
    done: u64,
    total: u64,
    /// When the bytes of this connection began to move: at the start, or when it resumed.
    started: Instant,
    /// Bytes done at `started` (those an earlier connection moved).
    done_before: u64,
    /// The connection was lost and the transfer is reconnecting.
    resuming: bool,
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
        format!(
            "{} of {} · {:.0}% · {}{eta}",
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
}

/// The transfers of one participant.
#[derive(Default, Clone)]
pub struct Transfers {
    running: Vec<Running>,
}

impl Transfers {
    /// Starts following a transfer.
    pub fn add(&mut self, handle: TransferHandle, name: String, direction: Direction, total: u64) {
        self.running.push(Running {
            handle,
            name,
            direction,
            done: 0,
            total,
            started: Instant::now(),
            done_before: 0,
            resuming: false,
        });
    }

    /// Applies a worker's event; returns the transfer if this was its end.
    pub fn apply(&mut self, event: TransferEvent) -> Option<Finished> {
        let index = self
            .running
            .iter()
            .position(|t| t.handle.id() == event.id)?;
        match event.update {
            TransferUpdate::Progress { done, total } => {
                let transfer = &mut self.running[index];
                transfer.done = done;
                transfer.total = total;
                transfer.resuming = false;
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
                Some(Finished {
                    name: transfer.name,
                    direction: transfer.direction,
                    outcome,
                })
            }
        }
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

    /// The progress modal's card: every running transfer with its bar and Cancel.
    pub fn view<'a, Message: Clone + 'a>(
        &'a self,
        cancel: impl Fn(TransferId) -> Message + 'a,
        hide: Message,
    ) -> Element<'a, Message> {
        let cards = self
            .running
            .iter()
            .map(|transfer| transfer.card(cancel(transfer.handle.id())));
        let title = match self.running.len() {
            1 => "1 transfer in progress".to_owned(),
            n => format!("{n} transfers in progress"),
        };
        container(
            column![
                row![
                    text(title).size(text_size::EMPHASIS).width(Length::Fill),
                    action_button("Hide", ButtonShape::COMPACT, theme::secondary_button)
                        .on_press(hide),
                ]
                .align_y(Alignment::Center),
                scrollable(column(cards).spacing(gap::M)).height(Length::Shrink),
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
