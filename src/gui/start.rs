//! The start screen: host or join, a display name, and for joining, the host's address.

use iced::widget::{button, column, container, row, text, text_input};
use iced::{Alignment, Element, Length};

use super::theme;
use crate::protocol::{DEFAULT_PORT, validate_username};

/// The id of the display-name field.
pub const NAME_INPUT: &str = "name";
/// The id of the host-address field.
pub const ADDRESS_INPUT: &str = "address";

/// The two ways to use lanshare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Run the host on this machine (and share from it too).
    Host,
    /// Join a host elsewhere.
    Participant,
}

/// The start screen's state.
#[derive(Debug, Clone)]
pub struct Start {
    role: Role,
    name: String,
    address: String,
    error: Option<String>,
}

/// What the start screen can be told.
#[derive(Debug, Clone)]
pub enum Message {
    /// Host or Participant was chosen.
    RoleChosen(Role),
    /// The display name was edited.
    NameChanged(String),
    /// The host address was edited.
    AddressChanged(String),
    /// Continue was pressed (or Enter in a field).
    Continue,
}

/// What the app should do after an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing beyond redrawing.
    None,
    /// Start hosting as `name`.
    Host {
        /// Display name.
        name: String,
    },
    /// Join the host at `address` as `name`.
    Join {
        /// `HOST` or `HOST:PORT`.
        address: String,
        /// Display name.
        name: String,
    },
}

impl Start {
    /// A start screen prefilled with remembered (or default) choices.
    pub fn new(role: Role, name: String, address: String) -> Self {
        Self {
            role,
            name,
            address,
            error: None,
        }
    }

    /// Shows why the last attempt failed.
    pub fn with_error(mut self, error: String) -> Self {
        self.error = Some(error);
        self
    }

    /// Handles a message.
    pub fn update(&mut self, message: Message) -> Action {
        match message {
            Message::RoleChosen(role) => {
                self.role = role;
                self.error = None;
            }
            Message::NameChanged(name) => self.name = name,
            Message::AddressChanged(address) => self.address = address,
            Message::Continue => {
                let name = self.name.trim().to_owned();
                if let Err(reason) = validate_username(&name) {
                    self.error = Some(reason);
                    return Action::None;
                }
                self.error = None;
                return match self.role {
                    Role::Host => Action::Host { name },
                    Role::Participant => {
                        let address = self.address.trim().to_owned();
                        if address.is_empty() {
                            self.error = Some("Type the host's address, e.g. 192.168.1.20".into());
                            return Action::None;
                        }
                        Action::Join { address, name }
                    }
                };
            }
        }
        Action::None
    }

    /// Draws the screen.
    pub fn view(&self) -> Element<'_, Message> {
        let choice = |role: Role, title: &'static str, detail: &'static str| {
            button(
                column![
                    text(title).size(20),
                    text(detail).size(13).color(theme::MUTED)
                ]
                .spacing(6),
            )
            .padding(16)
            .width(Length::Fill)
            .style(theme::choice_button(self.role == role))
            .on_press(Message::RoleChosen(role))
        };
        let roles = row![
            choice(
                Role::Host,
                "Host",
                "Run the host on this computer; others join you."
            ),
            choice(
                Role::Participant,
                "Participant",
                "Join a host on your network."
            ),
        ]
        .spacing(12);

        let name = column![
            text("Your name").size(14).color(theme::MUTED),
            text_input("How others see you", &self.name)
                .id(NAME_INPUT)
                .on_input(Message::NameChanged)
                .on_submit(Message::Continue)
                .padding(10)
                .style(theme::input),
        ]
        .spacing(6);

        let mut form = column![roles, name].spacing(20);
        if self.role == Role::Participant {
            form = form.push(
                column![
                    text("Host address").size(14).color(theme::MUTED),
                    text_input(
                        &format!("e.g. 192.168.1.20 or 192.168.1.20:{DEFAULT_PORT}"),
                        &self.address
                    )
                    .id(ADDRESS_INPUT)
                    .on_input(Message::AddressChanged)
                    .on_submit(Message::Continue)
                    .padding(10)
                    .style(theme::input),
                ]
                .spacing(6),
            );
        }
        if let Some(error) = &self.error {
            form = form.push(
                container(text(error.clone()).size(14))
                    .padding(10)
                    .width(Length::Fill)
                    .style(theme::banner(theme::DANGER)),
            );
        }
        let label = match self.role {
            Role::Host => "Start hosting",
            Role::Participant => "Connect",
        };
        form = form.push(
            button(text(label).size(16))
                .padding([10, 24])
                .style(theme::primary_button)
                .on_press(Message::Continue),
        );

        let card = container(
            column![
                text("lanshare").size(32),
                text("Share files with everyone on your network.")
                    .size(15)
                    .color(theme::MUTED),
                form,
            ]
            .spacing(16)
            .align_x(Alignment::Start),
        )
        .padding(28)
        .max_width(560)
        .style(theme::card);
        container(card).center(Length::Fill).padding(20).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_checks_name_and_address() {
        let mut start = Start::new(Role::Participant, "  ".into(), String::new());
        assert_eq!(start.update(Message::Continue), Action::None);
        assert_eq!(start.error.as_deref(), Some("User name is empty"));
        start.update(Message::NameChanged("Bob".into()));
        assert_eq!(start.update(Message::Continue), Action::None);
        assert!(
            start
                .error
                .as_deref()
                .is_some_and(|e| e.contains("address"))
        );
        start.update(Message::AddressChanged(" 10.0.0.2 ".into()));
        assert_eq!(
            start.update(Message::Continue),
            Action::Join {
                address: "10.0.0.2".into(),
                name: "Bob".into()
            }
        );
        start.update(Message::RoleChosen(Role::Host));
        assert_eq!(
            start.update(Message::Continue),
            Action::Host { name: "Bob".into() }
        );
    }
}
