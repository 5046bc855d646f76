//! Relays through a real host on loopback: a sharer whose server cannot be reached (it listens
//! on 127.0.0.2 while its session, and so the address the host hands out, is 127.0.0.1) serves
//! its file over a connection it opens to the host, which streams it to the downloader.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use common::direct::{Sharer, fetch_with_worker, saved_file, share_directly_from};
use common::*;
use lanshare::identity::Identity;
use lanshare::participant::worker::TransferUpdate;
use lanshare::participant::{Error, Session, TransferConnection};
use sha2::{Digest, Sha256};

/// Alice joins `host` (from 127.0.0.1), starts her server on 127.0.0.2 and shares `bytes`
/// directly; she serves relays if `relays`.
fn share_unreachable(
    host: SocketAddr,
    dir: &Path,
    bytes: &[u8],
    relays: bool,
) -> anyhow::Result<Sharer> {
    let alice = Identity::generate()?;
    let sharer = share_directly_from([127, 0, 0, 2], host, &alice, dir, bytes)?;
    if relays {
        sharer.session.serve_relays(&sharer.server);
    }
    Ok(sharer)
}

/// The host's refusal that `answer` should be.
fn refusal<T>(answer: Result<T, Error>) -> anyhow::Result<String> {
    match answer {
        Err(Error::Refused(reason)) => Ok(reason),
        Err(other) => anyhow::bail!("expected a refusal, got {other}"),
        Ok(_) => anyhow::bail!("expected a refusal, got the file"),
    }
}

/// What the host answers a download of `file_id` on `connection`.
fn download_refusal(connection: &mut TransferConnection, file_id: u64) -> anyhow::Result<String> {
    let cancel = AtomicBool::new(false);
    refusal(connection.download(file_id, &mut Vec::new(), &mut |_| {}, &cancel))
}

/// Bob's connection to the host, proven as his session's, having asked for a relay of
/// `file_id`.
fn relay_for(
    host: SocketAddr,
    session: &Session,
    file_id: u64,
) -> anyhow::Result<TransferConnection> {
    let mut connection = TransferConnection::connect(host)?;
    connection.authenticate(session.credentials())?;
    connection.relay(file_id)?;
    Ok(connection)
}

#[test]
fn an_unreachable_sharer_is_relayed_through_the_host_and_the_transfer_says_so() -> TestResult {
    let host = start(config())?;
    let address = host.local_addr();
    let dir = tempfile::tempdir()?;
    let bytes = data(12_000_003, 31);
    let sharer = share_unreachable(address, dir.path(), &bytes, true)?;

    let bob = Arc::new(Identity::generate()?);
    let (session, snapshot) = Session::join(address, "Bob", &bob)?;
    let saved = tempfile::tempdir()?;
    let said = fetch_with_worker(&session, &snapshot, bob, sharer.file_id, saved.path())?;
    let path = saved_file(&said)?;
    assert!(
        said.contains(&TransferUpdate::Relayed),
        "the transfer did not say it was relayed: {said:?}"
    );
    assert!(std::fs::read(&path)? == bytes, "the relayed file differs");
    drop(sharer.session);
    Ok(())
}

#[test]
fn a_relayed_download_continues_from_an_offset() -> TestResult {
    let host = start(config())?;
    let address = host.local_addr();
    let dir = tempfile::tempdir()?;
    let bytes = data(3_000_017, 8);
    let sharer = share_unreachable(address, dir.path(), &bytes, true)?;
    let (session, _) = Session::join(address, "Bob", &Identity::generate()?)?;

    let offset = 1_234_567;
    let mut connection = relay_for(address, &session, sharer.file_id)?;
    let mut tail = Vec::new();
    let prefix = Sha256::new_with_prefix(&bytes[..offset]);
    let cancel = AtomicBool::new(false);
    let done = connection.download_from(
        sharer.file_id,
        offset as u64,
        prefix,
        &mut tail,
        &mut |_| {},
        &cancel,
    )?;
    assert!(tail == bytes[offset..], "the relayed tail differs");
    assert_eq!(done.digest.0, <[u8; 32]>::from(Sha256::digest(&bytes)));
    drop(sharer.server);
    Ok(())
}

#[test]
fn the_sharers_refusal_reaches_the_downloader_through_the_relay() -> TestResult {
    let host = start(config())?;
    let address = host.local_addr();
    let dir = tempfile::tempdir()?;
    let sharer = share_unreachable(address, dir.path(), &data(100_000, 2), true)?;
    std::fs::write(&sharer.path, b"shorter now")?;
    let (session, _) = Session::join(address, "Bob", &Identity::generate()?)?;

    let mut connection = relay_for(address, &session, sharer.file_id)?;
    assert_eq!(
        download_refusal(&mut connection, sharer.file_id)?,
        "'huge.iso' changed since it was shared: its sharer must share it again"
    );
    Ok(())
}

#[test]
fn a_sharer_that_does_not_answer_is_reported_within_seconds() -> TestResult {
    let host = start(config())?;
    let address = host.local_addr();
    let dir = tempfile::tempdir()?;
    let sharer = share_unreachable(address, dir.path(), &data(1000, 3), false)?;
    let (session, _) = Session::join(address, "Bob", &Identity::generate()?)?;

    let started = Instant::now();
    let mut connection = relay_for(address, &session, sharer.file_id)?;
    assert_eq!(
        download_refusal(&mut connection, sharer.file_id)?,
        "'huge.iso' could not be relayed: Alice (who shares it from their machine) did not answer"
    );
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(15), "waited {waited:?}");
    drop(sharer.server);
    Ok(())
}

#[test]
fn relays_are_for_proven_participants_and_a_made_up_token_gets_nothing() -> TestResult {
    let host = start(config())?;
    let address = host.local_addr();
    let dir = tempfile::tempdir()?;
    let sharer = share_unreachable(address, dir.path(), &data(1000, 4), true)?;

    let mut stranger = TransferConnection::connect(address)?;
    stranger.relay(sharer.file_id)?;
    assert_eq!(
        download_refusal(&mut stranger, sharer.file_id)?,
        "Prove who you are first (AUTH_PROOF): only participants get relays"
    );

    let mut forger = Raw::connect_tls(address)?;
    forger.send(format!("RELAY_SEND:{}\n", "ab".repeat(16)).as_bytes())?;
    assert_eq!(forger.line()?, "ERROR:No relay waits for that token");

    let mut plain = Raw::connect(address)?;
    plain.send(format!("RELAY_SEND:{}\n", "ab".repeat(16)).as_bytes())?;
    assert_eq!(
        plain.line()?,
        "ERROR:Relays are encrypted: RELAY_SEND must come over TLS"
    );

    // After RELAY only the download of that file may follow.
    let (session, _) = Session::join(address, "Bob", &Identity::generate()?)?;
    let mut other = relay_for(address, &session, sharer.file_id)?;
    assert_eq!(
        download_refusal(&mut other, 1)?,
        format!("Only DOWNLOAD:{0} may follow RELAY:{0}", sharer.file_id)
    );
    drop(sharer.server);
    Ok(())
}
