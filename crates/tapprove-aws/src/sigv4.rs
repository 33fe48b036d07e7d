//! SigV4 for the requests Tapprove signs itself: the presigned
//! `sts:GetCallerIdentity` identity proof, and the calls to an
//! IAM-authorised Lambda function URL (the enrolment service), which AWS
//! refuses with 403 unless they are signed for the service `lambda`.
//!
//! Signing here is the AWS SDK's own signer (`aws-sigv4`); what this
//! module adds is the choice of headers and where the credentials and the
//! region come from.

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity as SigningIdentity;

use crate::error::{AwsError, Result};

/// How errors name this part.
const WHAT: &str = "SigV4";

/// The host (with its port, if any) of `url`.
pub fn host_of(url: &str) -> &str {
    url.split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(url)
        .split(['/', '?'])
        .next()
        .unwrap_or_default()
}

/// The region a Lambda function URL belongs to
/// (`https://<id>.lambda-url.<region>.on.aws/`), if `url` is one.
pub fn function_url_region(url: &str) -> Option<&str> {
    let host = host_of(url);
    let rest = host.split_once(".lambda-url.")?.1;
    rest.strip_suffix(".on.aws")
        .filter(|r| !r.is_empty() && !r.contains('.'))
}

/// An HTTP request to sign.
#[derive(Debug, Clone)]
pub struct Unsigned<'a> {
    pub method: &'a str,
    pub url: &'a str,
    /// Lower-case names; all of them are signed.
    pub headers: BTreeMap<String, String>,
    pub body: &'a [u8],
}

/// Signs `request` for `service` in `region`, with the credentials of
/// `config`, at `time`. The answer is its headers plus `host`,
/// `x-amz-date`, `authorization` and, for temporary credentials,
/// `x-amz-security-token`.
pub async fn sign_request(
    config: &aws_config::SdkConfig,
    service: &str,
    region: &str,
    request: Unsigned<'_>,
    time: SystemTime,
) -> Result<BTreeMap<String, String>> {
    sign_with(config, service, region, request, time, SigningSettings::default()).await
}

/// The same for S3, whose signatures encode the path once (other services
/// twice) and cover `x-amz-content-sha256`, which the request must carry.
pub async fn sign_for_s3(
    config: &aws_config::SdkConfig,
    region: &str,
    request: Unsigned<'_>,
    time: SystemTime,
) -> Result<BTreeMap<String, String>> {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = aws_sigv4::http_request::PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = aws_sigv4::http_request::UriPathNormalizationMode::Disabled;
    sign_with(config, "s3", region, request, time, settings).await
}

async fn sign_with(
    config: &aws_config::SdkConfig,
    service: &str,
    region: &str,
    request: Unsigned<'_>,
    time: SystemTime,
    settings: SigningSettings,
) -> Result<BTreeMap<String, String>> {
    let Unsigned {
        method,
        url,
        mut headers,
        body,
    } = request;
    let failed = |e: &dyn std::fmt::Display| {
        AwsError::unexpected(WHAT, format!("cannot sign a request to {service}: {e}"))
    };
    let provider = config.credentials_provider().ok_or_else(|| {
        AwsError::unexpected(WHAT, "no AWS credentials configured: sign in or set AWS_PROFILE")
    })?;
    let credentials = provider
        .provide_credentials()
        .await
        .map_err(|e| AwsError::unexpected(WHAT, format!("cannot load AWS credentials: {e}")))?;
    let identity: SigningIdentity = credentials.into();
    headers.insert("host".to_owned(), host_of(url).to_owned());
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| failed(&e))?
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| failed(&e))?;
    let (instructions, _) = sign(signable, &params).map_err(|e| failed(&e))?.into_parts();
    for (name, value) in instructions.headers() {
        headers.insert(name.to_ascii_lowercase(), value.to_owned());
    }
    Ok(headers)
}

/// The region requests of `config` are signed for: the configured one,
/// else `us-east-1` (the global endpoints' region).
pub fn region_of(config: &aws_config::SdkConfig) -> String {
    config
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_function_url_regions() {
        assert_eq!(host_of("https://a.example.com:8443/v1/x?y"), "a.example.com:8443");
        assert_eq!(host_of("http://127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(
            function_url_region("https://abcdef.lambda-url.eu-west-1.on.aws/"),
            Some("eu-west-1")
        );
        assert_eq!(function_url_region("https://enrol.example.com/"), None);
        assert_eq!(function_url_region("https://x.lambda-url..on.aws/"), None);
    }
}
