//! The shipped test vectors (`tests/vectors/*.json`) hold, for a request and
//! a statement, their canonical JSON, the request hash, the challenge and
//! the clientDataJSON, as computed by an independent JavaScript
//! implementation (`tests/interop/vectors.mjs`). Tapprove must produce the
//! same bytes, and the files must still agree with that implementation, so
//! other implementations can check themselves against them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

use std::path::PathBuf;

use tapprove_core::canonical::{
    canonical_json, client_data_json, origin_for, request_sha256, statement_challenge,
};
use tapprove_proto::{Request, Statement};
use tapprove_test_support::repo_root;

fn vector_files() -> Vec<PathBuf> {
    let dir = repo_root().join("tests/vectors");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "vectors missing in {}", dir.display());
    files
}

#[test]
fn tapprove_reproduces_every_vector() {
    for file in vector_files() {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let name = file.display();
        let expected = &v["expected"];
        let request = Request::from_json(&serde_json::to_vec(&v["request"]).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            String::from_utf8(canonical_json(&request).unwrap()).unwrap(),
            expected["request_jcs"].as_str().unwrap(),
            "{name}: request JCS"
        );
        let hash = request_sha256(&request).unwrap();
        assert_eq!(
            hash.encode(),
            expected["request_sha256"].as_str().unwrap(),
            "{name}"
        );

        let mut statement = v["statement"].clone();
        statement["request_sha256"] = expected["request_sha256"].clone();
        let statement: Statement = serde_json::from_value(statement).unwrap();
        statement.validate().unwrap();
        assert_eq!(
            String::from_utf8(canonical_json(&statement).unwrap()).unwrap(),
            expected["statement_jcs"].as_str().unwrap(),
            "{name}: statement JCS"
        );
        let challenge = statement_challenge(&statement).unwrap();
        assert_eq!(
            challenge.encode(),
            expected["challenge"].as_str().unwrap(),
            "{name}"
        );
        let rp_id = v["rp_id"].as_str().unwrap();
        assert_eq!(
            String::from_utf8(client_data_json(&challenge, &origin_for(rp_id))).unwrap(),
            expected["client_data_json"].as_str().unwrap(),
            "{name}: clientDataJSON"
        );
    }
}

#[test]
fn vectors_agree_with_the_independent_implementation() {
    let root = repo_root();
    let output = std::process::Command::new("node")
        .arg(root.join("tests/interop/vectors.mjs"))
        .args(vector_files())
        .output()
        .expect("node is not installed (scripts/test installs it)");
    assert!(
        output.status.success(),
        "tests/interop/vectors.mjs disagrees with the vector files:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn integers_beyond_2_pow_53_canonicalise_as_doubles_do() {
    // JCS serialises numbers as IEEE 754 doubles: 2^53 + 1 is written as
    // 2^53 by every conforming implementation (JavaScript included).
    let v: serde_json::Value =
        serde_json::from_str("[9007199254740993, 18446744073709551615, -9007199254740993]").unwrap();
    assert_eq!(
        String::from_utf8(canonical_json(&v).unwrap()).unwrap(),
        "[9007199254740992,18446744073709552000,-9007199254740992]"
    );
}

/// docs/evidence.md's vectors (`tests/vectors/evidence/`, exported from a
/// real execution on moto by `crates/tapprove-cli/tests/evidence.rs`):
/// both forms verify, and an edited one is refused with its code.
#[test]
fn the_evidence_vectors_verify_and_an_edited_one_does_not() {
    use tapprove_core::evidence::verify;
    use tapprove_proto::evidence::Evidence;
    let dir = repo_root().join("tests/vectors/evidence");
    let now = tapprove_test_support::t("2030-01-01T00:00:00Z");
    let run = |bundle: &Evidence| tapprove_test_support::block_on(verify(bundle, &now));
    let bundle = Evidence::from_json(&std::fs::read(dir.join("execution.json")).unwrap()).unwrap();
    let report = run(&bundle).unwrap();
    assert!(report.rule_met);
    assert_eq!(tapprove_core::evidence::approvers(&report).len(), 2);
    let statement = Evidence::from_json(&std::fs::read(dir.join("execution.in-toto.json")).unwrap()).unwrap();
    assert_eq!(run(&statement).unwrap().request_sha256, report.request_sha256);
    // The in-toto subject is the request hash this verification computed.
    let value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("execution.in-toto.json")).unwrap()).unwrap();
    assert_eq!(
        value["subject"][0]["digest"]["sha256"],
        report.request_sha256.as_str()
    );
    let mut edited = bundle.clone();
    edited.request["title"] = "Deploy something else".into();
    assert_eq!(run(&edited).unwrap_err().code(), "request_mismatch");
    // Judged before the decisions were made: refused as malformed.
    let early = tapprove_test_support::t("2020-01-01T00:00:00Z");
    assert_eq!(
        tapprove_test_support::block_on(verify(&bundle, &early))
            .unwrap_err()
            .code(),
        "malformed_evidence"
    );
}
