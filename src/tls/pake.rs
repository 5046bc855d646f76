//! Proving knowledge of the host's passcode without sending it: SPAKE2 over the encrypted
//! connection, bound to that connection, with key confirmation both ways.
//!
//! Both sides mix the connection's channel binding into SPAKE2's identities, so the exchange
//! only agrees when both ends share one TLS connection: a man in the middle that terminates TLS
//! on each side sees two different bindings, and its relayed exchange fails even if the
//! participant never pinned the host. A recording of the exchange allows no offline guessing;
//! each attempt allows one online guess, which the host slows down per address.

use sha2::{Digest, Sha256};
use spake2::{Ed25519Group, Identity, Password, Spake2};

use super::crypto::same_secret;
use crate::protocol::{PAKE_MESSAGE_BYTES, Passcode};

/// Why a passcode exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PakeError {
    /// The other side's message is not a SPAKE2 message.
    #[error("malformed passcode exchange message")]
    Malformed,
    /// The other side's proof does not match: it does not know the same passcode, or the
    /// connection is not the same one end to end.
    #[error("the passcode proof does not match")]
    Mismatch,
}

/// What each side sends to prove it derived the same key.
pub struct Proofs {
    key: Vec<u8>,
}

impl Proofs {
    /// A value only holders of the agreed key can compute, distinct per role. The key has a
    /// fixed length and comes first, so SHA-256 of this input is a sound keyed hash here.
    fn mac(&self, role: &[u8]) -> [u8; 32] {
        let mut hash = Sha256::new();
        hash.update(&self.key);
        hash.update(b"lanshare passcode proof v1\0");
        hash.update(role);
        hash.finalize().into()
    }

    /// The participant's proof.
    pub fn participant(&self) -> [u8; 32] {
        self.mac(b"participant")
    }

    /// The host's proof.
    pub fn host(&self) -> [u8; 32] {
        self.mac(b"host")
    }

    /// Checks the participant's proof in constant time.
    pub fn check_participant(&self, proof: &[u8; 32]) -> Result<(), PakeError> {
        equal(&self.participant(), proof)
    }

    /// Checks the host's proof in constant time.
    pub fn check_host(&self, proof: &[u8; 32]) -> Result<(), PakeError> {
        equal(&self.host(), proof)
    }
}

fn equal(expected: &[u8; 32], given: &[u8; 32]) -> Result<(), PakeError> {
    if same_secret(expected, given) {
        Ok(())
    } else {
        Err(PakeError::Mismatch)
    }
}

fn identities(binding: &[u8; 32]) -> (Identity, Identity) {
    let side = |name: &[u8]| {
        let mut id = name.to_vec();
        id.extend_from_slice(binding);
        Identity::new(&id)
    };
    (side(b"lanshare participant\0"), side(b"lanshare host\0"))
}

/// A SPAKE2 message as the protocol carries it.
pub type PakeMessage = [u8; PAKE_MESSAGE_BYTES];

fn message(bytes: Vec<u8>) -> Result<PakeMessage, PakeError> {
    bytes.try_into().map_err(|_| PakeError::Malformed)
}

/// The participant's half of an exchange in progress.
pub struct ParticipantPake {
    state: Spake2<Ed25519Group>,
}

impl ParticipantPake {
    /// Starts an exchange on the connection whose channel binding is `binding`; returns the
    /// message to send.
    pub fn start(
        passcode: &Passcode,
        binding: &[u8; 32],
    ) -> Result<(Self, PakeMessage), PakeError> {
        let (participant, host) = identities(binding);
        let password = Password::new(passcode.as_str().as_bytes());
        let (state, hello) = Spake2::<Ed25519Group>::start_a(&password, &participant, &host);
        Ok((Self { state }, message(hello)?))
    }

    /// Takes the host's message; returns the proofs of the agreed key.
    pub fn finish(self, host_message: &PakeMessage) -> Result<Proofs, PakeError> {
        let key = self
            .state
            .finish(host_message)
            .map_err(|_| PakeError::Malformed)?;
        Ok(Proofs { key })
    }
}

/// The host's half: answers a participant's message; returns the host's message and the
/// proofs of the agreed key.
pub fn host_answer(
    passcode: &Passcode,
    binding: &[u8; 32],
    participant_message: &PakeMessage,
) -> Result<(PakeMessage, Proofs), PakeError> {
    let (participant, host) = identities(binding);
    let password = Password::new(passcode.as_str().as_bytes());
    let (state, answer) = Spake2::<Ed25519Group>::start_b(&password, &participant, &host);
    let key = state
        .finish(participant_message)
        .map_err(|_| PakeError::Malformed)?;
    Ok((message(answer)?, Proofs { key }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passcode(text: &str) -> anyhow::Result<Passcode> {
        Passcode::new(text).map_err(anyhow::Error::msg)
    }

    #[test]
    fn the_same_passcode_on_the_same_connection_agrees() -> anyhow::Result<()> {
        let binding = [7u8; 32];
        let (participant, hello) = ParticipantPake::start(&passcode("blue: 42 %")?, &binding)?;
        let (answer, host) = host_answer(&passcode("blue: 42 %")?, &binding, &hello)?;
        let mine = participant.finish(&answer)?;
        host.check_participant(&mine.participant())?;
        mine.check_host(&host.host())?;
        assert_ne!(mine.participant(), mine.host());
        Ok(())
    }

    #[test]
    fn another_passcode_or_another_connection_fails() -> anyhow::Result<()> {
        let binding = [7u8; 32];
        let (participant, hello) = ParticipantPake::start(&passcode("right")?, &binding)?;
        let (answer, host) = host_answer(&passcode("wrong")?, &binding, &hello)?;
        let mine = participant.finish(&answer)?;
        assert_eq!(
            host.check_participant(&mine.participant()),
            Err(PakeError::Mismatch)
        );
        // A relay between two connections: each side has its own binding.
        let (participant, hello) = ParticipantPake::start(&passcode("right")?, &[1; 32])?;
        let (answer, host) = host_answer(&passcode("right")?, &[2; 32], &hello)?;
        let mine = participant.finish(&answer)?;
        assert_eq!(mine.check_host(&host.host()), Err(PakeError::Mismatch));
        // A message that is no point of the group: all bytes 0xff.
        assert!(matches!(
            host_answer(&passcode("right")?, &binding, &[0xff; PAKE_MESSAGE_BYTES]),
            Err(PakeError::Malformed)
        ));
        Ok(())
    }
}
