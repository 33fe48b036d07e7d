//! Bounds and character rules for the protocol's text fields.

use unicode_normalization::UnicodeNormalization;

use crate::error::{WireError, WireErrorKind};

/// Characters that change how text reads without showing themselves:
/// bidirectional controls, zero-width characters, tag characters, line and
/// paragraph separators, the soft hyphen, fillers, the combining grapheme
/// joiner and variation selectors. Inclusive ranges.
pub const HIDDEN_CHARACTERS: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{2028}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{2069}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{E0000}', '\u{E007F}'),
];

/// Whether `c` is one of [`HIDDEN_CHARACTERS`].
pub fn is_hidden(c: char) -> bool {
    HIDDEN_CHARACTERS
        .iter()
        .any(|&(low, high)| (low..=high).contains(&c))
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
}
