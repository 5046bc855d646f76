//! Small building blocks every screen draws with: muted text and action buttons in the
//! theme's sizes and styles.

use iced::widget::text::IntoFragment;
use iced::widget::{Button, Text, button, text};
use iced::{Padding, Theme};

use super::theme::{self, text_size};

/// Secondary text (sizes, uploaders, hints) in the theme's muted colour.
pub fn muted<'a>(content: impl IntoFragment<'a>) -> Text<'a> {
    text(content).style(theme::muted_text)
}

/// How big an action button is: its label's size and the padding around it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ButtonShape {
    text_size: f32,
    padding: Padding,
}

impl ButtonShape {
    /// The start screen's main action (Connect, Start hosting).
    pub const MAIN: Self = Self::new(text_size::NAME, 10.0, 24.0);
    /// A screen header's actions (Upload files, Leave, Stop hosting).
    pub const HEADER: Self = Self::new(text_size::LARGE, 8.0, 16.0);
    /// A file's actions (Download, Delete).
    pub const ROW: Self = Self::new(text_size::BODY, 8.0, 16.0);
    /// The button that shows hidden transfers again, floating in a corner.
    pub const FLOATING: Self = Self::new(text_size::BODY, 8.0, 14.0);
    /// An action inside a card in a card (Join a host found on the network).
    pub const INLINE: Self = Self::new(text_size::BODY, 6.0, 16.0);
    /// The transfers modal's actions (Cancel, Hide).
    pub const COMPACT: Self = Self::new(text_size::DETAIL, 4.0, 10.0);
    /// Closing a notice (×).
    pub const DISMISS: Self = Self::new(text_size::BODY, 2.0, 8.0);
    /// The smallest action, beside what it acts on (Copy an address).
    pub const TINY: Self = Self::new(text_size::SMALL, 3.0, 8.0);
    /// An action inside a banner (Back to start): Iced's own padding, and its default text
    /// size, which names have too.
    pub const BANNER: Self = Self {
        text_size: text_size::NAME,
        padding: button::DEFAULT_PADDING,
    };

    const fn new(text_size: f32, vertical: f32, horizontal: f32) -> Self {
        Self {
            text_size,
            padding: Padding {
                top: vertical,
                right: horizontal,
                bottom: vertical,
                left: horizontal,
            },
        }
    }
}

/// A button labelled `label`, shaped by `shape` and drawn by `style` (one of the theme's
/// button styles); it does nothing until given `on_press`.
pub fn action_button<'a, Message: 'a>(
    label: impl IntoFragment<'a>,
    shape: ButtonShape,
    style: impl Fn(&Theme, button::Status) -> button::Style + 'a,
) -> Button<'a, Message> {
    button(text(label).size(shape.text_size))
        .padding(shape.padding)
        .style(style)
}

/// A small closed lock, drawn beside what is encrypted (the fonts have no lock glyph).
pub fn lock<'a, Message: 'a>() -> iced::Element<'a, Message> {
    use iced::widget::{column, container, space};
    use theme::lock::{BODY_HEIGHT, BODY_WIDTH, SHACKLE_HEIGHT, SHACKLE_WIDTH};
    column![
        container(space().width(SHACKLE_WIDTH).height(SHACKLE_HEIGHT)).style(theme::lock_shackle),
        container(space().width(BODY_WIDTH).height(BODY_HEIGHT)).style(theme::lock_body),
    ]
    .align_x(iced::Alignment::Center)
    .into()
}

/// An action button `width` wide with its label centred, so buttons line up from row to row.
pub fn fixed_button<'a, Message: 'a>(
    label: impl IntoFragment<'a>,
    shape: ButtonShape,
    width: f32,
    style: impl Fn(&Theme, button::Status) -> button::Style + 'a,
) -> Button<'a, Message> {
    button(
        text(label)
            .size(shape.text_size)
            .width(iced::Length::Fill)
            .align_x(iced::Alignment::Center),
    )
    .padding(shape.padding)
    .width(width)
    .style(style)
}

/// `content` with a ring around it while the keyboard is on it.
pub fn ringed<'a, Message: 'a>(
    content: impl Into<iced::Element<'a, Message>>,
    focused: bool,
) -> iced::Element<'a, Message> {
    iced::widget::container(content)
        .padding(theme::FOCUS_RING_GAP)
        .style(theme::focus_ring(focused))
        .into()
}
