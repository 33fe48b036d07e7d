//! Interop, one way: credentials created and assertions signed by an
//! independent implementation (kanidm's `webauthn-authenticator-rs`,
//! SoftPasskey and SoftToken) pass Tapprove's enrolment checks and
//! verifier.
//!
//! Its built-in client writes clientDataJSON with `origin` as a parsed URL
//! (`https://example.com/`, trailing slash) and `tokenBinding: null`, where
//! browsers write `https://example.com`. Both paths are tested: Tapprove's
//! own clientDataJSON signed through the authenticator's hashed-client-data
//! backend, and the library's full client with its origin configured as an
//! extra origin (which the default policy rightly refuses).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

use sha2::{Digest, Sha256};
use tapprove_core::canonical::{client_data_json, origin_for, statement_challenge};
use tapprove_core::enrolment::check_new_credential;
use tapprove_core::registry::CredentialRecord;
use tapprove_core::{Code, VerifiedDecision};
use tapprove_proto::registry::{AuthenticatorKind, CredentialStatus};
use tapprove_proto::{Assertion, Base64Url, Decision, Verdict};
use tapprove_test_support::*;
use webauthn_authenticator_rs::AuthenticatorBackendHashedClientData;
use webauthn_authenticator_rs::prelude::{Url, WebauthnAuthenticator};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_rs_proto::{
    AllowCredentials, AuthenticatorSelectionCriteria, CreationChallengeResponse, PubKeyCredParams,
    PublicKeyCredentialCreationOptions, PublicKeyCredentialRequestOptions, RelyingParty,
    RequestChallengeResponse, User, UserVerificationPolicy,
};

const KANIDM_ORIGIN: &str = "https://example.com/";

fn creation(challenge: &[u8]) -> CreationChallengeResponse {
    CreationChallengeResponse {
        public_key: PublicKeyCredentialCreationOptions {
            rp: RelyingParty {
                name: "Tapprove test".into(),
                id: RP_ID.into(),
            },
            user: User {
                id: b"bob".to_vec(),
                name: "bob@example.com".into(),
                display_name: "Bob".into(),
            },
            challenge: challenge.to_vec(),
            pub_key_cred_params: vec![PubKeyCredParams {
                type_: "public-key".into(),
                alg: -7,
            }],
            timeout: Some(60_000),
            exclude_credentials: None,
            authenticator_selection: Some(AuthenticatorSelectionCriteria {
                authenticator_attachment: None,
                resident_key: None,
                require_resident_key: false,
                user_verification: UserVerificationPolicy::Required,
            }),
            hints: None,
            attestation: None,
            attestation_formats: None,
            extensions: None,
        },
    }
}

fn request_options(challenge: &[u8], credential_id: &[u8]) -> PublicKeyCredentialRequestOptions {
    PublicKeyCredentialRequestOptions {
        challenge: challenge.to_vec(),
        timeout: Some(60_000),
        rp_id: RP_ID.into(),
        allow_credentials: vec![AllowCredentials {
            type_: "public-key".into(),
            id: credential_id.to_vec(),
            transports: None,
        }],
        user_verification: UserVerificationPolicy::Required,
        hints: None,
        extensions: None,
    }
}

/// Registers a credential made by `authenticator` through Tapprove's
/// enrolment checks, as bob in prod-approvers.
fn enrol<T: AuthenticatorBackendHashedClientData>(h: &mut Harness, authenticator: &mut T) -> Base64Url {
    let challenge = [3u8; 32];
    let reg = authenticator
        .do_registration(Url::parse("https://example.com").unwrap(), creation(&challenge))
        .unwrap();
    // The library's client writes the origin with a trailing slash.
    let mut policy = h.policy.clone();
    policy.extra_origins = vec![KANIDM_ORIGIN.into()];
    let checked = check_new_credential(
        &policy,
        &challenge,
        &reg.response.client_data_json,
        &reg.response.attestation_object,
        &reg.raw_id,
        tapprove_core::enrolment::Judged {
            now: &tapprove_proto::UtcTime::now(),
            model: None,
        },
    )
    .expect("Tapprove's enrolment checks refused kanidm's credential");
    assert!(checked.user_verified);
    h.registry
        .add_approver("bob@example.com", ["prod-approvers".to_owned()]);
    h.registry.add_credential(CredentialRecord {
        credential_id: checked.credential_id.clone(),
        owner: "bob@example.com".into(),
        public_key: checked.public_key,
        counter: checked.counter,
        aaguid: checked.aaguid,
        kind: AuthenticatorKind::SecurityKey,
        status: CredentialStatus::Active,
        label: "kanidm soft authenticator".into(),
        model_proven: checked.model_proven,
        attestation: None,
    });
    checked.credential_id
}

/// Signs Tapprove's own clientDataJSON through the authenticator.
fn sign_hashed<T: AuthenticatorBackendHashedClientData>(
    authenticator: &mut T,
    credential: &Base64Url,
) -> Decision {
    let statement = statement(&request(), Verdict::Approve, "bob@example.com", SIGNED);
    let challenge = statement_challenge(&statement).unwrap();
    let client_data = client_data_json(&challenge, &origin_for(RP_ID));
    let cred = authenticator
        .perform_auth(
            Sha256::digest(&client_data).to_vec(),
            request_options(challenge.as_bytes(), credential.as_bytes()),
            60_000,
        )
        .unwrap();
    Decision {
        tapprove: Default::default(),
        statement,
        assertion: Assertion {
            credential_id: Base64Url::new(cred.raw_id),
            authenticator_data: Base64Url::new(cred.response.authenticator_data),
            client_data_json: Base64Url::new(client_data),
            signature: Base64Url::new(cred.response.signature),
            user_handle: cred.response.user_handle.map(Base64Url::new),
        },
    }
}

/// Signs through the library's own WebAuthn client (its clientDataJSON).
fn sign_full_client<T: AuthenticatorBackendHashedClientData>(
    authenticator: &mut T,
    credential: &Base64Url,
    signed_at: &str,
) -> Decision {
    let statement = statement(&request(), Verdict::Approve, "bob@example.com", signed_at);
    let challenge = statement_challenge(&statement).unwrap();
    let cred = authenticator
        .do_authentication(
            Url::parse("https://example.com").unwrap(),
            RequestChallengeResponse {
                public_key: request_options(challenge.as_bytes(), credential.as_bytes()),
                mediation: None,
            },
        )
        .unwrap();
    let text = String::from_utf8(cred.response.client_data_json.clone()).unwrap();
    assert!(text.contains(r#""origin":"https://example.com/""#), "{text}");
    Decision {
        tapprove: Default::default(),
        statement,
        assertion: Assertion {
            credential_id: Base64Url::new(cred.raw_id),
            authenticator_data: Base64Url::new(cred.response.authenticator_data),
            client_data_json: Base64Url::new(cred.response.client_data_json),
            signature: Base64Url::new(cred.response.signature),
            user_handle: cred.response.user_handle.map(Base64Url::new),
        },
    }
}

fn check_both_paths<T: AuthenticatorBackendHashedClientData>(mut authenticator: T) {
    let mut h = Harness::new();
    h.policy.require_user_verification = true;
    let credential = enrol(&mut h, &mut authenticator);

    let decision = sign_hashed(&mut authenticator, &credential);
    match h.verify(&request(), &decision, VERIFIED).unwrap() {
        VerifiedDecision::Approve(a) => {
            assert_eq!(a.approver(), "bob@example.com");
            assert!(a.user_verified());
        }
        other => panic!("{other:?}"),
    }

    // The full client's origin has a trailing slash: refused by default...
    let decision = sign_full_client(&mut authenticator, &credential, "2026-11-21T10:03:13Z");
    let refused = h.verify(&request(), &decision, VERIFIED).unwrap_err();
    assert_eq!(refused.code(), Some(Code::OriginNotAllowed));
    // ...and accepted once that exact origin is configured (its other
    // members, such as tokenBinding, are ignored as the spec says). The
    // refused attempt claimed nothing, so this is not a replay.
    h.policy.extra_origins = vec![KANIDM_ORIGIN.into()];
    let decision = sign_full_client(&mut authenticator, &credential, "2026-11-21T10:03:14Z");
    let refused_as_duplicate = h.verify(&request(), &decision, VERIFIED).unwrap_err();
    // bob already approved this request through the first path.
    assert_eq!(refused_as_duplicate.code(), Some(Code::DuplicateApprover));
}

#[test]
fn softpasskey_credentials_and_assertions_verify() {
    check_both_paths(SoftPasskey::new(true));
}

#[test]
fn softtoken_credentials_and_assertions_verify() {
    let (token, _ca) = SoftToken::new(true).unwrap();
    check_both_paths(token);
}

#[test]
fn full_client_assertion_verifies_with_its_origin_configured() {
    let mut authenticator = SoftPasskey::new(true);
    let mut h = Harness::new();
    let credential = enrol(&mut h, &mut authenticator);
    h.policy.extra_origins = vec![KANIDM_ORIGIN.into()];
    let decision = sign_full_client(&mut authenticator, &credential, SIGNED);
    assert_eq!(
        h.verify(&request(), &decision, VERIFIED).unwrap().approver(),
        "bob@example.com"
    );
}
