//! A generic OpenID Connect provider (Okta, Ping, Entra ID, Keycloak):
//! discovery, the device flow (RFC 8628) and the authorization-code flow
//! with PKCE and a loopback redirect (RFC 8252), ID tokens validated
//! against the provider's JWKS, and the exchange for AWS credentials with
//! `AssumeRoleWithWebIdentity`.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;
use serde_json::{Map, Value};
use tapprove_config::OidcSettings;
use zeroize::Zeroizing;

use crate::error::{Result, SessionError};
use crate::interactive::{BROWSER_TIMEOUT, LoginPrompt, Loopback, Pkce, open_browser, random_string};
use crate::seconds;
use crate::sso::{provider_error, sdk_error, unsigned_config};
use crate::vault::Tokens;
use std::sync::Arc;
use tapprove_proto::Clock;

const IDP: &str = "the identity provider";
const STS: &str = "AWS STS";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const CALLBACK_PATH: &str = "/callback";

/// The parts of the discovery document Tapprove uses.
#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: Option<String>,
    token_endpoint: String,
    device_authorization_endpoint: Option<String>,
    jwks_uri: String,
    revocation_endpoint: Option<String>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    id_token: Option<String>,
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: String,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct DeviceAnswer {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: Option<String>,
    expires_in: u64,
    interval: Option<u64>,
}

pub(crate) struct OpenIdProvider {
    http: reqwest::Client,
    settings: OidcSettings,
    discovery: Discovery,
    clock: Arc<dyn Clock>,
}

impl OpenIdProvider {
    /// Reads the provider's discovery document; its `issuer` must be the
    /// configured one exactly.
    pub async fn discover(settings: &OidcSettings, clock: Arc<dyn Clock>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(25))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| provider_error(IDP, &e.to_string()))?;
        if !secure(&settings.issuer) {
            return Err(SessionError::Settings(format!(
                "the issuer `{}` is not an https URL: tokens would travel in clear",
                settings.issuer
            )));
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            settings.issuer.trim_end_matches('/')
        );
        let discovery: Discovery = get_json(&http, &url).await?;
        if discovery.issuer != settings.issuer {
            return Err(SessionError::Settings(format!(
                "the provider at {url} calls itself `{}`, not `{}`: set `issuer` to exactly the provider's issuer",
                discovery.issuer, settings.issuer
            )));
        }
        let endpoints = [
            Some(&discovery.token_endpoint),
            Some(&discovery.jwks_uri),
            discovery.authorization_endpoint.as_ref(),
            discovery.device_authorization_endpoint.as_ref(),
            discovery.revocation_endpoint.as_ref(),
        ];
        if let Some(insecure) = endpoints.into_iter().flatten().find(|e| !secure(e)) {
            return Err(provider_error(
                IDP,
                &format!("the discovery document names an endpoint that is not https: {insecure}"),
            ));
        }
        Ok(Self {
            http,
            settings: settings.clone(),
            discovery,
            clock,
        })
    }

    fn now(&self) -> u64 {
        seconds(&*self.clock)
    }

    fn scope(&self) -> String {
        let mut scopes = vec!["openid", "offline_access"];
        scopes.extend(self.settings.scopes.iter().map(String::as_str));
        scopes.join(" ")
    }

    pub async fn login_device(&self, prompt: &dyn LoginPrompt) -> Result<Tokens> {
        let Some(endpoint) = &self.discovery.device_authorization_endpoint else {
            return Err(SessionError::Settings(
                "this identity provider offers no device flow: sign in without --device-code".into(),
            ));
        };
        let scope = self.scope();
        let answer = self
            .http
            .post(endpoint)
            .form(&[("client_id", self.settings.client_id.as_str()), ("scope", &scope)])
            .send()
            .await
            .map_err(unreachable)?;
        let auth: DeviceAnswer = json_or_error(answer).await?;
        prompt.device_code(
            &auth.verification_uri,
            auth.verification_uri_complete.as_deref(),
            &auth.user_code,
        );
        let deadline = self.now() + auth.expires_in.max(60);
        let mut interval = Duration::from_secs(auth.interval.unwrap_or(5).max(1));
        loop {
            tokio::time::sleep(interval).await;
            let issued_at = self.now();
            let answer = self
                .token(&[
                    ("grant_type", DEVICE_GRANT),
                    ("device_code", &auth.device_code),
                    ("client_id", &self.settings.client_id),
                ])
                .await;
            match answer {
                Ok(answer) => return self.tokens(answer, issued_at, None, None).await,
                Err(Polled::Pending) => {}
                Err(Polled::SlowDown) => interval += Duration::from_secs(5),
                Err(Polled::Failed(e)) => return Err(e),
            }
            if self.now() >= deadline {
                return Err(SessionError::TimedOut("the device code expired".into()));
            }
        }
    }

    pub async fn login_browser(&self, prompt: &dyn LoginPrompt) -> Result<Tokens> {
        let Some(endpoint) = &self.discovery.authorization_endpoint else {
            return Err(SessionError::Settings(
                "this identity provider has no authorization endpoint: use --device-code".into(),
            ));
        };
        let loopback = Loopback::bind(CALLBACK_PATH).await?;
        let redirect_uri = loopback.redirect_uri();
        let pkce = Pkce::new();
        let state = random_string(16);
        let nonce = random_string(16);
        let scope = self.scope();
        let url = url::Url::parse_with_params(
            endpoint,
            [
                ("response_type", "code"),
                ("client_id", self.settings.client_id.as_str()),
                ("redirect_uri", &redirect_uri),
                ("scope", &scope),
                ("state", &state),
                ("nonce", &nonce),
                ("code_challenge", &pkce.challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .map_err(|e| SessionError::Settings(format!("bad authorization endpoint: {e}")))?;
        prompt.browser(url.as_str(), open_browser(url.as_str()));
        let code = loopback.code(&state, BROWSER_TIMEOUT).await?;
        let issued_at = self.now();
        let answer = self
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &redirect_uri),
                ("client_id", &self.settings.client_id),
                ("code_verifier", &pkce.verifier),
            ])
            .await
            .map_err(Polled::into_error)?;
        self.tokens(answer, issued_at, Some(&nonce), None).await
    }

    pub async fn refresh(&self, old: &Tokens) -> Result<Tokens> {
        let Some(refresh) = &old.refresh_token else {
            return Err(SessionError::Ended(
                "the identity provider issued no refresh token".into(),
            ));
        };
        let issued_at = self.now();
        let answer = self
            .token(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("client_id", &self.settings.client_id),
            ])
            .await
            .map_err(|e| match e {
                Polled::Failed(SessionError::Provider { message, .. })
                    if message.starts_with("invalid_grant") =>
                {
                    SessionError::Ended("the identity provider no longer accepts the refresh token".into())
                }
                other => other.into_error(),
            })?;
        self.tokens(answer, issued_at, None, Some(old)).await
    }

    /// Revokes the refresh token, if the provider can.
    pub async fn revoke(&self, tokens: &Tokens) -> Result<bool> {
        let (Some(endpoint), Some(refresh)) = (&self.discovery.revocation_endpoint, &tokens.refresh_token)
        else {
            return Ok(false);
        };
        let answer = self
            .http
            .post(endpoint)
            .form(&[
                ("token", refresh.as_str()),
                ("token_type_hint", "refresh_token"),
                ("client_id", &self.settings.client_id),
            ])
            .send()
            .await
            .map_err(unreachable)?;
        if answer.status().is_success() {
            Ok(true)
        } else {
            Err(provider_error(
                IDP,
                &format!("revocation answered {}", answer.status()),
            ))
        }
    }

    async fn token(&self, form: &[(&str, &str)]) -> std::result::Result<TokenAnswer, Polled> {
        let answer = self
            .http
            .post(&self.discovery.token_endpoint)
            .form(form)
            .send()
            .await
            .map_err(|e| Polled::Failed(unreachable(e)))?;
        if answer.status().is_success() {
            return answer
                .json()
                .await
                .map_err(|e| Polled::Failed(provider_error(IDP, &format!("unreadable token answer: {e}"))));
        }
        let status = answer.status();
        let error: Option<ErrorAnswer> = answer.json().await.ok();
        Err(match error {
            Some(e) if e.error == "authorization_pending" => Polled::Pending,
            Some(e) if e.error == "slow_down" => Polled::SlowDown,
            Some(e) if e.error == "expired_token" => {
                Polled::Failed(SessionError::TimedOut("the device code expired".into()))
            }
            Some(e) if e.error == "access_denied" => Polled::Failed(SessionError::Denied(
                e.error_description
                    .unwrap_or_else(|| "the sign-in was not approved".into()),
            )),
            Some(e) => Polled::Failed(provider_error(
                IDP,
                &format!("{}: {}", e.error, e.error_description.unwrap_or_default()),
            )),
            None => Polled::Failed(provider_error(IDP, &format!("token endpoint answered {status}"))),
        })
    }

    /// Tokens from a token answer; `old` for a refresh, whose new ID token
    /// must name the same subject (OpenID Connect Core §12.2).
    async fn tokens(
        &self,
        answer: TokenAnswer,
        issued_at: u64,
        nonce: Option<&str>,
        old: Option<&Tokens>,
    ) -> Result<Tokens> {
        let Some(id_token) = answer.id_token else {
            return Err(match old {
                Some(_) => {
                    SessionError::Ended("the identity provider's refresh gives no new ID token".into())
                }
                None => provider_error(
                    IDP,
                    "the token answer has no ID token (is `openid` allowed for this client?)",
                ),
            });
        };
        let claims = self.validate(&id_token, nonce).await?;
        if let Some(old_subject) = old
            .and_then(|o| o.id_token.as_deref())
            .and_then(unverified_claims)
            .and_then(|c| c.get("sub").cloned())
            && claims.get("sub") != Some(&old_subject)
        {
            return Err(provider_error(
                IDP,
                "the refreshed ID token names another subject than the session's",
            ));
        }
        let expires_at = claims.get("exp").and_then(Value::as_u64).unwrap_or(issued_at);
        Ok(Tokens {
            access_token: answer.access_token,
            refresh_token: answer
                .refresh_token
                .or_else(|| old.and_then(|o| o.refresh_token.clone())),
            id_token: Some(id_token),
            expires_at,
            issued_at,
            login_at: 0,
            client: None,
        })
    }

    /// Checks the ID token against the provider's published keys (see
    /// [`check_id_token`]).
    pub async fn validate(&self, id_token: &str, nonce: Option<&str>) -> Result<Map<String, Value>> {
        let jwks: JwkSet = get_json(&self.http, &self.discovery.jwks_uri).await?;
        check_id_token(
            id_token,
            &jwks,
            &self.discovery.issuer,
            &self.settings.client_id,
            nonce,
            self.now(),
        )
    }

    /// The approver this session stands for: the configured claim of the
    /// (validated) ID token, usable as an STS role session name.
    pub async fn approver(&self, tokens: &Tokens) -> Result<String> {
        let id_token = tokens
            .id_token
            .as_deref()
            .ok_or_else(|| SessionError::Ended("no ID token".into()))?;
        let claims = self.validate(id_token, None).await.map_err(|e| match e {
            SessionError::Provider { message, .. } if message.contains("ExpiredSignature") => {
                SessionError::Ended("the ID token expired".into())
            }
            other => other,
        })?;
        let claim = &self.settings.approver_claim;
        // An address the provider has not verified may be anyone's.
        if claim == "email" && claims.get("email_verified") != Some(&Value::Bool(true)) {
            return Err(SessionError::Settings(
                "the ID token's email is not marked verified (`email_verified`): have the provider verify it, or set `approver_claim` to an identifier users cannot change".into(),
            ));
        }
        let value = claims.get(claim).and_then(Value::as_str).ok_or_else(|| {
            SessionError::Settings(format!(
                "the ID token has no `{claim}` claim: set `approver_claim` to a claim your provider sends (for example `email` or `preferred_username`)"
            ))
        })?;
        role_session_name(claim, value)
    }

    /// AWS credentials for the configured role, from the ID token.
    pub async fn role_credentials(&self, tokens: &Tokens) -> Result<Credentials> {
        let session_name = self.approver(tokens).await?;
        let config = unsigned_config(self.settings.region.as_deref()).await;
        let out = aws_sdk_sts::Client::new(&config)
            .assume_role_with_web_identity()
            .role_arn(&self.settings.role_arn)
            .role_session_name(session_name)
            .web_identity_token(tokens.id_token.as_deref().unwrap_or_default())
            .send()
            .await
            .map_err(|e| sdk_error(STS, e))?;
        let c = out
            .credentials()
            .ok_or_else(|| provider_error(STS, "AssumeRoleWithWebIdentity answered without credentials"))?;
        let expiry = SystemTime::try_from(*c.expiration()).ok();
        Ok(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            expiry,
            "tapprove-oidc",
        ))
    }
}

/// The outcome of one poll of the token endpoint.
enum Polled {
    Pending,
    SlowDown,
    Failed(SessionError),
}

impl Polled {
    fn into_error(self) -> SessionError {
        match self {
            Self::Failed(e) => e,
            Self::Pending | Self::SlowDown => {
                provider_error(IDP, "the token endpoint asked to wait outside a device flow")
            }
        }
    }
}

/// Checks an ID token: an accepted asymmetric algorithm, a signature by a
/// key in `jwks` (by `kid`), `iss`, `aud` (this client), `exp` (60 s
/// leeway), `sub`, and `nonce` when one was sent.
pub(crate) fn check_id_token(
    id_token: &str,
    jwks: &JwkSet,
    issuer: &str,
    client_id: &str,
    nonce: Option<&str>,
    now_seconds: u64,
) -> Result<Map<String, Value>> {
    let now = tapprove_proto::UtcTime::from_unix(i64::try_from(now_seconds).unwrap_or(i64::MAX));
    tapprove_core::id_token::check(
        id_token,
        jwks,
        &tapprove_core::id_token::Expected {
            issuer,
            audience: client_id,
            nonce,
        },
        &now,
    )
    .map_err(|e| provider_error(IDP, &format!("the ID token is not valid: {e}")))
}

/// The claims of a token this process validated earlier (stored in the
/// keychain), read without checking it again.
fn unverified_claims(token: &str) -> Option<Map<String, Value>> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// HTTPS, or plain HTTP to this machine only (a provider run locally).
fn secure(url: &str) -> bool {
    match url::Url::parse(url) {
        Ok(u) if u.scheme() == "https" => true,
        Ok(u) if u.scheme() == "http" => {
            matches!(
                u.host(),
                Some(url::Host::Ipv4(ip)) if ip.is_loopback()
            ) || matches!(u.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
                || u.host_str() == Some("localhost")
        }
        _ => false,
    }
}

/// An STS role session name (`[\w+=,.@-]{2,64}`) from a claim value.
fn role_session_name(claim: &str, value: &str) -> Result<String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if (2..=64).contains(&value.len()) && value.chars().all(ok_char) {
        Ok(value.to_owned())
    } else {
        Err(SessionError::Settings(format!(
            "the `{claim}` claim (`{value}`) cannot name an AWS role session (2 to 64 of letters, digits and _+=,.@-): choose another `approver_claim`"
        )))
    }
}

fn unreachable(e: reqwest::Error) -> SessionError {
    SessionError::Unreachable {
        service: IDP,
        message: e.without_url().to_string(),
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(http: &reqwest::Client, url: &str) -> Result<T> {
    let answer = http.get(url).send().await.map_err(unreachable)?;
    if !answer.status().is_success() {
        return Err(provider_error(
            IDP,
            &format!("{url} answered {}", answer.status()),
        ));
    }
    answer
        .json()
        .await
        .map_err(|e| provider_error(IDP, &format!("{url} is not the expected JSON: {e}")))
}

async fn json_or_error<T: serde::de::DeserializeOwned>(answer: reqwest::Response) -> Result<T> {
    if answer.status().is_success() {
        return answer
            .json()
            .await
            .map_err(|e| provider_error(IDP, &format!("unreadable answer: {e}")));
    }
    let status = answer.status();
    let body = Zeroizing::new(answer.text().await.unwrap_or_default());
    let message = serde_json::from_str::<ErrorAnswer>(&body)
        .map(|e| format!("{}: {}", e.error, e.error_description.unwrap_or_default()))
        .unwrap_or_else(|_| format!("answered {status}"));
    Err(provider_error(IDP, &message))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use serde_json::json;

    // The checks themselves are tapprove_core::id_token's (tested there);
    // this module reads stored tokens and maps errors.
    fn unsigned(claims: &Value) -> String {
        format!(
            "{}.{}.c2ln",
            B64.encode(r#"{"alg":"ES256"}"#),
            B64.encode(claims.to_string())
        )
    }

    #[test]
    fn only_https_or_this_machine() {
        assert!(secure("https://idp.example.com/token"));
        assert!(secure("http://127.0.0.1:8080/token"));
        assert!(secure("http://localhost/token"));
        assert!(secure("http://[::1]:9000/"));
        assert!(!secure("http://idp.example.com/token"));
        assert!(!secure("ftp://idp.example.com/"));
    }

    #[test]
    fn stored_tokens_are_read_back_without_a_key() {
        let claims = unverified_claims(&unsigned(&json!({"sub": "u1"}))).unwrap();
        assert_eq!(claims["sub"], "u1");
        assert!(unverified_claims("not-a-token").is_none());
    }

    #[test]
    fn claim_values_that_cannot_name_a_role_session_are_refused() {
        assert_eq!(
            role_session_name("email", "alice@example.com").unwrap(),
            "alice@example.com"
        );
        assert!(role_session_name("name", "Alice Smith").is_err());
        assert!(role_session_name("sub", "a").is_err());
        assert!(role_session_name("sub", &"a".repeat(65)).is_err());
    }
}
