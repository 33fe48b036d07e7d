//! Admin operations on the registry: group membership, approver queues,
//! registering and revoking credentials. The registry is written only by
//! trusted code: these (run with admin credentials) and the verifier's
//! enrolment service.

use tapprove_aws::dynamodb::{CredentialListing, DynamoRegistry, TableNames};
use tapprove_aws::sns::Topics;
use tapprove_aws::sqs::Queues;
use tapprove_config::{Config, Source};
use tapprove_core::registry::CredentialRecord;
use tapprove_proto::UtcTime;
use tapprove_proto::registry::CredentialStatus;

use crate::approver_queue_name;
use crate::error::{EngineError, Result};

/// The registry the settings name.
pub fn registry(aws: &aws_config::SdkConfig, config: &Config) -> DynamoRegistry {
    DynamoRegistry::new(aws, TableNames::from(&config.tables))
}

/// Adds `user` to `group`; for a queue-source group, also creates the
/// user's queue, lets the group's topic send to it, and subscribes it.
pub async fn grant(
    aws: &aws_config::SdkConfig,
    config: &Config,
    user: &str,
    group: &str,
) -> Result<Option<String>> {
    if user.trim().is_empty() || group.trim().is_empty() {
        return Err(EngineError::Invalid("user and group must not be empty".into()));
    }
    registry(aws, config).grant(user, group).await?;
    for source in &config.sources {
        if let Source::Queue { group: g, topic_arn } = source
            && g == group
        {
            let queues = Queues::new(aws);
            let url = queues.create_queue(&approver_queue_name(group, user)).await?;
            let arn = queues.queue_arn(&url).await?;
            queues.allow_topic(&url, &arn, topic_arn).await?;
            Topics::new(aws).subscribe_queue(topic_arn, &arn).await?;
            return Ok(Some(url));
        }
    }
    Ok(None)
}

/// Removes `user` from `group`.
pub async fn revoke(aws: &aws_config::SdkConfig, config: &Config, user: &str, group: &str) -> Result<()> {
    registry(aws, config).revoke_group(user, group).await?;
    Ok(())
}

/// Registers a credential that passed the enrolment checks.
pub async fn register(
    aws: &aws_config::SdkConfig,
    config: &Config,
    record: &CredentialRecord,
    now: &UtcTime,
) -> Result<()> {
    registry(aws, config).put_credential(record, now).await?;
    Ok(())
}

pub async fn credentials(
    aws: &aws_config::SdkConfig,
    config: &Config,
    user: &str,
) -> Result<Vec<CredentialListing>> {
    Ok(registry(aws, config).credentials_of(user).await?)
}

/// Confirms a pending credential (an admin's word that it is the user's).
pub async fn activate_credential(
    aws: &aws_config::SdkConfig,
    config: &Config,
    credential_id: &[u8],
) -> Result<()> {
    if registry(aws, config).activate_pending(credential_id).await? {
        Ok(())
    } else {
        Err(EngineError::Invalid(
            "no pending credential with that id: list the user's credentials; a revoked one cannot come back, enrol again"
                .into(),
        ))
    }
}

/// Revokes a credential: it never verifies again.
pub async fn revoke_credential(
    aws: &aws_config::SdkConfig,
    config: &Config,
    credential_id: &[u8],
) -> Result<()> {
    if registry(aws, config)
        .set_status(credential_id, CredentialStatus::Revoked)
        .await?
    {
        Ok(())
    } else {
        Err(EngineError::Invalid(
            "no registered credential has this id".into(),
        ))
    }
}
