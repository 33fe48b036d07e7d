//! Verifying an evidence bundle (`evidence/v1`) offline: the auditor's
//! side of `tapprove admin evidence`.
//!
//! What is checked, with no AWS: the request's hash; every decision the
//! gate counted, again, under every rule (signature, request hash, time
//! window, self-approval, group membership as the admin history had it at
//! that moment, credential status then, single use within the bundle);
//! that the counted approvals meet the gate's rule when the execution
//! says it passed; and each signing credential's registration (its
//! attestation statement, and that it registered this very key).
//!
//! What the bundle cannot prove by itself: that the people named hold the
//! keys (that rests on the enrolment records, whose AWS identities
//! CloudTrail corroborates), and that it lists every decision (the audit
//! table is the verifier's; an exporter could leave records out, which
//! can only make the rule fail, never pass).

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::Value;
use tapprove_proto::evidence::{Evidence, EvidenceApprover, EvidenceCredential};
use tapprove_proto::gate_policy::GatePolicy;
use tapprove_proto::registry::CredentialStatus;
use tapprove_proto::{Decision, Request, UtcTime, Verdict};

use crate::enrolment::{Judged, check_new_credential};
use crate::registry::{CredentialRecord, MemoryRegistry, RequesterRecord};
use crate::{Verifier, VerifierPolicy, VerifyError};

/// Why a bundle does not hold.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// The bundle is not one (or contradicts itself).
    #[error("the evidence is malformed: {0}")]
    Malformed(String),
    /// Something it claims does not verify; `code` names the rule.
    #[error("{message}")]
    Refused { code: String, message: String },
}

impl EvidenceError {
    pub fn code(&self) -> &str {
        match self {
            Self::Malformed(_) => "malformed_evidence",
            Self::Refused { code, .. } => code,
        }
    }

    fn refused(code: &str, message: impl Into<String>) -> Self {
        Self::Refused {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// What a bundle proves, for a person to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceReport {
    pub execution: String,
    pub execution_status: String,
    pub title: String,
    pub requested_by: String,
    /// Whether AWS proved who asked (the request carries the requester the
    /// request endpoint recorded).
    pub requester_verified: bool,
    /// SHA-256 of the request's canonical form, hex.
    pub request_sha256: String,
    /// The rule the approvals were counted against.
    pub rule: String,
    pub rule_met: bool,
    /// Every decision the verifier recorded, in order.
    pub decisions: Vec<DecisionReport>,
    pub credentials: Vec<CredentialReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionReport {
    pub at: String,
    pub approver: String,
    /// `approve` or `deny`, when the decision parsed.
    pub verdict: Option<String>,
    /// What the gate's verifier recorded: `accepted`, or its refusal code.
    pub recorded: String,
    /// Whether it was verified again here (only counted decisions are).
    pub verified_offline: bool,
    pub credential: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialReport {
    pub credential_id: String,
    pub owner: String,
    pub label: String,
    pub kind: String,
    /// `verified (<format>, <trust path>)`, or `not on record`.
    pub registration: String,
}

/// SHA-256 as lowercase hex (in-toto's digest form).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Verifies `bundle` as of `now` (the auditor's clock: no recorded time
/// may be later).
pub async fn verify(bundle: &Evidence, now: &UtcTime) -> Result<EvidenceReport, EvidenceError> {
    let malformed = |m: String| EvidenceError::Malformed(m);
    let request_bytes = serde_json::to_vec(&bundle.request).map_err(|e| malformed(e.to_string()))?;
    let request = Request::from_json(&request_bytes).map_err(|e| malformed(format!("its request: {e}")))?;
    let request_sha256 =
        crate::canonical::request_sha256(&request).map_err(|e| malformed(format!("its request: {e}")))?;
    if request.execution != bundle.execution {
        return Err(malformed(format!(
            "the request is for execution {}, the bundle for {}",
            request.execution, bundle.execution
        )));
    }
    let p = &bundle.policy;
    let mut policy = VerifierPolicy::new(&p.rp_id);
    policy.extra_origins = p.extra_origins.clone();
    policy.require_user_verification = p.require_user_verification;
    policy.allow_self_approval = p.allow_self_approval;
    policy.allow_software_authenticators = p.allow_software_authenticators;
    policy.allowed_aaguids = p.allowed_aaguids.clone();
    policy.allowed_kinds = p.allowed_kinds.clone();
    policy.accept_self_reported_models = p.accept_self_reported_models;
    policy.max_clock_skew_seconds = p.max_clock_skew_seconds;
    // FIDO's metadata is not in the bundle: its rules are not judged again.
    policy.min_certification_level = None;

    let fallback = bundle.gate_policy.clone().unwrap_or_else(|| {
        GatePolicy::single(
            &request.approvers,
            request.quorum,
            tapprove_proto::limits::MAX_TIMEOUT_SECONDS,
        )
    });
    // The gate's policy at a moment: the admins' last change before it,
    // or (none on record) the policy at export.
    let policy_at = |at: &UtcTime| -> Result<GatePolicy, EvidenceError> {
        match until(&bundle.gate_policy_events, at)
            .into_iter()
            .rfind(|e| e["event"] == "gate_policy_set")
        {
            Some(event) => serde_json::from_value::<GatePolicy>(event["policy"].clone())
                .map_err(|e| EvidenceError::Malformed(format!("a gate policy change: {e}"))),
            None => Ok(fallback.clone()),
        }
    };
    let mut gate_policy = fallback.clone();
    let registry = MemoryRegistry::new();
    registry.set_gate_policy(&request.gate(), gate_policy.clone());
    if let Some(record) = requester_record(&bundle.audit)? {
        registry.set_requester(&request.execution, record);
    }
    for (name, approver) in &bundle.approvers {
        registry.set_groups(name, approver.groups.clone());
        for c in &approver.credentials {
            registry.add_credential(record_of(name, c));
        }
    }
    let verifier = Verifier::new(&policy, &registry, &registry);

    let mut decisions = Vec::new();
    let mut approvals: Vec<BTreeSet<String>> = Vec::new();
    for record in bundle.audit.iter().filter(|r| r.get("decision").is_some()) {
        let at = record["at"]
            .as_str()
            .and_then(|t| UtcTime::parse(t).ok())
            .ok_or_else(|| malformed("an audit record has no valid `at`".into()))?;
        if at > *now {
            return Err(malformed(format!(
                "an audit record is dated {at}, after now ({now})"
            )));
        }
        let recorded = record["outcome"].as_str().unwrap_or_default().to_owned();
        let text = record["decision"].as_str().unwrap_or_default();
        let decision = Decision::from_json(text.as_bytes()).ok();
        let approver = decision
            .as_ref()
            .map(|d| d.statement.approver.clone())
            .or_else(|| record["approver"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let mut report = DecisionReport {
            at: at.to_string(),
            approver: approver.clone(),
            verdict: decision
                .as_ref()
                .map(|d| d.statement.decision.as_str().to_owned()),
            recorded: recorded.clone(),
            verified_offline: false,
            credential: decision.as_ref().map(|d| d.assertion.credential_id.encode()),
        };
        // Only what the gate counted is verified again: a refusal may rest
        // on state the bundle does not hold (a counter, a claim), and
        // replaying it could claim a later decision's statement.
        if recorded == "accepted" {
            let who = bundle.approvers.get(&approver).ok_or_else(|| {
                EvidenceError::refused(
                    "unknown_approver",
                    format!("the decision of `{approver}` at {at} counted, but the bundle does not describe `{approver}`"),
                )
            })?;
            let groups = groups_at(who, &at);
            registry.set_groups(&approver, groups.clone());
            gate_policy = policy_at(&at)?;
            registry.set_gate_policy(&request.gate(), gate_policy.clone());
            for c in &who.credentials {
                registry.set_status(c.credential_id.as_bytes(), status_at(who, c, &at));
            }
            let verified = verifier
                .verify_json(&request_bytes, text.as_bytes(), &at)
                .await
                .map_err(|e| refusal_of(e, &approver, &at))?;
            report.verified_offline = true;
            if verified.verdict() == Verdict::Approve {
                approvals.push(groups);
            }
        }
        decisions.push(report);
    }
    let quorum = gate_policy.quorum_for(&request);
    let rule_met = gate_policy.met(&approvals, quorum);
    if bundle.execution_status == "SUCCEEDED" && !rule_met {
        return Err(EvidenceError::refused(
            "rule_not_met",
            format!(
                "the execution passed the gate, but the approvals in the bundle do not meet its rule ({}): {} verified",
                gate_policy.describe(),
                approvals.len()
            ),
        ));
    }
    let mut credentials = Vec::new();
    for (name, approver) in &bundle.approvers {
        for c in &approver.credentials {
            credentials.push(CredentialReport {
                credential_id: c.credential_id.encode(),
                owner: name.clone(),
                label: c.label.clone(),
                kind: c.kind.as_str().to_owned(),
                registration: registration_of(&policy, c)?,
            });
        }
    }
    Ok(EvidenceReport {
        execution: bundle.execution.clone(),
        execution_status: bundle.execution_status.clone(),
        title: request.title.clone(),
        requested_by: request.requested_by.clone(),
        requester_verified: request.requester_verified(),
        request_sha256: hex(&request_sha256.0),
        rule: gate_policy.describe(),
        rule_met,
        decisions,
        credentials,
    })
}

fn refusal_of(e: VerifyError, approver: &str, at: &UtcTime) -> EvidenceError {
    match e {
        VerifyError::Rejected(r) => EvidenceError::refused(
            r.code.as_str(),
            format!(
                "the decision of `{approver}` at {at}, which the gate counted, does not verify: {}",
                r.message
            ),
        ),
        other => EvidenceError::Malformed(other.to_string()),
    }
}

/// The request endpoint's record of who asked, if the audit holds it.
fn requester_record(audit: &[Value]) -> Result<Option<RequesterRecord>, EvidenceError> {
    let Some(record) = audit
        .iter()
        .find(|r| r.get("requester").is_some() && r.get("input_sha256").is_some())
    else {
        return Ok(None);
    };
    let bad = |m: String| EvidenceError::Malformed(format!("the requester record: {m}"));
    Ok(Some(RequesterRecord {
        requester: serde_json::from_value(record["requester"].clone()).map_err(|e| bad(e.to_string()))?,
        input_sha256: record["input_sha256"].as_str().unwrap_or_default().to_owned(),
        requested_at: record["at"]
            .as_str()
            .and_then(|t| UtcTime::parse(t).ok())
            .ok_or_else(|| bad("no valid `at`".into()))?,
    }))
}

fn record_of(owner: &str, c: &EvidenceCredential) -> CredentialRecord {
    CredentialRecord {
        credential_id: c.credential_id.clone(),
        owner: owner.to_owned(),
        public_key: c.public_key.clone(),
        // Counters are the ledger's: the bundle's decisions are replayed
        // in order, so theirs must still rise.
        counter: 0,
        aaguid: c.aaguid,
        kind: c.kind,
        status: c.status,
        label: c.label.clone(),
        model_proven: c.model_proven,
        attestation: c.attestation.clone(),
    }
}

/// Events in time order up to `at` (inclusive).
fn until<'a>(events: &'a [Value], at: &UtcTime) -> Vec<&'a Value> {
    let mut out: Vec<(UtcTime, &Value)> = events
        .iter()
        .filter_map(|e| {
            e["at"]
                .as_str()
                .and_then(|t| UtcTime::parse(t).ok())
                .map(|t| (t, e))
        })
        .filter(|(t, _)| t <= at)
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, e)| e).collect()
}

/// The approver's groups at `at`, replayed from the admins' grants; with
/// no grant on record, the groups at export.
fn groups_at(approver: &EvidenceApprover, at: &UtcTime) -> BTreeSet<String> {
    let changes = |e: &&Value| matches!(e["event"].as_str(), Some("granted" | "ungranted"));
    if !approver.admin_events.iter().any(|e| changes(&e)) {
        return approver.groups.clone();
    }
    let mut groups = BTreeSet::new();
    for event in until(&approver.admin_events, at).into_iter().filter(changes) {
        let Some(group) = event["group"].as_str() else {
            continue;
        };
        if event["event"] == "granted" {
            groups.insert(group.to_owned());
        } else {
            groups.remove(group);
        }
    }
    groups
}

/// A credential's status at `at`, replayed from its events (enrolled or
/// registered with a status, activated, revoked, withdrawn); with none on
/// record, its status at export.
fn status_at(approver: &EvidenceApprover, c: &EvidenceCredential, at: &UtcTime) -> CredentialStatus {
    let id = c.credential_id.encode();
    let mut events: Vec<Value> = approver.admin_events.clone();
    events.extend(approver.credential_events.iter().cloned());
    let mine: Vec<Value> = events
        .into_iter()
        .filter(|e| e["credential_id"].as_str() == Some(&id))
        .collect();
    if mine.is_empty() {
        return c.status;
    }
    let mut status = None;
    for event in until(&mine, at) {
        status = match event["event"].as_str() {
            Some("enrolled" | "registered") => match event["status"].as_str() {
                Some("pending") => Some(CredentialStatus::Pending),
                Some("revoked") => Some(CredentialStatus::Revoked),
                _ => Some(CredentialStatus::Active),
            },
            Some("activated" | "confirmed") => Some(CredentialStatus::Active),
            Some("revoked" | "withdrawn") => Some(CredentialStatus::Revoked),
            _ => status,
        };
    }
    // Not yet registered then: it could not have signed.
    status.unwrap_or(CredentialStatus::Pending)
}

/// Checks a credential's registration again: its attestation statement,
/// as of when it was made, and that it registered this very key.
fn registration_of(policy: &VerifierPolicy, c: &EvidenceCredential) -> Result<String, EvidenceError> {
    let Some(registration) = &c.registration else {
        return Ok("not on record".into());
    };
    let refused = |m: String| {
        EvidenceError::refused(
            "attestation_invalid",
            format!(
                "the registration of credential {} does not verify: {m}",
                c.credential_id
            ),
        )
    };
    let client_data = registration.client_data_json.as_bytes();
    let parsed = crate::webauthn::ClientData::parse(client_data).map_err(|e| refused(e.to_string()))?;
    let challenge = URL_SAFE_NO_PAD
        .decode(&parsed.challenge)
        .map_err(|e| refused(e.to_string()))?;
    // The statement, not the org's model rules of the day.
    let mut lenient = VerifierPolicy::new(&policy.rp_id);
    lenient.extra_origins = policy.extra_origins.clone();
    let checked = check_new_credential(
        &lenient,
        &challenge,
        client_data,
        registration.attestation_object.as_bytes(),
        c.credential_id.as_bytes(),
        Judged {
            now: &registration.at,
            model: None,
        },
    )
    .map_err(|e| refused(e.to_string()))?;
    if checked.public_key != c.public_key {
        return Err(refused(
            "it registered another public key than the one that signed".into(),
        ));
    }
    Ok(format!(
        "verified ({}, {})",
        checked.record.format,
        checked.record.trust_path.as_str()
    ))
}

/// The in-toto Statement (v1) of a bundle: subjects are the request
/// (`sha256` of its canonical form) and the artifact its details name
/// (`artifact_sha256`, optionally `artifact`), the predicate the bundle.
pub fn in_toto(bundle: &Evidence) -> Result<Value, EvidenceError> {
    let request_bytes =
        serde_json::to_vec(&bundle.request).map_err(|e| EvidenceError::Malformed(e.to_string()))?;
    let request = Request::from_json(&request_bytes).map_err(|e| EvidenceError::Malformed(e.to_string()))?;
    let digest =
        crate::canonical::request_sha256(&request).map_err(|e| EvidenceError::Malformed(e.to_string()))?;
    let mut subjects = vec![serde_json::json!({
        "name": format!("tapprove-request:{}", request.execution),
        "digest": {"sha256": hex(&digest.0)},
    })];
    let details = &request.details;
    if let Some(artifact) = details[tapprove_proto::evidence::ARTIFACT_SHA256_DETAIL].as_str() {
        let valid = artifact.len() == 64
            && artifact
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !valid {
            return Err(EvidenceError::Malformed(format!(
                "the request's `{}` is not 64 lowercase hex digits",
                tapprove_proto::evidence::ARTIFACT_SHA256_DETAIL
            )));
        }
        let name = details[tapprove_proto::evidence::ARTIFACT_NAME_DETAIL]
            .as_str()
            .unwrap_or("artifact");
        subjects.push(serde_json::json!({"name": name, "digest": {"sha256": artifact}}));
    }
    let predicate = serde_json::to_value(bundle).map_err(|e| EvidenceError::Malformed(e.to_string()))?;
    Ok(serde_json::json!({
        "_type": tapprove_proto::evidence::IN_TOTO_STATEMENT,
        "subject": subjects,
        "predicateType": tapprove_proto::evidence::PREDICATE_TYPE,
        "predicate": predicate,
    }))
}

/// The approvers of a report's verified approvals, by name.
pub fn approvers(report: &EvidenceReport) -> BTreeMap<String, String> {
    report
        .decisions
        .iter()
        .filter(|d| d.verified_offline && d.verdict.as_deref() == Some("approve"))
        .map(|d| (d.approver.clone(), d.at.clone()))
        .collect()
}
