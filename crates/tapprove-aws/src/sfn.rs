//! Step Functions: activity polling, task results and heartbeats, and the
//! few management calls the gate installer and tests make.

use std::fmt;

use aws_sdk_sfn::Client;
use aws_sdk_sfn::error::ProvideErrorMetadata;

use crate::error::{AwsError, Result, from_sdk};

const SERVICE: &str = "Step Functions";

/// A task token: the capability to complete one waiting task. Shown
/// shortened, since logs do not need it and anyone holding it (and the IAM
/// permission) can answer the task.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TaskToken(pub String);

impl fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head: String = self.0.chars().take(12).collect();
        write!(f, "TaskToken({head}…)")
    }
}

/// A task handed out by `GetActivityTask`.
#[derive(Debug, Clone)]
pub struct ActivityTask {
    pub token: TaskToken,
    pub input: String,
}

/// Why Step Functions will not take a result for a task any more: it was
/// decided by someone else, it expired, or the token is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskGone {
    /// `TaskDoesNotExist`: already decided, or the execution ended.
    DoesNotExist,
    /// `TaskTimedOut`: the request expired.
    TimedOut,
    /// `InvalidToken`: the token is not (or no longer) valid.
    InvalidToken,
}

impl TaskGone {
    fn from_code(code: &str) -> Option<Self> {
        match code {
            "TaskDoesNotExist" => Some(Self::DoesNotExist),
            "TaskTimedOut" => Some(Self::TimedOut),
            "InvalidToken" => Some(Self::InvalidToken),
            _ => None,
        }
    }

    /// For people: what happened to the request.
    pub fn explain(self) -> &'static str {
        match self {
            Self::DoesNotExist => "already decided or expired",
            Self::TimedOut => "expired",
            Self::InvalidToken => "no longer open (already decided or expired)",
        }
    }
}

/// The outcome of sending a task result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Acknowledged,
    Gone(TaskGone),
}

/// An execution's state, as the tests and the CLI show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExecutionState {
    pub status: String,
    /// The state machine the execution runs.
    pub state_machine_arn: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// The execution's input (JSON), when Step Functions returns it.
    pub input: Option<String>,
    /// When it stopped (seconds since the epoch), if it did.
    pub stopped_at: Option<i64>,
}

/// What a gate's latest wait offered (see [`StepFunctions::latest_wait`]).
#[derive(Debug, Clone)]
pub struct GateWait {
    /// The request/v1 JSON the gate holds.
    pub request: serde_json::Value,
    /// The task token the queue source published.
    pub task_token: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StepFunctions {
    client: Client,
    /// For `GetActivityTask`, which may wait a minute for a task.
    polls: Client,
}

impl StepFunctions {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        let polls = aws_sdk_sfn::config::Builder::from(config)
            .timeout_config(crate::long_poll_timeouts())
            .stalled_stream_protection(crate::quiet_long_polls())
            .build();
        Self {
            client: Client::new(config),
            polls: Client::from_conf(polls),
        }
    }

    /// Long-polls an activity (up to about a minute). `None` when nothing
    /// arrived.
    pub async fn poll_activity(&self, activity_arn: &str, worker: &str) -> Result<Option<ActivityTask>> {
        let out = self
            .polls
            .get_activity_task()
            .activity_arn(activity_arn)
            .worker_name(worker)
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, e))?;
        Ok(match (out.task_token(), out.input()) {
            (Some(token), input) if !token.is_empty() => Some(ActivityTask {
                token: TaskToken(token.to_owned()),
                input: input.unwrap_or("{}").to_owned(),
            }),
            _ => None,
        })
    }

    fn delivery<E: ProvideErrorMetadata + std::error::Error + 'static, R: fmt::Debug>(
        result: std::result::Result<impl Sized, aws_sdk_sfn::error::SdkError<E, R>>,
    ) -> Result<Delivery> {
        match result {
            Ok(_) => Ok(Delivery::Acknowledged),
            Err(e) => match e.code().and_then(TaskGone::from_code) {
                Some(gone) => Ok(Delivery::Gone(gone)),
                None => Err(from_sdk(SERVICE, e)),
            },
        }
    }

    pub async fn send_success(&self, token: &TaskToken, output: &str) -> Result<Delivery> {
        Self::delivery(
            self.client
                .send_task_success()
                .task_token(&token.0)
                .output(output)
                .send()
                .await,
        )
    }

    pub async fn send_failure(&self, token: &TaskToken, error: &str, cause: &str) -> Result<Delivery> {
        Self::delivery(
            self.client
                .send_task_failure()
                .task_token(&token.0)
                .error(error)
                .cause(cause)
                .send()
                .await,
        )
    }

    pub async fn heartbeat(&self, token: &TaskToken) -> Result<Delivery> {
        Self::delivery(
            self.client
                .send_task_heartbeat()
                .task_token(&token.0)
                .send()
                .await,
        )
    }

    /// Creates an activity (idempotent by name) and returns its ARN.
    pub async fn create_activity(&self, name: &str) -> Result<String> {
        let out = self
            .client
            .create_activity()
            .name(name)
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, e))?;
        Ok(out.activity_arn().to_owned())
    }

    /// Creates a state machine, or updates its definition if one with this
    /// name exists. Returns its ARN.
    pub async fn put_state_machine(&self, name: &str, definition: &str, role_arn: &str) -> Result<String> {
        let created = self
            .client
            .create_state_machine()
            .name(name)
            .definition(definition)
            .role_arn(role_arn)
            .send()
            .await;
        match created {
            Ok(out) => Ok(out.state_machine_arn().to_owned()),
            Err(e) if e.code() == Some("StateMachineAlreadyExists") => {
                let arn = self.state_machine_arn(name).await?.ok_or_else(|| {
                    AwsError::unexpected(SERVICE, format!("state machine {name} exists but is not listed"))
                })?;
                self.client
                    .update_state_machine()
                    .state_machine_arn(&arn)
                    .definition(definition)
                    .role_arn(role_arn)
                    .send()
                    .await
                    .map_err(|e| from_sdk(SERVICE, e))?;
                Ok(arn)
            }
            Err(e) => Err(from_sdk(SERVICE, e)),
        }
    }

    async fn state_machine_arn(&self, name: &str) -> Result<Option<String>> {
        let mut next = None;
        loop {
            let page = self
                .client
                .list_state_machines()
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| from_sdk(SERVICE, e))?;
            if let Some(found) = page.state_machines().iter().find(|m| m.name() == name) {
                return Ok(Some(found.state_machine_arn().to_owned()));
            }
            next = page.next_token().map(str::to_owned);
            if next.is_none() {
                return Ok(None);
            }
        }
    }

    pub async fn start_execution(&self, state_machine_arn: &str, input: &str) -> Result<String> {
        self.start_named(state_machine_arn, None, input).await
    }

    /// Starts an execution named `name` (Step Functions picks one when
    /// `None`); answers its ARN.
    pub async fn start_named(
        &self,
        state_machine_arn: &str,
        name: Option<&str>,
        input: &str,
    ) -> Result<String> {
        let out = self
            .client
            .start_execution()
            .state_machine_arn(state_machine_arn)
            .set_name(name.map(str::to_owned))
            .input(input)
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, e))?;
        Ok(out.execution_arn().to_owned())
    }

    /// Stops an execution (a withdrawn request).
    pub async fn stop_execution(&self, execution_arn: &str, error: &str, cause: &str) -> Result<()> {
        self.client
            .stop_execution()
            .execution_arn(execution_arn)
            .error(error)
            .cause(cause)
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, e))?;
        Ok(())
    }

    /// What a gate execution's latest wait offered to approvers, from its
    /// history (newest first): the request it held and, for the queue
    /// source, the task token it published (an activity's token is made at
    /// `GetActivityTask` and is in no event). `None` if no wait was
    /// scheduled yet, or its details were truncated.
    pub async fn latest_wait(&self, execution_arn: &str) -> Result<Option<GateWait>> {
        let mut pages = self
            .client
            .get_execution_history()
            .execution_arn(execution_arn)
            .reverse_order(true)
            .max_results(100)
            .into_paginator()
            .send();
        // A lap is about fifteen events: five pages reach far back enough.
        for _ in 0..5 {
            let Some(page) = pages.next().await else { break };
            let page = page.map_err(|e| from_sdk(SERVICE, e))?;
            for event in page.events() {
                // The verifier's own steps are tasks too (an activity, or a
                // Lambda function): their input is a gate call (`op`), not
                // a request, and they are passed over.
                if let Some(d) = event.activity_scheduled_event_details() {
                    if d.input_details().is_some_and(|i| i.truncated()) {
                        return Ok(None);
                    }
                    let input: serde_json::Value = d
                        .input()
                        .and_then(|i| serde_json::from_str(i).ok())
                        .unwrap_or_default();
                    // `{request, status}`, or the request itself (gates
                    // installed before the status was added); a gate call
                    // (`{op, request, …}`) is the verifier's own task.
                    let request = if input["tapprove"] == "request/v1" {
                        input
                    } else if input.get("op").is_none() {
                        input["request"].clone()
                    } else {
                        continue;
                    };
                    if request["tapprove"] == "request/v1" {
                        return Ok(Some(GateWait {
                            request,
                            task_token: None,
                        }));
                    }
                    continue;
                }
                if let Some(d) = event.task_scheduled_event_details()
                    && d.resource_type() == "sns"
                {
                    let parameters: serde_json::Value =
                        serde_json::from_str(d.parameters()).unwrap_or_default();
                    // The message as the state built it: an object, or its
                    // JSON text.
                    let message = match &parameters["Message"] {
                        serde_json::Value::String(text) => serde_json::from_str(text).unwrap_or_default(),
                        other => other.clone(),
                    };
                    if message["request"]["tapprove"] == "request/v1" {
                        return Ok(Some(GateWait {
                            request: message["request"].clone(),
                            task_token: message["task_token"].as_str().map(str::to_owned),
                        }));
                    }
                }
            }
        }
        Ok(None)
    }

    pub async fn describe_execution(&self, execution_arn: &str) -> Result<ExecutionState> {
        let out = self
            .client
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, e))?;
        Ok(ExecutionState {
            status: out.status().as_str().to_owned(),
            state_machine_arn: out.state_machine_arn().to_owned(),
            output: out.output().map(str::to_owned),
            error: out.error().map(str::to_owned),
            cause: out.cause().map(str::to_owned),
            input: out.input().map(str::to_owned),
            stopped_at: out.stop_date().map(|d| d.secs()),
        })
    }
}
