//! The request endpoint: starts a gate for a requester AWS proved, so the
//! gate can show and judge who really asked rather than the name a
//! workflow's input carries.
//!
//! `POST /v1/requests` with a [`RequestSubmission`] and its presigned
//! `sts:GetCallerIdentity` (bound to the submission and this deployment,
//! good once, as for enrolment). The service:
//! 1. checks the submission by the request's own bounds, and that its gate
//!    is one of this deployment's (`[decision_endpoint] gates`, or the
//!    installed gate);
//! 2. learns the caller from STS and admits them by `[identity]`: one of
//!    `accounts`, matching one of `requesters` (a pipeline's role, the
//!    people's permission sets); a person's approver name counts only if
//!    the registry does not bind it to another principal;
//! 3. picks a random execution name, records "execution X was requested
//!    by P, with input of hash H" in the audit table (once, conditional),
//!    and only then starts the gate with that name, `requested_by` being
//!    the proven name.
//!
//! The gate's first step reads that record ([`crate::gate`]), checks that
//! its own input still hashes to H, and puts the requester into the
//! request every approver sees and signs. Anyone else who starts the gate
//! directly gets a request whose requester is only claimed, shown so
//! everywhere, and refused by a gate policy that requires a verified
//! requester.
//!
//! The danger is the endpoint's own permission: it starts gates on behalf
//! of its callers, so a caller outside `requesters` must be refused before
//! anything is written; refusals of callers STS vouched for are audited
//! (`refused#enrolment`, the service's refusal trail), anonymous ones cost
//! one log line.

use std::sync::Arc;

use rand_core::RngCore;
use tapprove_aws::sfn::StepFunctions;
use tapprove_core::registry::RequesterRecord;
use tapprove_proto::UtcTime;
use tapprove_proto::submission::{RequestReceipt, RequestSubmission};

use crate::enrol::EnrolService;
use crate::service_error::ServiceError;

/// Starts gates for proven requesters.
#[derive(Debug, Clone)]
pub struct RequestService {
    /// Identity proofs, the identity rules and the registry are the
    /// enrolment service's.
    enrolment: Arc<EnrolService>,
    sfn: StepFunctions,
    /// Gate state machine ARN patterns (`tapprove_config::glob_matches`).
    gates: Vec<String>,
}

impl RequestService {
    /// Starts executions of `gates` (`Config::endpoint_gates`).
    pub fn new(enrolment: Arc<EnrolService>, sfn: StepFunctions, gates: Vec<String>) -> Self {
        Self {
            enrolment,
            sfn,
            gates,
        }
    }

    /// Handles one submission (the request body) at `now`.
    pub async fn submit(&self, body: &[u8], now: &UtcTime) -> Result<RequestReceipt, ServiceError> {
        let submission =
            RequestSubmission::from_json(body).map_err(|e| ServiceError::bad_request(e.to_string()))?;
        if !self
            .gates
            .iter()
            .any(|pattern| tapprove_config::glob_matches(pattern, &submission.gate))
        {
            return Err(ServiceError::refused(
                "not_a_gate",
                format!(
                    "`{}` is not one of this deployment's gates: name the gate's state machine ARN (tapprove gate install, or the group stack's GateArn output)",
                    submission.gate
                ),
            ));
        }
        let execution_name = execution_name();
        let Some(execution) = execution_arn(&submission.gate, &execution_name) else {
            return Err(ServiceError::bad_request(format!(
                "`{}` is not a state machine ARN",
                submission.gate
            )));
        };
        let service = &self.enrolment;
        let caller = service
            .proven_caller(&submission, submission.identity.as_ref(), "", now)
            .await?;
        let requester = match service.identity.requester(&caller, now).await {
            Ok(r) => r,
            Err(refusal) => return Err(service.refusal(&caller, "", refusal, now).await),
        };
        // A person's name bound to another principal (the same person
        // under a second permission set, say) is refused, not shown by ARN:
        // shown by ARN, their request could be approved by themselves.
        if let Some(name) = &requester.person {
            let bound = service
                .registry
                .profile(name)
                .await
                .map_err(ServiceError::registry)?
                .and_then(|p| p.principal);
            if bound.is_some_and(|b| b != caller.user_id) {
                let refusal = ServiceError::refused(
                    "principal_mismatch",
                    format!(
                        "the name `{name}` belongs to another AWS principal (the one that enrolled it): ask as yourself, with the permission set you approve with"
                    ),
                );
                return Err(service.refusal(&caller, name, refusal, now).await);
            }
        }
        let input = submission.input(&requester.name());
        let input_sha256 = tapprove_core::canonical::input_sha256(&input)
            .map_err(|e| ServiceError::bad_request(e.to_string()))?;
        let record = RequesterRecord {
            requester: requester.clone(),
            input_sha256,
            requested_at: now.clone(),
        };
        if !service
            .registry
            .record_requester(&execution, &record, now)
            .await
            .map_err(ServiceError::registry)?
        {
            return Err(ServiceError::new(
                409,
                "execution_exists",
                "an execution of that name was requested before: submit again",
            ));
        }
        let started = self
            .sfn
            .start_named(&submission.gate, Some(&execution_name), &input.to_string())
            .await
            .map_err(|e| ServiceError::unavailable(format!("Step Functions did not start the gate: {e}")))?;
        eprintln!("tapprove-verifier: {} requested {started}", requester.arn);
        Ok(RequestReceipt {
            execution: started,
            requester,
        })
    }
}

/// A fresh execution name nobody can guess before the record exists:
/// `req-` and 128 random bits in hex.
fn execution_name() -> String {
    let mut bytes = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("req-{hex}")
}

/// The ARN an execution named `name` of `state_machine` gets
/// (`arn:<p>:states:<r>:<a>:stateMachine:<m>` → `…:execution:<m>:<name>`).
fn execution_arn(state_machine: &str, name: &str) -> Option<String> {
    let parts: Vec<&str> = state_machine.split(':').collect();
    match parts.as_slice() {
        [arn, partition, "states", region, account, "stateMachine", machine]
            if *arn == "arn" && !machine.is_empty() =>
        {
            Some(format!(
                "arn:{partition}:states:{region}:{account}:execution:{machine}:{name}"
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_arns_follow_step_functions_naming() {
        assert_eq!(
            execution_arn(
                "arn:aws:states:eu-west-1:123456789012:stateMachine:tapprove-gate",
                "req-1"
            )
            .as_deref(),
            Some("arn:aws:states:eu-west-1:123456789012:execution:tapprove-gate:req-1")
        );
        assert_eq!(execution_arn("arn:aws:states:eu-west-1:1:activity:x", "r"), None);
        assert_eq!(
            execution_arn("arn:aws:states:eu-west-1:1:stateMachine:m:v1", "r"),
            None,
            "a version or alias ARN is not the gate"
        );
        let (a, b) = (execution_name(), execution_name());
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 32);
    }
}
