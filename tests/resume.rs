//! Resuming transfers: uploads and downloads through a proxy that keeps cutting the link
//! arrive bit-identical, with about one file's worth of bytes sent, not a multiple of it; the
//! host keeps a cut-off upload only for the participant who sent it, and only for a while.

mod common;

use std::path::Path;
use std::time::Duration;

use common::proxy::{CuttingProxy, Flow, Link};
use common::*;
use lanshare::host::{Host, HostConfig};
use lanshare::participant::save::Destination;
use lanshare::participant::worker::{TransferEvent, TransferUpdate, spawn_download, spawn_upload};
use lanshare::participant::{Credentials, Session, TransferConnection};
use lanshare::protocol::{ResumeKey, TransferCheck};

/// Size of the files cut again and again: several MiB, beyond the pipeline's parallel size.
const SIZE: usize = 6 << 20;
/// How many times each transfer is cut.
const CUTS: usize = 4;
/// Bytes a cut-up transfer may send beyond the file itself: its command lines, not data sent
/// twice.
const SLACK: u64 = 64 * 1024;

/// A small deterministic generator (xorshift), so every run cuts at the same places.
struct Seeded(u64);

impl Seeded {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// `CUTS` cut links, each after a random number of bytes (between 64 KiB and a fifth of the
/// file), then whole ones.
fn cutting_plan(seed: u64) -> Vec<Link> {
    let mut random = Seeded(seed);
    (0..CUTS)
        .map(|_| Link::CutAfter(64 * 1024 + random.below(SIZE as u64 / 5)))
        .collect()
}

/// Follows a transfer's events to its end; returns the final update and how many times it
/// reported resuming. `on_resuming` runs at each such report.
fn follow(
    events: &flume::Receiver<TransferEvent>,
    mut on_resuming: impl FnMut(),
) -> anyhow::Result<(TransferUpdate, usize)> {
    let mut resumings = 0;
    loop {
        let event = events.recv_timeout(Duration::from_secs(60))?;
        match event.update {
            TransferUpdate::Resuming { .. } => {
                resumings += 1;
                on_resuming();
            }
            update if update.is_final() => return Ok((update, resumings)),
            _ => {}
        }
    }
}

fn memory_and_disk_hosts(dir: &Path) -> anyhow::Result<Vec<Host>> {
    Ok(vec![
        start(config())?,
        start(disk_config(&dir.join("store")))?,
    ])
}

#[test]
fn uploads_cut_again_and_again_arrive_whole_with_about_one_file_of_bytes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let content = data(SIZE, 61);
    let path = dir.path().join("cut.bin");
    std::fs::write(&path, &content)?;
    for (seed, host) in memory_and_disk_hosts(dir.path())?.into_iter().enumerate() {
        let alice = Person::new("Alice")?;
        let (session, _) = alice.join(host.local_addr())?;
        let proxy = CuttingProxy::start(
            host.local_addr(),
            Flow::ToHost,
            cutting_plan(seed as u64 + 1),
            Link::Whole,
        )?;
        let (sender, events) = flume::unbounded();
        spawn_upload(
            proxy.address(),
            Some(session.credentials().clone()),
            path.clone(),
            "cut.bin".into(),
            sender,
        )?;
        let (last, resumings) = follow(&events, || {
            assert!(host.files().is_empty(), "a partial upload was listed");
        })?;
        let TransferUpdate::Uploaded(stored) = last else {
            anyhow::bail!("upload ended with {last:?}");
        };
        assert_eq!(proxy.cuts(), CUTS as u64);
        assert!(resumings >= CUTS, "{resumings} resumings");
        assert_eq!(host.files().len(), 1);
        assert_eq!(stored.sha256.to_string(), sha256_hex(&content));
        assert!(fetch(host.local_addr(), stored.file_id)? == content);
        assert_eq!(host.parked_uploads(), 0);
        let sent = proxy.to_host();
        eprintln!(
            "upload: {sent} bytes through the proxy for {SIZE}, {} connections, {resumings} resumings",
            proxy.connections()
        );
        assert!(
            sent <= SIZE as u64 + SLACK,
            "{sent} bytes sent for a file of {SIZE}"
        );
    }
    Ok(())
}

#[test]
fn downloads_cut_again_and_again_arrive_whole_with_about_one_file_of_bytes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let content = data(SIZE, 62);
    for (seed, host) in memory_and_disk_hosts(dir.path())?.into_iter().enumerate() {
        let alice = Person::new("Alice")?;
        let (session, _) = alice.join(host.local_addr())?;
        share(&session, "cut.bin", &content)?;
        let entry = TransferConnection::connect(host.local_addr())?
            .list()?
            .remove(0);
        let proxy = CuttingProxy::start(
            host.local_addr(),
            Flow::ToClient,
            cutting_plan(seed as u64 + 10),
            Link::Whole,
        )?;
        let saved_in = dir.path().join(format!("saved-{seed}"));
        std::fs::create_dir(&saved_in)?;
        let (sender, events) = flume::unbounded();
        spawn_download(
            proxy.address(),
            entry,
            Destination::Folder(saved_in.clone()),
            sender,
        )?;
        let (last, resumings) = follow(&events, || {})?;
        let TransferUpdate::Downloaded(saved) = last else {
            anyhow::bail!("download ended with {last:?}");
        };
        assert_eq!(proxy.cuts(), CUTS as u64);
        assert!(resumings >= CUTS, "{resumings} resumings");
        assert!(std::fs::read(&saved)? == content);
        assert!(!saved_in.join("cut.bin.part").exists());
        let received = proxy.to_client();
        eprintln!(
            "download: {received} bytes through the proxy for {SIZE}, {} connections, \
             {resumings} resumings",
            proxy.connections()
        );
        assert!(
            received <= SIZE as u64 + SLACK,
            "{received} bytes received for a file of {SIZE}"
        );
    }
    Ok(())
}

/// `AUTH` then `UPLOAD_RESUME` on a raw connection; returns the connection and the host's
/// reply line.
fn raw_resume(
    host: std::net::SocketAddr,
    credentials: &Credentials,
    client_id: u64,
    key: ResumeKey,
    size: usize,
) -> anyhow::Result<(Raw, String)> {
    let mut raw = Raw::connect(host)?;
    raw.send(
        format!(
            "AUTH:{}:{}\nUPLOAD_RESUME:{key}:{client_id}:{}:half.bin:{size}\n",
            credentials.client_id, credentials.ticket, credentials.username
        )
        .as_bytes(),
    )?;
    let reply = raw.line()?;
    Ok((raw, reply))
}

/// Alice sends the first half of a resumable upload and loses the connection; returns her
/// session.
fn park_half(host: &Host, key: ResumeKey, content: &[u8]) -> anyhow::Result<Session> {
    let (session, _) = Person::new("Alice")?.join(host.local_addr())?;
    let alice = session.credentials();
    let (mut raw, reply) = raw_resume(host.local_addr(), alice, alice.client_id, key, SIZE)?;
    assert_eq!(reply, "RESUME_FROM:0");
    raw.send(&content[..SIZE / 2])?;
    drop(raw);
    assert!(wait_until(Duration::from_secs(5), || host.parked_uploads() == 1));
    Ok(session)
}

#[test]
fn only_the_participant_who_sent_a_cut_upload_can_resume_it() -> TestResult {
    let host = start(config())?;
    let key = ResumeKey([7; 32]);
    let content = data(SIZE, 63);
    let session = park_half(&host, key, &content)?;
    assert!(host.files().is_empty());
    assert_eq!(
        host.memory_in_use(),
        SIZE as u64,
        "still counted against the cap"
    );

    // Bob, with the same key, name and size, starts from nothing; Alice's part stays.
    let (bob, _) = Person::new("Bob")?.join(host.local_addr())?;
    let bob = bob.credentials();
    let (_, reply) = raw_resume(host.local_addr(), bob, bob.client_id, key, SIZE)?;
    assert_eq!(reply, "RESUME_FROM:0");
    let alice_id = session.credentials().client_id;
    let (_, reply) = raw_resume(host.local_addr(), bob, alice_id, key, SIZE)?;
    assert_eq!(
        reply,
        format!(
            "ERROR:client_id {alice_id} is not yours: you joined as client {}",
            bob.client_id
        )
    );
    // Nor without AUTH.
    let mut guest = Raw::connect(host.local_addr())?;
    guest.send(format!("UPLOAD_RESUME:{key}:{alice_id}:Alice:half.bin:{SIZE}\n").as_bytes())?;
    assert!(guest.line()?.starts_with("ERROR:UPLOAD_RESUME needs AUTH"));
    assert!(wait_until(Duration::from_secs(5), || host.parked_uploads() == 1));

    // Alice continues from the half the host kept, and the file is whole.
    let alice = session.credentials();
    let (mut raw, reply) = raw_resume(host.local_addr(), alice, alice_id, key, SIZE)?;
    assert_eq!(reply, format!("RESUME_FROM:{}", SIZE / 2));
    raw.send(&content[SIZE / 2..])?;
    // Both digests are the whole file's: the kept half was hashed again for each.
    assert_eq!(
        raw.line()?,
        format!(
            "STORED:1:{}:{}",
            sha256_hex(&content),
            TransferCheck::of(&content)
        )
    );
    assert_eq!(host.files().len(), 1);
    assert_eq!(host.parked_uploads(), 0);
    Ok(())
}

#[test]
fn a_retry_whose_stored_reply_was_lost_is_told_the_file_is_there_not_listed_twice() -> TestResult {
    let host = start(config())?;
    let key = ResumeKey([5; 32]);
    let content = data(SIZE, 65);
    let (session, _) = Person::new("Alice")?.join(host.local_addr())?;
    let alice = session.credentials();
    // The whole file arrives, but the client is gone before it reads STORED.
    let (mut raw, reply) = raw_resume(host.local_addr(), alice, alice.client_id, key, SIZE)?;
    assert_eq!(reply, "RESUME_FROM:0");
    raw.send(&content)?;
    drop(raw);
    assert!(wait_until(Duration::from_secs(5), || host.files().len() == 1));
    let id = host.files()[0].id;

    // Its retry is told the file is all there, and which it is.
    let (mut raw, reply) = raw_resume(host.local_addr(), alice, alice.client_id, key, SIZE)?;
    assert_eq!(reply, format!("RESUME_FROM:{SIZE}"));
    assert_eq!(
        raw.line()?,
        format!(
            "STORED:{id}:{}:{}",
            sha256_hex(&content),
            TransferCheck::of(&content)
        )
    );
    assert_eq!(host.files().len(), 1, "listed once");

    // Through the library too: the same file under the same key is not sent again.
    let mut connection = TransferConnection::connect(host.local_addr())?;
    connection.authenticate(alice)?;
    let request = lanshare::protocol::UploadRequest {
        client_id: alice.client_id,
        username: "Alice".into(),
        filename: "half.bin".into(),
        size: SIZE as u64,
    };
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("half.bin");
    std::fs::write(&path, &content)?;
    let mut offsets = Vec::new();
    let stored = connection.resume_upload_file(
        key,
        request,
        &path,
        &mut |done| offsets.push(done),
        &std::sync::atomic::AtomicBool::new(false),
    )?;
    assert_eq!(
        offsets.first(),
        Some(&(SIZE as u64)),
        "nothing was sent again"
    );
    assert_eq!(stored.file_id, id);
    assert_eq!(host.files().len(), 1);

    // Once it is deleted, the same upload is a new one.
    session.delete(id, Duration::from_secs(5))?;
    let (_, reply) = raw_resume(host.local_addr(), alice, alice.client_id, key, SIZE)?;
    assert_eq!(reply, "RESUME_FROM:0");
    Ok(())
}

#[test]
fn a_cut_upload_not_resumed_in_time_is_freed() -> TestResult {
    let host = start(HostConfig {
        resume_window: Duration::from_millis(300),
        ..config()
    })?;
    let key = ResumeKey([9; 32]);
    let content = data(SIZE, 64);
    let session = park_half(&host, key, &content)?;
    assert!(wait_until(Duration::from_secs(5), || host.parked_uploads()
        == 0
        && host.memory_in_use() == 0));
    let alice = session.credentials();
    let (_, reply) = raw_resume(host.local_addr(), alice, alice.client_id, key, SIZE)?;
    assert_eq!(reply, "RESUME_FROM:0");
    Ok(())
}

#[test]
fn a_cut_plain_upload_is_discarded_and_seed_downloads_are_unchanged() -> TestResult {
    let host = start(config())?;
    let content = data(100_000, 65);
    let mut raw = Raw::connect(host.local_addr())?;
    raw.send(b"UPLOAD:1:Seed:plain.bin:100000\n")?;
    assert_eq!(raw.line()?, "READY");
    raw.send(&content[..50_000])?;
    drop(raw);
    assert!(wait_until(Duration::from_secs(5), || host.memory_in_use() == 0));
    assert_eq!(host.parked_uploads(), 0);
    assert!(host.files().is_empty());

    assert_eq!(
        seed_upload(
            host.local_addr(),
            "UPLOAD:1:Seed:plain.bin:100000\n",
            &content
        )?,
        "READY\n"
    );
    assert!(wait_until(Duration::from_secs(5), || host.files().len() == 1));
    let id = host.files()[0].id;
    // The seed's DOWNLOAD sends the whole file; an offset sends the rest; past the end is
    // refused.
    for (line, expected) in [
        (format!("DOWNLOAD:{id}\n"), &content[..]),
        (format!("DOWNLOAD:{id}:60000\n"), &content[60_000..]),
        (format!("DOWNLOAD:{id}:100000\n"), &content[100_000..]),
    ] {
        let mut raw = Raw::connect(host.local_addr())?;
        raw.send(line.as_bytes())?;
        assert_eq!(raw.line()?, "FILE:plain.bin:100000");
        raw.send(b"READY\n")?;
        assert!(raw.bytes(expected.len())? == expected);
    }
    let mut raw = Raw::connect(host.local_addr())?;
    raw.send(format!("DOWNLOAD:{id}:100001\n").as_bytes())?;
    assert_eq!(
        raw.line()?,
        "ERROR:Offset 100001 is beyond the end of 'plain.bin' (100000 bytes)"
    );
    Ok(())
}

#[test]
fn a_damaged_part_file_ends_in_a_correct_file_after_one_clean_restart() -> TestResult {
    let host = start(config())?;
    let (session, _) = Person::new("Alice")?.join(host.local_addr())?;
    let content = data(SIZE, 66);
    share(&session, "damaged.bin", &content)?;
    let entry = TransferConnection::connect(host.local_addr())?
        .list()?
        .remove(0);
    let dir = tempfile::tempdir()?;
    let mut kept = content[..SIZE / 3].to_vec();
    kept[1234] ^= 0x55;
    std::fs::write(dir.path().join("damaged.bin.part"), &kept)?;
    let (sender, events) = flume::unbounded();
    spawn_download(
        host.local_addr(),
        entry,
        Destination::Folder(dir.path().into()),
        sender,
    )?;
    let (last, _) = follow(&events, || {})?;
    let TransferUpdate::Downloaded(saved) = last else {
        anyhow::bail!("download ended with {last:?}");
    };
    assert_eq!(saved, dir.path().join("damaged.bin"));
    assert!(std::fs::read(&saved)? == content);
    assert!(!dir.path().join("damaged.bin.part").exists());
    // The rest after the damaged part, then the whole file once more.
    let sent = host.stats().bytes_sent;
    assert_eq!(sent, (SIZE - SIZE / 3 + SIZE) as u64);
    Ok(())
}

#[test]
fn a_rerun_of_the_command_line_continues_a_cut_upload_and_download() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let content = data(SIZE, 67);
    let path = dir.path().join("rerun.bin");
    std::fs::write(&path, &content)?;
    // The first run's session gets through; its upload is cut after a third, and the host
    // is unreachable after that, until the run is killed.
    let proxy = CuttingProxy::start(
        host.local_addr(),
        Flow::ToHost,
        vec![Link::Whole, Link::CutAfter(SIZE as u64 / 3)],
        Link::Dead,
    )?;
    let mut cli = Cli {
        config_dir: dir.path().join("config"),
        host: proxy.address(),
    };
    let mut first = cli
        .command(&["send", "--user", "Dana", &path.to_string_lossy()])
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let parked = wait_until(Duration::from_secs(20), || host.parked_uploads() == 1);
    first.kill()?;
    first.wait()?;
    assert!(parked, "the cut upload was not kept");
    let before = host.stats().bytes_received;

    cli.host = host.local_addr();
    let output = cli.run(&["send", "--user", "Dana", &path.to_string_lossy()])?;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("Resuming… rerun.bin from"),
        "{}",
        stderr(&output)
    );
    let rest = host.stats().bytes_received - before;
    assert!(rest < SIZE as u64 * 3 / 4, "{rest} bytes sent again");
    let id = host.files()[0].id;
    assert!(fetch(host.local_addr(), id)? == content);

    // A download killed part-way leaves its .part file; the next `get` continues it.
    let out = dir.path().join("out");
    std::fs::create_dir(&out)?;
    std::fs::write(out.join("rerun.bin.part"), &content[..SIZE / 2])?;
    let sent_before = host.stats().bytes_sent;
    let output = cli.run(&["get", &id.to_string(), "-o", &out.to_string_lossy()])?;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("Resuming… rerun.bin from"),
        "{}",
        stderr(&output)
    );
    assert!(std::fs::read(out.join("rerun.bin"))? == content);
    assert_eq!(
        host.stats().bytes_sent - sent_before,
        (SIZE - SIZE / 2) as u64
    );
    Ok(())
}

/// Sends half of a resumable `SIZE`-byte upload under `key` as `credentials`, then drops the
/// link.
fn cut_after_half(
    host: &Host,
    credentials: &Credentials,
    key: ResumeKey,
    content: &[u8],
) -> TestResult {
    let (mut raw, reply) = raw_resume(
        host.local_addr(),
        credentials,
        credentials.client_id,
        key,
        SIZE,
    )?;
    assert_eq!(reply, "RESUME_FROM:0");
    raw.send(&content[..SIZE / 2])?;
    drop(raw);
    Ok(())
}

#[test]
fn a_participant_keeps_at_most_four_cut_uploads_and_the_oldest_goes_first() -> TestResult {
    let host = start(config())?;
    let content = data(SIZE, 66);
    let (session, _) = Person::new("Alice")?.join(host.local_addr())?;
    let alice = session.credentials();
    for index in 1..=5u8 {
        // Its room is reserved once RESUME_FROM has come back; once it is kept, the kept
        // uploads (four at most) hold exactly their room.
        cut_after_half(&host, alice, ResumeKey([index; 32]), &content)?;
        let expected = usize::from(index).min(4);
        assert!(
            wait_until(Duration::from_secs(5), || host.parked_uploads() == expected
                && host.memory_in_use() == (expected * SIZE) as u64),
            "after {index} cuts: {} kept, {} bytes held",
            host.parked_uploads(),
            host.memory_in_use()
        );
    }
    // The first is gone; the last is still there to continue.
    let (_, first) = raw_resume(
        host.local_addr(),
        alice,
        alice.client_id,
        ResumeKey([1; 32]),
        SIZE,
    )?;
    assert_eq!(first, "RESUME_FROM:0");
    let (_, last) = raw_resume(
        host.local_addr(),
        alice,
        alice.client_id,
        ResumeKey([5; 32]),
        SIZE,
    )?;
    assert_eq!(last, format!("RESUME_FROM:{}", SIZE / 2));
    Ok(())
}

#[test]
fn a_new_upload_that_needs_the_room_of_cut_ones_gets_it() -> TestResult {
    // Room for one and a half files: a kept upload and a new one do not both fit.
    let host = start(HostConfig {
        storage: lanshare::storage::StorageConfig::Memory {
            limit: (SIZE + SIZE / 2) as u64,
        },
        ..config()
    })?;
    let content = data(SIZE, 67);
    let (alice, _) = Person::new("Alice")?.join(host.local_addr())?;
    cut_after_half(&host, alice.credentials(), ResumeKey([3; 32]), &content)?;
    assert!(wait_until(Duration::from_secs(5), || host.parked_uploads() == 1));

    let reply = seed_upload(
        host.local_addr(),
        &format!("UPLOAD:1:Guest:new.bin:{SIZE}\n"),
        &content,
    )?;
    assert_eq!(reply, "READY\n");
    assert!(wait_until(Duration::from_secs(5), || host.files().len() == 1));
    assert_eq!(host.parked_uploads(), 0, "the kept upload made way");
    assert_eq!(host.memory_in_use(), SIZE as u64);
    Ok(())
}

#[test]
fn a_running_get_whose_link_drops_says_resuming_once_and_finishes() -> TestResult {
    let host = start(config())?;
    let content = data(SIZE, 68);
    let (session, _) = Person::new("Alice")?.join(host.local_addr())?;
    let file_id = share(&session, "flaky.bin", &content)?;
    // `get` lists through a whole link; its download is cut after a third, then gets through.
    let proxy = CuttingProxy::start(
        host.local_addr(),
        Flow::ToClient,
        vec![Link::Whole, Link::CutAfter(SIZE as u64 / 3)],
        Link::Whole,
    )?;
    let dir = tempfile::tempdir()?;
    let cli = Cli {
        config_dir: dir.path().join("config"),
        host: proxy.address(),
    };
    let output = cli.run(&[
        "get",
        &file_id.to_string(),
        "-o",
        &dir.path().to_string_lossy(),
    ])?;
    assert!(output.status.success(), "{}", stderr(&output));
    let said = stderr(&output);
    assert_eq!(
        said.matches("Resuming… flaky.bin from").count(),
        1,
        "{said}"
    );
    assert!(std::fs::read(dir.path().join("flaky.bin"))? == content);
    assert_eq!(proxy.cuts(), 1);
    Ok(())
}
