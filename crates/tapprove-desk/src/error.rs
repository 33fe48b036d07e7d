//! The error every command returns: `{code, message}`, with the engine's
//! closed set of codes (`tapprove_engine::ErrorCode`), which the front end
//! mirrors (`ui/src/lib/api.ts`), so the UI never matches on message text. Messages are written for people and say what
//! to do; they never carry secrets.

use serde::Serialize;
use tapprove_engine::EngineError;
pub use tapprove_engine::ErrorCode;

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

impl From<EngineError> for AppError {
    fn from(e: EngineError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The snake_case names between `[` and `]` of `ERROR_CODES` in
    /// `ui/src/lib/api.ts`.
    fn ui_codes() -> Vec<String> {
        let api = include_str!("../../../ui/src/lib/api.ts");
        let start = api.find("ERROR_CODES = [").unwrap();
        let end = start + api[start..].find("] as const").unwrap();
        api[start..end]
            .split('\'')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }

    /// The engine's codes, in serde's spelling.
    fn rust_codes() -> Vec<String> {
        ErrorCode::ALL
            .iter()
            .map(|c| serde_json::to_value(c).unwrap().as_str().unwrap().to_owned())
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
