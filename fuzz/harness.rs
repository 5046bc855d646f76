//! What each fuzz target checks, shared by the `cargo fuzz` targets (fuzz/fuzz_targets/) and
//! by `tests/fuzz_corpus.rs`, which replays every committed corpus file through the same
//! functions in a plain `cargo test`. Each function panics on a property that does not hold;
//! the fuzzer reports that panic (in any thread) as a crash.
#![allow(dead_code)] // Each fuzz target uses one of these functions.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use lanshare::compression::{BlockReader, block_error};
use lanshare::host::{Host, HostConfig, Timeouts};
use lanshare::identity::Identity;
use lanshare::net::{LineReader, Stream};
use lanshare::participant::{Session, SessionEvent, TransferConnection, trust};
use lanshare::preview::{
    MAX_TEXT_BYTES, MAX_TEXT_LINES, THUMBNAIL_SIDE, make_preview, picture_size,
};
use lanshare::protocol::{
    ClientLine, HostLine, MAX_PREVIEW_BYTES, PAKE_MESSAGE_BYTES, PROTOCOL_VERSION, Passcode,
    PreviewKind, ResumeKey, Ticket, UploadRequest, escape, unescape,
};
use lanshare::storage::StorageConfig;
use lanshare::tls::{self, HostIdentity, ParticipantPake, Proofs, TLS_FIRST_BYTE, Trust};

/// Checks that an encoded line is exactly one line.
fn assert_one_line(encoded: &str) {
    assert!(
        encoded.ends_with('\n') && encoded.matches('\n').count() == 1 && !encoded.contains('\r'),
        "not one line: {encoded:?}"
    );
}

/// `ClientLine::parse` on anything a client may send: no panic, and whatever it accepts
/// encodes to one line that parses back to the same command.
pub fn client_line(bytes: &[u8]) {
    let Ok(line) = ClientLine::parse(bytes) else {
        return;
    };
    let encoded = line.encode();
    assert_one_line(&encoded);
    match ClientLine::parse(encoded.as_bytes()) {
        Ok(again) => assert_eq!(again, line, "{encoded:?}"),
        Err(error) => panic!("{encoded:?} does not parse back: {error}"),
    }
}

/// `HostLine::parse` on anything a host may send: no panic, and whatever it accepts encodes
/// to one line that parses back to the same line (free text in `ERROR`, `DELETE_FAILED`,
/// `ACCESS_FAILED` and `COMMENT_FAILED` comes back with its control characters made spaces, and
/// then stays as it is).
pub fn host_line(bytes: &[u8]) {
    let Ok(line) = HostLine::parse(bytes) else {
        return;
    };
    let encoded = line.encode();
    assert_one_line(&encoded);
    let again = match HostLine::parse(encoded.as_bytes()) {
        Ok(again) => again,
        Err(error) => panic!("{encoded:?} does not parse back: {error}"),
    };
    assert_eq!(again.encode(), encoded);
    let free_text = matches!(
        line,
        HostLine::Error(_)
            | HostLine::DeleteFailed { .. }
            | HostLine::AccessFailed { .. }
            | HostLine::CommentFailed { .. }
    );
    if !free_text {
        assert_eq!(again, line, "{encoded:?}");
    }
}

/// The preview maker on any file's bytes: no panic, no hang, and what it makes stays within
/// its bounds: a PNG whose longest side is at most 256 pixels, or at most 40 lines and 4 KiB of
/// UTF-8 text.
pub fn preview(bytes: &[u8]) {
    let Some(made) = make_preview(std::io::Cursor::new(bytes)) else {
        return;
    };
    assert!(made.bytes.len() as u64 <= MAX_PREVIEW_BYTES);
    match made.kind {
        PreviewKind::Png => {
            let size = picture_size(&made.bytes);
            assert!(
                size.is_some_and(|(w, h)| w > 0 && h > 0 && w.max(h) <= THUMBNAIL_SIDE),
                "thumbnail of {size:?}"
            );
        }
        PreviewKind::Text => {
            let text = std::str::from_utf8(&made.bytes);
            assert!(
                text.is_ok_and(|text| text.len() <= MAX_TEXT_BYTES
                    && text.lines().count() <= MAX_TEXT_LINES
                    && !text.trim().is_empty()),
                "text preview {text:?}"
            );
        }
    }
}

/// Name escaping: any field unescapes without panicking, and any text escapes to a field with
/// no separator or line break that unescapes to the same text.
pub fn escaping(bytes: &[u8]) {
    for text in [
        unescape(bytes).ok(),
        std::str::from_utf8(bytes).ok().map(str::to_owned),
    ]
    .into_iter()
    .flatten()
    {
        let escaped = escape(&text);
        assert!(
            !escaped.contains([':', '\n', '\r']),
            "{escaped:?} carries a separator"
        );
        assert_eq!(unescape(escaped.as_bytes()).as_ref(), Ok(&text));
    }
}

/// The passcode of the fuzz hosts that have one.
const FUZZ_PASSCODE: &str = "fuzz";

/// A host for one input, with small limits and short timeouts; its first byte chooses one
/// with a passcode (`fuzz`) or an open one.
fn fuzz_host(with_passcode: bool) -> Host {
    let config = HostConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        storage: StorageConfig::Memory { limit: 4 << 20 },
        max_file_size: 1 << 20,
        workers: 2,
        passcode: with_passcode
            .then(|| Passcode::new(FUZZ_PASSCODE).ok())
            .flatten(),
        timeouts: Timeouts {
            command: Duration::from_millis(500),
            idle: Duration::from_millis(500),
            stall: Duration::from_millis(500),
            session: Duration::from_millis(500),
            wrong_passcode: Duration::ZERO,
            ..Timeouts::default()
        },
        ..HostConfig::default()
    };
    match Host::start(config) {
        Ok(host) => host,
        Err(error) => panic!("the fuzz host did not start: {error:#}"),
    }
}

/// Sends `bytes` and a half-close, then reads whatever comes back, for at most `limit`.
fn converse(address: SocketAddr, bytes: &[u8], limit: Duration) {
    let Ok(mut stream) = TcpStream::connect(address) else {
        panic!("the host did not accept a connection");
    };
    let _ = stream.set_read_timeout(Some(limit));
    let _ = stream.set_write_timeout(Some(limit));
    // The host may close early (a refused command): then writing fails, which is fine.
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(Shutdown::Write);
    let mut sink = Vec::new();
    let _ = stream.read_to_end(&mut sink);
}

/// A real host fed any bytes on one connection: no handler panics, and afterwards the host
/// still serves a normal client and holds nothing for connections that are gone.
pub fn host_connection(bytes: &[u8]) {
    let with_passcode = bytes.first().is_some_and(|b| b & 1 == 1);
    let host = fuzz_host(with_passcode);
    let address = host.local_addr();
    converse(
        address,
        bytes.get(1..).unwrap_or_default(),
        Duration::from_secs(5),
    );
    assert_still_serves(&host, with_passcode);
    host.shutdown();
}

/// Checks that a well-behaved lanshare client (proving the passcode if the host has one) can
/// still list the host's files, and that the host holds no more memory than its files and one
/// upload in progress.
fn assert_still_serves(host: &Host, with_passcode: bool) {
    let address = host.local_addr();
    // Each fuzz host has a key of its own, and a later host may get an earlier one's port:
    // pin this host's key, or the client would take it for a changed key.
    if let Err(error) = trust::pin(address, host.fingerprint()) {
        panic!("could not pin the fuzz host's key: {error}");
    }
    let listed = TransferConnection::connect(address).and_then(|mut connection| {
        if with_passcode && let Ok(passcode) = Passcode::new(FUZZ_PASSCODE) {
            connection.prove_passcode(&passcode)?;
        }
        connection.list()
    });
    if let Err(error) = listed {
        panic!("the host stopped serving: {error}");
    }
    let files = host.files();
    let stored: u64 = files.iter().map(|file| file.size).sum();
    assert!(
        host.memory_in_use() <= stored + (1 << 20),
        "the host holds {} bytes for {stored} bytes of files",
        host.memory_in_use()
    );
}

/// The identity every fake host of this process shows.
fn fake_host_identity() -> &'static HostIdentity {
    static IDENTITY: OnceLock<HostIdentity> = OnceLock::new();
    IDENTITY.get_or_init(|| match HostIdentity::generate() {
        Ok(identity) => identity,
        Err(error) => panic!("no identity for the fake host: {error}"),
    })
}

/// A fake host that runs the TLS handshake on the first connection, answers it with `reply`
/// through TLS (as every lanshare participant speaks TLS to hosts), then closes it.
fn fake_host(reply: Vec<u8>, compression: bool) -> SocketAddr {
    let Ok(listener) = TcpListener::bind("127.0.0.1:0") else {
        panic!("could not listen on loopback");
    };
    let Ok(address) = listener.local_addr() else {
        panic!("no local address");
    };
    let identity = fake_host_identity();
    let mut config = match identity.server_config() {
        Ok(config) => rustls::ServerConfig::clone(&config),
        Err(error) => panic!("no TLS configuration for the fake host: {error}"),
    };
    // A host that takes FEATURES, so that the client reads every line a lanshare host sends
    // (and, if asked, COMPRESS, so that a download reads blocks).
    config.alpn_protocols = vec![tls::FEATURES_ALPN.to_vec()];
    if compression {
        config
            .alpn_protocols
            .insert(0, tls::COMPRESSION_ALPN.to_vec());
    }
    let config = Arc::new(config);
    // Another fuzz host of this process may have had this port with another key.
    if let Err(error) = trust::pin(address, identity.fingerprint()) {
        panic!("could not pin the fake host's key: {error}");
    }
    std::thread::spawn(move || {
        let Ok((tcp, _)) = listener.accept() else {
            return;
        };
        let Ok(stream) = tls::accept(tcp, config, tls::HANDSHAKE_LIMIT) else {
            return;
        };
        let _ = (&stream).write_all(&reply);
        stream.close_write();
        // Take what the client sends until it closes, so closing resets nothing.
        let _ = stream.tcp().set_read_timeout(Some(Duration::from_secs(5)));
        let mut sink = Vec::new();
        let _ = (&stream).read_to_end(&mut sink);
    });
    address
}

/// The participant side fed any bytes as a host's replies: listing (then fetching a preview on
/// the same connection), joining (and following the session's events) and downloading end in
/// a result or an error, never a panic or a hang. The first byte chooses which.
pub fn participant_replies(bytes: &[u8]) {
    let Some((&mode, reply)) = bytes.split_first() else {
        return;
    };
    // Modes 6, 10, 14, …: a download from a host that sends compressed blocks.
    let address = fake_host(reply.to_vec(), mode % 4 == 2 && mode & 4 != 0);
    match mode % 4 {
        0 => {
            if let Ok(mut connection) = TransferConnection::connect(address) {
                let _ = connection.list();
                let _ = connection.preview(1);
            }
        }
        1 => {
            let Ok(identity) = Identity::generate() else {
                return;
            };
            if let Ok((session, _)) = Session::join(address, "fuzz", &identity) {
                // The fake host has closed: the events must end with `Closed`.
                loop {
                    match session.events().recv_timeout(Duration::from_secs(5)) {
                        Ok(SessionEvent::Closed(_)) => break,
                        Ok(_) => {}
                        Err(error) => panic!("the session never closed: {error}"),
                    }
                }
            }
        }
        2 => {
            if let Ok(mut connection) = TransferConnection::connect(address) {
                let mut sink = Vec::new();
                let _ = connection.download(1, &mut sink, &mut |_| {}, &AtomicBool::new(false));
            }
        }
        _ => resumable_upload(address),
    }
}

/// A resumable upload of a small file to `address`, whatever it answers (`RESUME_FROM` with any
/// offset, an error, garbage, nothing).
fn resumable_upload(address: SocketAddr) {
    let path = std::env::temp_dir().join(format!(
        "lanshare-fuzz-upload-{}-{:?}.bin",
        std::process::id(),
        std::thread::current().id()
    ));
    if std::fs::write(&path, b"0123456789").is_err() {
        return;
    }
    if let Ok(mut connection) = TransferConnection::connect(address) {
        let request = UploadRequest {
            client_id: 1,
            username: "fuzz".into(),
            filename: "upload.bin".into(),
            size: 10,
        };
        let _ = connection.resume_upload_file(
            ResumeKey([1; 32]),
            request,
            &path,
            &mut |_| {},
            &AtomicBool::new(false),
        );
    }
    let _ = std::fs::remove_file(&path);
}

/// How long the fuzz client waits for one reply: longer than the fuzz host's own timeouts, so
/// the host has answered or closed by then.
const REPLY_WAIT: Duration = Duration::from_secs(2);

/// How long the fuzz client reads what the host still sends after saying goodbye.
const GOODBYE_WAIT: Duration = Duration::from_secs(5);

/// The most steps one input runs on its encrypted connection.
const MAX_STEPS: usize = 32;

/// A real host's first-byte detection, TLS handshake and passcode exchange fed any input: no
/// handler panics, no reply to the fuzz client's real passcode proof that fails to check out,
/// and afterwards the host still serves a normal client and holds nothing for connections
/// that are gone.
///
/// The first byte chooses the host (bit 0: with a passcode) and what reaches it (bits 1-2):
/// 0, the rest raw from the connection's first byte (plain text, or a TLS handshake of garbage
/// when it starts with 0x16); 1, the rest as the body of a TLS ClientHello; 2 and 3, the rest
/// as a script of [`Step`]s on a real TLS connection.
pub fn host_secure(bytes: &[u8]) {
    let Some((&first, rest)) = bytes.split_first() else {
        return;
    };
    let with_passcode = first & 1 == 1;
    let host = fuzz_host(with_passcode);
    let address = host.local_addr();
    match (first >> 1) & 3 {
        0 => converse(address, rest, GOODBYE_WAIT),
        1 => converse(address, &client_hello_record(rest), GOODBYE_WAIT),
        _ => run_script(address, rest),
    }
    assert_still_serves(&host, with_passcode);
    host.shutdown();
}

/// `body` in a TLS handshake record as a ClientHello's content, so that garbage gets past the
/// record layer into the ClientHello's parser.
fn client_hello_record(body: &[u8]) -> Vec<u8> {
    const CLIENT_HELLO: u8 = 1;
    let body = &body[..body.len().min(16_000)];
    let record_len = u16::try_from(body.len() + 4).unwrap_or(u16::MAX);
    let hello_len = u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes();
    let mut record = vec![TLS_FIRST_BYTE, 3, 1];
    record.extend_from_slice(&record_len.to_be_bytes());
    record.push(CLIENT_HELLO);
    record.extend_from_slice(&hello_len[1..]);
    record.extend_from_slice(body);
    record
}

/// Runs the script on a new TLS connection to `address`, then says goodbye.
fn run_script(address: SocketAddr, script: &[u8]) {
    // A host that does not complete a handshake fails the check that follows.
    let Some(mut client) = SecureClient::connect(address) else {
        return;
    };
    let mut input = Input(script);
    for _ in 0..MAX_STEPS {
        if input.0.is_empty() || !client.run(Step::take(&mut input)) {
            break;
        }
    }
    client.finish();
}

/// What is left of a fuzz input, taken a piece at a time; past its end, zeros.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let taken = N.min(self.0.len());
        out[..taken].copy_from_slice(&self.0[..taken]);
        self.0 = &self.0[taken..];
        out
    }

    fn byte(&mut self) -> u8 {
        let [byte] = self.array();
        byte
    }

    /// A length byte, then up to that many bytes.
    fn chunk(&mut self) -> &'a [u8] {
        let len = usize::from(self.byte()).min(self.0.len());
        let (chunk, rest) = self.0.split_at(len);
        self.0 = rest;
        chunk
    }
}

/// One step of a script on an encrypted connection, chosen by an input byte.
enum Step<'a> {
    /// `PAKE` with a real SPAKE2 message, for the right passcode or a wrong one; reads the
    /// host's answer.
    RealPake { right: bool },
    /// `PAKE_PROOF` with the proof of the last real exchange; reads the host's answer.
    RealPakeProof,
    /// `PAKE` with any 33 bytes.
    Pake([u8; PAKE_MESSAGE_BYTES]),
    /// `PAKE_PROOF` with any 32 bytes.
    PakeProof([u8; 32]),
    /// `AUTH_PROOF` with any client id and proof.
    AuthProof { client_id: u8, proof: [u8; 32] },
    /// A real `JOIN` of a new identity, and its `PROOF` signing the connection's binding.
    RealJoin,
    /// `JOIN:` and any text.
    Join(&'a [u8]),
    /// `PROOF` with any 64 bytes.
    Proof([u8; 64]),
    /// One of the protocol's other lines.
    Known(u8),
    /// `UPLOAD` of `size` bytes, followed by `content`, which may be more or fewer.
    Upload { size: u8, content: &'a [u8] },
    /// Any bytes through TLS.
    Garbage(&'a [u8]),
    /// Any bytes on the TCP stream under TLS, which breaks its records.
    UnderTls(&'a [u8]),
}

impl<'a> Step<'a> {
    fn take(input: &mut Input<'a>) -> Self {
        match input.byte() % 12 {
            0 => Self::RealPake {
                right: input.byte() & 1 == 0,
            },
            1 => Self::RealPakeProof,
            2 => Self::Pake(input.array()),
            3 => Self::PakeProof(input.array()),
            4 => Self::AuthProof {
                client_id: input.byte(),
                proof: input.array(),
            },
            5 => Self::RealJoin,
            6 => Self::Join(input.chunk()),
            7 => Self::Proof(input.array()),
            8 => Self::Known(input.byte()),
            9 => Self::Upload {
                size: input.byte(),
                content: input.chunk(),
            },
            10 => Self::Garbage(input.chunk()),
            _ => Self::UnderTls(input.chunk()),
        }
    }
}

/// A line of the protocol that the other steps do not send.
fn known_line(choice: u8) -> Option<ClientLine> {
    Some(match choice % 7 {
        0 => ClientLine::List,
        1 => ClientLine::Ping,
        2 => ClientLine::Ready,
        3 => ClientLine::Delete { file_id: 1 },
        4 => ClientLine::Download {
            file_id: 1,
            offset: 0,
        },
        5 => ClientLine::Auth {
            client_id: 1,
            ticket: Ticket([0; 16]),
        },
        _ => ClientLine::Pass {
            passcode: Passcode::new(FUZZ_PASSCODE).ok()?,
        },
    })
}

/// The fuzz input's end of an encrypted connection to the host.
struct SecureClient {
    /// The TCP stream under TLS, for bytes that bypass it.
    tcp: TcpStream,
    reader: LineReader,
    binding: [u8; 32],
    /// The proofs of the last real passcode exchange, until the next step.
    proofs: Option<Proofs>,
    /// True while every line the host sent has been read as the answer to its own request;
    /// false once a step may have left one unread (an answer read later could be another's).
    in_step: bool,
}

impl SecureClient {
    /// Connects and runs the TLS handshake, trusting whatever key the host shows.
    fn connect(address: SocketAddr) -> Option<Self> {
        let tcp = TcpStream::connect(address).ok()?;
        tcp.set_nodelay(true).ok()?;
        tcp.set_write_timeout(Some(REPLY_WAIT)).ok()?;
        let under = tcp.try_clone().ok()?;
        let (tls, _) = tls::connect(tcp, Trust::FirstContact).ok()?;
        let stream = Stream::Tls(Arc::new(tls));
        Some(Self {
            tcp: under,
            binding: stream.channel_binding()?,
            reader: LineReader::new(stream),
            proofs: None,
            in_step: true,
        })
    }

    /// Runs one step; false once the host has closed the connection.
    fn run(&mut self, step: Step) -> bool {
        let proofs = self.proofs.take();
        if !matches!(step, Step::RealPake { .. } | Step::RealPakeProof) {
            self.in_step = false;
        }
        match step {
            Step::RealPake { right } => self.real_pake(right),
            Step::RealPakeProof => self.real_pake_proof(proofs),
            Step::Pake(message) => self.send_line(&ClientLine::Pake {
                message,
                claim: None,
            }),
            Step::PakeProof(proof) => self.send_line(&ClientLine::PakeProof { proof }),
            Step::AuthProof { client_id, proof } => self.send_line(&ClientLine::AuthProof {
                client_id: client_id.into(),
                proof,
            }),
            Step::RealJoin => self.real_join(),
            Step::Join(text) => {
                let mut line = b"JOIN:".to_vec();
                line.extend(text.iter().filter(|&&byte| byte != b'\n'));
                line.push(b'\n');
                self.send(&line)
            }
            Step::Proof(signature) => self.send_line(&ClientLine::Proof { signature }),
            Step::Known(choice) => known_line(choice).is_none_or(|line| self.send_line(&line)),
            Step::Upload { size, content } => self.upload(size, content),
            Step::Garbage(bytes) => self.send(bytes),
            Step::UnderTls(bytes) => (&self.tcp).write_all(bytes).is_ok(),
        }
    }

    /// Sends bytes through TLS; false if the host has closed.
    fn send(&self, bytes: &[u8]) -> bool {
        let mut stream = self.reader.stream();
        stream.write_all(bytes).is_ok()
    }

    fn send_line(&self, line: &ClientLine) -> bool {
        self.send(line.encode().as_bytes())
    }

    /// The host's next line, if one comes in time and parses; `None` (and out of step)
    /// otherwise.
    fn reply(&mut self) -> Option<HostLine> {
        let line = match self.reader.read_line(REPLY_WAIT) {
            Ok(Some(line)) => HostLine::parse(&line).ok(),
            _ => None,
        };
        self.in_step &= line.is_some();
        line
    }

    /// Opens a passcode exchange with a real SPAKE2 message, and keeps its proofs if the
    /// host's answer is the next line it sent.
    fn real_pake(&mut self, right: bool) -> bool {
        let guess = if right {
            FUZZ_PASSCODE
        } else {
            "not the passcode"
        };
        let Ok(passcode) = Passcode::new(guess) else {
            return false;
        };
        let Ok((pake, message)) = ParticipantPake::start(&passcode, &self.binding) else {
            return false;
        };
        if !self.send_line(&ClientLine::Pake {
            message,
            claim: None,
        }) {
            return false;
        }
        if let Some(HostLine::Pake { message }) = self.reply()
            && self.in_step
        {
            self.proofs = pake.finish(&message).ok();
        }
        true
    }

    /// Sends the proof of the exchange just opened (any bytes without one); a host that
    /// confirms a real proof must prove the same key.
    fn real_pake_proof(&mut self, proofs: Option<Proofs>) -> bool {
        let Some(proofs) = proofs else {
            self.in_step = false;
            return self.send_line(&ClientLine::PakeProof { proof: [0; 32] });
        };
        let proof = proofs.participant();
        if !self.send_line(&ClientLine::PakeProof { proof }) {
            return false;
        }
        if let Some(HostLine::PakeProof { proof }) = self.reply() {
            assert!(
                proofs.check_host(&proof).is_ok(),
                "the host confirmed a passcode exchange with a proof that does not check out"
            );
        }
        true
    }

    /// Joins with a new identity, answering the host's challenge on this connection.
    fn real_join(&mut self) -> bool {
        let Ok(identity) = Identity::generate() else {
            return false;
        };
        let join = ClientLine::Join {
            version: PROTOCOL_VERSION,
            username: "fuzz".into(),
            public_key: identity.public_key(),
        };
        if !self.send_line(&join) {
            return false;
        }
        // Answers to earlier steps may come first.
        while let Some(line) = self.reply() {
            if let HostLine::Challenge { nonce } = line {
                let signature = identity.answer_challenge(&nonce, Some(&self.binding));
                return self.send_line(&ClientLine::Proof { signature });
            }
        }
        true
    }

    fn upload(&self, size: u8, content: &[u8]) -> bool {
        let request = UploadRequest {
            client_id: 1,
            username: "fuzz".into(),
            filename: "fuzz.bin".into(),
            size: size.into(),
        };
        self.send_line(&ClientLine::Upload(request)) && self.send(content)
    }

    /// Says goodbye, then takes what the host still sends until it closes, for a bounded
    /// while.
    fn finish(mut self) {
        self.reader.stream().close_write();
        let deadline = Instant::now() + GOODBYE_WAIT;
        let mut sink = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.reader.set_read_timeout(left).is_err() {
                return;
            }
            if matches!(self.reader.read(&mut sink), Ok(0) | Err(_)) {
                return;
            }
        }
    }
}

/// The compressed-transfer decoder on any bytes: its first two bytes say how many file bytes
/// are announced (up to 64 KiB), the rest is the wire. No panic; it gives at most what was
/// announced, and a failure is a block error or an early end, never anything else.
pub fn blocks(bytes: &[u8]) {
    let (announced, wire) = match bytes {
        [high, low, wire @ ..] => (u64::from(u16::from_be_bytes([*high, *low])), wire),
        _ => return,
    };
    let mut reader = BlockReader::new(wire, announced, None);
    let mut out = Vec::new();
    match reader.read_to_end(&mut out) {
        Ok(_) => assert_eq!(out.len() as u64, announced),
        Err(error) => {
            assert!(out.len() as u64 <= announced);
            assert!(
                block_error(&error).is_some() || error.kind() == std::io::ErrorKind::UnexpectedEof,
                "{error}"
            );
        }
    }
}
