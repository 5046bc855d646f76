//! lanshare's wire protocol: pure parsing and encoding of its lines, no I/O.
//!
//! Every exchange on the port (5005 by default) is a line of UTF-8 ended by `\n`, optionally
//! followed by raw file bytes. The seed's commands (`UPLOAD`, `DOWNLOAD`, `READY`, `FILE`,
//! `ERROR`, `FILE_OFFER`, `FILE_DELETED`) keep their exact format; lanshare adds a control
//! session (`JOIN` …) and a few replies. PROTOCOL.md is the byte-for-byte description.

mod escape;
mod fields;
mod hex;
mod message;

pub use escape::{escape, unescape};
pub use fields::{
    CHUNK_SIZE, ClientId, DEFAULT_MAX_FILE_SIZE, DEFAULT_PORT, FileId, GUEST_CLIENT_ID,
    MAX_FILENAME_BYTES, MAX_LINE_BYTES, MAX_PASSCODE_CHARS, MAX_USERNAME_CHARS, PROTOCOL_VERSION,
    Passcode, ProtocolError, PublicKey, ResumeKey, Sha256Digest, Ticket, TransferCheck,
    validate_username,
};
pub use hex::{decode_hex, encode_hex};
pub use message::{ClientLine, HostLine, Role, UploadRequest};
