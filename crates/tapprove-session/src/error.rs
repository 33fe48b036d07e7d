use tapprove_keychain::KeychainError;

/// Why signing in, refreshing or getting role credentials failed. Every
/// message says what to do; none carries a token.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("not signed in")]
    NotSignedIn,
    #[error("your session has ended ({0}): sign in again")]
    Ended(String),
    #[error("sign-in was refused: {0}")]
    Denied(String),
    #[error("sign-in did not complete in time ({0}): sign in again")]
    TimedOut(String),
    #[error("{0}")]
    Settings(String),
    /// The identity provider offers several accounts or roles and none was chosen.
    #[error("{0}")]
    Choose(String),
    #[error(transparent)]
    Keychain(#[from] KeychainError),
    #[error("{service} answered with an error: {message}")]
    Provider { service: &'static str, message: String },
    #[error("cannot reach {service}: {message}; check your network and try again")]
    Unreachable { service: &'static str, message: String },
    #[error("cannot use the state directory {path}: {source}")]
    State {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl SessionError {
    /// A short stable code for the CLI's JSON output.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotSignedIn => "not_signed_in",
            Self::Ended(_) => "session_ended",
            Self::Denied(_) => "sign_in_denied",
            Self::TimedOut(_) => "sign_in_timed_out",
            Self::Settings(_) => "sign_in_settings",
            Self::Choose(_) => "choose_role",
            Self::Keychain(_) => "keychain_error",
            Self::Provider { .. } => "identity_provider_error",
            Self::Unreachable { .. } => "identity_provider_unreachable",
            Self::State { .. } => "state_error",
        }
    }

    /// The user can fix this by changing what they typed or configured.
    pub fn is_input(&self) -> bool {
        matches!(self, Self::Settings(_) | Self::Choose(_))
    }
}

pub type Result<T, E = SessionError> = std::result::Result<T, E>;
