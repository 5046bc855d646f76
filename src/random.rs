//! Random bytes from the operating system, for keys, nonces, tickets and temporary names.

use std::io;

/// `N` bytes from the OS's secure random source.
pub fn random_bytes<const N: usize>() -> io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(io::Error::other)?;
    Ok(bytes)
}
