//! Downloads are verified by the transfer check the host lists: a file damaged in the host's
//! store after its upload is caught, and a store written before the host kept the check gets
//! it at start-up and serves its files verified.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use lanshare::participant::TransferConnection;
use lanshare::protocol::TransferCheck;

/// Bytes over `pipeline::PARALLEL_FROM`, so that both sides hash beside the copy.
const SIZE: usize = 3_000_000;

/// A command line against `host` with its config folder in `dir`.
fn cli(dir: &Path, host: std::net::SocketAddr) -> Cli {
    Cli {
        config_dir: dir.join("config"),
        host,
    }
}

#[test]
fn a_download_from_a_real_host_is_verified_by_the_listed_transfer_check() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let content = data(SIZE, 21);
    let file = dir.path().join("shared.bin");
    std::fs::write(&file, &content)?;
    let cli = cli(dir.path(), host.local_addr());
    let sent = cli.run(&["send", "--user", "Alice", &file.to_string_lossy()])?;
    assert!(sent.status.success(), "{}", stderr(&sent));

    let check = TransferCheck::of(&content);
    let listed = TransferConnection::connect(host.local_addr())?.list()?;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].check, Some(check));
    let json: serde_json::Value = serde_json::from_str(&stdout(&cli.run(&["ls", "--json"])?))?;
    assert_eq!(json[0]["check"], check.to_string());
    assert_eq!(json[0]["sha256"], sha256_hex(&content));

    let target = dir.path().join("copy.bin");
    let got = cli.run(&["get", "1", "-o", &target.to_string_lossy()])?;
    assert!(got.status.success(), "{}", stderr(&got));
    assert!(std::fs::read(&target)? == content);
    Ok(())
}

#[test]
fn bytes_damaged_in_the_hosts_store_fail_the_download_and_nothing_is_saved() -> TestResult {
    let store = tempfile::tempdir()?;
    let host = start(disk_config(store.path()))?;
    let content = data(SIZE, 22);
    seed_upload(
        host.local_addr(),
        &format!("UPLOAD:1:Guest:data.bin:{SIZE}\n"),
        &content,
    )?;
    assert!(wait_until(Duration::from_secs(5), || host.files().len() == 1));

    // The accident the check is for: the stored bytes change after the upload.
    let stored = store.path().join("files/1.data");
    let mut damaged = std::fs::read(&stored)?;
    damaged[SIZE / 2] ^= 0x01;
    std::fs::write(&stored, &damaged)?;

    let dir = tempfile::tempdir()?;
    let target = dir.path().join("out.bin");
    let output =
        cli(dir.path(), host.local_addr()).run(&["get", "1", "-o", &target.to_string_lossy()])?;
    assert!(!output.status.success());
    assert!(
        stderr(&output)
            .contains("'data.bin' arrived damaged (transfer check mismatch); nothing was saved"),
        "{}",
        stderr(&output)
    );
    assert!(!target.exists());
    assert!(!dir.path().join("out.bin.part").exists());
    Ok(())
}

#[test]
fn a_store_written_before_the_transfer_check_opens_lists_and_serves_verified() -> TestResult {
    let store = tempfile::tempdir()?;
    let files = store.path().join("files");
    std::fs::create_dir_all(&files)?;
    let content = data(SIZE, 23);
    std::fs::write(files.join("4.data"), &content)?;
    // Metadata as an older lanshare wrote it: no `check`.
    let old = serde_json::json!({
        "id": 4,
        "name": "old.bin",
        "size": SIZE,
        "uploader_name": "Alice",
        "uploader_id": 2,
        "uploaded_at": "2025-11-24T16:00:00.123Z",
        "sha256": sha256_hex(&content),
        "owner": null,
    });
    std::fs::write(files.join("4.json"), serde_json::to_vec_pretty(&old)?)?;

    let check = TransferCheck::of(&content);
    let record = {
        let host = start(disk_config(store.path()))?;
        let listed = host.files();
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].id, listed[0].check), (4, check));
        assert_eq!(listed[0].sha256.to_string(), sha256_hex(&content));

        let dir = tempfile::tempdir()?;
        let target = dir.path().join("old.bin");
        let got = cli(dir.path(), host.local_addr()).run(&[
            "get",
            "4",
            "-o",
            &target.to_string_lossy(),
        ])?;
        assert!(got.status.success(), "{}", stderr(&got));
        assert!(std::fs::read(&target)? == content);
        // The record as kept: with the note that this file has no preview.
        assert!(wait_until(Duration::from_secs(5), || previews_made(&host)));
        host.files()[0].clone()
    };

    // The check was written back (crash-safely: no temporary file stays), so the next start
    // reads it instead of computing it again.
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(files.join("4.json"))?)?;
    assert_eq!(written["check"], check.to_string());
    assert_eq!(written["sha256"], old["sha256"]);
    assert_eq!(written["uploaded_at"], old["uploaded_at"]);
    let mut left: Vec<String> = std::fs::read_dir(&files)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    left.sort();
    assert_eq!(left, ["4.data", "4.json"]);
    let host = start(disk_config(store.path()))?;
    assert_eq!(host.files(), [record]);
    Ok(())
}
