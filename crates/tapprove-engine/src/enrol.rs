//! Submitting a new credential to the enrolment service, with a presigned
//! `sts:GetCallerIdentity` request as the proof of who is enrolling.

use std::time::Duration;

use tapprove_authn::software::KeyStore;
use tapprove_authn::{SignError, UserPrompt};
use tapprove_proto::enrolment::{EnrolmentReceipt, EnrolmentRequest, EnrolmentVersion};
use tapprove_proto::{Base64Url, UtcTime};

use crate::error::{EngineError, Result};
use crate::keys::{NewSoftwareCredential, SoftwareKeySpec, new_software_credential};

/// Creates a software credential for `spec.user` and registers it through
/// the enrolment service at `service_url`, which files it under the
/// caller's AWS identity. If the service refuses or cannot be reached, the
/// new key is deleted again, so the key store and the registry never
/// disagree. Blocks while the authenticator asks for a PIN.
pub async fn enrol_software(
    aws: &aws_config::SdkConfig,
    service_url: &str,
    store: &dyn KeyStore,
    now: &UtcTime,
    spec: SoftwareKeySpec<'_>,
    prompt: &dyn UserPrompt,
) -> Result<EnrolmentReceipt> {
    let new = new_software_credential(store, now, spec.clone(), prompt)
        .map_err(|e| EngineError::Sign(SignError::Authenticator(e)))?;
    let request = enrolment_request(spec.user, spec.label, spec.rp_id, &new);
    submit(aws, service_url, request)
        .await
        .map_err(|e| rollback(store, &new.created.credential_id, e))
}

/// The enrolment request for a credential just made.
pub fn enrolment_request(
    user: &str,
    label: &str,
    rp_id: &str,
    new: &NewSoftwareCredential,
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
    }
}

/// Deletes the key `id` after `error` stopped its enrolment; says so if
/// even that fails.
pub fn rollback(store: &dyn KeyStore, id: &Base64Url, error: EngineError) -> EngineError {
    match store.delete(id.as_bytes()) {
        Ok(_) => error,
        Err(e) => {
            let note = format!("; the new key {id} could not be removed either ({e}): delete it with care");
            match error {
                EngineError::Enrolment { code, message } => EngineError::Enrolment {
                    code,
                    message: message + &note,
                },
                other => EngineError::Invalid(format!("{other}{note}")),
            }
        }
    }
}

/// The service's path for new credentials.
pub const ENROLMENTS_PATH: &str = "/v1/enrolments";

/// Signs the identity proof for `rp_id`'s service, attaches it to
/// `request`, and posts it to `service_url`.
pub async fn submit(
    aws: &aws_config::SdkConfig,
    service_url: &str,
    mut request: EnrolmentRequest,
) -> Result<EnrolmentReceipt> {
    request.identity = Some(tapprove_aws::sts::presign_caller_identity(aws, &request.rp_id).await?);
    let url = format!("{}{ENROLMENTS_PATH}", service_url.trim_end_matches('/'));
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| EngineError::Invalid(format!("cannot build an HTTP client: {e}")))?;
    let response = http
        .post(&url)
        .json(&request)
        .send()
        .await
        .map_err(|e| EngineError::Enrolment {
            code: "service_unreachable".into(),
            message: format!(
                "the enrolment service at {url} did not answer ({e}): check [enrolment] url and try again"
            ),
        })?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| EngineError::Enrolment {
        code: "service_unreachable".into(),
        message: format!("the enrolment service's answer was cut off: {e}"),
    })?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|e| EngineError::Enrolment {
            code: "bad_answer".into(),
            message: format!("the enrolment service at {url} answered something that is not a receipt: {e}"),
        });
    }
    #[derive(serde::Deserialize)]
    struct Refusal {
        code: String,
        message: String,
    }
    Err(match serde_json::from_slice::<Refusal>(&body) {
        Ok(r) => EngineError::Enrolment {
            code: r.code,
            message: r.message,
        },
        Err(_) => EngineError::Enrolment {
            code: "bad_answer".into(),
            message: format!("the enrolment service at {url} answered {status}"),
        },
    })
}
