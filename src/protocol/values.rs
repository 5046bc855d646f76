//! The typed values that lines carry: digests, keys, tickets, passcodes, user names.

use std::fmt;
use std::str::FromStr;

use super::constants::{MAX_PASSCODE_CHARS, MAX_USERNAME_CHARS};
use super::error::ProtocolError;
use super::hex::{decode_hex, encode_hex};
use super::names::clean_name;

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

/// A participant's Ed25519 public key: who it is, across sessions and restarts (it owns the
/// files it shares). Written on the wire and on disk as 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(pub [u8; 32]);

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode_hex(&self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// The transfer check: XXH3-128 of a file's bytes, written on the wire as 32 lower-case hex
/// digits. An uploader compares its own with the host's to know the host received exactly its
/// bytes; the host keeps it with the file and lists it, and downloads are verified against it
/// (the SHA-256 stays listed for people). It only has to catch accidents in storage and code
/// (it guards against no one: the host reports both), which a 128-bit hash does as surely and
/// far more cheaply (BENCHMARKS.md, "Figures behind design choices").
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

impl Ticket {
    /// What `AUTH_PROOF` carries on the encrypted connection whose channel binding is
    /// `binding`: SHA-256 of the ticket and the binding, good on that connection only.
    pub fn bound_proof(&self, binding: &[u8; 32]) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(b"lanshare auth v1\0");
        hash.update(self.0);
        hash.update(binding);
        hash.finalize().into()
    }
}

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

/// Checks a display name: 1 to [`MAX_USERNAME_CHARS`] characters, not blank once the
/// characters that draw nothing are removed ([`clean_name`]), no control characters. Returns
/// the reason when it is not acceptable.
pub fn validate_username(name: &str) -> Result<(), String> {
    if clean_name(name).is_empty() {
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
