//! The participant's control session: join with proof of identity, then follow the host.

use std::net::SocketAddr;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use super::connection::{Connection, ReadError, SharedWriter};
use super::error::Error;
use super::listing::{FileEntry, OfferAssembler, Peer, PreviewAvailable, Snapshot, read_snapshot};
use super::relay::RelayBack;
use super::trust::HostKey;
use crate::direct::{DirectServer, RelayServing};
use crate::identity::Identity;
use crate::protocol::{
    Audience, ClientId, ClientLine, CommentInfo, DirectShare, Features, FileId, HostLine,
    PROTOCOL_VERSION, Passcode, PublicKey, RelayToken, Role, Sha256Digest, Ticket,
};

/// How long the client waits for each reply during the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Silence after which the client sends `PING`; twice this with no reply means the host is
/// gone (the host drops sessions silent for 60 s).
const PING_INTERVAL: Duration = Duration::from_secs(15);

/// Something the host told this session after it opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// A file was shared.
    FileOffered(Box<FileEntry>),
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
    /// A comment was added to a file this participant may see.
    CommentAdded(CommentInfo),
    /// A comment was deleted.
    CommentDeleted {
        /// The file.
        file_id: FileId,
        /// The comment.
        comment_id: u64,
    },
    /// A `COMMENT` or `DELETE_COMMENT` this session sent was refused.
    CommentFailed {
        /// The file named.
        file_id: FileId,
        /// The host's reason.
        reason: String,
    },
    /// An `ACCESS` this session sent was refused.
    AccessFailed {
        /// The file named.
        file_id: FileId,
        /// The host's reason.
        reason: String,
    },
    /// The host made the preview of a file already offered (`FILE_PREVIEW`).
    PreviewReady {
        /// The file.
        file_id: FileId,
        /// The preview.
        preview: PreviewAvailable,
    },
    /// The host lists a file this session shares directly (`DIRECT_SHARED`).
    DirectShared {
        /// The id it is listed under.
        file_id: FileId,
        /// The shared file's SHA-256.
        sha256: Sha256Digest,
        /// The key the host signs its downloaders' grants with.
        grant_key: PublicKey,
    },
    /// A file shared directly became available (its sharer serves it) or unavailable
    /// (`FILE_STATE`, on its own: an offer carries it in its [`FileEntry`]).
    FileState {
        /// The file.
        file_id: FileId,
        /// Whether its sharer serves it now.
        available: bool,
    },
    /// The host did not list a file this session shared directly (`DIRECT_FAILED`).
    DirectShareFailed {
        /// The file's SHA-256.
        sha256: Sha256Digest,
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

/// How to join, beyond the host's address, a name and an identity.
#[derive(Debug, Clone, Default)]
pub struct JoinOptions {
    /// The host's passcode, for a host started with one.
    pub passcode: Option<Passcode>,
}

/// An open control session. Dropping it leaves the host.
pub struct Session {
    host: SocketAddr,
    passcode: Option<Passcode>,
    credentials: Credentials,
    role: Role,
    host_key: HostKey,
    writer: SharedWriter,
    events: flume::Receiver<SessionEvent>,
    relays: RelayBack,
}

impl Session {
    /// Joins the host at `host` as `username`, proving `identity`. Returns the session and
    /// what the host holds now; later changes arrive through [`Session::events`].
    pub fn join(
        host: SocketAddr,
        username: &str,
        identity: &Identity,
    ) -> Result<(Self, Snapshot), Error> {
        Self::join_with(host, username, identity, &JoinOptions::default())
    }

    /// [`Session::join`] with options: the host's passcode, if it asks for one.
    pub fn join_with(
        host: SocketAddr,
        username: &str,
        identity: &Identity,
        options: &JoinOptions,
    ) -> Result<(Self, Snapshot), Error> {
        let mut connection = Connection::connect(host)?;
        let (client_id, ticket, role) = handshake(
            &mut connection,
            username,
            identity,
            options.passcode.as_ref(),
        )?;
        let snapshot = read_snapshot(&mut connection, HANDSHAKE_TIMEOUT)?;
        let host_key = connection.host_key();

        let (sender, events) = flume::unbounded();
        let writer = connection.shared_writer()?;
        let ping_writer = writer.clone();
        let relays = RelayBack {
            host,
            fingerprint: host_key.fingerprint,
            serving: Arc::default(),
        };
        let follower_relays = relays.clone();
        std::thread::Builder::new()
            .name("lanshare-session-reader".into())
            .spawn(move || follow(connection, &ping_writer, &sender, &follower_relays))
            .map_err(Error::lost)?;
        Ok((
            Self {
                host,
                passcode: options.passcode.clone(),
                credentials: Credentials {
                    client_id,
                    username: username.to_owned(),
                    ticket,
                },
                role,
                host_key,
                writer,
                events,
                relays,
            },
            snapshot,
        ))
    }

    /// The host's key, as checked on joining (and whether this was the first contact).
    pub fn host_key(&self) -> HostKey {
        self.host_key
    }

    /// The host's address.
    pub fn host(&self) -> SocketAddr {
        self.host
    }

    /// The passcode this session joined with, for transfers that need it (downloads, see
    /// [`worker::spawn_download_with`](super::worker::spawn_download_with)); uploads proven with
    /// [`Session::credentials`] need none.
    pub fn passcode(&self) -> Option<&Passcode> {
        self.passcode.as_ref()
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

    /// Serves the downloads the host relays from `server`'s files, for downloaders that cannot
    /// reach it directly (the host asks over this session; the connection goes to the host).
    pub fn serve_relays(&self, server: &DirectServer) {
        self.serve_relays_with(server.relay_serving());
    }

    /// [`Session::serve_relays`] with the server's relay handle (a [`LiveSession`] keeps one
    /// for every session it joins).
    ///
    /// [`LiveSession`]: super::live::LiveSession
    pub(super) fn serve_relays_with(&self, serving: RelayServing) {
        *self
            .relays
            .serving
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(serving);
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
        self.await_reply(
            timeout,
            "the host did not answer the delete",
            |event| match event {
                SessionEvent::FileDeleted(id) if id == file_id => Some(Ok(())),
                SessionEvent::DeleteFailed {
                    file_id: id,
                    reason,
                } if id == file_id => Some(Err(refused(file_id, reason))),
                _ => None,
            },
        )
    }

    /// Asks the host to list a file shared from this machine (`DIRECT_SHARE`, its server on
    /// `share.port`) without waiting: the answer arrives as [`SessionEvent::DirectShared`] or
    /// [`SessionEvent::DirectShareFailed`], told apart from others by the file's SHA-256.
    pub fn request_direct_share(&self, share: &DirectShare) -> Result<(), Error> {
        self.send(&ClientLine::DirectShare(share.clone()))
    }

    /// Shares a file from this machine (`DIRECT_SHARE`, its server on `share.port`) and waits
    /// for the host to list it, passing over other events; returns its id and the key the
    /// host signs grants with (for the server to trust).
    pub fn share_directly(
        &self,
        share: &DirectShare,
        timeout: Duration,
    ) -> Result<(FileId, PublicKey), Error> {
        self.request_direct_share(share)?;
        let unanswered = "the host did not answer the direct share";
        self.await_reply(timeout, unanswered, |event| match event {
            SessionEvent::DirectShared {
                file_id,
                sha256,
                grant_key,
            } if sha256 == share.sha256 => Some(Ok((file_id, grant_key))),
            SessionEvent::DirectShareFailed { sha256, reason } if sha256 == share.sha256 => {
                Some(Err(Error::Refused(reason)))
            }
            _ => None,
        })
    }

    /// Asks the host to change who may see a file this participant shared (`only`: `None` for
    /// everyone); the answer arrives as the file offered again ([`SessionEvent::FileOffered`])
    /// or [`SessionEvent::AccessFailed`].
    pub fn request_access(&self, file_id: FileId, only: Option<Audience>) -> Result<(), Error> {
        self.send(&ClientLine::SetAccess { file_id, only })
    }

    /// Changes who may see a file and waits for the host's answer, passing over other events;
    /// returns the file as the host lists it now.
    pub fn set_access(
        &self,
        file_id: FileId,
        only: Option<Audience>,
        timeout: Duration,
    ) -> Result<FileEntry, Error> {
        self.request_access(file_id, only)?;
        let unanswered = "the host did not answer the change of who sees the file";
        self.await_reply(timeout, unanswered, |event| match event {
            SessionEvent::FileOffered(entry) if entry.id == file_id => Some(Ok(*entry)),
            SessionEvent::AccessFailed {
                file_id: id,
                reason,
            } if id == file_id => Some(Err(refused(file_id, reason))),
            _ => None,
        })
    }

    /// Asks the host to add a comment to a file; it arrives as [`SessionEvent::CommentAdded`]
    /// (to every session that may see the file) or [`SessionEvent::CommentFailed`].
    pub fn request_comment(&self, file_id: FileId, text: &str) -> Result<(), Error> {
        self.send(&ClientLine::Comment {
            file_id,
            text: text.to_owned(),
        })
    }

    /// Asks the host to delete a comment; the answer arrives as
    /// [`SessionEvent::CommentDeleted`] or [`SessionEvent::CommentFailed`].
    pub fn request_delete_comment(&self, file_id: FileId, comment_id: u64) -> Result<(), Error> {
        self.send(&ClientLine::DeleteComment {
            file_id,
            comment_id,
        })
    }

    /// Comments on a file and waits for the host to pass the comment on (returned as kept),
    /// passing over other events.
    pub fn comment(
        &self,
        file_id: FileId,
        text: &str,
        timeout: Duration,
    ) -> Result<CommentInfo, Error> {
        self.request_comment(file_id, text)?;
        let own = self.credentials.client_id;
        self.await_comment_reply(file_id, timeout, |event| match event {
            SessionEvent::CommentAdded(comment)
                if comment.file_id == file_id && comment.author_id == own =>
            {
                Some(comment)
            }
            _ => None,
        })
    }

    /// Deletes a comment and waits for the host's answer, passing over other events.
    pub fn delete_comment(
        &self,
        file_id: FileId,
        comment_id: u64,
        timeout: Duration,
    ) -> Result<(), Error> {
        self.request_delete_comment(file_id, comment_id)?;
        self.await_comment_reply(file_id, timeout, |event| match event {
            SessionEvent::CommentDeleted {
                file_id: id,
                comment_id: gone,
            } if id == file_id && gone == comment_id => Some(()),
            _ => None,
        })
    }

    /// Waits for the event `wanted` picks, or the refusal of a comment on `file_id`.
    fn await_comment_reply<T>(
        &self,
        file_id: FileId,
        timeout: Duration,
        mut wanted: impl FnMut(SessionEvent) -> Option<T>,
    ) -> Result<T, Error> {
        let unanswered = "the host did not answer about the comment";
        self.await_reply(timeout, unanswered, |event| match event {
            SessionEvent::CommentFailed {
                file_id: id,
                reason,
            } if id == file_id => Some(Err(refused(file_id, reason))),
            event => wanted(event).map(Ok),
        })
    }

    /// Waits up to `timeout` for the answer `answer` picks among the events, passing over
    /// the others; the session's end is a refusal, no answer in time says `unanswered`.
    fn await_reply<T>(
        &self,
        timeout: Duration,
        unanswered: &str,
        mut answer: impl FnMut(SessionEvent) -> Option<Result<T, Error>>,
    ) -> Result<T, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.events.recv_deadline(deadline) {
                Ok(SessionEvent::Closed(reason)) => return Err(Error::Refused(reason)),
                Ok(event) => {
                    if let Some(answer) = answer(event) {
                        return answer;
                    }
                }
                Err(_) => return Err(no_answer(unanswered)),
            }
        }
    }

    fn send(&self, line: &ClientLine) -> Result<(), Error> {
        self.writer.send(line).map_err(|_| Error::SessionClosed)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.writer.shut_down();
    }
}

/// `JOIN` (after proving the `passcode`, if any), then the proof of `identity` the host's
/// challenge asks for, bound to this connection; returns what the host's `WELCOME` gives.
fn handshake(
    connection: &mut Connection,
    username: &str,
    identity: &Identity,
    passcode: Option<&Passcode>,
) -> Result<(ClientId, Ticket, Role), Error> {
    if let Some(passcode) = passcode {
        connection.prove_passcode(passcode, Some(identity))?;
    }
    if connection.host_takes_features() {
        connection.send(&ClientLine::Features(Features::ALL))?;
    }
    connection.send(&ClientLine::Join {
        version: PROTOCOL_VERSION,
        username: username.to_owned(),
        public_key: identity.public_key(),
    })?;
    let binding = connection.channel_binding()?;
    let nonce = match connection.read_reply(HANDSHAKE_TIMEOUT)? {
        HostLine::Challenge { nonce } => nonce,
        other => return Err(Error::unexpected_reply(&other)),
    };
    connection.send(&ClientLine::Proof {
        signature: identity.answer_challenge(&nonce, Some(&binding)),
    })?;
    match connection.read_reply(HANDSHAKE_TIMEOUT)? {
        HostLine::Welcome {
            client_id,
            ticket,
            role,
        } => Ok((client_id, ticket, role)),
        other => Err(Error::unexpected_reply(&other)),
    }
}

/// What one line from the host means to a following session.
enum Followed {
    /// Something to report.
    Event(SessionEvent),
    /// Nothing to report (yet).
    Nothing,
    /// The session is over, for this reason.
    End(String),
    /// The host asks for a relay connection (`RELAY_WANTED`).
    Relay(RelayToken, FileId),
}

/// The reader thread: turns host lines into events and keeps the session alive: it pings
/// after every [`PING_INTERVAL`] in which it sent nothing, whether or not the host spoke (a
/// host that keeps telling of others, a join flood for one, still needs to hear from it).
fn follow(
    mut connection: Connection,
    writer: &SharedWriter,
    events: &flume::Sender<SessionEvent>,
    relays: &RelayBack,
) {
    let mut offers = OfferAssembler::default();
    let mut silent_intervals = 0;
    let mut pinged = Instant::now();
    let reason = loop {
        let line = match connection.read_line(PING_INTERVAL) {
            Ok(line) => {
                silent_intervals = 0;
                Some(line)
            }
            Err(ReadError::TimedOut) => {
                silent_intervals += 1;
                if silent_intervals >= 2 {
                    break "the host stopped answering".into();
                }
                None
            }
            Err(error) => break why_reading_stopped(error),
        };
        if line.is_none() || pinged.elapsed() >= PING_INTERVAL {
            if writer.send(&ClientLine::Ping).is_err() {
                break "the connection to the host broke".into();
            }
            pinged = Instant::now();
        }
        let Some(line) = line else {
            continue;
        };
        let event = match meaning(line, &mut offers) {
            Followed::Event(event) => event,
            Followed::Nothing => continue,
            Followed::Relay(token, file_id) => {
                relays.answer(token, file_id);
                continue;
            }
            Followed::End(reason) => break reason,
        };
        if events.send(event).is_err() {
            // Nobody listens any more: the session's owner is gone.
            break String::new();
        }
    };
    writer.shut_down();
    let _ = events.send(SessionEvent::Closed(reason));
}

/// What a session says when no line could be read (short of a silence, which is pinged).
fn why_reading_stopped(error: ReadError) -> String {
    match error {
        ReadError::Closed => "the host closed the connection".into(),
        ReadError::TimedOut => "the host stopped answering".into(),
        ReadError::TooLong => "the host sent a line that is too long".into(),
        ReadError::Garbled(error) => format!("unexpected reply from the host: {error}"),
        ReadError::Io(error) => format!("the connection to the host broke: {error}"),
    }
}

/// What `line` means to a session whose file offers so far `offers` holds.
fn meaning(line: HostLine, offers: &mut OfferAssembler) -> Followed {
    let event = match line {
        HostLine::Pong => return Followed::Nothing,
        HostLine::RelayWanted { token, file_id } => return Followed::Relay(token, file_id),
        HostLine::FileDeleted { file_id } => SessionEvent::FileDeleted(file_id),
        HostLine::PeerJoined {
            client_id,
            username,
        } => SessionEvent::PeerJoined(Peer {
            client_id,
            username,
        }),
        HostLine::PeerLeft { client_id } => SessionEvent::PeerLeft(client_id),
        HostLine::DeleteFailed { file_id, reason } => {
            SessionEvent::DeleteFailed { file_id, reason }
        }
        HostLine::AccessFailed { file_id, reason } => {
            SessionEvent::AccessFailed { file_id, reason }
        }
        HostLine::CommentAdded(comment) if !offers.is_pending(comment.file_id) => {
            SessionEvent::CommentAdded(comment)
        }
        HostLine::FilePreview {
            file_id,
            kind,
            size,
        } if !offers.is_pending(file_id) => SessionEvent::PreviewReady {
            file_id,
            preview: PreviewAvailable { kind, size },
        },
        HostLine::CommentDeleted {
            file_id,
            comment_id,
        } => SessionEvent::CommentDeleted {
            file_id,
            comment_id,
        },
        HostLine::CommentFailed { file_id, reason } => {
            SessionEvent::CommentFailed { file_id, reason }
        }
        HostLine::DirectShared {
            file_id,
            sha256,
            grant_key,
        } => SessionEvent::DirectShared {
            file_id,
            sha256,
            grant_key,
        },
        HostLine::FileState { file_id, available } if !offers.is_pending(file_id) => {
            SessionEvent::FileState { file_id, available }
        }
        HostLine::DirectFailed { sha256, reason } => {
            SessionEvent::DirectShareFailed { sha256, reason }
        }
        HostLine::Error(reason) => return Followed::End(reason),
        line @ (HostLine::FileOffer { .. }
        | HostLine::FileInfo(_)
        | HostLine::FileAccess { .. }
        | HostLine::FileVersions { .. }
        | HostLine::FilePreview { .. }
        | HostLine::CommentAdded(_)
        | HostLine::FileState { .. }
        | HostLine::FileMeta { .. }) => match offers.feed(line) {
            Ok(Some(entry)) => SessionEvent::FileOffered(Box::new(entry)),
            Ok(None) => return Followed::Nothing,
            Err(error) => return Followed::End(error.to_string()),
        },
        other => return Followed::End(Error::unexpected_reply(&other).to_string()),
    };
    Followed::Event(event)
}

/// What the host's refusal of a request about `file_id` means: the file is gone, or the reason.
fn refused(file_id: FileId, reason: String) -> Error {
    if reason == "File not found" {
        Error::NotFound(file_id)
    } else {
        Error::Refused(reason)
    }
}

/// The host did not answer a request in time (`what` says which).
fn no_answer(what: &str) -> Error {
    Error::lost(std::io::Error::new(std::io::ErrorKind::TimedOut, what))
}
