//! Enrolment wire types: a new credential on its way to the registry.
//!
//! The client sends an [`EnrolmentRequest`]: the credential (public key in
//! the attestation object), its label, and, for the enrolment service, a
//! [`PresignedCallerIdentity`]: an `sts:GetCallerIdentity` request signed
//! with the caller's AWS credentials that the service replays to learn who
//! is enrolling (the scheme of Vault's AWS auth method). The `user` field is
//! what the client believes; the service trusts only the replayed identity
//! and refuses a request whose `user` differs from it. The same request,
//! without `identity`, is what an admin registers with `tapprove admin
//! register`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::parse_document;
use crate::limits::{
    MAX_CLIENT_DATA_BYTES, MAX_CREDENTIAL_ID_BYTES, MAX_ENROLMENT_BYTES, MAX_LABEL_CHARS, MAX_PRINCIPAL_CHARS,
};
use crate::text::{self, Lines};
use crate::{Base64Url, WireError};

const DOC: &str = "enrolment request";

crate::version_tag!(
    /// `enrolment/v1`.
    EnrolmentVersion = "enrolment/v1"
);

/// The header that names the enrolment service inside the signed STS
/// request, so a presigned request made for one service is useless to
/// another (Vault's `X-Vault-AWS-IAM-Server-ID`).
pub const SERVER_ID_HEADER: &str = "x-tapprove-server-id";

/// The header that carries, inside the signed STS request, the SHA-256
/// (lower-case hex) of the request document the proof authorises, that
/// document without its `identity` field, canonicalised with RFC 8785:
/// a proof cannot be detached and attached to another request.
pub const BODY_SHA256_HEADER: &str = "x-tapprove-body-sha256";

/// A random value signed into each identity proof, so two proofs of the
/// same request in the same second (SigV4 signs to the second) are two
/// proofs, each good once.
pub const PROOF_NONCE_HEADER: &str = "x-tapprove-nonce";

/// The enrolment service's path for new credentials.
pub const ENROLMENTS_PATH: &str = "/v1/enrolments";
/// The enrolment service's path for an approver's own credentials.
pub const CREDENTIALS_PATH: &str = "/v1/credentials";

/// The only body a presigned identity request may carry.
pub const GET_CALLER_IDENTITY_BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";

/// A new credential, as the client submits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentRequest {
    pub tapprove: EnrolmentVersion,
    /// Who the client believes it is (checked against `identity`).
    pub user: String,
    pub label: String,
    pub rp_id: String,
    pub credential_id: Base64Url,
    pub challenge: Base64Url,
    pub client_data_json: Base64Url,
    pub attestation_object: Base64Url,
    /// Proof of the caller's AWS identity, for the enrolment service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<PresignedCallerIdentity>,
    /// For people who sign in through OpenID Connect: a fresh ID token of
    /// the organisation's provider whose claim names them (the service
    /// takes the name from it, not from the session name the client
    /// chose). Bound to this request by the identity proof, which signs
    /// its hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// An `sts:GetCallerIdentity` request, signed (SigV4) but not sent.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresignedCallerIdentity {
    /// `POST`.
    pub method: String,
    /// The STS endpoint it was signed for.
    pub url: String,
    /// Every header that was signed, lower-case names.
    pub headers: BTreeMap<String, String>,
    /// [`GET_CALLER_IDENTITY_BODY`].
    pub body: String,
}

impl std::fmt::Debug for PresignedCallerIdentity {
    // The signature and a session token are bearer material for a few
    // minutes: never in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresignedCallerIdentity")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Where a submitted credential stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrolmentStatus {
    /// Verifies from now on (the user's first credential).
    Active,
    /// Waits for confirmation by an admin (or an active credential).
    Pending,
}

/// The enrolment service's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentReceipt {
    pub user: String,
    pub credential_id: Base64Url,
    pub label: String,
    pub status: EnrolmentStatus,
}

/// The largest ID token a request may carry.
pub const MAX_ID_TOKEN_CHARS: usize = 16 * 1024;

fn check_id_token(doc: &'static str, token: Option<&str>) -> Result<(), WireError> {
    match token {
        Some(t) => text::check(doc, "id_token", t, MAX_ID_TOKEN_CHARS, Lines::Single),
        None => Ok(()),
    }
}

impl EnrolmentRequest {
    /// Parses and bounds-checks an enrolment request.
    pub fn from_json(bytes: &[u8]) -> Result<Self, WireError> {
        let request: Self = parse_document(DOC, bytes, MAX_ENROLMENT_BYTES, EnrolmentVersion::TEXT)?;
        text::check(DOC, "user", &request.user, MAX_PRINCIPAL_CHARS, Lines::Single)?;
        text::check(DOC, "label", &request.label, MAX_LABEL_CHARS, Lines::Single)?;
        text::check(DOC, "rp_id", &request.rp_id, MAX_PRINCIPAL_CHARS, Lines::Single)?;
        check_id_token(DOC, request.id_token.as_deref())?;
        text::check_len(
            DOC,
            "credential_id",
            request.credential_id.as_bytes().len(),
            16,
            MAX_CREDENTIAL_ID_BYTES,
        )?;
        text::check_len(DOC, "challenge", request.challenge.as_bytes().len(), 16, 64)?;
        text::check_len(
            DOC,
            "client_data_json",
            request.client_data_json.as_bytes().len(),
            1,
            MAX_CLIENT_DATA_BYTES,
        )?;
        Ok(request)
    }
}

crate::version_tag!(
    /// `credentials/v1`.
    CredentialsVersion = "credentials/v1"
);

/// What an approver asks of their own credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CredentialAction {
    /// Lists them.
    List,
    /// Gives one a new label.
    Rename { credential_id: Base64Url, label: String },
    /// Revokes one at once: it never verifies again (a lost or replaced key).
    Revoke { credential_id: Base64Url },
    /// Takes back a credential that never signed: the enrolment whose first
    /// test assertion failed. Deleted, not kept as revoked.
    Withdraw { credential_id: Base64Url },
    /// Activates one of the caller's pending credentials (a new laptop's)
    /// with an assertion of one of their active ones: the person proves,
    /// with the key they already had, that the new one is theirs.
    Confirm {
        credential_id: Base64Url,
        by: Confirmation,
    },
}

/// An active credential's signature over a confirmation: the WebAuthn
/// challenge is `SHA-256(JCS({"tapprove": "confirm/v1", "server_id",
/// "user", "credential_id", "key_sha256", "signed_at"}))`
/// (`tapprove_core::canonical::confirmation_challenge`), so it confirms
/// one pending credential with one public key (not another key registered
/// later under a withdrawn id), of one user, at one deployment, in a
/// five-minute window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    /// The active credential that signed.
    pub credential_id: Base64Url,
    /// The pending credential's key, as the person confirmed it
    /// ([`CredentialSummary::key_sha256`]).
    pub key_sha256: String,
    pub signed_at: crate::UtcTime,
    pub authenticator_data: Base64Url,
    pub client_data_json: Base64Url,
    pub signature: Base64Url,
}

impl CredentialAction {
    /// The credential acted on (none for a listing).
    pub fn credential_id(&self) -> Option<&Base64Url> {
        match self {
            Self::List => None,
            Self::Rename { credential_id, .. }
            | Self::Revoke { credential_id }
            | Self::Withdraw { credential_id }
            | Self::Confirm { credential_id, .. } => Some(credential_id),
        }
    }
}

/// A request about the caller's own credentials, under the same presigned
/// identity as an enrolment: the service acts only on credentials the
/// replayed AWS identity owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsRequest {
    pub tapprove: CredentialsVersion,
    pub rp_id: String,
    pub action: CredentialAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<PresignedCallerIdentity>,
    /// As [`EnrolmentRequest::id_token`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl CredentialsRequest {
    /// Parses and bounds-checks a credentials request.
    pub fn from_json(bytes: &[u8]) -> Result<Self, WireError> {
        const DOC: &str = "credentials request";
        let request: Self = parse_document(DOC, bytes, MAX_ENROLMENT_BYTES, CredentialsVersion::TEXT)?;
        text::check(DOC, "rp_id", &request.rp_id, MAX_PRINCIPAL_CHARS, Lines::Single)?;
        check_id_token(DOC, request.id_token.as_deref())?;
        if let CredentialAction::Rename { label, .. } = &request.action {
            text::check(DOC, "label", label, MAX_LABEL_CHARS, Lines::Single)?;
        }
        if let Some(id) = request.action.credential_id() {
            text::check_len(
                DOC,
                "credential_id",
                id.as_bytes().len(),
                1,
                MAX_CREDENTIAL_ID_BYTES,
            )?;
        }
        Ok(request)
    }
}

/// One registered credential, as its owner and admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialSummary {
    pub credential_id: Base64Url,
    pub label: String,
    pub kind: crate::registry::AuthenticatorKind,
    pub status: crate::registry::CredentialStatus,
    pub aaguid: crate::Aaguid,
    pub counter: u32,
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<String>,
    /// SHA-256 of the credential's public key (COSE), lower-case hex: what
    /// a person compares between machines before confirming a new key, and
    /// what a confirmation signs.
    #[serde(default)]
    pub key_sha256: String,
    /// Whether an attestation chain to a trusted root proved the model
    /// (`aaguid`) at enrolment; `false`: the authenticator's claim.
    #[serde(default)]
    pub model_proven: bool,
}

/// The service's answer: the caller's credentials after the action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsAnswer {
    pub user: String,
    pub credentials: Vec<CredentialSummary>,
}
