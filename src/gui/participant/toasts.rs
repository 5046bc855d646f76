//! Toasts: short messages that float over the bottom of the screen without moving what is
//! under them. Good news and neutral ones go away by themselves after a few seconds; errors
//! and warnings stay until closed. The same message again is counted ("×3"), not repeated.
//!
//! Time is passed in, so the model is tested without waiting.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use iced::widget::{column, container, row, text};
use iced::{Alignment, Element, Length};

use crate::gui::theme::{self, Tone, gap, list, text_size};
use crate::gui::widgets::{ButtonShape, action_button};

/// How long a toast that goes away by itself stays (from its last repetition).
pub const TOAST_LIFETIME: Duration = Duration::from_secs(5);

/// What a toast says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Neither good nor bad ("Cancelled"): goes away by itself.
    Neutral,
    /// Good news ("Deleted notes.txt"): goes away by itself.
    Success,
    /// Worth reading ("The host restarted…"): stays until closed.
    Warning,
    /// Something failed: stays until closed.
    Error,
}

impl Kind {
    fn lasts(self) -> bool {
        matches!(self, Self::Warning | Self::Error)
    }

    fn tone(self) -> Option<Tone> {
        match self {
            Self::Neutral => None,
            Self::Success => Some(Tone::Success),
            Self::Warning => Some(Tone::Warning),
            Self::Error => Some(Tone::Danger),
        }
    }
}

/// What a toast's button beside × does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToastAction {
    /// "Share directly instead": shares this file from this computer.
    ShareDirectly(PathBuf),
}

impl ToastAction {
    /// The button's label.
    fn label(&self) -> &'static str {
        match self {
            Self::ShareDirectly(_) => "Share directly instead",
        }
    }
}

/// One toast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toast {
    /// Its id, for closing it.
    pub id: u64,
    /// What kind it is.
    pub kind: Kind,
    /// What it says.
    pub text: String,
    /// How many times it was said (shown as "×N" from 2 on).
    pub count: u32,
    /// What its button beside × does, if it has one.
    pub action: Option<ToastAction>,
    /// When it goes away by itself (never for warnings and errors).
    expires: Option<Instant>,
}

/// The toasts on show, oldest first.
#[derive(Debug, Default)]
pub struct Toasts {
    shown: Vec<Toast>,
    next_id: u64,
}

impl Toasts {
    /// Shows `text`, or counts it again if it is already on show (and keeps it longer).
    pub fn push(&mut self, kind: Kind, text: impl Into<String>, now: Instant) {
        self.show(kind, text.into(), None, now);
    }

    /// Shows `text` with a button that does `action` (or counts it again, as [`Self::push`]).
    pub fn push_with_action(
        &mut self,
        kind: Kind,
        text: impl Into<String>,
        action: ToastAction,
        now: Instant,
    ) {
        self.show(kind, text.into(), Some(action), now);
    }

    fn show(&mut self, kind: Kind, text: String, action: Option<ToastAction>, now: Instant) {
        let expires = (!kind.lasts()).then(|| now + TOAST_LIFETIME);
        if let Some(toast) = self
            .shown
            .iter_mut()
            .find(|t| t.kind == kind && t.text == text && t.action == action)
        {
            toast.count += 1;
            toast.expires = expires;
            return;
        }
        self.shown.push(Toast {
            id: self.next_id,
            kind,
            text,
            count: 1,
            action,
            expires,
        });
        self.next_id += 1;
        if self.shown.len() > list::MAX_TOASTS {
            // The oldest that would go away anyway makes room, else the oldest.
            let oldest = self
                .shown
                .iter()
                .position(|t| t.expires.is_some())
                .unwrap_or(0);
            self.shown.remove(oldest);
        }
    }

    /// Removes the toasts whose time is up at `now`.
    pub fn expire(&mut self, now: Instant) {
        self.shown
            .retain(|toast| toast.expires.is_none_or(|expires| expires > now));
    }

    /// Closes one toast.
    pub fn dismiss(&mut self, id: u64) {
        self.shown.retain(|toast| toast.id != id);
    }

    /// The toasts on show, oldest first.
    #[cfg(test)]
    fn shown(&self) -> &[Toast] {
        &self.shown
    }

    /// Draws the toasts one above another (the newest at the bottom), each with × (and its
    /// action's button, which sends what `act` makes of it).
    pub fn view<'a, Message: Clone + 'a>(
        &'a self,
        dismiss: impl Fn(u64) -> Message,
        act: impl Fn(&ToastAction) -> Message,
    ) -> Element<'a, Message> {
        column(self.shown.iter().map(|toast| {
            let label = if toast.count > 1 {
                format!("{} (×{})", toast.text, toast.count)
            } else {
                toast.text.clone()
            };
            container(
                row![text(label).size(text_size::BODY).width(Length::Fill)]
                    .push(toast.action.as_ref().map(|action| {
                        action_button(action.label(), ButtonShape::COMPACT, theme::primary_button)
                            .on_press(act(action))
                    }))
                    .push(
                        action_button("×", ButtonShape::DISMISS, theme::secondary_button)
                            .on_press(dismiss(toast.id)),
                    )
                    .align_y(Alignment::Center)
                    .spacing(gap::M),
            )
            .padding([gap::S, gap::L])
            .width(Length::Fill)
            .style(theme::toast(toast.kind.tone()))
            .into()
        }))
        .spacing(gap::S)
        .max_width(list::TOAST_WIDTH)
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(toasts: &Toasts) -> Vec<(&str, u32)> {
        toasts
            .shown()
            .iter()
            .map(|t| (t.text.as_str(), t.count))
            .collect()
    }

    #[test]
    fn good_news_goes_away_by_itself_and_errors_stay_until_closed() {
        let start = Instant::now();
        let mut toasts = Toasts::default();
        toasts.push(Kind::Success, "Deleted a.txt", start);
        toasts.push(Kind::Neutral, "Cancelled", start);
        toasts.push(Kind::Error, "Could not delete", start);
        toasts.expire(start + TOAST_LIFETIME - Duration::from_millis(1));
        assert_eq!(toasts.shown().len(), 3);
        toasts.expire(start + TOAST_LIFETIME + Duration::from_secs(60));
        assert_eq!(texts(&toasts), [("Could not delete", 1)]);
        let id = toasts.shown()[0].id;
        toasts.dismiss(id);
        assert!(toasts.shown().is_empty());
    }

    #[test]
    fn the_same_message_is_counted_not_repeated_and_lives_on() {
        let start = Instant::now();
        let mut toasts = Toasts::default();
        toasts.push(Kind::Neutral, "No save dialog", start);
        let later = start + Duration::from_secs(4);
        toasts.push(Kind::Neutral, "No save dialog", later);
        toasts.push(Kind::Neutral, "No save dialog", later);
        assert_eq!(texts(&toasts), [("No save dialog", 3)]);
        toasts.expire(start + TOAST_LIFETIME + Duration::from_secs(1));
        assert_eq!(
            toasts.shown().len(),
            1,
            "its time restarted when said again"
        );
    }

    #[test]
    fn at_most_a_few_show_and_a_passing_one_makes_room_before_an_error() {
        let now = Instant::now();
        let mut toasts = Toasts::default();
        toasts.push(Kind::Error, "error", now);
        for n in 0..list::MAX_TOASTS {
            toasts.push(Kind::Success, format!("saved {n}"), now);
        }
        assert_eq!(toasts.shown().len(), list::MAX_TOASTS);
        assert_eq!(toasts.shown()[0].text, "error");
        assert_eq!(toasts.shown()[1].text, "saved 1");
    }
}
