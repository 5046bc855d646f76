//! Proving the host's passcode without sending it: the host's side of `PAKE` (SPAKE2 bound to
//! the TLS connection, see [`crate::tls`]), with the gate's wait after wrong guesses.

use super::state::Shared;
use super::wire::{Connection, Silence};
use crate::identity::verify_pake_claim;
use crate::protocol::{ClientLine, HostLine, KeyClaim, PAKE_MESSAGE_BYTES};
use crate::tls::host_answer;

/// Why a passcode exchange did not open the connection; the client has been told.
pub(super) struct Failed;

/// Runs the exchange the participant opened with `PAKE:<message>`: answer with the host's
/// message, check the participant's `PAKE_PROOF`, and prove the host's side in turn.
pub(super) fn exchange(
    shared: &Shared,
    connection: &mut Connection,
    message: &[u8; PAKE_MESSAGE_BYTES],
    claim: Option<KeyClaim>,
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
    // A claim not signed on this very connection (as through a man in the middle) counts for
    // nothing: the exchange goes on as a stranger's and fails there, with the usual words.
    let stranger = !claim.is_some_and(|claim| {
        verify_pake_claim(&claim.key, message, &binding, &claim.signature)
            && shared.registry.knows(&claim.key)
    });
    if let Err(refused) = shared.gate.may_guess(peer.ip(), stranger) {
        tracing::debug!("Refused a passcode attempt from {peer}: {refused}");
        warn_of_guessing(shared);
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
        let refused = shared.gate.wrong(peer.ip(), stranger);
        tracing::warn!("Refused a passcode from {peer}: {refused}");
        warn_of_guessing(shared);
        connection.refuse(refused);
        return Err(Failed);
    }
    shared.gate.right(peer.ip());
    let host_proof = HostLine::PakeProof {
        proof: proofs.host(),
    };
    connection.reply(&host_proof).map_err(|_| Failed)
}

/// How often the log tells of passcode guessing at most.
const GUESSING_LOGGED_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Tells the log that someone is guessing the passcode, and from how many addresses (at most
/// once per [`GUESSING_LOGGED_EVERY`], while guesses are being turned away).
fn warn_of_guessing(shared: &Shared) {
    if let Some(seen) = shared.gate.to_log(GUESSING_LOGGED_EVERY) {
        tracing::warn!(
            "Someone is guessing the passcode: {} wrong and {} turned away in the last minute, \
             from {} addresses",
            seen.wrong,
            seen.turned_away,
            seen.addresses
        );
    }
}
