//! Checking a newly created credential before it enters the registry.
//!
//! The registry is written only by trusted code (the verifier's service or
//! an admin); this is the check that code runs on what the client submits:
//! the creation clientDataJSON answers the service's challenge for the
//! right origin, the attestation object is well formed and signed, the
//! authenticator data is for this relying party and saw the user, and the
//! key is one the verifier can use later.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tapprove_proto::registry::SOFTWARE_AAGUID;
use tapprove_proto::{Aaguid, Base64Url};

use crate::canonical::{WEBAUTHN_CREATE, sha256};
use crate::policy::VerifierPolicy;
use crate::webauthn::{AttestationFormat, AttestationObject, ClientData, WebauthnError};

/// A credential that passed the enrolment checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedCredential {
    pub credential_id: Base64Url,
    /// COSE_Key bytes, exactly as attested.
    pub public_key: Base64Url,
    pub aaguid: Aaguid,
    pub counter: u32,
    pub attestation: AttestationFormat,
    pub user_verified: bool,
    /// Whether the model (the AAGUID) was proven by an attestation chain to
    /// a root the org trusts, rather than only claimed.
    pub model_proven: bool,
}

impl CheckedCredential {
    /// The registry record for this credential, owned by `owner`.
    pub fn into_record(
        self,
        owner: &str,
        label: &str,
        status: tapprove_proto::registry::CredentialStatus,
    ) -> crate::registry::CredentialRecord {
        crate::registry::CredentialRecord {
            kind: tapprove_proto::registry::AuthenticatorKind::of_aaguid(self.aaguid),
            credential_id: self.credential_id,
            owner: owner.to_owned(),
            public_key: self.public_key,
            counter: self.counter,
            aaguid: self.aaguid,
            status,
            label: label.to_owned(),
            model_proven: self.model_proven,
        }
    }
}

/// Why a new credential was refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnrolmentError {
    #[error("the creation clientDataJSON is not for this enrolment: {0}")]
    ClientData(String),
    #[error(transparent)]
    Webauthn(#[from] WebauthnError),
    #[error("the authenticator data is for another relying party than `{0}`")]
    RpIdMismatch(String),
    #[error("the authenticator did not confirm user presence")]
    UserNotPresent,
    #[error("the org requires user verification and the authenticator did not perform it")]
    UserNotVerified,
    #[error("the credential id in the attestation is not the one submitted")]
    CredentialIdMismatch,
    #[error(
        "the org does not accept software authenticators: enrol a security key or this computer's platform authenticator (Touch ID, Windows Hello)"
    )]
    SoftwareNotAllowed,
    #[error(
        "this authenticator model ({0}) is not on the org's list of allowed authenticators: use one your admin lists"
    )]
    AaguidNotAllowed(Aaguid),
    #[error("{0}")]
    Untrusted(WebauthnError),
    #[error(
        "the org accepts only certain authenticator models, and this one only claims to be {aaguid} ({attestation} attestation): a claim is not proof. The org must trust the model's attestation root (`attestation_roots`); until then, enrol a model whose attestation chains to a root it trusts"
    )]
    ModelNotProven { aaguid: Aaguid, attestation: String },
}

impl EnrolmentError {
    /// A short stable word for the rule that refused the credential.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ClientData(_) => "client_data_mismatch",
            Self::Webauthn(_) => "attestation_invalid",
            Self::RpIdMismatch(_) => "rp_id_mismatch",
            Self::UserNotPresent => "user_not_present",
            Self::UserNotVerified => "user_not_verified",
            Self::CredentialIdMismatch => "credential_id_mismatch",
            Self::SoftwareNotAllowed => "software_not_allowed",
            Self::AaguidNotAllowed(_) => "aaguid_not_allowed",
            Self::Untrusted(_) => "attestation_untrusted",
            Self::ModelNotProven { .. } => "model_not_proven",
        }
    }
}

/// Checks an attestation object and its creation clientDataJSON against
/// the challenge the service issued.
pub fn check_new_credential(
    policy: &VerifierPolicy,
    challenge: &[u8],
    client_data_json: &[u8],
    attestation_object: &[u8],
    credential_id: &[u8],
) -> Result<CheckedCredential, EnrolmentError> {
    let client = ClientData::parse(client_data_json)?;
    if client.kind != WEBAUTHN_CREATE {
        return Err(EnrolmentError::ClientData(format!("type `{}`", client.kind)));
    }
    if URL_SAFE_NO_PAD.decode(&client.challenge).ok().as_deref() != Some(challenge) {
        return Err(EnrolmentError::ClientData(
            "the challenge is not the one issued".into(),
        ));
    }
    if !policy.origin_allowed(&client.origin) || client.cross_origin == Some(true) {
        return Err(EnrolmentError::ClientData(format!(
            "origin `{}` is not allowed",
            client.origin
        )));
    }
    let attestation = AttestationObject::parse(attestation_object)?;
    let data = &attestation.auth_data;
    if data.rp_id_hash != sha256(policy.rp_id.as_bytes()) {
        return Err(EnrolmentError::RpIdMismatch(policy.rp_id.clone()));
    }
    if !data.flags.user_present() {
        return Err(EnrolmentError::UserNotPresent);
    }
    if policy.require_user_verification && !data.flags.user_verified() {
        return Err(EnrolmentError::UserNotVerified);
    }
    let format = attestation.verify(&sha256(client_data_json))?;
    // Parse the key now, so an unusable key is refused at enrolment rather
    // than at the first approval.
    attestation.credential_key()?;
    let credential = data
        .attested_credential
        .as_ref()
        .ok_or_else(|| WebauthnError::AuthenticatorData("no attested credential".into()))?;
    if credential.credential_id != credential_id {
        return Err(EnrolmentError::CredentialIdMismatch);
    }
    if credential.aaguid == SOFTWARE_AAGUID && !policy.allow_software_authenticators {
        return Err(EnrolmentError::SoftwareNotAllowed);
    }
    if let Some(allowed) = &policy.allowed_aaguids
        && !allowed.contains(&credential.aaguid)
    {
        return Err(EnrolmentError::AaguidNotAllowed(credential.aaguid));
    }
    // The AAGUID is the authenticator's own word until a chain to a root
    // the org trusts proves it (the leaf's AAGUID extension was checked
    // against the authenticator data by `verify`).
    // With roots, an attestation that does not chain to them is refused,
    // unless the org accepts self-reported models (then it enrols as a
    // claim: Touch ID's self attestation, Windows Hello's unchecked `tpm`).
    // A chain proves the model only when the leaf names the AAGUID.
    let model_proven = match &policy.trusted_attestation_roots {
        Some(roots) => match format.chains_to(roots) {
            Ok(()) => format.names_model(),
            Err(_) if policy.accept_self_reported_models => false,
            Err(e) => return Err(EnrolmentError::Untrusted(e)),
        },
        None => false,
    };
    if policy.has_model_rule() && !model_proven && !policy.accept_self_reported_models {
        return Err(EnrolmentError::ModelNotProven {
            aaguid: credential.aaguid,
            attestation: format.name(),
        });
    }
    Ok(CheckedCredential {
        credential_id: Base64Url::new(credential.credential_id.clone()),
        public_key: Base64Url::new(credential.public_key.clone()),
        aaguid: credential.aaguid,
        counter: data.sign_count,
        attestation: format,
        user_verified: data.flags.user_verified(),
        model_proven,
    })
}
