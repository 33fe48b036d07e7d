//! A fake IAM Identity Center, because it has no emulator: the SSO OIDC
//! service (`/client/register`, `/device_authorization`, `/token`,
//! `/authorize`) and the access portal (`/assignment/accounts`,
//! `/assignment/roles`, `/federation/credentials`, `/logout`), speaking
//! the wire format the AWS SDK uses: camelCase JSON, epoch seconds for
//! `clientIdIssuedAt`/`clientSecretExpiresAt`, epoch millis for role
//! credential expiry, errors as `x-amzn-ErrorType` headers with an OAuth
//! `error` body, the bearer token in `x-amz-sso_bearer_token`.
//!
//! It checks what it receives: client secrets, the PKCE verifier against
//! the challenge, loopback redirect URIs, that a refresh token is the
//! current one. A check that fails answers with an error *and* is recorded
//! in [`FakeSso::violations`], so a test fails when the client speaks the
//! protocol wrongly. Role credentials are minted by moto's STS
//! (`AssumeRole` with the user as session name), so AWS calls made with
//! them identify the user as IAM Identity Center's would.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const ACCOUNT_ID: &str = "123456789012";
pub const START_URL: &str = "https://d-fake.awsapps.com/start";

/// How the fake behaves; change it between steps with [`FakeSso::tune`].
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// The signed-in user (the role session name of role credentials).
    pub user: String,
    /// Accounts and their roles (permission sets).
    pub accounts: Vec<(String, String, Vec<String>)>,
    /// `expiresIn` of the next access tokens.
    pub expires_in: i64,
    /// Answer the first device-code poll with `SlowDownException`.
    pub slow_down_first_poll: bool,
    /// Refuse refresh grants with `InvalidGrantException`.
    pub refuse_refresh: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            user: "alice".into(),
            accounts: vec![(ACCOUNT_ID.into(), "approvals".into(), vec!["Approver".into()])],
            expires_in: 3600,
            slow_down_first_poll: false,
            refuse_refresh: false,
        }
    }
}

/// What reached the fake.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub registrations: Vec<Value>,
    pub authorizations: usize,
    pub device_authorizations: usize,
    pub device_polls: Vec<Instant>,
    pub grants: Vec<String>,
    pub refreshes: usize,
    pub role_credentials: usize,
    pub logouts: usize,
}

struct Client {
    secret: String,
    grant_types: Vec<String>,
}

struct AuthCode {
    client_id: String,
    challenge: String,
    redirect_uri: String,
}

struct Device {
    client_id: String,
    user_code: String,
    approved: bool,
    polls: usize,
}

#[derive(Default)]
struct Inner {
    behaviour: Behaviour,
    seen: Seen,
    violations: Vec<String>,
    clients: HashMap<String, Client>,
    codes: HashMap<String, AuthCode>,
    devices: HashMap<String, Device>,
    /// Access token → expiry.
    access: HashMap<String, SystemTime>,
    /// The refresh tokens still valid, with their client.
    refresh: HashMap<String, String>,
    /// Every secret handed out, for leak searches.
    secrets: Vec<String>,
    counter: u64,
}

impl Inner {
    fn mint(&mut self, kind: &str) -> String {
        self.counter += 1;
        let mut bytes = [0u8; 18];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
        let value = format!("{kind}{}{}", self.counter, URL_SAFE_NO_PAD.encode(bytes));
        self.secrets.push(value.clone());
        value
    }

    fn violation(&mut self, what: String) {
        self.violations.push(what);
    }
}

struct Shared {
    inner: Mutex<Inner>,
    base: String,
    sts: aws_sdk_sts::Client,
}

/// A running fake; stops when dropped.
pub struct FakeSso {
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for FakeSso {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeSso")
            .field("base", &self.shared.base)
            .finish()
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Inner> {
    shared.inner.lock().unwrap_or_else(|e| e.into_inner())
}

impl FakeSso {
    /// Starts the fake on a free loopback port; role credentials come from
    /// the STS behind `moto` (an SDK config for the emulator).
    pub fn start(moto: &aws_config::SdkConfig) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner::default()),
            base,
            sts: aws_sdk_sts::Client::new(moto),
        });
        let app = Router::new()
            .route("/client/register", post(register))
            .route("/device_authorization", post(device_authorization))
            .route("/device", get(device_page))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/assignment/accounts", get(accounts))
            .route("/assignment/roles", get(roles))
            .route("/federation/credentials", get(role_credentials))
            .route("/logout", post(logout))
            .with_state(shared.clone());
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            shared,
            runtime: Some(runtime),
        }
    }

    /// The base URL: `AWS_ENDPOINT_URL_SSO_OIDC` and `AWS_ENDPOINT_URL_SSO`.
    pub fn base(&self) -> &str {
        &self.shared.base
    }

    pub fn tune(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut lock(&self.shared).behaviour);
    }

    pub fn seen(&self) -> Seen {
        lock(&self.shared).seen.clone()
    }

    /// Protocol mistakes the client made.
    pub fn violations(&self) -> Vec<String> {
        lock(&self.shared).violations.clone()
    }

    /// Every token, code and secret the fake issued (and the role
    /// credentials' secrets), for leak searches.
    pub fn secrets(&self) -> Vec<String> {
        lock(&self.shared).secrets.clone()
    }
}

impl Drop for FakeSso {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

/// An SSO OIDC error: the type in `x-amzn-ErrorType` (what the SDK reads),
/// the OAuth error in the body.
fn oidc_error(status: StatusCode, kind: &str, error: &str, description: &str) -> Response {
    (
        status,
        [
            (
                "x-amzn-ErrorType",
                format!("{kind}:http://internal.amazon.com/coral/com.amazonaws.switchboard.portal/"),
            ),
            (header::CONTENT_TYPE.as_str(), "application/json".into()),
        ],
        json!({"error": error, "error_description": description}).to_string(),
    )
        .into_response()
}

fn portal_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [
            ("x-amzn-ErrorType", kind.to_owned()),
            (header::CONTENT_TYPE.as_str(), "application/json".into()),
        ],
        json!({"message": message}).to_string(),
    )
        .into_response()
}

fn body(bytes: &Bytes) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn epoch(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

async fn register(State(s): State<Arc<Shared>>, bytes: Bytes) -> Response {
    let req = body(&bytes);
    let mut inner = lock(&s);
    inner.seen.registrations.push(req.clone());
    if text(&req, "clientType") != "public" {
        inner.violation(format!("RegisterClient clientType is not `public`: {req}"));
        return oidc_error(
            StatusCode::BAD_REQUEST,
            "InvalidClientMetadataException",
            "invalid_client_metadata",
            "clientType",
        );
    }
    let scopes: Vec<&str> = req["scopes"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !scopes.contains(&"sso:account:access") {
        inner.violation(format!(
            "RegisterClient without the sso:account:access scope: {req}"
        ));
    }
    let grant_types: Vec<String> = req["grantTypes"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    if grant_types.iter().any(|g| g == "authorization_code") {
        let redirects = req["redirectUris"].as_array().cloned().unwrap_or_default();
        if redirects.is_empty() || text(&req, "issuerUrl") != START_URL {
            inner.violation(format!(
                "code-flow RegisterClient without redirectUris or issuerUrl: {req}"
            ));
        }
    }
    inner.counter += 1;
    let id = format!("client-{}", inner.counter);
    let secret = inner.mint("client-secret-");
    inner.clients.insert(
        id.clone(),
        Client {
            secret: secret.clone(),
            grant_types,
        },
    );
    let now = epoch(SystemTime::now());
    axum::Json(json!({
        "clientId": id,
        "clientSecret": secret,
        "clientIdIssuedAt": now,
        "clientSecretExpiresAt": now + 90 * 24 * 3600,
    }))
    .into_response()
}

/// Checks the client's id and secret; `None` if they are good.
fn check_client(inner: &mut Inner, req: &Value, grant: &str) -> Option<Response> {
    let ok = inner.clients.get(text(req, "clientId")).map(|c| {
        (
            c.secret == text(req, "clientSecret"),
            c.grant_types.iter().any(|g| g == grant),
        )
    });
    match ok {
        Some((true, true)) => None,
        Some((true, false)) => {
            inner.violation(format!("grant `{grant}` used by a client not registered for it"));
            Some(oidc_error(
                StatusCode::BAD_REQUEST,
                "UnauthorizedClientException",
                "unauthorized_client",
                "grant type not registered",
            ))
        }
        _ => {
            inner.violation("unknown client or wrong client secret".into());
            Some(oidc_error(
                StatusCode::UNAUTHORIZED,
                "InvalidClientException",
                "invalid_client",
                "bad client credentials",
            ))
        }
    }
}

async fn device_authorization(State(s): State<Arc<Shared>>, bytes: Bytes) -> Response {
    let req = body(&bytes);
    let mut inner = lock(&s);
    inner.seen.device_authorizations += 1;
    if let Some(e) = check_client(&mut inner, &req, "urn:ietf:params:oauth:grant-type:device_code") {
        return e;
    }
    if text(&req, "startUrl") != START_URL {
        inner.violation(format!("StartDeviceAuthorization for another start URL: {req}"));
    }
    let device_code = inner.mint("device-");
    inner.counter += 1;
    let user_code = format!("ABCD-{:04}", inner.counter % 10_000);
    inner.devices.insert(
        device_code.clone(),
        Device {
            client_id: text(&req, "clientId").to_owned(),
            user_code: user_code.clone(),
            approved: false,
            polls: 0,
        },
    );
    axum::Json(json!({
        "deviceCode": device_code,
        "userCode": user_code,
        "verificationUri": format!("{}/device", s.base),
        "verificationUriComplete": format!("{}/device?user_code={user_code}", s.base),
        "expiresIn": 600,
        "interval": 1,
    }))
    .into_response()
}

/// The user's side of the device flow: visiting the page approves the code.
async fn device_page(State(s): State<Arc<Shared>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut inner = lock(&s);
    let code = q.get("user_code").cloned().unwrap_or_default();
    match inner.devices.values_mut().find(|d| d.user_code == code) {
        Some(d) => {
            d.approved = true;
            "Approved: return to your terminal.".into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such code").into_response(),
    }
}

async fn authorize(State(s): State<Arc<Shared>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut inner = lock(&s);
    inner.seen.authorizations += 1;
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let client_ok = inner
        .clients
        .get(&get("client_id"))
        .is_some_and(|c| c.grant_types.iter().any(|g| g == "authorization_code"));
    let redirect = url::Url::parse(&get("redirect_uri")).ok();
    let loopback = redirect.as_ref().is_some_and(|u| {
        u.scheme() == "http"
            && u.host_str() == Some("127.0.0.1")
            && u.port().is_some()
            && u.path() == "/oauth/callback"
    });
    let mut problems = Vec::new();
    if get("response_type") != "code" {
        problems.push("response_type is not `code`");
    }
    if !client_ok {
        problems.push("client_id is not a code-flow client");
    }
    if !loopback {
        problems.push("redirect_uri is not http://127.0.0.1:PORT/oauth/callback");
    }
    if get("code_challenge_method") != "S256" || get("code_challenge").len() != 43 {
        problems.push("no S256 code challenge");
    }
    if !get("scopes").split(' ').any(|s| s == "sso:account:access") {
        problems.push("scopes lacks sso:account:access");
    }
    if get("state").is_empty() {
        problems.push("no state");
    }
    if !problems.is_empty() {
        let what = format!("authorize request: {}", problems.join("; "));
        inner.violation(what.clone());
        return (StatusCode::BAD_REQUEST, what).into_response();
    }
    let code = inner.mint("code-");
    inner.codes.insert(
        code.clone(),
        AuthCode {
            client_id: get("client_id"),
            challenge: get("code_challenge"),
            redirect_uri: get("redirect_uri"),
        },
    );
    let mut location = redirect.unwrap_or_else(|| unreachable!("checked above"));
    location
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &get("state"));
    (StatusCode::FOUND, [(header::LOCATION, location.to_string())]).into_response()
}

fn issue(inner: &mut Inner, client_id: &str) -> Response {
    let access = inner.mint("access-");
    let refresh = inner.mint("refresh-");
    let expires_in = inner.behaviour.expires_in;
    let expiry = SystemTime::now() + Duration::from_secs(u64::try_from(expires_in).unwrap_or(0));
    inner.access.insert(access.clone(), expiry);
    inner.refresh.insert(refresh.clone(), client_id.to_owned());
    axum::Json(json!({
        "accessToken": access,
        "tokenType": "Bearer",
        "expiresIn": expires_in,
        "refreshToken": refresh,
    }))
    .into_response()
}

async fn token(State(s): State<Arc<Shared>>, bytes: Bytes) -> Response {
    let req = body(&bytes);
    let mut inner = lock(&s);
    let grant = text(&req, "grantType").to_owned();
    inner.seen.grants.push(grant.clone());
    if let Some(e) = check_client(&mut inner, &req, &grant) {
        return e;
    }
    let client_id = text(&req, "clientId").to_owned();
    match grant.as_str() {
        "authorization_code" => {
            let Some(code) = inner.codes.remove(text(&req, "code")) else {
                inner.violation("unknown or reused authorization code".into());
                return oidc_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidGrantException",
                    "invalid_grant",
                    "unknown code",
                );
            };
            let verifier = text(&req, "codeVerifier");
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if challenge != code.challenge {
                inner.violation("PKCE codeVerifier does not match the code challenge".into());
                return oidc_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidGrantException",
                    "invalid_grant",
                    "PKCE verification failed",
                );
            }
            if text(&req, "redirectUri") != code.redirect_uri || code.client_id != client_id {
                inner.violation("redirectUri or client differs from the authorization request".into());
                return oidc_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidGrantException",
                    "invalid_grant",
                    "redirect_uri mismatch",
                );
            }
            issue(&mut inner, &client_id)
        }
        "urn:ietf:params:oauth:grant-type:device_code" => {
            inner.seen.device_polls.push(Instant::now());
            let slow_down_first = inner.behaviour.slow_down_first_poll;
            let Some(device) = inner.devices.get_mut(text(&req, "deviceCode")) else {
                return oidc_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidGrantException",
                    "invalid_grant",
                    "unknown device code",
                );
            };
            device.polls += 1;
            if device.client_id != client_id {
                return oidc_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidGrantException",
                    "invalid_grant",
                    "device code of another client",
                );
            }
            if slow_down_first && device.polls == 1 {
                return oidc_error(
                    StatusCode::BAD_REQUEST,
                    "SlowDownException",
                    "slow_down",
                    "polling too fast",
                );
            }
            if !device.approved {
                return oidc_error(
                    StatusCode::BAD_REQUEST,
                    "AuthorizationPendingException",
                    "authorization_pending",
                    "waiting for the user",
                );
            }
            let code = text(&req, "deviceCode").to_owned();
            inner.devices.remove(&code);
            issue(&mut inner, &client_id)
        }
        "refresh_token" => {
            inner.seen.refreshes += 1;
            if inner.behaviour.refuse_refresh {
                return oidc_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidGrantException",
                    "invalid_grant",
                    "refresh token revoked",
                );
            }
            match inner.refresh.remove(text(&req, "refreshToken")) {
                Some(owner) if owner == client_id => issue(&mut inner, &client_id),
                _ => {
                    inner.violation("refresh with a refresh token that is not the current one".into());
                    oidc_error(
                        StatusCode::BAD_REQUEST,
                        "InvalidGrantException",
                        "invalid_grant",
                        "unknown refresh token",
                    )
                }
            }
        }
        other => {
            inner.violation(format!("unknown grant type `{other}`"));
            oidc_error(
                StatusCode::BAD_REQUEST,
                "UnsupportedGrantTypeException",
                "unsupported_grant_type",
                other,
            )
        }
    }
}

/// Checks the bearer token: the error response if it is unknown, expired
/// or logged out, `None` if it is good.
fn bearer(inner: &Inner, headers: &HeaderMap) -> Option<Response> {
    let token = headers
        .get("x-amz-sso_bearer_token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match inner.access.get(token) {
        Some(expiry) if *expiry > SystemTime::now() => None,
        _ => Some(portal_error(
            StatusCode::UNAUTHORIZED,
            "UnauthorizedException",
            "Session token not found or invalid",
        )),
    }
}

async fn accounts(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let inner = lock(&s);
    if let Some(e) = bearer(&inner, &headers) {
        return e;
    }
    // One account per page, to make the client follow `nextToken`.
    let page: usize = q.get("next_token").and_then(|t| t.parse().ok()).unwrap_or(0);
    let accounts = &inner.behaviour.accounts;
    let list: Vec<Value> = accounts
        .iter()
        .skip(page)
        .take(1)
        .map(|(id, name, _)| json!({"accountId": id, "accountName": name, "emailAddress": "aws@example.com"}))
        .collect();
    let mut answer = json!({"accountList": list});
    if page + 1 < accounts.len() {
        answer["nextToken"] = (page + 1).to_string().into();
    }
    axum::Json(answer).into_response()
}

async fn roles(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let inner = lock(&s);
    if let Some(e) = bearer(&inner, &headers) {
        return e;
    }
    let account = q.get("account_id").cloned().unwrap_or_default();
    let roles: Vec<Value> = inner
        .behaviour
        .accounts
        .iter()
        .filter(|(id, _, _)| *id == account)
        .flat_map(|(id, _, roles)| roles.iter().map(move |r| json!({"roleName": r, "accountId": id})))
        .collect();
    axum::Json(json!({"roleList": roles})).into_response()
}

async fn role_credentials(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (user, allowed) = {
        let mut inner = lock(&s);
        if let Some(e) = bearer(&inner, &headers) {
            return e;
        }
        inner.seen.role_credentials += 1;
        let account = q.get("account_id").cloned().unwrap_or_default();
        let role = q.get("role_name").cloned().unwrap_or_default();
        let allowed = inner
            .behaviour
            .accounts
            .iter()
            .any(|(id, _, roles)| *id == account && roles.contains(&role));
        (inner.behaviour.user.clone(), allowed.then_some((account, role)))
    };
    let Some((account, role)) = allowed else {
        return portal_error(StatusCode::FORBIDDEN, "ForbiddenException", "No access");
    };
    let arn = format!(
        "arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_{role}_0123456789abcdef"
    );
    let out = match s
        .sts
        .assume_role()
        .role_arn(arn)
        .role_session_name(&user)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => {
            return portal_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerException",
                &format!("{e:?}"),
            );
        }
    };
    let Some(c) = out.credentials() else {
        return portal_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerException",
            "no credentials",
        );
    };
    let expiration = SystemTime::now() + Duration::from_secs(3600);
    {
        let mut inner = lock(&s);
        inner.secrets.push(c.secret_access_key().to_owned());
        inner.secrets.push(c.session_token().to_owned());
    }
    axum::Json(json!({"roleCredentials": {
        "accessKeyId": c.access_key_id(),
        "secretAccessKey": c.secret_access_key(),
        "sessionToken": c.session_token(),
        "expiration": epoch(expiration) * 1000,
    }}))
    .into_response()
}

async fn logout(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let mut inner = lock(&s);
    if let Some(e) = bearer(&inner, &headers) {
        return e;
    }
    inner.seen.logouts += 1;
    let token = headers
        .get("x-amz-sso_bearer_token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    inner.access.remove(&token);
    StatusCode::OK.into_response()
}
