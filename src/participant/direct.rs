//! The downloader's side of a direct transfer: connecting to the participant who shares a
//! file, pinned to the certificate the host vouched for, and showing the host's grant.

use std::time::Duration;

use super::connection::Connection;
use super::error::Error;
use super::transfer::TransferConnection;
use crate::identity::Identity;
use crate::protocol::{ClientLine, DirectRoute, FileId, HostLine};
use crate::tls::Trust;

/// How long connecting to a sharer may take before the host is asked to relay instead.
pub const DIRECT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How long the host may take to answer `DIRECT`.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

impl TransferConnection {
    /// Asks the host where and how to fetch file `file_id`, shared directly (`DIRECT`; after
    /// [`TransferConnection::authenticate`]: the grant is made out to this participant).
    pub fn direct_route(&mut self, file_id: FileId) -> Result<DirectRoute, Error> {
        self.send_line(&ClientLine::Direct { file_id })?;
        match self.read_reply(REPLY_TIMEOUT) {
            Ok(HostLine::DirectRoute(route)) if route.grant.file_id == file_id => Ok(route),
            Ok(other) => Err(Error::unexpected_reply(&other)),
            Err(Error::Refused(reason)) if reason == "File not found" => {
                Err(Error::NotFound(file_id))
            }
            Err(error) => Err(error),
        }
    }

    /// Asks the host to relay file `file_id` from its sharer (`RELAY`; after
    /// [`TransferConnection::authenticate`]), for when the sharer cannot be reached. The host
    /// answers nothing until the download that must follow: `download_from` works as with a
    /// file of the host's own, a refusal coming in place of its reply.
    /// The relayed bytes come as the sharer sends them: never compressed.
    pub fn relay(&mut self, file_id: FileId) -> Result<(), Error> {
        self.set_compression(false);
        self.send_line(&ClientLine::Relay { file_id })
    }

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
