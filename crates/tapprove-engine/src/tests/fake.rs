//! A fake of the AWS side behind [`TaskSource`] and [`DecisionRoute`] that
//! keeps the promises the engine relies on, as Step Functions and SQS
//! document them:
//!
//! - a task takes one result: `SendTaskSuccess`/`SendTaskFailure` on a
//!   closed task answers `TaskDoesNotExist`, on an expired one
//!   `TaskTimedOut`, on a token it never issued `InvalidToken`; a
//!   heartbeat answers the same way;
//! - `GetActivityTask` hands each task out once;
//! - a received SQS message stays in flight (not received again) until it
//!   is deleted or [`FakeAws::requeue`] ends its visibility timeout;
//! - while [`FakeAws::set_reachable`] is off, every call fails as an
//!   unreachable endpoint does (transient), and nothing changes.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use tapprove_aws::AwsError;
use tapprove_aws::sfn::{ActivityTask, Delivery, ExecutionState, TaskGone, TaskToken};
use tapprove_aws::sqs::QueueMessage;
use tapprove_aws::sts::CallerIdentity;
use tapprove_proto::Clock;

use crate::store::OutboxEntry;
use crate::tasks::{Call, DecisionRoute, TaskSource};

/// What became of a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    Open,
    Succeeded { output: String },
    Failed { error: String, cause: String },
    TimedOut,
}

#[derive(Debug, Default)]
struct World {
    reachable: bool,
    caller: Option<CallerIdentity>,
    activities: BTreeMap<String, VecDeque<TaskToken>>,
    inputs: BTreeMap<String, String>,
    tasks: BTreeMap<String, TaskState>,
    /// Every result call that reached a task (accepted or not), in order.
    results: Vec<String>,
    queues: BTreeMap<String, String>,
    /// Per queue URL: (receipt, body, visibility).
    messages: BTreeMap<String, Vec<(String, String, Seen)>>,
    /// Every `ChangeMessageVisibility` (receipt, seconds), in order.
    hidden: Vec<(String, i32)>,
    /// Executions by ARN, as `DescribeExecution` answers.
    executions: BTreeMap<String, ExecutionState>,
    next: u64,
}

/// Where a queue message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// The next receive returns it.
    Visible,
    /// Received; back when the queue's visibility timeout ends ([`FakeAws::requeue`]).
    InFlight,
    /// Hidden longer by `ChangeMessageVisibility`; back at [`FakeAws::hold_ends`].
    Held,
}

/// The fake: clone it to keep a handle after giving it to the engine.
#[derive(Debug, Clone)]
pub struct FakeAws(Arc<Mutex<World>>);

impl FakeAws {
    pub fn new(caller_arn: &str) -> Self {
        let world = World {
            reachable: true,
            caller: Some(CallerIdentity {
                arn: caller_arn.to_owned(),
                account: "123456789012".to_owned(),
                user_id: "AROAEXAMPLE:session".to_owned(),
            }),
            ..World::default()
        };
        Self(Arc::new(Mutex::new(world)))
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn set_reachable(&self, reachable: bool) {
        self.world().reachable = reachable;
    }

    /// A gate's `.waitForTaskToken`/activity step: a task waits on
    /// `activity_arn` with `input`. Returns its token.
    pub fn offer_activity(&self, activity_arn: &str, input: &str) -> TaskToken {
        let mut world = self.world();
        world.next += 1;
        let token = TaskToken(format!("token-{}-{}", world.next, "x".repeat(40)));
        world.tasks.insert(token.0.clone(), TaskState::Open);
        world.inputs.insert(token.0.clone(), input.to_owned());
        world
            .activities
            .entry(activity_arn.to_owned())
            .or_default()
            .push_back(token.clone());
        token
    }

    /// Whether `token` still waits on `activity_arn`, unclaimed.
    pub fn unclaimed(&self, activity_arn: &str, token: &TaskToken) -> bool {
        self.world()
            .activities
            .get(activity_arn)
            .is_some_and(|waiting| waiting.contains(token))
    }

    /// What `DescribeExecution` says of `execution` from now on.
    pub fn set_execution(&self, execution: &str, state: ExecutionState) {
        self.world().executions.insert(execution.to_owned(), state);
    }

    /// A queue named `name`; returns its URL.
    pub fn create_queue(&self, name: &str) -> String {
        let url = format!("https://sqs.eu-west-1.amazonaws.com/123456789012/{name}");
        self.world().queues.insert(name.to_owned(), url.clone());
        url
    }

    /// The gate's fan-out: a task whose token travels in a queue message.
    /// `body` is built by `make_body(token)`. Returns the token.
    pub fn offer_on_queue(&self, queue_url: &str, make_body: impl FnOnce(&TaskToken) -> String) -> TaskToken {
        let mut world = self.world();
        world.next += 1;
        let token = TaskToken(format!("token-{}-{}", world.next, "q".repeat(40)));
        world.tasks.insert(token.0.clone(), TaskState::Open);
        let receipt = format!("receipt-{}", world.next);
        world.messages.entry(queue_url.to_owned()).or_default().push((
            receipt,
            make_body(&token),
            Seen::Visible,
        ));
        token
    }

    /// A message put on a queue as is (no task behind it).
    pub fn put_message(&self, queue_url: &str, body: &str) {
        let mut world = self.world();
        world.next += 1;
        let receipt = format!("receipt-{}", world.next);
        world.messages.entry(queue_url.to_owned()).or_default().push((
            receipt,
            body.to_owned(),
            Seen::Visible,
        ));
    }

    /// Messages still on a queue (in flight or not).
    pub fn messages_on(&self, queue_url: &str) -> usize {
        self.world().messages.get(queue_url).map_or(0, Vec::len)
    }

    /// The queue's visibility timeout ends for every message received and
    /// not hidden for longer since.
    pub fn requeue(&self) {
        self.each_message(|seen| {
            if *seen == Seen::InFlight {
                *seen = Seen::Visible;
            }
        });
    }

    /// Every visibility timeout ends, the longer ones set by
    /// `ChangeMessageVisibility` too.
    pub fn hold_ends(&self) {
        self.each_message(|seen| *seen = Seen::Visible);
    }

    fn each_message(&self, mut change: impl FnMut(&mut Seen)) {
        for messages in self.world().messages.values_mut() {
            for message in messages {
                change(&mut message.2);
            }
        }
    }

    /// Every `ChangeMessageVisibility` call: (receipt, seconds).
    pub fn hidden(&self) -> Vec<(String, i32)> {
        self.world().hidden.clone()
    }

    pub fn state(&self, token: &TaskToken) -> Option<TaskState> {
        self.world().tasks.get(&token.0).cloned()
    }

    /// Someone else's result, or the execution's end, closes the task.
    pub fn close(&self, token: &TaskToken, state: TaskState) {
        self.world().tasks.insert(token.0.clone(), state);
    }

    /// How many result calls (success or failure) reached Step Functions.
    pub fn result_calls(&self) -> usize {
        self.world().results.len()
    }

    fn unreachable(service: &'static str) -> AwsError {
        AwsError::Unreachable {
            service,
            message: "connection refused (fake)".to_owned(),
        }
    }

    fn check(&self, service: &'static str) -> Result<(), AwsError> {
        if self.world().reachable {
            Ok(())
        } else {
            Err(Self::unreachable(service))
        }
    }

    /// A result for `token`, as Step Functions answers it.
    fn result(&self, token: &TaskToken, state: TaskState) -> Result<Delivery, AwsError> {
        self.check("Step Functions")?;
        let mut world = self.world();
        world.results.push(token.0.clone());
        let Some(current) = world.tasks.get(&token.0).cloned() else {
            return Ok(Delivery::Gone(TaskGone::InvalidToken));
        };
        match current {
            TaskState::Open => {
                world.tasks.insert(token.0.clone(), state);
                Ok(Delivery::Acknowledged)
            }
            TaskState::TimedOut => Ok(Delivery::Gone(TaskGone::TimedOut)),
            _ => Ok(Delivery::Gone(TaskGone::DoesNotExist)),
        }
    }
}

impl TaskSource for FakeAws {
    fn caller(&self) -> Call<'_, CallerIdentity> {
        Box::pin(async move {
            self.check("STS")?;
            self.world().caller.clone().ok_or_else(|| AwsError::Credentials {
                service: "STS",
                message: "no credentials (fake)".to_owned(),
            })
        })
    }

    fn claim<'a>(&'a self, activity_arn: &'a str, _worker: &'a str) -> Call<'a, Option<ActivityTask>> {
        Box::pin(async move {
            self.check("Step Functions")?;
            let mut world = self.world();
            let token = world
                .activities
                .get_mut(activity_arn)
                .and_then(VecDeque::pop_front);
            Ok(token.map(|token| ActivityTask {
                input: world.inputs.get(&token.0).cloned().unwrap_or_default(),
                token,
            }))
        })
    }

    fn heartbeat<'a>(&'a self, token: &'a TaskToken) -> Call<'a, Delivery> {
        Box::pin(async move {
            self.check("Step Functions")?;
            Ok(match self.world().tasks.get(&token.0) {
                None => Delivery::Gone(TaskGone::InvalidToken),
                Some(TaskState::Open) => Delivery::Acknowledged,
                Some(TaskState::TimedOut) => Delivery::Gone(TaskGone::TimedOut),
                Some(_) => Delivery::Gone(TaskGone::DoesNotExist),
            })
        })
    }

    fn release<'a>(&'a self, token: &'a TaskToken, cause: &'a str) -> Call<'a, Delivery> {
        Box::pin(async move {
            self.result(
                token,
                TaskState::Failed {
                    error: "Tapprove.Released".to_owned(),
                    cause: cause.to_owned(),
                },
            )
        })
    }

    fn queue_url<'a>(&'a self, name: &'a str) -> Call<'a, Option<String>> {
        Box::pin(async move {
            self.check("SQS")?;
            Ok(self.world().queues.get(name).cloned())
        })
    }

    fn receive<'a>(&'a self, queue_url: &'a str, _wait_seconds: i32) -> Call<'a, Vec<QueueMessage>> {
        Box::pin(async move {
            self.check("SQS")?;
            let mut world = self.world();
            let mut out = Vec::new();
            for (receipt, body, seen) in world.messages.entry(queue_url.to_owned()).or_default() {
                if *seen == Seen::Visible && out.len() < 10 {
                    *seen = Seen::InFlight;
                    out.push(QueueMessage {
                        message_id: receipt.clone(),
                        receipt_handle: receipt.clone(),
                        body: body.clone(),
                    });
                }
            }
            Ok(out)
        })
    }

    fn delete<'a>(&'a self, queue_url: &'a str, receipt: &'a str) -> Call<'a, ()> {
        Box::pin(async move {
            self.check("SQS")?;
            if let Some(messages) = self.world().messages.get_mut(queue_url) {
                messages.retain(|m| m.0 != receipt);
            }
            Ok(())
        })
    }

    fn hide<'a>(&'a self, queue_url: &'a str, receipt: &'a str, seconds: i32) -> Call<'a, ()> {
        Box::pin(async move {
            self.check("SQS")?;
            let mut world = self.world();
            let message = world
                .messages
                .get_mut(queue_url)
                .and_then(|m| m.iter_mut().find(|m| m.0 == receipt));
            // As SQS: only a message in flight can be hidden longer.
            match message {
                Some(m) if m.2 == Seen::InFlight => m.2 = Seen::Held,
                _ => {
                    return Err(AwsError::Service {
                        service: "SQS",
                        code: "MessageNotInflight".into(),
                        message: "the message is not in flight".into(),
                    });
                }
            }
            world.hidden.push((receipt.to_owned(), seconds));
            Ok(())
        })
    }

    fn describe<'a>(&'a self, execution: &'a str) -> Call<'a, ExecutionState> {
        Box::pin(async move { self.describe_now(execution) })
    }
}

impl FakeAws {
    fn describe_now(&self, execution: &str) -> Result<ExecutionState, AwsError> {
        self.check("Step Functions")?;
        self.world()
            .executions
            .get(execution)
            .cloned()
            .ok_or_else(|| AwsError::Service {
                service: "Step Functions",
                code: "ExecutionDoesNotExist".to_owned(),
                message: format!("Execution Does Not Exist: '{execution}'"),
            })
    }
}

impl DecisionRoute for FakeAws {
    fn send<'a>(&'a self, entry: &'a OutboxEntry) -> Call<'a, Delivery, String> {
        Box::pin(async move {
            let state = if entry.verdict == "approve" {
                TaskState::Succeeded {
                    output: entry.decision.clone(),
                }
            } else {
                TaskState::Failed {
                    error: "Tapprove.Denied".to_owned(),
                    cause: entry.decision.clone(),
                }
            };
            self.result(&entry.task_token, state).map_err(|e| e.to_string())
        })
    }
}

/// A clock the test sets.
#[derive(Debug, Clone)]
pub struct FixedClock(pub SystemTime);

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}
