//! Every verification rule of docs/protocol.md, each with a decision that breaks
//! it and must be refused with that rule's code; and the properties that
//! hold across rules (single use under races, audit of every outcome, the
//! verified value).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

use std::sync::Arc;

use tapprove_authn::UserVerification;
use tapprove_core::registry::MemoryRegistry;
use tapprove_core::webauthn::Flags;
use tapprove_core::{Code, QuorumTally, VerifiedDecision, Verifier, VerifyError};
use tapprove_proto::registry::CredentialStatus;
use tapprove_proto::{Aaguid, Base64Url, Decision, Request, Verdict};
use tapprove_test_support::*;

const UP: u8 = Flags::USER_PRESENT;

fn bytes<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap()
}

/// A harness with bob (approver) and carol (approver), alice (requester,
/// also in the group) and dave (not in the group), each with a software key.
struct World {
    h: Harness,
    bob: Base64Url,
    carol: Base64Url,
    alice: Base64Url,
    dave: Base64Url,
}

fn world() -> World {
    let h = Harness::new();
    let bob = h.enrol("bob@example.com", &["prod-approvers"], None);
    let carol = h.enrol("carol@example.com", &["prod-approvers"], None);
    let alice = h.enrol("alice@example.com", &["prod-approvers"], None);
    let dave = h.enrol("dave@example.com", &["staging-approvers"], None);
    World {
        h,
        bob,
        carol,
        alice,
        dave,
    }
}

impl World {
    fn approve(&self, request: &Request) -> Decision {
        self.h
            .sign(request, Verdict::Approve, "bob@example.com", &self.bob, SIGNED)
    }

    /// Verifies JSON values (so cases can edit anything) at VERIFIED.
    fn check(
        &self,
        request: &serde_json::Value,
        decision: &serde_json::Value,
    ) -> Result<VerifiedDecision, VerifyError> {
        self.h.verify_bytes(&bytes(request), &bytes(decision), VERIFIED)
    }
}

#[test]
fn under_a_gate_policy_any_of_its_groups_approves_and_no_other() {
    // The request names prod-approvers; the gate's policy wants one of
    // prod-approvers and one of security. Erin, in security only, may
    // approve (without the policy she may not: `not_in_group`); dave, in
    // staging-approvers only, may not.
    let without = world();
    let erin = without.h.enrol("erin@example.com", &["security"], None);
    let d = without
        .h
        .sign(&request(), Verdict::Approve, "erin@example.com", &erin, SIGNED);
    assert_eq!(
        without.check(&request_json(), &json(&d)).unwrap_err().code(),
        Some(Code::NotInGroup)
    );
    let w = world();
    let erin = w.h.enrol("erin@example.com", &["security"], None);
    let mut policy = tapprove_proto::gate_policy::GatePolicy::single("prod-approvers", 1, 3600);
    policy.rule.push(tapprove_proto::gate_policy::Clause {
        group: "security".into(),
        count: 1,
    });
    policy.min_quorum = 2;
    w.h.registry.set_gate_policy("deploy", policy);
    let d =
        w.h.sign(&request(), Verdict::Approve, "erin@example.com", &erin, SIGNED);
    assert!(w.check(&request_json(), &json(&d)).is_ok());
    let d =
        w.h.sign(&request(), Verdict::Approve, "dave@example.com", &w.dave, SIGNED);
    assert_eq!(
        w.check(&request_json(), &json(&d)).unwrap_err().code(),
        Some(Code::NotInGroup)
    );
}

#[test]
fn self_approval_is_refused_through_case_width_and_hidden_characters() {
    for requested_by in [
        "Alice@Example.COM",
        "alice@example.com\u{200B}",
        "\u{FF41}lice@example.com",
        "ali\u{00AD}ce@example.com",
        "\u{202E}alice@example.com",
    ] {
        let w = world();
        let mut r = request_json();
        r["requested_by"] = requested_by.into();
        let request = Request::from_json(&bytes(&r)).unwrap();
        let d =
            w.h.sign(&request, Verdict::Approve, "alice@example.com", &w.alice, SIGNED);
        let refused = w.check(&r, &json(&d)).unwrap_err();
        assert_eq!(
            refused.code(),
            Some(Code::SelfApproval),
            "{requested_by:?}: {refused}"
        );
        // Someone else approves it as usual.
        let d =
            w.h.sign(&request, Verdict::Approve, "bob@example.com", &w.bob, SIGNED);
        assert!(w.check(&r, &json(&d)).is_ok(), "{requested_by:?}");
    }
}

#[test]
fn the_named_requester_may_deny_what_they_did_not_ask_for() {
    // A workflow names alice as its requester; alice did not ask. Her
    // denial counts: naming her must not silence her.
    let w = world();
    let mut r = request_json();
    r["requested_by"] = "alice@example.com".into();
    let request = Request::from_json(&bytes(&r)).unwrap();
    let d =
        w.h.sign(&request, Verdict::Deny, "alice@example.com", &w.alice, SIGNED);
    assert!(w.check(&r, &json(&d)).is_ok());
}

#[test]
fn the_requester_aws_proved_cannot_approve_whatever_the_workflow_claims() {
    // Alice asked through the request endpoint (AWS proved her session);
    // the input names ci-bot. She is still the requester.
    let w = world();
    let mut r = request_json();
    r["requested_by"] = "ci-bot".into();
    r["requester"] = serde_json::json!({
        "arn": "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Approver_1/Alice@Example.com",
        "principal": "AROAEXAMPLE:Alice@Example.com",
        "person": "Alice@Example.com"
    });
    let request = Request::from_json(&bytes(&r)).unwrap();
    let d =
        w.h.sign(&request, Verdict::Approve, "alice@example.com", &w.alice, SIGNED);
    assert_eq!(
        w.check(&r, &json(&d)).unwrap_err().code(),
        Some(Code::SelfApproval)
    );
    let d =
        w.h.sign(&request, Verdict::Approve, "bob@example.com", &w.bob, SIGNED);
    assert!(w.check(&r, &json(&d)).is_ok());
    // The proven requester is part of what is signed: a decision for the
    // request without it does not verify for the request with it.
    let mut bare = r.clone();
    bare.as_object_mut().unwrap().remove("requester");
    assert_eq!(
        w.check(&bare, &json(&d)).unwrap_err().code(),
        Some(Code::RequestMismatch)
    );
}

type Case = (&'static str, Code, fn() -> Result<VerifiedDecision, VerifyError>);

fn cases() -> Vec<Case> {
    vec![
        // Rule 1.
        ("unknown request version", Code::UnsupportedVersion, || {
            let w = world();
            let d = w.approve(&request());
            let mut r = request_json();
            r["tapprove"] = "request/v2".into();
            w.check(&r, &json(&d))
        }),
        ("unknown statement version", Code::UnsupportedVersion, || {
            let w = world();
            let mut d = json(&w.approve(&request()));
            d["statement"]["tapprove"] = "decision/v2".into();
            w.check(&request_json(), &d)
        }),
        ("request missing a field", Code::MalformedRequest, || {
            let w = world();
            let d = w.approve(&request());
            let mut r = request_json();
            r.as_object_mut().unwrap().remove("nonce");
            w.check(&r, &json(&d))
        }),
        ("decision with an unknown field", Code::MalformedDecision, || {
            let w = world();
            let mut d = json(&w.approve(&request()));
            d["assertion"]["extra"] = true.into();
            w.check(&request_json(), &d)
        }),
        ("oversized reason", Code::FieldTooLarge, || {
            let w = world();
            let mut d = json(&w.approve(&request()));
            d["statement"]["reason"] = "x".repeat(1025).into();
            w.check(&request_json(), &d)
        }),
        ("oversized request details", Code::FieldTooLarge, || {
            let w = world();
            let d = w.approve(&request());
            let mut r = request_json();
            r["details"] = serde_json::json!({"blob": "x".repeat(230 * 1024)});
            w.check(&r, &json(&d))
        }),
        ("malformed base64", Code::MalformedBase64, || {
            let w = world();
            let mut d = json(&w.approve(&request()));
            let sig = d["assertion"]["signature"].as_str().unwrap().to_owned();
            d["assertion"]["signature"] = format!("{sig}=").into();
            w.check(&request_json(), &d)
        }),
        ("malformed time", Code::MalformedTime, || {
            let w = world();
            let mut d = json(&w.approve(&request()));
            d["statement"]["signed_at"] = "2026-11-21 10:03:12".into();
            w.check(&request_json(), &d)
        }),
        (
            "malformed CBOR in authenticator extensions",
            Code::MalformedCbor,
            || {
                let w = world();
                let raw = RawSigner::register(&w.h, "erin@example.com", &["prod-approvers"]);
                // ED flag, then a CBOR map that claims one entry and ends.
                let d = raw.approve(
                    &request(),
                    "erin@example.com",
                    client_data_for("https://example.com"),
                    RawSigner::authenticator_data(RP_ID, UP | Flags::EXTENSIONS, 1, &[0xa1, 0x63, b'a']),
                );
                w.check(&request_json(), &json(&d))
            },
        ),
        (
            "malformed CBOR public key in the registry",
            Code::MalformedCbor,
            || {
                let w = world();
                let d = w.approve(&request());
                let mut rec = block_on(tapprove_core::registry::Registry::credential(
                    &w.h.registry,
                    w.bob.as_bytes(),
                ))
                .unwrap()
                .unwrap();
                rec.public_key = Base64Url::new(vec![0xa5, 0x01]);
                w.h.registry.add_credential(rec);
                w.check(&request_json(), &json(&d))
            },
        ),
        (
            "truncated authenticator data with flags promising more",
            Code::MalformedAuthenticatorData,
            || {
                let w = world();
                let raw = RawSigner::register(&w.h, "erin@example.com", &["prod-approvers"]);
                let d = raw.approve(
                    &request(),
                    "erin@example.com",
                    client_data_for("https://example.com"),
                    RawSigner::authenticator_data(RP_ID, UP | Flags::ATTESTED_CREDENTIAL, 1, &[0; 4]),
                );
                w.check(&request_json(), &json(&d))
            },
        ),
        ("client data that is not JSON", Code::MalformedClientData, || {
            let w = world();
            let mut d = json(&w.approve(&request()));
            d["assertion"]["client_data_json"] = Base64Url::new(b"not json".to_vec()).encode().into();
            w.check(&request_json(), &d)
        }),
        // Rule 2.
        ("tampered request detail", Code::RequestMismatch, || {
            let w = world();
            let d = w.approve(&request());
            let mut r = request_json();
            r["details"]["to"] = "prod-eu".into();
            w.check(&r, &json(&d))
        }),
        (
            "replay across two visits of the gate (new nonce)",
            Code::RequestMismatch,
            || {
                let w = world();
                let d = w.approve(&request());
                let mut r = request_json();
                r["nonce"] = "5d1e2a0c-7b4f-4f55-8c3e-1a2b3c4d5e6f".into();
                w.check(&r, &json(&d))
            },
        ),
        ("another request's signature", Code::RequestMismatch, || {
            let w = world();
            let mut other = request_json();
            other["title"] = "Rotate prod database password".into();
            let other = Request::from_json(&bytes(&other)).unwrap();
            let d = w.approve(&other);
            w.check(&request_json(), &json(&d))
        }),
        // Rule 3.
        (
            "signed before the request existed",
            Code::SignedBeforeRequest,
            || {
                let w = world();
                let d = w.h.sign(
                    &request(),
                    Verdict::Approve,
                    "bob@example.com",
                    &w.bob,
                    "2026-11-21T09:59:59Z",
                );
                w.check(&request_json(), &json(&d))
            },
        ),
        (
            "signed after the deadline (expired)",
            Code::RequestExpired,
            || {
                let w = world();
                let d = w.h.sign(
                    &request(),
                    Verdict::Approve,
                    "bob@example.com",
                    &w.bob,
                    "2026-11-21T11:00:01Z",
                );
                w.h.verify_bytes(&bytes(&request_json()), &bytes(&d), "2026-11-21T11:00:02Z")
            },
        ),
        ("signed in the future", Code::SignedInFuture, || {
            let w = world();
            let d = w.h.sign(
                &request(),
                Verdict::Approve,
                "bob@example.com",
                &w.bob,
                "2026-11-21T10:30:00Z",
            );
            // Verifier clock 10:03:30: 26 minutes behind the signature.
            w.check(&request_json(), &json(&d))
        }),
        // Rule 4.
        ("self-approval", Code::SelfApproval, || {
            let w = world();
            let d = w.h.sign(
                &request(),
                Verdict::Approve,
                "alice@example.com",
                &w.alice,
                SIGNED,
            );
            w.check(&request_json(), &json(&d))
        }),
        // Rule 5.
        ("approver not in the registry", Code::UnknownApprover, || {
            let w = world();
            let d = w.h.sign(
                &request(),
                Verdict::Approve,
                "mallory@example.com",
                &w.bob,
                SIGNED,
            );
            w.check(&request_json(), &json(&d))
        }),
        (
            "request naming another group than the gate's policy",
            Code::GatePolicyRefused,
            || {
                let w = world();
                // An admin pinned the gate `deploy` to staging-approvers; the
                // workflow asked prod-approvers, whom bob belongs to.
                w.h.registry.set_gate_policy(
                    "deploy",
                    tapprove_proto::gate_policy::GatePolicy::single("staging-approvers", 1, 3600),
                );
                w.check(&request_json(), &json(&w.approve(&request())))
            },
        ),
        ("approver not in the group", Code::NotInGroup, || {
            let w = world();
            let d =
                w.h.sign(&request(), Verdict::Approve, "dave@example.com", &w.dave, SIGNED);
            w.check(&request_json(), &json(&d))
        }),
        // Rule 6.
        ("unknown credential", Code::UnknownCredential, || {
            let w = world();
            let stranger = Harness::new();
            let key = stranger.enrol("bob@example.com", &["prod-approvers"], None);
            let d = stranger.sign(&request(), Verdict::Approve, "bob@example.com", &key, SIGNED);
            w.check(&request_json(), &json(&d))
        }),
        (
            "credential of another user",
            Code::CredentialOfAnotherUser,
            || {
                let w = world();
                // Bob's key signs a statement that names carol as the approver.
                let d =
                    w.h.sign(&request(), Verdict::Approve, "carol@example.com", &w.bob, SIGNED);
                w.check(&request_json(), &json(&d))
            },
        ),
        ("revoked credential", Code::CredentialNotActive, || {
            let w = world();
            let d = w.approve(&request());
            w.h.registry
                .set_status(w.bob.as_bytes(), CredentialStatus::Revoked);
            w.check(&request_json(), &json(&d))
        }),
        (
            "software authenticator forbidden by policy",
            Code::AuthenticatorNotAllowed,
            || {
                let mut w = world();
                w.h.policy.allow_software_authenticators = false;
                let d = w.approve(&request());
                w.check(&request_json(), &json(&d))
            },
        ),
        // Rule 7.
        (
            "assertion made for registration",
            Code::WrongClientDataType,
            || {
                let w = world();
                let raw = RawSigner::register(&w.h, "erin@example.com", &["prod-approvers"]);
                let creation = |c: &tapprove_proto::Sha256Digest| {
                    tapprove_core::canonical::creation_client_data_json(c.as_bytes(), "https://example.com")
                };
                let d = raw.approve(
                    &request(),
                    "erin@example.com",
                    creation,
                    RawSigner::authenticator_data(RP_ID, UP, 1, &[]),
                );
                w.check(&request_json(), &json(&d))
            },
        ),
        (
            "tampered statement (reason added after signing)",
            Code::ChallengeMismatch,
            || {
                let w = world();
                let mut d = json(&w.approve(&request()));
                d["statement"]["reason"] = "approved by the CTO".into();
                w.check(&request_json(), &d)
            },
        ),
        (
            "wrong decision (approval turned into denial)",
            Code::ChallengeMismatch,
            || {
                let w = world();
                let mut d = json(&w.approve(&request()));
                d["statement"]["decision"] = "deny".into();
                w.check(&request_json(), &d)
            },
        ),
        ("wrong origin", Code::OriginNotAllowed, || {
            let w = world();
            let raw = RawSigner::register(&w.h, "erin@example.com", &["prod-approvers"]);
            let d = raw.approve(
                &request(),
                "erin@example.com",
                client_data_for("https://example.com.evil.test"),
                RawSigner::authenticator_data(RP_ID, UP, 1, &[]),
            );
            w.check(&request_json(), &json(&d))
        }),
        ("origin with a trailing slash", Code::OriginNotAllowed, || {
            let w = world();
            let raw = RawSigner::register(&w.h, "erin@example.com", &["prod-approvers"]);
            let d = raw.approve(
                &request(),
                "erin@example.com",
                client_data_for("https://example.com/"),
                RawSigner::authenticator_data(RP_ID, UP, 1, &[]),
            );
            w.check(&request_json(), &json(&d))
        }),
        ("cross-origin frame", Code::CrossOrigin, || {
            let w = world();
            let raw = RawSigner::register(&w.h, "erin@example.com", &["prod-approvers"]);
            let framed = |c: &tapprove_proto::Sha256Digest| {
                format!(
                    r#"{{"type":"webauthn.get","challenge":"{}","origin":"https://example.com","crossOrigin":true}}"#,
                    c.encode()
                )
                .into_bytes()
            };
            let d = raw.approve(
                &request(),
                "erin@example.com",
                framed,
                RawSigner::authenticator_data(RP_ID, UP, 1, &[]),
            );
            w.check(&request_json(), &json(&d))
        }),
        ("wrong rp id", Code::RpIdMismatch, || {
            let w = world();
            let raw = RawSigner::register(&w.h, "erin@example.com", &["prod-approvers"]);
            let d = raw.approve(
                &request(),
                "erin@example.com",
                client_data_for("https://example.com"),
                RawSigner::authenticator_data("evil.test", UP, 1, &[]),
            );
            w.check(&request_json(), &json(&d))
        }),
        ("missing user presence", Code::UserNotPresent, || {
            let w = world();
            let raw = RawSigner::register(&w.h, "erin@example.com", &["prod-approvers"]);
            let d = raw.approve(
                &request(),
                "erin@example.com",
                client_data_for("https://example.com"),
                RawSigner::authenticator_data(RP_ID, Flags::USER_VERIFIED, 1, &[]),
            );
            w.check(&request_json(), &json(&d))
        }),
        (
            "missing user verification where required",
            Code::UserNotVerified,
            || {
                let mut w = world();
                w.h.policy.require_user_verification = true;
                let d = w.approve(&request());
                w.check(&request_json(), &json(&d))
            },
        ),
        (
            "registered key with an unsupported algorithm",
            Code::UnsupportedAlgorithm,
            || {
                let w = world();
                let d = w.approve(&request());
                let mut rec = block_on(tapprove_core::registry::Registry::credential(
                    &w.h.registry,
                    w.bob.as_bytes(),
                ))
                .unwrap()
                .unwrap();
                // {1: 2, 3: -35}: EC2 with ES384, which Tapprove does not verify.
                rec.public_key = Base64Url::new(vec![0xa2, 0x01, 0x02, 0x03, 0x38, 0x22]);
                w.h.registry.add_credential(rec);
                w.check(&request_json(), &json(&d))
            },
        ),
        ("signature altered", Code::BadSignature, || {
            let w = world();
            let mut d = w.approve(&request());
            let mut sig = d.assertion.signature.clone().into_vec();
            let last = sig.len() - 1;
            sig[last] ^= 0x01;
            d.assertion.signature = Base64Url::new(sig);
            w.check(&request_json(), &json(&d))
        }),
        ("counter regression", Code::CounterRegression, || {
            let w = world();
            let raw = RawSigner::register(&w.h, "erin@example.com", &["prod-approvers"]);
            let sign = |r: &Request, counter: u32| {
                let ad = RawSigner::authenticator_data(RP_ID, UP, counter, &[]);
                raw.approve(r, "erin@example.com", client_data_for("https://example.com"), ad)
            };
            let first = request();
            assert!(w.h.verify(&first, &sign(&first, 5), VERIFIED).is_ok());
            let mut second = request_json();
            second["nonce"] = "9e0f6c1d-2b3a-4c5d-8e7f-6a5b4c3d2e1f".into();
            let second = Request::from_json(&bytes(&second)).unwrap();
            w.h.verify(&second, &sign(&second, 3), VERIFIED)
        }),
        // Rule 8.
        ("replay of a statement", Code::StatementReplayed, || {
            let w = world();
            let d = w.approve(&request());
            assert!(w.check(&request_json(), &json(&d)).is_ok());
            w.check(&request_json(), &json(&d))
        }),
        // Rule 9.
        (
            "second approval by the same approver",
            Code::DuplicateApprover,
            || {
                let w = world();
                let mut r = request_json();
                r["quorum"] = 2.into();
                let req = Request::from_json(&bytes(&r)).unwrap();
                let first =
                    w.h.sign(&req, Verdict::Approve, "bob@example.com", &w.bob, SIGNED);
                assert!(w.check(&r, &json(&first)).is_ok());
                let again = w.h.sign(
                    &req,
                    Verdict::Approve,
                    "bob@example.com",
                    &w.bob,
                    "2026-11-21T10:03:20Z",
                );
                w.check(&r, &json(&again))
            },
        ),
    ]
}

#[test]
fn each_rule_rejects_its_case_with_its_code() {
    let mut failures = Vec::new();
    let mut covered = std::collections::BTreeSet::new();
    for (name, expected, case) in cases() {
        match case() {
            Err(VerifyError::Rejected(r)) if r.code == expected => {
                assert!(!r.message.is_empty(), "{name}: empty message");
                covered.insert(expected);
            }
            Err(other) => failures.push(format!("{name}: expected {expected}, got {other:?}")),
            Ok(v) => failures.push(format!("{name}: expected {expected}, but it verified: {v:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "rules not enforced:\n{}",
        failures.join("\n")
    );
    let missing: Vec<_> = Code::ALL.iter().filter(|c| !covered.contains(c)).collect();
    assert!(missing.is_empty(), "codes with no failing case: {missing:?}");
}

#[test]
fn an_honest_approval_verifies_and_names_approver_and_credential() {
    let w = world();
    let d = w.approve(&request());
    let verified = w.h.verify(&request(), &d, VERIFIED).unwrap();
    let VerifiedDecision::Approve(approval) = verified else {
        panic!("not an approval")
    };
    assert_eq!(approval.approver(), "bob@example.com");
    assert_eq!(approval.credential_id(), &w.bob);
    assert_eq!(approval.execution(), request().execution);
    assert_eq!(approval.decision(), &d);
    let out = serde_json::to_value(&approval).unwrap();
    assert_eq!(out["credential_label"], "bob@example.com laptop");
    assert_eq!(out["authenticator"], "software");
}

#[test]
fn a_signed_denial_verifies_as_a_denial() {
    let w = world();
    let d =
        w.h.sign(&request(), Verdict::Deny, "carol@example.com", &w.carol, SIGNED);
    match w.h.verify(&request(), &d, VERIFIED).unwrap() {
        VerifiedDecision::Deny(denial) => {
            assert_eq!(denial.approver(), "carol@example.com");
            assert_eq!(denial.reason(), Some("not during the freeze"));
        }
        other => panic!("expected a denial, got {other:?}"),
    }
}

#[test]
fn user_verification_passes_with_a_pin_protected_key() {
    let mut h = Harness::new();
    h.policy.require_user_verification = true;
    let key = h.enrol("bob@example.com", &["prod-approvers"], Some("4711"));
    let prompt = CountingPrompt::with_pin("4711");
    let d = h.sign_with(
        &request(),
        Verdict::Approve,
        "bob@example.com",
        &key,
        SIGNED,
        &prompt,
        UserVerification::Required,
    );
    assert_eq!(prompt.pins_asked(), 1);
    let v = h.verify(&request(), &d, VERIFIED).unwrap();
    let VerifiedDecision::Approve(a) = v else { panic!() };
    assert!(a.user_verified());
}

#[test]
fn extra_origins_are_accepted_exactly() {
    let mut w = world();
    let raw = RawSigner::register(&w.h, "erin@example.com", &["prod-approvers"]);
    w.h.policy.extra_origins = vec!["https://approve.example.com".into()];
    let ad = RawSigner::authenticator_data(RP_ID, UP, 1, &[]);
    let d = raw.approve(
        &request(),
        "erin@example.com",
        client_data_for("https://approve.example.com"),
        ad,
    );
    w.h.verify(&request(), &d, VERIFIED).unwrap();
}

#[test]
fn aaguid_allow_list_admits_listed_models_only() {
    let mut w = world();
    let raw = RawSigner::register(&w.h, "erin@example.com", &["prod-approvers"]);
    let r = request();
    let sign = || {
        let ad = RawSigner::authenticator_data(RP_ID, UP, 1, &[]);
        raw.approve(&r, "erin@example.com", client_data_for("https://example.com"), ad)
    };
    w.h.policy.allowed_aaguids = Some([Aaguid([0x99; 16])].into());
    let e = w.h.verify(&r, &sign(), VERIFIED).unwrap_err();
    assert_eq!(e.code(), Some(Code::AuthenticatorNotAllowed));
    w.h.policy.allowed_aaguids = Some([Aaguid([0x42; 16])].into());
    w.h.verify(&r, &sign(), VERIFIED).unwrap();
}

/// A credential whose model was only claimed at enrolment (no chain to a
/// trusted root) does not count where a rule depends on the model, even
/// if it claims an allowed model; it does where the org accepts
/// self-reported models, and where no rule depends on the model.
#[test]
fn a_claimed_model_does_not_count_where_the_model_matters() {
    let r = request();
    for rule in ["AAGUID list", "software forbidden", "none"] {
        let mut w = world();
        let raw = RawSigner::register_as(&w.h, "erin@example.com", &["prod-approvers"], false);
        let ad = RawSigner::authenticator_data(RP_ID, UP, 1, &[]);
        let decision = raw.approve(&r, "erin@example.com", client_data_for("https://example.com"), ad);
        match rule {
            "AAGUID list" => w.h.policy.allowed_aaguids = Some([Aaguid([0x42; 16])].into()),
            "software forbidden" => w.h.policy.allow_software_authenticators = false,
            _ => {
                // No rule on the model: the claim is enough to sign.
                w.h.verify(&r, &decision, VERIFIED).unwrap();
                continue;
            }
        }
        let e = w.h.verify(&r, &decision, VERIFIED).unwrap_err();
        assert_eq!(e.code(), Some(Code::AuthenticatorNotAllowed), "{rule}");
        assert!(e.to_string().contains("only claims"), "{rule}: {e}");
        w.h.policy.accept_self_reported_models = true;
        w.h.verify(&r, &decision, VERIFIED).unwrap();
    }
}

/// What FIDO's metadata says of the raw signer's model (AAGUID 42…).
fn raw_model(level: Option<&str>, distrust: Option<&str>) -> tapprove_proto::metadata::ModelRecord {
    use tapprove_proto::metadata::{CertificationLevel, Distrust, ModelRecord};
    ModelRecord {
        aaguid: Aaguid([0x42; 16]),
        description: "Raw Key 2".into(),
        attestation_roots: Vec::new(),
        certification_level: level.map(|l| CertificationLevel::parse(l).unwrap()),
        status: distrust.unwrap_or("FIDO_CERTIFIED_L1").into(),
        distrust: distrust.map(|status| Distrust {
            status: status.into(),
            effective_date: Some("2026-06-01".into()),
        }),
        blob_no: 7,
    }
}

#[test]
fn a_model_fido_distrusts_after_enrolment_stops_verifying_and_the_audit_says_why() {
    let r = request();
    for status in [
        "REVOKED",
        "ATTESTATION_KEY_COMPROMISE",
        "USER_VERIFICATION_BYPASS",
    ] {
        let w = world();
        let raw = RawSigner::register(&w.h, "erin@example.com", &["prod-approvers"]);
        let ad = RawSigner::authenticator_data(RP_ID, UP, 1, &[]);
        let decision = raw.approve(&r, "erin@example.com", client_data_for("https://example.com"), ad);
        // Enrolled while FIDO certified it; then FIDO's report arrives.
        w.h.registry.set_models([raw_model(Some("L1"), Some(status))]);
        let e = w.h.verify(&r, &decision, VERIFIED).unwrap_err();
        assert_eq!(e.code(), Some(Code::AuthenticatorNotAllowed), "{status}");
        let audit = w.h.registry.audit_log();
        let last = audit.last().unwrap();
        assert_eq!(last.outcome, "authenticator_not_allowed");
        assert!(
            last.message.contains(status)
                && last.message.contains("no longer verifies")
                && last.message.contains("#7"),
            "the audit record says FIDO's report and which BLOB: {}",
            last.message
        );
        // FIDO certifying it again does not lift a compromise.
        let mut lifted = raw_model(Some("L2"), Some(status));
        lifted.status = "FIDO_CERTIFIED_L2".into();
        w.h.registry.set_models([lifted]);
        assert!(w.h.verify(&r, &decision, VERIFIED).is_err(), "{status}");
    }
    // A model FIDO still trusts verifies as before.
    let w = world();
    let raw = RawSigner::register(&w.h, "erin@example.com", &["prod-approvers"]);
    w.h.registry.set_models([raw_model(Some("L1"), None)]);
    let ad = RawSigner::authenticator_data(RP_ID, UP, 1, &[]);
    let decision = raw.approve(&r, "erin@example.com", client_data_for("https://example.com"), ad);
    w.h.verify(&r, &decision, VERIFIED).unwrap();
}

#[test]
fn below_the_certification_level_the_org_requires_a_credential_does_not_verify() {
    let r = request();
    for (metadata, passes) in [
        (Some(raw_model(Some("L2"), None)), true),
        (Some(raw_model(Some("L1"), None)), false),
        (Some(raw_model(None, None)), false),
        (None, false),
    ] {
        let mut w = world();
        let raw = RawSigner::register(&w.h, "erin@example.com", &["prod-approvers"]);
        w.h.policy.min_certification_level = Some(tapprove_proto::metadata::CertificationLevel::L2);
        if let Some(model) = &metadata {
            w.h.registry.set_models([model.clone()]);
        }
        let ad = RawSigner::authenticator_data(RP_ID, UP, 1, &[]);
        let decision = raw.approve(&r, "erin@example.com", client_data_for("https://example.com"), ad);
        let result = w.h.verify(&r, &decision, VERIFIED);
        assert_eq!(result.is_ok(), passes, "{metadata:?}: {result:?}");
        if let Err(e) = result {
            assert_eq!(e.code(), Some(Code::AuthenticatorNotAllowed));
            assert!(e.to_string().contains("L2"), "{e}");
        }
    }
}

#[test]
fn only_the_kinds_of_authenticator_the_org_allows_verify() {
    use tapprove_proto::registry::AuthenticatorKind;
    let r = request();
    for (allowed, passes) in [
        (vec![AuthenticatorKind::SecurityKey], true),
        (vec![AuthenticatorKind::Platform], false),
        (
            vec![AuthenticatorKind::Platform, AuthenticatorKind::SecurityKey],
            true,
        ),
    ] {
        let mut w = world();
        let raw = RawSigner::register(&w.h, "erin@example.com", &["prod-approvers"]);
        w.h.policy.allowed_kinds = Some(allowed.iter().copied().collect());
        let ad = RawSigner::authenticator_data(RP_ID, UP, 1, &[]);
        let decision = raw.approve(&r, "erin@example.com", client_data_for("https://example.com"), ad);
        let result = w.h.verify(&r, &decision, VERIFIED);
        assert_eq!(result.is_ok(), passes, "{allowed:?}: {result:?}");
        if let Err(e) = result {
            assert_eq!(e.code(), Some(Code::AuthenticatorNotAllowed));
            assert!(e.to_string().contains("security_key authenticator"), "{e}");
        }
    }
}

#[test]
fn zero_counters_pass_but_the_statement_still_cannot_be_replayed() {
    // Synced passkeys report 0 forever; single use is what stops replay.
    let w = world();
    let raw = RawSigner::register(&w.h, "erin@example.com", &["prod-approvers"]);
    let r = request();
    let ad = RawSigner::authenticator_data(RP_ID, UP, 0, &[]);
    let d = raw.approve(&r, "erin@example.com", client_data_for("https://example.com"), ad);
    w.h.verify(&r, &d, VERIFIED).unwrap();
    assert_eq!(
        w.h.verify(&r, &d, VERIFIED).unwrap_err().code(),
        Some(Code::StatementReplayed)
    );
}

#[test]
fn quorum_of_two_needs_two_distinct_approvers() {
    let w = world();
    let mut r = request_json();
    r["quorum"] = 2.into();
    let req = Request::from_json(&bytes(&r)).unwrap();
    let hash = tapprove_core::canonical::request_sha256(&req).unwrap();
    let mut tally = QuorumTally::new(hash, req.quorum);
    let approval = |who: &str, key: &Base64Url, at: &str| {
        let d = w.h.sign(&req, Verdict::Approve, who, key, at);
        match w.h.verify(&req, &d, VERIFIED).unwrap() {
            VerifiedDecision::Approve(a) => a,
            other => panic!("{other:?}"),
        }
    };
    let bob = approval("bob@example.com", &w.bob, SIGNED);
    tally.add(bob.clone()).unwrap();
    assert!(!tally.is_met());
    assert_eq!(tally.add(bob).unwrap_err().code, Code::DuplicateApprover);
    tally
        .add(approval("carol@example.com", &w.carol, SIGNED))
        .unwrap();
    assert!(tally.is_met());
}

#[test]
fn every_verification_writes_one_audit_record() {
    let w = world();
    let d = w.approve(&request());
    w.h.verify(&request(), &d, VERIFIED).unwrap();
    let _ = w.h.verify(&request(), &d, VERIFIED).unwrap_err();
    let _ = w.h.verify_bytes(b"{}", b"not json", VERIFIED).unwrap_err();
    let log = w.h.registry.audit_log();
    let outcomes: Vec<&str> = log.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["accepted", "statement_replayed", "malformed_request"]);
    assert_eq!(log[0].approver.as_deref(), Some("bob@example.com"));
    assert_eq!(log[0].credential_id.as_ref(), Some(&w.bob));
    // The accepted record carries the decision, so it can be re-verified.
    let archived = Decision::from_json(log[0].decision.as_ref().unwrap().as_bytes()).unwrap();
    assert_eq!(archived, d);
}

#[test]
fn racing_verifications_of_one_statement_pass_exactly_once() {
    let w = world();
    let d = w.approve(&request());
    let registry = Arc::new(w.h.registry);
    let policy = Arc::new(w.h.policy);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    let results: Vec<bool> = runtime.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (registry, policy): (Arc<MemoryRegistry>, _) = (registry.clone(), policy.clone());
            let (r, d) = (bytes(&request_json()), bytes(&d));
            tasks.push(tokio::spawn(async move {
                let verifier = Verifier::new(&policy, &*registry, &*registry);
                verifier.verify_json(&r, &d, &t(VERIFIED)).await.is_ok()
            }));
        }
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.unwrap());
        }
        out
    });
    assert_eq!(results.iter().filter(|ok| **ok).count(), 1, "{results:?}");
}

/// The decision endpoint's admission: what it can check without the
/// request (the signature, the credential, the approver) and nothing the
/// gate checks later (the request, single use), so a decision it admits
/// still verifies once, and one it refuses is audited and never sent.
#[test]
fn the_decision_endpoint_admits_only_a_valid_signature_and_consumes_nothing() {
    let w = world();
    let admit = |decision: &serde_json::Value, now: &str| {
        let verifier = Verifier::new(&w.h.policy, &w.h.registry, &w.h.registry);
        block_on(verifier.admit_json(&bytes(decision), &t(now)))
    };
    let d = w.approve(&request());
    let admitted = admit(&json(&d), VERIFIED).unwrap();
    assert_eq!(admitted.approver(), "bob@example.com");
    assert_eq!(admitted.verdict(), Verdict::Approve);
    assert_eq!(admitted.credential_label(), "bob@example.com laptop");
    assert_eq!(admitted.decision(), &d);
    // Admission reads only: admitted twice, the decision still verifies once.
    admit(&json(&d), VERIFIED).unwrap();
    assert!(w.h.registry.audit_log().is_empty());
    assert!(w.h.verify(&request(), &d, VERIFIED).is_ok());
    let verified_records = w.h.registry.audit_log().len();

    let refused = |decision: serde_json::Value, now: &str| match admit(&decision, now) {
        Err(VerifyError::Rejected(r)) => r.code,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let mut edited = json(&w.approve(&request()));
    edited["statement"]["reason"] = "edited after signing".into();
    assert_eq!(refused(edited, VERIFIED), Code::ChallengeMismatch);
    let mut forged = json(&w.approve(&request()));
    let mut signature = forged["assertion"]["signature"].as_str().unwrap().to_owned();
    signature.replace_range(8..12, "AAAA");
    forged["assertion"]["signature"] = signature.into();
    assert!(
        matches!(
            refused(forged, VERIFIED),
            Code::BadSignature | Code::MalformedBase64
        ),
        "a changed signature must not pass"
    );
    let dave =
        w.h.sign(&request(), Verdict::Approve, "dave@example.com", &w.dave, SIGNED);
    let mut impostor = json(&dave);
    impostor["statement"]["approver"] = "bob@example.com".into();
    assert_eq!(refused(impostor, VERIFIED), Code::CredentialOfAnotherUser);
    let mut stranger = json(&w.approve(&request()));
    stranger["statement"]["approver"] = "mallory@example.com".into();
    assert_eq!(refused(stranger, VERIFIED), Code::UnknownApprover);
    assert_eq!(
        refused(json(&w.approve(&request())), "2026-11-21T09:50:00Z"),
        Code::SignedInFuture
    );
    w.h.registry
        .set_status(w.bob.as_bytes(), CredentialStatus::Revoked);
    assert_eq!(refused(json(&d), VERIFIED), Code::CredentialNotActive);
    assert_eq!(
        refused(serde_json::json!({"tapprove": "approval/v1"}), VERIFIED),
        Code::MalformedDecision
    );

    // Every refusal is audited, saying that it was the endpoint's.
    let log = w.h.registry.audit_log().split_off(verified_records);
    assert_eq!(log.len(), 7, "{log:?}");
    assert!(
        log.iter()
            .all(|a| a.message.starts_with("the decision endpoint refused")),
        "{log:?}"
    );
    assert_eq!(log.last().unwrap().outcome, "malformed_decision");
}
