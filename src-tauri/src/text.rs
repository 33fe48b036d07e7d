//! Request text outside the webview (tray menu, notifications) is shown
//! through here: one line, bounded, with invisible and direction-changing
//! characters made visible, so a title cannot hide or reorder what the
//! approver reads.

/// Whether `c` could hide or reorder text: controls, bidi embeddings,
/// overrides and isolates, zero-width characters.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{061C}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}')
}

/// `text` on one line of at most `max` characters, hidden characters shown
/// as `⟨U+202E⟩`, whitespace runs collapsed.
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
        } else if is_hidden(c) {
            last_space = false;
            format!("⟨U+{:04X}⟩", u32::from(c))
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

/// Escapes the markup notification servers interpret in bodies
/// (`<b>`, `<a href>`, `<img>`): the text stays text.
pub fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `2026-11-21T14:05:00Z` → `14:05 UTC` (the date too when it is not
/// today's, given as `today`'s `YYYY-MM-DD`).
pub fn short_time(rfc3339: &str) -> String {
    short_time_on(
        rfc3339,
        &crate::state::system_time(std::time::SystemTime::now()).as_str()[..10],
    )
}

pub fn short_time_on(rfc3339: &str, today: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(day), Some(time)) if day == today => format!("{time} UTC"),
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => rfc3339.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_overrides_and_controls_become_visible() {
        let title = "Deploy \u{202E}dorp\u{202C} to\nstaging\u{200B}";
        assert_eq!(
            one_line(title, 200),
            "Deploy ⟨U+202E⟩dorp⟨U+202C⟩ to staging⟨U+200B⟩"
        );
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        let cut = one_line(&"a".repeat(100), 10);
        assert_eq!(cut, format!("{}…", "a".repeat(10)));
        // A marker is never cut in half.
        assert_eq!(one_line("abcdefgh\u{202E}", 10), "abcdefgh…");
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape_markup("<b>x</b> & <img src=x onerror=alert(1)>"),
            "&lt;b&gt;x&lt;/b&gt; &amp; &lt;img src=x onerror=alert(1)&gt;"
        );
    }

    #[test]
    fn deadlines_show_the_date_unless_today() {
        assert_eq!(short_time_on("2026-11-21T14:05:00Z", "2026-11-21"), "14:05 UTC");
        assert_eq!(
            short_time_on("2026-11-22T09:00:00Z", "2026-11-21"),
            "2026-11-22 09:00 UTC"
        );
    }
}
