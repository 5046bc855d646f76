//! A doorbell for a host thread that sleeps until there is work: rung when a file is stored,
//! and rung for good when the host stops. The expiry thread and the previews thread each have
//! one.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// What wakes the thread.
#[derive(Default)]
struct Signals {
    /// Rung since the thread last woke.
    rung: bool,
    /// The host is stopping.
    stopped: bool,
}

/// Wakes one background thread of the host.
#[derive(Default)]
pub(super) struct Doorbell {
    signals: Mutex<Signals>,
    wake: Condvar,
}

impl Doorbell {
    fn signals(&self) -> MutexGuard<'_, Signals> {
        // Two flags, each set or cleared at once: a poisoned lock is still consistent.
        self.signals.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells the thread there may be work (a file was stored).
    pub(super) fn ring(&self) {
        self.signals().rung = true;
        self.wake.notify_all();
    }

    /// Ends the thread (after what it is doing).
    pub(super) fn stop(&self) {
        self.signals().stopped = true;
        self.wake.notify_all();
    }

    /// Whether the host is stopping.
    pub(super) fn is_stopped(&self) -> bool {
        self.signals().stopped
    }

    /// Sleeps until rung or stopped, or `longest` has passed (`None`: no limit); false once
    /// stopped.
    pub(super) fn sleep(&self, longest: Option<Duration>) -> bool {
        let deadline = longest.map(|pause| Instant::now() + pause);
        let mut signals = self.signals();
        while !signals.rung && !signals.stopped {
            signals = match deadline {
                None => self
                    .wake
                    .wait(signals)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    self.wake
                        .wait_timeout(signals, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
        signals.rung = false;
        !signals.stopped
    }
}
