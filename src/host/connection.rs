//! One connection, on a thread of the server pool: read its commands, check the passcode,
//! route them.
//!
//! Waiting for a command holds nothing but this thread and the socket; a transfer takes a
//! transfer slot only while its bytes move, and a `JOIN` makes the connection a control session
//! for the rest of its life.

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::gate::Refused;
use super::registry::Uploader;
use super::{Shared, Tracked, session, transfer};
use crate::net::{LineError, LineReader};
use crate::protocol::{ClientLine, HostLine};

/// Serves one admitted connection until it closes. A bug in a handler ends this connection
/// only, never the host.
pub(super) fn run(shared: &Arc<Shared>, stream: TcpStream, peer: SocketAddr, tracked: Tracked) {
    let serve = std::panic::AssertUnwindSafe(|| serve(shared, stream, peer));
    if std::panic::catch_unwind(serve).is_err() {
        tracing::error!("The handler of a connection from {peer} panicked; the host carries on");
    }
    drop(tracked);
}

/// What a connection has proven so far.
struct Access {
    /// The host's passcode was given, or the host has none, or `AUTH` proved a participant
    /// (who gave it to join).
    passcode: bool,
    /// The joined participant that `AUTH` proved, for the uploads that follow.
    uploader: Option<Uploader>,
}

fn serve(shared: &Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    if shared.stopping.load(Ordering::SeqCst) {
        return;
    }
    // No write may wait on a client that stopped reading for longer than a stall.
    let _ = stream.set_write_timeout(Some(shared.config.timeouts.stall));
    let mut reader = LineReader::new(stream);
    let mut access = Access {
        passcode: shared.gate.is_open(),
        uploader: None,
    };
    // Until the first command other than PASS, a silent client is told it timed out; after
    // it, a connection idle between commands is closed silently.
    let mut started = false;
    loop {
        let (timeout, report) = if started {
            (shared.config.timeouts.idle, false)
        } else {
            (shared.config.timeouts.command, true)
        };
        let Some(command) = read_command(&mut reader, timeout, report) else {
            return;
        };
        let keep_open = match command {
            ClientLine::Pass { passcode } => {
                match shared.gate.check(peer.ip(), passcode.as_str()) {
                    Ok(()) => access.passcode = true,
                    Err(refused) => {
                        tracing::warn!("Refused a passcode from {peer}: {refused}");
                        refuse(reader.stream(), &refused.to_string());
                        return;
                    }
                }
                continue;
            }
            ClientLine::Join {
                version,
                username,
                public_key,
            } if !started => {
                if access.passcode {
                    let request = session::JoinRequest {
                        version,
                        username,
                        public_key,
                    };
                    session::run(shared, reader, peer, request);
                } else {
                    refuse(reader.stream(), &Refused::Missing.to_string());
                }
                return;
            }
            ClientLine::Join { .. } => {
                refuse(
                    reader.stream(),
                    "JOIN must come before any other command on a connection (PASS aside)",
                );
                false
            }
            ClientLine::Auth { client_id, ticket } => {
                access.uploader = shared.registry.authenticate(client_id, &ticket);
                if access.uploader.is_some() {
                    access.passcode = true;
                } else {
                    refuse(
                        reader.stream(),
                        "Unknown or expired ticket: join the host again",
                    );
                }
                access.uploader.is_some()
            }
            ClientLine::Upload(_)
            | ClientLine::UploadResume { .. }
            | ClientLine::Download { .. }
            | ClientLine::List
                if !access.passcode =>
            {
                refuse(reader.stream(), &Refused::Missing.to_string());
                false
            }
            ClientLine::Upload(request) => transfer::receive_upload(
                shared,
                &mut reader,
                peer,
                request,
                access.uploader.as_ref(),
                None,
            ),
            ClientLine::UploadResume { key, request } => transfer::receive_upload(
                shared,
                &mut reader,
                peer,
                request,
                access.uploader.as_ref(),
                Some(key),
            ),
            ClientLine::Download { file_id, offset } => {
                transfer::send_download(shared, &mut reader, peer, file_id, offset)
            }
            ClientLine::List => transfer::send_list(shared, reader.stream()),
            ClientLine::Ready
            | ClientLine::Proof { .. }
            | ClientLine::Delete { .. }
            | ClientLine::Ping => {
                refuse(
                    reader.stream(),
                    "Unexpected command here: only UPLOAD, UPLOAD_RESUME, DOWNLOAD, LIST, AUTH \
                     and PASS are served outside a joined session",
                );
                false
            }
        };
        if !keep_open {
            return;
        }
        started = true;
    }
}

/// Reads and parses the next command line. Anything wrong is answered with `ERROR` (except a
/// timeout while idle, when `report_timeout` is false) and yields `None`: close the connection.
pub(super) fn read_command(
    reader: &mut LineReader,
    timeout: Duration,
    report_timeout: bool,
) -> Option<ClientLine> {
    let line = match reader.read_line(timeout) {
        Ok(Some(line)) => line,
        Ok(None) | Err(LineError::Truncated) => return None,
        Err(LineError::TimedOut) => {
            if report_timeout {
                refuse(
                    reader.stream(),
                    &format!("Timed out after {timeout:?} waiting for a command"),
                );
            }
            return None;
        }
        Err(LineError::TooLong) => {
            refuse(reader.stream(), &LineError::TooLong.to_string());
            return None;
        }
        Err(LineError::Io(_)) => return None,
    };
    match ClientLine::parse(&line) {
        Ok(command) => Some(command),
        Err(error) => {
            refuse(reader.stream(), &error.to_string());
            None
        }
    }
}

/// Sends one reply line as a write of its own (the seed's client reads each with one recv).
pub(super) fn reply(mut stream: &TcpStream, line: &HostLine) -> std::io::Result<()> {
    stream.write_all(line.encode().as_bytes())
}

/// Sends `ERROR:<message>` and closes our side for writing: the client reads the reason and
/// then end-of-stream.
pub(super) fn refuse(stream: &TcpStream, message: &str) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let _ = reply(stream, &HostLine::Error(message.to_owned()));
    let _ = stream.shutdown(Shutdown::Write);
}

/// Text safe to print on one log line: control characters become `?`.
pub(super) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
