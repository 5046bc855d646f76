//! Transfers on background threads, reporting typed events over a flume channel.
//!
//! The command line renders these events as progress bars; the desktop app turns the same
//! channel into an Iced subscription. Progress is sent at most every 50 ms (about 20 updates a
//! second) plus once at the end, however fast the transfer runs. Several transfers can run as
//! a queue on one thread over one connection ([`spawn_uploads`], [`spawn_downloads`]), which
//! spares many small files a connection (and an `AUTH`) each. A transfer whose connection is
//! lost reconnects by itself and continues where it stopped (`UPLOAD_RESUME`, or `DOWNLOAD`
//! from the `.part` file's length), reporting [`TransferUpdate::Resuming`] meanwhile.

use std::fs::File;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::connection::ShutdownHandle;
use super::error::Error;
use super::listing::FileEntry;
use super::resume::upload_key;
use super::save::{Destination, download_file};
use super::session::Credentials;
use super::transfer::{Stored, TransferConnection};
use crate::protocol::{GUEST_CLIENT_ID, Passcode, UploadRequest};

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
    /// The connection was lost; the transfer will continue from `done` bytes once it
    /// reconnects (it tries again for a while, waiting longer each time).
    Resuming {
        /// Bytes the host (upload) or the `.part` file (download) held when it was lost.
        done: u64,
        /// Bytes in all.
        total: u64,
    },
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
        !matches!(self, Self::Progress { .. } | Self::Resuming { .. })
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
    connection: Mutex<Option<ShutdownHandle>>,
}

impl TransferHandle {
    /// The transfer's id, as found in its events.
    pub fn id(&self) -> TransferId {
        self.id
    }

    /// Stops the transfer; it ends with [`TransferUpdate::Cancelled`].
    pub fn cancel(&self) {
        self.cancel.requested.store(true, Ordering::SeqCst);
        if let Ok(connection) = self.cancel.connection.lock()
            && let Some(connection) = connection.as_ref()
        {
            connection.shut_down();
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
    done: u64,
    events: flume::Sender<TransferEvent>,
    last: Option<Instant>,
}

impl Reporter {
    fn progress(&mut self, done: u64) {
        self.done = done;
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

    /// Progress callback for one attempt: its first report is where the attempt starts, and
    /// a start after byte 0 is reported as [`TransferUpdate::Resuming`].
    fn attempt_progress(&mut self) -> impl FnMut(u64) + '_ {
        let mut starting = true;
        move |done| {
            if std::mem::take(&mut starting) {
                self.done = done;
                if done > 0 {
                    self.send(TransferUpdate::Resuming {
                        done,
                        total: self.total,
                    });
                }
            } else {
                self.progress(done);
            }
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

/// Runs transfers one after another on one new thread, over one connection while it lasts:
/// `work` gets a transfer's index, reporter and cancel flag, and the connection the transfer
/// before it left open (none at first, or after a failure); it puts back the connection for
/// the next one. `totals` holds each transfer's size; the handles come back in its order.
fn spawn_queue<W>(
    name: &str,
    events: flume::Sender<TransferEvent>,
    totals: &[u64],
    mut work: W,
) -> std::io::Result<Vec<TransferHandle>>
where
    W: FnMut(
            usize,
            &mut Reporter,
            &Cancel,
            &mut Option<TransferConnection>,
        ) -> Result<TransferUpdate, Error>
        + Send
        + 'static,
{
    let handles: Vec<TransferHandle> = totals
        .iter()
        .map(|_| TransferHandle {
            id: next_id(),
            cancel: Arc::new(Cancel::default()),
        })
        .collect();
    let jobs: Vec<(Reporter, Arc<Cancel>)> = handles
        .iter()
        .zip(totals)
        .map(|(handle, &total)| {
            let reporter = Reporter {
                id: handle.id,
                total,
                done: 0,
                events: events.clone(),
                last: None,
            };
            (reporter, Arc::clone(&handle.cancel))
        })
        .collect();
    let first = handles.first().map_or(0, |handle| handle.id);
    std::thread::Builder::new()
        .name(format!("lanshare-{name}-{first}"))
        .spawn(move || {
            let mut connection = None;
            for (index, (mut reporter, cancel)) in jobs.into_iter().enumerate() {
                let result = if cancel.requested.load(Ordering::SeqCst) {
                    Err(Error::Cancelled)
                } else {
                    work(index, &mut reporter, &cancel, &mut connection)
                };
                // This transfer's cancel must not reach the connection the next one uses.
                if let Ok(mut connection) = cancel.connection.lock() {
                    *connection = None;
                }
                if result.is_err() {
                    connection = None;
                }
                reporter.finish(result, cancel.requested.load(Ordering::SeqCst));
            }
        })?;
    Ok(handles)
}

/// The connection kept from the transfer before, or a new one (passcode presented and
/// authenticated with `credentials`, if given); either way one that `cancel` can shut down.
fn connection_for(
    kept: &mut Option<TransferConnection>,
    host: SocketAddr,
    passcode: Option<&Passcode>,
    credentials: Option<&Credentials>,
    cancel: &Cancel,
) -> Result<TransferConnection, Error> {
    let connection = match kept.take() {
        Some(connection) => connection,
        None => {
            let mut connection = TransferConnection::connect(host)?;
            if let Some(passcode) = passcode {
                connection.prove_passcode(passcode)?;
            }
            if let Some(credentials) = credentials {
                connection.authenticate(credentials)?;
            }
            connection
        }
    };
    if let (Ok(mut slot), Ok(handle)) = (cancel.connection.lock(), connection.shutdown_handle()) {
        *slot = Some(handle);
    }
    if cancel.requested.load(Ordering::SeqCst) {
        return Err(Error::Cancelled);
    }
    Ok(connection)
}

/// The first wait before reconnecting a transfer whose connection was lost.
const RETRY_FIRST: Duration = Duration::from_millis(500);
/// The longest wait between two reconnection attempts (each failed one doubles the wait).
const RETRY_LONGEST: Duration = Duration::from_secs(10);
/// How long a transfer keeps reconnecting without moving a byte before it fails.
const GIVE_UP_AFTER: Duration = Duration::from_secs(120);

/// True for failures that another connection may get past: the connection broke, or, once it
/// has broken before, the host could not be reached (it may be back in a moment). A host
/// unreachable from the start is an error at once.
fn worth_retrying(error: &Error, lost_before: bool) -> bool {
    match error {
        Error::ConnectionLost(_) => true,
        Error::Unreachable { .. } => lost_before,
        _ => false,
    }
}

impl Cancel {
    /// Waits `pause` unless the transfer is cancelled meanwhile; returns whether it was.
    fn cancelled_within(&self, pause: Duration) -> bool {
        let deadline = Instant::now() + pause;
        while Instant::now() < deadline {
            if self.requested.load(Ordering::SeqCst) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50).min(pause));
        }
        self.requested.load(Ordering::SeqCst)
    }
}

/// Runs `attempt` until it succeeds or fails for good. When its connection is lost, it
/// reports [`TransferUpdate::Resuming`], waits (0.5 s, doubling up to 10 s), and tries again on
/// a new connection: the attempt continues where the last left off. It gives up after
/// [`GIVE_UP_AFTER`] without a byte of progress.
fn with_retries(
    reporter: &mut Reporter,
    cancel: &Cancel,
    kept: &mut Option<TransferConnection>,
    mut attempt: impl FnMut(
        &mut Reporter,
        &mut Option<TransferConnection>,
    ) -> Result<TransferUpdate, Error>,
) -> Result<TransferUpdate, Error> {
    let mut pause = RETRY_FIRST;
    let mut last_progress = Instant::now();
    let mut best = reporter.done;
    let mut lost_before = false;
    loop {
        let error = match attempt(reporter, kept) {
            Err(error) if worth_retrying(&error, lost_before) => error,
            done => return done,
        };
        lost_before = true;
        *kept = None;
        if cancel.requested.load(Ordering::SeqCst) {
            return Err(Error::Cancelled);
        }
        if reporter.done > best {
            best = reporter.done;
            last_progress = Instant::now();
            pause = RETRY_FIRST;
        }
        if last_progress.elapsed() >= GIVE_UP_AFTER {
            return Err(error);
        }
        reporter.send(TransferUpdate::Resuming {
            done: reporter.done,
            total: reporter.total,
        });
        if cancel.cancelled_within(pause) {
            return Err(Error::Cancelled);
        }
        pause = (pause * 2).min(RETRY_LONGEST);
    }
}

/// A file to upload: where it is and the name to share it under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadItem {
    /// The file.
    pub path: PathBuf,
    /// The name it is shared under.
    pub name: String,
}

impl UploadItem {
    /// The file at `path`, shared under its own file name.
    pub fn from_path(path: PathBuf) -> Self {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self { path, name }
    }
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
    let handles = spawn_uploads(
        host,
        None,
        credentials,
        vec![UploadItem { path, name }],
        events,
    )?;
    only_handle(handles)
}

/// The handle of a queue of one transfer.
fn only_handle(mut handles: Vec<TransferHandle>) -> Result<TransferHandle, Error> {
    handles
        .pop()
        .ok_or_else(|| Error::lost(std::io::Error::other("no transfer was started")))
}

/// Uploads files one after another on one new thread, over one connection (one `AUTH`), as
/// [`spawn_upload`] does for one (with a host's `passcode`, if it has one). Every file is
/// checked before any is sent: a missing, unreadable or folder path is an error and nothing
/// starts. Returns a handle per file, in
/// order; each file reports its own events.
pub fn spawn_uploads(
    host: SocketAddr,
    passcode: Option<Passcode>,
    credentials: Option<Credentials>,
    items: Vec<UploadItem>,
    events: flume::Sender<TransferEvent>,
) -> Result<Vec<TransferHandle>, Error> {
    let mut sizes = Vec::with_capacity(items.len());
    for item in &items {
        let path = &item.path;
        let metadata = File::open(path)
            .and_then(|file| file.metadata())
            .map_err(|e| Error::local(path, e))?;
        if metadata.is_dir() {
            return Err(Error::local(
                path,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "is a folder"),
            ));
        }
        sizes.push(metadata.len());
    }
    let totals = sizes.clone();
    spawn_queue(
        "upload",
        events,
        &totals,
        move |index, reporter, cancel, kept| {
            let item = &items[index];
            let (client_id, username) = match &credentials {
                Some(credentials) => (credentials.client_id, credentials.username.clone()),
                None => (GUEST_CLIENT_ID, "guest".to_owned()),
            };
            // Only a joined participant's upload can be resumed; a guest's starts over.
            let resume_key = match &credentials {
                Some(_) => Some(
                    upload_key(client_id, &item.path, &item.name)
                        .map_err(|e| Error::local(&item.path, e))?,
                ),
                None => None,
            };
            with_retries(reporter, cancel, kept, |reporter, kept| {
                let mut connection =
                    connection_for(kept, host, passcode.as_ref(), credentials.as_ref(), cancel)?;
                let request = UploadRequest {
                    client_id,
                    username: username.clone(),
                    filename: item.name.clone(),
                    size: sizes[index],
                };
                let progress = &mut reporter.attempt_progress();
                let stored = match resume_key {
                    Some(key) => connection.resume_upload_file(
                        key,
                        request,
                        &item.path,
                        progress,
                        &cancel.requested,
                    ),
                    None => {
                        connection.upload_file(request, &item.path, progress, &cancel.requested)
                    }
                }?;
                *kept = Some(connection);
                Ok(TransferUpdate::Uploaded(stored))
            })
        },
    )
    .map_err(Error::lost)
}

/// Downloads `entry` to `destination` on a new thread.
pub fn spawn_download(
    host: SocketAddr,
    entry: FileEntry,
    destination: Destination,
    events: flume::Sender<TransferEvent>,
) -> Result<TransferHandle, Error> {
    spawn_download_with(host, None, entry, destination, events)
}

/// [`spawn_download`] from a host with a passcode (e.g. [`Session::passcode`](super::session::Session::passcode)).
pub fn spawn_download_with(
    host: SocketAddr,
    passcode: Option<Passcode>,
    entry: FileEntry,
    destination: Destination,
    events: flume::Sender<TransferEvent>,
) -> Result<TransferHandle, Error> {
    only_handle(spawn_downloads(
        host,
        passcode,
        vec![(entry, destination)],
        events,
    )?)
}

/// Downloads files one after another on one new thread, over one connection, as
/// [`spawn_download_with`] does for one. Returns a handle per file, in order; each file
/// reports its own events.
pub fn spawn_downloads(
    host: SocketAddr,
    passcode: Option<Passcode>,
    items: Vec<(FileEntry, Destination)>,
    events: flume::Sender<TransferEvent>,
) -> Result<Vec<TransferHandle>, Error> {
    let totals: Vec<u64> = items.iter().map(|(entry, _)| entry.size).collect();
    spawn_queue(
        "download",
        events,
        &totals,
        move |index, reporter, cancel, kept| {
            let (entry, destination) = &items[index];
            with_retries(reporter, cancel, kept, |reporter, kept| {
                let mut connection = connection_for(kept, host, passcode.as_ref(), None, cancel)?;
                let path = download_file(
                    &mut connection,
                    entry,
                    destination,
                    &mut reporter.attempt_progress(),
                    &cancel.requested,
                )?;
                *kept = Some(connection);
                Ok(TransferUpdate::Downloaded(path))
            })
        },
    )
    .map_err(Error::lost)
}
