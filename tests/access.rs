//! Who may see a file, against real hosts: a file restricted to named participants is
//! invisible to everyone else through every command (`LIST`, live offers, a session's
//! snapshot, `DOWNLOAD` of a guessed id, `DELETE`, `ACCESS`) and to seed-style clients; names
//! stand for the keys that held them when the file was shared; the sharer widens and narrows
//! the list; a disk store keeps it across a restart; and the command line does all of it.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use common::*;
use lanshare::identity::Identity;
use lanshare::participant::{Error, FileEntry, Session, SessionEvent, TransferConnection};
use lanshare::protocol::Audience;

/// Names as a list of who may see a file.
fn only(names: &[&str]) -> anyhow::Result<Audience> {
    Ok(Audience::new(
        names.iter().map(|name| (*name).to_owned()).collect(),
    )?)
}

/// The ids `LIST` shows to `session`'s participant (or, without one, to anyone).
fn listed_ids(host: SocketAddr, session: Option<&Session>) -> anyhow::Result<Vec<u64>> {
    let mut connection = match session {
        Some(session) => proven(session)?,
        None => TransferConnection::connect(host)?,
    };
    Ok(connection.list()?.iter().map(|file| file.id).collect())
}

/// Downloads `file_id` as `session`'s participant (or anyone).
fn download_as(
    host: SocketAddr,
    session: Option<&Session>,
    file_id: u64,
) -> Result<Vec<u8>, Error> {
    let mut connection = match session {
        Some(session) => proven(session)?,
        None => TransferConnection::connect(host)?,
    };
    let mut bytes = Vec::new();
    connection.download(file_id, &mut bytes, &mut |_| {}, &AtomicBool::new(false))?;
    Ok(bytes)
}

/// The files `session` is offered until (and including) `file_id`.
fn offers_until(session: &Session, file_id: u64) -> anyhow::Result<Vec<FileEntry>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut offered = Vec::new();
    loop {
        match session.events().recv_deadline(deadline)? {
            SessionEvent::FileOffered(entry) => {
                let last = entry.id == file_id;
                offered.push(*entry);
                if last {
                    return Ok(offered);
                }
            }
            SessionEvent::FileDeleted(id) => anyhow::bail!("unexpected FILE_DELETED {id}"),
            SessionEvent::Closed(reason) => anyhow::bail!("session closed: {reason}"),
            _ => {}
        }
    }
}

/// Joins as `person` once its name is free (its holder's session may take a moment to end).
fn join_when_free(
    person: &Person,
    host: SocketAddr,
) -> anyhow::Result<(Session, lanshare::participant::Snapshot)> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match person.join(host) {
            Ok(joined) => return Ok(joined),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(error) => return Err(error),
        }
    }
}

/// What a plain-text seed client is told for `DOWNLOAD:<file_id>`.
fn seed_download(host: SocketAddr, file_id: u64) -> anyhow::Result<String> {
    let mut raw = Raw::connect(host)?;
    raw.send(format!("DOWNLOAD:{file_id}\n").as_bytes())?;
    raw.line()
}

#[test]
fn a_restricted_file_is_invisible_to_everyone_else_through_every_command() -> TestResult {
    let (host, operator) = start_with_operator(config())?;
    let address = host.local_addr();
    let (alice, _) = Person::new("Alice")?.join(address)?;
    let bob_person = Person::new("Bob")?;
    let (bob, _) = bob_person.join(address)?;
    let (eve, _) = Person::new("Eve")?.join(address)?;

    let secret = share_only(&alice, "secret.txt", b"for bob", &["bob"])?.file_id;
    let public = share(&alice, "public.txt", b"for all")?;

    // Live offers: Eve hears of the public file only; Bob of both, without the list; Alice,
    // the sharer, with who may see it.
    let eve_offers: Vec<u64> = offers_until(&eve, public)?.iter().map(|f| f.id).collect();
    assert_eq!(eve_offers, [public]);
    let bob_offers = offers_until(&bob, public)?;
    assert_eq!(bob_offers.len(), 2);
    assert_eq!(bob_offers[0].details.only, None);
    let alice_offers = offers_until(&alice, public)?;
    assert_eq!(alice_offers[0].details.only, Some(only(&["bob"])?));
    assert_eq!(alice_offers[1].details.only, None);

    // LIST: unproven and as Eve, not there; as Bob and Alice, there.
    assert_eq!(listed_ids(address, None)?, [public]);
    assert_eq!(listed_ids(address, Some(&eve))?, [public]);
    assert_eq!(listed_ids(address, Some(&bob))?, [secret, public]);
    assert_eq!(listed_ids(address, Some(&alice))?, [secret, public]);

    // DOWNLOAD of the guessed id: exactly as for a file that does not exist.
    assert!(matches!(
        download_as(address, Some(&eve), secret),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        download_as(address, None, secret),
        Err(Error::NotFound(_))
    ));
    assert_eq!(download_as(address, Some(&bob), secret)?, b"for bob");
    assert_eq!(
        seed_download(address, secret)?,
        seed_download(address, 999)?
    );
    assert_eq!(seed_download(address, secret)?, "ERROR:File not found");

    // DELETE and ACCESS by Eve: not found either, and the file stays.
    assert!(matches!(
        eve.delete(secret, Duration::from_secs(5)),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        eve.set_access(secret, None, Duration::from_secs(5)),
        Err(Error::NotFound(_))
    ));
    assert_eq!(host.files().len(), 2);

    // A seed-style session (no FEATURES) and a new participant's snapshot: not there.
    let mut seed_session = raw_join(address, "Sam", &Identity::generate()?)?;
    seed_session.send(b"PING\n")?;
    assert_eq!(seed_session.line()?, "PONG");
    let (_, snapshot) = Person::new("Zed")?.join(address)?;
    let ids: Vec<u64> = snapshot.files.iter().map(|f| f.id).collect();
    assert_eq!(ids, [public]);

    // The operator sees it, with who may see it.
    let (_, snapshot) = Session::join(address, "Host", &operator)?;
    let listed = snapshot
        .files
        .iter()
        .find(|f| f.id == secret)
        .ok_or_else(|| anyhow::anyhow!("the operator does not see it"))?;
    assert_eq!(listed.details.only, Some(only(&["bob"])?));

    // Bob leaves; someone else takes the name "Bob" and gets nothing.
    drop(bob);
    let (impostor, snapshot) = join_when_free(&Person::new("Bob")?, address)?;
    assert!(snapshot.files.iter().all(|f| f.id != secret));
    assert_eq!(listed_ids(address, Some(&impostor))?, [public]);
    assert!(matches!(
        download_as(address, Some(&impostor), secret),
        Err(Error::NotFound(_))
    ));
    // The real Bob, back with his key, still may.
    drop(impostor);
    let (bob, _) = join_when_free(&bob_person, address)?;
    assert_eq!(download_as(address, Some(&bob), secret)?, b"for bob");
    Ok(())
}

#[test]
fn unknown_names_and_guests_cannot_restrict_a_file() -> TestResult {
    let host = start(config())?;
    let (alice, _) = Person::new("Alice")?.join(host.local_addr())?;
    let refused = share_only(&alice, "a.txt", b"a", &["Dan"]);
    assert!(
        matches!(&refused, Err(Error::Refused(reason))
            if reason == "No participant called 'Dan' is known to this host"),
        "{refused:?}"
    );
    // A guest (no AUTH) is refused: it could not see its own file.
    let mut raw = Raw::connect_tls(host.local_addr())?;
    raw.send(b"FEATURES:file-info,access\nUPLOAD_OPTIONS:::Alice\nUPLOAD:0:Guest:g.txt:1\n")?;
    assert_eq!(
        raw.line()?,
        "ERROR:Only a joined participant can choose who sees a file: AUTH_PROOF first"
    );
    assert!(host.files().is_empty());
    Ok(())
}

/// Waits for `session` to hear `FILE_DELETED` for `file_id`.
fn hears_deleted(session: &Session, file_id: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match session.events().recv_deadline(deadline)? {
            SessionEvent::FileDeleted(id) if id == file_id => return Ok(()),
            SessionEvent::Closed(reason) => anyhow::bail!("session closed: {reason}"),
            _ => {}
        }
    }
}

#[test]
fn the_sharer_widens_and_narrows_who_may_see_a_file() -> TestResult {
    let host = start(config())?;
    let address = host.local_addr();
    let (alice, _) = Person::new("Alice")?.join(address)?;
    let (bob, _) = Person::new("Bob")?.join(address)?;
    let (carol, _) = Person::new("Carol")?.join(address)?;
    let (eve, _) = Person::new("Eve")?.join(address)?;
    let id = share_only(&alice, "plan.txt", b"plan", &["Bob"])?.file_id;
    offers_until(&bob, id)?;
    offers_until(&alice, id)?;

    // Narrowed to Carol: Bob hears it is gone, Carol is offered it.
    let entry = alice.set_access(id, Some(only(&["Carol"])?), Duration::from_secs(5))?;
    assert_eq!(entry.details.only, Some(only(&["Carol"])?));
    hears_deleted(&bob, id)?;
    offers_until(&carol, id)?;
    assert!(matches!(
        download_as(address, Some(&bob), id),
        Err(Error::NotFound(_))
    ));
    assert_eq!(download_as(address, Some(&carol), id)?, b"plan");

    // Only the sharer (or the operator) changes it; an unknown name is refused.
    let refused = carol.set_access(id, None, Duration::from_secs(5));
    assert!(
        matches!(&refused, Err(Error::Refused(reason))
            if reason == "Only Alice (who shared it) or the host can change who sees 'plan.txt'"),
        "{refused:?}"
    );
    let refused = alice.set_access(id, Some(only(&["Dan"])?), Duration::from_secs(5));
    assert!(
        matches!(&refused, Err(Error::Refused(reason)) if reason.contains("'Dan'")),
        "{refused:?}"
    );

    // Widened to everyone: Eve is offered it, and it is listed for anyone.
    let entry = alice.set_access(id, None, Duration::from_secs(5))?;
    assert_eq!(entry.details.only, None);
    offers_until(&eve, id)?;
    assert_eq!(listed_ids(address, None)?, [id]);
    Ok(())
}

#[test]
fn a_disk_store_keeps_who_may_see_a_file_across_a_restart() -> TestResult {
    let dir = tempfile::tempdir()?;
    let alice_person = Person::new("Alice")?;
    let bob_person = Person::new("Bob")?;
    let (secret, narrowed) = {
        let host = start(disk_config(dir.path()))?;
        let (alice, _) = alice_person.join(host.local_addr())?;
        let (bob, _) = bob_person.join(host.local_addr())?;
        let secret = share_only(&alice, "secret.txt", b"for bob", &["Bob"])?.file_id;
        let narrowed = share(&alice, "was-public.txt", b"narrowed later")?;
        alice.set_access(narrowed, Some(only(&[])?), Duration::from_secs(5))?;
        drop((alice, bob));
        host.shutdown();
        (secret, narrowed)
    };
    let host = start(disk_config(dir.path()))?;
    let address = host.local_addr();
    assert_eq!(host.files().len(), 2);
    // Someone else takes the name "Bob" while Bob is away: nothing.
    let (impostor, snapshot) = Person::new("Bob")?.join(address)?;
    assert!(snapshot.files.is_empty());
    assert!(matches!(
        download_as(address, Some(&impostor), secret),
        Err(Error::NotFound(_))
    ));
    assert_eq!(listed_ids(address, None)?, Vec::<u64>::new());
    drop(impostor);
    let (bob, _) = join_when_free(&bob_person, address)?;
    assert_eq!(listed_ids(address, Some(&bob))?, [secret]);
    assert_eq!(download_as(address, Some(&bob), secret)?, b"for bob");
    let (_, snapshot) = alice_person.join(address)?;
    let only_seen: Vec<(u64, Option<Audience>)> = snapshot
        .files
        .iter()
        .map(|f| (f.id, f.details.only.clone()))
        .collect();
    assert_eq!(
        only_seen,
        [
            (secret, Some(only(&["Bob"])?)),
            (narrowed, Some(only(&[])?))
        ]
    );
    Ok(())
}

#[test]
fn the_command_line_restricts_lists_and_widens() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let cli = |name: &str| Cli::in_folder(dir.path(), name, host.local_addr());
    let (alice, bob, eve) = (cli("alice"), cli("bob"), cli("eve"));
    std::fs::write(dir.path().join("mine.txt"), b"bob's")?;
    std::fs::write(dir.path().join("plan.txt"), b"the plan")?;
    // Bob shares a file, so the host knows him while he is away.
    let sent = bob.run_in(dir.path(), &["send", "--user", "Bob", "mine.txt"])?;
    assert!(sent.status.success(), "{}", stderr(&sent));
    let refused = alice.run_in(
        dir.path(),
        &["send", "--user", "Alice", "--only", "Bob,Dan", "plan.txt"],
    )?;
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("No participant called 'Dan' is known to this host"),
        "{}",
        stderr(&refused)
    );
    let sent = alice.run_in(
        dir.path(),
        &["send", "--user", "Alice", "--only", "Bob", "plan.txt"],
    )?;
    assert_eq!(stdout(&sent), "Shared 'plan.txt' (8 B) as #2\n");

    let table = stdout(&alice.run(&["ls"])?);
    assert!(table.contains("plan.txt (only Bob)"), "{table}");
    let json: Vec<serde_json::Value> =
        serde_json::from_str(&stdout(&alice.run(&["ls", "--json"])?))?;
    assert_eq!(json[1]["only"], serde_json::json!(["Bob"]));
    assert_eq!(json[0]["only"], serde_json::Value::Null);

    // Eve (a new user) sees only Bob's file and cannot download the plan; Bob can.
    let eve_json: Vec<serde_json::Value> =
        serde_json::from_str(&stdout(&eve.run(&["ls", "--json", "--user", "Eve"])?))?;
    assert_eq!(eve_json.len(), 1);
    let got = eve.run_in(dir.path(), &["get", "--user", "Eve", "2"])?;
    assert!(!got.status.success());
    assert!(
        stderr(&got).contains("no file with id 2"),
        "{}",
        stderr(&got)
    );
    let out = dir.path().join("bob-plan.txt");
    let got = bob.run(&["get", "2", "-o", &out.to_string_lossy()])?;
    assert!(got.status.success(), "{}", stderr(&got));
    assert_eq!(std::fs::read(&out)?, b"the plan");

    // Only the sharer changes it; then everyone sees it.
    let refused = bob.run(&["share", "2", "--everyone"])?;
    assert!(!refused.status.success());
    let widened = alice.run(&["share", "2", "--everyone"])?;
    assert_eq!(
        stdout(&widened),
        "#2 'plan.txt' may now be seen by everyone\n",
        "{}",
        stderr(&widened)
    );
    let eve_json: Vec<serde_json::Value> =
        serde_json::from_str(&stdout(&eve.run(&["ls", "--json", "--user", "Eve"])?))?;
    assert_eq!(eve_json.len(), 2);
    let narrowed = alice.run(&["share", "2", "--only", "Bob"])?;
    assert_eq!(
        stdout(&narrowed),
        "#2 'plan.txt' may now be seen only by Bob (and you, and the host's operator)\n"
    );
    Ok(())
}
