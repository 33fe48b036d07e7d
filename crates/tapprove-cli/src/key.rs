//! `tapprove key create` and `tapprove key list`: software authenticator
//! keys and the registry file, offline.

use serde_json::json;
use tapprove_authn::software::{FileKeyStore, KeyStore, KeychainKeyStore};
use tapprove_core::VerifierPolicy;
use tapprove_core::enrolment::check_new_credential;
use tapprove_proto::registry::{CredentialEntry, CredentialStatus, RegistryFile};

use tapprove_engine::offline::{NewSoftwareCredential, SoftwareKeySpec, new_software_credential};

use crate::cli::{KeyCreateArgs, KeyListArgs, StoreSpec};
use crate::exit::{Failure, Result};
use crate::files::{now, write_atomically};
use crate::output::Output;
use crate::prompt::TerminalPrompt;

/// Opens the key store `--store` names.
pub fn open_store(spec: &StoreSpec) -> Result<Box<dyn KeyStore>> {
    Ok(match spec {
        StoreSpec::Keychain(service) => Box::new(KeychainKeyStore::open(service)?),
        StoreSpec::Dir(dir) => Box::new(FileKeyStore::open(dir)?),
    })
}

/// `tapprove key create`: a new software credential, checked like an
/// enrolment and added to the registry file. If the registry cannot be
/// written, the new key is deleted again, so the two never disagree.
pub fn create(out: &Output, args: KeyCreateArgs) -> Result {
    let now = now(None)?;
    let mut registry = if args.registry.exists() {
        let bytes = std::fs::read(&args.registry)
            .map_err(|e| Failure::input(format!("cannot read {}: {e}", args.registry.display())))?;
        RegistryFile::from_json(&bytes).map_err(|e| {
            Failure::input(format!(
                "{} is not a valid registry file, so it was left untouched: {e}",
                args.registry.display()
            ))
        })?
    } else {
        RegistryFile::default()
    };
    // Check the user and groups before anything is created.
    let mut candidate = registry.clone();
    let entry = candidate.users.entry(args.user.clone()).or_default();
    entry.groups.extend(args.groups.iter().cloned());
    candidate.validate().map_err(Failure::input)?;

    let store = open_store(&args.store.spec)?;
    let existing = registry
        .users
        .get(&args.user)
        .map(|u| u.credentials.iter().map(|c| c.credential_id.clone()).collect())
        .unwrap_or_default();
    let NewSoftwareCredential {
        challenge,
        client_data,
        created,
    } = new_software_credential(
        &store,
        &now,
        SoftwareKeySpec {
            user: &args.user,
            rp_id: &args.rp_id,
            label: &args.label,
            with_pin: args.with_pin,
            exclude: existing,
        },
        &TerminalPrompt::new(&args.pin),
    )?;

    let rollback = |failure: Failure| {
        let _ = store.delete(created.credential_id.as_bytes());
        failure
    };
    let checked = check_new_credential(
        &VerifierPolicy::new(&args.rp_id),
        &challenge,
        &client_data,
        &created.attestation_object,
        created.credential_id.as_bytes(),
        tapprove_core::enrolment::Judged {
            now: &now,
            model: None,
        },
    )
    .map_err(|e| rollback(Failure::failed("enrolment_failed", e)))?;

    let user = registry.users.entry(args.user.clone()).or_default();
    user.groups.extend(args.groups.iter().cloned());
    user.credentials.push(CredentialEntry {
        credential_id: checked.credential_id.clone(),
        public_key: checked.public_key,
        counter: checked.counter,
        aaguid: checked.aaguid,
        authenticator: created.kind,
        label: args.label.clone(),
        status: CredentialStatus::Active,
        created: now,
        last_used: None,
        model_proven: checked.model_proven,
        attestation: Some(checked.record),
    });
    let groups: Vec<String> = user.groups.iter().cloned().collect();
    write_atomically(&args.registry, registry.to_json_pretty().as_bytes()).map_err(|e| {
        rollback(Failure::failed(
            "registry_write_failed",
            format!(
                "cannot write {}: {e}; the new key was removed again",
                args.registry.display()
            ),
        ))
    })?;
    out.result(
        json!({
            "ok": true,
            "credential_id": checked.credential_id,
            "user": args.user,
            "groups": groups,
            "label": args.label,
            "rp_id": args.rp_id,
            "user_verification": checked.user_verified,
            "registry": args.registry,
            "store": args.store.spec,
        }),
        || {
            format!(
                "Created software key `{}` ({}) for {} in groups [{}]; registered in {}.",
                args.label,
                checked.credential_id,
                args.user,
                groups.join(", "),
                args.registry.display()
            )
        },
    );
    Ok(())
}

/// `tapprove key list`.
pub fn list(out: &Output, args: KeyListArgs) -> Result {
    let store = open_store(&args.store.spec)?;
    let keys = store.list()?;
    out.result(json!({"ok": true, "keys": keys}), || {
        if keys.is_empty() {
            return format!("No software keys in {}.", args.store.spec);
        }
        keys.iter()
            .map(|k| {
                format!(
                    "{}  {:<20} {} @ {}  counter {}{}",
                    k.credential_id,
                    k.label,
                    k.user,
                    k.rp_id,
                    k.counter,
                    if k.has_pin { "  (PIN)" } else { "" }
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}
