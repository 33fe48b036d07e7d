//! Every relative link in the README, ARCHITECTURE.md, CONTRIBUTING.md
//! and `docs/` resolves inside the
//! repository: the file exists, and a `#fragment` names one of its
//! headings (GitHub's anchor rules: lower case, punctuation dropped,
//! spaces as `-`). A newcomer who clones the repository follows no link
//! out of it (`../shared/` is not theirs).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The documents whose links are checked.
fn documents() -> Vec<PathBuf> {
    let mut docs = vec![
        repo().join("README.md"),
        repo().join("ARCHITECTURE.md"),
        repo().join("CONTRIBUTING.md"),
    ];
    for entry in std::fs::read_dir(repo().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            docs.push(path);
        }
    }
    docs.sort();
    docs
}

/// `[text](target)` targets, outside code spans and fenced blocks.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Drop inline code, where `](` is an example, not a link.
        let mut visible = String::new();
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                visible.push_str(part);
            }
        }
        let mut rest = visible.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            match after.find(')') {
                Some(end) => {
                    out.push(after[..end].trim().to_owned());
                    rest = &after[end..];
                }
                None => break,
            }
        }
    }
    out
}

/// GitHub's anchor for a heading.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(markdown: &str) -> Vec<String> {
    markdown
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| anchor(l.trim_start_matches('#')))
        .collect()
}

#[test]
fn every_relative_link_in_the_docs_resolves_inside_the_repository() {
    let root = repo().canonicalize().unwrap();
    let mut broken = Vec::new();
    let mut checked = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (file, fragment) = link.split_once('#').unwrap_or((&link, ""));
            let target = if file.is_empty() {
                doc.clone()
            } else {
                doc.parent().unwrap().join(file)
            };
            let Ok(resolved) = target.canonicalize() else {
                broken.push(format!("{}: `{link}`: no such file", doc.display()));
                continue;
            };
            if !resolved.starts_with(&root) {
                broken.push(format!("{}: `{link}` leaves the repository", doc.display()));
                continue;
            }
            if !fragment.is_empty() {
                let target_text = std::fs::read_to_string(&resolved).unwrap_or_default();
                if !anchors(&target_text).iter().any(|a| a == fragment) {
                    broken.push(format!("{}: `{link}`: no heading `#{fragment}`", doc.display()));
                }
            }
        }
    }
    assert!(
        checked > 5,
        "found only {checked} links: is the parser reading the docs?"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_checker_sees_links_and_anchors_as_github_does() {
    assert_eq!(
        links("see [a](docs/a.md) and `[not](x)` and [b](b.md#who-may-enrol-identity)"),
        ["docs/a.md", "b.md#who-may-enrol-identity"]
    );
    assert!(links("```\n[x](y)\n```").is_empty());
    assert_eq!(anchor("Who may enrol: `[identity]`"), "who-may-enrol-identity");
    assert_eq!(
        anchor("Only a verified result ends a gate"),
        "only-a-verified-result-ends-a-gate"
    );
}
