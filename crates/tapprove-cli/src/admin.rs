//! `tapprove admin`: a deployment's approver groups, gate policies,
//! credentials and audit records (`admin policy` is in `policy.rs`).

use serde_json::json;
use tapprove_engine::admin;
use tapprove_engine::admin::Admin;
use tapprove_proto::Base64Url;
use tapprove_proto::enrolment::EnrolmentRequest;

use crate::cli::AdminCommand;
use crate::context::Invocation;
use crate::exit::{Failure, Result};
use crate::files::read_input;

pub async fn run(invocation: &Invocation, command: AdminCommand) -> Result {
    // The policy is written before any settings exist.
    let command = match command {
        AdminCommand::Policy { command } => return crate::policy::run(invocation, command).await,
        // Offline: no AWS.
        AdminCommand::Attestation {
            attestation_object,
            client_data_json,
            rp_id,
            mds,
            trust,
            now,
        } => {
            return crate::attestation::run(
                invocation,
                crate::attestation::Vetting {
                    object: &attestation_object,
                    client_data: &client_data_json,
                    rp_id,
                    mds: mds.as_deref(),
                    trust: &trust,
                    now: now.as_deref(),
                },
            );
        }
        AdminCommand::Mds { command } => return crate::mds::run(invocation, command).await,
        other => other,
    };
    let config = invocation.config()?;
    let aws = invocation.aws_config().await?;
    match command {
        AdminCommand::Grant { user, group } => {
            let admin = Admin::new(&aws, &config).await?;
            let granted = admin.grant(&user, &group).await?;
            invocation.out.result(
                json!({
                    "ok": true,
                    "user": user,
                    "group": group,
                    "added": granted.added,
                    "queue_url": granted.queue_url,
                }),
                || match (granted.added, &granted.queue_url) {
                    (true, _) => format!("{user} is now in {group}."),
                    (false, Some(_)) => {
                        format!("{user} was in {group} already; their queue is set up again.")
                    }
                    (false, None) => format!("{user} was in {group} already."),
                },
            );
        }
        AdminCommand::GatePolicy {
            gate,
            rules,
            min_quorum,
            max_timeout,
            require_verified_requester,
        } => {
            let admin = Admin::new(&aws, &config).await?;
            if !rules.is_empty() {
                let mut rule = Vec::new();
                for text in &rules {
                    let (group, count) = text
                        .rsplit_once(':')
                        .and_then(|(g, n)| n.parse::<u32>().ok().map(|n| (g, n)))
                        .ok_or_else(|| {
                            Failure::input(format!("`{text}` is not GROUP:COUNT (for example sre:1)"))
                        })?;
                    rule.push(tapprove_proto::gate_policy::Clause {
                        group: group.to_owned(),
                        count,
                    });
                }
                let total = rule.iter().map(|c| c.count).fold(0u32, u32::saturating_add);
                let policy = tapprove_proto::gate_policy::GatePolicy {
                    tapprove: tapprove_proto::gate_policy::GatePolicyVersion,
                    rule,
                    min_quorum: min_quorum.unwrap_or(total),
                    max_timeout_seconds: max_timeout.unwrap_or(tapprove_proto::limits::MAX_TIMEOUT_SECONDS),
                    require_verified_requester,
                };
                admin.set_gate_policy(&gate, &policy).await?;
            }
            match admin.gate_policy(&gate).await? {
                Some(policy) => invocation.out.result(json!({"ok": true, "gate": gate, "policy": policy}), || {
                    format!(
                        "{gate}: {}, at least {} in all; requests wait at most {} s{}.",
                        policy.describe(),
                        policy.min_quorum,
                        policy.max_timeout_seconds,
                        if policy.require_verified_requester {
                            "; only requesters AWS proved"
                        } else {
                            ""
                        }
                    )
                }),
                None => invocation.out.result(json!({"ok": true, "gate": gate, "policy": null}), || {
                    format!(
                        "{gate} has no policy: its requests' own group and quorum decide. Set one: tapprove admin gate-policy {gate} --rule GROUP:1"
                    )
                }),
            }
        }
        AdminCommand::Bind { user, principal } => {
            Admin::new(&aws, &config).await?.bind(&user, &principal).await?;
            invocation
                .out
                .result(json!({"ok": true, "user": user, "principal": principal}), || {
                    format!("{user} now belongs to the AWS principal {principal}.")
                });
        }
        AdminCommand::Revoke { user, group } => {
            Admin::new(&aws, &config).await?.revoke(&user, &group).await?;
            invocation
                .out
                .result(json!({"ok": true}), || format!("{user} is no longer in {group}."));
        }
        AdminCommand::Register { file } => {
            let bytes = read_input(&file, "enrolment request")?;
            let request = EnrolmentRequest::from_json(&bytes)
                .map_err(|e| Failure::input(format!("not an enrolment request: {e}")))?;
            let record = Admin::new(&aws, &config)
                .await?
                .register_request(&request)
                .await?;
            invocation.out.result(
                json!({"ok": true, "user": request.user, "credential_id": record.credential_id}),
                || format!("Registered `{}` for {}.", request.label, request.user),
            );
        }
        AdminCommand::Credentials {
            user,
            revoke,
            activate,
        } => {
            let admin = Admin::new(&aws, &config).await?;
            if let Some(id) = revoke {
                let id = Base64Url::decode(&id).map_err(|e| Failure::input(format!("--revoke: {e}")))?;
                admin.revoke_credential(&user, &id).await?;
            }
            if let Some(id) = activate {
                let id = Base64Url::decode(&id).map_err(|e| Failure::input(format!("--activate: {e}")))?;
                admin.activate_credential(&user, &id).await?;
            }
            let list = admin.credentials(&user).await?;
            invocation
                .out
                .result(json!({"ok": true, "user": user, "credentials": list}), || {
                    if list.is_empty() {
                        return format!("{user} has no registered credentials.");
                    }
                    list.iter()
                        .map(|c| {
                            format!(
                                "{}  {:<20} {:<12} {:?}  counter {}  model {}",
                                c.credential_id,
                                c.label,
                                c.kind.as_str(),
                                c.status,
                                c.counter,
                                if c.model_proven { "proven" } else { "claimed" }
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                });
        }
        AdminCommand::Evidence {
            execution,
            out,
            in_toto,
        } => {
            let admin = Admin::new(&aws, &config).await?;
            let bundle = admin.evidence(&execution).await?;
            let document = if in_toto {
                tapprove_core::evidence::in_toto(&bundle).map_err(|e| {
                    let code = e.code().to_owned();
                    Failure::failed(&code, e)
                })?
            } else {
                serde_json::to_value(&bundle).map_err(|e| Failure::failed("internal", e))?
            };
            let text = serde_json::to_string_pretty(&document).map_err(|e| Failure::failed("internal", e))?;
            crate::files::write_atomically(&out, text.as_bytes()).map_err(|e| {
                Failure::failed("write_failed", format!("cannot write {}: {e}", out.display()))
            })?;
            let decisions = bundle
                .audit
                .iter()
                .filter(|r| r.get("decision").is_some())
                .count();
            invocation.out.result(
                json!({"ok": true, "out": out, "decisions": decisions, "approvers": bundle.approvers.keys().collect::<Vec<_>>(), "in_toto": in_toto}),
                || {
                    format!(
                        "Wrote the evidence of {execution} to {}: {decisions} decisions by {}. Verify it anywhere with `tapprove verify --evidence {}`.",
                        out.display(),
                        bundle.approvers.keys().cloned().collect::<Vec<_>>().join(", "),
                        out.display()
                    )
                },
            );
        }
        AdminCommand::Audit { execution, user } => {
            let records = match (execution, user) {
                (Some(execution), None) => admin::registry(&aws, &config)
                    .audit_of(&execution)
                    .await
                    .map_err(|e| Failure::failed("aws_error", e))?,
                (None, Some(user)) => Admin::new(&aws, &config).await?.audit_of_user(&user).await?,
                _ => unreachable!("clap requires exactly one of EXECUTION and --user"),
            };
            invocation
                .out
                .result(json!({"ok": true, "records": records}), || {
                    records
                        .iter()
                        .map(|r| r.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                });
        }
        AdminCommand::Policy { .. } | AdminCommand::Attestation { .. } | AdminCommand::Mds { .. } => {
            unreachable!("answered before the settings are read")
        }
    }
    Ok(())
}
