//! Moving a transfer's bytes while a second thread hashes them.
//!
//! What they are hashed with is a [`StreamHash`]: SHA-256 and the transfer check for an upload the
//! host receives ([`UploadHash`]), the transfer check alone for an upload being sent or a download
//! ([`CheckHash`]; SHA-256 for a download from a host that lists no check). SHA-256 costs about as
//! much CPU as moving the bytes through the kernel (BENCHMARKS.md, "Figures behind design
//! choices"), so doing both on one thread leaves each waiting for the other. Here the thread that
//! moves the bytes hands each finished chunk to a hashing thread and goes on at once. Memory stays
//! bounded: into a caller's buffer nothing is copied, and into a writer at most
//! [`CHUNKS_IN_FLIGHT`] chunks are in flight. Transfers smaller than [`PARALLEL_FROM`] hash on the
//! moving thread: starting a thread would cost more than it saves.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::Xxh3;

use crate::protocol::{Sha256Digest, TransferCheck};

/// A running hash of a transfer's bytes, fed in order, chunk by chunk.
pub trait StreamHash: Send {
    /// The hash of all the bytes.
    type Output: Send;
    /// Feeds the next bytes.
    fn update(&mut self, bytes: &[u8]);
    /// The hash of everything fed.
    fn finish(self) -> Self::Output;
}

impl StreamHash for Sha256 {
    type Output = Sha256Digest;
    fn update(&mut self, bytes: &[u8]) {
        Digest::update(self, bytes);
    }
    fn finish(self) -> Sha256Digest {
        Sha256Digest(self.finalize().into())
    }
}

/// The transfer check alone: what an uploader computes of the bytes it sends, and a
/// downloader of the bytes it receives.
#[derive(Clone, Default)]
pub struct CheckHash(Xxh3);

impl StreamHash for CheckHash {
    type Output = TransferCheck;
    fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(self) -> TransferCheck {
        TransferCheck(self.0.digest128().to_be_bytes())
    }
}

/// Both digests of an upload: the SHA-256 the host lists, and the transfer check the uploader
/// compares with its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadDigests {
    /// SHA-256 of the bytes.
    pub sha256: Sha256Digest,
    /// Their transfer check.
    pub check: TransferCheck,
}

/// What the host hashes an upload with: SHA-256 and the transfer check, in one pass.
#[derive(Clone, Default)]
pub struct UploadHash {
    sha256: Sha256,
    check: CheckHash,
}

impl StreamHash for UploadHash {
    type Output = UploadDigests;
    fn update(&mut self, bytes: &[u8]) {
        StreamHash::update(&mut self.sha256, bytes);
        self.check.update(bytes);
    }
    fn finish(self) -> UploadDigests {
        UploadDigests {
            sha256: self.sha256.finish(),
            check: self.check.finish(),
        }
    }
}

/// Bytes handed to the hashing thread at a time.
pub const CHUNK: usize = 512 * 1024;
/// Chunks of a transfer into a writer that may be in flight at once: its whole buffer memory.
pub const CHUNKS_IN_FLIGHT: usize = 4;
/// Transfers of fewer bytes hash on the moving thread.
pub const PARALLEL_FROM: u64 = 2 * 1024 * 1024;

/// Why a transfer stopped before all its bytes moved.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The source failed or ended early (an early end is an `UnexpectedEof` error).
    #[error("{error} (after {received} bytes)")]
    Source {
        /// What went wrong.
        error: io::Error,
        /// Bytes received before it did.
        received: u64,
    },
    /// Writing the bytes where they belong failed.
    #[error("{error} (after {received} bytes)")]
    Sink {
        /// What went wrong.
        error: io::Error,
        /// Bytes received before it did.
        received: u64,
    },
    /// The progress callback asked to stop.
    #[error("stopped")]
    Stopped,
}

/// Reads from `source` until `chunk` is full; counts what arrives in `received` and tells
/// `progress` after each read (it returns false to stop).
fn fill(
    source: &mut dyn Read,
    chunk: &mut [u8],
    received: &mut u64,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<(), PipelineError> {
    let mut filled = 0;
    while filled < chunk.len() {
        match source.read(&mut chunk[filled..]) {
            Ok(0) => {
                return Err(PipelineError::Source {
                    error: io::Error::new(io::ErrorKind::UnexpectedEof, "the stream ended early"),
                    received: *received,
                });
            }
            Ok(read) => {
                filled += read;
                *received += read as u64;
                if !progress(*received) {
                    return Err(PipelineError::Stopped);
                }
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => {
                return Err(PipelineError::Source {
                    error,
                    received: *received,
                });
            }
        }
    }
    Ok(())
}

fn hashing_thread_lost(received: u64) -> PipelineError {
    PipelineError::Sink {
        error: io::Error::other("the hashing thread stopped"),
        received,
    }
}

/// Fills `target` with exactly its length of bytes from `source`, storing them in place, and
/// feeds them to `hasher` (which may hold a file's first bytes already: the result is then the
/// whole file's hash). `progress` is told the bytes received so far after each read and
/// returns false to stop.
pub fn fill_hashing<H: StreamHash>(
    mut hasher: H,
    source: &mut dyn Read,
    target: &mut [u8],
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<H::Output, PipelineError> {
    let mut received = 0;
    if (target.len() as u64) < PARALLEL_FROM {
        for chunk in target.chunks_mut(CHUNK) {
            fill(source, chunk, &mut received, progress)?;
            hasher.update(chunk);
        }
        return Ok(hasher.finish());
    }
    std::thread::scope(|scope| {
        // The chunks are borrowed from `target`, so the queue holds no memory of its own.
        let (filled, to_hash) = flume::unbounded::<&[u8]>();
        let hashing = scope.spawn(move || {
            for chunk in to_hash.iter() {
                hasher.update(chunk);
            }
            hasher.finish()
        });
        let moved = fill_and_hand_over(source, target, &filled, &mut received, progress);
        drop(filled);
        let digest = hashing.join().map_err(|_| hashing_thread_lost(received));
        moved.and(digest)
    })
}

/// Fills `target` chunk by chunk, handing each full chunk to the hashing thread.
fn fill_and_hand_over<'a>(
    source: &mut dyn Read,
    target: &'a mut [u8],
    filled: &flume::Sender<&'a [u8]>,
    received: &mut u64,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<(), PipelineError> {
    for chunk in target.chunks_mut(CHUNK) {
        fill(source, chunk, received, progress)?;
        let chunk: &[u8] = chunk;
        filled
            .send(chunk)
            .map_err(|_| hashing_thread_lost(*received))?;
    }
    Ok(())
}

/// After the source failed part-way through a chunk (whose first byte was byte `before`),
/// writes what did arrive of it, so that the sink holds exactly the bytes the error counts as
/// received: a resumed transfer continues from there.
fn keep_partial_chunk(
    error: &PipelineError,
    sink: &mut dyn Write,
    chunk: &[u8],
    before: u64,
) -> Result<(), PipelineError> {
    let PipelineError::Source { received, .. } = error else {
        return Ok(());
    };
    let arrived = usize::try_from(received - before)
        .unwrap_or(0)
        .min(chunk.len());
    sink.write_all(&chunk[..arrived])
        .map_err(|error| PipelineError::Sink {
            error,
            received: before,
        })
}

/// Moves exactly `size` bytes from `source` into `sink`, feeding them to `hasher` (which may
/// hold a file's first bytes already: the result is then the whole file's hash). `progress`
/// is told the bytes received so far after each read and returns false to stop. If the source
/// fails, every byte it delivered has been written to `sink` (a cut download or upload can
/// continue from there).
pub fn copy_hashing<H: StreamHash>(
    mut hasher: H,
    source: &mut dyn Read,
    sink: &mut dyn Write,
    size: u64,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<H::Output, PipelineError> {
    let mut received = 0;
    let chunk_len =
        |received: u64| usize::try_from((size - received).min(CHUNK as u64)).unwrap_or(CHUNK);
    if size < PARALLEL_FROM {
        let mut buffer = vec![0u8; chunk_len(0)];
        while received < size {
            let chunk = &mut buffer[..chunk_len(received)];
            let before = received;
            if let Err(error) = fill(source, chunk, &mut received, progress) {
                keep_partial_chunk(&error, sink, chunk, before)?;
                return Err(error);
            }
            hasher.update(chunk);
            sink.write_all(chunk)
                .map_err(|error| PipelineError::Sink { error, received })?;
        }
        return Ok(hasher.finish());
    }
    std::thread::scope(|scope| {
        // Buffers go round: filled and written here, hashed there, then handed back.
        let (filled, to_hash) = flume::bounded::<(Vec<u8>, usize)>(CHUNKS_IN_FLIGHT);
        let (hashed, reusable) = flume::bounded::<Vec<u8>>(CHUNKS_IN_FLIGHT);
        let hashing = scope.spawn(move || {
            for (buffer, len) in to_hash.iter() {
                hasher.update(&buffer[..len]);
                // Nobody takes it back once receiving has stopped; that is fine.
                let _ = hashed.try_send(buffer);
            }
            hasher.finish()
        });
        let moved = (|| {
            let mut allocated = 0;
            while received < size {
                let mut buffer = match reusable.try_recv() {
                    Ok(buffer) => buffer,
                    Err(_) if allocated < CHUNKS_IN_FLIGHT => {
                        allocated += 1;
                        vec![0u8; CHUNK]
                    }
                    Err(_) => reusable.recv().map_err(|_| hashing_thread_lost(received))?,
                };
                let len = chunk_len(received);
                let before = received;
                if let Err(error) = fill(source, &mut buffer[..len], &mut received, progress) {
                    keep_partial_chunk(&error, sink, &buffer[..len], before)?;
                    return Err(error);
                }
                sink.write_all(&buffer[..len])
                    .map_err(|error| PipelineError::Sink { error, received })?;
                filled
                    .send((buffer, len))
                    .map_err(|_| hashing_thread_lost(received))?;
            }
            Ok(())
        })();
        drop(filled);
        let digest = hashing.join().map_err(|_| hashing_thread_lost(received));
        moved.and(digest)
    })
}

/// Hashes exactly `size` bytes of `source` (a file being sent by another thread, say) with
/// `hasher`; setting `stop` ends it early with an `Interrupted` error.
pub fn hash_exactly<H: StreamHash>(
    hasher: H,
    source: &mut dyn Read,
    size: u64,
    stop: &AtomicBool,
) -> io::Result<H::Output> {
    hash_into(hasher, source, size, stop).map(StreamHash::finish)
}

/// Feeds the first `size` bytes of `source` to `hasher` and returns it unfinished, to be
/// continued with the rest of the file (a resumed transfer's kept bytes).
pub fn hash_prefix<H: StreamHash>(hasher: H, source: &mut dyn Read, size: u64) -> io::Result<H> {
    hash_into(hasher, source, size, &AtomicBool::new(false))
}

/// Feeds exactly `size` bytes of `source` to `hasher`.
fn hash_into<H: StreamHash>(
    mut hasher: H,
    source: &mut dyn Read,
    size: u64,
    stop: &AtomicBool,
) -> io::Result<H> {
    let mut buffer = vec![0u8; CHUNK];
    let mut left = size;
    while left > 0 {
        if stop.load(Ordering::Relaxed) {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "hashing stopped",
            ));
        }
        let want = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
        match source.read(&mut buffer[..want]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the file shrank while it was read ({} of {size} bytes)",
                        size - left
                    ),
                ));
            }
            Ok(read) => {
                hasher.update(&buffer[..read]);
                left -= read as u64;
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(hasher)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    fn digest(bytes: &[u8]) -> Sha256Digest {
        Sha256Digest(Sha256::digest(bytes).into())
    }

    fn both(bytes: &[u8]) -> UploadDigests {
        UploadDigests {
            sha256: digest(bytes),
            check: TransferCheck::of(bytes),
        }
    }

    /// A reader that hands out at most `step` bytes per read, like a socket.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let count = out.len().min(self.step).min(self.bytes.len());
            out[..count].copy_from_slice(&self.bytes[..count]);
            self.bytes = &self.bytes[count..];
            Ok(count)
        }
    }

    #[test]
    fn small_and_large_transfers_store_and_hash_every_byte() -> Result<(), PipelineError> {
        for len in [0, 1, 1000, CHUNK + 7, PARALLEL_FROM as usize + 12345] {
            let bytes = pattern(len);
            let mut target = vec![0u8; len];
            let mut reports = Vec::new();
            let got = fill_hashing(
                UploadHash::default(),
                &mut Trickle {
                    bytes: &bytes,
                    step: 70_001,
                },
                &mut target,
                &mut |done| {
                    reports.push(done);
                    true
                },
            )?;
            assert_eq!(got, both(&bytes));
            assert_eq!(target, bytes);
            assert_eq!(reports.last().copied().unwrap_or(0), len as u64);

            let mut sink = Vec::new();
            let got = copy_hashing(
                CheckHash::default(),
                &mut Trickle {
                    bytes: &bytes,
                    step: 99_999,
                },
                &mut sink,
                len as u64,
                &mut |_| true,
            )?;
            assert_eq!(got, TransferCheck::of(&bytes));
            assert_eq!(sink, bytes);

            let hashed = hash_exactly(
                Sha256::new(),
                &mut &bytes[..],
                len as u64,
                &AtomicBool::new(false),
            );
            assert_eq!(hashed.ok(), Some(digest(&bytes)));
        }
        Ok(())
    }

    #[test]
    fn a_short_source_or_a_stop_ends_the_transfer() {
        let bytes = pattern(PARALLEL_FROM as usize * 2);
        let mut target = vec![0u8; bytes.len() + 10];
        let short = fill_hashing(Sha256::new(), &mut &bytes[..], &mut target, &mut |_| true);
        assert!(matches!(
            short,
            Err(PipelineError::Source { received, .. }) if received == bytes.len() as u64
        ));

        let mut sink = Vec::new();
        let stopped = copy_hashing(
            Sha256::new(),
            &mut &bytes[..],
            &mut sink,
            bytes.len() as u64,
            &mut |done| done < CHUNK as u64 * 2,
        );
        assert!(matches!(stopped, Err(PipelineError::Stopped)));
        assert!(sink.len() < bytes.len());

        let shrunk = hash_exactly(
            Sha256::new(),
            &mut &bytes[..10],
            20,
            &AtomicBool::new(false),
        );
        assert!(shrunk.is_err());
        let stopped = hash_exactly(Sha256::new(), &mut &bytes[..], 20, &AtomicBool::new(true));
        assert!(stopped.is_err());
    }

    #[test]
    fn a_cut_source_leaves_every_byte_it_delivered_in_the_sink() {
        for len in [1000, PARALLEL_FROM as usize + CHUNK + 777] {
            let bytes = pattern(len);
            let cut = len - 333;
            let mut sink = Vec::new();
            let result = copy_hashing(
                UploadHash::default(),
                &mut Trickle {
                    bytes: &bytes[..cut],
                    step: 65_536,
                },
                &mut sink,
                len as u64,
                &mut |_| true,
            );
            assert!(matches!(
                result,
                Err(PipelineError::Source { received, .. }) if received == cut as u64
            ));
            assert_eq!(sink, &bytes[..cut]);
            // Continuing from the cut with the prefix's hash gives the whole file's digests.
            let prefix =
                hash_prefix(UploadHash::default(), &mut &sink[..], cut as u64).unwrap_or_default();
            let rest = copy_hashing(
                prefix,
                &mut &bytes[cut..],
                &mut sink,
                (len - cut) as u64,
                &mut |_| true,
            );
            assert_eq!(rest.ok(), Some(both(&bytes)));
            assert_eq!(sink, bytes);
        }
    }

    #[test]
    fn a_failing_sink_is_reported_as_such() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let bytes = pattern(PARALLEL_FROM as usize + 1);
        let failed = copy_hashing(
            Sha256::new(),
            &mut &bytes[..],
            &mut Full,
            bytes.len() as u64,
            &mut |_| true,
        );
        assert!(matches!(
            failed,
            Err(PipelineError::Sink { error, .. }) if error.kind() == io::ErrorKind::StorageFull
        ));
    }
}
