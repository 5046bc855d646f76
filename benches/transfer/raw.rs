//! The baselines that set the limit: plain TCP copies with nothing on top (no protocol, no
//! hashing), measured on the same machine in the same run.
//!
//! Files travel over one connection, each as an 8-byte length and its bytes, in 128 KiB
//! reads and writes; the receiver writes each into a file of its own. The same code runs
//! in-process on loopback and, for the shaped link, as two processes in two network
//! namespaces (see [`serve_once`] and [`send_to`]).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::workload::{SourceFile, StartLine};

/// Buffer of each read and write in the raw copies (the 128 KiB).
pub const COPY_BUFFER: usize = 128 * 1024;

/// Sends the files over `stream`: for each, its length (8 bytes, little-endian) and bytes.
/// The caller closes the stream after.
pub fn send_files(stream: &mut impl Write, files: &[PathBuf]) -> io::Result<()> {
    let mut buffer = vec![0u8; COPY_BUFFER];
    for path in files {
        let mut file = File::open(path)?;
        let size = file.metadata()?.len();
        stream.write_all(&size.to_le_bytes())?;
        copy_exact(&mut file, stream, size, &mut buffer)?;
    }
    stream.flush()
}

/// Sends the files over a TCP stream with [`send_files`], then closes its writing side.
fn send_files_then_close(mut stream: &TcpStream, files: &[PathBuf]) -> io::Result<()> {
    send_files(&mut stream, files)?;
    stream.shutdown(std::net::Shutdown::Write)
}

/// What a receiving copy does besides writing each file: nothing (the baselines proper), or
/// the work a lanshare receiver cannot skip, to show what that work costs on this machine.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReceiverWork {
    /// Computes each file's SHA-256 while it arrives, on a second thread, as a host does for
    /// every upload (with lanshare's own pipeline).
    pub sha256: bool,
    /// Syncs each file to the disk before it counts, as the disk store and `lanshare get` do.
    pub sync: bool,
}

/// Receives files sent by [`send_files`] into `dir` (as `0`, `1`, …) until the sender
/// closes, doing `work` on each; returns how many arrived.
pub fn receive_files(stream: &mut impl Read, dir: &Path, work: ReceiverWork) -> io::Result<usize> {
    let mut buffer = vec![0u8; COPY_BUFFER];
    let mut count = 0;
    loop {
        let mut length = [0u8; 8];
        match read_full(stream, &mut length)? {
            0 => return Ok(count),
            8 => {}
            _ => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "cut length")),
        }
        let size = u64::from_le_bytes(length);
        let mut out = File::create(dir.join(count.to_string()))?;
        if work.sha256 {
            lanshare::pipeline::copy_hashing(Sha256::new(), stream, &mut out, size, &mut |_| true)
                .map_err(io::Error::other)?;
        } else {
            copy_exact(stream, &mut out, size, &mut buffer)?;
        }
        if work.sync {
            out.sync_all()?;
        }
        count += 1;
    }
}

/// Copies exactly `size` bytes from `from` to `to` through `buffer`.
pub fn copy_exact(
    from: &mut impl Read,
    to: &mut impl Write,
    size: u64,
    buffer: &mut [u8],
) -> io::Result<()> {
    let mut left = size;
    while left > 0 {
        let want = usize::try_from(left.min(buffer.len() as u64)).unwrap_or(buffer.len());
        let read = from.read(&mut buffer[..want])?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "copy cut short",
            ));
        }
        to.write_all(&buffer[..read])?;
        left -= read as u64;
    }
    Ok(())
}

/// Fills `out` unless the stream ends first; returns the bytes read.
fn read_full(stream: &mut impl Read, out: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < out.len() {
        match stream.read(&mut out[filled..])? {
            0 => break,
            read => filled += read,
        }
    }
    Ok(filled)
}

/// Copies the files over loopback, file to file, in this process; returns the time from
/// connecting until the receiver has written the last byte.
pub fn loopback_copy(files: &[SourceFile], out_dir: &Path) -> io::Result<Duration> {
    std::fs::create_dir_all(out_dir)?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let dir = out_dir.to_path_buf();
    let expected = files.len();
    let receiver = std::thread::spawn(move || -> io::Result<usize> {
        let (stream, _) = listener.accept()?;
        receive_files(&mut &stream, &dir, ReceiverWork::default())
    });
    let paths: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    let started = Instant::now();
    let stream = TcpStream::connect(address)?;
    send_files_then_close(&stream, &paths)?;
    let received = receiver
        .join()
        .map_err(|_| io::Error::other("receiver panicked"))??;
    let elapsed = started.elapsed();
    if received != expected {
        return Err(io::Error::other(format!(
            "{received} of {expected} files arrived"
        )));
    }
    verify_copies(files, out_dir)?;
    Ok(elapsed)
}

/// Checks that `dir/0`, `dir/1`, … hold the files' bytes, then removes them.
pub fn verify_copies(files: &[SourceFile], dir: &Path) -> io::Result<()> {
    for (index, file) in files.iter().enumerate() {
        let copy = dir.join(index.to_string());
        if crate::workload::sha256_file(&copy)? != file.sha256 {
            return Err(io::Error::other(format!("{} arrived damaged", file.name)));
        }
        std::fs::remove_file(copy)?;
    }
    Ok(())
}

/// Helper mode (in a network namespace): listens on `bind`, prints `listening`, receives
/// one connection's files into `dir`, prints how many, and returns.
pub fn serve_once(bind: SocketAddr, dir: &Path) -> io::Result<()> {
    let listener = TcpListener::bind(bind)?;
    println!("listening");
    io::stdout().flush()?;
    let (stream, _) = listener.accept()?;
    let count = receive_files(&mut &stream, dir, ReceiverWork::default())?;
    println!("received {count}");
    Ok(())
}

/// Helper mode (in a network namespace): sends the files to `address`.
pub fn send_to(address: SocketAddr, files: &[PathBuf]) -> io::Result<()> {
    let stream = TcpStream::connect(address)?;
    send_files_then_close(&stream, files)?;
    // Wait for the receiver to close, so the copy is complete when this process exits.
    let mut rest = Vec::new();
    (&stream).read_to_end(&mut rest)?;
    Ok(())
}

/// Times a raw copy between two commands that run this program's helper modes (each
/// wrapped, e.g. in `ip netns exec`): `receiver` must print `listening` when ready.
pub fn timed_between(mut receiver: Command, mut sender: Command) -> io::Result<Duration> {
    let mut receiving = receiver.stdout(Stdio::piped()).spawn()?;
    let stdout = receiving
        .stdout
        .take()
        .ok_or_else(|| io::Error::other("receiver has no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    match lines.next() {
        Some(Ok(line)) if line == "listening" => {}
        other => {
            let _ = receiving.kill();
            let _ = receiving.wait();
            return Err(io::Error::other(format!(
                "raw receiver did not start: {other:?}"
            )));
        }
    }
    let started = Instant::now();
    let sent = sender.stdout(Stdio::null()).status()?;
    let received = receiving.wait()?;
    let elapsed = started.elapsed();
    if !sent.success() || !received.success() {
        return Err(io::Error::other("raw copy between namespaces failed"));
    }
    Ok(elapsed)
}

/// `count` simultaneous copies of `bytes` over loopback, memory to memory; returns the time
/// until the last receiver holds all its bytes.
pub fn parallel_memory_copies(count: usize, bytes: &Arc<Vec<u8>>) -> io::Result<Duration> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let size = bytes.len();
    let acceptor =
        std::thread::spawn(move || -> io::Result<Vec<std::thread::JoinHandle<usize>>> {
            let mut receivers = Vec::with_capacity(count);
            for _ in 0..count {
                let (mut stream, _) = listener.accept()?;
                receivers.push(std::thread::spawn(move || {
                    let mut stored = Vec::with_capacity(size);
                    let _ = stream.read_to_end(&mut stored);
                    stored.len()
                }));
            }
            Ok(receivers)
        });
    let start = StartLine::new(count + 1);
    let senders: Vec<_> = (0..count)
        .map(|_| {
            let start = Arc::clone(&start);
            let bytes = Arc::clone(bytes);
            std::thread::spawn(move || -> io::Result<()> {
                let mut stream = TcpStream::connect(address)?;
                start.wait();
                for chunk in bytes.chunks(COPY_BUFFER) {
                    stream.write_all(chunk)?;
                }
                Ok(())
            })
        })
        .collect();
    start.wait();
    let fallback = Instant::now();
    for sender in senders {
        sender
            .join()
            .map_err(|_| io::Error::other("sender panicked"))??;
    }
    let receivers = acceptor
        .join()
        .map_err(|_| io::Error::other("acceptor panicked"))??;
    for receiver in receivers {
        let received = receiver
            .join()
            .map_err(|_| io::Error::other("receiver panicked"))?;
        if received != size {
            return Err(io::Error::other(format!("{received} of {size} bytes")));
        }
    }
    Ok(start.opened_or(fallback).elapsed())
}

/// The floor for offer latency: a relay that, each time `message` bytes arrive from one
/// sender, writes a short line to each of `watchers` sockets. Returns, per message, the
/// seconds from the sender's last byte to the last watcher's line.
pub fn fanout_latency(watchers: usize, message: usize, samples: usize) -> io::Result<Vec<f64>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let relay = std::thread::spawn(move || -> io::Result<()> {
        let (mut source, _) = listener.accept()?;
        source.set_nodelay(true)?;
        let mut sinks = Vec::with_capacity(watchers);
        for _ in 0..watchers {
            let (sink, _) = listener.accept()?;
            sink.set_nodelay(true)?;
            sinks.push(sink);
        }
        let mut buffer = vec![0u8; message];
        for index in 0..samples {
            source.read_exact(&mut buffer)?;
            let line = format!("OFFER:{index}\n");
            for mut sink in &sinks {
                sink.write_all(line.as_bytes())?;
            }
        }
        Ok(())
    });
    let mut source = TcpStream::connect(address)?;
    source.set_nodelay(true)?;
    let (arrivals, arrived) = flume::unbounded::<(usize, Instant)>();
    let mut readers = Vec::with_capacity(watchers);
    for _ in 0..watchers {
        let stream = TcpStream::connect(address)?;
        stream.set_nodelay(true)?;
        let arrivals = arrivals.clone();
        readers.push(std::thread::spawn(move || {
            let mut lines = BufReader::new(stream).lines();
            let mut index = 0;
            while let Some(Ok(_)) = lines.next() {
                let _ = arrivals.send((index, Instant::now()));
                index += 1;
            }
        }));
    }
    drop(arrivals);
    let payload = vec![7u8; message];
    let mut latencies = Vec::with_capacity(samples);
    for index in 0..samples {
        source.write_all(&payload)?;
        let sent = Instant::now();
        let mut last = sent;
        for _ in 0..watchers {
            let (line, at) = arrived
                .recv_timeout(Duration::from_secs(10))
                .map_err(|_| io::Error::other("a watcher missed a line"))?;
            if line != index {
                return Err(io::Error::other("lines out of order"));
            }
            last = last.max(at);
        }
        latencies.push(last.duration_since(sent).as_secs_f64());
    }
    drop(source);
    relay
        .join()
        .map_err(|_| io::Error::other("relay panicked"))??;
    for reader in readers {
        let _ = reader.join();
    }
    Ok(latencies)
}
