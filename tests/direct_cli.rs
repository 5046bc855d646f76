//! `lanshare send --direct` and `get` through a real host on loopback: a file ten times over
//! the host's limit is refused as an upload (with a hint), shared from the sender's machine
//! instead, fetched by another participant, and shown unavailable once the sender stops.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use lanshare::host::HostConfig;

const LIMIT: u64 = 100_000;

#[test]
fn a_file_over_the_hosts_limit_is_shared_directly_fetched_and_unavailable_after() -> TestResult {
    let host = start(HostConfig {
        max_file_size: LIMIT,
        ..config()
    })?;
    let address = host.local_addr();
    let dir = tempfile::tempdir()?;
    let bytes = data(10 * LIMIT as usize + 1, 23);
    let file = dir.path().join("video.mkv");
    std::fs::write(&file, &bytes)?;
    let file = file.to_string_lossy().into_owned();
    let alice = Cli::in_folder(dir.path(), "alice", address);
    let bob = Cli::in_folder(dir.path(), "bob", address);

    let refused = alice.run(&["send", "--user", "Alice", &file])?;
    assert!(!refused.status.success());
    let said = stderr(&refused);
    assert!(said.contains("send --direct"), "no hint: {said}");

    let mut sender = alice
        .command(&["send", "--direct", "--user", "Alice", &file])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let lines = stdout_lines(&mut sender)?;
    let shared = lines.recv_timeout(Duration::from_secs(30))?;
    let id = shared
        .strip_prefix("Sharing 'video.mkv' (")
        .and_then(|rest| rest.rsplit_once(") directly as #"))
        .map(|(_, id)| id.to_owned())
        .ok_or_else(|| anyhow::anyhow!("unexpected first line: {shared}"))?;
    let serving = lines.recv_timeout(Duration::from_secs(5))?;
    assert!(serving.starts_with("Serving on port "), "{serving}");

    let downloads = dir.path().join("downloads");
    std::fs::create_dir(&downloads)?;
    let got = bob.run_in(&downloads, &["get", "--user", "Bob", &id])?;
    assert!(got.status.success(), "get failed: {}", stderr(&got));
    assert!(
        std::fs::read(downloads.join("video.mkv"))? == bytes,
        "the file differs"
    );
    let listed = stdout(&bob.run(&["ls", "--user", "Bob"])?);
    assert!(
        listed.contains("video.mkv (direct from its sharer)"),
        "{listed}"
    );

    let pid = sender.id().to_string();
    std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()?;
    let status = wait_for_exit(&mut sender, Duration::from_secs(10))?;
    assert!(status.success(), "the sender ended with {status}");
    assert_eq!(
        lines.recv_timeout(Duration::from_secs(5))?,
        "Stopped sharing."
    );

    let unavailable = wait_until(Duration::from_secs(10), || {
        bob.run(&["ls", "--user", "Bob", "--json"])
            .is_ok_and(|out| stdout(&out).contains("\"direct\": \"unavailable\""))
    });
    assert!(unavailable, "the file is not shown unavailable");
    let refused = bob.run_in(
        &downloads,
        &["get", "--user", "Bob", "-o", "again.mkv", &id],
    )?;
    assert!(!refused.status.success());
    let said = stderr(&refused);
    assert!(said.contains("is unavailable: Alice"), "{said}");

    // `serve` shares it again, under the same id.
    let mut server = alice
        .command(&["serve", "--user", "Alice"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let lines = stdout_lines(&mut server)?;
    let again = lines.recv_timeout(Duration::from_secs(30))?;
    assert!(again.ends_with(&format!(" directly as #{id}")), "{again}");
    let got = bob.run_in(
        &downloads,
        &["get", "--user", "Bob", "-o", "again.mkv", &id],
    )?;
    assert!(got.status.success(), "get failed: {}", stderr(&got));
    assert!(
        std::fs::read(downloads.join("again.mkv"))? == bytes,
        "the file differs"
    );
    std::process::Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status()?;
    assert!(wait_for_exit(&mut server, Duration::from_secs(10))?.success());
    Ok(())
}

#[test]
fn serve_with_nothing_shared_before_says_how_to_share() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let alice = Cli::in_folder(dir.path(), "alice", host.local_addr());
    let output = alice.run(&["serve", "--user", "Alice"])?;
    assert!(!output.status.success());
    let said = stderr(&output);
    assert!(
        said.contains("share files with `lanshare send --direct`"),
        "{said}"
    );
    Ok(())
}

#[test]
fn send_direct_only_shares_with_those_named_and_serve_keeps_it_so() -> TestResult {
    let host = start(config())?;
    let address = host.local_addr();
    let dir = tempfile::tempdir()?;
    let bytes = data(30_000, 24);
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, &bytes)?;
    let file = file.to_string_lossy().into_owned();
    let (alice, bob, carol) = (
        Cli::in_folder(dir.path(), "alice", address),
        Cli::in_folder(dir.path(), "bob", address),
        Cli::in_folder(dir.path(), "carol", address),
    );
    // A name can be chosen while its participant is online or owns a file: Bob shares one.
    let bobs = dir.path().join("bob.txt");
    std::fs::write(&bobs, b"hello")?;
    let sent = bob.run(&["send", "--user", "Bob", &bobs.to_string_lossy()])?;
    assert!(sent.status.success(), "{}", stderr(&sent));
    let lists_it = |cli: &Cli, name: &str| -> anyhow::Result<bool> {
        Ok(stdout(&cli.run(&["ls", "--user", name])?).contains("notes.txt"))
    };
    for serving in [
        vec![
            "send",
            "--direct",
            "--only",
            "Bob",
            "--user",
            "Alice",
            file.as_str(),
        ],
        vec!["serve", "--user", "Alice"],
    ] {
        let mut sharer = alice
            .command(&serving)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let lines = stdout_lines(&mut sharer)?;
        let shared = lines.recv_timeout(Duration::from_secs(30))?;
        assert!(shared.contains("directly as #"), "{shared}");
        assert!(lists_it(&bob, "Bob")?, "Bob does not see it ({serving:?})");
        assert!(!lists_it(&carol, "Carol")?, "Carol sees it ({serving:?})");
        std::process::Command::new("kill")
            .args(["-INT", &sharer.id().to_string()])
            .status()?;
        assert!(wait_for_exit(&mut sharer, Duration::from_secs(10))?.success());
    }
    Ok(())
}
