//! Delivery through the organisation's decision endpoint (`[delivery]
//! endpoint`), for approvers who hold no Step Functions permission: the
//! signed decision is the credential.
//!
//! `POST <endpoint>/v1/decisions` with `Authorization: Tapprove
//! <base64url(decision JSON)>` and `{"task_token", "request"}` (the
//! request the decision is for, which the endpoint checks it against before
//! it sends anything); the endpoint's
//! wire format is documented in `tapprove_verifier::decisions` and
//! `docs/admin.md`.

use std::time::Duration;

use tapprove_aws::sfn::{Delivery, TaskGone, TaskToken};
use tapprove_proto::delivery::{DECISIONS_PATH, authorization_for};

use crate::{EngineError, Result};

/// Whether `url` names this machine (`localhost`, 127.0.0.0/8, `::1`):
/// where plain http is allowed for credentials and signed decisions.
pub(crate) fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A client of one decision endpoint.
#[derive(Debug, Clone)]
pub struct DecisionEndpoint {
    url: String,
    http: reqwest::Client,
}

impl DecisionEndpoint {
    /// The endpoint at `base`: `https://`, or `http://` to this machine only
    /// (a decision is a credential; it does not cross a network in clear).
    pub fn new(base: &str) -> Result<Self> {
        let parsed = reqwest::Url::parse(base).map_err(|e| {
            EngineError::Invalid(format!(
                "[delivery] endpoint `{base}` is not a URL ({e}): use the core stack's DecisionEndpointUrl output"
            ))
        })?;
        if parsed.scheme() != "https" && !(parsed.scheme() == "http" && is_loopback(&parsed)) {
            return Err(EngineError::Invalid(format!(
                "[delivery] endpoint `{base}` must be https:// (http:// only to this machine): a signed decision is a credential"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| EngineError::Invalid(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self {
            url: format!("{}{DECISIONS_PATH}", base.trim_end_matches('/')),
            http,
        })
    }

    /// Where decisions go.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Delivers `decision` (its JSON text) for the task `token` of
    /// `request` (its JSON text). `Err` is a message for the outbox: the
    /// decision stays pending and is retried.
    pub async fn send(
        &self,
        token: &TaskToken,
        decision: &str,
        request: Option<&str>,
    ) -> std::result::Result<Delivery, String> {
        let request: serde_json::Value = request
            .and_then(|r| serde_json::from_str(r).ok())
            .ok_or("the request this decision is for is no longer on this machine, and the decision endpoint wants it: ask your admin to deliver the decision, or decide again")?;
        let response = self
            .http
            .post(&self.url)
            .header(reqwest::header::AUTHORIZATION, authorization_for(decision))
            .json(&serde_json::json!({"task_token": token.0, "request": request}))
            .send()
            .await
            .map_err(|e| format!("the decision endpoint {} did not answer: {e}", self.url))?;
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let message = body
            .get("message")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("no reason given");
        let code = body.get("code").and_then(serde_json::Value::as_str).unwrap_or("");
        match status {
            200..=299 => Ok(Delivery::Acknowledged),
            410 => Ok(Delivery::Gone(
                body.get("gone")
                    .and_then(|g| serde_json::from_value::<TaskGone>(g.clone()).ok())
                    .unwrap_or(TaskGone::DoesNotExist),
            )),
            // API Gateway answers its authorizer's refusal with a bare
            // 401/403; `tapprove-verifier serve` says which rule failed.
            401 | 403 => {
                let rule = if code.is_empty() {
                    String::new()
                } else {
                    format!(", {code}: {message}")
                };
                Err(format!(
                    "the decision endpoint refused the decision ({status}{rule}): it does not accept its signature; the verifier's audit trail names the rule (`tapprove audit`)"
                ))
            }
            _ => Err(format!(
                "the decision endpoint {} answered {status}: {message}",
                self.url
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_this_machine() {
        for ok in [
            "https://abc.execute-api.eu-west-1.amazonaws.com",
            "https://abc.execute-api.eu-west-1.amazonaws.com/",
            "http://127.0.0.1:8787",
            "http://localhost:8787/",
            "http://[::1]:8787",
        ] {
            let endpoint = DecisionEndpoint::new(ok).unwrap();
            assert!(endpoint.url().ends_with("/v1/decisions"), "{ok}");
            assert!(!endpoint.url().contains("//v1"), "{ok}");
        }
        for bad in [
            "http://decisions.example.com",
            "http://10.0.0.1",
            "ftp://x",
            "not a url",
        ] {
            let e = DecisionEndpoint::new(bad).unwrap_err().to_string();
            assert!(e.contains("[delivery] endpoint"), "{e}");
        }
    }
}
