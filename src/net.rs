//! A connection's byte stream (plain TCP, or TLS over it), reading protocol lines and raw
//! bytes from it with deadlines, and sending files over it.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::protocol::MAX_LINE_BYTES;
use crate::tls::{BulkReads, TlsStream};

/// The bytes of one connection: the seed's plain text, or TLS 1.3. Clones share the connection
/// (a reading thread and a writing thread).
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Arc<TlsStream>),
}

impl Stream {
    /// The TCP stream underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(tcp) => tcp,
            Self::Tls(tls) => tls.tcp(),
        }
    }

    /// True for TLS.
    pub fn is_encrypted(&self) -> bool {
        matches!(self, Self::Tls(_))
    }

    /// The TLS connection's channel binding (see [`TlsStream::channel_binding`]); `None` in
    /// plain text.
    pub fn channel_binding(&self) -> Option<[u8; 32]> {
        match self {
            Self::Plain(_) => None,
            Self::Tls(tls) => tls.channel_binding().ok(),
        }
    }

    /// A second handle to the same connection.
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(match self {
            Self::Plain(tcp) => Self::Plain(tcp.try_clone()?),
            Self::Tls(tls) => Self::Tls(Arc::clone(tls)),
        })
    }

    /// For a transfer's bytes: a TLS stream reads its socket in bulk while the guard lives
    /// ([`TlsStream::bulk_reads`]); plain text needs nothing.
    pub fn bulk_reads(&self) -> Option<BulkReads<'_>> {
        match self {
            Self::Plain(_) => None,
            Self::Tls(tls) => Some(tls.bulk_reads()),
        }
    }

    /// Sets how long a read may wait.
    pub fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.tcp().set_read_timeout(Some(timeout))
    }

    /// Sets how long a write may wait for the peer to make room.
    pub fn set_write_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.tcp().set_write_timeout(Some(timeout))
    }

    /// Ends the writing side (after TLS's goodbye): the peer reads what was sent, then the end.
    pub fn close_write(&self) {
        match self {
            Self::Plain(tcp) => {
                let _ = tcp.shutdown(Shutdown::Write);
            }
            Self::Tls(tls) => tls.close_write(),
        }
    }

    /// Closes both ways at once: whatever waits on the connection stops.
    pub fn shutdown(&self) {
        let _ = self.tcp().shutdown(Shutdown::Both);
    }
}

impl Read for &Stream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => (&*tcp).read(out),
            Stream::Tls(tls) => (&**tls).read(out),
        }
    }
}

impl Write for &Stream {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => (&*tcp).write(bytes),
            Stream::Tls(tls) => (&**tls).write(bytes),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Why no line could be read.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// The peer closed the connection before sending a complete line.
    #[error("connection closed in the middle of a line")]
    Truncated,
    /// The line did not end within [`MAX_LINE_BYTES`].
    #[error("line too long (max {MAX_LINE_BYTES} bytes)")]
    TooLong,
    /// The deadline passed before the line ended.
    #[error("timed out waiting for a line")]
    TimedOut,
    /// Any other socket error.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Reads `\n`-ended lines and then raw bytes from a stream, in that order, without losing
/// bytes that arrived together with a line.
pub struct LineReader {
    stream: Stream,
    buffer: Box<[u8]>,
    start: usize,
    end: usize,
}

/// True for the error kinds a read timeout produces.
pub fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl LineReader {
    /// Wraps a connected stream.
    pub fn new(stream: Stream) -> Self {
        Self {
            stream,
            // A line is read into at most this much; raw bytes after it are read straight
            // from the stream. An idle connection costs no more.
            buffer: vec![0; MAX_LINE_BYTES].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    /// The underlying stream, for writing replies and setting options.
    pub fn stream(&self) -> &Stream {
        &self.stream
    }

    /// Reads one line (without its `\n`) that must be complete before `timeout` passes.
    /// Returns `Ok(None)` when the peer closed the connection cleanly before the line began.
    pub fn read_line(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, LineError> {
        let deadline = Instant::now() + timeout;
        let mut scanned = 0;
        loop {
            let pending = &self.buffer[self.start..self.end];
            if let Some(at) = pending[scanned..].iter().position(|&b| b == b'\n') {
                let line = pending[..scanned + at].to_vec();
                self.start += scanned + at + 1;
                return Ok(Some(line));
            }
            scanned = pending.len();
            if scanned >= MAX_LINE_BYTES {
                return Err(LineError::TooLong);
            }
            if self.start > 0 {
                self.buffer.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(LineError::TimedOut);
            }
            self.stream.set_read_timeout(remaining)?;
            match (&self.stream).read(&mut self.buffer[self.end..]) {
                Ok(0) if self.end == 0 => return Ok(None),
                Ok(0) => return Err(LineError::Truncated),
                Ok(read) => self.end += read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if is_timeout(&error) => return Err(LineError::TimedOut),
                Err(error) => return Err(LineError::Io(error)),
            }
        }
    }

    /// Sets how long a raw read may wait for bytes.
    pub fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)
    }
}

impl Read for LineReader {
    /// Serves bytes that arrived with the last line first, then reads the stream directly.
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.start < self.end {
            let count = out.len().min(self.end - self.start);
            out[..count].copy_from_slice(&self.buffer[self.start..self.start + count]);
            self.start += count;
            return Ok(count);
        }
        (&self.stream).read(out)
    }
}

/// Sends `len` bytes of `file`, from its current position, to `stream`; returns how many were
/// sent (fewer only if the file ended). In plain text on Linux the kernel copies them from the
/// page cache (`sendfile`); otherwise (TLS must seal them) they go through a buffer.
pub fn send_file(stream: &Stream, file: &mut File, len: u64) -> io::Result<u64> {
    match stream {
        Stream::Plain(tcp) => send_file_plain(tcp, file, len),
        Stream::Tls(_) => copy_file(stream, file, len),
    }
}

/// Bytes read from a file at a time when it cannot be sent with `sendfile`.
const COPY_BUFFER: usize = 256 * 1024;

fn copy_file(mut stream: &Stream, file: &mut File, len: u64) -> io::Result<u64> {
    let mut buffer = vec![0u8; COPY_BUFFER.min(usize::try_from(len).unwrap_or(COPY_BUFFER))];
    let mut sent = 0;
    while sent < len {
        let want = buffer
            .len()
            .min(usize::try_from(len - sent).unwrap_or(usize::MAX));
        let read = match file.read(&mut buffer[..want]) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        stream.write_all(&buffer[..read])?;
        sent += read as u64;
    }
    Ok(sent)
}

fn send_file_plain(stream: &TcpStream, file: &mut File, len: u64) -> io::Result<u64> {
    let mut sent = 0;
    while sent < len {
        let want = usize::try_from(len - sent).unwrap_or(usize::MAX);
        let moved = match send_from_file(stream, file, want) {
            Ok(0) => break,
            Ok(moved) => moved,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        sent += moved as u64;
    }
    Ok(sent)
}

#[cfg(target_os = "linux")]
fn send_from_file(stream: &TcpStream, file: &mut File, want: usize) -> io::Result<usize> {
    // At most 1 GiB per call: well inside what the kernel moves at once.
    Ok(rustix::fs::sendfile(
        stream,
        &*file,
        None,
        want.min(1 << 30),
    )?)
}

#[cfg(not(target_os = "linux"))]
fn send_from_file(mut stream: &TcpStream, file: &mut File, want: usize) -> io::Result<usize> {
    let mut buffer = vec![0u8; want.min(256 * 1024)];
    let read = file.read(&mut buffer)?;
    stream.write_all(&buffer[..read])?;
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn pair() -> io::Result<(TcpStream, LineReader)> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let client = TcpStream::connect(listener.local_addr()?)?;
        let (server, _) = listener.accept()?;
        Ok((client, LineReader::new(Stream::Plain(server))))
    }

    #[test]
    fn line_then_raw_bytes_arriving_together() -> anyhow::Result<()> {
        let (mut client, mut reader) = pair()?;
        client.write_all(b"UPLOAD:1:a:b:5\nhello")?;
        let line = reader.read_line(Duration::from_secs(5))?;
        assert_eq!(line.as_deref(), Some(&b"UPLOAD:1:a:b:5"[..]));
        let mut data = [0u8; 5];
        reader.read_exact(&mut data)?;
        assert_eq!(&data, b"hello");
        Ok(())
    }

    #[test]
    fn clean_close_truncation_and_overlong_lines() -> anyhow::Result<()> {
        let (client, mut reader) = pair()?;
        drop(client);
        assert!(matches!(reader.read_line(Duration::from_secs(5)), Ok(None)));

        let (mut client, mut reader) = pair()?;
        client.write_all(b"DOWNL")?;
        drop(client);
        assert!(matches!(
            reader.read_line(Duration::from_secs(5)),
            Err(LineError::Truncated)
        ));

        let (mut client, mut reader) = pair()?;
        client.write_all(&vec![b'x'; MAX_LINE_BYTES + 10])?;
        assert!(matches!(
            reader.read_line(Duration::from_secs(5)),
            Err(LineError::TooLong)
        ));
        Ok(())
    }

    #[test]
    fn send_file_sends_the_asked_range_and_stops_at_the_end() -> anyhow::Result<()> {
        use std::io::{Seek, SeekFrom};
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("data");
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &bytes)?;
        let (client, reader) = pair()?;
        let client = Stream::Plain(client);
        let mut file = File::open(&path)?;
        file.seek(SeekFrom::Start(1000))?;
        assert_eq!(send_file(&client, &mut file, 200_000)?, 200_000);
        assert_eq!(
            send_file(&client, &mut file, 200_000)?,
            99_000,
            "stops at the end"
        );
        drop(client);
        let mut received = Vec::new();
        (&reader.stream).read_to_end(&mut received)?;
        assert_eq!(received, bytes[1000..]);
        Ok(())
    }

    #[test]
    fn a_line_that_never_ends_times_out() -> anyhow::Result<()> {
        let (mut client, mut reader) = pair()?;
        client.write_all(b"DOWNLOAD:1")?;
        let started = Instant::now();
        assert!(matches!(
            reader.read_line(Duration::from_millis(200)),
            Err(LineError::TimedOut)
        ));
        assert!(started.elapsed() < Duration::from_secs(5));
        Ok(())
    }
}
