//! CloudFormation, read-only: the outputs of Tapprove's stacks (the core
//! stack and one stack per approver group, see `deploy/`), from which
//! `tapprove admin policy init` writes the organisation's policy.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::Client;

use crate::error::{AwsError, Result, from_sdk};

const SERVICE: &str = "CloudFormation";

#[derive(Debug, Clone)]
pub struct Stacks {
    client: Client,
}

impl Stacks {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: Client::new(config),
        }
    }

    /// The stack's outputs by key. A stack that is not (yet) complete is
    /// refused: its outputs may be missing or stale.
    pub async fn outputs(&self, stack: &str) -> Result<BTreeMap<String, String>> {
        let out = self
            .client
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, e))?;
        let found = out
            .stacks()
            .first()
            .ok_or_else(|| AwsError::unexpected(SERVICE, format!("DescribeStacks found no stack {stack}")))?;
        let status = found.stack_status().map(|s| s.as_str()).unwrap_or_default();
        if !matches!(status, "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE") {
            return Err(AwsError::unexpected(
                SERVICE,
                format!("stack {stack} is {status}: wait until it is CREATE_COMPLETE or UPDATE_COMPLETE"),
            ));
        }
        Ok(found
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
            .collect())
    }

    /// Every export of the region whose name starts with `prefix`, by name.
    pub async fn exports(&self, prefix: &str) -> Result<BTreeMap<String, String>> {
        let mut found = BTreeMap::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_exports()
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| from_sdk(SERVICE, e))?;
            for export in out.exports() {
                if let (Some(name), Some(value)) = (export.name(), export.value())
                    && name.starts_with(prefix)
                {
                    found.insert(name.to_owned(), value.to_owned());
                }
            }
            token = out.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(found);
            }
        }
    }
}
