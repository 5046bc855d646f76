//! The direct-transfer rows (issue 17): the random big file shared with `lanshare send
//! --direct` and fetched with `lanshare get` across the shaped gigabit link, once straight from
//! the sharer and once relayed through the host (a firewall on the sharer's machine refusing its
//! port), each against the link's line rate; and what relaying costs the host: its CPU time
//! and its memory.
//!
//! Direct: host and sharer on one side of the link, the downloader on the other, so the bytes
//! cross it once. Relayed: sharer and downloader on the far side, so the bytes cross it twice,
//! once each way (the link is full duplex), through the host.

use std::io::{self, BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::lan::{self, Lan};
use crate::lanshare::{self, BINARY, HostProcess, Participant, Store, wrapped};
use crate::report::{Comparison, Figure, Results, Row, Target, Unit};
use crate::workload::{self, Workload};

/// How long `send --direct` may take to hash the file and be listed.
const SHARING_LIMIT: Duration = Duration::from_secs(300);

/// Measures both rows `reps` times on a shaped link of their own.
pub fn measure(reps: usize, warm: bool, work: &Path, big: &Workload, results: &mut Results) {
    if let Some(reason) = lan::unavailable() {
        return results.fail("direct", reason);
    }
    let shaped = match Lan::create() {
        Ok(shaped) => shaped,
        Err(error) => {
            return results.fail("direct", format!("could not set up namespaces: {error}"));
        }
    };
    let dir = work.join("direct");
    for rep in 1..=reps {
        eprintln!("direct transfers on the shaped LAN, repetition {rep} of {reps}");
        for relayed in [false, true] {
            let key = if relayed {
                "direct/relayed"
            } else {
                "direct/direct"
            };
            let _ = std::fs::create_dir_all(&dir);
            if warm {
                workload::warm_memory(big.bytes());
            }
            if let Err(error) = fetch_once(&shaped, &dir, big, relayed, results) {
                results.fail(key, error.to_string());
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// One host, one sharer, one `get`: records the rate under `direct/direct` or
/// `direct/relayed`, and for a relay the host's CPU seconds and memory.
fn fetch_once(
    shaped: &Lan,
    dir: &Path,
    big: &Workload,
    relayed: bool,
    results: &mut Results,
) -> io::Result<()> {
    let host = HostProcess::start(&shaped.in_host(), Lan::host_address(0), Store::Memory, dir)?;
    let far_side = shaped.in_peer();
    let sharer_side = if relayed {
        far_side.clone()
    } else {
        shaped.in_host()
    };
    let file = big
        .files
        .first()
        .ok_or_else(|| io::Error::other("no big file"))?;
    let mut sharer = Sharer::start(&sharer_side, dir, host.address, &file.path)?;
    if relayed {
        refuse_port(&shaped.peer_ns, sharer.port)?;
    }
    let downloader = Participant {
        wrapper: far_side,
        config_dir: dir.join("downloader"),
        host: host.address,
        compression: true,
    };
    let downloads = dir.join("downloads");
    let (cpu_before, rss_before) = (host.cpu_seconds()?, host.rss()?);
    let elapsed = downloader.get(&[sharer.id], &downloads);
    let cpu = host.cpu_seconds()? - cpu_before;
    let peak = host.peak_rss()?;
    sharer.stop();
    host.stop();
    let elapsed = elapsed?;
    lanshare::verify_downloads(&big.files, &downloads)?;
    let key = if relayed {
        "direct/relayed"
    } else {
        "direct/direct"
    };
    results.record_rate(key, big, Ok(elapsed));
    if relayed {
        results.record("direct/relayed/host_cpu", cpu / elapsed.as_secs_f64());
        results.record("direct/relayed/host_rss_before", rss_before as f64);
        results.record("direct/relayed/host_peak_rss", peak as f64);
    }
    Ok(())
}

/// A `lanshare send --direct` serving one file until stopped.
struct Sharer {
    child: Child,
    /// The id the host lists the file under.
    id: u64,
    /// The port its server listens on.
    port: u16,
}

impl Sharer {
    /// Shares `file` with the host at `host` from inside `wrapper`, and waits until it serves.
    fn start(
        wrapper: &[String],
        dir: &Path,
        host: std::net::SocketAddr,
        file: &Path,
    ) -> io::Result<Self> {
        let mut command = wrapped(wrapper, BINARY);
        command
            .args(["send", "--direct", "--user", "sharer", "--host"])
            .arg(host.to_string())
            .arg(file)
            .env("LANSHARE_CONFIG_DIR", dir.join("sharer"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command.spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("send --direct has no stdout"))?;
        let (lines_in, lines) = flume::unbounded();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines_in.send(line);
            }
        });
        let mut id = None;
        loop {
            let Ok(line) = lines.recv_timeout(SHARING_LIMIT) else {
                let _ = child.kill();
                return Err(io::Error::other("send --direct did not start serving"));
            };
            if let Some((_, number)) = line.rsplit_once(" directly as #") {
                id = number.parse().ok();
            }
            let port = line
                .strip_prefix("Serving on port ")
                .and_then(|rest| rest.split(';').next())
                .and_then(|port| port.parse().ok());
            if let (Some(id), Some(port)) = (id, port) {
                return Ok(Self { child, id, port });
            }
        }
    }

    /// Stops sharing (Ctrl-C, as a person would).
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// A firewall in namespace `ns` that refuses connections to `port` (TCP reset: the
/// downloader turns to the host at once, rather than after its 3 s connect timeout).
fn refuse_port(ns: &str, port: u16) -> io::Result<()> {
    let rules = format!(
        "table inet lanshare_bench {{ chain input {{ type filter hook input priority 0; \
         tcp dport {port} reject with tcp reset; }}; }}"
    );
    let output = Command::new("ip")
        .args(["netns", "exec", ns, "nft", &rules])
        .output()?;
    if output.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "nft (nftables) could not refuse the sharer's port: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// The rows: direct and relayed against the line rate; the host's CPU and memory while
/// relaying.
pub fn rows(big: &Workload, results: &Results) -> Vec<Row> {
    let rate = Unit::BytesPerSecond;
    let line_rate = || Comparison {
        baseline: "line rate (TCP payload)".into(),
        value: Ok(Figure::new(lan::LINE_RATE_BYTES_PER_SECOND, rate)),
        target: None,
    };
    let against_line = |ratio: f64| Comparison {
        target: Some(Target::RatioAtLeast(ratio)),
        ..line_rate()
    };
    vec![
        Row {
            what: format!(
                "{} direct download (send --direct, get), 1 Gbit/s shaped veth",
                big.label
            ),
            lanshare: results.median("direct/direct", rate),
            comparisons: vec![against_line(0.95)],
        },
        Row {
            what: format!(
                "{} relayed through the host (sharer's port refused), 1 Gbit/s shaped veth",
                big.label
            ),
            lanshare: results.median("direct/relayed", rate),
            comparisons: vec![against_line(0.9)],
        },
        Row {
            what: "host CPU while relaying (share of one core)".into(),
            lanshare: results.median("direct/relayed/host_cpu", Unit::CoreShare),
            comparisons: Vec::new(),
        },
        Row {
            what: "host peak memory while relaying (VmHWM)".into(),
            lanshare: results.max("direct/relayed/host_peak_rss", Unit::Bytes),
            comparisons: vec![Comparison {
                baseline: "host's resident memory before the transfer".into(),
                value: results.median("direct/relayed/host_rss_before", Unit::Bytes),
                target: None,
            }],
        },
    ]
}
