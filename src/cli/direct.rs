//! `lanshare send --direct` and `lanshare serve`: share files from this machine. The host lists
//! them and vouches for downloaders; this process serves the bytes until Ctrl-C (or until its
//! session ends).

use std::fs::File;
use std::io::{IsTerminal, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget};
use lanshare::config::config_dir;
use lanshare::direct::{DIRECT_IDENTITY_FILE, DirectFile, DirectServer};
use lanshare::participant::{Session, SessionEvent};
use lanshare::pipeline::{StreamHash, UploadDigests, UploadHash};
use lanshare::protocol::{Audience, DirectShare, FileId};
use lanshare::tls::HostIdentity;
use lanshare::units::format_size;

use super::client::{Target, file_to_share, join, target};
use super::kept_shares::{self, KeptShare};
use super::output::printable;
use super::{SendArgs, ServeArgs, User};

/// How long the host may take to list a file shared directly.
const LISTING_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes read at a time while hashing.
const HASH_CHUNK: usize = 1 << 20;

/// A file ready to share: how it is served, its digests, and who may see it (`None`:
/// everyone).
struct Prepared {
    file: DirectFile,
    digests: UploadDigests,
    only: Option<Audience>,
}

/// Hashes the files, then shares them from this machine and serves them.
pub(super) fn send(args: &SendArgs) -> anyhow::Result<()> {
    let mut files = Vec::new();
    for path in &args.files {
        let (file, digests) = prepare(path)?;
        let only = args.only.clone();
        files.push(Prepared {
            file,
            digests,
            only,
        });
    }
    let target = target(&args.address, false)?;
    share_and_serve(&target, &args.user, files)
}

/// `lanshare serve`: shares again what `send --direct` shared with this host (hashing only the
/// files changed since), and serves it.
pub(super) fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    let target = target(&args.address, false)?;
    let host = target.address.to_string();
    let mut files = Vec::new();
    for kept in kept_shares::load(&config_dir()) {
        if kept.host != host {
            continue;
        }
        let only = kept
            .only
            .clone()
            .and_then(|names| Audience::new(names).ok());
        let (file, digests) = match kept.digests().filter(|_| kept.unchanged()) {
            Some(digests) => (direct_file(&kept.path, kept.size)?, digests),
            None if kept.path.is_file() => prepare(&kept.path)?,
            None => {
                eprintln!(
                    "lanshare: warning: {} is gone; not shared any more",
                    kept.path.display()
                );
                continue;
            }
        };
        files.push(Prepared {
            file,
            digests,
            only,
        });
    }
    if files.is_empty() {
        bail!("nothing is shared directly with {host}: share files with `lanshare send --direct`");
    }
    share_and_serve(&target, &args.user, files)
}

/// Joins, starts this machine's server, shares each file with the host (recording it for
/// `serve`) and serves them until Ctrl-C or the end of the session.
fn share_and_serve(target: &Target, user: &User, files: Vec<Prepared>) -> anyhow::Result<()> {
    let (session, _) = join(target, user)?;
    let identity = HostIdentity::load_or_create_at(config_dir().join(DIRECT_IDENTITY_FILE))?;
    let any = match target.address.ip() {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let server = DirectServer::start(SocketAddr::new(any, 0), &identity)?;
    // Downloaders that cannot reach this machine get the bytes relayed through the host.
    session.serve_relays(&server);
    let mut kept = Vec::new();
    for Prepared {
        file,
        digests,
        only,
    } in files
    {
        let file_id = match share_one(&session, &server, &file, digests, only.clone()) {
            Ok(file_id) => file_id,
            Err(error) => {
                eprintln!("lanshare: error: {error:#}");
                continue;
            }
        };
        kept.push(KeptShare {
            host: target.address.to_string(),
            path: file.path.clone(),
            size: file.size,
            modified_ms: std::fs::metadata(&file.path)
                .ok()
                .and_then(|meta| kept_shares::modified_ms(&meta))
                .unwrap_or_default(),
            sha256: digests.sha256.to_string(),
            check: digests.check.to_string(),
            id: file_id,
            only: only.map(|names| names.names().to_vec()),
        });
        server.share(file_id, file);
    }
    if kept.is_empty() {
        bail!("nothing was shared directly");
    }
    if let Err(error) = kept_shares::record(&config_dir(), &kept) {
        eprintln!("lanshare: warning: `lanshare serve` will not know these files: {error}");
    }
    println!(
        "Serving on port {}; downloaders fetch from this machine. Ctrl-C stops sharing.",
        server.address().port()
    );
    serve_until_stopped(&session)
}

/// Shares `file` with the host through `session`; returns its id once the host listed it.
fn share_one(
    session: &Session,
    server: &DirectServer,
    file: &DirectFile,
    digests: UploadDigests,
    only: Option<Audience>,
) -> anyhow::Result<FileId> {
    let share = DirectShare {
        name: file.name.clone(),
        size: file.size,
        sha256: digests.sha256,
        check: digests.check,
        port: server.address().port(),
        sharer: server.fingerprint(),
        only,
    };
    let (file_id, grant_key) = session
        .share_directly(&share, LISTING_TIMEOUT)
        .with_context(|| format!("the host did not list {}", file.path.display()))?;
    server.trust_host(grant_key);
    println!(
        "Sharing '{}' ({}) directly as #{file_id}",
        printable(&file.name),
        format_size(file.size)
    );
    Ok(file_id)
}

/// Checks the file at `path` and computes what the host lists of it (its digests, with a bar
/// on a terminal).
fn prepare(path: &Path) -> anyhow::Result<(DirectFile, UploadDigests)> {
    let metadata = file_to_share(path)?;
    let file = direct_file(path, metadata.len())?;
    let digests =
        hash(path, file.size).with_context(|| format!("cannot read {}", path.display()))?;
    Ok((file, digests))
}

/// The file at `path`, of `size` bytes, as its server serves it (under its file name).
fn direct_file(path: &Path, size: u64) -> anyhow::Result<DirectFile> {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .with_context(|| format!("{} has no file name", path.display()))?;
    Ok(DirectFile {
        path: path.to_path_buf(),
        name,
        size,
    })
}

/// SHA-256 and the transfer check of the file at `path` (`size` bytes).
fn hash(path: &Path, size: u64) -> std::io::Result<UploadDigests> {
    let bar = ProgressBar::new(size);
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_message(format!("Hashing {}", path.display()));
    let mut file = File::open(path)?;
    let mut hasher = UploadHash::default();
    let mut buffer = vec![0u8; HASH_CHUNK];
    let mut left = size;
    while left > 0 {
        let want = usize::try_from(left).unwrap_or(HASH_CHUNK).min(HASH_CHUNK);
        let read = file.read(&mut buffer[..want])?;
        if read == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file shrank while it was hashed",
            ));
        }
        hasher.update(&buffer[..read]);
        left -= read as u64;
        bar.inc(read as u64);
    }
    bar.finish_and_clear();
    Ok(hasher.finish())
}

/// Waits for Ctrl-C (sharing stops: fine) or the session's end (an error: the files are
/// unavailable until shared again).
fn serve_until_stopped(session: &Session) -> anyhow::Result<()> {
    let (stop, stopped) = flume::bounded::<()>(1);
    ctrlc::set_handler(move || {
        let _ = stop.try_send(());
    })
    .context("could not install the Ctrl-C handler")?;
    loop {
        let next = flume::Selector::new()
            .recv(session.events(), |event| {
                Some(event.unwrap_or_else(|_| SessionEvent::Closed("the session ended".into())))
            })
            .recv(&stopped, |_| None)
            .wait();
        match next {
            Some(SessionEvent::Closed(reason)) => bail!(
                "connection to the host ended: {reason}; the files are unavailable until you \
                 share them again"
            ),
            Some(_) => {}
            None => {
                println!("Stopped sharing.");
                return Ok(());
            }
        }
    }
}
