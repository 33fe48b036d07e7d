//! The gate ↔ verifier protocol.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tapprove_core::registry::{Ledger, Registry};
use tapprove_core::{Code, VerifiedDecision, Verifier, VerifierPolicy, VerifyError};
use tapprove_proto::{Request, UtcTime};

/// What the gate asks.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum GateCall {
    /// A decision arrived through `SendTaskSuccess`.
    Verify {
        request: Value,
        decision: Value,
        tally: Tally,
    },
    /// A decision arrived through `SendTaskFailure` (`Tapprove.Denied`),
    /// with the decision as the failure's cause (a JSON string).
    VerifyDenial {
        request: Value,
        denial: String,
        tally: Tally,
    },
    /// How long the request stays open (after a task was handed back).
    Remaining { request: Value, tally: Tally },
}

/// The gate's running count of verified approvals, kept in its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// Verified approvals so far (as the verifier reported them).
    pub approvals: Vec<Value>,
    pub met: bool,
    pub remaining_seconds: i64,
    /// What the last call did: `counted`, `duplicate`, `waiting`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
}

/// A Step Functions task failure: error name and cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateFailure {
    pub error: String,
    pub cause: String,
}

impl GateFailure {
    fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }
}

/// The error name the gate fails with for a rejection.
pub fn error_name(code: Code) -> String {
    format!("Tapprove.{code}")
}

/// Answers one gate call at `now`.
pub async fn handle<R: Registry, L: Ledger>(
    input: &str,
    now: &UtcTime,
    policy: &VerifierPolicy,
    registry: &R,
    ledger: &L,
) -> Result<Value, GateFailure> {
    let call: GateCall = serde_json::from_str(input).map_err(|e| {
        GateFailure::new(
            "Tapprove.BadGateInput",
            format!("the gate sent input the verifier does not understand: {e}"),
        )
    })?;
    let (request_value, tally) = match &call {
        GateCall::Verify { request, tally, .. }
        | GateCall::VerifyDenial { request, tally, .. }
        | GateCall::Remaining { request, tally } => (request, tally),
    };
    let request_bytes = serde_json::to_vec(request_value).unwrap_or_default();
    // The request comes from the gate's own state; a malformed one is the
    // verifier's verdict like any other rule.
    let request = Request::from_json(&request_bytes).map_err(|e| {
        GateFailure::new(
            error_name(Code::MalformedRequest),
            json!({"code": Code::MalformedRequest, "message": e.to_string()}).to_string(),
        )
    })?;
    let remaining = request
        .deadline()
        .unix_seconds()
        .saturating_sub(now.unix_seconds())
        .max(0);
    let mut tally = tally.clone();
    tally.remaining_seconds = remaining;

    let decision_bytes = match &call {
        GateCall::Remaining { .. } => {
            tally.last = Some("waiting".into());
            return serde_json::to_value(tally)
                .map_err(|e| GateFailure::new("Tapprove.Internal", e.to_string()));
        }
        GateCall::Verify { decision, .. } => serde_json::to_vec(decision).unwrap_or_default(),
        GateCall::VerifyDenial { denial, .. } => denial.clone().into_bytes(),
    };
    let verifier = Verifier::new(policy, registry, ledger);
    match verifier.verify_json(&request_bytes, &decision_bytes, now).await {
        Ok(VerifiedDecision::Approve(approval)) => {
            let value = serde_json::to_value(&approval)
                .map_err(|e| GateFailure::new("Tapprove.Internal", e.to_string()))?;
            tally.approvals.push(value);
            tally.met = tally.approvals.len() >= request.quorum as usize;
            tally.last = Some("counted".into());
            serde_json::to_value(tally).map_err(|e| GateFailure::new("Tapprove.Internal", e.to_string()))
        }
        Ok(VerifiedDecision::Deny(denial)) => Err(GateFailure::new(
            "Tapprove.Denied",
            serde_json::to_string(denial.decision()).unwrap_or_default(),
        )),
        Err(VerifyError::Rejected(r)) if r.code == Code::DuplicateApprover => {
            // Not a reason to fail the workflow: the gate asks again.
            tally.last = Some("duplicate".into());
            serde_json::to_value(tally).map_err(|e| GateFailure::new("Tapprove.Internal", e.to_string()))
        }
        Err(VerifyError::Rejected(r)) => Err(GateFailure::new(
            error_name(r.code),
            json!({"code": r.code, "rule": r.code.rule(), "message": r.message}).to_string(),
        )),
        Err(e) => Err(GateFailure::new("Tapprove.RegistryUnavailable", e.to_string())),
    }
}
