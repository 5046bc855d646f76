//! Sharing files directly from this machine. "Share directly…" (or "Share directly instead"
//! on a file too large for the host) reads the chosen files on a worker thread (`hashing`),
//! then asks the host to list each through the live session; the files the host lists are
//! served by this screen's `DirectServer`, started on the first such file and stopped with
//! the screen (or once it serves nothing). A rejoined session shares them again. "Upload to
//! host" on one of them uploads it the usual way; once stored it is no longer served from here.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use iced::Task;
use iced::widget::{button, text};

use super::hashing::{HashEvent, HashStep, hash_files};
use super::local::list_uploads;
use super::toasts::{Kind, ToastAction};
use super::{Action, LocalFile, Message, Participant, UploadList};
use crate::direct::{DIRECT_IDENTITY_FILE, DirectFile, DirectServer};
use crate::gui::bridge::{DialogResult, Feed};
use crate::gui::theme::{self, gap, text_size};
use crate::participant::FileEntry;
use crate::participant::live::LiveSession;
use crate::participant::worker::TransferId;
use crate::pipeline::UploadDigests;
use crate::protocol::{DirectShare, FileId, PublicKey, Sha256Digest};
use crate::tls::HostIdentity;

/// What the host refuses an upload over its size limit with (the start of its reason).
const TOO_LARGE: &str = "File too large";

/// A file read and ready to be listed: where it is, as served, and its digests.
#[derive(Debug, Clone)]
struct Prepared {
    file: DirectFile,
    digests: UploadDigests,
}

impl Prepared {
    /// The `DIRECT_SHARE` that lists it, served by `server`.
    fn share(&self, server: &DirectServer) -> DirectShare {
        DirectShare {
            name: self.file.name.clone(),
            size: self.file.size,
            sha256: self.digests.sha256,
            check: self.digests.check,
            port: server.address().port(),
            sharer: server.fingerprint(),
            // Shared again after a rejoin, it keeps whoever the host let see it.
            only: None,
        }
    }
}

/// A file being read before it is shared directly.
#[derive(Debug, Clone)]
struct Reading {
    file: LocalFile,
    done: u64,
}

/// This screen's direct shares: the server, the files being read, asked for and served.
pub struct DirectSharing {
    /// Where the server's certificate is kept.
    identity_path: PathBuf,
    server: Option<DirectServer>,
    /// Files being read, by job number (in the order chosen).
    reading: BTreeMap<u64, Reading>,
    next_job: u64,
    hash_events: flume::Sender<HashEvent>,
    hash_feed: Feed<HashEvent>,
    /// Read and announced: waiting for the host to list them.
    announced: Vec<Prepared>,
    /// Listed by the host and served from here, by id.
    served: BTreeMap<FileId, Prepared>,
    /// Uploads under way, and the file each uploads (to offer sharing it directly instead).
    uploads: HashMap<TransferId, LocalFile>,
    /// "Upload to host" uploads, and the direct file each turns into a stored one (its id and
    /// name: the host may stop listing it before the upload's end is told).
    storing: HashMap<TransferId, (FileId, String)>,
}

impl DirectSharing {
    /// Nothing shared yet; the server's certificate is (or will be) kept in `config_dir`.
    pub fn new(config_dir: &std::path::Path) -> Self {
        let (hash_events, receiver) = flume::unbounded();
        Self {
            identity_path: config_dir.join(DIRECT_IDENTITY_FILE),
            server: None,
            reading: BTreeMap::new(),
            next_job: 0,
            hash_events,
            hash_feed: Feed::new(receiver),
            announced: Vec::new(),
            served: BTreeMap::new(),
            uploads: HashMap::new(),
            storing: HashMap::new(),
        }
    }

    /// The reading thread's reports.
    pub fn feed(&self) -> &Feed<HashEvent> {
        &self.hash_feed
    }

    /// The port the server listens on, while it runs.
    pub fn port(&self) -> Option<u16> {
        self.server.as_ref().map(|server| server.address().port())
    }

    /// Whether file `file_id` is served from here.
    pub fn serves(&self, file_id: FileId) -> bool {
        self.served.contains_key(&file_id)
    }

    /// The files being read, and how far each is (0 to 100).
    pub fn reading(&self) -> impl Iterator<Item = (&str, f32)> {
        self.reading.values().map(|reading| {
            let percent = match reading.file.size {
                0 => 100.0,
                size => reading.done as f32 / size as f32 * 100.0,
            };
            (reading.file.name.as_str(), percent)
        })
    }

    /// Remembers that upload `id` sends `file`.
    pub fn upload_started(&mut self, id: TransferId, file: LocalFile) {
        self.uploads.insert(id, file);
    }

    /// Stops serving (leaving the host).
    pub fn stop(&mut self) {
        self.server = None;
        self.served.clear();
        self.announced.clear();
    }

    /// Starts the server if it is not running (its certificate kept in the config folder,
    /// listening on every address of the family of `host`), serving relays through `live`.
    fn start_server(&mut self, host: SocketAddr, live: &LiveSession) -> Result<(), String> {
        if self.server.is_some() {
            return Ok(());
        }
        let identity = HostIdentity::load_or_create_at(self.identity_path.clone())
            .map_err(|error| error.to_string())?;
        let any = match host.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let server =
            DirectServer::start(SocketAddr::new(any, 0), &identity).map_err(|e| e.to_string())?;
        live.serve_relays(&server);
        self.server = Some(server);
        Ok(())
    }

    /// Stops the server once it serves nothing and nothing waits to be served.
    fn stop_if_idle(&mut self) {
        if self.served.is_empty() && self.announced.is_empty() && self.reading.is_empty() {
            self.server = None;
        }
    }

    /// Stops serving file `file_id`; its name if it was served.
    fn unshare(&mut self, file_id: FileId) -> Option<String> {
        let prepared = self.served.remove(&file_id)?;
        if let Some(server) = &self.server {
            server.unshare(file_id);
        }
        self.stop_if_idle();
        Some(prepared.file.name)
    }

    /// The host lists the file with `sha256` as `file_id`, its grants signed by `grant_key`:
    /// it is served under that id. Returns its name if it was newly shared (not shared again
    /// after a rejoin).
    fn listed(
        &mut self,
        file_id: FileId,
        sha256: Sha256Digest,
        grant_key: PublicKey,
    ) -> Option<String> {
        let server = self.server.as_ref()?;
        server.trust_host(grant_key);
        if let Some(at) = self
            .announced
            .iter()
            .position(|p| p.digests.sha256 == sha256)
        {
            let prepared = self.announced.remove(at);
            server.share(file_id, prepared.file.clone());
            let name = prepared.file.name.clone();
            self.served.insert(file_id, prepared);
            return Some(name);
        }
        // Shared again after a rejoin: a host that restarted may list it under a new id.
        let before = self
            .served
            .iter()
            .find(|(_, p)| p.digests.sha256 == sha256)
            .map(|(id, _)| *id)?;
        if before != file_id
            && let Some(prepared) = self.served.remove(&before)
        {
            server.unshare(before);
            server.share(file_id, prepared.file.clone());
            self.served.insert(file_id, prepared);
        }
        None
    }

    /// The host did not list the file with `sha256`: it is forgotten; its name.
    fn refused(&mut self, sha256: Sha256Digest) -> Option<String> {
        let name = match self
            .announced
            .iter()
            .position(|p| p.digests.sha256 == sha256)
        {
            Some(at) => Some(self.announced.remove(at).file.name),
            None => {
                let id = self
                    .served
                    .iter()
                    .find(|(_, p)| p.digests.sha256 == sha256)
                    .map(|(id, _)| *id)?;
                self.unshare(id)
            }
        };
        self.stop_if_idle();
        name
    }
}

impl Participant {
    /// Handles the messages about sharing directly.
    pub(super) fn on_direct(&mut self, message: Message) -> Action {
        match message {
            Message::ShareDirectlyClicked => {
                return Action::Run(
                    crate::gui::bridge::pick_files().map(Message::DirectFilesPicked),
                );
            }
            Message::DirectFilesPicked(result) => return self.on_direct_files_picked(result),
            Message::ShareDirectlyInstead(path) => return self.list_direct(vec![path]),
            Message::DirectListed(list) => self.read_for_sharing(list),
            Message::Hashed(event) => self.on_hashed(event),
            Message::UploadToHost(file_id) => self.upload_to_host(file_id),
            _ => {}
        }
        Action::None
    }

    fn on_direct_files_picked(&mut self, result: DialogResult<Vec<PathBuf>>) -> Action {
        if result.never_showed() {
            self.toast(
                Kind::Error,
                "No file dialog is available on this system (it needs xdg-desktop-portal \
                 or zenity) to pick files to share directly",
            );
        } else if let Some(paths) = result.chosen {
            return self.list_direct(paths);
        }
        Action::None
    }

    /// Lists what `paths` share (walking folders, reading sizes) in a task, off the UI thread.
    fn list_direct(&mut self, paths: Vec<PathBuf>) -> Action {
        if self.connected().is_none() {
            self.not_connected();
            return Action::None;
        }
        Action::Run(Task::perform(
            async move { list_uploads(paths) },
            Message::DirectListed,
        ))
    }

    /// Starts reading the listed files on the hashing thread.
    fn read_for_sharing(&mut self, list: UploadList) {
        let files = match list {
            UploadList::Files(files) => files,
            UploadList::TooMany(count) => {
                self.toast(
                    Kind::Error,
                    format!(
                        "Too many files ({count}); share at most {} at once",
                        super::local::MAX_FOLDER_FILES
                    ),
                );
                return;
            }
        };
        let direct = &mut self.direct;
        let jobs: Vec<(u64, LocalFile)> = files
            .into_iter()
            .map(|file| {
                let job = direct.next_job;
                direct.next_job += 1;
                direct.reading.insert(
                    job,
                    Reading {
                        file: file.clone(),
                        done: 0,
                    },
                );
                (job, file)
            })
            .collect();
        let started = jobs.iter().map(|(job, _)| *job).collect::<Vec<_>>();
        if !hash_files(jobs, direct.hash_events.clone()) {
            for job in started {
                direct.reading.remove(&job);
            }
            self.toast(Kind::Error, "Could not start reading the files to share");
        }
    }

    /// The hashing thread's report: progress, or a file read (then announced to the host).
    fn on_hashed(&mut self, event: HashEvent) {
        match event.step {
            HashStep::Read(done) => {
                if let Some(reading) = self.direct.reading.get_mut(&event.job) {
                    reading.done = done;
                }
            }
            HashStep::Done(result) => {
                let Some(reading) = self.direct.reading.remove(&event.job) else {
                    return;
                };
                match result {
                    Ok(digests) => self.announce_direct(reading.file, digests),
                    Err(reason) => {
                        self.toast(
                            Kind::Error,
                            format!("Could not read '{}': {reason}", reading.file.name),
                        );
                        self.direct.stop_if_idle();
                    }
                }
            }
        }
    }

    /// Asks the host to list `file` (read: `digests`), starting the server if need be.
    fn announce_direct(&mut self, file: LocalFile, digests: UploadDigests) {
        let Some((host, _)) = self.connected() else {
            self.not_connected();
            return;
        };
        if let Err(reason) = self.direct.start_server(host, &self.live) {
            self.toast(
                Kind::Error,
                format!("Could not start sharing from this machine: {reason}"),
            );
            return;
        }
        let prepared = Prepared {
            file: DirectFile {
                path: file.path,
                name: file.name,
                size: file.size,
            },
            digests,
        };
        if let Some(share) = self.direct.server.as_ref().map(|s| prepared.share(s)) {
            self.live.share_directly(share);
            self.direct.announced.push(prepared);
        }
    }

    /// Joined (again): the files served from here are shared again (the host lists them
    /// under the same ids if it kept them).
    pub(super) fn share_directly_again(&mut self) {
        let Some(server) = &self.direct.server else {
            return;
        };
        for prepared in self.direct.served.values() {
            self.live.share_directly(prepared.share(server));
        }
    }

    /// The host listed a file shared from here.
    pub(super) fn on_direct_shared(
        &mut self,
        file_id: FileId,
        sha256: Sha256Digest,
        grant_key: PublicKey,
    ) {
        if let Some(name) = self.direct.listed(file_id, sha256, grant_key) {
            self.toast(
                Kind::Success,
                format!("Sharing '{name}' directly from this machine"),
            );
        }
    }

    /// The host did not list a file shared from here.
    pub(super) fn on_direct_share_failed(&mut self, sha256: Sha256Digest, reason: &str) {
        if let Some(name) = self.direct.refused(sha256) {
            self.toast(
                Kind::Error,
                format!("Could not share '{name}' directly: {reason}"),
            );
        }
    }

    /// A file was deleted from the host: if it was served from here, no longer.
    pub(super) fn direct_file_gone(&mut self, file_id: FileId) {
        self.direct.unshare(file_id);
    }

    /// "Upload to host" on a file served from here: uploaded the usual way; once stored it is
    /// no longer served from here.
    fn upload_to_host(&mut self, file_id: FileId) {
        let Some(prepared) = self.direct.served.get(&file_id) else {
            return;
        };
        let file = LocalFile {
            path: prepared.file.path.clone(),
            name: prepared.file.name.clone(),
            size: prepared.file.size,
        };
        let name = file.name.clone();
        for id in self.upload_files(vec![file], None) {
            self.direct.storing.insert(id, (file_id, name.clone()));
        }
    }

    /// An upload ended: one that stored a direct file ends its serving; one refused as too
    /// large offers to share the file directly instead. True if it said so itself.
    pub(super) fn direct_upload_ended(
        &mut self,
        id: TransferId,
        stored: bool,
        reason: &str,
    ) -> bool {
        let file = self.direct.uploads.remove(&id);
        if let Some((file_id, name)) = self.direct.storing.remove(&id) {
            // A file shared directly already: no offer to share it directly.
            if !stored {
                return false;
            }
            // Served no more (if the host's FILE_DELETED of its listing did not end it first).
            self.direct.unshare(file_id);
            self.toast(
                Kind::Success,
                format!("'{name}' is stored on the host now, no longer shared from this machine"),
            );
            return true;
        }
        match file {
            Some(file) if reason.starts_with(TOO_LARGE) => {
                self.toasts.push_with_action(
                    Kind::Error,
                    format!("Failed to upload '{}': {reason}", file.name),
                    ToastAction::ShareDirectly(file.path),
                    std::time::Instant::now(),
                );
                true
            }
            _ => false,
        }
    }

    /// "Upload to host" on a row of a file served from here.
    pub(super) fn upload_to_host_button(
        &self,
        file: &FileEntry,
    ) -> Option<iced::Element<'static, Message>> {
        self.direct.serves(file.id).then(|| {
            button(text("Upload to host").size(text_size::DETAIL))
                .padding([0.0, gap::S])
                .style(theme::chip(false))
                .on_press_maybe(
                    self.connected()
                        .is_some()
                        .then_some(Message::UploadToHost(file.id)),
                )
                .into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;
    use crate::protocol::{Sha256Digest, TransferCheck};

    fn prepared(name: &str, digest: u8) -> Prepared {
        Prepared {
            file: DirectFile {
                path: PathBuf::from(name),
                name: name.into(),
                size: 1,
            },
            digests: UploadDigests {
                sha256: Sha256Digest([digest; 32]),
                check: TransferCheck([digest; 16]),
            },
        }
    }

    /// Direct sharing with a server on loopback and `announced` waiting for the host.
    fn sharing(announced: Vec<Prepared>) -> anyhow::Result<(DirectSharing, tempfile::TempDir)> {
        let dir = tempfile::tempdir()?;
        let mut direct = DirectSharing::new(dir.path());
        let identity = HostIdentity::load_or_create_at(direct.identity_path.clone())?;
        direct.server = Some(DirectServer::start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            &identity,
        )?);
        direct.announced = announced;
        Ok((direct, dir))
    }

    #[test]
    fn a_listed_file_is_served_and_listed_again_under_a_new_id_it_moves() -> anyhow::Result<()> {
        let (mut direct, _dir) = sharing(vec![prepared("a.iso", 1), prepared("b.iso", 2)])?;
        let key = Identity::generate()?.public_key();
        let name = direct.listed(10, Sha256Digest([2; 32]), key);
        assert_eq!(name.as_deref(), Some("b.iso"));
        assert!(direct.serves(10));
        // Shared again after a rejoin, by a host that gives it another id: no news, moved.
        assert_eq!(direct.listed(11, Sha256Digest([2; 32]), key), None);
        assert!(!direct.serves(10) && direct.serves(11));
        // An answer for a file nobody asked about changes nothing.
        assert_eq!(direct.listed(12, Sha256Digest([9; 32]), key), None);
        assert!(!direct.serves(12));
        Ok(())
    }

    #[test]
    fn refusals_forget_the_file_and_the_server_stops_once_it_serves_nothing() -> anyhow::Result<()>
    {
        let (mut direct, _dir) = sharing(vec![prepared("a.iso", 1), prepared("b.iso", 2)])?;
        let key = Identity::generate()?.public_key();
        direct.listed(10, Sha256Digest([1; 32]), key);
        assert_eq!(
            direct.refused(Sha256Digest([2; 32])).as_deref(),
            Some("b.iso")
        );
        assert!(direct.port().is_some(), "a.iso is still served");
        // Refused when shared again after a rejoin: no longer served; nothing left to serve.
        assert_eq!(
            direct.refused(Sha256Digest([1; 32])).as_deref(),
            Some("a.iso")
        );
        assert!(!direct.serves(10));
        assert_eq!(direct.port(), None);
        Ok(())
    }
}
