//! What can go wrong on the participant side, worded for the person who sees it.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::protocol::{FileId, HostLine, ProtocolError};
use crate::tls::Fingerprint;

/// A participant-side failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No host answered at the address.
    #[error("cannot reach the host at {address}: {source}")]
    Unreachable {
        /// Where we tried.
        address: String,
        /// The system's reason.
        source: io::Error,
    },
    /// The host shows another key than the one pinned at first contact.
    #[error(
        "the host at {address} is not the one met here before: its verification code was \
         {} and is now {}. If the host was reinstalled or lost its lanshare settings, ask its \
         operator for its code; if it is {}, run `lanshare trust {address}` to accept it. \
         Otherwise someone may be impersonating the host: do not connect",
        pinned.verification_code(), shown.verification_code(), shown.verification_code()
    )]
    HostKeyChanged {
        /// The host's address.
        address: SocketAddr,
        /// The fingerprint pinned at first contact.
        pinned: Fingerprint,
        /// The fingerprint shown now.
        shown: Fingerprint,
    },
    /// No encrypted connection could be made with the host.
    #[error(
        "no encrypted connection with the host at {address} ({reason}): is it a lanshare host, \
         and up to date?"
    )]
    NotEncrypted {
        /// The host's address.
        address: String,
        /// What went wrong.
        reason: String,
    },
    /// The host did not accept the passcode's proof: a wrong passcode, or a connection that is
    /// not the same one end to end (someone in between).
    #[error(
        "Wrong passcode (if you typed it right, something may stand between you and the host: \
         compare its verification code with the one the host shows)"
    )]
    WrongPasscode,
    /// The host did not prove that it knows the passcode.
    #[error(
        "the host did not prove that it knows the passcode: it may not be the host you mean \
         (someone may be in between); nothing was shared with it"
    )]
    PasscodeNotProven,
    /// The pinned host keys could not be read or written.
    #[error("known hosts: {0}")]
    KnownHosts(String),
    /// The address could not be understood or resolved.
    #[error("'{0}' is not a host address (use HOST or HOST:PORT)")]
    BadAddress(String),
    /// The host answered `ERROR:<reason>`.
    #[error("{0}")]
    Refused(String),
    /// The host said something this client does not understand.
    #[error("unexpected reply from the host: {0}")]
    Protocol(String),
    /// The connection broke.
    #[error("connection to the host lost: {0}")]
    ConnectionLost(io::Error),
    /// No file with that id is shared.
    #[error("no file with id {0} is shared on the host")]
    NotFound(FileId),
    /// The file has no preview (none could be made of it, or not yet).
    #[error("#{0} has no preview")]
    NoPreview(FileId),
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Local {
        /// The file concerned.
        path: PathBuf,
        /// The system's reason.
        source: io::Error,
    },
    /// The destination exists and overwriting was not asked for.
    #[error("{} already exists (not overwritten)", .0.display())]
    Exists(PathBuf),
    /// The bytes received do not match what the host listed.
    #[error("'{name}' arrived damaged ({checked} mismatch); nothing was saved")]
    Corrupt {
        /// The file's name.
        name: String,
        /// What they were checked against.
        checked: Verification,
    },
    /// The host stored other bytes than were sent: its transfer check differs from ours.
    #[error(
        "the host's copy (#{file_id}) differs from the file sent (transfer check mismatch); \
         delete it and send the file again"
    )]
    UploadDamaged {
        /// The id the host stored the damaged copy under.
        file_id: FileId,
    },
    /// The transfer was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// The host's connection to us was replaced by a reconnect or a stop.
    #[error("the session with the host is closed")]
    SessionClosed,
}

/// What a download's bytes are checked against: the transfer check the host listed, or the
/// SHA-256 when the host lists no check (a host from before downloads were verified by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The listed SHA-256.
    Sha256,
    /// The listed transfer check.
    TransferCheck,
}

impl fmt::Display for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sha256 => "SHA-256",
            Self::TransferCheck => "transfer check",
        })
    }
}

impl From<ProtocolError> for Error {
    fn from(error: ProtocolError) -> Self {
        Self::Protocol(error.to_string())
    }
}

impl Error {
    /// Wraps a socket error.
    pub(crate) fn lost(error: io::Error) -> Self {
        Self::ConnectionLost(error)
    }

    /// The error for a reply that has no place where it came: [`Error::Refused`] for an
    /// `ERROR` line, [`Error::Protocol`] for any other.
    pub(crate) fn unexpected_reply(line: &HostLine) -> Self {
        match line {
            HostLine::Error(reason) => Self::Refused(reason.clone()),
            other => Self::Protocol(other.encode().trim_end().to_owned()),
        }
    }

    /// Wraps the error of a local file operation.
    pub(crate) fn local(path: &std::path::Path, source: io::Error) -> Self {
        Self::Local {
            path: path.to_path_buf(),
            source,
        }
    }
}
