//! Proving the host's passcode without sending it: the host's side of `PAKE` (SPAKE2 bound to
//! the TLS connection, see [`crate::tls`]), with the gate's wait after wrong guesses.

use super::state::Shared;
use super::wire::{Connection, Silence};
use crate::protocol::{ClientLine, HostLine, PAKE_MESSAGE_BYTES};
use crate::tls::host_answer;

/// Why a passcode exchange did not open the connection; the client has been told.
pub(super) struct Failed;

/// Runs the exchange the participant opened with `PAKE:<message>`: answer with the host's
/// message, check the participant's `PAKE_PROOF`, and prove the host's side in turn.
pub(super) fn exchange(
    shared: &Shared,
    connection: &mut Connection,
    message: &[u8; PAKE_MESSAGE_BYTES],
) -> Result<(), Failed> {
    let peer = connection.peer();
    let Some(passcode) = shared.gate.passcode() else {
        connection.refuse("This host has no passcode: join it without one");
        return Err(Failed);
    };
    let Some(binding) = connection.stream().channel_binding() else {
        connection.refuse("A passcode can be proven on an encrypted connection only");
        return Err(Failed);
    };
    if let Err(refused) = shared.gate.may_guess(peer.ip()) {
        tracing::warn!("Refused a passcode attempt from {peer}: {refused}");
        connection.refuse(refused);
        return Err(Failed);
    }
    let Ok((reply, proofs)) = host_answer(passcode, &binding, message) else {
        connection.refuse("Malformed PAKE message");
        return Err(Failed);
    };
    if connection
        .reply(&HostLine::Pake { message: reply })
        .is_err()
    {
        return Err(Failed);
    }
    let proof = match connection.read_command(shared.config.timeouts.command, Silence::Report) {
        Some(ClientLine::PakeProof { proof }) => proof,
        Some(_) => {
            connection.refuse("Expected PAKE_PROOF after PAKE");
            return Err(Failed);
        }
        None => return Err(Failed),
    };
    if proofs.check_participant(&proof).is_err() {
        let refused = shared.gate.wrong(peer.ip());
        tracing::warn!("Refused a passcode from {peer}: {refused}");
        connection.refuse(refused);
        return Err(Failed);
    }
    shared.gate.right(peer.ip());
    let host_proof = HostLine::PakeProof {
        proof: proofs.host(),
    };
    connection.reply(&host_proof).map_err(|_| Failed)
}
