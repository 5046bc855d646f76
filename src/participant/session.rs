//! The participant's control session: join with proof of identity, then follow the host.

use std::collections::HashMap;
use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::error::connect;
use super::{Error, FileEntry};
use crate::identity::Identity;
use crate::net::{LineError, LineReader};
use crate::protocol::{ClientId, ClientLine, FileId, HostLine, PROTOCOL_VERSION, Role, Ticket};

/// How long the client waits for each reply during the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Silence after which the client sends `PING`; twice this with no reply means the host is
/// gone (the host drops sessions silent for 60 s).
const PING_INTERVAL: Duration = Duration::from_secs(15);

/// Someone online on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Their client id.
    pub client_id: ClientId,
    /// Their display name.
    pub username: String,
}

/// What the host had when the session opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Participants online, this one included.
    pub peers: Vec<Peer>,
    /// Files shared, by id.
    pub files: Vec<FileEntry>,
}

/// Something the host told this session after it opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// A file was shared.
    FileOffered(FileEntry),
    /// A file was removed.
    FileDeleted(FileId),
    /// A participant came online (or changed its name).
    PeerJoined(Peer),
    /// A participant went offline.
    PeerLeft(ClientId),
    /// A `DELETE` this session sent was refused.
    DeleteFailed {
        /// The file named.
        file_id: FileId,
        /// The host's reason.
        reason: String,
    },
    /// The session ended; the text says why. No event follows.
    Closed(String),
}

/// What proves this participant on transfer connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The participant's id on the host.
    pub client_id: ClientId,
    /// The name it joined with.
    pub username: String,
    /// The session's ticket.
    pub ticket: Ticket,
}

/// An open control session. Dropping it leaves the host.
pub struct Session {
    host: SocketAddr,
    credentials: Credentials,
    role: Role,
    writer: Arc<Mutex<TcpStream>>,
    events: flume::Receiver<SessionEvent>,
}

impl Session {
    /// Joins the host at `host` as `username`, proving `identity`. Returns the session and
    /// what the host holds now; later changes arrive through [`Session::events`].
    pub fn join(
        host: SocketAddr,
        username: &str,
        identity: &Identity,
    ) -> Result<(Self, Snapshot), Error> {
        let stream = connect(host)?;
        let mut reader = LineReader::new(stream.try_clone().map_err(Error::lost)?);
        let mut writer = stream;
        let join = ClientLine::Join {
            version: PROTOCOL_VERSION,
            username: username.to_owned(),
            public_key: identity.public_key(),
        };
        writer
            .write_all(join.encode().as_bytes())
            .map_err(Error::lost)?;
        let nonce = match read_reply(&mut reader, HANDSHAKE_TIMEOUT)? {
            HostLine::Challenge { nonce } => nonce,
            other => return Err(unexpected(&other)),
        };
        let proof = ClientLine::Proof {
            signature: identity.answer_challenge(&nonce),
        };
        writer
            .write_all(proof.encode().as_bytes())
            .map_err(Error::lost)?;
        let (client_id, ticket, role) = match read_reply(&mut reader, HANDSHAKE_TIMEOUT)? {
            HostLine::Welcome {
                client_id,
                ticket,
                role,
            } => (client_id, ticket, role),
            other => return Err(unexpected(&other)),
        };
        let snapshot = read_snapshot(&mut reader)?;

        let (sender, events) = flume::unbounded();
        let writer = Arc::new(Mutex::new(writer));
        let ping_writer = Arc::clone(&writer);
        std::thread::Builder::new()
            .name("lanshare-session-reader".into())
            .spawn(move || follow(reader, &ping_writer, &sender))
            .map_err(Error::lost)?;
        Ok((
            Self {
                host,
                credentials: Credentials {
                    client_id,
                    username: username.to_owned(),
                    ticket,
                },
                role,
                writer,
                events,
            },
            snapshot,
        ))
    }

    /// The host's address.
    pub fn host(&self) -> SocketAddr {
        self.host
    }

    /// This participant's id on the host.
    pub fn client_id(&self) -> ClientId {
        self.credentials.client_id
    }

    /// Whether this participant is the host's operator (may delete any file).
    pub fn role(&self) -> Role {
        self.role
    }

    /// Proof of identity for transfer connections.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Events from the host, in order.
    pub fn events(&self) -> &flume::Receiver<SessionEvent> {
        &self.events
    }

    /// Asks the host to delete a file; the answer arrives as [`SessionEvent::FileDeleted`]
    /// or [`SessionEvent::DeleteFailed`].
    pub fn request_delete(&self, file_id: FileId) -> Result<(), Error> {
        self.send(&ClientLine::Delete { file_id })
    }

    /// Deletes a file and waits for the host's answer, passing over other events.
    pub fn delete(&self, file_id: FileId, timeout: Duration) -> Result<(), Error> {
        self.request_delete(file_id)?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match self.events.recv_deadline(deadline) {
                Ok(SessionEvent::FileDeleted(id)) if id == file_id => return Ok(()),
                Ok(SessionEvent::DeleteFailed {
                    file_id: id,
                    reason,
                }) if id == file_id => {
                    return Err(if reason == "File not found" {
                        Error::NotFound(file_id)
                    } else {
                        Error::Refused(reason)
                    });
                }
                Ok(SessionEvent::Closed(reason)) => return Err(Error::Refused(reason)),
                Ok(_) => {}
                Err(_) => {
                    return Err(Error::lost(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the host did not answer the delete",
                    )));
                }
            }
        }
    }

    fn send(&self, line: &ClientLine) -> Result<(), Error> {
        let mut writer = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        writer
            .write_all(line.encode().as_bytes())
            .map_err(|_| Error::SessionClosed)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Ok(writer) = self.writer.lock() {
            let _ = writer.shutdown(Shutdown::Both);
        }
    }
}

fn unexpected(line: &HostLine) -> Error {
    match line {
        HostLine::Error(reason) => Error::Refused(reason.clone()),
        other => Error::Protocol(other.encode().trim_end().to_owned()),
    }
}

/// Reads one host line, turning silence and closes into errors.
pub(super) fn read_reply(reader: &mut LineReader, timeout: Duration) -> Result<HostLine, Error> {
    match reader.read_line(timeout) {
        Ok(Some(line)) => Ok(HostLine::parse(&line)?),
        Ok(None) | Err(LineError::Truncated) => Err(Error::lost(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the host closed the connection",
        ))),
        Err(LineError::TimedOut) => Err(Error::lost(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the host did not answer",
        ))),
        Err(LineError::TooLong) => Err(Error::Protocol("line too long".into())),
        Err(LineError::Io(error)) => Err(Error::lost(error)),
    }
}

/// Pairs each `FILE_OFFER` with the `FILE_META` that follows it.
#[derive(Default)]
pub(super) struct OfferAssembler {
    pending: HashMap<FileId, HostLine>,
}

impl OfferAssembler {
    /// Feeds one line; returns a complete entry when a `FILE_META` completes an offer.
    pub(super) fn feed(&mut self, line: HostLine) -> Result<Option<FileEntry>, Error> {
        match line {
            HostLine::FileOffer { file_id, .. } => {
                self.pending.insert(file_id, line);
                Ok(None)
            }
            HostLine::FileMeta {
                file_id,
                uploaded_at_ms,
                sha256,
            } => {
                let Some(HostLine::FileOffer {
                    name,
                    size,
                    uploader_name,
                    uploader_id,
                    ..
                }) = self.pending.remove(&file_id)
                else {
                    return Err(Error::Protocol(format!(
                        "FILE_META for {file_id} without its FILE_OFFER"
                    )));
                };
                let uploaded_at = DateTime::<Utc>::from_timestamp_millis(uploaded_at_ms)
                    .ok_or_else(|| Error::Protocol(format!("bad upload time {uploaded_at_ms}")))?;
                Ok(Some(FileEntry {
                    id: file_id,
                    name,
                    size,
                    uploader: uploader_name,
                    uploader_id,
                    uploaded_at,
                    sha256,
                }))
            }
            other => Err(unexpected(&other)),
        }
    }
}

/// Reads `PEER_JOINED` and file lines up to `END`.
pub(super) fn read_snapshot(reader: &mut LineReader) -> Result<Snapshot, Error> {
    let mut snapshot = Snapshot::default();
    let mut offers = OfferAssembler::default();
    loop {
        match read_reply(reader, HANDSHAKE_TIMEOUT)? {
            HostLine::End => return Ok(snapshot),
            HostLine::PeerJoined {
                client_id,
                username,
            } => snapshot.peers.push(Peer {
                client_id,
                username,
            }),
            line => {
                if let Some(entry) = offers.feed(line)? {
                    snapshot.files.push(entry);
                }
            }
        }
    }
}

/// The reader thread: turns host lines into events and keeps the session alive.
fn follow(mut reader: LineReader, writer: &Mutex<TcpStream>, events: &flume::Sender<SessionEvent>) {
    let mut offers = OfferAssembler::default();
    let mut silent_intervals = 0;
    let reason = loop {
        let line = match reader.read_line(PING_INTERVAL) {
            Ok(Some(line)) => line,
            Ok(None) | Err(LineError::Truncated) => break "the host closed the connection".into(),
            Err(LineError::TimedOut) => {
                silent_intervals += 1;
                if silent_intervals >= 2 {
                    break "the host stopped answering".into();
                }
                let sent = writer
                    .lock()
                    .map(|mut w| w.write_all(ClientLine::Ping.encode().as_bytes()).is_ok())
                    .unwrap_or(false);
                if !sent {
                    break "the connection to the host broke".into();
                }
                continue;
            }
            Err(LineError::TooLong) => break "the host sent a line that is too long".into(),
            Err(LineError::Io(error)) => {
                break format!("the connection to the host broke: {error}");
            }
        };
        silent_intervals = 0;
        let event = match HostLine::parse(&line) {
            Ok(HostLine::Pong) => continue,
            Ok(HostLine::FileDeleted { file_id }) => SessionEvent::FileDeleted(file_id),
            Ok(HostLine::PeerJoined {
                client_id,
                username,
            }) => SessionEvent::PeerJoined(Peer {
                client_id,
                username,
            }),
            Ok(HostLine::PeerLeft { client_id }) => SessionEvent::PeerLeft(client_id),
            Ok(HostLine::DeleteFailed { file_id, reason }) => {
                SessionEvent::DeleteFailed { file_id, reason }
            }
            Ok(HostLine::Error(reason)) => break reason,
            Ok(line @ (HostLine::FileOffer { .. } | HostLine::FileMeta { .. })) => {
                match offers.feed(line) {
                    Ok(Some(entry)) => SessionEvent::FileOffered(entry),
                    Ok(None) => continue,
                    Err(error) => break error.to_string(),
                }
            }
            Ok(other) => break unexpected(&other).to_string(),
            Err(error) => break format!("unexpected reply from the host: {error}"),
        };
        if events.send(event).is_err() {
            // Nobody listens any more: the session's owner is gone.
            break String::new();
        }
    };
    if let Ok(writer) = writer.lock() {
        let _ = writer.shutdown(Shutdown::Both);
    }
    let _ = events.send(SessionEvent::Closed(reason));
}
