//! lanshare as people run it: a `lanshare host` process, and `lanshare send` / `lanshare get`
//! processes for every transfer (each verifies SHA-256 itself; the benchmark checks the
//! result again afterwards, untimed).

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::workload::{SourceFile, sha256_file};

/// The release binary cargo built for this benchmark.
pub const BINARY: &str = env!("CARGO_BIN_EXE_lanshare");

/// Where the files live while the host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// `--storage memory`, with the cap raised.
    Memory,
    /// `--storage DIR`.
    Disk,
    /// `--storage s3://…` on the SeaweedFS the benchmark started ([`crate::weed`]).
    Object,
}

impl Store {
    /// `memory`, `disk` or `object`, for keys and labels.
    pub fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Disk => "disk",
            Self::Object => "object",
        }
    }

    /// The stores measured: the object store too once SeaweedFS is running.
    pub fn all() -> Vec<Self> {
        let object = crate::weed::host_environment().map(|_| Self::Object);
        [Self::Memory, Self::Disk]
            .into_iter()
            .chain(object)
            .collect()
    }
}

/// A running `lanshare host`.
pub struct HostProcess {
    child: Child,
    /// Where participants reach it.
    pub address: SocketAddr,
}

/// Object-store libraries started so far, to give each host its own prefix.
static OBJECT_LIBRARIES: AtomicU64 = AtomicU64::new(0);

impl HostProcess {
    /// Starts a host on `bind` (port 0 picks a free port) with `store`, its config and disk
    /// store under `dir`. `wrapper` runs it inside something, e.g. `ip netns exec NS`.
    pub fn start(
        wrapper: &[String],
        bind: SocketAddr,
        store: Store,
        dir: &Path,
    ) -> io::Result<Self> {
        let storage = match store {
            Store::Memory => "memory".to_owned(),
            Store::Disk => dir.join("store").to_string_lossy().into_owned(),
            // A library of its own for each host started (a later repetition's host on the
            // same folder must not find the files, and the names, of an earlier one).
            Store::Object => format!(
                "s3://{}/{}-{}",
                crate::weed::BUCKET,
                dir.file_name().unwrap_or_default().to_string_lossy(),
                OBJECT_LIBRARIES.fetch_add(1, Ordering::Relaxed)
            ),
        };
        let mut command = wrapped(wrapper, BINARY);
        command
            .args(["host", "--bind", &bind.to_string()])
            .args(["--storage", &storage])
            .args(["--memory-limit", "4GiB", "--max-file-size", "2GiB"])
            // Every participant of the benchmark connects from 127.0.0.1.
            .args(["--max-per-address", "1024"])
            .envs(crate::weed::host_environment().into_iter().flatten())
            .env("LANSHARE_CONFIG_DIR", dir.join("host-config"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("host has no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().transpose()?.unwrap_or_default();
        let address = first
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|text| text.parse().ok());
        let Some(address) = address else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other(format!("host did not start: {first:?}")));
        };
        // Keep reading its log so the host never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        Ok(Self { child, address })
    }

    /// Starts a host on a free port of 127.0.0.1, creating `dir`.
    pub fn start_loopback(store: Store, dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Self::start(&[], SocketAddr::from(([127, 0, 0, 1], 0)), store, dir)
    }

    /// The host's peak resident memory so far (VmHWM), in bytes.
    pub fn peak_rss(&self) -> io::Result<u64> {
        peak_rss(self.child.id())
    }

    /// The host's resident memory now (VmRSS), in bytes.
    pub fn rss(&self) -> io::Result<u64> {
        status_bytes(self.child.id(), "VmRSS:")
    }

    /// The CPU time the host has used so far, in seconds.
    pub fn cpu_seconds(&self) -> io::Result<f64> {
        cpu_seconds(self.child.id())
    }

    /// Stops the host (Ctrl-C, as a person would) and waits for it.
    pub fn stop(mut self) {
        self.interrupt();
    }

    fn interrupt(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.interrupt();
        }
    }
}

/// Runs `command` to its end; returns how long it took and its output, or an error that
/// quotes what it printed on stderr if it failed.
pub fn timed_output(mut command: Command, what: &str) -> io::Result<(Duration, Output)> {
    let started = Instant::now();
    let output = command.output()?;
    let elapsed = started.elapsed();
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok((elapsed, output))
}

/// Peak resident memory (VmHWM) of process `pid`, in bytes.
pub fn peak_rss(pid: u32) -> io::Result<u64> {
    status_bytes(pid, "VmHWM:")
}

/// A memory figure (`field`, in kB) of process `pid`'s status, in bytes.
fn status_bytes(pid: u32, field: &str) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .ok_or_else(|| io::Error::other(format!("no {field} in /proc/{pid}/status")))
}

/// Clock ticks per second in `/proc/PID/stat` (Linux's USER_HZ, 100 on every architecture
/// this benchmark runs on).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time (user and system, all threads) process `pid` has used so far, in seconds.
fn cpu_seconds(pid: u32) -> io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which is in parentheses and may hold spaces): utime and
    // stime are the 12th and 13th of them.
    let after_name = stat.rsplit_once(") ").map(|(_, rest)| rest).unwrap_or("");
    let ticks: Vec<f64> = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|field| field.parse().ok())
        .collect();
    if ticks.len() != 2 {
        return Err(io::Error::other(format!("unexpected /proc/{pid}/stat")));
    }
    Ok((ticks[0] + ticks[1]) / TICKS_PER_SECOND)
}

/// `program` run through `wrapper` (empty: directly).
pub fn wrapped(wrapper: &[String], program: &str) -> Command {
    match wrapper.split_first() {
        Some((first, rest)) => {
            let mut command = Command::new(first);
            command.args(rest).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// Runs the `lanshare` command line as a participant with its own config folder.
pub struct Participant {
    /// Wraps each command, e.g. `ip netns exec NS`.
    pub wrapper: Vec<String>,
    /// Its config folder (identity, remembered name).
    pub config_dir: PathBuf,
    /// The host, as `--host` takes it.
    pub host: SocketAddr,
    /// Whether transfers may travel compressed (the default); false says `--no-compression`.
    pub compression: bool,
}

impl Participant {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = wrapped(&self.wrapper, BINARY);
        command
            .args(args)
            .args(["--host", &self.host.to_string()])
            .env("LANSHARE_CONFIG_DIR", &self.config_dir)
            .env_remove("LANSHARE_HOST")
            .env_remove("LANSHARE_USER")
            .stdin(Stdio::null());
        command
    }

    /// The command for a transfer: `args`, then `--no-compression` if compression is off.
    fn transfer_command(&self, args: &[&str]) -> Command {
        let mut command = self.command(args);
        if !self.compression {
            command.arg("--no-compression");
        }
        command
    }

    /// `lanshare send` of the files; returns the time it took and the ids the host gave.
    pub fn send(&self, files: &[SourceFile]) -> io::Result<(Duration, Vec<u64>)> {
        self.send_counting_wire(files)
            .map(|(elapsed, ids, _)| (elapsed, ids))
    }

    /// `lanshare send` of the files; returns the time it took, the ids the host gave, and the
    /// bytes that crossed the wire for those that went compressed (as `send` reports them, to
    /// three digits), if any did.
    pub fn send_counting_wire(
        &self,
        files: &[SourceFile],
    ) -> io::Result<(Duration, Vec<u64>, Option<u64>)> {
        let mut command = self.transfer_command(&["send", "--user", "bench"]);
        command.args(files.iter().map(|f| &f.path));
        let (elapsed, output) = timed_output(command, "lanshare send")?;
        let said = String::from_utf8_lossy(&output.stdout);
        // "Shared 'NAME' (SIZE) as #ID[, notes][, compressed to WIRE on the wire]"
        let ids: Vec<u64> = said
            .lines()
            .filter_map(|line| {
                let after = line.rsplit(" as #").next()?;
                let digits = after.split(|c: char| !c.is_ascii_digit()).next()?;
                digits.parse().ok()
            })
            .collect();
        if ids.len() != files.len() {
            return Err(io::Error::other(format!(
                "lanshare send reported {} of {} files",
                ids.len(),
                files.len()
            )));
        }
        let wire = said
            .lines()
            .filter_map(|line| {
                let size = line.split(", compressed to ").nth(1)?;
                ::lanshare::units::parse_size(size.strip_suffix(" on the wire")?).ok()
            })
            .reduce(|a, b| a + b);
        Ok((elapsed, ids, wire))
    }

    /// `lanshare get` of the ids into `dir` (a new folder); returns the time it took.
    pub fn get(&self, ids: &[u64], dir: &Path) -> io::Result<Duration> {
        std::fs::create_dir_all(dir)?;
        let mut command = self.transfer_command(&["get", "-o", &dir.to_string_lossy()]);
        command.args(ids.iter().map(u64::to_string));
        Ok(timed_output(command, "lanshare get")?.0)
    }

    /// The SHA-256 the host lists for each id (`lanshare ls --json`).
    pub fn listed_digests(&self) -> io::Result<Vec<(u64, String)>> {
        let output = self.command(&["ls", "--json"]).output()?;
        if !output.status.success() {
            return Err(io::Error::other("lanshare ls failed"));
        }
        let files: serde_json::Value = serde_json::from_slice(&output.stdout)
            .map_err(|e| io::Error::other(format!("lanshare ls --json: {e}")))?;
        Ok(files
            .as_array()
            .map(|files| {
                files
                    .iter()
                    .filter_map(|f| Some((f["id"].as_u64()?, f["sha256"].as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// Checks that the host lists each uploaded file with the digest of its source.
pub fn verify_listed(
    participant: &Participant,
    files: &[SourceFile],
    ids: &[u64],
) -> io::Result<()> {
    let listed = participant.listed_digests()?;
    for (file, id) in files.iter().zip(ids) {
        let digest = listed.iter().find(|(listed_id, _)| listed_id == id);
        if digest.map(|(_, d)| d.as_str()) != Some(file.sha256.as_str()) {
            return Err(io::Error::other(format!(
                "host lists {} (#{id}) with another SHA-256",
                file.name
            )));
        }
    }
    Ok(())
}

/// Checks that `dir` holds each file under its name with its digest, then removes `dir`.
pub fn verify_downloads(files: &[SourceFile], dir: &Path) -> io::Result<()> {
    for file in files {
        let path = dir.join(&file.name);
        if sha256_file(&path)? != file.sha256 {
            return Err(io::Error::other(format!("{} arrived damaged", file.name)));
        }
    }
    std::fs::remove_dir_all(dir)
}
