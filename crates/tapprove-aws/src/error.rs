use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};

/// A failed AWS call, reduced to what Tapprove acts on.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// No answer: network, DNS, timeout, endpoint down. Retry with backoff.
    #[error("{service} could not be reached: {message}")]
    Unreachable { service: &'static str, message: String },
    /// No usable credentials.
    #[error("no AWS credentials for {service}: {message}; sign in, or set AWS_PROFILE")]
    Credentials { service: &'static str, message: String },
    /// The service answered with an error.
    #[error("{service} refused the call ({code}): {message}")]
    Service {
        service: &'static str,
        code: String,
        message: String,
    },
    /// The service answered something Tapprove cannot use.
    #[error("{service} answered unexpectedly: {message}")]
    Unexpected { service: &'static str, message: String },
}

impl AwsError {
    /// The service's error code, when it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::Service { code, .. } => matches!(
                code.as_str(),
                "ThrottlingException"
                    | "Throttling"
                    | "ProvisionedThroughputExceededException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "InternalFailure"
                    | "ServiceUnavailable"
                    | "InternalServerException"
            ),
            _ => false,
        }
    }

    pub(crate) fn unexpected(service: &'static str, message: impl Into<String>) -> Self {
        Self::Unexpected {
            service,
            message: message.into(),
        }
    }
}

/// Reduces an SDK error to an [`AwsError`].
pub(crate) fn from_sdk<E, R>(service: &'static str, err: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &err {
        SdkError::ServiceError(e) => {
            let inner = e.err();
            AwsError::Service {
                service,
                code: inner.code().unwrap_or("Unknown").to_owned(),
                message: inner.message().unwrap_or("no message").to_owned(),
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            let message = error_chain(&err);
            if message.contains("credentials") || message.contains("Credentials") {
                AwsError::Credentials { service, message }
            } else {
                AwsError::Unreachable { service, message }
            }
        }
        _ => AwsError::Unexpected {
            service,
            message: error_chain(&err),
        },
    }
}

/// The error and its sources on one line (SDK errors put the useful part
/// in a source).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

pub type Result<T, E = AwsError> = std::result::Result<T, E>;
