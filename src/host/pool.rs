//! A fixed set of named worker threads that serve connections.
//!
//! The queue in front of the workers is bounded: when every worker is busy and the queue is
//! full, [`WorkerPool::try_submit`] hands the item back so the caller can tell the client.

use std::sync::Arc;
use std::thread::JoinHandle;

/// The pool. [`WorkerPool::close`] lets workers finish what they hold and exit.
pub(super) struct WorkerPool<T: Send + 'static> {
    sender: Option<flume::Sender<T>>,
    workers: Vec<JoinHandle<()>>,
}

impl<T: Send + 'static> WorkerPool<T> {
    /// Starts `size` workers, each running `handler` on the items it takes, behind a queue of
    /// `queue` waiting items.
    pub(super) fn new(
        size: usize,
        queue: usize,
        handler: Arc<dyn Fn(T) + Send + Sync>,
    ) -> std::io::Result<Self> {
        let (sender, receiver) = flume::bounded::<T>(queue);
        let workers = (0..size.max(1))
            .map(|index| {
                let receiver = receiver.clone();
                let handler = Arc::clone(&handler);
                std::thread::Builder::new()
                    .name(format!("lanshare-worker-{index}"))
                    .spawn(move || {
                        while let Ok(item) = receiver.recv() {
                            // A bug must not cost the pool a worker: log it and carry on.
                            let run = std::panic::AssertUnwindSafe(|| handler(item));
                            if std::panic::catch_unwind(run).is_err() {
                                tracing::error!("A connection handler panicked; worker continues");
                            }
                        }
                    })
            })
            .collect::<std::io::Result<_>>()?;
        Ok(Self {
            sender: Some(sender),
            workers,
        })
    }

    /// Queues an item, or returns it if the pool is saturated or closed.
    pub(super) fn try_submit(&self, item: T) -> Result<(), T> {
        match &self.sender {
            Some(sender) => sender.try_send(item).map_err(|error| match error {
                flume::TrySendError::Full(item) | flume::TrySendError::Disconnected(item) => item,
            }),
            None => Err(item),
        }
    }

    /// Stops taking items and waits for the workers to finish theirs.
    pub(super) fn close(&mut self) {
        self.sender = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_panicking_item_does_not_cost_a_worker() {
        let done = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&done);
        let Ok(mut pool) = WorkerPool::new(
            1,
            4,
            Arc::new(move |item: u32| {
                assert!(item != 0, "item zero panics");
                counter.fetch_add(1, Ordering::SeqCst);
            }),
        ) else {
            panic!("pool did not start");
        };
        for item in [0, 1, 2] {
            assert!(pool.try_submit(item).is_ok());
        }
        pool.close();
        assert_eq!(done.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn runs_items_and_refuses_when_saturated() {
        let done = Arc::new(AtomicUsize::new(0));
        let (release, gate) = flume::bounded::<()>(0);
        let counter = Arc::clone(&done);
        let pool = WorkerPool::new(
            1,
            1,
            Arc::new(move |_: u32| {
                let _ = gate.recv();
                counter.fetch_add(1, Ordering::SeqCst);
            }),
        );
        let Ok(mut pool) = pool else {
            panic!("pool did not start");
        };
        assert!(pool.try_submit(1).is_ok());
        // Wait until the worker holds item 1, so the queue is empty again.
        while pool.sender.as_ref().is_some_and(|s| !s.is_empty()) {
            std::thread::yield_now();
        }
        assert!(pool.try_submit(2).is_ok());
        assert_eq!(pool.try_submit(3), Err(3));
        let _ = release.send(());
        let _ = release.send(());
        pool.close();
        assert_eq!(done.load(Ordering::SeqCst), 2);
    }
}
