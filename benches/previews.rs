//! `cargo bench --bench previews`: how long a real `lanshare host` (a process of its own, disk
//! store) takes to make the previews of photos shared with it, and its peak memory while doing
//! it. The photos are 12-megapixel JPEGs (4000 × 3000) made here, a few different ones shared
//! under many names. A plain program, not a libtest harness.
//!
//! Options (after `--`): `--photos N` (default 100).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use lanshare::participant::TransferConnection;
use lanshare::protocol::UploadRequest;

/// The release binary cargo built for this benchmark.
const BINARY: &str = env!("CARGO_BIN_EXE_lanshare");
/// Width and height of each photo: 12 megapixels.
const PHOTO_SIZE: (u32, u32) = (4000, 3000);
/// How many different photos are made (each shared under several names).
const DIFFERENT_PHOTOS: u32 = 4;
/// Longest the host may take for all previews before the benchmark gives up.
const PATIENCE: Duration = Duration::from_secs(600);

/// A running `lanshare host`.
struct HostProcess {
    child: Child,
    address: SocketAddr,
}

impl HostProcess {
    /// Starts a host on a free port of 127.0.0.1, its config and disk store under `dir`.
    fn start(dir: &std::path::Path) -> anyhow::Result<Self> {
        let mut child = Command::new(BINARY)
            .args(["host", "--bind", "127.0.0.1:0", "--no-announce"])
            .args(["--storage", &dir.join("store").to_string_lossy()])
            .args(["--max-file-size", "1GiB"])
            .env("LANSHARE_CONFIG_DIR", dir.join("host-config"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().context("the host has no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().transpose()?.unwrap_or_default();
        let address = first
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|text| text.parse().ok());
        // Keep reading its log so the host never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        match address {
            Some(address) => Ok(Self { child, address }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the host did not start: {first:?}")
            }
        }
    }

    /// Its peak resident memory so far (VmHWM), in bytes.
    fn peak_rss(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| {
                value
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kib| kib * 1024)
            .context("no VmHWM")
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Photo number `n`: a sky, a field and a sun, with fine texture so the JPEG is as large as a
/// camera's (a few MB).
fn photo(n: u32) -> anyhow::Result<Vec<u8>> {
    let (width, height) = PHOTO_SIZE;
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        let grain = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503) ^ n) >> 27;
        let (dx, dy) = (i64::from(x) - 3000, i64::from(y) - 700);
        let base = if dx * dx + dy * dy < 400 * 400 {
            [250, 210, 60]
        } else if y < 1800 {
            [90, (140 + y / 30) as u8, 220 - (n * 20) as u8]
        } else {
            [60 + (n * 15) as u8, (150 - y / 40) as u8, 70]
        };
        image::Rgb(base.map(|channel: u8| channel.saturating_add(grain as u8)))
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut bytes, image::ImageFormat::Jpeg)?;
    Ok(bytes.into_inner())
}

/// Shares `bytes` as `name` with the host at `address`, as a guest.
fn share(address: SocketAddr, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let mut connection = TransferConnection::connect(address)?;
    let request = UploadRequest {
        client_id: 0,
        username: "Bench".into(),
        filename: name.into(),
        size: bytes.len() as u64,
    };
    connection.upload(
        request,
        &mut &bytes[..],
        &mut |_| {},
        &AtomicBool::new(false),
    )?;
    Ok(())
}

/// How many of the host's files are listed with a preview.
fn previews_listed(address: SocketAddr) -> anyhow::Result<usize> {
    let files = TransferConnection::connect(address)?.list()?;
    Ok(files
        .iter()
        .filter(|file| file.details.preview.is_some())
        .count())
}

fn photos_wanted() -> anyhow::Result<u32> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|arg| arg == "--photos") {
        Some(at) => Ok(args.get(at + 1).context("--photos N")?.parse()?),
        None => Ok(100),
    }
}

fn main() -> anyhow::Result<()> {
    let count = photos_wanted()?;
    let made = Instant::now();
    let photos: Vec<Vec<u8>> = (0..DIFFERENT_PHOTOS)
        .map(photo)
        .collect::<anyhow::Result<_>>()?;
    let average = photos.iter().map(Vec::len).sum::<usize>() / photos.len();
    println!(
        "{} photos of {}×{} made in {:.1?} (JPEG, {:.1} MB each on average)",
        DIFFERENT_PHOTOS,
        PHOTO_SIZE.0,
        PHOTO_SIZE.1,
        made.elapsed(),
        average as f64 / 1e6
    );
    let dir = tempfile::tempdir()?;
    let host = HostProcess::start(dir.path())?;
    let idle = host.peak_rss()?;
    let started = Instant::now();
    for n in 0..count {
        let bytes = &photos[(n % DIFFERENT_PHOTOS) as usize];
        share(host.address, &format!("photo-{n:03}.jpg"), bytes)?;
    }
    let uploaded = started.elapsed();
    let mut listed = 0;
    while listed < count as usize {
        anyhow::ensure!(started.elapsed() < PATIENCE, "only {listed} previews made");
        std::thread::sleep(Duration::from_millis(100));
        listed = previews_listed(host.address)?;
    }
    let done = started.elapsed();
    let peak = host.peak_rss()?;
    println!("| what | figure |");
    println!("|---|---|");
    println!("| photos shared (12 MP JPEG) | {count} |");
    println!("| all shared after | {uploaded:.1?} |");
    println!("| every preview made after | {done:.1?} (from the first upload) |");
    println!(
        "| per photo | {:.0} ms |",
        done.as_secs_f64() * 1000.0 / f64::from(count)
    );
    println!(
        "| host's peak memory | {:.0} MB ({:.0} MB idle) |",
        peak as f64 / 1e6,
        idle as f64 / 1e6
    );
    Ok(())
}
