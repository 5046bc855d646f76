//! The desktop app's side of direct transfers (issue #17), driven through iced_test's
//! simulator against real hosts on loopback: the app shares files from its own server, offers
//! it for a file too large for the host, shows others' direct files (greyed while their sharer
//! is away), turns its own into stored ones, and says when a download was relayed.
#![cfg(feature = "gui")]

mod common;
mod gui_support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::direct::{fetch_with_worker, saved_file, share_directly_from};
use common::*;
use gui_support::*;
use lanshare::gui::participant::Message as ParticipantMessage;
use lanshare::gui::{App, Message};
use lanshare::identity::Identity;
use lanshare::participant::live::LiveEvent;
use lanshare::participant::worker::TransferUpdate;
use lanshare::participant::{FileDetails, FileEntry, Session, SessionEvent, Snapshot};
use lanshare::protocol::Sha256Digest;
use sha2::{Digest, Sha256};

/// Bob's app joined to `host`.
fn bob_joined(host: SocketAddr, dir: &Path) -> anyhow::Result<App> {
    let mut app = bob_joining(host, dir)?;
    pump(&mut app, |m| {
        matches!(live(m), Some(LiveEvent::Connected { .. }))
    })?;
    Ok(app)
}

/// Feeds the app what its workers report until `done` has seen the message it waits for.
fn pump(app: &mut App, mut done: impl FnMut(&Message) -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let mut finished = false;
        for message in app.pending() {
            finished |= done(&message);
            let task = app.update(message);
            perform(app, task);
        }
        if finished {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    anyhow::bail!("the awaited message never came")
}

/// The session event in `message`.
fn session_event(message: &Message) -> Option<&SessionEvent> {
    match live(message) {
        Some(LiveEvent::Session(event)) => Some(event),
        _ => None,
    }
}

/// Whether `message` is the host listing a file the app shares directly.
fn direct_shared(message: &Message) -> bool {
    matches!(
        session_event(message),
        Some(SessionEvent::DirectShared { .. })
    )
}

/// The messages a click on `label` in the current view makes.
fn click(app: &App, label: &str) -> anyhow::Result<Vec<Message>> {
    let mut ui = iced_test::Simulator::with_settings(settings(), app.view());
    ui.click(label)?;
    Ok(ui.into_messages().collect())
}

/// Applies `message` to the app and runs the task it returns.
fn send(app: &mut App, message: ParticipantMessage) {
    let task = app.update(Message::Participant(message));
    perform(app, task);
}

/// SHA-256 of `bytes`.
fn sha256(bytes: &[u8]) -> Sha256Digest {
    Sha256Digest(Sha256::digest(bytes).into())
}

/// Carol joins `host`; returns her session, what she sees, and her identity.
fn carol(host: SocketAddr) -> anyhow::Result<(Session, Snapshot, Arc<Identity>)> {
    let identity = Arc::new(Identity::generate()?);
    let (session, snapshot) = Session::join(host, "Carol", &identity)?;
    Ok((session, snapshot, identity))
}

/// Feeds the app its workers' reports until its view contains `text`.
fn pump_until_shown(app: &mut App, text: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !view_contains(app, text) {
        if Instant::now() > deadline {
            anyhow::bail!("{text:?} never showed: {:?}", texts(app));
        }
        for message in app.pending() {
            let task = app.update(message);
            perform(app, task);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// The port in the app's "Sharing directly on port N", if it says so.
fn sharing_port(app: &App) -> Option<u16> {
    texts(app).iter().find_map(|text| {
        let (_, rest) = text.split_once("Sharing directly on port ")?;
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    })
}

#[test]
fn a_file_shared_directly_from_the_app_is_listed_and_downloaded_from_the_apps_server() -> TestResult
{
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let mut app = bob_joined(host.local_addr(), dir.path())?;
    let bytes = data(5_000_017, 41);
    let path = dir.path().join("film.mkv");
    std::fs::write(&path, &bytes)?;

    let clicked = click(&app, "Share directly…")?;
    assert!(
        matches!(
            clicked.as_slice(),
            [Message::Participant(
                ParticipantMessage::ShareDirectlyClicked
            )]
        ),
        "{clicked:?}"
    );
    // The picker is rfd's own window: the app is given what it returns.
    send(
        &mut app,
        ParticipantMessage::DirectFilesPicked(dialog(Some(vec![path.clone()]))),
    );
    assert!(
        view_contains(&app, "Preparing 'film.mkv' to share directly · 0 %"),
        "{:?}",
        texts(&app)
    );
    pump(&mut app, direct_shared)?;
    let port = sharing_port(&app).ok_or_else(|| anyhow::anyhow!("{:?}", texts(&app)))?;
    assert!(view_contains(
        &app,
        "Sharing 'film.mkv' directly from this machine"
    ));
    assert!(!view_contains(&app, "Preparing 'film.mkv'"));

    // Another participant sees it as the host lists it, and fetches it from the app.
    let (session, snapshot, identity) = carol(host.local_addr())?;
    let listed = snapshot
        .files
        .iter()
        .find(|file| file.name == "film.mkv")
        .ok_or_else(|| anyhow::anyhow!("not listed: {:?}", snapshot.files))?;
    assert_eq!(
        (listed.size, listed.sha256, listed.uploader.as_str()),
        (bytes.len() as u64, sha256(&bytes), "Bob")
    );
    assert_eq!(listed.details.direct, Some(true));
    assert!(host.files().is_empty(), "the host stores none of it");
    let saved = tempfile::tempdir()?;
    let said = fetch_with_worker(&session, &snapshot, identity, listed.id, saved.path())?;
    assert!(std::fs::read(saved_file(&said)?)? == bytes);
    assert!(
        !said.contains(&TransferUpdate::Relayed),
        "fetched from the app's port {port}, not relayed: {said:?}"
    );

    // Bob's own row says where it comes from; "Upload to host" stores it on the host.
    pump_until_shown(&mut app, "Shared directly from this machine")?;
    let clicked = click(&app, "Upload to host")?;
    for message in clicked {
        let task = app.update(message);
        perform(&mut app, task);
    }
    assert!(
        view_contains(&app, "Uploading film.mkv"),
        "{:?}",
        texts(&app)
    );
    pump(&mut app, transfer_ended)?;
    assert!(
        view_contains(
            &app,
            "'film.mkv' is stored on the host now, no longer shared from this machine"
        ),
        "{:?}",
        texts(&app)
    );
    let stored = host.files();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        (stored[0].sha256, stored[0].size),
        (sha256(&bytes), bytes.len() as u64)
    );
    assert_eq!(sharing_port(&app), None, "the app serves nothing any more");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    Ok(())
}

#[test]
fn a_file_too_large_for_the_host_is_offered_to_be_shared_directly_instead() -> TestResult {
    let host = start(lanshare::host::HostConfig {
        max_file_size: 1 << 20,
        ..config()
    })?;
    let dir = tempfile::tempdir()?;
    let mut app = bob_joined(host.local_addr(), dir.path())?;
    let bytes = data(3 << 20, 42);
    let path = dir.path().join("dataset.bin");
    std::fs::write(&path, &bytes)?;
    send(
        &mut app,
        ParticipantMessage::FilesPicked(dialog(Some(vec![path.clone()]))),
    );
    pump(&mut app, transfer_ended)?;
    assert!(
        view_contains(&app, "Failed to upload 'dataset.bin': File too large"),
        "{:?}",
        texts(&app)
    );
    let clicked = click(&app, "Share directly instead")?;
    assert!(
        matches!(
            clicked.as_slice(),
            [Message::Participant(ParticipantMessage::ShareDirectlyInstead(p))] if *p == path
        ),
        "{clicked:?}"
    );
    for message in clicked {
        let task = app.update(message);
        perform(&mut app, task);
    }
    pump(&mut app, direct_shared)?;
    assert!(view_contains(
        &app,
        "Sharing 'dataset.bin' directly from this machine"
    ));
    let port = sharing_port(&app).ok_or_else(|| anyhow::anyhow!("{:?}", texts(&app)))?;
    let (_, snapshot, _) = carol(host.local_addr())?;
    let listed: Vec<(&str, u64, Option<bool>)> = snapshot
        .files
        .iter()
        .map(|f| (f.name.as_str(), f.size, f.details.direct))
        .collect();
    assert_eq!(listed, [("dataset.bin", 3 << 20, Some(true))]);

    // Leaving the host stops the server: its port refuses.
    for message in click(&app, "Leave")? {
        let task = app.update(message);
        perform(&mut app, task);
    }
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    Ok(())
}

/// Whether `message` tells that direct file `id` became available (`available`), alone or in
/// an offer.
fn file_state(message: &Message, id: u64, available: bool) -> bool {
    match session_event(message) {
        Some(SessionEvent::FileState {
            file_id,
            available: now,
        }) => *file_id == id && *now == available,
        Some(SessionEvent::FileOffered(file)) => {
            file.id == id && file.details.direct == Some(available)
        }
        _ => false,
    }
}

#[test]
fn a_direct_file_whose_sharer_left_is_greyed_with_why_until_it_comes_back() -> TestResult {
    let host = start(config())?;
    let address = host.local_addr();
    let dir = tempfile::tempdir()?;
    let alice = Identity::generate()?;
    let bytes = data(200_000, 43);
    let sharer = share_directly_from([127, 0, 0, 1], address, &alice, dir.path(), &bytes)?;
    let id = sharer.file_id;
    let bob_dir = tempfile::tempdir()?;
    let mut app = bob_joined(address, bob_dir.path())?;
    assert!(view_contains(&app, "Shared directly from Alice's machine"));
    assert!(
        !click(&app, "Download")?.is_empty(),
        "an available direct file downloads"
    );

    drop(sharer);
    pump(&mut app, |m| file_state(m, id, false))?;
    assert!(
        view_contains(
            &app,
            "unavailable: Alice, who shares it from their machine, is offline"
        ),
        "{:?}",
        texts(&app)
    );
    assert!(
        click(&app, "Unavailable")?.is_empty(),
        "an unavailable file cannot be downloaded"
    );
    assert!(click(&app, "Download").is_err(), "{:?}", texts(&app));
    // Enter on the selected row says why instead of asking where to save.
    send(&mut app, ParticipantMessage::DownloadClicked(id));
    assert!(view_contains(&app, "'huge.iso' cannot be downloaded now"));

    // Alice shares it again: the same id, available again.
    let again = share_directly_from([127, 0, 0, 1], address, &alice, dir.path(), &bytes)?;
    assert_eq!(again.file_id, id);
    pump(&mut app, |m| file_state(m, id, true))?;
    assert!(view_contains(&app, "Shared directly from Alice's machine"));
    assert!(!click(&app, "Download")?.is_empty());
    Ok(())
}

#[test]
fn a_download_the_host_relayed_says_so_in_the_transfers() -> TestResult {
    let host = start(config())?;
    let address = host.local_addr();
    let dir = tempfile::tempdir()?;
    let bytes = data(3_000_000, 44);
    // Alice's server listens on 127.0.0.2 while the host hands out 127.0.0.1: unreachable.
    let sharer = share_directly_from(
        [127, 0, 0, 2],
        address,
        &Identity::generate()?,
        dir.path(),
        &bytes,
    )?;
    sharer.session.serve_relays(&sharer.server);
    let bob_dir = tempfile::tempdir()?;
    let mut app = bob_joined(address, bob_dir.path())?;
    let target = bob_dir.path().join("relayed.iso");
    send(
        &mut app,
        ParticipantMessage::SavePicked(sharer.file_id, dialog(Some(target.clone()))),
    );
    pump(&mut app, transfer_ended)?;
    assert!(std::fs::read(&target)? == bytes);
    send(&mut app, ParticipantMessage::ShowTransfers);
    assert!(
        view_contains(&app, "· relayed through the host"),
        "{:?}",
        texts(&app)
    );
    Ok(())
}

/// A direct file listed as `entry` makes, `available` or not.
fn direct_entry(id: u64, name: &str, size: u64, uploader: &str, available: bool) -> FileEntry {
    FileEntry {
        id,
        name: name.into(),
        size,
        uploader: uploader.into(),
        uploader_id: 1,
        uploaded_at: chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default(),
        sha256: Sha256Digest([0; 32]),
        check: None,
        details: FileDetails {
            direct: Some(available),
            ..FileDetails::default()
        },
    }
}

#[test]
fn available_and_unavailable_direct_rows_look_as_committed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut stored = direct_entry(3, "notes.txt", 6, "Carol", true);
    stored.details.direct = None;
    let files = vec![
        direct_entry(1, "holiday video.mp4", 52_428_800_000, "Alice", true),
        direct_entry(2, "disk image.iso", 8_589_934_592, "Dave", false),
        stored,
    ];
    let app = bob_seeing_with(dir.path(), Vec::new(), files)?;
    assert!(matches_snapshot_at(
        &app,
        "participant-direct",
        DEFAULT_SIZE
    )?);
    Ok(())
}

#[test]
fn a_restarted_host_lists_the_apps_direct_files_again_once_the_app_rejoins() -> TestResult {
    let first = start(config())?;
    let address = first.local_addr();
    let dir = tempfile::tempdir()?;
    let mut app = bob_joined(address, dir.path())?;
    let bytes = data(1_500_000, 45);
    let path = dir.path().join("slides.pdf");
    std::fs::write(&path, &bytes)?;
    send(
        &mut app,
        ParticipantMessage::DirectFilesPicked(dialog(Some(vec![path]))),
    );
    pump(&mut app, direct_shared)?;

    // The host restarts (a new grant key, its direct listings forgotten); the app rejoins
    // and shares the file again, and serves downloaders the new host vouches for.
    first.shutdown();
    pump(&mut app, |m| {
        matches!(live(m), Some(LiveEvent::Lost { .. }))
    })?;
    let _second = start(lanshare::host::HostConfig {
        bind: address,
        ..config()
    })?;
    pump(&mut app, direct_shared)?;
    let (session, snapshot, identity) = carol(address)?;
    let listed = snapshot
        .files
        .iter()
        .find(|file| file.name == "slides.pdf" && file.details.direct == Some(true))
        .ok_or_else(|| anyhow::anyhow!("not listed again: {:?}", snapshot.files))?;
    let saved = tempfile::tempdir()?;
    let said = fetch_with_worker(&session, &snapshot, identity, listed.id, saved.path())?;
    assert!(std::fs::read(saved_file(&said)?)? == bytes);
    Ok(())
}
