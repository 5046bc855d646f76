//! The desktop app, driven through iced_test's simulator against a real host on loopback.
//!
//! The simulator draws `App::view` and turns clicks and typing into messages; the test feeds
//! them to `App::update`, and feeds the workers' events (what the app's subscriptions deliver
//! in a window) through `App::pending`.
#![cfg(feature = "gui")]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{Local, NaiveDate, TimeZone};
use common::*;
use iced::widget;
use lanshare::config::Settings;
use lanshare::gui::participant::Message as ParticipantMessage;
use lanshare::gui::start::ADDRESS_INPUT;
use lanshare::gui::{App, FONT, Launch, Message, Options};
use lanshare::participant::live::LiveEvent;
use lanshare::participant::worker::TransferUpdate;
use lanshare::participant::{Credentials, FileEntry, Peer, SessionEvent, Snapshot};
use lanshare::protocol::{Role, Sha256Digest, Ticket};

/// Options with a private config folder remembering `name`.
fn options(dir: &Path, name: &str) -> anyhow::Result<Options> {
    Settings {
        username: Some(name.into()),
        ..Settings::default()
    }
    .save(dir)?;
    Ok(Options {
        config_dir: dir.to_path_buf(),
        host_bind: SocketAddr::from(([127, 0, 0, 1], 0)),
    })
}

/// Feeds the app what its workers report until `done` has seen the message it waits for.
fn pump(app: &mut App, mut done: impl FnMut(&Message) -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let mut finished = false;
        for message in app.pending() {
            finished |= done(&message);
            let _ = app.update(message);
        }
        if finished {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    anyhow::bail!("the awaited message never came")
}

fn connected(message: &Message) -> bool {
    matches!(message, Message::Live(LiveEvent::Connected { .. }))
}

fn settings() -> iced::Settings {
    iced::Settings {
        default_font: FONT,
        ..iced::Settings::default()
    }
}

/// Runs `interact` on a simulator of the app's current view and applies the messages it made.
fn interact(
    app: &mut App,
    interact: impl FnOnce(&mut iced_test::Simulator<'_, Message>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let messages: Vec<Message> = {
        let mut ui = iced_test::Simulator::with_settings(settings(), app.view());
        interact(&mut ui)?;
        ui.into_messages().collect()
    };
    for message in messages {
        let _ = app.update(message);
    }
    Ok(())
}

/// True if the current view shows exactly this text.
fn shows(app: &App, text: &str) -> bool {
    let mut ui = iced_test::Simulator::with_settings(settings(), app.view());
    ui.find(text).is_ok()
}

#[test]
fn choosing_participant_and_connecting_reaches_the_file_list() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let mut app = App::new(Launch::Start, options(dir.path(), "Bob")?);
    assert!(shows(&app, "Connect") || shows(&app, "Start hosting"));

    let address = host.local_addr().to_string();
    interact(&mut app, |ui| {
        ui.click("Participant")?;
        Ok(())
    })?;
    interact(&mut app, |ui| {
        ui.click(widget::Id::new(ADDRESS_INPUT))?;
        ui.typewrite(&address);
        ui.click("Connect")?;
        Ok(())
    })?;
    pump(&mut app, connected)?;
    assert!(shows(
        &app,
        &format!("Connected to {address} as Bob · 1 online")
    ));
    assert!(shows(&app, "No files shared yet"));
    // The choices are remembered for next time.
    let remembered = Settings::load(dir.path());
    assert_eq!(remembered.last_host.as_deref(), Some(address.as_str()));
    assert_eq!(remembered.hosting, Some(false));
    Ok(())
}

#[test]
fn a_file_shared_by_someone_else_appears_with_its_metadata() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let launch = Launch::Join {
        address: host.local_addr().to_string(),
        user: Some("Bob".into()),
    };
    let mut app = App::new(launch, options(dir.path(), "Bob")?);
    pump(&mut app, connected)?;

    let alice = Person::new("Alice")?;
    let (session, _) = alice.join(host.local_addr())?;
    let id = share(&session, "report.pdf", &data(2_621_440, 1))?;
    pump(
        &mut app,
        |m| matches!(m, Message::Live(LiveEvent::Session(SessionEvent::FileOffered(f))) if f.id == id),
    )?;
    let uploaded = host.files()[0].uploaded_at.with_timezone(&Local);
    assert!(shows(&app, "report.pdf"));
    assert!(shows(
        &app,
        &format!(
            "2.5 MB • Uploaded by Alice • {}",
            uploaded.format("%Y-%m-%d %H:%M")
        )
    ));
    assert!(!shows(&app, "Delete"), "not Bob's file");

    // Deleted elsewhere: gone from the list at once.
    session.delete(id, Duration::from_secs(5))?;
    pump(
        &mut app,
        |m| matches!(m, Message::Live(LiveEvent::Session(SessionEvent::FileDeleted(d))) if *d == id),
    )?;
    assert!(!shows(&app, "report.pdf"));
    Ok(())
}

#[test]
fn delete_shows_on_your_own_file_only_and_removes_it() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let launch = Launch::Join {
        address: host.local_addr().to_string(),
        user: Some("Bob".into()),
    };
    let mut app = App::new(launch, options(dir.path(), "Bob")?);
    pump(&mut app, connected)?;

    // Bob drops a file onto the window; Alice shares one too.
    let mine = dir.path().join("mine.txt");
    std::fs::write(&mine, b"bob's")?;
    let _ = app.update(Message::Drop(lanshare::gui::bridge::DropEvent::Dropped(
        mine,
    )));
    pump(
        &mut app,
        |m| matches!(m, Message::Transfer(e) if matches!(e.update, TransferUpdate::Uploaded(_))),
    )?;
    let alice = Person::new("Alice")?;
    let (session, _) = alice.join(host.local_addr())?;
    share(&session, "hers.txt", b"alice's")?;
    pump(
        &mut app,
        |m| matches!(m, Message::Live(LiveEvent::Session(SessionEvent::FileOffered(f))) if f.name == "hers.txt"),
    )?;
    assert!(shows(&app, "'mine.txt' uploaded successfully!"));
    let mine_id = host
        .files()
        .iter()
        .find(|f| f.name == "mine.txt")
        .map(|f| f.id)
        .ok_or_else(|| anyhow::anyhow!("mine.txt not on the host"))?;

    // The only Delete button is on Bob's file.
    let clicked: Vec<Message> = {
        let mut ui = iced_test::Simulator::with_settings(settings(), app.view());
        ui.click("Delete")?;
        ui.into_messages().collect()
    };
    assert!(
        matches!(clicked.as_slice(), [Message::Participant(ParticipantMessage::DeleteClicked(id))] if *id == mine_id),
        "{clicked:?}"
    );
    for message in clicked {
        let _ = app.update(message);
    }
    pump(
        &mut app,
        |m| matches!(m, Message::Live(LiveEvent::Session(SessionEvent::FileDeleted(id))) if *id == mine_id),
    )?;
    assert!(!shows(&app, "mine.txt"));
    assert!(shows(&app, "hers.txt"));
    assert!(!shows(&app, "Delete"), "no Delete on Alice's file");
    assert_eq!(host.files().len(), 1);
    Ok(())
}

#[test]
fn a_failed_connection_shows_its_error_on_the_start_screen() -> TestResult {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let dir = tempfile::tempdir()?;
    let launch = Launch::Join {
        address: closed.to_string(),
        user: Some("Bob".into()),
    };
    let mut app = App::new(launch, options(dir.path(), "Bob")?);
    pump(&mut app, |m| {
        matches!(m, Message::Live(LiveEvent::Failed { .. }))
    })?;
    let mut ui = iced_test::Simulator::with_settings(settings(), app.view());
    let error = format!("cannot reach the host at {closed}: Connection refused (os error 111)");
    assert!(ui.find(error.as_str()).is_ok(), "the error is shown");
    assert!(
        ui.find("Connect").is_ok(),
        "back on the start screen, ready to retry"
    );
    Ok(())
}

#[test]
fn hosting_from_the_app_shares_like_a_participant() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut app = App::new(
        Launch::Host {
            user: Some("Hana".into()),
        },
        options(dir.path(), "Hana")?,
    );
    pump(&mut app, connected)?;
    assert!(shows(&app, "Stop hosting"));
    assert!(shows(&app, "Sharing as Hana · 1 online"));
    assert!(!shows(&app, "Leave"));
    let title = app.title();
    let port: u16 = title
        .rsplit(' ')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no port in {title:?}"))?;

    // A participant joins the app's host and shares; the host's user sees it, may delete it
    // (the host's operator), and Stop hosting ends the host.
    let guest = Person::new("Gus")?;
    let (session, _) = guest.join(SocketAddr::from(([127, 0, 0, 1], port)))?;
    share(&session, "from-gus.txt", b"hi")?;
    pump(&mut app, |m| {
        matches!(
            m,
            Message::Live(LiveEvent::Session(SessionEvent::FileOffered(_)))
        )
    })?;
    assert!(shows(&app, "from-gus.txt"));
    assert!(shows(&app, "Delete"));
    interact(&mut app, |ui| {
        ui.click("Stop hosting")?;
        Ok(())
    })?;
    assert!(shows(&app, "Start hosting"), "back on the start screen");
    assert!(wait_until(Duration::from_secs(5), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
    }));
    Ok(())
}

// ---- Snapshots: deterministic states, compared with the PNGs committed in tests/snapshots.

/// A time that shows as 2026-11-24 10:3x in any time zone.
fn local(minute: u32) -> chrono::DateTime<chrono::Utc> {
    let naive = NaiveDate::from_ymd_opt(2026, 11, 24)
        .and_then(|d| d.and_hms_opt(10, minute, 0))
        .unwrap_or_default();
    Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_default()
}

fn entry(id: u64, name: &str, size: u64, uploader: &str, uploader_id: u64) -> FileEntry {
    FileEntry {
        id,
        name: name.into(),
        size,
        uploader: uploader.into(),
        uploader_id,
        uploaded_at: local(30 + id as u32),
        sha256: Sha256Digest([0; 32]),
    }
}

fn matches_snapshot(app: &App, name: &str) -> anyhow::Result<bool> {
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
    let mut ui = iced_test::Simulator::with_settings(settings(), app.view());
    let snapshot = ui.snapshot(&app.theme())?;
    Ok(snapshot.matches_image(&path)?)
}

#[test]
fn start_screen_looks_as_committed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let app = App::new(Launch::Start, options(dir.path(), "Alice")?);
    assert!(matches_snapshot(&app, "start")?);
    Ok(())
}

#[test]
fn participant_screen_looks_as_committed() -> TestResult {
    let dir = tempfile::tempdir()?;
    // Nothing listens on port 1: the session's own events are never pumped here; the screen's
    // state comes from the snapshot below, as if the host had sent it.
    let launch = Launch::Join {
        address: "127.0.0.1:1".into(),
        user: Some("Bob".into()),
    };
    let mut app = App::new(launch, options(dir.path(), "Bob")?);
    let connected = LiveEvent::Connected {
        host: SocketAddr::from(([192, 168, 1, 20], 5005)),
        client_id: 2,
        role: Role::Participant,
        credentials: Credentials {
            client_id: 2,
            username: "Bob".into(),
            ticket: Ticket([0; 16]),
        },
        snapshot: Snapshot {
            peers: vec![
                Peer {
                    client_id: 1,
                    username: "Alice".into(),
                },
                Peer {
                    client_id: 2,
                    username: "Bob".into(),
                },
            ],
            files: vec![
                entry(1, "report.pdf", 2_621_440, "Alice", 1),
                entry(2, "holiday photo.jpg", 734_003, "Alice", 1),
                entry(3, "notes.txt", 6, "Bob", 2),
            ],
        },
    };
    let _ = app.update(Message::Live(connected));
    assert!(matches_snapshot(&app, "participant")?);
    Ok(())
}
