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
