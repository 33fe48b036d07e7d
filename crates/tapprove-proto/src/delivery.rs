//! The decision endpoint's wire format, shared by its client (the engine)
//! and its server (the verifier): `POST <endpoint>/v1/decisions` with the
//! signed decision in `Authorization: Tapprove <base64url of its JSON>`
//! (API Gateway's authorizers see headers, never the body) and the body
//! `{"task_token": "..."}`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The path decisions are posted to, under the endpoint's base URL.
pub const DECISIONS_PATH: &str = "/v1/decisions";

/// The `Authorization` scheme that carries a decision.
pub const AUTHORIZATION_SCHEME: &str = "Tapprove";

/// The `Authorization` value that carries `decision` (its JSON text).
pub fn authorization_for(decision: &str) -> String {
    format!(
        "{AUTHORIZATION_SCHEME} {}",
        URL_SAFE_NO_PAD.encode(decision.as_bytes())
    )
}
