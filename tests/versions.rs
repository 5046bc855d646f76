//! Versions of a file, against real hosts: sharing a name again makes a new version of the
//! same file (listed latest, with its count), every version listed and downloaded byte-exact,
//! the host keeping the last `--keep-versions` and freeing the rest, every version counted
//! against the store's limit, deleting a file deleting them all, a disk store keeping them
//! across a restart, seed clients seeing only the latest as a plain file, and the command line.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;

use common::*;
use lanshare::host::HostConfig;
use lanshare::participant::{Error, Session, TransferConnection, VersionCount};
use lanshare::protocol::{Sha256Digest, VersionInfo};
use lanshare::storage::StorageConfig;

/// Shares `bytes` as `name` from `session`'s participant, as a file of its own if `new_file`.
fn share_as(session: &Session, name: &str, bytes: &[u8], new_file: bool) -> anyhow::Result<u64> {
    let mut connection = proven(session)?;
    if new_file {
        connection.upload_next_as_new_file()?;
    }
    Ok(upload_as(&mut connection, session, name, bytes)?.file_id)
}

/// The kept versions of `file_id`, as `session`'s participant.
fn versions(session: &Session, file_id: u64) -> Result<Vec<VersionInfo>, Error> {
    proven(session)?.versions(file_id)
}

/// Version `version` of `file_id` (`None`: the latest), downloaded whole.
fn download_version(
    host: SocketAddr,
    file_id: u64,
    version: Option<u32>,
) -> Result<Vec<u8>, Error> {
    let mut connection = TransferConnection::connect(host)?;
    let mut bytes = Vec::new();
    connection.download_version_from(
        (file_id, version, 0),
        sha2::Sha256::default(),
        &mut bytes,
        &mut |_| {},
        &AtomicBool::new(false),
    )?;
    Ok(bytes)
}

/// The tests' usual host configuration.
fn config_for_test() -> HostConfig {
    config()
}

fn sha256(bytes: &[u8]) -> Sha256Digest {
    use sha2::Digest;
    Sha256Digest(sha2::Sha256::digest(bytes).into())
}

#[test]
fn sharing_a_name_again_makes_a_new_version_listed_latest_with_its_count() -> TestResult {
    let host = start(config())?;
    let address = host.local_addr();
    let (alice, _) = Person::new("Alice")?.join(address)?;
    let (bob, _) = Person::new("Bob")?.join(address)?;
    let contents = [data(1000, 1), data(2000, 2), data(1500, 3)];
    let mut ids = Vec::new();
    for content in &contents {
        ids.push(share_as(&alice, "report.txt", content, false)?);
    }
    assert_eq!(ids, [ids[0]; 3], "one file, three versions");
    let id = ids[0];

    let files = listed(address)?;
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].size, 1500);
    assert_eq!(
        files[0].details.versions,
        Some(VersionCount { latest: 3, kept: 3 })
    );
    let kept = versions(&alice, id)?;
    let numbers: Vec<u32> = kept.iter().map(|v| v.number).collect();
    assert_eq!(numbers, [1, 2, 3]);
    for (version, content) in kept.iter().zip(&contents) {
        assert_eq!(version.size, content.len() as u64);
        assert_eq!(version.sha256, sha256(content));
        assert_eq!(
            download_version(address, id, Some(version.number))?,
            *content
        );
    }
    assert_eq!(download_version(address, id, None)?, contents[2]);

    // Someone else's file of the same name, and a new file asked for, are files of their own.
    let bobs = share_as(&bob, "report.txt", b"bob's", false)?;
    let separate = share_as(&alice, "report.txt", b"apart", true)?;
    assert!(bobs != id && separate != id && bobs != separate);
    // Guests (seed clients) never make versions: two uploads, two files.
    assert_eq!(
        seed_upload(address, "UPLOAD:0:Gus:notes.txt:2\n", b"n1")?,
        "READY\n"
    );
    assert_eq!(
        seed_upload(address, "UPLOAD:0:Gus:notes.txt:2\n", b"n2")?,
        "READY\n"
    );
    assert!(wait_until(std::time::Duration::from_secs(5), || host
        .files()
        .len()
        == 5));
    let guests = listed(address)?
        .iter()
        .filter(|file| file.name == "notes.txt")
        .count();
    assert_eq!(guests, 2);

    // A seed client sees the latest as a plain file: its offer, its bytes, no extra line.
    let mut seed = Raw::connect(address)?;
    seed.send(format!("DOWNLOAD:{id}\n").as_bytes())?;
    assert_eq!(seed.line()?, "FILE:report.txt:1500");
    seed.send(b"READY\n")?;
    assert_eq!(seed.bytes(1500)?, contents[2]);
    let mut session = raw_join(address, "Sam", &lanshare::identity::Identity::generate()?)?;
    session.send(b"PING\n")?;
    assert_eq!(session.line()?, "PONG");
    // The newest file of that name (the one kept apart) gets the next version.
    assert_eq!(share_as(&alice, "report.txt", b"fourth", false)?, separate);
    assert_eq!(
        session.line()?,
        format!("FILE_OFFER:{separate}:report.txt:6:Alice:1")
    );
    assert!(
        session
            .line()?
            .starts_with(&format!("FILE_META:{separate}:"))
    );
    Ok(())
}

#[test]
fn the_host_keeps_the_last_versions_frees_the_rest_and_counts_them_all() -> TestResult {
    let host = start(HostConfig {
        keep_versions: 2,
        storage: StorageConfig::Memory { limit: 1000 },
        ..config()
    })?;
    let address = host.local_addr();
    let (alice, _) = Person::new("Alice")?.join(address)?;
    let mut id = 0;
    for (n, size) in [100, 200, 300, 400].into_iter().enumerate() {
        id = share_as(&alice, "log.txt", &data(size, n as u64), false)?;
    }
    let numbers: Vec<u32> = versions(&alice, id)?.iter().map(|v| v.number).collect();
    assert_eq!(numbers, [3, 4]);
    assert_eq!(host.memory_in_use(), 700, "versions 3 and 4 only");
    let refused = download_version(address, id, Some(1));
    assert!(
        matches!(&refused, Err(Error::Refused(reason))
            if *reason == format!("Version 1 of file {id} is not kept (see VERSIONS)")),
        "{refused:?}"
    );
    assert_eq!(download_version(address, id, Some(3))?, data(300, 2));

    // Both versions count: 700 of 1000 bytes held, so 400 more do not fit.
    let full = share_as(&alice, "other.bin", &data(400, 9), false);
    assert!(
        full.as_ref()
            .is_err_and(|error| error.to_string().contains("Host storage is full")),
        "{full:?}"
    );
    // Deleting the file frees every version.
    alice.delete(id, std::time::Duration::from_secs(5))?;
    assert_eq!(host.memory_in_use(), 0);
    assert!(matches!(versions(&alice, id), Err(Error::NotFound(_))));
    Ok(())
}

#[test]
fn a_disk_store_keeps_versions_across_a_restart_and_removes_them_all_on_delete() -> TestResult {
    let dir = tempfile::tempdir()?;
    let person = Person::new("Alice")?;
    let config = || HostConfig {
        keep_versions: 3,
        storage: StorageConfig::Disk {
            dir: dir.path().to_path_buf(),
            limit: Some(1_000_000),
        },
        ..config_for_test()
    };
    let id = {
        let host = start(config())?;
        let (alice, _) = person.join(host.local_addr())?;
        let mut id = 0;
        for n in 1..=4 {
            id = share_as(&alice, "plan.md", &data(1000 * n, n as u64), false)?;
        }
        drop(alice);
        host.shutdown();
        id
    };
    let files = dir.path().join("files");
    assert!(
        !files.join(format!("{id}.data")).exists(),
        "version 1 freed"
    );
    let host = start(config())?;
    assert_eq!(host.disk_in_use(), 2000 + 3000 + 4000);
    let (alice, _) = person.join(host.local_addr())?;
    let kept = versions(&alice, id)?;
    let numbers: Vec<u32> = kept.iter().map(|v| v.number).collect();
    assert_eq!(numbers, [2, 3, 4]);
    for version in &kept {
        let n = version.number as usize;
        assert_eq!(
            download_version(host.local_addr(), id, Some(version.number))?,
            data(1000 * n, n as u64)
        );
    }
    alice.delete(id, std::time::Duration::from_secs(5))?;
    let left: Vec<_> = std::fs::read_dir(&files)?.collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(host.disk_in_use(), 0);
    Ok(())
}

#[test]
fn the_command_line_shares_versions_lists_and_gets_them() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let cli = Cli::in_folder(dir.path(), "alice", host.local_addr());
    let file = dir.path().join("a.txt");
    std::fs::write(&file, b"first")?;
    let sent = cli.run_in(dir.path(), &["send", "--user", "Alice", "a.txt"])?;
    assert_eq!(stdout(&sent), "Shared 'a.txt' (5 B) as #1\n");
    std::fs::write(&file, b"second!")?;
    let sent = cli.run_in(dir.path(), &["send", "--user", "Alice", "a.txt"])?;
    assert_eq!(stdout(&sent), "Shared 'a.txt' (7 B) as #1, version 2\n");
    // (Sent again unchanged within minutes, a file is taken as a retry of the same upload.)
    std::fs::write(&file, b"third")?;
    let sent = cli.run_in(
        dir.path(),
        &["send", "--user", "Alice", "--new-file", "a.txt"],
    )?;
    assert_eq!(stdout(&sent), "Shared 'a.txt' (5 B) as #2\n");

    let table = stdout(&cli.run(&["ls"])?);
    assert!(table.contains("a.txt (v2, 2 kept)"), "{table}");
    let json: Vec<serde_json::Value> =
        serde_json::from_str(&stdout(&cli.run(&["versions", "1", "--json"])?))?;
    assert_eq!(json.len(), 2);
    assert_eq!(json[0]["version"], 1);
    assert_eq!(json[0]["size"], 5);
    assert_eq!(json[1]["sha256"], sha256_hex(b"second!"));
    let table = stdout(&cli.run(&["versions", "1"])?);
    assert_eq!(table.lines().count(), 3, "{table}");
    assert!(
        table
            .lines()
            .nth(1)
            .is_some_and(|line| line.starts_with("1 "))
    );

    let out = dir.path().join("old.txt");
    let got = cli.run(&["get", "1", "--version", "1", "-o", &out.to_string_lossy()])?;
    assert!(got.status.success(), "{}", stderr(&got));
    assert_eq!(std::fs::read(&out)?, b"first");
    let missing = cli.run(&["get", "1", "--version", "9"])?;
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("#1 has no version 9 (the host keeps version 1, 2)"),
        "{}",
        stderr(&missing)
    );
    Ok(())
}

#[test]
fn versions_of_a_restricted_file_are_as_hidden_as_the_file() -> TestResult {
    let host = start(config())?;
    let address = host.local_addr();
    let (alice, _) = Person::new("Alice")?.join(address)?;
    let (eve, _) = Person::new("Eve")?.join(address)?;
    let id = share_only(&alice, "diary.txt", b"v1", &[])?.file_id;
    // A new version without names keeps the file as restricted as it was.
    assert_eq!(share_as(&alice, "diary.txt", b"v2", false)?, id);
    assert!(matches!(versions(&eve, id), Err(Error::NotFound(_))));
    assert!(matches!(
        download_version(address, id, Some(1)),
        Err(Error::NotFound(_))
    ));
    assert_eq!(versions(&alice, id)?.len(), 2);
    Ok(())
}

/// Shares `bytes` (uploaded as `name`) as the new version of file `of`, as `session`'s
/// participant (`version-of`).
fn share_version_of(session: &Session, name: &str, bytes: &[u8], of: u64) -> Result<u64, Error> {
    let options = lanshare::protocol::ShareOptions {
        version_of: Some(of),
        ..Default::default()
    };
    Ok(share_with(session, name, bytes, &options)?.file_id)
}

/// What a seed client's `LIST` (no `FEATURES`) shows: its lines up to `END`.
fn seed_list(host: SocketAddr) -> anyhow::Result<Vec<String>> {
    let mut raw = Raw::connect(host)?;
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

/// Checks that `file_id` is Alice's `report.txt`, its versions `contents` byte-exact.
fn assert_versions_of_report(
    host: SocketAddr,
    alice: &Session,
    file_id: u64,
    contents: &[&[u8]],
) -> TestResult {
    let files = listed(host)?;
    assert_eq!(files.len(), 1, "{files:?}");
    let file = &files[0];
    assert_eq!(
        (file.id, file.name.as_str(), file.uploader.as_str()),
        (file_id, "report.txt", "Alice"),
        "the file keeps its name and its sharer"
    );
    assert_eq!(file.uploader_id, alice.credentials().client_id);
    assert_eq!(file.size, contents[contents.len() - 1].len() as u64);
    let kept = versions(alice, file_id)?;
    let numbers: Vec<u32> = kept.iter().map(|v| v.number).collect();
    let expected: Vec<u32> = (1..=contents.len() as u32).collect();
    assert_eq!(numbers, expected);
    for (version, content) in kept.iter().zip(contents) {
        assert_eq!(version.sha256, sha256(content));
        assert_eq!(
            download_version(host, file_id, Some(version.number))?,
            *content
        );
    }
    Ok(())
}

/// The operator adds a version to Alice's file, Bob may not, Alice may too (by id); a seed
/// client sees only the latest; Alice still owns the file (after a restart, with `restart`).
fn the_operator_adds_versions_of_anyones_file(storage: StorageConfig, restart: bool) -> TestResult {
    let operator = lanshare::identity::Identity::generate()?;
    let config = || HostConfig {
        operator: Some(operator.public_key()),
        storage: storage.clone(),
        ..config_for_test()
    };
    let host = start(config())?;
    let address = host.local_addr();
    let alice_person = Person::new("Alice")?;
    let (alice, _) = alice_person.join(address)?;
    let (bob, _) = Person::new("Bob")?.join(address)?;
    let (host_session, _) = Session::join(address, "Host", &operator)?;
    let id = share_as(&alice, "report.txt", b"alice's first", false)?;

    let by_operator: &[u8] = b"the operator's fix";
    assert_eq!(
        share_version_of(&host_session, "fixed.txt", by_operator, id)?,
        id
    );
    assert_versions_of_report(address, &alice, id, &[b"alice's first", by_operator])?;

    let refused = share_version_of(&bob, "report.txt", b"bob's", id);
    assert!(
        matches!(&refused, Err(Error::Refused(reason))
            if *reason == format!("Only #{id}'s sharer or the host's operator may add versions of it")),
        "{refused:?}"
    );
    assert_versions_of_report(address, &alice, id, &[b"alice's first", by_operator])?;
    assert_eq!(host.files().len(), 1, "nothing new stored");

    // The owner names the file by id too, whatever the name of what she uploads.
    let by_alice: &[u8] = b"alice's third, from elsewhere";
    assert_eq!(share_version_of(&alice, "draft-3.txt", by_alice, id)?, id);
    let contents = [&b"alice's first"[..], by_operator, by_alice];
    assert_versions_of_report(address, &alice, id, &contents)?;
    // A seed client's LIST: the latest as a plain file, nothing more.
    let seed = seed_list(address)?;
    assert_eq!(seed.len(), 2, "{seed:?}");
    assert_eq!(
        seed[0],
        format!(
            "FILE_OFFER:{id}:report.txt:{}:Alice:{}",
            by_alice.len(),
            alice.credentials().client_id
        )
    );
    assert!(seed[1].starts_with(&format!("FILE_META:{id}:")));

    let (host, alice) = if restart {
        drop((alice, bob, host_session));
        host.shutdown();
        let host = start(config())?;
        let (alice, _) = alice_person.join(host.local_addr())?;
        assert_versions_of_report(host.local_addr(), &alice, id, &contents)?;
        (host, alice)
    } else {
        (host, alice)
    };
    // Alice still owns it: she deletes it, every version with it.
    alice.delete(id, std::time::Duration::from_secs(5))?;
    assert!(host.files().is_empty());
    Ok(())
}

#[test]
fn the_operator_adds_a_version_to_alices_file_in_memory() -> TestResult {
    the_operator_adds_versions_of_anyones_file(config().storage, false)
}

#[test]
fn the_operator_adds_a_version_to_alices_file_on_disk_kept_across_a_restart() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = StorageConfig::Disk {
        dir: dir.path().to_path_buf(),
        limit: None,
    };
    the_operator_adds_versions_of_anyones_file(storage, true)
}

#[test]
fn a_version_of_a_file_someone_may_not_see_is_refused_as_a_missing_file() -> TestResult {
    let host = start(config())?;
    let address = host.local_addr();
    let (alice, _) = Person::new("Alice")?.join(address)?;
    let (bob, _) = Person::new("Bob")?.join(address)?;
    let secret = share_only(&alice, "diary.txt", b"v1", &[])?.file_id;
    let hidden = share_version_of(&bob, "diary.txt", b"bob", secret);
    assert!(
        matches!(&hidden, Err(Error::Refused(reason)) if reason == "File not found"),
        "{hidden:?}"
    );
    let missing = share_version_of(&bob, "x.txt", b"bob", 99);
    assert!(
        matches!(&missing, Err(Error::Refused(reason)) if reason == "File not found"),
        "{missing:?}"
    );
    // A guest (a seed-style upload without AUTH) adds no versions either.
    let mut raw = Raw::connect(address)?;
    raw.send(format!("UPLOAD_OPTIONS:::version-of:{secret}\nUPLOAD:0:Gus:g.txt:1\n").as_bytes())?;
    assert_eq!(raw.line()?, "ERROR:File not found");
    assert_eq!(versions(&alice, secret)?.len(), 1, "nothing changed");
    assert_eq!(host.files().len(), 1);
    Ok(())
}

#[test]
fn the_command_line_adds_a_version_by_id_and_says_who_may_not() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let alice = Cli::in_folder(dir.path(), "alice", host.local_addr());
    let bob = Cli::in_folder(dir.path(), "bob", host.local_addr());
    std::fs::write(dir.path().join("a.txt"), b"first")?;
    std::fs::write(dir.path().join("b.txt"), b"second!")?;
    let sent = alice.run_in(dir.path(), &["send", "--user", "Alice", "a.txt"])?;
    assert_eq!(stdout(&sent), "Shared 'a.txt' (5 B) as #1\n");
    let sent = alice.run_in(
        dir.path(),
        &["send", "--user", "Alice", "--version-of", "1", "b.txt"],
    )?;
    assert_eq!(stdout(&sent), "Shared 'b.txt' (7 B) as #1, version 2\n");
    let table = stdout(&alice.run(&["ls"])?);
    assert!(table.contains("a.txt (v2, 2 kept)"), "{table}");

    let refused = bob.run_in(
        dir.path(),
        &["send", "--user", "Bob", "--version-of", "1", "b.txt"],
    )?;
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("Only #1's sharer or the host's operator may add versions of it"),
        "{}",
        stderr(&refused)
    );
    let two = alice.run_in(
        dir.path(),
        &[
            "send",
            "--user",
            "Alice",
            "--version-of",
            "1",
            "a.txt",
            "b.txt",
        ],
    )?;
    assert!(!two.status.success());
    assert!(
        stderr(&two).contains("--version-of takes one file"),
        "{}",
        stderr(&two)
    );
    assert_eq!(host.files().len(), 1);
    Ok(())
}
