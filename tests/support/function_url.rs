//! A local stand-in for a Lambda function URL with `AuthType: AWS_IAM`:
//! before a request reaches the function, it checks the request's SigV4
//! signature the way AWS does and answers 403 otherwise, so a client that
//! forgets to sign (or signs for the wrong service, region, body or time)
//! fails here as it would in AWS. moto does not check function-URL auth.
//!
//! What it checks, from AWS's SigV4 documentation: an `Authorization`
//! header of the `AWS4-HMAC-SHA256` scheme whose credential scope names
//! service `lambda` and this URL's region, an access key it knows (the
//! test hands it moto's keys), `host` and `x-amz-date` among the signed
//! headers, `x-amz-date` within 5 minutes of now, the session token where
//! the key is temporary, and the signature recomputed over the request as
//! received (method, path, query, signed headers, SHA-256 of the body).
//! It recomputes with the AWS SDK's own `aws-sigv4`, so what it proves is
//! that the client signs what AWS expects, not that `aws-sigv4` matches
//! AWS (which the SDK's own suites cover). Answers are AWS's: `403
//! {"Message":"Forbidden"}`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// How far `x-amz-date` may be from now.
pub const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

/// A key the front knows, as IAM or STS issued it.
#[derive(Debug, Clone)]
pub struct Key {
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

#[derive(Debug)]
struct Front {
    backend: String,
    region: String,
    keys: HashMap<String, Key>,
    http: reqwest::Client,
    /// Requests refused, and why (for the tests to read).
    refused: std::sync::Mutex<Vec<String>>,
}

/// A running front, stopped with the runtime it was started on.
#[derive(Debug, Clone)]
pub struct FunctionUrl {
    pub url: String,
    front: Arc<Front>,
}

impl FunctionUrl {
    /// Starts a front for `backend` on a free loopback port, accepting
    /// requests signed for `lambda` in `region` with one of `keys`.
    pub async fn start(backend: &str, region: &str, keys: HashMap<String, Key>) -> Self {
        let front = Arc::new(Front {
            backend: backend.trim_end_matches('/').to_owned(),
            region: region.to_owned(),
            keys,
            http: reqwest::Client::new(),
            refused: std::sync::Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(handle).with_state(front.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, front }
    }

    /// Why each refused request was refused, oldest first.
    pub fn refused(&self) -> Vec<String> {
        self.front.refused.lock().unwrap().clone()
    }
}

async fn handle(
    axum::extract::State(front): axum::extract::State<Arc<Front>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(why) = front.check(&method, &uri, &headers, &body) {
        front.refused.lock().unwrap().push(why);
        return (
            StatusCode::FORBIDDEN,
            [("content-type", "application/json")],
            r#"{"Message":"Forbidden"}"#,
        )
            .into_response();
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut forward = front
        .http
        .request(method, format!("{}{path}", front.backend))
        .body(body.to_vec());
    if let Some(t) = headers.get("content-type") {
        forward = forward.header("content-type", t);
    }
    match forward.send().await {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
            let bytes = answer.bytes().await.unwrap_or_default();
            (status, [("content-type", "application/json")], bytes).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

impl Front {
    fn check(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let auth = header("authorization").ok_or("no Authorization header")?;
        let rest = auth
            .strip_prefix("AWS4-HMAC-SHA256 ")
            .ok_or("not an AWS4-HMAC-SHA256 signature")?;
        let field = |name: &str| {
            rest.split(',')
                .map(str::trim)
                .find_map(|part| part.strip_prefix(name))
                .ok_or(format!("no {name} in Authorization"))
        };
        let credential = field("Credential=")?;
        let signed: Vec<&str> = field("SignedHeaders=")?.split(';').collect();
        let signature = field("Signature=")?;
        let scope: Vec<&str> = credential.split('/').collect();
        let [key_id, _date, region, service, "aws4_request"] = scope[..] else {
            return Err(format!("malformed credential scope {credential}"));
        };
        if service != "lambda" {
            return Err(format!("signed for service {service}, not lambda"));
        }
        if region != self.region {
            return Err(format!("signed for region {region}, not {}", self.region));
        }
        let key = self
            .keys
            .get(key_id)
            .ok_or(format!("unknown access key {key_id}"))?;
        for needed in ["host", "x-amz-date"] {
            if !signed.contains(&needed) {
                return Err(format!("{needed} is not signed"));
            }
        }
        if key.session_token.is_some() && header("x-amz-security-token") != key.session_token.as_deref() {
            return Err("the session token is missing or wrong".into());
        }
        let time = amz_date(header("x-amz-date").ok_or("no x-amz-date")?).ok_or("bad x-amz-date")?;
        let skew = match SystemTime::now().duration_since(time) {
            Ok(d) => d,
            Err(e) => e.duration(),
        };
        if skew > MAX_SKEW {
            return Err(format!("signed {skew:?} away from now"));
        }
        // Recompute over what arrived: every signed header but those the
        // signer adds itself from the time and the key.
        let mut canonical: BTreeMap<String, String> = BTreeMap::new();
        for name in &signed {
            if matches!(*name, "x-amz-date" | "x-amz-security-token") {
                continue;
            }
            let value = header(name).ok_or(format!("signed header {name} is missing"))?;
            canonical.insert((*name).to_owned(), value.to_owned());
        }
        let host = header("host").ok_or("no Host")?;
        let url = format!(
            "http://{host}{}",
            uri.path_and_query().map_or("/", |p| p.as_str())
        );
        let identity: aws_smithy_runtime_api::client::identity::Identity =
            aws_credential_types::Credentials::new(
                key_id,
                &key.secret_access_key,
                key.session_token.clone(),
                None,
                "function-url-front",
            )
            .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("lambda")
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let signable = SignableRequest::new(
            method.as_str(),
            &url,
            canonical.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        )
        .map_err(|e| e.to_string())?;
        let (instructions, _) = sign(signable, &params).map_err(|e| e.to_string())?.into_parts();
        let expected = instructions
            .headers()
            .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
            .and_then(|(_, value)| value.split("Signature=").nth(1).map(str::to_owned))
            .ok_or("the signer made no signature")?;
        if expected != signature {
            return Err("the signature does not match the request".into());
        }
        Ok(())
    }
}

/// `20261121T184900Z` as a time.
fn amz_date(text: &str) -> Option<SystemTime> {
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
    let seconds = tapprove_proto::UtcTime::parse(&rfc).ok()?.unix_seconds();
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).ok()?))
}
