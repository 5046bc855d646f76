//! A cap on the bytes a store holds, counting uploads in progress: each upload reserves its
//! announced size before `READY`, and the reservation lasts as long as the file.

use std::sync::{Arc, Mutex, MutexGuard};

use super::record::StorageError;

/// Bytes of a cap currently promised to uploads and files.
pub(super) struct Budget {
    limit: u64,
    used: Mutex<u64>,
}

/// A claim on part of a budget, given back when dropped.
pub(super) struct Reservation {
    budget: Arc<Budget>,
    bytes: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        *self.budget.used() -= self.bytes;
    }
}

impl Budget {
    /// A budget of `limit` bytes, none of them used.
    pub(super) fn new(limit: u64) -> Arc<Self> {
        Arc::new(Self {
            limit,
            used: Mutex::new(0),
        })
    }

    fn used(&self) -> MutexGuard<'_, u64> {
        self.used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cap.
    pub(super) fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes promised now.
    pub(super) fn in_use(&self) -> u64 {
        *self.used()
    }

    /// Reserves `bytes`, or says how much is free.
    pub(super) fn reserve(self: &Arc<Self>, bytes: u64) -> Result<Reservation, StorageError> {
        let mut used = self.used();
        let free = self.limit.saturating_sub(*used);
        if bytes > free {
            return Err(StorageError::Full {
                needed: bytes,
                free,
                limit: self.limit,
            });
        }
        *used += bytes;
        Ok(Reservation {
            budget: Arc::clone(self),
            bytes,
        })
    }

    /// Counts `bytes` that are stored already (found at start), even beyond the cap: new
    /// uploads are refused until enough is deleted.
    pub(super) fn claim(self: &Arc<Self>, bytes: u64) -> Reservation {
        let mut used = self.used();
        *used = used.saturating_add(bytes);
        Reservation {
            budget: Arc::clone(self),
            bytes,
        }
    }
}
