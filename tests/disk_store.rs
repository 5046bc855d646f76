//! The disk store: files and their metadata survive a restart, leftovers of interrupted work
//! are cleaned up, and two hosts cannot share one folder.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn files_and_metadata_survive_a_restart() -> TestResult {
    let store = tempfile::tempdir()?;
    let alice = Person::new("Alice")?;
    let content = data(3_000_000, 9);
    let before = {
        let host = start(disk_config(store.path()))?;
        seed_upload(host.local_addr(), "UPLOAD:1:Guest:guest.txt:5\n", b"guest")?;
        let (session, _) = alice.join(host.local_addr())?;
        share(&session, "big: one.bin", &content)?;
        assert!(wait_until(Duration::from_secs(5), || host.files().len()
            == 2
            && previews_made(&host)));
        host.files()
    };

    let host = start(disk_config(store.path()))?;
    let after = host.files();
    assert_eq!(after.len(), 2);
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(
            old, new,
            "every field is kept, upload time and owner included"
        );
    }
    // Ids continue after the highest stored one.
    seed_upload(host.local_addr(), "UPLOAD:1:Guest:third.txt:1\n", b"3")?;
    assert!(wait_until(Duration::from_secs(5), || host.files().len() == 3));
    assert_eq!(
        host.files()[2].id,
        before.iter().map(|r| r.id).max().unwrap_or(0) + 1
    );

    // And the bytes are intact.
    let big = after
        .iter()
        .find(|r| r.name == "big: one.bin")
        .map(|r| r.id);
    let mut raw = Raw::connect(host.local_addr())?;
    raw.send(format!("DOWNLOAD:{}\n", big.unwrap_or(0)).as_bytes())?;
    assert_eq!(raw.line()?, "FILE:big%3A one.bin:3000000");
    raw.send(b"READY\n")?;
    assert!(raw.bytes(content.len())? == content);
    Ok(())
}

#[test]
fn leftovers_of_interrupted_work_are_removed_at_start() -> TestResult {
    let store = tempfile::tempdir()?;
    {
        let host = start(disk_config(store.path()))?;
        seed_upload(host.local_addr(), "UPLOAD:1:Guest:kept.txt:4\n", b"kept")?;
        assert!(wait_until(Duration::from_secs(5), || host.files().len()
            == 1
            && previews_made(&host)));
    }
    let files = store.path().join("files");
    // What a host killed at various moments could leave behind:
    std::fs::write(store.path().join("incoming/abc.part"), b"half an upload")?;
    std::fs::write(
        files.join("7.data"),
        b"data renamed, metadata never written",
    )?;
    std::fs::write(files.join("8.json.tmp"), b"{\"half\":")?;
    std::fs::write(files.join("9.json"), b"not json")?;
    std::fs::write(files.join("9.data"), b"damaged entry")?;
    std::fs::write(files.join("7.preview"), b"a preview whose file is gone")?;
    std::fs::write(files.join("1.preview.tmp"), b"a preview never renamed")?;

    let host = start(disk_config(store.path()))?;
    let names: Vec<String> = host.files().iter().map(|r| r.name.clone()).collect();
    assert_eq!(names, ["kept.txt"]);
    let mut left: Vec<String> = std::fs::read_dir(&files)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    left.sort();
    assert_eq!(left, ["1.data", "1.json", "1.preview"]);
    assert_eq!(std::fs::read_dir(store.path().join("incoming"))?.count(), 0);
    Ok(())
}

#[test]
fn two_hosts_cannot_share_a_store() -> TestResult {
    let store = tempfile::tempdir()?;
    let _first = start(disk_config(store.path()))?;
    let second = start(disk_config(store.path()));
    let message = format!(
        "{:#}",
        second
            .err()
            .ok_or_else(|| anyhow::anyhow!("second host started"))?
    );
    assert!(
        message.contains("in use by another lanshare host"),
        "{message}"
    );
    Ok(())
}

#[test]
fn deleted_files_stay_deleted_after_a_restart() -> TestResult {
    let store = tempfile::tempdir()?;
    let operator = Person::new("Op")?;
    {
        let host = start(lanshare::host::HostConfig {
            operator: Some(operator.identity.public_key()),
            ..disk_config(store.path())
        })?;
        seed_upload(host.local_addr(), "UPLOAD:1:Guest:gone.txt:4\n", b"gone")?;
        assert!(wait_until(Duration::from_secs(5), || host.files().len() == 1));
        let (session, _) = operator.join(host.local_addr())?;
        session.delete(host.files()[0].id, Duration::from_secs(5))?;
    }
    let host = start(disk_config(store.path()))?;
    assert!(host.files().is_empty());
    assert_eq!(std::fs::read_dir(store.path().join("files"))?.count(), 0);
    Ok(())
}

#[test]
fn the_disk_limit_refuses_clearly_and_keeps_every_stored_file_intact() -> TestResult {
    let store = tempfile::tempdir()?;
    let operator = Person::new("Op")?;
    let limited = |limit: u64| lanshare::host::HostConfig {
        storage: lanshare::storage::StorageConfig::Disk {
            dir: store.path().to_path_buf(),
            limit: Some(limit),
        },
        operator: Some(operator.identity.public_key()),
        ..config()
    };
    let contents = [data(300_000, 1), data(400_000, 2)];
    {
        let host = start(limited(1_000_000))?;
        let addr = host.local_addr();
        for (index, content) in contents.iter().enumerate() {
            let line = format!("UPLOAD:1:Ann:file{index}.bin:{}\n", content.len());
            assert_eq!(seed_upload(addr, &line, content)?, "READY\n");
        }
        assert!(wait_until(Duration::from_secs(5), || host.files().len() == 2));
        assert_eq!(host.disk_in_use(), 700_000);
        // An upload in progress holds its room too.
        let mut pending = Raw::connect(addr)?;
        pending.send(b"UPLOAD:1:Ann:pending.bin:200000\n")?;
        assert_eq!(pending.line()?, "READY");
        // Moving, at a pace that would finish well within the host's 10 minutes: it is not
        // stopped to make way for the next one (which waits for it to be judged first).
        pending.send(&[7u8; 2_000])?;
        assert_eq!(host.disk_in_use(), 900_000);
        assert_eq!(
            seed_upload(addr, "UPLOAD:1:Ann:big.bin:200000\n", b"")?,
            "ERROR:Host storage is full: this file needs 195 KB, only 97.7 KB of 977 KB is free\n"
        );
        drop(pending);
        assert!(wait_until(Duration::from_secs(5), || host.disk_in_use() == 700_000));
        // The uploader using the command line reads the same reason.
        let error = cli_send_refused(addr, 400_000)?;
        assert!(
            error.contains(
                "Host storage is full: this file needs 391 KB, only 293 KB of 977 KB is free"
            ),
            "{error}"
        );
    }
    // After a restart the stored files count against the limit again, and are intact.
    let host = start(limited(1_000_000))?;
    let addr = host.local_addr();
    assert_eq!(host.disk_in_use(), 700_000);
    let by_name = |name: &str| host.files().into_iter().find(|record| record.name == name);
    for (index, content) in contents.iter().enumerate() {
        let record = by_name(&format!("file{index}.bin"))
            .ok_or_else(|| anyhow::anyhow!("file{index}.bin is gone"))?;
        assert_eq!(record.sha256.to_string(), sha256_hex(content));
        assert!(fetch(addr, record.id)? == *content);
    }
    assert!(seed_upload(addr, "UPLOAD:1:Ann:big.bin:400000\n", b"")?.starts_with("ERROR:"));
    // Deleting makes room.
    let (session, _) = operator.join(addr)?;
    let first = by_name("file0.bin").map_or(0, |record| record.id);
    session.delete(first, Duration::from_secs(5))?;
    assert_eq!(host.disk_in_use(), 400_000);
    assert_eq!(
        seed_upload(addr, "UPLOAD:1:Ann:big.bin:400000\n", &data(400_000, 4))?,
        "READY\n"
    );
    assert!(wait_until(Duration::from_secs(5), || host.files().len() == 2));
    Ok(())
}
