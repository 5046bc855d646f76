//! The app's look, in one place: the seed's dark palette and the styles built on it.

use iced::widget::{button, container, text_input};
use iced::{Background, Border, Color, Theme, color};

/// Window background.
pub const BACKGROUND: Color = color!(0x202124);
/// Cards and panels (the seed's file items).
pub const CARD: Color = color!(0x2d2d30);
/// Cards under the pointer.
pub const CARD_HOVER: Color = color!(0x3c4043);
/// Main text.
pub const TEXT: Color = color!(0xe8eaed);
/// Secondary text: sizes, uploaders, hints.
pub const MUTED: Color = color!(0x9aa0a6);
/// Buttons and links (the seed's download button).
pub const PRIMARY: Color = color!(0x1a73e8);
/// Buttons and links under the pointer.
pub const PRIMARY_HOVER: Color = color!(0x1557b0);
/// Good news: connected, saved.
pub const SUCCESS: Color = color!(0x34a853);
/// Attention: reconnecting.
pub const WARNING: Color = color!(0xfbbc04);
/// Bad news and destructive actions.
pub const DANGER: Color = color!(0xea4335);

/// The app's theme.
pub fn theme() -> Theme {
    Theme::custom(
        "lanshare dark",
        iced::theme::Palette {
            background: BACKGROUND,
            text: TEXT,
            primary: PRIMARY,
            success: SUCCESS,
            warning: WARNING,
            danger: DANGER,
        },
    )
}

fn rounded(radius: f32) -> Border {
    Border {
        radius: radius.into(),
        ..Border::default()
    }
}

/// A file row or panel.
pub fn card(_: &Theme) -> container::Style {
    container::Style {
        background: Some(Background::Color(CARD)),
        border: rounded(8.0),
        text_color: Some(TEXT),
        ..container::Style::default()
    }
}

/// A banner in `color` (connection lost, notices).
pub fn banner(color: Color) -> impl Fn(&Theme) -> container::Style {
    move |_| container::Style {
        background: Some(Background::Color(Color { a: 0.18, ..color })),
        border: Border {
            color,
            width: 1.0,
            radius: 6.0.into(),
        },
        text_color: Some(TEXT),
        ..container::Style::default()
    }
}

/// A modal card (the transfers list).
pub fn modal(_: &Theme) -> container::Style {
    container::Style {
        background: Some(Background::Color(BACKGROUND)),
        border: Border {
            color: CARD_HOVER,
            width: 1.0,
            radius: 10.0.into(),
        },
        text_color: Some(TEXT),
        ..container::Style::default()
    }
}

/// The dimmed backdrop behind a modal.
pub fn backdrop(_: &Theme) -> container::Style {
    container::Style {
        background: Some(Background::Color(Color {
            a: 0.7,
            ..Color::BLACK
        })),
        ..container::Style::default()
    }
}

fn filled(base: Color, hover: Color, status: button::Status) -> button::Style {
    let background = match status {
        button::Status::Hovered | button::Status::Pressed => hover,
        button::Status::Active => base,
        button::Status::Disabled => Color { a: 0.4, ..base },
    };
    button::Style {
        background: Some(Background::Color(background)),
        text_color: Color::WHITE,
        border: rounded(4.0),
        ..button::Style::default()
    }
}

/// The main action: Download, Upload, Connect.
pub fn primary_button(_: &Theme, status: button::Status) -> button::Style {
    filled(PRIMARY, PRIMARY_HOVER, status)
}

/// A destructive action: Delete, Stop hosting.
pub fn danger_button(_: &Theme, status: button::Status) -> button::Style {
    filled(DANGER, color!(0xc5221f), status)
}

/// A quiet action: Cancel, Copy, Hide.
pub fn secondary_button(_: &Theme, status: button::Status) -> button::Style {
    let mut style = filled(CARD_HOVER, color!(0x5f6368), status);
    style.text_color = TEXT;
    style
}

/// A choice that can be selected (Host / Participant on the start screen).
pub fn choice_button(selected: bool) -> impl Fn(&Theme, button::Status) -> button::Style {
    move |_, status| {
        let background = match (selected, status) {
            (true, _) => Color { a: 0.25, ..PRIMARY },
            (false, button::Status::Hovered) => CARD_HOVER,
            (false, _) => CARD,
        };
        button::Style {
            background: Some(Background::Color(background)),
            text_color: TEXT,
            border: Border {
                color: if selected { PRIMARY } else { CARD_HOVER },
                width: 2.0,
                radius: 8.0.into(),
            },
            ..button::Style::default()
        }
    }
}

/// Text fields on the dark background.
pub fn input(theme: &Theme, status: text_input::Status) -> text_input::Style {
    let mut style = text_input::default(theme, status);
    style.background = Background::Color(CARD);
    style.border = Border {
        color: match status {
            text_input::Status::Focused { .. } => PRIMARY,
            _ => CARD_HOVER,
        },
        width: 1.0,
        radius: 4.0.into(),
    };
    style
}
