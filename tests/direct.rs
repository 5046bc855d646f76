//! Direct transfers over loopback: a sharer's server serves a file to a downloader holding the
//! host's grant, byte for byte and from an offset, and turns everyone else away with one
//! `ERROR:` line and nothing more.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use lanshare::direct::{DirectFile, DirectServer, GRANT_LIFETIME, GrantSigner, now_ms};
use lanshare::identity::Identity;
use lanshare::participant::{Error as ParticipantError, TransferConnection};
use lanshare::protocol::{ClientLine, DirectRoute, Fingerprint, Grant};
use lanshare::tls::{self, HostIdentity, Trust};
use sha2::{Digest, Sha256};

type TestResult = anyhow::Result<()>;

const FILE_ID: u64 = 42;

/// A sharer serving `bytes` as file [`FILE_ID`], trusting `host`'s grants; its certificate
/// is kept in `dir`, so a restarted sharer shows the same one.
fn sharer(dir: &Path, host: &GrantSigner, bytes: &[u8]) -> anyhow::Result<DirectServer> {
    let path = dir.join("big.bin");
    if !path.exists() {
        std::fs::write(&path, bytes)?;
    }
    let identity = HostIdentity::load_or_create_at(dir.join("direct-identity.pem"))?;
    let server = DirectServer::start(SocketAddr::from(([127, 0, 0, 1], 0)), &identity)?;
    server.trust_host(host.public_key());
    server.share(
        FILE_ID,
        DirectFile {
            path,
            name: "big: one.bin".into(),
            size: bytes.len() as u64,
        },
    );
    Ok(server)
}

/// The route the host would hand `downloader` for file `file_id` at `server`.
fn route(
    host: &GrantSigner,
    server: &DirectServer,
    file_id: u64,
    downloader: &Identity,
) -> DirectRoute {
    let expires = now_ms() + GRANT_LIFETIME.as_millis() as u64;
    DirectRoute {
        address: server.address(),
        sharer: server.fingerprint(),
        grant: host.grant(
            file_id,
            downloader.public_key(),
            &server.fingerprint(),
            expires,
        ),
    }
}

fn test_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7919) % 251) as u8).collect()
}

#[test]
fn a_granted_downloader_gets_the_file_byte_for_byte_and_from_an_offset() -> TestResult {
    let dir = tempfile::tempdir()?;
    let host = GrantSigner::generate()?;
    let bytes = test_bytes(3_000_017);
    let server = sharer(dir.path(), &host, &bytes)?;
    let bob = Identity::generate()?;
    let cancel = AtomicBool::new(false);

    let mut received = Vec::new();
    let mut connection =
        TransferConnection::connect_direct(&route(&host, &server, FILE_ID, &bob), &bob)?;
    let whole = connection.download(FILE_ID, &mut received, &mut |_| {}, &cancel)?;
    assert_eq!(whole.name, "big: one.bin");
    assert_eq!(whole.size, bytes.len() as u64);
    assert!(received == bytes, "the bytes differ");
    assert_eq!(whole.sha256.0, <[u8; 32]>::from(Sha256::digest(&bytes)));

    let offset = 1_234_567;
    let mut rest = Vec::new();
    let mut connection =
        TransferConnection::connect_direct(&route(&host, &server, FILE_ID, &bob), &bob)?;
    let prefix = Sha256::new_with_prefix(&bytes[..offset]);
    let tail = connection.download_from(
        FILE_ID,
        offset as u64,
        prefix,
        &mut rest,
        &mut |_| {},
        &cancel,
    )?;
    assert!(rest == bytes[offset..], "the tail differs");
    assert_eq!(tail.digest, whole.sha256);
    Ok(())
}

#[test]
fn a_download_cut_off_by_the_sharer_resumes_when_it_is_back() -> TestResult {
    let dir = tempfile::tempdir()?;
    let host = GrantSigner::generate()?;
    let bytes = test_bytes(40_000_000);
    let server = Mutex::new(Some(sharer(dir.path(), &host, &bytes)?));
    let first_fingerprint = server
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .as_ref()
        .map(DirectServer::fingerprint);
    let bob = Identity::generate()?;
    let cancel = AtomicBool::new(false);
    let first_route = {
        let guard = server.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let running = guard.as_ref().ok_or_else(|| anyhow::anyhow!("no server"))?;
        route(&host, running, FILE_ID, &bob)
    };
    let mut received = Vec::new();
    let mut connection = TransferConnection::connect_direct(&first_route, &bob)?;
    let cut = connection.download(
        FILE_ID,
        &mut received,
        &mut |held| {
            if held > 2_000_000 {
                // The sharer goes away in the middle: its server stops and cuts the connection.
                if let Ok(mut running) = server.lock() {
                    running.take();
                }
            }
        },
        &cancel,
    );
    assert!(
        matches!(cut, Err(ParticipantError::ConnectionLost(_))),
        "{cut:?}"
    );
    assert!(
        received.len() < bytes.len(),
        "all {} bytes arrived before the cut",
        received.len()
    );
    assert!(
        received[..] == bytes[..received.len()],
        "the bytes before the cut differ"
    );

    let again = sharer(dir.path(), &host, &bytes)?;
    assert_eq!(
        Some(again.fingerprint()),
        first_fingerprint,
        "a restarted sharer shows another key"
    );
    let mut connection =
        TransferConnection::connect_direct(&route(&host, &again, FILE_ID, &bob), &bob)?;
    let held = received.len() as u64;
    let prefix = Sha256::new_with_prefix(&received);
    let resumed =
        connection.download_from(FILE_ID, held, prefix, &mut received, &mut |_| {}, &cancel)?;
    assert!(received == bytes, "the resumed download differs");
    assert_eq!(resumed.digest.0, <[u8; 32]>::from(Sha256::digest(&bytes)));
    Ok(())
}

/// Sends `lines` (made with the connection's channel binding) on a fresh TLS connection to
/// `server` and returns everything it answers until it closes.
fn exchange(
    server: &DirectServer,
    lines: impl FnOnce(&[u8; 32]) -> String,
) -> anyhow::Result<String> {
    let tcp = TcpStream::connect(server.address())?;
    tcp.set_read_timeout(Some(Duration::from_secs(15)))?;
    let (tls, _) = tls::connect(tcp, Trust::Pinned(server.fingerprint()))?;
    let binding = tls.channel_binding()?;
    (&tls).write_all(lines(&binding).as_bytes())?;
    let mut answer = Vec::new();
    let _ = (&tls).read_to_end(&mut answer);
    Ok(String::from_utf8(answer)?)
}

fn grant_line(grant: Grant, proof: [u8; 64]) -> String {
    ClientLine::Grant { grant, proof }.encode()
}

fn assert_refused(answer: &str, reason: &str) {
    assert_eq!(
        answer,
        format!("ERROR:{reason}\n"),
        "the sharer answered more or otherwise"
    );
}

#[test]
fn anyone_without_the_hosts_grant_of_their_own_gets_one_error_line_and_no_byte() -> TestResult {
    let dir = tempfile::tempdir()?;
    let host = GrantSigner::generate()?;
    let bytes = test_bytes(100_000);
    let server = sharer(dir.path(), &host, &bytes)?;
    let (bob, eve) = (Identity::generate()?, Identity::generate()?);
    let download = ClientLine::Download {
        file_id: FILE_ID,
        offset: 0,
    }
    .encode();

    let bare = exchange(&server, |_| format!("{download}READY\n"))?;
    assert_refused(
        &bare,
        "Show the host's grant first: only participants the host vouches for are served",
    );

    let impostor = GrantSigner::generate()?;
    let forged = route(&impostor, &server, FILE_ID, &eve).grant;
    let answer = exchange(&server, |binding| {
        grant_line(forged, eve.prove_grant(&forged, binding)) + &download
    })?;
    assert_refused(&answer, "This grant was not made by the host");

    let mut altered = route(&host, &server, 7, &eve).grant;
    altered.file_id = FILE_ID;
    let answer = exchange(&server, |binding| {
        grant_line(altered, eve.prove_grant(&altered, binding)) + &download
    })?;
    assert_refused(&answer, "This grant was not made by the host");

    let expired = host.grant(
        FILE_ID,
        eve.public_key(),
        &server.fingerprint(),
        now_ms() - 1,
    );
    let answer = exchange(&server, |binding| {
        grant_line(expired, eve.prove_grant(&expired, binding)) + &download
    })?;
    assert_refused(&answer, "This grant has expired: ask the host for another");

    // Eve holds Bob's grant (overheard, or passed on) but not Bob's key.
    let bobs = route(&host, &server, FILE_ID, &bob).grant;
    let answer = exchange(&server, |binding| {
        grant_line(bobs, eve.prove_grant(&bobs, binding)) + &download
    })?;
    assert_refused(&answer, "This grant was made out to someone else");
    // Nor can a proof Bob made on another connection be replayed.
    let replayed = bob.prove_grant(&bobs, &[0; 32]);
    let answer = exchange(&server, |_| grant_line(bobs, replayed) + &download)?;
    assert_refused(&answer, "This grant was made out to someone else");

    // A good grant is for its own file only.
    let other = route(&host, &server, FILE_ID + 1, &bob).grant;
    let answer = exchange(&server, |binding| {
        grant_line(other, bob.prove_grant(&other, binding)) + &download
    })?;
    assert_refused(&answer, "This grant is for another file");
    Ok(())
}

#[test]
fn a_sharer_showing_another_certificate_than_the_host_vouched_for_is_not_spoken_to() -> TestResult {
    let dir = tempfile::tempdir()?;
    let host = GrantSigner::generate()?;
    let server = sharer(dir.path(), &host, &test_bytes(10))?;
    let bob = Identity::generate()?;
    let mut wrong = route(&host, &server, FILE_ID, &bob);
    wrong.sharer = Fingerprint([1; 32]);
    let refused = TransferConnection::connect_direct(&wrong, &bob);
    assert!(
        matches!(refused, Err(ParticipantError::HostKeyChanged { .. })),
        "{:?}",
        refused.err()
    );
    Ok(())
}

#[test]
fn a_file_no_longer_shared_or_changed_since_is_not_served() -> TestResult {
    let dir = tempfile::tempdir()?;
    let host = GrantSigner::generate()?;
    let bytes = test_bytes(50_000);
    let server = sharer(dir.path(), &host, &bytes)?;
    let bob = Identity::generate()?;
    let cancel = AtomicBool::new(false);
    let mut sink = Vec::new();

    std::fs::write(dir.path().join("big.bin"), &bytes[..49_999])?;
    let mut connection =
        TransferConnection::connect_direct(&route(&host, &server, FILE_ID, &bob), &bob)?;
    let changed = connection.download(FILE_ID, &mut sink, &mut |_| {}, &cancel);
    let expected = "'big: one.bin' changed since it was shared: its sharer must share it again";
    assert!(
        matches!(&changed, Err(ParticipantError::Refused(reason)) if reason == expected),
        "{:?}",
        changed.err()
    );

    assert!(server.unshare(FILE_ID));
    let mut connection =
        TransferConnection::connect_direct(&route(&host, &server, FILE_ID, &bob), &bob)?;
    let gone = connection.download(FILE_ID, &mut sink, &mut |_| {}, &cancel);
    assert!(
        matches!(gone, Err(ParticipantError::NotFound(FILE_ID))),
        "{:?}",
        gone.err()
    );
    assert!(sink.is_empty(), "{} bytes arrived", sink.len());
    Ok(())
}
