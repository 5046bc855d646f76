//! The in-memory store: each file is one buffer, and all of them together stay under a cap.

use std::io::Read;
use std::sync::Arc;

use super::budget::{Budget, Reservation};
use super::record::StorageError;
use crate::pipeline::{PipelineError, StreamHash, UploadDigests, UploadHash, fill_hashing};

/// The memory backend.
pub(super) struct MemoryStore {
    budget: Arc<Budget>,
}

impl MemoryStore {
    pub(super) fn new(limit: u64) -> Self {
        Self {
            budget: Budget::new(limit),
        }
    }

    /// Reserves `size` bytes of the cap and a buffer for them.
    pub(super) fn begin(&self, size: u64) -> Result<MemoryIncoming, StorageError> {
        let reservation = self.budget.reserve(size)?;
        let capacity = usize::try_from(size).map_err(|_| StorageError::Full {
            needed: size,
            free: 0,
            limit: self.budget.limit(),
        })?;
        // The whole buffer is asked for at once, so it never moves or doubles while filling,
        // and zeroed, which the OS does lazily: pages are backed only as bytes arrive. The
        // size is within the cap, checked above.
        let data = vec![0u8; capacity];
        Ok(MemoryIncoming { data, reservation })
    }

    /// Reserves `bytes` of the cap for a preview.
    pub(super) fn reserve(&self, bytes: u64) -> Result<Reservation, StorageError> {
        self.budget.reserve(bytes)
    }

    pub(super) fn in_use(&self) -> u64 {
        self.budget.in_use()
    }
}

/// An upload into memory.
pub(super) struct MemoryIncoming {
    data: Vec<u8>,
    reservation: Reservation,
}

impl MemoryIncoming {
    /// Receives the file after its first `kept` bytes from `source` straight into its buffer,
    /// hashing it on the way; returns the whole file's digests.
    pub(super) fn receive(
        &mut self,
        source: &mut dyn Read,
        kept: u64,
        progress: &mut dyn FnMut(u64) -> bool,
    ) -> Result<UploadDigests, PipelineError> {
        let kept = usize::try_from(kept)
            .unwrap_or(usize::MAX)
            .min(self.data.len());
        let (before, rest) = self.data.split_at_mut(kept);
        let mut prefix = UploadHash::default();
        prefix.update(before);
        fill_hashing(prefix, source, rest, progress)
    }

    /// The first `len` bytes of the buffer.
    pub(super) fn head(&self, len: usize) -> Vec<u8> {
        self.data[..len.min(self.data.len())].to_vec()
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
