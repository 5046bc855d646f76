//! The lines of the protocol, as types, with their parsers and encoders.

use super::constants::{ClientId, FileId, PAKE_MESSAGE_BYTES};
use super::direct::{DirectRoute, DirectShare, Grant, RelayToken};
use super::error::{ProtocolError, shorten_for_message};
use super::escape::{escape, unescape};
use super::fingerprint::Fingerprint;
use super::hex::{decode_hex, encode_hex};
use super::library::{
    Audience, CommentInfo, Features, FileInfo, ShareOptions, VersionInfo, encode_audience,
    encode_expiry, encode_features, parse_audience, parse_category, parse_expiry, parse_features,
    parse_tags,
};
use super::preview::{PreviewKind, check_preview_size, parse_preview_kind};
use super::values::{Passcode, PublicKey, ResumeKey, Sha256Digest, Ticket, TransferCheck};

/// The seed's upload command: `UPLOAD:<client_id>:<username>:<filename>:<filesize>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRequest {
    /// The uploader's client id as the client claims it (verified only after `AUTH`).
    pub client_id: ClientId,
    /// The uploader's name as the client claims it.
    pub username: String,
    /// The file's name.
    pub filename: String,
    /// Exactly how many raw bytes follow `READY`.
    pub size: u64,
}

/// A line sent by a client to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientLine {
    /// `UPLOAD:<client_id>:<username>:<filename>:<filesize>` (seed).
    Upload(UploadRequest),
    /// `UPLOAD_RESUME:<key>:<client_id>:<username>:<filename>:<filesize>`: an upload that the
    /// host keeps if it is cut off, so that the same participant can continue it.
    UploadResume {
        /// The client's name for this upload (the same on every attempt), 32 bytes.
        key: ResumeKey,
        /// What `UPLOAD` would carry.
        request: UploadRequest,
    },
    /// `DOWNLOAD:<file_id>` (seed), or `DOWNLOAD:<file_id>:<offset>` to receive the file from
    /// byte `offset` on.
    Download {
        /// The file asked for.
        file_id: FileId,
        /// The first byte to send (0 for the whole file, sent as the seed's line).
        offset: u64,
    },
    /// `DOWNLOAD:<file_id>:<offset>:<version>`: a download of one of the file's kept versions
    /// (lanshare; `DOWNLOAD` without it sends the latest).
    DownloadVersion {
        /// The file asked for.
        file_id: FileId,
        /// The first byte to send.
        offset: u64,
        /// The version's number.
        version: u32,
    },
    /// `VERSIONS:<file_id>`: asks for the kept versions of a file.
    Versions {
        /// The file.
        file_id: FileId,
    },
    /// `PREVIEW:<file_id>`: asks for the preview of a file's latest version.
    Preview {
        /// The file.
        file_id: FileId,
    },
    /// `COMMENT:<file_id>:<text>`: a comment on a file (control session only).
    Comment {
        /// The file.
        file_id: FileId,
        /// What it says (escaped on the wire).
        text: String,
    },
    /// `DELETE_COMMENT:<file_id>:<comment_id>`: removes a comment (its author or the operator;
    /// control session only).
    DeleteComment {
        /// The file.
        file_id: FileId,
        /// The comment.
        comment_id: u64,
    },
    /// `NEW_FILE`: the next upload on this connection is a file of its own, even if its sharer
    /// already shares one of the same name (which it would otherwise become a version of).
    NewFile,
    /// `COMPRESS:zstd`: the next transfer on this connection (an upload's bytes, or a
    /// download's) travels in blocks, each raw or zstd ([`crate::compression`]; PROTOCOL.md,
    /// *Compression*).
    Compress,
    /// `READY` (seed): the client is ready for a download's bytes.
    Ready,
    /// `AUTH:<client_id>:<ticket>`: proves that later uploads on this connection come from
    /// the joined participant `client_id`.
    Auth {
        /// The participant's client id.
        client_id: ClientId,
        /// The ticket from the participant's `WELCOME`.
        ticket: Ticket,
    },
    /// `LIST`: asks for the current files without joining.
    List,
    /// `JOIN:<version>:<username>:<public_key>`: opens a control session.
    Join {
        /// Protocol version spoken by the client.
        version: u32,
        /// Display name.
        username: String,
        /// The participant's Ed25519 public key: its lasting identity.
        public_key: PublicKey,
    },
    /// `PROOF:<signature>`: the signature over the host's `CHALLENGE`.
    Proof {
        /// Ed25519 signature.
        signature: [u8; 64],
    },
    /// `DELETE:<file_id>`: asks the host to remove a file (control session only).
    Delete {
        /// The file to delete.
        file_id: FileId,
    },
    /// `PING`: keeps a control session alive; the host answers `PONG`.
    Ping,
    /// `PASS:<passcode>`: the passcode in clear, as lanshare once sent it. Hosts refuse it
    /// now: a passcode is proven with `PAKE`, never sent.
    Pass {
        /// The passcode.
        passcode: Passcode,
    },
    /// `AUTH_PROOF:<client_id>:<proof>`: `AUTH` on an encrypted connection. The proof is
    /// SHA-256 of the ticket and the connection's channel binding, so the ticket itself never
    /// crosses the wire again and a proof is good on its own connection only.
    AuthProof {
        /// The participant's client id.
        client_id: ClientId,
        /// SHA-256 of the ticket and the channel binding.
        proof: [u8; 32],
    },
    /// `GRANT:<file_id>:<downloader_key>:<expires_at_ms>:<host_signature>:<proof>`: to a
    /// participant sharing directly, the host's permission to download a file and the
    /// downloader's proof, bound to this connection, that the grant is its own.
    Grant {
        /// The host's grant.
        grant: Grant,
        /// The downloader's Ed25519 signature of [`Grant::proof_message`].
        proof: [u8; 64],
    },
    /// `DIRECT_SHARE:…` (control session): the participant shares a file from its own machine.
    DirectShare(DirectShare),
    /// `DIRECT:<file_id>` (transfer connection, after `AUTH_PROOF`): asks where and how to
    /// fetch a file shared directly.
    Direct {
        /// The file.
        file_id: FileId,
    },
    /// `RELAY:<file_id>` (transfer connection, after `AUTH_PROOF`): asks the host to relay a
    /// file shared directly whose sharer cannot be reached; a `DOWNLOAD` of it follows.
    Relay {
        /// The file.
        file_id: FileId,
    },
    /// `RELAY_SEND:<token>` (a sharer's new connection to its host): the connection the host
    /// asked for with `RELAY_WANTED`, to carry one download of a file shared directly.
    RelaySend {
        /// The token `RELAY_WANTED` carried.
        token: RelayToken,
    },
    /// `PAKE:<message>[:<public_key>:<signature>]`: the participant's SPAKE2 message, to prove
    /// it knows the passcode; a participant who joined the host before may say who it is, so
    /// that its guess is not counted with strangers'.
    Pake {
        /// The SPAKE2 message.
        message: [u8; PAKE_MESSAGE_BYTES],
        /// Who the participant is, proven on this connection.
        claim: Option<KeyClaim>,
    },
    /// `PAKE_PROOF:<proof>`: the participant's proof that it derived the same key.
    PakeProof {
        /// The proof.
        proof: [u8; 32],
    },
    /// `FEATURES:<words>`: the extra lines this client wants on this connection (before `JOIN`
    /// or `LIST`); no reply.
    Features(Features),
    /// `UPLOAD_OPTIONS:<expiry>:<tags>[:version-of:<file_id>][:<names>]`: how long the next
    /// upload on this connection should live, its tags, the file it is a new version of, and
    /// who may see it; no reply (an `ERROR` if refused).
    UploadOptions(ShareOptions),
    /// `ACCESS:<file_id>:everyone` or `ACCESS:<file_id>:only:<names>`: the sharer (or the
    /// operator) changes who may see a file (control session only).
    SetAccess {
        /// The file.
        file_id: FileId,
        /// Who may see it besides the sharer and the operator; `None`: everyone.
        only: Option<Audience>,
    },
}

/// What a joined participant may do beyond its own files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// May delete only its own files.
    Participant,
    /// The host's operator: may delete any file.
    Operator,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Self::Participant => "participant",
            Self::Operator => "operator",
        }
    }
}

/// A line sent by the host to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostLine {
    /// `READY` (seed): send the upload's bytes now.
    Ready,
    /// `ERROR:<message>` (seed). The message is plain text, the rest of the line.
    Error(String),
    /// `DIRECT_SHARED:<file_id>:<sha256>:<grant_key>`: the host lists the file a session shared
    /// directly (the one with that SHA-256) as `file_id`, and will sign its downloaders'
    /// grants with `grant_key`.
    DirectShared {
        /// The id the host lists it under.
        file_id: FileId,
        /// The shared file's SHA-256.
        sha256: Sha256Digest,
        /// The host's Ed25519 key for grants.
        grant_key: PublicKey,
    },
    /// `DIRECT_FAILED:<sha256>:<reason>`: the host did not list the file a session shared
    /// directly (the one with that SHA-256).
    DirectFailed {
        /// The file's SHA-256.
        sha256: Sha256Digest,
        /// Why, in plain text (the rest of the line).
        reason: String,
    },
    /// `DIRECT_ROUTE:…`: the answer to `DIRECT`.
    DirectRoute(DirectRoute),
    /// `RELAY_WANTED:<token>:<file_id>` (to a sharer's session): a downloader cannot reach the
    /// sharer's server; open a connection to the host with `RELAY_SEND:<token>` and serve it.
    RelayWanted {
        /// What `RELAY_SEND` shows.
        token: RelayToken,
        /// The file wanted.
        file_id: FileId,
    },
    /// `FILE_STATE:<file_id>:available|unavailable` (sessions that asked for `direct`): whether
    /// a file shared directly can be fetched now (its sharer is online).
    FileState {
        /// The file.
        file_id: FileId,
        /// True while its sharer serves it.
        available: bool,
    },
    /// `FILE:<filename>:<filesize>` (seed): the download's bytes follow the client's `READY`.
    File {
        /// The file's name.
        name: String,
        /// How many bytes will follow.
        size: u64,
    },
    /// `RESUME_FROM:<offset>`: the reply to `UPLOAD_RESUME`: send the file from byte `offset`.
    ResumeFrom {
        /// Bytes of the upload the host holds already.
        offset: u64,
    },
    /// `STORED:<file_id>:<sha256>:<check>`: the upload is stored and listed.
    Stored {
        /// The id assigned to the file.
        file_id: FileId,
        /// SHA-256 of the bytes received.
        sha256: Sha256Digest,
        /// The transfer check of the bytes received.
        check: TransferCheck,
    },
    /// `CHALLENGE:<nonce>`: sign this to prove the key sent in `JOIN`.
    Challenge {
        /// 32 random bytes.
        nonce: [u8; 32],
    },
    /// `WELCOME:<client_id>:<ticket>:<role>`: the session is open; a snapshot follows.
    Welcome {
        /// The participant's id on this host.
        client_id: ClientId,
        /// Secret for `AUTH` on transfer connections while the session lasts.
        ticket: Ticket,
        /// What the participant may delete.
        role: Role,
    },
    /// `FILE_OFFER:<file_id>:<filename>:<filesize>:<uploader_name>:<uploader_id>` (seed).
    FileOffer {
        /// The file's id.
        file_id: FileId,
        /// The file's name.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// Who uploaded it.
        uploader_name: String,
        /// The uploader's client id (0 for a guest upload).
        uploader_id: ClientId,
    },
    /// `FILE_META:<file_id>:<uploaded_at_ms>:<sha256>:<check>`: sent right after each
    /// `FILE_OFFER`. Hosts before the transfer check sent the first three fields only.
    FileMeta {
        /// The file's id.
        file_id: FileId,
        /// Upload time, milliseconds since the Unix epoch (UTC).
        uploaded_at_ms: i64,
        /// SHA-256 of the file's bytes.
        sha256: Sha256Digest,
        /// The transfer check of the file's bytes; `None` from an older host (four fields).
        check: Option<TransferCheck>,
    },
    /// `FILE_DELETED:<file_id>` (seed).
    FileDeleted {
        /// The removed file's id.
        file_id: FileId,
    },
    /// `PEER_JOINED:<client_id>:<username>`: a participant is online.
    PeerJoined {
        /// Its id.
        client_id: ClientId,
        /// Its display name.
        username: String,
    },
    /// `PEER_LEFT:<client_id>`: a participant went offline.
    PeerLeft {
        /// Its id.
        client_id: ClientId,
    },
    /// `DELETE_FAILED:<file_id>:<reason>`: a `DELETE` was refused; the session stays open.
    DeleteFailed {
        /// The file named in the `DELETE`.
        file_id: FileId,
        /// Why, as plain text (the rest of the line).
        reason: String,
    },
    /// `END`: the end of a snapshot (after `WELCOME`, or the reply to `LIST`).
    End,
    /// `PONG`: the answer to `PING`.
    Pong,
    /// `PAKE:<message>`: the host's SPAKE2 message, the answer to the participant's.
    Pake {
        /// The SPAKE2 message.
        message: [u8; PAKE_MESSAGE_BYTES],
    },
    /// `PAKE_PROOF:<proof>`: the host's proof, sent once the participant's proof checked out.
    PakeProof {
        /// The proof.
        proof: [u8; 32],
    },
    /// `FILE_INFO:<file_id>:<category>:<expires_in_ms>:<tags>`: a file's category, expiry and
    /// tags, for clients that asked for `file-info`.
    FileInfo(FileInfo),
    /// `FILE_ACCESS:<file_id>:<names>`: a restricted file's list of who may see it, for its
    /// sharer and the operator, if they asked for `access`.
    FileAccess {
        /// The file.
        file_id: FileId,
        /// Who may see it besides the sharer and the operator.
        only: Audience,
    },
    /// `FILE_VERSIONS:<file_id>:<latest>:<kept>`: the latest version's number and how many
    /// versions are kept, for a file with more than one, to clients that asked for `versions`.
    FileVersions {
        /// The file.
        file_id: FileId,
        /// The latest version's number.
        latest: u32,
        /// How many versions the host keeps of it (the latest included).
        kept: u32,
    },
    /// `FILE_PREVIEW:<file_id>:<kind>:<size>`: the file has a preview, for clients that asked
    /// for `previews` (with its offer, or when it is made).
    FilePreview {
        /// The file.
        file_id: FileId,
        /// What the preview is.
        kind: PreviewKind,
        /// Its size in bytes.
        size: u64,
    },
    /// `PREVIEW_DATA:<file_id>:<kind>:<size>`: the answer to `PREVIEW`; `size` bytes follow.
    PreviewData {
        /// The file.
        file_id: FileId,
        /// What the preview is.
        kind: PreviewKind,
        /// How many bytes follow.
        size: u64,
    },
    /// `VERSION:…`: one kept version, in the answer to `VERSIONS` (which ends with `END`).
    Version(VersionInfo),
    /// `COMMENT_ADDED:…`: a comment, listed with its file (between `FILE_OFFER` and
    /// `FILE_META`) or sent when added, to clients that asked for `comments`.
    CommentAdded(CommentInfo),
    /// `COMMENT_DELETED:<file_id>:<comment_id>`: a comment was deleted.
    CommentDeleted {
        /// The file.
        file_id: FileId,
        /// The comment.
        comment_id: u64,
    },
    /// `COMMENT_FAILED:<file_id>:<reason>`: a `COMMENT` or `DELETE_COMMENT` was refused.
    CommentFailed {
        /// The file named.
        file_id: FileId,
        /// Why, as plain text (the rest of the line).
        reason: String,
    },
    /// `ACCESS_FAILED:<file_id>:<reason>`: an `ACCESS` was refused; the session stays open.
    AccessFailed {
        /// The file named in the `ACCESS`.
        file_id: FileId,
        /// Why, as plain text (the rest of the line).
        reason: String,
    },
}

/// Splits `line` at its first `:` into the command word and the rest.
fn split_command(line: &[u8]) -> (&[u8], Option<&[u8]>) {
    match line.iter().position(|&b| b == b':') {
        Some(at) => (&line[..at], Some(&line[at + 1..])),
        None => (line, None),
    }
}

/// A participant's key, with its signature of the passcode exchange's first message on this
/// connection ([`crate::identity::pake_claim_message`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyClaim {
    /// The participant's public key.
    pub key: PublicKey,
    /// Its signature.
    pub signature: [u8; 64],
}

/// Walks the `:`-separated fields of a line.
struct Fields<'a> {
    command: &'static str,
    rest: Option<&'a [u8]>,
}

impl<'a> Fields<'a> {
    fn new(command: &'static str, rest: Option<&'a [u8]>) -> Self {
        Self { command, rest }
    }

    /// The next field, up to the next `:` or the end of the line.
    fn next(&mut self, field: &'static str) -> Result<&'a [u8], ProtocolError> {
        let rest = self.rest.ok_or(ProtocolError::MissingField {
            command: self.command,
            field,
        })?;
        match rest.iter().position(|&b| b == b':') {
            Some(at) => {
                self.rest = Some(&rest[at + 1..]);
                Ok(&rest[..at])
            }
            None => {
                self.rest = None;
                Ok(rest)
            }
        }
    }

    /// The next field as a non-negative number.
    fn number(&mut self, field: &'static str) -> Result<u64, ProtocolError> {
        parse_u64(field, self.next(field)?)
    }

    /// The next field as escaped text.
    fn text(&mut self, field: &'static str) -> Result<String, ProtocolError> {
        unescape(self.next(field)?)
    }

    /// The next field as `N` bytes of hex.
    fn hex<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], ProtocolError> {
        parse_hex(field, self.next(field)?)
    }

    /// A line whose only field is one hex value, e.g. `PAKE:<message>`.
    fn single_hex<const N: usize>(
        command: &'static str,
        rest: Option<&'a [u8]>,
        field: &'static str,
    ) -> Result<[u8; N], ProtocolError> {
        let mut fields = Self::new(command, rest);
        let value = fields.hex(field)?;
        fields.finish()?;
        Ok(value)
    }

    /// A line whose only field is one number, e.g. `DOWNLOAD:<file_id>`.
    fn single_number(
        command: &'static str,
        rest: Option<&'a [u8]>,
        field: &'static str,
    ) -> Result<u64, ProtocolError> {
        let mut fields = Self::new(command, rest);
        let number = fields.number(field)?;
        fields.finish()?;
        Ok(number)
    }

    /// Everything left on the line, `:` included.
    fn remainder(&mut self, field: &'static str) -> Result<&'a [u8], ProtocolError> {
        self.rest.take().ok_or(ProtocolError::MissingField {
            command: self.command,
            field,
        })
    }

    /// Fails if fields are left over.
    fn finish(self) -> Result<(), ProtocolError> {
        match self.rest {
            None => Ok(()),
            Some(extra) => Err(ProtocolError::BadValue {
                field: "trailing field",
                value: shorten_for_message(extra),
            }),
        }
    }
}

/// Parses a non-negative decimal integer: ASCII digits only, no sign, no spaces.
fn parse_u64(field: &'static str, text: &[u8]) -> Result<u64, ProtocolError> {
    let bad = || ProtocolError::BadNumber {
        field,
        value: shorten_for_message(text),
    };
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    text.iter().try_fold(0u64, |acc, &digit| {
        acc.checked_mul(10)
            .and_then(|acc| acc.checked_add(u64::from(digit - b'0')))
            .ok_or_else(bad)
    })
}

/// `GRANT`'s fields.
fn parse_grant(rest: Option<&[u8]>) -> Result<ClientLine, ProtocolError> {
    let mut fields = Fields::new("GRANT", rest);
    let grant = Grant {
        file_id: fields.number("file id")?,
        downloader: PublicKey(fields.hex("downloader key")?),
        expires_at_ms: fields.number("expiry")?,
        signature: fields.hex("host signature")?,
    };
    let proof = fields.hex("proof")?;
    fields.finish()?;
    Ok(ClientLine::Grant { grant, proof })
}

/// `DIRECT_SHARE`'s fields.
fn parse_direct_share(rest: Option<&[u8]>) -> Result<ClientLine, ProtocolError> {
    let mut fields = Fields::new("DIRECT_SHARE", rest);
    let name = fields.text("filename")?;
    let size = fields.number("file size")?;
    let sha256 = Sha256Digest(fields.hex("sha256")?);
    let check = TransferCheck(fields.hex("check")?);
    let port = parse_port(fields.next("port")?)?;
    let sharer = Fingerprint(fields.hex("fingerprint")?);
    let only = match fields.rest {
        Some(_) => Some(parse_audience(fields.next("names")?)?),
        None => None,
    };
    fields.finish()?;
    Ok(ClientLine::DirectShare(DirectShare {
        name,
        size,
        sha256,
        check,
        port,
        sharer,
        only,
    }))
}

/// A TCP port: a number from 1 to 65535.
fn parse_port(text: &[u8]) -> Result<u16, ProtocolError> {
    u16::try_from(parse_u64("port", text)?)
        .ok()
        .filter(|port| *port != 0)
        .ok_or_else(|| ProtocolError::BadValue {
            field: "port",
            value: shorten_for_message(text),
        })
}

/// `DIRECT_ROUTE`'s fields; the address comes last, as an IPv6 one holds `:`.
fn parse_direct_route(rest: Option<&[u8]>) -> Result<HostLine, ProtocolError> {
    let mut fields = Fields::new("DIRECT_ROUTE", rest);
    let grant = Grant {
        file_id: fields.number("file id")?,
        downloader: PublicKey(fields.hex("downloader key")?),
        expires_at_ms: fields.number("expiry")?,
        signature: fields.hex("host signature")?,
    };
    let sharer = Fingerprint(fields.hex("fingerprint")?);
    let port = parse_port(fields.next("port")?)?;
    let address = fields.rest.take().unwrap_or_default();
    let ip: std::net::IpAddr = std::str::from_utf8(address)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| ProtocolError::BadValue {
            field: "address",
            value: shorten_for_message(address),
        })?;
    Ok(HostLine::DirectRoute(DirectRoute {
        address: std::net::SocketAddr::new(ip, port),
        sharer,
        grant,
    }))
}

/// Parses a number that fits in 32 bits (a version number).
fn parse_u32(field: &'static str, text: &[u8]) -> Result<u32, ProtocolError> {
    u32::try_from(parse_u64(field, text)?).map_err(|_| ProtocolError::BadNumber {
        field,
        value: shorten_for_message(text),
    })
}

/// Parses a possibly negative decimal integer (used only for timestamps).
fn parse_i64(field: &'static str, text: &[u8]) -> Result<i64, ProtocolError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| ProtocolError::BadNumber {
            field,
            value: shorten_for_message(text),
        })
}

fn parse_hex<const N: usize>(field: &'static str, text: &[u8]) -> Result<[u8; N], ProtocolError> {
    decode_hex(text).ok_or(ProtocolError::BadHex {
        field,
        digits: N * 2,
    })
}

/// Splits `text` at its last `:`; the seed's `UPLOAD` and `FILE` end with a number, so a name
/// before it may contain unescaped `:` from clients that do not escape.
fn split_last_colon(text: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = text.iter().rposition(|&b| b == b':')?;
    Some((&text[..at], &text[at + 1..]))
}

/// Plain text for `ERROR` and `DELETE_FAILED`: control characters become spaces.
fn plain_text(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Strips the line ending (`\n` or `\r\n`) if present.
fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

impl ClientLine {
    /// Parses one line (its `\n` or `\r\n` ending optional).
    pub fn parse(line: &[u8]) -> Result<Self, ProtocolError> {
        let line = trim_line_end(line);
        if line.is_empty() {
            return Err(ProtocolError::Empty);
        }
        let (command, rest) = split_command(line);
        match command {
            b"UPLOAD" => parse_upload(rest).map(Self::Upload),
            b"UPLOAD_RESUME" => {
                let (key, rest) = match rest.map(split_command) {
                    Some((key, rest)) => (key, rest),
                    None => (&[][..], None),
                };
                Ok(Self::UploadResume {
                    key: ResumeKey(parse_hex("resume key", key)?),
                    request: parse_upload(rest)?,
                })
            }
            b"DOWNLOAD" => {
                let mut fields = Fields::new("DOWNLOAD", rest);
                let file_id = fields.number("file id")?;
                let offset = match fields.rest {
                    Some(_) => fields.number("offset")?,
                    None => 0,
                };
                if fields.rest.is_some() {
                    let version = parse_u32("version", fields.next("version")?)?;
                    fields.finish()?;
                    return Ok(Self::DownloadVersion {
                        file_id,
                        offset,
                        version,
                    });
                }
                fields.finish()?;
                Ok(Self::Download { file_id, offset })
            }
            b"PREVIEW" => Ok(Self::Preview {
                file_id: Fields::single_number("PREVIEW", rest, "file id")?,
            }),
            b"VERSIONS" => Ok(Self::Versions {
                file_id: Fields::single_number("VERSIONS", rest, "file id")?,
            }),
            b"NEW_FILE" if rest.is_none() => Ok(Self::NewFile),
            b"COMPRESS" => {
                let mut fields = Fields::new("COMPRESS", rest);
                let method = fields.next("method")?;
                fields.finish()?;
                if method != b"zstd" {
                    return Err(ProtocolError::BadValue {
                        field: "compression",
                        value: shorten_for_message(method),
                    });
                }
                Ok(Self::Compress)
            }
            b"COMMENT" => {
                let mut fields = Fields::new("COMMENT", rest);
                let file_id = fields.number("file id")?;
                let text = fields.text("text")?;
                fields.finish()?;
                Ok(Self::Comment { file_id, text })
            }
            b"DELETE_COMMENT" => {
                let mut fields = Fields::new("DELETE_COMMENT", rest);
                let file_id = fields.number("file id")?;
                let comment_id = fields.number("comment id")?;
                fields.finish()?;
                Ok(Self::DeleteComment {
                    file_id,
                    comment_id,
                })
            }
            b"READY" if rest.is_none() => Ok(Self::Ready),
            b"AUTH" => {
                let mut fields = Fields::new("AUTH", rest);
                let client_id = fields.number("client id")?;
                let ticket = Ticket(fields.hex("ticket")?);
                fields.finish()?;
                Ok(Self::Auth { client_id, ticket })
            }
            b"LIST" if rest.is_none() => Ok(Self::List),
            b"JOIN" => {
                let mut fields = Fields::new("JOIN", rest);
                let version = fields.number("version")?;
                let username = fields.text("username")?;
                let public_key = PublicKey(fields.hex("public key")?);
                fields.finish()?;
                let version = u32::try_from(version).map_err(|_| ProtocolError::BadValue {
                    field: "version",
                    value: version.to_string(),
                })?;
                Ok(Self::Join {
                    version,
                    username,
                    public_key,
                })
            }
            b"PROOF" => {
                let mut fields = Fields::new("PROOF", rest);
                let signature = fields.hex("signature")?;
                fields.finish()?;
                Ok(Self::Proof { signature })
            }
            b"DELETE" => Ok(Self::Delete {
                file_id: Fields::single_number("DELETE", rest, "file id")?,
            }),
            b"PING" if rest.is_none() => Ok(Self::Ping),
            b"AUTH_PROOF" => {
                let mut fields = Fields::new("AUTH_PROOF", rest);
                let client_id = fields.number("client id")?;
                let proof = fields.hex("proof")?;
                fields.finish()?;
                Ok(Self::AuthProof { client_id, proof })
            }
            b"GRANT" => parse_grant(rest),
            b"DIRECT_SHARE" => parse_direct_share(rest),
            b"DIRECT" => Ok(Self::Direct {
                file_id: Fields::single_number("DIRECT", rest, "file id")?,
            }),
            b"RELAY" => Ok(Self::Relay {
                file_id: Fields::single_number("RELAY", rest, "file id")?,
            }),
            b"RELAY_SEND" => Ok(Self::RelaySend {
                token: RelayToken(Fields::single_hex("RELAY_SEND", rest, "token")?),
            }),
            b"PAKE" => {
                let mut fields = Fields::new("PAKE", rest);
                let message = fields.hex("message")?;
                let claim = match fields.rest {
                    None => None,
                    Some(_) => Some(KeyClaim {
                        key: PublicKey(fields.hex("public key")?),
                        signature: fields.hex("signature")?,
                    }),
                };
                fields.finish()?;
                Ok(Self::Pake { message, claim })
            }
            b"PAKE_PROOF" => Ok(Self::PakeProof {
                proof: Fields::single_hex("PAKE_PROOF", rest, "proof")?,
            }),
            b"FEATURES" => {
                let mut fields = Fields::new("FEATURES", rest);
                let words = fields.next("features")?;
                fields.finish()?;
                Ok(Self::Features(parse_features(words)))
            }
            b"UPLOAD_OPTIONS" => parse_upload_options(rest).map(Self::UploadOptions),
            b"ACCESS" => parse_set_access(rest),
            b"PASS" => {
                let mut fields = Fields::new("PASS", rest);
                // Any text is taken: one that breaks the rules of Passcode::new is simply not
                // the host's passcode.
                let passcode = Passcode(fields.text("passcode")?);
                fields.finish()?;
                Ok(Self::Pass { passcode })
            }
            other => Err(ProtocolError::UnknownCommand(shorten_for_message(other))),
        }
    }

    /// The line as sent on the wire, `\n` included.
    pub fn encode(&self) -> String {
        match self {
            Self::Upload(upload) => format!("UPLOAD:{}\n", upload.encode_fields()),
            Self::UploadResume { key, request } => {
                format!("UPLOAD_RESUME:{key}:{}\n", request.encode_fields())
            }
            Self::Download { file_id, offset: 0 } => format!("DOWNLOAD:{file_id}\n"),
            Self::Download { file_id, offset } => format!("DOWNLOAD:{file_id}:{offset}\n"),
            Self::DownloadVersion {
                file_id,
                offset,
                version,
            } => format!("DOWNLOAD:{file_id}:{offset}:{version}\n"),
            Self::Versions { file_id } => format!("VERSIONS:{file_id}\n"),
            Self::Preview { file_id } => format!("PREVIEW:{file_id}\n"),
            Self::NewFile => "NEW_FILE\n".to_owned(),
            Self::Compress => "COMPRESS:zstd\n".to_owned(),
            Self::Comment { file_id, text } => format!("COMMENT:{file_id}:{}\n", escape(text)),
            Self::DeleteComment {
                file_id,
                comment_id,
            } => format!("DELETE_COMMENT:{file_id}:{comment_id}\n"),
            Self::Ready => "READY\n".to_owned(),
            Self::Auth { client_id, ticket } => format!("AUTH:{client_id}:{ticket}\n"),
            Self::List => "LIST\n".to_owned(),
            Self::Join {
                version,
                username,
                public_key,
            } => format!("JOIN:{version}:{}:{public_key}\n", escape(username)),
            Self::Proof { signature } => format!("PROOF:{}\n", encode_hex(signature)),
            Self::Delete { file_id } => format!("DELETE:{file_id}\n"),
            Self::Ping => "PING\n".to_owned(),
            Self::Pass { passcode } => format!("PASS:{}\n", escape(passcode.as_str())),
            Self::AuthProof { client_id, proof } => {
                format!("AUTH_PROOF:{client_id}:{}\n", encode_hex(proof))
            }
            Self::DirectShare(share) => format!(
                "DIRECT_SHARE:{}:{}:{}:{}:{}:{}{}\n",
                escape(&share.name),
                share.size,
                share.sha256,
                share.check,
                share.port,
                share.sharer,
                share
                    .only
                    .as_ref()
                    .map_or(String::new(), |only| format!(":{}", encode_audience(only)))
            ),
            Self::Direct { file_id } => format!("DIRECT:{file_id}\n"),
            Self::Relay { file_id } => format!("RELAY:{file_id}\n"),
            Self::RelaySend { token } => format!("RELAY_SEND:{token}\n"),
            Self::Grant { grant, proof } => format!(
                "GRANT:{}:{}:{}:{}:{}\n",
                grant.file_id,
                grant.downloader,
                grant.expires_at_ms,
                encode_hex(&grant.signature),
                encode_hex(proof)
            ),
            Self::Pake {
                message,
                claim: None,
            } => format!("PAKE:{}\n", encode_hex(message)),
            Self::Pake {
                message,
                claim: Some(claim),
            } => format!(
                "PAKE:{}:{}:{}\n",
                encode_hex(message),
                claim.key,
                encode_hex(&claim.signature)
            ),
            Self::PakeProof { proof } => format!("PAKE_PROOF:{}\n", encode_hex(proof)),
            Self::Features(features) => format!("FEATURES:{}\n", encode_features(*features)),
            Self::UploadOptions(options) => encode_upload_options(options),
            Self::SetAccess {
                file_id,
                only: None,
            } => format!("ACCESS:{file_id}:everyone\n"),
            Self::SetAccess {
                file_id,
                only: Some(only),
            } => format!("ACCESS:{file_id}:only:{}\n", encode_audience(only)),
        }
    }
}

impl UploadRequest {
    /// `<client_id>:<username>:<filename>:<filesize>`, names escaped: what follows `UPLOAD:`
    /// (or `UPLOAD_RESUME`'s key); [`parse_upload`] reads it back.
    fn encode_fields(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.client_id,
            escape(&self.username),
            escape(&self.filename),
            self.size
        )
    }
}

/// `<client_id>:<username>:<filename>:<filesize>` after `UPLOAD:` (or after `UPLOAD_RESUME`'s
/// key); the file name is everything between the user name and the last `:`.
fn parse_upload(rest: Option<&[u8]>) -> Result<UploadRequest, ProtocolError> {
    let mut fields = Fields::new("UPLOAD", rest);
    let client_id = fields
        .next("client id")
        .map_err(|_| ProtocolError::InvalidUpload)?;
    let username = fields
        .next("username")
        .map_err(|_| ProtocolError::InvalidUpload)?;
    let tail = fields
        .remainder("filename")
        .map_err(|_| ProtocolError::InvalidUpload)?;
    let (filename, size) = split_last_colon(tail).ok_or(ProtocolError::InvalidUpload)?;
    Ok(UploadRequest {
        client_id: parse_u64("client id", client_id)?,
        username: unescape(username)?,
        filename: unescape(filename)?,
        size: parse_u64("file size", size)?,
    })
}

impl HostLine {
    /// Parses one line (its `\n` or `\r\n` ending optional).
    pub fn parse(line: &[u8]) -> Result<Self, ProtocolError> {
        let line = trim_line_end(line);
        if line.is_empty() {
            return Err(ProtocolError::Empty);
        }
        let (command, rest) = split_command(line);
        match command {
            b"READY" if rest.is_none() => Ok(Self::Ready),
            b"ERROR" => Ok(Self::Error(
                String::from_utf8_lossy(rest.unwrap_or_default()).into_owned(),
            )),
            b"FILE" => {
                let tail = Fields::new("FILE", rest).remainder("filename")?;
                let (name, size) = split_last_colon(tail).ok_or(ProtocolError::MissingField {
                    command: "FILE",
                    field: "filesize",
                })?;
                Ok(Self::File {
                    name: unescape(name)?,
                    size: parse_u64("file size", size)?,
                })
            }
            b"RESUME_FROM" => Ok(Self::ResumeFrom {
                offset: Fields::single_number("RESUME_FROM", rest, "offset")?,
            }),
            b"STORED" => {
                let mut fields = Fields::new("STORED", rest);
                let file_id = fields.number("file id")?;
                let sha256 = Sha256Digest(fields.hex("sha256")?);
                let check = TransferCheck(fields.hex("check")?);
                fields.finish()?;
                Ok(Self::Stored {
                    file_id,
                    sha256,
                    check,
                })
            }
            b"PAKE" => Ok(Self::Pake {
                message: Fields::single_hex("PAKE", rest, "message")?,
            }),
            b"PAKE_PROOF" => Ok(Self::PakeProof {
                proof: Fields::single_hex("PAKE_PROOF", rest, "proof")?,
            }),
            b"CHALLENGE" => {
                let mut fields = Fields::new("CHALLENGE", rest);
                let nonce = fields.hex("nonce")?;
                fields.finish()?;
                Ok(Self::Challenge { nonce })
            }
            b"WELCOME" => {
                let mut fields = Fields::new("WELCOME", rest);
                let client_id = fields.number("client id")?;
                let ticket = Ticket(fields.hex("ticket")?);
                let role = match fields.next("role")? {
                    b"participant" => Role::Participant,
                    b"operator" => Role::Operator,
                    other => {
                        return Err(ProtocolError::BadValue {
                            field: "role",
                            value: shorten_for_message(other),
                        });
                    }
                };
                fields.finish()?;
                Ok(Self::Welcome {
                    client_id,
                    ticket,
                    role,
                })
            }
            b"FILE_OFFER" => {
                let mut fields = Fields::new("FILE_OFFER", rest);
                let file_id = fields.number("file id")?;
                let name = fields.text("filename")?;
                let size = fields.number("file size")?;
                let uploader_name = fields.text("uploader name")?;
                let uploader_id = fields.number("uploader id")?;
                fields.finish()?;
                Ok(Self::FileOffer {
                    file_id,
                    name,
                    size,
                    uploader_name,
                    uploader_id,
                })
            }
            b"FILE_META" => {
                let mut fields = Fields::new("FILE_META", rest);
                let file_id = fields.number("file id")?;
                let uploaded_at_ms = parse_i64("upload time", fields.next("upload time")?)?;
                let sha256 = Sha256Digest(fields.hex("sha256")?);
                let check = match fields.rest {
                    Some(_) => Some(TransferCheck(fields.hex("check")?)),
                    None => None,
                };
                fields.finish()?;
                Ok(Self::FileMeta {
                    file_id,
                    uploaded_at_ms,
                    sha256,
                    check,
                })
            }
            b"DIRECT_SHARED" => {
                let mut fields = Fields::new("DIRECT_SHARED", rest);
                let file_id = fields.number("file id")?;
                let sha256 = Sha256Digest(fields.hex("sha256")?);
                let grant_key = PublicKey(fields.hex("grant key")?);
                fields.finish()?;
                Ok(Self::DirectShared {
                    file_id,
                    sha256,
                    grant_key,
                })
            }
            b"DIRECT_ROUTE" => parse_direct_route(rest),
            b"RELAY_WANTED" => {
                let mut fields = Fields::new("RELAY_WANTED", rest);
                let token = RelayToken(fields.hex("token")?);
                let file_id = fields.number("file id")?;
                fields.finish()?;
                Ok(Self::RelayWanted { token, file_id })
            }
            b"DIRECT_FAILED" => {
                let mut fields = Fields::new("DIRECT_FAILED", rest);
                let sha256 = Sha256Digest(fields.hex("sha256")?);
                let reason = String::from_utf8_lossy(fields.remainder("reason")?).into_owned();
                Ok(Self::DirectFailed { sha256, reason })
            }
            b"FILE_STATE" => {
                let mut fields = Fields::new("FILE_STATE", rest);
                let file_id = fields.number("file id")?;
                let available = match fields.next("state")? {
                    b"available" => true,
                    b"unavailable" => false,
                    other => {
                        return Err(ProtocolError::BadValue {
                            field: "state",
                            value: shorten_for_message(other),
                        });
                    }
                };
                fields.finish()?;
                Ok(Self::FileState { file_id, available })
            }
            b"FILE_DELETED" => Ok(Self::FileDeleted {
                file_id: Fields::single_number("FILE_DELETED", rest, "file id")?,
            }),
            b"PEER_JOINED" => {
                let mut fields = Fields::new("PEER_JOINED", rest);
                let client_id = fields.number("client id")?;
                let username = fields.text("username")?;
                fields.finish()?;
                Ok(Self::PeerJoined {
                    client_id,
                    username,
                })
            }
            b"PEER_LEFT" => Ok(Self::PeerLeft {
                client_id: Fields::single_number("PEER_LEFT", rest, "client id")?,
            }),
            b"DELETE_FAILED" => {
                let mut fields = Fields::new("DELETE_FAILED", rest);
                let file_id = fields.number("file id")?;
                let reason = String::from_utf8_lossy(fields.remainder("reason")?).into_owned();
                Ok(Self::DeleteFailed { file_id, reason })
            }
            b"FILE_INFO" => parse_file_info(rest).map(Self::FileInfo),
            b"FILE_ACCESS" => {
                let mut fields = Fields::new("FILE_ACCESS", rest);
                let file_id = fields.number("file id")?;
                let only = parse_audience(fields.next("names")?)?;
                fields.finish()?;
                Ok(Self::FileAccess { file_id, only })
            }
            b"FILE_VERSIONS" => {
                let mut fields = Fields::new("FILE_VERSIONS", rest);
                let file_id = fields.number("file id")?;
                let latest = parse_u32("version", fields.next("version")?)?;
                let kept = parse_u32("count", fields.next("count")?)?;
                fields.finish()?;
                Ok(Self::FileVersions {
                    file_id,
                    latest,
                    kept,
                })
            }
            b"FILE_PREVIEW" => {
                let (file_id, kind, size) = parse_preview_fields("FILE_PREVIEW", rest)?;
                Ok(Self::FilePreview {
                    file_id,
                    kind,
                    size,
                })
            }
            b"PREVIEW_DATA" => {
                let (file_id, kind, size) = parse_preview_fields("PREVIEW_DATA", rest)?;
                Ok(Self::PreviewData {
                    file_id,
                    kind,
                    size,
                })
            }
            b"VERSION" => parse_version(rest).map(Self::Version),
            b"COMMENT_ADDED" => parse_comment(rest).map(Self::CommentAdded),
            b"COMMENT_DELETED" => {
                let mut fields = Fields::new("COMMENT_DELETED", rest);
                let file_id = fields.number("file id")?;
                let comment_id = fields.number("comment id")?;
                fields.finish()?;
                Ok(Self::CommentDeleted {
                    file_id,
                    comment_id,
                })
            }
            b"COMMENT_FAILED" => {
                let mut fields = Fields::new("COMMENT_FAILED", rest);
                let file_id = fields.number("file id")?;
                let reason = String::from_utf8_lossy(fields.remainder("reason")?).into_owned();
                Ok(Self::CommentFailed { file_id, reason })
            }
            b"ACCESS_FAILED" => {
                let mut fields = Fields::new("ACCESS_FAILED", rest);
                let file_id = fields.number("file id")?;
                let reason = String::from_utf8_lossy(fields.remainder("reason")?).into_owned();
                Ok(Self::AccessFailed { file_id, reason })
            }
            b"END" if rest.is_none() => Ok(Self::End),
            b"PONG" if rest.is_none() => Ok(Self::Pong),
            other => Err(ProtocolError::UnknownCommand(shorten_for_message(other))),
        }
    }

    /// The line as sent on the wire, `\n` included.
    pub fn encode(&self) -> String {
        match self {
            Self::Ready => "READY\n".to_owned(),
            Self::Error(message) => format!("ERROR:{}\n", plain_text(message)),
            Self::File { name, size } => format!("FILE:{}:{size}\n", escape(name)),
            Self::ResumeFrom { offset } => format!("RESUME_FROM:{offset}\n"),
            Self::Stored {
                file_id,
                sha256,
                check,
            } => format!("STORED:{file_id}:{sha256}:{check}\n"),
            Self::Challenge { nonce } => format!("CHALLENGE:{}\n", encode_hex(nonce)),
            Self::Welcome {
                client_id,
                ticket,
                role,
            } => format!("WELCOME:{client_id}:{ticket}:{}\n", role.as_str()),
            Self::FileOffer {
                file_id,
                name,
                size,
                uploader_name,
                uploader_id,
            } => format!(
                "FILE_OFFER:{file_id}:{}:{size}:{}:{uploader_id}\n",
                escape(name),
                escape(uploader_name)
            ),
            Self::FileMeta {
                file_id,
                uploaded_at_ms,
                sha256,
                check: Some(check),
            } => format!("FILE_META:{file_id}:{uploaded_at_ms}:{sha256}:{check}\n"),
            Self::FileMeta {
                file_id,
                uploaded_at_ms,
                sha256,
                check: None,
            } => format!("FILE_META:{file_id}:{uploaded_at_ms}:{sha256}\n"),
            Self::FileDeleted { file_id } => format!("FILE_DELETED:{file_id}\n"),
            Self::DirectShared {
                file_id,
                sha256,
                grant_key,
            } => format!("DIRECT_SHARED:{file_id}:{sha256}:{grant_key}\n"),
            Self::DirectFailed { sha256, reason } => {
                format!("DIRECT_FAILED:{sha256}:{}\n", plain_text(reason))
            }
            Self::RelayWanted { token, file_id } => format!("RELAY_WANTED:{token}:{file_id}\n"),
            Self::DirectRoute(route) => format!(
                "DIRECT_ROUTE:{}:{}:{}:{}:{}:{}:{}\n",
                route.grant.file_id,
                route.grant.downloader,
                route.grant.expires_at_ms,
                encode_hex(&route.grant.signature),
                route.sharer,
                route.address.port(),
                route.address.ip()
            ),
            Self::FileState { file_id, available } => format!(
                "FILE_STATE:{file_id}:{}\n",
                if *available {
                    "available"
                } else {
                    "unavailable"
                }
            ),
            Self::PeerJoined {
                client_id,
                username,
            } => format!("PEER_JOINED:{client_id}:{}\n", escape(username)),
            Self::PeerLeft { client_id } => format!("PEER_LEFT:{client_id}\n"),
            Self::DeleteFailed { file_id, reason } => {
                format!("DELETE_FAILED:{file_id}:{}\n", plain_text(reason))
            }
            Self::End => "END\n".to_owned(),
            Self::Pong => "PONG\n".to_owned(),
            Self::Pake { message } => format!("PAKE:{}\n", encode_hex(message)),
            Self::PakeProof { proof } => format!("PAKE_PROOF:{}\n", encode_hex(proof)),
            Self::FileInfo(info) => format!(
                "FILE_INFO:{}:{}:{}:{}\n",
                info.file_id,
                info.category,
                info.expires_in_ms
                    .map(|ms| ms.to_string())
                    .unwrap_or_default(),
                info.tags
            ),
            Self::FileAccess { file_id, only } => {
                format!("FILE_ACCESS:{file_id}:{}\n", encode_audience(only))
            }
            Self::AccessFailed { file_id, reason } => {
                format!("ACCESS_FAILED:{file_id}:{}\n", plain_text(reason))
            }
            Self::FileVersions {
                file_id,
                latest,
                kept,
            } => format!("FILE_VERSIONS:{file_id}:{latest}:{kept}\n"),
            Self::CommentAdded(comment) => format!(
                "COMMENT_ADDED:{}:{}:{}:{}:{}:{}\n",
                comment.file_id,
                comment.comment_id,
                comment.author_id,
                escape(&comment.author_name),
                comment.at_ms,
                escape(&comment.text)
            ),
            Self::CommentDeleted {
                file_id,
                comment_id,
            } => format!("COMMENT_DELETED:{file_id}:{comment_id}\n"),
            Self::CommentFailed { file_id, reason } => {
                format!("COMMENT_FAILED:{file_id}:{}\n", plain_text(reason))
            }
            Self::FilePreview {
                file_id,
                kind,
                size,
            } => format!("FILE_PREVIEW:{file_id}:{kind}:{size}\n"),
            Self::PreviewData {
                file_id,
                kind,
                size,
            } => format!("PREVIEW_DATA:{file_id}:{kind}:{size}\n"),
            Self::Version(version) => format!(
                "VERSION:{}:{}:{}:{}:{}:{}\n",
                version.file_id,
                version.number,
                version.size,
                version.uploaded_at_ms,
                version.sha256,
                version.check
            ),
        }
    }
}

/// How the `version-of` field starts, in `UPLOAD_OPTIONS:<expiry>:<tags>:version-of:<id>`.
const VERSION_OF_FIELD: &[u8] = b"version-of:";

/// `<expiry>:<tags>[:<names>]` or `<expiry>:<tags>:version-of:<file_id>[:<names>]` after
/// `UPLOAD_OPTIONS:`. A third field `version-of` starts the second form only when more fields
/// follow: alone it is a name, as it always was.
fn parse_upload_options(rest: Option<&[u8]>) -> Result<ShareOptions, ProtocolError> {
    let mut fields = Fields::new("UPLOAD_OPTIONS", rest);
    let expiry = parse_expiry(fields.next("expiry")?)?;
    let tags = parse_tags(fields.next("tags")?)?;
    let mut version_of = None;
    if fields
        .rest
        .is_some_and(|after_tags| after_tags.starts_with(VERSION_OF_FIELD))
    {
        fields.next("version-of")?;
        version_of = Some(fields.number("file id")?);
    }
    let only = match fields.rest {
        Some(_) => Some(parse_audience(fields.next("names")?)?),
        None => None,
    };
    fields.finish()?;
    Ok(ShareOptions {
        expiry,
        tags,
        only,
        version_of,
    })
}

/// `UPLOAD_OPTIONS:…` as sent (`version-of` only when asked for, so that older hosts read
/// every other line as before).
fn encode_upload_options(options: &ShareOptions) -> String {
    let mut line = format!(
        "UPLOAD_OPTIONS:{}:{}",
        encode_expiry(options.expiry),
        options.tags
    );
    if let Some(file_id) = options.version_of {
        line.push_str(&format!(":version-of:{file_id}"));
    }
    if let Some(only) = &options.only {
        line.push(':');
        line.push_str(&encode_audience(only));
    }
    line.push('\n');
    line
}

/// `<file_id>:<kind>:<size>` after `FILE_PREVIEW:` or `PREVIEW_DATA:` (`command`).
fn parse_preview_fields(
    command: &'static str,
    rest: Option<&[u8]>,
) -> Result<(FileId, PreviewKind, u64), ProtocolError> {
    let mut fields = Fields::new(command, rest);
    let file_id = fields.number("file id")?;
    let kind = parse_preview_kind(fields.next("kind")?)?;
    let size = check_preview_size(fields.number("size")?)?;
    fields.finish()?;
    Ok((file_id, kind, size))
}

/// `<file_id>:<number>:<size>:<uploaded_at_ms>:<sha256>:<check>` after `VERSION:`.
fn parse_version(rest: Option<&[u8]>) -> Result<VersionInfo, ProtocolError> {
    let mut fields = Fields::new("VERSION", rest);
    let file_id = fields.number("file id")?;
    let number = parse_u32("version", fields.next("version")?)?;
    let size = fields.number("file size")?;
    let uploaded_at_ms = parse_i64("upload time", fields.next("upload time")?)?;
    let sha256 = Sha256Digest(fields.hex("sha256")?);
    let check = TransferCheck(fields.hex("check")?);
    fields.finish()?;
    Ok(VersionInfo {
        file_id,
        number,
        size,
        uploaded_at_ms,
        sha256,
        check,
    })
}

/// `<file_id>:<comment_id>:<author_id>:<author_name>:<at_ms>:<text>` after `COMMENT_ADDED:`.
fn parse_comment(rest: Option<&[u8]>) -> Result<CommentInfo, ProtocolError> {
    let mut fields = Fields::new("COMMENT_ADDED", rest);
    let file_id = fields.number("file id")?;
    let comment_id = fields.number("comment id")?;
    let author_id = fields.number("author id")?;
    let author_name = fields.text("author name")?;
    let at_ms = parse_i64("time", fields.next("time")?)?;
    let text = fields.text("text")?;
    fields.finish()?;
    Ok(CommentInfo {
        file_id,
        comment_id,
        author_id,
        author_name,
        at_ms,
        text,
    })
}

/// `<file_id>:everyone` or `<file_id>:only:<names>` after `ACCESS:`.
fn parse_set_access(rest: Option<&[u8]>) -> Result<ClientLine, ProtocolError> {
    let mut fields = Fields::new("ACCESS", rest);
    let file_id = fields.number("file id")?;
    let only = match fields.next("who")? {
        b"everyone" => None,
        b"only" => Some(parse_audience(fields.next("names")?)?),
        other => {
            return Err(ProtocolError::BadValue {
                field: "who",
                value: shorten_for_message(other),
            });
        }
    };
    fields.finish()?;
    Ok(ClientLine::SetAccess { file_id, only })
}

/// `<file_id>:<category>:<expires_in_ms>:<tags>` after `FILE_INFO:` (an empty expiry: never).
fn parse_file_info(rest: Option<&[u8]>) -> Result<FileInfo, ProtocolError> {
    let mut fields = Fields::new("FILE_INFO", rest);
    let file_id = fields.number("file id")?;
    let category = parse_category(fields.next("category")?)?;
    let expires_in_ms = match fields.next("expiry")? {
        b"" => None,
        digits => Some(parse_u64("expiry", digits)?),
    };
    let tags = parse_tags(fields.next("tags")?)?;
    fields.finish()?;
    Ok(FileInfo {
        file_id,
        category,
        expires_in_ms,
        tags,
    })
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
