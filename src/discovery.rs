//! Finding hosts on the LAN without typing addresses: UDP broadcast queries.
//!
//! A running host listens on UDP port [`DISCOVERY_PORT`]. A participant looking for hosts
//! broadcasts a `QUERY` to every IPv4 interface (and to 127.0.0.1, for a host on the same
//! machine) every [`QUERY_INTERVAL`]; each host answers the asker directly with an `ANNOUNCE`.
//! A host that has not answered for [`HOST_EXPIRY`] is gone; a host that stops says `BYE` to
//! whoever asked recently. The datagrams, one line of text each, are parsed and encoded by
//! [`DiscoveryDatagram`] (PROTOCOL.md, "Discovery"); this module holds the sockets and threads.
//!
//! Why broadcast and not mDNS: multicast is what home and office Wi-Fi most often filters
//! (IGMP snooping, "multicast optimisation"), while subnet broadcast reaches every machine of
//! the segment; it needs no daemon and no dependency. Why ask rather than have hosts beacon:
//! the answer comes at once, only the host needs a fixed port (so any number of participants
//! on one machine can look at the same time), and a host's silence is a reliable sign it left.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

/// What a host announces about itself (see [`FoundHost`]).
pub use crate::protocol::Announcement;
use crate::protocol::{DEFAULT_PORT, DiscoveryDatagram, Fingerprint, encode_hex};

/// The UDP port of discovery (the same number as the TCP port).
pub const DISCOVERY_PORT: u16 = DEFAULT_PORT;
/// How often a participant that is looking asks again.
pub const QUERY_INTERVAL: Duration = Duration::from_secs(2);
/// How long a host may stay silent before it counts as gone.
pub const HOST_EXPIRY: Duration = Duration::from_secs(7);
/// How long a host remembers an asker, to say `BYE` to it.
const ASKER_MEMORY: Duration = Duration::from_secs(30);

/// Where to send a query: the broadcast address of every IPv4 interface, and 127.0.0.1 for a
/// host on this machine.
fn broadcast_targets(port: u16) -> Vec<SocketAddr> {
    let mut targets: Vec<SocketAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|interface| {
            let loopback = interface.is_loopback();
            match interface.addr {
                if_addrs::IfAddr::V4(v4) if loopback => Some(v4.ip),
                if_addrs::IfAddr::V4(v4) => Some(v4.broadcast.unwrap_or(Ipv4Addr::BROADCAST)),
                if_addrs::IfAddr::V6(_) => None,
            }
        })
        .map(|ip| SocketAddr::new(IpAddr::V4(ip), port))
        .collect();
    targets.sort();
    targets.dedup();
    targets
}

/// The host's UDP socket on `port`, which a second host on this machine may share, able to
/// send broadcasts.
fn shared_socket(port: u16) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    socket.set_reuse_port(true)?;
    socket.set_broadcast(true)?;
    socket.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())?;
    Ok(socket.into())
}

fn send_everywhere(socket: &UdpSocket, message: &str, port: u16) {
    for target in broadcast_targets(port) {
        // An interface that cannot broadcast right now is simply skipped.
        let _ = socket.send_to(message.as_bytes(), target);
    }
}

/// What a running host's beacon announces.
pub struct BeaconInfo {
    /// The host's display name.
    pub name: String,
    /// The TCP port.
    pub port: u16,
    /// Participants online and files shared, asked for at each announcement.
    pub counts: Box<dyn Fn() -> (usize, usize) + Send>,
    /// The fingerprint of the host's TLS certificate.
    pub fingerprint: Fingerprint,
}

/// A host's discovery thread, answering queries; dropping it says `BYE` and stops it.
pub struct HostBeacon {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HostBeacon {
    /// Starts answering queries on `discovery_port` (normally [`DISCOVERY_PORT`]) with `info`.
    pub fn start(info: BeaconInfo, discovery_port: u16) -> io::Result<Self> {
        let socket = shared_socket(discovery_port)?;
        socket.set_read_timeout(Some(Duration::from_millis(200)))?;
        let host_id = encode_hex(&crate::random::random_bytes::<8>()?);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("lanshare-beacon".into())
            .spawn({
                let stop = Arc::clone(&stop);
                move || answer(&socket, &info, &host_id, &stop)
            })?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for HostBeacon {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn answer(socket: &UdpSocket, info: &BeaconInfo, host_id: &str, stop: &AtomicBool) {
    let announcement = || {
        let (participants, files) = (info.counts)();
        DiscoveryDatagram::Announce(Announcement {
            host_id: host_id.to_owned(),
            port: info.port,
            participants,
            files,
            name: info.name.clone(),
            fingerprint: Some(info.fingerprint),
        })
        .encode()
    };
    let mut askers: HashMap<SocketAddr, Instant> = HashMap::new();
    let mut buffer = [0u8; 512];
    while !stop.load(Ordering::SeqCst) {
        if let Ok((len, from)) = socket.recv_from(&mut buffer)
            && DiscoveryDatagram::parse(&buffer[..len]) == Some(DiscoveryDatagram::Query)
        {
            let _ = socket.send_to(announcement().as_bytes(), from);
            askers.insert(from, Instant::now());
            askers.retain(|_, asked| asked.elapsed() < ASKER_MEMORY);
        }
    }
    let bye = DiscoveryDatagram::Bye {
        host_id: host_id.to_owned(),
    }
    .encode();
    for asker in askers.keys() {
        let _ = socket.send_to(bye.as_bytes(), asker);
    }
}

/// A host found on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundHost {
    /// Where to connect.
    pub address: SocketAddr,
    /// What it announced.
    pub announcement: Announcement,
}

/// A change in the hosts seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostsEvent {
    /// The hosts seen now, sorted by name then address (sent whenever they change).
    Changed(Vec<FoundHost>),
}

/// Watches for hosts on a thread of its own, reporting changes over a flume channel until
/// dropped.
pub struct HostBrowser {
    events: flume::Receiver<HostsEvent>,
    stop: Arc<AtomicBool>,
}

impl HostBrowser {
    /// Starts asking for hosts listening on `discovery_port` (normally [`DISCOVERY_PORT`]).
    pub fn start(discovery_port: u16) -> io::Result<Self> {
        let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        socket.set_broadcast(true)?;
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        let (sender, events) = flume::unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        std::thread::Builder::new()
            .name("lanshare-browse".into())
            .spawn({
                let stop = Arc::clone(&stop);
                move || browse(&socket, discovery_port, &sender, &stop)
            })?;
        Ok(Self { events, stop })
    }

    /// The browser's events.
    pub fn events(&self) -> &flume::Receiver<HostsEvent> {
        &self.events
    }
}

impl Drop for HostBrowser {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Hosts heard from, with when, and what was last reported.
#[derive(Default)]
struct Seen {
    hosts: HashMap<String, (FoundHost, Instant)>,
    last_sent: Option<Vec<FoundHost>>,
}

impl Seen {
    /// The hosts, if they changed since the last report.
    fn changes(&mut self) -> Option<Vec<FoundHost>> {
        self.hosts
            .retain(|_, (_, heard)| heard.elapsed() < HOST_EXPIRY);
        let mut now: Vec<FoundHost> = self.hosts.values().map(|(h, _)| h.clone()).collect();
        now.sort_by(|a, b| {
            (&a.announcement.name, a.address).cmp(&(&b.announcement.name, b.address))
        });
        (self.last_sent.as_ref() != Some(&now)).then(|| {
            self.last_sent = Some(now.clone());
            now
        })
    }
}

/// Asks every [`QUERY_INTERVAL`], collects the answers, and reports changes.
fn browse(socket: &UdpSocket, port: u16, events: &flume::Sender<HostsEvent>, stop: &AtomicBool) {
    let mut seen = Seen::default();
    let mut next_query = Instant::now();
    let mut buffer = [0u8; 512];
    while !stop.load(Ordering::SeqCst) {
        if Instant::now() >= next_query {
            send_everywhere(socket, &DiscoveryDatagram::Query.encode(), port);
            next_query = Instant::now() + QUERY_INTERVAL;
        }
        if let Ok((len, from)) = socket.recv_from(&mut buffer) {
            match DiscoveryDatagram::parse(&buffer[..len]) {
                Some(DiscoveryDatagram::Announce(announcement)) => {
                    let address = SocketAddr::new(from.ip(), announcement.port);
                    let key = announcement.host_id.clone();
                    seen.hosts.insert(
                        key,
                        (
                            FoundHost {
                                address,
                                announcement,
                            },
                            Instant::now(),
                        ),
                    );
                }
                Some(DiscoveryDatagram::Bye { host_id }) => {
                    seen.hosts.remove(&host_id);
                }
                Some(DiscoveryDatagram::Query) | None => {}
            }
        }
        if let Some(hosts) = seen.changes()
            && events.send(HostsEvent::Changed(hosts)).is_err()
        {
            return;
        }
    }
}

/// Listens for `wait` and returns the hosts heard (what `lanshare hosts` prints).
pub fn find_hosts(discovery_port: u16, wait: Duration) -> io::Result<Vec<FoundHost>> {
    let browser = HostBrowser::start(discovery_port)?;
    let deadline = Instant::now() + wait;
    let mut hosts = Vec::new();
    while let Ok(HostsEvent::Changed(now)) = browser.events().recv_deadline(deadline) {
        hosts = now;
    }
    Ok(hosts)
}

/// Set to anything non-empty to turn discovery off (no beacon, no browsing): for tests, and
/// for networks where broadcasts are unwelcome.
pub const NO_DISCOVERY_ENV: &str = "LANSHARE_NO_DISCOVERY";

/// True unless [`NO_DISCOVERY_ENV`] turns discovery off.
pub fn enabled() -> bool {
    std::env::var_os(NO_DISCOVERY_ENV).is_none_or(|v| v.is_empty())
}

/// This machine's name, for announcing a host (`lanshare host` on `laptop`).
pub fn machine_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "lanshare host".to_owned())
}
