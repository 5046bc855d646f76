//! The host screen: runs the core host inside the app and joins it, so the host's user shares
//! like anyone else. Shows the addresses to type, who is online, what is being served, and
//! the shared files.

use std::net::SocketAddr;
use std::sync::Arc;

use iced::widget::{column, container, progress_bar, row, text};
use iced::{Alignment, Element, Length, Subscription, Task};

use super::bridge;
use super::participant::{self, Participant};
use super::theme::{self, Tone, gap, text_size};
use super::widgets::{ButtonShape, action_button, lock, muted};
use crate::host::{
    ActiveTransfer, Announce, Direction, Host, HostConfig, HostError, lan_addresses,
};
use crate::identity::Identity;
use crate::protocol::{Passcode, VerificationCode, visible_text};
use crate::tls::HostIdentity;
use crate::units::format_size;

/// The thickness of a served transfer's progress bar (thinner than the participant's own).
const BAR_GIRTH: f32 = 6.0;

/// The host screen's state.
pub struct Hosting {
    host: Option<Host>,
    /// The host's verification code, which participants see on first contact.
    code: VerificationCode,
    passcode: Option<Passcode>,
    addresses: Vec<SocketAddr>,
    session: Participant,
    serving: Vec<ActiveTransfer>,
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
    /// Starts a host on `bind` (announced on the network if `announce` says so), showing
    /// `host_identity` to participants, and joins it as `name` with `identity` (the operator).
    pub fn start(
        bind: SocketAddr,
        announce: Option<Announce>,
        passcode: Option<Passcode>,
        name: String,
        identity: Arc<Identity>,
        host_identity: HostIdentity,
    ) -> Result<Self, HostError> {
        let host = Host::start(HostConfig {
            bind,
            announce,
            passcode: passcode.clone(),
            operator: Some(identity.public_key()),
            identity: Some(host_identity),
            ..HostConfig::default()
        })?;
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
        .hosting();
        Ok(Self {
            host: Some(host),
            code,
            passcode,
            addresses,
            session,
            serving: Vec::new(),
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
                }
            }
            Message::Copy(address) => return Action::Run(iced::clipboard::write(address)),
            Message::Stop => return self.stop(None),
        }
        Action::None
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

    /// Draws the screen: the host panel above the participant view.
    pub fn view(&self) -> Element<'_, Message> {
        column![
            container(self.panel()).padding(gap::XXL),
            self.session.view().map(Message::Session),
        ]
        .into()
    }

    /// The host's panel: its port and Stop, where to join, the passcode, who is online and
    /// what is being transferred.
    fn panel(&self) -> Element<'_, Message> {
        let passcode = match &self.passcode {
            Some(passcode) => format!(
                "Passcode: {} (participants need it to join)",
                passcode.as_str()
            ),
            None => "No passcode: everyone on the network may join".to_owned(),
        };
        container(
            column![
                row![
                    text(format!(
                        "Hosting on port {}",
                        self.port().unwrap_or_default()
                    ))
                    .size(text_size::PANEL_TITLE)
                    .width(Length::Fill),
                    action_button("Stop hosting", ButtonShape::HEADER, theme::danger_button)
                        .on_press(Message::Stop),
                ]
                .align_y(Alignment::Center),
                muted("Participants join at").size(text_size::DETAIL),
                self.addresses(),
                row![
                    lock(),
                    text(format!("Verification code {}", self.code)).size(text_size::BODY),
                    muted(
                        "(participants see the same code: if theirs differs, someone is in between)"
                    )
                    .size(text_size::DETAIL),
                ]
                .spacing(gap::S)
                .align_y(Alignment::Center),
                text(passcode).size(text_size::BODY),
                row![
                    muted("Online:").size(text_size::BODY),
                    text(self.online()).size(text_size::BODY),
                ]
                .spacing(gap::S),
                muted("Being transferred").size(text_size::DETAIL),
                self.serving(),
            ]
            .spacing(gap::M),
        )
        .padding(gap::XXL)
        .width(Length::Fill)
        .style(theme::card)
        .into()
    }

    /// The addresses participants can type, each with Copy.
    fn addresses(&self) -> Element<'_, Message> {
        if self.addresses.is_empty() {
            let port = self.port().unwrap_or_default();
            return text(format!(
                "No network address found: only this computer can join (127.0.0.1:{port})."
            ))
            .size(text_size::BODY)
            .style(theme::toned_text(Tone::Warning))
            .into();
        }
        row(self.addresses.iter().map(|address| {
            let shown = address.to_string();
            row![
                text(shown.clone()).size(text_size::EMPHASIS),
                action_button("Copy", ButtonShape::TINY, theme::secondary_button)
                    .on_press(Message::Copy(shown)),
            ]
            .spacing(gap::S)
            .align_y(Alignment::Center)
            .into()
        }))
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

/// One transfer being served: what, to or from whom, and how far along.
fn serving_row(transfer: &ActiveTransfer) -> Element<'_, Message> {
    let percent = if transfer.total == 0 {
        100.0
    } else {
        transfer.done as f32 / transfer.total as f32 * 100.0
    };
    // The name comes from the network: shown without characters that hide or reorder text.
    let name = visible_text(&transfer.name);
    let label = match transfer.direction {
        Direction::Upload => format!("↑ {name} from {}", transfer.peer.ip()),
        Direction::Download => format!("↓ {name} to {}", transfer.peer.ip()),
    };
    row![
        text(label)
            .size(text_size::BODY)
            .width(Length::FillPortion(3)),
        progress_bar(0.0..=100.0, percent)
            .girth(BAR_GIRTH)
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
