//! The in-memory store: each file is one buffer, and all of them together stay under a cap.

use std::io::Read;
use std::sync::{Arc, Mutex};

use super::StorageError;
use crate::pipeline::{PipelineError, fill_hashing};
use crate::protocol::Sha256Digest;

/// Bytes of the cap currently promised to uploads and files.
struct Budget {
    limit: u64,
    used: Mutex<u64>,
}

impl Budget {
    fn used(&self) -> std::sync::MutexGuard<'_, u64> {
        self.used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A claim on part of the budget, given back when dropped.
struct Reservation {
    budget: Arc<Budget>,
    bytes: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        *self.budget.used() -= self.bytes;
    }
}

/// The memory backend.
pub(super) struct MemoryStore {
    budget: Arc<Budget>,
}

impl MemoryStore {
    pub(super) fn new(limit: u64) -> Self {
        Self {
            budget: Arc::new(Budget {
                limit,
                used: Mutex::new(0),
            }),
        }
    }

    /// Reserves `size` bytes of the cap and a buffer for them.
    pub(super) fn begin(&self, size: u64) -> Result<MemoryIncoming, StorageError> {
        let reservation = {
            let mut used = self.budget.used();
            let free = self.budget.limit.saturating_sub(*used);
            if size > free {
                return Err(StorageError::MemoryFull {
                    needed: size,
                    free,
                    limit: self.budget.limit,
                });
            }
            *used += size;
            Reservation {
                budget: Arc::clone(&self.budget),
                bytes: size,
            }
        };
        let capacity = usize::try_from(size).map_err(|_| StorageError::MemoryFull {
            needed: size,
            free: 0,
            limit: self.budget.limit,
        })?;
        // The whole buffer is asked for at once, so it never moves or doubles while filling,
        // and zeroed, which the OS does lazily: pages are backed only as bytes arrive. The
        // size is within the cap, checked above.
        let data = vec![0u8; capacity];
        Ok(MemoryIncoming { data, reservation })
    }

    pub(super) fn in_use(&self) -> u64 {
        *self.budget.used()
    }
}

/// An upload into memory.
pub(super) struct MemoryIncoming {
    data: Vec<u8>,
    reservation: Reservation,
}

impl MemoryIncoming {
    /// Receives the whole file from `source` straight into its buffer, hashing it on the way.
    pub(super) fn receive(
        &mut self,
        source: &mut dyn Read,
        progress: &mut dyn FnMut(u64) -> bool,
    ) -> Result<Sha256Digest, PipelineError> {
        fill_hashing(source, &mut self.data, progress)
    }

    pub(super) fn finish(self) -> MemoryBlob {
        MemoryBlob {
            data: self.data,
            _reservation: self.reservation,
        }
    }
}

/// A stored file's bytes; its share of the cap is freed when the last reader lets go.
pub struct MemoryBlob {
    data: Vec<u8>,
    _reservation: Reservation,
}

impl MemoryBlob {
    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }
}
