//! `tapprove authenticators`: the caller's own registered credentials,
//! listed, confirmed, renamed or revoked through the enrolment service.

use serde_json::json;
use tapprove_engine::enrol;
use tapprove_proto::Base64Url;
use tapprove_proto::enrolment::CredentialAction;
use tapprove_proto::registry::CredentialStatus;

use crate::cli::AuthenticatorsCommand;
use crate::context::Invocation;
use crate::exit::{Failure, Result};
use crate::output::truncate;
use crate::prompt::TerminalPrompt;

/// `tapprove authenticators`: the caller's registered credentials, through
/// the enrolment service (which knows the caller by their AWS identity).
pub async fn run(invocation: &Invocation, command: Option<AuthenticatorsCommand>) -> Result {
    let engine = invocation.engine().await?;
    let service = enrol::Endpoint::from_settings(&invocation.settings()?, None)?.ok_or_else(|| {
        Failure::input(
            "no enrolment service is configured ([enrolment] url): ask your admin to list or revoke your credentials (`tapprove admin credentials USER`)",
        )
    })?;
    let parse_id = |id: &str| {
        Base64Url::decode(id).map_err(|e| {
            Failure::input(format!(
                "`{id}` is not a credential id ({e}): copy it from `tapprove authenticators`"
            ))
        })
    };
    let (action, done) = match command.unwrap_or(AuthenticatorsCommand::List) {
        AuthenticatorsCommand::Confirm { id, pin } => {
            let pending = parse_id(&id)?;
            let signer = engine.signer().await?;
            let answer = engine
                .confirm(&service, &pending, &signer, &TerminalPrompt::new(&pin))
                .await?;
            return show_credentials(
                invocation,
                answer,
                Some(format!("Confirmed {id}: it signs from now on.")),
            );
        }
        AuthenticatorsCommand::List => (CredentialAction::List, None),
        AuthenticatorsCommand::Rename { id, label } => (
            CredentialAction::Rename {
                credential_id: parse_id(&id)?,
                label: label.clone(),
            },
            Some(format!("Renamed {id} to `{label}`.")),
        ),
        AuthenticatorsCommand::Revoke { id } => (
            CredentialAction::Revoke {
                credential_id: parse_id(&id)?,
            },
            Some(format!("Revoked {id}: it never verifies again.")),
        ),
    };
    let answer = engine.own_credentials(&service, action).await?;
    show_credentials(invocation, answer, done)
}

/// Remembers and prints the caller's credentials after an action.
fn show_credentials(
    invocation: &Invocation,
    answer: tapprove_proto::enrolment::CredentialsAnswer,
    done: Option<String>,
) -> Result {
    invocation.out.result(
        json!({"ok": true, "user": answer.user, "credentials": answer.credentials}),
        || {
            let mut text = done.map(|d| format!("{d}\n")).unwrap_or_default();
            if answer.credentials.is_empty() {
                text.push_str(&format!(
                    "{} has no registered authenticator: run `tapprove enroll`.",
                    answer.user
                ));
            }
            for c in &answer.credentials {
                text.push_str(&format!(
                    "{}  {:<12}  {:<8}  {}  key {}  created {}{}\n",
                    c.credential_id,
                    c.kind.as_str(),
                    match c.status {
                        CredentialStatus::Active => "active",
                        CredentialStatus::Pending => "pending",
                        CredentialStatus::Revoked => "revoked",
                    },
                    truncate(&c.label, 60),
                    c.key_sha256.get(..16).unwrap_or(&c.key_sha256),
                    c.created,
                    c.last_used
                        .as_deref()
                        .map(|u| format!(", last used {u}"))
                        .unwrap_or_default(),
                ));
            }
            text.trim_end().to_owned()
        },
    );
    Ok(())
}
