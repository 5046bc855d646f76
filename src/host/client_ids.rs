//! The id each participant key has on this host. A key that owns stored files keeps its id
//! for as long as the host runs (and, with the disk store, across restarts: the records carry
//! it); a key that owns nothing keeps it while it is among the most recently seen, so a crowd of
//! throwaway keys cannot grow the host's memory without bound.

use std::collections::{HashMap, HashSet};

use crate::protocol::{ClientId, PublicKey};

/// How many keys that own no file are remembered at most.
pub(super) const MAX_RECENT_KEYS: usize = 4096;

/// Ids by key.
pub(super) struct ClientIds {
    next: ClientId,
    owners: HashMap<PublicKey, ClientId>,
    recent: HashMap<PublicKey, (ClientId, u64)>,
    clock: u64,
}

impl ClientIds {
    /// The ids recorded with stored files: `(owner key, uploader id)`.
    pub(super) fn new(owned: impl IntoIterator<Item = (PublicKey, ClientId)>) -> Self {
        let mut ids = Self {
            next: 1,
            owners: HashMap::new(),
            recent: HashMap::new(),
            clock: 0,
        };
        for (key, id) in owned {
            ids.owns_files(key, id);
        }
        ids
    }

    /// The id of `key`, given now if it has none; keys in `online` are never forgotten.
    pub(super) fn id_for(&mut self, key: PublicKey, online: &HashSet<PublicKey>) -> ClientId {
        if let Some(id) = self.owners.get(&key) {
            return *id;
        }
        self.clock += 1;
        let clock = self.clock;
        if let Some((id, seen)) = self.recent.get_mut(&key) {
            *seen = clock;
            return *id;
        }
        let id = self.next;
        self.next += 1;
        self.recent.insert(key, (id, clock));
        if self.recent.len() > MAX_RECENT_KEYS + MAX_RECENT_KEYS / 8 {
            self.forget_oldest(online);
        }
        id
    }

    /// `key` owns a stored file now: it keeps its id for good. In a library shared by several
    /// hosts the file may carry the id another host gave; if this host gave that id to
    /// another key, `key` keeps (or gets) an id of this host's instead.
    pub(super) fn owns_files(&mut self, key: PublicKey, id: ClientId) {
        let taken = self
            .owners
            .iter()
            .any(|(other, owned)| *owned == id && *other != key)
            || self
                .recent
                .iter()
                .any(|(other, (recent, _))| *recent == id && *other != key);
        if taken {
            let own = match self.recent.remove(&key) {
                Some((own, _)) => own,
                None => {
                    self.next += 1;
                    self.next - 1
                }
            };
            self.owners.entry(key).or_insert(own);
            return;
        }
        self.next = self.next.max(id + 1);
        self.recent.remove(&key);
        self.owners.insert(key, id);
    }

    /// Whether `key` has an id here: it joined this host (since it started, among the most
    /// recent keys) or owns a stored file.
    pub(super) fn knows(&self, key: &PublicKey) -> bool {
        self.owners.contains_key(key) || self.recent.contains_key(key)
    }

    /// Keys remembered now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.owners.len() + self.recent.len()
    }

    /// Forgets the least recently seen keys that are not online, down to the limit.
    fn forget_oldest(&mut self, online: &HashSet<PublicKey>) {
        let mut ages: Vec<(u64, PublicKey)> = self
            .recent
            .iter()
            .filter(|(key, _)| !online.contains(*key))
            .map(|(key, (_, seen))| (*seen, *key))
            .collect();
        ages.sort_unstable_by_key(|(seen, _)| *seen);
        let excess = self.recent.len().saturating_sub(MAX_RECENT_KEYS);
        for (_, key) in ages.into_iter().take(excess) {
            self.recent.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> PublicKey {
        let mut bytes = [0u8; 32];
        bytes[..4].copy_from_slice(&n.to_be_bytes());
        PublicKey(bytes)
    }

    #[test]
    fn an_id_another_host_gave_never_makes_two_keys_one() {
        // Files of a shared library: two hosts gave id 3 to different keys.
        let mut ids = ClientIds::new([(key(0), 3), (key(1), 3)]);
        let online = HashSet::new();
        let (first, second) = (ids.id_for(key(0), &online), ids.id_for(key(1), &online));
        assert_eq!(first, 3);
        assert_ne!(second, first);
        // A participant here has id 5; a file arrives from elsewhere whose owner had 5 there.
        let here = ids.id_for(key(2), &online);
        ids.owns_files(key(9), here);
        assert_ne!(ids.id_for(key(9), &online), here);
        assert_eq!(ids.id_for(key(2), &online), here);
        // New ids follow every id recorded.
        ids.owns_files(key(10), 40);
        assert_eq!(ids.id_for(key(11), &online), 41);
    }

    #[test]
    fn owners_keep_their_ids_and_a_crowd_of_strangers_is_bounded() {
        let mut ids = ClientIds::new([(key(0), 7)]);
        let online = HashSet::from([key(1)]);
        assert_eq!(ids.id_for(key(0), &online), 7);
        let first = ids.id_for(key(1), &online);
        assert_eq!(first, 8, "new ids follow the recorded ones");
        for n in 2..50_000 {
            ids.id_for(key(n), &online);
        }
        assert!(
            ids.len() <= 1 + MAX_RECENT_KEYS + MAX_RECENT_KEYS / 8,
            "{}",
            ids.len()
        );
        assert_eq!(
            ids.id_for(key(0), &online),
            7,
            "an owner is never forgotten"
        );
        assert_eq!(ids.id_for(key(1), &online), first, "nor is a key online");
        // A recent stranger keeps its id; one long forgotten gets a new one.
        assert_eq!(
            ids.id_for(key(49_999), &online),
            ids.id_for(key(49_999), &online)
        );
        let recent_id = ids.id_for(key(49_998), &online);
        assert_eq!(ids.id_for(key(49_998), &online), recent_id);
        assert_ne!(ids.id_for(key(2), &online), 9, "forgotten, given a new id");
        ids.owns_files(key(3), 999);
        assert_eq!(ids.id_for(key(3), &online), 999);
    }
}
