//! Direct transfers: a participant shares a file from its own machine, the host lists it and
//! vouches for downloaders, and downloaders fetch the bytes from the sharer (PROTOCOL.md,
//! *Direct transfers*).
//!
//! - `grant`: the host's signed permission for one downloader and one file, and its check.
//! - `server`: the sharer's TLS server, which serves only downloaders holding a grant.

mod grant;
mod server;

pub use grant::{GRANT_LIFETIME, GrantRefusal, GrantSigner, check_grant, now_ms};
pub use server::{DIRECT_IDENTITY_FILE, DirectFile, DirectServer, DirectServerError, RelayServing};
