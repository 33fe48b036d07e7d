//! STS: who is calling. The approver identity comes from the AWS principal,
//! not from anything the client claims.

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_sdk_sts::Client;
use tapprove_proto::enrolment::{
    BODY_SHA256_HEADER, GET_CALLER_IDENTITY_BODY, PROOF_NONCE_HEADER, PresignedCallerIdentity,
    SERVER_ID_HEADER,
};

use crate::error::{AwsError, Result, from_sdk};

const SERVICE: &str = "STS";

/// The caller's AWS identity.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CallerIdentity {
    pub arn: String,
    pub account: String,
    pub user_id: String,
}

impl CallerIdentity {
    /// The approver name this principal stands for: the user name of an IAM
    /// user (`arn:aws:iam::1:user/path/bob` → `bob`), the role session name
    /// of an assumed role, which IAM Identity Center sets to the user
    /// (`arn:aws:sts::1:assumed-role/Role/bob@example.com` → `bob@example.com`).
    pub fn approver(&self) -> Option<&str> {
        let resource = self.arn.splitn(6, ':').nth(5)?;
        if let Some(user) = resource.strip_prefix("user/") {
            return user.rsplit('/').next().filter(|u| !u.is_empty());
        }
        if let Some(rest) = resource.strip_prefix("assumed-role/") {
            return rest.split('/').nth(1).filter(|s| !s.is_empty());
        }
        None
    }
}

#[derive(Debug, Clone)]
pub struct Identity {
    client: Client,
}

impl Identity {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: Client::new(config),
        }
    }

    pub async fn caller(&self) -> Result<CallerIdentity> {
        let out = self
            .client
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, e))?;
        match (out.arn(), out.account(), out.user_id()) {
            (Some(arn), Some(account), Some(user_id)) => Ok(CallerIdentity {
                arn: arn.to_owned(),
                account: account.to_owned(),
                user_id: user_id.to_owned(),
            }),
            _ => Err(AwsError::unexpected(
                SERVICE,
                "GetCallerIdentity answered without an ARN",
            )),
        }
    }
}

/// The STS endpoint this configuration talks to:
/// `AWS_ENDPOINT_URL_STS`, else the configured endpoint override
/// (`AWS_ENDPOINT_URL`, `endpoint_url` in the profile), else the regional
/// endpoint. The enrolment service and its clients use the same rule, so a
/// client signs for exactly the endpoint the service will replay to.
pub fn endpoint(config: &aws_config::SdkConfig) -> Result<String> {
    let url = std::env::var("AWS_ENDPOINT_URL_STS")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .or_else(|| config.endpoint_url().map(str::to_owned));
    if let Some(url) = url {
        return Ok(url.trim_end_matches('/').to_owned());
    }
    let region = config.region().ok_or_else(|| {
        AwsError::unexpected(
            SERVICE,
            "no AWS region configured: set AWS_REGION or a profile region",
        )
    })?;
    Ok(format!("https://sts.{region}.amazonaws.com"))
}

/// Signs, but does not send, an `sts:GetCallerIdentity` request for an
/// enrolment service to replay. Two headers are signed into it: the
/// service's name ([`SERVER_ID_HEADER`] = `server_id`), so a proof made for
/// one deployment is refused by every other, and the SHA-256 of the
/// request it authorises ([`BODY_SHA256_HEADER`] = `body_sha256`, hex), so
/// it cannot be moved to another request; and a random nonce
/// ([`PROOF_NONCE_HEADER`]), so each proof is another. Valid for the 15 minutes STS
/// accepts a signature, and only once: the service remembers it.
pub async fn presign_caller_identity(
    config: &aws_config::SdkConfig,
    server_id: &str,
    body_sha256: &str,
) -> Result<PresignedCallerIdentity> {
    let url = format!("{}/", endpoint(config)?);
    let headers = BTreeMap::from([
        (
            "content-type".to_owned(),
            "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
        ),
        (SERVER_ID_HEADER.to_owned(), server_id.to_owned()),
        (BODY_SHA256_HEADER.to_owned(), body_sha256.to_owned()),
        (
            PROOF_NONCE_HEADER.to_owned(),
            crate::dynamodb::random_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        ),
    ]);
    let headers = crate::sigv4::sign_request(
        config,
        "sts",
        &crate::sigv4::region_of(config),
        crate::sigv4::Unsigned {
            method: "POST",
            url: &url,
            headers,
            body: GET_CALLER_IDENTITY_BODY.as_bytes(),
        },
        SystemTime::now(),
    )
    .await?;
    Ok(PresignedCallerIdentity {
        method: "POST".into(),
        url,
        headers,
        body: GET_CALLER_IDENTITY_BODY.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(arn: &str) -> CallerIdentity {
        CallerIdentity {
            arn: arn.into(),
            account: "123456789012".into(),
            user_id: "AIDA".into(),
        }
    }

    #[test]
    fn approver_names_come_from_user_or_role_session() {
        assert_eq!(id("arn:aws:iam::123456789012:user/bob").approver(), Some("bob"));
        assert_eq!(
            id("arn:aws:iam::123456789012:user/eng/bob").approver(),
            Some("bob")
        );
        assert_eq!(
            id("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Approver_1/bob@example.com").approver(),
            Some("bob@example.com")
        );
        assert_eq!(id("arn:aws:iam::123456789012:root").approver(), None);
    }
}
