//! The shared library's extras on the wire: a file's category, its tags, how long it lives,
//! and which extra lines a lanshare client asks for (`FEATURES`). Seed clients never see any
//! of it (PROTOCOL.md, *Expiry* and *Categories and tags*).

use std::fmt;

use super::constants::FileId;
use super::error::{ProtocolError, shorten_for_message};
use super::escape::{escape, unescape};

/// What kind of file it is, as the host judged from its first bytes and its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Text, PDF, office documents.
    Documents,
    /// Pictures.
    Images,
    /// Sound.
    Audio,
    /// Films and clips.
    Video,
    /// Zip, tar, gzip and the like.
    Archives,
    /// Source code and scripts.
    Code,
    /// Anything else.
    Other,
}

impl Category {
    /// Every category, in the order lists and chips show them.
    pub const ALL: [Self; 7] = [
        Self::Documents,
        Self::Images,
        Self::Audio,
        Self::Video,
        Self::Archives,
        Self::Code,
        Self::Other,
    ];

    /// Its word on the wire and on the command line: `documents`, `images`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Documents => "documents",
            Self::Images => "images",
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Archives => "archives",
            Self::Code => "code",
            Self::Other => "other",
        }
    }

    /// The category a word names (any case), if any.
    pub fn from_word(word: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|category| category.as_str().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Most tags one file may carry.
pub const MAX_TAGS: usize = 8;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 32;

/// Why tags were refused, in words for the sharer (and the host's `ERROR`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    /// More than [`MAX_TAGS`] tags.
    #[error("Too many tags: at most {MAX_TAGS} per file")]
    TooMany,
    /// A tag longer than [`MAX_TAG_CHARS`].
    #[error("Tag '{0}' is too long: at most {MAX_TAG_CHARS} characters")]
    TooLong(String),
    /// A tag with a character other than letters, digits, `-`, `_` and `.`.
    #[error("Tag '{0}' may hold only letters, digits, '-', '_' and '.'")]
    BadCharacter(String),
}

/// A file's tags: at most [`MAX_TAGS`], each 1 to [`MAX_TAG_CHARS`] letters, digits, `-`, `_`
/// or `.`, kept in lower case, without repeats, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Tags(Vec<String>);

impl Tags {
    /// Reads tags separated by commas (`slides, Week3`); blanks between commas are skipped.
    pub fn parse(text: &str) -> Result<Self, TagError> {
        let mut tags: Vec<String> = Vec::new();
        for tag in text.split(',').map(str::trim).filter(|tag| !tag.is_empty()) {
            let tag = tag.to_lowercase();
            if tag.chars().count() > MAX_TAG_CHARS {
                return Err(TagError::TooLong(shorten_for_message(tag.as_bytes())));
            }
            if !tag
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return Err(TagError::BadCharacter(shorten_for_message(tag.as_bytes())));
            }
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        if tags.len() > MAX_TAGS {
            return Err(TagError::TooMany);
        }
        Ok(Self(tags))
    }

    /// The tags, in order.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// True without any tag.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether it carries `tag` (compared in lower case).
    pub fn contains(&self, tag: &str) -> bool {
        let tag = tag.trim().to_lowercase();
        self.0.contains(&tag)
    }
}

impl fmt::Display for Tags {
    /// The tags as sent: separated by commas, nothing between.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(","))
    }
}

/// Longest lifetime a sharer may ask for: ten years (a host's `--max-expiry` cuts it further).
pub const MAX_EXPIRY_SECS: u64 = 10 * 365 * 24 * 3600;

/// How long the sharer wants a file to live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Expiry {
    /// As the host decides (`--expire-after`, else forever).
    #[default]
    HostDefault,
    /// Until deleted (a host's `--max-expiry` still applies).
    Never,
    /// This many seconds after it is stored (1 to [`MAX_EXPIRY_SECS`]).
    After(u64),
}

/// What the sharer asks for the next upload on a connection (`UPLOAD_OPTIONS`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ShareOptions {
    /// How long the file should live.
    pub expiry: Expiry,
    /// Its tags.
    pub tags: Tags,
    /// Who may see it besides the sharer and the operator; `None`: everyone (for a new
    /// version: as the file was).
    pub only: Option<Audience>,
    /// The file it is a new version of, whatever its name (`version-of`); only that file's
    /// sharer and the host's operator may add one. `None`: a version only of a file its
    /// sharer shares under the same name.
    pub version_of: Option<FileId>,
}

/// Which lines beyond the seed's a client asks the host for (`FEATURES`); words the host does
/// not know are ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Features {
    /// `file-info`: a `FILE_INFO` line with each listed or offered file, and before `STORED`.
    pub file_info: bool,
    /// `access`: a `FILE_ACCESS` line after the `FILE_INFO` of each restricted file the
    /// participant shared (all of them, for the operator).
    pub access: bool,
    /// `versions`: a `FILE_VERSIONS` line with each listed or offered file that has more than
    /// one version.
    pub versions: bool,
    /// `comments`: each listed or offered file's comments (`COMMENT_ADDED` lines), and comments
    /// as they are added and deleted.
    pub comments: bool,
    /// `previews`: a `FILE_PREVIEW` line with each listed or offered file whose preview is
    /// made, and one when a preview is made later.
    pub previews: bool,
    /// `direct`: files shared directly (listed and offered with a `FILE_STATE` line after
    /// their `FILE_INFO`), which are kept from sessions that did not ask.
    pub direct: bool,
}

impl Features {
    /// Everything this lanshare understands.
    pub const ALL: Self = Self {
        file_info: true,
        access: true,
        versions: true,
        comments: true,
        previews: true,
        direct: true,
    };
}

/// `FILE_INFO:<file_id>:<category>:<expires_in_ms>:<tags>`: a file's library details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// The file.
    pub file_id: FileId,
    /// Its category.
    pub category: Category,
    /// Milliseconds until it expires, counted when the line was sent; `None`: never.
    pub expires_in_ms: Option<u64>,
    /// Its tags.
    pub tags: Tags,
}

/// Reads a category word.
pub(super) fn parse_category(text: &[u8]) -> Result<Category, ProtocolError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(Category::from_word)
        .filter(|category| category.as_str().as_bytes() == text)
        .ok_or_else(|| ProtocolError::BadValue {
            field: "category",
            value: shorten_for_message(text),
        })
}

/// Reads a tag field (empty for none).
pub(super) fn parse_tags(text: &[u8]) -> Result<Tags, ProtocolError> {
    let text = std::str::from_utf8(text).map_err(|_| ProtocolError::NotUtf8)?;
    let tags = Tags::parse(text).map_err(|error| ProtocolError::BadTags(error.to_string()))?;
    // Only the canonical form is taken, so that what is read encodes back the same.
    if tags.to_string() != text {
        return Err(ProtocolError::BadTags(
            "send them in lower case, once each, separated by single commas".to_owned(),
        ));
    }
    Ok(tags)
}

/// Reads an expiry request: empty (the host's default), `never`, or seconds.
pub(super) fn parse_expiry(text: &[u8]) -> Result<Expiry, ProtocolError> {
    match text {
        b"" => Ok(Expiry::HostDefault),
        b"never" => Ok(Expiry::Never),
        digits => {
            let bad = || ProtocolError::BadValue {
                field: "expiry",
                value: shorten_for_message(digits),
            };
            let secs: u64 = std::str::from_utf8(digits)
                .ok()
                .filter(|text| text.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|text| text.parse().ok())
                .ok_or_else(bad)?;
            if secs == 0 || secs > MAX_EXPIRY_SECS {
                return Err(bad());
            }
            Ok(Expiry::After(secs))
        }
    }
}

/// An expiry request as sent.
pub(super) fn encode_expiry(expiry: Expiry) -> String {
    match expiry {
        Expiry::HostDefault => String::new(),
        Expiry::Never => "never".to_owned(),
        Expiry::After(secs) => secs.to_string(),
    }
}

/// Reads a `FEATURES` field: words separated by commas, unknown ones ignored.
pub(super) fn parse_features(text: &[u8]) -> Features {
    let mut features = Features::default();
    for word in text.split(|&b| b == b',') {
        match word {
            b"file-info" => features.file_info = true,
            b"access" => features.access = true,
            b"versions" => features.versions = true,
            b"comments" => features.comments = true,
            b"previews" => features.previews = true,
            b"direct" => features.direct = true,
            _ => {}
        }
    }
    features
}

/// The words of `features`, as sent.
pub(super) fn encode_features(features: Features) -> String {
    let mut words = Vec::new();
    if features.file_info {
        words.push("file-info");
    }
    if features.access {
        words.push("access");
    }
    if features.versions {
        words.push("versions");
    }
    if features.comments {
        words.push("comments");
    }
    if features.previews {
        words.push("previews");
    }
    if features.direct {
        words.push("direct");
    }
    words.join(",")
}

/// Most participants one file may be restricted to.
pub const MAX_AUDIENCE: usize = 64;

/// Why a list of names was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudienceError {
    /// A blank name between commas.
    #[error("A name in the list is empty")]
    EmptyName,
    /// More than [`MAX_AUDIENCE`] names.
    #[error("Too many names: a file may be restricted to at most {MAX_AUDIENCE} participants")]
    TooMany,
}

/// The participants a file is restricted to, by the names they had when it was shared or its
/// list last changed (PROTOCOL.md, *Who may see a file*); the sharer and the host's operator
/// may always see it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Audience(Vec<String>);

impl Audience {
    /// A list of these names (none empty, at most [`MAX_AUDIENCE`]), in the order given.
    pub fn new(names: Vec<String>) -> Result<Self, AudienceError> {
        if names.iter().any(|name| name.trim().is_empty()) {
            return Err(AudienceError::EmptyName);
        }
        if names.len() > MAX_AUDIENCE {
            return Err(AudienceError::TooMany);
        }
        Ok(Self(names))
    }

    /// Reads names as people type them: separated by commas (`bob, carol`), trimmed, each once.
    pub fn parse_list(text: &str) -> Result<Self, AudienceError> {
        let mut names: Vec<String> = Vec::new();
        for name in text.split(',').map(str::trim) {
            if name.is_empty() {
                return Err(AudienceError::EmptyName);
            }
            if !names.iter().any(|known| known == name) {
                names.push(name.to_owned());
            }
        }
        Self::new(names)
    }

    /// The names, in order.
    pub fn names(&self) -> &[String] {
        &self.0
    }

    /// True without any name (only the sharer and the operator may see the file).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Audience {
    /// The names as people read them: `bob, carol`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

/// The names of an audience as sent: each escaped (its commas as `%2C` too), separated by
/// commas; empty for none.
pub(super) fn encode_audience(audience: &Audience) -> String {
    audience
        .names()
        .iter()
        .map(|name| escape(name).replace(',', "%2C"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads an audience field: escaped names separated by commas; empty for none.
pub(super) fn parse_audience(text: &[u8]) -> Result<Audience, ProtocolError> {
    if text.is_empty() {
        return Ok(Audience::default());
    }
    let names = text
        .split(|&b| b == b',')
        .map(unescape)
        .collect::<Result<Vec<_>, _>>()?;
    Audience::new(names).map_err(|error| ProtocolError::BadAudience(error.to_string()))
}

/// `VERSION:<file_id>:<number>:<size>:<uploaded_at_ms>:<sha256>:<check>`: one kept version of a
/// file, in the answer to `VERSIONS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// The file.
    pub file_id: FileId,
    /// The version's number (1 for the first).
    pub number: u32,
    /// Its size in bytes.
    pub size: u64,
    /// When it was stored, milliseconds since the Unix epoch (UTC).
    pub uploaded_at_ms: i64,
    /// SHA-256 of its bytes.
    pub sha256: super::values::Sha256Digest,
    /// Its transfer check.
    pub check: super::values::TransferCheck,
}

/// Longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 1000;
/// Most comments one file keeps.
pub const MAX_COMMENTS: usize = 100;

/// `COMMENT_ADDED:<file_id>:<comment_id>:<author_id>:<author_name>:<at_ms>:<text>`: a comment on
/// a file, listed with it or sent when added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentInfo {
    /// The file.
    pub file_id: FileId,
    /// The comment's number on the file (from 1, never reused).
    pub comment_id: u64,
    /// Its author's client id.
    pub author_id: super::constants::ClientId,
    /// Its author's name when it was written.
    pub author_name: String,
    /// When it was written, milliseconds since the Unix epoch (UTC).
    pub at_ms: i64,
    /// What it says.
    pub text: String,
}

/// Why a comment's text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommentError {
    /// Nothing but white space.
    #[error("A comment cannot be empty")]
    Empty,
    /// Longer than [`MAX_COMMENT_CHARS`].
    #[error("A comment may be at most {MAX_COMMENT_CHARS} characters ({0} given)")]
    TooLong(usize),
}

/// The text of a comment as kept: trimmed, its control characters (line breaks included) as
/// spaces, 1 to [`MAX_COMMENT_CHARS`] characters.
pub fn comment_text(text: &str) -> Result<String, CommentError> {
    let text: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let chars = text.chars().count();
    if chars == 0 {
        return Err(CommentError::Empty);
    }
    if chars > MAX_COMMENT_CHARS {
        return Err(CommentError::TooLong(chars));
    }
    Ok(text)
}
