//! Authenticators reached through `webauthn-authenticator-rs`: Windows'
//! own WebAuthn API (Windows Hello and security keys, `win10`), and any
//! CTAP2 token its client stack drives.
//!
//! [`BackendAuthenticator`] turns Tapprove's requests into that crate's
//! WebAuthn options and its answers back into raw assertions and
//! attestation objects; a [`Backend`] only opens the device and runs the
//! ceremony. The conversion is tested here against an in-process CTAP2
//! token (`tests/ctap2_roundtrip.rs`); the Windows backend is a few lines
//! on top (`windows.rs`).
//!
//! Hashed backends sign over the SHA-256 of Tapprove's own clientDataJSON,
//! so the bytes the verifier sees are the ones Tapprove built. Windows
//! writes its own clientDataJSON (same type, challenge and origin, its own
//! layout); that one is carried back in `client_data_json`, and the
//! verifier parses rather than compares bytes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tapprove_core::webauthn::ClientData;
use tapprove_proto::Base64Url;
use tapprove_proto::registry::AuthenticatorKind;
use webauthn_authenticator_rs::error::WebauthnCError;
use webauthn_authenticator_rs::types::{CableRequestType, CableState, EnrollSampleStatus};
use webauthn_authenticator_rs::ui::UiCallback;
use webauthn_rs_proto::{
    AllowCredentials, AttestationConveyancePreference, AuthenticatorSelectionCriteria, PubKeyCredParams,
    PublicKeyCredential, PublicKeyCredentialCreationOptions, PublicKeyCredentialDescriptor,
    PublicKeyCredentialRequestOptions, RegisterPublicKeyCredential, RelyingParty, ResidentKeyRequirement,
    User, UserVerificationPolicy,
};

use crate::authenticator::{
    AssertionRequest, Authenticator, AuthnError, CredentialRequest, NewCredential, RawAssertion,
    UserVerification,
};
use crate::prompt::{PinRequest, Prompt, UserPrompt};

/// How long a person has to confirm, in milliseconds.
pub const TIMEOUT_MS: u32 = 60_000;

/// COSE algorithms Tapprove's verifier accepts, in order of preference.
const ALGORITHMS: [i64; 3] = [-7, -8, -257];

/// One way to run a WebAuthn ceremony through `webauthn-authenticator-rs`.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// What the person should look for.
    fn description(&self) -> String;

    /// Runs `authenticatorMakeCredential`. `client_data_json` is Tapprove's
    /// creation clientDataJSON; a backend that hashes it itself leaves the
    /// response's `client_data_json` empty.
    fn register(
        &self,
        ui: &PromptBridge<'_>,
        client_data_json: &[u8],
        options: PublicKeyCredentialCreationOptions,
    ) -> Result<RegisterPublicKeyCredential, WebauthnCError>;

    /// Runs `authenticatorGetAssertion`, likewise.
    fn authenticate(
        &self,
        ui: &PromptBridge<'_>,
        client_data_json: &[u8],
        options: PublicKeyCredentialRequestOptions,
    ) -> Result<PublicKeyCredential, WebauthnCError>;
}

/// An [`Authenticator`] over a [`Backend`].
#[derive(Debug)]
pub struct BackendAuthenticator<B> {
    backend: B,
    /// What registry kind the credentials are, when the backend cannot say
    /// (Windows' API reports neither; its AAGUID does).
    kind: AuthenticatorKind,
}

impl<B: Backend> BackendAuthenticator<B> {
    pub fn new(backend: B, kind: AuthenticatorKind) -> Self {
        Self { backend, kind }
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }
}

/// The creation options for `request`.
pub fn creation_options(
    request: &CredentialRequest,
) -> Result<PublicKeyCredentialCreationOptions, AuthnError> {
    Ok(PublicKeyCredentialCreationOptions {
        rp: RelyingParty {
            name: "Tapprove".into(),
            id: request.rp_id.clone(),
        },
        user: User {
            id: request.user_handle.clone(),
            name: request.user_name.clone(),
            display_name: request.user_name.clone(),
        },
        challenge: challenge_of(&request.client_data_json)?,
        pub_key_cred_params: ALGORITHMS
            .iter()
            .map(|alg| PubKeyCredParams {
                type_: "public-key".into(),
                alg: *alg,
            })
            .collect(),
        timeout: Some(TIMEOUT_MS),
        exclude_credentials: Some(
            request
                .exclude_credentials
                .iter()
                .map(|id| PublicKeyCredentialDescriptor {
                    type_: "public-key".into(),
                    id: id.as_bytes().to_vec(),
                    transports: None,
                })
                .collect(),
        ),
        authenticator_selection: Some(AuthenticatorSelectionCriteria {
            authenticator_attachment: None,
            resident_key: Some(ResidentKeyRequirement::Discouraged),
            require_resident_key: false,
            user_verification: policy(request.user_verification),
        }),
        hints: None,
        // Direct: the org's attestation policy may want the chain.
        attestation: Some(AttestationConveyancePreference::Direct),
        attestation_formats: None,
        extensions: None,
    })
}

/// The request options for `request`.
pub fn request_options(request: &AssertionRequest) -> Result<PublicKeyCredentialRequestOptions, AuthnError> {
    Ok(PublicKeyCredentialRequestOptions {
        challenge: challenge_of(&request.client_data_json)?,
        timeout: Some(TIMEOUT_MS),
        rp_id: request.rp_id.clone(),
        allow_credentials: request
            .allow_credentials
            .iter()
            .map(|id| AllowCredentials {
                type_: "public-key".into(),
                id: id.as_bytes().to_vec(),
                transports: None,
            })
            .collect(),
        user_verification: policy(request.user_verification),
        hints: None,
        extensions: None,
    })
}

fn policy(uv: UserVerification) -> UserVerificationPolicy {
    match uv {
        UserVerification::Required => UserVerificationPolicy::Required,
        UserVerification::Preferred => UserVerificationPolicy::Preferred,
        UserVerification::Discouraged => UserVerificationPolicy::Discouraged_DO_NOT_USE,
    }
}

/// The raw challenge inside a clientDataJSON Tapprove built.
fn challenge_of(client_data_json: &[u8]) -> Result<Vec<u8>, AuthnError> {
    let parsed = ClientData::parse(client_data_json).map_err(|e| AuthnError::Device(e.to_string()))?;
    URL_SAFE_NO_PAD
        .decode(parsed.challenge)
        .map_err(|e| AuthnError::Device(format!("clientDataJSON challenge: {e}")))
}

/// What `webauthn-authenticator-rs` reported, as a person understands it.
pub fn map_error(error: WebauthnCError, description: &str) -> AuthnError {
    match error {
        WebauthnCError::Ctap(status) => crate::ctap::status_error(status.into(), None),
        WebauthnCError::Cancelled => AuthnError::Cancelled,
        WebauthnCError::NoSelectedToken | WebauthnCError::NoHidDevices => AuthnError::NotFound,
        WebauthnCError::UserVerificationRequired => {
            AuthnError::UserVerificationUnavailable(description.to_owned())
        }
        WebauthnCError::PinTooShort | WebauthnCError::PinTooLong | WebauthnCError::PinContainsNull => {
            AuthnError::Refused("a PIN has 4 to 63 characters: check it and try again".into())
        }
        WebauthnCError::NotSupported => AuthnError::Refused(format!(
            "{description} cannot do what was asked (user verification or this key type): use another authenticator"
        )),
        WebauthnCError::PermissionDenied => AuthnError::Refused(format!(
            "{description} refused access: the system did not allow Tapprove to use it"
        )),
        WebauthnCError::Closed | WebauthnCError::IoError(_) => AuthnError::Removed,
        other => AuthnError::Device(format!("{description} failed ({other:?})")),
    }
}

impl<B: Backend> Authenticator for BackendAuthenticator<B> {
    fn kind(&self) -> AuthenticatorKind {
        self.kind
    }

    fn description(&self) -> String {
        self.backend.description()
    }

    fn holds_any(&self, _rp_id: &str, _credential_ids: &[Base64Url]) -> Result<Option<bool>, AuthnError> {
        Ok(None)
    }

    fn make_credential(
        &self,
        request: &CredentialRequest,
        prompt: &dyn UserPrompt,
    ) -> Result<NewCredential, AuthnError> {
        let options = creation_options(request)?;
        let description = self.description();
        let ui = PromptBridge::new(prompt, &description);
        let created = self
            .backend
            .register(&ui, &request.client_data_json, options)
            .map_err(|e| map_error(e, &description))?;
        // The credential id and model come from the attested credential
        // data: the CTAP2 client stack leaves `raw_id` empty.
        let attested =
            tapprove_core::webauthn::AttestationObject::parse(&created.response.attestation_object)
                .ok()
                .and_then(|parsed| parsed.auth_data.attested_credential)
                .ok_or_else(|| {
                    AuthnError::Device(format!("{description} returned no usable attestation object"))
                })?;
        if !created.raw_id.is_empty() && created.raw_id != attested.credential_id {
            return Err(AuthnError::Device(format!(
                "{description} reported two different credential ids for one new credential"
            )));
        }
        let kind = match AuthenticatorKind::of_aaguid(attested.aaguid) {
            AuthenticatorKind::SecurityKey => self.kind,
            known => known,
        };
        Ok(NewCredential {
            credential_id: Base64Url::new(attested.credential_id),
            attestation_object: created.response.attestation_object,
            kind,
            client_data_json: own_client_data(created.response.client_data_json, &request.client_data_json),
        })
    }

    fn get_assertion(
        &self,
        request: &AssertionRequest,
        prompt: &dyn UserPrompt,
    ) -> Result<RawAssertion, AuthnError> {
        if request.allow_credentials.is_empty() {
            return Err(AuthnError::NoMatchingCredential);
        }
        let options = request_options(request)?;
        let description = self.description();
        let ui = PromptBridge::new(prompt, &description);
        let signed = self
            .backend
            .authenticate(&ui, &request.client_data_json, options)
            .map_err(|e| map_error(e, &description))?;
        if !request
            .allow_credentials
            .iter()
            .any(|id| id.as_bytes() == signed.raw_id)
        {
            return Err(AuthnError::Device(format!(
                "{description} signed with a credential that was not asked for"
            )));
        }
        Ok(RawAssertion {
            credential_id: Base64Url::new(signed.raw_id),
            authenticator_data: signed.response.authenticator_data,
            signature: signed.response.signature,
            user_handle: signed.response.user_handle,
            client_data_json: own_client_data(signed.response.client_data_json, &request.client_data_json),
        })
    }
}

/// The clientDataJSON the platform reports, when it is not Tapprove's.
fn own_client_data(reported: Vec<u8>, ours: &[u8]) -> Option<Vec<u8>> {
    (!reported.is_empty() && reported != ours).then_some(reported)
}

/// `webauthn-authenticator-rs`'s UI callback, answered through Tapprove's
/// [`UserPrompt`].
pub struct PromptBridge<'a> {
    prompt: &'a dyn UserPrompt,
    description: &'a str,
}

impl<'a> PromptBridge<'a> {
    pub fn new(prompt: &'a dyn UserPrompt, description: &'a str) -> Self {
        Self { prompt, description }
    }

    /// Shows `prompt` (for backends whose platform draws its own dialog).
    pub fn show(&self, prompt: Prompt) {
        self.prompt.show(prompt);
    }
}

impl std::fmt::Debug for PromptBridge<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptBridge")
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

impl UiCallback for PromptBridge<'_> {
    fn request_pin(&self) -> Option<String> {
        // The crate takes the PIN as a plain String; Tapprove's copy is
        // wiped when it drops here.
        self.prompt
            .pin(&PinRequest {
                authenticator: self.description.to_owned(),
                attempts_left: None,
            })
            .map(|pin| pin.as_str().to_owned())
    }

    fn request_touch(&self) {
        self.prompt.show(Prompt::TouchKey);
    }

    fn processing(&self) {
        self.prompt.show(Prompt::Processing);
    }

    fn fingerprint_enrollment_feedback(
        &self,
        _remaining_samples: u32,
        _feedback: Option<EnrollSampleStatus>,
    ) {
    }

    fn cable_qr_code(&self, _request_type: CableRequestType, _url: String) {}

    fn dismiss_qr_code(&self) {}

    fn cable_status_update(&self, _state: CableState) {}
}
