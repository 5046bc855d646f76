//! Why a line could not be parsed, in the words the host sends back.

use super::constants::MAX_LINE_BYTES;

/// Why a line could not be parsed. The text is what the host sends back after `ERROR:`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The line was empty.
    #[error("Empty command")]
    Empty,
    /// The line was longer than [`MAX_LINE_BYTES`].
    #[error("Command line too long (max {MAX_LINE_BYTES} bytes)")]
    TooLong,
    /// The line, or a field after unescaping, was not UTF-8.
    #[error("Command is not valid UTF-8")]
    NotUtf8,
    /// The first word is not a command of this protocol.
    #[error("Unknown command '{0}'")]
    UnknownCommand(String),
    /// The seed's reply to an `UPLOAD` line with missing fields.
    #[error("Invalid upload command")]
    InvalidUpload,
    /// A command lacked one of its fields.
    #[error("Invalid {command} command: missing {field}")]
    MissingField {
        /// The command word.
        command: &'static str,
        /// The missing field's name.
        field: &'static str,
    },
    /// A numeric field was not a non-negative integer that fits in 64 bits.
    #[error("Invalid {field} '{value}': expected a whole number from 0 to 18446744073709551615")]
    BadNumber {
        /// The field's name.
        field: &'static str,
        /// The text received (shortened).
        value: String,
    },
    /// A hex field had the wrong length or characters.
    #[error("Invalid {field}: expected {digits} hex digits")]
    BadHex {
        /// The field's name.
        field: &'static str,
        /// How many hex digits were expected.
        digits: usize,
    },
    /// Tags that break the rules (PROTOCOL.md, *Categories and tags*).
    #[error("Invalid tags: {0}")]
    BadTags(String),
    /// A list of names that breaks the rules (PROTOCOL.md, *Who may see a file*).
    #[error("Invalid list of names: {0}")]
    BadAudience(String),
    /// A field had a value outside its allowed set.
    #[error("Invalid {field} '{value}'")]
    BadValue {
        /// The field's name.
        field: &'static str,
        /// The text received (shortened).
        value: String,
    },
}

/// Shortens untrusted text for an error message: at most 40 characters, no control characters.
pub(super) fn shorten_for_message(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text
        .chars()
        .take(40)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > 40 {
        out.push('…');
    }
    out
}
