//! Where downloads land: safe names, no silent overwrites, nothing left behind on failure.
//!
//! A download is written to `<destination>.part`, checked against the size and SHA-256 the
//! host listed, and only then given its final name.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use super::{Error, FileEntry, TransferConnection};
use crate::writeback::WritebackFile;

/// Where to save a download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Into this folder under the file's (made safe) name; if that name is taken, as
    /// `name (1).ext`, `name (2).ext`, …
    Folder(PathBuf),
    /// At exactly this path; an existing file there is replaced only if `overwrite`.
    Path {
        /// The file to write.
        path: PathBuf,
        /// Whether an existing file may be replaced.
        overwrite: bool,
    },
}

/// Names Windows reserves for devices, in any case and with any extension.
const RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Longest saved name, in bytes (most file systems allow 255; `.part` and ` (n)` need room).
const MAX_SAVED_NAME: usize = 200;

/// Turns a name from the network into one that is safe to create in a folder on any OS:
/// no path separators, no `..`, no control or Windows-reserved characters, no reserved
/// device names, not empty, not too long.
pub fn safe_file_name(name: &str) -> String {
    let mut safe: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    // Leading dots would hide the file or make it `.`/`..`; trailing dots and spaces are
    // dropped by Windows.
    safe = safe.trim_start_matches(['.', ' ']).to_owned();
    safe = safe.trim_end_matches(['.', ' ']).to_owned();
    let stem = safe.split('.').next().unwrap_or_default().trim_end();
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem)) {
        safe.insert(0, '_');
    }
    if safe.is_empty() {
        safe = "download".to_owned();
    }
    truncate_keeping_extension(&safe, MAX_SAVED_NAME)
}

/// Shortens `name` to at most `max` bytes on a character boundary, keeping a short extension.
fn truncate_keeping_extension(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let (stem, extension) = match name.rfind('.') {
        Some(at) if name.len() - at <= 16 => (&name[..at], &name[at..]),
        _ => (name, ""),
    };
    let mut cut = max - extension.len();
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{extension}", &stem[..cut])
}

/// `name (n).ext` for the n-th alternative of `name`.
fn numbered(name: &str, n: usize) -> String {
    match name.rfind('.') {
        Some(at) if at > 0 => format!("{} ({n}){}", &name[..at], &name[at..]),
        _ => format!("{name} ({n})"),
    }
}

fn part_path(path: &Path) -> PathBuf {
    let mut part = path.as_os_str().to_owned();
    part.push(".part");
    PathBuf::from(part)
}

/// A `.part` file that is removed when dropped unless it was moved into place.
struct PartFile {
    path: PathBuf,
    file: Option<File>,
}

impl Drop for PartFile {
    fn drop(&mut self) {
        self.file = None;
        let _ = fs::remove_file(&self.path);
    }
}

/// Picks the final path and creates its `.part` file.
fn reserve(destination: &Destination, name: &str) -> Result<(PathBuf, PartFile), Error> {
    match destination {
        Destination::Folder(folder) => {
            let safe = safe_file_name(name);
            for n in 0..10_000 {
                let candidate = folder.join(if n == 0 {
                    safe.clone()
                } else {
                    numbered(&safe, n)
                });
                if candidate.exists() {
                    continue;
                }
                let part = part_path(&candidate);
                match OpenOptions::new().write(true).create_new(true).open(&part) {
                    Ok(file) => {
                        return Ok((
                            candidate,
                            PartFile {
                                path: part,
                                file: Some(file),
                            },
                        ));
                    }
                    Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
                    Err(error) => return Err(Error::local(&part, error)),
                }
            }
            Err(Error::Exists(folder.join(safe)))
        }
        Destination::Path { path, overwrite } => {
            if path.exists() && !overwrite {
                return Err(Error::Exists(path.clone()));
            }
            let part = part_path(path);
            let file = File::create(&part).map_err(|e| Error::local(&part, e))?;
            Ok((
                path.clone(),
                PartFile {
                    path: part,
                    file: Some(file),
                },
            ))
        }
    }
}

/// Moves a finished `.part` into place; without `overwrite`, never replaces a file that
/// appeared meanwhile.
fn finish(part: &Path, target: &Path, overwrite: bool) -> Result<(), Error> {
    if overwrite {
        return fs::rename(part, target).map_err(|e| Error::local(target, e));
    }
    match fs::hard_link(part, target) {
        Ok(()) => {
            let _ = fs::remove_file(part);
            Ok(())
        }
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            Err(Error::Exists(target.to_path_buf()))
        }
        // File systems without hard links: check, then rename.
        Err(_) if !target.exists() => fs::rename(part, target).map_err(|e| Error::local(target, e)),
        Err(_) => Err(Error::Exists(target.to_path_buf())),
    }
}

/// Downloads `entry` over `connection` to `destination`, verified against the listed size and
/// SHA-256. Returns where it was saved. On any failure nothing is left at the destination.
pub fn download_file(
    connection: &mut TransferConnection,
    entry: &FileEntry,
    destination: &Destination,
    progress: &mut dyn FnMut(u64),
    cancel: &AtomicBool,
) -> Result<PathBuf, Error> {
    let (target, mut part) = reserve(destination, &entry.name)?;
    let file = part.file.take().ok_or(Error::Cancelled)?;
    // Bytes arrive in large chunks, so they are written as they come, without a buffer; the
    // file goes to disk while it fills, so the sync below is short.
    let mut writer = WritebackFile::new(file);
    let downloaded = connection.download(entry.id, &mut writer, progress, cancel)?;
    if downloaded.size != entry.size || downloaded.sha256 != entry.sha256 {
        return Err(Error::Corrupt {
            name: entry.name.clone(),
        });
    }
    writer.sync().map_err(|e| Error::local(&part.path, e))?;
    drop(writer);
    let overwrite = matches!(
        destination,
        Destination::Path {
            overwrite: true,
            ..
        }
    );
    finish(&part.path, &target, overwrite)?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dangerous_names_become_safe() {
        assert_eq!(safe_file_name("report.pdf"), "report.pdf");
        assert_eq!(safe_file_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_file_name(".."), "download");
        assert_eq!(safe_file_name("..\\..\\boot.ini"), "_.._boot.ini");
        assert_eq!(safe_file_name("a\nb\tc"), "a_b_c");
        assert_eq!(safe_file_name("CON"), "_CON");
        assert_eq!(safe_file_name("nul.txt"), "_nul.txt");
        assert_eq!(safe_file_name("com1 .txt"), "_com1 .txt");
        assert_eq!(safe_file_name("console.txt"), "console.txt");
        assert_eq!(safe_file_name("what?.txt"), "what_.txt");
        assert_eq!(safe_file_name("trailing. . "), "trailing");
        assert_eq!(safe_file_name(""), "download");
        assert_eq!(safe_file_name("😀 photo.jpg"), "😀 photo.jpg");
    }

    #[test]
    fn long_names_keep_their_extension() {
        let long = format!("{}.tar.gz", "é".repeat(300));
        let safe = safe_file_name(&long);
        assert!(safe.len() <= MAX_SAVED_NAME);
        assert!(safe.ends_with(".gz"));
    }

    #[test]
    fn numbered_alternatives() {
        assert_eq!(numbered("report.pdf", 1), "report (1).pdf");
        assert_eq!(numbered("README", 2), "README (2)");
    }
}
