//! Direct transfers through a real host on loopback: a participant shares a file from its own
//! machine over its session, the host lists it (to clients that asked for direct files) and
//! vouches for a downloader, who fetches it from the sharer; when the sharer leaves the file is
//! unavailable, and it comes back under the same id.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use common::direct::{
    Sharer, fetch_with_worker, saved_file, share_directly_from, share_directly_with,
};
use common::*;
use lanshare::host::HostConfig;
use lanshare::identity::Identity;
use lanshare::participant::{Error, Session, SessionEvent, TransferConnection};

const ANSWER: Duration = Duration::from_secs(10);

/// Alice joins `host` from 127.0.0.1, starts her server there and shares `bytes` directly.
fn share_directly(
    host: SocketAddr,
    alice: &Identity,
    dir: &Path,
    bytes: &[u8],
) -> anyhow::Result<Sharer> {
    share_directly_from([127, 0, 0, 1], host, alice, dir, bytes)
}

/// Bob asks the host for the way to `file_id` and downloads it from the sharer.
fn fetch_directly(host: SocketAddr, bob: &Identity, file_id: u64) -> Result<Vec<u8>, Error> {
    fetch_directly_as(host, "Bob", bob, file_id)
}

/// `name` (proving `identity`) asks the host for the way to `file_id` and downloads it from
/// the sharer.
fn fetch_directly_as(
    host: SocketAddr,
    name: &str,
    identity: &Identity,
    file_id: u64,
) -> Result<Vec<u8>, Error> {
    let (session, _) = Session::join(host, name, identity)?;
    let mut connection = TransferConnection::connect(host)?;
    connection.authenticate(session.credentials())?;
    let route = connection.direct_route(file_id)?;
    let mut direct = TransferConnection::connect_direct(&route, identity)?;
    let mut bytes = Vec::new();
    direct.download(file_id, &mut bytes, &mut |_| {}, &AtomicBool::new(false))?;
    Ok(bytes)
}

/// The lines a plain-text `LIST` answers after `FEATURES:<features>` (none if empty).
fn list_lines(host: SocketAddr, features: &str) -> anyhow::Result<Vec<String>> {
    let mut raw = Raw::connect(host)?;
    if !features.is_empty() {
        raw.send(format!("FEATURES:{features}\n").as_bytes())?;
    }
    raw.send(b"LIST\n")?;
    let mut lines = Vec::new();
    loop {
        let line = raw.line()?;
        if line == "END" {
            return Ok(lines);
        }
        lines.push(line);
    }
}

#[test]
fn a_file_ten_times_over_the_hosts_limit_is_shared_and_fetched_directly() -> TestResult {
    let host = start(HostConfig {
        max_file_size: 1_000_000,
        ..config()
    })?;
    let address = host.local_addr();
    let dir = tempfile::tempdir()?;
    let bytes = data(10_000_001, 17);
    let (alice, bob) = (Identity::generate()?, Identity::generate()?);
    let sharer = share_directly(address, &alice, dir.path(), &bytes)?;

    let fetched = fetch_directly(address, &bob, sharer.file_id)?;
    assert!(fetched == bytes, "the direct download differs");

    // Listed, with its state, to clients that take direct files; unseen by the others.
    let direct = list_lines(address, "file-info,direct")?;
    let offer = format!("FILE_OFFER:{}:huge.iso:10000001:Alice:", sharer.file_id);
    assert!(
        direct.iter().any(|line| line.starts_with(&offer)),
        "{direct:?}"
    );
    let available = format!("FILE_STATE:{}:available", sharer.file_id);
    assert!(direct.contains(&available), "{direct:?}");
    assert_eq!(list_lines(address, "")?, Vec::<String>::new());
    assert_eq!(list_lines(address, "file-info")?, Vec::<String>::new());
    Ok(())
}

#[test]
fn a_sharers_files_are_unavailable_while_it_is_away_and_back_under_their_id() -> TestResult {
    let host = start(config())?;
    let address = host.local_addr();
    let dir = tempfile::tempdir()?;
    let bytes = data(300_000, 5);
    let (alice, bob) = (Identity::generate()?, Identity::generate()?);

    // A session that takes direct files hears of the share as it happens.
    let mut watcher = Raw::connect(address)?;
    watcher.send(b"FEATURES:file-info,direct\n")?;
    raw_join_on(&mut watcher, "Watcher", &Identity::generate()?)?;

    let sharer = share_directly(address, &alice, dir.path(), &bytes)?;
    let file_id = sharer.file_id;
    let available = format!("FILE_STATE:{file_id}:available");
    while watcher.line()? != available {}

    drop(sharer);
    let unavailable = format!("FILE_STATE:{file_id}:unavailable");
    while watcher.line()? != unavailable {}
    assert!(list_lines(address, "direct")?.contains(&unavailable));
    match fetch_directly(address, &bob, file_id) {
        Err(Error::Refused(reason)) => assert_eq!(
            reason,
            "'huge.iso' is unavailable: Alice (who shares it from their machine) is offline"
        ),
        other => anyhow::bail!("expected a refusal, got {:?}", other.map(|b| b.len())),
    }

    let back = share_directly(address, &alice, dir.path(), &bytes)?;
    assert_eq!(
        back.file_id, file_id,
        "the same file came back under another id"
    );
    while watcher.line()? != available {}
    assert!(fetch_directly(address, &bob, file_id)? == bytes);
    drop(back.session);
    Ok(())
}

#[test]
fn only_a_proven_participant_is_given_a_way_to_a_direct_file() -> TestResult {
    let host = start(config())?;
    let address = host.local_addr();
    let dir = tempfile::tempdir()?;
    let sharer = share_directly(address, &Identity::generate()?, dir.path(), b"hello")?;

    let mut stranger = TransferConnection::connect(address)?;
    match stranger.direct_route(sharer.file_id) {
        Err(Error::Refused(reason)) => assert_eq!(
            reason,
            "Prove who you are first (AUTH_PROOF): grants are made out to a key"
        ),
        other => anyhow::bail!("expected a refusal, got {:?}", other.ok()),
    }
    let (session, _) = Session::join(address, "Carol", &Identity::generate()?)?;
    // A refusal closes the connection: each question on a new one. A stored file's id is no
    // direct file either.
    for file_id in [sharer.file_id + 1, 1] {
        let mut proven = TransferConnection::connect(address)?;
        proven.authenticate(session.credentials())?;
        let answer = proven.direct_route(file_id);
        assert!(
            matches!(answer, Err(Error::NotFound(id)) if id == file_id),
            "{:?}",
            answer.err()
        );
    }
    drop(sharer.server);
    Ok(())
}

#[test]
fn a_participant_sees_a_direct_file_and_its_transfers_fetch_it_from_the_sharer() -> TestResult {
    let host = start(config())?;
    let address = host.local_addr();
    let dir = tempfile::tempdir()?;
    let bytes = data(2_500_000, 9);
    let (alice, bob) = (
        Identity::generate()?,
        std::sync::Arc::new(Identity::generate()?),
    );
    let sharer = share_directly(address, &alice, dir.path(), &bytes)?;

    let (session, snapshot) = Session::join(address, "Bob", &bob)?;
    let entry = snapshot
        .files
        .iter()
        .find(|file| file.id == sharer.file_id)
        .ok_or_else(|| anyhow::anyhow!("Bob's snapshot lacks the direct file"))?;
    assert_eq!(entry.details.direct, Some(true));
    assert_eq!(
        (entry.name.as_str(), entry.size),
        ("huge.iso", bytes.len() as u64)
    );

    let saved = tempfile::tempdir()?;
    let said = fetch_with_worker(&session, &snapshot, bob, sharer.file_id, saved.path())?;
    let path = saved_file(&said)?;
    assert!(std::fs::read(&path)? == bytes, "the saved file differs");

    // The sharer leaves: Bob's session hears that the file is unavailable.
    drop(sharer);
    let heard = loop {
        match session.events().recv_timeout(ANSWER)? {
            SessionEvent::FileState { file_id, available } => break (file_id, available),
            _ => continue,
        }
    };
    assert_eq!(heard, (entry_id(&snapshot, "huge.iso")?, false));
    Ok(())
}

fn entry_id(snapshot: &lanshare::participant::Snapshot, name: &str) -> anyhow::Result<u64> {
    snapshot
        .files
        .iter()
        .find(|file| file.name == name)
        .map(|file| file.id)
        .ok_or_else(|| anyhow::anyhow!("no {name}"))
}

#[test]
fn only_its_sharer_or_the_operator_stops_listing_a_direct_file() -> TestResult {
    let (host, operator) = start_with_operator(config())?;
    let address = host.local_addr();
    let dir = tempfile::tempdir()?;
    let alice = Identity::generate()?;
    let sharer = share_directly(address, &alice, dir.path(), b"first")?;
    let (bob, _) = Session::join(address, "Bob", &Identity::generate()?)?;
    match bob.delete(sharer.file_id, ANSWER) {
        Err(Error::Refused(reason)) => {
            assert_eq!(
                reason,
                "Only Alice (who shared it) or the host can delete 'huge.iso'"
            );
        }
        other => anyhow::bail!("expected a refusal, got {other:?}"),
    }
    sharer.session.delete(sharer.file_id, ANSWER)?;
    // Bob's session hears of it; someone joining now finds nothing to delete.
    let heard = loop {
        if let SessionEvent::FileDeleted(id) = bob.events().recv_timeout(ANSWER)? {
            break id;
        }
    };
    assert_eq!(heard, sharer.file_id);
    let (carol, _) = Session::join(address, "Carol", &Identity::generate()?)?;
    assert!(matches!(
        carol.delete(sharer.file_id, ANSWER),
        Err(Error::NotFound(_))
    ));

    let other_dir = tempfile::tempdir()?;
    let again = share_directly(address, &alice, other_dir.path(), b"second")?;
    let (host_session, _) = Session::join(address, "Host", &operator)?;
    host_session.delete(again.file_id, ANSWER)?;
    assert!(
        !list_lines(address, "direct")?
            .iter()
            .any(|line| line.contains("huge.iso"))
    );
    Ok(())
}

#[test]
fn a_direct_file_its_sharer_uploads_is_listed_once_as_stored() -> TestResult {
    let host = start(config())?;
    let address = host.local_addr();
    let dir = tempfile::tempdir()?;
    let bytes = data(200_000, 12);
    let alice = Identity::generate()?;
    let mut watcher = Raw::connect(address)?;
    watcher.send(b"FEATURES:file-info,direct\n")?;
    raw_join_on(&mut watcher, "Watcher", &Identity::generate()?)?;
    let sharer = share_directly(address, &alice, dir.path(), &bytes)?;

    // Someone else uploading the same bytes changes nothing of Alice's direct file.
    let (bob, _) = Session::join(address, "Bob", &Identity::generate()?)?;
    share(&bob, "copy.iso", &bytes)?;
    assert!(
        list_lines(address, "direct")?
            .contains(&format!("FILE_STATE:{}:available", sharer.file_id))
    );

    let stored = share(&sharer.session, "huge.iso", &bytes)?;
    let gone = format!("FILE_DELETED:{}", sharer.file_id);
    while watcher.line()? != gone {}
    let listed = list_lines(address, "file-info,direct")?;
    assert!(
        !listed
            .iter()
            .any(|line| line.contains(&sharer.file_id.to_string())),
        "{listed:?}"
    );
    assert!(
        listed
            .iter()
            .any(|line| line.starts_with(&format!("FILE_OFFER:{stored}:huge.iso:200000:Alice:"))),
        "{listed:?}"
    );

    // Sharing them directly again is refused: they are stored.
    let other_dir = tempfile::tempdir()?;
    let again = share_directly(address, &alice, other_dir.path(), &bytes);
    let refused = again.err().map(|error| format!("{error:#}"));
    assert_eq!(
        refused.as_deref(),
        Some(
            format!(
                "You store these bytes on this host already, as 'huge.iso' (ID: \
                 {stored})"
            )
            .as_str()
        )
    );
    Ok(())
}

/// Alice, Bob and Carol; Bob online (so his name can be chosen), and Carol's session as the
/// raw lines a client taking direct files is told.
fn alice_bob_and_carols_view(host: SocketAddr) -> anyhow::Result<([Identity; 3], Session, Raw)> {
    let people = [
        Identity::generate()?,
        Identity::generate()?,
        Identity::generate()?,
    ];
    let (bob_online, _) = Session::join(host, "Bob", &people[1])?;
    let mut carols_view = Raw::connect(host)?;
    carols_view.send(b"FEATURES:file-info,direct\n")?;
    raw_join_on(&mut carols_view, "Carol", &people[2])?;
    Ok((people, bob_online, carols_view))
}

#[test]
fn a_direct_file_its_sharer_restricts_is_listed_and_vouched_for_only_to_those_chosen() -> TestResult
{
    let host = start(config())?;
    let address = host.local_addr();
    let dir = tempfile::tempdir()?;
    let bytes = data(150_000, 21);
    let ([alice, bob, carol], _bob_online, mut carols_view) = alice_bob_and_carols_view(address)?;
    let sharer = share_directly(address, &alice, dir.path(), &bytes)?;
    let file_id = sharer.file_id;
    let available = format!("FILE_STATE:{file_id}:available");
    while carols_view.line()? != available {}

    let only_bob = lanshare::protocol::Audience::parse_list("Bob")?;
    sharer.session.set_access(file_id, Some(only_bob), ANSWER)?;
    // Carol is told it is gone, is not vouched for, and cannot delete it.
    let gone = format!("FILE_DELETED:{file_id}");
    while carols_view.line()? != gone {}
    let carols = fetch_directly_as(address, "Carol", &carol, file_id).map(|bytes| bytes.len());
    assert!(
        matches!(carols, Err(Error::NotFound(id)) if id == file_id),
        "Carol's fetch: {carols:?}"
    );
    let (carol_again, snapshot) = Session::join(address, "Carol", &carol)?;
    assert!(snapshot.files.iter().all(|file| file.id != file_id));
    let refused = carol_again.delete(file_id, ANSWER);
    assert!(
        matches!(refused, Err(Error::NotFound(id)) if id == file_id),
        "Carol's delete was answered {refused:?}"
    );
    // Bob sees it and fetches it.
    let (_, snapshot) = Session::join(address, "Bob", &bob)?;
    assert!(snapshot.files.iter().any(|file| file.id == file_id));
    assert!(fetch_directly(address, &bob, file_id)? == bytes);
    // Everyone again: Carol is offered it again.
    sharer.session.set_access(file_id, None, ANSWER)?;
    while carols_view.line()? != available {}
    assert!(fetch_directly_as(address, "Carol", &carol, file_id)? == bytes);
    Ok(())
}

#[test]
fn a_direct_file_shared_for_some_is_never_offered_to_others() -> TestResult {
    let host = start(config())?;
    let address = host.local_addr();
    let dir = tempfile::tempdir()?;
    let bytes = data(50_000, 22);
    let ([alice, bob, carol], _bob_online, mut carols_view) = alice_bob_and_carols_view(address)?;
    let only_bob = lanshare::protocol::Audience::parse_list("Bob")?;
    let bind = [127, 0, 0, 1];
    let sharer = share_directly_with(bind, address, &alice, (dir.path(), &bytes), Some(only_bob))?;
    let file_id = sharer.file_id;

    // Carol's view hears of Alice sharing nothing: a later file shared for everyone arrives
    // first.
    let other = tempfile::tempdir()?;
    let for_all = share_directly(address, &alice, other.path(), b"public")?;
    let names_it = |line: &str| line.split(':').nth(1) == Some(file_id.to_string().as_str());
    loop {
        let line = carols_view.line()?;
        assert!(
            !names_it(&line),
            "Carol was told of the restricted file: {line}"
        );
        if line == format!("FILE_STATE:{}:available", for_all.file_id) {
            break;
        }
    }
    let carols = fetch_directly_as(address, "Carol", &carol, file_id).map(|bytes| bytes.len());
    assert!(
        matches!(carols, Err(Error::NotFound(id)) if id == file_id),
        "Carol's fetch: {carols:?}"
    );
    assert!(fetch_directly(address, &bob, file_id)? == bytes);
    let listed = list_lines(address, "file-info,direct")?;
    assert!(
        !listed.iter().any(|line| names_it(line)),
        "an unproven LIST shows the restricted file: {listed:?}"
    );
    Ok(())
}
