//! The user's lanshare folder: identity and remembered choices, shared by the command line
//! and the desktop app.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::protocol::MAX_USERNAME_CHARS;

/// Environment variable that moves the config folder (for tests, or several identities).
pub const CONFIG_DIR_ENV: &str = "LANSHARE_CONFIG_DIR";

/// The config folder: `$LANSHARE_CONFIG_DIR`, else the platform's (`~/.config/lanshare` on
/// Linux, `%APPDATA%\lanshare` on Windows, `~/Library/Application Support/lanshare` on macOS).
pub fn config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(CONFIG_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::config_dir()
        .map(|dir| dir.join("lanshare"))
        .unwrap_or_else(|| PathBuf::from(".lanshare"))
}

/// Choices remembered between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// The display name used last.
    #[serde(default)]
    pub username: Option<String>,
    /// The host joined last (`HOST` or `HOST:PORT`).
    #[serde(default)]
    pub last_host: Option<String>,
    /// Whether the desktop app was last used as host.
    #[serde(default)]
    pub hosting: Option<bool>,
    /// Where the desktop app's host keeps files.
    #[serde(default)]
    pub host_store: Option<HostStore>,
    /// The largest file the desktop app's host accepts, in bytes.
    #[serde(default)]
    pub host_max_file_size: Option<u64>,
    /// The port the desktop app's host listens on, if the user chose one.
    #[serde(default)]
    pub host_port: Option<u16>,
    /// The colours the desktop app draws in.
    #[serde(default)]
    pub theme: Option<ThemeChoice>,
}

/// Where the desktop app's host keeps files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostStore {
    /// In memory: lost when hosting stops.
    Memory,
    /// In this folder: kept across restarts.
    Folder(PathBuf),
}

/// The colours the desktop app draws in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeChoice {
    /// As the desktop prefers (dark when it does not say).
    #[default]
    System,
    /// Light text on dark.
    Dark,
    /// Dark text on light.
    Light,
}

impl Settings {
    fn path(dir: &Path) -> PathBuf {
        dir.join("settings.json")
    }

    /// Reads the settings; missing or unreadable settings give the defaults.
    pub fn load(dir: &Path) -> Self {
        fs::read(Self::path(dir))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Writes the settings (through a temporary file, so a crash never leaves half a file).
    pub fn save(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)?;
        let json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        let temp = dir.join("settings.json.tmp");
        fs::write(&temp, json)?;
        fs::rename(temp, Self::path(dir))
    }
}

/// Writes a secret (a key) to `path` so that only its owner can read it, never leaving a
/// half-written file in its place: a temporary file, synced, then renamed.
pub fn write_secret_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let mut temp_name = path.as_os_str().to_owned();
    temp_name.push(".tmp");
    let temp = PathBuf::from(temp_name);
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temp)?;
    io::Write::write_all(&mut file, contents)?;
    file.sync_all()?;
    fs::rename(&temp, path)
}

/// The name to show for this user: the one remembered, else the OS user name.
pub fn default_username(settings: &Settings) -> String {
    settings
        .username
        .clone()
        .filter(|name| crate::protocol::validate_username(name).is_ok())
        .unwrap_or_else(os_username)
}

/// The OS account name (or "participant" if none is known), cut to a valid length.
pub fn os_username() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok())
        .map(|name| {
            name.trim()
                .chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .map(|name| name.chars().take(MAX_USERNAME_CHARS).collect())
        .unwrap_or_else(|| "participant".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_default_when_missing() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        assert_eq!(Settings::load(dir.path()), Settings::default());
        let settings = Settings {
            username: Some("Zoë".into()),
            last_host: Some("10.0.0.2:5005".into()),
            hosting: Some(false),
            host_store: Some(HostStore::Folder(PathBuf::from("/srv/shared"))),
            host_max_file_size: Some(1 << 30),
            host_port: Some(6000),
            theme: Some(ThemeChoice::Light),
        };
        settings.save(dir.path())?;
        assert_eq!(Settings::load(dir.path()), settings);
        assert_eq!(default_username(&settings), "Zoë");
        Ok(())
    }
}
