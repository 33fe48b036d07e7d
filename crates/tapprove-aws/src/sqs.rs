//! SQS: the callback-pattern source (long-polled queues) and the calls the
//! gate installer makes.

use aws_sdk_sqs::Client;
use tapprove_config::IdentitySettings;

use crate::error::{AwsError, Result, from_sdk};

const SERVICE: &str = "SQS";

/// The access policy of every approver queue, with `${...}` placeholders:
/// the text that is shipped, filled by [`approver_queue_policy`] and
/// evaluated by the IAM suite (`tests/iam/`).
pub const APPROVER_QUEUE_POLICY: &str = include_str!("../../../deploy/approver-queue-policy.json");

/// What an approver queue's policy names: the queue, the group's topic,
/// the queue's owner, and who counts as a person.
#[derive(Debug, Clone, Copy)]
pub struct ApproverQueue<'a> {
    pub queue_arn: &'a str,
    pub topic_arn: &'a str,
    /// The approver, as their role session (or IAM user) is named.
    pub owner: &'a str,
    /// The settings' `[identity]`: the approver roles, and whether IAM
    /// users are people.
    pub identity: &'a IdentitySettings,
}

/// Refuses an owner or role pattern that the policy could not hold as a
/// literal: only the characters IAM allows in role session names and user
/// names (`[A-Za-z0-9+=,.@_-]`, at most 64), so no `*`, `?` or `${` turns
/// into a wildcard or a policy variable; role patterns may also hold `*`.
pub fn check_queue_owner(owner: &str, identity: &IdentitySettings) -> std::result::Result<(), String> {
    let iam_name = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    if owner.is_empty() || owner.len() > 64 || !owner.chars().all(iam_name) {
        return Err(format!(
            "`{owner}` cannot own an approver queue: give the user name exactly as the role session \
             (the IAM Identity Center user name) or IAM user is named, 1 to 64 of A-Z a-z 0-9 + = , . @ _ -"
        ));
    }
    let roles = approver_roles(identity);
    if roles.is_empty() {
        return Err(
            "no approver roles in the settings' [identity] roles (or [identity.oidc] roles): nobody could read an approver queue".into(),
        );
    }
    if let Some(bad) = roles
        .iter()
        .find(|r| r.is_empty() || !r.chars().all(|c| iam_name(c) || c == '*'))
    {
        return Err(format!(
            "the approver role pattern `{bad}` in [identity] roles is not a role name (A-Z a-z 0-9 + = , . @ _ - and *)"
        ));
    }
    Ok(())
}

/// The roles whose sessions are people: `[identity] roles`, and the roles
/// of OpenID Connect sign-in (`[identity.oidc] roles`). The session name of
/// the latter is the client's choice (the enrolment service checks the
/// provider's ID token; IAM cannot), so with OpenID Connect sign-in a
/// queue's owner-only statements hold only as far as the role's trust
/// policy restricts who assumes it: see docs/admin.md.
fn approver_roles(identity: &IdentitySettings) -> Vec<&String> {
    identity
        .roles
        .iter()
        .chain(identity.oidc.iter().flat_map(|o| o.roles.iter()))
        .collect()
}

/// The access policy of `queue`: deploy/approver-queue-policy.json filled.
///
/// - `TapproveGroupTopic` lets the group's topic (and no other) send: SNS
///   delivers to a queue only when the queue's policy allows it.
///   [`Queues::allowed_topics`] reads the topic back from it
///   ([`policy_topics`]).
/// - `OnlyTheOwnerByName` denies reading, deleting and hiding messages
///   unless the caller is named the owner. The group's approver policy
///   allows every queue of the group (`tapprove-<group>_*`); an explicit
///   deny in the resource policy wins over that allow. Its two conditions
///   must both hold for the deny to apply (operators in one statement are
///   ANDed). `aws:userid` is present in every signed request
///   (`<role id>:<session name>` for a role session, the user's unique id
///   for an IAM user, no `:` in either part), so `StringNotLike *:<owner>`
///   is false exactly for sessions named the owner. `aws:username` is
///   present only for IAM users; for anything else the negated operator
///   on the missing key is true, so a role session is judged by its
///   session name alone, and an IAM user is let through by this statement
///   only when it is the user `<owner>`. An unsigned request has
///   `aws:userid` = `anonymous` and no `aws:username`: denied.
/// - `OnlyApproverPrincipals` denies the same unless the caller is one of
///   the approver roles (`[identity] roles`, whose session names only
///   IAM Identity Center sets) or, where IAM users are people, the IAM
///   user `<owner>`. Without it a session of any other role (a CI role)
///   named like the owner would pass the statement above. `ArnNotLike` on
///   a missing `aws:PrincipalArn` (anonymous) is true: denied. Each role
///   pattern is listed without and with a path (`role/<p>`,
///   `role/*/<p>`): Identity Center's roles live under
///   `/aws-reserved/sso.amazonaws.com/`, and `aws:PrincipalArn` of a
///   session is its role's ARN with the path.
///
/// Only the owner's approver-role session (or IAM user) passes both.
pub fn approver_queue_policy(queue: &ApproverQueue<'_>) -> std::result::Result<String, String> {
    check_queue_owner(queue.owner, queue.identity)?;
    let parts: Vec<&str> = queue.queue_arn.split(':').collect();
    let [_, partition, "sqs", _, account, _] = parts[..] else {
        return Err(format!("`{}` is not an SQS queue ARN", queue.queue_arn));
    };
    let mut principals: Vec<String> = approver_roles(queue.identity)
        .into_iter()
        .flat_map(|role| {
            [
                format!("arn:{partition}:iam::{account}:role/{role}"),
                format!("arn:{partition}:iam::{account}:role/*/{role}"),
            ]
        })
        .collect();
    if queue.identity.iam_users {
        principals.push(format!("arn:{partition}:iam::{account}:user/{}", queue.owner));
    }
    let mut policy: serde_json::Value = serde_json::from_str(APPROVER_QUEUE_POLICY)
        .map_err(|e| format!("deploy/approver-queue-policy.json: {e}"))?;
    fill(&mut policy, queue, &principals);
    let text = policy.to_string();
    if text.contains("${") {
        return Err(format!(
            "deploy/approver-queue-policy.json has a placeholder Tapprove does not fill: {text}"
        ));
    }
    Ok(text)
}

/// The `aws:SourceArn` of every statement that has one (the topics a
/// policy as [`approver_queue_policy`] writes it lets send).
pub fn policy_topics(policy: &str) -> std::result::Result<Vec<String>, serde_json::Error> {
    let policy: serde_json::Value = serde_json::from_str(policy)?;
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

/// Replaces `${QueueArn}`, `${TopicArn}` and `${User}` in every string, and
/// an array element that is exactly `${ApproverPrincipalArns}` by the list.
fn fill(value: &mut serde_json::Value, queue: &ApproverQueue<'_>, principals: &[String]) {
    match value {
        serde_json::Value::String(text) => {
            *text = text
                .replace("${QueueArn}", queue.queue_arn)
                .replace("${TopicArn}", queue.topic_arn)
                .replace("${User}", queue.owner);
        }
        serde_json::Value::Array(items) => {
            let mut filled = Vec::with_capacity(items.len());
            for mut item in items.drain(..) {
                if item.as_str() == Some("${ApproverPrincipalArns}") {
                    filled.extend(principals.iter().cloned().map(serde_json::Value::String));
                } else {
                    fill(&mut item, queue, principals);
                    filled.push(item);
                }
            }
            *items = filled;
        }
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| fill(v, queue, principals)),
        _ => {}
    }
}

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

    /// Keeps a received message out of sight for `seconds` from now
    /// (`ChangeMessageVisibility`; SQS allows up to 12 hours).
    pub async fn hide(&self, queue_url: &str, receipt_handle: &str, seconds: i32) -> Result<()> {
        self.client
            .change_message_visibility()
            .queue_url(queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds.clamp(0, 43_200))
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, e))?;
        Ok(())
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

    /// Sets the queue's access policy (as [`approver_queue_policy`] writes
    /// it), replacing any policy it had.
    pub async fn set_policy(&self, queue_url: &str, policy: &str) -> Result<()> {
        self.client
            .set_queue_attributes()
            .queue_url(queue_url)
            .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, policy)
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
    /// [`approver_queue_policy`] writes it); empty without a policy.
    pub async fn allowed_topics(&self, queue_url: &str) -> Result<Vec<String>> {
        match self.access_policy(queue_url).await? {
            None => Ok(Vec::new()),
            Some(policy) => policy_topics(&policy)
                .map_err(|e| AwsError::unexpected(SERVICE, format!("the queue's policy is not JSON: {e}"))),
        }
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
