//! Compressed transfers between lanshare peers: a file's bytes travel in blocks, each raw or
//! zstd-compressed, whichever pays (PROTOCOL.md, *Compression*).
//!
//! A block is a [`HEADER`] of 9 bytes — its kind (0 raw, 1 zstd), the file bytes it carries and
//! the bytes that follow it on the wire (both 32-bit big-endian) — then those bytes. A raw block
//! carries the file's bytes as they are, so a transfer whose data does not shrink costs 9 bytes
//! per [`BLOCK`] (0.007 %), and every block restarts compression: a transfer cut off continues
//! from any byte of the file (resume offsets stay in the file's bytes).
//!
//! The sender ([`send_blocks`]) reads the file on a thread of its own and compresses a block
//! only while compressing is faster than the connection takes raw blocks (compressing
//! measured over its last [`WINDOW`] blocks, the connection over its last [`DRAIN_WINDOW`]
//! raw blocks, by the time the writing thread spends writing them; while compressing, every
//! [`PROBE`]th block goes raw to keep measuring, and until both are known, blocks go
//! compressed).
//! When the wire is the slower, as on a gigabit link, blocks go compressed and the transfer
//! runs at the compressor's speed (or the wire's times the ratio); when the connection has
//! room because the compressor fell behind, raw blocks go in instantly, which reads as a fast
//! connection, so a few raw blocks fill it. When the connection takes raw blocks faster than
//! the compressor makes them (loopback, a fast link), blocks go raw and the transfer runs at
//! the wire's speed. Compressed blocks are not timed: a receiver slowed by decompressing them
//! takes fewer wire bytes a second, and must not read as a slower wire. A block that does not
//! shrink by 1/16 goes raw, and each one that fails doubles the number of blocks sent raw
//! without trying (up to 64), so random data costs little CPU; the file's first samples
//! ([`sample_ratio`]) decide where that starts. The receiver ([`BlockReader`]) checks every
//! header before reading what follows it: no block may claim more than [`MAX_BLOCK`] bytes or
//! more than the file has left, and a compressed block must decompress to exactly the bytes it
//! announced, into a buffer of that size: a lying peer gets an error, never a large allocation.

use std::collections::VecDeque;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use zstd::bulk::{Compressor, Decompressor};

use crate::pipeline::PipelineError;

/// File bytes a sender puts in one block.
pub const BLOCK: usize = 128 * 1024;
/// The most file bytes a receiver accepts in one block.
pub const MAX_BLOCK: usize = 1024 * 1024;
/// Bytes of a block's header: kind, file bytes, wire bytes.
pub const HEADER: usize = 9;
/// The zstd level blocks are compressed at. Measured here on generated log lines in 128 KiB
/// blocks, one core (`zstd -b`): level 1 shrinks them 4.4× at about 380 MB/s (decompressing at
/// 1.1 GB/s), 3.2 times a gigabit link's 117.7 MB/s, with the wire a third used; `--fast=1`
/// shrinks them only 3.0× at 470 MB/s, which needs 155 MB/s of wire, more than a gigabit link
/// has, so it would run at 3.0 times the link; levels 2 and 3 are slower for the same ratio.
pub const LEVEL: i32 = 1;
/// A sample's ratio (compressed ÷ original) above which a transfer starts out not trying.
pub const WORTH_IT: f64 = 0.9;

/// The kind byte of a block sent as it is.
const RAW: u8 = 0;
/// The kind byte of a zstd-compressed block.
const ZSTD: u8 = 1;
/// Blocks waiting for the writer that a sender may hold, besides the ones being filled and
/// written: with [`BLOCK`], a transfer's buffers stay near half a MiB.
const QUEUED: usize = 2;
/// The most blocks sent raw without trying, after blocks that did not shrink.
const MAX_BACKOFF: u32 = 64;
/// Blocks over which a sender measures how fast it compresses.
const WINDOW: usize = 32;
/// Raw blocks over which a sender measures how fast the connection takes them: 16 MiB, so
/// that a receiver's stall of a few milliseconds on one machine (loopback, where compressing
/// only takes CPU from the receiver) does not read as a slow wire. Measured here over 4 MiB,
/// a download over loopback went compressed for part of the way.
const DRAIN_WINDOW: usize = 128;
/// While compressing, one block in this many goes raw, to measure the connection.
const PROBE: u32 = 16;
/// Bytes of each sample [`sample_ratio`] compresses, and how many it takes.
const SAMPLE: usize = 64 * 1024;
const SAMPLES: u64 = 4;

/// Why a block from the peer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// A kind byte other than raw (0) or zstd (1).
    #[error("a block of unknown kind {0}")]
    UnknownKind(u8),
    /// A block carrying no bytes.
    #[error("an empty block")]
    Empty,
    /// A block claiming more than [`MAX_BLOCK`] bytes.
    #[error("a block claiming {0} bytes, more than the {MAX_BLOCK} a block may carry")]
    TooLarge(u32),
    /// A block claiming more bytes than the file has left.
    #[error("a block of {len} bytes where the file has {left} left")]
    PastTheEnd {
        /// Bytes it claims.
        len: u32,
        /// Bytes of the file left to send.
        left: u64,
    },
    /// A raw block whose two lengths differ.
    #[error("a raw block of {len} bytes claiming {wire} bytes on the wire")]
    RawMismatch {
        /// File bytes it claims.
        len: u32,
        /// Wire bytes it claims.
        wire: u32,
    },
    /// A compressed block no smaller than what it carries.
    #[error("a compressed block of {wire} bytes carrying only {len}")]
    NotSmaller {
        /// File bytes it claims.
        len: u32,
        /// Wire bytes it claims.
        wire: u32,
    },
    /// A compressed block that does not decompress to exactly the bytes it claims.
    #[error("a compressed block that does not give the {len} bytes it claims ({reason})")]
    Undecodable {
        /// File bytes it claims.
        len: u32,
        /// What zstd said, or how many bytes it gave.
        reason: String,
    },
}

impl From<BlockError> for io::Error {
    fn from(error: BlockError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, error)
    }
}

/// The block error inside an I/O error from a [`BlockReader`], if that is what it is.
pub fn block_error(error: &io::Error) -> Option<&BlockError> {
    error.get_ref().and_then(|inner| inner.downcast_ref())
}

/// A checked block header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    compressed: bool,
    len: u32,
    wire: u32,
}

impl Header {
    /// Reads a header, refusing one that claims too much or more than the `left` file bytes.
    fn parse(bytes: [u8; HEADER], left: u64) -> Result<Self, BlockError> {
        let number = |at: usize| {
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let (len, wire) = (number(1), number(5));
        let compressed = match bytes[0] {
            RAW => false,
            ZSTD => true,
            kind => return Err(BlockError::UnknownKind(kind)),
        };
        if len == 0 {
            return Err(BlockError::Empty);
        }
        if len as usize > MAX_BLOCK {
            return Err(BlockError::TooLarge(len));
        }
        if u64::from(len) > left {
            return Err(BlockError::PastTheEnd { len, left });
        }
        if !compressed && wire != len {
            return Err(BlockError::RawMismatch { len, wire });
        }
        if compressed && (wire >= len || wire == 0) {
            return Err(BlockError::NotSmaller { len, wire });
        }
        Ok(Self {
            compressed,
            len,
            wire,
        })
    }

    fn encode(self) -> [u8; HEADER] {
        let mut bytes = [0u8; HEADER];
        bytes[0] = if self.compressed { ZSTD } else { RAW };
        bytes[1..5].copy_from_slice(&self.len.to_be_bytes());
        bytes[5..9].copy_from_slice(&self.wire.to_be_bytes());
        bytes
    }
}

/// A compressed transfer's bytes so far: the file's, and the wire's (headers included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireBytes {
    /// File bytes moved.
    pub file: u64,
    /// Bytes that crossed the wire for them.
    pub wire: u64,
}

/// Counts a compressed transfer's bytes as they move, for another thread to read (a progress
/// display showing the wire's rate).
#[derive(Debug, Default)]
pub struct WireMeter {
    file: AtomicU64,
    wire: AtomicU64,
}

impl WireMeter {
    /// The counts so far.
    pub fn read(&self) -> WireBytes {
        WireBytes {
            file: self.file.load(Ordering::Relaxed),
            wire: self.wire.load(Ordering::Relaxed),
        }
    }

    /// Starts counting again from zero (a new transfer).
    pub fn reset(&self) {
        self.file.store(0, Ordering::Relaxed);
        self.wire.store(0, Ordering::Relaxed);
    }

    fn add(&self, file: u64, wire: u64) {
        self.file.fetch_add(file, Ordering::Relaxed);
        self.wire.fetch_add(wire, Ordering::Relaxed);
    }
}

/// Where a [`BlockReader`] is within a block.
enum Position {
    /// Before a header.
    Between,
    /// Inside a raw block, this many bytes before its end.
    Raw(usize),
    /// Handing out a decompressed block from `decoded[at..end]`.
    Decoded { at: usize, end: usize },
}

/// Reads a compressed transfer's blocks from `source` and gives the file's bytes: exactly
/// `len` of them, then the end. A block that breaks the rules is an `InvalidData` error
/// carrying a [`BlockError`]; a source that ends early, `UnexpectedEof`. The bytes of a
/// compressed block are given only once all of it has arrived and decompressed, so the bytes
/// given are always the file's, in order (a cut transfer continues after them).
pub struct BlockReader<'m, R> {
    source: R,
    left: u64,
    position: Position,
    packed: Vec<u8>,
    decoded: Vec<u8>,
    decompressor: Option<Decompressor<'static>>,
    meter: Option<&'m WireMeter>,
}

impl<'m, R: Read> BlockReader<'m, R> {
    /// A reader of `len` file bytes from `source`, counting them on `meter` if given.
    pub fn new(source: R, len: u64, meter: Option<&'m WireMeter>) -> Self {
        Self {
            source,
            left: len,
            position: Position::Between,
            packed: Vec::new(),
            decoded: Vec::new(),
            decompressor: None,
            meter,
        }
    }

    /// Reads the next header and, for a compressed block, the block itself.
    fn next_block(&mut self) -> io::Result<()> {
        let mut bytes = [0u8; HEADER];
        self.source.read_exact(&mut bytes)?;
        let header = Header::parse(bytes, self.left)?;
        self.left -= u64::from(header.len);
        let len = header.len as usize;
        if !header.compressed {
            self.count(0, HEADER as u64);
            self.position = Position::Raw(len);
            return Ok(());
        }
        let wire = header.wire as usize;
        self.packed.resize(wire, 0);
        self.source.read_exact(&mut self.packed)?;
        self.decoded.resize(len.max(self.decoded.len()), 0);
        let decompressor = match &mut self.decompressor {
            Some(decompressor) => decompressor,
            empty => empty.insert(Decompressor::new()?),
        };
        let undecodable = |reason: String| BlockError::Undecodable {
            len: header.len,
            reason,
        };
        let got = decompressor
            .decompress_to_buffer(&self.packed[..], &mut self.decoded[..len])
            .map_err(|error| undecodable(error.to_string()))?;
        if got != len {
            return Err(undecodable(format!("it gave {got}")).into());
        }
        self.count(len as u64, (HEADER + wire) as u64);
        self.position = Position::Decoded { at: 0, end: len };
        Ok(())
    }

    fn count(&self, file: u64, wire: u64) {
        if let Some(meter) = self.meter {
            meter.add(file, wire);
        }
    }
}

impl<R: Read> Read for BlockReader<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match self.position {
                Position::Raw(rest) if rest > 0 => {
                    let want = rest.min(out.len());
                    let read = self.source.read(&mut out[..want])?;
                    if read == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    self.position = Position::Raw(rest - read);
                    self.count(read as u64, read as u64);
                    return Ok(read);
                }
                Position::Decoded { at, end } if at < end => {
                    let count = (end - at).min(out.len());
                    out[..count].copy_from_slice(&self.decoded[at..at + count]);
                    self.position = Position::Decoded {
                        at: at + count,
                        end,
                    };
                    return Ok(count);
                }
                _ if self.left == 0 => return Ok(0),
                _ => self.next_block()?,
            }
        }
    }
}

/// The ratio (compressed ÷ original) of a few samples of `source`'s bytes from `start` to
/// `end`, compressed at [`LEVEL`]; `source` is left at `start`. Below [`WORTH_IT`], trying to
/// compress the transfer pays.
pub fn sample_ratio<S: Read + Seek>(source: &mut S, start: u64, end: u64) -> io::Result<f64> {
    let span = end.saturating_sub(start);
    let mut compressor = Compressor::new(LEVEL)?;
    let mut sample = vec![0u8; SAMPLE];
    let mut packed = vec![0u8; zstd::zstd_safe::compress_bound(SAMPLE)];
    let (mut original, mut compressed) = (0usize, 0usize);
    for index in 0..SAMPLES {
        let at = start + span.saturating_sub(SAMPLE as u64) * index / (SAMPLES - 1);
        source.seek(SeekFrom::Start(at))?;
        let want = usize::try_from(span.min(SAMPLE as u64)).unwrap_or(SAMPLE);
        source.read_exact(&mut sample[..want])?;
        original += want;
        compressed += compressor.compress_to_buffer(&sample[..want], &mut packed[..])?;
        if span <= SAMPLE as u64 {
            break;
        }
    }
    source.seek(SeekFrom::Start(start))?;
    if original == 0 {
        return Ok(1.0);
    }
    Ok(compressed as f64 / original as f64)
}

/// A recent rate: bytes per nanosecond over the last `window` running totals.
struct Recent {
    /// Running totals (bytes, nanoseconds), oldest first.
    marks: VecDeque<(u64, u64)>,
    window: usize,
}

impl Recent {
    fn new(window: usize) -> Self {
        Self {
            marks: VecDeque::from([(0, 0)]),
            window,
        }
    }

    /// Notes running totals; totals the same as the last ones add nothing.
    fn mark(&mut self, bytes: u64, nanos: u64) {
        if self.marks.back() == Some(&(bytes, nanos)) {
            return;
        }
        self.marks.push_back((bytes, nanos));
        if self.marks.len() > self.window + 1 {
            self.marks.pop_front();
        }
    }

    /// Bytes per nanosecond since the oldest mark; `None` before any time has been measured.
    fn rate(&self) -> Option<f64> {
        let (&(first_bytes, first_nanos), &(bytes, nanos)) =
            (self.marks.front()?, self.marks.back()?);
        (nanos > first_nanos).then(|| (bytes - first_bytes) as f64 / (nanos - first_nanos) as f64)
    }
}

/// How fast the writing thread moves raw blocks into the connection, counting only the time
/// it spends writing them: the wire's pace, or the far side's, whenever the connection has no
/// room left. Shared with the compressing thread.
#[derive(Default)]
struct Drain {
    bytes: AtomicU64,
    nanos: AtomicU64,
}

impl Drain {
    fn add(&self, bytes: u64, started: Instant) {
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    fn totals(&self) -> (u64, u64) {
        (
            self.bytes.load(Ordering::Relaxed),
            self.nanos.load(Ordering::Relaxed),
        )
    }
}

/// When a sender tries to compress a block.
struct Policy {
    /// Blocks to send raw without trying.
    skip: u32,
    /// How many the next failure skips.
    backoff: u32,
    /// File bytes compressed, and the time it took (running totals).
    compressed: (u64, u64),
    /// How fast blocks were compressed lately.
    compressing: Recent,
    /// How fast the connection took raw blocks lately.
    draining: Recent,
    /// Blocks tried in a row since the last probe.
    since_probe: u32,
}

impl Policy {
    /// Starting from a sample's verdict: compressible data is tried at once, other data only
    /// after [`MAX_BACKOFF`] blocks.
    fn new(compressible: bool) -> Self {
        let backoff = if compressible { 0 } else { MAX_BACKOFF };
        Self {
            skip: backoff,
            backoff,
            compressed: (0, 0),
            compressing: Recent::new(WINDOW),
            draining: Recent::new(DRAIN_WINDOW),
            since_probe: 0,
        }
    }

    /// Whether to try the next block, given the writer's running totals of raw blocks: when
    /// no failed block says to wait, and compressing is faster than the connection takes raw
    /// blocks, but for a probe now and then (until both speeds are known, blocks are tried:
    /// the first probe measures the connection, and a file smaller than the socket's buffers,
    /// which take its raw blocks at once wherever the wire is, still goes compressed).
    fn should_try(&mut self, drained: (u64, u64)) -> bool {
        self.draining.mark(drained.0, drained.1);
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        let pays = match (self.compressing.rate(), self.draining.rate()) {
            (Some(compressing), Some(draining)) => compressing > draining,
            _ => true,
        };
        if !pays || self.since_probe + 1 >= PROBE {
            self.since_probe = 0;
            return false;
        }
        self.since_probe += 1;
        true
    }

    /// Learns whether a block of `len` file bytes tried shrank, and how long it took.
    fn tried(&mut self, shrank: bool, len: usize, started: Instant) {
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.compressed.0 += len as u64;
        self.compressed.1 += nanos.max(1);
        self.compressing.mark(self.compressed.0, self.compressed.1);
        if shrank {
            self.backoff = 0;
        } else {
            self.backoff = (self.backoff * 2).clamp(1, MAX_BACKOFF);
            self.skip = self.backoff;
        }
    }
}

/// Frames blocks, compressing the ones asked for when that shrinks them.
struct Encoder {
    compressor: Compressor<'static>,
    /// Where a block is compressed to; swapped with the block's buffer when kept.
    packed: Vec<u8>,
}

/// A buffer with room for a header and a block, raw or compressed.
fn block_buffer() -> Vec<u8> {
    vec![0u8; HEADER + zstd::zstd_safe::compress_bound(BLOCK).max(BLOCK)]
}

impl Encoder {
    fn new() -> io::Result<Self> {
        Ok(Self {
            compressor: Compressor::new(LEVEL)?,
            packed: block_buffer(),
        })
    }

    /// Turns `buffer`, whose `len` file bytes follow room for a header, into a whole block,
    /// compressed if `try_zstd` and it shrinks by 1/16 at least; returns its length on the
    /// wire and whether it was tried and shrank (`None`: not tried).
    fn seal(&mut self, buffer: &mut Vec<u8>, len: usize, try_zstd: bool) -> (usize, Option<bool>) {
        let mut shrank = None;
        if try_zstd {
            let worth = len - len / 16;
            let packed = self
                .compressor
                .compress_to_buffer(&buffer[HEADER..HEADER + len], &mut self.packed[HEADER..])
                .ok()
                .filter(|&wire| wire > 0 && wire < worth);
            shrank = Some(packed.is_some());
            if let Some(wire) = packed {
                std::mem::swap(buffer, &mut self.packed);
                return (self.frame(buffer, len, wire, true), shrank);
            }
        }
        (self.frame(buffer, len, len, false), shrank)
    }

    fn frame(&self, buffer: &mut [u8], len: usize, wire: usize, compressed: bool) -> usize {
        let header = Header {
            compressed,
            len: u32::try_from(len).unwrap_or(u32::MAX),
            wire: u32::try_from(wire).unwrap_or(u32::MAX),
        };
        buffer[..HEADER].copy_from_slice(&header.encode());
        HEADER + wire
    }
}

/// A block on its way from the compressing thread to the writing one.
struct Sealed {
    buffer: Vec<u8>,
    wire: usize,
    file: usize,
}

impl Sealed {
    fn raw(&self) -> bool {
        self.wire == self.file + HEADER
    }
}

/// Sends exactly `len` bytes of `source` to `sink` as blocks, compressing them while that
/// pays (see the module's text); `compressible` is the verdict of [`sample_ratio`]. `progress`
/// is told the file bytes written so far and returns false to stop; `meter` counts them and
/// their wire bytes. Errors are the pipeline's: the source's, the sink's, or a stop.
pub fn send_blocks(
    source: &mut (dyn Read + Send),
    sink: &mut dyn Write,
    len: u64,
    compressible: bool,
    progress: &mut dyn FnMut(u64) -> bool,
    meter: &WireMeter,
) -> Result<(), PipelineError> {
    let mut encoder = Encoder::new().map_err(|error| PipelineError::Sink { error, received: 0 })?;
    let drain = Drain::default();
    std::thread::scope(|scope| {
        let (to_write, sealed) = flume::bounded::<Sealed>(QUEUED);
        let (written, reusable) = flume::unbounded::<Vec<u8>>();
        let drain = &drain;
        let reading = scope.spawn(move || {
            let mut policy = Policy::new(compressible);
            let mut read = 0u64;
            let mut allocated = 0;
            while read < len {
                let mut buffer = match reusable.try_recv() {
                    Ok(buffer) => buffer,
                    Err(_) if allocated < QUEUED + 2 => {
                        allocated += 1;
                        block_buffer()
                    }
                    Err(_) => match reusable.recv() {
                        Ok(buffer) => buffer,
                        // The writer stopped: it has the reason.
                        Err(_) => return Ok(()),
                    },
                };
                let file = usize::try_from((len - read).min(BLOCK as u64)).unwrap_or(BLOCK);
                source.read_exact(&mut buffer[HEADER..HEADER + file])?;
                read += file as u64;
                let try_zstd = policy.should_try(drain.totals());
                let started = Instant::now();
                let (wire, shrank) = encoder.seal(&mut buffer, file, try_zstd);
                if let Some(shrank) = shrank {
                    policy.tried(shrank, file, started);
                }
                if to_write.send(Sealed { buffer, wire, file }).is_err() {
                    return Ok(());
                }
            }
            Ok::<(), io::Error>(())
        });
        let written_result = write_blocks(&sealed, &written, sink, progress, (meter, drain));
        drop(sealed);
        let read_result = reading
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the compressing thread stopped")));
        match (written_result, read_result) {
            (Ok(sent), Err(error))
            | (Err(PipelineError::Sink { received: sent, .. }), Err(error))
                if sent < len =>
            {
                Err(PipelineError::Source {
                    error,
                    received: sent,
                })
            }
            (result, _) => result.map(|_| ()),
        }
    })
}

/// Writes the blocks that come from `sealed` to `sink` until there are no more, handing each
/// buffer back on `written` and counting each on the meter and the drain; returns the file
/// bytes sent.
fn write_blocks(
    sealed: &flume::Receiver<Sealed>,
    written: &flume::Sender<Vec<u8>>,
    sink: &mut dyn Write,
    progress: &mut dyn FnMut(u64) -> bool,
    (meter, drain): (&WireMeter, &Drain),
) -> Result<u64, PipelineError> {
    let mut sent = 0u64;
    for block in sealed.iter() {
        let started = Instant::now();
        sink.write_all(&block.buffer[..block.wire])
            .map_err(|error| PipelineError::Sink {
                error,
                received: sent,
            })?;
        if block.raw() {
            drain.add(block.wire as u64, started);
        }
        sent += block.file as u64;
        meter.add(block.file as u64, block.wire as u64);
        let _ = written.send(block.buffer);
        if !progress(sent) {
            return Err(PipelineError::Stopped);
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Log-like text: compresses several times over.
    fn text(len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 100);
        let mut n = 0u64;
        while out.len() < len {
            out.extend_from_slice(
                format!(
                    "2025-01-01T10:{:02}:{:02} INFO request {n} served in {} ms\n",
                    n % 60,
                    n % 59,
                    n % 97
                )
                .as_bytes(),
            );
            n += 1;
        }
        out.truncate(len);
        out
    }

    /// Bytes that do not compress.
    fn noise(len: usize) -> Vec<u8> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect()
    }

    /// A sink that takes bytes at 20 MB/s, slower than any compressor (as a slow wire does).
    struct SlowSink(Vec<u8>);

    impl Write for SlowSink {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            std::thread::sleep(std::time::Duration::from_nanos(50 * bytes.len() as u64));
            self.0.extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn send(bytes: &[u8], compressible: bool) -> (Vec<u8>, WireBytes) {
        let meter = WireMeter::default();
        let mut sink = SlowSink(Vec::new());
        let sent = send_blocks(
            &mut &bytes[..],
            &mut sink,
            bytes.len() as u64,
            compressible,
            &mut |_| true,
            &meter,
        );
        assert!(sent.is_ok(), "{sent:?}");
        (sink.0, meter.read())
    }

    fn receive(wire: &[u8], len: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        BlockReader::new(wire, len as u64, None).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn text_round_trips_in_fewer_bytes() -> io::Result<()> {
        let bytes = text(16 * BLOCK + 12345);
        let ratio = sample_ratio(&mut io::Cursor::new(&bytes), 0, bytes.len() as u64)?;
        assert!(ratio < WORTH_IT, "{ratio}");
        let (wire, counted) = send(&bytes, true);
        assert_eq!(counted.file, bytes.len() as u64);
        assert_eq!(counted.wire, wire.len() as u64);
        assert!(
            wire.len() < bytes.len() / 2,
            "{} of {}",
            wire.len(),
            bytes.len()
        );
        assert_eq!(receive(&wire, bytes.len())?, bytes);
        Ok(())
    }

    #[test]
    fn text_goes_raw_into_a_sink_faster_than_the_compressor() -> io::Result<()> {
        // Memory takes bytes far faster than zstd makes them, as loopback does: compressing
        // would only slow the transfer (and take the receiver's CPU on one machine). The first
        // blocks go compressed until a raw one has measured the sink.
        let bytes = text(128 * BLOCK);
        let meter = WireMeter::default();
        let mut sink = Vec::new();
        let sent = send_blocks(
            &mut &bytes[..],
            &mut sink,
            bytes.len() as u64,
            true,
            &mut |_| true,
            &meter,
        );
        assert!(sent.is_ok(), "{sent:?}");
        assert!(
            sink.len() > bytes.len() * 3 / 4,
            "{} of {}",
            sink.len(),
            bytes.len()
        );
        assert_eq!(receive(&sink, bytes.len())?, bytes);
        Ok(())
    }

    #[test]
    fn noise_goes_raw() -> io::Result<()> {
        let bytes = noise(5 * BLOCK + 7);
        let ratio = sample_ratio(&mut io::Cursor::new(&bytes), 0, bytes.len() as u64)?;
        assert!(ratio > WORTH_IT, "{ratio}");
        for compressible in [true, false] {
            let (wire, _) = send(&bytes, compressible);
            assert_eq!(wire.len(), bytes.len() + 6 * HEADER);
            assert!(wire.chunks(HEADER + BLOCK).all(|block| block[0] == RAW));
            assert_eq!(receive(&wire, bytes.len())?, bytes);
        }
        Ok(())
    }

    #[test]
    fn a_mixed_file_compresses_its_text_only() -> io::Result<()> {
        let mut bytes = noise(8 * BLOCK);
        bytes.extend(text(40 * BLOCK));
        let (wire, _) = send(&bytes, true);
        assert_eq!(receive(&wire, bytes.len())?, bytes);
        // The noise goes raw; most of the text does not.
        assert!(wire.len() < 8 * BLOCK + 20 * BLOCK, "{}", wire.len());
        assert!(wire.len() > 8 * BLOCK, "{}", wire.len());
        Ok(())
    }

    fn block(kind: u8, len: u32, wire: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        out.extend(len.to_be_bytes());
        out.extend(wire.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    fn refused(wire: &[u8], len: usize) -> Option<BlockError> {
        let error = receive(wire, len).err()?;
        block_error(&error).cloned()
    }

    #[test]
    fn broken_blocks_are_refused_with_a_reason() {
        let four_gib = block(RAW, u32::MAX, u32::MAX, b"");
        assert_eq!(
            refused(&four_gib, usize::MAX),
            Some(BlockError::TooLarge(u32::MAX))
        );
        assert_eq!(
            refused(&block(7, 1, 1, b"x"), 1),
            Some(BlockError::UnknownKind(7))
        );
        assert_eq!(refused(&block(RAW, 0, 0, b""), 1), Some(BlockError::Empty));
        assert_eq!(
            refused(&block(RAW, 5, 5, b"hello"), 4),
            Some(BlockError::PastTheEnd { len: 5, left: 4 })
        );
        assert!(matches!(
            refused(&block(ZSTD, 100, 5, b"hello"), 100),
            Some(BlockError::Undecodable { .. })
        ));
        // A valid frame of more bytes than its block claims.
        let bigger = zstd::bulk::compress(&text(4096), LEVEL).unwrap_or_default();
        let claimed = u32::try_from(bigger.len() + 10).unwrap_or(u32::MAX);
        assert!(matches!(
            refused(&block(ZSTD, claimed, bigger.len() as u32, &bigger), 100_000),
            Some(BlockError::Undecodable { .. })
        ));
        // A cut stream is an early end, not damage.
        let cut = receive(&block(RAW, 10, 10, b"abc"), 10);
        assert!(matches!(cut, Err(e) if e.kind() == io::ErrorKind::UnexpectedEof));
    }

    #[test]
    fn a_stop_or_a_broken_sink_ends_sending() {
        let bytes = text(4 * BLOCK);
        let meter = WireMeter::default();
        let stopped = send_blocks(
            &mut &bytes[..],
            &mut Vec::new(),
            bytes.len() as u64,
            true,
            &mut |sent| sent < BLOCK as u64,
            &meter,
        );
        assert!(matches!(stopped, Err(PipelineError::Stopped)));
        let short = send_blocks(
            &mut &bytes[..BLOCK],
            &mut Vec::new(),
            bytes.len() as u64,
            true,
            &mut |_| true,
            &meter,
        );
        assert!(
            matches!(short, Err(PipelineError::Source { received, .. }) if received == BLOCK as u64)
        );
    }
}
