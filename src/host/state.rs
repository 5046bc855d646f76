//! The state every thread of a host shares.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use super::activity::Activity;
use super::admission::Admission;
use super::config::HostConfig;
use super::direct::DirectShares;
use super::doorbell::Doorbell;
use super::gate::Gate;
use super::parked::ParkedUploads;
use super::registry::Registry;
use super::slots::TransferSlots;
use super::turns::Turns;
use crate::direct::GrantSigner;
use crate::storage::Storage;
use crate::tls::Fingerprint;

/// Running totals the host's threads update.
#[derive(Default)]
pub(super) struct Counters {
    /// Uploads whose bytes are arriving now.
    pub uploads: AtomicUsize,
    /// Downloads whose bytes are being sent now.
    pub downloads: AtomicUsize,
    /// File bytes received since the host started.
    pub bytes_received: AtomicU64,
    /// File bytes sent since the host started.
    pub bytes_sent: AtomicU64,
    /// Connections and transfers refused for want of room since the host started.
    pub refused: AtomicU64,
}

impl Counters {
    /// Counts one refusal for want of room.
    pub(super) fn count_refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }
}

/// State shared by the host's threads.
pub(super) struct Shared {
    /// What the host was started with.
    pub config: HostConfig,
    /// The files.
    pub storage: Storage,
    /// Sessions, client ids, tickets, and the broadcast.
    pub registry: Registry,
    /// Transfers moving bytes at once.
    pub slots: TransferSlots,
    /// The passcode check.
    pub gate: Gate,
    /// Running totals.
    pub counters: Counters,
    /// Set once shutdown begins.
    pub stopping: AtomicBool,
    /// Open connections, counted against the caps.
    pub admission: Arc<Admission>,
    /// Transfers being served now, for the Host screen.
    pub activity: Activity,
    /// Cut-off resumable uploads kept for their senders.
    pub parked: ParkedUploads,
    /// Taken in turn by uploads while they look for storage room (see
    /// `upload::begin_upload`).
    pub room_turns: Turns,
    /// How TLS connections are served: the host's certificate and key.
    pub tls: Arc<rustls::ServerConfig>,
    /// The fingerprint of the host's certificate.
    pub fingerprint: Fingerprint,
    /// The files shared directly, which their sharers serve.
    pub direct: DirectShares,
    /// The key that signs grants to fetch them.
    pub grants: GrantSigner,
    /// Relays waiting for their sharer's connection.
    pub relays: super::direct::Relays,
    /// Wakes the thread that deletes expired files.
    pub expiry: Doorbell,
    /// Wakes the thread that makes previews.
    pub previews: Doorbell,
}

impl Shared {
    /// Why a plain-text connection is turned away, if it is.
    pub(super) fn plain_text_refusal(&self) -> Option<&'static str> {
        if self.config.passcode.is_some() {
            Some(
                "This host has a passcode and serves only encrypted connections: join it with \
                 lanshare",
            )
        } else if self.config.require_encryption {
            Some("This host serves only encrypted connections: connect with lanshare")
        } else {
            None
        }
    }

    /// True once the host is shutting down.
    pub(super) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}
