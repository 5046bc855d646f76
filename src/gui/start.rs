//! The start screen: host or join, a display name, and for joining, the host's address.

use iced::widget::{button, column, container, row, text, text_input};
use iced::{Alignment, Element, Length};

use super::theme;
use crate::discovery::{FoundHost, HostsEvent};
use crate::protocol::{DEFAULT_PORT, Passcode, validate_username};

/// The id of the display-name field.
pub const NAME_INPUT: &str = "name";
/// The id of the host-address field.
pub const ADDRESS_INPUT: &str = "address";
/// The id of the passcode field.
pub const PASSCODE_INPUT: &str = "passcode";

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
    /// Never saved: typed again each time.
    passcode: String,
    error: Option<String>,
    /// Hosts found on the network; `None` while not looking.
    found: Option<Vec<FoundHost>>,
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
    /// The passcode was edited.
    PasscodeChanged(String),
    /// Continue was pressed (or Enter in a field).
    Continue,
    /// The hosts seen on the network changed.
    Hosts(HostsEvent),
    /// "Join" was pressed on a host found on the network.
    JoinFound(std::net::SocketAddr),
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
        /// The passcode participants will need, if any.
        passcode: Option<Passcode>,
    },
    /// Join the host at `address` as `name`.
    Join {
        /// `HOST` or `HOST:PORT`.
        address: String,
        /// Display name.
        name: String,
        /// The host's passcode, if it asks for one.
        passcode: Option<Passcode>,
    },
}

impl Start {
    /// A start screen prefilled with remembered (or default) choices.
    pub fn new(role: Role, name: String, address: String) -> Self {
        Self {
            role,
            name,
            address,
            passcode: String::new(),
            error: None,
            found: None,
        }
    }

    /// Shows the hosts found on the network (an empty list reads "looking…").
    pub fn looking_for_hosts(mut self) -> Self {
        self.found = Some(Vec::new());
        self
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
            Message::PasscodeChanged(passcode) => self.passcode = passcode,
            Message::Hosts(HostsEvent::Changed(hosts)) => {
                if self.found.is_some() {
                    self.found = Some(hosts);
                }
            }
            Message::JoinFound(address) => {
                self.address = address.to_string();
                self.role = Role::Participant;
                return self.update(Message::Continue);
            }
            Message::Continue => {
                let name = self.name.trim().to_owned();
                if let Err(reason) = validate_username(&name) {
                    self.error = Some(reason);
                    return Action::None;
                }
                let passcode = match self.passcode.as_str() {
                    "" => None,
                    text => match Passcode::new(text) {
                        Ok(passcode) => Some(passcode),
                        Err(reason) => {
                            self.error = Some(reason);
                            return Action::None;
                        }
                    },
                };
                self.error = None;
                return match self.role {
                    Role::Host => Action::Host { name, passcode },
                    Role::Participant => {
                        let address = self.address.trim().to_owned();
                        if address.is_empty() {
                            self.error = Some("Type the host's address, e.g. 192.168.1.20".into());
                            return Action::None;
                        }
                        Action::Join {
                            address,
                            name,
                            passcode,
                        }
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
        if let (Role::Participant, Some(found)) = (self.role, &self.found) {
            form = form.push(found_hosts(found));
        }
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
        let passcode_hint = match self.role {
            Role::Host => "Passcode (optional): participants will need it to join",
            Role::Participant => "Passcode (only if the host asks for one)",
        };
        form = form.push(
            column![
                text(passcode_hint).size(14).color(theme::MUTED),
                text_input("No passcode", &self.passcode)
                    .id(PASSCODE_INPUT)
                    .secure(true)
                    .on_input(Message::PasscodeChanged)
                    .on_submit(Message::Continue)
                    .padding(10)
                    .style(theme::input),
            ]
            .spacing(6),
        );
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

/// The hosts found on the network, each with a Join button.
fn found_hosts(found: &[FoundHost]) -> Element<'_, Message> {
    let title = text("Hosts on your network").size(14).color(theme::MUTED);
    if found.is_empty() {
        return column![
            title,
            text("Looking for hosts… (or type an address below)")
                .size(14)
                .color(theme::MUTED),
        ]
        .spacing(6)
        .into();
    }
    let rows = found.iter().map(|host| {
        let details = format!(
            "{} · {} online · {} files",
            host.address, host.announcement.participants, host.announcement.files
        );
        container(
            row![
                column![
                    text(host.announcement.name.clone()).size(16),
                    text(details).size(13).color(theme::MUTED),
                ]
                .spacing(2)
                .width(Length::Fill),
                button(text("Join").size(14))
                    .padding([6, 16])
                    .style(theme::primary_button)
                    .on_press(Message::JoinFound(host.address)),
            ]
            .align_y(Alignment::Center),
        )
        .padding(10)
        .style(theme::card_raised)
        .into()
    });
    column![title, column(rows).spacing(6)].spacing(6).into()
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
                name: "Bob".into(),
                passcode: None,
            }
        );
        start.update(Message::RoleChosen(Role::Host));
        start.update(Message::PasscodeChanged("open sesame".into()));
        assert_eq!(
            start.update(Message::Continue),
            Action::Host {
                name: "Bob".into(),
                passcode: Passcode::new("open sesame").ok(),
            }
        );
    }

    #[test]
    fn a_host_found_on_the_network_joins_in_one_click() {
        let mut start = Start::new(Role::Host, "Bob".into(), String::new()).looking_for_hosts();
        let address = std::net::SocketAddr::from(([10, 0, 0, 7], 5005));
        let found = FoundHost {
            address,
            announcement: crate::discovery::Announcement {
                host_id: "ab".into(),
                port: 5005,
                participants: 2,
                files: 5,
                name: "Hana".into(),
            },
        };
        start.update(Message::Hosts(HostsEvent::Changed(vec![found])));
        assert_eq!(
            start.update(Message::JoinFound(address)),
            Action::Join {
                address: "10.0.0.7:5005".into(),
                name: "Bob".into(),
                passcode: None,
            }
        );
    }
}
