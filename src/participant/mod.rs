//! The participant side: join a host, follow its file list, upload and download.
//!
//! - [`Session`]: the control session (join with proof of identity, live events, delete);
//! - [`TransferConnection`]: one connection for uploads, downloads and listings;
//! - [`live`]: a session that rejoins by itself after losing the host;
//! - [`worker`]: transfers on background threads reporting [`TransferEvent`]s over flume,
//!   which is what the command line and the desktop app consume;
//! - [`save`]: where downloads land, under names that are safe on every OS.
//!
//! Both kinds of connection talk to the host through one `Connection` type (connection.rs),
//! the only place that touches the socket.

mod address;
mod connection;
mod direct;
mod error;
mod listing;
pub mod live;
mod relay;
mod resume;
pub mod save;
mod session;
mod transfer;
pub mod trust;
pub mod worker;

pub use address::resolve_host;
pub use connection::ShutdownHandle;
pub use direct::DIRECT_CONNECT_TIMEOUT;
pub use error::{Error, Verification};
pub use listing::{FileDetails, FileEntry, Peer, PreviewAvailable, Snapshot, VersionCount};
pub use resume::upload_key;
pub use session::{Credentials, JoinOptions, Session, SessionEvent};
pub use transfer::{Delivered, Downloaded, FetchedPreview, Stored, TransferConnection};
pub use worker::{TransferEvent, TransferHandle, TransferId};
