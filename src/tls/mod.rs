//! Encryption between lanshare peers: TLS 1.3 (rustls) on the same port as the seed's plain
//! text, a host identity that participants pin at first contact, and a passcode exchange that
//! never sends the passcode.
//!
//! - `host_identity`: the host's key and self-signed certificate, kept across restarts.
//! - `known_hosts`: the fingerprints a participant pinned, per host address.
//! - `verifier`: the participant's check of the certificate against its pin.
//! - `stream`: a TLS connection that a reading and a writing thread can share.
//! - `pake`: SPAKE2 over the connection, bound to it, for hosts with a passcode.

mod crypto;
mod host_identity;
mod known_hosts;
mod pake;
mod stream;
mod verifier;

use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use crate::protocol::{BadFingerprint, Fingerprint, VerificationCode};
pub use crypto::{provider, same_secret};
pub use host_identity::{HOST_IDENTITY_FILE, HostIdentity, HostIdentityError};
pub use known_hosts::{KNOWN_HOSTS_FILE, KnownHosts, KnownHostsError, Trust};
pub use pake::{PakeError, PakeMessage, ParticipantPake, Proofs, host_answer};
pub use stream::{BulkReads, TlsStream};
use verifier::PinVerifier;

/// The first byte of every TLS connection (a handshake record); no line of the seed's plain
/// text protocol starts with it.
pub const TLS_FIRST_BYTE: u8 = 0x16;

/// How long a TLS handshake may take from the first byte to the last.
pub const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

/// Runs the server side of the handshake on an accepted connection, within `limit`.
pub fn accept(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    limit: Duration,
) -> io::Result<TlsStream> {
    let connection = rustls::ServerConnection::new(config)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
    TlsStream::handshake(tcp, connection.into(), limit)
}

/// Why a connection to a host could not be secured.
#[derive(Debug, thiserror::Error)]
pub enum SecureError {
    /// The host shows another key than the one pinned for it.
    #[error("the host's key changed (pinned {pinned}, shown {shown})")]
    KeyChanged {
        /// What was pinned at first contact.
        pinned: Fingerprint,
        /// What the host showed now.
        shown: Fingerprint,
    },
    /// The handshake failed: not a lanshare host, an old one without encryption, or a broken
    /// connection.
    #[error("no encrypted connection could be made: {0}")]
    Handshake(io::Error),
    /// The host answered in plain text, with `ERROR:<reason>`, before any TLS: it turned the
    /// connection away before looking at it (busy, too many connections from this address).
    #[error("{0}")]
    Refused(String),
}

/// Reads what a host that answers a TLS hello in plain text says: its `ERROR:` line, if that
/// is what came first (a refusal sent before the host looks at a connection). `None` when the
/// answer is TLS.
fn plain_refusal(tcp: &TcpStream, deadline: std::time::Instant) -> Option<String> {
    let left = deadline.saturating_duration_since(std::time::Instant::now());
    tcp.set_read_timeout(Some(left.max(Duration::from_millis(1))))
        .ok()?;
    let mut first = [0u8; 6];
    let peeked = tcp.peek(&mut first).ok()?;
    if peeked < first.len() || &first != b"ERROR:" {
        return None;
    }
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < crate::protocol::MAX_LINE_BYTES {
        match Read::read(&mut &*tcp, &mut byte) {
            Ok(1) if byte[0] == b'\n' => break,
            Ok(1) => line.push(byte[0]),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&line);
    Some(text.trim_start_matches("ERROR:").trim_end().to_owned())
}

/// The fingerprint a host showed during a handshake, once it has shown one.
pub type ShownFingerprint = Arc<Mutex<Option<Fingerprint>>>;

/// The TLS client configuration of lanshare's participant towards a host trusted as `trust`
/// says: TLS 1.3 only, no resumption, the certificate checked against the pin (any, at first
/// contact) and the handshake's signature always against the certificate. The fingerprint the
/// host shows is written to the returned cell.
pub fn client_config(
    trust: Trust,
) -> Result<(Arc<rustls::ClientConfig>, ShownFingerprint), rustls::Error> {
    let pinned = match trust {
        Trust::FirstContact => None,
        Trust::Pinned(fingerprint) => Some(fingerprint),
    };
    let seen = Arc::new(Mutex::new(None));
    let verifier = Arc::new(PinVerifier::new(pinned, Arc::clone(&seen)));
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    config.alpn_protocols = vec![COMPRESSION_ALPN.to_vec(), FEATURES_ALPN.to_vec()];
    Ok((Arc::new(config), seen))
}

/// The ALPN protocol name a host selects when it understands `FEATURES` (PROTOCOL.md, *The
/// library's lines*); lanshare's clients offer it and send `FEATURES` only to a host that
/// selected it, so an older host never sees a line it does not know.
pub const FEATURES_ALPN: &[u8] = b"lanshare-features";

/// The ALPN protocol name a host selects, in preference to [`FEATURES_ALPN`], when it also
/// takes compressed transfers (`COMPRESS`, PROTOCOL.md, *Compression*); lanshare's clients
/// offer both, and send `COMPRESS` only to a host that selected this one.
pub const COMPRESSION_ALPN: &[u8] = b"lanshare-features-zstd";

/// The server name lanshare's clients give: hosts are known by their pinned key, not a name.
pub const SERVER_NAME: &str = "lanshare";

/// Runs the participant side of the handshake, checking the host's certificate against
/// `trust`; returns the connection and the fingerprint the host showed.
pub fn connect(tcp: TcpStream, trust: Trust) -> Result<(TlsStream, Fingerprint), SecureError> {
    let pinned = match trust {
        Trust::FirstContact => None,
        Trust::Pinned(fingerprint) => Some(fingerprint),
    };
    let handshake_error = |error| SecureError::Handshake(io::Error::other(error));
    let (config, seen) = client_config(trust).map_err(handshake_error)?;
    let name = rustls::pki_types::ServerName::try_from(SERVER_NAME)
        .map_err(|error| SecureError::Handshake(io::Error::other(error)))?;
    let connection = rustls::ClientConnection::new(config, name).map_err(handshake_error)?;
    let deadline = std::time::Instant::now() + HANDSHAKE_LIMIT;
    let stream = TlsStream::begin(tcp, connection.into());
    stream.send_pending().map_err(SecureError::Handshake)?;
    if let Some(reason) = plain_refusal(stream.tcp(), deadline) {
        return Err(SecureError::Refused(reason));
    }
    let result = stream.complete_handshake(deadline).map(|()| stream);
    let shown = seen.lock().ok().and_then(|seen| *seen);
    match (result, pinned, shown) {
        (Ok(stream), _, Some(shown)) => Ok((stream, shown)),
        (Err(_), Some(pinned), Some(shown)) if pinned != shown => {
            Err(SecureError::KeyChanged { pinned, shown })
        }
        (Err(error), _, _) => Err(SecureError::Handshake(error)),
        (Ok(_), _, None) => Err(SecureError::Handshake(io::Error::other(
            "the host showed no certificate",
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// The participant's and the host's side of one handshake.
    type Handshake = (
        Result<(TlsStream, Fingerprint), SecureError>,
        io::Result<TlsStream>,
    );

    /// A host identity serving one connection on loopback; returns both sides' results.
    fn handshake_pair(identity: &HostIdentity, trust: Trust) -> anyhow::Result<Handshake> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let config = identity.server_config()?;
        let server = std::thread::spawn(move || -> io::Result<TlsStream> {
            let (tcp, _) = listener.accept()?;
            tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
            accept(tcp, config, HANDSHAKE_LIMIT)
        });
        let tcp = TcpStream::connect(address)?;
        tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
        let client = connect(tcp, trust);
        let server = server
            .join()
            .map_err(|_| anyhow::anyhow!("server thread panicked"))?;
        Ok((client, server))
    }

    #[test]
    fn bytes_cross_both_ways_while_another_thread_writes() -> anyhow::Result<()> {
        let identity = HostIdentity::generate()?;
        let (client, server) = handshake_pair(&identity, Trust::FirstContact)?;
        let (client, shown) = client?;
        let server = Arc::new(server?);
        assert_eq!(shown, identity.fingerprint());
        assert_eq!(client.channel_binding()?, server.channel_binding()?);

        let payload: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let writer = {
            let server = Arc::clone(&server);
            let payload = payload.clone();
            std::thread::spawn(move || -> io::Result<()> {
                (&*server).write_all(&payload)?;
                server.close_write();
                Ok(())
            })
        };
        (&client).write_all(b"hello from the participant\n")?;
        let mut line = [0u8; 27];
        (&*server).read_exact(&mut line)?;
        assert_eq!(&line, b"hello from the participant\n");
        let mut received = Vec::new();
        (&client).read_to_end(&mut received)?;
        writer
            .join()
            .map_err(|_| anyhow::anyhow!("writer panicked"))??;
        assert!(received == payload, "{} bytes received", received.len());
        Ok(())
    }

    #[test]
    fn bulk_reads_lose_nothing_when_they_start_and_stop_mid_stream() -> anyhow::Result<()> {
        let identity = HostIdentity::generate()?;
        let (client, server) = handshake_pair(&identity, Trust::FirstContact)?;
        let (client, _) = client?;
        let server = server?;
        // A line, a "file" of 1 MB + 7 bytes, and a line after it, sent at once: the bulk
        // reads start after bytes of the file already sit in the small read's leftover, and
        // stop with the next line (and the end) already read into the bulk buffer.
        let file: Vec<u8> = (0..1_000_007u32).map(|i| (i % 253) as u8).collect();
        let mut sent = b"UPLOAD\n".to_vec();
        sent.extend_from_slice(&file);
        sent.extend_from_slice(b"NEXT\n");
        let writer = std::thread::spawn(move || -> io::Result<()> {
            (&client).write_all(&sent)?;
            client.close_write();
            Ok(())
        });
        let mut line = [0u8; 7];
        (&server).read_exact(&mut line)?;
        assert_eq!(&line, b"UPLOAD\n");
        let mut received = vec![0u8; file.len()];
        {
            let _bulk = server.bulk_reads();
            (&server).read_exact(&mut received)?;
        }
        assert!(received == file, "the file's bytes differ");
        let mut rest = Vec::new();
        (&server).read_to_end(&mut rest)?;
        assert_eq!(rest, b"NEXT\n");
        writer
            .join()
            .map_err(|_| anyhow::anyhow!("writer panicked"))??;
        Ok(())
    }

    #[test]
    fn a_host_with_another_key_than_the_pinned_one_is_refused() -> anyhow::Result<()> {
        let real = HostIdentity::generate()?;
        let impostor = HostIdentity::generate()?;
        let (client, _) = handshake_pair(&impostor, Trust::Pinned(real.fingerprint()))?;
        match client {
            Err(SecureError::KeyChanged { pinned, shown }) => {
                assert_eq!(pinned, real.fingerprint());
                assert_eq!(shown, impostor.fingerprint());
            }
            other => anyhow::bail!("expected KeyChanged, got {:?}", other.map(|(_, f)| f)),
        }
        let (client, _) = handshake_pair(&real, Trust::Pinned(real.fingerprint()))?;
        assert_eq!(client?.1, real.fingerprint());
        Ok(())
    }
}
