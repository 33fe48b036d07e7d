//! The software authenticator: it asks nothing of the person unless it can
//! sign, it sets the UV flag only after checking the PIN, it locks after
//! too many wrong PINs, its counter survives restarts, and its private key
//! never shows up in Debug output or error messages.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

use tapprove_authn::software::{FileKeyStore, KeyStore, PIN_RETRIES, SoftwareAuthenticator};
use tapprove_authn::{
    AssertionRequest, Authenticator, AuthnError, CredentialRequest, SignError, SigningRequest,
    UserVerification, sign_decision,
};
use tapprove_core::canonical::{creation_client_data_json, origin_for};
use tapprove_core::webauthn::AuthenticatorData;
use tapprove_proto::{Base64Url, Verdict};
use tapprove_test_support::*;

fn signing(credentials: Vec<Base64Url>, uv: UserVerification) -> SigningRequest<'static> {
    let request: &'static tapprove_proto::Request = Box::leak(Box::new(request()));
    SigningRequest {
        request,
        verdict: Verdict::Approve,
        reason: None,
        reason_code: None,
        approver: "bob@example.com".into(),
        rp_id: RP_ID.into(),
        signed_at: t(SIGNED),
        allow_credentials: credentials,
        user_verification: uv,
    }
}

fn sign(
    h: &Harness,
    prompt: &CountingPrompt,
    signing: &SigningRequest<'_>,
) -> Result<tapprove_proto::Decision, SignError> {
    sign_decision(&h.authenticator(), prompt, signing)
}

fn authn_error(result: Result<tapprove_proto::Decision, SignError>) -> AuthnError {
    match result {
        Err(SignError::Authenticator(e)) => e,
        other => panic!("expected an authenticator error, got {other:?}"),
    }
}

#[test]
fn no_prompt_when_no_registered_credential_is_here() {
    let h = Harness::new();
    h.enrol("bob@example.com", &["prod-approvers"], Some("4711"));
    let elsewhere = Harness::new().enrol("bob@example.com", &["prod-approvers"], None);
    let prompt = CountingPrompt::with_pin("4711");
    let e = authn_error(sign(
        &h,
        &prompt,
        &signing(vec![elsewhere], UserVerification::Required),
    ));
    assert_eq!(e, AuthnError::NoMatchingCredential);
    assert_eq!(prompt.interactions(), 0);

    let e = authn_error(sign(&h, &prompt, &signing(vec![], UserVerification::Required)));
    assert_eq!(e, AuthnError::NoMatchingCredential);
    assert_eq!(prompt.interactions(), 0);
}

#[test]
fn an_invalid_statement_is_refused_before_any_prompt() {
    let h = Harness::new();
    let key = h.enrol("bob@example.com", &["prod-approvers"], None);
    let prompt = CountingPrompt::new();
    let mut s = signing(vec![key], UserVerification::Discouraged);
    s.reason = Some("r".repeat(2000));
    assert!(matches!(sign(&h, &prompt, &s), Err(SignError::Invalid(_))));
    assert_eq!(prompt.interactions(), 0);
}

#[test]
fn uv_flag_is_set_only_after_the_pin_was_checked() {
    let h = Harness::new();
    let key = h.enrol("bob@example.com", &["prod-approvers"], Some("4711"));
    let flags = |uv, prompt: &CountingPrompt| {
        let d = sign(&h, prompt, &signing(vec![key.clone()], uv)).unwrap();
        AuthenticatorData::parse(d.assertion.authenticator_data.as_bytes())
            .unwrap()
            .flags
    };
    let with_pin = CountingPrompt::with_pin("4711");
    assert!(flags(UserVerification::Required, &with_pin).user_verified());
    assert_eq!(with_pin.pins_asked(), 1);
    let without = CountingPrompt::new();
    let f = flags(UserVerification::Discouraged, &without);
    assert!(f.user_present() && !f.user_verified());
    assert_eq!(without.pins_asked(), 0);
}

#[test]
fn uv_required_without_a_pin_fails_without_prompting() {
    let h = Harness::new();
    let key = h.enrol("bob@example.com", &["prod-approvers"], None);
    let prompt = CountingPrompt::with_pin("4711");
    let e = authn_error(sign(&h, &prompt, &signing(vec![key], UserVerification::Required)));
    assert!(matches!(e, AuthnError::UserVerificationUnavailable(_)), "{e:?}");
    assert_eq!(prompt.interactions(), 0);
}

#[test]
fn cancelling_the_pin_signs_nothing_and_uses_no_counter() {
    let h = Harness::new();
    let key = h.enrol("bob@example.com", &["prod-approvers"], Some("4711"));
    let e = authn_error(sign(
        &h,
        &CountingPrompt::cancelling(),
        &signing(vec![key.clone()], UserVerification::Required),
    ));
    assert_eq!(e, AuthnError::Cancelled);
    assert_eq!(h.keys.load(key.as_bytes()).unwrap().unwrap().counter, 0);
}

#[test]
fn wrong_pins_count_down_then_block_and_a_right_pin_resets() {
    let h = Harness::new();
    let key = h.enrol("bob@example.com", &["prod-approvers"], Some("4711"));
    let s = signing(vec![key.clone()], UserVerification::Required);
    let e = authn_error(sign(&h, &CountingPrompt::with_pin("0000"), &s));
    assert_eq!(
        e,
        AuthnError::PinInvalid {
            attempts_left: PIN_RETRIES - 1
        }
    );
    sign(&h, &CountingPrompt::with_pin("4711"), &s).unwrap();
    assert_eq!(
        h.keys.load(key.as_bytes()).unwrap().unwrap().pin_retries,
        PIN_RETRIES
    );

    for left in (1..PIN_RETRIES).rev() {
        let e = authn_error(sign(&h, &CountingPrompt::with_pin("0000"), &s));
        assert_eq!(e, AuthnError::PinInvalid { attempts_left: left });
    }
    assert_eq!(
        authn_error(sign(&h, &CountingPrompt::with_pin("0000"), &s)),
        AuthnError::PinBlocked
    );
    // Blocked: even the right PIN is not asked for any more.
    let prompt = CountingPrompt::with_pin("4711");
    assert_eq!(authn_error(sign(&h, &prompt, &s)), AuthnError::PinBlocked);
    assert_eq!(prompt.pins_asked(), 0);
}

#[test]
fn enrolling_an_authenticator_twice_is_refused() {
    let h = Harness::new();
    let key = h.enrol("bob@example.com", &["prod-approvers"], None);
    let e = h
        .authenticator()
        .make_credential(
            &CredentialRequest {
                rp_id: RP_ID.into(),
                user_name: "bob@example.com".into(),
                user_handle: b"bob".to_vec(),
                client_data_json: creation_client_data_json(&[1; 32], &origin_for(RP_ID)),
                exclude_credentials: vec![key],
                user_verification: UserVerification::Discouraged,
                label: "again".into(),
            },
            &CountingPrompt::new(),
        )
        .unwrap_err();
    assert_eq!(e, AuthnError::AlreadyEnrolled);
}

fn new_credential(auth: &SoftwareAuthenticator<&FileKeyStore>) -> tapprove_authn::NewCredential {
    auth.make_credential(
        &CredentialRequest {
            rp_id: RP_ID.into(),
            user_name: "bob@example.com".into(),
            user_handle: b"bob".to_vec(),
            client_data_json: creation_client_data_json(&[1; 32], &origin_for(RP_ID)),
            exclude_credentials: vec![],
            user_verification: UserVerification::Discouraged,
            label: "laptop".into(),
        },
        &CountingPrompt::new(),
    )
    .unwrap()
}

#[test]
fn file_store_keeps_the_counter_and_its_files_private() {
    let dir = std::env::temp_dir().join(format!("tapprove-keys-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = FileKeyStore::open(&dir).unwrap();
    let auth = SoftwareAuthenticator::new(&store, t(CREATED));
    let created = new_credential(&auth);
    let assert_once = |auth: &SoftwareAuthenticator<&FileKeyStore>| {
        let raw = auth
            .get_assertion(
                &AssertionRequest {
                    rp_id: RP_ID.into(),
                    client_data_json: b"{}".to_vec(),
                    allow_credentials: vec![created.credential_id.clone()],
                    user_verification: UserVerification::Discouraged,
                },
                &CountingPrompt::new(),
            )
            .unwrap();
        AuthenticatorData::parse(&raw.authenticator_data)
            .unwrap()
            .sign_count
    };
    assert_eq!(assert_once(&auth), 1);
    // A new process: reopen the store.
    let reopened = FileKeyStore::open(&dir).unwrap();
    assert_eq!(assert_once(&SoftwareAuthenticator::new(&reopened, t(CREATED))), 2);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        for entry in std::fs::read_dir(&dir).unwrap() {
            let mode = entry.unwrap().metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_private_key_never_appears_in_debug_output_or_errors() {
    let dir = std::env::temp_dir().join(format!("tapprove-secret-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = FileKeyStore::open(&dir).unwrap();
    let auth = SoftwareAuthenticator::new(&store, t(CREATED));
    let created = new_credential(&auth);
    let key = store.load(created.credential_id.as_bytes()).unwrap().unwrap();
    let secret = Base64Url::new(key.secret.to_vec()).encode();
    assert!(!format!("{key:?}").contains(&secret));

    // Corrupt the file around the secret: the error names the file and the
    // position, never the content.
    let path = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"counter\"", "\"counter\" 1,")).unwrap();
    let e = store
        .load(created.credential_id.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a software key file"), "{e}");
    assert!(!e.contains(&secret), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
