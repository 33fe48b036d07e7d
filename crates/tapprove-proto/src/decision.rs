use serde::{Deserialize, Serialize};

use crate::bytes::{Base64Url, Sha256Digest};
use crate::error::{WireError, parse_document};
use crate::limits::*;
use crate::text::{self, Lines};
use crate::time::UtcTime;

const DOC: &str = "decision";

crate::version_tag!(
    /// The version tag of a statement: always `decision/v1`.
    StatementVersion = "decision/v1"
);
crate::version_tag!(
    /// The version tag of a signed decision: always `approval/v1`.
    DecisionVersion = "approval/v1"
);

/// Approve or deny. Both are signed, so a denial is as attributable as an
/// approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Approve,
    Deny,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Deny => "deny",
        }
    }
}

impl std::str::FromStr for Verdict {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "approve" => Ok(Verdict::Approve),
            "deny" => Ok(Verdict::Deny),
            other => Err(format!("`{other}` is not a decision; use `approve` or `deny`")),
        }
    }
}

/// Why a denial was signed, beyond its words: a code the gate and the
/// announcements act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// The approver did not expect this request: someone may be using a
    /// colleague's pipeline, or a compromised one. Announced as an alert.
    Unexpected,
}

impl ReasonCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::Unexpected => "unexpected",
        }
    }
}

/// What the approver signs (decision/v1). The WebAuthn challenge is
/// SHA-256 of its canonical JSON, so the signature covers the exact request
/// content, the verdict and the approver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    pub tapprove: StatementVersion,
    /// base64url(SHA-256(JCS(request))).
    pub request_sha256: Sha256Digest,
    pub decision: Verdict,
    /// Absent when not given. `null` is refused: the statement is hashed as
    /// written, and absent and `null` would hash differently.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "non_null"
    )]
    pub reason: Option<String>,
    /// A denial's reason code (`unexpected`); absent otherwise. Signed like
    /// the rest, so nobody but the approver can add or remove it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "non_null_code"
    )]
    pub reason_code: Option<ReasonCode>,
    pub approver: String,
    pub signed_at: UtcTime,
}

fn non_null_code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<ReasonCode>, D::Error> {
    ReasonCode::deserialize(d).map(Some)
}

fn non_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

impl Statement {
    pub fn validate(&self) -> Result<(), WireError> {
        if self.reason_code.is_some() && self.decision == Verdict::Approve {
            return Err(WireError::new(
                crate::WireErrorKind::Malformed,
                DOC,
                "statement.reason_code",
                "a reason code belongs to a denial only",
            ));
        }
        if let Some(reason) = &self.reason {
            text::check(DOC, "statement.reason", reason, MAX_REASON_CHARS, Lines::Multi)?;
        }
        text::check(
            DOC,
            "statement.approver",
            &self.approver,
            MAX_PRINCIPAL_CHARS,
            Lines::Single,
        )
    }
}

/// The WebAuthn assertion over a statement, as the authenticator returned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assertion {
    pub credential_id: Base64Url,
    pub authenticator_data: Base64Url,
    pub client_data_json: Base64Url,
    pub signature: Base64Url,
    /// May be `null`: authenticators return it only for discoverable
    /// credentials. Not part of anything hashed.
    #[serde(default)]
    pub user_handle: Option<Base64Url>,
}

impl Assertion {
    pub fn validate(&self) -> Result<(), WireError> {
        let len = text::check_len;
        len(
            DOC,
            "assertion.credential_id",
            self.credential_id.len(),
            1,
            MAX_CREDENTIAL_ID_BYTES,
        )?;
        // rpIdHash (32) + flags (1) + signCount (4).
        len(
            DOC,
            "assertion.authenticator_data",
            self.authenticator_data.len(),
            37,
            MAX_AUTHENTICATOR_DATA_BYTES,
        )?;
        len(
            DOC,
            "assertion.client_data_json",
            self.client_data_json.len(),
            1,
            MAX_CLIENT_DATA_BYTES,
        )?;
        len(
            DOC,
            "assertion.signature",
            self.signature.len(),
            1,
            MAX_SIGNATURE_BYTES,
        )?;
        if let Some(handle) = &self.user_handle {
            len(
                DOC,
                "assertion.user_handle",
                handle.len(),
                1,
                MAX_USER_HANDLE_BYTES,
            )?;
        }
        Ok(())
    }
}

/// What goes back to Step Functions (approval/v1): the statement and the
/// assertion over it. `SendTaskSuccess` carries it for an approval,
/// `SendTaskFailure` (error `Tapprove.Denied`) for a denial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub tapprove: DecisionVersion,
    pub statement: Statement,
    pub assertion: Assertion,
}

impl Decision {
    /// Parses and checks a decision document.
    pub fn from_json(bytes: &[u8]) -> Result<Self, WireError> {
        let decision: Self = parse_document(DOC, bytes, MAX_DECISION_BYTES, DecisionVersion::TEXT)?;
        decision.validate()?;
        Ok(decision)
    }

    pub fn validate(&self) -> Result<(), WireError> {
        self.statement.validate()?;
        self.assertion.validate()
    }

    /// Serialises the decision as compact JSON.
    pub fn to_json(&self) -> String {
        // Serialising these types cannot fail: every field is a string,
        // number or map with string keys.
        serde_json::to_string(self).unwrap_or_else(|e| {
            debug_assert!(false, "decision serialisation failed: {e}");
            String::new()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WireErrorKind;
    use serde_json::json;

    fn sample() -> serde_json::Value {
        serde_json::json!({
            "tapprove": "approval/v1",
            "statement": {
                "tapprove": "decision/v1",
                "request_sha256": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
                "decision": "approve",
                "reason": "looks good",
                "approver": "bob@example.com",
                "signed_at": "2026-11-21T10:03:12Z"
            },
            "assertion": {
                "credential_id": "AQID",
                "authenticator_data": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQ",
                "client_data_json": "e30",
                "signature": "MEUCIQ",
                "user_handle": null
            }
        })
    }

    fn parse(v: &serde_json::Value) -> Result<Decision, WireError> {
        Decision::from_json(&serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn parses_and_round_trips() {
        let v = sample();
        let d = parse(&v).unwrap();
        assert_eq!(d.statement.decision, Verdict::Approve);
        assert_eq!(serde_json::to_value(&d).unwrap(), v);
    }

    #[test]
    fn absent_reason_stays_absent_and_null_is_refused() {
        let mut v = sample();
        v["statement"].as_object_mut().unwrap().remove("reason");
        let d = parse(&v).unwrap();
        assert!(!serde_json::to_string(&d.statement).unwrap().contains("reason"));

        let mut v = sample();
        v["statement"]["reason"] = serde_json::Value::Null;
        assert_eq!(parse(&v).unwrap_err().field(), "statement.reason");
    }

    #[test]
    fn a_reason_code_is_a_denials_and_only_a_known_one() {
        let mut v = sample();
        v["statement"]["decision"] = "deny".into();
        v["statement"]["reason_code"] = "unexpected".into();
        let d = parse(&v).unwrap();
        assert_eq!(d.statement.reason_code, Some(ReasonCode::Unexpected));
        assert_eq!(serde_json::to_value(&d).unwrap(), v);
        // Absent stays absent (older statements hash as before).
        let plain = parse(&sample()).unwrap();
        assert!(
            !serde_json::to_string(&plain.statement)
                .unwrap()
                .contains("reason_code")
        );
        for (verdict, code) in [
            ("approve", json!("unexpected")),
            ("deny", json!("other")),
            ("deny", json!(null)),
        ] {
            let mut v = sample();
            v["statement"]["decision"] = verdict.into();
            v["statement"]["reason_code"] = code.clone();
            assert_eq!(
                parse(&v).unwrap_err().field(),
                "statement.reason_code",
                "{verdict} with {code}"
            );
        }
    }

    #[test]
    fn malformed_base64_names_the_field() {
        let mut v = sample();
        v["assertion"]["signature"] = "MEUCIQ==".into();
        let e = parse(&v).unwrap_err();
        assert_eq!(
            (e.kind(), e.field()),
            (WireErrorKind::Base64, "assertion.signature")
        );
    }

    #[test]
    fn oversized_reason_and_signature_are_refused() {
        let mut v = sample();
        v["statement"]["reason"] = "r".repeat(MAX_REASON_CHARS + 1).into();
        assert_eq!(parse(&v).unwrap_err().kind(), WireErrorKind::TooLarge);
        let mut v = sample();
        v["assertion"]["signature"] = Base64Url::new(vec![1u8; MAX_SIGNATURE_BYTES + 1]).encode().into();
        let e = parse(&v).unwrap_err();
        assert_eq!(
            (e.kind(), e.field()),
            (WireErrorKind::TooLarge, "assertion.signature")
        );
    }

    #[test]
    fn wrong_version_and_unknown_verdict() {
        let mut v = sample();
        v["tapprove"] = "approval/v9".into();
        assert_eq!(parse(&v).unwrap_err().kind(), WireErrorKind::UnsupportedVersion);
        let mut v = sample();
        v["statement"]["tapprove"] = "decision/v2".into();
        let e = parse(&v).unwrap_err();
        assert_eq!(
            (e.kind(), e.field()),
            (WireErrorKind::UnsupportedVersion, "statement.tapprove")
        );
        let mut v = sample();
        v["statement"]["decision"] = "maybe".into();
        assert_eq!(parse(&v).unwrap_err().field(), "statement.decision");
    }

    #[test]
    fn short_authenticator_data_is_malformed() {
        let mut v = sample();
        v["assertion"]["authenticator_data"] = "AAAA".into();
        let e = parse(&v).unwrap_err();
        assert_eq!(
            (e.kind(), e.field()),
            (WireErrorKind::Malformed, "assertion.authenticator_data")
        );
    }
}
