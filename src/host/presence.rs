//! Who is online, as told to every session: `PEER_JOINED` and `PEER_LEFT` go out at most a few
//! times a second, as the difference between who is online now and what was told last. A
//! crowd that joins and leaves in between costs the other participants nothing, and a
//! participant that leaves and comes back at once is not announced twice.

use std::collections::BTreeMap;

use crate::protocol::{ClientId, HostLine};

/// What the sessions were told last, and whether anything may have changed since.
#[derive(Default)]
pub(super) struct Presence {
    told: BTreeMap<ClientId, String>,
    changed: bool,
}

impl Presence {
    /// Notes that someone joined or left (or was renamed): the next flush compares.
    pub(super) fn touch(&mut self) {
        self.changed = true;
    }

    /// The lines that bring everyone from what they were told to `online` (each participant
    /// online now with its name), each with the participant it is about; none if nothing
    /// changed. `online` becomes what they were told.
    pub(super) fn flush(&mut self, online: BTreeMap<ClientId, String>) -> Vec<(ClientId, String)> {
        if !std::mem::take(&mut self.changed) {
            return Vec::new();
        }
        let left = self
            .told
            .keys()
            .filter(|client_id| !online.contains_key(client_id))
            .map(|client_id| {
                let line = HostLine::PeerLeft {
                    client_id: *client_id,
                };
                (*client_id, line.encode())
            });
        let joined = online
            .iter()
            .filter(|(client_id, username)| self.told.get(client_id) != Some(username))
            .map(|(client_id, username)| {
                let line = HostLine::PeerJoined {
                    client_id: *client_id,
                    username: username.clone(),
                };
                (*client_id, line.encode())
            });
        let changes = left.chain(joined).collect();
        self.told = online;
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn online(people: &[(ClientId, &str)]) -> BTreeMap<ClientId, String> {
        people
            .iter()
            .map(|(id, name)| (*id, (*name).to_owned()))
            .collect()
    }

    fn text(changes: Vec<(ClientId, String)>) -> String {
        changes.into_iter().map(|(_, line)| line).collect()
    }

    #[test]
    fn only_the_difference_is_told_and_a_crowd_that_came_and_went_is_not() {
        let mut presence = Presence::default();
        assert!(
            presence.flush(online(&[(1, "Ann")])).is_empty(),
            "nothing touched"
        );
        presence.touch();
        assert_eq!(
            text(presence.flush(online(&[(1, "Ann")]))),
            "PEER_JOINED:1:Ann\n"
        );
        // A thousand joined and left between two flushes; Bob joined; Ann renamed herself.
        for _ in 0..1000 {
            presence.touch();
        }
        let changes = presence.flush(online(&[(1, "Anna"), (2, "Bob")]));
        assert_eq!(
            changes.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(text(changes), "PEER_JOINED:1:Anna\nPEER_JOINED:2:Bob\n");
        presence.touch();
        assert_eq!(text(presence.flush(online(&[(2, "Bob")]))), "PEER_LEFT:1\n");
        presence.touch();
        assert!(
            presence.flush(online(&[(2, "Bob")])).is_empty(),
            "left and came back"
        );
    }
}
