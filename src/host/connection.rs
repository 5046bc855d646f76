//! The first steps of every connection: read its first command and route it.

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{Shared, session, transfer};
use crate::net::{LineError, LineReader};
use crate::protocol::{ClientLine, HostLine};

/// Serves one accepted connection on a pool worker.
pub(super) fn serve(shared: &Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let Some(tracked) = shared.track(&stream) else {
        return;
    };
    if shared.stopping.load(Ordering::SeqCst) {
        return;
    }
    let mut reader = LineReader::new(stream);
    let Some(first) = read_command(&mut reader, shared.config.timeouts.command, true) else {
        return;
    };
    match first {
        ClientLine::Join {
            version,
            username,
            public_key,
        } => session::start(
            shared,
            reader,
            tracked,
            peer,
            session::JoinRequest {
                version,
                username,
                public_key,
            },
        ),
        other => transfer::serve(shared, &mut reader, peer, other),
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
