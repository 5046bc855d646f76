//! The transfers a host is serving right now, for the desktop app's Host screen.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Which way a transfer moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A participant is sending a file to the host.
    Upload,
    /// The host is sending a file to a participant.
    Download,
}

/// One transfer in progress, as seen at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveTransfer {
    /// The file's name.
    pub name: String,
    /// The other end of the connection.
    pub peer: SocketAddr,
    /// The participant's name: the joined participant the connection authenticated as, or
    /// the uploader name a guest's upload gave; `None` for a guest's download.
    pub participant: Option<String>,
    /// Which way it moves.
    pub direction: Direction,
    /// Bytes moved so far.
    pub done: u64,
    /// Bytes in all.
    pub total: u64,
}

struct Entry {
    name: String,
    peer: SocketAddr,
    participant: Option<String>,
    direction: Direction,
    total: u64,
    done: Arc<AtomicU64>,
}

/// The table of transfers in progress.
#[derive(Default)]
pub(super) struct Activity {
    next_id: AtomicU64,
    entries: Mutex<HashMap<u64, Entry>>,
}

impl Activity {
    fn entries(&self) -> MutexGuard<'_, HashMap<u64, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a transfer that starts now (with `participant`, when known); it is forgotten
    /// when the tracker drops.
    pub(super) fn track(
        &self,
        name: &str,
        peer: SocketAddr,
        participant: Option<&str>,
        direction: Direction,
        total: u64,
    ) -> Tracker<'_> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let done = Arc::new(AtomicU64::new(0));
        self.entries().insert(
            id,
            Entry {
                name: name.to_owned(),
                peer,
                participant: participant.map(str::to_owned),
                direction,
                total,
                done: Arc::clone(&done),
            },
        );
        Tracker {
            activity: self,
            id,
            done,
        }
    }

    /// Every transfer in progress, oldest first.
    pub(super) fn snapshot(&self) -> Vec<ActiveTransfer> {
        let entries = self.entries();
        let mut ids: Vec<&u64> = entries.keys().collect();
        ids.sort();
        ids.into_iter()
            .filter_map(|id| entries.get(id))
            .map(|entry| ActiveTransfer {
                name: entry.name.clone(),
                peer: entry.peer,
                participant: entry.participant.clone(),
                direction: entry.direction,
                done: entry.done.load(Ordering::Relaxed),
                total: entry.total,
            })
            .collect()
    }
}

/// Updates one transfer's progress; removes it from the table when dropped.
pub(super) struct Tracker<'a> {
    activity: &'a Activity,
    id: u64,
    done: Arc<AtomicU64>,
}

impl Tracker<'_> {
    /// Sets the bytes moved so far.
    pub(super) fn set(&self, done: u64) {
        self.done.store(done, Ordering::Relaxed);
    }
}

impl Drop for Tracker<'_> {
    fn drop(&mut self) {
        self.activity.entries().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracked_transfers_show_progress_until_dropped() {
        let activity = Activity::default();
        let peer = SocketAddr::from(([127, 0, 0, 1], 1));
        let upload = activity.track("a.bin", peer, Some("Gus"), Direction::Upload, 100);
        let download = activity.track("b.bin", peer, None, Direction::Download, 50);
        upload.set(40);
        let now = activity.snapshot();
        assert_eq!(now.len(), 2);
        assert_eq!(
            (now[0].name.as_str(), now[0].done, now[0].total),
            ("a.bin", 40, 100)
        );
        assert_eq!(now[0].participant.as_deref(), Some("Gus"));
        assert_eq!(now[1].direction, Direction::Download);
        drop(upload);
        drop(download);
        assert!(activity.snapshot().is_empty());
    }
}
