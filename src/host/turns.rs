//! Turns taken in order of asking: one thread at a time, the first to ask first. Used where a
//! crowd must not overtake a newcomer (see [`super::make_way`]): a plain mutex lets whoever is
//! awake when it is released take it, so a crowd asking often would nearly always win.

use std::sync::{Condvar, Mutex, MutexGuard};

/// A queue of turns.
#[derive(Default)]
pub(super) struct Turns {
    /// The next ticket to hand out, and the ticket whose turn it is.
    tickets: Mutex<(u64, u64)>,
    next: Condvar,
}

/// A turn being taken; the next one begins when it is dropped.
pub(super) struct Turn<'a> {
    turns: &'a Turns,
}

impl Turns {
    fn tickets(&self) -> MutexGuard<'_, (u64, u64)> {
        self.tickets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for this caller's turn, after everyone who asked before.
    pub(super) fn take(&self) -> Turn<'_> {
        let mut tickets = self.tickets();
        let mine = tickets.0;
        tickets.0 += 1;
        let _ours = self
            .next
            .wait_while(tickets, |tickets| tickets.1 != mine)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Turn { turns: self }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.turns.tickets().1 += 1;
        self.turns.next.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn turns_come_in_the_order_they_were_asked_for() {
        let turns = Turns::default();
        let order = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            let first = turns.take();
            for who in 0..4 {
                let (turns, order) = (&turns, &order);
                scope.spawn(move || {
                    let _turn = turns.take();
                    if let Ok(mut order) = order.lock() {
                        order.push(who);
                    }
                });
                // Each asks only once the one before is waiting.
                while turns.tickets().0 < who + 2 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            drop(first);
        });
        assert_eq!(order.lock().map(|o| o.clone()).ok(), Some(vec![0, 1, 2, 3]));
    }
}
