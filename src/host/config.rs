//! How a host is configured: where it listens, where it keeps files, its limits and timeouts.

use std::net::SocketAddr;
use std::time::Duration;

use crate::protocol::{DEFAULT_MAX_FILE_SIZE, DEFAULT_PORT, Passcode, PublicKey};
use crate::storage::{ObjectStoreConfig, StorageConfig};
use crate::tls::HostIdentity;

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
    /// When a transfer finds no free slot, or an upload no storage room, transfers that would
    /// still need longer than this to finish at their pace so far are stopped to make way for
    /// it, the slowest first (see PROTOCOL.md, *Limits*).
    pub make_way: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            command: Duration::from_secs(10),
            idle: Duration::from_secs(30),
            stall: Duration::from_secs(30),
            session: Duration::from_secs(60),
            wrong_passcode: Duration::from_secs(1),
            make_way: Duration::from_secs(600),
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
    /// An object store that keeps a copy of a disk store's files (`--backup`), restored from
    /// when the folder is empty.
    pub backup: Option<ObjectStoreConfig>,
    /// Largest accepted file, in bytes.
    pub max_file_size: u64,
    /// Uploads and downloads served at once; as many more wait up to [`Timeouts::command`] for
    /// a free slot, and any beyond that are told the host is busy.
    pub workers: usize,
    /// Connections open at once, of every kind (transfers, sessions, and connections that have
    /// not sent a command yet). When all are open, a new connection takes the place of the
    /// oldest one that has not completed a first command, from the address holding the most
    /// of those; only when every open connection has started is the newcomer told the host is
    /// busy.
    pub max_connections: usize,
    /// Connections open at once from one IP address (an IPv6 address alone, not its /64: the
    /// machines of a LAN share one, which has no cap below [`HostConfig::max_connections`]);
    /// beyond it a new connection from that address is refused.
    pub max_connections_per_address: usize,
    /// Control sessions allowed at once.
    pub max_sessions: usize,
    /// Slowest pace a transfer may keep, in bytes per second, averaged over each
    /// [`Timeouts::stall`]; a slower upload or download is stopped.
    pub min_transfer_rate: u64,
    /// If set, joining and every transfer require this passcode, proven without sending it
    /// (`PAKE`, see PROTOCOL.md); such a host serves nothing in plain text.
    pub passcode: Option<Passcode>,
    /// The host's TLS identity (what participants pin); `None` makes a new one at start, kept
    /// nowhere.
    pub identity: Option<HostIdentity>,
    /// Turn away plain-text (seed) connections with an `ERROR` line.
    pub require_encryption: bool,
    /// The participant key of the host's operator, who may delete any file.
    pub operator: Option<PublicKey>,
    /// Timeouts for slow or silent clients.
    pub timeouts: Timeouts,
    /// Announce the host on the LAN (off unless set: a library user opts in).
    pub announce: Option<Announce>,
    /// How long an `UPLOAD_RESUME` upload cut off mid-way is kept for its sender to continue;
    /// meanwhile it still counts against the store's cap.
    pub resume_window: Duration,
    /// How long a file lives when its sharer does not say (`--expire-after`); `None`: until
    /// deleted.
    pub expire_after: Option<Duration>,
    /// The longest any file lives (`--max-expiry`): a longer request, or one for no expiry, is
    /// cut to it.
    pub max_expiry: Option<Duration>,
    /// How many versions of a file the host keeps (`--keep-versions`, at least 1): an owner's
    /// upload of a name it already shares becomes that file's new version, and older ones past
    /// this many are freed.
    pub keep_versions: usize,
    /// Whether lanshare peers may send and fetch files compressed (`COMPRESS`; off with
    /// `lanshare host --no-compression`): the host then selects no compression in the TLS
    /// handshake and refuses the line.
    pub compression: bool,
}

/// How many versions of a file are kept by default.
pub const DEFAULT_KEEP_VERSIONS: usize = 5;

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
            backup: None,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            workers: 64,
            max_connections: 2048,
            max_connections_per_address: 64,
            max_sessions: 1024,
            min_transfer_rate: 4096,
            passcode: None,
            identity: None,
            require_encryption: false,
            operator: None,
            timeouts: Timeouts::default(),
            announce: None,
            resume_window: DEFAULT_RESUME_WINDOW,
            expire_after: None,
            max_expiry: None,
            keep_versions: DEFAULT_KEEP_VERSIONS,
            compression: true,
        }
    }
}
