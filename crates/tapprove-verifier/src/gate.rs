//! The gate ↔ verifier protocol.
//!
//! Only a verified result ends a gate: a quorum of verified approvals, a
//! verified denial, or the deadline. Whoever holds a task token can send any
//! result for it (every approver of a queue group holds every token), so a
//! result that fails verification, or is no decision at all, is audited and
//! not counted, and the gate asks again while time remains. Every lap that
//! counts nothing (a refusal, a hand-back, a timed-out wait, a repeated
//! approver) is followed by a pause that doubles with each such lap in a
//! row ([`Tally::backoff_seconds`]), so whoever holds the task tokens cannot
//! spin the execution through its history limit in minutes.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tapprove_core::registry::{AuditRecord, Ledger, Registry};
use tapprove_core::{Code, VerifiedDecision, Verifier, VerifierPolicy, VerifyError};
use tapprove_proto::gate_policy::{GatePolicy, GateStatus};
use tapprove_proto::{Request, UtcTime};

use crate::announce::{Announcement, Happened};

/// What the gate asks.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum GateCall {
    /// The gate's first step: may this request pass this gate at all (its
    /// policy in the registry)? A refusal ends the execution before anyone
    /// is asked.
    Open {
        request: Value,
        tally: Tally,
        /// The group the gate's definition was installed for: its policy
        /// when the registry holds none ([`PinnedGroup`]).
        #[serde(default)]
        gate_group: Option<String>,
    },
    /// A decision arrived through `SendTaskSuccess`.
    Verify {
        request: Value,
        decision: Value,
        tally: Tally,
        #[serde(default)]
        gate_group: Option<String>,
    },
    /// A decision arrived through `SendTaskFailure` (`Tapprove.Denied`),
    /// with the decision as the failure's cause (a JSON string): the
    /// catcher's `{"Error", "Cause"}`, or the cause alone.
    VerifyDenial {
        request: Value,
        denial: Value,
        tally: Tally,
        #[serde(default)]
        gate_group: Option<String>,
    },
    /// How long the request stays open (after a task was handed back, or
    /// a wait timed out: a forged `States.Timeout` does not end the gate
    /// before its deadline).
    Remaining { request: Value, tally: Tally },
    /// The wait ended with a task failure that is no decision (any error
    /// but `Tapprove.Denied` and `Tapprove.Released`): Step Functions'
    /// `{"Error", "Cause"}`.
    Unverified {
        request: Value,
        result: Value,
        tally: Tally,
    },
}

/// The longest pause before asking again after a refused result.
pub const MAX_BACKOFF_SECONDS: i64 = 60;

/// The gate's running count of verified approvals, kept in its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// Verified approvals so far (as the verifier reported them).
    pub approvals: Vec<Value>,
    pub met: bool,
    pub remaining_seconds: i64,
    /// What the last call did: `counted`, `duplicate`, `waiting`,
    /// `refused`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
    /// How many results were refused so far.
    #[serde(default)]
    pub refusals: u32,
    /// Laps in a row that counted nothing.
    #[serde(default)]
    pub idle_laps: u32,
    /// The last refusal: `{code, rule, message}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Value>,
    /// Where the request stands (the rule and each clause's approvals so
    /// far): set by the first step and each counted approval, and handed
    /// to approvers with each task beside the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<GateStatus>,
    /// How long the gate waits before asking again after a lap that
    /// counted nothing: 1, 2, 4 … seconds, at most [`MAX_BACKOFF_SECONDS`].
    #[serde(default)]
    pub backoff_seconds: i64,
}

impl Tally {
    /// Records a refused result: the gate will ask again.
    fn refused(mut self, refusal: Value) -> Self {
        self.refusals = self.refusals.saturating_add(1);
        self.refusal = Some(refusal);
        self.idle("refused")
    }

    /// Records a lap that counted nothing (`last`), and the pause before
    /// the next.
    fn idle(mut self, last: &str) -> Self {
        self.idle_laps = self.idle_laps.saturating_add(1);
        self.backoff_seconds = 1i64
            .checked_shl(self.idle_laps.saturating_sub(1).min(6))
            .unwrap_or(MAX_BACKOFF_SECONDS)
            .min(MAX_BACKOFF_SECONDS);
        self.last = Some(last.into());
        self
    }

    /// Records a counted approval: no pause.
    fn counted(mut self) -> Self {
        self.idle_laps = 0;
        self.backoff_seconds = 0;
        self.last = Some("counted".into());
        self
    }
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

/// The registry as the gate sees it: where the registry holds no policy
/// for the gate, the group its definition was installed for is the policy
/// (one approver of it, requests of at most a year), so a gate deployed by
/// CloudFormation is its group's before an admin writes a policy, and a
/// workflow cannot name another group.
#[derive(Debug)]
pub struct PinnedGroup<'a, R> {
    pub inner: &'a R,
    pub group: Option<String>,
}

impl<R: Registry> Registry for PinnedGroup<'_, R> {
    async fn approver(
        &self,
        name: &str,
    ) -> Result<Option<tapprove_core::registry::ApproverRecord>, tapprove_core::StoreError> {
        self.inner.approver(name).await
    }

    async fn credential(
        &self,
        id: &[u8],
    ) -> Result<Option<tapprove_core::registry::CredentialRecord>, tapprove_core::StoreError> {
        self.inner.credential(id).await
    }

    async fn requester(
        &self,
        execution: &str,
    ) -> Result<Option<tapprove_core::registry::RequesterRecord>, tapprove_core::StoreError> {
        self.inner.requester(execution).await
    }

    async fn model(
        &self,
        aaguid: &tapprove_proto::Aaguid,
    ) -> Result<Option<tapprove_proto::metadata::ModelRecord>, tapprove_core::StoreError> {
        self.inner.model(aaguid).await
    }

    async fn gate_policy(&self, gate: &str) -> Result<Option<GatePolicy>, tapprove_core::StoreError> {
        Ok(match self.inner.gate_policy(gate).await? {
            Some(policy) => Some(policy),
            None => self
                .group
                .as_deref()
                .map(|g| GatePolicy::single(g, 1, tapprove_proto::limits::MAX_TIMEOUT_SECONDS)),
        })
    }
}

/// The audit outcome of a task result that was no decision at all.
pub const UNVERIFIED_RESULT: &str = "unverified_result";

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
        GateCall::Open { request, tally, .. }
        | GateCall::Verify { request, tally, .. }
        | GateCall::VerifyDenial { request, tally, .. }
        | GateCall::Remaining { request, tally }
        | GateCall::Unverified { request, tally, .. } => (request, tally),
    };
    let gate_group = match &call {
        GateCall::Open { gate_group, .. }
        | GateCall::Verify { gate_group, .. }
        | GateCall::VerifyDenial { gate_group, .. } => gate_group.clone(),
        GateCall::Remaining { .. } | GateCall::Unverified { .. } => None,
    };
    let registry = &PinnedGroup {
        inner: registry,
        group: gate_group.filter(|g| !g.is_empty()),
    };
    // A number JSON readers do not all read alike is refused at the first
    // step, before anyone is asked. It is looked for in the raw text: once
    // parsed, a decimal's excess precision is gone.
    if matches!(call, GateCall::Open { .. })
        && let Some(literal) = tapprove_proto::numbers::inexact_number(input.as_bytes())
    {
        let message = format!(
            "the request holds the number {}, which JSON readers do not all read alike (beyond IEEE double precision, RFC 7493): the approver would see one value and sign another; send it as a string",
            literal.chars().take(64).collect::<String>()
        );
        // On record under the execution, as a policy refusal is.
        let execution = request_value["execution"].as_str().unwrap_or_default();
        let audit = AuditRecord {
            at: now.clone(),
            outcome: Code::MalformedRequest.as_str().to_owned(),
            message: message.clone(),
            execution: (!execution.is_empty()).then(|| execution.chars().take(2048).collect()),
            request_sha256: None,
            requested_by: request_value["requested_by"]
                .as_str()
                .map(|r| r.chars().take(256).collect()),
            requester_verified: Some(false),
            approver: None,
            verdict: None,
            credential_id: None,
            statement_challenge: None,
            decision: None,
        };
        ledger
            .record_rejection(&audit)
            .await
            .map_err(|e| GateFailure::new("Tapprove.RegistryUnavailable", e.to_string()))?;
        return Err(GateFailure::new(
            error_name(Code::MalformedRequest),
            json!({"code": Code::MalformedRequest, "message": message}).to_string(),
        ));
    }
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

    let answer = |tally: Tally| {
        serde_json::to_value(tally).map_err(|e| GateFailure::new("Tapprove.Internal", e.to_string()))
    };
    let store =
        |e: tapprove_core::StoreError| GateFailure::new("Tapprove.RegistryUnavailable", e.to_string());
    // Only the calls that judge the request or count read the policy.
    let gate_policy = match &call {
        GateCall::Open { .. } | GateCall::Verify { .. } | GateCall::VerifyDenial { .. } => {
            registry.gate_policy(&request.gate()).await.map_err(store)?
        }
        GateCall::Remaining { .. } | GateCall::Unverified { .. } => None,
    };
    let decision_bytes = match &call {
        GateCall::Open { .. } => {
            // The requester AWS proved, if the request endpoint started
            // this execution: the gate puts it into its request (the
            // `Vouch requester` state), so approvers see it and sign it.
            let requester = vouched_requester(&request, now, registry, ledger).await?;
            let mut request = request.clone();
            request.requester = requester.clone();
            if let Some(refusal) = gate_policy.as_ref().and_then(|p| p.admits(&request).err()) {
                let audit = AuditRecord::of_request(
                    &request,
                    now,
                    Code::GatePolicyRefused.as_str(),
                    refusal.0.clone(),
                    None,
                );
                ledger.record_rejection(&audit).await.map_err(store)?;
                return Err(GateFailure::new(
                    error_name(Code::GatePolicyRefused),
                    json!({"code": Code::GatePolicyRefused, "rule": 5, "message": refusal.0}).to_string(),
                ));
            }
            tally.last = Some("open".into());
            tally.status = Some(match &gate_policy {
                Some(p) => p.status(&request, &[]),
                None => GateStatus::of_request(&request, 0),
            });
            // Besides the tally: `requester_shown` for the gate's output,
            // and `requester` only when AWS proved it (the gate's
            // `Requester proven?` state tests for its presence).
            let mut opened = answer(tally)?;
            opened["requester_shown"] =
                json!({"name": request.requester_name(), "verified": request.requester_verified()});
            if let Some(requester) = requester {
                opened["requester"] = serde_json::to_value(requester)
                    .map_err(|e| GateFailure::new("Tapprove.Internal", e.to_string()))?;
            }
            return Ok(opened);
        }
        GateCall::Remaining { .. } => return answer(tally.idle("waiting")),
        GateCall::Unverified { result, .. } => {
            let error = result.get("Error").and_then(Value::as_str).unwrap_or("(none)");
            let message = format!(
                "a task result that is no signed decision (error `{}`) was not counted; the gate asks again",
                error.chars().take(256).collect::<String>()
            );
            let audit = AuditRecord::of_request(
                &request,
                now,
                UNVERIFIED_RESULT,
                message.clone(),
                Some(result.to_string().chars().take(4096).collect()),
            );
            ledger
                .record_rejection(&audit)
                .await
                .map_err(|e| GateFailure::new("Tapprove.RegistryUnavailable", e.to_string()))?;
            return answer(tally.refused(json!({"code": UNVERIFIED_RESULT, "message": message})));
        }
        GateCall::Verify { decision, .. } => serde_json::to_vec(decision).unwrap_or_default(),
        // A failure without a cause is no decision: it fails verification.
        GateCall::VerifyDenial { denial, .. } => match denial {
            Value::String(cause) => cause.clone().into_bytes(),
            other => other
                .get("Cause")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .as_bytes()
                .to_vec(),
        },
    };
    let verifier = Verifier::new(policy, registry, ledger);
    match verifier.verify_json(&request_bytes, &decision_bytes, now).await {
        Ok(VerifiedDecision::Approve(approval)) => {
            let value = serde_json::to_value(&approval)
                .map_err(|e| GateFailure::new("Tapprove.Internal", e.to_string()))?;
            tally.approvals.push(value);
            let (met, status) = match &gate_policy {
                None => {
                    let counted = u32::try_from(tally.approvals.len()).unwrap_or(u32::MAX);
                    (
                        counted >= request.quorum,
                        GateStatus::of_request(&request, counted),
                    )
                }
                Some(p) => {
                    // Each approver's groups as the registry holds them now;
                    // someone since removed from every group of the rule
                    // counts for nothing.
                    let mut groups = Vec::with_capacity(tally.approvals.len());
                    for approval in &tally.approvals {
                        let name = approval["approver"].as_str().unwrap_or_default();
                        let record = registry.approver(name).await.map_err(store)?;
                        let theirs = record.map(|r| r.groups).unwrap_or_default();
                        if p.rule.iter().any(|c| theirs.contains(&c.group)) {
                            groups.push(theirs);
                        }
                    }
                    (
                        p.met(&groups, p.quorum_for(&request)),
                        p.status(&request, &groups),
                    )
                }
            };
            tally.met = met;
            tally.status = Some(status);
            answer(tally.counted())
        }
        Ok(VerifiedDecision::Deny(denial)) => Err(GateFailure::new(
            "Tapprove.Denied",
            serde_json::to_string(denial.decision()).unwrap_or_default(),
        )),
        Err(VerifyError::Rejected(r)) if r.code == Code::DuplicateApprover => {
            // Not a reason to fail the workflow: the gate asks again.
            answer(tally.idle("duplicate"))
        }
        // Audited by the verifier; not counted, and not the end of the gate.
        Err(VerifyError::Rejected(r)) => {
            answer(tally.refused(json!({"code": r.code, "rule": r.code.rule(), "message": r.message})))
        }
        Err(e) => Err(GateFailure::new("Tapprove.RegistryUnavailable", e.to_string())),
    }
}

/// What the team is told about the gate call `input` that was answered
/// with `answer`: the request opened (the first step passed), the rule was
/// met, a verified denial ended it, or its deadline passed. Nothing for a
/// refused or uncounted result: only what the verifier verified is
/// announced, and the names come from the verified decisions, never from
/// what a source wrote.
pub fn announcement(input: &str, answer: &Result<Value, GateFailure>) -> Option<Announcement> {
    let call: GateCall = serde_json::from_str(input).ok()?;
    let request_of = |value: &Value| Request::from_json(&serde_json::to_vec(value).ok()?).ok();
    match (&call, answer) {
        (GateCall::Open { request, .. }, Ok(opened)) => {
            let mut request = request_of(request)?;
            // The requester the first step vouched for (AWS proved it).
            if let Some(requester) = opened.get("requester") {
                request.requester = serde_json::from_value(requester.clone()).ok();
            }
            let status: Option<GateStatus> = serde_json::from_value(opened["status"].clone()).ok();
            Some(Announcement::of(&request, status.as_ref(), Happened::Opened))
        }
        (GateCall::Verify { request, .. }, Ok(tally))
            if tally["met"] == Value::Bool(true) && tally["last"] == "counted" =>
        {
            let request = request_of(request)?;
            let status: Option<GateStatus> = serde_json::from_value(tally["status"].clone()).ok();
            let by = tally["approvals"]
                .as_array()?
                .iter()
                .filter_map(|a| {
                    Some((
                        a["approver"].as_str()?.to_owned(),
                        UtcTime::parse(a["verified_at"].as_str()?).ok()?,
                    ))
                })
                .collect();
            Some(Announcement::of(
                &request,
                status.as_ref(),
                Happened::Approved { by },
            ))
        }
        // Only the verifier fails a denial's check with `Tapprove.Denied`,
        // after verifying it; its cause is the signed denial.
        // (A denial sent as a task's success reaches `verify`, and ends
        // the gate the same way.)
        (
            GateCall::VerifyDenial { request, tally, .. } | GateCall::Verify { request, tally, .. },
            Err(failure),
        ) if failure.error == "Tapprove.Denied" => {
            let request = request_of(request)?;
            let denial = tapprove_proto::Decision::from_json(failure.cause.as_bytes()).ok()?;
            let statement = denial.statement;
            Some(Announcement::of(
                &request,
                tally.status.as_ref(),
                Happened::Denied {
                    by: statement.approver,
                    at: statement.signed_at,
                    reason: statement.reason,
                    code: statement.reason_code,
                },
            ))
        }
        // Any later step that finds the deadline passed without the rule
        // met ends the gate (`Quorum met?` goes to `Expired`).
        (
            GateCall::Verify { request, .. }
            | GateCall::VerifyDenial { request, .. }
            | GateCall::Remaining { request, .. }
            | GateCall::Unverified { request, .. },
            Ok(tally),
        ) if tally["met"] != Value::Bool(true) && tally["remaining_seconds"].as_i64() == Some(0) => {
            let request = request_of(request)?;
            let status: Option<GateStatus> = serde_json::from_value(tally["status"].clone()).ok();
            Some(Announcement::of(&request, status.as_ref(), Happened::Expired))
        }
        _ => None,
    }
}

/// How long after the request endpoint recorded a requester the execution
/// it started may have begun, and how far the clocks may disagree.
const REQUESTED_WITHIN_SECONDS: i64 = 300;
const REQUESTED_SKEW_SECONDS: i64 = 60;

/// The requester the request endpoint recorded for `request`'s execution,
/// if that record's input is this request's: an execution someone else
/// started under a recorded name, or whose input differs from what the
/// requester submitted, fails here rather than borrow their identity.
async fn vouched_requester<R: Registry, L: Ledger>(
    request: &Request,
    now: &UtcTime,
    registry: &R,
    ledger: &L,
) -> Result<Option<tapprove_proto::Requester>, GateFailure> {
    let store =
        |e: tapprove_core::StoreError| GateFailure::new("Tapprove.RegistryUnavailable", e.to_string());
    let record = registry.requester(&request.execution).await.map_err(store)?;
    let Some(record) = record else {
        return Ok(None);
    };
    let input = tapprove_core::canonical::input_sha256(&request.input())
        .map_err(|e| GateFailure::new("Tapprove.Internal", e.to_string()))?;
    // Started right after the record was written, not a later execution
    // under a name used again (Step Functions allows that 90 days after an
    // execution closed).
    let since = request
        .created
        .unix_seconds()
        .saturating_sub(record.requested_at.unix_seconds());
    let fresh = (-REQUESTED_SKEW_SECONDS..=REQUESTED_WITHIN_SECONDS).contains(&since);
    if input != record.input_sha256 || !fresh {
        let message = if fresh {
            "this execution's input is not what its requester submitted to the request endpoint: nobody is asked"
        } else {
            "this execution was not started when its requester asked (a name used again): nobody is asked"
        };
        let audit =
            AuditRecord::of_request(request, now, Code::RequestMismatch.as_str(), message.into(), None);
        ledger.record_rejection(&audit).await.map_err(store)?;
        return Err(GateFailure::new(
            error_name(Code::RequestMismatch),
            json!({"code": Code::RequestMismatch, "rule": Code::RequestMismatch.rule(), "message": message})
                .to_string(),
        ));
    }
    Ok(Some(record.requester))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tapprove_core::registry::MemoryRegistry;

    fn open(
        registry: &MemoryRegistry,
        approvers: &str,
        gate_group: Option<&str>,
    ) -> Result<Value, GateFailure> {
        let mut request = sample_request();
        request["approvers"] = approvers.into();
        open_request(registry, &request, gate_group)
    }

    const EXECUTION: &str = "arn:aws:states:eu-west-1:123456789012:execution:tapprove-prod-gate:run-1";

    fn sample_request() -> Value {
        json!({
            "tapprove": "request/v1",
            "execution": EXECUTION,
            "nonce": "n-1",
            "created": "2026-11-21T10:00:00Z",
            "timeout_seconds": 3600,
            "title": "Deploy",
            "requested_by": "alice",
            "approvers": "prod-approvers",
            "quorum": 1,
            "details": {}
        })
    }

    fn open_request(
        registry: &MemoryRegistry,
        request: &Value,
        gate_group: Option<&str>,
    ) -> Result<Value, GateFailure> {
        let call = json!({
            "op": "open",
            "request": request,
            "tally": {"approvals": [], "met": false, "remaining_seconds": 3600},
            "gate_group": gate_group,
        });
        answer(registry, &call)
    }

    /// The verifier's answer to the gate call `call`, at 10:00:01.
    fn answer(registry: &MemoryRegistry, call: &Value) -> Result<Value, GateFailure> {
        let now = UtcTime::parse("2026-11-21T10:00:01Z").unwrap();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(handle(
                &call.to_string(),
                &now,
                &VerifierPolicy::new("example.com"),
                registry,
                registry,
            ))
    }

    #[test]
    fn a_gate_without_a_policy_is_its_installed_groups() {
        let registry = MemoryRegistry::new();
        let refused = open(&registry, "dev-approvers", Some("prod-approvers")).unwrap_err();
        assert_eq!(refused.error, "Tapprove.gate_policy_refused");
        assert!(
            refused.cause.contains("cannot choose its approvers"),
            "{}",
            refused.cause
        );
        assert_eq!(
            open(&registry, "prod-approvers", Some("prod-approvers")).unwrap()["last"],
            "open"
        );
        // Refusals are audited.
        assert_eq!(registry.audit_log().len(), 1);
        // A definition from before the pin (no gate_group) and no policy:
        // the request decides, as before.
        assert!(open(&registry, "dev-approvers", None).is_ok());
        // The registry's policy wins over the pin.
        registry.set_gate_policy("tapprove-prod-gate", GatePolicy::single("dev-approvers", 1, 3600));
        assert!(open(&registry, "dev-approvers", Some("prod-approvers")).is_ok());
        assert_eq!(
            open(&registry, "prod-approvers", Some("prod-approvers"))
                .unwrap_err()
                .error,
            "Tapprove.gate_policy_refused"
        );
    }

    fn record_requester(registry: &MemoryRegistry, input: &Value) {
        registry.set_requester(
            EXECUTION,
            tapprove_core::registry::RequesterRecord {
                requester: tapprove_proto::Requester {
                    arn: "arn:aws:sts::123456789012:assumed-role/ci-deploy/run-42".into(),
                    principal: "AROAEXAMPLE:run-42".into(),
                    person: None,
                },
                input_sha256: tapprove_core::canonical::input_sha256(input).unwrap(),
                requested_at: UtcTime::parse("2026-11-21T09:59:59Z").unwrap(),
            },
        );
    }

    #[test]
    fn the_first_step_vouches_only_for_the_requester_recorded_with_this_input() {
        let registry = MemoryRegistry::new();
        let request = sample_request();
        // Nothing recorded: the requester is the input's claim.
        let opened = open_request(&registry, &request, None).unwrap();
        assert_eq!(
            opened["requester_shown"],
            json!({"name": "alice", "verified": false})
        );
        assert!(opened.get("requester").is_none(), "{opened}");
        // Recorded with this input: vouched.
        let parsed = Request::from_json(request.to_string().as_bytes()).unwrap();
        record_requester(&registry, &parsed.input());
        let opened = open_request(&registry, &request, None).unwrap();
        assert_eq!(opened["requester"]["principal"], "AROAEXAMPLE:run-42");
        assert_eq!(opened["requester_shown"]["verified"], true);
        // The same execution with other input (the title changed) fails
        // before anyone is asked, and the refusal is audited.
        let mut other = request.clone();
        other["title"] = "Deploy something else".into();
        let refused = open_request(&registry, &other, None).unwrap_err();
        assert_eq!(refused.error, "Tapprove.request_mismatch");
        assert_eq!(registry.audit_log().last().unwrap().outcome, "request_mismatch");
        // The same name and input started again long after (Step Functions
        // allows a name again 90 days after its execution closed): the
        // record does not carry over.
        let mut later = request.clone();
        later["created"] = "2027-02-21T10:00:00Z".into();
        let refused = open_request(&registry, &later, None).unwrap_err();
        assert_eq!(refused.error, "Tapprove.request_mismatch");
        assert!(refused.cause.contains("name used again"), "{}", refused.cause);
    }

    #[test]
    fn a_gate_that_wants_a_proven_requester_refuses_a_claimed_one() {
        let registry = MemoryRegistry::new();
        let mut policy = GatePolicy::single("prod-approvers", 1, 3600);
        policy.require_verified_requester = true;
        registry.set_gate_policy("tapprove-prod-gate", policy);
        let request = sample_request();
        let refused = open_request(&registry, &request, None).unwrap_err();
        assert_eq!(refused.error, "Tapprove.gate_policy_refused");
        assert!(refused.cause.contains("verified requester"), "{}", refused.cause);
        let parsed = Request::from_json(request.to_string().as_bytes()).unwrap();
        record_requester(&registry, &parsed.input());
        assert!(open_request(&registry, &request, None).is_ok());
    }

    #[test]
    fn only_what_the_verifier_verified_is_announced() {
        let registry = MemoryRegistry::new();
        let run = |call: &Value| announcement(&call.to_string(), &answer(&registry, call));
        let tally = json!({"approvals": [], "met": false, "remaining_seconds": 3600});
        // Opened: announced, with the request's own title.
        let opened = run(&json!({"op": "open", "request": sample_request(), "tally": tally, "gate_group": "prod-approvers"}))
            .expect("an opened request is announced");
        assert_eq!(opened.happened, Happened::Opened);
        assert_eq!(opened.title, "Deploy");
        // Refused by the gate's policy: nobody is asked, nothing announced.
        let mut other = sample_request();
        other["approvers"] = "dev-approvers".into();
        assert_eq!(
            run(&json!({"op": "open", "request": other, "tally": tally, "gate_group": "prod-approvers"})),
            None
        );
        // A result that is no verified decision: nothing announced, even
        // one dressed as a denial or naming an approver.
        let forged =
            json!({"Error": "Tapprove.Denied", "Cause": "{\"statement\":{\"approver\":\"mallory\"}}"});
        assert_eq!(
            run(
                &json!({"op": "verify_denial", "request": sample_request(), "denial": forged, "tally": tally})
            ),
            None
        );
        assert_eq!(
            run(
                &json!({"op": "verify", "request": sample_request(), "decision": {"tapprove": "approval/v1"}, "tally": tally})
            ),
            None
        );
        // A hand-back with time left: nothing; at the deadline: expired.
        assert_eq!(
            run(&json!({"op": "remaining", "request": sample_request(), "tally": tally})),
            None
        );
        let mut late = sample_request();
        late["created"] = "2026-11-21T08:00:00Z".into();
        assert_eq!(
            run(&json!({"op": "remaining", "request": late, "tally": tally}))
                .unwrap()
                .happened,
            Happened::Expired
        );
    }
}
