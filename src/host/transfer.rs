//! What uploads and downloads share: a transfer slot while the bytes move, and a watched pace.

use super::activity::{Direction, MadeWay};
use super::make_way::Need;
use super::pace::Pace;
use super::slots::Slot;
use super::state::Shared;
use super::wire::Connection;

/// Takes a transfer slot, or tells the client the host is busy.
pub(super) fn take_slot<'a>(shared: &'a Shared, connection: &Connection) -> Option<Slot<'a>> {
    let slot = shared
        .slots
        .acquire_making_way(shared.config.timeouts.command, || {
            match shared
                .activity
                .make_way(Need::Slot, shared.config.timeouts.make_way)
            {
                // Slots are held by transfers about to begin: judge them in a moment.
                MadeWay::Never if shared.activity.stoppable() < shared.slots.count() => {
                    MadeWay::NotYet
                }
                made_way => made_way,
            }
        });
    if slot.is_none() {
        shared.counters.count_refused();
        connection.refuse(format_args!(
            "Host is busy: all {} transfer slots are in use, try again shortly",
            shared.slots.count()
        ));
    }
    slot
}

/// What a transfer moves and holds, as the choice of whom to stop for newcomers sees it
/// ([`super::make_way`]).
pub(super) struct Stake {
    /// Bytes it moves.
    pub total: u64,
    /// Storage room it holds (0 for a download).
    pub room: u64,
    /// Whether it stopped another transfer to get its slot or room.
    pub made_way: bool,
}

/// Starts watching the pace of a transfer on `connection` whose bytes begin to move now; it
/// shows among the host's transfers in progress until it ends, and may be stopped to make way
/// for others. It shows with `participant`'s name, when known.
pub(super) fn start_pace<'a>(
    shared: &'a Shared,
    connection: &Connection,
    direction: Direction,
    name: &str,
    participant: Option<&str>,
    stake: Stake,
) -> Pace<'a> {
    let tracker =
        shared
            .activity
            .track(name, connection.peer(), participant, direction, stake.total);
    if let Ok(socket) = connection.stream().tcp().try_clone() {
        tracker.may_be_stopped(socket, stake.room, !stake.made_way);
    }
    Pace::start(
        &shared.counters,
        tracker,
        direction,
        shared.config.timeouts.stall,
        shared.config.min_transfer_rate,
    )
}
