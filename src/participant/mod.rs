//! The participant side: join a host, follow its file list, upload and download.
//!
//! - [`Session`]: the control session (join with proof of identity, live events, delete);
//! - [`TransferConnection`]: one connection for uploads, downloads and listings;
//! - [`live`]: a session that rejoins by itself after losing the host;
//! - [`worker`]: transfers on background threads reporting [`TransferEvent`]s over flume,
//!   which is what the command line and the desktop app consume;
//! - [`save`]: where downloads land, under names that are safe on every OS.

mod address;
mod error;
pub mod live;
mod resume;
pub mod save;
mod session;
mod transfer;
pub mod worker;

pub use address::resolve_host;
pub use error::Error;
pub use resume::upload_key;
pub use session::{Credentials, JoinOptions, Peer, Session, SessionEvent, Snapshot};
pub use transfer::{Downloaded, Stored, TransferConnection};
pub use worker::{TransferEvent, TransferHandle, TransferId};

use chrono::{DateTime, Utc};

use crate::protocol::{ClientId, FileId, Sha256Digest};

/// A shared file as participants see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// The host's id for it.
    pub id: FileId,
    /// Its name as uploaded.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Who shared it.
    pub uploader: String,
    /// The uploader's client id (0 for a guest upload).
    pub uploader_id: ClientId,
    /// When it finished uploading.
    pub uploaded_at: DateTime<Utc>,
    /// SHA-256 of its bytes.
    pub sha256: Sha256Digest,
}
