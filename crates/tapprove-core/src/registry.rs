//! What the verifier reads and writes: approvers and their credentials
//! ([`Registry`]), and the single-use, counter and audit writes
//! ([`Ledger`]).
//!
//! Both are traits so that the verifier stays free of IO: the live
//! implementation is DynamoDB, the offline one [`MemoryRegistry`] (built
//! from a registry file). A [`Ledger::commit`] must be one atomic
//! conditional write (a DynamoDB transaction): the statement is claimed, the
//! approver's vote on the request is claimed and the counter advances
//! together, or none of it happens, so two racing verifications can never
//! both pass.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::{Mutex, PoisonError};

use serde::Serialize;
use tapprove_proto::metadata::ModelRecord;
use tapprove_proto::registry::{
    AuthenticatorKind, CredentialEntry, CredentialStatus, RegistryFile, UserEntry,
};
use tapprove_proto::{Aaguid, Base64Url, Sha256Digest, UtcTime, Verdict};

use crate::error::{Code, StoreError};

/// An approver as the registry knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApproverRecord {
    pub name: String,
    pub groups: BTreeSet<String>,
}

/// A registered credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRecord {
    pub credential_id: Base64Url,
    /// The approver it belongs to.
    pub owner: String,
    /// COSE_Key bytes.
    pub public_key: Base64Url,
    pub counter: u32,
    pub aaguid: Aaguid,
    pub kind: AuthenticatorKind,
    pub status: CredentialStatus,
    pub label: String,
    /// Whether `aaguid` (and so `kind`) was proven at enrolment by an
    /// attestation chain to a root the org trusted; `false`: the
    /// authenticator's own claim. Rules on the model count only proven ones.
    pub model_proven: bool,
    /// What its attestation was checked against at enrolment (absent for
    /// credentials enrolled before Tapprove recorded it).
    pub attestation: Option<tapprove_proto::registry::AttestationRecord>,
}

/// What the request endpoint recorded before it started an execution: who
/// AWS said asked, and the SHA-256 (hex) of the canonical input it started
/// the gate with ([`tapprove_proto::Request::input`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequesterRecord {
    pub requester: tapprove_proto::Requester,
    pub input_sha256: String,
    /// When the endpoint recorded it, just before it started the
    /// execution: the gate vouches only for an execution created right
    /// after (Step Functions lets a name be used again 90 days after its
    /// execution closed).
    pub requested_at: UtcTime,
}

/// Read access to approvers and credentials.
pub trait Registry: Sync {
    fn approver(&self, name: &str)
    -> impl Future<Output = Result<Option<ApproverRecord>, StoreError>> + Send;
    fn credential(
        &self,
        id: &[u8],
    ) -> impl Future<Output = Result<Option<CredentialRecord>, StoreError>> + Send;
    /// The policy of the gate `gate` (the state machine's name), if an
    /// admin set one.
    fn gate_policy(
        &self,
        gate: &str,
    ) -> impl Future<Output = Result<Option<tapprove_proto::gate_policy::GatePolicy>, StoreError>> + Send;
    /// Who the request endpoint recorded as the requester of `execution`
    /// (an execution ARN), if it started that execution.
    fn requester(
        &self,
        execution: &str,
    ) -> impl Future<Output = Result<Option<RequesterRecord>, StoreError>> + Send;
    /// What the FIDO metadata the org imported says of the model `aaguid`,
    /// if it lists it.
    fn model(&self, aaguid: &Aaguid) -> impl Future<Output = Result<Option<ModelRecord>, StoreError>> + Send;
}

/// The writes of a passed verification, applied all or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialUse {
    pub credential_id: Base64Url,
    /// The counter the assertion reported. Condition: the stored counter is
    /// lower, or both are zero.
    pub new_counter: u32,
    /// The statement's challenge. Condition: never claimed before.
    pub statement: Sha256Digest,
    /// With `approver`: condition that this approver has not decided this
    /// request before.
    pub request_sha256: Sha256Digest,
    pub approver: String,
    /// When the claims may be forgotten (a TTL): after the request's
    /// deadline no statement for it verifies anyway.
    pub claims_expire: UtcTime,
    pub used_at: UtcTime,
    /// Written in the same transaction.
    pub audit: AuditRecord,
}

/// Which condition of a [`CredentialUse`] failed. When several did, the most
/// specific is reported: a replayed statement before a repeated approver
/// before a counter regression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseConflict {
    StatementUsed,
    ApproverAlreadyDecided,
    CounterNotIncreased { stored: u32 },
}

/// Durable writes: claims, counters, audit.
pub trait Ledger: Sync {
    /// Applies `use_` atomically if every condition holds.
    fn commit(
        &self,
        use_: &CredentialUse,
    ) -> impl Future<Output = Result<Result<(), UseConflict>, StoreError>> + Send;
    /// Appends the audit record of a refused verification.
    fn record_rejection(&self, audit: &AuditRecord) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Reads, without claiming, whether the statement `statement` was
    /// verified before or `approver` already decided `request_sha256`: the
    /// decision endpoint's check before it sends a result (the gate's
    /// verifier then claims both atomically).
    fn used(
        &self,
        statement: &Sha256Digest,
        request_sha256: &Sha256Digest,
        approver: &str,
    ) -> impl Future<Output = Result<Option<UseConflict>, StoreError>> + Send;
}

/// One verification, passed or failed: the evidence an auditor reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// The verifier's clock when it decided.
    pub at: UtcTime,
    /// `accepted`, or the rejection code.
    pub outcome: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
    /// Hash of the request the workflow holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_sha256: Option<Sha256Digest>,
    /// Who the request says asked, and whether an AWS identity proved it
    /// (not yet: always false, so the record says the name is claimed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<Base64Url>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement_challenge: Option<Sha256Digest>,
    /// The decision as received (when it was valid UTF-8 within the size
    /// limit), so the verification can be repeated later from the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
}

impl AuditRecord {
    /// The record of something the gate refused about `request` itself
    /// (no decision involved): its policy, or a task result that was no
    /// decision (`decision`: what arrived, if anything).
    pub fn of_request(
        request: &tapprove_proto::Request,
        now: &UtcTime,
        outcome: &str,
        message: String,
        decision: Option<String>,
    ) -> Self {
        Self {
            at: now.clone(),
            outcome: outcome.to_owned(),
            message,
            execution: Some(request.execution.clone()),
            request_sha256: crate::canonical::request_sha256(request).ok(),
            requested_by: Some(request.requested_by.clone()),
            requester_verified: Some(request.requester_verified()),
            approver: None,
            verdict: None,
            credential_id: None,
            statement_challenge: None,
            decision,
        }
    }

    pub fn outcome_code(&self) -> Option<Code> {
        Code::parse(&self.outcome)
    }
}

/// An in-memory registry and ledger: for the offline CLI, for tests, and as
/// the reference the DynamoDB implementation is checked against.
#[derive(Debug, Default)]
pub struct MemoryRegistry {
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    approvers: BTreeMap<String, BTreeSet<String>>,
    credentials: HashMap<Vec<u8>, CredentialRecord>,
    statements: HashSet<Sha256Digest>,
    votes: HashSet<(Sha256Digest, String)>,
    audit: Vec<AuditRecord>,
    gate_policies: BTreeMap<String, tapprove_proto::gate_policy::GatePolicy>,
    requesters: BTreeMap<String, RequesterRecord>,
    models: BTreeMap<Aaguid, ModelRecord>,
}

impl MemoryRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the policy of the gate `gate`.
    pub fn set_gate_policy(&self, gate: &str, policy: tapprove_proto::gate_policy::GatePolicy) {
        self.lock().gate_policies.insert(gate.to_owned(), policy);
    }

    /// Sets what FIDO's metadata says of each model (an import replaces
    /// the previous one).
    pub fn set_models(&self, models: impl IntoIterator<Item = ModelRecord>) {
        self.lock().models = models.into_iter().map(|m| (m.aaguid, m)).collect();
    }

    /// Records the proven requester of `execution`.
    pub fn set_requester(&self, execution: &str, record: RequesterRecord) {
        self.lock().requesters.insert(execution.to_owned(), record);
    }

    /// Loads approvers, groups and credentials from a registry file.
    pub fn from_file(file: &RegistryFile) -> Self {
        let registry = Self::new();
        for (name, user) in &file.users {
            registry.add_approver(name, user.groups.iter().cloned());
            for c in &user.credentials {
                registry.add_credential(CredentialRecord {
                    credential_id: c.credential_id.clone(),
                    owner: name.clone(),
                    public_key: c.public_key.clone(),
                    counter: c.counter,
                    aaguid: c.aaguid,
                    kind: c.authenticator,
                    status: c.status,
                    label: c.label.clone(),
                    model_proven: c.model_proven,
                    attestation: c.attestation.clone(),
                });
            }
        }
        registry
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        // A panic while holding the lock leaves plain data behind, still
        // consistent at the granularity of one method; keep serving.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds an approver (or adds groups to one).
    pub fn add_approver(&self, name: &str, groups: impl IntoIterator<Item = String>) {
        self.lock()
            .approvers
            .entry(name.to_owned())
            .or_default()
            .extend(groups);
    }

    /// Sets an approver's groups to exactly `groups` (replaying the
    /// registry's history).
    pub fn set_groups(&self, name: &str, groups: BTreeSet<String>) {
        self.lock().approvers.insert(name.to_owned(), groups);
    }

    pub fn add_credential(&self, record: CredentialRecord) {
        self.lock()
            .credentials
            .insert(record.credential_id.as_bytes().to_vec(), record);
    }

    pub fn set_status(&self, credential_id: &[u8], status: CredentialStatus) -> bool {
        self.lock()
            .credentials
            .get_mut(credential_id)
            .map(|c| c.status = status)
            .is_some()
    }

    /// Every audit record written so far, oldest first.
    pub fn audit_log(&self) -> Vec<AuditRecord> {
        self.lock().audit.clone()
    }

    /// The registry as a file (counters as they are now).
    pub fn to_file(&self, created: &UtcTime) -> RegistryFile {
        let state = self.lock();
        let mut users: BTreeMap<String, UserEntry> = state
            .approvers
            .iter()
            .map(|(name, groups)| {
                (
                    name.clone(),
                    UserEntry {
                        groups: groups.clone(),
                        credentials: Vec::new(),
                    },
                )
            })
            .collect();
        let mut credentials: Vec<&CredentialRecord> = state.credentials.values().collect();
        credentials.sort_by(|a, b| a.credential_id.cmp(&b.credential_id));
        for c in credentials {
            users
                .entry(c.owner.clone())
                .or_default()
                .credentials
                .push(CredentialEntry {
                    credential_id: c.credential_id.clone(),
                    public_key: c.public_key.clone(),
                    counter: c.counter,
                    aaguid: c.aaguid,
                    authenticator: c.kind,
                    label: c.label.clone(),
                    status: c.status,
                    created: created.clone(),
                    last_used: None,
                    model_proven: c.model_proven,
                    attestation: c.attestation.clone(),
                });
        }
        RegistryFile {
            tapprove: Default::default(),
            users,
        }
    }
}

impl Registry for MemoryRegistry {
    async fn approver(&self, name: &str) -> Result<Option<ApproverRecord>, StoreError> {
        Ok(self.lock().approvers.get(name).map(|groups| ApproverRecord {
            name: name.to_owned(),
            groups: groups.clone(),
        }))
    }

    async fn credential(&self, id: &[u8]) -> Result<Option<CredentialRecord>, StoreError> {
        Ok(self.lock().credentials.get(id).cloned())
    }

    async fn gate_policy(
        &self,
        gate: &str,
    ) -> Result<Option<tapprove_proto::gate_policy::GatePolicy>, StoreError> {
        Ok(self.lock().gate_policies.get(gate).cloned())
    }

    async fn requester(&self, execution: &str) -> Result<Option<RequesterRecord>, StoreError> {
        Ok(self.lock().requesters.get(execution).cloned())
    }

    async fn model(&self, aaguid: &Aaguid) -> Result<Option<ModelRecord>, StoreError> {
        Ok(self.lock().models.get(aaguid).cloned())
    }
}

impl Ledger for MemoryRegistry {
    async fn commit(&self, use_: &CredentialUse) -> Result<Result<(), UseConflict>, StoreError> {
        let mut state = self.lock();
        if state.statements.contains(&use_.statement) {
            return Ok(Err(UseConflict::StatementUsed));
        }
        let vote = (use_.request_sha256, use_.approver.clone());
        if state.votes.contains(&vote) {
            return Ok(Err(UseConflict::ApproverAlreadyDecided));
        }
        let Some(credential) = state.credentials.get_mut(use_.credential_id.as_bytes()) else {
            return Err(StoreError(format!(
                "credential {} vanished during verification",
                use_.credential_id
            )));
        };
        let stored = credential.counter;
        if !counter_advances(stored, use_.new_counter) {
            return Ok(Err(UseConflict::CounterNotIncreased { stored }));
        }
        credential.counter = use_.new_counter;
        state.statements.insert(use_.statement);
        state.votes.insert(vote);
        state.audit.push(use_.audit.clone());
        Ok(Ok(()))
    }

    async fn record_rejection(&self, audit: &AuditRecord) -> Result<(), StoreError> {
        self.lock().audit.push(audit.clone());
        Ok(())
    }

    async fn used(
        &self,
        statement: &Sha256Digest,
        request_sha256: &Sha256Digest,
        approver: &str,
    ) -> Result<Option<UseConflict>, StoreError> {
        let state = self.lock();
        if state.statements.contains(statement) {
            return Ok(Some(UseConflict::StatementUsed));
        }
        if state.votes.contains(&(*request_sha256, approver.to_owned())) {
            return Ok(Some(UseConflict::ApproverAlreadyDecided));
        }
        Ok(None)
    }
}

/// Rule 7's counter condition: strictly greater, unless both are zero
/// (authenticators without a counter, such as synced passkeys, always
/// report zero; single-use statements stop their replays instead).
pub fn counter_advances(stored: u32, new: u32) -> bool {
    new > stored || (stored == 0 && new == 0)
}
