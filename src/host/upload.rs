//! The seed's `UPLOAD`, and lanshare's resumable `UPLOAD_RESUME`.
//!
//! An upload goes through four steps: check the request (names, size, whose it is), reserve
//! room and a transfer slot, receive the bytes while they are hashed, then commit the file and
//! announce it. A connection may carry several commands one after another
//! ([`super::connection`] reads them); a seed client sends one and closes.

use std::io;
use std::time::{Duration, Instant};

use super::activity::{Direction, MadeWay};
use super::expiry::lifetime;
use super::make_way::Need;
use super::pace::{Pace, TooSlow};
use super::registry::{Uploader, info_line};
use super::state::Shared;
use super::transfer::{Stake, start_pace, take_slot};
use super::wire::{Connection, printable};
use crate::compression::{BlockReader, WireMeter, block_error};
use crate::net::{Stream, is_timeout};
use crate::pipeline::{PipelineError, UploadDigests};
use crate::protocol::{
    ClientId, FileId, GUEST_CLIENT_ID, HostLine, MAX_FILENAME_BYTES, PublicKey, ResumeKey,
    ShareOptions, UploadRequest, clean_name, validate_username,
};
use crate::storage::{FileRecord, Incoming, NewFile, StorageError, Versioning, Viewer};
use crate::units::format_size;

/// Who an upload will be listed under, and who may delete it.
struct Attribution {
    name: String,
    client_id: u64,
    owner: Option<PublicKey>,
}

/// Decides whose upload this is, or why it is refused.
fn attribute(
    shared: &Shared,
    request: &UploadRequest,
    uploader: Option<&Uploader>,
) -> Result<Attribution, String> {
    match uploader {
        Some(uploader) => {
            if request.client_id != uploader.client_id {
                return Err(format!(
                    "client_id {} is not yours: you joined as client {}",
                    request.client_id, uploader.client_id
                ));
            }
            let name = clean_name(&request.username);
            if name != uploader.username {
                return Err(format!(
                    "You joined as '{}', not '{name}'",
                    uploader.username
                ));
            }
            Ok(Attribution {
                name: uploader.username.clone(),
                client_id: uploader.client_id,
                owner: Some(uploader.key),
            })
        }
        None => {
            validate_username(&request.username)?;
            let name = clean_name(&request.username);
            if shared
                .registry
                .name_holder(&name, None, &shared.storage)
                .is_some()
            {
                return Err(format!(
                    "The name '{name}' belongs to a participant who joined with proof of \
                     identity; join as that participant to upload under it"
                ));
            }
            Ok(Attribution {
                name,
                client_id: GUEST_CLIENT_ID,
                owner: None,
            })
        }
    }
}

/// How long a new upload waits for the room of uploads stopped to make way for it.
const ROOM_WAIT: Duration = Duration::from_secs(3);

/// Reserves room for a new upload. If the store is full, uploads parked for resuming make way,
/// oldest first, then uploads in progress too slow to finish soon ([`super::make_way`]).
fn begin_upload(shared: &Shared, size: u64) -> Result<Room, StorageError> {
    // One upload at a time looks for room, so that the room of uploads stopped for one goes
    // to that one and not to whoever asks first, and so that while it waits for a transfer to
    // be old enough to judge, no one else stops that one first.
    let _turn = shared.room_turns.take();
    let started = Instant::now();
    let mut made_way = false;
    loop {
        let error = match shared.storage.begin(size) {
            Err(error @ (StorageError::Full { .. } | StorageError::DiskSpace { .. })) => error,
            Err(error) => return Err(error),
            Ok(incoming) => return Ok(Room { incoming, made_way }),
        };
        if shared.parked.free_oldest() {
            continue;
        }
        let need = Need::Room(shortfall(&error));
        if started.elapsed() > ROOM_WAIT || (!made_way && started.elapsed() > need.judge_wait()) {
            return Err(error);
        }
        if !made_way {
            match shared
                .activity
                .make_way(need, shared.config.timeouts.make_way)
            {
                MadeWay::Stopped => made_way = true,
                MadeWay::NotYet => {}
                MadeWay::Never => return Err(error),
            }
        }
        // Stopped uploads give their room back as their threads let go; young ones are
        // judged in a moment.
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Bytes of room missing for the upload `error` refused.
fn shortfall(error: &StorageError) -> u64 {
    match error {
        StorageError::Full { needed, free, .. } | StorageError::DiskSpace { needed, free } => {
            needed.saturating_sub(*free)
        }
        _ => 0,
    }
}

/// Room for an upload, with the bytes it has received.
struct Room {
    incoming: Incoming,
    /// Whether uploads were stopped to make it.
    made_way: bool,
}

/// The upload to continue for a resumable request (a parked one of the same participant,
/// file name and size), or a new one.
fn resumed_or_new(
    shared: &Shared,
    request: &UploadRequest,
    resume: Option<(ClientId, ResumeKey)>,
) -> Result<Room, StorageError> {
    let parked = resume.and_then(|(client_id, key)| {
        shared
            .parked
            .take(client_id, key, &request.filename, request.size)
    });
    match parked {
        Some(incoming) => Ok(Room {
            incoming,
            made_way: false,
        }),
        None => begin_upload(shared, request.size),
    }
}

/// What the client asked for an upload beyond the seed's `UPLOAD`.
pub(super) struct Asked {
    /// `UPLOAD_OPTIONS`: its expiry, tags, who may see it, the file it is a version of.
    pub options: ShareOptions,
    /// `FEATURES:file-info`: `FILE_INFO` before `STORED`.
    pub file_info: bool,
    /// `FEATURES:versions` (with `file-info`): `FILE_VERSIONS` after it, for a new version.
    pub versions: bool,
    /// `NEW_FILE`: a file of its own even if its sharer shares one of the same name.
    pub new_file: bool,
    /// `COMPRESS`: the bytes come in blocks ([`crate::compression`]).
    pub compressed: bool,
}

/// A checked upload request: what it is, whose it is, and where resuming files it.
struct Checked<'a> {
    request: UploadRequest,
    attribution: Attribution,
    /// The participant and key a resumable upload is kept under.
    resume: Option<(ClientId, ResumeKey)>,
    /// Who may see it besides its sharer and the operator; `None`: everyone.
    audience: Option<Vec<Viewer>>,
    /// The file it is to be a new version of (`version-of`), checked allowed.
    version_of: Option<FileId>,
    asked: &'a Asked,
}

/// `UPLOAD` (`resume_key` `None`): validate, `READY`, receive exactly the announced bytes
/// while hashing, store, announce, `STORED`. `UPLOAD_RESUME` (`resume_key` given, after `AUTH`
/// only): the same, but `RESUME_FROM:<offset>` in place of `READY` and only the bytes after
/// `offset`; if the connection breaks, the bytes received are kept for a later
/// `UPLOAD_RESUME` with the same key. Returns whether the connection may carry another
/// command.
pub(super) fn receive(
    shared: &Shared,
    connection: &mut Connection,
    request: UploadRequest,
    uploader: Option<&Uploader>,
    resume_key: Option<ResumeKey>,
    asked: &Asked,
) -> bool {
    let checked = match check(shared, request, uploader, resume_key, asked) {
        Ok(checked) => checked,
        Err(reason) => {
            connection.refuse(reason);
            return false;
        }
    };
    if let Some(stored) = stored_before(shared, &checked) {
        return stored.confirm(shared, connection, checked.request.size);
    }
    let Some(slot) = take_slot(shared, connection) else {
        return false;
    };
    let Some(room) = reserve(shared, connection, &checked) else {
        return false;
    };
    let made_way = slot.made_way() || room.made_way;
    let received = receive_bytes(shared, connection, &checked, room.incoming, made_way);
    let Some((incoming, digests)) = received else {
        return false;
    };
    let Some(stored) = commit(shared, connection, checked, incoming, digests) else {
        return false;
    };
    // A seed client has closed by now; it never reads these lines.
    stored.send_info(shared, connection) && connection.reply(&stored.line()).is_ok()
}

/// Checks names, size and attribution; the reason to refuse otherwise.
fn check<'a>(
    shared: &Shared,
    request: UploadRequest,
    uploader: Option<&Uploader>,
    resume_key: Option<ResumeKey>,
    asked: &'a Asked,
) -> Result<Checked<'a>, String> {
    let resume = match (resume_key, uploader) {
        (None, _) => None,
        (Some(key), Some(uploader)) => Some((uploader.client_id, key)),
        (Some(_), None) => {
            return Err(
                "UPLOAD_RESUME needs AUTH first: only a joined participant can resume \
                        an upload"
                    .to_owned(),
            );
        }
    };
    if request.filename.is_empty() {
        return Err("File name is empty".to_owned());
    }
    if request.filename.len() > MAX_FILENAME_BYTES {
        return Err(format!(
            "File name too long (max {MAX_FILENAME_BYTES} bytes)"
        ));
    }
    let attribution = attribute(shared, &request, uploader)?;
    let audience = audience(shared, asked, uploader)?;
    let version_of = version_target(shared, asked, uploader)?;
    let max = shared.config.max_file_size;
    if request.size > max {
        // The seed's wording, with the limit in words people read.
        return Err(format!(
            "File too large (max {max} bytes = {})",
            format_size(max)
        ));
    }
    Ok(Checked {
        request,
        attribution,
        resume,
        audience,
        version_of,
        asked,
    })
}

/// The file the upload is to be a new version of (`version-of`), if its uploader may add
/// one: the file's sharer or the host's operator. A file the uploader may not see answers as
/// a missing one.
fn version_target(
    shared: &Shared,
    asked: &Asked,
    uploader: Option<&Uploader>,
) -> Result<Option<FileId>, String> {
    let Some(file_id) = asked.options.version_of else {
        return Ok(None);
    };
    if asked.new_file {
        return Err(format!(
            "NEW_FILE and a version of #{file_id} were both asked for one upload: send one of \
             them"
        ));
    }
    let key = uploader.map(|uploader| &uploader.key);
    let record = shared
        .storage
        .get(file_id)
        .filter(|record| shared.registry.may_see(record, key))
        .ok_or_else(|| "File not found".to_owned())?;
    let allowed =
        key.is_some_and(|key| record.owner == Some(*key) || shared.registry.is_operator(key));
    if !allowed {
        return Err(format!(
            "Only #{file_id}'s sharer or the host's operator may add versions of it"
        ));
    }
    Ok(Some(file_id))
}

/// The participants the names asked for (`UPLOAD_OPTIONS`) stand for now; only a joined
/// participant, who will see the file itself, may restrict it.
fn audience(
    shared: &Shared,
    asked: &Asked,
    uploader: Option<&Uploader>,
) -> Result<Option<Vec<Viewer>>, String> {
    let Some(names) = &asked.options.only else {
        return Ok(None);
    };
    if uploader.is_none() {
        return Err(
            "Only a joined participant can choose who sees a file: AUTH_PROOF first".to_owned(),
        );
    }
    match shared.registry.resolve(names, &shared.storage) {
        Ok(viewers) => Ok(Some(viewers)),
        Err(unknown) => Err(unknown.to_string()),
    }
}

/// A file stored from an upload, and the digests to confirm it with.
struct StoredFile {
    file_id: FileId,
    digests: UploadDigests,
    /// Whether the client asked for `FILE_INFO` (and `FILE_VERSIONS`) before `STORED`.
    file_info: bool,
    versions: bool,
}

impl StoredFile {
    /// The `STORED` line that confirms it.
    fn line(&self) -> HostLine {
        HostLine::Stored {
            file_id: self.file_id,
            sha256: self.digests.sha256,
            check: self.digests.check,
        }
    }

    /// `FILE_INFO` for the file, if the client asked for it (and the file is still there).
    fn send_info(&self, shared: &Shared, connection: &Connection) -> bool {
        if !self.file_info {
            return true;
        }
        let Some(record) = shared.storage.get(self.file_id) else {
            return true;
        };
        if connection.reply(&info_line(&record)).is_err() {
            return false;
        }
        if !self.versions || record.version <= 1 {
            return true;
        }
        let versions = HostLine::FileVersions {
            file_id: record.id,
            latest: record.version,
            kept: u32::try_from(record.older.len() + 1).unwrap_or(u32::MAX),
        };
        connection.reply(&versions).is_ok()
    }

    /// Tells a resuming client that all `size` bytes are here, and what they were stored as.
    fn confirm(&self, shared: &Shared, connection: &Connection, size: u64) -> bool {
        connection
            .reply(&HostLine::ResumeFrom { offset: size })
            .is_ok()
            && self.send_info(shared, connection)
            && connection.reply(&self.line()).is_ok()
    }
}

/// A resumable upload that was stored, but whose `STORED` never reached the client.
fn stored_before(shared: &Shared, checked: &Checked) -> Option<StoredFile> {
    let request = &checked.request;
    let (file_id, digests) =
        shared
            .parked
            .stored_before(checked.resume?, &request.filename, request.size)?;
    shared.storage.get(file_id)?;
    tracing::info!(
        "'{}' from {} is already stored with ID {file_id}",
        printable(&request.filename),
        printable(&checked.attribution.name)
    );
    Some(StoredFile {
        file_id,
        digests,
        file_info: checked.asked.file_info,
        versions: checked.asked.versions,
    })
}

/// Reserves room (or takes back a parked upload) and tells the client to send: `READY`, or
/// `RESUME_FROM` with the bytes kept.
fn reserve(shared: &Shared, connection: &Connection, checked: &Checked) -> Option<Room> {
    let request = &checked.request;
    let room = match resumed_or_new(shared, request, checked.resume) {
        Ok(room) => room,
        Err(error) => {
            tracing::warn!(
                "Refused '{}' from {}: {error}",
                printable(&request.filename),
                printable(&checked.attribution.name)
            );
            connection.refuse(error);
            return None;
        }
    };
    let offset = room.incoming.received();
    tracing::info!(
        "Receiving file '{}' ({} bytes{}) from {} ({})",
        printable(&request.filename),
        request.size,
        if offset > 0 {
            format!(", resuming after {offset}")
        } else {
            String::new()
        },
        printable(&checked.attribution.name),
        connection.peer()
    );
    let go_ahead = match checked.resume {
        Some(_) => HostLine::ResumeFrom { offset },
        None => HostLine::Ready,
    };
    connection.reply(&go_ahead).ok()?;
    Some(room)
}

/// Receives the rest of the bytes at a watched pace (`made_way` if other transfers were
/// stopped for its slot or room). If they do not all arrive, says why (parking a resumable
/// upload for later) and returns `None`.
fn receive_bytes(
    shared: &Shared,
    connection: &mut Connection,
    checked: &Checked,
    mut incoming: Incoming,
    made_way: bool,
) -> Option<(Incoming, UploadDigests)> {
    let request = &checked.request;
    let offset = incoming.received();
    let mut pace = start_pace(
        shared,
        connection,
        Direction::Upload,
        &request.filename,
        Some(&checked.attribution.name),
        Stake {
            total: request.size - offset,
            room: incoming.expected(),
            made_way,
        },
    );
    connection
        .set_read_timeout(shared.config.timeouts.stall)
        .ok()?;
    let meter = checked.asked.compressed.then(WireMeter::default);
    let (received, too_slow, counted) =
        receive_paced(connection, &mut incoming, &mut pace, meter.as_ref());
    let cut = pace.cut();
    drop(pace);
    let error = match received {
        Ok(digests) => {
            tracing::info!(
                "File '{}' received completely ({} bytes{})",
                printable(&request.filename),
                request.size,
                wire_note(meter.as_ref())
            );
            return Some((incoming, digests));
        }
        Err(error) => error,
    };
    let shown_name = printable(&request.filename);
    if let Some(cut) = cut {
        // Not parked even if resumable: its room is what another upload needs.
        connection.refuse(cut);
        return None;
    }
    match error {
        PipelineError::Source { error, received } if block_error(&error).is_some() => {
            // Not parked: what the client sends is not to be trusted.
            tracing::warn!(
                "Upload of '{shown_name}' refused after {received} bytes: {error}; discarded"
            );
            connection.refuse(format_args!("Damaged compressed upload: {error}"));
        }
        PipelineError::Source { error, .. } => {
            source_failed(shared, connection, checked, incoming, &error);
        }
        PipelineError::Sink { error, received } => {
            let error = StorageError::from(error);
            tracing::error!("Could not store '{shown_name}': {error}; discarded");
            connection.refuse_draining(error, request.size - received);
        }
        PipelineError::Stopped => {
            if let Some(slow) = too_slow {
                tracing::warn!(
                    "Upload of '{shown_name}' too slow ({slow}) after {counted} of {} bytes; \
                     discarded",
                    request.size
                );
                connection.refuse(format_args!("Upload too slow: {slow}"));
            }
        }
    }
    None
}

/// Receives the upload's bytes into `incoming`, reading the connection in bulk and telling
/// `pace` of each step; returns what the store said, the pace's complaint if it stopped the
/// upload, and the bytes counted.
fn receive_paced(
    connection: &mut Connection,
    incoming: &mut Incoming,
    pace: &mut Pace,
    blocks: Option<&WireMeter>,
) -> (Result<UploadDigests, PipelineError>, Option<TooSlow>, u64) {
    let mut too_slow = None;
    let mut counted = 0;
    // A second handle to the stream, so the guard does not hold `connection`.
    let stream = connection.try_clone_stream().ok();
    let bulk = stream.as_ref().and_then(Stream::bulk_reads);
    let left = incoming.expected() - incoming.received();
    let mut decoded;
    let source: &mut dyn io::Read = match blocks {
        Some(meter) => {
            decoded = BlockReader::new(&mut *connection, left, Some(meter));
            &mut decoded
        }
        None => connection,
    };
    let received = incoming.receive(source, &mut |done| {
        let moved = pace.moved(done - counted);
        counted = done;
        match moved {
            Ok(()) => true,
            Err(slow) => {
                too_slow = Some(slow);
                false
            }
        }
    });
    drop(bulk);
    (received, too_slow, counted)
}

/// What the log says of a compressed upload's wire bytes: `, 210 MB on the wire`.
pub(super) fn wire_note(meter: Option<&WireMeter>) -> String {
    meter.map_or(String::new(), |meter| {
        format!(", {} on the wire", format_size(meter.read().wire))
    })
}

/// The client's bytes stopped coming: log how far it got, keep a resumable upload for later,
/// and tell a stalled client why it is cut off.
fn source_failed(
    shared: &Shared,
    connection: &Connection,
    checked: &Checked,
    incoming: Incoming,
    error: &io::Error,
) {
    let request = &checked.request;
    let shown_name = printable(&request.filename);
    let progress = format!("{} of {} bytes", incoming.received(), request.size);
    let fate = if checked.resume.is_some() {
        "kept for resuming"
    } else {
        "discarded"
    };
    let stalled = is_timeout(error);
    if error.kind() == io::ErrorKind::UnexpectedEof {
        tracing::warn!("Upload of '{shown_name}' cut short: {progress} arrived; {fate}");
    } else if stalled {
        tracing::warn!("Upload of '{shown_name}' stalled after {progress}; {fate}");
    } else {
        tracing::warn!("Upload of '{shown_name}' failed after {progress}: {error}; {fate}");
    }
    if let Some((client_id, key)) = checked.resume {
        shared
            .parked
            .park(client_id, key, request.filename.clone(), incoming);
    }
    if stalled {
        connection.refuse(format_args!(
            "Upload stalled: no data for {:?}",
            shared.config.timeouts.stall
        ));
    }
}

/// Makes the received upload a listed file and tells every session about it.
fn commit(
    shared: &Shared,
    connection: &Connection,
    checked: Checked,
    incoming: Incoming,
    digests: UploadDigests,
) -> Option<StoredFile> {
    let Checked {
        request,
        attribution,
        resume,
        audience,
        version_of,
        asked,
    } = checked;
    let shown_name = printable(&request.filename);
    let lifetime = lifetime(&shared.config, asked.options.expiry);
    if lifetime.cut {
        tracing::info!(
            "'{shown_name}' will expire after the host's maximum, {:?}, sooner than asked",
            lifetime.after.unwrap_or_default()
        );
    }
    let versioning = versioning(shared, &attribution, version_of, asked.new_file);
    let file = NewFile {
        name: request.filename,
        uploader_name: attribution.name.clone(),
        uploader_id: attribution.client_id,
        owner: attribution.owner,
        tags: asked.options.tags.clone(),
        lifetime: lifetime.after,
        audience,
        versioning,
    };
    let record = match shared.storage.commit(incoming, file, digests) {
        Ok(record) => record,
        Err(error) => {
            tracing::error!("Could not store '{shown_name}': {error}; discarded");
            connection.refuse(error);
            return None;
        }
    };
    if let Versioning::Of { id, .. } = versioning {
        tracing::info!(
            "Version {} of '{}' (ID {id}) added by {}, uploaded as '{shown_name}'",
            record.version,
            printable(&record.name),
            printable(&attribution.name)
        );
    } else {
        tracing::info!("File '{shown_name}' stored with ID {}", record.id);
    }
    if let Some(resume) = resume {
        shared
            .parked
            .remember_stored(resume, &record.name, request.size, (record.id, digests));
    }
    if record.expires_at.is_some() {
        shared.expiry.ring();
    }
    stop_listing_as_direct(shared, &record);
    shared.registry.announce_offer(&record, &shared.storage);
    shared.previews.ring();
    tracing::info!(
        "Broadcasted file offer: {shown_name} (ID: {}) to {} session(s)",
        record.id,
        shared.registry.session_count()
    );
    Some(StoredFile {
        file_id: record.id,
        digests,
        file_info: asked.file_info,
        versions: asked.versions,
    })
}

/// Whether an upload becomes a new version: of the file asked for (`version-of`, checked
/// allowed), else of its proven owner's file of the same name unless `NEW_FILE` was asked.
/// Guests' (seed clients') uploads never become versions by name.
fn versioning(
    shared: &Shared,
    attribution: &Attribution,
    version_of: Option<FileId>,
    new_file: bool,
) -> Versioning {
    let keep = shared.config.keep_versions;
    match version_of {
        Some(id) => Versioning::Of { id, keep },
        None if attribution.owner.is_some() && !new_file => Versioning::SameName { keep },
        None => Versioning::NewFile,
    }
}

/// A file its owner shared directly and has now stored here is listed once, as stored: its
/// direct listing goes (`FILE_DELETED` to the sessions that take direct files).
fn stop_listing_as_direct(shared: &Shared, record: &FileRecord) {
    let Some(owner) = &record.owner else {
        return;
    };
    for direct in shared.direct.now_stored(owner, &record.sha256) {
        tracing::info!(
            "Direct file '{}' (ID: {}) is stored now, as ID {}",
            printable(&direct.name),
            direct.id,
            record.id
        );
        shared.registry.announce_direct_gone(&direct);
    }
}
