//! Which transfers give way when the host runs short of transfer slots or storage room.
//!
//! A transfer holds a slot while its bytes move, and an upload also holds room for its whole
//! announced size from `READY` on. A client that trickles just above the minimum pace would hold
//! both for hours, and a crowd of them (from as many addresses as it likes) would keep everyone
//! else out. So when a newcomer finds no slot or no room, the host takes them back from the
//! transfers that would still need longer than [`Timeouts::make_way`] to finish at their pace so
//! far, the slowest first. The newcomer that stopped a transfer is handed what it freed, before
//! anyone else.
//!
//! A transfer younger than [`GRACE`] is not chosen, its pace not being known yet — unless it
//! got its own slot or room by stopping another, or started while the host was stopping
//! transfers to make way ([`PRESSURE`]): otherwise a crowd of tricklers stopping one another
//! would always hold everything with transfers in their grace. Even then a transfer is left
//! its [`FIRST_MOMENT`], in which a normal client's first bytes arrive.
//!
//! [`Timeouts::make_way`]: super::config::Timeouts::make_way

use std::fmt;
use std::time::Duration;

use crate::units::{format_duration, format_rate};

/// How long a transfer runs before its pace may count against it.
pub(super) const GRACE: Duration = Duration::from_secs(2);
/// How long after a transfer was stopped to make way transfers that start get no grace.
pub(super) const PRESSURE: Duration = Duration::from_secs(10);
/// How long every transfer runs before it may be stopped at all.
pub(super) const FIRST_MOMENT: Duration = Duration::from_millis(25);
/// How long a newcomer for a slot, in its turn, waits for transfers too young to judge before
/// it gives up making way and waits in line (they are young for [`FIRST_MOMENT`] while the
/// host is pressed).
pub(super) const JUDGE_WAIT: Duration = Duration::from_millis(250);

impl Need {
    /// How long a newcomer waits for transfers too young to judge that hold what it needs: a
    /// slot newcomer [`JUDGE_WAIT`] (then it waits in line for a slot); an upload without room
    /// is refused if it gives up, so it waits out a whole [`GRACE`] (and a little) — at the onset of a crowd
    /// every holder of room may be in its grace at once.
    pub(super) fn judge_wait(self) -> Duration {
        match self {
            Need::Slot => JUDGE_WAIT,
            Need::Room(_) => GRACE + JUDGE_WAIT,
        }
    }
}

/// What a newcomer lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    /// A transfer slot.
    Slot,
    /// This many bytes of storage room.
    Room(u64),
}

/// How far a transfer has got, as the choice of whom to stop sees it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Progress {
    /// Bytes this transfer moves in all.
    pub total: u64,
    /// Bytes moved so far.
    pub done: u64,
    /// Time since its bytes began to move.
    pub elapsed: Duration,
    /// Storage room it holds (an upload's announced size; 0 for a download).
    pub room: u64,
    /// Whether it has [`GRACE`] (it did not stop another to start).
    pub graced: bool,
}

impl Progress {
    /// Its pace so far, in bytes a second (over at least [`GRACE`]).
    fn rate(&self) -> f64 {
        self.done as f64 / self.elapsed.max(GRACE).as_secs_f64()
    }

    /// How much longer it would take at its pace so far (`None`: it has not moved at all).
    fn time_left(&self) -> Option<Duration> {
        let rate = self.rate();
        let left = self.total.saturating_sub(self.done) as f64;
        (rate > 0.0).then(|| Duration::from_secs_f64((left / rate).min(1e9)))
    }
}

/// Why a transfer was stopped to make way, as its client is told.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Cut {
    /// What the newcomer lacked.
    pub need: Need,
    /// How long the stopped transfer would still have taken (`None`: forever).
    pub time_left: Option<Duration>,
    /// Its pace, in bytes a second.
    pub rate: f64,
}

impl fmt::Display for Cut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.need {
            Need::Slot => "its transfer slot",
            Need::Room(_) => "its storage room",
        };
        let left = self.time_left.map_or_else(
            || "never finish".to_owned(),
            |left| format!("take {} more", format_duration(left)),
        );
        write!(
            f,
            "Stopped to make way: another transfer needed {what}, and this one would {left} at {}",
            format_rate(self.rate)
        )
    }
}

/// How long a transfer may not be stopped from its start.
fn protected_for(progress: &Progress) -> Duration {
    if progress.graced { GRACE } else { FIRST_MOMENT }
}

/// Whether a transfer is past the time in which it may not be stopped.
fn judged(progress: &Progress) -> bool {
    progress.elapsed >= protected_for(progress)
}

/// Whether a transfer holds what `need` asks for.
fn holds(progress: &Progress, need: Need) -> bool {
    !matches!(need, Need::Room(_)) || progress.room > 0
}

/// True if some transfer holding what `need` asks for is too young to be judged now but will
/// be within [`Need::judge_wait`]: it may turn out slow in a moment.
pub(super) fn some_judged_soon<I>(running: &[(I, Progress)], need: Need) -> bool {
    running.iter().any(|(_, progress)| {
        holds(progress, need)
            && !judged(progress)
            && protected_for(progress) - progress.elapsed <= need.judge_wait()
    })
}

/// Picks the transfers to stop for `need` among `running` (index, progress), slowest first:
/// one for a slot; for room, as few as free enough of it, or none if all of them together
/// would not. Only transfers old enough to be judged (see the module comment) that would need
/// longer than `horizon` qualify.
pub(super) fn choose<I: Copy>(
    running: &[(I, Progress)],
    need: Need,
    horizon: Duration,
) -> Vec<(I, Cut)> {
    let mut slow: Vec<(I, Progress, Option<Duration>)> = running
        .iter()
        .filter(|(_, progress)| judged(progress) && holds(progress, need))
        .map(|(index, progress)| (*index, *progress, progress.time_left()))
        .filter(|(_, _, left)| left.is_none_or(|left| left > horizon))
        .collect();
    // Slowest first: a transfer that has not moved at all before any that has, the oldest of
    // those first.
    slow.sort_by(|a, b| match (a.2, b.2) {
        (None, None) => b.1.elapsed.cmp(&a.1.elapsed),
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (Some(a), Some(b)) => b.cmp(&a),
    });
    let cut = |(index, progress, time_left): (I, Progress, Option<Duration>)| {
        let cut = Cut {
            need,
            time_left,
            rate: progress.rate(),
        };
        (index, cut)
    };
    match need {
        Need::Slot => slow.into_iter().take(1).map(cut).collect(),
        Need::Room(bytes) => {
            let mut freed = 0u64;
            let chosen: Vec<_> = slow
                .into_iter()
                .take_while(|(_, progress, _)| {
                    let more = freed < bytes;
                    freed = freed.saturating_add(progress.room);
                    more
                })
                .collect();
            if freed < bytes {
                return Vec::new();
            }
            chosen.into_iter().map(cut).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HORIZON: Duration = Duration::from_secs(600);
    const MB: u64 = 1_000_000;

    fn upload(done: u64, seconds: u64) -> Progress {
        Progress {
            total: 100 * MB,
            done,
            elapsed: Duration::from_secs(seconds),
            room: 100 * MB,
            graced: true,
        }
    }

    #[test]
    fn the_slowest_transfer_gives_its_slot_and_a_fast_one_never() {
        let running = [
            (0, upload(50_000, 10)), // 5 KB/s: hours left
            (1, upload(80 * MB, 8)), // 10 MB/s: seconds left
            (2, upload(20_000, 10)), // 2 KB/s: slower still
            (3, upload(0, 1)),       // too young to judge
        ];
        let chosen = choose(&running, Need::Slot, HORIZON);
        assert_eq!(chosen.len(), 1);
        assert_eq!(chosen[0].0, 2);
        assert!(chosen[0].1.to_string().starts_with(
            "Stopped to make way: another transfer needed its transfer slot, and this one would \
             take"
        ));
        let fast_only = [(1, upload(80 * MB, 8)), (3, upload(0, 1))];
        assert!(choose(&fast_only, Need::Slot, HORIZON).is_empty());
        // One that stopped another to start has no grace: it is judged at once.
        let pushed_in = Progress {
            graced: false,
            ..upload(0, 1)
        };
        let just_now = Progress {
            elapsed: Duration::from_millis(5),
            ..pushed_in
        };
        assert!(choose(&[(5, just_now)], Need::Slot, HORIZON).is_empty());
        let chosen = choose(
            &[(1, upload(80 * MB, 8)), (4, pushed_in)],
            Need::Slot,
            HORIZON,
        );
        assert_eq!(chosen.first().map(|(index, _)| *index), Some(4));
    }

    #[test]
    fn room_comes_from_as_few_slow_uploads_as_free_enough_or_none() {
        let stalled = upload(0, 30);
        let running = [
            (0, upload(50_000, 10)),
            (1, stalled),
            (2, upload(90_000, 10)),
        ];
        let chosen: Vec<usize> = choose(&running, Need::Room(150 * MB), HORIZON)
            .into_iter()
            .map(|(index, _)| index)
            .collect();
        assert_eq!(
            chosen,
            vec![1, 0],
            "the stalled one first, then the slowest"
        );
        assert!(
            choose(&running, Need::Room(301 * MB), HORIZON).is_empty(),
            "stopping all three would not make enough room: stop none"
        );
        let download = Progress { room: 0, ..stalled };
        assert!(choose(&[(0, download)], Need::Room(1), HORIZON).is_empty());
        let cut = choose(&[(0, stalled)], Need::Room(1), HORIZON);
        assert_eq!(
            cut[0].1.to_string(),
            "Stopped to make way: another transfer needed its storage room, and this one would \
             never finish at 0 B/s"
        );
    }

    #[test]
    fn an_upload_without_room_waits_out_a_whole_grace_and_a_slot_newcomer_less() {
        let just_started = Progress {
            elapsed: Duration::from_millis(100),
            ..upload(0, 0)
        };
        let running = [(0, just_started)];
        assert!(choose(&running, Need::Room(MB), HORIZON).is_empty());
        assert!(
            some_judged_soon(&running, Need::Room(MB)),
            "every holder of room in its grace: the upload waits for them to be judged"
        );
        assert!(
            !some_judged_soon(&running, Need::Slot),
            "a slot newcomer waits in line instead"
        );
        let nearly = Progress {
            elapsed: GRACE - JUDGE_WAIT / 2,
            ..just_started
        };
        assert!(some_judged_soon(&[(0, nearly)], Need::Slot));
    }
}
