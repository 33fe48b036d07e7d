//! `tapprove admin attestation`: one registration checked offline, as the
//! enrolment service checks it, so an admin can vet an authenticator model
//! before allowing it: which format, which model it claims, whether a
//! chain to the organisation's roots proves that model, and whether the
//! organisation's rules accept it.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use tapprove_core::VerifierPolicy;
use tapprove_core::enrolment::{Judged, check_new_credential};
use tapprove_core::webauthn::{AttestationObject, ClientData};
use tapprove_proto::registry::AuthenticatorKind;

use crate::cli::MdsTrustArgs;
use crate::context::Invocation;
use crate::exit::{Failure, Kind, Result};
use crate::files::read_input;

/// The bytes of a file that holds them raw or as base64url text.
fn bytes_of(path: &Path, what: &str) -> Result<Vec<u8>> {
    let raw = read_input(path, what)?;
    let text = std::str::from_utf8(&raw).map(str::trim).unwrap_or("");
    let looks_encoded = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=');
    if looks_encoded {
        return URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|e| Failure::input(format!("the {what} looks like base64url but is not: {e}")));
    }
    Ok(raw)
}

/// What `admin attestation` was asked to vet, and against what.
#[derive(Debug)]
pub struct Vetting<'a> {
    pub object: &'a Path,
    pub client_data: &'a Path,
    pub rp_id: Option<String>,
    /// A FIDO metadata BLOB to judge the model by.
    pub mds: Option<&'a Path>,
    pub trust: &'a MdsTrustArgs,
    /// Judge as of this time instead of now.
    pub now: Option<&'a str>,
}

pub fn run(invocation: &Invocation, vetting: Vetting<'_>) -> Result {
    let rp_id = vetting.rp_id;
    let now = crate::files::now(vetting.now)?;
    let object = bytes_of(vetting.object, "attestation object")?;
    let client_data = bytes_of(vetting.client_data, "clientDataJSON")?;
    // The BLOB is verified (as of --now too: its certificates expire)
    // before the registration is judged by it.
    let metadata = vetting
        .mds
        .map(|path| crate::mds::verified(path, vetting.trust, &now))
        .transpose()?;
    if let Some(file) = &metadata
        && tapprove_engine::metadata::is_stale(file, &now)
    {
        invocation.out.note(&crate::mds::stale_warning(file));
    }
    // Only a missing settings file falls back to --rp-id alone: a broken
    // one, or a policy that does not load, is an error, not "no rules".
    let loaded = tapprove_config::Settings::load(&invocation.config_path, &tapprove_config::policy_path());
    let (mut policy, rules) = match (loaded, &rp_id) {
        (Ok(settings), _) => (settings.config.enrolment_policy().map_err(Failure::input)?, true),
        (Err(tapprove_config::ConfigError::NotFound(_)), Some(rp_id)) => {
            (VerifierPolicy::new(rp_id.clone()), false)
        }
        (Err(e), _) => {
            return Err(Failure::input(format!(
                "{e}: give settings with --config, or, with none, the relying-party id to check for with --rp-id"
            )));
        }
    };
    if let Some(rp_id) = rp_id {
        policy.rp_id = rp_id;
    }
    // What is vetted is the statement, not its freshness: the challenge is
    // the one the clientDataJSON answers.
    let client =
        ClientData::parse(&client_data).map_err(|e| Failure::input(format!("not a clientDataJSON: {e}")))?;
    let challenge = URL_SAFE_NO_PAD
        .decode(&client.challenge)
        .map_err(|e| Failure::input(format!("the clientDataJSON's challenge is not base64url: {e}")))?;
    let parsed = AttestationObject::parse(&object)
        .map_err(|e| Failure::input(format!("not an attestation object: {e}")))?;
    let credential = parsed.auth_data.attested_credential.as_ref().ok_or_else(|| {
        Failure::input("the attestation object holds no credential: it is not a registration")
    })?;
    let claimed = AuthenticatorKind::of_aaguid(credential.aaguid);
    let model = metadata.as_ref().and_then(|m| m.model(&credential.aaguid));
    let checked = check_new_credential(
        &policy,
        &challenge,
        &client_data,
        &object,
        &credential.credential_id,
        Judged { now: &now, model },
    )
    .map_err(|e| Failure {
        kind: Kind::Rejected,
        code: e.code().to_owned(),
        message: e.to_string(),
        rule: None,
    })?;
    let format = checked.attestation.name();
    invocation.out.result(
        json!({
            "ok": true,
            "format": format,
            "aaguid": checked.aaguid.to_string(),
            "kind": claimed,
            "model_proven": checked.model_proven,
            "trust_path": checked.record.trust_path,
            "model": checked.model.as_ref().map(|m| json!({
                "description": m.description,
                "status": m.status,
                "certification_level": m.certification_level,
                "blob_no": m.blob_no,
            })),
            "user_verified": checked.user_verified,
            "rp_id": policy.rp_id,
            "organisation_rules": rules,
        }),
        || {
            let model = match checked.record.trust_path {
                _ if !checked.model_proven => "claimed only (no chain to a trusted root naming it)",
                tapprove_proto::registry::TrustPath::FidoMetadata => {
                    "proven by a chain to the roots FIDO's metadata lists for it"
                }
                _ => "proven by a chain to a root the organisation trusts",
            };
            let fido = checked.model.as_ref().map_or_else(
                || "not described (no FIDO metadata given, or it does not list this model)".to_owned(),
                |m| {
                    format!(
                        "{}: {}{} (BLOB #{})",
                        m.description,
                        m.status,
                        m.certification_level.map(|l| format!(", certified {l}")).unwrap_or_default(),
                        m.blob_no
                    )
                },
            );
            let under = if rules {
                "under the organisation's rules"
            } else {
                "with no settings (no rule on the model applies)"
            };
            format!(
                "accepted {under} for {}\nformat    {format}\naaguid    {} ({}, {model})\nFIDO      {fido}\nuser      {}",
                policy.rp_id,
                checked.aaguid,
                claimed.as_str(),
                if checked.user_verified {
                    "verified (PIN or biometry)"
                } else {
                    "present (touch only)"
                }
            )
        },
    );
    Ok(())
}
