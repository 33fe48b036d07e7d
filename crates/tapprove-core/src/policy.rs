use std::collections::BTreeSet;

use tapprove_proto::Aaguid;

/// How strict the verifier is: the organisation's choices. Security-relevant
/// keys come from the org policy file, which wins over user settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierPolicy {
    /// The relying-party id: authenticator data must carry its hash, and the
    /// origin `https://<rp_id>` is always allowed.
    pub rp_id: String,
    /// Further origins accepted in clientDataJSON, compared exactly.
    pub extra_origins: Vec<String>,
    /// Require the UV flag (PIN or biometrics), not just a touch.
    pub require_user_verification: bool,
    /// Let a requester approve their own request.
    pub allow_self_approval: bool,
    /// Accept credentials of Tapprove's software authenticator.
    pub allow_software_authenticators: bool,
    /// If set, only authenticators with these AAGUIDs verify.
    pub allowed_aaguids: Option<BTreeSet<Aaguid>>,
    /// How far `signed_at` may be ahead of the verifier's clock, in seconds.
    pub max_clock_skew_seconds: i64,
    /// If set, enrolment requires a `packed` attestation whose certificate
    /// chain ends at one of these roots (DER): only authenticator models
    /// the org trusts enrol.
    pub trusted_attestation_roots: Option<Vec<Vec<u8>>>,
    /// Believe the AAGUID an authenticator reports about itself where a
    /// rule depends on the model (software forbidden, an AAGUID list)
    /// without an attestation chain to a trusted root. Off: a software key
    /// can claim any model, so such rules then need
    /// `trusted_attestation_roots`.
    pub accept_self_reported_models: bool,
    /// If set, only models FIDO certified at this level or above (by the
    /// FIDO Metadata Service's status reports) enrol and verify.
    pub min_certification_level: Option<tapprove_proto::metadata::CertificationLevel>,
    /// If set, only authenticators of these kinds (security keys, platform
    /// authenticators, software) enrol and verify.
    pub allowed_kinds: Option<BTreeSet<tapprove_proto::registry::AuthenticatorKind>>,
}

impl VerifierPolicy {
    /// The default policy for `rp_id`: user presence required, user
    /// verification not, no self-approval, software authenticators allowed,
    /// any AAGUID, five minutes of clock skew, any attestation.
    pub fn new(rp_id: impl Into<String>) -> Self {
        Self {
            rp_id: rp_id.into(),
            extra_origins: Vec::new(),
            require_user_verification: false,
            allow_self_approval: false,
            allow_software_authenticators: true,
            allowed_aaguids: None,
            max_clock_skew_seconds: 300,
            trusted_attestation_roots: None,
            accept_self_reported_models: false,
            min_certification_level: None,
            allowed_kinds: None,
        }
    }

    /// Whether a rule depends on which authenticator model a credential is.
    pub fn has_model_rule(&self) -> bool {
        !self.allow_software_authenticators
            || self.allowed_aaguids.is_some()
            || self.min_certification_level.is_some()
            || self.allowed_kinds.is_some()
    }

    /// Whether clientDataJSON may carry `origin`.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        origin == crate::canonical::origin_for(&self.rp_id) || self.extra_origins.iter().any(|o| o == origin)
    }
}
