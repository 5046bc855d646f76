//! Who is connected: control sessions, participant ids, tickets, and the broadcast to all.
//!
//! Every message to participants goes through the registry's lock, and a joining session
//! takes its snapshot of the file list under the same lock. So a participant sees every file
//! either in its snapshot or as a later `FILE_OFFER` (possibly both: clients treat offers as
//! idempotent), and never misses one.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::client_ids::ClientIds;
use super::direct::DirectShares;
use super::presence::Presence;
use crate::net::Stream;
use crate::protocol::{
    Audience, ClientId, CommentInfo, Features, FileInfo, HostLine, NameKey, PublicKey, Role,
    Ticket, clean_name,
};
use crate::storage::{Comment, FileRecord, Storage, Viewer};
use crate::tls::same_secret;

/// How long a ticket stays valid after its session ended, so that a transfer cut off together
/// with its participant's session (a laptop asleep, Wi-Fi gone) can reconnect and resume.
pub(crate) const TICKET_GRACE: Duration = Duration::from_secs(600);

/// How many messages may wait for a slow participant before it is disconnected.
const OUTBOX_CAPACITY: usize = 4096;

/// A participant proven by a ticket on a transfer connection.
#[derive(Debug, Clone)]
pub(crate) struct Uploader {
    pub client_id: ClientId,
    pub username: String,
    pub key: PublicKey,
}

/// One live control session.
struct Session {
    client_id: ClientId,
    username: String,
    key: PublicKey,
    ticket: Ticket,
    outbox: flume::Sender<Arc<str>>,
    stream: Stream,
    /// The extra lines it asked for.
    features: Features,
}

struct State {
    ids: ClientIds,
    sessions: HashMap<u64, Session>,
    next_session_id: u64,
    /// Tickets of sessions that ended, still honoured until the instant given.
    ended_tickets: HashMap<Ticket, (Uploader, Instant)>,
    /// The same tickets, oldest first (they all last as long, so this is also expiry order).
    ended_order: VecDeque<Ticket>,
    /// Who the sessions were told is online.
    presence: Presence,
}

/// How many ended sessions' tickets are honoured at most; beyond it the oldest go first.
const MAX_ENDED_TICKETS: usize = 4096;

/// A participant's request to join, after its key was proven.
pub(crate) struct Join {
    pub username: String,
    pub key: PublicKey,
    pub stream: Stream,
    pub features: Features,
}

/// A registered session, as its owner thread sees it.
pub(crate) struct Joined {
    pub session_id: u64,
    pub client_id: ClientId,
    pub role: Role,
    pub outbox: flume::Receiver<Arc<str>>,
}

/// Why a join was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JoinError {
    #[error("The name '{0}' is taken by another participant; choose another")]
    NameTaken(String),
    #[error("Host has too many participants (max {0})")]
    Full(usize),
    #[error("Host could not create a session ticket: {0}")]
    Random(std::io::Error),
}

/// A name in a list of who may see a file that no participant known to the host holds.
#[derive(Debug, thiserror::Error)]
#[error("No participant called '{0}' is known to this host")]
pub(crate) struct UnknownName(String);

/// The registry of sessions.
pub(crate) struct Registry {
    state: Mutex<State>,
    operator: Option<PublicKey>,
    max_sessions: usize,
}

impl Registry {
    /// A registry that already knows the participant ids recorded with stored files.
    pub(crate) fn new(
        records: &[Arc<FileRecord>],
        operator: Option<PublicKey>,
        max_sessions: usize,
    ) -> Self {
        let owned = records
            .iter()
            .filter_map(|record| record.owner.map(|key| (key, record.uploader_id)));
        let state = State {
            ids: ClientIds::new(owned),
            sessions: HashMap::new(),
            next_session_id: 0,
            ended_tickets: HashMap::new(),
            ended_order: VecDeque::new(),
            presence: Presence::default(),
        };
        Self {
            state: Mutex::new(state),
            operator,
            max_sessions,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// True if `key` is the host operator's.
    pub(crate) fn is_operator(&self, key: &PublicKey) -> bool {
        self.operator.as_ref() == Some(key)
    }

    /// The key of the participant that holds `name` or a name that looks like it (see
    /// [`NameKey`]: "alice", "Alіce" with a Cyrillic і… cannot pose as "Alice"), other than
    /// `except`: a participant holds its name while it is online or owns a stored file.
    pub(crate) fn name_holder(
        &self,
        name: &str,
        except: Option<&PublicKey>,
        storage: &Storage,
    ) -> Option<PublicKey> {
        let state = self.state();
        Self::holder_locked(&state, name, except, storage)
    }

    fn holder_locked(
        state: &State,
        name: &str,
        except: Option<&PublicKey>,
        storage: &Storage,
    ) -> Option<PublicKey> {
        let wanted = NameKey::of(name);
        let looks_like = |held: &str| NameKey::of(held).looks_like(&wanted);
        let online = state
            .sessions
            .values()
            .filter(|session| Some(&session.key) != except && looks_like(&session.username))
            .map(|session| session.key);
        let records = storage.list();
        // A participant usually owns many files: each (name, owner) is compared once.
        let mut compared = HashSet::new();
        let owners = records.iter().filter_map(|record| {
            let owner = record.owner.filter(|owner| Some(owner) != except)?;
            let first_time = compared.insert((record.uploader_name.as_str(), owner));
            (first_time && looks_like(&record.uploader_name)).then_some(owner)
        });
        online.chain(owners).next()
    }

    /// Whether the participant with `key` (`None`: an unproven client) may see `record`: the
    /// operator sees every file.
    pub(crate) fn may_see(&self, record: &FileRecord, key: Option<&PublicKey>) -> bool {
        record.may_see(key) || key.is_some_and(|key| self.is_operator(key))
    }

    /// The lines that offer `record` to a client with `features` proven as `key`, or `None`
    /// if it may not see the file. Its sharer and the operator get its list of who may see it.
    pub(crate) fn offer_for(
        &self,
        record: &FileRecord,
        features: Features,
        key: Option<&PublicKey>,
    ) -> Option<String> {
        if !self.may_see(record, key) {
            return None;
        }
        let keeps_list = key.is_some_and(|key| record.owner == Some(*key) || self.is_operator(key));
        Some(offer_lines(record, features, features.access && keeps_list))
    }

    /// The participants `names` stand for, each the key that holds that name now (online, or
    /// owning a stored file): a later participant taking the name is not among them.
    pub(crate) fn resolve(
        &self,
        names: &Audience,
        storage: &Storage,
    ) -> Result<Vec<Viewer>, UnknownName> {
        let state = self.state();
        let mut viewers: Vec<Viewer> = Vec::new();
        for name in names.names() {
            let name = clean_name(name);
            let key = Self::holder_locked(&state, &name, None, storage)
                .ok_or_else(|| UnknownName(name.clone()))?;
            if !viewers.iter().any(|viewer| viewer.key == key) {
                viewers.push(Viewer { key, name });
            }
        }
        Ok(viewers)
    }

    /// Registers a session: assigns the participant's id and ticket, queues `WELCOME` and the
    /// snapshot for it, and tells the others it is online. The name is kept and shown without
    /// the characters that draw nothing or reorder text ([`clean_name`]).
    pub(crate) fn join(
        &self,
        mut join: Join,
        (storage, direct): (&Storage, &DirectShares),
    ) -> Result<Joined, JoinError> {
        join.username = clean_name(&join.username);
        let mut state = self.state();
        if state.sessions.len() >= self.max_sessions {
            return Err(JoinError::Full(self.max_sessions));
        }
        if Self::holder_locked(&state, &join.username, Some(&join.key), storage).is_some() {
            return Err(JoinError::NameTaken(join.username));
        }
        let ticket = Ticket(crate::random::random_bytes().map_err(JoinError::Random)?);
        let online: HashSet<PublicKey> = state.sessions.values().map(|s| s.key).collect();
        let client_id = state.ids.id_for(join.key, &online);
        let role = if self.is_operator(&join.key) {
            Role::Operator
        } else {
            Role::Participant
        };

        let (sender, receiver) = flume::bounded(OUTBOX_CAPACITY);
        let session_id = state.next_session_id;
        state.next_session_id += 1;
        state.sessions.insert(
            session_id,
            Session {
                client_id,
                username: join.username.clone(),
                key: join.key,
                ticket,
                outbox: sender.clone(),
                stream: join.stream,
                features: join.features,
            },
        );
        let welcome = HostLine::Welcome {
            client_id,
            ticket,
            role,
        };
        let shown = (client_id, join.username.as_str());
        let snapshot = self.snapshot_locked(
            &state,
            welcome,
            shown,
            (join.features, &join.key),
            (storage, direct),
        );
        // The queue is new and empty, so this cannot fail for lack of room.
        let _ = sender.try_send(Arc::from(snapshot));

        state.presence.touch();
        Ok(Joined {
            session_id,
            client_id,
            role,
            outbox: receiver,
        })
    }

    /// What a joining session is sent first: `WELCOME`, everyone online (itself under its new
    /// name), every file, `END`.
    fn snapshot_locked(
        &self,
        state: &State,
        welcome: HostLine,
        (client_id, username): (ClientId, &str),
        (features, key): (Features, &PublicKey),
        (storage, direct): (&Storage, &DirectShares),
    ) -> String {
        let mut snapshot = welcome.encode();
        let mut peers: Vec<(ClientId, &str)> = state
            .sessions
            .values()
            .map(|s| (s.client_id, s.username.as_str()))
            .collect();
        peers.sort_by_key(|(id, _)| *id);
        peers.dedup_by_key(|(id, _)| *id);
        for (peer_id, name) in peers {
            let name = if peer_id == client_id { username } else { name };
            snapshot.push_str(
                &HostLine::PeerJoined {
                    client_id: peer_id,
                    username: name.to_owned(),
                }
                .encode(),
            );
        }
        for record in storage.list() {
            if let Some(lines) = self.offer_for(&record, features, Some(key)) {
                snapshot.push_str(&lines);
            }
        }
        if features.direct {
            snapshot.push_str(&self.direct_offers(&direct.listed(), features, Some(key)));
        }
        snapshot.push_str(&HostLine::End.encode());
        snapshot
    }

    /// Tells the sessions that take direct files, and may see this one, that it is no longer
    /// listed (`FILE_DELETED`).
    pub(crate) fn announce_direct_gone(&self, record: &FileRecord) {
        let state = self.state();
        let line: Arc<str> = Arc::from(HostLine::FileDeleted { file_id: record.id }.encode());
        for session in state.sessions.values().filter(|s| s.features.direct) {
            if self.may_see(record, Some(&session.key)) {
                deliver(session, Arc::clone(&line));
            }
        }
    }

    /// Tells the sessions that take direct files, and may see this one, that it became
    /// available (offered again, with `FILE_STATE`) or unavailable (`FILE_STATE` alone).
    pub(crate) fn announce_direct(&self, record: &FileRecord, available: bool) {
        let mut state = self.state();
        Self::flush_presence_locked(&mut state);
        let state_line = HostLine::FileState {
            file_id: record.id,
            available,
        }
        .encode();
        for session in state.sessions.values().filter(|s| s.features.direct) {
            let key = Some(&session.key);
            if !self.may_see(record, key) {
                continue;
            }
            let lines = if available {
                self.direct_offer(record, session.features, key, true)
            } else {
                state_line.clone()
            };
            deliver(session, Arc::from(lines));
        }
    }

    /// Tells the sessions that take direct files of a change of who may see one: offered
    /// (again) to those who may see it now, `FILE_DELETED` to those who could before only.
    pub(crate) fn announce_direct_access(
        &self,
        before: &FileRecord,
        after: &FileRecord,
        available: bool,
    ) {
        let mut state = self.state();
        Self::flush_presence_locked(&mut state);
        let gone: Arc<str> = Arc::from(HostLine::FileDeleted { file_id: after.id }.encode());
        for session in state.sessions.values().filter(|s| s.features.direct) {
            let key = Some(&session.key);
            if self.may_see(after, key) {
                let lines = self.direct_offer(after, session.features, key, available);
                deliver(session, Arc::from(lines));
            } else if self.may_see(before, key) {
                deliver(session, Arc::clone(&gone));
            }
        }
    }

    /// The offers of the direct files (from [`DirectShares::listed`]) a client proven as
    /// `key` may see, each with its `FILE_STATE`, for a client that asked for `direct` with
    /// `features`.
    pub(crate) fn direct_offers(
        &self,
        listed: &[(FileRecord, bool)],
        features: Features,
        key: Option<&PublicKey>,
    ) -> String {
        let mut lines = String::new();
        for (record, available) in listed {
            if self.may_see(record, key) {
                lines.push_str(&self.direct_offer(record, features, key, *available));
            }
        }
        lines
    }

    /// A direct file's offer to a client proven as `key`, with its `FILE_STATE` before its
    /// `FILE_META`; its sharer and the operator get its list of who may see it.
    fn direct_offer(
        &self,
        record: &FileRecord,
        features: Features,
        key: Option<&PublicKey>,
        available: bool,
    ) -> String {
        let keeps_list = key.is_some_and(|key| record.owner == Some(*key) || self.is_operator(key));
        let state = HostLine::FileState {
            file_id: record.id,
            available,
        };
        offer_head(record, features, features.access && keeps_list)
            + &state.encode()
            + &meta_line(record)
    }

    /// Removes a session; tells the others when its participant has no session left.
    pub(crate) fn leave(&self, session_id: u64) -> Option<(ClientId, String)> {
        let mut state = self.state();
        let session = state.sessions.remove(&session_id)?;
        let uploader = Uploader {
            client_id: session.client_id,
            username: session.username.clone(),
            key: session.key,
        };
        Self::keep_ticket_locked(&mut state, session.ticket, uploader);
        state.presence.touch();
        Some((session.client_id, session.username))
    }

    /// Honours an ended session's ticket for [`TICKET_GRACE`], forgetting expired ones and, past
    /// [`MAX_ENDED_TICKETS`], the oldest.
    fn keep_ticket_locked(state: &mut State, ticket: Ticket, uploader: Uploader) {
        let now = Instant::now();
        while let Some(oldest) = state.ended_order.front().copied() {
            let expired = state
                .ended_tickets
                .get(&oldest)
                .is_none_or(|(_, until)| *until <= now);
            if !expired && state.ended_order.len() < MAX_ENDED_TICKETS {
                break;
            }
            state.ended_order.pop_front();
            state.ended_tickets.remove(&oldest);
        }
        state
            .ended_tickets
            .insert(ticket, (uploader, now + TICKET_GRACE));
        state.ended_order.push_back(ticket);
    }

    /// Tells every session who joined and left since the last time, as one difference (see
    /// [`Presence`]); called a few times a second.
    pub(crate) fn flush_presence(&self) {
        let mut state = self.state();
        Self::flush_presence_locked(&mut state);
    }

    fn flush_presence_locked(state: &mut State) {
        let mut newest: BTreeMap<ClientId, (u64, String)> = BTreeMap::new();
        for (session_id, session) in &state.sessions {
            let entry = newest
                .entry(session.client_id)
                .or_insert((*session_id, session.username.clone()));
            if *session_id >= entry.0 {
                *entry = (*session_id, session.username.clone());
            }
        }
        let online = newest
            .into_iter()
            .map(|(id, (_, name))| (id, name))
            .collect();
        let changes = state.presence.flush(online);
        if changes.is_empty() {
            return;
        }
        // Each session hears about everyone but its own participant, whose joining it knows.
        let everyone: String = changes.iter().map(|(_, line)| line.as_str()).collect();
        let everyone: Arc<str> = Arc::from(everyone);
        for session in state.sessions.values() {
            let about_itself = changes
                .iter()
                .any(|(client, _)| *client == session.client_id);
            let message = if about_itself {
                let others: String = changes
                    .iter()
                    .filter(|(client, _)| *client != session.client_id)
                    .map(|(_, line)| line.as_str())
                    .collect();
                if others.is_empty() {
                    continue;
                }
                Arc::from(others)
            } else {
                Arc::clone(&everyone)
            };
            deliver(session, message);
        }
    }

    /// Queues a line for one session (a reply). Returns false if the session is gone or
    /// its queue is full.
    pub(crate) fn send_to(&self, session_id: u64, line: &str) -> bool {
        let state = self.state();
        state
            .sessions
            .get(&session_id)
            .is_some_and(|session| session.outbox.try_send(Arc::from(line)).is_ok())
    }

    /// Checks an `AUTH` line: the ticket must belong to a live session of `client_id`.
    /// A ticket is valid while its session is open and for [`TICKET_GRACE`] after.
    pub(crate) fn authenticate(&self, client_id: ClientId, ticket: &Ticket) -> Option<Uploader> {
        let state = self.state();
        let live = state
            .sessions
            .values()
            .find(|s| s.client_id == client_id && s.ticket == *ticket)
            .map(|s| Uploader {
                client_id: s.client_id,
                username: s.username.clone(),
                key: s.key,
            });
        live.or_else(|| {
            state
                .ended_tickets
                .get(ticket)
                .filter(|(uploader, until)| {
                    uploader.client_id == client_id && *until > Instant::now()
                })
                .map(|(uploader, _)| uploader.clone())
        })
    }

    /// Like [`Registry::authenticate`], for `AUTH_PROOF`: the participant `client_id` whose
    /// ticket, bound to the connection's `binding`, gives `proof`.
    pub(crate) fn authenticate_bound(
        &self,
        client_id: ClientId,
        proof: &[u8; 32],
        binding: &[u8; 32],
    ) -> Option<Uploader> {
        let ticket = {
            let state = self.state();
            let now = Instant::now();
            let live = state
                .sessions
                .values()
                .filter(|s| s.client_id == client_id)
                .map(|s| s.ticket);
            let ended = state
                .ended_tickets
                .iter()
                .filter(|(_, (uploader, until))| uploader.client_id == client_id && *until > now)
                .map(|(ticket, _)| *ticket);
            live.chain(ended)
                .find(|ticket| same_secret(&ticket.bound_proof(binding), proof))?
        };
        self.authenticate(client_id, &ticket)
    }

    /// Tells every participant about a new file (or version), as `storage` holds it now: a
    /// preview made meanwhile (and announced before, to sessions that did not know the file
    /// yet) is in the offer.
    pub(crate) fn announce_offer(&self, record: &FileRecord, storage: &Storage) {
        let mut state = self.state();
        // Under the registry's lock, as `announce_preview`: whichever goes first, the offer
        // carries the preview or the preview's line follows the offer.
        let latest = storage
            .get(record.id)
            .filter(|latest| latest.version == record.version);
        let record = latest.as_deref().unwrap_or(record);
        if let Some(key) = record.owner {
            state.ids.owns_files(key, record.uploader_id);
        }
        // Who joined before the offer is told before it.
        Self::flush_presence_locked(&mut state);
        if record.audience.is_some() {
            self.offer_each_locked(&state, record);
            return;
        }
        // The lines once for each set of features the sessions asked for (a few at most).
        let mut encoded: HashMap<Features, Arc<str>> = HashMap::new();
        for session in state.sessions.values() {
            let lines = encoded
                .entry(session.features)
                .or_insert_with(|| Arc::from(offer_lines(record, session.features, false)));
            deliver(session, Arc::clone(lines));
        }
    }

    /// Offers a file to each session that may see it, as that session asked.
    fn offer_each_locked(&self, state: &State, record: &FileRecord) {
        for session in state.sessions.values() {
            if let Some(lines) = self.offer_for(record, session.features, Some(&session.key)) {
                deliver(session, Arc::from(lines));
            }
        }
    }

    /// Tells the sessions that may see a file and asked for `comments` of a new comment on it.
    pub(crate) fn announce_comment(&self, record: &FileRecord, comment: &Comment) {
        let line: Arc<str> = Arc::from(comment_line(record.id, comment).encode());
        self.tell_commenters(record, &line);
    }

    /// Tells the sessions that may see a file and asked for `comments` that a comment on it
    /// was deleted.
    pub(crate) fn announce_comment_deleted(&self, record: &FileRecord, comment_id: u64) {
        let line = HostLine::CommentDeleted {
            file_id: record.id,
            comment_id,
        };
        self.tell_commenters(record, &Arc::from(line.encode()));
    }

    fn tell_commenters(&self, record: &FileRecord, line: &Arc<str>) {
        let state = self.state();
        for session in state.sessions.values() {
            if session.features.comments && self.may_see(record, Some(&session.key)) {
                deliver(session, Arc::clone(line));
            }
        }
    }

    /// Tells the sessions that may see a file and asked for `previews` that its preview is made.
    pub(crate) fn announce_preview(&self, record: &FileRecord) {
        let Some(line) = preview_line(record) else {
            return;
        };
        let line: Arc<str> = Arc::from(line.encode());
        let state = self.state();
        for session in state.sessions.values() {
            if session.features.previews && self.may_see(record, Some(&session.key)) {
                deliver(session, Arc::clone(&line));
            }
        }
    }

    /// Tells every participant who could see a file that it is gone.
    pub(crate) fn announce_deleted(&self, record: &FileRecord) {
        let mut state = self.state();
        Self::flush_presence_locked(&mut state);
        let gone: Arc<str> = Arc::from(HostLine::FileDeleted { file_id: record.id }.encode());
        for session in state.sessions.values() {
            if self.may_see(record, Some(&session.key)) {
                deliver(session, Arc::clone(&gone));
            }
        }
    }

    /// Tells the sessions about a file whose list of who may see it changed from `before` to
    /// `after`: `FILE_DELETED` to those who may no longer see it, the file offered again to
    /// those who may (clients take a repeated offer as an update).
    pub(crate) fn announce_access(&self, before: &FileRecord, after: &FileRecord) {
        let mut state = self.state();
        Self::flush_presence_locked(&mut state);
        let gone: Arc<str> = Arc::from(HostLine::FileDeleted { file_id: after.id }.encode());
        for session in state.sessions.values() {
            let key = Some(&session.key);
            if let Some(lines) = self.offer_for(after, session.features, key) {
                deliver(session, Arc::from(lines));
            } else if self.may_see(before, key) {
                deliver(session, Arc::clone(&gone));
            }
        }
    }

    /// Whether the participant with `key` joined this host before (or owns a stored file).
    pub(crate) fn knows(&self, key: &PublicKey) -> bool {
        self.state().ids.knows(key)
    }

    /// How many control sessions are open.
    pub(crate) fn session_count(&self) -> usize {
        self.state().sessions.len()
    }

    /// How many participants are online (a participant may have several sessions).
    pub(crate) fn participant_count(&self) -> usize {
        let state = self.state();
        let mut ids: Vec<ClientId> = state.sessions.values().map(|s| s.client_id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    /// Disconnects every session (on shutdown).
    pub(crate) fn disconnect_all(&self) {
        for session in self.state().sessions.values() {
            session.stream.shutdown();
        }
    }
}

/// Queues `message` for a session; one that stopped reading would hold ever more memory, so
/// it is disconnected instead.
fn deliver(session: &Session, message: Arc<str>) {
    if session.outbox.try_send(message).is_err() {
        tracing::warn!(
            "Disconnecting {} (client {}): not reading its messages",
            session.username,
            session.client_id
        );
        session.stream.shutdown();
    }
}

/// `COMMENT_ADDED` for a comment on file `file_id`.
fn comment_line(file_id: crate::protocol::FileId, comment: &Comment) -> HostLine {
    HostLine::CommentAdded(CommentInfo {
        file_id,
        comment_id: comment.id,
        author_id: comment.author_id,
        author_name: comment.author_name.clone(),
        at_ms: comment.at.timestamp_millis(),
        text: comment.text.clone(),
    })
}

/// `FILE_PREVIEW` for a file whose preview is made.
fn preview_line(record: &FileRecord) -> Option<HostLine> {
    let (kind, size) = record.preview_ready()?;
    Some(HostLine::FilePreview {
        file_id: record.id,
        kind,
        size,
    })
}

/// `FILE_INFO` for a file, its expiry counted from now.
pub(crate) fn info_line(record: &FileRecord) -> HostLine {
    let now = chrono::Utc::now();
    HostLine::FileInfo(FileInfo {
        file_id: record.id,
        category: record.category,
        expires_in_ms: record
            .expires_at
            .map(|at| u64::try_from((at - now).num_milliseconds()).unwrap_or(0)),
        tags: record.tags.clone(),
    })
}

/// `FILE_OFFER` and its `FILE_META`, as sent for one file, with `FILE_INFO` between them for
/// a client that asked for it, and `FILE_ACCESS` after that if `with_access` (for a
/// restricted file's sharer and the operator).
fn offer_lines(record: &FileRecord, features: Features, with_access: bool) -> String {
    offer_head(record, features, with_access) + &meta_line(record)
}

/// An offer's lines before its `FILE_META`.
fn offer_head(record: &FileRecord, features: Features, with_access: bool) -> String {
    let mut lines = HostLine::FileOffer {
        file_id: record.id,
        name: record.name.clone(),
        size: record.size,
        uploader_name: record.uploader_name.clone(),
        uploader_id: record.uploader_id,
    }
    .encode();
    if features.file_info {
        lines.push_str(&info_line(record).encode());
    }
    if features.versions && record.version > 1 {
        let kept = u32::try_from(record.older.len() + 1).unwrap_or(u32::MAX);
        lines.push_str(
            &HostLine::FileVersions {
                file_id: record.id,
                latest: record.version,
                kept,
            }
            .encode(),
        );
    }
    if let Some(line) = preview_line(record).filter(|_| features.previews) {
        lines.push_str(&line.encode());
    }
    if features.comments {
        for comment in &record.comments {
            lines.push_str(&comment_line(record.id, comment).encode());
        }
    }
    if let Some(only) = record.audience_names().filter(|_| with_access) {
        lines.push_str(
            &HostLine::FileAccess {
                file_id: record.id,
                only,
            }
            .encode(),
        );
    }
    lines
}

/// An offer's last line: `FILE_META`.
fn meta_line(record: &FileRecord) -> String {
    HostLine::FileMeta {
        file_id: record.id,
        uploaded_at_ms: record.uploaded_at.timestamp_millis(),
        sha256: record.sha256,
        check: Some(record.check),
    }
    .encode()
}
