//! How a command fails: the kind of failure, which decides the exit code,
//! and how the libraries' errors map onto it.

use std::fmt;

use tapprove_engine::EngineError;
use tapprove_session::SessionError;

/// How a command failed, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `verify` refused the decision (exit 1).
    Rejected,
    /// Bad arguments or input files (exit 2).
    Input,
    /// The authenticator or a store failed (exit 3).
    Failed,
}

/// A failed command: its kind, a machine-readable code and a message that
/// says what to do.
#[derive(Debug)]
pub struct Failure {
    pub kind: Kind,
    pub code: String,
    pub message: String,
    /// For rejections: the rule of docs/protocol.md that was broken.
    pub rule: Option<u8>,
}

impl Failure {
    pub fn input(message: impl fmt::Display) -> Self {
        Self {
            kind: Kind::Input,
            code: "input_error".to_owned(),
            message: message.to_string(),
            rule: None,
        }
    }

    pub fn failed(code: &str, message: impl fmt::Display) -> Self {
        Self {
            kind: Kind::Failed,
            code: code.to_owned(),
            message: message.to_string(),
            rule: None,
        }
    }

    pub fn rejected(rejection: &tapprove_core::Rejection) -> Self {
        Self {
            kind: Kind::Rejected,
            code: rejection.code.as_str().to_owned(),
            message: rejection.message.clone(),
            rule: Some(rejection.code.rule()),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self.kind {
            Kind::Rejected => 1,
            Kind::Input => 2,
            Kind::Failed => 3,
        }
    }
}

impl From<tapprove_authn::AuthnError> for Failure {
    fn from(e: tapprove_authn::AuthnError) -> Self {
        use tapprove_authn::AuthnError as E;
        let code = match e {
            E::Cancelled => "cancelled",
            E::NoMatchingCredential => "no_matching_credential",
            E::AlreadyEnrolled => "already_enrolled",
            E::PinInvalid { .. } => "pin_invalid",
            E::PinBlocked => "pin_blocked",
            E::UserVerificationUnavailable(_) => "user_verification_unavailable",
            E::PinRequired => "pin_required",
            E::NotFound => "authenticator_not_found",
            E::Timeout => "timeout",
            E::Store(_) => "key_store_error",
            _ => "authenticator_error",
        };
        Self::failed(code, e)
    }
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::NotFound(_) | EngineError::Ambiguous(_) | EngineError::Invalid(_) => {
                Failure::input(e)
            }
            EngineError::Config(c) => Failure {
                kind: Kind::Input,
                code: "config_error".into(),
                message: c.to_string(),
                rule: None,
            },
            EngineError::Sign(tapprove_authn::SignError::Authenticator(a)) => a.into(),
            EngineError::Sign(s) => Failure::input(s),
            EngineError::KeyStore(m) => Failure::failed("key_store_error", m),
            EngineError::Aws(a) => Failure::failed(
                if a.is_transient() {
                    "aws_unreachable"
                } else {
                    "aws_error"
                },
                a,
            ),
            EngineError::Enrolment { code, message } => Failure {
                kind: match code.as_str() {
                    "service_unreachable"
                    | "upstream_unavailable"
                    | "registry_unavailable"
                    | "bad_answer" => Kind::Failed,
                    _ => Kind::Rejected,
                },
                code,
                message,
                rule: None,
            },
            other => Failure::failed("engine_error", other),
        }
    }
}

impl From<SessionError> for Failure {
    fn from(e: SessionError) -> Self {
        Failure {
            kind: if e.is_input() { Kind::Input } else { Kind::Failed },
            code: e.code().into(),
            message: e.to_string(),
            rule: None,
        }
    }
}

pub type Result<T = ()> = std::result::Result<T, Failure>;
