//! The baseline for encrypted transfers: a plain TLS 1.3 file copy with rustls, in this
//! process, over loopback, with lanshare's crypto provider and the server configuration a
//! lanshare host uses, so it negotiates the same cipher suite. Files are framed as in
//! [`crate::raw`] (a length, then the bytes) and copied in the same 128 KiB reads and writes;
//! nothing is hashed. rustls' own `StreamOwned` drives the connection on each side, over a
//! socket read through a 128 KiB buffer (rustls asks the socket for about 4 KiB at a time).

use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lanshare::tls::{HostIdentity, SERVER_NAME, Trust, client_config};
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};

use crate::raw::{self, COPY_BUFFER, ReceiverWork};
use crate::workload::SourceFile;

/// A TCP stream read through a buffer of [`COPY_BUFFER`] bytes and written directly.
struct BufferedSocket {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl BufferedSocket {
    fn new(tcp: TcpStream) -> io::Result<Self> {
        Ok(Self {
            reader: BufReader::with_capacity(COPY_BUFFER, tcp.try_clone()?),
            writer: tcp,
        })
    }
}

impl Read for BufferedSocket {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.reader.read(out)
    }
}

impl Write for BufferedSocket {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.writer.write(bytes)
    }

    fn write_vectored(&mut self, bytes: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.writer.write_vectored(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// A client connected to `address` with lanshare's participant's own TLS configuration (its
/// provider, TLS 1.3 only, the certificate accepted as at a first contact, the handshake's
/// signature checked), handshake done.
fn connect(address: SocketAddr) -> io::Result<StreamOwned<ClientConnection, BufferedSocket>> {
    let (config, _) = client_config(Trust::FirstContact).map_err(io::Error::other)?;
    let name = ServerName::try_from(SERVER_NAME).map_err(io::Error::other)?;
    let connection = ClientConnection::new(config, name).map_err(io::Error::other)?;
    let tcp = TcpStream::connect(address)?;
    let mut stream = StreamOwned::new(connection, BufferedSocket::new(tcp)?);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}

/// The cipher suite a connection negotiated, by its standard name.
fn suite_name(connection: &ClientConnection) -> String {
    connection
        .negotiated_cipher_suite()
        .map_or("none".into(), |suite| format!("{:?}", suite.suite()))
}

/// The cipher suite a running lanshare host negotiates with a client like lanshare's.
pub fn negotiated_with(host: SocketAddr) -> io::Result<String> {
    let mut stream = connect(host)?;
    let suite = suite_name(&stream.conn);
    stream.conn.send_close_notify();
    let _ = stream.flush();
    let _ = stream.sock.writer.shutdown(Shutdown::Both);
    Ok(suite)
}

/// Copies the files over a TLS connection on loopback, file to file, the receiver doing
/// `work` besides; returns the time from connecting (handshake included) until the receiver
/// has written the last byte, and the cipher suite negotiated.
pub fn loopback_copy(
    files: &[SourceFile],
    out_dir: &Path,
    work: ReceiverWork,
) -> io::Result<(Duration, String)> {
    std::fs::create_dir_all(out_dir)?;
    let server_config = HostIdentity::generate()
        .map_err(io::Error::other)?
        .server_config()
        .map_err(io::Error::other)?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let dir = out_dir.to_path_buf();
    let receiver = std::thread::spawn(move || -> io::Result<usize> {
        let (tcp, _) = listener.accept()?;
        let connection = rustls::ServerConnection::new(server_config).map_err(io::Error::other)?;
        let mut stream = StreamOwned::new(connection, BufferedSocket::new(tcp)?);
        raw::receive_files(&mut stream, &dir, work)
    });
    let paths: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    let started = Instant::now();
    let mut stream = connect(address)?;
    let suite = suite_name(&stream.conn);
    raw::send_files(&mut stream, &paths)?;
    stream.conn.send_close_notify();
    stream.flush()?;
    stream.sock.writer.shutdown(Shutdown::Write)?;
    let received = receiver
        .join()
        .map_err(|_| io::Error::other("receiver panicked"))??;
    let elapsed = started.elapsed();
    if received != files.len() {
        return Err(io::Error::other(format!(
            "{received} of {} files arrived",
            files.len()
        )));
    }
    raw::verify_copies(files, out_dir)?;
    Ok((elapsed, suite))
}
