//! FIDO Metadata Service BLOBs, for both faces: verified against FIDO's
//! root before anything of them is used.

use tapprove_proto::UtcTime;
use tapprove_proto::metadata::MetadataFile;

use crate::error::{EngineError, Result, ServiceFailure};

/// Verifies `blob` (an MDS3 BLOB as downloaded) against FIDO's root and
/// signing certificate, or against `roots` (DER) when an admin names
/// others (FIDO's conformance BLOBs, a test BLOB), at `now`.
pub fn verify(blob: &[u8], roots: Option<Vec<Vec<u8>>>, now: &UtcTime) -> Result<MetadataFile> {
    let trust = roots.map_or_else(
        tapprove_core::metadata::BlobTrust::fido,
        tapprove_core::metadata::BlobTrust::roots,
    );
    tapprove_core::metadata::verify_blob(blob, &trust, now)
        .map_err(|e| EngineError::service(ServiceFailure::Refused, e.code(), e.to_string()))
}

/// Whether FIDO has published a newer BLOB than `file` by `now`.
pub fn is_stale(file: &MetadataFile, now: &UtcTime) -> bool {
    tapprove_core::metadata::is_stale(file, now)
}

/// Reads a BLOB an admin keeps in S3 (`s3://bucket/key`), with the
/// credentials of `aws`.
pub async fn fetch(aws: &aws_config::SdkConfig, uri: &str) -> Result<Vec<u8>> {
    let object = tapprove_aws::s3::S3Object::parse(uri)?;
    Ok(object.get(aws, tapprove_core::metadata::MAX_BLOB_BYTES).await?)
}
