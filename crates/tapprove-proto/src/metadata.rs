//! What Tapprove keeps of the FIDO Metadata Service (MDS3): for each
//! authenticator model (AAGUID), its name, the attestation roots its
//! vendor registered, its FIDO certification level and whether a status
//! report makes it untrustworthy.
//!
//! `tapprove admin mds import` writes these only after the BLOB's
//! signature chain to the FIDO root verified (`tapprove-core`'s
//! `metadata` module); the verifier reads them at enrolment and at every
//! verification. The format is documented in `docs/fido-metadata.md`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::bytes::{Aaguid, Base64Url, Sha256Digest};
use crate::time::UtcTime;

crate::version_tag!(
    /// The version tag of a metadata file: always `fido-metadata/v1`.
    MetadataVersion = "fido-metadata/v1"
);

/// FIDO's authenticator certification levels, lowest first
/// (FIDO Metadata Service 3.0, AuthenticatorStatus `FIDO_CERTIFIED_L*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CertificationLevel {
    #[serde(rename = "L1")]
    L1,
    #[serde(rename = "L1+")]
    L1Plus,
    #[serde(rename = "L2")]
    L2,
    #[serde(rename = "L2+")]
    L2Plus,
    #[serde(rename = "L3")]
    L3,
    #[serde(rename = "L3+")]
    L3Plus,
}

impl CertificationLevel {
    /// The level a status report's status names, if it names one
    /// (`FIDO_CERTIFIED` alone is level 1).
    pub fn of_status(status: &str) -> Option<Self> {
        Some(match status {
            "FIDO_CERTIFIED" | "FIDO_CERTIFIED_L1" => Self::L1,
            "FIDO_CERTIFIED_L1plus" => Self::L1Plus,
            "FIDO_CERTIFIED_L2" => Self::L2,
            "FIDO_CERTIFIED_L2plus" => Self::L2Plus,
            "FIDO_CERTIFIED_L3" => Self::L3,
            "FIDO_CERTIFIED_L3plus" => Self::L3Plus,
            _ => return None,
        })
    }

    /// Reads `L1`, `L1+` ... `L3+` (what policies write).
    pub fn parse(text: &str) -> Result<Self, String> {
        Ok(match text {
            "L1" => Self::L1,
            "L1+" => Self::L1Plus,
            "L2" => Self::L2,
            "L2+" => Self::L2Plus,
            "L3" => Self::L3,
            "L3+" => Self::L3Plus,
            other => {
                return Err(format!(
                    "`{other}` is no FIDO certification level: write one of L1, L1+, L2, L2+, L3, L3+"
                ));
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::L1 => "L1",
            Self::L1Plus => "L1+",
            Self::L2 => "L2",
            Self::L2Plus => "L2+",
            Self::L3 => "L3",
            Self::L3Plus => "L3+",
        }
    }
}

impl fmt::Display for CertificationLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status report that makes a model untrustworthy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Distrust {
    /// The report's status: `REVOKED`, `ATTESTATION_KEY_COMPROMISE`,
    /// `USER_VERIFICATION_BYPASS`, `USER_KEY_REMOTE_COMPROMISE` or
    /// `USER_KEY_PHYSICAL_COMPROMISE`.
    pub status: String,
    /// The report's `effectiveDate` (`YYYY-MM-DD`), when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_date: Option<String>,
}

/// The statuses that make a model untrustworthy. A later report does not
/// lift them: keys made while a model was compromised stay suspect.
pub const DISTRUSTED_STATUSES: [&str; 5] = [
    "REVOKED",
    "ATTESTATION_KEY_COMPROMISE",
    "USER_VERIFICATION_BYPASS",
    "USER_KEY_REMOTE_COMPROMISE",
    "USER_KEY_PHYSICAL_COMPROMISE",
];

/// One authenticator model as a verified MDS3 BLOB described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRecord {
    pub aaguid: Aaguid,
    /// The metadata statement's `description` (the model's name).
    pub description: String,
    /// The vendor's attestation roots (DER) for this model: a chain proves
    /// this model only when it ends at one of them.
    pub attestation_roots: Vec<Base64Url>,
    /// The highest certification level its status reports grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certification_level: Option<CertificationLevel>,
    /// The latest status report's status.
    pub status: String,
    /// The first report that makes the model untrustworthy, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distrust: Option<Distrust>,
    /// The serial number (`no`) of the BLOB it came from.
    pub blob_no: u64,
}

impl ModelRecord {
    /// "YubiKey 5 Series (cb69481e-…)".
    pub fn name(&self) -> String {
        format!("{} ({})", self.description, self.aaguid)
    }
}

/// What an import kept of one BLOB: the models with an AAGUID (FIDO2
/// authenticators; U2F and UAF entries are counted, not kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataFile {
    pub tapprove: MetadataVersion,
    /// Whom it was verified against: `fido` (FIDO's root and signing
    /// certificate), or `roots:<sha256>,…` (an admin's own roots, for test
    /// and conformance BLOBs).
    pub anchor: String,
    /// The BLOB's serial number: a later import must not go back.
    pub blob_no: u64,
    /// The BLOB's `nextUpdate` (`YYYY-MM-DD`): FIDO publishes a new one by
    /// then; past it the data is stale.
    pub next_update: String,
    /// SHA-256 of the BLOB as downloaded.
    pub blob_sha256: Sha256Digest,
    /// When it was imported, and verified.
    pub imported_at: UtcTime,
    /// Entries without an AAGUID (U2F, UAF), not kept.
    #[serde(default)]
    pub skipped_entries: u64,
    pub models: Vec<ModelRecord>,
}

impl MetadataFile {
    /// Parses a metadata file.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("not a Tapprove FIDO metadata file: {e}"))
    }

    /// The model with this AAGUID, if the BLOB listed it.
    pub fn model(&self, aaguid: &Aaguid) -> Option<&ModelRecord> {
        self.models.iter().find(|m| &m.aaguid == aaguid)
    }

    /// What an import's audit record says of the BLOB.
    pub fn summary(&self) -> serde_json::Map<String, serde_json::Value> {
        let value = serde_json::json!({
            "blob_no": self.blob_no,
            "anchor": self.anchor,
            "next_update": self.next_update,
            "blob_sha256": self.blob_sha256.to_string(),
            "models": self.models.len(),
            "distrusted": self.models.iter().filter(|m| m.distrust.is_some()).count(),
        });
        value.as_object().cloned().unwrap_or_default()
    }
}
