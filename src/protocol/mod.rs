//! lanshare's wire protocol: pure parsing and encoding of its lines, no I/O.
//!
//! Every exchange on the port (5005 by default) is a line of UTF-8 ended by `\n`, optionally
//! followed by raw file bytes. The seed's commands (`UPLOAD`, `DOWNLOAD`, `READY`, `FILE`,
//! `ERROR`, `FILE_OFFER`, `FILE_DELETED`) keep their exact format; lanshare adds a control
//! session (`JOIN` …) and a few replies. Discovery's UDP datagrams ([`DiscoveryDatagram`])
//! are one line each too. PROTOCOL.md is the byte-for-byte description.

mod constants;
mod direct;
mod discovery;
mod error;
mod escape;
mod fingerprint;
mod hex;
mod library;
mod message;
mod names;
mod preview;
mod values;

pub use constants::{
    CHUNK_SIZE, ClientId, DEFAULT_MAX_FILE_SIZE, DEFAULT_PORT, FileId, GUEST_CLIENT_ID,
    MAX_FILENAME_BYTES, MAX_LINE_BYTES, MAX_PASSCODE_CHARS, MAX_USERNAME_CHARS, PAKE_MESSAGE_BYTES,
    PROTOCOL_VERSION,
};
pub use direct::{DirectRoute, DirectShare, Grant, RelayToken};
pub use discovery::{Announcement, DiscoveryDatagram};
pub use error::ProtocolError;
pub use escape::{escape, unescape};
pub use fingerprint::{BadFingerprint, Fingerprint, VerificationCode};
pub use hex::{decode_hex, encode_hex};
pub use library::{
    Audience, AudienceError, Category, CommentError, CommentInfo, Expiry, Features, FileInfo,
    MAX_AUDIENCE, MAX_COMMENT_CHARS, MAX_COMMENTS, MAX_EXPIRY_SECS, MAX_TAG_CHARS, MAX_TAGS,
    ShareOptions, TagError, Tags, VersionInfo, comment_text,
};
pub use message::{ClientLine, HostLine, KeyClaim, Role, UploadRequest};
pub use names::{NameKey, clean_name, visible_text};
pub use preview::{MAX_PREVIEW_BYTES, PreviewKind};
pub use values::{
    Passcode, PublicKey, ResumeKey, Sha256Digest, Ticket, TransferCheck, validate_username,
};
