//! The verifier as an AWS Lambda function (`provided.al2023` custom
//! runtime: deploy the `tapprove-verifier` binary as `bootstrap`).
//!
//! One function serves two kinds of events:
//! - the gate's verification states (`arn:aws:states:::lambda:invoke` with
//!   the gate call as `Payload`): answered like the activity worker does,
//!   a failure becoming the function error whose `errorType` is the
//!   Step Functions error name (`Tapprove.Denied`; a refused decision is
//!   an answer, `last: "refused"`, not an error) and
//!   whose `errorMessage` is the cause;
//! - HTTP requests through a Lambda function URL or an API Gateway HTTP
//!   API (payload format 2.0): `POST /v1/enrolments` and `/v1/credentials`,
//!   answered by the enrolment service, `POST /v1/requests`, the request
//!   endpoint ([`crate::requests`]), and `POST /v1/decisions`, the
//!   decision endpoint ([`crate::decisions`]);
//! - the decision endpoint's Lambda authorizer events (payload format 2.0,
//!   `type: REQUEST`), answered with a simple response;
//! - the daily schedule's `{"tapprove": "import_fido_metadata"}`
//!   ([`crate::fido`]);
//! - EventBridge's "Step Functions Execution Status Change" events for a
//!   gate's stopped executions, announced as withdrawn
//!   ([`crate::announce::withdrawal`]: Step Functions is asked, the event
//!   is not believed).

use std::sync::Arc;

use base64::Engine;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::{Value, json};
use tapprove_aws::dynamodb::DynamoRegistry;
use tapprove_aws::sfn::StepFunctions;
use tapprove_core::VerifierPolicy;

use crate::announce::Announcer;
use crate::decisions::{DECISIONS_PATH, DecisionService, header};
use crate::enrol::EnrolService;
use crate::gate::{announcement, handle};
use crate::http::{
    CREDENTIALS_PATH, ENROLMENTS_PATH, REQUESTS_PATH, answer, answer_credentials, answer_request, error_body,
};
use crate::requests::RequestService;
use crate::service_error::ServiceError;

/// What one invocation needs.
#[derive(Debug, Clone)]
pub struct Handler {
    /// Where requests and outcomes are announced, if anywhere.
    pub announcer: Option<Announcer>,
    /// For confirming what an EventBridge event says.
    pub sfn: StepFunctions,
    pub policy: VerifierPolicy,
    pub registry: DynamoRegistry,
    pub enrolment: Arc<EnrolService>,
    pub decisions: Arc<DecisionService>,
    pub requests: Arc<RequestService>,
    /// The scheduled import of FIDO's metadata, if the settings name its
    /// S3 object.
    pub fido_metadata: Option<(aws_config::SdkConfig, tapprove_config::FidoMetadataSettings)>,
}

impl Handler {
    /// Answers one event.
    pub async fn invoke(&self, event: Value) -> Result<Value, Diagnostic> {
        if event.get("type").and_then(Value::as_str) == Some("REQUEST") && event.get("routeArn").is_some() {
            return Ok(self.decisions.authorize(&event).await);
        }
        if event.pointer("/requestContext/http").is_some() {
            return Ok(self.http(&event).await);
        }
        if crate::fido::is_import(&event) {
            let Some((aws, settings)) = &self.fido_metadata else {
                return Err(Diagnostic {
                    error_type: "Tapprove.NotConfigured".into(),
                    error_message: "no [fido_metadata] object in the verifier's settings".into(),
                });
            };
            return match crate::fido::import(aws, &self.registry, settings, &crate::now()).await {
                Ok(answer) => {
                    eprintln!("tapprove-verifier: imported FIDO metadata: {answer}");
                    Ok(answer)
                }
                Err(e) => {
                    eprintln!("tapprove-verifier: FIDO metadata not imported: {e}");
                    Err(Diagnostic {
                        error_type: "Tapprove.FidoMetadataRefused".into(),
                        error_message: e,
                    })
                }
            };
        }
        if crate::announce::is_status_change(&event) {
            let withdrawn = crate::announce::withdrawal(&event, &self.sfn).await;
            return Ok(match (withdrawn, &self.announcer) {
                (Ok(Some(news)), Some(announcer)) => {
                    announcer.publish(&news).await;
                    json!({"announced": news.happened.name()})
                }
                (Ok(_), _) => json!({"announced": null}),
                (Err(e), _) => {
                    eprintln!("tapprove-verifier: a status change was not announced: {e}");
                    json!({"announced": null, "error": e})
                }
            });
        }
        let input = event.to_string();
        let answer = handle(
            &input,
            &crate::now(),
            &self.policy,
            &self.registry,
            &self.registry,
        )
        .await;
        if let Some(announcer) = &self.announcer
            && let Some(news) = announcement(&input, &answer)
        {
            announcer.publish(&news).await;
        }
        answer.map_err(|f| Diagnostic {
            error_type: f.error,
            error_message: f.cause,
        })
    }

    async fn http(&self, event: &Value) -> Value {
        let method = event
            .pointer("/requestContext/http/method")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let path = event.get("rawPath").and_then(Value::as_str).unwrap_or_default();
        let (status, body) = match (method, path) {
            ("POST", ENROLMENTS_PATH) => match body_of(event) {
                Ok(bytes) => answer(&self.enrolment, &bytes).await,
                Err(e) => (e.status, error_body(&e)),
            },
            ("POST", CREDENTIALS_PATH) => match body_of(event) {
                Ok(bytes) => answer_credentials(&self.enrolment, &bytes).await,
                Err(e) => (e.status, error_body(&e)),
            },
            ("POST", REQUESTS_PATH) => match body_of(event) {
                Ok(bytes) => answer_request(&self.requests, &bytes).await,
                Err(e) => (e.status, error_body(&e)),
            },
            ("POST", DECISIONS_PATH) => match body_of(event) {
                Ok(bytes) => {
                    self.decisions
                        .deliver(header(event, "authorization"), &bytes)
                        .await
                }
                Err(e) => (e.status, error_body(&e)),
            },
            ("GET", "/healthz") => (200, "\"ok\"".to_owned()),
            _ => (
                404,
                error_body(&ServiceError::bad_request(format!(
                    "no route {method} {path}: enrolments are posted to {ENROLMENTS_PATH}, credential requests to {CREDENTIALS_PATH}, requests to {REQUESTS_PATH}, decisions to {DECISIONS_PATH}"
                ))),
            ),
        };
        json!({
            "statusCode": status,
            "headers": {"content-type": "application/json"},
            "body": body,
        })
    }
}

fn body_of(event: &Value) -> Result<Vec<u8>, ServiceError> {
    let body = event.get("body").and_then(Value::as_str).unwrap_or_default();
    if event.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| ServiceError::bad_request(format!("body is not base64: {e}")))
    } else {
        Ok(body.as_bytes().to_vec())
    }
}

/// Runs the Lambda runtime loop until the runtime stops it.
pub async fn run(handler: Handler) -> Result<(), lambda_runtime::Error> {
    let handler = Arc::new(handler);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = Arc::clone(&handler);
        async move { handler.invoke(event.payload).await }
    }))
    .await
}
