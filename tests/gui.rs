//! The desktop app, driven through iced_test's simulator against a real host on loopback.
//!
//! The simulator draws `App::view` and turns clicks and typing into messages; the test feeds
//! them to `App::update`, and feeds the workers' events (what the app's subscriptions deliver
//! in a window) through `App::pending`.
#![cfg(feature = "gui")]

mod common;
mod gui_support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{Local, NaiveDate, TimeZone};
use common::*;
use gui_support::*;
use iced::widget;
use lanshare::config::Settings;
use lanshare::gui::host::Message as HostMessage;
use lanshare::gui::participant::Message as ParticipantMessage;
use lanshare::gui::start::{ADDRESS_INPUT, PASSCODE_INPUT};
use lanshare::gui::{App, Launch, Message, Options};
use lanshare::participant::live::LiveEvent;
use lanshare::participant::worker::TransferUpdate;
use lanshare::participant::{Credentials, FileEntry, Peer, SessionEvent, Snapshot};
use lanshare::protocol::{Role, Sha256Digest, Ticket};

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
    matches!(live(message), Some(LiveEvent::Connected { .. }))
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

/// The app launched straight into hosting as Hana, with its settings in `dir`, once its own
/// session has joined.
fn hana_hosting(dir: &Path) -> anyhow::Result<App> {
    let launch = Launch::Host {
        user: Some("Hana".into()),
        passcode: None,
    };
    let mut app = App::new(launch, options(dir, "Hana")?);
    pump(&mut app, connected)?;
    Ok(app)
}

/// Tells the app the undo time of a delete asked for now has passed.
fn after_undo_time(app: &mut App) {
    let later = Instant::now() + lanshare::gui::participant::UNDO_TIME + Duration::from_millis(100);
    let _ = app.update(Message::Participant(ParticipantMessage::Tick(later)));
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
    let mut app = bob_joining(host.local_addr(), dir.path())?;
    pump(&mut app, connected)?;

    let alice = Person::new("Alice")?;
    let (session, _) = alice.join(host.local_addr())?;
    let id = share(&session, "report.pdf", &data(2_621_440, 1))?;
    pump(
        &mut app,
        |m| matches!(live(m), Some(LiveEvent::Session(SessionEvent::FileOffered(f))) if f.id == id),
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
        |m| matches!(live(m), Some(LiveEvent::Session(SessionEvent::FileDeleted(d))) if *d == id),
    )?;
    assert!(!shows(&app, "report.pdf"));
    Ok(())
}

#[test]
fn delete_shows_on_your_own_file_only_and_removes_it() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let mut app = bob_joining(host.local_addr(), dir.path())?;
    pump(&mut app, connected)?;

    // Bob drops a file onto the window; Alice shares one too.
    let mine = dir.path().join("mine.txt");
    std::fs::write(&mine, b"bob's")?;
    // Reading the dropped file's size is a task of the app's: run it, as a window would.
    let listing = app.update(Message::Participant(ParticipantMessage::Drop(
        lanshare::gui::bridge::DropEvent::Dropped(mine),
    )));
    perform(&mut app, listing);
    pump(
        &mut app,
        |m| matches!(transfer(m), Some(e) if matches!(e.update, TransferUpdate::Uploaded(_))),
    )?;
    let alice = Person::new("Alice")?;
    let (session, _) = alice.join(host.local_addr())?;
    share(&session, "hers.txt", b"alice's")?;
    pump(
        &mut app,
        |m| matches!(live(m), Some(LiveEvent::Session(SessionEvent::FileOffered(f))) if f.name == "hers.txt"),
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
    // The delete waits out its undo time in place, then goes; the host confirms it.
    assert!(shows(&app, "Undo"));
    assert!(shows(&app, "mine.txt"));
    assert_eq!(host.files().len(), 2, "not sent during the undo time");
    after_undo_time(&mut app);
    pump(
        &mut app,
        |m| matches!(live(m), Some(LiveEvent::Session(SessionEvent::FileDeleted(id))) if *id == mine_id),
    )?;
    assert!(shows(&app, "Deleted mine.txt"));
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
    let mut app = bob_joining(closed, dir.path())?;
    pump(&mut app, |m| {
        matches!(live(m), Some(LiveEvent::Failed { .. }))
    })?;
    let mut ui = iced_test::Simulator::with_settings(settings(), app.view());
    let error = format!(
        "The host is not answering — it may have stopped. Check the address, and that the host \
         is running. (cannot reach the host at {closed}: Connection refused (os error 111))"
    );
    assert!(
        ui.find(error.as_str()).is_ok(),
        "the error is shown, in words"
    );
    assert!(
        ui.find("Connect").is_ok(),
        "back on the start screen, ready to retry"
    );
    Ok(())
}

#[test]
fn hosting_from_the_app_shares_like_a_participant() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut app = hana_hosting(dir.path())?;
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
            live(m),
            Some(LiveEvent::Session(SessionEvent::FileOffered(_)))
        )
    })?;
    assert!(shows(&app, "from-gus.txt"));
    assert!(shows(&app, "Delete"));
    interact(&mut app, |ui| {
        ui.click("Stop hosting")?;
        Ok(())
    })?;
    // Gus's file is only in memory: the app asks before discarding it.
    interact(&mut app, |ui| {
        ui.click("Stop and discard files")?;
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
        check: None,
        details: Default::default(),
    }
}

fn matches_snapshot(app: &App, name: &str) -> anyhow::Result<bool> {
    matches_snapshot_at(app, name, iced::window::Settings::default().size)
}

/// The smallest window size the app allows.
const SMALLEST_SIZE: iced::Size = iced::Size::new(600.0, 400.0);

#[test]
fn start_screen_looks_as_committed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let app = App::new(Launch::Start, options(dir.path(), "Alice")?);
    assert!(matches_snapshot(&app, "start")?);
    Ok(())
}

/// Bob's app showing the host's snapshot `files`, Alice (id 1) and Bob (id 2) online.
fn bob_seeing(dir: &Path, files: Vec<FileEntry>) -> anyhow::Result<App> {
    let alice = Peer {
        client_id: 1,
        username: "Alice".into(),
    };
    bob_seeing_with(dir, vec![alice], files)
}

/// The files of the participant snapshots: several kinds, Bob's own among them.
fn snapshot_files() -> Vec<FileEntry> {
    vec![
        entry(1, "report.pdf", 2_621_440, "Alice", 1),
        entry(2, "holiday photo.jpg", 734_003, "Alice", 1),
        entry(3, "notes.txt", 6, "Bob", 2),
        entry(4, "interview.mp3", 8_912_896, "Alice", 1),
        entry(
            5,
            "backup of the shared drive with a very long name.tar.gz",
            1_288_490_189,
            "Alice",
            1,
        ),
        entry(6, "main.rs", 4_096, "Bob", 2),
    ]
}

#[test]
fn participant_screen_fits_its_default_size_and_the_smallest() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut app = bob_seeing(dir.path(), snapshot_files())?;
    // One file ticked, the keyboard on another, a toast over the list.
    let _ = app.update(Message::Participant(ParticipantMessage::Ticked(2, true)));
    let _ = app.update(Message::Participant(ParticipantMessage::Select(4)));
    let _ = app.update(Message::Participant(ParticipantMessage::DeleteClicked(3)));
    let _ = app.update(Message::Participant(ParticipantMessage::UndoDelete(3)));
    assert!(shows(&app, "Delete undone"));
    assert!(matches_snapshot_at(
        &app,
        "participant-980x720",
        DEFAULT_SIZE
    )?);
    assert!(matches_snapshot_at(
        &app,
        "participant-600x400",
        SMALLEST_SIZE
    )?);
    Ok(())
}

#[test]
fn downloads_are_saved_where_chosen_and_a_cancelled_one_leaves_nothing() -> TestResult {
    let host = start(lanshare::host::HostConfig {
        max_file_size: 1 << 30,
        ..config()
    })?;
    let dir = tempfile::tempdir()?;
    let mut app = bob_joining(host.local_addr(), dir.path())?;
    pump(&mut app, connected)?;
    let alice = Person::new("Alice")?;
    let (session, _) = alice.join(host.local_addr())?;
    let content = data(3_000_000, 8);
    let small = share(&session, "small.bin", &content)?;
    let big = share(&session, "big.bin", &data(200 << 20, 9))?;
    pump(
        &mut app,
        |m| matches!(live(m), Some(LiveEvent::Session(SessionEvent::FileOffered(f))) if f.id == big),
    )?;

    // Download clicked, then the save dialog answered.
    interact(&mut app, |ui| {
        ui.click("Download")?;
        Ok(())
    })?;
    let target = dir.path().join("saved.bin");
    let _ = app.update(Message::Participant(ParticipantMessage::SavePicked(
        small,
        dialog(Some(target.clone())),
    )));
    pump(&mut app, transfer_ended)?;
    assert!(std::fs::read(&target)? == content);
    assert!(shows(
        &app,
        &format!("'small.bin' saved to {}", target.display())
    ));

    // A download cancelled from the progress modal leaves no file and no .part.
    let cancelled = dir.path().join("big.bin");
    let _ = app.update(Message::Participant(ParticipantMessage::SavePicked(
        big,
        dialog(Some(cancelled.clone())),
    )));
    assert!(shows(&app, "1 transfer in progress"));
    interact(&mut app, |ui| {
        ui.click("Cancel")?;
        Ok(())
    })?;
    pump(&mut app, transfer_ended)?;
    assert!(shows(&app, "'big.bin' cancelled"));
    assert!(!cancelled.exists());
    assert!(!dir.path().join("big.bin.part").exists());
    Ok(())
}

#[test]
fn losing_the_host_shows_a_banner_then_rejoins_and_resynchronises() -> TestResult {
    // The host keeps its identity across the restart, as a real host does (its config folder).
    let identity = test_host_identity()?;
    let first = start(lanshare::host::HostConfig {
        identity: Some(identity.clone()),
        ..config()
    })?;
    let address = first.local_addr();
    seed_upload(address, "UPLOAD:1:Old:before.txt:3\n", b"old")?;
    assert!(wait_until(Duration::from_secs(5), || first.files().len() == 1));
    let dir = tempfile::tempdir()?;
    let mut app = bob_joining(address, dir.path())?;
    pump(&mut app, connected)?;
    assert!(shows(&app, "before.txt"));

    first.shutdown();
    pump(&mut app, |m| {
        matches!(live(m), Some(LiveEvent::Lost { .. }))
    })?;
    let view_text = |app: &App| {
        let mut ui = iced_test::Simulator::with_settings(settings(), app.view());
        ui.find("Reconnecting…").is_ok()
    };
    assert!(view_text(&app), "the status says it is reconnecting");

    // A new host comes up on the same address with other files: the list follows it.
    let second = start(lanshare::host::HostConfig {
        bind: address,
        identity: Some(identity),
        ..config()
    })?;
    seed_upload(address, "UPLOAD:1:New:after.txt:3\n", b"new")?;
    assert!(wait_until(Duration::from_secs(5), || second.files().len() == 1));
    pump(&mut app, connected)?;
    assert!(shows(&app, "after.txt"));
    assert!(!shows(&app, "before.txt"));
    assert!(!view_text(&app));
    Ok(())
}

#[test]
fn a_host_with_a_passcode_turns_away_a_window_without_it_and_lets_it_in_with_it() -> TestResult {
    let host = start(lanshare::host::HostConfig {
        passcode: Some(
            lanshare::protocol::Passcode::new("open sesame").map_err(anyhow::Error::msg)?,
        ),
        ..config()
    })?;
    let dir = tempfile::tempdir()?;
    let mut app = bob_joining(host.local_addr(), dir.path())?;
    pump(&mut app, |m| {
        matches!(live(m), Some(LiveEvent::Failed { .. }))
    })?;
    assert!(shows(&app, "This host requires a passcode"));

    // Back on the start screen, the address remembered: type the passcode and connect.
    assert!(shows(&app, &host.local_addr().to_string()));
    interact(&mut app, |ui| {
        ui.click(widget::Id::new(PASSCODE_INPUT))?;
        ui.typewrite("open sesame");
        ui.click("Connect")?;
        Ok(())
    })?;
    pump(&mut app, connected)?;

    // Downloads carry the passcode too.
    let alice = Person::new("Alice")?;
    let (session, _) = lanshare::participant::Session::join_with(
        host.local_addr(),
        &alice.name,
        &alice.identity,
        &lanshare::participant::JoinOptions {
            passcode: lanshare::protocol::Passcode::new("open sesame").ok(),
        },
    )?;
    let id = share(&session, "secret.txt", b"for members")?;
    pump(
        &mut app,
        |m| matches!(live(m), Some(LiveEvent::Session(SessionEvent::FileOffered(f))) if f.id == id),
    )?;
    let target = dir.path().join("secret.txt");
    let _ = app.update(Message::Participant(ParticipantMessage::SavePicked(
        id,
        dialog(Some(target.clone())),
    )));
    pump(&mut app, transfer_ended)?;
    assert_eq!(std::fs::read(&target)?, b"for members");
    Ok(())
}

#[test]
fn hosting_with_a_passcode_shows_it_and_requires_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut app = App::new(
        Launch::Host {
            user: Some("Hana".into()),
            passcode: lanshare::protocol::Passcode::new("4711").ok(),
        },
        options(dir.path(), "Hana")?,
    );
    pump(&mut app, connected)?;
    assert!(shows(&app, "Passcode: 4711 (participants need it to join)"));
    let port: u16 = app
        .title()
        .rsplit(' ')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no port in the title"))?;
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let guest = Person::new("Gus")?;
    let refused = guest
        .join(address)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        refused.contains("This host requires a passcode"),
        "{refused}"
    );
    let joined = lanshare::participant::Session::join_with(
        address,
        &guest.name,
        &guest.identity,
        &lanshare::participant::JoinOptions {
            passcode: lanshare::protocol::Passcode::new("4711").ok(),
        },
    );
    assert!(joined.is_ok());
    Ok(())
}

#[test]
fn a_download_whose_link_drops_shows_resuming_and_still_arrives_whole() -> TestResult {
    use common::proxy::{CuttingProxy, Flow, Link};
    let host = start(config())?;
    let size = 8 << 20;
    // The app's session passes whole; its download is cut after 2 MiB, then passes.
    let proxy = CuttingProxy::start(
        host.local_addr(),
        Flow::ToClient,
        vec![Link::Whole, Link::CutAfter(2 << 20)],
        Link::Whole,
    )?;
    let dir = tempfile::tempdir()?;
    let mut app = bob_joining(proxy.address(), dir.path())?;
    pump(&mut app, connected)?;
    let (session, _) = Person::new("Alice")?.join(host.local_addr())?;
    let content = data(size, 12);
    let id = share(&session, "flaky.bin", &content)?;
    pump(
        &mut app,
        |m| matches!(live(m), Some(LiveEvent::Session(SessionEvent::FileOffered(f))) if f.id == id),
    )?;
    let target = dir.path().join("flaky.bin");
    let _ = app.update(Message::Participant(ParticipantMessage::SavePicked(
        id,
        dialog(Some(target.clone())),
    )));
    let mut lost_at = None;
    pump(&mut app, |m| match transfer(m) {
        Some(e) => match e.update {
            TransferUpdate::Resuming { done, .. } => {
                lost_at = Some(done);
                true
            }
            _ => false,
        },
        _ => false,
    })?;
    let done = lost_at.unwrap_or_default();
    assert!(shows(
        &app,
        &format!(
            "Resuming… (connection lost at {} of {})",
            lanshare::units::format_size(done),
            lanshare::units::format_size(size as u64)
        )
    ));
    pump(&mut app, transfer_ended)?;
    assert!(std::fs::read(&target)? == content);
    assert_eq!(proxy.cuts(), 1);
    Ok(())
}

#[test]
fn the_host_screen_shows_its_verification_code_and_participants_see_the_same() -> TestResult {
    let dir = tempfile::tempdir()?;
    let app = hana_hosting(dir.path())?;
    // The app's host keeps its identity in the config folder.
    let identity = lanshare::tls::HostIdentity::load_or_create(dir.path())?;
    let code = identity.fingerprint().verification_code();
    assert!(shows(&app, &format!("Verification code {code}")));
    // Its own session is encrypted and sees the same code.
    assert!(shows(
        &app,
        &format!("Encrypted · verification code {code}")
    ));
    Ok(())
}

#[test]
fn a_host_whose_key_changed_is_explained_with_both_codes_and_trusted_only_when_asked() -> TestResult
{
    let dir = tempfile::tempdir()?;
    // Nothing listens on port 1; the event below stands for what the session worker reports.
    let mut app = bob_joining("127.0.0.1:1", dir.path())?;
    let host = SocketAddr::from(([127, 0, 0, 1], 1));
    let pinned = lanshare::protocol::Fingerprint([1; 32]);
    let shown = lanshare::protocol::Fingerprint([2; 32]);
    let changed = LiveEvent::HostKeyChanged {
        host,
        pinned,
        shown,
    };
    let _ = app.update(Message::Participant(ParticipantMessage::Live(changed)));
    assert!(shows(&app, "The host's identity changed"));
    assert!(shows(&app, "Trust the new key"));
    let explanation = format!(
        "Its verification code was {} and is now {}",
        pinned.verification_code(),
        shown.verification_code()
    );
    assert!(
        view_contains(&app, &explanation),
        "the banner names both codes"
    );
    // Nothing is trusted until the person says so.
    assert_eq!(lanshare::participant::trust::pinned(host)?, None);
    interact(&mut app, |ui| {
        ui.click("Trust the new key")?;
        Ok(())
    })?;
    assert!(!shows(&app, "The host's identity changed"));
    assert!(shows(&app, "Connecting to 127.0.0.1:1…"));
    Ok(())
}

// ---- The issue-13 behaviours of the participant screen.

/// Presses `key` (with `modifiers`) in a simulator of the app's view, and gives the app what
/// its key listener would: the screen's mapping of the press and whether a widget took it.
fn press(
    app: &mut App,
    key: iced::keyboard::Key,
    modifiers: iced::keyboard::Modifiers,
) -> anyhow::Result<()> {
    use iced::keyboard::{Event, Location, key::NativeCode, key::Physical};
    let event = iced::Event::Keyboard(Event::KeyPressed {
        key: key.clone(),
        modified_key: key,
        physical_key: Physical::Unidentified(NativeCode::Unidentified),
        location: Location::Standard,
        modifiers,
        text: None,
        repeat: false,
    });
    let (status, mut messages) = {
        let mut ui = iced_test::Simulator::with_settings(settings(), app.view());
        let status = ui
            .simulate([event.clone()])
            .first()
            .copied()
            .unwrap_or(iced::event::Status::Ignored);
        (status, ui.into_messages().collect::<Vec<_>>())
    };
    messages
        .extend(lanshare::gui::participant::key_message(&event, status).map(Message::Participant));
    for message in messages {
        let _ = app.update(message);
    }
    Ok(())
}

/// Feeds the app what its workers report until its view shows `text`.
fn pump_until_shown(app: &mut App, text: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !shows(app, text) {
        anyhow::ensure!(Instant::now() < deadline, "{text} never showed");
        for message in app.pending() {
            let _ = app.update(message);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

fn key(named: iced::keyboard::key::Named) -> iced::keyboard::Key {
    iced::keyboard::Key::Named(named)
}

/// The top edge of the text `name` in the current view (to compare the order of rows).
fn top_of(app: &App, name: &str) -> anyhow::Result<f32> {
    let mut ui = iced_test::Simulator::with_settings(settings(), app.view());
    Ok(ui.find(name)?.bounds().y)
}

fn ticked_after(app: &mut App, seconds: u64) {
    let later = Instant::now() + Duration::from_secs(seconds);
    let _ = app.update(Message::Participant(ParticipantMessage::Tick(later)));
}

#[test]
fn three_hundred_files_shared_at_once_make_one_notification_whose_show_ticks_them() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let mut app = bob_joining(host.local_addr(), dir.path())?;
    pump(&mut app, connected)?;
    let (session, _) = Person::new("Alice")?.join(host.local_addr())?;
    for n in 0..300 {
        share(&session, &format!("photo-{n:03}.jpg"), &data(100, n))?;
    }
    let mut offered = 0;
    pump(&mut app, |m| {
        if matches!(
            live(m),
            Some(LiveEvent::Session(SessionEvent::FileOffered(_)))
        ) {
            offered += 1;
        }
        offered == 300
    })?;
    // Nothing while the files keep coming; one notification once Alice is quiet.
    let _ = app.update(Message::Participant(ParticipantMessage::Tick(
        Instant::now(),
    )));
    assert!(app.notifications().is_empty());
    ticked_after(&mut app, 2);
    let sent = app.notifications();
    let summaries: Vec<&str> = sent.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(summaries, ["Alice shared 300 files"]);
    ticked_after(&mut app, 10);
    assert_eq!(app.notifications().len(), 1, "said once");

    // Its "Show" brings the app forward on those files: all ticked, ready to download.
    let _ = app.update(Message::Participant(ParticipantMessage::NotificationShown(
        sent[0].0,
    )));
    assert!(shows(&app, "Download selected (300)"));

    // A file shared alone later gets its own notification, with its name.
    share(&session, "report.pdf", &data(2_621_440, 1))?;
    pump(
        &mut app,
        |m| matches!(live(m), Some(LiveEvent::Session(SessionEvent::FileOffered(f))) if f.name == "report.pdf"),
    )?;
    ticked_after(&mut app, 2);
    let last = app.notifications().last().map(|(_, s)| s.clone());
    assert_eq!(last.as_deref(), Some("Alice shared report.pdf, 2.5 MB"));
    Ok(())
}

#[test]
fn a_double_click_on_delete_deletes_one_file_and_says_so() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let mut app = bob_joining(host.local_addr(), dir.path())?;
    pump(&mut app, connected)?;
    for name in ["a.txt", "b.txt"] {
        let path = dir.path().join(name);
        std::fs::write(&path, name)?;
        let listing = app.update(Message::Participant(ParticipantMessage::Drop(
            lanshare::gui::bridge::DropEvent::Dropped(path),
        )));
        perform(&mut app, listing);
        pump(
            &mut app,
            |m| matches!(transfer(m), Some(e) if matches!(e.update, TransferUpdate::Uploaded(_))),
        )?;
    }
    pump_until_shown(&mut app, "b.txt")?;
    pump_until_shown(&mut app, "a.txt")?;
    let _ = app.update(Message::Participant(ParticipantMessage::SortBy(
        lanshare::gui::participant::SortKey::Name,
    )));

    // Two clicks at one spot: the first on a.txt's Delete, the second where it was.
    let spot = {
        let mut ui = iced_test::Simulator::with_settings(settings(), app.view());
        let target = ui.find("Delete")?;
        target
            .visible_bounds()
            .ok_or_else(|| anyhow::anyhow!("Delete not visible"))?
            .center()
    };
    let mut clicked = Vec::new();
    for _ in 0..2 {
        let messages: Vec<Message> = {
            let mut ui = iced_test::Simulator::with_settings(settings(), app.view());
            ui.point_at(spot);
            let _ = ui.simulate(iced_test::simulator::click());
            ui.into_messages().collect()
        };
        for message in messages {
            clicked.push(format!("{message:?}"));
            let _ = app.update(message);
        }
    }
    let deletes = clicked
        .iter()
        .filter(|m| m.contains("DeleteClicked"))
        .count();
    assert_eq!(deletes, 1, "{clicked:?}");
    // The row stayed in place, marked; nothing is sent during the undo time.
    assert!(shows(&app, "a.txt") && shows(&app, "Deleting…"));
    assert_eq!(host.files().len(), 2);
    after_undo_time(&mut app);
    pump(&mut app, |m| {
        matches!(
            live(m),
            Some(LiveEvent::Session(SessionEvent::FileDeleted(_)))
        )
    })?;
    assert!(shows(&app, "Deleted a.txt"));
    let left: Vec<String> = host.files().iter().map(|f| f.name.clone()).collect();
    assert_eq!(left, ["b.txt"]);

    // Undo takes a delete back: nothing is sent.
    interact(&mut app, |ui| {
        ui.click("Delete")?;
        Ok(())
    })?;
    interact(&mut app, |ui| {
        ui.click("Undo")?;
        Ok(())
    })?;
    assert!(shows(&app, "Delete undone"));
    after_undo_time(&mut app);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(host.files().len(), 1);
    Ok(())
}

#[test]
fn toasts_go_by_themselves_count_repeats_and_errors_wait_to_be_closed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut app = bob_seeing(dir.path(), snapshot_files())?;
    for _ in 0..3 {
        let _ = app.update(Message::Participant(ParticipantMessage::SaveIntoFolder(
            99,
            "/nowhere".into(),
        )));
    }
    assert!(shows(&app, "That file is no longer available (×3)"));
    assert!(view_contains(&app, "saving into /nowhere (×3)"));
    let lifetime = lanshare::gui::participant::TOAST_LIFETIME.as_secs() + 1;
    ticked_after(&mut app, lifetime);
    assert!(
        !view_contains(&app, "saving into /nowhere"),
        "gone by itself"
    );
    assert!(
        shows(&app, "That file is no longer available (×3)"),
        "errors stay"
    );
    interact(&mut app, |ui| {
        ui.click("×")?;
        Ok(())
    })?;
    assert!(!shows(&app, "That file is no longer available (×3)"));
    Ok(())
}

#[test]
fn the_list_sorts_by_each_column_and_filters_without_accents_or_case() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut files = snapshot_files();
    files.push(entry(7, "Résumé.pdf", 50_000, "Zoë", 1));
    let mut app = bob_seeing(dir.path(), files)?;
    // Newest first by default.
    assert!(top_of(&app, "Résumé.pdf")? < top_of(&app, "report.pdf")?);
    interact(&mut app, |ui| {
        ui.click("Name")?;
        Ok(())
    })?;
    assert!(top_of(&app, "holiday photo.jpg")? < top_of(&app, "main.rs")?);
    assert!(shows(&app, "Name ▲"));
    interact(&mut app, |ui| {
        ui.click("Name ▲")?;
        Ok(())
    })?;
    assert!(top_of(&app, "main.rs")? < top_of(&app, "holiday photo.jpg")?);
    interact(&mut app, |ui| {
        ui.click("Size")?;
        Ok(())
    })?;
    assert!(top_of(&app, "interview.mp3")? < top_of(&app, "report.pdf")?);
    interact(&mut app, |ui| {
        ui.click("Uploader")?;
        Ok(())
    })?;
    assert!(
        top_of(&app, "notes.txt")? < top_of(&app, "Résumé.pdf")?,
        "Bob before Zoë"
    );

    interact(&mut app, |ui| {
        ui.click(widget::Id::new(lanshare::gui::participant::FILTER_INPUT))?;
        ui.typewrite("RESUME");
        Ok(())
    })?;
    assert!(shows(&app, "Résumé.pdf"));
    assert!(!shows(&app, "report.pdf"));
    assert!(shows(&app, "1 of 7 files"));
    Ok(())
}

#[test]
fn the_keyboard_reaches_the_filter_the_list_download_and_delete() -> TestResult {
    use iced::keyboard::{Modifiers, key::Named};
    let dir = tempfile::tempdir()?;
    let mut app = bob_seeing(dir.path(), snapshot_files())?;
    // Ctrl+F asks for the filter box's focus; typing there filters; Escape clears it.
    let focus = app.update(Message::Participant(ParticipantMessage::Key(
        lanshare::gui::participant::KeyCommand::FocusFilter,
    )));
    assert!(iced_test::runtime::task::into_stream(focus).is_some());
    interact(&mut app, |ui| {
        ui.click(widget::Id::new(lanshare::gui::participant::FILTER_INPUT))?;
        ui.typewrite("notes");
        Ok(())
    })?;
    assert!(shows(&app, "1 of 6 files"));
    press(&mut app, key(Named::Escape), Modifiers::default())?;
    assert!(shows(&app, "6 files"));

    // Down selects the first file (newest: Bob's main.rs); Down again the next.
    press(&mut app, key(Named::ArrowDown), Modifiers::default())?;
    press(&mut app, key(Named::ArrowDown), Modifiers::default())?;
    press(&mut app, key(Named::ArrowUp), Modifiers::default())?;
    // Delete deletes the selected own file, with the same undo.
    press(&mut app, key(Named::Delete), Modifiers::default())?;
    assert!(shows(&app, "Undo"));
    assert!(view_contains(&app, "Deleting in 5 s"), "{:?}", texts(&app));
    // Space ticks the selected file; Enter downloads it (here: asks where, a dialog task).
    press(&mut app, key(Named::Space), Modifiers::default())?;
    assert!(shows(&app, "Download selected (1)"));
    let download = app.update(Message::Participant(ParticipantMessage::Key(
        lanshare::gui::participant::KeyCommand::Activate,
    )));
    assert!(iced_test::runtime::task::into_stream(download).is_some());

    // Tab moves through the controls, Enter acts on the one it is on. The order: Transfers,
    // Upload files, Share directly…, Leave, the filter, Download selected, Download all, the
    // four sorts, the list (where the keyboard is now); eleven steps on is the Uploader sort.
    for _ in 0..11 {
        press(&mut app, key(Named::Tab), Modifiers::default())?;
    }
    press(&mut app, key(Named::Enter), Modifiers::default())?;
    assert!(
        shows(&app, "Uploader ▲"),
        "the eleventh control on is the Uploader sort"
    );
    press(&mut app, key(Named::Tab), Modifiers::SHIFT)?;
    press(&mut app, key(Named::Enter), Modifiers::default())?;
    assert!(shows(&app, "Time ▼"));
    Ok(())
}

#[test]
fn losing_the_host_is_said_plainly_counts_down_truly_and_retry_now_rejoins_early() -> TestResult {
    let identity = test_host_identity()?;
    let first = start(lanshare::host::HostConfig {
        identity: Some(identity.clone()),
        ..config()
    })?;
    let address = first.local_addr();
    seed_upload(address, "UPLOAD:1:Old:before.txt:3\n", b"old")?;
    let dir = tempfile::tempdir()?;
    let mut app = bob_joining(address, dir.path())?;
    pump(&mut app, connected)?;
    pump_until_shown(&mut app, "before.txt")?;
    first.shutdown();

    // Wait for a retry at least 4 s away (the third); the banner says why in plain words
    // and counts down from the real delay.
    let mut retry_in = Duration::ZERO;
    pump(&mut app, |m| match live(m) {
        Some(LiveEvent::Lost { retry_in: wait, .. }) => {
            retry_in = *wait;
            *wait >= Duration::from_secs(4)
        }
        _ => false,
    })?;
    let lost_at = Instant::now();
    assert!(
        view_contains(&app, "The host is not answering — it may have stopped"),
        "{:?}",
        texts(&app)
    );
    assert!(!view_contains(&app, "os error"));
    let _ = app.update(Message::Participant(ParticipantMessage::Tick(
        Instant::now(),
    )));
    assert!(view_contains(
        &app,
        &format!("Reconnecting in {} s…", retry_in.as_secs())
    ));
    let _ = app.update(Message::Participant(ParticipantMessage::Tick(
        Instant::now() + Duration::from_millis(1500),
    )));
    assert!(view_contains(
        &app,
        &format!("Reconnecting in {} s…", retry_in.as_secs() - 1)
    ));

    // The host comes back (restarted: its memory files are gone); Retry now rejoins before
    // the countdown would have, and says what happened to the files.
    let second = start(lanshare::host::HostConfig {
        bind: address,
        identity: Some(identity),
        ..config()
    })?;
    interact(&mut app, |ui| {
        ui.click("Retry now")?;
        Ok(())
    })?;
    pump(&mut app, connected)?;
    assert!(
        lost_at.elapsed() < retry_in,
        "rejoined before the countdown ended"
    );
    assert!(shows(
        &app,
        "The host restarted; files shared before are gone"
    ));
    assert!(!shows(&app, "before.txt"));
    drop(second);
    Ok(())
}

#[test]
fn a_file_downloading_shows_its_progress_and_cannot_be_downloaded_twice() -> TestResult {
    let host = start(lanshare::host::HostConfig {
        max_file_size: 1 << 30,
        ..config()
    })?;
    let dir = tempfile::tempdir()?;
    let mut app = bob_joining(host.local_addr(), dir.path())?;
    pump(&mut app, connected)?;
    let (session, _) = Person::new("Alice")?.join(host.local_addr())?;
    let big = share(&session, "big.bin", &data(200 << 20, 3))?;
    pump_until_shown(&mut app, "big.bin")?;
    let _ = app.update(Message::Participant(ParticipantMessage::SavePicked(
        big,
        dialog(Some(dir.path().join("big.bin"))),
    )));
    pump(
        &mut app,
        |m| matches!(transfer(m), Some(e) if matches!(e.update, TransferUpdate::Progress { done, .. } if done > 0)),
    )?;
    // Hide the modal to see the row: its Download button is a disabled "N %".
    let _ = app.update(Message::Participant(ParticipantMessage::ToggleTransfers));
    let label = texts(&app)
        .into_iter()
        .find(|t| t.ends_with(" %"))
        .ok_or_else(|| anyhow::anyhow!("no progress in the row"))?;
    let clicked: Vec<Message> = {
        let mut ui = iced_test::Simulator::with_settings(settings(), app.view());
        ui.click(label.as_str())?;
        ui.into_messages().collect()
    };
    assert!(clicked.is_empty(), "a disabled button: {clicked:?}");
    // Enter on it (or any other way to ask again) starts nothing: no dialog, no "(1)" copy.
    let again = app.update(Message::Participant(ParticipantMessage::DownloadClicked(
        big,
    )));
    assert!(iced_test::runtime::task::into_stream(again).is_none());
    interact(&mut app, |ui| {
        ui.click("1 transfer(s) in progress — show")?;
        Ok(())
    })?;
    interact(&mut app, |ui| {
        ui.click("Cancel")?;
        Ok(())
    })?;
    pump(&mut app, transfer_ended)?;
    assert!(shows(&app, "'big.bin' cancelled"));
    // The history keeps it, cancelled, with the reason.
    let _ = app.update(Message::Participant(ParticipantMessage::ShowTransfers));
    assert!(shows(&app, "Cancelled downloading big.bin"));
    assert!(!dir.path().join("big.bin (1)").exists());
    Ok(())
}

// ---- Start and Host screens at small sizes, the host's settings, the light theme (issue 13,
// part B).

mod start_and_host {
    use super::*;
    use iced::{Rectangle, Size};
    use iced_test::selector::Candidate;
    use lanshare::config::{HostStore, ThemeChoice};
    use lanshare::gui::host_setup::{Message as SetupMessage, PORT_INPUT};
    use lanshare::gui::start::Message as StartMessage;
    use lanshare::gui::theme::{DARK, LIGHT, palette};

    /// The window's smallest size.
    const SMALL: Size = Size::new(600.0, 400.0);
    /// The window's default size.
    const DEFAULT: Size = Size::new(980.0, 720.0);

    /// Where the text `wanted` is laid out, and the part of it in sight, in a window of `size`.
    fn text_at(app: &App, size: Size, wanted: &str) -> Option<(Rectangle, Option<Rectangle>)> {
        let mut ui = iced_test::Simulator::with_size(settings(), size, app.view());
        let wanted = wanted.to_owned();
        ui.find(move |candidate: Candidate<'_>| match candidate {
            Candidate::Text {
                content,
                bounds,
                visible_bounds,
                ..
            } if content == wanted => Some((bounds, visible_bounds)),
            _ => None,
        })
        .ok()
    }

    /// True if `visible` is all of `bounds` (but for rounding).
    fn whole(bounds: Rectangle, visible: Option<Rectangle>) -> bool {
        visible.is_some_and(|visible| {
            (visible.width - bounds.width).abs() < 0.5
                && (visible.height - bounds.height).abs() < 0.5
        })
    }

    /// True if all of the text `wanted` is in sight in a window of `size`.
    fn in_sight(app: &App, size: Size, wanted: &str) -> bool {
        text_at(app, size, wanted).is_some_and(|(bounds, visible)| {
            whole(bounds, visible)
                && bounds.x >= 0.0
                && bounds.y >= 0.0
                && bounds.x + bounds.width <= size.width
                && bounds.y + bounds.height <= size.height
        })
    }

    /// Asserts that `error` is shown in full, over several lines, within the window's width.
    fn assert_wrapped(app: &App, size: Size, error: &str) {
        let (bounds, visible) = text_at(app, size, error).unwrap_or_else(|| panic!("{error:?}"));
        assert!(bounds.x + bounds.width <= size.width, "{bounds:?}");
        assert!(bounds.height > 30.0, "one line only: {bounds:?}");
        assert!(
            whole(bounds, visible),
            "partly hidden: {bounds:?} {visible:?}"
        );
    }

    /// Options whose settings say the app was last used as host.
    fn host_options(dir: &Path) -> anyhow::Result<Options> {
        let options = options(dir, "Hana")?;
        let mut settings = Settings::load(dir);
        settings.hosting = Some(true);
        settings.save(dir)?;
        Ok(options)
    }

    fn setup(app: &mut App, message: SetupMessage) {
        let _ = app.update(Message::Start(StartMessage::Setup(message)));
    }

    fn click(app: &mut App, label: &'static str) -> anyhow::Result<()> {
        interact(app, |ui| {
            ui.click(label)?;
            Ok(())
        })
    }

    #[test]
    fn a_long_error_wraps_and_connect_stays_in_sight_at_600x400() -> TestResult {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let dir = tempfile::tempdir()?;
        let mut app = bob_joining(closed, dir.path())?;
        pump(&mut app, |m| {
            matches!(live(m), Some(LiveEvent::Failed { .. }))
        })?;
        let error = format!(
            "The host is not answering — it may have stopped. Check the address, and that the \
             host is running. (cannot reach the host at {closed}: Connection refused (os error \
             111))"
        );
        for size in [SMALL, DEFAULT] {
            assert!(
                in_sight(&app, size, "Connect"),
                "Connect at {size:?}: {:?}",
                text_at(&app, size, "Connect")
            );
        }
        assert_wrapped(&app, SMALL, &error);
        Ok(())
    }

    #[test]
    fn a_failed_start_hosting_keeps_host_says_why_and_takes_another_port() -> TestResult {
        let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = taken.local_addr()?.port();
        let dir = tempfile::tempdir()?;
        let mut app = App::new(Launch::Start, host_options(dir.path())?);
        interact(&mut app, |ui| {
            ui.click(widget::Id::new(PORT_INPUT))?;
            ui.typewrite(&port.to_string());
            ui.click("Start hosting")?;
            Ok(())
        })?;
        let error = format!(
            "Port {port} is in use — is another host running? Choose another port below and \
             try again."
        );
        assert_wrapped(&app, SMALL, &error);
        assert!(
            in_sight(&app, SMALL, "Start hosting"),
            "still Host, not Connect"
        );
        assert!(!shows(&app, "Connect"));
        assert!(
            shows(&app, &port.to_string()),
            "the port field keeps what was typed"
        );

        // Another port, and hosting starts on it.
        let free = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        setup(&mut app, SetupMessage::PortChanged(free.to_string()));
        click(&mut app, "Start hosting")?;
        pump(&mut app, connected)?;
        assert_eq!(hosting_port(&app)?, free);
        assert_eq!(Settings::load(dir.path()).host_port, Some(free));
        drop(taken);
        Ok(())
    }

    #[test]
    fn host_settings_and_theme_are_remembered_across_a_restart() -> TestResult {
        let dir = tempfile::tempdir()?;
        let store = dir.path().join("store");
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        {
            let mut app = App::new(Launch::Start, host_options(dir.path())?);
            click(&mut app, "In a folder")?;
            setup(
                &mut app,
                SetupMessage::FolderChanged(store.display().to_string()),
            );
            setup(&mut app, SetupMessage::SizeLimitChanged("2 GB".into()));
            setup(&mut app, SetupMessage::PortChanged(port.to_string()));
            click(&mut app, "Light")?;
            assert_eq!(palette(&app.theme()), &LIGHT);
            click(&mut app, "Start hosting")?;
            pump(&mut app, connected)?;
            assert_eq!(hosting_port(&app)?, port);
            // A file shared with it lands in the folder; stopping asks nothing (it is kept).
            let (session, _) =
                Person::new("Gus")?.join(SocketAddr::from(([127, 0, 0, 1], port)))?;
            share(&session, "kept.txt", b"kept")?;
            assert!(std::fs::read_dir(store.join("files"))?.count() >= 2);
            drop(session);
            click(&mut app, "Stop hosting")?;
            assert!(shows(&app, "Start hosting"), "stopped at once");
        }
        let remembered = Settings::load(dir.path());
        assert_eq!(
            remembered.host_store,
            Some(HostStore::Folder(store.clone()))
        );
        assert_eq!(remembered.host_max_file_size, Some(2 << 30));
        assert_eq!(remembered.theme, Some(ThemeChoice::Light));

        // The app started again shows them, draws in them, and hosts with them.
        let options = Options {
            config_dir: dir.path().to_path_buf(),
            host_bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            discovery: false,
        };
        let mut app = App::new(Launch::Start, options);
        assert_eq!(palette(&app.theme()), &LIGHT);
        assert!(shows(&app, &store.display().to_string()));
        assert!(shows(&app, "2 GB"));
        assert!(shows(&app, &port.to_string()));
        click(&mut app, "Start hosting")?;
        pump(&mut app, connected)?;
        assert_eq!(hosting_port(&app)?, port);
        assert!(shows(&app, "kept.txt"), "the folder store's file is back");
        Ok(())
    }

    #[test]
    fn stop_hosting_asks_before_a_memory_store_loses_its_files() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut app = hana_hosting(dir.path())?;
        let port = hosting_port(&app)?;
        let (session, _) = Person::new("Gus")?.join(SocketAddr::from(([127, 0, 0, 1], port)))?;
        share(&session, "only-here.txt", b"in memory")?;
        click(&mut app, "Stop hosting")?;
        assert!(view_contains(&app, "the 1 file shared here will be lost"));
        assert!(shows(&app, &format!("Hosting on port {port}")));
        click(&mut app, "Keep hosting")?;
        assert!(!shows(&app, "Stop and discard files"));
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
            "still hosting"
        );

        click(&mut app, "Stop hosting")?;
        click(&mut app, "Stop and discard files")?;
        assert!(shows(&app, "Start hosting"), "back on the start screen");
        assert!(wait_until(Duration::from_secs(5), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        }));
        Ok(())
    }

    #[test]
    fn the_light_theme_is_chosen_on_the_start_screen() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut app = App::new(Launch::Start, options(dir.path(), "Alice")?);
        assert_eq!(
            palette(&app.theme()),
            &DARK,
            "dark while the desktop says nothing"
        );
        let _ = app.update(Message::SystemTheme(iced::theme::Mode::Light));
        assert_eq!(palette(&app.theme()), &LIGHT, "following the desktop");
        click(&mut app, "Dark")?;
        assert_eq!(palette(&app.theme()), &DARK, "chosen over the desktop's");
        click(&mut app, "Light")?;
        assert_eq!(palette(&app.theme()), &LIGHT);
        assert!(matches_snapshot_at(&app, "start-light", DEFAULT)?);
        Ok(())
    }

    #[test]
    fn the_start_screen_looks_as_committed_at_600x400_and_980x720() -> TestResult {
        let dir = tempfile::tempdir()?;
        let app = App::new(Launch::Start, host_options(dir.path())?);
        assert!(matches_snapshot_at(&app, "start-host-600x400", SMALL)?);
        assert!(matches_snapshot_at(&app, "start-host-980x720", DEFAULT)?);
        let app = App::new(Launch::Start, options(dir.path(), "Alice")?);
        let mut app = app;
        click(&mut app, "Participant")?;
        assert!(matches_snapshot_at(&app, "start-600x400", SMALL)?);
        Ok(())
    }

    #[test]
    fn a_dropped_folder_of_300_files_goes_through_a_few_lanes_and_arrives_whole() -> TestResult {
        // Far fewer connections per address than files: one connection per file would be
        // turned away as busy.
        let host = start(lanshare::host::HostConfig {
            max_connections_per_address: 8,
            ..config()
        })?;
        let dir = tempfile::tempdir()?;
        let folder = dir.path().join("photos");
        std::fs::create_dir(&folder)?;
        let mut contents = std::collections::HashMap::new();
        for index in 0..300 {
            let name = format!("img-{index:03}.jpg");
            let bytes = data(1000 + index * 37, index as u64 + 1);
            std::fs::write(folder.join(&name), &bytes)?;
            contents.insert(format!("photos/{name}"), sha256_hex(&bytes));
        }
        let mut app = bob_joining(host.local_addr(), dir.path())?;
        pump(&mut app, connected)?;
        let listing = app.update(Message::Participant(ParticipantMessage::Drop(
            lanshare::gui::bridge::DropEvent::Dropped(folder),
        )));
        perform(&mut app, listing);

        let mut ended = Vec::new();
        let mut most_connections = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        while ended.len() < 300 && Instant::now() < deadline {
            most_connections = most_connections.max(host.stats().connections);
            for message in app.pending() {
                if let Some(event) = transfer(&message)
                    && event.update.is_final()
                {
                    ended.push(event.update.clone());
                }
                let _ = app.update(message);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let failed: Vec<_> = ended
            .iter()
            .filter(|update| !matches!(update, TransferUpdate::Uploaded(_)))
            .collect();
        assert!(failed.is_empty(), "{failed:?}");
        assert_eq!(ended.len(), 300);
        let stored: std::collections::HashMap<String, String> = host
            .files()
            .iter()
            .map(|file| (file.name.clone(), file.sha256.to_string()))
            .collect();
        assert_eq!(stored, contents, "every file arrived whole, under its path");
        // The session and the lanes: never one connection per file.
        assert!(
            most_connections <= 1 + lanshare::participant::worker::LANES,
            "{most_connections} connections at once"
        );
        assert_eq!(host.stats().refused, 0);
        Ok(())
    }

    #[test]
    fn a_transfer_being_served_shows_the_participant_by_name() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut app = hana_hosting(dir.path())?;
        let address = SocketAddr::from(([127, 0, 0, 1], hosting_port(&app)?));
        // A seed client's upload, half sent: the host knows it by the name it gave.
        let mut raw = Raw::connect(address)?;
        raw.send(b"UPLOAD:1:Alice:half.bin:1000\n")?;
        assert_eq!(raw.line()?, "READY");
        raw.send(&[7; 500])?;
        click(&mut app, "Details")?;
        let shown = wait_until(Duration::from_secs(5), || {
            let _ = app.update(Message::Host(HostMessage::Tick));
            shows(&app, "↑ half.bin from Alice")
        });
        assert!(shown, "the upload is shown from Alice");
        assert!(view_contains(&app, "serving 1 transfer"));
        Ok(())
    }

    /// The port the host screen's snapshots are taken on (the port shows on the screen).
    const SNAPSHOT_PORT: u16 = 47_405;

    /// Hana hosting on `SNAPSHOT_PORT` with the committed host identity, her session told (as
    /// if by the host) that eight files are shared.
    fn host_screen_with_files(dir: &Path) -> anyhow::Result<App> {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/host-identity.pem");
        std::fs::copy(fixture, dir.join(lanshare::tls::HOST_IDENTITY_FILE))?;
        let fingerprint = lanshare::tls::HostIdentity::load_or_create(dir)?.fingerprint();
        let options = Options {
            host_bind: SocketAddr::from(([127, 0, 0, 1], SNAPSHOT_PORT)),
            ..options(dir, "Hana")?
        };
        let launch = Launch::Host {
            user: Some("Hana".into()),
            passcode: None,
        };
        let mut app = App::new(launch, options);
        let names = [
            "report.pdf",
            "holiday photo.jpg",
            "notes.txt",
            "slides.odp",
            "budget.ods",
            "song.flac",
            "map.png",
            "readme.md",
        ];
        let files = names
            .iter()
            .enumerate()
            .map(|(index, name)| entry(index as u64 + 1, name, 1000 * (index as u64 + 1), "Gus", 2))
            .collect();
        let connected = LiveEvent::Connected {
            host: SocketAddr::from(([127, 0, 0, 1], SNAPSHOT_PORT)),
            client_id: 1,
            role: Role::Operator,
            credentials: Credentials {
                client_id: 1,
                username: "Hana".into(),
                ticket: Ticket([0; 16]),
            },
            host_key: lanshare::participant::trust::HostKey {
                fingerprint,
                first_contact: false,
            },
            snapshot: Snapshot {
                peers: vec![
                    Peer {
                        client_id: 1,
                        username: "Hana".into(),
                    },
                    Peer {
                        client_id: 2,
                        username: "Gus".into(),
                    },
                ],
                files,
            },
        };
        let _ = app.update(Message::Host(HostMessage::Session(
            ParticipantMessage::Live(connected),
        )));
        Ok(app)
    }

    #[test]
    fn the_host_screen_shows_files_at_600x400_and_more_than_four_at_980x720() -> TestResult {
        let dir = tempfile::tempdir()?;
        let app = host_screen_with_files(dir.path())?;
        let names = [
            "report.pdf",
            "holiday photo.jpg",
            "notes.txt",
            "slides.odp",
            "budget.ods",
            "song.flac",
            "map.png",
            "readme.md",
        ];
        let rows_in_sight = |size| names.iter().filter(|n| in_sight(&app, size, n)).count();
        assert!(rows_in_sight(SMALL) >= 1, "no file row at 600×400");
        assert!(rows_in_sight(DEFAULT) > 4, "four rows or fewer at 980×720");
        assert!(in_sight(&app, SMALL, "Stop hosting"));
        assert!(matches_snapshot_at(&app, "host-600x400", SMALL)?);
        assert!(matches_snapshot_at(&app, "host-980x720", DEFAULT)?);
        Ok(())
    }
}

// ---- The shared library: expiry, categories and tags.

/// `file` as the host describes it in `FILE_INFO`.
fn described(
    mut file: FileEntry,
    category: lanshare::protocol::Category,
    tags: &str,
    expires_in: Option<chrono::Duration>,
) -> anyhow::Result<FileEntry> {
    file.details = lanshare::participant::FileDetails {
        category: Some(category),
        tags: lanshare::protocol::Tags::parse(tags)?,
        expires_at: expires_in.map(|left| chrono::Utc::now() + left),
        ..Default::default()
    };
    Ok(file)
}

#[test]
fn rows_say_when_files_expire_and_chips_narrow_the_list_by_category_and_tag() -> TestResult {
    use lanshare::protocol::Category;
    let dir = tempfile::tempdir()?;
    let hours = |h: i64| Some(chrono::Duration::hours(h) + chrono::Duration::seconds(30));
    let files = vec![
        described(
            entry(1, "report.pdf", 2_621_440, "Alice", 1),
            Category::Documents,
            "slides,week3",
            hours(3),
        )?,
        described(
            entry(2, "holiday photo.jpg", 734_003, "Alice", 1),
            Category::Images,
            "week3",
            None,
        )?,
        described(
            entry(3, "notes.txt", 6, "Bob", 2),
            Category::Documents,
            "",
            hours(50),
        )?,
        described(
            entry(4, "renamed.txt", 900, "Alice", 1),
            Category::Images,
            "",
            None,
        )?,
    ];
    let mut app = bob_seeing(dir.path(), files)?;
    assert!(view_contains(&app, "• expires in 3 h #slides #week3"));
    assert!(view_contains(&app, "• expires in 2 d"));
    // The host's category, not the name's, picks the badge: a picture named .txt.
    assert!(shows(&app, "IMG") && shows(&app, "DOC"));
    for chip in ["All", "Documents", "Images", "#slides", "#week3"] {
        assert!(shows(&app, chip), "no chip {chip}");
    }
    assert!(!shows(&app, "Audio"), "only the categories the files have");

    interact(&mut app, |ui| {
        ui.click("Images")?;
        Ok(())
    })?;
    assert!(shows(&app, "holiday photo.jpg") && shows(&app, "renamed.txt"));
    assert!(!shows(&app, "report.pdf") && !shows(&app, "notes.txt"));
    assert!(shows(&app, "2 of 4 files"));

    interact(&mut app, |ui| {
        ui.click("#week3")?;
        Ok(())
    })?;
    assert!(shows(&app, "holiday photo.jpg") && !shows(&app, "renamed.txt"));
    assert!(shows(&app, "1 of 4 files"));

    // "All" lifts the category; the tag stays.
    interact(&mut app, |ui| {
        ui.click("All")?;
        Ok(())
    })?;
    assert!(shows(&app, "report.pdf") && shows(&app, "holiday photo.jpg"));
    assert!(!shows(&app, "notes.txt"));
    // The picked tag again unpicks it.
    interact(&mut app, |ui| {
        ui.click("#week3")?;
        Ok(())
    })?;
    assert!(shows(&app, "4 files"));
    Ok(())
}

#[test]
fn a_host_that_sends_no_details_shows_no_chips() -> TestResult {
    let dir = tempfile::tempdir()?;
    let app = bob_seeing(dir.path(), snapshot_files())?;
    assert!(!shows(&app, "All"));
    assert!(!view_contains(&app, "expires in"));
    Ok(())
}

#[test]
fn the_expiry_picked_goes_with_the_upload_and_the_file_leaves_when_it_expires() -> TestResult {
    let host = start(lanshare::host::HostConfig {
        max_expiry: Some(Duration::from_secs(2)),
        ..config()
    })?;
    let dir = tempfile::tempdir()?;
    let mut app = bob_joining(host.local_addr(), dir.path())?;
    pump(&mut app, connected)?;
    // What the picker beside the sort choices sends when "Expire after 1 hour" is chosen.
    let _ = app.update(Message::Participant(ParticipantMessage::KeepPicked(
        lanshare::gui::participant::Keep::Hour,
    )));

    let path = dir.path().join("picture.png");
    std::fs::write(&path, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")?;
    let listing = app.update(Message::Participant(ParticipantMessage::Drop(
        lanshare::gui::bridge::DropEvent::Dropped(path),
    )));
    perform(&mut app, listing);
    pump(
        &mut app,
        |m| matches!(live(m), Some(LiveEvent::Session(SessionEvent::FileOffered(f))) if f.name == "picture.png"),
    )?;
    // An hour asked for, cut to the host's maximum of 2 s.
    let record = host
        .files()
        .pop()
        .ok_or_else(|| anyhow::anyhow!("not stored"))?;
    let lifetime = record
        .expires_at
        .map(|at| at - record.uploaded_at)
        .ok_or_else(|| anyhow::anyhow!("no expiry"))?;
    assert_eq!(lifetime.num_seconds(), 2);
    assert_eq!(record.category, lanshare::protocol::Category::Images);
    assert!(view_contains(&app, "expires in 2 s") || view_contains(&app, "expires in 1 s"));
    assert!(shows(&app, "Images"), "its category's chip");
    pump(&mut app, |m| {
        matches!(
            live(m),
            Some(LiveEvent::Session(SessionEvent::FileDeleted(_)))
        )
    })?;
    assert!(!shows(&app, "picture.png"));
    Ok(())
}

#[test]
fn the_people_picked_in_share_with_alone_see_the_upload() -> TestResult {
    let host = start(config())?;
    let carol = Person::new("Carol")?;
    let (_carol_session, _) = carol.join(host.local_addr())?;
    let (eve, _) = Person::new("Eve")?.join(host.local_addr())?;
    let dir = tempfile::tempdir()?;
    let mut app = bob_joining(host.local_addr(), dir.path())?;
    pump(&mut app, connected)?;
    pump_until_shown(&mut app, "Share with: everyone")?;
    assert!(!shows(&app, "Carol"), "the chips wait to be opened");
    interact(&mut app, |ui| {
        ui.click("Share with: everyone")?;
        Ok(())
    })?;
    assert!(shows(&app, "Everyone") && shows(&app, "Eve"));
    interact(&mut app, |ui| {
        ui.click("Carol")?;
        Ok(())
    })?;
    assert!(shows(&app, "Share with: 1 person"));

    let path = dir.path().join("plan.txt");
    std::fs::write(&path, b"for Carol")?;
    let listing = app.update(Message::Participant(ParticipantMessage::Drop(
        lanshare::gui::bridge::DropEvent::Dropped(path),
    )));
    perform(&mut app, listing);
    pump(
        &mut app,
        |m| matches!(live(m), Some(LiveEvent::Session(SessionEvent::FileOffered(f))) if f.name == "plan.txt"),
    )?;
    let record = host
        .files()
        .pop()
        .ok_or_else(|| anyhow::anyhow!("not stored"))?;
    let keys: Vec<_> = record.audience.iter().flatten().map(|v| v.key).collect();
    assert_eq!(keys, [carol.identity.public_key()]);
    assert!(
        view_contains(&app, "only Carol"),
        "the row says who may see it"
    );
    let mut eve_list = lanshare::participant::TransferConnection::connect(host.local_addr())?;
    eve_list.authenticate(eve.credentials())?;
    assert!(eve_list.list()?.is_empty(), "Eve was not picked");

    // "Everyone" again: the next upload goes to all.
    interact(&mut app, |ui| {
        ui.click("Everyone")?;
        Ok(())
    })?;
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, b"for all")?;
    let listing = app.update(Message::Participant(ParticipantMessage::Drop(
        lanshare::gui::bridge::DropEvent::Dropped(path),
    )));
    perform(&mut app, listing);
    pump(
        &mut app,
        |m| matches!(live(m), Some(LiveEvent::Session(SessionEvent::FileOffered(f))) if f.name == "notes.txt"),
    )?;
    assert_eq!(eve_list.list()?.len(), 1);
    Ok(())
}

#[test]
fn a_file_shared_again_shows_its_versions_and_each_downloads() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let mut app = bob_joining(host.local_addr(), dir.path())?;
    pump(&mut app, connected)?;
    let (alice, _) = Person::new("Alice")?.join(host.local_addr())?;
    let id = share(&alice, "plan.md", b"first")?;
    assert_eq!(share(&alice, "plan.md", b"second draft")?, id);
    pump(
        &mut app,
        |m| matches!(live(m), Some(LiveEvent::Session(SessionEvent::FileOffered(f))) if f.details.versions.is_some()),
    )?;
    assert!(view_contains(&app, "version 2 (2 kept)"));
    let clicked = {
        let mut ui = iced_test::Simulator::with_settings(settings(), app.view());
        ui.click("2 versions")?;
        ui.into_messages().collect::<Vec<_>>()
    };
    assert!(matches!(
        clicked.as_slice(),
        [Message::Participant(ParticipantMessage::VersionsClicked(clicked))] if *clicked == id
    ));
    for message in clicked {
        let task = app.update(message);
        perform(&mut app, task);
    }
    assert!(shows(&app, "Hide versions"));
    assert!(view_contains(&app, "Version 1 • 5 B"));
    assert!(view_contains(&app, "Version 2 • 12 B"));

    let target = dir.path().join("first.md");
    let _ = app.update(Message::Participant(ParticipantMessage::VersionSavePicked(
        id,
        1,
        dialog(Some(target.clone())),
    )));
    pump(&mut app, transfer_ended)?;
    assert_eq!(std::fs::read(&target)?, b"first");
    interact(&mut app, |ui| {
        ui.click("Hide versions")?;
        Ok(())
    })?;
    assert!(!view_contains(&app, "Version 1 •"));
    Ok(())
}

#[test]
fn comments_arrive_live_under_a_file_and_the_box_sends_and_deletes_them() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let mut app = bob_joining(host.local_addr(), dir.path())?;
    pump(&mut app, connected)?;
    let (alice, _) = Person::new("Alice")?.join(host.local_addr())?;
    let id = share(&alice, "slides.pdf", b"%PDF-1.7")?;
    pump_until_shown(&mut app, "slides.pdf")?;
    assert!(shows(&app, "Comment"));
    alice.comment(id, "Feedback welcome", Duration::from_secs(5))?;
    pump(
        &mut app,
        |m| matches!(live(m), Some(LiveEvent::Session(SessionEvent::CommentAdded(c))) if c.file_id == id),
    )?;
    interact(&mut app, |ui| {
        ui.click("1 comment")?;
        Ok(())
    })?;
    assert!(shows(&app, "Alice: Feedback welcome"));
    assert!(!shows(&app, "×"), "Bob may not delete Alice's comment");

    // Bob writes one in the box; Alice hears it.
    interact(&mut app, |ui| {
        ui.click("Write a comment…")?;
        let _ = ui.typewrite("Looks good");
        Ok(())
    })?;
    let _ = app.update(Message::Participant(ParticipantMessage::CommentSend));
    pump(
        &mut app,
        |m| matches!(live(m), Some(LiveEvent::Session(SessionEvent::CommentAdded(c))) if c.author_name == "Bob"),
    )?;
    assert!(shows(&app, "Bob: Looks good"));
    let heard = loop {
        match alice.events().recv_timeout(Duration::from_secs(5))? {
            SessionEvent::CommentAdded(comment) if comment.author_name == "Bob" => break comment,
            _ => {}
        }
    };
    assert_eq!(heard.text, "Looks good");
    // Its × deletes it.
    interact(&mut app, |ui| {
        ui.click("×")?;
        Ok(())
    })?;
    pump(&mut app, |m| {
        matches!(
            live(m),
            Some(LiveEvent::Session(SessionEvent::CommentDeleted { .. }))
        )
    })?;
    assert!(!shows(&app, "Bob: Looks good"));
    let record = host
        .files()
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no file"))?;
    assert_eq!(record.comments.len(), 1);
    Ok(())
}

#[test]
fn the_library_chips_and_expiry_look_as_committed() -> TestResult {
    use lanshare::protocol::Category;
    let dir = tempfile::tempdir()?;
    let hours = |h: i64| Some(chrono::Duration::hours(h) + chrono::Duration::minutes(10));
    let kinds = [
        Category::Documents,
        Category::Images,
        Category::Documents,
        Category::Audio,
        Category::Archives,
        Category::Code,
    ];
    let tags = ["slides,week3", "week3", "", "", "backup", ""];
    let expiries = [hours(3), None, hours(50), None, hours(1), None];
    let mut files = Vec::new();
    for (((file, category), tags), expires) in snapshot_files()
        .into_iter()
        .zip(kinds)
        .zip(tags)
        .zip(expiries)
    {
        files.push(described(file, category, tags, expires)?);
    }
    let mut app = bob_seeing(dir.path(), files)?;
    interact(&mut app, |ui| {
        ui.click("#week3")?;
        Ok(())
    })?;
    assert!(matches_snapshot(&app, "participant-library")?);
    Ok(())
}

/// The port the app's own host listens on, from its title.
fn hosting_port(app: &App) -> anyhow::Result<u16> {
    let title = app.title();
    title
        .rsplit(' ')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no port in {title:?}"))
}

#[test]
fn new_version_on_anyones_file_as_the_operator_uploads_the_picked_file_as_its_next_version()
-> TestResult {
    let dir = tempfile::tempdir()?;
    let mut app = hana_hosting(dir.path())?;
    let address = SocketAddr::from(([127, 0, 0, 1], hosting_port(&app)?));
    let (alice, _) = Person::new("Alice")?.join(address)?;
    let id = share(&alice, "plan.md", b"alice's plan")?;
    // Hana hosts: the operator may add versions of Alice's file.
    pump_until_shown(&mut app, "New version…")?;
    let clicked = {
        let mut ui = iced_test::Simulator::with_settings(settings(), app.view());
        ui.click("New version…")?;
        ui.into_messages().collect::<Vec<_>>()
    };
    assert!(
        matches!(
            clicked.as_slice(),
            [Message::Host(HostMessage::Session(ParticipantMessage::NewVersionClicked(c)))] if *c == id
        ),
        "{clicked:?}"
    );
    // The picker is rfd's own window: the app is given what it returns.
    let fixed = dir.path().join("plan-fixed.md");
    std::fs::write(&fixed, b"the host's fix")?;
    let picked = app.update(Message::Host(HostMessage::Session(
        ParticipantMessage::NewVersionPicked(id, dialog(Some(fixed))),
    )));
    perform(&mut app, picked);
    assert!(
        shows(&app, "Uploading plan.md"),
        "the usual progress, under the file's name"
    );
    let (mut offered, mut ended) = (false, false);
    pump(&mut app, |m| {
        offered |= matches!(live(m), Some(LiveEvent::Session(SessionEvent::FileOffered(f))) if f.details.versions.is_some());
        ended |= transfer_ended(m);
        offered && ended
    })?;
    assert!(view_contains(&app, "version 2 (2 kept)"));
    assert!(view_contains(&app, "'plan.md' uploaded successfully!"));

    // Still Alice's plan.md, with both versions byte-exact.
    let mut connection = lanshare::participant::TransferConnection::connect(address)?;
    connection.authenticate(alice.credentials())?;
    let files = connection.list()?;
    assert_eq!(files.len(), 1);
    assert_eq!(
        (files[0].name.as_str(), files[0].uploader.as_str()),
        ("plan.md", "Alice")
    );
    let versions = connection.versions(id)?;
    assert_eq!(versions.len(), 2);
    let mut latest = Vec::new();
    connection.download(
        id,
        &mut latest,
        &mut |_| {},
        &std::sync::atomic::AtomicBool::new(false),
    )?;
    assert_eq!(latest, b"the host's fix");
    Ok(())
}

#[test]
fn new_version_shows_on_a_participants_own_files_only() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let mut app = bob_joining(host.local_addr(), dir.path())?;
    pump(&mut app, connected)?;
    let (alice, _) = Person::new("Alice")?.join(host.local_addr())?;
    share(&alice, "alices.txt", b"hers")?;
    pump_until_shown(&mut app, "alices.txt")?;
    assert!(!shows(&app, "New version…"), "not on Alice's file");

    let path = dir.path().join("bobs.txt");
    std::fs::write(&path, b"his")?;
    let listing = app.update(Message::Participant(ParticipantMessage::Drop(
        lanshare::gui::bridge::DropEvent::Dropped(path),
    )));
    perform(&mut app, listing);
    pump_until_shown(&mut app, "bobs.txt")?;
    pump_until_shown(&mut app, "New version…")?;
    let clicked = {
        let mut ui = iced_test::Simulator::with_settings(settings(), app.view());
        ui.click("New version…")?;
        ui.into_messages().collect::<Vec<_>>()
    };
    let bobs = host
        .files()
        .into_iter()
        .find(|file| file.name == "bobs.txt")
        .ok_or_else(|| anyhow::anyhow!("not stored"))?;
    assert!(
        matches!(
            clicked.as_slice(),
            [Message::Participant(ParticipantMessage::NewVersionClicked(c))] if *c == bobs.id
        ),
        "{clicked:?}"
    );
    // A picker that could not be shown is said, and nothing is sent.
    let _ = app.update(Message::Participant(ParticipantMessage::NewVersionPicked(
        bobs.id,
        lanshare::gui::bridge::DialogResult {
            opened: Instant::now(),
            chosen: None,
        },
    )));
    assert!(view_contains(&app, "to pick a new version"));
    assert_eq!(host.files().len(), 2);
    Ok(())
}

/// A `width` × `height` PNG with something on it: sky over a field, a sun.
fn sample_png(width: u32, height: u32) -> anyhow::Result<Vec<u8>> {
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        let (dx, dy) = (
            x as i64 - width as i64 * 3 / 4,
            y as i64 - height as i64 / 4,
        );
        if dx * dx + dy * dy < (height as i64 / 6).pow(2) {
            image::Rgb([250, 210, 60])
        } else if y < height * 3 / 5 {
            image::Rgb([90, (140 + y * 80 / height) as u8, 220])
        } else {
            image::Rgb([60, (150 - (y * 60 / height)) as u8, 70])
        }
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut bytes, image::ImageFormat::Png)?;
    Ok(bytes.into_inner())
}

#[test]
fn thumbnails_show_in_the_list_and_a_larger_preview_on_click_as_committed() -> TestResult {
    use lanshare::participant::{FetchedPreview, PreviewAvailable};
    use lanshare::protocol::PreviewKind;
    let dir = tempfile::tempdir()?;
    let photo = sample_png(256, 171)?;
    let notes = "Milk\nEggs\n\tfree range\nBread\n".to_owned();
    let mut files = snapshot_files();
    let listed = [
        (2, PreviewKind::Png, photo.clone()),
        (3, PreviewKind::Text, notes.clone().into_bytes()),
    ];
    for (id, kind, bytes) in &listed {
        if let Some(file) = files.iter_mut().find(|file| file.id == *id) {
            file.details.preview = Some(PreviewAvailable {
                kind: *kind,
                size: bytes.len() as u64,
            });
        }
    }
    let mut app = bob_seeing(dir.path(), files)?;
    for (id, kind, bytes) in listed {
        let available = PreviewAvailable {
            kind,
            size: bytes.len() as u64,
        };
        let fetched = FetchedPreview { kind, bytes };
        let _ = app.update(Message::Participant(ParticipantMessage::PreviewFetched(
            id,
            available,
            Ok(fetched),
        )));
    }
    assert!(matches_snapshot(&app, "participant-previews")?);
    let _ = app.update(Message::Participant(ParticipantMessage::PreviewClicked(2)));
    assert!(shows(&app, "Close preview"));
    assert!(matches_snapshot(&app, "participant-preview-open")?);
    interact(&mut app, |ui| {
        ui.click("Close preview")?;
        Ok(())
    })?;
    assert!(!shows(&app, "Close preview"));
    // A text preview opens the same way, its lines shown as they are.
    let _ = app.update(Message::Participant(ParticipantMessage::PreviewClicked(3)));
    assert!(view_contains(&app, "free range"));
    assert!(shows(&app, "Close preview"));
    use iced::keyboard::{Modifiers, key::Named};
    press(&mut app, key(Named::Escape), Modifiers::default())?;
    assert!(!shows(&app, "Close preview"), "Escape closes the preview");
    Ok(())
}

#[test]
fn the_app_fetches_the_previews_of_rows_in_view_from_the_host() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let mut app = bob_joining(host.local_addr(), dir.path())?;
    pump(&mut app, connected)?;
    let (alice, _) = Person::new("Alice")?.join(host.local_addr())?;
    let text: String = (1..=60).map(|n| format!("line {n}\n")).collect();
    let notes = share(&alice, "notes.txt", text.as_bytes())?;
    let photo = share(&alice, "photo.png", &sample_png(1000, 500)?)?;
    // The previews are made after the offers; the app hears of each and asks the host for it,
    // as the window's runtime would run the task its update returns.
    let deadline = Instant::now() + Duration::from_secs(15);
    let opened = |app: &mut App, id: u64| {
        let _ = app.update(Message::Participant(ParticipantMessage::PreviewClicked(id)));
        shows(app, "Close preview")
    };
    while !(opened(&mut app, notes) && opened(&mut app, photo)) {
        anyhow::ensure!(Instant::now() < deadline, "the previews never arrived");
        for message in app.pending() {
            let task = app.update(message);
            perform(&mut app, task);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = app.update(Message::Participant(ParticipantMessage::PreviewClicked(
        notes,
    )));
    assert!(view_contains(&app, "line 40"));
    assert!(
        !view_contains(&app, "line 41"),
        "the host sends the first 40 lines"
    );
    Ok(())
}
