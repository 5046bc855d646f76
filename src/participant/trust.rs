//! Which host keys this participant trusts: each host address is pinned to the fingerprint it
//! showed at first contact (trust on first use). The command line and the desktop app keep the
//! pins in the config folder ([`keep_pins_in`]); a program that sets no folder keeps them in
//! memory for as long as it runs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use once_cell::sync::Lazy;

use super::error::Error;
use crate::tls::{Fingerprint, KnownHosts, Trust};

/// Where pins are kept.
enum Pins {
    /// For this process only.
    Memory(HashMap<String, Fingerprint>),
    /// In a folder, across runs.
    File(KnownHosts),
}

static PINS: Lazy<Mutex<Pins>> = Lazy::new(|| Mutex::new(Pins::Memory(HashMap::new())));

fn pins() -> MutexGuard<'static, Pins> {
    PINS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What is told of each first contact: the host's address and the fingerprint pinned for it.
type FirstContactHook = Box<dyn Fn(SocketAddr, Fingerprint) + Send + Sync>;

static FIRST_CONTACT: Lazy<Mutex<Option<FirstContactHook>>> = Lazy::new(|| Mutex::new(None));

/// Calls `hook` each time a host is met for the first time (its key just pinned), so that
/// the person can be shown its verification code; it may be called from any thread, and
/// more than once for one host when several connections meet it at once.
pub fn on_first_contact(hook: impl Fn(SocketAddr, Fingerprint) + Send + Sync + 'static) {
    *FIRST_CONTACT.lock().unwrap_or_else(PoisonError::into_inner) = Some(Box::new(hook));
}

/// Pins a host met for the first time and tells the hook.
pub(super) fn first_contact(address: SocketAddr, fingerprint: Fingerprint) -> Result<(), Error> {
    pin(address, fingerprint)?;
    if let Some(hook) = &*FIRST_CONTACT.lock().unwrap_or_else(PoisonError::into_inner) {
        hook(address, fingerprint);
    }
    Ok(())
}

/// Keeps pins in `dir` (the config folder) from now on.
pub fn keep_pins_in(dir: &Path) {
    *pins() = Pins::File(KnownHosts::in_dir(dir));
}

fn known_hosts_error(error: crate::tls::KnownHostsError) -> Error {
    Error::KnownHosts(error.to_string())
}

/// What is known of the host at `address`.
pub(super) fn trust_for(address: SocketAddr) -> Result<Trust, Error> {
    let key = address.to_string();
    match &*pins() {
        Pins::Memory(map) => Ok(map.get(&key).map_or(Trust::FirstContact, |fingerprint| {
            Trust::Pinned(*fingerprint)
        })),
        Pins::File(known) => known.trust(&key).map_err(known_hosts_error),
    }
}

/// The fingerprint pinned for the host at `address`, if any.
pub fn pinned(address: SocketAddr) -> Result<Option<Fingerprint>, Error> {
    Ok(match trust_for(address)? {
        Trust::FirstContact => None,
        Trust::Pinned(fingerprint) => Some(fingerprint),
    })
}

/// Pins the host at `address` to `fingerprint`, replacing any earlier pin.
pub fn pin(address: SocketAddr, fingerprint: Fingerprint) -> Result<(), Error> {
    let key = address.to_string();
    match &mut *pins() {
        Pins::Memory(map) => {
            map.insert(key, fingerprint);
            Ok(())
        }
        Pins::File(known) => known.pin(&key, fingerprint).map_err(known_hosts_error),
    }
}

/// What a participant learnt of a host's identity on connecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostKey {
    /// The fingerprint the host showed (pinned now, if it was not before).
    pub fingerprint: Fingerprint,
    /// True if this was the first contact with the host at this address.
    pub first_contact: bool,
}
