//! The key under which a host keeps a cut-off upload (`UPLOAD_RESUME`).

use std::path::Path;
use std::time::UNIX_EPOCH;

use sha2::{Digest, Sha256};

use crate::protocol::{ClientId, ResumeKey};

/// The resume key of uploading the file at `path` (as it is now: its size and modification
/// time) under `name` as participant `client_id`. The same file, unchanged, gets the same key
/// on every attempt and in every run of the program, so a rerun of `lanshare send` continues
/// where the last one was cut off; a changed file gets a new key and starts over.
pub fn upload_key(client_id: ClientId, path: &Path, name: &str) -> std::io::Result<ResumeKey> {
    let canonical = path.canonicalize()?;
    let metadata = std::fs::metadata(&canonical)?;
    let modified = metadata
        .modified()
        .ok()
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_nanos());
    let mut hasher = Sha256::new();
    hasher.update(b"lanshare upload v1\0");
    hasher.update(client_id.to_le_bytes());
    hasher.update(canonical.as_os_str().as_encoded_bytes());
    hasher.update([0]);
    hasher.update(name.as_bytes());
    hasher.update([0]);
    hasher.update(metadata.len().to_le_bytes());
    hasher.update(modified.to_le_bytes());
    Ok(ResumeKey(hasher.finalize().into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_stable_and_changes_with_the_file() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("a.bin");
        std::fs::write(&path, b"first")?;
        let key = upload_key(3, &path, "a.bin")?;
        assert_eq!(upload_key(3, &path, "a.bin")?, key);
        assert_ne!(upload_key(4, &path, "a.bin")?, key);
        assert_ne!(upload_key(3, &path, "b.bin")?, key);
        std::fs::write(&path, b"second, longer")?;
        assert_ne!(upload_key(3, &path, "a.bin")?, key);
        Ok(())
    }
}
