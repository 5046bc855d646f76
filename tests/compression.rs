//! Compressed transfers against real hosts, counted on the wire by a proxy on loopback:
//! compressible files cross in fewer bytes and arrive byte-exact, random data goes raw, a cut
//! compressed transfer resumes, seed clients and `--no-compression` see nothing new, and a
//! peer that lies in its blocks is refused with a reason.
//!
//! Plain loopback takes raw blocks faster than zstd makes them, so a sender sends them raw
//! there (src/compression.rs); the proxies of the tests that count compressed bytes pace the
//! transfer's way to [`WIRE`], a wire slower than the compressor, where compressing pays. The
//! sender still sends raw blocks until it has measured the wire, and one in 16 while
//! compressing: the bounds below say "fewer bytes", not how many fewer.

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use common::proxy::{CuttingProxy, Flow, Link};
use common::*;
use lanshare::host::{Host, HostConfig};
use lanshare::participant::{Session, Stored, TransferConnection};
use lanshare::pipeline::CheckHash;
use lanshare::protocol::{ResumeKey, TransferCheck, UploadRequest};

/// Size of the files moved: several MiB, many blocks.
const SIZE: usize = 6 << 20;
/// Bytes a second the paced proxies carry: a slow wire, a tenth of a gigabit.
const WIRE: u64 = 12_500_000;
/// Wire bytes a raw transfer may take beyond the file: command lines, TLS, block headers.
const SLACK: u64 = 96 * 1024;

/// Log lines: compresses several times over at zstd's level 1.
fn logs(len: usize) -> Vec<u8> {
    let levels = ["INFO", "WARN", "DEBUG", "ERROR"];
    let words = ["served", "cached", "retried", "refused", "opened", "closed"];
    let mut out = Vec::with_capacity(len + 200);
    let mut n = 0u64;
    while out.len() < len {
        let line = format!(
            "2025-03-{:02}T{:02}:{:02}:{:02}.{:03}Z {} worker-{} request {} {} in {} ms\n",
            1 + n % 28,
            n / 3600 % 24,
            n / 60 % 60,
            n % 60,
            n * 37 % 1000,
            levels[(n % 7 % 4) as usize],
            n % 16,
            n * 7919 % 1_000_003,
            words[(n * 13 % 6) as usize],
            n * 31 % 500
        );
        out.extend_from_slice(line.as_bytes());
        n += 1;
    }
    out.truncate(len);
    out
}

fn request(session: &Session, name: &str, size: usize) -> UploadRequest {
    let credentials = session.credentials();
    UploadRequest {
        client_id: credentials.client_id,
        username: credentials.username.clone(),
        filename: name.into(),
        size: size as u64,
    }
}

/// Uploads the file at `path` as `session`'s participant through `via` (resumable).
fn upload(
    via: std::net::SocketAddr,
    session: &Session,
    path: &Path,
    compression: bool,
) -> Result<Stored, lanshare::participant::Error> {
    let mut connection = TransferConnection::connect(via)?;
    connection.set_compression(compression);
    connection.authenticate(session.credentials())?;
    let size = std::fs::metadata(path).map_or(0, |m| m.len()) as usize;
    connection.resume_upload_file(
        ResumeKey([7; 32]),
        request(session, "file.bin", size),
        path,
        &mut |_| {},
        &AtomicBool::new(false),
    )
}

/// Downloads file `id` through `via` from byte `offset`, into `into` (which holds the bytes
/// before it); checks the whole file's transfer check.
fn download(
    via: std::net::SocketAddr,
    id: u64,
    into: &mut Vec<u8>,
    compression: bool,
) -> anyhow::Result<TransferCheck> {
    let mut connection = TransferConnection::connect(via)?;
    connection.set_compression(compression);
    let offset = into.len() as u64;
    let prefix = lanshare::pipeline::hash_prefix(CheckHash::default(), &mut &into[..], offset)?;
    let mut sink = std::mem::take(into);
    let delivered = connection.download_from(
        id,
        offset,
        prefix,
        &mut sink,
        &mut |_| {},
        &AtomicBool::new(false),
    );
    *into = sink;
    Ok(delivered?.digest)
}

/// A proxy that forwards every connection whole, the `flow` way at [`WIRE`]'s pace.
fn whole_proxy(host: &Host, flow: Flow) -> anyhow::Result<CuttingProxy> {
    Ok(CuttingProxy::start(host.local_addr(), flow, Vec::new(), Link::Whole)?.pace(WIRE))
}

/// Uploads and downloads `content` through counting proxies; returns the bytes that crossed
/// each way.
fn round_trip(host: &Host, content: &[u8], compression: bool) -> anyhow::Result<(u64, u64)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("file.bin");
    std::fs::write(&path, content)?;
    let (session, _) = Person::new("Alice")?.join(host.local_addr())?;
    let up = whole_proxy(host, Flow::ToHost)?;
    let stored = upload(up.address(), &session, &path, compression)?;
    assert_eq!(stored.sha256.to_string(), sha256_hex(content));
    let down = whole_proxy(host, Flow::ToClient)?;
    let mut fetched = Vec::new();
    let check = download(down.address(), stored.file_id, &mut fetched, compression)?;
    assert!(fetched == content, "the download differs");
    assert_eq!(check, TransferCheck::of(content));
    let listed = listed(host.local_addr())?;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].size, content.len() as u64);
    Ok((up.to_host(), down.to_client()))
}

#[test]
fn compressible_files_cross_in_fewer_bytes_and_arrive_exact() -> anyhow::Result<()> {
    let content = logs(SIZE);
    let host = start(config())?;
    let (up, down) = round_trip(&host, &content, true)?;
    eprintln!("logs: {up} bytes up, {down} down, for {SIZE}");
    assert!(up < SIZE as u64 * 17 / 20, "{up} bytes up for {SIZE}");
    assert!(down < SIZE as u64 * 17 / 20, "{down} bytes down for {SIZE}");
    Ok(())
}

#[test]
fn random_data_goes_raw() -> anyhow::Result<()> {
    let content = data(SIZE, 5);
    let host = start(config())?;
    let (up, down) = round_trip(&host, &content, true)?;
    for moved in [up, down] {
        assert!(
            moved >= SIZE as u64 && moved <= SIZE as u64 + SLACK,
            "{moved}"
        );
    }
    Ok(())
}

#[test]
fn a_mixed_file_compresses_its_text_half_only() -> anyhow::Result<()> {
    let mut content = logs(SIZE / 2);
    content.extend(data(SIZE / 2, 9));
    let host = start(config())?;
    let (up, down) = round_trip(&host, &content, true)?;
    eprintln!("mixed: {up} bytes up, {down} down, for {SIZE}");
    for moved in [up, down] {
        assert!(moved > SIZE as u64 / 2, "{moved}: the random half shrank?");
        assert!(
            moved < SIZE as u64 * 19 / 20,
            "{moved}: the text half did not shrink"
        );
    }
    Ok(())
}

#[test]
fn no_compression_and_a_host_without_it_send_raw() -> anyhow::Result<()> {
    let content = logs(SIZE);
    let host = start(config())?;
    let (up, down) = round_trip(&host, &content, false)?;
    assert!(up >= SIZE as u64 && down >= SIZE as u64, "{up} {down}");
    let plain_host = start(HostConfig {
        compression: false,
        ..config()
    })?;
    let (up, down) = round_trip(&plain_host, &content, true)?;
    assert!(up >= SIZE as u64 && down >= SIZE as u64, "{up} {down}");
    // Asked anyway, such a host refuses COMPRESS.
    let mut raw = Raw::connect_tls(plain_host.local_addr())?;
    raw.send(b"COMPRESS:zstd\n")?;
    assert_eq!(
        raw.line()?,
        "ERROR:This host takes no compressed transfers (--no-compression)"
    );
    Ok(())
}

#[test]
fn compressed_transfers_resume_after_a_cut() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let content = logs(SIZE * 2);
    let path = dir.path().join("file.bin");
    std::fs::write(&path, &content)?;
    let host = start(config())?;
    let (session, _) = Person::new("Alice")?.join(host.local_addr())?;
    let cutting = CuttingProxy::start(
        host.local_addr(),
        Flow::ToHost,
        vec![Link::CutAfter(300 * 1024)],
        Link::Whole,
    )?
    .pace(WIRE);
    assert!(upload(cutting.address(), &session, &path, true).is_err());
    assert!(host.files().is_empty(), "a partial upload was listed");
    let stored = upload(cutting.address(), &session, &path, true)?;
    assert_eq!(stored.sha256.to_string(), sha256_hex(&content));
    // Fewer bytes than the file, cut and all: nothing went twice, some went compressed.
    assert!(
        cutting.to_host() < content.len() as u64,
        "{}",
        cutting.to_host()
    );

    let cutting = CuttingProxy::start(
        host.local_addr(),
        Flow::ToClient,
        vec![Link::CutAfter(300 * 1024)],
        Link::Whole,
    )?
    .pace(WIRE);
    let mut fetched = Vec::new();
    assert!(download(cutting.address(), stored.file_id, &mut fetched, true).is_err());
    assert!(!fetched.is_empty() && fetched.len() < content.len());
    assert!(
        content.starts_with(&fetched),
        "the kept bytes are not the file's"
    );
    let check = download(cutting.address(), stored.file_id, &mut fetched, true)?;
    assert!(fetched == content);
    assert_eq!(check, TransferCheck::of(&content));
    Ok(())
}

#[test]
fn seed_clients_move_the_same_bytes_as_before() -> anyhow::Result<()> {
    let content = logs(200_000);
    let host = start(config())?;
    let reply = seed_upload(
        host.local_addr(),
        &format!("UPLOAD:1:Seed:logs.txt:{}\n", content.len()),
        &content,
    )?;
    assert_eq!(reply, "READY\n");
    assert!(wait_until(std::time::Duration::from_secs(10), || !host
        .files()
        .is_empty()));
    let id = host.files()[0].id;
    let mut raw = Raw::connect(host.local_addr())?;
    raw.send(format!("DOWNLOAD:{id}\n").as_bytes())?;
    assert_eq!(raw.line()?, format!("FILE:logs.txt:{}", content.len()));
    raw.send(b"READY\n")?;
    assert!(
        raw.bytes(content.len())? == content,
        "a seed download changed"
    );
    Ok(())
}

/// A block header: kind, file bytes, wire bytes.
fn header(kind: u8, len: u32, wire: u32) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend(len.to_be_bytes());
    out.extend(wire.to_be_bytes());
    out
}

#[test]
fn a_lying_uploader_is_refused_and_nothing_is_listed() -> anyhow::Result<()> {
    let host = start(config())?;
    let text = logs(4000);
    let packed = zstd::bulk::compress(&text, 1)?;
    let lies = [
        // A compressed block that gives more than it claims.
        [header(1, 1000, packed.len() as u32), packed.clone()].concat(),
        // A block claiming 4 GiB.
        header(0, u32::MAX, u32::MAX),
        // Garbage where zstd should be.
        [header(1, 1000, 100), vec![0x55; 100]].concat(),
    ];
    for lie in lies {
        let mut raw = Raw::connect_tls(host.local_addr())?;
        raw.send(b"COMPRESS:zstd\nUPLOAD:0:Mallory:lie.txt:4000\n")?;
        assert_eq!(raw.line()?, "READY");
        raw.send(&lie)?;
        let reply = raw.line()?;
        assert!(
            reply.starts_with("ERROR:Damaged compressed upload: "),
            "{reply}"
        );
        assert!(host.files().is_empty());
    }
    Ok(())
}
