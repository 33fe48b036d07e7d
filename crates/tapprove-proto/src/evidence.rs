//! An evidence bundle (`evidence/v1`): everything one gate execution's
//! outcome rests on, for an auditor to verify offline with
//! `tapprove verify --evidence`, no AWS and no Tapprove server needed.
//!
//! What it holds: the request as the gate held it; every verification the
//! gate's verifier recorded (each decision as it arrived, counted or
//! refused); for each person who signed, their groups and the admin
//! changes that gave them, their credentials (public key, status,
//! enrolment records with the AWS identity that enrolled them, and the
//! registration itself, so its attestation can be checked again); the
//! gate's policy and the verifier's settings at export. The format is
//! documented in `docs/evidence.md`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bytes::{Aaguid, Base64Url};
use crate::gate_policy::GatePolicy;
use crate::metadata::CertificationLevel;
use crate::registry::{AttestationRecord, AuthenticatorKind, CredentialStatus};
use crate::time::UtcTime;

crate::version_tag!(
    /// The version tag of an evidence bundle: always `evidence/v1`.
    EvidenceVersion = "evidence/v1"
);

/// The in-toto predicate type of Tapprove's evidence.
pub const PREDICATE_TYPE: &str = "https://tapprove.dev/evidence/v1";
/// in-toto's Statement type, version 1.
pub const IN_TOTO_STATEMENT: &str = "https://in-toto.io/Statement/v1";
/// The request detail that names an artifact's SHA-256 (64 lowercase hex
/// digits): it becomes a subject of the in-toto statement.
pub const ARTIFACT_SHA256_DETAIL: &str = "artifact_sha256";
/// The request detail that names that artifact (the subject's `name`).
pub const ARTIFACT_NAME_DETAIL: &str = "artifact";

/// One execution's evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    pub tapprove: EvidenceVersion,
    /// When it was exported, and by whom (the exporter's AWS identity as
    /// STS named it): the bundle's claims about people come from the
    /// registry as read then.
    pub exported_at: UtcTime,
    pub exported_by: String,
    /// The gate execution (ARN) and its status at export
    /// (`SUCCEEDED`, `FAILED`, `RUNNING`, ...).
    pub execution: String,
    pub execution_status: String,
    /// The request (`request/v1`) as the gate held it.
    pub request: Value,
    /// The verifier's settings at export.
    pub policy: EvidencePolicy,
    /// The gate's policy at export; absent, the request's own group and
    /// quorum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_policy: Option<GatePolicy>,
    /// Every change an admin made to the gate's policy (`gate_policy_set`,
    /// with the `policy`, `at` and the admin's identity): the policy in
    /// force at any moment is replayed from these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gate_policy_events: Vec<Value>,
    /// Every record the verifier wrote for the execution, in its order:
    /// each verification (its `decision` as it arrived, its `outcome`), and
    /// the request endpoint's record of who asked.
    pub audit: Vec<Value>,
    /// Each person a decision named, by approver name.
    pub approvers: BTreeMap<String, EvidenceApprover>,
}

/// The verifier settings the decisions were judged under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidencePolicy {
    pub rp_id: String,
    #[serde(default)]
    pub extra_origins: Vec<String>,
    pub require_user_verification: bool,
    pub allow_self_approval: bool,
    pub allow_software_authenticators: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_aaguids: Option<BTreeSet<Aaguid>>,
    pub accept_self_reported_models: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_certification_level: Option<CertificationLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_kinds: Option<BTreeSet<AuthenticatorKind>>,
    pub max_clock_skew_seconds: i64,
}

/// A person who decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceApprover {
    /// Their groups at export.
    pub groups: BTreeSet<String>,
    /// Every admin change to them (`granted`, `ungranted`, registrations
    /// ...), each with the admin's AWS identity and time: their group
    /// membership at any moment is replayed from these.
    pub admin_events: Vec<Value>,
    /// Their own credential events (`enrolled`, `revoked`, ...), with the
    /// AWS identity that made each.
    pub credential_events: Vec<Value>,
    pub credentials: Vec<EvidenceCredential>,
}

/// A credential that signed a decision of the execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceCredential {
    pub credential_id: Base64Url,
    /// COSE_Key bytes.
    pub public_key: Base64Url,
    pub aaguid: Aaguid,
    pub kind: AuthenticatorKind,
    pub label: String,
    /// Its status at export.
    pub status: CredentialStatus,
    pub model_proven: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<AttestationRecord>,
    /// The registration as the authenticator made it, when the registry
    /// kept it (credentials enrolled since Tapprove records it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<Registration>,
}

/// A credential's registration: what `navigator.credentials.create`
/// answered, checked again offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    pub attestation_object: Base64Url,
    pub client_data_json: Base64Url,
    /// When the service checked it.
    pub at: UtcTime,
}

impl Evidence {
    /// Parses a bundle, or an in-toto Statement carrying one as its
    /// predicate.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
        let bundle = if value["_type"] == IN_TOTO_STATEMENT {
            if value["predicateType"] != PREDICATE_TYPE {
                return Err(format!(
                    "an in-toto statement whose predicate is not Tapprove's evidence ({PREDICATE_TYPE})"
                ));
            }
            value["predicate"].clone()
        } else {
            value
        };
        serde_json::from_value(bundle)
            .map_err(|e| format!("not a Tapprove evidence bundle (evidence/v1): {e}"))
    }
}
