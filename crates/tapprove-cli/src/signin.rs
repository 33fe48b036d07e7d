//! `login`, `logout`, `whoami`: signing in to AWS (IAM Identity Center or
//! OpenID Connect) and what the signed-in session is.

use std::time::SystemTime;

use serde_json::json;
use tapprove_config::{Config, SignIn, SsoSettings};
use tapprove_engine::account::{self, Account, LoginPrompt, LoginRequest, Status, WhoAmI};

use crate::cli::LoginArgs;
use crate::context::Invocation;
use crate::exit::{Failure, Result};

/// Progress on stderr, for people (also in JSON mode: the URL or the code
/// is what the user must act on).
struct TerminalLogin;

impl LoginPrompt for TerminalLogin {
    fn browser(&self, url: &str, opened: bool) {
        if opened {
            eprintln!("Opening your browser to sign in. If it does not open, visit:\n\n  {url}\n");
        } else {
            eprintln!("Open this address in a browser to sign in:\n\n  {url}\n");
        }
    }

    fn device_code(&self, uri: &str, uri_complete: Option<&str>, user_code: &str) {
        eprintln!("To sign in, visit {uri} on any device and enter the code\n\n  {user_code}\n");
        if let Some(complete) = uri_complete {
            eprintln!("(or open {complete})\n");
        }
    }

    fn waiting_for_other_process(&self) {
        eprintln!("Another Tapprove process is signing in or refreshing the session; waiting for it...");
    }
}

fn account(invocation: &Invocation) -> Result<Account> {
    Ok(Account::open(&invocation.state_dir)?)
}

fn what_to_sign_in_to(invocation: &Invocation, args: &LoginArgs) -> Result<SignIn> {
    let flags = args.profile.is_some() || args.start_url.is_some();
    if flags
        && let Ok(settings) = invocation.settings()
        && let Some(refusal) = settings.refuse_change("sign_in")
    {
        return Err(Failure::input(format!(
            "{refusal}: run `tapprove login` without --profile or --start-url"
        )));
    }
    let mut sign_in = if let Some(profile) = &args.profile {
        SignIn::Sso(account::sso_profile(profile)?)
    } else if let (Some(start_url), Some(region)) = (&args.start_url, &args.region) {
        SignIn::Sso(SsoSettings {
            start_url: start_url.clone(),
            region: region.clone(),
            account_id: None,
            role_name: None,
            session_name: None,
        })
    } else {
        let path = Config::locate(Some(&invocation.config_path));
        let settings = tapprove_config::Settings::load(&path, &tapprove_config::policy_path()).map_err(|e| match e {
            tapprove_config::ConfigError::NotFound(_) => Failure::input(
                "say what to sign in to: --profile NAME, or --start-url URL --region REGION, or a [sign_in] section in the Tapprove settings",
            ),
            other => Failure::input(other),
        })?;
        settings.config.sign_in.ok_or_else(|| {
            Failure::input(format!(
                "{} has no [sign_in] section: pass --profile NAME, or --start-url URL --region REGION",
                path.display()
            ))
        })?
    };
    match &mut sign_in {
        SignIn::Sso(s) => {
            if args.account_id.is_some() {
                s.account_id.clone_from(&args.account_id);
            }
            if args.role_name.is_some() {
                s.role_name.clone_from(&args.role_name);
            }
        }
        SignIn::Oidc(_) if args.account_id.is_some() || args.role_name.is_some() => {
            return Err(Failure::input(
                "--account-id and --role-name are for IAM Identity Center; an OpenID Connect sign-in uses the configured `role_arn`",
            ));
        }
        SignIn::Oidc(_) => {}
    }
    Ok(sign_in)
}

pub async fn login(invocation: &Invocation, args: LoginArgs) -> Result {
    let sign_in = what_to_sign_in_to(invocation, &args)?;
    let record = account(invocation)?
        .sign_in(
            LoginRequest {
                sign_in,
                device_code: args.device_code,
            },
            &TerminalLogin,
        )
        .await?;
    whoami_after(
        invocation,
        &format!("Signed in ({}).", account::describe(&record.sign_in)),
    )
    .await
}

pub async fn logout(invocation: &Invocation) -> Result {
    let report = account(invocation)?.sign_out().await?;
    if let Some(error) = &report.revoke_error {
        invocation.out.note(&format!(
            "warning: the identity provider could not be told ({error}); the session is cleared on this machine"
        ));
    }
    invocation.out.result(json!({"ok": true, "logout": report}), || {
        format!(
            "Signed out{}; {} keychain item(s) removed.",
            if report.revoked {
                " and the session revoked"
            } else {
                ""
            },
            report.keychain_items_removed
        )
    });
    Ok(())
}

pub async fn whoami(invocation: &Invocation) -> Result {
    whoami_after(invocation, "").await
}

async fn whoami_after(invocation: &Invocation, heading: &str) -> Result {
    let WhoAmI {
        status,
        caller,
        approver,
    } = account(invocation)?.who_am_i(&TerminalLogin).await?;
    let value = status_json(&status, &caller, approver.as_deref());
    invocation.out.result(value, || {
        let mut lines = Vec::new();
        if !heading.is_empty() {
            lines.push(heading.to_owned());
        }
        lines.push(format!(
            "approver      {}",
            approver
                .as_deref()
                .unwrap_or("(none: not a user or role session)")
        ));
        lines.push(format!("identity      {}", caller.arn));
        lines.push(format!("account       {}", caller.account));
        if let SignIn::Sso(s) = &status.record.sign_in {
            lines.push(format!("role          {}", s.role_name.as_deref().unwrap_or("-")));
        }
        lines.push(format!(
            "signed in to  {}",
            account::describe(&status.record.sign_in)
        ));
        lines.push(format!(
            "session       until {}{}",
            time(status.token_expires_at),
            if status.refreshable {
                " (renewed automatically)"
            } else {
                ""
            }
        ));
        if let Some(at) = status.credentials.expiry().and_then(unix) {
            lines.push(format!(
                "credentials   until {} (renewed automatically)",
                time(at)
            ));
        }
        lines.join("\n")
    });
    Ok(())
}

fn status_json(
    status: &Status,
    caller: &tapprove_engine::account::CallerIdentity,
    approver: Option<&str>,
) -> serde_json::Value {
    json!({
        "ok": true,
        "approver": approver,
        "arn": caller.arn,
        "account": caller.account,
        "sign_in": status.record.sign_in,
        "signed_in_at": time(status.record.signed_in_at),
        "session_expires_at": time(status.token_expires_at),
        "refreshable": status.refreshable,
        "credentials_expire_at": status.credentials.expiry().and_then(unix).map(time),
    })
}

fn unix(t: SystemTime) -> Option<u64> {
    t.duration_since(SystemTime::UNIX_EPOCH).ok().map(|d| d.as_secs())
}

fn time(seconds: u64) -> String {
    tapprove_proto::UtcTime::from_unix(i64::try_from(seconds).unwrap_or(i64::MAX))
        .as_str()
        .to_owned()
}
