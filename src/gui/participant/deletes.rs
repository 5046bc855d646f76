//! Deletes that can be undone: Delete marks a file, and only when the undo time has passed is
//! the delete sent to the host. The file's row stays where it is ("Deleting…") until the
//! host confirms, so a second click never lands on the next file.
//!
//! Time is passed in, so the model is tested without waiting.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::protocol::FileId;

/// How long a delete can be undone before it is sent.
pub const UNDO_TIME: Duration = Duration::from_secs(5);

/// Where one file's delete stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// Not sent yet; Undo takes it back until `send_at`.
    Waiting {
        /// When it is sent.
        send_at: Instant,
    },
    /// Sent: the host's answer is awaited.
    Sent,
}

/// The deletes asked for and not yet confirmed.
#[derive(Debug, Default)]
pub struct Deletes {
    pending: BTreeMap<FileId, Pending>,
}

impl Deletes {
    /// Marks `file` for deletion at `now` + [`UNDO_TIME`]; false if it already was.
    pub fn ask(&mut self, file: FileId, now: Instant) -> bool {
        if self.pending.contains_key(&file) {
            return false;
        }
        self.pending.insert(
            file,
            Pending::Waiting {
                send_at: now + UNDO_TIME,
            },
        );
        true
    }

    /// Takes a delete back, if it was not sent yet; true if it was taken back.
    pub fn undo(&mut self, file: FileId) -> bool {
        if matches!(self.pending.get(&file), Some(Pending::Waiting { .. })) {
            self.pending.remove(&file);
            return true;
        }
        false
    }

    /// The deletes whose undo time is over at `now`, now marked as sent.
    pub fn due(&mut self, now: Instant) -> Vec<FileId> {
        self.take_waiting(|send_at| send_at <= now)
    }

    /// Every delete not sent yet, now marked as sent (when leaving: they go out at once).
    pub fn all_waiting(&mut self) -> Vec<FileId> {
        self.take_waiting(|_| true)
    }

    fn take_waiting(&mut self, due: impl Fn(Instant) -> bool) -> Vec<FileId> {
        let mut sent = Vec::new();
        for (file, pending) in &mut self.pending {
            if let Pending::Waiting { send_at } = *pending
                && due(send_at)
            {
                *pending = Pending::Sent;
                sent.push(*file);
            }
        }
        sent
    }

    /// The host deleted `file` or refused to: it is no longer pending. True if this app had
    /// asked for it.
    pub fn settled(&mut self, file: FileId) -> bool {
        self.pending.remove(&file).is_some()
    }

    /// Where `file`'s delete stands, if one was asked for.
    pub fn get(&self, file: FileId) -> Option<Pending> {
        self.pending.get(&file).copied()
    }

    /// Forgets every delete (the host restarted, its files are gone).
    pub fn clear(&mut self) {
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delete_is_sent_only_after_the_undo_time_and_only_once() {
        let start = Instant::now();
        let mut deletes = Deletes::default();
        assert!(deletes.ask(7, start));
        assert!(!deletes.ask(7, start), "a second click changes nothing");
        assert!(deletes.due(start + UNDO_TIME / 2).is_empty());
        assert_eq!(deletes.due(start + UNDO_TIME), [7]);
        assert!(deletes.due(start + UNDO_TIME * 2).is_empty());
        assert_eq!(deletes.get(7), Some(Pending::Sent));
        assert!(!deletes.undo(7), "too late to undo");
        assert!(deletes.settled(7));
        assert_eq!(deletes.get(7), None);
    }

    #[test]
    fn undo_takes_a_delete_back_before_it_is_sent() {
        let start = Instant::now();
        let mut deletes = Deletes::default();
        deletes.ask(1, start);
        deletes.ask(2, start);
        assert!(deletes.undo(1));
        assert_eq!(deletes.due(start + UNDO_TIME), [2]);
        assert!(!deletes.settled(1));
    }

    #[test]
    fn leaving_sends_every_waiting_delete_at_once() {
        let start = Instant::now();
        let mut deletes = Deletes::default();
        deletes.ask(3, start);
        deletes.ask(4, start);
        assert_eq!(deletes.all_waiting(), [3, 4]);
        assert!(deletes.all_waiting().is_empty());
    }
}
