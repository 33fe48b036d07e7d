//! The direction of dependencies between Tapprove's crates
//! (ARCHITECTURE.md): each crate may depend only on the crates listed for
//! it here. A new edge fails this test until ARCHITECTURE.md and this
//! list agree that it belongs. The faces reach AWS, the session and the
//! keychain only through the engine.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

use std::collections::BTreeSet;

use tapprove_test_support::repo_root;

/// The app's core (and its agent) depends on the engine alone, and the
/// wire and settings types its screens show; never the adapters below the
/// engine.
const DESK: &[&str] = &["tapprove-proto", "tapprove-config", "tapprove-engine"];

/// The window shows what the core holds: it reaches nothing else but the
/// update settings.
const WINDOW: &[&str] = &["tapprove-config", "tapprove-desk"];

/// The CLI as the app, plus the pure core and the authenticators, which
/// its offline tools (`key`, `sign`, `verify`, `admin register`'s checks)
/// use without any service.
const CLI: &[&str] = &[
    "tapprove-proto",
    "tapprove-config",
    "tapprove-engine",
    "tapprove-core",
    "tapprove-authn",
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
    ("crates/tapprove-cli", CLI),
    ("crates/tapprove-desk", DESK),
    ("src-tauri", WINDOW),
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

/// The top-level module a source file belongs to (`src/enrol.rs` and
/// `src/enrol/x.rs` → `enrol`); `None` for the crate root.
fn module_of(relative: &std::path::Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?.to_owned();
    let name = first.trim_end_matches(".rs").to_owned();
    (name != "lib" && name != "main").then_some(name)
}

/// The top-level names a piece of Rust text reaches through `crate::`:
/// `crate::a::b` → `a`, `crate::{a::x, b}` → `a`, `b`.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        // `tapprove_crate::` or `$crate::` is not this crate.
        if text[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        {
            continue;
        }
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.insert(ident(&group[start..i]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(&group[start..i]));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest));
        }
    }
    out.retain(|name| !name.is_empty());
    out
}

/// Each top-level module's edges to the crate's other top-level modules.
fn module_graph(src: &std::path::Path) -> std::collections::BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|f| module_of(f.strip_prefix(src).unwrap()))
        .collect();
    let mut graph = std::collections::BTreeMap::<String, BTreeSet<String>>::new();
    for file in &files {
        let Some(from) = module_of(file.strip_prefix(src).unwrap()) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        let edges = graph.entry(from.clone()).or_default();
        for to in crate_paths(&text) {
            if to != from && modules.contains(&to) {
                edges.insert(to);
            }
        }
    }
    graph
}

/// A cycle in `graph`, as the modules along it, if there is one.
fn find_cycle(graph: &std::collections::BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &std::collections::BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

/// No two modules of a crate import each other, directly or around a
/// loop (ARCHITECTURE.md): a module's `crate::x` paths are its edges.
#[test]
fn no_crate_has_an_import_cycle_among_its_modules() {
    let mut problems = Vec::new();
    for (dir, _) in ALLOWED {
        let src = repo_root().join(dir).join("src");
        if let Some(cycle) = find_cycle(&module_graph(&src)) {
            problems.push(format!("{dir}: {}", cycle.join(" → ")));
        }
    }
    assert!(problems.is_empty(), "import cycles: {problems:?}");
}

#[test]
fn the_cycle_check_reads_paths_and_finds_loops() {
    assert_eq!(
        crate_paths(
            "use crate::a::X; use crate::{b::{C, D}, c};\nlet _ = crate::d::f(); tapprove_crate::e; $crate::f"
        ),
        ["a", "b", "c", "d"].map(String::from).into_iter().collect()
    );
    let graph = |edges: &[(&str, &str)]| {
        let mut g = std::collections::BTreeMap::<String, BTreeSet<String>>::new();
        for (a, b) in edges {
            g.entry((*a).to_owned()).or_default().insert((*b).to_owned());
            g.entry((*b).to_owned()).or_default();
        }
        g
    };
    assert_eq!(find_cycle(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])), None);
    assert_eq!(
        find_cycle(&graph(&[("a", "b"), ("b", "c"), ("c", "a")])),
        Some(["a", "b", "c", "a"].map(String::from).to_vec())
    );
}
