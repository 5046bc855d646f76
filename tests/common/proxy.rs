//! A TCP proxy on loopback that forwards to a host, counts the bytes it forwards each way, and
//! cuts connections after a set number of bytes: a network that keeps dropping the link. It
//! may also pace the counted way: a wire slower than loopback.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which way the bytes counted for a cut flow.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// From the client to the host (an upload's bytes).
    ToHost,
    /// From the host to the client (a download's bytes).
    ToClient,
}

/// What a connection the proxy accepts is in for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// Forwarded until either side closes.
    Whole,
    /// Cut (both ways) once this many bytes have flowed the counted way.
    CutAfter(u64),
    /// Closed at once, as if the host were unreachable behind it.
    Dead,
}

/// The receive buffer of a paced connection's counted way.
const PACED_WINDOW: usize = 64 * 1024;

struct State {
    flow: Flow,
    /// What the next connections are in for, in order.
    plan: Mutex<VecDeque<Link>>,
    /// For every connection after the plan.
    afterwards: Link,
    to_host: AtomicU64,
    to_client: AtomicU64,
    cuts: AtomicU64,
    connections: AtomicU64,
    /// Bytes a second the counted way may carry; 0: as fast as loopback.
    pace: AtomicU64,
}

/// A running proxy; it runs until the test process ends.
pub struct CuttingProxy {
    address: SocketAddr,
    state: Arc<State>,
}

impl CuttingProxy {
    /// Forwards connections to `host`: the first ones as `plan` says, later ones as
    /// `afterwards` says; cuts count the bytes flowing `flow`.
    pub fn start(
        host: SocketAddr,
        flow: Flow,
        plan: Vec<Link>,
        afterwards: Link,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let state = Arc::new(State {
            flow,
            plan: Mutex::new(plan.into()),
            afterwards,
            to_host: AtomicU64::new(0),
            to_client: AtomicU64::new(0),
            cuts: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            pace: AtomicU64::new(0),
        });
        let accepting = Arc::clone(&state);
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let state = Arc::clone(&accepting);
                std::thread::spawn(move || forward(&state, client, host));
            }
        });
        Ok(Self { address, state })
    }

    /// Where clients connect.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Bytes forwarded from clients to the host so far.
    pub fn to_host(&self) -> u64 {
        self.state.to_host.load(Ordering::SeqCst)
    }

    /// Bytes forwarded from the host to clients so far.
    pub fn to_client(&self) -> u64 {
        self.state.to_client.load(Ordering::SeqCst)
    }

    /// Connections cut so far.
    pub fn cuts(&self) -> u64 {
        self.state.cuts.load(Ordering::SeqCst)
    }

    /// Carries at most `bytes_per_second` the counted way on connections accepted from now
    /// on, as a slower wire would.
    pub fn pace(self, bytes_per_second: u64) -> Self {
        self.state.pace.store(bytes_per_second, Ordering::SeqCst);
        self
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::SeqCst)
    }
}

fn forward(state: &Arc<State>, client: TcpStream, host: SocketAddr) {
    state.connections.fetch_add(1, Ordering::SeqCst);
    let link = state
        .plan
        .lock()
        .ok()
        .and_then(|mut plan| plan.pop_front())
        .unwrap_or(state.afterwards);
    if link == Link::Dead {
        return;
    }
    let Ok(upstream) = TcpStream::connect(host) else {
        return;
    };
    let limit = match link {
        Link::CutAfter(limit) => Some(limit),
        _ => None,
    };
    if state.pace.load(Ordering::SeqCst) > 0 {
        // A small window the paced way, so that the sender waits for the wire as it would on
        // a real one, instead of loopback's megabytes of buffers taking a whole file at once.
        let paced = match state.flow {
            Flow::ToHost => &client,
            Flow::ToClient => &upstream,
        };
        let _ = socket2::SockRef::from(paced).set_recv_buffer_size(PACED_WINDOW);
    }
    let (Ok(client_reader), Ok(upstream_reader)) = (client.try_clone(), upstream.try_clone())
    else {
        return;
    };
    let both = [client.try_clone().ok(), upstream.try_clone().ok()];
    let pumps = [
        (client_reader, upstream, Flow::ToHost),
        (upstream_reader, client, Flow::ToClient),
    ];
    std::thread::scope(|scope| {
        for (from, to, flow) in pumps {
            let limit = limit.filter(|_| flow == state.flow);
            let both = &both;
            scope.spawn(move || {
                if pump(state, from, &to, flow, limit) {
                    state.cuts.fetch_add(1, Ordering::SeqCst);
                    for stream in both.iter().flatten() {
                        let _ = stream.shutdown(Shutdown::Both);
                    }
                } else {
                    let _ = to.shutdown(Shutdown::Write);
                }
            });
        }
    });
}

/// Copies `from` to `to`, counting; returns true if it stopped because `limit` was reached.
fn pump(
    state: &State,
    mut from: TcpStream,
    mut to: &TcpStream,
    flow: Flow,
    limit: Option<u64>,
) -> bool {
    let counter = match flow {
        Flow::ToHost => &state.to_host,
        Flow::ToClient => &state.to_client,
    };
    let pace =
        Some(state.pace.load(Ordering::SeqCst)).filter(|&pace| pace > 0 && flow == state.flow);
    let started = Instant::now();
    let mut forwarded = 0u64;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let allowed = limit.map_or(buffer.len() as u64, |limit| {
            (limit - forwarded).min(buffer.len() as u64)
        });
        if allowed == 0 {
            return true;
        }
        let read = match from.read(&mut buffer[..allowed as usize]) {
            Ok(0) | Err(_) => return false,
            Ok(read) => read,
        };
        if to.write_all(&buffer[..read]).is_err() {
            return false;
        }
        forwarded += read as u64;
        counter.fetch_add(read as u64, Ordering::SeqCst);
        if let Some(pace) = pace {
            let due = started + Duration::from_secs_f64(forwarded as f64 / pace as f64);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
    }
}
