//! The host's settings, chosen on the start screen before hosting: where files are kept, the
//! largest file accepted and the port. They are remembered (`config::Settings`) for next time.

use std::path::PathBuf;

use iced::widget::{TextInput, button, column, row, text, text_input};
use iced::{Alignment, Element, Length};

use super::bridge::DialogResult;
use super::theme::{self, gap, text_size};
use super::widgets::{ButtonShape, action_button, muted};
use crate::config::{HostStore, Settings};
use crate::protocol::DEFAULT_MAX_FILE_SIZE;
use crate::units::{format_size, parse_size};

/// The id of the store folder's field.
pub const FOLDER_INPUT: &str = "host-folder";
/// The id of the file size limit's field.
pub const SIZE_LIMIT_INPUT: &str = "host-size-limit";
/// The id of the port's field.
pub const PORT_INPUT: &str = "host-port";

/// The host's settings as the form holds them (as typed).
#[derive(Debug, Clone)]
pub struct HostSetup {
    in_folder: bool,
    folder: String,
    size_limit: String,
    port: String,
    /// The port used when none is typed (the app's default, or the command line's).
    default_port: u16,
    /// Said when no folder dialog could be shown.
    folder_hint: Option<String>,
}

/// What the host's settings can be told.
#[derive(Debug, Clone)]
pub enum Message {
    /// Memory (`false`) or a folder (`true`) was chosen as the store.
    InFolder(bool),
    /// The store folder's path was edited.
    FolderChanged(String),
    /// "Choose…" was pressed: a folder dialog is wanted.
    ChooseFolder,
    /// The folder dialog closed.
    FolderPicked(DialogResult<PathBuf>),
    /// The file size limit was edited.
    SizeLimitChanged(String),
    /// The port was edited.
    PortChanged(String),
}

/// The host to start, from the settings as checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostChoices {
    /// Where files are kept.
    pub store: HostStore,
    /// The largest file accepted, in bytes.
    pub max_file_size: u64,
    /// The port typed, if any (else the default one).
    pub port: Option<u16>,
}

impl HostSetup {
    /// The form as `settings` remember it; `default_port` is used when no port is typed.
    pub fn new(settings: &Settings, default_port: u16) -> Self {
        let (in_folder, folder) = match &settings.host_store {
            Some(HostStore::Folder(dir)) => (true, dir.display().to_string()),
            _ => (false, String::new()),
        };
        let size = settings.host_max_file_size.unwrap_or(DEFAULT_MAX_FILE_SIZE);
        Self {
            in_folder,
            folder,
            size_limit: format_size(size),
            port: settings
                .host_port
                .map(|p| p.to_string())
                .unwrap_or_default(),
            default_port,
            folder_hint: None,
        }
    }

    /// Handles a message; true if a folder dialog should be opened.
    pub fn update(&mut self, message: Message) -> bool {
        match message {
            Message::InFolder(in_folder) => self.in_folder = in_folder,
            Message::FolderChanged(folder) => self.folder = folder,
            Message::ChooseFolder => return true,
            Message::FolderPicked(result) => {
                self.folder_hint = result
                    .never_showed()
                    .then(|| "No folder dialog could be shown: type the folder's path.".to_owned());
                if let Some(folder) = result.chosen {
                    self.folder = folder.display().to_string();
                }
            }
            Message::SizeLimitChanged(limit) => self.size_limit = limit,
            Message::PortChanged(port) => self.port = port,
        }
        false
    }

    /// The settings, checked: what to start, or why not (worded for the person).
    pub fn checked(&self) -> Result<HostChoices, String> {
        let store = if self.in_folder {
            let folder = self.folder.trim();
            if folder.is_empty() {
                return Err("Choose or type the folder to keep files in".into());
            }
            HostStore::Folder(PathBuf::from(folder))
        } else {
            HostStore::Memory
        };
        let max_file_size = parse_size(self.size_limit.trim())
            .ok()
            .filter(|&size| size > 0)
            .ok_or_else(|| {
                format!(
                    "Largest file: '{}' is not a size (e.g. 100 MB or 2 GB)",
                    self.size_limit.trim()
                )
            })?;
        let port = match self.port.trim() {
            "" => None,
            typed => Some(
                typed
                    .parse::<u16>()
                    .ok()
                    .filter(|&port| port > 0)
                    .ok_or_else(|| format!("Port: '{typed}' is not a port (1 to 65535)"))?,
            ),
        };
        Ok(HostChoices {
            store,
            max_file_size,
            port,
        })
    }

    /// Draws the settings: the store, then the largest file and the port side by side.
    pub fn view(&self) -> Element<'_, Message> {
        let store_choice = |in_folder: bool, label: &'static str| {
            button(text(label).size(text_size::BODY))
                .padding([gap::XS, gap::L])
                .style(theme::choice_button(self.in_folder == in_folder))
                .on_press(Message::InFolder(in_folder))
        };
        let explained = if self.in_folder {
            "Files are kept in this folder, also after hosting stops."
        } else {
            "Files are kept in memory: they are gone when hosting stops."
        };
        let mut store = column![
            muted("Keep shared files").size(text_size::BODY),
            row![
                store_choice(false, "In memory"),
                store_choice(true, "In a folder")
            ]
            .spacing(gap::S),
        ]
        .spacing(gap::S);
        if self.in_folder {
            store = store.push(
                row![
                    field(
                        "Folder, e.g. /home/you/lanshare",
                        &self.folder,
                        FOLDER_INPUT
                    )
                    .on_input(Message::FolderChanged),
                    action_button("Choose…", ButtonShape::INLINE, theme::secondary_button)
                        .on_press(Message::ChooseFolder),
                ]
                .spacing(gap::S)
                .align_y(Alignment::Center),
            );
        }
        if let Some(hint) = &self.folder_hint {
            store = store.push(text(hint).size(text_size::DETAIL));
        }
        store = store.push(muted(explained).size(text_size::DETAIL));
        let default_port = match self.default_port {
            0 => "Any free port".to_owned(),
            port => port.to_string(),
        };
        let limits = row![
            labelled(
                "Largest file",
                field("100 MB", &self.size_limit, SIZE_LIMIT_INPUT)
                    .on_input(Message::SizeLimitChanged),
            ),
            labelled(
                "Port",
                field(&default_port, &self.port, PORT_INPUT).on_input(Message::PortChanged),
            ),
        ]
        .spacing(gap::L);
        column![store, limits].spacing(gap::XL).into()
    }
}

/// A text field of the host's settings.
fn field<'a>(placeholder: &str, value: &str, id: &'static str) -> TextInput<'a, Message> {
    text_input(placeholder, value)
        .id(id)
        .padding(gap::L)
        .style(theme::input)
}

/// A field under its label, taking its share of a row.
fn labelled<'a>(label: &'a str, field: TextInput<'a, Message>) -> Element<'a, Message> {
    column![muted(label).size(text_size::BODY), field]
        .spacing(gap::S)
        .width(Length::Fill)
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_and_worded() {
        let mut setup = HostSetup::new(&Settings::default(), 5005);
        assert_eq!(
            setup.checked(),
            Ok(HostChoices {
                store: HostStore::Memory,
                max_file_size: DEFAULT_MAX_FILE_SIZE,
                port: None,
            })
        );
        setup.update(Message::PortChanged("70000".into()));
        assert!(setup.checked().is_err_and(|e| e.contains("not a port")));
        setup.update(Message::PortChanged(" 6000 ".into()));
        setup.update(Message::SizeLimitChanged("2 GB".into()));
        setup.update(Message::InFolder(true));
        assert!(setup.checked().is_err_and(|e| e.contains("folder")));
        setup.update(Message::FolderChanged("/srv/files".into()));
        assert_eq!(
            setup.checked(),
            Ok(HostChoices {
                store: HostStore::Folder(PathBuf::from("/srv/files")),
                max_file_size: 2 << 30,
                port: Some(6000),
            })
        );
        setup.update(Message::SizeLimitChanged("lots".into()));
        assert!(setup.checked().is_err_and(|e| e.contains("not a size")));
    }
}
