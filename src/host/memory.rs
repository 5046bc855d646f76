//! Gives the system back memory the host freed after a burst.
//!
//! glibc's allocator keeps what a thread frees in that thread's arena, and returns pages to
//! the system only from the top of each arena. After a crowd of connections (a flood, a
//! swarm of uploads into the memory store) has come and gone, the host would rest at its
//! peak: the soak measured 190–220 MB resident at rest after attacked phases, of which
//! `malloc_trim` gave back all but 45–56 MB. So when a pool thread retires (idle for
//! [`super::pool::IDLE_RETIRE`], the burst over), the host asks the allocator to return its
//! free pages: always when the last pool thread leaves, else at most every [`TRIM_EVERY`],
//! since a trim walks and locks every arena in turn.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The least time between two trims while pool threads still run.
const TRIM_EVERY: Duration = Duration::from_secs(5);

/// When the host last trimmed.
static LAST_TRIM: Mutex<Option<Instant>> = Mutex::new(None);

/// Called by a retiring pool thread, with how many pool threads remain: returns free memory
/// to the system if none remain or the last trim was long enough ago.
pub(super) fn after_retirement(threads_left: usize) {
    let mut last = LAST_TRIM
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if threads_left > 0 && last.is_some_and(|at| at.elapsed() < TRIM_EVERY) {
        return;
    }
    *last = Some(Instant::now());
    drop(last);
    let started = Instant::now();
    let released = release_free_memory();
    tracing::debug!(
        "Gave free memory back to the system ({released}) in {:?}, {threads_left} pool thread(s) left",
        started.elapsed()
    );
}

/// Asks glibc to return the free pages of every arena (`malloc_trim(0)`); true if it
/// returned any.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn release_free_memory() -> bool {
    // SAFETY: `malloc_trim` takes no pointer and touches only the allocator's own state,
    // under the same locks as every other allocation.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Other allocators (musl, macOS, Windows) have no such call: nothing to do.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_memory() -> bool {
    false
}
