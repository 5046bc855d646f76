//! What uploads and downloads share: a transfer slot while the bytes move, and a watched pace.

use std::net::SocketAddr;

use super::activity::Direction;
use super::pace::Pace;
use super::slots::Slot;
use super::state::Shared;
use super::wire::Connection;

/// Takes a transfer slot, or tells the client the host is busy.
pub(super) fn take_slot<'a>(shared: &'a Shared, connection: &Connection) -> Option<Slot<'a>> {
    let slot = shared.slots.acquire(shared.config.timeouts.command);
    if slot.is_none() {
        shared.counters.count_refused();
        connection.refuse(format_args!(
            "Host is busy: all {} transfer slots are in use, try again shortly",
            shared.slots.count()
        ));
    }
    slot
}

/// Starts watching the pace of a transfer whose bytes begin to move now; it shows among the
/// host's transfers in progress (with `participant`'s name, when known) until it ends.
pub(super) fn start_pace<'a>(
    shared: &'a Shared,
    direction: Direction,
    name: &str,
    peer: SocketAddr,
    participant: Option<&str>,
    total: u64,
) -> Pace<'a> {
    Pace::start(
        &shared.counters,
        shared
            .activity
            .track(name, peer, participant, direction, total),
        direction,
        shared.config.timeouts.stall,
        shared.config.min_transfer_rate,
    )
}
