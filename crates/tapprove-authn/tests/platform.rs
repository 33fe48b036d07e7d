//! This machine's authenticators, as the app and the CLI get them.
//!
//! The plain tests run everywhere (Linux CI, and the macOS and Windows jobs
//! of `.github/workflows/platforms.yml`). The ignored ones make a real
//! credential with the platform authenticator and sign with it: they need a
//! person to touch the sensor, and run on the self-hosted `biometric`
//! runners (`cargo test -p tapprove-authn --test platform -- --ignored`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

use std::sync::Mutex;

use tapprove_authn::{
    AssertionRequest, AuthnError, CredentialRequest, PinRequest, Prompt, UserPrompt, UserVerification,
    platform_authenticator, security_key_authenticator,
};
use tapprove_core::VerifierPolicy;
use tapprove_core::canonical::{client_data_json, creation_client_data_json, origin_for, sha256};
use tapprove_core::enrolment::check_new_credential;
use tapprove_core::webauthn::{AttestationObject, AuthenticatorData};
use tapprove_proto::Sha256Digest;
use tapprove_proto::registry::AuthenticatorKind;
use zeroize::Zeroizing;

const RP_ID: &str = "platform-test.tapprove.invalid";

#[derive(Debug, Default)]
struct Recording(Mutex<Vec<Prompt>>);

impl UserPrompt for Recording {
    fn show(&self, prompt: Prompt) {
        self.0.lock().unwrap().push(prompt);
    }

    fn pin(&self, _request: &PinRequest) -> Option<Zeroizing<String>> {
        std::env::var("TAPPROVE_TEST_PIN").ok().map(Zeroizing::new)
    }
}

#[test]
fn the_platform_authenticator_is_platform_kind_and_says_what_it_is() {
    let platform = platform_authenticator();
    assert_eq!(platform.kind(), AuthenticatorKind::Platform);
    let description = platform.description();
    if cfg!(target_os = "macos") {
        assert_eq!(description, "Touch ID");
    } else if cfg!(windows) {
        assert_eq!(description, "Windows Hello");
    } else {
        assert_eq!(description, "a platform authenticator");
    }
}

#[cfg(not(any(target_os = "macos", windows)))]
#[test]
fn without_a_platform_authenticator_enrolment_says_what_to_use_instead() {
    let prompt = Recording::default();
    let error = platform_authenticator()
        .make_credential(&credential_request(), &prompt)
        .unwrap_err();
    assert!(matches!(error, AuthnError::Unavailable(_)), "{error:?}");
    assert!(error.to_string().contains("enrol a security key"), "{error}");
    assert!(prompt.0.lock().unwrap().is_empty(), "nothing was shown");
}

/// No security key is plugged into a CI runner: the answer is "plug it in",
/// before any prompt.
#[cfg(not(windows))]
#[test]
fn with_no_security_key_plugged_in_signing_says_so_without_a_prompt() {
    if std::env::var_os("TAPPROVE_TEST_SECURITY_KEY").is_some() {
        return;
    }
    let prompt = Recording::default();
    let error = security_key_authenticator()
        .get_assertion(&assertion_request(vec![vec![1; 32]]), &prompt)
        .unwrap_err();
    assert_eq!(error, AuthnError::NotFound);
    assert!(error.to_string().contains("plug in your security key"));
    assert!(prompt.0.lock().unwrap().is_empty(), "nothing was shown");
    // So signing moves on to another authenticator instead of waiting.
    let holds = security_key_authenticator().holds_any(RP_ID, &[tapprove_proto::Base64Url::new(vec![1; 32])]);
    assert_eq!(holds, Ok(Some(false)));
}

fn credential_request() -> CredentialRequest {
    CredentialRequest {
        rp_id: RP_ID.into(),
        user_name: "platform-test@example.com".into(),
        user_handle: vec![7; 16],
        client_data_json: creation_client_data_json(&[3; 32], &origin_for(RP_ID)),
        exclude_credentials: vec![],
        user_verification: UserVerification::Required,
        label: "platform test".into(),
    }
}

fn assertion_request(ids: Vec<Vec<u8>>) -> AssertionRequest {
    AssertionRequest {
        rp_id: RP_ID.into(),
        client_data_json: client_data_json(&Sha256Digest([5; 32]), &origin_for(RP_ID)),
        allow_credentials: ids.into_iter().map(tapprove_proto::Base64Url::new).collect(),
        user_verification: UserVerification::Required,
    }
}

/// Enrols with the platform authenticator, checks the credential as the
/// enrolment service would, signs with it, checks the signature, and
/// deletes the credential again.
#[test]
#[ignore = "needs a person at a Mac with Touch ID or a Windows PC with Windows Hello"]
fn platform_credential_round_trip() {
    let platform = platform_authenticator();
    let prompt = Recording::default();
    let request = credential_request();
    let created = platform.make_credential(&request, &prompt).unwrap();
    let client_data = created
        .client_data_json
        .clone()
        .unwrap_or(request.client_data_json.clone());
    let checked = check_new_credential(
        &VerifierPolicy::new(RP_ID),
        &[3; 32],
        &client_data,
        &created.attestation_object,
        created.credential_id.as_bytes(),
        tapprove_core::enrolment::Judged {
            now: &tapprove_proto::UtcTime::now(),
            model: None,
        },
    )
    .unwrap();
    assert!(checked.user_verified);

    let signing = assertion_request(vec![created.credential_id.as_bytes().to_vec()]);
    let signed = platform.get_assertion(&signing, &prompt).unwrap();
    let key = AttestationObject::parse(&created.attestation_object)
        .unwrap()
        .credential_key()
        .unwrap();
    let mut message = signed.authenticator_data.clone();
    message.extend_from_slice(&sha256(
        signed
            .client_data_json
            .as_deref()
            .unwrap_or(&signing.client_data_json),
    ));
    key.verify(&message, &signed.signature).unwrap();
    let data = AuthenticatorData::parse(&signed.authenticator_data).unwrap();
    assert!(data.flags.user_verified());

    platform.forget(&created.credential_id).unwrap();
}
