//! Transfer connections: upload, download and list over one TCP connection, which may carry
//! several commands one after another.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::error::connect;
use super::session::{Credentials, OfferAssembler, read_reply};
use super::{Error, FileEntry};
use crate::net::{LineReader, is_timeout};
use crate::protocol::{ClientLine, FileId, HostLine, Passcode, Sha256Digest, UploadRequest};

/// Bytes moved per read or write while streaming a file.
const IO_BUFFER: usize = 256 * 1024;
/// How long a reply may take to begin.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long storing a fully sent upload may take on the host (it syncs to disk).
const COMMIT_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a transfer may go without moving a byte.
const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The host's receipt for an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// The id the host gave the file.
    pub file_id: FileId,
    /// SHA-256 of what the host received (checked against what was sent).
    pub sha256: Sha256Digest,
}

/// What a download delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// The name the host gave in `FILE:`.
    pub name: String,
    /// Bytes received.
    pub size: u64,
    /// SHA-256 of the bytes received.
    pub sha256: Sha256Digest,
}

/// One connection to the host's port for transfers.
pub struct TransferConnection {
    reader: LineReader,
}

impl TransferConnection {
    /// Connects to the host.
    pub fn connect(host: SocketAddr) -> Result<Self, Error> {
        let stream = connect(host)?;
        Ok(Self {
            reader: LineReader::new(stream),
        })
    }

    /// The socket, e.g. to shut it down from another thread to cancel.
    pub fn stream(&self) -> &TcpStream {
        self.reader.stream()
    }

    fn send(&self, line: &ClientLine) -> Result<(), Error> {
        let mut stream = self.reader.stream();
        stream
            .write_all(line.encode().as_bytes())
            .map_err(Error::lost)
    }

    /// Presents the host's passcode for the commands that follow (no reply; a wrong passcode
    /// shows as an `ERROR` in place of the next reply). A host without a passcode ignores it.
    pub fn send_passcode(&mut self, passcode: &Passcode) -> Result<(), Error> {
        self.send(&ClientLine::Pass {
            passcode: passcode.clone(),
        })
    }

    /// Proves the participant's identity for the uploads that follow (no reply; a bad ticket
    /// shows as an `ERROR` in place of the next reply). On a host with a passcode, a valid
    /// ticket stands for it: the participant gave it to join.
    pub fn authenticate(&mut self, credentials: &Credentials) -> Result<(), Error> {
        self.send(&ClientLine::Auth {
            client_id: credentials.client_id,
            ticket: credentials.ticket,
        })
    }

    /// The files shared now, without joining.
    pub fn list(&mut self) -> Result<Vec<FileEntry>, Error> {
        self.send(&ClientLine::List)?;
        let mut offers = OfferAssembler::default();
        let mut files = Vec::new();
        loop {
            match read_reply(&mut self.reader, REPLY_TIMEOUT)? {
                HostLine::End => return Ok(files),
                line => {
                    if let Some(entry) = offers.feed(line)? {
                        files.push(entry);
                    }
                }
            }
        }
    }

    /// Uploads `size` bytes from `source` under `request`'s names. `progress` is told the
    /// bytes sent so far; setting `cancel` stops the upload (the host keeps nothing).
    pub fn upload(
        &mut self,
        request: UploadRequest,
        source: &mut dyn Read,
        progress: &mut dyn FnMut(u64),
        cancel: &AtomicBool,
    ) -> Result<Stored, Error> {
        let size = request.size;
        self.send(&ClientLine::Upload(request))?;
        match read_reply(&mut self.reader, REPLY_TIMEOUT)? {
            HostLine::Ready => {}
            HostLine::Error(reason) => return Err(Error::Refused(reason)),
            other => return Err(Error::Protocol(other.encode().trim_end().to_owned())),
        }
        let _ = self.stream().set_write_timeout(Some(STALL_TIMEOUT));
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; IO_BUFFER];
        let mut sent = 0u64;
        let mut source = source.take(size);
        loop {
            if cancel.load(Ordering::Relaxed) {
                let _ = self.stream().shutdown(Shutdown::Both);
                return Err(Error::Cancelled);
            }
            let read = match source.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    let _ = self.stream().shutdown(Shutdown::Both);
                    return Err(Error::Local {
                        path: "upload source".into(),
                        source: error,
                    });
                }
            };
            hasher.update(&buffer[..read]);
            let mut stream = self.reader.stream();
            if let Err(error) = stream.write_all(&buffer[..read]) {
                return Err(self.reason_for_broken_upload(error));
            }
            sent += read as u64;
            progress(sent);
        }
        if sent != size {
            let _ = self.stream().shutdown(Shutdown::Both);
            return Err(Error::Local {
                path: "upload source".into(),
                source: io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the file shrank while uploading ({sent} of {size} bytes)"),
                ),
            });
        }
        let local = Sha256Digest(hasher.finalize().into());
        match read_reply(&mut self.reader, COMMIT_TIMEOUT)? {
            HostLine::Stored { file_id, sha256 } if sha256 == local => {
                Ok(Stored { file_id, sha256 })
            }
            HostLine::Stored { .. } => Err(Error::Corrupt {
                name: "upload".into(),
            }),
            HostLine::Error(reason) => Err(Error::Refused(reason)),
            other => Err(Error::Protocol(other.encode().trim_end().to_owned())),
        }
    }

    /// After a failed write, the host may have said why before closing: read it if so.
    fn reason_for_broken_upload(&mut self, error: io::Error) -> Error {
        match read_reply(&mut self.reader, Duration::from_secs(2)) {
            Ok(HostLine::Error(reason)) => Error::Refused(reason),
            _ => Error::lost(error),
        }
    }

    /// Downloads file `file_id` into `sink`. `progress` is told the bytes received so far;
    /// setting `cancel` stops it.
    pub fn download(
        &mut self,
        file_id: FileId,
        sink: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
        cancel: &AtomicBool,
    ) -> Result<Downloaded, Error> {
        self.send(&ClientLine::Download { file_id })?;
        let (name, size) = match read_reply(&mut self.reader, REPLY_TIMEOUT)? {
            HostLine::File { name, size } => (name, size),
            HostLine::Error(reason) if reason == "File not found" => {
                return Err(Error::NotFound(file_id));
            }
            HostLine::Error(reason) => return Err(Error::Refused(reason)),
            other => return Err(Error::Protocol(other.encode().trim_end().to_owned())),
        };
        self.send(&ClientLine::Ready)?;
        self.reader
            .set_read_timeout(STALL_TIMEOUT)
            .map_err(Error::lost)?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; IO_BUFFER];
        let mut received = 0u64;
        while received < size {
            if cancel.load(Ordering::Relaxed) {
                let _ = self.stream().shutdown(Shutdown::Both);
                return Err(Error::Cancelled);
            }
            let want = buffer
                .len()
                .min(usize::try_from(size - received).unwrap_or(usize::MAX));
            let read = match self.reader.read(&mut buffer[..want]) {
                Ok(0) => {
                    return Err(Error::lost(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("the host closed the connection after {received} of {size} bytes"),
                    )));
                }
                Ok(read) => read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) if is_timeout(&error) => {
                    return Err(Error::lost(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no data for {} s", STALL_TIMEOUT.as_secs()),
                    )));
                }
                Err(error) => return Err(Error::lost(error)),
            };
            hasher.update(&buffer[..read]);
            sink.write_all(&buffer[..read])
                .map_err(|source| Error::Local {
                    path: name.clone().into(),
                    source,
                })?;
            received += read as u64;
            progress(received);
        }
        Ok(Downloaded {
            name,
            size,
            sha256: Sha256Digest(hasher.finalize().into()),
        })
    }
}
