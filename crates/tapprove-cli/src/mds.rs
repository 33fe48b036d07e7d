//! `tapprove admin mds`: FIDO Metadata Service BLOBs, verified against
//! FIDO's root before anything of them is stored or used.

use std::path::Path;

use serde_json::json;
use tapprove_engine::admin::Admin;
use tapprove_proto::UtcTime;
use tapprove_proto::metadata::MetadataFile;

use crate::cli::{MdsCommand, MdsTrustArgs};
use crate::context::Invocation;
use crate::exit::{Failure, Result};
use crate::files::read_input;

/// The roots a BLOB must chain to: `--fido-root`, else FIDO's.
fn roots(trust: &MdsTrustArgs) -> Result<Option<Vec<Vec<u8>>>> {
    let Some(path) = &trust.fido_root else {
        return Ok(None);
    };
    let bytes = read_input(path, "FIDO root")?;
    let roots = tapprove_core::webauthn::read_certificates(&bytes)
        .map_err(|e| Failure::input(format!("--fido-root {}: {e}", path.display())))?;
    if roots.is_empty() {
        return Err(Failure::input(format!(
            "--fido-root {} holds no certificate",
            path.display()
        )));
    }
    Ok(Some(roots))
}

/// Reads and verifies the BLOB at `path` as of `now`.
pub fn verified(path: &Path, trust: &MdsTrustArgs, now: &UtcTime) -> Result<MetadataFile> {
    let blob = read_input(path, "FIDO metadata BLOB")?;
    Ok(tapprove_engine::metadata::verify(&blob, roots(trust)?, now)?)
}

/// The warning for a BLOB FIDO has replaced.
pub fn stale_warning(file: &MetadataFile) -> String {
    format!(
        "warning: FIDO metadata BLOB #{} was due to be replaced on {}: a newer one may revoke models this one trusts. Download the current BLOB from https://mds3.fidoalliance.org/ and import it",
        file.blob_no, file.next_update
    )
}

pub async fn run(invocation: &Invocation, command: MdsCommand) -> Result {
    let config = invocation.config()?;
    let aws = invocation.aws_config().await?;
    let admin = Admin::new(&aws, &config).await?;
    match command {
        MdsCommand::Import { file, trust } => {
            let blob = match file.to_str().filter(|f| f.starts_with("s3://")) {
                Some(uri) => tapprove_engine::metadata::fetch(&aws, uri).await?,
                None => read_input(&file, "FIDO metadata BLOB")?,
            };
            let imported = admin.import_metadata(&blob, roots(&trust)?).await?;
            let f = &imported.file;
            let distrusted: Vec<String> = f
                .models
                .iter()
                .filter_map(|m| {
                    m.distrust
                        .as_ref()
                        .map(|d| format!("{} ({})", m.name(), d.status))
                })
                .collect();
            if imported.stale {
                invocation.out.note(&stale_warning(f));
            }
            if f.anchor != "fido" {
                invocation.out.note(
                    "warning: this BLOB was verified against the roots given with --fido-root, not FIDO's: the verifier now trusts what it says. Import FIDO's BLOB (without --fido-root) for production",
                );
            }
            invocation.out.result(
                json!({
                    "ok": true,
                    "blob_no": f.blob_no,
                    "anchor": f.anchor,
                    "next_update": f.next_update,
                    "blob_sha256": f.blob_sha256.to_string(),
                    "models": f.models.len(),
                    "skipped_entries": f.skipped_entries,
                    "distrusted": distrusted,
                    "stale": imported.stale,
                }),
                || {
                    let mut text = format!(
                        "Imported FIDO metadata BLOB #{} (FIDO publishes the next by {}): {} authenticator models; {} entries without an AAGUID (U2F, UAF) not kept.",
                        f.blob_no,
                        f.next_update,
                        f.models.len(),
                        f.skipped_entries
                    );
                    if !distrusted.is_empty() {
                        text.push_str(&format!(
                            "\nFIDO reports these models untrustworthy; they neither enrol nor verify:\n  {}",
                            distrusted.join("\n  ")
                        ));
                    }
                    text
                },
            );
        }
        MdsCommand::Status => {
            let stored = admin.stored_metadata().await?;
            let today = crate::files::system_now();
            let stale = stored.as_ref().is_some_and(|s| {
                today
                    .as_str()
                    .get(..10)
                    .is_some_and(|d| d > s.next_update.as_str())
            });
            invocation.out.result(
                json!({
                    "ok": true,
                    "imported": stored.is_some(),
                    "blob_no": stored.as_ref().map(|s| s.blob_no),
                    "anchor": stored.as_ref().map(|s| &s.anchor),
                    "next_update": stored.as_ref().map(|s| &s.next_update),
                    "imported_at": stored.as_ref().map(|s| &s.imported_at),
                    "models": stored.as_ref().map(|s| s.models.len()),
                    "stale": stale,
                }),
                || match &stored {
                    None => "No FIDO metadata imported: models are judged by the organisation's roots alone. Import it with `tapprove admin mds import BLOB`.".into(),
                    Some(s) => format!(
                        "FIDO metadata BLOB #{} imported {}: {} models. FIDO publishes the next by {}{}",
                        s.blob_no,
                        s.imported_at,
                        s.models.len(),
                        s.next_update,
                        if stale { " (overdue: import the current BLOB)" } else { "" }
                    ),
                },
            );
        }
    }
    Ok(())
}
