//! IAM Identity Center: the SSO OIDC service (client registration, the
//! authorization-code flow with PKCE, the device flow, refresh) and the
//! access portal (accounts, roles, role credentials). The same calls and
//! parameters as AWS CLI v2's `aws sso login`.

use std::time::{Duration, SystemTime};

use aws_config::{Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_ssooidc::operation::create_token::{CreateTokenError, CreateTokenOutput};
use tapprove_config::SsoSettings;

use crate::error::{Result, SessionError};
use crate::interactive::{BROWSER_TIMEOUT, LoginPrompt, Loopback, Pkce, open_browser, random_string};
use crate::seconds;
use crate::vault::{ClientRegistration, Tokens, Vault, registration_account};
use std::sync::Arc;
use tapprove_proto::Clock;

const OIDC: &str = "IAM Identity Center (SSO OIDC)";
const PORTAL: &str = "the AWS access portal";
/// The scope that makes IAM Identity Center issue refresh tokens.
const SCOPE: &str = "sso:account:access";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const CALLBACK_PATH: &str = "/oauth/callback";

/// Which grant a client registration is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Browser,
    Device,
}

impl Flow {
    fn name(self) -> &'static str {
        match self {
            Self::Browser => "authorization_code",
            Self::Device => "device_code",
        }
    }
}

/// An account the user may work in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Account {
    pub account_id: String,
    pub account_name: String,
}

pub(crate) struct IdentityCenter {
    oidc: aws_sdk_ssooidc::Client,
    portal: aws_sdk_sso::Client,
    settings: SsoSettings,
    clock: Arc<dyn Clock>,
}

/// SDK settings for calls that carry no AWS signature (the SSO OIDC and
/// portal calls authenticate with tokens): the given region, no credential
/// chain, ordinary timeouts. `AWS_ENDPOINT_URL_SSO_OIDC` and
/// `AWS_ENDPOINT_URL_SSO` point them elsewhere, as for any SDK client.
pub(crate) async fn unsigned_config(region: Option<&str>) -> SdkConfig {
    let mut loader = tapprove_aws::defaults()
        .no_credentials()
        .timeout_config(tapprove_aws::call_timeouts());
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_owned()));
    }
    loader.load().await
}

/// The SSO OIDC endpoint the browser is sent to (`/authorize` lives there).
fn oidc_endpoint(region: &str) -> String {
    ["AWS_ENDPOINT_URL_SSO_OIDC", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .map(|u| u.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| format!("https://oidc.{region}.amazonaws.com"))
}

impl IdentityCenter {
    pub async fn new(settings: &SsoSettings, clock: Arc<dyn Clock>) -> Self {
        let config = unsigned_config(Some(&settings.region)).await;
        Self {
            oidc: aws_sdk_ssooidc::Client::new(&config),
            portal: aws_sdk_sso::Client::new(&config),
            settings: settings.clone(),
            clock,
        }
    }

    fn now(&self) -> u64 {
        seconds(&*self.clock)
    }

    /// A client registration for `flow`, reused from the keychain until
    /// its secret expires.
    async fn registration(&self, vault: &Vault, flow: Flow) -> Result<ClientRegistration> {
        let account = registration_account(&self.settings.start_url, &self.settings.region, flow.name());
        if let Some(cached) = vault.get::<ClientRegistration>(&account)?
            && cached.expires_at > self.now() + 3600
        {
            return Ok(cached);
        }
        let mut request = self
            .oidc
            .register_client()
            .client_name("tapprove")
            .client_type("public")
            .scopes(SCOPE);
        request = match flow {
            Flow::Browser => request
                .grant_types("authorization_code")
                .grant_types("refresh_token")
                .redirect_uris(format!("http://127.0.0.1{CALLBACK_PATH}"))
                .issuer_url(&self.settings.start_url),
            Flow::Device => request.grant_types(DEVICE_GRANT).grant_types("refresh_token"),
        };
        let out = request.send().await.map_err(|e| sdk_error(OIDC, e))?;
        let (Some(client_id), Some(client_secret)) = (out.client_id(), out.client_secret()) else {
            return Err(provider_error(OIDC, "RegisterClient answered without a client"));
        };
        let registration = ClientRegistration {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            expires_at: u64::try_from(out.client_secret_expires_at()).unwrap_or(0),
        };
        vault.put(&account, "Tapprove IAM Identity Center client", &registration)?;
        Ok(registration)
    }

    /// Signs in in the browser: PKCE, the answer on a loopback port.
    pub async fn login_browser(&self, vault: &Vault, prompt: &dyn LoginPrompt) -> Result<Tokens> {
        let client = self.registration(vault, Flow::Browser).await?;
        let loopback = Loopback::bind(CALLBACK_PATH).await?;
        let redirect_uri = loopback.redirect_uri();
        let pkce = Pkce::new();
        let state = random_string(16);
        let url = url::Url::parse_with_params(
            &format!("{}/authorize", oidc_endpoint(&self.settings.region)),
            [
                ("response_type", "code"),
                ("client_id", &client.client_id),
                ("redirect_uri", &redirect_uri),
                ("state", &state),
                ("code_challenge_method", "S256"),
                ("scopes", SCOPE),
                ("code_challenge", &pkce.challenge),
            ],
        )
        .map_err(|e| SessionError::Settings(format!("bad SSO OIDC endpoint: {e}")))?;
        prompt.browser(url.as_str(), open_browser(url.as_str()));
        let code = loopback.code(&state, BROWSER_TIMEOUT).await?;
        let issued_at = self.now();
        let out = self
            .oidc
            .create_token()
            .client_id(&client.client_id)
            .client_secret(&client.client_secret)
            .grant_type("authorization_code")
            .code(code.as_str())
            .code_verifier(pkce.verifier.as_str())
            .redirect_uri(&redirect_uri)
            .send()
            .await
            .map_err(token_error)?;
        tokens(out, issued_at, client)
    }

    /// Signs in with a device code the user enters elsewhere.
    pub async fn login_device(&self, vault: &Vault, prompt: &dyn LoginPrompt) -> Result<Tokens> {
        let client = self.registration(vault, Flow::Device).await?;
        let auth = self
            .oidc
            .start_device_authorization()
            .client_id(&client.client_id)
            .client_secret(&client.client_secret)
            .start_url(&self.settings.start_url)
            .send()
            .await
            .map_err(|e| sdk_error(OIDC, e))?;
        let (Some(device_code), Some(user_code), Some(uri)) =
            (auth.device_code(), auth.user_code(), auth.verification_uri())
        else {
            return Err(provider_error(
                OIDC,
                "StartDeviceAuthorization answered without a code",
            ));
        };
        prompt.device_code(uri, auth.verification_uri_complete(), user_code);
        let deadline = self.now() + u64::try_from(auth.expires_in().max(60)).unwrap_or(600);
        let mut interval = Duration::from_secs(u64::try_from(auth.interval().max(1)).unwrap_or(5));
        loop {
            tokio::time::sleep(interval).await;
            let issued_at = self.now();
            let answer = self
                .oidc
                .create_token()
                .client_id(&client.client_id)
                .client_secret(&client.client_secret)
                .grant_type(DEVICE_GRANT)
                .device_code(device_code)
                .send()
                .await;
            match answer {
                Ok(out) => return tokens(out, issued_at, client),
                Err(e) => match e.as_service_error() {
                    Some(CreateTokenError::AuthorizationPendingException(_)) => {}
                    // RFC 8628 §3.5: wait five seconds longer from now on.
                    Some(CreateTokenError::SlowDownException(_)) => interval += Duration::from_secs(5),
                    _ => return Err(token_error(e)),
                },
            }
            if self.now() >= deadline {
                return Err(SessionError::TimedOut("the device code expired".into()));
            }
        }
    }

    /// New tokens for old: the refresh-token grant.
    pub async fn refresh(&self, old: &Tokens) -> Result<Tokens> {
        let (Some(refresh), Some(client)) = (&old.refresh_token, &old.client) else {
            return Err(SessionError::Ended(
                "IAM Identity Center issued no refresh token".into(),
            ));
        };
        if client.expires_at <= self.now() {
            return Err(SessionError::Ended("the client registration expired".into()));
        }
        let issued_at = self.now();
        let out = self
            .oidc
            .create_token()
            .client_id(&client.client_id)
            .client_secret(&client.client_secret)
            .grant_type("refresh_token")
            .refresh_token(refresh)
            .send()
            .await
            .map_err(token_error)?;
        let mut new = tokens(out, issued_at, client.clone())?;
        if new.refresh_token.is_none() {
            new.refresh_token = old.refresh_token.clone();
        }
        Ok(new)
    }

    pub async fn accounts(&self, token: &Tokens) -> Result<Vec<Account>> {
        let items = self
            .portal
            .list_accounts()
            .access_token(&token.access_token)
            .into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<Vec<_>, _>>()
            .await
            .map_err(|e| sdk_error(PORTAL, e))?;
        Ok(items
            .into_iter()
            .filter_map(|a| {
                Some(Account {
                    account_id: a.account_id()?.to_owned(),
                    account_name: a.account_name().unwrap_or_default().to_owned(),
                })
            })
            .collect())
    }

    pub async fn roles(&self, token: &Tokens, account_id: &str) -> Result<Vec<String>> {
        let items = self
            .portal
            .list_account_roles()
            .access_token(&token.access_token)
            .account_id(account_id)
            .into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<Vec<_>, _>>()
            .await
            .map_err(|e| sdk_error(PORTAL, e))?;
        Ok(items
            .into_iter()
            .filter_map(|r| r.role_name().map(str::to_owned))
            .collect())
    }

    /// Short-lived credentials for the chosen role; never stored.
    pub async fn role_credentials(
        &self,
        token: &Tokens,
        account_id: &str,
        role: &str,
    ) -> Result<Credentials> {
        let out = self
            .portal
            .get_role_credentials()
            .access_token(&token.access_token)
            .account_id(account_id)
            .role_name(role)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(aws_sdk_sso::operation::get_role_credentials::GetRoleCredentialsError::UnauthorizedException(_)) => {
                    SessionError::Ended("the access portal no longer accepts the token".into())
                }
                _ => sdk_error(PORTAL, e),
            })?;
        let c = out
            .role_credentials()
            .ok_or_else(|| provider_error(PORTAL, "GetRoleCredentials answered without credentials"))?;
        let (Some(id), Some(secret), Some(session)) =
            (c.access_key_id(), c.secret_access_key(), c.session_token())
        else {
            return Err(provider_error(
                PORTAL,
                "GetRoleCredentials answered with partial credentials",
            ));
        };
        let expiry =
            SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(c.expiration()).unwrap_or(0));
        Ok(Credentials::new(
            id,
            secret,
            Some(session.to_owned()),
            Some(expiry),
            "tapprove-sso",
        ))
    }

    /// Ends the session at the portal (the token stops working).
    pub async fn logout(&self, token: &Tokens) -> Result<()> {
        self.portal
            .logout()
            .access_token(&token.access_token)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error(PORTAL, e))
    }
}

fn tokens(out: CreateTokenOutput, issued_at: u64, client: ClientRegistration) -> Result<Tokens> {
    let access_token = out
        .access_token()
        .ok_or_else(|| provider_error(OIDC, "CreateToken answered without an access token"))?;
    Ok(Tokens {
        access_token: access_token.to_owned(),
        refresh_token: out.refresh_token().map(str::to_owned),
        id_token: out.id_token().map(str::to_owned),
        expires_at: issued_at + u64::try_from(out.expires_in()).unwrap_or(0),
        issued_at,
        login_at: 0,
        client: Some(client),
    })
}

fn token_error<R>(e: aws_smithy_runtime_api::client::result::SdkError<CreateTokenError, R>) -> SessionError
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match e.as_service_error() {
        Some(CreateTokenError::ExpiredTokenException(_)) => {
            SessionError::TimedOut("the device code or token expired".into())
        }
        Some(CreateTokenError::AccessDeniedException(_)) => {
            SessionError::Denied("the sign-in was not approved".into())
        }
        Some(CreateTokenError::InvalidGrantException(_)) => {
            SessionError::Ended("IAM Identity Center no longer accepts the grant".into())
        }
        _ => sdk_error(OIDC, e),
    }
}

pub(crate) fn provider_error(service: &'static str, message: &str) -> SessionError {
    SessionError::Provider {
        service,
        message: message.to_owned(),
    }
}

/// An SDK failure: the service's error code and message, or why it could
/// not be reached.
pub(crate) fn sdk_error<E, R>(
    service: &'static str,
    e: aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> SessionError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match e.as_service_error() {
        Some(service_error) => SessionError::Provider {
            service,
            message: format!(
                "{}: {}",
                service_error.code().unwrap_or("error"),
                service_error.message().unwrap_or("no message")
            ),
        },
        None => SessionError::Unreachable {
            service,
            message: aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
        },
    }
}
