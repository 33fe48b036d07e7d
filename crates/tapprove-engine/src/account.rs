//! Signing in and out, who the approver is, and how healthy the session
//! is: the one place both faces reach the sign-in session (IAM Identity
//! Center or OpenID Connect, tokens only in the OS keychain) and the AWS
//! settings it gives every online call.
//!
//! Where the danger is: the approver's name comes from STS
//! ([`WhoAmI::caller`]), never from the session record or the settings.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
pub use tapprove_aws::sts::CallerIdentity;
use tapprove_aws::sts::Identity;
use tapprove_config::{SignIn, SsoSettings};
use tapprove_proto::{Clock, UtcTime};
use tapprove_session::Sessions;
pub use tapprove_session::{LoginPrompt, LoginRequest, LogoutReport, Quiet, SessionRecord, Status};

use crate::error::{EngineError, ErrorCode, Result};
use crate::{Engine, unix_seconds};

/// The keychain service every face keeps the session's tokens under.
const KEYCHAIN_SERVICE: &str = tapprove_keychain::DEFAULT_SERVICE;

/// The sign-in session of one state directory.
#[derive(Debug, Clone)]
pub struct Account {
    sessions: Sessions,
}

/// Who the signed-in session is, as STS says.
#[derive(Debug, Clone)]
pub struct WhoAmI {
    pub status: Status,
    pub caller: CallerIdentity,
    /// The approver name the caller stands for, if it is a user or a role
    /// session.
    pub approver: Option<String>,
}

impl Account {
    pub fn open(state_dir: &Path) -> Result<Self> {
        Ok(Self {
            sessions: Sessions::open(state_dir, KEYCHAIN_SERVICE)?,
        })
    }

    /// The same session reading time (token expiry, sign-in deadlines)
    /// from `clock`: the face's, so both read one.
    #[must_use]
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self {
            sessions: self.sessions.with_clock(clock),
        }
    }

    /// Signs in (a browser or a device code, as `request` says); the
    /// tokens go to the keychain.
    pub async fn sign_in(&self, request: LoginRequest, prompt: &dyn LoginPrompt) -> Result<SessionRecord> {
        Ok(self.sessions.login(request, prompt).await?)
    }

    /// Signs out: tells the identity provider when it can, and always
    /// empties the keychain of this session.
    pub async fn sign_out(&self) -> Result<LogoutReport> {
        Ok(self.sessions.logout().await?)
    }

    /// The session (refreshed when due, without prompting unless `prompt`
    /// does) and who STS says it is, asked with that session's own
    /// credentials.
    pub async fn who_am_i(&self, prompt: &dyn LoginPrompt) -> Result<WhoAmI> {
        let status = self.sessions.status(prompt).await?;
        let aws = tapprove_aws::load_config_with(
            Some(aws_credential_types::provider::SharedCredentialsProvider::new(
                status.credentials.clone(),
            )),
            tapprove_session::fallback_region(&status.record.sign_in),
        )
        .await;
        let caller = Identity::new(&aws).caller().await?;
        let approver = caller.approver().map(str::to_owned);
        Ok(WhoAmI {
            status,
            caller,
            approver,
        })
    }
}

/// The session of `state_dir`, if someone signed in there.
pub fn current(state_dir: &Path) -> Result<Option<SessionRecord>> {
    Ok(tapprove_session::current(state_dir)?)
}

/// The AWS settings every online call uses: the session's role
/// credentials when there is a session, else the standard AWS chain.
pub async fn aws_config(state_dir: &Path) -> Result<aws_config::SdkConfig> {
    Ok(tapprove_session::aws_config(state_dir, KEYCHAIN_SERVICE).await?)
}

/// The standard AWS chain (environment, profile, instance role), ignoring
/// any Tapprove session: for an admin setting Tapprove up, before any
/// settings exist.
pub async fn standard_aws_config() -> aws_config::SdkConfig {
    tapprove_aws::load_config().await
}

/// Who `aws`'s credentials belong to (STS `GetCallerIdentity`).
pub async fn caller(aws: &aws_config::SdkConfig) -> Result<CallerIdentity> {
    Ok(Identity::new(aws).caller().await?)
}

/// The IAM Identity Center settings of an AWS CLI profile.
pub fn sso_profile(name: &str) -> Result<SsoSettings> {
    Ok(tapprove_session::aws_profile::sso_profile(name)?)
}

/// "IAM Identity Center https://x.awsapps.com/start (eu-west-1), role R
/// in 1234…", or "https://idp.example.com as arn:aws:iam::…:role/R".
pub fn describe(sign_in: &SignIn) -> String {
    match sign_in {
        SignIn::Sso(s) => {
            let mut text = format!("IAM Identity Center {} ({})", s.start_url, s.region);
            if let (Some(role), Some(account)) = (&s.role_name, &s.account_id) {
                text.push_str(&format!(", role {role} in {account}"));
            }
            text
        }
        SignIn::Oidc(o) => format!("{} as {}", o.issuer, o.role_arn),
    }
}

/// How the session is doing, as both faces show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Ok,
    SignedOut,
    /// Ends within the hour and cannot be renewed without signing in.
    Expiring,
    Offline,
    NotConfigured,
    Error,
}

/// How the person signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInKind {
    Sso,
    Oidc,
    /// No Tapprove session: the standard AWS chain (environment, profile).
    Environment,
}

/// Who is signed in and how healthy the session is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionHealth {
    pub health: Health,
    /// The approver STS named.
    pub approver: Option<String>,
    pub sign_in: Option<SignInKind>,
    /// What the session is, or what is wrong with it.
    pub detail: Option<String>,
    /// When the sign-in token runs out (RFC 3339).
    pub expires_at: Option<String>,
}

impl SessionHealth {
    /// Not known yet.
    pub fn unknown() -> Self {
        Self {
            health: Health::Offline,
            approver: None,
            sign_in: None,
            detail: Some("checking who you are…".into()),
            expires_at: None,
        }
    }

    /// No engine to ask: the settings are missing or broken (`code`).
    pub fn without_engine(code: ErrorCode, message: String) -> Self {
        Self {
            health: if code == ErrorCode::NotConfigured {
                Health::NotConfigured
            } else {
                Health::Error
            },
            approver: None,
            sign_in: None,
            detail: Some(message),
            expires_at: None,
        }
    }
}

impl Engine {
    /// Who is signed in and how healthy the session is. Asks the identity
    /// provider (a refresh when due) and STS; never prompts.
    pub async fn session_health(&self) -> SessionHealth {
        let state_dir = self.state_dir();
        let record = current(state_dir).ok().flatten();
        let kind = match record.as_ref().map(|r| &r.sign_in) {
            Some(SignIn::Sso(_)) => SignInKind::Sso,
            Some(SignIn::Oidc(_)) => SignInKind::Oidc,
            None => SignInKind::Environment,
        };
        let mut view = SessionHealth {
            health: Health::Ok,
            approver: None,
            sign_in: Some(kind),
            detail: record.as_ref().map(|r| describe(&r.sign_in)),
            expires_at: None,
        };
        if record.is_some() {
            let status = match Account::open(state_dir).map(|a| a.with_clock(self.clock().clone())) {
                Ok(account) => account.sessions.status(&Quiet).await.map_err(EngineError::from),
                Err(e) => Err(e),
            };
            match status {
                Ok(status) => {
                    let expires = i64::try_from(status.token_expires_at).unwrap_or(i64::MAX);
                    view.expires_at = Some(UtcTime::from_unix(expires).as_str().to_owned());
                    let left = expires - unix_seconds(self.clock().now());
                    if !status.refreshable && left < 3600 {
                        view.health = Health::Expiring;
                    }
                }
                Err(e) => {
                    view.health = match e.code() {
                        ErrorCode::NotSignedIn => Health::SignedOut,
                        ErrorCode::SignInFailed => Health::Offline,
                        _ => Health::Error,
                    };
                    view.detail = Some(e.to_string());
                    return view;
                }
            }
        }
        match self.approver().await {
            Ok(approver) => view.approver = Some(approver),
            Err(e) => {
                let signs_in = self.config().sign_in.is_some();
                view.health = match e.code() {
                    ErrorCode::AwsUnreachable => Health::Offline,
                    _ if record.is_none() && signs_in => Health::SignedOut,
                    _ => Health::Error,
                };
                view.detail = Some(e.to_string());
            }
        }
        view
    }
}
