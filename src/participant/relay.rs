//! The sharer's side of a relay: when a downloader cannot reach this participant's server,
//! the host asks over the session (`RELAY_WANTED`) and this side opens a connection to the
//! host itself (`RELAY_SEND`), on which its server serves the download.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::connection::Connection;
use crate::direct::RelayServing;
use crate::protocol::{ClientLine, FileId, Fingerprint, RelayToken};
use crate::tls::Trust;

/// How long connecting to the host for a relay may take.
const RELAY_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What a sharer's session needs to serve relays: the host to connect back to, and the server
/// whose files it serves (none until [`crate::participant::Session::serve_relays`]).
#[derive(Clone)]
pub(super) struct RelayBack {
    /// The host's address.
    pub host: SocketAddr,
    /// The host's certificate, pinned on the connection back.
    pub fingerprint: Fingerprint,
    /// The server, once this participant shares directly.
    pub serving: Arc<Mutex<Option<RelayServing>>>,
}

impl RelayBack {
    /// The host asks for `file_id` over a connection of this participant's (`RELAY_WANTED`):
    /// opens it and serves the download on a thread of its own, if this participant serves
    /// files at all.
    pub(super) fn answer(&self, token: RelayToken, file_id: FileId) {
        let serving = self.serving.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(serving) = serving.clone().filter(RelayServing::has_room) else {
            return;
        };
        let (host, fingerprint) = (self.host, self.fingerprint);
        let spawned = std::thread::Builder::new()
            .name("lanshare-relay".into())
            .spawn(
                move || match serve_relay(host, fingerprint, &serving, token, file_id) {
                    Ok(()) => tracing::info!("Served #{file_id} through the host's relay"),
                    Err(reason) => tracing::warn!("Relay of #{file_id} failed: {reason}"),
                },
            );
        if let Err(error) = spawned {
            tracing::warn!("No thread for a relay: {error}");
        }
    }
}

/// Connects to the host, shows `token` and serves the relayed download of `file_id`.
fn serve_relay(
    host: SocketAddr,
    fingerprint: Fingerprint,
    serving: &RelayServing,
    token: RelayToken,
    file_id: FileId,
) -> Result<(), String> {
    let trust = Trust::Pinned(fingerprint);
    let connection = Connection::connect_within(host, trust, RELAY_CONNECT_TIMEOUT)
        .map_err(|error| error.to_string())?;
    connection
        .send(&ClientLine::RelaySend { token })
        .map_err(|error| error.to_string())?;
    serving.serve(connection.into_reader(), file_id)
}
