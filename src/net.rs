//! Reading protocol lines and raw bytes from one TCP stream, with deadlines; sending files.

use std::fs::File;
use std::io::{self, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::protocol::MAX_LINE_BYTES;

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
    stream: TcpStream,
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
    pub fn new(stream: TcpStream) -> Self {
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
    pub fn stream(&self) -> &TcpStream {
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
            self.stream.set_read_timeout(Some(remaining))?;
            match self.stream.read(&mut self.buffer[self.end..]) {
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
        self.stream.set_read_timeout(Some(timeout))
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
        self.stream.read(out)
    }
}

/// Sends `len` bytes of `file`, from its current position, to `stream`; returns how many were
/// sent (fewer only if the file ended). On Linux the kernel copies them from the page cache
/// (`sendfile`); elsewhere they go through a buffer.
pub fn send_file(stream: &TcpStream, file: &mut File, len: u64) -> io::Result<u64> {
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
    use std::io::Write;
    let mut buffer = vec![0u8; want.min(256 * 1024)];
    let read = file.read(&mut buffer)?;
    stream.write_all(&buffer[..read])?;
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    fn pair() -> io::Result<(TcpStream, LineReader)> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let client = TcpStream::connect(listener.local_addr()?)?;
        let (server, _) = listener.accept()?;
        Ok((client, LineReader::new(server)))
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
        let mut stream = reader.stream;
        stream.read_to_end(&mut received)?;
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
