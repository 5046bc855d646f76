//! The cryptography every TLS connection and proof uses.

use std::sync::Arc;

use once_cell::sync::Lazy;

/// The crypto provider every TLS connection uses (see BENCHMARKS.md for why this one).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    static PROVIDER: Lazy<Arc<rustls::crypto::CryptoProvider>> =
        Lazy::new(|| Arc::new(rustls::crypto::ring::default_provider()));
    Arc::clone(&PROVIDER)
}

/// Compares two secrets in a time that does not depend on where they differ.
pub fn same_secret(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
