//! Transfer connections: the seed's `UPLOAD` and `DOWNLOAD`, plus `AUTH` and `LIST`.
//!
//! A connection may carry several commands one after another; a seed client sends one and
//! closes.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::Shared;
use super::activity::{Direction, Tracker};
use super::connection::{printable, read_command, refuse, reply};
use super::registry::{Uploader, offer_lines};
use crate::net::{self, LineReader, is_timeout};
use crate::pipeline::PipelineError;
use crate::protocol::{
    ClientLine, GUEST_CLIENT_ID, HostLine, MAX_FILENAME_BYTES, UploadRequest, validate_username,
};
use crate::storage::{Content, NewFile, StorageError};
use crate::units::format_size;

/// How long the host keeps reading (and discarding) an upload it has refused mid-way, so the
/// client can finish writing and then read the reason instead of a reset.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// Serves transfer commands until the client closes, goes idle, or a command fails.
pub(super) fn serve(shared: &Shared, reader: &mut LineReader, peer: SocketAddr, first: ClientLine) {
    let mut uploader: Option<Uploader> = None;
    let mut next = Some(first);
    while let Some(command) = next.take() {
        let keep_open = match command {
            ClientLine::Auth { client_id, ticket } => {
                uploader = shared.registry.authenticate(client_id, &ticket);
                if uploader.is_none() {
                    refuse(
                        reader.stream(),
                        "Unknown or expired ticket: join the host again",
                    );
                }
                uploader.is_some()
            }
            ClientLine::Upload(request) => {
                receive_upload(shared, reader, peer, request, uploader.as_ref())
            }
            ClientLine::Download { file_id } => send_download(shared, reader, peer, file_id),
            ClientLine::List => send_list(shared, reader.stream()),
            ClientLine::Join { .. } => {
                refuse(
                    reader.stream(),
                    "JOIN must be the first line of a connection",
                );
                false
            }
            ClientLine::Ready
            | ClientLine::Proof { .. }
            | ClientLine::Delete { .. }
            | ClientLine::Ping => {
                refuse(
                    reader.stream(),
                    "Unexpected command here: only UPLOAD, DOWNLOAD, LIST and AUTH are served \
                     outside a joined session",
                );
                false
            }
        };
        if !keep_open {
            return;
        }
        next = read_command(reader, shared.config.timeouts.idle, false);
    }
}

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

/// `UPLOAD`: validate, `READY`, receive exactly the announced bytes while hashing, store,
/// announce, `STORED`. Returns whether the connection may carry another command.
fn receive_upload(
    shared: &Shared,
    reader: &mut LineReader,
    peer: SocketAddr,
    request: UploadRequest,
    uploader: Option<&Uploader>,
) -> bool {
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
    let mut incoming = match shared.storage.begin(request.size) {
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
    tracing::info!(
        "Receiving file '{shown_name}' ({} bytes) from {} ({peer})",
        request.size,
        printable(&attribution.name)
    );
    if reply(reader.stream(), &HostLine::Ready).is_err() {
        return false;
    }

    let tracker = shared
        .activity
        .track(&request.filename, peer, Direction::Upload, request.size);
    if reader
        .set_read_timeout(shared.config.timeouts.stall)
        .is_err()
    {
        return false;
    }
    let received = incoming.receive(reader, &mut |done| {
        tracker.set(done);
        true
    });
    drop(tracker);
    let sha256 = match received {
        Ok(sha256) => sha256,
        Err(PipelineError::Source { error, received }) => {
            let progress = format!("{received} of {} bytes", request.size);
            if error.kind() == io::ErrorKind::UnexpectedEof {
                tracing::warn!("Upload of '{shown_name}' cut short: {progress} arrived; discarded");
            } else if is_timeout(&error) {
                tracing::warn!("Upload of '{shown_name}' stalled after {progress}; discarded");
                refuse(
                    reader.stream(),
                    &format!(
                        "Upload stalled: no data for {:?}",
                        shared.config.timeouts.stall
                    ),
                );
            } else {
                tracing::warn!(
                    "Upload of '{shown_name}' failed after {progress}: {error}; discarded"
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
        Err(PipelineError::Stopped) => return false,
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
    let record = match shared.storage.commit(incoming, file, sha256) {
        Ok(record) => record,
        Err(error) => {
            tracing::error!("Could not store '{shown_name}': {error}; discarded");
            refuse(reader.stream(), &error.to_string());
            return false;
        }
    };
    tracing::info!("File '{shown_name}' stored with ID {}", record.id);
    shared.registry.announce_offer(&record);
    tracing::info!(
        "Broadcasted file offer: {shown_name} (ID: {}) to {} session(s)",
        record.id,
        shared.registry.session_count()
    );
    // A seed client has closed by now; it never reads this line.
    reply(
        reader.stream(),
        &HostLine::Stored {
            file_id: record.id,
            sha256,
        },
    )
    .is_ok()
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

/// `DOWNLOAD`: `FILE:<name>:<size>`, wait for `READY`, send the bytes.
fn send_download(shared: &Shared, reader: &mut LineReader, peer: SocketAddr, file_id: u64) -> bool {
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
    let shown_name = printable(&record.name);
    tracing::info!("Sending file '{shown_name}' (ID: {file_id}) to {peer}");
    let stream = reader.stream();
    if stream
        .set_write_timeout(Some(shared.config.timeouts.stall))
        .is_err()
    {
        return false;
    }
    let tracker = shared
        .activity
        .track(&record.name, peer, Direction::Download, record.size);
    let sent = match content {
        Content::Memory(blob) => send_bytes(stream, blob.bytes(), &tracker),
        Content::Disk(file) => send_stored_file(stream, file, record.size, &tracker),
    };
    drop(tracker);
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

/// How many bytes a download sends between two progress updates.
const PROGRESS_STEP: usize = 4 << 20;

fn send_bytes(mut stream: &TcpStream, bytes: &[u8], tracker: &Tracker<'_>) -> io::Result<()> {
    let mut sent = 0;
    for chunk in bytes.chunks(PROGRESS_STEP) {
        stream.write_all(chunk)?;
        sent += chunk.len() as u64;
        tracker.set(sent);
    }
    Ok(())
}

/// Copies a stored file to the socket (with `sendfile` on Linux, see [`net::send_file`]).
fn send_stored_file(
    stream: &TcpStream,
    mut file: std::fs::File,
    size: u64,
    tracker: &Tracker<'_>,
) -> io::Result<()> {
    let mut sent = 0;
    while sent < size {
        let step = (size - sent).min(PROGRESS_STEP as u64);
        let copied = net::send_file(stream, &mut file, step)?;
        if copied == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("stored file is shorter than its {size} bytes"),
            ));
        }
        sent += copied;
        tracker.set(sent);
    }
    Ok(())
}

/// `LIST`: every file as `FILE_OFFER` + `FILE_META`, then `END`.
fn send_list(shared: &Shared, mut stream: &TcpStream) -> bool {
    let mut lines = String::new();
    for record in shared.storage.list() {
        lines.push_str(&offer_lines(&record));
    }
    lines.push_str(&HostLine::End.encode());
    stream.write_all(lines.as_bytes()).is_ok()
}
