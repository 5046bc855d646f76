//! Transfer commands: the seed's `UPLOAD` and `DOWNLOAD`, plus `LIST`.
//!
//! A connection may carry several commands one after another ([`super::connection`] reads
//! them); a seed client sends one and closes. Each upload and download holds a transfer slot
//! while its bytes move, and keeps up a minimum pace ([`super::pace`]).

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::Shared;
use super::activity::Direction;
use super::connection::{printable, read_command, refuse, reply};
use super::pace::Pace;
use super::registry::{Uploader, offer_lines};
use super::slots::Slot;
use crate::net::{self, LineReader, is_timeout};
use crate::pipeline::{PipelineError, UploadDigests};
use crate::protocol::{
    ClientId, ClientLine, GUEST_CLIENT_ID, HostLine, MAX_FILENAME_BYTES, ResumeKey, UploadRequest,
    validate_username,
};
use crate::storage::{Content, Incoming, NewFile, StorageError};
use crate::units::format_size;

/// How long the host keeps reading (and discarding) an upload it has refused mid-way, so the
/// client can finish writing and then read the reason instead of a reset.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// Who an upload will be listed under, and who may delete it.
struct Attribution {
    name: String,
    client_id: u64,
    owner: Option<[u8; 32]>,
}

/// Decides whose upload this is, or why it is refused.
fn attribute(
    shared: &Shared,
    request: &UploadRequest,
    uploader: Option<&Uploader>,
) -> Result<Attribution, String> {
    match uploader {
        Some(uploader) => {
            if request.client_id != uploader.client_id {
                return Err(format!(
                    "client_id {} is not yours: you joined as client {}",
                    request.client_id, uploader.client_id
                ));
            }
            if request.username != uploader.username {
                return Err(format!(
                    "You joined as '{}', not '{}'",
                    uploader.username, request.username
                ));
            }
            Ok(Attribution {
                name: uploader.username.clone(),
                client_id: uploader.client_id,
                owner: Some(uploader.key),
            })
        }
        None => {
            validate_username(&request.username)?;
            if shared
                .registry
                .name_holder(&request.username, None, &shared.storage)
                .is_some()
            {
                return Err(format!(
                    "The name '{}' belongs to a participant who joined with proof of identity; \
                     join as that participant to upload under it",
                    request.username
                ));
            }
            Ok(Attribution {
                name: request.username.clone(),
                client_id: GUEST_CLIENT_ID,
                owner: None,
            })
        }
    }
}

/// Takes a transfer slot, or tells the client the host is busy.
fn take_slot<'a>(shared: &'a Shared, stream: &TcpStream) -> Option<Slot<'a>> {
    let slot = shared.slots.acquire(shared.config.timeouts.command);
    if slot.is_none() {
        shared.counters.refused.fetch_add(1, Ordering::Relaxed);
        refuse(
            stream,
            &format!(
                "Host is busy: all {} transfer slots are in use, try again shortly",
                shared.slots.count()
            ),
        );
    }
    slot
}

/// Starts watching the pace of a transfer whose bytes begin to move now; it shows among the
/// host's transfers in progress until it ends.
fn pace<'a>(
    shared: &'a Shared,
    direction: Direction,
    name: &str,
    peer: SocketAddr,
    total: u64,
) -> Pace<'a> {
    Pace::start(
        &shared.counters,
        shared.activity.track(name, peer, direction, total),
        direction,
        shared.config.timeouts.stall,
        shared.config.min_transfer_rate,
    )
}

/// Reserves room for a new upload; uploads parked for resuming make way if the store is
/// full, oldest first.
fn begin_upload(shared: &Shared, size: u64) -> Result<Incoming, StorageError> {
    loop {
        match shared.storage.begin(size) {
            Err(StorageError::Full { .. } | StorageError::DiskSpace { .. })
                if shared.parked.free_oldest() => {}
            result => return result,
        }
    }
}

/// The upload to continue for a resumable request (a parked one of the same participant,
/// file name and size), or a new one.
fn resumed_or_new(
    shared: &Shared,
    request: &UploadRequest,
    resume: Option<(ClientId, ResumeKey)>,
) -> Result<Incoming, StorageError> {
    let parked = resume.and_then(|(client_id, key)| {
        shared
            .parked
            .take(client_id, key, &request.filename, request.size)
    });
    match parked {
        Some(incoming) => Ok(incoming),
        None => begin_upload(shared, request.size),
    }
}

/// `UPLOAD` (`resume_key` `None`): validate, `READY`, receive exactly the announced bytes
/// while hashing, store, announce, `STORED`. `UPLOAD_RESUME` (`resume_key` given, after `AUTH`
/// only): the same, but `RESUME_FROM:<offset>` in place of `READY` and only the bytes after
/// `offset`; if the connection breaks, the bytes received are kept for a later
/// `UPLOAD_RESUME` with the same key. Returns whether the connection may carry another
/// command.
pub(super) fn receive_upload(
    shared: &Shared,
    reader: &mut LineReader,
    peer: SocketAddr,
    request: UploadRequest,
    uploader: Option<&Uploader>,
    resume_key: Option<ResumeKey>,
) -> bool {
    let resume = match (resume_key, uploader) {
        (None, _) => None,
        (Some(key), Some(uploader)) => Some((uploader.client_id, key)),
        (Some(_), None) => {
            refuse(
                reader.stream(),
                "UPLOAD_RESUME needs AUTH first: only a joined participant can resume an upload",
            );
            return false;
        }
    };
    if request.filename.is_empty() {
        refuse(reader.stream(), "File name is empty");
        return false;
    }
    if request.filename.len() > MAX_FILENAME_BYTES {
        refuse(
            reader.stream(),
            &format!("File name too long (max {MAX_FILENAME_BYTES} bytes)"),
        );
        return false;
    }
    let attribution = match attribute(shared, &request, uploader) {
        Ok(attribution) => attribution,
        Err(reason) => {
            refuse(reader.stream(), &reason);
            return false;
        }
    };
    let max = shared.config.max_file_size;
    if request.size > max {
        // The seed's wording, with the limit in words people read.
        refuse(
            reader.stream(),
            &format!("File too large (max {max} bytes = {})", format_size(max)),
        );
        return false;
    }
    if let Some(resume) = resume
        && let Some((file_id, digests)) =
            shared
                .parked
                .stored_before(resume, &request.filename, request.size)
        && shared.storage.get(file_id).is_some()
    {
        // The upload was stored, but its STORED never reached the client.
        tracing::info!(
            "'{}' from {} is already stored with ID {file_id}",
            printable(&request.filename),
            printable(&attribution.name)
        );
        let offset = request.size;
        return reply(reader.stream(), &HostLine::ResumeFrom { offset }).is_ok()
            && reply(reader.stream(), &stored_line(file_id, digests)).is_ok();
    }
    let Some(_slot) = take_slot(shared, reader.stream()) else {
        return false;
    };
    let mut incoming = match resumed_or_new(shared, &request, resume) {
        Ok(incoming) => incoming,
        Err(error) => {
            tracing::warn!(
                "Refused '{}' from {}: {error}",
                printable(&request.filename),
                printable(&attribution.name)
            );
            refuse(reader.stream(), &error.to_string());
            return false;
        }
    };
    let shown_name = printable(&request.filename);
    let offset = incoming.received();
    tracing::info!(
        "Receiving file '{shown_name}' ({} bytes{}) from {} ({peer})",
        request.size,
        if offset > 0 {
            format!(", resuming after {offset}")
        } else {
            String::new()
        },
        printable(&attribution.name)
    );
    let go_ahead = match resume {
        Some(_) => HostLine::ResumeFrom { offset },
        None => HostLine::Ready,
    };
    if reply(reader.stream(), &go_ahead).is_err() {
        return false;
    }

    let mut pace = pace(
        shared,
        Direction::Upload,
        &request.filename,
        peer,
        request.size - offset,
    );
    if reader
        .set_read_timeout(shared.config.timeouts.stall)
        .is_err()
    {
        return false;
    }
    let mut too_slow = None;
    let mut counted = 0;
    let received = incoming.receive(reader, &mut |done| {
        let moved = pace.moved(done - counted);
        counted = done;
        match moved {
            Ok(()) => true,
            Err(slow) => {
                too_slow = Some(slow);
                false
            }
        }
    });
    drop(pace);
    let digests = match received {
        Ok(digests) => digests,
        Err(PipelineError::Source { error, .. }) => {
            let progress = format!("{} of {} bytes", incoming.received(), request.size);
            let fate = if resume.is_some() {
                "kept for resuming"
            } else {
                "discarded"
            };
            let stalled = is_timeout(&error);
            if error.kind() == io::ErrorKind::UnexpectedEof {
                tracing::warn!("Upload of '{shown_name}' cut short: {progress} arrived; {fate}");
            } else if stalled {
                tracing::warn!("Upload of '{shown_name}' stalled after {progress}; {fate}");
            } else {
                tracing::warn!("Upload of '{shown_name}' failed after {progress}: {error}; {fate}");
            }
            if let Some((client_id, key)) = resume {
                shared
                    .parked
                    .park(client_id, key, request.filename, incoming);
            }
            if stalled {
                refuse(
                    reader.stream(),
                    &format!(
                        "Upload stalled: no data for {:?}",
                        shared.config.timeouts.stall
                    ),
                );
            }
            return false;
        }
        Err(PipelineError::Sink { error, received }) => {
            let error = StorageError::from(error);
            tracing::error!("Could not store '{shown_name}': {error}; discarded");
            refuse_mid_upload(reader, &error.to_string(), request.size - received);
            return false;
        }
        Err(PipelineError::Stopped) => {
            if let Some(slow) = too_slow {
                tracing::warn!(
                    "Upload of '{shown_name}' too slow ({slow}) after {counted} of {} bytes; \
                     discarded",
                    request.size
                );
                refuse(reader.stream(), &format!("Upload too slow: {slow}"));
            }
            return false;
        }
    };
    tracing::info!(
        "File '{shown_name}' received completely ({} bytes)",
        request.size
    );

    let file = NewFile {
        name: request.filename,
        uploader_name: attribution.name,
        uploader_id: attribution.client_id,
        owner: attribution.owner,
    };
    let record = match shared.storage.commit(incoming, file, digests.sha256) {
        Ok(record) => record,
        Err(error) => {
            tracing::error!("Could not store '{shown_name}': {error}; discarded");
            refuse(reader.stream(), &error.to_string());
            return false;
        }
    };
    tracing::info!("File '{shown_name}' stored with ID {}", record.id);
    if let Some(resume) = resume {
        shared
            .parked
            .remember_stored(resume, &record.name, request.size, (record.id, digests));
    }
    shared.registry.announce_offer(&record);
    tracing::info!(
        "Broadcasted file offer: {shown_name} (ID: {}) to {} session(s)",
        record.id,
        shared.registry.session_count()
    );
    // A seed client has closed by now; it never reads this line.
    reply(reader.stream(), &stored_line(record.id, digests)).is_ok()
}

/// The `STORED` line of a stored upload.
fn stored_line(file_id: u64, digests: UploadDigests) -> HostLine {
    HostLine::Stored {
        file_id,
        sha256: digests.sha256,
        check: digests.check,
    }
}

/// Refuses an upload whose bytes are still arriving: send the reason, then read and discard
/// the rest for a while so the client sees the reason rather than a connection reset.
fn refuse_mid_upload(reader: &mut LineReader, message: &str, mut remaining: u64) {
    let _ = reply(reader.stream(), &HostLine::Error(message.to_owned()));
    let _ = reader.stream().shutdown(Shutdown::Write);
    let deadline = Instant::now() + DRAIN_LIMIT;
    let mut sink = [0u8; 64 * 1024];
    let _ = reader.set_read_timeout(DRAIN_LIMIT);
    while remaining > 0 && Instant::now() < deadline {
        match reader.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(read) => remaining = remaining.saturating_sub(read as u64),
        }
    }
}

/// `DOWNLOAD`: `FILE:<name>:<size>`, wait for `READY`, send the bytes from `offset` on.
pub(super) fn send_download(
    shared: &Shared,
    reader: &mut LineReader,
    peer: SocketAddr,
    file_id: u64,
    offset: u64,
) -> bool {
    let (record, content) = match shared.storage.open_content(file_id) {
        Ok(Some(found)) => found,
        Ok(None) => {
            refuse(reader.stream(), "File not found");
            return false;
        }
        Err(error) => {
            tracing::error!("Could not open file {file_id}: {error}");
            refuse(reader.stream(), &error.to_string());
            return false;
        }
    };
    if offset > record.size {
        refuse(
            reader.stream(),
            &format!(
                "Offset {offset} is beyond the end of '{}' ({} bytes)",
                record.name, record.size
            ),
        );
        return false;
    }
    let file_line = HostLine::File {
        name: record.name.clone(),
        size: record.size,
    };
    if reply(reader.stream(), &file_line).is_err() {
        return false;
    }
    match read_command(reader, shared.config.timeouts.command, true) {
        Some(ClientLine::Ready) => {}
        _ => return false,
    }
    let Some(_slot) = take_slot(shared, reader.stream()) else {
        return false;
    };
    let shown_name = printable(&record.name);
    if offset > 0 {
        tracing::info!("Sending file '{shown_name}' (ID: {file_id}) from byte {offset} to {peer}");
    } else {
        tracing::info!("Sending file '{shown_name}' (ID: {file_id}) to {peer}");
    }
    let stream = reader.stream();
    if stream
        .set_write_timeout(Some(shared.config.timeouts.stall))
        .is_err()
    {
        return false;
    }
    let remaining = record.size - offset;
    let mut pace = pace(shared, Direction::Download, &record.name, peer, remaining);
    let sent = match content {
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
    };
    match sent {
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

/// Sends bytes from memory, checking the pace after every write.
fn send_bytes(mut stream: &TcpStream, bytes: &[u8], pace: &mut Pace) -> io::Result<()> {
    let mut sent = 0;
    while sent < bytes.len() {
        let end = bytes.len().min(sent + SEND_STEP as usize);
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

/// Bytes of a stored file sent between two pace checks.
const SEND_STEP: u64 = 1 << 20;

/// Copies a stored file to the socket (with `sendfile` on Linux, see [`net::send_file`]), a
/// step at a time so that the pace is checked between steps.
fn send_stored_file(
    stream: &TcpStream,
    mut file: std::fs::File,
    size: u64,
    pace: &mut Pace,
) -> io::Result<()> {
    let mut left = size;
    while left > 0 {
        let step = left.min(SEND_STEP);
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

/// `LIST`: every file as `FILE_OFFER` + `FILE_META`, then `END`.
pub(super) fn send_list(shared: &Shared, mut stream: &TcpStream) -> bool {
    let mut lines = String::new();
    for record in shared.storage.list() {
        lines.push_str(&offer_lines(&record));
    }
    lines.push_str(&HostLine::End.encode());
    stream.write_all(lines.as_bytes()).is_ok()
}
