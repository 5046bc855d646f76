//! Previews against real hosts: thumbnails of each picture format and the first lines of text,
//! none for hostile or damaged files (quickly, the host still serving), kept across a disk
//! store's restart and counted in its limit, hidden with a restricted file, and nothing new for
//! seed clients (PROTOCOL.md, *Previews*).

mod common;

use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use common::*;
use image::{DynamicImage, ImageEncoder, ImageFormat, RgbImage};
use lanshare::host::HostConfig;
use lanshare::participant::{Error, FetchedPreview, Session, SessionEvent, TransferConnection};
use lanshare::preview::picture_size;
use lanshare::protocol::{Audience, PreviewKind, ShareOptions, UploadRequest};
use lanshare::storage::StorageConfig;

/// How long a host may take to make the previews of a test's few small files.
const PREVIEWS_WAIT: Duration = Duration::from_secs(10);

/// A `width` × `height` picture with something on it.
fn picture(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8])
    }))
}

/// `picture` encoded as `format`.
fn encoded(picture: &DynamicImage, format: ImageFormat) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Cursor::new(Vec::new());
    picture.write_to(&mut bytes, format)?;
    Ok(bytes.into_inner())
}

/// A `width` × `height` JPEG whose EXIF says: turn it a quarter clockwise to show it.
fn sideways_jpeg(width: u32, height: u32) -> anyhow::Result<Vec<u8>> {
    // A TIFF structure with one entry: Orientation (0x0112), SHORT, 6.
    let mut exif = b"MM\0\x2a\0\0\0\x08\0\x01".to_vec();
    exif.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0]);
    let mut jpeg = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new(&mut jpeg);
    encoder.set_exif_metadata(exif)?;
    let pixels = picture(width, height).into_rgb8();
    encoder.write_image(&pixels, width, height, image::ExtendedColorType::Rgb8)?;
    Ok(jpeg)
}

/// CRC-32 as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A decompression bomb: a PNG of a few hundred bytes claiming 100,000 × 100,000 pixels, its
/// image data a deflate stream of zero rows.
fn bomb_png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut header = Vec::new();
    header.extend_from_slice(&100_000u32.to_be_bytes());
    header.extend_from_slice(&100_000u32.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &header);
    // zlib: fixed-Huffman blocks of zeros would be the real thing; the header alone must do.
    chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x60, 0x18, 0x05, 0xa3, 0x60, 0x14, 0x0c],
    );
    chunk(b"IEND", &[]);
    png
}

/// Uploads `bytes` as `name` from `session`'s participant with `options`; returns the id.
fn share_with(
    session: &Session,
    name: &str,
    bytes: &[u8],
    options: &ShareOptions,
) -> anyhow::Result<u64> {
    let mut connection = TransferConnection::connect(session.host())?;
    let credentials = session.credentials();
    connection.authenticate(credentials)?;
    connection.share_next_with(options)?;
    let stored = connection.upload(
        UploadRequest {
            client_id: credentials.client_id,
            username: credentials.username.clone(),
            filename: name.into(),
            size: bytes.len() as u64,
        },
        &mut &bytes[..],
        &mut |_| {},
        &AtomicBool::new(false),
    )?;
    Ok(stored.file_id)
}

/// Fetches the preview of `file_id`, proven as `session`'s participant (or as no one).
fn preview_of(
    host: SocketAddr,
    session: Option<&Session>,
    file_id: u64,
) -> Result<FetchedPreview, Error> {
    let mut connection = TransferConnection::connect(host)?;
    if let Some(session) = session {
        connection.authenticate(session.credentials())?;
    }
    connection.preview(file_id)
}

/// The width and height of a fetched thumbnail.
fn thumbnail_size(preview: &FetchedPreview) -> Option<(u32, u32)> {
    (preview.kind == PreviewKind::Png)
        .then(|| picture_size(&preview.bytes))
        .flatten()
}

#[test]
fn each_picture_format_gets_a_thumbnail_of_the_expected_size_and_text_its_first_lines() -> TestResult
{
    let host = start(config())?;
    let address = host.local_addr();
    let (alice, _) = Person::new("Alice")?.join(address)?;
    let wide = picture(1000, 500);
    let mut expected: Vec<(u64, &str, (u32, u32))> = Vec::new();
    for (name, format) in [
        ("wide.png", ImageFormat::Png),
        ("wide.jpg", ImageFormat::Jpeg),
        ("wide.gif", ImageFormat::Gif),
        ("wide.webp", ImageFormat::WebP),
        ("wide.bmp", ImageFormat::Bmp),
    ] {
        let id = share(&alice, name, &encoded(&wide, format)?)?;
        expected.push((id, name, (256, 128)));
    }
    let id = share(&alice, "sideways.jpg", &sideways_jpeg(1000, 500)?)?;
    expected.push((id, "sideways.jpg", (128, 256)));
    let id = share(
        &alice,
        "small.png",
        &encoded(&picture(100, 60), ImageFormat::Png)?,
    )?;
    expected.push((id, "small.png", (100, 60)));
    // Named as something else: the bytes say what it is.
    let id = share(&alice, "not-a-text.txt", &encoded(&wide, ImageFormat::Png)?)?;
    expected.push((id, "not-a-text.txt", (256, 128)));
    let text: String = (1..=100).map(|n| format!("line {n}\n")).collect();
    let notes = share(&alice, "notes.txt", text.as_bytes())?;

    assert!(wait_until(PREVIEWS_WAIT, || previews_made(&host)));
    for (id, name, size) in expected {
        let preview = preview_of(address, Some(&alice), id)?;
        assert_eq!(thumbnail_size(&preview), Some(size), "{name}");
    }
    let preview = preview_of(address, Some(&alice), notes)?;
    assert_eq!(preview.kind, PreviewKind::Text);
    let shown = String::from_utf8(preview.bytes)?;
    let first: Vec<String> = (1..=40).map(|n| format!("line {n}")).collect();
    assert_eq!(shown, first.join("\n"));
    // A guest (a seed-style client's connection) may fetch a preview of a file everyone sees.
    assert_eq!(preview_of(address, None, notes)?.kind, PreviewKind::Text);
    // The listing says which files have one, and of what kind and size.
    let listed = TransferConnection::connect(address)?.list()?;
    let notes_entry = listed.iter().find(|entry| entry.id == notes);
    let listed_preview = notes_entry.and_then(|entry| entry.details.preview);
    assert_eq!(
        listed_preview.map(|p| (p.kind, p.size)),
        Some((PreviewKind::Text, shown.len() as u64))
    );
    Ok(())
}

#[test]
fn a_session_hears_of_a_preview_when_it_is_made() -> TestResult {
    let host = start(config())?;
    let address = host.local_addr();
    let (alice, _) = Person::new("Alice")?.join(address)?;
    let (bob, _) = Person::new("Bob")?.join(address)?;
    let id = share(
        &alice,
        "photo.png",
        &encoded(&picture(600, 300), ImageFormat::Png)?,
    )?;
    let deadline = Instant::now() + PREVIEWS_WAIT;
    let heard = loop {
        match bob.events().recv_deadline(deadline)? {
            SessionEvent::PreviewReady { file_id, preview } if file_id == id => break preview,
            SessionEvent::Closed(reason) => anyhow::bail!("session closed: {reason}"),
            _ => {}
        }
    };
    assert_eq!(heard.kind, PreviewKind::Png);
    let fetched = preview_of(address, Some(&bob), id)?;
    assert_eq!(heard.size, fetched.bytes.len() as u64);
    // A session that joins later finds it in its snapshot.
    let (_, snapshot) = Person::new("Carol")?.join(address)?;
    let entry = snapshot.files.iter().find(|entry| entry.id == id);
    assert_eq!(entry.and_then(|entry| entry.details.preview), Some(heard));
    Ok(())
}

#[test]
fn bombs_damaged_files_and_noise_get_no_preview_quickly_and_the_host_keeps_serving() -> TestResult {
    let host = start(config())?;
    let address = host.local_addr();
    let (alice, _) = Person::new("Alice")?.join(address)?;
    let whole = encoded(&picture(800, 600), ImageFormat::Png)?;
    let jpeg = encoded(&picture(800, 600), ImageFormat::Jpeg)?;
    let hostile: Vec<(&str, Vec<u8>)> = vec![
        ("bomb.png", bomb_png()),
        ("truncated.png", whole[..whole.len() / 3].to_vec()),
        ("truncated.jpg", jpeg[..jpeg.len() / 2].to_vec()),
        ("noise.bin", data(200_000, 5)),
        (
            "noise.png",
            [b"\x89PNG\r\n\x1a\n".as_slice(), &data(5000, 6)].concat(),
        ),
    ];
    let started = Instant::now();
    let mut ids = Vec::new();
    for (name, bytes) in &hostile {
        ids.push((share(&alice, name, bytes)?, *name));
    }
    let stored: u64 = hostile.iter().map(|(_, bytes)| bytes.len() as u64).sum();
    assert!(wait_until(PREVIEWS_WAIT, || previews_made(&host)));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    for (id, name) in ids {
        let answer = preview_of(address, Some(&alice), id);
        assert!(
            matches!(answer, Err(Error::NoPreview(file)) if file == id),
            "{name}: {answer:?}"
        );
    }
    // Nothing was kept for them: the store holds the files' bytes only.
    assert_eq!(host.memory_in_use(), stored);
    // The host still serves: a good picture gets its preview, a file downloads.
    let good = share(&alice, "good.png", &whole)?;
    assert!(wait_until(PREVIEWS_WAIT, || previews_made(&host)));
    let preview = preview_of(address, Some(&alice), good)?;
    assert_eq!(thumbnail_size(&preview), Some((256, 192)));
    assert!(fetch(address, good)? == whole);
    Ok(())
}

#[test]
fn previews_survive_a_disk_store_restart_count_in_its_limit_and_go_with_their_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let person = Person::new("Alice")?;
    let config = || HostConfig {
        storage: StorageConfig::Disk {
            dir: dir.path().to_path_buf(),
            limit: Some(10_000_000),
        },
        ..config()
    };
    let png = encoded(&picture(1000, 500), ImageFormat::Png)?;
    let text = b"first\nsecond\n".to_vec();
    let files = dir.path().join("files");
    let (photo, notes, thumbnail) = {
        let host = start(config())?;
        let (alice, _) = person.join(host.local_addr())?;
        let photo = share(&alice, "photo.png", &png)?;
        let notes = share(&alice, "notes.txt", &text)?;
        assert!(wait_until(PREVIEWS_WAIT, || previews_made(&host)));
        let thumbnail = preview_of(host.local_addr(), Some(&alice), photo)?.bytes;
        let kept = (png.len() + text.len() + thumbnail.len() + text.len()) as u64;
        assert_eq!(host.disk_in_use(), kept, "both previews count in the limit");
        (photo, notes, thumbnail)
    };
    assert!(files.join(format!("{photo}.preview")).exists());
    let host = start(config())?;
    let kept = (png.len() + text.len() + thumbnail.len() + text.len()) as u64;
    assert_eq!(host.disk_in_use(), kept, "counted again after the restart");
    let (alice, _) = person.join(host.local_addr())?;
    assert!(preview_of(host.local_addr(), Some(&alice), photo)?.bytes == thumbnail);
    assert_eq!(
        preview_of(host.local_addr(), Some(&alice), notes)?.bytes,
        text
    );
    // Deleting the file deletes its preview, and frees its room.
    alice.delete(photo, Duration::from_secs(5))?;
    assert!(!files.join(format!("{photo}.preview")).exists());
    assert_eq!(host.disk_in_use(), (text.len() * 2) as u64);
    drop(alice);
    host.shutdown();

    // A store written before previews (no preview noted, none on disk) gets them at start.
    let meta_path = files.join(format!("{notes}.json"));
    let mut meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta_path)?)?;
    meta.as_object_mut().map(|meta| meta.remove("preview"));
    std::fs::write(&meta_path, serde_json::to_vec(&meta)?)?;
    std::fs::remove_file(files.join(format!("{notes}.preview")))?;
    let host = start(config())?;
    assert!(wait_until(PREVIEWS_WAIT, || previews_made(&host)));
    assert_eq!(preview_of(host.local_addr(), None, notes)?.bytes, text);
    assert!(files.join(format!("{notes}.preview")).exists());
    Ok(())
}

#[test]
fn a_restricted_files_preview_is_answered_as_a_missing_file_to_others() -> TestResult {
    let host = start(config())?;
    let address = host.local_addr();
    let (alice, _) = Person::new("Alice")?.join(address)?;
    let (bob, _) = Person::new("Bob")?.join(address)?;
    let (carol, _) = Person::new("Carol")?.join(address)?;
    let only_bob = ShareOptions {
        only: Some(Audience::parse_list("Bob")?),
        ..ShareOptions::default()
    };
    let secret = share_with(&alice, "plan.txt", b"the plan", &only_bob)?;
    assert!(wait_until(PREVIEWS_WAIT, || previews_made(&host)));
    assert_eq!(preview_of(address, Some(&bob), secret)?.bytes, b"the plan");
    assert_eq!(
        preview_of(address, Some(&alice), secret)?.bytes,
        b"the plan"
    );
    for asker in [Some(&carol), None] {
        let answer = preview_of(address, asker, secret);
        assert!(
            matches!(answer, Err(Error::NotFound(id)) if id == secret),
            "{answer:?}"
        );
    }
    // Byte for byte as for an id that does not exist.
    let answer_for = |id: u64| -> anyhow::Result<String> {
        let mut raw = Raw::connect(address)?;
        raw.send(format!("PREVIEW:{id}\n").as_bytes())?;
        raw.line()
    };
    assert_eq!(answer_for(secret)?, "ERROR:File not found");
    assert_eq!(answer_for(secret + 100)?, "ERROR:File not found");
    // Carol's session heard nothing of it.
    while let Ok(event) = carol.events().try_recv() {
        let about_secret = match &event {
            SessionEvent::FileOffered(file) => file.id == secret,
            SessionEvent::PreviewReady { file_id, .. } => *file_id == secret,
            _ => false,
        };
        assert!(!about_secret, "{event:?}");
    }
    Ok(())
}

#[test]
fn seed_clients_see_nothing_new_and_features_clients_see_file_preview() -> TestResult {
    let operator = lanshare::identity::Identity::generate()?;
    let host = start(HostConfig {
        operator: Some(operator.public_key()),
        ..config()
    })?;
    let address = host.local_addr();
    let mut watcher = raw_join(address, "Host", &operator)?;
    let mut seed = Raw::connect(address)?;
    seed.send(b"UPLOAD:1:Sam:notes.txt:11\n")?;
    assert_eq!(seed.line()?, "READY");
    seed.send(b"hello world")?;
    assert!(wait_until(PREVIEWS_WAIT, || host.files().len() == 1
        && previews_made(&host)));
    assert!(
        host.files()
            .iter()
            .all(|file| file.preview_ready().is_some())
    );
    // A session that did not ask for FEATURES: the offer and FILE_META, then nothing (a PING's
    // PONG comes next, not a FILE_PREVIEW).
    let offer = loop {
        let line = watcher.line()?;
        if !line.starts_with("PEER_") {
            break line;
        }
    };
    assert_eq!(offer, "FILE_OFFER:1:notes.txt:11:Sam:0");
    assert!(watcher.line()?.starts_with("FILE_META:1:"));
    watcher.send(b"PING\n")?;
    assert_eq!(watcher.line()?, "PONG");
    // LIST without FEATURES: the seed's pair; with `previews`, FILE_PREVIEW between them.
    let mut raw = Raw::connect(address)?;
    raw.send(b"LIST\n")?;
    assert!(raw.line()?.starts_with("FILE_OFFER:1:"));
    assert!(raw.line()?.starts_with("FILE_META:1:"));
    assert_eq!(raw.line()?, "END");
    raw.send(b"FEATURES:previews\nLIST\nPREVIEW:1\n")?;
    assert!(raw.line()?.starts_with("FILE_OFFER:1:"));
    assert_eq!(raw.line()?, "FILE_PREVIEW:1:text:11");
    assert!(raw.line()?.starts_with("FILE_META:1:"));
    assert_eq!(raw.line()?, "END");
    assert_eq!(raw.line()?, "PREVIEW_DATA:1:text:11");
    assert_eq!(raw.bytes(11)?, b"hello world");
    // The seed's download is byte for byte the seed's.
    let mut raw = Raw::connect(address)?;
    raw.send(b"DOWNLOAD:1\n")?;
    assert_eq!(raw.line()?, "FILE:notes.txt:11");
    raw.send(b"READY\n")?;
    assert_eq!(raw.bytes(11)?, b"hello world");
    Ok(())
}

#[test]
fn the_cli_saves_a_thumbnail_prints_text_and_says_when_there_is_none() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let cli = Cli {
        config_dir: dir.path().join("bob"),
        host: host.local_addr(),
    };
    let png = encoded(&picture(1000, 500), ImageFormat::Png)?;
    for (name, bytes) in [
        ("photo.png", png.as_slice()),
        ("notes.txt", b"one\ntwo\tcolumns\n".as_slice()),
        ("noise.bin", &data(3000, 2)),
    ] {
        std::fs::write(dir.path().join(name), bytes)?;
        let sent = cli.run_in(dir.path(), &["send", "--user", "Bob", name])?;
        assert!(sent.status.success(), "{}", stderr(&sent));
    }
    assert!(wait_until(PREVIEWS_WAIT, || previews_made(&host)));
    let ls = cli.run(&["ls", "--json", "--user", "Bob"])?;
    let json: Vec<serde_json::Value> = serde_json::from_str(&stdout(&ls))?;
    let previews: Vec<(String, serde_json::Value)> = json
        .iter()
        .map(|file| (file["name"].to_string(), file["preview"]["kind"].clone()))
        .collect();
    assert_eq!(
        previews,
        [
            ("\"photo.png\"".to_owned(), "png".into()),
            ("\"notes.txt\"".to_owned(), "text".into()),
            ("\"noise.bin\"".to_owned(), serde_json::Value::Null),
        ]
    );

    let thumb = dir.path().join("thumb.png");
    let thumb_arg = thumb.to_string_lossy().into_owned();
    let saved = cli.run(&["preview", "--user", "Bob", "1", "-o", &thumb_arg])?;
    assert!(saved.status.success(), "{}", stderr(&saved));
    assert!(stdout(&saved).contains("256×128 PNG"), "{}", stdout(&saved));
    assert_eq!(picture_size(&std::fs::read(&thumb)?), Some((256, 128)));
    let again = cli.run(&["preview", "--user", "Bob", "1", "-o", &thumb_arg])?;
    assert!(!again.status.success(), "an existing file is not replaced");
    let printed = cli.run(&["preview", "--user", "Bob", "2"])?;
    assert!(printed.status.success(), "{}", stderr(&printed));
    assert_eq!(stdout(&printed), "one\ntwo    columns\n");
    let picture_only = cli.run(&["preview", "--user", "Bob", "1"])?;
    assert!(stderr(&picture_only).contains("save it with -o FILE"));
    let none = cli.run(&["preview", "--user", "Bob", "3"])?;
    assert!(!none.status.success());
    assert!(
        stderr(&none).contains("#3 has no preview"),
        "{}",
        stderr(&none)
    );
    let missing = cli.run(&["preview", "--user", "Bob", "99"])?;
    assert!(
        stderr(&missing).contains("no file with id 99 is shared on the host"),
        "{}",
        stderr(&missing)
    );
    Ok(())
}

#[test]
fn watch_says_when_a_file_gets_its_preview() -> TestResult {
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let cli = Cli {
        config_dir: dir.path().join("eve"),
        host: host.local_addr(),
    };
    let mut watch = cli
        .command(&["watch", "--json", "--user", "Eve"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let lines = stdout_lines(&mut watch)?;
    assert!(wait_until(Duration::from_secs(10), || host.session_count() == 1));
    let png = encoded(&picture(1000, 500), ImageFormat::Png)?;
    std::fs::write(dir.path().join("photo.png"), &png)?;
    let sent = cli.run_in(dir.path(), &["send", "--user", "Bob", "photo.png"])?;
    assert!(sent.status.success(), "{}", stderr(&sent));
    // The preview is made after the upload: either the offer already carries it, or a
    // `preview` event follows the offer.
    let mut told = None;
    let deadline = Instant::now() + PREVIEWS_WAIT;
    while told.is_none() && Instant::now() < deadline {
        let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        let event: serde_json::Value = serde_json::from_str(&line)?;
        told = match event["event"].as_str() {
            Some("preview") => Some((event["id"].clone(), event["kind"].clone())),
            Some("offer") if !event["preview"].is_null() => {
                Some((event["id"].clone(), event["preview"]["kind"].clone()))
            }
            _ => None,
        };
    }
    assert_eq!(told, Some((1.into(), "png".into())));
    let _ = watch.kill();
    Ok(())
}
