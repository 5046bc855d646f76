//! Files that reach the disk while they are written, so that the sync at the end is short.
//!
//! A stored upload or a finished download is synced before it counts (see ARCHITECTURE.md).
//! Syncing a gigabyte only at the end waits for the whole gigabyte to reach the disk at that
//! moment. A [`WritebackFile`] asks for write-back on a background thread every
//! so many bytes ([`sync_interval`]) while writing goes on, so the final sync finds little left
//! to do.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::thread::JoinHandle;

/// The fewest bytes written between two requests for a background sync. Small, so that even a
/// file of a few MiB is mostly on disk when its final sync comes, which shortens that sync
/// (BENCHMARKS.md, "Figures behind design choices").
pub const SYNC_EVERY_MIN: u64 = 1024 * 1024;
/// The most bytes written between two requests for a background sync.
pub const SYNC_EVERY_MAX: u64 = 32 * 1024 * 1024;

/// Bytes to write before the next background sync once `written` are: a sixteenth of them,
/// within [`SYNC_EVERY_MIN`] and [`SYNC_EVERY_MAX`]. So the final sync has at most about a
/// sixteenth of the file left, and a large file is not synced thousands of times, each of which
/// costs the writer CPU time (BENCHMARKS.md, "Figures behind design choices").
/// Requests made while a sync runs fold into one, so a fast writer does not queue them up.
pub fn sync_interval(written: u64) -> u64 {
    (written / 16).clamp(SYNC_EVERY_MIN, SYNC_EVERY_MAX)
}

/// A file being written, with write-back running behind the writes.
pub struct WritebackFile {
    file: File,
    unsynced: u64,
    written: u64,
    syncer: Option<Syncer>,
}

/// The background thread and the way to wake it.
struct Syncer {
    wake: flume::Sender<()>,
    thread: JoinHandle<io::Result<()>>,
}

impl Syncer {
    /// Starts a thread that syncs `file`'s data each time it is woken.
    fn start(file: &File) -> io::Result<Self> {
        let file = file.try_clone()?;
        // One pending wake-up is enough: a sync covers everything written before it starts.
        let (wake, woken) = flume::bounded::<()>(1);
        let thread = std::thread::Builder::new()
            .name("lanshare-writeback".into())
            .spawn(move || {
                for () in woken.iter() {
                    file.sync_data()?;
                }
                Ok(())
            })?;
        Ok(Self { wake, thread })
    }

    /// Stops the thread; returns the error of a background sync, if one failed.
    fn stop(self) -> io::Result<()> {
        drop(self.wake);
        self.thread
            .join()
            .map_err(|_| io::Error::other("the write-back thread panicked"))?
    }
}

impl WritebackFile {
    /// Wraps a file opened for writing.
    pub fn new(file: File) -> Self {
        Self {
            file,
            unsynced: 0,
            written: 0,
            syncer: None,
        }
    }

    /// Waits for the background write-back, then syncs the file (data and metadata).
    pub fn sync(&mut self) -> io::Result<()> {
        if let Some(syncer) = self.syncer.take() {
            syncer.stop()?;
        }
        self.file.sync_all()
    }

    /// Truncates or extends the file (emptying an abandoned upload frees its room at once).
    pub fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    /// Moves the position where the next write goes.
    pub fn seek(&mut self, position: SeekFrom) -> io::Result<u64> {
        self.file.seek(position)
    }

    fn request_sync(&mut self) {
        if self.syncer.is_none() {
            // Without a thread the data still reaches the disk, at the final sync.
            self.syncer = Syncer::start(&self.file).ok();
        }
        if let Some(syncer) = &self.syncer {
            let _ = syncer.wake.try_send(());
        }
    }
}

impl Write for WritebackFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let written = self.file.write(bytes)?;
        self.unsynced += written as u64;
        self.written += written as u64;
        if self.unsynced >= sync_interval(self.written) {
            self.unsynced = 0;
            self.request_sync();
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_everything_and_syncs() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("data");
        let mut file = WritebackFile::new(File::create(&path)?);
        let block = vec![5u8; 1 << 20];
        for _ in 0..(SYNC_EVERY_MIN / (1 << 20)) * 2 + 3 {
            file.write_all(&block)?;
        }
        assert!(file.syncer.is_some(), "a background sync was started");
        file.sync()?;
        assert_eq!(
            std::fs::metadata(&path)?.len(),
            (SYNC_EVERY_MIN * 2) + (3 << 20)
        );
        Ok(())
    }

    #[test]
    fn the_interval_grows_with_the_file_within_its_bounds() {
        assert_eq!(sync_interval(0), SYNC_EVERY_MIN);
        assert_eq!(sync_interval(10 << 20), SYNC_EVERY_MIN);
        assert_eq!(sync_interval(64 << 20), 4 << 20);
        assert_eq!(sync_interval(1 << 30), SYNC_EVERY_MAX);
    }
}
