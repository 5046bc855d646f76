//! The compression rows (issue 15): lanshare's adaptive zstd on the shaped gigabit link and on
//! loopback, for generated logs (compressible) and the random big file, each beside a baseline
//! from the same run: the link's line rate, or the same transfer with `--no-compression`.
//!
//! Every round trip (`lanshare send`, then `lanshare get`) has a `lanshare host` (memory store)
//! of its own, so no host holds more than one big file; the order of compression on and off
//! alternates between repetitions.

use std::net::SocketAddr;
use std::path::Path;

use crate::lan::{self, Lan};
use crate::lanshare::{self, HostProcess, Participant, Store};
use crate::report::{Comparison, Figure, Results, Row, Target, Unit};
use crate::workload::{self, Workload};

/// Where a round trip runs.
struct Place<'a> {
    /// `loopback` or `lan`, for keys.
    key: &'static str,
    /// Runs the host in it (empty: directly).
    host_wrapper: Vec<String>,
    /// Runs the participant in it.
    peer_wrapper: Vec<String>,
    /// Where the host listens.
    bind: SocketAddr,
    /// The folder for the host's and the participant's configuration and downloads.
    dir: &'a Path,
    /// Whether to warm memory before each timed transfer.
    warm: bool,
}

/// The files the rows move: generated logs and the random big file.
pub struct Files<'a> {
    /// The compressible file.
    pub logs: &'a Workload,
    /// The incompressible file.
    pub random: &'a Workload,
}

/// Measures every compression row, `reps` times: on loopback, then on the shaped link (where
/// the logs go only compressed: their baseline there is the line rate).
pub fn measure(reps: usize, warm: bool, work: &Path, files: &Files, results: &mut Results) {
    let dir = work.join("compression");
    let loopback = Place {
        key: "loopback",
        host_wrapper: Vec::new(),
        peer_wrapper: Vec::new(),
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        dir: &dir,
        warm,
    };
    for rep in 1..=reps {
        eprintln!("compression on loopback, repetition {rep} of {reps}");
        for workload in [files.logs, files.random] {
            for compression in in_turn(rep) {
                round_trip(&loopback, workload, compression, results);
            }
        }
    }
    if let Some(reason) = lan::unavailable() {
        return results.fail("compression/lan", reason);
    }
    let shaped = match Lan::create() {
        Ok(shaped) => shaped,
        Err(error) => {
            return results.fail(
                "compression/lan",
                format!("could not set up namespaces: {error}"),
            );
        }
    };
    let link = Place {
        key: "lan",
        host_wrapper: shaped.in_host(),
        peer_wrapper: shaped.in_peer(),
        bind: Lan::host_address(0),
        dir: &dir,
        warm,
    };
    for rep in 1..=reps {
        eprintln!("compression on the shaped LAN, repetition {rep} of {reps}");
        round_trip(&link, files.logs, true, results);
        for compression in in_turn(rep) {
            round_trip(&link, files.random, compression, results);
        }
    }
    drop(shaped);
}

/// Compression on, then off, in odd repetitions; off, then on, in even ones.
fn in_turn(rep: usize) -> [bool; 2] {
    if rep % 2 == 1 {
        [true, false]
    } else {
        [false, true]
    }
}

/// `on` or `off`, for keys.
fn mode(compression: bool) -> &'static str {
    if compression { "on" } else { "off" }
}

/// The result key of a transfer.
fn key(place: &str, workload: &str, compression: bool, direction: &str) -> String {
    format!(
        "compression/{place}/{workload}/{}/{direction}",
        mode(compression)
    )
}

/// Uploads `workload` to a new host in `place`, then downloads it, each timed after warming
/// memory and verified afterwards; records both rates, and the upload's wire bytes.
fn round_trip(place: &Place, workload: &Workload, compression: bool, results: &mut Results) {
    let up = key(place.key, workload.key, compression, "up");
    let down = key(place.key, workload.key, compression, "down");
    let _ = std::fs::create_dir_all(place.dir);
    let host = match HostProcess::start(&place.host_wrapper, place.bind, Store::Memory, place.dir) {
        Ok(host) => host,
        Err(error) => return results.fail(&up, error.to_string()),
    };
    let participant = Participant {
        wrapper: place.peer_wrapper.clone(),
        config_dir: place.dir.join("participant"),
        host: host.address,
        compression,
    };
    warm_before(place, workload);
    match participant.send_counting_wire(&workload.files) {
        Ok((elapsed, ids, wire)) => {
            let verified = lanshare::verify_listed(&participant, &workload.files, &ids);
            results.record_rate(&up, workload, verified.map(|()| elapsed));
            results.record(
                &format!("{up}/wire"),
                wire.unwrap_or(workload.bytes()) as f64,
            );
            let downloads = place.dir.join("downloads");
            warm_before(place, workload);
            let timed = participant.get(&ids, &downloads).and_then(|elapsed| {
                lanshare::verify_downloads(&workload.files, &downloads).map(|()| elapsed)
            });
            results.record_rate(&down, workload, timed);
        }
        Err(error) => results.fail(&up, error.to_string()),
    }
    host.stop();
    let _ = std::fs::remove_dir_all(place.dir);
}

fn warm_before(place: &Place, workload: &Workload) {
    if place.warm {
        workload::warm_memory(workload.bytes());
    }
}

/// The rows: on the shaped link, the logs against the line rate and the random file against
/// itself uncompressed; on loopback, both files against themselves uncompressed; and the wire
/// bytes of each compressed upload of the logs.
pub fn rows(files: &Files, results: &Results) -> Vec<Row> {
    let mut rows = Vec::new();
    for direction in ["up", "down"] {
        rows.push(logs_on_the_link(files, direction, results));
        rows.push(against_uncompressed(
            "lan",
            files.random,
            direction,
            0.98,
            results,
        ));
    }
    for workload in [files.logs, files.random] {
        for direction in ["up", "down"] {
            rows.push(against_uncompressed(
                "loopback", workload, direction, 0.95, results,
            ));
        }
    }
    for place in ["lan", "loopback"] {
        let key = format!("{}/wire", key(place, files.logs.key, true, "up"));
        rows.push(Row {
            what: format!(
                "{} compressed upload ({}): bytes on the wire",
                files.logs.label,
                place_label(place)
            ),
            lanshare: results.median(&key, Unit::Bytes),
            comparisons: vec![Comparison {
                baseline: "the file's bytes".into(),
                value: Ok(Figure::new(files.logs.bytes() as f64, Unit::Bytes)),
                target: None,
            }],
        });
    }
    rows
}

fn place_label(place: &str) -> &'static str {
    if place == "lan" {
        "1 Gbit/s shaped veth"
    } else {
        "loopback"
    }
}

/// "upload" or "download".
fn verb(direction: &str) -> &'static str {
    if direction == "up" {
        "upload"
    } else {
        "download"
    }
}

/// The logs over the shaped link, compressed: file bytes per second against the line rate
/// (target 2), and beside the random file's uncompressed transfer over the same link.
fn logs_on_the_link(files: &Files, direction: &str, results: &Results) -> Row {
    let unit = Unit::BytesPerSecond;
    Row {
        what: format!(
            "{} {}, 1 Gbit/s shaped veth, compressed (default)",
            files.logs.label,
            verb(direction)
        ),
        lanshare: results.median(&key("lan", files.logs.key, true, direction), unit),
        comparisons: vec![
            Comparison {
                baseline: "line rate (TCP payload)".into(),
                value: Ok(Figure::new(lan::LINE_RATE_BYTES_PER_SECOND, unit)),
                target: Some(Target::RatioAtLeast(2.0)),
            },
            Comparison {
                baseline: format!("{} random, --no-compression, same link", files.random.label),
                value: results.median(&key("lan", files.random.key, false, direction), unit),
                target: None,
            },
        ],
    }
}

/// `workload` in `place` compressed (the default) against the same with `--no-compression`.
fn against_uncompressed(
    place: &str,
    workload: &Workload,
    direction: &str,
    ratio: f64,
    results: &Results,
) -> Row {
    let unit = Unit::BytesPerSecond;
    let what = if workload.key == "big" {
        format!("{} random", workload.label)
    } else {
        workload.label.clone()
    };
    Row {
        what: format!(
            "{what} {}, {}, compression on (default)",
            verb(direction),
            place_label(place)
        ),
        lanshare: results.median(&key(place, workload.key, true, direction), unit),
        comparisons: vec![Comparison {
            baseline: "same, --no-compression".into(),
            value: results.median(&key(place, workload.key, false, direction), unit),
            target: Some(Target::RatioAtLeast(ratio)),
        }],
    }
}
