//! What `send --direct` shared, per host, kept in the config folder (`direct-shares.json`) so
//! that `lanshare serve` can serve it all again without hashing files that did not change.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use lanshare::pipeline::UploadDigests;
use lanshare::protocol::{FileId, Sha256Digest, TransferCheck, decode_hex};
use serde::{Deserialize, Serialize};

/// The file in the config folder.
const KEPT_SHARES_FILE: &str = "direct-shares.json";

/// One file shared directly with one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct KeptShare {
    /// The host, as `IP:PORT`.
    pub host: String,
    /// The file on this machine.
    pub path: PathBuf,
    /// Its size when it was shared.
    pub size: u64,
    /// When it was last changed then (milliseconds since 1970).
    pub modified_ms: u128,
    /// Its SHA-256 (hex).
    pub sha256: String,
    /// Its transfer check (hex).
    pub check: String,
    /// The id the host listed it under.
    pub id: FileId,
    /// Who else may see it (names), if not everyone.
    #[serde(default)]
    pub only: Option<Vec<String>>,
}

impl KeptShare {
    /// The digests recorded, if they read back.
    pub(super) fn digests(&self) -> Option<UploadDigests> {
        Some(UploadDigests {
            sha256: self.sha256.parse::<Sha256Digest>().ok()?,
            check: TransferCheck(decode_hex::<16>(self.check.as_bytes())?),
        })
    }

    /// Whether the file at its path has the size and change time recorded.
    pub(super) fn unchanged(&self) -> bool {
        fs::metadata(&self.path).is_ok_and(|meta| {
            meta.len() == self.size && modified_ms(&meta) == Some(self.modified_ms)
        })
    }
}

/// When a file was last changed, in milliseconds since 1970.
pub(super) fn modified_ms(metadata: &fs::Metadata) -> Option<u128> {
    let modified = metadata.modified().ok()?;
    Some(modified.duration_since(UNIX_EPOCH).ok()?.as_millis())
}

/// Everything recorded (nothing if the file is missing or unreadable).
pub(super) fn load(dir: &Path) -> Vec<KeptShare> {
    fs::read(dir.join(KEPT_SHARES_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Records `shares`, in place of any earlier record of the same file with the same host.
pub(super) fn record(dir: &Path, shares: &[KeptShare]) -> io::Result<()> {
    let mut kept = load(dir);
    kept.retain(|old| {
        !shares
            .iter()
            .any(|new| new.host == old.host && new.path == old.path)
    });
    kept.extend_from_slice(shares);
    fs::create_dir_all(dir)?;
    let json = serde_json::to_vec_pretty(&kept).map_err(io::Error::other)?;
    let temp = dir.join(format!("{KEPT_SHARES_FILE}.tmp"));
    fs::write(&temp, json)?;
    fs::rename(temp, dir.join(KEPT_SHARES_FILE))
}
