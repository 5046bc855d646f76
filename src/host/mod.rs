//! The host: accepts connections on one port, stores files, and keeps participants informed.
//!
//! A listener thread accepts connections and hands them to a bounded pool of worker threads
//! ([`pool`]). A worker reads the first line: a transfer (`UPLOAD`, `DOWNLOAD`, `LIST`,
//! `AUTH`) is served on the worker ([`transfer`]); a `JOIN` becomes a control session on
//! threads of its own ([`session`]), registered in the [`registry`], which broadcasts offers
//! and deletions to every session.

mod activity;
mod connection;
mod pool;
mod registry;
mod session;
mod transfer;

use std::collections::HashMap;
use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;

use crate::protocol::{DEFAULT_MAX_FILE_SIZE, DEFAULT_PORT, HostLine};
use crate::storage::{FileRecord, Storage, StorageConfig};
use activity::Activity;
pub use activity::{ActiveTransfer, Direction};
use pool::WorkerPool;
use registry::Registry;

/// How long the host waits at each step before giving up on a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To receive a connection's first command line, or a `READY`/`PROOF` it waits for.
    pub command: Duration,
    /// Between commands on a connection that stays open.
    pub idle: Duration,
    /// Mid-transfer, with no byte moving in either direction.
    pub stall: Duration,
    /// On a control session with no line at all (clients send `PING` well within it).
    pub session: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            command: Duration::from_secs(10),
            idle: Duration::from_secs(30),
            stall: Duration::from_secs(30),
            session: Duration::from_secs(60),
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
    /// Worker threads serving transfers at once.
    pub workers: usize,
    /// Control sessions allowed at once.
    pub max_sessions: usize,
    /// The participant key of the host's operator, who may delete any file.
    pub operator: Option<[u8; 32]>,
    /// Timeouts for slow or silent clients.
    pub timeouts: Timeouts,
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
            max_sessions: 1024,
            operator: None,
            timeouts: Timeouts::default(),
        }
    }
}

/// State shared by the host's threads.
struct Shared {
    config: HostConfig,
    storage: Storage,
    registry: Registry,
    stopping: AtomicBool,
    open: Mutex<HashMap<u64, TcpStream>>,
    next_connection: AtomicU64,
    activity: Activity,
}

impl Shared {
    /// Remembers a connection so shutdown can close it; forgotten when the guard drops.
    fn track(self: &Arc<Self>, stream: &TcpStream) -> Option<Tracked> {
        let id = self.next_connection.fetch_add(1, Ordering::Relaxed);
        let clone = stream.try_clone().ok()?;
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, clone);
        Some(Tracked {
            shared: Arc::clone(self),
            id,
        })
    }
}

/// Removes a connection from the host's open set when dropped.
struct Tracked {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.shared
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// A running host. Dropping it shuts it down.
pub struct Host {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    listener: Option<JoinHandle<()>>,
}

impl Host {
    /// Opens the store, binds the port and starts serving.
    pub fn start(config: HostConfig) -> anyhow::Result<Self> {
        let storage = Storage::open(&config.storage).context("could not open the file store")?;
        let registry = Registry::new(&storage.list(), config.operator, config.max_sessions);
        let listener = TcpListener::bind(config.bind)
            .with_context(|| format!("could not listen on {}", config.bind))?;
        let local_addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            config,
            storage,
            registry,
            stopping: AtomicBool::new(false),
            open: Mutex::new(HashMap::new()),
            next_connection: AtomicU64::new(0),
            activity: Activity::default(),
        });
        let handler_shared = Arc::clone(&shared);
        let pool = WorkerPool::new(
            shared.config.workers,
            shared.config.workers,
            Arc::new(move |(stream, peer): (TcpStream, SocketAddr)| {
                connection::serve(&handler_shared, stream, peer);
            }),
        )?;
        let listener_shared = Arc::clone(&shared);
        let listener = std::thread::Builder::new()
            .name("lanshare-listener".into())
            .spawn(move || accept_loop(&listener_shared, &listener, pool))?;
        Ok(Self {
            shared,
            local_addr,
            listener: Some(listener),
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

    /// Stops accepting, closes every connection (unfinished uploads are discarded) and waits
    /// for the worker threads.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(listener) = self.listener.take() else {
            return;
        };
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
        self.shared.registry.disconnect_all();
        for stream in self
            .shared
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
        {
            let _ = stream.shutdown(Shutdown::Both);
        }
        let _ = listener.join();
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(
    shared: &Arc<Shared>,
    listener: &TcpListener,
    mut pool: WorkerPool<(TcpStream, SocketAddr)>,
) {
    for connection in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let stream = match connection {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!("Could not accept a connection: {error}");
                // Out of file descriptors and similar: back off instead of spinning.
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let Ok(peer) = stream.peer_addr() else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        if let Err((stream, peer)) = pool.try_submit((stream, peer)) {
            tracing::warn!("Busy: refused a connection from {peer}");
            refuse_busy(&stream, shared.config.workers);
        }
    }
    pool.close();
}

/// Tells a client that every worker is taken. Small enough to fit any socket buffer, so the
/// listener never waits on it.
fn refuse_busy(mut stream: &TcpStream, workers: usize) {
    let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
    let line = HostLine::Error(format!(
        "Host is busy: all {workers} transfer slots are in use, try again shortly"
    ));
    let _ = stream.write_all(line.encode().as_bytes());
    let _ = stream.shutdown(Shutdown::Both);
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
            std::net::IpAddr::V4(_) => true,
            // Link-local IPv6 addresses need a scope id that people cannot type.
            std::net::IpAddr::V6(ip) => (ip.segments()[0] & 0xffc0) != 0xfe80,
        })
        .collect();
    addresses.sort_by_key(|address| (!address.is_ipv4(), address.ip()));
    addresses.dedup();
    addresses
}
