//! Grants: the host signs them for downloaders, the sharer checks them.

use std::time::Duration;

use ed25519_dalek::{Signer, SigningKey};

use crate::identity::{verify_grant_proof, verify_strictly};
use crate::protocol::{FileId, Fingerprint, Grant, PublicKey};

/// How long a grant is good for: long enough to connect (and retry once), short enough that
/// a grant that leaks is soon worthless.
pub const GRANT_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// The host's key for signing grants: Ed25519, made when the host starts and kept nowhere.
/// Sharers learn its public half over their control session (pinned TLS), so a new one after a
/// restart reaches them when they join again.
pub struct GrantSigner {
    key: SigningKey,
}

impl std::fmt::Debug for GrantSigner {
    /// Shows the public key only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GrantSigner({})", self.public_key())
    }
}

impl GrantSigner {
    /// A new random key.
    pub fn generate() -> std::io::Result<Self> {
        Ok(Self {
            key: SigningKey::from_bytes(&crate::random::random_bytes::<32>()?),
        })
    }

    /// The key sharers check grants against.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.key.verifying_key().to_bytes())
    }

    /// A grant for `downloader` to fetch `file_id` from the sharer whose certificate is
    /// `sharer`, good until `expires_at_ms` (milliseconds since 1970).
    pub fn grant(
        &self,
        file_id: FileId,
        downloader: PublicKey,
        sharer: &Fingerprint,
        expires_at_ms: u64,
    ) -> Grant {
        let message = Grant::signed_message(file_id, &downloader, sharer, expires_at_ms);
        Grant {
            file_id,
            downloader,
            expires_at_ms,
            signature: self.key.sign(&message).to_bytes(),
        }
    }
}

/// Why a sharer turned a downloader away (the text of its one `ERROR:` line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GrantRefusal {
    /// No grant key yet: the sharer is not joined to its host.
    #[error("Not serving yet: the sharer is not connected to its host")]
    NoHost,
    /// The host's signature does not verify (forged, altered, or for another sharer).
    #[error("This grant was not made by the host")]
    Forged,
    /// Too late.
    #[error("This grant has expired: ask the host for another")]
    Expired,
    /// The proof was not made by the grant's key on this connection.
    #[error("This grant was made out to someone else")]
    NotYours,
}

/// Checks `grant` and the downloader's `proof` on the connection with channel binding
/// `binding`, for the sharer whose certificate is `sharer`, against the host's grant key
/// `host_key`, at `now_ms`.
pub fn check_grant(
    (host_key, sharer): (&PublicKey, &Fingerprint),
    grant: &Grant,
    (proof, binding): (&[u8; 64], &[u8; 32]),
    now_ms: u64,
) -> Result<(), GrantRefusal> {
    let message = Grant::signed_message(
        grant.file_id,
        &grant.downloader,
        sharer,
        grant.expires_at_ms,
    );
    if !verify_strictly(host_key, &message, &grant.signature) {
        return Err(GrantRefusal::Forged);
    }
    if grant.expires_at_ms <= now_ms {
        return Err(GrantRefusal::Expired);
    }
    if !verify_grant_proof(grant, binding, proof) {
        return Err(GrantRefusal::NotYours);
    }
    Ok(())
}

/// Milliseconds since 1970-01-01 UTC now (0 before it).
pub fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    #[test]
    fn only_the_hosts_grant_to_this_downloader_on_this_connection_passes() -> anyhow::Result<()> {
        let host = GrantSigner::generate()?;
        let impostor = GrantSigner::generate()?;
        let bob = Identity::generate()?;
        let eve = Identity::generate()?;
        let sharer = Fingerprint([4; 32]);
        let (now, binding) = (1_000_000, [9; 32]);
        let grant = host.grant(7, bob.public_key(), &sharer, now + 60_000);
        let keys = (&host.public_key(), &sharer);
        let proof = bob.prove_grant(&grant, &binding);
        assert_eq!(check_grant(keys, &grant, (&proof, &binding), now), Ok(()));

        let other_connection = bob.prove_grant(&grant, &[8; 32]);
        let eves = eve.prove_grant(&grant, &binding);
        for proof in [other_connection, eves] {
            let refused = check_grant(keys, &grant, (&proof, &binding), now);
            assert_eq!(refused, Err(GrantRefusal::NotYours));
        }
        let late = check_grant(keys, &grant, (&proof, &binding), now + 60_000);
        assert_eq!(late, Err(GrantRefusal::Expired));

        let forged = impostor.grant(7, bob.public_key(), &sharer, now + 60_000);
        let another_file = Grant {
            file_id: 8,
            ..grant
        };
        let another_sharer = host.grant(7, bob.public_key(), &Fingerprint([5; 32]), now + 1);
        for grant in [forged, another_file, another_sharer] {
            let proof = bob.prove_grant(&grant, &binding);
            let refused = check_grant(keys, &grant, (&proof, &binding), now);
            assert_eq!(refused, Err(GrantRefusal::Forged));
        }
        Ok(())
    }
}
