//! The pace of one transfer: its bytes are counted in the host's totals, and a transfer that
//! moves fewer than [`HostConfig::min_transfer_rate`](super::HostConfig::min_transfer_rate)
//! bytes a second, averaged over each window, is stopped — so a client that drips a byte at a
//! time cannot hold a transfer slot for hours.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::activity::{Direction, Tracker};
use super::make_way::Cut;
use super::state::Counters;
use crate::units::format_rate;

/// A transfer that fell below the minimum pace.
#[derive(Debug)]
pub(super) struct TooSlow {
    min_rate: u64,
    window: Duration,
}

impl std::fmt::Display for TooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "slower than {} over {:?}",
            format_rate(self.min_rate as f64),
            self.window
        )
    }
}

impl From<TooSlow> for std::io::Error {
    fn from(slow: TooSlow) -> Self {
        Self::new(std::io::ErrorKind::TimedOut, slow.to_string())
    }
}

/// Watches one transfer from its first byte to its end; counts it as in progress meanwhile
/// and keeps its entry among the host's transfers up to date.
pub(super) struct Pace<'a> {
    in_progress: &'a AtomicUsize,
    bytes: &'a AtomicU64,
    progress: Tracker<'a>,
    done: u64,
    window: Duration,
    min_rate: u64,
    window_start: Instant,
    in_window: u64,
}

impl<'a> Pace<'a> {
    /// Starts watching a transfer; it must move `min_rate` bytes a second over each `window`.
    pub(super) fn start(
        counters: &'a Counters,
        progress: Tracker<'a>,
        direction: Direction,
        window: Duration,
        min_rate: u64,
    ) -> Self {
        let (in_progress, bytes) = match direction {
            Direction::Upload => (&counters.uploads, &counters.bytes_received),
            Direction::Download => (&counters.downloads, &counters.bytes_sent),
        };
        in_progress.fetch_add(1, Ordering::Relaxed);
        Self {
            in_progress,
            bytes,
            progress,
            done: 0,
            window,
            min_rate,
            window_start: Instant::now(),
            in_window: 0,
        }
    }

    /// Why the transfer was stopped to make way for others, if it was.
    pub(super) fn cut(&self) -> Option<Cut> {
        self.progress.cut()
    }

    /// Records `count` bytes moved. Fails once a window has passed in which the transfer
    /// averaged less than the minimum rate.
    pub(super) fn moved(&mut self, count: u64) -> Result<(), TooSlow> {
        self.bytes.fetch_add(count, Ordering::Relaxed);
        self.done = self.done.saturating_add(count);
        self.progress.set(self.done);
        self.in_window = self.in_window.saturating_add(count);
        let elapsed = self.window_start.elapsed();
        if elapsed < self.window {
            return Ok(());
        }
        let needed = u128::from(self.min_rate) * elapsed.as_millis() / 1000;
        if u128::from(self.in_window) < needed {
            return Err(TooSlow {
                min_rate: self.min_rate,
                window: self.window,
            });
        }
        self.window_start = Instant::now();
        self.in_window = 0;
        Ok(())
    }
}

impl Drop for Pace<'_> {
    fn drop(&mut self) {
        self.in_progress.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::super::activity::Activity;
    use super::*;

    const PEER: std::net::SocketAddr =
        std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1);

    #[test]
    fn a_transfer_slower_than_the_minimum_is_stopped_after_a_window() {
        let counters = Counters::default();
        let activity = Activity::default();
        let window = Duration::from_millis(30);
        let tracker = activity.track("a", PEER, None, Direction::Upload, 20);
        let mut pace = Pace::start(&counters, tracker, Direction::Upload, window, 1_000_000);
        assert_eq!(counters.uploads.load(Ordering::Relaxed), 1);
        assert!(pace.moved(10).is_ok(), "within the first window");
        std::thread::sleep(window);
        let error = pace.moved(10).err().map(|e| e.to_string());
        assert_eq!(error.as_deref(), Some("slower than 977 KB/s over 30ms"));
        assert_eq!(counters.bytes_received.load(Ordering::Relaxed), 20);
        assert_eq!(
            activity.snapshot()[0].done,
            20,
            "progress shows among the transfers"
        );
        drop(pace);
        assert!(activity.snapshot().is_empty());
        assert_eq!(counters.uploads.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_transfer_at_pace_goes_on() {
        let counters = Counters::default();
        let activity = Activity::default();
        let window = Duration::from_millis(20);
        let tracker = activity.track("b", PEER, None, Direction::Download, 3000);
        let mut pace = Pace::start(&counters, tracker, Direction::Download, window, 1000);
        for _ in 0..3 {
            std::thread::sleep(window);
            assert!(pace.moved(1000).is_ok());
        }
        assert_eq!(counters.bytes_sent.load(Ordering::Relaxed), 3000);
        assert_eq!(counters.downloads.load(Ordering::Relaxed), 1);
    }
}
