//! A participant sharing a file directly through a real host: its session, its server, and the
//! id the host lists the file under.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lanshare::direct::{DirectFile, DirectServer};
use lanshare::identity::Identity;
use lanshare::participant::save::Destination;
use lanshare::participant::worker::{Route, TransferLanes, TransferUpdate};
use lanshare::participant::{Session, Snapshot};
use lanshare::protocol::{Audience, DirectShare, Sha256Digest, TransferCheck};
use lanshare::tls::HostIdentity;
use sha2::{Digest, Sha256};

/// How long the host may take to list a direct share.
const ANSWER: Duration = Duration::from_secs(20);

/// The sharer's side: a session, and a server for the file at `path`.
pub struct Sharer {
    pub session: Session,
    pub server: DirectServer,
    pub file_id: u64,
    pub path: PathBuf,
}

/// `identity` joins `host` as Alice, starts a server on `bind` (port 0) and shares `bytes`
/// (written to `dir/huge.iso`) directly, for everyone.
pub fn share_directly_from(
    bind: [u8; 4],
    host: SocketAddr,
    identity: &Identity,
    dir: &Path,
    bytes: &[u8],
) -> anyhow::Result<Sharer> {
    share_directly_with(bind, host, identity, (dir, bytes), None)
}

/// [`share_directly_from`], seen only by `only` (besides Alice and the operator) if given.
pub fn share_directly_with(
    bind: [u8; 4],
    host: SocketAddr,
    identity: &Identity,
    (dir, bytes): (&Path, &[u8]),
    only: Option<Audience>,
) -> anyhow::Result<Sharer> {
    let path = dir.join("huge.iso");
    std::fs::write(&path, bytes)?;
    let (session, _) = Session::join(host, "Alice", identity)?;
    let certificate = HostIdentity::load_or_create_at(dir.join("direct-identity.pem"))?;
    let server = DirectServer::start(SocketAddr::from((bind, 0)), &certificate)?;
    let share = DirectShare {
        name: "huge.iso".into(),
        size: bytes.len() as u64,
        sha256: Sha256Digest(Sha256::digest(bytes).into()),
        check: TransferCheck::of(bytes),
        port: server.address().port(),
        sharer: server.fingerprint(),
        only,
    };
    let (file_id, grant_key) = session.share_directly(&share, ANSWER)?;
    server.trust_host(grant_key);
    let file = DirectFile {
        path: path.clone(),
        name: share.name,
        size: share.size,
    };
    server.share(file_id, file);
    Ok(Sharer {
        session,
        server,
        file_id,
        path,
    })
}

/// What the transfer worker said while it downloaded direct file `file_id` (from the
/// snapshot `session` joined with) into `folder` as the participant `identity`: every update,
/// the last one final.
pub fn fetch_with_worker(
    session: &Session,
    snapshot: &Snapshot,
    identity: Arc<Identity>,
    file_id: u64,
    folder: &Path,
) -> anyhow::Result<Vec<TransferUpdate>> {
    let entry = snapshot
        .files
        .iter()
        .find(|file| file.id == file_id)
        .ok_or_else(|| anyhow::anyhow!("the snapshot lacks the direct file"))?
        .clone();
    let route = Route {
        host: session.host(),
        passcode: None,
        credentials: Some(session.credentials().clone()),
        identity: Some(identity),
        compression: true,
    };
    let (events, updates) = flume::unbounded();
    let destination = Destination::Folder(folder.to_path_buf());
    TransferLanes::new(1).download(route, vec![(entry, destination)], &events);
    let mut said = Vec::new();
    loop {
        let update = updates.recv_timeout(ANSWER)?.update;
        let last = update.is_final();
        said.push(update);
        if last {
            return Ok(said);
        }
    }
}

/// The file the worker saved, from what it said ([`fetch_with_worker`]).
pub fn saved_file(said: &[TransferUpdate]) -> anyhow::Result<PathBuf> {
    match said.last() {
        Some(TransferUpdate::Downloaded(path)) => Ok(path.clone()),
        last => anyhow::bail!("the download ended with {last:?}"),
    }
}
