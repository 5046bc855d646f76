//! The seed's own bytes against a real host: a client written from the seed works unchanged.

mod common;

use std::process::Command;

use common::*;
use lanshare::identity::Identity;

#[test]
fn seed_upload_then_download_byte_for_byte() -> TestResult {
    let host = start(config())?;
    let content = data(2_621_440, 1);

    // Upload: the first recv(1024) must hold exactly READY, nothing else.
    let reply = seed_upload(
        host.local_addr(),
        "UPLOAD:3:Alice:report.pdf:2621440\n",
        &content,
    )?;
    assert_eq!(reply, "READY\n");
    assert!(wait_until(std::time::Duration::from_secs(5), || host
        .files()
        .len()
        == 1));
    let record = &host.files()[0];
    assert_eq!(
        (
            record.name.as_str(),
            record.size,
            record.uploader_name.as_str()
        ),
        ("report.pdf", 2_621_440, "Alice")
    );
    assert_eq!(record.sha256.to_string(), sha256_hex(&content));

    // Download: FILE line alone in the first recv, bytes only after READY.
    let mut raw = Raw::connect(host.local_addr())?;
    raw.send(format!("DOWNLOAD:{}\n", record.id).as_bytes())?;
    assert_eq!(raw.recv(1024)?, b"FILE:report.pdf:2621440\n");
    raw.send(b"READY\n")?;
    let received = raw.bytes(content.len())?;
    assert!(received == content, "downloaded bytes differ");
    Ok(())
}

#[test]
fn seed_errors_keep_the_seed_wording() -> TestResult {
    let host = start(config())?;
    let addr = host.local_addr();

    let mut raw = Raw::connect(addr)?;
    raw.send(b"DOWNLOAD:15\n")?;
    assert_eq!(raw.recv(1024)?, b"ERROR:File not found\n");
    assert!(raw.rest()?.is_empty(), "connection closes after the error");

    let reply = seed_upload(addr, "UPLOAD:1:bob\n", b"")?;
    assert_eq!(reply, "ERROR:Invalid upload command\n");

    let reply = seed_upload(addr, "UPLOAD:1:bob:huge.iso:104857601\n", b"")?;
    assert_eq!(
        reply,
        "ERROR:File too large (max 104857600 bytes = 100 MB)\n"
    );
    // Exactly the limit is allowed.
    let reply = seed_upload(addr, "UPLOAD:1:bob:edge.bin:104857600\n", b"")?;
    assert_eq!(reply, "READY\n");
    assert!(host.files().is_empty(), "nothing listed without its bytes");
    Ok(())
}

#[test]
fn offers_and_deletions_reach_sessions_in_the_seed_format() -> TestResult {
    let operator = Identity::generate()?;
    let host = start(lanshare::host::HostConfig {
        operator: Some(operator.public_key()),
        ..config()
    })?;
    let mut watcher = raw_join(host.local_addr(), "Host", &operator)?;

    let content = data(2_621_440, 2);
    seed_upload(
        host.local_addr(),
        "UPLOAD:3:Alice:report.pdf:2621440\n",
        &content,
    )?;
    // The seed's exact line (guests get uploader id 0), then lanshare's FILE_META.
    assert_eq!(watcher.line()?, "FILE_OFFER:1:report.pdf:2621440:Alice:0");
    let meta = watcher.line()?;
    let parts: Vec<&str> = meta.split(':').collect();
    assert_eq!(parts[..2], ["FILE_META", "1"]);
    let uploaded_ms: i64 = parts[2].parse()?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    assert!((now_ms - uploaded_ms).abs() < 60_000, "upload time is now");
    assert_eq!(parts[3], sha256_hex(&content));
    assert_eq!(
        parts[4..],
        [lanshare::protocol::TransferCheck::of(&content).to_string()]
    );

    watcher.send(b"DELETE:1\n")?;
    assert_eq!(watcher.line()?, "FILE_DELETED:1");
    assert!(host.files().is_empty());
    Ok(())
}

#[test]
fn the_seeds_python_client_works_unchanged() -> TestResult {
    let python = Command::new("python3").arg("--version").output();
    assert!(
        python.is_ok_and(|o| o.status.success()),
        "python3 is needed for this test (.ci/run installs it)"
    );
    let host = start(config())?;
    let port = host.local_addr().port().to_string();
    let dir = tempfile::tempdir()?;
    let source = dir.path().join("notes v2.txt");
    let content = data(100_003, 3);
    std::fs::write(&source, &content)?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/seed_client.py");

    let upload = Command::new("python3")
        .args([script, "upload", "127.0.0.1", &port, "7", "Carol"])
        .arg(&source)
        .output()?;
    assert!(upload.status.success(), "{}", stderr(&upload));
    assert!(wait_until(std::time::Duration::from_secs(5), || host
        .files()
        .len()
        == 1));
    let id = host.files()[0].id.to_string();
    assert_eq!(host.files()[0].uploader_name, "Carol");

    let saved = dir.path().join("saved.txt");
    let download = Command::new("python3")
        .args([script, "download", "127.0.0.1", &port, &id])
        .arg(&saved)
        .output()?;
    assert!(download.status.success(), "{}", stderr(&download));
    assert_eq!(stdout(&download).trim(), "downloaded notes v2.txt 100003");
    assert!(std::fs::read(&saved)? == content);

    let missing = Command::new("python3")
        .args([script, "download", "127.0.0.1", &port, "999"])
        .arg(dir.path().join("nothing"))
        .output()?;
    assert!(!missing.status.success());
    assert_eq!(stderr(&missing).trim(), "error: File not found");
    Ok(())
}
