//! The verifier's scheduled import of FIDO's Metadata Service BLOB: an
//! EventBridge schedule invokes the function with
//! `{"tapprove": "import_fido_metadata"}`; the verifier reads the BLOB from
//! the S3 object its settings name (`[fido_metadata] object`), verifies it
//! against FIDO's root and signing certificate, and stores its models in
//! the registry exactly as `tapprove admin mds import` does (an older BLOB
//! is refused), recorded under `admin#metadata:fido` with the verifier's
//! own AWS identity.
//!
//! Whoever may invoke the function can at most make it import again what
//! the admin put in that object: the BLOB is verified, not believed.

use serde_json::{Value, json};
use tapprove_aws::dynamodb::{ChangedBy, DynamoRegistry, RegistryEvent};
use tapprove_config::FidoMetadataSettings;
use tapprove_core::metadata::{BlobTrust, MAX_BLOB_BYTES, is_stale, verify_blob};
use tapprove_proto::UtcTime;

/// The scheduled event's `tapprove` value.
pub const IMPORT: &str = "import_fido_metadata";

/// Whether `event` is the schedule's.
pub fn is_import(event: &Value) -> bool {
    event.as_object().is_some_and(|o| o.len() == 1) && event["tapprove"] == IMPORT
}

/// Reads, verifies and stores the BLOB; answers what was stored.
pub async fn import(
    aws: &aws_config::SdkConfig,
    registry: &DynamoRegistry,
    settings: &FidoMetadataSettings,
    now: &UtcTime,
) -> Result<Value, String> {
    let trust = match &settings.roots {
        None => BlobTrust::fido(),
        Some(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("cannot read fido_metadata.roots {}: {e}", path.display()))?;
            let roots = tapprove_core::webauthn::read_certificates(&bytes)
                .map_err(|e| format!("fido_metadata.roots {}: {e}", path.display()))?;
            BlobTrust::roots(roots)
        }
    };
    let object = tapprove_aws::s3::S3Object::parse(&settings.object).map_err(|e| e.to_string())?;
    let blob = object.get(aws, MAX_BLOB_BYTES).await.map_err(|e| e.to_string())?;
    let file = verify_blob(&blob, &trust, now).map_err(|e| e.to_string())?;
    // The same BLOB as stored (FIDO publishes about monthly, the schedule
    // runs daily): nothing to write, nothing to record.
    let stored = registry.stored_metadata().await.map_err(|e| e.to_string())?;
    if stored.as_ref().is_some_and(|s| {
        s.blob_sha256 == file.blob_sha256.to_string() && s.anchor == file.anchor && s.blob_no == file.blob_no
    }) {
        return Ok(json!({
            "imported": file.blob_no,
            "unchanged": true,
            "stale": is_stale(&file, now),
        }));
    }
    let caller = tapprove_aws::sts::Identity::new(aws)
        .caller()
        .await
        .map_err(|e| e.to_string())?;
    let event = RegistryEvent {
        by: ChangedBy::Admin,
        user: "metadata:fido".into(),
        event: "fido_metadata_imported",
        at: now.clone(),
        caller_arn: caller.arn,
        account: caller.account,
        detail: {
            let mut detail = file.summary();
            detail.insert("source".into(), json!(settings.object));
            detail
        },
    };
    match registry
        .import_metadata(&file, &event)
        .await
        .map_err(|e| e.to_string())?
    {
        Ok(()) => Ok(json!({
            "imported": file.blob_no,
            "models": file.models.len(),
            "stale": is_stale(&file, now),
        })),
        Err(conflict) => Err(conflict.to_string()),
    }
}
