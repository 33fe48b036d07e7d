//! STS: who is calling. The approver identity comes from the AWS principal,
//! not from anything the client claims.

use aws_sdk_sts::Client;

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
