//! The engine's one error type and its closed set of codes. Each face maps
//! the code, never the message: the CLI to an exit code, the app to
//! `{code, message}` for the UI (`ui/src/lib/api.ts` mirrors the set).

use serde::Serialize;
use tapprove_authn::{AuthnError, SignError};
use tapprove_aws::AwsError;
use tapprove_config::ConfigError;
use tapprove_session::SessionError;

/// What kind of failure it is, as both faces act on it: snake_case on the
/// wire, one set for the whole engine.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No usable settings: install them or ask the admin.
    NotConfigured,
    /// No session, or it ended: sign in.
    NotSignedIn,
    /// No such pending request.
    NotFound,
    /// What was asked or typed is not acceptable as it is.
    InvalidInput,
    /// None of the person's registered authenticators is usable here.
    NoAuthenticator,
    /// The person cancelled at the authenticator.
    Cancelled,
    /// The authenticator failed (wrong PIN, blocked, no UV, removed, ...).
    Authenticator,
    /// AWS (or the organisation's service) did not answer: try later.
    AwsUnreachable,
    /// AWS answered with an error.
    AwsError,
    /// The request was decided by someone else, expired or withdrawn.
    TaskGone,
    /// The keychain (or the key files) failed.
    Keychain,
    /// Signing in failed at the identity provider.
    SignInFailed,
    /// The organisation's service refused under its trust rules.
    Refused,
    /// Another operation of the same kind is under way.
    Busy,
    /// A fault of Tapprove itself or of its local database.
    Internal,
}

impl ErrorCode {
    /// Every code, in declaration order (the UI's mirror is checked against it).
    pub const ALL: &[ErrorCode] = &[
        Self::NotConfigured,
        Self::NotSignedIn,
        Self::NotFound,
        Self::InvalidInput,
        Self::NoAuthenticator,
        Self::Cancelled,
        Self::Authenticator,
        Self::AwsUnreachable,
        Self::AwsError,
        Self::TaskGone,
        Self::Keychain,
        Self::SignInFailed,
        Self::Refused,
        Self::Busy,
        Self::Internal,
    ];

    /// The snake_case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotConfigured => "not_configured",
            Self::NotSignedIn => "not_signed_in",
            Self::NotFound => "not_found",
            Self::InvalidInput => "invalid_input",
            Self::NoAuthenticator => "no_authenticator",
            Self::Cancelled => "cancelled",
            Self::Authenticator => "authenticator",
            Self::AwsUnreachable => "aws_unreachable",
            Self::AwsError => "aws_error",
            Self::TaskGone => "task_gone",
            Self::Keychain => "keychain",
            Self::SignInFailed => "sign_in_failed",
            Self::Refused => "refused",
            Self::Busy => "busy",
            Self::Internal => "internal",
        }
    }
}

/// How the organisation's service (enrolment, requests) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceFailure {
    /// It refused under its rules (an HTTP 4xx with its own code).
    Refused,
    /// It could not be reached, failed (5xx) or answered nonsense.
    Unavailable,
}

/// Why the engine could not do what was asked. Every message says what the
/// person can do.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The approver's key store (keychain or key files) failed.
    #[error("{0}")]
    KeyStore(String),
    #[error("local database: {0}")]
    Store(String),
    /// A file could not be written.
    #[error("{0}")]
    Io(String),
    #[error("no pending request with id `{0}`")]
    NotFound(String),
    #[error("more than one pending request starts with `{0}`: give more of the id")]
    Ambiguous(String),
    #[error("cannot tell which approver you are: {0}")]
    Identity(String),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error("{0}")]
    Invalid(String),
    /// None of the approver's registered credentials is usable here.
    #[error("{0}")]
    NoAuthenticator(String),
    /// The organisation's service (enrolment, requests) refused or could
    /// not be used. `reason` is its own stable word for why
    /// (`principal_mismatch`, `service_unreachable`, ...), shown as is.
    #[error("{message}")]
    Service {
        failure: ServiceFailure,
        reason: String,
        message: String,
    },
}

impl From<AuthnError> for EngineError {
    fn from(e: AuthnError) -> Self {
        Self::Sign(SignError::Authenticator(e))
    }
}

impl EngineError {
    /// The code a face acts on.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Config(_) => ErrorCode::NotConfigured,
            Self::Aws(a) if a.is_transient() => ErrorCode::AwsUnreachable,
            Self::Aws(AwsError::Credentials { .. }) => ErrorCode::NotSignedIn,
            Self::Aws(_) | Self::Identity(_) => ErrorCode::AwsError,
            Self::Session(s) => match s {
                SessionError::NotSignedIn | SessionError::Ended(_) => ErrorCode::NotSignedIn,
                SessionError::Keychain(_) => ErrorCode::Keychain,
                SessionError::Settings(_) | SessionError::Choose(_) => ErrorCode::InvalidInput,
                _ => ErrorCode::SignInFailed,
            },
            Self::KeyStore(_) => ErrorCode::Keychain,
            Self::Store(_) | Self::Io(_) => ErrorCode::Internal,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Ambiguous(_) | Self::Invalid(_) => ErrorCode::InvalidInput,
            Self::Sign(SignError::Authenticator(a)) => match a {
                AuthnError::Cancelled => ErrorCode::Cancelled,
                AuthnError::Store(_) => ErrorCode::Keychain,
                _ => ErrorCode::Authenticator,
            },
            Self::Sign(_) => ErrorCode::InvalidInput,
            Self::NoAuthenticator(_) => ErrorCode::NoAuthenticator,
            Self::Service {
                failure: ServiceFailure::Refused,
                ..
            } => ErrorCode::Refused,
            Self::Service {
                failure: ServiceFailure::Unavailable,
                ..
            } => ErrorCode::AwsUnreachable,
        }
    }

    /// The most precise stable word there is for what happened (snake_case):
    /// the service's own refusal code, the authenticator's, the sign-in's,
    /// else one per kind. The CLI prints it as its JSON `code`; it is for
    /// people and scripts to read, while [`EngineError::code`] is what a
    /// face acts on.
    pub fn detail(&self) -> String {
        match self {
            Self::Sign(SignError::Authenticator(a)) => a.code().to_owned(),
            Self::Service { reason, .. } => reason.clone(),
            Self::Session(s) => s.code().to_owned(),
            Self::Config(_) => "config_error".to_owned(),
            Self::KeyStore(_) => "key_store_error".to_owned(),
            Self::Io(_) => "write_failed".to_owned(),
            Self::Aws(a) if a.is_transient() => "aws_unreachable".to_owned(),
            Self::Aws(_) => "aws_error".to_owned(),
            _ => match self.code() {
                ErrorCode::NotFound | ErrorCode::InvalidInput => "input_error".to_owned(),
                _ => "engine_error".to_owned(),
            },
        }
    }

    /// The same error with `note` added to its message (a rollback that
    /// failed too), keeping its stable word and whether it was a refusal,
    /// bad input or a failure.
    pub(crate) fn with_note(self, note: &str) -> Self {
        match self {
            Self::Service {
                failure,
                reason,
                message,
            } => Self::service(failure, &reason, message + note),
            Self::Io(m) => Self::Io(m + note),
            Self::Invalid(m) => Self::Invalid(m + note),
            Self::KeyStore(m) => Self::KeyStore(m + note),
            other => {
                let failure = match other.code() {
                    ErrorCode::InvalidInput | ErrorCode::NotFound | ErrorCode::NotConfigured => {
                        return Self::Invalid(format!("{other}{note}"));
                    }
                    ErrorCode::Refused => ServiceFailure::Refused,
                    _ => ServiceFailure::Unavailable,
                };
                Self::service(failure, &other.detail(), format!("{other}{note}"))
            }
        }
    }

    /// The service's failure, for the engine's own refusals.
    pub(crate) fn service(failure: ServiceFailure, reason: &str, message: impl Into<String>) -> Self {
        Self::Service {
            failure,
            reason: reason.to_owned(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_code_is_listed_once_and_named_as_serialised() {
        let mut seen = std::collections::BTreeSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code:?} twice");
            assert_eq!(
                serde_json::to_value(code).ok(),
                Some(serde_json::Value::String(code.as_str().to_owned()))
            );
        }
    }
}
