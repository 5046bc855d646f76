//! Which files the list shows and in what order: the filter (accent- and case-insensitive),
//! the sort (name, size, time, uploader; ties by name, so a batch keeps one order), and the
//! kind of each file for its badge.

use std::cmp::Ordering;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::participant::FileEntry;
use crate::protocol::Category;

/// What the list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKey {
    /// The file's name, A to Z.
    Name,
    /// Its size, largest first.
    Size,
    /// When it was shared (to the minute shown), newest first.
    Time,
    /// Who shared it, A to Z.
    Uploader,
}

impl SortKey {
    /// Every key, in the order the choices are shown.
    pub const ALL: [Self; 4] = [Self::Name, Self::Size, Self::Time, Self::Uploader];

    /// The choice's label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Name => "Name",
            Self::Size => "Size",
            Self::Time => "Time",
            Self::Uploader => "Uploader",
        }
    }

    /// Whether this key lists the largest or newest first when not reversed.
    fn descending(self) -> bool {
        matches!(self, Self::Size | Self::Time)
    }
}

/// The list's order: a key, and whether it is reversed (picking the key in use again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    /// What it sorts by.
    pub key: SortKey,
    /// Reversed from the key's natural direction.
    pub reversed: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Self {
            key: SortKey::Time,
            reversed: false,
        }
    }
}

impl Sort {
    /// The order after `key` was picked: that key, or the same key reversed.
    pub fn pick(self, key: SortKey) -> Self {
        Self {
            key,
            reversed: key == self.key && !self.reversed,
        }
    }

    /// An arrow saying which way the list runs (▼ largest, newest or Z first).
    pub fn arrow(self) -> &'static str {
        if self.key.descending() != self.reversed {
            "▼"
        } else {
            "▲"
        }
    }

    /// Compares two files for this order; ties go by name, then id, so files shared
    /// together keep one order whatever order they completed in.
    pub fn compare(self, a: &FileEntry, b: &FileEntry) -> Ordering {
        let by_key = match self.key {
            SortKey::Name => by_name(a, b),
            SortKey::Size => a.size.cmp(&b.size),
            SortKey::Time => minute(a).cmp(&minute(b)),
            SortKey::Uploader => fold(&a.uploader).cmp(&fold(&b.uploader)),
        };
        let by_key = if self.key.descending() {
            by_key.reverse()
        } else {
            by_key
        };
        let by_key = if self.reversed {
            by_key.reverse()
        } else {
            by_key
        };
        by_key
            .then_with(|| by_name(a, b))
            .then_with(|| a.id.cmp(&b.id))
    }
}

/// The minute a file was shared: what the list shows, so files shared in one go tie.
fn minute(file: &FileEntry) -> i64 {
    file.uploaded_at.timestamp().div_euclid(60)
}

fn by_name(a: &FileEntry, b: &FileEntry) -> Ordering {
    fold(&a.name).cmp(&fold(&b.name))
}

/// `text` for comparing as people read it: accents dropped (by Unicode decomposition),
/// lower case, so "Résumé" and "resume" are the same.
pub fn fold(text: &str) -> String {
    text.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether `file` passes `filter` (already folded): its name or its uploader contains it.
pub fn passes(file: &FileEntry, folded_filter: &str) -> bool {
    folded_filter.is_empty()
        || fold(&file.name).contains(folded_filter)
        || fold(&file.uploader).contains(folded_filter)
}

/// What kind of file a name is, for its badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// PDF, text, office documents.
    Document,
    /// Pictures.
    Image,
    /// Sound.
    Audio,
    /// Video.
    Video,
    /// Archives and disk images.
    Archive,
    /// Source code and data.
    Code,
    /// Anything else.
    Other,
}

impl FileKind {
    /// The kind of a file: the host's category if it sent one, else what its name says.
    pub fn of_file(file: &FileEntry) -> Self {
        match file.details.category {
            Some(Category::Documents) => Self::Document,
            Some(Category::Images) => Self::Image,
            Some(Category::Audio) => Self::Audio,
            Some(Category::Video) => Self::Video,
            Some(Category::Archives) => Self::Archive,
            Some(Category::Code) => Self::Code,
            Some(Category::Other) => Self::Other,
            None => Self::of(&file.name),
        }
    }

    /// The kind `name`'s extension says.
    pub fn of(name: &str) -> Self {
        let extension = name
            .rsplit_once('.')
            .map(|(_, extension)| extension.to_ascii_lowercase())
            .unwrap_or_default();
        match extension.as_str() {
            "pdf" | "txt" | "md" | "doc" | "docx" | "odt" | "rtf" | "xls" | "xlsx" | "ods"
            | "ppt" | "pptx" | "odp" | "csv" | "epub" => Self::Document,
            "jpg" | "jpeg" | "png" | "gif" | "webp" | "bmp" | "svg" | "heic" | "tif" | "tiff"
            | "raw" => Self::Image,
            "mp3" | "wav" | "flac" | "ogg" | "m4a" | "aac" | "opus" => Self::Audio,
            "mp4" | "mkv" | "mov" | "avi" | "webm" | "m4v" => Self::Video,
            "zip" | "tar" | "gz" | "tgz" | "xz" | "bz2" | "7z" | "rar" | "zst" | "iso" | "dmg" => {
                Self::Archive
            }
            "rs" | "py" | "js" | "ts" | "c" | "h" | "cpp" | "go" | "java" | "sh" | "json"
            | "toml" | "yaml" | "yml" | "html" | "css" | "xml" | "sql" => Self::Code,
            _ => Self::Other,
        }
    }

    /// The badge's short label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Document => "DOC",
            Self::Image => "IMG",
            Self::Audio => "AUD",
            Self::Video => "VID",
            Self::Archive => "ZIP",
            Self::Code => "</>",
            Self::Other => "FILE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Sha256Digest;

    fn file(id: u64, name: &str, size: u64, uploader: &str, second: i64) -> FileEntry {
        FileEntry {
            id,
            name: name.into(),
            size,
            uploader: uploader.into(),
            uploader_id: 1,
            uploaded_at: chrono::DateTime::from_timestamp(1_800_000_000 + second, 0)
                .unwrap_or_default(),
            sha256: Sha256Digest([0; 32]),
            check: None,
            details: crate::participant::FileDetails::default(),
        }
    }

    fn names(files: &[FileEntry], sort: Sort) -> Vec<&str> {
        let mut sorted: Vec<&FileEntry> = files.iter().collect();
        sorted.sort_by(|a, b| sort.compare(a, b));
        sorted.iter().map(|f| f.name.as_str()).collect()
    }

    #[test]
    fn the_filter_ignores_accents_and_case() {
        let resume = file(1, "Résumé.PDF", 1, "Zoë", 0);
        assert!(passes(&resume, &fold("resume")));
        assert!(passes(&resume, &fold("RÉSUMÉ.pdf")));
        assert!(passes(&resume, &fold("zoe")));
        assert!(!passes(&resume, &fold("cv")));
    }

    #[test]
    fn a_batch_keeps_name_order_whatever_order_it_completed_in() {
        // Completed c, a, b within one minute; an older file from the minute before.
        let files = [
            file(1, "old.txt", 1, "A", -60),
            file(2, "c.jpg", 1, "A", 1),
            file(3, "a.jpg", 1, "A", 3),
            file(4, "b.jpg", 1, "A", 2),
        ];
        assert_eq!(
            names(&files, Sort::default()),
            ["a.jpg", "b.jpg", "c.jpg", "old.txt"]
        );
    }

    #[test]
    fn each_key_sorts_and_picking_it_again_reverses() {
        let files = [
            file(1, "b", 10, "Émile", 0),
            file(2, "a", 30, "zed", 0),
            file(3, "c", 20, "adam", 0),
        ];
        let by_name = Sort::default().pick(SortKey::Name);
        assert_eq!(names(&files, by_name), ["a", "b", "c"]);
        assert_eq!(names(&files, by_name.pick(SortKey::Name)), ["c", "b", "a"]);
        assert_eq!(names(&files, by_name.pick(SortKey::Size)), ["a", "c", "b"]);
        assert_eq!(
            names(&files, by_name.pick(SortKey::Uploader)),
            ["c", "b", "a"]
        );
    }

    #[test]
    fn kinds_come_from_the_extension() {
        assert_eq!(FileKind::of("Holiday.JPG"), FileKind::Image);
        assert_eq!(FileKind::of("report.pdf"), FileKind::Document);
        assert_eq!(FileKind::of("backup.tar.gz"), FileKind::Archive);
        assert_eq!(FileKind::of("Makefile"), FileKind::Other);
    }
}
