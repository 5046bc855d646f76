//! The host's side of one connection: the stream, the lines read from it and the replies
//! written to it. Every byte a handler exchanges with a client goes through [`Connection`], and
//! every `ERROR:` reply is written here, so a different transport (TLS) changes this file only.

use std::fmt::Display;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::net::{LineError, LineReader, Stream};
use crate::protocol::{ClientLine, HostLine};

/// How long a refusal may take to write before the connection is closed anyway.
const REFUSAL_WRITE_LIMIT: Duration = Duration::from_secs(5);

/// How long the host keeps reading (and discarding) an upload it has refused mid-way, so the
/// client can finish writing and then read the reason instead of a reset.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// Whether a silent client is told that it timed out, or just closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Silence {
    /// Waiting for a command the client owes us: say why the connection closes.
    Report,
    /// Idle between commands: closing is the normal end.
    Close,
}

/// One client connection, owned by the thread serving it.
pub(super) struct Connection {
    reader: LineReader,
    peer: SocketAddr,
}

impl Connection {
    /// Wraps an accepted stream from `peer`.
    pub(super) fn new(stream: Stream, peer: SocketAddr) -> Self {
        Self {
            reader: LineReader::new(stream),
            peer,
        }
    }

    /// The client's address.
    pub(super) fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The stream, for sending files.
    pub(super) fn stream(&self) -> &Stream {
        self.reader.stream()
    }

    /// A second handle to the socket, for a thread that writes while this one reads.
    pub(super) fn try_clone_stream(&self) -> io::Result<Stream> {
        self.reader.stream().try_clone()
    }

    /// Reads and parses the next command line. Anything wrong is answered with `ERROR` (a
    /// timeout only if `silence` says so) and yields `None`: close the connection.
    pub(super) fn read_command(
        &mut self,
        timeout: Duration,
        silence: Silence,
    ) -> Option<ClientLine> {
        let line = match self.reader.read_line(timeout) {
            Ok(Some(line)) => line,
            Ok(None) | Err(LineError::Truncated | LineError::Io(_)) => return None,
            Err(LineError::TimedOut) => {
                if silence == Silence::Report {
                    self.refuse(format_args!(
                        "Timed out after {timeout:?} waiting for a command"
                    ));
                }
                return None;
            }
            Err(error @ LineError::TooLong) => {
                self.refuse(error);
                return None;
            }
        };
        match ClientLine::parse(&line) {
            Ok(command) => Some(command),
            Err(error) => {
                self.refuse(error);
                None
            }
        }
    }

    /// Reads the answer of a peer that speaks as a host does (a sharer serving a relay); `None`
    /// if it closed, failed, timed out or sent something that is not a host line.
    pub(super) fn read_reply(&mut self, timeout: Duration) -> Option<HostLine> {
        match self.reader.read_line(timeout) {
            Ok(Some(line)) => HostLine::parse(&line).ok(),
            _ => None,
        }
    }

    /// Sends one reply line as a write of its own (the seed's client reads each with one recv).
    pub(super) fn reply(&self, line: &HostLine) -> io::Result<()> {
        write_line(self.reader.stream(), line)
    }

    /// Sends several lines in one write.
    pub(super) fn reply_all(&self, lines: &str) -> io::Result<()> {
        let mut stream = self.reader.stream();
        stream.write_all(lines.as_bytes())
    }

    /// Sends one line with raw bytes after it, in one write (a preview and its header).
    pub(super) fn reply_with_bytes(&self, line: &HostLine, bytes: &[u8]) -> io::Result<()> {
        let mut message = line.encode().into_bytes();
        message.extend_from_slice(bytes);
        let mut stream = self.reader.stream();
        stream.write_all(&message)
    }

    /// Sends `ERROR:<reason>` and closes our side for writing: the client reads the reason and
    /// then end-of-stream.
    pub(super) fn refuse(&self, reason: impl Display) {
        let stream = self.reader.stream();
        let _ = stream.set_write_timeout(REFUSAL_WRITE_LIMIT);
        let _ = write_line(stream, &error_line(reason));
        stream.close_write();
    }

    /// Refuses an upload whose bytes are still arriving: sends the reason, then reads and
    /// discards up to `remaining` bytes for a while, so the client sees the reason rather than
    /// a connection reset.
    pub(super) fn refuse_draining(&mut self, reason: impl Display, mut remaining: u64) {
        self.refuse(reason);
        let deadline = Instant::now() + DRAIN_LIMIT;
        let mut sink = [0u8; 64 * 1024];
        let _ = self.reader.set_read_timeout(DRAIN_LIMIT);
        while remaining > 0 && Instant::now() < deadline {
            match self.reader.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(read) => remaining = remaining.saturating_sub(read as u64),
            }
        }
    }

    /// Sets how long a raw read may wait for bytes.
    pub(super) fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.reader.set_read_timeout(timeout)
    }

    /// Sets how long a write may wait for the client to make room.
    pub(super) fn set_write_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.reader.stream().set_write_timeout(timeout)
    }
}

impl Read for Connection {
    /// The raw bytes that follow a command line (an upload's content).
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.reader.read(out)
    }
}

/// Refuses a connection that was never admitted, without ever blocking the caller (one short
/// line fits any socket buffer), then discards what the client has sent so far, so that closing
/// does not reset the connection before the client has read the reason.
pub(super) fn refuse_at_once(mut stream: &TcpStream, reason: impl Display) {
    let _ = stream.set_nonblocking(true);
    let _ = stream.write_all(error_line(reason).encode().as_bytes());
    let _ = stream.shutdown(Shutdown::Write);
    let mut sink = [0u8; 4096];
    for _ in 0..16 {
        if !matches!(stream.read(&mut sink), Ok(read) if read > 0) {
            break;
        }
    }
}

/// The one place a refusal becomes an `ERROR:` line.
fn error_line(reason: impl Display) -> HostLine {
    HostLine::Error(reason.to_string())
}

fn write_line(mut stream: &Stream, line: &HostLine) -> io::Result<()> {
    stream.write_all(line.encode().as_bytes())
}

/// Text safe to print on one log line: control characters become `?`.
pub(super) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
