//! The soak test: a real `lanshare host` process under many participants looping uploads,
//! listings, downloads (checked against the listed SHA-256) and deletes for a few minutes,
//! while a troublemaker keeps breaking off uploads, sending garbage and leaving connections
//! idle. It reports operations, errors (which must be zero) and the host's memory, threads and
//! open files over time (which must stay flat). Not run by `cargo test`; run it with
//!
//! ```sh
//! cargo test --release --test soak -- --ignored --nocapture
//! ```
//!
//! `LANSHARE_SOAK_SECS` (default 180), `LANSHARE_SOAK_PARTICIPANTS` (default 16) and
//! `LANSHARE_SOAK_PHASES` (default 4; the host is sampled at rest after each) change its length
//! and load. RELIABILITY.md records its results.

mod common;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use lanshare::participant::{Error, TransferConnection};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// What everyone did, counted.
#[derive(Default)]
struct Tally {
    uploads: AtomicU64,
    downloads: AtomicU64,
    listings: AtomicU64,
    deletes: AtomicU64,
    joins: AtomicU64,
    bytes: AtomicU64,
    /// A file deleted between someone's listing and their download of it: expected.
    vanished: AtomicU64,
    troubles: AtomicU64,
    errors: AtomicU64,
}

impl Tally {
    fn operations(&self) -> u64 {
        [
            &self.uploads,
            &self.downloads,
            &self.listings,
            &self.deletes,
            &self.joins,
        ]
        .iter()
        .map(|count| count.load(Ordering::Relaxed))
        .sum()
    }
}

/// A line of `/proc/<pid>/status`, as a number (kB for memory).
fn status_field(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// One participant's loop until `running` turns false.
fn participant(
    addr: SocketAddr,
    index: u64,
    running: &AtomicBool,
    tally: &Tally,
) -> anyhow::Result<()> {
    let person = Person::new(&format!("soak{index}"))?;
    let mut round = 0u64;
    while running.load(Ordering::Relaxed) {
        // A session lasts a few dozen operations, then the participant leaves and rejoins.
        let (session, _) = person.join(addr)?;
        tally.joins.fetch_add(1, Ordering::Relaxed);
        let mut mine: VecDeque<u64> = VecDeque::new();
        for _ in 0..40 {
            if !running.load(Ordering::Relaxed) {
                break;
            }
            round += 1;
            let seed = index * 1_000_003 + round;
            let size = 1_000 + (seed * 7_919 % 2_000_000) as usize;
            let content = data(size, seed);
            mine.push_back(share(&session, &format!("f{index}-{round}.bin"), &content)?);
            tally.uploads.fetch_add(1, Ordering::Relaxed);
            tally.bytes.fetch_add(size as u64, Ordering::Relaxed);

            let files = TransferConnection::connect(addr)?.list()?;
            tally.listings.fetch_add(1, Ordering::Relaxed);
            if let Some(entry) = files.get((seed % files.len().max(1) as u64) as usize) {
                let mut received = Vec::new();
                let mut connection = TransferConnection::connect(addr)?;
                match connection.download(
                    entry.id,
                    &mut received,
                    &mut |_| {},
                    &AtomicBool::new(false),
                ) {
                    Ok(downloaded) => {
                        anyhow::ensure!(
                            downloaded.sha256 == entry.sha256 && downloaded.size == entry.size,
                            "file {} arrived different from its listing",
                            entry.id
                        );
                        tally.downloads.fetch_add(1, Ordering::Relaxed);
                        tally.bytes.fetch_add(entry.size, Ordering::Relaxed);
                    }
                    Err(Error::NotFound(_)) => {
                        tally.vanished.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(error) => return Err(error.into()),
                }
            }
            while mine.len() > 3 {
                if let Some(id) = mine.pop_front() {
                    session.delete(id, Duration::from_secs(30))?;
                    tally.deletes.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        for id in mine {
            session.delete(id, Duration::from_secs(30))?;
            tally.deletes.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Breaks things all the time: uploads cut off half-way, garbage, idle connections.
fn troublemaker(addr: SocketAddr, running: &AtomicBool, tally: &Tally) {
    let mut idle = VecDeque::new();
    let mut round = 0u64;
    while running.load(Ordering::Relaxed) {
        round += 1;
        let _ = (|| -> anyhow::Result<()> {
            let mut cut = Raw::connect_from([127, 0, 0, 66], addr)?;
            cut.send(b"UPLOAD:1:Trouble:cut.bin:1000000\n")?;
            if cut.line()? == "READY" {
                cut.send(&data(100_000, round))?;
            }
            let mut garbage = Raw::connect_from([127, 0, 0, 66], addr)?;
            garbage.send(&data(300, round))?;
            garbage.send(b"\n")?;
            idle.push_back(Raw::connect_from([127, 0, 0, 67], addr)?);
            if idle.len() > 20 {
                idle.pop_front();
            }
            Ok(())
        })();
        tally.troubles.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The host process at one moment.
#[derive(Clone, Copy, Debug)]
struct Sample {
    rss_kb: u64,
    threads: u64,
    open_files: usize,
}

fn sample(pid: u32) -> Sample {
    Sample {
        rss_kb: status_field(pid, "VmRSS:"),
        threads: status_field(pid, "Threads:"),
        open_files: open_files(pid),
    }
}

/// Runs every participant and the troublemaker for `seconds`, printing a line every 10 s;
/// returns the samples taken under load and how many participants failed.
fn load(
    addr: SocketAddr,
    pid: u32,
    participants: u64,
    seconds: u64,
    tally: &Arc<Tally>,
    clock: Instant,
) -> (Vec<Sample>, usize) {
    let running = Arc::new(AtomicBool::new(true));
    let mut workers: Vec<_> = (0..participants)
        .map(|index| {
            let running = Arc::clone(&running);
            let tally = Arc::clone(tally);
            std::thread::spawn(move || {
                let result = participant(addr, index, &running, &tally);
                if let Err(error) = &result {
                    tally.errors.fetch_add(1, Ordering::Relaxed);
                    eprintln!("participant {index}: {error:#}");
                }
                result.is_ok()
            })
        })
        .collect();
    workers.push({
        let running = Arc::clone(&running);
        let tally = Arc::clone(tally);
        std::thread::spawn(move || {
            troublemaker(addr, &running, &tally);
            true
        })
    });
    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        let left = Duration::from_secs(seconds).saturating_sub(started.elapsed());
        std::thread::sleep(Duration::from_secs(10).min(left + Duration::from_millis(1)));
        let now = sample(pid);
        samples.push(now);
        println!(
            "{:>5} s {:>8} {:>9} {:>10} {:>8} {:>7} {:>8} {:>8} {:>6}",
            clock.elapsed().as_secs(),
            tally.operations(),
            tally.uploads.load(Ordering::Relaxed),
            tally.downloads.load(Ordering::Relaxed),
            tally.deletes.load(Ordering::Relaxed),
            tally.errors.load(Ordering::Relaxed),
            now.rss_kb / 1024,
            now.threads,
            now.open_files
        );
    }
    running.store(false, Ordering::Relaxed);
    let failed = workers
        .into_iter()
        .map(|worker| worker.join().unwrap_or(false))
        .filter(|ok| !ok)
        .count();
    (samples, failed)
}

/// Waits until everyone has left (no file listed, no connection thread) and samples the host
/// at rest.
fn at_rest(addr: SocketAddr, pid: u32, label: &str) -> anyhow::Result<Sample> {
    anyhow::ensure!(
        wait_until(Duration::from_secs(30), || {
            status_field(pid, "Threads:") <= 3 && listing_is_empty(addr)
        }),
        "the host did not come back to rest: {:?}",
        sample(pid)
    );
    // Let the listing's own connection close.
    std::thread::sleep(Duration::from_millis(200));
    let rest = sample(pid);
    println!(
        "  at rest {label}: RSS {} MB, {} threads, {} open files",
        rest.rss_kb / 1024,
        rest.threads,
        rest.open_files
    );
    Ok(rest)
}

#[test]
#[ignore = "takes minutes: cargo test --release --test soak -- --ignored --nocapture"]
fn many_participants_for_minutes_with_no_error_and_flat_memory() -> TestResult {
    let seconds = setting("LANSHARE_SOAK_SECS", 180);
    let participants = setting("LANSHARE_SOAK_PARTICIPANTS", 16);
    let dir = tempfile::tempdir()?;
    let host = HostProcess::start(&dir.path().join("host"), &["--memory-limit", "2GiB"])?;
    let addr = host.address;
    let pid = host.child.id();
    let phases = setting("LANSHARE_SOAK_PHASES", 4).max(2);
    let tally = Arc::new(Tally::default());
    let clock = Instant::now();
    println!(
        "soak: {participants} participants + 1 troublemaker for {seconds} s against pid {pid}, \
         in {phases} phases with a rest after each"
    );
    let start = at_rest(addr, pid, "at the start")?;
    println!("  time     ops   uploads  downloads  deletes  errors   RSS MB  threads  files");
    let mut peaks = Vec::new();
    let mut rests = Vec::new();
    let mut failed = 0;
    for phase in 1..=phases {
        let (samples, phase_failed) =
            load(addr, pid, participants, seconds / phases, &tally, clock);
        failed += phase_failed;
        peaks.push(samples.iter().map(|s| s.rss_kb).max().unwrap_or(0));
        rests.push(at_rest(addr, pid, &format!("after phase {phase}"))?);
    }
    println!(
        "done: {} operations ({} uploads, {} downloads, {} listings, {} deletes, {} joins), \
         {:.1} GB moved, {} vanished between listing and download, {} troublemaker rounds, \
         {} errors",
        tally.operations(),
        tally.uploads.load(Ordering::Relaxed),
        tally.downloads.load(Ordering::Relaxed),
        tally.listings.load(Ordering::Relaxed),
        tally.deletes.load(Ordering::Relaxed),
        tally.joins.load(Ordering::Relaxed),
        tally.bytes.load(Ordering::Relaxed) as f64 / 1e9,
        tally.vanished.load(Ordering::Relaxed),
        tally.troubles.load(Ordering::Relaxed),
        tally.errors.load(Ordering::Relaxed),
    );
    assert_eq!(failed, 0, "some participants failed");
    assert_eq!(tally.errors.load(Ordering::Relaxed), 0);
    // Nothing leaks: after every phase the host rests with as many threads and open files as
    // when it started, and its resting memory stops growing after the first phase (what the
    // allocator keeps from the first load, it reuses).
    for rest in &rests {
        assert_eq!(
            (rest.threads, rest.open_files),
            (start.threads, start.open_files)
        );
    }
    let first_rest = rests[0].rss_kb;
    let last_rest = rests[rests.len() - 1].rss_kb;
    assert!(
        last_rest <= first_rest + 32 * 1024,
        "resting memory grew from {} MB to {} MB",
        first_rest / 1024,
        last_rest / 1024
    );
    // Flat under load too: no later phase peaks more than 64 MB above the first.
    for peak in &peaks[1..] {
        assert!(
            *peak <= peaks[0] + 64 * 1024,
            "host memory under load grew from {} MB to {} MB",
            peaks[0] / 1024,
            peak / 1024
        );
    }
    Ok(())
}

fn listing_is_empty(addr: SocketAddr) -> bool {
    TransferConnection::connect(addr)
        .and_then(|mut connection| connection.list())
        .is_ok_and(|files| files.is_empty())
}
