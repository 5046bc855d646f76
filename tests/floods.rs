//! A host that a crowd of addresses cannot lock out: connections that never send a command give
//! way to newcomers when the host is full, and the per-address cap works on an IPv6 LAN where
//! everyone shares one /64.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use lanshare::host::HostConfig;
use lanshare::participant::TransferConnection;
use socket2::{Domain, Socket, Type};

type TestResult = anyhow::Result<()>;

/// Connections the flood keeps open (or re-opens) at once, two from each address.
const FLOOD: usize = 10_000;
/// Threads opening and watching the flood's connections.
const FLOODERS: usize = 2;
/// How long the normal client is measured while the flood runs.
const MEASURED: Duration = Duration::from_secs(20);

/// A connection from `source`, not waiting for the handshake to finish (`connect` in progress
/// counts as open).
fn connect_without_waiting(source: IpAddr, host: SocketAddr) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(host), Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::new(source, 0).into())?;
    match socket.connect(&host.into()) {
        Err(error) if error.raw_os_error() != Some(115) => Err(error), // EINPROGRESS
        _ => Ok(socket),
    }
}

/// True while the host keeps `socket` open and has said nothing on it.
fn still_held(socket: &mut Socket) -> bool {
    let mut byte = [0u8; 256];
    matches!(socket.read(&mut byte), Err(error) if error.kind() == std::io::ErrorKind::WouldBlock)
}

/// One flooding thread: keeps a connection open from each of `sources` (twice each), opening
/// it again as soon as the host closes it (shed, timed out or refused). Returns how many it
/// opened.
fn flood(sources: Vec<IpAddr>, host: SocketAddr, stop: &AtomicBool) -> u64 {
    let mut slots: Vec<(IpAddr, Option<Socket>)> = sources
        .into_iter()
        .flat_map(|source| [(source, None), (source, None)])
        .collect();
    let mut opened = 0;
    while !stop.load(Ordering::Relaxed) {
        for (source, slot) in &mut slots {
            if slot.as_mut().is_some_and(still_held) {
                continue;
            }
            *slot = connect_without_waiting(*source, host).ok();
            opened += 1;
        }
        // An attacker on another machine would not share this one's two cores with the host.
        std::thread::sleep(Duration::from_millis(20));
    }
    opened
}

/// The seed's `LIST` in plain text, from 127.0.0.1, read to its end.
fn seed_list(host: SocketAddr) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect_timeout(&host, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"LIST\n")?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        anyhow::ensure!(reader.read_line(&mut line)? > 0, "closed before END");
        anyhow::ensure!(!line.starts_with("ERROR:"), "{line:?}");
        if line == "END\n" {
            return Ok(());
        }
    }
}

/// What /proc says of a process: (threads, open descriptors, resident memory in KiB).
fn process_figures(pid: u32) -> anyhow::Result<(usize, usize, u64)> {
    let threads = std::fs::read_dir(format!("/proc/{pid}/task"))?.count();
    let descriptors = std::fs::read_dir(format!("/proc/{pid}/fd"))?.count();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    Ok((threads, descriptors, rss))
}

/// The normal client's record over the flood.
#[derive(Default)]
struct Record {
    attempted: u32,
    served_in_time: u32,
    worst: Duration,
    failures: Vec<String>,
}

impl Record {
    fn try_once(&mut self, what: &str, request: impl FnOnce() -> anyhow::Result<()>) {
        let started = Instant::now();
        let result = request();
        let took = started.elapsed();
        self.attempted += 1;
        self.worst = self.worst.max(took);
        match result {
            Ok(()) if took < Duration::from_secs(1) => self.served_in_time += 1,
            Ok(()) => self.failures.push(format!("{what} took {took:?}")),
            Err(error) => self
                .failures
                .push(format!("{what} after {took:?}: {error}")),
        }
    }
}

#[test]
fn ten_thousand_connections_from_five_thousand_addresses_do_not_lock_a_normal_client_out()
-> TestResult {
    rlimit::increase_nofile_limit(FLOOD as u64 + 1000)?;
    let dir = tempfile::tempdir()?;
    let mut host = HostProcess::start(dir.path(), &[])?;
    let addr = host.address;
    let pid = host.child.id();
    let stop = Arc::new(AtomicBool::new(false));
    let flooders: Vec<_> = (0..FLOODERS)
        .map(|thread| {
            let stop = Arc::clone(&stop);
            // 127.(10 + thread).x.y, FLOOD / 2 addresses in all.
            let sources = (0..FLOOD / 2 / FLOODERS)
                .map(|n| {
                    IpAddr::V4(Ipv4Addr::new(
                        127,
                        10 + thread as u8,
                        (n / 250) as u8,
                        (n % 250) as u8 + 1,
                    ))
                })
                .collect();
            std::thread::spawn(move || flood(sources, addr, &stop))
        })
        .collect();
    // Let the flood fill the host before measuring.
    std::thread::sleep(Duration::from_secs(2));
    let mut record = Record::default();
    let (mut threads, mut descriptors, mut rss) = (0, 0, 0);
    let started = Instant::now();
    while started.elapsed() < MEASURED {
        record.try_once("TransferConnection::list", || {
            TransferConnection::connect(addr)?.list()?;
            Ok(())
        });
        record.try_once("seed LIST", || seed_list(addr));
        let (now_threads, now_descriptors, now_rss) = process_figures(pid)?;
        threads = threads.max(now_threads);
        descriptors = descriptors.max(now_descriptors);
        rss = rss.max(now_rss);
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Ordering::Relaxed);
    let opened: u64 = flooders
        .into_iter()
        .map(|flooder| {
            flooder
                .join()
                .map_err(|_| anyhow::anyhow!("a flooder panicked"))
        })
        .sum::<anyhow::Result<u64>>()?;
    eprintln!(
        "flood of {FLOOD} connections from {} addresses ({opened} opened in all): normal client \
         served within 1 s {}/{}, worst {:?}; host at most {threads} threads, {descriptors} \
         descriptors, {} MiB resident",
        FLOOD / 2,
        record.served_in_time,
        record.attempted,
        record.worst,
        rss / 1024,
    );
    assert!(record.failures.is_empty(), "{:#?}", record.failures);
    // The flood did fill the host, over and over.
    assert!(
        opened > 2 * FLOOD as u64,
        "only {opened} connections opened"
    );
    assert!(
        descriptors > 2 * 2000,
        "{descriptors} descriptors: the host was never full"
    );
    // Threads stay bounded by the cap on connections.
    assert!(threads < 2048 + 100, "{threads} threads");
    host.wait_for_log("to make room for")?;
    assert!(host.child.try_wait()?.is_none(), "the host died");
    Ok(())
}
