//! A host started with a passcode: joining, listing and every transfer need it, proven without
//! sending it (`PAKE` over TLS); a wrong one gets a clear error, repeated wrong guesses from one
//! address are slowed down, nothing is served in plain text, and a host without a passcode
//! stays open to seed clients exactly as before.

mod common;

use std::time::{Duration, Instant};

use common::*;
use lanshare::host::{Host, HostConfig};
use lanshare::participant::save::Destination;
use lanshare::participant::worker::{TransferUpdate, spawn_download_with, spawn_upload};
use lanshare::participant::{Error, JoinOptions, Session, TransferConnection};
use lanshare::protocol::Passcode;

const SECRET: &str = "blue: 42 %";

fn passcode(text: &str) -> anyhow::Result<Passcode> {
    Passcode::new(text).map_err(anyhow::Error::msg)
}

fn guarded_host() -> anyhow::Result<Host> {
    start(HostConfig {
        passcode: Some(passcode(SECRET)?),
        ..impatient_config()
    })
}

#[test]
fn every_command_needs_the_passcode_and_gets_a_clear_error_without_it() -> TestResult {
    let host = guarded_host()?;
    let addr = host.local_addr();
    let person = Person::new("Ann")?;
    let join = lanshare::protocol::ClientLine::Join {
        version: 1,
        username: "Ann".into(),
        public_key: person.identity.public_key(),
    }
    .encode();
    for line in [
        "UPLOAD:1:Ann:a.txt:1\n",
        "DOWNLOAD:1\n",
        "LIST\n",
        join.as_str(),
    ] {
        let mut raw = Raw::connect_tls(addr)?;
        raw.send(line.as_bytes())?;
        assert_eq!(
            String::from_utf8(raw.rest()?)?,
            "ERROR:This host requires a passcode\n",
            "{line:?}"
        );
        // In plain text nothing at all is served, with or without a passcode.
        let mut plain = Raw::connect(addr)?;
        plain.send(line.as_bytes())?;
        assert_eq!(
            String::from_utf8(plain.rest()?)?,
            "ERROR:This host has a passcode and serves only encrypted connections: join it \
             with lanshare\n",
            "{line:?}"
        );
    }
    // The passcode in clear is refused even on an encrypted connection.
    let mut raw = Raw::connect_tls(addr)?;
    let pass = format!("PASS:{}\nLIST\n", lanshare::protocol::escape(SECRET));
    raw.send(pass.as_bytes())?;
    assert!(raw.line()?.starts_with("ERROR:PASS is not accepted"));
    // The library reports it as a refusal, in the host's words.
    let joined = Session::join(addr, "Ann", &person.identity);
    assert!(
        matches!(&joined, Err(Error::Refused(reason)) if reason == "This host requires a passcode")
    );
    assert!(host.files().is_empty());
    assert_eq!(host.session_count(), 0);
    Ok(())
}

#[test]
fn the_right_passcode_opens_joining_listing_and_transfers() -> TestResult {
    let host = guarded_host()?;
    let addr = host.local_addr();
    // Raw, byte for byte over TLS: the passcode exchange, then the seed's upload on the same
    // connection.
    let mut raw = Raw::connect_tls(addr)?;
    assert_eq!(raw_pake(&mut raw, SECRET)?, None);
    raw.send(b"UPLOAD:1:Guest:hello.txt:5\n")?;
    assert_eq!(raw.line()?, "READY");
    raw.send(b"hello")?;
    assert!(raw.line()?.starts_with("STORED:1:"));
    // The passcode holds for the rest of the connection.
    raw.send(b"DOWNLOAD:1\n")?;
    assert_eq!(raw.line()?, "FILE:hello.txt:5");
    raw.send(b"READY\n")?;
    assert_eq!(raw.bytes(5)?, b"hello");

    // The library: join with the passcode; uploads proven by the session's ticket need no
    // more; downloads and listings carry the passcode.
    let ann = Person::new("Ann")?;
    let options = JoinOptions {
        passcode: Some(passcode(SECRET)?),
    };
    let (session, snapshot) = Session::join_with(addr, &ann.name, &ann.identity, &options)?;
    assert_eq!(snapshot.files.len(), 1);
    let id = share(&session, "mine.bin", &data(300_000, 5))?;
    let dir = tempfile::tempdir()?;
    let (sender, events) = flume::unbounded();
    let entry = {
        let mut connection = TransferConnection::connect(addr)?;
        connection.prove_passcode(&passcode(SECRET)?)?;
        connection.list()?.into_iter().find(|f| f.id == id)
    }
    .ok_or_else(|| anyhow::anyhow!("the upload is not listed"))?;
    spawn_download_with(
        addr,
        session.passcode().cloned(),
        entry,
        Destination::Folder(dir.path().into()),
        sender,
    )?;
    let last = loop {
        let event = events.recv_timeout(Duration::from_secs(10))?;
        if event.update.is_final() {
            break event.update;
        }
    };
    let TransferUpdate::Downloaded(path) = last else {
        anyhow::bail!("download failed: {last:?}");
    };
    assert!(std::fs::read(path)? == data(300_000, 5));
    // A guest upload through the worker needs the passcode, and says so without it.
    let file = dir.path().join("guest.txt");
    std::fs::write(&file, b"guest")?;
    let (sender, events) = flume::unbounded();
    spawn_upload(addr, None, file, "guest.txt".into(), sender)?;
    let last = loop {
        let event = events.recv_timeout(Duration::from_secs(10))?;
        if event.update.is_final() {
            break event.update;
        }
    };
    assert_eq!(
        last,
        TransferUpdate::Failed("This host requires a passcode".into())
    );
    Ok(())
}

#[test]
fn wrong_passcodes_are_refused_and_repeated_guesses_slowed_down() -> TestResult {
    let host = guarded_host()?;
    let addr = host.local_addr();
    let first_wait = impatient_config().timeouts.wrong_passcode;
    let guess = |source: [u8; 4], text: &str| -> anyhow::Result<String> {
        let mut raw = Raw::connect_tls_from(source, addr)?;
        if let Some(refused) = raw_pake(&mut raw, text)? {
            return Ok(refused);
        }
        raw.send(b"LIST\n")?;
        raw.line()
    };
    let guesser = [127, 0, 0, 3];
    // Each strike is recorded after its guess was sent: a wait is measured from then.
    let first_guess = Instant::now();
    assert_eq!(guess(guesser, "red")?, "ERROR:Wrong passcode");
    // Straight away, not even the right passcode is looked at from that address …
    assert_eq!(
        guess(guesser, SECRET)?,
        "ERROR:Too many wrong passcodes from 127.0.0.3: try again in 1 s"
    );
    // … while everyone else carries on.
    assert!(guess([127, 0, 0, 1], SECRET)?.starts_with("END"));
    // After the wait, one more wrong guess makes the next wait twice as long.
    let mut second_guess = Instant::now();
    assert!(wait_until(Duration::from_secs(5), || {
        second_guess = Instant::now();
        guess(guesser, "green").is_ok_and(|reply| reply == "ERROR:Wrong passcode")
    }));
    assert!(Instant::now() - first_guess >= first_wait);
    assert!(wait_until(Duration::from_secs(5), || guess(
        guesser, SECRET
    )
    .is_ok_and(|reply| reply.starts_with("END"))));
    assert!(
        second_guess.elapsed() >= first_wait * 2,
        "the second wait lasted only {:?}",
        second_guess.elapsed()
    );
    // The library reports a wrong passcode in the host's words.
    let person = Person::new("Bo")?;
    let options = JoinOptions {
        passcode: Some(passcode("wrong")?),
    };
    let joined = Session::join_with(addr, "Bo", &person.identity, &options);
    assert!(matches!(&joined, Err(Error::WrongPasscode)));
    Ok(())
}

#[test]
fn a_host_without_a_passcode_stays_open_and_says_it_has_none() -> TestResult {
    let host = start(config())?;
    let addr = host.local_addr();
    assert_eq!(
        seed_upload(addr, "UPLOAD:1:Guest:open.txt:4\n", b"open")?,
        "READY\n"
    );
    assert!(wait_until(Duration::from_secs(5), || host.files().len() == 1));
    let mut raw = Raw::connect(addr)?;
    raw.send(b"LIST\n")?;
    assert!(raw.line()?.starts_with("FILE_OFFER:1:open.txt:4:Guest:0"));
    // A participant that brings a passcode is told there is none (rather than trusting a
    // host, or someone in between, that merely claims to need none).
    let mut raw = Raw::connect_tls(addr)?;
    assert_eq!(
        raw_pake(&mut raw, "anything")?.as_deref(),
        Some("ERROR:This host has no passcode: join it without one")
    );
    let person = Person::new("Bo")?;
    let options = JoinOptions {
        passcode: Some(passcode("anything")?),
    };
    let joined = Session::join_with(addr, "Bo", &person.identity, &options);
    assert!(
        matches!(&joined, Err(Error::Refused(reason)) if reason.contains("has no passcode")),
        "{:?}",
        joined.err()
    );
    Ok(())
}

#[test]
fn the_command_line_takes_the_passcode_from_a_flag_or_the_environment() -> TestResult {
    let dir = tempfile::tempdir()?;
    let host = HostProcess::start(&dir.path().join("host"), &["--passcode", SECRET])?;
    host.wait_for_log("require the passcode")?;
    let cli = Cli {
        config_dir: dir.path().join("alice"),
        host: host.address,
    };
    let file = dir.path().join("report.txt");
    std::fs::write(&file, b"quarterly")?;
    let file = file.to_string_lossy().into_owned();

    let output = cli.run(&["send", "--user", "Alice", &file])?;
    assert!(!output.status.success());
    // The first command meets the host: its verification code is shown first.
    let code = lanshare::tls::HostIdentity::load_or_create(&dir.path().join("host"))?
        .fingerprint()
        .verification_code();
    assert!(
        stderr(&output).starts_with(&format!(
            "New host {}: verification code {code}",
            host.address
        )),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        stderr_past_first_contact(&output),
        "lanshare: error: This host requires a passcode: give it with --passcode or \
         LANSHARE_PASSCODE\n"
    );
    let with_flag = cli.run(&["send", "--user", "Alice", "--passcode", SECRET, &file])?;
    assert!(with_flag.status.success(), "{}", stderr(&with_flag));
    let with_env = |args: &[&str]| {
        cli.command(args)
            .env("LANSHARE_PASSCODE", SECRET)
            .current_dir(dir.path())
            .output()
    };
    let listed = with_env(&["ls", "--json"])?;
    assert!(
        stdout(&listed).contains("\"name\": \"report.txt\""),
        "{}",
        stderr(&listed)
    );
    let out = dir.path().join("copy.txt");
    let got = with_env(&["get", "1", "-o", &out.to_string_lossy()])?;
    assert!(got.status.success(), "{}", stderr(&got));
    assert_eq!(std::fs::read(&out)?, b"quarterly");
    let removed = with_env(&["rm", "--user", "Alice", "1"])?;
    assert!(removed.status.success(), "{}", stderr(&removed));
    assert_eq!(stdout(&with_env(&["ls"])?), "No files are shared yet.\n");
    // A wrong one is named as such (and makes this address wait before its next guess).
    let output = cli.run(&["ls", "--passcode", "nope"])?;
    assert_eq!(
        stderr_past_first_contact(&output),
        "lanshare: error: Wrong passcode (if you typed it right, something may stand between \
         you and the host: compare its verification code with the one the host shows)\n"
    );
    Ok(())
}
