//! The shared library against real hosts: files that expire (while the host runs, across a
//! disk store's restart, under a download, cut to the host's maximum), the category the host
//! judges from a file's bytes, tags, `ls --category --tag --sort`, and seed clients seeing
//! none of it.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use common::*;
use lanshare::host::HostConfig;
use lanshare::participant::{Error, FileEntry, Session, SessionEvent, Stored, TransferConnection};
use lanshare::protocol::{Category, Expiry, ShareOptions, Tags};

fn expiring_in(secs: u64) -> ShareOptions {
    ShareOptions {
        expiry: Expiry::After(secs),
        tags: Tags::default(),
        only: None,
        version_of: None,
    }
}

/// Waits for `session` to hear that `file_id` was deleted; how long it took.
fn deletion_heard(session: &Session, file_id: u64) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(10);
    loop {
        match session.events().recv_deadline(deadline)? {
            SessionEvent::FileDeleted(id) if id == file_id => return Ok(started.elapsed()),
            SessionEvent::Closed(reason) => anyhow::bail!("session closed: {reason}"),
            _ => {}
        }
    }
}

/// Seconds until `entry` expires, as listed.
fn seconds_left(entry: &FileEntry) -> anyhow::Result<i64> {
    let at = entry
        .details
        .expires_at
        .ok_or_else(|| anyhow::anyhow!("{} does not expire", entry.name))?;
    Ok((at - chrono::Utc::now()).num_seconds())
}

#[test]
fn a_file_expires_while_the_host_runs_everyone_hears_and_its_room_is_freed() -> TestResult {
    let host = start(config())?;
    let (alice, _) = Person::new("Alice")?.join(host.local_addr())?;
    let (watcher, _) = Person::new("Walt")?.join(host.local_addr())?;
    let content = data(100_000, 1);
    let stored = share_with(&alice, "soon.bin", &content, &expiring_in(2))?;
    let kept = share(&alice, "kept.bin", b"stays")?;
    let details = stored
        .details
        .ok_or_else(|| anyhow::anyhow!("no FILE_INFO"))?;
    let left = details
        .expires_at
        .map(|at| (at - chrono::Utc::now()).num_milliseconds())
        .unwrap_or_default();
    assert!((1_000..=2_000).contains(&left), "{left} ms left");
    assert!(host.memory_in_use() >= 100_000);
    let soon = listed(host.local_addr())?
        .into_iter()
        .find(|entry| entry.id == stored.file_id)
        .ok_or_else(|| anyhow::anyhow!("not listed"))?;
    assert!((0..=2).contains(&seconds_left(&soon)?));

    let waited = deletion_heard(&watcher, stored.file_id)?;
    assert!(waited < Duration::from_secs(4), "heard after {waited:?}");
    let names: Vec<String> = host.files().iter().map(|f| f.name.clone()).collect();
    assert_eq!(names, ["kept.bin"]);
    // What stays: the kept file's 5 bytes and its preview (the same 5 bytes, as text).
    assert!(wait_until(Duration::from_secs(5), || previews_made(&host)));
    assert_eq!(
        host.memory_in_use(),
        5 + 5,
        "the expired file's room is free"
    );
    assert!(matches!(
        fetch_error(host.local_addr(), stored.file_id),
        Some(Error::NotFound(_))
    ));
    assert_eq!(fetch(host.local_addr(), kept)?, b"stays");
    Ok(())
}

/// The error downloading `file_id` gives, if it fails.
fn fetch_error(host: SocketAddr, file_id: u64) -> Option<Error> {
    let mut connection = TransferConnection::connect(host).ok()?;
    connection
        .download(
            file_id,
            &mut Vec::new(),
            &mut |_| {},
            &AtomicBool::new(false),
        )
        .err()
}

/// A sink that stalls at its first write until `until` holds (or 10 s pass).
struct StallOnce<F: FnMut() -> bool> {
    bytes: Vec<u8>,
    until: F,
    stalled: bool,
}

impl<F: FnMut() -> bool> Write for StallOnce<F> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.stalled {
            self.stalled = true;
            wait_until(Duration::from_secs(10), &mut self.until);
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_download_under_way_when_its_file_expires_completes() -> TestResult {
    let host = start(config())?;
    let (alice, _) = Person::new("Alice")?.join(host.local_addr())?;
    // Larger than what loopback's socket buffers hold, so most of it moves after the expiry.
    let content = data(48 << 20, 2);
    let stored = share_with(&alice, "big.bin", &content, &expiring_in(2))?;
    let mut connection = TransferConnection::connect(host.local_addr())?;
    let mut sink = StallOnce {
        bytes: Vec::new(),
        until: || host.files().is_empty(),
        stalled: false,
    };
    let downloaded = connection.download(
        stored.file_id,
        &mut sink,
        &mut |_| {},
        &AtomicBool::new(false),
    )?;
    assert!(host.files().is_empty(), "it expired meanwhile");
    assert_eq!(downloaded.size, content.len() as u64);
    assert!(sink.bytes == content, "every byte, the right ones");
    // Once no download reads it, its room is free.
    assert!(wait_until(Duration::from_secs(5), || host.memory_in_use() == 0));
    Ok(())
}

#[test]
fn a_disk_store_deletes_at_start_what_expired_while_it_was_down_and_keeps_the_rest() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (short, long, forever) = {
        let host = start(disk_config(dir.path()))?;
        let (alice, _) = Person::new("Alice")?.join(host.local_addr())?;
        let short = share_with(&alice, "short.bin", b"short-lived", &expiring_in(1))?;
        let long = share_with(&alice, "long.bin", b"long-lived", &expiring_in(3600))?;
        let forever = share(&alice, "forever.bin", b"kept")?;
        drop(alice);
        host.shutdown();
        (short.file_id, long.file_id, forever)
    };
    std::thread::sleep(Duration::from_millis(1500));
    let host = start(disk_config(dir.path()))?;
    let ids: Vec<u64> = host.files().iter().map(|f| f.id).collect();
    assert_eq!(ids, [long, forever]);
    let files = dir.path().join("files");
    assert!(!files.join(format!("{short}.json")).exists());
    assert!(!files.join(format!("{short}.data")).exists());
    let listed = listed(host.local_addr())?;
    let long_entry = listed
        .iter()
        .find(|entry| entry.id == long)
        .ok_or_else(|| anyhow::anyhow!("long.bin not listed"))?;
    let left = seconds_left(long_entry)?;
    assert!((3590..=3600).contains(&left), "{left} s left");
    let forever_entry = listed
        .iter()
        .find(|entry| entry.id == forever)
        .ok_or_else(|| anyhow::anyhow!("forever.bin not listed"))?;
    assert_eq!(forever_entry.details.expires_at, None);
    assert_eq!(fetch(host.local_addr(), long)?, b"long-lived");
    Ok(())
}

#[test]
fn a_disk_store_expires_files_while_it_runs_too() -> TestResult {
    let dir = tempfile::tempdir()?;
    let host = start(disk_config(dir.path()))?;
    let (alice, _) = Person::new("Alice")?.join(host.local_addr())?;
    let stored = share_with(&alice, "brief.txt", b"brief", &expiring_in(1))?;
    deletion_heard(&alice, stored.file_id)?;
    assert!(
        !dir.path()
            .join("files")
            .join(format!("{}.data", stored.file_id))
            .exists()
    );
    Ok(())
}

#[test]
fn the_host_cuts_a_longer_expiry_to_its_maximum_and_applies_its_default() -> TestResult {
    let host = start(HostConfig {
        expire_after: Some(Duration::from_secs(600)),
        max_expiry: Some(Duration::from_secs(3600)),
        ..config()
    })?;
    let (alice, _) = Person::new("Alice")?.join(host.local_addr())?;
    let expires_in = |stored: &Stored| -> anyhow::Result<i64> {
        let at = stored
            .details
            .as_ref()
            .and_then(|details| details.expires_at)
            .ok_or_else(|| anyhow::anyhow!("no expiry"))?;
        Ok((at - chrono::Utc::now()).num_seconds())
    };
    let week = share_with(&alice, "week.bin", b"a", &expiring_in(7 * 86_400))?;
    assert!((3590..=3600).contains(&expires_in(&week)?));
    let never = ShareOptions {
        expiry: Expiry::Never,
        tags: Tags::default(),
        only: None,
        version_of: None,
    };
    let never = share_with(&alice, "never.bin", b"b", &never)?;
    assert!((3590..=3600).contains(&expires_in(&never)?));
    let default = share(&alice, "default.bin", b"c")?;
    let record = host
        .files()
        .into_iter()
        .find(|f| f.id == default)
        .ok_or_else(|| anyhow::anyhow!("not stored"))?;
    let lifetime = record
        .expires_at
        .map(|at| (at - record.uploaded_at).num_seconds());
    assert_eq!(lifetime, Some(600));
    // A seed client's upload gets the default too, and hears nothing of it.
    let reply = seed_upload(host.local_addr(), "UPLOAD:1:Sam:seed.txt:4\n", b"seed")?;
    assert_eq!(reply, "READY\n");
    assert!(wait_until(Duration::from_secs(5), || host.files().len() == 4));
    assert!(host.files().iter().all(|file| file.expires_at.is_some()));
    Ok(())
}

#[test]
fn the_cli_says_when_the_host_cut_an_expiry_and_lists_it() -> TestResult {
    let host = start(HostConfig {
        max_expiry: Some(Duration::from_secs(7 * 86_400)),
        ..config()
    })?;
    let dir = tempfile::tempdir()?;
    let cli = Cli::in_folder(dir.path(), "alice", host.local_addr());
    std::fs::write(dir.path().join("a.txt"), b"a")?;
    std::fs::write(dir.path().join("b.txt"), b"b")?;
    let sent = cli.run_in(
        dir.path(),
        &["send", "--user", "Alice", "--expire", "30d", "a.txt"],
    )?;
    assert!(sent.status.success(), "{}", stderr(&sent));
    assert_eq!(
        stdout(&sent),
        "Shared 'a.txt' (1 B) as #1, expires in 7 d (the host's maximum, sooner than asked)\n"
    );
    let sent = cli.run_in(
        dir.path(),
        &["send", "--user", "Alice", "--expire", "2h", "b.txt"],
    )?;
    assert_eq!(
        stdout(&sent),
        "Shared 'b.txt' (1 B) as #2, expires in 2 h\n"
    );
    let bad = cli.run_in(
        dir.path(),
        &["send", "--user", "Alice", "--expire", "2w", "b.txt"],
    )?;
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("is not a lifetime"),
        "{}",
        stderr(&bad)
    );

    let table = stdout(&cli.run(&["ls"])?);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].contains("CATEGORY") && lines[0].contains("EXPIRES"),
        "{table}"
    );
    assert!(
        lines[1].contains("in 7 d") && lines[1].ends_with("a.txt"),
        "{table}"
    );
    assert!(
        lines[2].contains("in 2 h") && lines[2].contains("documents"),
        "{table}"
    );
    let json: Vec<serde_json::Value> = serde_json::from_str(&stdout(&cli.run(&["ls", "--json"])?))?;
    let left = json[1]["expires_in_s"].as_i64().unwrap_or_default();
    assert!((7190..=7200).contains(&left), "{left}");
    assert!(json[1]["expires_at"].is_string());
    assert_eq!(json[1]["category"], "documents");
    Ok(())
}

/// A PNG's first bytes: signature and the start of its header chunk.
const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00";
/// The start of a PDF.
const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n";
/// An empty zip archive: its end-of-central-directory record alone.
const EMPTY_ZIP: &[u8] = b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

#[test]
fn the_host_judges_each_category_from_the_bytes_it_received() -> TestResult {
    let dir = tempfile::tempdir()?;
    let host = start(disk_config(dir.path()))?;
    let (alice, _) = Person::new("Alice")?.join(host.local_addr())?;
    let mut mp3 = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
    mp3.extend(data(1000, 3));
    let mut mp4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00".to_vec();
    mp4.extend(data(1000, 4));
    let samples: [(&str, &[u8], Category); 9] = [
        ("picture.dat", PNG, Category::Images),
        ("paper", PDF, Category::Documents),
        ("bundle.zip", EMPTY_ZIP, Category::Archives),
        ("song.bin", &mp3, Category::Audio),
        ("clip", &mp4, Category::Video),
        ("main.rs", b"fn main() {}\n", Category::Code),
        ("notes.md", b"# notes\n", Category::Documents),
        // Named as a picture, but no picture's bytes: the name is not believed.
        ("fake.png", b"just text, honestly", Category::Other),
        ("data.bin", &data(64, 5), Category::Other),
    ];
    for (name, bytes, _) in &samples {
        share(&alice, name, bytes)?;
    }
    let expected: Vec<(String, Category)> = samples
        .iter()
        .map(|(name, _, category)| ((*name).to_owned(), *category))
        .collect();
    let on_host = |files: &[std::sync::Arc<lanshare::storage::FileRecord>]| {
        files
            .iter()
            .map(|f| (f.name.clone(), f.category))
            .collect::<Vec<_>>()
    };
    assert_eq!(on_host(&host.files()), expected);
    let listed: Vec<(String, Option<Category>)> = listed(host.local_addr())?
        .into_iter()
        .map(|entry| (entry.name, entry.details.category))
        .collect();
    let expected_listed: Vec<(String, Option<Category>)> = expected
        .iter()
        .map(|(name, category)| (name.clone(), Some(*category)))
        .collect();
    assert_eq!(listed, expected_listed);
    // Kept in the metadata: the same after a restart.
    host.shutdown();
    let host = start(disk_config(dir.path()))?;
    assert_eq!(on_host(&host.files()), expected);
    Ok(())
}

#[test]
fn tags_are_checked_kept_and_sent_to_sessions_that_ask() -> TestResult {
    let dir = tempfile::tempdir()?;
    let host = start(disk_config(dir.path()))?;
    let (alice, _) = Person::new("Alice")?.join(host.local_addr())?;
    let (watcher, _) = Person::new("Walt")?.join(host.local_addr())?;
    let options = ShareOptions {
        expiry: Expiry::HostDefault,
        tags: Tags::parse("Slides, week3,slides")?,
        only: None,
        version_of: None,
    };
    let stored = share_with(&alice, "deck.pdf", PDF, &options)?;
    let offered = loop {
        match watcher.events().recv_timeout(Duration::from_secs(5))? {
            SessionEvent::FileOffered(entry) => break entry,
            _ => continue,
        }
    };
    assert_eq!(offered.id, stored.file_id);
    assert_eq!(offered.details.tags.as_slice(), ["slides", "week3"]);
    assert_eq!(offered.details.category, Some(Category::Documents));
    assert_eq!(offered.details.expires_at, None);

    // The host checks tags itself: a raw client cannot slip in bad ones.
    for bad in [
        "has space",
        "Upper",
        "x,x,x,a,b,c,d,e,f,g",
        &"long".repeat(9),
    ] {
        let mut raw = Raw::connect(host.local_addr())?;
        raw.send(format!("UPLOAD_OPTIONS::{bad}\nUPLOAD:0:Guest:x.txt:1\nx").as_bytes())?;
        let reply = raw.line()?;
        assert!(reply.starts_with("ERROR:Invalid tags: "), "{bad}: {reply}");
    }
    assert_eq!(host.files().len(), 1);

    host.shutdown();
    let host = start(disk_config(dir.path()))?;
    let listed = listed(host.local_addr())?;
    assert_eq!(listed[0].details.tags.as_slice(), ["slides", "week3"]);
    Ok(())
}

#[test]
fn ls_filters_by_category_and_tag_and_sorts() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let cli = Cli::in_folder(dir.path(), "bob", host.local_addr());
    let files: [(&str, Vec<u8>, &str); 4] = [
        ("b-photo.png", PNG.to_vec(), "week3"),
        ("a-slides.pdf", PDF.to_vec(), "slides,week3"),
        ("c-big.png", [PNG, &data(5000, 6)].concat(), "week4"),
        ("d-notes.txt", b"notes".to_vec(), "week3"),
    ];
    for (name, bytes, tags) in &files {
        std::fs::write(dir.path().join(name), bytes)?;
        let sent = cli.run_in(dir.path(), &["send", "--user", "Bob", "--tag", tags, name])?;
        assert!(sent.status.success(), "{}", stderr(&sent));
    }
    let names = |args: &[&str]| -> anyhow::Result<Vec<String>> {
        let mut all = vec!["ls", "--json"];
        all.extend_from_slice(args);
        let output = cli.run(&all)?;
        anyhow::ensure!(output.status.success(), "{}", stderr(&output));
        let json: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output))?;
        Ok(json
            .iter()
            .map(|f| f["name"].as_str().unwrap_or_default().to_owned())
            .collect())
    };
    assert_eq!(
        names(&["--category", "images"])?,
        ["b-photo.png", "c-big.png"]
    );
    assert_eq!(
        names(&["--category", "images", "--tag", "week3"])?,
        ["b-photo.png"]
    );
    assert_eq!(
        names(&["--tag", "WEEK3", "--sort", "name"])?,
        ["a-slides.pdf", "b-photo.png", "d-notes.txt"]
    );
    assert_eq!(names(&["--sort", "size"])?[0], "c-big.png");
    assert_eq!(names(&["--sort", "time"])?[0], "d-notes.txt");
    assert_eq!(names(&["--sort", "uploader"])?.len(), 4);
    let json: Vec<serde_json::Value> =
        serde_json::from_str(&stdout(&cli.run(&["ls", "--json", "--tag", "slides"])?))?;
    assert_eq!(json[0]["tags"], serde_json::json!(["slides", "week3"]));
    assert_eq!(json[0]["category"], "documents");
    assert_eq!(json[0]["expires_at"], serde_json::Value::Null);

    let none = cli.run(&["ls", "--tag", "nothing"])?;
    assert_eq!(
        stdout(&none),
        "No shared file is of that category and tag.\n"
    );
    let bad = cli.run(&["ls", "--category", "pictures"])?;
    assert!(stderr(&bad).contains("not a category"), "{}", stderr(&bad));
    std::fs::write(dir.path().join("e.txt"), b"e")?;
    let bad = cli.run_in(
        dir.path(),
        &["send", "--user", "Bob", "--tag", "no spaces!", "e.txt"],
    )?;
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("may hold only letters"),
        "{}",
        stderr(&bad)
    );
    Ok(())
}

#[test]
fn seed_style_clients_see_no_library_lines() -> TestResult {
    let (host, operator) = start_with_operator(HostConfig {
        expire_after: Some(Duration::from_secs(3600)),
        ..config()
    })?;
    let mut watcher = raw_join(host.local_addr(), "Host", &operator)?;
    let (alice, _) = Person::new("Alice")?.join(host.local_addr())?;
    let options = ShareOptions {
        expiry: Expiry::After(60),
        tags: Tags::parse("week3")?,
        only: None,
        version_of: None,
    };
    share_with(&alice, "tagged.png", PNG, &options)?;
    // A session that did not ask for FEATURES: the seed's offer and FILE_META, nothing else.
    let offer = loop {
        let line = watcher.line()?;
        if !line.starts_with("PEER_") {
            break line;
        }
    };
    assert!(offer.starts_with("FILE_OFFER:1:tagged.png:"), "{offer}");
    assert!(watcher.line()?.starts_with("FILE_META:1:"));
    // LIST without FEATURES: the same pairs; with it, FILE_INFO between them.
    let mut raw = Raw::connect(host.local_addr())?;
    raw.send(b"LIST\n")?;
    assert!(raw.line()?.starts_with("FILE_OFFER:1:"));
    assert!(raw.line()?.starts_with("FILE_META:1:"));
    assert_eq!(raw.line()?, "END");
    raw.send(b"FEATURES:file-info,later-things\nLIST\n")?;
    assert!(raw.line()?.starts_with("FILE_OFFER:1:"));
    let info = raw.line()?;
    let fields: Vec<&str> = info.split(':').collect();
    assert_eq!(fields[..3], ["FILE_INFO", "1", "images"], "{info}");
    let left: u64 = fields[3].parse()?;
    assert!((55_000..=60_000).contains(&left), "{info}");
    assert_eq!(fields[4], "week3");
    assert!(raw.line()?.starts_with("FILE_META:1:"));
    assert_eq!(raw.line()?, "END");
    // The seed's upload and download are byte for byte the seed's.
    let mut raw = Raw::connect(host.local_addr())?;
    raw.send(b"UPLOAD:1:Sam:seed.txt:4\n")?;
    assert_eq!(raw.line()?, "READY");
    raw.send(b"seed")?;
    assert!(raw.line()?.starts_with("STORED:2:"));
    let mut raw = Raw::connect(host.local_addr())?;
    raw.send(b"DOWNLOAD:2\n")?;
    assert_eq!(raw.line()?, "FILE:seed.txt:4");
    raw.send(b"READY\n")?;
    assert_eq!(raw.bytes(4)?, b"seed");
    Ok(())
}

/// A host from before the library: it knows no `FEATURES` (and says nothing of it in the
/// handshake) and closes on any line it does not know. Returns its address, and what it was
/// sent, line by line.
fn older_host() -> anyhow::Result<(SocketAddr, flume::Receiver<String>)> {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let (heard, lines) = flume::unbounded();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let heard = heard.clone();
            std::thread::spawn(move || -> anyhow::Result<()> {
                let tls = accept_tls(stream)?;
                let mut reader = BufReader::new(&tls);
                let mut line = String::new();
                while reader.read_line(&mut line)? > 0 {
                    let _ = heard.send(line.trim_end().to_owned());
                    if line.trim_end() != "LIST" {
                        (&tls).write_all(b"ERROR:Unknown command\n")?;
                        return Ok(());
                    }
                    let listing = format!(
                        "FILE_OFFER:1:old.txt:3:Host:1\nFILE_META:1:1764000000000:{}\nEND\n",
                        sha256_hex(b"old")
                    );
                    (&tls).write_all(listing.as_bytes())?;
                    line.clear();
                }
                Ok(())
            });
        }
    });
    Ok((address, lines))
}

#[test]
fn an_older_host_is_asked_nothing_it_does_not_know() -> TestResult {
    let (host, heard) = older_host()?;
    let mut connection = TransferConnection::connect(host)?;
    let files = connection.list()?;
    assert_eq!(files.len(), 1);
    assert_eq!(
        files[0].details,
        lanshare::participant::FileDetails::default()
    );
    assert_eq!(heard.recv_timeout(Duration::from_secs(5))?, "LIST");
    // Asking it for an expiry is refused here, before anything is sent.
    let refused = connection.share_next_with(&expiring_in(60));
    assert!(
        matches!(&refused, Err(Error::Refused(reason)) if reason.contains("older lanshare")),
        "{refused:?}"
    );
    assert!(connection.list().is_ok(), "the connection is still usable");
    assert_eq!(heard.recv_timeout(Duration::from_secs(5))?, "LIST");
    assert!(heard.try_recv().is_err(), "no FEATURES, no UPLOAD_OPTIONS");
    Ok(())
}
