//! The verifier service's refusals over HTTP: one type for the
//! enrolment service, the request endpoint and the identity checks both
//! use (so neither depends on the other for it).

use serde::Serialize;

/// Why the service refused a request (an enrolment, a credential
/// change, a request to start a gate): an HTTP status, a stable code and a
/// message that says what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceError {
    #[serde(skip)]
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ServiceError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "bad_request", message)
    }

    pub(crate) fn identity(message: impl Into<String>) -> Self {
        Self::new(403, "identity_refused", message)
    }

    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Self::new(502, "upstream_unavailable", message)
    }

    /// A caller, or what they asked, that the trust rules refuse.
    pub(crate) fn refused(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(403, code, message)
    }

    pub(crate) fn registry(e: tapprove_aws::AwsError) -> Self {
        Self::new(503, "registry_unavailable", e.to_string())
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ServiceError {}
