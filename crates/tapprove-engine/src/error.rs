use tapprove_authn::SignError;
use tapprove_aws::AwsError;
use tapprove_config::ConfigError;

/// Why the engine could not do what was asked. Every message says what the
/// person can do.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The approver's key store (keychain or key files) failed.
    #[error("{0}")]
    KeyStore(String),
    #[error("local database: {0}")]
    Store(String),
    #[error("no pending request with id `{0}`: run `tapprove inbox` to see what waits")]
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
    /// The enrolment service refused or could not be reached.
    #[error("enrolment: {message}")]
    Enrolment { code: String, message: String },
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
