//! The command line: argument definitions and dispatch. Each command lives in its own module.

mod client;
mod direct;
mod host;
mod kept_shares;
mod output;
mod preview;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// `lanshare --version`: the crate version and the git revision it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("LANSHARE_GIT_REVISION"),
    ")"
);

#[derive(Parser)]
#[command(
    name = "lanshare",
    version = VERSION,
    about = "Share files on a local network: one host, many participants.",
    after_help = "Start a host with `lanshare host`; everyone else uses `lanshare send`, `ls`, \
                  `get`, `rm` and `watch` with --host pointing at it."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a host: receive, store and serve files on the LAN (headless).
    Host(host::HostArgs),
    /// Share files with everyone on the host.
    Send(SendArgs),
    /// Serve again, from this machine, every file shared with `send --direct` before.
    Serve(ServeArgs),
    /// List the shared files.
    Ls(LsArgs),
    /// Download shared files by id.
    Get(GetArgs),
    /// Delete a file you shared.
    Rm(RmArgs),
    /// Change who may see a file you shared: `--only bob,carol`, or `--everyone`.
    Share(ShareArgs),
    /// List the versions of a file the host keeps (sharing a name again makes a new one).
    Versions(VersionsArgs),
    /// Show a file's preview: the first lines of a text, or save a picture's thumbnail with -o.
    Preview(PreviewArgs),
    /// Comment on a file (or delete your comment with --delete N).
    Comment(CommentArgs),
    /// List a file's comments.
    Comments(CommentsArgs),
    /// Follow new and deleted files live.
    Watch(WatchArgs),
    /// List the lanshare hosts on the network.
    Hosts(HostsArgs),
    /// Accept the key a host shows now, after checking its verification code with its
    /// operator (for a host whose key changed, e.g. reinstalled).
    Trust(TrustArgs),
    /// Open the desktop app (what a double-click does), optionally straight into a role.
    #[cfg(feature = "gui")]
    Gui(GuiArgs),
}

#[cfg(feature = "gui")]
#[derive(Args)]
struct GuiArgs {
    /// Start hosting right away.
    #[arg(long, conflicts_with = "join")]
    host_mode: bool,
    /// Join the host at HOST[:PORT] right away.
    #[arg(long, value_name = "HOST[:PORT]")]
    join: Option<String>,
    /// Your display name (default: the name used last, else your OS user name).
    #[arg(long, env = "LANSHARE_USER")]
    user: Option<String>,
    /// The port to host on.
    #[arg(long, default_value_t = lanshare::protocol::DEFAULT_PORT)]
    port: u16,
    /// The passcode: required from participants with --host-mode, given to the host with
    /// --join.
    #[arg(long, env = "LANSHARE_PASSCODE", hide_env_values = true)]
    passcode: Option<String>,
}

#[cfg(feature = "gui")]
fn gui(args: Option<&GuiArgs>) -> anyhow::Result<()> {
    use lanshare::gui::Launch;
    let passcode = match args.and_then(|a| a.passcode.as_deref()) {
        Some(text) => Some(
            lanshare::protocol::Passcode::new(text)
                .map_err(|reason| anyhow::anyhow!("--passcode: {reason}"))?,
        ),
        None => None,
    };
    let launch = match args {
        Some(GuiArgs {
            host_mode: true,
            user,
            ..
        }) => Launch::Host {
            user: user.clone(),
            passcode,
        },
        Some(GuiArgs {
            join: Some(address),
            user,
            ..
        }) => Launch::Join {
            address: address.clone(),
            user: user.clone(),
            passcode,
        },
        _ => Launch::Start,
    };
    let options = lanshare::gui::Options {
        host_bind: std::net::SocketAddr::from((
            [0, 0, 0, 0],
            args.map_or(lanshare::protocol::DEFAULT_PORT, |a| a.port),
        )),
        ..lanshare::gui::Options::default()
    };
    lanshare::gui::run(launch, options).map_err(|error| {
        anyhow::anyhow!(
            "{error:#}\nhint: `lanshare host` runs a host without a window; \
             `lanshare --help` lists the other commands"
        )
    })
}

/// Where the host is.
#[derive(Args)]
struct HostAddress {
    /// The host, as HOST or HOST:PORT (port 5005 if omitted). Default: the only host found on
    /// the network.
    #[arg(long, env = "LANSHARE_HOST")]
    host: Option<String>,
    /// The host's passcode, if it was started with one (better set in the environment, where
    /// other users cannot see it).
    #[arg(long, env = "LANSHARE_PASSCODE", hide_env_values = true)]
    passcode: Option<String>,
}

#[derive(Args)]
struct HostsArgs {
    /// Print JSON: an array of {address, name, participants, files} (one array per change
    /// with --watch).
    #[arg(long)]
    json: bool,
    /// Keep listening and print hosts as they appear and go.
    #[arg(long)]
    watch: bool,
    /// How long to listen, in seconds.
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    wait: f64,
}

/// Who you are on the host.
#[derive(Args)]
struct User {
    /// Your display name (default: the name used last, else your OS user name).
    #[arg(long, env = "LANSHARE_USER")]
    user: Option<String>,
}

#[derive(Args)]
struct SendArgs {
    #[command(flatten)]
    address: HostAddress,
    #[command(flatten)]
    user: User,
    /// Files to share.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Have the host delete them after this long (90s, 30m, 2h, 7d), or `never`; the host
    /// may cut it to its maximum. Default: as the host decides.
    #[arg(long, value_name = "TIME|never", value_parser = expiry_arg)]
    expire: Option<lanshare::protocol::Expiry>,
    /// Tags for them, separated by commas (letters, digits, - _ .; at most 8, each at most
    /// 32 characters): --tag slides,week3.
    #[arg(long, value_name = "TAG,…", value_parser = tags_arg)]
    tag: Option<lanshare::protocol::Tags>,
    /// Only these participants (names, separated by commas) may see them, besides you and
    /// the host's operator; each name must be one the host knows (someone online, or who
    /// shared a file), and stands for that participant even if someone else takes the name
    /// later.
    #[arg(long, value_name = "NAME,…", value_parser = audience_arg)]
    only: Option<lanshare::protocol::Audience>,
    /// Share them as files of their own, even where you already share a file of the same name
    /// (which they would otherwise become the new version of).
    #[arg(long)]
    new_file: bool,
    /// Share the (one) file as the new version of file ID, which keeps its name and sharer
    /// (yours, or any file's as the host's operator).
    #[arg(long, value_name = "ID", conflicts_with = "new_file")]
    version_of: Option<u64>,
    /// Share them from this machine: the host lists them but stores nothing (no size limit),
    /// and downloaders fetch them from here while this command runs (Ctrl-C stops sharing).
    #[arg(long, conflicts_with_all = ["expire", "tag", "new_file", "version_of"])]
    direct: bool,
    /// Send the bytes as they are. By default they travel compressed (zstd) when a sample of
    /// the file shrinks and the host takes compressed transfers.
    #[arg(long)]
    no_compression: bool,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    address: HostAddress,
    #[command(flatten)]
    user: User,
}

#[derive(Args)]
struct CommentArgs {
    #[command(flatten)]
    address: HostAddress,
    #[command(flatten)]
    user: User,
    /// Id of the file (see `lanshare ls`).
    #[arg(value_name = "ID")]
    id: u64,
    /// What to say (at most 1000 characters).
    #[arg(value_name = "TEXT", conflicts_with = "delete")]
    text: Option<String>,
    /// Delete comment N (yours, or any as the host's operator) instead.
    #[arg(long, value_name = "N")]
    delete: Option<u64>,
}

#[derive(Args)]
struct CommentsArgs {
    #[command(flatten)]
    address: HostAddress,
    #[command(flatten)]
    user: User,
    /// Id of the file (see `lanshare ls`).
    #[arg(value_name = "ID")]
    id: u64,
    /// Print a JSON array instead of lines.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct PreviewArgs {
    #[command(flatten)]
    address: HostAddress,
    #[command(flatten)]
    user: User,
    /// Id of the file (see `lanshare ls`).
    #[arg(value_name = "ID")]
    id: u64,
    /// Save the preview here (a thumbnail is a PNG file); without it a text preview is printed.
    #[arg(short, long, value_name = "PATH")]
    output: Option<PathBuf>,
    /// Replace an existing file given with -o.
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
struct VersionsArgs {
    #[command(flatten)]
    address: HostAddress,
    #[command(flatten)]
    user: User,
    /// Id of the file (see `lanshare ls`).
    #[arg(value_name = "ID")]
    id: u64,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

/// `--only`: names separated by commas.
fn audience_arg(text: &str) -> Result<lanshare::protocol::Audience, String> {
    lanshare::protocol::Audience::parse_list(text).map_err(|error| error.to_string())
}

#[derive(Args)]
#[group(required = true, multiple = false, args = ["only", "everyone"])]
struct ShareArgs {
    #[command(flatten)]
    address: HostAddress,
    #[command(flatten)]
    user: User,
    /// Id of the file (see `lanshare ls`).
    #[arg(value_name = "ID")]
    id: u64,
    /// Only these participants (names, separated by commas) may see it, besides you and the
    /// host's operator.
    #[arg(long, value_name = "NAME,…", value_parser = audience_arg)]
    only: Option<lanshare::protocol::Audience>,
    /// Everyone may see it again.
    #[arg(long)]
    everyone: bool,
}

/// `--expire`: a lifetime, or `never`.
fn expiry_arg(text: &str) -> Result<lanshare::protocol::Expiry, String> {
    use lanshare::protocol::{Expiry, MAX_EXPIRY_SECS};
    if text.trim().eq_ignore_ascii_case("never") {
        return Ok(Expiry::Never);
    }
    let secs = lanshare::units::parse_lifetime(text)?.as_secs();
    if secs > MAX_EXPIRY_SECS {
        return Err(format!("'{text}' is too long (at most ten years)"));
    }
    Ok(Expiry::After(secs))
}

/// `--tag`: tags separated by commas.
fn tags_arg(text: &str) -> Result<lanshare::protocol::Tags, String> {
    lanshare::protocol::Tags::parse(text).map_err(|error| error.to_string())
}

/// `ls --category`: one of the categories.
fn category_arg(text: &str) -> Result<lanshare::protocol::Category, String> {
    use lanshare::protocol::Category;
    Category::from_word(text.trim()).ok_or_else(|| {
        let words: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
        format!("'{text}' is not a category (one of {})", words.join(", "))
    })
}

/// What `ls --sort` orders by.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LsSort {
    /// Largest first.
    Size,
    /// A to Z.
    Name,
    /// Newest first.
    Time,
    /// A to Z by who shared them.
    Uploader,
}

#[derive(Args)]
struct LsArgs {
    #[command(flatten)]
    address: HostAddress,
    #[command(flatten)]
    user: User,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
    /// Only files of this category: documents, images, audio, video, archives, code, other.
    #[arg(long, value_name = "CATEGORY", value_parser = category_arg)]
    category: Option<lanshare::protocol::Category>,
    /// Only files with this tag.
    #[arg(long, value_name = "TAG")]
    tag: Option<String>,
    /// Order by size (largest first), name, time (newest first) or uploader; default: by id.
    #[arg(long, value_enum)]
    sort: Option<LsSort>,
}

#[derive(Args)]
struct GetArgs {
    #[command(flatten)]
    address: HostAddress,
    #[command(flatten)]
    user: User,
    /// Ids of the files to download (see `lanshare ls`).
    #[arg(required = true, value_name = "ID")]
    ids: Vec<u64>,
    /// Folder to save into, or (for one file) the path to save as. Default: this folder.
    #[arg(short, long, value_name = "DIR|PATH")]
    output: Option<PathBuf>,
    /// Replace an existing file given with -o PATH.
    #[arg(long)]
    force: bool,
    /// Download this version of the file (see `lanshare versions ID`) rather than the latest;
    /// with one id only.
    #[arg(long, value_name = "N")]
    version: Option<u32>,
    /// Receive the bytes as they are. By default the host sends them compressed (zstd) where
    /// that pays, if it takes compressed transfers.
    #[arg(long)]
    no_compression: bool,
}

#[derive(Args)]
struct RmArgs {
    #[command(flatten)]
    address: HostAddress,
    #[command(flatten)]
    user: User,
    /// Id of the file to delete.
    #[arg(value_name = "ID")]
    id: u64,
}

#[derive(Args)]
struct TrustArgs {
    /// The host, as HOST or HOST:PORT (port 5005 by default).
    #[arg(value_name = "HOST[:PORT]")]
    host: String,
}

#[derive(Args)]
struct WatchArgs {
    #[command(flatten)]
    address: HostAddress,
    #[command(flatten)]
    user: User,
    /// Print one JSON object per event.
    #[arg(long)]
    json: bool,
}

/// Parses the arguments, runs the command, and turns an error into one line and exit code 1.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Host(args)) => host::run(&args),
        Some(Command::Send(args)) if args.direct => direct::send(&args),
        Some(Command::Send(args)) => client::send(&args),
        Some(Command::Serve(args)) => direct::serve(&args),
        Some(Command::Ls(args)) => client::ls(&args),
        Some(Command::Get(args)) => client::get(&args),
        Some(Command::Rm(args)) => client::rm(&args),
        Some(Command::Share(args)) => client::share(&args),
        Some(Command::Versions(args)) => client::versions(&args),
        Some(Command::Preview(args)) => preview::preview(&args),
        Some(Command::Comment(args)) => client::comment(&args),
        Some(Command::Comments(args)) => client::comments(&args),
        Some(Command::Watch(args)) => client::watch(&args),
        Some(Command::Hosts(args)) => client::hosts(&args),
        Some(Command::Trust(args)) => client::trust_host(&args),
        #[cfg(feature = "gui")]
        Some(Command::Gui(args)) => gui(Some(&args)),
        #[cfg(feature = "gui")]
        None => gui(None),
        #[cfg(not(feature = "gui"))]
        None => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            return ExitCode::SUCCESS;
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("lanshare: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
