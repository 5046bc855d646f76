//! The host's server pool: the threads that serve connections, reused from one connection to
//! the next.
//!
//! Admission ([`super::Shared::admit`]) already caps how many connections run at once, so the
//! pool never queues: a new connection goes to an idle thread if there is one, else to a new
//! thread. A thread idle for [`IDLE_RETIRE`] ends, so a burst leaves no crowd of threads behind.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How long a thread waits for another connection before it ends.
pub(super) const IDLE_RETIRE: Duration = Duration::from_secs(30);

/// Work for one thread: serving one connection.
pub(super) type Job = Box<dyn FnOnce() + Send + 'static>;

/// The pool.
pub(super) struct ServerPool {
    sender: flume::Sender<Job>,
    receiver: flume::Receiver<Job>,
    /// Idle threads not yet promised a job.
    idle: Arc<AtomicUsize>,
    /// Threads alive, idle or not.
    alive: Arc<AtomicUsize>,
    stack_size: usize,
    retire_after: Duration,
}

impl ServerPool {
    /// An empty pool whose threads have `stack_size` bytes of stack.
    pub(super) fn new(stack_size: usize, retire_after: Duration) -> Self {
        let (sender, receiver) = flume::unbounded();
        Self {
            sender,
            receiver,
            idle: Arc::new(AtomicUsize::new(0)),
            alive: Arc::new(AtomicUsize::new(0)),
            stack_size,
            retire_after,
        }
    }

    /// Runs `job` on an idle thread, or on a new one if none is idle.
    pub(super) fn execute(&self, job: Job) -> io::Result<()> {
        // Claim an idle thread: the claim is what lets an idle thread that times out know it
        // must stay for a job on its way.
        if claim(&self.idle) {
            // A receiver lives in `self`, so the channel cannot be closed here.
            let _ = self.sender.send(job);
            return Ok(());
        }
        let receiver = self.receiver.clone();
        let idle = Arc::clone(&self.idle);
        let alive = Arc::clone(&self.alive);
        let retire_after = self.retire_after;
        alive.fetch_add(1, Ordering::SeqCst);
        std::thread::Builder::new()
            .name("lanshare-connection".into())
            .stack_size(self.stack_size)
            .spawn(move || {
                job();
                serve(&receiver, &idle, retire_after);
                let left = alive.fetch_sub(1, Ordering::SeqCst) - 1;
                super::memory::after_retirement(left);
            })
            .map(drop)
            .inspect_err(|_| {
                self.alive.fetch_sub(1, Ordering::SeqCst);
            })
    }

    /// Threads idle right now.
    #[cfg(test)]
    fn idle(&self) -> usize {
        self.idle.load(Ordering::SeqCst)
    }
}

/// Takes one idle thread if any is left unclaimed.
fn claim(idle: &AtomicUsize) -> bool {
    idle.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

/// A pool thread's life after its first job: wait for the next, retire when idle too long.
fn serve(receiver: &flume::Receiver<Job>, idle: &AtomicUsize, retire_after: Duration) {
    loop {
        idle.fetch_add(1, Ordering::SeqCst);
        match receiver.recv_timeout(retire_after) {
            // Whoever sent it already counted this thread out of the idle ones.
            Ok(job) => job(),
            Err(flume::RecvTimeoutError::Timeout) => {
                if claim(idle) {
                    return;
                }
                // Every idle thread was promised a job: one is on its way to this thread.
                match receiver.recv() {
                    Ok(job) => job(),
                    Err(_) => return,
                }
            }
            Err(flume::RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    fn thread_id_job(seen: &Arc<std::sync::Mutex<Vec<std::thread::ThreadId>>>) -> Job {
        let seen = Arc::clone(seen);
        Box::new(move || {
            if let Ok(mut seen) = seen.lock() {
                seen.push(std::thread::current().id());
            }
        })
    }

    fn wait_for(condition: impl Fn() -> bool) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if condition() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn threads_are_reused_and_retire_when_idle() {
        let pool = ServerPool::new(256 * 1024, Duration::from_millis(300));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        assert!(pool.execute(thread_id_job(&seen)).is_ok());
        assert!(wait_for(|| pool.idle() == 1), "the thread waits for more");
        assert!(pool.execute(thread_id_job(&seen)).is_ok());
        assert!(wait_for(|| seen.lock().is_ok_and(|s| s.len() == 2)));
        let ids = seen.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(ids[0], ids[1], "the second job ran on the same thread");
        assert!(wait_for(|| pool.idle() == 0), "and it retired when idle");
    }

    #[test]
    fn busy_threads_make_the_pool_grow_and_no_job_is_lost() {
        let pool = ServerPool::new(256 * 1024, Duration::from_millis(5));
        let done = Arc::new(AtomicU64::new(0));
        let (release, gate) = flume::unbounded::<()>();
        for _ in 0..8 {
            let (done, gate) = (Arc::clone(&done), gate.clone());
            let job: Job = Box::new(move || {
                let _ = gate.recv();
                done.fetch_add(1, Ordering::SeqCst);
            });
            assert!(pool.execute(job).is_ok());
        }
        for _ in 0..8 {
            let _ = release.send(());
        }
        assert!(wait_for(|| done.load(Ordering::SeqCst) == 8));
        // Many quick jobs racing with threads that retire after 5 ms: every one runs.
        for _ in 0..500 {
            let counter = Arc::clone(&done);
            let job: Job = Box::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            });
            assert!(pool.execute(job).is_ok());
            if done.load(Ordering::SeqCst).is_multiple_of(50) {
                std::thread::sleep(Duration::from_millis(6));
            }
        }
        assert!(wait_for(|| done.load(Ordering::SeqCst) == 508));
    }
}
