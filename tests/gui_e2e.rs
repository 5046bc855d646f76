//! End to end, as a person sees it: the real binary in a real window (under Xvfb), a real
//! desktop notification on a private D-Bus session, and screenshots.
//!
//! Needs a display and a session bus: `.ci/run` runs the tests inside
//! `xvfb-run … dbus-run-session` with LANSHARE_E2E=1, which makes this test mandatory.
//! Elsewhere, without a display, it says it is skipped.
#![cfg(feature = "gui")]

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

/// The tests share one display: each takes it in turn, so a screenshot shows one window.
static DISPLAY: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Skips (or, with LANSHARE_E2E=1, fails) without a display and a session bus.
fn desktop_available() -> anyhow::Result<bool> {
    let present = std::env::var_os("DISPLAY").is_some()
        && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
    if !present && std::env::var_os("LANSHARE_E2E").is_some() {
        anyhow::bail!("LANSHARE_E2E is set but there is no DISPLAY or session bus");
    }
    if !present {
        eprintln!(
            "skipped: needs DISPLAY and a D-Bus session (run under xvfb-run dbus-run-session)"
        );
    }
    Ok(present)
}

fn screenshots() -> anyhow::Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Kills a child process when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn app(config: &Path, args: &[&str]) -> anyhow::Result<Running> {
    Ok(Running(
        Command::new(env!("CARGO_BIN_EXE_lanshare"))
            .args(args)
            .env("LANSHARE_CONFIG_DIR", config)
            // Tests send nothing beyond loopback: no announcing or looking for hosts.
            .env("LANSHARE_NO_DISCOVERY", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    ))
}

/// Waits for a lanshare window to be mapped, then for it to draw.
fn wait_for_window() -> anyhow::Result<()> {
    let found = wait_until(Duration::from_secs(30), || {
        Command::new("xdotool")
            .args(["search", "--onlyvisible", "--name", "lanshare"])
            .output()
            .is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
    });
    anyhow::ensure!(found, "no lanshare window appeared");
    std::thread::sleep(Duration::from_secs(2));
    Ok(())
}

/// Screenshots the whole screen and checks the app's colours are on it.
fn screenshot(name: &str) -> anyhow::Result<PathBuf> {
    let path = screenshots()?.join(format!("{name}.png"));
    let status = Command::new("import")
        .args(["-window", "root"])
        .arg(&path)
        .status()?;
    anyhow::ensure!(status.success(), "import failed");
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path)?));
    let mut reader = decoder.read_info()?;
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels)?;
    let channels = info.color_type.samples();
    let has = |rgb: [u8; 3]| {
        pixels
            .chunks_exact(channels)
            .filter(|p| p[..3] == rgb)
            .count()
    };
    // The dark background and the blue of the main buttons are both drawn.
    anyhow::ensure!(
        has([0x20, 0x21, 0x24]) > 10_000,
        "{name}: no dark background"
    );
    anyhow::ensure!(has([0x1a, 0x73, 0xe8]) > 500, "{name}: no blue buttons");
    Ok(path)
}

/// Follows Notify calls on the session bus.
struct NotifyLog {
    _monitor: Running,
    output: flume::Receiver<String>,
    seen: String,
}

impl NotifyLog {
    fn start() -> anyhow::Result<Self> {
        let mut child = Command::new("dbus-monitor")
            .args([
                "--session",
                "interface='org.freedesktop.Notifications',member='Notify'",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no dbus-monitor output"))?;
        let (sender, output) = flume::unbounded();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(read) = stdout.read(&mut buffer) {
                if read == 0
                    || sender
                        .send(String::from_utf8_lossy(&buffer[..read]).into_owned())
                        .is_err()
                {
                    break;
                }
            }
        });
        // dbus-monitor needs a moment to register its match rule.
        std::thread::sleep(Duration::from_millis(500));
        Ok(Self {
            _monitor: Running(child),
            output,
            seen: String::new(),
        })
    }

    fn wait_for(&mut self, needle: &str, limit: Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        while !self.seen.contains(needle) {
            match self.output.recv_deadline(deadline) {
                Ok(text) => self.seen.push_str(&text),
                Err(_) => return false,
            }
        }
        true
    }
}

#[test]
fn a_participant_window_notifies_and_shows_a_file_shared_by_someone_else() -> TestResult {
    if !desktop_available()? {
        return Ok(());
    }
    let _display = DISPLAY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let mut notifications = NotifyLog::start()?;
    let address = host.local_addr().to_string();
    let bob_config = dir.path().join("bob");
    let _window = app(&bob_config, &["gui", "--join", &address, "--user", "Bob"])?;
    wait_for_window()?;
    assert!(wait_until(Duration::from_secs(10), || host.session_count() == 1));

    let alice = Person::new("Alice")?;
    let (session, _) = alice.join(host.local_addr())?;
    share(&session, "quarterly report.pdf", &data(2_621_440, 4))?;
    assert!(
        notifications.wait_for(
            "Alice shared quarterly report.pdf, 2.5 MB",
            Duration::from_secs(15)
        ),
        "no Notify call; saw: {}",
        notifications.seen
    );

    // Bob's own share, from his command line with the same identity: no notification.
    std::fs::write(dir.path().join("bobs.txt"), b"mine")?;
    let cli = Cli {
        config_dir: bob_config,
        host: host.local_addr(),
    };
    let output = cli.run_in(dir.path(), &["send", "--user", "Bob", "bobs.txt"])?;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!notifications.wait_for("shared bobs.txt", Duration::from_secs(3)));

    std::thread::sleep(Duration::from_secs(1));
    let shot = screenshot("participant")?;
    eprintln!("screenshot: {}", shot.display());
    Ok(())
}

#[test]
fn the_start_and_host_windows_draw() -> TestResult {
    if !desktop_available()? {
        return Ok(());
    }
    let _display = DISPLAY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir()?;
    {
        let _window = app(&dir.path().join("start"), &["gui"])?;
        wait_for_window()?;
        screenshot("start")?;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let _window = app(
        &dir.path().join("hana"),
        &[
            "gui",
            "--host-mode",
            "--user",
            "Hana",
            "--port",
            &port.to_string(),
        ],
    )?;
    wait_for_window()?;
    let host = SocketAddr::from(([127, 0, 0, 1], port));
    let guest = Person::new("Alice")?;
    let (session, _) = guest.join(host)?;
    share(&session, "minutes.txt", b"minutes of the meeting")?;
    share(&session, "slides.pdf", &data(3_500_000, 5))?;
    std::thread::sleep(Duration::from_secs(2));
    screenshot("host")?;
    Ok(())
}
