//! `tapprove gate`: install an approval gate, start one (`request`) and
//! follow it (`status`).

use std::time::Duration;

use serde_json::{Value, json};
use tapprove_config::Config;
use tapprove_engine::install::{GatePlan, SourceKind};

use crate::cli::{GateCommand, InstallArgs, SourceArg};
use crate::context::Invocation;
use crate::exit::{Failure, Result};
use crate::output::truncate;

pub async fn run(invocation: &Invocation, command: GateCommand) -> Result {
    let aws = invocation.aws_config().await?;
    match command {
        GateCommand::Install(args) => install_gate(invocation, &aws, args).await,
        GateCommand::Request {
            title,
            requested_by,
            approvers,
            quorum,
            timeout,
            details,
        } => {
            request_execution(
                invocation,
                &aws,
                title,
                requested_by,
                approvers,
                quorum,
                timeout,
                &details,
            )
            .await
        }
        GateCommand::Status { execution, wait } => execution_status(invocation, &aws, &execution, wait).await,
    }
}

/// `tapprove gate install`.
async fn install_gate(invocation: &Invocation, aws: &aws_config::SdkConfig, args: InstallArgs) -> Result {
    let InstallArgs {
        name,
        group,
        source,
        prefix,
        role_arn,
        rp_id,
        accounts,
        approver_roles,
        allow_iam_users,
        requesters,
        oidc_issuer,
        oidc_client_id,
        oidc_roles,
        oidc_claim,
        announce,
    } = args;
    let identity = tapprove_config::IdentitySettings {
        accounts,
        roles: if approver_roles.is_empty() {
            tapprove_config::default_approver_roles()
        } else {
            approver_roles
        },
        iam_users: allow_iam_users,
        requesters,
        oidc: oidc_issuer.map(|issuer| tapprove_config::OidcIdentity {
            issuer,
            audience: oidc_client_id.unwrap_or_default(),
            roles: oidc_roles,
            claim: oidc_claim,
        }),
    };
    let role_arn = match role_arn {
        Some(r) => r,
        None => {
            let caller = tapprove_engine::account::caller(aws).await?;
            format!("arn:aws:iam::{}:role/tapprove-gate", caller.account)
        }
    };
    let plan = GatePlan {
        name,
        group,
        source: match source {
            SourceArg::Activity => SourceKind::Activity,
            SourceArg::Queue => SourceKind::Queue,
        },
        table_prefix: prefix,
        role_arn,
        rp_id,
        identity,
        announce,
    };
    let config = tapprove_engine::install::install(aws, &plan, &invocation.now()).await?;
    let path = Config::locate(Some(&invocation.config_path));
    config
        .save(&path)
        .map_err(|e| Failure::failed("write_failed", e))?;
    let arn = config
        .gate
        .as_ref()
        .map(|g| g.state_machine_arn.clone())
        .unwrap_or_default();
    let topic = config.announcements.as_ref().map(|a| a.topic_arn.clone());
    invocation.out.result(
        json!({"ok": true, "state_machine_arn": arn, "config": path, "announcement_topic_arn": topic}),
        || {
            let mut text = format!(
                "Installed gate {} ({arn}); settings written to {}.",
                plan.name,
                path.display()
            );
            if let Some(topic) = &topic {
                text.push_str(&format!(
                    "\nThe verifier announces requests and outcomes to {topic}: subscribe with `aws sns subscribe --topic-arn {topic} --protocol email --notification-endpoint YOU@EXAMPLE.COM` (see the admin guide, \"Announcements\")."
                ));
            }
            text
        },
    );
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn request_execution(
    invocation: &Invocation,
    aws: &aws_config::SdkConfig,
    title: String,
    requested_by: Option<String>,
    approvers: Option<String>,
    quorum: u32,
    timeout: u64,
    details: &str,
) -> Result {
    // `@FILE`: details too large for a command line (Linux caps one
    // argument at 128 KiB).
    let details = match details.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| Failure::input(format!("cannot read the details file {path}: {e}")))?,
        None => details.to_owned(),
    };
    let spec = tapprove_engine::gate::RequestSpec {
        title,
        approvers,
        quorum,
        timeout_seconds: timeout,
        details,
        requested_by,
    };
    let opened = tapprove_engine::gate::request(aws, &invocation.config()?, spec).await?;
    // Scripts read the ARN from stdout; the note goes to stderr.
    let value = match &opened {
        tapprove_engine::gate::Opened::Claimed {
            execution,
            requested_by,
        } => {
            invocation.out.note(&format!(
                "requested by {requested_by} ({}): the gate was started directly",
                tapprove_proto::REQUESTER_CLAIMED
            ));
            json!({"ok": true, "execution": execution, "requester_verified": false})
        }
        tapprove_engine::gate::Opened::Proven(receipt) => {
            invocation.out.note(&format!(
                "requested by {}, as AWS proved it",
                receipt.requester.name()
            ));
            json!({"ok": true, "execution": receipt.execution, "requester": receipt.requester, "requester_verified": true})
        }
    };
    invocation.out.result(value, || opened.execution().to_owned());
    Ok(())
}

async fn execution_status(
    invocation: &Invocation,
    aws: &aws_config::SdkConfig,
    execution: &str,
    wait: Option<u64>,
) -> Result {
    let state = tapprove_engine::gate::status(aws, execution, Duration::from_secs(wait.unwrap_or(0))).await?;
    let output: Option<Value> = state.output.as_deref().and_then(|o| serde_json::from_str(o).ok());
    let value = json!({"ok": true, "status": state.status, "output": output, "error": state.error, "cause": state.cause});
    invocation.out.result(value, || {
        let mut text = state.status.clone();
        if let Some(error) = &state.error {
            text.push_str(&format!(": {error}"));
        }
        if let Some(cause) = &state.cause {
            text.push('\n');
            text.push_str(&truncate(cause, 2000));
        }
        if let Some(output) = &output {
            text.push('\n');
            text.push_str(&serde_json::to_string_pretty(output).unwrap_or_default());
        }
        text
    });
    Ok(())
}
