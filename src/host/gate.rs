//! The host's passcode, and the brakes on guessing it.
//!
//! - Per address: after a wrong passcode an address must wait before it may try again, twice as
//!   long after each further wrong one in a row. (The exact address: an IPv6 LAN shares one /64,
//!   and a wait on the /64 would make every neighbour wait out a guesser's delay.)
//! - Host-wide: strangers' wrong guesses are paid from a budget that refills at
//!   [`STRANGER_GUESSES_PER_SECOND`], so a spray from as many addresses as an attacker holds gets
//!   about one guess a second. A right guess costs nothing, so people joining are not slowed
//!   unless someone is guessing. A participant that joined the host before and says so, proven
//!   (`PAKE` with its key, see PROTOCOL.md), is not a stranger: the budget does not apply to it.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::admission::connection_key;
use crate::protocol::Passcode;

/// Each wrong passcode in a row doubles the wait, up to this many times the first one.
const MAX_BACKOFF_FACTOR: u32 = 64;
/// Addresses remembered at most; beyond it, the wait that ends first is forgotten.
const MAX_REMEMBERED: usize = 4096;
/// Wrong guesses this long after the last wait ended no longer count.
const FORGET_AFTER: Duration = Duration::from_secs(600);
/// How fast strangers' budget of wrong guesses refills.
pub(super) const STRANGER_GUESSES_PER_SECOND: f64 = 1.0;
/// How many wrong guesses strangers may make at once when nobody has guessed for a while.
const STRANGER_BURST: f64 = 5.0;
/// How long guessing is remembered for the host's report of it.
const GUESSING_WINDOW: Duration = Duration::from_secs(60);
/// Addresses counted at most in one window of the report.
const MAX_COUNTED_ADDRESSES: usize = 65_536;

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
    /// Strangers have used up the host's budget of wrong guesses.
    #[error(
        "Too many wrong passcodes on this host lately (someone may be guessing it): try again in \
         {} s", wait.as_millis().div_ceil(1000)
    )]
    Busy {
        /// Time until the budget allows one more guess.
        wait: Duration,
    },
}

/// Wrong guesses from one address.
struct Strikes {
    count: u32,
    until: Instant,
}

/// Strangers' budget of wrong guesses.
struct Budget {
    tokens: f64,
    refilled: Instant,
}

impl Budget {
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * STRANGER_GUESSES_PER_SECOND).min(STRANGER_BURST);
        self.refilled = now;
    }

    /// Time until one guess is allowed (zero if it is now).
    fn wait(&self) -> Duration {
        let missing = (1.0 - self.tokens).max(0.0);
        Duration::from_secs_f64(missing / STRANGER_GUESSES_PER_SECOND)
    }
}

/// Guessing seen lately, for the host's log and Host screen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Guessing {
    /// Wrong passcodes checked.
    pub wrong: u64,
    /// Guesses turned away unchecked (an address waiting, or strangers' budget spent).
    pub turned_away: u64,
    /// Addresses they came from.
    pub addresses: usize,
}

/// One window of the guessing report.
struct GuessWindow {
    started: Instant,
    wrong: u64,
    turned_away: u64,
    addresses: HashSet<IpAddr>,
}

impl GuessWindow {
    fn new(now: Instant) -> Self {
        Self {
            started: now,
            wrong: 0,
            turned_away: 0,
            addresses: HashSet::new(),
        }
    }

    fn report(&self) -> Guessing {
        Guessing {
            wrong: self.wrong,
            turned_away: self.turned_away,
            addresses: self.addresses.len(),
        }
    }
}

/// The guessing report: the window being counted and the one before.
struct Report {
    now: GuessWindow,
    before: Guessing,
    logged: Option<Instant>,
}

/// The passcode check, shared by every connection.
pub(super) struct Gate {
    passcode: Option<Passcode>,
    first_wait: Duration,
    strikes: Mutex<HashMap<IpAddr, Strikes>>,
    budget: Mutex<Budget>,
    report: Mutex<Report>,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Gate {
    /// A gate for `passcode` (none: the host is open to everyone on the network).
    pub(super) fn new(passcode: Option<&Passcode>, first_wait: Duration) -> Self {
        let now = Instant::now();
        Self {
            passcode: passcode.cloned(),
            first_wait,
            strikes: Mutex::new(HashMap::new()),
            budget: Mutex::new(Budget {
                tokens: STRANGER_BURST,
                refilled: now,
            }),
            report: Mutex::new(Report {
                now: GuessWindow::new(now),
                before: Guessing::default(),
                logged: None,
            }),
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

    /// Whether `ip` may make a guess now (a `stranger` also needs the host-wide budget); while
    /// it must wait, no guess is looked at.
    pub(super) fn may_guess(&self, ip: IpAddr, stranger: bool) -> Result<(), Refused> {
        let now = Instant::now();
        let waiting = match locked(&self.strikes).get(&connection_key(ip)) {
            Some(entry) if entry.until > now => Some(Refused::Wait {
                ip,
                wait: entry.until - now,
            }),
            _ => None,
        };
        let refused = waiting.or_else(|| {
            let mut budget = locked(&self.budget);
            budget.refill(now);
            (stranger && budget.tokens < 1.0).then(|| Refused::Busy {
                wait: budget.wait(),
            })
        });
        match refused {
            Some(refused) => {
                self.count(ip, now, |window| window.turned_away += 1);
                Err(refused)
            }
            None => Ok(()),
        }
    }

    /// Records a right guess from `ip`: its strikes are forgotten.
    pub(super) fn right(&self, ip: IpAddr) {
        locked(&self.strikes).remove(&connection_key(ip));
    }

    /// Records a wrong guess from `ip` (a `stranger` pays for it from the host-wide budget):
    /// it must wait before the next, twice as long as before if the last was wrong too.
    /// Returns the refusal to send.
    pub(super) fn wrong(&self, ip: IpAddr, stranger: bool) -> Refused {
        let now = Instant::now();
        if stranger {
            let mut budget = locked(&self.budget);
            budget.refill(now);
            budget.tokens -= 1.0;
        }
        self.count(ip, now, |window| window.wrong += 1);
        let key = connection_key(ip);
        let mut strikes = locked(&self.strikes);
        let count = strikes
            .get(&key)
            .filter(|entry| now < entry.until + FORGET_AFTER)
            .map_or(1, |entry| entry.count.saturating_add(1));
        let factor = 2u32.saturating_pow(count - 1).min(MAX_BACKOFF_FACTOR);
        if strikes.len() >= MAX_REMEMBERED && !strikes.contains_key(&key) {
            forget_one(&mut strikes, now);
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

    /// Counts a guess from `ip` in the report.
    fn count(&self, ip: IpAddr, now: Instant, what: impl FnOnce(&mut GuessWindow)) {
        let mut report = locked(&self.report);
        if now.saturating_duration_since(report.now.started) >= GUESSING_WINDOW {
            report.before = report.now.report();
            report.now = GuessWindow::new(now);
        }
        what(&mut report.now);
        if report.now.addresses.len() < MAX_COUNTED_ADDRESSES {
            report.now.addresses.insert(ip);
        }
    }

    /// Guessing seen in the last minute or so (the larger of this window and the one before),
    /// or `None` if there was none.
    pub(super) fn guessing(&self) -> Option<Guessing> {
        let mut report = locked(&self.report);
        let now = Instant::now();
        if now.saturating_duration_since(report.now.started) >= GUESSING_WINDOW {
            report.before = report.now.report();
            report.now = GuessWindow::new(now);
        }
        let current = report.now.report();
        let seen = if current.wrong + current.turned_away
            >= report.before.wrong + report.before.turned_away
        {
            current
        } else {
            report.before
        };
        (seen.wrong + seen.turned_away > 0).then_some(seen)
    }

    /// The guessing to warn about in the log: at most once every `every`, and only while
    /// guesses are being turned away (someone is guessing faster than the brakes allow).
    pub(super) fn to_log(&self, every: Duration) -> Option<Guessing> {
        let guessing = self.guessing().filter(|seen| seen.turned_away > 0)?;
        let mut report = locked(&self.report);
        let now = Instant::now();
        if report
            .logged
            .is_some_and(|at| now.saturating_duration_since(at) < every)
        {
            return None;
        }
        report.logged = Some(now);
        Some(guessing)
    }
}

/// Forgets the strikes whose wait ends first (after those whose wait is over), to make room.
fn forget_one(strikes: &mut HashMap<IpAddr, Strikes>, now: Instant) {
    strikes.retain(|_, entry| entry.until > now);
    if strikes.len() < MAX_REMEMBERED {
        return;
    }
    let soonest = strikes
        .iter()
        .min_by_key(|(_, entry)| entry.until)
        .map(|(ip, _)| *ip);
    if let Some(soonest) = soonest {
        strikes.remove(&soonest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));

    impl Gate {
        /// One guess as a connection makes it: wait if told to, then right or wrong.
        fn check(&self, ip: IpAddr, guess: &str) -> Result<(), Refused> {
            self.may_guess(ip, false)?;
            match self.passcode() {
                Some(passcode) if passcode.as_str() != guess => Err(self.wrong(ip, false)),
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
    fn strangers_share_a_budget_of_wrong_guesses_and_known_participants_do_not()
    -> anyhow::Result<()> {
        let passcode = Passcode::new("open sesame").map_err(anyhow::Error::msg)?;
        let gate = Gate::new(Some(&passcode), Duration::from_secs(60));
        let address = |n: u8| IpAddr::V4(std::net::Ipv4Addr::new(10, 1, 0, n));
        let mut checked = 0;
        for n in 0..20 {
            if gate.may_guess(address(n), true).is_ok() {
                gate.wrong(address(n), true);
                checked += 1;
            }
        }
        assert_eq!(
            checked, 5,
            "the burst, then nothing until the budget refills"
        );
        assert!(matches!(
            gate.may_guess(address(100), true),
            Err(Refused::Busy { .. })
        ));
        assert_eq!(gate.may_guess(address(101), false), Ok(()), "a known key");
        let seen = gate.guessing();
        assert_eq!(
            seen,
            Some(Guessing {
                wrong: 5,
                turned_away: 16,
                addresses: 21
            })
        );
        assert!(gate.to_log(Duration::from_secs(10)).is_some());
        assert!(
            gate.to_log(Duration::from_secs(10)).is_none(),
            "once per period"
        );
        Ok(())
    }

    #[test]
    fn an_ipv6_guesser_does_not_make_its_slash_64_neighbours_wait() -> anyhow::Result<()> {
        let passcode = Passcode::new("open sesame").map_err(anyhow::Error::msg)?;
        let gate = Gate::new(Some(&passcode), Duration::from_secs(60));
        let guesser: IpAddr = "fd00:1::1".parse()?;
        let neighbour: IpAddr = "fd00:1::2".parse()?;
        assert_eq!(gate.check(guesser, "guess"), Err(Refused::Wrong));
        assert!(matches!(
            gate.check(guesser, "open sesame"),
            Err(Refused::Wait { .. })
        ));
        assert_eq!(gate.check(neighbour, "open sesame"), Ok(()));
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
