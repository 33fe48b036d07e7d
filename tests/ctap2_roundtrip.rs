//! A CTAP2 round trip without hardware: Tapprove's `BackendAuthenticator`
//! (the code Windows uses, and any CTAP2 token) drives
//! `webauthn-authenticator-rs`'s CTAP2 client stack, which sends real CTAP2
//! CBOR commands (GetInfo, MakeCredential, GetAssertion, with the user
//! verification option) to an in-process device: a `transport::Token` that
//! decodes each command and answers it with kanidm's `SoftToken`, encoded
//! back as the CTAP2 response a USB key would send.
//!
//! What comes out goes through Tapprove's own enrolment checks (attestation
//! chain against the org's roots, AAGUID allow-list, software forbidden)
//! and its verifier.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a test failure report

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine;
use sha2::{Digest, Sha256};
use tapprove_authn::backend::{Backend, BackendAuthenticator, PromptBridge};
use tapprove_authn::{
    Authenticator, AuthnError, CredentialRequest, Prompt, SignError, SigningRequest, UserVerification,
    sign_decision,
};
use tapprove_core::canonical::{creation_client_data_json, origin_for};
use tapprove_core::enrolment::{EnrolmentError, check_new_credential};
use tapprove_core::registry::CredentialRecord;
use tapprove_core::webauthn::AttestationFormat;
use tapprove_core::{Code, VerifiedDecision};
use tapprove_proto::registry::{AuthenticatorKind, CredentialStatus, SOFTWARE_AAGUID};
use tapprove_proto::{Base64Url, Verdict};
use tapprove_test_support::*;
use webauthn_authenticator_rs::AuthenticatorBackendHashedClientData;
use webauthn_authenticator_rs::ctap2::CtapAuthenticator;
use webauthn_authenticator_rs::ctap2::commands::{CBORResponse, GetAssertionRequest, MakeCredentialRequest};
use webauthn_authenticator_rs::error::{CtapError, WebauthnCError};
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_authenticator_rs::transport::Token;
use webauthn_authenticator_rs::ui::UiCallback;
use webauthn_authenticator_rs::{perform_auth_with_request, perform_register_with_request};
use webauthn_rs_proto::{
    AuthenticatorSelectionCriteria, AuthenticatorTransport, PublicKeyCredential,
    PublicKeyCredentialCreationOptions, PublicKeyCredentialRequestOptions, RegisterPublicKeyCredential,
    UserVerificationPolicy,
};

const MAKE_CREDENTIAL: u8 = 0x01;
const GET_ASSERTION: u8 = 0x02;
const GET_INFO: u8 = 0x04;

/// The in-process CTAP2 device. Clones share one SoftToken, as opening a
/// USB key twice reaches the same key.
#[derive(Clone)]
struct SoftTokenDevice {
    token: Arc<Mutex<SoftToken>>,
    /// Whether the device says it has built-in user verification.
    built_in_uv: bool,
    /// Every CTAP2 command byte received, in order.
    commands: Arc<Mutex<Vec<u8>>>,
}

impl std::fmt::Debug for SoftTokenDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftTokenDevice")
            .field("built_in_uv", &self.built_in_uv)
            .finish_non_exhaustive()
    }
}

impl SoftTokenDevice {
    fn new(built_in_uv: bool) -> (Self, Vec<u8>) {
        // The token sets UV only when it is told to pretend; the device
        // advertises UV only when it may.
        let (token, ca) = SoftToken::new(built_in_uv).unwrap();
        let ca = der_of(&ca);
        (
            Self {
                token: Arc::new(Mutex::new(token)),
                built_in_uv,
                commands: Arc::default(),
            },
            ca,
        )
    }

    fn commands(&self) -> Vec<u8> {
        self.commands.lock().unwrap().clone()
    }
}

fn der_of(cert: &impl der08::Encode) -> Vec<u8> {
    cert.to_der().unwrap()
}

#[async_trait]
impl Token for SoftTokenDevice {
    type Id = ();

    fn get_transport(&self) -> AuthenticatorTransport {
        AuthenticatorTransport::Usb
    }

    async fn transmit_raw<U>(&mut self, cbor: &[u8], ui: &U) -> Result<Vec<u8>, WebauthnCError>
    where
        U: UiCallback,
    {
        let (&command, body) = cbor.split_first().ok_or(WebauthnCError::MessageTooShort)?;
        self.commands.lock().unwrap().push(command);
        let mut token = self.token.lock().unwrap();
        match command {
            GET_INFO => {
                let mut info = token.get_info();
                info.versions.insert("FIDO_2_0".into());
                info.options = Some(BTreeMap::from([
                    ("up".to_owned(), true),
                    ("rk".to_owned(), false),
                    ("uv".to_owned(), self.built_in_uv),
                ]));
                let map: BTreeMap<u32, serde_cbor_2::Value> = info.into();
                serde_cbor_2::to_vec(&map).map_err(|_| WebauthnCError::Cbor)
            }
            MAKE_CREDENTIAL => {
                let request = <MakeCredentialRequest as CBORResponse>::try_from(body)?;
                let uv = asks_uv(body, 0x07);
                ui.request_touch();
                perform_register_with_request(
                    &mut Verifying {
                        token: &mut token,
                        uv,
                    },
                    request,
                    10_000,
                )
                .map_err(as_ctap)
            }
            GET_ASSERTION => {
                let request = <GetAssertionRequest as CBORResponse>::try_from(body)?;
                let uv = asks_uv(body, 0x05);
                ui.request_touch();
                perform_auth_with_request(
                    &mut Verifying {
                        token: &mut token,
                        uv,
                    },
                    request,
                    10_000,
                )
                .map_err(|e| match e {
                    // SoftToken's "credential id not found"; a key answers 0x2E.
                    WebauthnCError::Internal => WebauthnCError::Ctap(CtapError::Ctap2NoCredentials),
                    other => as_ctap(other),
                })
            }
            _ => Err(WebauthnCError::Ctap(CtapError::Ctap1InvalidCommand)),
        }
    }

    async fn cancel(&mut self) -> Result<(), WebauthnCError> {
        Ok(())
    }

    async fn init(&mut self) -> Result<(), WebauthnCError> {
        Ok(())
    }

    async fn close(&mut self) -> Result<(), WebauthnCError> {
        Ok(())
    }
}

/// Whether a command's options map (member `key`) sets `uv`. Read from the
/// CBOR itself: the library's request parser drops GetAssertion's options.
fn asks_uv(body: &[u8], key: u32) -> bool {
    use serde_cbor_2::Value;
    let Ok(map) = serde_cbor_2::from_slice::<BTreeMap<u32, Value>>(body) else {
        return false;
    };
    match map.get(&key) {
        Some(Value::Map(options)) => options.get(&Value::Text("uv".into())) == Some(&Value::Bool(true)),
        _ => false,
    }
}

/// SoftToken behind the CTAP2 `uv` option: the library's request helpers
/// drop the option, so it is put back as the WebAuthn policy SoftToken
/// reads (it sets the UV flag only when asked and allowed to).
struct Verifying<'a> {
    token: &'a mut SoftToken,
    uv: bool,
}

impl AuthenticatorBackendHashedClientData for Verifying<'_> {
    fn perform_register(
        &mut self,
        client_data_hash: Vec<u8>,
        mut options: PublicKeyCredentialCreationOptions,
        timeout_ms: u32,
    ) -> Result<RegisterPublicKeyCredential, WebauthnCError> {
        if self.uv {
            options.authenticator_selection = Some(AuthenticatorSelectionCriteria {
                authenticator_attachment: None,
                resident_key: None,
                require_resident_key: false,
                user_verification: UserVerificationPolicy::Required,
            });
        }
        self.token.perform_register(client_data_hash, options, timeout_ms)
    }

    fn perform_auth(
        &mut self,
        client_data_hash: Vec<u8>,
        mut options: PublicKeyCredentialRequestOptions,
        timeout_ms: u32,
    ) -> Result<PublicKeyCredential, WebauthnCError> {
        options.user_verification = if self.uv {
            UserVerificationPolicy::Required
        } else {
            UserVerificationPolicy::Discouraged_DO_NOT_USE
        };
        self.token.perform_auth(client_data_hash, options, timeout_ms)
    }
}

/// What a real key would put on the wire for a SoftToken failure.
fn as_ctap(error: WebauthnCError) -> WebauthnCError {
    match error {
        WebauthnCError::Ctap(_) => error,
        WebauthnCError::Security => WebauthnCError::Ctap(CtapError::Ctap2NoCredentials),
        WebauthnCError::NotSupported => WebauthnCError::Ctap(CtapError::Ctap2UnsupportedOption),
        _ => WebauthnCError::Ctap(CtapError::Ctap1InvalidParameter),
    }
}

/// The CTAP2 client stack over the device: what a USB key gets.
#[derive(Debug)]
struct Ctap2Backend {
    device: SoftTokenDevice,
}

impl Ctap2Backend {
    fn open<'a>(
        &self,
        ui: &'a PromptBridge<'a>,
    ) -> Result<CtapAuthenticator<'a, SoftTokenDevice, PromptBridge<'a>>, WebauthnCError> {
        futures::executor::block_on(CtapAuthenticator::new(self.device.clone(), ui))
            .ok_or(WebauthnCError::NoSelectedToken)
    }
}

impl Backend for Ctap2Backend {
    fn description(&self) -> String {
        "the test security key".into()
    }

    fn register(
        &self,
        ui: &PromptBridge<'_>,
        client_data_json: &[u8],
        options: PublicKeyCredentialCreationOptions,
    ) -> Result<RegisterPublicKeyCredential, WebauthnCError> {
        let mut authenticator = self.open(ui)?;
        AuthenticatorBackendHashedClientData::perform_register(
            &mut authenticator,
            Sha256::digest(client_data_json).to_vec(),
            options,
            10_000,
        )
    }

    fn authenticate(
        &self,
        ui: &PromptBridge<'_>,
        client_data_json: &[u8],
        options: PublicKeyCredentialRequestOptions,
    ) -> Result<PublicKeyCredential, WebauthnCError> {
        let mut authenticator = self.open(ui)?;
        AuthenticatorBackendHashedClientData::perform_auth(
            &mut authenticator,
            Sha256::digest(client_data_json).to_vec(),
            options,
            10_000,
        )
    }
}

const USER: &str = "bob@example.com";

fn key(built_in_uv: bool) -> (BackendAuthenticator<Ctap2Backend>, SoftTokenDevice, Vec<u8>) {
    let (device, ca) = SoftTokenDevice::new(built_in_uv);
    (
        BackendAuthenticator::new(
            Ctap2Backend {
                device: device.clone(),
            },
            AuthenticatorKind::SecurityKey,
        ),
        device,
        ca,
    )
}

/// Creates a credential and runs Tapprove's enrolment checks on it.
fn enrol(
    authenticator: &dyn Authenticator,
    policy: &tapprove_core::VerifierPolicy,
    uv: UserVerification,
) -> Result<tapprove_core::enrolment::CheckedCredential, EnrolmentError> {
    let challenge = [9u8; 32];
    let client_data = creation_client_data_json(&challenge, &origin_for(RP_ID));
    let prompt = CountingPrompt::new();
    let created = authenticator
        .make_credential(
            &CredentialRequest {
                rp_id: RP_ID.into(),
                user_name: USER.into(),
                user_handle: vec![4; 16],
                client_data_json: client_data.clone(),
                exclude_credentials: vec![],
                user_verification: uv,
                label: "test key".into(),
            },
            &prompt,
        )
        .unwrap();
    if authenticator.kind() == AuthenticatorKind::SecurityKey {
        assert_eq!(
            prompt.last(),
            Some(Prompt::TouchKey),
            "the person is told to touch the key"
        );
    }
    assert_eq!(
        created.client_data_json, None,
        "signed over Tapprove's own clientDataJSON"
    );
    check_new_credential(
        policy,
        &challenge,
        created.client_data_json.as_deref().unwrap_or(&client_data),
        &created.attestation_object,
        created.credential_id.as_bytes(),
        tapprove_core::enrolment::Judged {
            now: &tapprove_proto::UtcTime::now(),
            model: None,
        },
    )
}

fn register(h: &Harness, checked: tapprove_core::enrolment::CheckedCredential) -> Base64Url {
    h.registry.add_approver(USER, ["prod-approvers".to_owned()]);
    let id = checked.credential_id.clone();
    h.registry.add_credential(CredentialRecord {
        credential_id: checked.credential_id,
        owner: USER.into(),
        public_key: checked.public_key,
        counter: checked.counter,
        aaguid: checked.aaguid,
        kind: AuthenticatorKind::SecurityKey,
        status: CredentialStatus::Active,
        label: "test key".into(),
        model_proven: checked.model_proven,
        attestation: None,
    });
    id
}

fn sign(
    authenticator: &dyn Authenticator,
    prompt: &CountingPrompt,
    credentials: Vec<Base64Url>,
    uv: UserVerification,
) -> Result<tapprove_proto::Decision, SignError> {
    let request = request();
    sign_decision(
        authenticator,
        prompt,
        &SigningRequest {
            request: &request,
            verdict: Verdict::Approve,
            reason: None,
            reason_code: None,
            approver: USER.into(),
            rp_id: RP_ID.into(),
            signed_at: t(SIGNED),
            allow_credentials: credentials,
            user_verification: uv,
        },
    )
}

#[test]
fn enrolment_and_a_verified_approval_through_the_ctap2_stack() {
    let (authenticator, device, ca) = key(true);
    let mut h = Harness::new();
    h.policy.require_user_verification = true;
    h.policy.trusted_attestation_roots = Some(vec![ca]);
    let checked = enrol(&authenticator, &h.policy, UserVerification::Required).unwrap();
    assert!(checked.user_verified);
    assert!(matches!(checked.attestation, AttestationFormat::Certified { ref x5c, .. } if !x5c.is_empty()));
    let credential = register(&h, checked);

    let prompt = CountingPrompt::new();
    let decision = sign(
        &authenticator,
        &prompt,
        vec![credential],
        UserVerification::Required,
    )
    .unwrap();
    assert_eq!(prompt.last(), Some(Prompt::TouchKey));
    match h.verify(&request(), &decision, VERIFIED).unwrap() {
        VerifiedDecision::Approve(a) => {
            assert_eq!(a.approver(), USER);
            assert!(a.user_verified());
        }
        other => panic!("{other:?}"),
    }
    // The client stack really spoke CTAP2 to the device: GetInfo before
    // each ceremony, then MakeCredential and GetAssertion.
    let commands = device.commands();
    assert!(commands.contains(&GET_INFO));
    assert_eq!(
        commands
            .iter()
            .filter(|c| **c != GET_INFO)
            .copied()
            .collect::<Vec<_>>(),
        vec![MAKE_CREDENTIAL, GET_ASSERTION]
    );
}

#[test]
fn a_device_without_user_verification_is_refused_when_the_org_requires_it() {
    let (authenticator, _device, _ca) = key(false);
    let prompt = CountingPrompt::new();
    let challenge = [1u8; 32];
    let error = authenticator
        .make_credential(
            &CredentialRequest {
                rp_id: RP_ID.into(),
                user_name: USER.into(),
                user_handle: vec![4; 16],
                client_data_json: creation_client_data_json(&challenge, &origin_for(RP_ID)),
                exclude_credentials: vec![],
                user_verification: UserVerification::Required,
                label: "no uv".into(),
            },
            &prompt,
        )
        .unwrap_err();
    assert!(
        matches!(
            error,
            AuthnError::UserVerificationUnavailable(_) | AuthnError::Refused(_) | AuthnError::PinNotSet
        ),
        "{error:?}: {error}"
    );

    // Presence only still enrols, and the verifier then refuses it under a
    // policy that requires verification.
    let mut h = Harness::new();
    let checked = enrol(&authenticator, &h.policy, UserVerification::Discouraged).unwrap();
    assert!(!checked.user_verified);
    let credential = register(&h, checked);
    let decision = sign(
        &authenticator,
        &prompt,
        vec![credential],
        UserVerification::Discouraged,
    )
    .unwrap();
    h.policy.require_user_verification = true;
    let refused = h.verify(&request(), &decision, VERIFIED).unwrap_err();
    assert_eq!(refused.code(), Some(Code::UserNotVerified));
}

#[test]
fn the_org_policy_decides_which_authenticators_enrol() {
    let (authenticator, _device, ca) = key(true);
    let (_, _, other_ca) = key(true);

    // Attestation from a root the org does not trust.
    let mut policy = tapprove_core::VerifierPolicy::new(RP_ID);
    policy.trusted_attestation_roots = Some(vec![other_ca]);
    let error = enrol(&authenticator, &policy, UserVerification::Preferred).unwrap_err();
    assert!(matches!(error, EnrolmentError::Untrusted(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("does not chain to a root the org trusts"),
        "{error}"
    );

    // Its own root, read from PEM as the org policy file gives it: accepted.
    let body = base64::engine::general_purpose::STANDARD.encode(&ca);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    );
    let read = tapprove_core::webauthn::read_certificates(pem.as_bytes()).unwrap();
    assert_eq!(read, vec![ca.clone()]);
    policy.trusted_attestation_roots = Some(read);
    let checked = enrol(&authenticator, &policy, UserVerification::Preferred).unwrap();
    // SoftToken's attestation certificate names no AAGUID: the chain proves
    // a device under this vendor's root, not which model it is.
    assert!(
        matches!(
            checked.attestation,
            AttestationFormat::Certified {
                names_aaguid: false,
                ..
            }
        ),
        "{:?}",
        checked.attestation
    );
    assert!(!checked.model_proven);

    // An AAGUID allow-list without this model.
    policy.allowed_aaguids = Some([SOFTWARE_AAGUID].into_iter().collect());
    let error = enrol(&authenticator, &policy, UserVerification::Preferred).unwrap_err();
    assert_eq!(error, EnrolmentError::AaguidNotAllowed(checked.aaguid));
    // ...and with it: listed, but only claimed, so refused...
    policy.allowed_aaguids = Some([checked.aaguid].into_iter().collect());
    let error = enrol(&authenticator, &policy, UserVerification::Preferred).unwrap_err();
    assert!(
        matches!(error, EnrolmentError::ModelNotProven { .. }),
        "{error:?}"
    );
    // ...unless the org accepts self-reported models.
    policy.accept_self_reported_models = true;
    enrol(&authenticator, &policy, UserVerification::Preferred).unwrap();
    policy.accept_self_reported_models = false;

    // The software authenticator: self attestation, refused when the org
    // requires a trusted chain or forbids software keys.
    let h = Harness::new();
    let software = h.authenticator();
    let mut policy = tapprove_core::VerifierPolicy::new(RP_ID);
    policy.allow_software_authenticators = false;
    let error = enrol(&software, &policy, UserVerification::Discouraged);
    assert_eq!(error.unwrap_err(), EnrolmentError::SoftwareNotAllowed);
    let mut policy = tapprove_core::VerifierPolicy::new(RP_ID);
    policy.trusted_attestation_roots = Some(vec![ca_of_nobody()]);
    let error = enrol(&software, &policy, UserVerification::Discouraged).unwrap_err();
    assert!(
        error.to_string().contains("no attestation certificate"),
        "{error}"
    );
}

fn ca_of_nobody() -> Vec<u8> {
    key(false).2
}

#[test]
fn a_key_without_the_credential_says_so_and_signs_nothing() {
    let (authenticator, _device, _ca) = key(true);
    let prompt = CountingPrompt::new();
    let error = sign(
        &authenticator,
        &prompt,
        vec![Base64Url::new(vec![0xAA; 32])],
        UserVerification::Preferred,
    )
    .unwrap_err();
    assert!(
        matches!(error, SignError::Authenticator(AuthnError::NoMatchingCredential)),
        "{error:?}"
    );
}
