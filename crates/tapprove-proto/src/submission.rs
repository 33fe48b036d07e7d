//! The request endpoint's wire format: a requester asks the verifier
//! service to start a gate on their behalf, proving who they are with a
//! presigned `sts:GetCallerIdentity` (as enrolment does), so the gate can
//! show and judge a requester AWS vouched for instead of the one a
//! workflow's input names.
//!
//! `POST <service>/v1/requests` with a [`RequestSubmission`] answers `201`
//! with a [`RequestReceipt`], or an error status with `{code, message}`.

use serde::{Deserialize, Serialize};

use crate::enrolment::PresignedCallerIdentity;
use crate::error::{WireError, parse_document};
use crate::limits::MAX_REQUEST_BYTES;
use crate::request::{Request, RequestVersion, Requester};
use crate::time::UtcTime;

const DOC: &str = "request submission";

/// The request endpoint's path.
pub const REQUESTS_PATH: &str = "/v1/requests";

crate::version_tag!(
    /// `request-submission/v1`.
    SubmissionVersion = "request-submission/v1"
);

/// What a requester asks the service to start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSubmission {
    pub tapprove: SubmissionVersion,
    /// The gate's state machine ARN (one of the service's gates).
    pub gate: String,
    pub title: String,
    /// The approver group the request names (the gate's policy decides).
    pub approvers: String,
    pub quorum: u32,
    pub timeout_seconds: u64,
    pub details: serde_json::Value,
    /// Proof of the caller's AWS identity, bound to this submission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<PresignedCallerIdentity>,
}

impl RequestSubmission {
    /// Parses and checks a submission: its fields obey the bounds of the
    /// request it becomes.
    pub fn from_json(bytes: &[u8]) -> Result<Self, WireError> {
        let submission: Self = parse_document(DOC, bytes, MAX_REQUEST_BYTES, SubmissionVersion::TEXT)?;
        submission.request_for("arn:aws:states:::execution:gate:check", "check")?;
        crate::request::refuse_inexact_numbers(DOC, bytes)?;
        Ok(submission)
    }

    /// The gate's input for this submission, with `requested_by` the
    /// proven requester's name.
    pub fn input(&self, requested_by: &str) -> serde_json::Value {
        serde_json::json!({
            "title": self.title,
            "requested_by": requested_by,
            "approvers": self.approvers,
            "quorum": self.quorum,
            "timeout_seconds": self.timeout_seconds,
            "details": self.details,
        })
    }

    /// The request the gate will build from this submission (checked with
    /// the request's own rules), for `execution` by `requested_by`.
    fn request_for(&self, execution: &str, requested_by: &str) -> Result<Request, WireError> {
        let request = Request {
            tapprove: RequestVersion,
            execution: execution.to_owned(),
            nonce: "check".into(),
            created: UtcTime::from_unix(0),
            timeout_seconds: self.timeout_seconds,
            title: self.title.clone(),
            requested_by: requested_by.to_owned(),
            approvers: self.approvers.clone(),
            quorum: self.quorum,
            details: self.details.clone(),
            requester: None,
        };
        request.validate()?;
        Ok(request)
    }
}

/// The service's answer: the execution it started, and who AWS says asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestReceipt {
    pub execution: String,
    pub requester: Requester,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> serde_json::Value {
        serde_json::json!({
            "tapprove": "request-submission/v1",
            "gate": "arn:aws:states:eu-west-1:123456789012:stateMachine:tapprove-gate",
            "title": "Deploy api v2.3 to prod",
            "approvers": "prod-approvers",
            "quorum": 1,
            "timeout_seconds": 3600,
            "details": {"commit": "4f1c2e9"}
        })
    }

    #[test]
    fn a_submission_obeys_the_requests_bounds() {
        let ok = RequestSubmission::from_json(sample().to_string().as_bytes()).unwrap();
        assert_eq!(ok.input("alice")["requested_by"], "alice");
        for (field, value) in [
            ("quorum", serde_json::json!(0)),
            ("timeout_seconds", serde_json::json!(0)),
            ("approvers", serde_json::json!("prod approvers")),
            ("title", serde_json::json!("two\nlines")),
        ] {
            let mut v = sample();
            v[field] = value;
            let e = RequestSubmission::from_json(v.to_string().as_bytes()).unwrap_err();
            assert_eq!(e.field(), field, "{e}");
        }
        let mut v = sample();
        v["requested_by"] = "ci-bot".into();
        assert!(
            RequestSubmission::from_json(v.to_string().as_bytes()).is_err(),
            "the requester is never the caller's to name"
        );
    }
}
