//! Participant identity: an Ed25519 key pair that lasts across runs.
//!
//! The public key is who a participant is; the host never sees the secret. Joining proves the
//! key by signing the host's random challenge, so a key cannot be claimed by someone who only
//! overheard another participant's traffic.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::protocol::{Grant, PublicKey, decode_hex, encode_hex};

/// Domain-separated bytes a participant signs to answer `CHALLENGE:<nonce>`. On an encrypted
/// connection they include its channel binding, so the answer is good on that connection only:
/// a host (or anyone between) cannot pass it on to another.
pub fn challenge_message(nonce: &[u8; 32], binding: Option<&[u8; 32]>) -> Vec<u8> {
    let mut message = match binding {
        None => b"lanshare join v1\0".to_vec(),
        Some(_) => b"lanshare join v2\0".to_vec(),
    };
    message.extend_from_slice(nonce);
    if let Some(binding) = binding {
        message.extend_from_slice(binding);
    }
    message
}

/// Domain-separated bytes a participant signs to say who it is in a passcode exchange: its
/// first SPAKE2 message and the connection's channel binding, so the claim is good for that
/// exchange only.
pub fn pake_claim_message(pake_message: &[u8], binding: &[u8; 32]) -> Vec<u8> {
    let mut message = b"lanshare pake claim v1\0".to_vec();
    message.extend_from_slice(pake_message);
    message.extend_from_slice(binding);
    message
}

/// Checks a participant's claim to `public_key` in a passcode exchange (as
/// [`verify_challenge`] does: strictly).
pub fn verify_pake_claim(
    public_key: &PublicKey,
    pake_message: &[u8],
    binding: &[u8; 32],
    signature: &[u8; 64],
) -> bool {
    verify_strictly(
        public_key,
        &pake_claim_message(pake_message, binding),
        signature,
    )
}

/// Checks an Ed25519 signature strictly: weak (small-order) keys and signatures not in
/// canonical form are refused.
pub(crate) fn verify_strictly(
    public_key: &PublicKey,
    message: &[u8],
    signature: &[u8; 64],
) -> bool {
    VerifyingKey::from_bytes(&public_key.0).is_ok_and(|key| {
        !key.is_weak()
            && key
                .verify_strict(message, &Signature::from_bytes(signature))
                .is_ok()
    })
}

/// Checks a participant's answer to a challenge on a connection with channel binding
/// `binding` (`None` in plain text). Weak keys and signatures that are not in canonical form
/// are refused (`verify_strict`).
pub fn verify_challenge(
    public_key: &PublicKey,
    nonce: &[u8; 32],
    binding: Option<&[u8; 32]>,
    signature: &[u8; 64],
) -> bool {
    verify_strictly(public_key, &challenge_message(nonce, binding), signature)
}

/// Checks a downloader's proof that `grant` is its own, on a connection with channel binding
/// `binding` (as [`verify_challenge`] does: strictly, against the grant's downloader key).
pub fn verify_grant_proof(grant: &Grant, binding: &[u8; 32], proof: &[u8; 64]) -> bool {
    verify_strictly(&grant.downloader, &grant.proof_message(binding), proof)
}

/// A participant's key pair.
pub struct Identity {
    key: SigningKey,
}

impl std::fmt::Debug for Identity {
    /// Shows the public key only: the secret never goes into a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("public_key", &self.public_key().to_string())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// A new random identity.
    pub fn generate() -> io::Result<Self> {
        Ok(Self {
            key: SigningKey::from_bytes(&crate::random::random_bytes::<32>()?),
        })
    }

    /// Loads the identity kept in `dir`, creating and saving one on first use.
    pub fn load_or_create(dir: &Path) -> io::Result<Self> {
        let path = identity_path(dir);
        match fs::read_to_string(&path) {
            Ok(text) => {
                let secret = decode_hex::<32>(text.trim().as_bytes()).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "{} is damaged; delete it to make a new identity",
                            path.display()
                        ),
                    )
                })?;
                Ok(Self {
                    key: SigningKey::from_bytes(&secret),
                })
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let identity = Self::generate()?;
                identity.save(&path)?;
                Ok(identity)
            }
            Err(error) => Err(error),
        }
    }

    fn save(&self, path: &Path) -> io::Result<()> {
        let text = encode_hex(&self.key.to_bytes());
        crate::config::write_secret_file(path, text.as_bytes())
    }

    /// The public key: this participant's lasting identity.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.key.verifying_key().to_bytes())
    }

    /// Signs a claim to this identity in a passcode exchange that opened with `pake_message`
    /// on a connection with channel binding `binding` (see [`pake_claim_message`]).
    pub fn claim_in_pake(&self, pake_message: &[u8], binding: &[u8; 32]) -> [u8; 64] {
        self.key
            .sign(&pake_claim_message(pake_message, binding))
            .to_bytes()
    }

    /// Proves to a sharer that `grant` (made out to this identity) is its own, on the
    /// connection with channel binding `binding` only.
    pub fn prove_grant(&self, grant: &Grant, binding: &[u8; 32]) -> [u8; 64] {
        self.key.sign(&grant.proof_message(binding)).to_bytes()
    }

    /// Signs the host's challenge, on a connection with channel binding `binding` (`None` in
    /// plain text).
    pub fn answer_challenge(&self, nonce: &[u8; 32], binding: Option<&[u8; 32]>) -> [u8; 64] {
        self.key.sign(&challenge_message(nonce, binding)).to_bytes()
    }
}

/// Where the identity is kept inside a config folder.
pub fn identity_path(dir: &Path) -> PathBuf {
    dir.join("identity.key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_challenge_verifies_only_for_its_key_and_nonce() -> io::Result<()> {
        let alice = Identity::generate()?;
        let mallory = Identity::generate()?;
        let nonce = [5u8; 32];
        let answer = alice.answer_challenge(&nonce, None);
        assert!(verify_challenge(&alice.public_key(), &nonce, None, &answer));
        assert!(!verify_challenge(
            &mallory.public_key(),
            &nonce,
            None,
            &answer
        ));
        assert!(!verify_challenge(
            &alice.public_key(),
            &[6u8; 32],
            None,
            &answer
        ));
        Ok(())
    }

    #[test]
    fn an_answer_is_good_on_its_own_connection_only() -> io::Result<()> {
        let alice = Identity::generate()?;
        let nonce = [5u8; 32];
        let answer = alice.answer_challenge(&nonce, Some(&[1; 32]));
        let key = alice.public_key();
        assert!(verify_challenge(&key, &nonce, Some(&[1; 32]), &answer));
        assert!(!verify_challenge(&key, &nonce, Some(&[2; 32]), &answer));
        assert!(!verify_challenge(&key, &nonce, None, &answer));
        Ok(())
    }

    #[test]
    fn a_small_order_key_with_a_forged_signature_is_refused() {
        // The identity point and a signature whose R is that point and s is zero: "valid" for
        // any message under lenient verification, without any secret key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut signature = [0u8; 64];
        signature[0] = 1;
        for nonce in [[0u8; 32], [9u8; 32]] {
            assert!(!verify_challenge(
                &PublicKey(identity),
                &nonce,
                None,
                &signature
            ));
        }
    }

    #[test]
    fn identity_persists_in_its_folder() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let first = Identity::load_or_create(dir.path())?;
        let second = Identity::load_or_create(dir.path())?;
        assert_eq!(first.public_key(), second.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(identity_path(dir.path()))?
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        Ok(())
    }
}
