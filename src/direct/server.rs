//! The sharer's server: a TLS listener on a port the system chooses, serving the files its
//! participant shares directly, with the download framing the host uses, to downloaders the
//! host vouches for (a [`Grant`] and a proof that it is theirs, bound to the connection).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use super::grant::{check_grant, now_ms};
use crate::net::{self, LineError, LineReader, Stream};
use crate::protocol::{ClientLine, FileId, Fingerprint, Grant, HostLine, PublicKey};
use crate::tls::{self, HANDSHAKE_LIMIT, HostIdentity, HostIdentityError};

/// The file in a participant's config folder holding its server's certificate and key.
pub const DIRECT_IDENTITY_FILE: &str = "direct-identity.pem";

/// Connections served at once; more are closed as they come.
const MAX_CONNECTIONS: usize = 64;
/// How long a downloader may take to send each command line (and `READY`).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a download may go without the downloader taking a byte.
const STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the accepting thread looks for new connections and for the server stopping.
const ACCEPT_POLL: Duration = Duration::from_millis(25);
/// Bytes handed to the connection at a time.
const SEND_STEP: u64 = 4 * 1024 * 1024;

/// A file shared directly: where it is on this machine, and the name and size the host lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectFile {
    /// Where the bytes are read from.
    pub path: PathBuf,
    /// The name downloaders see (`FILE:`).
    pub name: String,
    /// Its size when it was shared; a file that has another size now is not served.
    pub size: u64,
}

/// Why a sharer's server could not start.
#[derive(Debug, thiserror::Error)]
pub enum DirectServerError {
    /// Its certificate and key could not be loaded or made.
    #[error(transparent)]
    Identity(#[from] HostIdentityError),
    /// The port could not be opened.
    #[error("could not listen on {address}: {source}")]
    Listen {
        /// Where it tried.
        address: SocketAddr,
        /// The system's reason.
        source: io::Error,
    },
    /// TLS could not be set up with the certificate.
    #[error("could not set up encryption: {0}")]
    Tls(#[from] rustls::Error),
}

/// What the accepting thread and the connections' threads share.
struct Inner {
    fingerprint: Fingerprint,
    tls: Arc<rustls::ServerConfig>,
    shares: RwLock<HashMap<FileId, DirectFile>>,
    host_key: RwLock<Option<PublicKey>>,
    stopping: AtomicBool,
    open: Mutex<HashMap<u64, TcpStream>>,
    next_connection: AtomicU64,
}

/// A running server for direct shares; it stops (and cuts off its downloads) when stopped or
/// dropped.
pub struct DirectServer {
    address: SocketAddr,
    inner: Arc<Inner>,
    accepting: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for DirectServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DirectServer({}, {})",
            self.address, self.inner.fingerprint
        )
    }
}

impl DirectServer {
    /// Listens on `bind` (port 0: one the system chooses) with the certificate of `identity`.
    /// It serves nothing until [`DirectServer::trust_host`] and [`DirectServer::share`].
    pub fn start(bind: SocketAddr, identity: &HostIdentity) -> Result<Self, DirectServerError> {
        let listen_error = |source| DirectServerError::Listen {
            address: bind,
            source,
        };
        let listener = TcpListener::bind(bind).map_err(listen_error)?;
        let address = listener.local_addr().map_err(listen_error)?;
        let inner = Arc::new(Inner {
            fingerprint: identity.fingerprint(),
            tls: identity.server_config()?,
            shares: RwLock::new(HashMap::new()),
            host_key: RwLock::new(None),
            stopping: AtomicBool::new(false),
            open: Mutex::new(HashMap::new()),
            next_connection: AtomicU64::new(0),
        });
        let accepting = {
            let inner = Arc::clone(&inner);
            std::thread::Builder::new()
                .name("direct-accept".into())
                .spawn(move || accept_loop(&inner, &listener))
                .map_err(listen_error)?
        };
        Ok(Self {
            address,
            inner,
            accepting: Some(accepting),
        })
    }

    /// Where it listens (the port the system chose).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// SHA-256 of its certificate: what the host hands downloaders to pin.
    pub fn fingerprint(&self) -> Fingerprint {
        self.inner.fingerprint
    }

    /// Accepts grants signed by `grant_key` (the host's, learned over the control session)
    /// from now on, and no others.
    pub fn trust_host(&self, grant_key: PublicKey) {
        *self
            .inner
            .host_key
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(grant_key);
    }

    /// Serves `file` as the host's file `file_id`.
    pub fn share(&self, file_id: FileId, file: DirectFile) {
        self.inner.shares_mut().insert(file_id, file);
    }

    /// Stops serving file `file_id` (downloads under way finish); false if it was not served.
    pub fn unshare(&self, file_id: FileId) -> bool {
        self.inner.shares_mut().remove(&file_id).is_some()
    }

    /// A handle that serves relayed downloads of this server's files (see [`RelayServing`]).
    pub fn relay_serving(&self) -> RelayServing {
        RelayServing(Arc::clone(&self.inner))
    }

    /// Stops listening and cuts off every connection.
    pub fn stop(&mut self) {
        let Some(accepting) = self.accepting.take() else {
            return;
        };
        // The accepting thread sees it within one poll (a firewall in front of the port
        // must not keep it waiting, so it is not woken with a connection).
        self.inner.stopping.store(true, Ordering::SeqCst);
        for (_, stream) in self
            .inner
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
        {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        let _ = accepting.join();
    }
}

impl Drop for DirectServer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Inner {
    fn shares_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<FileId, DirectFile>> {
        self.shares.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn shared_file(&self, file_id: FileId) -> Option<DirectFile> {
        let shares = self.shares.read().unwrap_or_else(PoisonError::into_inner);
        shares.get(&file_id).cloned()
    }

    fn host_key(&self) -> Option<PublicKey> {
        *self.host_key.read().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Serves downloads the host relays: when a downloader cannot reach this server, the host asks
/// the sharer's session for a connection (`RELAY_WANTED`), which the sharer opens to the host
/// itself; the host vouched for the downloader, so no grant is shown on it.
#[derive(Clone)]
pub struct RelayServing(Arc<Inner>);

impl std::fmt::Debug for RelayServing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RelayServing({})", self.0.fingerprint)
    }
}

impl RelayServing {
    /// Whether the server may take one more connection (it serves at most 64 at once, direct
    /// and relayed together): a relay asked for beyond that is not answered.
    pub fn has_room(&self) -> bool {
        let open = self.0.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.len() < MAX_CONNECTIONS && !self.0.stopping.load(Ordering::SeqCst)
    }

    /// Serves the one `DOWNLOAD` of file `file_id` the host relays over `reader` (a
    /// connection to the host, after `RELAY_SEND`), as a granted download is served; returns
    /// why not if it was refused. The server stopping cuts it off.
    pub fn serve(&self, mut reader: LineReader, file_id: FileId) -> Result<(), String> {
        let inner = &self.0;
        if inner.stopping.load(Ordering::SeqCst) {
            reader.stream().shutdown();
            return Err("this machine stopped sharing".into());
        }
        let id = inner.next_connection.fetch_add(1, Ordering::Relaxed);
        if let Ok(handle) = reader.stream().tcp().try_clone() {
            inner
                .open
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id, handle);
        }
        let served = send_file(inner, &mut reader, file_id);
        inner
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        finish(&reader, served)
    }
}

/// Ends a served connection as `served` says: closed after the bytes, or after one `ERROR:`
/// line (returned), or cut.
fn finish(reader: &LineReader, served: Result<(), Stop>) -> Result<(), String> {
    match served {
        Ok(()) => {
            reader.stream().close_write();
            Ok(())
        }
        Err(Stop::Refuse(reason)) => {
            let _ = reply(reader.stream(), &HostLine::Error(reason.clone()));
            reader.stream().close_write();
            Err(reason)
        }
        Err(Stop::Lost) => {
            reader.stream().shutdown();
            Err("the connection was lost".into())
        }
    }
}

/// Accepts connections until stopped (polling, see [`ACCEPT_POLL`]), each served on a thread
/// of its own.
fn accept_loop(inner: &Arc<Inner>, listener: &TcpListener) {
    if listener.set_nonblocking(true).is_err() {
        tracing::error!("The direct server cannot poll its port; it serves nothing");
        return;
    }
    while !inner.stopping.load(Ordering::SeqCst) {
        let tcp = match listener.accept() {
            Ok((tcp, _)) => tcp,
            Err(error) if net::is_timeout(&error) => {
                std::thread::sleep(ACCEPT_POLL);
                continue;
            }
            Err(_) => continue,
        };
        if tcp.set_nonblocking(false).is_err() {
            continue;
        }
        let id = inner.next_connection.fetch_add(1, Ordering::Relaxed);
        {
            let mut open = inner.open.lock().unwrap_or_else(PoisonError::into_inner);
            let Ok(handle) = tcp.try_clone() else {
                continue;
            };
            if open.len() >= MAX_CONNECTIONS {
                continue;
            }
            open.insert(id, handle);
        }
        let for_thread = Arc::clone(inner);
        let spawned = std::thread::Builder::new()
            .name("direct-serve".into())
            .spawn(move || {
                serve(&for_thread, tcp);
                let mut open = for_thread
                    .open
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                open.remove(&id);
            });
        if spawned.is_err() {
            inner
                .open
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&id);
        }
    }
}

/// How serving a connection ended early.
enum Stop {
    /// The downloader is told why, with one `ERROR:` line.
    Refuse(String),
    /// The connection failed or the downloader left: nothing more to say.
    Lost,
}

/// Serves one connection: the handshake, the grant, one download.
fn serve(inner: &Inner, tcp: TcpStream) {
    let peer = tcp.peer_addr().ok();
    let _ = tcp.set_nodelay(true);
    let tls = match tls::accept(tcp, Arc::clone(&inner.tls), HANDSHAKE_LIMIT) {
        Ok(tls) => tls,
        Err(error) => {
            tracing::debug!("Direct connection from {peer:?}: no TLS handshake: {error}");
            return;
        }
    };
    let mut reader = LineReader::new(Stream::Tls(Arc::new(tls)));
    let served =
        admit(inner, &mut reader).and_then(|grant| send_file(inner, &mut reader, grant.file_id));
    if let Err(Stop::Refuse(reason)) = &served {
        tracing::info!("Direct connection from {peer:?} refused: {reason}");
    }
    let _ = finish(&reader, served);
}

/// Reads the downloader's next line as a command.
fn read_command(reader: &mut LineReader) -> Result<ClientLine, Stop> {
    match reader.read_line(COMMAND_TIMEOUT) {
        Ok(Some(line)) => ClientLine::parse(&line).map_err(|error| Stop::Refuse(error.to_string())),
        Ok(None) | Err(LineError::Truncated | LineError::Io(_)) => Err(Stop::Lost),
        Err(LineError::TimedOut) => Err(Stop::Refuse("Timed out waiting for a command".into())),
        Err(LineError::TooLong) => Err(Stop::Refuse("Line too long".into())),
    }
}

/// Sends one line.
fn reply(mut stream: &Stream, line: &HostLine) -> io::Result<()> {
    stream.write_all(line.encode().as_bytes())
}

/// The first line must be a grant from the host to the downloader on this very connection.
fn admit(inner: &Inner, reader: &mut LineReader) -> Result<Grant, Stop> {
    let ClientLine::Grant { grant, proof } = read_command(reader)? else {
        return Err(Stop::Refuse(
            "Show the host's grant first: only participants the host vouches for are served".into(),
        ));
    };
    let Some(host_key) = inner.host_key() else {
        return Err(Stop::Refuse(super::GrantRefusal::NoHost.to_string()));
    };
    let binding = reader.stream().channel_binding().ok_or(Stop::Lost)?;
    let keys = (&host_key, &inner.fingerprint);
    check_grant(keys, &grant, (&proof, &binding), now_ms())
        .map_err(|refusal| Stop::Refuse(refusal.to_string()))?;
    Ok(grant)
}

/// `DOWNLOAD:<file_id>[:<offset>]` of the granted (or relayed) file `granted`: `FILE:`,
/// `READY`, the bytes.
fn send_file(inner: &Inner, reader: &mut LineReader, granted: FileId) -> Result<(), Stop> {
    let (file_id, offset) = match read_command(reader)? {
        ClientLine::Download { file_id, offset } => (file_id, offset),
        ClientLine::DownloadVersion { .. } => {
            return Err(Stop::Refuse(
                "A file shared directly has no kept versions".into(),
            ));
        }
        _ => {
            return Err(Stop::Refuse(
                "Unexpected command: only DOWNLOAD is served".into(),
            ));
        }
    };
    if file_id != granted {
        return Err(Stop::Refuse("This grant is for another file".into()));
    }
    let (shared, mut file) = open(inner, file_id, offset)?;
    let stream = reader.stream();
    let announced = HostLine::File {
        name: shared.name.clone(),
        size: shared.size,
    };
    reply(stream, &announced).map_err(|_| Stop::Lost)?;
    match read_command(reader) {
        Ok(ClientLine::Ready) => {}
        _ => return Err(Stop::Lost),
    }
    let stream = reader.stream();
    stream
        .set_write_timeout(STALL_TIMEOUT)
        .map_err(|_| Stop::Lost)?;
    file.seek(SeekFrom::Start(offset)).map_err(|_| Stop::Lost)?;
    tracing::info!(
        "Sending '{}' (ID: {file_id}) directly from byte {offset}",
        shared.name
    );
    let mut left = shared.size - offset;
    while left > 0 {
        let copied =
            net::send_file(stream, &mut file, left.min(SEND_STEP)).map_err(|_| Stop::Lost)?;
        if copied == 0 {
            return Err(Stop::Lost);
        }
        left -= copied;
    }
    Ok(())
}

/// Opens the shared file `file_id` for a download from `offset`, or says why not.
fn open(inner: &Inner, file_id: FileId, offset: u64) -> Result<(DirectFile, File), Stop> {
    let shared = inner
        .shared_file(file_id)
        .ok_or_else(|| Stop::Refuse("File not found".into()))?;
    let unreadable = |error: io::Error| {
        tracing::warn!("Cannot serve {}: {error}", shared.path.display());
        Stop::Refuse(format!(
            "'{}' cannot be read on its sharer's machine",
            shared.name
        ))
    };
    let file = File::open(&shared.path).map_err(unreadable)?;
    let size = file.metadata().map_err(unreadable)?.len();
    if size != shared.size {
        return Err(Stop::Refuse(format!(
            "'{}' changed since it was shared: its sharer must share it again",
            shared.name
        )));
    }
    if offset > shared.size {
        return Err(Stop::Refuse(format!(
            "Offset {offset} is beyond the end of '{}' ({} bytes)",
            shared.name, shared.size
        )));
    }
    Ok((shared, file))
}
