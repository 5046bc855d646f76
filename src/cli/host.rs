//! `lanshare host`: the headless host, logging each event with a timestamp.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use lanshare::config::config_dir;
use lanshare::discovery;
use lanshare::host::{
    Announce, DEFAULT_MEMORY_LIMIT, Host, HostConfig, lan_addresses, raise_descriptor_limit,
};
use lanshare::identity::Identity;
use lanshare::protocol::{DEFAULT_MAX_FILE_SIZE, DEFAULT_PORT, Passcode};
use lanshare::storage::{ObjectStoreConfig, StorageConfig};
use lanshare::tls::HostIdentity;
use lanshare::units::{format_remaining, format_size, parse_lifetime, parse_size};

fn size_arg(text: &str) -> Result<u64, String> {
    parse_size(text)
}

#[derive(Args)]
pub(super) struct HostArgs {
    /// Address to listen on: an IP (all interfaces by default), or IP:PORT.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0")]
    bind: String,
    /// Port to listen on.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Where to keep files: `memory` (lost when the host stops), a folder (kept), or an
    /// S3-compatible object store, `s3://BUCKET/PREFIX`, which several hosts may share (the
    /// store's address and credentials come from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY and AWS_REGION).
    #[arg(
        long,
        value_name = "memory|DIR|s3://BUCKET/PREFIX",
        default_value = "memory"
    )]
    storage: String,
    /// Keep a copy of a folder store in an S3-compatible object store (`s3://BUCKET/PREFIX`,
    /// reached as for --storage), in step with it; a host started on an empty folder with
    /// the same --backup restores the files from it.
    #[arg(long, value_name = "s3://BUCKET/PREFIX")]
    backup: Option<String>,
    /// With an object store: unfinished uploads of hosts silent this long (killed, say), and
    /// stored bytes no file names, are removed.
    #[arg(long, value_name = "TIME", value_parser = parse_lifetime,
          default_value = "10m")]
    sweep_after: Duration,
    /// Largest file accepted (units count in 1024s: 100MB = 100 MiB).
    #[arg(long, value_name = "SIZE", value_parser = size_arg,
          default_value_t = DEFAULT_MAX_FILE_SIZE)]
    max_file_size: u64,
    /// Total size of all files in the memory store.
    #[arg(long, value_name = "SIZE", value_parser = size_arg,
          default_value_t = DEFAULT_MEMORY_LIMIT)]
    memory_limit: u64,
    /// Total size of all files in a folder store (default: as much as the disk has room for).
    #[arg(long, value_name = "SIZE", value_parser = size_arg)]
    disk_limit: Option<u64>,
    /// Transfers served at once; more wait briefly for a free slot, then get a busy error.
    #[arg(long, value_name = "N", default_value_t = 64)]
    workers: usize,
    /// Connections one machine (IP address; for IPv6 the address, not its /64) may hold open
    /// at once; more are refused. Raise it
    /// when many participants share one address (a terminal server, a NAT, a benchmark).
    #[arg(long, value_name = "N", default_value_t = HostConfig::default().max_connections_per_address)]
    max_per_address: usize,
    /// The name participants see when they look for hosts (default: this machine's name).
    #[arg(long)]
    name: Option<String>,
    /// Do not announce this host on the network (participants then need its address).
    #[arg(long)]
    no_announce: bool,
    /// Require this passcode to join, list and transfer (people give it with --passcode or
    /// LANSHARE_PASSCODE). Without it, everyone on the network may share, as in the seed.
    /// It is proven without ever crossing the network, and such a host serves nothing in
    /// plain text.
    #[arg(long, env = "LANSHARE_PASSCODE", hide_env_values = true)]
    passcode: Option<String>,
    /// Turn away plain-text (seed) clients: serve encrypted connections only.
    #[arg(long)]
    require_encryption: bool,
    /// Take and send no compressed transfers: lanshare peers then move every byte as it is.
    #[arg(long)]
    no_compression: bool,
    /// Delete files this long after they are shared, unless their sharer says otherwise
    /// (`send --expire`): 90s, 30m, 24h, 7d. Default: keep them until deleted.
    #[arg(long, value_name = "TIME", value_parser = parse_lifetime)]
    expire_after: Option<Duration>,
    /// The longest any file is kept: a longer `send --expire` (or `never`) is cut to it.
    #[arg(long, value_name = "TIME", value_parser = parse_lifetime)]
    max_expiry: Option<Duration>,
    /// How many versions of each file to keep: sharing a name again makes a new version, and
    /// the oldest past this many are freed (each version counts against the store's limit).
    #[arg(long, value_name = "N", default_value_t = lanshare::host::DEFAULT_KEEP_VERSIONS,
          value_parser = keep_versions_arg)]
    keep_versions: usize,
}

/// `--keep-versions`: a whole number from 1.
fn keep_versions_arg(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(count) if count >= 1 => Ok(count),
        _ => Err(format!("'{text}' is not a number of versions (1 or more)")),
    }
}

impl HostArgs {
    fn bind_address(&self) -> anyhow::Result<SocketAddr> {
        if let Ok(address) = self.bind.parse::<SocketAddr>() {
            return Ok(address);
        }
        let ip: IpAddr = self
            .bind
            .parse()
            .with_context(|| format!("'{}' is not an IP address", self.bind))?;
        Ok(SocketAddr::new(ip, self.port))
    }

    fn storage(&self) -> anyhow::Result<StorageConfig> {
        if self.storage.eq_ignore_ascii_case("memory") {
            Ok(StorageConfig::Memory {
                limit: self.memory_limit,
            })
        } else if ObjectStoreConfig::is_object_url(&self.storage) {
            let config = ObjectStoreConfig::from_env(&self.storage)?;
            Ok(StorageConfig::Object(ObjectStoreConfig {
                stale_after: self.sweep_after,
                ..config
            }))
        } else {
            Ok(StorageConfig::Disk {
                dir: PathBuf::from(&self.storage),
                limit: self.disk_limit,
            })
        }
    }
}

/// Installs the log format of the seed's server: `[YYYY-MM-DD HH:MM:SS] message` on stdout.
fn install_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("LANSHARE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .event_format(super::output::SeedLogFormat)
        .with_writer(std::io::stdout)
        .try_init();
}

pub(super) fn run(args: &HostArgs) -> anyhow::Result<()> {
    install_logging();
    let config = host_config(args)?;
    let host = Host::start(config)?;
    log_start(args, &host);
    let (stop, stopped) = flume::bounded::<()>(1);
    ctrlc::set_handler(move || {
        let _ = stop.try_send(());
    })
    .context("could not install the Ctrl-C handler")?;
    let _ = stopped.recv();
    tracing::info!("Shutting down");
    host.shutdown();
    tracing::info!("Host stopped");
    Ok(())
}

/// The host's configuration from the command line, checked.
fn host_config(args: &HostArgs) -> anyhow::Result<HostConfig> {
    if args.workers == 0 {
        anyhow::bail!("--workers must be at least 1");
    }
    if args.max_per_address == 0 {
        anyhow::bail!("--max-per-address must be at least 1");
    }
    let passcode = args
        .passcode
        .as_deref()
        .map(Passcode::new)
        .transpose()
        .map_err(|reason| anyhow::anyhow!("--passcode: {reason}"))?;
    let operator = match Identity::load_or_create(&config_dir()) {
        Ok(identity) => Some(identity.public_key()),
        Err(error) => {
            tracing::warn!("No operator identity ({error}); nobody can delete others' files");
            None
        }
    };
    match raise_descriptor_limit() {
        Ok(limit) => tracing::debug!("Open-file limit: {limit}"),
        Err(error) => tracing::warn!("Could not raise the open-file limit: {error}"),
    }
    let dir = config_dir();
    let identity = HostIdentity::load_or_create(&dir)
        .with_context(|| format!("could not load the host's identity from {}", dir.display()))?;
    let announce = (!args.no_announce && discovery::enabled()).then(|| Announce {
        name: args.name.clone().unwrap_or_else(discovery::machine_name),
        port: discovery::DISCOVERY_PORT,
    });
    Ok(HostConfig {
        bind: args.bind_address()?,
        storage: args.storage()?,
        backup: args
            .backup
            .as_deref()
            .map(ObjectStoreConfig::from_env)
            .transpose()?,
        max_file_size: args.max_file_size,
        workers: args.workers,
        max_connections_per_address: args.max_per_address,
        passcode,
        operator,
        announce,
        identity: Some(identity),
        require_encryption: args.require_encryption,
        expire_after: args.expire_after,
        max_expiry: args.max_expiry,
        keep_versions: args.keep_versions,
        compression: !args.no_compression,
        ..HostConfig::default()
    })
}

/// Logs where the host listens, what it stores, how to reach it and what it asks for.
fn log_start(args: &HostArgs, host: &Host) {
    let address = host.local_addr();
    let config = host.config();
    let store = match &config.storage {
        StorageConfig::Memory { limit } => format!("memory store, up to {}", format_size(*limit)),
        StorageConfig::Disk { dir, limit } => format!(
            "disk store in {} holding {} file(s){}",
            dir.display(),
            host.files().len(),
            limit.map_or(String::new(), |limit| format!(
                ", up to {}",
                format_size(limit)
            ))
        ),
        StorageConfig::Object(store) => format!(
            "object store {} holding {} file(s)",
            store.describe(),
            host.files().len()
        ),
    };
    tracing::info!(
        "lanshare host {} listening on {address} ({store}; files up to {})",
        env!("CARGO_PKG_VERSION"),
        format_size(args.max_file_size)
    );
    if address.ip().is_unspecified() {
        for lan in lan_addresses(address.port()) {
            tracing::info!("Participants can join at {lan}");
        }
    }
    match &config.announce {
        Some(announce) => tracing::info!(
            "Announcing '{}' on the network (UDP port {})",
            announce.name,
            announce.port
        ),
        None => tracing::info!("Not announcing on the network: participants need the address"),
    }
    tracing::info!(
        "Verification code: {} (participants see it on first contact: if theirs differs, \
         someone is in between)",
        host.fingerprint().verification_code()
    );
    match (config.expire_after, config.max_expiry) {
        (None, None) => {}
        (after, max) => tracing::info!(
            "Files expire {} by default{}",
            after.map_or("never".to_owned(), |after| format!(
                "after {}",
                format_remaining(after)
            )),
            max.map_or(String::new(), |max| format!(
                ", and after {} at most",
                format_remaining(max)
            ))
        ),
    }
    if let Some(backup) = &config.backup {
        tracing::info!("Keeping a copy of the files in {}", backup.describe());
    }
    if config.passcode.is_some() {
        tracing::info!("Joining, listing and transfers require the passcode");
    } else if config.require_encryption {
        tracing::info!("Plain-text (seed) clients are turned away: encrypted connections only");
    }
}
