//! The transfers a host is serving right now: for the desktop app's Host screen, and to choose
//! which of them make way for newcomers when slots or room run out ([`super::make_way`]).

use std::collections::HashMap;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::make_way::{Cut, Need, PRESSURE, Progress, choose, some_judged_soon};

/// What [`Activity::make_way`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MadeWay {
    /// It stopped transfers; what they hold comes free in a moment.
    Stopped,
    /// It stopped none, but some transfer will be old enough to judge in a moment, or one
    /// stopped before is still letting go: ask again shortly.
    NotYet,
    /// It stopped none, and none will do.
    Never,
}

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
    started: Instant,
    /// How to stop it to make way, once it may be stopped.
    stopper: Option<Stopper>,
    /// Why it was stopped, once it is.
    cut: Arc<Mutex<Option<Cut>>>,
}

/// What stopping a transfer to make way takes.
struct Stopper {
    /// A handle on the transfer's connection.
    socket: TcpStream,
    /// Storage room the transfer holds.
    room: u64,
    /// Whether it has the grace of a transfer that stopped no other to start.
    graced: bool,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The table of transfers in progress.
#[derive(Default)]
pub(super) struct Activity {
    next_id: AtomicU64,
    entries: Mutex<HashMap<u64, Entry>>,
    /// When a transfer was last stopped to make way.
    last_cut: Mutex<Option<Instant>>,
}

impl Activity {
    fn entries(&self) -> MutexGuard<'_, HashMap<u64, Entry>> {
        locked(&self.entries)
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
        let cut = Arc::new(Mutex::new(None));
        self.entries().insert(
            id,
            Entry {
                name: name.to_owned(),
                peer,
                participant: participant.map(str::to_owned),
                direction,
                total,
                done: Arc::clone(&done),
                started: Instant::now(),
                stopper: None,
                cut: Arc::clone(&cut),
            },
        );
        Tracker {
            activity: self,
            id,
            done,
            cut,
        }
    }

    /// Stops the slowest transfers that may be stopped, as [`super::make_way`] chooses, to free
    /// what `need`s. Each is told why through its [`Tracker::cut`], and its connection is shut
    /// so that its thread lets go of what it holds at once.
    pub(super) fn make_way(&self, need: Need, horizon: Duration) -> MadeWay {
        let entries = self.entries();
        let running: Vec<(u64, Progress)> = entries
            .iter()
            .filter(|(_, entry)| locked(&entry.cut).is_none())
            .filter_map(|(id, entry)| {
                let stopper = entry.stopper.as_ref()?;
                let progress = Progress {
                    total: entry.total,
                    done: entry.done.load(Ordering::Relaxed),
                    elapsed: entry.started.elapsed(),
                    room: stopper.room,
                    graced: stopper.graced,
                };
                Some((*id, progress))
            })
            .collect();
        let chosen = choose(&running, need, horizon);
        if chosen.is_empty() {
            let unwinding = entries.values().any(|entry| locked(&entry.cut).is_some());
            return if unwinding || some_judged_soon(&running, need) {
                MadeWay::NotYet
            } else {
                MadeWay::Never
            };
        }
        *locked(&self.last_cut) = Some(Instant::now());
        for (id, cut) in &chosen {
            let Some(entry) = entries.get(id) else {
                continue;
            };
            *locked(&entry.cut) = Some(*cut);
            if let Some(stopper) = &entry.stopper {
                let how = match entry.direction {
                    // The upload's client is still told why; a download's cannot be.
                    Direction::Upload => Shutdown::Read,
                    Direction::Download => Shutdown::Both,
                };
                let _ = stopper.socket.shutdown(how);
            }
            tracing::warn!(
                "Stopped the {} of '{}' with {}: {cut}",
                match entry.direction {
                    Direction::Upload => "upload",
                    Direction::Download => "download",
                },
                crate::protocol::visible_text(&entry.name),
                entry.peer
            );
        }
        MadeWay::Stopped
    }

    /// How many transfers in progress could be stopped to make way (whether or not they are
    /// slow): fewer than the transfer slots taken means some have not begun to move yet.
    pub(super) fn stoppable(&self) -> usize {
        self.entries()
            .values()
            .filter(|entry| entry.stopper.is_some() && locked(&entry.cut).is_none())
            .count()
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
    cut: Arc<Mutex<Option<Cut>>>,
}

impl Tracker<'_> {
    /// Sets the bytes moved so far.
    pub(super) fn set(&self, done: u64) {
        self.done.store(done, Ordering::Relaxed);
    }

    /// Lets the host stop this transfer to make way (see [`Activity::make_way`]) through
    /// `socket`, a handle on its connection; `room` is the storage room it holds, and `graced`
    /// whether it started without stopping another (it has no grace either if the host stopped
    /// any transfer lately).
    pub(super) fn may_be_stopped(&self, socket: TcpStream, room: u64, graced: bool) {
        let pressed = locked(&self.activity.last_cut).is_some_and(|at| at.elapsed() < PRESSURE);
        let graced = graced && !pressed;
        if let Some(entry) = self.activity.entries().get_mut(&self.id) {
            entry.stopper = Some(Stopper {
                socket,
                room,
                graced,
            });
        }
    }

    /// Why the transfer was stopped to make way, if it was.
    pub(super) fn cut(&self) -> Option<Cut> {
        *locked(&self.cut)
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
