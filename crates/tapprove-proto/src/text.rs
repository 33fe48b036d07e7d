//! Bounds and character rules for the protocol's text fields.

use unicode_normalization::UnicodeNormalization;

use crate::error::{WireError, WireErrorKind};

/// Characters that change how text reads without showing themselves:
/// bidirectional controls, zero-width characters, tag characters, line and
/// paragraph separators, the soft hyphen, fillers, the combining grapheme
/// joiner, Khmer invisible vowels, interlinear annotations, Egyptian
/// hieroglyph format controls, shorthand format controls, musical symbol
/// format characters and variation selectors. Inclusive ranges. The one list: every face reveals these
/// ([`reveal`], [`one_line`]), self-approval ignores them
/// ([`canonical_principal`]), and the UI mirrors it (`ui/src/lib/text.ts`,
/// compared by `tests/hidden_characters.rs`).
pub const HIDDEN_CHARACTERS: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{2028}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0000}', '\u{E007F}'),
    ('\u{E0100}', '\u{E01EF}'),
];

/// Whether `c` is one of [`HIDDEN_CHARACTERS`].
pub fn is_hidden(c: char) -> bool {
    HIDDEN_CHARACTERS
        .iter()
        .any(|&(low, high)| (low..=high).contains(&c))
}

/// Whether a face shows `c` as a marker: a hidden character, or a control
/// character other than line feed and tab.
fn marked(c: char) -> bool {
    is_hidden(c) || (c.is_control() && c != '\n' && c != '\t')
}

/// The marker shown for a character that would otherwise hide: `⟨U+202E⟩`.
pub fn marker(c: char) -> String {
    format!("⟨U+{:04X}⟩", u32::from(c))
}

/// `text` with every hidden and control character but line feed and tab
/// shown as its [`marker`], so a request cannot hide or reorder what the
/// approver reads (a terminal would act on U+202E or an escape sequence).
pub fn reveal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if marked(c) {
            out.push_str(&marker(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` on one line of at most `max` characters (then `…`; a marker is
/// never cut), hidden characters and controls shown as markers, runs of
/// white space collapsed to one space.
pub fn one_line(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut last_space = false;
    for c in text.chars() {
        let piece = if c == '\n' || c == '\t' || c == ' ' {
            if last_space {
                continue;
            }
            last_space = true;
            " ".to_owned()
        } else if marked(c) {
            last_space = false;
            marker(c)
        } else {
            last_space = false;
            c.to_string()
        };
        let n = piece.chars().count();
        if count + n > max {
            out.push('…');
            return out;
        }
        out.push_str(&piece);
        count += n;
    }
    out
}

/// A principal's name as compared for identity (self-approval): NFKC,
/// hidden characters removed, lower-cased, surrounding white space
/// trimmed. `Alice@Example.com`, `ａｌｉｃｅ@example.com` and
/// `alice\u{200B}@example.com` are all `alice@example.com`.
pub fn canonical_principal(name: &str) -> String {
    let visible: String = name.nfkc().filter(|&c| !is_hidden(c)).collect();
    // Lower-casing can produce text NFKC would change again (rarely);
    // normalise once more so the result is a fixed point.
    visible
        .to_lowercase()
        .nfkc()
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Where a field may hold line breaks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lines {
    Single,
    Multi,
}

/// Checks a required text field: not empty, at most `max` characters, and no
/// control characters (but `\n` and `\t` where `lines` is [`Lines::Multi`]).
pub(crate) fn check(
    document: &'static str,
    field: &str,
    value: &str,
    max: usize,
    lines: Lines,
) -> Result<(), WireError> {
    if value.is_empty() {
        return Err(WireError::new(
            WireErrorKind::Malformed,
            document,
            field,
            "must not be empty",
        ));
    }
    let chars = value.chars().count();
    if chars > max {
        return Err(WireError::new(
            WireErrorKind::TooLarge,
            document,
            field,
            format!("{chars} characters, at most {max} allowed"),
        ));
    }
    let allowed = |c: char| lines == Lines::Multi && (c == '\n' || c == '\t');
    if let Some(c) = value.chars().find(|&c| c.is_control() && !allowed(c)) {
        return Err(WireError::new(
            WireErrorKind::Malformed,
            document,
            field,
            format!("contains the control character U+{:04X}", u32::from(c)),
        ));
    }
    Ok(())
}

/// Checks a byte field's length.
pub(crate) fn check_len(
    document: &'static str,
    field: &str,
    len: usize,
    min: usize,
    max: usize,
) -> Result<(), WireError> {
    if len > max {
        return Err(WireError::new(
            WireErrorKind::TooLarge,
            document,
            field,
            format!("{len} bytes, at most {max} allowed"),
        ));
    }
    if len < min {
        return Err(WireError::new(
            WireErrorKind::Malformed,
            document,
            field,
            format!("{len} bytes, at least {min} required"),
        ));
    }
    Ok(())
}

/// Group names become parts of activity names, queue names and table keys,
/// so they keep to a character set every one of those accepts.
pub(crate) fn check_group(document: &'static str, field: &str, value: &str) -> Result<(), WireError> {
    check(
        document,
        field,
        value,
        crate::limits::MAX_GROUP_CHARS,
        Lines::Single,
    )?;
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(WireError::new(
            WireErrorKind::Malformed,
            document,
            field,
            "a group name uses only letters, digits, `-`, `_` and `.`",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_compare_through_case_width_and_hidden_characters() {
        for variant in [
            "alice@example.com",
            "Alice@Example.COM",
            "alice\u{200B}@example.com",
            "\u{FF41}lice@example.com",
            "ali\u{00AD}ce@example.com",
            "\u{202E}alice@example.com",
            "alice@example.com\u{E0041}",
            " alice@example.com\u{FEFF}",
        ] {
            assert_eq!(canonical_principal(variant), "alice@example.com", "{variant:?}");
        }
        assert_ne!(canonical_principal("alice2@example.com"), "alice@example.com");
        assert!(is_hidden('\u{2067}') && is_hidden('\u{E007F}') && !is_hidden('a'));
    }

    #[test]
    fn hidden_characters_and_controls_are_shown_as_markers() {
        assert_eq!(
            reveal("Deploy \u{202E}dorp\u{202C}\nto \u{1B}[2Jstaging\u{200B}\u{E0041}\t!"),
            "Deploy ⟨U+202E⟩dorp⟨U+202C⟩\nto ⟨U+001B⟩[2Jstaging⟨U+200B⟩⟨U+E0041⟩\t!"
        );
        assert_eq!(reveal("plain عربي text"), "plain عربي text");
        assert_eq!(
            one_line("Deploy \u{202E}dorp\u{202C} to\nstaging\u{200B}", 200),
            "Deploy ⟨U+202E⟩dorp⟨U+202C⟩ to staging⟨U+200B⟩"
        );
        assert_eq!(one_line(&"a".repeat(100), 10), format!("{}…", "a".repeat(10)));
        // A marker is never cut in half.
        assert_eq!(one_line("abcdefgh\u{202E}", 10), "abcdefgh…");
    }
}
