//! Direct transfers' values (PROTOCOL.md, *Direct transfers*): what a sharer announces, and the
//! host's permission for one participant to download one file from it (what is signed, and by
//! whom).

use std::fmt;
use std::net::SocketAddr;

use super::constants::FileId;
use super::fingerprint::Fingerprint;
use super::hex::encode_hex;
use super::library::Audience;
use super::values::{PublicKey, Sha256Digest, TransferCheck};

/// `DIRECT_SHARE:<name>:<size>:<sha256>:<check>:<port>:<fingerprint>[:<names>]`: a
/// participant shares a file from its own machine, served on `port` of the address its session
/// comes from, by a server showing the certificate `sharer`; seen only by `names` (and its
/// sharer and the operator) if they are given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectShare {
    /// The file's name.
    pub name: String,
    /// Its size.
    pub size: u64,
    /// Its SHA-256.
    pub sha256: Sha256Digest,
    /// Its transfer check.
    pub check: TransferCheck,
    /// The port of the sharer's server.
    pub port: u16,
    /// SHA-256 of the sharer's server's certificate.
    pub sharer: Fingerprint,
    /// Who else may see it (`None`: everyone), as `UPLOAD_OPTIONS` says it for an upload.
    pub only: Option<Audience>,
}

/// `DIRECT_ROUTE:<file_id>:<downloader_key>:<expires_at_ms>:<signature>:<fingerprint>:<port>:<ip>`:
/// the host's answer to `DIRECT`: where the sharer's server is, the certificate it shows, and
/// the grant to show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectRoute {
    /// The sharer's server.
    pub address: SocketAddr,
    /// SHA-256 of the sharer's certificate: the connection is refused if it shows another.
    pub sharer: Fingerprint,
    /// The host's permission for this participant to download the file.
    pub grant: Grant,
}

/// A grant: the host says that the participant with key `downloader` may fetch file
/// `file_id` from the sharer whose certificate is `sharer`, until `expires_at_ms`. The host
/// signs it with its grant key (Ed25519), which the sharer learned over its control session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// The file.
    pub file_id: FileId,
    /// The downloader's identity key.
    pub downloader: PublicKey,
    /// Milliseconds since 1970-01-01 UTC after which the sharer refuses it.
    pub expires_at_ms: u64,
    /// The host's Ed25519 signature of [`Grant::signed_message`].
    pub signature: [u8; 64],
}

impl Grant {
    /// The bytes the host signs for a grant of `file_id` to `downloader` at the sharer whose
    /// certificate is `sharer`, good until `expires_at_ms`. The sharer's certificate is not on
    /// the wire (the sharer knows its own), but binds the grant to it.
    pub fn signed_message(
        file_id: FileId,
        downloader: &PublicKey,
        sharer: &Fingerprint,
        expires_at_ms: u64,
    ) -> Vec<u8> {
        let mut message = b"lanshare direct grant v1\0".to_vec();
        message.extend_from_slice(&file_id.to_be_bytes());
        message.extend_from_slice(&downloader.0);
        message.extend_from_slice(&sharer.0);
        message.extend_from_slice(&expires_at_ms.to_be_bytes());
        message
    }

    /// The bytes the downloader signs with its identity key to show the sharer that it holds
    /// the grant's key, on the TLS connection whose channel binding is `binding` only.
    pub fn proof_message(&self, binding: &[u8; 32]) -> Vec<u8> {
        let mut message = b"lanshare direct proof v1\0".to_vec();
        message.extend_from_slice(&self.signature);
        message.extend_from_slice(binding);
        message
    }
}

/// What ties a sharer's `RELAY_SEND` connection to the download it serves: 16 random bytes the
/// host sends over the sharer's session only. Like a ticket it is a secret, kept out of logs.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RelayToken(pub [u8; 16]);

impl fmt::Display for RelayToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode_hex(&self.0))
    }
}

impl fmt::Debug for RelayToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RelayToken(…)")
    }
}
