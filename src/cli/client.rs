//! The participant commands: `send`, `ls`, `get`, `rm`, `watch`.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use lanshare::config::{Settings, config_dir, default_username};
use lanshare::discovery;
use lanshare::identity::Identity;
use lanshare::participant::Stored;
use lanshare::participant::save::Destination;
use lanshare::participant::worker::{
    Route, TransferEvent, TransferHandle, TransferLanes, TransferUpdate, UploadItem, lanes_for,
    list_versions,
};
use lanshare::participant::{
    Error, FileEntry, JoinOptions, PreviewAvailable, Session, SessionEvent, Snapshot,
    TransferConnection, resolve_host, trust,
};
use lanshare::protocol::{
    Expiry, FileId, Passcode, ShareOptions, VersionInfo, clean_name, validate_username,
    visible_text,
};
use lanshare::units::{format_remaining, format_size};

use super::output::{
    comment_json, comment_lines, file_json, file_table, local_time, printable, version_json,
    version_table,
};
use super::progress::follow;
use super::{
    CommentArgs, CommentsArgs, GetArgs, HostAddress, HostsArgs, LsArgs, LsSort, RmArgs, SendArgs,
    ShareArgs, TrustArgs, User, VersionsArgs, WatchArgs,
};

/// The host to talk to: the one given, else the only one found on the network.
fn host(given: Option<&str>) -> anyhow::Result<SocketAddr> {
    if let Some(text) = given {
        return Ok(resolve_host(text)?);
    }
    if !discovery::enabled() {
        bail!(
            "no --host given, and looking for hosts is off ({})",
            discovery::NO_DISCOVERY_ENV
        );
    }
    let found = discovery::find_hosts(discovery::DISCOVERY_PORT, Duration::from_secs(2))
        .context("could not look for hosts on the network")?;
    match found.as_slice() {
        [only] => {
            eprintln!(
                "Using the host {} at {}",
                printable(&only.announcement.name),
                only.address
            );
            Ok(only.address)
        }
        [] => bail!(
            "no lanshare host found on the network; pass --host HOST[:PORT] \
             (see `lanshare hosts`, and README \"Finding hosts\" if broadcasts are blocked)"
        ),
        several => {
            let list: Vec<String> = several
                .iter()
                .map(|h| format!("{} ({})", h.address, printable(&h.announcement.name)))
                .collect();
            bail!(
                "several hosts found, pick one with --host: {}",
                list.join(", ")
            )
        }
    }
}

/// Where the host is, and its passcode if one was given.
pub(super) struct Target {
    pub(super) address: SocketAddr,
    pub(super) passcode: Option<Passcode>,
}

/// Where to go, from the command line; a first contact with the host is reported on stderr
/// (as a JSON object if `json`).
pub(super) fn target(given: &HostAddress, json: bool) -> anyhow::Result<Target> {
    let passcode = match &given.passcode {
        Some(text) => Some(
            Passcode::new(text.as_str())
                .map_err(|reason| anyhow::anyhow!("--passcode: {reason}"))?,
        ),
        None => None,
    };
    let address = host(given.host.as_deref())?;
    watch_first_contacts(json);
    Ok(Target { address, passcode })
}

/// Keeps pinned host keys in the config folder, and says on stderr when a host is met for the
/// first time, with its verification code (a JSON object if `json`), once per host.
fn watch_first_contacts(json: bool) {
    trust::keep_pins_in(&config_dir());
    let told = std::sync::Mutex::new(std::collections::HashSet::new());
    trust::on_first_contact(move |address, fingerprint| {
        let first = told.lock().is_ok_and(|mut told| told.insert(address));
        if !first {
            return;
        }
        let code = fingerprint.verification_code();
        if json {
            eprintln!(
                "{}",
                serde_json::json!({
                    "event": "new_host",
                    "address": address.to_string(),
                    "fingerprint": fingerprint.to_string(),
                    "verification_code": code.to_string(),
                })
            );
        } else {
            eprintln!(
                "New host {address}: verification code {code} (compare it with the code the \
                 host shows)"
            );
        }
    });
}

/// `lanshare trust HOST[:PORT]`: accepts the key the host shows now, replacing the one pinned.
pub(super) fn trust_host(args: &TrustArgs) -> anyhow::Result<()> {
    trust::keep_pins_in(&config_dir());
    let address = resolve_host(&args.host)?;
    let before = trust::pinned(address)?;
    let key = TransferConnection::connect_accepting_new_key(address)?.host_key();
    let code = key.fingerprint.verification_code();
    match before {
        Some(old) if old == key.fingerprint => {
            println!("Host {address} was trusted already: verification code {code}");
        }
        Some(old) => println!(
            "Host {address} is trusted now: verification code {code} (it was {})",
            old.verification_code()
        ),
        None => println!("Host {address} is trusted now: verification code {code}"),
    }
    Ok(())
}

/// A participant error, with a hint when the host asked for a passcode.
pub(super) fn explain(error: Error) -> anyhow::Error {
    match &error {
        Error::Refused(reason) if reason == "This host requires a passcode" => {
            anyhow::anyhow!("{reason}: give it with --passcode or LANSHARE_PASSCODE")
        }
        _ => error.into(),
    }
}

/// Joins as this user, remembering the name for next time.
pub(super) fn join(target: &Target, user: &User) -> anyhow::Result<(Session, Snapshot)> {
    join_as(target, user, true)
}

/// Joins as this user; with `remember`, keeps the name for next time.
fn join_as(target: &Target, user: &User, remember: bool) -> anyhow::Result<(Session, Snapshot)> {
    let dir = config_dir();
    let mut settings = Settings::load(&dir);
    let username = user
        .user
        .clone()
        .unwrap_or_else(|| default_username(&settings));
    validate_username(&username).map_err(anyhow::Error::msg)?;
    // As the host will keep and show it.
    let username = clean_name(&username);
    let identity = Identity::load_or_create(&dir)
        .with_context(|| format!("could not load your identity from {}", dir.display()))?;
    let options = JoinOptions {
        passcode: target.passcode.clone(),
    };
    let joined =
        Session::join_with(target.address, &username, &identity, &options).map_err(explain)?;
    if remember && settings.username.as_deref() != Some(username.as_str()) {
        settings.username = Some(username);
        // Remembering is a convenience; failing to is not worth an error.
        let _ = settings.save(&dir);
    }
    Ok(joined)
}

/// The metadata of `path`, a file to share; an error for one that cannot be read or is a
/// folder.
pub(super) fn file_to_share(path: &std::path::Path) -> anyhow::Result<std::fs::Metadata> {
    let metadata =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if metadata.is_dir() {
        bail!(
            "{} is a folder; pass the files in it instead",
            path.display()
        );
    }
    Ok(metadata)
}

pub(super) fn send(args: &SendArgs) -> anyhow::Result<()> {
    for path in &args.files {
        file_to_share(path)?;
    }
    if args.version_of.is_some() && args.files.len() > 1 {
        bail!("--version-of takes one file: a file gets one new version at a time");
    }
    let target = target(&args.address, false)?;
    let (session, _) = join(&target, &args.user)?;
    let options = ShareOptions {
        expiry: args.expire.unwrap_or_default(),
        tags: args.tag.clone().unwrap_or_default(),
        only: args.only.clone(),
        version_of: args.version_of,
    };
    let items: Vec<UploadItem> = args
        .files
        .iter()
        .cloned()
        .map(|path| {
            let item = UploadItem::from_path(path).with_options(options.clone());
            if args.new_file {
                item.as_new_file()
            } else {
                item
            }
        })
        .collect();
    let route = Route {
        host: target.address,
        passcode: target.passcode.clone(),
        credentials: Some(session.credentials().clone()),
        identity: None,
        compression: !args.no_compression,
    };
    let sizes: Vec<u64> = args
        .files
        .iter()
        .map(|path| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0))
        .collect();
    let lanes = TransferLanes::new(lanes_for(&sizes));
    let followed = each_followed(items.clone(), |item, events| {
        let handles = lanes.upload(route.clone(), vec![item], events)?;
        Ok(handles)
    })?;
    let mut failures = 0;
    for ((index, item), &size) in items.iter().enumerate().zip(&sizes) {
        let path = &item.path;
        match follow_one(&followed, index, &item.name, size) {
            TransferUpdate::Uploaded(stored) => println!(
                "Shared '{}' ({}) as #{}{}{}{}",
                printable(&item.name),
                format_size(size),
                stored.file_id,
                version_note(&stored),
                expiry_note(&stored, options.expiry),
                wire_note(&stored)
            ),
            TransferUpdate::Failed(reason) => {
                failures += 1;
                report_not_shared(path, &reason);
            }
            other => {
                failures += 1;
                eprintln!("lanshare: error: {}: {other:?}", path.display());
            }
        }
    }
    if failures > 0 {
        bail!("{failures} of {} file(s) not shared", args.files.len());
    }
    Ok(())
}

/// Says why a file was not shared, and for one too large for the host how to share it anyway.
fn report_not_shared(path: &std::path::Path, reason: &str) {
    eprintln!("lanshare: error: {}: {reason}", path.display());
    if reason.starts_with("File too large") {
        eprintln!(
            "lanshare: hint: `lanshare send --direct` shares it from this machine instead, with \
             no size limit"
        );
    }
}

/// What `send` says of an upload sent compressed: `, compressed to 210 MB on the wire`
/// (nothing when no bytes moved: a resumed upload the host already had whole).
fn wire_note(stored: &Stored) -> String {
    stored
        .compressed
        .filter(|bytes| bytes.file > 0)
        .map_or(String::new(), |bytes| {
            format!(", compressed to {} on the wire", format_size(bytes.wire))
        })
}

/// What `send` says of an upload that became a new version: `, version 3`.
fn version_note(stored: &Stored) -> String {
    stored
        .details
        .as_ref()
        .and_then(|details| details.versions)
        .map_or(String::new(), |count| format!(", version {}", count.latest))
}

/// What `send` says of a stored file's expiry: nothing for a file kept until deleted,
/// `, expires in 2 h`, and whether the host cut what was asked to its maximum.
fn expiry_note(stored: &Stored, asked: Expiry) -> String {
    let Some(at) = stored
        .details
        .as_ref()
        .and_then(|details| details.expires_at)
    else {
        return String::new();
    };
    let left = (at - chrono::Utc::now()).to_std().unwrap_or_default();
    // A second's slack: the time the reply took.
    let cut = match asked {
        Expiry::Never => true,
        Expiry::After(secs) => left.as_secs() + 1 < secs,
        Expiry::HostDefault => false,
    };
    let left = format_remaining(left);
    if cut {
        format!(", expires in {left} (the host's maximum, sooner than asked)")
    } else {
        format!(", expires in {left}")
    }
}

/// A transfer queued on the lanes and the channel of its own events.
type Followed = (TransferHandle, flume::Receiver<TransferEvent>);

/// Queues each of `items` with `queue`, each with a channel of its own, so each can be
/// followed to its end while the lanes run the others.
fn each_followed<T>(
    items: Vec<T>,
    mut queue: impl FnMut(T, &flume::Sender<TransferEvent>) -> Result<Vec<TransferHandle>, Error>,
) -> anyhow::Result<Vec<Followed>> {
    let mut followed = Vec::with_capacity(items.len());
    for item in items {
        let (sender, events) = flume::unbounded();
        for handle in queue(item, &sender)? {
            followed.push((handle, events.clone()));
        }
    }
    Ok(followed)
}

/// Follows the `index`-th transfer of `followed` to its end (the others run meanwhile);
/// returns its final update. On Ctrl-C every transfer is cancelled and waited for, so none
/// leaves a partial file behind.
fn follow_one(followed: &[Followed], index: usize, label: &str, size: u64) -> TransferUpdate {
    let stop_all = || {
        for (handle, _) in followed {
            handle.cancel();
        }
        // A transfer's channel closes when its lane has ended it.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        for (_, events) in followed {
            while events.recv_deadline(deadline).is_ok() {}
        }
    };
    match followed.get(index) {
        Some((handle, events)) => follow(label, size, handle, events, &stop_all),
        None => TransferUpdate::Failed("the transfer was not started".into()),
    }
}

/// This machine's participant identity, if it can be loaded (or made): with it, a host joined
/// before counts a passcode proof apart from strangers' guesses.
pub(super) fn own_identity() -> Option<Arc<Identity>> {
    Identity::load_or_create(&config_dir()).ok().map(Arc::new)
}

/// The files this user may see (restricted ones included: it joins, to prove who it is), and
/// its session, for downloads to prove it again. When it cannot join (its name taken by
/// someone else online, the host full, or a host that does not take `JOIN`), the files
/// everyone may see, and no session.
pub(super) fn list_as(
    target: &Target,
    user: &User,
) -> anyhow::Result<(Vec<FileEntry>, Option<Session>)> {
    match join_as(target, user, false) {
        Ok((session, snapshot)) => Ok((snapshot.files, Some(session))),
        Err(error) if a_listing_may_still_work(&error) => Ok((list(target)?, None)),
        Err(error) => Err(error),
    }
}

/// Whether a plain listing may still work after joining failed this way: not after a wrong
/// passcode (a second guess would count against this address), an unreachable host or a key
/// that does not match its pin, which a listing would meet again.
fn a_listing_may_still_work(error: &anyhow::Error) -> bool {
    matches!(
        error.downcast_ref::<Error>(),
        Some(
            Error::Refused(_)
                | Error::Protocol(_)
                | Error::ConnectionLost(_)
                | Error::SessionClosed
        )
    )
}

fn list(target: &Target) -> anyhow::Result<Vec<FileEntry>> {
    let mut connection = TransferConnection::connect(target.address)?;
    if let Some(passcode) = &target.passcode {
        match own_identity() {
            Some(identity) => connection.prove_passcode_as(passcode, &identity)?,
            None => connection.prove_passcode(passcode)?,
        }
    }
    connection.list().map_err(explain)
}

/// The files `ls` shows: those of the category and with the tag asked for, in the order
/// asked for (ties, and no order asked, by id).
fn selected(mut files: Vec<FileEntry>, args: &LsArgs) -> Vec<FileEntry> {
    files.retain(|file| {
        args.category
            .is_none_or(|category| file.details.category == Some(category))
            && args
                .tag
                .as_ref()
                .is_none_or(|tag| file.details.tags.contains(tag))
    });
    let folded = |text: &str| visible_text(text).to_lowercase();
    match args.sort {
        None => files.sort_by_key(|file| file.id),
        Some(LsSort::Size) => files.sort_by(|a, b| b.size.cmp(&a.size).then(a.id.cmp(&b.id))),
        Some(LsSort::Name) => {
            files.sort_by(|a, b| folded(&a.name).cmp(&folded(&b.name)).then(a.id.cmp(&b.id)));
        }
        Some(LsSort::Time) => {
            files.sort_by(|a, b| b.uploaded_at.cmp(&a.uploaded_at).then(b.id.cmp(&a.id)))
        }
        Some(LsSort::Uploader) => files.sort_by(|a, b| {
            folded(&a.uploader)
                .cmp(&folded(&b.uploader))
                .then(a.id.cmp(&b.id))
        }),
    }
    files
}

pub(super) fn ls(args: &LsArgs) -> anyhow::Result<()> {
    let (files, _session) = list_as(&target(&args.address, args.json)?, &args.user)?;
    let files = selected(files, args);
    let mut out = std::io::stdout().lock();
    if args.json {
        let array: Vec<_> = files.iter().map(file_json).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&array)?)?;
    } else if files.is_empty() && (args.category.is_some() || args.tag.is_some()) {
        writeln!(out, "No shared file is of that category and tag.")?;
    } else if files.is_empty() {
        writeln!(out, "No files are shared yet.")?;
    } else {
        write!(out, "{}", file_table(&files))?;
    }
    Ok(())
}

pub(super) fn get(args: &GetArgs) -> anyhow::Result<()> {
    let target = target(&args.address, false)?;
    // The session stays open while the files download, so that they prove who asks.
    let (files, session) = list_as(&target, &args.user)?;
    let destination = |_: &FileEntry| -> anyhow::Result<Destination> {
        match &args.output {
            None => Ok(Destination::Folder(PathBuf::from("."))),
            Some(dir) if dir.is_dir() => Ok(Destination::Folder(dir.clone())),
            Some(path) if args.ids.len() == 1 => Ok(Destination::Path {
                path: path.clone(),
                overwrite: args.force,
            }),
            Some(dir) => bail!(
                "{} is not a folder; with several ids, -o must name an existing folder",
                dir.display()
            ),
        }
    };
    if args.version.is_some() && args.ids.len() != 1 {
        bail!("--version goes with one id only");
    }
    let mut failures = 0;
    let mut wanted = Vec::new();
    for id in &args.ids {
        match files.iter().find(|f| f.id == *id) {
            Some(entry) => {
                let entry = match args.version {
                    Some(number) => version_entry(&target, session.as_ref(), entry, number)?,
                    None => entry.clone(),
                };
                let destination = destination(&entry)?;
                wanted.push((entry, destination));
            }
            None => {
                failures += 1;
                eprintln!("lanshare: error: no file with id {id} is shared on the host");
            }
        }
    }
    let sizes: Vec<u64> = wanted.iter().map(|(entry, _)| entry.size).collect();
    let lanes = TransferLanes::new(lanes_for(&sizes));
    let route = Route {
        host: target.address,
        passcode: target.passcode.clone(),
        credentials: session.as_ref().map(|s| s.credentials().clone()),
        identity: own_identity(),
        compression: !args.no_compression,
    };
    let followed = each_followed(wanted.clone(), |item, events| {
        Ok(lanes.download(route.clone(), vec![item], events))
    })?;
    for (index, (entry, _)) in wanted.iter().enumerate() {
        let id = entry.id;
        match follow_one(&followed, index, &entry.name, entry.size) {
            TransferUpdate::Downloaded(path) => println!(
                "Saved '{}' ({}) to {}",
                printable(&entry.name),
                format_size(entry.size),
                path.display()
            ),
            TransferUpdate::Failed(reason) => {
                failures += 1;
                eprintln!("lanshare: error: #{id}: {reason}");
            }
            other => {
                failures += 1;
                eprintln!("lanshare: error: #{id}: {other:?}");
            }
        }
    }
    if failures > 0 {
        bail!("{failures} of {} file(s) not downloaded", args.ids.len());
    }
    Ok(())
}

/// The kept versions of `file_id` (asked as the `session`'s participant, if any).
fn file_versions(
    target: &Target,
    session: Option<&Session>,
    file_id: u64,
) -> anyhow::Result<Vec<VersionInfo>> {
    let route = Route {
        host: target.address,
        passcode: target.passcode.clone(),
        credentials: session.map(|s| s.credentials().clone()),
        identity: own_identity(),
        compression: true,
    };
    list_versions(&route, file_id).map_err(explain)
}

/// `entry` as its version `number`: that version's size, time and digests, and a download of
/// it asks for it.
fn version_entry(
    target: &Target,
    session: Option<&Session>,
    entry: &FileEntry,
    number: u32,
) -> anyhow::Result<FileEntry> {
    let versions = file_versions(target, session, entry.id)?;
    let Some(version) = versions.iter().find(|v| v.number == number) else {
        let kept: Vec<String> = versions.iter().map(|v| v.number.to_string()).collect();
        bail!(
            "#{} has no version {number} (the host keeps version {})",
            entry.id,
            kept.join(", ")
        );
    };
    let mut chosen = entry.clone();
    chosen.size = version.size;
    chosen.sha256 = version.sha256;
    chosen.check = Some(version.check);
    chosen.uploaded_at = chrono::DateTime::from_timestamp_millis(version.uploaded_at_ms)
        .unwrap_or(entry.uploaded_at);
    chosen.details.version = Some(number);
    Ok(chosen)
}

pub(super) fn versions(args: &VersionsArgs) -> anyhow::Result<()> {
    let target = target(&args.address, args.json)?;
    let (files, session) = list_as(&target, &args.user)?;
    if !files.iter().any(|file| file.id == args.id) {
        bail!("no file with id {} is shared on the host", args.id);
    }
    let versions = file_versions(&target, session.as_ref(), args.id)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let array: Vec<_> = versions.iter().map(version_json).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&array)?)?;
    } else {
        write!(out, "{}", version_table(&versions))?;
    }
    Ok(())
}

pub(super) fn comment(args: &CommentArgs) -> anyhow::Result<()> {
    let (session, _) = join(&target(&args.address, false)?, &args.user)?;
    let timeout = Duration::from_secs(15);
    match (&args.text, args.delete) {
        (_, Some(comment_id)) => {
            session.delete_comment(args.id, comment_id, timeout)?;
            println!("Deleted comment {comment_id} on #{}", args.id);
        }
        (Some(text), None) => {
            let comment = session.comment(args.id, text, timeout)?;
            println!("Commented on #{} (comment {})", args.id, comment.comment_id);
        }
        (None, None) => bail!("give the comment's text, or --delete N"),
    }
    Ok(())
}

pub(super) fn comments(args: &CommentsArgs) -> anyhow::Result<()> {
    let target = target(&args.address, args.json)?;
    let (files, _session) = list_as(&target, &args.user)?;
    let Some(file) = files.iter().find(|file| file.id == args.id) else {
        bail!("no file with id {} is shared on the host", args.id);
    };
    let comments = &file.details.comments;
    let mut out = std::io::stdout().lock();
    if args.json {
        let array: Vec<_> = comments.iter().map(comment_json).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&array)?)?;
    } else if comments.is_empty() {
        writeln!(out, "No comments on #{} yet.", args.id)?;
    } else {
        write!(out, "{}", comment_lines(comments))?;
    }
    Ok(())
}

pub(super) fn rm(args: &RmArgs) -> anyhow::Result<()> {
    let (session, snapshot) = join(&target(&args.address, false)?, &args.user)?;
    let name = snapshot
        .files
        .iter()
        .find(|f| f.id == args.id)
        .map(|f| printable(&f.name));
    session.delete(args.id, Duration::from_secs(15))?;
    match name {
        Some(name) => println!("Deleted #{} '{name}'", args.id),
        None => println!("Deleted #{}", args.id),
    }
    Ok(())
}

pub(super) fn share(args: &ShareArgs) -> anyhow::Result<()> {
    let (session, _) = join(&target(&args.address, false)?, &args.user)?;
    let only = if args.everyone {
        None
    } else {
        args.only.clone()
    };
    let file = session.set_access(args.id, only, Duration::from_secs(15))?;
    match file.details.only {
        Some(only) if only.is_empty() => println!(
            "#{} '{}' may now be seen only by you (and the host's operator)",
            file.id,
            printable(&file.name)
        ),
        Some(only) => println!(
            "#{} '{}' may now be seen only by {} (and you, and the host's operator)",
            file.id,
            printable(&file.name),
            printable(&only.to_string())
        ),
        None => println!(
            "#{} '{}' may now be seen by everyone",
            file.id,
            printable(&file.name)
        ),
    }
    Ok(())
}

pub(super) fn watch(args: &WatchArgs) -> anyhow::Result<()> {
    let target = target(&args.address, args.json)?;
    let address = target.address;
    let (session, snapshot) = join(&target, &args.user)?;
    let mut names: HashMap<u64, String> = snapshot
        .peers
        .iter()
        .map(|p| (p.client_id, p.username.clone()))
        .collect();
    let mut out = std::io::stdout().lock();
    if !args.json {
        writeln!(
            out,
            "Watching {address}: {} file(s) shared, {} online. Ctrl-C to stop.",
            snapshot.files.len(),
            snapshot.peers.len()
        )?;
    }
    out.flush()?;
    for event in session.events().iter() {
        if let SessionEvent::Closed(reason) = &event {
            bail!("connection to the host ended: {reason}");
        }
        if let Some(line) = watch_line(event, args.json, &mut names) {
            writeln!(out, "{line}")?;
            out.flush()?;
        }
    }
    bail!("connection to the host ended")
}

/// What `watch` prints for an event (a JSON object with `json`), if anything (nothing for the
/// session's end, nor for answers to direct shares, which `watch` never makes); `names` keeps
/// who is online by client id.
fn watch_line(event: SessionEvent, json: bool, names: &mut HashMap<u64, String>) -> Option<String> {
    Some(match event {
        SessionEvent::FileOffered(file) => {
            if json {
                let mut object = file_json(&file);
                object["event"] = "offer".into();
                object.to_string()
            } else {
                format!(
                    "[{}] {} shared {} ({}) as #{}",
                    local_time(file.uploaded_at),
                    printable(&file.uploader),
                    printable(&file.name),
                    format_size(file.size),
                    file.id
                )
            }
        }
        SessionEvent::FileDeleted(id) => {
            if json {
                serde_json::json!({"event": "deleted", "id": id}).to_string()
            } else {
                format!("[{}] #{id} was deleted", now())
            }
        }
        SessionEvent::PeerJoined(peer) => {
            names.insert(peer.client_id, peer.username.clone());
            if json {
                serde_json::json!({"event": "joined", "client_id": peer.client_id,
                                   "name": peer.username})
                .to_string()
            } else {
                format!("[{}] {} is online", now(), printable(&peer.username))
            }
        }
        SessionEvent::PeerLeft(id) => {
            let name = names.remove(&id).unwrap_or_else(|| format!("client {id}"));
            if json {
                serde_json::json!({"event": "left", "client_id": id, "name": name}).to_string()
            } else {
                format!("[{}] {} left", now(), printable(&name))
            }
        }
        SessionEvent::DeleteFailed { .. }
        | SessionEvent::AccessFailed { .. }
        | SessionEvent::CommentFailed { .. } => return None,
        SessionEvent::PreviewReady { file_id, preview } => preview_line(file_id, preview, json),
        SessionEvent::CommentAdded(comment) => {
            if json {
                let mut object = comment_json(&comment);
                object["event"] = "comment".into();
                object["file_id"] = comment.file_id.into();
                object.to_string()
            } else {
                format!(
                    "[{}] {} commented on #{}: {}",
                    now(),
                    printable(&comment.author_name),
                    comment.file_id,
                    printable(&comment.text)
                )
            }
        }
        SessionEvent::CommentDeleted {
            file_id,
            comment_id,
        } => {
            if json {
                serde_json::json!({"event": "comment_deleted", "file_id": file_id,
                                   "comment_id": comment_id})
                .to_string()
            } else {
                format!("[{}] comment {comment_id} on #{file_id} was deleted", now())
            }
        }
        SessionEvent::FileState { file_id, available } => file_state_line(file_id, available, json),
        _ => return None,
    })
}

/// `watch`'s line for a file shared directly that became available or unavailable.
fn file_state_line(file_id: FileId, available: bool, json: bool) -> String {
    let state = if available {
        "available"
    } else {
        "unavailable"
    };
    if json {
        serde_json::json!({"event": "file_state", "file_id": file_id, "state": state}).to_string()
    } else if available {
        format!("[{}] #{file_id} is available again from its sharer", now())
    } else {
        format!(
            "[{}] #{file_id} is unavailable: its sharer is offline",
            now()
        )
    }
}

/// `watch`'s line for a preview the host made of file `file_id`.
fn preview_line(file_id: FileId, preview: PreviewAvailable, json: bool) -> String {
    if json {
        serde_json::json!({"event": "preview", "id": file_id,
                           "kind": preview.kind.as_str(), "size": preview.size})
        .to_string()
    } else {
        format!(
            "[{}] #{file_id} has a preview ({}, {}): lanshare preview {file_id}",
            now(),
            preview.kind,
            format_size(preview.size)
        )
    }
}

fn now() -> String {
    local_time(chrono::Utc::now())
}

pub(super) fn hosts(args: &HostsArgs) -> anyhow::Result<()> {
    if !discovery::enabled() {
        bail!("looking for hosts is off ({})", discovery::NO_DISCOVERY_ENV);
    }
    let code = |host: &discovery::FoundHost| {
        host.announcement
            .fingerprint
            .map(|fingerprint| fingerprint.verification_code().to_string())
    };
    let describe = |host: &discovery::FoundHost| {
        format!(
            "{}  {}  ({} online, {} files; verification code {})",
            host.address,
            printable(&host.announcement.name),
            host.announcement.participants,
            host.announcement.files,
            code(host).unwrap_or_else(|| "unknown".to_owned())
        )
    };
    let as_json = |hosts: &[discovery::FoundHost]| {
        let array: Vec<_> = hosts
            .iter()
            .map(|h| {
                serde_json::json!({
                    "address": h.address.to_string(),
                    "name": h.announcement.name,
                    "participants": h.announcement.participants,
                    "files": h.announcement.files,
                    "fingerprint": h.announcement.fingerprint.map(|f| f.to_string()),
                    "verification_code": code(h),
                })
            })
            .collect();
        serde_json::Value::Array(array).to_string()
    };
    let mut out = std::io::stdout().lock();
    if args.watch {
        let browser = discovery::HostBrowser::start(discovery::DISCOVERY_PORT)
            .context("could not listen for hosts")?;
        let mut known: Vec<discovery::FoundHost> = Vec::new();
        for discovery::HostsEvent::Changed(current) in browser.events().iter() {
            if args.json {
                writeln!(out, "{}", as_json(&current))?;
            } else {
                for host in current
                    .iter()
                    .filter(|h| !known.iter().any(|k| k.address == h.address))
                {
                    writeln!(out, "[{}] found {}", now(), describe(host))?;
                }
                for host in known
                    .iter()
                    .filter(|k| !current.iter().any(|h| h.address == k.address))
                {
                    writeln!(out, "[{}] gone  {}", now(), describe(host))?;
                }
            }
            out.flush()?;
            known = current;
        }
        return Ok(());
    }
    let found = discovery::find_hosts(
        discovery::DISCOVERY_PORT,
        Duration::from_secs_f64(args.wait),
    )
    .context("could not look for hosts on the network")?;
    if args.json {
        writeln!(out, "{}", as_json(&found))?;
    } else if found.is_empty() {
        writeln!(out, "No lanshare host found on the network.")?;
    } else {
        for host in &found {
            writeln!(out, "{}", describe(host))?;
        }
    }
    Ok(())
}
