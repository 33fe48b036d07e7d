//! Enrolment: create a credential with any authenticator, submit it to the
//! enrolment service (which files it under the caller's AWS identity, proven
//! by a presigned `sts:GetCallerIdentity` request), confirm it with a first
//! test assertion, and roll back whatever was done if a step fails: the
//! platform or software key is deleted, and a registry entry whose test
//! failed is withdrawn. The approver's own credentials are listed, renamed
//! and revoked through the same service.

use std::path::Path;
use std::time::Duration;

use rand_core::{OsRng, RngCore};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tapprove_authn::{AssertionRequest, Authenticator, AuthnError, SignError, UserPrompt};
use tapprove_core::canonical::{client_data_json, origin_for, sha256};
use tapprove_core::webauthn::{AttestationObject, AuthenticatorData};
use tapprove_proto::enrolment::{
    CREDENTIALS_PATH, CredentialAction, CredentialsAnswer, CredentialsRequest, CredentialsVersion,
    ENROLMENTS_PATH, EnrolmentReceipt, EnrolmentRequest, EnrolmentStatus, EnrolmentVersion,
    PresignedCallerIdentity,
};
use tapprove_proto::registry::CredentialStatus;
use tapprove_proto::{Base64Url, Sha256Digest, UtcTime};

use crate::error::{EngineError, Result, ServiceFailure};
use crate::keys::{KeySpec, KnownCredential, NewCredentialCeremony, new_credential};

/// Where the enrolment service is and who is enrolling.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Service<'a> {
    pub aws: &'a aws_config::SdkConfig,
    pub endpoint: &'a Endpoint,
    /// Where the approver's known credentials are cached.
    pub state_dir: &'a Path,
}

/// One deployment's enrolment service: where it is, the name it
/// accepts in identity proofs (`Config::enrolment_server_id`), and whose
/// sign-in speaks for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub server_id: String,
    /// The signed-in session whose OpenID Connect ID token goes with each
    /// request (a fresh one each time: the service takes the approver's
    /// name from it and accepts it once). `None`, or a session of IAM
    /// Identity Center, sends none.
    pub signed_in: Option<SignedIn>,
}

/// Where a face's sign-in session lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub state_dir: std::path::PathBuf,
    /// The keychain service its tokens are under.
    pub keychain: String,
}

impl SignedIn {
    /// The session every face uses: the state directory of the settings
    /// (`TAPPROVE_STATE_DIR`), the default keychain service.
    pub fn default_session() -> Self {
        Self {
            state_dir: tapprove_config::state_dir(),
            keychain: tapprove_keychain::DEFAULT_SERVICE.to_owned(),
        }
    }
}

impl Endpoint {
    /// The service `settings` name, or `url_override` (`tapprove enroll
    /// --service`) where the organisation's policy does not fix
    /// `[enrolment]`. `None` when there is none. The URL must be https
    /// (plain http only to this machine).
    pub fn from_settings(
        settings: &tapprove_config::Settings,
        url_override: Option<&str>,
    ) -> Result<Option<Self>> {
        let config = &settings.config;
        let url = match url_override {
            Some(url) if settings.is_fixed("enrolment") => {
                let fixed = config.enrolment.as_ref().and_then(|e| e.url.as_deref());
                if fixed != Some(url) {
                    return Err(EngineError::Invalid(format!(
                        "your organisation's policy fixes the enrolment service{}: enrol there, without --service",
                        fixed.map(|u| format!(" ({u})")).unwrap_or_default()
                    )));
                }
                Some(url.to_owned())
            }
            Some(url) => Some(url.to_owned()),
            None => return Self::from_config(config),
        };
        let Some(url) = url else { return Ok(None) };
        check_service_url(&url)?;
        Ok(Some(Self {
            url,
            server_id: config.enrolment_server_id(),
            signed_in: Some(SignedIn::default_session()),
        }))
    }

    /// The service the settings name (`[enrolment] url`), if any.
    pub fn from_config(config: &tapprove_config::Config) -> Result<Option<Self>> {
        let Some(url) = config.enrolment.as_ref().and_then(|e| e.url.clone()) else {
            return Ok(None);
        };
        check_service_url(&url)?;
        Ok(Some(Self {
            url,
            server_id: config.enrolment_server_id(),
            signed_in: Some(SignedIn::default_session()),
        }))
    }
}

/// Refuses an enrolment service URL that is not `https`, except on this
/// machine's loopback (a local `tapprove-verifier serve`): identity proofs
/// and credentials travel to it.
pub fn check_service_url(url: &str) -> Result<()> {
    let invalid = |why: &str| {
        EngineError::Invalid(format!(
            "the enrolment service URL `{url}` {why}: use the https URL your admin gave you ([enrolment] url)"
        ))
    };
    let parsed = url::Url::parse(url).map_err(|e| invalid(&format!("is not a URL ({e})")))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if crate::endpoint::is_loopback(&parsed) => Ok(()),
        "http" => Err(invalid("is plain http to another machine")),
        other => Err(invalid(&format!("uses `{other}`, not https"))),
    }
}

/// Creates a credential with `authenticator` and registers it: the whole
/// ceremony with its rollback. Blocks while the authenticator asks for a
/// touch or a PIN (twice: to create, then to sign the test assertion).
pub(crate) async fn enrol(
    service: Service<'_>,
    authenticator: &dyn Authenticator,
    spec: KeySpec<'_>,
    prompt: &dyn UserPrompt,
) -> Result<EnrolmentReceipt> {
    let (user, rp_id, label, uv) = (spec.user, spec.rp_id, spec.label, spec.user_verification);
    let new = new_credential(authenticator, spec, prompt)
        .map_err(|e| EngineError::Sign(SignError::Authenticator(e)))?;
    let id = new.created.credential_id.clone();
    let receipt = match submit(
        service.aws,
        service.endpoint,
        enrolment_request(user, label, rp_id, &new),
    )
    .await
    {
        Ok(receipt) => receipt,
        Err(e) => return Err(forget(authenticator, &id, e)),
    };
    if let Err(e) = test_assertion(authenticator, &new, rp_id, uv, prompt) {
        let taken_back = own_credentials(
            service.aws,
            service.endpoint,
            rp_id,
            CredentialAction::Withdraw {
                credential_id: id.clone(),
            },
        )
        .await;
        let mut message = format!(
            "the new credential was registered, but its first test signature failed ({e}), so it was taken back: try again"
        );
        if let Err(w) = taken_back {
            message.push_str(&format!(
                "; withdrawing it from the registry failed too ({w}): revoke {id} with `tapprove authenticators revoke`"
            ));
        }
        return Err(forget(
            authenticator,
            &id,
            EngineError::service(ServiceFailure::Refused, "test_assertion_failed", message),
        ));
    }
    crate::keys::remember_one(
        service.state_dir,
        KnownCredential {
            user: receipt.user.clone(),
            rp_id: rp_id.to_owned(),
            credential_id: id,
            kind: new.created.kind,
            label: receipt.label.clone(),
            status: match receipt.status {
                EnrolmentStatus::Active => CredentialStatus::Active,
                EnrolmentStatus::Pending => CredentialStatus::Pending,
            },
        },
    )?;
    Ok(receipt)
}

/// Has the new credential sign a fresh challenge and checks the signature
/// with the attested key: the authenticator and the registry entry agree,
/// and the person can use it (PIN, touch, biometrics) before relying on it.
pub(crate) fn test_assertion(
    authenticator: &dyn Authenticator,
    new: &NewCredentialCeremony,
    rp_id: &str,
    user_verification: tapprove_authn::UserVerification,
    prompt: &dyn UserPrompt,
) -> std::result::Result<(), AuthnError> {
    let mut challenge = [0u8; 32];
    OsRng.fill_bytes(&mut challenge);
    let ours = client_data_json(&Sha256Digest(challenge), &origin_for(rp_id));
    let signed = authenticator.get_assertion(
        &AssertionRequest {
            rp_id: rp_id.to_owned(),
            client_data_json: ours.clone(),
            allow_credentials: vec![new.created.credential_id.clone()],
            user_verification,
        },
        prompt,
    )?;
    let bad = |what: &str| AuthnError::Device(format!("the test signature {what}"));
    if signed.credential_id != new.created.credential_id {
        return Err(bad("came from another credential"));
    }
    let key = AttestationObject::parse(&new.created.attestation_object)
        .and_then(|a| a.credential_key())
        .map_err(|e| AuthnError::Device(e.to_string()))?;
    let data = AuthenticatorData::parse(&signed.authenticator_data)
        .map_err(|e| AuthnError::Device(e.to_string()))?;
    if data.rp_id_hash != sha256(rp_id.as_bytes()) || !data.flags.user_present() {
        return Err(bad("is not for this relying party or saw no user"));
    }
    let mut message = signed.authenticator_data.clone();
    message.extend_from_slice(&sha256(signed.client_data_json.as_deref().unwrap_or(&ours)));
    key.verify(&message, &signed.signature)
        .map_err(|_| bad("does not verify with the key the authenticator attested"))
}

/// The enrolment request for a credential just made.
pub(crate) fn enrolment_request(
    user: &str,
    label: &str,
    rp_id: &str,
    new: &NewCredentialCeremony,
) -> EnrolmentRequest {
    EnrolmentRequest {
        tapprove: EnrolmentVersion,
        user: user.to_owned(),
        label: label.to_owned(),
        rp_id: rp_id.to_owned(),
        credential_id: new.created.credential_id.clone(),
        challenge: Base64Url::new(new.challenge.to_vec()),
        client_data_json: Base64Url::new(new.client_data.clone()),
        attestation_object: Base64Url::new(new.created.attestation_object.clone()),
        identity: None,
        id_token: None,
    }
}

/// Deletes the new credential `id` after `error` stopped its enrolment;
/// says so if even that fails.
pub(crate) fn forget(authenticator: &dyn Authenticator, id: &Base64Url, error: EngineError) -> EngineError {
    match authenticator.forget(id) {
        Ok(_) => error,
        Err(e) => error.with_note(
            &format!(
                "; the new credential {id} could not be removed from the authenticator either ({e}): delete it with care"
            ),
        ),
    }
}

/// What confirming a pending credential takes: whose, which, and the
/// active credentials on this machine that may vouch for it.
#[derive(Debug, Clone)]
pub(crate) struct ConfirmSpec<'a> {
    pub user: &'a str,
    pub rp_id: &'a str,
    /// The pending credential (a new machine's).
    pub pending: &'a Base64Url,
    /// The user's credentials `authenticator` may sign with (the pending
    /// one is left out).
    pub signers: Vec<Base64Url>,
    pub user_verification: tapprove_authn::UserVerification,
}

/// Confirms `spec.pending` with an assertion of one of the user's active
/// credentials (the new-laptop case: the key they already have vouches for
/// the new one), through the enrolment service, which activates it. Blocks
/// while the authenticator asks for a touch or a PIN.
pub(crate) async fn confirm(
    aws: &aws_config::SdkConfig,
    endpoint: &Endpoint,
    authenticator: &dyn Authenticator,
    spec: ConfirmSpec<'_>,
    prompt: &dyn UserPrompt,
    now: &UtcTime,
) -> Result<CredentialsAnswer> {
    // The key being confirmed, as the registry holds it: its fingerprint
    // is signed, so a key swapped in under the same id meanwhile is not
    // the one activated.
    let listing = own_credentials(aws, endpoint, spec.rp_id, CredentialAction::List).await?;
    let key_sha256 = listing
        .credentials
        .iter()
        .find(|c| &c.credential_id == spec.pending && c.status == CredentialStatus::Pending)
        .map(|c| c.key_sha256.clone())
        .ok_or_else(|| {
            EngineError::Invalid(format!(
                "you have no pending credential {}: list yours with `tapprove authenticators`",
                spec.pending
            ))
        })?;
    let challenge = tapprove_core::canonical::confirmation_challenge(
        &endpoint.server_id,
        spec.user,
        spec.pending,
        &key_sha256,
        now,
    )
    .map_err(|e| EngineError::Invalid(format!("cannot encode the confirmation: {e}")))?;
    let ours = client_data_json(&challenge, &origin_for(spec.rp_id));
    let signers: Vec<Base64Url> = spec.signers.into_iter().filter(|id| id != spec.pending).collect();
    if signers.is_empty() {
        return Err(EngineError::NoAuthenticator(format!(
            "no other credential of yours for `{}` is on this machine: confirm from the machine whose key already signs for you, or ask an admin (`tapprove admin credentials {} --activate {}`)",
            spec.rp_id, spec.user, spec.pending
        )));
    }
    let signed = authenticator
        .get_assertion(
            &AssertionRequest {
                rp_id: spec.rp_id.to_owned(),
                client_data_json: ours.clone(),
                allow_credentials: signers,
                user_verification: spec.user_verification,
            },
            prompt,
        )
        .map_err(|e| EngineError::Sign(SignError::Authenticator(e)))?;
    let by = tapprove_proto::enrolment::Confirmation {
        credential_id: signed.credential_id,
        key_sha256,
        signed_at: now.clone(),
        authenticator_data: Base64Url::new(signed.authenticator_data),
        client_data_json: Base64Url::new(signed.client_data_json.unwrap_or(ours)),
        signature: Base64Url::new(signed.signature),
    };
    own_credentials(
        aws,
        endpoint,
        spec.rp_id,
        CredentialAction::Confirm {
            credential_id: spec.pending.clone(),
            by,
        },
    )
    .await
}

/// Signs the identity proof for `endpoint`'s service, bound to
/// `request`, attaches it, and posts it there.
pub(crate) async fn submit(
    aws: &aws_config::SdkConfig,
    endpoint: &Endpoint,
    mut request: EnrolmentRequest,
) -> Result<EnrolmentReceipt> {
    request.identity = None;
    request.id_token = id_token(endpoint).await?;
    request.identity = Some(identity(aws, endpoint, &request).await?);
    post(aws, &endpoint.url, ENROLMENTS_PATH, &request, "a receipt").await
}

/// Lists, renames, revokes or withdraws one of the caller's own
/// credentials; answers the caller's credentials after the action.
pub(crate) async fn own_credentials(
    aws: &aws_config::SdkConfig,
    endpoint: &Endpoint,
    rp_id: &str,
    action: CredentialAction,
) -> Result<CredentialsAnswer> {
    let mut request = CredentialsRequest {
        tapprove: CredentialsVersion,
        rp_id: rp_id.to_owned(),
        action,
        identity: None,
        id_token: id_token(endpoint).await?,
    };
    request.identity = Some(identity(aws, endpoint, &request).await?);
    post(
        aws,
        &endpoint.url,
        CREDENTIALS_PATH,
        &request,
        "a credential list",
    )
    .await
}

/// Asks the service to start a gate for the caller (the request endpoint):
/// AWS proves who asks, the gate shows and judges that requester. Answers
/// the execution and the requester as the service recorded them.
pub(crate) async fn submit_request(
    aws: &aws_config::SdkConfig,
    endpoint: &Endpoint,
    mut submission: tapprove_proto::submission::RequestSubmission,
) -> Result<tapprove_proto::submission::RequestReceipt> {
    submission.identity = None;
    submission.identity = Some(identity(aws, endpoint, &submission).await?);
    post(
        aws,
        &endpoint.url,
        tapprove_proto::submission::REQUESTS_PATH,
        &submission,
        "a request receipt",
    )
    .await
}

/// A fresh ID token of the signed-in OpenID Connect session, if that is
/// how the caller signed in: the service takes the approver's name from it.
async fn id_token(endpoint: &Endpoint) -> Result<Option<String>> {
    let Some(session) = &endpoint.signed_in else {
        return Ok(None);
    };
    tapprove_session::identity_token(&session.state_dir, &session.keychain)
        .await
        // The service needs the ID token to know who calls: without one,
        // the person must sign in again (a session error says so).
        .map_err(EngineError::Session)
}

/// The identity proof for one request to `endpoint`: names its service and
/// carries the request's hash (see `tapprove_core::canonical::proof_body_sha256`).
async fn identity<Q: Serialize>(
    aws: &aws_config::SdkConfig,
    endpoint: &Endpoint,
    request: &Q,
) -> Result<PresignedCallerIdentity> {
    let body_sha256 = tapprove_core::canonical::proof_body_sha256(request)
        .map_err(|e| EngineError::Invalid(format!("cannot encode the request: {e}")))?;
    Ok(tapprove_aws::sts::presign_caller_identity(aws, &endpoint.server_id, &body_sha256).await?)
}

/// Posts `request` to the service, signed with SigV4 for `lambda`: the
/// verifier's function URL has `AuthType: AWS_IAM`, and AWS answers an
/// unsigned call with 403 before the service sees it.
async fn post<Q: Serialize, A: DeserializeOwned>(
    aws: &aws_config::SdkConfig,
    service_url: &str,
    path: &str,
    request: &Q,
    expected: &str,
) -> Result<A> {
    check_service_url(service_url)?;
    let url = format!("{}{path}", service_url.trim_end_matches('/'));
    let body = serde_json::to_vec(request)
        .map_err(|e| EngineError::Invalid(format!("cannot encode the request: {e}")))?;
    let region = tapprove_aws::sigv4::function_url_region(&url)
        .map(str::to_owned)
        .unwrap_or_else(|| tapprove_aws::sigv4::region_of(aws));
    let headers = tapprove_aws::sigv4::sign_request(
        aws,
        "lambda",
        &region,
        tapprove_aws::sigv4::Unsigned {
            method: "POST",
            url: &url,
            headers: std::collections::BTreeMap::from([(
                "content-type".to_owned(),
                "application/json".to_owned(),
            )]),
            body: &body,
        },
        std::time::SystemTime::now(),
    )
    .await?;
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| EngineError::Invalid(format!("cannot build an HTTP client: {e}")))?;
    let mut post = http.post(&url).body(body);
    for (name, value) in &headers {
        // reqwest writes the same Host from the URL.
        if name != "host" {
            post = post.header(name, value);
        }
    }
    let response = post.send().await.map_err(|e| {
        EngineError::service(
            ServiceFailure::Unavailable,
            "service_unreachable",
            format!(
                "the enrolment service at {url} did not answer ({e}): check [enrolment] url and try again"
            ),
        )
    })?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| {
        EngineError::service(
            ServiceFailure::Unavailable,
            "service_unreachable",
            format!("the enrolment service's answer was cut off: {e}"),
        )
    })?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|e| {
            EngineError::service(
                ServiceFailure::Unavailable,
                "bad_answer",
                format!("the enrolment service at {url} answered something that is not {expected}: {e}"),
            )
        });
    }
    // The service's 4xx is a refusal under its rules; a 5xx (its registry or
    // an upstream failed) is worth trying again.
    let failure = if status.is_server_error() {
        ServiceFailure::Unavailable
    } else {
        ServiceFailure::Refused
    };
    #[derive(serde::Deserialize)]
    struct Refusal {
        code: String,
        message: String,
    }
    Err(match serde_json::from_slice::<Refusal>(&body) {
        Ok(r) => EngineError::Service {
            failure,
            reason: r.code,
            message: r.message,
        },
        Err(_) => EngineError::service(
            ServiceFailure::Unavailable,
            "bad_answer",
            format!("the enrolment service at {url} answered {status}"),
        ),
    })
}
