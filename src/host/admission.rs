//! Which connections are open: every one is tracked (so shutdown can close them) and counted
//! per address, against the host's caps. When the host is full, a newcomer takes the place of
//! the oldest connection that has not completed a first command yet, from the address holding
//! the most of them: a crowd of idle connections sheds itself, and a client that says what it
//! wants at once always gets in.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{self, Write};
use std::net::{IpAddr, Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::protocol::HostLine;

/// Whom an address stands for when open connections and wrong passcodes are counted: the exact
/// address (an IPv4-mapped IPv6 address as the IPv4 one). Not the /64: on a LAN every IPv6
/// participant shares one, and a cap on it would let one machine lock all of them out.
pub(super) fn connection_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Why a connection was not admitted.
pub(super) enum NotAdmitted {
    /// A connection cap is reached; the reason to send the client.
    Caps(String),
    /// The process has no file descriptor left to track the connection with.
    NoDescriptor(io::Error),
}

/// The caps on open connections.
#[derive(Debug, Clone, Copy)]
pub(super) struct Caps {
    /// Connections open at once, of every kind.
    pub total: usize,
    /// Connections open at once from one address (see [`connection_key`]).
    pub per_address: usize,
}

/// How long a connection waits without a word before it is shed ahead of fresher ones.
const STALE: Duration = Duration::from_secs(1);

/// What a connection closed to make room is told.
const SHED_REASON: &str =
    "Host is busy: this connection sent no command in time to keep its place, try again";

/// An admitted connection.
pub(super) struct Admitted {
    /// Keeps it counted until dropped.
    pub tracked: Tracked,
    /// The address of the connection closed to make room for this one, if the host was full.
    pub shed_from: Option<IpAddr>,
}

/// Connections that have not completed a first command yet, oldest first for each address, and
/// the addresses ranked by how many such connections they hold.
#[derive(Default)]
struct Waiting {
    by_address: HashMap<IpAddr, BTreeSet<u64>>,
    /// When each waiting connection began to wait, and its address, oldest first (ids grow).
    since: BTreeMap<u64, (Instant, IpAddr)>,
    /// (waiting connections, their oldest id reversed, address): the last is the address with
    /// the most, and of those the one whose oldest waiting connection is oldest.
    ranking: BTreeSet<(usize, Reverse<u64>, IpAddr)>,
}

impl Waiting {
    fn rank(&self, key: IpAddr) -> Option<(usize, Reverse<u64>, IpAddr)> {
        let ids = self.by_address.get(&key)?;
        let oldest = ids.first()?;
        Some((ids.len(), Reverse(*oldest), key))
    }

    /// Changes the ids waiting from `key`, keeping the ranking in step.
    fn update(&mut self, key: IpAddr, change: impl FnOnce(&mut BTreeSet<u64>) -> bool) -> bool {
        if let Some(rank) = self.rank(key) {
            self.ranking.remove(&rank);
        }
        let ids = self.by_address.entry(key).or_default();
        let changed = change(ids);
        if ids.is_empty() {
            self.by_address.remove(&key);
        }
        if let Some(rank) = self.rank(key) {
            self.ranking.insert(rank);
        }
        changed
    }

    fn insert(&mut self, key: IpAddr, id: u64) {
        self.since.insert(id, (Instant::now(), key));
        self.update(key, |ids| ids.insert(id));
    }

    fn remove(&mut self, key: IpAddr, id: u64) -> bool {
        self.since.remove(&id);
        self.update(key, |ids| ids.remove(&id))
    }

    /// Takes the oldest waiting connection of all if it has waited `STALE` or longer: a client
    /// that means to talk does so within milliseconds, so a connection silent that long is
    /// shed before any fresh one, whatever address the fresh ones share.
    fn take_stale(&mut self) -> Option<(IpAddr, u64)> {
        let (&id, &(since, key)) = self.since.first_key_value()?;
        if since.elapsed() < STALE {
            return None;
        }
        self.remove(key, id);
        Some((key, id))
    }

    /// Takes the connection to shed: a stale one, else the oldest of the busiest address.
    fn take_for_shedding(&mut self) -> Option<(IpAddr, u64)> {
        self.take_stale().or_else(|| self.take_oldest_of_crowd())
    }

    /// Takes the oldest waiting connection of the address holding the most.
    fn take_oldest_of_crowd(&mut self) -> Option<(IpAddr, u64)> {
        let &(_, Reverse(id), key) = self.ranking.last()?;
        self.remove(key, id);
        Some((key, id))
    }
}

#[derive(Default)]
struct Open {
    streams: HashMap<u64, TcpStream>,
    per_address: HashMap<IpAddr, usize>,
    waiting: Waiting,
    /// Waiting connections that began a TLS handshake: shed only when none that sent nothing
    /// is left, and without a plain-text line (it would land in the middle of the handshake).
    handshaking: Waiting,
    /// Connections shut down to make room whose threads have not ended yet: they no longer
    /// count against the total cap.
    shed: HashSet<u64>,
}

impl Open {
    /// Connections that count against the total cap.
    fn counted(&self) -> usize {
        self.streams.len() - self.shed.len()
    }

    /// Shuts the oldest connection still waiting for its first command, from the address
    /// holding the most of them, down (its thread ends at once): one that sent nothing if any,
    /// else one in its TLS handshake. Returns that address.
    fn shed_one(&mut self) -> Option<IpAddr> {
        let (key, id, silent) = match self.waiting.take_for_shedding() {
            Some((key, id)) => (key, id, true),
            None => {
                let (key, id) = self.handshaking.take_for_shedding()?;
                (key, id, false)
            }
        };
        if let Some(stream) = self.streams.get(&id) {
            if silent {
                shut_down_with_reason(stream, SHED_REASON);
            } else {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
        self.shed.insert(id);
        Some(key)
    }

    /// Whether some connection could be shed.
    fn any_waiting(&self) -> bool {
        !self.waiting.ranking.is_empty() || !self.handshaking.ranking.is_empty()
    }
}

/// Tells a connection why it is closed, without ever blocking (one short line fits the empty
/// send buffer of a connection that has not been answered yet), and shuts it down both ways,
/// which also wakes the thread waiting on it.
fn shut_down_with_reason(mut stream: &TcpStream, reason: &str) {
    let _ = stream.set_nonblocking(true);
    let _ = stream.write_all(HostLine::Error(reason.to_owned()).encode().as_bytes());
    let _ = stream.shutdown(Shutdown::Both);
}

/// Every open connection, counted per address.
pub(super) struct Admission {
    caps: Caps,
    open: Mutex<Open>,
    next_id: AtomicU64,
}

impl Admission {
    /// No connection open yet.
    pub(super) fn new(caps: Caps) -> Self {
        Self {
            caps,
            open: Mutex::new(Open::default()),
            next_id: AtomicU64::new(0),
        }
    }

    fn open(&self) -> MutexGuard<'_, Open> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Connections open now (those being closed to make room aside).
    pub(super) fn count(&self) -> usize {
        self.open().counted()
    }

    /// Admits a new connection if the caps allow it; it is counted until the guard drops, and
    /// may be shed to make room for another until [`Tracked::mark_started`]. When the host is
    /// full, the oldest connection still waiting for its first command from the address holding
    /// the most of them is closed to make room; only if none is waiting is the newcomer refused.
    /// Otherwise returns the reason to send the client.
    pub(super) fn admit(
        self: &Arc<Self>,
        stream: &TcpStream,
        ip: IpAddr,
    ) -> Result<Admitted, NotAdmitted> {
        let key = connection_key(ip);
        let mut open = self.open();
        let per_address = self.caps.per_address;
        let from_ip = open.per_address.get(&key).copied().unwrap_or(0);
        if from_ip >= per_address {
            return Err(NotAdmitted::Caps(format!(
                "Too many connections from {ip} (max {per_address}): close some and try again"
            )));
        }
        let total = self.caps.total;
        // Shed connections still hold a thread until it notices: never more than the cap of them.
        let full = open.counted() >= total;
        if full && (open.shed.len() >= total || !open.any_waiting()) {
            return Err(NotAdmitted::Caps(format!(
                "Host is busy: {total} connections are open, try again shortly"
            )));
        }
        let clone = stream.try_clone().map_err(NotAdmitted::NoDescriptor)?;
        let shed_from = if full { open.shed_one() } else { None };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        open.streams.insert(id, clone);
        *open.per_address.entry(key).or_insert(0) += 1;
        open.waiting.insert(key, id);
        let tracked = Tracked {
            admission: Arc::clone(self),
            id,
            key,
            waiting: true,
        };
        Ok(Admitted { tracked, shed_from })
    }

    /// Shuts every open connection down, so that the threads serving them end.
    pub(super) fn close_all(&self) {
        for stream in self.open().streams.values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// Keeps a connection counted as open; removes it from the host's open set when dropped.
pub(super) struct Tracked {
    admission: Arc<Admission>,
    id: u64,
    key: IpAddr,
    /// Not marked started yet: the host may still shed it.
    waiting: bool,
}

impl Tracked {
    /// The connection completed its first command (or its passcode exchange): from now on it
    /// is never closed to make room for another.
    pub(super) fn mark_started(&mut self) {
        if std::mem::take(&mut self.waiting) {
            let mut open = self.admission.open();
            open.waiting.remove(self.key, self.id);
            open.handshaking.remove(self.key, self.id);
        }
    }

    /// The connection began a TLS handshake: it is shed only after every connection that sent
    /// nothing, and then without a word (a plain-text line would only break its handshake).
    pub(super) fn mark_encrypted(&self) {
        if self.waiting {
            let mut open = self.admission.open();
            if open.waiting.remove(self.key, self.id) {
                open.handshaking.insert(self.key, self.id);
            }
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let mut open = self.admission.open();
        open.streams.remove(&self.id);
        open.shed.remove(&self.id);
        if self.waiting {
            open.waiting.remove(self.key, self.id);
            open.handshaking.remove(self.key, self.id);
        }
        if let Some(count) = open.per_address.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.per_address.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv6Addr, TcpListener};

    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn the_crowd_gives_way_oldest_first() {
        let mut waiting = Waiting::default();
        // 1 holds three (ids 0, 3, 4), 2 holds two (1, 2), 3 holds one (5).
        for (key, id) in [(1, 0), (2, 1), (2, 2), (1, 3), (1, 4), (3, 5)] {
            waiting.insert(ip(key), id);
        }
        assert_eq!(waiting.take_oldest_of_crowd(), Some((ip(1), 0)));
        // 1 and 2 now hold two each: the one whose oldest is older goes first.
        assert_eq!(waiting.take_oldest_of_crowd(), Some((ip(2), 1)));
        assert_eq!(waiting.take_oldest_of_crowd(), Some((ip(1), 3)));
        // A connection that started is never taken.
        assert!(waiting.remove(ip(2), 2));
        assert!(!waiting.remove(ip(2), 2));
        assert_eq!(waiting.take_oldest_of_crowd(), Some((ip(1), 4)));
        assert_eq!(waiting.take_oldest_of_crowd(), Some((ip(3), 5)));
        assert_eq!(waiting.take_oldest_of_crowd(), None);
        assert!(waiting.by_address.is_empty());
    }

    #[test]
    fn a_connection_silent_for_a_second_goes_before_a_busy_address_of_fresh_ones() {
        let mut waiting = Waiting::default();
        waiting.insert(ip(9), 0);
        // The silent one is made a second old; 1 then opens three fresh connections at once.
        if let Some((since, _)) = waiting.since.get_mut(&0) {
            *since -= STALE;
        }
        for id in 1..4 {
            waiting.insert(ip(1), id);
        }
        assert_eq!(waiting.take_for_shedding(), Some((ip(9), 0)));
        // None is stale any more: the busiest address gives way.
        assert_eq!(waiting.take_for_shedding(), Some((ip(1), 1)));
        assert_eq!(waiting.since.len(), 2);
    }

    #[test]
    fn ipv6_connections_are_counted_per_address() {
        let one = IpAddr::V6(Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 1));
        let two = IpAddr::V6(Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 2));
        assert_ne!(connection_key(one), connection_key(two));
        let mapped = IpAddr::V6(Ipv6Addr::from([0, 0, 0, 0, 0, 0xffff, 0x7f00, 2]));
        assert_eq!(connection_key(mapped), ip(2));
    }

    #[test]
    fn a_full_host_sheds_a_waiting_connection_but_never_a_started_one() -> io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let client = || TcpStream::connect(listener.local_addr()?);
        let admission = Arc::new(Admission::new(Caps {
            total: 2,
            per_address: 2,
        }));
        let admit = |from: u8| {
            let _client = client()?;
            let (stream, _) = listener.accept()?;
            match admission.admit(&stream, ip(from)) {
                Ok(admitted) => Ok((admitted.tracked, admitted.shed_from)),
                Err(NotAdmitted::Caps(reason)) => Err(io::Error::other(reason)),
                Err(NotAdmitted::NoDescriptor(error)) => Err(error),
            }
        };
        let (mut started, _) = admit(2)?;
        started.mark_started();
        let (_waiting, shed) = admit(2)?;
        assert_eq!(shed, None);
        // Full: the waiting one from 127.0.0.2 makes room for 127.0.0.3.
        let (mut newcomer, shed) = admit(3)?;
        assert_eq!(shed, Some(ip(2)));
        assert_eq!(admission.count(), 2);
        // Nobody waits any more: the next newcomer is refused.
        newcomer.mark_started();
        let refused = admit(4).err().map(|error| error.to_string());
        assert_eq!(
            refused.as_deref(),
            Some("Host is busy: 2 connections are open, try again shortly")
        );
        Ok(())
    }

    #[test]
    fn a_shed_connection_in_its_tls_handshake_is_closed_without_a_plain_text_line() -> io::Result<()>
    {
        use std::io::Read;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let admission = Arc::new(Admission::new(Caps {
            total: 1,
            per_address: 1,
        }));
        let mut handshaking = TcpStream::connect(listener.local_addr()?)?;
        let (stream, _) = listener.accept()?;
        let first = admission
            .admit(&stream, ip(2))
            .map_err(|_| io::Error::other("not admitted"))?;
        first.tracked.mark_encrypted();
        let _newcomer = TcpStream::connect(listener.local_addr()?)?;
        let (second, _) = listener.accept()?;
        let admitted = admission
            .admit(&second, ip(3))
            .map_err(|_| io::Error::other("not admitted"))?;
        assert_eq!(
            admitted.shed_from,
            Some(ip(2)),
            "the one in its handshake, as none is silent"
        );
        let mut heard = Vec::new();
        handshaking.set_read_timeout(Some(Duration::from_secs(5)))?;
        let _ = handshaking.read_to_end(&mut heard);
        assert!(heard.is_empty(), "it was told {heard:?} mid-handshake");
        Ok(())
    }

    #[test]
    fn a_full_host_sheds_connections_that_sent_nothing_before_ones_in_their_handshake()
    -> io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let admission = Arc::new(Admission::new(Caps {
            total: 3,
            per_address: 3,
        }));
        let mut clients = Vec::new();
        let mut admit = |from: u8| -> io::Result<Admitted> {
            clients.push(TcpStream::connect(listener.local_addr()?)?);
            let (stream, _) = listener.accept()?;
            admission
                .admit(&stream, ip(from))
                .map_err(|_| io::Error::other("not admitted"))
        };
        // Two handshakes in progress from one address, one silent connection from another.
        let first = admit(2)?;
        first.tracked.mark_encrypted();
        let second = admit(2)?;
        second.tracked.mark_encrypted();
        let _silent = admit(3)?;
        let mut fourth = admit(4)?;
        assert_eq!(fourth.shed_from, Some(ip(3)), "the silent one goes first");
        fourth.tracked.mark_started();
        let fifth = admit(5)?;
        assert_eq!(fifth.shed_from, Some(ip(2)), "then a handshake");
        Ok(())
    }
}
