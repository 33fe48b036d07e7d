//! What became of the requests an approver saw: who decided, when, and how
//! the execution ended, as Step Functions tells it (`DescribeExecution` on
//! the gate's execution, which approvers may read). Nothing here is taken
//! from a task or a message: a request that left the inbox is looked up.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tapprove_aws::sfn::ExecutionState;
use tapprove_proto::{Decision, ReasonCode, UtcTime};

/// One person's decision, as the gate counted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decided {
    pub by: String,
    /// When the gate's verifier counted it (an approval) or it was signed
    /// (a denial).
    pub at: String,
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The gate's rule was met: these approvals counted.
    Approved { by: Vec<Decided> },
    /// A verified denial ended it.
    Denied {
        by: String,
        at: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The denier did not expect the request.
        #[serde(default)]
        unexpected: bool,
    },
    /// The deadline passed first.
    Expired,
    /// The execution was stopped (its requester or pipeline withdrew it).
    Withdrawn {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<String>,
    },
    /// The execution failed for another reason.
    Failed { error: String },
}

/// What an execution says when the request it decided is not the one the
/// approver saw (a request delivered to them naming someone else's
/// execution): nothing of that execution is shown as this request's end.
const NOT_THIS_REQUEST: &str = "its execution decided another request";

impl Outcome {
    /// How `state` ended for the request whose hash is `request_sha256`
    /// (base64url); `None` while it runs. The approvals and the denial
    /// are taken only when they are of this request.
    pub fn of(state: &ExecutionState, request_sha256: &str) -> Option<Self> {
        match state.status.as_str() {
            "RUNNING" | "PENDING_REDRIVE" => None,
            "SUCCEEDED" => {
                let output: Value = state
                    .output
                    .as_deref()
                    .and_then(|o| serde_json::from_str(o).ok())
                    .unwrap_or_default();
                let ours = output["approvals"].as_array().is_some_and(|a| {
                    !a.is_empty() && a.iter().all(|a| a["request_sha256"] == request_sha256)
                });
                if !ours {
                    return Some(Self::Failed {
                        error: NOT_THIS_REQUEST.into(),
                    });
                }
                let by = output["approvals"]
                    .as_array()
                    .map(|approvals| {
                        approvals
                            .iter()
                            .filter_map(|a| {
                                Some(Decided {
                                    by: a["approver"].as_str()?.to_owned(),
                                    at: a["verified_at"].as_str().unwrap_or_default().to_owned(),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Some(Self::Approved { by })
            }
            "ABORTED" => Some(Self::Withdrawn {
                at: state
                    .stopped_at
                    .map(|s| UtcTime::from_unix(s).as_str().to_owned()),
            }),
            "TIMED_OUT" => Some(Self::Expired),
            _ => match state.error.as_deref() {
                Some("Tapprove.Expired") => Some(Self::Expired),
                // The gate fails with this only after its verifier verified
                // the denial, which is the cause.
                Some("Tapprove.Denied") => {
                    match state
                        .cause
                        .as_deref()
                        .and_then(|c| Decision::from_json(c.as_bytes()).ok())
                    {
                        Some(denial) if denial.statement.request_sha256.encode() != request_sha256 => {
                            Some(Self::Failed {
                                error: NOT_THIS_REQUEST.into(),
                            })
                        }
                        Some(denial) => Some(Self::Denied {
                            by: denial.statement.approver,
                            at: denial.statement.signed_at.as_str().to_owned(),
                            reason: denial.statement.reason,
                            unexpected: denial.statement.reason_code == Some(ReasonCode::Unexpected),
                        }),
                        None => Some(Self::Failed {
                            error: "Tapprove.Denied".into(),
                        }),
                    }
                }
                other => Some(Self::Failed {
                    error: other.unwrap_or("unknown").chars().take(256).collect(),
                }),
            },
        }
    }

    /// In words: "approved by bob at 2026-11-21T10:03:00Z".
    pub fn describe(&self) -> String {
        match self {
            Self::Approved { by } if by.is_empty() => "approved".into(),
            Self::Approved { by } => format!(
                "approved by {}",
                by.iter()
                    .map(|d| format!("{} at {}", d.by, d.at))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::Denied {
                by,
                at,
                unexpected: true,
                ..
            } => format!("denied by {by} at {at}: they did not expect this request"),
            Self::Denied {
                by,
                at,
                reason: Some(reason),
                ..
            } => format!("denied by {by} at {at}: {reason}"),
            Self::Denied { by, at, .. } => format!("denied by {by} at {at}"),
            Self::Expired => "expired without a decision".into(),
            Self::Withdrawn { at: Some(at) } => format!("withdrawn at {at}"),
            Self::Withdrawn { at: None } => "withdrawn".into(),
            Self::Failed { error } => format!("ended with {error}"),
        }
    }
}

/// One request the approver saw, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seen {
    pub id: String,
    #[serde(skip)]
    pub request_sha256: String,
    pub title: String,
    /// Who asked, as shown (`alice (not verified)` when only claimed).
    pub requester: String,
    pub execution: String,
    pub first_seen: String,
    pub deadline: String,
    /// The approver asked for it themselves (they could not decide it).
    pub own: bool,
    /// Their own decision, if they signed one: `approve` or `deny`, and
    /// what became of it (`pending`, `delivered`, `closed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mine: Option<Mine>,
    /// How it ended; `None` while it may still be open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
}

/// The approver's own decision on a request they saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mine {
    pub verdict: String,
    pub state: String,
    pub at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "REQ";

    fn state(status: &str, output: Option<&str>, error: Option<&str>, cause: Option<&str>) -> ExecutionState {
        ExecutionState {
            status: status.into(),
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:tapprove-gate".into(),
            output: output.map(str::to_owned),
            error: error.map(str::to_owned),
            cause: cause.map(str::to_owned),
            input: None,
            stopped_at: Some(1_795_341_900),
        }
    }

    #[test]
    fn an_execution_tells_how_its_request_ended() {
        assert_eq!(Outcome::of(&state("RUNNING", None, None, None), HASH), None);
        let output = r#"{"approvals":[{"approver":"bob","verified_at":"2026-11-21T10:03:00Z","request_sha256":"REQ"}]}"#;
        let approved = Outcome::of(&state("SUCCEEDED", Some(output), None, None), HASH).unwrap();
        assert_eq!(approved.describe(), "approved by bob at 2026-11-21T10:03:00Z");
        // The execution a request names decided another request: not
        // shown as this one's end.
        assert_eq!(
            Outcome::of(&state("SUCCEEDED", Some(output), None, None), "OTHER"),
            Some(Outcome::Failed {
                error: NOT_THIS_REQUEST.into()
            })
        );
        assert_eq!(
            Outcome::of(&state("FAILED", None, Some("Tapprove.Expired"), None), HASH),
            Some(Outcome::Expired)
        );
        assert_eq!(
            Outcome::of(&state("ABORTED", None, None, None), HASH)
                .unwrap()
                .describe(),
            "withdrawn at 2026-11-22T10:05:00Z"
        );
        // A denial's cause that is no decision is not believed.
        assert_eq!(
            Outcome::of(
                &state("FAILED", None, Some("Tapprove.Denied"), Some("bob said so")),
                HASH
            ),
            Some(Outcome::Failed {
                error: "Tapprove.Denied".into()
            })
        );
    }
}
