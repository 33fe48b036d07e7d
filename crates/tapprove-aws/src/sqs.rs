//! SQS: the callback-pattern source (long-polled queues) and the calls the
//! gate installer makes.

use aws_sdk_sqs::Client;

use crate::error::{AwsError, Result, from_sdk};

const SERVICE: &str = "SQS";

/// A received message.
#[derive(Debug, Clone)]
pub struct QueueMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct Queues {
    client: Client,
    /// For `ReceiveMessage`, which may wait 20 s for a message.
    polls: Client,
}

impl Queues {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        let polls = aws_sdk_sqs::config::Builder::from(config)
            .timeout_config(crate::long_poll_timeouts())
            .stalled_stream_protection(crate::quiet_long_polls())
            .build();
        Self {
            client: Client::new(config),
            polls: Client::from_conf(polls),
        }
    }

    /// Long-polls `queue_url` for up to `wait_seconds` (at most 20).
    pub async fn receive(&self, queue_url: &str, wait_seconds: i32, max: i32) -> Result<Vec<QueueMessage>> {
        let out = self
            .polls
            .receive_message()
            .queue_url(queue_url)
            .wait_time_seconds(wait_seconds.clamp(0, 20))
            .max_number_of_messages(max.clamp(1, 10))
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, e))?;
        out.messages()
            .iter()
            .map(|m| {
                Ok(QueueMessage {
                    message_id: m.message_id().unwrap_or_default().to_owned(),
                    receipt_handle: m
                        .receipt_handle()
                        .ok_or_else(|| AwsError::unexpected(SERVICE, "a message without a receipt handle"))?
                        .to_owned(),
                    body: m.body().unwrap_or_default().to_owned(),
                })
            })
            .collect()
    }

    pub async fn delete(&self, queue_url: &str, receipt_handle: &str) -> Result<()> {
        self.client
            .delete_message()
            .queue_url(queue_url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, e))?;
        Ok(())
    }

    /// Creates a queue (idempotent by name) and returns its URL.
    pub async fn create_queue(&self, name: &str) -> Result<String> {
        let out = self
            .client
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, e))?;
        out.queue_url()
            .map(str::to_owned)
            .ok_or_else(|| AwsError::unexpected(SERVICE, "CreateQueue returned no URL"))
    }

    /// The URL of the queue called `name`, if it exists.
    pub async fn url_of(&self, name: &str) -> Result<Option<String>> {
        match self.client.get_queue_url().queue_name(name).send().await {
            Ok(out) => Ok(out.queue_url().map(str::to_owned)),
            Err(e)
                if aws_sdk_sqs::error::ProvideErrorMetadata::code(&e)
                    .is_some_and(|c| c.contains("NonExistentQueue") || c.contains("QueueDoesNotExist")) =>
            {
                Ok(None)
            }
            Err(e) => Err(from_sdk(SERVICE, e)),
        }
    }

    /// Lets `topic_arn` (and nothing else) send to the queue: without a
    /// queue policy, SNS cannot deliver to a subscribed queue.
    pub async fn allow_topic(&self, queue_url: &str, queue_arn: &str, topic_arn: &str) -> Result<()> {
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "TapproveGroupTopic",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }],
        });
        self.client
            .set_queue_attributes()
            .queue_url(queue_url)
            .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, policy.to_string())
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, e))?;
        Ok(())
    }

    /// The queue's access policy (JSON), if it has one.
    pub async fn access_policy(&self, queue_url: &str) -> Result<Option<String>> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::Policy)
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, e))?;
        Ok(out
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::Policy))
            .cloned())
    }

    /// The topics the queue's access policy lets send to it (as
    /// [`Self::allow_topic`] writes it); empty without a policy.
    pub async fn allowed_topics(&self, queue_url: &str) -> Result<Vec<String>> {
        let Some(policy) = self.access_policy(queue_url).await? else {
            return Ok(Vec::new());
        };
        let policy: serde_json::Value = serde_json::from_str(&policy)
            .map_err(|e| AwsError::unexpected(SERVICE, format!("the queue's policy is not JSON: {e}")))?;
        let statements = match &policy["Statement"] {
            serde_json::Value::Array(list) => list.clone(),
            one => vec![one.clone()],
        };
        Ok(statements
            .iter()
            .filter_map(|s| s["Condition"]["ArnEquals"]["aws:SourceArn"].as_str())
            .map(str::to_owned)
            .collect())
    }

    /// The ARN of a queue.
    pub async fn queue_arn(&self, queue_url: &str) -> Result<String> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, e))?;
        out.attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .cloned()
            .ok_or_else(|| AwsError::unexpected(SERVICE, "GetQueueAttributes returned no QueueArn"))
    }
}
