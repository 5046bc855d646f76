//! Transfer slots: how many uploads and downloads move bytes at once.
//!
//! A connection takes a slot only for the transfer itself, never while it waits for a command,
//! so idle and slow-talking clients cannot keep others from being served. When every slot is
//! taken, up to a fixed number of transfers wait for one; any beyond that are refused at once.
//! A transfer that stopped a slow one to get its slot ([`super::make_way`]) is handed that slot
//! before anyone already waiting: otherwise a crowd of waiting tricklers would take it.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::activity::MadeWay;
use super::make_way::JUDGE_WAIT;
use super::turns::Turns;

struct State {
    free: usize,
    waiting: usize,
    /// Slots promised to transfers that stopped another to get one.
    promised: usize,
    closed: bool,
}

impl State {
    /// Free slots that are not promised.
    fn unpromised(&self) -> usize {
        self.free.saturating_sub(self.promised)
    }
}

/// The slots, shared by every connection.
pub(super) struct TransferSlots {
    slots: usize,
    max_waiting: usize,
    state: Mutex<State>,
    freed: Condvar,
    /// Taken in turn by transfers that stop another for a slot (see `acquire_making_way`).
    turns: Turns,
}

/// A taken slot, given back when dropped.
pub(super) struct Slot<'a> {
    slots: &'a TransferSlots,
    made_way: bool,
}

impl Slot<'_> {
    /// Whether another transfer was stopped to free this slot.
    pub(super) fn made_way(&self) -> bool {
        self.made_way
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.slots.state().free += 1;
        // Everyone looks: a slot promised to one waiter must reach that one.
        self.slots.freed.notify_all();
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
                promised: 0,
                closed: false,
            }),
            freed: Condvar::new(),
            turns: Turns::default(),
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
        if state.unpromised() == 0 && !state.closed {
            if state.waiting >= self.max_waiting {
                return None;
            }
            state.waiting += 1;
            let (waited, _) = self
                .freed
                .wait_timeout_while(state, wait, |state| {
                    state.unpromised() == 0 && !state.closed
                })
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            state = waited;
            state.waiting -= 1;
        }
        self.take_unpromised(&mut state)
    }

    /// Takes a free slot, if there is one nobody is promised.
    fn take_free(&self) -> Option<Slot<'_>> {
        self.take_unpromised(&mut self.state())
    }

    /// Takes a slot nobody is promised from `state`, if one is free.
    fn take_unpromised(&self, state: &mut State) -> Option<Slot<'_>> {
        if state.unpromised() == 0 || state.closed {
            return None;
        }
        state.free -= 1;
        Some(Slot {
            slots: self,
            made_way: false,
        })
    }

    /// Takes a slot; if none is free, calls `make_way` (which stops a slow transfer, or says
    /// why it did not) and, if it stopped one, waits at most `wait` for that slot ahead of
    /// anyone else. While transfers are too young to judge it asks again for a moment; if none
    /// will do, it waits in line as [`TransferSlots::acquire`] does. One transfer at a time
    /// makes way, so that none stops another's chosen one first.
    pub(super) fn acquire_making_way(
        &self,
        wait: Duration,
        mut make_way: impl FnMut() -> MadeWay,
    ) -> Option<Slot<'_>> {
        if let Some(slot) = self.take_free() {
            return Some(slot);
        }
        let turn = self.turns.take();
        let started = Instant::now();

        loop {
            if let Some(slot) = self.take_free() {
                return Some(slot);
            }
            // Promised before the stopped transfer can give its slot back, which is at once.
            self.state().promised += 1;
            let made_way = make_way();
            if made_way != MadeWay::Stopped {
                self.state().promised -= 1;
            }
            match made_way {
                MadeWay::Stopped => {
                    return self.promised_slot(wait.saturating_sub(started.elapsed()));
                }
                MadeWay::NotYet if started.elapsed() < JUDGE_WAIT.min(wait) => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                MadeWay::NotYet | MadeWay::Never => break,
            }
        }
        drop(turn);
        self.acquire(wait.saturating_sub(started.elapsed()))
    }

    /// Waits at most `wait` for the slot a stopped transfer gives back, promised to this
    /// caller ahead of anyone else.
    fn promised_slot(&self, wait: Duration) -> Option<Slot<'_>> {
        let state = self.state();
        let (mut state, _) = self
            .freed
            .wait_timeout_while(state, wait, |state| state.free == 0 && !state.closed)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.promised -= 1;
        if state.free == 0 || state.closed {
            return None;
        }
        state.free -= 1;
        Some(Slot {
            slots: self,
            made_way: true,
        })
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

    #[test]
    fn a_slot_freed_for_one_who_made_way_goes_to_it_not_to_those_waiting() {
        let slots = TransferSlots::new(1, 4);
        let slow = slots.acquire(Duration::ZERO);
        std::thread::scope(|scope| {
            let queued = scope.spawn(|| slots.acquire(Duration::from_millis(300)).is_some());
            while slots.waiting() == 0 {
                std::thread::yield_now();
            }
            let mut slow = Some(slow);
            let got = slots.acquire_making_way(Duration::from_secs(5), || {
                // Stopping the slow transfer frees its slot a moment later.
                let stopped = slow.take();
                scope.spawn(move || {
                    std::thread::sleep(Duration::from_millis(50));
                    drop(stopped);
                });
                MadeWay::Stopped
            });
            assert!(got.is_some(), "the one who made way has the slot");
            assert!(!queued.join().unwrap_or(true), "the queued one got nothing");
        });
        assert!(
            slots
                .acquire_making_way(Duration::ZERO, || MadeWay::Never)
                .is_some()
        );
    }
}
