//! One transfer as a job for a lane: its events, its handle and cancel flag, its throttled
//! progress, reconnect-and-resume, and running it over the connection the job before it left.

use std::fs::File;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::compression::{WireBytes, WireMeter};
use crate::identity::Identity;
use crate::participant::connection::ShutdownHandle;
use crate::participant::error::Error;
use crate::participant::listing::FileEntry;
use crate::participant::resume::upload_key;
use crate::participant::save::{Destination, download_file};
use crate::participant::session::Credentials;
use crate::participant::transfer::{Stored, TransferConnection};
use crate::protocol::{GUEST_CLIENT_ID, Passcode, ShareOptions, Ticket, UploadRequest};

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
        /// For a transfer travelling compressed: the file bytes this attempt moved so far, and
        /// the wire bytes they took (for a display of the wire's rate).
        wire: Option<WireBytes>,
    },
    /// The sharer of a file shared directly cannot be reached from here: its bytes come
    /// relayed through the host (sent before the progress of that attempt).
    Relayed,
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
        !matches!(
            self,
            Self::Progress { .. } | Self::Resuming { .. } | Self::Relayed
        )
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
    /// The wire bytes of the attempt's connection, if it travels compressed.
    meter: Option<Arc<WireMeter>>,
}

impl Reporter {
    fn progress(&mut self, done: u64) {
        self.done = done;
        let due = self
            .last
            .is_none_or(|last| last.elapsed() >= PROGRESS_INTERVAL);
        if due || done == self.total {
            self.last = Some(Instant::now());
            let wire = self
                .meter
                .as_ref()
                .map(|meter| meter.read())
                .filter(|bytes| bytes.wire > 0);
            self.send(TransferUpdate::Progress {
                done,
                total: self.total,
                wire,
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

/// Where a job's transfer goes and as whom: the host, its passcode, and for an upload the
/// joined participant's credentials (without them, a guest's, like a seed client's).
#[derive(Debug, Clone)]
pub struct Route {
    /// The host's address.
    pub host: SocketAddr,
    /// The host's passcode, if it has one.
    pub passcode: Option<Passcode>,
    /// Whom an upload is shared as (a download needs none). A joined participant's ticket
    /// stands for the passcode.
    pub credentials: Option<Credentials>,
    /// Who proves the passcode, without credentials: a host this participant joined before
    /// counts its guess apart from strangers' (see PROTOCOL.md, *Passcode*). With credentials,
    /// who proves the host's grant to fetch a file shared directly (the same participant).
    pub identity: Option<Arc<Identity>>,
    /// Whether transfers may travel compressed with a host that takes them (`--no-compression`
    /// says not; nor does a host on a loopback address).
    pub compression: bool,
}

/// What a job moves.
pub(super) enum Work {
    /// A file to the host, of this many bytes.
    Upload(UploadItem, u64),
    /// A file from the host, saved there.
    Download(FileEntry, Destination),
}

/// One transfer waiting for a lane, or on one.
pub(super) struct Job {
    route: Arc<Route>,
    reporter: Reporter,
    cancel: Arc<Cancel>,
    work: Work,
}

/// A lane's open connection, with where it goes and whom it authenticated as.
pub(super) struct Kept {
    connection: TransferConnection,
    host: SocketAddr,
    ticket: Option<Ticket>,
}

impl Job {
    /// `work` along `route`, reporting on `events`; its handle cancels it.
    pub(super) fn new(
        route: Arc<Route>,
        work: Work,
        events: flume::Sender<TransferEvent>,
    ) -> (Self, TransferHandle) {
        let handle = TransferHandle {
            id: next_id(),
            cancel: Arc::new(Cancel::default()),
        };
        let total = match &work {
            Work::Upload(_, size) => *size,
            Work::Download(entry, _) => entry.size,
        };
        let reporter = Reporter {
            id: handle.id,
            total,
            done: 0,
            events,
            last: None,
            meter: None,
        };
        let job = Self {
            route,
            reporter,
            cancel: Arc::clone(&handle.cancel),
            work,
        };
        (job, handle)
    }

    /// Runs the job to its end (reporting its final event) over `kept`, the connection the
    /// job before it left open if it suits this one; leaves the connection for the next job.
    pub(super) fn run(mut self, kept: &mut Option<Kept>) {
        if self.cancel.requested.load(Ordering::SeqCst) {
            // Cancelled before its turn: the connection stays for the next one.
            self.reporter.finish(Err(Error::Cancelled), true);
            return;
        }
        let suits = kept.as_ref().is_some_and(|kept| {
            kept.host == self.route.host
                // Downloads too: a restricted file is sent only to whom the connection proved.
                && kept.ticket == self.route.credentials.as_ref().map(|c| c.ticket)
        });
        let mut connection = if suits {
            kept.take().map(|kept| kept.connection)
        } else {
            *kept = None;
            None
        };
        let (route, cancel) = (&self.route, &self.cancel);
        let result = match &self.work {
            Work::Upload(item, size) => upload(
                route,
                item,
                *size,
                &mut self.reporter,
                cancel,
                &mut connection,
            ),
            Work::Download(entry, destination) => download(
                route,
                entry,
                destination,
                &mut self.reporter,
                cancel,
                &mut connection,
            ),
        };
        // This transfer's cancel must not reach the connection the next one uses.
        if let Ok(mut slot) = self.cancel.connection.lock() {
            *slot = None;
        }
        if result.is_ok() {
            *kept = connection.map(|connection| Kept {
                connection,
                host: self.route.host,
                ticket: self.route.credentials.as_ref().map(|c| c.ticket),
            });
        }
        let cancelled = self.cancel.requested.load(Ordering::SeqCst);
        self.reporter.finish(result, cancelled);
    }

    /// Ends the job without running it (its lane could not be started).
    pub(super) fn fail(self, reason: &str) {
        self.reporter.finish(
            Err(Error::lost(std::io::Error::other(reason.to_owned()))),
            false,
        );
    }
}

/// The connection kept from the transfer before, or a new one (passcode presented and
/// authenticated with `credentials`, if given); either way one that `cancel` can shut down.
fn connection_for(
    kept: &mut Option<TransferConnection>,
    route: &Route,
    credentials: Option<&Credentials>,
    cancel: &Cancel,
) -> Result<TransferConnection, Error> {
    let connection = match kept.take() {
        Some(connection) => connection,
        None => {
            let mut connection = TransferConnection::connect(route.host)?;
            match (credentials, &route.passcode) {
                // A joined participant's ticket stands for the passcode: no guess is spent.
                (Some(credentials), _) => connection.authenticate(credentials)?,
                (None, Some(passcode)) => match &route.identity {
                    Some(identity) => connection.prove_passcode_as(passcode, identity)?,
                    None => connection.prove_passcode(passcode)?,
                },
                (None, None) => {}
            }
            connection
        }
    };
    let mut connection = connection;
    // A host on this machine is reached through memory, faster than any compressor, and
    // compressing there only takes CPU from the other end (BENCHMARKS.md, "Compression").
    connection.set_compression(route.compression && !route.host.ip().is_loopback());
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

/// A file to upload: where it is, the name to share it under, and its expiry and tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadItem {
    /// The file.
    pub path: PathBuf,
    /// The name it is shared under.
    pub name: String,
    /// How long it should live, its tags and who may see it.
    pub options: ShareOptions,
    /// A file of its own even if this participant shares one of the same name (which it would
    /// otherwise become a new version of).
    pub new_file: bool,
}

impl UploadItem {
    /// The file at `path`, shared under its own file name.
    pub fn from_path(path: PathBuf) -> Self {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self {
            path,
            name,
            options: ShareOptions::default(),
            new_file: false,
        }
    }

    /// The same file, shared as a file of its own, never as a new version.
    pub fn as_new_file(self) -> Self {
        Self {
            new_file: true,
            ..self
        }
    }

    /// The same file, shared with `options`.
    pub fn with_options(self, options: ShareOptions) -> Self {
        Self { options, ..self }
    }
}

/// Checks that `path` is a file that can be read, and gives its size (a folder, or a missing
/// or unreadable path, is an error).
pub(super) fn upload_size(path: &std::path::Path) -> Result<u64, Error> {
    let metadata = File::open(path)
        .and_then(|file| file.metadata())
        .map_err(|e| Error::local(path, e))?;
    if metadata.is_dir() {
        return Err(Error::local(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "is a folder"),
        ));
    }
    Ok(metadata.len())
}

/// Sends `item` (`size` bytes) along `route`, resumable when shared as a joined participant.
fn upload(
    route: &Route,
    item: &UploadItem,
    size: u64,
    reporter: &mut Reporter,
    cancel: &Cancel,
    kept: &mut Option<TransferConnection>,
) -> Result<TransferUpdate, Error> {
    let credentials = route.credentials.as_ref();
    let (client_id, username) = match credentials {
        Some(credentials) => (credentials.client_id, credentials.username.clone()),
        None => (GUEST_CLIENT_ID, "guest".to_owned()),
    };
    // Only a joined participant's upload can be resumed; a guest's starts over.
    let resume_key = match credentials {
        Some(_) => Some(
            upload_key(client_id, &item.path, &item.name)
                .map_err(|e| Error::local(&item.path, e))?,
        ),
        None => None,
    };
    with_retries(reporter, cancel, kept, |reporter, kept| {
        let mut connection = connection_for(kept, route, credentials, cancel)?;
        let request = UploadRequest {
            client_id,
            username: username.clone(),
            filename: item.name.clone(),
            size,
        };
        if item.options != ShareOptions::default() {
            connection.share_next_with(&item.options)?;
        }
        if item.new_file {
            connection.upload_next_as_new_file()?;
        }
        reporter.meter = Some(connection.wire_meter());
        let progress = &mut reporter.attempt_progress();
        let stored = match resume_key {
            Some(key) => {
                connection.resume_upload_file(key, request, &item.path, progress, &cancel.requested)
            }
            None => connection.upload_file(request, &item.path, progress, &cancel.requested),
        }
        .map_err(|error| older_host_refusal(error, &item.options))?;
        *kept = Some(connection);
        Ok(TransferUpdate::Uploaded(stored))
    })
}

/// A host from before `version-of` refuses it as a field too many: said in words.
fn older_host_refusal(error: Error, options: &ShareOptions) -> Error {
    match (&error, options.version_of) {
        (Error::Refused(reason), Some(file_id)) if reason.starts_with("Invalid trailing field") => {
            Error::Refused(format!(
                "This host cannot add a version to #{file_id}: it runs an older lanshare"
            ))
        }
        _ => error,
    }
}

/// Saves `entry` from `route`'s host to `destination`, continuing a `.part` left before.
fn download(
    route: &Route,
    entry: &FileEntry,
    destination: &Destination,
    reporter: &mut Reporter,
    cancel: &Cancel,
    kept: &mut Option<TransferConnection>,
) -> Result<TransferUpdate, Error> {
    with_retries(reporter, cancel, kept, |reporter, kept| {
        if entry.details.direct.is_some() {
            return download_directly(route, entry, destination, reporter, cancel);
        }
        let mut connection = connection_for(kept, route, route.credentials.as_ref(), cancel)?;
        reporter.meter = Some(connection.wire_meter());
        let saved = save(&mut connection, entry, destination, reporter, cancel)?;
        *kept = Some(connection);
        Ok(saved)
    })
}

/// Saves `entry`, shared directly, from its sharer's machine to `destination`, continuing a
/// `.part` left before: the host gives the way there and a grant (asked on a connection proven
/// as the route's participant), the sharer the bytes. A lost connection is retried as any.
fn download_directly(
    route: &Route,
    entry: &FileEntry,
    destination: &Destination,
    reporter: &mut Reporter,
    cancel: &Cancel,
) -> Result<TransferUpdate, Error> {
    let (Some(credentials), Some(identity)) = (&route.credentials, &route.identity) else {
        return Err(Error::Refused(format!(
            "'{}' is shared from its sharer's machine: join the host to fetch it",
            entry.name
        )));
    };
    let mut host = connection_for(&mut None, route, Some(credentials), cancel)?;
    let way = host.direct_route(entry.id)?;
    let mut direct = match TransferConnection::connect_direct(&way, identity) {
        Ok(direct) => direct,
        // A firewall or client isolation between the two: the host relays the bytes.
        Err(Error::Unreachable { .. }) => {
            host.relay(entry.id)?;
            reporter.send(TransferUpdate::Relayed);
            host
        }
        Err(error) => return Err(error),
    };
    if let (Ok(mut slot), Ok(handle)) = (cancel.connection.lock(), direct.shutdown_handle()) {
        *slot = Some(handle);
    }
    if cancel.requested.load(Ordering::SeqCst) {
        return Err(Error::Cancelled);
    }
    save(&mut direct, entry, destination, reporter, cancel)
}

/// Downloads `entry` on `connection` (the host's or a sharer's) into `destination`, reporting
/// this attempt's progress.
fn save(
    connection: &mut TransferConnection,
    entry: &FileEntry,
    destination: &Destination,
    reporter: &mut Reporter,
    cancel: &Cancel,
) -> Result<TransferUpdate, Error> {
    let progress = &mut reporter.attempt_progress();
    let path = download_file(connection, entry, destination, progress, &cancel.requested)?;
    Ok(TransferUpdate::Downloaded(path))
}
