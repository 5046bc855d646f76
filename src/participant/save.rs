//! Where downloads land: safe names, no silent overwrites, nothing left behind on failure.
//!
//! A download is written to `<destination>.part`, checked against the size and transfer check the
//! host listed (the SHA-256 if it listed no check), and only then given its final name. A `.part`
//! file left by a lost connection is continued by the next attempt at the same destination.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::Sha256;

use super::error::{Error, Verification};
use super::listing::FileEntry;
use super::transfer::{Delivered, TransferConnection};
use crate::pipeline::{CheckHash, StreamHash, hash_prefix};
use crate::protocol::visible_text;
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
/// device names, not empty, not too long. Characters that draw nothing or reorder the text
/// around them (bidirectional controls such as U+202E, zero-width characters…) are removed,
/// so the saved name reads as what it is: `a\u{202e}txt.sh` is saved as `atxt.sh`.
pub fn safe_file_name(name: &str) -> String {
    let mut safe: String = visible_text(name)
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

/// A `.part` file, locked while this download uses it, and removed when dropped unless it was
/// moved into place or is kept for resuming.
struct PartFile {
    path: PathBuf,
    file: Option<File>,
    keep: bool,
}

impl Drop for PartFile {
    fn drop(&mut self) {
        self.file = None;
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Opens the `.part` file at `path` for this download: a new one, or one left by an earlier
/// attempt (whose bytes are continued), unless another download holds it (`None`).
fn claim_part(path: &Path) -> io::Result<Option<File>> {
    let file = match OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
    {
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            OpenOptions::new().read(true).write(true).open(path)?
        }
        opened => opened?,
    };
    Ok(file.try_lock().is_ok().then_some(file))
}

/// Picks the final path and opens its `.part` file (continuing one an earlier attempt left).
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
                match claim_part(&part) {
                    Ok(Some(file)) => {
                        return Ok((
                            candidate,
                            PartFile {
                                path: part,
                                file: Some(file),
                                keep: false,
                            },
                        ));
                    }
                    // Another download is writing it.
                    Ok(None) => continue,
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
            let file = claim_part(&part)
                .and_then(|file| {
                    file.ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::ResourceBusy,
                            "another download is writing this file",
                        )
                    })
                })
                .map_err(|e| Error::local(&part, e))?;
            Ok((
                path.clone(),
                PartFile {
                    path: part,
                    file: Some(file),
                    keep: false,
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
/// transfer check, or the listed SHA-256 if the host listed no check. Returns where it was
/// saved.
///
/// A `.part` file left by an earlier attempt at the same destination is continued: its bytes
/// are hashed and only the rest is asked for. If the connection is lost, the `.part` file is
/// kept for the next attempt; on any other failure nothing is left at the destination. If a
/// continued download does not match, it starts over from the first byte once.
pub fn download_file(
    connection: &mut TransferConnection,
    entry: &FileEntry,
    destination: &Destination,
    progress: &mut dyn FnMut(u64),
    cancel: &AtomicBool,
) -> Result<PathBuf, Error> {
    let download = Download {
        connection,
        entry,
        destination,
        progress,
        cancel,
    };
    match entry.check {
        Some(check) => download.verified::<CheckHash>(check, Verification::TransferCheck),
        None => download.verified::<Sha256>(entry.sha256, Verification::Sha256),
    }
}

/// One call of [`download_file`].
struct Download<'a> {
    connection: &'a mut TransferConnection,
    entry: &'a FileEntry,
    destination: &'a Destination,
    progress: &'a mut dyn FnMut(u64),
    cancel: &'a AtomicBool,
}

impl Download<'_> {
    /// Downloads the file with its bytes hashed by `H`, which must give `expected` (the
    /// listed digest of the kind `checked`).
    fn verified<H>(self, expected: H::Output, checked: Verification) -> Result<PathBuf, Error>
    where
        H: StreamHash + Default,
        H::Output: PartialEq,
    {
        let Self {
            connection,
            entry,
            destination,
            progress,
            cancel,
        } = self;
        let (target, mut part) = reserve(destination, &entry.name)?;
        let mut file = part.file.take().ok_or(Error::Cancelled)?;
        let (offset, prefix) =
            kept_prefix::<H>(&mut file, entry.size).map_err(|e| Error::local(&part.path, e))?;
        // Bytes arrive in large chunks, so they are written as they come, without a buffer;
        // the file goes to disk while it fills, so the sync below is short.
        let mut writer = WritebackFile::new(file);
        let version = entry.details.version;
        let mut downloaded = connection.download_version_from(
            (entry.id, version, offset),
            prefix,
            &mut writer,
            progress,
            cancel,
        );
        let damaged = |downloaded: &Result<Delivered<H::Output>, Error>| matches!(downloaded, Ok(got) if got.size != entry.size || got.digest != expected);
        if offset > 0 && damaged(&downloaded) {
            // The kept bytes were not this file's (or were damaged): once more, from the start.
            writer
                .set_len(0)
                .and_then(|()| writer.seek(SeekFrom::Start(0)).map(drop))
                .map_err(|e| Error::local(&part.path, e))?;
            downloaded = connection.download_version_from(
                (entry.id, version, 0),
                H::default(),
                &mut writer,
                progress,
                cancel,
            );
        }
        if damaged(&downloaded) {
            return Err(Error::Corrupt {
                name: entry.name.clone(),
                checked,
            });
        }
        if let Err(error) = downloaded {
            part.keep = matches!(error, Error::ConnectionLost(_)) && !cancel.load(Ordering::SeqCst);
            return Err(error);
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
}

/// How many bytes of a `.part` file can be continued (none if it is longer than the file,
/// which cannot be this download's), with their hash by `H`; leaves the file positioned after
/// them.
fn kept_prefix<H: StreamHash + Default>(file: &mut File, size: u64) -> io::Result<(u64, H)> {
    let mut kept = file.metadata()?.len();
    if kept > size {
        file.set_len(0)?;
        kept = 0;
    }
    file.seek(SeekFrom::Start(0))?;
    let prefix = hash_prefix(H::default(), file, kept)?;
    Ok((kept, prefix))
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
    fn bidi_controls_and_invisible_characters_are_not_saved() {
        assert_eq!(safe_file_name("a\u{202e}txt.sh"), "atxt.sh");
        assert_eq!(safe_file_name("\u{2067}report\u{2069}.pdf"), "report.pdf");
        assert_eq!(safe_file_name("in\u{200b}voice\u{feff}.pdf"), "invoice.pdf");
        assert_eq!(safe_file_name("\u{200e}.hidden"), "hidden");
        assert_eq!(safe_file_name("\u{200b}"), "download");
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
