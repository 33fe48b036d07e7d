//! The FIDO Metadata Service (MDS3) BLOB: verified before a byte of it is
//! trusted.
//!
//! The BLOB is a JWS (compact form) whose header carries the signing
//! certificate chain (`x5c`). [`verify_blob`] checks, in this order and
//! before it reads the payload: the chain ends at one of the FIDO roots
//! the caller trusts (FIDO's is GlobalSign Root CA - R3), every
//! certificate is valid at `now`, and the signature over the JWS signing
//! input verifies with the first certificate's key. Only then is the
//! payload parsed into [`MetadataFile`]: for each model with an AAGUID,
//! its name, attestation roots, certification level and whether a status
//! report makes it untrustworthy.
//!
//! Not done here: the certificate revocation lists the MDS specification
//! asks relying parties to fetch (this crate does no IO, and the import
//! often runs offline). FIDO revokes a signing certificate by replacing
//! it; a BLOB serial number that goes back is refused by the importer.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;
use tapprove_proto::metadata::{
    CertificationLevel, DISTRUSTED_STATUSES, Distrust, MetadataFile, MetadataVersion, ModelRecord,
};
use tapprove_proto::{Aaguid, Base64Url, Sha256Digest, UtcTime};

use crate::webauthn::x509;

/// FIDO's trust anchor for the Metadata Service BLOB: GlobalSign Root CA -
/// R3 (SHA-256 fingerprint CB:B5:22:D7:…:C5:3B, valid until 2029-03-18),
/// as FIDO's MDS3 specification names it.
const FIDO_ROOT_PEM: &str = include_str!("fido-mds-root.pem");

/// The FIDO Metadata Service's root certificate (DER).
pub fn fido_roots() -> Vec<Vec<u8>> {
    crate::webauthn::read_certificates(FIDO_ROOT_PEM.as_bytes()).unwrap_or_default()
}

/// The name FIDO's BLOB signing certificate carries: under GlobalSign's
/// public root, which issues certificates to anyone's web site, only the
/// certificate issued to FIDO's Metadata Service may sign a BLOB.
pub const FIDO_MDS_SIGNER: &str = "mds.fidoalliance.org";

/// Whom a BLOB must come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobTrust {
    /// The roots its signing chain must end at (DER).
    pub roots: Vec<Vec<u8>>,
    /// The name its signing certificate must be issued to; `None`: any
    /// end-entity certificate under `roots` (an admin's own root, for
    /// FIDO's conformance BLOBs or a test BLOB).
    pub signer: Option<String>,
}

impl BlobTrust {
    /// FIDO's Metadata Service: GlobalSign Root CA - R3, and a signing
    /// certificate issued to `mds.fidoalliance.org`.
    pub fn fido() -> Self {
        Self {
            roots: fido_roots(),
            signer: Some(FIDO_MDS_SIGNER.to_owned()),
        }
    }

    /// An admin's own roots: any signing certificate under them.
    pub fn roots(roots: Vec<Vec<u8>>) -> Self {
        Self { roots, signer: None }
    }

    /// How an import names this anchor: `fido`, or the SHA-256 of each of
    /// the admin's roots.
    pub fn anchor(&self) -> String {
        if self.signer.as_deref() == Some(FIDO_MDS_SIGNER) && self.roots == fido_roots() {
            return "fido".into();
        }
        let fingerprints: Vec<String> = self
            .roots
            .iter()
            .map(|r| crate::evidence::hex(&crate::canonical::sha256(r)))
            .collect();
        format!("roots:{}", fingerprints.join(","))
    }
}

/// The largest BLOB read (FIDO's is a few MB).
pub const MAX_BLOB_BYTES: usize = 32 * 1024 * 1024;

/// Why a BLOB was refused. Nothing of a refused BLOB is kept.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error(
        "not a FIDO metadata BLOB: {0}. Download it from https://mds3.fidoalliance.org/ (the whole response, a JWT)"
    )]
    NotABlob(String),
    #[error(
        "the BLOB's signing certificates do not chain to the FIDO root: {0}. Refused: download it again from https://mds3.fidoalliance.org/"
    )]
    Untrusted(String),
    #[error(
        "the BLOB's signature does not verify with its signing certificate: it was altered. Refused: download it again"
    )]
    BadSignature,
    #[error("the BLOB's signature verified, but its content is malformed: {0}")]
    Malformed(String),
}

impl MetadataError {
    /// A short stable word for scripts.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotABlob(_) => "not_a_blob",
            Self::Untrusted(_) => "blob_untrusted",
            Self::BadSignature => "blob_signature_invalid",
            Self::Malformed(_) => "blob_malformed",
        }
    }
}

/// Verifies a BLOB against `fido_roots` (DER) at `now` and reads it.
pub fn verify_blob(blob: &[u8], trust: &BlobTrust, now: &UtcTime) -> Result<MetadataFile, MetadataError> {
    if blob.len() > MAX_BLOB_BYTES {
        return Err(MetadataError::NotABlob(format!(
            "{} bytes, more than the {MAX_BLOB_BYTES} a BLOB may have",
            blob.len()
        )));
    }
    let text = std::str::from_utf8(blob)
        .map_err(|_| MetadataError::NotABlob("it is not text".into()))?
        .trim();
    let parts: Vec<&str> = text.split('.').collect();
    let [header_b64, payload_b64, signature_b64] = parts.as_slice() else {
        return Err(MetadataError::NotABlob(format!(
            "a JWT has three parts separated by dots, this has {}",
            parts.len()
        )));
    };
    let decode = |part: &str, what: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|e| MetadataError::NotABlob(format!("its {what} is not base64url: {e}")))
    };
    let header: Value = serde_json::from_slice(&decode(header_b64, "header")?)
        .map_err(|e| MetadataError::NotABlob(format!("its header is not JSON: {e}")))?;
    let alg = header["alg"]
        .as_str()
        .ok_or_else(|| MetadataError::NotABlob("its header names no `alg`".into()))?;
    let chain = header["x5c"]
        .as_array()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| MetadataError::NotABlob("its header carries no certificate chain (`x5c`)".into()))?
        .iter()
        .map(|c| {
            c.as_str()
                .and_then(|c| STANDARD.decode(c).ok())
                .ok_or_else(|| MetadataError::NotABlob("an `x5c` entry is not base64 DER".into()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Trust first: the chain to the FIDO root and every validity period,
    // then the signature; the payload is read only after both.
    if let Some(signer) = &trust.signer {
        x509::issued_to(&chain[0], signer).map_err(|found| {
            MetadataError::Untrusted(format!(
                "its signing certificate is not FIDO's ({signer}): {found}"
            ))
        })?;
    }
    x509::chains_to(&chain, &trust.roots, now.unix_seconds()).map_err(|e| {
        MetadataError::Untrusted(
            e.to_string()
                .trim_start_matches("attestation does not verify: ")
                .to_owned(),
        )
    })?;
    let signature = decode(signature_b64, "signature")?;
    let signing_input = format!("{header_b64}.{payload_b64}");
    x509::verify_jws(&chain[0], alg, signing_input.as_bytes(), &signature).map_err(|e| match e {
        crate::webauthn::WebauthnError::BadSignature => MetadataError::BadSignature,
        other => MetadataError::Untrusted(other.to_string()),
    })?;
    let payload: Value = serde_json::from_slice(&decode(payload_b64, "payload")?)
        .map_err(|e| MetadataError::Malformed(format!("the payload is not JSON: {e}")))?;
    let mut file = read_payload(&payload, crate::canonical::sha256(text.as_bytes()), now)?;
    file.anchor = trust.anchor();
    Ok(file)
}

fn read_payload(
    payload: &Value,
    blob_sha256: [u8; 32],
    now: &UtcTime,
) -> Result<MetadataFile, MetadataError> {
    let malformed = |m: String| MetadataError::Malformed(m);
    let blob_no = payload["no"]
        .as_u64()
        .ok_or_else(|| malformed("`no` is not a serial number".into()))?;
    let next_update = payload["nextUpdate"]
        .as_str()
        .filter(|d| is_date(d))
        .ok_or_else(|| malformed("`nextUpdate` is not a date (YYYY-MM-DD)".into()))?
        .to_owned();
    let entries = payload["entries"]
        .as_array()
        .ok_or_else(|| malformed("`entries` is not a list".into()))?;
    let mut models = Vec::new();
    let mut skipped_entries = 0;
    for (i, entry) in entries.iter().enumerate() {
        let Some(aaguid) = entry["aaguid"].as_str() else {
            skipped_entries += 1;
            continue;
        };
        let aaguid = Aaguid::parse(aaguid).map_err(|e| malformed(format!("entries[{i}].aaguid: {e}")))?;
        models.push(model(i, aaguid, entry, blob_no)?);
    }
    models.sort_by_key(|m| m.aaguid);
    if models.windows(2).any(|w| w[0].aaguid == w[1].aaguid) {
        return Err(malformed("an AAGUID is listed twice".into()));
    }
    Ok(MetadataFile {
        tapprove: MetadataVersion,
        anchor: String::new(),
        blob_no,
        next_update,
        blob_sha256: Sha256Digest(blob_sha256),
        imported_at: now.clone(),
        skipped_entries,
        models,
    })
}

fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn model(i: usize, aaguid: Aaguid, entry: &Value, blob_no: u64) -> Result<ModelRecord, MetadataError> {
    let malformed = |m: String| MetadataError::Malformed(format!("entries[{i}] ({aaguid}): {m}"));
    let statement = &entry["metadataStatement"];
    let description = statement["description"]
        .as_str()
        .ok_or_else(|| malformed("the metadata statement has no `description`".into()))?;
    let description: String = description
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    // FIDO's own BLOBs have carried roots with stray whitespace (a tab
    // before one of 2024's); a root that still does not decode is left
    // out, which can only make fewer chains verify.
    let attestation_roots = statement["attestationRootCertificates"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|c| {
            let text: String = c.as_str()?.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            STANDARD.decode(text).ok().map(Base64Url::new)
        })
        .collect::<Vec<_>>();
    let reports = entry["statusReports"]
        .as_array()
        .ok_or_else(|| malformed("no `statusReports` list".into()))?;
    let mut certification_level: Option<CertificationLevel> = None;
    let mut level_date: Option<&str> = None;
    let mut distrust = None;
    let mut latest: Option<(&str, &str)> = None;
    for report in reports {
        let status = report["status"]
            .as_str()
            .ok_or_else(|| malformed("a status report has no `status`".into()))?;
        let date = report["effectiveDate"].as_str();
        // The level of the latest report that names one: a later, lower
        // certification replaces an earlier, higher one.
        if let Some(level) = CertificationLevel::of_status(status)
            && level_date.is_none_or(|d| date.unwrap_or("") >= d)
        {
            certification_level = Some(level);
            level_date = Some(date.unwrap_or(""));
        }
        if distrust.is_none() && DISTRUSTED_STATUSES.contains(&status) {
            distrust = Some(Distrust {
                status: status.to_owned(),
                effective_date: date.map(str::to_owned),
            });
        }
        // The latest by effective date; reports without one count as
        // listed (FIDO lists them oldest first).
        let date = date.unwrap_or("");
        if latest.is_none_or(|(_, d)| date >= d) {
            latest = Some((status, date));
        }
    }
    let status = latest
        .map(|(s, _)| s.to_owned())
        .ok_or_else(|| malformed("no status report".into()))?;
    Ok(ModelRecord {
        aaguid,
        description,
        attestation_roots,
        certification_level,
        status,
        distrust,
        blob_no,
    })
}

/// Whether a BLOB is past its `nextUpdate` at `now` (FIDO has published a
/// newer one, which may revoke models this one trusts).
pub fn is_stale(file: &MetadataFile, now: &UtcTime) -> bool {
    now.as_str()
        .get(..10)
        .is_some_and(|today| today > file.next_update.as_str())
}
