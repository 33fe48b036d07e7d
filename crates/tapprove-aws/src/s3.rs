//! One S3 object, read with a SigV4-signed GET: where an admin keeps FIDO's
//! Metadata Service BLOB for the verifier's scheduled import. (One call
//! does not warrant the S3 SDK and its build time; the signing is the AWS
//! SDK's own, with S3's rules: paths encoded once, the payload hash in
//! `x-amz-content-sha256`.)

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::error::{AwsError, Result};

const WHAT: &str = "S3";
/// SHA-256 of the empty body (a GET's).
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Object {
    pub bucket: String,
    pub key: String,
}

impl S3Object {
    pub fn parse(uri: &str) -> Result<Self> {
        let bad = |why: &str| {
            AwsError::unexpected(
                WHAT,
                format!("`{uri}` is not an S3 object ({why}): write s3://BUCKET/KEY"),
            )
        };
        let rest = uri.strip_prefix("s3://").ok_or_else(|| bad("no s3:// prefix"))?;
        let (bucket, key) = rest.split_once('/').ok_or_else(|| bad("no key"))?;
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(bad("the bucket name is not one S3 allows"));
        }
        if key.is_empty() || key.len() > 1024 || key.chars().any(char::is_control) {
            return Err(bad("the key is empty, too long or has control characters"));
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }

    /// The object's URL: path style under the configured endpoint (an
    /// emulator, a VPC endpoint), else virtual-hosted style in `region`.
    pub fn url(&self, config: &aws_config::SdkConfig, region: &str) -> String {
        let key = encode_key(&self.key);
        match config.endpoint_url() {
            Some(endpoint) => format!("{}/{}/{key}", endpoint.trim_end_matches('/'), self.bucket),
            None => format!("https://{}.s3.{region}.amazonaws.com/{key}", self.bucket),
        }
    }

    /// The URL and headers of a signed GET of the object at `time`.
    pub async fn signed_get(
        &self,
        config: &aws_config::SdkConfig,
        time: SystemTime,
    ) -> Result<(String, BTreeMap<String, String>)> {
        let region = crate::sigv4::region_of(config);
        let url = self.url(config, &region);
        let headers = BTreeMap::from([("x-amz-content-sha256".to_owned(), EMPTY_SHA256.to_owned())]);
        let signed = crate::sigv4::sign_for_s3(
            config,
            &region,
            crate::sigv4::Unsigned {
                method: "GET",
                url: &url,
                headers,
                body: &[],
            },
            time,
        )
        .await?;
        Ok((url, signed))
    }
}

impl S3Object {
    /// Reads the object (at most `limit` bytes) with the credentials of
    /// `config`.
    pub async fn get(&self, config: &aws_config::SdkConfig, limit: usize) -> Result<Vec<u8>> {
        let uri = format!("s3://{}/{}", self.bucket, self.key);
        let (url, headers) = self.signed_get(config, SystemTime::now()).await?;
        let mut request = reqwest::Client::new().get(&url);
        for (name, value) in &headers {
            if name != "host" {
                request = request.header(name, value);
            }
        }
        let response = request.send().await.map_err(|e| AwsError::Unreachable {
            service: WHAT,
            message: format!("cannot read {uri}: {e}"),
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(AwsError::Service {
                service: WHAT,
                code: status.as_u16().to_string(),
                message: format!(
                    "S3 answered {status} for {uri}: check that the object exists and that these credentials may read it (s3:GetObject)"
                ),
            });
        }
        let bytes = response.bytes().await.map_err(|e| AwsError::Unreachable {
            service: WHAT,
            message: format!("cannot read {uri}: {e}"),
        })?;
        if bytes.len() > limit {
            return Err(AwsError::unexpected(
                WHAT,
                format!(
                    "{uri} holds {} bytes, more than the {limit} expected",
                    bytes.len()
                ),
            ));
        }
        Ok(bytes.to_vec())
    }
}

/// A key as S3 wants it in a path: every byte but the unreserved
/// characters and `/` percent-encoded.
fn encode_key(key: &str) -> String {
    key.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_parse_and_keys_are_encoded() {
        let o = S3Object::parse("s3://acme-fido/mds/blob 2024.jwt").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (o.bucket.as_str(), o.key.as_str()),
            ("acme-fido", "mds/blob 2024.jwt")
        );
        assert_eq!(encode_key(&o.key), "mds/blob%202024.jwt");
        for bad in [
            "https://x/y",
            "s3://Bucket/k",
            "s3://b",
            "s3://ok-bucket/",
            "s3://ok-bucket/a\nb",
        ] {
            assert!(S3Object::parse(bad).is_err(), "{bad}");
        }
    }
}
