//! The enrolment service: a new credential enters the registry under the
//! AWS identity of the caller, never under a name the client claims.
//!
//! One submission ([`EnrolmentRequest`] with its presigned identity) goes
//! through: the wire checks, the relying-party id, the caller's identity
//! ([`CallerCheck`]), the name the client believes it has against that
//! identity, the attestation and the org's authenticator policy
//! ([`check_new_credential`]), and then one conditional write: the user's
//! first credential becomes active (trust on first use), a further one
//! stays pending until an admin confirms it (`tapprove admin credentials
//! USER --activate ID`), and with `require_admin` every one stays pending.
//! Every enrolment is recorded in the audit table under the user.

use serde::Serialize;
use serde_json::json;
use tapprove_aws::dynamodb::{DynamoRegistry, EnrolConflict, TableNames};
use tapprove_core::VerifierPolicy;
use tapprove_core::enrolment::check_new_credential;
use tapprove_proto::UtcTime;
use tapprove_proto::enrolment::{EnrolmentReceipt, EnrolmentRequest, EnrolmentStatus};
use tapprove_proto::registry::CredentialStatus;

use crate::identity::CallerCheck;

/// Why an enrolment was refused: an HTTP status, a stable code and a
/// message that says what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnrolError {
    #[serde(skip)]
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl EnrolError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "bad_request", message)
    }

    pub(crate) fn identity(message: impl Into<String>) -> Self {
        Self::new(403, "identity_refused", message)
    }

    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Self::new(502, "upstream_unavailable", message)
    }
}

impl std::fmt::Display for EnrolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for EnrolError {}

/// The enrolment service over one registry.
#[derive(Debug, Clone)]
pub struct EnrolService {
    pub rp_id: String,
    pub policy: VerifierPolicy,
    /// Every enrolment waits for an admin, even the first.
    pub require_admin: bool,
    pub registry: DynamoRegistry,
    pub caller: CallerCheck,
}

impl EnrolService {
    /// The service the settings describe, checking identities against the
    /// STS endpoint of `aws` (the standard chain: `AWS_ENDPOINT_URL_STS`,
    /// `AWS_ENDPOINT_URL`, or the region's endpoint).
    pub fn from_config(
        aws: &aws_config::SdkConfig,
        config: &tapprove_config::Config,
    ) -> Result<Self, String> {
        let endpoint = tapprove_aws::sts::endpoint(aws).map_err(|e| e.to_string())?;
        Ok(Self {
            rp_id: config.rp_id.clone(),
            policy: config.policy(),
            require_admin: config.enrolment.as_ref().is_some_and(|e| e.require_admin),
            registry: DynamoRegistry::new(aws, TableNames::from(&config.tables)),
            caller: CallerCheck::new(&endpoint, &config.rp_id)?,
        })
    }

    /// Handles one submission (the request body) at `now`.
    pub async fn enrol(&self, body: &[u8], now: &UtcTime) -> Result<EnrolmentReceipt, EnrolError> {
        let request =
            EnrolmentRequest::from_json(body).map_err(|e| EnrolError::bad_request(e.to_string()))?;
        if request.rp_id != self.rp_id {
            return Err(EnrolError::bad_request(format!(
                "the credential is for `{}`, this service enrols for `{}`: check the relying-party id in your settings",
                request.rp_id, self.rp_id
            )));
        }
        let identity = request.identity.as_ref().ok_or_else(|| {
            EnrolError::new(
                401,
                "identity_required",
                "the request carries no identity proof: enrol with `tapprove enroll` while signed in to AWS",
            )
        })?;
        let caller = self.caller.caller(identity, now).await?;
        let user = caller.approver().ok_or_else(|| {
            EnrolError::identity(format!(
                "{} is not a user or an assumed-role session: enrol as yourself, not as the account root",
                caller.arn
            ))
        })?;
        if request.user != user {
            return Err(EnrolError::identity(format!(
                "the credential was made for `{}`, but you are signed in as `{user}`: create it again while signed in as yourself",
                request.user
            )));
        }
        let checked = check_new_credential(
            &self.policy,
            request.challenge.as_bytes(),
            request.client_data_json.as_bytes(),
            request.attestation_object.as_bytes(),
            request.credential_id.as_bytes(),
        )
        .map_err(|e| EnrolError::new(422, "attestation_refused", e.to_string()))?;
        let attestation = format!("{:?}", checked.attestation);
        let record = checked.into_record(user, &request.label, CredentialStatus::Pending);
        let status = match self
            .registry
            .enrol(&record, now, !self.require_admin)
            .await
            .map_err(|e| EnrolError::new(503, "registry_unavailable", e.to_string()))?
        {
            Ok(CredentialStatus::Active) => EnrolmentStatus::Active,
            Ok(_) => EnrolmentStatus::Pending,
            Err(EnrolConflict::AlreadyRegistered | EnrolConflict::NotFirst) => {
                return Err(EnrolError::new(
                    409,
                    "already_registered",
                    "this credential is already registered: nothing to do",
                ));
            }
        };
        let audit = json!({
            "event": "enrolled",
            "at": now.as_str(),
            "user": user,
            "caller_arn": caller.arn,
            "account": caller.account,
            "credential_id": record.credential_id,
            "label": record.label,
            "kind": record.kind,
            "aaguid": record.aaguid.to_string(),
            "attestation": attestation,
            "status": status,
        });
        if let Err(e) = self
            .registry
            .audit_enrolment(user, &record.credential_id, now, &audit)
            .await
        {
            // The credential is stored; losing its audit line must not go
            // unnoticed, but it is not a reason to pretend it failed.
            eprintln!("tapprove-verifier: enrolment of {user} stored, audit record failed: {e}");
        }
        eprintln!(
            "tapprove-verifier: enrolled `{}` for {user} ({})",
            record.label,
            match status {
                EnrolmentStatus::Active => "active",
                EnrolmentStatus::Pending => "pending an admin",
            }
        );
        Ok(EnrolmentReceipt {
            user: user.to_owned(),
            credential_id: record.credential_id,
            label: record.label,
            status,
        })
    }
}
