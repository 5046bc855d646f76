//! Finding hosts across a real (virtual) network: two network namespaces joined by a veth
//! pair, a host in one, participants in the other, both ways round; hosts that stop or vanish.
//!
//! Creating namespaces needs root and iproute2, so these tests are ignored by default and fail
//! (not skip) where namespaces cannot be made; CI runs them with `--include-ignored`. All
//! discovery traffic stays inside the namespaces these tests create.

mod common;

use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::*;

/// Two namespaces, `a` (10.213.N.1) and `b` (10.213.N.2), joined by a veth pair; removed on drop.
struct Lan {
    a: String,
    b: String,
    subnet: u32,
    config: tempfile::TempDir,
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new("ip").args(args).output()?;
    anyhow::ensure!(
        output.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(())
}

impl Lan {
    /// Creates the two namespaces; an error where that is not allowed.
    fn create() -> anyhow::Result<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let subnet = NEXT.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}{subnet}", std::process::id() % 100_000);
        let (a, b) = (format!("lsa{tag}"), format!("lsb{tag}"));
        ip(&["netns", "add", &a]).map_err(|error| {
            error.context("cannot create network namespaces here (needs root and iproute2)")
        })?;
        let lan = Self {
            a,
            b,
            subnet,
            config: tempfile::tempdir()?,
        };
        ip(&["netns", "add", &lan.b])?;
        let (veth_a, veth_b) = (format!("va{tag}"), format!("vb{tag}"));
        ip(&[
            "link", "add", &veth_a, "netns", &lan.a, "type", "veth", "peer", "name", &veth_b,
            "netns", &lan.b,
        ])?;
        for (ns, dev, last) in [(&lan.a, &veth_a, 1), (&lan.b, &veth_b, 2)] {
            let address = format!("10.213.{subnet}.{last}/24");
            let broadcast = format!("10.213.{subnet}.255");
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &address,
                "broadcast",
                &broadcast,
                "dev",
                dev,
            ])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(lan)
    }

    fn address(&self, last: u8) -> String {
        format!("10.213.{}.{last}", self.subnet)
    }

    /// `lanshare ARGS` inside namespace `ns`, with a config folder of its own.
    fn lanshare(&self, ns: &str, who: &str, args: &[&str]) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_lanshare")])
            .args(args)
            .env("LANSHARE_CONFIG_DIR", self.config.path().join(who))
            .env_remove("LANSHARE_HOST")
            .env_remove("LANSHARE_NO_DISCOVERY");
        command
    }

    /// Starts `lanshare host --name NAME` in `ns` and waits until it listens.
    fn host(&self, ns: &str, name: &str) -> anyhow::Result<Child> {
        let mut child = self
            .lanshare(ns, name, &["host", "--name", name])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let log = stdout_lines(&mut child)?;
        loop {
            let line = log.recv_timeout(Duration::from_secs(10))?;
            if line.contains("Announcing") {
                return Ok(child);
            }
        }
    }

    fn run(&self, ns: &str, who: &str, args: &[&str]) -> anyhow::Result<Output> {
        Ok(self.lanshare(ns, who, args).output()?)
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        // Deleting a namespace ends its processes' sockets and removes the veth pair.
        let _ = ip(&["netns", "del", &self.a]);
        let _ = ip(&["netns", "del", &self.b]);
    }
}

fn hosts_json(output: &Output) -> anyhow::Result<Vec<serde_json::Value>> {
    anyhow::ensure!(output.status.success(), "{}", stderr(output));
    Ok(serde_json::from_str(stdout(output).trim())?)
}

fn stop(child: &mut Child, signal: &str) -> anyhow::Result<()> {
    Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()?;
    wait_for_exit(child, Duration::from_secs(10))?;
    Ok(())
}

#[test]
#[ignore = "needs root and iproute2 to create network namespaces; .ci/run runs it with --include-ignored"]
fn hosts_are_found_across_the_link_in_both_directions() -> TestResult {
    let lan = Lan::create()?;
    let mut alpha = lan.host(&lan.a, "alpha")?;

    // From the other side: found, with its address and counts.
    let found = hosts_json(&lan.run(&lan.b, "bob", &["hosts", "--json", "--wait", "3"])?)?;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["name"], "alpha");
    assert_eq!(found[0]["address"], format!("{}:5005", lan.address(1)));
    assert_eq!(found[0]["participants"], 0);

    // --host may be left out when exactly one host is found.
    std::fs::write(lan.config.path().join("hello.txt"), b"hello")?;
    let sent = lan.run(
        &lan.b,
        "bob",
        &[
            "send",
            "--user",
            "Bob",
            &lan.config.path().join("hello.txt").to_string_lossy(),
        ],
    )?;
    assert!(sent.status.success(), "{}", stderr(&sent));
    assert!(stderr(&sent).contains(&format!("Using the host alpha at {}:5005", lan.address(1))));
    let listed = lan.run(&lan.b, "bob", &["ls", "--json"])?;
    let files: Vec<serde_json::Value> = serde_json::from_str(&stdout(&listed))?;
    assert_eq!(files[0]["name"], "hello.txt");
    let counted = hosts_json(&lan.run(&lan.b, "bob", &["hosts", "--json"])?)?;
    assert_eq!(counted[0]["files"], 1);

    // The other way round: a host in b is found from a (beside a's own host, on loopback).
    let mut beta = lan.host(&lan.b, "beta")?;
    let found = hosts_json(&lan.run(&lan.a, "alice", &["hosts", "--json", "--wait", "3"])?)?;
    let beta_seen = found.iter().find(|h| h["name"] == "beta");
    assert_eq!(
        beta_seen.map(|h| h["address"].clone()),
        Some(serde_json::json!(format!("{}:5005", lan.address(2)))),
        "{found:?}"
    );
    assert!(
        found.iter().any(|h| h["name"] == "alpha"),
        "its own machine's host too"
    );

    // With two hosts in sight, leaving out --host is an error naming both.
    let ambiguous = lan.run(&lan.a, "alice", &["ls"])?;
    assert!(!ambiguous.status.success());
    assert!(stderr(&ambiguous).contains("several hosts found, pick one with --host"));

    stop(&mut beta, "-INT")?;
    stop(&mut alpha, "-INT")?;
    let none = lan.run(&lan.b, "bob", &["ls"])?;
    assert!(
        stderr(&none).contains("no lanshare host found on the network"),
        "{}",
        stderr(&none)
    );
    Ok(())
}

#[test]
#[ignore = "needs root and iproute2 to create network namespaces; .ci/run runs it with --include-ignored"]
fn watchers_see_hosts_appear_stop_and_vanish() -> TestResult {
    let lan = Lan::create()?;
    let mut watch = lan
        .lanshare(&lan.b, "bob", &["hosts", "--watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let lines = stdout_lines(&mut watch)?;
    let next = |needle: &str| -> anyhow::Result<Duration> {
        let started = Instant::now();
        loop {
            let line = lines.recv_timeout(Duration::from_secs(15))?;
            if line.contains(needle) {
                return Ok(started.elapsed());
            }
        }
    };

    // A host that stops cleanly says goodbye: gone at once.
    let mut gamma = lan.host(&lan.a, "gamma")?;
    next("found 10.213.")?;
    stop(&mut gamma, "-INT")?;
    let goodbye = next("gone  10.213.")?;
    assert!(goodbye < Duration::from_secs(2), "BYE took {goodbye:?}");

    // A host that is killed just goes silent: gone once it stops answering.
    let mut delta = lan.host(&lan.a, "delta")?;
    next("delta")?;
    stop(&mut delta, "-KILL")?;
    let silence = next("gone  10.213.")?;
    assert!(silence < Duration::from_secs(12), "expiry took {silence:?}");
    let _ = watch.kill();
    let _ = watch.wait();
    Ok(())
}
