//! Files sent with the kernel's file-to-socket copy and hashed beside it, and queues of
//! transfers over one connection: every byte arrives, in both stores, and a cancelled item
//! does not take the rest of its queue with it.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use common::*;
use lanshare::participant::save::Destination;
use lanshare::participant::worker::{
    Route, TransferEvent, TransferLanes, TransferUpdate, UploadItem, spawn_downloads, spawn_uploads,
};
use lanshare::participant::{FileEntry, TransferConnection};
use lanshare::pipeline::PARALLEL_FROM;
use lanshare::protocol::UploadRequest;

/// Sizes around the point where hashing moves to a second thread.
fn sizes() -> Vec<usize> {
    let parallel = usize::try_from(PARALLEL_FROM).unwrap_or(usize::MAX);
    vec![0, 1, 10_240, parallel - 1, parallel, parallel * 3 + 12_345]
}

fn write_files(dir: &Path) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    sizes()
        .into_iter()
        .enumerate()
        .map(|(index, size)| {
            let path = dir.join(format!("file-{index}.bin"));
            let bytes = data(size, index as u64 + 1);
            std::fs::write(&path, &bytes)?;
            Ok((path, bytes))
        })
        .collect()
}

/// Waits for the final update of each handle's transfer, in order.
fn finals(
    events: &flume::Receiver<TransferEvent>,
    count: usize,
) -> anyhow::Result<Vec<TransferUpdate>> {
    let mut updates = Vec::new();
    while updates.len() < count {
        let event = events.recv_timeout(Duration::from_secs(30))?;
        if event.update.is_final() {
            updates.push(event.update);
        }
    }
    Ok(updates)
}

fn round_trip(config: lanshare::host::HostConfig) -> TestResult {
    let dir = tempfile::tempdir()?;
    let files = write_files(dir.path())?;
    let host = start(config)?;
    let person = Person::new("Queue")?;
    let (session, _) = person.join(host.local_addr())?;

    let items = files
        .iter()
        .map(|(path, _)| UploadItem::from_path(path.clone()))
        .collect();
    let (sender, events) = flume::unbounded();
    let handles = spawn_uploads(
        host.local_addr(),
        None,
        Some(session.credentials().clone()),
        items,
        sender,
    )?;
    assert_eq!(handles.len(), files.len());
    let uploaded = finals(&events, files.len())?;
    let mut entries: Vec<(FileEntry, Destination)> = Vec::new();
    let listed = TransferConnection::connect(host.local_addr())?.list()?;
    let out = dir.path().join("out");
    std::fs::create_dir(&out)?;
    for ((path, bytes), update) in files.iter().zip(&uploaded) {
        let TransferUpdate::Uploaded(stored) = update else {
            panic!("{} was not uploaded: {update:?}", path.display());
        };
        assert_eq!(stored.sha256.to_string(), sha256_hex(bytes));
        let entry = listed
            .iter()
            .find(|entry| entry.id == stored.file_id)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("#{} is not listed", stored.file_id))?;
        assert_eq!(
            entry.uploader, "Queue",
            "uploaded as the joined participant"
        );
        entries.push((entry, Destination::Folder(out.clone())));
    }

    let (sender, events) = flume::unbounded();
    let handles = spawn_downloads(host.local_addr(), None, entries, sender)?;
    assert_eq!(handles.len(), files.len());
    for ((path, bytes), update) in files.iter().zip(finals(&events, files.len())?) {
        let TransferUpdate::Downloaded(saved) = update else {
            panic!("{} was not downloaded: {update:?}", path.display());
        };
        assert_eq!(&std::fs::read(&saved)?, bytes, "{}", saved.display());
    }
    Ok(())
}

#[test]
fn a_queue_of_files_goes_up_and_down_intact_memory_store() -> TestResult {
    round_trip(config())
}

#[test]
fn a_queue_of_files_goes_up_and_down_intact_disk_store() -> TestResult {
    let store = tempfile::tempdir()?;
    round_trip(disk_config(store.path()))
}

#[test]
fn a_cancelled_item_leaves_the_rest_of_its_queue_running() -> TestResult {
    let dir = tempfile::tempdir()?;
    let files = write_files(dir.path())?;
    let host = start(config())?;
    let items: Vec<UploadItem> = files
        .iter()
        .map(|(path, _)| UploadItem {
            path: path.clone(),
            name: "same.bin".into(),
            options: Default::default(),
            new_file: false,
        })
        .collect();
    let (sender, events) = flume::unbounded();
    let handles = spawn_uploads(host.local_addr(), None, None, items, sender)?;
    // Cancelled before its turn: it ends as cancelled, and the queue goes on.
    handles[1].cancel();
    let updates = finals(&events, files.len())?;
    assert_eq!(updates[1], TransferUpdate::Cancelled);
    for (index, update) in updates.iter().enumerate() {
        if index != 1 {
            assert!(
                matches!(update, TransferUpdate::Uploaded(_)),
                "item {index}: {update:?}"
            );
        }
    }
    assert_eq!(host.files().len(), files.len() - 1);
    Ok(())
}

#[test]
fn a_folder_or_missing_file_in_a_queue_starts_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let host = start(config())?;
    for path in [dir.path().to_path_buf(), dir.path().join("missing")] {
        let (sender, _events) = flume::unbounded();
        let items = vec![UploadItem {
            path,
            name: "x".into(),
            options: Default::default(),
            new_file: false,
        }];
        assert!(spawn_uploads(host.local_addr(), None, None, items, sender).is_err());
    }
    assert!(host.files().is_empty());
    Ok(())
}

#[test]
fn upload_file_refuses_a_file_that_shrank() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("shrinks.bin");
    let size = PARALLEL_FROM * 2;
    std::fs::write(&path, data(usize::try_from(size)? / 2, 3))?;
    let host = start(config())?;
    let mut connection = TransferConnection::connect(host.local_addr())?;
    let result = connection.upload_file(
        UploadRequest {
            client_id: 0,
            username: "guest".into(),
            filename: "shrinks.bin".into(),
            size,
        },
        &path,
        &mut |_| {},
        &AtomicBool::new(false),
    );
    assert!(result.is_err(), "announced more than the file holds");
    assert!(host.files().is_empty(), "nothing half-sent is listed");
    Ok(())
}

/// Many files through a scheduler of a few lanes: at most that many connections, none turned
/// away by a host that admits fewer connections per address than there are files, every file
/// whole and each reporting on its own; then back down the same lanes; a cancelled one ends as
/// cancelled without holding up the rest.
#[test]
fn lanes_carry_many_files_over_a_few_connections_both_ways() -> TestResult {
    let host = start(lanshare::host::HostConfig {
        max_connections_per_address: 6,
        ..config()
    })?;
    let dir = tempfile::tempdir()?;
    let person = Person::new("Lanes")?;
    let (session, _) = person.join(host.local_addr())?;
    let mut files = Vec::new();
    for index in 0..120 {
        let path = dir.path().join(format!("f{index}.bin"));
        let bytes = data(index * 101, index as u64 + 7);
        std::fs::write(&path, &bytes)?;
        files.push((path, bytes));
    }
    let lanes = TransferLanes::new(4);
    let route = Route {
        host: host.local_addr(),
        passcode: None,
        credentials: Some(session.credentials().clone()),
        identity: None,
        compression: true,
    };
    let (sender, events) = flume::unbounded();
    let items = files
        .iter()
        .map(|(path, _)| UploadItem::from_path(path.clone()))
        .collect();
    let handles = lanes.upload(route.clone(), items, &sender)?;
    handles[7].cancel();
    let mut most_connections = 0;
    let mut ended = std::collections::HashMap::new();
    while ended.len() < files.len() {
        most_connections = most_connections.max(host.stats().connections);
        let event = events.recv_timeout(Duration::from_secs(30))?;
        if event.update.is_final() {
            ended.insert(event.id, event.update);
        }
    }
    assert!(
        most_connections <= 5,
        "{most_connections} connections at once"
    );
    assert_eq!(host.stats().refused, 0);
    assert_eq!(
        ended.get(&handles[7].id()),
        Some(&TransferUpdate::Cancelled)
    );
    let listed = TransferConnection::connect(host.local_addr())?.list()?;
    assert_eq!(listed.len(), files.len() - 1);
    let out = dir.path().join("out");
    std::fs::create_dir(&out)?;
    let mut wanted = Vec::new();
    for (index, ((path, bytes), handle)) in files.iter().zip(&handles).enumerate() {
        if index == 7 {
            continue;
        }
        let Some(TransferUpdate::Uploaded(stored)) = ended.get(&handle.id()) else {
            panic!(
                "{} was not uploaded: {:?}",
                path.display(),
                ended.get(&handle.id())
            );
        };
        assert_eq!(stored.sha256.to_string(), sha256_hex(bytes));
        let entry = listed
            .iter()
            .find(|entry| entry.id == stored.file_id)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("#{} is not listed", stored.file_id))?;
        wanted.push((entry, Destination::Folder(out.clone())));
    }
    let by_name: std::collections::HashMap<String, &Vec<u8>> = files
        .iter()
        .filter_map(|(path, bytes)| {
            let name = path.file_name()?.to_string_lossy().into_owned();
            Some((name, bytes))
        })
        .collect();
    let downloads = lanes.download(route, wanted, &sender);
    let updates = finals(&events, downloads.len())?;
    assert_eq!(updates.len(), files.len() - 1);
    for update in &updates {
        let TransferUpdate::Downloaded(saved) = update else {
            panic!("not downloaded: {update:?}");
        };
        let name = saved
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let expected = by_name
            .get(&name)
            .ok_or_else(|| anyhow::anyhow!("unexpected {name}"))?;
        assert_eq!(&&std::fs::read(saved)?, expected, "{}", saved.display());
    }
    assert_eq!(host.stats().refused, 0);
    Ok(())
}
