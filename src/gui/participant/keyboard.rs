//! The screen from the keyboard: Tab and Shift+Tab move through the controls (a ring shows
//! where), Enter acts on the one the keyboard is on, Ctrl+F goes to the filter and Escape
//! clears it, Up and Down move the selection through the list (kept in view), Enter
//! downloads the selected file, Space ticks it, Delete deletes it (if it is yours, with undo).

use iced::Task;
use iced::widget::operation::{self, AbsoluteOffset};

use super::order::SortKey;
use super::{
    Action, Connection, Control, FILE_LIST, FILTER_INPUT, KeyCommand, Message, Participant,
};
use crate::gui::theme::{gap, list};

impl Participant {
    /// Carries out a key press.
    pub(super) fn on_key(&mut self, command: KeyCommand) -> Action {
        match command {
            KeyCommand::FocusFilter => return self.focus_on(Control::Filter),
            KeyCommand::Next => return self.focus_on(self.next_control(1)),
            KeyCommand::Previous => return self.focus_on(self.next_control(-1)),
            KeyCommand::Escape => self.escape(),
            KeyCommand::Up => return self.move_selection(-1),
            KeyCommand::Down => return self.move_selection(1),
            KeyCommand::Activate => return self.activate(),
            KeyCommand::Delete => {
                if let Some(file) = self.selected {
                    self.ask_delete(file);
                }
            }
            KeyCommand::Tick => {
                if let Some(file) = self.selected
                    && !self.ticked.remove(&file)
                {
                    self.ticked.insert(file);
                }
            }
        }
        Action::None
    }

    /// Escape: closes the large preview or the transfers modal if open, else clears the
    /// filter, else the selection.
    fn escape(&mut self) {
        if self.previews.close() {
            return;
        }
        if self.history_open || (!self.transfers.is_empty() && !self.transfers_hidden) {
            self.history_open = false;
            self.transfers_hidden = true;
        } else if !self.filter.is_empty() {
            // The filter box lets go of the keyboard on Escape too.
            self.filter.clear();
            if self.focus == Some(Control::Filter) {
                self.focus = None;
            }
        } else {
            self.selected = None;
        }
    }

    /// The controls Tab goes through, in the order they are drawn.
    fn controls(&self) -> Vec<Control> {
        let mut controls = vec![Control::Transfers, Control::Upload, Control::ShareDirectly];
        if !self.hosting {
            controls.push(Control::Leave);
        }
        controls.extend([
            Control::Filter,
            Control::DownloadTicked,
            Control::DownloadAll,
        ]);
        controls.extend(SortKey::ALL.map(Control::Sort));
        if !self.files.is_empty() {
            controls.push(Control::List);
        }
        controls
    }

    /// The control `step` places after (or before) the one the keyboard is on.
    fn next_control(&self, step: isize) -> Control {
        let controls = self.controls();
        let count = controls.len() as isize;
        let at = self
            .focus
            .and_then(|focus| controls.iter().position(|c| *c == focus))
            .map_or(if step > 0 { -1 } else { 0 }, |at| at as isize);
        let next = (at + step).rem_euclid(count) as usize;
        controls.get(next).copied().unwrap_or(Control::Filter)
    }

    /// Moves the keyboard to `control`: into the filter box, or out of it to a button or
    /// the list.
    fn focus_on(&mut self, control: Control) -> Action {
        self.focus = Some(control);
        match control {
            Control::Filter => Action::Run(operation::focus(FILTER_INPUT)),
            Control::List => {
                if self.selected.is_none() {
                    self.selected = self.visible_files().first().map(|f| f.id);
                }
                let scroll = self.scroll_to_selection();
                Action::Run(Task::batch([leave_text_box(), scroll]))
            }
            _ => Action::Run(leave_text_box()),
        }
    }

    /// Enter: acts on the control the keyboard is on; on the filter or the list, downloads
    /// the selected file (or selects the first one shown).
    fn activate(&mut self) -> Action {
        let message = match self.focus {
            Some(Control::Sort(key)) => Message::SortBy(key),
            Some(Control::DownloadTicked) => Message::DownloadTicked,
            Some(Control::DownloadAll) => Message::DownloadAll,
            Some(Control::Transfers) => Message::ShowTransfers,
            Some(Control::Upload) => Message::UploadClicked,
            Some(Control::ShareDirectly) => Message::ShareDirectlyClicked,
            Some(Control::Leave) => Message::Leave,
            Some(Control::Filter | Control::List) | None => match self.selected {
                Some(file) => Message::DownloadClicked(file),
                None => return self.move_selection(1),
            },
        };
        self.update(message)
    }

    /// Moves the selection `step` rows through the list as shown, and scrolls it into view.
    fn move_selection(&mut self, step: isize) -> Action {
        let files: Vec<_> = self.visible_files().iter().map(|f| f.id).collect();
        if files.is_empty() {
            return Action::None;
        }
        let at = self
            .selected
            .and_then(|selected| files.iter().position(|id| *id == selected));
        let next = match at {
            Some(at) => (at as isize + step).clamp(0, files.len() as isize - 1) as usize,
            None if step > 0 => 0,
            None => files.len() - 1,
        };
        self.selected = files.get(next).copied();
        if self.focus != Some(Control::Filter) {
            self.focus = Some(Control::List);
        }
        Action::Run(self.scroll_to_selection())
    }

    /// Scrolls the list so the selected row shows (rows all have one height).
    pub(super) fn scroll_to_selection(&self) -> Task<Message> {
        let Some(index) = self
            .selected
            .and_then(|selected| self.visible_files().iter().position(|f| f.id == selected))
        else {
            return Task::none();
        };
        let pitch = list::ROW_HEIGHT + gap::M;
        let top = index as f32 * pitch;
        let (offset, height) = self.list_view;
        let target = if top < offset {
            top
        } else if height > 0.0 && top + list::ROW_HEIGHT > offset + height {
            top + list::ROW_HEIGHT - height
        } else if height <= 0.0 {
            // Its height unknown (never scrolled): keep the row a little below the top.
            (top - pitch).max(0.0)
        } else {
            return Task::none();
        };
        operation::scroll_to(FILE_LIST, AbsoluteOffset { x: 0.0, y: target })
    }

    /// True if the keyboard is on `control` (drawn with a ring).
    pub(super) fn is_focused(&self, control: Control) -> bool {
        self.focus == Some(control) && !matches!(self.connection, Connection::KeyChanged { .. })
    }
}

/// Takes the keyboard out of the filter box (focusing an id no widget has unfocuses all).
fn leave_text_box() -> Task<Message> {
    operation::focus(NO_TEXT_BOX)
}

/// An id no widget has.
const NO_TEXT_BOX: &str = "no-text-box";
