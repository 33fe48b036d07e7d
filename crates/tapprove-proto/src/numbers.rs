//! Numbers every JSON reader reads alike (I-JSON, RFC 7493 section 2.2).
//!
//! A request's `details` are shown by the app (JavaScript: IEEE doubles),
//! signed over their RFC 8785 encoding (which writes numbers as doubles),
//! and used by the workflow (which may keep more precision). A literal a
//! double cannot hold, `9007199254740993` or
//! `0.1000000000000000055511151231257827`, would be shown as one value,
//! signed as another and acted on as a third. Such a literal is refused;
//! the workflow sends the value as a string instead.
//!
//! The check reads the raw text: parsed into a double, the excess
//! precision is already gone.

/// The first number literal in the JSON text `json` (outside strings)
/// whose value is not exactly the shortest decimal of its nearest double,
/// or that a double cannot hold at all.
pub fn inexact_number(json: &[u8]) -> Option<String> {
    let mut i = 0;
    let mut in_string = false;
    while i < json.len() {
        let b = json[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < json.len() && matches!(json[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                    i += 1;
                }
                let literal = String::from_utf8_lossy(&json[start..i]).into_owned();
                if !exact(&literal) {
                    return Some(literal);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// Whether the decimal `literal` is exactly what its nearest double's
/// shortest decimal says.
fn exact(literal: &str) -> bool {
    let Ok(double) = literal.parse::<f64>() else {
        return false;
    };
    if !double.is_finite() {
        return false;
    }
    let shortest = format!("{double:e}");
    match (decimal(literal), decimal(&shortest)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// `text` (`-12.50e3`, `1.25e4`) as (negative, significant digits without
/// leading or trailing zeros, power of ten of the last digit); zero is
/// `(false, "", 0)` whatever its sign.
fn decimal(text: &str) -> Option<(bool, String, i64)> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], rest[at + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let digits = format!("{int}{frac}");
    let mut power = exponent.checked_sub(i64::try_from(frac.len()).ok()?)?;
    let trimmed = digits.trim_start_matches('0');
    let significant = trimmed.trim_end_matches('0');
    if significant.is_empty() {
        return Some((false, String::new(), 0));
    }
    power = power.checked_add(i64::try_from(trimmed.len() - significant.len()).ok()?)?;
    Some((negative, significant.to_owned(), power))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_a_double_holds_pass_and_others_are_named() {
        for ok in [
            r#"{"n": 1, "m": -0, "f": 0.1, "g": 1.0, "h": 1E2, "i": 9007199254740992, "j": 0.30000000000000004, "k": 5e-324, "l": -1.5e300}"#,
            r#"{"s": "9007199254740993 in a string is text", "e": "\"12345678901234567890\""}"#,
            r#"[1, 2.5, null, true]"#,
        ] {
            assert_eq!(inexact_number(ok.as_bytes()), None, "{ok}");
        }
        for (bad, literal) in [
            (r#"{"n": 9007199254740993}"#, "9007199254740993"),
            (
                r#"{"a": [1, {"b": -18446744073709551617}]}"#,
                "-18446744073709551617",
            ),
            (
                r#"{"f": 0.1000000000000000055511151231257827}"#,
                "0.1000000000000000055511151231257827",
            ),
            (r#"{"big": 1e400}"#, "1e400"),
            (
                r#"{"x": "\\", "n": 12345678901234567891}"#,
                "12345678901234567891",
            ),
        ] {
            assert_eq!(inexact_number(bad.as_bytes()).as_deref(), Some(literal), "{bad}");
        }
    }
}
