//! Previews on the wire: what kind a file's preview is (`FILE_PREVIEW`, `PREVIEW_DATA`) and how
//! large one may be (PROTOCOL.md, *Previews*).

use std::fmt;

use super::error::{ProtocolError, shorten_for_message};

/// Largest preview a host sends and a client accepts: a 256 × 256 thumbnail encoded as PNG
/// stays well under it, and a text preview is at most 4 KiB.
pub const MAX_PREVIEW_BYTES: u64 = 1024 * 1024;

/// What a preview's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PreviewKind {
    /// A PNG thumbnail whose longest side is at most 256 pixels.
    Png,
    /// The first lines of a text file, as UTF-8.
    Text,
}

impl PreviewKind {
    /// Its word on the wire: `png` or `text`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Text => "text",
        }
    }

    /// The kind a word names (exactly, in lower case), if any.
    pub fn from_word(word: &str) -> Option<Self> {
        [Self::Png, Self::Text]
            .into_iter()
            .find(|kind| kind.as_str() == word)
    }
}

impl fmt::Display for PreviewKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reads a preview kind word.
pub(super) fn parse_preview_kind(text: &[u8]) -> Result<PreviewKind, ProtocolError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(PreviewKind::from_word)
        .ok_or_else(|| ProtocolError::BadValue {
            field: "preview kind",
            value: shorten_for_message(text),
        })
}

/// Reads a preview's size: at most [`MAX_PREVIEW_BYTES`].
pub(super) fn check_preview_size(size: u64) -> Result<u64, ProtocolError> {
    if size > MAX_PREVIEW_BYTES {
        return Err(ProtocolError::BadValue {
            field: "preview size",
            value: size.to_string(),
        });
    }
    Ok(size)
}
