//! The app's look, in one place: its palette, the sizes every view uses, and the styles built
//! on them. Every style reads its colours from the [`Theme`] it is given (through
//! [`palette`]), so another theme is one more [`Palette`] away.

use iced::overlay::menu;
use iced::theme::{Base, Mode};
use iced::widget::pick_list as drop_down;
use iced::widget::{button, container, text, text_input};
use iced::{Background, Border, Color, Theme, color};

use crate::config::ThemeChoice;

/// Every colour the app draws with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Palette {
    /// The theme's name, by which [`palette`] finds the palette of a [`Theme`].
    pub name: &'static str,
    /// Window background.
    pub background: Color,
    /// Cards and panels (the seed's file items).
    pub card: Color,
    /// Cards under the pointer, and cards inside cards.
    pub card_hover: Color,
    /// Main text.
    pub text: Color,
    /// Secondary text: sizes, uploaders, hints.
    pub muted: Color,
    /// Buttons and links (the seed's download button).
    pub primary: Color,
    /// Buttons and links under the pointer.
    pub primary_hover: Color,
    /// Quiet buttons under the pointer.
    pub secondary_hover: Color,
    /// Good news: connected, saved.
    pub success: Color,
    /// Attention: reconnecting.
    pub warning: Color,
    /// Bad news and destructive actions.
    pub danger: Color,
    /// Destructive actions under the pointer.
    pub danger_hover: Color,
    /// Labels on filled buttons (primary, danger).
    pub filled_text: Color,
    /// The dimming behind a modal.
    pub backdrop: Color,
}

/// The seed's dark palette: light text on dark grey.
pub const DARK: Palette = Palette {
    name: "lanshare dark",
    background: color!(0x202124),
    card: color!(0x2d2d30),
    card_hover: color!(0x3c4043),
    text: color!(0xe8eaed),
    muted: color!(0x9aa0a6),
    primary: color!(0x1a73e8),
    primary_hover: color!(0x1557b0),
    secondary_hover: color!(0x5f6368),
    success: color!(0x34a853),
    warning: color!(0xfbbc04),
    danger: color!(0xea4335),
    danger_hover: color!(0xc5221f),
    filled_text: Color::WHITE,
    backdrop: Color {
        a: 0.7,
        ..Color::BLACK
    },
};

/// The light palette: dark text on white cards over a pale grey, with the status colours
/// darkened enough to read on it.
pub const LIGHT: Palette = Palette {
    name: "lanshare light",
    background: color!(0xf1f3f4),
    card: color!(0xffffff),
    card_hover: color!(0xe3e5e8),
    text: color!(0x202124),
    muted: color!(0x5f6368),
    primary: color!(0x1a73e8),
    primary_hover: color!(0x1557b0),
    secondary_hover: color!(0xc8cbcf),
    success: color!(0x188038),
    warning: color!(0xb06000),
    danger: color!(0xd93025),
    danger_hover: color!(0xa50e0e),
    filled_text: Color::WHITE,
    backdrop: Color {
        a: 0.45,
        ..Color::BLACK
    },
};

/// Every palette the app knows, found by their theme's name.
const PALETTES: [&Palette; 2] = [&DARK, &LIGHT];

/// The palette `theme` was made from ([`DARK`] for a theme the app did not make).
pub fn palette(theme: &Theme) -> &'static Palette {
    PALETTES
        .into_iter()
        .find(|palette| palette.name == theme.name())
        .unwrap_or(&DARK)
}

impl Palette {
    /// The Iced theme drawn in this palette.
    pub fn theme(&self) -> Theme {
        Theme::custom(
            self.name,
            iced::theme::Palette {
                background: self.background,
                text: self.text,
                primary: self.primary,
                success: self.success,
                warning: self.warning,
                danger: self.danger,
            },
        )
    }

    /// The colour that says `tone`.
    pub fn tone(&self, tone: Tone) -> Color {
        match tone {
            Tone::Success => self.success,
            Tone::Warning => self.warning,
            Tone::Danger => self.danger,
        }
    }
}

/// What a status colour says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Good news.
    Success,
    /// Attention.
    Warning,
    /// Bad news.
    Danger,
}

/// Text sizes, largest first.
pub mod text_size {
    /// The app's name on the start screen.
    pub const BRAND: f32 = 32.0;
    /// The hint over the window while files are dragged over it.
    pub const OVERLAY: f32 = 26.0;
    /// A screen's title.
    pub const TITLE: f32 = 24.0;
    /// Headings: the start screen's modes, an empty list's message.
    pub const HEADING: f32 = 20.0;
    /// Lines to stand out: the addresses to type, the transfers modal's title.
    pub const EMPHASIS: f32 = 18.0;
    /// Names of files and hosts, the start screen's main button.
    pub const NAME: f32 = 16.0;
    /// Header buttons, the start screen's tagline, names of transfers.
    pub const LARGE: f32 = 15.0;
    /// Body text, field labels and most buttons.
    pub const BODY: f32 = 14.0;
    /// Details under a name, small buttons.
    pub const DETAIL: f32 = 13.0;
    /// The smallest buttons.
    pub const SMALL: f32 = 12.0;
    /// The label of a file-type badge.
    pub const BADGE: f32 = 10.0;
}

/// Gaps between elements and padding inside them: a scale, smallest first, then two gaps
/// of their own.
pub mod gap {
    /// A name over its details, inside a card in a card.
    pub const XXS: f32 = 2.0;
    /// A title over its status line, a name over its details.
    pub const XS: f32 = 4.0;
    /// A label and what it labels.
    pub const S: f32 = 6.0;
    /// Items of a list, lines of a panel.
    pub const M: f32 = 8.0;
    /// Controls side by side; padding of banners, fields and cards in cards.
    pub const L: f32 = 10.0;
    /// Sections of a screen; padding of a list's cards.
    pub const XL: f32 = 12.0;
    /// A screen's margin; padding of panels.
    pub const XXL: f32 = 16.0;
    /// Parts of a form; padding of the modal and around cards.
    pub const XXXL: f32 = 20.0;
    /// Between the addresses participants can type, so each reads as one.
    pub const ADDRESSES: f32 = 18.0;
    /// Padding of the start screen's card.
    pub const START_CARD: f32 = 24.0;
}

/// The widest the start screen's card grows.
pub const START_CARD_WIDTH: f32 = 560.0;

/// The tallest the Host screen's details grow before they scroll.
pub const HOST_DETAILS_HEIGHT: f32 = 160.0;

/// The thickness of a transfer's progress bar on the Host screen (thinner than a
/// participant's own).
pub const SERVED_BAR_GIRTH: f32 = 6.0;

/// Corner radii, smallest first.
pub mod radius {
    /// Buttons and text fields.
    pub const CONTROL: f32 = 4.0;
    /// Banners and cards inside cards.
    pub const INSET: f32 = 6.0;
    /// Cards and the start screen's modes.
    pub const CARD: f32 = 8.0;
    /// The transfers modal.
    pub const MODAL: f32 = 10.0;
    /// Category and tag chips: round ends.
    pub const CHIP: f32 = 12.0;
}

/// The app's theme for `choice`; following the system, `system` says what the desktop
/// prefers (dark when it says nothing).
pub fn theme(choice: ThemeChoice, system: Mode) -> Theme {
    let palette = match (choice, system) {
        (ThemeChoice::Light, _) | (ThemeChoice::System, Mode::Light) => &LIGHT,
        (ThemeChoice::Dark, _) | (ThemeChoice::System, Mode::Dark | Mode::None) => &DARK,
    };
    palette.theme()
}

fn rounded(radius: f32) -> Border {
    Border {
        radius: radius.into(),
        ..Border::default()
    }
}

/// A file row or panel.
pub fn card(theme: &Theme) -> container::Style {
    let palette = palette(theme);
    container::Style {
        background: Some(Background::Color(palette.card)),
        border: rounded(radius::CARD),
        text_color: Some(palette.text),
        ..container::Style::default()
    }
}

/// A card inside a card (a host found on the network).
pub fn card_raised(theme: &Theme) -> container::Style {
    let palette = palette(theme);
    container::Style {
        background: Some(Background::Color(palette.card_hover)),
        border: rounded(radius::INSET),
        text_color: Some(palette.text),
        ..container::Style::default()
    }
}

/// A banner in the colour of `tone` (connection lost, notices).
pub fn banner(tone: Tone) -> impl Fn(&Theme) -> container::Style {
    move |theme| {
        let palette = palette(theme);
        let color = palette.tone(tone);
        container::Style {
            background: Some(Background::Color(Color { a: 0.18, ..color })),
            border: Border {
                color,
                width: 1.0,
                radius: radius::INSET.into(),
            },
            text_color: Some(palette.text),
            ..container::Style::default()
        }
    }
}

/// A modal card (the transfers list).
pub fn modal(theme: &Theme) -> container::Style {
    let palette = palette(theme);
    container::Style {
        background: Some(Background::Color(palette.background)),
        border: Border {
            color: palette.card_hover,
            width: 1.0,
            radius: radius::MODAL.into(),
        },
        text_color: Some(palette.text),
        ..container::Style::default()
    }
}

/// The dimmed backdrop behind a modal.
pub fn backdrop(theme: &Theme) -> container::Style {
    container::Style {
        background: Some(Background::Color(palette(theme).backdrop)),
        ..container::Style::default()
    }
}

/// Secondary text: sizes, uploaders, hints.
pub fn muted_text(theme: &Theme) -> text::Style {
    text::Style {
        color: Some(palette(theme).muted),
    }
}

/// Text in the colour of `tone` (a status dot, a warning).
pub fn toned_text(tone: Tone) -> impl Fn(&Theme) -> text::Style {
    move |theme| text::Style {
        color: Some(palette(theme).tone(tone)),
    }
}

/// A button filled with `base` (`hover` under the pointer), labelled in `text`.
fn filled(base: Color, hover: Color, text: Color, status: button::Status) -> button::Style {
    let background = match status {
        button::Status::Hovered | button::Status::Pressed => hover,
        button::Status::Active => base,
        button::Status::Disabled => Color { a: 0.4, ..base },
    };
    button::Style {
        background: Some(Background::Color(background)),
        text_color: text,
        border: rounded(radius::CONTROL),
        ..button::Style::default()
    }
}

/// The main action: Download, Upload, Connect.
pub fn primary_button(theme: &Theme, status: button::Status) -> button::Style {
    let palette = palette(theme);
    filled(
        palette.primary,
        palette.primary_hover,
        palette.filled_text,
        status,
    )
}

/// A destructive action: Delete, Stop hosting.
pub fn danger_button(theme: &Theme, status: button::Status) -> button::Style {
    let palette = palette(theme);
    filled(
        palette.danger,
        palette.danger_hover,
        palette.filled_text,
        status,
    )
}

/// A quiet action: Cancel, Copy, Hide.
pub fn secondary_button(theme: &Theme, status: button::Status) -> button::Style {
    let palette = palette(theme);
    filled(
        palette.card_hover,
        palette.secondary_hover,
        palette.text,
        status,
    )
}

/// A choice that can be selected (Host / Participant on the start screen).
pub fn choice_button(selected: bool) -> impl Fn(&Theme, button::Status) -> button::Style {
    move |theme, status| {
        let palette = palette(theme);
        let background = match (selected, status) {
            (true, _) => Color {
                a: 0.25,
                ..palette.primary
            },
            (false, button::Status::Hovered) => palette.card_hover,
            (false, _) => palette.card,
        };
        button::Style {
            background: Some(Background::Color(background)),
            text_color: palette.text,
            border: Border {
                color: if selected {
                    palette.primary
                } else {
                    palette.card_hover
                },
                width: 2.0,
                radius: radius::CARD.into(),
            },
            ..button::Style::default()
        }
    }
}

/// Text fields on the dark background.
pub fn input(theme: &Theme, status: text_input::Status) -> text_input::Style {
    let palette = palette(theme);
    let mut style = text_input::default(theme, status);
    style.background = Background::Color(palette.card);
    style.border = Border {
        color: match status {
            text_input::Status::Focused { .. } => palette.primary,
            _ => palette.card_hover,
        },
        width: 1.0,
        radius: radius::CONTROL.into(),
    };
    style
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_choice_draws_in_its_palette_and_the_system_defaults_to_dark() {
        let dark = theme(ThemeChoice::Dark, Mode::Light);
        assert_eq!(palette(&dark), &DARK);
        assert_eq!(dark.palette().background, DARK.background);
        assert_eq!(palette(&theme(ThemeChoice::Light, Mode::Dark)), &LIGHT);
        assert_eq!(palette(&theme(ThemeChoice::System, Mode::Light)), &LIGHT);
        assert_eq!(palette(&theme(ThemeChoice::System, Mode::Dark)), &DARK);
        assert_eq!(palette(&theme(ThemeChoice::System, Mode::None)), &DARK);
    }
}

/// The sizes of the lock drawn beside an encrypted connection.
pub mod lock {
    /// Width of the lock's body.
    pub const BODY_WIDTH: f32 = 10.0;
    /// Height of the lock's body.
    pub const BODY_HEIGHT: f32 = 7.0;
    /// Width of the shackle (the bow above the body).
    pub const SHACKLE_WIDTH: f32 = 7.0;
    /// Height of the shackle.
    pub const SHACKLE_HEIGHT: f32 = 5.0;
    /// Thickness of the shackle's line.
    pub const STROKE: f32 = 1.5;
}

/// The bow of the lock: an outline in the success colour, round on top.
pub fn lock_shackle(theme: &Theme) -> container::Style {
    container::Style {
        border: Border {
            color: palette(theme).success,
            width: lock::STROKE,
            radius: iced::border::Radius {
                top_left: lock::SHACKLE_WIDTH / 2.0,
                top_right: lock::SHACKLE_WIDTH / 2.0,
                bottom_right: 0.0,
                bottom_left: 0.0,
            },
        },
        ..container::Style::default()
    }
}

/// The body of the lock: filled with the success colour.
pub fn lock_body(theme: &Theme) -> container::Style {
    container::Style {
        background: Some(Background::Color(palette(theme).success)),
        border: Border {
            radius: radius::CONTROL.into(),
            ..Border::default()
        },
        ..container::Style::default()
    }
}

/// Sizes of the participant's file list and what floats over it.
pub mod list {
    /// The height of one file's row: every row is as tall, so rows never shift under the
    /// pointer and the keyboard's selection can be scrolled into view.
    pub const ROW_HEIGHT: f32 = 64.0;
    /// The width of the Download button (or its progress, "42 %").
    pub const DOWNLOAD_WIDTH: f32 = 104.0;
    /// The width of the Delete button (or Undo), kept empty on others' files so the
    /// Download buttons line up.
    pub const DELETE_WIDTH: f32 = 84.0;
    /// The side of a file-type badge.
    pub const BADGE_SIZE: f32 = 36.0;
    /// The width of the selection box's column.
    pub const CHECK_WIDTH: f32 = 22.0;
    /// The widest a toast grows.
    pub const TOAST_WIDTH: f32 = 380.0;
    /// Empty room after the last row, so it can be scrolled clear of the toasts and the
    /// transfers button floating at the bottom.
    pub const OVERLAY_ROOM: f32 = 150.0;
    /// The tallest the connection's banner grows before it scrolls.
    pub const BANNER_MAX_HEIGHT: f32 = 150.0;
    /// The thickness of a row's download progress bar.
    pub const ROW_BAR_GIRTH: f32 = 3.0;
    /// The length of the bar of a file being prepared to be shared directly.
    pub const PREPARING_BAR_LENGTH: f32 = 120.0;
    /// How many toasts show at once (the oldest make room).
    pub const MAX_TOASTS: usize = 4;
}

/// Sizes of a file's larger preview, over the list.
pub mod preview {
    /// The side of the square a thumbnail is drawn in (the host makes them 256 pixels at most).
    pub const LARGE_SIDE: f32 = 256.0;
    /// The width of a text preview's box.
    pub const TEXT_WIDTH: f32 = 480.0;
    /// The height of a text preview's box (it scrolls beyond).
    pub const TEXT_HEIGHT: f32 = 320.0;
    /// The width of the card around a preview.
    pub const CARD_WIDTH: f32 = 540.0;
}

/// The colours of file-type badges: saturated, labelled in white, the same in every theme.
pub mod badge {
    use iced::{Color, color};
    /// Documents: PDF, text, office files.
    pub const DOCUMENT: Color = color!(0x4285f4);
    /// Pictures.
    pub const IMAGE: Color = color!(0x0f9d58);
    /// Sound.
    pub const AUDIO: Color = color!(0xab47bc);
    /// Video.
    pub const VIDEO: Color = color!(0xe8710a);
    /// Archives.
    pub const ARCHIVE: Color = color!(0x8d6e63);
    /// Source code and data.
    pub const CODE: Color = color!(0x00897b);
    /// Anything else.
    pub const OTHER: Color = color!(0x757575);
}

/// A file-type badge filled with `color`.
pub fn badge(color: Color) -> impl Fn(&Theme) -> container::Style {
    move |_theme| container::Style {
        background: Some(Background::Color(color)),
        border: rounded(radius::CONTROL),
        text_color: Some(Color::WHITE),
        ..container::Style::default()
    }
}

/// `top` laid over `bottom` with `top`'s alpha, made opaque.
fn over(bottom: Color, top: Color, alpha: f32) -> Color {
    Color {
        r: bottom.r + (top.r - bottom.r) * alpha,
        g: bottom.g + (top.g - bottom.g) * alpha,
        b: bottom.b + (top.b - bottom.b) * alpha,
        a: 1.0,
    }
}

/// A toast floating over the list: opaque, tinted with `tone` (none: a neutral message such
/// as "Cancelled").
pub fn toast(tone: Option<Tone>) -> impl Fn(&Theme) -> container::Style {
    move |theme| {
        let palette = palette(theme);
        let edge = tone.map_or(palette.secondary_hover, |tone| palette.tone(tone));
        container::Style {
            background: Some(Background::Color(over(palette.card, edge, 0.22))),
            border: Border {
                color: edge,
                width: 1.0,
                radius: radius::INSET.into(),
            },
            text_color: Some(palette.text),
            shadow: iced::Shadow {
                color: palette.backdrop,
                offset: iced::Vector::new(0.0, 2.0),
                blur_radius: 8.0,
            },
            ..container::Style::default()
        }
    }
}

/// A file row: a card, outlined when the keyboard's selection is on it, tinted when it is
/// ticked for "Download selected". A row whose file cannot be downloaded now (`available` false: shared from a machine that
/// is offline) is greyed: fainter card, muted text.
pub fn file_row(
    selected: bool,
    ticked: bool,
    available: bool,
) -> impl Fn(&Theme) -> container::Style {
    move |theme| {
        let palette = palette(theme);
        let card = if available {
            palette.card
        } else {
            over(palette.background, palette.card, UNAVAILABLE_CARD)
        };
        let background = if ticked {
            over(card, palette.primary, 0.16)
        } else {
            card
        };
        container::Style {
            background: Some(Background::Color(background)),
            border: Border {
                color: if selected {
                    palette.primary
                } else {
                    Color::TRANSPARENT
                },
                width: 2.0,
                radius: radius::CARD.into(),
            },
            text_color: Some(if available {
                palette.text
            } else {
                palette.muted
            }),
            ..container::Style::default()
        }
    }
}

/// How much of the card colour an unavailable file's row keeps over the background.
const UNAVAILABLE_CARD: f32 = 0.4;

/// The room between a control and the ring drawn around it while the keyboard is on it.
pub const FOCUS_RING_GAP: f32 = 2.0;

/// A ring around the control the keyboard is on (Tab moves it).
pub fn focus_ring(focused: bool) -> impl Fn(&Theme) -> container::Style {
    move |theme| container::Style {
        border: Border {
            color: if focused {
                palette(theme).primary
            } else {
                Color::TRANSPARENT
            },
            width: 2.0,
            radius: radius::INSET.into(),
        },
        ..container::Style::default()
    }
}

/// A sort choice above the list: quiet, filled when it is the order in use.
pub fn sort_button(active: bool) -> impl Fn(&Theme, button::Status) -> button::Style {
    move |theme, status| {
        let palette = palette(theme);
        let background = match (active, status) {
            (true, _) => over(palette.background, palette.primary, 0.3),
            (false, button::Status::Hovered | button::Status::Pressed) => palette.card_hover,
            (false, _) => palette.background,
        };
        button::Style {
            background: Some(Background::Color(background)),
            text_color: if active { palette.text } else { palette.muted },
            border: rounded(radius::CONTROL),
            ..button::Style::default()
        }
    }
}

/// A line of the transfers' history: in the colour of `tone`, or plain for a neutral one
/// ("Cancelled").
pub fn history_text(tone: Option<Tone>) -> impl Fn(&Theme) -> text::Style {
    move |theme| text::Style {
        color: Some(tone.map_or(palette(theme).text, |tone| palette(theme).tone(tone))),
    }
}

/// A chip that narrows the file list (a category, a tag): filled when picked.
pub fn chip(active: bool) -> impl Fn(&Theme, button::Status) -> button::Style {
    move |theme, status| {
        let palette = palette(theme);
        let background = match (active, status) {
            (true, _) => over(palette.background, palette.primary, 0.3),
            (false, button::Status::Hovered | button::Status::Pressed) => palette.card_hover,
            (false, _) => palette.card,
        };
        button::Style {
            background: Some(Background::Color(background)),
            text_color: if active { palette.text } else { palette.muted },
            border: Border {
                color: if active {
                    palette.primary
                } else {
                    palette.card_hover
                },
                width: 1.0,
                radius: radius::CHIP.into(),
            },
            ..button::Style::default()
        }
    }
}

/// A drop-down choice (how long uploads are kept), like a quiet button.
pub fn pick_list(theme: &Theme, status: drop_down::Status) -> drop_down::Style {
    let palette = palette(theme);
    let background = match status {
        drop_down::Status::Hovered | drop_down::Status::Opened { .. } => palette.secondary_hover,
        drop_down::Status::Active => palette.card_hover,
    };
    drop_down::Style {
        text_color: palette.text,
        placeholder_color: palette.muted,
        handle_color: palette.muted,
        background: Background::Color(background),
        border: rounded(radius::CONTROL),
    }
}

/// The open list of a drop-down choice.
pub fn pick_list_menu(theme: &Theme) -> menu::Style {
    let palette = palette(theme);
    menu::Style {
        background: Background::Color(palette.card),
        border: Border {
            color: palette.card_hover,
            width: 1.0,
            radius: radius::CONTROL.into(),
        },
        text_color: palette.text,
        selected_text_color: palette.filled_text,
        selected_background: Background::Color(palette.primary),
        shadow: iced::Shadow::default(),
    }
}
