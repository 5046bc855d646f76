//! A plain-text client of the seed's protocol, written here rather than taken from the
//! library (whose participant always encrypts): what a lanshare host serves to a client that
//! does not encrypt. One connection carries uploads and downloads one after another:
//!
//! - `UPLOAD:<client_id>:<username>:<filename>:<filesize>\n`, the host says `READY\n`, the
//!   bytes follow, the host says `STORED:<id>:…\n`;
//! - `DOWNLOAD:<id>\n`, the host says `FILE:<name>:<size>\n`, the client says `READY\n`, the
//!   bytes follow.
//!
//! Bytes move in the same 128 KiB reads and writes as the raw copies; nothing is hashed (the
//! benchmark checks what arrived afterwards, untimed).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;

use crate::raw::{COPY_BUFFER, copy_exact};
use crate::workload::SourceFile;

/// The client id of uploads from a client that never joined.
const UNJOINED: u64 = 0;

/// The name uploads go under: one nobody joined with (the command line's rows join as
/// `bench`, and a joined name is kept for its owner).
pub const USERNAME: &str = "lanes";

/// One plain-text connection to a lanshare host.
pub struct SeedConnection {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    buffer: Vec<u8>,
}

impl SeedConnection {
    /// Connects to `host` (with `TCP_NODELAY`, as lanshare's own client connects).
    pub fn connect(host: SocketAddr) -> io::Result<Self> {
        let writer = TcpStream::connect(host)?;
        writer.set_nodelay(true)?;
        let reader = BufReader::with_capacity(COPY_BUFFER, writer.try_clone()?);
        Ok(Self {
            writer,
            reader,
            buffer: vec![0u8; COPY_BUFFER],
        })
    }

    /// Reads the host's next line, without its `\n`; an `ERROR:` line is an error.
    fn read_line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the host closed the connection",
            ));
        }
        let line = line.trim_end_matches('\n').to_owned();
        match line.strip_prefix("ERROR:") {
            Some(reason) => Err(io::Error::other(format!("host: {reason}"))),
            None => Ok(line),
        }
    }

    /// Uploads `file` as [`USERNAME`]; returns the id the host gave it.
    pub fn upload(&mut self, file: &SourceFile) -> io::Result<u64> {
        let request = format!("UPLOAD:{UNJOINED}:{USERNAME}:{}:{}\n", file.name, file.size);
        self.writer.write_all(request.as_bytes())?;
        let ready = self.read_line()?;
        if ready != "READY" {
            return Err(io::Error::other(format!("expected READY, got {ready:?}")));
        }
        let mut source = File::open(&file.path)?;
        copy_exact(&mut source, &mut self.writer, file.size, &mut self.buffer)?;
        let stored = self.read_line()?;
        stored
            .strip_prefix("STORED:")
            .and_then(|rest| rest.split(':').next())
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| io::Error::other(format!("expected STORED, got {stored:?}")))
    }

    /// Downloads file `id` into `out` (created or replaced).
    pub fn download(&mut self, id: u64, out: &Path) -> io::Result<()> {
        self.writer
            .write_all(format!("DOWNLOAD:{id}\n").as_bytes())?;
        let announced = self.read_line()?;
        let size = announced
            .strip_prefix("FILE:")
            .and_then(|rest| rest.rsplit_once(':'))
            .and_then(|(_, size)| size.parse::<u64>().ok())
            .ok_or_else(|| io::Error::other(format!("expected FILE, got {announced:?}")))?;
        self.writer.write_all(b"READY\n")?;
        let mut sink = File::create(out)?;
        copy_exact(&mut self.reader, &mut sink, size, &mut self.buffer)
    }
}
