//! Transfer slots: how many uploads and downloads move bytes at once.
//!
//! A connection takes a slot only for the transfer itself, never while it waits for a command,
//! so idle and slow-talking clients cannot keep others from being served. When every slot is
//! taken, up to a fixed number of transfers wait for one; any beyond that are refused at once.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

struct State {
    free: usize,
    waiting: usize,
    closed: bool,
}

/// The slots, shared by every connection.
pub(super) struct TransferSlots {
    slots: usize,
    max_waiting: usize,
    state: Mutex<State>,
    freed: Condvar,
}

/// A taken slot, given back when dropped.
pub(super) struct Slot<'a> {
    slots: &'a TransferSlots,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.slots.state().free += 1;
        self.slots.freed.notify_one();
    }
}

impl TransferSlots {
    /// `slots` transfers at once; up to `max_waiting` more may wait for one.
    pub(super) fn new(slots: usize, max_waiting: usize) -> Self {
        Self {
            slots,
            max_waiting,
            state: Mutex::new(State {
                free: slots,
                waiting: 0,
                closed: false,
            }),
            freed: Condvar::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many slots there are.
    pub(super) fn count(&self) -> usize {
        self.slots
    }

    /// How many transfers are waiting for a slot.
    pub(super) fn waiting(&self) -> usize {
        self.state().waiting
    }

    /// Gives no more slots, and wakes every transfer waiting for one (the host is stopping).
    pub(super) fn close(&self) {
        self.state().closed = true;
        self.freed.notify_all();
    }

    /// Takes a slot, waiting at most `wait` for one. `None` means the host is busy: every
    /// slot stayed taken, or too many transfers are waiting already (or it is stopping).
    pub(super) fn acquire(&self, wait: Duration) -> Option<Slot<'_>> {
        let mut state = self.state();
        if state.free == 0 && !state.closed {
            if state.waiting >= self.max_waiting {
                return None;
            }
            state.waiting += 1;
            let (waited, _) = self
                .freed
                .wait_timeout_while(state, wait, |state| state.free == 0 && !state.closed)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            state = waited;
            state.waiting -= 1;
        }
        if state.free == 0 || state.closed {
            return None;
        }
        state.free -= 1;
        Some(Slot { slots: self })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn slots_are_taken_given_back_and_waited_for() {
        let slots = Arc::new(TransferSlots::new(1, 1));
        let first = slots.acquire(Duration::ZERO);
        assert!(first.is_some());
        // Nothing free: waits, then gives up.
        let started = Instant::now();
        assert!(slots.acquire(Duration::from_millis(50)).is_none());
        assert!(started.elapsed() >= Duration::from_millis(50));
        // A waiter gets the slot as soon as it is given back.
        let waiter = {
            let slots = Arc::clone(&slots);
            std::thread::spawn(move || slots.acquire(Duration::from_secs(10)).is_some())
        };
        while slots.waiting() == 0 {
            std::thread::yield_now();
        }
        // The one waiting place is taken: a third asker is refused at once.
        assert!(slots.acquire(Duration::from_secs(10)).is_none());
        drop(first);
        assert!(waiter.join().unwrap_or(false));
        assert_eq!(slots.state().free, 1);
    }

    #[test]
    fn closing_wakes_waiters_and_gives_no_more_slots() {
        let slots = Arc::new(TransferSlots::new(1, 1));
        let held = slots.acquire(Duration::ZERO);
        let waiter = {
            let slots = Arc::clone(&slots);
            std::thread::spawn(move || slots.acquire(Duration::from_secs(60)).is_some())
        };
        while slots.waiting() == 0 {
            std::thread::yield_now();
        }
        let started = Instant::now();
        slots.close();
        assert!(!waiter.join().unwrap_or(true));
        assert!(started.elapsed() < Duration::from_secs(10));
        drop(held);
        assert!(slots.acquire(Duration::ZERO).is_none());
    }
}
