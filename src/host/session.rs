//! Control sessions: `JOIN` with proof of identity, then offers, deletions and presence.
//!
//! A session runs on two threads: its connection's, which reads the participant's lines, and
//! one that writes what the registry queues for it, so a slow participant never delays anyone
//! else. Neither holds a transfer slot.

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;

use super::Shared;
use super::connection::{printable, read_command, refuse, reply};
use super::registry::{Join, Joined};
use crate::identity::verify_challenge;
use crate::net::LineReader;
use crate::protocol::{ClientLine, HostLine, PROTOCOL_VERSION, validate_username};
use crate::storage::RemoveError;

/// Stack size of session writer threads: they hold little.
const SESSION_STACK: usize = 256 * 1024;

/// The fields of a `JOIN` line.
pub(super) struct JoinRequest {
    pub version: u32,
    pub username: String,
    pub public_key: [u8; 32],
}

/// Runs a control session on the connection's thread until the participant leaves.
pub(super) fn run(
    shared: &Arc<Shared>,
    mut reader: LineReader,
    peer: SocketAddr,
    request: JoinRequest,
) {
    let stream = reader.stream();
    if request.version != PROTOCOL_VERSION {
        refuse(
            stream,
            &format!(
                "Unsupported protocol version {} (this host speaks {PROTOCOL_VERSION})",
                request.version
            ),
        );
        return;
    }
    if let Err(reason) = validate_username(&request.username) {
        refuse(stream, &reason);
        return;
    }
    let Ok(nonce) = crate::random::random_bytes::<32>() else {
        refuse(stream, "Host could not create a challenge");
        return;
    };
    if reply(stream, &HostLine::Challenge { nonce }).is_err() {
        return;
    }
    match read_command(&mut reader, shared.config.timeouts.command, true) {
        Some(ClientLine::Proof { signature }) => {
            if !verify_challenge(&request.public_key, &nonce, &signature) {
                refuse(reader.stream(), "Identity proof failed");
                return;
            }
        }
        Some(_) => {
            refuse(reader.stream(), "Expected PROOF after CHALLENGE");
            return;
        }
        None => return,
    }
    let Ok(registry_stream) = reader.stream().try_clone() else {
        return;
    };
    let joined = shared.registry.join(
        Join {
            username: request.username.clone(),
            key: request.public_key,
            stream: registry_stream,
        },
        &shared.storage,
    );
    let joined = match joined {
        Ok(joined) => joined,
        Err(error) => {
            refuse(reader.stream(), &error.to_string());
            return;
        }
    };
    let name = printable(&request.username);
    tracing::info!(
        "{name} joined as client {} from {peer}{}",
        joined.client_id,
        if joined.role == crate::protocol::Role::Operator {
            " (host operator)"
        } else {
            ""
        }
    );
    let Joined {
        session_id, outbox, ..
    } = joined;
    if let Ok(writer_stream) = reader.stream().try_clone() {
        let stall = shared.config.timeouts.stall;
        let spawned = std::thread::Builder::new()
            .name("lanshare-session-writer".into())
            .stack_size(SESSION_STACK)
            .spawn(move || write_outbox(&writer_stream, &outbox, stall));
        if spawned.is_err() {
            let _ = reader.stream().shutdown(Shutdown::Both);
        }
    }

    while let Some(command) = read_command(&mut reader, shared.config.timeouts.session, false) {
        match command {
            ClientLine::Ping => {
                shared
                    .registry
                    .send_to(session_id, &HostLine::Pong.encode());
            }
            ClientLine::Delete { file_id } => {
                delete(shared, session_id, &request, file_id);
            }
            _ => {
                let error = HostLine::Error("Unexpected command in a control session".into());
                shared.registry.send_to(session_id, &error.encode());
                break;
            }
        }
    }
    shared.registry.leave(session_id);
    tracing::info!("{name} left");
}

/// Sends queued lines until the session ends, then closes the socket.
fn write_outbox(
    mut stream: &TcpStream,
    outbox: &flume::Receiver<Arc<str>>,
    stall: std::time::Duration,
) {
    let _ = stream.set_write_timeout(Some(stall));
    for message in outbox.iter() {
        if stream.write_all(message.as_bytes()).is_err() {
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// `DELETE`: the uploader or the operator removes a file; everyone hears `FILE_DELETED`.
fn delete(shared: &Shared, session_id: u64, request: &JoinRequest, file_id: u64) {
    let key = request.public_key;
    let operator = shared.registry.is_operator(&key);
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
            shared.registry.announce_deleted(file_id);
            return;
        }
        Err(RemoveError::NotFound) => "File not found".to_owned(),
        Err(RemoveError::Refused(record)) => format!(
            "Only {} (who shared it) or the host can delete '{}'",
            record.uploader_name, record.name
        ),
        Err(RemoveError::Storage(error)) => {
            tracing::error!("Could not delete file {file_id} from the store: {error}");
            // It is out of the catalog already: tell everyone it is gone.
            shared.registry.announce_deleted(file_id);
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
