//! What encryption costs, on the loopback hosts the command-line rows use: the big file in the
//! seed's plain text (beside the command line's encrypted transfer of it), and the many small
//! files in plain text and encrypted through the library, in the same number of lanes.

use std::net::SocketAddr;
use std::path::Path;

use crate::lanes::{self, Client};
use crate::lanshare::Store;
use crate::report::{Comparison, Results, Row, Target, rate_unit};
use crate::workload::{self, Workload};

/// Lanes the `lanshare` command line uses for many small files (`SMALL_FILE_LANES` in
/// src/cli/client.rs); the small-file comparison uses as many for both clients.
pub const SMALL_FILE_LANES: usize = 16;

/// Where a measurement runs: a host on loopback, its store, a folder for downloads, and
/// whether to warm memory before each timed transfer.
pub struct Setting<'a> {
    /// The host's address.
    pub host: SocketAddr,
    /// The host's store.
    pub store: Store,
    /// A folder for downloads (created and removed here).
    pub dir: &'a Path,
    /// Warm memory first (see [`workload::warm_memory`]).
    pub warm: bool,
}

/// Result key of a transfer by `client` in `lanes`-lane mode, e.g. `lanes/plain/memory/big`.
fn key(client: Client, store: Store, workload: &Workload) -> String {
    format!("lanes/{}/{}/{}", client.name(), store.name(), workload.key)
}

/// Uploads then downloads `workload` with `client` in `lanes` lanes, recording both rates
/// under [`key`]; downloads are checked against the source files (which also checks the
/// uploads).
fn round_trip(
    setting: &Setting,
    client: Client,
    workload: &Workload,
    lanes: usize,
    results: &mut Results,
) {
    let key = key(client, setting.store, workload);
    if setting.warm {
        workload::warm_memory(workload.bytes());
    }
    let (elapsed, ids) = match lanes::upload_all(setting.host, client, &workload.files, lanes) {
        Ok(uploaded) => uploaded,
        Err(error) => return results.fail(&format!("{key}/up"), error.to_string()),
    };
    results.record_rate(&format!("{key}/up"), workload, Ok(elapsed));
    if setting.warm {
        workload::warm_memory(workload.bytes());
    }
    let downloads = setting.dir.join(format!("{}-downloads", client.name()));
    let down =
        lanes::download_all(setting.host, client, &ids, &downloads, lanes).and_then(|elapsed| {
            lanes::verify_downloads(&workload.files, &ids, &downloads).map(|()| elapsed)
        });
    results.record_rate(&format!("{key}/down"), workload, down);
}

/// The transfers of `workload` this module adds, after the command line's on the same host:
/// the big file in plain text (memory store), and the many small files in plain text and
/// encrypted, in an order that alternates with `rep` so neither always goes first.
pub fn measure(setting: &Setting, workload: &Workload, rep: usize, results: &mut Results) {
    if workload.is_many() {
        let mut clients = [Client::Encrypted, Client::Plain];
        if rep.is_multiple_of(2) {
            clients.reverse();
        }
        for client in clients {
            round_trip(setting, client, workload, SMALL_FILE_LANES, results);
        }
    } else if workload.key == "big" && setting.store == Store::Memory {
        round_trip(setting, Client::Plain, workload, 1, results);
    }
}

/// The plain-text comparison beside the command line's encrypted row of `workload`, if this
/// module measured one.
pub fn plain_beside_command_line(
    workload: &Workload,
    store: Store,
    direction: &str,
    results: &Results,
) -> Option<Comparison> {
    (workload.key == "big" && store == Store::Memory).then(|| Comparison {
        baseline: "plain text, seed client (below)".into(),
        value: results.median(
            &format!("{}/{direction}", key(Client::Plain, store, workload)),
            rate_unit(workload),
        ),
        target: None,
    })
}

/// The rows of `workload` in `direction` this module measured: the big file in plain text
/// against the raw copy, or the small files encrypted against plain text.
pub fn rows(workload: &Workload, direction: &str, results: &Results) -> Vec<Row> {
    let unit = rate_unit(workload);
    let verb = if direction == "up" {
        "upload"
    } else {
        "download"
    };
    let median = |client, store| {
        results.median(
            &format!("{}/{direction}", key(client, store, workload)),
            unit,
        )
    };
    if workload.key == "big" {
        return vec![Row {
            what: format!(
                "{} {verb}, memory store, plain text (seed client)",
                workload.label
            ),
            lanshare: median(Client::Plain, Store::Memory),
            comparisons: vec![Comparison {
                baseline: "raw TCP copy, file to file".into(),
                value: results.median(&format!("raw/{}", workload.key), unit),
                target: Some(Target::RatioAtLeast(0.9)),
            }],
        }];
    }
    if !workload.is_many() {
        return Vec::new();
    }
    [Store::Memory, Store::Disk]
        .into_iter()
        .map(|store| Row {
            what: format!(
                "{} {verb}, {} store, encrypted (library, {SMALL_FILE_LANES} lanes)",
                workload.label,
                store.name()
            ),
            lanshare: median(Client::Encrypted, store),
            comparisons: vec![Comparison {
                baseline: format!("plain text, seed client, {SMALL_FILE_LANES} lanes"),
                value: median(Client::Plain, store),
                target: Some(Target::RatioAtLeast(0.8)),
            }],
        })
        .collect()
}
