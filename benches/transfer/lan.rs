//! A 1 Gbit/s LAN on one machine: two network namespaces joined by a veth pair, each end
//! shaped with `tc qdisc … tbf rate 985mbit burst 256kb latency 50ms` (what a gigabit
//! Ethernet wire carries as TCP payload, ≈ 117.7 MB/s). Needs root; the namespaces are
//! removed when the [`Lan`] is dropped, on Ctrl-C, and (if a run was killed) by the next run.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// TCP payload a gigabit Ethernet wire carries: 1500-byte frames hold 1448 bytes of payload
/// (with TCP timestamps) in 1538 bytes on the wire, of 10^9 bits per second.
pub const LINE_RATE_BYTES_PER_SECOND: f64 = 1e9 / 8.0 * 1448.0 / 1538.0;

/// The shaping applied to each end.
const SHAPING: [&str; 7] = [
    "tbf", "rate", "985mbit", "burst", "256kb", "latency", "50ms",
];

/// Prefix of every namespace this benchmark makes.
const PREFIX: &str = "lsbench";

/// Namespaces alive now, removed by the Ctrl-C handler.
static ALIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The host's address on the link.
pub const HOST_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
/// The participant's address on the link.
pub const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

/// Two shaped namespaces; dropped, they are removed.
pub struct Lan {
    /// Namespace where the host runs.
    pub host_ns: String,
    /// Namespace where the participant runs.
    pub peer_ns: String,
}

/// Why the LAN cannot be set up here, if it cannot.
pub fn unavailable() -> Option<String> {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|ids| ids.split_whitespace().next() == Some("0"))
        })
        .unwrap_or(false);
    if !root {
        return Some("needs root (network namespaces)".into());
    }
    for tool in ["ip", "tc"] {
        if Command::new(tool)
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            return Some(format!("`{tool}` is not installed (iproute2)"));
        }
    }
    None
}

fn run(args: &[&str]) -> io::Result<()> {
    let output = Command::new(args[0]).args(&args[1..]).output()?;
    if output.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

fn delete_namespace(name: &str) {
    let _ = Command::new("ip")
        .args(["netns", "delete", name])
        .stderr(Stdio::null())
        .status();
}

/// Removes namespaces left by benchmark runs that no longer exist (killed mid-run).
fn remove_stale() {
    let Ok(output) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').nth(1))
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            delete_namespace(name);
        }
    }
}

/// Removes every namespace this run made (for the Ctrl-C handler).
pub fn remove_all() {
    let names = std::mem::take(&mut *ALIVE.lock().unwrap_or_else(|e| e.into_inner()));
    for name in names {
        delete_namespace(&name);
    }
}

impl Lan {
    /// Creates the namespaces and the shaped link between them.
    pub fn create() -> io::Result<Self> {
        remove_stale();
        let pid = std::process::id();
        let lan = Self {
            host_ns: format!("{PREFIX}h-{pid}"),
            peer_ns: format!("{PREFIX}p-{pid}"),
        };
        let host_if = format!("lsh{pid}");
        let peer_if = format!("lsp{pid}");
        for ns in [&lan.host_ns, &lan.peer_ns] {
            run(&["ip", "netns", "add", ns])?;
            ALIVE
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(ns.clone());
        }
        run(&[
            "ip",
            "link",
            "add",
            &host_if,
            "netns",
            &lan.host_ns,
            "type",
            "veth",
            "peer",
            "name",
            &peer_if,
            "netns",
            &lan.peer_ns,
        ])?;
        for (ns, interface, ip) in [
            (&lan.host_ns, &host_if, HOST_IP),
            (&lan.peer_ns, &peer_if, PEER_IP),
        ] {
            run(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
            run(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{ip}/24"),
                "dev",
                interface,
            ])?;
            run(&["ip", "-n", ns, "link", "set", interface, "up"])?;
            let mut shape = vec!["tc", "-n", ns, "qdisc", "add", "dev", interface, "root"];
            shape.extend(SHAPING);
            run(&shape)?;
        }
        Ok(lan)
    }

    /// `ip netns exec NS` for the host's side.
    pub fn in_host(&self) -> Vec<String> {
        exec_in(&self.host_ns)
    }

    /// `ip netns exec NS` for the participant's side.
    pub fn in_peer(&self) -> Vec<String> {
        exec_in(&self.peer_ns)
    }

    /// An address on the host's side of the link.
    pub fn host_address(port: u16) -> SocketAddr {
        SocketAddr::from((HOST_IP, port))
    }

    /// An address on the participant's side of the link.
    pub fn peer_address(port: u16) -> SocketAddr {
        SocketAddr::from((PEER_IP, port))
    }
}

fn exec_in(ns: &str) -> Vec<String> {
    ["ip", "netns", "exec", ns].map(String::from).to_vec()
}

impl Drop for Lan {
    fn drop(&mut self) {
        for ns in [&self.host_ns, &self.peer_ns] {
            delete_namespace(ns);
        }
        ALIVE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|ns| ns != &self.host_ns && ns != &self.peer_ns);
    }
}
