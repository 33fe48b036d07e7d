//! The direction of dependencies between Tapprove's crates
//! (ARCHITECTURE.md): each crate may depend only on the crates listed for
//! it here. A new edge fails this test until ARCHITECTURE.md and this
//! list agree that it belongs; the faces' lists shrink as their calls
//! move into the engine.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

use std::collections::BTreeSet;

use tapprove_test_support::repo_root;

/// What a face may depend on today: the engine, and the adapters it still
/// calls directly (to move behind the engine); never the verifier.
const FACE: &[&str] = &[
    "tapprove-proto",
    "tapprove-core",
    "tapprove-config",
    "tapprove-aws",
    "tapprove-authn",
    "tapprove-session",
    "tapprove-keychain",
    "tapprove-engine",
];

/// Each crate's manifest, and the Tapprove crates its `[dependencies]`
/// may name.
const ALLOWED: &[(&str, &[&str])] = &[
    ("crates/tapprove-proto", &[]),
    ("crates/tapprove-core", &["tapprove-proto"]),
    ("crates/tapprove-keychain", &[]),
    ("crates/tapprove-config", &["tapprove-proto", "tapprove-core"]),
    (
        "crates/tapprove-aws",
        &["tapprove-proto", "tapprove-core", "tapprove-config"],
    ),
    (
        "crates/tapprove-authn",
        &["tapprove-proto", "tapprove-core", "tapprove-keychain"],
    ),
    (
        "crates/tapprove-session",
        &[
            "tapprove-proto",
            "tapprove-core",
            "tapprove-config",
            "tapprove-aws",
            "tapprove-keychain",
        ],
    ),
    // The cloud side carries no client code: no engine, session,
    // authenticators or keychain.
    (
        "crates/tapprove-verifier",
        &[
            "tapprove-proto",
            "tapprove-core",
            "tapprove-config",
            "tapprove-aws",
        ],
    ),
    (
        "crates/tapprove-engine",
        &[
            "tapprove-proto",
            "tapprove-core",
            "tapprove-config",
            "tapprove-aws",
            "tapprove-authn",
            "tapprove-session",
            "tapprove-keychain",
        ],
    ),
    ("crates/tapprove-cli", FACE),
    ("src-tauri", FACE),
];

/// The `tapprove-*` names in a manifest's `[dependencies]` table (not
/// dev- or build-dependencies: tests may reach anywhere).
fn dependencies(manifest: &str) -> BTreeSet<String> {
    let mut section = String::new();
    let mut out = BTreeSet::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line.to_owned();
            continue;
        }
        if section == "[dependencies]"
            && let Some(name) = line.split(['.', '=', ' ']).next()
            && name.starts_with("tapprove-")
        {
            out.insert(name.to_owned());
        }
    }
    out
}

#[test]
fn each_crate_depends_only_on_the_layers_below_it() {
    let mut problems = Vec::new();
    for (dir, allowed) in ALLOWED {
        let manifest = std::fs::read_to_string(repo_root().join(dir).join("Cargo.toml")).unwrap();
        let allowed: BTreeSet<String> = allowed.iter().map(|s| (*s).to_owned()).collect();
        for extra in dependencies(&manifest).difference(&allowed) {
            problems.push(format!("{dir} depends on {extra}"));
        }
    }
    assert!(
        problems.is_empty(),
        "dependencies against the layering of ARCHITECTURE.md: {problems:?}"
    );
}

#[test]
fn every_workspace_crate_is_in_the_list() {
    let root = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    let listed: BTreeSet<&str> = ALLOWED.iter().map(|(dir, _)| *dir).collect();
    for member in root
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("\"crates/") || *l == "\"src-tauri\",")
        .map(|l| l.trim_matches(|c| c == '"' || c == ','))
    {
        assert!(listed.contains(member), "{member} has no place in the layering");
    }
}

#[test]
fn the_check_reads_dependencies_as_cargo_does() {
    let manifest = "[package]\nname = \"x\"\n[dependencies]\ntapprove-core.workspace = true\ntapprove-aws = { path = \"../a\" }\nserde = \"1\"\n[dev-dependencies]\ntapprove-engine.workspace = true\n";
    assert_eq!(
        dependencies(manifest),
        ["tapprove-aws", "tapprove-core"]
            .map(String::from)
            .into_iter()
            .collect()
    );
}
