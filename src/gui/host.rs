//! The host screen: runs the core host inside the app and joins it, so the host's user shares
//! like anyone else. A compact panel shows where to join and the verification code, the
//! passcode and who is online (details on demand: every address, what is being served); the
//! shared files fill the rest of the window. Stopping a memory host that holds files asks
//! first, since they would be lost.

use std::net::SocketAddr;
use std::sync::Arc;

use iced::widget::{column, container, progress_bar, row, scrollable, text};
use iced::{Alignment, Element, Length, Subscription, Task};

use super::bridge;
use super::participant::{self, Participant};
use super::theme::{self, Tone, gap, text_size};
use super::widgets::{ButtonShape, action_button, lock, muted};
use crate::host::{
    ActiveTransfer, Direction, Guessing, Host, HostConfig, HostError, lan_addresses,
};
use crate::identity::Identity;
use crate::protocol::{Passcode, VerificationCode, visible_text};
use crate::storage::StorageConfig;
use crate::units::format_size;

/// The host screen's state.
pub struct Hosting {
    host: Option<Host>,
    /// The host's verification code, which participants see on first contact.
    code: VerificationCode,
    passcode: Option<Passcode>,
    addresses: Vec<SocketAddr>,
    session: Participant,
    serving: Vec<ActiveTransfer>,
    /// Passcode guessing the host saw lately.
    guessing: Option<Guessing>,
    /// Whether every address and the transfers being served are shown.
    details: bool,
    /// Files a stop would discard, while asking whether to stop.
    confirming_stop: Option<usize>,
}

/// What the host screen can be told.
#[derive(Debug, Clone)]
pub enum Message {
    /// For the embedded participant view.
    Session(participant::Message),
    /// Time to refresh the transfers being served.
    Tick,
    /// Copy an address to the clipboard.
    Copy(String),
    /// "Stop hosting" was pressed.
    Stop,
    /// Stopping was confirmed although files will be lost.
    StopConfirmed,
    /// Stopping was called off.
    KeepHosting,
    /// The details were shown or hidden.
    ToggleDetails,
}

/// What the app should do after an update.
pub enum Action {
    /// Nothing more.
    None,
    /// Run this task.
    Run(Task<Message>),
    /// Hosting ended: back to the start screen (with a reason if it failed).
    Stopped(Option<String>),
}

impl Hosting {
    /// Starts a host as `config` says and joins it as `name` with `identity` (which
    /// `config` should name as its operator); the participant's files are kept in
    /// `config_dir`.
    pub fn start(
        config: HostConfig,
        name: String,
        identity: Arc<Identity>,
        config_dir: &std::path::Path,
    ) -> Result<Self, HostError> {
        let passcode = config.passcode.clone();
        let host = Host::start(config)?;
        let code = host.fingerprint().verification_code();
        let port = host.local_addr().port();
        let addresses = if host.local_addr().ip().is_unspecified() {
            lan_addresses(port)
        } else {
            vec![host.local_addr()]
        };
        let session = Participant::join(
            format!("127.0.0.1:{port}"),
            name,
            identity,
            passcode.clone(),
        )
        .hosting()
        .keeping_files_in(config_dir);
        Ok(Self {
            host: Some(host),
            code,
            passcode,
            addresses,
            session,
            serving: Vec::new(),
            guessing: None,
            details: false,
            confirming_stop: None,
        })
    }

    /// The port the host listens on.
    pub fn port(&self) -> Option<u16> {
        self.host.as_ref().map(|host| host.local_addr().port())
    }

    /// What this screen listens to: its session's workers and a tick that refreshes the
    /// transfers being served (and redraws the session's countdowns).
    pub fn subscription(&self) -> Subscription<Message> {
        Subscription::batch([
            self.session.feeds().map(Message::Session),
            bridge::every(bridge::TICK).map(|_| Message::Tick),
        ])
    }

    /// What the session's workers have reported so far, as messages (see `App::pending`).
    pub fn pending(&self) -> Vec<Message> {
        self.session
            .pending()
            .into_iter()
            .map(Message::Session)
            .collect()
    }

    /// Handles a message.
    pub fn update(&mut self, message: Message) -> Action {
        match message {
            Message::Session(message) => match self.session.update(message) {
                participant::Action::None => {}
                participant::Action::Run(task) => return Action::Run(task.map(Message::Session)),
                participant::Action::Leave => return self.stop(None),
                participant::Action::Failed(reason) => return self.stop(Some(reason)),
            },
            Message::Tick => {
                if let Some(host) = &self.host {
                    self.serving = host.transfers();
                    self.guessing = host.stats().guessing;
                }
            }
            Message::Copy(address) => return Action::Run(iced::clipboard::write(address)),
            Message::Stop => match self.files_lost_on_stop() {
                0 => return self.stop(None),
                files => self.confirming_stop = Some(files),
            },
            Message::StopConfirmed => return self.stop(None),
            Message::KeepHosting => self.confirming_stop = None,
            Message::ToggleDetails => self.details = !self.details,
        }
        Action::None
    }

    /// How many files stopping would discard: those of a memory store.
    fn files_lost_on_stop(&self) -> usize {
        match &self.host {
            Some(host) if matches!(host.config().storage, StorageConfig::Memory { .. }) => {
                host.files().len()
            }
            _ => 0,
        }
    }

    fn stop(&mut self, reason: Option<String>) -> Action {
        if let Some(host) = self.host.take() {
            // Joining the host's threads takes a moment: not on the UI thread.
            let _ = std::thread::Builder::new()
                .name("lanshare-host-stop".into())
                .spawn(move || host.shutdown());
        }
        Action::Stopped(reason)
    }

    /// Draws the screen: the host panel above the participant view, which gets the rest.
    pub fn view(&self) -> Element<'_, Message> {
        column![
            container(self.panel()).padding([gap::M, gap::XXL]),
            self.session.view().map(Message::Session),
        ]
        .into()
    }

    /// The host's panel: its port, Details and Stop; where to join and the verification code;
    /// the passcode and who is online; then the details, or the question before stopping.
    fn panel(&self) -> Element<'_, Message> {
        let passcode = match &self.passcode {
            Some(passcode) => format!(
                "Passcode: {} (participants need it to join)",
                passcode.as_str()
            ),
            None => "No passcode: everyone on the network may join".to_owned(),
        };
        let details_label = if self.details { "Less" } else { "Details" };
        let mut people = row![
            text(passcode).size(text_size::BODY),
            muted("·").size(text_size::BODY),
            muted("Online:").size(text_size::BODY),
            text(self.online()).size(text_size::BODY),
        ]
        .spacing(gap::S);
        if let Some(serving) = self.serving_summary() {
            people = people
                .push(muted("·").size(text_size::BODY))
                .push(muted(serving).size(text_size::BODY));
        }
        let mut panel = column![
            row![
                text(format!(
                    "Hosting on port {}",
                    self.port().unwrap_or_default()
                ))
                .size(text_size::EMPHASIS)
                .width(Length::Fill),
                action_button(details_label, ButtonShape::INLINE, theme::secondary_button)
                    .on_press(Message::ToggleDetails),
                action_button("Stop hosting", ButtonShape::INLINE, theme::danger_button)
                    .on_press(Message::Stop),
            ]
            .spacing(gap::L)
            .align_y(Alignment::Center),
            row![
                muted("Join at").size(text_size::BODY),
                self.addresses(),
                lock(),
                text(format!("Verification code {}", self.code)).size(text_size::BODY),
            ]
            .spacing(gap::M)
            .align_y(Alignment::Center)
            .wrap(),
            people.wrap(),
        ]
        .spacing(gap::S);
        if let Some(guessing) = self.guessing.filter(|seen| seen.turned_away > 0) {
            panel = panel.push(guessing_warning(guessing));
        }
        if let Some(files) = self.confirming_stop {
            panel = panel.push(stop_question(files));
        } else if self.details {
            panel = panel.push(self.details());
        }
        container(panel)
            .padding([gap::L, gap::XXL])
            .width(Length::Fill)
            .style(theme::card)
            .into()
    }

    /// Every address, what the verification code is for, and the transfers being served,
    /// scrolling within a bounded height so the files stay in sight.
    fn details(&self) -> Element<'_, Message> {
        let content = column![
            muted(
                "Participants see the same verification code on first contact: if theirs \
                 differs, someone is in between."
            )
            .size(text_size::DETAIL),
            muted("Every address of this computer").size(text_size::DETAIL),
            self.all_addresses(),
            muted("Being transferred").size(text_size::DETAIL),
            self.serving(),
        ]
        .spacing(gap::S);
        container(scrollable(content).width(Length::Fill))
            .max_height(theme::HOST_DETAILS_HEIGHT)
            .into()
    }

    /// The first address participants can type, with Copy (all of them are in the details).
    fn addresses(&self) -> Element<'_, Message> {
        match self.addresses.first() {
            Some(address) => address_with_copy(address),
            None => self.no_address(),
        }
    }

    /// Said when the host has no network address.
    fn no_address(&self) -> Element<'_, Message> {
        let port = self.port().unwrap_or_default();
        text(format!(
            "No network address found: only this computer can join (127.0.0.1:{port})."
        ))
        .size(text_size::BODY)
        .style(theme::toned_text(Tone::Warning))
        .into()
    }

    /// How many transfers are being served, in words (nothing when none are).
    fn serving_summary(&self) -> Option<String> {
        match self.serving.len() {
            0 => None,
            1 => Some("serving 1 transfer".to_owned()),
            count => Some(format!("serving {count} transfers")),
        }
    }

    /// Every address participants can type, each with Copy.
    fn all_addresses(&self) -> Element<'_, Message> {
        if self.addresses.is_empty() {
            return self.no_address();
        }
        row(self.addresses.iter().map(address_with_copy))
            .spacing(gap::ADDRESSES)
            .wrap()
            .into()
    }

    /// Who is online, by name.
    fn online(&self) -> String {
        let online: Vec<&str> = self.session.peers().collect();
        if online.is_empty() {
            "Nobody yet".to_owned()
        } else {
            online.join(", ")
        }
    }

    /// The transfers the host is serving now.
    fn serving(&self) -> Element<'_, Message> {
        if self.serving.is_empty() {
            return muted("No transfers right now").size(text_size::BODY).into();
        }
        column(self.serving.iter().map(serving_row))
            .spacing(gap::S)
            .into()
    }
}

/// An address to type, large, with Copy.
fn address_with_copy(address: &SocketAddr) -> Element<'_, Message> {
    let shown = address.to_string();
    row![
        text(shown.clone()).size(text_size::EMPHASIS),
        action_button("Copy", ButtonShape::TINY, theme::secondary_button)
            .on_press(Message::Copy(shown)),
    ]
    .spacing(gap::S)
    .align_y(Alignment::Center)
    .into()
}

/// The question before stopping a memory host that holds `files` files.
fn stop_question<'a>(files: usize) -> Element<'a, Message> {
    let what = if files == 1 {
        "the 1 file shared here".to_owned()
    } else {
        format!("the {files} files shared here")
    };
    container(
        column![
            text(format!(
                "Stop hosting? This host keeps files in memory only: {what} will be lost, \
                 and everyone is disconnected."
            ))
            .size(text_size::BODY),
            row![
                action_button(
                    "Stop and discard files",
                    ButtonShape::INLINE,
                    theme::danger_button
                )
                .on_press(Message::StopConfirmed),
                action_button("Keep hosting", ButtonShape::INLINE, theme::secondary_button)
                    .on_press(Message::KeepHosting),
            ]
            .spacing(gap::L),
        ]
        .spacing(gap::M),
    )
    .padding(gap::L)
    .width(Length::Fill)
    .style(theme::banner(Tone::Warning))
    .into()
}

/// One transfer being served: what, to or from whom, and how far along.
fn serving_row(transfer: &ActiveTransfer) -> Element<'_, Message> {
    let percent = if transfer.total == 0 {
        100.0
    } else {
        transfer.done as f32 / transfer.total as f32 * 100.0
    };
    // The name comes from the network: shown without characters that hide or reorder text.
    let name = visible_text(&transfer.name);
    // By name when the host knows it (the joined participant, or a guest's uploader name).
    let who = match &transfer.participant {
        Some(participant) => visible_text(participant),
        None => transfer.peer.ip().to_string(),
    };
    let label = match transfer.direction {
        Direction::Upload => format!("↑ {name} from {who}"),
        Direction::Download => format!("↓ {name} to {who}"),
    };
    row![
        text(label)
            .size(text_size::BODY)
            .width(Length::FillPortion(3)),
        progress_bar(0.0..=100.0, percent)
            .girth(theme::SERVED_BAR_GIRTH)
            .length(Length::FillPortion(2)),
        muted(format!(
            "{} of {}",
            format_size(transfer.done),
            format_size(transfer.total)
        ))
        .size(text_size::DETAIL),
    ]
    .spacing(gap::L)
    .align_y(Alignment::Center)
    .into()
}

/// Says that someone is guessing the passcode faster than the host lets them, and from how many
/// addresses.
fn guessing_warning<'a>(seen: Guessing) -> Element<'a, Message> {
    text(format!(
        "Someone is guessing the passcode: {} wrong and {} turned away in the last minute, from \
         {} addresses. Participants who joined before are not held up.",
        seen.wrong, seen.turned_away, seen.addresses
    ))
    .size(text_size::BODY)
    .style(theme::toned_text(Tone::Warning))
    .into()
}
