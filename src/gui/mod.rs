//! The desktop app (feature `gui`): a thin Iced layer over the core.
//!
//! One module per screen — [`start`], [`host`], [`participant`] — each with its own
//! `Message`, `update`, `view` and `subscription`; [`transfers`] is the progress modal they
//! share; all glue between worker threads and Iced lives in [`bridge`]; the look lives in
//! [`theme`], and the building blocks drawn in it in [`widgets`].

pub mod bridge;
pub mod host;
pub mod host_setup;
pub mod participant;
pub mod start;
pub mod theme;
pub mod transfers;
pub mod widgets;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use iced::{Element, Font, Subscription, Task, Theme, window};

use crate::config::{HostStore, Settings, ThemeChoice, config_dir, default_username};
use crate::discovery::{self, HostBrowser};
use crate::host::{Announce, DEFAULT_MEMORY_LIMIT, HostConfig};
use crate::identity::Identity;
use crate::protocol::{DEFAULT_PORT, Passcode};
use crate::storage::StorageConfig;
use crate::tls::HostIdentity;
use host::Hosting;
use host_setup::{HostChoices, HostSetup};
use participant::Participant;
use start::{Mode, Start};

/// How the app starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// On the start screen (a double-click).
    Start,
    /// Hosting straight away (`lanshare gui --host-mode`).
    Host {
        /// Display name (default: the remembered one).
        user: Option<String>,
        /// The passcode participants will need, if any.
        passcode: Option<Passcode>,
    },
    /// Joining straight away (`lanshare gui --join HOST[:PORT]`).
    Join {
        /// `HOST` or `HOST:PORT`.
        address: String,
        /// Display name (default: the remembered one).
        user: Option<String>,
        /// The host's passcode, if it has one.
        passcode: Option<Passcode>,
    },
}

/// Where the app keeps things and listens; tests point these elsewhere.
#[derive(Debug, Clone)]
pub struct Options {
    /// The config folder (identity and remembered choices).
    pub config_dir: PathBuf,
    /// Where the host listens when this app hosts; its port unless the user typed another
    /// on the start screen.
    pub host_bind: SocketAddr,
    /// Whether to announce this app's host and look for others on the network.
    pub discovery: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            config_dir: config_dir(),
            host_bind: SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)),
            discovery: discovery::enabled(),
        }
    }
}

/// The screen on show, which owns what it needs (its workers, its host).
enum Screen {
    Start(Box<Start>),
    Host(Box<Hosting>),
    Participant(Box<Participant>),
}

/// Everything the app can be told: a message for one of its screens.
#[derive(Debug, Clone)]
pub enum Message {
    /// For the start screen.
    Start(start::Message),
    /// For the host screen.
    Host(host::Message),
    /// For the participant screen.
    Participant(participant::Message),
    /// The desktop's light or dark preference (told at start and when it changes).
    SystemTheme(iced::theme::Mode),
}

/// The app.
pub struct App {
    screen: Screen,
    options: Options,
    identity: Result<Arc<Identity>, String>,
    /// The colours chosen (remembered).
    theme: ThemeChoice,
    /// What the desktop prefers, for [`ThemeChoice::System`].
    system_theme: iced::theme::Mode,
}

impl App {
    /// Creates the app as `launch` says.
    pub fn new(launch: Launch, options: Options) -> Self {
        let settings = Settings::load(&options.config_dir);
        crate::participant::trust::keep_pins_in(&options.config_dir);
        let identity = Identity::load_or_create(&options.config_dir)
            .map(Arc::new)
            .map_err(|error| {
                format!(
                    "Could not load your identity from {}: {error}",
                    options.config_dir.display()
                )
            });
        let default_port = options.host_bind.port();
        let mut app = Self {
            screen: Screen::Start(Box::new(start_from(&settings, false, default_port))),
            options,
            identity,
            theme: settings.theme.unwrap_or_default(),
            system_theme: iced::theme::Mode::None,
        };
        let name = |user: Option<String>| user.unwrap_or_else(|| default_username(&settings));
        match launch {
            Launch::Start => app.look_for_hosts(),
            Launch::Host { user, passcode } => app.launch(start::Action::Host {
                name: name(user),
                passcode,
                // The remembered settings, on the port given (the command line's).
                choices: HostChoices {
                    port: None,
                    ..remembered_choices(&settings)
                },
            }),
            Launch::Join {
                address,
                user,
                passcode,
            } => app.launch(start::Action::Join {
                address,
                name: name(user),
                passcode,
            }),
        }
        app
    }

    /// On the start screen, lists the hosts on the network as they come and go.
    fn look_for_hosts(&mut self) {
        if !self.options.discovery {
            return;
        }
        let Screen::Start(start) = &mut self.screen else {
            return;
        };
        match HostBrowser::start(discovery::DISCOVERY_PORT) {
            Ok(browser) => start.browse(browser),
            Err(error) => tracing::warn!("Not looking for hosts on the network: {error}"),
        }
    }

    /// Leaves the start screen for hosting or joining, or stays there with the reason.
    fn launch(&mut self, action: start::Action) {
        let identity = match &self.identity {
            Ok(identity) => Arc::clone(identity),
            Err(error) => {
                self.back_to_start(Some(error.clone()));
                return;
            }
        };
        let mut settings = Settings::load(&self.options.config_dir);
        match action {
            start::Action::None | start::Action::ChooseFolder | start::Action::Theme(_) => return,
            start::Action::Host {
                name,
                passcode,
                choices,
            } => {
                if let Err(reason) = self.start_hosting(name.clone(), passcode, &choices, identity)
                {
                    // Still on the start screen, all as typed: say why, in words.
                    match &mut self.screen {
                        Screen::Start(start) => start.show_error(reason),
                        _ => self.back_to_start(Some(reason)),
                    }
                    return;
                }
                settings.hosting = Some(true);
                settings.username = Some(name);
                settings.host_store = Some(choices.store);
                settings.host_max_file_size = Some(choices.max_file_size);
                settings.host_port = choices.port.or(settings.host_port);
            }
            start::Action::Join {
                address,
                name,
                passcode,
            } => {
                self.screen = Screen::Participant(Box::new(
                    Participant::join(address.clone(), name.clone(), identity, passcode)
                        .keeping_files_in(&self.options.config_dir),
                ));
                settings.hosting = Some(false);
                settings.username = Some(name);
                settings.last_host = Some(address);
            }
        }
        if let Err(error) = settings.save(&self.options.config_dir) {
            tracing::warn!("Could not remember your choices: {error}");
        }
    }

    /// Starts a host here as `choices` say (announced if discovery is on) and shows it, or
    /// says why not.
    fn start_hosting(
        &mut self,
        name: String,
        passcode: Option<Passcode>,
        choices: &HostChoices,
        identity: Arc<Identity>,
    ) -> Result<(), String> {
        let announce = self.options.discovery.then(|| Announce {
            name: format!("{name} on {}", discovery::machine_name()),
            port: discovery::DISCOVERY_PORT,
        });
        let dir = &self.options.config_dir;
        let host_identity = HostIdentity::load_or_create(dir).map_err(|error| {
            format!(
                "Could not load this host's identity from {}: {error}",
                dir.display()
            )
        })?;
        let port = choices.port.unwrap_or(self.options.host_bind.port());
        let storage = match &choices.store {
            HostStore::Memory => StorageConfig::Memory {
                limit: DEFAULT_MEMORY_LIMIT.max(choices.max_file_size),
            },
            HostStore::Folder(dir) => StorageConfig::Disk {
                dir: dir.clone(),
                limit: None,
            },
        };
        let config = HostConfig {
            bind: SocketAddr::new(self.options.host_bind.ip(), port),
            announce,
            storage,
            max_file_size: choices.max_file_size,
            passcode,
            operator: Some(identity.public_key()),
            identity: Some(host_identity),
            ..HostConfig::default()
        };
        let hosting = Hosting::start(config, name, identity, dir).map_err(|error| {
            if error.is_address_in_use() {
                format!(
                    "Port {port} is in use — is another host running? Choose another port \
                     below and try again."
                )
            } else {
                format!("Could not start hosting: {error}")
            }
        })?;
        self.screen = Screen::Host(Box::new(hosting));
        Ok(())
    }

    fn back_to_start(&mut self, error: Option<String>) {
        let settings = Settings::load(&self.options.config_dir);
        let was_hosting = matches!(self.screen, Screen::Host(_));
        let start = start_from(&settings, was_hosting, self.options.host_bind.port());
        self.screen = Screen::Start(Box::new(match error {
            Some(error) => start.with_error(error),
            None => start,
        }));
        self.look_for_hosts();
    }

    /// Handles a message.
    pub fn update(&mut self, message: Message) -> Task<Message> {
        match (&mut self.screen, message) {
            (_, Message::SystemTheme(mode)) => self.system_theme = mode,
            (Screen::Start(start), Message::Start(message)) => match start.update(message) {
                start::Action::ChooseFolder => {
                    return bridge::pick_folder("Keep shared files in", None).map(|result| {
                        Message::Start(start::Message::Setup(host_setup::Message::FolderPicked(
                            result,
                        )))
                    });
                }
                start::Action::Theme(choice) => self.choose_theme(choice),
                action => self.launch(action),
            },
            (Screen::Participant(screen), Message::Participant(message)) => {
                match screen.update(message) {
                    participant::Action::None => {}
                    participant::Action::Run(task) => return task.map(Message::Participant),
                    participant::Action::Leave => self.back_to_start(None),
                    participant::Action::Failed(reason) => {
                        self.back_to_start(Some(participant::failed_to_join(&reason)));
                    }
                }
            }
            (Screen::Host(screen), Message::Host(message)) => match screen.update(message) {
                host::Action::None => {}
                host::Action::Run(task) => return task.map(Message::Host),
                host::Action::Stopped(reason) => self.back_to_start(reason),
            },
            // A message for a screen that is gone (e.g. a late event after leaving).
            _ => {}
        }
        Task::none()
    }

    /// Draws the current screen.
    pub fn view(&self) -> Element<'_, Message> {
        match &self.screen {
            Screen::Start(start) => start.view().map(Message::Start),
            Screen::Host(hosting) => hosting.view().map(Message::Host),
            Screen::Participant(screen) => screen.view().map(Message::Participant),
        }
    }

    /// The window title.
    pub fn title(&self) -> String {
        match &self.screen {
            Screen::Start(_) => "lanshare".to_owned(),
            Screen::Host(hosting) => format!(
                "lanshare — hosting on port {}",
                hosting.port().unwrap_or_default()
            ),
            Screen::Participant(_) => "lanshare — shared files".to_owned(),
        }
    }

    /// Draws the app in `choice`'s colours from now on, and remembers them.
    fn choose_theme(&mut self, choice: ThemeChoice) {
        self.theme = choice;
        let mut settings = Settings::load(&self.options.config_dir);
        settings.theme = Some(choice);
        if let Err(error) = settings.save(&self.options.config_dir) {
            tracing::warn!("Could not remember your choices: {error}");
        }
    }

    /// The theme chosen: dark, light, or the desktop's preference (dark when it has none).
    pub fn theme(&self) -> Theme {
        theme::theme(self.theme, self.system_theme)
    }

    /// What the current screen listens to: its workers' channels and window events.
    pub fn subscription(&self) -> Subscription<Message> {
        let screen = match &self.screen {
            Screen::Start(start) => start.subscription().map(Message::Start),
            Screen::Host(hosting) => hosting.subscription().map(Message::Host),
            Screen::Participant(screen) => screen.subscription().map(Message::Participant),
        };
        Subscription::batch([
            screen,
            iced::system::theme_changes().map(Message::SystemTheme),
        ])
    }

    /// The desktop notifications the participant screen sent lately (their ids, which a
    /// notification's "Show" names, and summaries), oldest first; none on other screens.
    pub fn notifications(&self) -> Vec<(u64, String)> {
        match &self.screen {
            Screen::Participant(screen) => screen.notifications(),
            _ => Vec::new(),
        }
    }

    /// Everything the current screen's workers have reported so far, as messages: what the
    /// subscriptions deliver in a window, for driving the app without one.
    pub fn pending(&self) -> Vec<Message> {
        match &self.screen {
            Screen::Start(_) => Vec::new(),
            Screen::Host(hosting) => hosting.pending().into_iter().map(Message::Host).collect(),
            Screen::Participant(screen) => screen
                .pending()
                .into_iter()
                .map(Message::Participant)
                .collect(),
        }
    }
}

/// The start screen as the remembered `settings` set it up: the mode last picked (Host also
/// when `was_hosting`), the name, the last host's address, the host's settings (on
/// `default_port` unless one was chosen) and the app's colours.
fn start_from(settings: &Settings, was_hosting: bool, default_port: u16) -> Start {
    let mode = if was_hosting || settings.hosting == Some(true) {
        Mode::Host
    } else {
        Mode::Participant
    };
    Start::new(
        mode,
        default_username(settings),
        settings.last_host.clone().unwrap_or_default(),
        HostSetup::new(settings, default_port),
        settings.theme.unwrap_or_default(),
    )
}

/// The host's settings as remembered (the defaults where none are).
fn remembered_choices(settings: &Settings) -> HostChoices {
    HostChoices {
        store: settings.host_store.clone().unwrap_or(HostStore::Memory),
        max_file_size: settings
            .host_max_file_size
            .unwrap_or(crate::protocol::DEFAULT_MAX_FILE_SIZE),
        port: settings.host_port,
    }
}

/// The window icon, from resources/icon.png.
fn window_icon() -> Option<window::Icon> {
    let decoder = png::Decoder::new(std::io::Cursor::new(include_bytes!(
        "../../resources/icon.png"
    )));
    let mut reader = decoder.read_info().ok()?;
    let mut rgba = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut rgba).ok()?;
    rgba.truncate(info.buffer_size());
    window::icon::from_rgba(rgba, info.width, info.height).ok()
}

/// The font the app (and its snapshot tests) draw with.
pub const FONT: Font = Font::with_name("DejaVu Sans");

/// On Linux and the BSDs a window needs an X11 or Wayland display; without one, iced would
/// panic while creating its event loop, so say so first.
fn check_display() -> anyhow::Result<()> {
    let unix_desktop = cfg!(all(unix, not(target_os = "macos")));
    let has_display = ["DISPLAY", "WAYLAND_DISPLAY", "WAYLAND_SOCKET"]
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()));
    if unix_desktop && !has_display {
        anyhow::bail!(
            "no display to open a window on (neither DISPLAY nor WAYLAND_DISPLAY is set)"
        );
    }
    Ok(())
}

/// Opens the window and runs the app until it is closed.
pub fn run(launch: Launch, options: Options) -> anyhow::Result<()> {
    check_display()?;
    iced::application(
        move || {
            let app = App::new(launch.clone(), options.clone());
            (app, iced::system::theme().map(Message::SystemTheme))
        },
        App::update,
        App::view,
    )
    .title(App::title)
    .subscription(App::subscription)
    .theme(App::theme)
    .default_font(FONT)
    .window(window::Settings {
        size: iced::Size::new(980.0, 720.0),
        min_size: Some(iced::Size::new(600.0, 400.0)),
        icon: window_icon(),
        ..window::Settings::default()
    })
    .run()
    .map_err(|error| anyhow::anyhow!("could not open the lanshare window: {error}"))
}
