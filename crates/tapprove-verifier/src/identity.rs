//! Who is calling the enrolment service, and whether they count as a
//! person of this organisation.
//!
//! The proof is a presigned `sts:GetCallerIdentity` request, checked and
//! replayed to STS (the scheme of Vault's AWS auth method and
//! aws-iam-authenticator). Before anything is sent, the request must be
//! exactly the one this service accepts: `POST` of the fixed
//! GetCallerIdentity body to the STS endpoint the service itself is
//! configured with (never a URL of the client's choosing), a SigV4
//! `Authorization` whose signed headers include `host`, `x-amz-date`,
//! [`SERVER_ID_HEADER`] carrying this deployment's name and
//! [`BODY_SHA256_HEADER`] carrying the hash of the very request it came
//! with, a signing time within [`MAX_SKEW`] of now, and no header outside a
//! short list. STS then checks the signature and answers with the caller.
//! The service then claims the proof in the ledger, so it is good once.
//!
//! Who the caller is does not yet make them an approver: [`IdentityRules`]
//! admit only principals of the organisation's accounts, of the roles
//! whose session names the organisation controls (IAM Identity Center's
//! permission sets), and IAM users only where the settings say so. The
//! danger here is the session name: whoever can assume a role can pick it,
//! so a role that is not pinned to its person must never be admitted.

use std::time::Duration;

use tapprove_aws::sts::CallerIdentity;
use tapprove_proto::UtcTime;
use tapprove_proto::enrolment::{
    BODY_SHA256_HEADER, GET_CALLER_IDENTITY_BODY, PROOF_NONCE_HEADER, PresignedCallerIdentity,
    SERVER_ID_HEADER,
};

use crate::service_error::ServiceError;

/// How far the signing time may be from now (STS itself accepts a
/// signature for 15 minutes; clocks drift).
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// Headers a presigned identity request may carry.
const ALLOWED_HEADERS: &[&str] = &[
    "host",
    "content-type",
    "x-amz-date",
    "authorization",
    "x-amz-security-token",
    "x-amz-content-sha256",
    SERVER_ID_HEADER,
    BODY_SHA256_HEADER,
    PROOF_NONCE_HEADER,
];

/// A caller STS vouched for, and the proof's single-use key.
#[derive(Debug, Clone)]
pub struct Proven {
    pub caller: CallerIdentity,
    /// `proof#<signature>`: claimed in the ledger before anything is done.
    pub once_key: String,
    /// When the proof's signature stops being accepted (the claim's TTL).
    pub expires: UtcTime,
}

/// Checks presigned identity requests against one STS endpoint.
#[derive(Debug, Clone)]
pub struct CallerCheck {
    endpoint: String,
    server_id: String,
    http: reqwest::Client,
}

impl CallerCheck {
    /// `endpoint` as [`tapprove_aws::sts::endpoint`] gives it; `server_id`
    /// the value the clients put in [`SERVER_ID_HEADER`]
    /// (`Config::enrolment_server_id`).
    pub fn new(endpoint: &str, server_id: &str) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        Ok(Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            server_id: server_id.to_owned(),
            http,
        })
    }

    /// The name identity proofs must carry (this deployment's).
    pub fn server_id(&self) -> &str {
        &self.server_id
    }

    /// The STS endpoint identities are replayed to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The checks made before anything is sent; `body_sha256` is the hash
    /// of the request the proof came with
    /// (`tapprove_core::canonical::proof_body_sha256`). Answers the
    /// signing time.
    pub fn check(
        &self,
        p: &PresignedCallerIdentity,
        body_sha256: &str,
        now: &UtcTime,
    ) -> Result<UtcTime, ServiceError> {
        let refuse = |what: &str| ServiceError::identity(format!("the identity proof {what}"));
        if p.method != "POST" {
            return Err(refuse(&format!("uses {}, not POST", p.method)));
        }
        if p.url.trim_end_matches('/') != self.endpoint {
            return Err(refuse(&format!(
                "is signed for {}, but this service only accepts {} (is your AWS_ENDPOINT_URL / region the service's?)",
                p.url, self.endpoint
            )));
        }
        if p.body != GET_CALLER_IDENTITY_BODY {
            return Err(refuse("is not a GetCallerIdentity request"));
        }
        if let Some(name) = p.headers.keys().find(|k| !ALLOWED_HEADERS.contains(&k.as_str())) {
            return Err(refuse(&format!(
                "carries the header `{name}`, which is not allowed"
            )));
        }
        let host = self
            .endpoint
            .split_once("://")
            .map(|(_, rest)| rest)
            .unwrap_or(&self.endpoint)
            .split('/')
            .next()
            .unwrap_or_default();
        if p.headers.get("host").map(String::as_str) != Some(host) {
            return Err(refuse(&format!("is not addressed to {host}")));
        }
        match p.headers.get(SERVER_ID_HEADER) {
            Some(id) if *id == self.server_id => {}
            Some(id) => {
                return Err(refuse(&format!(
                    "names the service `{id}`, this is `{}`",
                    self.server_id
                )));
            }
            None => return Err(refuse(&format!("does not carry `{SERVER_ID_HEADER}`"))),
        }
        let auth = p
            .headers
            .get("authorization")
            .ok_or_else(|| refuse("is not signed"))?;
        let signed = signed_headers(auth).ok_or_else(|| refuse("is not signed with SigV4"))?;
        for needed in [
            "host",
            "x-amz-date",
            SERVER_ID_HEADER,
            BODY_SHA256_HEADER,
            PROOF_NONCE_HEADER,
        ] {
            if !signed.contains(&needed) {
                return Err(refuse(&format!("does not sign `{needed}`")));
            }
        }
        if p.headers.get(BODY_SHA256_HEADER).map(String::as_str) != Some(body_sha256) {
            return Err(refuse(
                "was made for another request: each request needs its own proof (is the client up to date?)",
            ));
        }
        let date = p
            .headers
            .get("x-amz-date")
            .and_then(|d| amz_date(d))
            .ok_or_else(|| refuse("has no valid x-amz-date"))?;
        let skew = (now.unix_seconds() - date.unix_seconds()).unsigned_abs();
        if skew > MAX_SKEW.as_secs() {
            return Err(refuse(&format!(
                "was signed at {}, more than {} minutes from now: sign again (and check this machine's clock)",
                date.as_str(),
                MAX_SKEW.as_secs() / 60
            )));
        }
        Ok(date)
    }

    /// Checks the request, replays it to STS, and returns who signed it
    /// with the proof's single-use key.
    pub async fn caller(
        &self,
        p: &PresignedCallerIdentity,
        body_sha256: &str,
        now: &UtcTime,
    ) -> Result<Proven, ServiceError> {
        let signed_at = self.check(p, body_sha256, now)?;
        let signature =
            single_signature(p.headers.get("authorization").map(String::as_str)).ok_or_else(|| {
                ServiceError::identity("the identity proof's signature is not one SigV4 signature")
            })?;
        let mut request = self.http.post(format!("{}/", self.endpoint)).body(p.body.clone());
        for (name, value) in &p.headers {
            if name != "host" {
                request = request.header(name, value);
            }
        }
        let response = request.send().await.map_err(|e| {
            ServiceError::unavailable(format!("STS at {} did not answer: {e}", self.endpoint))
        })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| ServiceError::unavailable(format!("STS answer unreadable: {e}")))?;
        if status.is_client_error() {
            return Err(ServiceError::identity(format!(
                "STS refused the identity proof ({}): sign in again and retry",
                xml_field(&text, "Code").unwrap_or_else(|| status.to_string())
            )));
        }
        if !status.is_success() {
            return Err(ServiceError::unavailable(format!("STS answered {status}")));
        }
        match (
            xml_field(&text, "Arn"),
            xml_field(&text, "Account"),
            xml_field(&text, "UserId"),
        ) {
            (Some(arn), Some(account), Some(user_id)) => Ok(Proven {
                caller: CallerIdentity {
                    arn,
                    account,
                    user_id,
                },
                once_key: format!("proof#{signature}"),
                expires: UtcTime::from_unix(
                    signed_at
                        .unix_seconds()
                        .saturating_add(i64::try_from(MAX_SKEW.as_secs()).unwrap_or(i64::MAX)),
                ),
            }),
            _ => Err(ServiceError::unavailable("STS answered without a caller ARN")),
        }
    }
}

/// The one `Signature=` of a SigV4 `Authorization` header, lower-cased: 64
/// hex digits, exactly once among exactly three components. The
/// single-use key is made from it, so no other spelling of the same
/// signature (a second component, upper-case hex) passes as another proof.
fn single_signature(auth: Option<&str>) -> Option<String> {
    let rest = auth?.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let parts: Vec<&str> = rest.split(',').map(str::trim).collect();
    if parts.len() != 3 {
        return None;
    }
    let mut found = parts.iter().filter_map(|p| p.strip_prefix("Signature="));
    let signature = found.next()?;
    if found.next().is_some() || signature.len() != 64 || !signature.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    Some(signature.to_ascii_lowercase())
}

/// The `SignedHeaders=` list of a SigV4 `Authorization` header.
fn signed_headers(auth: &str) -> Option<Vec<&str>> {
    let rest = auth.strip_prefix("AWS4-HMAC-SHA256 ")?;
    rest.split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("SignedHeaders="))
        .map(|list| list.split(';').collect())
}

/// `20261121T184900Z` as a time.
fn amz_date(text: &str) -> Option<UtcTime> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let rfc = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &text[0..4],
        &text[4..6],
        &text[6..8],
        &text[9..11],
        &text[11..13],
        &text[13..15]
    );
    UtcTime::parse(&rfc).ok()
}

/// The text of the first `<name>` element of a small, known XML answer
/// (STS's GetCallerIdentityResponse and ErrorResponse), unescaped.
fn xml_field(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    let raw = xml[start..end].trim();
    Some(
        raw.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// A caller the [`IdentityRules`] admitted as a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The approver's name: the IAM user's name, or the role session's.
    pub name: String,
    /// The stable id the registry binds the name to: `GetCallerIdentity`'s
    /// `UserId` (`AIDA…` for an IAM user, `AROA…:<session>` for a role
    /// session: the role's unique id, so a same-named session of another
    /// role is another principal).
    pub principal: String,
    pub arn: String,
    pub account: String,
    /// When an OpenID Connect ID token named them: its single-use key
    /// (`idtoken#<sha256>`) and when it expires. The service claims it in
    /// the ledger before it acts, so a token serves one request.
    pub token_once: Option<(String, UtcTime)>,
}

/// Which AWS principals count as people (`[identity]` in the settings).
#[derive(Debug, Clone)]
pub struct IdentityRules {
    /// Allowed accounts; empty until resolved means the service's own.
    accounts: Vec<String>,
    roles: Vec<String>,
    iam_users: bool,
    requesters: Vec<String>,
    oidc: Option<std::sync::Arc<OidcPeople>>,
    own_account: tokio::sync::OnceCell<String>,
    sts: Option<tapprove_aws::sts::Identity>,
}

impl IdentityRules {
    /// The rules of `settings`; the deployment's own account is asked of
    /// STS through `aws` the first time it is needed.
    pub fn new(settings: &tapprove_config::IdentitySettings, aws: Option<&aws_config::SdkConfig>) -> Self {
        Self {
            accounts: settings.accounts.clone(),
            roles: settings.roles.clone(),
            iam_users: settings.iam_users,
            requesters: settings.requesters.clone(),
            oidc: settings
                .oidc
                .as_ref()
                .map(|o| std::sync::Arc::new(OidcPeople::new(o.clone()))),
            own_account: tokio::sync::OnceCell::new(),
            sts: aws.map(tapprove_aws::sts::Identity::new),
        }
    }

    async fn accounts(&self) -> Result<Vec<String>, ServiceError> {
        if !self.accounts.is_empty() {
            return Ok(self.accounts.clone());
        }
        let sts = self.sts.as_ref().ok_or_else(|| {
            ServiceError::unavailable(
                "no [identity] accounts are configured and the service's own account is unknown",
            )
        })?;
        let own = self
            .own_account
            .get_or_try_init(|| async {
                sts.caller().await.map(|c| c.account).map_err(|e| {
                    ServiceError::unavailable(format!("cannot ask STS for this deployment's account: {e}"))
                })
            })
            .await?;
        Ok(vec![own.clone()])
    }

    /// `caller` as a person, or the rule that refuses it. `id_token` is
    /// the OpenID Connect ID token the request carried: required, and
    /// checked at `now`, for sessions of `[identity.oidc] roles`.
    pub async fn admit(
        &self,
        caller: &CallerIdentity,
        id_token: Option<&str>,
        now: &UtcTime,
    ) -> Result<Person, ServiceError> {
        let refuse = |code, message: String| Err(ServiceError::refused(code, message));
        let mut parts = caller.arn.splitn(6, ':');
        let (Some("arn"), Some(_partition), Some(service), Some(_), Some(arn_account), Some(resource)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return refuse(
                "principal_refused",
                format!("`{}` is not an AWS principal ARN", caller.arn),
            );
        };
        let accounts = self.accounts().await?;
        if arn_account != caller.account || !accounts.contains(&caller.account) {
            return refuse(
                "account_refused",
                format!(
                    "{} belongs to account {}, which may not enrol here ([identity] accounts): sign in to your organisation's account",
                    caller.arn, caller.account
                ),
            );
        }
        let name = match (service, resource.split_once('/')) {
            ("iam", Some(("user", path))) => {
                if !self.iam_users {
                    return refuse(
                        "iam_user_refused",
                        format!(
                            "{} is an IAM user, and IAM users do not count as approvers here ([identity] iam_users = false): sign in through IAM Identity Center",
                            caller.arn
                        ),
                    );
                }
                path.rsplit('/').next().unwrap_or_default()
            }
            ("sts", Some(("assumed-role", rest))) => {
                let (role, session) = rest.split_once('/').unwrap_or((rest, ""));
                // A session of a web-identity role is named by the client:
                // only the provider's signed token says who it is. This
                // comes first, so a role listed in both places still needs
                // the token.
                if let Some(oidc) = self.oidc.as_ref().filter(|o| o.covers(role)) {
                    let token = id_token.ok_or_else(|| {
                        ServiceError::refused(
                            "id_token_required",
                            format!(
                                "sessions of {role} come from OpenID Connect sign-in: the request must carry the ID token that names you (update the client, and sign in again)"
                            ),
                        )
                    })?;
                    let once = oidc.names(token, session, now).await?;
                    return Ok(Person {
                        name: session.to_owned(),
                        principal: caller.user_id.clone(),
                        arn: caller.arn.clone(),
                        account: caller.account.clone(),
                        token_once: Some(once),
                    });
                }
                if !self.roles.iter().any(|pattern| role_matches(pattern, role)) {
                    return refuse(
                        "role_refused",
                        format!(
                            "sessions of the role {role} do not count as approvers here ([identity] roles): sign in with your approver permission set"
                        ),
                    );
                }
                session
            }
            _ => {
                return refuse(
                    "principal_refused",
                    format!(
                        "{} is neither an IAM Identity Center session nor an IAM user: act as yourself, not as the account root or a federated user",
                        caller.arn
                    ),
                );
            }
        };
        if name.is_empty() || caller.user_id.is_empty() {
            return refuse("principal_refused", format!("{} names no person", caller.arn));
        }
        Ok(Person {
            name: name.to_owned(),
            principal: caller.user_id.clone(),
            arn: caller.arn.clone(),
            account: caller.account.clone(),
            token_once: None,
        })
    }
}

/// How long after it was issued an ID token still names its person to
/// this service: the client fetches a fresh one for each request.
pub const ID_TOKEN_MAX_AGE_SECONDS: i64 = 15 * 60;

/// `[identity.oidc]`: the provider's published keys (fetched through its
/// discovery document, cached, fetched again for a key id they lack) and
/// the rules an ID token must meet to name a person.
#[derive(Debug)]
pub struct OidcPeople {
    settings: tapprove_config::OidcIdentity,
    http: reqwest::Client,
    keys: tokio::sync::Mutex<Option<(tapprove_core::id_token::JwkSet, std::time::Instant)>>,
}

/// How long the provider's keys are kept before a token naming an unknown
/// key may fetch them again.
const KEYS_REFETCH_AFTER: Duration = Duration::from_secs(60);

impl OidcPeople {
    fn new(settings: tapprove_config::OidcIdentity) -> Self {
        Self {
            settings,
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(3))
                .timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            keys: tokio::sync::Mutex::new(None),
        }
    }

    fn covers(&self, role: &str) -> bool {
        self.settings
            .roles
            .iter()
            .any(|pattern| role_matches(pattern, role))
    }

    /// Checks that `token` is a fresh ID token of the provider, for
    /// Tapprove's client, whose claim is `session`; answers its single-use
    /// key and expiry.
    async fn names(
        &self,
        token: &str,
        session: &str,
        now: &UtcTime,
    ) -> Result<(String, UtcTime), ServiceError> {
        let refuse = |why: String| {
            ServiceError::refused(
                "id_token_refused",
                format!("the ID token does not name you here: {why}; sign in again"),
            )
        };
        if token.len() > 16 * 1024 {
            return Err(refuse("it is larger than 16 KiB".into()));
        }
        let keys = self.keys_for(token).await?;
        let claims = tapprove_core::id_token::check(
            token,
            &keys,
            &tapprove_core::id_token::Expected {
                issuer: &self.settings.issuer,
                audience: &self.settings.audience,
                nonce: None,
            },
            now,
        )
        .map_err(|e| refuse(e.0))?;
        let issued = claims.get("iat").and_then(serde_json::Value::as_i64).unwrap_or(0);
        if now.unix_seconds().saturating_sub(issued) > ID_TOKEN_MAX_AGE_SECONDS {
            return Err(refuse(format!(
                "it was issued more than {} minutes ago (the client fetches a fresh one for each request)",
                ID_TOKEN_MAX_AGE_SECONDS / 60
            )));
        }
        let claim = &self.settings.claim;
        if claim == "email" && claims.get("email_verified") != Some(&serde_json::Value::Bool(true)) {
            return Err(refuse(
                "its email is not marked verified (`email_verified`)".into(),
            ));
        }
        let named = claims
            .get(claim)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        if named != session {
            return Err(ServiceError::refused(
                "id_token_mismatch",
                format!(
                    "your session is named `{session}`, but your ID token's `{claim}` is `{named}`: the session name must be the provider's, sign in as yourself"
                ),
            ));
        }
        let exp = claims.get("exp").and_then(serde_json::Value::as_i64).unwrap_or(0);
        // The single-use key is the signed part (header and claims), not
        // the whole text: an ECDSA signature can be rewritten into a second
        // valid one (s → n − s), which must not make a second token. It is
        // claimed until the token stops being accepted.
        let signed = token.rsplit_once('.').map_or(token, |(signed, _)| signed);
        let digest = tapprove_core::canonical::sha256(signed.as_bytes());
        let key: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        Ok((
            format!("idtoken#{key}"),
            UtcTime::from_unix(exp.saturating_add(tapprove_core::id_token::LEEWAY_SECONDS)),
        ))
    }

    /// The provider's keys, fetched again when `token` names a key the
    /// cached set lacks (providers rotate keys), at most once a minute: a
    /// caller sending tokens with made-up key ids cannot make the service
    /// hammer the provider. A token whose header is not a signed token of
    /// an accepted algorithm fetches nothing.
    async fn keys_for(&self, token: &str) -> Result<tapprove_core::id_token::JwkSet, ServiceError> {
        if !tapprove_core::id_token::acceptable_header(token) {
            return Err(ServiceError::refused(
                "id_token_refused",
                "the ID token is not a token signed with an accepted algorithm: sign in again",
            ));
        }
        let mut cached = self.keys.lock().await;
        if let Some((keys, fetched)) = cached.as_ref()
            && (tapprove_core::id_token::knows_key(token, keys) || fetched.elapsed() < KEYS_REFETCH_AFTER)
        {
            return Ok(keys.clone());
        }
        let keys = self.fetch_keys().await?;
        *cached = Some((keys.clone(), std::time::Instant::now()));
        Ok(keys)
    }

    async fn fetch_keys(&self) -> Result<tapprove_core::id_token::JwkSet, ServiceError> {
        let issuer = self.settings.issuer.trim_end_matches('/');
        let unavailable = |what: &str, e: String| {
            ServiceError::unavailable(format!(
                "the OpenID Connect provider's {what} could not be read: {e}"
            ))
        };
        #[derive(serde::Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let discovery: Discovery = self
            .get(&format!("{issuer}/.well-known/openid-configuration"))
            .await
            .map_err(|e| unavailable("discovery document", e))?;
        if discovery.issuer != self.settings.issuer {
            return Err(ServiceError::unavailable(format!(
                "the provider at {issuer} calls itself `{}`, not `{}`: fix [identity.oidc] issuer",
                discovery.issuer, self.settings.issuer
            )));
        }
        self.get(&discovery.jwks_uri)
            .await
            .map_err(|e| unavailable("key set", e))
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        if !secure(url) {
            return Err(format!("{url} is neither https nor on this machine"));
        }
        let answer = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if !answer.status().is_success() {
            return Err(format!("{url} answered {}", answer.status()));
        }
        answer.json().await.map_err(|e| e.without_url().to_string())
    }
}

/// HTTPS, or plain HTTP to this machine only (a provider run locally).
fn secure(url: &str) -> bool {
    match url.split_once("://") {
        Some(("https", _)) => true,
        Some(("http", rest)) => {
            let host = rest.split(['/', '?']).next().unwrap_or_default();
            let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
            matches!(host, "127.0.0.1" | "localhost" | "[::1]")
        }
        _ => false,
    }
}

impl IdentityRules {
    /// `caller` as a requester: of an allowed account, matching one of the
    /// `requesters` patterns. `person` is the caller's approver name when
    /// the rules count them as a person (the caller of the service checks
    /// the name's binding before vouching for it).
    pub async fn requester(
        &self,
        caller: &CallerIdentity,
        now: &UtcTime,
    ) -> Result<tapprove_proto::Requester, ServiceError> {
        if self.requesters.is_empty() {
            return Err(ServiceError::refused(
                "requests_off",
                "this service opens no requests ([identity] requesters is empty): ask an admin to list your role, or start the gate yourself (the requester is then shown as not verified)",
            ));
        }
        let accounts = self.accounts().await?;
        if caller.arn.split(':').nth(4).is_none_or(|a| a != caller.account)
            || !accounts.contains(&caller.account)
        {
            return Err(ServiceError::refused(
                "account_refused",
                format!(
                    "{} belongs to account {}, which may not open requests here ([identity] accounts)",
                    caller.arn, caller.account
                ),
            ));
        }
        if !self
            .requesters
            .iter()
            .any(|pattern| tapprove_config::glob_matches(pattern, &caller.arn))
        {
            return Err(ServiceError::refused(
                "requester_refused",
                format!(
                    "{} may not open requests here ([identity] requesters): ask an admin to list your role",
                    caller.arn
                ),
            ));
        }
        Ok(tapprove_proto::Requester {
            arn: caller.arn.clone(),
            principal: caller.user_id.clone(),
            person: self.admit(caller, None, now).await.ok().map(|p| p.name),
        })
    }
}

/// A role name against a pattern: exact, or a prefix before a trailing
/// `*`; case-insensitive, as IAM role names are unique regardless of case.
fn role_matches(pattern: &str, role: &str) -> bool {
    let (pattern, role) = (pattern.to_ascii_lowercase(), role.to_ascii_lowercase());
    match pattern.strip_suffix('*') {
        Some(prefix) => role.starts_with(prefix),
        None => role == pattern,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const NOW: i64 = 1_795_300_000; // 2026-11-22T...Z
    const BODY: &str = "5d41402abc4b2a76b9719d911017c592aa0e1df5a9d1e4d4d0d8e9b5f1d6d2c3";

    fn presigned() -> PresignedCallerIdentity {
        let date = UtcTime::from_unix(NOW - 60);
        let d = date.as_str().replace(['-', ':'], "");
        PresignedCallerIdentity {
            method: "POST".into(),
            url: "http://127.0.0.1:5000/".into(),
            headers: BTreeMap::from([
                ("host".into(), "127.0.0.1:5000".into()),
                ("content-type".into(), "application/x-www-form-urlencoded; charset=utf-8".into()),
                ("x-amz-date".into(), d),
                (SERVER_ID_HEADER.into(), "approve.example.com".into()),
                (BODY_SHA256_HEADER.into(), BODY.into()),
                (PROOF_NONCE_HEADER.into(), "0123456789abcdef".into()),
                (
                    "authorization".into(),
                    "AWS4-HMAC-SHA256 Credential=AKIA/20261122/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-tapprove-body-sha256;x-tapprove-nonce;x-tapprove-server-id, Signature=abc".into(),
                ),
            ]),
            body: GET_CALLER_IDENTITY_BODY.into(),
        }
    }

    fn check() -> CallerCheck {
        CallerCheck::new("http://127.0.0.1:5000", "approve.example.com").unwrap()
    }

    fn refusal(p: &PresignedCallerIdentity) -> String {
        check()
            .check(p, BODY, &UtcTime::from_unix(NOW))
            .unwrap_err()
            .message
    }

    #[test]
    fn accepts_a_well_formed_request() {
        check()
            .check(&presigned(), BODY, &UtcTime::from_unix(NOW))
            .unwrap();
    }

    #[test]
    fn refuses_another_endpoint_body_or_method() {
        let mut p = presigned();
        p.url = "https://evil.example.com/".into();
        assert!(refusal(&p).contains("only accepts http://127.0.0.1:5000"));
        let mut p = presigned();
        p.body = "Action=ListUsers&Version=2010-05-08".into();
        assert!(refusal(&p).contains("not a GetCallerIdentity"));
        let mut p = presigned();
        p.method = "GET".into();
        assert!(refusal(&p).contains("not POST"));
        let mut p = presigned();
        p.headers.insert("host".into(), "sts.amazonaws.com".into());
        assert!(refusal(&p).contains("not addressed"));
        let mut p = presigned();
        p.headers.insert("transfer-encoding".into(), "chunked".into());
        assert!(refusal(&p).contains("`transfer-encoding`"));
    }

    #[test]
    fn refuses_another_service_or_an_unsigned_service_header() {
        let mut p = presigned();
        p.headers
            .insert(SERVER_ID_HEADER.into(), "vault.example.com".into());
        assert!(refusal(&p).contains("names the service `vault.example.com`"));
        let mut p = presigned();
        p.headers.remove(SERVER_ID_HEADER);
        assert!(refusal(&p).contains("does not carry"));
        let mut p = presigned();
        p.headers.insert(
            "authorization".into(),
            "AWS4-HMAC-SHA256 Credential=AKIA/x, SignedHeaders=content-type;host;x-amz-date;x-tapprove-body-sha256;x-tapprove-nonce, Signature=abc"
                .into(),
        );
        assert!(refusal(&p).contains("does not sign `x-tapprove-server-id`"));
        let mut p = presigned();
        p.headers
            .insert("authorization".into(), "Basic dXNlcjpwYXNz".into());
        assert!(refusal(&p).contains("SigV4"));
    }

    #[test]
    fn refuses_a_proof_made_for_another_request_or_with_its_hash_unsigned() {
        let mut p = presigned();
        p.headers.insert(BODY_SHA256_HEADER.into(), "00".repeat(32));
        assert!(refusal(&p).contains("made for another request"));
        let mut p = presigned();
        p.headers.remove(BODY_SHA256_HEADER);
        assert!(refusal(&p).contains("made for another request"));
        let mut p = presigned();
        p.headers.insert(
            "authorization".into(),
            "AWS4-HMAC-SHA256 Credential=AKIA/x, SignedHeaders=content-type;host;x-amz-date;x-tapprove-nonce;x-tapprove-server-id, Signature=abc"
                .into(),
        );
        assert!(refusal(&p).contains("does not sign `x-tapprove-body-sha256`"));
        let mut p = presigned();
        p.headers.insert(
            "authorization".into(),
            "AWS4-HMAC-SHA256 Credential=AKIA/x, SignedHeaders=content-type;host;x-amz-date;x-tapprove-body-sha256;x-tapprove-server-id, Signature=abc"
                .into(),
        );
        assert!(refusal(&p).contains("does not sign `x-tapprove-nonce`"));
    }

    fn caller(arn: &str, account: &str) -> CallerIdentity {
        CallerIdentity {
            arn: arn.into(),
            account: account.into(),
            user_id: "AROAEXAMPLE:bob@example.com".into(),
        }
    }

    fn rules(iam_users: bool) -> IdentityRules {
        IdentityRules::new(
            &tapprove_config::IdentitySettings {
                accounts: vec!["123456789012".into()],
                roles: vec!["AWSReservedSSO_TapproveApprover_*".into(), "Exact".into()],
                iam_users,
                requesters: vec![
                    "arn:aws:sts::123456789012:assumed-role/ci-deploy/*".into(),
                    "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_TapproveApprover_*".into(),
                ],
                oidc: None,
            },
            None,
        )
    }

    #[test]
    fn only_listed_callers_of_allowed_accounts_open_requests() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let rules = rules(false);
        let ask = |arn: &str, account: &str| {
            rt.block_on(rules.requester(&caller(arn, account), &UtcTime::from_unix(NOW)))
        };
        let ci = ask(
            "arn:aws:sts::123456789012:assumed-role/ci-deploy/run-42",
            "123456789012",
        )
        .unwrap();
        assert_eq!(ci.person, None, "a pipeline's role is no person");
        let person = ask(
            "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_TapproveApprover_0a1b/bob@example.com",
            "123456789012",
        )
        .unwrap();
        assert_eq!(person.person.as_deref(), Some("bob@example.com"));
        assert_eq!(
            ask("arn:aws:sts::123456789012:assumed-role/dev/bob", "123456789012")
                .unwrap_err()
                .code,
            "requester_refused"
        );
        assert_eq!(
            ask(
                "arn:aws:sts::999999999999:assumed-role/ci-deploy/run-1",
                "999999999999"
            )
            .unwrap_err()
            .code,
            "account_refused"
        );
        let off = IdentityRules::new(&tapprove_config::IdentitySettings::default(), None);
        assert_eq!(
            rt.block_on(off.requester(
                &caller(
                    "arn:aws:sts::123456789012:assumed-role/ci-deploy/run-42",
                    "123456789012"
                ),
                &UtcTime::from_unix(NOW)
            ))
            .unwrap_err()
            .code,
            "requests_off"
        );
    }

    fn admitted(rules: &IdentityRules, arn: &str, account: &str) -> Result<Person, ServiceError> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(rules.admit(&caller(arn, account), None, &UtcTime::from_unix(NOW)))
    }

    #[test]
    fn admits_only_the_organisations_people() {
        let sso =
            "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_TapproveApprover_0a1b2c/bob@example.com";
        let person = admitted(&rules(false), sso, "123456789012").unwrap();
        assert_eq!(person.name, "bob@example.com");
        assert_eq!(person.principal, "AROAEXAMPLE:bob@example.com");
        assert_eq!(
            admitted(
                &rules(false),
                "arn:aws:sts::123456789012:assumed-role/exact/bob",
                "123456789012"
            )
            .unwrap()
            .name,
            "bob"
        );
        let code =
            |arn: &str, account: &str, iam: bool| admitted(&rules(iam), arn, account).unwrap_err().code;
        // Another account, even with the right role name, or an ARN whose
        // account is not the one STS answered.
        assert_eq!(
            code(
                "arn:aws:sts::999999999999:assumed-role/AWSReservedSSO_TapproveApprover_0a1b2c/carol",
                "999999999999",
                false
            ),
            "account_refused"
        );
        assert_eq!(code(sso, "999999999999", false), "account_refused");
        // A role whose sessions anyone can name.
        assert_eq!(
            code(
                "arn:aws:sts::123456789012:assumed-role/ci-deploy/bob@example.com",
                "123456789012",
                false
            ),
            "role_refused"
        );
        assert_eq!(
            code(
                "arn:aws:sts::123456789012:assumed-role/ExactButLonger/bob",
                "123456789012",
                false
            ),
            "role_refused"
        );
        // IAM users only where allowed.
        let user = "arn:aws:iam::123456789012:user/eng/bob";
        assert_eq!(code(user, "123456789012", false), "iam_user_refused");
        assert_eq!(admitted(&rules(true), user, "123456789012").unwrap().name, "bob");
        // Never the root or a federated user.
        assert_eq!(
            code("arn:aws:iam::123456789012:root", "123456789012", true),
            "principal_refused"
        );
        assert_eq!(
            code(
                "arn:aws:sts::123456789012:federated-user/bob",
                "123456789012",
                true
            ),
            "principal_refused"
        );
    }

    #[test]
    fn the_single_use_key_is_one_normalised_signature() {
        let sig = "ab".repeat(32);
        let auth = |rest: &str| format!("AWS4-HMAC-SHA256 Credential=AKIA/x, SignedHeaders=host, {rest}");
        assert_eq!(
            single_signature(Some(&auth(&format!("Signature={sig}")))),
            Some(sig.clone())
        );
        assert_eq!(
            single_signature(Some(&auth(&format!("Signature={}", sig.to_uppercase())))),
            Some(sig.clone())
        );
        for bad in [
            auth(&format!("Signature={sig}, Signature={sig}")),
            auth("Signature=abc"),
            auth(&format!("Signature={}", "zz".repeat(32))),
            format!("Basic {sig}"),
        ] {
            assert_eq!(single_signature(Some(&bad)), None, "{bad}");
        }
        assert_eq!(single_signature(None), None);
    }

    #[test]
    fn refuses_stale_or_future_signatures() {
        for offset in [-16 * 60, 16 * 60] {
            let mut p = presigned();
            let date = UtcTime::from_unix(NOW + offset).as_str().replace(['-', ':'], "");
            p.headers.insert("x-amz-date".into(), date);
            assert!(refusal(&p).contains("more than 15 minutes"), "offset {offset}");
        }
        let mut p = presigned();
        p.headers.insert("x-amz-date".into(), "yesterday".into());
        assert!(refusal(&p).contains("no valid x-amz-date"));
    }

    #[test]
    fn reads_sts_answers() {
        let ok = "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/bob</Arn><UserId>AIDA</UserId><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>";
        assert_eq!(
            xml_field(ok, "Arn").as_deref(),
            Some("arn:aws:iam::123456789012:user/bob")
        );
        assert_eq!(xml_field(ok, "Account").as_deref(), Some("123456789012"));
        let err = "<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>x &amp; y</Message></Error></ErrorResponse>";
        assert_eq!(xml_field(err, "Code").as_deref(), Some("SignatureDoesNotMatch"));
        assert_eq!(xml_field(err, "Message").as_deref(), Some("x & y"));
        assert_eq!(xml_field(err, "Arn"), None);
    }
}
