//! The host screen: runs the core host inside the app and joins it, so the host's user shares
//! like anyone else. Shows the addresses to type, who is online, what is being served, and
//! the shared files.

use std::net::SocketAddr;
use std::sync::Arc;

use iced::widget::{button, column, container, progress_bar, row, text};
use iced::{Alignment, Element, Length, Task};

use super::participant::{self, Participant};
use super::theme;
use crate::host::{ActiveTransfer, Announce, Direction, Host, HostConfig, lan_addresses};
use crate::identity::Identity;
use crate::participant::worker::TransferEvent;
use crate::protocol::Passcode;
use crate::units::format_size;

/// The host screen's state.
pub struct Hosting {
    host: Option<Host>,
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
    /// Starts a host on `bind` (announced on the network if `announce` says so) and joins it
    /// as `name` with `identity` (the operator).
    pub fn start(
        bind: SocketAddr,
        announce: Option<Announce>,
        passcode: Option<Passcode>,
        name: String,
        identity: Arc<Identity>,
        transfer_events: flume::Sender<TransferEvent>,
    ) -> anyhow::Result<Self> {
        let host = Host::start(HostConfig {
            bind,
            announce,
            passcode: passcode.clone(),
            operator: Some(identity.public_key()),
            ..HostConfig::default()
        })?;
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
            transfer_events,
        )
        .hosting();
        Ok(Self {
            host: Some(host),
            passcode,
            addresses,
            session,
            serving: Vec::new(),
        })
    }

    /// The embedded participant screen.
    pub fn session(&self) -> &Participant {
        &self.session
    }

    /// The port the host listens on.
    pub fn port(&self) -> Option<u16> {
        self.host.as_ref().map(|host| host.local_addr().port())
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
        let port = self.port().unwrap_or_default();
        let addresses: Element<'_, Message> = if self.addresses.is_empty() {
            text(format!(
                "No network address found: only this computer can join (127.0.0.1:{port})."
            ))
            .size(14)
            .color(theme::WARNING)
            .into()
        } else {
            row(self.addresses.iter().map(|address| {
                let shown = address.to_string();
                row![
                    text(shown.clone()).size(18),
                    button(text("Copy").size(12))
                        .padding([3, 8])
                        .style(theme::secondary_button)
                        .on_press(Message::Copy(shown)),
                ]
                .spacing(6)
                .align_y(Alignment::Center)
                .into()
            }))
            .spacing(18)
            .wrap()
            .into()
        };
        let online: Vec<&str> = self.session.peers().collect();
        let online = if online.is_empty() {
            "Nobody yet".to_owned()
        } else {
            online.join(", ")
        };
        let serving: Element<'_, Message> = if self.serving.is_empty() {
            text("No transfers right now")
                .size(14)
                .color(theme::MUTED)
                .into()
        } else {
            column(self.serving.iter().map(serving_row))
                .spacing(6)
                .into()
        };
        let panel = container(
            column![
                row![
                    text(format!("Hosting on port {port}"))
                        .size(22)
                        .width(Length::Fill),
                    button(text("Stop hosting").size(15))
                        .padding([8, 16])
                        .style(theme::danger_button)
                        .on_press(Message::Stop),
                ]
                .align_y(Alignment::Center),
                text("Participants join at").size(13).color(theme::MUTED),
                addresses,
                text(match &self.passcode {
                    Some(passcode) => format!(
                        "Passcode: {} (participants need it to join)",
                        passcode.as_str()
                    ),
                    None => "No passcode: everyone on the network may join".to_owned(),
                })
                .size(14),
                row![
                    text("Online:").size(14).color(theme::MUTED),
                    text(online).size(14),
                ]
                .spacing(6),
                text("Being transferred").size(13).color(theme::MUTED),
                serving,
            ]
            .spacing(8),
        )
        .padding(16)
        .width(Length::Fill)
        .style(theme::card);
        column![
            container(panel).padding([0, 16]).padding(16),
            self.session.view().map(Message::Session),
        ]
        .into()
    }
}

fn serving_row(transfer: &ActiveTransfer) -> Element<'_, Message> {
    let percent = if transfer.total == 0 {
        100.0
    } else {
        transfer.done as f32 / transfer.total as f32 * 100.0
    };
    let label = match transfer.direction {
        Direction::Upload => format!("↑ {} from {}", transfer.name, transfer.peer.ip()),
        Direction::Download => format!("↓ {} to {}", transfer.name, transfer.peer.ip()),
    };
    row![
        text(label).size(14).width(Length::FillPortion(3)),
        progress_bar(0.0..=100.0, percent)
            .girth(6)
            .length(Length::FillPortion(2)),
        text(format!(
            "{} of {}",
            format_size(transfer.done),
            format_size(transfer.total)
        ))
        .size(13)
        .color(theme::MUTED),
    ]
    .spacing(10)
    .align_y(Alignment::Center)
    .into()
}
