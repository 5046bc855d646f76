//! Transfers on background threads, reporting typed events over a flume channel.
//!
//! The command line renders these events as progress bars; the desktop app turns the same
//! channel into an Iced subscription. Progress is sent at most every 50 ms (about 20 updates a
//! second) plus once at the end, however fast the transfer runs. Both go through one
//! scheduler, [`TransferLanes`]: transfers queue, and a few lanes (threads, each over one
//! connection it keeps from one transfer to the next, one `AUTH`) run them, so a folder of
//! thousands of files never opens thousands of connections. A transfer whose connection is
//! lost reconnects by itself and continues where it stopped (`UPLOAD_RESUME`, or `DOWNLOAD`
//! from the `.part` file's length), reporting [`TransferUpdate::Resuming`] meanwhile.
//!
//! `spawn_*` run a batch on a scheduler of its own with one lane: one after another, over
//! one connection.

mod job;
mod lanes;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use job::{Route, TransferEvent, TransferHandle, TransferId, TransferUpdate, UploadItem};
pub use lanes::{LANES, SMALL_FILE_LANES, TransferLanes, lanes_for};

use super::error::Error;
use super::listing::FileEntry;
use super::save::Destination;
use super::session::Credentials;
use super::transfer::{FetchedPreview, TransferConnection};
use crate::protocol::{FileId, Passcode, ShareOptions, VersionInfo};

/// Uploads the file at `path` on a new thread, shared under `name`. With `credentials`, it is
/// shared as that participant; without, as a guest (like a seed client).
pub fn spawn_upload(
    host: SocketAddr,
    credentials: Option<Credentials>,
    path: PathBuf,
    name: String,
    events: flume::Sender<TransferEvent>,
) -> Result<TransferHandle, Error> {
    let handles = spawn_uploads(
        host,
        None,
        credentials,
        vec![UploadItem {
            path,
            name,
            options: ShareOptions::default(),
            new_file: false,
        }],
        events,
    )?;
    only_handle(handles)
}

/// The handle of a batch of one transfer.
fn only_handle(mut handles: Vec<TransferHandle>) -> Result<TransferHandle, Error> {
    handles
        .pop()
        .ok_or_else(|| Error::lost(std::io::Error::other("no transfer was started")))
}

/// Uploads files one after another on one new thread, over one connection (one `AUTH`), as
/// [`spawn_upload`] does for one (with a host's `passcode`, if it has one). Every file is
/// checked before any is sent: a missing, unreadable or folder path is an error and nothing
/// starts. Returns a handle per file, in order; each file reports its own events.
pub fn spawn_uploads(
    host: SocketAddr,
    passcode: Option<Passcode>,
    credentials: Option<Credentials>,
    items: Vec<UploadItem>,
    events: flume::Sender<TransferEvent>,
) -> Result<Vec<TransferHandle>, Error> {
    let route = Route {
        host,
        passcode,
        credentials,
        identity: None,
        compression: true,
    };
    TransferLanes::new(1).upload(route, items, &events)
}

/// Downloads `entry` to `destination` on a new thread.
pub fn spawn_download(
    host: SocketAddr,
    entry: FileEntry,
    destination: Destination,
    events: flume::Sender<TransferEvent>,
) -> Result<TransferHandle, Error> {
    spawn_download_with(host, None, entry, destination, events)
}

/// [`spawn_download`] from a host with a passcode (e.g. [`Session::passcode`](super::session::Session::passcode)).
pub fn spawn_download_with(
    host: SocketAddr,
    passcode: Option<Passcode>,
    entry: FileEntry,
    destination: Destination,
    events: flume::Sender<TransferEvent>,
) -> Result<TransferHandle, Error> {
    only_handle(spawn_downloads(
        host,
        passcode,
        vec![(entry, destination)],
        events,
    )?)
}

/// Downloads files one after another on one new thread, over one connection, as
/// [`spawn_download_with`] does for one. Returns a handle per file, in order; each file
/// reports its own events.
pub fn spawn_downloads(
    host: SocketAddr,
    passcode: Option<Passcode>,
    items: Vec<(FileEntry, Destination)>,
    events: flume::Sender<TransferEvent>,
) -> Result<Vec<TransferHandle>, Error> {
    let route = Route {
        host,
        passcode,
        credentials: None,
        identity: None,
        compression: true,
    };
    Ok(TransferLanes::new(1).download(route, items, &events))
}

/// The kept versions of `file_id` on `route`'s host, oldest first, asked on a connection of
/// its own as the route's participant (or with its passcode). Blocking: a screen runs it in
/// a task.
pub fn list_versions(route: &Route, file_id: FileId) -> Result<Vec<VersionInfo>, Error> {
    connect_as(route)?.versions(file_id)
}

/// The preview of `file_id` on `route`'s host, asked on a connection of its own as the
/// route's participant (or with its passcode). Blocking: a screen runs it in a task.
pub fn fetch_preview(route: &Route, file_id: FileId) -> Result<FetchedPreview, Error> {
    connect_as(route)?.preview(file_id)
}

/// A connection to `route`'s host, proven as its participant (or with its passcode).
fn connect_as(route: &Route) -> Result<TransferConnection, Error> {
    let mut connection = TransferConnection::connect(route.host)?;
    match (&route.credentials, &route.passcode) {
        (Some(credentials), _) => connection.authenticate(credentials)?,
        (None, Some(passcode)) => match &route.identity {
            Some(identity) => connection.prove_passcode_as(passcode, identity)?,
            None => connection.prove_passcode(passcode)?,
        },
        (None, None) => {}
    }
    Ok(connection)
}
