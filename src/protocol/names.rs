//! Names people read: display names and file names from the network.
//!
//! Some characters draw nothing (zero-width spaces, soft hyphens, joiners, the byte order
//! mark…) or reorder the text around them (the bidirectional controls, such as U+202E, which
//! turns `a\u{202e}txt.sh` into what reads as `ahs.txt`). They are removed from every name that is
//! kept, shown or saved. Display names are then compared by how they look, not by their code
//! points: `Alice`, `alice`, `Alіce` (Cyrillic і), `Αlice` (Greek Alpha) and `Ａｌｉｃｅ`
//! (full width) are all the same name.

use unicode_normalization::UnicodeNormalization;
use unicode_security::skeleton;

/// Characters that draw nothing or change how the text around them is laid out: Unicode's
/// default-ignorable code points (which include every bidirectional control, zero-width
/// character, variation selector and tag), the interlinear annotation marks, and the line and
/// paragraph separators.
const HIDDEN: &[(char, char)] = &[
    ('\u{ad}', '\u{ad}'),
    ('\u{34f}', '\u{34f}'),
    ('\u{61c}', '\u{61c}'),
    ('\u{115f}', '\u{1160}'),
    ('\u{17b4}', '\u{17b5}'),
    ('\u{180b}', '\u{180f}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{2028}', '\u{202e}'),
    ('\u{2060}', '\u{206f}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{fe00}', '\u{fe0f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{ffa0}', '\u{ffa0}'),
    ('\u{fff0}', '\u{fffb}'),
    ('\u{1bca0}', '\u{1bca3}'),
    ('\u{1d173}', '\u{1d17a}'),
    ('\u{e0000}', '\u{e0fff}'),
];

/// True for a character that draws nothing or reorders the text around it (the list in
/// `HIDDEN`): such characters are removed from names before they are kept, shown or compared.
pub fn is_hidden(c: char) -> bool {
    HIDDEN
        .binary_search_by(|&(first, last)| {
            if last < c {
                std::cmp::Ordering::Less
            } else if first > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// `text` without the characters that draw nothing or reorder text ([`is_hidden`]): how a
/// name from the network is shown, and what a saved file name starts from.
pub fn visible_text(text: &str) -> String {
    text.chars().filter(|&c| !is_hidden(c)).collect()
}

/// A display name as the host keeps and shows it: [`visible_text`], trimmed.
pub fn clean_name(name: &str) -> String {
    visible_text(name).trim().to_owned()
}

/// What a display name is compared by: its confusable skeleton (Unicode TR39) after NFKC
/// normalisation, with and without case folding.
///
/// Both are kept because the skeleton maps some capitals to small letters (capital `I` and
/// small `l` look alike): folding case first makes `ALICE` match `Alice`, and the skeleton of
/// the name as given makes `AIice` (capital I) match it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameKey {
    folded: String,
    as_given: String,
}

impl NameKey {
    /// The key of `name`.
    pub fn of(name: &str) -> Self {
        let normalised: String = visible_text(name).nfkc().collect();
        let normalised = clean_name(&normalised);
        Self {
            folded: skeleton(&normalised.to_lowercase()).collect(),
            as_given: skeleton(&normalised).collect(),
        }
    }

    /// True if the names behind the two keys look alike.
    pub fn looks_like(&self, other: &NameKey) -> bool {
        self.folded == other.folded || self.as_given == other.as_given
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_look_alike(a: &str, b: &str) -> bool {
        NameKey::of(a).looks_like(&NameKey::of(b))
    }

    #[test]
    fn look_alikes_of_a_name_are_the_same_name() {
        for name in [
            "Alice",
            "alice",
            "ALICE",
            "Al\u{456}ce",
            "\u{391}lice",
            "Alice\u{200b}",
            "\u{ff21}\u{ff4c}\u{ff49}\u{ff43}\u{ff45}",
            " Alice",
            "Alice\u{a0}",
            "A\u{202e}lice",
            "A\u{ad}lice",
            "AIice",
            "\u{391}LICE",
        ] {
            assert!(names_look_alike(name, "Alice"), "{name:?}");
        }
    }

    #[test]
    fn different_names_stay_different() {
        for name in ["Alicia", "Bob", "Alice2", "Ali", "Élise", "Алиса"] {
            assert!(!names_look_alike(name, "Alice"), "{name:?}");
        }
        assert!(!names_look_alike("Zoë", "Zoe"), "a diacritic is visible");
    }

    #[test]
    fn hidden_characters_go_and_names_are_trimmed() {
        assert_eq!(visible_text("a\u{202e}txt.sh"), "atxt.sh");
        assert_eq!(
            visible_text("\u{feff}x\u{2066}y\u{2069}\u{200e}z\u{e0041}"),
            "xyz"
        );
        assert_eq!(clean_name(" \u{200b}Alice\u{200f} "), "Alice");
        assert_eq!(clean_name("Zoë 😀"), "Zoë 😀");
    }

    #[test]
    fn the_hidden_table_is_sorted_and_covers_the_bidi_controls() {
        assert!(HIDDEN.windows(2).all(|pair| pair[0].1 < pair[1].0));
        assert!(HIDDEN.iter().all(|(first, last)| first <= last));
        for c in ('\u{202a}'..='\u{202e}').chain('\u{2066}'..='\u{2069}') {
            assert!(is_hidden(c), "{c:?}");
        }
        for c in [
            '\u{200e}', '\u{200f}', '\u{61c}', '\u{200b}', '\u{200d}', '\u{feff}',
        ] {
            assert!(is_hidden(c), "{c:?}");
        }
        for c in ['a', ' ', 'é', '😀', '\u{2027}', '\u{2030}'] {
            assert!(!is_hidden(c), "{c:?}");
        }
    }
}
