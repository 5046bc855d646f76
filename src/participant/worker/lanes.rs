//! The transfer scheduler: a few lanes, each a thread with one connection at a time, taking
//! transfers from one queue in the order they were asked for. However many files are handed
//! to it at once (a dropped folder of 10,000), at most `lanes` threads and connections run;
//! a lane ends, closing its connection, when the queue is empty, and new work starts lanes
//! again.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::job::{Job, Kept, Route, TransferEvent, TransferHandle, UploadItem, Work, upload_size};
use crate::participant::error::Error;
use crate::participant::listing::FileEntry;
use crate::participant::save::Destination;

/// Transfers that run at once when there are more files than this, each lane a queue over one
/// connection: many files wait on the host's and the disk's round trips (a stored upload is
/// synced first), and several lanes overlap those waits. A few files go one after another, so
/// they keep their order. The desktop app runs this many lanes.
pub const LANES: usize = 4;

/// Lanes for files that average under [`SMALL_FILE`]: their time goes almost all to round
/// trips and syncs, which more lanes overlap further (the disk batches syncs that arrive
/// together; BENCHMARKS.md, "Figures behind design choices").
pub const SMALL_FILE_LANES: usize = 16;

/// Files smaller than this on average count as small (see [`SMALL_FILE_LANES`]).
const SMALL_FILE: u64 = 1024 * 1024;

/// How many lanes a batch of files of `sizes` goes in: one for a few files, more for many,
/// most for many small ones.
pub fn lanes_for(sizes: &[u64]) -> usize {
    let count = sizes.len();
    if count <= LANES {
        1
    } else if sizes.iter().sum::<u64>() / (count as u64) < SMALL_FILE {
        SMALL_FILE_LANES.min(count)
    } else {
        LANES
    }
}

/// A transfer scheduler: transfers (uploads and downloads, to any host) queue, and at most
/// a fixed number run at once, each lane over one connection that it keeps from one transfer
/// to the next while they go to the same host as the same participant. Cloning gives another
/// handle to the same lanes.
#[derive(Clone)]
pub struct TransferLanes {
    shared: Arc<Shared>,
}

struct Shared {
    /// The most lanes that run at once.
    most: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// Lanes running now.
    running: usize,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The next job for a lane, or `None` when there is none (the lane then ends).
    fn next(&self) -> Option<Job> {
        let mut state = self.state();
        let job = state.queue.pop_front();
        if job.is_none() {
            state.running -= 1;
        }
        job
    }
}

impl TransferLanes {
    /// A scheduler running at most `lanes` transfers at once (at least one).
    pub fn new(lanes: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                most: lanes.max(1),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// The most transfers that run at once.
    pub fn lanes(&self) -> usize {
        self.shared.most
    }

    /// Queues uploads of `items` along `route`. Every file is checked first: a missing,
    /// unreadable or folder path is an error and nothing is queued. Returns a handle per file,
    /// in order; each reports its own events on `events`.
    pub fn upload(
        &self,
        route: Route,
        items: Vec<UploadItem>,
        events: &flume::Sender<TransferEvent>,
    ) -> Result<Vec<TransferHandle>, Error> {
        let sized = items
            .into_iter()
            .map(|item| upload_size(&item.path).map(|size| Work::Upload(item, size)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.queue(route, sized, events))
    }

    /// Queues downloads of `items` (each a file and where to save it) along `route`. Returns
    /// a handle per file, in order; each reports its own events on `events`.
    pub fn download(
        &self,
        route: Route,
        items: Vec<(FileEntry, Destination)>,
        events: &flume::Sender<TransferEvent>,
    ) -> Vec<TransferHandle> {
        let work = items
            .into_iter()
            .map(|(entry, destination)| Work::Download(entry, destination))
            .collect();
        self.queue(route, work, events)
    }

    /// Queues `work` and starts lanes for it, up to the most allowed.
    fn queue(
        &self,
        route: Route,
        work: Vec<Work>,
        events: &flume::Sender<TransferEvent>,
    ) -> Vec<TransferHandle> {
        let route = Arc::new(route);
        let mut handles = Vec::with_capacity(work.len());
        let mut state = self.shared.state();
        for work in work {
            let (job, handle) = Job::new(Arc::clone(&route), work, events.clone());
            state.queue.push_back(job);
            handles.push(handle);
        }
        let wanted = self.shared.most.min(state.running + state.queue.len());
        while state.running < wanted {
            state.running += 1;
            if let Err(error) = self.start_lane() {
                state.running -= 1;
                tracing::warn!("Could not start a transfer lane: {error}");
                break;
            }
        }
        if state.running == 0 {
            // Not even one lane: say so on every transfer rather than leave them waiting.
            for job in state.queue.drain(..) {
                job.fail("could not start a thread for the transfer");
            }
        }
        handles
    }

    /// Starts a lane: it runs jobs from the queue until none is left.
    fn start_lane(&self) -> std::io::Result<()> {
        static NEXT_LANE: AtomicU64 = AtomicU64::new(1);
        let number = NEXT_LANE.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::clone(&self.shared);
        std::thread::Builder::new()
            .name(format!("lanshare-lane-{number}"))
            .spawn(move || {
                let mut kept: Option<Kept> = None;
                while let Some(job) = shared.next() {
                    job.run(&mut kept);
                }
            })
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_files_share_one_lane_many_small_ones_get_the_most() {
        assert_eq!(lanes_for(&[]), 1);
        assert_eq!(lanes_for(&[10 << 20; LANES]), 1);
        assert_eq!(lanes_for(&[10 << 20; 20]), LANES);
        assert_eq!(lanes_for(&[10 << 10; 1000]), SMALL_FILE_LANES);
        // Never more lanes than files.
        assert_eq!(lanes_for(&[10; 6]), 6);
        // An average over the small size is not small, even with small files among them.
        let mixed = [1 << 30, 1, 1, 1, 1, 1];
        assert_eq!(lanes_for(&mixed), LANES);
    }
}
