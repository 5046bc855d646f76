//! What each fuzz target checks, shared by the `cargo fuzz` targets (fuzz/fuzz_targets/) and
//! by `tests/fuzz_corpus.rs`, which replays every committed corpus file through the same
//! functions in a plain `cargo test`. Each function panics on a property that does not hold;
//! the fuzzer reports that panic (in any thread) as a crash.
#![allow(dead_code)] // Each fuzz target uses one of these functions.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use lanshare::host::{Host, HostConfig, Timeouts};
use lanshare::identity::Identity;
use lanshare::participant::{Session, SessionEvent, TransferConnection};
use lanshare::protocol::{
    ClientLine, HostLine, Passcode, ResumeKey, UploadRequest, escape, unescape,
};
use lanshare::storage::StorageConfig;

/// Checks that an encoded line is exactly one line.
fn assert_one_line(encoded: &str) {
    assert!(
        encoded.ends_with('\n') && encoded.matches('\n').count() == 1 && !encoded.contains('\r'),
        "not one line: {encoded:?}"
    );
}

/// `ClientLine::parse` on anything a client may send: no panic, and whatever it accepts
/// encodes to one line that parses back to the same command.
pub fn client_line(bytes: &[u8]) {
    let Ok(line) = ClientLine::parse(bytes) else {
        return;
    };
    let encoded = line.encode();
    assert_one_line(&encoded);
    match ClientLine::parse(encoded.as_bytes()) {
        Ok(again) => assert_eq!(again, line, "{encoded:?}"),
        Err(error) => panic!("{encoded:?} does not parse back: {error}"),
    }
}

/// `HostLine::parse` on anything a host may send: no panic, and whatever it accepts encodes
/// to one line that parses back to the same line (free text in `ERROR` and `DELETE_FAILED`
/// comes back with its control characters made spaces, and then stays as it is).
pub fn host_line(bytes: &[u8]) {
    let Ok(line) = HostLine::parse(bytes) else {
        return;
    };
    let encoded = line.encode();
    assert_one_line(&encoded);
    let again = match HostLine::parse(encoded.as_bytes()) {
        Ok(again) => again,
        Err(error) => panic!("{encoded:?} does not parse back: {error}"),
    };
    assert_eq!(again.encode(), encoded);
    if !matches!(line, HostLine::Error(_) | HostLine::DeleteFailed { .. }) {
        assert_eq!(again, line, "{encoded:?}");
    }
}

/// Name escaping: any field unescapes without panicking, and any text escapes to a field with
/// no separator or line break that unescapes to the same text.
pub fn escaping(bytes: &[u8]) {
    for text in [
        unescape(bytes).ok(),
        std::str::from_utf8(bytes).ok().map(str::to_owned),
    ]
    .into_iter()
    .flatten()
    {
        let escaped = escape(&text);
        assert!(
            !escaped.contains([':', '\n', '\r']),
            "{escaped:?} carries a separator"
        );
        assert_eq!(unescape(escaped.as_bytes()).as_ref(), Ok(&text));
    }
}

/// The TLS identity every fuzz host shows.
fn fuzz_identity() -> lanshare::tls::HostIdentity {
    static IDENTITY: std::sync::OnceLock<lanshare::tls::HostIdentity> = std::sync::OnceLock::new();
    IDENTITY
        .get_or_init(|| match lanshare::tls::HostIdentity::generate() {
            Ok(identity) => identity,
            Err(error) => panic!("no identity for the fuzz hosts: {error}"),
        })
        .clone()
}

/// A host for one input, with small limits and short timeouts; its first byte chooses one
/// with a passcode (`fuzz`) or an open one.
fn fuzz_host(with_passcode: bool) -> Host {
    let config = HostConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        storage: StorageConfig::Memory { limit: 4 << 20 },
        max_file_size: 1 << 20,
        workers: 2,
        passcode: with_passcode.then(|| Passcode::new("fuzz").ok()).flatten(),
        // One identity for every fuzz host: the harness's client pins each address it meets,
        // and a later host may get the port of an earlier one.
        identity: Some(fuzz_identity()),
        timeouts: Timeouts {
            command: Duration::from_millis(500),
            idle: Duration::from_millis(500),
            stall: Duration::from_millis(500),
            session: Duration::from_millis(500),
            wrong_passcode: Duration::ZERO,
        },
        ..HostConfig::default()
    };
    match Host::start(config) {
        Ok(host) => host,
        Err(error) => panic!("the fuzz host did not start: {error:#}"),
    }
}

/// Sends `bytes` and a half-close, then reads whatever comes back, for at most `limit`.
fn converse(address: SocketAddr, bytes: &[u8], limit: Duration) {
    let Ok(mut stream) = TcpStream::connect(address) else {
        panic!("the host did not accept a connection");
    };
    let _ = stream.set_read_timeout(Some(limit));
    let _ = stream.set_write_timeout(Some(limit));
    // The host may close early (a refused command): then writing fails, which is fine.
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(Shutdown::Write);
    let mut sink = Vec::new();
    let _ = stream.read_to_end(&mut sink);
}

/// A real host fed any bytes on one connection: no handler panics, and afterwards the host
/// still serves a normal client and holds nothing for connections that are gone.
pub fn host_connection(bytes: &[u8]) {
    let with_passcode = bytes.first().is_some_and(|b| b & 1 == 1);
    let host = fuzz_host(with_passcode);
    let address = host.local_addr();
    converse(
        address,
        bytes.get(1..).unwrap_or_default(),
        Duration::from_secs(5),
    );
    let listed = TransferConnection::connect(address).and_then(|mut connection| {
        if with_passcode && let Ok(passcode) = Passcode::new("fuzz") {
            connection.prove_passcode(&passcode)?;
        }
        connection.list()
    });
    if let Err(error) = listed {
        panic!("the host stopped serving: {error}");
    }
    let files = host.files();
    let stored: u64 = files.iter().map(|file| file.size).sum();
    assert!(
        host.memory_in_use() <= stored + (1 << 20),
        "the host holds {} bytes for {stored} bytes of files",
        host.memory_in_use()
    );
    host.shutdown();
}

/// A fake host that answers the first connection with `reply`, then closes it.
fn fake_host(reply: Vec<u8>) -> SocketAddr {
    let Ok(listener) = TcpListener::bind("127.0.0.1:0") else {
        panic!("could not listen on loopback");
    };
    let Ok(address) = listener.local_addr() else {
        panic!("no local address");
    };
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let _ = stream.write_all(&reply);
            let _ = stream.shutdown(Shutdown::Write);
            // Take what the client sends until it closes, so closing resets nothing.
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut sink = Vec::new();
            let _ = stream.read_to_end(&mut sink);
        }
    });
    address
}

/// The participant side fed any bytes as a host's replies: listing, joining (and following
/// the session's events) and downloading end in a result or an error, never a panic or a hang.
/// The first byte chooses which.
pub fn participant_replies(bytes: &[u8]) {
    let Some((&mode, reply)) = bytes.split_first() else {
        return;
    };
    let address = fake_host(reply.to_vec());
    match mode % 4 {
        0 => {
            if let Ok(mut connection) = TransferConnection::connect(address) {
                let _ = connection.list();
            }
        }
        1 => {
            let Ok(identity) = Identity::generate() else {
                return;
            };
            if let Ok((session, _)) = Session::join(address, "fuzz", &identity) {
                // The fake host has closed: the events must end with `Closed`.
                loop {
                    match session.events().recv_timeout(Duration::from_secs(5)) {
                        Ok(SessionEvent::Closed(_)) => break,
                        Ok(_) => {}
                        Err(error) => panic!("the session never closed: {error}"),
                    }
                }
            }
        }
        2 => {
            if let Ok(mut connection) = TransferConnection::connect(address) {
                let mut sink = Vec::new();
                let _ = connection.download(1, &mut sink, &mut |_| {}, &AtomicBool::new(false));
            }
        }
        _ => resumable_upload(address),
    }
}

/// A resumable upload of a small file to `address`, whatever it answers (`RESUME_FROM` with any
/// offset, an error, garbage, nothing).
fn resumable_upload(address: SocketAddr) {
    let path = std::env::temp_dir().join(format!(
        "lanshare-fuzz-upload-{}-{:?}.bin",
        std::process::id(),
        std::thread::current().id()
    ));
    if std::fs::write(&path, b"0123456789").is_err() {
        return;
    }
    if let Ok(mut connection) = TransferConnection::connect(address) {
        let request = UploadRequest {
            client_id: 1,
            username: "fuzz".into(),
            filename: "upload.bin".into(),
            size: 10,
        };
        let _ = connection.resume_upload_file(
            ResumeKey([1; 32]),
            request,
            &path,
            &mut |_| {},
            &AtomicBool::new(false),
        );
    }
    let _ = std::fs::remove_file(&path);
}
