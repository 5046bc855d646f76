//! One connection, on a thread of the server pool: read its commands, check the passcode,
//! route them.
//!
//! Waiting for a command holds nothing but this thread and the socket; a transfer takes a
//! transfer slot only while its bytes move, and a `JOIN` makes the connection a control session
//! for the rest of its life.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use super::admission::Tracked;
use super::gate::Refused;
use super::registry::Uploader;
use super::state::Shared;
use super::wire::{Connection, Silence};
use super::{download, passcode, relay, session, upload};
use crate::net::{Stream, is_timeout};
use crate::protocol::{ClientLine, Features, ShareOptions};
use crate::tls::{self, TLS_FIRST_BYTE};

/// Serves one admitted connection until it closes. A bug in a handler ends this connection
/// only, never the host.
pub(super) fn run(shared: &Arc<Shared>, tcp: TcpStream, peer: SocketAddr, mut tracked: Tracked) {
    let serve = std::panic::AssertUnwindSafe(|| {
        if let Some(stream) = open_stream(shared, tcp, peer, &tracked) {
            serve(shared, Connection::new(stream, peer), &mut tracked);
        }
    });
    if std::panic::catch_unwind(serve).is_err() {
        tracing::error!("The handler of a connection from {peer} panicked; the host carries on");
    }
    drop(tracked);
}

/// Tells TLS from the seed's plain text by the connection's first byte, and runs the TLS
/// handshake; a plain-text connection the host does not serve is told why. `None`: nothing
/// more to do with this connection.
fn open_stream(
    shared: &Shared,
    tcp: TcpStream,
    peer: SocketAddr,
    tracked: &Tracked,
) -> Option<Stream> {
    let timeout = shared.config.timeouts.command;
    let _ = tcp.set_read_timeout(Some(timeout));
    let mut first = [0u8; 1];
    let encrypted = loop {
        match tcp.peek(&mut first) {
            Ok(0) => return None,
            Ok(_) => break first[0] == TLS_FIRST_BYTE,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) if is_timeout(&error) => {
                let silent = Connection::new(Stream::Plain(tcp), peer);
                silent.refuse(format_args!(
                    "Timed out after {timeout:?} waiting for a command"
                ));
                return None;
            }
            Err(_) => return None,
        }
    };
    if !encrypted {
        if let Some(reason) = shared.plain_text_refusal() {
            Connection::new(Stream::Plain(tcp), peer).refuse(reason);
            return None;
        }
        return Some(Stream::Plain(tcp));
    }
    tracked.mark_encrypted();
    match tls::accept(tcp, Arc::clone(&shared.tls), timeout) {
        Ok(tls) => Some(Stream::Tls(Arc::new(tls))),
        Err(error) => {
            tracing::debug!("No TLS connection with {peer}: {error}");
            None
        }
    }
}

/// What a connection has proven so far.
struct Access {
    /// The host's passcode was given, or the host has none, or `AUTH` proved a participant
    /// (who gave it to join).
    passcode: bool,
    /// The joined participant that `AUTH` proved, for the uploads that follow.
    uploader: Option<Uploader>,
    /// The extra lines the client asked for (`FEATURES`).
    features: Features,
    /// What `UPLOAD_OPTIONS` asked for the next upload.
    options: Option<ShareOptions>,
    /// `NEW_FILE`: the next upload is a file of its own, not a new version.
    new_file: bool,
    /// `COMPRESS`: the next transfer's bytes travel in blocks.
    compress: bool,
}

/// What to do with the connection after a command.
enum Next {
    /// Read the next command.
    Continue,
    /// Close it.
    Close,
    /// Hand it to a control session (`JOIN` was accepted).
    Join(session::JoinRequest),
    /// Hand it to the relay waiting for it (`RELAY_SEND`).
    Relay(crate::protocol::RelayToken),
}

impl From<bool> for Next {
    fn from(keep_open: bool) -> Self {
        if keep_open {
            Self::Continue
        } else {
            Self::Close
        }
    }
}

/// Reads and serves commands until the connection closes or joins a session; from its first
/// command on (a passcode exchange counts), the host no longer sheds it to make room.
fn serve(shared: &Arc<Shared>, mut connection: Connection, tracked: &mut Tracked) {
    if shared.is_stopping() {
        return;
    }
    // No write may wait on a client that stopped reading for longer than a stall.
    let _ = connection.set_write_timeout(shared.config.timeouts.stall);
    let mut access = Access {
        passcode: shared.gate.is_open(),
        uploader: None,
        features: Features::default(),
        options: None,
        new_file: false,
        compress: false,
    };
    // Until the first command other than PASS, a silent client is told it timed out; after
    // it, a connection idle between commands is closed silently.
    let mut started = false;
    loop {
        let (timeout, silence) = if started {
            (shared.config.timeouts.idle, Silence::Close)
        } else {
            (shared.config.timeouts.command, Silence::Report)
        };
        let Some(command) = connection.read_command(timeout, silence) else {
            return;
        };
        tracked.mark_started();
        // A passcode exchange, and the features asked for, may come before JOIN.
        let comes_first = matches!(command, ClientLine::Pake { .. } | ClientLine::Features(_));
        match route(shared, &mut connection, &mut access, command, started) {
            Next::Continue => started |= !comes_first,
            Next::Close => return,
            Next::Join(request) => return session::run(shared, connection, request),
            Next::Relay(token) => return relay::take_sharer(shared, connection, &token),
        }
    }
}

/// Serves one command.
fn route(
    shared: &Shared,
    connection: &mut Connection,
    access: &mut Access,
    command: ClientLine,
    started: bool,
) -> Next {
    match command {
        ClientLine::Pass { .. } => {
            connection.refuse(
                "PASS is not accepted: this host never takes a passcode in clear; update \
                 lanshare, which proves it with PAKE",
            );
            Next::Close
        }
        ClientLine::Pake { message, claim } => {
            match passcode::exchange(shared, connection, &message, claim) {
                Ok(()) => {
                    access.passcode = true;
                    Next::Continue
                }
                Err(passcode::Failed) => Next::Close,
            }
        }
        ClientLine::Join {
            version,
            username,
            public_key,
        } if !started => {
            if !access.passcode {
                connection.refuse(Refused::Missing);
                return Next::Close;
            }
            Next::Join(session::JoinRequest {
                version,
                username,
                public_key,
                features: access.features,
            })
        }
        ClientLine::Join { .. } => {
            connection
                .refuse("JOIN must come before any other command on a connection (PAKE aside)");
            Next::Close
        }
        ClientLine::Auth { client_id, ticket } => {
            if connection.stream().is_encrypted() {
                connection.refuse(
                    "AUTH is for plain text; on an encrypted connection prove the ticket with \
                     AUTH_PROOF",
                );
                return Next::Close;
            }
            let uploader = shared.registry.authenticate(client_id, &ticket);
            authenticated(connection, access, uploader)
        }
        ClientLine::AuthProof { client_id, proof } => {
            let uploader = connection.stream().channel_binding().and_then(|binding| {
                shared
                    .registry
                    .authenticate_bound(client_id, &proof, &binding)
            });
            authenticated(connection, access, uploader)
        }
        ClientLine::Upload(_)
        | ClientLine::UploadResume { .. }
        | ClientLine::Download { .. }
        | ClientLine::DownloadVersion { .. }
        | ClientLine::Versions { .. }
        | ClientLine::Preview { .. }
        | ClientLine::List
            if !access.passcode =>
        {
            connection.refuse(Refused::Missing);
            Next::Close
        }
        ClientLine::Features(features) => {
            access.features = features;
            Next::Continue
        }
        ClientLine::UploadOptions(options) => {
            access.options = Some(options);
            Next::Continue
        }
        ClientLine::Upload(request) => upload_with(shared, connection, access, request, None),
        ClientLine::UploadResume { key, request } => {
            upload_with(shared, connection, access, request, Some(key))
        }
        ClientLine::Download { file_id, offset } => {
            let wanted = download::Wanted {
                file_id,
                offset,
                version: None,
                compressed: std::mem::take(&mut access.compress),
            };
            download::send(shared, connection, &wanted, access.uploader.as_ref()).into()
        }
        ClientLine::DownloadVersion {
            file_id,
            offset,
            version,
        } => {
            let wanted = download::Wanted {
                file_id,
                offset,
                version: Some(version),
                compressed: std::mem::take(&mut access.compress),
            };
            download::send(shared, connection, &wanted, access.uploader.as_ref()).into()
        }
        ClientLine::Versions { file_id } => {
            let key = access.uploader.as_ref().map(|uploader| &uploader.key);
            download::send_versions(shared, connection, file_id, key).into()
        }
        ClientLine::Preview { file_id } => {
            let key = access.uploader.as_ref().map(|uploader| &uploader.key);
            download::send_preview(shared, connection, file_id, key).into()
        }
        ClientLine::Direct { file_id } => {
            let key = access.uploader.as_ref().map(|uploader| &uploader.key);
            download::send_route(shared, connection, file_id, key).into()
        }
        ClientLine::Relay { file_id } => {
            relay::relay(shared, connection, file_id, access.uploader.as_ref()).into()
        }
        ClientLine::RelaySend { token } => Next::Relay(token),
        ClientLine::NewFile => {
            access.new_file = true;
            Next::Continue
        }
        ClientLine::Compress if !shared.config.compression => {
            connection.refuse("This host takes no compressed transfers (--no-compression)");
            Next::Close
        }
        ClientLine::Compress => {
            access.compress = true;
            Next::Continue
        }
        ClientLine::List => {
            let key = access.uploader.as_ref().map(|uploader| &uploader.key);
            download::send_list(shared, connection, access.features, key).into()
        }
        ClientLine::Ready
        | ClientLine::SetAccess { .. }
        | ClientLine::Comment { .. }
        | ClientLine::DeleteComment { .. }
        | ClientLine::Proof { .. }
        | ClientLine::PakeProof { .. }
        | ClientLine::Grant { .. }
        | ClientLine::DirectShare(_)
        | ClientLine::Delete { .. }
        | ClientLine::Ping => {
            connection.refuse(
                "Unexpected command here: only UPLOAD, UPLOAD_RESUME, UPLOAD_OPTIONS, NEW_FILE, \
                 COMPRESS, DOWNLOAD, VERSIONS, PREVIEW, LIST, DIRECT, RELAY, RELAY_SEND, FEATURES, AUTH, AUTH_PROOF and PAKE are served \
                 outside \
                 a joined session",
            );
            Next::Close
        }
    }
}

/// `UPLOAD` or `UPLOAD_RESUME` (with `resume_key`), with the options asked for it.
fn upload_with(
    shared: &Shared,
    connection: &mut Connection,
    access: &mut Access,
    request: crate::protocol::UploadRequest,
    resume_key: Option<crate::protocol::ResumeKey>,
) -> Next {
    let asked = upload::Asked {
        options: access.options.take().unwrap_or_default(),
        file_info: access.features.file_info,
        versions: access.features.versions,
        new_file: std::mem::take(&mut access.new_file),
        compressed: std::mem::take(&mut access.compress),
    };
    let uploader = access.uploader.as_ref();
    upload::receive(shared, connection, request, uploader, resume_key, &asked).into()
}

/// `AUTH` or `AUTH_PROOF`: a known participant opens the connection for its uploads (and
/// stands for the passcode it gave to join); anything else closes it.
fn authenticated(connection: &Connection, access: &mut Access, uploader: Option<Uploader>) -> Next {
    if uploader.is_none() {
        connection.refuse("Unknown or expired ticket: join the host again");
        return Next::Close;
    }
    access.uploader = uploader;
    access.passcode = true;
    Next::Continue
}
