//! The seed's `DOWNLOAD` (from an offset, for lanshare clients), and `LIST`.
//!
//! A download holds a transfer slot from the client's `READY` until its last byte, and keeps up
//! a minimum pace ([`super::pace`]).

use std::io::{self, Seek, SeekFrom, Write};
use std::sync::Arc;

use super::activity::Direction;
use super::pace::Pace;
use super::registry::Uploader;
use super::state::Shared;
use super::transfer::{Stake, start_pace, take_slot};
use super::wire::{Connection, Silence, printable};
use crate::net::{self, Stream};
use crate::protocol::{ClientLine, Features, FileId, HostLine, PublicKey};
use crate::storage::{Content, FileRecord};

/// Bytes sent between two pace checks.
const PACE_STEP: u64 = 1 << 20;

/// `DOWNLOAD`: `FILE:<name>:<size>`, wait for `READY`, send the bytes from `offset` on, to
/// `participant` (whom the connection authenticated as, if it did: a restricted file is sent
/// only to those who may see it). Returns whether the connection may carry another command.
pub(super) fn send(
    shared: &Shared,
    connection: &mut Connection,
    file_id: FileId,
    offset: u64,
    participant: Option<&Uploader>,
) -> bool {
    let key = participant.map(|uploader| &uploader.key);
    let Some((record, content)) = open(shared, connection, (file_id, offset), key) else {
        return false;
    };
    let participant = participant.map(|uploader| uploader.username.as_str());
    let file_line = HostLine::File {
        name: record.name.clone(),
        size: record.size,
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
    let sending = (record.as_ref(), content, offset);
    match send_content(shared, connection, sending, participant, slot.made_way()) {
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

/// Finds the file (one the client proven as `key` may see) and checks the offset, or tells the
/// client why not.
fn open(
    shared: &Shared,
    connection: &Connection,
    (file_id, offset): (FileId, u64),
    key: Option<&PublicKey>,
) -> Option<(Arc<FileRecord>, Content)> {
    let (record, content) = match shared.storage.open_content(file_id) {
        // Restricted to others: answered exactly as a file that does not exist.
        Ok(Some((record, _))) if !shared.registry.may_see(&record, key) => {
            connection.refuse("File not found");
            return None;
        }
        // Expired a moment ago, before the expiry thread removed it: as good as gone.
        Ok(Some((record, _))) if record.is_expired(chrono::Utc::now()) => {
            connection.refuse("File not found");
            return None;
        }
        Ok(Some(found)) => found,
        Ok(None) => {
            connection.refuse("File not found");
            return None;
        }
        Err(error) => {
            tracing::error!("Could not open file {file_id}: {error}");
            connection.refuse(error);
            return None;
        }
    };
    if offset > record.size {
        connection.refuse(format_args!(
            "Offset {offset} is beyond the end of '{}' ({} bytes)",
            record.name, record.size
        ));
        return None;
    }
    Some((record, content))
}

/// Sends the file's bytes from `offset` on to `participant`, at a watched pace; `made_way`
/// if another transfer was stopped to free its slot.
fn send_content(
    shared: &Shared,
    connection: &Connection,
    (record, content, offset): (&FileRecord, Content, u64),
    participant: Option<&str>,
    made_way: bool,
) -> io::Result<()> {
    let remaining = record.size - offset;
    let stream = connection.stream();
    let mut pace = start_pace(
        shared,
        connection,
        Direction::Download,
        &record.name,
        participant,
        Stake {
            total: remaining,
            room: 0,
            made_way,
        },
    );
    match content {
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
    lines.push_str(&HostLine::End.encode());
    connection.reply_all(&lines).is_ok()
}
