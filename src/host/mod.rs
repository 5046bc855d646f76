//! The host: accepts connections on one port, stores files, and keeps participants informed.
//!
//! A listener thread admits each connection (at most [`HostConfig::max_connections`] open, and
//! [`HostConfig::max_connections_per_address`] from one IP address) and hands it to a thread of
//! the server pool (`pool`: threads reused from connection to connection, started as needed,
//! retired when idle), which reads its commands (`connection`). Waiting for a command costs a thread and a
//! socket, nothing more: an upload or a download takes one of the `slots` only while its bytes
//! move (`transfer`), and a transfer that moves too slowly is stopped (`pace`). A `JOIN`
//! turns the connection into a control session (`session`), registered in the `registry`,
//! which broadcasts offers and deletions to every session. A host with a passcode checks it,
//! slowing down repeated wrong guesses from one address (`gate`).

mod activity;
mod connection;
mod gate;
mod pace;
mod parked;
mod pool;
mod registry;
mod session;
mod slots;
mod transfer;

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::discovery::{BeaconInfo, HostBeacon};
use crate::protocol::{DEFAULT_MAX_FILE_SIZE, DEFAULT_PORT, HostLine};
use crate::storage::{FileRecord, Storage, StorageConfig};
use activity::Activity;
pub use activity::{ActiveTransfer, Direction};
use gate::Gate;
use parked::ParkedUploads;
use pool::ServerPool;
use registry::Registry;
use slots::TransferSlots;

/// How long the host waits at each step before giving up on a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To receive a connection's first command line, or a `READY`/`PROOF` it waits for.
    pub command: Duration,
    /// Between commands on a connection that stays open.
    pub idle: Duration,
    /// Mid-transfer, with no byte moving in either direction; also the window over which a
    /// transfer's pace is measured against [`HostConfig::min_transfer_rate`].
    pub stall: Duration,
    /// On a control session with no line at all (clients send `PING` well within it).
    pub session: Duration,
    /// How long an address must wait after its first wrong passcode; each further wrong
    /// passcode in a row doubles it, up to 64 times as long.
    pub wrong_passcode: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            command: Duration::from_secs(10),
            idle: Duration::from_secs(30),
            stall: Duration::from_secs(30),
            session: Duration::from_secs(60),
            wrong_passcode: Duration::from_secs(1),
        }
    }
}

/// Everything a host needs to start.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Address and port to listen on (port 0 picks a free one).
    pub bind: SocketAddr,
    /// Where files are kept.
    pub storage: StorageConfig,
    /// Largest accepted file, in bytes.
    pub max_file_size: u64,
    /// Uploads and downloads served at once; as many more wait up to [`Timeouts::command`] for
    /// a free slot, and any beyond that are told the host is busy.
    pub workers: usize,
    /// Connections open at once, of every kind (transfers, sessions, and connections that have
    /// not sent a command yet). Beyond it a new connection is told the host is busy.
    pub max_connections: usize,
    /// Connections open at once from one IP address.
    pub max_connections_per_address: usize,
    /// Control sessions allowed at once.
    pub max_sessions: usize,
    /// Slowest pace a transfer may keep, in bytes per second, averaged over each
    /// [`Timeouts::stall`]; a slower upload or download is stopped.
    pub min_transfer_rate: u64,
    /// If set, joining and every transfer require this passcode (`PASS`, see PROTOCOL.md).
    pub passcode: Option<String>,
    /// The participant key of the host's operator, who may delete any file.
    pub operator: Option<[u8; 32]>,
    /// Timeouts for slow or silent clients.
    pub timeouts: Timeouts,
    /// Announce the host on the LAN (off unless set: a library user opts in).
    pub announce: Option<Announce>,
    /// How long an `UPLOAD_RESUME` upload cut off mid-way is kept for its sender to continue;
    /// meanwhile it still counts against the store's cap.
    pub resume_window: Duration,
}

/// How long cut-off resumable uploads are kept by default: 10 minutes, as long as a ticket
/// outlives its session.
pub const DEFAULT_RESUME_WINDOW: Duration = Duration::from_secs(600);

/// How a host announces itself to participants looking for hosts ([`crate::discovery`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announce {
    /// The name participants see.
    pub name: String,
    /// The UDP port of discovery (normally [`crate::discovery::DISCOVERY_PORT`]).
    pub port: u16,
}

/// Default memory-store cap: 1 GiB.
pub const DEFAULT_MEMORY_LIMIT: u64 = 1 << 30;

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)),
            storage: StorageConfig::Memory {
                limit: DEFAULT_MEMORY_LIMIT,
            },
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            workers: 64,
            max_connections: 2048,
            max_connections_per_address: 64,
            max_sessions: 1024,
            min_transfer_rate: 4096,
            passcode: None,
            operator: None,
            timeouts: Timeouts::default(),
            announce: None,
            resume_window: DEFAULT_RESUME_WINDOW,
        }
    }
}

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
    /// Connections refused since the host started (busy, too many from one address, or out of
    /// file descriptors).
    pub refused: u64,
}

/// Running totals the host's threads update.
#[derive(Default)]
struct Counters {
    uploads: AtomicUsize,
    downloads: AtomicUsize,
    bytes_received: AtomicU64,
    bytes_sent: AtomicU64,
    refused: AtomicU64,
}

/// Every open connection (so shutdown can close them), counted per address for the caps.
#[derive(Default)]
struct Connections {
    open: HashMap<u64, TcpStream>,
    per_address: HashMap<IpAddr, usize>,
}

/// State shared by the host's threads.
struct Shared {
    config: HostConfig,
    storage: Storage,
    registry: Registry,
    slots: TransferSlots,
    gate: Gate,
    counters: Counters,
    stopping: AtomicBool,
    connections: Mutex<Connections>,
    next_connection: AtomicU64,
    activity: Activity,
    parked: ParkedUploads,
}

impl Shared {
    fn connections(&self) -> MutexGuard<'_, Connections> {
        self.connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Admits a new connection if the caps allow it; it is counted until the guard drops.
    /// Otherwise returns the reason to send the client.
    fn admit(self: &Arc<Self>, stream: &TcpStream, ip: IpAddr) -> Result<Tracked, Refusal> {
        let key = address_key(ip);
        let mut connections = self.connections();
        let total = self.config.max_connections;
        if connections.open.len() >= total {
            return Err(Refusal::Caps(format!(
                "Host is busy: {total} connections are open, try again shortly"
            )));
        }
        let per_address = self.config.max_connections_per_address;
        let from_ip = connections.per_address.get(&key).copied().unwrap_or(0);
        if from_ip >= per_address {
            return Err(Refusal::Caps(format!(
                "Too many connections from {ip} (max {per_address}): close some and try again"
            )));
        }
        let clone = stream.try_clone().map_err(Refusal::NoDescriptor)?;
        let id = self.next_connection.fetch_add(1, Ordering::Relaxed);
        connections.open.insert(id, clone);
        *connections.per_address.entry(key).or_insert(0) += 1;
        Ok(Tracked {
            shared: Arc::clone(self),
            id,
            key,
        })
    }

    /// Tells a client it is refused, and counts it.
    fn refuse(&self, stream: &TcpStream, message: &str) {
        self.counters.refused.fetch_add(1, Ordering::Relaxed);
        refuse_quickly(stream, message);
    }
}

/// Why a connection was not admitted.
enum Refusal {
    /// A connection cap is reached; the reason to send the client.
    Caps(String),
    /// The process has no file descriptor left to track the connection with.
    NoDescriptor(io::Error),
}

/// What a client refused for want of file descriptors is told.
const OUT_OF_DESCRIPTORS: &str = "Host is busy: out of connections, try again shortly";

/// Whom an address stands for when connections and wrong passcodes are counted: the address
/// itself for IPv4, its /64 network for IPv6, where one machine may pick any address in its
/// network.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

/// Keeps a connection counted as open; removes it from the host's open set when dropped.
struct Tracked {
    shared: Arc<Shared>,
    id: u64,
    key: IpAddr,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let mut connections = self.shared.connections();
        connections.open.remove(&self.id);
        if let Some(count) = connections.per_address.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                connections.per_address.remove(&self.key);
            }
        }
    }
}

/// How many connections are being served, so that shutdown can wait for them. Kept apart
/// from [`Shared`] so that a job can count itself out after it let go of the host's state.
#[derive(Default)]
struct LiveThreads {
    count: Mutex<usize>,
    ended: Condvar,
}

impl LiveThreads {
    fn count(&self) -> MutexGuard<'_, usize> {
        self.count
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts a thread about to start; it counts itself out by dropping the result.
    fn enter(self: &Arc<Self>) -> Alive {
        *self.count() += 1;
        Alive(Arc::clone(self))
    }
}

/// One connection being served.
struct Alive(Arc<LiveThreads>);

impl Drop for Alive {
    fn drop(&mut self) {
        *self.0.count() -= 1;
        self.0.ended.notify_all();
    }
}

/// A running host. Dropping it shuts it down.
pub struct Host {
    shared: Arc<Shared>,
    live: Arc<LiveThreads>,
    local_addr: SocketAddr,
    listener: Option<JoinHandle<()>>,
    sweeper: Option<JoinHandle<()>>,
    beacon: Option<HostBeacon>,
}

/// Stack size of connection threads: transfers keep their buffers on the heap.
const CONNECTION_STACK: usize = 512 * 1024;

/// How long shutdown waits for connection threads to finish after closing their sockets.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

impl Host {
    /// Opens the store, binds the port and starts serving.
    pub fn start(config: HostConfig) -> anyhow::Result<Self> {
        let storage = Storage::open(&config.storage).context("could not open the file store")?;
        let registry = Registry::new(&storage.list(), config.operator, config.max_sessions);
        let listener =
            listen(config.bind).with_context(|| format!("could not listen on {}", config.bind))?;
        let local_addr = listener.local_addr()?;
        let workers = config.workers.max(1);
        let config_resume_window = config.resume_window;
        let shared = Arc::new(Shared {
            slots: TransferSlots::new(workers, workers),
            gate: Gate::new(config.passcode.as_deref(), config.timeouts.wrong_passcode),
            config,
            storage,
            registry,
            counters: Counters::default(),
            stopping: AtomicBool::new(false),
            connections: Mutex::new(Connections::default()),
            next_connection: AtomicU64::new(0),
            activity: Activity::default(),
            parked: ParkedUploads::new(config_resume_window),
        });
        let live = Arc::new(LiveThreads::default());
        let listener_shared = Arc::clone(&shared);
        let listener_live = Arc::clone(&live);
        let sweeper_shared = Arc::clone(&shared);
        let sweeper = std::thread::Builder::new()
            .name("lanshare-sweeper".into())
            .spawn(move || sweeper_shared.parked.run_sweeper())?;
        let listener = std::thread::Builder::new()
            .name("lanshare-listener".into())
            .spawn(move || accept_loop(&listener_shared, &listener, &listener_live))
            .inspect_err(|_| {
                shared.parked.stop();
            })?;
        let beacon = shared.config.announce.as_ref().and_then(|announce| {
            let counts_from = Arc::clone(&shared);
            let info = BeaconInfo {
                name: announce.name.clone(),
                port: local_addr.port(),
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
        });
        Ok(Self {
            shared,
            live,
            local_addr,
            listener: Some(listener),
            sweeper: Some(sweeper),
            beacon,
        })
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
            connections: self.shared.connections().open.len(),
            uploads_in_progress: counters.uploads.load(Ordering::Relaxed),
            downloads_in_progress: counters.downloads.load(Ordering::Relaxed),
            transfers_waiting: self.shared.slots.waiting(),
            bytes_received: counters.bytes_received.load(Ordering::Relaxed),
            bytes_sent: counters.bytes_sent.load(Ordering::Relaxed),
            refused: counters.refused.load(Ordering::Relaxed),
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
        for stream in self.shared.connections().open.values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        // Each connection thread drops what it holds (an unfinished upload among it), lets go
        // of the host's state, and then counts itself out; wait for the last one, so that the
        // store is closed once the host is dropped.
        let _ = self
            .live
            .ended
            .wait_timeout_while(self.live.count(), SHUTDOWN_WAIT, |count| *count > 0);
        self.shared.parked.stop();
        if let Some(sweeper) = self.sweeper.take() {
            let _ = sweeper.join();
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Connections the system may hold for the listener before it accepts them.
const BACKLOG: i32 = 1024;

/// Binds the listening socket, with room for a burst of connections (a flood from one
/// client must not crowd out the next person's connection before the host sees it).
fn listen(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(address),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    // As the standard library does: a restarted host can bind again at once.
    if !cfg!(windows) {
        socket.set_reuse_address(true)?;
    }
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// True for the accept errors that mean this process has no file descriptor left.
fn out_of_descriptors(error: &io::Error) -> bool {
    // EMFILE and ENFILE have these numbers on Linux, the BSDs and macOS; WSAEMFILE on Windows.
    let codes: &[i32] = if cfg!(windows) { &[10024] } else { &[23, 24] };
    error
        .raw_os_error()
        .is_some_and(|code| codes.contains(&code))
}

/// Logs each kind of warning at most once per interval, counting how many were held back, so
/// that a flood of one kind never hides the first of another.
#[derive(Default)]
struct Throttled {
    kinds: HashMap<&'static str, (Instant, u64)>,
}

impl Throttled {
    const INTERVAL: Duration = Duration::from_secs(10);

    fn warn(&mut self, kind: &'static str, message: &str) {
        match self.kinds.get_mut(kind) {
            Some((last, held_back)) if last.elapsed() < Self::INTERVAL => *held_back += 1,
            Some((last, held_back)) => {
                if *held_back > 0 {
                    tracing::warn!("{message} (and {held_back} more like it)");
                } else {
                    tracing::warn!("{message}");
                }
                *last = Instant::now();
                *held_back = 0;
            }
            None => {
                tracing::warn!("{message}");
                self.kinds.insert(kind, (Instant::now(), 0));
            }
        }
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener, live: &Arc<LiveThreads>) {
    let pool = ServerPool::new(CONNECTION_STACK, pool::IDLE_RETIRE);
    // A spare descriptor, given up when the process runs out so that the connection waiting
    // in the backlog can still be accepted and told why, instead of hanging there.
    let mut spare = listener.try_clone().ok();
    let mut warnings = Throttled::default();
    loop {
        let accepted = listener.accept();
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) if out_of_descriptors(&error) && spare.is_some() => {
                warnings.warn(
                    "descriptors",
                    &format!("Out of file descriptors ({error}): refusing connections"),
                );
                drop(spare.take());
                if let Ok((stream, _)) = listener.accept() {
                    shared.refuse(&stream, OUT_OF_DESCRIPTORS);
                }
                spare = listener.try_clone().ok();
                continue;
            }
            // A client that gave up before it was accepted: nothing to do.
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(error) => {
                warnings.warn("accept", &format!("Could not accept a connection: {error}"));
                // Out of descriptors with no spare left, and similar: back off, don't spin.
                std::thread::sleep(Duration::from_millis(50));
                spare = spare.or_else(|| listener.try_clone().ok());
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let tracked = match shared.admit(&stream, peer.ip()) {
            Ok(tracked) => tracked,
            Err(Refusal::Caps(reason)) => {
                warnings.warn(
                    "refused",
                    &format!("Refused a connection from {peer}: {reason}"),
                );
                shared.refuse(&stream, &reason);
                continue;
            }
            Err(Refusal::NoDescriptor(error)) => {
                warnings.warn(
                    "descriptors",
                    &format!("Out of file descriptors ({error}): refusing connections"),
                );
                shared.refuse(&stream, OUT_OF_DESCRIPTORS);
                continue;
            }
        };
        let connection_shared = Arc::clone(shared);
        let alive = live.enter();
        let spawned = pool.execute(Box::new(move || {
            connection::run(&connection_shared, stream, peer, tracked);
            drop(connection_shared);
            drop(alive);
        }));
        if let Err(error) = spawned {
            // The connection closes as its thread's closure is dropped: the client sees the
            // connection end, never a hang.
            warnings.warn(
                "thread",
                &format!("Could not start a thread for {peer}: {error}"),
            );
        }
    }
}

/// Sends a refusal without ever blocking the caller (one short line fits any socket buffer),
/// then discards what the client has sent so far, so that closing does not reset the
/// connection before the client has read the reason.
fn refuse_quickly(mut stream: &TcpStream, message: &str) {
    let _ = stream.set_nonblocking(true);
    let _ = stream.write_all(HostLine::Error(message.to_owned()).encode().as_bytes());
    let _ = stream.shutdown(Shutdown::Write);
    let mut sink = [0u8; 4096];
    for _ in 0..16 {
        if !matches!(io::Read::read(&mut stream, &mut sink), Ok(read) if read > 0) {
            break;
        }
    }
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
