//! A file's category, judged by the host from the bytes it received and the file's name: the
//! first bytes of the common formats first (so a renamed picture is still a picture), then
//! the extension.

use crate::protocol::Category;

/// How many of a file's first bytes [`categorize`] looks at.
pub const HEAD_BYTES: usize = 16;

/// Extensions of formats whose first bytes [`sniff`] knows: a file named so whose bytes do not
/// match is not believed (a text file renamed `.png` is no picture).
const SIGNED_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "pdf", "zip", "gz", "tgz", "mp3", "ogg", "mp4", "m4a",
];

/// The category of a file named `name` whose content starts with `head`.
pub fn categorize(name: &str, head: &[u8]) -> Category {
    if let Some(category) = sniff(head) {
        return category;
    }
    let extension = name
        .rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase())
        .unwrap_or_default();
    if SIGNED_EXTENSIONS.contains(&extension.as_str()) {
        return Category::Other;
    }
    by_extension(&extension)
}

/// The category the first bytes show, for formats with a well-known signature.
fn sniff(head: &[u8]) -> Option<Category> {
    const SIGNATURES: &[(&[u8], Category)] = &[
        (b"\x89PNG\r\n\x1a\n", Category::Images),
        (b"\xff\xd8\xff", Category::Images),
        (b"GIF87a", Category::Images),
        (b"GIF89a", Category::Images),
        (b"%PDF-", Category::Documents),
        (b"PK\x03\x04", Category::Archives),
        (b"PK\x05\x06", Category::Archives),
        (b"\x1f\x8b", Category::Archives),
        (b"ID3", Category::Audio),
        (b"OggS", Category::Audio),
        (b"fLaC", Category::Audio),
    ];
    if let Some((_, category)) = SIGNATURES
        .iter()
        .find(|(signature, _)| head.starts_with(signature))
    {
        return Some(*category);
    }
    // An MP3 frame without an ID3 tag starts with an 11-bit sync word.
    if let [0xff, second, ..] = head
        && second & 0xe0 == 0xe0
    {
        return Some(Category::Audio);
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" {
        return match &head[8..12] {
            b"WEBP" => Some(Category::Images),
            b"WAVE" => Some(Category::Audio),
            b"AVI " => Some(Category::Video),
            _ => None,
        };
    }
    // MP4, MOV, M4A: an `ftyp` box first.
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return Some(match &head[8..12] {
            b"M4A " | b"M4B " => Category::Audio,
            _ => Category::Video,
        });
    }
    None
}

/// The category a file name's extension (in lower case) suggests.
fn by_extension(extension: &str) -> Category {
    let is = |list: &[&str]| list.contains(&extension);
    if is(&[
        "txt", "md", "pdf", "doc", "docx", "odt", "rtf", "xls", "xlsx", "ods", "ppt", "pptx",
        "odp", "csv", "epub", "tex",
    ]) {
        Category::Documents
    } else if is(&[
        "png", "jpg", "jpeg", "gif", "webp", "bmp", "svg", "tif", "tiff", "heic", "ico",
    ]) {
        Category::Images
    } else if is(&["mp3", "ogg", "oga", "flac", "wav", "m4a", "aac", "opus"]) {
        Category::Audio
    } else if is(&["mp4", "mkv", "mov", "avi", "webm", "m4v", "mpg", "mpeg"]) {
        Category::Video
    } else if is(&["zip", "tar", "gz", "tgz", "bz2", "xz", "7z", "rar", "zst"]) {
        Category::Archives
    } else if is(&[
        "rs", "py", "c", "h", "cpp", "hpp", "js", "ts", "java", "go", "rb", "sh", "toml", "json",
        "yaml", "yml", "html", "css", "kt", "swift", "sql",
    ]) {
        Category::Code
    } else {
        Category::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_wins_over_the_name() {
        assert_eq!(
            categorize("notes.txt", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Category::Images
        );
        assert_eq!(categorize("a.bin", b"%PDF-1.7\n"), Category::Documents);
        assert_eq!(categorize("x", b"PK\x03\x04\x14\0"), Category::Archives);
        assert_eq!(categorize("x", b"\x1f\x8b\x08\0"), Category::Archives);
        assert_eq!(categorize("x", b"ID3\x04\0"), Category::Audio);
        assert_eq!(categorize("x", b"\xff\xfb\x90\x64"), Category::Audio);
        assert_eq!(categorize("x", b"OggS\0\x02"), Category::Audio);
        assert_eq!(categorize("x", b"RIFF\0\0\0\0WEBPVP8 "), Category::Images);
        assert_eq!(categorize("x", b"\0\0\0\x18ftypmp42"), Category::Video);
        assert_eq!(categorize("x", b"\0\0\0\x18ftypM4A "), Category::Audio);
        assert_eq!(categorize("x", b"GIF89a"), Category::Images);
        assert_eq!(categorize("x", b"\xff\xd8\xff\xe0"), Category::Images);
    }

    #[test]
    fn the_extension_when_the_content_says_nothing() {
        assert_eq!(categorize("main.RS", b"fn main() {}"), Category::Code);
        assert_eq!(categorize("plan.docx", b""), Category::Documents);
        assert_eq!(categorize("clip.mkv", b"\x1aE\xdf\xa3"), Category::Video);
        assert_eq!(categorize("README", b"hello"), Category::Other);
        assert_eq!(categorize("fake.png", b"hello"), Category::Other);
        assert_eq!(categorize("fake.PDF", b"MZ\x90\0"), Category::Other);
    }
}
