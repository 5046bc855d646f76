//! Control sessions: `JOIN` with proof of identity, then offers, deletions and presence.
//!
//! A session runs on two threads: its connection's, which reads the participant's lines, and
//! one that writes what the registry queues for it, so a slow participant never delays anyone
//! else. Neither holds a transfer slot.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use super::comments;
use super::direct;
use super::registry::{Join, Joined};
use super::state::Shared;
use super::wire::{Connection, Silence, printable};
use crate::identity::verify_challenge;
use crate::net::Stream;
use crate::protocol::{
    Audience, ClientLine, Features, FileId, HostLine, PROTOCOL_VERSION, PublicKey, Role,
    validate_username,
};
use crate::storage::RemoveError;

/// Stack size of session writer threads: they hold little.
const SESSION_STACK: usize = 256 * 1024;

/// The fields of a `JOIN` line.
pub(super) struct JoinRequest {
    pub version: u32,
    pub username: String,
    pub public_key: PublicKey,
    /// The extra lines the connection asked for (`FEATURES`) before joining.
    pub features: Features,
}

/// Runs a control session on the connection's thread until the participant leaves.
pub(super) fn run(shared: &Arc<Shared>, mut connection: Connection, request: JoinRequest) {
    if !handshake(shared, &mut connection, &request) {
        return;
    }
    let Some(joined) = register(shared, &connection, &request) else {
        return;
    };
    let name = printable(&request.username);
    let Joined {
        session_id,
        client_id,
        outbox,
        ..
    } = joined;
    let author = comments::Author {
        session_id,
        client_id,
        name: &request.username,
        key: request.public_key,
    };
    start_writer(shared, &connection, outbox);
    let timeout = shared.config.timeouts.session;
    while let Some(command) = connection.read_command(timeout, Silence::Close) {
        match command {
            ClientLine::Ping => {
                shared
                    .registry
                    .send_to(session_id, &HostLine::Pong.encode());
            }
            ClientLine::Delete { file_id } => {
                delete(shared, session_id, &request, file_id);
            }
            ClientLine::SetAccess { file_id, only } => {
                set_access(shared, session_id, &request, file_id, only);
            }
            ClientLine::Comment { file_id, text } => comments::add(shared, &author, file_id, &text),
            ClientLine::DeleteComment {
                file_id,
                comment_id,
            } => comments::delete(shared, &author, file_id, comment_id),
            ClientLine::DirectShare(share) => {
                let owner = direct::Owner {
                    client_id,
                    username: &request.username,
                    key: request.public_key,
                    session_id,
                    seen_at: connection.peer(),
                };
                share_directly(shared, &owner, &share);
            }
            _ => {
                let error = HostLine::Error("Unexpected command in a control session".into());
                shared.registry.send_to(session_id, &error.encode());
                break;
            }
        }
    }
    shared.registry.leave(session_id);
    for record in shared.direct.sharer_left(session_id) {
        shared.registry.announce_direct(&record, false);
    }
    tracing::info!("{name} left");
}

/// `DIRECT_SHARE`: lists a file its sharer serves from its own machine, tells the sharer its
/// id and the key grants are signed with, and offers it to the sessions that take direct files.
fn share_directly(
    shared: &Shared,
    owner: &direct::Owner<'_>,
    share: &crate::protocol::DirectShare,
) {
    let refuse = |reason: String| {
        let failed = HostLine::DirectFailed {
            sha256: share.sha256,
            reason,
        };
        shared.registry.send_to(owner.session_id, &failed.encode());
    };
    // Once stored here, the same bytes are not listed a second time as direct.
    let stored =
        shared.storage.list().into_iter().find(|record| {
            record.owner.as_ref() == Some(&owner.key) && record.sha256 == share.sha256
        });
    if let Some(stored) = stored {
        return refuse(format!(
            "You store these bytes on this host already, as '{}' (ID: {})",
            stored.name, stored.id
        ));
    }
    let audience = match share
        .only
        .as_ref()
        .map(|names| shared.registry.resolve(names, &shared.storage))
        .transpose()
    {
        Ok(audience) => audience,
        Err(unknown) => return refuse(unknown.to_string()),
    };
    let listed = match shared.direct.share(owner, share, audience) {
        Ok(listed) => listed,
        Err(refused) => return refuse(refused.to_string()),
    };
    for record in &listed.forgotten {
        shared.registry.announce_direct_gone(record);
    }
    let record = &listed.record;
    tracing::info!(
        "{} shares '{}' (ID: {}, {} bytes) directly from {}:{}",
        printable(owner.username),
        printable(&record.name),
        record.id,
        record.size,
        owner.seen_at.ip(),
        share.port
    );
    let shared_line = HostLine::DirectShared {
        file_id: record.id,
        sha256: record.sha256,
        grant_key: shared.grants.public_key(),
    };
    shared
        .registry
        .send_to(owner.session_id, &shared_line.encode());
    match &listed.before {
        // Shared again: who may see it may have changed too.
        Some(before) => shared.registry.announce_direct_access(before, record, true),
        None => shared.registry.announce_direct(record, true),
    }
}

/// Checks the version and name, sends `CHALLENGE` and verifies the `PROOF`. On failure the
/// client has been told why; returns false.
fn handshake(shared: &Shared, connection: &mut Connection, request: &JoinRequest) -> bool {
    if request.version != PROTOCOL_VERSION {
        connection.refuse(format_args!(
            "Unsupported protocol version {} (this host speaks {PROTOCOL_VERSION})",
            request.version
        ));
        return false;
    }
    if let Err(reason) = validate_username(&request.username) {
        connection.refuse(reason);
        return false;
    }
    let Ok(nonce) = crate::random::random_bytes::<32>() else {
        connection.refuse("Host could not create a challenge");
        return false;
    };
    if connection.reply(&HostLine::Challenge { nonce }).is_err() {
        return false;
    }
    match connection.read_command(shared.config.timeouts.command, Silence::Report) {
        Some(ClientLine::Proof { signature }) => {
            let binding = connection.stream().channel_binding();
            let proven =
                verify_challenge(&request.public_key, &nonce, binding.as_ref(), &signature);
            if !proven {
                connection.refuse("Identity proof failed");
            }
            proven
        }
        Some(_) => {
            connection.refuse("Expected PROOF after CHALLENGE");
            false
        }
        None => false,
    }
}

/// Registers the proven participant's session, or tells it why not.
fn register(shared: &Shared, connection: &Connection, request: &JoinRequest) -> Option<Joined> {
    let stream = connection.try_clone_stream().ok()?;
    let join = Join {
        username: request.username.clone(),
        key: request.public_key,
        stream,
        features: request.features,
    };
    match shared
        .registry
        .join(join, (&shared.storage, &shared.direct))
    {
        Ok(joined) => {
            tracing::info!(
                "{} joined as client {} from {}{}",
                printable(&request.username),
                joined.client_id,
                connection.peer(),
                if joined.role == Role::Operator {
                    " (host operator)"
                } else {
                    ""
                }
            );
            Some(joined)
        }
        Err(error) => {
            connection.refuse(error);
            None
        }
    }
}

/// Starts the thread that writes what the registry queues for this session. Without it the
/// session cannot be told anything, so it is closed.
fn start_writer(shared: &Shared, connection: &Connection, outbox: flume::Receiver<Arc<str>>) {
    let Ok(stream) = connection.try_clone_stream() else {
        return;
    };
    let stall = shared.config.timeouts.stall;
    let spawned = std::thread::Builder::new()
        .name("lanshare-session-writer".into())
        .stack_size(SESSION_STACK)
        .spawn(move || write_outbox(&stream, &outbox, stall));
    if spawned.is_err() {
        connection.stream().shutdown();
    }
}

/// Sends queued lines until the session ends, then closes the socket.
fn write_outbox(mut stream: &Stream, outbox: &flume::Receiver<Arc<str>>, stall: Duration) {
    let _ = stream.set_write_timeout(stall);
    for message in outbox.iter() {
        if stream.write_all(message.as_bytes()).is_err() {
            break;
        }
    }
    stream.shutdown();
}

/// `DELETE`: the uploader or the operator removes a file; everyone who could see it hears
/// `FILE_DELETED`. A file the participant may not see is, to it, not found.
fn delete(shared: &Shared, session_id: u64, request: &JoinRequest, file_id: u64) {
    if file_id >= direct::FIRST_DIRECT_ID {
        return delete_direct(shared, session_id, request, file_id);
    }
    let key = request.public_key;
    let operator = shared.registry.is_operator(&key);
    let known = shared.storage.get(file_id);
    let result = shared
        .storage
        .remove_if(file_id, |record| operator || record.owner == Some(key));
    let failure = match result {
        Ok(record) => {
            tracing::info!(
                "File '{}' (ID: {file_id}) deleted by {}",
                printable(&record.name),
                printable(&request.username)
            );
            shared.registry.announce_deleted(&record);
            return;
        }
        Err(RemoveError::NotFound) => "File not found".to_owned(),
        Err(RemoveError::Refused(record)) if !shared.registry.may_see(&record, Some(&key)) => {
            "File not found".to_owned()
        }
        Err(RemoveError::Refused(record)) => format!(
            "Only {} (who shared it) or the host can delete '{}'",
            record.uploader_name, record.name
        ),
        Err(RemoveError::Storage(error)) => {
            tracing::error!("Could not delete file {file_id} from the store: {error}");
            // It is out of the catalog already: tell everyone who saw it that it is gone.
            if let Some(record) = known {
                shared.registry.announce_deleted(&record);
            }
            return;
        }
    };
    shared.registry.send_to(
        session_id,
        &HostLine::DeleteFailed {
            file_id,
            reason: failure,
        }
        .encode(),
    );
}

/// `DELETE` of a file shared directly: its sharer or the operator stops its listing; the
/// sessions that take direct files hear `FILE_DELETED`.
fn delete_direct(shared: &Shared, session_id: u64, request: &JoinRequest, file_id: u64) {
    let key = request.public_key;
    let operator = shared.registry.is_operator(&key);
    let removed = shared
        .direct
        .remove_if(file_id, |record| operator || record.owner == Some(key));
    let reason = match removed {
        Ok(record) => {
            tracing::info!(
                "Direct file '{}' (ID: {file_id}) no longer listed, by {}",
                printable(&record.name),
                printable(&request.username)
            );
            shared.registry.announce_direct_gone(&record);
            return;
        }
        // Restricted to others: answered as a file that does not exist.
        Err(direct::RemoveRefused::NotTheSharer { .. })
            if shared
                .direct
                .find(file_id)
                .is_some_and(|(record, _)| !shared.registry.may_see(&record, Some(&key))) =>
        {
            "File not found".to_owned()
        }
        Err(refused) => refused.to_string(),
    };
    let failed = HostLine::DeleteFailed { file_id, reason };
    shared.registry.send_to(session_id, &failed.encode());
}

/// `ACCESS`: the sharer or the operator changes who may see a file (`only`: `None` for
/// everyone); those who may no longer see it hear `FILE_DELETED`, those who may get it offered
/// again. Refusals go to this session as `ACCESS_FAILED`.
fn set_access(
    shared: &Shared,
    session_id: u64,
    request: &JoinRequest,
    file_id: FileId,
    only: Option<Audience>,
) {
    let key = request.public_key;
    let operator = shared.registry.is_operator(&key);
    let failure = match only
        .map(|names| shared.registry.resolve(&names, &shared.storage))
        .transpose()
    {
        Err(unknown) => unknown.to_string(),
        Ok(audience) => {
            let owns = |record: &crate::storage::FileRecord| operator || record.owner == Some(key);
            let changed = if file_id >= direct::FIRST_DIRECT_ID {
                shared.direct.set_audience(file_id, audience, owns).map(
                    |(before, after, available)| {
                        shared
                            .registry
                            .announce_direct_access(&before, &after, available);
                        Arc::new(after)
                    },
                )
            } else {
                shared
                    .storage
                    .set_audience(file_id, audience, owns)
                    .map(|(before, after)| {
                        shared.registry.announce_access(&before, &after);
                        after
                    })
            };
            match changed {
                Ok(after) => {
                    tracing::info!(
                        "Who may see '{}' (ID: {file_id}) changed by {}: {}",
                        printable(&after.name),
                        printable(&request.username),
                        after
                            .audience_names()
                            .map_or_else(|| "everyone".to_owned(), |names| format!("only {names}"))
                    );
                    return;
                }
                Err(RemoveError::NotFound) => "File not found".to_owned(),
                Err(RemoveError::Refused(record))
                    if !shared.registry.may_see(&record, Some(&key)) =>
                {
                    "File not found".to_owned()
                }
                Err(RemoveError::Refused(record)) => format!(
                    "Only {} (who shared it) or the host can change who sees '{}'",
                    record.uploader_name, record.name
                ),
                Err(RemoveError::Storage(error)) => {
                    tracing::error!("Could not change who sees file {file_id}: {error}");
                    error.to_string()
                }
            }
        }
    };
    shared.registry.send_to(
        session_id,
        &HostLine::AccessFailed {
            file_id,
            reason: failure,
        }
        .encode(),
    );
}
