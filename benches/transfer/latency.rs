//! Offer latency: many joined watchers, one uploader; for each upload, the time from its last
//! byte leaving the uploader to the last watcher reading its `FILE_OFFER`. Everything is
//! encrypted, as lanshare participants are.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use lanshare::identity::Identity;
use lanshare::net::{LineReader, Stream};
use lanshare::participant::TransferConnection;
use lanshare::protocol::{ClientLine, HostLine, PROTOCOL_VERSION, UploadRequest};
use lanshare::tls::{self, Trust};

/// How long a watcher waits for each handshake line.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// A joined watcher's thread reports each offer it reads: (file id, when it was read).
type Arrival = (u64, Instant);

/// Joins `name` by hand over TLS (trusting the host at first contact, as a participant does),
/// then reads lines until the host closes, reporting each `FILE_OFFER`.
fn watch(host: SocketAddr, name: &str, arrivals: flume::Sender<Arrival>) -> io::Result<()> {
    let identity = Identity::generate()?;
    let tcp = TcpStream::connect(host)?;
    tcp.set_nodelay(true)?;
    let (tls, _) = tls::connect(tcp, Trust::FirstContact).map_err(io::Error::other)?;
    let tls = Arc::new(tls);
    let binding = tls.channel_binding()?;
    let mut reader = LineReader::new(Stream::Tls(Arc::clone(&tls)));
    let join = ClientLine::Join {
        version: PROTOCOL_VERSION,
        username: name.to_owned(),
        public_key: identity.public_key(),
    };
    (&*tls).write_all(join.encode().as_bytes())?;
    let line = |reader: &mut LineReader| -> io::Result<HostLine> {
        let line = reader
            .read_line(HANDSHAKE)
            .map_err(io::Error::other)?
            .ok_or_else(|| io::Error::other("host closed"))?;
        HostLine::parse(&line).map_err(io::Error::other)
    };
    let HostLine::Challenge { nonce } = line(&mut reader)? else {
        return Err(io::Error::other("expected CHALLENGE"));
    };
    let proof = ClientLine::Proof {
        signature: identity.answer_challenge(&nonce, Some(&binding)),
    };
    (&*tls).write_all(proof.encode().as_bytes())?;
    while line(&mut reader)? != HostLine::End {}
    // Joined: tell the benchmark (file id 0 is never a file's).
    let _ = arrivals.send((0, Instant::now()));
    loop {
        match reader.read_line(Duration::from_secs(3600)) {
            Ok(Some(line)) => {
                if let Ok(HostLine::FileOffer { file_id, .. }) = HostLine::parse(&line) {
                    let _ = arrivals.send((file_id, Instant::now()));
                }
            }
            _ => return Ok(()),
        }
    }
}

/// Watchers joined to a host, ready to report offers.
pub struct Watchers {
    arrived: flume::Receiver<Arrival>,
    count: usize,
}

impl Watchers {
    /// Joins `count` watchers to `host` and waits until all have their snapshot.
    pub fn join(host: SocketAddr, count: usize) -> io::Result<Self> {
        let (arrivals, arrived) = flume::unbounded();
        for index in 0..count {
            let arrivals = arrivals.clone();
            std::thread::Builder::new()
                .name(format!("watcher-{index}"))
                .stack_size(128 * 1024)
                .spawn(move || {
                    if let Err(error) = watch(host, &format!("watcher{index}"), arrivals) {
                        eprintln!("  watcher {index}: {error}");
                    }
                })?;
        }
        for _ in 0..count {
            match arrived.recv_timeout(Duration::from_secs(30)) {
                Ok((0, _)) => {}
                _ => return Err(io::Error::other("not every watcher could join")),
            }
        }
        Ok(Self { arrived, count })
    }

    /// Uploads `samples` files of `size` bytes one after another on one connection; returns,
    /// per upload, seconds from its last byte sent to the last watcher's `FILE_OFFER`.
    pub fn measure(&self, host: SocketAddr, size: usize, samples: usize) -> io::Result<Vec<f64>> {
        let mut connection = TransferConnection::connect(host).map_err(io::Error::other)?;
        let payload = vec![42u8; size];
        let mut early: HashMap<u64, Vec<Instant>> = HashMap::new();
        let mut latencies = Vec::with_capacity(samples);
        for index in 0..samples {
            let mut last_byte = Instant::now();
            let request = UploadRequest {
                client_id: 0,
                username: "uploader".into(),
                filename: format!("offer-{index}.bin"),
                size: size as u64,
            };
            let stored = connection
                .upload(
                    request,
                    &mut &payload[..],
                    &mut |sent| {
                        if sent == size as u64 {
                            last_byte = Instant::now();
                        }
                    },
                    &AtomicBool::new(false),
                )
                .map_err(io::Error::other)?;
            let mut seen = early.remove(&stored.file_id).unwrap_or_default();
            while seen.len() < self.count {
                let (file_id, at) = self
                    .arrived
                    .recv_timeout(Duration::from_secs(10))
                    .map_err(|_| io::Error::other("a watcher missed an offer"))?;
                if file_id == stored.file_id {
                    seen.push(at);
                } else {
                    early.entry(file_id).or_default().push(at);
                }
            }
            let last = seen.into_iter().max().unwrap_or(last_byte);
            latencies.push(last.saturating_duration_since(last_byte).as_secs_f64());
        }
        Ok(latencies)
    }
}
