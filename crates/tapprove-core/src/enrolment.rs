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
use tapprove_proto::metadata::{CertificationLevel, ModelRecord};
use tapprove_proto::registry::{AttestationRecord, SOFTWARE_AAGUID, TrustPath};
use tapprove_proto::{Aaguid, Base64Url, UtcTime};

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
    /// What the attestation was checked against.
    pub record: AttestationRecord,
    /// The model as FIDO's metadata describes it, if it does.
    pub model: Option<ModelRecord>,
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
            attestation: Some(self.record),
        }
    }
}

/// The AAGUID a registration's authenticator data claims, to look up its
/// model before [`check_new_credential`] (which checks the claim).
pub fn claimed_aaguid(attestation_object: &[u8]) -> Option<Aaguid> {
    AttestationObject::parse(attestation_object)
        .ok()?
        .auth_data
        .attested_credential
        .map(|c| c.aaguid)
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
    #[error(
        "the org accepts only {allowed} authenticators, and this one is a {kind}: use one of the kinds your admin allows"
    )]
    KindNotAllowed { kind: &'static str, allowed: String },
    #[error("{0}")]
    Untrusted(WebauthnError),
    #[error(
        "FIDO reported authenticator model {model} as {status}{since} (metadata BLOB #{blob_no}): the org does not enrol it. Use another authenticator model"
    )]
    ModelDistrusted {
        model: String,
        status: String,
        since: String,
        blob_no: u64,
    },
    #[error(
        "the org requires authenticator models FIDO certified at level {required} or above; {model} is {level}: use a model certified at {required} or above"
    )]
    CertificationTooLow {
        model: String,
        level: String,
        required: CertificationLevel,
    },
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
            Self::KindNotAllowed { .. } => "kind_not_allowed",
            Self::Untrusted(_) => "attestation_untrusted",
            Self::ModelNotProven { .. } => "model_not_proven",
            Self::ModelDistrusted { .. } => "model_distrusted",
            Self::CertificationTooLow { .. } => "certification_too_low",
        }
    }
}

/// What a registration is judged against besides the policy.
#[derive(Debug, Clone, Copy)]
pub struct Judged<'a> {
    /// Attestation certificates must be valid now.
    pub now: &'a UtcTime,
    /// What FIDO's metadata says of the claimed model ([`claimed_aaguid`]),
    /// if the org imported it and it lists the model.
    pub model: Option<&'a ModelRecord>,
}

/// Checks an attestation object and its creation clientDataJSON against
/// the challenge the service issued.
pub fn check_new_credential(
    policy: &VerifierPolicy,
    challenge: &[u8],
    client_data_json: &[u8],
    attestation_object: &[u8],
    credential_id: &[u8],
    judged: Judged<'_>,
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
    let kind = tapprove_proto::registry::AuthenticatorKind::of_aaguid(credential.aaguid);
    if let Some(allowed) = &policy.allowed_kinds
        && !allowed.contains(&kind)
    {
        return Err(EnrolmentError::KindNotAllowed {
            kind: kind.as_str(),
            allowed: kinds(allowed),
        });
    }
    // FIDO's word on the model, taken only for the AAGUID it was looked
    // up by; a model FIDO distrusts enrols under no policy, claimed or
    // proven.
    let model = judged.model.filter(|m| m.aaguid == credential.aaguid);
    if let Some(refusal) = model.and_then(distrusted) {
        return Err(refusal);
    }
    // The AAGUID is the authenticator's own word until a chain proves it:
    // to the roots FIDO lists for this very model, or to the org's own
    // (the leaf's AAGUID extension was checked against the authenticator
    // data by `verify`). A chain proves the model only when the leaf
    // names the AAGUID.
    // A certificate that chains to neither is refused, unless the org
    // accepts self-reported models (then it enrols as a claim: Touch ID's
    // self attestation, Windows Hello's unchecked `tpm`).
    let model_roots: Vec<Vec<u8>> = model
        .map(|m| {
            m.attestation_roots
                .iter()
                .map(|r| r.as_bytes().to_vec())
                .collect()
        })
        .unwrap_or_default();
    let org_roots = policy.trusted_attestation_roots.as_deref();
    // With org roots, an attestation that does not chain to them (or has
    // no certificate) is refused unless self-reported models are
    // accepted; a checked certificate that does not chain to the roots
    // FIDO lists for the model it names is refused likewise.
    let certified = matches!(format, AttestationFormat::Certified { .. });
    let by_model = (certified && !model_roots.is_empty()).then(|| format.chains_to(&model_roots, judged.now));
    let by_org = org_roots.map(|roots| format.chains_to(roots, judged.now));
    let trust_path = match (by_model, by_org) {
        (Some(Ok(())), _) => TrustPath::FidoMetadata,
        (_, Some(Ok(()))) => TrustPath::OrgRoots,
        (Some(Err(e)), _) | (_, Some(Err(e))) if !policy.accept_self_reported_models => {
            return Err(EnrolmentError::Untrusted(e));
        }
        _ if matches!(format, AttestationFormat::None | AttestationFormat::PackedSelf) => TrustPath::None,
        _ => TrustPath::Unchecked,
    };
    let model_proven =
        matches!(trust_path, TrustPath::FidoMetadata | TrustPath::OrgRoots) && format.names_model();
    if policy.has_model_rule() && !model_proven && !policy.accept_self_reported_models {
        return Err(EnrolmentError::ModelNotProven {
            aaguid: credential.aaguid,
            attestation: format.name(),
        });
    }
    if let Some(required) = policy.min_certification_level {
        check_level(required, credential.aaguid, model)?;
    }
    let record = AttestationRecord {
        format: attestation.format.clone(),
        trust_path,
        fido_blob_no: model.map(|m| m.blob_no),
        fido_status: model.map(|m| m.status.clone()),
        certification_level: model.and_then(|m| m.certification_level),
    };
    Ok(CheckedCredential {
        credential_id: Base64Url::new(credential.credential_id.clone()),
        public_key: Base64Url::new(credential.public_key.clone()),
        aaguid: credential.aaguid,
        counter: data.sign_count,
        attestation: format,
        user_verified: data.flags.user_verified(),
        model_proven,
        record,
        model: model.cloned(),
    })
}

/// `security_key or platform`.
pub fn kinds(allowed: &std::collections::BTreeSet<tapprove_proto::registry::AuthenticatorKind>) -> String {
    allowed
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The refusal for a model FIDO reported untrustworthy, if it did.
pub fn distrusted(model: &ModelRecord) -> Option<EnrolmentError> {
    let distrust = model.distrust.as_ref()?;
    Some(EnrolmentError::ModelDistrusted {
        model: model.name(),
        status: distrust.status.clone(),
        since: distrust
            .effective_date
            .as_ref()
            .map(|d| format!(" on {d}"))
            .unwrap_or_default(),
        blob_no: model.blob_no,
    })
}

/// Whether FIDO certified `model` (the metadata of `aaguid`) at `required`
/// or above.
pub fn check_level(
    required: CertificationLevel,
    aaguid: Aaguid,
    model: Option<&ModelRecord>,
) -> Result<(), EnrolmentError> {
    match model {
        Some(m) if m.certification_level.is_some_and(|l| l >= required) => Ok(()),
        Some(m) => Err(EnrolmentError::CertificationTooLow {
            model: m.name(),
            level: m.certification_level.map_or_else(
                || format!("not certified ({})", m.status),
                |l| format!("certified at {l}"),
            ),
            required,
        }),
        None => Err(EnrolmentError::CertificationTooLow {
            model: aaguid.to_string(),
            level: "not in the FIDO metadata the org imported".into(),
            required,
        }),
    }
}
