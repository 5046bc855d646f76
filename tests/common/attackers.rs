//! The crowd of addresses a host must not be locked out, filled up or worn down by (issue 12),
//! as attackers that the soak runs beside its participants and the join-flood test runs alone:
//! idle connections held and re-opened, uploads that trickle, passcode guesses and joins with
//! fresh keys, each from many loopback addresses (127.x.y.z, bound with socket2). Every attacker
//! counts what the host did to it in an [`Outcomes`].

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use super::{Raw, raw_pake};
use lanshare::identity::Identity;

/// The `n`th address of the block 127.`block`.x.y (250 to each x, y from 1).
pub fn source_address(block: u8, n: usize) -> [u8; 4] {
    [127, block, (n / 250 % 256) as u8, (n % 250 + 1) as u8]
}

/// What happened to one kind of attacker, counted by outcome.
#[derive(Default)]
pub struct Outcomes(Mutex<BTreeMap<String, u64>>);

impl Outcomes {
    /// Counts one `outcome`.
    pub fn add(&self, outcome: &str) {
        if let Ok(mut counts) = self.0.lock() {
            *counts.entry(outcome.to_owned()).or_default() += 1;
        }
    }

    /// How many times `outcome` happened.
    pub fn get(&self, outcome: &str) -> u64 {
        self.0
            .lock()
            .map(|counts| counts.get(outcome).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Every outcome with its count, largest first: `"opened 120, shed 80"`.
    pub fn summary(&self) -> String {
        let Ok(counts) = self.0.lock() else {
            return String::new();
        };
        let mut sorted: Vec<_> = counts.iter().collect();
        sorted.sort_by(|a, b| b.1.cmp(a.1));
        sorted
            .iter()
            .map(|(outcome, count)| format!("{outcome} {count}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What a host's reply (or silent close, `""`) to an attacker means.
pub fn classify(reply: &str) -> String {
    let reply = reply.trim_end();
    let known = [
        (
            "ERROR:Host is busy: this connection sent no command",
            "shed to make room",
        ),
        ("ERROR:Timed out", "timed out"),
        ("ERROR:Stopped to make way", "stopped to make way"),
        ("ERROR:Host storage is full", "told the store was full"),
        ("ERROR:Host is busy", "told the host was busy"),
        ("ERROR:Too many connections", "over the per-address cap"),
        ("ERROR:Wrong passcode", "guess checked (wrong)"),
        (
            "ERROR:Too many wrong passcodes",
            "guess turned away unchecked",
        ),
    ];
    if reply.is_empty() {
        return "closed without a word".to_owned();
    }
    known
        .iter()
        .find(|(prefix, _)| reply.starts_with(prefix))
        .map_or_else(
            || format!("other: {}", reply.chars().take(60).collect::<String>()),
            |(_, outcome)| (*outcome).to_owned(),
        )
}

/// A connection from `source`, not waiting for the TCP handshake to finish.
fn connect_without_waiting(source: [u8; 4], host: SocketAddr) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::from((source, 0)).into())?;
    match socket.connect(&host.into()) {
        Err(error) if error.raw_os_error() != Some(115) => Err(error), // EINPROGRESS
        _ => Ok(socket),
    }
}

/// What a non-blocking read found: nothing yet, or the host's words (`""`: it closed).
fn poll_reply(socket: &mut impl Read) -> Option<String> {
    let mut buffer = [0u8; 512];
    match socket.read(&mut buffer) {
        Ok(read) => Some(String::from_utf8_lossy(&buffer[..read]).into_owned()),
        Err(error) if error.kind() == ErrorKind::WouldBlock => None,
        Err(error) if error.raw_os_error() == Some(107) => None, // ENOTCONN: still connecting
        Err(_) => Some(String::new()),
    }
}

/// One connection of an idle flood: open, or waiting to be opened again.
struct Held {
    source: [u8; 4],
    socket: Option<Socket>,
    reopen_at: Instant,
}

/// How long an idle flood waits before opening again a connection the host closed.
const REOPEN_AFTER: Duration = Duration::from_secs(1);

/// Keeps `per_source` connections that never say anything open from each of `sources` (one
/// thread, non-blocking sockets), opening each again a second after the host closed it, until
/// `stop`. Counts `opened` and what ended each.
pub fn idle_flood(
    host: SocketAddr,
    sources: &[[u8; 4]],
    per_source: usize,
    stop: &AtomicBool,
    outcomes: &Outcomes,
) {
    let now = Instant::now();
    let mut held: Vec<Held> = sources
        .iter()
        .flat_map(|source| std::iter::repeat_n(*source, per_source))
        .map(|source| Held {
            source,
            socket: None,
            reopen_at: now,
        })
        .collect();
    while !stop.load(Ordering::Relaxed) {
        for connection in &mut held {
            if let Some(socket) = connection.socket.as_mut() {
                if let Some(reply) = poll_reply(socket) {
                    outcomes.add(&classify(&reply));
                    connection.socket = None;
                    connection.reopen_at = Instant::now() + REOPEN_AFTER;
                }
            } else if connection.reopen_at <= Instant::now() {
                connection.socket = connect_without_waiting(connection.source, host).ok();
                connection.reopen_at = Instant::now() + REOPEN_AFTER;
                outcomes.add(if connection.socket.is_some() {
                    "opened"
                } else {
                    "could not open"
                });
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A trickling upload's state.
enum Trickle {
    /// Waiting to start (again).
    Waiting { from: Instant },
    /// Connecting: the upload line goes out once the socket is connected.
    Connecting { socket: Socket, since: Instant },
    /// The upload line went out; waiting for `READY`.
    Announced { socket: Socket, since: Instant },
    /// Dripping bytes.
    Dripping { socket: Socket },
}

/// What a trickler sends each [`DRIP_EVERY`]: 5 KiB/s, above the host's 4 KiB/s minimum pace.
const DRIP: [u8; 1024] = [b'x'; 1024];
const DRIP_EVERY: Duration = Duration::from_millis(200);
/// How long a trickler waits for the TCP handshake or for `READY` before starting over.
const TRICKLE_PATIENCE: Duration = Duration::from_secs(15);

/// Moves one trickling upload on by a tick.
fn step(
    state: Trickle,
    line: &[u8],
    source: [u8; 4],
    host: SocketAddr,
    outcomes: &Outcomes,
) -> Trickle {
    let again = || Trickle::Waiting {
        from: Instant::now() + DRIP_EVERY,
    };
    match state {
        Trickle::Waiting { from } if from > Instant::now() => state,
        Trickle::Waiting { .. } => match connect_without_waiting(source, host) {
            Ok(socket) => Trickle::Connecting {
                socket,
                since: Instant::now(),
            },
            Err(_) => again(),
        },
        Trickle::Connecting { socket, since } => match (&socket).write(line) {
            Ok(written) if written == line.len() => Trickle::Announced {
                socket,
                since: Instant::now(),
            },
            Err(error)
                if error.kind() == ErrorKind::WouldBlock || error.raw_os_error() == Some(107) =>
            {
                if since.elapsed() < TRICKLE_PATIENCE {
                    Trickle::Connecting { socket, since }
                } else {
                    again()
                }
            }
            _ => again(),
        },
        Trickle::Announced { mut socket, since } => match poll_reply(&mut socket) {
            Some(reply) if reply.starts_with("READY\n") => {
                outcomes.add("started (READY)");
                Trickle::Dripping { socket }
            }
            Some(reply) => {
                outcomes.add(&classify(&reply));
                again()
            }
            None if since.elapsed() < TRICKLE_PATIENCE => Trickle::Announced { socket, since },
            None => again(),
        },
        Trickle::Dripping { mut socket } => match poll_reply(&mut socket) {
            Some(reply) => {
                outcomes.add(&classify(&reply));
                again()
            }
            None => match (&socket).write(&DRIP) {
                Ok(_) => Trickle::Dripping { socket },
                Err(error) if error.kind() == ErrorKind::WouldBlock => Trickle::Dripping { socket },
                Err(_) => {
                    outcomes.add("cut off while writing");
                    again()
                }
            },
        },
    }
}

/// Uploads announcing `size` bytes, one from each of `sources`, that then trickle at 5 KiB/s,
/// starting over whenever the host refuses or stops them, until `stop` (one thread,
/// non-blocking sockets). Counts `started (READY)` and what ended each.
pub fn tricklers(
    host: SocketAddr,
    sources: &[[u8; 4]],
    size: u64,
    stop: &AtomicBool,
    outcomes: &Outcomes,
) {
    let mut uploads: Vec<([u8; 4], Vec<u8>, Trickle)> = sources
        .iter()
        .enumerate()
        .map(|(n, source)| {
            let line = format!("UPLOAD:0:mallory:trickle-{n}.bin:{size}\n").into_bytes();
            let state = Trickle::Waiting {
                from: Instant::now(),
            };
            (*source, line, state)
        })
        .collect();
    while !stop.load(Ordering::Relaxed) {
        for (source, line, state) in &mut uploads {
            let current = std::mem::replace(
                state,
                Trickle::Waiting {
                    from: Instant::now(),
                },
            );
            *state = step(current, line, *source, host, outcomes);
        }
        std::thread::sleep(DRIP_EVERY);
    }
}

/// A TLS connection from `source` (the TCP handshake given 5 s).
fn tls_from(source: [u8; 4], host: SocketAddr) -> anyhow::Result<Raw> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.bind(&SocketAddr::from((source, 0)).into())?;
    socket.connect_timeout(&host.into(), Duration::from_secs(5))?;
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    Raw::secure(stream)
}

/// Joins `host` from `source` as `name` with a key of its own, made now, and leaves at once.
pub fn join_with_a_fresh_key(source: [u8; 4], host: SocketAddr, name: &str) -> anyhow::Result<()> {
    let mut raw = tls_from(source, host)?;
    join_on(&mut raw, name, &Identity::generate()?)
}

/// Joins on an encrypted `raw` connection, the challenge signed with its channel binding,
/// and reads the snapshot up to `END`.
fn join_on(raw: &mut Raw, name: &str, identity: &Identity) -> anyhow::Result<()> {
    use lanshare::protocol::{ClientLine, HostLine, PROTOCOL_VERSION};
    let join = ClientLine::Join {
        version: PROTOCOL_VERSION,
        username: name.into(),
        public_key: identity.public_key(),
    };
    raw.send(join.encode().as_bytes())?;
    let line = raw.line()?;
    let HostLine::Challenge { nonce } = HostLine::parse(line.as_bytes())? else {
        anyhow::bail!("expected a challenge, got {line}");
    };
    let binding = raw.channel_binding()?;
    let proof = ClientLine::Proof {
        signature: identity.answer_challenge(&nonce, Some(&binding)),
    };
    raw.send(proof.encode().as_bytes())?;
    let welcome = raw.line()?;
    anyhow::ensure!(
        welcome.starts_with("WELCOME"),
        "expected WELCOME, got {welcome}"
    );
    while raw.line()? != "END" {}
    Ok(())
}

/// Joins with a fresh key each time from the addresses `sources` in turn (the `n`th join, `n`
/// taken from `next`, from `sources[n % len]`, named `crowd-n`), pausing `pause` after each,
/// while `more(n)`. Counts `joined` and each failure's reason.
pub fn join_crowd(
    host: SocketAddr,
    sources: &[[u8; 4]],
    next: &std::sync::atomic::AtomicU64,
    more: impl Fn(u64) -> bool,
    pause: Duration,
    outcomes: &Outcomes,
) {
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if !more(n) || sources.is_empty() {
            return;
        }
        let source = sources[n as usize % sources.len()];
        match join_with_a_fresh_key(source, host, &format!("crowd-{n}")) {
            Ok(()) => outcomes.add("joined"),
            Err(error) => outcomes.add(&failure(&error)),
        }
        std::thread::sleep(pause);
    }
}

/// Guesses a passcode host's passcode (always wrongly) from the addresses `sources` in turn,
/// pausing `pause` after each guess, until `stop`. Counts what the host did with each guess.
pub fn guess_passcodes(
    host: SocketAddr,
    sources: &[[u8; 4]],
    first: usize,
    pause: Duration,
    stop: &AtomicBool,
    outcomes: &Outcomes,
) {
    let mut n = first;
    while !stop.load(Ordering::Relaxed) && !sources.is_empty() {
        let source = sources[n % sources.len()];
        n += 1;
        let outcome = tls_from(source, host).and_then(|mut raw| raw_pake(&mut raw, "wrong horse"));
        match outcome {
            Ok(Some(line)) => outcomes.add(&classify(&line)),
            Ok(None) => outcomes.add("guessed right (!)"),
            Err(error) => outcomes.add(&failure(&error)),
        }
        std::thread::sleep(pause);
    }
}

/// A failure's reason, short enough to count by.
fn failure(error: &anyhow::Error) -> String {
    format!(
        "failed: {}",
        error.to_string().chars().take(60).collect::<String>()
    )
}
