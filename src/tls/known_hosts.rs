//! The hosts a participant has met: each host address with the fingerprint it showed at first
//! contact (trust on first use), kept in the config folder.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::protocol::Fingerprint;

/// The file, in the config folder.
pub const KNOWN_HOSTS_FILE: &str = "known-hosts.json";

/// Why the known hosts could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KnownHostsError {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: io::Error,
    },
    /// The file is not what lanshare writes.
    #[error("{} is damaged ({reason}); fix or remove it", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// What a participant knows of a host it is about to talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// Never met: whatever fingerprint it shows is pinned after the first connection.
    FirstContact,
    /// Met before: it must show this fingerprint.
    Pinned(Fingerprint),
}

/// The pinned hosts, on disk.
#[derive(Debug, Clone)]
pub struct KnownHosts {
    path: PathBuf,
}

impl KnownHosts {
    /// The known hosts kept in `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join(KNOWN_HOSTS_FILE),
        }
    }

    fn read(&self) -> Result<BTreeMap<String, String>, KnownHostsError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(source) => {
                return Err(KnownHostsError::Io {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        serde_json::from_str(&text).map_err(|error| KnownHostsError::Damaged {
            path: self.path.clone(),
            reason: error.to_string(),
        })
    }

    /// What is known of `host` (`HOST:PORT` as connected to).
    pub fn trust(&self, host: &str) -> Result<Trust, KnownHostsError> {
        let hosts = self.read()?;
        let Some(text) = hosts.get(host) else {
            return Ok(Trust::FirstContact);
        };
        text.parse()
            .map(Trust::Pinned)
            .map_err(
                |error: crate::protocol::BadFingerprint| KnownHostsError::Damaged {
                    path: self.path.clone(),
                    reason: format!("{host}: {error}"),
                },
            )
    }

    /// Pins `host` to `fingerprint`, replacing what was pinned before.
    pub fn pin(&self, host: &str, fingerprint: Fingerprint) -> Result<(), KnownHostsError> {
        let mut hosts = self.read()?;
        hosts.insert(host.to_owned(), fingerprint.to_string());
        let io_error = |source| KnownHostsError::Io {
            path: self.path.clone(),
            source,
        };
        let text = serde_json::to_string_pretty(&hosts)
            .map_err(|error| io_error(io::Error::other(error)))?;
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).map_err(io_error)?;
        }
        let temp = self
            .path
            .with_extension(format!("json.{}.tmp", std::process::id()));
        fs::write(&temp, text).map_err(io_error)?;
        fs::rename(&temp, &self.path).map_err(io_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_pinned_and_replaced_per_address() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let known = KnownHosts::in_dir(dir.path());
        assert_eq!(known.trust("10.0.0.1:5005")?, Trust::FirstContact);
        known.pin("10.0.0.1:5005", Fingerprint([1; 32]))?;
        known.pin("10.0.0.2:5005", Fingerprint([2; 32]))?;
        assert_eq!(
            known.trust("10.0.0.1:5005")?,
            Trust::Pinned(Fingerprint([1; 32]))
        );
        known.pin("10.0.0.1:5005", Fingerprint([3; 32]))?;
        assert_eq!(
            known.trust("10.0.0.1:5005")?,
            Trust::Pinned(Fingerprint([3; 32]))
        );
        assert_eq!(
            known.trust("10.0.0.2:5005")?,
            Trust::Pinned(Fingerprint([2; 32]))
        );
        fs::write(dir.path().join(KNOWN_HOSTS_FILE), "{")?;
        assert!(matches!(
            known.trust("10.0.0.1:5005"),
            Err(KnownHostsError::Damaged { .. })
        ));
        Ok(())
    }
}
