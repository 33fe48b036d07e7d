//! Submitting a new credential to the enrolment service, with a presigned
//! `sts:GetCallerIdentity` request as the proof of who is enrolling.

use std::time::Duration;

use tapprove_proto::enrolment::{EnrolmentReceipt, EnrolmentRequest};

use crate::error::{EngineError, Result};

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
