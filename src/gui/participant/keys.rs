//! The participant screen's keyboard: which key press means what. The screen listens to
//! every key press with whether a widget (the filter box) already used it, and this decides.

use iced::event::Status;
use iced::keyboard::{self, Key, key::Named};

/// What a key press asks of the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCommand {
    /// Tab: the next control.
    Next,
    /// Shift+Tab: the control before.
    Previous,
    /// Enter: act on the control the keyboard is on (the selected file: download it).
    Activate,
    /// Ctrl+F: into the filter box.
    FocusFilter,
    /// Escape: clear the filter (then the selection).
    Escape,
    /// Up: the file above.
    Up,
    /// Down: the file below.
    Down,
    /// Delete: delete the selected file (if it is yours), with the same undo as the button.
    Delete,
    /// Space: tick or untick the selected file for "Download selected".
    Tick,
}

/// What a keyboard `event` asks, given whether a widget used it (`status`): keys a text box
/// types with (Enter, Delete, Space) count only when no widget took them.
pub fn command(event: &iced::Event, status: Status) -> Option<KeyCommand> {
    let iced::Event::Keyboard(keyboard::Event::KeyPressed { key, modifiers, .. }) = event else {
        return None;
    };
    let free = status == Status::Ignored;
    match key.as_ref() {
        Key::Character(c) if modifiers.command() && c.eq_ignore_ascii_case("f") => {
            Some(KeyCommand::FocusFilter)
        }
        Key::Named(Named::Tab) if modifiers.shift() => Some(KeyCommand::Previous),
        Key::Named(Named::Tab) => Some(KeyCommand::Next),
        Key::Named(Named::Escape) => Some(KeyCommand::Escape),
        Key::Named(Named::ArrowUp) => Some(KeyCommand::Up),
        Key::Named(Named::ArrowDown) => Some(KeyCommand::Down),
        Key::Named(Named::Enter) if free => Some(KeyCommand::Activate),
        Key::Named(Named::Delete) if free => Some(KeyCommand::Delete),
        Key::Named(Named::Space) if free => Some(KeyCommand::Tick),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced::keyboard::{Location, Modifiers, key::NativeCode, key::Physical};

    fn press(key: Key, modifiers: Modifiers) -> iced::Event {
        iced::Event::Keyboard(keyboard::Event::KeyPressed {
            key: key.clone(),
            modified_key: key,
            physical_key: Physical::Unidentified(NativeCode::Unidentified),
            location: Location::Standard,
            modifiers,
            text: None,
            repeat: false,
        })
    }

    #[test]
    fn keys_a_text_box_types_with_count_only_when_it_did_not_take_them() {
        let delete = press(Key::Named(Named::Delete), Modifiers::default());
        assert_eq!(command(&delete, Status::Ignored), Some(KeyCommand::Delete));
        assert_eq!(command(&delete, Status::Captured), None);
        let escape = press(Key::Named(Named::Escape), Modifiers::default());
        assert_eq!(command(&escape, Status::Captured), Some(KeyCommand::Escape));
        let find = press(Key::Character("f".into()), Modifiers::CTRL);
        assert_eq!(
            command(&find, Status::Ignored),
            Some(KeyCommand::FocusFilter)
        );
        let back = press(Key::Named(Named::Tab), Modifiers::SHIFT);
        assert_eq!(command(&back, Status::Ignored), Some(KeyCommand::Previous));
        let letter = press(Key::Character("f".into()), Modifiers::default());
        assert_eq!(command(&letter, Status::Captured), None);
    }
}
