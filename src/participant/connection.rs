//! One connection to the host: it owns the stream and reads and writes the protocol's lines on
//! it, and the raw bytes that follow some of them.
//!
//! Every byte the participant side exchanges with a host goes through a [`Connection`] (or the
//! [`SharedWriter`] and [`ShutdownHandle`] it gives out), so that the stream underneath, plain
//! TCP today, can become an encrypted one here alone.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::error::Error;
use super::trust::{self, HostKey};
use crate::identity::Identity;
use crate::net::{LineError, LineReader, Stream, send_file};
use crate::protocol::{ClientLine, HostLine, KeyClaim, Passcode, ProtocolError};
use crate::tls::{self, COMPRESSION_ALPN, FEATURES_ALPN, ParticipantPake, SecureError, Trust};

/// What the host answers a passcode proof that does not match its own.
const WRONG_PASSCODE: &str = "Wrong passcode";

/// How long each step of the passcode exchange may take.
const PAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long connecting to a host may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why no host line could be read.
#[derive(Debug, thiserror::Error)]
pub(super) enum ReadError {
    /// The host closed the connection (before or in the middle of a line).
    #[error("the host closed the connection")]
    Closed,
    /// The deadline passed first.
    #[error("the host did not answer")]
    TimedOut,
    /// The line did not end within the protocol's longest line.
    #[error("line too long")]
    TooLong,
    /// The line is not one of the protocol's.
    #[error(transparent)]
    Garbled(#[from] ProtocolError),
    /// The socket failed.
    #[error(transparent)]
    Io(io::Error),
}

impl From<ReadError> for Error {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::Closed => Error::lost(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                error.to_string(),
            )),
            ReadError::TimedOut => {
                Error::lost(io::Error::new(io::ErrorKind::TimedOut, error.to_string()))
            }
            ReadError::TooLong => Error::Protocol(error.to_string()),
            ReadError::Garbled(error) => error.into(),
            ReadError::Io(error) => Error::lost(error),
        }
    }
}

/// A connection to the host's port.
pub(super) struct Connection {
    reader: LineReader,
    host_key: HostKey,
}

impl Connection {
    /// Connects to `address` with a bounded wait and the options every lanshare connection
    /// uses (no Nagle delay: replies are short lines that must go out at once), and secures it
    /// with TLS, checking the host's key against the one pinned for it (pinning it at first
    /// contact).
    pub(super) fn connect(address: SocketAddr) -> Result<Self, Error> {
        Self::connect_trusting(address, trust::trust_for(address)?)
    }

    /// Connects as [`Connection::connect`] does, trusting the host as `trust` says, and pins
    /// the key it shows.
    pub(super) fn connect_trusting(address: SocketAddr, trust: Trust) -> Result<Self, Error> {
        Self::connect_within(address, trust, CONNECT_TIMEOUT)
    }

    /// Connects as [`Connection::connect_trusting`] does, giving up on the TCP connection
    /// after `timeout`.
    pub(super) fn connect_within(
        address: SocketAddr,
        trust: Trust,
        timeout: Duration,
    ) -> Result<Self, Error> {
        let tcp =
            TcpStream::connect_timeout(&address, timeout).map_err(|source| Error::Unreachable {
                address: address.to_string(),
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        let (tls, fingerprint) = tls::connect(tcp, trust).map_err(|error| match error {
            SecureError::KeyChanged { pinned, shown } => Error::HostKeyChanged {
                address,
                pinned,
                shown,
            },
            SecureError::Handshake(error) => Error::NotEncrypted {
                address: address.to_string(),
                reason: error.to_string(),
            },
            SecureError::Refused(reason) => Error::Refused(reason),
        })?;
        let first_contact = trust != Trust::Pinned(fingerprint);
        if first_contact {
            trust::first_contact(address, fingerprint)?;
        }
        Ok(Self {
            reader: LineReader::new(Stream::Tls(Arc::new(tls))),
            host_key: HostKey {
                fingerprint,
                first_contact,
            },
        })
    }

    /// The stream and the lines read ahead on it, for a server that answers on a connection
    /// this side opened (a relay, see [`crate::direct::RelayServing`]).
    pub(super) fn into_reader(self) -> LineReader {
        self.reader
    }

    /// The host's key, as checked on connecting.
    pub(super) fn host_key(&self) -> HostKey {
        self.host_key
    }

    /// Whether the host said in the handshake that it understands `FEATURES`.
    pub(super) fn host_takes_features(&self) -> bool {
        match self.stream() {
            Stream::Tls(tls) => matches!(
                tls.negotiated_protocol().as_deref(),
                Some(FEATURES_ALPN | COMPRESSION_ALPN)
            ),
            Stream::Plain(_) => false,
        }
    }

    /// Whether the host said in the handshake that it takes compressed transfers (`COMPRESS`).
    pub(super) fn host_takes_compression(&self) -> bool {
        match self.stream() {
            Stream::Tls(tls) => tls.negotiated_protocol().as_deref() == Some(COMPRESSION_ALPN),
            Stream::Plain(_) => false,
        }
    }

    /// The TLS connection's channel binding, which proofs on this connection sign.
    pub(super) fn channel_binding(&self) -> Result<[u8; 32], Error> {
        self.stream()
            .channel_binding()
            .ok_or_else(|| Error::Protocol("the connection is not encrypted".into()))
    }

    /// Sends one line.
    pub(super) fn send(&self, line: &ClientLine) -> Result<(), Error> {
        self.send_all(std::slice::from_ref(line))
    }

    /// Sends several lines in one write.
    pub(super) fn send_all(&self, lines: &[ClientLine]) -> Result<(), Error> {
        let text: String = lines.iter().map(ClientLine::encode).collect();
        let mut stream = self.stream();
        stream.write_all(text.as_bytes()).map_err(Error::lost)
    }

    /// Reads the host's next line, which must be complete within `timeout`.
    pub(super) fn read_line(&mut self, timeout: Duration) -> Result<HostLine, ReadError> {
        match self.reader.read_line(timeout) {
            Ok(Some(line)) => Ok(HostLine::parse(&line)?),
            Ok(None) | Err(LineError::Truncated) => Err(ReadError::Closed),
            Err(LineError::TimedOut) => Err(ReadError::TimedOut),
            Err(LineError::TooLong) => Err(ReadError::TooLong),
            Err(LineError::Io(error)) => Err(ReadError::Io(error)),
        }
    }

    /// Reads the host's reply, which must be complete within `timeout`; an `ERROR` reply
    /// becomes [`Error::Refused`].
    pub(super) fn read_reply(&mut self, timeout: Duration) -> Result<HostLine, Error> {
        match self.read_line(timeout)? {
            HostLine::Error(reason) => Err(Error::Refused(reason)),
            line => Ok(line),
        }
    }

    /// Proves the host's passcode without sending it (`PAKE`), and checks the host's proof
    /// that it knows the same passcode on this same connection. With `identity`, says who
    /// the participant is: a host it joined before counts its guess apart from strangers'.
    pub(super) fn prove_passcode(
        &mut self,
        passcode: &Passcode,
        identity: Option<&Identity>,
    ) -> Result<(), Error> {
        let binding = self.channel_binding()?;
        let malformed = |_| Error::Protocol("malformed passcode exchange".to_owned());
        let (pake, hello) = ParticipantPake::start(passcode, &binding).map_err(malformed)?;
        let claim = identity.map(|identity| KeyClaim {
            key: identity.public_key(),
            signature: identity.claim_in_pake(&hello, &binding),
        });
        self.send(&ClientLine::Pake {
            message: hello,
            claim,
        })?;
        let answer = match self.read_reply(PAKE_TIMEOUT)? {
            HostLine::Pake { message } => message,
            other => return Err(Error::unexpected_reply(&other)),
        };
        let proofs = pake.finish(&answer).map_err(malformed)?;
        self.send(&ClientLine::PakeProof {
            proof: proofs.participant(),
        })?;
        let reply = match self.read_reply(PAKE_TIMEOUT) {
            Err(Error::Refused(reason)) if reason == WRONG_PASSCODE => {
                return Err(Error::WrongPasscode);
            }
            reply => reply?,
        };
        match reply {
            HostLine::PakeProof { proof } => proofs
                .check_host(&proof)
                .map_err(|_| Error::PasscodeNotProven),
            other => Err(Error::unexpected_reply(&other)),
        }
    }

    /// Sends `len` bytes of `file` from its current position; returns how many went (fewer
    /// only if the file ended).
    pub(super) fn send_file(&self, file: &mut File, len: u64) -> io::Result<u64> {
        send_file(self.stream(), file, len)
    }

    /// Sets how long a raw read may wait for bytes.
    pub(super) fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.reader.set_read_timeout(timeout)
    }

    /// Sets how long a write may wait for the host to take bytes.
    pub(super) fn set_write_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.stream().set_write_timeout(timeout)
    }

    /// Shuts the connection down both ways: whatever waits on it stops.
    pub(super) fn shut_down(&self) {
        self.stream().shutdown();
    }

    /// A handle that shuts this connection down from another thread.
    pub(super) fn shutdown_handle(&self) -> io::Result<ShutdownHandle> {
        Ok(ShutdownHandle {
            stream: self.stream().try_clone()?,
        })
    }

    /// A writer that several threads can share while this connection goes on reading.
    pub(super) fn shared_writer(&self) -> Result<SharedWriter, Error> {
        let stream = self.stream().try_clone().map_err(Error::lost)?;
        Ok(SharedWriter {
            stream: Arc::new(Mutex::new(stream)),
        })
    }

    /// A second handle to the stream (for a [`Stream::bulk_reads`] guard while this
    /// connection reads a file).
    pub(super) fn try_clone_stream(&self) -> io::Result<Stream> {
        self.stream().try_clone()
    }

    fn stream(&self) -> &Stream {
        self.reader.stream()
    }
}

impl Read for Connection {
    /// Raw bytes after a line: those that arrived with it first, then the stream's.
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.reader.read(out)
    }
}

impl Write for Connection {
    /// Raw bytes, straight to the stream.
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.stream().write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Shuts a connection to the host down from another thread, e.g. to cancel a transfer on it.
#[derive(Debug)]
pub struct ShutdownHandle {
    stream: Stream,
}

impl ShutdownHandle {
    /// Shuts the connection down both ways: whatever waits on it stops.
    pub fn shut_down(&self) {
        self.stream.shutdown();
    }
}

/// The writing side of a [`Connection`], shared by the threads that send on it (a session's
/// owner and its reader thread); one line goes out whole before the next.
#[derive(Clone)]
pub(super) struct SharedWriter {
    stream: Arc<Mutex<Stream>>,
}

impl SharedWriter {
    /// Sends one line.
    pub(super) fn send(&self, line: &ClientLine) -> io::Result<()> {
        let stream = self.lock();
        (&*stream).write_all(line.encode().as_bytes())
    }

    /// Shuts the connection down both ways: the reading side sees it closed.
    pub(super) fn shut_down(&self) {
        self.lock().shutdown();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Stream> {
        // A thread that panicked while writing left nothing half-done that matters here.
        self.stream.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
