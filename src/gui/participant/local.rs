//! The participant's own files: what a chosen or dropped path shares, and where downloads go
//! when no save dialog can be shown. Both touch the file system, so the screen runs them in
//! tasks, never in `update`.

use std::path::{Path, PathBuf};

/// Most files one dropped or chosen folder may add.
pub const MAX_FOLDER_FILES: usize = 10_000;

/// A file to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// Where it is.
    pub path: PathBuf,
    /// The name it is shared under: its file name, or its path inside a shared folder.
    pub name: String,
    /// Its size when it was listed (0 if it could not be read).
    pub size: u64,
}

/// What the chosen or dropped paths share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadList {
    /// These files, in this order.
    Files(Vec<LocalFile>),
    /// More than [`MAX_FOLDER_FILES`]: this many (or more), so none is shared.
    TooMany(usize),
}

/// Lists the files `paths` share: a file itself, a folder every file in it, named by its path
/// inside (e.g. `photos/2024/a.jpg`).
pub fn list_uploads(paths: Vec<PathBuf>) -> UploadList {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            collect_folder(&path, &mut files);
        } else {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            files.push((path, name));
        }
    }
    if files.len() > MAX_FOLDER_FILES {
        return UploadList::TooMany(files.len());
    }
    UploadList::Files(
        files
            .into_iter()
            .map(|(path, name)| {
                let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                LocalFile { path, name, size }
            })
            .collect(),
    )
}

/// Where downloads go when no save dialog can be shown: the user's downloads folder (made if
/// missing), else the home folder's `Downloads`, else the temporary folder.
pub fn downloads_folder() -> PathBuf {
    let folder = dirs::download_dir()
        .or_else(|| dirs::home_dir().map(|home| home.join("Downloads")))
        .unwrap_or_else(std::env::temp_dir);
    match std::fs::create_dir_all(&folder) {
        Ok(()) => folder,
        Err(_) => std::env::temp_dir(),
    }
}

/// Adds every file under `folder`, named by its path from the folder (e.g. `photos/2024/a.jpg`).
fn collect_folder(folder: &Path, files: &mut Vec<(PathBuf, String)>) {
    let base = folder.parent().unwrap_or(folder);
    let mut pending = vec![folder.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if files.len() <= MAX_FOLDER_FILES {
                let name = path
                    .strip_prefix(base)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                files.push((path, name));
            }
        }
    }
    files.sort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_shares_every_file_in_it_by_its_path_inside() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let photos = dir.path().join("photos");
        std::fs::create_dir_all(photos.join("2024"))?;
        std::fs::write(photos.join("2024/a.jpg"), b"abc")?;
        std::fs::write(photos.join("b.jpg"), b"de")?;
        let single = dir.path().join("notes.txt");
        std::fs::write(&single, b"x")?;
        let listed = list_uploads(vec![photos.clone(), single.clone()]);
        let expected = vec![
            LocalFile {
                path: photos.join("2024/a.jpg"),
                name: "photos/2024/a.jpg".into(),
                size: 3,
            },
            LocalFile {
                path: photos.join("b.jpg"),
                name: "photos/b.jpg".into(),
                size: 2,
            },
            LocalFile {
                path: single,
                name: "notes.txt".into(),
                size: 1,
            },
        ];
        assert_eq!(listed, UploadList::Files(expected));
        Ok(())
    }
}
