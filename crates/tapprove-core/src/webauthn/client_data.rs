use serde::Deserialize;

use super::WebauthnError;

/// The members of clientDataJSON a relying party checks (WebAuthn section
/// 5.8.1). Parsed as JSON, not compared as bytes: browsers and other clients
/// add members (`tokenBinding`, `topOrigin`, `other_keys_can_be_added_here`)
/// and order them differently, and section 7.2 says to parse.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ClientData {
    #[serde(rename = "type")]
    pub kind: String,
    /// base64url of the challenge, as the client wrote it.
    pub challenge: String,
    pub origin: String,
    #[serde(rename = "crossOrigin", default)]
    pub cross_origin: Option<bool>,
}

impl ClientData {
    pub fn parse(bytes: &[u8]) -> Result<Self, WebauthnError> {
        serde_json::from_slice(bytes).map_err(|e| WebauthnError::ClientData(e.to_string()))
    }
}
