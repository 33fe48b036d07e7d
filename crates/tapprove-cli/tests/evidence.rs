//! Evidence an auditor verifies offline: `tapprove admin evidence` exports
//! a real execution on moto (a quorum of two, one refused decision), and
//! `tapprove verify --evidence` checks it with no AWS at all (an empty
//! environment). Each tampering of the file is refused with its code; the
//! in-toto form passes the in-toto project's own Statement validator.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

mod common;

use std::path::Path;
use std::process::Output;

use common::{Loop, json_of};
use serde_json::{Value, json};

/// `tapprove verify --evidence FILE --json` with nothing in the
/// environment: no AWS credentials, no endpoint, no settings.
fn verify_offline(file: &Path) -> Output {
    tapprove_offline(&["--json", "verify", "--evidence", file.to_str().unwrap()])
}

/// `tapprove ARGS` with nothing in the environment.
fn tapprove_offline(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tapprove"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .args(args)
        .output()
        .unwrap()
}

#[track_caller]
fn refused(out: &Output, code: &str) {
    let answer = json_of(out);
    assert_eq!(out.status.code(), Some(1), "{answer}");
    assert_eq!(answer["code"], code, "{answer}");
}

/// `bundle` changed by `edit`, written beside it as `name`.
fn tampered(dir: &Path, bundle: &Value, name: &str, edit: impl FnOnce(&mut Value)) -> std::path::PathBuf {
    let mut copy = bundle.clone();
    edit(&mut copy);
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(&copy).unwrap()).unwrap();
    path
}

#[test]
fn an_executions_evidence_verifies_offline_and_every_tampering_is_refused() {
    let l = Loop::new("activity");
    let bob = l.approver("bob", &["prod-approvers"]);
    let carol = l.approver("carol", &["prod-approvers"]);
    let dave = l.approver("dave", &["dev-approvers"]);
    let artifact = "9f2c4b0e1d7a3f5e6b8c0d2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a0b2c4d6e8f0a";
    let execution = l.start_input(json!({
        "title": "Deploy api 2.3.0 to prod",
        "requested_by": "alice",
        "approvers": "prod-approvers",
        "quorum": 2,
        "timeout_seconds": 600,
        "details": {"service": "api", "artifact": "api-2.3.0.tar.gz", "artifact_sha256": artifact}
    }));
    // Dave is in another group: refused, on record.
    let (token, request) = l.claim();
    l.send(&token, &l.sign_as(&dave, "dave", &request).to_json());
    assert_eq!(l.outcomes_after(&execution, 1), ["not_in_group"]);
    for (who, name) in [(&bob, "bob"), (&carol, "carol")] {
        let (token, request) = l.claim();
        l.send(&token, &l.sign_as(who, name, &request).to_json());
    }
    let state = l.finished(&execution, std::time::Duration::from_secs(60));
    assert_eq!(state.status, "SUCCEEDED", "{state:?}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("evidence.json");
    let out = l.admin(&[
        "--json",
        "admin",
        "evidence",
        &execution,
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_of(&out)["decisions"], 3);
    let bundle: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(bundle["tapprove"], "evidence/v1");
    // Each signer's enrolment, with the AWS identity that made it and the
    // registration itself.
    let enrolled = bundle["approvers"]["bob"]["credential_events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "enrolled")
        .unwrap()
        .clone();
    assert!(
        enrolled["caller_arn"].as_str().unwrap().ends_with(":user/bob"),
        "{enrolled}"
    );
    assert!(bundle["approvers"]["bob"]["credentials"][0]["registration"]["attestation_object"].is_string());
    // No task token anywhere in it.
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.to_lowercase().contains("tasktoken") && !text.contains("task_token"),
        "a task token leaked"
    );

    let ok = verify_offline(&file);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let report = json_of(&ok);
    assert_eq!(report["rule_met"], true, "{report}");
    let decisions = report["decisions"].as_array().unwrap();
    let summary: Vec<(String, String, bool)> = decisions
        .iter()
        .map(|d| {
            (
                d["approver"].as_str().unwrap().to_owned(),
                d["recorded"].as_str().unwrap().to_owned(),
                d["verified_offline"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("dave".to_owned(), "not_in_group".to_owned(), false),
            ("bob".to_owned(), "accepted".to_owned(), true),
            ("carol".to_owned(), "accepted".to_owned(), true)
        ]
    );
    assert!(
        report["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["registration"]
                .as_str()
                .unwrap()
                .starts_with("verified (packed")),
        "{report}"
    );
    // For people, too.
    let human = tapprove_offline(&["verify", "--evidence", file.to_str().unwrap()]);
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("bob approve") && human.contains("refused by the gate (not_in_group)"),
        "{human}"
    );

    // An edited request detail: the signatures are over the original.
    let edited = tampered(dir.path(), &bundle, "edited.json", |b| {
        b["request"]["details"]["service"] = "billing".into();
    });
    refused(&verify_offline(&edited), "request_mismatch");
    // A swapped public key: carol's key under bob's credential.
    let swapped = tampered(dir.path(), &bundle, "swapped.json", |b| {
        let carols = b["approvers"]["carol"]["credentials"][0]["public_key"].clone();
        b["approvers"]["bob"]["credentials"][0]["public_key"] = carols;
    });
    refused(&verify_offline(&swapped), "bad_signature");
    // A removed approval: the rule is no longer met, though the gate passed.
    let removed = tampered(dir.path(), &bundle, "removed.json", |b| {
        let audit = b["audit"].as_array_mut().unwrap();
        let carol = audit
            .iter()
            .position(|r| r["outcome"] == "accepted" && r["approver"] == "carol")
            .unwrap();
        audit.remove(carol);
    });
    refused(&verify_offline(&removed), "rule_not_met");
    // A changed group membership: carol granted another group.
    let regrouped = tampered(dir.path(), &bundle, "regrouped.json", |b| {
        for event in b["approvers"]["carol"]["admin_events"].as_array_mut().unwrap() {
            if event["event"] == "granted" {
                event["group"] = "dev-approvers".into();
            }
        }
    });
    refused(&verify_offline(&regrouped), "not_in_group");
    // The gate's policy as the admins set it at the time: rewriting that
    // history (another group) is refused, while a later change does not
    // alter what held then.
    assert!(!bundle["gate_policy_events"].as_array().unwrap().is_empty());
    let rewritten = tampered(dir.path(), &bundle, "rewritten.json", |b| {
        for event in b["gate_policy_events"].as_array_mut().unwrap() {
            event["policy"]["rule"][0]["group"] = "security-approvers".into();
        }
    });
    refused(&verify_offline(&rewritten), "gate_policy_refused");
    let later = tampered(dir.path(), &bundle, "later.json", |b| {
        let mut change = b["gate_policy_events"][0].clone();
        change["at"] = "2029-01-01T00:00:00Z".into();
        change["policy"]["rule"][0]["group"] = "security-approvers".into();
        b["gate_policy_events"].as_array_mut().unwrap().push(change);
    });
    let held = verify_offline(&later);
    assert_eq!(
        held.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&held.stdout)
    );
    // Another key under a credential whose registration is on record: the
    // registration no longer matches the key (with bob's signature redone
    // would be needed to get past the decisions; here the key is carol's
    // own, so her decision still verifies but her registration does not).
    let foreign = tampered(dir.path(), &bundle, "foreign.json", |b| {
        let bobs = b["approvers"]["bob"]["credentials"][0]["registration"].clone();
        b["approvers"]["carol"]["credentials"][0]["registration"] = bobs;
    });
    refused(&verify_offline(&foreign), "attestation_invalid");
    // Not evidence at all: bad input.
    std::fs::write(dir.path().join("garbage.json"), "{\"tapprove\": \"evidence/v9\"}").unwrap();
    assert_eq!(
        verify_offline(&dir.path().join("garbage.json")).status.code(),
        Some(2)
    );

    // The in-toto form: checked by the in-toto project's own validator,
    // and verified like the bundle.
    let statement = dir.path().join("statement.json");
    let out = l.admin(&[
        "--json",
        "admin",
        "evidence",
        &execution,
        "--out",
        statement.to_str().unwrap(),
        "--in-toto",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let check = std::process::Command::new(tapprove_test_support::repo_root().join(".venv/bin/python"))
        .arg(tapprove_test_support::repo_root().join("tests/peers/in_toto_check.py"))
        .arg(&statement)
        .output()
        .unwrap();
    let checked: Value = serde_json::from_slice(&check.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {} {}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        )
    });
    assert_eq!(checked["ok"], true, "{checked}");
    assert_eq!(checked["predicateType"], "https://tapprove.dev/evidence/v1");
    let subjects = checked["subjects"].as_array().unwrap();
    assert_eq!(
        subjects[0]["digest"]["sha256"], report["request_sha256"],
        "{checked}"
    );
    assert_eq!(
        subjects[1],
        json!({"name": "api-2.3.0.tar.gz", "digest": {"sha256": artifact}})
    );
    let ok = verify_offline(&statement);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    // How docs/evidence.md's vectors (tests/vectors/evidence/) were made.
    if let Some(out) = std::env::var_os("TAPPROVE_WRITE_EVIDENCE_VECTORS") {
        let out = Path::new(&out);
        std::fs::copy(&file, out.join("execution.json")).unwrap();
        std::fs::copy(&statement, out.join("execution.in-toto.json")).unwrap();
    }
}
