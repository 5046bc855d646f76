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
use lanshare::participant::trust::HostKey;
use lanshare::participant::worker::TransferEvent;
use lanshare::participant::{Credentials, FileEntry, Peer, Snapshot};
use lanshare::protocol::{Fingerprint, Role, Ticket};

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

/// The app's default window size.
pub const DEFAULT_SIZE: iced::Size = iced::Size::new(980.0, 720.0);

/// Whether the app's view drawn at `size` matches tests/snapshots/`name`-tiny-skia.png.
pub fn matches_snapshot_at(app: &App, name: &str, size: iced::Size) -> anyhow::Result<bool> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    let committed = path.with_file_name(format!("{name}-tiny-skia.png"));
    if !committed.exists() && std::env::var_os("LANSHARE_NEW_SNAPSHOTS").is_none() {
        anyhow::bail!(
            "{} is missing: run with LANSHARE_NEW_SNAPSHOTS=1 once, look at it, commit it",
            committed.display()
        );
    }
    let mut ui = iced_test::Simulator::with_size(settings(), size, app.view());
    let snapshot = ui.snapshot(&app.theme())?;
    Ok(snapshot.matches_image(&path)?)
}

/// Bob's app showing the host's snapshot `files` with `others` and Bob (id 2) online, as if
/// the host at 192.168.1.20 had sent it; nothing listens on port 1, so the session's own
/// events never come.
pub fn bob_seeing_with(
    dir: &Path,
    others: Vec<Peer>,
    files: Vec<FileEntry>,
) -> anyhow::Result<App> {
    let mut app = bob_joining("127.0.0.1:1", dir)?;
    let bob = Peer {
        client_id: 2,
        username: "Bob".into(),
    };
    let connected = LiveEvent::Connected {
        host: SocketAddr::from(([192, 168, 1, 20], 5005)),
        client_id: 2,
        role: Role::Participant,
        credentials: Credentials {
            client_id: 2,
            username: "Bob".into(),
            ticket: Ticket([0; 16]),
        },
        host_key: HostKey {
            fingerprint: Fingerprint([0x42; 32]),
            first_contact: false,
        },
        snapshot: Snapshot {
            peers: others.into_iter().chain([bob]).collect(),
            files,
        },
    };
    let _ = app.update(Message::Participant(ParticipantMessage::Live(connected)));
    Ok(app)
}
