//! How a participant checks a host's certificate: not against a certificate authority (a host
//! on a LAN has none) but against the fingerprint it pinned at first contact.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::crypto::provider;
use crate::protocol::Fingerprint;

/// Accepts the host's certificate if its fingerprint is the pinned one (any, at first contact),
/// and remembers the fingerprint seen. The handshake's signature is always checked against
/// the certificate, so a certificate copied from the real host is of no use without its key.
#[derive(Debug)]
pub(super) struct PinVerifier {
    pinned: Option<Fingerprint>,
    seen: Arc<Mutex<Option<Fingerprint>>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinVerifier {
    /// A verifier for a host pinned to `pinned` (`None`: first contact); the fingerprint the
    /// host presents is written to `seen`.
    pub(super) fn new(pinned: Option<Fingerprint>, seen: Arc<Mutex<Option<Fingerprint>>>) -> Self {
        Self {
            pinned,
            seen,
            algorithms: provider().signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fingerprint = Fingerprint::of_certificate(end_entity);
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(fingerprint);
        }
        match self.pinned {
            Some(pinned) if pinned != fingerprint => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            )),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
