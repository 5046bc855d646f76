//! Escaping of free-text fields (file names, user names) inside `:`-separated lines.
//!
//! A byte that the line format cannot carry — `%`, `:`, and the ASCII control characters
//! (0x00–0x1F, 0x7F) — is written as `%XX` (two upper-case hex digits). Every other byte is
//! written as is, so a plain name such as `report.pdf` is byte-identical to the seed's format.
//! Decoding is lenient toward clients written from the seed, which never escape: a `%` that is
//! not followed by two hex digits stands for itself.

use super::error::ProtocolError;

/// True for a byte that must be written as `%XX` inside a field.
fn needs_escape(byte: u8) -> bool {
    byte == b'%' || byte == b':' || byte < 0x20 || byte == 0x7f
}

/// Escapes `text` so it can stand as one field of a protocol line.
pub fn escape(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if ch.is_ascii() && needs_escape(ch as u8) {
            let byte = ch as u8;
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        } else {
            out.push(ch);
        }
    }
    out
}

/// Value of one ASCII hex digit.
fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Reverses [`escape`]. Fails only when the decoded bytes are not UTF-8.
pub fn unescape(field: &[u8]) -> Result<String, ProtocolError> {
    let mut out = Vec::with_capacity(field.len());
    let mut index = 0;
    while index < field.len() {
        let byte = field[index];
        if byte == b'%'
            && index + 2 < field.len()
            && let (Some(high), Some(low)) =
                (hex_value(field[index + 1]), hex_value(field[index + 2]))
        {
            out.push(high << 4 | low);
            index += 3;
            continue;
        }
        out.push(byte);
        index += 1;
    }
    String::from_utf8(out).map_err(|_| ProtocolError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_unchanged() {
        for name in ["report.pdf", "my file (1).tar.gz", "日本語.txt", "😀.png"] {
            assert_eq!(escape(name), name);
        }
    }

    #[test]
    fn separators_percent_and_controls_are_escaped() {
        assert_eq!(escape("a:b%c\nd\re\u{7f}"), "a%3Ab%25c%0Ad%0De%7F");
    }

    #[test]
    fn unescape_reverses_escape() {
        let name = "100%: done\n\t😀";
        assert_eq!(
            unescape(escape(name).as_bytes()).ok(),
            Some(name.to_owned())
        );
    }

    #[test]
    fn lone_percent_from_seed_clients_is_literal() {
        assert_eq!(
            unescape(b"50% off.txt").ok(),
            Some("50% off.txt".to_owned())
        );
        assert_eq!(unescape(b"end%").ok(), Some("end%".to_owned()));
        assert_eq!(unescape(b"end%4").ok(), Some("end%4".to_owned()));
        assert_eq!(unescape(b"%zz").ok(), Some("%zz".to_owned()));
    }

    #[test]
    fn invalid_utf8_is_rejected() {
        assert!(matches!(unescape(b"%FF%FE"), Err(ProtocolError::NotUtf8)));
        assert!(matches!(unescape(&[0xc3]), Err(ProtocolError::NotUtf8)));
    }
}
