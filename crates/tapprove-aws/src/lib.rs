//! Tapprove's adapters to AWS.
//!
//! Each service is wrapped in a small type that exposes only the calls
//! Tapprove makes and returns Tapprove's own types (the awsdocs "testing"
//! pattern): [`sfn::StepFunctions`], [`sqs::Queues`], [`sts::Identity`],
//! and [`dynamodb::DynamoRegistry`], which implements the verifier's
//! `Registry` and `Ledger` traits with conditional writes.
//!
//! Every client is built from one [`aws_config::SdkConfig`] loaded with
//! the standard chain ([`load_config`]): `AWS_REGION`, `AWS_PROFILE`, the
//! credentials chain, and `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>`,
//! so pointing Tapprove at an emulator or another region needs no Tapprove
//! flag.

pub mod dynamodb;
mod error;
pub mod sfn;
pub mod sns;
pub mod sqs;
pub mod sts;

pub use error::{AwsError, Result};

/// Loads the AWS configuration from the standard environment and files.
///
/// Connections time out after 3 s and reads after 75 s (longer than the
/// minute an activity long-poll may wait), so an endpoint that accepts a
/// connection and never answers cannot hang Tapprove.
pub async fn load_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(3))
                .read_timeout(std::time::Duration::from_secs(75))
                .build(),
        )
        .load()
        .await
}
