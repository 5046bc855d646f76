//! Transfers in progress: their model and the progress modal that lists them.

use std::time::{Duration, Instant};

use iced::widget::{button, column, container, progress_bar, row, scrollable, space, text};
use iced::{Alignment, Element, Length};

use super::theme;
use crate::participant::worker::{TransferEvent, TransferHandle, TransferId, TransferUpdate};
use crate::units::{format_duration, format_rate, format_size};

/// Which way a transfer moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// To the host.
    Upload,
    /// From the host.
    Download,
}

/// One running transfer.
#[derive(Clone)]
struct Running {
    handle: TransferHandle,
    name: String,
    way: Way,
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

    fn eta(&self) -> Option<Duration> {
        let rate = self.rate();
        (rate > 0.0 && self.done > self.done_before).then(|| {
            Duration::from_secs_f64((self.total - self.done.min(self.total)) as f64 / rate)
        })
    }
}

/// How a transfer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The file's name.
    pub name: String,
    /// Which way it moved.
    pub way: Way,
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
    pub fn add(&mut self, handle: TransferHandle, name: String, way: Way, total: u64) {
        self.running.push(Running {
            handle,
            name,
            way,
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
                    way: transfer.way,
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
        let rows = self.running.iter().map(|transfer| {
            let percent = if transfer.total == 0 {
                100.0
            } else {
                transfer.done as f32 / transfer.total as f32 * 100.0
            };
            let arrow = match transfer.way {
                Way::Upload => "Uploading",
                Way::Download => "Downloading",
            };
            let eta = transfer
                .eta()
                .map(|eta| format!(" · ETA {}", format_duration(eta)))
                .unwrap_or_default();
            let figures = if transfer.resuming {
                format!(
                    "Resuming… (connection lost at {} of {})",
                    format_size(transfer.done),
                    format_size(transfer.total),
                )
            } else {
                format!(
                    "{} of {} · {percent:.0}% · {}{eta}",
                    format_size(transfer.done),
                    format_size(transfer.total),
                    format_rate(transfer.rate()),
                )
            };
            container(
                column![
                    row![
                        text(format!("{arrow} {}", transfer.name))
                            .size(15)
                            .width(Length::Fill),
                        button(text("Cancel").size(13))
                            .padding([4, 10])
                            .style(theme::secondary_button)
                            .on_press(cancel(transfer.handle.id())),
                    ]
                    .spacing(10)
                    .align_y(Alignment::Center),
                    progress_bar(0.0..=100.0, percent).girth(8),
                    text(figures).size(13).color(theme::MUTED),
                ]
                .spacing(8),
            )
            .padding(12)
            .style(theme::card)
            .into()
        });
        let title = match self.running.len() {
            1 => "1 transfer in progress".to_owned(),
            n => format!("{n} transfers in progress"),
        };
        container(
            column![
                row![
                    text(title).size(18).width(Length::Fill),
                    button(text("Hide").size(13))
                        .padding([4, 10])
                        .style(theme::secondary_button)
                        .on_press(hide),
                ]
                .align_y(Alignment::Center),
                scrollable(column(rows).spacing(8)).height(Length::Shrink),
                space().height(4),
            ]
            .spacing(12),
        )
        .padding(20)
        .max_width(620)
        .style(theme::modal)
        .into()
    }
}
