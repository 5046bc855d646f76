//! Identity and ownership: nobody uploads under another's name or deletes another's file,
//! even by forging ids in a line; ownership survives reconnects and host restarts.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use lanshare::host::HostConfig;
use lanshare::identity::Identity;
use lanshare::participant::{Error, Session};
use lanshare::protocol::Role;

fn second_machine(host: SocketAddr) -> anyhow::Result<Raw> {
    Raw::connect_from([127, 0, 0, 2], host)
}

#[test]
fn a_forger_on_another_machine_cannot_pose_as_alice() -> TestResult {
    let host = start(config())?;
    let addr = host.local_addr();
    let alice = Person::new("Alice")?;
    let (alice_session, _) = alice.join(addr)?;
    let alice_id = alice_session.client_id();
    let file_id = share(&alice_session, "plan.txt", b"alice's plan")?;

    // Mallory joins properly from 127.0.0.2 with her own key.
    let mallory = Identity::generate()?;
    let mut control = second_machine(addr)?;
    let (mallory_id, mallory_ticket) = raw_join_on(&mut control, "Mallory", &mallory)?;
    assert_ne!(mallory_id, alice_id);

    // Her ticket does not work with Alice's id.
    let mut raw = second_machine(addr)?;
    raw.send(
        format!("AUTH:{alice_id}:{mallory_ticket}\nUPLOAD:{alice_id}:Alice:x.txt:1\n").as_bytes(),
    )?;
    assert_eq!(
        raw.line()?,
        "ERROR:Unknown or expired ticket: join the host again"
    );

    // A guessed ticket does not either.
    let mut raw = second_machine(addr)?;
    raw.send(format!("AUTH:{alice_id}:{}\n", "00".repeat(16)).as_bytes())?;
    raw.send(format!("UPLOAD:{alice_id}:Alice:x.txt:1\n").as_bytes())?;
    assert!(raw.line()?.starts_with("ERROR:Unknown or expired ticket"));

    // Authenticated as herself, she still cannot claim Alice's id or name.
    let mut raw = second_machine(addr)?;
    raw.send(
        format!("AUTH:{mallory_id}:{mallory_ticket}\nUPLOAD:{alice_id}:Alice:x.txt:1\n").as_bytes(),
    )?;
    assert_eq!(
        raw.line()?,
        format!("ERROR:client_id {alice_id} is not yours: you joined as client {mallory_id}")
    );
    let mut raw = second_machine(addr)?;
    raw.send(
        format!("AUTH:{mallory_id}:{mallory_ticket}\nUPLOAD:{mallory_id}:Alice:x.txt:1\n")
            .as_bytes(),
    )?;
    assert_eq!(raw.line()?, "ERROR:You joined as 'Mallory', not 'Alice'");

    // A bare seed-style upload cannot use a verified participant's name, in any case.
    for name in ["Alice", "ALICE"] {
        let reply = seed_upload(addr, &format!("UPLOAD:{alice_id}:{name}:x.txt:1\n"), b"x")?;
        assert!(
            reply.starts_with(&format!("ERROR:The name '{name}' belongs to a participant")),
            "{reply}"
        );
    }

    // Nor join under it.
    let mut raw = second_machine(addr)?;
    let joined = raw_join_on(&mut raw, "alice", &mallory);
    assert!(joined.is_err());

    // Her DELETE of Alice's file is refused, and the file stays.
    control.send(format!("DELETE:{file_id}\n").as_bytes())?;
    assert_eq!(
        control.line()?,
        format!(
            "DELETE_FAILED:{file_id}:Only Alice (who shared it) or the host can delete 'plan.txt'"
        )
    );
    assert_eq!(host.files().len(), 1);

    // Alice can delete it.
    alice_session.delete(file_id, Duration::from_secs(5))?;
    assert!(host.files().is_empty());
    Ok(())
}

#[test]
fn guest_uploads_are_listed_as_guests_and_only_the_operator_deletes_them() -> TestResult {
    let operator = Person::new("Host")?;
    let host = start(HostConfig {
        operator: Some(operator.identity.public_key()),
        ..config()
    })?;
    let addr = host.local_addr();
    let reply = seed_upload(addr, "UPLOAD:42:Dave:old.txt:3\n", b"old")?;
    assert_eq!(reply, "READY\n");
    assert!(wait_until(Duration::from_secs(5), || host.files().len() == 1));
    let record = host.files()[0].clone();
    assert_eq!(
        (record.uploader_id, record.owner),
        (0, None),
        "claimed id 42 is not trusted"
    );

    let bob = Person::new("Bob")?;
    let (bob_session, _) = bob.join(addr)?;
    assert_eq!(bob_session.role(), Role::Participant);
    let refused = bob_session.delete(record.id, Duration::from_secs(5));
    assert!(matches!(refused, Err(Error::Refused(_))), "{refused:?}");

    let (operator_session, _) = operator.join(addr)?;
    assert_eq!(operator_session.role(), Role::Operator);
    operator_session.delete(record.id, Duration::from_secs(5))?;
    assert!(host.files().is_empty());
    Ok(())
}

#[test]
fn ownership_survives_reconnecting() -> TestResult {
    let host = start(config())?;
    let alice = Person::new("Alice")?;
    let (first, _) = alice.join(host.local_addr())?;
    let first_id = first.client_id();
    let file_id = share(&first, "a.txt", b"a")?;
    drop(first);
    assert!(wait_until(Duration::from_secs(5), || host.session_count() == 0));

    let (second, snapshot) = alice.join(host.local_addr())?;
    assert_eq!(second.client_id(), first_id);
    assert_eq!(snapshot.files[0].uploader_id, first_id);
    second.delete(file_id, Duration::from_secs(5))?;
    Ok(())
}

#[test]
fn ownership_survives_a_host_restart_with_the_disk_store() -> TestResult {
    let store = tempfile::tempdir()?;
    let alice = Person::new("Alice")?;
    let bob = Person::new("Bob")?;
    let (file_id, alice_id) = {
        let host = start(disk_config(store.path()))?;
        let (session, _) = alice.join(host.local_addr())?;
        // Bob gets an id too, so ids are not trivially 1.
        let (_bob_session, _) = bob.join(host.local_addr())?;
        (share(&session, "kept.txt", b"kept")?, session.client_id())
    };

    let host = start(disk_config(store.path()))?;
    let addr = host.local_addr();
    // A newcomer does not inherit Alice's id.
    let carol = Person::new("Carol")?;
    let (carol_session, _) = carol.join(addr)?;
    assert_ne!(carol_session.client_id(), alice_id);

    let (bob_session, _) = bob.join(addr)?;
    let refused = bob_session.delete(file_id, Duration::from_secs(5));
    assert!(matches!(refused, Err(Error::Refused(_))), "{refused:?}");
    // Her name is still hers while she owns files.
    let impostor = Person::new("alice")?;
    let refused = Session::join(addr, &impostor.name, &impostor.identity);
    assert!(
        matches!(&refused, Err(Error::Refused(reason)) if reason.contains("taken")),
        "{:?}",
        refused.err()
    );

    let (alice_session, snapshot) = alice.join(addr)?;
    assert_eq!(alice_session.client_id(), alice_id);
    assert_eq!(snapshot.files.len(), 1);
    alice_session.delete(file_id, Duration::from_secs(5))?;
    assert!(host.files().is_empty());
    Ok(())
}

#[test]
fn a_ticket_outlives_its_session_briefly_so_a_cut_transfer_can_go_on() -> TestResult {
    let host = start(config())?;
    let alice = Person::new("Alice")?;
    let (session, _) = alice.join(host.local_addr())?;
    let credentials = session.credentials().clone();
    drop(session);
    assert!(wait_until(Duration::from_secs(5), || host.session_count() == 0));

    // The session is gone; its ticket still proves Alice for a while.
    let mut connection = lanshare::participant::TransferConnection::connect(host.local_addr())?;
    connection.authenticate(&credentials)?;
    let stored = connection.upload(
        lanshare::protocol::UploadRequest {
            client_id: credentials.client_id,
            username: credentials.username.clone(),
            filename: "late.txt".into(),
            size: 4,
        },
        &mut &b"late"[..],
        &mut |_| {},
        &std::sync::atomic::AtomicBool::new(false),
    )?;
    assert_eq!(host.files()[0].uploader_name, "Alice");
    assert_eq!(host.files()[0].id, stored.file_id);

    // Never for anyone else's id.
    let mut raw = Raw::connect(host.local_addr())?;
    raw.send(
        format!(
            "AUTH:{}:{}\nLIST\n",
            credentials.client_id + 1,
            credentials.ticket
        )
        .as_bytes(),
    )?;
    assert!(raw.line()?.starts_with("ERROR:Unknown or expired ticket"));
    Ok(())
}
