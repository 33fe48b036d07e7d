//! How a command fails: the kind of failure, which decides the exit code,
//! and how the libraries' errors map onto it.

use std::fmt;

use tapprove_engine::{EngineError, ErrorCode};

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
        Self::failed(e.code(), e)
    }
}

/// The exit kind of the engine's error code: bad input 2, a refusal 1,
/// anything else 3.
fn kind_of(code: ErrorCode) -> Kind {
    match code {
        ErrorCode::NotConfigured | ErrorCode::NotFound | ErrorCode::InvalidInput => Kind::Input,
        ErrorCode::Refused | ErrorCode::TaskGone => Kind::Rejected,
        _ => Kind::Failed,
    }
}

impl From<EngineError> for Failure {
    /// The exit code comes from the engine's code; the JSON's `code` is the
    /// most precise stable word there is for what happened (the service's
    /// own refusal code, the authenticator's, the sign-in's).
    fn from(e: EngineError) -> Self {
        let code = e.detail();
        // The engine's messages name no face; the CLI's hint says which
        // command helps.
        let hint = match e.code() {
            ErrorCode::NotSignedIn => "; run `tapprove login`",
            ErrorCode::NotFound => "; run `tapprove inbox` to see what waits",
            _ => "",
        };
        Failure {
            kind: kind_of(e.code()),
            code,
            message: format!("{e}{hint}"),
            rule: None,
        }
    }
}

pub type Result<T = ()> = std::result::Result<T, Failure>;
