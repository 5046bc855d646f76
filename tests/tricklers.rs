//! Uploads that announce the largest size a host accepts and then trickle just above its
//! minimum pace, from a hundred addresses, cannot keep a normal upload out: neither by holding
//! the store's room nor by holding every transfer slot. The host stops the slowest of them to
//! make way (PROTOCOL.md, *Limits*) and tells them why.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use lanshare::host::HostConfig;
use lanshare::storage::StorageConfig;
use socket2::{Domain, Socket, Type};

/// The largest file the test hosts accept, which every trickler announces.
const MAX_FILE: u64 = 20_000_000;
/// Trickling uploads, each from an address of its own.
const TRICKLERS: u8 = 100;
/// What a trickler sends at a time, and how often: 5 KiB/s, above the 4 KiB/s minimum pace.
const DRIP: usize = 1024;
const DRIP_EVERY: Duration = Duration::from_millis(200);
/// The normal upload.
const NORMAL: usize = 15_000_000;

/// What the tricklers saw.
#[derive(Default)]
struct Tally {
    /// Uploads that got `READY` and began to trickle.
    started: AtomicU64,
    /// Every line the host sent them other than `READY`.
    told: Mutex<Vec<String>>,
}

impl Tally {
    fn heard(&self, line: &str) {
        if let Ok(mut told) = self.told.lock() {
            told.push(line.trim_end().to_owned());
        }
    }

    fn count(&self, prefix: &str) -> usize {
        self.told
            .lock()
            .map(|told| told.iter().filter(|l| l.starts_with(prefix)).count())
            .unwrap_or(0)
    }
}

fn connect_from(source: [u8; 4], host: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.bind(&SocketAddr::from((source, 0)).into())?;
    socket.connect(&host.into())?;
    Ok(socket.into())
}

/// Reads what has arrived within `wait`: `None` if nothing did, `Some("")` at the end.
fn read_some(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    stream.set_read_timeout(Some(wait)).ok()?;
    let mut buffer = [0u8; 512];
    match stream.read(&mut buffer) {
        Ok(n) => Some(String::from_utf8_lossy(&buffer[..n]).into_owned()),
        Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
        Err(_) => Some(String::new()),
    }
}

/// One trickler: announces `MAX_FILE` bytes, then drips; whenever it is refused or stopped it
/// starts over, until `stop`.
fn trickle(index: u8, host: SocketAddr, stop: &AtomicBool, tally: &Tally) {
    let source = [127, 4, 0, index];
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut stream) = connect_from(source, host) else {
            std::thread::sleep(DRIP_EVERY);
            continue;
        };
        let line = format!("UPLOAD:0:mallory:trickle-{index}.bin:{MAX_FILE}\n");
        if stream.write_all(line.as_bytes()).is_err() {
            continue;
        }
        match read_some(&mut stream, Duration::from_secs(15)) {
            Some(reply) if reply == "READY\n" => {
                tally.started.fetch_add(1, Ordering::Relaxed);
            }
            Some(reply) => {
                tally.heard(&reply);
                std::thread::sleep(DRIP_EVERY);
                continue;
            }
            None => continue,
        }
        while !stop.load(Ordering::Relaxed) {
            if stream.write_all(&[b'x'; DRIP]).is_err() {
                break;
            }
            if let Some(reply) = read_some(&mut stream, DRIP_EVERY) {
                tally.heard(&reply);
                break;
            }
        }
    }
}

/// Runs the tricklers against `host` while `normal` runs, once they hold what they can;
/// returns what `normal` returned, how long it took, and what the tricklers saw.
fn beside_tricklers<T>(
    host: SocketAddr,
    normal: impl FnOnce() -> T,
) -> anyhow::Result<(T, Duration, Tally)> {
    let stop = AtomicBool::new(false);
    let tally = Tally::default();
    let result = std::thread::scope(|scope| {
        for index in 1..=TRICKLERS {
            let (stop, tally) = (&stop, &tally);
            scope.spawn(move || trickle(index, host, stop, tally));
        }
        // Let them take everything, and trickle long enough for their pace to be known.
        wait_until(Duration::from_secs(20), || {
            tally.started.load(Ordering::Relaxed) >= 8
        });
        std::thread::sleep(Duration::from_secs(3));
        let started = Instant::now();
        let result = normal();
        let took = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        (result, took)
    });
    Ok((result.0, result.1, tally))
}

fn normal_upload(host: SocketAddr) -> anyhow::Result<u64> {
    let alice = Person::new("alice")?;
    let (session, _) = alice.join(host)?;
    let file = data(NORMAL, 7);
    let id = share(&session, "report.bin", &file)?;
    anyhow::ensure!(fetch(host, id)? == file, "the stored file differs");
    Ok(id)
}

fn report(what: &str, took: Duration, tally: &Tally) {
    println!(
        "{what}: the normal 15 MB upload took {:.2} s beside {TRICKLERS} tricklers \
         ({} trickling uploads started; {} stopped to make way; {} told the store was full; \
         {} told the host was busy)",
        took.as_secs_f64(),
        tally.started.load(Ordering::Relaxed),
        tally.count("ERROR:Stopped to make way"),
        tally.count("ERROR:Host storage is full"),
        tally.count("ERROR:Host is busy"),
    );
}

#[test]
fn uploads_that_trickle_do_not_keep_a_normal_upload_out_of_the_store() -> TestResult {
    let host = start(HostConfig {
        storage: StorageConfig::Memory {
            limit: 10 * MAX_FILE,
        },
        max_file_size: MAX_FILE,
        ..config()
    })?;
    let (uploaded, took, tally) =
        beside_tricklers(host.local_addr(), || normal_upload(host.local_addr()))?;
    report("store full of trickles", took, &tally);
    uploaded?;
    assert!(
        tally.count("ERROR:Stopped to make way: another transfer needed its storage room") >= 1,
        "the tricklers whose room was taken were told why: {:?}",
        tally
            .told
            .lock()
            .map(|t| t.iter().take(5).cloned().collect::<Vec<_>>())
    );
    Ok(())
}

#[test]
fn uploads_that_trickle_do_not_keep_a_normal_upload_from_every_slot() -> TestResult {
    let host = start(HostConfig {
        workers: 8,
        max_file_size: MAX_FILE,
        ..config()
    })?;
    let (uploaded, took, tally) =
        beside_tricklers(host.local_addr(), || normal_upload(host.local_addr()))?;
    report("every slot trickling", took, &tally);
    uploaded?;
    assert!(
        tally.count("ERROR:Stopped to make way: another transfer needed its transfer slot") >= 1,
        "the tricklers whose slot was taken were told why"
    );
    Ok(())
}
