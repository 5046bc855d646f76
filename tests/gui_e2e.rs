//! End to end, as a person sees it: the real binary in a real window (under Xvfb), a real
//! desktop notification on a private D-Bus session, and screenshots.
//!
//! Needs a display and a session bus, so the tests are ignored by default: `.ci/run` runs
//! them inside `xvfb-run … dbus-run-session` with `--include-ignored`. Run without a display
//! or a session bus, they fail.
#![cfg(feature = "gui")]

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use lanshare::gui::theme::DARK;

/// The tests share one display: each takes it in turn, so a screenshot shows one window.
static DISPLAY: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Fails without a display and a session bus.
fn require_desktop() -> anyhow::Result<()> {
    let present = std::env::var_os("DISPLAY").is_some()
        && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
    anyhow::ensure!(
        present,
        "no DISPLAY or no D-Bus session: run under xvfb-run dbus-run-session"
    );
    Ok(())
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

/// How long a window may take to show what a test waits for.
const DRAW_LIMIT: Duration = Duration::from_secs(30);

/// Waits for `app`'s window to be mapped, then for it to draw; returns the screenshot that
/// shows it drawn.
fn wait_for_window(app: &mut Running, name: &str) -> anyhow::Result<Screenshot> {
    let found = wait_until(DRAW_LIMIT, || {
        Command::new("xdotool")
            .args(["search", "--onlyvisible", "--name", "lanshare"])
            .output()
            .is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
    });
    if !found {
        match app.0.try_wait()? {
            Some(status) => anyhow::bail!("no lanshare window appeared: the app ended ({status})"),
            None => anyhow::bail!("no lanshare window appeared (the app is still running)"),
        }
    }
    Screenshot::when(name, "the window drawn", |_| true)
}

/// The RGB of one of the app's colours, as a screenshot stores it.
fn rgb(color: iced::Color) -> [u8; 3] {
    let [r, g, b, _] = color.into_rgba8();
    [r, g, b]
}

/// One screenshot of the whole screen, decoded.
struct Screenshot {
    path: PathBuf,
    width: usize,
    channels: usize,
    pixels: Vec<u8>,
}

impl Screenshot {
    /// Screenshots the whole screen into `name`.png.
    fn take(name: &str) -> anyhow::Result<Self> {
        let path = screenshots()?.join(format!("{name}.png"));
        // As 8-bit RGB even when the screen is one colour (else a grey or palette PNG).
        let status = Command::new("import")
            .args(["-window", "root"])
            .arg(format!("PNG24:{}", path.display()))
            .status()?;
        anyhow::ensure!(status.success(), "import failed");
        Self::decode(path)
    }

    /// Screenshots one window (by its X id) into `name`.png.
    fn of_window(window: &str, name: &str) -> anyhow::Result<Self> {
        let path = screenshots()?.join(format!("{name}.png"));
        let status = Command::new("import")
            .args(["-window", window])
            .arg(format!("PNG24:{}", path.display()))
            .status()?;
        anyhow::ensure!(status.success(), "import failed");
        Self::decode(path)
    }

    fn decode(path: PathBuf) -> anyhow::Result<Self> {
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path)?));
        let mut reader = decoder.read_info()?;
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels)?;
        pixels.truncate(info.buffer_size());
        let channels = info.color_type.samples();
        anyhow::ensure!(
            channels >= 3,
            "{}: the screenshot is not in colour",
            path.display()
        );
        Ok(Self {
            path,
            width: info.width as usize,
            channels,
            pixels,
        })
    }

    /// Screenshots the screen until the app's colours are on it and `ready` says the shot
    /// shows what is awaited (`awaited` names it); fails at [`DRAW_LIMIT`].
    fn when(name: &str, awaited: &str, ready: impl Fn(&Self) -> bool) -> anyhow::Result<Self> {
        let deadline = Instant::now() + DRAW_LIMIT;
        loop {
            let shot = Self::take(name)?;
            if shot.check().is_ok() && ready(&shot) {
                return Ok(shot);
            }
            if Instant::now() >= deadline {
                shot.check()?;
                anyhow::bail!("{name}: the screen never showed {awaited}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// How many pixels are exactly `rgb`.
    fn count(&self, rgb: [u8; 3]) -> usize {
        self.pixels
            .chunks_exact(self.channels)
            .filter(|p| p[..3] == rgb)
            .count()
    }

    /// How many separate horizontal bands of the screen hold a pixel in one of `colors`: one
    /// per button of those colours, when the buttons stand one above another.
    fn bands(&self, colors: &[[u8; 3]]) -> usize {
        let mut bands = 0;
        let mut inside = false;
        for line in self.pixels.chunks_exact(self.width * self.channels) {
            let holds = line
                .chunks_exact(self.channels)
                .any(|p| colors.iter().any(|rgb| p[..3] == *rgb));
            if holds && !inside {
                bands += 1;
            }
            inside = holds;
        }
        bands
    }

    /// How many red buttons (Delete, Stop hosting) are drawn, under the pointer or not.
    fn red_buttons(&self) -> usize {
        self.bands(&[rgb(DARK.danger), rgb(DARK.danger_hover)])
    }

    /// Checks the app's colours are on the screen.
    fn check(&self) -> anyhow::Result<()> {
        let name = self.path.display();
        // The dark background and the blue of the main buttons are both drawn.
        anyhow::ensure!(
            self.count(rgb(DARK.background)) > 10_000,
            "{name}: no dark background"
        );
        anyhow::ensure!(
            self.count(rgb(DARK.primary)) > 500,
            "{name}: no blue buttons"
        );
        Ok(())
    }
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
        let mut log = Self {
            _monitor: Running(child),
            output,
            seen: String::new(),
        };
        // dbus-monitor has become a monitor, its match rule in place, once the bus has taken
        // its name away.
        anyhow::ensure!(
            log.wait_for("member=NameLost", Duration::from_secs(10)),
            "dbus-monitor did not start monitoring; it said: {}",
            log.seen
        );
        Ok(log)
    }

    /// Takes in what the monitor says for `limit`.
    fn gather(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while let Ok(text) = self.output.recv_deadline(deadline) {
            self.seen.push_str(&text);
        }
    }

    fn wait_for(&mut self, needle: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
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
#[ignore = "needs DISPLAY and a D-Bus session: run under xvfb-run dbus-run-session, as .ci/run does with --include-ignored"]
fn a_participant_window_notifies_and_shows_a_file_shared_by_someone_else() -> TestResult {
    require_desktop()?;
    let _display = DISPLAY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let mut notifications = NotifyLog::start()?;
    let address = host.local_addr().to_string();
    let bob_config = dir.path().join("bob");
    let mut window = app(&bob_config, &["gui", "--join", &address, "--user", "Bob"])?;
    wait_for_window(&mut window, "participant")?;
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
    // Once his file is listed (its Delete button, the only red on his screen, is drawn), the
    // window has had its offer; a notification for it would be on its way by now.
    let shot = Screenshot::when("participant", "Bob's file listed", |shot| {
        shot.red_buttons() >= 1
    })?;
    assert!(!notifications.wait_for("shared bobs.txt", Duration::from_secs(3)));
    eprintln!("screenshot: {}", shot.path.display());
    Ok(())
}

#[test]
#[ignore = "needs DISPLAY and a D-Bus session: run under xvfb-run dbus-run-session, as .ci/run does with --include-ignored"]
fn the_start_and_host_windows_draw() -> TestResult {
    require_desktop()?;
    let _display = DISPLAY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir()?;
    {
        let mut window = app(&dir.path().join("start"), &["gui"])?;
        wait_for_window(&mut window, "start")?;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut window = app(
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
    wait_for_window(&mut window, "host")?;
    let host = SocketAddr::from(([127, 0, 0, 1], port));
    // The window may be drawn a moment before the host in it listens.
    assert!(
        wait_until(DRAW_LIMIT, || std::net::TcpStream::connect(host).is_ok()),
        "the app's host never listened on {host}"
    );
    let guest = Person::new("Alice")?;
    let (session, _) = guest.join(host)?;
    share(&session, "minutes.txt", b"minutes of the meeting")?;
    share(&session, "slides.pdf", &data(3_500_000, 5))?;
    // Stop hosting, and Delete on each file (the host's user may delete any).
    Screenshot::when("host", "both files listed", |shot| shot.red_buttons() >= 3)?;
    Ok(())
}

/// The visible window of process `pid`, once it is mapped.
fn window_of(app: &mut Running) -> anyhow::Result<String> {
    let pid = app.0.id().to_string();
    let mut found = String::new();
    let mapped = wait_until(DRAW_LIMIT, || {
        Command::new("xdotool")
            .args(["search", "--onlyvisible", "--pid", &pid])
            .output()
            .is_ok_and(|o| {
                found = String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                o.status.success() && !found.is_empty()
            })
    });
    anyhow::ensure!(mapped, "no window for process {pid}");
    Ok(found)
}

#[test]
#[ignore = "needs DISPLAY and a D-Bus session: run under xvfb-run dbus-run-session, as .ci/run does with --include-ignored"]
fn three_hundred_files_make_one_notification_per_window_and_rows_show_at_600_by_400() -> TestResult
{
    require_desktop()?;
    let _display = DISPLAY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let host = start(config())?;
    let dir = tempfile::tempdir()?;
    let mut notifications = NotifyLog::start()?;
    let address = host.local_addr().to_string();
    let mut bob = app(
        &dir.path().join("bob"),
        &["gui", "--join", &address, "--user", "Bob"],
    )?;
    let mut carol = app(
        &dir.path().join("carol"),
        &["gui", "--join", &address, "--user", "Carol"],
    )?;
    let bob_window = window_of(&mut bob)?;
    window_of(&mut carol)?;
    assert!(wait_until(Duration::from_secs(15), || host.session_count() == 2));

    // Alice shares 300 files at once from her command line.
    let files = dir.path().join("batch");
    std::fs::create_dir_all(&files)?;
    let names: Vec<String> = (0..300).map(|n| format!("photo-{n:03}.jpg")).collect();
    for (n, name) in names.iter().enumerate() {
        std::fs::write(files.join(name), data(200, n as u64))?;
    }
    let cli = Cli {
        config_dir: dir.path().join("alice"),
        host: host.local_addr(),
    };
    let mut args = vec!["send", "--user", "Alice"];
    args.extend(names.iter().map(String::as_str));
    let output = cli.run_in(&files, &args)?;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(host.files().len(), 300);

    // One grouped notification per window, and no notification per file.
    let summary = "Alice shared 300 files";
    let per_window = |seen: &str| seen.matches(summary).count();
    assert!(
        notifications.wait_for(summary, Duration::from_secs(30)),
        "no grouped notification; saw: {}",
        notifications.seen
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while per_window(&notifications.seen) < 2 && Instant::now() < deadline {
        notifications.gather(Duration::from_millis(500));
    }
    // Time for any stray notification to arrive.
    notifications.gather(Duration::from_secs(3));
    assert_eq!(per_window(&notifications.seen), 2, "{}", notifications.seen);
    assert!(!notifications.seen.contains("Alice shared photo-"));

    // Bob's window at the smallest size it allows still shows rows of files.
    let resized = Command::new("xdotool")
        .args(["windowsize", &bob_window, "600", "400"])
        .status()?;
    assert!(resized.success());
    // Above Carol's window, which would otherwise hide it: what an X window shows where another
    // covers it is undefined (black under Xvfb).
    let raised = Command::new("xdotool")
        .args(["windowraise", &bob_window])
        .status()?;
    assert!(raised.success());
    let deadline = Instant::now() + DRAW_LIMIT;
    let shot = loop {
        let shot = Screenshot::of_window(&bob_window, "participant-600x400")?;
        // Upload files, and a Download button on at least two rows, one above another.
        let small = shot.width <= 620;
        if (small && shot.check().is_ok() && shot.bands(&[rgb(DARK.primary)]) >= 3)
            || Instant::now() >= deadline
        {
            break shot;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        shot.width <= 620,
        "the window was not made 600 wide: {}",
        shot.width
    );
    shot.check()?;
    assert!(
        shot.bands(&[rgb(DARK.primary)]) >= 3,
        "no rows in {}",
        shot.path.display()
    );
    eprintln!("screenshot: {}", shot.path.display());
    Ok(())
}
