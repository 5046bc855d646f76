//! The seed's `DOWNLOAD` (from an offset, for lanshare clients), `LIST`, `VERSIONS` and
//! `PREVIEW`.
//!
//! A download holds a transfer slot from the client's `READY` until its last byte, and keeps up
//! a minimum pace ([`super::pace`]).

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::Arc;

use super::activity::Direction;
use super::direct::Sharer;
use super::pace::Pace;
use super::registry::Uploader;
use super::state::Shared;
use super::transfer::{Stake, start_pace, take_slot};
use super::wire::{Connection, Silence, printable};
use crate::compression::{WORTH_IT, WireBytes, WireMeter, sample_ratio, send_blocks};
use crate::direct::{GRANT_LIFETIME, now_ms};
use crate::net::{self, Stream};
use crate::pipeline::PipelineError;
use crate::protocol::{
    ClientLine, DirectRoute, Features, FileId, HostLine, PublicKey, VersionInfo,
};
use crate::storage::{Content, FileRecord, Version};

/// Bytes sent between two pace checks.
const PACE_STEP: u64 = 1 << 20;

/// What a `DOWNLOAD` asks for.
pub(super) struct Wanted {
    /// The file.
    pub file_id: FileId,
    /// The first byte to send.
    pub offset: u64,
    /// The version (`None`: the latest).
    pub version: Option<u32>,
    /// `COMPRESS`: send the bytes in blocks ([`crate::compression`]).
    pub compressed: bool,
}

/// `DOWNLOAD`: `FILE:<name>:<size>`, wait for `READY`, send the bytes from `offset` on, to
/// `participant` (whom the connection authenticated as, if it did: a restricted file is sent
/// only to those who may see it). Returns whether the connection may carry another command.
pub(super) fn send(
    shared: &Shared,
    connection: &mut Connection,
    wanted: &Wanted,
    participant: Option<&Uploader>,
) -> bool {
    let key = participant.map(|uploader| &uploader.key);
    let Some((record, version, content)) = open(shared, connection, wanted, key) else {
        return false;
    };
    let (file_id, offset) = (wanted.file_id, wanted.offset);
    let participant = participant.map(|uploader| uploader.username.as_str());
    let file_line = HostLine::File {
        name: record.name.clone(),
        size: version.size,
    };
    if connection.reply(&file_line).is_err() {
        return false;
    }
    let timeout = shared.config.timeouts.command;
    match connection.read_command(timeout, Silence::Report) {
        Some(ClientLine::Ready) => {}
        _ => return false,
    }
    let Some(slot) = take_slot(shared, connection) else {
        return false;
    };
    let shown_name = printable(&record.name);
    let peer = connection.peer();
    if offset > 0 {
        tracing::info!("Sending file '{shown_name}' (ID: {file_id}) from byte {offset} to {peer}");
    } else {
        tracing::info!("Sending file '{shown_name}' (ID: {file_id}) to {peer}");
    }
    if connection
        .set_write_timeout(shared.config.timeouts.stall)
        .is_err()
    {
        return false;
    }
    let sending = (record.name.as_str(), version.size, content, offset);
    let blocks = wanted.compressed;
    match send_content(
        shared,
        connection,
        sending,
        participant,
        slot.made_way(),
        blocks,
    ) {
        Ok(()) => {
            tracing::info!("File '{shown_name}' sent completely");
            true
        }
        Err(error) => {
            tracing::warn!("Sending '{shown_name}' to {peer} stopped: {error}");
            false
        }
    }
}

/// Finds the file (one the client proven as `key` may see) and the version wanted, and checks
/// the offset, or tells the client why not.
fn open(
    shared: &Shared,
    connection: &Connection,
    wanted: &Wanted,
    key: Option<&PublicKey>,
) -> Option<(Arc<FileRecord>, Version, Content)> {
    let (file_id, offset) = (wanted.file_id, wanted.offset);
    let (record, version, content) = match shared.storage.open_content(file_id, wanted.version) {
        // Restricted to others: answered exactly as a file that does not exist.
        Ok(Some((record, ..))) if !shared.registry.may_see(&record, key) => {
            connection.refuse("File not found");
            return None;
        }
        // Expired a moment ago, before the expiry thread removed it: as good as gone.
        Ok(Some((record, ..))) if record.is_expired(chrono::Utc::now()) => {
            connection.refuse("File not found");
            return None;
        }
        Ok(Some(found)) => found,
        Ok(None) => {
            let version_gone = wanted.version.is_some()
                && shared
                    .storage
                    .get(file_id)
                    .is_some_and(|record| shared.registry.may_see(&record, key));
            if let (true, Some(number)) = (version_gone, wanted.version) {
                connection.refuse(format_args!(
                    "Version {number} of file {file_id} is not kept (see VERSIONS)"
                ));
            } else {
                connection.refuse("File not found");
            }
            return None;
        }
        Err(error) => {
            tracing::error!("Could not open file {file_id}: {error}");
            connection.refuse(error);
            return None;
        }
    };
    if offset > version.size {
        connection.refuse(format_args!(
            "Offset {offset} is beyond the end of '{}' ({} bytes)",
            record.name, version.size
        ));
        return None;
    }
    let content = match content {
        // Reading starts now, so that a store that cannot be read is told as an error.
        Content::Object(object) => match object.start_at(offset) {
            Ok(started) => Content::Object(started),
            Err(error) => {
                tracing::error!("Could not read file {file_id}: {error}");
                connection.refuse(format_args!("Host storage error: {error}"));
                return None;
            }
        },
        content => content,
    };
    Some((record, version, content))
}

/// Sends the file's bytes from `offset` on to `participant`, at a watched pace, in blocks if
/// `compressed`; `made_way` if another transfer was stopped to free its slot.
fn send_content(
    shared: &Shared,
    connection: &Connection,
    (name, size, content, offset): (&str, u64, Content, u64),
    participant: Option<&str>,
    made_way: bool,
    compressed: bool,
) -> io::Result<()> {
    let remaining = size - offset;
    let stream = connection.stream();
    let mut pace = start_pace(
        shared,
        connection,
        Direction::Download,
        name,
        participant,
        Stake {
            total: remaining,
            room: 0,
            made_way,
        },
    );
    match content {
        Content::Memory(blob) if compressed => send_compressed(
            stream,
            io::Cursor::new(blob.bytes()),
            offset,
            size,
            &mut pace,
        ),
        Content::Disk(file) if compressed => send_compressed(stream, file, offset, size, &mut pace),
        Content::Memory(blob) => {
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            send_bytes(
                stream,
                blob.bytes().get(start..).unwrap_or_default(),
                &mut pace,
            )
        }
        Content::Disk(mut file) => file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| send_stored_file(stream, file, remaining, &mut pace)),
        // An object store's answer cannot be sampled ahead: its blocks try compressing, and
        // the sender soon stops trying if they do not shrink.
        Content::Object(object) if compressed => object
            .read_from(offset)
            .and_then(|mut reader| send_in_blocks(stream, &mut reader, remaining, true, &mut pace)),
        Content::Object(object) => object
            .read_from(offset)
            .and_then(|mut reader| send_read(stream, &mut reader, remaining, &mut pace)),
    }
}

/// Copies `size` bytes from a reader (an object store's answer, a sharer's relayed bytes) to
/// the socket, checking the pace after every step.
pub(super) fn send_read(
    mut stream: &Stream,
    reader: &mut dyn Read,
    size: u64,
    pace: &mut Pace,
) -> io::Result<()> {
    let mut buffer = vec![0u8; 256 * 1024];
    let mut left = size;
    while left > 0 {
        let want = usize::try_from(left)
            .unwrap_or(usize::MAX)
            .min(buffer.len());
        let read = match reader.read(&mut buffer[..want]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the source sent {} of {size} bytes", size - left),
                ));
            }
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        stream.write_all(&buffer[..read])?;
        left -= read as u64;
        pace.moved(read as u64)?;
    }
    Ok(())
}

/// Sends `source`'s bytes from `offset` to `size` in blocks, compressed while it pays (if a
/// sample of them compresses at all), telling `pace` of each block.
fn send_compressed<S: Read + Seek + Send>(
    stream: &Stream,
    mut source: S,
    offset: u64,
    size: u64,
    pace: &mut Pace,
) -> io::Result<()> {
    let compressible = sample_ratio(&mut source, offset, size)? < WORTH_IT;
    send_in_blocks(stream, &mut source, size - offset, compressible, pace)
}

/// Sends `len` bytes of `source` in blocks, trying to compress them if `compressible`, telling
/// `pace` of each block.
fn send_in_blocks(
    mut stream: &Stream,
    source: &mut (dyn Read + Send),
    len: u64,
    compressible: bool,
    pace: &mut Pace,
) -> io::Result<()> {
    let meter = WireMeter::default();
    let mut counted = 0;
    let mut too_slow = None;
    let sent = send_blocks(
        source,
        &mut stream,
        len,
        compressible,
        &mut |sent| match pace.moved(sent - counted) {
            Ok(()) => {
                counted = sent;
                true
            }
            Err(error) => {
                too_slow = Some(error);
                false
            }
        },
        &meter,
    );
    let WireBytes { file, wire } = meter.read();
    tracing::debug!("Sent {file} bytes compressed to {wire} on the wire");
    match sent {
        Ok(()) => Ok(()),
        Err(PipelineError::Stopped) => {
            Err(too_slow.map_or_else(|| io::Error::other("stopped"), io::Error::from))
        }
        Err(PipelineError::Source { error, .. } | PipelineError::Sink { error, .. }) => Err(error),
    }
}

/// Sends bytes from memory, checking the pace after every write.
fn send_bytes(mut stream: &Stream, bytes: &[u8], pace: &mut Pace) -> io::Result<()> {
    let mut sent = 0;
    while sent < bytes.len() {
        let end = bytes.len().min(sent + PACE_STEP as usize);
        let written = match stream.write(&bytes[sent..end]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => written,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        sent += written;
        pace.moved(written as u64)?;
    }
    Ok(())
}

/// Copies a stored file to the socket (with `sendfile` on Linux, see [`net::send_file`]), a
/// step at a time so that the pace is checked between steps.
fn send_stored_file(
    stream: &Stream,
    mut file: std::fs::File,
    size: u64,
    pace: &mut Pace,
) -> io::Result<()> {
    let mut left = size;
    while left > 0 {
        let step = left.min(PACE_STEP);
        let copied = net::send_file(stream, &mut file, step)?;
        if copied < step {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("stored file is shorter than its {size} bytes"),
            ));
        }
        left -= copied;
        pace.moved(copied)?;
    }
    Ok(())
}

/// `LIST`: every file the client proven as `key` may see as `FILE_OFFER` (+ `FILE_INFO` and
/// `FILE_ACCESS` if asked for) + `FILE_META`, then `END`.
pub(super) fn send_list(
    shared: &Shared,
    connection: &Connection,
    features: Features,
    key: Option<&PublicKey>,
) -> bool {
    let mut lines = String::new();
    for record in shared.storage.list() {
        if let Some(offer) = shared.registry.offer_for(&record, features, key) {
            lines.push_str(&offer);
        }
    }
    if features.direct {
        let listed = shared.direct.listed();
        lines.push_str(&shared.registry.direct_offers(&listed, features, key));
    }
    lines.push_str(&HostLine::End.encode());
    connection.reply_all(&lines).is_ok()
}

/// `VERSIONS`: every kept version of a file the client proven as `key` may see, oldest first,
/// as `VERSION` lines, then `END`; `ERROR:File not found` otherwise.
pub(super) fn send_versions(
    shared: &Shared,
    connection: &Connection,
    file_id: FileId,
    key: Option<&PublicKey>,
) -> bool {
    let Some(record) = shared
        .storage
        .get(file_id)
        .filter(|record| shared.registry.may_see(record, key))
    else {
        connection.refuse("File not found");
        return false;
    };
    let mut lines = String::new();
    for version in record.versions() {
        let line = HostLine::Version(VersionInfo {
            file_id,
            number: version.number,
            size: version.size,
            uploaded_at_ms: version.uploaded_at.timestamp_millis(),
            sha256: version.sha256,
            check: version.check,
        });
        lines.push_str(&line.encode());
    }
    lines.push_str(&HostLine::End.encode());
    connection.reply_all(&lines).is_ok()
}

/// `PREVIEW`: the preview of a file the client proven as `key` may see, as `PREVIEW_DATA` and
/// its bytes; `ERROR:File not found` for a file that is not there or that it may not see (the
/// same answer), `ERROR:File <id> has no preview` for one without (yet).
pub(super) fn send_preview(
    shared: &Shared,
    connection: &Connection,
    file_id: FileId,
    key: Option<&PublicKey>,
) -> bool {
    let visible = shared
        .storage
        .get(file_id)
        .is_some_and(|record| shared.registry.may_see(&record, key));
    if !visible {
        connection.refuse("File not found");
        return false;
    }
    let preview = match shared.storage.open_preview(file_id) {
        Ok(Some(preview)) if shared.registry.may_see(&preview.record, key) => preview,
        Ok(_) => {
            connection.refuse(format_args!("File {file_id} has no preview"));
            return false;
        }
        Err(error) => {
            tracing::warn!("Could not read the preview of file {file_id}: {error}");
            connection.refuse(error);
            return false;
        }
    };
    let header = HostLine::PreviewData {
        file_id,
        kind: preview.kind,
        size: preview.bytes.len() as u64,
    };
    connection.reply_with_bytes(&header, &preview.bytes).is_ok()
}

/// `DIRECT:<file_id>`: where the proven participant `key` fetches the file, with a grant
/// signed for it; or why not. Returns whether the connection may carry another command.
pub(super) fn send_route(
    shared: &Shared,
    connection: &Connection,
    file_id: FileId,
    key: Option<&PublicKey>,
) -> bool {
    let Some(key) = key else {
        connection.refuse("Prove who you are first (AUTH_PROOF): grants are made out to a key");
        return false;
    };
    let Some((_, sharer)) = online_sharer(shared, connection, file_id, key) else {
        return false;
    };
    let expires = now_ms().saturating_add(GRANT_LIFETIME.as_millis() as u64);
    let grant = shared
        .grants
        .grant(file_id, *key, &sharer.fingerprint, expires);
    let route = DirectRoute {
        address: sharer.address,
        sharer: sharer.fingerprint,
        grant,
    };
    connection.reply(&HostLine::DirectRoute(route)).is_ok()
}

/// The direct file `file_id` (one `key` may see) and its sharer, who must be online; or the
/// client is told why not.
pub(super) fn online_sharer(
    shared: &Shared,
    connection: &Connection,
    file_id: FileId,
    key: &PublicKey,
) -> Option<(FileRecord, Sharer)> {
    let found = shared
        .direct
        .find(file_id)
        .filter(|(record, _)| shared.registry.may_see(record, Some(key)));
    let Some((record, sharer)) = found else {
        connection.refuse("File not found");
        return None;
    };
    let Some(sharer) = sharer else {
        connection.refuse(format_args!(
            "'{}' is unavailable: {} (who shares it from their machine) is offline",
            record.name, record.uploader_name
        ));
        return None;
    };
    Some((record, sharer))
}
