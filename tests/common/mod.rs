//! Helpers shared by the integration tests: a real host on 127.0.0.1 port 0, raw protocol
//! clients, the real binary, and test data.
#![allow(dead_code)] // Each test file uses a different part of these helpers.

pub mod attackers;
pub mod direct;
pub mod proxy;

use std::io::{BufRead, BufReader};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use lanshare::host::{Host, HostConfig, Timeouts};
use lanshare::identity::Identity;
use lanshare::net::Stream;
use lanshare::participant::{
    Error as ParticipantError, FileEntry, Session, Snapshot, Stored, TransferConnection,
};
use lanshare::protocol::{Audience, ShareOptions, UploadRequest};
use lanshare::storage::StorageConfig;
use lanshare::tls::{HostIdentity, TlsStream, Trust};
use sha2::{Digest, Sha256};

pub type TestResult = anyhow::Result<()>;

/// A host config listening on a free loopback port, memory store. Every test host shows the
/// same TLS identity: a participant pins each address at first contact, and a later test's
/// host may get a port an earlier one had.
pub fn config() -> HostConfig {
    HostConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        identity: test_host_identity().ok(),
        ..HostConfig::default()
    }
}

/// A host config with short timeouts, for tests of slow clients.
pub fn impatient_config() -> HostConfig {
    HostConfig {
        timeouts: Timeouts {
            command: Duration::from_millis(500),
            idle: Duration::from_millis(500),
            stall: Duration::from_millis(700),
            session: Duration::from_secs(5),
            wrong_passcode: Duration::from_millis(300),
            ..Timeouts::default()
        },
        ..config()
    }
}

/// A host with a disk store in `dir`.
pub fn disk_config(dir: &Path) -> HostConfig {
    HostConfig {
        storage: StorageConfig::Disk {
            dir: dir.to_path_buf(),
            limit: None,
        },
        ..config()
    }
}

/// Starts a host.
pub fn start(config: HostConfig) -> anyhow::Result<Host> {
    Ok(Host::start(config)?)
}

/// Deterministic pseudo-random bytes (xorshift), different for each seed.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// SHA-256 as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A raw client speaking the protocol by hand: in plain text as the seed's client does, or
/// over TLS as lanshare's own clients do.
pub struct Raw {
    /// The TCP socket (for options; in plain text also for reading and writing directly).
    pub stream: TcpStream,
    connection: Stream,
}

impl Raw {
    pub fn connect(host: SocketAddr) -> anyhow::Result<Self> {
        Self::plain(TcpStream::connect(host)?)
    }

    /// Connects from another loopback address (e.g. 127.0.0.2), as a second machine would.
    pub fn connect_from(source: [u8; 4], host: SocketAddr) -> anyhow::Result<Self> {
        Self::plain(tcp_from(source, host)?)
    }

    /// Connects with TLS (trusting whatever key the host shows), as lanshare's clients do.
    pub fn connect_tls(host: SocketAddr) -> anyhow::Result<Self> {
        Self::secure(TcpStream::connect(host)?)
    }

    /// Connects with TLS from another loopback address.
    pub fn connect_tls_from(source: [u8; 4], host: SocketAddr) -> anyhow::Result<Self> {
        Self::secure(tcp_from(source, host)?)
    }

    fn plain(stream: TcpStream) -> anyhow::Result<Self> {
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let connection = Stream::Plain(stream.try_clone()?);
        Ok(Self { stream, connection })
    }

    fn secure(stream: TcpStream) -> anyhow::Result<Self> {
        let (tls, _) = lanshare::tls::connect(stream.try_clone()?, Trust::FirstContact)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let connection = Stream::Tls(std::sync::Arc::new(tls));
        Ok(Self { stream, connection })
    }

    /// The connection's channel binding (TLS only).
    pub fn channel_binding(&self) -> anyhow::Result<[u8; 32]> {
        self.connection
            .channel_binding()
            .ok_or_else(|| anyhow::anyhow!("not an encrypted connection"))
    }

    pub fn send(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        (&self.connection).write_all(bytes)?;
        Ok(())
    }

    /// One `recv`, as the seed's client does (`recv(1024)`).
    pub fn recv(&mut self, max: usize) -> anyhow::Result<Vec<u8>> {
        let mut buffer = vec![0u8; max];
        let read = (&self.connection).read(&mut buffer)?;
        buffer.truncate(read);
        Ok(buffer)
    }

    /// Reads one line byte by byte (so nothing after it is consumed), without its `\n`.
    pub fn line(&mut self) -> anyhow::Result<String> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            if (&self.connection).read(&mut byte)? == 0 {
                anyhow::bail!(
                    "connection closed after {:?}",
                    String::from_utf8_lossy(&line)
                );
            }
            if byte[0] == b'\n' {
                return Ok(String::from_utf8(line)?);
            }
            line.push(byte[0]);
        }
    }

    /// Reads exactly `len` bytes.
    pub fn bytes(&mut self, len: usize) -> anyhow::Result<Vec<u8>> {
        let mut buffer = vec![0u8; len];
        (&self.connection).read_exact(&mut buffer)?;
        Ok(buffer)
    }

    /// Reads until the host closes the connection.
    pub fn rest(&mut self) -> anyhow::Result<Vec<u8>> {
        let mut rest = Vec::new();
        (&self.connection).read_to_end(&mut rest)?;
        Ok(rest)
    }
}

/// A TCP connection to `host` from the loopback address `source`.
fn tcp_from(source: [u8; 4], host: SocketAddr) -> anyhow::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::from((source, 0)).into())?;
    socket.connect(&host.into())?;
    Ok(socket.into())
}

/// The TLS identity every fake host in the tests shows.
pub fn test_host_identity() -> anyhow::Result<HostIdentity> {
    static IDENTITY: std::sync::OnceLock<Result<HostIdentity, String>> = std::sync::OnceLock::new();
    IDENTITY
        .get_or_init(|| HostIdentity::generate().map_err(|error| error.to_string()))
        .clone()
        .map_err(anyhow::Error::msg)
}

/// Runs a host's side of the TLS handshake on an accepted connection, as a real host does: for
/// fake hosts that speak the protocol by hand.
pub fn accept_tls(stream: TcpStream) -> anyhow::Result<TlsStream> {
    let config = test_host_identity()?.server_config()?;
    Ok(lanshare::tls::accept(
        stream,
        config,
        lanshare::tls::HANDSHAKE_LIMIT,
    )?)
}

/// Proves `passcode` by hand on a raw TLS connection (`PAKE`, then `PAKE_PROOF`): `None` if
/// the host accepted it (and proved it knows it too), else the line that ended the exchange.
pub fn raw_pake(raw: &mut Raw, passcode: &str) -> anyhow::Result<Option<String>> {
    use lanshare::protocol::{ClientLine, HostLine};
    let passcode = lanshare::protocol::Passcode::new(passcode).map_err(anyhow::Error::msg)?;
    let binding = raw.channel_binding()?;
    let (pake, message) = lanshare::tls::ParticipantPake::start(&passcode, &binding)?;
    raw.send(
        ClientLine::Pake {
            message,
            claim: None,
        }
        .encode()
        .as_bytes(),
    )?;
    let line = raw.line()?;
    let HostLine::Pake { message } = HostLine::parse(line.as_bytes())? else {
        return Ok(Some(line));
    };
    let proofs = pake.finish(&message)?;
    let proof = ClientLine::PakeProof {
        proof: proofs.participant(),
    };
    raw.send(proof.encode().as_bytes())?;
    let line = raw.line()?;
    let HostLine::PakeProof { proof } = HostLine::parse(line.as_bytes())? else {
        return Ok(Some(line));
    };
    proofs.check_host(&proof)?;
    Ok(None)
}

/// Uploads like the seed's client: command, one recv for `READY`, bytes, close.
pub fn seed_upload(host: SocketAddr, line: &str, bytes: &[u8]) -> anyhow::Result<String> {
    let mut raw = Raw::connect(host)?;
    raw.send(line.as_bytes())?;
    let reply = String::from_utf8(raw.recv(1024)?)?;
    if reply == "READY\n" {
        raw.send(bytes)?;
    }
    Ok(reply)
}

/// Whether `host` has made (or found it cannot make) the preview of every file it holds.
pub fn previews_made(host: &Host) -> bool {
    host.files().iter().all(|file| !file.lacks_preview())
}

/// Waits until `condition` holds, for at most `limit`.
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    condition()
}

/// A participant with its own identity.
pub struct Person {
    pub name: String,
    pub identity: Identity,
}

impl Person {
    pub fn new(name: &str) -> anyhow::Result<Self> {
        Ok(Self {
            name: name.to_owned(),
            identity: Identity::generate()?,
        })
    }

    pub fn join(&self, host: SocketAddr) -> anyhow::Result<(Session, Snapshot)> {
        Ok(Session::join(host, &self.name, &self.identity)?)
    }
}

/// The `lanshare` binary with its own config folder and host address.
pub struct Cli {
    pub config_dir: PathBuf,
    pub host: SocketAddr,
}

impl Cli {
    /// The binary as the participant whose config folder is `dir/<folder>`, for `host`.
    pub fn in_folder(dir: &Path, folder: &str, host: SocketAddr) -> Self {
        Self {
            config_dir: dir.join(folder),
            host,
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lanshare"));
        command
            .args(args)
            .env("LANSHARE_CONFIG_DIR", &self.config_dir)
            .env("LANSHARE_HOST", self.host.to_string())
            // Tests send nothing beyond loopback: no broadcasting to look for hosts.
            .env("LANSHARE_NO_DISCOVERY", "1")
            .env_remove("LANSHARE_USER")
            .env_remove("LANSHARE_PASSCODE");
        command
    }

    pub fn run(&self, args: &[&str]) -> anyhow::Result<Output> {
        Ok(self.command(args).output()?)
    }

    pub fn run_in(&self, dir: &Path, args: &[&str]) -> anyhow::Result<Output> {
        Ok(self.command(args).current_dir(dir).output()?)
    }
}

/// Shares `len` bytes with `lanshare send` as a new user, expecting it to fail; returns what
/// it printed on stderr.
pub fn cli_send_refused(host: SocketAddr, len: usize) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("refused.bin");
    std::fs::write(&file, data(len, 77))?;
    let cli = Cli {
        config_dir: dir.path().join("config"),
        host,
    };
    let output = cli.run(&["send", "--user", "Cleo", &file.to_string_lossy()])?;
    anyhow::ensure!(!output.status.success(), "the upload was accepted");
    Ok(stderr(&output))
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What a command said on stderr besides telling of a first contact with a host (`New host
/// …: verification code …`, which each new config folder sees once per host).
pub fn stderr_past_first_contact(output: &Output) -> String {
    stderr(output)
        .lines()
        .filter(|line| !(line.starts_with("New host ") && line.contains(": verification code ")))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// A line of `/proc/<pid>/status`, as a number (kB for memory).
pub fn status_field(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// How many times this network namespace's kernel dropped a connection because a listen queue
/// was full (`TcpExtListenOverflows`), where `/proc/net/netstat` says.
pub fn listen_overflows() -> Option<u64> {
    let netstat = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut tcp_ext = netstat.lines().filter(|line| line.starts_with("TcpExt:"));
    let (names, values) = (tcp_ext.next()?, tcp_ext.next()?);
    let at = names
        .split_whitespace()
        .position(|name| name == "ListenOverflows")?;
    values.split_whitespace().nth(at)?.parse().ok()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Joins by hand on `raw` and returns the `WELCOME` line's client id and ticket after reading
/// the snapshot up to `END`.
pub fn raw_join_on(
    raw: &mut Raw,
    name: &str,
    identity: &Identity,
) -> anyhow::Result<(u64, String)> {
    use lanshare::protocol::{ClientLine, HostLine, PROTOCOL_VERSION};
    let join = ClientLine::Join {
        version: PROTOCOL_VERSION,
        username: name.into(),
        public_key: identity.public_key(),
    };
    raw.send(join.encode().as_bytes())?;
    let line = raw.line()?;
    let HostLine::Challenge { nonce } = HostLine::parse(line.as_bytes())? else {
        anyhow::bail!("expected a challenge, got {line}");
    };
    let proof = ClientLine::Proof {
        signature: identity.answer_challenge(&nonce, None),
    };
    raw.send(proof.encode().as_bytes())?;
    let welcome = raw.line()?;
    let HostLine::Welcome {
        client_id, ticket, ..
    } = HostLine::parse(welcome.as_bytes())?
    else {
        anyhow::bail!("expected WELCOME, got {welcome}");
    };
    while raw.line()? != "END" {}
    Ok((client_id, ticket.to_string()))
}

/// Joins by hand from 127.0.0.1 and returns the raw connection after the snapshot.
pub fn raw_join(host: SocketAddr, name: &str, identity: &Identity) -> anyhow::Result<Raw> {
    let mut raw = Raw::connect(host)?;
    raw_join_on(&mut raw, name, identity)?;
    Ok(raw)
}

pub fn wait_for_exit(
    child: &mut Child,
    limit: Duration,
) -> anyhow::Result<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() > deadline {
            child.kill()?;
            anyhow::bail!("process did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `lanshare host` as a process, as someone would start it in a terminal.
pub struct HostProcess {
    pub child: Child,
    pub address: SocketAddr,
    pub log: flume::Receiver<String>,
}

impl HostProcess {
    pub fn start(config_dir: &Path, args: &[&str]) -> anyhow::Result<Self> {
        Self::spawn(Self::command(config_dir, args))
    }

    /// `lanshare host` on a free loopback port, with its own config folder.
    pub fn command(config_dir: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lanshare"));
        command
            .args([
                "host",
                "--bind",
                "127.0.0.1",
                "--port",
                "0",
                "--no-announce",
            ])
            .args(args)
            .env("LANSHARE_CONFIG_DIR", config_dir)
            .env_remove("LANSHARE_PASSCODE");
        command
    }

    /// Starts a host from a command like [`HostProcess::command`]'s (possibly wrapped in
    /// another program) and reads the address it listens on from its first log line.
    pub fn spawn(mut command: Command) -> anyhow::Result<Self> {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let log = stdout_lines(&mut child)?;
        // Lines about cleaning up the store may come first.
        let deadline = Instant::now() + Duration::from_secs(10);
        let address = loop {
            let Ok(line) = log.recv_deadline(deadline) else {
                let _ = child.kill();
                let output = child.wait_with_output()?;
                anyhow::bail!("the host did not start: {}", stderr(&output));
            };
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest
                    .split(' ')
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("no address in {line:?}"))?
                    .parse()?;
            }
        };
        Ok(Self {
            child,
            address,
            log,
        })
    }

    pub fn wait_for_log(&self, needle: &str) -> anyhow::Result<String> {
        loop {
            let line = self.log.recv_timeout(Duration::from_secs(10))?;
            if line.contains(needle) {
                return Ok(line);
            }
        }
    }

    pub fn interrupt(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()?;
        wait_for_exit(&mut self.child, Duration::from_secs(10))
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Uploads `bytes` as `name`, proven as the session's participant; returns the file id.
pub fn share(session: &Session, name: &str, bytes: &[u8]) -> anyhow::Result<u64> {
    let mut connection = proven(session)?;
    Ok(upload_as(&mut connection, session, name, bytes)?.file_id)
}

/// A host with `config`, whose operator is a participant identity made for it; both.
pub fn start_with_operator(config: HostConfig) -> anyhow::Result<(Host, Identity)> {
    let operator = Identity::generate()?;
    let host = start(HostConfig {
        operator: Some(operator.public_key()),
        ..config
    })?;
    Ok((host, operator))
}

/// A transfer connection that proved it is `session`'s participant (`AUTH_PROOF`).
pub fn proven(session: &Session) -> Result<TransferConnection, ParticipantError> {
    let mut connection = TransferConnection::connect(session.host())?;
    connection.authenticate(session.credentials())?;
    Ok(connection)
}

/// Uploads `bytes` as `name` under `session`'s participant's id and name, on `connection`
/// (proven as that participant, with whatever it was told before the upload).
pub fn upload_as(
    connection: &mut TransferConnection,
    session: &Session,
    name: &str,
    bytes: &[u8],
) -> Result<Stored, ParticipantError> {
    let credentials = session.credentials();
    connection.upload(
        UploadRequest {
            client_id: credentials.client_id,
            username: credentials.username.clone(),
            filename: name.into(),
            size: bytes.len() as u64,
        },
        &mut &bytes[..],
        &mut |_| {},
        &std::sync::atomic::AtomicBool::new(false),
    )
}

/// Shares `bytes` as `name` from `session`'s participant with `options` (`UPLOAD_OPTIONS`).
pub fn share_with(
    session: &Session,
    name: &str,
    bytes: &[u8],
    options: &ShareOptions,
) -> Result<Stored, ParticipantError> {
    let mut connection = proven(session)?;
    connection.share_next_with(options)?;
    upload_as(&mut connection, session, name, bytes)
}

/// Shares `bytes` as `name` from `session`'s participant, seen only by `names` (and the
/// sharer and the operator; by everyone if the names are no list).
pub fn share_only(
    session: &Session,
    name: &str,
    bytes: &[u8],
    names: &[&str],
) -> Result<Stored, ParticipantError> {
    let options = ShareOptions {
        only: Audience::new(names.iter().map(|name| (*name).to_owned()).collect()).ok(),
        ..ShareOptions::default()
    };
    share_with(session, name, bytes, &options)
}

/// The files `LIST` shows to anyone, with their details.
pub fn listed(host: SocketAddr) -> anyhow::Result<Vec<FileEntry>> {
    Ok(TransferConnection::connect(host)?.list()?)
}

/// Downloads a file's bytes into memory.
pub fn fetch(host: SocketAddr, file_id: u64) -> anyhow::Result<Vec<u8>> {
    let mut connection = TransferConnection::connect(host)?;
    let mut bytes = Vec::new();
    connection.download(
        file_id,
        &mut bytes,
        &mut |_| {},
        &std::sync::atomic::AtomicBool::new(false),
    )?;
    Ok(bytes)
}

/// A child's stdout, line by line, on a channel (read by a thread of its own).
pub fn stdout_lines(child: &mut Child) -> anyhow::Result<flume::Receiver<String>> {
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("stdout is not piped"))?;
    let (sender, lines) = flume::unbounded();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    Ok(lines)
}
