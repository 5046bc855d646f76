//! The files every system moves: made once per run, kept in the page cache, hashed up front
//! so each transfer can be verified afterwards.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Instant;

use sha2::{Digest, Sha256};

/// One file to move, with the digest it must arrive with.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its name (as uploaded).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, lower-case hex.
    pub sha256: String,
}

/// A set of files moved together as one measurement (one big file, or many small ones).
#[derive(Debug, Clone)]
pub struct Workload {
    /// Short name used in result keys, e.g. `big`.
    pub key: &'static str,
    /// Label for the table, e.g. `1 GiB`.
    pub label: String,
    /// The files.
    pub files: Vec<SourceFile>,
}

impl Workload {
    /// Bytes in all files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// True for the many-small-files workload (measured in files per second).
    pub fn is_many(&self) -> bool {
        self.files.len() > 1
    }
}

/// Writes `size` pseudo-random bytes to `path` (xorshift; every run makes the same bytes)
/// and returns their SHA-256.
fn write_random_file(path: &Path, size: u64, seed: u64) -> std::io::Result<String> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut writer = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut hasher = Sha256::new();
    let mut block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        fill_pseudo_random(&mut block, &mut state);
        let count = usize::try_from(left.min(block.len() as u64)).unwrap_or(block.len());
        hasher.update(&block[..count]);
        writer.write_all(&block[..count])?;
        left -= count as u64;
    }
    writer.flush()?;
    Ok(hex(&hasher.finalize()))
}

/// Fills `bytes` from an xorshift generator whose state is `state` (never zero).
pub fn fill_pseudo_random(bytes: &mut [u8], state: &mut u64) {
    for word in bytes.chunks_mut(8) {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
    }
}

/// Touches, then frees, enough memory for a transfer of `bytes` (twice that, plus 256 MiB, at
/// most 3 GiB), so that the transfer that follows finds warm memory.
///
/// Virtual machines like the one this benchmark was written on hand free memory back to their
/// hypervisor (Linux "free page reporting", in 8 MiB blocks here); touching such memory again
/// costs about 2 s per GiB in the kernel. Whether a transfer's page cache or buffers land in
/// such memory is luck, and it swung single runs by 3x. Touching memory just before each timed
/// transfer, for lanshare and every baseline alike, takes the luck out; `--no-warm` leaves it in.
pub fn warm_memory(bytes: u64) {
    let wanted = bytes
        .saturating_mul(2)
        .saturating_add(256 << 20)
        .min(3 << 30);
    let Ok(len) = usize::try_from(wanted) else {
        return;
    };
    let mut memory = vec![0u8; len];
    for page in memory.chunks_mut(4096) {
        page[0] = 1;
    }
    std::hint::black_box(&memory);
}

/// Lower-case hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Makes the benchmark's files under `dir`: 1 GiB, 100 MiB, 10 MiB, and `small_count` files
/// of 10 KiB.
pub fn create(dir: &Path, big: u64, small_count: usize) -> std::io::Result<Vec<Workload>> {
    std::fs::create_dir_all(dir)?;
    let single = |key: &'static str, size: u64, seed: u64| {
        let name = format!("{key}.bin");
        let path = dir.join(&name);
        let sha256 = write_random_file(&path, size, seed)?;
        Ok::<_, std::io::Error>(Workload {
            key,
            label: size_label(size),
            files: vec![SourceFile {
                path,
                name,
                size,
                sha256,
            }],
        })
    };
    let mut workloads = vec![
        single("big", big, 1)?,
        single("100mib", 100 << 20, 2)?,
        single("10mib", 10 << 20, 3)?,
    ];
    let small_dir = dir.join("small");
    std::fs::create_dir_all(&small_dir)?;
    let mut small = Vec::with_capacity(small_count);
    for index in 0..small_count {
        let name = format!("small-{index:04}.bin");
        let path = small_dir.join(&name);
        let sha256 = write_random_file(&path, 10 << 10, 100 + index as u64)?;
        small.push(SourceFile {
            path,
            name,
            size: 10 << 10,
            sha256,
        });
    }
    workloads.push(Workload {
        key: "small",
        label: format!("{small_count} x 10 KiB"),
        files: small,
    });
    Ok(workloads)
}

/// Makes `size` bytes of generated server logs under `dir` (`logs.log`): the compressible file
/// of the compression rows. Every run makes the same bytes.
pub fn create_logs(dir: &Path, size: u64) -> std::io::Result<Workload> {
    std::fs::create_dir_all(dir)?;
    let name = "logs.log".to_owned();
    let path = dir.join(&name);
    let sha256 = write_logs(&path, size, 15)?;
    Ok(Workload {
        key: "logs",
        label: format!("{} logs", size_label(size)),
        files: vec![SourceFile {
            path,
            name,
            size,
            sha256,
        }],
    })
}

/// Writes `size` bytes of log lines from [`LogLines`] to `path`; returns their SHA-256.
fn write_logs(path: &Path, size: u64, seed: u64) -> std::io::Result<String> {
    let mut writer = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut hasher = Sha256::new();
    let mut lines = LogLines::new(seed);
    let mut chunk = Vec::with_capacity((1 << 20) + 512);
    let mut left = size;
    while left > 0 {
        chunk.clear();
        while chunk.len() < 1 << 20 {
            lines.next_line(&mut chunk);
        }
        let count = usize::try_from(left.min(chunk.len() as u64)).unwrap_or(chunk.len());
        hasher.update(&chunk[..count]);
        writer.write_all(&chunk[..count])?;
        left -= count as u64;
    }
    writer.flush()?;
    Ok(hex(&hasher.finalize()))
}

const LEVELS: [(&str, u32); 4] = [("INFO ", 80), ("DEBUG", 10), ("WARN ", 7), ("ERROR", 3)];
const METHODS: [&str; 4] = ["GET", "GET", "POST", "DELETE"];
const ROUTES: [&str; 12] = [
    "/api/v1/files",
    "/api/v1/files/{}",
    "/api/v1/files/{}/preview",
    "/api/v1/users/{}",
    "/api/v1/users/{}/sessions",
    "/api/v1/search",
    "/api/v1/uploads/{}/parts",
    "/static/app.js",
    "/static/style.css",
    "/healthz",
    "/metrics",
    "/login",
];
const STATUSES: [u16; 10] = [200, 200, 200, 200, 200, 201, 204, 304, 404, 500];
const USERS: [&str; 10] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
];
const MESSAGES: [&str; 14] = [
    "request served",
    "request served",
    "request served from cache",
    "listed files in folder",
    "session refreshed",
    "upload part stored",
    "preview made in background",
    "slow query on files index",
    "client closed connection early",
    "rate limit close for address",
    "token expired, asked to log in again",
    "checksum verified",
    "retrying storage write after timeout",
    "config reloaded from disk",
];

/// Generated web-server log lines: a clock that moves on by a few milliseconds a line,
/// levels, worker threads, request ids (a request often logs more than one line), methods and
/// routes with numeric ids, statuses, durations, sizes, users and messages from small
/// vocabularies. Deterministic from the seed.
struct LogLines {
    state: u64,
    millis: u64,
    request: u32,
}

impl LogLines {
    fn new(seed: u64) -> Self {
        Self {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            // 2026-11-02T08:00:00Z, in milliseconds since 1970.
            millis: 1_793_606_400_000,
            request: 0,
        }
    }

    fn random(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    /// A number below `bound`.
    fn below(&mut self, bound: u64) -> u64 {
        self.random() % bound
    }

    /// A number below 2^`bits` whose magnitude is itself random (small ones are common).
    fn spread(&mut self, bits: u64) -> u64 {
        let magnitude = self.below(bits);
        self.below(1 << magnitude)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn level(&mut self) -> &'static str {
        let mut roll = self.below(100) as u32;
        for (level, weight) in LEVELS {
            if roll < weight {
                return level;
            }
            roll -= weight;
        }
        LEVELS[0].0
    }

    /// Appends one line to `out`.
    fn next_line(&mut self, out: &mut Vec<u8>) {
        self.millis += self.below(40);
        if self.below(3) != 0 {
            self.request = self.random() as u32;
        }
        let level = self.level();
        let worker = self.below(16);
        let method = *self.pick(&METHODS);
        let route = self
            .pick(&ROUTES)
            .replace("{}", &(self.below(50_000)).to_string());
        let status = *self.pick(&STATUSES);
        let micros = 200 + self.spread(20);
        let bytes = self.spread(22);
        let user = *self.pick(&USERS);
        let message = *self.pick(&MESSAGES);
        let _ = writeln!(
            out,
            "{} {level} [worker-{worker:02}] req={:08x} {method} {route} {status} \
             {}.{:03}ms {bytes}B user={user} \"{message}\"",
            timestamp(self.millis),
            self.request,
            micros / 1000,
            micros % 1000,
        );
    }
}

/// Milliseconds since 1970 as `2026-11-02T08:00:00.000Z`.
fn timestamp(millis: u64) -> String {
    let (days, of_day) = (millis / 86_400_000, millis % 86_400_000);
    let (year, month, day) = civil_date(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1000 % 60,
        of_day % 1000
    )
}

/// The calendar date of a day counted from 1970-01-01 (Gregorian).
fn civil_date(days: u64) -> (u64, u64, u64) {
    let days = days + 719_468;
    let era = days / 146_097;
    let of_era = days % 146_097;
    let year_of_era = (of_era - of_era / 1460 + of_era / 36_524 - of_era / 146_096) / 365;
    let of_year = of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * of_year + 2) / 153;
    let day = of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// A size as the table shows it: `1 GiB`, `100 MiB`, `10 KiB`.
pub fn size_label(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

/// A barrier for work that must start at once, which also notes when it opened: the earliest
/// moment any waiter left it. (The thread that timed from its own return might be scheduled
/// long after the others have started, or even finished.)
pub struct StartLine {
    barrier: Barrier,
    opened: Mutex<Option<Instant>>,
}

impl StartLine {
    /// A start line for `waiters` threads.
    pub fn new(waiters: usize) -> Arc<Self> {
        Arc::new(Self {
            barrier: Barrier::new(waiters),
            opened: Mutex::new(None),
        })
    }

    /// Waits for every waiter, then notes the moment.
    pub fn wait(&self) {
        self.barrier.wait();
        let now = Instant::now();
        if let Ok(mut opened) = self.opened.lock() {
            *opened = Some(opened.map_or(now, |earliest| earliest.min(now)));
        }
    }

    /// When the first waiter left; `fallback` if none has.
    pub fn opened_or(&self, fallback: Instant) -> Instant {
        self.opened
            .lock()
            .ok()
            .and_then(|opened| *opened)
            .unwrap_or(fallback)
    }
}
