//! A gate's requests, as a requester (a pipeline, a person) makes them:
//! opened through the request endpoint, where AWS proves who asks, or
//! started directly with a requester that is then only claimed; and an
//! execution's status. Both faces call these.

use std::time::Duration;

use serde_json::Value;
use tapprove_aws::sfn::{ExecutionState, StepFunctions};
use tapprove_config::Config;
use tapprove_proto::submission::{RequestReceipt, RequestSubmission, SubmissionVersion};

use crate::enrol::{Endpoint, submit_request};
use crate::error::{EngineError, Result};

/// What a request asks of the gate the settings name (`[gate]`).
#[derive(Debug, Clone)]
pub struct RequestSpec {
    pub title: String,
    /// The group (default: the settings' first source's).
    pub approvers: Option<String>,
    pub quorum: u32,
    pub timeout_seconds: u64,
    /// The details as JSON text (checked as text: a number no double
    /// holds is refused before it is parsed away).
    pub details: String,
    /// Start the gate directly, naming this requester (only claimed);
    /// `None` opens it through the request endpoint.
    pub requested_by: Option<String>,
}

/// A request opened.
#[derive(Debug, Clone)]
pub enum Opened {
    /// Through the request endpoint: AWS proved the requester.
    Proven(RequestReceipt),
    /// Started directly: the requester is the input's claim.
    Claimed { execution: String, requested_by: String },
}

impl Opened {
    pub fn execution(&self) -> &str {
        match self {
            Self::Proven(receipt) => &receipt.execution,
            Self::Claimed { execution, .. } => execution,
        }
    }
}

/// Opens `spec` at the settings' gate.
pub async fn request(aws: &aws_config::SdkConfig, config: &Config, spec: RequestSpec) -> Result<Opened> {
    let gate = config.gate.as_ref().ok_or_else(|| {
        EngineError::Invalid("no gate in the settings: run `tapprove gate install` first".into())
    })?;
    let details: Value = serde_json::from_str(&spec.details)
        .map_err(|e| EngineError::Invalid(format!("the details are not JSON: {e}")))?;
    if let Some(literal) = tapprove_proto::numbers::inexact_number(spec.details.as_bytes()) {
        return Err(EngineError::Invalid(format!(
            "the details hold the number {literal}, which JSON readers do not all read alike (beyond IEEE double precision): the approver would see one value and sign another; write it as a string (\"{literal}\")"
        )));
    }
    let approvers = spec
        .approvers
        .or_else(|| config.sources.first().map(|s| s.group().to_owned()))
        .ok_or_else(|| EngineError::Invalid("name the approver group: the settings name none".into()))?;
    let submission = RequestSubmission {
        tapprove: SubmissionVersion,
        gate: gate.state_machine_arn.clone(),
        title: spec.title,
        approvers,
        quorum: spec.quorum,
        timeout_seconds: spec.timeout_seconds,
        details,
        identity: None,
    };
    if let Some(requested_by) = spec.requested_by {
        let input = submission.input(&requested_by);
        let execution = StepFunctions::new(aws)
            .start_execution(&gate.state_machine_arn, &input.to_string())
            .await?;
        return Ok(Opened::Claimed {
            execution,
            requested_by,
        });
    }
    let endpoint = Endpoint::from_config(config)?.ok_or_else(|| {
        EngineError::Invalid(
            "no request endpoint: the settings name no service ([enrolment] url); name the requester to start the gate directly (it is then not verified)".into(),
        )
    })?;
    Ok(Opened::Proven(submit_request(aws, &endpoint, submission).await?))
}

/// `execution`'s state, waiting up to `wait` while it runs.
pub async fn status(aws: &aws_config::SdkConfig, execution: &str, wait: Duration) -> Result<ExecutionState> {
    let sfn = StepFunctions::new(aws);
    let deadline = std::time::Instant::now() + wait;
    loop {
        let state = sfn.describe_execution(execution).await?;
        if state.status != "RUNNING" || std::time::Instant::now() >= deadline {
            return Ok(state);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
