//! The decision endpoint: delivers a signed decision to Step Functions on
//! behalf of an approver who holds no Step Functions permission at all.
//! The signed decision is the credential.
//!
//! Wire format, `POST /v1/decisions`:
//! - header `Authorization: Tapprove <base64url(the decision's JSON)>`;
//! - body `{"task_token": "...", "request": {the request/v1 it decides}}`.
//!
//! Answers, all JSON:
//! - `200 {"delivered": true, "verdict", "approver"}`;
//! - `410 {"code": "task_gone", "gone", "message"}` when Step Functions no
//!   longer takes a result for the task;
//! - `401` with no decision, `403 {"code", "message"}` with one that is not
//!   admitted (the rule's code), `400` for a malformed body;
//! - `503` when the registry or Step Functions could not be reached (the
//!   caller retries).
//!
//! In AWS the route sits behind an API Gateway HTTP API. Its Lambda
//! authorizer (this function, payload format 2.0, simple responses)
//! admits only a decision whose signature verifies
//! ([`Verifier::admit_json`]). The route's integration (this function
//! again) admits it once more, because it must send exactly the decision it
//! checked, and then calls `SendTaskSuccess` (approve: the decision is the
//! output) or `SendTaskFailure` (deny: `Tapprove.Denied`, the decision is
//! the cause), as the app would have. `tapprove-verifier serve` answers the
//! same route itself.
//!
//! The integration sends nothing it has not checked: the decision against
//! the request it came with by every rule the gate's verifier applies (the
//! request's hash, the time window, self-approval, the group, the
//! credential, the signature, and single use by reading the ledger:
//! [`Verifier::check_json`]); that request's execution must be running
//! and one of this deployment's gates (`[decision_endpoint] gates`); the
//! request must be the one that gate offered in its latest wait (read from
//! the execution's history, so a request the caller wrote, naming a real
//! execution, is refused); and for the queue source the task token must be
//! the one the gate published with it. So an old decision, or a decision
//! for a request of the caller's making, completes nothing, and for a
//! queue-source gate neither does a decision sent with any other token.
//! What remains, for activity-source gates (their tokens are made at
//! `GetActivityTask` and appear in no history event): an approver holding
//! a fresh, not yet counted decision for such a gate's current request
//! could send it with any task token they hold, of any workflow in the
//! account, and the endpoint's role would complete that task. Refusals before the signature is admitted
//! cost one log line; after it, an audit record (the signer is known).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};
use tapprove_aws::dynamodb::DynamoRegistry;
use tapprove_aws::sfn::{Delivery, StepFunctions, TaskGone, TaskToken};
use tapprove_core::{Admitted, Verifier, VerifierPolicy, VerifyError};
use tapprove_proto::limits::MAX_DECISION_BYTES;
use tapprove_proto::{Request, Verdict};

pub use tapprove_proto::delivery::{AUTHORIZATION_SCHEME as SCHEME, DECISIONS_PATH, authorization_for};
/// Task tokens are at most 1024 characters (Step Functions' limit); the
/// body is the token and little else.
pub const MAX_BODY_BYTES: usize = 4096 + tapprove_proto::limits::MAX_REQUEST_BYTES;

/// Why the endpoint did not deliver: an HTTP status and `{code, message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// Why the task takes no result (`410` only).
    pub gone: Option<TaskGone>,
}

impl Refusal {
    fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            gone: None,
        }
    }

    /// The JSON body of the answer.
    pub fn body(&self) -> String {
        let mut body = json!({"code": self.code, "message": self.message});
        if let Some(gone) = self.gone {
            body["gone"] = json!(gone);
        }
        body.to_string()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveryBody {
    task_token: String,
    request: Value,
}

/// Admits and delivers decisions.
#[derive(Debug, Clone)]
pub struct DecisionService {
    policy: VerifierPolicy,
    registry: DynamoRegistry,
    sfn: StepFunctions,
    /// Gate state machine ARN patterns (`tapprove_config::glob_matches`).
    gates: Vec<String>,
}

impl DecisionService {
    /// Delivers for the gates `gates` (`Config::endpoint_gates`).
    pub fn new(
        policy: VerifierPolicy,
        registry: DynamoRegistry,
        sfn: StepFunctions,
        gates: Vec<String>,
    ) -> Self {
        Self {
            policy,
            registry,
            sfn,
            gates,
        }
    }

    /// The decision, checked in full against `request`; the request's
    /// execution running one of this deployment's gates, which offered
    /// exactly this request (and, for the queue source, `token`).
    async fn check(
        &self,
        authorization: Option<&str>,
        request: &Value,
        token: &TaskToken,
    ) -> Result<(Admitted, String), Refusal> {
        // Admission first: a caller without a validly signed decision gets
        // no further (and costs no more than a log line).
        let (_, text) = self.admit(authorization).await?;
        let request_bytes = serde_json::to_vec(request).unwrap_or_default();
        let verifier = Verifier::new(&self.policy, &self.registry, &self.registry);
        let checked = match verifier
            .check_json(&request_bytes, text.as_bytes(), &crate::now())
            .await
        {
            Ok(checked) => checked,
            Err(VerifyError::Rejected(r)) => return Err(Refusal::new(403, r.code.as_str(), r.message)),
            Err(e) => {
                return Err(Refusal::new(
                    503,
                    "registry_unavailable",
                    format!("the registry could not be read; try again: {e}"),
                ));
            }
        };
        let execution = checked.execution().unwrap_or_default();
        let state = self.sfn.describe_execution(execution).await.map_err(|e| {
            if e.is_transient() {
                Refusal::new(
                    503,
                    "step_functions_unavailable",
                    format!("Step Functions did not answer; try again: {e}"),
                )
            } else {
                Refusal::new(
                    403,
                    "not_a_gate",
                    format!("the request's execution {execution} cannot be read: {e}"),
                )
            }
        })?;
        if !self
            .gates
            .iter()
            .any(|g| tapprove_config::glob_matches(g, &state.state_machine_arn))
        {
            eprintln!(
                "tapprove-verifier: decision endpoint refused a decision for {execution}: {} is not one of its gates",
                state.state_machine_arn
            );
            return Err(Refusal::new(
                403,
                "not_a_gate",
                format!(
                    "the request's execution runs {}, which is not one of this deployment's gates: the endpoint delivers only to its own gates",
                    state.state_machine_arn
                ),
            ));
        }
        if state.status != "RUNNING" {
            return Err(Refusal {
                gone: Some(TaskGone::DoesNotExist),
                ..Refusal::new(
                    410,
                    "task_gone",
                    format!(
                        "the request's execution is {}: it takes no decision any more",
                        state.status
                    ),
                )
            });
        }
        self.bound_to_the_gate(execution, request, &token.0).await?;
        Ok((checked, text))
    }

    /// Admits the decision an `Authorization` header carries; returns it
    /// with its exact text.
    pub async fn admit(&self, authorization: Option<&str>) -> Result<(Admitted, String), Refusal> {
        let text = decision_of(authorization)?;
        let verifier = Verifier::new(&self.policy, &self.registry, &self.registry);
        match verifier.admit_json(text.as_bytes(), &crate::now()).await {
            Ok(admitted) => Ok((admitted, text)),
            Err(VerifyError::Rejected(r)) => Err(Refusal::new(403, r.code.as_str(), r.message)),
            Err(e) => Err(Refusal::new(
                503,
                "registry_unavailable",
                format!("the registry could not be read; try again: {e}"),
            )),
        }
    }

    /// The request is the one the execution's gate holds (not one the
    /// caller wrote naming a real execution), and, for the queue source,
    /// the token is the one that gate published for it.
    async fn bound_to_the_gate(&self, execution: &str, request: &Value, token: &str) -> Result<(), Refusal> {
        let wait = self.sfn.latest_wait(execution).await.map_err(|e| {
            Refusal::new(
                503,
                "step_functions_unavailable",
                format!("the gate's history could not be read; try again: {e}"),
            )
        })?;
        let Some(wait) = wait else {
            return Err(Refusal::new(
                403,
                "not_a_gate",
                "the execution has offered no request to approvers (or its history is truncated): nothing to deliver",
            ));
        };
        let hash = |v: &Value| {
            Request::from_json(&serde_json::to_vec(v).unwrap_or_default())
                .ok()
                .and_then(|r| tapprove_core::canonical::request_sha256(&r).ok())
        };
        if hash(&wait.request).is_none() || hash(&wait.request) != hash(request) {
            return Err(Refusal::new(
                403,
                "request_mismatch",
                "the request is not the one the gate holds: send the decision with the request as the gate offered it",
            ));
        }
        if wait
            .task_token
            .as_deref()
            .is_some_and(|published| published != token)
        {
            return Err(Refusal::new(
                403,
                "token_mismatch",
                "the task token is not the one the gate published for this request",
            ));
        }
        Ok(())
    }

    /// Answers one `POST /v1/decisions`: a status and a JSON body.
    pub async fn deliver(&self, authorization: Option<&str>, body: &[u8]) -> (u16, String) {
        match self.try_deliver(authorization, body).await {
            Ok(answer) => (200, answer.to_string()),
            Err(refusal) => (refusal.status, refusal.body()),
        }
    }

    async fn try_deliver(&self, authorization: Option<&str>, body: &[u8]) -> Result<Value, Refusal> {
        if body.len() > MAX_BODY_BYTES {
            return Err(Refusal::new(
                413,
                "bad_request",
                format!("the body is over {MAX_BODY_BYTES} bytes; it carries only the task token"),
            ));
        }
        let body: DeliveryBody = serde_json::from_slice(body).map_err(|e| {
            Refusal::new(
                400,
                "bad_request",
                format!("the body must be {{\"task_token\": \"...\", \"request\": {{the request it decides}}}}: {e}"),
            )
        })?;
        if body.task_token.trim().is_empty() {
            return Err(Refusal::new(400, "bad_request", "the task token is empty"));
        }
        let token = TaskToken(body.task_token);
        let (admitted, text) = self.check(authorization, &body.request, &token).await?;
        let sent = match admitted.verdict() {
            Verdict::Approve => self.sfn.send_success(&token, &text).await,
            Verdict::Deny => self.sfn.send_failure(&token, "Tapprove.Denied", &text).await,
        };
        match sent {
            Ok(Delivery::Acknowledged) => Ok(json!({
                "delivered": true,
                "verdict": admitted.verdict().as_str(),
                "approver": admitted.approver(),
            })),
            Ok(Delivery::Gone(gone)) => Err(Refusal {
                gone: Some(gone),
                ..Refusal::new(
                    410,
                    "task_gone",
                    format!(
                        "Step Functions no longer takes a result for this task: {}",
                        gone.explain()
                    ),
                )
            }),
            Err(e) => Err(Refusal::new(
                503,
                "step_functions_unavailable",
                format!("Step Functions did not take the result; try again: {e}"),
            )),
        }
    }

    /// Answers an API Gateway HTTP API Lambda authorizer event (payload
    /// format 2.0) with a simple response: authorised only for an admitted
    /// decision, whose approver, verdict and credential go to the
    /// integration as context.
    pub async fn authorize(&self, event: &Value) -> Value {
        let authorization = header(event, "authorization");
        match self.admit(authorization).await {
            Ok((admitted, _)) => json!({
                "isAuthorized": true,
                "context": {
                    "approver": admitted.approver(),
                    "verdict": admitted.verdict().as_str(),
                    "credential": admitted.credential_label(),
                },
            }),
            Err(refusal) => {
                eprintln!(
                    "tapprove-verifier: decision endpoint refused a delivery: {} ({})",
                    refusal.code, refusal.message
                );
                json!({"isAuthorized": false})
            }
        }
    }
}

/// A header of an API Gateway or function URL event (names are lower case
/// there).
pub fn header<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    event
        .get("headers")
        .and_then(Value::as_object)?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

/// The decision's JSON text from `Authorization: Tapprove <base64url>`.
pub fn decision_of(authorization: Option<&str>) -> Result<String, Refusal> {
    let no_decision = |why: &str| {
        Refusal::new(
            401,
            "no_decision",
            format!("{why}: send the signed decision as `Authorization: {SCHEME} <base64url of its JSON>`"),
        )
    };
    let value = authorization.ok_or_else(|| no_decision("no Authorization header"))?;
    let (scheme, encoded) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| no_decision("the Authorization header has no scheme"))?;
    if !scheme.eq_ignore_ascii_case(SCHEME) {
        return Err(no_decision(&format!("the Authorization scheme is `{scheme}`")));
    }
    let encoded = encoded.trim();
    if encoded.len() > MAX_DECISION_BYTES.div_ceil(3) * 4 {
        return Err(Refusal::new(
            403,
            "field_too_large",
            format!("the decision is over {MAX_DECISION_BYTES} bytes"),
        ));
    }
    let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|e| {
        Refusal::new(
            403,
            "malformed_base64",
            format!("the decision is not unpadded base64url: {e}"),
        )
    })?;
    String::from_utf8(bytes)
        .map_err(|_| Refusal::new(403, "malformed_decision", "the decision is not UTF-8 JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_round_trips_and_bad_ones_say_how_to_send_it() {
        let text = r#"{"tapprove":"approval/v1"}"#;
        assert_eq!(decision_of(Some(&authorization_for(text))).unwrap(), text);
        assert_eq!(
            decision_of(Some(&authorization_for(text).replace("Tapprove", "tapprove"))).unwrap(),
            text
        );
        for (value, code) in [
            (None, "no_decision"),
            (Some("Bearer abc"), "no_decision"),
            (Some("Tapprove"), "no_decision"),
            (Some("Tapprove abc="), "malformed_base64"),
            (Some("Tapprove //8"), "malformed_base64"),
            (Some("Tapprove _w"), "malformed_decision"),
        ] {
            let refusal = decision_of(value).unwrap_err();
            assert_eq!(refusal.code, code, "{value:?}");
            if code == "no_decision" {
                assert_eq!(refusal.status, 401);
                assert!(
                    refusal.message.contains("Authorization: Tapprove"),
                    "{}",
                    refusal.message
                );
            }
        }
        let huge = format!("Tapprove {}", "A".repeat(MAX_DECISION_BYTES * 2));
        assert_eq!(decision_of(Some(&huge)).unwrap_err().code, "field_too_large");
    }

    #[test]
    fn headers_are_found_whatever_their_case() {
        let event = json!({"headers": {"authorization": "Tapprove x", "Content-Type": "application/json"}});
        assert_eq!(header(&event, "Authorization"), Some("Tapprove x"));
        assert_eq!(header(&event, "content-type"), Some("application/json"));
        assert_eq!(header(&json!({}), "authorization"), None);
    }
}
