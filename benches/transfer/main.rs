//! `cargo bench --bench transfer`: how fast lanshare moves files, each figure beside the
//! baselines measured in the same run (a raw TCP copy, a raw TLS 1.3 copy, the seed's plain
//! text, dufs, miniserve, the line rate of a shaped gigabit link), as one table. BENCHMARKS.md explains the rows and holds results.
//!
//! Options (after `--`): `--reps N` (default 3; each row is the median), `--only
//! loopback,lan,latency,scale,compression,direct`, `--big SIZE` (default 1GiB), `--small N` (default 1000),
//! `--workdir DIR` (default: a temporary folder under `target/`), `--no-warm` (do not touch
//! memory before each timed transfer; see [`workload::warm_memory`]).

mod compression;
mod direct;
mod encryption;
mod http;
mod lan;
mod lanes;
mod lanshare;
mod latency;
mod raw;
mod report;
mod scale;
mod seed;
mod tls_copy;
mod weed;
mod workload;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use http::{HttpServer, Server};
use lan::Lan;
use lanshare::{HostProcess, Participant, Store};
use raw::ReceiverWork;
use report::{Comparison, Figure, Results, Row, Target, Unit, rate_unit};
use workload::Workload;

/// 64 MiB: the memory the issue allows the host beyond what it stores.
const RSS_ALLOWANCE: f64 = 64.0 * 1024.0 * 1024.0;
/// Watchers joined during the offer-latency measurement.
const WATCHERS: usize = 100;
/// Uploads timed per repetition of the offer-latency measurement, and their size.
const OFFER_SAMPLES: usize = 200;
const OFFER_FILE_SIZE: usize = 64 * 1024;
/// Scale: participants joined, transfers at once, bytes each.
const CROWD: usize = 200;
const BURST: usize = 50;
const BURST_FILE_SIZE: usize = 10 << 20;

/// The parts of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Loopback,
    Lan,
    Latency,
    Scale,
    Compression,
    Direct,
}

impl Section {
    const ALL: [Self; 6] = [
        Self::Loopback,
        Self::Lan,
        Self::Latency,
        Self::Scale,
        Self::Compression,
        Self::Direct,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Loopback => "loopback",
            Self::Lan => "lan",
            Self::Latency => "latency",
            Self::Scale => "scale",
            Self::Compression => "compression",
            Self::Direct => "direct",
        }
    }
}

/// What this run measures.
struct Options {
    reps: usize,
    warm: bool,
    sections: Vec<Section>,
    big: u64,
    small: usize,
    workdir: Option<PathBuf>,
}

fn parse_options(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        reps: 3,
        warm: true,
        sections: Section::ALL.to_vec(),
        big: 1 << 30,
        small: 1000,
        workdir: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{arg} needs a value"))
                .cloned()
        };
        match arg.as_str() {
            "--reps" => options.reps = value()?.parse().context("--reps takes a number")?,
            "--small" => options.small = value()?.parse().context("--small takes a number")?,
            "--big" => {
                options.big = lanshare_units(&value()?)?;
            }
            "--workdir" => options.workdir = Some(PathBuf::from(value()?)),
            "--no-warm" => options.warm = false,
            "--only" => {
                let wanted = value()?;
                options.sections = wanted
                    .split(',')
                    .map(|name| {
                        Section::ALL
                            .into_iter()
                            .find(|s| s.name() == name.trim())
                            .with_context(|| format!("no section '{name}'"))
                    })
                    .collect::<anyhow::Result<_>>()?;
            }
            other => bail!("unknown option {other}"),
        }
    }
    if options.reps == 0 {
        bail!("--reps must be at least 1");
    }
    Ok(options)
}

fn lanshare_units(text: &str) -> anyhow::Result<u64> {
    ::lanshare::units::parse_size(text).map_err(anyhow::Error::msg)
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; nothing else here needs it.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| arg != "--bench")
        .collect();
    let outcome = match args.first().map(String::as_str) {
        Some("--raw-receive") => raw_helper_receive(&args[1..]),
        Some("--raw-send") => raw_helper_send(&args[1..]),
        _ => parse_options(&args).and_then(|options| run(&options)),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("transfer benchmark: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Helper mode: `--raw-receive ADDR DIR` (run inside a network namespace).
fn raw_helper_receive(args: &[String]) -> anyhow::Result<()> {
    let [address, dir] = args else {
        bail!("usage: --raw-receive ADDR DIR");
    };
    raw::serve_once(address.parse()?, Path::new(dir))?;
    Ok(())
}

/// Helper mode: `--raw-send ADDR FILE…` (run inside a network namespace).
fn raw_helper_send(args: &[String]) -> anyhow::Result<()> {
    let Some((address, files)) = args.split_first() else {
        bail!("usage: --raw-send ADDR FILE...");
    };
    let files: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
    raw::send_to(address.parse()?, &files)?;
    Ok(())
}

fn run(options: &Options) -> anyhow::Result<()> {
    let _ = ctrlc::set_handler(|| {
        lan::remove_all();
        eprintln!("interrupted; network namespaces removed");
        std::process::exit(130);
    });
    let temp = match &options.workdir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            tempfile::tempdir_in(dir)?
        }
        None => tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))?,
    };
    let work = temp.path();
    let load_before = load_average();
    eprintln!(
        "transfer benchmark: {} repetition(s) in {}; load average {load_before}",
        options.reps,
        work.display()
    );
    eprintln!("making the files…");
    let workloads = workload::create(&work.join("source"), options.big, options.small)?;
    let logs = if options.sections.contains(&Section::Compression) {
        Some(workload::create_logs(&work.join("source"), options.big)?)
    } else {
        None
    };
    let servers: Vec<(Server, Result<String, String>)> = [Server::Dufs, Server::Miniserve]
        .into_iter()
        .map(|server| (server, server.available()))
        .collect();

    let mut results = Results::default();
    // Kept running for every section: the object store's rows need it.
    let _weed = match weed::Weed::available() {
        Ok(version) => match weed::Weed::start(&work.join("weed")) {
            Ok(weed) => {
                results.note(format!("object store: SeaweedFS {version} on loopback"));
                Some(weed)
            }
            Err(error) => {
                results.note(format!("object store not measured: {error}"));
                None
            }
        },
        Err(reason) => {
            results.note(format!("object store not measured: {reason}"));
            None
        }
    };
    let mut rows = Vec::new();
    for section in &options.sections {
        match section {
            Section::Loopback => {
                loopback(options, work, &workloads, &servers, &mut results);
                rows.extend(loopback_rows(&workloads, &servers, &results, options.big));
            }
            Section::Lan => {
                lan_section(options, work, &workloads, &mut results);
                rows.extend(lan_rows(&workloads, &results));
            }
            Section::Latency => {
                latency_section(options, work, &mut results);
                rows.extend(latency_rows(&results));
            }
            Section::Scale => {
                scale_section(options, work, &mut results);
                rows.extend(scale_rows(&results));
            }
            Section::Compression => {
                let random = workloads.iter().find(|w| w.key == "big");
                if let (Some(logs), Some(random)) = (&logs, random) {
                    let files = compression::Files { logs, random };
                    compression::measure(options.reps, options.warm, work, &files, &mut results);
                    rows.extend(compression::rows(&files, &results));
                }
            }
            Section::Direct => {
                if let Some(big) = workloads.iter().find(|w| w.key == "big") {
                    direct::measure(options.reps, options.warm, work, big, &mut results);
                    rows.extend(direct::rows(big, &results));
                }
            }
        }
    }

    println!();
    println!("{}", machine_description(&servers));
    println!(
        "load average before: {load_before}; after: {}",
        load_average()
    );
    for note in results.notes() {
        println!("{note}");
    }
    println!(
        "each figure: median of {} repetition(s); rates in decimal units (1 GB/s = 10^9 B/s); \
         ratio = lanshare / baseline",
        options.reps
    );
    println!();
    print!("{}", report::table(&rows));
    Ok(())
}

const DIRECTIONS: [&str; 2] = ["up", "down"];

/// A system measured on loopback, running for one repetition and keeping what it receives.
enum Contender {
    /// A `lanshare host` and the command line that talks to it.
    Lanshare {
        store: Store,
        host: HostProcess,
        participant: Participant,
        dir: PathBuf,
    },
    /// dufs or miniserve, driven by curl.
    Http {
        server: Server,
        running: HttpServer,
        dir: PathBuf,
    },
}

impl Contender {
    /// Starts lanshare with `store` in `dir`, recording its memory just after it started.
    fn lanshare(store: Store, dir: PathBuf, results: &mut Results) -> std::io::Result<Self> {
        let host = HostProcess::start_loopback(store, &dir)?;
        results.record(
            &format!("rss/idle/{}", store.name()),
            host.peak_rss()? as f64,
        );
        let participant = Participant {
            wrapper: Vec::new(),
            config_dir: dir.join("participant"),
            host: host.address,
            compression: true,
        };
        Ok(Self::Lanshare {
            store,
            host,
            participant,
            dir,
        })
    }

    /// The start of its result keys.
    fn key(&self) -> String {
        match self {
            Self::Lanshare { store, .. } => format!("lanshare/{}", store.name()),
            Self::Http { server, .. } => format!("http/{}", server.name()),
        }
    }

    /// Uploads `workload`, then downloads it, each timed after warming memory; records both.
    fn round_trip(&self, workload: &Workload, options: &Options, results: &mut Results) {
        let key = format!("{}/{}", self.key(), workload.key);
        warm_before(options, workload);
        match self {
            Self::Lanshare {
                store,
                host,
                participant,
                dir,
            } => {
                let ids = match participant.send(&workload.files) {
                    Ok((elapsed, ids)) => {
                        if workload.key == "big" {
                            match host.peak_rss() {
                                Ok(rss) => {
                                    results.record(&format!("rss/{}", store.name()), rss as f64)
                                }
                                Err(error) => results
                                    .fail(&format!("rss/{}", store.name()), error.to_string()),
                            }
                        }
                        let verified = lanshare::verify_listed(participant, &workload.files, &ids);
                        results.record_rate(
                            &format!("{key}/up"),
                            workload,
                            verified.map(|()| elapsed),
                        );
                        ids
                    }
                    Err(error) => return results.fail(&format!("{key}/up"), error.to_string()),
                };
                let downloads = dir.join("downloads");
                warm_before(options, workload);
                let down = participant.get(&ids, &downloads).and_then(|elapsed| {
                    lanshare::verify_downloads(&workload.files, &downloads).map(|()| elapsed)
                });
                results.record_rate(&format!("{key}/down"), workload, down);
            }
            Self::Http { running, dir, .. } => {
                let up = running.upload(&workload.files, dir);
                let uploaded = up.is_ok();
                results.record_rate(&format!("{key}/up"), workload, up);
                if uploaded {
                    warm_before(options, workload);
                    let down = running.download(&workload.files, &dir.join("downloads"), dir);
                    results.record_rate(&format!("{key}/down"), workload, down);
                }
            }
        }
    }

    /// Stops it and removes what it stored.
    fn stop(self) {
        let dir = match self {
            Self::Lanshare { host, dir, .. } => {
                host.stop();
                dir
            }
            Self::Http { running, dir, .. } => {
                drop(running);
                dir
            }
        };
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Gives the next timed transfer warm memory, unless the run said `--no-warm` (see
/// [`workload::warm_memory`]).
fn warm_before(options: &Options, workload: &Workload) {
    if options.warm {
        workload::warm_memory(workload.bytes());
    }
}

/// Every workload through every system, one workload at a time, with the raw copies measured
/// just before and just after the systems, so that each figure and its baselines are measured
/// within moments of each other.
fn loopback(
    options: &Options,
    work: &Path,
    workloads: &[Workload],
    servers: &[(Server, Result<String, String>)],
    results: &mut Results,
) {
    for rep in 1..=options.reps {
        eprintln!("loopback, repetition {rep} of {}", options.reps);
        let contenders = start_contenders(work, servers, results);
        if rep == 1 {
            note_cipher_suites(&contenders, results);
        }
        for workload in workloads {
            raw_copies(options, work, workload, results);
            for contender in &contenders {
                contender.round_trip(workload, options, results);
                if let Contender::Lanshare {
                    store, host, dir, ..
                } = contender
                    && *store != Store::Object
                {
                    let setting = encryption::Setting {
                        host: host.address,
                        store: *store,
                        dir,
                        warm: options.warm,
                    };
                    encryption::measure(&setting, workload, rep, results);
                }
            }
            raw_copies(options, work, workload, results);
        }
        for contender in contenders {
            contender.stop();
        }
    }
}

/// Starts a lanshare host for each store and each HTTP server that is installed.
fn start_contenders(
    work: &Path,
    servers: &[(Server, Result<String, String>)],
    results: &mut Results,
) -> Vec<Contender> {
    let mut contenders = Vec::new();
    for store in Store::all() {
        let dir = work.join(format!("lanshare-{}", store.name()));
        match Contender::lanshare(store, dir, results) {
            Ok(contender) => contenders.push(contender),
            Err(error) => results.fail(&format!("lanshare/{}", store.name()), error.to_string()),
        }
    }
    for (server, available) in servers {
        if available.is_err() {
            continue;
        }
        let dir = work.join(server.name());
        match HttpServer::start(*server, &dir) {
            Ok(running) => contenders.push(Contender::Http {
                server: *server,
                running,
                dir,
            }),
            Err(error) => results.fail(&format!("http/{}", server.name()), error.to_string()),
        }
    }
    contenders
}

/// Notes the cipher suite each lanshare host negotiates with a client configured like
/// lanshare's participant (the raw TLS copy notes its own).
fn note_cipher_suites(contenders: &[Contender], results: &mut Results) {
    for contender in contenders {
        if let Contender::Lanshare { store, host, .. } = contender {
            let suite = tls_copy::negotiated_with(host.address)
                .unwrap_or_else(|error| format!("unknown ({error})"));
            results.note(format!(
                "TLS: lanshare host ({} store) negotiated {suite}",
                store.name()
            ));
        }
    }
}

/// The raw TCP copy and the raw TLS copy of `workload`, each after warming memory.
fn raw_copies(options: &Options, work: &Path, workload: &Workload, results: &mut Results) {
    let out = work.join("raw-out");
    warm_before(options, workload);
    let timed = raw::loopback_copy(&workload.files, &out);
    results.record_rate(&format!("raw/{}", workload.key), workload, timed);
    warm_before(options, workload);
    let timed = match tls_copy::loopback_copy(&workload.files, &out, ReceiverWork::default()) {
        Ok((elapsed, suite)) => {
            results.note(format!("TLS: raw TLS copy negotiated {suite}"));
            Ok(elapsed)
        }
        Err(error) => Err(error),
    };
    results.record_rate(&format!("tls/{}", workload.key), workload, timed);
    if workload.key == "big" {
        for (kind, work) in RECEIVER_WORK {
            warm_before(options, workload);
            let timed = tls_copy::loopback_copy(&workload.files, &out, work).map(|(t, _)| t);
            results.record_rate(&format!("{kind}/{}", workload.key), workload, timed);
        }
    }
}

/// The TLS copies that also do what a lanshare receiver must (measured for the big file only):
/// the key of their results, and the work.
const RECEIVER_WORK: [(&str, ReceiverWork); 3] = [
    (
        "tls-sha",
        ReceiverWork {
            sha256: true,
            sync: false,
        },
    ),
    (
        "tls-sha-sync",
        ReceiverWork {
            sha256: true,
            sync: true,
        },
    ),
    (
        "tls-sync",
        ReceiverWork {
            sha256: false,
            sync: true,
        },
    ),
];

/// For the big file's encrypted rows: the TLS copy doing the receiver's unavoidable work, as
/// information beside the plain copy (the host hashes every upload with SHA-256, the disk
/// store syncs it, `lanshare get` syncs what it saves).
fn copy_with_receiver_work(
    workload: &Workload,
    direction: &str,
    store: Store,
    results: &Results,
) -> Option<Comparison> {
    let (kind, baseline) = match (direction, store) {
        ("up", Store::Memory) => ("tls-sha", "raw TLS copy, receiver hashing SHA-256"),
        ("up", Store::Disk) => ("tls-sha-sync", "raw TLS copy, receiver hashing and syncing"),
        _ => ("tls-sync", "raw TLS copy, receiver syncing the file"),
    };
    (workload.key == "big").then(|| Comparison {
        baseline: baseline.into(),
        value: results.median(&format!("{kind}/{}", workload.key), rate_unit(workload)),
        target: None,
    })
}

fn loopback_rows(
    workloads: &[Workload],
    servers: &[(Server, Result<String, String>)],
    results: &Results,
    big: u64,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for workload in workloads {
        for direction in DIRECTIONS {
            for store in Store::all() {
                rows.push(command_line_row(
                    workload, direction, store, servers, results,
                ));
            }
            rows.extend(encryption::rows(workload, direction, results));
        }
    }
    rows.extend(rss_rows(results, big));
    rows
}

/// "upload" or "download", for labels.
fn verb(direction: &str) -> &'static str {
    if direction == "up" {
        "upload"
    } else {
        "download"
    }
}

/// The command line's transfer of `workload` (encrypted, as the command line always is) in
/// `direction` with `store`, beside the raw copies, the seed's plain text where measured, and
/// the HTTP servers.
fn command_line_row(
    workload: &Workload,
    direction: &str,
    store: Store,
    servers: &[(Server, Result<String, String>)],
    results: &Results,
) -> Row {
    let unit = rate_unit(workload);
    let raw = |kind: &str| results.median(&format!("{kind}/{}", workload.key), unit);
    let mut comparisons = vec![
        Comparison {
            baseline: "raw TLS 1.3 copy, file to file".into(),
            value: raw("tls"),
            target: (workload.key == "big").then_some(Target::RatioAtLeast(0.9)),
        },
        Comparison {
            baseline: "raw TCP copy, file to file".into(),
            value: raw("raw"),
            target: None,
        },
    ];
    comparisons.extend(copy_with_receiver_work(workload, direction, store, results));
    comparisons.extend(encryption::plain_beside_command_line(
        workload, store, direction, results,
    ));
    for (server, available) in servers {
        let value = match available {
            Ok(_) => results.median(
                &format!("http/{}/{}/{direction}", server.name(), workload.key),
                unit,
            ),
            Err(reason) => Err(reason.clone()),
        };
        let baseline = if direction == "up" {
            server.upload_method().to_owned()
        } else {
            format!("{} GET", server.name())
        };
        comparisons.push(Comparison {
            baseline,
            value,
            target: Some(Target::Faster),
        });
    }
    let key = format!("lanshare/{}/{}/{direction}", store.name(), workload.key);
    Row {
        what: format!(
            "{} {}, {} store, encrypted",
            workload.label,
            verb(direction),
            store.name()
        ),
        lanshare: results.median(&key, unit),
        comparisons,
    }
}

/// The host's peak memory while receiving the big file, for each store.
fn rss_rows(results: &Results, big: u64) -> Vec<Row> {
    let big_label = workload::size_label(big);
    let object = Store::all().contains(&Store::Object).then(|| Row {
        what: format!("host peak RSS receiving {big_label}, object store"),
        lanshare: results.max("rss/object", Unit::Bytes),
        comparisons: vec![Comparison {
            baseline: "same host just started".into(),
            value: results.median("rss/idle/object", Unit::Bytes),
            target: Some(Target::AtMost(RSS_ALLOWANCE)),
        }],
    });
    vec![
        Row {
            what: format!("host peak RSS receiving {big_label}, disk store"),
            lanshare: results.max("rss/disk", Unit::Bytes),
            comparisons: vec![Comparison {
                baseline: "same host just started".into(),
                value: results.median("rss/idle/disk", Unit::Bytes),
                target: Some(Target::AtMost(RSS_ALLOWANCE)),
            }],
        },
        Row {
            what: format!("host peak RSS receiving {big_label}, memory store"),
            lanshare: results.max("rss/memory", Unit::Bytes),
            comparisons: vec![Comparison {
                baseline: "bytes stored".into(),
                value: Ok(Figure::new(big as f64, Unit::Bytes)),
                target: Some(Target::AtMostBaselinePlus(RSS_ALLOWANCE)),
            }],
        },
    ]
    .into_iter()
    .chain(object)
    .collect()
}

fn lan_section(options: &Options, work: &Path, workloads: &[Workload], results: &mut Results) {
    if let Some(reason) = lan::unavailable() {
        results.fail("lan", reason);
        return;
    }
    let Some(workload) = workloads.iter().find(|w| w.key == "100mib") else {
        return;
    };
    let lan = match Lan::create() {
        Ok(lan) => lan,
        Err(error) => {
            results.fail("lan", format!("could not set up namespaces: {error}"));
            return;
        }
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe.to_string_lossy().into_owned(),
        Err(error) => {
            results.fail("lan", error.to_string());
            return;
        }
    };
    let out = work.join("lan-raw");
    let files: Vec<String> = workload
        .files
        .iter()
        .map(|f| f.path.to_string_lossy().into_owned())
        .collect();
    for rep in 1..=options.reps {
        eprintln!("shaped LAN, repetition {rep} of {}", options.reps);
        for (direction, receiving_side, sending_side, receiver_address) in [
            ("up", lan.in_host(), lan.in_peer(), Lan::host_address(7001)),
            (
                "down",
                lan.in_peer(),
                lan.in_host(),
                Lan::peer_address(7001),
            ),
        ] {
            let _ = std::fs::create_dir_all(&out);
            let mut receiver = lanshare::wrapped(&receiving_side, &exe);
            receiver
                .args(["--raw-receive", &receiver_address.to_string()])
                .arg(&out);
            let mut sender = lanshare::wrapped(&sending_side, &exe);
            sender
                .args(["--raw-send", &receiver_address.to_string()])
                .args(&files);
            let timed = raw::timed_between(receiver, sender)
                .and_then(|elapsed| raw::verify_copies(&workload.files, &out).map(|()| elapsed));
            results.record_rate(&format!("lan/raw/{direction}"), workload, timed);
        }
        let dir = work.join("lan-lanshare");
        let _ = std::fs::create_dir_all(&dir);
        match HostProcess::start(&lan.in_host(), Lan::host_address(5005), Store::Memory, &dir) {
            Ok(host) => {
                let participant = Participant {
                    wrapper: lan.in_peer(),
                    config_dir: dir.join("participant"),
                    host: host.address,
                    compression: true,
                };
                match participant.send(&workload.files) {
                    Ok((elapsed, ids)) => {
                        results.record_rate("lan/lanshare/up", workload, Ok(elapsed));
                        let downloads = dir.join("downloads");
                        let down = participant.get(&ids, &downloads).and_then(|elapsed| {
                            lanshare::verify_downloads(&workload.files, &downloads)
                                .map(|()| elapsed)
                        });
                        results.record_rate("lan/lanshare/down", workload, down);
                    }
                    Err(error) => results.fail("lan/lanshare/up", error.to_string()),
                }
                host.stop();
            }
            Err(error) => results.fail("lan/lanshare/up", error.to_string()),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    drop(lan);
}

fn lan_rows(workloads: &[Workload], results: &Results) -> Vec<Row> {
    let label = workloads
        .iter()
        .find(|w| w.key == "100mib")
        .map_or("100 MiB".into(), |w| w.label.clone());
    DIRECTIONS
        .into_iter()
        .map(|direction| {
            let lanshare =
                results.median(&format!("lan/lanshare/{direction}"), Unit::BytesPerSecond);
            Row {
                what: format!(
                    "{label} {}, 1 Gbit/s shaped veth, memory store, encrypted",
                    verb(direction)
                ),
                lanshare,
                comparisons: vec![
                    Comparison {
                        baseline: "line rate (TCP payload)".into(),
                        value: Ok(Figure::new(
                            lan::LINE_RATE_BYTES_PER_SECOND,
                            Unit::BytesPerSecond,
                        )),
                        target: Some(Target::RatioAtLeast(0.95)),
                    },
                    Comparison {
                        baseline: "raw TCP copy, same link".into(),
                        value: results
                            .median(&format!("lan/raw/{direction}"), Unit::BytesPerSecond),
                        target: None,
                    },
                ],
            }
        })
        .collect()
}

fn latency_section(options: &Options, work: &Path, results: &mut Results) {
    let dir = work.join("latency");
    let measured = (|| -> std::io::Result<()> {
        let host = HostProcess::start_loopback(Store::Memory, &dir)?;
        let watchers = latency::Watchers::join(host.address, WATCHERS)?;
        for rep in 1..=options.reps {
            eprintln!("offer latency, repetition {rep} of {}", options.reps);
            let samples = watchers.measure(host.address, OFFER_FILE_SIZE, OFFER_SAMPLES)?;
            results.record("latency/p50", report::percentile(&samples, 50.0));
            results.record("latency/p99", report::percentile(&samples, 99.0));
            let floor = raw::fanout_latency(WATCHERS, OFFER_FILE_SIZE, OFFER_SAMPLES)?;
            results.record("latency/raw/p50", report::percentile(&floor, 50.0));
            results.record("latency/raw/p99", report::percentile(&floor, 99.0));
        }
        host.stop();
        Ok(())
    })();
    if let Err(error) = measured {
        results.fail("latency", error.to_string());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn latency_rows(results: &Results) -> Vec<Row> {
    ["p50", "p99"]
        .into_iter()
        .map(|p| Row {
            what: format!(
                "offer latency {p}, {WATCHERS} watchers ({} KiB uploads)",
                OFFER_FILE_SIZE / 1024
            ),
            lanshare: results.median(&format!("latency/{p}"), Unit::Seconds),
            comparisons: vec![Comparison {
                baseline: format!("raw TCP fan-out to {WATCHERS} sockets"),
                value: results.median(&format!("latency/raw/{p}"), Unit::Seconds),
                target: (p == "p99").then_some(Target::AtMost(0.020)),
            }],
        })
        .collect()
}

fn scale_section(options: &Options, work: &Path, results: &mut Results) {
    let dir = work.join("scale");
    let mut bytes = vec![0u8; BURST_FILE_SIZE];
    workload::fill_pseudo_random(&mut bytes, &mut 0x2545_F491_4F6C_DD1D);
    let expected = lanshare_digest(&bytes);
    let bytes = Arc::new(bytes);
    let total = (BURST * BURST_FILE_SIZE) as f64;
    let measured = (|| -> std::io::Result<()> {
        let host = HostProcess::start_loopback(Store::Memory, &dir)?;
        let crowd = scale::Crowd::join(host.address, CROWD)?;
        let mut errors = 0;
        for rep in 1..=options.reps {
            eprintln!("scale, repetition {rep} of {}", options.reps);
            let up = crowd.upload_burst(host.address, BURST, &bytes);
            results.record("scale/up", total / up.elapsed.as_secs_f64());
            let down = scale::Crowd::download_burst(host.address, &up.stored, expected);
            results.record(
                "scale/down",
                (down.stored.len() * BURST_FILE_SIZE) as f64 / down.elapsed.as_secs_f64(),
            );
            errors += up.errors + down.errors;
            let raw = raw::parallel_memory_copies(BURST, &bytes)?;
            results.record("scale/raw", total / raw.as_secs_f64());
        }
        errors += crowd.closed_sessions();
        results.record("scale/errors", errors as f64);
        host.stop();
        Ok(())
    })();
    if let Err(error) = measured {
        results.fail("scale", error.to_string());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn lanshare_digest(bytes: &[u8]) -> ::lanshare::protocol::Sha256Digest {
    ::lanshare::protocol::Sha256Digest(Sha256::digest(bytes).into())
}

fn scale_rows(results: &Results) -> Vec<Row> {
    let label =
        |what: &str| format!("{BURST} x 10 MiB {what} at once, {CROWD} joined, memory store");
    vec![
        Row {
            what: label("uploads"),
            lanshare: results.median("scale/up", Unit::BytesPerSecond),
            comparisons: vec![Comparison {
                baseline: format!("{BURST} raw TCP copies at once"),
                value: results.median("scale/raw", Unit::BytesPerSecond),
                target: None,
            }],
        },
        Row {
            what: label("downloads"),
            lanshare: results.median("scale/down", Unit::BytesPerSecond),
            comparisons: vec![Comparison {
                baseline: format!("{BURST} raw TCP copies at once"),
                value: results.median("scale/raw", Unit::BytesPerSecond),
                target: None,
            }],
        },
        Row {
            what: format!(
                "errors in {} transfers, sessions dropped",
                results.count("scale/up") * BURST * 2
            ),
            lanshare: results.max("scale/errors", Unit::Count),
            comparisons: vec![Comparison {
                baseline: "none allowed".into(),
                value: Ok(Figure::new(0.0, Unit::Count)),
                target: Some(Target::AtMost(0.0)),
            }],
        },
    ]
}

/// `/proc/loadavg`'s three load averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".into())
}

/// The machine and the programs measured, for the report.
fn machine_description(servers: &[(Server, Result<String, String>)]) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let sha_ni = cpuinfo.split_whitespace().any(|flag| flag == "sha_ni");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or("unknown".into(), |kib| {
            format!("{:.0} GiB", kib as f64 / 1048576.0)
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|text| text.trim().to_owned())
        .unwrap_or_default();
    let lanshare = http::version(lanshare::BINARY).unwrap_or_default();
    let curl = http::version("curl")
        .map(|v| v.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "curl not installed".into());
    let others: Vec<String> = servers
        .iter()
        .map(|(server, available)| match available {
            Ok(version) => version.clone(),
            Err(reason) => format!("{}: {reason}", server.name()),
        })
        .collect();
    format!(
        "machine: {model} ({cores} cores{}), {memory} RAM, Linux {kernel}\n\
         measured: {lanshare}; {}; {curl}",
        if sha_ni { ", SHA-NI" } else { "" },
        others.join("; ")
    )
}
