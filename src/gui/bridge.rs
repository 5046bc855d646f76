//! All glue between worker threads and Iced, in one place.
//!
//! Workers (the live session, transfers, tickers) report over flume channels. A [`Feed`]
//! wraps one channel's receiver with a stable id so Iced can run it as a subscription; the
//! same feeds can be drained directly ([`Feed::drain`]) to drive the app without a window,
//! as the tests do.

use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use iced::futures::Stream;
use iced::{Subscription, Task};

/// One worker's channel, identified for Iced.
pub struct Feed<T> {
    id: u64,
    receiver: flume::Receiver<T>,
}

impl<T> Clone for Feed<T> {
    fn clone(&self) -> Self {
        Self {
            id: self.id,
            receiver: self.receiver.clone(),
        }
    }
}

impl<T> Hash for Feed<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl<T: Send + 'static> Feed<T> {
    /// Wraps a receiver; each feed gets a new id, so a new worker means a new subscription.
    pub fn new(receiver: flume::Receiver<T>) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            receiver,
        }
    }

    /// The feed as an Iced subscription.
    pub fn subscription(&self) -> Subscription<T> {
        Subscription::run_with(self.clone(), Self::stream)
    }

    fn stream(feed: &Self) -> impl Stream<Item = T> + use<T> {
        feed.receiver.clone().into_stream()
    }

    /// Everything the worker has sent so far, without waiting.
    pub fn drain(&self) -> Vec<T> {
        self.receiver.try_iter().collect()
    }
}

/// How often screens refresh what changes with time: countdowns, the transfers a host serves.
pub const TICK: Duration = Duration::from_millis(500);

/// A subscription that fires every `period` (the thread-pool executor has no timers).
pub fn every(period: Duration) -> Subscription<Instant> {
    Subscription::run_with(period, |period| {
        let (sender, receiver) = flume::bounded(1);
        let period = *period;
        let _ = std::thread::Builder::new()
            .name("lanshare-ticker".into())
            .spawn(move || {
                // Stops when the subscription (and so the receiver) goes away.
                while sender.send(Instant::now()).is_ok() {
                    std::thread::sleep(period);
                }
            });
        receiver.into_stream()
    })
}

/// Files dropped onto (or hovering over) the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropEvent {
    /// A file is being dragged over the window.
    Hovered,
    /// The drag left the window.
    Left,
    /// A file was dropped.
    Dropped(PathBuf),
}

/// Window file-drop events as a subscription.
pub fn file_drops() -> Subscription<DropEvent> {
    iced::event::listen_with(|event, _status, _window| match event {
        iced::Event::Window(iced::window::Event::FileHovered(_)) => Some(DropEvent::Hovered),
        iced::Event::Window(iced::window::Event::FilesHoveredLeft) => Some(DropEvent::Left),
        iced::Event::Window(iced::window::Event::FileDropped(path)) => {
            Some(DropEvent::Dropped(path))
        }
        _ => None,
    })
}

/// What a file dialog returned, and when it was opened (a dialog that "closes" within a few
/// hundredths of a second never showed: no portal or zenity on this system).
#[derive(Debug, Clone)]
pub struct DialogResult<T> {
    /// When the dialog was asked for.
    pub opened: Instant,
    /// The choice, or `None` if cancelled (or no dialog could be shown).
    pub chosen: Option<T>,
}

impl<T> DialogResult<T> {
    /// True if the dialog returned nothing so fast that no person could have cancelled it.
    pub fn never_showed(&self) -> bool {
        self.chosen.is_none() && self.opened.elapsed() < Duration::from_millis(300)
    }
}

/// Opens a multi-file picker.
pub fn pick_files() -> Task<DialogResult<Vec<PathBuf>>> {
    let opened = Instant::now();
    Task::perform(
        rfd::AsyncFileDialog::new()
            .set_title("Share files with everyone")
            .pick_files(),
        move |files| DialogResult {
            opened,
            chosen: files.map(|files| files.iter().map(|f| f.path().to_path_buf()).collect()),
        },
    )
}

/// Opens a one-file picker titled `title`.
pub fn pick_file(title: &str) -> Task<DialogResult<PathBuf>> {
    let opened = Instant::now();
    Task::perform(
        rfd::AsyncFileDialog::new().set_title(title).pick_file(),
        move |file| DialogResult {
            opened,
            chosen: file.map(|f| f.path().to_path_buf()),
        },
    )
}

/// Opens a folder picker titled `title`, starting in `start` if given.
pub fn pick_folder(title: &str, start: Option<PathBuf>) -> Task<DialogResult<PathBuf>> {
    let opened = Instant::now();
    let mut dialog = rfd::AsyncFileDialog::new().set_title(title);
    if let Some(folder) = start {
        dialog = dialog.set_directory(folder);
    }
    Task::perform(dialog.pick_folder(), move |folder| DialogResult {
        opened,
        chosen: folder.map(|f| f.path().to_path_buf()),
    })
}

/// Opens a save dialog proposing `name` in the user's downloads folder.
pub fn pick_save_path(name: String) -> Task<DialogResult<PathBuf>> {
    let opened = Instant::now();
    let mut dialog = rfd::AsyncFileDialog::new()
        .set_title("Save file as")
        .set_file_name(name);
    if let Some(folder) = dirs::download_dir() {
        dialog = dialog.set_directory(folder);
    }
    Task::perform(dialog.save_file(), move |file| DialogResult {
        opened,
        chosen: file.map(|f| f.path().to_path_buf()),
    })
}

/// A desktop notification's "Show" action, when the notification daemon offers actions:
/// choosing it sends `id` on `sender` (the screen's feed of chosen notifications).
#[derive(Debug, Clone)]
pub struct ShowAction {
    /// Where the choice is sent.
    pub sender: flume::Sender<u64>,
    /// Which notification it was.
    pub id: u64,
}

/// Shows a desktop notification from a thread of its own, so a slow or missing notification
/// service never holds up the window. With `show`, the notification offers "Show" (its
/// default action, what a click on it does where the daemon supports that); the thread waits
/// for the notification to be closed or acted on. Failures are logged and otherwise ignored.
pub fn notify(summary: String, body: String, show: Option<ShowAction>) {
    let _ = std::thread::Builder::new()
        .name("lanshare-notify".into())
        .spawn(move || {
            let mut notification = notify_rust::Notification::new();
            notification
                .appname("lanshare")
                .summary(&summary)
                .body(&body)
                .icon("document-send");
            if show.is_some() {
                notification.action("default", "Show");
            }
            match notification.show() {
                Ok(handle) => wait_for_show(handle, show),
                Err(error) => tracing::debug!("No desktop notification ({error})"),
            }
        });
}

/// Waits for the notification to be acted on; "Show" sends its id.
#[cfg(all(unix, not(target_os = "macos")))]
fn wait_for_show(handle: notify_rust::NotificationHandle, show: Option<ShowAction>) {
    let Some(show) = show else {
        return;
    };
    handle.wait_for_action(|action| {
        if action == "default" {
            let _ = show.sender.send(show.id);
        }
    });
}

/// Elsewhere the notification is shown without waiting for its action.
#[cfg(not(all(unix, not(target_os = "macos"))))]
fn wait_for_show(_handle: notify_rust::NotificationHandle, _show: Option<ShowAction>) {}

/// Brings the app's window to the front (after its notification was chosen).
pub fn bring_forward<T: Send + 'static>() -> Task<T> {
    iced::window::latest().then(|window| match window {
        Some(window) => iced::window::gain_focus(window),
        None => Task::none(),
    })
}

/// How the system opens a file, or shows it in its folder: the program and its arguments,
/// for `os` (as in `std::env::consts::OS`).
pub fn opener(path: &Path, reveal: bool, os: &str) -> (&'static str, Vec<OsString>) {
    match (os, reveal) {
        ("macos", false) => ("open", vec![path.into()]),
        ("macos", true) => ("open", vec!["-R".into(), path.into()]),
        ("windows", false) => ("explorer", vec![path.into()]),
        ("windows", true) => {
            let mut select = OsString::from("/select,");
            select.push(path);
            ("explorer", vec![select])
        }
        // Linux and the BSDs: the desktop's opener; for "show", the folder (xdg-open has no
        // way to select a file in it).
        (_, false) => ("xdg-open", vec![path.into()]),
        (_, true) => {
            let folder = path.parent().unwrap_or(path);
            ("xdg-open", vec![folder.into()])
        }
    }
}

/// Opens `path` with the system's program for it (or shows it in its folder, with `reveal`),
/// in a process of its own; says why not if the program could not be started.
pub fn open(path: &Path, reveal: bool) -> Result<(), String> {
    let (program, args) = opener(path, reveal, std::env::consts::OS);
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|error| format!("Could not run {program}: {error}"))?;
    // Reap it when it ends, so no zombie is left behind.
    let _ = std::thread::Builder::new()
        .name("lanshare-opener".into())
        .spawn(move || child.wait());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_opened_and_shown_with_each_systems_own_program() {
        let file = Path::new("/home/bob/Downloads/report.pdf");
        let linux = opener(file, false, "linux");
        assert_eq!(linux, ("xdg-open", vec![OsString::from(file)]));
        let folder = opener(file, true, "freebsd");
        assert_eq!(
            folder,
            ("xdg-open", vec![OsString::from("/home/bob/Downloads")])
        );
        assert_eq!(
            opener(file, true, "macos"),
            ("open", vec!["-R".into(), OsString::from(file)])
        );
        assert_eq!(
            opener(file, true, "windows"),
            (
                "explorer",
                vec![OsString::from("/select,/home/bob/Downloads/report.pdf")]
            )
        );
    }
}
