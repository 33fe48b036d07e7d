//! The error every command returns: `{code, message}`, with a closed set of
//! codes the front end mirrors (`ui/src/lib/api.ts`), so the UI never
//! matches on message text. Messages are written for people and say what
//! to do; they never carry secrets.

use serde::Serialize;
use tapprove_authn::{AuthnError, SignError};
use tapprove_engine::EngineError;
use tapprove_session::SessionError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    NotConfigured,
    NotSignedIn,
    NotFound,
    InvalidInput,
    NoAuthenticator,
    Cancelled,
    Authenticator,
    AwsUnreachable,
    AwsError,
    TaskGone,
    Keychain,
    SignInFailed,
    Busy,
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }
}

impl From<AuthnError> for AppError {
    fn from(e: AuthnError) -> Self {
        let code = match e {
            AuthnError::Cancelled => ErrorCode::Cancelled,
            AuthnError::Store(_) => ErrorCode::Keychain,
            _ => ErrorCode::Authenticator,
        };
        Self::new(code, e.to_string())
    }
}

impl From<EngineError> for AppError {
    fn from(e: EngineError) -> Self {
        let code = match &e {
            EngineError::NotFound(_) => ErrorCode::NotFound,
            EngineError::Ambiguous(_) | EngineError::Invalid(_) => ErrorCode::InvalidInput,
            EngineError::NoAuthenticator(_) => ErrorCode::NoAuthenticator,
            EngineError::Config(_) => ErrorCode::NotConfigured,
            EngineError::Aws(a) if a.is_transient() => ErrorCode::AwsUnreachable,
            EngineError::Aws(_) | EngineError::Identity(_) => ErrorCode::AwsError,
            EngineError::Sign(SignError::Authenticator(a)) => return a.clone().into(),
            EngineError::Sign(_) => ErrorCode::InvalidInput,
            EngineError::KeyStore(_) => ErrorCode::Keychain,
            EngineError::Enrolment { .. } => ErrorCode::AwsError,
            _ => ErrorCode::Internal,
        };
        Self::new(code, e.to_string())
    }
}

impl From<SessionError> for AppError {
    fn from(e: SessionError) -> Self {
        let code = match e.code() {
            "not_signed_in" | "session_ended" => ErrorCode::NotSignedIn,
            "keychain_error" => ErrorCode::Keychain,
            "sign_in_settings" | "choose_role" => ErrorCode::InvalidInput,
            _ => ErrorCode::SignInFailed,
        };
        Self::new(code, e.to_string())
    }
}

impl From<tauri::Error> for AppError {
    fn from(e: tauri::Error) -> Self {
        Self::new(ErrorCode::Internal, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The snake_case names between `[` and `]` of `ERROR_CODES` in
    /// `ui/src/lib/api.ts`.
    fn ui_codes() -> Vec<String> {
        let api = include_str!("../../ui/src/lib/api.ts");
        let start = api.find("ERROR_CODES = [").unwrap();
        let end = start + api[start..].find("] as const").unwrap();
        api[start..end]
            .split('\'')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }

    /// The variants of `ErrorCode` as this file declares them, in serde's
    /// spelling.
    fn rust_codes() -> Vec<String> {
        let source = include_str!("error.rs");
        let start = source.find("pub enum ErrorCode {").unwrap();
        let end = start + source[start..].find('}').unwrap();
        source[start..end]
            .lines()
            .skip(1)
            .map(|l| l.trim().trim_end_matches(','))
            .filter(|l| !l.is_empty() && !l.starts_with("//"))
            .map(|variant| {
                let mut snake = String::new();
                for (i, c) in variant.chars().enumerate() {
                    if c.is_uppercase() && i > 0 {
                        snake.push('_');
                    }
                    snake.push(c.to_ascii_lowercase());
                }
                snake
            })
            .collect()
    }

    #[test]
    fn the_ui_knows_exactly_the_codes_the_commands_answer_with() {
        let rust = rust_codes();
        assert_eq!(
            ui_codes(),
            rust,
            "ui/src/lib/api.ts ERROR_CODES and ErrorCode differ"
        );
        // The reading is serde's: two variants spelled the way the UI does.
        assert_eq!(
            serde_json::to_value(ErrorCode::AwsUnreachable).unwrap(),
            serde_json::json!(rust[rust.iter().position(|c| c == "aws_unreachable").unwrap()])
        );
        assert_eq!(
            serde_json::to_value(ErrorCode::SignInFailed).unwrap(),
            "sign_in_failed"
        );
    }
}
