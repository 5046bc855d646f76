//! The host: accepts connections on one port, stores files, and keeps participants informed.
//!
//! The listener thread (`listener`) admits each connection (at most
//! [`HostConfig::max_connections`] open, and [`HostConfig::max_connections_per_address`] from
//! one IP address: `admission`) and hands it to a thread of the server pool (`pool`: threads
//! reused from connection to connection, started as needed, retired when idle), which reads its
//! commands (`connection`) through the connection's one reader and writer (`wire`). Waiting for a
//! command costs a thread and a socket, nothing more: an upload or a download takes one of the
//! `slots` only while its bytes move (`upload`, `download`), and a transfer that moves too
//! slowly is stopped (`pace`). A `JOIN` turns the connection into a control session
//! (`session`), registered in the `registry`, which broadcasts offers and deletions to every
//! session. A host with a passcode checks it, slowing down repeated wrong guesses from one
//! address (`gate`). The threads share one `state::Shared`.

mod activity;
mod admission;
mod client_ids;
mod comments;
mod config;
mod connection;
mod direct;
mod doorbell;
mod download;
mod expiry;
mod gate;
mod library;
mod listener;
mod make_way;
mod memory;
mod pace;
mod parked;
mod passcode;
mod pool;
mod presence;
mod previews;
mod registry;
mod relay;
mod session;
mod slots;
mod state;
mod transfer;
mod turns;
mod upload;
mod wire;

use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::direct::GrantSigner;
use crate::discovery::{BeaconInfo, HostBeacon};
use crate::storage::{FileRecord, Storage, StorageError};
use crate::tls::{Fingerprint, HostIdentity};
use activity::Activity;
pub use activity::{ActiveTransfer, Direction};
use admission::{Admission, Caps};
pub use config::{
    Announce, DEFAULT_KEEP_VERSIONS, DEFAULT_MEMORY_LIMIT, DEFAULT_RESUME_WINDOW, HostConfig,
    Timeouts,
};
use gate::Gate;
pub use gate::Guessing;
use listener::LiveThreads;
use parked::ParkedUploads;
use registry::Registry;
use slots::TransferSlots;
use state::{Counters, Shared};

/// What a host is doing, for monitoring and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostStats {
    /// Connections open now, of every kind.
    pub connections: usize,
    /// Uploads whose bytes are arriving now.
    pub uploads_in_progress: usize,
    /// Downloads whose bytes are being sent now.
    pub downloads_in_progress: usize,
    /// Uploads and downloads waiting for a free transfer slot.
    pub transfers_waiting: usize,
    /// File bytes received since the host started (uploads, complete or not).
    pub bytes_received: u64,
    /// File bytes sent since the host started.
    pub bytes_sent: u64,
    /// Connections refused or closed to make room since the host started (busy, too many from
    /// one address, waiting too long for a first command on a full host, or out of
    /// file descriptors).
    pub refused: u64,
    /// Passcode guessing seen in the last minute or so, if any.
    pub guessing: Option<Guessing>,
}

/// Why a host could not start.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The file store could not be opened (in use by another host, unreadable, ...).
    #[error("could not open the file store: {0}")]
    Storage(#[source] StorageError),
    /// The address could not be bound.
    #[error("could not listen on {address}: {source}")]
    Listen {
        /// The address asked for.
        address: SocketAddr,
        /// The system's reason.
        #[source]
        source: io::Error,
    },
    /// The host's TLS identity could not be loaded or used.
    #[error("could not set up encryption: {0}")]
    Identity(String),
    /// A thread of the host could not be started.
    #[error("could not start the host's threads: {0}")]
    Threads(#[source] io::Error),
}

impl HostError {
    /// True if the port is taken, most likely by another host on this computer.
    pub fn is_address_in_use(&self) -> bool {
        matches!(self, Self::Listen { source, .. } if source.kind() == io::ErrorKind::AddrInUse)
    }
}

/// A running host. Dropping it shuts it down.
pub struct Host {
    shared: Arc<Shared>,
    live: Arc<LiveThreads>,
    local_addr: SocketAddr,
    listener: Option<JoinHandle<()>>,
    sweeper: Option<JoinHandle<()>>,
    expiry: Option<JoinHandle<()>>,
    previews: Option<JoinHandle<()>>,
    presence: Option<PresenceThread>,
    library: Option<PresenceThread>,
    beacon: Option<HostBeacon>,
}

/// How long shutdown waits for connection threads to finish after closing their sockets.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

impl Host {
    /// Opens the store, binds the port and starts serving.
    pub fn start(config: HostConfig) -> Result<Self, HostError> {
        let identity = match &config.identity {
            Some(identity) => identity.clone(),
            None => {
                HostIdentity::generate().map_err(|error| HostError::Identity(error.to_string()))?
            }
        };
        let tls = identity
            .server_config()
            .map_err(|error| HostError::Identity(error.to_string()))?;
        // Said in every handshake: this host understands FEATURES (and takes COMPRESS).
        let mut tls = rustls::ServerConfig::clone(&tls);
        tls.alpn_protocols = vec![crate::tls::FEATURES_ALPN.to_vec()];
        if config.compression {
            tls.alpn_protocols
                .insert(0, crate::tls::COMPRESSION_ALPN.to_vec());
        }
        let tls = Arc::new(tls);
        let storage = Storage::open_with_backup(&config.storage, config.backup.as_ref())
            .map_err(HostError::Storage)?;
        expiry::remove_expired_at_start(&storage);
        let bind = config.bind;
        let listen_failed = |source| HostError::Listen {
            address: bind,
            source,
        };
        let socket = listener::listen(bind).map_err(listen_failed)?;
        let local_addr = socket.local_addr().map_err(listen_failed)?;
        let grants =
            GrantSigner::generate().map_err(|error| HostError::Identity(error.to_string()))?;
        let keys = (tls, identity.fingerprint(), grants);
        let shared = Arc::new(shared_state(config, storage, keys));
        let live = Arc::new(LiveThreads::default());
        let sweeper = spawn_sweeper(&shared)?;
        let stop_helpers = |_: &HostError| {
            shared.parked.stop();
            shared.expiry.stop();
            shared.previews.stop();
        };
        let expiry = spawn_expiry(&shared).inspect_err(stop_helpers)?;
        let previews = spawn_previews(&shared).inspect_err(stop_helpers)?;
        let presence = spawn_presence(&shared).inspect_err(stop_helpers)?;
        let library = spawn_library(&shared).inspect_err(stop_helpers)?;
        let listener = spawn_listener(&shared, socket, &live).inspect_err(stop_helpers)?;
        let beacon = shared
            .config
            .announce
            .as_ref()
            .and_then(|announce| start_beacon(&shared, announce, local_addr.port()));
        Ok(Self {
            shared,
            live,
            local_addr,
            listener: Some(listener),
            sweeper: Some(sweeper),
            expiry: Some(expiry),
            previews: Some(previews),
            presence: Some(presence),
            library,
            beacon,
        })
    }

    /// What the host was started with.
    pub fn config(&self) -> &HostConfig {
        &self.shared.config
    }

    /// The host's fingerprint: what participants pin, and its verification code.
    pub fn fingerprint(&self) -> Fingerprint {
        self.shared.fingerprint
    }

    /// The address the host listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The files currently shared.
    pub fn files(&self) -> Vec<Arc<FileRecord>> {
        self.shared.storage.list()
    }

    /// How many control sessions are open.
    pub fn session_count(&self) -> usize {
        self.shared.registry.session_count()
    }

    /// The transfers being served right now.
    pub fn transfers(&self) -> Vec<ActiveTransfer> {
        self.shared.activity.snapshot()
    }

    /// Bytes held by the memory store, uploads in progress included.
    pub fn memory_in_use(&self) -> u64 {
        self.shared.storage.memory_in_use()
    }

    /// Bytes counted against the disk store's `limit`, uploads in progress included (0 for the
    /// memory store or without a limit).
    pub fn disk_in_use(&self) -> u64 {
        self.shared.storage.disk_in_use()
    }

    /// Cut-off resumable uploads kept now for their senders to continue.
    pub fn parked_uploads(&self) -> usize {
        self.shared.parked.count()
    }

    /// Connections, transfers in progress and bytes moved.
    pub fn stats(&self) -> HostStats {
        let counters = &self.shared.counters;
        HostStats {
            connections: self.shared.admission.count(),
            uploads_in_progress: counters.uploads.load(Ordering::Relaxed),
            downloads_in_progress: counters.downloads.load(Ordering::Relaxed),
            transfers_waiting: self.shared.slots.waiting(),
            bytes_received: counters.bytes_received.load(Ordering::Relaxed),
            bytes_sent: counters.bytes_sent.load(Ordering::Relaxed),
            refused: counters.refused.load(Ordering::Relaxed),
            guessing: self.shared.gate.guessing(),
        }
    }

    /// Stops accepting, closes every connection (unfinished uploads, parked ones included, are
    /// discarded) and waits for the connection threads.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(listener) = self.listener.take() else {
            return;
        };
        // Say goodbye first, so browsers forget this host at once.
        self.beacon = None;
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the listener out of accept().
        let mut wake = self.local_addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(if wake.is_ipv4() {
                [127, 0, 0, 1].into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        let _ = listener.join();
        self.shared.slots.close();
        self.shared.registry.disconnect_all();
        self.shared.admission.close_all();
        // Each connection thread drops what it holds (an unfinished upload among it), lets go
        // of the host's state, and then counts itself out; wait for the last one, so that the
        // store is closed once the host is dropped.
        self.live.wait_for_all(SHUTDOWN_WAIT);
        self.shared.parked.stop();
        for helper in [self.presence.take(), self.library.take()]
            .into_iter()
            .flatten()
        {
            drop(helper.stop);
            let _ = helper.thread.join();
        }
        if let Some(sweeper) = self.sweeper.take() {
            let _ = sweeper.join();
        }
        self.shared.expiry.stop();
        if let Some(expiry) = self.expiry.take() {
            let _ = expiry.join();
        }
        self.shared.previews.stop();
        if let Some(previews) = self.previews.take() {
            let _ = previews.join();
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The state a new host's threads share.
fn shared_state(
    config: HostConfig,
    storage: Storage,
    (tls, fingerprint, grants): (Arc<rustls::ServerConfig>, Fingerprint, GrantSigner),
) -> Shared {
    let registry = Registry::new(&storage.list(), config.operator, config.max_sessions);
    let workers = config.workers.max(1);
    Shared {
        slots: TransferSlots::new(workers, workers),
        gate: Gate::new(config.passcode.as_ref(), config.timeouts.wrong_passcode),
        admission: Arc::new(Admission::new(Caps {
            total: config.max_connections,
            per_address: config.max_connections_per_address,
        })),
        parked: ParkedUploads::new(config.resume_window),
        room_turns: turns::Turns::default(),
        config,
        storage,
        registry,
        counters: Counters::default(),
        stopping: AtomicBool::new(false),
        activity: Activity::default(),
        tls,
        fingerprint,
        direct: direct::DirectShares::default(),
        grants,
        relays: direct::Relays::default(),
        expiry: doorbell::Doorbell::default(),
        previews: doorbell::Doorbell::default(),
    }
}

/// Starts the thread that frees cut-off uploads nobody resumed in time.
fn spawn_sweeper(shared: &Arc<Shared>) -> Result<JoinHandle<()>, HostError> {
    let shared = Arc::clone(shared);
    std::thread::Builder::new()
        .name("lanshare-sweeper".into())
        .spawn(move || shared.parked.run_sweeper())
        .map_err(HostError::Threads)
}

/// Starts the thread that deletes files when they expire.
fn spawn_expiry(shared: &Arc<Shared>) -> Result<JoinHandle<()>, HostError> {
    let shared = Arc::clone(shared);
    std::thread::Builder::new()
        .name("lanshare-expiry".into())
        .spawn(move || expiry::run(&shared.storage, &shared.registry, &shared.expiry))
        .map_err(HostError::Threads)
}

/// Starts the thread that makes the previews of stored files.
fn spawn_previews(shared: &Arc<Shared>) -> Result<JoinHandle<()>, HostError> {
    let shared = Arc::clone(shared);
    std::thread::Builder::new()
        .name("lanshare-previews".into())
        .spawn(move || previews::run(&shared.storage, &shared.registry, &shared.previews))
        .map_err(HostError::Threads)
}

/// How often who joined and left is told to every session.
const PRESENCE_EVERY: Duration = Duration::from_millis(200);

/// A helper thread that runs until told to stop (who joined and left; the shared library).
struct PresenceThread {
    thread: JoinHandle<()>,
    /// Dropping it stops the thread at once.
    stop: flume::Sender<()>,
}

/// Starts the thread that tells every session who joined and left, a few times a second.
fn spawn_presence(shared: &Arc<Shared>) -> Result<PresenceThread, HostError> {
    let shared = Arc::clone(shared);
    let (stop, stopped) = flume::bounded::<()>(0);
    let thread = std::thread::Builder::new()
        .name("lanshare-presence".into())
        .spawn(move || {
            while let Err(flume::RecvTimeoutError::Timeout) = stopped.recv_timeout(PRESENCE_EVERY) {
                shared.registry.flush_presence();
            }
        })
        .map_err(HostError::Threads)?;
    Ok(PresenceThread { thread, stop })
}

/// Starts the thread that follows a library shared with other hosts, if the store is one.
fn spawn_library(shared: &Arc<Shared>) -> Result<Option<PresenceThread>, HostError> {
    if shared.storage.object_store().is_none() {
        return Ok(None);
    }
    let shared = Arc::clone(shared);
    let (stop, stopped) = flume::bounded::<()>(0);
    let thread = std::thread::Builder::new()
        .name("lanshare-library".into())
        .spawn(move || library::run(&shared, &stopped))
        .map_err(HostError::Threads)?;
    Ok(Some(PresenceThread { thread, stop }))
}

/// Starts the thread that accepts connections.
fn spawn_listener(
    shared: &Arc<Shared>,
    socket: TcpListener,
    live: &Arc<LiveThreads>,
) -> Result<JoinHandle<()>, HostError> {
    let shared = Arc::clone(shared);
    let live = Arc::clone(live);
    std::thread::Builder::new()
        .name("lanshare-listener".into())
        .spawn(move || listener::accept_loop(&shared, &socket, &live))
        .map_err(HostError::Threads)
}

/// Starts answering discovery queries; a host that cannot still serves, unannounced.
fn start_beacon(shared: &Arc<Shared>, announce: &Announce, port: u16) -> Option<HostBeacon> {
    let counts_from = Arc::clone(shared);
    let info = BeaconInfo {
        name: announce.name.clone(),
        port,
        fingerprint: shared.fingerprint,
        counts: Box::new(move || {
            (
                counts_from.registry.participant_count(),
                counts_from.storage.list().len(),
            )
        }),
    };
    HostBeacon::start(info, announce.port)
        .inspect_err(|error| {
            tracing::warn!(
                "Not announcing on the LAN (UDP port {}): {error}",
                announce.port
            );
        })
        .ok()
}

/// Raises this process's limit on open files (each connection takes a few) as far as the
/// system allows, and returns the new limit. A host calls this before starting, so that it can
/// keep [`HostConfig::max_connections`] open; where the limit cannot be raised, the host still
/// copes when it runs out (it refuses new connections with a reason until some close).
pub fn raise_descriptor_limit() -> io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// The addresses participants on other machines can use to reach a host on `port`: every
/// non-loopback interface address, IPv4 first.
pub fn lan_addresses(port: u16) -> Vec<SocketAddr> {
    let mut addresses: Vec<SocketAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|interface| !interface.is_loopback())
        .map(|interface| SocketAddr::new(interface.ip(), port))
        .filter(|address| match address.ip() {
            IpAddr::V4(_) => true,
            // Link-local IPv6 addresses need a scope id that people cannot type.
            IpAddr::V6(ip) => (ip.segments()[0] & 0xffc0) != 0xfe80,
        })
        .collect();
    addresses.sort_by_key(|address| (!address.is_ipv4(), address.ip()));
    addresses.dedup();
    addresses
}
