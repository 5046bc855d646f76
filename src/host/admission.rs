//! Which connections are open: every one is tracked (so shutdown can close them) and counted
//! per address, against the host's caps.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Whom an address stands for when connections and wrong passcodes are counted: the address
/// itself for IPv4, its /64 network for IPv6, where one machine may pick any address in its
/// network.
pub(super) fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
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
    /// Connections open at once from one address (see [`address_key`]).
    pub per_address: usize,
}

#[derive(Default)]
struct Open {
    streams: HashMap<u64, TcpStream>,
    per_address: HashMap<IpAddr, usize>,
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

    /// Connections open now.
    pub(super) fn count(&self) -> usize {
        self.open().streams.len()
    }

    /// Admits a new connection if the caps allow it; it is counted until the guard drops.
    /// Otherwise returns the reason to send the client.
    pub(super) fn admit(
        self: &Arc<Self>,
        stream: &TcpStream,
        ip: IpAddr,
    ) -> Result<Tracked, NotAdmitted> {
        let key = address_key(ip);
        let mut open = self.open();
        let total = self.caps.total;
        if open.streams.len() >= total {
            return Err(NotAdmitted::Caps(format!(
                "Host is busy: {total} connections are open, try again shortly"
            )));
        }
        let per_address = self.caps.per_address;
        let from_ip = open.per_address.get(&key).copied().unwrap_or(0);
        if from_ip >= per_address {
            return Err(NotAdmitted::Caps(format!(
                "Too many connections from {ip} (max {per_address}): close some and try again"
            )));
        }
        let clone = stream.try_clone().map_err(NotAdmitted::NoDescriptor)?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        open.streams.insert(id, clone);
        *open.per_address.entry(key).or_insert(0) += 1;
        Ok(Tracked {
            admission: Arc::clone(self),
            id,
            key,
        })
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
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let mut open = self.admission.open();
        open.streams.remove(&self.id);
        if let Some(count) = open.per_address.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.per_address.remove(&self.key);
            }
        }
    }
}
