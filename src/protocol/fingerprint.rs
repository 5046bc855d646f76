//! A host's fingerprint (SHA-256 of its TLS certificate), as discovery announces it and
//! participants pin it, and the short verification code people compare.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use super::hex::{decode_hex, encode_hex};

/// SHA-256 of a host's certificate: who the host is, as a participant pins it. Written as 64
/// lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of_certificate(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// The code people read aloud to check they see the same host: 16 digits in groups of
    /// four, taken from the fingerprint (about 53 bits: a stranger's key will not match it).
    pub fn verification_code(&self) -> VerificationCode {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        VerificationCode(u64::from_be_bytes(first) % 10_000_000_000_000_000)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode_hex(&self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// The text is not a fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a host fingerprint (64 hex digits)")]
pub struct BadFingerprint;

impl FromStr for Fingerprint {
    type Err = BadFingerprint;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        decode_hex(text.as_bytes()).map(Self).ok_or(BadFingerprint)
    }
}

/// A host's verification code, shown as `1234 5678 9012 3456`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct VerificationCode(u64);

impl fmt::Display for VerificationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = format!("{:016}", self.0);
        let groups: Vec<&str> = (0..4).map(|at| &digits[at * 4..at * 4 + 4]).collect();
        f.write_str(&groups.join(" "))
    }
}

impl fmt::Debug for VerificationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerificationCode({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_sixteen_digits_in_groups_from_the_fingerprint() -> anyhow::Result<()> {
        let fingerprint = Fingerprint::of_certificate(b"a certificate");
        let code = fingerprint.verification_code().to_string();
        assert_eq!(code.len(), 19, "{code}");
        assert!(
            code.split(' ')
                .all(|group| group.len() == 4 && group.chars().all(|c| c.is_ascii_digit()))
        );
        let other = Fingerprint::of_certificate(b"another certificate");
        assert_ne!(other.verification_code(), fingerprint.verification_code());
        assert_eq!(fingerprint.to_string().parse::<Fingerprint>()?, fingerprint);
        assert!("xyz".parse::<Fingerprint>().is_err());
        let zero = Fingerprint([0; 32]).verification_code();
        assert_eq!(zero.to_string(), "0000 0000 0000 0000");
        Ok(())
    }
}
