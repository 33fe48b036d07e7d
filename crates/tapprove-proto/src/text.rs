//! Bounds and character rules for the protocol's text fields.

use crate::error::{WireError, WireErrorKind};

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
