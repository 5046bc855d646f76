//! Many files over several connections at once ("lanes"), in this process, with either the
//! seed's plain text ([`crate::seed`]) or the library's encrypted `TransferConnection`: the
//! same files, the same lane count and the same host, so that the two differ only in the
//! encryption. Files are dealt round-robin, as the `lanshare` command line deals them; each
//! lane connects (and, encrypted, runs its handshake) inside the timed span.

use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use lanshare::participant::TransferConnection;
use lanshare::protocol::UploadRequest;

use crate::seed::SeedConnection;
use crate::workload::SourceFile;

/// How a lane talks to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// The seed's plain-text protocol, by [`SeedConnection`].
    Plain,
    /// TLS, by the library's `TransferConnection` (the code the command line runs).
    Encrypted,
}

impl Client {
    /// `plain` or `tls`, for result keys.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Encrypted => "tls",
        }
    }
}

/// One lane's connection.
enum LaneConnection {
    Plain(SeedConnection),
    Encrypted(Box<TransferConnection>),
}

impl LaneConnection {
    fn open(host: SocketAddr, client: Client) -> io::Result<Self> {
        Ok(match client {
            Client::Plain => Self::Plain(SeedConnection::connect(host)?),
            Client::Encrypted => Self::Encrypted(Box::new(
                TransferConnection::connect(host).map_err(io::Error::other)?,
            )),
        })
    }

    /// Uploads `file`; returns the id the host gave it.
    fn upload(&mut self, file: &SourceFile) -> io::Result<u64> {
        match self {
            Self::Plain(connection) => connection.upload(file),
            Self::Encrypted(connection) => {
                let request = UploadRequest {
                    client_id: 0,
                    username: crate::seed::USERNAME.into(),
                    filename: file.name.clone(),
                    size: file.size,
                };
                connection
                    .upload_file(request, &file.path, &mut |_| {}, &AtomicBool::new(false))
                    .map(|stored| stored.file_id)
                    .map_err(io::Error::other)
            }
        }
    }

    /// Downloads file `id` into `out`.
    fn download(&mut self, id: u64, out: &Path) -> io::Result<()> {
        match self {
            Self::Plain(connection) => connection.download(id, out),
            Self::Encrypted(connection) => {
                let mut sink = File::create(out)?;
                connection
                    .download(id, &mut sink, &mut |_| {}, &AtomicBool::new(false))
                    .map(|_| ())
                    .map_err(io::Error::other)
            }
        }
    }
}

/// Runs `work` on every item, dealt round-robin into `lanes` connections that run at once;
/// returns the time from the first connection to the last item's end, and the results in the
/// items' order.
fn in_lanes<I: Sync, T: Send>(
    host: SocketAddr,
    client: Client,
    items: &[I],
    lanes: usize,
    work: impl Fn(&mut LaneConnection, &I) -> io::Result<T> + Sync,
) -> io::Result<(Duration, Vec<T>)> {
    let lanes = lanes.clamp(1, items.len().max(1));
    let started = Instant::now();
    let per_lane: Vec<io::Result<Vec<T>>> = std::thread::scope(|scope| {
        let running: Vec<_> = (0..lanes)
            .map(|lane| {
                let work = &work;
                scope.spawn(move || {
                    let mut connection = LaneConnection::open(host, client)?;
                    items
                        .iter()
                        .skip(lane)
                        .step_by(lanes)
                        .map(|item| work(&mut connection, item))
                        .collect()
                })
            })
            .collect();
        running
            .into_iter()
            .map(|lane| {
                lane.join()
                    .unwrap_or_else(|_| Err(io::Error::other("a lane panicked")))
            })
            .collect()
    });
    let elapsed = started.elapsed();
    let mut lanes_results = per_lane
        .into_iter()
        .map(|lane| lane.map(Vec::into_iter))
        .collect::<io::Result<Vec<_>>>()?;
    // Deal the results back in the order the items were dealt.
    let mut results = Vec::with_capacity(items.len());
    for index in 0..items.len() {
        let next = lanes_results[index % lanes].next();
        results.push(next.ok_or_else(|| io::Error::other("a lane lost a result"))?);
    }
    Ok((elapsed, results))
}

/// Uploads the files in `lanes` lanes; returns the time it took and the ids, in file order.
pub fn upload_all(
    host: SocketAddr,
    client: Client,
    files: &[SourceFile],
    lanes: usize,
) -> io::Result<(Duration, Vec<u64>)> {
    in_lanes(host, client, files, lanes, |connection, file| {
        connection.upload(file)
    })
}

/// Downloads the ids into `dir` (each as `dir/ID`) in `lanes` lanes; returns the time it took.
pub fn download_all(
    host: SocketAddr,
    client: Client,
    ids: &[u64],
    dir: &Path,
    lanes: usize,
) -> io::Result<Duration> {
    std::fs::create_dir_all(dir)?;
    in_lanes(host, client, ids, lanes, |connection, id| {
        connection.download(*id, &dir.join(id.to_string()))
    })
    .map(|(elapsed, _)| elapsed)
}

/// Checks that `dir/ID` holds each file's bytes (ids in file order), then removes `dir`.
pub fn verify_downloads(files: &[SourceFile], ids: &[u64], dir: &Path) -> io::Result<()> {
    for (file, id) in files.iter().zip(ids) {
        if crate::workload::sha256_file(&dir.join(id.to_string()))? != file.sha256 {
            return Err(io::Error::other(format!("{} arrived damaged", file.name)));
        }
    }
    std::fs::remove_dir_all(dir)
}
