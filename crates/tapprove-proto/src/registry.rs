//! The registry file (registry/v1): approvers, their groups and their
//! registered authenticators, as JSON.
//!
//! The live registry is a DynamoDB table written only by the verifier's
//! service; this file is its portable form. `tapprove key create` writes one
//! for offline use, and an auditor verifies an exported approval against an
//! exported registry with `tapprove verify`, no AWS needed. The format is
//! documented in `docs/registry-format.md`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::bytes::{Aaguid, Base64Url};
use crate::error::{WireError, parse_document};
use crate::limits::{MAX_CREDENTIAL_ID_BYTES, MAX_PRINCIPAL_CHARS, MAX_PUBLIC_KEY_BYTES, MAX_REGISTRY_BYTES};
use crate::text::{self, Lines};
use crate::time::UtcTime;

const DOC: &str = "registry";

crate::version_tag!(
    /// The version tag of a registry file: always `registry/v1`.
    RegistryVersion = "registry/v1"
);

/// A registry file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryFile {
    pub tapprove: RegistryVersion,
    /// Approvers by the name that statements carry (`approver`).
    pub users: BTreeMap<String, UserEntry>,
}

/// One approver.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    /// The approver groups this user belongs to.
    #[serde(default)]
    pub groups: BTreeSet<String>,
    #[serde(default)]
    pub credentials: Vec<CredentialEntry>,
}

/// What made a credential, as far as the registry knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthenticatorKind {
    /// Keys held by Tapprove's software authenticator (file or OS keychain).
    Software,
    /// A USB or NFC security key.
    SecurityKey,
    /// A platform authenticator: Touch ID, Windows Hello.
    Platform,
}

/// The AAGUID of Tapprove's software authenticator. Org policies name it to
/// allow or refuse software credentials.
pub const SOFTWARE_AAGUID: Aaguid = Aaguid([
    0xa6, 0xf2, 0x0a, 0x98, 0x9d, 0xe8, 0x46, 0x3e, 0xa3, 0x42, 0x08, 0xb7, 0xdb, 0xff, 0x97, 0x29,
]);

/// The AAGUID Tapprove gives its Touch ID credentials (Secure Enclave keys
/// attest nothing themselves, as with Teleport's `tsh`).
pub const TOUCH_ID_AAGUID: Aaguid = Aaguid([
    0xea, 0x98, 0x5c, 0x34, 0x65, 0xf5, 0x42, 0x29, 0x90, 0x68, 0x2d, 0x11, 0xbb, 0xfe, 0x60, 0xf2,
]);

/// AAGUIDs of platform authenticators: Tapprove's Touch ID keys, and
/// Windows Hello (hardware, VBS hardware, software), as FIDO's metadata
/// service lists them.
pub const PLATFORM_AAGUIDS: [Aaguid; 4] = [
    TOUCH_ID_AAGUID,
    Aaguid([
        0x08, 0x98, 0x70, 0x58, 0xca, 0xdc, 0x4b, 0x81, 0xb6, 0xe1, 0x30, 0xde, 0x50, 0xdc, 0xbe, 0x96,
    ]),
    Aaguid([
        0x9d, 0xdd, 0x18, 0x17, 0xaf, 0x5a, 0x46, 0x72, 0xa2, 0xb9, 0x3e, 0x3d, 0xd9, 0x50, 0x00, 0xa9,
    ]),
    Aaguid([
        0x60, 0x28, 0xb0, 0x17, 0xb1, 0xd4, 0x4c, 0x02, 0xb4, 0xb3, 0xaf, 0xcd, 0xaf, 0xc9, 0x6b, 0xb2,
    ]),
];

impl AuthenticatorKind {
    /// What an attested AAGUID says the authenticator is.
    pub fn of_aaguid(aaguid: Aaguid) -> Self {
        if aaguid == SOFTWARE_AAGUID {
            Self::Software
        } else if PLATFORM_AAGUIDS.contains(&aaguid) {
            Self::Platform
        } else {
            Self::SecurityKey
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Software => "software",
            Self::SecurityKey => "security_key",
            Self::Platform => "platform",
        }
    }
}

/// Whether a credential may sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialStatus {
    /// Verifies.
    Active,
    /// Enrolled but not yet confirmed by an active credential or an admin.
    Pending,
    /// Never verifies again.
    Revoked,
}

/// One registered authenticator credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialEntry {
    pub credential_id: Base64Url,
    /// The credential's public key as a COSE_Key (RFC 9052), as the
    /// authenticator reported it in its attested credential data.
    pub public_key: Base64Url,
    /// The highest signature counter seen.
    pub counter: u32,
    pub aaguid: Aaguid,
    pub authenticator: AuthenticatorKind,
    pub label: String,
    pub status: CredentialStatus,
    pub created: UtcTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<UtcTime>,
    /// Whether an attestation chain to a trusted root proved `aaguid` at
    /// enrolment; absent or `false`: the authenticator's own claim.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub model_proven: bool,
    /// What its attestation was checked against at enrolment; absent for
    /// credentials enrolled before Tapprove recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<AttestationRecord>,
}

/// Where an attestation's trust came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustPath {
    /// No certificate: `none`, or self attestation.
    None,
    /// A certificate chain that ended at no root the organisation trusts;
    /// enrolled as a claim because the policy accepts self-reported models.
    Unchecked,
    /// A chain to one of the organisation's own roots.
    OrgRoots,
    /// A chain to the roots FIDO's Metadata Service lists for this model.
    FidoMetadata,
}

impl TrustPath {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Unchecked => "unchecked",
            Self::OrgRoots => "org_roots",
            Self::FidoMetadata => "fido_metadata",
        }
    }
}

/// What was verified of a credential's attestation at enrolment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestationRecord {
    /// The attestation statement format (`packed`, `fido-u2f`, `none`...).
    pub format: String,
    pub trust_path: TrustPath,
    /// The FIDO metadata BLOB (its `no`) that described the model, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fido_blob_no: Option<u64>,
    /// The model's latest FIDO status then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fido_status: Option<String>,
    /// The model's FIDO certification level then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certification_level: Option<crate::metadata::CertificationLevel>,
}

impl RegistryFile {
    /// Parses and checks a registry file.
    pub fn from_json(bytes: &[u8]) -> Result<Self, WireError> {
        let file: Self = parse_document(DOC, bytes, MAX_REGISTRY_BYTES, RegistryVersion::TEXT)?;
        file.validate()?;
        Ok(file)
    }

    pub fn validate(&self) -> Result<(), WireError> {
        let mut seen = BTreeSet::new();
        for (user, entry) in &self.users {
            text::check(DOC, "users", user, MAX_PRINCIPAL_CHARS, Lines::Single)?;
            for group in &entry.groups {
                text::check_group(DOC, &format!("users.{user}.groups"), group)?;
            }
            for (i, c) in entry.credentials.iter().enumerate() {
                let field = format!("users.{user}.credentials[{i}]");
                text::check_len(
                    DOC,
                    &format!("{field}.credential_id"),
                    c.credential_id.len(),
                    1,
                    MAX_CREDENTIAL_ID_BYTES,
                )?;
                text::check_len(
                    DOC,
                    &format!("{field}.public_key"),
                    c.public_key.len(),
                    1,
                    MAX_PUBLIC_KEY_BYTES,
                )?;
                text::check(
                    DOC,
                    &format!("{field}.label"),
                    &c.label,
                    crate::limits::MAX_LABEL_CHARS,
                    Lines::Single,
                )?;
                if !seen.insert(c.credential_id.clone()) {
                    return Err(WireError::new(
                        crate::WireErrorKind::Malformed,
                        DOC,
                        format!("{field}.credential_id"),
                        "registered twice; a credential belongs to one user",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Serialises the file as pretty JSON, for people to read and diff.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| {
            debug_assert!(false, "registry serialisation failed: {e}");
            String::new()
        })
    }
}
