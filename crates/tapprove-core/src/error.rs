use std::fmt;

use serde::Serialize;

/// Errors of this crate's non-verifying helpers.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("canonical encoding failed: {0}")]
    Encoding(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! codes {
    ($( $(#[doc = $doc:literal])* $variant:ident = $text:literal, rule $rule:literal; )*) => {
        /// Why the verifier refused a decision: a closed set, one code per
        /// broken rule of docs/protocol.md "Verification rules". The text form
        /// (`request_mismatch`) is what the CLI prints, the gate reports as
        /// `Tapprove.<code>` and the UI matches on; it never changes meaning.
        #[non_exhaustive]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Code {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl Code {
            /// Every code, in rule order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The code's text form.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $text,)* }
            }

            /// The number of the rule in docs/protocol.md this code enforces.
            pub fn rule(self) -> u8 {
                match self { $(Code::$variant => $rule,)* }
            }

            /// What the code means, for documentation and `--help`.
            pub fn description(self) -> &'static str {
                match self { $(Code::$variant => concat!($($doc),*).trim_start(),)* }
            }

            /// Parses the text form.
            pub fn parse(text: &str) -> Option<Code> {
                match text { $($text => Some(Code::$variant),)* _ => None }
            }
        }
    };
}

codes! {
    /// The request, statement or decision names a version this verifier does not understand.
    UnsupportedVersion = "unsupported_version", rule 1;
    /// The request the workflow holds is not a well-formed request/v1.
    MalformedRequest = "malformed_request", rule 1;
    /// The decision is not a well-formed approval/v1 (bad JSON, missing or unknown field, value out of range).
    MalformedDecision = "malformed_decision", rule 1;
    /// A field, or a whole document, exceeds the protocol's size limits.
    FieldTooLarge = "field_too_large", rule 1;
    /// A binary field is not unpadded base64url.
    MalformedBase64 = "malformed_base64", rule 1;
    /// A time is not RFC 3339 UTC.
    MalformedTime = "malformed_time", rule 1;
    /// CBOR (authenticator extensions, or the registered COSE public key) does not decode.
    MalformedCbor = "malformed_cbor", rule 1;
    /// The authenticator data is truncated, or its flags do not match what follows.
    MalformedAuthenticatorData = "malformed_authenticator_data", rule 1;
    /// clientDataJSON is not JSON with string `type`, `challenge` and `origin`.
    MalformedClientData = "malformed_client_data", rule 1;
    /// `request_sha256` is not the hash of the request the workflow holds: the request was edited, or the decision is for another request or another visit of the gate.
    RequestMismatch = "request_mismatch", rule 2;
    /// `signed_at` is before the request was created.
    SignedBeforeRequest = "signed_before_request", rule 3;
    /// `signed_at` is after the request's deadline (`created + timeout_seconds`).
    RequestExpired = "request_expired", rule 3;
    /// `signed_at` is more than the allowed clock skew (5 minutes) ahead of the verifier's clock.
    SignedInFuture = "signed_in_future", rule 3;
    /// The approver approved a request they are the requester of (claimed or proven), and the org policy does not allow self-approval. A requester's denial is verified like anyone's.
    SelfApproval = "self_approval", rule 4;
    /// The approver is not in the registry.
    UnknownApprover = "unknown_approver", rule 5;
    /// The approver does not belong to the request's approver group.
    NotInGroup = "not_in_group", rule 5;
    /// The gate's policy in the registry refuses the request: another group than its rule's, or a longer timeout.
    GatePolicyRefused = "gate_policy_refused", rule 5;
    /// No registered credential has this id.
    UnknownCredential = "unknown_credential", rule 6;
    /// The credential is registered to another user than the statement's approver.
    CredentialOfAnotherUser = "credential_of_another_user", rule 6;
    /// The credential is pending confirmation or revoked.
    CredentialNotActive = "credential_not_active", rule 6;
    /// The org's attestation policy refuses this authenticator (software authenticators forbidden, or AAGUID not allowed).
    AuthenticatorNotAllowed = "authenticator_not_allowed", rule 6;
    /// clientDataJSON's `type` is not `webauthn.get`.
    WrongClientDataType = "wrong_client_data_type", rule 7;
    /// clientDataJSON's challenge is not SHA-256 of the canonical statement: the statement was edited after signing.
    ChallengeMismatch = "challenge_mismatch", rule 7;
    /// clientDataJSON's origin is not `https://<rp_id>` nor a configured extra origin.
    OriginNotAllowed = "origin_not_allowed", rule 7;
    /// clientDataJSON says the ceremony ran in a cross-origin frame.
    CrossOrigin = "cross_origin", rule 7;
    /// The authenticator data's rpIdHash is not SHA-256 of the configured relying-party id.
    RpIdMismatch = "rp_id_mismatch", rule 7;
    /// The authenticator did not report user presence (no touch).
    UserNotPresent = "user_not_present", rule 7;
    /// The org requires user verification (PIN or biometrics) and the authenticator did not report it.
    UserNotVerified = "user_not_verified", rule 7;
    /// The registered public key uses an algorithm the verifier does not support.
    UnsupportedAlgorithm = "unsupported_algorithm", rule 7;
    /// The signature does not verify with the registered public key.
    BadSignature = "bad_signature", rule 7;
    /// The signature counter is not above the stored one: a cloned authenticator or a replayed assertion.
    CounterRegression = "counter_regression", rule 7;
    /// This exact statement was verified before; statements are single-use.
    StatementReplayed = "statement_replayed", rule 8;
    /// This approver already decided this request; quorum counts distinct approvers.
    DuplicateApprover = "duplicate_approver", rule 9;
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused decision: the rule's code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub code: Code,
    pub message: String,
}

impl Rejection {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Rejection {}

/// The registry or ledger could not be reached or written. Not a verdict on
/// the decision: the caller may retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("registry unavailable: {0}")]
pub struct StoreError(pub String);

/// Why a verification did not pass.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The decision breaks a rule. Final.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The registry, ledger or audit log failed. Retry.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl VerifyError {
    /// The rejection code, if the decision was refused.
    pub fn code(&self) -> Option<Code> {
        match self {
            Self::Rejected(r) => Some(r.code),
            Self::Store(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for &code in Code::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert_eq!(Code::parse(code.as_str()), Some(code));
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
            assert!(!code.description().is_empty());
            assert!((1..=9).contains(&code.rule()));
        }
    }
}
