//! The verification rules of docs/protocol.md, in order.
//!
//! [`Verifier::verify_json`] takes the request as the workflow holds it, the
//! decision as it came back from the approver, and the verifier's clock. It
//! parses, checks every rule, commits the single-use claims and the counter
//! in one conditional write, writes an audit record whether the decision
//! passed or not, and only then returns a [`VerifiedDecision`]. Nothing
//! outside this module can build one, so code that acts on an approval
//! (records it, counts it towards a quorum, resumes a workflow) cannot be
//! handed an unverified decision.
//!
//! Everything but the registry and ledger calls is synchronous and pure;
//! `now` is an argument, so expiry is tested without waiting.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use tapprove_proto::limits::MAX_DECISION_BYTES;
use tapprove_proto::registry::{AuthenticatorKind, CredentialStatus};
use tapprove_proto::{
    Aaguid, Base64Url, Decision, ReasonCode, Request, Sha256Digest, UtcTime, Verdict, WireError,
    WireErrorKind,
};

use crate::canonical::{WEBAUTHN_GET, request_sha256, sha256, statement_challenge};
use crate::error::{Code, Rejection, StoreError, VerifyError};
use crate::policy::VerifierPolicy;
use crate::registry::{
    ApproverRecord, AuditRecord, CredentialRecord, CredentialUse, Ledger, Registry, UseConflict,
};
use crate::webauthn::{AuthenticatorData, ClientData, CoseKey, WebauthnError};

/// Checks decisions against one policy, registry and ledger.
#[derive(Debug)]
pub struct Verifier<'a, R, L> {
    policy: &'a VerifierPolicy,
    registry: &'a R,
    ledger: &'a L,
}

/// A decision that passed every rule. Only the verifier builds these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Verified {
    execution: String,
    request_sha256: Sha256Digest,
    approver: String,
    verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason_code: Option<ReasonCode>,
    signed_at: UtcTime,
    credential_id: Base64Url,
    credential_label: String,
    authenticator: AuthenticatorKind,
    aaguid: Aaguid,
    user_verified: bool,
    counter: u32,
    verified_at: UtcTime,
    decision: Decision,
}

macro_rules! verified_accessors {
    ($t:ty) => {
        impl $t {
            /// The execution whose request was decided.
            pub fn execution(&self) -> &str {
                &self.0.execution
            }
            pub fn request_sha256(&self) -> &Sha256Digest {
                &self.0.request_sha256
            }
            /// Who signed: the registry's name for them.
            pub fn approver(&self) -> &str {
                &self.0.approver
            }
            pub fn reason(&self) -> Option<&str> {
                self.0.reason.as_deref()
            }
            /// The signed reason code (`unexpected`), if any.
            pub fn reason_code(&self) -> Option<ReasonCode> {
                self.0.reason_code
            }
            pub fn signed_at(&self) -> &UtcTime {
                &self.0.signed_at
            }
            pub fn credential_id(&self) -> &Base64Url {
                &self.0.credential_id
            }
            pub fn credential_label(&self) -> &str {
                &self.0.credential_label
            }
            pub fn authenticator(&self) -> AuthenticatorKind {
                self.0.authenticator
            }
            pub fn user_verified(&self) -> bool {
                self.0.user_verified
            }
            pub fn verified_at(&self) -> &UtcTime {
                &self.0.verified_at
            }
            /// The signed decision, for forwarding or archiving as evidence.
            pub fn decision(&self) -> &Decision {
                &self.0.decision
            }
        }
    };
}

/// A verified approval. Counting it towards a quorum or resuming a workflow
/// takes this value, so an unverified approval cannot be acted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct VerifiedApproval(Verified);

/// A verified denial: as attributable as an approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct VerifiedDenial(Verified);

verified_accessors!(VerifiedApproval);
verified_accessors!(VerifiedDenial);

/// The outcome of a passed verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum VerifiedDecision {
    Approve(VerifiedApproval),
    Deny(VerifiedDenial),
}

impl VerifiedDecision {
    pub fn verdict(&self) -> Verdict {
        match self {
            Self::Approve(_) => Verdict::Approve,
            Self::Deny(_) => Verdict::Deny,
        }
    }

    pub fn approver(&self) -> &str {
        match self {
            Self::Approve(a) => a.approver(),
            Self::Deny(d) => d.approver(),
        }
    }

    pub fn credential_id(&self) -> &Base64Url {
        match self {
            Self::Approve(a) => a.credential_id(),
            Self::Deny(d) => d.credential_id(),
        }
    }
}

/// Everything parsed from the inputs before any rule that needs the
/// registry runs.
struct Parsed {
    request: Request,
    request_hash: Sha256Digest,
    signed: Signed,
}

/// The decision's parts, parsed: what rules 6 and 7 look at.
struct Signed {
    decision: Decision,
    challenge: Sha256Digest,
    auth_data: AuthenticatorData,
    client_data: ClientData,
}

/// A decision the decision endpoint may hand to Step Functions: it is
/// well-formed, not signed in the future, and its signature verifies with
/// an active credential registered to its approver, who is in an approver
/// group. This is admission, not verification: the request, its time
/// window, the group the request names, the counter and single use are
/// the gate's verifier's to check, and only it builds a
/// [`VerifiedDecision`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Admitted {
    approver: String,
    verdict: Verdict,
    credential_id: Base64Url,
    credential_label: String,
    decision: Decision,
    /// The execution of the request it was checked against
    /// ([`Verifier::check_json`]; none for [`Verifier::admit_json`]).
    execution: Option<String>,
}

impl Admitted {
    /// The execution of the request the decision was checked against.
    pub fn execution(&self) -> Option<&str> {
        self.execution.as_deref()
    }

    /// Who signed: the registry's name for them.
    pub fn approver(&self) -> &str {
        &self.approver
    }
    pub fn verdict(&self) -> Verdict {
        self.verdict
    }
    pub fn credential_id(&self) -> &Base64Url {
        &self.credential_id
    }
    pub fn credential_label(&self) -> &str {
        &self.credential_label
    }
    /// The signed decision, exactly as admitted: what the endpoint sends.
    pub fn decision(&self) -> &Decision {
        &self.decision
    }
}

enum Stop {
    Rejected(Rejection),
    Store(StoreError),
}

impl From<Rejection> for Stop {
    fn from(r: Rejection) -> Self {
        Stop::Rejected(r)
    }
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Store(e)
    }
}

fn reject<T>(code: Code, message: impl Into<String>) -> Result<T, Rejection> {
    Err(Rejection::new(code, message))
}

impl<'a, R: Registry, L: Ledger> Verifier<'a, R, L> {
    pub fn new(policy: &'a VerifierPolicy, registry: &'a R, ledger: &'a L) -> Self {
        Self {
            policy,
            registry,
            ledger,
        }
    }

    /// Verifies `decision` (approval/v1 JSON from the task result) against
    /// `request` (request/v1 JSON from the workflow's own state) at `now`.
    ///
    /// Every call that reaches a verdict writes one audit record; a
    /// [`VerifyError::Store`] means no verdict was reached and the call may
    /// be repeated.
    pub async fn verify_json(
        &self,
        request: &[u8],
        decision: &[u8],
        now: &UtcTime,
    ) -> Result<VerifiedDecision, VerifyError> {
        let mut audit = audit_record(decision, now);
        let outcome = self.run(request, decision, now, &mut audit).await;
        self.audit_stop(outcome, audit, "").await
    }

    /// Admits `decision` (approval/v1 JSON) for delivery through the
    /// decision endpoint at `now`: rule 1 for the decision, its time not
    /// ahead of the clock (rule 3), an approver in some group (rule 5),
    /// rules 6 and 7 but for the counter. Reads the registry and writes
    /// nothing but the audit record of a refusal; the gate verifies the
    /// decision in full when Step Functions hands it on.
    pub async fn admit_json(&self, decision: &[u8], now: &UtcTime) -> Result<Admitted, VerifyError> {
        let mut audit = audit_record(decision, now);
        let outcome = self.admit(decision, now, &mut audit).await;
        self.audit_stop(outcome, audit, "the decision endpoint refused to deliver it: ")
            .await
    }

    /// Checks `decision` against `request` at `now` by every rule the gate's
    /// verifier applies (1 to 7, and 8 and 9 by reading the ledger), but
    /// claims nothing: the decision endpoint's check before it sends a
    /// result to Step Functions, so an old, used, or mismatched decision is
    /// never sent. The gate's verifier still verifies and claims it.
    pub async fn check_json(
        &self,
        request: &[u8],
        decision: &[u8],
        now: &UtcTime,
    ) -> Result<Admitted, VerifyError> {
        let mut audit = audit_record(decision, now);
        let outcome = self.check(request, decision, now, &mut audit).await;
        self.audit_stop(outcome, audit, "the decision endpoint refused to deliver it: ")
            .await
    }

    async fn check(
        &self,
        request: &[u8],
        decision: &[u8],
        now: &UtcTime,
        audit: &mut AuditRecord,
    ) -> Result<Admitted, Stop> {
        let (parsed, approver, credential) = self
            .rules_before_the_ledger(request, decision, now, audit)
            .await?;
        let conflict = self
            .ledger
            .used(&parsed.signed.challenge, &parsed.request_hash, &approver.name)
            .await?;
        if let Some(conflict) = conflict {
            return Err(
                conflict_rejection(conflict, &approver.name, parsed.signed.auth_data.sign_count).into(),
            );
        }
        let statement = &parsed.signed.decision.statement;
        Ok(Admitted {
            approver: approver.name,
            verdict: statement.decision,
            credential_id: credential.credential_id,
            credential_label: credential.label,
            execution: Some(parsed.request.execution.clone()),
            decision: parsed.signed.decision,
        })
    }

    /// Writes the audit record of a rejection (its message after `context`).
    async fn audit_stop<T>(
        &self,
        outcome: Result<T, Stop>,
        mut audit: AuditRecord,
        context: &str,
    ) -> Result<T, VerifyError> {
        match outcome {
            Ok(value) => Ok(value),
            Err(Stop::Rejected(rejection)) => {
                audit.outcome = rejection.code.as_str().to_owned();
                audit.message = format!("{context}{}", rejection.message);
                self.ledger.record_rejection(&audit).await?;
                Err(VerifyError::Rejected(rejection))
            }
            Err(Stop::Store(e)) => Err(VerifyError::Store(e)),
        }
    }

    async fn admit(&self, decision: &[u8], now: &UtcTime, audit: &mut AuditRecord) -> Result<Admitted, Stop> {
        let signed = parse_decision(decision, audit)?;
        let statement = &signed.decision.statement;
        check_not_ahead(self.policy, &statement.signed_at, now)?;
        let approver = self.registered_approver(&statement.approver).await?;
        if approver.groups.is_empty() {
            return Err(Rejection::new(
                Code::NotInGroup,
                format!("`{}` is not in any approver group", approver.name),
            )
            .into());
        }
        let credential = self
            .registered_credential(&approver.name, signed.decision.assertion.credential_id.as_bytes())
            .await?;
        check_assertion(self.policy, &signed, &credential)?;
        Ok(Admitted {
            approver: approver.name,
            verdict: statement.decision,
            credential_id: credential.credential_id,
            credential_label: credential.label,
            decision: signed.decision,
            execution: None,
        })
    }

    /// Rule 6: the credential, checked with what FIDO's metadata says of
    /// its model now (a model revoked after enrolment stops verifying).
    async fn registered_credential(&self, approver: &str, id: &[u8]) -> Result<CredentialRecord, Stop> {
        let credential = self.registry.credential(id).await?;
        let model = match &credential {
            Some(c) => self.registry.model(&c.aaguid).await?,
            None => None,
        };
        Ok(check_credential(
            self.policy,
            approver,
            credential,
            model.as_ref(),
        )?)
    }

    /// Rule 5's first half: the approver is in the registry.
    async fn registered_approver(&self, name: &str) -> Result<ApproverRecord, Stop> {
        match self.registry.approver(name).await? {
            Some(approver) => Ok(approver),
            None => Err(Rejection::new(
                Code::UnknownApprover,
                format!("`{name}` is not a registered approver"),
            )
            .into()),
        }
    }

    async fn run(
        &self,
        request: &[u8],
        decision: &[u8],
        now: &UtcTime,
        audit: &mut AuditRecord,
    ) -> Result<VerifiedDecision, Stop> {
        let (parsed, approver, credential) = self
            .rules_before_the_ledger(request, decision, now, audit)
            .await?;
        self.commit(parsed, approver, credential, now, audit).await
    }

    /// Rules 1 to 7 but for the counter: everything that needs no claim.
    async fn rules_before_the_ledger(
        &self,
        request: &[u8],
        decision: &[u8],
        now: &UtcTime,
        audit: &mut AuditRecord,
    ) -> Result<(Parsed, ApproverRecord, CredentialRecord), Stop> {
        // Rule 1: versions, shapes, sizes.
        let parsed = parse(request, decision, audit)?;
        let statement = &parsed.signed.decision.statement;
        // Rules 2 to 4 need nothing but the inputs.
        check_statement(self.policy, &parsed, now)?;
        // Rule 5: under the gate's policy, if an admin set one, else the
        // group the request names.
        let approver = self.registered_approver(&statement.approver).await?;
        match self.registry.gate_policy(&parsed.request.gate()).await? {
            Some(policy) => {
                policy
                    .admits(&parsed.request)
                    .map_err(|r| Rejection::new(Code::GatePolicyRefused, r.0))?;
                if !policy.rule.iter().any(|c| approver.groups.contains(&c.group)) {
                    return Err(Rejection::new(
                        Code::NotInGroup,
                        format!(
                            "`{}` is in none of this gate's groups ({})",
                            approver.name,
                            policy.describe()
                        ),
                    )
                    .into());
                }
            }
            None if !approver.groups.contains(&parsed.request.approvers) => {
                return Err(Rejection::new(
                    Code::NotInGroup,
                    format!(
                        "`{}` is not in the approver group `{}`",
                        approver.name, parsed.request.approvers
                    ),
                )
                .into());
            }
            None => {}
        }
        // Rule 6.
        let credential = self
            .registered_credential(
                &approver.name,
                parsed.signed.decision.assertion.credential_id.as_bytes(),
            )
            .await?;
        // Rule 7, but for the counter, which the commit checks atomically.
        check_assertion(self.policy, &parsed.signed, &credential)?;
        Ok((parsed, approver, credential))
    }

    /// Rules 7 (counter), 8 and 9, and 10 for the passing case: one
    /// conditional write.
    async fn commit(
        &self,
        parsed: Parsed,
        approver: ApproverRecord,
        credential: CredentialRecord,
        now: &UtcTime,
        audit: &mut AuditRecord,
    ) -> Result<VerifiedDecision, Stop> {
        let statement = &parsed.signed.decision.statement;

        let verified = Verified {
            execution: parsed.request.execution.clone(),
            request_sha256: parsed.request_hash,
            approver: approver.name.clone(),
            verdict: statement.decision,
            reason: statement.reason.clone(),
            reason_code: statement.reason_code,
            signed_at: statement.signed_at.clone(),
            credential_id: credential.credential_id.clone(),
            credential_label: credential.label.clone(),
            authenticator: credential.kind,
            aaguid: credential.aaguid,
            user_verified: parsed.signed.auth_data.flags.user_verified(),
            counter: parsed.signed.auth_data.sign_count,
            verified_at: now.clone(),
            decision: parsed.signed.decision.clone(),
        };
        audit.outcome = "accepted".to_owned();
        audit.message = format!(
            "{}{} by {} with credential `{}`",
            statement.decision.as_str(),
            match statement.reason_code {
                Some(ReasonCode::Unexpected) => " (unexpected: the approver did not expect this request)",
                None => "",
            },
            approver.name,
            credential.label
        );
        let use_ = CredentialUse {
            credential_id: credential.credential_id.clone(),
            new_counter: parsed.signed.auth_data.sign_count,
            statement: parsed.signed.challenge,
            request_sha256: parsed.request_hash,
            approver: approver.name.clone(),
            claims_expire: parsed.request.deadline(),
            used_at: now.clone(),
            audit: audit.clone(),
        };
        if let Err(conflict) = self.ledger.commit(&use_).await? {
            return Err(
                conflict_rejection(conflict, &approver.name, parsed.signed.auth_data.sign_count).into(),
            );
        }
        Ok(match statement.decision {
            Verdict::Approve => VerifiedDecision::Approve(VerifiedApproval(verified)),
            Verdict::Deny => VerifiedDecision::Deny(VerifiedDenial(verified)),
        })
    }
}

/// Rules 7 (counter), 8 and 9 as the ledger found them broken.
fn conflict_rejection(conflict: UseConflict, approver: &str, counter: u32) -> Rejection {
    match conflict {
        UseConflict::StatementUsed => Rejection::new(
            Code::StatementReplayed,
            "this statement was already verified once; sign a new decision",
        ),
        UseConflict::ApproverAlreadyDecided => Rejection::new(
            Code::DuplicateApprover,
            format!("`{approver}` already decided this request; a quorum needs distinct approvers"),
        ),
        UseConflict::CounterNotIncreased { stored } => Rejection::new(
            Code::CounterRegression,
            format!(
                "signature counter {counter} is not above the stored {stored}: the authenticator may be cloned"
            ),
        ),
    }
}

fn wire_rejection(e: &WireError, malformed: Code) -> Rejection {
    let code = match e.kind() {
        WireErrorKind::UnsupportedVersion => Code::UnsupportedVersion,
        WireErrorKind::TooLarge => Code::FieldTooLarge,
        WireErrorKind::Base64 => Code::MalformedBase64,
        WireErrorKind::Time => Code::MalformedTime,
        _ => malformed,
    };
    Rejection::new(code, e.to_string())
}

fn webauthn_rejection(e: WebauthnError) -> Rejection {
    let code = match &e {
        WebauthnError::Cbor(_) => Code::MalformedCbor,
        WebauthnError::ClientData(_) => Code::MalformedClientData,
        WebauthnError::UnsupportedAlgorithm(_) => Code::UnsupportedAlgorithm,
        WebauthnError::BadSignature => Code::BadSignature,
        WebauthnError::AuthenticatorData(_) | WebauthnError::Attestation(_) => {
            Code::MalformedAuthenticatorData
        }
    };
    Rejection::new(code, e.to_string())
}

/// Rule 1, filling in the audit record as far as the inputs allow.
fn parse(request: &[u8], decision: &[u8], audit: &mut AuditRecord) -> Result<Parsed, Rejection> {
    let request = Request::from_json(request).map_err(|e| wire_rejection(&e, Code::MalformedRequest))?;
    let request_hash =
        request_sha256(&request).map_err(|e| Rejection::new(Code::MalformedRequest, e.to_string()))?;
    audit.execution = Some(request.execution.clone());
    audit.request_sha256 = Some(request_hash);
    audit.requested_by = Some(request.requested_by.clone());
    audit.requester_verified = Some(request.requester_verified());
    let signed = parse_decision(decision, audit)?;
    Ok(Parsed {
        request,
        request_hash,
        signed,
    })
}

/// Rule 1 for the decision alone.
fn parse_decision(decision: &[u8], audit: &mut AuditRecord) -> Result<Signed, Rejection> {
    let decision = Decision::from_json(decision).map_err(|e| wire_rejection(&e, Code::MalformedDecision))?;
    let challenge = statement_challenge(&decision.statement)
        .map_err(|e| Rejection::new(Code::MalformedDecision, e.to_string()))?;
    audit.approver = Some(decision.statement.approver.clone());
    audit.verdict = Some(decision.statement.decision);
    audit.credential_id = Some(decision.assertion.credential_id.clone());
    audit.statement_challenge = Some(challenge);

    let auth_data = AuthenticatorData::parse(decision.assertion.authenticator_data.as_bytes())
        .map_err(webauthn_rejection)?;
    if auth_data.attested_credential.is_some() {
        return reject(
            Code::MalformedAuthenticatorData,
            "an assertion's authenticator data must not carry attested credential data",
        );
    }
    let client_data =
        ClientData::parse(decision.assertion.client_data_json.as_bytes()).map_err(webauthn_rejection)?;
    Ok(Signed {
        decision,
        challenge,
        auth_data,
        client_data,
    })
}

/// Rules 2, 3 and 4.
fn check_statement(policy: &VerifierPolicy, parsed: &Parsed, now: &UtcTime) -> Result<(), Rejection> {
    let statement = &parsed.signed.decision.statement;
    let request = &parsed.request;
    if statement.request_sha256 != parsed.request_hash {
        return reject(
            Code::RequestMismatch,
            "the decision was signed for a different request (edited content, another request, or another visit of the gate)",
        );
    }
    if statement.signed_at < request.created {
        return reject(
            Code::SignedBeforeRequest,
            format!(
                "signed at {} but the request was created at {}",
                statement.signed_at, request.created
            ),
        );
    }
    let deadline = request.deadline();
    if statement.signed_at > deadline {
        return reject(
            Code::RequestExpired,
            format!(
                "signed at {} but the request expired at {deadline}",
                statement.signed_at
            ),
        );
    }
    check_not_ahead(policy, &statement.signed_at, now)?;
    // Only an approval: a denial by the person a workflow names as its
    // requester is how they say they did not ask for it.
    if !policy.allow_self_approval
        && statement.decision == Verdict::Approve
        && let Some(requester) = asked_by(request, &statement.approver)
    {
        return reject(
            Code::SelfApproval,
            format!("`{requester}` requested this and cannot also decide it"),
        );
    }
    Ok(())
}

/// The requester's name `approver` is, if they asked for `request`
/// themselves (the self-approval rule, which clients apply too, to tell
/// the requester before they try). Names compared as identities:
/// `Alice@Example.com` or a zero-width space does not make the requester
/// someone else. Both the claimed requester and the one AWS proved count:
/// a pipeline's claim cannot hide the person who really asked; and the
/// proven requester's session or user name counts too: a person who asks
/// under another role (shown by the role) is still that person.
pub fn asked_by<'a>(request: &'a Request, approver: &str) -> Option<&'a str> {
    let approver = tapprove_proto::text::canonical_principal(approver);
    std::iter::once(request.requested_by.as_str())
        .chain(proven_names(request))
        .find(|requester| approver == tapprove_proto::text::canonical_principal(requester))
}

/// Whether AWS proved `approver` asked for `request` (its proven person,
/// or its principal's session or user name), not only the workflow's
/// claim.
pub fn proven_asker(request: &Request, approver: &str) -> bool {
    let approver = tapprove_proto::text::canonical_principal(approver);
    proven_names(request).any(|requester| approver == tapprove_proto::text::canonical_principal(requester))
}

fn proven_names(request: &Request) -> impl Iterator<Item = &str> {
    request
        .requester
        .as_ref()
        .and_then(|r| r.person.as_deref())
        .into_iter()
        .chain(
            request
                .requester
                .as_ref()
                .map(tapprove_proto::Requester::principal_name),
        )
}

/// Rule 3's last part: not signed ahead of the verifier's clock.
fn check_not_ahead(policy: &VerifierPolicy, signed_at: &UtcTime, now: &UtcTime) -> Result<(), Rejection> {
    if signed_at.unix_seconds() > now.unix_seconds().saturating_add(policy.max_clock_skew_seconds) {
        return reject(
            Code::SignedInFuture,
            format!(
                "signed at {signed_at}, more than {} s ahead of the verifier's clock ({now}); check the approver's clock",
                policy.max_clock_skew_seconds
            ),
        );
    }
    Ok(())
}

/// The audit record of one call, before any rule ran.
fn audit_record(decision: &[u8], now: &UtcTime) -> AuditRecord {
    AuditRecord {
        at: now.clone(),
        outcome: String::new(),
        message: String::new(),
        execution: None,
        request_sha256: None,
        requested_by: None,
        requester_verified: None,
        approver: None,
        verdict: None,
        credential_id: None,
        statement_challenge: None,
        decision: (decision.len() <= MAX_DECISION_BYTES)
            .then(|| String::from_utf8(decision.to_vec()).ok())
            .flatten(),
    }
}

/// Rule 6: `credential` is registered to `approver`, active, and of a
/// model the policy allows; `model` is what FIDO's metadata says of its
/// model today, if the org imported it and it lists the model.
pub fn check_credential(
    policy: &VerifierPolicy,
    approver: &str,
    credential: Option<CredentialRecord>,
    model: Option<&tapprove_proto::metadata::ModelRecord>,
) -> Result<CredentialRecord, Rejection> {
    let Some(credential) = credential else {
        return reject(
            Code::UnknownCredential,
            "no registered credential has this id; enrol the authenticator first",
        );
    };
    if credential.owner != approver {
        return reject(
            Code::CredentialOfAnotherUser,
            format!("the credential belongs to another user than `{approver}`"),
        );
    }
    match credential.status {
        CredentialStatus::Active => {}
        CredentialStatus::Pending => {
            return reject(
                Code::CredentialNotActive,
                format!(
                    "credential `{}` is pending: confirm it with an active authenticator or ask an admin",
                    credential.label
                ),
            );
        }
        CredentialStatus::Revoked => {
            return reject(
                Code::CredentialNotActive,
                format!("credential `{}` is revoked", credential.label),
            );
        }
    }
    if credential.kind == AuthenticatorKind::Software && !policy.allow_software_authenticators {
        return reject(
            Code::AuthenticatorNotAllowed,
            "the org policy does not accept software authenticators; enrol a security key or platform authenticator",
        );
    }
    // Where a rule depends on the model, a model the authenticator only
    // claimed at enrolment does not count (a software key can claim any).
    if policy.has_model_rule() && !policy.accept_self_reported_models && !credential.model_proven {
        return reject(
            Code::AuthenticatorNotAllowed,
            format!(
                "credential `{}` only claims to be model {}: the org's rules on authenticator models count a model only when its attestation chained to a trusted root at enrolment. Enrol it again once the org trusts its vendor's root; an admin can accept claimed models (`accept_self_reported_models`, the stack's AcceptSelfReportedModels)",
                credential.label, credential.aaguid
            ),
        );
    }
    if let Some(allowed) = &policy.allowed_aaguids
        && !allowed.contains(&credential.aaguid)
    {
        return reject(
            Code::AuthenticatorNotAllowed,
            format!(
                "authenticator model {} is not on the org's allow-list",
                credential.aaguid
            ),
        );
    }
    if let Some(allowed) = &policy.allowed_kinds
        && !allowed.contains(&credential.kind)
    {
        return reject(
            Code::AuthenticatorNotAllowed,
            format!(
                "credential `{}` is a {} authenticator; the org accepts only {}",
                credential.label,
                credential.kind.as_str(),
                crate::enrolment::kinds(allowed)
            ),
        );
    }
    // FIDO's word today, not at enrolment: a model revoked since stops
    // verifying, and the audit record says why.
    let model = model.filter(|m| m.aaguid == credential.aaguid);
    if let Some(refusal) = model.and_then(crate::enrolment::distrusted) {
        return reject(
            Code::AuthenticatorNotAllowed,
            format!("credential `{}` no longer verifies: {refusal}", credential.label),
        );
    }
    if let Some(required) = policy.min_certification_level
        && let Err(refusal) = crate::enrolment::check_level(required, credential.aaguid, model)
    {
        return reject(
            Code::AuthenticatorNotAllowed,
            format!("credential `{}`: {refusal}", credential.label),
        );
    }
    Ok(credential)
}

/// Rule 7 (W3C WebAuthn Level 3, section 7.2, steps 11 to 21), except the
/// counter, which the ledger checks atomically with the commit.
fn check_assertion(
    policy: &VerifierPolicy,
    parsed: &Signed,
    credential: &CredentialRecord,
) -> Result<(), Rejection> {
    let assertion = &parsed.decision.assertion;
    check_parsed_assertion(
        policy,
        &parsed.client_data,
        &parsed.auth_data,
        &AssertionParts {
            challenge: &parsed.challenge,
            authenticator_data: assertion.authenticator_data.as_bytes(),
            client_data_json: assertion.client_data_json.as_bytes(),
            signature: assertion.signature.as_bytes(),
        },
        credential,
    )
}

/// One WebAuthn assertion as it was signed, and the challenge it must
/// carry.
#[derive(Debug, Clone, Copy)]
pub struct AssertionParts<'a> {
    pub challenge: &'a Sha256Digest,
    pub authenticator_data: &'a [u8],
    pub client_data_json: &'a [u8],
    pub signature: &'a [u8],
}

/// Rule 7 (but the counter) for any assertion of `credential`: the
/// decision path's rules, for other ceremonies that a registered
/// credential confirms (a user's active key confirming their new one).
/// Answers the authenticator data it parsed.
pub fn check_assertion_parts(
    policy: &VerifierPolicy,
    parts: &AssertionParts<'_>,
    credential: &CredentialRecord,
) -> Result<AuthenticatorData, Rejection> {
    let auth_data = AuthenticatorData::parse(parts.authenticator_data).map_err(webauthn_rejection)?;
    if auth_data.attested_credential.is_some() {
        return reject(
            Code::MalformedAuthenticatorData,
            "an assertion's authenticator data must not carry attested credential data",
        );
    }
    let client = ClientData::parse(parts.client_data_json).map_err(webauthn_rejection)?;
    check_parsed_assertion(policy, &client, &auth_data, parts, credential)?;
    Ok(auth_data)
}

fn check_parsed_assertion(
    policy: &VerifierPolicy,
    client: &ClientData,
    auth_data: &AuthenticatorData,
    parts: &AssertionParts<'_>,
    credential: &CredentialRecord,
) -> Result<(), Rejection> {
    if client.kind != WEBAUTHN_GET {
        return reject(
            Code::WrongClientDataType,
            format!(
                "clientDataJSON type is `{}`, expected `{WEBAUTHN_GET}`",
                client.kind
            ),
        );
    }
    let challenge_matches = URL_SAFE_NO_PAD
        .decode(&client.challenge)
        .is_ok_and(|c| c == parts.challenge.as_bytes());
    if !challenge_matches {
        return reject(
            Code::ChallengeMismatch,
            "the signed challenge is not the hash of this statement: the statement was changed after signing",
        );
    }
    if !policy.origin_allowed(&client.origin) {
        return reject(
            Code::OriginNotAllowed,
            format!(
                "origin `{}` is not allowed; expected `{}`",
                client.origin,
                crate::canonical::origin_for(&policy.rp_id)
            ),
        );
    }
    if client.cross_origin == Some(true) {
        return reject(
            Code::CrossOrigin,
            "the assertion was made in a cross-origin frame",
        );
    }
    if auth_data.rp_id_hash != sha256(policy.rp_id.as_bytes()) {
        return reject(
            Code::RpIdMismatch,
            format!(
                "the authenticator signed for another relying party than `{}`",
                policy.rp_id
            ),
        );
    }
    if !auth_data.flags.user_present() {
        return reject(
            Code::UserNotPresent,
            "the authenticator did not confirm user presence (no touch)",
        );
    }
    if policy.require_user_verification && !auth_data.flags.user_verified() {
        return reject(
            Code::UserNotVerified,
            "the org requires user verification (PIN or biometrics) and the authenticator did not perform it",
        );
    }
    let key = CoseKey::parse(credential.public_key.as_bytes()).map_err(webauthn_rejection)?;
    let mut message = parts.authenticator_data.to_vec();
    message.extend_from_slice(&sha256(parts.client_data_json));
    key.verify(&message, parts.signature).map_err(webauthn_rejection)
}

/// Counts verified approvals towards a request's quorum (rule 9): distinct
/// approvers only, and only approvals of that request.
#[derive(Debug, Clone)]
pub struct QuorumTally {
    request_sha256: Sha256Digest,
    quorum: u32,
    approvals: Vec<VerifiedApproval>,
}

impl QuorumTally {
    pub fn new(request_sha256: Sha256Digest, quorum: u32) -> Self {
        Self {
            request_sha256,
            quorum,
            approvals: Vec::new(),
        }
    }

    /// Adds an approval; refuses another request's approval or a second one
    /// by the same approver.
    pub fn add(&mut self, approval: VerifiedApproval) -> Result<(), Rejection> {
        if approval.request_sha256() != &self.request_sha256 {
            return reject(Code::RequestMismatch, "the approval is for another request");
        }
        if self.approvals.iter().any(|a| a.approver() == approval.approver()) {
            return reject(
                Code::DuplicateApprover,
                format!(
                    "`{}` already approved; a quorum needs distinct approvers",
                    approval.approver()
                ),
            );
        }
        self.approvals.push(approval);
        Ok(())
    }

    pub fn is_met(&self) -> bool {
        self.approvals.len() >= self.quorum as usize
    }

    pub fn approvals(&self) -> &[VerifiedApproval] {
        &self.approvals
    }
}
