//! The UI reveals exactly the characters every other face reveals: the
//! character class of `CONTROL` in `ui/src/lib/text.ts` is
//! `tapprove_proto::text::HIDDEN_CHARACTERS` plus the control characters
//! other than tab and line feed (and lone surrogates, which Rust strings
//! cannot hold).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

use std::collections::BTreeSet;

use tapprove_test_support::repo_root;

/// The code points of a JavaScript regex character class body:
/// `\uXXXX`, `\u{X…}`, and ranges of them.
fn class_code_points(class: &str) -> BTreeSet<u32> {
    fn one(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> u32 {
        assert_eq!(chars.next(), Some('\\'), "only escapes are expected in the class");
        assert_eq!(chars.next(), Some('u'));
        let hex: String = if chars.peek() == Some(&'{') {
            chars.next();
            chars.by_ref().take_while(|&c| c != '}').collect()
        } else {
            chars.by_ref().take(4).collect()
        };
        u32::from_str_radix(&hex, 16).unwrap()
    }
    let mut set = BTreeSet::new();
    let mut chars = class.chars().peekable();
    while chars.peek().is_some() {
        let low = one(&mut chars);
        let high = if chars.peek() == Some(&'-') {
            chars.next();
            one(&mut chars)
        } else {
            low
        };
        set.extend(low..=high);
    }
    set
}

#[test]
fn the_ui_reveals_the_same_characters_as_the_cli_the_tray_and_the_notifications() {
    let text = std::fs::read_to_string(repo_root().join("ui/src/lib/text.ts")).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("/[") && l.contains("]|\\p{Cs}/u"))
        .expect("ui/src/lib/text.ts has no CONTROL character class");
    let class = &line[line.find("/[").unwrap() + 2..line.find("]|").unwrap()];
    let ui = class_code_points(class);

    let mut rust: BTreeSet<u32> = (0..=0x10FFFF)
        .filter_map(char::from_u32)
        .filter(|&c| tapprove_proto::text::is_hidden(c) || (c.is_control() && c != '\n' && c != '\t'))
        .map(u32::from)
        .collect();
    let only_ui: Vec<String> = ui.difference(&rust).map(|c| format!("U+{c:04X}")).collect();
    let only_rust: Vec<String> = rust.difference(&ui).map(|c| format!("U+{c:04X}")).collect();
    assert!(
        only_ui.is_empty() && only_rust.is_empty(),
        "the UI marks {only_ui:?} that the other faces do not, and not {only_rust:?} that they do: change both lists"
    );
    // The comparison is over something: the lists are not empty.
    rust.retain(|&c| c == 0x202E || c == 0xE0041);
    assert_eq!(rust.len(), 2);
}
