//! The start screen: host or join, a display name, for joining the host's address, for
//! hosting the host's settings, and the colours the app draws in. The form scrolls when the
//! window is small; what went wrong and the button that goes on stay in sight below it.

use iced::widget::{
    TextInput, button, column, container, row, scrollable, space, text, text_input,
};
use iced::{Alignment, Element, Length, Subscription};

use super::bridge::Feed;
use super::host_setup::{self, HostChoices, HostSetup};
use super::theme::{self, Tone, gap, text_size};
use super::widgets::{ButtonShape, action_button, muted};
use crate::config::ThemeChoice;
use crate::discovery::{FoundHost, HostBrowser, HostsEvent};
use crate::protocol::{DEFAULT_PORT, Passcode, clean_name, validate_username, visible_text};

/// The id of the display-name field.
pub const NAME_INPUT: &str = "name";
/// The id of the host-address field.
pub const ADDRESS_INPUT: &str = "address";
/// The id of the passcode field.
pub const PASSCODE_INPUT: &str = "passcode";

/// The two ways to use lanshare that the start screen offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Run the host on this machine (and share from it too).
    Host,
    /// Join a host elsewhere.
    Participant,
}

/// The start screen's state.
pub struct Start {
    mode: Mode,
    name: String,
    address: String,
    /// Never saved: typed again each time.
    passcode: String,
    error: Option<String>,
    /// The host's settings (for Host).
    setup: HostSetup,
    /// The colours chosen for the app.
    theme: ThemeChoice,
    /// Hosts found on the network; `None` while not looking.
    found: Option<Vec<FoundHost>>,
    /// What looks for them, while it does.
    browsing: Option<Browsing>,
}

/// Looking for hosts on the network: the browser (which stops when dropped) and its feed.
struct Browsing {
    _browser: HostBrowser,
    feed: Feed<HostsEvent>,
}

/// What the start screen can be told.
#[derive(Debug, Clone)]
pub enum Message {
    /// Host or Participant was chosen.
    ModeChosen(Mode),
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
    /// For the host's settings.
    Setup(host_setup::Message),
    /// The app's colours were chosen.
    ThemeChosen(ThemeChoice),
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
        /// The host's settings.
        choices: HostChoices,
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
    /// Open a folder dialog for the host's store (its answer comes back as
    /// `Message::Setup(host_setup::Message::FolderPicked(…))`).
    ChooseFolder,
    /// Draw the app in these colours (and remember them).
    Theme(ThemeChoice),
}

impl Start {
    /// A start screen prefilled with remembered (or default) choices: the mode, the name, the
    /// last host's address, the host's settings and the app's colours.
    pub fn new(
        mode: Mode,
        name: String,
        address: String,
        setup: HostSetup,
        theme: ThemeChoice,
    ) -> Self {
        Self {
            mode,
            name,
            address,
            passcode: String::new(),
            error: None,
            setup,
            theme,
            found: None,
            browsing: None,
        }
    }

    /// Shows the hosts `browser` finds on the network (an empty list reads "looking…"), for
    /// as long as this screen lasts.
    pub fn browse(&mut self, browser: HostBrowser) {
        let feed = Feed::new(browser.events().clone());
        self.found = Some(Vec::new());
        self.browsing = Some(Browsing {
            _browser: browser,
            feed,
        });
    }

    /// Shows why the last attempt failed.
    pub fn with_error(mut self, error: String) -> Self {
        self.show_error(error);
        self
    }

    /// Shows why the last attempt failed, keeping everything typed.
    pub fn show_error(&mut self, error: String) {
        self.error = Some(error);
    }

    /// The mode chosen.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The hosts found on the network, while looking for them.
    pub fn subscription(&self) -> Subscription<Message> {
        match &self.browsing {
            Some(browsing) => browsing.feed.subscription().map(Message::Hosts),
            None => Subscription::none(),
        }
    }

    /// Handles a message.
    pub fn update(&mut self, message: Message) -> Action {
        match message {
            Message::ModeChosen(mode) => {
                self.mode = mode;
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
                self.mode = Mode::Participant;
                return self.submit();
            }
            Message::Continue => return self.submit(),
            Message::Setup(message) => {
                if self.setup.update(message) {
                    return Action::ChooseFolder;
                }
            }
            Message::ThemeChosen(choice) => {
                self.theme = choice;
                return Action::Theme(choice);
            }
        }
        Action::None
    }

    /// Checks the form: what to do if it is complete, else why not (shown on the screen).
    fn submit(&mut self) -> Action {
        match self.checked() {
            Ok(action) => {
                self.error = None;
                action
            }
            Err(reason) => {
                self.error = Some(reason);
                Action::None
            }
        }
    }

    fn checked(&self) -> Result<Action, String> {
        validate_username(self.name.trim())?;
        let name = clean_name(&self.name);
        let passcode = match self.passcode.as_str() {
            "" => None,
            text => Some(Passcode::new(text)?),
        };
        match self.mode {
            Mode::Host => Ok(Action::Host {
                name,
                passcode,
                choices: self.setup.checked()?,
            }),
            Mode::Participant => {
                let address = self.address.trim().to_owned();
                if address.is_empty() {
                    return Err("Type the host's address, e.g. 192.168.1.20".into());
                }
                Ok(Action::Join {
                    address,
                    name,
                    passcode,
                })
            }
        }
    }

    /// Draws the screen: a card with the app's name and the form, which scrolls when the
    /// window is small, and under it what went wrong and the button that goes on.
    pub fn view(&self) -> Element<'_, Message> {
        let form = column![
            text("lanshare").size(text_size::BRAND),
            muted("Share files with everyone on your network.").size(text_size::LARGE),
            self.form(),
        ]
        .spacing(gap::XXL)
        .padding(iced::Padding::ZERO.right(gap::XL));
        let card = container(
            column![
                scrollable(form).height(Length::Fill).width(Length::Fill),
                self.error(),
                self.footer(),
            ]
            .spacing(gap::XL),
        )
        .padding(gap::START_CARD)
        .max_width(theme::START_CARD_WIDTH)
        .height(Length::Fill)
        .style(theme::card);
        container(card)
            .center_x(Length::Fill)
            .padding(gap::XXL)
            .into()
    }

    /// The mode, the name, the hosts found and the address (to join) or the host's settings,
    /// and the passcode.
    fn form(&self) -> Element<'_, Message> {
        let mut form = column![self.modes(), self.name_field()].spacing(gap::XXXL);
        match (self.mode, &self.found) {
            (Mode::Participant, Some(found)) => {
                form = form.push(found_hosts(found)).push(self.address_field());
            }
            (Mode::Participant, None) => form = form.push(self.address_field()),
            (Mode::Host, _) => form = form.push(self.setup.view().map(Message::Setup)),
        }
        form.push(self.passcode_field()).into()
    }

    /// What went wrong, wrapped over as many lines as it needs.
    fn error(&self) -> Option<Element<'_, Message>> {
        let error = self.error.as_ref()?;
        Some(
            container(
                text(error.clone())
                    .size(text_size::BODY)
                    .width(Length::Fill),
            )
            .padding(gap::L)
            .width(Length::Fill)
            .style(theme::banner(Tone::Danger))
            .into(),
        )
    }

    /// The app's colours on the left, the button that goes on on the right.
    fn footer(&self) -> Element<'_, Message> {
        let label = match self.mode {
            Mode::Host => "Start hosting",
            Mode::Participant => "Connect",
        };
        row![
            self.theme_choice(),
            space().width(Length::Fill),
            action_button(label, ButtonShape::MAIN, theme::primary_button)
                .on_press(Message::Continue),
        ]
        .spacing(gap::L)
        .align_y(Alignment::Center)
        .into()
    }

    /// System, Dark and Light, the chosen one highlighted.
    fn theme_choice(&self) -> Element<'_, Message> {
        let choice = |choice: ThemeChoice, label: &'static str| {
            button(text(label).size(text_size::DETAIL))
                .padding([gap::XS, gap::M])
                .style(theme::choice_button(self.theme == choice))
                .on_press(Message::ThemeChosen(choice))
        };
        row![
            choice(ThemeChoice::System, "System"),
            choice(ThemeChoice::Dark, "Dark"),
            choice(ThemeChoice::Light, "Light"),
        ]
        .spacing(gap::XS)
        .into()
    }

    /// Host and Participant, side by side, the chosen one highlighted.
    fn modes(&self) -> Element<'_, Message> {
        let choice = |mode: Mode, title: &'static str, detail: &'static str| {
            button(
                column![
                    text(title).size(text_size::HEADING),
                    muted(detail).size(text_size::DETAIL)
                ]
                .spacing(gap::S),
            )
            .padding(gap::XXL)
            .width(Length::Fill)
            .style(theme::choice_button(self.mode == mode))
            .on_press(Message::ModeChosen(mode))
        };
        row![
            choice(
                Mode::Host,
                "Host",
                "Run the host on this computer; others join you."
            ),
            choice(
                Mode::Participant,
                "Participant",
                "Join a host on your network."
            ),
        ]
        .spacing(gap::XL)
        .into()
    }

    fn name_field(&self) -> Element<'_, Message> {
        labelled(
            "Your name",
            field("How others see you", &self.name, NAME_INPUT).on_input(Message::NameChanged),
        )
    }

    fn address_field(&self) -> Element<'_, Message> {
        let placeholder = format!("e.g. 192.168.1.20 or 192.168.1.20:{DEFAULT_PORT}");
        labelled(
            "Host address",
            field(&placeholder, &self.address, ADDRESS_INPUT).on_input(Message::AddressChanged),
        )
    }

    fn passcode_field(&self) -> Element<'_, Message> {
        let hint = match self.mode {
            Mode::Host => "Passcode (optional): participants will need it to join",
            Mode::Participant => "Passcode (only if the host asks for one)",
        };
        labelled(
            hint,
            field("No passcode", &self.passcode, PASSCODE_INPUT)
                .secure(true)
                .on_input(Message::PasscodeChanged),
        )
    }
}

/// A text field of the form, with Enter meaning Continue.
fn field<'a>(placeholder: &str, value: &str, id: &'static str) -> TextInput<'a, Message> {
    text_input(placeholder, value)
        .id(id)
        .on_submit(Message::Continue)
        .padding(gap::L)
        .style(theme::input)
}

/// A field under its label.
fn labelled<'a>(label: &'a str, field: TextInput<'a, Message>) -> Element<'a, Message> {
    column![muted(label).size(text_size::BODY), field]
        .spacing(gap::S)
        .into()
}

/// The hosts found on the network, each with a Join button.
fn found_hosts(found: &[FoundHost]) -> Element<'_, Message> {
    let title = muted("Hosts on your network").size(text_size::BODY);
    if found.is_empty() {
        return column![
            title,
            muted("Looking for hosts… (or type an address below)").size(text_size::BODY),
        ]
        .spacing(gap::S)
        .into();
    }
    let rows = found.iter().map(found_host);
    column![title, column(rows).spacing(gap::S)]
        .spacing(gap::S)
        .into()
}

/// One host found on the network: its name, address and counts, and Join.
fn found_host(host: &FoundHost) -> Element<'_, Message> {
    let mut details = format!(
        "{} · {} online · {} files",
        host.address, host.announcement.participants, host.announcement.files
    );
    if let Some(fingerprint) = host.announcement.fingerprint {
        details.push_str(&format!(" · code {}", fingerprint.verification_code()));
    }
    container(
        row![
            column![
                text(visible_text(&host.announcement.name)).size(text_size::NAME),
                muted(details).size(text_size::DETAIL),
            ]
            .spacing(gap::XXS)
            .width(Length::Fill),
            action_button("Join", ButtonShape::INLINE, theme::primary_button)
                .on_press(Message::JoinFound(host.address)),
        ]
        .align_y(Alignment::Center),
    )
    .padding(gap::L)
    .style(theme::card_raised)
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(mode: Mode) -> Start {
        let setup = HostSetup::new(&crate::config::Settings::default(), DEFAULT_PORT);
        Start::new(mode, "  ".into(), String::new(), setup, ThemeChoice::System)
    }

    #[test]
    fn continue_checks_name_and_address() {
        let mut start = start(Mode::Participant);
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
        start.update(Message::ModeChosen(Mode::Host));
        start.update(Message::PasscodeChanged("open sesame".into()));
        assert_eq!(
            start.update(Message::Continue),
            Action::Host {
                name: "Bob".into(),
                passcode: Passcode::new("open sesame").ok(),
                choices: HostChoices {
                    store: crate::config::HostStore::Memory,
                    max_file_size: crate::protocol::DEFAULT_MAX_FILE_SIZE,
                    port: None,
                },
            }
        );
        // A host setting that is not right stops hosting, and says why.
        start.update(Message::Setup(host_setup::Message::PortChanged("x".into())));
        assert_eq!(start.update(Message::Continue), Action::None);
        assert!(start.error.as_deref().is_some_and(|e| e.contains("Port")));
    }

    #[test]
    fn a_host_found_on_the_network_joins_in_one_click() {
        let mut start = start(Mode::Host);
        start.update(Message::NameChanged("Bob".into()));
        // As if looking for hosts (without sending anything onto the network).
        start.found = Some(Vec::new());
        let address = std::net::SocketAddr::from(([10, 0, 0, 7], 5005));
        let found = FoundHost {
            address,
            announcement: crate::discovery::Announcement {
                host_id: "ab".into(),
                port: 5005,
                participants: 2,
                files: 5,
                name: "Hana".into(),
                fingerprint: None,
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
