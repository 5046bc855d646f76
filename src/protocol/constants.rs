//! The protocol's numbers: its port, version and limits, and the types of its ids.

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
/// Bytes of a SPAKE2 message (Ed25519 group) in `PAKE`.
pub const PAKE_MESSAGE_BYTES: usize = 33;
/// Longest passcode, in characters.
pub const MAX_PASSCODE_CHARS: usize = 128;
/// The `uploader_id` of files uploaded without proof of identity (bare seed-style uploads).
pub const GUEST_CLIENT_ID: ClientId = 0;

/// Identifies a stored file; assigned by the host, never reused while it runs.
pub type FileId = u64;
/// Identifies a participant; assigned by the host to each participant key.
pub type ClientId = u64;
