//! Who is enrolling: a presigned `sts:GetCallerIdentity` request, checked
//! and replayed to STS (the scheme of Vault's AWS auth method and
//! aws-iam-authenticator).
//!
//! Before anything is sent, the request must be exactly the one this
//! service accepts: `POST` of the fixed GetCallerIdentity body to the STS
//! endpoint the service itself is configured with (never a URL of the
//! client's choosing), a SigV4 `Authorization` whose signed headers include
//! `host`, `x-amz-date` and [`SERVER_ID_HEADER`] carrying this service's id,
//! a signing time within [`MAX_SKEW`] of now, and no header outside a short
//! list. STS then checks the signature and answers with the caller's ARN.

use std::time::Duration;

use tapprove_aws::sts::CallerIdentity;
use tapprove_proto::UtcTime;
use tapprove_proto::enrolment::{GET_CALLER_IDENTITY_BODY, PresignedCallerIdentity, SERVER_ID_HEADER};

use crate::enrol::EnrolError;

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
];

/// Checks presigned identity requests against one STS endpoint.
#[derive(Debug, Clone)]
pub struct CallerCheck {
    endpoint: String,
    server_id: String,
    http: reqwest::Client,
}

impl CallerCheck {
    /// `endpoint` as [`tapprove_aws::sts::endpoint`] gives it; `server_id`
    /// the value the clients put in [`SERVER_ID_HEADER`] (the relying-party
    /// id).
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

    /// The STS endpoint identities are replayed to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The checks made before anything is sent.
    pub fn check(&self, p: &PresignedCallerIdentity, now: &UtcTime) -> Result<(), EnrolError> {
        let refuse = |what: &str| EnrolError::identity(format!("the identity proof {what}"));
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
        for needed in ["host", "x-amz-date", SERVER_ID_HEADER] {
            if !signed.contains(&needed) {
                return Err(refuse(&format!("does not sign `{needed}`")));
            }
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
        Ok(())
    }

    /// Checks the request, replays it to STS, and returns who signed it.
    pub async fn caller(
        &self,
        p: &PresignedCallerIdentity,
        now: &UtcTime,
    ) -> Result<CallerIdentity, EnrolError> {
        self.check(p, now)?;
        let mut request = self.http.post(format!("{}/", self.endpoint)).body(p.body.clone());
        for (name, value) in &p.headers {
            if name != "host" {
                request = request.header(name, value);
            }
        }
        let response = request
            .send()
            .await
            .map_err(|e| EnrolError::unavailable(format!("STS at {} did not answer: {e}", self.endpoint)))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| EnrolError::unavailable(format!("STS answer unreadable: {e}")))?;
        if status.is_client_error() {
            return Err(EnrolError::identity(format!(
                "STS refused the identity proof ({}): sign in again and retry",
                xml_field(&text, "Code").unwrap_or_else(|| status.to_string())
            )));
        }
        if !status.is_success() {
            return Err(EnrolError::unavailable(format!("STS answered {status}")));
        }
        match (
            xml_field(&text, "Arn"),
            xml_field(&text, "Account"),
            xml_field(&text, "UserId"),
        ) {
            (Some(arn), Some(account), Some(user_id)) => Ok(CallerIdentity {
                arn,
                account,
                user_id,
            }),
            _ => Err(EnrolError::unavailable("STS answered without a caller ARN")),
        }
    }
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const NOW: i64 = 1_795_300_000; // 2026-11-22T...Z

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
                (
                    "authorization".into(),
                    "AWS4-HMAC-SHA256 Credential=AKIA/20261122/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-tapprove-server-id, Signature=abc".into(),
                ),
            ]),
            body: GET_CALLER_IDENTITY_BODY.into(),
        }
    }

    fn check() -> CallerCheck {
        CallerCheck::new("http://127.0.0.1:5000", "approve.example.com").unwrap()
    }

    fn refusal(p: &PresignedCallerIdentity) -> String {
        check().check(p, &UtcTime::from_unix(NOW)).unwrap_err().message
    }

    #[test]
    fn accepts_a_well_formed_request() {
        check().check(&presigned(), &UtcTime::from_unix(NOW)).unwrap();
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
            "AWS4-HMAC-SHA256 Credential=AKIA/x, SignedHeaders=content-type;host;x-amz-date, Signature=abc"
                .into(),
        );
        assert!(refusal(&p).contains("does not sign `x-tapprove-server-id`"));
        let mut p = presigned();
        p.headers
            .insert("authorization".into(), "Basic dXNlcjpwYXNz".into());
        assert!(refusal(&p).contains("SigV4"));
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
