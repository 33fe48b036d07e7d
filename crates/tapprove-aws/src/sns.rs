//! SNS: the fan-out of the queue source. The gate publishes each request
//! to its group's topic; every approver of the group has a queue
//! subscribed to it, so every approver sees every request.

use aws_sdk_sns::Client;

use crate::error::{AwsError, Result, from_sdk};

const SERVICE: &str = "SNS";

#[derive(Debug, Clone)]
pub struct Topics {
    client: Client,
}

impl Topics {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: Client::new(config),
        }
    }

    /// Creates a topic (idempotent by name) and returns its ARN.
    pub async fn create_topic(&self, name: &str) -> Result<String> {
        let out = self
            .client
            .create_topic()
            .name(name)
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, e))?;
        out.topic_arn()
            .map(str::to_owned)
            .ok_or_else(|| AwsError::unexpected(SERVICE, "CreateTopic returned no ARN"))
    }

    /// Subscribes a queue with raw delivery, so the queue receives the
    /// gate's message body as it was published.
    pub async fn subscribe_queue(&self, topic_arn: &str, queue_arn: &str) -> Result<()> {
        self.client
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, e))?;
        Ok(())
    }

    /// Publishes one message per protocol (`MessageStructure=json`:
    /// `message` is a JSON object whose `default` every subscriber gets
    /// unless a key names its protocol, e.g. `email`), with `subject` for
    /// e-mail.
    pub async fn publish_structured(&self, topic_arn: &str, subject: &str, message: &str) -> Result<String> {
        let out = self
            .client
            .publish()
            .topic_arn(topic_arn)
            .subject(subject)
            .message_structure("json")
            .message(message)
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, e))?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }
}
