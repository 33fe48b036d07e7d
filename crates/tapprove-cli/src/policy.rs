//! `tapprove admin policy`: the organisation's policy file (see
//! `tapprove_config::policy`), written from a deployed stack and checked
//! before it is shipped in an installer.

use std::path::Path;

use serde_json::json;
use tapprove_config::{
    ClockTime, OidcSettings, QuietHours, SignIn, SsoSettings, UpdateChannel, UpdateSettings,
};

use crate::cli::{ChannelArg, PolicyCommand, PolicyInitArgs};
use crate::context::Invocation;
use crate::exit::{Failure, Result};

pub async fn run(invocation: &Invocation, command: PolicyCommand) -> Result {
    match command {
        PolicyCommand::Init(args) => init(invocation, *args).await,
        PolicyCommand::Check { file } => {
            let path = file.unwrap_or_else(tapprove_config::policy_path);
            let fixed = check(&path)?;
            invocation
                .out
                .result(json!({"ok": true, "policy": path, "fixed": fixed}), || {
                    format!("{} is valid; it fixes: {}.", path.display(), fixed.join(", "))
                });
            Ok(())
        }
    }
}

async fn init(invocation: &Invocation, args: PolicyInitArgs) -> Result {
    let aws = tapprove_engine::account::standard_aws_config().await;
    let mut policy = tapprove_engine::install::policy_from_stack(&aws, &args.stack).await?;
    let mut put = |key: &str, value: toml::Value| {
        policy.insert(key.to_owned(), value);
    };
    if let Some(sign_in) = sign_in(&args) {
        put("sign_in", value(&sign_in)?);
    }
    if !args.allowed_aaguids.is_empty() {
        let aaguids = args
            .allowed_aaguids
            .iter()
            .map(|a| {
                a.parse::<tapprove_proto::Aaguid>()
                    .map_err(|e| Failure::input(format!("--allowed-aaguid {a}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        put("allowed_aaguids", value(&aaguids)?);
    }
    if let Some(text) = &args.quiet_hours {
        let quiet = quiet_hours(text)?;
        put(
            "notifications",
            value(&tapprove_config::NotificationSettings {
                quiet_hours: Some(quiet),
            })?,
        );
    }
    if args.updates.is_some() || args.update_endpoint.is_some() || args.pin_version.is_some() {
        let updates = UpdateSettings {
            channel: match args.updates {
                Some(ChannelArg::Beta) => UpdateChannel::Beta,
                Some(ChannelArg::Off) => UpdateChannel::Off,
                Some(ChannelArg::Stable) | None => UpdateChannel::Stable,
            },
            endpoint: args.update_endpoint.clone(),
            pin: args.pin_version.clone(),
        };
        put("updates", value(&updates)?);
    }
    let text = format!(
        "# Tapprove organisation policy, written by `tapprove admin policy init --stack {}`.\n\
         # Every key here wins over the user's settings; see docs/admin.md.\n{}",
        args.stack,
        toml::to_string_pretty(&policy).map_err(|e| Failure::failed("write_failed", e))?
    );
    // What is written must load: check it as the app will.
    let probe = tempfile_path();
    std::fs::write(&probe, &text).map_err(|e| Failure::failed("write_failed", e))?;
    let checked = check(&probe);
    let _ = std::fs::remove_file(&probe);
    let fixed = checked?;
    match &args.out {
        Some(path) => {
            crate::files::write_atomically(path, text.as_bytes())
                .and_then(|()| read_only_to_others(path))
                .map_err(|e| {
                    Failure::failed("write_failed", format!("cannot write {}: {e}", path.display()))
                })?;
            invocation.out.result(json!({"ok": true, "policy": path, "fixed": fixed}), || {
                format!(
                    "Wrote {} (fixes {}). Ship it with the installer: scripts/build-installer --policy {}",
                    path.display(),
                    fixed.join(", "),
                    path.display()
                )
            });
        }
        None if invocation.out.is_json() => {
            invocation
                .out
                .result(json!({"ok": true, "policy": text, "fixed": fixed}), String::new);
        }
        None => invocation.out.document(text.trim_end()),
    }
    Ok(())
}

/// Checks the policy at `path` as the app will read it; returns the keys it fixes.
fn check(path: &Path) -> Result<Vec<&'static str>> {
    tapprove_config::policy::check_file(path).map_err(|e| match e {
        tapprove_config::ConfigError::NotFound(_) => Failure::input(format!(
            "no policy at {}: write one with `tapprove admin policy init --stack NAME --out FILE`",
            path.display()
        )),
        other => Failure::input(other),
    })
}

fn tempfile_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("tapprove-policy-check-{}.toml", std::process::id()))
}

#[cfg(unix)]
fn read_only_to_others(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn read_only_to_others(_: &Path) -> std::io::Result<()> {
    Ok(())
}

fn sign_in(args: &PolicyInitArgs) -> Option<SignIn> {
    if let (Some(start_url), Some(region)) = (&args.start_url, &args.sso_region) {
        return Some(SignIn::Sso(SsoSettings {
            start_url: start_url.clone(),
            region: region.clone(),
            account_id: None,
            role_name: None,
            session_name: None,
        }));
    }
    let (issuer, client_id, role_arn) = (
        args.oidc_issuer.as_ref()?,
        args.oidc_client_id.as_ref()?,
        args.oidc_role_arn.as_ref()?,
    );
    Some(SignIn::Oidc(OidcSettings {
        issuer: issuer.clone(),
        client_id: client_id.clone(),
        role_arn: role_arn.clone(),
        approver_claim: "email".into(),
        scopes: vec!["email".into(), "profile".into()],
        region: None,
    }))
}

fn quiet_hours(text: &str) -> Result<QuietHours> {
    let (start, end) = text
        .split_once('-')
        .ok_or_else(|| Failure::input(format!("--quiet-hours {text}: write FROM-TO, e.g. 22:00-07:00")))?;
    let time = |t: &str| {
        t.trim()
            .parse::<ClockTime>()
            .map_err(|e| Failure::input(format!("--quiet-hours: {e}")))
    };
    Ok(QuietHours {
        start: time(start)?,
        end: time(end)?,
    })
}

fn value<T: serde::Serialize>(v: &T) -> Result<toml::Value> {
    toml::Value::try_from(v).map_err(|e| Failure::failed("write_failed", e))
}
