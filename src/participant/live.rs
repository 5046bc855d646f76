//! A control session that stays up: it joins, follows the host, and after losing the host
//! rejoins with backoff, starting again from a fresh snapshot.
//!
//! Everything runs on one worker thread, reporting [`LiveEvent`]s over a flume channel; the
//! desktop app turns that channel into an Iced subscription.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::address::resolve_host;
use super::error::Error;
use super::listing::Snapshot;
use super::session::{Credentials, JoinOptions, Session, SessionEvent};
use super::trust::HostKey;
use crate::direct::{DirectServer, RelayServing};
use crate::identity::Identity;
use crate::protocol::{DirectShare, FileId, Fingerprint, Passcode, Role};

/// Waits between attempts to rejoin: 1 s, 2 s, 4 s, … up to 30 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.min(5)).min(Duration::from_secs(30))
}

/// What a live session reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveEvent {
    /// Joined (or rejoined): everything the host holds now. Replaces any earlier state.
    Connected {
        /// The host's address.
        host: SocketAddr,
        /// This participant's id on the host.
        client_id: u64,
        /// Whether this participant is the host's operator.
        role: Role,
        /// Proof of identity for transfers.
        credentials: Credentials,
        /// Files and participants at the moment of joining.
        snapshot: Snapshot,
        /// The host's key, as checked on joining.
        host_key: HostKey,
    },
    /// Something changed on the host.
    Session(SessionEvent),
    /// The host was lost; the next attempt to rejoin comes after `retry_in`.
    Lost {
        /// Why it was lost.
        reason: String,
        /// When the next attempt starts.
        retry_in: Duration,
    },
    /// The host shows another key than the one pinned for its address. The worker has
    /// stopped; only the person can decide to trust the new key ([`super::trust::pin`]).
    HostKeyChanged {
        /// The host's address.
        host: SocketAddr,
        /// What was pinned at first contact.
        pinned: Fingerprint,
        /// What the host shows now.
        shown: Fingerprint,
    },
    /// Joining failed in a way retrying cannot fix (the first attempt failed, or the host
    /// refused us). The worker has stopped.
    Failed {
        /// Why.
        reason: String,
    },
}

enum Command {
    Delete(FileId),
    Comment(FileId, String),
    DeleteComment(FileId, u64),
    /// Ask the host to list a file shared from this machine.
    ShareDirectly(Box<DirectShare>),
    /// Serve relays from this server in every session joined from now on.
    ServeRelays(RelayServing),
    /// Cut the wait before the next attempt to rejoin short.
    RetryNow,
    Stop,
}

/// A running live session. Dropping it stops the worker and leaves the host.
pub struct LiveSession {
    commands: flume::Sender<Command>,
    events: flume::Receiver<LiveEvent>,
}

impl LiveSession {
    /// Starts joining `address` (`HOST` or `HOST:PORT`) as `username`, with the host's
    /// `passcode` if it has one.
    pub fn start(
        address: String,
        username: String,
        identity: Arc<Identity>,
        passcode: Option<Passcode>,
    ) -> Self {
        let (commands, command_receiver) = flume::unbounded();
        let (event_sender, events) = flume::unbounded();
        let spawned = std::thread::Builder::new()
            .name("lanshare-live-session".into())
            .spawn({
                let event_sender = event_sender.clone();
                let options = JoinOptions { passcode };
                move || {
                    run(
                        &address,
                        &username,
                        &identity,
                        &options,
                        &command_receiver,
                        &event_sender,
                    );
                }
            });
        if let Err(error) = spawned {
            let _ = event_sender.send(LiveEvent::Failed {
                reason: format!("could not start the session thread: {error}"),
            });
        }
        Self { commands, events }
    }

    /// The session's events, in order.
    pub fn events(&self) -> &flume::Receiver<LiveEvent> {
        &self.events
    }

    /// Asks the host to delete a file; the answer arrives as an event.
    pub fn delete(&self, file_id: FileId) {
        let _ = self.commands.send(Command::Delete(file_id));
    }

    /// Asks the host to add a comment to a file; the answer arrives as an event.
    pub fn comment(&self, file_id: FileId, text: String) {
        let _ = self.commands.send(Command::Comment(file_id, text));
    }

    /// Asks the host to delete a comment; the answer arrives as an event.
    pub fn delete_comment(&self, file_id: FileId, comment_id: u64) {
        let _ = self
            .commands
            .send(Command::DeleteComment(file_id, comment_id));
    }

    /// Asks the host to list a file shared from this machine; the answer arrives as an event
    /// ([`SessionEvent::DirectShared`] or [`SessionEvent::DirectShareFailed`]). A session
    /// joined later knows nothing of it: share it again after [`LiveEvent::Connected`].
    pub fn share_directly(&self, share: DirectShare) {
        let _ = self.commands.send(Command::ShareDirectly(Box::new(share)));
    }

    /// Serves the downloads the host relays from `server`'s files, in this session and every
    /// one joined after (see [`Session::serve_relays`]).
    pub fn serve_relays(&self, server: &DirectServer) {
        let _ = self
            .commands
            .send(Command::ServeRelays(server.relay_serving()));
    }

    /// While the host is lost, tries to rejoin at once instead of waiting out the backoff.
    pub fn retry_now(&self) {
        let _ = self.commands.send(Command::RetryNow);
    }
}

impl Drop for LiveSession {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
    }
}

/// How following one joined session ended.
enum Ended {
    Lost(String),
    Stopped,
}

fn run(
    address: &str,
    username: &str,
    identity: &Identity,
    options: &JoinOptions,
    commands: &flume::Receiver<Command>,
    events: &flume::Sender<LiveEvent>,
) {
    let mut ever_connected = false;
    let mut attempt = 0;
    let mut relays = None;
    loop {
        let joined = resolve_host(address).and_then(|host| {
            Session::join_with(host, username, identity, options).map(|joined| (host, joined))
        });
        let reason = match joined {
            Ok((host, (session, snapshot))) => {
                if let Some(serving) = &relays {
                    session.serve_relays_with(RelayServing::clone(serving));
                }
                ever_connected = true;
                attempt = 0;
                let connected = LiveEvent::Connected {
                    host,
                    client_id: session.client_id(),
                    role: session.role(),
                    credentials: session.credentials().clone(),
                    snapshot,
                    host_key: session.host_key(),
                };
                if events.send(connected).is_err() {
                    return;
                }
                match follow(&session, commands, events, &mut relays) {
                    Ended::Lost(reason) => reason,
                    Ended::Stopped => return,
                }
            }
            Err(Error::HostKeyChanged {
                address,
                pinned,
                shown,
            }) => {
                let _ = events.send(LiveEvent::HostKeyChanged {
                    host: address,
                    pinned,
                    shown,
                });
                return;
            }
            Err(error) if !ever_connected || is_final(&error) => {
                let _ = events.send(LiveEvent::Failed {
                    reason: error.to_string(),
                });
                return;
            }
            Err(error) => error.to_string(),
        };
        let retry_in = backoff(attempt);
        attempt += 1;
        if events.send(LiveEvent::Lost { reason, retry_in }).is_err() {
            return;
        }
        if !wait_out(commands, events, retry_in, &mut relays) {
            return;
        }
    }
}

/// Waits out the backoff `retry_in`, still answering Stop (false: stop) and RetryNow, and
/// keeping the server to serve `relays` from; deletes, comments and direct shares cannot be
/// sent meanwhile, and are refused as such.
fn wait_out(
    commands: &flume::Receiver<Command>,
    events: &flume::Sender<LiveEvent>,
    retry_in: Duration,
    relays: &mut Option<RelayServing>,
) -> bool {
    let deadline = std::time::Instant::now() + retry_in;
    let reason = || "not connected to the host".to_owned();
    loop {
        let refused = match commands.recv_deadline(deadline) {
            Ok(Command::Stop) | Err(flume::RecvTimeoutError::Disconnected) => return false,
            Ok(Command::RetryNow) | Err(flume::RecvTimeoutError::Timeout) => return true,
            Ok(Command::Delete(file_id)) => SessionEvent::DeleteFailed {
                file_id,
                reason: reason(),
            },
            Ok(Command::Comment(file_id, _) | Command::DeleteComment(file_id, _)) => {
                SessionEvent::CommentFailed {
                    file_id,
                    reason: reason(),
                }
            }
            Ok(Command::ShareDirectly(share)) => SessionEvent::DirectShareFailed {
                sha256: share.sha256,
                reason: reason(),
            },
            Ok(Command::ServeRelays(serving)) => {
                *relays = Some(serving);
                continue;
            }
        };
        let _ = events.send(LiveEvent::Session(refused));
    }
}

/// Sends what a command asks of the host on the joined `session`.
fn send_command(session: &Session, command: Command) -> Result<(), Error> {
    match command {
        Command::Delete(file_id) => session.request_delete(file_id),
        Command::Comment(file_id, text) => session.request_comment(file_id, &text),
        Command::DeleteComment(file_id, comment_id) => {
            session.request_delete_comment(file_id, comment_id)
        }
        Command::ShareDirectly(share) => session.request_direct_share(&share),
        // Handled where the server is kept (follow).
        Command::ServeRelays(_) | Command::RetryNow | Command::Stop => Ok(()),
    }
}

/// Errors that another attempt would only repeat.
fn is_final(error: &Error) -> bool {
    matches!(
        error,
        Error::Refused(_)
            | Error::BadAddress(_)
            | Error::Protocol(_)
            | Error::NotEncrypted { .. }
            | Error::PasscodeNotProven
            | Error::KnownHosts(_)
    )
}

/// Forwards a joined session's events and carries out commands until either ends; a server
/// to serve relays from is kept in `relays` for the sessions after.
fn follow(
    session: &Session,
    commands: &flume::Receiver<Command>,
    events: &flume::Sender<LiveEvent>,
    relays: &mut Option<RelayServing>,
) -> Ended {
    loop {
        let next = flume::Selector::new()
            .recv(session.events(), |event| event.map(Ok).map_err(|_| ()))
            .recv(commands, |command| command.map(Err).map_err(|_| ()))
            .wait();
        match next {
            Ok(Ok(SessionEvent::Closed(reason))) => return Ended::Lost(reason),
            Ok(Ok(event)) => {
                if events.send(LiveEvent::Session(event)).is_err() {
                    return Ended::Stopped;
                }
            }
            Ok(Err(Command::ServeRelays(serving))) => {
                session.serve_relays_with(RelayServing::clone(&serving));
                *relays = Some(serving);
            }
            Ok(Err(
                command @ (Command::Delete(_)
                | Command::Comment(..)
                | Command::DeleteComment(..)
                | Command::ShareDirectly(_)),
            )) => {
                if send_command(session, command).is_err() {
                    return Ended::Lost("the connection to the host broke".into());
                }
            }
            // Already joined: nothing to retry.
            Ok(Err(Command::RetryNow)) => {}
            Ok(Err(Command::Stop)) | Err(()) => return Ended::Stopped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_thirty_seconds() {
        let waits: Vec<u64> = (0..8).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
    }
}
