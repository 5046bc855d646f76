//! The host's long-term TLS identity: a key pair and a self-signed certificate kept in the
//! config folder, so the same host shows the same fingerprint across restarts.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::crypto::provider;
use crate::config::write_secret_file;
use crate::protocol::Fingerprint;

/// The file holding the host's certificate and private key (PEM), in the config folder.
pub const HOST_IDENTITY_FILE: &str = "host-identity.pem";

/// Why a host identity could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum HostIdentityError {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: io::Error,
    },
    /// The file exists but holds no usable certificate and key.
    #[error("{} is damaged ({reason}); move it away to make a new host identity", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A key or certificate could not be made.
    #[error("could not make a host identity: {0}")]
    Generate(String),
}

/// A host's certificate and key.
pub struct HostIdentity {
    certificate: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    fingerprint: Fingerprint,
}

impl std::fmt::Debug for HostIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HostIdentity({})", self.fingerprint)
    }
}

impl Clone for HostIdentity {
    fn clone(&self) -> Self {
        Self {
            certificate: self.certificate.clone(),
            key: self.key.clone_key(),
            fingerprint: self.fingerprint,
        }
    }
}

impl HostIdentity {
    /// A new identity (ECDSA P-256, self-signed), kept nowhere: for tests and one-off hosts.
    pub fn generate() -> Result<Self, HostIdentityError> {
        let (certificate_pem, key_pem) = generate_pem()?;
        Self::from_pem(&certificate_pem, &key_pem)
            .map_err(|reason| HostIdentityError::Generate(reason.to_string()))
    }

    /// The identity kept in `dir`, made (and saved, readable by the owner only) on first use.
    pub fn load_or_create(dir: &Path) -> Result<Self, HostIdentityError> {
        Self::load_or_create_at(dir.join(HOST_IDENTITY_FILE))
    }

    /// The identity kept in the file at `path`, made (and saved, readable by the owner only)
    /// on first use: a participant's server for its direct shares keeps one of its own.
    pub fn load_or_create_at(path: PathBuf) -> Result<Self, HostIdentityError> {
        match fs::read_to_string(&path) {
            Ok(text) => Self::from_pem(&text, &text).map_err(|reason| HostIdentityError::Damaged {
                path,
                reason: reason.to_string(),
            }),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let (certificate_pem, key_pem) = generate_pem()?;
                write_secret_file(&path, format!("{certificate_pem}{key_pem}").as_bytes())
                    .map_err(|source| HostIdentityError::Io { path, source })?;
                Self::from_pem(&certificate_pem, &key_pem)
                    .map_err(|reason| HostIdentityError::Generate(reason.to_string()))
            }
            Err(source) => Err(HostIdentityError::Io { path, source }),
        }
    }

    fn from_pem(
        certificate_pem: &str,
        key_pem: &str,
    ) -> Result<Self, rustls::pki_types::pem::Error> {
        let certificate = CertificateDer::from_pem_slice(certificate_pem.as_bytes())?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())?;
        let fingerprint = Fingerprint::of_certificate(&certificate);
        Ok(Self {
            certificate,
            key,
            fingerprint,
        })
    }

    /// SHA-256 of the certificate: what participants pin.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The TLS server configuration that presents this identity: TLS 1.3 only, no session
    /// tickets (every connection makes a full handshake, so its exporter is its own).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_single_cert(vec![self.certificate.clone()], self.key.clone_key())?;
        config.send_tls13_tickets = 0;
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        Ok(Arc::new(config))
    }
}

/// A new key pair and its self-signed certificate, as PEM.
fn generate_pem() -> Result<(String, String), HostIdentityError> {
    let failed = |error: rcgen::Error| HostIdentityError::Generate(error.to_string());
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(failed)?;
    let mut params = rcgen::CertificateParams::new(vec!["lanshare".to_owned()]).map_err(failed)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "lanshare host");
    let certificate = params.self_signed(&key).map_err(failed)?;
    Ok((certificate.pem(), key.serialize_pem()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_is_kept_and_the_same_after_a_restart() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let first = HostIdentity::load_or_create(dir.path())?;
        let again = HostIdentity::load_or_create(dir.path())?;
        assert_eq!(first.fingerprint(), again.fingerprint());
        assert_ne!(HostIdentity::generate()?.fingerprint(), first.fingerprint());
        first.server_config()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(HOST_IDENTITY_FILE))?
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "readable by others: {mode:o}");
        }
        fs::write(dir.path().join(HOST_IDENTITY_FILE), "garbage")?;
        let damaged = HostIdentity::load_or_create(dir.path());
        assert!(matches!(damaged, Err(HostIdentityError::Damaged { .. })));
        Ok(())
    }
}
