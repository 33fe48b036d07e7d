//! Signing in: an engineer signs in once, with IAM Identity Center or any
//! OpenID Connect provider, and every AWS client of the app and the CLI
//! gets short-lived role credentials for as long as the session lasts.
//!
//! - Secrets (access, refresh and ID tokens, client registrations) live
//!   only in the OS keychain ([`tapprove_keychain`]); the state directory
//!   holds the non-secret [`SessionRecord`] (`session.json`) and a lock
//!   file. A locked or missing keychain is an error, never a fallback.
//! - Role credentials live in memory only, in [`SessionCredentials`], and
//!   are fetched again before they expire.
//! - One refresh owner: a process that finds the tokens stale takes the
//!   lock in the state directory, rereads the keychain, and refreshes only
//!   if nobody did meanwhile; the others wait and reuse its tokens. A
//!   login holds the same lock, so after a laptop wakes at most one
//!   browser tab opens.

#![forbid(unsafe_code)]

pub mod aws_profile;
mod error;
mod interactive;
mod lock;
mod oidc;
mod sso;
mod vault;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, future};
use tapprove_config::{SignIn, SsoSettings};
use tapprove_keychain::Keychain;
use tapprove_proto::{Clock, SystemClock};

pub use error::{Result, SessionError};
pub use interactive::{BROWSER_TIMEOUT, LoginPrompt};
pub use sso::Account;
pub use vault::SessionRecord;

use crate::lock::{Lock, LockName};
use crate::oidc::OpenIdProvider;
use crate::sso::IdentityCenter;
use crate::vault::{Tokens, Vault, token_account};

/// Seconds since the epoch on `clock`: every time the session compares
/// (token expiry, device-code deadlines) is read here.
pub(crate) fn seconds(clock: &dyn Clock) -> u64 {
    clock
        .now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// What to sign in to, and how.
#[derive(Debug, Clone)]
pub struct LoginRequest {
    pub sign_in: SignIn,
    /// The device-code flow instead of the browser (hosts without one).
    pub device_code: bool,
}

/// What `logout` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LogoutReport {
    /// The identity provider was told to end the session.
    pub revoked: bool,
    /// Keychain items removed.
    pub keychain_items_removed: usize,
    /// Why revoking failed (the local session is cleared regardless).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_error: Option<String>,
}

/// The current session, for `whoami`.
#[derive(Debug, Clone)]
pub struct Status {
    pub record: SessionRecord,
    /// When the sign-in token runs out (it is refreshed before), epoch seconds.
    pub token_expires_at: u64,
    pub refreshable: bool,
    /// The session's role credentials (their expiry is when they run out;
    /// they are renewed before). Their `Debug` output hides the secrets.
    pub credentials: Credentials,
}

/// A face that never prompts (a background refresh): login is not started.
#[derive(Debug, Clone, Copy)]
pub struct Quiet;

impl LoginPrompt for Quiet {
    fn browser(&self, _: &str, _: bool) {}
    fn device_code(&self, _: &str, _: Option<&str>, _: &str) {}
    fn waiting_for_other_process(&self) {}
}

/// The sessions of one state directory.
#[derive(Debug, Clone)]
pub struct Sessions {
    vault: Vault,
    clock: Arc<dyn Clock>,
}

/// The current session's record, read without touching the keychain:
/// `None` when nobody signed in.
pub fn current(state_dir: &Path) -> Result<Option<SessionRecord>> {
    vault::read_record(state_dir)
}

/// The AWS settings every face uses: the signed-in session's role
/// credentials when there is a session in `state_dir`, else the standard
/// AWS chain (environment, profiles, instance roles). Credentials are
/// renewed by the system clock.
pub async fn aws_config(state_dir: &Path, service: &str) -> Result<aws_config::SdkConfig> {
    let Some(record) = current(state_dir)? else {
        return Ok(tapprove_aws::load_config().await);
    };
    let provider = aws_credential_types::provider::SharedCredentialsProvider::new(
        Sessions::open(state_dir, service)?.provider(),
    );
    Ok(tapprove_aws::load_config_with(Some(provider), fallback_region(&record.sign_in)).await)
}

/// A fresh ID token of the signed-in OpenID Connect session in
/// `state_dir` ([`Sessions::identity_token`]); `None` without a session or
/// for IAM Identity Center.
pub async fn identity_token(state_dir: &Path, service: &str) -> Result<Option<String>> {
    if current(state_dir)?.is_none() {
        return Ok(None);
    }
    Sessions::open(state_dir, service)?.identity_token(&Quiet).await
}

/// The region to fall back on when the AWS region chain names none: the
/// sign-in's own.
pub fn fallback_region(sign_in: &SignIn) -> Option<String> {
    match sign_in {
        SignIn::Sso(s) => Some(s.region.clone()),
        SignIn::Oidc(o) => o.region.clone(),
    }
}

impl Sessions {
    /// Opens the keychain (`service`, normally [`tapprove_keychain::DEFAULT_SERVICE`]).
    pub fn open(state_dir: &Path, service: &str) -> Result<Self> {
        Ok(Self {
            vault: Vault::new(Keychain::open(service)?, state_dir),
            clock: Arc::new(SystemClock),
        })
    }

    /// The same sessions reading time from `clock`.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn now(&self) -> u64 {
        seconds(&*self.clock)
    }

    /// Takes the lock `name`, telling the user if another process holds
    /// it; `true` with it if this process had to wait.
    async fn lock(&self, name: LockName, prompt: &dyn LoginPrompt) -> Result<(Lock, bool)> {
        Lock::acquire(self.vault.state_dir(), name, || {
            prompt.waiting_for_other_process();
        })
        .await
    }

    /// Signs in (browser or device code), chooses the account and role
    /// (IAM Identity Center), checks that role credentials can be had, and
    /// records the session. If another process completed a login while
    /// this one waited for the lock, its tokens are used: no second tab.
    pub async fn login(&self, request: LoginRequest, prompt: &dyn LoginPrompt) -> Result<SessionRecord> {
        // Fail on a locked keychain before the user is sent anywhere.
        self.vault.check_writable()?;
        let started = self.now();
        let (_login, waited) = self.lock(LockName::Login, prompt).await?;
        let account = token_account(&request.sign_in);
        let tokens = match self.vault.get::<Tokens>(&account)? {
            // Another process signed in (interactively) while this one
            // waited: use that sign-in rather than open another tab.
            Some(t) if waited && t.login_at >= started && t.fresh(self.now()) => t,
            _ => {
                let mut t = match &request.sign_in {
                    SignIn::Sso(s) => {
                        let ic = IdentityCenter::new(s, self.clock.clone()).await;
                        if request.device_code {
                            ic.login_device(&self.vault, prompt).await?
                        } else {
                            ic.login_browser(&self.vault, prompt).await?
                        }
                    }
                    SignIn::Oidc(o) => {
                        let idp = OpenIdProvider::discover(o, self.clock.clone()).await?;
                        if request.device_code {
                            idp.login_device(prompt).await?
                        } else {
                            idp.login_browser(prompt).await?
                        }
                    }
                };
                t.login_at = self.now();
                let (_refresh, _) = self.lock(LockName::Refresh, prompt).await?;
                self.vault.put(&account, &token_label(&request.sign_in), &t)?;
                t
            }
        };
        let sign_in = match request.sign_in {
            SignIn::Sso(s) => SignIn::Sso(choose_role(s, &tokens, &self.clock).await?),
            oidc @ SignIn::Oidc(_) => oidc,
        };
        let record = SessionRecord {
            sign_in,
            signed_in_at: self.now(),
        };
        role_credentials(&record, &tokens, &self.clock).await?;
        self.vault.save_record(&record)?;
        Ok(record)
    }

    /// Ends the session: tells the identity provider (IAM Identity Center
    /// `Logout`, OpenID Connect token revocation) and removes every
    /// Tapprove session item from the keychain and the session record.
    pub async fn logout(&self) -> Result<LogoutReport> {
        // No refresh may write new tokens while (or after) they are removed.
        let (_refresh, _) = self.lock(LockName::Refresh, &Quiet).await?;
        let mut report = LogoutReport::default();
        // A damaged record cannot say what to revoke; clear what is here anyway.
        let record = self.vault.record().unwrap_or(None);
        if let Some(record) = record
            && let Some(tokens) = self.vault.get::<Tokens>(&record.token_account())?
        {
            let revoked = match &record.sign_in {
                SignIn::Sso(s) => IdentityCenter::new(s, self.clock.clone())
                    .await
                    .logout(&tokens)
                    .await
                    .map(|()| true),
                SignIn::Oidc(o) => match OpenIdProvider::discover(o, self.clock.clone()).await {
                    Ok(idp) => idp.revoke(&tokens).await,
                    Err(e) => Err(e),
                },
            };
            match revoked {
                Ok(r) => report.revoked = r,
                Err(e) => report.revoke_error = Some(e.to_string()),
            }
        }
        for prefix in ["session:", "sso-client:"] {
            for account in self.vault.accounts(prefix)? {
                if self.vault.delete(&account)? {
                    report.keychain_items_removed += 1;
                }
            }
        }
        self.vault.remove_record()?;
        Ok(report)
    }

    /// The session's tokens, refreshed first if stale, by exactly one
    /// process at a time.
    async fn fresh_tokens(&self, record: &SessionRecord, prompt: &dyn LoginPrompt) -> Result<Tokens> {
        self.refreshed_tokens(record, prompt, None).await
    }

    /// The session's tokens, refreshed if they are stale, or if they were
    /// issued before `issued_after` (unix seconds).
    async fn refreshed_tokens(
        &self,
        record: &SessionRecord,
        prompt: &dyn LoginPrompt,
        issued_after: Option<u64>,
    ) -> Result<Tokens> {
        let account = record.token_account();
        let now = self.now();
        let good = move |t: &Tokens| t.fresh(now) && issued_after.is_none_or(|after| t.issued_at > after);
        if let Some(t) = self.vault.get::<Tokens>(&account)?
            && good(&t)
        {
            return Ok(t);
        }
        let (lock, _) = self.lock(LockName::Refresh, prompt).await?;
        // The refresh and the write of its result run to the end even if
        // the caller gives up meanwhile: a rotated refresh token that was
        // issued but never stored would end the session.
        let this = self.clone();
        let record = record.clone();
        tokio::spawn(async move {
            let _lock = lock;
            // Whoever held the lock before may have refreshed already.
            let Some(old) = this.vault.get::<Tokens>(&account)? else {
                return Err(SessionError::Ended(
                    "its tokens are gone from the keychain".into(),
                ));
            };
            if good(&old) {
                return Ok(old);
            }
            let mut new = match &record.sign_in {
                SignIn::Sso(s) => {
                    IdentityCenter::new(s, this.clock.clone())
                        .await
                        .refresh(&old)
                        .await?
                }
                SignIn::Oidc(o) => {
                    OpenIdProvider::discover(o, this.clock.clone())
                        .await?
                        .refresh(&old)
                        .await?
                }
            };
            new.login_at = old.login_at;
            this.vault.put(&account, &token_label(&record.sign_in), &new)?;
            Ok(new)
        })
        .await
        .map_err(|e| SessionError::State {
            path: self.vault.state_dir().to_path_buf(),
            source: std::io::Error::other(e),
        })?
    }

    fn record(&self) -> Result<SessionRecord> {
        self.vault.record()?.ok_or(SessionError::NotSignedIn)
    }

    /// For a session signed in through OpenID Connect, an ID token the
    /// provider issued just now (the session's tokens are refreshed for
    /// it), which the enrolment service takes as the proof of the
    /// approver's name and accepts once; `None` for IAM Identity Center.
    pub async fn identity_token(&self, prompt: &dyn LoginPrompt) -> Result<Option<String>> {
        let record = self.record()?;
        if !matches!(record.sign_in, SignIn::Oidc(_)) {
            return Ok(None);
        }
        let previous = self
            .vault
            .get::<Tokens>(&record.token_account())?
            .and_then(|t| t.id_token.clone());
        let mut tokens = self.refreshed_tokens(&record, prompt, Some(self.now())).await?;
        // `iat` counts seconds: a provider may answer a second refresh
        // within one second with the very token it gave before, which the
        // service would refuse as used. Ask again in the next second.
        if tokens.id_token.is_some() && tokens.id_token == previous {
            tokio::time::sleep(Duration::from_millis(1100)).await;
            tokens = self.refreshed_tokens(&record, prompt, Some(self.now())).await?;
        }
        match tokens.id_token.clone() {
            Some(token) => Ok(Some(token)),
            None => Err(SessionError::Ended(
                "the provider issued no new ID token when the session was refreshed".into(),
            )),
        }
    }

    /// Role credentials for the current session.
    pub async fn credentials(&self, prompt: &dyn LoginPrompt) -> Result<Credentials> {
        let record = self.record()?;
        let tokens = self.fresh_tokens(&record, prompt).await?;
        role_credentials(&record, &tokens, &self.clock).await
    }

    /// The current session, its tokens refreshed if needed.
    pub async fn status(&self, prompt: &dyn LoginPrompt) -> Result<Status> {
        let record = self.record()?;
        let tokens = self.fresh_tokens(&record, prompt).await?;
        let credentials = role_credentials(&record, &tokens, &self.clock).await?;
        Ok(Status {
            token_expires_at: tokens.expires_at,
            refreshable: tokens.refresh_token.is_some(),
            credentials,
            record,
        })
    }

    /// A credentials provider for AWS clients, backed by this session.
    pub fn provider(self) -> SessionCredentials {
        SessionCredentials {
            sessions: Arc::new(self),
            cached: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }
}

fn token_label(sign_in: &SignIn) -> String {
    match sign_in {
        SignIn::Sso(s) => format!("Tapprove sign-in to {}", s.start_url),
        SignIn::Oidc(o) => format!("Tapprove sign-in to {}", o.issuer),
    }
}

async fn role_credentials(
    record: &SessionRecord,
    tokens: &Tokens,
    clock: &Arc<dyn Clock>,
) -> Result<Credentials> {
    match &record.sign_in {
        SignIn::Sso(s) => {
            let (Some(account), Some(role)) = (&s.account_id, &s.role_name) else {
                return Err(SessionError::Settings(
                    "the session names no account and role: sign in again".into(),
                ));
            };
            IdentityCenter::new(s, clock.clone())
                .await
                .role_credentials(tokens, account, role)
                .await
        }
        SignIn::Oidc(o) => {
            OpenIdProvider::discover(o, clock.clone())
                .await?
                .role_credentials(tokens)
                .await
        }
    }
}

/// Fills in the account and role: the configured ones (checked against
/// what the portal offers), or the only ones offered.
async fn choose_role(mut s: SsoSettings, tokens: &Tokens, clock: &Arc<dyn Clock>) -> Result<SsoSettings> {
    let ic = IdentityCenter::new(&s, clock.clone()).await;
    let account_id = match s.account_id.clone() {
        Some(a) => a,
        None => {
            let accounts = ic.accounts(tokens).await?;
            match accounts.as_slice() {
                [only] => only.account_id.clone(),
                [] => {
                    return Err(SessionError::Denied(
                        "IAM Identity Center assigns you no AWS account".into(),
                    ));
                }
                many => {
                    let list: Vec<String> = many
                        .iter()
                        .map(|a| format!("{} ({})", a.account_id, a.account_name))
                        .collect();
                    return Err(SessionError::Choose(format!(
                        "you can work in several accounts; choose one with --account-id: {}",
                        list.join(", ")
                    )));
                }
            }
        }
    };
    let role = match s.role_name.clone() {
        Some(r) => r,
        None => {
            let roles = ic.roles(tokens, &account_id).await?;
            match roles.as_slice() {
                [only] => only.clone(),
                [] => {
                    return Err(SessionError::Denied(format!(
                        "IAM Identity Center gives you no role in account {account_id}"
                    )));
                }
                many => {
                    return Err(SessionError::Choose(format!(
                        "you have several roles in account {account_id}; choose one with --role-name: {}",
                        many.join(", ")
                    )));
                }
            }
        }
    };
    s.account_id = Some(account_id);
    s.role_name = Some(role);
    Ok(s)
}

/// Role credentials are renewed when less than this is left of them (they
/// last an hour or more).
const RENEW_CREDENTIALS_BEFORE: Duration = Duration::from_secs(300);

/// An AWS credentials provider backed by the signed-in session: role
/// credentials in memory, renewed [`RENEW_CREDENTIALS_BEFORE`] they expire. It never starts a login; when the
/// session has ended, calls fail with "run `tapprove login`".
#[derive(Clone)]
pub struct SessionCredentials {
    sessions: Arc<Sessions>,
    /// The credentials and the session they belong to.
    cached: Arc<tokio::sync::Mutex<Option<(SessionRecord, Credentials)>>>,
}

impl std::fmt::Debug for SessionCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCredentials").finish_non_exhaustive()
    }
}

fn still_good(c: &Credentials, now: SystemTime) -> bool {
    let Some(expiry) = c.expiry() else {
        return true;
    };
    let left = expiry.duration_since(now).unwrap_or(Duration::ZERO);
    left > RENEW_CREDENTIALS_BEFORE
}

impl SessionCredentials {
    async fn load(&self) -> provider::Result {
        let mut cached = self.cached.lock().await;
        // Another process may have signed out or in as someone else: the
        // record (no keychain access) says which session is current.
        let current = self.sessions.vault.record().ok().flatten();
        if let Some((record, c)) = cached.as_ref()
            && current.as_ref() == Some(record)
            && still_good(c, self.sessions.clock.now())
        {
            return Ok(c.clone());
        }
        let fresh = self.sessions.credentials(&Quiet).await.map_err(|e| match e {
            SessionError::Unreachable { .. } => {
                provider::error::CredentialsError::provider_timed_out(Duration::from_secs(25))
            }
            other => provider::error::CredentialsError::provider_error(other),
        })?;
        *cached = current.map(|record| (record, fresh.clone()));
        Ok(fresh)
    }
}

impl ProvideCredentials for SessionCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.load())
    }
}
