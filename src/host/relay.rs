//! Relaying a file shared directly when its downloader cannot reach the sharer (a firewall,
//! client isolation): the host asks the sharer, over its control session, to open a connection
//! of its own (`RELAY_WANTED` → `RELAY_SEND`), then streams the bytes from that connection to
//! the downloader's, holding one buffer of them at a time and storing none.
//!
//! The sharer's connection arrives on another pool thread; [`super::direct::Relays`] hands it to the thread
//! serving the downloader, which then does all the work and closes both.

use std::time::Duration;

use super::activity::Direction;
use super::download::{online_sharer, send_read};
use super::registry::Uploader;
use super::state::Shared;
use super::transfer::{Stake, start_pace, take_slot};
use super::wire::{Connection, Silence, printable};
use crate::protocol::{ClientLine, FileId, HostLine, RelayToken};
use crate::storage::FileRecord;

/// How long a sharer may take to open the connection a relay asks for.
const SHARER_ANSWER: Duration = Duration::from_secs(10);

/// `RELAY_SEND:<token>`: a sharer's connection for a relay; handed to the thread that waits
/// for it, or refused if no relay waits for that token.
pub(super) fn take_sharer(shared: &Shared, connection: Connection, token: &RelayToken) {
    if !connection.stream().is_encrypted() {
        connection.refuse("Relays are encrypted: RELAY_SEND must come over TLS");
        return;
    }
    match shared.relays.take(token) {
        Some(sender) => {
            if let Err(flume::SendError(connection)) = sender.send(connection) {
                connection.refuse("That relay was given up: its downloader left");
            }
        }
        None => connection.refuse("No relay waits for that token"),
    }
}

/// `RELAY:<file_id>` from the proven `participant`: gets the sharer's connection, then relays
/// the `DOWNLOAD` that follows as if it were served here. Returns false: the connection closes
/// after a relay.
pub(super) fn relay(
    shared: &Shared,
    connection: &mut Connection,
    file_id: FileId,
    participant: Option<&Uploader>,
) -> bool {
    let Some(participant) = participant else {
        connection.refuse("Prove who you are first (AUTH_PROOF): only participants get relays");
        return false;
    };
    let Some((record, sharer)) = online_sharer(shared, connection, file_id, &participant.key)
    else {
        return false;
    };
    let Some(mut from_sharer) = call_sharer(shared, connection, &record, sharer.session_id) else {
        return false;
    };
    let timeout = shared.config.timeouts.command;
    let offset = match connection.read_command(timeout, Silence::Report) {
        Some(ClientLine::Download {
            file_id: wanted,
            offset,
        }) if wanted == file_id => offset,
        Some(_) => {
            connection.refuse(format_args!(
                "Only DOWNLOAD:{file_id} may follow RELAY:{file_id}"
            ));
            return false;
        }
        None => return false,
    };
    let asked = ClientLine::Download { file_id, offset }.encode();
    if from_sharer.reply_all(&asked).is_err() {
        connection.refuse("The sharer's relay connection failed");
        return false;
    }
    let Some(size) = relay_file_line(connection, &mut from_sharer, &record, timeout) else {
        return false;
    };
    match connection.read_command(timeout, Silence::Report) {
        Some(ClientLine::Ready) => {}
        _ => return false,
    }
    let Some(slot) = take_slot(shared, connection) else {
        return false;
    };
    if from_sharer.reply_all(&ClientLine::Ready.encode()).is_err() {
        return false;
    }
    let stake = Stake {
        total: size - offset,
        room: 0,
        made_way: slot.made_way(),
    };
    pump(
        shared,
        connection,
        &mut from_sharer,
        &record,
        (participant, stake),
    );
    false
}

/// Asks the sharer (session `session_id`) for a relay connection and waits for it; or tells
/// the downloader why there is none.
fn call_sharer(
    shared: &Shared,
    connection: &Connection,
    record: &FileRecord,
    session_id: u64,
) -> Option<Connection> {
    let Ok((token, arrives)) = shared.relays.open() else {
        connection.refuse("Host error: no random numbers for a relay");
        return None;
    };
    let wanted = HostLine::RelayWanted {
        token,
        file_id: record.id,
    };
    let asked = shared.registry.send_to(session_id, &wanted.encode());
    let sharer_connection = if asked {
        arrives.recv_timeout(SHARER_ANSWER).ok()
    } else {
        None
    };
    shared.relays.close(&token);
    if sharer_connection.is_none() {
        connection.refuse(format_args!(
            "'{}' could not be relayed: {} (who shares it from their machine) did not answer",
            record.name, record.uploader_name
        ));
    }
    sharer_connection
}

/// Passes the sharer's answer to `DOWNLOAD` on: its `FILE:` line (returning the size), or
/// its refusal.
fn relay_file_line(
    connection: &Connection,
    from_sharer: &mut Connection,
    record: &FileRecord,
    timeout: Duration,
) -> Option<u64> {
    match from_sharer.read_reply(timeout) {
        Some(HostLine::File { name, size }) if size == record.size => {
            let line = HostLine::File { name, size };
            connection.reply(&line).ok().map(|()| size)
        }
        Some(HostLine::Error(reason)) => {
            connection.refuse(reason);
            None
        }
        Some(_) => {
            connection.refuse(format_args!(
                "'{}' changed on its sharer's machine since it was shared",
                record.name
            ));
            None
        }
        None => {
            connection.refuse("The sharer's relay connection failed");
            None
        }
    }
}

/// Streams the file's bytes from the sharer to the downloader at a watched pace, as a
/// download of the host's own is.
fn pump(
    shared: &Shared,
    connection: &Connection,
    from_sharer: &mut Connection,
    record: &FileRecord,
    (participant, stake): (&Uploader, Stake),
) {
    let name = printable(&record.name);
    let peer = connection.peer();
    let stall = shared.config.timeouts.stall;
    if connection.set_write_timeout(stall).is_err() || from_sharer.set_read_timeout(stall).is_err()
    {
        return;
    }
    tracing::info!(
        "Relaying '{name}' (ID: {}) from {} to {peer}, {} bytes",
        record.id,
        from_sharer.peer(),
        stake.total
    );
    let total = stake.total;
    let mut pace = start_pace(
        shared,
        connection,
        Direction::Download,
        &record.name,
        Some(&participant.username),
        stake,
    );
    match send_read(connection.stream(), from_sharer, total, &mut pace) {
        Ok(()) => {
            tracing::info!("Relayed '{name}' completely");
            connection.stream().close_write();
        }
        Err(error) => {
            tracing::warn!("Relaying '{name}' to {peer} stopped: {error}");
            connection.stream().shutdown();
        }
    }
    from_sharer.stream().shutdown();
}
