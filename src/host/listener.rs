//! The listening socket and its thread: accept each connection, admit it against the caps (on a
//! full host by closing a connection that has not sent a command yet, or else telling the
//! newcomer why not, without blocking), and hand it to a thread of the server pool.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::admission::{Admitted, NotAdmitted};
use super::connection;
use super::pool::{self, ServerPool};
use super::state::Shared;
use super::wire::refuse_at_once;

/// Connections the system may hold for the listener before it accepts them.
const BACKLOG: i32 = 1024;

/// Stack size of connection threads: transfers keep their buffers on the heap.
const CONNECTION_STACK: usize = 512 * 1024;

/// What a client refused for want of file descriptors is told.
const OUT_OF_DESCRIPTORS: &str = "Host is busy: out of connections, try again shortly";

/// Binds the listening socket, with room for a burst of connections (a flood from one
/// client must not crowd out the next person's connection before the host sees it).
pub(super) fn listen(address: SocketAddr) -> io::Result<TcpListener> {
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

/// How many connections are being served, so that shutdown can wait for them. Kept apart
/// from [`Shared`] so that a job can count itself out after it let go of the host's state.
#[derive(Default)]
pub(super) struct LiveThreads {
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

    /// Waits up to `limit` for every connection being served to end.
    pub(super) fn wait_for_all(&self, limit: Duration) {
        let _ = self
            .ended
            .wait_timeout_while(self.count(), limit, |count| *count > 0);
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

/// The listener thread's state.
struct Listener<'a> {
    shared: &'a Arc<Shared>,
    socket: &'a TcpListener,
    live: &'a Arc<LiveThreads>,
    pool: ServerPool,
    /// A spare descriptor, given up when the process runs out so that the connection waiting
    /// in the backlog can still be accepted and told why, instead of hanging there.
    spare: Option<TcpListener>,
    warnings: Throttled,
}

/// Accepts connections until the host stops.
pub(super) fn accept_loop(shared: &Arc<Shared>, socket: &TcpListener, live: &Arc<LiveThreads>) {
    let mut listener = Listener {
        shared,
        socket,
        live,
        pool: ServerPool::new(CONNECTION_STACK, pool::IDLE_RETIRE),
        spare: socket.try_clone().ok(),
        warnings: Throttled::default(),
    };
    loop {
        let accepted = socket.accept();
        if shared.is_stopping() {
            break;
        }
        match accepted {
            Ok((stream, peer)) => listener.serve(stream, peer),
            Err(error) => listener.accept_failed(&error),
        }
    }
}

impl Listener<'_> {
    /// Tells a client it is refused, and counts it.
    fn refuse(&self, stream: &TcpStream, reason: &str) {
        self.shared.counters.count_refused();
        refuse_at_once(stream, reason);
    }

    /// Counts (as refused) and logs a connection closed to make room for a newcomer.
    fn shed(&mut self, from: IpAddr, newcomer: SocketAddr) {
        self.shared.counters.count_refused();
        self.warnings.warn(
            "shed",
            &format!(
                "Host full: closed a connection from {from} that had sent no command yet, to \
                 make room for {newcomer}"
            ),
        );
    }

    fn out_of_descriptors(&mut self, error: &io::Error) {
        self.warnings.warn(
            "descriptors",
            &format!("Out of file descriptors ({error}): refusing connections"),
        );
    }

    /// Deals with an `accept` that failed.
    fn accept_failed(&mut self, error: &io::Error) {
        if out_of_descriptors(error) && self.spare.is_some() {
            self.out_of_descriptors(error);
            drop(self.spare.take());
            if let Ok((stream, _)) = self.socket.accept() {
                self.refuse(&stream, OUT_OF_DESCRIPTORS);
            }
            self.spare = self.socket.try_clone().ok();
            return;
        }
        // A client that gave up before it was accepted: nothing to do.
        if matches!(
            error.kind(),
            io::ErrorKind::ConnectionAborted
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::Interrupted
        ) {
            return;
        }
        self.warnings
            .warn("accept", &format!("Could not accept a connection: {error}"));
        // Out of descriptors with no spare left, and similar: back off, don't spin.
        std::thread::sleep(Duration::from_millis(50));
        if self.spare.is_none() {
            self.spare = self.socket.try_clone().ok();
        }
    }

    /// Admits an accepted connection and hands it to the pool, or refuses it.
    fn serve(&mut self, stream: TcpStream, peer: SocketAddr) {
        let _ = stream.set_nodelay(true);
        let tracked = match self.shared.admission.admit(&stream, peer.ip()) {
            Ok(Admitted { tracked, shed_from }) => {
                if let Some(shed) = shed_from {
                    self.shed(shed, peer);
                }
                tracked
            }
            Err(NotAdmitted::Caps(reason)) => {
                self.warnings.warn(
                    "refused",
                    &format!("Refused a connection from {peer}: {reason}"),
                );
                self.refuse(&stream, &reason);
                return;
            }
            Err(NotAdmitted::NoDescriptor(error)) => {
                self.out_of_descriptors(&error);
                self.refuse(&stream, OUT_OF_DESCRIPTORS);
                return;
            }
        };
        let shared = Arc::clone(self.shared);
        let alive = self.live.enter();
        let spawned = self.pool.execute(Box::new(move || {
            connection::run(&shared, stream, peer, tracked);
            drop(shared);
            drop(alive);
        }));
        if let Err(error) = spawned {
            // The connection closes as its thread's closure is dropped: the client sees the
            // connection end, never a hang.
            self.warnings.warn(
                "thread",
                &format!("Could not start a thread for {peer}: {error}"),
            );
        }
    }
}
