//! Files that expire: the lifetime a new file gets from what its sharer asked and the host's
//! `--expire-after` and `--max-expiry`, and the `lanshare-expiry` thread, which sleeps until
//! the next file's time, deletes it with the usual `FILE_DELETED` broadcast (its room is freed
//! once no download reads it any more) and sleeps again. A new file that expires sooner wakes
//! it.

use std::time::Duration;

use chrono::Utc;

use super::config::HostConfig;
use super::doorbell::Doorbell;
use super::registry::Registry;
use super::wire::printable;
use crate::protocol::Expiry;
use crate::storage::Storage;

/// Longest the thread sleeps without looking (in case the system clock was changed).
const LONGEST_NAP: Duration = Duration::from_secs(60);

/// The lifetime a file gets, and whether the host cut what its sharer asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Lifetime {
    /// How long after it is stored it is deleted; `None`: never.
    pub after: Option<Duration>,
    /// The sharer asked for longer (or for never) than the host's maximum.
    pub cut: bool,
}

/// The lifetime of a file whose sharer asked for `asked` on a host configured as `config`.
pub(super) fn lifetime(config: &HostConfig, asked: Expiry) -> Lifetime {
    let wanted = match asked {
        Expiry::HostDefault => config.expire_after,
        Expiry::Never => None,
        Expiry::After(secs) => Some(Duration::from_secs(secs)),
    };
    match (wanted, config.max_expiry) {
        (None, Some(max)) => Lifetime {
            after: Some(max),
            cut: asked == Expiry::Never,
        },
        (Some(wanted), Some(max)) if wanted > max => Lifetime {
            after: Some(max),
            cut: true,
        },
        (wanted, _) => Lifetime {
            after: wanted,
            cut: false,
        },
    }
}

/// Deletes the files that expired while the host was stopped (a disk store's), before it
/// serves anyone.
pub(super) fn remove_expired_at_start(storage: &Storage) {
    for record in storage.remove_expired(Utc::now()) {
        tracing::info!(
            "File '{}' (ID: {}) expired while the host was stopped: deleted",
            printable(&record.name),
            record.id
        );
    }
}

/// Deletes files of `storage` as they expire, telling the `registry`'s sessions, until
/// `clock` is stopped; runs on a thread of its own.
pub(super) fn run(storage: &Storage, registry: &Registry, clock: &Doorbell) {
    loop {
        let now = Utc::now();
        for record in storage.remove_expired(now) {
            tracing::info!(
                "File '{}' (ID: {}) expired: deleted",
                printable(&record.name),
                record.id
            );
            registry.announce_deleted(&record);
        }
        let pause = storage
            .next_expiry()
            .map(|at| (at - now).to_std().unwrap_or_default() + Duration::from_millis(1))
            .unwrap_or(LONGEST_NAP)
            .min(LONGEST_NAP);
        if !clock.sleep(Some(pause)) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(expire_after: Option<u64>, max_expiry: Option<u64>) -> HostConfig {
        HostConfig {
            expire_after: expire_after.map(Duration::from_secs),
            max_expiry: max_expiry.map(Duration::from_secs),
            ..HostConfig::default()
        }
    }

    fn after(secs: u64, cut: bool) -> Lifetime {
        Lifetime {
            after: Some(Duration::from_secs(secs)),
            cut,
        }
    }

    #[test]
    fn the_sharer_asks_and_the_host_caps() {
        let open = host(None, None);
        assert_eq!(lifetime(&open, Expiry::After(7200)), after(7200, false));
        assert_eq!(lifetime(&open, Expiry::HostDefault).after, None);
        let capped = host(Some(86_400), Some(604_800));
        assert_eq!(lifetime(&capped, Expiry::HostDefault), after(86_400, false));
        assert_eq!(lifetime(&capped, Expiry::After(60)), after(60, false));
        assert_eq!(
            lifetime(&capped, Expiry::After(30 * 86_400)),
            after(604_800, true)
        );
        assert_eq!(lifetime(&capped, Expiry::Never), after(604_800, true));
        assert_eq!(
            lifetime(&host(None, Some(600)), Expiry::HostDefault),
            after(600, false)
        );
    }
}
