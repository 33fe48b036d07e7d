//! `tapprove verify`: a decision checked against every rule, offline.

use std::collections::BTreeSet;

use serde_json::json;
use tapprove_core::registry::MemoryRegistry;
use tapprove_core::{VerifiedDecision, Verifier, VerifierPolicy, VerifyError};
use tapprove_proto::Aaguid;
use tapprove_proto::registry::RegistryFile;

use crate::cli::VerifyArgs;
use crate::exit::{Failure, Result};
use crate::files::{now, read_input};
use crate::output::Output;

/// `tapprove verify`: every rule, offline, against a registry file.
///
/// Read-only: the registry file is not changed, so verifying an archived
/// decision twice gives the same answer. Counters are compared with the
/// file's; single use is enforced within one run.
pub fn run(out: &Output, args: VerifyArgs) -> Result {
    if let Some(path) = &args.evidence {
        return evidence(out, path, args.now.as_deref());
    }
    let (Some(request), Some(decision), Some(registry)) = (&args.request, &args.decision, &args.registry)
    else {
        return Err(Failure::input(
            "give --request, --decision and --registry, or --evidence",
        ));
    };
    if [request, decision, registry]
        .iter()
        .filter(|p| crate::files::is_stdin(p))
        .count()
        > 1
    {
        return Err(Failure::input(
            "only one of --request, --decision and --registry can be `-`",
        ));
    }
    let request = read_input(request, "request")?;
    let decision = read_input(decision, "decision")?;
    let registry_bytes = read_input(registry, "registry")?;
    let registry = RegistryFile::from_json(&registry_bytes)
        .map_err(|e| Failure::input(format!("the registry file is not valid: {e}")))?;
    let now = now(args.now.as_deref())?;

    let mut policy = VerifierPolicy::new(&args.rp_id);
    policy.extra_origins = args.origins.clone();
    policy.require_user_verification = args.require_uv;
    policy.allow_self_approval = args.allow_self_approval;
    policy.allow_software_authenticators = !args.forbid_software;
    policy.accept_self_reported_models = args.accept_self_reported_models;
    if !args.allowed_aaguids.is_empty() {
        let set: BTreeSet<Aaguid> = args
            .allowed_aaguids
            .iter()
            .map(|a| Aaguid::parse(a).map_err(|e| Failure::input(format!("--allowed-aaguid: {e}"))))
            .collect::<Result<_>>()?;
        policy.allowed_aaguids = Some(set);
    }
    if let Some(level) = &args.min_certification_level {
        policy.min_certification_level = Some(
            tapprove_proto::metadata::CertificationLevel::parse(level)
                .map_err(|e| Failure::input(format!("--min-certification-level: {e}")))?,
        );
    }

    let memory = MemoryRegistry::from_file(&registry);
    // FIDO's word on each model as of --now (the BLOB verified first).
    if let Some(path) = &args.mds {
        let file = crate::mds::verified(path, &args.trust, &now)?;
        memory.set_models(file.models);
    }
    let verifier = Verifier::new(&policy, &memory, &memory);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| Failure::failed("runtime", e))?;
    match runtime.block_on(verifier.verify_json(&request, &decision, &now)) {
        Ok(verified) => {
            let (verdict, detail) = match &verified {
                VerifiedDecision::Approve(a) => ("approve", serde_json::to_value(a)),
                VerifiedDecision::Deny(d) => ("deny", serde_json::to_value(d)),
            };
            let detail = detail.map_err(|e| Failure::failed("output", e))?;
            out.result(
                json!({
                    "ok": true,
                    "verdict": verdict,
                    "approver": detail["approver"],
                    "credential_id": detail["credential_id"],
                    "credential_label": detail["credential_label"],
                    "authenticator": detail["authenticator"],
                    "user_verified": detail["user_verified"],
                    "request_sha256": detail["request_sha256"],
                    "execution": detail["execution"],
                    "signed_at": detail["signed_at"],
                    "reason": detail.get("reason"),
                }),
                || {
                    format!(
                        "OK: {verdict} by {} with `{}` ({}), signed at {}, for request {}",
                        verified.approver(),
                        detail["credential_label"].as_str().unwrap_or_default(),
                        verified.credential_id(),
                        detail["signed_at"].as_str().unwrap_or_default(),
                        detail["request_sha256"].as_str().unwrap_or_default(),
                    )
                },
            );
            Ok(())
        }
        Err(VerifyError::Rejected(rejection)) => Err(Failure::rejected(&rejection)),
        Err(e) => Err(Failure::failed("verifier_error", e)),
    }
}

/// `tapprove verify --evidence FILE`: a whole execution's evidence, offline.
fn evidence(out: &Output, path: &std::path::Path, now: Option<&str>) -> Result {
    let bytes = read_input(path, "evidence")?;
    let bundle = tapprove_proto::evidence::Evidence::from_json(&bytes).map_err(Failure::input)?;
    let now = crate::files::now(now)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| Failure::failed("runtime", e))?;
    let report = runtime
        .block_on(tapprove_core::evidence::verify(&bundle, &now))
        .map_err(|e| match e {
            tapprove_core::evidence::EvidenceError::Malformed(m) => {
                Failure::input(format!("the evidence is malformed: {m}"))
            }
            refused => Failure {
                kind: crate::exit::Kind::Rejected,
                code: refused.code().to_owned(),
                message: refused.to_string(),
                rule: None,
            },
        })?;
    let mut value = serde_json::to_value(&report).map_err(|e| Failure::failed("internal", e))?;
    value["ok"] = true.into();
    out.result(value, || {
        let mut lines = vec![
            format!("Evidence of {} holds.", report.execution),
            format!(
                "Request   \"{}\" asked by {} ({}), SHA-256 {}",
                crate::output::truncate(&report.title, 80),
                report.requested_by,
                if report.requester_verified {
                    "AWS proved it"
                } else {
                    "claimed, not proven"
                },
                report.request_sha256
            ),
            format!(
                "Rule      {}: {} (execution {})",
                report.rule,
                if report.rule_met { "met" } else { "not met" },
                report.execution_status
            ),
        ];
        for d in &report.decisions {
            let kind = report
                .credentials
                .iter()
                .find(|c| Some(&c.credential_id) == d.credential.as_ref())
                .map(|c| format!(" with {} `{}` (registration {})", c.kind, c.label, c.registration))
                .unwrap_or_default();
            lines.push(format!(
                "{}  {} {}{}: {}",
                d.at,
                d.approver,
                d.verdict.as_deref().unwrap_or("(unreadable decision)"),
                kind,
                if d.verified_offline {
                    "counted by the gate, verified again here".to_owned()
                } else {
                    format!("refused by the gate ({})", d.recorded)
                }
            ));
        }
        lines.join("\n")
    });
    Ok(())
}
