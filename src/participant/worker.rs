//! Transfers on background threads, reporting typed events over a flume channel.
//!
//! The command line renders these events as progress bars; the desktop app turns the same
//! channel into an Iced subscription. Progress is sent at most every 50 ms (about 20 updates a
//! second) plus once at the end, however fast the transfer runs.

use std::fs::File;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::save::{Destination, download_file};
use super::{Credentials, Error, FileEntry, Stored, TransferConnection};
use crate::protocol::{GUEST_CLIENT_ID, UploadRequest};

/// Identifies one transfer within this process.
pub type TransferId = u64;

/// Smallest gap between two progress events of one transfer.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(50);

/// What happened to a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferUpdate {
    /// Bytes moved so far of the total.
    Progress {
        /// Bytes moved.
        done: u64,
        /// Bytes in all.
        total: u64,
    },
    /// The upload is stored on the host.
    Uploaded(Stored),
    /// The download is saved here.
    Downloaded(PathBuf),
    /// The transfer failed; nothing of it is kept.
    Failed(String),
    /// The transfer was cancelled; nothing of it is kept.
    Cancelled,
}

/// One event of one transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferEvent {
    /// Which transfer.
    pub id: TransferId,
    /// What happened.
    pub update: TransferUpdate,
}

impl TransferUpdate {
    /// True for the last event a transfer sends.
    pub fn is_final(&self) -> bool {
        !matches!(self, Self::Progress { .. })
    }
}

/// Control over a running transfer.
#[derive(Clone)]
pub struct TransferHandle {
    id: TransferId,
    cancel: Arc<Cancel>,
}

#[derive(Default)]
struct Cancel {
    requested: AtomicBool,
    stream: Mutex<Option<TcpStream>>,
}

impl TransferHandle {
    /// The transfer's id, as found in its events.
    pub fn id(&self) -> TransferId {
        self.id
    }

    /// Stops the transfer; it ends with [`TransferUpdate::Cancelled`].
    pub fn cancel(&self) {
        self.cancel.requested.store(true, Ordering::SeqCst);
        if let Ok(stream) = self.cancel.stream.lock()
            && let Some(stream) = stream.as_ref()
        {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn next_id() -> TransferId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Sends throttled progress events for one transfer.
struct Reporter {
    id: TransferId,
    total: u64,
    events: flume::Sender<TransferEvent>,
    last: Option<Instant>,
}

impl Reporter {
    fn progress(&mut self, done: u64) {
        let due = self
            .last
            .is_none_or(|last| last.elapsed() >= PROGRESS_INTERVAL);
        if due || done == self.total {
            self.last = Some(Instant::now());
            self.send(TransferUpdate::Progress {
                done,
                total: self.total,
            });
        }
    }

    fn send(&self, update: TransferUpdate) {
        let _ = self.events.send(TransferEvent {
            id: self.id,
            update,
        });
    }

    fn finish(&self, result: Result<TransferUpdate, Error>, cancelled: bool) {
        self.send(match result {
            Ok(update) => update,
            Err(_) if cancelled => TransferUpdate::Cancelled,
            Err(Error::Cancelled) => TransferUpdate::Cancelled,
            Err(error) => TransferUpdate::Failed(error.to_string()),
        });
    }
}

fn spawn(
    name: &str,
    events: flume::Sender<TransferEvent>,
    total: u64,
    work: impl FnOnce(&mut Reporter, &Cancel) -> Result<TransferUpdate, Error> + Send + 'static,
) -> std::io::Result<TransferHandle> {
    let handle = TransferHandle {
        id: next_id(),
        cancel: Arc::new(Cancel::default()),
    };
    let mut reporter = Reporter {
        id: handle.id,
        total,
        events,
        last: None,
    };
    let cancel = Arc::clone(&handle.cancel);
    std::thread::Builder::new()
        .name(format!("lanshare-{name}-{}", handle.id))
        .spawn(move || {
            let result = work(&mut reporter, &cancel);
            reporter.finish(result, cancel.requested.load(Ordering::SeqCst));
        })?;
    Ok(handle)
}

/// Connects and lets a later `cancel` shut the connection down.
fn connect(host: SocketAddr, cancel: &Cancel) -> Result<TransferConnection, Error> {
    let connection = TransferConnection::connect(host)?;
    if let (Ok(mut slot), Ok(clone)) = (cancel.stream.lock(), connection.stream().try_clone()) {
        *slot = Some(clone);
    }
    if cancel.requested.load(Ordering::SeqCst) {
        return Err(Error::Cancelled);
    }
    Ok(connection)
}

/// Uploads the file at `path` on a new thread, shared under `name`. With `credentials`, it is
/// shared as that participant; without, as a guest (like a seed client).
pub fn spawn_upload(
    host: SocketAddr,
    credentials: Option<Credentials>,
    path: PathBuf,
    name: String,
    events: flume::Sender<TransferEvent>,
) -> Result<TransferHandle, Error> {
    let file = File::open(&path).map_err(|e| Error::local(&path, e))?;
    let metadata = file.metadata().map_err(|e| Error::local(&path, e))?;
    if metadata.is_dir() {
        return Err(Error::local(
            &path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "is a folder"),
        ));
    }
    let size = metadata.len();
    spawn("upload", events, size, move |reporter, cancel| {
        let mut connection = connect(host, cancel)?;
        let (client_id, username) = match &credentials {
            Some(credentials) => {
                connection.authenticate(credentials)?;
                (credentials.client_id, credentials.username.clone())
            }
            None => (GUEST_CLIENT_ID, "guest".to_owned()),
        };
        let request = UploadRequest {
            client_id,
            username,
            filename: name,
            size,
        };
        let mut file = file;
        let stored = connection.upload(
            request,
            &mut file,
            &mut |done| reporter.progress(done),
            &cancel.requested,
        )?;
        Ok(TransferUpdate::Uploaded(stored))
    })
    .map_err(Error::lost)
}

/// Downloads `entry` to `destination` on a new thread.
pub fn spawn_download(
    host: SocketAddr,
    entry: FileEntry,
    destination: Destination,
    events: flume::Sender<TransferEvent>,
) -> Result<TransferHandle, Error> {
    spawn("download", events, entry.size, move |reporter, cancel| {
        let mut connection = connect(host, cancel)?;
        let path = download_file(
            &mut connection,
            &entry,
            &destination,
            &mut |done| reporter.progress(done),
            &cancel.requested,
        )?;
        Ok(TransferUpdate::Downloaded(path))
    })
    .map_err(Error::lost)
}
