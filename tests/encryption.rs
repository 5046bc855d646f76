//! Encryption as an attacker on the LAN would try it: a man in the middle with its own
//! certificate, a host whose key changed, replayed proofs and tickets, plain text where only
//! encryption is served; and standard TLS, as `openssl s_client` sees it.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use lanshare::host::HostConfig;
use lanshare::identity::Identity;
use lanshare::protocol::{ClientLine, HostLine, PROTOCOL_VERSION, Passcode, Ticket};
use lanshare::tls::{HostIdentity, TlsStream, Trust};

const SECRET: &str = "correct horse";

fn passcode(text: &str) -> anyhow::Result<Passcode> {
    Passcode::new(text).map_err(anyhow::Error::msg)
}

/// A man in the middle: accepts TLS with its own certificate, opens TLS to the real host, and
/// relays the plain text between the two (as it would to read or change it).
fn impostor(host: SocketAddr) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let config = HostIdentity::generate()?.server_config()?;
    std::thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            let config = Arc::clone(&config);
            std::thread::spawn(move || -> anyhow::Result<()> {
                let inside = lanshare::tls::accept(client, config, Duration::from_secs(5))?;
                // From another address of its own, as another machine would be.
                let socket =
                    socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
                socket.bind(&SocketAddr::from(([127, 0, 0, 9], 0)).into())?;
                socket.connect(&host.into())?;
                let (outside, _) = lanshare::tls::connect(socket.into(), Trust::FirstContact)?;
                relay(Arc::new(inside), Arc::new(outside));
                Ok(())
            });
        }
    });
    Ok(address)
}

/// Copies bytes both ways until either side ends.
fn relay(a: Arc<TlsStream>, b: Arc<TlsStream>) {
    let pump = |from: Arc<TlsStream>, to: Arc<TlsStream>| {
        std::thread::spawn(move || {
            let mut buffer = [0u8; 16 * 1024];
            while let Ok(read @ 1..) = (&*from).read(&mut buffer) {
                if (&*to).write_all(&buffer[..read]).is_err() {
                    break;
                }
            }
            to.close_write();
        })
    };
    let one = pump(Arc::clone(&a), Arc::clone(&b));
    let other = pump(b, a);
    let _ = one.join();
    let _ = other.join();
}

#[test]
fn a_man_in_the_middle_is_refused_once_the_host_is_pinned() -> TestResult {
    let host = start(config())?;
    let proxy = impostor(host.local_addr())?;
    // The participant met the real host at this address before (its first contact).
    lanshare::participant::trust::pin(proxy, host.fingerprint())?;
    let person = Person::new("Ann")?;
    let joined = lanshare::participant::Session::join(proxy, "Ann", &person.identity);
    match joined {
        Err(lanshare::participant::Error::HostKeyChanged { pinned, shown, .. }) => {
            assert_eq!(pinned, host.fingerprint());
            assert_ne!(shown, host.fingerprint());
        }
        other => anyhow::bail!("expected a changed key, got {:?}", other.err()),
    }
    assert_eq!(host.session_count(), 0, "nothing reached the host");
    Ok(())
}

#[test]
fn with_a_passcode_a_man_in_the_middle_fails_even_at_first_contact() -> TestResult {
    let host = start(HostConfig {
        passcode: Some(passcode(SECRET)?),
        ..impatient_config()
    })?;
    let proxy = impostor(host.local_addr())?;
    let person = Person::new("Ann")?;
    let options = lanshare::participant::JoinOptions {
        passcode: Some(passcode(SECRET)?),
    };
    // Never met: the participant trusts the impostor's certificate, but the passcode
    // exchange is bound to each TLS connection, and the two halves differ.
    let joined =
        lanshare::participant::Session::join_with(proxy, "Ann", &person.identity, &options);
    // The host sees a proof that does not match its half, as from a wrong passcode; the
    // participant is told that someone may stand in between.
    assert!(
        matches!(&joined, Err(lanshare::participant::Error::WrongPasscode)),
        "{:?}",
        joined.err()
    );
    assert_eq!(host.session_count(), 0);
    // The same participant reaches the real host directly.
    let direct = lanshare::participant::Session::join_with(
        host.local_addr(),
        "Ann",
        &person.identity,
        &options,
    );
    assert!(direct.is_ok(), "{:?}", direct.err());
    Ok(())
}

#[test]
fn a_host_with_a_new_key_is_refused_until_trusted() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut first = HostProcess::start(&dir.path().join("host-a"), &[])?;
    let address = first.address;
    let cli = Cli {
        config_dir: dir.path().join("alice"),
        host: address,
    };
    let met = cli.run(&["ls"])?;
    assert!(met.status.success(), "{}", stderr(&met));
    let old_code = HostIdentity::load_or_create(&dir.path().join("host-a"))?
        .fingerprint()
        .verification_code();
    assert!(
        stderr(&met).contains(&format!("New host {address}: verification code {old_code}")),
        "{}",
        stderr(&met)
    );
    first.interrupt()?;
    // Another host (another config folder: a new key) on the same address.
    let port = address.port().to_string();
    let mut second = std::process::Command::new(env!("CARGO_BIN_EXE_lanshare"));
    second
        .args([
            "host",
            "--bind",
            "127.0.0.1",
            "--port",
            &port,
            "--no-announce",
        ])
        .env("LANSHARE_CONFIG_DIR", dir.path().join("host-b"))
        .env_remove("LANSHARE_PASSCODE");
    let _second = HostProcess::spawn(second)?;
    let new_code = HostIdentity::load_or_create(&dir.path().join("host-b"))?
        .fingerprint()
        .verification_code();
    let refused = cli.run(&["ls"])?;
    assert!(!refused.status.success());
    let said = stderr(&refused);
    assert!(said.contains("is not the one met here before"), "{said}");
    assert!(said.contains(&old_code.to_string()), "{said}");
    assert!(said.contains(&new_code.to_string()), "{said}");
    assert!(
        said.contains(&format!("lanshare trust {address}")),
        "{said}"
    );
    // Refused again on the next try: nothing changes until someone decides.
    assert!(!cli.run(&["ls"])?.status.success());
    let trusted = cli.run(&["trust", &address.to_string()])?;
    assert!(trusted.status.success(), "{}", stderr(&trusted));
    assert_eq!(
        stdout(&trusted),
        format!(
            "Host {address} is trusted now: verification code {new_code} (it was {old_code})\n"
        )
    );
    let listed = cli.run(&["ls"])?;
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert_eq!(stderr(&listed), "", "no notice for a host trusted already");
    Ok(())
}

#[test]
fn a_host_that_turns_a_connection_away_before_tls_is_understood() -> TestResult {
    let host = start(HostConfig {
        max_connections_per_address: 1,
        ..config()
    })?;
    let _held = Raw::connect(host.local_addr())?;
    assert!(wait_until(Duration::from_secs(5), || host
        .stats()
        .connections
        == 1));
    let refused = lanshare::participant::TransferConnection::connect(host.local_addr());
    match refused {
        Err(lanshare::participant::Error::Refused(reason)) => assert_eq!(
            reason,
            "Too many connections from 127.0.0.1 (max 1): close some and try again"
        ),
        other => anyhow::bail!("expected the host's reason, got {:?}", other.err()),
    }
    Ok(())
}

#[test]
fn seed_clients_work_by_default_and_are_told_why_under_require_encryption() -> TestResult {
    let open = start(config())?;
    assert_eq!(
        seed_upload(open.local_addr(), "UPLOAD:1:Seed:a.txt:3\n", b"abc")?,
        "READY\n"
    );
    let strict = start(HostConfig {
        require_encryption: true,
        ..config()
    })?;
    let mut raw = Raw::connect(strict.local_addr())?;
    raw.send(b"UPLOAD:1:Seed:a.txt:3\n")?;
    assert_eq!(
        String::from_utf8(raw.rest()?)?,
        "ERROR:This host serves only encrypted connections: connect with lanshare\n"
    );
    // lanshare's own clients are served as usual.
    let (session, _) = Person::new("Ann")?.join(strict.local_addr())?;
    share(&session, "ok.txt", b"fine")?;
    assert_eq!(strict.files().len(), 1);
    Ok(())
}

/// Joins by hand on a TLS connection; returns the raw connection, the client id and ticket.
fn raw_tls_join(host: SocketAddr, identity: &Identity) -> anyhow::Result<(Raw, u64, Ticket)> {
    let mut raw = Raw::connect_tls(host)?;
    let join = ClientLine::Join {
        version: PROTOCOL_VERSION,
        username: "Ann".into(),
        public_key: identity.public_key(),
    };
    raw.send(join.encode().as_bytes())?;
    let HostLine::Challenge { nonce } = HostLine::parse(raw.line()?.as_bytes())? else {
        anyhow::bail!("expected CHALLENGE");
    };
    let binding = raw.channel_binding()?;
    let proof = ClientLine::Proof {
        signature: identity.answer_challenge(&nonce, Some(&binding)),
    };
    raw.send(proof.encode().as_bytes())?;
    let HostLine::Welcome {
        client_id, ticket, ..
    } = HostLine::parse(raw.line()?.as_bytes())?
    else {
        anyhow::bail!("expected WELCOME");
    };
    while raw.line()? != "END" {}
    Ok((raw, client_id, ticket))
}

#[test]
fn proofs_and_tickets_are_good_on_their_own_connection_only() -> TestResult {
    let host = start(config())?;
    let addr = host.local_addr();
    let ann = Identity::generate()?;
    let (session, client_id, ticket) = raw_tls_join(addr, &ann)?;

    // An AUTH_PROOF made for one connection, replayed on another.
    let first = Raw::connect_tls(addr)?;
    let proof = ticket.bound_proof(&first.channel_binding()?);
    let mut other = Raw::connect_tls(addr)?;
    other.send(
        ClientLine::AuthProof { client_id, proof }
            .encode()
            .as_bytes(),
    )?;
    assert_eq!(
        other.line()?,
        "ERROR:Unknown or expired ticket: join the host again"
    );
    // The ticket itself is not taken on an encrypted connection either.
    let mut bare = Raw::connect_tls(addr)?;
    bare.send(ClientLine::Auth { client_id, ticket }.encode().as_bytes())?;
    assert!(bare.line()?.starts_with("ERROR:AUTH is for plain text"));
    // On its own connection, the proof opens uploads as Ann.
    let mut own = first;
    own.send(
        ClientLine::AuthProof { client_id, proof }
            .encode()
            .as_bytes(),
    )?;
    own.send(format!("UPLOAD:{client_id}:Ann:mine.txt:2\n").as_bytes())?;
    assert_eq!(own.line()?, "READY");
    own.send(b"hi")?;
    assert!(own.line()?.starts_with("STORED:"));
    assert!(wait_until(Duration::from_secs(5), || host
        .files()
        .iter()
        .any(
            |f| f.uploader_name == "Ann" && f.owner == Some(ann.public_key())
        )));

    // A JOIN proof signed for another connection's channel fails.
    let victim_side = Raw::connect_tls(addr)?;
    let mut attacker_side = Raw::connect_tls(addr)?;
    let bob = Identity::generate()?;
    let join = ClientLine::Join {
        version: PROTOCOL_VERSION,
        username: "Bob".into(),
        public_key: bob.public_key(),
    };
    attacker_side.send(join.encode().as_bytes())?;
    let HostLine::Challenge { nonce } = HostLine::parse(attacker_side.line()?.as_bytes())? else {
        anyhow::bail!("expected CHALLENGE");
    };
    let elsewhere = victim_side.channel_binding()?;
    let relayed = ClientLine::Proof {
        signature: bob.answer_challenge(&nonce, Some(&elsewhere)),
    };
    attacker_side.send(relayed.encode().as_bytes())?;
    assert_eq!(attacker_side.line()?, "ERROR:Identity proof failed");
    drop(session);
    Ok(())
}

#[test]
fn openssl_s_client_speaks_to_a_host_and_sees_its_fingerprint() -> TestResult {
    let host = start(config())?;
    let addr = host.local_addr();
    let mut child = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &addr.to_string(),
            "-tls1_3",
            "-showcerts",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(b"LIST\n")?;
        // Give the reply time to come back before closing our side.
        std::thread::sleep(Duration::from_millis(500));
    }
    let output = wait_with_deadline(child, Duration::from_secs(10))?;
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        out.contains("Protocol  : TLSv1.3") || out.contains("TLSv1.3"),
        "{out}"
    );
    assert!(
        out.lines().any(|line| line == "END"),
        "the host answered LIST: {out}"
    );
    // The certificate it showed is the one whose fingerprint participants pin.
    let pem_start = out
        .find("-----BEGIN CERTIFICATE-----")
        .ok_or_else(|| anyhow::anyhow!("no certificate in {out}"))?;
    let pem_end = out
        .find("-----END CERTIFICATE-----")
        .ok_or_else(|| anyhow::anyhow!("no certificate end"))?
        + "-----END CERTIFICATE-----".len();
    let mut x509 = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = x509.stdin.take() {
        stdin.write_all(&out.as_bytes()[pem_start..pem_end])?;
    }
    let printed = String::from_utf8(x509.wait_with_output()?.stdout)?;
    let hex: String = printed
        .trim()
        .rsplit('=')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_lowercase();
    assert_eq!(hex, host.fingerprint().to_string());
    Ok(())
}

/// Waits for a child process, killing it if it takes longer than `limit`.
fn wait_with_deadline(
    mut child: std::process::Child,
    limit: Duration,
) -> anyhow::Result<std::process::Output> {
    let deadline = std::time::Instant::now() + limit;
    while child.try_wait()?.is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(child.wait_with_output()?)
}
