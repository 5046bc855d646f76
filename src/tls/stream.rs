//! A TLS 1.3 connection over a TCP stream that a reading thread and writing threads can share:
//! a control session reads on one thread while another writes what the host queues for it.
//!
//! The rustls state sits behind a lock held only to hand it bytes or take bytes out, never
//! while waiting on the network; a second lock keeps encrypted records going out in the order
//! they were sealed.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Bytes read from the socket at a time: a little over one full TLS record, which is about
/// what rustls takes before its plaintext must be read (a larger read leaves bytes waiting).
/// Read into the reading thread's stack, so an idle connection holds no buffer.
const SOCKET_READ: usize = 18 * 1024;

/// Bytes read from the socket at a time while a transfer's bytes arrive ([`BulkReads`]): into
/// a buffer of the connection's own, from which rustls takes one record after another in
/// place. Seven times fewer reads than [`SOCKET_READ`] (and as many fewer acknowledgements
/// sent back) for the same bytes.
const BULK_READ: usize = 128 * 1024;

/// The exporter label that binds lanshare's proofs to one TLS connection (RFC 8446 §7.5).
const EXPORTER_LABEL: &[u8] = b"EXPORTER-lanshare-channel-binding";

/// A TLS connection, client or server side, over one TCP stream.
pub struct TlsStream {
    tcp: TcpStream,
    state: Mutex<rustls::Connection>,
    /// Held from sealing records to writing them out, so records leave in order; it holds the
    /// buffer they are sealed into, kept from one write to the next.
    write_order: Mutex<Vec<u8>>,
    /// Bytes read from the socket that rustls has not taken yet: it takes no more while the
    /// plaintext it holds has not been read.
    inbox: Mutex<Inbox>,
}

/// Bytes read from the socket, waiting for rustls to take them.
#[derive(Default)]
struct Inbox {
    /// What was left of a small read, or the bulk buffer.
    buffer: Vec<u8>,
    /// Where the bytes not taken yet start in `buffer`.
    start: usize,
    /// Where they end.
    end: usize,
    /// Whether the socket is read [`BULK_READ`] bytes at a time into `buffer`.
    bulk: bool,
}

impl Inbox {
    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Keeps `left`, what rustls did not take of a small read.
    fn keep(&mut self, left: &[u8]) {
        self.buffer = left.to_vec();
        self.start = 0;
        self.end = left.len();
    }

    /// The bulk buffer, empty, to read into.
    fn bulk_buffer(&mut self) -> &mut [u8] {
        if self.buffer.len() != BULK_READ {
            self.buffer = vec![0; BULK_READ];
        }
        self.start = 0;
        self.end = 0;
        &mut self.buffer
    }

    /// Frees the buffer once nothing waits in it and no transfer reads in bulk.
    fn let_go_when_done(&mut self) {
        if self.is_empty() && !self.bulk {
            *self = Self::default();
        }
    }
}

/// While it lives, a [`TlsStream`] reads its socket in bulk: see [`TlsStream::bulk_reads`].
pub struct BulkReads<'a> {
    stream: &'a TlsStream,
}

impl Drop for BulkReads<'_> {
    fn drop(&mut self) {
        let mut inbox = lock(&self.stream.inbox);
        inbox.bulk = false;
        inbox.let_go_when_done();
    }
}

impl std::fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TlsStream({:?})", self.tcp.peer_addr().ok())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One read of the socket, retried if interrupted.
fn read_socket(mut tcp: &TcpStream, buffer: &mut [u8]) -> io::Result<usize> {
    loop {
        match tcp.read(buffer) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}

fn tls_error(error: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

impl TlsStream {
    /// Runs the handshake over `tcp`, which must end within `limit`, and returns the
    /// established connection.
    pub fn handshake(
        tcp: TcpStream,
        connection: rustls::Connection,
        limit: Duration,
    ) -> io::Result<Self> {
        let stream = Self::begin(tcp, connection);
        stream.complete_handshake(Instant::now() + limit)?;
        Ok(stream)
    }

    /// A connection whose handshake has not run yet.
    pub(super) fn begin(tcp: TcpStream, connection: rustls::Connection) -> Self {
        Self {
            tcp,
            state: Mutex::new(connection),
            write_order: Mutex::new(Vec::new()),
            inbox: Mutex::new(Inbox::default()),
        }
    }

    /// Reads the socket [`BULK_READ`] bytes at a time, into a buffer of this connection's,
    /// until the guard is dropped: for a transfer's bytes. Only transfers ask for it (they hold
    /// a transfer slot, so few connections have such a buffer at once); a connection idle or
    /// reading lines reads into its thread's stack.
    pub fn bulk_reads(&self) -> BulkReads<'_> {
        lock(&self.inbox).bulk = true;
        BulkReads { stream: self }
    }

    /// Runs the handshake to its end, which must come before `deadline`.
    pub(super) fn complete_handshake(&self, deadline: Instant) -> io::Result<()> {
        while lock(&self.state).is_handshaking() {
            self.flush_records()?;
            if !lock(&self.state).is_handshaking() {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the TLS handshake took too long",
                ));
            }
            self.tcp.set_read_timeout(Some(left))?;
            if !self.receive_records()? {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the connection closed during the TLS handshake",
                ));
            }
        }
        self.flush_records()
    }

    /// Sends what rustls has to say first (a client's hello).
    pub(super) fn send_pending(&self) -> io::Result<()> {
        self.flush_records()
    }

    /// The TCP stream underneath, for timeouts and addresses.
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// The application protocol both ends agreed on in the handshake (ALPN), if any.
    pub fn negotiated_protocol(&self) -> Option<Vec<u8>> {
        lock(&self.state).alpn_protocol().map(<[u8]>::to_vec)
    }

    /// A value both ends of this connection, and only they, can compute: signing it proves
    /// something to this connection's peer alone.
    pub fn channel_binding(&self) -> io::Result<[u8; 32]> {
        lock(&self.state)
            .export_keying_material([0u8; 32], EXPORTER_LABEL, None)
            .map_err(tls_error)
    }

    /// Sends everything rustls has sealed, in order.
    fn flush_records(&self) -> io::Result<()> {
        let mut sealed = lock(&self.write_order);
        sealed.clear();
        {
            let mut state = lock(&self.state);
            while state.wants_write() {
                state.write_tls(&mut *sealed)?;
            }
        }
        (&self.tcp).write_all(&sealed)
    }

    /// Hands rustls what it is owed: bytes left from an earlier read, else what the socket has
    /// now. rustls takes no more while it holds plaintext not yet read; what it leaves waits in
    /// the inbox. False at end of stream.
    fn receive_records(&self) -> io::Result<bool> {
        let mut inbox = lock(&self.inbox);
        let (open, wants_write) = if !inbox.is_empty() {
            (true, self.feed_inbox(&mut inbox, true)?)
        } else if inbox.bulk {
            let read = read_socket(&self.tcp, inbox.bulk_buffer())?;
            inbox.end = read;
            (read > 0, self.feed_inbox(&mut inbox, read > 0)?)
        } else {
            let mut buffer = [0u8; SOCKET_READ];
            let read = read_socket(&self.tcp, &mut buffer)?;
            let mut pending = &buffer[..read];
            let wants_write = self.feed(&mut pending, read > 0)?;
            inbox.keep(pending);
            (read > 0, wants_write)
        };
        inbox.let_go_when_done();
        drop(inbox);
        self.flush_if(wants_write).map(|()| open)
    }

    /// Gives rustls what waits in the inbox, as [`Self::feed`] does.
    fn feed_inbox(&self, inbox: &mut Inbox, open: bool) -> io::Result<bool> {
        let mut pending = &inbox.buffer[inbox.start..inbox.end];
        let wants_write = self.feed(&mut pending, open)?;
        let left = pending.len();
        inbox.start = inbox.end - left;
        Ok(wants_write)
    }

    /// Gives rustls bytes from `pending` for as long as it wants them (`open` false: the peer
    /// is gone); returns whether rustls has something to send.
    fn feed(&self, pending: &mut &[u8], open: bool) -> io::Result<bool> {
        let mut state = lock(&self.state);
        if !open {
            // Tells rustls the peer is gone; a read then reports whether it said goodbye.
            state.read_tls(pending)?;
        }
        while !pending.is_empty() && state.wants_read() {
            state.read_tls(pending)?;
            state.process_new_packets().map_err(tls_error)?;
        }
        Ok(state.wants_write())
    }

    fn flush_if(&self, wants_write: bool) -> io::Result<()> {
        if wants_write {
            self.flush_records()?;
        }
        Ok(())
    }

    /// Says goodbye (TLS `close_notify`) and closes the writing side.
    pub fn close_write(&self) {
        lock(&self.state).send_close_notify();
        let _ = self.flush_records();
        let _ = self.tcp.shutdown(Shutdown::Write);
    }

    /// Closes the connection both ways at once: whatever waits on it stops.
    pub fn shutdown(&self) {
        let _ = self.tcp.shutdown(Shutdown::Both);
    }
}

impl Read for &TlsStream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match lock(&self.state).reader().read(out) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                result => return result,
            }
            if !self.receive_records()? {
                // The peer is gone. Whether it said goodbye (close_notify) or not, the end
                // reads as the end, as on a plain socket: every line of the protocol ends with
                // `\n` and every transfer has a length, so a cut is seen for what it is.
                return match lock(&self.state).reader().read(out) {
                    Ok(read) => Ok(read),
                    Err(error)
                        if matches!(
                            error.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::UnexpectedEof
                        ) =>
                    {
                        Ok(0)
                    }
                    Err(error) => Err(error),
                };
            }
        }
    }
}

impl Write for &TlsStream {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut sealed = lock(&self.write_order);
        sealed.clear();
        let taken = {
            let mut state = lock(&self.state);
            let taken = state.writer().write(bytes)?;
            while state.wants_write() {
                state.write_tls(&mut *sealed)?;
            }
            taken
        };
        (&self.tcp).write_all(&sealed)?;
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
