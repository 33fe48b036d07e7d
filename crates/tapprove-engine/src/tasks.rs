//! Where approval tasks come from ([`TaskSource`]) and where signed
//! decisions go ([`DecisionRoute`]): the engine's two doors to AWS.
//!
//! In the product they are Step Functions, SQS and STS ([`AwsTasks`]) and
//! either Step Functions again ([`StepFunctionsRoute`]) or the
//! organisation's decision endpoint ([`crate::DecisionEndpoint`]). The
//! engine's own tests put a fake behind them that keeps Step Functions'
//! promises (one result per task, a closed task stays closed).
//!
//! Everything that crosses these doors is untrusted on the way in: a task's
//! input is parsed by [`tapprove_proto::offered::Offered`] before anyone
//! sees it, and nothing a task says decides who the approver is (that is
//! [`TaskSource::caller`], STS).

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

use tapprove_aws::AwsError;
use tapprove_aws::sfn::{ActivityTask, Delivery, ExecutionState, StepFunctions, TaskToken};
use tapprove_aws::sqs::{QueueMessage, Queues};
use tapprove_aws::sts::{CallerIdentity, Identity};
use tapprove_proto::Verdict;

use crate::store::OutboxEntry;

/// A call in flight.
pub type Call<'a, T, E = AwsError> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'a>>;

/// The calls the engine makes to find, keep and let go of pending tasks.
pub trait TaskSource: Send + Sync + Debug {
    /// Who the signed-in principal is (STS `GetCallerIdentity`).
    fn caller(&self) -> Call<'_, CallerIdentity>;

    /// Claims the next task of an activity, waiting up to a minute
    /// (`GetActivityTask`); `None` when nothing waits.
    fn claim<'a>(&'a self, activity_arn: &'a str, worker: &'a str) -> Call<'a, Option<ActivityTask>>;

    /// Whether a claimed task is still open (`SendTaskHeartbeat`).
    fn heartbeat<'a>(&'a self, token: &'a TaskToken) -> Call<'a, Delivery>;

    /// Hands a task no person can decide back to its gate, which reports
    /// it (`SendTaskFailure` with `Tapprove.Released`).
    fn release<'a>(&'a self, token: &'a TaskToken, cause: &'a str) -> Call<'a, Delivery>;

    /// The URL of the queue `name`, if it exists.
    fn queue_url<'a>(&'a self, name: &'a str) -> Call<'a, Option<String>>;

    /// Up to ten messages of a queue, waiting up to `wait_seconds`.
    fn receive<'a>(&'a self, queue_url: &'a str, wait_seconds: i32) -> Call<'a, Vec<QueueMessage>>;

    /// Deletes a message whose task is decided or that no one can act on.
    fn delete<'a>(&'a self, queue_url: &'a str, receipt: &'a str) -> Call<'a, ()>;

    /// Keeps a received message out of sight for `seconds`
    /// (`ChangeMessageVisibility`).
    fn hide<'a>(&'a self, queue_url: &'a str, receipt: &'a str, seconds: i32) -> Call<'a, ()>;

    /// Where a gate's execution stands (`DescribeExecution`): how a
    /// request that left the inbox ended.
    fn describe<'a>(&'a self, execution: &'a str) -> Call<'a, ExecutionState>;
}

/// Where a journalled decision is sent. `Err` is a message for the outbox:
/// the decision stays pending and is sent again later.
pub trait DecisionRoute: Send + Sync + Debug {
    fn send<'a>(&'a self, entry: &'a OutboxEntry) -> Call<'a, Delivery, String>;
}

/// Step Functions, SQS and STS.
#[derive(Debug, Clone)]
pub struct AwsTasks {
    sfn: StepFunctions,
    sqs: Queues,
    sts: Identity,
}

impl AwsTasks {
    pub fn new(aws: &aws_config::SdkConfig) -> Self {
        Self {
            sfn: StepFunctions::new(aws),
            sqs: Queues::new(aws),
            sts: Identity::new(aws),
        }
    }
}

impl TaskSource for AwsTasks {
    fn caller(&self) -> Call<'_, CallerIdentity> {
        Box::pin(self.sts.caller())
    }

    fn claim<'a>(&'a self, activity_arn: &'a str, worker: &'a str) -> Call<'a, Option<ActivityTask>> {
        Box::pin(self.sfn.poll_activity(activity_arn, worker))
    }

    fn heartbeat<'a>(&'a self, token: &'a TaskToken) -> Call<'a, Delivery> {
        Box::pin(self.sfn.heartbeat(token))
    }

    fn release<'a>(&'a self, token: &'a TaskToken, cause: &'a str) -> Call<'a, Delivery> {
        Box::pin(self.sfn.send_failure(token, "Tapprove.Released", cause))
    }

    fn queue_url<'a>(&'a self, name: &'a str) -> Call<'a, Option<String>> {
        Box::pin(self.sqs.url_of(name))
    }

    fn receive<'a>(&'a self, queue_url: &'a str, wait_seconds: i32) -> Call<'a, Vec<QueueMessage>> {
        Box::pin(self.sqs.receive(queue_url, wait_seconds, 10))
    }

    fn delete<'a>(&'a self, queue_url: &'a str, receipt: &'a str) -> Call<'a, ()> {
        Box::pin(self.sqs.delete(queue_url, receipt))
    }

    fn hide<'a>(&'a self, queue_url: &'a str, receipt: &'a str, seconds: i32) -> Call<'a, ()> {
        Box::pin(self.sqs.hide(queue_url, receipt, seconds))
    }

    fn describe<'a>(&'a self, execution: &'a str) -> Call<'a, ExecutionState> {
        Box::pin(self.sfn.describe_execution(execution))
    }
}

/// Decisions straight to Step Functions: an approval as the task's output
/// (`SendTaskSuccess`), a denial as its failure (`Tapprove.Denied`, the
/// signed denial as the cause). The gate's verifier checks either.
#[derive(Debug, Clone)]
pub struct StepFunctionsRoute {
    sfn: StepFunctions,
}

impl StepFunctionsRoute {
    pub fn new(aws: &aws_config::SdkConfig) -> Self {
        Self {
            sfn: StepFunctions::new(aws),
        }
    }
}

impl DecisionRoute for StepFunctionsRoute {
    fn send<'a>(&'a self, entry: &'a OutboxEntry) -> Call<'a, Delivery, String> {
        Box::pin(async move {
            let sent = if entry.verdict == Verdict::Approve.as_str() {
                self.sfn.send_success(&entry.task_token, &entry.decision).await
            } else {
                self.sfn
                    .send_failure(&entry.task_token, "Tapprove.Denied", &entry.decision)
                    .await
            };
            sent.map_err(|e| e.to_string())
        })
    }
}

impl DecisionRoute for crate::DecisionEndpoint {
    fn send<'a>(&'a self, entry: &'a OutboxEntry) -> Call<'a, Delivery, String> {
        Box::pin(crate::DecisionEndpoint::send(
            self,
            &entry.task_token,
            &entry.decision,
            entry.request.as_deref(),
        ))
    }
}
