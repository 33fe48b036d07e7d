//! Where results go and how they read: human text or one JSON object
//! (`--json`), failures, the code table, and request text on one line with
//! hidden characters shown, for every command.

#![allow(clippy::print_stdout)]

use serde_json::{Value, json};
use tapprove_core::Code;

use crate::exit::Failure;

/// Where results go: human text, or one JSON object on stdout (`--json`).
#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Prints a result: `value` in JSON mode, `human` otherwise.
    pub fn result(&self, value: Value, human: impl FnOnce() -> String) {
        if self.json {
            println!("{value}");
        } else {
            println!("{}", human());
        }
    }

    /// Prints JSON whatever the mode (documents such as a decision).
    pub fn document(&self, text: &str) {
        println!("{text}");
    }

    /// An event of `inbox --watch`: a JSON line, or a line for people.
    pub fn event(&self, value: &Value, human: &str) {
        if self.json {
            println!("{value}");
        } else {
            println!("{human}");
        }
    }

    /// A progress line for people; silent in JSON mode.
    pub fn note(&self, text: &str) {
        if !self.json {
            eprintln!("{text}");
        }
    }

    pub fn failure(&self, failure: &Failure) {
        if self.json {
            let mut v = json!({"ok": false, "code": failure.code, "message": failure.message});
            if let Some(rule) = failure.rule {
                v["rule"] = rule.into();
            }
            println!("{v}");
        } else if let Some(rule) = failure.rule {
            eprintln!("rejected ({}, rule {rule}): {}", failure.code, failure.message);
        } else {
            eprintln!("error: {}", failure.message);
        }
    }

    pub fn codes(&self) {
        if self.json {
            let list: Vec<Value> = Code::ALL
                .iter()
                .map(|c| json!({"code": c.as_str(), "rule": c.rule(), "description": c.description()}))
                .collect();
            println!("{}", Value::Array(list));
        } else {
            for c in Code::ALL {
                println!("{:<30} rule {}  {}", c.as_str(), c.rule(), c.description());
            }
        }
    }
}

/// Request content on one line of at most `n` characters, every hidden or
/// control character shown as a marker (`⟨U+202E⟩`), so it can neither move
/// the terminal's cursor nor hide or reorder what the approver reads.
pub fn truncate(text: &str, n: usize) -> String {
    tapprove_proto::text::one_line(text, n)
}
