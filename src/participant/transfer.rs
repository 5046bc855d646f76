//! Transfer connections: upload, download and list over one TCP connection, which may carry
//! several commands one after another.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::connection::{Connection, ShutdownHandle};
use super::error::Error;
use super::listing::{FileDetails, FileEntry, VersionCount, read_files};
use super::session::Credentials;
use super::trust::HostKey;
use crate::compression::{self, BlockReader, WORTH_IT, WireBytes, WireMeter, block_error};
use crate::net::{Stream, is_timeout};
use crate::pipeline::{self, CheckHash, PipelineError, StreamHash};
use crate::protocol::{
    ClientLine, Features, FileId, HostLine, Passcode, PreviewKind, ResumeKey, Sha256Digest,
    ShareOptions, TransferCheck, UploadRequest, VersionInfo,
};
use crate::tls::Trust;

/// Bytes of a file upload handed to the kernel at a time (one `sendfile` call), and so sent
/// between two progress reports.
const UPLOAD_BYTES_PER_SENDFILE: u64 = 4 * 1024 * 1024;
/// How long a reply may take to begin.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long storing a fully sent upload may take on the host (it syncs to disk).
const COMMIT_TIMEOUT: Duration = Duration::from_secs(300);
/// Smallest upload sent compressed: below it, sampling and blocks would cost more than they
/// save.
const MIN_COMPRESSED: u64 = 64 * 1024;
/// How long a transfer may go without moving a byte.
const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The host's receipt for an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The id the host gave the file.
    pub file_id: FileId,
    /// SHA-256 of what the host received (checked against what was sent).
    pub sha256: Sha256Digest,
    /// The category, tags and expiry the host gave it (`None` from a host that does not say).
    pub details: Option<FileDetails>,
    /// For an upload sent compressed: its bytes, and those that crossed the wire (of this
    /// attempt, for a resumed one).
    pub compressed: Option<WireBytes>,
}

/// A file's preview, as the host sent it (`PREVIEW`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedPreview {
    /// What the bytes are.
    pub kind: PreviewKind,
    /// A PNG thumbnail, or UTF-8 text.
    pub bytes: Vec<u8>,
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

/// What a download delivered, its bytes hashed with the [`StreamHash`] the caller chose (see
/// [`TransferConnection::download_from`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered<D> {
    /// The name the host gave in `FILE:`.
    pub name: String,
    /// Bytes received.
    pub size: u64,
    /// The hash of the bytes received.
    pub digest: D,
}

/// One connection to the host's port for transfers.
pub struct TransferConnection {
    connection: Connection,
    /// Whether `FEATURES` went out on it.
    features_sent: bool,
    /// Whether transfers may travel compressed, with a host that takes them.
    compression: bool,
    /// The bytes of the compressed transfer under way (or last), file and wire.
    meter: Arc<WireMeter>,
}

impl TransferConnection {
    /// Connects to the host.
    pub fn connect(host: SocketAddr) -> Result<Self, Error> {
        Ok(Self::over(Connection::connect(host)?))
    }

    /// Sends one line of the caller's (a grant, to a sharer).
    pub(super) fn send_line(&self, line: &ClientLine) -> Result<(), Error> {
        self.connection.send(line)
    }

    /// Reads the reply to a line sent with [`TransferConnection::send_line`].
    pub(super) fn read_reply(&mut self, timeout: Duration) -> Result<HostLine, Error> {
        self.connection.read_reply(timeout)
    }

    /// The connection's channel binding, which proofs on it sign.
    pub(super) fn channel_binding(&self) -> Result<[u8; 32], Error> {
        self.connection.channel_binding()
    }

    /// Connects to the host trusting whatever key it shows, and pins that key in place of the
    /// one pinned before: what `lanshare trust` does once people have compared verification
    /// codes.
    pub fn connect_accepting_new_key(host: SocketAddr) -> Result<Self, Error> {
        Ok(Self::over(Connection::connect_trusting(
            host,
            Trust::FirstContact,
        )?))
    }

    /// A transfer connection over `connection`, already made.
    pub(super) fn over(connection: Connection) -> Self {
        Self {
            connection,
            features_sent: false,
            compression: true,
            meter: Arc::default(),
        }
    }

    /// Whether transfers on this connection may travel compressed, with a host that takes
    /// compressed transfers (they may by default; `--no-compression` says not).
    pub fn set_compression(&mut self, allowed: bool) {
        self.compression = allowed;
    }

    /// Counts the file and wire bytes of the compressed transfer under way (reset at the start
    /// of each), for a display of the wire's rate; nothing moves on it for a raw transfer.
    pub fn wire_meter(&self) -> Arc<WireMeter> {
        Arc::clone(&self.meter)
    }

    /// Whether the next transfer may travel compressed: allowed, and the host takes it.
    fn may_compress(&self) -> bool {
        self.compression && self.connection.host_takes_compression()
    }

    /// A handle that shuts this connection down from another thread, to cancel what it does.
    pub fn shutdown_handle(&self) -> io::Result<ShutdownHandle> {
        self.connection.shutdown_handle()
    }

    fn send(&self, line: &ClientLine) -> Result<(), Error> {
        self.connection.send(line)
    }

    /// Asks for the library's details (`FEATURES`) once per connection, from a host that
    /// understands it (an older host is asked nothing).
    fn ask_for_features(&mut self) -> Result<(), Error> {
        if !self.features_sent && self.connection.host_takes_features() {
            self.send(&ClientLine::Features(Features::ALL))?;
            self.features_sent = true;
        }
        Ok(())
    }

    /// Sets the expiry and tags of the next upload on this connection (`UPLOAD_OPTIONS`; the
    /// host answers nothing, or refuses bad tags in place of the upload's reply). The
    /// upload's [`Stored`] says what the host made of them.
    pub fn share_next_with(&mut self, options: &ShareOptions) -> Result<(), Error> {
        if !self.connection.host_takes_features() {
            return Err(Error::Refused(
                "This host keeps no expiry or tags: it runs an older lanshare".to_owned(),
            ));
        }
        self.send(&ClientLine::UploadOptions(options.clone()))
    }

    /// Proves the host's passcode for the commands that follow, without sending it (`PAKE`),
    /// and checks that the host knows it too.
    pub fn prove_passcode(&mut self, passcode: &Passcode) -> Result<(), Error> {
        self.connection.prove_passcode(passcode, None)
    }

    /// [`TransferConnection::prove_passcode`] as the participant `identity`: a host it joined
    /// before counts its guess apart from strangers' (see PROTOCOL.md, *Passcode*).
    pub fn prove_passcode_as(
        &mut self,
        passcode: &Passcode,
        identity: &crate::identity::Identity,
    ) -> Result<(), Error> {
        self.connection.prove_passcode(passcode, Some(identity))
    }

    /// Proves the participant's identity for the uploads that follow (no reply; a bad ticket
    /// shows as an `ERROR` in place of the next reply): `AUTH_PROOF`, the ticket bound to this
    /// connection. On a host with a passcode, a valid ticket stands for it: the participant
    /// gave it to join.
    pub fn authenticate(&mut self, credentials: &Credentials) -> Result<(), Error> {
        let binding = self.connection.channel_binding()?;
        self.send(&ClientLine::AuthProof {
            client_id: credentials.client_id,
            proof: credentials.ticket.bound_proof(&binding),
        })
    }

    /// The host's key, as checked on connecting (and whether this was the first contact).
    pub fn host_key(&self) -> HostKey {
        self.connection.host_key()
    }

    /// The files shared now, without joining.
    pub fn list(&mut self) -> Result<Vec<FileEntry>, Error> {
        self.ask_for_features()?;
        self.send(&ClientLine::List)?;
        read_files(&mut self.connection, REPLY_TIMEOUT)
    }

    /// The kept versions of file `file_id`, oldest first (`VERSIONS`).
    pub fn versions(&mut self, file_id: FileId) -> Result<Vec<VersionInfo>, Error> {
        if !self.connection.host_takes_features() {
            return Err(Error::Refused(
                "This host keeps no versions: it runs an older lanshare".to_owned(),
            ));
        }
        self.send(&ClientLine::Versions { file_id })?;
        let mut versions = Vec::new();
        loop {
            match self.connection.read_reply(REPLY_TIMEOUT) {
                Ok(HostLine::End) => return Ok(versions),
                Ok(HostLine::Version(version)) if version.file_id == file_id => {
                    versions.push(version);
                }
                Ok(other) => return Err(Error::unexpected_reply(&other)),
                Err(Error::Refused(reason)) if reason == "File not found" => {
                    return Err(Error::NotFound(file_id));
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// The preview of file `file_id`'s latest version (`PREVIEW`). A file without one is
    /// [`Error::NoPreview`]; one that is not there, or that this participant may not see,
    /// [`Error::NotFound`].
    pub fn preview(&mut self, file_id: FileId) -> Result<FetchedPreview, Error> {
        if !self.connection.host_takes_features() {
            return Err(Error::NoPreview(file_id));
        }
        self.send(&ClientLine::Preview { file_id })?;
        let (kind, size) = match self.connection.read_reply(REPLY_TIMEOUT) {
            Ok(HostLine::PreviewData {
                file_id: id,
                kind,
                size,
            }) if id == file_id => (kind, size),
            Ok(other) => return Err(Error::unexpected_reply(&other)),
            Err(Error::Refused(reason)) if reason == "File not found" => {
                return Err(Error::NotFound(file_id));
            }
            Err(Error::Refused(reason)) if reason == format!("File {file_id} has no preview") => {
                return Err(Error::NoPreview(file_id));
            }
            Err(error) => return Err(error),
        };
        // The size was checked against the largest preview when the line was read.
        let mut bytes = vec![0; usize::try_from(size).unwrap_or_default()];
        let _ = self.connection.set_read_timeout(STALL_TIMEOUT);
        self.connection
            .read_exact(&mut bytes)
            .map_err(Error::lost)?;
        Ok(FetchedPreview { kind, bytes })
    }

    /// Makes the next upload on this connection a file of its own even if this participant
    /// already shares one of the same name (`NEW_FILE`; otherwise it becomes a new version).
    pub fn upload_next_as_new_file(&mut self) -> Result<(), Error> {
        if !self.connection.host_takes_features() {
            // An older host keeps every upload as a file of its own anyway.
            return Ok(());
        }
        self.send(&ClientLine::NewFile)
    }

    /// Uploads `size` bytes from `source` under `request`'s names. `progress` is told the
    /// bytes sent so far (0 first, once the host said `READY`); setting `cancel` stops the
    /// upload (the host keeps nothing).
    pub fn upload(
        &mut self,
        request: UploadRequest,
        source: &mut dyn Read,
        progress: &mut dyn FnMut(u64),
        cancel: &AtomicBool,
    ) -> Result<Stored, Error> {
        let size = request.size;
        self.begin_upload(request, None)?;
        progress(0);
        let copied = pipeline::copy_hashing(
            CheckHash::default(),
            source,
            &mut self.connection,
            size,
            &mut |sent| {
                progress(sent);
                !cancel.load(Ordering::Relaxed)
            },
        );
        let local = match copied {
            Ok(local) => local,
            Err(PipelineError::Sink { error, .. }) => {
                return Err(self.reason_for_broken_upload(error));
            }
            Err(PipelineError::Source { error, received }) => {
                self.connection.shut_down();
                let error = if error.kind() == io::ErrorKind::UnexpectedEof {
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("the file shrank while uploading ({received} of {size} bytes)"),
                    )
                } else {
                    error
                };
                return Err(Error::Local {
                    path: "upload source".into(),
                    source: error,
                });
            }
            Err(PipelineError::Stopped) => {
                self.connection.shut_down();
                return Err(Error::Cancelled);
            }
        };
        self.finish_upload(local)
    }

    /// Uploads the file at `path` (its first `request.size` bytes) under `request`'s names,
    /// like [`TransferConnection::upload`]. A large file goes out through the kernel's
    /// file-to-socket copy while a second thread hashes it from its own handle.
    pub fn upload_file(
        &mut self,
        request: UploadRequest,
        path: &Path,
        progress: &mut dyn FnMut(u64),
        cancel: &AtomicBool,
    ) -> Result<Stored, Error> {
        if request.size < pipeline::PARALLEL_FROM {
            let mut file = File::open(path).map_err(|e| Error::local(path, e))?;
            return self.upload(request, &mut file, progress, cancel);
        }
        self.send_file_upload(request, None, path, progress, cancel)
    }

    /// Uploads the file at `path` like [`TransferConnection::upload_file`], with
    /// `UPLOAD_RESUME` (after [`TransferConnection::authenticate`] only): if the host kept
    /// part of an earlier attempt under `key`, only the rest is sent; if this attempt is cut
    /// off, the host keeps what arrived for the next one. `progress` is told the bytes the host
    /// has so far, the kept ones included: first the offset it continues from.
    pub fn resume_upload_file(
        &mut self,
        key: ResumeKey,
        request: UploadRequest,
        path: &Path,
        progress: &mut dyn FnMut(u64),
        cancel: &AtomicBool,
    ) -> Result<Stored, Error> {
        self.send_file_upload(request, Some(key), path, progress, cancel)
    }

    /// Sends `UPLOAD` (or `UPLOAD_RESUME` with `key`), then the file from where the host asks
    /// for it, while a second thread computes the whole file's transfer check from its own
    /// handle; then compares it with the host's.
    fn send_file_upload(
        &mut self,
        request: UploadRequest,
        key: Option<ResumeKey>,
        path: &Path,
        progress: &mut dyn FnMut(u64),
        cancel: &AtomicBool,
    ) -> Result<Stored, Error> {
        let mut file = File::open(path).map_err(|e| Error::local(path, e))?;
        let mut for_hashing = File::open(path).map_err(|e| Error::local(path, e))?;
        let size = request.size;
        let compressed = self.worth_compressing(&mut file, size);
        self.meter.reset();
        if compressed {
            self.send(&ClientLine::Compress)?;
        }
        let offset = self.begin_upload(request, key)?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::local(path, e))?;
        progress(offset);
        let stop_hashing = AtomicBool::new(false);
        let (sent, hashed) = std::thread::scope(|scope| {
            let hashing = scope.spawn(|| {
                pipeline::hash_exactly(CheckHash::default(), &mut for_hashing, size, &stop_hashing)
            });
            let sent = if compressed {
                self.send_file_blocks(&mut file, offset, size, progress, cancel)
            } else {
                self.send_file_bytes(&mut file, offset, size, progress, cancel)
            };
            if sent.is_err() {
                stop_hashing.store(true, Ordering::Relaxed);
            }
            (sent, hashing.join())
        });
        sent?;
        let local = match hashed {
            Ok(Ok(local)) => local,
            Ok(Err(error)) => {
                self.connection.shut_down();
                return Err(Error::local(path, error));
            }
            Err(_) => {
                self.connection.shut_down();
                return Err(Error::local(
                    path,
                    io::Error::other("the hashing thread panicked"),
                ));
            }
        };
        let mut stored = self.finish_upload(local)?;
        stored.compressed = compressed.then(|| self.meter.read());
        Ok(stored)
    }

    /// Whether an upload of `file` (`size` bytes) goes compressed: allowed, the host takes it,
    /// and a sample of the file shrinks enough. Leaves `file` at its start.
    fn worth_compressing(&self, file: &mut File, size: u64) -> bool {
        self.may_compress()
            && size >= MIN_COMPRESSED
            && compression::sample_ratio(file, 0, size).is_ok_and(|ratio| ratio < WORTH_IT)
    }

    /// Sends the bytes of `file` from `offset` (its current position) up to `size` in blocks,
    /// compressed while that pays (`COMPRESS` went before the upload).
    fn send_file_blocks(
        &mut self,
        file: &mut File,
        offset: u64,
        size: u64,
        progress: &mut dyn FnMut(u64),
        cancel: &AtomicBool,
    ) -> Result<(), Error> {
        let meter = Arc::clone(&self.meter);
        let sent = compression::send_blocks(
            file,
            &mut self.connection,
            size - offset,
            true,
            &mut |sent| {
                progress(offset + sent);
                !cancel.load(Ordering::Relaxed)
            },
            &meter,
        );
        match sent {
            Ok(()) => Ok(()),
            Err(PipelineError::Sink { error, .. }) => Err(self.reason_for_broken_upload(error)),
            Err(PipelineError::Source { error, .. }) => {
                self.connection.shut_down();
                Err(Error::Local {
                    path: "upload source".into(),
                    source: error,
                })
            }
            Err(PipelineError::Stopped) => {
                self.connection.shut_down();
                Err(Error::Cancelled)
            }
        }
    }

    /// Sends the bytes of `file` from `offset` (its current position) up to `size`,
    /// [`UPLOAD_BYTES_PER_SENDFILE`] at a time.
    fn send_file_bytes(
        &mut self,
        file: &mut File,
        offset: u64,
        size: u64,
        progress: &mut dyn FnMut(u64),
        cancel: &AtomicBool,
    ) -> Result<(), Error> {
        let mut sent = offset;
        while sent < size {
            if cancel.load(Ordering::Relaxed) {
                self.connection.shut_down();
                return Err(Error::Cancelled);
            }
            let step = (size - sent).min(UPLOAD_BYTES_PER_SENDFILE);
            let copied = match self.connection.send_file(file, step) {
                Ok(copied) => copied,
                Err(error) => return Err(self.reason_for_broken_upload(error)),
            };
            if copied == 0 {
                self.connection.shut_down();
                return Err(Error::Local {
                    path: "upload source".into(),
                    source: io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("the file shrank while uploading ({sent} of {size} bytes)"),
                    ),
                });
            }
            sent += copied;
            progress(sent);
        }
        Ok(())
    }

    /// `UPLOAD` (or `UPLOAD_RESUME` with `key`), then waits for `READY` (or `RESUME_FROM`);
    /// returns the offset from which the host wants the bytes.
    fn begin_upload(
        &mut self,
        request: UploadRequest,
        key: Option<ResumeKey>,
    ) -> Result<u64, Error> {
        let size = request.size;
        self.ask_for_features()?;
        self.send(&match key {
            Some(key) => ClientLine::UploadResume { key, request },
            None => ClientLine::Upload(request),
        })?;
        let offset = match (self.connection.read_reply(REPLY_TIMEOUT)?, key) {
            (HostLine::Ready, None) => 0,
            (HostLine::ResumeFrom { offset }, Some(_)) if offset <= size => offset,
            (other, _) => return Err(Error::unexpected_reply(&other)),
        };
        let _ = self.connection.set_write_timeout(STALL_TIMEOUT);
        Ok(offset)
    }

    /// After the last byte: waits for `STORED` and checks the host's transfer check against
    /// `local`, this side's check of the whole file.
    fn finish_upload(&mut self, local: TransferCheck) -> Result<Stored, Error> {
        let mut reply = self.connection.read_reply(COMMIT_TIMEOUT)?;
        let mut details = None;
        if let HostLine::FileInfo(info) = reply {
            details = Some(FileDetails::from_info(info, chrono::Utc::now()));
            reply = self.connection.read_reply(REPLY_TIMEOUT)?;
        }
        if let (
            HostLine::FileVersions {
                file_id: _,
                latest,
                kept,
            },
            Some(details),
        ) = (&reply, details.as_mut())
        {
            details.versions = Some(VersionCount {
                latest: *latest,
                kept: *kept,
            });
            reply = self.connection.read_reply(REPLY_TIMEOUT)?;
        }
        match reply {
            HostLine::Stored {
                file_id,
                sha256,
                check,
            } if check == local => Ok(Stored {
                file_id,
                sha256,
                details,
                compressed: None,
            }),
            HostLine::Stored { file_id, .. } => Err(Error::UploadDamaged { file_id }),
            other => Err(Error::unexpected_reply(&other)),
        }
    }

    /// After a failed write, the host may have said why before closing: read it if so.
    fn reason_for_broken_upload(&mut self, error: io::Error) -> Error {
        match self.connection.read_reply(Duration::from_secs(2)) {
            Err(refused @ Error::Refused(_)) => refused,
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
        let delivered = self.download_from(file_id, 0, Sha256::new(), sink, progress, cancel)?;
        Ok(Downloaded {
            name: delivered.name,
            size: delivered.size,
            sha256: delivered.digest,
        })
    }

    /// Downloads file `file_id` from byte `offset` on into `sink`, continuing a download whose
    /// first `offset` bytes the caller has already and `prefix` has hashed (SHA-256, the
    /// transfer check, or any [`StreamHash`]): the result's size and digest are the whole
    /// file's, and `progress` is told the bytes held so far, the first `offset` included
    /// (`offset` itself first, once the host has answered). With an interrupted connection,
    /// `sink` has received every byte that arrived (so the next attempt can continue after
    /// them).
    pub fn download_from<H: StreamHash>(
        &mut self,
        file_id: FileId,
        offset: u64,
        prefix: H,
        sink: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
        cancel: &AtomicBool,
    ) -> Result<Delivered<H::Output>, Error> {
        let request = (file_id, None, offset);
        self.download_version_from(request, prefix, sink, progress, cancel)
    }

    /// [`TransferConnection::download_from`] for version `version` of the file (`None`: the
    /// latest), asked as `(file_id, version, offset)`.
    pub fn download_version_from<H: StreamHash>(
        &mut self,
        (file_id, version, offset): (FileId, Option<u32>, u64),
        prefix: H,
        sink: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
        cancel: &AtomicBool,
    ) -> Result<Delivered<H::Output>, Error> {
        let compressed = self.may_compress();
        self.meter.reset();
        if compressed {
            self.send(&ClientLine::Compress)?;
        }
        let line = match version {
            None => ClientLine::Download { file_id, offset },
            Some(version) => ClientLine::DownloadVersion {
                file_id,
                offset,
                version,
            },
        };
        self.send(&line)?;
        let (name, size) = match self.connection.read_reply(REPLY_TIMEOUT) {
            Ok(HostLine::File { name, size }) => (name, size),
            Ok(other) => return Err(Error::unexpected_reply(&other)),
            Err(Error::Refused(reason)) if reason == "File not found" => {
                return Err(Error::NotFound(file_id));
            }
            Err(error) => return Err(error),
        };
        if offset > size {
            return Err(Error::Protocol(format!(
                "FILE announced {size} bytes, fewer than the {offset} asked to skip"
            )));
        }
        self.send(&ClientLine::Ready)?;
        progress(offset);
        self.connection
            .set_read_timeout(STALL_TIMEOUT)
            .map_err(Error::lost)?;
        let stream = self.connection.try_clone_stream().ok();
        let bulk = stream.as_ref().and_then(Stream::bulk_reads);
        let mut blocks;
        let source: &mut dyn Read = if compressed {
            blocks = BlockReader::new(&mut self.connection, size - offset, Some(&*self.meter));
            &mut blocks
        } else {
            &mut self.connection
        };
        let copied = pipeline::copy_hashing(prefix, source, sink, size - offset, &mut |received| {
            progress(offset + received);
            !cancel.load(Ordering::Relaxed)
        });
        drop(bulk);
        let digest = match copied {
            Ok(digest) => digest,
            Err(PipelineError::Source { error, .. }) if block_error(&error).is_some() => {
                self.connection.shut_down();
                return Err(Error::Protocol(format!(
                    "the host sent a damaged compressed download: {error}"
                )));
            }
            Err(PipelineError::Source { error, received }) => {
                return Err(download_cut_off(error, offset + received, size));
            }
            Err(PipelineError::Sink { error, .. }) => {
                return Err(Error::Local {
                    path: name.into(),
                    source: error,
                });
            }
            Err(PipelineError::Stopped) => {
                self.connection.shut_down();
                return Err(Error::Cancelled);
            }
        };
        Ok(Delivered { name, size, digest })
    }
}

/// The error for a download whose connection failed after `held` of its `size` bytes, worded
/// for an early close or a stall.
fn download_cut_off(error: io::Error, held: u64, size: u64) -> Error {
    let error = if error.kind() == io::ErrorKind::UnexpectedEof {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("the host closed the connection after {held} of {size} bytes"),
        )
    } else if is_timeout(&error) {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no data for {} s", STALL_TIMEOUT.as_secs()),
        )
    } else {
        error
    };
    Error::lost(error)
}
