//! The downloader's side of a direct transfer: connecting to the participant who shares a
//! file, pinned to the certificate the host vouched for, and showing the host's grant.

use std::net::SocketAddr;
use std::time::Duration;

use super::connection::Connection;
use super::error::Error;
use super::transfer::TransferConnection;
use crate::identity::Identity;
use crate::protocol::{ClientLine, Fingerprint, Grant};
use crate::tls::Trust;

/// How long connecting to a sharer may take before the host is asked to relay instead.
pub const DIRECT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Where and how to fetch a file shared directly, as the host said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectRoute {
    /// The sharer's server.
    pub address: SocketAddr,
    /// SHA-256 of the sharer's certificate: the connection is refused if it shows another.
    pub sharer: Fingerprint,
    /// The host's permission for this participant to download the file.
    pub grant: Grant,
}

impl TransferConnection {
    /// Connects to the sharer `route` names (pinned to the certificate the host vouched for,
    /// within [`DIRECT_CONNECT_TIMEOUT`]) and shows the grant with `identity`'s proof that it
    /// is its own on this connection. The sharer answers nothing when it accepts; a refusal
    /// comes in place of the download's reply. Then `download_from` works as with the host.
    pub fn connect_direct(route: &DirectRoute, identity: &Identity) -> Result<Self, Error> {
        let trust = Trust::Pinned(route.sharer);
        let connection = Connection::connect_within(route.address, trust, DIRECT_CONNECT_TIMEOUT)?;
        let transfer = Self::over(connection);
        let binding = transfer.channel_binding()?;
        transfer.send_line(&ClientLine::Grant {
            grant: route.grant,
            proof: identity.prove_grant(&route.grant, &binding),
        })?;
        Ok(transfer)
    }
}
