//! Faults: processes killed with SIGKILL in the middle of transfers, and a disk that fills up.
//! The participants and, where the host itself is killed, the host are the real `lanshare`
//! binary; what is checked is what a person would see afterwards.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use lanshare::host::{Host, HostConfig, HostStats};
use lanshare::storage::StorageConfig;

/// Freezes a process (SIGSTOP), so that what it was doing stays half done until it is killed.
fn freeze(child: &Child) -> anyhow::Result<()> {
    let status = Command::new("kill")
        .args(["-STOP", &child.id().to_string()])
        .status()?;
    anyhow::ensure!(status.success(), "kill -STOP failed");
    Ok(())
}

/// A file of `size` zero bytes that takes no room on disk.
fn sparse_file(dir: &Path, name: &str, size: u64) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::File::create(&path)?.set_len(size)?;
    Ok(path)
}

/// Waits until `condition` holds on the host's stats, or fails naming the last stats seen.
fn wait_for_stats(host: &Host, what: &str, condition: impl Fn(&HostStats) -> bool) -> TestResult {
    anyhow::ensure!(
        wait_until(Duration::from_secs(20), || condition(&host.stats())),
        "waited in vain for {what}: {:?}",
        host.stats()
    );
    Ok(())
}

const BIG: u64 = 512 << 20;

fn roomy_config() -> HostConfig {
    HostConfig {
        storage: StorageConfig::Memory { limit: 2 << 30 },
        max_file_size: 1 << 30,
        ..config()
    }
}

#[test]
fn a_participant_killed_mid_upload_leaves_nothing_listed_and_no_memory_held() -> TestResult {
    // The cut-off upload is kept for its sender to resume, for a short while here.
    let host = start(HostConfig {
        resume_window: Duration::from_secs(2),
        ..roomy_config()
    })?;
    let dir = tempfile::tempdir()?;
    let file = sparse_file(dir.path(), "huge.bin", BIG)?;
    let watcher = Person::new("Watcher")?;
    let (watch, _) = watcher.join(host.local_addr())?;
    let cli = Cli {
        config_dir: dir.path().join("config"),
        host: host.local_addr(),
    };
    let mut sender = cli
        .command(&["send", "--user", "Kim", &file.to_string_lossy()])
        .spawn()?;
    wait_for_stats(&host, "the upload to be under way", |stats| {
        stats.uploads_in_progress == 1 && stats.bytes_received >= 8 << 20
    })?;
    freeze(&sender)?;
    let frozen = host.stats();
    assert!(frozen.bytes_received < BIG, "the upload finished first");
    assert_eq!(host.memory_in_use(), BIG, "the upload's room is reserved");
    sender.kill()?;
    sender.wait()?;

    // The kernel closes the dead process's sockets; the host notices at once (not after its
    // 30 s stall timeout) and keeps what arrived for a rerun to resume, still counted against
    // the cap; once the resume window is over, it frees the memory.
    let started = Instant::now();
    wait_for_stats(&host, "the upload to be dropped", |stats| {
        stats.uploads_in_progress == 0 && stats.connections == 1
    })?;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(host.parked_uploads(), 1);
    assert!(wait_until(Duration::from_secs(10), || host.memory_in_use() == 0));
    assert_eq!(host.parked_uploads(), 0);
    assert!(host.files().is_empty());
    assert_eq!(host.session_count(), 1, "only the watcher is left");
    // Nobody was told about a file that never arrived.
    while let Ok(event) = watch.events().try_recv() {
        assert!(
            !matches!(event, lanshare::participant::SessionEvent::FileOffered(_)),
            "{event:?}"
        );
    }
    assert_eq!(
        seed_upload(host.local_addr(), "UPLOAD:1:Guest:after.txt:5\n", b"after")?,
        "READY\n"
    );
    Ok(())
}

#[test]
fn a_participant_killed_mid_download_leaves_the_host_unaffected() -> TestResult {
    let host = start(roomy_config())?;
    let addr = host.local_addr();
    let dir = tempfile::tempdir()?;
    let content_path = sparse_file(dir.path(), "huge.bin", BIG)?;
    let owner = Person::new("Owner")?;
    let (session, _) = owner.join(addr)?;
    let big = {
        let mut connection = lanshare::participant::TransferConnection::connect(addr)?;
        connection.authenticate(session.credentials())?;
        connection.upload(
            lanshare::protocol::UploadRequest {
                client_id: session.client_id(),
                username: owner.name.clone(),
                filename: "huge.bin".into(),
                size: BIG,
            },
            &mut std::fs::File::open(&content_path)?,
            &mut |_| {},
            &AtomicBool::new(false),
        )?
    };
    let small = share(&session, "small.txt", b"still here")?;
    let out = dir.path().join("out");
    std::fs::create_dir(&out)?;
    let cli = Cli {
        config_dir: dir.path().join("config"),
        host: addr,
    };
    let mut getter = cli
        .command(&[
            "get",
            &big.file_id.to_string(),
            "-o",
            &out.to_string_lossy(),
        ])
        .spawn()?;
    let sent_before = host.stats().bytes_sent;
    wait_for_stats(&host, "the download to be under way", |stats| {
        stats.downloads_in_progress == 1 && stats.bytes_sent >= sent_before + (8 << 20)
    })?;
    freeze(&getter)?;
    assert!(
        host.stats().bytes_sent < sent_before + BIG,
        "it finished first"
    );
    getter.kill()?;
    getter.wait()?;

    wait_for_stats(&host, "the download to end", |stats| {
        stats.downloads_in_progress == 0 && stats.connections == 1
    })?;
    // The host lists, serves and keeps everything as before.
    assert_eq!(host.files().len(), 2);
    assert_eq!(fetch(addr, small)?, b"still here");
    let again = fetch(addr, big.file_id)?;
    assert_eq!(again.len() as u64, BIG);
    assert_eq!(sha256_hex(&again), big.sha256.to_string());
    Ok(())
}

/// Names and SHA-256 of the files a host lists, by id.
fn listing(addr: std::net::SocketAddr) -> anyhow::Result<BTreeMap<u64, (String, String)>> {
    Ok(lanshare::participant::TransferConnection::connect(addr)?
        .list()?
        .into_iter()
        .map(|f| (f.id, (f.name, f.sha256.to_string())))
        .collect())
}

/// Every entry of a folder, by name.
fn entries(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    names.sort();
    Ok(names)
}

/// After a restart: the store holds exactly its listed files, each with data and metadata,
/// and no leftovers.
fn assert_store_is_clean(store: &Path, listed: &BTreeMap<u64, (String, String)>) -> TestResult {
    assert_eq!(entries(&store.join("incoming"))?, Vec::<String>::new());
    let mut expected: Vec<String> = listed
        .keys()
        .flat_map(|id| [format!("{id}.data"), format!("{id}.json")])
        .collect();
    expected.sort();
    // Right after a start the previews thread rewrites each file's metadata once (to note
    // that it has no preview: these files are random bytes), through a passing temporary file.
    let files = store.join("files");
    wait_until(Duration::from_secs(10), || {
        entries(&files).is_ok_and(|found| found == expected)
    });
    assert_eq!(entries(&files)?, expected);
    Ok(())
}

#[test]
fn a_host_killed_mid_upload_restarts_with_exactly_the_complete_files() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("store");
    let store_arg = store.to_string_lossy().into_owned();
    let config_dir = dir.path().join("host");
    let mut complete = BTreeMap::new();
    {
        let host = HostProcess::start(&config_dir, &["--storage", &store_arg])?;
        for index in 0..3u64 {
            let content = data(100_000 + index as usize, index);
            let line = format!("UPLOAD:1:Guest:kept{index}.bin:{}\n", content.len());
            let mut raw = Raw::connect(host.address)?;
            raw.send(line.as_bytes())?;
            assert_eq!(raw.line()?, "READY");
            raw.send(&content)?;
            let stored = raw.line()?;
            let id: u64 = stored.split(':').nth(1).unwrap_or_default().parse()?;
            complete.insert(id, (format!("kept{index}.bin"), sha256_hex(&content)));
        }
        // Half an upload is on disk when the host dies.
        let mut raw = Raw::connect(host.address)?;
        raw.send(b"UPLOAD:1:Guest:half.bin:2000000\n")?;
        assert_eq!(raw.line()?, "READY");
        raw.send(&data(1_000_000, 9))?;
        let incoming = store.join("incoming");
        assert!(wait_until(Duration::from_secs(10), || {
            std::fs::read_dir(&incoming)
                .into_iter()
                .flatten()
                .flatten()
                // The host writes in large blocks: some of what it got is on disk.
                .any(|entry| entry.metadata().is_ok_and(|m| m.len() > 0))
        }));
        let mut host = host;
        host.child.kill()?;
        host.child.wait()?;
        assert_eq!(
            entries(&incoming)?.len(),
            1,
            "the host left its temporary file"
        );
    }
    let host = HostProcess::start(&config_dir, &["--storage", &store_arg])?;
    let listed = listing(host.address)?;
    assert_eq!(listed, complete);
    for (id, (_, hash)) in &listed {
        assert_eq!(&sha256_hex(&fetch(host.address, *id)?), hash);
    }
    assert_store_is_clean(&store, &listed)
}

#[test]
fn a_host_killed_at_random_moments_never_loses_a_confirmed_file_or_lists_a_broken_one() -> TestResult
{
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("store");
    let store_arg = store.to_string_lossy().into_owned();
    let config_dir = dir.path().join("host");
    // Every upload's content, by name, and the files the host confirmed with STORED.
    let mut uploaded: BTreeMap<String, String> = BTreeMap::new();
    let mut confirmed: BTreeMap<u64, (String, String)> = BTreeMap::new();
    for round in 0..4u64 {
        let mut host = HostProcess::start(&config_dir, &["--storage", &store_arg])?;
        let addr = host.address;
        let running = Arc::new(AtomicBool::new(true));
        let uploader = {
            let running = Arc::clone(&running);
            std::thread::spawn(move || {
                let mut sent = Vec::new();
                let mut stored = Vec::new();
                for index in 0u64.. {
                    if !running.load(Ordering::Relaxed) {
                        break;
                    }
                    let name = format!("r{round}-{index}.bin");
                    let content = data(20_000 + (index as usize * 7_919) % 300_000, index);
                    sent.push((name.clone(), sha256_hex(&content)));
                    let line = format!("UPLOAD:1:Guest:{name}:{}\n", content.len());
                    let reply = (|| -> anyhow::Result<String> {
                        let mut raw = Raw::connect(addr)?;
                        raw.send(line.as_bytes())?;
                        anyhow::ensure!(raw.line()? == "READY");
                        raw.send(&content)?;
                        raw.line()
                    })();
                    match reply {
                        Ok(reply) if reply.starts_with("STORED:") => {
                            let id = reply.split(':').nth(1).unwrap_or_default().parse();
                            stored.push((id.unwrap_or(0), name, sha256_hex(&content)));
                        }
                        // The host died under this upload.
                        _ => break,
                    }
                }
                (sent, stored)
            })
        };
        // Let a few uploads through, then kill it wherever it is.
        std::thread::sleep(Duration::from_millis(150 + 97 * round));
        host.child.kill()?;
        host.child.wait()?;
        running.store(false, Ordering::Relaxed);
        let (sent, stored) = uploader
            .join()
            .map_err(|_| anyhow::anyhow!("uploader panicked"))?;
        assert!(
            !stored.is_empty(),
            "round {round}: nothing was stored before the kill"
        );
        uploaded.extend(sent);
        confirmed.extend(
            stored
                .into_iter()
                .map(|(id, name, hash)| (id, (name, hash))),
        );

        let host = HostProcess::start(&config_dir, &["--storage", &store_arg])?;
        let listed = listing(host.address)?;
        // Everything confirmed is there, intact; anything else listed is a complete upload
        // (committed just before the kill, its STORED never sent).
        for (id, file) in &confirmed {
            assert_eq!(listed.get(id), Some(file), "round {round}: lost file {id}");
        }
        for (id, (name, hash)) in &listed {
            assert_eq!(
                uploaded.get(name),
                Some(hash),
                "round {round}: bad file {id}"
            );
            confirmed.insert(*id, (name.clone(), hash.clone()));
        }
        assert_store_is_clean(&store, &listed)?;
    }
    Ok(())
}

/// Appends to `path` until its file system is full.
fn fill_up(path: &Path) -> TestResult {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let block = vec![0u8; 4096];
    while std::io::Write::write_all(&mut file, &block).is_ok() {}
    Ok(())
}

/// Runs `command` inside a mount namespace of its own where `mount_point` is a tmpfs of
/// `size`, if this machine lets us make one (root, or unprivileged user namespaces).
fn on_small_tmpfs(command: &Command, mount_point: &Path, size: &str) -> Option<Command> {
    let script = format!(
        "mount -t tmpfs -o size={size} lanshare-test '{}' && exec \"$0\" \"$@\"",
        mount_point.display()
    );
    for flags in [
        &["--mount"][..],
        &["--user", "--map-root-user", "--mount"][..],
    ] {
        let probe = Command::new("unshare")
            .args(flags)
            .args(["sh", "-c", &script, "true"])
            .output();
        if probe.is_ok_and(|output| output.status.success()) {
            let mut wrapped = Command::new("unshare");
            wrapped
                .args(flags)
                .args(["sh", "-c", &script])
                .arg(command.get_program())
                .args(command.get_args());
            for (key, value) in command.get_envs() {
                match value {
                    Some(value) => wrapped.env(key, value),
                    None => wrapped.env_remove(key),
                };
            }
            return Some(wrapped);
        }
    }
    None
}

#[test]
#[ignore = "needs root or user namespaces to mount a small tmpfs; .ci/run runs it with --include-ignored"]
fn a_full_disk_gets_the_uploader_a_clear_error_and_keeps_every_stored_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mount = dir.path().join("disk");
    std::fs::create_dir(&mount)?;
    let store = mount.join("store");
    let plain = HostProcess::command(
        &dir.path().join("host"),
        &["--storage", &store.to_string_lossy()],
    );
    let command = on_small_tmpfs(&plain, &mount, "4m").ok_or_else(|| {
        anyhow::anyhow!("cannot mount a tmpfs here (needs root or user namespaces)")
    })?;
    let host = HostProcess::spawn(command)?;
    let addr = host.address;
    // The host's view of the tmpfs, from outside its mount namespace.
    let disk = PathBuf::from(format!("/proc/{}/root", host.child.id())).join(
        mount
            .strip_prefix("/")
            .map_err(|_| anyhow::anyhow!("temporary folder is not absolute"))?,
    );
    let kept = [data(1_000_000, 1), data(1_000_000, 2)];
    for (index, content) in kept.iter().enumerate() {
        let line = format!("UPLOAD:1:Guest:kept{index}.bin:{}\n", content.len());
        assert_eq!(seed_upload(addr, &line, content)?, "READY\n");
    }
    assert!(wait_until(Duration::from_secs(5), || listing(addr)
        .is_ok_and(|files| files.len() == 2)));

    // An upload that fits when it starts …
    let mut raw = Raw::connect(addr)?;
    raw.send(b"UPLOAD:1:Guest:third.bin:1500000\n")?;
    assert_eq!(raw.line()?, "READY");
    raw.send(&data(500_000, 3))?;
    // … and then someone else fills the disk.
    let filler = disk.join("filler");
    fill_up(&filler)?;
    let _ = raw.send(&data(1_000_000, 4));
    assert_eq!(raw.line()?, "ERROR:Host disk is full");
    // Dropping that upload gave back its room: take it too. A new upload is now refused up
    // front, and the command line says why.
    assert!(wait_until(Duration::from_secs(5), || entries(
        &disk.join("store/incoming")
    )
    .is_ok_and(|names| names.is_empty())));
    fill_up(&filler)?;
    let reply = seed_upload(addr, "UPLOAD:1:Guest:late.bin:100000\n", b"")?;
    assert!(
        reply.starts_with("ERROR:Host disk is full: this file needs 97.7 KB, only "),
        "{reply}"
    );
    let error = cli_send_refused(addr, 100_000)?;
    assert!(
        error.contains("Host disk is full: this file needs 97.7 KB"),
        "{error}"
    );
    // Every stored file is intact, and nothing of the failed upload is left.
    let listed = listing(addr)?;
    assert_eq!(listed.len(), 2);
    for (id, (name, hash)) in &listed {
        let content = if name == "kept0.bin" {
            &kept[0]
        } else {
            &kept[1]
        };
        assert_eq!(hash, &sha256_hex(content), "{name}");
        assert!(fetch(addr, *id)? == *content);
    }
    assert_eq!(entries(&disk.join("store/incoming"))?, Vec::<String>::new());
    // Room again: the host takes uploads again.
    std::fs::remove_file(&filler)?;
    assert_eq!(
        seed_upload(addr, "UPLOAD:1:Guest:again.bin:5\n", b"again")?,
        "READY\n"
    );
    assert!(wait_until(Duration::from_secs(5), || listing(addr)
        .is_ok_and(|files| files.len() == 3)));
    Ok(())
}

#[test]
fn a_host_out_of_file_descriptors_refuses_with_a_reason_and_recovers() -> TestResult {
    // A connection takes two descriptors, so which step runs out first (accepting, or keeping
    // a handle to track it) depends on the limit's parity: try both.
    for limit in [40, 41] {
        out_of_descriptors_with_limit(limit)?;
    }
    Ok(())
}

fn out_of_descriptors_with_limit(limit: u32) -> TestResult {
    let dir = tempfile::tempdir()?;
    let plain = HostProcess::command(&dir.path().join("host"), &[]);
    // The host may open at most `limit` files: a few connections use them all up.
    let mut limited = Command::new("sh");
    limited
        .args(["-c", &format!("ulimit -n {limit} && exec \"$0\" \"$@\"")])
        .arg(plain.get_program())
        .args(plain.get_args())
        .env("LANSHARE_CONFIG_DIR", dir.path().join("host"));
    let mut host = HostProcess::spawn(limited)?;
    let addr = host.address;
    // Idle connections from eight machines, five each (well under the per-address cap).
    let mut held = Vec::new();
    let mut refused = 0;
    for machine in 2..10u8 {
        for _ in 0..5 {
            let mut raw = Raw::connect_from([127, 0, 0, machine], addr)?;
            raw.stream
                .set_read_timeout(Some(Duration::from_millis(150)))?;
            match raw.line() {
                Ok(line) => {
                    assert_eq!(
                        line,
                        "ERROR:Host is busy: out of connections, try again shortly"
                    );
                    refused += 1;
                }
                // Still open and waiting for a command: admitted.
                Err(_) => held.push(raw),
            }
        }
    }
    assert!(refused > 0, "the host never ran out ({} held)", held.len());
    assert!(!held.is_empty());
    // It accepted them with the descriptor it keeps spare for this, and said so (once).
    host.wait_for_log("warning: Out of file descriptors")?;
    // A normal client is told the same at once, rather than left hanging in the backlog.
    let started = Instant::now();
    let mut late = Raw::connect(addr)?;
    late.send(b"LIST\n")?;
    assert!(late.line()?.starts_with("ERROR:Host is busy"));
    assert!(started.elapsed() < Duration::from_secs(1));
    // When the idle connections go away, the host serves again, as if nothing happened.
    drop(held);
    assert!(wait_until(Duration::from_secs(10), || {
        seed_upload(addr, "UPLOAD:1:Guest:after.txt:5\n", b"after").is_ok_and(|r| r == "READY\n")
    }));
    assert!(wait_until(Duration::from_secs(5), || listing(addr)
        .is_ok_and(|files| files.len() == 1)));
    assert!(host.child.try_wait()?.is_none(), "the host died");
    Ok(())
}
