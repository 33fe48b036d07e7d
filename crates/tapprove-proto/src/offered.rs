//! What a source hands an approver: the request to sign, and where it
//! stands at its gate.
//!
//! An activity task's input is `{"request": {...}, "status": {...}}`; a
//! queue message is `{"task_token": "...", "request": {...}, "status":
//! {...}}`. Gates installed before the status was added send the request
//! itself as an activity task's input, and no `status` in messages: both
//! are read. The status is informational and unsigned; a malformed one is
//! dropped, never a reason to refuse the request.

use serde::Deserialize;

use crate::error::{WireError, WireErrorKind};
use crate::gate_policy::GateStatus;
use crate::request::Request;

/// A request as a source offered it.
#[derive(Debug, Clone, PartialEq)]
pub struct Offered {
    pub request: Request,
    pub status: Option<GateStatus>,
}

#[derive(Deserialize)]
struct Envelope {
    request: serde_json::Value,
    #[serde(default)]
    status: Option<serde_json::Value>,
}

impl Offered {
    /// An activity task's input.
    pub fn from_activity_input(bytes: &[u8]) -> Result<Self, WireError> {
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| WireError::new(WireErrorKind::Malformed, "task", "", e.to_string()))?;
        if value.get("tapprove").is_some() {
            return Ok(Self {
                request: Request::from_json(bytes)?,
                status: None,
            });
        }
        let envelope: Envelope = serde_json::from_value(value)
            .map_err(|e| WireError::new(WireErrorKind::Malformed, "task", "", e.to_string()))?;
        Self::from_parts(&envelope.request, envelope.status.as_ref(), bytes)
    }

    /// A queue message's body: the task token and what it offers.
    pub fn from_message(bytes: &[u8]) -> Result<(String, Self), WireError> {
        #[derive(Deserialize)]
        struct Message {
            task_token: String,
            request: serde_json::Value,
            #[serde(default)]
            status: Option<serde_json::Value>,
        }
        let message: Message = serde_json::from_slice(bytes)
            .map_err(|e| WireError::new(WireErrorKind::Malformed, "message", "", e.to_string()))?;
        let offered = Self::from_parts(&message.request, message.status.as_ref(), bytes)?;
        Ok((message.task_token, offered))
    }

    /// `raw` is the whole text, searched for numbers no double holds (the
    /// parsed value has lost their excess precision).
    fn from_parts(
        request: &serde_json::Value,
        status: Option<&serde_json::Value>,
        raw: &[u8],
    ) -> Result<Self, WireError> {
        let bytes = serde_json::to_vec(request)
            .map_err(|e| WireError::new(WireErrorKind::Malformed, "request", "", e.to_string()))?;
        let request = Request::from_json(&bytes)?;
        crate::request::refuse_inexact_numbers("request", raw)?;
        Ok(Self {
            request,
            status: status.and_then(|s| GateStatus::from_value(s).ok()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> serde_json::Value {
        serde_json::json!({"rule": "1 of prod-approvers", "clauses": [{"group": "prod-approvers", "have": 0, "need": 1}], "approvals": 0, "needed": 1})
    }

    #[test]
    fn an_envelope_a_bare_request_and_a_message_are_read() {
        let request = crate::request::tests::sample();
        let bare = Offered::from_activity_input(&serde_json::to_vec(&request).unwrap()).unwrap();
        assert_eq!(bare.status, None);
        let envelope = serde_json::json!({"request": request, "status": status()});
        let offered = Offered::from_activity_input(&serde_json::to_vec(&envelope).unwrap()).unwrap();
        assert_eq!(offered.request, bare.request);
        assert_eq!(offered.status.unwrap().describe(), "1 of prod-approvers pending");
        let message = serde_json::json!({"task_token": "t", "request": request, "status": {"rule": 7}});
        let (token, offered) = Offered::from_message(&serde_json::to_vec(&message).unwrap()).unwrap();
        assert_eq!(
            (token.as_str(), offered.status),
            ("t", None),
            "a bad status is dropped"
        );
        let mut bad = envelope.clone();
        bad["request"]["quorum"] = 0.into();
        assert!(Offered::from_activity_input(&serde_json::to_vec(&bad).unwrap()).is_err());
    }
}
