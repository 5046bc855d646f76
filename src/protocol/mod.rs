//! lanshare's wire protocol: pure parsing and encoding of its lines, no I/O.
//!
//! Every exchange on the port (5005 by default) is a line of UTF-8 ended by `\n`, optionally
//! followed by raw file bytes. The seed's commands (`UPLOAD`, `DOWNLOAD`, `READY`, `FILE`,
//! `ERROR`, `FILE_OFFER`, `FILE_DELETED`) keep their exact format; lanshare adds a control
//! session (`JOIN` …) and a few replies. Discovery's UDP datagrams ([`DiscoveryDatagram`])
//! are one line each too. PROTOCOL.md is the byte-for-byte description.

mod discovery;
mod escape;
mod hex;
mod message;

pub use discovery::{Announcement, DiscoveryDatagram};
pub use escape::{escape, unescape};
pub use hex::{decode_hex, encode_hex};
pub use message::{ClientLine, HostLine, Role, UploadRequest};

use std::fmt;
use std::str::FromStr;

/// The port the seed assigns to file transfer; lanshare serves everything on it.
pub const DEFAULT_PORT: u16 = 5005;
/// The seed's chunk size. The protocol has no framing at this size; it names the unit that
/// progress is counted in by seed clients.
pub const CHUNK_SIZE: usize = 8192;
/// Longest accepted line, newline included. Longer lines are refused with `ERROR`.
pub const MAX_LINE_BYTES: usize = 8192;
/// The seed's maximum file size: 100 MB (counted in 1024s, as the seed does).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 100 * 1024 * 1024;
/// Version spoken in `JOIN`.
pub const PROTOCOL_VERSION: u32 = 1;
/// Longest user name, in characters.
pub const MAX_USERNAME_CHARS: usize = 64;
/// Longest file name, in bytes of UTF-8 (before escaping).
pub const MAX_FILENAME_BYTES: usize = 1024;
/// Longest passcode, in characters.
pub const MAX_PASSCODE_CHARS: usize = 128;
/// The `uploader_id` of files uploaded without proof of identity (bare seed-style uploads).
pub const GUEST_CLIENT_ID: ClientId = 0;

/// Identifies a stored file; assigned by the host, never reused while it runs.
pub type FileId = u64;
/// Identifies a participant; assigned by the host to each participant key.
pub type ClientId = u64;

/// Why a line could not be parsed. The text is what the host sends back after `ERROR:`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The line was empty.
    #[error("Empty command")]
    Empty,
    /// The line was longer than [`MAX_LINE_BYTES`].
    #[error("Command line too long (max {MAX_LINE_BYTES} bytes)")]
    TooLong,
    /// The line, or a field after unescaping, was not UTF-8.
    #[error("Command is not valid UTF-8")]
    NotUtf8,
    /// The first word is not a command of this protocol.
    #[error("Unknown command '{0}'")]
    UnknownCommand(String),
    /// The seed's reply to an `UPLOAD` line with missing fields.
    #[error("Invalid upload command")]
    InvalidUpload,
    /// A command lacked one of its fields.
    #[error("Invalid {command} command: missing {field}")]
    MissingField {
        /// The command word.
        command: &'static str,
        /// The missing field's name.
        field: &'static str,
    },
    /// A numeric field was not a non-negative integer that fits in 64 bits.
    #[error("Invalid {field} '{value}': expected a whole number from 0 to 18446744073709551615")]
    BadNumber {
        /// The field's name.
        field: &'static str,
        /// The text received (shortened).
        value: String,
    },
    /// A hex field had the wrong length or characters.
    #[error("Invalid {field}: expected {digits} hex digits")]
    BadHex {
        /// The field's name.
        field: &'static str,
        /// How many hex digits were expected.
        digits: usize,
    },
    /// A field had a value outside its allowed set.
    #[error("Invalid {field} '{value}'")]
    BadValue {
        /// The field's name.
        field: &'static str,
        /// The text received (shortened).
        value: String,
    },
}

/// A SHA-256 digest, written on the wire as 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Digest(pub [u8; 32]);

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode_hex(&self.0))
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({self})")
    }
}

impl FromStr for Sha256Digest {
    type Err = ProtocolError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        decode_hex(text.as_bytes())
            .map(Self)
            .ok_or(ProtocolError::BadHex {
                field: "sha256",
                digits: 64,
            })
    }
}

/// The transfer check: XXH3-128 of a file's bytes, written on the wire as 32 lower-case hex
/// digits. An uploader compares its own with the host's to know the host received exactly its
/// bytes. The file's SHA-256 stays what the host lists and downloads are verified against;
/// this check only has to catch accidents on the way (it guards against no one: the host
/// reports both), which a 128-bit hash does as surely and far more cheaply (BENCHMARKS.md,
/// "Figures behind design choices").
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransferCheck(pub [u8; 16]);

impl TransferCheck {
    /// The check of `bytes`, hashed at once.
    pub fn of(bytes: &[u8]) -> Self {
        Self(xxhash_rust::xxh3::xxh3_128(bytes).to_be_bytes())
    }
}

impl fmt::Display for TransferCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode_hex(&self.0))
    }
}

impl fmt::Debug for TransferCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransferCheck({self})")
    }
}

/// The client's name for a resumable upload (`UPLOAD_RESUME`): 32 bytes, the same on every
/// attempt at the same upload. The host keeps a cut-off upload under it for the participant
/// who sent it, and only for that participant.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ResumeKey(pub [u8; 32]);

impl fmt::Display for ResumeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode_hex(&self.0))
    }
}

/// A session ticket: proof, on a transfer connection, of a joined participant's identity.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ticket(pub [u8; 16]);

impl fmt::Display for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode_hex(&self.0))
    }
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tickets are secrets: keep them out of logs.
        f.write_str("Ticket(…)")
    }
}

/// A host's passcode, as a client presents it with `PASS`. Like a ticket it is a secret, so
/// its `Debug` form hides it. (A `PASS` line may carry any text; only passcodes made with
/// [`Passcode::new`] can be set on a host or typed by a person.)
#[derive(Clone, PartialEq, Eq)]
pub struct Passcode(pub(crate) String);

impl Passcode {
    /// Checks and wraps a passcode: 1 to [`MAX_PASSCODE_CHARS`] characters, no control
    /// characters. Returns the reason when it is not acceptable.
    pub fn new(text: impl Into<String>) -> Result<Self, String> {
        let text = text.into();
        if text.is_empty() {
            return Err("Passcode is empty".to_owned());
        }
        if text.chars().count() > MAX_PASSCODE_CHARS {
            return Err(format!(
                "Passcode too long (max {MAX_PASSCODE_CHARS} characters)"
            ));
        }
        if text.chars().any(char::is_control) {
            return Err("Passcode contains control characters".to_owned());
        }
        Ok(Self(text))
    }

    /// The passcode's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Passcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passcode(…)")
    }
}

/// Shortens untrusted text for an error message: at most 40 characters, no control characters.
pub(crate) fn shorten_for_message(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text
        .chars()
        .take(40)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > 40 {
        out.push('…');
    }
    out
}

/// Checks a display name: 1 to [`MAX_USERNAME_CHARS`] characters, not blank, no control
/// characters. Returns the reason when it is not acceptable.
pub fn validate_username(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("User name is empty".to_owned());
    }
    if name.chars().count() > MAX_USERNAME_CHARS {
        return Err(format!(
            "User name too long (max {MAX_USERNAME_CHARS} characters)"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("User name contains control characters".to_owned());
    }
    Ok(())
}
