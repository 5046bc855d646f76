//! The HTTP file servers people use instead, driven by curl: dufs (PUT / GET) and miniserve
//! (multipart upload / GET). Used only if installed (`cargo install dufs miniserve`); both are
//! bound to 127.0.0.1 only. Several files go through one curl process, which reuses its
//! connection as a browser or script would.

use std::fmt::Write as _;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::workload::{SourceFile, sha256_file};

/// curl options for each transfer of a config file (`next` starts a group with none set).
const GROUP_OPTIONS: &str = "fail\nsilent\nshow-error\nnoproxy = \"*\"\n";

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// dufs: uploads with `PUT`.
    Dufs,
    /// miniserve: uploads with a multipart form `POST`.
    Miniserve,
}

impl Server {
    /// The program's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Dufs => "dufs",
            Self::Miniserve => "miniserve",
        }
    }

    /// How it uploads, for the table.
    pub fn upload_method(self) -> &'static str {
        match self {
            Self::Dufs => "dufs PUT",
            Self::Miniserve => "miniserve POST",
        }
    }

    /// Its version if it and curl are installed, else why not.
    pub fn available(self) -> Result<String, String> {
        version("curl").map_err(|_| "curl is not installed".to_owned())?;
        version(self.name()).map_err(|_| format!("not installed (cargo install {})", self.name()))
    }
}

/// The first line `program --version` prints.
pub fn version(program: &str) -> io::Result<String> {
    let output = Command::new(program).arg("--version").output()?;
    if !output.status.success() {
        return Err(io::Error::other(format!("{program} --version failed")));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned())
}

/// A free port on 127.0.0.1 (released before the server binds it).
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// A running server serving (and storing uploads in) `dir`.
pub struct HttpServer {
    server: Server,
    child: Child,
    address: SocketAddr,
    /// Where uploads land.
    pub dir: PathBuf,
}

impl HttpServer {
    /// Starts `server` on a free loopback port, storing into `dir/served`.
    pub fn start(server: Server, dir: &Path) -> io::Result<Self> {
        let served = dir.join("served");
        std::fs::create_dir_all(&served)?;
        let port = free_port()?;
        let mut command = Command::new(server.name());
        match server {
            Server::Dufs => {
                command
                    .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                    .arg("--allow-upload")
                    .arg(&served);
            }
            Server::Miniserve => {
                let temp = dir.join("upload-temp");
                std::fs::create_dir_all(&temp)?;
                command
                    .args(["--interfaces", "127.0.0.1", "--port", &port.to_string()])
                    .args(["--upload-files", "/"])
                    .arg("--temp-directory")
                    .arg(&temp)
                    .arg(&served);
            }
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut started = Self {
            server,
            child,
            address,
            dir: served,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(address).is_err() {
            if Instant::now() > deadline || matches!(started.child.try_wait(), Ok(Some(_))) {
                return Err(io::Error::other(format!("{} did not start", server.name())));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(started)
    }

    fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.address)
    }

    /// Uploads the files with one curl process; returns the time it took.
    pub fn upload(&self, files: &[SourceFile], work: &Path) -> io::Result<Duration> {
        let mut config = String::new();
        for file in files {
            if !config.is_empty() {
                config.push_str("next\n");
            }
            let path = file.path.to_string_lossy();
            match self.server {
                Server::Dufs => {
                    let _ = writeln!(config, "url = \"{}\"", self.url(&file.name));
                    let _ = writeln!(config, "upload-file = \"{path}\"");
                }
                Server::Miniserve => {
                    let _ = writeln!(config, "url = \"{}\"", self.url("upload?path=/"));
                    let _ = writeln!(
                        config,
                        "form = \"file_to_upload=@{path};filename={}\"",
                        file.name
                    );
                }
            }
            config.push_str(GROUP_OPTIONS);
            config.push_str("output = \"/dev/null\"\n");
        }
        let elapsed = curl(&config, work)?;
        for file in files {
            if sha256_file(&self.dir.join(&file.name))? != file.sha256 {
                return Err(io::Error::other(format!(
                    "{} stored {} damaged",
                    self.server.name(),
                    file.name
                )));
            }
        }
        Ok(elapsed)
    }

    /// Downloads the files (uploaded before) into `out` with one curl process; returns the
    /// time it took.
    pub fn download(&self, files: &[SourceFile], out: &Path, work: &Path) -> io::Result<Duration> {
        std::fs::create_dir_all(out)?;
        let mut config = String::new();
        for file in files {
            if !config.is_empty() {
                config.push_str("next\n");
            }
            let target = out.join(&file.name);
            let _ = writeln!(config, "url = \"{}\"", self.url(&file.name));
            let _ = writeln!(config, "output = \"{}\"", target.to_string_lossy());
            config.push_str(GROUP_OPTIONS);
        }
        let elapsed = curl(&config, work)?;
        crate::lanshare::verify_downloads(files, out)?;
        Ok(elapsed)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs curl with `config` (written to a file in `work`); returns its wall time.
fn curl(config: &str, work: &Path) -> io::Result<Duration> {
    let config_path = work.join("curl.config");
    std::fs::write(&config_path, config)?;
    let mut command = Command::new("curl");
    command
        .arg("--config")
        .arg(&config_path)
        .stdin(Stdio::null());
    Ok(crate::lanshare::timed_output(command, "curl")?.0)
}
