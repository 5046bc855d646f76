//! The host's passcode, and the brake on guessing it: after a wrong passcode an address must
//! wait before it may try again, twice as long after each further wrong one in a row.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::admission::address_key;
use crate::protocol::Passcode;

/// Each wrong passcode in a row doubles the wait, up to this many times the first one.
const MAX_BACKOFF_FACTOR: u32 = 64;
/// Addresses remembered at most; beyond it, the wait that ends first is forgotten.
const MAX_REMEMBERED: usize = 4096;
/// Wrong guesses this long after the last wait ended no longer count.
const FORGET_AFTER: Duration = Duration::from_secs(600);

/// Why a passcode was not accepted. The text is what the client is told after `ERROR:`.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum Refused {
    /// The host asks for a passcode and none was given.
    #[error("This host requires a passcode")]
    Missing,
    /// The passcode was wrong.
    #[error("Wrong passcode")]
    Wrong,
    /// The address guessed wrong recently and must wait.
    #[error("Too many wrong passcodes from {ip}: try again in {} s", wait.as_millis().div_ceil(1000))]
    Wait {
        /// The address.
        ip: IpAddr,
        /// Time left to wait (rounded up to whole seconds in the message).
        wait: Duration,
    },
}

/// Wrong guesses from one address.
struct Strikes {
    count: u32,
    until: Instant,
}

/// The passcode check, shared by every connection.
pub(super) struct Gate {
    passcode: Option<Passcode>,
    first_wait: Duration,
    strikes: Mutex<HashMap<IpAddr, Strikes>>,
}

impl Gate {
    /// A gate for `passcode` (none: the host is open to everyone on the network).
    pub(super) fn new(passcode: Option<&Passcode>, first_wait: Duration) -> Self {
        Self {
            passcode: passcode.cloned(),
            first_wait,
            strikes: Mutex::new(HashMap::new()),
        }
    }

    /// True if the host has no passcode.
    pub(super) fn is_open(&self) -> bool {
        self.passcode.is_none()
    }

    /// The passcode, if the host has one.
    pub(super) fn passcode(&self) -> Option<&Passcode> {
        self.passcode.as_ref()
    }

    fn strikes(&self) -> MutexGuard<'_, HashMap<IpAddr, Strikes>> {
        self.strikes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `ip` may make a guess now; while it must wait, no guess is looked at.
    pub(super) fn may_guess(&self, ip: IpAddr) -> Result<(), Refused> {
        let now = Instant::now();
        match self.strikes().get(&address_key(ip)) {
            Some(entry) if entry.until > now => Err(Refused::Wait {
                ip,
                wait: entry.until - now,
            }),
            _ => Ok(()),
        }
    }

    /// Records a right guess from `ip`: its strikes are forgotten.
    pub(super) fn right(&self, ip: IpAddr) {
        self.strikes().remove(&address_key(ip));
    }

    /// Records a wrong guess from `ip`: it must wait before the next, twice as long as before
    /// if the last was wrong too. Returns the refusal to send.
    pub(super) fn wrong(&self, ip: IpAddr) -> Refused {
        let now = Instant::now();
        let key = address_key(ip);
        let mut strikes = self.strikes();
        let count = strikes
            .get(&key)
            .filter(|entry| now < entry.until + FORGET_AFTER)
            .map_or(1, |entry| entry.count.saturating_add(1));
        let factor = 2u32.saturating_pow(count - 1).min(MAX_BACKOFF_FACTOR);
        if strikes.len() >= MAX_REMEMBERED && !strikes.contains_key(&key) {
            strikes.retain(|_, entry| entry.until > now);
            let soonest = strikes
                .iter()
                .min_by_key(|(_, entry)| entry.until)
                .map(|(ip, _)| *ip);
            if let (true, Some(soonest)) = (strikes.len() >= MAX_REMEMBERED, soonest) {
                strikes.remove(&soonest);
            }
        }
        strikes.insert(
            key,
            Strikes {
                count,
                until: now + self.first_wait * factor,
            },
        );
        Refused::Wrong
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));

    impl Gate {
        /// One guess as a connection makes it: wait if told to, then right or wrong.
        fn check(&self, ip: IpAddr, guess: &str) -> Result<(), Refused> {
            self.may_guess(ip)?;
            match self.passcode() {
                Some(passcode) if passcode.as_str() != guess => Err(self.wrong(ip)),
                _ => {
                    self.right(ip);
                    Ok(())
                }
            }
        }
    }
    const AWAY: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn an_open_gate_takes_anything() {
        let gate = Gate::new(None, Duration::from_secs(1));
        assert!(gate.is_open());
        assert_eq!(gate.check(HOME, "whatever"), Ok(()));
    }

    #[test]
    fn wrong_guesses_wait_longer_each_time_per_address() -> anyhow::Result<()> {
        let wait = Duration::from_millis(40);
        let passcode = Passcode::new("open sesame").map_err(anyhow::Error::msg)?;
        let gate = Gate::new(Some(&passcode), wait);
        assert!(!gate.is_open());
        assert_eq!(gate.check(HOME, "open sesame"), Ok(()));
        assert_eq!(gate.check(HOME, "guess"), Err(Refused::Wrong));
        // Even the right passcode is not checked while the address waits …
        assert!(matches!(
            gate.check(HOME, "open sesame"),
            Err(Refused::Wait { ip: HOME, .. })
        ));
        // … but another address is not held up.
        assert_eq!(gate.check(AWAY, "open sesame"), Ok(()));
        std::thread::sleep(wait);
        assert_eq!(gate.check(HOME, "guess again"), Err(Refused::Wrong));
        // The second wrong guess in a row doubles the wait.
        std::thread::sleep(wait);
        assert!(matches!(
            gate.check(HOME, "open sesame"),
            Err(Refused::Wait { .. })
        ));
        std::thread::sleep(wait);
        assert_eq!(gate.check(HOME, "open sesame"), Ok(()));
        // Success forgets the strikes: the next wrong guess waits only the first time again.
        assert_eq!(gate.check(HOME, "nope"), Err(Refused::Wrong));
        std::thread::sleep(wait);
        assert_eq!(gate.check(HOME, "open sesame"), Ok(()));
        Ok(())
    }

    #[test]
    fn the_wait_is_told_in_whole_seconds() {
        let refused = Refused::Wait {
            ip: HOME,
            wait: Duration::from_millis(300),
        };
        assert_eq!(
            refused.to_string(),
            "Too many wrong passcodes from 10.0.0.1: try again in 1 s"
        );
    }
}
