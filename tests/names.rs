//! Names against a real host: look-alikes of a held name (another script's letters, full-width
//! forms, invisible characters, spaces) are refused for joins and guest uploads; names are kept
//! without invisible and bidirectional characters; a file name with a right-to-left override
//! is listed as uploaded but shown and saved without it.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use lanshare::participant::{Error, Session};
use lanshare::protocol::{ClientLine, NameKey, UploadRequest};

/// The look-alikes of "Alice": Cyrillic і, Greek Alpha, a zero-width space, full-width
/// letters, a leading space; and a few more of the same kinds.
const LOOK_ALIKES: [&str; 10] = [
    "Al\u{456}ce",
    "\u{391}lice",
    "Alice\u{200b}",
    "\u{ff21}\u{ff4c}\u{ff49}\u{ff43}\u{ff45}",
    " Alice",
    "alice",
    "A\u{202e}lice",
    "\u{2066}Alice\u{2069}",
    "AIice",
    "\u{410}lice",
];

/// Names that only resemble "Alice" as any two names might: they must stay free.
const HONEST: [&str; 4] = ["Alicia", "Bob", "Alice2", "Élise"];

/// A seed-style guest upload (no proof) of one byte under `name`; the host's reply.
fn guest_upload(host: SocketAddr, name: &str) -> anyhow::Result<String> {
    let line = ClientLine::Upload(UploadRequest {
        client_id: 0,
        username: name.into(),
        filename: "x.txt".into(),
        size: 1,
    })
    .encode();
    seed_upload(host, &line, b"x")
}

/// Joins `host` as `name` with a new identity; the refusal's reason, if refused.
fn join_refusal(host: SocketAddr, name: &str) -> anyhow::Result<Option<String>> {
    let person = Person::new(name)?;
    match Session::join(host, &person.name, &person.identity) {
        Ok(_) => Ok(None),
        Err(Error::Refused(reason)) => Ok(Some(reason)),
        Err(other) => Err(other.into()),
    }
}

#[test]
fn look_alikes_of_an_online_name_cannot_join() -> TestResult {
    let host = start(config())?;
    let addr = host.local_addr();
    let (_alice, _) = Person::new("Alice")?.join(addr)?;
    let started = Instant::now();
    for name in LOOK_ALIKES {
        let refusal = join_refusal(addr, name)?;
        let reason = refusal.ok_or_else(|| anyhow::anyhow!("{name:?} joined"))?;
        assert!(
            reason.contains("is taken by another participant"),
            "{reason}"
        );
    }
    println!(
        "{} look-alike joins refused in {:?}",
        LOOK_ALIKES.len(),
        started.elapsed()
    );
    for name in HONEST {
        assert_eq!(join_refusal(addr, name)?, None, "{name:?} was refused");
    }
    Ok(())
}

#[test]
fn look_alikes_of_a_held_name_cannot_upload_as_guests() -> TestResult {
    let host = start(config())?;
    let addr = host.local_addr();
    let alice = Person::new("Alice")?;
    let (session, _) = alice.join(addr)?;
    for name in LOOK_ALIKES {
        let reply = guest_upload(addr, name)?;
        assert!(
            reply.starts_with("ERROR:The name '") && reply.contains("belongs to a participant"),
            "{name:?}: {reply}"
        );
        assert!(!reply.contains('\u{202e}') && !reply.contains('\u{200b}'));
    }
    // Offline, she still holds her name while she owns a file.
    share(&session, "plan.txt", b"plan")?;
    drop(session);
    assert!(wait_until(Duration::from_secs(5), || host.session_count() == 0));
    for name in LOOK_ALIKES {
        let reply = guest_upload(addr, name)?;
        assert!(reply.starts_with("ERROR:The name '"), "{name:?}: {reply}");
    }
    for name in ["Alicia", "Dave"] {
        assert_eq!(guest_upload(addr, name)?, "READY\n", "{name:?}");
    }
    Ok(())
}

#[test]
fn names_are_kept_and_shown_without_invisible_characters() -> TestResult {
    let host = start(config())?;
    let addr = host.local_addr();
    let (_bob, _) = Person::new("\u{200b} Bob\u{202e} ")?.join(addr)?;
    let (_watcher, snapshot) = Person::new("Carol")?.join(addr)?;
    let mut names: Vec<String> = snapshot.peers.into_iter().map(|p| p.username).collect();
    names.sort();
    assert_eq!(names, ["Bob", "Carol"]);

    // A name is shown as typed otherwise: full-width letters stay full width.
    let full_width = "\u{ff21}\u{ff4c}\u{ff49}\u{ff43}\u{ff45}";
    assert_eq!(
        guest_upload(addr, &format!(" {full_width}\u{feff}"))?,
        "READY\n"
    );
    assert!(wait_until(Duration::from_secs(5), || host.files().len() == 1));
    assert_eq!(host.files()[0].uploader_name, full_width);
    // And it is held by nobody: guests prove nothing, so "Alice" may still join.
    assert_eq!(join_refusal(addr, "Alice")?, None);
    Ok(())
}

#[test]
fn a_file_name_with_a_right_to_left_override_is_shown_and_saved_without_it() -> TestResult {
    let host = start(config())?;
    let addr = host.local_addr();
    let (alice, _) = Person::new("Alice")?.join(addr)?;
    let sneaky = "a\u{202e}txt.sh";
    let id = share(&alice, sneaky, b"#!/bin/sh\n")?;
    // The host keeps and lists the name as uploaded (the wire format is the seed's).
    assert_eq!(host.files()[0].name, sneaky);

    let dir = tempfile::tempdir()?;
    let cli = Cli {
        config_dir: dir.path().join("config"),
        host: addr,
    };
    let listed = cli.run(&["ls"])?;
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(stdout(&listed).contains("atxt.sh"), "{}", stdout(&listed));
    assert!(!stdout(&listed).contains('\u{202e}'));

    let out = dir.path().join("out");
    std::fs::create_dir(&out)?;
    let got = cli.run(&["get", &id.to_string(), "-o", &out.to_string_lossy()])?;
    assert!(got.status.success(), "{}", stderr(&got));
    assert!(stdout(&got).contains("Saved 'atxt.sh'"), "{}", stdout(&got));
    let saved: Vec<String> = std::fs::read_dir(&out)?
        .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    assert_eq!(saved, ["atxt.sh"]);
    assert_eq!(std::fs::read(out.join("atxt.sh"))?, b"#!/bin/sh\n");
    Ok(())
}

/// What comparing names costs: a join or guest upload compares the name with every online
/// participant's and every stored file's owner's.
#[test]
fn comparing_names_is_cheap() {
    let names: Vec<String> = (0..10_000).map(|i| format!("Participant {i}")).collect();
    let started = Instant::now();
    let wanted = NameKey::of("Al\u{456}ce");
    let matches = names
        .iter()
        .filter(|name| NameKey::of(name).looks_like(&wanted))
        .count();
    let elapsed = started.elapsed();
    assert_eq!(matches, 0);
    println!(
        "one name against {} names: {elapsed:?} ({:?} per name, debug build)",
        names.len(),
        elapsed / names.len() as u32
    );
}
