//! Interop, the other way: what Tapprove's software authenticator creates
//! and signs is accepted by an independent verifier,
//! `@simplewebauthn/server` (npm), run with Node from the tests.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

use serde_json::json;
use tapprove_authn::UserVerification;
use tapprove_authn::software::SOFTWARE_AAGUID;
use tapprove_authn::{Authenticator, CredentialRequest};
use tapprove_core::canonical::{creation_client_data_json, origin_for, statement_challenge};
use tapprove_core::registry::Registry;
use tapprove_proto::{Decision, Verdict};
use tapprove_test_support::*;

fn assertion_input(h: &Harness, decision: &Decision, require_uv: bool) -> serde_json::Value {
    let record = block_on(h.registry.credential(decision.assertion.credential_id.as_bytes()))
        .unwrap()
        .unwrap();
    json!({
        "credential_id": decision.assertion.credential_id,
        "public_key": record.public_key,
        "counter": record.counter,
        "authenticator_data": decision.assertion.authenticator_data,
        "client_data_json": decision.assertion.client_data_json,
        "signature": decision.assertion.signature,
        "user_handle": decision.assertion.user_handle,
        "expected_challenge": statement_challenge(&decision.statement).unwrap(),
        "expected_origin": origin_for(RP_ID),
        "expected_rp_id": RP_ID,
        "require_user_verification": require_uv,
    })
}

#[test]
fn simplewebauthn_accepts_a_tapprove_assertion() {
    let h = Harness::new();
    let key = h.enrol("bob@example.com", &["prod-approvers"], None);
    let decision = h.sign(&request(), Verdict::Approve, "bob@example.com", &key, SIGNED);
    let (code, out) = run_node("verify-assertion.mjs", &assertion_input(&h, &decision, false));
    assert_eq!((code, &out["verified"]), (0, &json!(true)), "{out}");
    assert_eq!(out["new_counter"], 1);
    assert_eq!(out["user_verified"], false);
}

#[test]
fn simplewebauthn_accepts_a_user_verified_tapprove_assertion() {
    let h = Harness::new();
    let key = h.enrol("bob@example.com", &["prod-approvers"], Some("4711"));
    let decision = h.sign_with(
        &request(),
        Verdict::Deny,
        "bob@example.com",
        &key,
        SIGNED,
        &CountingPrompt::with_pin("4711"),
        UserVerification::Required,
    );
    let (code, out) = run_node("verify-assertion.mjs", &assertion_input(&h, &decision, true));
    assert_eq!((code, &out["user_verified"]), (0, &json!(true)), "{out}");
}

#[test]
fn simplewebauthn_refuses_a_tampered_statement() {
    // The independent verifier can fail: the challenge of an edited
    // statement is not what was signed.
    let h = Harness::new();
    let key = h.enrol("bob@example.com", &["prod-approvers"], None);
    let mut decision = h.sign(&request(), Verdict::Approve, "bob@example.com", &key, SIGNED);
    decision.statement.decision = Verdict::Deny;
    let (code, out) = run_node("verify-assertion.mjs", &assertion_input(&h, &decision, false));
    assert_eq!(code, 1, "{out}");
    assert!(out["error"].as_str().unwrap().contains("challenge"), "{out}");
}

#[test]
fn simplewebauthn_accepts_a_tapprove_registration() {
    let h = Harness::new();
    let challenge = [9u8; 32];
    let client_data = creation_client_data_json(&challenge, &origin_for(RP_ID));
    let created = h
        .authenticator()
        .make_credential(
            &CredentialRequest {
                rp_id: RP_ID.into(),
                user_name: "bob@example.com".into(),
                user_handle: b"bob".to_vec(),
                client_data_json: client_data.clone(),
                exclude_credentials: vec![],
                user_verification: UserVerification::Required,
                label: "laptop".into(),
            },
            &CountingPrompt::with_pin("4711"),
        )
        .unwrap();
    let b64 = |b: &[u8]| tapprove_proto::Base64Url::new(b.to_vec()).encode();
    let (code, out) = run_node(
        "verify-registration.mjs",
        &json!({
            "attestation_object": b64(&created.attestation_object),
            "client_data_json": b64(&client_data),
            "credential_id": created.credential_id,
            "expected_challenge": b64(&challenge),
            "expected_origin": origin_for(RP_ID),
            "expected_rp_id": RP_ID,
            "require_user_verification": true,
        }),
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["fmt"], "packed");
    assert_eq!(out["aaguid"], SOFTWARE_AAGUID.to_string());
}
