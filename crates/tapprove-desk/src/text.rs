//! Request text outside the webview (tray menu, notifications) is shown
//! through here: one line, bounded, with invisible and direction-changing
//! characters made visible (`tapprove_proto::text::one_line`, the one list
//! every face uses), so a title cannot hide or reorder what the approver
//! reads; notification bodies also have their markup escaped.

pub use tapprove_proto::text::one_line;

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
