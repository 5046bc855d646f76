//! What the desktop app's simulator tests share (tests/gui.rs, tests/gui_direct.rs): the app's
//! options, launching it, the messages it is fed, and reading its view.
#![allow(dead_code)] // Each test file uses a different part of these helpers.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use iced::futures::StreamExt;
use lanshare::config::Settings;
use lanshare::gui::host::Message as HostMessage;
use lanshare::gui::participant::Message as ParticipantMessage;
use lanshare::gui::{App, FONT, Launch, Message, Options};
use lanshare::participant::live::LiveEvent;
use lanshare::participant::worker::TransferEvent;

/// Options with a private config folder remembering `name`.
pub fn options(dir: &Path, name: &str) -> anyhow::Result<Options> {
    Settings {
        username: Some(name.into()),
        ..Settings::default()
    }
    .save(dir)?;
    Ok(Options {
        config_dir: dir.to_path_buf(),
        host_bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        // Tests send nothing beyond loopback: no announcing, no looking for hosts.
        discovery: false,
    })
}

/// The app launched straight into joining `address` as Bob, with its settings in `dir`.
pub fn bob_joining(address: impl ToString, dir: &Path) -> anyhow::Result<App> {
    let launch = Launch::Join {
        address: address.to_string(),
        user: Some("Bob".into()),
        passcode: None,
    };
    Ok(App::new(launch, options(dir, "Bob")?))
}

/// The simulator's settings: the app's own font.
pub fn settings() -> iced::Settings {
    iced::Settings {
        default_font: FONT,
        ..iced::Settings::default()
    }
}

/// What a file dialog returns when `chosen` was chosen (tests answer dialogs themselves;
/// [`perform`] never opens one).
pub fn dialog<T>(chosen: Option<T>) -> lanshare::gui::bridge::DialogResult<T> {
    lanshare::gui::bridge::DialogResult {
        opened: Instant::now() - Duration::from_secs(2),
        chosen,
    }
}

/// The live-session event in `message`, whichever screen holds the session.
pub fn live(message: &Message) -> Option<&LiveEvent> {
    match message {
        Message::Participant(ParticipantMessage::Live(event))
        | Message::Host(HostMessage::Session(ParticipantMessage::Live(event))) => Some(event),
        _ => None,
    }
}

/// The transfer event in `message`, whichever screen holds the transfer.
pub fn transfer(message: &Message) -> Option<&TransferEvent> {
    match message {
        Message::Participant(ParticipantMessage::Transfer(event))
        | Message::Host(HostMessage::Session(ParticipantMessage::Transfer(event))) => Some(event),
        _ => None,
    }
}

/// Runs a task `update` returned (file-system work) to its end and feeds the app the
/// messages it produced, as the runtime does in a window.
pub fn perform(app: &mut App, task: iced::Task<Message>) {
    let Some(stream) = iced_test::runtime::task::into_stream(task) else {
        return;
    };
    let actions: Vec<_> = iced::futures::executor::block_on(stream.collect());
    for action in actions {
        if let iced_test::runtime::Action::Output(message) = action {
            let next = app.update(message);
            perform(app, next);
        }
    }
}

/// Every text in the current view.
pub fn texts(app: &App) -> Vec<String> {
    let mut ui = iced_test::Simulator::with_settings(settings(), app.view());
    let mut seen = Vec::new();
    let _ = ui.find(|candidate: iced_test::selector::Candidate<'_>| {
        if let iced_test::selector::Candidate::Text { content, .. } = candidate {
            seen.push(content.to_owned());
        }
        None::<()>
    });
    seen
}

/// True if some text in the current view contains `part`.
pub fn view_contains(app: &App, part: &str) -> bool {
    let mut ui = iced_test::Simulator::with_settings(settings(), app.view());
    let part = part.to_owned();
    ui.find(
        move |candidate: iced_test::selector::Candidate<'_>| match candidate {
            // No-break spaces (which keep a verification code on one line) read as spaces.
            iced_test::selector::Candidate::Text { content, .. }
                if content.replace('\u{a0}', " ").contains(&part) =>
            {
                Some(())
            }
            _ => None,
        },
    )
    .is_ok()
}

/// Whether `message` is a transfer's last event.
pub fn transfer_ended(message: &Message) -> bool {
    matches!(transfer(message), Some(e) if e.update.is_final())
}
