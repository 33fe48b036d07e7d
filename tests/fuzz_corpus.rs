//! Replays the fuzz corpus (`fuzz/corpus/<target>/`) through the same entry
//! points the cargo-fuzz targets call (`tapprove_core::fuzzing::*`), on the
//! stable toolchain and in every ordinary `cargo test` run.
//!
//! What it protects: every parser of untrusted bytes (request/v1 and
//! approval/v1 JSON, authenticator data, COSE keys, attestation objects)
//! must reject bad input with an error, never panic. An input that once
//! crashed a target, or that reached a new path while fuzzing, stays in the
//! corpus, so a change that reintroduces a panic on it fails here without
//! anyone running the fuzzer. It also fails if a corpus directory goes
//! missing or empty, or if the corpus stops holding valid documents (the
//! seeds the fuzzer mutates from).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

use std::panic::catch_unwind;
use std::path::PathBuf;

use tapprove_core::webauthn::{AttestationObject, AuthenticatorData, CoseKey};
use tapprove_proto::{Decision, Request};
use tapprove_test_support::repo_root;

/// The files of one target's corpus, sorted; fails if there are none.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = repo_root().join("fuzz/corpus").join(target);
    assert!(dir.is_dir(), "fuzz corpus directory {} is missing", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "fuzz corpus directory {} is empty",
        dir.display()
    );
    files
        .into_iter()
        .map(|p| {
            let data = std::fs::read(&p).unwrap();
            (p, data)
        })
        .collect()
}

/// Feeds every file of `target`'s corpus to `entry`; returns one line per
/// file that panicked.
fn replay(target: &str, entry: fn(&[u8])) -> Vec<String> {
    let mut panics = Vec::new();
    for (path, data) in corpus(target) {
        if let Err(payload) = catch_unwind(|| entry(&data)) {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(non-string panic payload)".to_owned());
            panics.push(format!("{target}: {}: {message}", path.display()));
        }
    }
    panics
}

#[test]
fn no_corpus_input_panics() {
    let mut panics = replay("request", tapprove_core::fuzzing::request);
    panics.extend(replay("decision", tapprove_core::fuzzing::decision));
    panics.extend(replay(
        "authenticator_data",
        tapprove_core::fuzzing::authenticator_data,
    ));
    assert!(
        panics.is_empty(),
        "{} corpus input(s) panicked:\n{}",
        panics.len(),
        panics.join("\n")
    );
}

#[test]
fn corpus_keeps_valid_seeds() {
    let count =
        |target: &str, ok: fn(&[u8]) -> bool| corpus(target).iter().filter(|(_, data)| ok(data)).count();
    assert!(
        count("request", |d| Request::from_json(d).is_ok()) >= 1,
        "no file in fuzz/corpus/request is a valid request/v1 document"
    );
    assert!(
        count("decision", |d| Decision::from_json(d).is_ok()) >= 1,
        "no file in fuzz/corpus/decision is a valid approval/v1 document"
    );
    assert!(
        count("authenticator_data", |d| AuthenticatorData::parse(d).is_ok()) >= 1,
        "no file in fuzz/corpus/authenticator_data is valid authenticator data"
    );
    assert!(
        count("authenticator_data", |d| CoseKey::parse(d).is_ok()) >= 1,
        "no file in fuzz/corpus/authenticator_data is a valid COSE key"
    );
    assert!(
        count("authenticator_data", |d| AttestationObject::parse(d).is_ok()) >= 1,
        "no file in fuzz/corpus/authenticator_data is a valid attestation object"
    );
}
