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

pub mod cloudformation;
pub mod dynamodb;
mod error;
pub mod s3;
pub mod sfn;
pub mod sigv4;
pub mod sns;
pub mod sqs;
pub mod sts;

pub use error::{AwsError, Result};

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;

/// One attempt at an ordinary call (everything but a long poll) may take
/// this long...
pub const CALL_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// ...and the call with the SDK's standard retries this long.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(25);

/// Loads the AWS configuration from the standard environment and files.
///
/// Connections time out after 3 s and ordinary calls after
/// [`CALL_ATTEMPT_TIMEOUT`] per attempt and [`CALL_TIMEOUT`] in all, so an
/// endpoint that accepts a connection and never answers holds a command up
/// for seconds, not minutes (a decision then waits in the outbox). Long
/// polls get their own, longer limits ([`long_poll_timeouts`]).
pub async fn load_config() -> aws_config::SdkConfig {
    load_config_with(None, None).await
}

/// [`load_config`] with credentials from `credentials` (a signed-in
/// session) instead of the standard chain, and `fallback_region` where the
/// standard region chain names none.
pub async fn load_config_with(
    credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    fallback_region: Option<String>,
) -> aws_config::SdkConfig {
    let mut loader = defaults().timeout_config(call_timeouts());
    if let Some(credentials) = credentials {
        // The session's provider caches and renews role credentials itself,
        // and notices a sign-out or a new sign-in; a second cache on top
        // would keep serving the old ones.
        loader = loader
            .credentials_provider(credentials)
            .identity_cache(aws_config::identity::IdentityCache::no_cache());
    }
    if let Some(region) = fallback_region {
        loader = loader.region(region_chain_or(region));
    }
    loader.load().await
}

/// The SDK's standard loader (environment, profiles, credential chain)
/// with Tapprove's one HTTPS client: hyper and rustls on `ring`, trusting
/// the OS's roots and honouring `HTTPS_PROXY`/`NO_PROXY`, as the SDK's
/// default client does. The SDK is built without its default client (which
/// would bring rustls on aws-lc, a C library, beside the `ring` that
/// reqwest uses), so every SDK configuration must start here: one built
/// elsewhere has no HTTP client and fails its first call with "No HTTP
/// client was available".
pub fn defaults() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client())
}

/// The SDK's default region chain (environment, profile, EC2 instance
/// metadata), then `fallback`. Built here rather than with
/// `RegionProviderChain::default_provider()`, whose instance-metadata
/// client would have no HTTP client (see [`defaults`]).
fn region_chain_or(fallback: String) -> aws_config::meta::region::RegionProviderChain {
    use aws_config::environment::region::EnvironmentVariableRegionProvider;
    use aws_config::imds::region::ImdsRegionProvider;
    use aws_config::profile::ProfileFileRegionProvider;
    let provider = aws_config::provider_config::ProviderConfig::default().with_http_client(https_client());
    aws_config::meta::region::RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
        .or_else(ProfileFileRegionProvider::builder().configure(&provider).build())
        .or_else(ImdsRegionProvider::builder().configure(&provider).build())
        .or_else(aws_config::Region::new(fallback))
}

/// The HTTPS client of [`defaults`].
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::{ConnectorBuilder, proxy::ProxyConfig, tls};
    aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// The limits of an ordinary call (see [`load_config`]).
pub fn call_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .read_timeout(CALL_ATTEMPT_TIMEOUT)
        .operation_attempt_timeout(CALL_ATTEMPT_TIMEOUT)
        .operation_timeout(CALL_TIMEOUT)
        .build()
}

/// Limits for long polls: `GetActivityTask` waits up to a minute for a
/// task, `ReceiveMessage` up to 20 s.
/// No stalled-stream protection on long polls: an answer after a minute of
/// silence is their normal case, and watching the silent stream would wake
/// an idle tray app about ten times a second.
pub(crate) fn quiet_long_polls()
-> aws_smithy_runtime_api::client::stalled_stream_protection::StalledStreamProtectionConfig {
    aws_smithy_runtime_api::client::stalled_stream_protection::StalledStreamProtectionConfig::disabled()
}

pub(crate) fn long_poll_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .read_timeout(Duration::from_secs(75))
        .operation_attempt_timeout(Duration::from_secs(75))
        .operation_timeout(Duration::from_secs(160))
        .build()
}
